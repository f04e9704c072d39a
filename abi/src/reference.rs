//! The reference lookup: the tables as the hardware holds them and the
//! result the pipeline must give for a key, written from this crate alone.
//!
//! One declaration for every Rust check of the lookup core: the simulated
//! NIC's replay oracle (`sim::reference`) and the driver's register-level
//! test model use these tables, so a change of the lookup rule is made here
//! once. The Python model in `tb/model` stays an independent second opinion.
//!
//! Semantics (what `hdl` implements):
//! * EMC: candidate 0, then candidate 1 of [`crate::hash_key`]; the stored key
//!   must equal the whole key.
//! * Megaflow: every enabled mask slot, lowest slot first; in a slot, bank A's
//!   bucket of `hash_masked(key, mask)`, then bank B's. In a bucket only the
//!   first valid way whose signature ([`crate::geometry::signatures`] of the
//!   stored key's hash, for that bank) equals the key's is compared, and the
//!   stored key must equal `key & mask`; a signature match with another key
//!   is a miss of that bank, never a hit. Tables the driver builds keep the
//!   signatures of a bucket's valid ways distinct, and then this equals a
//!   search of every way ([`RefTables::lookup_naive`]).
//! * A write stores `staging & mask register` (megaflow) or the staging key
//!   (EMC). MaskClear disables a slot but keeps its mask register, as the
//!   hardware does; a table clear zeroes and disables every mask.
//! * An edit write stores staging key words `0..EDIT_WORDS` as edit entry
//!   `index`; a table clear leaves the edit table (every action word is 0
//!   then, and none names an edit entry).

use crate::action::{EDIT_ENTRIES, EDIT_WORDS};
use crate::geometry::{cuckoo_buckets, emc_candidates, signatures};
use crate::regs::{Command, HitKind, LookupResult, Op};
use crate::{hash_key, hash_masked, FlowKey, Geometry};
use thiserror::Error;

/// One valid table entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefEntry {
    /// Stored key (megaflows: masked when written).
    pub key: FlowKey,
    /// Flow id.
    pub flow_id: u32,
    /// `hash_key(key)`: the hash the hardware takes the stored signatures
    /// from (for a megaflow, `hash_masked` of the staged key).
    pub hash: u32,
}

/// Why the command engine refuses a command (STATUS.CMD_ERROR, nothing
/// written).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum CommandRejected {
    /// The slot is not below the number of mask slots.
    #[error("mask slot {slot} is not below the {slots} slots of this build")]
    Slot {
        /// Slot of the command.
        slot: u8,
        /// Slots of the build.
        slots: u8,
    },
    /// The index is not below the entries of the addressed table.
    #[error("entry index {index} is not below the {entries} entries of the table")]
    Index {
        /// Index of the command.
        index: u32,
        /// Entries of the table.
        entries: u32,
    },
}

/// EMC, masks and megaflow tables of one build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefTables {
    g: Geometry,
    emc: Vec<Option<RefEntry>>,
    masks: Vec<FlowKey>,
    mask_en: Vec<bool>,
    mf: Vec<Vec<Option<RefEntry>>>,
    edits: Vec<[u64; EDIT_WORDS]>,
}

impl RefTables {
    /// Empty tables of geometry `g` (the state after a table clear).
    pub fn new(g: Geometry) -> Self {
        RefTables {
            g,
            emc: vec![None; g.emc_entries() as usize],
            masks: vec![FlowKey::ZERO; g.mf_slots as usize],
            mask_en: vec![false; g.mf_slots as usize],
            mf: vec![vec![None; g.mf_entries_per_slot() as usize]; g.mf_slots as usize],
            edits: vec![[0; EDIT_WORDS]; EDIT_ENTRIES],
        }
    }

    /// Geometry.
    pub fn geometry(&self) -> &Geometry {
        &self.g
    }

