//! Groups against the real Open vSwitch (skipped with a message without it):
//! - an `add-groups` file loads into OVS and `dump-groups` prints each group
//!   as fastpath's `format_group` does;
//! - bad lines give OVS's errors (ovs-ofctl's words, or the OpenFlow error
//!   code ovs-vswitchd answers);
//! - flows through rules with `group:N` give `ofproto/trace`'s Megaflow and
//!   Datapath actions for every group type, select groups with
//!   `selection_method=hash` included (the same bucket: OVS's hash); OVS's
//!   default and dp_hash methods recirculate, a known difference checked
//!   here to still be the only one (docs/ovs-compat.md); plain CONTROLLER
//!   outputs in buckets give packet-ins with reason `group`.

mod ovs_common;

use fastpath::odp::format_actions;
use fastpath::ofproto::format::format_match;
use fastpath::ofproto::groups::{format_group, parse_groups, GroupError, GroupTable};
use fastpath::ofproto::parse::{parse_rules, parse_trace_flow};
use fastpath::ofproto::{OfProto, Prefixes};
use ovs_common::{implicit_tags, ovs_megaflow_mask, recirc_ids_renumbered, Ovs};

const GROUPS: &str = "\
group_id=1,type=all,bucket=output:2,bucket=actions=mod_dl_src:00:00:00:00:00:01,output:3
group_id=2,type=indirect,bucket=output:3
group_id=3,type=fast_failover,bucket=watch_port:5,actions=output:1,bucket=watch_port:2,output:2,bucket=watch_port:3,output:3
group_id=5,type=select,selection_method=hash,fields(tcp_dst,ip_src),bucket=weight:10,output:2,bucket=weight:20,output:3
group_id=7,type=select,selection_method=hash,bucket=output:2,bucket=output:3,bucket=output:4
group_id=8,type=select,selection_method=hash,selection_method_param=7,fields=eth_dst,bucket=output:2,bucket=bucket_id:0,output:3
group_id=9,type=select,selection_method=hash,fields(ip_src=255.255.0.0,udp_src),bucket=output:2,bucket=weight:0,output:3,bucket=output:4
group_id=10,type=all,bucket=actions=output:2,output:3,bucket=actions=group:2
group_id=11,type=all,bucket=actions=mod_nw_dst:10.9.9.9,output:2,bucket=actions=output:3,bucket=actions=drop
group_id=12,type=ff,bucket=watch_port:6,output:1,bucket=watch_group:3,output:4
group_id=13,type=indirect,bucket=actions=mod_vlan_vid:7,group:5
group_id=14,type=all
group_id=16,type=all,bucket=actions=controller,bucket=actions=output:2,controller:64,bucket=actions=controller(reason=invalid_ttl)
group_id=15,type=select,selection_method=hash,fields(tp_dst,nw_src=255.255.255.0,dl_type,in_port,reg0=0xff,eth_src),bucket=output:2,bucket=output:3,bucket=output:4
group_id=20,type=select,bucket=output:2,bucket=output:3
group_id=21,type=select,selection_method=dp_hash,bucket=output:2,bucket=output:3
";

/// The groups with OVS's datapath-hash selection (its default method and
/// dp_hash): OVS emits `hash(...),recirc(...)` for them.
const RECIRCULATED: [u32; 2] = [20, 21];

fn ovs_add_groups(ovs: &Ovs, text: &str) -> Result<String, String> {
    let file = ovs.dir.join("g.groups");
    std::fs::write(&file, text).expect("write groups");
    let path = file.display().to_string();
    ovs.cmd("ovs-ofctl", &["add-groups", "br0", &path])
}

#[test]
fn dump_groups_prints_as_ours() {
    let Some(ovs) = Ovs::start_or_skip(4) else {
        return;
    };
    ovs_add_groups(&ovs, GROUPS).expect("OVS loads the group file");
    let out = ovs
        .cmd("ovs-ofctl", &["dump-groups", "br0"])
        .expect("dump-groups");
    let mut theirs: Vec<String> = out
        .lines()
        .filter_map(|l| l.strip_prefix(' '))
        .map(str::to_string)
        .collect();
    let mut ours: Vec<String> = parse_groups(GROUPS, "g")
        .expect("ours loads it")
        .iter()
        .map(format_group)
        .collect();
    // OVS dumps in its hash table's order.
    theirs.sort();
    ours.sort();
    assert_eq!(ours, theirs);
}

