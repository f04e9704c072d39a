//! The hardware tier of a NIC with a packet path: [`InlineDp`].
//!
//! Open vSwitch's `dfc_processing` with `dp_netdev_hw_flow` is the model.
//! Per burst: frames received on a MAC port go into the NIC's MAC RX port
//! ([`InlineDp::nic_rx`]); the NIC parses, looks up and acts; frames it sends
//! out of its MAC TX ports go to the output sink and the host never sees
//! them ([`InlineDp::nic_collect`]). Frames it hands the host come with a
//! reason ([`HostRxReason`]): `Marked` frames run their megaflow's actions
//! directly, without extract, EMC or classifier ([`InlineDp::host_marked`]);
//! `Miss` and `Exception` frames take the software path in bursts
//! ([`InlineDp::software_burst`]), whose upcalls install in software and,
//! through the offload manager, in hardware. Outputs the host executes to
//! a MAC port leave through the host TX queue as [`HostTxKind::Output`], so
//! every frame on a MAC port comes out of the NIC ([`HostOut`]); outputs to
//! other ports go to the sink directly.
//!
//! Frames received on other ports never reach the NIC: they go straight to
//! the software path.
//!
//! Order: within a flow, frames leave in arrival order — a flow's frames of
//! one burst are all handled the same way (the NIC's tables only change
//! between its runs), and the host TX queue is flushed through the NIC
//! before the next burst enters it. Across flows a frame the host handled
//! leaves after the NIC's own frames of its burst.
//!
//! Statistics: hardware entry hit and byte counters credit flows at sync as
//! for the look-aside NIC ([`OffloadManager::sync_stats`]), and those
//! counters are also what slot ranking and the widening trade count (synced
//! before each re-rank), since the host never sees those frames. A flow's
//! packets and bytes therefore cover every frame; its TCP flags only the
//! frames the host saw (the NIC keeps no flags).

use super::encode::HwActionSet;
use super::hw::{HwError, HwTables};
use super::hybrid::{
    format_tiered_flow, offer_to_hardware, remove_port_tiers, revalidate_tiers, sync_tiers,
};
use super::manager::{OffloadConfig, OffloadManager};
use crate::dpif::{run_actions, PacketSink, Pmd};
use crate::odp::{ExecStats, OdpAction};
use crate::ofproto::OfProto;
use crate::{FlowId, BURST};
use abi::action::MAC_PORT_BASE;
use abi::hostq::{HostRxMeta, HostRxReason, HostTxKind, HostTxMeta};
use abi::{Field, FlowKey};

/// Frames with a tag each, their bytes in one buffer (reused across runs).
#[derive(Clone, Debug)]
pub struct NicFrames<T> {
    bytes: Vec<u8>,
    frames: Vec<(T, usize, usize)>,
}

impl<T> Default for NicFrames<T> {
    fn default() -> Self {
        NicFrames {
            bytes: Vec::new(),
            frames: Vec::new(),
        }
    }
}

impl<T: Copy> NicFrames<T> {
    /// Appends a frame.
    pub fn push(&mut self, tag: T, frame: &[u8]) {
        let off = self.bytes.len();
        self.bytes.extend_from_slice(frame);
        self.frames.push((tag, off, frame.len()));
    }

    /// Frames held.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// No frame held.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Forgets every frame, keeping the buffers.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.frames.clear();
    }

    /// Frame `i`: tag and bytes.
    pub fn get(&self, i: usize) -> (T, &[u8]) {
        let (t, off, len) = self.frames[i];
        (t, &self.bytes[off..off + len])
    }

    /// Every frame in order.
    pub fn iter(&self) -> impl Iterator<Item = (T, &[u8])> + '_ {
        self.frames
            .iter()
            .map(|&(t, off, len)| (t, &self.bytes[off..off + len]))
    }
}

/// What one NIC run did with the frames of its MAC RX ports (from the
/// action stage's counters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NicRun {
    /// Frames the action stage sent out of MAC ports.
    pub forwarded: u64,
    /// Frames the action stage dropped.
    pub dropped: u64,
}

/// The lookup core's global hit counters (cumulative).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LookupCounts {
    /// EMC hits.
    pub emc_hits: u64,
    /// Megaflow hits.
    pub mf_hits: u64,
    /// Misses.
    pub misses: u64,
}