    /// CTRL.CLEAR_TABLES: every entry invalid, every mask zero and disabled.
    pub fn clear(&mut self) {
        let edits = std::mem::take(&mut self.edits);
        *self = RefTables {
            edits,
            ..RefTables::new(self.g)
        };
    }

    /// Words of edit-table entry `index` (zero outside the table).
    pub fn edit(&self, index: u16) -> [u64; EDIT_WORDS] {
        self.edits
            .get(index as usize)
            .copied()
            .unwrap_or([0; EDIT_WORDS])
    }

    fn check_slot(&self, slot: u8) -> Result<usize, CommandRejected> {
        if slot < self.g.mf_slots {
            Ok(slot as usize)
        } else {
            Err(CommandRejected::Slot {
                slot,
                slots: self.g.mf_slots,
            })
        }
    }

    fn check_index(index: u32, entries: u32) -> Result<usize, CommandRejected> {
        if index < entries {
            Ok(index as usize)
        } else {
            Err(CommandRejected::Index { index, entries })
        }
    }

    /// Executes command `c` with staging key `staging`, or refuses it as the
    /// command engine does (nothing changes then).
    pub fn execute(&mut self, c: &Command, staging: &FlowKey) -> Result<(), CommandRejected> {
        // The staging registers hold the hardware key only.
        let staging = &staging.hw();
        let g = self.g;
        let entry = |key| {
            Some(RefEntry {
                key,
                flow_id: c.flow_id,
                hash: hash_key(&key),
            })
        };
        match c.op {
            Op::Nop => {}
            Op::EmcWrite | Op::EmcInvalidate => {
                let i = Self::check_index(c.index, g.emc_entries())?;
                self.emc[i] = if c.op == Op::EmcWrite {
                    entry(*staging)
                } else {
                    None
                };
            }
            Op::MfWrite | Op::MfInvalidate => {
                let s = self.check_slot(c.slot)?;
                let i = Self::check_index(c.index, g.mf_entries_per_slot())?;
                self.mf[s][i] = if c.op == Op::MfWrite {
                    entry(staging.masked(&self.masks[s]))
                } else {
                    None
                };
            }
            Op::MaskSet => {
                let s = self.check_slot(c.slot)?;
                self.masks[s] = *staging;
                self.mask_en[s] = true;
            }
            Op::MaskClear => {
                let s = self.check_slot(c.slot)?;
                self.mask_en[s] = false;
            }
            Op::EditWrite => {
                let i = Self::check_index(c.index, EDIT_ENTRIES as u32)?;
                self.edits[i].copy_from_slice(&staging.words[..EDIT_WORDS]);
            }
        }
        Ok(())
    }

    /// The result the pipeline must give for `key`.
    pub fn lookup(&self, key: &FlowKey) -> LookupResult {
        // The pipeline sees the hardware key only.
        let key = &key.hw();
        let g = &self.g;
        let emc = self.lookup_emc(key);
        if emc.kind == HitKind::Emc {
            return emc;
        }
        for (slot, table) in self.mf.iter().enumerate() {
            if !self.mask_en[slot] {
                continue;
            }
            let mask = &self.masks[slot];
            let masked = key.masked(mask);
            let h = hash_masked(key, mask);
            let sigs = signatures(h);
            for (bank, b) in cuckoo_buckets(h, g.mf_log2_buckets).into_iter().enumerate() {
                // The first valid way whose signature matches; only its key
                // is read and compared.
                let way = (0..g.mf_bucket_slots).find_map(|way| {
                    let i = g.mf_index(b, way);
                    table[i as usize]
                        .filter(|e| signatures(e.hash)[bank] == sigs[bank])
                        .map(|e| (i, e))
                });
                if let Some((i, e)) = way {
                    if e.key == masked {
                        return LookupResult {
                            kind: HitKind::Megaflow,
                            slot: slot as u8,
                            index: i,
                            flow_id: e.flow_id,
                        };
                    }
                }
            }
        }
        LookupResult::MISS
    }

