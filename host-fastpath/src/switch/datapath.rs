//! The one datapath object the switch loop hands bursts to: the software
//! [`Pmd`], or the [`HybridDp`] (a NIC's tables first, software for misses).
//! Another tier (a board's frame I/O) slots in by implementing
//! [`SwitchDatapath`].

use crate::dpif::{format_dump_flow, PacketSink, Pmd};
use crate::offload::{HwError, HwLookup, HybridDp, InsertLatency, OffloadCounters};
use crate::ofproto::OfProto;
use crate::FlowId;
use abi::Field;

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
}

/// Opens the simulated NIC (the Verilated RTL) as a hybrid datapath over `pmd`.
#[cfg(feature = "sim")]
pub fn simulated(
    pmd: Pmd,
    cfg: crate::offload::OffloadConfig,
) -> Result<Box<dyn SwitchDatapath>, String> {
    let sim = sim::SimNic::new().map_err(|e| format!("--nic sim: creating the model: {e}"))?;
    let nic =
        driver::Nic::open(sim).map_err(|e| format!("--nic sim: opening the pipeline: {e}"))?;
    let g = *nic.geometry();
    let desc = format!(
        "simulated NIC (Verilated RTL, {} mask slots x {} entries, {}-entry EMC)",
        g.mf_slots,
        g.mf_entries_per_slot(),
        g.emc_entries()
    );
    Ok(Box::new(Hybrid {
        dp: HybridDp::new(pmd, nic, cfg),
        nic: desc,
    }))
}
