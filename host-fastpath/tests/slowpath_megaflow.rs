//! Megaflow expectations in the spirit of Open vSwitch's own tests
//! (tests/ofproto-dpif.at "megaflow - …"): rules, a flow, the megaflow
//! `ofproto/trace` prints and the datapath actions.

use fastpath::odp::format_actions;
use fastpath::ofproto::format::format_match;
use fastpath::ofproto::{parse_flow, parse_rules, OfProto, Prefixes};

fn trace_with(rules: &str, flow: &str, prefixes: &str, megaflows: bool) -> (String, String) {
    let rules = parse_rules(rules, "test.flows").expect("rules parse");
    let mut of = OfProto::with_rules(rules, prefixes.parse::<Prefixes>().expect("prefixes"));
    of.megaflows = megaflows;
    let f = parse_flow(flow).expect("flow parses");
    let t = of.translate(&f.key(), false);
    assert!(t.error.is_none(), "{:?}", t.error);
    (
        format_match(&f.key(), &t.mask, true),
        format_actions(&t.actions),
    )
}

fn trace(rules: &str, flow: &str) -> (String, String) {
    trace_with(rules, flow, "nw_dst,nw_src,ipv6_dst,ipv6_src", true)
}

const ICMP1: &str = "in_port=1,dl_src=50:54:00:00:00:09,dl_dst=50:54:00:00:00:0a,dl_type=0x0800,nw_src=10.0.0.2,nw_dst=10.0.0.1,nw_proto=1,nw_tos=0,nw_ttl=64,icmp_type=8,icmp_code=0";
const ICMP2: &str = "in_port=1,dl_src=50:54:00:00:00:0b,dl_dst=50:54:00:00:00:0c,dl_type=0x0800,nw_src=10.0.0.4,nw_dst=10.0.0.3,nw_proto=1,nw_tos=0,nw_ttl=64,icmp_type=8,icmp_code=0";

fn same(a: (String, String), m: &str, acts: &str) {
    assert_eq!((a.0.as_str(), a.1.as_str()), (m, acts));
}

#[test]
fn port_only_rule_shares_one_megaflow() {
    let r = "in_port=1 actions=output(2)";
    same(
        trace(r, ICMP1),
        "recirc_id=0,eth,ip,in_port=1,nw_frag=no",
        "2",
    );
    same(
        trace(r, ICMP2),
        "recirc_id=0,eth,ip,in_port=1,nw_frag=no",
        "2",
    );
}

#[test]
fn l2_rule_is_exact_on_dl_src_only() {
    let r = "in_port=1,dl_src=50:54:00:00:00:09 actions=output(2)";
    same(
        trace(r, ICMP1),
        "recirc_id=0,eth,ip,in_port=1,dl_src=50:54:00:00:00:09,nw_frag=no",
        "2",
    );
    same(
        trace(r, ICMP2),
        "recirc_id=0,eth,ip,in_port=1,dl_src=50:54:00:00:00:0b,nw_frag=no",
        "drop",
    );
}

#[test]
fn icmp_type_rule_wildcards_code() {
    let r = "in_port=1,icmp,icmp_type=8 actions=output(2)";
    same(
        trace(r, ICMP1),
        "recirc_id=0,eth,icmp,in_port=1,nw_frag=no,icmp_type=8",
        "2",
    );
}

#[test]
fn port_trie_unwildcards_only_needed_port_bits() {
    let r = "priority=16,in_port=1,tcp,nw_dst=10.1.0.0/16,actions=output(3)
priority=32,in_port=1,tcp,nw_dst=10.1.2.15,actions=output(2)
priority=33,in_port=1,tcp,nw_dst=10.1.2.15,tp_dst=80,actions=drop
priority=0,in_port=1,ip,actions=drop";
    same(
        trace(
            r,
            "in_port=1,tcp,nw_src=10.0.0.1,nw_dst=10.1.2.15,tp_src=8,tp_dst=79",
        ),
        "recirc_id=0,eth,tcp,in_port=1,nw_dst=10.1.2.15,nw_frag=no,tp_dst=0x40/0xfff0",
        "2",
    );
    same(
        trace(
            r,
            "in_port=1,tcp,nw_src=10.0.0.1,nw_dst=10.1.2.15,tp_src=8,tp_dst=80",
        ),
        "recirc_id=0,eth,tcp,in_port=1,nw_dst=10.1.2.15,nw_frag=no,tp_dst=80",
        "drop",
    );
    // Another host in 10.1/16: the /32 subtables are ruled out by the trie
    // after the first bit that differs from 10.1.2.15 (bit 24), not the
    // whole address, and no port bit is consulted.
    let (m, a) = trace(
        r,
        "in_port=1,tcp,nw_src=10.0.0.1,nw_dst=10.1.3.15,tp_src=8,tp_dst=80",
    );
    assert_eq!(a, "3");
    assert_eq!(
        m,
        "recirc_id=0,eth,tcp,in_port=1,nw_dst=10.1.3.0/24,nw_frag=no"
    );
}

