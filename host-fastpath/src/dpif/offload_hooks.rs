//! What a hardware offload layer needs from the flow table: credit packets
//! the NIC handled to their megaflow, plan a revalidation pass before
//! applying it (so hardware entries are invalidated before the software flow
//! is freed and its id reused), and delete chosen flows (port removal).
//!
//! [`Pmd::revalidate`] is plan + apply with no flow kept idle; the offload
//! layer passes a `keep_idle` predicate, which protects flows whose hardware
//! statistics may still be in flight (OVS never expires an offloaded flow
//! younger than its offload statistics delay).

use super::{Pmd, OVER_LIMIT_MAX_IDLE_MS};
use crate::odp::OdpAction;
use crate::ofproto::{OfProto, RuleIds};
use crate::FlowId;
use std::time::Instant;

/// What one revalidation pass would do.
#[derive(Debug, Default)]
pub struct RevalidationPlan {
    /// Flows to delete (idle, or needing bits they wildcard).
    pub dead: Vec<FlowId>,
    /// Flows whose actions change, with their new actions.
    pub modified: Vec<(FlowId, Vec<OdpAction>)>,
    /// Kept flows whose re-translation matched other rules.
    relinked: Vec<(FlowId, RuleIds)>,
    /// The rule-table generation the plan was made against.
    generation: u64,
    started: Option<Instant>,
}

impl Pmd {
    /// Adds `packets`/`bytes` handled outside this PMD's software path (by
    /// the NIC) to flow `id`; `used_ns` (datapath clock) only moves forward.
    /// Returns false when the flow does not exist.
    pub fn credit_flow(
        &mut self,
        id: FlowId,
        packets: u64,
        bytes: u64,
        used_ns: u64,
        tcp_flags: u16,
    ) -> bool {
        let Some(f) = self.flows.get_mut(id as usize).and_then(|f| f.as_mut()) else {
            return false;
        };
        f.packets += packets;
        f.bytes += bytes;
        f.tcp_flags |= tcp_flags;
        if packets > 0 {
            f.used_ns = f.used_ns.max(used_ns);
            f.ever_used = true;
        }
        true
    }

    /// The decisions of [`Pmd::revalidate`] without applying them. A flow for
    /// which `keep_idle(id)` is true is not expired for idleness (it is still
    /// deleted or modified when the rules changed).
    pub fn plan_revalidation(
        &self,
        of: &OfProto,
        rules_changed: bool,
        keep_idle: impl Fn(FlowId) -> bool,
    ) -> RevalidationPlan {
        let started = Instant::now();
        let now = self.now_ns();
        let limit = self.flow_limit();
        let kill_all = self.n_flows > 2 * limit;
        let max_idle_ms = if self.n_flows > limit {
            OVER_LIMIT_MAX_IDLE_MS
        } else {
            self.config.max_idle_ms
        };
        // Rules added, deleted or expired since the last pass (by anyone)
        // are a rule change for every flow of this datapath.
        let rules_changed = rules_changed || of.generation() != self.of_generation;
        let mut plan = RevalidationPlan {
            started: Some(started),
            generation: of.generation(),
            ..Default::default()
        };
        for (id, f) in self.flows() {
            // Push use to the rules the flow was translated through, as OVS
            // pushes flow statistics through the xlate cache, so a rule with
            // an idle_timeout lives while its megaflows carry traffic.
            if f.ever_used {
                of.note_used(&f.rules, f.used_ns / 1_000_000);
                // And to NORMAL's learning table (OVS's XC_NORMAL entries).
                of.refresh_learning(&f.ukey, &f.rules, f.used_ns / 1_000_000);
            }
            let idle_ms = now.saturating_sub(f.used_ns) / 1_000_000;
            if kill_all || (idle_ms >= max_idle_ms && !keep_idle(id)) {
                plan.dead.push(id);
                continue;
            }
            if rules_changed {
                let t = of.translate(&f.ukey, false);
                // Keep only if the new translation needs no bit the
                // installed flow wildcards (OVS `flow_wildcards_has_extra`).
                if !t.mask.is_subset_of(&f.mask) {
                    plan.dead.push(id);
                    continue;
                }
                if t.rules[..] != f.rules[..] {
                    plan.relinked.push((id, t.rules));
                }
                if t.actions != f.actions {
                    plan.modified.push((id, t.actions));
                }
            }
        }
        plan
    }

    /// Applies a plan from [`Pmd::plan_revalidation`] and adapts the dynamic
    /// flow limit as [`Pmd::revalidate`] does. Returns (deleted, modified).
    pub fn apply_revalidation(&mut self, plan: RevalidationPlan) -> (usize, usize) {
        let modified = plan.modified.len();
        for (id, actions) in plan.modified {
            if let Some(f) = self.flows.get_mut(id as usize).and_then(|f| f.as_mut()) {
                f.actions = actions;
            }
        }
        for (id, rules) in plan.relinked {
            if let Some(f) = self.flows.get_mut(id as usize).and_then(|f| f.as_mut()) {
                f.rules = rules;
            }
        }
        self.of_generation = plan.generation;
        self.stats.flows_modified += modified as u64;
        let n_dead = self.delete_flows(&plan.dead);
        // OVS udpif_revalidator: adapt the flow limit to the dump duration.
        let ms = plan.started.map_or(0, |t| t.elapsed().as_millis() as usize);
        let mut fl = self.dynamic_limit;
        if ms > 2000 {
            fl /= ms / 1000;
        } else if ms > 1300 {
            fl = fl * 3 / 4;
        } else if ms < 1000 && self.n_flows > 2000 && fl < self.n_flows * 1000 / ms.max(1) {
            fl += 1000;
        }
        self.dynamic_limit = fl.max(1000).min(self.config.flow_limit);
        (n_dead, modified)
    }

    /// Deletes the given flows (unknown ids are skipped); their ids are
    /// reused only after the EMC entries pointing to them are swept.
    /// Returns how many were deleted.
    pub fn delete_flows(&mut self, ids: &[FlowId]) -> usize {
        let dead: Vec<FlowId> = ids
            .iter()
            .copied()
            .filter(|&id| self.delete(id).is_some())
            .collect();
        let n = dead.len();
        self.release_dead(dead);
        n
    }
}
