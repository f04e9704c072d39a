//! Nothing that comes from input panics: random rule text, random pcap
//! bytes, and datapath actions run on random (often malformed) frames.

use abi::{Field, FlowKey};
use fastpath::extract::{miniflow_extract, ExtractStats};
use fastpath::io::pcap::PcapReader;
use fastpath::odp::{execute, ExecStats, Header, OdpAction, SetAction, SetField};
use fastpath::ofproto::{parse_flow, parse_rules};
use proptest::prelude::*;

const WORDS: &[&str] = &[
    "ip",
    "tcp",
    "udp",
    "icmp",
    "arp",
    "ipv6",
    "actions=",
    "priority=",
    "table=",
    "nw_src=",
    "nw_dst=",
    "10.0.0.1",
    "/24",
    "/0xff",
    "tp_dst=",
    "80",
    "0x",
    "output:",
    "resubmit(",
    ",",
    ")",
    "(",
    "load:",
    "->",
    "NXM_NX_REG0[",
    "]",
    "..",
    "move:",
    "set_field:",
    "tcp_flags=",
    "+syn",
    "-ack",
    "dl_vlan=",
    "goto_table:",
    "#",
    " ",
    "=",
    ":",
    "ff:ff",
    "::1",
    "ipv6_src=",
    "nw_frag=",
    "later",
    "drop",
    "dec_ttl",
    "in_port",
    "mod_vlan_vid:",
    "4096",
];

fn action() -> impl Strategy<Value = OdpAction> {
    let field = prop_oneof![
        Just((Header::Eth, SetField::EthSrc)),
        Just((Header::Eth, SetField::EthDst)),
        Just((Header::Ipv4, SetField::Ipv4Src)),
        Just((Header::Ipv4, SetField::Ipv4Dst)),
        Just((Header::Ipv4, SetField::Ipv4Tos)),
        Just((Header::Ipv4, SetField::Ipv4Ttl)),
        Just((Header::Ipv6, SetField::Ipv6Src)),
        Just((Header::Ipv6, SetField::Ipv6Tclass)),
        Just((Header::Ipv6, SetField::Ipv6Hlimit)),
        Just((Header::Tcp, SetField::TpSrc)),
        Just((Header::Udp, SetField::TpDst)),
        Just((Header::Sctp, SetField::TpDst)),
        Just((Header::Icmp, SetField::TpSrc)),
        Just((Header::Icmpv6, SetField::TpDst)),
    ];
    prop_oneof![
        (0u32..4).prop_map(OdpAction::Output),
        Just(OdpAction::PopVlan),
        (any::<u16>()).prop_map(|tci| OdpAction::PushVlan { tpid: 0x8100, tci }),
        (field, any::<u128>(), any::<u128>()).prop_map(|((header, f), v, m)| OdpAction::Set(
            SetAction {
                header,
                fields: vec![(f, v, m)]
            }
        )),
    ]
}

proptest! {
    #[test]
    fn rule_text_never_panics(parts in proptest::collection::vec(proptest::sample::select(WORDS), 0..24)) {
        let text: String = parts.concat();
        let _ = parse_rules(&text, "fuzz");
        let _ = parse_flow(&text);
    }

    #[test]
    fn pcap_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200), magic in 0usize..4) {
        let mut b = bytes;
        let m: [[u8; 4]; 4] = [[0xd4, 0xc3, 0xb2, 0xa1], [0xa1, 0xb2, 0xc3, 0xd4], [0x4d, 0x3c, 0xb2, 0xa1], [0, 0, 0, 0]];
        if b.len() >= 4 {
            b[..4].copy_from_slice(&m[magic]);
        }
        if let Ok(r) = PcapReader::new(&b[..], "fuzz.pcap") {
            let _ = r.read_all();
        }
    }

    #[test]
    fn actions_on_random_frames_never_panic(
        frame in proptest::collection::vec(any::<u8>(), 0..120),
        ethertype in proptest::sample::select(vec![0x0800u16, 0x86dd, 0x8100, 0x0806, 0x88a8]),
        proto in proptest::sample::select(vec![6u8, 17, 132, 1, 58, 44]),
        acts in proptest::collection::vec(action(), 0..6),
    ) {
        let mut f = frame;
        if f.len() >= 14 {
            f[12..14].copy_from_slice(&ethertype.to_be_bytes());
        }
        if f.len() >= 24 && ethertype == 0x0800 {
            f[14] = 0x45;
            f[23] = proto;
        }
        let mut st = ExtractStats::default();
        let key: FlowKey = miniflow_extract(&f, 1, &mut st);
        let _ = key.get(Field::NwProto);
        let mut ex = ExecStats::default();
        let mut outs = 0;
        execute(&acts, &mut f, &key, 1, &mut ex, &mut |_, _| outs += 1);
        prop_assert_eq!(outs, acts.iter().filter(|a| matches!(a, OdpAction::Output(_))).count());
    }
}