#[test]
fn bad_groups_give_ovs_errors() {
    let Some(ovs) = Ovs::start_or_skip(4) else {
        return;
    };
    let lines = [
        "group_id=1,type=foo,bucket=output:1",
        "type=all,bucket=output:1",
        "group_id=1,bucket=output:1",
        "group_id=4294967295,type=all,bucket=output:1",
        "group_id=1,type=ff,bucket=output:1",
        "group_id=1,type=all,fields(ip_src),bucket=output:1",
        "group_id=1,type=all,bucket=weight:2,output:1",
        "group_id=1,type=indirect,bucket=output:1,bucket=output:2",
        "group_id=1,type=all,bucket=foo",
        "group_id=1,type=all,bucket=output:1,foo=bar",
        "group_id=1,type=all,bucket=watch_port:1,output:1",
        "group_id=1,type=select,selection_method=foo,bucket=output:1",
        "group_id=1,type=all,bucket=bucket_id:5,output:1,bucket=bucket_id:5,output:2",
        "group_id=1,type=indirect",
        "group_id=all,type=all,bucket=output:1",
        "group_id=1,type=select,selection_method_param=3,bucket=output:1",
        "group_id=1,type=select,selection_method=hash,fields(ip_src,ip_src),bucket=output:1",
        "group_id=1,type=all,bucket=watch_port:99999,output:1",
    ];
    for l in lines {
        ovs.cmd("ovs-ofctl", &["del-groups", "br0"])
            .expect("del-groups");
        let theirs =
            ovs_add_groups(&ovs, &format!("{l}\n")).expect_err(&format!("OVS accepts `{l}`"));
        match GroupTable::from_text(&format!("{l}\n"), "g.groups") {
            Ok(_) => panic!("fastpath accepts `{l}`; OVS: {theirs}"),
            Err(GroupError::Parse { line, msg, .. }) => {
                assert_eq!(line, 1);
                // ovs-ofctl: "ovs-ofctl: FILE:1: MESSAGE".
                let want = theirs.trim().rsplit_once(":1: ").map(|(_, m)| m);
                assert_eq!(Some(msg.as_str()), want, "`{l}`");
            }
            Err(GroupError::Refused { code, .. }) => assert!(
                theirs.contains("OFPT_ERROR") && theirs.contains(code),
                "`{l}`: ours {code}, OVS: {theirs}"
            ),
        }
    }
}

#[test]
fn rule_naming_an_unknown_group_is_refused_as_ovs() {
    let Some(ovs) = Ovs::start_or_skip(2) else {
        return;
    };
    let e = ovs
        .cmd("ovs-ofctl", &["add-flow", "br0", "actions=group:99"])
        .expect_err("OVS accepts a rule naming group 99");
    assert!(e.contains("OFPBAC_BAD_OUT_GROUP"), "{e}");
    let mut of = OfProto::with_rules(
        parse_rules("actions=group:99\n", "r").expect("parses"),
        Prefixes::default(),
    );
    let ours = of.load_groups(None).expect_err("fastpath accepts it");
    assert!(ours.to_string().contains("OFPBAC_BAD_OUT_GROUP"), "{ours}");
}

/// Our megaflow mask with OVS's TCI masks where the two say the same
/// through OVS's key structure (see ovs_compat_diff.rs).
fn tags_as_ovs(key: &abi::FlowKey, ours: &abi::FlowKey, ovs_mf: &str) -> abi::FlowKey {
    let Ok(ovs) = ovs_megaflow_mask(ovs_mf) else {
        return *ours;
    };
    let (mut a, mut b) = (*ours, ovs);
    implicit_tags(key, &mut a);
    implicit_tags(key, &mut b);
    let mut out = *ours;
    for f in [abi::Field::VlanTci, abi::Field::VlanTci2] {
        if a.get(f) == b.get(f) {
            out.set(f, ovs.get(f));
        }
    }
    out
}

