//! `ovs-ofctl add-flows` syntax: rules, matches and actions.
//!
//! One rule per line, `#` starts a comment, fields separated by commas or
//! spaces, `actions=` takes the rest of the line. A malformed line is an error
//! naming the file, line and column and what was expected; a file is parsed
//! completely before anything from it is installed.

use super::fields::{self, parse_subfield, prereq_ok, Mf, Prereq, Subfield, Syntax};
use super::flow::{eth_type, ip_proto, Flow};
use super::port::{
    self, reserved_name, OFPP_ALL, OFPP_CONTROLLER, OFPP_FLOOD, OFPP_IN_PORT, OFPP_MAX, OFPP_NONE,
    OFPP_NORMAL, OFPP_TABLE,
};
use abi::key::VLAN_PRESENT;
use abi::Field;
use std::fmt;

/// Where parsing failed and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{col}: {msg}")]
pub struct ParseError {
    /// File name (or `<flow>` / `<string>`).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// What was expected / what is wrong.
    pub msg: String,
}

/// OpenFlow's default priority.
pub const DEFAULT_PRIORITY: u16 = 32768;
/// Number of OpenFlow tables.
pub const N_TABLES: usize = 255;

/// A match: `flow & mask == value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Match {
    /// Values (already masked).
    pub value: Flow,
    /// Mask.
    pub mask: Flow,
}

impl Match {
    /// Sets `mf` to `value/mask` (ORing into any earlier mask of the same bits).
    pub fn set(&mut self, mf: &Mf, value: u128, mask: u128) {
        mf.set_masked(&mut self.value, value & mask, mask);
        mf.unwildcard(&mut self.mask, mask);
    }

    /// Sets `mf` to `value/mask`, dropping any earlier match on it (a field
    /// written twice in a rule keeps the last value, as `ovs-ofctl`).
    pub fn replace(&mut self, mf: &Mf, value: u128, mask: u128) {
        mf.set_masked(&mut self.mask, 0, u128::MAX);
        mf.set_masked(&mut self.value, 0, u128::MAX);
        self.set(mf, value, mask);
    }

    /// Does `flow` match?
    pub fn matches(&self, flow: &Flow) -> bool {
        flow.matches(&self.mask, &self.value)
    }
}

/// A port an action names: [`port::parse_port`], without the reserved
/// numbers 0xff00..=0xfff7 (OVS: OFPBAC_BAD_OUT_PORT).
pub fn parse_action_port(s: &str) -> Result<u32, String> {
    let n = port::parse_port(s)?;
    if (OFPP_MAX..OFPP_IN_PORT).contains(&n) {
        return Err(format!(
            "`{s}`: reserved port number {n:#x} (OVS: OFPBAC_BAD_OUT_PORT)"
        ));
    }
    Ok(n)
}

/// An output port: not ANY/NONE, and only reserved ports fastpath implements.
fn parse_out_port(s: &str) -> Result<u32, String> {
    match parse_action_port(s)? {
        OFPP_NONE => Err(format!(
            "`{s}`: OFPP_ANY/NONE is not an output port (OVS: OFPBAC_BAD_OUT_PORT)"
        )),
        p @ OFPP_TABLE => {
            let name = reserved_name(p);
            Err(format!("output to {name} is not supported by fastpath"))
        }
        p => Ok(p),
    }
}

/// One action, as written.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// `output:N` (also `LOCAL`, `FLOOD`, `ALL`, `NORMAL`: [`port`] numbers).
    Output(u32),
    /// `output(port=N,max_len=M)`: the copy sent is cut to `max_len` bytes.
    OutputTrunc {
        /// Port.
        port: u32,
        /// Bytes kept (at least 14).
        max_len: u32,
    },
    /// `in_port`: output to the ingress port.
    InPort,
    /// `drop`.
    Drop,
    /// `set_field`, `mod_dl_src`, `mod_nw_dst`, `mod_tp_src`, `mod_nw_tos`, …
    SetField {
        /// Field.
        mf: &'static Mf,
        /// Value.
        value: u128,
        /// Mask.
        mask: u128,
    },
    /// `load:V->F[a..b]`.
    Load {
        /// Destination.
        dst: Subfield,
        /// Right-aligned value.
        value: u128,
    },
    /// `move:F[..]->G[..]`.
    Move {
        /// Source.
        src: Subfield,
        /// Destination.
        dst: Subfield,
    },
    /// `dec_ttl`.
    DecTtl,
    /// `mod_vlan_vid:N` (pushes a tag if there is none).
    SetVlanVid(u16),
    /// `mod_vlan_pcp:N` (pushes a tag if there is none).
    SetVlanPcp(u8),
    /// `push_vlan:TPID`.
    PushVlan(u16),
    /// `strip_vlan` / `pop_vlan`.
    StripVlan,
    /// `resubmit(P,T)`.
    Resubmit {
        /// in_port of the lookup (None: unchanged); the actions see the old one.
        port: Option<u32>,
        /// Table (None: the current one).
        table: Option<u8>,
    },
    /// `goto_table:T`.
    GotoTable(u8),
    /// `set_tunnel:V` / `set_tunnel64:V`: sets `tun_id` (metadata only:
    /// fastpath does no encapsulation).
    SetTunnel {
        /// Tunnel ID.
        id: u64,
        /// Written as `set_tunnel64` (or too wide for `set_tunnel`'s 32 bits).
        wide: bool,
    },
    /// `conjunction(id,k/n)`: the rule is clause `k` of `n` of conjunctive
    /// match `id` (a rule with these has no other actions).
    Conjunction {
        /// Conjunction id (what `conj_id` matches).
        id: u32,
        /// Clause, 1-based.
        clause: u8,
        /// Number of clauses (2..=64).
        n_clauses: u8,
    },
    /// `clear_actions`: empties the action set.
    ClearActions,
    /// `exit`: translation stops here, the action set is not run (OVS's
    /// `ctx->exit`, also from inside a `clone` or a resubmitted table).
    Exit,
    /// `write_actions(...)`: adds actions to the action set, which runs when
    /// the pipeline ends (in OpenFlow's fixed order; see xlate).
    WriteActions(Vec<Action>),
    /// `write_metadata:V/M`.
    WriteMetadata {
        /// Value.
        value: u64,
        /// Mask.
        mask: u64,
    },
    /// `group:N`: runs group N of the group table ([`super::groups`]).
    Group(u32),
    /// `CONTROLLER:N`, `output:CONTROLLER`, `controller(...)`: a packet-in.
    Controller(Controller),
    /// `note:XX.XX...`: bytes a controller keeps with the rule; no effect on
    /// forwarding. Held padded with zeros as OVS encodes it (NXAST_NOTE:
    /// 10 header bytes plus the note, to a multiple of 8).
    Note(Vec<u8>),
    /// `push:F[a..b]`: pushes the bits onto the translation's register stack.
    StackPush(Subfield),
    /// `pop:F[a..b]`: pops the top of the register stack into the bits.
    StackPop(Subfield),
    /// `output:F[a..b]`: outputs to the port the bits hold (OpenFlow 1.0
    /// numbering; nothing when above 65535).
    OutputReg(Subfield),
    /// `clone(...)`: the actions run on a copy of the packet and its
    /// metadata; the actions after it see them unchanged.
    Clone(Vec<Action>),
    /// `learn(...)`: adds or refreshes a rule built from the packet.
    Learn(Box<super::learn::Learn>),
    /// `sample(...)`: per-flow IPFIX sampling (nothing here: no collector).
    Sample(Sample),
    /// `set_queue:N`: the queue (datapath priority) of later outputs.
    SetQueue(u32),
    /// `pop_queue`: back to the packet's own queue.
    PopQueue,
    /// `enqueue:PORT:QUEUE`: one output through a queue.
    Enqueue {
        /// Port (ordinary, `IN_PORT` or `LOCAL`).
        port: u32,
        /// Queue.
        queue: u32,
    },
    /// `check_pkt_larger(N)->DST`: DST (1 bit) says whether the packet is
    /// longer than N bytes; the actions after it run for both answers.
    CheckPktLarger {
        /// Length compared with.
        len: u16,
        /// The 1-bit result.
        dst: Subfield,
    },
}

/// `sample(...)` as Open vSwitch keeps it (`ofpact_sample`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Packets sampled, in 65535ths (never 0).
    pub probability: u16,
    /// IPFIX collector set.
    pub collector_set_id: u32,
    /// IPFIX observation domain.
    pub obs_domain_id: u32,
    /// IPFIX observation point.
    pub obs_point_id: u32,
    /// `sampling_port=` ([`OFPP_NONE`]: none).
    pub sampling_port: u32,
    /// `ingress` / `egress`.
    pub direction: SampleDirection,
}

/// Which side of the sampling port a `sample` stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SampleDirection {
    /// Neither said.
    #[default]
    Default,
    /// `ingress`.
    Ingress,
    /// `egress`.
    Egress,
}

/// OpenFlow packet-in reasons, by number, as `ovs-ofctl` names them (6 and
/// 7, explicit and implicit table miss, have the empty name).
pub const PACKET_IN_REASONS: [&str; 8] = [
    "no_match",
    "action",
    "invalid_ttl",
    "action_set",
    "group",
    "packet_out",
    "",
    "",
];
/// `OFPR_ACTION`: the packet-in reason of a plain `CONTROLLER` output.
pub const OFPR_ACTION: u8 = 1;
/// `OFPR_INVALID_TTL`: `dec_ttl` found the TTL expired.
pub const OFPR_INVALID_TTL: u8 = 2;
/// `OFPR_ACTION_SET`: a controller output run from the action set.
pub const OFPR_ACTION_SET: u8 = 3;
/// `OFPR_GROUP`: a plain controller output run from a group bucket.
pub const OFPR_GROUP: u8 = 4;
/// `OFPR_EXPLICIT_MISS`: a controller output in a table-miss rule.
pub const OFPR_EXPLICIT_MISS: u8 = 6;

/// A controller action as Open vSwitch keeps it (`ofpact_controller`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Controller {
    /// Packet-in reason ([`PACKET_IN_REASONS`]).
    pub reason: u8,
    /// Bytes of the packet sent (65535: all).
    pub max_len: u16,
    /// Controller connection id (`id=`).
    pub id: u16,
    /// `userdata=` bytes.
    pub userdata: Vec<u8>,
    /// `pause`: the pipeline stops here, to be resumed by the controller.
    pub pause: bool,
    /// `meter_id=` (0: none).
    pub meter_id: u32,
}

impl Default for Controller {
    fn default() -> Self {
        Controller {
            reason: OFPR_ACTION,
            max_len: u16::MAX,
            id: 0,
            userdata: Vec::new(),
            pause: false,
            meter_id: 0,
        }
    }
}

