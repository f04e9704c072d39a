//! The controller sink: where `userspace(pid=0,controller(...))` copies go.
//!
//! fastpath has no OpenFlow controller connection. A packet-in is counted,
//! optionally written to a pcap file (`--controller-pcap`) and, in the
//! switch, kept in a bounded ring of the last [`RING`] packet-ins that the
//! control socket shows (`controller/show`).

use super::ControllerAction;
use crate::io::pcap::{PcapError, PcapWriter};
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

/// Packet-ins the ring keeps.
pub const RING: usize = 16;
/// Bytes of each packet-in the ring keeps (enough for every header the
/// summary shows).
pub const RING_BYTES: usize = 256;

/// One packet-in, as the ring keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketIn {
    /// Its number (1 for the first since the sink was made).
    pub seq: u64,
    /// Port it came in on.
    pub in_port: u32,
    /// The datapath action that sent it.
    pub action: ControllerAction,
    /// Bytes delivered (the packet cut to `max_len`).
    pub len: usize,
    /// The packet's length.
    pub total_len: usize,
    /// Its first [`RING_BYTES`] bytes (more than `len` when `max_len` cut
    /// it: the summary reads whole headers, as a controller would from
    /// OVS's packet-in metadata).
    pub head: Vec<u8>,
}

/// Counts packet-ins and writes them to a pcap file and the ring.
#[derive(Default)]
pub struct ControllerSink {
    /// Packet-ins delivered.
    pub packets: u64,
    /// Bytes delivered (after `max_len`).
    pub bytes: u64,
    pcap: Option<PcapWriter<BufWriter<File>>>,
    /// The first pcap write error (writing stops there).
    pub error: Option<PcapError>,
    ring: Option<VecDeque<PacketIn>>,
    ts: u64,
}

impl ControllerSink {
    /// A sink writing to `pcap` (when given) and keeping the ring when `ring`.
    pub fn new(pcap: Option<&Path>, ring: bool) -> Result<Self, PcapError> {
        Ok(ControllerSink {
            pcap: pcap.map(PcapWriter::create).transpose()?,
            ring: ring.then(|| VecDeque::with_capacity(RING)),
            ..Default::default()
        })
    }

    /// A sink with the ring and no file (the switch's, until
    /// [`ControllerSink::set_pcap`]).
    pub fn with_ring() -> Self {
        ControllerSink {
            ring: Some(VecDeque::with_capacity(RING)),
            ..Default::default()
        }
    }

    /// Writes the packet-ins from now on to a new pcap file at `path`.
    pub fn set_pcap(&mut self, path: &Path) -> Result<(), PcapError> {
        self.pcap = Some(PcapWriter::create(path)?);
        Ok(())
    }

    /// Delivers one packet-in: the first `max_len` bytes of `packet`.
    pub fn deliver(&mut self, c: &ControllerAction, in_port: u32, packet: &[u8]) {
        let frame = &packet[..packet.len().min(usize::from(c.max_len))];
        self.packets += 1;
        self.bytes += frame.len() as u64;
        if let (Some(w), None) = (&mut self.pcap, &self.error) {
            // Pcap readers want increasing times; 1 µs apart, as --out-pcap.
            self.ts += 1000;
            if let Err(e) = w.write(self.ts, frame) {
                self.error = Some(e);
            }
        }
        if let Some(r) = &mut self.ring {
            if r.len() == RING {
                r.pop_front();
            }
            r.push_back(PacketIn {
                seq: self.packets,
                in_port,
                action: *c,
                len: frame.len(),
                total_len: packet.len(),
                head: packet[..packet.len().min(RING_BYTES)].to_vec(),
            });
        }
    }

    /// The ring, oldest first (empty without one).
    pub fn recent(&self) -> impl Iterator<Item = &PacketIn> {
        self.ring.iter().flatten()
    }

    /// Flushes the pcap file; the first write error is returned.
    pub fn finish(&mut self) -> Result<(), PcapError> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if let Some(w) = self.pcap.take() {
            w.finish()?;
        }
        Ok(())
    }

    /// What `controller/show` prints: the counters, then one line per
    /// packet-in of the ring with the flow its headers give.
    pub fn show(&self) -> String {
        let mut s = format!(
            "controller: packets={} bytes={}\n",
            self.packets, self.bytes
        );
        for p in self.recent() {
            let _ = writeln!(
                s,
                "  #{} reason={} cookie={:#x} id={} len={} total_len={} {}",
                p.seq,
                p.reason_name(),
                p.action.rule_cookie,
                p.action.controller_id,
                p.len,
                p.total_len,
                p.flow()
            );
        }
        s
    }

    /// [`ControllerSink::show`] as JSON.
    pub fn show_json(&self) -> serde_json::Value {
        let recent: Vec<serde_json::Value> = self
            .recent()
            .map(|p| {
                serde_json::json!({
                    "seq": p.seq,
                    "in_port": p.in_port,
                    "reason": p.reason_name(),
                    "rule_cookie": p.action.rule_cookie,
                    "controller_id": p.action.controller_id,
                    "len": p.len,
                    "total_len": p.total_len,
                    "flow": p.flow(),
                })
            })
            .collect();
        serde_json::json!({ "packets": self.packets, "bytes": self.bytes, "recent": recent })
    }
}

impl PacketIn {
    /// The reason's name (`table_miss` for OVS's explicit and implicit misses).
    pub fn reason_name(&self) -> &'static str {
        crate::ofproto::parse::PACKET_IN_REASONS
            .get(usize::from(self.action.reason))
            .copied()
            .filter(|n| !n.is_empty())
            .unwrap_or("table_miss")
    }

    /// The flow its (kept) headers give, as `ofproto/trace` prints flows.
    pub fn flow(&self) -> String {
        let mut st = crate::extract::ExtractStats::default();
        let key = crate::extract::miniflow_extract(&self.head, self.in_port, &mut st);
        crate::ofproto::format::format_flow(&crate::ofproto::Flow::from_key(&key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn act(max_len: u16) -> ControllerAction {
        ControllerAction {
            reason: 1,
            dont_send: false,
            continuation: false,
            recirc_id: 1,
            rule_cookie: 5,
            controller_id: 0,
            max_len,
        }
    }

    #[test]
    fn ring_keeps_the_last_packet_ins_and_counts_all() {
        let mut s = ControllerSink::new(None, true).unwrap();
        for i in 0..(RING as u8 + 3) {
            s.deliver(&act(50), 1, &[i; 60]);
        }
        assert_eq!(
            (s.packets, s.bytes),
            (RING as u64 + 3, 50 * (RING as u64 + 3))
        );
        let seqs: Vec<u64> = s.recent().map(|p| p.seq).collect();
        assert_eq!(seqs, (4..=RING as u64 + 3).collect::<Vec<_>>());
        assert_eq!(s.recent().next().map(|p| p.head[0]), Some(3));
        let shown = s.show();
        assert!(
            shown.starts_with("controller: packets=19 bytes=950\n"),
            "{shown}"
        );
        assert!(
            shown.contains("#19 reason=action cookie=0x5 id=0 len=50 total_len=60 "),
            "{shown}"
        );
    }
}
