//! pcap port (for tests and replays): frames are read from an input file a
//! burst at a time and output frames appended to an output file.
//!
//! With N packet threads the port has N shares ([`PcapPort::open_shares`]):
//! share `i` reads the whole input and keeps the frames whose flow hash
//! ([`crate::runner::rss`], as `fastpath run --threads`) is `i`, so each
//! frame is received by exactly one thread; the shares append to one output
//! file.

use super::{Port, PortError, PortStats, TxQueue};
use crate::io::pcap::{PcapReader, PcapWriter};
use crate::BURST;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::os::fd::RawFd;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

type Output = Arc<Mutex<Option<PcapWriter<BufWriter<File>>>>>;

/// A port backed by pcap files.
pub struct PcapPort {
    input: Option<PcapReader<BufReader<File>>>,
    /// Shared by the shares; `None` inside once closed.
    output: Option<Output>,
    /// This share's index and the number of shares.
    share: (usize, usize),
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
        Ok(Self::open_shares(input, output, 1)?.remove(0))
    }

    /// `n` shares of the port: share `i` receives the input frames whose
    /// flow hash is `i`; all send to the one output file.
    pub fn open_shares(
        input: Option<&Path>,
        output: Option<&Path>,
        n: usize,
    ) -> Result<Vec<Self>, PortError> {
        let n = n.max(1);
        let out: Option<Output> = output
            .map(PcapWriter::create)
            .transpose()?
            .map(|w| Arc::new(Mutex::new(Some(w))));
        (0..n)
            .map(|i| {
                Ok(PcapPort {
                    input: input.map(PcapReader::open).transpose()?,
                    output: out.clone(),
                    share: (i, n),
                    bufs: (0..BURST).map(|_| Vec::with_capacity(2048)).collect(),
                    start: Instant::now(),
                    stats: PortStats::default(),
                    error: None,
                })
            })
            .collect()
    }
}

impl Port for PcapPort {
    fn recv(&mut self, f: &mut dyn FnMut(&[&[u8]])) -> usize {
        let Some(r) = self.input.as_mut() else {
            return 0;
        };
        let mut n = 0;
        let (me, of) = self.share;
        while n < BURST {
            match r.next_into(&mut self.bufs[n]) {
                Ok(Some(_)) => {
                    if of == 1 || crate::runner::rss(&self.bufs[n], of) == me {
                        n += 1;
                    }
                }
                Ok(None) => {
                    self.input = None;
                    break;
                }
                Err(e) => {
                    // Every share meets the bad record; the first counts it.
                    if me == 0 {
                        tracing::error!(error = %e, "pcap port: input stops at a bad record");
                        self.stats.rx_errors += 1;
                    }
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
        // A poisoned lock: a share panicked while writing; the file is
        // still whole up to its last frame.
        let mut guard = self
            .output
            .as_ref()
            .map(|o| o.lock().unwrap_or_else(|e| e.into_inner()));
        for fr in q.frames() {
            let ok = match guard.as_deref_mut() {
                Some(Some(w)) if self.error.is_none() => match w.write(ts, fr) {
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
        // The first share closed finishes the file (every share's output
        // was flushed before).
        let w = self
            .output
            .take()
            .and_then(|o| o.lock().unwrap_or_else(|e| e.into_inner()).take());
        match w {
            Some(w) => w.finish().map(|_| ()).map_err(PortError::from),
            None => Ok(()),
        }
    }
}
