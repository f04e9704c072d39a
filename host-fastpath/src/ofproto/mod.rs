//! Slow path: OpenFlow-style rule tables, translation and megaflow wildcards.
//!
//! [`parse`] reads rules in `ovs-ofctl add-flows` syntax; [`classifier`]
//! finds the matching rule in a table while recording every bit it consulted
//! (staged lookup, prefix tries, port tries, as Open vSwitch); [`xlate`]
//! walks the tables and turns a flow into datapath actions plus the megaflow
//! mask; [`format`] prints megaflows as `ofproto/trace` and `dpctl/dump-flows` do.

pub mod classifier;
pub mod fields;
pub mod flow;
pub mod format;
pub mod groups;
pub mod learn;
pub mod mac;
pub mod ofctl;
pub mod parse;
pub mod port;
pub mod rule_ids;
pub mod trie;
pub mod xlate;

pub use classifier::{Classifier, MAX_TRIES};
pub use fields::Mf;
pub use flow::Flow;
pub use parse::{parse_flow, parse_rules, Action, Match, ParseError, Rule};
pub use rule_ids::RuleIds;
pub use xlate::Translation;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Errors loading a rule table.
#[derive(Debug, thiserror::Error)]
pub enum OfprotoError {
    /// The rule file could not be read as bounded UTF-8 text.
    #[error(transparent)]
    Text(#[from] crate::io::text::TextError),
    /// A line did not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// A bad `--prefixes` list.
    #[error("--prefixes: {0}")]
    Prefixes(String),
    /// A bad group file, or a rule naming a group it lacks.
    #[error(transparent)]
    Groups(#[from] groups::GroupError),
}

/// Fields with address prefix tracking (`--prefixes`).
#[derive(Clone, Debug)]
pub struct Prefixes(pub Vec<&'static Mf>);

impl Default for Prefixes {
    /// nw_dst, nw_src, ipv6_dst, ipv6_src: current Open vSwitch's default.
    fn default() -> Self {
        Prefixes(
            ["nw_dst", "nw_src", "ipv6_dst", "ipv6_src"]
                .iter()
                .map(|n| fields::named(n))
                .collect(),
        )
    }
}

impl std::str::FromStr for Prefixes {
    type Err = OfprotoError;
    /// `none` or a comma-separated list of at most 4 address fields, no duplicates.
    fn from_str(s: &str) -> Result<Self, OfprotoError> {
        let s = s.trim();
        if s == "none" {
            return Ok(Prefixes(Vec::new()));
        }
        let mut out: Vec<&'static Mf> = Vec::new();
        for name in s.split(',').map(str::trim) {
            let mf = fields::by_name(name)
                .filter(|m| matches!(m.syntax, fields::Syntax::Ipv4 | fields::Syntax::Ipv6) && !m.name.starts_with("arp"))
                .ok_or_else(|| {
                    OfprotoError::Prefixes(format!(
                        "`{name}` is not a prefix-trackable field (expected nw_src, nw_dst, ipv6_src or ipv6_dst)"
                    ))
                })?;
            if out.iter().any(|m| std::ptr::eq(*m, mf)) {
                return Err(OfprotoError::Prefixes(format!("`{name}` is listed twice")));
            }
            out.push(mf);
        }
        if out.len() > MAX_TRIES {
            return Err(OfprotoError::Prefixes(format!(
                "at most {MAX_TRIES} fields, found {}",
                out.len()
            )));
        }
        Ok(Prefixes(out))
    }
}

/// A bridge's OpenFlow tables.
pub struct OfProto {
    /// Every rule ever added, indexed by rule id (replaced, deleted and
    /// expired rules stay, unreachable, so ids never move).
    pub rules: Vec<Rule>,
    life: Vec<RuleLife>,
    tables: Vec<Option<Classifier>>,
    /// Live conjunctive-clause rules of each table, kept out of its
    /// classifier: a lookup looks at all of them above its best match.
    conj: Vec<Vec<u32>>,
    /// Live rules of each table that match on `conj_id` (also in its classifier).
    conj_id_rules: Vec<Vec<u32>>,
    prefixes: Prefixes,
    /// When false, every megaflow is an exact match (`--no-megaflows`).
    pub megaflows: bool,
    /// IP fragment handling (`ovs-ofctl set-frags`).
    pub frags: FragMode,
    generation: u64,
    /// The datapath's OpenFlow ports, sorted (see [`OfProto::set_ports`]).
    ports: Option<Vec<u32>>,
    /// NORMAL's MAC learning table: written by packet threads holding `&self`.
    mac: std::sync::Mutex<mac::MacTable>,
    /// Changes of `mac` that translation sees (part of [`OfProto::generation`]).
    mac_generation: AtomicU64,
    /// The group table (`group:N` actions).
    groups: groups::GroupTable,
    /// Rules `learn` actions taught, waiting for [`OfProto::apply_learned`]
    /// (packet threads hold `&self`), with the time they were learned.
    learned: std::sync::Mutex<Vec<(Rule, u32, u64)>>,
    /// The clock of the last [`OfProto::expire`]: a rule learned from use
    /// before its timeouts would have passed by then is not learned.
    expired_ms: AtomicU64,
}

/// The first group a rule's actions name that `t` lacks.
fn missing_group(acts: &[Action], t: &groups::GroupTable) -> Option<u32> {
    acts.iter().find_map(|a| match a {
        Action::Group(g) if t.get(*g).is_none() => Some(*g),
        Action::WriteActions(inner) | Action::Clone(inner) => missing_group(inner, t),
        _ => None,
    })
}

/// How translation treats IP fragments, as `ovs-ofctl set-frags`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FragMode {
    /// Open vSwitch's default: L4 ports (ICMP type and code) of every
    /// fragment, first included, read as 0.
    #[default]
    Normal,
    /// First fragments keep their ports; later ones read as 0.
    NxMatch,
    /// Fragments are dropped.
    Drop,
}

impl std::str::FromStr for FragMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "normal" => Ok(FragMode::Normal),
            "nx-match" => Ok(FragMode::NxMatch),
            "drop" => Ok(FragMode::Drop),
            _ => Err(format!(
                "`{s}`: expected a fragment handling mode normal, nx-match or drop"
            )),
        }
    }
}

