//! `fastpath ctl` calls and a pcap-port switch shared by the switch tests.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_fastpath");

/// `fastpath ctl SOCKET ARGS`: stdout, or stderr on failure.
pub fn try_ctl(socket: &Path, args: &[&str]) -> Result<String, String> {
    let o = Command::new(BIN)
        .arg("ctl")
        .arg(socket)
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).into_owned())
    }
}

/// As [`try_ctl`], failing the test on an error.
pub fn ctl(socket: &Path, args: &[&str]) -> String {
    try_ctl(socket, args).unwrap_or_else(|e| panic!("ctl {args:?}: {e}"))
}

/// `fastpath ctl SOCKET --format json ARGS`, parsed.
pub fn ctl_json(socket: &Path, args: &[&str]) -> Value {
    let mut v = vec!["--format", "json"];
    v.extend_from_slice(args);
    serde_json::from_str(&ctl(socket, &v)).expect("JSON reply")
}

/// A fresh temporary directory for test `name` of suite `suite`.
pub fn test_dir(suite: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fastpath-{suite}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Frames as `fastpath run --gen SPEC` makes them (received on port 5,
/// output to port 1), in DIR/src-port1.pcap.
pub fn make_input_of(d: &Path, spec: &str) -> PathBuf {
    let rules = d.join("gen.flows");
    std::fs::write(&rules, "udp,actions=output:1\n").unwrap();
    let o = Command::new(BIN)
        .args([
            "run",
            "--nic",
            "none",
            "--quiet",
            "--in-port",
            "5",
            "--rules",
        ])
        .arg(&rules)
        .args(["--gen", spec, "--out-pcap"])
        .arg(d.join("src"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    d.join("src-port1.pcap")
}

/// `fastpath switch` with pcap ports `in` (1) and `out` (2) and a control
/// socket; killed on drop.
pub struct Sw {
    pub child: Child,
    pub ctl: PathBuf,
}

impl Sw {
    /// The switch reading `input` (`packets` frames) on port 1, returned
    /// once it has read them all.
    pub fn start_on(d: &Path, input: PathBuf, packets: u64, rules: &str, extra: &[&str]) -> Sw {
        let rf = d.join("sw.flows");
        std::fs::write(&rf, rules).unwrap();
        let ctl = d.join("sw.ctl");
        let child = Command::new(BIN)
            .arg("switch")
            .arg("--port")
            .arg(format!("in=pcap:{},ofport=1", input.display()))
            .arg("--port")
            .arg(format!(
                "out=pcap:,{},ofport=2",
                d.join("out.pcap").display()
            ))
            .arg("--rules")
            .arg(&rf)
            .arg("--ctl")
            .arg(&ctl)
            .arg("--stats-json")
            .arg(d.join("stats.json"))
            .args(["--log-level", "warn"])
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let sw = Sw { child, ctl };
        let t0 = Instant::now();
        loop {
            if let Ok(j) = sw.try_ctl(&["--format", "json", "show"]) {
                let j: Value = serde_json::from_str(&j).unwrap();
                if j["stats"]["packets"] == packets {
                    break;
                }
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "switch did not read its input"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        sw
    }

    pub fn try_ctl(&self, args: &[&str]) -> Result<String, String> {
        try_ctl(&self.ctl, args)
    }

    pub fn ctl(&self, args: &[&str]) -> String {
        ctl(&self.ctl, args)
    }

    pub fn json(&self, args: &[&str]) -> Value {
        ctl_json(&self.ctl, args)
    }
}

impl Drop for Sw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
