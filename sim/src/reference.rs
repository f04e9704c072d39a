//! A naive register-level reference model of the pipeline, written from
//! `abi` alone: the oracle the RTL is compared against.
//!
//! It is fed the same register writes the RTL saw (the [`crate::SimNic`]
//! access log), so it checks the RTL independently of `driver::Nic`'s shadow
//! tables. Lookups are a plain scan of both candidate positions (EMC) and of
//! every enabled slot's two candidate buckets, in the priority the hardware
//! documents: EMC (candidate 0, then 1), else the lowest slot with a match
//! (bucket 0 ways in order, then bucket 1), else a miss.

use abi::geometry::{cuckoo_buckets, emc_candidates};
use abi::regs::{
    Command, HitKind, LookupResult, Op, CTRL_CLEAR_TABLES, REG_CMD, REG_CTRL, REG_STAGE_KEY,
};
use abi::{hash_key, hash_masked, FlowKey, Geometry, KEY_WORDS};

/// One table entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefEntry {
    /// Stored key (megaflows: already masked).
    pub key: FlowKey,
    /// Flow id.
    pub flow_id: u32,
}

/// The reference model's table state.
#[derive(Clone, Debug)]
pub struct RefModel {
    g: Geometry,
    staging: FlowKey,
    emc: Vec<Option<RefEntry>>,
    masks: Vec<Option<FlowKey>>,
    mf: Vec<Vec<Option<RefEntry>>>,
}

impl RefModel {
    /// Empty tables of geometry `g` (the state after a table clear).
    pub fn new(g: Geometry) -> Self {
        RefModel {
            g,
            staging: FlowKey::ZERO,
            emc: vec![None; g.emc_entries() as usize],
            masks: vec![None; g.mf_slots as usize],
            mf: (0..g.mf_slots)
                .map(|_| vec![None; g.mf_entries_per_slot() as usize])
                .collect(),
        }
    }

    /// Geometry.
    pub fn geometry(&self) -> &Geometry {
        &self.g
    }

    /// Applies one 64-bit register write (full strobes) as the RTL would:
    /// staging words, commands and the table-clear bit of CTRL. Other
    /// registers do not change table state. Returns true if the write was a
    /// command (it changes lookups only once it executes).
    pub fn write(&mut self, offset: u64, value: u64) -> bool {
        if (REG_STAGE_KEY..REG_STAGE_KEY + 8 * KEY_WORDS as u64).contains(&offset) {
            self.staging.words[((offset - REG_STAGE_KEY) / 8) as usize] = value;
            return false;
        }
        if offset == REG_CTRL && CTRL_CLEAR_TABLES.get(&[value]) != 0 {
            *self = RefModel::new(self.g);
            return true;
        }
        if offset != REG_CMD {
            return false;
        }
        if let Ok(c) = Command::decode(value) {
            self.command(&c);
        }
        true
    }

    /// Executes a command; invalid ones (bad op, slot or index) do nothing,
    /// as the RTL rejects them.
    pub fn command(&mut self, c: &Command) {
        let slot = c.slot as usize;
        let index = c.index as usize;
        let s = self.staging;
        match c.op {
            Op::Nop => {}
            Op::EmcWrite => {
                if let Some(e) = self.emc.get_mut(index) {
                    *e = Some(RefEntry {
                        key: s,
                        flow_id: c.flow_id,
                    });
                }
            }
            Op::EmcInvalidate => {
                if let Some(e) = self.emc.get_mut(index) {
                    *e = None;
                }
            }
            Op::MfWrite => {
                let mask = self
                    .masks
                    .get(slot)
                    .copied()
                    .flatten()
                    .unwrap_or(FlowKey::ZERO);
                if let Some(e) = self.mf.get_mut(slot).and_then(|t| t.get_mut(index)) {
                    *e = Some(RefEntry {
                        key: s.masked(&mask),
                        flow_id: c.flow_id,
                    });
                }
            }
            Op::MfInvalidate => {
                if let Some(e) = self.mf.get_mut(slot).and_then(|t| t.get_mut(index)) {
                    *e = None;
                }
            }
            Op::MaskSet => {
                if let Some(m) = self.masks.get_mut(slot) {
                    *m = Some(s);
                }
            }
            Op::MaskClear => {
                if let Some(m) = self.masks.get_mut(slot) {
                    *m = None;
                }
            }
        }
    }