/// When a rule was added and last used, in ms on the datapath clock.
///
/// `used_ms` is atomic so packet threads holding `&OfProto` can record use
/// (at an upcall, and when megaflow statistics are pushed back at
/// revalidation, as Open vSwitch's xlate cache does) while expiry, which
/// needs `&mut`, runs between passes.
#[derive(Debug)]
struct RuleLife {
    /// Added or last modified (a `learn` refreshing the rule resets it, as
    /// OVS's `rule->modified`, which the hard timeout counts from).
    added_ms: AtomicU64,
    used_ms: AtomicU64,
    live: bool,
}

/// Why a rule left its table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemovedReason {
    /// No packet matched it for `idle_timeout` seconds.
    IdleTimeout,
    /// `hard_timeout` seconds passed since it was added.
    HardTimeout,
    /// Deleted by a request.
    Delete,
}

/// A rule taken out of its table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemovedRule {
    /// Rule id (index into [`OfProto::rules`]).
    pub id: u32,
    /// Why.
    pub reason: RemovedReason,
}

impl OfProto {
    /// Empty tables.
    pub fn new(prefixes: Prefixes) -> Self {
        Self {
            rules: Vec::new(),
            life: Vec::new(),
            tables: Vec::new(),
            conj: Vec::new(),
            conj_id_rules: Vec::new(),
            prefixes,
            megaflows: true,
            frags: FragMode::Normal,
            generation: 0,
            ports: None,
            mac: Default::default(),
            mac_generation: AtomicU64::new(0),
            groups: Default::default(),
            learned: Default::default(),
            expired_ms: AtomicU64::new(0),
        }
    }

