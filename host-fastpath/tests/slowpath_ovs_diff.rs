//! Differential test against a real Open vSwitch (userspace, dummy
//! datapath: no kernel module). Random rule tables and flows go through
//! `ovs-appctl ofproto/trace` and through our slow path: the datapath actions
//! must be the same, and our megaflow must equal Open vSwitch's or be more
//! general (a subset of its mask bits; soundness is checked elsewhere).
//!
//! Skipped, with a message, when `ovs-vswitchd` is not installed, unless
//! `FASTPATH_REQUIRE_OVS=1` (CI sets it and installs Debian's
//! `openvswitch-switch`). FASTPATH_LONG=1 runs 10× more.

use fastpath::io::gen::Rng;
use fastpath::ofproto::format::format_match;
use fastpath::ofproto::parse::parse_rule;
use fastpath::ofproto::{parse_flow, parse_rules, OfProto, Prefixes};

mod ovs_common;
use ovs_common::{floods_sorted, implicit_tags, ovs_megaflow_mask, ovs_port_ours, split_top, Ovs};

fn pick<T: Copy>(rng: &mut Rng, v: &[T]) -> T {
    v[rng.below(v.len() as u64) as usize]
}

const NETS: [u32; 3] = [0x0a00_0000, 0x0a01_0200, 0xc0a8_0000];

fn addr(rng: &mut Rng) -> String {
    let a =
        pick(rng, &NETS) | (rng.below(4) as u32) << (8 * rng.below(3)) as u32 | rng.below(4) as u32;
    std::net::Ipv4Addr::from(a).to_string()
}

fn rules(rng: &mut Rng) -> String {
    let mut out = String::new();
    let n = 3 + rng.below(12) as usize;
    let mut prios: Vec<u64> = (1..=(n as u64 + 4)).map(|p| p * 7).collect();
    for i in (1..prios.len()).rev() {
        prios.swap(i, rng.below(i as u64 + 1) as usize);
    }
    for (i, prio) in prios.iter().enumerate().take(n + 3) {
        let table = if i < n { 0 } else { 1 };
        let mut m = vec![format!("table={table}"), format!("priority={prio}")];
        if rng.below(3) == 0 {
            m.push(format!("in_port={}", 1 + rng.below(2)));
        }
        if rng.below(5) == 0 {
            m.push(format!("dl_src=50:54:00:00:00:0{}", rng.below(3)));
        }
        let proto = pick(rng, &["ip", "tcp", "tcp", "udp", "icmp", ""]);
        if !proto.is_empty() {
            m.push(proto.into());
            for f in ["nw_src", "nw_dst"] {
                if rng.below(2) == 0 {
                    m.push(format!(
                        "{f}={}/{}",
                        addr(rng),
                        pick(rng, &[8u32, 16, 24, 30, 32])
                    ));
                }
            }
            if (proto == "tcp" || proto == "udp") && rng.below(2) == 0 {
                m.push(format!("tp_dst={}", pick(rng, &[22u16, 53, 80, 443])));
            }
            if proto == "icmp" && rng.below(2) == 0 {
                m.push("icmp_type=8".into());
            }
        }
        let mut acts = Vec::new();
        for _ in 0..1 + rng.below(2) {
            acts.push(match rng.below(7) {
                0..=2 => format!("output:{}", 1 + rng.below(4)),
                3 if table == 0 => "resubmit(,1)".into(),
                4 => "mod_dl_dst:50:54:00:00:00:0b".into(),
                5 if !proto.is_empty() => "dec_ttl".into(),
                _ => "drop".into(),
            });
        }
        if acts.contains(&"drop".to_string()) {
            acts = vec!["drop".into()];
        }
        out.push_str(&format!("{},actions={}\n", m.join(","), acts.join(",")));
    }
    out
}

fn flow(rng: &mut Rng) -> String {
    let proto = pick(rng, &["tcp", "udp", "icmp"]);
    let mut f = format!(
        "in_port={},dl_src=50:54:00:00:00:0{},dl_dst=50:54:00:00:00:0a,{proto},nw_src={},nw_dst={},nw_ttl={}",
        1 + rng.below(2),
        rng.below(3),
        addr(rng),
        addr(rng),
        pick(rng, &[1u8, 64])
    );
    if proto == "icmp" {
        f.push_str(&format!(",icmp_type={},icmp_code=0", pick(rng, &[0u8, 8])));
    } else {
        // OVS's flow parser wants the protocol's own port names.
        f.push_str(&format!(
            ",{proto}_src={},{proto}_dst={}",
            1000 + rng.below(10),
            pick(rng, &[22u16, 53, 79, 80, 443, 8080])
        ));
    }
    f
}

/// 10 with `FASTPATH_LONG=1`, else 1: how many more cases a long run tries.
fn long_scale() -> usize {
    if std::env::var("FASTPATH_LONG").is_ok_and(|v| v == "1") {
        10
    } else {
        1
    }
}