#[test]
fn trace_through_groups_as_ofproto_trace() {
    let Some(ovs) = Ovs::start_or_skip(4) else {
        return;
    };
    ovs_add_groups(&ovs, GROUPS).expect("OVS loads the group file");
    let groups = GroupTable::from_text(GROUPS, "g").expect("ours loads it");
    let ids: Vec<u32> = groups.iter().map(|g| g.id).collect();
    // One rule per group, chosen by tp_src (udp flows reach them through
    // a second rule on udp_src).
    let rules: String = ids
        .iter()
        .map(|g| {
            format!(
                "priority=10,tcp,tp_src={g},actions=group:{g}\npriority=10,udp,udp_src={g},actions=group:{g}\npriority=10,tcp6,tp_src={g},actions=group:{g}\n"
            )
        })
        .collect();
    let file = ovs.dir.join("r.flows");
    std::fs::write(&file, &rules).expect("write rules");
    ovs.cmd(
        "ovs-ofctl",
        &["add-flows", "br0", &file.display().to_string()],
    )
    .expect("OVS loads the rules");
    let mut of = OfProto::with_rules(
        parse_rules(&rules, "r.flows").expect("parse"),
        Prefixes::default(),
    );
    of.set_ports(ovs.ofports());
    of.set_groups(groups).expect("every group exists");
    let mut diffs = Vec::new();
    let mut recirc = 0;
    let mut buckets_seen = std::collections::BTreeSet::new();
    for g in &ids {
        for n in 0..8u32 {
            for proto in ["tcp", "udp", "tcp6"] {
                // Odd flows carry a VLAN tag (symmetric L4 hashes its VID).
                let vlan = if n % 2 == 1 {
                    format!("dl_vlan={n},")
                } else {
                    String::new()
                };
                let l3 = if proto == "tcp6" {
                    format!("ipv6_src=2001:db8::{n},ipv6_dst=2001:db8::1")
                } else {
                    format!("nw_src=10.{n}.{}.1,nw_dst=10.0.0.2", n * 37 % 256)
                };
                let l4 = &proto[..3];
                let fl = format!(
                    "in_port=1,{vlan}{proto},dl_dst=00:00:00:00:00:{n:02x},{l3},{l4}_src={g},{l4}_dst={}",
                    80 + n * 1000
                );
                let out = ovs
                    .cmd("ovs-appctl", &["ofproto/trace", "br0", &fl])
                    .expect("ofproto/trace");
                let line = |p: &str| {
                    out.lines()
                        .find_map(|l| l.strip_prefix(p))
                        .unwrap_or("")
                        .to_string()
                };
                let (ovs_mf, ovs_acts) = (
                    line("Megaflow: "),
                    recirc_ids_renumbered(&line("Datapath actions: ")),
                );
                if RECIRCULATED.contains(g) {
                    assert!(
                        ovs_acts.starts_with("hash(") && ovs_acts.contains("recirc("),
                        "group {g}: OVS no longer recirculates: {ovs_acts}"
                    );
                    recirc += 1;
                    continue;
                }
                let f = parse_trace_flow(&fl).expect("flow");
                // Traced as ofproto/trace does (packet-ins with dont_send=1).
                let t = of.translate_flow(&f, true);
                let mf = format_match(&f.key(), &tags_as_ovs(&f.key(), &t.mask, &ovs_mf), true);
                let acts = format_actions(&t.actions);
                buckets_seen.insert((*g, acts.clone()));
                if mf != ovs_mf || acts != ovs_acts {
                    diffs.push(format!(
                        "{fl}\n  ours: {mf}\n        {acts}\n  OVS:  {ovs_mf}\n        {ovs_acts}"
                    ));
                }
            }
        }
    }
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
    assert_eq!(recirc, RECIRCULATED.len() * 24);
    // The select groups' flows reach more than one bucket.
    for g in [5, 7, 9, 15] {
        let n = buckets_seen.iter().filter(|(id, _)| *id == g).count();
        assert!(n > 1, "group {g}: every flow took one bucket");
    }
}
