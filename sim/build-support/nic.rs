//! Builds the Verilated NIC (`fastpath_nic`: MAC ports, host queues and the
//! lookup core) with its hash units replaced by the fast model's DPI-C
//! stand-in (standin.rs), and its batch driver (csrc/nic_run.cpp), into the
//! static library `fastpath_nic_vl`. Verilator's runtime and the stand-in's
//! C function come from the main model library, linked after this one.
//!
//! Cached in `OUT_DIR/nic` under a hash of the Verilog, the Verilator
//! version, the driver and this file, as the other models are. The model's
//! port list must equal [`CONTRACT`] (what nic_run.cpp drives).

use std::collections::hash_map::DefaultHasher;
use std::fmt::Write as _;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::process::Command;

const TOP: &str = "fastpath_nic";
const PREFIX: &str = "Vfastpath_nic_fast";
const LIB: &str = "fastpath_nic_vl";
const DRIVER: &[&str] = &["nic_run.cpp", "nic_run.h"];

/// The counter output ports, in the order nic_run.cpp reports them
/// (generated into `nic_counters.h` and `nic_counters.rs`).
const COUNTERS: &[&str] = &[
    "rx_frames0",
    "rx_frames1",
    "inject_frames",
    "host_tx_frames",
    "frames_in",
    "frames_out",
    "drops_full",
    "drops_oversize",
    "forwarded",
    "dropped",
    "host_marked",
    "host_miss",
    "host_exception",
    "edits_to_host",
    "drops_no_port",
];
/// Width of every counter port (`hdl::frame_buffer::COUNTER_BITS`).
const COUNTER_BITS: u32 = 32;

/// Every port of `fastpath_nic` but the counters: (name, is input, width).
/// A mismatch fails the build with both lists.
const CONTRACT: &[(&str, bool, u32)] = &[
    ("clock", true, 1),
    ("reset", true, 1),
    ("vlan_limit", true, 2),
    ("rx0_tdata", true, 64),
    ("rx0_tkeep", true, 8),
    ("rx0_tlast", true, 1),
    ("rx0_tvalid", true, 1),
    ("rx0_tready", false, 1),
    ("rx1_tdata", true, 64),
    ("rx1_tkeep", true, 8),
    ("rx1_tlast", true, 1),
    ("rx1_tvalid", true, 1),
    ("rx1_tready", false, 1),
    ("tx_tdata", false, 64),
    ("tx_tkeep", false, 8),
    ("tx_tlast", false, 1),
    ("tx_tvalid", false, 2),
    ("tx_tready", true, 2),
    ("htx_tdata", true, 64),
    ("htx_tkeep", true, 8),
    ("htx_tlast", true, 1),
    ("htx_meta", true, 64),
    ("htx_tvalid", true, 1),
    ("htx_tready", false, 1),
    ("hrx_tdata", false, 64),
    ("hrx_tkeep", false, 8),
    ("hrx_tlast", false, 1),
    ("hrx_meta", false, 128),
    ("hrx_tvalid", false, 1),
    ("hrx_tready", true, 1),
    ("s_axil_awaddr", true, 12),
    ("s_axil_awprot", true, 3),
    ("s_axil_awvalid", true, 1),
    ("s_axil_awready", false, 1),
    ("s_axil_wdata", true, 64),
    ("s_axil_wstrb", true, 8),
    ("s_axil_wvalid", true, 1),
    ("s_axil_wready", false, 1),
    ("s_axil_bresp", false, 2),
    ("s_axil_bvalid", false, 1),
    ("s_axil_bready", true, 1),
    ("s_axil_araddr", true, 12),
    ("s_axil_arprot", true, 3),
    ("s_axil_arvalid", true, 1),
    ("s_axil_arready", false, 1),
    ("s_axil_rdata", false, 64),
    ("s_axil_rresp", false, 2),
    ("s_axil_rvalid", false, 1),
    ("s_axil_rready", true, 1),
];