#[test]
fn same_actions_and_megaflow_at_least_as_general_as_ovs() {
    let Some(ovs) = Ovs::start_or_skip(4) else {
        return;
    };
    let scale = long_scale();
    let mut rng = Rng::new(fastpath::io::gen::test_seed(42));
    let (mut same_mask, mut more_general) = (0, 0);
    for _ in 0..12 * scale {
        let text = rules(&mut rng);
        ovs.load_flows("rules.flows", &text).expect("add-flows");
        let of = OfProto::with_rules(
            parse_rules(&text, "rules.flows").expect("parse"),
            "nw_dst,nw_src".parse::<Prefixes>().expect("prefixes"),
        );
        for _ in 0..15 {
            let fl = flow(&mut rng);
            let out = ovs
                .cmd("ovs-appctl", &["ofproto/trace", "br0", &fl])
                .expect("trace");
            let line = |p: &str| {
                out.lines()
                    .find_map(|l| l.strip_prefix(p))
                    .map(str::to_string)
                    .unwrap_or_default()
            };
            let (ovs_mf, ovs_acts) = (line("Megaflow: "), line("Datapath actions: "));
            let key = parse_flow(&fl).expect("flow").key();
            let t = of.translate(&key, false);
            let ours = without_controller(&fastpath::odp::format_actions(&t.actions));
            // dec_ttl at TTL 1 sends a packet-in: compared without it on
            // both sides (see without_controller).
            let ovs_acts = without_controller(&ovs_acts);
            assert_eq!(
                ours, ovs_acts,
                "actions differ\nrules:\n{text}flow: {fl}\nOVS:\n{out}"
            );
            let ovs_mask = ovs_megaflow_mask(&ovs_mf).unwrap_or_else(|e| panic!("{e}"));
            let ours_mf = format_match(&key, &t.mask, true);
            assert!(
                t.mask.is_subset_of(&ovs_mask),
                "our megaflow needs bits OVS does not\nrules:\n{text}flow: {fl}\nours: {ours_mf}\nOVS:  {ovs_mf}"
            );
            if t.mask == ovs_mask {
                same_mask += 1;
            } else {
                more_general += 1;
            }
        }
    }
    eprintln!("megaflows equal to OVS: {same_mask}, more general: {more_general}");
}

