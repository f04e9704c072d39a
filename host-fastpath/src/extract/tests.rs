//! Extract tests: crafted frames with every field asserted against the value
//! put in, one test per malformed case, property tests over arbitrary bytes
//! and a differential test against etherparse.

use super::frame::*;
use super::parse::*;
use super::*;
use abi::key::{FRAG_ANY, FRAG_LATER, VLAN_PRESENT};
use abi::Field::{self, *};
use proptest::prelude::*;

#[path = "../../benches/support/etherparse_key.rs"]
mod etherparse_key;

const DST: u64 = 0x5054_0000_0009;
const SRC: u64 = 0x0200_0a0b_0c0d;
const PORT: u32 = 7;
const V6A: u128 = 0x2001_0db8_0000_0001_0000_0000_0000_00aa;
const V6B: u128 = 0xfe80_0000_0000_0000_0250_56ff_fe00_0001;

fn ex(f: &[u8]) -> (FlowKey, HeaderOffsets, ExtractStats) {
    let mut s = ExtractStats::default();
    let (k, o) = miniflow_extract_with_offsets(f, PORT, &mut s);
    assert_eq!(s.frames, 1);
    (k, o, s)
}

/// Asserts that exactly the named malformed counter is 1 (or none if `None`).
fn only_reason(s: &ExtractStats, reason: Option<&str>) {
    for (name, v) in s.iter() {
        if name == "frames" || name == "bad_ip_version" {
            continue;
        }
        let want = u64::from(Some(name) == reason);
        assert_eq!(
            v, want,
            "counter {name} (expected reason {reason:?}) in {s:?}"
        );
    }
}

/// Asserts every field of `k` against `(field, value)` pairs; all fields not
/// listed must be zero (aliases are checked through their wider field).
fn assert_fields(k: &FlowKey, want: &[(Field, u64)]) {
    let mut expect = FlowKey::ZERO;
    for &(f, v) in want {
        expect.set(f, v);
    }
    for f in Field::ALL {
        assert_eq!(k.get(f), expect.get(f), "field {f:?}: key {k:?}");
    }
}

fn eth(vlans: &[(u16, u16)], ty: u16, payload: &[u8]) -> Vec<u8> {
    ethernet(DST, SRC, vlans, ty, payload)
}

fn l2(ty: u64) -> Vec<(Field, u64)> {
    vec![
        (InPort, PORT as u64),
        (DlDst, DST),
        (DlSrc, SRC),
        (DlType, ty),
    ]
}

fn with(mut base: Vec<(Field, u64)>, more: &[(Field, u64)]) -> Vec<(Field, u64)> {
    base.extend_from_slice(more);
    base
}

fn v4(proto: u8) -> Ipv4 {
    let mut h = Ipv4::new(0x0a00_0002, 0xc0a8_0101, proto);
    h.tos = 0xb9;
    h.ttl = 17;
    h
}

fn v4_fields(proto: u8) -> Vec<(Field, u64)> {
    with(
        l2(0x0800),
        &[
            (NwSrc, 0x0a00_0002),
            (NwDst, 0xc0a8_0101),
            (NwTos, 0xb9),
            (NwTtl, 17),
            (NwProto, proto as u64),
        ],
    )
}

fn v6(next: u8) -> Ipv6 {
    let mut h = Ipv6::new(V6A, V6B, next);
    h.tclass = 0x2e;
    h.flow_label = 0xabcde;
    h.hop_limit = 200;
    h
}

fn v6_fields(proto: u8) -> Vec<(Field, u64)> {
    with(
        l2(0x86dd),
        &[
            (Ipv6SrcHi, (V6A >> 64) as u64),
            (Ipv6SrcLo, V6A as u64),
            (Ipv6DstHi, (V6B >> 64) as u64),
            (Ipv6DstLo, V6B as u64),
            (NwTos, 0x2e),
            (NwTtl, 200),
            (NwProto, proto as u64),
        ],
    )
}

// ---------------------------------------------------------------- well formed

#[test]
fn ipv4_udp_every_field_and_offsets() {
    let f = eth(&[], 0x0800, &ipv4(&v4(17), &udp(1024, 53, &[0; 22])));
    assert_eq!(f.len(), 64);
    let (k, o, s) = ex(&f);
    assert_fields(&k, &with(v4_fields(17), &[(TpSrc, 1024), (TpDst, 53)]));
    only_reason(&s, None);
    assert_eq!(o.vlan, [None, None]);
    assert_eq!(
        (o.eth_type, o.l3, o.l4, o.l3_end),
        (12, Some(14), Some(34), Some(64))
    );
}

#[test]
fn ipv4_tcp_flags_keep_12_bits_and_options_are_skipped() {
    let mut h = v4(6);
    h.options = vec![1, 1, 1, 1, 0x94, 4, 0, 0]; // NOPs + router alert: IHL 7
    let f = eth(
        &[],
        0x0800,
        &ipv4(&h, &tcp(443, 51000, 0x0fff, &[2, 4, 5, 0xb4], b"hi")),
    );
    let (k, o, s) = ex(&f);
    assert_fields(
        &k,
        &with(
            v4_fields(6),
            &[(TpSrc, 443), (TpDst, 51000), (TcpFlags, 0x0fff)],
        ),
    );
    only_reason(&s, None);
    assert_eq!((o.l3, o.l4), (Some(14), Some(14 + 28)));
    // NS (0x100) alone, SYN|ACK alone.
    for flags in [0x100, 0x012] {
        let f = eth(&[], 0x0800, &ipv4(&v4(6), &tcp(1, 2, flags, &[], &[])));
        assert_eq!(ex(&f).0.get(TcpFlags), flags as u64);
    }
}

#[test]
fn ipv4_sctp_icmp() {
    let f = eth(&[], 0x0800, &ipv4(&v4(132), &sctp(2905, 2906, &[0; 16])));
    let (k, _, s) = ex(&f);
    assert_fields(&k, &with(v4_fields(132), &[(TpSrc, 2905), (TpDst, 2906)]));
    only_reason(&s, None);

    let f = eth(&[], 0x0800, &ipv4(&v4(1), &icmp(3, 13, &[0; 28])));
    let (k, _, s) = ex(&f);
    assert_fields(&k, &with(v4_fields(1), &[(TpSrc, 3), (TpDst, 13)]));
    only_reason(&s, None);
}

