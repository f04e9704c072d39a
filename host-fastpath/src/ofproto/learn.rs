//! OpenFlow's `learn(...)` action (Nicira extension), as Open vSwitch's
//! `lib/learn.c`: parsing with `learn_parse`'s errors, the prerequisite
//! check of `learn_check`, printing as `learn_format`, and building the
//! flow mod a packet learns (`learn_execute`) and the megaflow bits it
//! reads (`learn_mask`).

use super::fields::{parse_subfield, Mf, Subfield, Syntax};
use super::flow::Flow;
use super::format::c_hex;
use super::ofctl::{format_actions, subfield, Dialect};
use super::parse::{
    key_values, match_guarantees, parse_action, parse_field_value, parse_uint, Action, Match, Rule,
    RuleMeta, FF_SEND_FLOW_REM,
};
use super::port::{format_port, OFPP_ALL, OFPP_FLOOD, OFPP_IN_PORT, OFPP_LOCAL, OFPP_MAX};
use super::OfProto;

/// `send_flow_rem`: the learned rule has the flag.
pub const LEARN_SEND_FLOW_REM: u16 = 1 << 0;
/// `delete_learned`: the learned rules go with the learning rule.
pub const LEARN_DELETE_LEARNED: u16 = 1 << 1;

/// Where a spec's bits come from.
#[derive(Clone, Debug, PartialEq)]
pub enum LearnSrc {
    /// The packet's field bits.
    Field(Subfield),
    /// A constant, right-aligned.
    Imm(u128),
}

/// What a spec does with its bits in the learned rule.
#[derive(Clone, Debug, PartialEq)]
pub enum LearnDst {
    /// Matched on these bits.
    Match(Subfield),
    /// Loaded into these bits by a `load` action.
    Load(Subfield),
    /// Output to the port they hold.
    Output,
}

/// One flow spec of a `learn` action.
#[derive(Clone, Debug, PartialEq)]
pub struct LearnSpec {
    /// Source.
    pub src: LearnSrc,
    /// Destination.
    pub dst: LearnDst,
    /// Number of bits.
    pub n_bits: u32,
}

/// A `learn(...)` action (OVS `struct ofpact_learn`).
#[derive(Clone, Debug, PartialEq)]
pub struct Learn {
    /// Table the rule is learned into (default 1).
    pub table: u8,
    /// Learned rule's idle timeout (0: none).
    pub idle_timeout: u16,
    /// Learned rule's hard timeout (0: none).
    pub hard_timeout: u16,
    /// `fin_idle_timeout` (kept for printing; fastpath has no `fin_timeout`).
    pub fin_idle_timeout: u16,
    /// `fin_hard_timeout` (likewise).
    pub fin_hard_timeout: u16,
    /// Learned rule's priority.
    pub priority: u16,
    /// Learned rule's cookie.
    pub cookie: u64,
    /// [`LEARN_SEND_FLOW_REM`], [`LEARN_DELETE_LEARNED`].
    pub flags: u16,
    /// At most this many rules with `cookie` in `table` (0: no limit).
    pub limit: u32,
    /// A bit set to 1 when the rule was learned, 0 when `limit` refused it.
    pub result_dst: Option<Subfield>,
    /// Flow specs, in order.
    pub specs: Vec<LearnSpec>,
}

impl Default for Learn {
    fn default() -> Self {
        Learn {
            table: 1,
            idle_timeout: 0,
            hard_timeout: 0,
            fin_idle_timeout: 0,
            fin_hard_timeout: 0,
            priority: super::parse::DEFAULT_PRIORITY,
            cookie: 0,
            flags: 0,
            limit: 0,
            result_dst: None,
            specs: Vec::new(),
        }
    }
}

/// C's `atoi`: leading blanks, a sign, digits; anything after is ignored,
/// no digits read as 0 (OVS reads the timeouts, priority and limit so).
fn atoi(s: &str) -> i64 {
    let t = s.trim_start();
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut v: i64 = 0;
    for b in t.bytes().take_while(u8::is_ascii_digit) {
        v = v.wrapping_mul(10).wrapping_add(i64::from(b - b'0'));
    }
    if neg {
        v.wrapping_neg()
    } else {
        v
    }
}