/// Rules in OpenFlow 1.3 syntax (so `push_vlan` loads) exercising the
/// actions beyond output: VLAN push (802.1Q and 802.1ad) / set / pop, ARP
/// and IPv4 rewrites, registers written in table 0 and matched in table 1,
/// LOCAL, IN_PORT, port 0, truncated output.
fn action_rules(rng: &mut Rng) -> String {
    let mut out = String::new();
    let n = 3 + rng.below(8) as usize;
    for i in 0..n + 3 {
        let table = if i < n { 0 } else { 1 };
        let mut m = vec![
            format!("table={table}"),
            format!("priority={}", 1 + rng.below(50)),
        ];
        if rng.below(4) == 0 {
            m.push(format!("in_port={}", 1 + rng.below(2)));
        }
        let mut tagged = false;
        match rng.below(4) {
            0 => {
                m.push(format!("dl_vlan={}", pick(rng, &[5u16, 7])));
                tagged = true;
            }
            // OpenFlow 1.3 cannot say `vlan_tci=0x0000` (OVS loads it as this).
            1 => m.push("vlan_tci=0x0000/0x1fff".into()),
            2 => {
                m.push("vlan_tci=0x1000/0x1000".into());
                tagged = true;
            }
            _ => {}
        }
        let proto = pick(rng, &["arp", "arp", "ip", "tcp", "udp", ""]);
        if !proto.is_empty() {
            m.push(proto.into());
        }
        match proto {
            "arp" if rng.below(2) == 0 => m.push(format!("arp_op={}", 1 + rng.below(2))),
            "arp" if rng.below(2) == 0 => m.push(format!("arp_tpa={}", addr(rng))),
            "ip" | "tcp" | "udp" if rng.below(2) == 0 => m.push(format!(
                "nw_dst={}/{}",
                addr(rng),
                pick(rng, &[16u32, 24, 32])
            )),
            _ => {}
        }
        if (proto == "tcp" || proto == "udp") && rng.below(2) == 0 {
            m.push(format!("tp_dst={}", pick(rng, &[0u16, 53, 80])));
        }
        if table == 1 && rng.below(2) == 0 {
            m.push(format!("reg0={}", rng.below(4)));
        }
        let mut tags = u32::from(tagged);
        let match_tags = tags;
        let mut acts = Vec::new();
        for _ in 0..1 + rng.below(4) {
            let a = match rng.below(16) {
                0..=2 => format!("output:{}", 1 + rng.below(4)),
                3 => pick(rng, &["LOCAL", "IN_PORT", "output:0", "in_port"]).into(),
                4 => format!(
                    "output(port={},max_len={})",
                    1 + rng.below(4),
                    64 + rng.below(64)
                ),
                // OVS refuses a third tag (OFPBAC_BAD_TAG), as we do.
                5 if tags < 2 => {
                    tagged = true;
                    tags += 1;
                    format!("push_vlan:{}", pick(rng, &["0x8100", "0x88a8"]))
                }
                // OpenFlow 1.3 wants the "present" bit in a set vlan_vid.
                6 if tagged => format!(
                    "set_field:{}->vlan_vid",
                    pick(rng, &[4096 + 9u16, 4096 + 11])
                ),
                7 if tagged => format!("set_field:{}->vlan_pcp", rng.below(8)),
                8 if tagged => {
                    tags -= 1;
                    tagged = false;
                    "pop_vlan".into()
                }
                9 if proto == "arp" => pick(
                    rng,
                    &[
                        "set_field:2->arp_op",
                        "set_field:10.9.9.9->arp_spa",
                        "set_field:02:00:00:00:00:01->arp_sha",
                        "load:0x63->NXM_OF_ARP_TPA[0..7]",
                        "move:NXM_OF_ETH_SRC[]->NXM_NX_ARP_THA[]",
                    ],
                )
                .into(),
                10 if !proto.is_empty() && proto != "arp" => pick(
                    rng,
                    &[
                        "set_field:192.168.9.9->ip_src",
                        "dec_ttl",
                        "set_field:8->ip_dscp",
                    ],
                )
                .into(),
                11 | 12 if table == 0 => pick(
                    rng,
                    &[
                        "load:1->NXM_NX_REG0[0..1]",
                        "set_field:2->reg0",
                        "load:3->NXM_NX_REG0[]",
                        "move:NXM_OF_IN_PORT[0..1]->NXM_NX_REG0[0..1]",
                    ],
                )
                .into(),
                13 | 14 if table == 0 => "resubmit(,1)".into(),
                _ => "drop".into(),
            };
            acts.push(a);
        }
        if acts.iter().any(|a| a == "drop") {
            acts = vec!["drop".into()];
            tags = match_tags;
        }
        // Instructions after the apply actions: the action set, goto_table.
        let mut ins = Vec::new();
        if table == 1 && rng.below(4) == 0 {
            ins.push("clear_actions".to_string());
        }
        if rng.below(3) == 0 {
            let mut set = Vec::new();
            for _ in 0..1 + rng.below(4) {
                let a = match rng.below(8) {
                    0 | 1 => format!("output:{}", 1 + rng.below(4)),
                    2 => "IN_PORT".into(),
                    3 if tags > 0 => {
                        tags -= 1;
                        "pop_vlan".into()
                    }
                    4 if tags < 2 => {
                        tags += 1;
                        "push_vlan:0x8100".into()
                    }
                    5 if !proto.is_empty() && proto != "arp" => {
                        pick(rng, &["set_field:192.168.7.7->ip_src", "dec_ttl"]).into()
                    }
                    6 if table == 0 => pick(rng, &["set_field:3->reg0", "resubmit(,1)"]).into(),
                    _ => "load:0x5->NXM_NX_REG9[]".into(),
                };
                set.push(a);
            }
            ins.push(format!("write_actions({})", set.join(",")));
        }
        if table == 0 && rng.below(4) == 0 {
            ins.push("goto_table:1".into());
        }
        if !ins.is_empty() {
            if acts == ["drop"] {
                acts.clear();
            }
            acts.extend(ins);
        }
        out.push_str(&format!("{},actions={}\n", m.join(","), acts.join(",")));
    }
    out
}

fn action_flow(rng: &mut Rng) -> String {
    let mut f = format!(
        "in_port={},dl_src=50:54:00:00:00:0{},dl_dst=50:54:00:00:00:0a",
        1 + rng.below(2),
        rng.below(3)
    );
    if rng.below(2) == 0 {
        f.push_str(&format!(
            ",dl_vlan={},dl_vlan_pcp={}",
            pick(rng, &[5u16, 7, 9]),
            rng.below(8)
        ));
    }
    if rng.below(3) == 0 {
        f.push_str(&format!(",reg0={}", rng.below(4)));
    }
    match rng.below(3) {
        0 => f.push_str(&format!(
            ",arp,arp_op={},arp_spa={},arp_tpa={},arp_sha=50:54:00:00:00:09",
            1 + rng.below(2),
            addr(rng),
            addr(rng)
        )),
        _ => {
            let proto = pick(rng, &["tcp", "udp"]);
            let frag = pick(rng, &["no", "no", "first", "later"]);
            f.push_str(&format!(
                ",{proto},nw_src={},nw_dst={},nw_ttl={},nw_frag={frag}",
                addr(rng),
                addr(rng),
                pick(rng, &[1u8, 64])
            ));
            // A later fragment has no L4 header (OVS refuses ports in its flow).
            if frag != "later" {
                f.push_str(&format!(
                    ",{proto}_src={},{proto}_dst={}",
                    1000 + rng.below(10),
                    pick(rng, &[0u16, 53, 80])
                ));
            }
        }
    }
    f
}