#[test]
fn ipv4_unknown_protocol_has_no_ports() {
    let f = eth(&[], 0x0800, &ipv4(&v4(47), &[0x12; 24]));
    let (k, o, s) = ex(&f);
    assert_fields(&k, &v4_fields(47));
    only_reason(&s, None);
    assert_eq!(o.l4, Some(34));
}

#[test]
fn ipv4_fragments() {
    // First fragment (MF, offset 0): a fragment, L4 parsed.
    let mut h = v4(17);
    h.frag = 0x2000;
    let (k, _, s) = ex(&eth(&[], 0x0800, &ipv4(&h, &udp(5, 6, &[0; 8]))));
    assert_fields(
        &k,
        &with(
            v4_fields(17),
            &[(NwFrag, FRAG_ANY as u64), (TpSrc, 5), (TpDst, 6)],
        ),
    );
    only_reason(&s, None);
    // DF alone is not a fragment.
    h.frag = 0x4000;
    let (k, _, _) = ex(&eth(&[], 0x0800, &ipv4(&h, &udp(5, 6, &[]))));
    assert_eq!(k.get(NwFrag), 0);
    // Middle and last fragments: later, no L4 even though the bytes look like UDP.
    for frag in [0x2000 | 185, 185] {
        h.frag = frag;
        let (k, o, s) = ex(&eth(&[], 0x0800, &ipv4(&h, &udp(5, 6, &[0; 8]))));
        assert_fields(
            &k,
            &with(v4_fields(17), &[(NwFrag, (FRAG_ANY | FRAG_LATER) as u64)]),
        );
        only_reason(&s, None);
        assert_eq!(o.l4, Some(34));
    }
}

#[test]
fn ipv6_tcp_with_every_extension_header() {
    let l4 = tcp(80, 40000, 0x018, &[], b"GET /");
    let ah = ipv6_ah(IPPROTO_TCP, 4, &l4); // 24 bytes
    let dst = ipv6_opts(IPPROTO_AH, 0, &ah); // 8
    let rt = ipv6_opts(IPPROTO_DSTOPTS, 2, &dst); // 24
    let hbh = ipv6_opts(IPPROTO_ROUTING, 1, &rt); // 16
    let f = eth(&[], 0x86dd, &ipv6(&v6(IPPROTO_HOPOPTS), &hbh));
    let (k, o, s) = ex(&f);
    assert_fields(
        &k,
        &with(
            v6_fields(6),
            &[(TpSrc, 80), (TpDst, 40000), (TcpFlags, 0x018)],
        ),
    );
    only_reason(&s, None);
    assert_eq!((o.l3, o.l4), (Some(14), Some(14 + 40 + 16 + 24 + 8 + 24)));
    assert_eq!(o.l3_end, Some(f.len() as u16));
}

#[test]
fn ipv6_udp_sctp_icmpv6() {
    let (k, _, s) = ex(&eth(&[], 0x86dd, &ipv6(&v6(17), &udp(546, 547, &[1; 10]))));
    assert_fields(&k, &with(v6_fields(17), &[(TpSrc, 546), (TpDst, 547)]));
    only_reason(&s, None);
    let (k, _, _) = ex(&eth(&[], 0x86dd, &ipv6(&v6(132), &sctp(1, 65535, &[]))));
    assert_fields(&k, &with(v6_fields(132), &[(TpSrc, 1), (TpDst, 65535)]));
    let (k, _, s) = ex(&eth(&[], 0x86dd, &ipv6(&v6(58), &icmp(135, 0, &[0; 16]))));
    assert_fields(&k, &with(v6_fields(58), &[(TpSrc, 135), (TpDst, 0)]));
    only_reason(&s, None);
}

#[test]
fn neighbour_discovery_target_and_link_layer_options() {
    let target = V6B.to_be_bytes();
    let opt = |ty: u8, mac: u64| {
        let mut o = vec![ty, 1];
        o.extend(&mac.to_be_bytes()[2..]);
        o
    };
    let nd = |ty: u8, code: u8, opts: &[Vec<u8>]| {
        let mut body = target.to_vec();
        for o in opts {
            body.extend(o);
        }
        ex(&eth(&[], 0x86dd, &ipv6(&v6(58), &icmp(ty, code, &body)))).0
    };
    let base = |ty| with(v6_fields(58), &[(TpSrc, ty), (TpDst, 0)]);
    let nd_fields = |ty, sll, tll| {
        with(
            base(ty),
            &[
                (NdTargetHi, (V6B >> 64) as u64),
                (NdTargetLo, V6B as u64),
                (NdSll, sll),
                (NdTll, tll),
            ],
        )
    };
    // A solicitation with its source option, an unknown option skipped.
    let k = nd(135, 0, &[vec![14, 1, 0, 0, 0, 0, 0, 0], opt(1, SRC)]);
    assert_fields(&k, &nd_fields(135, SRC, 0));
    // An advertisement with both options, as OVS 3.1 (either type takes both).
    let k = nd(136, 0, &[opt(2, DST), opt(1, SRC)]);
    assert_fields(&k, &nd_fields(136, SRC, DST));
    // A repeated option: OVS calls the body invalid and keeps no ND field.
    let k = nd(135, 0, &[opt(1, SRC), opt(1, DST)]);
    assert_fields(&k, &base(135));
    // A zero-length option ends the walk with what was found.
    let k = nd(
        135,
        0,
        &[opt(2, DST), vec![1, 0, 0, 0, 0, 0, 0, 0], opt(1, SRC)],
    );
    assert_fields(&k, &nd_fields(135, 0, DST));
    // Code 1 is not ND; after IPv4 neither.
    let k = nd(135, 1, &[opt(1, SRC)]);
    assert_fields(&k, &with(v6_fields(58), &[(TpSrc, 135), (TpDst, 1)]));
    let (k, _, _) = ex(&eth(
        &[],
        0x0800,
        &ipv4(&Ipv4::new(1, 2, 58), &icmp(135, 0, &target)),
    ));
    assert!(!k.has_host_only_bits());
    // A target cut short: no ND field, nothing counted.
    let (k, _, s) = ex(&eth(
        &[],
        0x86dd,
        &ipv6(&v6(58), &icmp(135, 0, &target[..15])),
    ));
    assert_fields(&k, &base(135));
    only_reason(&s, None);
}