/// A NIC with a packet path: tables ([`HwTables`]) plus MAC ports and the
/// host queue pair.
pub trait FramePath: HwTables {
    /// Queues `frame` on MAC RX port `mac` (0-based).
    fn queue_mac_rx(&mut self, mac: usize, frame: &[u8]) -> Result<(), HwError>;
    /// Queues `frame` on the host TX queue.
    fn queue_host_tx(&mut self, meta: &HostTxMeta, frame: &[u8]);
    /// Runs until every queued frame is through; appends MAC TX frames (tag:
    /// MAC port, 0-based) to `tx` and host RX frames to `host_rx`.
    fn run(
        &mut self,
        tx: &mut NicFrames<u16>,
        host_rx: &mut NicFrames<HostRxMeta>,
    ) -> Result<NicRun, HwError>;
    /// The lookup core's hit counters now.
    fn lookup_counts(&mut self) -> Result<LookupCounts, HwError>;
}

/// Counters of the packet path (cumulative).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InlineCounters {
    /// Packets received.
    pub packets: u64,
    /// Bytes received.
    pub bytes: u64,
    /// Frames the NIC sent out of its MAC ports itself (the host never saw them).
    pub hw_forwarded: u64,
    /// Frames the NIC dropped itself.
    pub hw_dropped: u64,
    /// Copies the NIC sent itself (a frame to two ports counts two).
    pub hw_tx_copies: u64,
    /// Frames queued on the NIC that neither left, nor were dropped by an
    /// action, nor reached the host (a failed or lossy run).
    pub hw_lost: u64,
    /// Marked frames whose actions the host ran.
    pub hw_marked: u64,
    /// ...of which left on at least one port.
    pub marked_forwarded: u64,
    /// ...of which output nothing.
    pub marked_dropped: u64,
    /// Copies the marked frames' actions sent.
    pub marked_tx: u64,
    /// Marked frames whose flow id software no longer had (classified in software).
    pub marked_stale: u64,
    /// Host RX frames, by [`HostRxReason`] code.
    pub host_rx: [u64; 3],
    /// Exception frames, by [`abi::parser::Exception`] code (0: none given).
    pub exceptions: [u64; 4],
    /// Frames the host sent out of a MAC port through the host TX queue.
    pub host_tx: u64,
}

impl InlineCounters {
    /// Counts since `earlier`.
    pub fn since(&self, e: &InlineCounters) -> InlineCounters {
        let d = |a: u64, b: u64| a.saturating_sub(b);
        InlineCounters {
            packets: d(self.packets, e.packets),
            bytes: d(self.bytes, e.bytes),
            hw_forwarded: d(self.hw_forwarded, e.hw_forwarded),
            hw_dropped: d(self.hw_dropped, e.hw_dropped),
            hw_tx_copies: d(self.hw_tx_copies, e.hw_tx_copies),
            hw_lost: d(self.hw_lost, e.hw_lost),
            hw_marked: d(self.hw_marked, e.hw_marked),
            marked_forwarded: d(self.marked_forwarded, e.marked_forwarded),
            marked_dropped: d(self.marked_dropped, e.marked_dropped),
            marked_tx: d(self.marked_tx, e.marked_tx),
            marked_stale: d(self.marked_stale, e.marked_stale),
            host_rx: [
                d(self.host_rx[0], e.host_rx[0]),
                d(self.host_rx[1], e.host_rx[1]),
                d(self.host_rx[2], e.host_rx[2]),
            ],
            exceptions: std::array::from_fn(|i| d(self.exceptions[i], e.exceptions[i])),
            host_tx: d(self.host_tx, e.host_tx),
        }
    }

    /// Host RX frames for `reason`.
    pub fn host_rx(&self, reason: HostRxReason) -> u64 {
        self.host_rx[reason as usize]
    }

    /// Exception frames the parser gave `why`.
    pub fn exceptions(&self, why: abi::parser::Exception) -> u64 {
        self.exceptions[why as usize]
    }
}

/// The sink of host-executed actions: MAC ports through the NIC's host TX
/// queue, every other port straight to `sink`.
struct HostOut<'a, H: FramePath> {
    nic: &'a mut H,
    sink: &'a mut dyn PacketSink,
    mac_ports: u16,
    host_tx: u64,
}

