//! Reader for the reference ClassBench data (shared/classbench, optional):
//! OVS `dpctl/dump-flows` megaflow lines → (mask, key) and ClassBench trace
//! lines → packet keys. Used by the dpcls bench and example only.

#![allow(dead_code)]

use abi::{Field, FlowKey};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// One megaflow of a dump.
pub struct Megaflow {
    pub mask: FlowKey,
    pub key: FlowKey,
}

/// The shared reference folder, if present: `$FASTPATH_SHARED`, the
/// `shared` folder beside the repository, or /work/shared.
pub fn shared_dir() -> Option<PathBuf> {
    let mut c: Vec<PathBuf> = Vec::new();
    if let Ok(p) = std::env::var("FASTPATH_SHARED") {
        c.push(p.into());
    }
    c.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    c.push("/work/shared".into());
    c.into_iter().find(|p| p.join("classbench").is_dir())
}

/// Paths of a set's megaflow dump and trace, e.g. `("acl1", "10k", "10000")`.
pub fn set_paths(set: &str, size: &str) -> Option<(PathBuf, PathBuf)> {
    let d = shared_dir()?.join("classbench");
    let rules = match size {
        "1k" => "1000",
        "10k" => "10000",
        "100k" => "100000",
        _ => return None,
    };
    let mf = d.join("ovs").join(format!("{set}_{size}.megaflows"));
    let tr = d.join("traces").join(format!("{set}_{rules}_trace"));
    (mf.is_file() && tr.is_file()).then_some((mf, tr))
}

fn num(s: &str) -> Result<u64, String> {
    let r = match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.map_err(|e| format!("bad number {s:?}: {e}"))
}

fn ip(s: &str) -> Result<u64, String> {
    s.parse::<Ipv4Addr>()
        .map(|a| u32::from(a) as u64)
        .map_err(|e| format!("bad IPv4 address {s:?}: {e}"))
}

/// Splits at commas outside parentheses.
fn top_level(s: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn set_field(
    mf: &mut Megaflow,
    f: Field,
    v: &str,
    parse: fn(&str) -> Result<u64, String>,
) -> Result<(), String> {
    let (value, mask) = match v.split_once('/') {
        Some((a, b)) => (parse(a)?, parse(b)?),
        None => (parse(v)?, u64::MAX),
    };
    mf.mask.set(f, mask);
    let m = mf.mask.get(f);
    mf.key.set(f, value & m);
    Ok(())
}

/// Parses one dump line; `Ok(None)` for lines that are not flows.
pub fn parse_megaflow(line: &str) -> Result<Option<Megaflow>, String> {
    let line = line.trim();
    if !line.starts_with("recirc_id(") && !line.starts_with("in_port(") {
        return Ok(None);
    }
    let matches = line.split(", packets:").next().unwrap_or(line);
    let mut mf = Megaflow {
        mask: FlowKey::ZERO,
        key: FlowKey::ZERO,
    };
    for item in top_level(matches) {
        let (name, args) = item
            .strip_suffix(')')
            .and_then(|s| s.split_once('('))
            .ok_or_else(|| format!("bad match item {item:?}"))?;
        match name {
            "recirc_id" | "packet_type" => {}
            "in_port" => set_field(&mut mf, Field::InPort, args, num)?,
            "eth_type" => set_field(&mut mf, Field::DlType, args, num)?,
            "ipv4" | "tcp" | "udp" => {
                for kv in args.split(',') {
                    let (k, v) = kv
                        .split_once('=')
                        .ok_or_else(|| format!("bad {name} field {kv:?}"))?;
                    match (name, k) {
                        ("ipv4", "src") => set_field(&mut mf, Field::NwSrc, v, ip)?,
                        ("ipv4", "dst") => set_field(&mut mf, Field::NwDst, v, ip)?,
                        ("ipv4", "proto") => set_field(&mut mf, Field::NwProto, v, num)?,
                        ("ipv4", "tos") => set_field(&mut mf, Field::NwTos, v, num)?,
                        ("ipv4", "ttl") => set_field(&mut mf, Field::NwTtl, v, num)?,
                        ("ipv4", "frag") => {
                            let f = match v {
                                "no" => 0,
                                "first" => 1,
                                "later" => 3,
                                _ => return Err(format!("bad frag {v:?}")),
                            };
                            mf.mask.set(Field::NwFrag, 3);
                            mf.key.set(Field::NwFrag, f);
                        }
                        (_, "src") => set_field(&mut mf, Field::TpSrc, v, num)?,
                        (_, "dst") => set_field(&mut mf, Field::TpDst, v, num)?,
                        _ => return Err(format!("unsupported field {name}({k})")),
                    }
                }
            }
            _ => return Err(format!("unsupported match {name}")),
        }
    }
    Ok(Some(mf))
}

/// Every megaflow of a dump file.
pub fn load_megaflows(path: &Path) -> Result<Vec<Megaflow>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if let Some(mf) =
            parse_megaflow(line).map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?
        {
            out.push(mf);
        }
    }
    Ok(out)
}

/// The packet key of a trace line `sip dip sport dport proto flags idx`, as
/// the 64-byte IPv4 frame OVS saw on `in_port` (ports only for TCP/UDP).
pub fn parse_trace(line: &str, in_port: u32) -> Result<FlowKey, String> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 5 {
        return Err(format!("bad trace line {line:?}"));
    }
    let n = |i: usize| num(f[i]);
    let proto = n(4)?;
    let mut k = FlowKey::ZERO
        .with(Field::InPort, in_port as u64)
        .with(Field::DlType, 0x0800)
        .with(Field::NwSrc, n(0)?)
        .with(Field::NwDst, n(1)?)
        .with(Field::NwProto, proto);
    if proto == 6 || proto == 17 {
        k.set(Field::TpSrc, n(2)?);
        k.set(Field::TpDst, n(3)?);
    }
    Ok(k)
}

/// Every key of a trace file.
pub fn load_trace(path: &Path, in_port: u32) -> Result<Vec<FlowKey>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(n, l)| {
            parse_trace(l, in_port).map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))
        })
        .collect()
}