#[test]
fn ipv6_fragments() {
    // First fragment (M set, offset 0): fragment, final proto, L4 parsed.
    let first = ipv6_frag(IPPROTO_UDP, 0, true, &udp(7, 8, &[0; 8]));
    let (k, o, s) = ex(&eth(&[], 0x86dd, &ipv6(&v6(IPPROTO_FRAGMENT), &first)));
    assert_fields(
        &k,
        &with(
            v6_fields(17),
            &[(NwFrag, FRAG_ANY as u64), (TpSrc, 7), (TpDst, 8)],
        ),
    );
    only_reason(&s, None);
    assert_eq!(o.l4, Some(14 + 48));
    // Later fragment: OVS reports nw_proto 44 and no L4.
    let later = ipv6_frag(IPPROTO_UDP, 100, true, &udp(7, 8, &[0; 8]));
    let (k, _, s) = ex(&eth(&[], 0x86dd, &ipv6(&v6(IPPROTO_FRAGMENT), &later)));
    assert_fields(
        &k,
        &with(
            v6_fields(IPPROTO_FRAGMENT),
            &[(NwFrag, (FRAG_ANY | FRAG_LATER) as u64)],
        ),
    );
    only_reason(&s, None);
    // Atomic fragment (offset 0, M clear) is not a fragment.
    let atomic = ipv6_frag(IPPROTO_UDP, 0, false, &udp(7, 8, &[]));
    let (k, _, _) = ex(&eth(&[], 0x86dd, &ipv6(&v6(IPPROTO_FRAGMENT), &atomic)));
    assert_fields(&k, &with(v6_fields(17), &[(TpSrc, 7), (TpDst, 8)]));
}

#[test]
fn arp_and_rarp() {
    let sha = 0x0011_2233_4455;
    let tha = 0x66_7788_99aa;
    for ty in [ETH_TYPE_ARP, ETH_TYPE_RARP] {
        let f = eth(&[], ty, &arp(2, sha, 0x0a00_0001, tha, 0x0a00_00fe));
        let (k, o, s) = ex(&f);
        assert_fields(
            &k,
            &with(
                l2(ty as u64),
                &[
                    (NwProto, 2),
                    (NwSrc, 0x0a00_0001),
                    (NwDst, 0x0a00_00fe),
                    (ArpSha, sha),
                    (ArpTha, tha),
                ],
            ),
        );
        only_reason(&s, None);
        assert_eq!((o.l3, o.l4, o.l3_end), (Some(14), None, Some(42)));
    }
    // Opcodes above 255 are not matched: nw_proto reads 0, the rest is kept.
    let (k, _, _) = ex(&eth(&[], 0x0806, &arp(0x0101, sha, 1, tha, 2)));
    assert_eq!((k.get(NwProto), k.get(NwSrc), k.get(ArpSha)), (0, 1, sha));
}

#[test]
fn vlan_single_double_and_too_many() {
    let ip = ipv4(&v4(17), &udp(1, 2, &[]));
    // 802.1Q: PCP 5, DEI set, VID 100. The DEI bit is overwritten by "present".
    let (k, o, s) = ex(&eth(&[(0x8100, 0xb064)], 0x0800, &ip));
    assert_fields(
        &k,
        &with(
            v4_fields(17),
            &[
                (VlanTci, 0xa064 | VLAN_PRESENT as u64),
                (TpSrc, 1),
                (TpDst, 2),
            ],
        ),
    );
    only_reason(&s, None);
    assert_eq!((o.vlan, o.eth_type, o.l3), ([Some(12), None], 16, Some(18)));

    // 802.1ad outer + 802.1Q inner.
    let (k, o, s) = ex(&eth(&[(0x88a8, 0x0fff), (0x8100, 0x2005)], 0x0800, &ip));
    assert_fields(
        &k,
        &with(
            v4_fields(17),
            &[
                (VlanTci, 0x1fff),
                (VlanTci2, 0x3005),
                (TpSrc, 1),
                (TpDst, 2),
            ],
        ),
    );
    only_reason(&s, None);
    assert_eq!(
        (o.vlan, o.eth_type, o.l3),
        ([Some(12), Some(16)], 20, Some(22))
    );

    // Three tags: stop at the third TPID.
    let (k, o, s) = ex(&eth(&[(0x88a8, 1), (0x8100, 2), (0x8100, 3)], 0x0800, &ip));
    assert_fields(
        &k,
        &with(l2(0x8100), &[(VlanTci, 0x1001), (VlanTci2, 0x1002)]),
    );
    only_reason(&s, Some("too_many_vlans"));
    assert_eq!((o.vlan, o.eth_type, o.l3), ([Some(12), Some(16)], 20, None));
}

#[test]
fn truncated_vlan_stops_at_the_tpid() {
    let f = eth(&[(0x8100, 0x0064)], 0x0800, &[]);
    let (k, _, s) = ex(&f[..17]);
    assert_fields(&k, &l2(0x8100));
    only_reason(&s, Some("truncated_vlan"));
    // Exactly 6 bytes after the MACs: tag parsed, type read, nothing behind.
    let (k, _, s) = ex(&f[..18]);
    assert_fields(&k, &with(l2(0x0800), &[(VlanTci, 0x1064)]));
    only_reason(&s, Some("truncated_ipv4"));
}

#[test]
fn llc_frames() {
    // Plain 802.2 (not SNAP): FLOW_DL_TYPE_NONE.
    let (k, o, s) = ex(&eth(&[], 0x0026, &[0x42, 0x42, 0x03, 0, 0, 0, 0, 0, 0, 0]));
    assert_fields(&k, &l2(DL_TYPE_NONE as u64));
    only_reason(&s, None);
    assert_eq!(o.l3, None);
    // Too short for an LLC/SNAP header.
    let (k, _, _) = ex(&eth(&[], 0x0003, &[0xaa, 0xaa, 0x03]));
    assert_fields(&k, &l2(DL_TYPE_NONE as u64));
    // SNAP with the Ethernet OUI carries a real type, parsed as usual.
    let ip = ipv4(&v4(17), &udp(1, 2, &[]));
    let snap = llc_snap(0x0800, &ip);
    let (k, o, s) = ex(&eth(&[], snap.len() as u16, &snap));
    assert_fields(&k, &with(v4_fields(17), &[(TpSrc, 1), (TpDst, 2)]));
    only_reason(&s, None);
    assert_eq!(o.l3, Some(22));
    // SNAP with a length in the type field: none.
    let snap = llc_snap(0x0100, &ip);
    let (k, _, _) = ex(&eth(&[], snap.len() as u16, &snap));
    assert_fields(&k, &l2(DL_TYPE_NONE as u64));
}