impl Controller {
    /// The plain form (OVS parses it as an output to CONTROLLER and prints
    /// `CONTROLLER:N`): only `max_len` differs from the defaults.
    pub fn is_plain(&self) -> bool {
        self.reason == OFPR_ACTION
            && self.id == 0
            && self.userdata.is_empty()
            && !self.pause
            && self.meter_id == 0
    }
}

/// What a rule line says beyond match and actions that only changes how
/// `ovs-ofctl` prints it (the flow_mod's table field, importance, flags).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RuleMeta {
    /// `table=` was written (even `table=0`): OVS then needs its table_id
    /// extension and prints unspecified tables as `table:255`.
    pub table_given: bool,
    /// `importance=` (eviction order; printed only in OpenFlow 1.4+).
    pub importance: u16,
    /// Flow-mod flags ([`FF_SEND_FLOW_REM`], …), kept for printing.
    pub flags: u16,
}

/// `send_flow_rem`.
pub const FF_SEND_FLOW_REM: u16 = 1 << 0;
/// `check_overlap`.
pub const FF_CHECK_OVERLAP: u16 = 1 << 1;
/// `reset_counts`.
pub const FF_RESET_COUNTS: u16 = 1 << 2;
/// `no_packet_counts`.
pub const FF_NO_PKT_COUNTS: u16 = 1 << 3;
/// `no_byte_counts`.
pub const FF_NO_BYT_COUNTS: u16 = 1 << 4;

/// Flow-mod flag names, in the order `ovs-ofctl` prints them.
pub const FLOW_MOD_FLAGS: &[(&str, u16)] = &[
    ("send_flow_rem", FF_SEND_FLOW_REM),
    ("check_overlap", FF_CHECK_OVERLAP),
    ("reset_counts", FF_RESET_COUNTS),
    ("no_packet_counts", FF_NO_PKT_COUNTS),
    ("no_byte_counts", FF_NO_BYT_COUNTS),
];

/// A parsed rule.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Table number.
    pub table: u8,
    /// Priority (higher wins).
    pub priority: u16,
    /// Cookie.
    pub cookie: u64,
    /// Idle timeout in seconds (0: none).
    pub idle_timeout: u16,
    /// Hard timeout in seconds (0: none).
    pub hard_timeout: u16,
    /// The match.
    pub m: Match,
    /// Actions, in order.
    pub actions: Vec<Action>,
    /// The match text as written (for traces).
    pub match_text: String,
    /// The actions text as written.
    pub actions_text: String,
    /// 1-based source line.
    pub line: usize,
    /// Printing-only attributes.
    pub meta: RuleMeta,
}

impl Rule {
    /// Whether the rule is a clause of conjunctive matches (its actions are
    /// all `conjunction(...)`, but for notes).
    pub fn is_conjunctive(&self) -> bool {
        self.actions
            .iter()
            .any(|a| matches!(a, Action::Conjunction { .. }))
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, priority {}, actions={}",
            if self.match_text.is_empty() {
                "any"
            } else {
                &self.match_text
            },
            self.priority,
            self.actions_text
        )
    }
}

struct Ctx<'a> {
    file: &'a str,
    line: usize,
}

impl Ctx<'_> {
    fn err(&self, col: usize, msg: impl Into<String>) -> ParseError {
        ParseError {
            file: self.file.to_string(),
            line: self.line,
            col,
            msg: msg.into(),
        }
    }
}

/// Parses a whole rule file. Errors name `file`; nothing is returned on error.
pub fn parse_rules(text: &str, file: &str) -> Result<Vec<Rule>, ParseError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = match raw.find('#') {
            Some(p) => &raw[..p],
            None => raw,
        };
        if line.trim().is_empty() {
            continue;
        }
        let ctx = Ctx { file, line: i + 1 };
        out.push(parse_rule_line(line, &ctx)?);
    }
    Ok(out)
}

/// Parses one rule (for tests and tools).
pub fn parse_rule(text: &str) -> Result<Rule, ParseError> {
    parse_rule_line(
        text,
        &Ctx {
            file: "<string>",
            line: 1,
        },
    )
}

/// Splits on commas/whitespace, keeping 1-based columns.
fn tokens(s: &str, base: usize) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    // A parenthesized value (`packet_type=(0,0x800)`) is one token, as
    // OVS's parse_value skips over parentheses.
    let mut depth = 0u32;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if (c == ',' || c.is_whitespace()) && depth == 0 {
            if let Some(st) = start.take() {
                out.push((base + st, &s[st..i]));
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(st) = start {
        out.push((base + st, &s[st..]));
    }
    out
}

/// Where `actions=` (or OVS's synonym `action=`, either with `:`) starts,
/// and where the action list after it starts.
fn find_actions(line: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(p) = line[from..].find("action") {
        let at = from + p;
        let before_ok = at == 0 || {
            let c = line.as_bytes()[at - 1];
            c == b',' || c.is_ascii_whitespace()
        };
        let mut kw_end = at + 6;
        if line[kw_end..].starts_with('s') {
            kw_end += 1;
        }
        let rest = &line[kw_end..];
        let trimmed = rest.trim_start();
        if before_ok && (trimmed.starts_with('=') || trimmed.starts_with(':')) {
            return Some((at, kw_end + (rest.len() - trimmed.len()) + 1));
        }
        from = at + 6;
    }
    None
}

/// Statistics `ovs-ofctl dump-flows` prints; ignored so its output loads back.
const STATISTICS: &[&str] = &["duration", "n_packets", "n_bytes", "idle_age", "hard_age"];

fn parse_rule_line(line: &str, ctx: &Ctx) -> Result<Rule, ParseError> {
    // Without `actions=` a rule is refused, as by `ovs-ofctl add-flow`; an
    // empty `actions=` drops.
    let Some((ap, acts_start)) = find_actions(line) else {
        return Err(ctx.err(
            line.trim_end().len() + 1,
            "must specify an action (`actions=…`)",
        ));
    };
    let acts_text = match line[acts_start..].trim() {
        "" => "drop",
        t => t,
    };
    let acts_col =
        acts_start + (line[acts_start..].len() - line[acts_start..].trim_start().len()) + 1;
    let mut rule = Rule {
        table: 0,
        priority: DEFAULT_PRIORITY,
        cookie: 0,
        idle_timeout: 0,
        hard_timeout: 0,
        m: Match::default(),
        actions: Vec::new(),
        match_text: String::new(),
        actions_text: acts_text.to_string(),
        line: ctx.line,
        meta: RuleMeta::default(),
    };
    let mut match_parts = Vec::new();
    for (col, tok) in tokens(&line[..ap], 1) {
        // `ovs-ofctl` reads `key:value` as `key=value` (its flow_mod output
        // prints `table:1`, `cookie:0x5`, `idle:10`).
        let (k, v) = match tok.find(['=', ':']) {
            Some(i) => (&tok[..i], Some(&tok[i + 1..])),
            None => (tok, None),
        };
        let need = |v: Option<&'_ str>| -> Result<String, ParseError> {
            v.filter(|v| !v.is_empty())
                .map(str::to_string)
                .ok_or_else(|| ctx.err(col, format!("field `{k}` is missing its value")))
        };
        let u16_of = |v: Option<&'_ str>| -> Result<u16, ParseError> {
            Ok(parse_uint(&need(v)?, 65535).map_err(|m| ctx.err(col, format!("{k}: {m}")))? as u16)
        };
        if let Some(&(_, bit)) = FLOW_MOD_FLAGS.iter().find(|(n, _)| *n == k) {
            rule.meta.flags |= bit;
            continue;
        }
        match k {
            "table" => {
                let v = need(v)?;
                match parse_uint(&v, 255) {
                    // 255 is OpenFlow's "no table given" (table 0).
                    Ok(255) => {}
                    Ok(254) => {
                        return Err(ctx.err(
                            col,
                            "table 254 is Open vSwitch's hidden internal table: rules cannot be added to it",
                        ))
                    }
                    Ok(t) => {
                        rule.table = t as u8;
                        rule.meta.table_given = true;
                    }
                    Err(_) => return Err(ctx.err(col, format!("unknown table `{v}` (0 to 253)"))),
                }
            }
            "priority" => rule.priority = u16_of(v)?,
            "cookie" => {
                let v = need(v)?;
                // A cookie mask selects flows to modify or delete; like
                // `ovs-ofctl add-flows`, an addition with one is an error
                // rather than a silently dropped mask.
                if v.contains('/') {
                    return Err(ctx.err(col, "flow additions cannot use a cookie mask"));
                }
                rule.cookie = parse_uint(&v, u64::MAX as u128).map_err(|m| ctx.err(col, m))? as u64
            }
            // `idle`/`hard` are how OVS prints the timeouts in a flow_mod.
            "idle_timeout" | "idle" => rule.idle_timeout = u16_of(v)?,
            "hard_timeout" | "hard" => rule.hard_timeout = u16_of(v)?,
            "importance" => rule.meta.importance = u16_of(v)?,
            "no_readonly_table" | "allow_hidden_fields" => {}
            _ if STATISTICS.contains(&k) => {
                need(v)?;
            }
            _ => {
                parse_match_item(&mut rule.m, k, v).map_err(|m| ctx.err(col, m))?;
                match_parts.push(tok);
            }
        }
    }
    check_prereqs(&rule.m).map_err(|m| ctx.err(1, m))?;
    rule.match_text = match_parts.join(",");
    rule.actions = parse_actions(acts_text, acts_col, ctx)?;
    check_action_prereqs(&rule.m, acts_text, &rule.actions).map_err(|m| ctx.err(acts_col, m))?;
    if let Some(bad) = rule
        .actions
        .iter()
        .position(|a| matches!(a, Action::GotoTable(_)))
    {
        if bad + 1 != rule.actions.len() {
            return Err(ctx.err(acts_col, "`goto_table` must be the last action"));
        }
        if let Action::GotoTable(t) = rule.actions[bad] {
            if t <= rule.table {
                return Err(ctx.err(
                    acts_col,
                    format!(
                        "`goto_table:{t}` must name a later table than {}",
                        rule.table
                    ),
                ));
            }
        }
    }
    Ok(rule)
}

/// Parses a flow for `fastpath trace` (`in_port=1,dl_type=0x0800,…`).
pub fn parse_flow(text: &str) -> Result<Flow, ParseError> {
    let ctx = Ctx {
        file: "<flow>",
        line: 1,
    };
    let mut m = Match::default();
    for (col, tok) in tokens(text, 1) {
        let (k, v) = match tok.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (tok, None),
        };
        parse_match_item(&mut m, k, v).map_err(|e| ctx.err(col, e))?;
    }
    Ok(m.value)
}

