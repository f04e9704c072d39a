//! Datapath actions executed on frames.
//!
//! What translation produces and the datapath runs per packet: outputs,
//! masked header rewrites, VLAN push/pop. Rewrites keep every checksum right
//! by incremental update (RFC 1624), as real datapaths do: the IPv4 header
//! checksum, the TCP/UDP/ICMPv6 checksums (whose pseudo-header covers the
//! addresses) and the ICMP checksum; SCTP's CRC32-C is recomputed.

pub mod controller;
pub mod csum;

use crate::extract::{miniflow_extract_with_offsets, ExtractStats, HeaderOffsets};
use abi::FlowKey;
use std::fmt;

/// A header field a set action may rewrite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetField {
    /// Ethernet source.
    EthSrc,
    /// Ethernet destination.
    EthDst,
    /// IPv4 source.
    Ipv4Src,
    /// IPv4 destination.
    Ipv4Dst,
    /// IPv4 TOS byte.
    Ipv4Tos,
    /// IPv4 TTL.
    Ipv4Ttl,
    /// IPv6 source.
    Ipv6Src,
    /// IPv6 destination.
    Ipv6Dst,
    /// IPv6 traffic class.
    Ipv6Tclass,
    /// IPv6 hop limit.
    Ipv6Hlimit,
    /// TCP/UDP/SCTP source port, ICMP type.
    TpSrc,
    /// TCP/UDP/SCTP destination port, ICMP code.
    TpDst,
    /// ARP sender protocol address.
    ArpSip,
    /// ARP target protocol address.
    ArpTip,
    /// ARP opcode.
    ArpOp,
    /// ARP sender hardware address.
    ArpSha,
    /// ARP target hardware address.
    ArpTha,
    /// ND target address.
    NdTarget,
    /// ND source link-layer address option.
    NdSll,
    /// ND target link-layer address option.
    NdTll,
}

/// The header a set action targets (`set(eth(…))`, `set(ipv4(…))`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Header {
    /// Ethernet.
    Eth,
    /// Ethernet/IPv4 ARP.
    Arp,
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
    /// ICMP.
    Icmp,
    /// ICMPv6.
    Icmpv6,
    /// IPv6 neighbour discovery (`set(nd(…))`).
    Nd,
}

/// One masked rewrite of a header: `field = (field & !mask) | (value & mask)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetAction {
    /// Header.
    pub header: Header,
    /// Fields with right-aligned values and masks.
    pub fields: Vec<(SetField, u128, u128)>,
}

/// A datapath action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OdpAction {
    /// Send a copy of the packet to a port.
    Output(u32),
    /// Rewrite header fields.
    Set(SetAction),
    /// Push an 802.1Q/802.1ad tag.
    PushVlan {
        /// TPID (0x8100 or 0x88a8).
        tpid: u16,
        /// TCI (without the "present" bit).
        tci: u16,
    },
    /// Remove the outer tag.
    PopVlan,
    /// Cut the copy sent by the next output to this many bytes (`trunc(N)`).
    Trunc(u32),
    /// Hand a copy to the controller sink (`userspace(pid=0,controller(…))`).
    Userspace(ControllerAction),
    /// `clone(...)`: the actions run on a copy of the packet; the packet the
    /// actions after it see is unchanged (OVS `OVS_ACTION_ATTR_CLONE`).
    Clone(Vec<OdpAction>),
    /// `set(skb_priority(N))`: the queue later outputs use. Packet metadata
    /// only: fastpath's ports have no queues, so it changes nothing.
    SetPriority(u32),
    /// `check_pkt_len(size=N,gt(…),le(…))`: one list for packets longer
    /// than N bytes (without L2 padding), the other for the rest, run on a
    /// copy of the packet (OVS `OVS_ACTION_ATTR_CHECK_PKT_LEN`).
    CheckPktLen {
        /// Length compared with.
        size: u16,
        /// Actions for longer packets.
        gt: Vec<OdpAction>,
        /// Actions for the others.
        le: Vec<OdpAction>,
    },
}