#[test]
fn other_ethertypes_are_l2_only() {
    let (k, o, s) = ex(&eth(&[], 0x88cc, &[0; 46]));
    assert_fields(&k, &l2(0x88cc));
    only_reason(&s, None);
    assert_eq!(o.l3, None);
}

// ---------------------------------------------------------------- malformed

#[test]
fn too_short_for_ethernet() {
    for n in 0..14 {
        let f = eth(&[], 0x0800, &[]);
        let (k, o, s) = ex(&f[..n]);
        assert_fields(&k, &[(InPort, PORT as u64)]);
        only_reason(&s, Some("too_short_eth"));
        assert_eq!(o, HeaderOffsets::NONE);
    }
}

#[test]
fn bad_ipv4_headers_give_l2_only_keys() {
    let good = eth(&[], 0x0800, &ipv4(&v4(17), &udp(1, 2, &[0; 4])));
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (good[..14 + 19].to_vec(), "truncated_ipv4"),
        (
            {
                let mut f = good.clone();
                f[14] = 0x44;
                f
            },
            "bad_ipv4_ihl",
        ),
        (
            {
                let mut f = good.clone();
                f[14] = 0x4f;
                f
            },
            "truncated_ipv4",
        ),
        (
            {
                let mut f = good.clone();
                f[16..18].copy_from_slice(&100u16.to_be_bytes());
                f
            },
            "bad_ipv4_total_len",
        ),
        (
            {
                let mut f = good.clone();
                f[16..18].copy_from_slice(&19u16.to_be_bytes());
                f
            },
            "bad_ipv4_total_len",
        ),
        (good[..good.len() - 1].to_vec(), "bad_ipv4_total_len"),
    ];
    for (f, reason) in cases {
        let (k, o, s) = ex(&f);
        assert_fields(&k, &l2(0x0800));
        only_reason(&s, Some(reason));
        assert_eq!((o.l3, o.l4), (None, None), "{reason}");
    }
}

#[test]
fn bad_ip_version_is_counted_but_parsed_as_ovs_does() {
    let mut f = eth(&[], 0x0800, &ipv4(&v4(17), &udp(1, 2, &[])));
    f[14] = 0x65; // version 6, IHL 5
    let (k, _, s) = ex(&f);
    assert_fields(&k, &with(v4_fields(17), &[(TpSrc, 1), (TpDst, 2)]));
    only_reason(&s, None);
    assert_eq!(s.bad_ip_version, 1);
}

#[test]
fn bad_ipv6_headers() {
    let good = eth(&[], 0x86dd, &ipv6(&v6(17), &udp(1, 2, &[0; 4])));
    let (k, _, s) = ex(&good[..14 + 39]);
    assert_fields(&k, &l2(0x86dd));
    only_reason(&s, Some("truncated_ipv6"));
    let (k, o, s) = ex(&good[..good.len() - 1]);
    assert_fields(&k, &l2(0x86dd));
    only_reason(&s, Some("bad_ipv6_payload_len"));
    assert_eq!(o.l3, None);
}

#[test]
fn truncated_ipv6_extension_keeps_only_addresses() {
    let addrs = |k: &FlowKey| {
        (
            k.ipv6_src(),
            k.ipv6_dst(),
            k.get(NwProto),
            k.get(NwTtl),
            k.get(NwTos),
        )
    };
    // Fewer than 8 bytes of hop-by-hop header.
    let f = eth(&[], 0x86dd, &ipv6(&v6(IPPROTO_HOPOPTS), &[17, 0, 1, 2]));
    let (k, o, s) = ex(&f);
    assert_eq!(addrs(&k), (V6A, V6B, 0, 0, 0));
    assert_eq!(k.get(DlType), 0x86dd);
    only_reason(&s, Some("truncated_ipv6_ext"));
    assert_eq!((o.l3, o.l4), (Some(14), None));
    // A header whose length runs past the payload.
    let f = eth(
        &[],
        0x86dd,
        &ipv6(&v6(IPPROTO_ROUTING), &[17, 3, 0, 0, 0, 0, 0, 0, 1, 2]),
    );
    let (k, _, s) = ex(&f);
    assert_eq!(addrs(&k), (V6A, V6B, 0, 0, 0));
    only_reason(&s, Some("truncated_ipv6_ext"));
    // AH measured in 4-byte units: (1 + 2) * 4 = 12 > 10 available.
    let f = eth(
        &[],
        0x86dd,
        &ipv6(&v6(IPPROTO_AH), &[17, 1, 0, 0, 0, 0, 0, 0, 1, 2]),
    );
    only_reason(&ex(&f).2, Some("truncated_ipv6_ext"));
    // Fragment header cut short.
    let f = eth(&[], 0x86dd, &ipv6(&v6(IPPROTO_FRAGMENT), &[17, 0, 0, 0]));
    only_reason(&ex(&f).2, Some("truncated_ipv6_ext"));
}

#[test]
fn arp_truncated_or_foreign() {
    let a = arp(1, 1, 2, 3, 4);
    let (k, o, s) = ex(&eth(&[], 0x0806, &a[..27]));
    assert_fields(&k, &l2(0x0806));
    only_reason(&s, Some("truncated_arp"));
    assert_eq!(o.l3, None);
    let mut bad = a.clone();
    bad[4] = 8; // hardware address length 8
    let (k, _, s) = ex(&eth(&[], 0x0806, &bad));
    assert_fields(&k, &l2(0x0806));
    only_reason(&s, Some("bad_arp_format"));
}

