//! Frames through `fastpath run` against Open vSwitch's `ofproto/trace` of
//! the same bytes (#14): a pcap of diverse frames (VLAN, QinQ, ARP, IPv4
//! options and fragments, IPv6 extension headers and fragments, ND, SCTP,
//! LLC/SNAP, MPLS, truncations, runts, jumbo) meets a rule table that tells
//! them apart; every output port must get exactly the frames OVS sends there.
//!
//! Both NICs: `--nic none` (the software datapath) and `--nic sim` (the
//! Verilated NIC in the packet path: hardware parser, exceptions, hardware
//! hits). The rules only output, so each frame leaves unchanged and the
//! frames of a port are compared as multisets (the NIC's hits and the host's
//! misses may leave in another order). OVS refuses to trace a runt ("Packet
//! data too short for Ethernet"): it drops runts, so no port gets one.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use fastpath::extract::frame::*;
use fastpath::io::pcap::{PcapReader, PcapWriter};

mod ovs_common;
use ovs_common::{ovs_port_ours, split_top, Ovs};

/// Output ports 2..=8 (frames arrive on 1).
const PORTS: u32 = 8;
/// Passes over the pcap: from the second on, the NIC's tables hit.
const LOOPS: usize = 3;

const RULES: &str = "\
priority=100,ip,nw_src=10.0.0.1,actions=output:2
priority=95,tcp,tp_dst=80,actions=output:3
priority=95,udp,tp_src=53,actions=output:4
priority=94,ip,nw_frag=later,actions=output:5
priority=93,sctp,actions=output:6
priority=92,icmp,icmp_type=8,actions=output:7,output:8
priority=90,icmp6,icmp_type=135,nd_target=fe80::1,actions=output:6
priority=89,icmp6,icmp_type=135,nd_sll=50:54:00:00:00:05,actions=output:7
priority=88,icmp6,icmp_type=136,actions=output:8
priority=85,tcp6,tp_src=22,actions=output:2
priority=84,ipv6,ipv6_dst=2001:db8::1,actions=output:3
priority=83,ipv6,nw_frag=first,actions=output:4
priority=80,arp,arp_op=1,actions=output:2,output:3
priority=79,arp,actions=output:4
priority=70,dl_vlan=5,actions=output:5
priority=69,dl_vlan=7,dl_vlan_pcp=3,actions=output:6
priority=60,dl_type=0x8847,actions=output:7
priority=50,dl_type=0x05ff,actions=output:8
priority=40,ip,actions=output:2
priority=39,ipv6,actions=output:3
priority=1,actions=output:4
";

const DST: u64 = 0x5054_0000_0009;
const SRC: u64 = 0x5054_0000_0005;

fn v4(proto: u8) -> Ipv4 {
    Ipv4::new(0x0a00_0002, 0xc0a8_0001, proto)
}

fn nd_body(target: u128, opts: &[(u8, u64)]) -> Vec<u8> {
    let mut b = target.to_be_bytes().to_vec();
    for &(ty, mac) in opts {
        b.extend([ty, 1]);
        b.extend(&mac.to_be_bytes()[2..]);
    }
    b
}