/// C's `strtoull(s, NULL, 0)`: the longest number at the start (hex after
/// `0x`, octal after `0`), 0 if none (OVS reads `cookie` so).
fn strtoull(s: &str) -> u64 {
    let t = s.trim_start();
    let (radix, digits) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (16, h)
    } else if t.starts_with('0') {
        (8, t)
    } else {
        (10, t)
    };
    let n = digits.chars().take_while(|c| c.is_digit(radix)).count();
    u64::from_str_radix(&digits[..n], radix).unwrap_or(if n > 0 { u64::MAX } else { 0 })
}

/// An integer of `n_bytes` bytes (OVS `parse_int_string`): hex after `0x`,
/// else decimal.
fn int_string(s: &str, max_bits: u32) -> Option<u128> {
    let max = if max_bits >= 128 {
        u128::MAX
    } else {
        (1u128 << max_bits) - 1
    };
    parse_uint(s, max).ok()
}

/// Parses the argument of `learn(...)` as OVS's `learn_parse`, with its
/// messages (`orig` is the whole argument, as OVS quotes it).
pub fn parse_learn(arg: &str) -> Result<Learn, String> {
    let orig = arg;
    let mut l = Learn::default();
    for (name, value) in key_values(arg) {
        match name {
            "table" => {
                l.table = match value.parse::<u32>() {
                    Ok(t) if t <= 255 && !value.starts_with('+') => t as u8,
                    _ => return Err(format!("unknown table \"{value}\"")),
                };
                if l.table == 255 {
                    return Err(format!("{orig}: table id 255 not valid for `learn' action"));
                }
            }
            "priority" => l.priority = atoi(value) as u16,
            "idle_timeout" => l.idle_timeout = atoi(value) as u16,
            "hard_timeout" => l.hard_timeout = atoi(value) as u16,
            "fin_idle_timeout" => l.fin_idle_timeout = atoi(value) as u16,
            "fin_hard_timeout" => l.fin_hard_timeout = atoi(value) as u16,
            "cookie" => l.cookie = strtoull(value),
            "send_flow_rem" => l.flags |= LEARN_SEND_FLOW_REM,
            "delete_learned" => l.flags |= LEARN_DELETE_LEARNED,
            "limit" => l.limit = atoi(value) as u32,
            "result_dst" => {
                let sf = parse_subfield(value)?;
                if !sf.mf.writable {
                    return Err(format!("{value} is read-only"));
                }
                if sf.n_bits != 1 {
                    return Err("result_dst in 'learn' action must be a single bit".into());
                }
                l.result_dst = Some(sf);
            }
            _ => l.specs.push(parse_spec(orig, name, value)?),
        }
    }
    Ok(l)
}

/// One flow spec (OVS `learn_parse_spec`).
fn parse_spec(orig: &str, name: &str, value: &str) -> Result<LearnSpec, String> {
    if let Ok(dst) = parse_subfield(name) {
        if value.is_empty() {
            return Ok(LearnSpec {
                src: LearnSrc::Field(dst),
                dst: LearnDst::Match(dst),
                n_bits: dst.n_bits,
            });
        }
        let src = match parse_subfield(value) {
            Ok(src) => src,
            Err(sub_err) => {
                let imm = immediate(orig, &dst, value).map_err(|imm_err| {
                    format!(
                        "{orig}: {name} value {value} cannot be parsed as a subfield ({sub_err}) or an immediate value ({imm_err})"
                    )
                })?;
                return Ok(LearnSpec {
                    src: LearnSrc::Imm(imm),
                    dst: LearnDst::Match(dst),
                    n_bits: dst.n_bits,
                });
            }
        };
        if src.n_bits != dst.n_bits {
            // OVS prints the widths crossed over; so do we.
            return Err(format!(
                "{orig}: bit widths of {name} ({}) and {value} ({}) differ",
                src.n_bits, dst.n_bits
            ));
        }
        return Ok(LearnSpec {
            src: LearnSrc::Field(src),
            dst: LearnDst::Match(dst),
            n_bits: dst.n_bits,
        });
    }
    match name {
        "load" => {
            let Some(arrow) = value.find("->") else {
                return Err(format!("{name}: missing `->' in `{value}'"));
            };
            if arrow == 0 {
                return Err(format!("{name}: missing source before `->' in `{value}'"));
            }
            let head = &value[..arrow];
            let numeric = head.starts_with(|c: char| c.is_ascii_digit());
            if numeric {
                let imm = int_string(head, 128)
                    .ok_or_else(|| format!("{name}: garbage before `->' in `{value}'"))?;
                let dst = parse_subfield(&value[arrow + 2..])?;
                if dst.n_bits < 128 && imm >> dst.n_bits != 0 {
                    return Err(format!(
                        "{value}: value does not fit into {} bits",
                        dst.n_bits
                    ));
                }
                return Ok(LearnSpec {
                    src: LearnSrc::Imm(imm),
                    dst: LearnDst::Load(dst),
                    n_bits: dst.n_bits,
                });
            }
            // The same syntax and checks as the `move` action.
            match parse_action(&format!("move:{value}"))? {
                Action::Move { src, dst } => Ok(LearnSpec {
                    src: LearnSrc::Field(src),
                    dst: LearnDst::Load(dst),
                    n_bits: src.n_bits,
                }),
                _ => Err(format!("{name}: expected `load:SRC[]->DST[]` in `{value}'")),
            }
        }
        "output" => {
            let src = parse_subfield(value)?;
            Ok(LearnSpec {
                src: LearnSrc::Field(src),
                dst: LearnDst::Output,
                n_bits: src.n_bits,
            })
        }
        _ => Err(format!("{orig}: unknown keyword {name}")),
    }
}

