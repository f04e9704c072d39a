//! Printing megaflows: `ovs-ofctl` match syntax (`ofproto/trace`'s
//! `Megaflow:` line) and `ovs-dpctl dump-flows` syntax.
//!
//! Field order and value forms follow Open vSwitch's `match_format()` and
//! `odp_flow_format()`. One deliberate difference: ICMP type/code masks of
//! 0xff print as exact (`icmp_type=8`), since those fields are 8 bits in the
//! datapath (OVS prints `0x8/0xff` there).

use super::flow::{
    eth_type, ip_proto, reg_shift, Flow, IP_FIELDS, METADATA_WORD, N_REGS, RECIRC_ID_WORD,
    REGS_WORD, TUN_ID_WORD,
};
use super::parse::{tcp_flag_names, DEFAULT_PRIORITY};
use super::port::format_port;
use abi::key::VLAN_PRESENT;
use abi::{Field, FlowKey};
use std::net::{Ipv4Addr, Ipv6Addr};

fn mac(v: u64) -> String {
    let b = v.to_be_bytes();
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[2], b[3], b[4], b[5], b[6], b[7]
    )
}

fn eth_masked(out: &mut Vec<String>, name: &str, v: u64, m: u64) {
    if m == 0 {
        return;
    }
    if m == 0xffff_ffff_ffff {
        out.push(format!("{name}={}", mac(v)));
    } else {
        out.push(format!("{name}={}/{}", mac(v & m), mac(m)));
    }
}

fn ip_masked(out: &mut Vec<String>, name: &str, v: u32, m: u32, dotted_mask: bool) {
    if m == 0 {
        return;
    }
    let a = Ipv4Addr::from(v & m);
    if m == u32::MAX {
        out.push(format!("{name}={a}"));
    } else if m.leading_ones() + m.trailing_zeros() == 32 && !dotted_mask {
        out.push(format!("{name}={a}/{}", m.leading_ones()));
    } else {
        out.push(format!("{name}={a}/{}", Ipv4Addr::from(m)));
    }
}

fn ipv6_masked(out: &mut Vec<String>, name: &str, v: u128, m: u128, dotted_mask: bool) {
    if m == 0 {
        return;
    }
    let a = ipv6_str(v & m);
    if m == u128::MAX {
        out.push(format!("{name}={a}"));
    } else if m.leading_ones() + m.trailing_zeros() == 128 && !dotted_mask {
        out.push(format!("{name}={a}/{}", m.leading_ones()));
    } else {
        out.push(format!("{name}={a}/{}", ipv6_str(m)));
    }
}

/// An IPv6 address as glibc's `inet_ntop` (so Open vSwitch) prints it: as
/// Rust does, except that an address whose first 96 bits are zero and whose
/// last 32 are not one zero word prints its last 32 bits dotted
/// (`::255.255.255.255`, Rust `::ffff:ffff`).
pub fn ipv6_str(a: u128) -> String {
    let w: [u16; 8] = std::array::from_fn(|i| (a >> (112 - 16 * i)) as u16);
    // glibc's rule: the longest run of zero words (first on ties, at least
    // two) starts at word 0 and is six words long.
    let (mut best, mut run) = ((0usize, 0usize), (0usize, 0usize));
    for (i, &x) in w.iter().enumerate() {
        if x == 0 {
            run = if run.1 == 0 {
                (i, 1)
            } else {
                (run.0, run.1 + 1)
            };
            if run.1 > best.1 {
                best = run;
            }
        } else {
            run = (0, 0);
        }
    }
    if best == (0, 6) {
        return format!("::{}", Ipv4Addr::from(a as u32));
    }
    Ipv6Addr::from(a).to_string()
}

/// C's `%#x`: `0` for zero, `0x..` otherwise (what OVS's printers use).
pub fn c_hex(v: impl Into<u128>) -> String {
    match v.into() {
        0 => "0".into(),
        v => format!("{v:#x}"),
    }
}