/// Every kind of frame the issue names, each at least once, plus cuts.
fn frames() -> Vec<Vec<u8>> {
    let eth = |vlans: &[(u16, u16)], ty: u16, p: &[u8]| ethernet(DST, SRC, vlans, ty, p);
    let tcp80 = tcp(1234, 80, 0x002, &[], &[7; 10]);
    let udp53 = udp(53, 999, &[1; 12]);
    let mut ip1 = v4(6);
    ip1.src = 0x0a00_0001;
    let mut opts = v4(17);
    opts.options = vec![1; 12];
    let mut first = v4(17);
    first.frag = 0x2000;
    let mut later = v4(17);
    later.frag = 0x0010;
    let v6 = |next: u8, body: &[u8]| {
        ipv6(
            &Ipv6::new(0xfe80 << 112 | 2, 0x2001_0db8 << 96 | 1, next),
            body,
        )
    };
    let v6other = |next: u8, body: &[u8]| ipv6(&Ipv6::new(1, 0x2001_0db8 << 96 | 9, next), body);
    let ns = |target: u128, opts: &[(u8, u64)]| icmp(135, 0, &nd_body(target, opts));
    let mut out = vec![
        eth(&[], 0x0800, &ipv4(&ip1, &tcp80)),
        eth(&[], 0x0800, &ipv4(&v4(6), &tcp80)),
        eth(&[], 0x0800, &ipv4(&opts, &udp53)),
        eth(&[], 0x0800, &ipv4(&first, &udp53)),
        eth(&[], 0x0800, &ipv4(&later, &udp53)),
        eth(&[], 0x0800, &ipv4(&v4(132), &sctp(5, 6, &[0; 8]))),
        eth(&[], 0x0800, &ipv4(&v4(1), &icmp(8, 0, &[0; 8]))),
        eth(&[], 0x0800, &ipv4(&v4(1), &icmp(0, 0, &[0; 8]))),
        eth(&[], 0x0800, &ipv4(&v4(47), &[0; 20])),
        eth(&[(0x8100, 5)], 0x0800, &ipv4(&v4(17), &udp(1, 2, &[]))),
        eth(&[(0x8100, 0x6007)], 0x0800, &ipv4(&v4(17), &udp(1, 2, &[]))),
        // QinQ: OVS's vlan-limit=1 classifies on the outer tag only.
        eth(&[(0x88a8, 5), (0x8100, 7)], 0x0800, &ipv4(&v4(6), &tcp80)),
        eth(&[(0x88a8, 9), (0x8100, 5)], 0x86dd, &v6(59, &[])),
        eth(&[], 0x0806, &arp(1, SRC, 0x0a00_0001, 0, 0x0a00_0002)),
        eth(&[], 0x0806, &arp(2, SRC, 0x0a00_0001, DST, 0x0a00_0002)),
        eth(&[], 0x8035, &arp(3, SRC, 0, 0, 0)),
        eth(&[], 0x86dd, &v6(6, &tcp(22, 80, 0x010, &[], &[]))),
        eth(&[], 0x86dd, &v6other(6, &tcp(23, 80, 0x010, &[], &[]))),
        eth(&[], 0x86dd, &v6other(17, &udp(53, 5, &[]))),
        eth(
            &[],
            0x86dd,
            &v6other(0, &ipv6_opts(43, 0, &ipv6_opts(17, 1, &udp(9, 9, &[])))),
        ),
        eth(
            &[],
            0x86dd,
            &v6other(44, &ipv6_frag(17, 0, true, &udp(1, 1, &[0; 8]))),
        ),
        eth(
            &[],
            0x86dd,
            &v6other(44, &ipv6_frag(17, 4, false, &[0; 16])),
        ),
        eth(
            &[],
            0x86dd,
            &v6other(51, &ipv6_ah(6, 1, &tcp(22, 1, 0, &[], &[]))),
        ),
        eth(&[], 0x86dd, &v6other(132, &sctp(7, 8, &[0; 4]))),
        // Neighbour discovery: NIC exceptions, matched on host-only fields.
        eth(&[], 0x86dd, &v6other(58, &ns(1, &[]))),
        eth(
            &[],
            0x86dd,
            &v6other(58, &ns(0xfe80 << 112 | 1, &[(1, SRC)])),
        ),
        eth(
            &[],
            0x86dd,
            &v6other(58, &ns(0xfe80 << 112 | 2, &[(1, SRC)])),
        ),
        eth(
            &[],
            0x86dd,
            &v6other(58, &ns(0xfe80 << 112 | 3, &[(1, DST)])),
        ),
        // A repeated option: OVS keeps no ND field.
        eth(
            &[],
            0x86dd,
            &v6other(58, &ns(0xfe80 << 112 | 1, &[(1, SRC), (1, SRC)])),
        ),
        eth(
            &[],
            0x86dd,
            &v6other(58, &icmp(136, 0, &nd_body(7, &[(2, DST)]))),
        ),
        eth(&[], 0x86dd, &v6other(58, &icmp(135, 1, &nd_body(1, &[])))),
        eth(&[], 0x86dd, &v6other(58, &icmp(128, 0, &[0; 8]))),
        // LLC, SNAP, MPLS, an unknown type.
        eth(&[], 40, &[0x42, 0x42, 3, 0, 0, 0, 0, 0]),
        eth(&[], 50, &llc_snap(0x0800, &ipv4(&v4(17), &udp(53, 1, &[])))),
        eth(&[], 0x8847, &[0, 0, 0x11, 64, 0x45, 0, 0, 20]),
        eth(&[], 0x88b5, &[0; 46]),
    ];
    // Jumbo frames, tagged and not.
    let jumbo = udp(53, 7, &vec![0x5a; 8950]);
    out.push(eth(&[], 0x0800, &ipv4(&v4(17), &jumbo)));
    out.push(eth(&[(0x8100, 5)], 0x0800, &ipv4(&v4(6), &jumbo)));
    // Truncations of some of them at every few bytes, runts included.
    let whole = out.clone();
    for f in [&whole[1], &whole[11], &whole[16], &whole[26], &whole[13]] {
        for n in (0..f.len()).step_by(5) {
            out.push(f[..n].to_vec());
        }
    }
    out
}

/// The output ports OVS's `ofproto/trace` gives a frame (none for a runt).
fn ovs_ports(ovs: &Ovs, f: &[u8]) -> Vec<u32> {
    let hex: String = f.iter().map(|b| format!("{b:02x}")).collect();
    let out = match ovs.cmd("ovs-appctl", &["ofproto/trace", "br0", "in_port=1", &hex]) {
        Ok(o) => o,
        Err(e) if f.len() < 14 && e.contains("too short") => return Vec::new(),
        Err(e) => panic!("ofproto/trace of {hex}: {e}"),
    };
    let acts = out
        .lines()
        .find_map(|l| l.strip_prefix("Datapath actions: "))
        .unwrap_or_else(|| panic!("no datapath actions for {hex}:\n{out}"));
    split_top(acts)
        .into_iter()
        .map(|a| {
            ovs_port_ours(a)
                .parse::<u32>()
                .unwrap_or_else(|_| panic!("{hex}: action {a} is not an output"))
        })
        .collect()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fastpath-frames-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d.join(name)
}

