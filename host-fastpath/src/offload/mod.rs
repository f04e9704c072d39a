//! Hybrid offload: hardware tables first, software fallback, one flow table.
//!
//! - [`hw`]: what the manager needs from a device ([`HwTables`] for every
//!   `driver::Nic`, [`HwLookup`] where lookups come from).
//! - [`encode`]: datapath actions → the NIC's action word, or partial
//!   offload with its reason.
//! - [`edits`]: [`edits::EditTable`], the edit table's entries shared by
//!   flows with the same rewrite values.
//! - [`policy`]: mask-slot ranking, widening target and trade (pure code).
//! - [`manager`]: [`OffloadManager`] places megaflows (own slot, widened, or
//!   hardware EMC), invalidates before software deletes, merges counters.
//! - [`hybrid`]: [`HybridDp`], the datapath over a look-aside NIC.
//! - [`inline`]: [`InlineDp`], the datapath over a NIC with a packet path
//!   (its hardware tier: frames the NIC finishes never reach the host).
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

pub mod edits;
pub mod encode;
pub mod hw;
pub mod hybrid;
pub mod inline;
pub mod manager;
pub mod model;
pub mod policy;
#[cfg(feature = "sim")]
pub mod sim;

pub use encode::{HwActionSet, PartialReason};
pub use hw::{HwCounts, HwError, HwLookup, HwTables};
pub use hybrid::HybridDp;
pub use inline::{FramePath, InlineCounters, InlineDp};
pub use manager::{FlowOffload, InsertLatency, OffloadConfig, OffloadManager};
pub use model::ModelNic;
pub use policy::WidenPolicy;

macro_rules! counters {
    ($( $(#[$a:meta])* $f:ident, )*) => {
        /// Offload counters, in the style of OVS's offload providers. As
        /// JSON, the packet counts every datapath has are left to
        /// [`crate::stats::RunStats`], which holds them once.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
        pub struct OffloadCounters {
            $( $(#[$a])* pub $f: u64, )*
        }

        impl OffloadCounters {
            /// The counters as `(name, value)` pairs (for JSON and tables).
            pub fn iter(&self) -> Vec<(&'static str, u64)> {
                vec![$( (stringify!($f), self.$f), )*]
            }

            /// Counts since `earlier` (a snapshot of the same datapath).
            pub fn since(&self, earlier: &OffloadCounters) -> OffloadCounters {
                OffloadCounters { $( $f: self.$f.saturating_sub(earlier.$f), )* }
            }
        }
    };
}

counters! {
    /// Packets received.
    #[serde(skip)]
    packets,
    /// Bytes received.
    #[serde(skip)]
    bytes,
    /// Handled fully in hardware: hardware EMC hits.
    hw_emc_hits,
    /// Handled fully in hardware: hardware megaflow hits.
    hw_megaflow_hits,
    /// Hardware misses (went to software).
    hw_misses,
    /// Software EMC hits (of hardware misses).
    sw_emc_hits,
    /// Software megaflow hits.
    sw_megaflow_hits,
    /// Upcalls.
    #[serde(skip)]
    upcalls,
    /// Pipeline aborts: hardware answers software could not use (a flow id
    /// software no longer has, a missing result, a miss-queue key that does
    /// not match its tag, a failed lookup); software handled the packet.
    pipeline_aborts,
    /// Misses the hardware queue dropped (software handled the held frame).
    miss_queue_drops,
    /// Offload failures (sum of the three below).
    offload_failures,
    /// ...because the slot's table was full.
    offload_fail_table_full,
    /// ...because the flow's mask has no slot (counted once per flow).
    offload_fail_no_slot,
    /// ...because the device failed.
    offload_fail_device,
    /// Megaflow entries installed under their own mask.
    mf_installs,
    /// Megaflow entries installed under a wider mask.
    widened_installs,
    /// Hardware hits on widened entries (the other side of the widening
    /// trade: compare with `widened_installs`).
    widened_hits,
    /// Hardware EMC entries installed.
    emc_installs,
    /// Flows a NIC with a packet path serves as partial offload (its frames
    /// reach the host with their flow id; the host runs the actions):
    /// actions the action stage cannot execute. Counted once per flow.
    offload_partial,
    /// ...of which: an Ethernet rewrite the stage makes, but the edit table
    /// had no free entry for its values.
    offload_partial_edit_full,
    /// Flows kept in software because their key or mask has host-only
    /// bits (ND fields: no NIC table holds them, and the NIC sends ND
    /// frames to the host as exceptions). Counted once per flow.
    offload_host_only,
    /// Hardware EMC entries replaced by others.
    emc_evictions,
    /// Entries removed one by one (flow deleted/modified, EMC replaced).
    hw_removals,
    /// Masks given a slot.
    mask_assignments,
    /// Masks that lost their slot to a busier one.
    mask_evictions,
    /// Entries dropped with their slot (flows back to software).
    entries_evicted,
    /// Slot re-rankings.
    reranks,
    /// Hardware hits read from per-entry counters and credited to flows.
    hw_packets_credited,
    /// Packets neither forwarded nor dropped (as the PMD counts them).
    #[serde(skip)]
    lost,
    /// Copies sent to ports (a packet output to three ports counts three).
    #[serde(skip)]
    tx_packets,
    /// Packets that left on at least one port.
    #[serde(skip)]
    forwarded,
    /// Packets whose actions output nothing.
    #[serde(skip)]
    dropped,
}

impl OffloadCounters {
    /// Packets handled fully in hardware.
    pub fn hw_handled(&self) -> u64 {
        self.hw_emc_hits + self.hw_megaflow_hits
    }
}