/// Transport headers cut short keep the L3 fields and nothing of L4.
#[test]
fn truncated_transport_headers() {
    let cases: Vec<(u8, Vec<u8>, usize, &str)> = vec![
        (6, tcp(1, 2, 0x10, &[], &[]), 19, "truncated_tcp"),
        (17, udp(1, 2, &[]), 7, "truncated_udp"),
        (132, sctp(1, 2, &[]), 11, "truncated_sctp"),
        (1, icmp(8, 0, &[]), 7, "truncated_icmp"),
        (58, icmp(128, 0, &[]), 7, "truncated_icmpv6"),
    ];
    for (proto, l4, cut, reason) in cases {
        for v6mode in [false, true] {
            let f = if v6mode {
                eth(&[], 0x86dd, &ipv6(&v6(proto), &l4[..cut]))
            } else {
                eth(&[], 0x0800, &ipv4(&v4(proto), &l4[..cut]))
            };
            let (k, o, s) = ex(&f);
            let want = if v6mode {
                v6_fields(proto)
            } else {
                v4_fields(proto)
            };
            assert_fields(&k, &want);
            only_reason(&s, Some(reason));
            assert!(o.l4.is_some());
            // The bytes being present as L2 padding behind a short IP packet
            // changes nothing: OVS never parses padding.
            let mut padded = if v6mode {
                eth(&[], 0x86dd, &ipv6(&v6(proto), &l4[..cut]))
            } else {
                eth(&[], 0x0800, &ipv4(&v4(proto), &l4[..cut]))
            };
            padded.extend_from_slice(&l4[cut..]);
            padded.extend_from_slice(&[0xee; 16]);
            assert_eq!(ex(&padded).0, k, "{reason} padded");
        }
    }
}

#[test]
fn bad_tcp_data_offset() {
    for off in [0u8, 4, 6] {
        let mut seg = tcp(1, 2, 0x02, &[], &[]);
        seg[12] = (off << 4) | (seg[12] & 0x0f);
        let (k, _, s) = ex(&eth(&[], 0x0800, &ipv4(&v4(6), &seg)));
        assert_fields(&k, &v4_fields(6));
        only_reason(&s, Some("bad_tcp_offset"));
    }
}

#[test]
fn oversized_frames_are_l2_only() {
    let f = eth(&[], 0x0800, &vec![0x45; 70_000]);
    let (k, o, s) = ex(&f);
    assert_fields(&k, &l2(0x0800));
    only_reason(&s, Some("oversized_frame"));
    assert_eq!(o.l3, None);
}

#[test]
fn public_types_are_send() {
    fn send<T: Send>() {}
    send::<ExtractStats>();
    send::<HeaderOffsets>();
}

#[test]
fn batch_matches_single_extraction_and_hash() {
    let frames: Vec<Vec<u8>> = (0..40u16)
        .map(|i| match i % 4 {
            0 => eth(&[], 0x0800, &ipv4(&v4(17), &udp(i, 53, &[0; 22]))),
            1 => eth(
                &[(0x8100, i)],
                0x86dd,
                &ipv6(&v6(6), &tcp(i, 80, 2, &[], &[])),
            ),
            2 => eth(&[], 0x0806, &arp(1, 1, i as u32, 0, 2)),
            _ => eth(&[], 0x0800, &[0x45; 10]),
        })
        .collect();
    let refs: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
    let mut keys = [FlowKey::ONES; crate::BURST];
    let mut hashes = [0u32; crate::BURST];
    let mut s = ExtractStats::default();
    extract_batch(&refs, PORT, &mut keys, &mut hashes, &mut s);
    assert_eq!(s.frames, 32);
    assert_eq!(s.truncated_ipv4, 8);
    let mut s1 = ExtractStats::default();
    for i in 0..crate::BURST {
        let k = miniflow_extract(refs[i], PORT, &mut s1);
        assert_eq!(keys[i], k, "frame {i}");
        assert_eq!(hashes[i], abi::hash_key(&k), "frame {i}");
    }
    assert_eq!(s, s1);
    // Shorter output slices bound the work.
    let mut s2 = ExtractStats::default();
    extract_batch(&refs, PORT, &mut keys[..3], &mut hashes, &mut s2);
    assert_eq!(s2.frames, 3);
}

// ---------------------------------------------------------------- properties

/// What the generator put into a frame, for deciding where etherparse is a
/// valid oracle ([`etherparse_oracle`]).
#[derive(Clone, Debug)]
struct Shape {
    /// Ethernet type behind the VLAN tags.
    dl_type: u16,
    /// Transport protocol behind the IP header and its extension headers.
    proto: u8,
    /// IPv4 flags/fragment field (0 for IPv6).
    v4_frag: u16,
    /// IPv6 extension headers, outermost first.
    v6_exts: Vec<Ext>,
    /// ICMP (or ICMPv6, IGMP) type and code.
    icmp: (u8, u8),
    /// Length of the transport header and its payload.
    l4_len: usize,
}

/// One IPv6 extension header of a generated frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ext {
    /// Hop-by-hop, routing or destination options, `(len8 + 1) * 8` bytes.
    Opts(u8, u8),
    /// Authentication header of `(len4 + 2) * 4` bytes.
    Ah(u8),
    /// Fragment header with its raw offset/flags word.
    Frag(u16),
}

impl Ext {
    fn number(self) -> u8 {
        match self {
            Ext::Opts(n, _) => n,
            Ext::Ah(_) => IPPROTO_AH,
            Ext::Frag(_) => IPPROTO_FRAGMENT,
        }
    }
}

fn arb_ext() -> impl Strategy<Value = Ext> {
    prop_oneof![
        (
            prop_oneof![
                Just(IPPROTO_HOPOPTS),
                Just(IPPROTO_ROUTING),
                Just(IPPROTO_DSTOPTS)
            ],
            0u8..3
        )
            .prop_map(|(n, l)| Ext::Opts(n, l)),
        (0u8..4).prop_map(Ext::Ah),
        // Offset/flags: atomic (0), first (M), later (offset, with or
        // without M), and atomic with only the reserved bits set.
        prop_oneof![
            Just(0u16),
            Just(1),
            (1u16..0x2000).prop_map(|o| o << 3),
            (1u16..0x2000).prop_map(|o| o << 3 | 1),
            (1u16..4).prop_map(|r| r << 1),
        ]
        .prop_map(Ext::Frag),
    ]
}