/// Parses a flow for `fastpath trace` with `ofproto/trace`'s rules (Open
/// vSwitch's `parse_ofp_exact_flow`): every field is exact (no masks), each
/// field's prerequisites must come before it (`tcp,tp_dst=80`, not
/// `tp_dst=80,tcp` or `tp_dst=80` alone), no field or protocol is given
/// twice, and a flow without `in_port` (or with `in_port=0`) has
/// `in_port=ANY`.
/// Registers and `metadata` go into the flow's translation metadata.
pub fn parse_trace_flow(text: &str) -> Result<Flow, ParseError> {
    let ctx = Ctx {
        file: "<flow>",
        line: 1,
    };
    let mut f = Flow::ZERO;
    for (col, tok) in tokens(text, 1) {
        let (k, v) = match tok.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (tok, None),
        };
        let err = |m: String| ctx.err(col, m);
        if let Some((dl, proto)) = shorthand(k) {
            if v.is_some() {
                return Err(err(format!("`{k}` takes no value")));
            }
            if f.get(Field::DlType) != 0 {
                return Err(err(format!("`{k}`: Ethernet type set multiple times")));
            }
            f.set(Field::DlType, dl as u64);
            if let Some(p) = proto {
                if f.get(Field::NwProto) != 0 {
                    return Err(err(format!("`{k}`: network protocol set multiple times")));
                }
                f.set(Field::NwProto, p as u64);
            }
            continue;
        }
        let v = v.ok_or_else(|| err(format!("field `{k}` is missing its value")))?;
        if k == "dl_vlan" || k == "dl_vlan_pcp" {
            // The VLAN fields of OVS: each sets its bits and the tag's presence.
            let (max, shift) = if k == "dl_vlan" {
                (0x0fffu64, 0)
            } else {
                (7u64, 13)
            };
            if v.contains('/') {
                return Err(err(format!(
                    "`{k}={v}`: masking is not supported in a trace flow (every field is exact)"
                )));
            }
            let n = parse_uint(v, max as u128).map_err(|m| err(format!("{k}: {m}")))? as u64;
            let tci = f.get(Field::VlanTci);
            if tci & (max << shift) != 0 {
                return Err(err(format!("field `{k}` set multiple times")));
            }
            f.set(Field::VlanTci, tci | n << shift | VLAN_PRESENT as u64);
            continue;
        }
        let mf = fields::by_name(k).ok_or_else(|| err(format!("unknown field `{k}`")))?;
        // In Open vSwitch `tp_src`/`tp_dst` are other names of `tcp_src`/
        // `tcp_dst`: a rule reads them for any transport, a trace flow
        // only for TCP (`udp_src` and `sctp_src` are the others' names).
        let prereq = match mf.name {
            "tp_src" | "tp_dst" => Prereq::Tcp,
            _ => mf.prereq,
        };
        if !prereq_ok(prereq, &f, None) {
            return Err(err(format!(
                "prerequisites not met for setting `{k}` (give {} before it)",
                prereq_name(prereq)
            )));
        }
        if mf.get(&f) != 0 {
            return Err(err(format!("field `{k}` set multiple times")));
        }
        if v.contains('/') {
            return Err(err(format!(
                "`{k}={v}`: masking is not supported in a trace flow (every field is exact)"
            )));
        }
        let (value, mut mask) = parse_field_value(mf, v).map_err(err)?;
        if mf.syntax == Syntax::Frag {
            // `no`, `first`, `later` name the field's value.
            mask = mf.full_mask();
        }
        if mask != mf.full_mask() {
            return Err(err(format!(
                "`{k}={v}`: masking is not supported in a trace flow (every field is exact)"
            )));
        }
        mf.set_masked(&mut f, value, mask);
    }
    if f.get(Field::InPort) == 0 {
        f.set(Field::InPort, OFPP_NONE as u64);
    }
    Ok(f)
}

fn prereq_name(p: Prereq) -> &'static str {
    match p {
        Prereq::Ipv4 => "ip",
        Prereq::Ipv6 => "ipv6",
        Prereq::IpAny => "ip or ipv6",
        Prereq::Arp => "arp",
        Prereq::Tcp => "tcp or tcp6",
        Prereq::Udp => "udp or udp6",
        Prereq::Sctp => "sctp or sctp6",
        Prereq::Transport => "tcp, udp or sctp",
        Prereq::Icmp4 => "icmp",
        Prereq::Icmp6 => "icmp6",
        Prereq::Nd => "icmp6 with icmp_type=135 or 136 and icmp_code=0",
        Prereq::NdSolicit => "icmp6 with icmp_type=135 and icmp_code=0",
        Prereq::NdAdvert => "icmp6 with icmp_type=136 and icmp_code=0",
        Prereq::None => "",
    }
}

/// Protocol keywords: Ethernet type and, for some, IP protocol.
fn shorthand(k: &str) -> Option<(u16, Option<u8>)> {
    Some(match k {
        "ip" | "ipv4" | "ip4" => (eth_type::IP, None),
        "ipv6" | "ip6" => (eth_type::IPV6, None),
        "arp" => (eth_type::ARP, None),
        "rarp" => (eth_type::RARP, None),
        "mpls" => (eth_type::MPLS, None),
        "mplsm" => (eth_type::MPLS_MCAST, None),
        "tcp" => (eth_type::IP, Some(ip_proto::TCP)),
        "udp" => (eth_type::IP, Some(ip_proto::UDP)),
        "sctp" => (eth_type::IP, Some(ip_proto::SCTP)),
        "icmp" => (eth_type::IP, Some(ip_proto::ICMP)),
        "tcp6" => (eth_type::IPV6, Some(ip_proto::TCP)),
        "udp6" => (eth_type::IPV6, Some(ip_proto::UDP)),
        "sctp6" => (eth_type::IPV6, Some(ip_proto::SCTP)),
        "icmp6" => (eth_type::IPV6, Some(ip_proto::ICMPV6)),
        _ => return None,
    })
}

fn parse_match_item(m: &mut Match, k: &str, v: Option<&str>) -> Result<(), String> {
    if let Some((dl, proto)) = shorthand(k) {
        if let Some(v) = v {
            return Err(format!("`{k}` takes no value, found `={v}`"));
        }
        m.replace(fields::named("dl_type"), dl as u128, 0xffff);
        if let Some(p) = proto {
            m.replace(fields::named("nw_proto"), p as u128, 0xff);
        }
        return Ok(());
    }
    // `eth` selects Ethernet packets, the only packet type there is here.
    if k == "eth" && v.is_none() {
        return Ok(());
    }
    let Some(v) = v else {
        return Err(format!(
            "unknown keyword `{k}` (expected FIELD=VALUE or a protocol such as `tcp`)"
        ));
    };
    match k {
        "packet_type" => return parse_packet_type(v),
        "conj_id" | "recirc_id" if v.contains('/') => {
            return Err(format!("{v}: invalid mask for field {k}"))
        }
        "dl_vlan" => {
            let vid = parse_uint(v, 0xffff)? as u16;
            if vid == 0xffff {
                m.replace(fields::named("vlan_tci"), 0, 0xffff);
            } else if vid > 0x0fff {
                return Err(format!("dl_vlan `{v}` is out of range (0..4095 or 0xffff)"));
            } else {
                m.set(
                    fields::named("vlan_tci"),
                    (vid | VLAN_PRESENT) as u128,
                    (0x0fff | VLAN_PRESENT) as u128,
                );
            }
            return Ok(());
        }
        "dl_vlan_pcp" => {
            let pcp = parse_uint(v, 7)? as u16;
            m.set(
                fields::named("vlan_tci"),
                ((pcp << 13) | VLAN_PRESENT) as u128,
                (0xe000 | VLAN_PRESENT) as u128,
            );
            return Ok(());
        }
        _ => {}
    }
    if k.contains('[') {
        // `reg0[0..7]=5`: a run of bits of a field.
        let sf = parse_subfield(k)?;
        let value = parse_uint(v, u128::MAX)?;
        if sf.n_bits < 128 && value >> sf.n_bits != 0 {
            return Err(format!(
                "{k}: value `{v}` does not fit into {} bits",
                sf.n_bits
            ));
        }
        m.set(sf.mf, value << sf.ofs, sf.mask());
        return Ok(());
    }
    let mf = fields::by_name(k).ok_or_else(|| format!("unknown field `{k}`"))?;
    let (value, mask) = parse_field_value(mf, v)?;
    m.replace(mf, value, mask);
    Ok(())
}

/// Parses a field value with optional mask, in the field's syntax.
pub fn parse_field_value(mf: &Mf, v: &str) -> Result<(u128, u128), String> {
    let full = mf.full_mask();
    if mf.name == "in_port" {
        if v.contains('/') {
            return Err(format!("in_port `{v}` cannot be masked"));
        }
        return Ok((port::parse_port(v)? as u128, full));
    }
    let (value, mask) = match mf.syntax {
        Syntax::Mac => {
            let (a, m) = split_mask(v);
            let a = parse_mac(a)?;
            let m = match m {
                Some(m) => parse_mac(m)?,
                None => 0xffff_ffff_ffff,
            };
            (a as u128, m as u128)
        }
        Syntax::Ipv4 => {
            let (a, m) = split_mask(v);
            let a = parse_ipv4(a)?;
            let m = match m {
                None => u32::MAX,
                Some(m) if m.contains('.') => parse_ipv4(m)?,
                Some(m) => {
                    let n = parse_uint(m, 32)? as u32;
                    if n == 0 {
                        0
                    } else {
                        u32::MAX << (32 - n)
                    }
                }
            };
            (a as u128, m as u128)
        }
        Syntax::Ipv6 => {
            let (a, m) = split_mask(v);
            let a: std::net::Ipv6Addr = a
                .parse()
                .map_err(|_| format!("expected an IPv6 address, found `{a}`"))?;
            let m = match m {
                None => u128::MAX,
                Some(m) if m.contains(':') => {
                    let x: std::net::Ipv6Addr = m
                        .parse()
                        .map_err(|_| format!("expected an IPv6 mask, found `{m}`"))?;
                    u128::from(x)
                }
                Some(m) => {
                    let n = parse_uint(m, 128)? as u32;
                    if n == 0 {
                        0
                    } else {
                        u128::MAX << (128 - n)
                    }
                }
            };
            (u128::from(a), m)
        }
        Syntax::Frag => match v {
            "no" => (0, 1),
            "yes" => (1, 1),
            "first" => (1, 3),
            "later" => (3, 3),
            "not_later" => (0, 2),
            _ => {
                return Err(format!(
                    "expected nw_frag no|yes|first|later|not_later, found `{v}`"
                ))
            }
        },
        Syntax::TcpFlags if v.starts_with('+') || v.starts_with('-') => parse_tcp_flags(v)?,
        Syntax::TcpFlags if v.starts_with(|c: char| c.is_ascii_alphabetic()) => {
            // `syn|ack`: exactly these flags set, all others clear.
            let mut val = 0u128;
            for name in v.split('|') {
                val |= tcp_flag_bit(name, v)? as u128;
            }
            (val, full)
        }
        Syntax::Dec | Syntax::Hex | Syntax::TcpFlags => {
            let (a, m) = split_mask(v);
            let a = parse_uint(a, u128::MAX)?;
            let m = match m {
                Some(m) => parse_uint(m, u128::MAX)?,
                None => full,
            };
            (a, m)
        }
    };
    let bytes = mf.width().div_ceil(8);
    if bytes < 16 && value >> (8 * bytes) != 0 {
        return Err(format!(
            "`{v}`: value too large for {bytes}-byte field {}",
            mf.name
        ));
    }
    if mf.syntax == Syntax::TcpFlags && value & !full != 0 {
        return Err(format!("`{v}`: unknown TCP flag(s)"));
    }
    if mf.name == "nw_tos" && value & 0x03 != 0 {
        return Err(format!(
            "nw_tos `{v}` must be a multiple of 4 (the ECN bits are nw_ecn)"
        ));
    }
    if value & !mf.full_mask() != 0 && mf.name != "nw_tos" {
        return Err(format!(
            "value `{v}` does not fit field `{}` ({} bits)",
            mf.name,
            mf.width()
        ));
    }
    if mask & !full != 0 && mf.name != "nw_tos" {
        return Err(format!("mask in `{v}` does not fit field `{}`", mf.name));
    }
    Ok((value & mask & full, mask & full))
}