/// An immediate for match destination `dst`: the field's own syntax for a
/// whole field, an integer that fits the bits for part of one.
fn immediate(orig: &str, dst: &Subfield, value: &str) -> Result<u128, String> {
    if dst.ofs == 0 && dst.n_bits == dst.mf.width() {
        let (v, m) = parse_field_value(dst.mf, value)?;
        if m != dst.mf.full_mask() {
            return Err(format!("{value}: wildcards not allowed here"));
        }
        return Ok(v);
    }
    let v = int_string(value, 128).ok_or_else(|| format!("{orig}: cannot parse integer value"))?;
    if dst.n_bits < 128 && v >> dst.n_bits != 0 {
        return Err(format!(
            "{orig}: value {} does not fit into {} bits",
            c_hex(v),
            dst.n_bits
        ));
    }
    Ok(v)
}

/// OVS `learn_check` against the learning rule's match `m`: each source
/// field must be guaranteed by `m`, each destination by the immediates of
/// the learned match before it (OFPBAC_MATCH_INCONSISTENT otherwise).
pub fn check_learn(l: &Learn, m: &Match) -> Result<(), String> {
    let mut learned = Match::default();
    for s in &l.specs {
        if let LearnSrc::Field(src) = &s.src {
            if !match_guarantees(m, src.mf.prereq) {
                return Err(format!(
                    "source field `{}` is not guaranteed by the match (OVS: OFPBAC_MATCH_INCONSISTENT)",
                    src.mf.name
                ));
            }
        }
        match &s.dst {
            LearnDst::Match(dst) | LearnDst::Load(dst) => {
                if !match_guarantees(&learned, dst.mf.prereq) {
                    return Err(format!(
                        "field `{}` needs its prerequisites earlier in the learned match (OVS: OFPBAC_MATCH_INCONSISTENT)",
                        dst.mf.name
                    ));
                }
                if matches!(s.dst, LearnDst::Load(_)) && !dst.mf.writable {
                    return Err(format!(
                        "destination field `{}` is not writable (OVS: OFPBAC_BAD_SET_ARGUMENT)",
                        dst.mf.name
                    ));
                }
                if let (LearnDst::Match(dst), LearnSrc::Imm(v)) = (&s.dst, &s.src) {
                    learned.set(dst.mf, v << dst.ofs, dst.mask());
                }
            }
            LearnDst::Output => {}
        }
    }
    Ok(())
}

/// The name OVS's `mf_format` gives a field (its canonical name where ours
/// is an older alias).
fn ovs_name(mf: &Mf) -> &'static str {
    match mf.name {
        "dl_src" => "eth_src",
        "dl_dst" => "eth_dst",
        "dl_type" => "eth_type",
        "nw_src" => "ip_src",
        "nw_dst" => "ip_dst",
        "nw_frag" => "ip_frag",
        "tp_src" => "tcp_src",
        "tp_dst" => "tcp_dst",
        n => n,
    }
}

