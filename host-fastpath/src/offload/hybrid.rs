//! The hybrid datapath: hardware tables first, the software datapath for
//! every miss, one flow table.
//!
//! Per burst: extract each frame's key, look the burst up in hardware (in
//! simulation the host feeds keys with tags; the tag is the frame's index in
//! the burst, so the host holds the frame). A hardware hit names a flow id:
//! the host applies that megaflow's actions (the NIC is the lookup engine)
//! and counts the packet as handled in hardware. Misses are drained from the
//! hardware miss queue; each tag finds its held frame, which goes through the
//! software EMC → classifier → upcall; the flow it lands in is offered to the
//! [`OffloadManager`]. Packets execute in arrival order, so outputs are those
//! of a software-only run.

use super::hw::{HwError, HwLookup, HwTables};
use super::manager::{OffloadConfig, OffloadManager};
use super::OffloadCounters;
use crate::dpif::{format_dump_flow, run_actions, BurstOutcome, PacketSink, Pmd};
use crate::odp::ExecStats;
use crate::ofproto::OfProto;
use crate::{FlowId, BURST};
use abi::regs::HitKind;
use abi::{Field, FlowKey};
use driver::Miss;

/// Where one packet was handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Handled {
    /// Flow id, EMC hit, mask slot.
    Hw(FlowId, bool, u8),
    Sw,
}

/// Software datapath + offload manager + hardware, as one datapath.
pub struct HybridDp<H: HwLookup> {
    /// The software datapath (holds every megaflow).
    pub pmd: Pmd,
    /// The offload manager (and through it the hardware).
    pub mgr: OffloadManager<H>,
    exec_stats: ExecStats,
    scratch: Vec<u8>,
    results: Vec<(u32, abi::regs::LookupResult)>,
    since_rank: u64,
}

impl<H: HwLookup> HybridDp<H> {
    /// A hybrid datapath over `pmd` (normally empty) and `hw` (empty tables).
    pub fn new(pmd: Pmd, hw: H, cfg: OffloadConfig) -> Self {
        HybridDp {
            pmd,
            mgr: OffloadManager::new(hw, cfg),
            exec_stats: ExecStats::default(),
            scratch: Vec::with_capacity(2048),
            results: Vec::with_capacity(BURST),
            since_rank: 0,
        }
    }

    /// Counters (software-path ones taken from the PMD).
    pub fn counters(&self) -> OffloadCounters {
        let mut c = self.mgr.counters;
        let s = &self.pmd.stats;
        c.sw_emc_hits = s.emc_hits;
        c.sw_megaflow_hits = s.megaflow_hits;
        c.upcalls = s.upcalls;
        c.lost = s.lost;
        c.tx_packets += s.tx_packets;
        c.forwarded += s.forwarded;
        c.dropped += s.dropped;
        c
    }