    /// Tables holding `rules`.
    pub fn with_rules(rules: Vec<Rule>, prefixes: Prefixes) -> Self {
        let mut o = Self::new(prefixes);
        for r in rules {
            o.add_rule(r);
        }
        for c in o.tables.iter_mut().flatten() {
            c.compact();
        }
        o
    }

    /// Reads and installs a rule file: all or nothing. The file is read
    /// within [`crate::io::text::Limits::default`] (size, line length, UTF-8,
    /// no NUL or byte-order mark), and tokens an error quotes are shortened.
    pub fn load(path: &Path, prefixes: Prefixes) -> Result<Self, OfprotoError> {
        use crate::io::text::{read_text, shorten_words, Limits};
        let text = read_text(path, &Limits::default())?;
        let rules = parse_rules(&text, &path.display().to_string()).map_err(|mut e| {
            e.msg = shorten_words(&e.msg).into_owned();
            e
        })?;
        Ok(Self::with_rules(rules, prefixes))
    }

    /// Adds one rule at time 0 (replacing one with the same table, match and
    /// priority).
    pub fn add_rule(&mut self, r: Rule) {
        self.add_rule_at(r, 0);
    }

    /// Adds one rule at `now_ms` on the datapath clock, which its
    /// `hard_timeout` and `idle_timeout` count from. Returns its id.
    pub fn add_rule_at(&mut self, r: Rule, now_ms: u64) -> u32 {
        let t = r.table as usize;
        if self.tables.len() <= t {
            self.tables.resize_with(t + 1, || None);
        }
        if self.conj.len() <= t {
            self.conj.resize_with(t + 1, Vec::new);
            self.conj_id_rules.resize_with(t + 1, Vec::new);
        }
        let id = self.rules.len() as u32;
        let cls = self.tables[t].get_or_insert_with(|| Classifier::new(&self.prefixes.0));
        // A rule replaces the one with its match and priority, conjunctive or not.
        let mut old = if r.is_conjunctive() {
            cls.remove(&r.m, r.priority)
        } else {
            cls.insert(&r.m, r.priority, id)
        };
        let rules = &self.rules;
        if let Some(i) = self.conj[t].iter().position(|&c| {
            let o = &rules[c as usize];
            o.priority == r.priority && o.m == r.m
        }) {
            old = Some(self.conj[t].swap_remove(i));
        }
        if r.is_conjunctive() {
            self.conj[t].push(id);
        }
        if let Some(old) = old {
            self.conj_id_rules[t].retain(|&c| c != old);
        }
        if r.m.mask.conj_id() != 0 && !r.is_conjunctive() {
            self.conj_id_rules[t].push(id);
        }
        if let Some(old) = old {
            if let Some(l) = self.life.get_mut(old as usize) {
                l.live = false;
            }
        }
        self.rules.push(r);
        self.generation += 1;
        self.life.push(RuleLife {
            added_ms: AtomicU64::new(now_ms),
            used_ms: AtomicU64::new(now_ms),
            live: true,
        });
        id
    }

    /// Sets the OpenFlow ports that exist (include [`port::OFPP_LOCAL`] for
    /// a bridge with a local port): FLOOD, ALL and NORMAL output to them, and
    /// output to any other port does nothing, as in Open vSwitch. Until this
    /// is called every port number but 0 exists and floods reach no port.
    /// A change counts as a rule change (flows are re-translated).
    pub fn set_ports(&mut self, ports: impl IntoIterator<Item = u32>) {
        let mut v: Vec<u32> = ports.into_iter().filter(|&p| p != 0).collect();
        v.sort_unstable();
        v.dedup();
        if self.ports.as_ref() != Some(&v) {
            let mac = self.mac.get_mut().unwrap_or_else(|e| e.into_inner());
            if let Some(old) = &self.ports {
                for p in old.iter().filter(|p| v.binary_search(p).is_err()) {
                    mac.forget_port(*p);
                }
            }
            self.ports = Some(v);
            self.generation += 1;
        }
    }

    fn macs(&self) -> std::sync::MutexGuard<'_, mac::MacTable> {
        // A panic elsewhere cannot leave the table inconsistent: use it.
        self.mac.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The port NORMAL learned `mac` on in `vlan`.
    pub fn mac_lookup(&self, vlan: u16, mac: u64) -> Option<u32> {
        self.macs().lookup(vlan, mac)
    }

