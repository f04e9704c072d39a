//! fastpath against the real Open vSwitch on every corpus rule fastpath
//! accepts (tests/ovs-corpus/rules.txt, from OVS's own tests and docs):
//!
//! - `fastpath parse-flow` prints what `ovs-ofctl parse-flow` prints;
//! - a flow through the rule, and one just missing it, give `ofproto/trace`'s
//!   `Flow:`, `Megaflow:` and `Datapath actions:` lines.
//!
//! Every difference must be listed, with its reason, in
//! tests/ovs-corpus/known-differences.txt (`SOURCE<TAB>CHECK<TAB>REASON`);
//! an unlisted difference fails, and so does a listed one that no longer
//! occurs (so the list stays true). Skipped, with a message, without OVS
//! unless FASTPATH_REQUIRE_OVS=1 (CI).

use fastpath::odp::format_actions;
use fastpath::ofproto::fields::FIELDS;
use fastpath::ofproto::format::{format_flow, format_match};
use fastpath::ofproto::groups::GroupTable;
use fastpath::ofproto::ofctl::{format_flow_mod, Dialect};
use fastpath::ofproto::parse::{parse_rule, parse_trace_flow, Action, Rule};
use fastpath::ofproto::{parse_rules, Flow, OfProto, Prefixes};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

mod ovs_common;
use ovs_common::{
    corpus, floods_sorted, implicit_tags, ovs_megaflow_mask, ovs_port_ours, priority_as_ovs,
    recirc_ids_renumbered, split_top, Ovs,
};

/// Known differences: (source, check) -> reason.
fn known() -> BTreeMap<(String, String), String> {
    corpus("known-differences.txt")
        .into_iter()
        .map(|(src, rest)| {
            let (check, why) = rest
                .split_once('\t')
                .unwrap_or_else(|| panic!("known-differences.txt: `{src}` has no reason"));
            ((src, check.to_string()), why.to_string())
        })
        .collect()
}

/// Accepted corpus rules.
fn accepted() -> Vec<(String, String, Rule)> {
    corpus("rules.txt")
        .into_iter()
        .filter_map(|(s, t)| parse_rule(&t).ok().map(|r| (s, t, r)))
        .collect()
}

struct Diffs {
    found: BTreeMap<(String, String), String>,
}

impl Diffs {
    fn check(&mut self, src: &str, check: &str, ours: &str, ovs: &str, ctx: &str) {
        if ours != ovs {
            self.found.insert(
                (src.to_string(), check.to_string()),
                format!("{ctx}\n    ours: {ours}\n    OVS:  {ovs}"),
            );
        }
    }

    /// Fails on differences not listed and listed ones not found, among `checks`.
    fn finish(self, checks: &[&str], n: usize) {
        let known = known();
        let mut unlisted = Vec::new();
        let mut by_check: BTreeMap<&str, usize> = BTreeMap::new();
        for ((src, check), what) in &self.found {
            *by_check.entry(check.as_str()).or_default() += 1;
            if !known.contains_key(&(src.clone(), check.clone())) {
                unlisted.push(format!("{src}\t{check}: {what}"));
            }
        }
        let found: BTreeSet<_> = self.found.keys().collect();
        let stale: Vec<String> = known
            .keys()
            .filter(|k| checks.contains(&k.1.as_str()) && !found.contains(k))
            .map(|(s, c)| format!("{s}\t{c}"))
            .collect();
        eprintln!(
            "{n} rules checked; differences by check (each listed with its reason): {by_check:?}"
        );
        assert!(
            unlisted.is_empty(),
            "{} differences from Open vSwitch are not in known-differences.txt:\n{}",
            unlisted.len(),
            unlisted.join("\n")
        );
        assert!(
            stale.is_empty(),
            "known-differences.txt lists differences that no longer occur:\n{}",
            stale.join("\n")
        );
    }
}