const TCP_FLAG_NAMES: &[(&str, u16)] = &[
    ("fin", 0x001),
    ("syn", 0x002),
    ("rst", 0x004),
    ("psh", 0x008),
    ("ack", 0x010),
    ("urg", 0x020),
    ("ece", 0x040),
    ("cwr", 0x080),
    ("ns", 0x100),
];

/// TCP flag names, for formatting.
pub fn tcp_flag_names() -> &'static [(&'static str, u16)] {
    TCP_FLAG_NAMES
}

fn tcp_flag_bit(name: &str, v: &str) -> Result<u16, String> {
    TCP_FLAG_NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|x| x.1)
        .ok_or_else(|| {
            format!(
                "unknown TCP flag `{name}` in `{v}` (expected fin syn rst psh ack urg ece cwr ns)"
            )
        })
}

fn parse_tcp_flags(v: &str) -> Result<(u128, u128), String> {
    let (mut val, mut mask) = (0u128, 0u128);
    let mut rest = v;
    while !rest.is_empty() {
        let on = match rest.as_bytes()[0] {
            b'+' => true,
            b'-' => false,
            _ => return Err(format!("expected `+FLAG` or `-FLAG` in tcp_flags `{v}`")),
        };
        rest = &rest[1..];
        let end = rest.find(['+', '-']).unwrap_or(rest.len());
        let bit = tcp_flag_bit(&rest[..end], v)?;
        mask |= bit as u128;
        if on {
            val |= bit as u128;
        }
        rest = &rest[end..];
    }
    Ok((val, mask))
}

fn split_mask(v: &str) -> (&str, Option<&str>) {
    match v.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (v, None),
    }
}

/// Parses a decimal or `0x` hex integer no larger than `max`.
pub fn parse_uint(s: &str, max: u128) -> Result<u128, String> {
    let r = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u128::from_str_radix(h, 16)
    } else {
        s.parse::<u128>()
    };
    match r {
        Ok(v) if v <= max => Ok(v),
        Ok(_) => Err(format!("`{s}` is out of range (at most {max})")),
        Err(_) => Err(format!("expected a number, found `{s}`")),
    }
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Result<u64, String> {
    let mut v = 0u64;
    let mut n = 0;
    for p in s.split(':') {
        if p.is_empty() || p.len() > 2 {
            return Err(format!("expected an Ethernet address, found `{s}`"));
        }
        let b = u8::from_str_radix(p, 16)
            .map_err(|_| format!("expected an Ethernet address, found `{s}`"))?;
        v = (v << 8) | b as u64;
        n += 1;
    }
    if n != 6 {
        return Err(format!("expected an Ethernet address, found `{s}`"));
    }
    Ok(v)
}

/// Parses a dotted IPv4 address.
pub fn parse_ipv4(s: &str) -> Result<u32, String> {
    s.parse::<std::net::Ipv4Addr>()
        .map(u32::from)
        .map_err(|_| format!("expected an IPv4 address, found `{s}`"))
}

/// Whether every packet `m` matches meets prerequisite `p`.
pub(crate) fn match_guarantees(m: &Match, p: Prereq) -> bool {
    let dl_exact = m.mask.get(Field::DlType) == 0xffff;
    let proto_exact = m.mask.get(Field::NwProto) == 0xff;
    p == Prereq::None
        || (dl_exact && (!p.needs_proto() || proto_exact) && prereq_ok(p, &m.value, None))
}

fn check_prereqs(m: &Match) -> Result<(), String> {
    // Several names share bits (nw_src under `arp` is arp_spa; nw_dst is the
    // low word of ipv6_dst): the match is fine when each of its bits belongs
    // to some field whose prerequisites the match itself guarantees.
    let mut allowed = Flow::ZERO;
    for o in fields::FIELDS {
        if match_guarantees(m, o.prereq) {
            allowed.or_with(&o.as_flow_mask(u128::MAX));
        }
    }
    if m.mask.is_subset_of(&allowed) {
        return Ok(());
    }
    let bad = fields::FIELDS
        .iter()
        .find(|mf| mf.get(&m.mask) & !mf.get(&allowed) != 0)
        .map(|mf| (mf.name, mf.prereq))
        .unwrap_or(("?", Prereq::None));
    Err(format!(
        "field `{}` needs its prerequisites in the match ({})",
        bad.0,
        prereq_name(bad.1)
    ))
}

/// Open vSwitch refuses a `set_field`, `load` or `move` whose fields the
/// match does not guarantee (OFPBAC_MATCH_INCONSISTENT): `arp_spa` needs
/// `arp`, `vlan_vid`/`vlan_pcp` a tag (matched, or pushed by an earlier
/// action). The legacy `mod_*` actions are not checked (they do nothing
/// on packets without the header), so `text` tells them apart.
fn check_action_prereqs(m: &Match, text: &str, acts: &[Action]) -> Result<(), String> {
    let present = VLAN_PRESENT as u64;
    // Tags the match guarantees (OVS's check sees at most the outer one).
    let mut tags = u32::from(
        m.mask.get(Field::VlanTci) & present != 0 && m.value.get(Field::VlanTci) & present != 0,
    );
    check_acts_prereqs(m, text, acts, &mut tags)
}

/// [`check_action_prereqs`] from `tags` tags on; `write_actions` goes on
/// from the state the actions before it leave, as OVS's check does.
fn check_acts_prereqs(
    m: &Match,
    text: &str,
    acts: &[Action],
    tags: &mut u32,
) -> Result<(), String> {
    for ((_, t), a) in split_actions(text, 0).into_iter().zip(acts) {
        // mod_nw_ttl is sent as a set_field in OpenFlow 1.0, so OVS checks it.
        let explicit = ["set_field", "load", "move", "mod_nw_ttl"]
            .iter()
            .any(|n| t.get(..n.len()).is_some_and(|p| p.eq_ignore_ascii_case(n)));
        let used: &[&Mf] = match a {
            Action::SetField { mf, .. } if explicit => &[*mf],
            Action::Load { dst, .. } => &[dst.mf],
            Action::Move { src, dst } => &[src.mf, dst.mf],
            Action::StackPush(sf) | Action::StackPop(sf) | Action::OutputReg(sf) => &[sf.mf],
            Action::PushVlan(_) => {
                if *tags >= 2 {
                    return Err(format!(
                        "`{t}`: a third VLAN tag (at most 2; OVS: OFPBAC_BAD_TAG)"
                    ));
                }
                *tags += 1;
                &[]
            }
            Action::SetVlanVid(_) | Action::SetVlanPcp(_) => {
                *tags = (*tags).max(1);
                &[]
            }
            Action::StripVlan => {
                *tags = tags.saturating_sub(1);
                &[]
            }
            Action::WriteActions(inner) => {
                let body = t.find('(').map_or("", |i| &t[i + 1..t.len() - 1]);
                check_acts_prereqs(m, body, inner, tags)?;
                &[]
            }
            Action::Clone(inner) => {
                // Checked on a copy (OVS `check_subactions`).
                let body = t
                    .find(['(', ':'])
                    .map_or("", |i| t[i + 1..].strip_suffix(')').unwrap_or(&t[i + 1..]));
                let mut sub = *tags;
                check_acts_prereqs(m, body, inner, &mut sub)?;
                &[]
            }
            Action::Learn(l) => {
                super::learn::check_learn(l, m).map_err(|e| format!("`{t}`: {e}"))?;
                &[]
            }
            _ => &[],
        };
        for mf in used {
            let ok = if mf.name == "vlan_vid" || mf.name == "vlan_pcp" {
                *tags > 0
            } else {
                match_guarantees(m, mf.prereq)
            };
            if !ok {
                return Err(format!(
                    "`{t}`: field `{}` is not guaranteed by the match (OVS: OFPBAC_MATCH_INCONSISTENT)",
                    mf.name
                ));
            }
        }
    }
    Ok(())
}

/// Splits at commas outside parentheses, and each piece at white space
/// there, as OVS's `ofputil_parse_key_value` (`strip_vlan output:1` is two
/// actions). White space only separates; a comma with nothing before it is
/// an empty item, which callers refuse.
fn split_actions(s: &str, base: usize) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    for (col, piece) in split_outside_parens(s, base, |c| c == ',') {
        let len = out.len();
        out.extend(
            split_outside_parens(piece, col, |c| c.is_ascii_whitespace())
                .filter(|(_, w)| !w.is_empty()),
        );
        if out.len() == len {
            out.push((col, ""));
        }
    }
    out
}