/// What OVS's `userspace(pid=0,controller(...))` carries: why the packet
/// goes to the controller and how much of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ControllerAction {
    /// OpenFlow packet-in reason (0 no_match, 1 action, 2 invalid_ttl,
    /// 3 action_set, 4 group, 5 packet_out, 6 explicit_miss).
    pub reason: u8,
    /// Do not deliver (set in traces: OVS's `ofproto/trace` has no side effects).
    pub dont_send: bool,
    /// A paused pipeline's continuation (never: `pause` is not resumed here).
    pub continuation: bool,
    /// The translation's id for this packet-in's state (see docs: numbered
    /// per translation, not OVS's global allocator).
    pub recirc_id: u32,
    /// Cookie of the rule that sent it.
    pub rule_cookie: u64,
    /// Controller connection id (`controller(id=N)`).
    pub controller_id: u16,
    /// Bytes of the packet delivered (65535: all of it).
    pub max_len: u16,
}

impl fmt::Display for ControllerAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // C's %#"PRIx64: 0 prints without the 0x.
        let cookie = if self.rule_cookie == 0 {
            "0".to_string()
        } else {
            format!("{:#x}", self.rule_cookie)
        };
        write!(
            f,
            "userspace(pid=0,controller(reason={},dont_send={},continuation={},recirc_id={},rule_cookie={cookie},controller_id={},max_len={}))",
            self.reason,
            u8::from(self.dont_send),
            u8::from(self.continuation),
            self.recirc_id,
            self.controller_id,
            self.max_len
        )
    }
}

/// Formats an action list as `ovs-dpctl` does (`drop` when empty).
pub fn format_actions(acts: &[OdpAction]) -> String {
    if acts.is_empty() {
        return "drop".to_string();
    }
    acts.iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn mac(v: u128) -> String {
    let b = (v as u64).to_be_bytes();
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[2], b[3], b[4], b[5], b[6], b[7]
    )
}

