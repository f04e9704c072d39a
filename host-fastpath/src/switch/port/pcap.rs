//! pcap port (for tests and replays): frames are read from an input file a
//! burst at a time and output frames appended to an output file.

use super::{Port, PortError, PortStats, TxQueue};
use crate::io::pcap::{PcapReader, PcapWriter};
use crate::BURST;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::os::fd::RawFd;
use std::path::Path;
use std::time::Instant;

/// A port backed by pcap files.
pub struct PcapPort {
    input: Option<PcapReader<BufReader<File>>>,
    output: Option<PcapWriter<BufWriter<File>>>,
    bufs: Vec<Vec<u8>>,
    start: Instant,
    stats: PortStats,
    /// First read or write error (reading stops at a bad record; writing at
    /// the first failure, later frames counted as errors).
    pub error: Option<String>,
}

impl PcapPort {
    /// Opens `input` for reading and creates `output` (either may be absent).
    pub fn open(input: Option<&Path>, output: Option<&Path>) -> Result<Self, PortError> {
        Ok(PcapPort {
            input: input.map(PcapReader::open).transpose()?,
            output: output.map(PcapWriter::create).transpose()?,
            bufs: (0..BURST).map(|_| Vec::with_capacity(2048)).collect(),
            start: Instant::now(),
            stats: PortStats::default(),
            error: None,
        })
    }
}

impl Port for PcapPort {
    fn recv(&mut self, f: &mut dyn FnMut(&[&[u8]])) -> usize {
        let Some(r) = self.input.as_mut() else {
            return 0;
        };
        let mut n = 0;
        while n < BURST {
            match r.next_into(&mut self.bufs[n]) {
                Ok(Some(_)) => n += 1,
                Ok(None) => {
                    self.input = None;
                    break;
                }
                Err(e) => {
                    tracing::error!(error = %e, "pcap port: input stops at a bad record");
                    self.stats.rx_errors += 1;
                    self.error.get_or_insert(e.to_string());
                    self.input = None;
                    break;
                }
            }
        }
        if n > 0 {
            let mut frames: [&[u8]; BURST] = [&[]; BURST];
            for (fr, b) in frames.iter_mut().zip(&self.bufs[..n]) {
                *fr = b;
                self.stats.rx_packets += 1;
                self.stats.rx_bytes += b.len() as u64;
            }
            f(&frames[..n]);
        }
        n
    }

    fn send(&mut self, q: &mut TxQueue) {
        let ts = self.start.elapsed().as_nanos() as u64;
        for fr in q.frames() {
            let ok = match self.output.as_mut() {
                Some(w) if self.error.is_none() => match w.write(ts, fr) {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::error!(error = %e, "pcap port: output failed");
                        self.error = Some(e.to_string());
                        false
                    }
                },
                // No output file: the frame is dropped, and counted.
                None => {
                    self.stats.tx_dropped += 1;
                    continue;
                }
                Some(_) => false,
            };
            if ok {
                self.stats.tx_packets += 1;
                self.stats.tx_bytes += fr.len() as u64;
            } else {
                self.stats.tx_errors += 1;
            }
        }
        q.clear();
    }

    fn poll_fd(&self) -> Option<RawFd> {
        None
    }

    fn exhausted(&self) -> bool {
        self.input.is_none()
    }

    fn stats(&mut self) -> PortStats {
        self.stats
    }

    fn close(&mut self) -> Result<(), PortError> {
        self.input = None;
        match self.output.take() {
            Some(w) => w.finish().map(|_| ()).map_err(PortError::from),
            None => Ok(()),
        }
    }
}