/// The pieces of `s` between `delim` characters outside parentheses, each
/// with its column (`base` is the column of `s`).
fn split_outside_parens(
    s: &str,
    base: usize,
    delim: impl Fn(char) -> bool,
) -> impl Iterator<Item = (usize, &str)> {
    let mut depth = 0i32;
    let mut start = 0;
    let mut cuts = Vec::new();
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            c if depth == 0 && delim(c) => {
                cuts.push((base + start, &s[start..i]));
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    cuts.push((base + start, &s[start..]));
    cuts.into_iter()
}

fn parse_actions(s: &str, base_col: usize, ctx: &Ctx) -> Result<Vec<Action>, ParseError> {
    if s.is_empty() {
        return Err(ctx.err(base_col, "expected at least one action (or `drop`)"));
    }
    let mut out = Vec::new();
    for (col, a) in split_actions(s, base_col) {
        if a.is_empty() {
            return Err(ctx.err(col, "expected an action, found nothing between commas"));
        }
        let act = parse_action(a).map_err(|m| ctx.err(col, m))?;
        out.push(act);
    }
    if out.len() > 1 && out.contains(&Action::Drop) {
        return Err(ctx.err(base_col, "`drop` must be the only action"));
    }
    check_instruction_order(&out).map_err(|m| ctx.err(base_col, m))?;
    let conj = out
        .iter()
        .filter(|a| matches!(a, Action::Conjunction { .. }))
        .count();
    // Notes do not forward, so OVS lets them stand beside conjunctions.
    let notes = out.iter().filter(|a| matches!(a, Action::Note(_))).count();
    if conj > 0 && conj + notes < out.len() {
        return Err(ctx.err(
            base_col,
            "\"conjunction\" actions may be used along with \"note\" but not any other kind of action",
        ));
    }
    Ok(out)
}

pub(crate) fn parse_action(a: &str) -> Result<Action, String> {
    if a.bytes().all(|b| b.is_ascii_digit()) {
        return out_port_action(parse_out_port(a)?);
    }
    // `key:value`, `key=value` and `key(value)` are one form to ovs-ofctl.
    let (name, arg) = if let Some(p) = a.find(['(', ':', '=']) {
        let (n, rest) = a.split_at(p);
        if let Some(inner) = rest.strip_prefix('(') {
            match inner.strip_suffix(')') {
                Some(body) => (n, Some(body)),
                // OVS's `name(x)->y` form (check_pkt_larger): `x)->y`.
                None if inner.contains(")->") => (n, Some(inner)),
                None => return Err(format!("expected `)` at the end of `{a}`")),
            }
        } else {
            (n, Some(&rest[1..]))
        }
    } else {
        (a, None)
    };
    let need = || {
        arg.filter(|x| !x.is_empty())
            .ok_or_else(|| format!("`{name}` needs an argument"))
    };
    let set = |f: &str, v: &str| -> Result<Action, String> {
        let mf = fields::named(f);
        let (value, mask) = parse_field_value(mf, v)?;
        Ok(Action::SetField { mf, value, mask })
    };
    // Action names and reserved ports are case-insensitive in ovs-ofctl.
    let lower = name.to_ascii_lowercase();
    if arg.is_none()
        && port::NAMES
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    {
        return out_port_action(parse_out_port(name)?);
    }
    match lower.as_str() {
        "drop" => Ok(Action::Drop),
        "output" if need()?.contains('=') => parse_output_trunc(need()?),
        "output" if need()?.contains('[') => parse_output_reg(need()?),
        "output" => out_port_action(parse_out_port(need()?)?),
        "mod_dl_src" => set("dl_src", need()?),
        "mod_dl_dst" => set("dl_dst", need()?),
        "mod_nw_src" => set("nw_src", need()?),
        "mod_nw_dst" => set("nw_dst", need()?),
        "mod_nw_tos" => set("nw_tos", need()?),
        "mod_nw_ecn" => set("nw_ecn", need()?),
        "mod_tp_src" => set("tp_src", need()?),
        "mod_tp_dst" => set("tp_dst", need()?),
        "dec_ttl" => Ok(Action::DecTtl),
        // `set_vlan_vid`/`set_vlan_pcp`: OpenFlow 1.1's names, printed as
        // the `mod_` ones (as ovs-ofctl).
        "mod_vlan_vid" | "set_vlan_vid" => {
            let v = parse_uint(need()?, 0x0fff)? as u16;
            Ok(Action::SetVlanVid(v))
        }
        "mod_vlan_pcp" | "set_vlan_pcp" => Ok(Action::SetVlanPcp(parse_uint(need()?, 7)? as u8)),
        "push_vlan" => {
            let t = parse_uint(need()?, 0xffff)? as u16;
            if t != 0x8100 && t != 0x88a8 {
                return Err(format!(
                    "push_vlan: expected TPID 0x8100 or 0x88a8, found `{t:#x}`"
                ));
            }
            Ok(Action::PushVlan(t))
        }
        "strip_vlan" | "pop_vlan" => Ok(Action::StripVlan),
        "exit" if arg.is_none() => Ok(Action::Exit),
        "set_field" => {
            let v = need()?;
            let (val, f) = v
                .split_once("->")
                .ok_or_else(|| format!("expected `set_field:VALUE->FIELD`, found `{v}`"))?;
            let mf = fields::by_name(f).ok_or_else(|| format!("unknown field `{f}`"))?;
            if !mf.writable {
                return Err(format!("field `{f}` cannot be set"));
            }
            let (value, mask) = parse_field_value(mf, val)?;
            Ok(Action::SetField { mf, value, mask })
        }
        "load" => {
            let v = need()?;
            let (val, f) = v
                .split_once("->")
                .ok_or_else(|| format!("expected `load:VALUE->FIELD[]`, found `{v}`"))?;
            let dst = parse_subfield(f)?;
            if !dst.mf.writable {
                return Err(format!("field `{}` cannot be written", dst.mf.name));
            }
            let value = parse_uint(val, u128::MAX)?;
            if dst.n_bits < 128 && value >> dst.n_bits != 0 {
                return Err(format!(
                    "value `{val}` does not fit in {} bits of `{f}`",
                    dst.n_bits
                ));
            }
            Ok(Action::Load { dst, value })
        }
        "move" => {
            let v = need()?;
            let (a, b) = v
                .split_once("->")
                .ok_or_else(|| format!("expected `move:SRC[]->DST[]`, found `{v}`"))?;
            let src = parse_subfield(a)?;
            let dst = parse_subfield(b)?;
            if src.n_bits != dst.n_bits {
                return Err(format!(
                    "move: source has {} bits but destination has {}",
                    src.n_bits, dst.n_bits
                ));
            }
            if !dst.mf.writable {
                return Err(format!("field `{}` cannot be written", dst.mf.name));
            }
            Ok(Action::Move { src, dst })
        }
        "resubmit" => {
            let v = need()?;
            let (p, t) = match v.split_once(',') {
                Some((p, t)) => (p, Some(t)),
                None => (v, None),
            };
            let port = match p {
                "" => None,
                p => match parse_action_port(p)? {
                    OFPP_IN_PORT => None,
                    OFPP_NONE => {
                        return Err(format!(
                            "`{a}`: resubmit to port ANY is not supported by fastpath"
                        ))
                    }
                    n => Some(n),
                },
            };
            let table = match t {
                None | Some("") => None,
                Some(t) => Some(parse_uint(t, 254)? as u8),
            };
            if port.is_none() && table.is_none() && !p.eq_ignore_ascii_case("in_port") {
                return Err(format!("expected `resubmit(PORT)`, `resubmit(,TABLE)` or `resubmit(PORT,TABLE)`, found `{a}`"));
            }
            Ok(Action::Resubmit { port, table })
        }
        "clear_actions" if arg.is_none() => Ok(Action::ClearActions),
        "conjunction" => parse_conjunction(need()?),
        "write_actions" => parse_write_actions(arg.unwrap_or("")),
        "clone" => parse_clone(arg.unwrap_or("")),
        "learn" => super::learn::parse_learn(arg.unwrap_or("")).map(|l| Action::Learn(Box::new(l))),
        "set_tunnel" | "set_tunnel64" => {
            let id = parse_uint(need()?, u64::MAX as u128)? as u64;
            let wide = lower == "set_tunnel64" || id > u64::from(u32::MAX);
            Ok(Action::SetTunnel { id, wide })
        }
        "goto_table" => Ok(Action::GotoTable(parse_uint(need()?, 254)? as u8)),
        "group" => Ok(Action::Group(parse_uint(need()?, u32::MAX as u128)? as u32)),
        "controller" => parse_controller(arg.unwrap_or("")).map(Action::Controller),
        "write_metadata" => {
            let v = need()?;
            let (a, m) = split_mask(v);
            let value = parse_uint(a, u64::MAX as u128)? as u64;
            let mask = match m {
                Some(m) => parse_uint(m, u64::MAX as u128)? as u64,
                None => u64::MAX,
            };
            Ok(Action::WriteMetadata { value, mask })
        }
        "note" => parse_note(arg.unwrap_or("")),
        "sample" => parse_sample(arg.unwrap_or("")),
        "set_queue" => Ok(Action::SetQueue(str_to_u32(arg.unwrap_or(""))?)),
        "pop_queue" => Ok(Action::PopQueue),
        "enqueue" => parse_enqueue(arg.unwrap_or("")),
        "check_pkt_larger" => parse_check_pkt_larger(arg.unwrap_or("")),
        "mod_nw_ttl" => {
            let v = need()?;
            let ttl = parse_uint(v, 255).map_err(|_| format!("invalid TTL \"{v}\""))?;
            Ok(Action::SetField {
                mf: fields::named("nw_ttl"),
                value: ttl,
                mask: 0xff,
            })
        }
        "push" | "pop" => {
            let sf = parse_subfield(arg.unwrap_or(""))?;
            if lower == "push" {
                Ok(Action::StackPush(sf))
            } else if !sf.mf.writable {
                Err(format!(
                    "field `{}` cannot be written (OVS: OFPBAC_BAD_SET_ARGUMENT)",
                    sf.mf.name
                ))
            } else {
                Ok(Action::StackPop(sf))
            }
        }
        _ => Err(format!("unknown action `{name}`")),
    }
}

/// `output:F[a..b]` (OVS's OFPACT_OUTPUT_REG).
fn parse_output_reg(v: &str) -> Result<Action, String> {
    let sf = parse_subfield(v)?;
    // OVS encodes at most 64 bits (a wider source comes back mangled).
    if sf.n_bits > 64 {
        return Err(format!(
            "`output:{v}`: a port from more than 64 bits is not supported"
        ));
    }
    Ok(Action::OutputReg(sf))
}

/// `note:` bytes as `ovs-ofctl` reads them (pairs of hex digits, dots and
/// spaces between them ignored), zero-padded as OVS encodes them.
fn parse_note(v: &str) -> Result<Action, String> {
    let mut bytes = Vec::new();
    let mut rest = v.trim_start_matches('.');
    while !rest.is_empty() {
        let pair = rest
            .get(..2)
            .filter(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or("bad hex digit in `note' argument")?;
        bytes.push(u8::from_str_radix(pair, 16).map_err(|e| e.to_string())?);
        rest = rest[2..].trim_start_matches('.');
    }
    // NXAST_NOTE: 10 bytes of header, then the note, to a multiple of 8.
    let padded = (10 + bytes.len()).div_ceil(8) * 8 - 10;
    bytes.resize(padded, 0);
    Ok(Action::Note(bytes))
}

/// `id,k/n` of `conjunction(id,k/n)`, with `ovs-ofctl`'s errors.
fn parse_conjunction(v: &str) -> Result<Action, String> {
    let bad = || format!("expected `conjunction(ID,K/N)`, found `conjunction({v})`");
    let (id, kn) = v.split_once(',').ok_or_else(bad)?;
    let (k, n) = kn.split_once('/').ok_or_else(bad)?;
    let id = parse_uint(id.trim(), u32::MAX as u128)? as u32;
    let k = parse_uint(k.trim(), 255)? as u8;
    let n = parse_uint(n.trim(), 255)? as u8;
    if n < 2 {
        return Err("conjunction must have at least 2 clauses".into());
    }
    if n > 64 {
        return Err("conjunction must have at most 64 clauses".into());
    }
    if k == 0 {
        return Err("clause index must be positive".into());
    }
    if k > n {
        return Err("clause index must be less than or equal to number of clauses".into());
    }
    Ok(Action::Conjunction {
        id,
        clause: k,
        n_clauses: n,
    })
}

/// The actions of `write_actions(...)`: those OpenFlow allows in an action set.
fn parse_write_actions(inner: &str) -> Result<Action, String> {
    let mut out = Vec::new();
    if inner.trim().is_empty() {
        return Ok(Action::WriteActions(out));
    }
    for (_, t) in split_actions(inner, 0) {
        let a = parse_action(t)?;
        let refused = match &a {
            Action::WriteMetadata { .. } => Some("write_metadata instruction"),
            Action::GotoTable(_) => Some("goto_table instruction"),
            Action::ClearActions => Some("clear_actions instruction"),
            Action::WriteActions(_) => Some("write_actions instruction"),
            Action::OutputTrunc { .. } => Some("output(port=P,max_len=N)"),
            // Not action-set actions (OVS: OFPBAC_BAD_TYPE).
            Action::Note(_) => Some("note"),
            Action::Exit => Some("exit"),
            Action::StackPush(_) => Some("push"),
            Action::StackPop(_) => Some("pop"),
            Action::OutputReg(_) => Some("output:FIELD[]"),
            Action::Learn(_) => Some("learn"),
            Action::Sample(_) => Some("sample"),
            Action::PopQueue => Some("pop_queue"),
            Action::Enqueue { .. } => Some("enqueue"),
            Action::CheckPktLarger { .. } => Some("check_pkt_larger"),
            // OVS parses it but cannot encode it in any OpenFlow version.
            Action::Controller(c) if !c.is_plain() => {
                return Err("controller(...) with options: disallowed action in action set".into())
            }
            _ => None,
        };
        if let Some(what) = refused {
            return Err(format!("{what} not allowed here (in `write_actions`)"));
        }
        out.push(a);
    }
    if out.len() > 1 && out.contains(&Action::Drop) {
        return Err("`drop` must be the only action in `write_actions`".into());
    }
    out.retain(|a| *a != Action::Drop);
    Ok(Action::WriteActions(out))
}

/// The actions of `clone(...)`: an action list (OVS `parse_CLONE`:
/// instructions refused; empty or `drop` alone gives none).
fn parse_clone(inner: &str) -> Result<Action, String> {
    if inner.trim().is_empty() {
        return Ok(Action::Clone(Vec::new()));
    }
    parse_action_list(inner).map(Action::Clone)
}

/// A group bucket's actions (`ovs-ofctl` parses them as an action list:
/// instructions are refused). `drop` alone gives no actions.
pub fn parse_action_list(s: &str) -> Result<Vec<Action>, String> {
    let mut out = Vec::new();
    for (_, t) in split_actions(s, 0) {
        if t.is_empty() {
            return Err("expected an action, found nothing between commas".into());
        }
        let a = parse_action(t)?;
        let refused = match &a {
            Action::WriteMetadata { .. } => Some("write_metadata"),
            Action::GotoTable(_) => Some("goto_table"),
            Action::ClearActions => Some("clear_actions"),
            Action::WriteActions(_) => Some("write_actions"),
            _ => None,
        };
        if let Some(what) = refused {
            return Err(format!("{what} instruction not allowed here"));
        }
        out.push(a);
    }
    if out.len() > 1 && out.contains(&Action::Drop) {
        return Err("`drop` must be the only action".into());
    }
    out.retain(|a| *a != Action::Drop);
    Ok(out)
}

/// OpenFlow 1.1+ instruction order (OVS checks it in every dialect): apply
/// actions, `clear_actions`, `write_actions`, `write_metadata`, `goto_table`,
/// each instruction at most once.
fn check_instruction_order(acts: &[Action]) -> Result<(), String> {
    const NAMES: [&str; 5] = [
        "apply_actions",
        "clear_actions",
        "write_actions",
        "write_metadata",
        "goto_table",
    ];
    let rank = |a: &Action| match a {
        Action::ClearActions => 1,
        Action::WriteActions(_) => 2,
        Action::WriteMetadata { .. } => 3,
        Action::GotoTable(_) => 4,
        _ => 0,
    };
    let mut last = 0;
    for a in acts {
        let r = rank(a);
        if r < last {
            return Err(format!(
                "invalid instruction ordering: {} must appear before {}, for OpenFlow 1.1+ compatibility",
                NAMES[r], NAMES[last]
            ));
        }
        if r == last && r > 0 {
            return Err(format!(
                "duplicate {} instruction not allowed, for OpenFlow 1.1+ compatibility",
                NAMES[r]
            ));
        }
        last = r;
    }
    Ok(())
}

fn out_port_action(p: u32) -> Result<Action, String> {
    Ok(match p {
        OFPP_IN_PORT => Action::InPort,
        OFPP_CONTROLLER => Action::Controller(Controller::default()),
        p => Action::Output(p),
    })
}

/// C's `strtoul(s, &end, 0)` with `*end == '\0'`: an optional sign, then
/// hex (`0x`), octal (leading `0`) or decimal; a minus negates modulo 2^64.
/// None when nothing or something else follows.
fn c_strtoul(s: &str) -> Option<u64> {
    let (neg, t) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (16, h)
    } else if t.len() > 1 && t.starts_with('0') {
        (8, &t[1..])
    } else {
        (10, t)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = u64::from_str_radix(digits, radix).ok()?;
    Some(if neg { v.wrapping_neg() } else { v })
}

/// OVS's `str_to_u16`: 0..=65535 in C syntax, else `invalid NAME "S"`.
fn str_to_u16(s: &str, name: &str) -> Result<u16, String> {
    let bad = || format!("invalid {name} \"{s}\"");
    // str_to_int reads a signed long: a minus sign makes it negative (but -0 is 0).
    let v = c_strtoul(s).ok_or_else(bad)?;
    if s.starts_with('-') && v != 0 {
        return Err(bad());
    }
    u16::try_from(v).map_err(|_| bad())
}

/// OVS's `str_to_u32`: C number syntax, the low 32 bits of `strtoul`'s
/// result (so `-1` is 4294967295), with its errors.
fn str_to_u32(s: &str) -> Result<u32, String> {
    if s.is_empty() {
        return Err("missing required numeric argument".into());
    }
    c_strtoul(s)
        .map(|v| v as u32)
        .ok_or_else(|| format!("invalid numeric format {s}"))
}

/// OVS's `ofputil_parse_key_value` over `arg`: (key, value) pairs split at
/// commas or white space; a value follows `=` or `:`, or sits in parentheses.
pub(crate) fn key_values(arg: &str) -> Vec<(&str, &str)> {
    const DELIMS: &[char] = &[',', ' ', '\t', '\r', '\n'];
    let mut out = Vec::new();
    let mut rest = arg;
    loop {
        rest = rest.trim_start_matches(DELIMS);
        if rest.is_empty() {
            return out;
        }
        let kend = rest
            .find(|c: char| ":=(".contains(c) || DELIMS.contains(&c))
            .unwrap_or(rest.len());
        let key = &rest[..kend];
        let after = &rest[kend..];
        let (value, next) = match after.chars().next() {
            Some('(') => {
                let mut depth = 0;
                let mut end = after.len();
                for (i, c) in after.char_indices() {
                    match c {
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                end = i;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                (&after[1..end], &after[(end + 1).min(after.len())..])
            }
            Some('=' | ':') => {
                let v = &after[1..];
                let vend = v.find(DELIMS).unwrap_or(v.len());
                (&v[..vend], &v[vend..])
            }
            _ => ("", after),
        };
        out.push((key, value));
        rest = next;
    }
}

/// The argument of `controller:ARG` / `controller(ARG)`, as OVS's
/// `parse_CONTROLLER`, with its error messages.
pub fn parse_controller(arg: &str) -> Result<Controller, String> {
    let mut c = Controller::default();
    if arg.is_empty() {
        return Ok(c);
    }
    if arg.bytes().all(|b| b.is_ascii_digit()) {
        c.max_len = str_to_u16(arg, "max_len")?;
        return Ok(c);
    }
    let mut userdata: Option<&str> = None;
    for (k, v) in key_values(arg) {
        match k {
            "reason" => {
                c.reason = PACKET_IN_REASONS
                    .iter()
                    .position(|r| r.eq_ignore_ascii_case(v))
                    .ok_or_else(|| format!("unknown reason \"{v}\""))?
                    as u8;
            }
            "max_len" => c.max_len = str_to_u16(v, "max_len")?,
            "id" => c.id = str_to_u16(v, "id")?,
            "userdata" => userdata = Some(v),
            "pause" => c.pause = true,
            "meter_id" => {
                if v.is_empty() {
                    return Err("missing required numeric argument".into());
                }
                c.meter_id = str_to_u32(v)?;
            }
            _ => return Err(format!("unknown key \"{k}\" parsing controller action")),
        }
    }
    if let Some(u) = userdata {
        c.userdata =
            parse_dotted_hex(u).ok_or("bad hex digit in `controller' action `userdata'")?;
    }
    Ok(c)
}

/// Hex bytes with optional dots between them (`01.02.03`, `0102`), as
/// OVS's `ofpbuf_put_hex`.
fn parse_dotted_hex(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'.' {
            i += 1;
            continue;
        }
        let pair = s.get(i..i + 2)?;
        out.push(
            u8::from_str_radix(pair, 16)
                .ok()
                .filter(|_| pair.bytes().all(|x| x.is_ascii_hexdigit()))?,
        );
        i += 2;
    }
    Some(out)
}

/// The argument of `sample(...)`, as OVS's `parse_SAMPLE`.
fn parse_sample(arg: &str) -> Result<Action, String> {
    let mut s = Sample {
        probability: 0,
        collector_set_id: 0,
        obs_domain_id: 0,
        obs_point_id: 0,
        sampling_port: OFPP_NONE,
        direction: SampleDirection::Default,
    };
    for (k, v) in key_values(arg) {
        match k {
            "probability" => {
                s.probability = str_to_u16(v, "probability")?;
                if s.probability == 0 {
                    return Err(format!("invalid probability value \"{v}\""));
                }
            }
            "collector_set_id" => s.collector_set_id = str_to_u32(v)?,
            "obs_domain_id" => s.obs_domain_id = str_to_u32(v)?,
            "obs_point_id" => s.obs_point_id = str_to_u32(v)?,
            "sampling_port" => {
                s.sampling_port = port::parse_port(v).map_err(|_| format!("{v}: unknown port"))?
            }
            "ingress" => s.direction = SampleDirection::Ingress,
            "egress" => s.direction = SampleDirection::Egress,
            _ => return Err(format!("invalid key \"{k}\" in \"sample\" argument")),
        }
    }
    if s.probability == 0 {
        return Err("non-zero \"probability\" must be specified on sample".into());
    }
    Ok(Action::Sample(s))
}

/// `PORT:QUEUE`, `PORT,QUEUE` or `PORTqQUEUE`, as OVS's `parse_ENQUEUE`
/// (and its `check_ENQUEUE`: only ordinary ports, `IN_PORT` and `LOCAL`).
fn parse_enqueue(arg: &str) -> Result<Action, String> {
    let delim = |c: char| matches!(c, ':' | 'q' | ',');
    let rest = arg.trim_start_matches(delim);
    let (p, queue) = match rest.find(delim) {
        Some(i) if i + 1 < rest.len() => (&rest[..i], &rest[i + 1..]),
        _ => {
            return Err(
                "\"enqueue\" syntax is \"enqueue:PORT:QUEUE\" or \"enqueue(PORT,QUEUE)\"".into(),
            )
        }
    };
    let port = port::parse_port(p).map_err(|_| format!("{p}: enqueue to unknown port"))?;
    let queue = str_to_u32(queue)?;
    if port >= OFPP_MAX && port != OFPP_IN_PORT && port != port::OFPP_LOCAL {
        return Err(format!(
            "`enqueue:{p}:{queue}`: actions are invalid with specified match (OFPBAC_BAD_OUT_PORT)"
        ));
    }
    Ok(Action::Enqueue { port, queue })
}

/// `N)->DST` of `check_pkt_larger(N)->DST`, as OVS's `parse_CHECK_PKT_LARGER`.
fn parse_check_pkt_larger(arg: &str) -> Result<Action, String> {
    let (len, dst) = arg
        .split_once("->")
        .ok_or_else(|| format!("{arg}: missing `->'"))?;
    let len = len.strip_suffix(')').unwrap_or(len);
    let dst = parse_subfield(dst)?;
    if dst.n_bits != 1 {
        return Err("Only 1-bit destination field is allowed".into());
    }
    if !dst.mf.writable {
        return Err(format!("field `{}` cannot be written", dst.mf.name));
    }
    // OVS passes no name to str_to_u16: its message says "(null)".
    let len = str_to_u16(len, "(null)")?;
    Ok(Action::CheckPktLarger { len, dst })
}

/// `packet_type=(NS,TYPE)`: every packet here is Ethernet, `(0,0)`, so
/// that match holds for all of them (OVS prints none); other packet types
/// (OVS's packet-type-aware bridges: bare IP, NSH) never arrive.
fn parse_packet_type(v: &str) -> Result<(), String> {
    let bad = || format!("{v}: packet_type must be (NS,TYPE)");
    let inner = v
        .strip_prefix('(')
        .and_then(|x| x.strip_suffix(')'))
        .ok_or_else(bad)?;
    let (ns, ty) = inner.split_once(',').ok_or_else(bad)?;
    let num = |x: &str| c_strtoul(x.trim()).filter(|&n| n <= 0xffff).ok_or_else(bad);
    match (num(ns)?, num(ty)?) {
        (0, 0) => Ok(()),
        _ => Err(format!(
            "`packet_type={v}`: fastpath's packets are all Ethernet, packet_type=(0,0) (no packet-type-aware ports)"
        )),
    }
}

/// `port=P,max_len=N` in either order, both required (OVS reads
/// `output(port=P)` alone as a port name; `output(P)` is `output:P`).
fn parse_output_trunc(v: &str) -> Result<Action, String> {
    let (mut port, mut max_len) = (None, None);
    // Items split at commas or white space (`output(max_len=100, port=1)`).
    for kv in v.split([',', ' ', '\t']).filter(|t| !t.is_empty()) {
        match kv.split_once('=') {
            Some(("port", p)) => port = Some(parse_out_port(p)?),
            Some(("max_len", n)) => max_len = Some(parse_uint(n, u16::MAX as u128)? as u32),
            _ => {
                return Err(format!(
                    "output(...): expected `port=P` or `max_len=N`, found `{kv}`"
                ))
            }
        }
    }
    let (Some(port), Some(max_len)) = (port, max_len) else {
        return Err(format!(
            "expected `output(port=P,max_len=N)`, found `output({v})`"
        ));
    };
    if max_len < 14 {
        return Err(format!(
            "max_len {max_len} is less than the minimum value 14"
        ));
    }
    if port == OFPP_CONTROLLER {
        return Err("output to unsupported truncate port: CONTROLLER".into());
    }
    if matches!(port, OFPP_IN_PORT | OFPP_NORMAL | OFPP_FLOOD | OFPP_ALL) {
        let name = reserved_name(port);
        return Err(format!(
            "output(port={name},max_len=N) is not supported by fastpath"
        ));
    }
    Ok(Action::OutputTrunc { port, max_len })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ofproto::port::OFPP_LOCAL;

    #[test]
    fn parses_issue_rules() {
        let r = parse_rule("priority=33,tcp,nw_dst=10.1.2.15,tp_dst=80 actions=drop").unwrap();
        assert_eq!(r.priority, 33);
        assert_eq!(r.m.value.get(Field::NwDst), 0x0a01_020f);
        assert_eq!(r.m.mask.get(Field::TpDst), 0xffff);
        assert_eq!(r.actions, vec![Action::Drop]);
        let r = parse_rule("in_port=1 actions=output(2)").unwrap();
        assert_eq!(r.actions, vec![Action::Output(2)]);
        let r = parse_rule("tcp,tcp_flags=+syn-ack,actions=resubmit(,3),resubmit(4),resubmit(5,6)")
            .unwrap();
        assert_eq!(r.m.value.get(Field::TcpFlags), 2);
        assert_eq!(r.m.mask.get(Field::TcpFlags), 0x12);
        assert_eq!(r.actions.len(), 3);
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = parse_rules(
            "# c\nip,actions=drop\nip,nw_srcx=1.2.3.4,actions=drop\n",
            "f.flows",
        )
        .unwrap_err();
        assert_eq!((e.file.as_str(), e.line, e.col), ("f.flows", 3, 4));
        assert!(e.msg.contains("unknown field"), "{e}");
        let e = parse_rule("ip,actions=output:2,frobnicate").unwrap_err();
        assert_eq!(e.col, 21);
        let e = parse_rule("tp_dst=80,actions=drop").unwrap_err();
        assert!(e.msg.contains("prerequisites"), "{e}");
        assert!(parse_rule("ip,nw_src=10.0.0.0/33,actions=drop").is_err());
        // Without `actions=` the rule is refused, as by `ovs-ofctl`; an
        // empty action list drops.
        let e = parse_rule("ip,nw_src=10.0.0.1").unwrap_err();
        assert!(e.msg.contains("must specify an action"), "{e}");
        assert_eq!(
            parse_rule("ip,actions=").unwrap().actions,
            vec![Action::Drop]
        );
        assert!(parse_rule("table=1,ip,actions=goto_table:1").is_err());
        let e = parse_rule("cookie=0x1/0xff,ip,actions=drop").unwrap_err();
        assert!(e.msg.contains("cookie mask"), "{e}");
        assert_eq!(
            parse_rule("cookie=0x10,ip,actions=drop").unwrap().cookie,
            0x10
        );
    }

    #[test]
    fn ovs_syntax_forms() {
        // `action=`, `ip6`, `ip_frag`, `key:value`, statistics, flags.
        let r = parse_rule(
            " cookie=0x5, duration=1.234s, table=2, n_packets=7, n_bytes=9, idle_age=3, hard_age=4, \
             importance=9,send_flow_rem,priority=5,ip6,ipv6_src=::1 action=drop",
        )
        .unwrap();
        assert_eq!((r.table, r.priority, r.cookie), (2, 5, 5));
        assert_eq!((r.meta.importance, r.meta.flags), (9, FF_SEND_FLOW_REM));
        assert!(r.meta.table_given);
        assert_eq!(r.m.value.get(Field::DlType), 0x86dd);
        let r = parse_rule("table:3,idle:5,hard:6,ip,ip_frag=later,actions=drop").unwrap();
        assert_eq!((r.table, r.idle_timeout, r.hard_timeout), (3, 5, 6));
        assert_eq!(r.m.value.get(Field::NwFrag), 3);
        // table=255 is "no table"; 254 is OVS's hidden table.
        let r = parse_rule("table=255,actions=drop").unwrap();
        assert!(!r.meta.table_given && r.table == 0);
        assert!(parse_rule("table=254,actions=drop").is_err());
        assert!(parse_rule("table=256,actions=drop").is_err());
        // Symbolic ports, upper or lower case.
        for (p, v) in [("LOCAL", 0xfffe), ("local", 0xfffe), ("IN_PORT", 0xfff8)] {
            let r = parse_rule(&format!("in_port={p},actions=drop")).unwrap();
            assert_eq!(r.m.value.get(Field::InPort), v);
        }
        // TCP flags: `a|b` is exactly those set; `+a-b` tests bits.
        let r = parse_rule("tcp,tcp_flags=syn|ack,actions=drop").unwrap();
        assert_eq!(r.m.value.get(Field::TcpFlags), 0x12);
        assert_eq!(r.m.mask.get(Field::TcpFlags), 0x0fff);
        let r = parse_rule("tcp,tcp_flags=+syn+ack,actions=drop").unwrap();
        assert_eq!(r.m.mask.get(Field::TcpFlags), 0x12);
        assert!(parse_rule("tcp,tcp_flags=0x1000,actions=drop").is_err());
        assert!(parse_rule("tcp,tcp_flags=syn|bogus,actions=drop").is_err());
        // A run of a register's bits.
        let r = parse_rule("reg0[0..7]=5,actions=drop").unwrap();
        assert_eq!((r.m.value.reg(0), r.m.mask.reg(0)), (5, 0xff));
        assert!(parse_rule("reg0[0..7]=0x105,actions=drop").is_err());
        // The last of two values for a field wins, as in ovs-ofctl.
        let r = parse_rule("tcp,udp,ip,nw_src=1.2.3.4,nw_src=1.2.0.0/16,actions=drop").unwrap();
        assert_eq!(r.m.value.get(Field::NwProto), 17);
        assert_eq!(r.m.mask.get(Field::NwSrc), 0xffff_0000);
        // Too large for the field's bytes: OVS's error, not a silent 44.
        let e = parse_rule("ip,nw_tos=300,actions=drop").unwrap_err();
        assert!(
            e.msg.contains("value too large for 1-byte field nw_tos"),
            "{e}"
        );
        assert!(parse_rule("tcp,tp_dst=70000,actions=drop").is_err());
        assert!(parse_rule("metadata=0x1ffffffffffffffff,actions=drop").is_err());
    }

    #[test]
    fn instructions_in_openflow_order_as_ovs_ofctl() {
        // Each error is the one `ovs-ofctl parse-flow` 3.1 gives.
        for (rule, err) in [
            (
                "actions=goto_table:2,output:1",
                "apply_actions must appear before goto_table",
            ),
            (
                "actions=write_actions(output:1),output:2",
                "apply_actions must appear before write_actions",
            ),
            (
                "actions=write_actions(output:1),clear_actions",
                "clear_actions must appear before write_actions",
            ),
            (
                "actions=write_actions(output:1),write_actions(output:2)",
                "duplicate write_actions instruction",
            ),
            (
                "actions=write_actions(write_metadata:1)",
                "write_metadata instruction not allowed here",
            ),
        ] {
            let e = parse_rule(rule).unwrap_err();
            assert!(e.msg.contains(err), "{rule}: {e}");
        }
        let r = parse_rule(
            "ip,actions=output:1,clear_actions,write_actions(drop),write_metadata:1,goto_table:2",
        )
        .unwrap();
        assert_eq!(r.actions[2], Action::WriteActions(Vec::new()));
        // A third tag counts the tags the actions before write_actions pushed.
        assert!(
            parse_rule("dl_vlan=5,actions=push_vlan:0x8100,write_actions(push_vlan:0x8100)")
                .is_err()
        );
    }

    #[test]
    fn conjunctions_refused_as_ovs_ofctl() {
        for (rule, err) in [
            (
                "ip,actions=conjunction(5,1/2),output:1",
                "along with \"note\" but not any other",
            ),
            (
                "ip,actions=conjunction(5,3/2)",
                "clause index must be less than or equal",
            ),
            ("ip,actions=conjunction(5,1/1)", "at least 2 clauses"),
            ("ip,actions=conjunction(5,1/65)", "at most 64 clauses"),
            ("conj_id=5/3,actions=drop", "invalid mask for field conj_id"),
        ] {
            let e = parse_rule(rule).unwrap_err();
            assert!(e.msg.contains(err), "{rule}: {e}");
        }
        let r = parse_rule("ip,actions=conjunction(5,1/2),conjunction(6,2/3)").unwrap();
        assert!(r.is_conjunctive());
        // ovs-ofctl accepts notes beside conjunctions (classifier.at:486).
        let r = parse_rule("ip,actions=note:41.42,conjunction(5,1/2)").unwrap();
        assert!(r.is_conjunctive());
    }

    #[test]
    fn trace_flows_follow_ofproto_trace() {
        let f = parse_trace_flow("tcp,in_port=1,tcp_flags=syn|ack,reg3=7,metadata=0x10").unwrap();
        assert_eq!(f.get(Field::TcpFlags), 0x12);
        assert_eq!((f.reg(3), f.metadata()), (7, 0x10));
        // No in_port: OpenFlow's "none", not port 0.
        let f = parse_trace_flow("ip").unwrap();
        assert_eq!(f.get(Field::InPort), 0xffff);
        let f = parse_trace_flow("in_port=1,dl_vlan=5,dl_vlan_pcp=3,ip").unwrap();
        assert_eq!(f.get(Field::VlanTci), 0x7005);
        let f = parse_trace_flow("in_port=0,ip").unwrap();
        assert_eq!(f.get(Field::InPort), 0xffff);
        for (bad, why) in [
            ("tp_dst=80", "prerequisites"),
            ("tp_dst=80,tcp", "prerequisites"),
            ("tcp,tp_dst=80/0xfff0", "masking"),
            ("ip,nw_src=10.0.0.0/8", "masking"),
            ("ip,tcp", "Ethernet type set multiple times"),
            ("tcp,tp_dst=80,tp_dst=81", "set multiple times"),
            ("ip,nw_tos=300", "too large"),
            ("ip,frob=1", "unknown field"),
            ("udp,tp_dst=53", "prerequisites"),
        ] {
            let e = parse_trace_flow(bad).unwrap_err();
            assert!(e.msg.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn output_ports_as_ovs_ofctl_reads_them() {
        let acts = |a: &str| parse_rule(&format!("ip,actions={a}")).map(|r| r.actions);
        assert_eq!(acts("LOCAL").unwrap(), vec![Action::Output(OFPP_LOCAL)]);
        assert_eq!(
            acts("output:local").unwrap(),
            vec![Action::Output(OFPP_LOCAL)]
        );
        assert_eq!(
            acts("output:4294967294").unwrap(),
            vec![Action::Output(OFPP_LOCAL)]
        );
        assert_eq!(
            acts("IN_PORT,In_Port").unwrap(),
            vec![Action::InPort, Action::InPort]
        );
        assert_eq!(acts("output:4294967288").unwrap(), vec![Action::InPort]);
        assert_eq!(
            acts("Output:2,0").unwrap(),
            vec![Action::Output(2), Action::Output(0)]
        );
        assert_eq!(acts("output:65279").unwrap(), vec![Action::Output(65279)]);
        assert_eq!(
            acts("output(port=2,max_len=64),output(max_len=14,port=LOCAL)").unwrap(),
            vec![
                Action::OutputTrunc {
                    port: 2,
                    max_len: 64
                },
                Action::OutputTrunc {
                    port: OFPP_LOCAL,
                    max_len: 14
                }
            ]
        );
        assert_eq!(
            acts("resubmit(IN_PORT,1),resubmit(LOCAL)").unwrap(),
            vec![
                Action::Resubmit {
                    port: None,
                    table: Some(1)
                },
                Action::Resubmit {
                    port: Some(OFPP_LOCAL),
                    table: None
                }
            ]
        );
        // Refused as ovs-ofctl refuses them.
        for bad in [
            "output:4294967295",
            "output:65535",
            "ANY",
            "output:NONE",
            "output:65280",
            "output:4294967040",
            "output:70000",
            "output:0x2",
            "output(port=2)",
            "output(port=2,max_len=13)",
            "output:p2",
        ] {
            assert!(acts(bad).is_err(), "{bad} accepted");
        }
        let e = acts("output:4294967295").unwrap_err();
        assert!(e.msg.contains("OFPP_ANY"), "{e}");
    }

    /// What `ovs-ofctl parse-flows` 3.1 refuses inside `clone(...)`.
    #[test]
    fn clone_refuses_what_ovs_ofctl_refuses() {
        for (rule, why) in [
            (
                "actions=clone(output:1,drop)",
                "`drop` must be the only action",
            ),
            (
                "actions=clone(goto_table:1)",
                "goto_table instruction not allowed",
            ),
            (
                "actions=clone(clear_actions)",
                "clear_actions instruction not allowed",
            ),
            (
                "actions=clone(write_actions(output:1))",
                "write_actions instruction not allowed",
            ),
            // The nested actions' prerequisites are checked too.
            (
                "actions=clone(set_field:192.168.3.3->ip_dst)",
                "OFPBAC_MATCH_INCONSISTENT",
            ),
            // A tag pushed in the clone is gone after it.
            (
                "actions=clone(push_vlan:0x8100,set_field:5->vlan_vid),set_field:6->vlan_vid",
                "OFPBAC_MATCH_INCONSISTENT",
            ),
        ] {
            let e = parse_rule(rule).unwrap_err();
            assert!(e.msg.contains(why), "{rule}: {e}");
        }
        let r =
            parse_rule("actions=push_vlan:0x8100,clone(set_field:5->vlan_vid),output:1").unwrap();
        assert!(matches!(&r.actions[1], Action::Clone(a) if a.len() == 1));
    }

    #[test]
    fn sample_queue_and_check_pkt_larger_errors_are_ovs_ofctls() {
        for (rule, why) in [
            (
                "actions=sample(probability=0)",
                "invalid probability value \"0\"",
            ),
            (
                "actions=sample(collector_set_id=1)",
                "non-zero \"probability\" must be specified on sample",
            ),
            (
                "actions=sample(probability=70000)",
                "invalid probability \"70000\"",
            ),
            (
                "actions=sample(probability=1,foo=2)",
                "invalid key \"foo\" in \"sample\" argument",
            ),
            (
                "actions=sample(probability=1,sampling_port=xyz)",
                "xyz: unknown port",
            ),
            (
                "actions=sample(probability=1,collector_set_id=)",
                "missing required numeric argument",
            ),
            ("actions=set_queue", "missing required numeric argument"),
            ("actions=enqueue:1:x", "invalid numeric format x"),
            ("actions=enqueue:xyz:1", "xyz: enqueue to unknown port"),
            (
                "actions=enqueue:1",
                "\"enqueue\" syntax is \"enqueue:PORT:QUEUE\"",
            ),
            ("actions=enqueue:FLOOD:2", "OFPBAC_BAD_OUT_PORT"),
            ("actions=enqueue:65280:1", "OFPBAC_BAD_OUT_PORT"),
            (
                "actions=check_pkt_larger(200)->reg0[1..2]",
                "Only 1-bit destination",
            ),
            (
                "actions=check_pkt_larger(abc)->reg0[1]",
                "invalid (null) \"abc\"",
            ),
            ("actions=check_pkt_larger(200)", "200: missing `->'"),
            ("actions=write_actions(pop_queue)", "pop_queue not allowed"),
            (
                "actions=write_actions(sample(probability=1))",
                "sample not allowed",
            ),
        ] {
            let e = parse_rule(rule).unwrap_err();
            assert!(e.msg.contains(why), "{rule}: {e}");
        }
        // strtoul's low 32 bits, as OVS's str_to_u32.
        let r = parse_rule("actions=sample(probability=1,collector_set_id=-1)").unwrap();
        assert!(matches!(&r.actions[0], Action::Sample(s) if s.collector_set_id == u32::MAX));
        let r = parse_rule("actions=enqueue:1q2,enqueue(IN_PORT,3),set_queue:0x10").unwrap();
        assert_eq!(
            r.actions,
            vec![
                Action::Enqueue { port: 1, queue: 2 },
                Action::Enqueue {
                    port: OFPP_IN_PORT,
                    queue: 3
                },
                Action::SetQueue(16)
            ]
        );
        let r = parse_rule("actions=write_actions(set_queue:5,output:1)").unwrap();
        assert!(matches!(&r.actions[0], Action::WriteActions(a) if a.len() == 2));
        // Ethernet is every packet's type; others never arrive.
        let r = parse_rule("priority=2,packet_type=(0,0x0),arp,arp_tpa=10.11.12.13,actions=drop")
            .unwrap();
        assert_eq!(
            r.m,
            parse_rule("priority=2,arp,arp_tpa=10.11.12.13,actions=drop")
                .unwrap()
                .m
        );
        let e = parse_rule("packet_type=(1,0x800),nw_dst=10.11.12.13,actions=drop").unwrap_err();
        assert!(e.msg.contains("all Ethernet"), "{e}");
        assert!(parse_rule("packet_type=(0,x),actions=drop").is_err());
        let r = parse_rule("actions=check_pkt_larger:200->reg3[5]").unwrap();
        assert!(matches!(&r.actions[0], Action::CheckPktLarger { len: 200, dst } if dst.ofs == 5));
    }
}
