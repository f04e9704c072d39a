//! Groups in `fastpath switch` (pcap ports, no privileges): `--groups`,
//! and the control socket's `add-group`, `add-groups`, `del-groups`,
//! `dump-groups`, with OVS's refusal of rules naming a missing group and
//! its deletion of the rules naming a deleted group.

mod switch_common;
use switch_common as common;
use switch_common::Sw;

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_fastpath");

fn dir(name: &str) -> PathBuf {
    common::test_dir("swgrp", name)
}

/// The switch with `rules` and the group table `groups`, once it has read
/// its 200 UDP frames on port 1.
fn start(d: &Path, rules: &str, groups: &str) -> Sw {
    let gf = d.join("sw.groups");
    std::fs::write(&gf, groups).unwrap();
    Sw::start_on(
        d,
        make_input(d),
        200,
        rules,
        &["--groups", gf.to_str().unwrap()],
    )
}

/// 200 UDP frames received on port 1 (written by `fastpath run`).
fn make_input(d: &Path) -> PathBuf {
    common::make_input_of(d, "flows=20,zipf=1.0,packets=200,seed=3")
}

#[test]
fn group_commands_on_the_control_socket() {
    let d = dir("ctl");
    let sw = start(
        &d,
        "priority=10,in_port=1,udp,actions=group:1\n",
        "group_id=1,type=indirect,bucket=output:2\n",
    );
    let c = |args: &[&str]| common::ctl(&sw.ctl, args);
    // Every frame went through the group's rule.
    assert!(
        c(&["dump-flows"]).contains("n_packets=200,"),
        "{}",
        c(&["dump-flows"])
    );
    assert_eq!(
        c(&["dump-groups"]),
        " group_id=1,type=indirect,bucket=bucket_id:0,actions=output:2\n"
    );
    c(&[
        "add-group",
        "group_id=2,type=all,bucket=output:1,bucket=output:2",
    ]);
    let groups = d.join("more.groups");
    std::fs::write(&groups, "group_id=3,type=ff,bucket=watch_port:2,output:2\n").unwrap();
    c(&["add-groups", groups.to_str().unwrap()]);
    let j = common::ctl_json(&sw.ctl, &["dump-groups"]);
    assert_eq!(j["groups"].as_array().map(Vec::len), Some(3), "{j}");
    // As ovs-vswitchd: an existing id, and a rule naming a missing group.
    let e = common::try_ctl(
        &sw.ctl,
        &["add-group", "group_id=2,type=all,bucket=output:1"],
    )
    .unwrap_err();
    assert!(e.contains("OFPGMFC_GROUP_EXISTS"), "{e}");
    let e = common::try_ctl(&sw.ctl, &["add-flow", "udp,actions=group:9"]).unwrap_err();
    assert!(e.contains("OFPBAC_BAD_OUT_GROUP"), "{e}");
    // ovs-ofctl's parse errors.
    let e = common::try_ctl(&sw.ctl, &["add-group", "group_id=4,bucket=output:1"]).unwrap_err();
    assert!(e.contains("must specify a type"), "{e}");
    // Deleting group 1 deletes the rule that names it, as OVS does.
    let out = c(&["del-groups", "group_id=1"]);
    assert!(out.contains("groups: 1 deleted, rules: 1 deleted"), "{out}");
    assert!(!c(&["dump-flows"]).contains("group:1"));
    c(&["del-groups"]);
    assert_eq!(c(&["dump-groups"]), "");
    c(&["exit"]);
}

#[test]
fn bad_groups_file_or_missing_group_stops_the_commands() {
    let d = dir("bad");
    let rf = d.join("r.flows");
    std::fs::write(&rf, "udp,actions=group:7\n").unwrap();
    let gf = d.join("g.groups");
    std::fs::write(&gf, "group_id=1,type=all,bucket=output:1\n").unwrap();
    let input = make_input(&d);
    for (groups, want) in [
        (None, "OFPBAC_BAD_OUT_GROUP"),
        (Some(&gf), "OFPBAC_BAD_OUT_GROUP"),
    ] {
        let mut cmd = Command::new(BIN);
        cmd.args(["trace", "--rules"]).arg(&rf);
        if let Some(g) = groups {
            cmd.arg("--groups").arg(g);
        }
        let o = cmd.arg("in_port=1,udp").output().unwrap();
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want), "{err}");
    }
    std::fs::write(&gf, "group_id=1,type=bogus,bucket=output:1\n").unwrap();
    let o = Command::new(BIN)
        .args(["run", "--nic", "none", "--quiet", "--rules"])
        .arg(&rf)
        .arg("--groups")
        .arg(&gf)
        .arg("--pcap")
        .arg(&input)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("g.groups:1: invalid group type bogus"),
        "{err}"
    );
}