/// A whole field's value as OVS's `mf_format` prints it.
fn format_value(mf: &Mf, v: u128) -> String {
    if mf.name == "in_port" {
        return format_port(v as u32);
    }
    match mf.syntax {
        // C's `%#x`: zero prints as `0`.
        Syntax::Hex | Syntax::TcpFlags => c_hex(v),
        _ => mf.format_value(v),
    }
}

fn sf(s: &Subfield) -> String {
    subfield(s.mf, s.ofs, s.n_bits)
}

/// `learn(...)` as OVS's `learn_format` prints it.
pub fn format_learn(l: &Learn) -> String {
    let mut s = format!("learn(table={}", l.table);
    if l.idle_timeout != 0 {
        s += &format!(",idle_timeout={}", l.idle_timeout);
    }
    if l.hard_timeout != 0 {
        s += &format!(",hard_timeout={}", l.hard_timeout);
    }
    if l.fin_idle_timeout != 0 {
        s += &format!(",fin_idle_timeout={}", l.fin_idle_timeout);
    }
    if l.fin_hard_timeout != 0 {
        s += &format!(",fin_hard_timeout={}", l.fin_hard_timeout);
    }
    if l.priority != super::parse::DEFAULT_PRIORITY {
        s += &format!(",priority={}", l.priority);
    }
    if l.flags & LEARN_SEND_FLOW_REM != 0 {
        s += ",send_flow_rem";
    }
    if l.flags & LEARN_DELETE_LEARNED != 0 {
        s += ",delete_learned";
    }
    if l.cookie != 0 {
        s += &format!(",cookie={:#x}", l.cookie);
    }
    if l.limit != 0 {
        s += &format!(",limit={}", l.limit);
    }
    if let Some(r) = &l.result_dst {
        s += &format!(",result_dst={}", sf(r));
    }
    for spec in &l.specs {
        s.push(',');
        match (&spec.src, &spec.dst) {
            (LearnSrc::Imm(v), LearnDst::Match(d)) if d.ofs == 0 && d.n_bits == d.mf.width() => {
                s += &format!("{}={}", ovs_name(d.mf), format_value(d.mf, *v));
            }
            (LearnSrc::Imm(v), LearnDst::Match(d)) => s += &format!("{}={}", sf(d), c_hex(*v)),
            (LearnSrc::Field(src), LearnDst::Match(d)) => {
                s += &sf(d);
                if src.mf != d.mf || src.ofs != d.ofs {
                    s += &format!("={}", sf(src));
                }
            }
            (LearnSrc::Imm(v), LearnDst::Load(d)) => s += &format!("load:{}->{}", c_hex(*v), sf(d)),
            (LearnSrc::Field(src), LearnDst::Load(d)) => {
                s += &format!("load:{}->{}", sf(src), sf(d))
            }
            (LearnSrc::Field(src), LearnDst::Output) => s += &format!("output:{}", sf(src)),
            // The parser makes no immediate output.
            (LearnSrc::Imm(_), LearnDst::Output) => {}
        }
    }
    s.push(')');
    s
}

/// OVS `learn_mask`: the megaflow needs every source bit.
pub fn learn_mask(l: &Learn, wc: &mut Flow) {
    for spec in &l.specs {
        if let LearnSrc::Field(src) = &spec.src {
            src.mf.unwildcard(wc, src.mask());
        }
    }
}

