//! Translation: a flow through the OpenFlow tables → datapath actions and
//! the megaflow mask (every bit the result depended on).
//!
//! Follows Open vSwitch's ofproto-dpif-xlate: the mask starts exact on
//! in_port, dl_type and (IP) nw_frag; each table lookup ORs in what the
//! classifier consulted; actions that read a field (`move`, `dec_ttl`, a
//! `resubmit` lookup) or write one (`set_field`, `mod_*`, `load`) un-wildcard
//! it; header changes are committed as masked set actions before each output.

use super::classifier::LookupStats;
use super::fields::{named, prereq_ok, Mf, Subfield};
use super::flow::{eth_type, ip_proto, is_ip_any, Flow, CONJ_ID_WORD, RECIRC_ID_WORD, TUN_ID_WORD};
use super::mac::{self, MacLearn};
use super::parse::Action;
use super::port::{
    OFPP_ALL, OFPP_CONTROLLER, OFPP_FLOOD, OFPP_IN_PORT, OFPP_NONE, OFPP_NORMAL, OFPP_TABLE,
};
use super::{FragMode, OfProto, RuleIds};
use crate::odp::{ControllerAction, Header, OdpAction, SetAction, SetField};
use abi::key::{FRAG_ANY, FRAG_LATER, VLAN_PRESENT};
use abi::{Field, FlowKey};

/// Resubmit nesting limit (OVS `MAX_DEPTH`).
pub const MAX_DEPTH: u32 = 64;
/// Total resubmits per translation (OVS `MAX_RESUBMITS`).
pub const MAX_RESUBMITS: u32 = 4096;

/// The result of translating one flow.
#[derive(Clone, Debug)]
pub struct Translation {
    /// Datapath actions (empty: drop).
    pub actions: Vec<OdpAction>,
    /// The megaflow mask over the datapath key.
    pub mask: FlowKey,
    /// Error that stopped translation (actions are then empty: drop).
    pub error: Option<String>,
    /// Human-readable trace, when asked for.
    pub trace: Vec<String>,
    /// Subtables visited over all table lookups.
    pub subtables_visited: u32,
    /// Rules matched, in order (rule ids).
    pub rules: RuleIds,
    /// The flow after all actions.
    pub final_flow: Flow,
    /// What NORMAL learned (applied by the caller with [`OfProto::learn`]:
    /// traces and revalidation without traffic learn nothing, as in OVS).
    pub learn: Vec<MacLearn>,
    /// Rules `learn` actions built (applied by the caller with
    /// [`OfProto::learn_flows`]: traces install nothing, as `ofproto/trace`).
    pub learned: Vec<(super::Rule, u32)>,
    /// A queue action read the packet's priority: OVS's megaflow is then
    /// exact on `skb_priority=0`, which every packet here has (the key has
    /// no priority).
    pub priority_matched: bool,
}

impl Translation {
    /// A drop decided before any table lookup (no recirculation context,
    /// a fragment under `set-frags drop`), with its one trace line.
    fn before_lookup(
        mask: FlowKey,
        flow: Flow,
        error: Option<String>,
        line: Option<String>,
    ) -> Self {
        Translation {
            actions: Vec::new(),
            mask,
            error,
            trace: line.into_iter().collect(),
            subtables_visited: 0,
            rules: RuleIds::new(),
            final_flow: flow,
            learn: Vec::new(),
            learned: Vec::new(),
            priority_matched: false,
        }
    }
}

struct Ctx<'a> {
    of: &'a OfProto,
    flow: Flow,
    base: Flow,
    wc: Flow,
    /// Bits actions wrote: the masks of committed set actions (the same for
    /// every packet of the megaflow, so actions compare equal across it).
    written: Flow,
    odp: Vec<OdpAction>,
    /// `flow`'s tags (outer, inner) beyond their TCIs.
    tags: [Tag; 2],
    /// TPIDs of `base`'s tags (each base tag is itself: no origin to keep).
    base_tpid: [u16; 2],
    depth: u32,
    resubmits: u32,
    table: u8,
    stop: bool,
    error: Option<String>,
    tracing: bool,
    trace: Vec<String>,
    stats: LookupStats,
    rules: RuleIds,
    /// The OpenFlow action set (`write_actions`), run when the pipeline ends.
    action_set: Vec<Action>,
    learn: Vec<MacLearn>,
    learned: Vec<(super::Rule, u32)>,
    /// Controller actions' state.
    ctl: CtlState,
    /// The register stack of `push`/`pop` (right-aligned values), shared by
    /// the whole translation as OVS's `ctx->stack`.
    stack: Vec<u128>,
    /// The in_port of the next table lookup only (a resubmit's port).
    lookup_port: Option<u64>,
    /// The action list running is the translation's last (OVS's
    /// `is_last_action`): a `clone` there needs no copy.
    last: bool,
    /// The packet's priority (queue) as actions set it, and as committed to
    /// the datapath; packets enter with 0 (OVS's `skb_priority`).
    prio: u32,
    base_prio: u32,
    /// A queue action read the priority.
    prio_read: bool,
}

/// What a controller action reads of the translation besides the flow.
#[derive(Default)]
struct CtlState {
    /// The rule whose actions run (restored after a nested lookup; the
    /// top-level rule stays for the action set, as OVS's `ctx->rule`).
    rule: Option<u32>,
    /// Running the action set (a plain CONTROLLER output's reason is then
    /// `action_set`).
    in_action_set: bool,
    /// Running a group bucket (the reason is then `group`, before
    /// `action_set`, as OVS's `xlate_output_action`).
    in_group: bool,
    /// Packet-in states seen, by recirc id - 1: OVS gives equal frozen
    /// states (table, userdata, metadata) one id.
    states: Vec<(u8, Vec<u8>, Flow)>,
}

impl OfProto {
    /// Translates `flow` (a datapath key; metadata and registers start at 0).
    pub fn translate(&self, key: &FlowKey, tracing: bool) -> Translation {
        self.translate_flow(&Flow::from_key(key), tracing)
    }

    /// Translates a flow whose metadata and registers may be set (a trace
    /// flow; packets from the datapath start with them at 0).
    pub fn translate_flow(&self, flow: &Flow, tracing: bool) -> Translation {
        let packet = *flow;
        let mut flow = *flow;
        let mut wc = Flow::ZERO;
        wc.set(Field::InPort, u64::MAX);
        wc.set(Field::DlType, u64::MAX);
        let frag = is_ip_any(&flow) && flow.get(Field::NwFrag) as u8 & FRAG_ANY != 0;
        if is_ip_any(&flow) {
            wc.set(Field::NwFrag, u64::MAX);
        }
        let recirc = flow.w[RECIRC_ID_WORD];
        if recirc != 0 {
            // As OVS's xlate_actions without a frozen state for the id: no
            // action of fastpath recirculates, so no id but 0 has one.
            wc.w[RECIRC_ID_WORD] = u64::from(u32::MAX);
            return Translation::before_lookup(
                finish_wc(&packet, &wc),
                flow,
                Some("No recirculation context".into()),
                tracing.then(|| {
                    format!("    >>>> Recirculation context not found for ID {recirc:x} <<<<")
                }),
            );
        }
        if frag {
            match self.frags {
                // As OVS: translation sees no L4 fields; the megaflow keeps
                // the packet's own (exact on nw_frag, so only fragments).
                FragMode::Normal => {
                    flow.set(Field::TpSrc, 0);
                    flow.set(Field::TpDst, 0);
                }
                FragMode::NxMatch => {}
                FragMode::Drop => {
                    return Translation::before_lookup(
                        finish_wc(&packet, &wc),
                        flow,
                        None,
                        tracing.then(|| "fragment dropped (set-frags drop)".into()),
                    );
                }
            }
        }
        let mut cx = Ctx {
            of: self,
            flow,
            base: flow,
            wc,
            written: Flow::ZERO,
            odp: Vec::new(),
            tags: packet_tags(&flow),
            base_tpid: packet_tags(&flow).map(|t| t.tpid),
            depth: 0,
            resubmits: 0,
            table: 0,
            stop: false,
            error: None,
            tracing,
            trace: Vec::new(),
            stats: LookupStats::default(),
            rules: RuleIds::new(),
            action_set: Vec::new(),
            learn: Vec::new(),
            learned: Vec::new(),
            ctl: CtlState::default(),
            stack: Vec::new(),
            lookup_port: None,
            last: true,
            prio: 0,
            base_prio: 0,
            prio_read: false,
        };
        cx.table_lookup(0, 0);
        if !cx.action_set.is_empty() && !cx.stop {
            // OVS's xlate_action_set runs it as a last action list.
            cx.run_action_set(0, true);
        }
        if cx.error.is_some() {
            cx.odp.clear();
        }
        if frag && self.frags == FragMode::Normal {
            // The zeroed ports are how translation saw them, not a change.
            for f in [Field::TpSrc, Field::TpDst] {
                if cx.written.get(f) == 0 {
                    cx.flow.set(f, packet.get(f));
                }
            }
        }
        let mask = finish_wc(&packet, &cx.wc);
        let mask = if self.megaflows {
            mask
        } else {
            exact_mask(&packet)
        };
        Translation {
            actions: cx.odp,
            mask,
            error: cx.error,
            trace: cx.trace,
            subtables_visited: cx.stats.subtables,
            rules: cx.rules,
            final_flow: cx.flow,
            learn: cx.learn,
            learned: cx.learned,
            priority_matched: cx.prio_read,
        }
    }
}

/// The L3 header fields a commit rewrites (IPv4, IPv6 or ARP; arp_op is
/// nw_proto).
const L3_FIELDS: [Field; 11] = [
    Field::NwSrc,
    Field::NwDst,
    Field::NwTos,
    Field::NwTtl,
    Field::NwProto,
    Field::ArpSha,
    Field::ArpTha,
    Field::Ipv6SrcHi,
    Field::Ipv6SrcLo,
    Field::Ipv6DstHi,
    Field::Ipv6DstLo,
];

/// A VLAN tag of the flow being translated, beyond its TCI.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Tag {
    /// The key has no TPIDs: a packet's own tags read as 802.1ad outside
    /// 802.1Q when double-tagged, else 802.1Q; only pushed tags choose theirs.
    tpid: u16,
    /// The slot of the datapath packet's (`base`'s) tag this one is, with
    /// only written bits changed; `None` for a tag an action made. A commit
    /// that keeps a base tag because it equals a made one has read the
    /// whole base tag.
    from: Option<usize>,
}

impl Tag {
    fn made(tpid: u16) -> Tag {
        Tag { tpid, from: None }
    }
}

/// The tags a packet comes with, each its own base tag.
fn packet_tags(f: &Flow) -> [Tag; 2] {
    let outer = if f.get(Field::VlanTci2) as u16 & VLAN_PRESENT != 0 {
        eth_type::VLAN_8021AD
    } else {
        eth_type::VLAN
    };
    [
        Tag {
            tpid: outer,
            from: Some(0),
        },
        Tag {
            tpid: eth_type::VLAN,
            from: Some(1),
        },
    ]
}

/// The key fields of tag slots 0 (outer) and 1.
const TAG_FIELDS: [Field; 2] = [Field::VlanTci, Field::VlanTci2];

/// A field value in the field's own syntax (`50:54:00:00:00:0b`,
/// `10.0.0.1/255.255.0.0`, `80`), for traces.
fn show_value(mf: &super::fields::Mf, value: u128, mask: u128) -> String {
    let full = mf.full_mask();
    let one = |v: u128| mf.format_value(v);
    if mask == full {
        one(value)
    } else {
        format!("{}/{}", one(value), one(mask))
    }
}

