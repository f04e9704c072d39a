//! The one datapath object `fastpath switch`'s loop and `fastpath run`'s
//! single-thread drive hand bursts to: the software [`Pmd`], the
//! [`InlineDp`] (a NIC with a packet path: frames enter its MAC ports, the
//! host sees misses, exceptions and marked frames), or the [`HybridDp`] (a
//! look-aside NIC's tables first, software for misses). Another tier (a
//! board's frame I/O) slots in by implementing [`SwitchDatapath`].
//!
//! Each reports its counters as the one [`RunStats`] table
//! ([`SwitchDatapath::stats_since`]): the hardware hit is a tier inside the
//! datapath, counted in the same table as the software tiers.

use crate::dpif::{format_dump_flow, PacketSink, Pmd, PmdStats};
use crate::nic_spec::NicSpec;
use crate::offload::inline::LookupCounts;
use crate::offload::{
    FramePath, HwError, HwLookup, HwTables, HybridDp, InlineCounters, InlineDp, InsertLatency,
    OffloadCounters, OffloadManager,
};
use crate::ofproto::OfProto;
use crate::stats::{OffloadRunStats, RunStats, Timing};
use crate::FlowId;
use abi::Field;

/// A datapath's cumulative counters at one moment, for
/// [`SwitchDatapath::stats_since`] (the default: since it was created).
#[derive(Clone, Copy, Debug, Default)]
pub struct StatsMark {
    /// Software datapath.
    pub pmd: PmdStats,
    /// Malformed frames the host parsed.
    pub malformed: u64,
    /// Offload manager.
    pub offload: OffloadCounters,
    /// Packet path.
    pub inline: InlineCounters,
    /// The NIC's lookup hit counters.
    pub lookups: LookupCounts,
}

/// What the switch needs from a datapath.
pub trait SwitchDatapath {
    /// Processes a burst of at most [`crate::BURST`] frames received on `in_port`.
    fn process_burst(
        &mut self,
        of: &OfProto,
        frames: &[&[u8]],
        in_port: u32,
        sink: &mut dyn PacketSink,
    ) -> Result<(), HwError>;
    /// The software datapath (every megaflow lives there).
    fn pmd(&self) -> &Pmd;
    /// The software datapath, mutably.
    fn pmd_mut(&mut self) -> &mut Pmd;
    /// Reads hardware counters into the flow table.
    fn sync_stats(&mut self) {}
    /// One revalidation pass; (deleted, modified).
    fn revalidate(&mut self, of: &OfProto, rules_changed: bool) -> (usize, usize);
    /// Deletes the megaflows of packets received on `port` (in hardware
    /// first); returns how many.
    fn remove_port(&mut self, port: u32) -> usize;
    /// Whether flow `id` has a hardware entry.
    fn offloaded(&self, _id: FlowId) -> bool {
        false
    }
    /// Offload counters and insert latency (None: software only).
    fn offload(&self) -> Option<(OffloadCounters, InsertLatency)> {
        None
    }
    /// Per-burst housekeeping (subtable ranking).
    fn housekeeping(&mut self) {
        self.pmd_mut().housekeeping();
    }
    /// One line naming the datapath.
    fn describe(&self) -> String;
    /// A megaflow in `dpctl/dump-flows` format.
    fn format_flow(&self, id: FlowId) -> Option<String> {
        let p = self.pmd();
        p.flow(id).map(|f| format_dump_flow(f, p.now_ns()))
    }
    /// The `--nic` this datapath is.
    fn nic(&self) -> NicSpec;
    /// The counters now, to take [`SwitchDatapath::stats_since`] from.
    fn mark(&mut self) -> Result<StatsMark, HwError> {
        let p = self.pmd();
        Ok(StatsMark {
            pmd: p.stats,
            malformed: p.extract_stats.malformed(),
            ..StatsMark::default()
        })
    }
    /// The counters since `m` as the one stats table, over timing `t`
    /// (counters as of the last [`SwitchDatapath::sync_stats`]). Rules,
    /// their expiry and per-port output are the caller's to fill.
    fn stats_since(&mut self, m: &StatsMark, t: &Timing) -> Result<RunStats, HwError> {
        let p = self.pmd();
        let s = p.stats.since(&m.pmd);
        let malformed = p.extract_stats.malformed() - m.malformed;
        let mut r = RunStats::from_pmd(&self.nic().to_string(), 1, &s, malformed, t);
        fill_tables(&mut r, p);
        Ok(r)
    }
    /// The offload manager's last error, if any.
    fn last_offload_error(&self) -> Option<String> {
        None
    }
    /// With a packet path, the NIC's MAC ports: datapath (OpenFlow) port
    /// `MAC_PORT_BASE + i` is MAC port `i`; frames from other ports take
    /// the host path. `None`: no packet path.
    fn mac_ports(&self) -> Option<u16> {
        None
    }
}