/// Our datapath actions without packet-ins (the controller action of a
/// `dec_ttl` at TTL 1) and the header changes committed for them that no
/// output follows: the random tables compare everything else; the
/// controller action itself is compared with OVS in tests/controller.rs
/// (OVS numbers its recirc_ids across the bridge, we per translation).
fn without_controller(acts: &str) -> String {
    let mut kept: Vec<&str> = split_top(acts)
        .into_iter()
        .filter(|a| !(a.starts_with("userspace(") && a.contains("controller(")))
        .collect();
    while kept.last().is_some_and(|a| a.parse::<u32>().is_err()) {
        kept.pop();
    }
    if kept.is_empty() {
        "drop".to_string()
    } else {
        kept.join(",")
    }
}

/// OVS's datapath actions in our terms: [`without_controller`], and LOCAL's
/// datapath port (100 in OVS's dummy datapath) is ours, 65534.
fn ovs_actions_ours(ovs_acts: &str) -> String {
    let mapped: Vec<String> = split_top(ovs_acts).into_iter().map(ovs_port_ours).collect();
    without_controller(&mapped.join(","))
}

#[test]
fn actions_and_megaflows_match_ovs() {
    let Some(ovs) = Ovs::start_or_skip(4) else {
        return;
    };
    let scale = long_scale();
    let mut rng = Rng::new(fastpath::io::gen::test_seed(7));
    let (mut n, mut same_mask) = (0, 0);
    let file = ovs.dir.join("actions.flows");
    for _ in 0..12 * scale {
        let text = action_rules(&mut rng);
        std::fs::write(&file, &text).expect("write rules");
        ovs.clear_flows(&["-O", "OpenFlow13"]).expect("del-flows");
        ovs.cmd(
            "ovs-ofctl",
            &[
                "-O",
                "OpenFlow13",
                "add-flows",
                "br0",
                &file.display().to_string(),
            ],
        )
        .unwrap_or_else(|e| panic!("OVS refused\n{text}{e}"));
        let of = OfProto::with_rules(
            parse_rules(&text, "actions.flows").unwrap_or_else(|e| panic!("{e}\n{text}")),
            Prefixes::default(),
        );
        for _ in 0..15 {
            let fl = action_flow(&mut rng);
            let out = ovs
                .cmd("ovs-appctl", &["ofproto/trace", "br0", &fl])
                .unwrap_or_else(|e| panic!("trace {fl}: {e}"));
            let line = |p: &str| {
                out.lines()
                    .find_map(|l| l.strip_prefix(p))
                    .map(str::to_string)
                    .unwrap_or_default()
            };
            let (ovs_mf, ovs_acts) = (line("Megaflow: "), line("Datapath actions: "));
            let flow = parse_flow(&fl).expect("flow");
            let key = flow.key();
            let t = of.translate_flow(&flow, false);
            let ours = without_controller(&fastpath::odp::format_actions(&t.actions));
            assert_eq!(
                ours,
                ovs_actions_ours(&ovs_acts),
                "actions differ\nrules:\n{text}flow: {fl}\nOVS:\n{out}"
            );
            let mut ovs_mask = ovs_megaflow_mask(&ovs_mf).unwrap_or_else(|e| panic!("{e}"));
            implicit_tags(&key, &mut ovs_mask);
            let ours_mf = format_match(&key, &t.mask, true);
            assert!(
                t.mask.is_subset_of(&ovs_mask),
                "our megaflow needs bits OVS does not\nrules:\n{text}flow: {fl}\nours: {ours_mf}\nOVS:  {ovs_mf}"
            );
            n += 1;
            let mut ours_cmp = t.mask;
            implicit_tags(&key, &mut ours_cmp);
            if ours_cmp == ovs_mask {
                same_mask += 1;
            } else {
                eprintln!("more general than OVS:\n  ours: {ours_mf}\n  OVS:  {ovs_mf}");
            }
        }
    }
    eprintln!("{n} traces: megaflows equal to OVS: {same_mask}");
}

