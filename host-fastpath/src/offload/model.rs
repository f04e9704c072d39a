//! A pure-software model of the NIC's tables and lookup.
//!
//! It answers like the pipeline (EMC first, then mask slots in slot order,
//! else a miss queued with its tag) for any [`Geometry`] — including more mask
//! slots than an ABI build may have — so policy questions ("what share of
//! this trace would 32 slots take?") and the manager's device-free tests run
//! without the simulator. A slot holds at most its cuckoo capacity
//! (`buckets × ways`); unlike the real tables it never fails below that, so
//! it is a little optimistic near full load.

use super::encode::HwActionSet;
use super::hw::{HwCounts, HwError, HwLookup, HwTables};
use abi::action::{ActionEntry, EditEntry};
use abi::geometry::emc_candidates;
use abi::regs::{HitKind, LookupResult};
use abi::{hash_key, FlowKey, Geometry};
use driver::Miss;
use std::collections::{HashMap, VecDeque};

#[derive(Clone, Debug, Default)]
struct Slot {
    mask: Option<FlowKey>,
    /// Masked key → (flow id, hits, action word).
    entries: HashMap<FlowKey, (u32, u64, ActionEntry)>,
}

/// The model NIC.
#[derive(Clone, Debug)]
pub struct ModelNic {
    geometry: Geometry,
    emc: Vec<Option<(FlowKey, u32, u64, ActionEntry)>>,
    slots: Vec<Slot>,
    actions: HwActionSet,
    missq: VecDeque<Miss>,
    /// Misses dropped because the queue was full.
    pub miss_drops: u64,
    writes: u64,
    edits: HashMap<u16, EditEntry>,
}

impl ModelNic {
    /// Empty tables of geometry `g` (`g.mf_slots` may exceed the ABI's 16).
    pub fn new(g: Geometry) -> Self {
        ModelNic {
            geometry: g,
            emc: vec![None; 1usize << g.emc_log2_entries],
            slots: vec![Slot::default(); g.mf_slots as usize],
            actions: HwActionSet::LOOK_ASIDE,
            missq: VecDeque::new(),
            miss_drops: 0,
            writes: 0,
            edits: HashMap::new(),
        }
    }

    /// Edit-table entry `index` as last written.
    pub fn edit(&self, index: u16) -> Option<EditEntry> {
        self.edits.get(&index).copied()
    }

    /// The model with an action stage that executes `actions` (default: a
    /// look-aside NIC).
    pub fn with_actions(mut self, actions: HwActionSet) -> Self {
        self.actions = actions;
        self
    }

    /// Every resident entry as (flow id, action word): EMC entries, then
    /// megaflow entries.
    pub fn entry_actions(&self) -> impl Iterator<Item = (u32, ActionEntry)> + '_ {
        let emc = self.emc.iter().flatten().map(|e| (e.1, e.3));
        let mf = self
            .slots
            .iter()
            .flat_map(|s| s.entries.values().map(|e| (e.0, e.2)));
        emc.chain(mf)
    }

    fn slot(&mut self, slot: u8) -> Result<&mut Slot, HwError> {
        let n = self.slots.len();
        self.slots
            .get_mut(slot as usize)
            .ok_or_else(|| HwError::Device(format!("mask slot {slot}: the model has {n} slots")))
    }

    fn masked(&mut self, slot: u8, key: &FlowKey) -> Result<FlowKey, HwError> {
        let s = self.slot(slot)?;
        let m = s
            .mask
            .ok_or_else(|| HwError::Device(format!("mask slot {slot}: no mask set")))?;
        Ok(key.masked(&m))
    }

    /// Looks one key up (what the pipeline answers).
    pub fn lookup(&mut self, key: &FlowKey) -> LookupResult {
        for i in emc_candidates(hash_key(key), self.geometry.emc_log2_entries) {
            if let Some((k, id, hits, _)) = &mut self.emc[i as usize] {
                if k == key {
                    *hits += 1;
                    return LookupResult {
                        kind: HitKind::Emc,
                        slot: 0,
                        index: i,
                        flow_id: *id,
                    };
                }
            }
        }
        for (s, slot) in self.slots.iter_mut().enumerate() {
            let Some(m) = slot.mask else { continue };
            if let Some((id, hits, _)) = slot.entries.get_mut(&key.masked(&m)) {
                *hits += 1;
                return LookupResult {
                    kind: HitKind::Megaflow,
                    slot: s as u8,
                    index: 0,
                    flow_id: *id,
                };
            }
        }
        LookupResult::MISS
    }
}