fn be16_masked(out: &mut Vec<String>, name: &str, v: u64, m: u64, full: u64) {
    if m == 0 {
        return;
    }
    if m & full == full {
        out.push(format!("{name}={v}"));
    } else {
        out.push(format!("{name}={:#x}/{:#x}", v & m, m));
    }
}

fn tcp_flags_str(v: u64, m: u64) -> String {
    let names = tcp_flag_names();
    if m & 0x0fff == 0x0fff {
        if v == 0 {
            return "0".into();
        }
        let parts: Vec<&str> = names
            .iter()
            .filter(|(_, b)| v & *b as u64 != 0)
            .map(|(n, _)| *n)
            .collect();
        return parts.join("|");
    }
    let mut s = String::new();
    for (n, b) in names {
        if m & *b as u64 != 0 {
            s.push(if v & *b as u64 != 0 { '+' } else { '-' });
            s.push_str(n);
        }
    }
    s
}

fn frag_str(v: u64, m: u64) -> Option<&'static str> {
    match m & 3 {
        3 => Some(match v & 3 {
            0 => "no",
            1 => "first",
            3 => "later",
            _ => "<error>",
        }),
        1 => Some(if v & 1 != 0 { "yes" } else { "no" }),
        2 => Some(if v & 2 != 0 { "later" } else { "not_later" }),
        _ => None,
    }
}

/// A megaflow (or any match over the datapath key) in `ovs-ofctl` syntax.
/// `megaflow` prefixes `recirc_id=0,eth,` as `ofproto/trace` does.
pub fn format_match(key: &FlowKey, mask: &FlowKey, megaflow: bool) -> String {
    format_flow_match(&Flow::from_key(key), &Flow::from_key(mask), None, megaflow)
}

