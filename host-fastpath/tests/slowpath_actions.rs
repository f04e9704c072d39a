//! Actions really change frames: rewritten headers with correct checksums
//! (recomputed from scratch here), VLAN push/pop, TTL decrement; the output
//! frame extracts to the flow translation said it would be.

use abi::{Field, FlowKey};
use fastpath::dpif::{DpConfig, PacketSink, Pmd};
use fastpath::extract::{miniflow_extract, ExtractStats};
use fastpath::io::frames::{frame_from_key, verify_checksums, MIN_FRAME};
use fastpath::ofproto::{parse_flow, parse_rules, OfProto, Prefixes};

#[derive(Default)]
struct Capture(Vec<(u32, Vec<u8>)>);

impl PacketSink for Capture {
    fn output(&mut self, port: u32, frame: &[u8]) {
        self.0.push((port, frame.to_vec()));
    }
}

fn run(rules: &str, flow: &str) -> (Vec<(u32, Vec<u8>)>, FlowKey) {
    let of = OfProto::with_rules(parse_rules(rules, "t").expect("rules"), Prefixes::default());
    let key = parse_flow(flow).expect("flow").key();
    let t = of.translate(&key, false);
    let frame = frame_from_key(&key, MIN_FRAME);
    verify_checksums(&frame).expect("input frame checksums");
    let mut pmd = Pmd::new(DpConfig::default()).expect("pmd");
    let mut cap = Capture::default();
    // Twice: once through the upcall, once through the installed megaflow.
    pmd.process_burst(&of, &[&frame], key.get(Field::InPort) as u32, &mut cap);
    pmd.process_burst(&of, &[&frame], key.get(Field::InPort) as u32, &mut cap);
    assert_eq!(pmd.stats.upcalls, 1);
    (cap.0, t.final_flow.key())
}

fn check(rules: &str, flow: &str, ports: &[u32]) {
    let (out, fin) = run(rules, flow);
    let got: Vec<u32> = out.iter().map(|o| o.0).collect();
    let want: Vec<u32> = ports.iter().chain(ports.iter()).copied().collect();
    assert_eq!(got, want, "{rules}");
    let (_, last) = out.last().expect("an output");
    verify_checksums(last).unwrap_or_else(|e| panic!("bad {e} after {rules}"));
    let mut st = ExtractStats::default();
    let mut k = miniflow_extract(last, fin.get(Field::InPort) as u32, &mut st);
    k.set(Field::InPort, fin.get(Field::InPort));
    assert_eq!(
        k, fin,
        "{rules}: output frame differs from the translated flow"
    );
}

#[test]
fn ipv4_rewrites_keep_checksums() {
    let tcp = "in_port=1,dl_src=50:54:00:00:00:09,dl_dst=50:54:00:00:00:0a,tcp,nw_src=10.0.0.2,nw_dst=10.1.2.3,nw_ttl=64,nw_tos=32,tp_src=1234,tp_dst=80,tcp_flags=0x010";
    check(
        "in_port=1,actions=mod_nw_src:192.168.1.1,mod_nw_dst:172.16.0.9,output:2",
        tcp,
        &[2],
    );
    check("in_port=1,actions=dec_ttl,mod_nw_tos:8,output:2", tcp, &[2]);
    check(
        "in_port=1,actions=mod_tp_src:4321,mod_tp_dst:8080,mod_dl_src:02:00:00:00:00:01,output:3",
        tcp,
        &[3],
    );
    check(
        "in_port=1,ip,actions=load:0x5->NXM_OF_IP_SRC[0..7],output:2",
        tcp,
        &[2],
    );
    let udp = "in_port=1,udp,nw_src=10.0.0.2,nw_dst=10.1.2.3,nw_ttl=9,tp_src=53,tp_dst=5353";
    check(
        "in_port=1,actions=mod_nw_dst:8.8.8.8,mod_tp_dst:53,dec_ttl,output:2",
        udp,
        &[2],
    );
    let icmp = "in_port=1,icmp,nw_src=10.0.0.2,nw_dst=10.1.2.3,nw_ttl=64,icmp_type=8,icmp_code=0";
    check(
        "in_port=1,icmp,actions=set_field:0->icmp_type,mod_nw_src:1.1.1.1,output:2",
        icmp,
        &[2],
    );
}

