//! The register-level oracle the RTL is compared against: the register
//! writes the RTL saw (the [`crate::SimNic`] access log) applied to
//! [`abi::reference::RefTables`], the one reference lookup of the workspace.
//!
//! It checks the RTL independently of `driver::Nic`'s shadow tables: only
//! the staging key and the command decoding are added here.

use abi::reference::RefTables;
use abi::regs::{Command, LookupResult, CTRL_CLEAR_TABLES, REG_CMD, REG_CTRL, REG_STAGE_KEY};
use abi::{FlowKey, Geometry, HW_KEY_WORDS};

/// The reference model's register and table state.
#[derive(Clone, Debug)]
pub struct RefModel {
    staging: FlowKey,
    tables: RefTables,
}

impl RefModel {
    /// Empty tables of geometry `g` (the state after a table clear).
    pub fn new(g: Geometry) -> Self {
        RefModel {
            staging: FlowKey::ZERO,
            tables: RefTables::new(g),
        }
    }

    /// The tables.
    pub fn tables(&self) -> &RefTables {
        &self.tables
    }

    /// Applies one 64-bit register write (full strobes) as the RTL would:
    /// staging words, commands and the table-clear bit of CTRL. Other
    /// registers do not change table state. Returns true if the write was a
    /// command (it changes lookups only once it executes).
    pub fn write(&mut self, offset: u64, value: u64) -> bool {
        if (REG_STAGE_KEY.addr()..REG_STAGE_KEY.addr() + 8 * HW_KEY_WORDS as u64).contains(&offset)
        {
            self.staging.words[((offset - REG_STAGE_KEY.addr()) / 8) as usize] = value;
            return false;
        }
        if offset == REG_CTRL.addr() && CTRL_CLEAR_TABLES.get(&[value]) != 0 {
            self.tables.clear();
            return true;
        }
        if offset != REG_CMD.addr() {
            return false;
        }
        if let Ok(c) = Command::decode(value) {
            // A refused command changes nothing, in the RTL as here.
            let _ = self.tables.execute(&c, &self.staging);
        }
        true
    }

    /// The result the pipeline must give for `key`.
    pub fn lookup(&self, key: &FlowKey) -> LookupResult {
        self.tables.lookup(key)
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
            && (r.offset == REG_CMD.addr()
                || (r.offset == REG_CTRL.addr() && CTRL_CLEAR_TABLES.get(&[r.value]) != 0))
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
                let clear = rec.offset == REG_CTRL.addr();
                // The fence: the next access (a clear: the first STATUS read
                // that no longer shows BUSY).
                let fence = if clear {
                    self.log.iter().skip(1).find(|x| {
                        !x.write
                            && x.offset == abi::regs::REG_STATUS.addr()
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