impl fmt::Display for OdpAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OdpAction::Output(p) => write!(f, "{p}"),
            OdpAction::PopVlan => write!(f, "pop_vlan"),
            OdpAction::Trunc(n) => write!(f, "trunc({n})"),
            OdpAction::Userspace(c) => write!(f, "{c}"),
            OdpAction::Clone(inner) => write!(f, "clone({})", format_actions(inner)),
            // C's %#x: 0 prints without the 0x.
            OdpAction::SetPriority(0) => write!(f, "set(skb_priority(0))"),
            OdpAction::SetPriority(p) => write!(f, "set(skb_priority({p:#x}))"),
            OdpAction::CheckPktLen { size, gt, le } => write!(
                f,
                "check_pkt_len(size={size},gt({}),le({}))",
                format_actions(gt),
                format_actions(le)
            ),
            OdpAction::PushVlan { tpid, tci } => {
                if *tpid != 0x8100 {
                    write!(
                        f,
                        "push_vlan(tpid={tpid:#06x},vid={},pcp={})",
                        tci & 0x0fff,
                        tci >> 13
                    )
                } else {
                    write!(f, "push_vlan(vid={},pcp={})", tci & 0x0fff, tci >> 13)
                }
            }
            OdpAction::Set(s) => {
                let h = match s.header {
                    Header::Eth => "eth",
                    Header::Arp => "arp",
                    Header::Ipv4 => "ipv4",
                    Header::Ipv6 => "ipv6",
                    Header::Tcp => "tcp",
                    Header::Udp => "udp",
                    Header::Sctp => "sctp",
                    Header::Icmp => "icmp",
                    Header::Icmpv6 => "icmpv6",
                    Header::Nd => "nd",
                };
                write!(f, "set({h}(")?;
                for (i, &(fld, v, m)) in s.fields.iter().enumerate() {
                    if i > 0 {
                        write!(f, ",")?;
                    }
                    let icmp = matches!(s.header, Header::Icmp | Header::Icmpv6);
                    let (name, full): (&str, u128) = match fld {
                        SetField::EthSrc => ("src", 0xffff_ffff_ffff),
                        SetField::EthDst => ("dst", 0xffff_ffff_ffff),
                        SetField::Ipv4Src | SetField::Ipv6Src => (
                            "src",
                            if s.header == Header::Ipv4 {
                                0xffff_ffff
                            } else {
                                u128::MAX
                            },
                        ),
                        SetField::Ipv4Dst | SetField::Ipv6Dst => (
                            "dst",
                            if s.header == Header::Ipv4 {
                                0xffff_ffff
                            } else {
                                u128::MAX
                            },
                        ),
                        SetField::Ipv4Tos => ("tos", 0xff),
                        SetField::Ipv6Tclass => ("tclass", 0xff),
                        SetField::Ipv4Ttl => ("ttl", 0xff),
                        SetField::Ipv6Hlimit => ("hlimit", 0xff),
                        SetField::TpSrc if icmp => ("type", 0xff),
                        SetField::TpDst if icmp => ("code", 0xff),
                        SetField::TpSrc => ("src", 0xffff),
                        SetField::TpDst => ("dst", 0xffff),
                        SetField::ArpSip => ("sip", 0xffff_ffff),
                        SetField::ArpTip => ("tip", 0xffff_ffff),
                        SetField::ArpOp => ("op", 0xff),
                        SetField::ArpSha => ("sha", 0xffff_ffff_ffff),
                        SetField::ArpTha => ("tha", 0xffff_ffff_ffff),
                        SetField::NdTarget => ("target", u128::MAX),
                        SetField::NdSll => ("sll", 0xffff_ffff_ffff),
                        SetField::NdTll => ("tll", 0xffff_ffff_ffff),
                    };
                    let exact = m & full == full;
                    match fld {
                        SetField::EthSrc
                        | SetField::EthDst
                        | SetField::ArpSha
                        | SetField::ArpTha
                        | SetField::NdSll
                        | SetField::NdTll => {
                            write!(f, "{name}={}", mac(v))?;
                            if !exact {
                                write!(f, "/{}", mac(m))?;
                            }
                        }
                        SetField::Ipv4Src
                        | SetField::Ipv4Dst
                        | SetField::ArpSip
                        | SetField::ArpTip => {
                            write!(f, "{name}={}", std::net::Ipv4Addr::from(v as u32))?;
                            if !exact {
                                write!(f, "/{}", std::net::Ipv4Addr::from(m as u32))?;
                            }
                        }
                        SetField::Ipv6Src | SetField::Ipv6Dst | SetField::NdTarget => {
                            write!(f, "{name}={}", crate::ofproto::format::ipv6_str(v))?;
                            if !exact {
                                write!(f, "/{}", crate::ofproto::format::ipv6_str(m))?;
                            }
                        }
                        SetField::Ipv4Tos | SetField::Ipv6Tclass => {
                            write!(f, "{name}={v:#x}")?;
                            if !exact {
                                write!(f, "/{m:#x}")?;
                            }
                        }
                        _ => {
                            write!(f, "{name}={v}")?;
                            if !exact {
                                write!(f, "/{m:#x}")?;
                            }
                        }
                    }
                }
                write!(f, "))")
            }
        }
    }
}

/// Why an action could not be applied to a frame (the frame is still
/// forwarded with whatever was applied; the caller counts these).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExecStats {
    /// Set actions skipped because the header was missing or truncated.
    pub set_skipped: u64,
    /// Pop actions on untagged frames.
    pub pop_untagged: u64,
    /// Copies handed to the controller sink.
    pub controller: u64,
}

fn offsets(frame: &[u8], in_port: u32) -> HeaderOffsets {
    let mut st = ExtractStats::default();
    miniflow_extract_with_offsets(frame, in_port, &mut st).1
}

/// Runs `acts` on `frame` (modified in place); each output calls
/// `out(port, frame)`. `key` is the frame's key as extracted (its protocol
/// fields tell which headers exist). Controller copies are only counted:
/// [`execute_with_controller`] delivers them.
pub fn execute(
    acts: &[OdpAction],
    frame: &mut Vec<u8>,
    key: &FlowKey,
    in_port: u32,
    stats: &mut ExecStats,
    out: &mut dyn FnMut(u32, &[u8]),
) {
    execute_with_controller(acts, frame, key, in_port, stats, out, &mut |_, _| {});
}