    /// The result the pipeline must give for `key`.
    pub fn lookup(&self, key: &FlowKey) -> LookupResult {
        let g = &self.g;
        for c in emc_candidates(hash_key(key), g.emc_log2_entries) {
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
        for (slot, mask) in self.masks.iter().enumerate() {
            let Some(mask) = mask else { continue };
            let masked = key.masked(mask);
            for b in cuckoo_buckets(hash_masked(key, mask), g.mf_log2_buckets) {
                for way in 0..g.mf_bucket_slots {
                    let i = g.mf_index(b, way);
                    if let Some(e) = &self.mf[slot][i as usize] {
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

    /// Mask of `slot`, if enabled.
    pub fn mask(&self, slot: u8) -> Option<FlowKey> {
        self.masks.get(slot as usize).copied().flatten()
    }
}

/// Outcome of replaying results against the reference.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Results compared.
    pub checked: u64,
    /// Results accepted while a command was executing that matched the
    /// table state before it.
    pub window_old: u64,
    /// ... that matched the state after it.
    pub window_new: u64,
    /// Results accepted during a table clear (not compared: any subset of
    /// entries may already be cleared).
    pub during_clear: u64,
    /// Mismatches (the first few are described in `details`).
    pub mismatches: u64,
    /// Descriptions of the first mismatches.
    pub details: Vec<String>,
}

/// Replays a [`crate::SimNic`] access log and its lookup results, in cycle
/// order, against a [`RefModel`], under the ordering the hardware promises:
///
/// * a lookup accepted in or before the clock of a CMD write's address/data
///   handshake sees the tables without that command;
/// * a lookup accepted after the next register access completed (a read
///   after the write, such as the driver's STATUS check, or the next write's
///   handshake — both wait for the command to finish) sees them with it;
/// * in between, it sees one or the other, never a mix.
#[derive(Debug)]
pub struct Replay {
    model: RefModel,
    log: std::collections::VecDeque<crate::AccessRecord>,
    report: ReplayReport,
    /// The state after the command now at the head of the log (built once
    /// per command, not per lookup in its window: tables are megabytes).
    after: Option<(u64, RefModel)>,
}

const MAX_DETAILS: usize = 8;

impl Replay {
    /// Starts from empty tables of geometry `g`.
    pub fn new(g: Geometry) -> Self {
        Replay {
            model: RefModel::new(g),
            log: Default::default(),
            report: ReplayReport::default(),
            after: None,
        }
    }

    /// The reference state after every resolved command.
    pub fn model(&self) -> &RefModel {
        &self.model
    }

    /// Results so far.
    pub fn report(&self) -> &ReplayReport {
        &self.report
    }

    /// Adds log records (in order, as taken from the NIC).
    pub fn push_log(&mut self, records: &[crate::AccessRecord]) {
        self.log.extend(records.iter().copied());
    }

    fn is_command(r: &crate::AccessRecord) -> bool {
        r.write
            && (r.offset == REG_CMD
                || (r.offset == REG_CTRL && CTRL_CLEAR_TABLES.get(&[r.value]) != 0))
    }

    /// Checks results (in acceptance order) whose keys `key_of(tag)` gives.
    /// Call it with every result accepted before the last log record pushed.
    pub fn check(
        &mut self,
        results: &[crate::SimResult],
        key_of: impl Fn(u32) -> Option<FlowKey>,
    ) -> &ReplayReport {
        for r in results {
            let Some(key) = key_of(r.tag) else {
                self.mismatch(format!("result with unknown tag {}", r.tag));
                continue;
            };
            let got = LookupResult::decode(r.word);
            // Resolve every command that finished before this lookup.
            let mut window = false;
            let mut clearing = false;
            while let Some(rec) = self.log.front().copied() {
                if !Self::is_command(&rec) {
                    if rec.write {
                        self.model.write(rec.offset, rec.value);
                    }
                    self.log.pop_front();
                    continue;
                }
                if r.accepted_at <= rec.accepted_at {
                    break;
                }
                let clear = rec.offset == REG_CTRL;
                // The fence: the next access (a clear: the first STATUS read
                // that no longer shows BUSY).
                let fence = if clear {
                    self.log.iter().skip(1).find(|x| {
                        !x.write
                            && x.offset == abi::regs::REG_STATUS
                            && abi::regs::STATUS_BUSY.get(&[x.value]) == 0
                    })
                } else {
                    self.log.get(1)
                }
                .map(|x| if x.write { x.accepted_at } else { x.done_at });
                match fence {
                    Some(f) if r.accepted_at > f => {
                        self.model.write(rec.offset, rec.value);
                        self.log.pop_front();
                    }
                    _ => {
                        if clear {
                            clearing = true;
                        } else {
                            if self.after.as_ref().map(|a| a.0) != Some(rec.accepted_at) {
                                let mut after = self.model.clone();
                                after.write(rec.offset, rec.value);
                                self.after = Some((rec.accepted_at, after));
                            }
                            window = true;
                        }
                        break;
                    }
                }
            }
            if clearing {
                self.report.during_clear += 1;
                continue;
            }
            self.report.checked += 1;
            let old = self.model.lookup(&key);
            let after = if window {
                self.after.as_ref().map(|a| &a.1)
            } else {
                None
            };
            let ok = match (&got, after) {
                (Ok(g), None) => *g == old,
                (Ok(g), Some(after)) => {
                    if *g == old {
                        self.report.window_old += 1;
                        true
                    } else if *g == after.lookup(&key) {
                        self.report.window_new += 1;
                        true
                    } else {
                        false
                    }
                }
                (Err(_), _) => false,
            };
            if !ok {
                let new = after.map(|a| a.lookup(&key));
                self.mismatch(format!(
                    "tag {} key {key:?} accepted at cycle {}: RTL {got:?}, reference {old:?}{}",
                    r.tag,
                    r.accepted_at,
                    new.map(|n| format!(" (or {n:?} while a command runs)"))
                        .unwrap_or_default()
                ));
            }
        }
        &self.report
    }

    fn mismatch(&mut self, what: String) {
        self.report.mismatches += 1;
        if self.report.details.len() < MAX_DETAILS {
            self.report.details.push(what);
        }
    }
}