#[test]
fn prefix_tracking_on_and_off() {
    let r = "priority=10,ip,nw_dst=10.1.2.15,actions=output:2\npriority=0,actions=drop";
    let f = "in_port=1,ip,nw_src=1.1.1.1,nw_dst=192.168.0.1";
    same(
        trace(r, f),
        "recirc_id=0,eth,ip,in_port=1,nw_dst=128.0.0.0/1,nw_frag=no",
        "drop",
    );
    same(
        trace_with(r, f, "none", true),
        "recirc_id=0,eth,ip,in_port=1,nw_dst=192.168.0.1,nw_frag=no",
        "drop",
    );
    // nw_src tracking only: nw_dst is not tracked, so it is exact.
    same(
        trace_with(r, f, "nw_src", true),
        "recirc_id=0,eth,ip,in_port=1,nw_dst=192.168.0.1,nw_frag=no",
        "drop",
    );
}

#[test]
fn l2_stage_miss_stops_before_l3() {
    // The ARP packet is ruled out at the L2 stage (dl_type), so nothing of
    // the IP rule's L3/L4 fields enters its megaflow.
    let r =
        "priority=10,tcp,nw_src=10.0.0.0/8,tp_dst=22,actions=output:2\npriority=0,actions=output:3";
    same(
        trace(
            r,
            "in_port=1,arp,arp_spa=10.0.0.1,arp_tpa=10.0.0.2,arp_op=1",
        ),
        "recirc_id=0,eth,arp,in_port=1",
        "3",
    );
}

#[test]
fn resubmit_and_goto_table_unwildcard_what_they_consult() {
    let r = "table=0,in_port=1,actions=resubmit(,1)
table=1,priority=5,ip,nw_src=10.0.0.2,actions=output:2
table=1,priority=0,actions=drop";
    same(
        trace(r, ICMP1),
        "recirc_id=0,eth,ip,in_port=1,nw_src=10.0.0.2,nw_frag=no",
        "2",
    );
    let r = "table=0,in_port=1,actions=write_metadata:0x5/0xff,goto_table:2
table=2,priority=5,metadata=0x5/0xff,icmp,actions=output:2
table=2,priority=0,actions=drop";
    same(
        trace(r, ICMP1),
        "recirc_id=0,eth,icmp,in_port=1,nw_frag=no",
        "2",
    );
    let r = "in_port=1,actions=resubmit(7,1)\ntable=1,in_port=7,actions=output:1,in_port";
    // Port 7 is the lookup's in_port only: the actions see port 1 again, so
    // output:1 is skipped and in_port is port 1 (OVS's xlate_table_action;
    // ovs-vswitchd 3.1's ofproto/trace gives `1`).
    same(
        trace(r, ICMP1),
        "recirc_id=0,eth,ip,in_port=1,nw_frag=no",
        "1",
    );
}

#[test]
fn move_reads_only_the_moved_bits() {
    let r = "table=0,in_port=1,ip,actions=move:NXM_OF_IP_SRC[0..7]->NXM_NX_REG0[0..7],resubmit(,1)
table=1,priority=5,reg0=2,actions=output:3
table=1,priority=0,actions=drop";
    same(
        trace(r, ICMP1),
        "recirc_id=0,eth,ip,in_port=1,nw_src=0.0.0.2/0.0.0.255,nw_frag=no",
        "3",
    );
}

#[test]
fn rewrites_become_masked_sets() {
    same(
        trace("in_port=1,ip,actions=dec_ttl,output:2", ICMP1),
        // dec_ttl reads nw_proto (its commit needs a real L3 header), as OVS.
        "recirc_id=0,eth,icmp,in_port=1,nw_ttl=64,nw_frag=no",
        "set(ipv4(ttl=63)),2",
    );
    same(
        trace(
            "in_port=1,actions=mod_dl_dst:50:54:00:00:00:0b,output:2",
            ICMP1,
        ),
        "recirc_id=0,eth,ip,in_port=1,dl_dst=50:54:00:00:00:0a,nw_frag=no",
        "set(eth(dst=50:54:00:00:00:0b)),2",
    );
    same(
        trace(
            "in_port=1,ip,actions=mod_nw_src:192.168.0.1,output:2,mod_tp_dst:5,output:3",
            "in_port=1,udp,nw_src=1.2.3.4,tp_src=1,tp_dst=2",
        ),
        "recirc_id=0,eth,udp,in_port=1,nw_src=1.2.3.4,nw_frag=no,tp_dst=2",
        "set(ipv4(src=192.168.0.1)),2,set(udp(dst=5)),3",
    );
    same(
        trace(
            "in_port=1,ip,actions=load:0x1->NXM_OF_IP_DST[0],output:2",
            "in_port=1,tcp,nw_dst=10.0.0.2",
        ),
        "recirc_id=0,eth,tcp,in_port=1,nw_dst=0.0.0.0/0.0.0.1,nw_frag=no",
        "set(ipv4(dst=0.0.0.1/0.0.0.1)),2",
    );
    // nw_proto 0: no real L3 header, nothing rewritten (OVS's commit_set_nw_action).
    same(
        trace(
            "in_port=1,ip,actions=load:0x1->NXM_OF_IP_DST[0],output:2",
            "in_port=1,ip,nw_dst=10.0.0.2",
        ),
        "recirc_id=0,eth,ip,in_port=1,nw_dst=0.0.0.0/0.0.0.1,nw_proto=0,nw_frag=no",
        "2",
    );
    // Setting a field to the value it has emits nothing.
    same(
        trace(
            "in_port=1,actions=mod_dl_src:50:54:00:00:00:09,output:2",
            ICMP1,
        ),
        "recirc_id=0,eth,ip,in_port=1,dl_src=50:54:00:00:00:09,nw_frag=no",
        "2",
    );
}

