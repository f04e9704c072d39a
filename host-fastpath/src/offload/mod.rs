//! Hybrid offload: hardware tables first, software fallback, one flow table.
//!
//! - [`hw`]: what the manager needs from a device ([`HwTables`] for every
//!   `driver::Nic`, [`HwLookup`] where lookups come from).
//! - [`policy`]: mask-slot ranking, widening target and trade (pure code).
//! - [`manager`]: [`OffloadManager`] places megaflows (own slot, widened, or
//!   hardware EMC), invalidates before software deletes, merges counters.
//! - [`hybrid`]: [`HybridDp`], the datapath a user runs.
//! - [`model`]: [`ModelNic`], a software model of the tables for any geometry.
//! - `sim` (feature `sim`): [`HwLookup`] for the simulated NIC (the Verilated RTL).
//!
//! Statistics: hardware counts packets per entry, not bytes; the host sees
//! every hardware-handled frame in simulation, so it keeps each flow's bytes
//! itself and credits them with the packet counts it reads from hardware at
//! each sync (revalidation). A flow's packets = software hits + hardware
//! hits over all its entries (own, widened, EMC); `used` = the later of the
//! two. Hardware counters are read only at sync, so flows offloaded within
//! [`manager::DEFAULT_STATS_DELAY_NS`] are never expired as idle.

pub mod hw;
pub mod hybrid;
pub mod manager;
pub mod model;
pub mod policy;
#[cfg(feature = "sim")]
pub mod sim;

pub use hw::{HwError, HwLookup, HwTables};
pub use hybrid::HybridDp;
pub use manager::{FlowOffload, OffloadConfig, OffloadManager};
pub use model::ModelNic;
pub use policy::WidenPolicy;

/// Offload counters, in the style of OVS's offload providers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OffloadCounters {
    /// Packets received.
    pub packets: u64,
    /// Bytes received.
    pub bytes: u64,
    /// Handled fully in hardware: hardware EMC hits.
    pub hw_emc_hits: u64,
    /// Handled fully in hardware: hardware megaflow hits.
    pub hw_megaflow_hits: u64,
    /// Hardware misses (went to software).
    pub hw_misses: u64,
    /// Software EMC hits (of hardware misses).
    pub sw_emc_hits: u64,
    /// Software megaflow hits.
    pub sw_megaflow_hits: u64,
    /// Upcalls.
    pub upcalls: u64,
    /// Pipeline aborts: hardware answers software could not use (a flow id
    /// software no longer has, a missing result, a miss-queue key that does
    /// not match its tag, a failed lookup); software handled the packet.
    pub pipeline_aborts: u64,
    /// Misses the hardware queue dropped (software handled the held frame).
    pub miss_queue_drops: u64,
    /// Offload failures (sum of the three below).
    pub offload_failures: u64,
    /// ...because the slot's table was full.
    pub offload_fail_table_full: u64,
    /// ...because the flow's mask has no slot (counted once per flow).
    pub offload_fail_no_slot: u64,
    /// ...because the device failed.
    pub offload_fail_device: u64,
    /// Megaflow entries installed under their own mask.
    pub mf_installs: u64,
    /// Megaflow entries installed under a wider mask.
    pub widened_installs: u64,
    /// Hardware EMC entries installed.
    pub emc_installs: u64,
    /// Hardware EMC entries replaced by others.
    pub emc_evictions: u64,
    /// Entries removed one by one (flow deleted/modified, EMC replaced).
    pub hw_removals: u64,
    /// Masks given a slot.
    pub mask_assignments: u64,
    /// Masks that lost their slot to a busier one.
    pub mask_evictions: u64,
    /// Entries dropped with their slot (flows back to software).
    pub entries_evicted: u64,
    /// Slot re-rankings.
    pub reranks: u64,
    /// Hardware hits read from per-entry counters and credited to flows.
    pub hw_packets_credited: u64,
    /// Upcalls that could not install (as the PMD counts them).
    pub lost: u64,
    /// Packets sent to ports.
    pub tx_packets: u64,
    /// Packets whose actions output nothing.
    pub dropped: u64,
}

impl OffloadCounters {
    /// Packets handled fully in hardware.
    pub fn hw_handled(&self) -> u64 {
        self.hw_emc_hits + self.hw_megaflow_hits
    }

    /// The counters as `(name, value)` pairs (for JSON and tables).
    pub fn iter(&self) -> [(&'static str, u64); 27] {
        [
            ("packets", self.packets),
            ("bytes", self.bytes),
            ("hw_emc_hits", self.hw_emc_hits),
            ("hw_megaflow_hits", self.hw_megaflow_hits),
            ("hw_misses", self.hw_misses),
            ("sw_emc_hits", self.sw_emc_hits),
            ("sw_megaflow_hits", self.sw_megaflow_hits),
            ("upcalls", self.upcalls),
            ("pipeline_aborts", self.pipeline_aborts),
            ("miss_queue_drops", self.miss_queue_drops),
            ("offload_failures", self.offload_failures),
            ("offload_fail_table_full", self.offload_fail_table_full),
            ("offload_fail_no_slot", self.offload_fail_no_slot),
            ("offload_fail_device", self.offload_fail_device),
            ("mf_installs", self.mf_installs),
            ("widened_installs", self.widened_installs),
            ("emc_installs", self.emc_installs),
            ("emc_evictions", self.emc_evictions),
            ("hw_removals", self.hw_removals),
            ("mask_assignments", self.mask_assignments),
            ("mask_evictions", self.mask_evictions),
            ("entries_evicted", self.entries_evicted),
            ("reranks", self.reranks),
            ("hw_packets_credited", self.hw_packets_credited),
            ("lost", self.lost),
            ("tx_packets", self.tx_packets),
            ("dropped", self.dropped),
        ]
    }
}