/// Per output port, the frames `fastpath run --nic NIC` sent there (as
/// multisets: frame → count).
fn fastpath_ports(
    nic: &str,
    pcap: &PathBuf,
    nd_frames: usize,
) -> BTreeMap<u32, BTreeMap<Vec<u8>, usize>> {
    let rules = tmp("rules.flows");
    std::fs::write(&rules, RULES).expect("rules");
    let prefix = tmp(&format!("out-{nic}")).display().to_string();
    let stats = tmp(&format!("stats-{nic}.json"));
    let o = Command::new(env!("CARGO_BIN_EXE_fastpath"))
        .args(["run", "--nic", nic, "--rules"])
        .arg(&rules)
        .arg("--pcap")
        .arg(pcap)
        .args(["--loops", &LOOPS.to_string(), "--out-pcap", &prefix])
        .arg("--stats-json")
        .arg(&stats)
        .output()
        .expect("fastpath runs");
    assert!(
        o.status.success(),
        "fastpath run --nic {nic}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut got = BTreeMap::new();
    for p in 1..=PORTS {
        let file = PathBuf::from(format!("{prefix}-port{p}.pcap"));
        let mut frames = BTreeMap::new();
        if file.exists() {
            let r = PcapReader::open(&file).expect("out pcap");
            for f in r.read_all().expect("out pcap reads") {
                *frames.entry(f).or_insert(0) += 1;
            }
        }
        got.insert(p, frames);
    }
    if nic == "sim" {
        // The NIC itself forwarded some (its MAC port 2), not only the host.
        let j = std::fs::read_to_string(&stats).expect("stats json");
        let v: serde_json::Value = serde_json::from_str(&j).expect("stats json parses");
        let hw = v.get("hw_forwarded").and_then(|x| x.as_u64());
        assert!(
            hw.is_some_and(|n| n > 0),
            "no frame forwarded by the NIC: {j}"
        );
        // Every ND frame reached the host as the parser's ND exception.
        let nd = v
            .pointer("/exceptions/neighbor_discovery")
            .and_then(|x| x.as_u64());
        assert_eq!(nd, Some((LOOPS * nd_frames) as u64), "{j}");
    }
    got
}

#[test]
fn output_ports_equal_ofproto_trace_of_the_bytes() {
    let Some(ovs) = Ovs::start_or_skip(PORTS) else {
        return;
    };
    ovs.load_flows("frames.flows", RULES)
        .expect("OVS loads the rules");
    let frames = frames();
    let pcap = tmp("frames.pcap");
    let mut w = PcapWriter::create(&pcap).expect("pcap");
    for (i, f) in frames.iter().enumerate() {
        w.write(i as u64 * 1000, f).expect("pcap write");
    }
    w.finish().expect("pcap finish");
    let mut want: BTreeMap<u32, BTreeMap<Vec<u8>, usize>> =
        (1..=PORTS).map(|p| (p, BTreeMap::new())).collect();
    let mut kinds = BTreeMap::new();
    for f in &frames {
        let ports = ovs_ports(&ovs, f);
        *kinds.entry(ports.len()).or_insert(0) += 1;
        for p in ports {
            *want
                .get_mut(&p)
                .unwrap_or_else(|| panic!("OVS output to port {p}"))
                .entry(f.clone())
                .or_insert(0) += LOOPS;
        }
    }
    // The table tells the frames apart: every port but the input one is used.
    for p in 2..=PORTS {
        assert!(
            !want[&p].is_empty(),
            "no frame goes to port {p}: weak rules"
        );
    }
    eprintln!(
        "{} frames; by number of outputs (OVS): {kinds:?}",
        frames.len()
    );
    let nd_frames = frames
        .iter()
        .filter(|f| {
            let mut st = fastpath::extract::ExtractStats::default();
            fastpath::extract::miniflow_extract(f, 1, &mut st).is_nd()
        })
        .count();
    assert!(nd_frames >= 6, "{nd_frames} ND frames");
    for nic in ["none", "sim"] {
        let got = fastpath_ports(nic, &pcap, nd_frames);
        for p in 1..=PORTS {
            let (g, w) = (&got[&p], &want[&p]);
            let missing: Vec<String> = w
                .keys()
                .filter(|f| g.get(*f) != w.get(*f))
                .map(|f| format!("{} bytes {:02x?}", f.len(), &f[..f.len().min(40)]))
                .collect();
            let extra: Vec<String> = g
                .keys()
                .filter(|f| !w.contains_key(*f))
                .map(|f| format!("{} bytes {:02x?}", f.len(), &f[..f.len().min(40)]))
                .collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "--nic {nic}, port {p}: differs from OVS\n  OVS only / other count: {missing:#?}\n  fastpath only: {extra:#?}"
            );
        }
    }
}