/// A match over a slow-path [`Flow`] (registers and `metadata` too) as Open
/// vSwitch's `match_format()` prints it, with `priority=` first unless it is
/// `None` or the default.
pub fn format_flow_match(flow: &Flow, wc: &Flow, priority: Option<u16>, megaflow: bool) -> String {
    let (key, mask) = (&flow.key(), &wc.key());
    let g = |f: Field| key.get(f) & mask.get(f);
    let mk = |f: Field| mask.get(f);
    let mut out: Vec<String> = Vec::new();
    if let Some(p) = priority.filter(|&p| p != DEFAULT_PRIORITY) {
        out.push(format!("priority={p}"));
    }
    if megaflow || wc.w[RECIRC_ID_WORD] != 0 {
        // OVS prints the packet type `eth` after a recirc_id.
        out.push(format!("recirc_id={}", c_hex(flow.w[RECIRC_ID_WORD])));
        out.push("eth".into());
    }
    if wc.conj_id() != 0 {
        out.push(format!("conj_id={}", flow.conj_id()));
    }
    let dl = key.get(Field::DlType) as u16;
    let dl_exact = mk(Field::DlType) == 0xffff;
    let proto = key.get(Field::NwProto) as u8;
    let proto_exact = mk(Field::NwProto) == 0xff;
    let (mut skip_type, mut skip_proto) = (false, false);
    let is4 = dl_exact && dl == eth_type::IP;
    let is6 = dl_exact && dl == eth_type::IPV6;
    let isarp = dl_exact && dl == eth_type::ARP;
    if dl_exact {
        skip_type = true;
        if is4 || is6 {
            let name = if proto_exact {
                skip_proto = true;
                match (is6, proto) {
                    (false, ip_proto::ICMP) => "icmp",
                    (false, ip_proto::TCP) => "tcp",
                    (false, ip_proto::UDP) => "udp",
                    (false, ip_proto::SCTP) => "sctp",
                    (true, ip_proto::ICMPV6) => "icmp6",
                    (true, ip_proto::TCP) => "tcp6",
                    (true, ip_proto::UDP) => "udp6",
                    (true, ip_proto::SCTP) => "sctp6",
                    _ => {
                        skip_proto = false;
                        if is6 {
                            "ipv6"
                        } else {
                            "ip"
                        }
                    }
                }
            } else if is6 {
                "ipv6"
            } else {
                "ip"
            };
            out.push(name.into());
        } else if isarp {
            out.push("arp".into());
        } else if let Some(n) = match dl {
            eth_type::RARP => Some("rarp"),
            eth_type::MPLS => Some("mpls"),
            eth_type::MPLS_MCAST => Some("mplsm"),
            _ => None,
        } {
            out.push(n.into());
        } else {
            skip_type = false;
        }
    }
    for i in 0..N_REGS {
        let (v, m) = (flow.reg(i), wc.reg(i));
        if m == u32::MAX {
            out.push(format!("reg{i}={}", c_hex(v)));
        } else if m != 0 {
            out.push(format!("reg{i}={}/{}", c_hex(v & m), c_hex(m)));
        }
    }
    for (name, v, m) in [
        ("tun_id", flow.tun_id(), wc.tun_id()),
        ("metadata", flow.metadata(), wc.metadata()),
    ] {
        if m == u64::MAX {
            out.push(format!("{name}={}", c_hex(v)));
        } else if m != 0 {
            out.push(format!("{name}={}/{}", c_hex(v & m), c_hex(m)));
        }
    }
    if mk(Field::InPort) != 0 {
        out.push(format!("in_port={}", format_port(g(Field::InPort) as u32)));
    }
    // Tags print as dl_vlan/vlan_tci, then dl_vlan1/vlan_tci1, stopping at
    // the first tag the match ignores (as `match_format()`). Megaflows show
    // the outer tag only: with OVS's default vlan-limit of 1 its megaflows
    // never hold a second one (the datapath form shows both).
    let tags: &[(Field, &str)] = if megaflow {
        &[(Field::VlanTci, "")]
    } else {
        &[(Field::VlanTci, ""), (Field::VlanTci2, "1")]
    };
    for &(f, n) in tags {
        let tm = mk(f);
        if tm == 0 {
            break;
        }
        let tv = key.get(f);
        let (vid_m, pcp_m) = (tm & 0x0fff, tm & 0xe000);
        let cfi = tm & VLAN_PRESENT as u64;
        if cfi != 0
            && tv & VLAN_PRESENT as u64 != 0
            && (vid_m == 0 || vid_m == 0x0fff)
            && (pcp_m == 0 || pcp_m == 0xe000)
            && (vid_m != 0 || pcp_m != 0)
        {
            if vid_m != 0 {
                out.push(format!("dl_vlan{n}={}", tv & 0x0fff));
            }
            if pcp_m != 0 {
                out.push(format!("dl_vlan_pcp{n}={}", tv >> 13));
            }
        } else if tm == 0xffff {
            out.push(format!("vlan_tci{n}={:#06x}", tv));
        } else {
            out.push(format!("vlan_tci{n}={:#06x}/{:#06x}", tv & tm, tm));
        }
    }
    eth_masked(&mut out, "dl_src", key.get(Field::DlSrc), mk(Field::DlSrc));
    eth_masked(&mut out, "dl_dst", key.get(Field::DlDst), mk(Field::DlDst));
    if !skip_type && mk(Field::DlType) != 0 {
        if dl_exact {
            out.push(format!("dl_type={:#06x}", dl));
        } else {
            out.push(format!(
                "dl_type={:#06x}/{:#06x}",
                g(Field::DlType),
                mk(Field::DlType)
            ));
        }
    }
    if is6 {
        ipv6_masked(&mut out, "ipv6_src", key.ipv6_src(), mask.ipv6_src(), false);
        ipv6_masked(&mut out, "ipv6_dst", key.ipv6_dst(), mask.ipv6_dst(), false);
    } else if isarp {
        ip_masked(
            &mut out,
            "arp_spa",
            key.get(Field::NwSrc) as u32,
            mk(Field::NwSrc) as u32,
            false,
        );
        ip_masked(
            &mut out,
            "arp_tpa",
            key.get(Field::NwDst) as u32,
            mk(Field::NwDst) as u32,
            false,
        );
    } else {
        ip_masked(
            &mut out,
            "nw_src",
            key.get(Field::NwSrc) as u32,
            mk(Field::NwSrc) as u32,
            false,
        );
        ip_masked(
            &mut out,
            "nw_dst",
            key.get(Field::NwDst) as u32,
            mk(Field::NwDst) as u32,
            false,
        );
    }
    if !skip_proto && mk(Field::NwProto) != 0 {
        out.push(format!(
            "{}={}",
            if isarp { "arp_op" } else { "nw_proto" },
            g(Field::NwProto)
        ));
    }
    if isarp {
        eth_masked(
            &mut out,
            "arp_sha",
            key.get(Field::ArpSha),
            mk(Field::ArpSha),
        );
        eth_masked(
            &mut out,
            "arp_tha",
            key.get(Field::ArpTha),
            mk(Field::ArpTha),
        );
    }
    if mk(Field::NwTos) & 0xfc != 0 {
        out.push(format!("nw_tos={}", key.get(Field::NwTos) & 0xfc));
    }
    if mk(Field::NwTos) & 0x03 != 0 {
        out.push(format!("nw_ecn={}", key.get(Field::NwTos) & 0x03));
    }
    if mk(Field::NwTtl) != 0 {
        out.push(format!("nw_ttl={}", key.get(Field::NwTtl)));
    }
    if let Some(s) = frag_str(key.get(Field::NwFrag), mk(Field::NwFrag)) {
        out.push(format!("nw_frag={s}"));
    }
    let icmp = (is4 && proto == ip_proto::ICMP) || (is6 && proto == ip_proto::ICMPV6);
    if icmp {
        be16_masked(
            &mut out,
            "icmp_type",
            g(Field::TpSrc),
            mk(Field::TpSrc),
            0xff,
        );
        be16_masked(
            &mut out,
            "icmp_code",
            g(Field::TpDst),
            mk(Field::TpDst),
            0xff,
        );
        if is6 {
            // As OVS's match_format: ND fields of any ICMPv6 match, where
            // masked (a megaflow can hold `nd_target=::` for another type).
            ipv6_masked(
                &mut out,
                "nd_target",
                key.nd_target(),
                mask.nd_target(),
                false,
            );
            eth_masked(&mut out, "nd_sll", key.get(Field::NdSll), mk(Field::NdSll));
            eth_masked(&mut out, "nd_tll", key.get(Field::NdTll), mk(Field::NdTll));
        }
    } else {
        be16_masked(
            &mut out,
            "tp_src",
            g(Field::TpSrc),
            mk(Field::TpSrc),
            0xffff,
        );
        be16_masked(
            &mut out,
            "tp_dst",
            g(Field::TpDst),
            mk(Field::TpDst),
            0xffff,
        );
    }
    if (is4 || is6) && proto == ip_proto::TCP && mk(Field::TcpFlags) != 0 {
        out.push(format!(
            "tcp_flags={}",
            tcp_flags_str(g(Field::TcpFlags), mk(Field::TcpFlags))
        ));
    }
    out.join(",")
}

