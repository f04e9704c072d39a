//! The two faces of an offload device the manager drives.
//!
//! [`HwTables`]: table programming (masks, megaflow and EMC entries, their
//! hit counters) — implemented for every [`driver::Nic`], so a VFIO board and
//! the simulated NIC are programmed by the same code. [`HwLookup`]: where
//! lookups come from and misses go — in simulation the host feeds each
//! frame's key with a tag ([`crate::offload::sim`]); the pure-software
//! [`crate::offload::model::ModelNic`] answers directly (any geometry, for
//! policy studies and device-free tests).

use super::encode::HwActionSet;
use abi::action::{ActionEntry, EditEntry, EDIT_ENTRIES};
use abi::regs::LookupResult;
use abi::{FlowKey, Geometry};
use driver::{Device, EmcPolicy, Miss, Nic, NicError};

/// Why a table operation failed.
#[derive(Debug, thiserror::Error)]
pub enum HwError {
    /// No room for the entry (cuckoo placement found no path): the flow stays
    /// in software, counted as an offload failure.
    #[error("hardware table full in mask slot {slot}")]
    TableFull {
        /// Mask slot.
        slot: u8,
    },
    /// The device failed or refused; the message names it.
    #[error("offload device: {0}")]
    Device(String),
}

impl From<NicError> for HwError {
    fn from(e: NicError) -> Self {
        match e {
            NicError::TableFull { slot, .. } => HwError::TableFull { slot },
            e => HwError::Device(e.to_string()),
        }
    }
}

/// An entry's hardware counters since it was installed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HwCounts {
    /// Hits.
    pub hits: u64,
    /// Bytes of those hits, modulo 2^[`abi::regs::STATS_BYTES_BITS`] (a
    /// look-aside lookup carries no frame and counts 0).
    pub bytes: u64,
}

impl HwCounts {
    /// Bytes counted since an earlier reading of `earlier` bytes (the
    /// counter wraps; it cannot wrap twice between two revalidations).
    pub fn bytes_since(&self, earlier: u64) -> u64 {
        self.bytes.wrapping_sub(earlier) & driver::stats_bytes_mask()
    }
}

/// Table programming, as [`driver::Nic`] offers it.
pub trait HwTables {
    /// The tables' geometry.
    fn geometry(&self) -> Geometry;
    /// Sets the (empty) slot's mask.
    fn set_mask(&mut self, slot: u8, mask: &FlowKey) -> Result<(), HwError>;
    /// Invalidates every entry of the slot and disables it.
    fn clear_mask(&mut self, slot: u8) -> Result<(), HwError>;
    /// What the NIC's action stage executes (what [`encode`] may offload).
    ///
    /// [`encode`]: super::encode::encode
    fn action_set(&self) -> HwActionSet {
        HwActionSet::LOOK_ASIDE
    }
    /// Writes edit-table entry `index` (below `action_set().edit_entries`),
    /// before any action word that names it is installed.
    fn write_edit(&mut self, index: u16, _edit: &EditEntry) -> Result<(), HwError> {
        Err(HwError::Device(format!(
            "edit-table entry {index}: this device has no edit table"
        )))
    }
    /// Installs megaflow `key & mask[slot]` → `flow_id`, its frames handled
    /// as `action` says (cuckoo placement).
    fn install_megaflow(
        &mut self,
        slot: u8,
        key: &FlowKey,
        flow_id: u32,
        action: &ActionEntry,
    ) -> Result<(), HwError>;
    /// Removes megaflow `key & mask[slot]`.
    fn remove_megaflow(&mut self, slot: u8, key: &FlowKey) -> Result<(), HwError>;
    /// Counters of megaflow `key & mask[slot]` since it was installed.
    fn megaflow_counts(&mut self, slot: u8, key: &FlowKey) -> Result<HwCounts, HwError>;
    /// Writes EMC entry `key` → `flow_id` with `action` at candidate `way`.
    fn install_emc(
        &mut self,
        key: &FlowKey,
        flow_id: u32,
        action: &ActionEntry,
        way: u8,
    ) -> Result<(), HwError>;
    /// Removes the EMC entry of `key`.
    fn remove_emc(&mut self, key: &FlowKey) -> Result<(), HwError>;
    /// Counters of the EMC entry of `key` since it was written.
    fn emc_counts(&mut self, key: &FlowKey) -> Result<HwCounts, HwError>;
    /// Register writes issued so far (programming cost), if known.
    fn register_writes(&self) -> u64 {
        0
    }
}

/// Lookups and the miss queue.
pub trait HwLookup: HwTables {
    /// Looks up a burst; pushes one `(tag, result)` per key to `out`.
    fn lookup_burst(
        &mut self,
        keys: &[FlowKey],
        tags: &[u32],
        out: &mut Vec<(u32, LookupResult)>,
    ) -> Result<(), HwError>;
    /// Moves up to `out.len()` queued misses into `out`; returns how many.
    fn drain_misses(&mut self, out: &mut [Miss]) -> Result<usize, HwError>;
}

impl<D: Device> HwTables for Nic<D> {
    fn geometry(&self) -> Geometry {
        *Nic::geometry(self)
    }
    fn action_set(&self) -> HwActionSet {
        let cap = self.capability();
        HwActionSet {
            mac_ports: cap.mac_ports as u16,
            vlan: cap.action_vlan,
            edit_entries: if cap.action_eth {
                EDIT_ENTRIES as u16
            } else {
                0
            },
        }
    }
    fn write_edit(&mut self, index: u16, edit: &EditEntry) -> Result<(), HwError> {
        Nic::write_edit(self, index, edit)?;
        Ok(())
    }
    fn set_mask(&mut self, slot: u8, mask: &FlowKey) -> Result<(), HwError> {
        Nic::set_mask(self, slot, mask)?;
        Ok(())
    }
    fn clear_mask(&mut self, slot: u8) -> Result<(), HwError> {
        Nic::clear_mask(self, slot)?;
        Ok(())
    }
    fn install_megaflow(
        &mut self,
        slot: u8,
        key: &FlowKey,
        flow_id: u32,
        action: &ActionEntry,
    ) -> Result<(), HwError> {
        Nic::install_megaflow(self, slot, key, flow_id, action)?;
        Ok(())
    }
    fn remove_megaflow(&mut self, slot: u8, key: &FlowKey) -> Result<(), HwError> {
        Nic::remove_megaflow(self, slot, key)?;
        Ok(())
    }
    fn megaflow_counts(&mut self, slot: u8, key: &FlowKey) -> Result<HwCounts, HwError> {
        let s = Nic::megaflow_stats(self, slot, key)?;
        Ok(HwCounts {
            hits: s.hits,
            bytes: s.bytes,
        })
    }
    fn install_emc(
        &mut self,
        key: &FlowKey,
        flow_id: u32,
        action: &ActionEntry,
        way: u8,
    ) -> Result<(), HwError> {
        Nic::install_emc(self, key, flow_id, action, EmcPolicy::Way(way))?;
        Ok(())
    }
    fn remove_emc(&mut self, key: &FlowKey) -> Result<(), HwError> {
        Nic::remove_emc(self, key)?;
        Ok(())
    }
    fn emc_counts(&mut self, key: &FlowKey) -> Result<HwCounts, HwError> {
        let s = Nic::emc_stats(self, key)?;
        Ok(HwCounts {
            hits: s.hits,
            bytes: s.bytes,
        })
    }
    fn register_writes(&self) -> u64 {
        Nic::register_writes(self)
    }
}