/// OVS `xlate_wc_finish`: drop non-packet fields, keep ICMP masks to 8
/// bits, the VLAN "present" bit whenever any TCI bit is matched, and no
/// port bits for later fragments (their ports are always 0).
fn finish_wc(flow: &Flow, wc: &Flow) -> FlowKey {
    let mut m = wc.key();
    let dl = flow.get(Field::DlType) as u16;
    let proto = flow.get(Field::NwProto) as u8;
    if (dl == eth_type::IP && proto == ip_proto::ICMP)
        || (dl == eth_type::IPV6 && proto == ip_proto::ICMPV6)
    {
        m.set(Field::TpSrc, m.get(Field::TpSrc) & 0xff);
        m.set(Field::TpDst, m.get(Field::TpDst) & 0xff);
    }
    for f in [Field::VlanTci, Field::VlanTci2] {
        if m.get(f) != 0 {
            m.set(f, m.get(f) | VLAN_PRESENT as u64);
        }
    }
    if is_ip_any(flow) && flow.get(Field::NwFrag) as u8 & FRAG_LATER != 0 {
        m.set(Field::TpSrc, 0);
        m.set(Field::TpDst, 0);
    }
    m
}

/// The exact-match mask for a packet (`--no-megaflows`): every field the
/// packet has, nothing it does not.
pub fn exact_mask(flow: &Flow) -> FlowKey {
    let mut m = FlowKey::ZERO;
    let ones = |m: &mut FlowKey, f: Field| m.set(f, u64::MAX);
    for f in [
        Field::InPort,
        Field::DlType,
        Field::VlanTci,
        Field::DlDst,
        Field::DlSrc,
        Field::VlanTci2,
    ] {
        ones(&mut m, f);
    }
    let dl = flow.get(Field::DlType) as u16;
    let l3 = [Field::NwProto, Field::NwTos, Field::NwTtl, Field::NwFrag];
    let addrs = [
        Field::Ipv6SrcHi,
        Field::Ipv6SrcLo,
        Field::Ipv6DstHi,
        Field::Ipv6DstLo,
    ];
    if dl == eth_type::IP || dl == eth_type::IPV6 || dl == eth_type::ARP {
        for f in l3.iter().chain(addrs.iter()) {
            ones(&mut m, *f);
        }
        if dl != eth_type::ARP {
            for f in [Field::TpSrc, Field::TpDst, Field::TcpFlags] {
                ones(&mut m, f);
            }
        }
    }
    m
}