/// A table of conjunctive matches (clauses on nw_src, nw_dst and tcp_dst,
/// 2 or 3 clauses, sometimes two conjunctions per rule), their `conj_id`
/// rules, and ordinary rules above and below them.
fn conjunction_rules(rng: &mut Rng) -> String {
    let src = ["10.0.0.1", "10.0.0.2", "10.0.0.3"];
    let dst = ["10.0.1.1", "10.0.1.2", "10.0.1.3"];
    let mut out = String::new();
    for id in 1..=3u32 {
        let n = 2 + rng.below(2) as u32;
        let prio = pick(rng, &[5u16, 5, 7]);
        for k in 1..=n {
            for _ in 0..1 + rng.below(2) {
                let m = match k {
                    1 => format!("ip,nw_src={}", pick(rng, &src)),
                    2 => format!("ip,nw_dst={}", pick(rng, &dst)),
                    _ => format!("tcp,tp_dst={}", pick(rng, &[80u16, 443])),
                };
                let mut acts = format!("conjunction({id},{k}/{n})");
                if rng.below(4) == 0 {
                    acts.push_str(&format!(",conjunction({},{k}/{n})", 10 + id));
                }
                out.push_str(&format!("priority={prio},{m},actions={acts}\n"));
            }
        }
        out.push_str(&format!(
            "priority={},conj_id={id},actions=output:{id}\n",
            rng.below(10)
        ));
    }
    for _ in 0..rng.below(4) {
        out.push_str(&format!(
            "priority={},ip,nw_dst={},actions=output:4\n",
            pick(rng, &[1u16, 6, 9]),
            pick(rng, &dst)
        ));
    }
    out.push_str("priority=0,actions=output:5\n");
    out
}

#[test]
fn conjunctive_matches_match_ovs() {
    let Some(ovs) = Ovs::start_or_skip(5) else {
        return;
    };
    let scale = long_scale();
    let mut rng = Rng::new(fastpath::io::gen::test_seed(11));
    let (mut n, mut same_mask) = (0, 0);
    for _ in 0..8 * scale {
        let text = conjunction_rules(&mut rng);
        ovs.load_flows("conj.flows", &text)
            .unwrap_or_else(|e| panic!("OVS refused\n{text}{e}"));
        let of = OfProto::with_rules(
            parse_rules(&text, "conj.flows").unwrap_or_else(|e| panic!("{e}\n{text}")),
            Prefixes::default(),
        );
        for _ in 0..12 {
            let fl = format!(
                "in_port=1,tcp,nw_src=10.0.0.{},nw_dst=10.0.1.{},tcp_src=1000,tcp_dst={}",
                1 + rng.below(4),
                1 + rng.below(4),
                pick(&mut rng, &[22u16, 80, 443])
            );
            let out = ovs
                .cmd("ovs-appctl", &["ofproto/trace", "br0", &fl])
                .unwrap_or_else(|e| panic!("trace {fl}: {e}"));
            let line = |p: &str| {
                out.lines()
                    .find_map(|l| l.strip_prefix(p))
                    .map(str::to_string)
                    .unwrap_or_default()
            };
            let flow = parse_flow(&fl).expect("flow");
            let t = of.translate_flow(&flow, false);
            let ours = without_controller(&fastpath::odp::format_actions(&t.actions));
            assert_eq!(
                ours,
                ovs_actions_ours(&line("Datapath actions: ")),
                "actions differ\nrules:\n{text}flow: {fl}\nOVS:\n{out}"
            );
            let ovs_mf = line("Megaflow: ");
            let ovs_mask = ovs_megaflow_mask(&ovs_mf).unwrap_or_else(|e| panic!("{e}"));
            let ours_mf = format_match(&flow.key(), &t.mask, true);
            // Sound by construction (every clause consulted is
            // un-wildcarded); OVS's prefix tries may read fewer address bits.
            n += 1;
            if t.mask == ovs_mask {
                same_mask += 1;
            } else {
                eprintln!("megaflow differs:\n  ours: {ours_mf}\n  OVS:  {ovs_mf}");
            }
        }
    }
    eprintln!("{n} conjunction traces: megaflows equal to OVS: {same_mask}");
}

/// Traces `flow` through OVS and ours; panics unless the datapath actions
/// (outputs compared as sets between header changes) and megaflows agree.
fn same_as_ovs(ovs: &Ovs, of: &OfProto, text: &str, fl: &str) {
    let ports = ovs.ofports();
    let out = ovs
        .cmd("ovs-appctl", &["ofproto/trace", "br0", fl])
        .unwrap_or_else(|e| panic!("trace {fl}: {e}"));
    let line = |p: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(p))
            .map(str::to_string)
            .unwrap_or_default()
    };
    let flow = parse_flow(fl).expect("flow");
    let t = of.translate_flow(&flow, false);
    let in_port = flow.get(abi::Field::InPort);
    let ours = floods_sorted(
        &without_controller(&fastpath::odp::format_actions(&t.actions)),
        &ports,
        in_port,
    );
    assert_eq!(
        ours,
        floods_sorted(
            &ovs_actions_ours(&line("Datapath actions: ")),
            &ports,
            in_port
        ),
        "actions differ\nrules:\n{text}flow: {fl}\nOVS:\n{out}"
    );
    let ovs_mf = line("Megaflow: ");
    let mut ovs_mask = ovs_megaflow_mask(&ovs_mf).unwrap_or_else(|e| panic!("{e}"));
    let key = flow.key();
    let mut ours_mask = t.mask;
    for m in [&mut ovs_mask, &mut ours_mask] {
        implicit_tags(&key, m);
    }
    assert!(
        ours_mask == ovs_mask,
        "megaflow differs\nrules:\n{text}flow: {fl}\nours: {}\nOVS:  {ovs_mf}",
        format_match(&key, &t.mask, true)
    );
}