    /// The result of a search that compares the full key of every way of
    /// both buckets (v1's hardware). Equal to [`RefTables::lookup`] while no
    /// bucket holds two valid ways with one signature.
    pub fn lookup_naive(&self, key: &FlowKey) -> LookupResult {
        let key = &key.hw();
        let g = &self.g;
        let emc = self.lookup_emc(key);
        if emc.kind == HitKind::Emc {
            return emc;
        }
        for (slot, table) in self.mf.iter().enumerate() {
            if !self.mask_en[slot] {
                continue;
            }
            let mask = &self.masks[slot];
            let masked = key.masked(mask);
            for b in cuckoo_buckets(hash_masked(key, mask), g.mf_log2_buckets) {
                for way in 0..g.mf_bucket_slots {
                    let i = g.mf_index(b, way);
                    if let Some(e) = &table[i as usize] {
                        if e.key == masked {
                            return LookupResult {
                                kind: HitKind::Megaflow,
                                slot: slot as u8,
                                index: i,
                                flow_id: e.flow_id,
                            };
                        }
                    }
                }
            }
        }
        LookupResult::MISS
    }

    /// Buckets of `slot` holding two valid ways with the same signature
    /// (the driver never builds one; raw commands can).
    pub fn signature_clashes(&self, slot: u8) -> Vec<u32> {
        let g = &self.g;
        let Some(table) = self.mf.get(slot as usize) else {
            return Vec::new();
        };
        let half = g.mf_buckets() / 2;
        (0..g.mf_buckets())
            .filter(|&b| {
                let bank = usize::from(b >= half);
                let sigs: Vec<u16> = (0..g.mf_bucket_slots)
                    .filter_map(|w| table[g.mf_index(b, w) as usize])
                    .map(|e| signatures(e.hash)[bank])
                    .collect();
                (1..sigs.len()).any(|i| sigs[..i].contains(&sigs[i]))
            })
            .collect()
    }

    /// The EMC's result for `key` (full-key compare of both candidates).
    fn lookup_emc(&self, key: &FlowKey) -> LookupResult {
        for c in emc_candidates(hash_key(key), self.g.emc_log2_entries) {
            if let Some(e) = &self.emc[c as usize] {
                if e.key == *key {
                    return LookupResult {
                        kind: HitKind::Emc,
                        slot: 0,
                        index: c,
                        flow_id: e.flow_id,
                    };
                }
            }
        }
        LookupResult::MISS
    }

    /// EMC entry at `index`.
    pub fn emc_entry(&self, index: u32) -> Option<RefEntry> {
        self.emc.get(index as usize).copied().flatten()
    }

    /// Megaflow entry `index` of `slot`.
    pub fn mf_entry(&self, slot: u8, index: u32) -> Option<RefEntry> {
        self.mf
            .get(slot as usize)
            .and_then(|t| t.get(index as usize))
            .copied()
            .flatten()
    }

    /// Valid EMC entries.
    pub fn emc_count(&self) -> usize {
        self.emc.iter().flatten().count()
    }

    /// Valid megaflow entries of `slot` (0 for a slot the build lacks).
    pub fn mf_count(&self, slot: u8) -> usize {
        self.mf
            .get(slot as usize)
            .map_or(0, |t| t.iter().flatten().count())
    }

    /// Mask of `slot`, if the slot is enabled.
    pub fn mask(&self, slot: u8) -> Option<FlowKey> {
        let s = slot as usize;
        (*self.mask_en.get(s)?).then(|| self.masks[s])
    }
}