/// [`execute`], handing each controller copy (the whole packet as it is
/// then: the sink keeps `max_len` bytes of it; none when `dont_send`) to `ctl`.
pub fn execute_with_controller(
    acts: &[OdpAction],
    frame: &mut Vec<u8>,
    key: &FlowKey,
    in_port: u32,
    stats: &mut ExecStats,
    out: &mut dyn FnMut(u32, &[u8]),
    ctl: &mut dyn FnMut(&ControllerAction, &[u8]),
) {
    let mut off: Option<HeaderOffsets> = None;
    let mut key = *key;
    let mut trunc: Option<usize> = None;
    for a in acts {
        match a {
            OdpAction::Output(p) => {
                let n = trunc.take().map_or(frame.len(), |t| t.min(frame.len()));
                out(*p, &frame[..n])
            }
            OdpAction::Trunc(n) => trunc = Some(*n as usize),
            OdpAction::Userspace(c) => {
                if !c.dont_send {
                    stats.controller += 1;
                    ctl(c, frame);
                }
            }
            OdpAction::PushVlan { tpid, tci } => {
                let at = 12.min(frame.len());
                let t = (tci & !abi::key::VLAN_PRESENT).to_be_bytes();
                let p = tpid.to_be_bytes();
                frame.splice(at..at, [p[0], p[1], t[0], t[1]]);
                off = None;
            }
            OdpAction::PopVlan => {
                if frame.len() >= 18 {
                    let tp = u16::from_be_bytes([frame[12], frame[13]]);
                    if tp == 0x8100 || tp == 0x88a8 {
                        frame.drain(12..16);
                        off = None;
                        continue;
                    }
                }
                stats.pop_untagged += 1;
            }
            OdpAction::Set(s) => {
                let o = *off.get_or_insert_with(|| offsets(frame, in_port));
                if !apply_set(s, frame, &o, &mut key) {
                    stats.set_skipped += 1;
                }
            }
            OdpAction::Clone(inner) => {
                // A pending trunc is the clone's own business: OVS's
                // datapath keeps the cutting length per copy.
                let mut copy = frame.clone();
                execute_with_controller(inner, &mut copy, &key, in_port, stats, out, ctl);
            }
            OdpAction::SetPriority(_) => {}
            OdpAction::CheckPktLen { size, gt, le } => {
                // OVS compares the length without L2 padding (bytes past
                // the IP length).
                let o = *off.get_or_insert_with(|| offsets(frame, in_port));
                let len = o
                    .l3_end
                    .map_or(frame.len(), |e| usize::from(e).min(frame.len()));
                let branch = if len > usize::from(*size) { gt } else { le };
                let mut copy = frame.clone();
                execute_with_controller(branch, &mut copy, &key, in_port, stats, out, ctl);
            }
        }
    }
}

#[inline]
fn merge(old: u128, v: u128, m: u128) -> u128 {
    (old & !m) | (v & m)
}

fn rd(frame: &[u8], at: usize, n: usize) -> u128 {
    let mut v = 0u128;
    for &b in &frame[at..at + n] {
        v = (v << 8) | b as u128;
    }
    v
}

fn wr(frame: &mut [u8], at: usize, n: usize, v: u128) {
    for i in 0..n {
        frame[at + i] = (v >> (8 * (n - 1 - i))) as u8;
    }
}

/// Where the IP packet ends (its padding is no header's), at most the frame.
fn l3_end(o: &HeaderOffsets, frame: &[u8]) -> usize {
    o.l3_end
        .map(|x| x as usize)
        .unwrap_or(frame.len())
        .min(frame.len())
}