impl<H: FramePath> PacketSink for HostOut<'_, H> {
    fn output(&mut self, port: u32, frame: &[u8]) {
        if mac_index(port, self.mac_ports).is_some() {
            let meta = HostTxMeta {
                kind: HostTxKind::Output,
                port: port as u16,
                frame_len: frame.len().min(u16::MAX as usize) as u16,
            };
            self.nic.queue_host_tx(&meta, frame);
            self.host_tx += 1;
        } else {
            self.sink.output(port, frame);
        }
    }

    fn controller(&mut self, c: &crate::odp::ControllerAction, in_port: u32, frame: &[u8]) {
        self.sink.controller(c, in_port, frame);
    }
}

/// The MAC port (0-based) of datapath port `port`, if the NIC has it.
fn mac_index(port: u32, mac_ports: u16) -> Option<usize> {
    port.checked_sub(MAC_PORT_BASE as u32)
        .filter(|&i| i < mac_ports as u32)
        .map(|i| i as usize)
}

/// Software datapath + offload manager + a NIC with a packet path.
pub struct InlineDp<H: FramePath> {
    /// The software datapath (holds every megaflow).
    pub pmd: Pmd,
    /// The offload manager (and through it the NIC).
    pub mgr: OffloadManager<H>,
    /// Packet-path counters.
    pub counters: InlineCounters,
    actions: HwActionSet,
    /// Frames queued on MAC RX ports not yet accounted.
    in_nic: u64,
    /// Host TX frames queued since the last run.
    host_tx_pending: u64,
    exec_stats: ExecStats,
    scratch: Vec<u8>,
    tx: NicFrames<u16>,
    hrx: NicFrames<HostRxMeta>,
    /// Host RX frames for the software path: (in port, index into `hrx`),
    /// reused across runs.
    sw: Vec<(u32, usize)>,
    since_rank: u64,
}

impl<H: FramePath> InlineDp<H> {
    /// The datapath over `pmd` (normally empty) and `nic` (empty tables).
    pub fn new(pmd: Pmd, nic: H, cfg: OffloadConfig) -> Self {
        let actions = nic.action_set();
        let mut mgr = OffloadManager::new(nic, cfg);
        // Fully offloaded frames never reach the host: their hits are known
        // only from the entries' counters.
        mgr.set_hits_from_counters(true);
        InlineDp {
            pmd,
            mgr,
            counters: InlineCounters::default(),
            actions,
            in_nic: 0,
            host_tx_pending: 0,
            exec_stats: ExecStats::default(),
            scratch: Vec::with_capacity(2048),
            tx: NicFrames::default(),
            hrx: NicFrames::default(),
            sw: Vec::with_capacity(BURST),
            since_rank: 0,
        }
    }

    /// Processes a burst of at most [`BURST`] frames received on `in_port`.
    /// A NIC failure is returned after the burst was accounted (its
    /// unaccounted frames as `hw_lost`).
    pub fn process_burst(
        &mut self,
        of: &OfProto,
        frames: &[&[u8]],
        in_port: u32,
        sink: &mut dyn PacketSink,
    ) -> Result<(), HwError> {
        let frames = &frames[..frames.len().min(BURST)];
        self.counters.packets += frames.len() as u64;
        self.counters.bytes += frames.iter().map(|f| f.len() as u64).sum::<u64>();
        let r = match mac_index(in_port, self.actions.mac_ports) {
            None => {
                self.software_burst(of, frames, in_port, sink);
                self.flush_host_tx(sink)
            }
            Some(mac) => self.nic_burst(of, frames, mac, sink),
        };
        self.since_rank += frames.len() as u64;
        if self.since_rank >= self.mgr.config().rank_interval_packets {
            self.since_rank = 0;
            // Ranking must see the interval's hardware hits.
            self.sync_stats();
            let now = self.pmd.now_ns();
            self.mgr.rerank(&mut self.pmd, now);
            self.pmd.housekeeping();
        }
        r
    }

    fn nic_burst(
        &mut self,
        of: &OfProto,
        frames: &[&[u8]],
        mac: usize,
        sink: &mut dyn PacketSink,
    ) -> Result<(), HwError> {
        self.nic_rx(frames, mac)?;
        let r = self.nic_collect(sink);
        // Host RX frames collected before a failure are still handled.
        self.host_rx(of, sink);
        r?;
        self.flush_host_tx(sink)
    }