#[test]
fn reserved_ports_match_ovs() {
    let Some(ovs) = Ovs::start_or_skip(4) else {
        return;
    };
    let cases = [
        "actions=FLOOD",
        "actions=flood",
        "actions=ALL",
        "actions=output:all",
        "actions=LOCAL",
        "actions=output:local",
        "actions=IN_PORT",
        "actions=in_port",
        "actions=output:In_Port",
        "actions=output:4294967288",
        "actions=output:2,output:3",
        "actions=output:0,output:7,output:65279",
        "actions=output:1,IN_PORT,FLOOD",
        "actions=mod_dl_src:00:00:00:00:00:09,ALL,output:1",
        "actions=mod_nw_dst:10.9.9.9,FLOOD,mod_nw_dst:10.8.8.8,LOCAL",
        "actions=LOCAL,output:4294967294",
        "in_port=1,actions=output:2\nin_port=2,actions=ALL\npriority=0,actions=LOCAL",
    ];
    let flows = [
        "in_port=1,dl_src=50:54:00:00:00:01,dl_dst=50:54:00:00:00:02,tcp,nw_dst=10.0.0.1",
        "in_port=2,dl_src=50:54:00:00:00:02,dl_dst=50:54:00:00:00:01,tcp,nw_dst=10.0.0.1",
        "in_port=4,dl_vlan=5,tcp,nw_dst=10.0.0.2",
        "in_port=LOCAL,tcp,nw_dst=10.0.0.3",
    ];
    for text in cases {
        let text = format!("{text}\n");
        ovs.load_flows("reserved.flows", &text)
            .unwrap_or_else(|e| panic!("OVS refused\n{text}{e}"));
        let mut of = OfProto::with_rules(
            parse_rules(&text, "reserved.flows").unwrap_or_else(|e| panic!("{e}\n{text}")),
            Prefixes::default(),
        );
        of.set_ports(ovs.ofports());
        for fl in flows {
            same_as_ovs(&ovs, &of, &text, fl);
        }
    }
    // Refused at parse time by both, with OVS's reason.
    for bad in ["output:NONE", "output:4294967295", "output:65535", "ANY"] {
        let text = format!("actions={bad}");
        let e = ovs
            .cmd("ovs-ofctl", &["parse-flow", &text])
            .expect_err("OVS accepted");
        assert!(e.contains("OFPBAC_BAD_OUT_PORT"), "{bad}: {e}");
        let ours = parse_rule(&text).expect_err("accepted").to_string();
        assert!(ours.contains("OFPBAC_BAD_OUT_PORT"), "{bad}: {ours}");
    }
}

/// Header rewrites on flows with and without a real L3 header: OVS
/// rewrites IPv4, IPv6 and ARP headers only when nw_proto (arp_op) is not 0,
/// and the write actions and `dec_ttl` make the megaflow exact on it.
#[test]
fn l3_rewrites_follow_nw_proto_as_ovs() {
    let Some(ovs) = Ovs::start_or_skip(4) else {
        return;
    };
    let cases = [
        (
            "ip,actions=mod_nw_src:10.9.9.9,output:2",
            &[
                "in_port=1,ip,nw_src=10.0.0.1",
                "in_port=1,tcp,nw_src=10.0.0.1",
            ][..],
        ),
        (
            "ip,actions=set_field:10.8.8.8->nw_dst,mod_dl_src:00:00:00:00:00:09,output:2",
            &[
                "in_port=1,ip",
                "in_port=1,udp,nw_dst=10.0.0.2",
                "in_port=1,ip,nw_proto=47",
            ],
        ),
        (
            "ip,actions=load:0x0a070707->NXM_OF_IP_SRC[],mod_nw_tos:8,output:2",
            &["in_port=1,ip,nw_tos=4", "in_port=1,icmp,icmp_type=8"],
        ),
        // Unchanged by the write: still exact on nw_proto.
        (
            "ip,actions=mod_nw_tos:8,output:2",
            &["in_port=1,tcp,nw_tos=8", "in_port=1,ip,nw_tos=8"],
        ),
        (
            "actions=dec_ttl,output:2",
            &[
                "in_port=1,ip,nw_ttl=9",
                "in_port=1,tcp6,nw_ttl=9",
                "in_port=1,ipv6,nw_ttl=9",
            ],
        ),
        (
            "ipv6,actions=mod_nw_tos:16,output:2",
            &["in_port=1,ipv6", "in_port=1,udp6"],
        ),
        (
            "arp,actions=set_field:10.1.1.1->arp_spa,output:2,set_field:2->arp_op,output:3",
            &[
                "in_port=1,arp,arp_op=0",
                "in_port=1,arp,arp_op=1",
                "in_port=1,arp,arp_op=2",
            ],
        ),
    ];
    for (text, flows) in cases {
        let text = format!("{text}\n");
        ovs.load_flows("l3.flows", &text)
            .unwrap_or_else(|e| panic!("OVS refused\n{text}{e}"));
        let mut of = OfProto::with_rules(
            parse_rules(&text, "l3.flows").unwrap_or_else(|e| panic!("{e}\n{text}")),
            Prefixes::default(),
        );
        of.set_ports(ovs.ofports());
        for fl in flows {
            same_as_ovs(&ovs, &of, &text, fl);
        }
    }
}