/// The end-of-run table sizes of `p`.
fn fill_tables(r: &mut RunStats, p: &Pmd) {
    r.megaflows = p.n_flows();
    r.masks = p.dpcls.mask_count();
    r.flow_limit = p.flow_limit();
}

/// The offload part of the table (hit counts are the caller's).
fn offload_tables<H: HwTables>(pmd: &Pmd, mgr: &OffloadManager<H>) -> OffloadRunStats {
    let (mf_entries, emc_entries) = mgr.entries();
    OffloadRunStats {
        widen: mgr.config().widen.to_string(),
        offloaded_megaflows: pmd
            .flows()
            .filter(|(id, _)| mgr.flow_offload(*id).offloaded())
            .count(),
        hw_megaflow_entries: mf_entries,
        hw_emc_entries: emc_entries,
        hw_slots_used: mgr.slot_masks().iter().flatten().count(),
        ..OffloadRunStats::default()
    }
}

impl SwitchDatapath for Pmd {
    fn process_burst(
        &mut self,
        of: &OfProto,
        frames: &[&[u8]],
        in_port: u32,
        sink: &mut dyn PacketSink,
    ) -> Result<(), HwError> {
        Pmd::process_burst(self, of, frames, in_port, sink);
        Ok(())
    }
    fn pmd(&self) -> &Pmd {
        self
    }
    fn pmd_mut(&mut self) -> &mut Pmd {
        self
    }
    fn revalidate(&mut self, of: &OfProto, rules_changed: bool) -> (usize, usize) {
        Pmd::revalidate(self, of, rules_changed)
    }
    fn remove_port(&mut self, port: u32) -> usize {
        let ids: Vec<FlowId> = self
            .flows()
            .filter(|(_, f)| f.ukey.get(Field::InPort) == port as u64)
            .map(|(id, _)| id)
            .collect();
        self.delete_flows(&ids)
    }
    fn describe(&self) -> String {
        "software (extract, EMC, megaflow classifier, upcall)".into()
    }
    fn nic(&self) -> NicSpec {
        NicSpec::None
    }
}

/// A [`HybridDp`] with a one-line description of its NIC.
pub struct Hybrid<H: HwLookup> {
    /// The datapath.
    pub dp: HybridDp<H>,
    /// What the NIC is.
    pub nic: String,
}