    /// Contract: queues every frame on MAC RX port `mac`, in order, and
    /// counts it as in the NIC until [`InlineDp::nic_collect`] accounts it.
    fn nic_rx(&mut self, frames: &[&[u8]], mac: usize) -> Result<(), HwError> {
        for (i, f) in frames.iter().enumerate() {
            if let Err(e) = self.mgr.hw().queue_mac_rx(mac, f) {
                // Not queued: nor is the rest.
                self.counters.hw_lost += (frames.len() - i) as u64;
                return Err(e);
            }
            self.in_nic += 1;
        }
        Ok(())
    }

    /// Contract: runs the NIC until idle; its MAC TX frames go to `sink` (as
    /// datapath ports) in the order they left; host RX frames wait in
    /// `self.hrx` for [`InlineDp::host_rx`]. Every frame queued on a MAC RX
    /// port is then accounted: forwarded or dropped by the NIC, at the host,
    /// or lost.
    fn nic_collect(&mut self, sink: &mut dyn PacketSink) -> Result<(), HwError> {
        self.tx.clear();
        let host_tx = std::mem::take(&mut self.host_tx_pending);
        let r = self.mgr.hw().run(&mut self.tx, &mut self.hrx);
        for (mac, f) in self.tx.iter() {
            sink.output(MAC_PORT_BASE as u32 + mac as u32, f);
        }
        let c = &mut self.counters;
        let run = r.as_ref().copied().unwrap_or_default();
        c.hw_forwarded += run.forwarded;
        c.hw_dropped += run.dropped;
        c.hw_tx_copies += (self.tx.len() as u64).saturating_sub(host_tx);
        let accounted = run.forwarded + run.dropped + self.hrx.len() as u64;
        c.hw_lost += self.in_nic.saturating_sub(accounted);
        self.in_nic = 0;
        r.map(|_| ())
    }

    /// Contract: sends the host TX frames queued so far out of the NIC
    /// (their packets were counted when their actions ran), so the next
    /// burst's frames follow them.
    fn flush_host_tx(&mut self, sink: &mut dyn PacketSink) -> Result<(), HwError> {
        if self.host_tx_pending == 0 {
            return Ok(());
        }
        let r = self.nic_collect(sink);
        // An Output frame never comes back to the host; if it did, handle
        // it rather than lose it.
        debug_assert!(self.hrx.is_empty());
        self.hrx.clear();
        r
    }

    /// Contract: handles every host RX frame of the last run once: marked
    /// ones by their flow's actions ([`InlineDp::host_marked`]), the rest
    /// (misses, exceptions, stale marks) by the software path in bursts of
    /// consecutive frames from one port ([`InlineDp::software_burst`]).
    fn host_rx(&mut self, of: &OfProto, sink: &mut dyn PacketSink) {
        if self.hrx.is_empty() {
            return;
        }
        // Both buffers are taken for the loop (it borrows self) and put back.
        let hrx = std::mem::take(&mut self.hrx);
        let mut sw = std::mem::take(&mut self.sw);
        sw.clear();
        for (i, (meta, f)) in hrx.iter().enumerate() {
            self.counters.host_rx[meta.reason as usize] += 1;
            if meta.reason == HostRxReason::Exception {
                self.counters.exceptions[meta.exception.map_or(0, |x| x as usize)] += 1;
            }
            if meta.reason == HostRxReason::Marked && self.host_marked(&meta, f, sink) {
                continue;
            }
            sw.push((meta.in_port as u32, i));
        }
        let mut i = 0;
        while i < sw.len() {
            let port = sw[i].0;
            let mut j = i;
            let mut burst: [&[u8]; BURST] = [&[]; BURST];
            while j < sw.len() && j - i < BURST && sw[j].0 == port {
                burst[j - i] = hrx.get(sw[j].1).1;
                j += 1;
            }
            self.software_burst(of, &burst[..j - i], port, sink);
            i = j;
        }
        self.sw = sw;
        self.hrx = hrx;
        self.hrx.clear();
    }

