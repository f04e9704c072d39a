//! OpenFlow rule statistics and the flow-mod commands (`add-flow`,
//! `del-flows`, `mod-flows`, `replace-flows`, `dump-flows`).
//!
//! Rule counters are what OVS's `ovs-ofctl dump-flows` prints: every packet
//! that went through a rule. The megaflows carry most of them: their counts
//! are pushed to the rules they were translated through (OVS's xlate cache)
//! before any pass that may delete or re-link a megaflow, so nothing is
//! lost when rules change. The packet that made an upcall is in no
//! megaflow's count; the datapath reports it ([`Pmd::uncounted`]) and it is
//! credited to its rules directly.

use crate::dpif::Pmd;
use crate::ofproto::parse::parse_rule;
use crate::ofproto::{OfProto, ParseError, Rule};
use crate::FlowId;
use serde::Serialize;
use std::time::Instant;

/// Counters of one rule.
#[derive(Clone, Copy, Debug)]
pub struct RuleCounters {
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
    /// When the rule was added (kept by `mod-flows`).
    pub added: Instant,
}

/// Per-rule counters, and what was already pushed from each megaflow of
/// each packet thread (megaflow ids are per thread's datapath).
pub struct RuleStats {
    rules: Vec<RuleCounters>,
    pushed: Vec<Vec<(u64, u64)>>,
}

impl RuleStats {
    /// Counters for the rules of `of`, all zero, added now.
    pub fn new(of: &OfProto) -> Self {
        let mut s = RuleStats {
            rules: Vec::new(),
            pushed: Vec::new(),
        };
        s.sync_len(of);
        s
    }

    fn sync_len(&mut self, of: &OfProto) {
        let now = Instant::now();
        while self.rules.len() < of.rules.len() {
            self.rules.push(RuleCounters {
                packets: 0,
                bytes: 0,
                added: now,
            });
        }
    }

    /// Counters of rule `id`.
    pub fn get(&self, id: u32) -> Option<&RuleCounters> {
        self.rules.get(id as usize)
    }

    fn credit(&mut self, rules: &[u32], packets: u64, bytes: u64) {
        for &r in rules {
            if let Some(c) = self.rules.get_mut(r as usize) {
                c.packets += packets;
                c.bytes += bytes;
            }
        }
    }

    /// Credits the upcall packets `pmd` recorded since the last call.
    pub fn take_uncounted(&mut self, pmd: &mut Pmd) {
        if let Some(u) = pmd.uncounted.as_mut() {
            let mut v = std::mem::take(u);
            for (rules, len) in v.drain(..) {
                for &r in rules.iter() {
                    if let Some(c) = self.rules.get_mut(r as usize) {
                        c.packets += 1;
                        c.bytes += len;
                    }
                }
            }
            // Hand the (empty) buffer back: no allocation per burst.
            if let Some(u) = pmd.uncounted.as_mut() {
                *u = v;
            }
        }
    }

    fn pushed_of(&mut self, thread: usize) -> &mut Vec<(u64, u64)> {
        if self.pushed.len() <= thread {
            self.pushed.resize_with(thread + 1, Vec::new);
        }
        &mut self.pushed[thread]
    }

    /// Pushes every megaflow's counts since the last push to its rules;
    /// `pmd` is packet thread `thread`'s datapath. Call before anything
    /// that deletes or re-links megaflows, and after the datapath synced
    /// its hardware counters.
    pub fn push(&mut self, thread: usize, pmd: &Pmd) {
        for (id, f) in pmd.flows() {
            let i = id as usize;
            let pushed = self.pushed_of(thread);
            if pushed.len() <= i {
                pushed.resize(i + 1, (0, 0));
            }
            let (p0, b0) = pushed[i];
            let (dp, db) = (f.packets.saturating_sub(p0), f.bytes.saturating_sub(b0));
            if dp > 0 || db > 0 {
                pushed[i] = (f.packets, f.bytes);
                let rules = f.rules.clone();
                self.credit(&rules, dp, db);
            }
        }
    }

    /// Forgets what was pushed from megaflows that no longer exist (their
    /// ids may be reused by new flows, which start from zero).
    pub fn forget_deleted(&mut self, thread: usize, pmd: &Pmd) {
        for (i, p) in self.pushed_of(thread).iter_mut().enumerate() {
            if pmd.flow(i as FlowId).is_none() {
                *p = (0, 0);
            }
        }
    }