/// `n` keys `make(0..)` whose masked hashes share bank A's bucket and
/// signature, distinct under `mask` (a forced signature collision, for
/// tests; a search, so `make` must vary bits the mask keeps).
pub fn signature_collisions(
    g: &Geometry,
    mask: &FlowKey,
    n: usize,
    make: impl Fn(u64) -> FlowKey,
) -> Vec<FlowKey> {
    let mut groups: std::collections::HashMap<(u32, u16), Vec<FlowKey>> = Default::default();
    for p in 0u64.. {
        let k = make(p);
        let h = hash_masked(&k, mask);
        let group = groups
            .entry((cuckoo_buckets(h, g.mf_log2_buckets)[0], signatures(h)[0]))
            .or_default();
        if !group.iter().any(|o| o.masked(mask) == k.masked(mask)) {
            group.push(k);
        }
        if group.len() == n {
            return group.clone();
        }
    }
    unreachable!("the search is unbounded")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Field;

    const G: Geometry = Geometry {
        emc_log2_entries: 4,
        mf_slots: 3,
        mf_log2_buckets: 3,
        mf_bucket_slots: 2,
        missq_log2_depth: 3,
    };

    fn cmd(op: Op, slot: u8, index: u32, flow_id: u32) -> Command {
        Command {
            op,
            slot,
            index,
            flow_id,
        }
    }

    fn key(port: u64, dst: u64) -> FlowKey {
        let mut k = FlowKey::ZERO;
        k.set(Field::InPort, port);
        k.set(Field::NwDst, dst);
        k
    }

    fn port_mask() -> FlowKey {
        let mut m = FlowKey::ZERO;
        m.set(Field::InPort, u32::MAX as u64);
        m
    }

    #[test]
    fn edit_writes_store_the_staged_words_and_survive_a_clear() {
        let mut t = RefTables::new(G);
        let staging = FlowKey::from_hw_words(&[1, 2, 3, 4, 5, 6, 7, 8]);
        let edit = |index| Command {
            op: Op::EditWrite,
            slot: 9,
            index,
            flow_id: 0,
        };
        t.execute(&edit(4095), &staging).unwrap();
        assert_eq!(t.edit(4095), [1, 2, 3, 4]);
        assert_eq!(t.edit(0), [0; EDIT_WORDS]);
        assert_eq!(
            t.execute(&edit(EDIT_ENTRIES as u32), &staging),
            Err(CommandRejected::Index {
                index: EDIT_ENTRIES as u32,
                entries: EDIT_ENTRIES as u32
            })
        );
        t.clear();
        assert_eq!(t.edit(4095), [1, 2, 3, 4]);
    }

    #[test]
    fn emc_first_then_lowest_slot_then_miss() {
        let mut t = RefTables::new(G);
        let k = key(3, 7);
        assert_eq!(t.lookup(&k), LookupResult::MISS);
        t.execute(&cmd(Op::MaskSet, 2, 0, 0), &port_mask()).unwrap();
        t.execute(&cmd(Op::MaskSet, 1, 0, 0), &port_mask()).unwrap();
        let [b, _] = cuckoo_buckets(hash_masked(&k, &port_mask()), G.mf_log2_buckets);
        let i = G.mf_index(b, 1);
        t.execute(&cmd(Op::MfWrite, 2, i, 20), &k).unwrap();
        // Any key equal under the mask hits; the entry is stored masked.
        let other = key(3, 99);
        assert_eq!(
            t.lookup(&other),
            LookupResult {
                kind: HitKind::Megaflow,
                slot: 2,
                index: i,
                flow_id: 20
            }
        );
        assert_eq!(t.mf_entry(2, i).unwrap().key, k.masked(&port_mask()));
        t.execute(&cmd(Op::MfWrite, 1, i, 10), &k).unwrap();
        assert_eq!(t.lookup(&other).slot, 1, "the lowest slot wins");
        let e = emc_candidates(hash_key(&k), G.emc_log2_entries)[1];
        t.execute(&cmd(Op::EmcWrite, 0, e, 5), &k).unwrap();
        assert_eq!(t.lookup(&k).kind, HitKind::Emc);
        assert_eq!(t.lookup(&other).kind, HitKind::Megaflow);
        t.execute(&cmd(Op::EmcInvalidate, 0, e, 0), &k).unwrap();
        assert_eq!(t.lookup(&k).slot, 1);
    }

    #[test]
    fn mask_clear_disables_and_keeps_the_mask_register() {
        let mut t = RefTables::new(G);
        let k = key(4, 1);
        t.execute(&cmd(Op::MaskSet, 0, 0, 0), &port_mask()).unwrap();
        t.execute(&cmd(Op::MaskClear, 0, 0, 0), &k).unwrap();
        assert_eq!(t.mask(0), None);
        // A write to the disabled slot still masks with the register.
        let [b, _] = cuckoo_buckets(hash_masked(&k, &port_mask()), G.mf_log2_buckets);
        t.execute(&cmd(Op::MfWrite, 0, G.mf_index(b, 0), 9), &k)
            .unwrap();
        assert_eq!(t.lookup(&k), LookupResult::MISS, "disabled slot");
        t.execute(&cmd(Op::MaskSet, 0, 0, 0), &port_mask()).unwrap();
        assert_eq!(t.lookup(&k).flow_id, 9);
        t.clear();
        assert_eq!(t.mask(0), None);
        assert_eq!(t.lookup(&k), LookupResult::MISS);
    }

    #[test]
    fn bad_slot_and_index_are_refused_and_change_nothing() {
        let mut t = RefTables::new(G);
        let k = key(1, 1);
        assert_eq!(
            t.execute(&cmd(Op::MaskSet, 3, 0, 0), &k),
            Err(CommandRejected::Slot { slot: 3, slots: 3 })
        );
        assert_eq!(
            t.execute(&cmd(Op::EmcWrite, 0, 16, 1), &k),
            Err(CommandRejected::Index {
                index: 16,
                entries: 16
            })
        );
        assert_eq!(
            t.execute(&cmd(Op::MfInvalidate, 0, 16, 0), &k),
            Err(CommandRejected::Index {
                index: 16,
                entries: 16
            })
        );
        assert!((0..3).all(|s| t.mask(s).is_none()));
        assert!((0..16).all(|i| t.emc_entry(i).is_none()));
    }

    #[test]
    fn signature_match_of_another_key_is_a_miss_never_a_wrong_hit() {
        let mut t = RefTables::new(G);
        t.execute(&cmd(Op::MaskSet, 0, 0, 0), &port_mask()).unwrap();
        let ks = signature_collisions(&G, &port_mask(), 2, |p| key(p, 0));
        let (k1, k2) = (ks[0], ks[1]);
        assert_ne!(k1.masked(&port_mask()), k2.masked(&port_mask()));
        let [b, _] = cuckoo_buckets(hash_masked(&k1, &port_mask()), G.mf_log2_buckets);
        // k2 in way 0, k1 in way 1 of the same bucket: a clash only raw
        // commands build.
        t.execute(&cmd(Op::MfWrite, 0, G.mf_index(b, 0), 2), &k2)
            .unwrap();
        t.execute(&cmd(Op::MfWrite, 0, G.mf_index(b, 1), 1), &k1)
            .unwrap();
        assert_eq!(t.signature_clashes(0), vec![b]);
        assert_eq!(t.lookup(&k2).flow_id, 2);
        assert_eq!(t.lookup_naive(&k1).flow_id, 1);
        // Way 0's signature matches first, its key does not: a miss.
        assert_eq!(t.lookup(&k1), LookupResult::MISS);
        // Without the clash both agree.
        t.execute(&cmd(Op::MfInvalidate, 0, G.mf_index(b, 0), 0), &k2)
            .unwrap();
        assert!(t.signature_clashes(0).is_empty());
        assert_eq!(t.lookup(&k1), t.lookup_naive(&k1));
        assert_eq!(t.lookup(&k1).flow_id, 1);
    }
}