#[test]
fn parse_flow_prints_as_ovs_ofctl() {
    if !Ovs::available() {
        return;
    }
    let rules = accepted();
    let mut d = Diffs {
        found: BTreeMap::new(),
    };
    for (src, text, r) in &rules {
        let o = Command::new("ovs-ofctl")
            .args(["parse-flow", text])
            .output()
            .expect("run ovs-ofctl");
        let out = String::from_utf8_lossy(&o.stdout);
        let Some(ovs) = out
            .lines()
            .find_map(|l| l.split_once("): ADD ").map(|x| x.1))
        else {
            let why = out.lines().find(|l| l.contains("FLOW_MOD")).unwrap_or("");
            d.check(src, "parse-flow", "", why, text);
            continue;
        };
        let ours = format_flow_mod(r, Dialect::for_rules([r]));
        let (om, oa) = ours.split_once("actions=").unwrap_or((&ours, ""));
        let (vm, va) = ovs.split_once("actions=").unwrap_or((ovs, ""));
        d.check(src, "parse-flow match", om, vm, text);
        d.check(src, "parse-flow actions", oa, va, text);
    }
    d.finish(
        &["parse-flow", "parse-flow match", "parse-flow actions"],
        rules.len(),
    );
}

/// A flow that matches `r`: its match values, in_port 1 unless it names one.
fn flow_through(r: &Rule) -> Flow {
    let mut f = r.m.value;
    if r.m.mask.get(abi::Field::InPort) == 0 {
        f.set(abi::Field::InPort, 1);
    }
    f
}

/// The same flow with the lowest matched bit of one field (past the
/// protocol fields) flipped, when there is one.
fn flow_missing(r: &Rule) -> Option<Flow> {
    let skip = ["in_port", "dl_type", "nw_proto", "vlan_tci"];
    let mf = FIELDS
        .iter()
        .find(|mf| !skip.contains(&mf.name) && mf.get(&r.m.mask) != 0)?;
    let mut f = flow_through(r);
    let bit = mf.get(&r.m.mask) & mf.get(&r.m.mask).wrapping_neg();
    let v = mf.get(&f) ^ bit;
    mf.set_masked(&mut f, v, bit);
    Some(f)
}