fn dp_num(v: u64, m: u64, full: u64) -> String {
    if m & full == full {
        format!("{v}")
    } else {
        format!("{}/{:#x}", v & m, m)
    }
}

/// IGMP, whose type and code OVS keeps in the transport ports.
const IGMP: u8 = 2;

/// The fields a packet of this flow has, all exact: Open vSwitch's
/// `flow_wildcards_init_for_packet()` (no IP fields for ARP, no ports for
/// protocols without them, registers and metadata only when non-zero).
pub fn packet_mask(flow: &Flow) -> Flow {
    let mut m = Flow::ZERO;
    let ones = |m: &mut Flow, f: Field| m.set(f, u64::MAX);
    for f in [
        Field::InPort,
        Field::DlType,
        Field::DlDst,
        Field::DlSrc,
        Field::VlanTci,
    ] {
        ones(&mut m, f);
    }
    // The first zero tag is shown; tags after it are not.
    if flow.get(Field::VlanTci) != 0 {
        ones(&mut m, Field::VlanTci2);
    }
    if flow.metadata() != 0 {
        m.w[METADATA_WORD] = u64::MAX;
    }
    if flow.tun_id() != 0 {
        m.w[TUN_ID_WORD] = u64::MAX;
    }
    if flow.w[RECIRC_ID_WORD] != 0 {
        m.w[RECIRC_ID_WORD] = u64::MAX;
    }
    for i in 0..N_REGS {
        if flow.reg(i) != 0 {
            m.w[REGS_WORD + i / 2] |= u64::from(u32::MAX) << reg_shift(i);
        }
    }
    let dl = flow.get(Field::DlType) as u16;
    let proto = flow.get(Field::NwProto) as u8;
    if dl == eth_type::IP || dl == eth_type::IPV6 {
        for f in IP_FIELDS {
            ones(&mut m, f);
        }
        let icmp = (dl == eth_type::IP && proto == ip_proto::ICMP)
            || (dl == eth_type::IPV6 && proto == ip_proto::ICMPV6);
        // Later fragments have no transport header.
        let later = flow.get(Field::NwFrag) & 2 != 0;
        if !later
            && (icmp || matches!(proto, ip_proto::TCP | ip_proto::UDP | ip_proto::SCTP | IGMP))
        {
            ones(&mut m, Field::TpSrc);
            ones(&mut m, Field::TpDst);
        }
        if proto == ip_proto::TCP && !later {
            ones(&mut m, Field::TcpFlags);
        }
        let (ty, code) = (flow.get(Field::TpSrc) as u8, flow.get(Field::TpDst) as u8);
        if !later && abi::parser::is_nd(dl == eth_type::IPV6, proto, ty, code) {
            for f in [
                Field::NdTargetHi,
                Field::NdTargetLo,
                Field::NdSll,
                Field::NdTll,
            ] {
                ones(&mut m, f);
            }
        }
    } else if dl == eth_type::ARP || dl == eth_type::RARP {
        for f in [
            Field::NwProto,
            Field::NwSrc,
            Field::NwDst,
            Field::ArpSha,
            Field::ArpTha,
        ] {
            ones(&mut m, f);
        }
    }
    m
}