impl HwTables for ModelNic {
    fn geometry(&self) -> Geometry {
        self.geometry
    }
    fn action_set(&self) -> HwActionSet {
        self.actions
    }
    fn write_edit(&mut self, index: u16, edit: &EditEntry) -> Result<(), HwError> {
        if index >= self.actions.edit_entries {
            return Err(HwError::Device(format!(
                "edit-table entry {index}: the model has {}",
                self.actions.edit_entries
            )));
        }
        // Four staging words and the command, as the driver writes them.
        self.writes += 5;
        self.edits.insert(index, *edit);
        Ok(())
    }
    fn set_mask(&mut self, slot: u8, mask: &FlowKey) -> Result<(), HwError> {
        self.writes += 9;
        let s = self.slot(slot)?;
        if !s.entries.is_empty() && s.mask != Some(*mask) {
            return Err(HwError::Device(format!(
                "mask slot {slot}: still holds entries"
            )));
        }
        s.mask = Some(*mask);
        Ok(())
    }
    fn clear_mask(&mut self, slot: u8) -> Result<(), HwError> {
        let s = self.slot(slot)?;
        let n = s.entries.len() as u64;
        s.entries.clear();
        s.mask = None;
        self.writes += 2 * n + 1;
        Ok(())
    }
    fn install_megaflow(
        &mut self,
        slot: u8,
        key: &FlowKey,
        flow_id: u32,
        action: &ActionEntry,
    ) -> Result<(), HwError> {
        let masked = self.masked(slot, key)?;
        let cap = self.geometry.mf_entries_per_slot() as usize;
        self.writes += 9;
        let s = self.slot(slot)?;
        if let Some(e) = s.entries.get_mut(&masked) {
            (e.0, e.2) = (flow_id, *action);
            return Ok(());
        }
        if s.entries.len() >= cap {
            return Err(HwError::TableFull { slot });
        }
        s.entries.insert(masked, (flow_id, 0, *action));
        Ok(())
    }
    fn remove_megaflow(&mut self, slot: u8, key: &FlowKey) -> Result<(), HwError> {
        let masked = self.masked(slot, key)?;
        self.writes += 1;
        self.slot(slot)?
            .entries
            .remove(&masked)
            .map(|_| ())
            .ok_or_else(|| HwError::Device(format!("no megaflow {masked:?} in slot {slot}")))
    }
    fn megaflow_counts(&mut self, slot: u8, key: &FlowKey) -> Result<HwCounts, HwError> {
        let masked = self.masked(slot, key)?;
        self.slot(slot)?
            .entries
            .get(&masked)
            .map(|e| HwCounts {
                hits: e.1,
                bytes: 0,
            })
            .ok_or_else(|| HwError::Device(format!("no megaflow {masked:?} in slot {slot}")))
    }
    fn install_emc(
        &mut self,
        key: &FlowKey,
        flow_id: u32,
        action: &ActionEntry,
        way: u8,
    ) -> Result<(), HwError> {
        let c = emc_candidates(hash_key(key), self.geometry.emc_log2_entries);
        self.writes += 9;
        let at = c
            .iter()
            .copied()
            .find(|&i| self.emc[i as usize].is_some_and(|e| e.0 == *key))
            .or_else(|| c.get(way as usize).copied())
            .ok_or_else(|| HwError::Device(format!("EMC way {way}: there are 2")))?;
        self.emc[at as usize] = Some((*key, flow_id, 0, *action));
        Ok(())
    }
    fn remove_emc(&mut self, key: &FlowKey) -> Result<(), HwError> {
        self.writes += 1;
        for i in emc_candidates(hash_key(key), self.geometry.emc_log2_entries) {
            if self.emc[i as usize].is_some_and(|e| e.0 == *key) {
                self.emc[i as usize] = None;
                return Ok(());
            }
        }
        Err(HwError::Device(format!("no EMC entry {key:?}")))
    }
    fn emc_counts(&mut self, key: &FlowKey) -> Result<HwCounts, HwError> {
        for i in emc_candidates(hash_key(key), self.geometry.emc_log2_entries) {
            if let Some(e) = self.emc[i as usize].filter(|e| e.0 == *key) {
                return Ok(HwCounts {
                    hits: e.2,
                    bytes: 0,
                });
            }
        }
        Err(HwError::Device(format!("no EMC entry {key:?}")))
    }
    fn register_writes(&self) -> u64 {
        self.writes
    }
}

impl HwLookup for ModelNic {
    fn lookup_burst(
        &mut self,
        keys: &[FlowKey],
        tags: &[u32],
        out: &mut Vec<(u32, LookupResult)>,
    ) -> Result<(), HwError> {
        let depth = 1usize << self.geometry.missq_log2_depth;
        for (k, &t) in keys.iter().zip(tags) {
            let r = self.lookup(k);
            if r.kind == HitKind::Miss {
                if self.missq.len() < depth {
                    self.missq.push_back(Miss {
                        key: *k,
                        hash: hash_key(k),
                        tag: t,
                    });
                } else {
                    self.miss_drops += 1;
                }
            }
            out.push((t, r));
        }
        Ok(())
    }
    fn drain_misses(&mut self, out: &mut [Miss]) -> Result<usize, HwError> {
        let n = out.len().min(self.missq.len());
        for (o, m) in out.iter_mut().zip(self.missq.drain(..n)) {
            *o = m;
        }
        Ok(n)
    }
}
