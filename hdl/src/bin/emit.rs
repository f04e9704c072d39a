//! `emit --out DIR [--config FILE]`: writes the pipeline's Verilog, one file
//! per top-level module (the whole design and each sub-module).
//! `emit --ram-report boards/<b>/board.toml`: the board's RAM arithmetic.

use anyhow::{bail, Context, Result};
use hdl::config::{Board, BuildConfig};
use hdl::ram_budget::{memories, RamBudget};
use std::path::PathBuf;

fn main() -> Result<()> {
    let mut out: Option<PathBuf> = None;
    let mut config: Option<PathBuf> = None;
    let mut regdoc: Option<PathBuf> = None;
    let mut ram_report: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out = Some(args.next().context("--out needs a directory")?.into()),
            "--config" => config = Some(args.next().context("--config needs a file")?.into()),
            "--registers-md" => {
                regdoc = Some(args.next().context("--registers-md needs a file")?.into())
            }
            "--ram-report" => {
                ram_report = Some(args.next().context("--ram-report needs a board.toml")?.into())
            }
            "-h" | "--help" => {
                println!("usage: emit --out DIR [--config geometry.toml|board.toml] [--registers-md FILE]\n       emit --ram-report boards/<b>/board.toml");
                return Ok(());
            }
            other => bail!("unknown argument {other:?} (usage: emit --out DIR [--config FILE] [--registers-md FILE] | --ram-report board.toml)"),
        }
    }
    if let Some(p) = &ram_report {
        let board = Board::load(p)?;
        let top = hdl::emit::emit_top(&board.config)?;
        let budget = RamBudget::place(&memories(&top), &board.ram);
        println!(
            "{} ({}), geometry {:?}, table RAM budget {} %\n",
            board.name, board.part, board.config.geometry, board.ram_budget_percent
        );
        print!("{}", budget.markdown());
        return Ok(());
    }
    if let Some(p) = &regdoc {
        std::fs::write(p, hdl::regdoc::registers_md())
            .with_context(|| format!("writing {}", p.display()))?;
        println!("{}", p.display());
        if out.is_none() {
            return Ok(());
        }
    }
    let out = out.context("missing --out DIR")?;
    let cfg = match &config {
        Some(p) => BuildConfig::load(p)?,
        None => BuildConfig::default(),
    };
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    for (name, text) in hdl::emit::emit_all(&cfg)? {
        let path = out.join(format!("{name}.v"));
        std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
        println!("{}", path.display());
        if let Some(h) = hdl::emit::harness(&text, &name) {
            let path = out.join("harness").join(format!("{name}_harness.v"));
            std::fs::create_dir_all(out.join("harness"))?;
            std::fs::write(&path, h).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    let cap = hdl::top::FastpathTop::capability(&cfg.geometry, cfg.clock_khz);
    eprintln!(
        "geometry {:?}, clock {} kHz, latency {} cycles",
        cfg.geometry, cfg.clock_khz, cap.latency
    );
    Ok(())
}