/// Builds (or reuses) the library and prints its link directives; call
/// before the main library's directives so it links first. `hash_units` is
/// the number of hash units the lookup core has (EMC + one per mask slot).
pub fn build(
    out: &Path,
    manifest: &Path,
    files: &[(String, String)],
    hash_units: usize,
    verilator: &str,
    verilator_root: &Path,
    version: &str,
) -> Result<(), String> {
    let dir = out.join("nic");
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let emitted = |name: &str| {
        files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.as_str())
            .ok_or_else(|| format!("hdl::emit::emit_all produced no {name}"))
    };
    let hash_unit = emitted(super::standin::HASH_UNIT)?;
    let constant = hdl::matrix::HashMatrix::from_abi().constant;
    let verilog = super::standin::substitute(emitted(TOP)?, hash_unit, constant, hash_units)?;
    let mut h = DefaultHasher::new();
    verilog.hash(&mut h);
    for f in DRIVER {
        fs::read_to_string(manifest.join("csrc").join(f))
            .map_err(|e| format!("csrc/{f}: {e}"))?
            .hash(&mut h);
    }
    version.hash(&mut h);
    include_str!("nic.rs").hash(&mut h);
    include_str!("standin.rs").hash(&mut h);
    let key = format!("{:016x}", h.finish());
    let stamp = dir.join("stamp");
    let lib = dir.join(format!("lib{LIB}.a"));
    // Rewritten only on change, so an unchanged build does not recompile sim.
    let rs = out.join("nic_counters.rs");
    if fs::read_to_string(&rs).ok() != Some(counters_rs()) {
        fs::write(&rs, counters_rs()).map_err(|e| e.to_string())?;
    }
    if fs::read_to_string(&stamp).ok().as_deref() == Some(key.as_str()) && lib.exists() {
        link(&dir);
        return Ok(());
    }
    let _ = fs::remove_file(&stamp);
    let vfile = dir.join(format!("{PREFIX}.v"));
    fs::write(&vfile, &verilog).map_err(|e| format!("{}: {e}", vfile.display()))?;
    let obj = dir.join(format!("obj_{PREFIX}"));
    let _ = fs::remove_dir_all(&obj);
    let status = Command::new(verilator)
        .args(["--cc", "-O3", "--x-assign", "fast", "--x-initial", "fast"])
        .args([
            "-Wno-fatal",
            "-Wno-lint",
            "-Wno-style",
            "--timescale",
            "1ns/1ps",
        ])
        .args(["--top-module", TOP, "--prefix", PREFIX, "--Mdir"])
        .arg(&obj)
        .arg(&vfile)
        .status()
        .map_err(|e| format!("running {verilator}: {e}"))?;
    if !status.success() {
        return Err(format!(
            "{verilator} failed on {} ({status})",
            vfile.display()
        ));
    }
    let header = fs::read_to_string(obj.join(format!("{PREFIX}.h")))
        .map_err(|e| format!("{PREFIX}.h: {e}"))?;
    check_contract(&super::parse_ports(&header)?)?;
    fs::write(dir.join("nic_counters.h"), counters_h()).map_err(|e| e.to_string())?;

    let include = verilator_root.join("include");
    let mut b = cc::Build::new();
    b.cpp(true)
        .flag("-std=c++17")
        .include(&include)
        .include(include.join("vltstd"))
        .include(&obj)
        .include(&dir)
        .include(manifest.join("csrc"))
        .debug(false)
        .warnings(false)
        .flag_if_supported("-faligned-new")
        .flag_if_supported("-Wno-unused-parameter")
        .define("VERILATOR", Some("1"))
        .define("VM_TRACE", Some("0"));
    let classes = fs::read_to_string(obj.join(format!("{PREFIX}_classes.mk")))
        .map_err(|e| format!("{PREFIX}_classes.mk: {e}"))?;
    // Evaluation code and the driver optimised, construction code not (as
    // the main models, build.rs).
    let mut fast = b.clone();
    fast.opt_level(3);
    for c in super::parser::mk_list(&classes, "VM_CLASSES_FAST")
        .into_iter()
        .chain(super::parser::mk_list(&classes, "VM_SUPPORT_FAST"))
    {
        fast.file(obj.join(format!("{c}.cpp")));
    }
    fast.file(manifest.join("csrc").join(DRIVER[0]));
    let mut slow = b.clone();
    slow.opt_level(0);
    for c in super::parser::mk_list(&classes, "VM_CLASSES_SLOW")
        .into_iter()
        .chain(super::parser::mk_list(&classes, "VM_SUPPORT_SLOW"))
    {
        slow.file(obj.join(format!("{c}.cpp")));
    }
    let mut objects = fast.out_dir(&dir).compile_intermediates();
    objects.extend(slow.out_dir(&dir).compile_intermediates());
    b.objects(objects)
        .out_dir(&dir)
        .cargo_metadata(false)
        .compile(LIB);
    fs::write(&stamp, &key).map_err(|e| e.to_string())?;
    link(&dir);
    Ok(())
}