#[test]
fn dec_ttl_at_one_stops_translation() {
    same(
        trace(
            "in_port=1,ip,actions=output:3,dec_ttl,output:2",
            "in_port=1,ip,nw_ttl=1",
        ),
        "recirc_id=0,eth,ip,in_port=1,nw_proto=0,nw_ttl=1,nw_frag=no",
        // As OVS's compose_dec_ttl: a packet-in with reason invalid_ttl.
        "3,userspace(pid=0,controller(reason=2,dont_send=0,continuation=0,recirc_id=1,\
         rule_cookie=0,controller_id=0,max_len=65535))",
    );
}

#[test]
fn vlan_actions() {
    same(
        trace("in_port=1,actions=mod_vlan_vid:10,output:2", ICMP1),
        "recirc_id=0,eth,ip,in_port=1,vlan_tci=0x0000/0x1fff,nw_frag=no",
        "push_vlan(vid=10,pcp=0),2",
    );
    same(
        trace(
            "in_port=1,actions=mod_vlan_vid:10,output:2",
            "in_port=1,dl_vlan=5,ip",
        ),
        "recirc_id=0,eth,ip,in_port=1,dl_vlan=5,dl_vlan_pcp=0,nw_frag=no",
        "pop_vlan,push_vlan(vid=10,pcp=0),2",
    );
    same(
        trace(
            "in_port=1,dl_vlan=5,actions=strip_vlan,output:2",
            "in_port=1,dl_vlan=5,dl_vlan_pcp=3,ip",
        ),
        "recirc_id=0,eth,ip,in_port=1,dl_vlan=5,dl_vlan_pcp=3,nw_frag=no",
        "pop_vlan,2",
    );
}

#[test]
fn output_to_input_port_is_skipped() {
    same(
        trace("in_port=1,actions=output:1", ICMP1),
        "recirc_id=0,eth,ip,in_port=1,nw_frag=no",
        "drop",
    );
    same(
        trace("in_port=1,actions=in_port", ICMP1),
        "recirc_id=0,eth,ip,in_port=1,nw_frag=no",
        "1",
    );
}

#[test]
fn tcp_flags_and_fragments() {
    let r = "priority=5,tcp,tcp_flags=+syn-ack,actions=output:2\npriority=0,actions=drop";
    same(
        trace(r, "in_port=1,tcp,tcp_flags=0x002"),
        "recirc_id=0,eth,tcp,in_port=1,nw_frag=no,tcp_flags=+syn-ack",
        "2",
    );
    // A later fragment has no ports: a port rule cannot match and the
    // megaflow never matches on ports.
    let r = "priority=5,udp,tp_dst=53,actions=output:2\npriority=0,actions=drop";
    same(
        trace(r, "in_port=1,udp,nw_frag=later"),
        "recirc_id=0,eth,udp,in_port=1,nw_frag=later",
        "drop",
    );
}

#[test]
fn priorities_and_ipv6() {
    let r = "priority=1,ipv6,actions=output:2
priority=9,tcp6,ipv6_dst=2001:db8::/32,tp_dst=443,actions=output:3
priority=0,actions=drop";
    same(
        trace(
            r,
            "in_port=1,tcp6,ipv6_src=2001:db8::1,ipv6_dst=2001:db8::2,tp_src=1000,tp_dst=443",
        ),
        "recirc_id=0,eth,tcp6,in_port=1,ipv6_dst=2001:db8::/32,nw_frag=no,tp_dst=443",
        "3",
    );
    same(
        trace(
            r,
            "in_port=1,tcp6,ipv6_src=2001:db8::1,ipv6_dst=2002::2,tp_src=1000,tp_dst=443",
        ),
        "recirc_id=0,eth,ipv6,in_port=1,ipv6_dst=2002::/15,nw_frag=no",
        "2",
    );
}

#[test]
fn no_megaflows_means_exact() {
    let (m, a) = trace_with("in_port=1 actions=output(2)", ICMP1, "none", false);
    assert_eq!(a, "2");
    assert!(
        m.contains("nw_src=10.0.0.2")
            && m.contains("icmp_type=8")
            && m.contains("dl_dst=50:54:00:00:00:0a"),
        "{m}"
    );
}