/// A flow as `ofproto/trace` prints it on its `Flow:` line (`flow_format()`).
pub fn format_flow(flow: &Flow) -> String {
    let s = format_flow_match(flow, &packet_mask(flow), None, false);
    if flow.get(Field::DlType) as u16 != eth_type::IPV6 {
        return s;
    }
    // The key has no flow label, and a trace flow cannot set one: it is 0.
    let mut parts: Vec<&str> = s.split(',').collect();
    if let Some(i) = parts.iter().position(|p| p.starts_with("ipv6_dst=")) {
        parts.insert(i + 1, "ipv6_label=0x00000");
    }
    parts.join(",")
}

/// A megaflow in `ovs-dpctl dump-flows` syntax (without statistics).
pub fn format_dp_flow(key: &FlowKey, mask: &FlowKey) -> String {
    let g = |f: Field| key.get(f) & mask.get(f);
    let mk = |f: Field| mask.get(f);
    let mut out: Vec<String> = vec!["recirc_id(0)".into()];
    if mk(Field::InPort) != 0 {
        out.push(format!("in_port({})", g(Field::InPort)));
    }
    let mut eth = Vec::new();
    eth_masked(&mut eth, "src", key.get(Field::DlSrc), mk(Field::DlSrc));
    eth_masked(&mut eth, "dst", key.get(Field::DlDst), mk(Field::DlDst));
    if !eth.is_empty() {
        out.push(format!("eth({})", eth.join(",")));
    }
    // Tags print as Open vSwitch does: each present tag is `vlan(...)`
    // followed by `encap(...)` holding what is inside it. The key has no
    // TPID (802.1Q and 802.1ad tags match alike), so no outer `eth_type` is
    // printed for a tag. A mask on an absent tag prints as `vlan(none)`.
    let mut tags: Vec<String> = Vec::new();
    for f in [Field::VlanTci, Field::VlanTci2] {
        let m = mk(f);
        if m == 0 {
            continue;
        }
        let v = key.get(f);
        if v & VLAN_PRESENT as u64 == 0 {
            if m & VLAN_PRESENT as u64 != 0 {
                out.push("vlan(none)".into());
            }
            break;
        }
        let mut p = Vec::new();
        if m & 0x0fff != 0 {
            p.push(format!("vid={}", dp_num(v & 0x0fff, m & 0x0fff, 0x0fff)));
        }
        if m & 0xe000 != 0 {
            p.push(format!("pcp={}", dp_num(v >> 13, m >> 13, 7)));
        }
        tags.push(format!("vlan({})", p.join(",")));
    }
    let outer = std::mem::take(&mut out);
    let dl = key.get(Field::DlType) as u16;
    if mk(Field::DlType) != 0 {
        out.push(format!("eth_type({:#06x})", dl));
    }
    let proto = key.get(Field::NwProto) as u8;
    let frag = frag_str(key.get(Field::NwFrag), mk(Field::NwFrag));
    let l3_common = |p: &mut Vec<String>, tos: &str, ttl: &str| {
        if mk(Field::NwProto) != 0 {
            p.push(format!("proto={}", g(Field::NwProto)));
        }
        if mk(Field::NwTos) != 0 {
            if mk(Field::NwTos) == 0xff {
                p.push(format!("{tos}={:#x}", g(Field::NwTos)));
            } else {
                p.push(format!(
                    "{tos}={:#x}/{:#x}",
                    g(Field::NwTos),
                    mk(Field::NwTos)
                ));
            }
        }
        if mk(Field::NwTtl) != 0 {
            p.push(format!(
                "{ttl}={}",
                dp_num(g(Field::NwTtl), mk(Field::NwTtl), 0xff)
            ));
        }
        if let Some(fr) = frag {
            p.push(format!("frag={fr}"));
        }
    };
    let l4 = dl == eth_type::IP || dl == eth_type::IPV6;
    if dl == eth_type::IP {
        let mut p = Vec::new();
        ip_masked(
            &mut p,
            "src",
            key.get(Field::NwSrc) as u32,
            mk(Field::NwSrc) as u32,
            true,
        );
        ip_masked(
            &mut p,
            "dst",
            key.get(Field::NwDst) as u32,
            mk(Field::NwDst) as u32,
            true,
        );
        l3_common(&mut p, "tos", "ttl");
        if !p.is_empty() {
            out.push(format!("ipv4({})", p.join(",")));
        }
    } else if dl == eth_type::IPV6 {
        let mut p = Vec::new();
        ipv6_masked(&mut p, "src", key.ipv6_src(), mask.ipv6_src(), true);
        ipv6_masked(&mut p, "dst", key.ipv6_dst(), mask.ipv6_dst(), true);
        l3_common(&mut p, "tclass", "hlimit");
        if !p.is_empty() {
            out.push(format!("ipv6({})", p.join(",")));
        }
    } else if dl == eth_type::ARP {
        let mut p = Vec::new();
        ip_masked(
            &mut p,
            "sip",
            key.get(Field::NwSrc) as u32,
            mk(Field::NwSrc) as u32,
            true,
        );
        ip_masked(
            &mut p,
            "tip",
            key.get(Field::NwDst) as u32,
            mk(Field::NwDst) as u32,
            true,
        );
        if mk(Field::NwProto) != 0 {
            p.push(format!("op={}", g(Field::NwProto)));
        }
        eth_masked(&mut p, "sha", key.get(Field::ArpSha), mk(Field::ArpSha));
        eth_masked(&mut p, "tha", key.get(Field::ArpTha), mk(Field::ArpTha));
        if !p.is_empty() {
            out.push(format!("arp({})", p.join(",")));
        }
    }
    if l4 && (mk(Field::TpSrc) != 0 || mk(Field::TpDst) != 0) {
        let icmp = (dl == eth_type::IP && proto == ip_proto::ICMP)
            || (dl == eth_type::IPV6 && proto == ip_proto::ICMPV6);
        let (name, a, b, full) = match proto {
            ip_proto::TCP => ("tcp", "src", "dst", 0xffff),
            ip_proto::UDP => ("udp", "src", "dst", 0xffff),
            ip_proto::SCTP => ("sctp", "src", "dst", 0xffff),
            _ if icmp && dl == eth_type::IP => ("icmp", "type", "code", 0xff),
            _ if icmp => ("icmpv6", "type", "code", 0xff),
            _ => ("l4", "src", "dst", 0xffff),
        };
        let mut p = Vec::new();
        if mk(Field::TpSrc) != 0 {
            p.push(format!(
                "{a}={}",
                dp_num(g(Field::TpSrc), mk(Field::TpSrc), full)
            ));
        }
        if mk(Field::TpDst) != 0 {
            p.push(format!(
                "{b}={}",
                dp_num(g(Field::TpDst), mk(Field::TpDst), full)
            ));
        }
        out.push(format!("{name}({})", p.join(",")));
    }
    let nd_mask = mask.nd_target() != 0 || mk(Field::NdSll) != 0 || mk(Field::NdTll) != 0;
    if dl == eth_type::IPV6 && proto == ip_proto::ICMPV6 && nd_mask {
        let mut p = Vec::new();
        ipv6_masked(&mut p, "target", key.nd_target(), mask.nd_target(), true);
        eth_masked(&mut p, "sll", key.get(Field::NdSll), mk(Field::NdSll));
        eth_masked(&mut p, "tll", key.get(Field::NdTll), mk(Field::NdTll));
        out.push(format!("nd({})", p.join(",")));
    }
    if l4 && proto == ip_proto::TCP && mk(Field::TcpFlags) != 0 {
        out.push(format!(
            "tcp_flags({})",
            tcp_flags_str(g(Field::TcpFlags), mk(Field::TcpFlags))
        ));
    }
    let mut inner = out.join(",");
    for tag in tags.iter().rev() {
        inner = format!("{tag},encap({inner})");
    }
    let mut all = outer;
    if !inner.is_empty() {
        all.push(inner);
    }
    all.join(",")
}

