//! Classic libpcap files: read (both byte orders, µs and ns timestamps) and write.
//!
//! Hand-written rather than the `pcap-file` crate: the format is a 24-byte
//! header and 16-byte record headers, and we want errors that name the file
//! and the packet number, a reader that reuses one buffer per packet (no
//! allocation per packet on replay), and no extra dependency.
//!
//! Stricter than libpcap (and so tcpdump), which reads a record longer than
//! the file's snapshot length as truncated to it and takes a captured length
//! above the original one as it is: here both are errors naming the packet,
//! as is a format version other than 2.4, so a replay never sends frames the
//! file does not describe.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

const MAGIC_US: u32 = 0xa1b2_c3d4;
const MAGIC_NS: u32 = 0xa1b2_3c4d;
/// LINKTYPE_ETHERNET.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Largest record we accept (libpcap's own sanity limit for Ethernet).
pub const MAX_RECORD: u32 = 262_144;
/// Most packet bytes [`PcapReader::read_all`] holds in memory (1 GiB).
pub const MAX_READ_ALL_BYTES: u64 = 1 << 30;

/// A pcap read/write failure, naming the file and (for records) the 1-based packet number.
#[derive(Debug, thiserror::Error)]
pub enum PcapError {
    /// Open/read/write failed.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not a pcap file we can read.
    #[error("{path}: {msg}")]
    Format {
        /// File.
        path: String,
        /// What is wrong.
        msg: String,
    },
    /// A record is damaged.
    #[error("{path}: packet {packet}: {msg}")]
    Record {
        /// File.
        path: String,
        /// 1-based packet number.
        packet: u64,
        /// What is wrong.
        msg: String,
    },
}

/// One record's metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcapRecord {
    /// Timestamp in nanoseconds.
    pub ts_ns: u64,
    /// Length on the wire (≥ captured length).
    pub orig_len: u32,
}

/// Streaming pcap reader.
pub struct PcapReader<R: Read> {
    r: R,
    path: String,
    swapped: bool,
    nanos: bool,
    /// Snapshot length from the file header.
    pub snaplen: u32,
    /// Link type from the file header.
    pub linktype: u32,
    n: u64,
}

impl PcapReader<BufReader<File>> {
    /// Opens a file; fails unless it is an Ethernet pcap file.
    pub fn open(path: &Path) -> Result<Self, PcapError> {
        let p = path.display().to_string();
        let f = File::open(path).map_err(|source| PcapError::Io {
            path: p.clone(),
            source,
        })?;
        Self::new(BufReader::with_capacity(1 << 16, f), &p)
    }
}

fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

impl<R: Read> PcapReader<R> {
    /// Reads the file header from `r`; `path` names the input in errors.
    pub fn new(mut r: R, path: &str) -> Result<Self, PcapError> {
        let mut h = [0u8; 24];
        let n = read_full(&mut r, &mut h).map_err(|source| PcapError::Io {
            path: path.into(),
            source,
        })?;
        if n < 24 {
            return Err(PcapError::Format {
                path: path.into(),
                msg: format!("truncated file header ({n} of 24 bytes)"),
            });
        }
        let le = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let (swapped, nanos) = match le {
            MAGIC_US => (false, false),
            MAGIC_NS => (false, true),
            x if x.swap_bytes() == MAGIC_US => (true, false),
            x if x.swap_bytes() == MAGIC_NS => (true, true),
            x => {
                return Err(PcapError::Format {
                    path: path.into(),
                    msg: format!("not a pcap file (magic {x:#010x}; pcapng is not supported)"),
                })
            }
        };
        let rd = |b: &[u8]| {
            let v = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            if swapped {
                v.swap_bytes()
            } else {
                v
            }
        };
        let rd16 = |b: &[u8]| {
            let v = u16::from_le_bytes([b[0], b[1]]);
            if swapped {
                v.swap_bytes()
            } else {
                v
            }
        };
        let (major, minor) = (rd16(&h[4..6]), rd16(&h[6..8]));
        if (major, minor) != (2, 4) {
            return Err(PcapError::Format {
                path: path.into(),
                msg: format!("format version {major}.{minor} (only 2.4 is read)"),
            });
        }
        let snaplen = rd(&h[16..20]);
        let linktype = rd(&h[20..24]) & 0x0fff_ffff;
        if linktype != LINKTYPE_ETHERNET {
            return Err(PcapError::Format {
                path: path.into(),
                msg: format!("link type {linktype} is not Ethernet (1)"),
            });
        }
        Ok(Self {
            r,
            path: path.into(),
            swapped,
            nanos,
            snaplen,
            linktype,
            n: 0,
        })
    }