#[test]
fn ipv6_and_sctp_rewrites_keep_checksums() {
    let v6 = "in_port=1,tcp6,ipv6_src=2001:db8::1,ipv6_dst=2001:db8::2,nw_ttl=64,tp_src=1,tp_dst=2";
    check(
        "in_port=1,ipv6,actions=set_field:2001:db8::99->ipv6_dst,dec_ttl,output:2",
        v6,
        &[2],
    );
    let u6 = "in_port=1,udp6,ipv6_src=2001:db8::1,ipv6_dst=2001:db8::2,nw_ttl=64,tp_src=1,tp_dst=2";
    check(
        "in_port=1,ipv6,actions=set_field:fe80::1->ipv6_src,mod_tp_src:7,output:2",
        u6,
        &[2],
    );
    let i6 = "in_port=1,icmp6,ipv6_src=2001:db8::1,ipv6_dst=2001:db8::2,nw_ttl=64,icmp_type=128,icmp_code=0";
    check(
        "in_port=1,ipv6,actions=set_field:2001:db8::7->ipv6_src,output:2",
        i6,
        &[2],
    );
    let sctp = "in_port=1,sctp,nw_src=10.0.0.1,nw_dst=10.0.0.2,nw_ttl=64,tp_src=9,tp_dst=10";
    check(
        "in_port=1,actions=mod_tp_dst:99,mod_nw_dst:10.9.9.9,output:2",
        sctp,
        &[2],
    );
}

#[test]
fn vlan_push_modify_pop() {
    let untagged = "in_port=1,tcp,nw_src=10.0.0.2,nw_dst=10.1.2.3,nw_ttl=64,tp_src=1,tp_dst=2";
    check(
        "in_port=1,actions=mod_vlan_vid:10,mod_vlan_pcp:5,output:2",
        untagged,
        &[2],
    );
    let tagged = "in_port=1,dl_vlan=7,dl_vlan_pcp=1,tcp,nw_src=10.0.0.2,nw_dst=10.1.2.3,nw_ttl=64,tp_src=1,tp_dst=2";
    check("in_port=1,actions=mod_vlan_vid:10,output:2", tagged, &[2]);
    check("in_port=1,actions=strip_vlan,output:2", tagged, &[2]);
    check(
        "in_port=1,actions=push_vlan:0x8100,mod_vlan_vid:3,output:2",
        tagged,
        &[2],
    );
}

#[test]
fn each_output_carries_the_headers_of_its_moment() {
    let untagged = "in_port=1,tcp,nw_src=10.0.0.2,nw_dst=10.1.2.3,nw_ttl=64,tp_src=1,tp_dst=2";
    let (out, _) = run("in_port=1,actions=output:2,dec_ttl,output:3", untagged);
    assert_eq!(out.len(), 4);
    let mut st = ExtractStats::default();
    for (port, f) in &out {
        verify_checksums(f).expect("checksums");
        let k = miniflow_extract(f, 1, &mut st);
        assert_eq!(k.get(Field::NwTtl), if *port == 2 { 64 } else { 63 });
    }
}

#[test]
fn push_vlan_8021ad_goes_out_with_its_tpid() {
    let untagged = "in_port=1,tcp,nw_src=10.0.0.2,nw_dst=10.1.2.3,nw_ttl=64,tp_src=1,tp_dst=2";
    let (out, _) = run(
        "in_port=1,actions=push_vlan:0x88a8,set_field:4196->vlan_vid,set_field:5->vlan_pcp,output:2",
        untagged,
    );
    let (_, f) = out.last().expect("an output");
    assert_eq!(
        &f[12..16],
        &[0x88, 0xa8, 0xa0, 0x64],
        "802.1ad, pcp 5, vid 100"
    );
    // A customer tag inside a service tag: 0x88a8 outside 0x8100.
    let (out, fin) = run(
        "in_port=1,actions=push_vlan:0x8100,set_field:7->vlan_vid,push_vlan:0x88a8,set_field:9->vlan_vid,output:2",
        untagged,
    );
    let (_, f) = out.last().expect("an output");
    assert_eq!(
        &f[12..20],
        &[0x88, 0xa8, 0x00, 0x09, 0x81, 0x00, 0x00, 0x07]
    );
    assert_eq!(fin.get(Field::VlanTci), 0x1009);
    assert_eq!(fin.get(Field::VlanTci2), 0x1007);
    // Rewriting the TCI of a pushed service tag keeps its TPID.
    let (out, _) = run(
        "in_port=1,actions=push_vlan:0x88a8,output:3,mod_vlan_vid:12,output:2",
        untagged,
    );
    for (_, f) in &out {
        assert_eq!(&f[12..14], &[0x88, 0xa8]);
    }
}

#[test]
fn arp_rewrites_reach_the_frame() {
    let arp = "in_port=1,dl_src=50:54:00:00:00:09,arp,arp_op=1,arp_spa=10.0.0.2,arp_tpa=10.0.0.1,arp_sha=50:54:00:00:00:09";
    check(
        "arp,actions=set_field:2->arp_op,set_field:10.9.9.9->arp_spa,set_field:10.0.0.2->arp_tpa,set_field:02:00:00:00:00:01->arp_sha,set_field:50:54:00:00:00:09->arp_tha,output:2",
        arp,
        &[2],
    );
    check(
        "arp,actions=load:0xa0b->NXM_OF_ARP_TPA[0..15],move:NXM_OF_ETH_SRC[]->NXM_NX_ARP_THA[],output:2",
        arp,
        &[2],
    );
}

