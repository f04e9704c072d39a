//! Builds the Verilated hardware parser (`fastpath_parser` at 64 bits and
//! `fastpath_parser_512`) and its driver (csrc/parser_run.cpp) into the
//! static library `fastpath_parser_vl`. Verilator's runtime comes from the
//! main model library, which is linked after this one.
//!
//! Cached in `OUT_DIR/parser` under a hash of the Verilog, the Verilator
//! version and the driver, as the main models are.

use std::collections::hash_map::DefaultHasher;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

const LIB: &str = "fastpath_parser_vl";
const DRIVER: &str = "parser_run.cpp";
/// (emitted module, Verilator prefix).
const MODELS: &[(&str, &str)] = &[
    ("fastpath_parser", "Vfastpath_parser64"),
    ("fastpath_parser_512", "Vfastpath_parser512"),
];

/// Builds (or reuses) the library and prints its link directives; call
/// before the main library's directives so it links first.
pub fn build(
    out: &Path,
    manifest: &Path,
    files: &[(String, String)],
    verilator: &str,
    verilator_root: &Path,
    version: &str,
) -> Result<(), String> {
    println!("cargo:rerun-if-changed=build-support");
    let dir = out.join("parser");
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let driver = fs::read_to_string(manifest.join("csrc").join(DRIVER))
        .map_err(|e| format!("csrc/{DRIVER}: {e}"))?;
    let mut sources = Vec::new();
    let mut h = DefaultHasher::new();
    for (top, prefix) in MODELS {
        let v = files
            .iter()
            .find(|(n, _)| n == top)
            .map(|(_, t)| t)
            .ok_or_else(|| format!("hdl::emit::emit_all produced no {top}"))?;
        v.hash(&mut h);
        sources.push((*top, *prefix, v));
    }
    driver.hash(&mut h);
    version.hash(&mut h);
    include_str!("parser.rs").hash(&mut h);
    let key = format!("{:016x}", h.finish());
    let stamp = dir.join("stamp");
    let lib = dir.join(format!("lib{LIB}.a"));
    if fs::read_to_string(&stamp).ok().as_deref() == Some(key.as_str()) && lib.exists() {
        link(&dir);
        return Ok(());
    }
    let _ = fs::remove_file(&stamp);
    let mut objs: Vec<(PathBuf, &str)> = Vec::new();
    for (top, prefix, v) in &sources {
        let vfile = dir.join(format!("{prefix}.v"));
        fs::write(&vfile, v).map_err(|e| format!("{}: {e}", vfile.display()))?;
        let obj = dir.join(format!("obj_{prefix}"));
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
            .args(["--top-module", top, "--prefix", prefix, "--Mdir"])
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
        objs.push((obj, prefix));
    }
    let include = verilator_root.join("include");
    let mut b = cc::Build::new();
    b.cpp(true)
        .flag("-std=c++17")
        .include(&include)
        .include(include.join("vltstd"))
        .debug(false)
        .opt_level(2)
        .warnings(false)
        .flag_if_supported("-faligned-new")
        .flag_if_supported("-Wno-unused-parameter")
        .define("VERILATOR", Some("1"))
        .define("VM_TRACE", Some("0"));
    for (obj, prefix) in &objs {
        b.include(obj);
        let classes = fs::read_to_string(obj.join(format!("{prefix}_classes.mk")))
            .map_err(|e| format!("{prefix}_classes.mk: {e}"))?;
        for c in mk_list(&classes, "VM_CLASSES_FAST")
            .into_iter()
            .chain(mk_list(&classes, "VM_CLASSES_SLOW"))
            .chain(mk_list(&classes, "VM_SUPPORT_FAST"))
            .chain(mk_list(&classes, "VM_SUPPORT_SLOW"))
        {
            b.file(obj.join(format!("{c}.cpp")));
        }
    }
    b.file(manifest.join("csrc").join(DRIVER));
    b.out_dir(&dir);
    b.cargo_metadata(false);
    b.compile(LIB);
    fs::write(&stamp, &key).map_err(|e| e.to_string())?;
    link(&dir);
    Ok(())
}

fn link(dir: &Path) {
    println!("cargo:rustc-link-search=native={}", dir.display());
    println!("cargo:rustc-link-lib=static={LIB}");
}

/// The items of `NAME += a b \` lists in a Verilator `_classes.mk`.
pub fn mk_list(text: &str, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut on = false;
    for line in text.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix(name) {
            if let Some(items) = rest.trim_start().strip_prefix("+=") {
                on = t.ends_with('\\');
                out.extend(
                    items
                        .trim_end_matches('\\')
                        .split_whitespace()
                        .map(str::to_string),
                );
                continue;
            }
        }
        if on {
            out.extend(
                t.trim_end_matches('\\')
                    .split_whitespace()
                    .map(str::to_string),
            );
            on = t.ends_with('\\');
        }
    }
    out
}