    /// Reads the next packet into `buf` (replacing its contents). `Ok(None)` at a clean end of file.
    pub fn next_into(&mut self, buf: &mut Vec<u8>) -> Result<Option<PcapRecord>, PcapError> {
        let mut h = [0u8; 16];
        let n = read_full(&mut self.r, &mut h).map_err(|source| PcapError::Io {
            path: self.path.clone(),
            source,
        })?;
        if n == 0 {
            return Ok(None);
        }
        self.n += 1;
        if n < 16 {
            return Err(self.rec_err(format!("truncated record header ({n} of 16 bytes)")));
        }
        let rd = |b: &[u8]| {
            let v = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            if self.swapped {
                v.swap_bytes()
            } else {
                v
            }
        };
        let (sec, frac, incl, orig) = (rd(&h[0..4]), rd(&h[4..8]), rd(&h[8..12]), rd(&h[12..16]));
        // Some writers leave the snapshot length 0: then only the sanity limit applies.
        if self.snaplen != 0 && incl > self.snaplen {
            return Err(self.rec_err(format!(
                "captured length {incl} exceeds the file's snapshot length {}",
                self.snaplen
            )));
        }
        if incl > MAX_RECORD {
            return Err(self.rec_err(format!(
                "captured length {incl} exceeds the limit {MAX_RECORD}"
            )));
        }
        if incl > orig {
            return Err(self.rec_err(format!(
                "captured length {incl} exceeds the original length {orig}"
            )));
        }
        buf.resize(incl as usize, 0);
        let got = read_full(&mut self.r, buf).map_err(|source| PcapError::Io {
            path: self.path.clone(),
            source,
        })?;
        if got < incl as usize {
            return Err(self.rec_err(format!("truncated packet data ({got} of {incl} bytes)")));
        }
        let ts_ns = sec as u64 * 1_000_000_000
            + if self.nanos {
                frac as u64
            } else {
                frac as u64 * 1000
            };
        Ok(Some(PcapRecord {
            ts_ns,
            orig_len: orig,
        }))
    }

    fn rec_err(&self, msg: String) -> PcapError {
        PcapError::Record {
            path: self.path.clone(),
            packet: self.n,
            msg,
        }
    }

    /// Reads every packet (at most [`MAX_READ_ALL_BYTES`] of them).
    pub fn read_all(self) -> Result<Vec<Vec<u8>>, PcapError> {
        self.read_all_within(MAX_READ_ALL_BYTES)
    }

    /// Reads every packet; an error if they hold more than `max_bytes`.
    pub fn read_all_within(mut self, max_bytes: u64) -> Result<Vec<Vec<u8>>, PcapError> {
        let mut out = Vec::new();
        let mut buf = Vec::new();
        let mut held = 0u64;
        while self.next_into(&mut buf)?.is_some() {
            held += buf.len() as u64;
            if held > max_bytes {
                return Err(self.rec_err(format!(
                    "the packets so far hold more than the limit of {max_bytes} bytes read into memory"
                )));
            }
            out.push(buf.clone());
        }
        Ok(out)
    }
}

/// Streaming pcap writer (little-endian, microsecond timestamps, Ethernet).
pub struct PcapWriter<W: Write> {
    w: W,
    path: String,
}