impl<H: HwLookup> SwitchDatapath for Hybrid<H> {
    fn process_burst(
        &mut self,
        of: &OfProto,
        frames: &[&[u8]],
        in_port: u32,
        sink: &mut dyn PacketSink,
    ) -> Result<(), HwError> {
        self.dp.process_burst(of, frames, in_port, sink)
    }
    fn pmd(&self) -> &Pmd {
        &self.dp.pmd
    }
    fn pmd_mut(&mut self) -> &mut Pmd {
        &mut self.dp.pmd
    }
    fn sync_stats(&mut self) {
        self.dp.sync_stats();
    }
    fn revalidate(&mut self, of: &OfProto, rules_changed: bool) -> (usize, usize) {
        self.dp.revalidate(of, rules_changed)
    }
    fn remove_port(&mut self, port: u32) -> usize {
        self.dp.remove_port(port)
    }
    fn offloaded(&self, id: FlowId) -> bool {
        self.dp.mgr.flow_offload(id).offloaded()
    }
    fn offload(&self) -> Option<(OffloadCounters, InsertLatency)> {
        Some((self.dp.counters(), self.dp.mgr.insert_latency))
    }
    fn housekeeping(&mut self) {
        // HybridDp ranks hardware slots and software subtables itself.
    }
    fn describe(&self) -> String {
        format!("hybrid: {} first, software for misses", self.nic)
    }
    fn format_flow(&self, id: FlowId) -> Option<String> {
        self.dp.format_flow(id)
    }
    fn nic(&self) -> NicSpec {
        NicSpec::SimLookup
    }
    fn mark(&mut self) -> Result<StatsMark, HwError> {
        Ok(StatsMark {
            pmd: self.dp.pmd.stats,
            malformed: self.dp.pmd.extract_stats.malformed(),
            offload: self.dp.counters(),
            ..StatsMark::default()
        })
    }
    fn stats_since(&mut self, m: &StatsMark, t: &Timing) -> Result<RunStats, HwError> {
        let p = &self.dp.pmd;
        let sw = p.stats.since(&m.pmd);
        let malformed = p.extract_stats.malformed() - m.malformed;
        let c = self.dp.counters().since(&m.offload);
        let nic = self.nic().to_string();
        let off = offload_tables(p, &self.dp.mgr);
        let mut r = RunStats::from_hybrid(&nic, &sw, &c, malformed, t, off);
        fill_tables(&mut r, p);
        Ok(r)
    }
    fn last_offload_error(&self) -> Option<String> {
        self.dp.mgr.last_error.clone()
    }
}

/// An [`InlineDp`] with a one-line description of its NIC.
pub struct Inline<H: FramePath> {
    /// The datapath.
    pub dp: InlineDp<H>,
    /// What the NIC is.
    pub nic: String,
    /// Its MAC ports.
    pub mac_ports: u16,
}

impl<H: FramePath> Inline<H> {
    /// The offload counters with the hardware hits read from the NIC's
    /// lookup counters (the host never sees fully offloaded frames) and the
    /// software ones from the PMD.
    fn offload_counters(&mut self) -> Result<(OffloadCounters, LookupCounts), HwError> {
        let hw = self.dp.mgr.hw().lookup_counts()?;
        let mut oc = self.dp.mgr.counters;
        let s = &self.dp.pmd.stats;
        oc.hw_emc_hits = hw.emc_hits;
        oc.hw_megaflow_hits = hw.mf_hits;
        oc.hw_misses = hw.misses;
        oc.sw_emc_hits = s.emc_hits;
        oc.sw_megaflow_hits = s.megaflow_hits;
        oc.upcalls = s.upcalls;
        Ok((oc, hw))
    }
}