    /// Contract: runs the actions of the flow a marked frame names, without
    /// classifying it (the key is extracted only for actions that edit the
    /// frame, which need its header offsets and fragment state). Returns
    /// false, counting it stale, when software no longer has the flow.
    fn host_marked(&mut self, meta: &HostRxMeta, frame: &[u8], sink: &mut dyn PacketSink) -> bool {
        let id = meta.mark as FlowId;
        let in_port = meta.in_port as u32;
        let Some(f) = self.pmd.flow(id) else {
            self.counters.marked_stale += 1;
            return false;
        };
        let mut key = FlowKey::ZERO;
        if !f.actions.iter().all(|a| matches!(a, OdpAction::Output(_))) {
            let mut keys = [FlowKey::ZERO; BURST];
            let mut hashes = [0u32; BURST];
            self.pmd
                .extract_burst(&[frame], in_port, &mut keys, &mut hashes);
            key = keys[0];
        }
        let Some(f) = self.pmd.flow(id) else {
            return false;
        };
        let mut out = HostOut {
            nic: self.mgr.hw(),
            sink,
            mac_ports: self.actions.mac_ports,
            host_tx: 0,
        };
        let tx = run_actions(
            &f.actions,
            frame,
            &key,
            in_port,
            &mut self.scratch,
            &mut self.exec_stats,
            &mut out,
        );
        let host_tx = out.host_tx;
        let tcp = if key.get(Field::NwProto) == 6 {
            key.get(Field::TcpFlags) as u16
        } else {
            0
        };
        let c = &mut self.counters;
        c.host_tx += host_tx;
        self.host_tx_pending += host_tx;
        c.hw_marked += 1;
        c.marked_tx += tx;
        if tx > 0 {
            c.marked_forwarded += 1;
        } else {
            c.marked_dropped += 1;
        }
        // The entry's counters count the packet and its bytes (credited at
        // sync); the host adds the TCP flags it saw.
        self.mgr.on_hardware_packet(id, frame.len(), tcp, false);
        true
    }

    /// Contract: one software burst (≤ [`BURST`] frames from `in_port`):
    /// extract → EMC → classifier → upcall → actions, as
    /// [`Pmd::process_keys`]; each flow a packet landed in is offered to the
    /// offload manager (an upcall's flow is installed in hardware).
    fn software_burst(
        &mut self,
        of: &OfProto,
        frames: &[&[u8]],
        in_port: u32,
        sink: &mut dyn PacketSink,
    ) {
        let mut keys = [FlowKey::ZERO; BURST];
        let mut hashes = [0u32; BURST];
        let n = self
            .pmd
            .extract_burst(frames, in_port, &mut keys, &mut hashes);
        let mut out = HostOut {
            nic: self.mgr.hw(),
            sink,
            mac_ports: self.actions.mac_ports,
            host_tx: 0,
        };
        let o = self.pmd.process_keys(
            of,
            &frames[..n],
            &keys[..n],
            &hashes[..n],
            in_port,
            &mut out,
        );
        let host_tx = out.host_tx;
        self.counters.host_tx += host_tx;
        self.host_tx_pending += host_tx;
        offer_to_hardware(&mut self.pmd, &mut self.mgr, &keys[..n], &o);
    }

    /// Reads every hardware counter into the flow table now.
    pub fn sync_stats(&mut self) {
        sync_tiers(&mut self.pmd, &mut self.mgr);
    }

    /// One revalidation pass, as [`super::HybridDp::revalidate`]
    /// (`revalidate_tiers`).
    pub fn revalidate(&mut self, of: &OfProto, rules_changed: bool) -> (usize, usize) {
        revalidate_tiers(&mut self.pmd, &mut self.mgr, of, rules_changed)
    }

    /// Removes port `port`: only its flows' hardware entries are
    /// invalidated, then its software flows are deleted.
    pub fn remove_port(&mut self, port: u32) -> usize {
        remove_port_tiers(&mut self.pmd, &mut self.mgr, port)
    }

    /// Megaflow `id` in `dpctl/dump-flows` format with `offloaded:yes|no`
    /// and `dp:hw|sw`.
    pub fn format_flow(&self, id: FlowId) -> Option<String> {
        format_tiered_flow(&self.pmd, &self.mgr, id)
    }

    /// Every megaflow as [`InlineDp::format_flow`] prints it.
    pub fn dump_flows(&self) -> Vec<String> {
        self.pmd
            .flows()
            .filter_map(|(id, _)| self.format_flow(id))
            .collect()
    }
}