impl Ctx<'_> {
    /// Adds a trace line; the text is only built when tracing (upcalls never pay for it).
    fn note(&mut self, indent: u32, s: impl FnOnce() -> String) {
        if self.tracing {
            let line = s();
            self.trace
                .push(format!("{}{}", "    ".repeat(indent as usize), line));
        }
    }

    fn fail(&mut self, msg: String) {
        if self.error.is_none() {
            self.note(self.depth, || format!(">>>> {msg} <<<<"));
            self.error = Some(msg);
        }
        self.stop = true;
    }

    /// The rule `table` gives the flow (None: the table is empty).
    fn lookup(&mut self, table: u8) -> Option<Option<(u32, u16)>> {
        let cls = self
            .of
            .tables
            .get(table as usize)
            .and_then(|t| t.as_ref())?;
        let of = self.of;
        let mut hit = cls.lookup_hinted(&self.flow, &mut self.wc, &mut self.stats, |rid| {
            of.prefetch_rule(rid)
        });
        if let Some(conj) = of.conj_rules(table).filter(|c| !c.is_empty()) {
            if let Some(h) = self.conjunctive_match(table, conj, hit) {
                hit = Some(h);
            }
        }
        Some(hit)
    }

    fn table_lookup(&mut self, table: u8, indent: u32) {
        // As OVS's xlate_table_action: a resubmit's port is the in_port of
        // the lookup only; the rule's actions see the original again.
        let restore = self.lookup_port.take().map(|p| {
            let old = self.flow.get(Field::InPort);
            self.flow.set(Field::InPort, p);
            old
        });
        let hit = self.lookup(table);
        if let Some(old) = restore {
            self.flow.set(Field::InPort, old);
        }
        let Some(hit) = hit else {
            self.note(indent, || format!("{table:2}. No match (table is empty)."));
            self.note(indent + 1, || "drop".to_string());
            return;
        };
        match hit {
            None => {
                self.note(indent, || format!("{table:2}. No match."));
                self.note(indent + 1, || "drop".to_string());
            }
            Some((rid, _)) => {
                let rule = &self.of.rules[rid as usize];
                self.rules.push(rid);
                self.note(indent, || {
                    format!(
                        "{table:2}. {}, priority {}{}",
                        if rule.match_text.is_empty() {
                            "any"
                        } else {
                            &rule.match_text
                        },
                        rule.priority,
                        if rule.cookie != 0 {
                            format!(", cookie {:#x}", rule.cookie)
                        } else {
                            String::new()
                        }
                    )
                });
                let saved = self.table;
                self.table = table;
                let saved_rule = self.ctl.rule.replace(rid);
                self.do_actions(&rule.actions, indent + 1);
                self.table = saved;
                if self.depth > 0 {
                    self.ctl.rule = saved_rule;
                }
            }
        }
    }

    fn do_actions(&mut self, acts: &[Action], indent: u32) {
        let list_last = self.last;
        for (i, a) in acts.iter().enumerate() {
            if self.stop {
                break;
            }
            // As OVS's do_xlate_actions: the last action of a last list,
            // with nothing left in the action set.
            self.last = list_last && i + 1 == acts.len() && self.action_set.is_empty();
            if let Action::CheckPktLarger { len, dst } = a {
                // It translates the rest of the list itself, twice.
                self.check_pkt_larger(*len, dst, &acts[i + 1..], indent);
                break;
            }
            if !self.do_action(a, indent) {
                break;
            }
        }
        self.last = list_last;
    }

    /// One action of [`Ctx::do_actions`]; false ends the action list.
    fn do_action(&mut self, a: &Action, indent: u32) -> bool {
        {
            match a {
                Action::Drop => self.note(indent, || "drop".into()),
                Action::Output(p) => self.output(*p, None, indent),
                Action::OutputTrunc { port, max_len } => self.output(*port, Some(*max_len), indent),
                Action::InPort => {
                    let p = self.flow.get(Field::InPort) as u32;
                    if !self.of.port_exists(p) {
                        self.note(indent, || format!("IN_PORT: nonexistent port {p}"));
                        return true;
                    }
                    self.commit();
                    self.odp.push(OdpAction::Output(p));
                    self.note(indent, || format!("output:{p} (in_port)"));
                }
                Action::SetField { mf, value, mask } => {
                    if prereq_ok(mf.prereq, &self.flow, Some(&mut self.wc)) {
                        self.l3_prereq_mask(mf);
                        mf.unwildcard(&mut self.wc, *mask);
                        mf.unwildcard(&mut self.written, *mask);
                        self.vlan_write(mf, |f| mf.set_masked(f, *value, *mask));
                        self.note(indent, || {
                            format!("set_field:{}->{}", show_value(mf, *value, *mask), mf.name)
                        });
                    } else {
                        self.note(indent, || {
                            format!("set_field of {}: skipped, prerequisites not met", mf.name)
                        });
                    }
                }
                Action::Load { dst, value } => {
                    if prereq_ok(dst.mf.prereq, &self.flow, Some(&mut self.wc)) {
                        self.l3_prereq_mask(dst.mf);
                        dst.mf.unwildcard(&mut self.wc, dst.mask());
                        dst.mf.unwildcard(&mut self.written, dst.mask());
                        self.vlan_write(dst.mf, |f| dst.set(f, *value));
                        self.note(indent, || {
                            format!(
                                "load:{value:#x}->{}[{}..{}]",
                                dst.mf.name,
                                dst.ofs,
                                dst.ofs + dst.n_bits - 1
                            )
                        });
                    }
                }
                Action::Move { src, dst } => {
                    if prereq_ok(src.mf.prereq, &self.flow, Some(&mut self.wc))
                        && prereq_ok(dst.mf.prereq, &self.flow, Some(&mut self.wc))
                    {
                        src.mf.unwildcard(&mut self.wc, src.mask());
                        dst.mf.unwildcard(&mut self.wc, dst.mask());
                        dst.mf.unwildcard(&mut self.written, dst.mask());
                        let v = src.get(&self.flow);
                        self.vlan_write(dst.mf, |f| dst.set(f, v));
                        self.note(indent, || {
                            format!(
                                "move:{}[{}..{}]->{}[{}..{}] ({v:#x})",
                                src.mf.name,
                                src.ofs,
                                src.ofs + src.n_bits - 1,
                                dst.mf.name,
                                dst.ofs,
                                dst.ofs + dst.n_bits - 1
                            )
                        });
                    }
                }
                Action::DecTtl => {
                    // As OVS's OFPACT_DEC_TTL: TTL and protocol are read
                    // (the commit reads nw_proto) before the IP check, so
                    // even a non-IP megaflow holds them.
                    self.wc.set(Field::NwTtl, 0xff);
                    self.wc.set(Field::NwProto, 0xff);
                    if is_ip_any(&self.flow) {
                        let ttl = self.flow.get(Field::NwTtl);
                        if ttl <= 1 {
                            // As OVS's compose_dec_ttl: the rest of this
                            // action list is skipped; a resubmit's caller goes on.
                            self.note(indent, || "dec_ttl: TTL exceeded, stop".into());
                            // OVS sends it to the controller (reason invalid_ttl).
                            self.controller(
                                &super::parse::Controller {
                                    reason: super::parse::OFPR_INVALID_TTL,
                                    ..Default::default()
                                },
                                indent + 1,
                            );
                            return false;
                        } else {
                            self.flow.set(Field::NwTtl, ttl - 1);
                            self.written.set(Field::NwTtl, 0xff);
                            self.note(indent, || format!("dec_ttl: {} -> {}", ttl, ttl - 1));
                        }
                    }
                }
                Action::SetVlanVid(vid) => {
                    self.tag_if_none();
                    let m = self.wc.get(Field::VlanTci) | 0x0fff | VLAN_PRESENT as u64;
                    self.wc.set(Field::VlanTci, m);
                    let tci = self.flow.get(Field::VlanTci);
                    self.flow.set(
                        Field::VlanTci,
                        (tci & !0x0fff) | *vid as u64 | VLAN_PRESENT as u64,
                    );
                    self.note(indent, || format!("mod_vlan_vid:{vid}"));
                }
                Action::SetVlanPcp(pcp) => {
                    self.tag_if_none();
                    let m = self.wc.get(Field::VlanTci) | 0xe000 | VLAN_PRESENT as u64;
                    self.wc.set(Field::VlanTci, m);
                    let tci = self.flow.get(Field::VlanTci);
                    self.flow.set(
                        Field::VlanTci,
                        (tci & !0xe000) | ((*pcp as u64) << 13) | VLAN_PRESENT as u64,
                    );
                    self.note(indent, || format!("mod_vlan_pcp:{pcp}"));
                }
                Action::PushVlan(tpid) => {
                    // As OVS's flow_push_vlan_uninit: every tag present is
                    // read whole (the inner one may be pushed out of the key).
                    for f in [Field::VlanTci, Field::VlanTci2] {
                        if self.flow.get(f) as u16 & VLAN_PRESENT != 0 {
                            self.wc.set(f, u64::MAX);
                        }
                    }
                    let outer = self.flow.get(Field::VlanTci);
                    self.flow.set(Field::VlanTci2, outer);
                    self.flow.set(Field::VlanTci, VLAN_PRESENT as u64);
                    self.tags = [Tag::made(*tpid), self.tags[0]];
                    self.note(indent, || format!("push_vlan:{tpid:#06x}"));
                }
                Action::StripVlan => {
                    // As OVS's flow_pop_vlan: the tag that moves up is read
                    // whole, the popped one only when a commit rebuilds it.
                    // Which tags exist is implicit in OVS's datapath key
                    // (its encapsulation); here it is the "present" bits.
                    let p = VLAN_PRESENT as u64;
                    self.wc.set(Field::VlanTci, self.wc.get(Field::VlanTci) | p);
                    if self.flow.get(Field::VlanTci) as u16 & VLAN_PRESENT != 0 {
                        self.wc
                            .set(Field::VlanTci2, self.wc.get(Field::VlanTci2) | p);
                    }
                    if self.flow.get(Field::VlanTci2) as u16 & VLAN_PRESENT != 0 {
                        self.wc.set(Field::VlanTci2, u64::MAX);
                    }
                    if self.flow.get(Field::VlanTci) as u16 & VLAN_PRESENT != 0 {
                        let inner = self.flow.get(Field::VlanTci2);
                        self.flow.set(Field::VlanTci, inner);
                        self.flow.set(Field::VlanTci2, 0);
                        self.tags = [self.tags[1], Tag::made(eth_type::VLAN)];
                    }
                    self.note(indent, || "strip_vlan".into());
                }
                // Clause rules are never a lookup's result.
                Action::Conjunction { .. } => {}
                Action::ClearActions => {
                    self.action_set.clear();
                    self.note(indent, || "clear_actions".into());
                }
                Action::Exit => {
                    // As OVS: nothing after it runs, nor the action set.
                    self.note(indent, || "exit".into());
                    self.stop = true;
                    return false;
                }
                Action::WriteActions(inner) => {
                    self.action_set.extend(inner.iter().cloned());
                    self.note(indent, || format!("write_actions({} actions)", inner.len()));
                }
                Action::SetTunnel { id, .. } => {
                    self.flow.w[TUN_ID_WORD] = *id;
                    self.note(indent, || format!("set_tunnel:{id:#x}"));
                }
                Action::Controller(c) => self.controller(c, indent),
                Action::Note(_) => self.note(indent, || "note".into()),
                Action::StackPush(sf) => self.stack_push(sf, indent),
                Action::StackPop(sf) => self.stack_pop(sf, indent),
                Action::OutputReg(sf) => self.output_reg(sf, indent),
                Action::Clone(inner) => self.clone_actions(inner, indent),
                Action::Learn(l) => self.learn_action(l, indent),
                // OVS's xlate_sample_action does nothing (not even commit)
                // on a bridge without IPFIX, as here.
                Action::Sample(_) => self.note(indent, || "sample: no IPFIX, nothing done".into()),
                // As OVS's netdev datapath: the priority is the queue number.
                Action::SetQueue(q) => {
                    self.prio_read = true;
                    self.prio = *q;
                    self.note(indent, || format!("set_queue:{q}"));
                }
                Action::PopQueue => {
                    self.prio_read = true;
                    self.prio = 0;
                    self.note(indent, || "pop_queue".into());
                }
                Action::Enqueue { port, queue } => self.enqueue(*port, *queue, indent),
                // Run by do_actions.
                Action::CheckPktLarger { .. } => {}
                Action::WriteMetadata { value, mask } => {
                    let md = self.flow.metadata();
                    named("metadata").set_masked(
                        &mut self.flow,
                        ((md & !mask) | (value & mask)) as u128,
                        u128::MAX,
                    );
                    self.note(indent, || format!("write_metadata:{value:#x}/{mask:#x}"));
                }
                Action::Resubmit { port, table } => {
                    self.resubmits += 1;
                    if self.depth >= MAX_DEPTH {
                        self.fail(format!("over max translation depth {MAX_DEPTH}"));
                        return false;
                    }
                    if self.resubmits > MAX_RESUBMITS {
                        self.fail(format!("over {MAX_RESUBMITS} resubmit actions"));
                        return false;
                    }
                    let t = table.unwrap_or(self.table);
                    self.lookup_port = port.map(u64::from);
                    self.note(indent, || {
                        format!(
                            "resubmit({},{t})",
                            port.map(|p| p.to_string()).unwrap_or_default()
                        )
                    });
                    self.depth += 1;
                    self.table_lookup(t, indent + 1);
                    self.depth -= 1;
                }
                Action::Group(g) => {
                    if !self.group(*g, indent) {
                        return false;
                    }
                }
                Action::GotoTable(t) => {
                    self.note(indent, || format!("goto_table:{t}"));
                    self.resubmits += 1;
                    if self.depth >= MAX_DEPTH {
                        self.fail(format!("over max translation depth {MAX_DEPTH}"));
                        return false;
                    }
                    self.depth += 1;
                    self.table_lookup(*t, indent);
                    self.depth -= 1;
                }
            }
        }
        true
    }

    /// `clone(...)` as OVS's `xlate_clone`: the actions run on a copy of the
    /// flow and of the action set (which runs when they end), and both are
    /// restored afterwards. Actions OVS cannot undo by committing the outer
    /// flow again (here `output(port=..,max_len=..)`, whose trunc would cut
    /// later outputs) get a datapath `clone(...)`, unless nothing follows;
    /// the others are inlined, and the next output re-commits the outer
    /// header values.
    fn clone_actions(&mut self, inner: &[Action], indent: u32) {
        self.note(indent, || "clone".into());
        let (flow, tags, prio) = (self.flow, self.tags, self.prio);
        let base_vlan = self.base_vlan();
        let set = self.action_set.clone();
        let last = self.last;
        let reversible = !inner
            .iter()
            .any(|a| matches!(a, Action::OutputTrunc { .. }));
        if reversible || last {
            self.do_actions(inner, indent + 1);
            if !self.action_set.is_empty() && !self.stop {
                self.run_action_set(indent + 1, true);
            }
        } else {
            // Committed first so the changes so far are not made twice
            // (in the clone and after it).
            self.commit();
            let (base, base_tpid, base_prio) = (self.base, self.base_tpid, self.base_prio);
            let outer = std::mem::take(&mut self.odp);
            self.last = true;
            self.do_actions(inner, indent + 1);
            if !self.action_set.is_empty() && !self.stop {
                self.run_action_set(indent + 1, true);
            }
            self.last = last;
            let copy = std::mem::replace(&mut self.odp, outer);
            // OVS's nl_msg_end_non_empty_nested: no empty clone.
            if !copy.is_empty() {
                self.odp.push(OdpAction::Clone(copy));
            }
            // The datapath's packet after the clone is the one before it.
            self.base = base;
            self.base_tpid = base_tpid;
            self.base_prio = base_prio;
        }
        self.action_set = set;
        self.flow = flow;
        self.restore_tags(tags, base_vlan);
        self.prio = prio;
    }

    /// `enqueue` as OVS's `xlate_enqueue_action` on the netdev datapath
    /// (priority = queue): an output with the queue's priority for that
    /// output only; to the input port only as `IN_PORT`.
    fn enqueue(&mut self, port: u32, queue: u32, indent: u32) {
        self.prio_read = true;
        let in_port = self.flow.get(Field::InPort) as u32;
        let p = match port {
            OFPP_IN_PORT => in_port,
            p if p == in_port => {
                self.note(indent, || {
                    format!("enqueue:{p}:{queue}: input port, skipped")
                });
                return;
            }
            p => p,
        };
        if !self.of.port_exists(p) {
            self.note(indent, || {
                format!("enqueue:{p}:{queue}: nonexistent output port")
            });
            return;
        }
        let prio = std::mem::replace(&mut self.prio, queue);
        self.commit();
        self.odp.push(OdpAction::Output(p));
        self.prio = prio;
        self.note(indent, || format!("enqueue:{p}:{queue}"));
    }

    /// `check_pkt_larger(len)->dst` and the actions after it (`rest`), as
    /// OVS's `xlate_check_pkt_larger` with a datapath that has
    /// `check_pkt_len`: header changes committed, then `rest` translated
    /// with `dst` = 1 and again with 0, each from the same flow and base and
    /// ending with the action set. The action set and register stack are
    /// shared by the two (OVS copies them once: the second branch sees the
    /// set the first ran, so empty) and restored afterwards, so the action
    /// set runs again when the pipeline ends.
    fn check_pkt_larger(&mut self, len: u16, dst: &Subfield, rest: &[Action], indent: u32) {
        self.note(indent, || format!("check_pkt_larger({len})"));
        let (stack, set) = (self.stack.clone(), self.action_set.clone());
        self.commit();
        // Saved after the commit, so the tags are the committed base's.
        let (flow, tags, prio) = (self.flow, self.tags, self.prio);
        let (base, base_tpid, base_prio) = (self.base, self.base_tpid, self.base_prio);
        let (outer, last, stop) = (std::mem::take(&mut self.odp), self.last, self.stop);
        let mut branches: [Vec<OdpAction>; 2] = Default::default();
        for (bit, branch) in [1u128, 0].into_iter().zip(branches.iter_mut()) {
            (self.flow, self.tags, self.prio) = (flow, tags, prio);
            (self.base, self.base_tpid, self.base_prio) = (base, base_tpid, base_prio);
            self.stop = stop;
            dst.mf.unwildcard(&mut self.written, dst.mask());
            self.vlan_write(dst.mf, |f| dst.set(f, bit));
            self.note(indent + 1, || {
                format!(
                    "packet {} {len} bytes:",
                    if bit == 1 { "over" } else { "up to" }
                )
            });
            self.last = true;
            self.do_actions(rest, indent + 2);
            if !self.action_set.is_empty() && !self.stop {
                self.run_action_set(indent + 2, true);
            }
            *branch = std::mem::take(&mut self.odp);
        }
        (self.flow, self.tags, self.prio) = (flow, tags, prio);
        (self.base, self.base_tpid, self.base_prio) = (base, base_tpid, base_prio);
        (self.stack, self.action_set) = (stack, set);
        (self.last, self.stop) = (last, stop);
        self.odp = outer;
        let [gt, le] = branches;
        self.odp.push(OdpAction::CheckPktLen { size: len, gt, le });
    }

    /// A conjunctive match better than `hard`, as Open vSwitch's classifier
    /// finds one: among the clause rules above `hard`'s priority that match,
    /// the highest priority at which some `conjunction` id has all its
    /// clauses; then the best rule matching that `conj_id` (any priority;
    /// rules without a `conj_id` match do not count, as in OVS). Each clause rule above `hard` un-wildcards its match
    /// up to the lookup stage that rejects the flow (OVS's prefix tries may
    /// un-wildcard fewer address bits).
    fn conjunctive_match(
        &mut self,
        table: u8,
        conj: &[u32],
        hard: Option<(u32, u16)>,
    ) -> Option<(u32, u16)> {
        let hard_pri = hard.map_or(-1, |h| i32::from(h.1));
        let stages = super::flow::stage_masks();
        let mut soft: Vec<&super::Rule> = Vec::new();
        for &id in conj {
            let r = &self.of.rules[id as usize];
            if i32::from(r.priority) <= hard_pri {
                continue;
            }
            if self.staged_match(r, &stages) {
                soft.push(r);
            }
        }
        soft.sort_by_key(|r| std::cmp::Reverse(r.priority));
        for group in soft.chunk_by(|a, b| a.priority == b.priority) {
            // id -> (clauses, bits of the clauses seen); ids in order so the
            // choice among several complete ones is stable.
            let mut ids: std::collections::BTreeMap<u32, (u8, u64)> = Default::default();
            for r in group {
                for a in &r.actions {
                    if let Action::Conjunction {
                        id,
                        clause,
                        n_clauses,
                    } = *a
                    {
                        let e = ids.entry(id).or_insert((n_clauses, 0));
                        if e.0 == n_clauses {
                            e.1 |= 1 << (clause - 1);
                        }
                    }
                }
            }
            let done = ids
                .iter()
                .filter(|(_, &(n, bits))| bits == u64::MAX >> (64 - u32::from(n)))
                .map(|(&id, _)| id);
            for id in done {
                let saved = self.flow.w[CONJ_ID_WORD];
                self.flow.w[CONJ_ID_WORD] = u64::from(id);
                let r = self.best_of(self.of.conj_id_rules(table), &stages);
                self.flow.w[CONJ_ID_WORD] = saved;
                if r.is_some() {
                    self.note(0, || format!("conjunction({id}) matched"));
                    return r;
                }
            }
        }
        None
    }

    /// The highest-priority rule of `ids` that the flow matches (the first
    /// one added among equals), un-wildcarding stage by stage as
    /// [`Ctx::conjunctive_match`] does.
    fn best_of(&mut self, ids: &[u32], stages: &[Flow]) -> Option<(u32, u16)> {
        let mut best: Option<(u32, u16)> = None;
        for &id in ids {
            let r = &self.of.rules[id as usize];
            if best.is_some_and(|b| b.1 >= r.priority) {
                continue;
            }
            if self.staged_match(r, stages) {
                best = Some((id, r.priority));
            }
        }
        best
    }

    /// Whether the flow matches `r`, un-wildcarding the stages up to the
    /// one that rejects it, as OVS's staged subtable lookup.
    fn staged_match(&mut self, r: &super::Rule, stages: &[Flow]) -> bool {
        for st in stages {
            let m = r.m.mask.masked(st);
            self.wc.or_with(&m);
            if !self.flow.matches(&m, &r.m.value.masked(st)) {
                return false;
            }
        }
        true
    }

    /// Runs the action set as Open vSwitch's `ofpacts_execute_action_set`:
    /// the last pop, push and dec_ttl, every set/load/move in order, then the
    /// last output (else the last resubmit); nothing at all without either,
    /// since a packet sent nowhere need not be changed.
    fn run_action_set(&mut self, indent: u32, is_last: bool) {
        let set = std::mem::take(&mut self.action_set);
        let last = |p: fn(&Action) -> bool| set.iter().rev().find(|a| p(a)).cloned();
        let Some(out) = last(|a| matches!(a, Action::Group(_)))
            .or_else(|| {
                last(|a| {
                    // Only the plain CONTROLLER is an output (OVS's
                    // OFPACT_OUTPUT); `controller(...)` in a bucket runs nothing.
                    matches!(a, Action::Output(_) | Action::InPort)
                        || matches!(a, Action::Controller(c) if c.is_plain())
                })
            })
            .or_else(|| last(|a| matches!(a, Action::Resubmit { .. })))
        else {
            self.note(indent, || "action set: no output, nothing done".into());
            return;
        };
        let mut list: Vec<Action> = [
            last(|a| matches!(a, Action::StripVlan)),
            last(|a| matches!(a, Action::PushVlan(_))),
            last(|a| matches!(a, Action::DecTtl)),
        ]
        .into_iter()
        .flatten()
        .collect();
        list.extend(
            set.iter()
                .filter(|a| {
                    matches!(
                        a,
                        Action::SetField { .. }
                            | Action::Load { .. }
                            | Action::Move { .. }
                            | Action::SetVlanVid(_)
                            | Action::SetVlanPcp(_)
                            | Action::SetTunnel { .. }
                            | Action::SetQueue(_)
                    )
                })
                .cloned(),
        );
        list.push(out);
        self.note(indent, || "action set:".into());
        let was_last = std::mem::replace(&mut self.last, is_last);
        let in_set = std::mem::replace(&mut self.ctl.in_action_set, true);
        self.do_actions(&list, indent + 1);
        self.ctl.in_action_set = in_set;
        self.last = was_last;
    }

    /// A packet-in as OVS's `xlate_controller_action`: header changes are
    /// committed, then `userspace(pid=0,controller(...))`; the megaflow
    /// gains nothing. `pause` freezes the pipeline for the controller to
    /// resume; with no controller to resume it, translation stops there
    /// after committing header changes, and no packet-in is emitted (what
    /// `ofproto/trace` shows for it).
    fn controller(&mut self, c: &super::parse::Controller, indent: u32) {
        use super::parse::{OFPR_ACTION, OFPR_ACTION_SET, OFPR_EXPLICIT_MISS, OFPR_GROUP};
        self.note(indent, || super::ofctl::format_controller(c));
        if c.pause {
            self.note(indent + 1, || {
                "pause: pipeline stops (no continuation)".into()
            });
            self.commit();
            self.stop = true;
            return;
        }
        let rule = self.ctl.rule.map(|r| &self.of.rules[r as usize]);
        let mut reason = c.reason;
        // Only the plain form (OVS's output to CONTROLLER) takes its reason
        // from where it runs.
        if c.is_plain() && self.ctl.in_group {
            reason = OFPR_GROUP;
        } else if c.is_plain() && self.ctl.in_action_set {
            reason = OFPR_ACTION_SET;
        }
        if reason == OFPR_ACTION && rule.is_some_and(|r| r.priority == 0 && r.m.mask == Flow::ZERO)
        {
            reason = OFPR_EXPLICIT_MISS;
        }
        self.commit();
        // OVS's frozen metadata: in_port, metadata, registers, tunnel; not
        // the packet's headers.
        let mut md = Flow::ZERO;
        md.w[super::flow::METADATA_WORD..]
            .copy_from_slice(&self.flow.w[super::flow::METADATA_WORD..]);
        md.set(Field::InPort, self.flow.get(Field::InPort));
        let state = (self.table, c.userdata.clone(), md);
        let recirc_id = match self.ctl.states.iter().position(|s| *s == state) {
            Some(i) => i + 1,
            None => {
                self.ctl.states.push(state);
                self.ctl.states.len()
            }
        } as u32;
        self.odp.push(OdpAction::Userspace(ControllerAction {
            reason,
            dont_send: self.tracing,
            continuation: false,
            recirc_id,
            rule_cookie: rule.map_or(0, |r| r.cookie),
            controller_id: c.id,
            max_len: c.max_len,
        }));
    }

    /// `group:N` as OVS's `xlate_group_action`; false when the group does
    /// not exist, which ends this action list (not the pipeline), as in OVS.
    fn group(&mut self, id: u32, indent: u32) -> bool {
        use super::groups::GroupType;
        self.note(indent, || format!("group:{id}"));
        let of = self.of;
        let Some(g) = of.groups.get(id) else {
            self.note(indent + 1, || {
                format!(">> output to nonexistent group {id}")
            });
            return false;
        };
        if self.depth >= MAX_DEPTH {
            self.fail(format!("over max translation depth {MAX_DEPTH}"));
            return true;
        }
        match g.ty {
            GroupType::All | GroupType::Indirect => {
                let group_last = self.last;
                for (i, b) in g.buckets.iter().enumerate() {
                    // As OVS's xlate_all_group: only the last bucket is last.
                    self.last = group_last && i + 1 == g.buckets.len();
                    self.group_bucket(b, indent);
                }
                self.last = group_last;
            }
            GroupType::FastFailover => {
                let live = g.buckets.iter().find(|b| self.bucket_live(g, b, 0));
                match live {
                    Some(b) => self.group_bucket(b, indent),
                    None => self.note(indent + 1, || "no live bucket".into()),
                }
            }
            GroupType::Select => {
                let basis = if g.selection_method == "hash" && !g.fields.is_empty() {
                    self.hash_fields(g)
                } else {
                    // OVS's default and dp_hash methods hash in the datapath
                    // (`hash(...),recirc(...)`); fastpath has no recirculation,
                    // so it picks in translation as OVS's fallback default
                    // method does (see docs/ovs-compat.md).
                    self.hash_symmetric_l4()
                };
                let mut best: Option<(&super::groups::Bucket, u32)> = None;
                for b in &g.buckets {
                    if self.bucket_live(g, b, 0) {
                        let score = super::groups::bucket_score(b, basis);
                        if best.is_none_or(|(_, s)| score >= s) {
                            best = Some((b, score));
                        }
                        self.note(indent + 1, || format!("-> bucket {}: score {score}", b.id));
                    }
                }
                match best {
                    Some((b, _)) => self.group_bucket(b, indent),
                    None => self.note(indent + 1, || "no live bucket".into()),
                }
            }
        }
        true
    }

    /// One bucket: its actions as an action set, on a copy of the packet
    /// (OVS `xlate_group_bucket` restores the flow afterwards; what was
    /// committed to the datapath stays, so a later bucket re-commits).
    fn group_bucket(&mut self, b: &super::groups::Bucket, indent: u32) {
        self.note(indent, || format!("bucket {}", b.id));
        let (flow, tags, prio) = (self.flow, self.tags, self.prio);
        let base_vlan = self.base_vlan();
        let set = std::mem::replace(&mut self.action_set, b.actions.clone());
        self.depth += 1;
        let in_group = std::mem::replace(&mut self.ctl.in_group, true);
        self.run_action_set(indent, self.last);
        self.ctl.in_group = in_group;
        self.depth -= 1;
        self.action_set = set;
        self.flow = flow;
        self.restore_tags(tags, base_vlan);
        self.prio = prio;
    }

    /// OVS `bucket_is_alive`: a port is live when it exists (no link state:
    /// every port of the port set is up); a group when a bucket of it is.
    fn bucket_live(
        &mut self,
        g: &super::groups::Group,
        b: &super::groups::Bucket,
        depth: u32,
    ) -> bool {
        use super::groups::GroupType;
        if depth >= 32 {
            self.fail("bucket chaining exceeded 32 links".into());
            return false;
        }
        if g.ty == GroupType::Select && b.weight == 0 {
            return false;
        }
        if !b.has_liveness() {
            return true;
        }
        let port_live = b
            .watch_port
            .is_some_and(|p| p != super::port::OFPP_CONTROLLER && self.of.port_exists(p));
        port_live
            || b.watch_group.is_some_and(|w| {
                let of = self.of;
                of.groups.get(w).is_some_and(|wg| {
                    wg.buckets
                        .iter()
                        .any(|wb| self.bucket_live(wg, wb, depth + 1))
                })
            })
    }

    /// OVS `pick_hash_fields_select_group`'s hash: each field whose
    /// prerequisites hold, masked, in OVS's field order; each un-wildcarded.
    fn hash_fields(&mut self, g: &super::groups::Group) -> u32 {
        let mut basis = super::groups::hash_uint64(g.selection_param);
        for f in &g.fields {
            if !prereq_ok(f.mf.prereq, &self.flow, Some(&mut self.wc)) {
                continue;
            }
            let v = f.mf.get(&self.flow) & f.mask;
            let be = v.to_be_bytes();
            basis = super::groups::hash_bytes(&be[16 - f.n_bytes..], basis);
            f.mf.unwildcard(&mut self.wc, f.mask);
        }
        basis
    }

    /// OVS `flow_hash_symmetric_l4(flow, 0)`, un-wildcarding what
    /// `flow_mask_hash_fields(NX_HASH_FIELDS_SYMMETRIC_L4)` does.
    fn hash_symmetric_l4(&mut self) -> u32 {
        let f = &self.flow;
        let mut b = [0u8; 32];
        let macs = f.get(Field::DlSrc) ^ f.get(Field::DlDst);
        b[22..28].copy_from_slice(&macs.to_be_bytes()[2..]);
        let vid = (f.get(Field::VlanTci) ^ f.get(Field::VlanTci2)) as u16 & 0x0fff;
        b[18..20].copy_from_slice(&vid.to_be_bytes());
        let dl = f.get(Field::DlType) as u16;
        b[16..18].copy_from_slice(&dl.to_be_bytes());
        let proto = f.get(Field::NwProto) as u8;
        let ports = (f.get(Field::TpSrc) ^ f.get(Field::TpDst)) as u16;
        let l4 = proto == ip_proto::TCP || proto == ip_proto::SCTP;
        if dl == eth_type::IP {
            let a = (f.get(Field::NwSrc) ^ f.get(Field::NwDst)) as u32;
            b[0..4].copy_from_slice(&a.to_be_bytes());
        } else if dl == eth_type::IPV6 {
            let hi = f.get(Field::Ipv6SrcHi) ^ f.get(Field::Ipv6DstHi);
            let lo = f.get(Field::Ipv6SrcLo) ^ f.get(Field::Ipv6DstLo);
            b[0..8].copy_from_slice(&hi.to_be_bytes());
            b[8..16].copy_from_slice(&lo.to_be_bytes());
        }
        if dl == eth_type::IP || dl == eth_type::IPV6 {
            b[28] = proto;
            if l4 {
                b[20..22].copy_from_slice(&ports.to_be_bytes());
            }
        }
        let hash = super::groups::jhash_bytes(&b, 0);
        let wc = &mut self.wc;
        wc.set(Field::DlSrc, u64::MAX);
        wc.set(Field::DlDst, u64::MAX);
        if dl == eth_type::IP {
            wc.set(Field::NwSrc, u64::MAX);
            wc.set(Field::NwDst, u64::MAX);
        } else if dl == eth_type::IPV6 {
            for x in [
                Field::Ipv6SrcHi,
                Field::Ipv6SrcLo,
                Field::Ipv6DstHi,
                Field::Ipv6DstLo,
            ] {
                wc.set(x, u64::MAX);
            }
        }
        if is_ip_any(&self.flow) {
            self.wc.set(Field::NwProto, u64::MAX);
            if proto != ip_proto::UDP {
                self.wc.set(Field::TpSrc, u64::MAX);
                self.wc.set(Field::TpDst, u64::MAX);
            }
        }
        for t in [Field::VlanTci, Field::VlanTci2] {
            let m = self.wc.get(t) | 0x1fff;
            self.wc.set(t, m);
        }
        hash
    }

    /// OVS `mf_set_mask_l3_prereqs`: a write to an IP (or ARP) header field
    /// un-wildcards nw_proto (arp_op), which decides whether [`Ctx::commit`]
    /// rewrites the header at all.
    fn l3_prereq_mask(&mut self, mf: &Mf) {
        const IP: [&str; 7] = [
            "nw_src", "nw_dst", "ipv6_src", "ipv6_dst", "nw_tos", "nw_ecn", "nw_ttl",
        ];
        const ARP: [&str; 5] = ["arp_op", "arp_sha", "arp_tha", "arp_spa", "arp_tpa"];
        let arp = self.flow.get(Field::DlType) as u16 == eth_type::ARP;
        if (is_ip_any(&self.flow) && IP.contains(&mf.name)) || (arp && ARP.contains(&mf.name)) {
            self.wc.set(Field::NwProto, 0xff);
        }
    }

    /// Writes the flow; a write to `vlan_vid` or `vlan_pcp` makes (or keeps)
    /// the tag present, as Open vSwitch's `flow_set_vlan_vid`/`_pcp` do.
    #[inline]
    /// `push:F[..]` as OVS's `nxm_execute_stack_push`: the bits are read
    /// (so matched in the megaflow) whatever the prerequisites.
    fn stack_push(&mut self, sf: &Subfield, indent: u32) {
        sf.mf.unwildcard(&mut self.wc, sf.mask());
        let v = sf.get(&self.flow);
        self.stack.push(v);
        self.note(indent, || {
            format!(
                "push:{}[{}..{}] ({v:#x})",
                sf.mf.name,
                sf.ofs,
                sf.ofs + sf.n_bits - 1
            )
        });
    }

    /// `learn(...)` as OVS's `xlate_learn_action`: the megaflow needs the
    /// source bits; the rule the packet teaches is kept for the caller to
    /// install (a trace only shows it, as `ofproto/trace` suppresses side
    /// effects); `result_dst` says whether the rule could be learned.
    fn learn_action(&mut self, l: &super::learn::Learn, indent: u32) {
        super::learn::learn_mask(l, &mut self.wc);
        let fm = super::learn::learn_execute(l, &self.flow);
        self.note(indent, || super::learn::format_learn(l));
        if self.tracing {
            self.note(indent + 1, || {
                "suppressing side effects, so learn action ignored".into()
            });
            return;
        }
        if let Some(sf) = &l.result_dst {
            let ok = self.of.can_learn(&fm, l.limit);
            sf.mf.unwildcard(&mut self.wc, sf.mask());
            sf.mf.unwildcard(&mut self.written, sf.mask());
            sf.set(&mut self.flow, u128::from(ok));
        }
        self.learned.push((fm, l.limit));
    }

    /// `pop:F[..]` as OVS's `nxm_execute_stack_pop`: the low bits of the top
    /// value are written; an empty stack changes nothing.
    fn stack_pop(&mut self, sf: &Subfield, indent: u32) {
        let Some(v) = self.stack.pop() else {
            self.note(indent, || "pop: stack underflow".into());
            return;
        };
        let v = v & (sf.mask() >> sf.ofs);
        sf.mf.unwildcard(&mut self.wc, sf.mask());
        sf.mf.unwildcard(&mut self.written, sf.mask());
        self.vlan_write(sf.mf, |f| sf.set(f, v));
        self.note(indent, || {
            format!(
                "pop:{}[{}..{}] ({v:#x})",
                sf.mf.name,
                sf.ofs,
                sf.ofs + sf.n_bits - 1
            )
        });
    }

    /// `output:F[..]` as OVS's `xlate_output_reg_action`: a value above
    /// 65535 outputs nothing and reads nothing; else the bits are matched
    /// and the port is output to as `output:N` would be.
    fn output_reg(&mut self, sf: &Subfield, indent: u32) {
        let v = sf.get(&self.flow);
        let Ok(port) = u16::try_from(v) else {
            self.note(indent, || format!("output port {v} is out of range"));
            return;
        };
        sf.mf.unwildcard(&mut self.wc, sf.mask());
        self.note(indent, || format!("output port is {port}"));
        let act = match u32::from(port) {
            OFPP_IN_PORT => Action::InPort,
            OFPP_CONTROLLER => Action::Controller(Default::default()),
            // OVS's xlate_output_action: TABLE resubmits to table 0, ANY does nothing.
            OFPP_TABLE => Action::Resubmit {
                port: None,
                table: Some(0),
            },
            OFPP_NONE => return,
            p => Action::Output(p),
        };
        self.do_actions(std::slice::from_ref(&act), indent + 1);
    }

    fn vlan_write(&mut self, mf: &Mf, w: impl FnOnce(&mut Flow)) {
        let vlan = mf.name == "vlan_vid" || mf.name == "vlan_pcp";
        if vlan {
            self.tag_if_none();
        }
        w(&mut self.flow);
        if vlan {
            let tci = self.flow.get(Field::VlanTci);
            self.flow.set(Field::VlanTci, tci | VLAN_PRESENT as u64);
        }
    }

    /// A tag that `mod_vlan_vid`/`mod_vlan_pcp` or a set of `vlan_vid`/
    /// `vlan_pcp` creates on an untagged packet is 802.1Q.
    fn tag_if_none(&mut self) {
        if self.flow.get(Field::VlanTci) as u16 & VLAN_PRESENT == 0 {
            self.tags[0] = Tag::made(eth_type::VLAN);
        }
    }

    fn output(&mut self, port: u32, max_len: Option<u32>, indent: u32) {
        match port {
            OFPP_FLOOD | OFPP_ALL => return self.flood(port, indent),
            OFPP_NORMAL => return self.normal(indent),
            _ => {}
        }
        if port as u64 == self.flow.get(Field::InPort) {
            self.note(indent, || {
                format!("output:{port}: skipping output to input port")
            });
            return;
        }
        // As OVS's compose_output_action: a port the datapath does not have
        // (port 0 never exists) gets nothing ("Nonexistent output port").
        if !self.of.port_exists(port) {
            self.note(indent, || format!("output:{port}: nonexistent output port"));
            return;
        }
        // OVS emits trunc ahead of the header changes the output commits.
        if let Some(n) = max_len {
            self.odp.push(OdpAction::Trunc(n));
        }
        self.commit();
        self.odp.push(OdpAction::Output(port));
        self.note(indent, || match max_len {
            Some(n) => format!("output(port={port},max_len={n})"),
            None => format!("output:{port}"),
        });
    }

    /// FLOOD and ALL (OVS `flood_packets`): every port but the input port
    /// (no port has no-flood, so they are the same), in port-number order
    /// (OVS's is its hash table's).
    fn flood(&mut self, port: u32, indent: u32) {
        let name = if port == OFPP_ALL { "ALL" } else { "FLOOD" };
        self.note(indent, || name.to_string());
        let in_port = self.flow.get(Field::InPort);
        let Some(ports) = self.of.ports() else {
            return;
        };
        for &p in ports {
            if u64::from(p) != in_port {
                self.commit();
                self.odp.push(OdpAction::Output(p));
                self.note(indent + 1, || format!("output:{p}"));
            }
        }
    }

    /// NORMAL as Open vSwitch's `xlate_normal` on a bridge whose ports are
    /// all VLAN trunks (no `tag`, no bonds, no mirrors, no multicast
    /// snooping: OVS's defaults): learn the source, forward to the port
    /// learned for the destination, else flood; never out the input port.
    fn normal(&mut self, indent: u32) {
        self.note(indent, || "NORMAL".into());
        self.wc.set(Field::DlSrc, u64::MAX);
        self.wc.set(Field::DlDst, u64::MAX);
        let tci_mask = self.wc.get(Field::VlanTci) | 0x0fff | VLAN_PRESENT as u64;
        self.wc.set(Field::VlanTci, tci_mask);
        let in_port = self.flow.get(Field::InPort) as u32;
        if !self.of.port_exists(in_port) || self.of.ports().is_none() {
            self.note(indent + 1, || "no input bundle, dropping".into());
            return;
        }
        let tci = self.flow.get(Field::VlanTci) as u16;
        let vlan = if tci & VLAN_PRESENT != 0 {
            tci & 0x0fff
        } else {
            0
        };
        let (src, dst) = (self.flow.get(Field::DlSrc), self.flow.get(Field::DlDst));
        if mac::is_reserved(dst) {
            self.note(indent + 1, || {
                "packet has reserved destination MAC, dropping".into()
            });
            return;
        }
        // is_gratuitous_arp: read for learning (only bonds act on it).
        if self.flow.get(Field::DlType) as u16 == eth_type::ARP && dst == 0xffff_ffff_ffff {
            self.wc.set(Field::NwProto, u64::MAX);
            if self.flow.get(Field::NwProto) == 1 {
                self.wc.set(Field::NwSrc, u64::MAX);
                self.wc.set(Field::NwDst, u64::MAX);
            }
        }
        if !mac::is_multicast(src) {
            self.learn.push(MacLearn {
                vlan,
                mac: src,
                port: in_port,
            });
        }
        match self.of.mac_lookup(vlan, dst) {
            Some(p) if p == in_port => {
                self.note(indent + 1, || "learned port is input port, dropping".into());
            }
            Some(p) if self.of.port_exists(p) => {
                self.note(indent + 1, || format!("forwarding to learned port {p}"));
                self.commit();
                self.odp.push(OdpAction::Output(p));
            }
            Some(_) => {
                self.note(indent + 1, || "learned port is unknown, dropping".into());
            }
            None => {
                self.note(indent + 1, || {
                    "no learned MAC for destination, flooding".into()
                });
                self.flood(OFPP_FLOOD, indent + 1);
            }
        }
    }

    /// Emits set/push/pop actions so the datapath packet equals `flow` (OVS `commit_odp_actions`).
    fn commit(&mut self) {
        let (f, b, wc) = (&self.flow, &self.base, &self.written);
        let sets = |header: Header, list: &[(SetField, Field, u128)], out: &mut Vec<OdpAction>| {
            let mut fields = Vec::new();
            for &(sf, kf, full) in list {
                let (nv, ov) = (f.get(kf) as u128, b.get(kf) as u128);
                if nv != ov {
                    let m = (wc.get(kf) as u128) & full;
                    fields.push((sf, nv & m, if m == 0 { full } else { m }));
                }
            }
            if !fields.is_empty() {
                out.push(OdpAction::Set(SetAction { header, fields }));
            }
        };
        let mut out = Vec::new();
        sets(
            Header::Eth,
            &[
                (SetField::EthSrc, Field::DlSrc, 0xffff_ffff_ffff),
                (SetField::EthDst, Field::DlDst, 0xffff_ffff_ffff),
            ],
            &mut out,
        );
        let dl = f.get(Field::DlType) as u16;
        let proto = f.get(Field::NwProto) as u8;
        let later = f.get(Field::NwFrag) as u8 & FRAG_LATER != 0;
        // As OVS's commit_set_nw_action: nw_proto (arp_op) 0 means no real
        // L3 header, so nothing is rewritten and the base keeps the old
        // header. Whether a rewrite is due reads nw_proto: un-wildcarded
        // whenever the header changed (OVS's set_field, mod_* and dec_ttl
        // already do; its move does not, so its megaflow is unsound there).
        let l3_changed = L3_FIELDS.iter().any(|&k| f.get(k) != b.get(k));
        let l3_skip = proto == 0;
        if !matches!(dl, eth_type::ARP | eth_type::IP | eth_type::IPV6) || l3_skip {
            // No L3 header to rewrite.
        } else if dl == eth_type::ARP {
            sets(
                Header::Arp,
                &[
                    (SetField::ArpSip, Field::NwSrc, 0xffff_ffff),
                    (SetField::ArpTip, Field::NwDst, 0xffff_ffff),
                    (SetField::ArpOp, Field::NwProto, 0xff),
                    (SetField::ArpSha, Field::ArpSha, 0xffff_ffff_ffff),
                    (SetField::ArpTha, Field::ArpTha, 0xffff_ffff_ffff),
                ],
                &mut out,
            );
        } else if dl == eth_type::IP {
            sets(
                Header::Ipv4,
                &[
                    (SetField::Ipv4Src, Field::NwSrc, 0xffff_ffff),
                    (SetField::Ipv4Dst, Field::NwDst, 0xffff_ffff),
                    (SetField::Ipv4Tos, Field::NwTos, 0xff),
                    (SetField::Ipv4Ttl, Field::NwTtl, 0xff),
                ],
                &mut out,
            );
        } else if dl == eth_type::IPV6 {
            let mut fields = Vec::new();
            for (sf, nv, ov, m) in [
                (SetField::Ipv6Src, f.ipv6_src(), b.ipv6_src(), wc.ipv6_src()),
                (SetField::Ipv6Dst, f.ipv6_dst(), b.ipv6_dst(), wc.ipv6_dst()),
            ] {
                if nv != ov {
                    let m = if m == 0 { u128::MAX } else { m };
                    fields.push((sf, nv & m, m));
                }
            }
            for (sf, kf) in [
                (SetField::Ipv6Tclass, Field::NwTos),
                (SetField::Ipv6Hlimit, Field::NwTtl),
            ] {
                if f.get(kf) != b.get(kf) {
                    let m = (wc.get(kf) as u128) & 0xff;
                    let m = if m == 0 { 0xff } else { m };
                    fields.push((sf, f.get(kf) as u128 & m, m));
                }
            }
            if !fields.is_empty() {
                out.push(OdpAction::Set(SetAction {
                    header: Header::Ipv6,
                    fields,
                }));
            }
            // As OVS's commit_set_nd_action, right after the IPv6 header.
            let (ty, code) = (f.get(Field::TpSrc) as u8, f.get(Field::TpDst) as u8);
            if !later && abi::parser::is_nd(true, proto, ty, code) {
                let target = |x: &Flow| {
                    (x.get(Field::NdTargetHi) as u128) << 64 | x.get(Field::NdTargetLo) as u128
                };
                let mut fields = Vec::new();
                let (nv, ov, m) = (target(f), target(b), target(wc));
                if nv != ov {
                    let m = if m == 0 { u128::MAX } else { m };
                    fields.push((SetField::NdTarget, nv & m, m));
                }
                for (sf, kf) in [
                    (SetField::NdSll, Field::NdSll),
                    (SetField::NdTll, Field::NdTll),
                ] {
                    if f.get(kf) != b.get(kf) {
                        let full = 0xffff_ffff_ffff;
                        let m = (wc.get(kf) as u128) & full;
                        let m = if m == 0 { full } else { m };
                        fields.push((sf, f.get(kf) as u128 & m, m));
                    }
                }
                if !fields.is_empty() {
                    out.push(OdpAction::Set(SetAction {
                        header: Header::Nd,
                        fields,
                    }));
                }
            }
        }
        if (dl == eth_type::IP || dl == eth_type::IPV6) && !later {
            let h = match (dl, proto) {
                (_, ip_proto::TCP) => Some((Header::Tcp, 0xffff)),
                (_, ip_proto::UDP) => Some((Header::Udp, 0xffff)),
                (_, ip_proto::SCTP) => Some((Header::Sctp, 0xffff)),
                (eth_type::IP, ip_proto::ICMP) => Some((Header::Icmp, 0xff)),
                (eth_type::IPV6, ip_proto::ICMPV6) => Some((Header::Icmpv6, 0xff)),
                _ => None,
            };
            if let Some((h, full)) = h {
                sets(
                    h,
                    &[
                        (SetField::TpSrc, Field::TpSrc, full),
                        (SetField::TpDst, Field::TpDst, full),
                    ],
                    &mut out,
                );
            }
        }
        // VLAN last, after the L3/L4 sets, as OVS's commit_odp_actions: pop
        // base tags from the outside until the rest is a suffix of the wanted
        // stack, then push the missing ones, innermost first. Stacks are
        // outer first, as (array, depth): no allocation per output. A tag
        // compares as (TCI, TPID): re-pushing a TCI with another TPID is a
        // change. Each tag also has its origin: for `base` its own slot.
        let stack = |x: &Flow, tags: [Tag; 2]| -> ([(u16, u16); 2], [Option<usize>; 2], usize) {
            let mut vals = [(0, 0); 2];
            let mut from = [None; 2];
            let mut n = 0;
            for (f, t) in TAG_FIELDS.iter().zip(tags) {
                let tci = x.get(*f) as u16;
                if tci & VLAN_PRESENT != 0 {
                    (vals[n], from[n]) = ((tci, t.tpid), t.from);
                    n += 1;
                }
            }
            (vals, from, n)
        };
        let (wa, wfrom, wn) = stack(f, self.tags);
        let base_own = [0, 1].map(|s| Tag {
            tpid: self.base_tpid[s],
            from: Some(s),
        });
        let (ha, hslot, hn) = stack(b, base_own);
        let (want, mut have) = (&wa[..wn], &ha[..hn]);
        let mut popped = 0;
        if want != have {
            while !have.is_empty() && !want.ends_with(have) {
                out.push(OdpAction::PopVlan);
                have = &have[1..];
                popped += 1;
            }
            let extra = want.len() - have.len();
            for &(tci, tpid) in want[..extra].iter().rev() {
                out.push(OdpAction::PushVlan {
                    tpid,
                    tci: tci & !VLAN_PRESENT,
                });
            }
        }
        let extra = wn - (hn - popped);
        // A popped tag is rebuilt from the flow's whole TCI: all of it was
        // read (OVS un-wildcards the popped qtag). A kept one equals its
        // wanted tag: only written bits differ if it is that tag, else the
        // equality read all of it (OVS reads only the bits its actions
        // wrote there, so its megaflow is unsound; see docs/ovs-compat.md).
        let mut read = [false; 2];
        for slot in hslot[..popped].iter().flatten() {
            read[*slot] = true;
        }
        for (i, slot) in hslot[popped..hn].iter().enumerate() {
            if let Some(slot) = slot {
                if wfrom[extra + i] != Some(*slot) {
                    read[*slot] = true;
                }
            }
        }
        // The priority after VLAN, as OVS's commit_set_priority_action.
        if self.prio != self.base_prio {
            out.push(OdpAction::SetPriority(self.prio));
            self.base_prio = self.prio;
        }
        self.odp.extend(out);
        let l3 = matches!(dl, eth_type::ARP | eth_type::IP | eth_type::IPV6);
        if l3 && l3_changed {
            self.wc.set(Field::NwProto, 0xff);
        }
        for (f, _) in TAG_FIELDS.iter().zip(read).filter(|(_, r)| *r) {
            self.wc.set(*f, u64::MAX);
        }
        let kept = L3_FIELDS.map(|k| self.base.get(k));
        self.base.w[..abi::KEY_WORDS].copy_from_slice(&self.flow.w[..abi::KEY_WORDS]);
        if l3 && l3_skip {
            for (k, v) in L3_FIELDS.iter().zip(kept) {
                self.base.set(*k, v);
            }
        }
        for (s, t) in self.tags.iter_mut().enumerate() {
            t.from = Some(s);
        }
        self.base_tpid = self.tags.map(|t| t.tpid);
    }

    /// The datapath packet's tags as a commit leaves them.
    fn base_vlan(&self) -> (u64, u64, [u16; 2]) {
        let b = &self.base;
        (
            b.get(Field::VlanTci),
            b.get(Field::VlanTci2),
            self.base_tpid,
        )
    }

    /// Restores `flow`'s tags saved with `base_vlan` at the time; if a commit
    /// since changed the datapath's tags, they are no longer its tags.
    fn restore_tags(&mut self, tags: [Tag; 2], base_vlan: (u64, u64, [u16; 2])) {
        self.tags = tags;
        if self.base_vlan() != base_vlan {
            for t in &mut self.tags {
                t.from = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ofproto::port::OFPP_LOCAL;
    use crate::ofproto::{parse_flow, parse_rules, Prefixes};

    fn of(rules: &str) -> OfProto {
        OfProto::with_rules(parse_rules(rules, "t").unwrap(), Prefixes::default())
    }

    fn acts(t: &Translation) -> String {
        crate::odp::format_actions(&t.actions)
    }

    #[test]
    fn register_stack_spans_resubmits_and_pops_low_bits() {
        // As OVS's nxm_execute_stack_push/pop: one stack for the whole
        // translation, values right-aligned, a pop writes the low bits.
        let o = of("table=0,in_port=1,actions=load:0x1a7->reg0[],push:reg0[0..15],load:0->reg0[],resubmit(,1)\n\
                    table=1,actions=pop:reg1[0..7],resubmit(,2)\n\
                    table=2,priority=9,reg1=0xa7,actions=output:3\n\
                    table=2,priority=1,actions=output:4\n");
        let t = o.translate_flow(&parse_flow("in_port=1").unwrap(), false);
        assert_eq!(acts(&t), "3");
        // Popping an empty stack changes nothing.
        let o = of("table=0,actions=load:5->reg1[],pop:reg1[],resubmit(,1)\n\
                    table=1,priority=9,reg1=5,actions=output:3\n");
        let t = o.translate_flow(&parse_flow("in_port=1").unwrap(), false);
        assert_eq!(acts(&t), "3");
    }

    #[test]
    fn stack_pop_into_a_header_field_is_a_set_and_both_are_matched() {
        let o = of("ip,actions=push:NXM_OF_IP_SRC[],pop:NXM_OF_IP_DST[],output:2\n");
        let t = o.translate_flow(
            &parse_flow("in_port=1,tcp,nw_src=1.2.3.4,nw_dst=5.6.7.8").unwrap(),
            false,
        );
        assert_eq!(acts(&t), "set(ipv4(dst=1.2.3.4)),2");
        assert_eq!(t.mask.get(Field::NwSrc), 0xffff_ffff);
        assert_eq!(t.mask.get(Field::NwDst), 0xffff_ffff);
    }

    #[test]
    fn output_to_a_register_reads_it_and_skips_ports_above_65535() {
        // As OVS's xlate_output_reg_action (ofproto-dpif.at's output_reg tests).
        let o = of("in_port=1,actions=load:2->reg0[0..15],load:3->reg0[16..31],output:reg0[0..15],output:reg0[16..31]\n\
                    in_port=4,actions=load:0x110000ff->reg0[],output:reg0[],output:2\n\
                    in_port=5,actions=load:0xfff8->reg1[],output:reg1[]\n");
        let t = o.translate_flow(&parse_flow("in_port=1").unwrap(), false);
        assert_eq!(acts(&t), "2,3");
        let t = o.translate_flow(&parse_flow("in_port=4").unwrap(), false);
        assert_eq!(acts(&t), "2");
        // 0xfff8 is IN_PORT.
        let t = o.translate_flow(&parse_flow("in_port=5").unwrap(), false);
        assert_eq!(acts(&t), "5");
        // A header field read as a port is matched.
        let o = of("tcp,actions=output:NXM_OF_TCP_DST[]\n");
        let t = o.translate_flow(&parse_flow("in_port=1,tcp,tp_dst=3").unwrap(), false);
        assert_eq!((acts(&t), t.mask.get(Field::TpDst)), ("3".into(), 0xffff));
    }

    #[test]
    fn resubmit_port_is_the_lookups_only_and_in_port_writes_stay() {
        // ofproto-dpif.at's output_reg test: OVS gave `9,1` (ovs-vswitchd 3.1).
        let o = of("in_port=1 actions=resubmit:8\n\
                    in_port=8 actions=1,9,load:9->NXM_OF_IN_PORT[],1,9\n");
        let t = o.translate_flow(&parse_flow("in_port=1").unwrap(), false);
        assert_eq!(acts(&t), "9,1");
    }

    #[test]
    fn mod_nw_ttl_sets_ipv4_ttl_and_ipv6_hop_limit() {
        let o = of("ip,actions=mod_nw_ttl:8,output:2\nipv6,actions=mod_nw_ttl:9,output:3\n");
        let t = o.translate_flow(&parse_flow("in_port=1,tcp,nw_ttl=64").unwrap(), false);
        assert_eq!(acts(&t), "set(ipv4(ttl=8)),2");
        assert_eq!(t.mask.get(Field::NwTtl), 0xff);
        let t = o.translate_flow(&parse_flow("in_port=1,tcp6,nw_ttl=64").unwrap(), false);
        assert_eq!(acts(&t), "set(ipv6(hlimit=9)),3");
    }

    #[test]
    fn fragments_read_ports_as_zero_in_normal_mode() {
        let mut o =
            of("priority=10,tcp,tp_dst=80,actions=output:2\npriority=5,ip,actions=output:3\n");
        let first = parse_flow("in_port=1,tcp,nw_frag=first,tp_dst=80").unwrap();
        let whole = parse_flow("in_port=1,tcp,tp_dst=80").unwrap();
        let t = o.translate_flow(&first, false);
        assert_eq!(acts(&t), "3");
        // nw_frag exact, the packet's own port stays in the key.
        assert_eq!(t.mask.get(Field::NwFrag), 3);
        assert_eq!(acts(&o.translate_flow(&whole, false)), "2");
        o.frags = FragMode::NxMatch;
        assert_eq!(acts(&o.translate_flow(&first, false)), "2");
        o.frags = FragMode::Drop;
        let t = o.translate_flow(&first, false);
        assert_eq!(acts(&t), "drop");
        assert_eq!(t.mask.get(Field::NwFrag), 3);
        assert_eq!(acts(&o.translate_flow(&whole, false)), "2");
    }

    #[test]
    fn trace_flow_registers_and_metadata_are_read() {
        let o = of("priority=10,reg3=5,actions=output:2\npriority=9,metadata=0x7,actions=output:4\npriority=0,actions=output:3\n");
        let t = |s: &str| acts(&o.translate_flow(&parse_flow(s).unwrap(), false));
        assert_eq!(t("in_port=1,reg3=5,ip"), "2");
        assert_eq!(t("in_port=1,metadata=7,ip"), "4");
        assert_eq!(t("in_port=1,ip"), "3");
        // A datapath key has none: registers start at 0.
        assert_eq!(
            acts(&o.translate(&parse_flow("in_port=1,reg3=5,ip").unwrap().key(), false)),
            "3"
        );
    }

    #[test]
    fn tun_id_and_high_registers_are_translation_metadata() {
        let o = of(
            "table=0,priority=5,actions=set_tunnel:0x9,load:0x3->NXM_NX_REG15[],resubmit(,1)\n\
                    table=1,priority=5,tun_id=9,xreg7=3,actions=output:2\n\
                    table=1,priority=0,actions=output:3\n",
        );
        let t = o.translate_flow(&parse_flow("in_port=1,ip").unwrap(), false);
        assert_eq!(acts(&t), "2");
        // set_tunnel writes no datapath action (no encapsulation).
        let o = of("actions=set_tunnel64:0x5,output:2\n");
        let t = o.translate_flow(&parse_flow("in_port=1,ip").unwrap(), false);
        assert_eq!(acts(&t), "2");
        let o = of("priority=5,tun_id=7,actions=output:2\npriority=0,actions=output:3\n");
        let t = |s: &str| acts(&o.translate_flow(&parse_flow(s).unwrap(), false));
        assert_eq!(t("in_port=1,tun_id=7,ip"), "2");
        assert_eq!(t("in_port=1,ip"), "3");
    }

    #[test]
    fn action_set_runs_at_the_end_in_openflow_order() {
        // The last output of the set only, after the pipeline's own actions;
        // sets before it; cleared sets and sets without an output do nothing.
        let o = of("table=0,priority=5,ip,actions=output:1,write_actions(output:4,mod_nw_src:1.2.3.4,output:3),goto_table:1\n\
                    table=1,priority=5,actions=output:2\n");
        let t = o.translate_flow(&parse_flow("in_port=5,tcp,nw_src=9.9.9.9").unwrap(), false);
        assert_eq!(acts(&t), "1,2,set(ipv4(src=1.2.3.4)),3");
        let o = of("table=0,actions=write_actions(output:3),goto_table:1\n\
                    table=1,actions=clear_actions,write_actions(dec_ttl)\n");
        let t = o.translate_flow(&parse_flow("in_port=5,ip,nw_ttl=9").unwrap(), false);
        assert_eq!(acts(&t), "drop");
    }

    #[test]
    fn l3_rewrites_need_a_nonzero_nw_proto_and_read_it() {
        let proto = |t: &Translation| t.mask.get(Field::NwProto);
        let o = of("ip,actions=mod_nw_src:1.2.3.4,output:2\n");
        let t = o.translate_flow(&parse_flow("in_port=1,ip").unwrap(), false);
        assert_eq!((acts(&t), proto(&t)), ("2".into(), 0xff));
        let t = o.translate_flow(&parse_flow("in_port=1,tcp").unwrap(), false);
        assert_eq!(
            (acts(&t), proto(&t)),
            ("set(ipv4(src=1.2.3.4)),2".into(), 0xff)
        );
        let o = of("actions=dec_ttl,output:2\n");
        let t = o.translate_flow(&parse_flow("in_port=1,ipv6,nw_ttl=5").unwrap(), false);
        assert_eq!((acts(&t), proto(&t)), ("2".into(), 0xff));
        // ARP: arp_op is nw_proto; op 0 keeps the old header as the base,
        // so a later non-zero op commits both changes.
        let o =
            of("arp,actions=set_field:1.2.3.4->arp_spa,output:2,set_field:2->arp_op,output:3\n");
        let t = o.translate_flow(&parse_flow("in_port=1,arp,arp_op=0").unwrap(), false);
        assert_eq!(acts(&t), "2,set(arp(sip=1.2.3.4,op=2)),3");
        // Without an L3 change nothing reads nw_proto.
        let o = of("ip,actions=mod_dl_src:00:00:00:00:00:01,output:2\n");
        let t = o.translate_flow(&parse_flow("in_port=1,ip").unwrap(), false);
        assert_eq!(proto(&t), 0);
    }

    #[test]
    fn conjunctive_match_needs_every_clause_and_its_conj_id_rule() {
        let mut o = of("priority=5,ip,nw_src=10.0.0.1,actions=conjunction(1,1/2)\n\
                        priority=5,ip,nw_dst=10.0.0.2,actions=conjunction(1,2/2)\n\
                        priority=1,conj_id=1,actions=output:1\n\
                        priority=3,ip,nw_dst=10.0.0.2,actions=output:4\n\
                        priority=0,actions=output:5\n");
        let t = |o: &OfProto, s: &str| acts(&o.translate_flow(&parse_flow(s).unwrap(), false));
        let both = "in_port=9,ip,nw_src=10.0.0.1,nw_dst=10.0.0.2";
        // Above the best ordinary match (4), the conj_id rule wins whatever its priority.
        assert_eq!(t(&o, both), "1");
        assert_eq!(t(&o, "in_port=9,ip,nw_src=10.0.0.1,nw_dst=10.0.0.3"), "5");
        assert_eq!(t(&o, "in_port=9,ip,nw_src=10.0.0.7,nw_dst=10.0.0.2"), "4");
        // A clause replaced by an ordinary rule, then deleted.
        o.add_rule(
            crate::ofproto::parse::parse_rule("priority=5,ip,nw_src=10.0.0.1,actions=output:2")
                .unwrap(),
        );
        assert_eq!(t(&o, both), "2");
        let id = o.rules.len() as u32 - 1;
        assert!(o.delete_rule(id).is_some());
        assert_eq!(t(&o, both), "4");
    }

    #[test]
    fn output_to_port_zero_is_dropped_and_trunc_precedes_its_output() {
        let o = of("actions=output:0,output(port=2,max_len=64),output:3,LOCAL\n");
        let t = o.translate_flow(&parse_flow("in_port=1,ip").unwrap(), false);
        assert_eq!(acts(&t), "trunc(64),2,3,65534");
    }

    #[test]
    fn reserved_ports_follow_the_port_set() {
        let t = |rules: &str, ports: &[u32], flow: &str| {
            let mut o = of(rules);
            o.set_ports(ports.iter().copied());
            acts(&o.translate_flow(&parse_flow(flow).unwrap(), false))
        };
        let ports = [1, 2, 3, 4, OFPP_LOCAL];
        let f2 = "in_port=2,dl_src=50:54:00:00:00:01,ip";
        // Every port but the input one, LOCAL included; header changes once.
        assert_eq!(t("actions=FLOOD", &ports, f2), "1,3,4,65534");
        assert_eq!(t("actions=all", &ports, f2), "1,3,4,65534");
        assert_eq!(
            t("actions=mod_dl_src:00:00:00:00:00:09,ALL", &ports, f2),
            "set(eth(src=00:00:00:00:00:09)),1,3,4,65534"
        );
        assert_eq!(t("actions=ALL", &ports, "in_port=LOCAL,ip"), "1,2,3,4");
        // Output to the input port only through IN_PORT; missing ports get nothing.
        assert_eq!(t("actions=output:2,IN_PORT", &ports, f2), "2");
        assert_eq!(t("actions=output:7,output:0,output:3", &ports, f2), "3");
        assert_eq!(t("actions=LOCAL", &[1, 2], f2), "drop");
        assert_eq!(t("actions=LOCAL", &ports, f2), "65534");
        assert_eq!(t("actions=IN_PORT", &[1], f2), "drop");
        // Without a port set: any numbered port exists, floods reach none.
        let o = of("actions=output:7,FLOOD");
        assert_eq!(
            acts(&o.translate_flow(&parse_flow(f2).unwrap(), false)),
            "7"
        );
    }

    #[test]
    fn changing_the_port_set_is_a_rule_change() {
        let mut o = of("actions=FLOOD");
        let g = o.generation();
        o.set_ports([1, 2]);
        assert_ne!(o.generation(), g);
        let g = o.generation();
        o.set_ports([2, 1, 0]);
        assert_eq!(o.generation(), g);
        assert_eq!(o.ports(), Some(&[1, 2][..]));
    }

    #[test]
    fn normal_learns_then_forwards_only_to_the_learned_port() {
        let mut o = of("actions=NORMAL\n");
        o.set_ports([1, 2, 3, OFPP_LOCAL]);
        let a_to_b =
            parse_flow("in_port=1,dl_src=50:54:00:00:00:0a,dl_dst=50:54:00:00:00:0b,ip").unwrap();
        let b_to_a =
            parse_flow("in_port=2,dl_src=50:54:00:00:00:0b,dl_dst=50:54:00:00:00:0a,ip").unwrap();
        let t = o.translate_flow(&a_to_b, false);
        assert_eq!(acts(&t), "2,3,65534");
        assert_eq!(t.mask.get(Field::InPort), 0xffff_ffff);
        for f in [Field::DlSrc, Field::DlDst] {
            assert_eq!(t.mask.get(f), 0xffff_ffff_ffff, "{f:?}");
        }
        assert_eq!(t.mask.get(Field::VlanTci) & 0x1fff, 0x1fff);
        // A trace learns nothing by itself; the caller applies it.
        assert_eq!(o.n_macs(), 0);
        let g = o.generation();
        o.learn(&t.learn, 1_000);
        assert_ne!(o.generation(), g, "a new entry re-translates megaflows");
        assert_eq!(acts(&o.translate_flow(&b_to_a, false)), "1");
        // Learned on the input port: dropped; other VLAN: flooded.
        let back =
            parse_flow("in_port=1,dl_src=50:54:00:00:00:0b,dl_dst=50:54:00:00:00:0a,ip").unwrap();
        assert_eq!(acts(&o.translate_flow(&back, false)), "drop");
        let vlan =
            parse_flow("in_port=2,dl_vlan=7,dl_src=50:54:00:00:00:0b,dl_dst=50:54:00:00:00:0a,ip")
                .unwrap();
        assert_eq!(acts(&o.translate_flow(&vlan, false)), "1,3,65534");
        // Aging: gone after 300 s unused.
        assert_eq!(o.expire_macs(1_000 + 299_999), 0);
        assert_eq!(o.expire_macs(1_000 + 300_000), 1);
        assert_eq!(acts(&o.translate_flow(&b_to_a, false)), "1,3,65534");
        // Multicast sources are forwarded but not learned; reserved
        // destinations (STP) are dropped.
        let mc =
            parse_flow("in_port=1,dl_src=01:00:5e:00:00:01,dl_dst=50:54:00:00:00:0b,ip").unwrap();
        let t = o.translate_flow(&mc, false);
        assert_eq!((acts(&t), t.learn.len()), ("2,3,65534".to_string(), 0));
        let stp =
            parse_flow("in_port=1,dl_src=50:54:00:00:00:0a,dl_dst=01:80:c2:00:00:00").unwrap();
        assert_eq!(acts(&o.translate_flow(&stp, false)), "drop");
        // A port leaving takes its entries with it.
        o.learn(&o.translate_flow(&a_to_b, false).learn, 5_000);
        o.set_ports([2, 3]);
        assert_eq!(o.n_macs(), 0);
    }

    /// Expected actions are what OVS 3.1's `ofproto/trace` printed for the
    /// same rules and flow (bridge ports 1-5).
    #[test]
    fn clone_runs_on_a_copy_and_is_inlined_unless_it_truncates() {
        let flow =
            parse_flow("in_port=1,tcp,nw_src=10.10.10.2,nw_dst=10.10.10.1,nw_ttl=64").unwrap();
        for (rules, ovs) in [
            // Inlined: the next output puts the outer header back.
            (
                "in_port=1,ip,actions=clone(set_field:192.168.2.2->ip_dst,output:2),output:3",
                "set(ipv4(dst=192.168.2.2)),2,set(ipv4(dst=10.10.10.1)),3",
            ),
            // A trunc cannot be undone: a datapath clone, after committing
            // the outer change.
            (
                "in_port=1,ip,actions=set_field:192.168.1.1->ip_src,clone(set_field:192.168.2.2->ip_dst,output(port=2,max_len=100)),output:3",
                "set(ipv4(src=192.168.1.1)),clone(trunc(100),set(ipv4(dst=192.168.2.2)),2),3",
            ),
            // Nothing after it: inlined all the same.
            (
                "in_port=1,ip,actions=output:3,clone(set_field:192.168.2.2->ip_dst,output(port=2,max_len=100))",
                "3,trunc(100),set(ipv4(dst=192.168.2.2)),2",
            ),
            (
                "in_port=1,ip,actions=clone(clone(output(port=3,max_len=64)),output:2),output:5",
                "clone(trunc(64),3),2,5",
            ),
            (
                "in_port=1,ip,actions=clone(output:2,output(port=3,max_len=64)),mod_dl_dst:00:00:00:00:00:05,clone(mod_dl_src:00:00:00:00:00:07,output(port=4,max_len=70)),output:5",
                "clone(2,trunc(64),3),set(eth(dst=00:00:00:00:00:05)),clone(trunc(70),set(eth(src=00:00:00:00:00:07)),4),5",
            ),
            // The clone runs a copy of the action set when it ends.
            (
                "in_port=1,ip,actions=write_actions(output:5),goto_table:1\ntable=1,ip,actions=clone(mod_dl_src:00:00:00:00:00:07,output(port=2,max_len=64)),output:3",
                "clone(trunc(64),set(eth(src=00:00:00:00:00:07)),2,5),3,5",
            ),
            (
                "in_port=1,ip,actions=write_actions(output:5),goto_table:1\ntable=1,ip,actions=output:3,clone(output(port=2,max_len=64))",
                "3,clone(trunc(64),2,5),5",
            ),
            (
                "in_port=1,ip,actions=clone(resubmit(,1)),output:5\ntable=1,actions=write_actions(output:4)",
                "4,5",
            ),
            ("in_port=1,ip,actions=clone(drop),output:5", "5"),
            ("in_port=1,ip,actions=clone(set_field:192.168.2.2->ip_dst)", "drop"),
        ] {
            let t = of(rules).translate_flow(&flow, false);
            assert_eq!(t.error, None, "{rules}");
            assert_eq!(acts(&t), ovs, "{rules}");
            for f in [Field::NwDst, Field::DlSrc] {
                assert_eq!(
                    t.final_flow.get(f),
                    flow.get(f),
                    "{rules}: the clone changed the outer flow"
                );
            }
        }
    }

    #[test]
    fn sample_does_nothing_without_ipfix() {
        let t = of("in_port=1,actions=sample(probability=65535,collector_set_id=1),output:2")
            .translate(&parse_flow("in_port=1,tcp").unwrap().key(), false);
        assert_eq!(acts(&t), "2");
        assert!(!t.priority_matched);
    }

    #[test]
    fn queues_set_the_priority_of_later_outputs_as_the_netdev_datapath() {
        let of = of(
            "in_port=4,actions=enqueue:LOCAL:1,enqueue:1:1,enqueue:4:1,enqueue:3:2,set_queue:7,output:5,pop_queue,output:6",
        );
        let t = of.translate(&parse_flow("in_port=4,tcp").unwrap().key(), false);
        // ofproto/trace's Datapath actions (its LOCAL is 100), checked by hand.
        assert_eq!(
            acts(&t),
            format!(
                "set(skb_priority(0x1)),{OFPP_LOCAL},1,set(skb_priority(0x2)),3,set(skb_priority(0x7)),5,set(skb_priority(0)),6"
            )
        );
        assert!(t.priority_matched);
        // A clone's queue is its own.
        let t = super::super::OfProto::with_rules(
            parse_rules(
                "in_port=1,actions=clone(set_queue:5,output:2),output:3",
                "t",
            )
            .unwrap(),
            Prefixes::default(),
        )
        .translate(&parse_flow("in_port=1,tcp").unwrap().key(), false);
        assert_eq!(acts(&t), "set(skb_priority(0x5)),2,set(skb_priority(0)),3");
    }

    #[test]
    fn check_pkt_larger_translates_the_rest_for_both_answers() {
        let of = of("table=0,in_port=1,actions=mod_dl_src:00:00:00:00:00:01,check_pkt_larger(200)->NXM_NX_REG0[0],resubmit(,1),output:4
             table=1,reg0=1,actions=mod_nw_dst:1.1.1.1,output:2
             table=1,reg0=0,actions=output:3");
        let t = of.translate(&parse_flow("in_port=1,tcp").unwrap().key(), false);
        // As ofproto/trace (OVS 3.1): the second branch starts from the
        // packet before the first's rewrite.
        assert_eq!(
            acts(&t),
            "set(eth(src=00:00:00:00:00:01)),check_pkt_len(size=200,gt(set(ipv4(dst=1.1.1.1)),2,4),le(3,4))"
        );
        // The action set runs in the first branch only, and again at the end.
        let of = super::super::OfProto::with_rules(
            parse_rules(
                "in_port=1,actions=write_actions(output:2),goto_table:1\ntable=1,actions=check_pkt_larger(100)->reg0[0],output:3",
                "t",
            )
            .unwrap(),
            Prefixes::default(),
        );
        let t = of.translate(&parse_flow("in_port=1,tcp").unwrap().key(), false);
        assert_eq!(acts(&t), "check_pkt_len(size=100,gt(3,2),le(3)),2");
    }

    #[test]
    fn a_tag_kept_because_it_equals_a_made_one_is_matched_whole() {
        // The tag mod_vlan_pcp makes after strip_vlan equals the packet's
        // (pcp 3, vid 0), so nothing is pushed; a packet with another vid
        // would need pop and push, so the vid is matched too.
        let o = of("in_port=1,actions=strip_vlan,mod_vlan_pcp:3,in_port");
        let same = parse_flow("in_port=1,dl_vlan=0,dl_vlan_pcp=3,ip").unwrap();
        let t = o.translate_flow(&same, false);
        assert_eq!(acts(&t), "1");
        assert_eq!(t.mask.get(Field::VlanTci) & 0xffff, 0xffff);
        let other = parse_flow("in_port=1,dl_vlan=5,dl_vlan_pcp=3,ip").unwrap();
        let t = o.translate_flow(&other, false);
        assert_eq!(acts(&t), "pop_vlan,push_vlan(vid=0,pcp=3),1");
        // A tag that stays itself is matched only where it was written.
        let o = of("in_port=1,actions=mod_vlan_pcp:3,in_port");
        let t = o.translate_flow(&same, false);
        assert_eq!(acts(&t), "1");
        assert_eq!(t.mask.get(Field::VlanTci) & 0x0fff, 0);
    }

    #[test]
    fn exit_ends_the_translation_and_the_action_set_too() {
        // Each as ofproto/trace on OVS 3.1 gives: datapath actions `10`.
        for rules in [
            "in_port=1,actions=output:10,exit,output:11,write_actions(output:3)",
            "in_port=1,actions=resubmit(,1),output:2,write_actions(output:3)\ntable=1,actions=output:10,exit,output:11",
            "in_port=1,actions=clone(output:10,exit,output:11),output:2",
        ] {
            let t = of(rules).translate_flow(&parse_flow("in_port=1,tcp").unwrap(), false);
            assert_eq!(acts(&t), "10", "{rules}");
        }
    }
}