/// A random well-formed frame, the key Open vSwitch's miniflow_extract gives
/// it (the frame's fields put through OVS's rules: VLAN TCI with the CFI bit
/// as "present", IPv4/IPv6 fragments, IPv6 later fragments reporting
/// nw_proto 44, ICMP type/code as ports, ARP opcodes above 255 as 0) and its
/// shape.
///
/// Covers 0–2 VLAN tags (802.1Q or 802.1ad), IPv4 with options and fragment
/// fields, IPv6 with chains of extension headers (hop-by-hop, routing,
/// destination options, AH, fragment), TCP with options, UDP, SCTP, ICMP of
/// every type (timestamps biased in), ICMPv6, IGMP, GRE (no ports), ARP and
/// RARP. The damaged-frame side is covered by the tests above and by the
/// `ovs_oracle` differential test.
fn arb_frame() -> impl Strategy<Value = (Vec<u8>, FlowKey, Shape)> {
    let l2 = (
        any::<[u64; 2]>(),
        0usize..3,
        any::<[(bool, u16); 2]>(),
        prop_oneof![4 => Just(ETH_TYPE_IP), 4 => Just(ETH_TYPE_IPV6), 1 => Just(ETH_TYPE_ARP), 1 => Just(ETH_TYPE_RARP)],
    );
    let ip = (
        any::<(u128, u128, u8, u8, u32)>(),
        prop_oneof![
            3 => Just(0u16),
            1 => Just(0x4000),
            1 => Just(0x8000),
            1 => Just(0x2000),
            1 => (1u16..0x2000).prop_map(|o| 0x2000 | o),
            1 => 1u16..0x2000,
        ],
        0usize..3,
        proptest::collection::vec(arb_ext(), 0..4),
    );
    let l4 = (
        prop_oneof![
            Just(6u8),
            Just(17),
            Just(132),
            Just(1),
            Just(58),
            Just(47),
            Just(2)
        ],
        any::<([u16; 2], u16)>(),
        0usize..3,
        (
            prop_oneof![any::<u8>(), Just(13), Just(14)],
            prop_oneof![Just(0u8), any::<u8>()],
        ),
        proptest::collection::vec(any::<u8>(), 0..40),
        prop_oneof![0u16..5, any::<u16>()],
    );
    (l2, ip, l4).prop_map(
        |(
            (macs, nvlan, tags, dl_type),
            ((a, b, tos, ttl, label), v4_frag, ip_opts, v6_exts),
            (proto, (ports, flags), tcp_opts, icmp_tc, payload, arp_op),
        )| {
            // Not neighbour discovery, whose ND fields this model does not
            // compute (its own test and the OVS differential check them).
            let icmp_tc = if proto == 58 && abi::parser::is_nd(true, 58, icmp_tc.0, icmp_tc.1) {
                (icmp_tc.0, 1)
            } else {
                icmp_tc
            };
            let (dst, src) = (macs[0] >> 16, macs[1] >> 16);
            let vlans: Vec<(u16, u16)> = tags[..nvlan]
                .iter()
                .map(|&(ad, tci)| {
                    (
                        if ad {
                            ETH_TYPE_VLAN_8021AD
                        } else {
                            ETH_TYPE_VLAN_8021Q
                        },
                        tci,
                    )
                })
                .collect();
            let mut k = FlowKey::ZERO
                .with(InPort, PORT as u64)
                .with(DlDst, dst)
                .with(DlSrc, src)
                .with(DlType, dl_type as u64);
            for (i, &(_, tci)) in vlans.iter().enumerate() {
                k.set(
                    if i == 0 { VlanTci } else { VlanTci2 },
                    (tci | VLAN_PRESENT) as u64,
                );
            }
            let mut shape = Shape {
                dl_type,
                proto,
                v4_frag: 0,
                v6_exts: Vec::new(),
                icmp: icmp_tc,
                l4_len: 0,
            };
            if matches!(dl_type, ETH_TYPE_ARP | ETH_TYPE_RARP) {
                let (sha, tha) = (a as u64 >> 16, b as u64 >> 16);
                let (spa, tpa) = ((a >> 64) as u32, (b >> 64) as u32);
                k.set(NwSrc, spa as u64);
                k.set(NwDst, tpa as u64);
                k.set(ArpSha, sha);
                k.set(ArpTha, tha);
                if arp_op <= 0xff {
                    k.set(NwProto, arp_op as u64);
                }
                let body = arp(arp_op, sha, spa, tha, tpa);
                return (ethernet(dst, src, &vlans, dl_type, &body), k, shape);
            }
            let l4 = match proto {
                6 => tcp(
                    ports[0],
                    ports[1],
                    flags & 0xfff,
                    &vec![1; tcp_opts * 4],
                    &payload,
                ),
                17 => udp(ports[0], ports[1], &payload),
                132 => sctp(ports[0], ports[1], &payload),
                1 | 58 | 2 => icmp(icmp_tc.0, icmp_tc.1, &payload),
                _ => payload.clone(),
            };
            shape.l4_len = l4.len();
            // What OVS reads: the fragment state, the final protocol and
            // whether the transport header is parsed at all.
            let mut frag = 0u8;
            let mut nw_proto = proto;
            let l3 = if dl_type == ETH_TYPE_IPV6 {
                k.set_ipv6_src(a);
                k.set_ipv6_dst(b);
                let mut body = l4;
                let mut next = proto;
                for &e in v6_exts.iter().rev() {
                    body = match e {
                        Ext::Opts(_, len8) => ipv6_opts(next, len8, &body),
                        Ext::Ah(len4) => ipv6_ah(next, len4, &body),
                        Ext::Frag(offlg) => {
                            let mut h = ipv6_frag(next, 0, false, &body);
                            h[2..4].copy_from_slice(&offlg.to_be_bytes());
                            h
                        }
                    };
                    next = e.number();
                }
                for &e in &v6_exts {
                    if let Ext::Frag(offlg) = e {
                        if offlg != 0 {
                            frag = FRAG_ANY;
                        }
                        if offlg & 0xfff8 != 0 {
                            frag |= FRAG_LATER;
                            nw_proto = IPPROTO_FRAGMENT;
                            break;
                        }
                    }
                }
                shape.v6_exts = v6_exts;
                let mut h = Ipv6::new(a, b, next);
                h.tclass = tos;
                h.hop_limit = ttl;
                h.flow_label = label;
                ipv6(&h, &body)
            } else {
                k.set(NwSrc, a as u32 as u64);
                k.set(NwDst, b as u32 as u64);
                if v4_frag & 0x3fff != 0 {
                    frag = FRAG_ANY;
                    if v4_frag & 0x1fff != 0 {
                        frag |= FRAG_LATER;
                    }
                }
                shape.v4_frag = v4_frag;
                let mut h = Ipv4::new(a as u32, b as u32, proto);
                h.tos = tos;
                h.ttl = ttl;
                h.frag = v4_frag;
                h.options = vec![1; ip_opts * 4];
                ipv4(&h, &l4)
            };
            k.set(NwTos, tos as u64);
            k.set(NwTtl, ttl as u64);
            k.set(NwProto, nw_proto as u64);
            k.set(NwFrag, frag as u64);
            if frag & FRAG_LATER == 0 {
                match proto {
                    6 | 17 | 132 => {
                        k.set(TpSrc, ports[0] as u64);
                        k.set(TpDst, ports[1] as u64);
                    }
                    // IGMP: OVS keys type/code too, the abi key has no IGMP
                    // fields (deliberate, see extract's module doc).
                    1 | 58 => {
                        k.set(TpSrc, icmp_tc.0 as u64);
                        k.set(TpDst, icmp_tc.1 as u64);
                    }
                    _ => {}
                }
                if proto == 6 {
                    k.set(TcpFlags, (flags & 0xfff) as u64);
                }
            }
            (ethernet(dst, src, &vlans, dl_type, &l3), k, shape)
        },
    )
}