/// Applies one set action; false when the header is not there.
fn apply_set(s: &SetAction, frame: &mut [u8], o: &HeaderOffsets, key: &mut FlowKey) -> bool {
    use SetField::*;
    let nw_frag = key.get(abi::Field::NwFrag) as u8;
    let later = nw_frag & abi::key::FRAG_LATER != 0;
    match s.header {
        Header::Eth => {
            if frame.len() < 12 {
                return false;
            }
            for &(f, v, m) in &s.fields {
                let at = if f == EthDst { 0 } else { 6 };
                let n = merge(rd(frame, at, 6), v, m);
                wr(frame, at, 6, n);
            }
            true
        }
        Header::Arp => {
            // The extractor sets l3 only for a whole Ethernet/IPv4 ARP header.
            let Some(l3) = o.l3.map(|x| x as usize) else {
                return false;
            };
            if frame.len() < l3 + 28 || !matches!(key.get(abi::Field::DlType), 0x0806 | 0x8035) {
                return false;
            }
            for &(f, v, m) in &s.fields {
                // The key holds the opcode's low byte (OVS refuses larger
                // values): a full 8-bit write is the whole 16-bit field.
                let m = if f == ArpOp && m == 0xff { 0xffff } else { m };
                let (at, n) = match f {
                    ArpOp => (6, 2),
                    ArpSha => (8, 6),
                    ArpSip => (14, 4),
                    ArpTha => (18, 6),
                    ArpTip => (24, 4),
                    _ => return false,
                };
                let new = merge(rd(frame, l3 + at, n), v, m);
                wr(frame, l3 + at, n, new);
            }
            true
        }
        Header::Ipv4 => {
            let Some(l3) = o.l3.map(|x| x as usize) else {
                return false;
            };
            if frame.len() < l3 + 20 {
                return false;
            }
            let l4 = o.l4.map(|x| x as usize);
            let l3_end = l3_end(o, frame);
            let proto = frame[l3 + 9];
            for &(f, v, m) in &s.fields {
                match f {
                    Ipv4Src | Ipv4Dst => {
                        let at = l3 + if f == Ipv4Src { 12 } else { 16 };
                        let old = rd(frame, at, 4) as u32;
                        let new = merge(old as u128, v, m) as u32;
                        wr(frame, at, 4, new as u128);
                        csum::update32(frame, l3 + 10, old, new, false);
                        if let (Some(l4), false) = (l4, later) {
                            match proto {
                                6 if l4 + 18 <= l3_end => {
                                    csum::update32(frame, l4 + 16, old, new, false)
                                }
                                17 if l4 + 8 <= l3_end => {
                                    csum::update32(frame, l4 + 6, old, new, true)
                                }
                                _ => {}
                            }
                        }
                    }
                    Ipv4Tos | Ipv4Ttl => {
                        let at = l3 + if f == Ipv4Tos { 1 } else { 8 };
                        let old = frame[at];
                        let new = merge(old as u128, v, m) as u8;
                        frame[at] = new;
                        // The byte sits in a 16-bit word at an even (tos: low byte of
                        // word 0) or odd position; update the whole word.
                        let w = l3 + ((at - l3) & !1);
                        let mut oldw = [frame[w], frame[w + 1]];
                        oldw[at - w] = old;
                        csum::update16(
                            frame,
                            l3 + 10,
                            u16::from_be_bytes(oldw),
                            u16::from_be_bytes([frame[w], frame[w + 1]]),
                            false,
                        );
                    }
                    _ => return false,
                }
            }
            true
        }
        Header::Ipv6 => {
            let Some(l3) = o.l3.map(|x| x as usize) else {
                return false;
            };
            if frame.len() < l3 + 40 {
                return false;
            }
            let l4 = o.l4.map(|x| x as usize);
            let l3_end = l3_end(o, frame);
            let proto = key.get(abi::Field::NwProto) as u8;
            for &(f, v, m) in &s.fields {
                match f {
                    Ipv6Src | Ipv6Dst => {
                        let at = l3 + if f == Ipv6Src { 8 } else { 24 };
                        let old = rd(frame, at, 16);
                        let new = merge(old, v, m);
                        wr(frame, at, 16, new);
                        if let (Some(l4), false) = (l4, later) {
                            let c = match proto {
                                6 if l4 + 18 <= l3_end => Some((l4 + 16, false)),
                                17 if l4 + 8 <= l3_end => Some((l4 + 6, true)),
                                58 if l4 + 4 <= l3_end => Some((l4 + 2, false)),
                                _ => None,
                            };
                            if let Some((at, udp)) = c {
                                for i in 0..4 {
                                    let sh = 96 - 32 * i;
                                    csum::update32(
                                        frame,
                                        at,
                                        (old >> sh) as u32,
                                        (new >> sh) as u32,
                                        udp,
                                    );
                                }
                            }
                        }
                    }
                    Ipv6Tclass => {
                        let cur = ((frame[l3] as u128 & 0x0f) << 4) | (frame[l3 + 1] as u128 >> 4);
                        let n = merge(cur, v, m) as u8;
                        frame[l3] = (frame[l3] & 0xf0) | (n >> 4);
                        frame[l3 + 1] = (frame[l3 + 1] & 0x0f) | (n << 4);
                    }
                    Ipv6Hlimit => frame[l3 + 7] = merge(frame[l3 + 7] as u128, v, m) as u8,
                    _ => return false,
                }
            }
            true
        }
        Header::Tcp | Header::Udp | Header::Sctp | Header::Icmp | Header::Icmpv6 => {
            let Some(l4) = o.l4.map(|x| x as usize) else {
                return false;
            };
            if later {
                return false;
            }
            let l3_end = l3_end(o, frame);
            let icmp = matches!(s.header, Header::Icmp | Header::Icmpv6);
            let need = match s.header {
                Header::Tcp => 18,
                Header::Udp => 8,
                Header::Sctp => 12,
                _ => 4,
            };
            if l4 + need > l3_end {
                return false;
            }
            for &(f, v, m) in &s.fields {
                if icmp {
                    let at = l4 + if f == TpSrc { 0 } else { 1 };
                    let old = u16::from_be_bytes([frame[l4], frame[l4 + 1]]);
                    frame[at] = merge(frame[at] as u128, v, m) as u8;
                    let new = u16::from_be_bytes([frame[l4], frame[l4 + 1]]);
                    if s.header == Header::Icmp {
                        // ICMP has no pseudo-header and is short: recompute, which
                        // also avoids RFC 1624's -0 result for an all-zero message
                        // (an echo reply with id, sequence and payload 0).
                        frame[l4 + 2..l4 + 4].fill(0);
                        let c = csum::checksum(&frame[l4..l3_end], 0);
                        frame[l4 + 2..l4 + 4].copy_from_slice(&c.to_be_bytes());
                    } else {
                        csum::update16(frame, l4 + 2, old, new, false);
                    }
                } else {
                    let at = l4 + if f == TpSrc { 0 } else { 2 };
                    let old = rd(frame, at, 2) as u16;
                    let new = merge(old as u128, v, m) as u16;
                    wr(frame, at, 2, new as u128);
                    match s.header {
                        Header::Tcp => csum::update16(frame, l4 + 16, old, new, false),
                        Header::Udp => csum::update16(frame, l4 + 6, old, new, true),
                        _ => {}
                    }
                }
            }
            if s.header == Header::Sctp {
                frame[l4 + 8..l4 + 12].fill(0);
                let c = csum::crc32c(&frame[l4..l3_end]);
                frame[l4 + 8..l4 + 12].copy_from_slice(&c.to_le_bytes());
            }
            true
        }
        Header::Nd => {
            let Some(l4) = o.l4.map(|x| x as usize) else {
                return false;
            };
            let l3_end = l3_end(o, frame);
            if later || !key.is_nd() {
                return false;
            }
            set_nd(frame, l4, l3_end, &s.fields)
        }
    }
}