/// OVS `learn_execute`: the rule `flow` teaches (as a flow mod that adds it
/// or replaces the one with its table, match and priority).
pub fn learn_execute(l: &Learn, flow: &Flow) -> Rule {
    let mut m = Match::default();
    let mut actions = Vec::new();
    for spec in &l.specs {
        let value = match &spec.src {
            LearnSrc::Field(src) => src.get(flow),
            LearnSrc::Imm(v) => *v,
        };
        match &spec.dst {
            LearnDst::Match(d) => m.set(d.mf, value << d.ofs, d.mask()),
            LearnDst::Load(d) => actions.push(Action::Load { dst: *d, value }),
            LearnDst::Output => {
                if spec.n_bits <= 16 || value >> 16 == 0 {
                    let port = (value & 0xffff) as u32;
                    match port {
                        OFPP_IN_PORT => actions.push(Action::InPort),
                        p if p < OFPP_MAX || [OFPP_FLOOD, OFPP_LOCAL, OFPP_ALL].contains(&p) => {
                            actions.push(Action::Output(p))
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    let match_text = super::format::format_flow_match(&m.value, &m.mask, Some(l.priority), false);
    let actions_text = format_actions(&actions, Dialect::Of10);
    Rule {
        table: l.table,
        priority: l.priority,
        cookie: l.cookie,
        idle_timeout: l.idle_timeout,
        hard_timeout: l.hard_timeout,
        m,
        actions,
        match_text,
        actions_text,
        line: 0,
        meta: RuleMeta {
            table_given: true,
            importance: 0,
            flags: if l.flags & LEARN_SEND_FLOW_REM != 0 {
                FF_SEND_FLOW_REM
            } else {
                0
            },
        },
    }
}

/// Learned rules waiting for [`OfProto::apply_learned`] at most (more are
/// dropped: nothing applies them in a run that never calls it).
const MAX_PENDING: usize = 4096;

impl OfProto {
    /// The live rule with `r`'s table, match and priority.
    fn same_rule(&self, r: &Rule) -> Option<u32> {
        (0..self.rules.len() as u32).find(|&id| {
            let o = &self.rules[id as usize];
            self.is_live(id) && o.table == r.table && o.priority == r.priority && o.m == r.m
        })
    }

    /// Whether a `learn` with `limit` may add `fm` now: it exists already,
    /// or its table has fewer than `limit` rules with its cookie.
    pub(crate) fn can_learn(&self, fm: &Rule, limit: u32) -> bool {
        if limit == 0 || self.same_rule(fm).is_some() {
            return true;
        }
        let n = (0..self.rules.len() as u32)
            .filter(|&id| {
                let o = &self.rules[id as usize];
                self.is_live(id) && o.table == fm.table && o.cookie == fm.cookie
            })
            .count();
        n < limit as usize
    }

    /// Refreshes `id` if it is `fm` as learned (actions, cookie, timeouts and
    /// flags equal): its hard timeout starts again, as OVS's refresh of a
    /// learned rule's `modified` time. Otherwise false.
    fn refresh_learned(&self, id: u32, fm: &Rule, now_ms: u64) -> bool {
        let o = &self.rules[id as usize];
        let same = o.actions == fm.actions
            && o.cookie == fm.cookie
            && o.idle_timeout == fm.idle_timeout
            && o.hard_timeout == fm.hard_timeout
            && o.meta.flags == fm.meta.flags;
        if same {
            if let Some(l) = self.life.get(id as usize) {
                l.added_ms
                    .fetch_max(now_ms, std::sync::atomic::Ordering::Relaxed);
            }
        }
        same
    }

    /// Takes what a translation's `learn` actions taught ([`Translation::learned`](super::Translation::learned))
    /// at `now_ms`: a rule already there as learned is refreshed at once; a
    /// new or changed one waits for [`OfProto::apply_learned`].
    pub fn learn_flows(&self, mods: &[(Rule, u32)], now_ms: u64) {
        for (fm, limit) in mods {
            if let Some(id) = self.same_rule(fm) {
                if self.refresh_learned(id, fm, now_ms) {
                    continue;
                }
            }
            // Revalidation learns again from a megaflow's last use, which
            // may be old: a rule that would be gone by now is not added.
            let gone_by = [fm.hard_timeout, fm.idle_timeout]
                .iter()
                .filter(|&&t| t > 0)
                .map(|&t| now_ms + u64::from(t) * 1000)
                .min();
            if gone_by
                .is_some_and(|t| t <= self.expired_ms.load(std::sync::atomic::Ordering::Relaxed))
            {
                continue;
            }
            let mut q = self.learned.lock().unwrap_or_else(|e| e.into_inner());
            if q.len() < MAX_PENDING {
                q.push((fm.clone(), *limit, now_ms));
            }
        }
    }

    /// Installs the learned rules waiting (OVS's flow mod: add, or replace
    /// the rule with the table, match and priority), each at the time it was
    /// learned, unless its `limit` is reached. A rule change (the generation
    /// moves, so revalidation re-translates). Returns the rules added.
    pub fn apply_learned(&mut self) -> usize {
        let q = std::mem::take(self.learned.get_mut().unwrap_or_else(|e| e.into_inner()));
        let mut added = 0;
        for (fm, limit, now_ms) in q {
            if let Some(id) = self.same_rule(&fm) {
                if self.refresh_learned(id, &fm, now_ms) {
                    continue;
                }
            }
            if self.can_learn(&fm, limit) {
                self.add_rule_at(fm, now_ms);
                added += 1;
            }
        }
        added
    }

    /// The live rules to delete now that rule `gone` is: for each of its
    /// `learn(…,delete_learned)` actions no live rule still has, the rules of
    /// its table with its cookie (OVS's `learned_cookies_dec`).
    pub(crate) fn learned_orphans(&self, gone: u32) -> Vec<u32> {
        fn cookies(a: &[Action], out: &mut Vec<(u8, u64)>) {
            for a in a {
                match a {
                    Action::Learn(l) if l.flags & LEARN_DELETE_LEARNED != 0 => {
                        out.push((l.table, l.cookie))
                    }
                    Action::WriteActions(inner) | Action::Clone(inner) => cookies(inner, out),
                    _ => {}
                }
            }
        }
        let mut mine = Vec::new();
        if let Some(r) = self.rules.get(gone as usize) {
            cookies(&r.actions, &mut mine);
        }
        if mine.is_empty() {
            return Vec::new();
        }
        let live = || (0..self.rules.len() as u32).filter(|&id| self.is_live(id));
        let mut held = Vec::new();
        for id in live() {
            cookies(&self.rules[id as usize].actions, &mut held);
        }
        mine.retain(|c| !held.contains(c));
        live()
            .filter(|&id| {
                let r = &self.rules[id as usize];
                mine.contains(&(r.table, r.cookie))
            })
            .collect()
    }

    /// Whether any rule has a `learn` action.
    pub fn uses_learn_any(&self) -> bool {
        let all: Vec<u32> = (0..self.rules.len() as u32).collect();
        self.uses_learn(&all)
    }

    /// Whether any of these rules has a `learn` action (its megaflows learn
    /// again when they carry traffic, OVS's xlate cache `XC_LEARN`).
    pub(crate) fn uses_learn(&self, rules: &[u32]) -> bool {
        fn learns(a: &[Action]) -> bool {
            a.iter().any(|a| match a {
                Action::Learn(_) => true,
                Action::WriteActions(inner) | Action::Clone(inner) => learns(inner),
                _ => false,
            })
        }
        rules.iter().any(|&id| {
            self.rules
                .get(id as usize)
                .is_some_and(|r| learns(&r.actions))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ofproto::ofctl::format_flow_mod;
    use crate::ofproto::parse::parse_rule;

    fn printed(rule: &str) -> String {
        let r = parse_rule(rule).unwrap_or_else(|e| panic!("{rule}: {e}"));
        format_flow_mod(&r, Dialect::Of10)
    }

    fn error(rule: &str) -> String {
        match parse_rule(rule) {
            Ok(_) => panic!("{rule}: accepted"),
            Err(e) => e.msg,
        }
    }

    /// What `ovs-ofctl parse-flows` 3.1 printed for each rule.
    #[test]
    fn prints_as_ovs_ofctl() {
        for (rule, ovs) in [
            ("actions=learn()", "actions=learn(table=1)"),
            (
                "actions=learn(send_flow_rem,delete_learned)",
                "actions=learn(table=1,send_flow_rem,delete_learned)",
            ),
            (
                "table=0 actions=learn(table=1, hard_timeout=60, NXM_OF_VLAN_TCI[0..11], NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[], output:NXM_OF_IN_PORT[]), resubmit(,1)",
                "actions=learn(table=1,hard_timeout=60,NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[]),resubmit(,1)",
            ),
            (
                "table=1 actions=learn(table=10,delete_learned,cookie=0x123,limit=3,result_dst=NXM_NX_REG6[0],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],OXM_OF_METADATA[],output:NXM_NX_REG7)",
                "table:1 actions=learn(table=10,delete_learned,cookie=0x123,limit=3,result_dst=NXM_NX_REG6[0],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],OXM_OF_METADATA[],output:NXM_NX_REG7[])",
            ),
            (
                "table=0 in_port=1 udp,actions=learn(table=11,dl_type=0x0800,nw_proto=17,udp_src=udp_dst,limit=1,result_dst=reg0[0]),resubmit(,1)",
                "udp,in_port=1 actions=learn(table=11,limit=1,result_dst=NXM_NX_REG0[0],eth_type=0x800,nw_proto=17,NXM_OF_UDP_SRC[]=NXM_OF_UDP_DST[]),resubmit(,1)",
            ),
            (
                "actions=learn(idle_timeout=10,fin_idle_timeout=5,fin_hard_timeout=7,priority=3,load:0x5->reg1[0..3],load:reg2[0..3]->reg3[4..7],reg1[0..3]=0x5,dl_dst=01:02:03:04:05:06,eth_type=0x800,nw_src=10.0.0.1,in_port=5,nw_proto=6,tcp_dst=80)",
                "actions=learn(table=1,idle_timeout=10,fin_idle_timeout=5,fin_hard_timeout=7,priority=3,load:0x5->NXM_NX_REG1[0..3],load:NXM_NX_REG2[0..3]->NXM_NX_REG3[4..7],NXM_NX_REG1[0..3]=0x5,eth_dst=01:02:03:04:05:06,eth_type=0x800,ip_src=10.0.0.1,in_port=5,nw_proto=6,tcp_dst=80)",
            ),
            (
                "actions=learn(table=2,eth_type=0x86dd,ipv6_src=::1,metadata=5,reg0[1..3]=3,reg1[0..15]=0x1234,vlan_tci=0x1005,reg2=0x10,tun_id=7)",
                "actions=learn(table=2,eth_type=0x86dd,ipv6_src=::1,metadata=0x5,NXM_NX_REG0[1..3]=0x3,NXM_NX_REG1[0..15]=0x1234,vlan_tci=0x1005,reg2=0x10,tun_id=0x7)",
            ),
            (
                "ip actions=learn(eth_type=0x800,nw_dst=nw_src,load:NXM_OF_IP_SRC[]->NXM_OF_IP_DST[])",
                "ip actions=learn(table=1,eth_type=0x800,NXM_OF_IP_DST[]=NXM_OF_IP_SRC[],load:NXM_OF_IP_SRC[]->NXM_OF_IP_DST[])",
            ),
        ] {
            assert_eq!(printed(rule), ovs, "{rule}");
        }
    }

    /// `ovs-ofctl parse-flow` 3.1's messages (fastpath adds its position).
    #[test]
    fn errors_as_ovs_ofctl() {
        for (rule, ovs) in [
            (
                "actions=learn(table=255)",
                "table=255: table id 255 not valid for `learn' action",
            ),
            ("actions=learn(table=foo)", "unknown table \"foo\""),
            ("actions=learn(foo=bar)", "foo=bar: unknown keyword foo"),
            (
                "actions=learn(reg0[0..3]=reg1[0..4])",
                "reg0[0..3]=reg1[0..4]: bit widths of reg0[0..3] (5) and reg1[0..4] (4) differ",
            ),
            (
                "actions=learn(result_dst=reg0[0..1])",
                "result_dst in 'learn' action must be a single bit",
            ),
            (
                "actions=learn(load:->reg0[])",
                "load: missing source before `->' in `->reg0[]'",
            ),
            (
                "actions=learn(load:reg0[])",
                "load: missing `->' in `reg0[]'",
            ),
            (
                "actions=learn(load:0x10->reg0[0..3])",
                "0x10->reg0[0..3]: value does not fit into 4 bits",
            ),
        ] {
            let e = error(rule);
            assert!(e.ends_with(ovs), "{rule}: {e}");
        }
        // learn_check: sources need the rule's match, destinations earlier immediates.
        assert!(error("actions=learn(nw_dst=nw_src)").contains("OFPBAC_MATCH_INCONSISTENT"));
        assert!(error("ip actions=learn(nw_dst=nw_src)").contains("OFPBAC_MATCH_INCONSISTENT"));
        assert!(error("actions=learn(reg0[0..3]=0x10)").contains("does not fit into 4 bits"));
    }

    #[test]
    fn execute_builds_the_flow_mod_and_mask() {
        let r = parse_rule(
            "actions=learn(table=1,hard_timeout=60,priority=5,cookie=0x9,NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0x7->reg1[0..3],output:NXM_OF_IN_PORT[])",
        )
        .unwrap();
        let Action::Learn(l) = &r.actions[0] else {
            panic!("not a learn action")
        };
        let flow = super::super::parse::parse_flow("in_port=3,dl_src=00:00:00:00:00:0a,dl_vlan=5")
            .unwrap();
        let fm = learn_execute(l, &flow);
        assert_eq!(
            format_flow_mod(&fm, Dialect::Of10),
            "table:1 priority=5,vlan_tci=0x0005/0x0fff,dl_dst=00:00:00:00:00:0a cookie:0x9 hard:60 actions=load:0x7->NXM_NX_REG1[0..3],output:3"
        );
        let mut wc = Flow::ZERO;
        learn_mask(l, &mut wc);
        assert_eq!(
            format!("{:?}", super::super::fields::named("dl_src").get(&wc)),
            format!("{}", 0xffff_ffff_ffffu64)
        );
    }

    #[test]
    fn upcalls_learn_traces_do_not_and_a_relearn_refreshes() {
        use crate::ofproto::{parse_rules, Prefixes};
        let rules = parse_rules(
            "table=0 actions=learn(table=1,hard_timeout=10,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[]),resubmit(,1)\n\
             table=1 priority=0 actions=flood\n",
            "t",
        )
        .unwrap();
        let mut of = OfProto::with_rules(rules, Prefixes::default());
        of.set_ports([1, 2, 3]);
        let from_a = super::super::parse::parse_flow("in_port=2,dl_src=00:00:00:00:00:0a").unwrap();
        let to_a = super::super::parse::parse_flow("in_port=1,dl_dst=00:00:00:00:00:0a").unwrap();
        let acts = |of: &OfProto| format!("{:?}", of.translate_flow(&to_a, false).actions);
        let flooded = acts(&of);
        // A trace shows the rule but learns nothing.
        let t = of.translate_flow(&from_a, true);
        assert!(t
            .trace
            .iter()
            .any(|l| l.contains("suppressing side effects")));
        // An upcall's rule goes in when applied, as a rule change.
        let t = of.translate_flow(&from_a, false);
        assert_eq!(t.learned.len(), 1);
        let g = of.generation();
        of.learn_flows(&t.learned, 1_000);
        assert_eq!(of.apply_learned(), 1);
        assert!(of.generation() > g);
        assert_ne!(acts(&of), flooded);
        // The same rule learned again is refreshed in place: no rule change,
        // and its hard timeout counts from the refresh.
        let g = of.generation();
        of.learn_flows(&of.translate_flow(&from_a, false).learned, 8_000);
        assert_eq!(of.apply_learned(), 0);
        assert_eq!(of.generation(), g);
        assert!(of.expire(15_000).is_empty());
        assert_eq!(of.expire(18_000).len(), 1);
        assert_eq!(acts(&of), flooded);
        // Revalidation's re-learning from the old use adds nothing back.
        of.learn_flows(&of.translate_flow(&from_a, false).learned, 8_000);
        assert_eq!(of.apply_learned(), 0);
    }

    /// OVS's learn.at "delete_learned" cases: the learned rules (table and
    /// cookie) go with the last rule whose learn names them.
    #[test]
    fn delete_learned_goes_with_the_last_learning_rule() {
        use crate::ofproto::{parse_rules, Prefixes};
        let rules = parse_rules(
            "reg0=0x1 actions=learn(delete_learned,cookie=0x123)\n\
             reg0=0x2 actions=learn(delete_learned,cookie=0x123)\n\
             cookie=0x123, table=1, reg0=0x3 actions=drop\n\
             cookie=0x123, table=1, reg0=0x4 actions=drop\n\
             cookie=0x123, table=2, reg0=0x5 actions=drop\n\
             cookie=0x234, table=1, reg0=0x6 actions=drop\n",
            "t",
        )
        .unwrap();
        let mut of = OfProto::with_rules(rules, Prefixes::default());
        assert_eq!(of.n_rules(), 6);
        of.delete_rule(0);
        assert_eq!(of.n_rules(), 5);
        of.delete_rule(1);
        // Table 1's 0x123 rules went; table 2's and the other cookie stay.
        assert_eq!(of.n_rules(), 2);
        assert!(of.is_live(4) && of.is_live(5));
    }
}