    /// Rule `new` replaces rule `old`'s actions: it keeps its counters and age.
    fn carry_over(&mut self, old: u32, new: u32) {
        if let Some(c) = self.rules.get(old as usize).copied() {
            if let Some(n) = self.rules.get_mut(new as usize) {
                *n = c;
            }
        }
    }
}

/// Which rules a `del-flows` / `mod-flows` / `dump-flows` selects.
#[derive(Clone, Debug)]
pub struct FlowFilter {
    /// The match (and table, priority) given.
    pub rule: Rule,
    /// Whether `table=` was given (else every table).
    pub table_given: bool,
    /// `--strict`: the same match and priority exactly, else every rule at
    /// least as specific that agrees with the match.
    pub strict: bool,
}

impl FlowFilter {
    /// Parses `MATCH` (no actions) as `ovs-ofctl del-flows` takes it.
    pub fn parse(text: &str, strict: bool) -> Result<Self, ParseError> {
        if text.contains("actions") {
            return Err(ParseError {
                file: "<string>".into(),
                line: 1,
                col: text.find("actions").map_or(1, |p| p + 1),
                msg: "a flow match takes no actions".into(),
            });
        }
        let with = if text.trim().is_empty() {
            "actions=drop".to_string()
        } else {
            format!("{text},actions=drop")
        };
        Ok(Self::from_rule(parse_rule(&with)?, text, strict))
    }

    fn from_rule(rule: Rule, text: &str, strict: bool) -> Self {
        let table_given = text
            .split([',', ' '])
            .any(|t| t.trim_start().starts_with("table="));
        FlowFilter {
            rule,
            table_given,
            strict,
        }
    }

    /// Whether `r` is selected.
    pub fn selects(&self, r: &Rule) -> bool {
        if self.table_given && r.table != self.rule.table {
            return false;
        }
        let g = &self.rule.m;
        if self.strict {
            return r.m == *g && r.priority == self.rule.priority;
        }
        g.mask.is_subset_of(&r.m.mask) && r.m.value.masked(&g.mask) == g.value
    }
}

/// The live rules `f` selects (all live rules when `f` is None), ordered as
/// `ovs-ofctl dump-flows` lists them: by table, then priority, highest first.
pub fn selected(of: &OfProto, f: Option<&FlowFilter>) -> Vec<u32> {
    let mut ids: Vec<u32> = (0..of.rules.len() as u32)
        .filter(|&id| of.is_live(id))
        .filter(|&id| f.is_none_or(|f| f.selects(&of.rules[id as usize])))
        .collect();
    ids.sort_by_key(|&id| {
        let r = &of.rules[id as usize];
        (r.table, std::cmp::Reverse(r.priority), id)
    });
    ids
}

/// What a flow-mod did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FlowModResult {
    /// Rules added.
    pub added: usize,
    /// Rules whose actions changed.
    pub modified: usize,
    /// Rules deleted.
    pub deleted: usize,
}

/// Adds `rules` at `now_ms` (a rule with the same table, match and priority
/// as a live one replaces it, with fresh counters, as OpenFlow's ADD does).
pub fn add(of: &mut OfProto, st: &mut RuleStats, rules: Vec<Rule>, now_ms: u64) -> FlowModResult {
    let n = rules.len();
    for r in rules {
        of.add_rule_at(r, now_ms);
    }
    st.sync_len(of);
    FlowModResult {
        added: n,
        ..Default::default()
    }
}

/// Deletes the rules `f` selects; returns them with their final counters
/// (as OpenFlow's flow-removed messages carry them), so no packet a deleted
/// rule saw goes uncounted. Counters must have been pushed first.
pub fn delete(of: &mut OfProto, st: &RuleStats, f: &FlowFilter) -> (FlowModResult, Vec<RuleDump>) {
    let ids = selected(of, Some(f));
    let removed: Vec<RuleDump> = ids
        .iter()
        .filter_map(|&id| RuleDump::new(of, st, id))
        .collect();
    let deleted = ids
        .iter()
        .filter(|&&id| of.delete_rule(id).is_some())
        .count();
    (
        FlowModResult {
            deleted,
            ..Default::default()
        },
        removed,
    )
}

/// Gives the rules `f` selects the actions of `f.rule` (counters and age kept).
pub fn modify(
    of: &mut OfProto,
    st: &mut RuleStats,
    f: &FlowFilter,
    actions_from: &Rule,
    now_ms: u64,
) -> FlowModResult {
    let ids = selected(of, Some(f));
    let mut modified = 0;
    for id in ids {
        let old = &of.rules[id as usize];
        if old.actions == actions_from.actions {
            continue;
        }
        let mut r = old.clone();
        r.actions = actions_from.actions.clone();
        r.actions_text = actions_from.actions_text.clone();
        let new = of.add_rule_at(r, now_ms);
        st.sync_len(of);
        st.carry_over(id, new);
        modified += 1;
    }
    FlowModResult {
        modified,
        ..Default::default()
    }
}