impl<H: FramePath> SwitchDatapath for Inline<H> {
    fn process_burst(
        &mut self,
        of: &OfProto,
        frames: &[&[u8]],
        in_port: u32,
        sink: &mut dyn PacketSink,
    ) -> Result<(), HwError> {
        self.dp.process_burst(of, frames, in_port, sink)
    }
    fn pmd(&self) -> &Pmd {
        &self.dp.pmd
    }
    fn pmd_mut(&mut self) -> &mut Pmd {
        &mut self.dp.pmd
    }
    fn sync_stats(&mut self) {
        self.dp.sync_stats();
    }
    fn revalidate(&mut self, of: &OfProto, rules_changed: bool) -> (usize, usize) {
        self.dp.revalidate(of, rules_changed)
    }
    fn remove_port(&mut self, port: u32) -> usize {
        self.dp.remove_port(port)
    }
    fn offloaded(&self, id: FlowId) -> bool {
        self.dp.mgr.flow_offload(id).offloaded()
    }
    fn offload(&self) -> Option<(OffloadCounters, InsertLatency)> {
        let mut c = self.dp.mgr.counters;
        let s = &self.dp.pmd.stats;
        c.sw_emc_hits = s.emc_hits;
        c.sw_megaflow_hits = s.megaflow_hits;
        c.upcalls = s.upcalls;
        Some((c, self.dp.mgr.insert_latency))
    }
    fn housekeeping(&mut self) {
        // InlineDp ranks hardware slots and software subtables itself.
    }
    fn describe(&self) -> String {
        format!(
            "packet path: {} first (the host sees misses, exceptions and marked frames), software for the rest",
            self.nic
        )
    }
    fn format_flow(&self, id: FlowId) -> Option<String> {
        self.dp.format_flow(id)
    }
    fn nic(&self) -> NicSpec {
        NicSpec::Sim
    }
    fn mark(&mut self) -> Result<StatsMark, HwError> {
        let (offload, lookups) = self.offload_counters()?;
        Ok(StatsMark {
            pmd: self.dp.pmd.stats,
            malformed: self.dp.pmd.extract_stats.malformed(),
            offload,
            inline: self.dp.counters,
            lookups,
        })
    }
    fn stats_since(&mut self, m: &StatsMark, t: &Timing) -> Result<RunStats, HwError> {
        let (oc, _) = self.offload_counters()?;
        let oc = oc.since(&m.offload);
        let p = &self.dp.pmd;
        let sw = p.stats.since(&m.pmd);
        let malformed = p.extract_stats.malformed() - m.malformed;
        let c = self.dp.counters.since(&m.inline);
        let nic = self.nic().to_string();
        let off = offload_tables(p, &self.dp.mgr);
        let mut r = RunStats::from_inline(&nic, &sw, &c, &oc, malformed, t, off);
        fill_tables(&mut r, p);
        Ok(r)
    }
    fn last_offload_error(&self) -> Option<String> {
        self.dp.mgr.last_error.clone()
    }
    fn mac_ports(&self) -> Option<u16> {
        Some(self.mac_ports)
    }
}

/// Opens the simulated look-aside NIC (Verilated `fastpath_top`) as a
/// hybrid datapath over `pmd`; the description names its tables and `widen`.
#[cfg(feature = "sim")]
pub fn simulated_lookup(
    pmd: Pmd,
    cfg: crate::offload::OffloadConfig,
) -> Result<Hybrid<driver::Nic<sim::SimNic>>, crate::runner::RunError> {
    use crate::runner::RunError;
    let sim = sim::SimNic::new().map_err(RunError::SimModel)?;
    let nic = driver::Nic::open(sim).map_err(|source| RunError::NicOpen {
        nic: NicSpec::SimLookup,
        what: "simulated",
        source,
    })?;
    let g = *nic.geometry();
    let desc = format!(
        "simulated look-aside (Verilated RTL, host runs every action): {} mask slots x {} entries, {}-entry EMC, widen {}",
        g.mf_slots,
        g.mf_entries_per_slot(),
        g.emc_entries(),
        cfg.widen
    );
    Ok(Hybrid {
        dp: HybridDp::new(pmd, nic, cfg),
        nic: desc,
    })
}

/// Opens the simulated NIC with a packet path (Verilated `fastpath_nic`)
/// over `pmd`: datapath port `MAC_PORT_BASE + i` is its MAC port `i`.
#[cfg(feature = "sim")]
pub fn simulated_inline(
    pmd: Pmd,
    cfg: crate::offload::OffloadConfig,
) -> Result<Inline<driver::Nic<sim::SimFastpathNic>>, crate::runner::RunError> {
    use crate::runner::RunError;
    let nic =
        driver::Nic::open(sim::SimFastpathNic::new()).map_err(|source| RunError::NicOpen {
            nic: NicSpec::Sim,
            what: "simulated",
            source,
        })?;
    let g = *nic.geometry();
    let ports = nic.capability().mac_ports;
    if ports == 0 {
        return Err(RunError::NoPacketPath { nic: NicSpec::Sim });
    }
    let desc = format!(
        "simulated with a packet path (Verilated fastpath_nic, {ports} MAC ports = datapath ports {}..={}): {} mask slots x {} entries, {}-entry EMC, widen {}",
        abi::action::MAC_PORT_BASE,
        abi::action::MAC_PORT_BASE as u32 + ports as u32 - 1,
        g.mf_slots,
        g.mf_entries_per_slot(),
        g.emc_entries(),
        cfg.widen
    );
    Ok(Inline {
        dp: InlineDp::new(pmd, nic, cfg),
        nic: desc,
        mac_ports: ports as u16,
    })
}