    /// Processes a burst of at most [`BURST`] frames received on `in_port`.
    /// A hardware failure sends the whole burst through software (counted as
    /// pipeline aborts) and is returned after the burst was handled.
    pub fn process_burst(
        &mut self,
        of: &OfProto,
        frames: &[&[u8]],
        in_port: u32,
        sink: &mut dyn PacketSink,
    ) -> Result<(), HwError> {
        let mut keys = [FlowKey::ZERO; BURST];
        let mut hashes = [0u32; BURST];
        let n = self
            .pmd
            .extract_burst(frames, in_port, &mut keys, &mut hashes);
        let frames = &frames[..n];
        const TAGS: [u32; BURST] = {
            let mut t = [0u32; BURST];
            let mut i = 0;
            while i < BURST {
                t[i] = i as u32;
                i += 1;
            }
            t
        };
        let mut how = [Handled::Sw; BURST];
        self.results.clear();
        let hw = self
            .mgr
            .hw()
            .lookup_burst(&keys[..n], &TAGS[..n], &mut self.results);
        let c = &mut self.mgr.counters;
        c.packets += n as u64;
        let mut error = None;
        match hw {
            Ok(()) => {
                let mut misses = 0usize;
                let mut seen = 0u32;
                for &(tag, r) in &self.results {
                    let i = tag as usize;
                    if i >= n || seen & (1 << i) != 0 {
                        c.pipeline_aborts += 1;
                        continue;
                    }
                    seen |= 1 << i;
                    match r.kind {
                        HitKind::Miss => {
                            c.hw_misses += 1;
                            misses += 1;
                        }
                        HitKind::Emc | HitKind::Megaflow => {
                            how[i] = Handled::Hw(r.flow_id, r.kind == HitKind::Emc, r.slot);
                        }
                    }
                }
                // Results the pipeline never returned: software handles them.
                c.pipeline_aborts += (n as u32 - seen.count_ones()) as u64;
                // Drain the miss queue in bursts: each miss's tag names a held
                // frame; a key that does not match it means the pipeline lost
                // track, so it counts as an abort (software still handles it).
                let mut buf = [Miss::default(); BURST];
                let mut drained = 0usize;
                while drained < misses {
                    match self.mgr.hw().drain_misses(&mut buf[..misses - drained]) {
                        Ok(0) => break,
                        Ok(k) => {
                            for m in &buf[..k] {
                                let ok = (m.tag as usize) < n && m.key == keys[m.tag as usize];
                                if !ok {
                                    self.mgr.counters.pipeline_aborts += 1;
                                }
                            }
                            drained += k;
                        }
                        Err(e) => {
                            error = Some(e);
                            break;
                        }
                    }
                }
                self.mgr.counters.miss_queue_drops += (misses - drained) as u64;
            }
            Err(e) => {
                c.pipeline_aborts += n as u64;
                error = Some(e);
            }
        }
        // Account hardware-handled packets first: a software packet earlier
        // in the burst may replace a hardware entry (crediting its counter,
        // which already includes this burst's hits), so the bytes of those
        // hits must already be pending on their flow.
        for i in 0..n {
            if let Handled::Hw(id, emc, slot) = how[i] {
                if self.pmd.flow(id).is_none() {
                    // A hit on a flow software no longer has: fall back.
                    self.mgr.counters.pipeline_aborts += 1;
                    how[i] = Handled::Sw;
                    continue;
                }
                let tcp = if keys[i].get(Field::NwProto) == 6 {
                    keys[i].get(Field::TcpFlags) as u16
                } else {
                    0
                };
                let widened = !emc && self.mgr.slot_mask(slot) != self.mgr.flow_mask(id);
                let c = &mut self.mgr.counters;
                if emc {
                    c.hw_emc_hits += 1;
                } else {
                    c.hw_megaflow_hits += 1;
                }
                c.bytes += frames[i].len() as u64;
                self.mgr
                    .on_hardware_packet(id, frames[i].len(), tcp, widened);
            }
        }
        // Execute in arrival order.
        for i in 0..n {
            if let Handled::Hw(id, _, _) = how[i] {
                if let Some(f) = self.pmd.flow(id) {
                    let tx = run_actions(
                        &f.actions,
                        frames[i],
                        &keys[i],
                        in_port,
                        &mut self.scratch,
                        &mut self.exec_stats,
                        sink,
                    );
                    let c = &mut self.mgr.counters;
                    c.tx_packets += tx;
                    c.forwarded += (tx > 0) as u64;
                    c.dropped += (tx == 0) as u64;
                    continue;
                }
            }
            self.software_packet(of, frames[i], &keys[i], hashes[i], in_port, sink);
        }
        self.since_rank += n as u64;
        if self.since_rank >= self.mgr.config().rank_interval_packets {
            self.since_rank = 0;
            let now = self.pmd.now_ns();
            self.mgr.rerank(&mut self.pmd, now);
            self.pmd.housekeeping();
        }
        match error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn software_packet(
        &mut self,
        of: &OfProto,
        frame: &[u8],
        key: &FlowKey,
        hash: u32,
        in_port: u32,
        sink: &mut dyn PacketSink,
    ) {
        self.mgr.counters.bytes += frame.len() as u64;
        // The key and hash come from this burst's extract: no second parse,
        // and the outcome names the flow, so no second classifier lookup.
        let out = self
            .pmd
            .process_keys(of, &[frame], &[*key], &[hash], in_port, sink);
        offer_to_hardware(&mut self.pmd, &mut self.mgr, &[*key], &out);
    }

    /// Reads every hardware counter into the flow table now.
    pub fn sync_stats(&mut self) {
        sync_tiers(&mut self.pmd, &mut self.mgr);
    }

    /// One revalidation pass: hardware counters first, then the hardware
    /// entries of every flow to delete or modify are invalidated before
    /// software applies the pass.
    pub fn revalidate(&mut self, of: &OfProto, rules_changed: bool) -> (usize, usize) {
        revalidate_tiers(&mut self.pmd, &mut self.mgr, of, rules_changed)
    }

    /// Removes port `port`: only its flows' hardware entries are
    /// invalidated, then its software flows are deleted. Returns how many.
    pub fn remove_port(&mut self, port: u32) -> usize {
        remove_port_tiers(&mut self.pmd, &mut self.mgr, port)
    }

    /// Deletes every flow (hardware first).
    pub fn flush(&mut self) {
        let ids: Vec<FlowId> = self.pmd.flows().map(|(id, _)| id).collect();
        for &id in &ids {
            self.mgr.invalidate(&mut self.pmd, id);
        }
        self.pmd.delete_flows(&ids);
    }

    /// Megaflows in `dpctl/dump-flows` format with `offloaded:yes|no` and
    /// `dp:hw|sw` (statistics are hardware + software as of the last sync).
    pub fn dump_flows(&self) -> Vec<String> {
        self.pmd
            .flows()
            .filter_map(|(id, _)| self.format_flow(id))
            .collect()
    }

    /// Megaflow `id` as [`HybridDp::dump_flows`] prints it.
    pub fn format_flow(&self, id: FlowId) -> Option<String> {
        format_tiered_flow(&self.pmd, &self.mgr, id)
    }
}

// What the look-aside ([`HybridDp`]) and packet-path
// ([`super::InlineDp`]) datapaths do the same way: both hold every megaflow
// in software and its hardware entries through one offload manager.

/// Offers each flow a software burst's packets (`keys`) landed in to the
/// offload manager; an upcall's flow is installed in hardware.
pub(super) fn offer_to_hardware<H: HwTables>(
    pmd: &mut Pmd,
    mgr: &mut OffloadManager<H>,
    keys: &[FlowKey],
    out: &BurstOutcome,
) {
    let now = pmd.now_ns();
    for (i, key) in keys.iter().enumerate() {
        if let Some(id) = out.flows[i] {
            let upcall = out.upcalls >> i & 1 != 0;
            mgr.on_software_packet(pmd, id, key, upcall, now);
        }
    }
}

/// Reads every hardware counter into `pmd`'s flow table now.
pub(super) fn sync_tiers<H: HwTables>(pmd: &mut Pmd, mgr: &mut OffloadManager<H>) {
    let now = pmd.now_ns();
    mgr.sync_stats(pmd, now);
}

/// One revalidation pass: hardware counters first (so `used` includes
/// hardware hits; flows offloaded within the statistics delay are never
/// idle), then hardware entries of every flow to delete or modify are
/// invalidated before software applies the pass (so no frame is ever
/// handled by, or marked with, a deleted flow's entry once it is through).
pub(super) fn revalidate_tiers<H: HwTables>(
    pmd: &mut Pmd,
    mgr: &mut OffloadManager<H>,
    of: &OfProto,
    rules_changed: bool,
) -> (usize, usize) {
    sync_tiers(pmd, mgr);
    let now = pmd.now_ns();
    let plan = {
        let m = &*mgr;
        pmd.plan_revalidation(of, rules_changed, |id| m.recently_offloaded(id, now))
    };
    for &id in &plan.dead {
        mgr.invalidate(pmd, id);
    }
    for (id, _) in &plan.modified {
        mgr.invalidate(pmd, *id);
    }
    pmd.apply_revalidation(plan)
}

/// Removes port `port`: only its flows' hardware entries are invalidated,
/// then its software flows are deleted. Returns the flows deleted.
pub(super) fn remove_port_tiers<H: HwTables>(
    pmd: &mut Pmd,
    mgr: &mut OffloadManager<H>,
    port: u32,
) -> usize {
    let ids: Vec<FlowId> = pmd
        .flows()
        .filter(|(_, f)| f.ukey.get(Field::InPort) == port as u64)
        .map(|(id, _)| id)
        .collect();
    for &id in &ids {
        mgr.invalidate(pmd, id);
    }
    pmd.delete_flows(&ids)
}

/// Megaflow `id` in `dpctl/dump-flows` format with `offloaded:yes|no` and
/// `dp:hw|sw` (statistics are hardware + software as of the last sync).
pub(super) fn format_tiered_flow<H: HwTables>(
    pmd: &Pmd,
    mgr: &OffloadManager<H>,
    id: FlowId,
) -> Option<String> {
    let f = pmd.flow(id)?;
    let s = format_dump_flow(f, pmd.now_ns());
    let tag = if mgr.flow_offload(id).offloaded() {
        "offloaded:yes, dp:hw"
    } else {
        "offloaded:no, dp:sw"
    };
    Some(match s.find(", actions:") {
        Some(p) => format!("{}, {}{}", &s[..p], tag, &s[p..]),
        None => format!("{s}, {tag}"),
    })
}