/// `set(nd(…))` as Open vSwitch's `odp_set_nd`: the target rewritten, and
/// the first link-layer option of 8 bytes (source or target, whichever
/// comes first) takes its field's value; the ICMPv6 checksum is kept
/// right incrementally (none of it is in the pseudo-header). False when
/// the message is shorter than its target.
fn set_nd(frame: &mut [u8], l4: usize, l3_end: usize, fields: &[(SetField, u128, u128)]) -> bool {
    // ICMPv6 header (8) and target (16).
    let target_at = l4 + 8;
    if target_at + 16 > l3_end {
        return false;
    }
    let field = |want: SetField| fields.iter().find(|f| f.0 == want).map(|f| (f.1, f.2));
    if let Some((v, m)) = field(SetField::NdTarget) {
        let old = rd(frame, target_at, 16);
        let new = merge(old, v, m);
        wr(frame, target_at, 16, new);
        for i in 0..4 {
            let sh = 96 - 32 * i;
            csum::update32(frame, l4 + 2, (old >> sh) as u32, (new >> sh) as u32, false);
        }
    }
    let mut at = target_at + 16;
    while at + 8 <= l3_end && frame[at + 1] != 0 {
        let len = frame[at + 1] as usize * 8;
        let which = match (frame[at], len) {
            (1, 8) => Some(SetField::NdSll),
            (2, 8) => Some(SetField::NdTll),
            _ => None,
        };
        if let Some(which) = which {
            // A packet holds one SLL or TLL option: the first is the one.
            if let Some((v, m)) = field(which) {
                let old = rd(frame, at + 2, 6);
                let new = merge(old, v, m);
                wr(frame, at + 2, 6, new);
                for i in 0..3 {
                    let sh = 32 - 16 * i;
                    csum::update16(frame, l4 + 2, (old >> sh) as u16, (new >> sh) as u16, false);
                }
            }
            break;
        }
        at += len;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_ovs() {
        let a = vec![
            OdpAction::Set(SetAction {
                header: Header::Eth,
                fields: vec![(SetField::EthDst, 0x5054_0000_000a, 0xffff_ffff_ffff)],
            }),
            OdpAction::Output(2),
        ];
        assert_eq!(format_actions(&a), "set(eth(dst=50:54:00:00:00:0a)),2");
        assert_eq!(format_actions(&[]), "drop");
        let a = OdpAction::Set(SetAction {
            header: Header::Ipv4,
            fields: vec![(SetField::Ipv4Ttl, 63, 0xff)],
        });
        assert_eq!(a.to_string(), "set(ipv4(ttl=63))");
        assert_eq!(
            OdpAction::PushVlan {
                tpid: 0x8100,
                tci: 10
            }
            .to_string(),
            "push_vlan(vid=10,pcp=0)"
        );
    }

    #[test]
    fn trunc_cuts_only_the_next_output() {
        let mut frame = vec![0u8; 100];
        let key = FlowKey::ZERO;
        let mut st = ExecStats::default();
        let mut got = Vec::new();
        let acts = [
            OdpAction::Trunc(64),
            OdpAction::Output(2),
            OdpAction::Output(3),
            OdpAction::Trunc(1000),
            OdpAction::Output(4),
        ];
        execute(&acts, &mut frame, &key, 1, &mut st, &mut |p, f| {
            got.push((p, f.len()))
        });
        assert_eq!(got, vec![(2, 64), (3, 100), (4, 100)]);
        assert_eq!(format_actions(&acts[..2]), "trunc(64),2");
    }

    #[test]
    fn check_pkt_len_runs_one_branch_on_a_copy_by_length() {
        let acts = [
            OdpAction::SetPriority(5),
            OdpAction::CheckPktLen {
                size: 64,
                gt: vec![OdpAction::Output(2)],
                le: vec![OdpAction::Output(3)],
            },
            OdpAction::Output(4),
        ];
        assert_eq!(
            format_actions(&acts),
            "set(skb_priority(0x5)),check_pkt_len(size=64,gt(2),le(3)),4"
        );
        for (len, first) in [(65, 2), (64, 3)] {
            let mut frame = vec![0u8; len];
            let mut got = Vec::new();
            let mut st = ExecStats::default();
            execute(
                &acts,
                &mut frame,
                &FlowKey::ZERO,
                1,
                &mut st,
                &mut |p, _| got.push(p),
            );
            assert_eq!(got, vec![first, 4], "{len} bytes");
        }
        assert_eq!(
            OdpAction::CheckPktLen {
                size: 1,
                gt: vec![],
                le: vec![]
            }
            .to_string(),
            "check_pkt_len(size=1,gt(drop),le(drop))"
        );
    }
}