/// A flow as a trace-flow argument both parsers take: the `Flow:` line
/// without what OVS prints but does not read back (`vlan_tci1`,
/// `ipv6_label`, which the key lacks anyway), with ICMPv6's own field names.
fn trace_input(f: &Flow) -> String {
    let s = format_flow(f);
    let v6 = s.starts_with("icmp6,");
    let l4 = ["udp", "sctp"]
        .into_iter()
        .find(|p| s.starts_with(&format!("{p},")) || s.starts_with(&format!("{p}6,")));
    s.split(',')
        .filter(|t| !t.starts_with("vlan_tci1=") && !t.starts_with("ipv6_label="))
        .map(|t| match t.split_once('=') {
            Some((k @ ("icmp_type" | "icmp_code"), v)) if v6 => {
                format!("icmpv6_{}={v}", &k[5..])
            }
            Some((k @ ("tp_src" | "tp_dst"), v)) if l4.is_some() => {
                format!("{}_{}={v}", l4.unwrap_or_default(), &k[3..])
            }
            _ => t.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Our megaflow mask with OVS's TCI masks where the two say the same
/// through OVS's key structure ([`implicit_tags`]: an untagged frame exact
/// on "no VLAN" is OVS's key without a vlan attribute), so only real
/// differences remain; printing differences elsewhere are kept.
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

/// An `all` group (to ports 2 and 3) for each group `r` names.
fn group_file(r: &Rule) -> String {
    fn named(acts: &[Action], out: &mut BTreeSet<u32>) {
        for a in acts {
            match a {
                Action::Group(g) => {
                    out.insert(*g);
                }
                Action::WriteActions(inner) | Action::Clone(inner) => named(inner, out),
                _ => {}
            }
        }
    }
    let mut ids = BTreeSet::new();
    named(&r.actions, &mut ids);
    ids.iter()
        .map(|g| format!("group_id={g},type=all,bucket=output:2,bucket=output:3\n"))
        .collect()
}

#[test]
fn trace_gives_ofproto_trace_lines() {
    let Some(ovs) = Ovs::start_or_skip(8) else {
        return;
    };
    let rules = accepted();
    let mut d = Diffs {
        found: BTreeMap::new(),
    };
    let file = ovs.dir.join("rule.flows");
    let ports = ovs.ofports();
    let mut n = 0;
    for (src, text, r) in &rules {
        // A rule in a later table is reached from table 0.
        let table = if r.table != 0 {
            format!("table=0,priority=0,actions=goto_table:{}\n", r.table)
        } else {
            String::new()
        };
        let all = format!("{table}{text}\n");
        std::fs::write(&file, &all).expect("write rules");
        ovs.clear_flows(&[]).expect("del-flows");
        // ovs-ofctl's default OpenFlow 1.0 drops instructions it cannot
        // encode (write_actions, clear_actions): such rules go as 1.3.
        let path = file.display().to_string();
        let mut args = vec!["add-flows", "br0", &path];
        if text.contains("write_actions") || text.contains("clear_actions") {
            args.splice(0..0, ["-O", "OpenFlow13"]);
        }
        // A rule naming groups gets them on both sides (OVS refuses it
        // otherwise): each an `all` group to ports 2 and 3.
        let groups = group_file(r);
        let gfile = ovs.dir.join("rule.groups");
        ovs.cmd("ovs-ofctl", &["del-groups", "br0"])
            .expect("del-groups");
        if !groups.is_empty() {
            std::fs::write(&gfile, &groups).expect("write groups");
            ovs.cmd(
                "ovs-ofctl",
                &["add-groups", "br0", &gfile.display().to_string()],
            )
            .expect("add-groups");
        }
        if let Err(e) = ovs.cmd("ovs-ofctl", &args) {
            d.found.insert(
                (src.clone(), "add-flow".into()),
                format!("{text}\n    OVS refuses it on a bridge: {e}"),
            );
            continue;
        }
        n += 1;
        let mut of = OfProto::with_rules(
            parse_rules(&all, "rule.flows").expect("parse"),
            "nw_dst,nw_src".parse::<Prefixes>().expect("prefixes"),
        );
        // br0's ports: outputs to others do nothing, floods reach these.
        of.set_ports(ovs.ofports());
        of.set_groups(GroupTable::from_text(&groups, "rule.groups").expect("groups"))
            .expect("the rule's groups exist");
        let flows =
            std::iter::once(("hit", flow_through(r))).chain(flow_missing(r).map(|f| ("miss", f)));
        for (what, f) in flows {
            let fl = trace_input(&f);
            // fastpath reads the flow as its `trace` command does; both
            // refusing it is agreement.
            let (ours, out) = (
                parse_trace_flow(&fl),
                ovs.cmd("ovs-appctl", &["ofproto/trace", "br0", &fl]),
            );
            let (f, out) = match (ours, out) {
                (Ok(f), Ok(o)) => (f, o),
                (Err(_), Err(_)) => continue,
                (ours, ovs) => {
                    d.found.insert(
                        (src.clone(), format!("trace {what}")),
                        format!(
                            "{text}\n    flow: {fl}\n    ours: {:?}\n    OVS: {:?}",
                            ours.err(),
                            ovs.err()
                        ),
                    );
                    continue;
                }
            };
            let line = |p: &str| {
                out.lines()
                    .find_map(|l| l.strip_prefix(p))
                    .unwrap_or("")
                    .to_string()
            };
            // A trace: controller actions say dont_send=1, as OVS's.
            let t = of.translate_flow(&f, true);
            let ctx = format!("{text}\n    flow: {fl}");
            d.check(
                src,
                &format!("{what} Flow"),
                &format_flow(&f),
                &line("Flow: "),
                &ctx,
            );
            let ovs_mf = line("Megaflow: ");
            d.check(
                src,
                &format!("{what} Megaflow"),
                &priority_as_ovs(
                    format_match(&f.key(), &tags_as_ovs(&f.key(), &t.mask, &ovs_mf), true),
                    t.priority_matched,
                ),
                &ovs_mf,
                &ctx,
            );
            // In our port numbering, floods in port order (OVS's is its
            // hash table's: docs/ovs-compat.md).
            let ovs_acts: Vec<String> =
                split_top(&recirc_ids_renumbered(&line("Datapath actions: ")))
                    .into_iter()
                    .map(ovs_port_ours)
                    .collect();
            let in_port = f.get(abi::Field::InPort);
            d.check(
                src,
                &format!("{what} Datapath actions"),
                &floods_sorted(&format_actions(&t.actions), &ports, in_port),
                &floods_sorted(&ovs_acts.join(","), &ports, in_port),
                &ctx,
            );
        }
    }
    let checks: Vec<String> = ["Flow", "Megaflow", "Datapath actions"]
        .iter()
        .flat_map(|c| [format!("hit {c}"), format!("miss {c}")])
        .chain([
            "add-flow".to_string(),
            "trace hit".into(),
            "trace miss".into(),
        ])
        .collect();
    let refs: Vec<&str> = checks.iter().map(|s| s.as_str()).collect();
    d.finish(&refs, n);
}