/// The text `ovs-appctl ofproto/trace` prints for `flow` through `of`: the
/// rule matched in each table, the final flow, the megaflow and the
/// datapath actions.
pub fn trace_report(of: &super::OfProto, flow: &super::Flow) -> String {
    use std::fmt::Write as _;
    let key = flow.key();
    let t = of.translate_flow(flow, true);
    let mut o = String::new();
    let _ = writeln!(o, "Flow: {}", format_flow(flow));
    let _ = writeln!(o);
    let _ = writeln!(o, "bridge(\"br0\")");
    let _ = writeln!(o, "-------------");
    for l in &t.trace {
        let _ = writeln!(o, " {l}");
    }
    let _ = writeln!(o);
    if t.final_flow == *flow {
        let _ = writeln!(o, "Final flow: unchanged");
    } else {
        let _ = writeln!(o, "Final flow: {}", format_flow(&t.final_flow));
    }
    // The megaflow is exact on the flow's recirc_id (0 for every packet).
    let (mut mflow, mut mmask) = (Flow::from_key(&key), Flow::from_key(&t.mask));
    mflow.w[RECIRC_ID_WORD] = flow.w[RECIRC_ID_WORD];
    mmask.w[RECIRC_ID_WORD] = u64::MAX;
    let _ = writeln!(
        o,
        "Megaflow: {}",
        format_flow_match(&mflow, &mmask, None, true)
    );
    let _ = writeln!(
        o,
        "Datapath actions: {}",
        crate::odp::format_actions(&t.actions)
    );
    if let Some(e) = &t.error {
        let _ = writeln!(o, "Translation failed ({e}): the megaflow drops.");
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_print_as_glibc() {
        // Expected strings from glibc's inet_ntop.
        for (a, want) in [
            ("::ffff:ffff", "::255.255.255.255"),
            ("::1:2", "::0.1.0.2"),
            ("::2020", "::2020"),
            ("::100", "::100"),
            ("::", "::"),
            ("::1", "::1"),
            ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
            ("::1:0:0:0", "::1:0:0:0"),
            ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
            ("0:0:0:a::", "0:0:0:a::"),
        ] {
            let v = u128::from(a.parse::<Ipv6Addr>().unwrap_or(Ipv6Addr::UNSPECIFIED));
            assert_eq!(ipv6_str(v), want, "{a}");
        }
    }

    #[test]
    fn ofctl_and_dpctl_forms() {
        let mut k = FlowKey::ZERO;
        k.set(Field::InPort, 1);
        k.set(Field::DlType, 0x0800);
        k.set(Field::NwSrc, 0x0a00_0002);
        k.set(Field::NwProto, 6);
        k.set(Field::TpDst, 79);
        let mut m = FlowKey::ZERO;
        m.set(Field::InPort, u64::MAX);
        m.set(Field::DlType, u64::MAX);
        m.set(Field::NwFrag, u64::MAX);
        m.set(Field::NwSrc, 0xffff_fffc);
        assert_eq!(
            format_match(&k, &m, true),
            "recirc_id=0,eth,ip,in_port=1,nw_src=10.0.0.0/30,nw_frag=no"
        );
        assert_eq!(
            format_dp_flow(&k, &m),
            "recirc_id(0),in_port(1),eth_type(0x0800),ipv4(src=10.0.0.0/255.255.255.252,frag=no)"
        );
        m.set(Field::NwProto, u64::MAX);
        m.set(Field::TpDst, 0xfff0);
        assert_eq!(
            format_match(&k, &m, true),
            "recirc_id=0,eth,tcp,in_port=1,nw_src=10.0.0.0/30,nw_frag=no,tp_dst=0x40/0xfff0"
        );
        assert!(format_dp_flow(&k, &m).ends_with("tcp(dst=64/0xfff0)"));
        // A tagged flow nests what is inside the tag in `encap(...)`.
        k.set(Field::VlanTci, (VLAN_PRESENT | 10) as u64);
        m.set(Field::VlanTci, 0x1fff);
        assert_eq!(
            format_dp_flow(&k, &m),
            "recirc_id(0),in_port(1),vlan(vid=10),encap(eth_type(0x0800),\
             ipv4(src=10.0.0.0/255.255.255.252,proto=6,frag=no),tcp(dst=64/0xfff0))"
        );
        k.set(Field::VlanTci2, (VLAN_PRESENT | (3 << 13) | 20) as u64);
        m.set(Field::VlanTci2, 0xffff);
        assert!(format_dp_flow(&k, &m).starts_with(
            "recirc_id(0),in_port(1),vlan(vid=10),encap(vlan(vid=20,pcp=3),encap(eth_type(0x0800),"
        ));
        k.set(Field::VlanTci, 0);
        k.set(Field::VlanTci2, 0);
        assert!(format_dp_flow(&k, &m).contains("in_port(1),vlan(none),eth_type(0x0800)"));
    }
}