#[test]
fn vlan_fields_are_written_as_tags() {
    let tagged = "in_port=1,dl_vlan=7,dl_vlan_pcp=1,tcp,nw_src=10.0.0.2,nw_dst=10.1.2.3,nw_ttl=64,tp_src=1,tp_dst=2";
    check(
        "dl_vlan=7,actions=set_field:100->vlan_vid,set_field:3->vlan_pcp,output:2",
        tagged,
        &[2],
    );
    check(
        "dl_vlan=7,actions=load:0x5->OXM_OF_VLAN_VID[0..3],load:6->OXM_OF_VLAN_PCP[],output:2",
        tagged,
        &[2],
    );
    let (_, fin) = run(
        "dl_vlan=7,actions=set_field:4196->vlan_vid,output:2",
        tagged,
    );
    assert_eq!(fin.get(Field::VlanTci), 0x3064);
}

/// A datapath `clone(...)` (OVS emits one when the nested actions truncate):
/// its copy is cut and rewritten, the packet after it is the one before.
#[test]
fn clone_changes_only_its_copy() {
    let flow = "in_port=1,dl_src=50:54:00:00:00:09,tcp,nw_src=10.0.0.2,nw_dst=10.1.2.3,nw_ttl=64,tp_src=1,tp_dst=2";
    let rules = "in_port=1,actions=mod_nw_src:192.168.1.1,clone(mod_dl_src:02:00:00:00:00:07,mod_nw_dst:172.16.0.9,output(port=2,max_len=54)),output:3";
    let of = OfProto::with_rules(parse_rules(rules, "t").expect("rules"), Prefixes::default());
    let key = parse_flow(flow).expect("flow").key();
    let t = of.translate(&key, false);
    assert!(
        fastpath::odp::format_actions(&t.actions).contains("clone("),
        "{:?}",
        t.actions
    );
    let (out, fin) = run(rules, flow);
    let frame_len = frame_from_key(&key, MIN_FRAME).len();
    assert!(frame_len > 54, "the frame must be longer than the trunc");
    let ports: Vec<u32> = out.iter().map(|o| o.0).collect();
    assert_eq!(ports, [2, 3, 2, 3]);
    let mut st = ExtractStats::default();
    for (port, f) in &out {
        // A cut frame does not extract (its IP length is longer): read the bytes.
        assert_eq!(f[26..30], [192, 168, 1, 1], "port {port}: ip src");
        if *port == 2 {
            assert_eq!(f.len(), 54);
            assert_eq!(f[6..12], [2, 0, 0, 0, 0, 7]);
            assert_eq!(f[30..34], [172, 16, 0, 9]);
        } else {
            let k = miniflow_extract(f, 1, &mut st);
            assert_eq!(f.len(), frame_len);
            verify_checksums(f).expect("checksums after the clone");
            let mut k = k;
            k.set(Field::InPort, fin.get(Field::InPort));
            assert_eq!(k, fin, "the packet after the clone is the outer one");
        }
    }
}

#[test]
fn nd_rewrites_keep_the_icmpv6_checksum() {
    let ns = "in_port=1,icmp6,ipv6_src=fe80::1,ipv6_dst=ff02::1:ff00:2,nw_ttl=255,icmpv6_type=135,nd_target=fe80::2,nd_sll=50:54:00:00:00:09";
    check(
        "icmp6,icmp_type=135,actions=set_field:fe80::9->nd_target,set_field:02:00:00:00:00:01->nd_sll,output:2",
        ns,
        &[2],
    );
    // A masked rewrite of the link-layer option only.
    check(
        "icmp6,icmp_type=135,actions=load:0xab->NXM_NX_ND_SLL[0..7],output:2",
        ns,
        &[2],
    );
    let na = "in_port=1,icmp6,ipv6_src=fe80::2,ipv6_dst=fe80::1,nw_ttl=255,icmpv6_type=136,nd_target=fe80::2,nd_tll=50:54:00:00:00:0a";
    check(
        "icmp6,icmp_type=136,actions=set_field:02:00:00:00:00:07->nd_tll,output:3",
        na,
        &[3],
    );
    // No option to rewrite: the target still changes, and no option is
    // added (as OVS's packet_set_nd; the translated flow says otherwise).
    let (out, fin) = run(
        "icmp6,icmp_type=136,actions=set_field:fe80::7->nd_target,set_field:02:00:00:00:00:07->nd_tll,output:3",
        "in_port=1,icmp6,ipv6_src=fe80::2,ipv6_dst=fe80::1,nw_ttl=255,icmpv6_type=136,nd_target=fe80::2",
    );
    let (_, last) = out.last().expect("an output");
    verify_checksums(last).expect("checksums after the target rewrite");
    let k = miniflow_extract(last, 1, &mut ExtractStats::default());
    assert_eq!(k.nd_target(), fin.nd_target());
    assert_eq!(
        (k.get(Field::NdTll), fin.get(Field::NdTll)),
        (0, 0x0200_0000_0007)
    );
}
