//! ClassBench header traces → frames.
//!
//! A trace line is `sip dip sport dport proto flags idx` (unsigned decimals,
//! see the ClassBench documentation); each becomes a 60-byte (64 on the
//! wire) Ethernet/IPv4 frame, TCP or UDP by `proto` (other protocols get a
//! bare IPv4 header), as the Open vSwitch reference measurements replayed them.

use super::frames::{frame_from_key, MIN_FRAME};
use super::text::{read_text, shorten, Limits, TextError};
use abi::{Field, FlowKey};
use std::path::Path;

/// One trace header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceHeader {
    /// IPv4 source.
    pub sip: u32,
    /// IPv4 destination.
    pub dip: u32,
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// IP protocol.
    pub proto: u8,
    /// ClassBench flags column (not TCP flags; unused by the frames).
    pub flags: u32,
    /// Rule the header was generated from (not necessarily its first match).
    pub idx: u32,
}

/// A malformed trace line.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {msg}")]
pub struct TraceError {
    /// File.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub msg: String,
}

/// Why a trace file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadTraceError {
    /// Not readable as bounded UTF-8 text.
    #[error(transparent)]
    Text(#[from] TextError),
    /// A malformed line.
    #[error(transparent)]
    Parse(#[from] TraceError),
}

/// Reads and parses a trace file within the default [`Limits`].
pub fn load_trace(path: &Path) -> Result<Vec<TraceHeader>, LoadTraceError> {
    let text = read_text(path, &Limits::default())?;
    Ok(parse_trace(&text, &path.display().to_string())?)
}

/// Parses a whole trace.
pub fn parse_trace(text: &str, file: &str) -> Result<Vec<TraceHeader>, TraceError> {
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let err = |msg: String| TraceError {
            file: file.into(),
            line: i + 1,
            msg,
        };
        let f: Vec<&str> = l.split_whitespace().collect();
        if !(5..=7).contains(&f.len()) {
            return Err(err(format!(
                "expected 5 to 7 fields `sip dip sport dport proto [flags idx]`, found {}",
                f.len()
            )));
        }
        let num = |j: usize, max: u64, what: &str| -> Result<u64, TraceError> {
            match f.get(j) {
                None => Ok(0),
                Some(s) => match s.parse::<u64>() {
                    Ok(v) if v <= max => Ok(v),
                    _ => Err(err(format!(
                        "field {} ({what}): expected an integer ≤ {max}, found `{}`",
                        j + 1,
                        shorten(s)
                    ))),
                },
            }
        };
        out.push(TraceHeader {
            sip: num(0, u32::MAX as u64, "sip")? as u32,
            dip: num(1, u32::MAX as u64, "dip")? as u32,
            sport: num(2, 65535, "sport")? as u16,
            dport: num(3, 65535, "dport")? as u16,
            proto: num(4, 255, "proto")? as u8,
            flags: num(5, u32::MAX as u64, "flags")? as u32,
            idx: num(6, u32::MAX as u64, "idx")? as u32,
        });
    }
    Ok(out)
}

/// Source MAC of generated frames.
pub const SRC_MAC: u64 = 0x5054_0000_0009;
/// Destination MAC of generated frames.
pub const DST_MAC: u64 = 0x5054_0000_000a;

/// The key of a trace header's frame on `in_port`.
pub fn header_key(h: &TraceHeader, in_port: u32) -> FlowKey {
    let mut k = FlowKey::ZERO
        .with(Field::InPort, in_port as u64)
        .with(Field::DlSrc, SRC_MAC)
        .with(Field::DlDst, DST_MAC)
        .with(Field::DlType, 0x0800)
        .with(Field::NwSrc, h.sip as u64)
        .with(Field::NwDst, h.dip as u64)
        .with(Field::NwProto, h.proto as u64)
        .with(Field::NwTtl, 64);
    if matches!(h.proto, 6 | 17 | 132) {
        k.set(Field::TpSrc, h.sport as u64);
        k.set(Field::TpDst, h.dport as u64);
    }
    if h.proto == 6 {
        k.set(Field::TcpFlags, 0x010);
    }
    k
}

/// The 60-byte frame of a trace header.
pub fn header_frame(h: &TraceHeader) -> Vec<u8> {
    frame_from_key(&header_key(h, 1), MIN_FRAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_counted_and_values_checked() {
        let ok = parse_trace("1 2 3 4 6\n# c\n1 2 3 4 6 0 9\n", "t").unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[1].idx, 9);
        let e = parse_trace("1 2 3 4 6 0 9 extra\n", "t").unwrap_err();
        assert_eq!(
            e.to_string(),
            "t:1: expected 5 to 7 fields `sip dip sport dport proto [flags idx]`, found 8"
        );
        let e = parse_trace("1 2 3 4\n", "t").unwrap_err();
        assert!(e.to_string().ends_with("found 4"), "{e}");
        let e = parse_trace(&format!("1 2 3 {} 6\n", "9".repeat(1000)), "t").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("t:1: field 4 (dport): expected an integer ≤ 65535, found `9999"),
            "{e}"
        );
        assert!(e.to_string().len() < 200, "{e}");
    }
}