/// One frame of a NORMAL learning sequence: (in_port, VLAN, dl_src, dl_dst).
type Frame = (u32, Option<u16>, &'static str, &'static str);

/// The frame as an `ofproto/trace` flow and as a datapath key for
/// `netdev-dummy/receive`.
fn frame_texts(&(port, vlan, src, dst): &Frame) -> (String, String) {
    let tag = vlan.map(|v| format!(",dl_vlan={v}")).unwrap_or_default();
    let trace = format!(
        "in_port={port}{tag},dl_src={src},dl_dst={dst},tcp,nw_src=10.0.0.1,nw_dst=10.0.0.2,tcp_src=1,tcp_dst=2"
    );
    let l3 = "eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=6,tos=0,ttl=64,frag=no),tcp(src=1,dst=2)";
    let body = match vlan {
        Some(v) => format!("eth_type(0x8100),vlan(vid={v},pcp=0),encap({l3})"),
        None => l3.to_string(),
    };
    let odp = format!("in_port({port}),eth(src={src},dst={dst}),{body}");
    (trace, odp)
}

#[test]
fn normal_learning_matches_ovs() {
    let Some(ovs) = Ovs::start_or_skip(4) else {
        return;
    };
    const A: &str = "50:54:00:00:00:0a";
    const B: &str = "50:54:00:00:00:0b";
    const C: &str = "50:54:00:00:00:0c";
    const MC: &str = "01:00:5e:00:00:01";
    const BCAST: &str = "ff:ff:ff:ff:ff:ff";
    // A floods; B to A goes to A's port only; A moves; per-VLAN tables;
    // multicast and broadcast destinations flood, multicast sources are
    // not learned, reserved (STP) destinations drop, the input port never
    // gets its frame back.
    let frames: [Frame; 14] = [
        (1, None, A, B),
        (2, None, B, A),
        (1, None, A, B),
        (3, None, C, BCAST),
        (1, None, A, C),
        (2, Some(7), B, A),
        (1, Some(7), A, B),
        (4, None, A, C),
        (2, None, B, A),
        (1, None, MC, B),
        (3, None, C, MC),
        (2, None, C, B),
        (3, None, B, C),
        (1, None, A, "01:80:c2:00:00:00"),
    ];
    let text = "actions=NORMAL\n";
    ovs.load_flows("normal.flows", text).expect("add-flows");
    let mut of = OfProto::with_rules(parse_rules(text, "t").expect("parse"), Prefixes::default());
    of.set_ports(ovs.ofports());
    for (i, fr) in frames.iter().enumerate() {
        let (trace, odp) = frame_texts(fr);
        same_as_ovs(&ovs, &of, text, &trace);
        // The frame arrives: OVS learns in its upcall, we from the translation.
        ovs.cmd(
            "ovs-appctl",
            &["netdev-dummy/receive", &format!("p{}", fr.0), &odp],
        )
        .unwrap_or_else(|e| panic!("receive {odp}: {e}"));
        let t = of.translate_flow(&parse_flow(&trace).expect("flow"), false);
        of.learn(&t.learn, i as u64);
        // Wait until OVS's table has what ours has (its upcall is asynchronous).
        let want = of.n_macs();
        let mut got = 0;
        for _ in 0..400 {
            let fdb = ovs
                .cmd("ovs-appctl", &["fdb/show", "br0"])
                .expect("fdb/show");
            got = fdb.lines().skip(1).count();
            let entry = format!("{:>5}  {:>4}  {}", fr.0, fr.1.unwrap_or(0), fr.2);
            if got == want && (t.learn.is_empty() || fdb.contains(&entry)) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(got, want, "MAC table sizes differ after frame {i} {fr:?}");
    }
}

/// The rules of `table` as `ovs-ofctl dump-flows` lists them, read back
/// and printed as flow mods, sorted (statistics and order dropped).
fn ovs_table(ovs: &Ovs, table: u8) -> Vec<String> {
    use fastpath::ofproto::ofctl::{format_flow_mod, Dialect};
    let out = ovs
        .cmd(
            "ovs-ofctl",
            &["dump-flows", "br0", &format!("table={table}")],
        )
        .expect("dump-flows");
    let mut v: Vec<String> = out
        .lines()
        .filter(|l| l.contains("actions="))
        .map(|l| {
            let r = parse_rule(l.trim()).unwrap_or_else(|e| panic!("dump-flows line {l}: {e}"));
            format_flow_mod(&r, Dialect::Oxm)
        })
        .collect();
    v.sort();
    v
}

/// Our live rules of `table`, printed as [`ovs_table`] prints OVS's.
fn our_table(of: &OfProto, table: u8) -> Vec<String> {
    use fastpath::ofproto::ofctl::{format_flow_mod, Dialect};
    let mut v: Vec<String> = (0..of.rules.len() as u32)
        .filter(|&id| of.is_live(id) && of.rules[id as usize].table == table)
        .map(|id| format_flow_mod(&of.rules[id as usize], Dialect::Oxm))
        .collect();
    v.sort();
    v
}

/// `learn` hit by frames (`netdev-dummy/receive` on OVS's side, the
/// upcall's translation on ours): after each frame both learned tables
/// hold the same rules, and traces before and after agree.
#[test]
fn learn_matches_ovs() {
    let Some(ovs) = Ovs::start_or_skip(4) else {
        return;
    };
    const A: &str = "50:54:00:00:00:0a";
    const B: &str = "50:54:00:00:00:0b";
    const C: &str = "50:54:00:00:00:0c";
    // MAC learning by rules (OVS's learn.at), plus a second learn of
    // immediates and field copies with timeouts, priority and cookie.
    let text = "table=0 priority=10 tcp actions=learn(table=1,hard_timeout=60,priority=5,cookie=0x9,NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0x7->NXM_NX_REG1[0..3],output:NXM_OF_IN_PORT[]),learn(table=2,idle_timeout=30,eth_type=0x800,nw_proto=6,NXM_OF_IP_DST[]=NXM_OF_IP_SRC[],NXM_OF_TCP_DST[]=NXM_OF_TCP_SRC[],load:NXM_OF_TCP_SRC[]->NXM_NX_REG2[0..15]),resubmit(,1)\n\
                table=1 priority=0 actions=flood\n\
                table=2 priority=0 actions=drop\n";
    let frames: [Frame; 7] = [
        (1, None, A, B),
        (2, None, B, A),
        (1, None, A, B),
        (3, Some(7), C, A),
        (4, None, A, C),
        (2, None, B, C),
        (3, Some(7), C, B),
    ];
    ovs.load_flows("learn.flows", text).expect("add-flows");
    let mut of = OfProto::with_rules(parse_rules(text, "t").expect("parse"), Prefixes::default());
    of.set_ports(ovs.ofports());
    for (i, fr) in frames.iter().enumerate() {
        let (trace, odp) = frame_texts(fr);
        same_as_ovs(&ovs, &of, text, &trace);
        // A trace installs nothing, in either switch.
        assert_eq!(
            ovs_table(&ovs, 1),
            our_table(&of, 1),
            "after tracing frame {i}"
        );
        ovs.cmd(
            "ovs-appctl",
            &["netdev-dummy/receive", &format!("p{}", fr.0), &odp],
        )
        .unwrap_or_else(|e| panic!("receive {odp}: {e}"));
        let t = of.translate_flow(&parse_flow(&trace).expect("flow"), false);
        of.learn_flows(&t.learned, i as u64 * 1000);
        of.apply_learned();
        for table in [1, 2] {
            let want = our_table(&of, table);
            let mut got = Vec::new();
            // OVS's upcall is asynchronous: wait for its table to catch up.
            for _ in 0..400 {
                got = ovs_table(&ovs, table);
                if got == want {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            assert_eq!(got, want, "table {table} differs after frame {i} {fr:?}");
        }
    }
    // Follow-up flows through what was learned.
    for fr in &frames {
        same_as_ovs(&ovs, &of, text, &frame_texts(fr).0);
    }
}

/// `learn(…,delete_learned)` (OVS's learn.at case): deleting the learning
/// rules one by one leaves the same tables in both switches.
#[test]
fn delete_learned_matches_ovs() {
    let Some(ovs) = Ovs::start_or_skip(4) else {
        return;
    };
    let text = "reg0=0x1 actions=learn(delete_learned,cookie=0x123)\n\
                reg0=0x2 actions=learn(delete_learned,cookie=0x123)\n\
                cookie=0x123, table=1, reg0=0x3 actions=drop\n\
                cookie=0x123, table=1, reg0=0x4 actions=drop\n\
                cookie=0x123, table=2, reg0=0x5 actions=drop\n\
                cookie=0x234, table=1, reg0=0x6 actions=drop\n";
    ovs.load_flows("delete_learned.flows", text)
        .expect("add-flows");
    let mut of = OfProto::with_rules(parse_rules(text, "t").expect("parse"), Prefixes::default());
    for (id, m) in [(0, "reg0=0x1"), (1, "reg0=0x2")] {
        ovs.cmd("ovs-ofctl", &["--strict", "del-flows", "br0", m])
            .expect("del-flows");
        of.delete_rule(id);
        for table in 0..3 {
            assert_eq!(
                ovs_table(&ovs, table),
                our_table(&of, table),
                "table {table} after deleting {m}"
            );
        }
    }
}