fn link(dir: &Path) {
    println!("cargo:rustc-link-search=native={}", dir.display());
    println!("cargo:rustc-link-lib=static={LIB}");
}

fn expected() -> Vec<(String, bool, u32)> {
    CONTRACT
        .iter()
        .map(|&(n, i, w)| (n.to_string(), i, w))
        .chain(
            COUNTERS
                .iter()
                .map(|n| (n.to_string(), false, COUNTER_BITS)),
        )
        .collect()
}

/// The model's ports must be exactly the contract's, as a set.
fn check_contract(ports: &[super::Port]) -> Result<(), String> {
    let mut got: Vec<(String, bool, u32)> = ports
        .iter()
        .map(|p| (p.name.clone(), p.input, p.width))
        .collect();
    let mut want = expected();
    got.sort();
    want.sort();
    if got == want {
        return Ok(());
    }
    let show = |l: &[(String, bool, u32)]| {
        l.iter()
            .map(|(n, i, w)| format!("{} {n}[{w}]", if *i { "in" } else { "out" }))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let only = |a: &[(String, bool, u32)], b: &[(String, bool, u32)]| -> Vec<(String, bool, u32)> {
        a.iter().filter(|p| !b.contains(p)).cloned().collect()
    };
    Err(format!(
        "{TOP} does not match the port contract (sim/build-support/nic.rs): only in the RTL: {}; \
         only in the contract: {}.\n  RTL:      {}\n  contract: {}",
        show(&only(&got, &want)),
        show(&only(&want, &got)),
        show(&got),
        show(&want)
    ))
}

/// X-macro of the counter ports, in report order.
fn counters_h() -> String {
    let mut s =
        String::from("// Generated by sim/build-support/nic.rs.\n#define FPNIC_COUNTERS(X)");
    for c in COUNTERS {
        let _ = write!(s, " X({c})");
    }
    let _ = writeln!(s, "\n#define FPNIC_N_COUNTERS {}", COUNTERS.len());
    let _ = writeln!(s, "#define FPNIC_MAC_PORTS {}", hdl::nic::MAC_PORTS);
    s
}

fn counters_rs() -> String {
    let mut s = String::from(
        "// Generated by sim/build-support/nic.rs.\n\
         /// The NIC's counter output ports, in the order the driver reports them.\n\
         pub const COUNTER_NAMES: [&str; ",
    );
    let _ = write!(s, "{}] = [", COUNTERS.len());
    for c in COUNTERS {
        let _ = write!(s, "{c:?}, ");
    }
    s.push_str("];\n");
    let _ = writeln!(
        s,
        "/// MAC ports of the NIC (`hdl::nic::MAC_PORTS`).\npub const MAC_PORTS: usize = {};",
        hdl::nic::MAC_PORTS
    );
    s
}
