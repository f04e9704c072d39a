//! Software parser verdicts for the Python reference model's cross-check
//! (tb/test_parser_model.py): one frame per stdin line, `VLAN_LIMIT IN_PORT
//! HEX` (HEX may be absent: an empty frame); one line out per frame, the
//! eight words of the hardware key (what the model covers; ND's host-only
//! words are left out) then the `abi::parser` meta word, as 16 hex digits
//! each.
//!
//! The meta word is what the hardware parser must produce: extract's key,
//! its one malformed reason (from `ExtractStats`), `bad_ip_version`, the
//! length and the in port, as tests/parser_vs_extract.rs derives it.
//!
//! Usage: `cargo run -p host-fastpath --example extract_hex < frames.txt`

use std::io::{BufRead, BufWriter, Write};

use abi::parser::{MalformedReason, ParseMeta};
use anyhow::{bail, Context, Result};
use fastpath::extract::{miniflow_extract_with, ExtractConfig, ExtractStats};

fn hex_bytes(s: &str) -> Result<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        bail!("odd number of hex digits");
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|d| u8::from_str_radix(d, 16).ok())
                .with_context(|| format!("bad hex at {i}"))
        })
        .collect()
}

fn verdict(line: &str) -> Result<String> {
    let mut it = line.split_whitespace();
    let limit: usize = it.next().context("no VLAN limit")?.parse()?;
    let port: u16 = it.next().context("no in port")?.parse()?;
    let frame = hex_bytes(it.next().unwrap_or(""))?;
    let cfg = ExtractConfig::with_vlan_limit(limit);
    let mut s = ExtractStats::default();
    let key = miniflow_extract_with(&frame, port as u32, &cfg, &mut s);
    let reasons: Vec<MalformedReason> = MalformedReason::ALL
        .iter()
        .copied()
        .filter(|r| *r != MalformedReason::BadIpVersion && s.get(*r) != 0)
        .collect();
    if reasons.len() > 1 {
        bail!("extract counted {reasons:?} for one frame");
    }
    let meta = ParseMeta {
        in_port: port,
        frame_len: u32::try_from(frame.len()).unwrap_or(u32::MAX),
        malformed: reasons.first().copied(),
        bad_ip_version: s.bad_ip_version != 0,
        exception: None,
    };
    let mut out = String::new();
    for w in key.hw_words() {
        out.push_str(&format!("{w:016x} "));
    }
    out.push_str(&format!("{:016x}", meta.encode()));
    Ok(out)
}

fn main() -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for (n, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line?;
        let v = verdict(&line).with_context(|| format!("line {}", n + 1))?;
        writeln!(out, "{v}")?;
    }
    Ok(())
}