impl PcapWriter<BufWriter<File>> {
    /// Creates (truncates) a file and writes the header.
    pub fn create(path: &Path) -> Result<Self, PcapError> {
        let p = path.display().to_string();
        let f = File::create(path).map_err(|source| PcapError::Io {
            path: p.clone(),
            source,
        })?;
        Self::new(BufWriter::new(f), &p)
    }
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header to `w`.
    pub fn new(mut w: W, path: &str) -> Result<Self, PcapError> {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&MAGIC_US.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&65_535u32.to_le_bytes());
        h.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        w.write_all(&h).map_err(|source| PcapError::Io {
            path: path.into(),
            source,
        })?;
        Ok(Self {
            w,
            path: path.into(),
        })
    }

    /// Appends one packet.
    pub fn write(&mut self, ts_ns: u64, data: &[u8]) -> Result<(), PcapError> {
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&((ts_ns / 1_000_000_000) as u32).to_le_bytes());
        h[4..8].copy_from_slice(&(((ts_ns % 1_000_000_000) / 1000) as u32).to_le_bytes());
        h[8..12].copy_from_slice(&(data.len() as u32).to_le_bytes());
        h[12..16].copy_from_slice(&(data.len() as u32).to_le_bytes());
        let e = |source| PcapError::Io {
            path: self.path.clone(),
            source,
        };
        self.w.write_all(&h).map_err(e)?;
        self.w.write_all(data).map_err(|source| PcapError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// Flushes buffered output.
    pub fn finish(mut self) -> Result<W, PcapError> {
        self.w.flush().map_err(|source| PcapError::Io {
            path: self.path.clone(),
            source,
        })?;
        Ok(self.w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn swapped_file(nanos: bool) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&(if nanos { MAGIC_NS } else { MAGIC_US }).to_be_bytes());
        v.extend_from_slice(&2u16.to_be_bytes());
        v.extend_from_slice(&4u16.to_be_bytes());
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&96u32.to_be_bytes());
        v.extend_from_slice(&1u32.to_be_bytes());
        v.extend_from_slice(&7u32.to_be_bytes());
        v.extend_from_slice(&5u32.to_be_bytes());
        v.extend_from_slice(&3u32.to_be_bytes());
        v.extend_from_slice(&60u32.to_be_bytes());
        v.extend_from_slice(&[1, 2, 3]);
        v
    }

    #[test]
    fn roundtrip_and_byte_orders() {
        let mut w = PcapWriter::new(Vec::new(), "mem").unwrap();
        w.write(1_500_000_000, &[9; 60]).unwrap();
        w.write(2_000_001_000, &[8; 14]).unwrap();
        let bytes = w.finish().unwrap();
        let mut r = PcapReader::new(&bytes[..], "mem").unwrap();
        let mut b = Vec::new();
        assert_eq!(r.next_into(&mut b).unwrap().unwrap().ts_ns, 1_500_000_000);
        assert_eq!(b, vec![9; 60]);
        assert_eq!(r.next_into(&mut b).unwrap().unwrap().ts_ns, 2_000_001_000);
        assert!(r.next_into(&mut b).unwrap().is_none());
        for nanos in [false, true] {
            let f = swapped_file(nanos);
            let mut r = PcapReader::new(&f[..], "be").unwrap();
            let rec = r.next_into(&mut b).unwrap().unwrap();
            assert_eq!(b, vec![1, 2, 3]);
            assert_eq!(rec.ts_ns, 7_000_000_000 + if nanos { 5 } else { 5000 });
            assert_eq!(rec.orig_len, 60);
        }
    }

    /// A little-endian file with `snaplen` and one record of `incl`/`orig` bytes.
    fn one_record(version: (u16, u16), snaplen: u32, incl: u32, orig: u32) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&MAGIC_US.to_le_bytes());
        v.extend_from_slice(&version.0.to_le_bytes());
        v.extend_from_slice(&version.1.to_le_bytes());
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&snaplen.to_le_bytes());
        v.extend_from_slice(&1u32.to_le_bytes());
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&incl.to_le_bytes());
        v.extend_from_slice(&orig.to_le_bytes());
        v.resize(v.len() + incl as usize, 0xab);
        v
    }

    fn read(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
        PcapReader::new(bytes, "x.pcap")
            .and_then(|r| r.read_all())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn records_are_checked_against_lengths_snaplen_and_version() {
        assert_eq!(
            read(&one_record((2, 4), 96, 60, 60)).unwrap(),
            vec![vec![0xab; 60]]
        );
        assert_eq!(read(&one_record((2, 4), 0, 60, 1500)).unwrap().len(), 1);
        assert_eq!(
            read(&one_record((2, 4), 96, 61, 60)).unwrap_err(),
            "x.pcap: packet 1: captured length 61 exceeds the original length 60"
        );
        assert_eq!(
            read(&one_record((2, 4), 64, 65, 100)).unwrap_err(),
            "x.pcap: packet 1: captured length 65 exceeds the file's snapshot length 64"
        );
        assert_eq!(
            read(&one_record((2, 4), 0, MAX_RECORD + 1, MAX_RECORD + 1)).unwrap_err(),
            format!(
                "x.pcap: packet 1: captured length {} exceeds the limit {MAX_RECORD}",
                MAX_RECORD + 1
            )
        );
        assert_eq!(
            read(&one_record((99, 77), 96, 60, 60)).unwrap_err(),
            "x.pcap: format version 99.77 (only 2.4 is read)"
        );
        let two = [
            one_record((2, 4), 96, 60, 60),
            one_record((2, 4), 96, 60, 60)[24..].to_vec(),
        ]
        .concat();
        let e = PcapReader::new(&two[..], "x.pcap")
            .unwrap()
            .read_all_within(100)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.pcap: packet 2: the packets so far hold more than the limit of 100 bytes read into memory"
        );
    }

    #[test]
    fn truncation_names_the_packet() {
        let mut w = PcapWriter::new(Vec::new(), "mem").unwrap();
        w.write(0, &[1; 60]).unwrap();
        w.write(0, &[1; 60]).unwrap();
        let bytes = w.finish().unwrap();
        let cut = &bytes[..bytes.len() - 10];
        let e = PcapReader::new(cut, "x.pcap")
            .unwrap()
            .read_all()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.pcap: packet 2: truncated packet data (50 of 60 bytes)"
        );
        let e = PcapReader::new(&bytes[..30], "x.pcap")
            .unwrap()
            .read_all()
            .unwrap_err();
        assert!(
            e.to_string().contains("packet 1: truncated record header"),
            "{e}"
        );
        assert!(PcapReader::new(&bytes[..10], "x.pcap").is_err());
        assert!(PcapReader::new(&[0u8; 24][..], "x.pcap").is_err());
    }
}