    /// Applies what a translation learned ([`Translation::learn`]) at
    /// `now_ms`. A change bumps [`OfProto::generation`], so revalidation
    /// re-translates the megaflows (OVS revalidates on MAC table changes).
    pub fn learn(&self, learned: &[mac::MacLearn], now_ms: u64) {
        if learned.is_empty() {
            return;
        }
        let mut t = self.macs();
        let mut changed = false;
        for l in learned {
            changed |= t.learn(*l, now_ms);
        }
        if changed {
            self.mac_generation.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Ages the MAC learning table at `now_ms`; entries removed.
    pub fn expire_macs(&self, now_ms: u64) -> usize {
        let n = self.macs().expire(now_ms);
        if n > 0 {
            self.mac_generation.fetch_add(1, Ordering::Relaxed);
        }
        n
    }

    /// Sets the learning table's aging time and size (OVS `mac-aging-time`, `mac-table-size`).
    pub fn set_mac_config(&self, idle_s: u64, max: usize) {
        let mut t = self.macs();
        t.idle_ms = idle_s.saturating_mul(1000);
        t.max = max;
    }

    /// MAC learning entries.
    pub fn n_macs(&self) -> usize {
        self.macs().len()
    }

    /// Whether any of these rules outputs to NORMAL (its megaflows refresh
    /// the learning table when they carry traffic).
    pub fn uses_normal(&self, rules: &[u32]) -> bool {
        fn normal(a: &[Action]) -> bool {
            a.iter().any(|a| match a {
                Action::Output(p) => *p == port::OFPP_NORMAL,
                Action::WriteActions(inner) | Action::Clone(inner) => normal(inner),
                _ => false,
            })
        }
        rules.iter().any(|&id| {
            self.rules
                .get(id as usize)
                .is_some_and(|r| normal(&r.actions))
        })
    }

    /// Refreshes the learning table for a megaflow that carried traffic
    /// until `used_ms` (OVS pushes it through the xlate cache's XC_NORMAL
    /// entries): re-translates `key` when `rules` use NORMAL.
    /// Learned rules are refreshed (or learned again) the same way (OVS's
    /// XC_LEARN entries).
    pub fn refresh_learning(&self, key: &abi::FlowKey, rules: &[u32], used_ms: u64) {
        if self.uses_normal(rules) || self.uses_learn(rules) {
            let t = self.translate(key, false);
            self.learn(&t.learn, used_ms);
            self.learn_flows(&t.learned, used_ms);
        }
    }

    /// Installs the groups of an `add-groups` file (`--groups`; None: no
    /// groups), read within the rule file's limits. Rules naming a group
    /// the file lacks are refused, as OVS refuses such a flow mod.
    pub fn load_groups(&mut self, path: Option<&Path>) -> Result<(), OfprotoError> {
        use crate::io::text::{read_text, shorten_words, Limits};
        let t = match path {
            Some(p) => {
                let text = read_text(p, &Limits::default())?;
                groups::GroupTable::from_text(&text, &p.display().to_string()).map_err(
                    |e| match e {
                        groups::GroupError::Parse { file, line, msg } => {
                            groups::GroupError::Parse {
                                file,
                                line,
                                msg: shorten_words(&msg).into_owned(),
                            }
                        }
                        e => e,
                    },
                )?
            }
            None => groups::GroupTable::default(),
        };
        Ok(self.set_groups(t)?)
    }

    /// Adds a group (OFPGC_ADD, with ovs-vswitchd's errors). A rule change.
    pub fn add_group(&mut self, g: groups::Group) -> Result<(), groups::GroupError> {
        self.groups.add(g)?;
        self.generation += 1;
        Ok(())
    }

    /// Deletes group `id` (`groups::OFPG_ALL`: all) and, as Open vSwitch
    /// does, every live rule whose actions name a deleted group. Returns
    /// the number of groups deleted and the rules removed.
    pub fn delete_groups(&mut self, id: u32) -> (usize, Vec<RemovedRule>) {
        let n = self.groups.delete(id);
        let mut removed = Vec::new();
        if n > 0 {
            self.generation += 1;
            let dangling: Vec<u32> = (0..self.rules.len() as u32)
                .filter(|&r| {
                    self.is_live(r)
                        && missing_group(&self.rules[r as usize].actions, &self.groups).is_some()
                })
                .collect();
            removed.extend(dangling.into_iter().filter_map(|r| self.delete_rule(r)));
        }
        (n, removed)
    }

    /// `OFPBAC_BAD_OUT_GROUP` if `r` names a group the table lacks (OVS
    /// refuses such a flow mod).
    pub fn check_rule_groups(&self, r: &Rule) -> Result<(), groups::GroupError> {
        match missing_group(&r.actions, &self.groups) {
            Some(g) => Err(groups::GroupError::Refused {
                group: g,
                code: "OFPBAC_BAD_OUT_GROUP",
            }),
            None => Ok(()),
        }
    }

    /// The group table.
    pub fn groups(&self) -> &groups::GroupTable {
        &self.groups
    }

    /// Replaces the group table; every live rule's `group:N` must name a
    /// group in it (else OVS's `OFPBAC_BAD_OUT_GROUP`). A rule change.
    pub fn set_groups(&mut self, t: groups::GroupTable) -> Result<(), groups::GroupError> {
        for (id, r) in self.rules.iter().enumerate() {
            if !self.life.get(id).is_some_and(|l| l.live) {
                continue;
            }
            if let Some(g) = missing_group(&r.actions, &t) {
                return Err(groups::GroupError::Refused {
                    group: g,
                    code: "OFPBAC_BAD_OUT_GROUP",
                });
            }
        }
        self.groups = t;
        self.generation += 1;
        Ok(())
    }

    /// The configured ports, if [`OfProto::set_ports`] was called.
    pub fn ports(&self) -> Option<&[u32]> {
        self.ports.as_deref()
    }

    /// Whether output to `port` reaches a port (0 never does).
    pub fn port_exists(&self, port: u32) -> bool {
        port != 0
            && self
                .ports
                .as_ref()
                .is_none_or(|v| v.binary_search(&port).is_ok())
    }

    /// Counts rule additions and removals, port set and MAC learning
    /// changes: a datapath that revalidated at
    /// another generation must re-translate its flows.
    pub fn generation(&self) -> u64 {
        self.generation + self.mac_generation.load(Ordering::Relaxed)
    }

    /// Starts loading what translating through rule `id` and stamping its
    /// use read (its actions and its use stamp), while the lookup goes on.
    #[inline]
    pub(crate) fn prefetch_rule(&self, id: u32) {
        if let Some(r) = self.rules.get(id as usize) {
            crate::dpcls::prefetch::prefetch(&r.actions);
        }
        if let Some(l) = self.life.get(id as usize) {
            crate::dpcls::prefetch::prefetch(l);
        }
    }

    /// Records that packets matched these rules at `now_ms` (for
    /// `idle_timeout`). Unknown ids are ignored.
    pub fn note_used(&self, rules: &[u32], now_ms: u64) {
        for &id in rules {
            if let Some(l) = self.life.get(id as usize) {
                // Load and store, not a locked read-modify-write: this runs
                // on every upcall, and a race between packet threads can only
                // keep a stamp a moment older.
                if l.used_ms.load(Ordering::Relaxed) < now_ms {
                    l.used_ms.store(now_ms, Ordering::Relaxed);
                }
            }
        }
    }

    /// Whether rule `id` is still in its table.
    pub fn is_live(&self, id: u32) -> bool {
        self.life.get(id as usize).is_some_and(|l| l.live)
    }

    /// Last use of rule `id` in ms (its addition time if never matched).
    pub fn used_ms(&self, id: u32) -> Option<u64> {
        self.life
            .get(id as usize)
            .map(|l| l.used_ms.load(Ordering::Relaxed))
    }

    /// Deletes rule `id` from its table; `None` if it is not live.
    pub fn delete_rule(&mut self, id: u32) -> Option<RemovedRule> {
        self.remove(id, RemovedReason::Delete)
    }

    /// Removes every rule whose `hard_timeout` or `idle_timeout` has passed
    /// at `now_ms`, as Open vSwitch's `ofproto_rule_expire` does (hard
    /// first). The caller revalidates its megaflows when this is non-empty.
    pub fn expire(&mut self, now_ms: u64) -> Vec<RemovedRule> {
        self.expired_ms.fetch_max(now_ms, Ordering::Relaxed);
        let mut out = Vec::new();
        for id in 0..self.rules.len() {
            let (r, l) = (&self.rules[id], &self.life[id]);
            if !l.live || (r.hard_timeout == 0 && r.idle_timeout == 0) {
                continue;
            }
            let reason = if r.hard_timeout > 0
                && now_ms >= l.added_ms.load(Ordering::Relaxed) + u64::from(r.hard_timeout) * 1000
            {
                RemovedReason::HardTimeout
            } else if r.idle_timeout > 0
                && now_ms >= l.used_ms.load(Ordering::Relaxed) + u64::from(r.idle_timeout) * 1000
            {
                RemovedReason::IdleTimeout
            } else {
                continue;
            };
            out.extend(self.remove(id as u32, reason));
        }
        out
    }

    /// Removes `id`, then what its `learn(…,delete_learned)` actions taught
    /// once no live rule has such a learn any more (OVS's learned cookies).
    fn remove(&mut self, id: u32, reason: RemovedReason) -> Option<RemovedRule> {
        let r = self.remove_one(id, reason)?;
        for gone in self.learned_orphans(id) {
            self.remove(gone, RemovedReason::Delete);
        }
        Some(r)
    }

    fn remove_one(&mut self, id: u32, reason: RemovedReason) -> Option<RemovedRule> {
        let l = self.life.get_mut(id as usize).filter(|l| l.live)?;
        l.live = false;
        let r = &self.rules[id as usize];
        if r.is_conjunctive() {
            let list = self.conj.get_mut(r.table as usize)?;
            let i = list.iter().position(|&c| c == id)?;
            list.swap_remove(i);
            self.generation += 1;
            return Some(RemovedRule { id, reason });
        }
        if let Some(list) = self.conj_id_rules.get_mut(r.table as usize) {
            list.retain(|&c| c != id);
        }
        let cls = self.tables.get_mut(r.table as usize)?.as_mut()?;
        // The classifier holds one rule per (match, priority): it must be
        // this one, since a replaced rule is no longer live.
        let removed = cls.remove(&r.m, r.priority);
        debug_assert_eq!(removed, Some(id));
        self.generation += 1;
        Some(RemovedRule { id, reason })
    }

    /// Whether any live rule has a timeout (so callers can skip expiry).
    pub fn has_timeouts(&self) -> bool {
        self.rules
            .iter()
            .zip(&self.life)
            .any(|(r, l)| l.live && (r.idle_timeout > 0 || r.hard_timeout > 0))
    }

    /// Live conjunctive-clause rules of `table`.
    pub(crate) fn conj_rules(&self, table: u8) -> Option<&[u32]> {
        self.conj.get(table as usize).map(Vec::as_slice)
    }

    /// Live rules of `table` that match on `conj_id`.
    pub(crate) fn conj_id_rules(&self, table: u8) -> &[u32] {
        self.conj_id_rules
            .get(table as usize)
            .map_or(&[], Vec::as_slice)
    }

    /// Rules installed (not counting replaced ones).
    pub fn n_rules(&self) -> usize {
        self.tables.iter().flatten().map(|c| c.len()).sum::<usize>()
            + self.conj.iter().map(Vec::len).sum::<usize>()
    }

    /// Subtables over all tables.
    pub fn n_subtables(&self) -> usize {
        self.tables.iter().flatten().map(|c| c.n_subtables()).sum()
    }

    /// The prefix fields in use.
    pub fn prefixes(&self) -> &Prefixes {
        &self.prefixes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi::FlowKey;

    #[test]
    fn prefixes_parse() {
        assert_eq!("none".parse::<Prefixes>().unwrap().0.len(), 0);
        assert_eq!("nw_dst,ip_src".parse::<Prefixes>().unwrap().0.len(), 2);
        assert!("nw_dst,nw_dst".parse::<Prefixes>().is_err());
        assert!("nw_dst,ip_dst".parse::<Prefixes>().is_err());
        assert!("tp_dst".parse::<Prefixes>().is_err());
        assert!("nw_dst,nw_src,ipv6_dst,ipv6_src,nw_dst"
            .parse::<Prefixes>()
            .is_err());
        assert_eq!(Prefixes::default().0.len(), 4);
    }

    fn flow(text: &str) -> FlowKey {
        parse_flow(text).unwrap().key()
    }

    /// The action list the tables give `key` (datapath actions, formatted).
    fn actions(of: &OfProto, key: &FlowKey) -> String {
        format!("{:?}", of.translate(key, false).actions)
    }

    #[test]
    fn hard_and_idle_timeouts_remove_rules() {
        let rules = parse_rules(
            "priority=10,ip,nw_dst=10.0.0.1,hard_timeout=5,actions=output:2\n\
             priority=10,ip,nw_dst=10.0.0.2,idle_timeout=3,actions=output:3\n\
             priority=0,actions=output:9\n",
            "t",
        )
        .unwrap();
        let mut of = OfProto::new(Prefixes::default());
        let ids: Vec<u32> = rules
            .into_iter()
            .map(|r| of.add_rule_at(r, 1_000))
            .collect();
        assert!(of.has_timeouts());
        let k1 = flow("in_port=1,ip,nw_dst=10.0.0.1");
        let k2 = flow("in_port=1,ip,nw_dst=10.0.0.2");
        let (a1, a2, fallback) = (
            actions(&of, &k1),
            actions(&of, &k2),
            actions(&of, &flow("in_port=1,arp")),
        );
        assert_ne!(a1, fallback);
        assert_ne!(a2, fallback);
        // Use at 3.5 s keeps the idle rule until 6.5 s.
        of.note_used(&[ids[1]], 3_500);
        assert_eq!(of.expire(4_000), vec![]);
        assert_eq!(
            of.expire(6_000),
            vec![RemovedRule {
                id: ids[0],
                reason: RemovedReason::HardTimeout
            }]
        );
        assert_eq!(actions(&of, &k1), fallback);
        assert_eq!(actions(&of, &k2), a2);
        assert_eq!(
            of.expire(6_500),
            vec![RemovedRule {
                id: ids[1],
                reason: RemovedReason::IdleTimeout
            }]
        );
        assert_eq!(actions(&of, &k2), fallback);
        assert!(!of.is_live(ids[0]) && !of.is_live(ids[1]) && of.is_live(ids[2]));
        assert!(!of.has_timeouts());
        assert_eq!(of.n_rules(), 1);
        // Nothing is removed twice; the untimed rule stays.
        assert_eq!(of.expire(1_000_000), vec![]);
        assert_eq!(of.delete_rule(ids[0]), None);
        assert_eq!(
            of.delete_rule(ids[2]).map(|r| r.reason),
            Some(RemovedReason::Delete)
        );
        assert_eq!(of.n_rules(), 0);
    }

    #[test]
    fn replacing_a_rule_retires_the_old_one() {
        let mut of = OfProto::new(Prefixes::default());
        let r = parse_rules(
            "ip,hard_timeout=1,actions=output:2\nip,actions=output:3\n",
            "t",
        )
        .unwrap();
        let old = of.add_rule_at(r[0].clone(), 0);
        let new = of.add_rule_at(r[1].clone(), 0);
        assert!(!of.is_live(old) && of.is_live(new));
        // The replaced rule's hard timeout no longer applies.
        assert_eq!(of.expire(10_000), vec![]);
        assert_eq!(of.n_rules(), 1);
    }
}