/// Makes the tables hold exactly `rules` (as `ovs-ofctl replace-flows`):
/// rules absent from `rules` are deleted, new ones added, and rules with
/// the same table, match and priority but other actions or timeouts
/// modified (counters kept); identical ones are left alone.
pub fn replace(
    of: &mut OfProto,
    st: &mut RuleStats,
    rules: Vec<Rule>,
    now_ms: u64,
) -> FlowModResult {
    let mut res = FlowModResult::default();
    let same_slot =
        |a: &Rule, b: &Rule| a.table == b.table && a.priority == b.priority && a.m == b.m;
    let live = selected(of, None);
    for &id in &live {
        if !rules.iter().any(|r| same_slot(r, &of.rules[id as usize])) {
            of.delete_rule(id);
            res.deleted += 1;
        }
    }
    for r in rules {
        let old = live
            .iter()
            .copied()
            .find(|&id| of.is_live(id) && same_slot(&r, &of.rules[id as usize]));
        match old {
            Some(id) => {
                let o = &of.rules[id as usize];
                if o.actions == r.actions
                    && o.cookie == r.cookie
                    && o.idle_timeout == r.idle_timeout
                    && o.hard_timeout == r.hard_timeout
                {
                    continue;
                }
                let new = of.add_rule_at(r, now_ms);
                st.sync_len(of);
                st.carry_over(id, new);
                res.modified += 1;
            }
            None => {
                of.add_rule_at(r, now_ms);
                res.added += 1;
            }
        }
    }
    st.sync_len(of);
    res
}

/// One rule as `ovs-ofctl dump-flows` reports it.
#[derive(Clone, Debug, Serialize)]
pub struct RuleDump {
    /// Cookie.
    pub cookie: u64,
    /// Seconds since added.
    pub duration: f64,
    /// Table.
    pub table: u8,
    /// Packets.
    pub n_packets: u64,
    /// Bytes.
    pub n_bytes: u64,
    /// Idle timeout, s (0: none).
    pub idle_timeout: u16,
    /// Hard timeout, s (0: none).
    pub hard_timeout: u16,
    /// Priority.
    pub priority: u16,
    /// Match, as written.
    #[serde(rename = "match")]
    pub match_text: String,
    /// Actions, as written.
    pub actions: String,
}

impl RuleDump {
    /// Rule `id` of `of` with its counters.
    pub fn new(of: &OfProto, st: &RuleStats, id: u32) -> Option<Self> {
        let r = of.rules.get(id as usize)?;
        let c = st.get(id)?;
        Some(RuleDump {
            cookie: r.cookie,
            duration: c.added.elapsed().as_secs_f64(),
            table: r.table,
            n_packets: c.packets,
            n_bytes: c.bytes,
            idle_timeout: r.idle_timeout,
            hard_timeout: r.hard_timeout,
            priority: r.priority,
            match_text: r.match_text.clone(),
            actions: r.actions_text.clone(),
        })
    }
}