/// Where etherparse 0.21 (through `etherparse_key`) is an oracle for a
/// generated frame.
#[derive(Debug, PartialEq, Eq)]
enum Oracle {
    /// etherparse reads the frame; its key must equal ours except in the
    /// listed fields, where it reads something else and OVS decides.
    Compare(&'static [Field], &'static str),
    /// etherparse (or `etherparse_key`) refuses the frame: it must return
    /// `None`, and OVS decides alone.
    Refuses(&'static str),
}

/// The exact places where etherparse 0.21 is stricter or looser than Open
/// vSwitch's miniflow_extract on the frames [`arb_frame`] generates, read off
/// both sources (etherparse `sliced_packet_cursor.rs`, `icmpv4_slice.rs`,
/// `ipv6_exts_slice.rs`, `ip_auth_header_slice.rs`,
/// `ipv6_fragment_header_slice.rs`; OVS lib/flow.c `miniflow_extract`,
/// `parse_ipv6_ext_hdrs__`). Our extract follows OVS (the `ovs_oracle` test
/// checks that against OVS itself), so OVS is the tie-breaker: wherever
/// etherparse differs, the frame is still checked against the OVS-rules key
/// from the generator, and etherparse must differ exactly as predicted here
/// (a refusal it does not make, or one it makes elsewhere, fails the test).
fn etherparse_oracle(s: &Shape) -> Oracle {
    use Oracle::*;
    match s.dl_type {
        // etherparse knows only 0x0806 as ARP; OVS parses RARP the same way.
        ETH_TYPE_RARP => {
            return Compare(
                &[NwSrc, NwDst, NwProto, ArpSha, ArpTha],
                "RARP: etherparse stops at the unknown Ethernet type",
            )
        }
        ETH_TYPE_ARP => return Compare(&[], "ARP"),
        _ => {}
    }
    let mut ignore: &'static [Field] = &[];
    if s.dl_type == ETH_TYPE_IPV6 {
        for (i, &e) in s.v6_exts.iter().enumerate() {
            match e {
                // OVS walks hop-by-hop headers anywhere in the chain (RFC 8200
                // allows it only first, but OVS does not check).
                Ext::Opts(IPPROTO_HOPOPTS, _) if i > 0 => {
                    return Refuses("IPv6 hop-by-hop header not first")
                }
                // RFC 4302 AH is at least 12 bytes; OVS pulls (len + 2) * 4
                // = 8 bytes and goes on.
                Ext::Ah(0) => return Refuses("IPv6 AH with payload length 0"),
                // M or offset set: etherparse_key leaves fragments out (no
                // transport slice). OVS keys first fragments' ports and reports
                // later fragments as nw_proto 44 without ports.
                Ext::Frag(offlg) if offlg & 0xfff9 != 0 => return Refuses("IPv6 fragment"),
                // Only reserved bits set: etherparse says "not fragmented"; OVS
                // tests the whole offset/flags word (ip6f_offlg != 0) and
                // marks the packet a first fragment, keeping its ports.
                Ext::Frag(offlg) if offlg != 0 => {
                    ignore = &[NwFrag];
                }
                _ => {}
            }
        }
    } else if s.v4_frag & 0x3fff != 0 {
        return Refuses("IPv4 fragment");
    }
    match s.proto {
        132 => Refuses("SCTP: etherparse does not slice it"),
        2 => Refuses("IGMP: the abi key has no IGMP fields, etherparse_key leaves it out"),
        // etherparse requires a timestamp (reply) with code 0 to be exactly
        // 20 bytes (RFC 792); OVS needs the 8-byte ICMP header only.
        1 if matches!(s.icmp, (13 | 14, 0)) && s.l4_len != 20 => {
            Refuses("ICMP timestamp message not 20 bytes")
        }
        _ if ignore.is_empty() => Compare(&[], "IP"),
        _ => Compare(ignore, "IPv6 fragment header with only reserved bits"),
    }
}

fn cases() -> u32 {
    if std::env::var_os("FASTPATH_LONG").is_some() {
        200_000
    } else {
        2_000
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// The "fuzz" test that runs in CI: arbitrary bytes never panic, at most
    /// one reason is counted, and offsets stay inside the frame.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200), ty in prop_oneof![Just(0x0800u16), Just(0x86dd), Just(0x0806), Just(0x8100), Just(0x88a8), any::<u16>()]) {
        // Bias towards interesting Ethernet types so deeper layers get fuzzed too.
        let mut f = bytes.clone();
        if f.len() >= 14 {
            f[12..14].copy_from_slice(&ty.to_be_bytes());
        }
        for frame in [&bytes, &f] {
            let mut s = ExtractStats::default();
            let (k, o) = miniflow_extract_with_offsets(frame, 3, &mut s);
            prop_assert!(s.malformed() <= 1);
            prop_assert_eq!(k.get(InPort), 3);
            for x in [o.l3, o.l4, o.l3_end].into_iter().flatten() {
                prop_assert!(x as usize <= frame.len());
            }
            if let (Some(a), Some(b)) = (o.l4, o.l3_end) {
                prop_assert!(a <= b);
            }
        }
    }

    /// Well-formed frames give exactly the key of their fields, and trailing
    /// garbage behind the IP packet (L2 padding) changes nothing.
    #[test]
    fn well_formed_frames_and_trailing_garbage((frame, want, _) in arb_frame(), garbage in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut s = ExtractStats::default();
        let k = miniflow_extract(&frame, PORT, &mut s);
        prop_assert_eq!(k, want);
        prop_assert_eq!(s.malformed(), 0);
        let mut padded = frame.clone();
        padded.extend_from_slice(&garbage);
        let (kp, o) = miniflow_extract_with_offsets(&padded, PORT, &mut s);
        prop_assert_eq!(kp, want);
        prop_assert_eq!(s.malformed(), 0);
        // The offsets point at the bytes the key was read from.
        let be16 = |i: usize| u16::from_be_bytes([padded[i], padded[i + 1]]) as u64;
        for v in o.vlan.into_iter().flatten() {
            prop_assert!(matches!(be16(v as usize), 0x8100 | 0x88a8));
        }
        prop_assert_eq!(be16(o.eth_type as usize), want.get(DlType));
        let l3 = o.l3.unwrap() as usize;
        let be32 = |i: usize| u32::from_be_bytes(padded[i..i + 4].try_into().unwrap()) as u64;
        match want.get(DlType) as u16 {
            ETH_TYPE_IP => prop_assert_eq!(be32(l3 + 12), want.get(NwSrc)),
            ETH_TYPE_IPV6 => prop_assert_eq!(u128::from_be_bytes(padded[l3 + 8..l3 + 24].try_into().unwrap()), want.ipv6_src()),
            _ => {
                prop_assert_eq!(be32(l3 + 14), want.get(NwSrc));
                prop_assert_eq!(o.l4, None);
            }
        }
        if matches!(want.get(NwProto), 6 | 17 | 132) && want.get(NwFrag) & FRAG_LATER as u64 == 0 && o.l4.is_some() {
            let l4 = o.l4.unwrap() as usize;
            prop_assert_eq!(be16(l4), want.get(TpSrc));
            prop_assert_eq!(be16(l4 + 2), want.get(TpDst));
        }
        prop_assert_eq!(o.l3_end, Some(frame.len() as u16));
    }

    /// Differential: etherparse, an independent parser, reads the same key
    /// wherever it is defined ([`etherparse_oracle`] says where and why not);
    /// everywhere the key is the one Open vSwitch's rules give.
    #[test]
    fn agrees_with_etherparse((frame, want, shape) in arb_frame()) {
        let mut s = ExtractStats::default();
        let k = miniflow_extract(&frame, PORT, &mut s);
        prop_assert_eq!(k, want);
        let e = etherparse_key::etherparse_key(&frame, PORT);
        match etherparse_oracle(&shape) {
            Oracle::Compare(ignore, why) => {
                let Some(mut e) = e else {
                    return Err(TestCaseError::fail(format!("etherparse refused {frame:02x?} ({why}, {shape:?})")));
                };
                let mut k = k;
                for &f in ignore {
                    k.set(f, 0);
                    e.set(f, 0);
                }
                prop_assert_eq!(k, e, "{} {:?}", why, shape);
            }
            Oracle::Refuses(why) => prop_assert_eq!(e, None, "predicted refusal: {} {:?}", why, shape),
        }
    }

    /// Every prefix of a well-formed frame parses without panic and never
    /// invents a field: each non-zero key field equals the full frame's.
    #[test]
    fn prefixes_only_lose_fields((frame, want, _) in arb_frame(), cut in any::<prop::sample::Index>()) {
        let n = cut.index(frame.len() + 1);
        let mut s = ExtractStats::default();
        let k = miniflow_extract(&frame[..n], PORT, &mut s);
        for f in Field::ALL {
            if k.get(f) != 0 && f != DlType {
                prop_assert_eq!(k.get(f), want.get(f), "{:?} at cut {}", f, n);
            }
        }
    }
}

/// `vlan-limit`: with 1 (ovs-vswitchd's default) a QinQ frame keeps only its
/// outer tag and its inner TPID is `dl_type` (OVS parse_vlan() stops at the
/// limit); 2 parses both; 0 means as many as the key holds.
#[test]
fn vlan_limit_one_keeps_the_outer_tag_only() {
    let ip = ipv4(&v4(17), &udp(1, 2, &[]));
    let qinq = eth(&[(0x88a8, 0x0fff), (0x8100, 0x2005)], 0x0800, &ip);
    let one = ExtractConfig::default();
    assert_eq!(one.vlan_limit(), 1);
    let mut s = ExtractStats::default();
    let k = miniflow_extract_with(&qinq, PORT, &one, &mut s);
    assert_fields(&k, &with(l2(0x8100), &[(VlanTci, 0x1fff)]));
    only_reason(&s, Some("too_many_vlans"));
    // One tag is unaffected by the limit.
    let single = eth(&[(0x8100, 0xb064)], 0x0800, &ip);
    let mut s = ExtractStats::default();
    let k = miniflow_extract_with(&single, PORT, &one, &mut s);
    assert_eq!(
        k,
        miniflow_extract(&single, PORT, &mut ExtractStats::default())
    );
    only_reason(&s, None);
    for limit in [0, 2, 3] {
        let cfg = ExtractConfig::with_vlan_limit(limit);
        assert_eq!(cfg, ExtractConfig::TWO_TAGS);
        let mut s = ExtractStats::default();
        let k = miniflow_extract_with(&qinq, PORT, &cfg, &mut s);
        assert_eq!(k.get(VlanTci2), 0x3005);
        assert_eq!(k.get(DlType), 0x0800);
        only_reason(&s, None);
    }
    // The batch path honours the setting too.
    let (mut keys, mut hashes) = ([FlowKey::ZERO; 1], [0u32; 1]);
    let mut s = ExtractStats::default();
    extract_batch_with(&[&qinq], PORT, &one, &mut keys, &mut hashes, &mut s);
    assert_eq!(keys[0].get(DlType), 0x8100);
    assert_eq!(hashes[0], abi::hash_key(&keys[0]));
}
