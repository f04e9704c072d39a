//! The VFIO backend against a real VFIO device: QEMU's `edu` PCI device in
//! a guest with an emulated Intel IOMMU, under software emulation.
//!
//! The guest (tests/qemu/run-guest.sh + init.sh) loads the kernel's VFIO
//! modules, checks the not-bound error, binds edu to vfio-pci, runs
//! `vfio-edu-selftest` (config space, BAR0 registers, access errors, a DMA
//! round trip through the IOMMU, the Nic API refusing a foreign device) and
//! `fastpath nic probe` (must fail with the bad-magic error). Skipped, with a
//! message, only when qemu-system-x86_64 is not installed.
//!
//! Needs (Debian): qemu-system-x86 busybox-static linux-image-amd64 cpio.
//! `fastpath` is taken from $FASTPATH_BIN, else built next to this test.
#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const TAG: &str = "FASTPATH-QEMU ";

/// Checks the self-test must report as passed.
const EXPECTED_PASSES: &[&str] = &[
    "err-not-bound",
    "err-no-such-device",
    "open",
    "config-ids",
    "bar0-len",
    "bar0-id",
    "bar0-liveness",
    "bar0-64bit",
    "err-misaligned",
    "err-out-of-range",
    "err-no-bar",
    "dma-round-trip",
    "nic-refuses-edu",
    "reopen-sysfs-path",
];

fn in_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|f| f.is_file())
    })
}

/// The `fastpath` binary: $FASTPATH_BIN, or built into the same target
/// directory and profile as this test's own binaries.
fn fastpath_binary(selftest: &Path) -> PathBuf {
    if let Some(p) = std::env::var_os("FASTPATH_BIN") {
        return PathBuf::from(p);
    }
    let profile_dir = selftest.parent().expect("binary has a directory");
    let target_dir = profile_dir.parent().expect("profile dir has a parent");
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("debug");
    let profile = if profile == "debug" { "dev" } else { profile };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let status = Command::new(cargo)
        .args([
            "build",
            "-p",
            "host-fastpath",
            "--bin",
            "fastpath",
            "--profile",
            profile,
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .status()
        .expect("run cargo build for fastpath");
    assert!(status.success(), "building fastpath failed");
    profile_dir.join("fastpath")
}

#[test]
fn vfio_backend_on_qemu_edu() {
    if in_path("qemu-system-x86_64").is_none() {
        eprintln!(
            "SKIPPED vfio_backend_on_qemu_edu: qemu-system-x86_64 is not installed \
             (apt-get install qemu-system-x86 busybox-static linux-image-amd64 cpio)"
        );
        return;
    }
    let selftest = PathBuf::from(env!("CARGO_BIN_EXE_vfio-edu-selftest"));
    let fastpath = fastpath_binary(&selftest);
    let work = tempfile::tempdir().expect("temp dir");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/qemu/run-guest.sh");
    let timeout = std::env::var("FASTPATH_QEMU_TIMEOUT").unwrap_or_else(|_| "180".into());
    let t0 = Instant::now();
    let out = Command::new("bash")
        .arg(&script)
        .arg(work.path())
        .arg(&selftest)
        .arg(&fastpath)
        .env("FASTPATH_QEMU_TIMEOUT", &timeout)
        .output()
        .expect("run tests/qemu/run-guest.sh");
    let took = t0.elapsed();
    let console = format!(
        "{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = console
        .lines()
        .filter_map(|l| l.find(TAG).map(|i| &l[i + TAG.len()..]))
        .collect();
    let fail = |why: &str| -> ! {
        panic!(
            "{why}\nrun-guest.sh exit: {:?} after {took:?}\nconsole:\n{console}",
            out.status
        )
    };
    if !lines.contains(&"END") {
        fail(&format!(
            "the guest did not finish (timeout {timeout}s, or boot failure)"
        ));
    }
    let failures: Vec<&&str> = lines.iter().filter(|l| l.starts_with("FAIL")).collect();
    if !failures.is_empty() {
        fail(&format!("guest checks failed: {failures:?}"));
    }
    for name in EXPECTED_PASSES {
        let pass = format!("PASS {name}");
        if !lines
            .iter()
            .any(|l| *l == pass || l.starts_with(&format!("{pass} ")))
        {
            fail(&format!("missing {pass}"));
        }
    }
    if !lines.contains(&"SELFTEST-EXIT 0") {
        fail("vfio-edu-selftest exited non-zero");
    }
    // `fastpath nic probe` on edu: a clean capability error, non-zero exit.
    let probe_exit = lines
        .iter()
        .find_map(|l| l.strip_prefix("PROBE-EXIT "))
        .unwrap_or_else(|| fail("no PROBE-EXIT line"));
    if probe_exit == "0" || probe_exit.parse::<i32>().map_or(true, |c| c > 125) {
        fail(&format!(
            "fastpath nic probe must fail cleanly on edu, exit was {probe_exit}"
        ));
    }
    if !lines
        .iter()
        .any(|l| l.starts_with("PROBE-OUT") && l.contains("no fastpath magic"))
    {
        fail("fastpath nic probe did not report the bad magic");
    }
    eprintln!("QEMU VFIO proof passed in {took:?}");
}