impl std::fmt::Display for RuleDump {
    /// ` cookie=0x0, duration=1.234s, table=0, n_packets=3, n_bytes=294,
    /// priority=100,ip actions=output:2`, as `ovs-ofctl dump-flows`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            " cookie={:#x}, duration={:.3}s, table={}, n_packets={}, n_bytes={}, ",
            self.cookie, self.duration, self.table, self.n_packets, self.n_bytes
        )?;
        if self.idle_timeout > 0 {
            write!(f, "idle_timeout={}, ", self.idle_timeout)?;
        }
        if self.hard_timeout > 0 {
            write!(f, "hard_timeout={}, ", self.hard_timeout)?;
        }
        // OVS leaves out the default priority (32768).
        let mut m = String::new();
        if self.priority != crate::ofproto::parse::DEFAULT_PRIORITY {
            m = format!("priority={}", self.priority);
        }
        if !self.match_text.is_empty() {
            if !m.is_empty() {
                m.push(',');
            }
            m.push_str(&self.match_text);
        }
        if !m.is_empty() {
            write!(f, "{m} ")?;
        }
        write!(f, "actions={}", self.actions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ofproto::{parse_rules, Prefixes};

    fn table(text: &str) -> (OfProto, RuleStats) {
        let of = OfProto::with_rules(parse_rules(text, "t").unwrap(), Prefixes::default());
        let st = RuleStats::new(&of);
        (of, st)
    }

    fn dump(of: &OfProto) -> Vec<String> {
        selected(of, None)
            .iter()
            .map(|&id| {
                let r = &of.rules[id as usize];
                format!("{} {} {}", r.priority, r.match_text, r.actions_text)
            })
            .collect()
    }

    #[test]
    fn non_strict_delete_takes_more_specific_rules_only() {
        let (mut of, st) = table(
            "priority=10,ip,nw_dst=10.0.0.1,actions=output:2\n\
             priority=20,ip,actions=output:3\n\
             priority=5,udp,nw_dst=10.0.0.1,tp_dst=53,actions=output:4\n\
             priority=1,actions=drop\n",
        );
        let f = FlowFilter::parse("ip,nw_dst=10.0.0.1", false).unwrap();
        assert_eq!(delete(&mut of, &st, &f).0.deleted, 2);
        assert_eq!(dump(&of), vec!["20 ip output:3", "1  drop"]);
        // Strict: the same match and priority only.
        let f = FlowFilter::parse("priority=21,ip", true).unwrap();
        assert_eq!(delete(&mut of, &st, &f).0.deleted, 0);
        let f = FlowFilter::parse("priority=20,ip", true).unwrap();
        assert_eq!(delete(&mut of, &st, &f).0.deleted, 1);
        // An empty match deletes everything.
        let f = FlowFilter::parse("", false).unwrap();
        assert_eq!(delete(&mut of, &st, &f).0.deleted, 1);
        assert_eq!(of.n_rules(), 0);
    }

    #[test]
    fn filters_reject_actions_and_bad_fields() {
        assert!(FlowFilter::parse("ip,actions=drop", false).is_err());
        let e = FlowFilter::parse("ip,nw_dts=1.2.3.4", false).unwrap_err();
        assert!(e.to_string().contains("nw_dts"), "{e}");
    }

    #[test]
    fn modify_keeps_counters_and_replace_computes_the_difference() {
        let (mut of, mut st) = table(
            "priority=10,ip,actions=output:2\n\
             priority=5,arp,actions=output:3\n",
        );
        st.credit(&[0], 7, 700);
        let f = FlowFilter::parse("ip", false).unwrap();
        let new = parse_rule("actions=output:9").unwrap();
        assert_eq!(modify(&mut of, &mut st, &f, &new, 0).modified, 1);
        let ip = selected(&of, Some(&f))[0];
        assert_ne!(ip, 0);
        assert_eq!(st.get(ip).unwrap().packets, 7);
        assert_eq!(dump(&of), vec!["10 ip output:9", "5 arp output:3"]);
        // Same actions again: nothing to modify.
        assert_eq!(modify(&mut of, &mut st, &f, &new, 0).modified, 0);
        let r = replace(
            &mut of,
            &mut st,
            parse_rules(
                "priority=10,ip,actions=output:4\npriority=7,ipv6,actions=drop\n",
                "t",
            )
            .unwrap(),
            0,
        );
        assert_eq!(
            r,
            FlowModResult {
                added: 1,
                modified: 1,
                deleted: 1
            }
        );
        assert_eq!(dump(&of), vec!["10 ip output:4", "7 ipv6 drop"]);
        let ip = selected(&of, Some(&f))[0];
        assert_eq!(st.get(ip).unwrap().packets, 7);
    }

    #[test]
    fn dump_line_is_in_ovs_ofctl_format() {
        let (of, mut st) = table(
            "priority=100,ip,nw_dst=10.0.0.1,idle_timeout=30,actions=output:2\nactions=drop\n",
        );
        st.credit(&[0], 3, 294);
        let d = RuleDump::new(&of, &st, 0).unwrap().to_string();
        let d = d.replacen(
            &d[d.find("duration=").unwrap()..d.find("s, table").unwrap() + 1],
            "duration=Xs",
            1,
        );
        assert_eq!(
            d,
            " cookie=0x0, duration=Xs, table=0, n_packets=3, n_bytes=294, idle_timeout=30, priority=100,ip,nw_dst=10.0.0.1 actions=output:2"
        );
        let d = RuleDump::new(&of, &st, 1).unwrap().to_string();
        assert!(d.ends_with("n_packets=0, n_bytes=0, actions=drop"), "{d}");
    }
}
