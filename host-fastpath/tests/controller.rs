//! CONTROLLER and `controller(...)`: every syntax form against the real
//! `ovs-ofctl parse-flow`, translation against OVS's `ofproto/trace`
//! (Megaflow and Datapath actions), and delivery to the controller sink
//! (`--controller-pcap` of `fastpath run` and `fastpath switch`, the
//! switch's `controller/show`), read back and counted. The OVS checks are
//! skipped, with a message, without OVS unless FASTPATH_REQUIRE_OVS=1.

mod ovs_common;
mod switch_common;

use fastpath::io::pcap::PcapReader;
use fastpath::odp::format_actions;
use fastpath::ofproto::format::format_match;
use fastpath::ofproto::ofctl::{format_flow_mod, Dialect};
use fastpath::ofproto::parse::{parse_rule, parse_trace_flow};
use fastpath::ofproto::{parse_rules, OfProto, Prefixes};
use ovs_common::{recirc_ids_renumbered, Ovs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_fastpath");

/// Forms OVS accepts, and ones it refuses (each with its message).
const FORMS: &[&str] = &[
    "controller",
    "CONTROLLER",
    "output:CONTROLLER",
    "output:controller",
    "output:65533",
    "output:4294967293",
    "controller:100",
    "Controller:5",
    "controller:",
    "controller()",
    "controller:0",
    "controller:010",
    "controller(reason=action,max_len=100)",
    "controller(reason=no_match)",
    "controller(reason=NO_MATCH)",
    "controller(reason=invalid_ttl)",
    "controller(reason=action_set)",
    "controller(reason=group)",
    "controller(reason=packet_out)",
    "controller(reason=)",
    "controller(reason)",
    "controller(reason=invalid_ttl,reason=action)",
    "controller(id=3)",
    "controller(id=0)",
    "controller(id=0x10)",
    "controller(id=010)",
    "controller(userdata=01.02.03)",
    "controller(userdata=0102)",
    "controller(userdata=A1)",
    "controller(userdata=01.02.)",
    "controller(userdata=.01)",
    "controller(userdata=)",
    "controller(userdata=0102,userdata=03)",
    "controller(pause)",
    "controller(pause=1)",
    "controller(meter_id=5)",
    "controller(meter_id=0)",
    "controller(meter_id=4294967297)",
    "controller(meter_id=-1)",
    "controller(max_len=0)",
    "controller(max_len=65535)",
    "controller(max_len=0x10)",
    "controller(max_len=-0)",
    "controller(max_len:100)",
    "controller(max_len(100),id=2)",
    "controller(reason=no_match max_len=5)",
    "controller(id=1,,max_len=3)",
    "controller(max_len=1,max_len=2)",
    "controller(reason=no_match,max_len=65535)",
    "controller(max_len=100,reason=no_match,id=2,userdata=aa.bb,pause,meter_id=3)",
    "controller,output:2",
    "in_port,controller",
    "controller(id=1),output:2",
    "write_actions(controller:100)",
    // Refused.
    "controller(reason=foo)",
    "controller(reason=1)",
    "controller(reason=explicit_miss)",
    "controller(id=65536)",
    "controller(id=-1)",
    "controller(id)",
    "controller(max_len=65536)",
    "controller(max_len)",
    "controller(max_len=abc)",
    "controller(max_len=0x)",
    "controller:65536",
    "controller:0x10",
    "controller:09",
    "controller(bogus)",
    "controller(MAX_LEN=5)",
    "controller(userdata=1)",
    "controller(userdata=01.2)",
    "controller(userdata=0g)",
    "controller(userdata=01:02)",
    "controller(meter_id=abc)",
    "controller(meter_id)",
    "output(port=CONTROLLER,max_len=100)",
];

#[test]
fn every_controller_form_parses_and_prints_as_ovs_ofctl() {
    if !Ovs::available() {
        return;
    }
    let (mut accepted, mut refused) = (0, 0);
    for form in FORMS {
        let text = format!("actions={form}");
        let o = Command::new("ovs-ofctl")
            .args(["parse-flow", &text])
            .output()
            .expect("run ovs-ofctl");
        let out = String::from_utf8_lossy(&o.stdout);
        let ovs = out
            .lines()
            .find_map(|l| l.split_once("): ADD ").map(|x| x.1));
        match (parse_rule(&text), ovs) {
            (Ok(r), Some(ovs)) => {
                assert_eq!(format_flow_mod(&r, Dialect::for_rules([&r])), ovs, "{text}");
                accepted += 1;
            }
            (Err(e), None) => {
                let err = String::from_utf8_lossy(&o.stderr);
                let msg = err
                    .lines()
                    .find_map(|l| l.strip_prefix("ovs-ofctl: "))
                    .unwrap_or_else(|| panic!("{text}: no ovs-ofctl error in {err}"));
                assert_eq!(e.msg, msg, "{text}");
                refused += 1;
            }
            (ours, ovs) => panic!("{text}: fastpath {ours:?}, ovs-ofctl {ovs:?}"),
        }
    }
    eprintln!("{accepted} forms accepted, {refused} refused, all as ovs-ofctl");
    assert!(accepted > 40 && refused > 20);
}

/// Rule sets and the flows traced through them.
const TRACES: &[(&str, &[&str])] = &[
    (
        "in_port=1,actions=controller\n",
        &["in_port=1,tcp,nw_dst=1.2.3.4", "in_port=1,arp", "in_port=1,ipv6"],
    ),
    (
        "cookie=0x5,in_port=1,actions=controller:100\n",
        &["in_port=1,udp,nw_src=10.0.0.1,udp_dst=53"],
    ),
    (
        "in_port=1,actions=controller(reason=no_match,max_len=10,id=7),output:2\n",
        &["in_port=1,tcp"],
    ),
    (
        "in_port=1,actions=output:2,controller(id=3),output:1\n",
        &["in_port=1,tcp"],
    ),
    (
        // Header changes are committed before the copy; equal frozen
        // states share a recirc_id even after a header change.
        "priority=0,actions=controller,mod_dl_src:00:00:00:00:00:01,controller(id=3,userdata=01),output:2,controller,controller(pause),output:1\n",
        &["in_port=1,tcp,nw_dst=1.2.3.4"],
    ),
    (
        // Table-miss rule (priority 0, match-all): reason explicit_miss.
        "priority=0,actions=controller\n",
        &["in_port=1,tcp"],
    ),
    (
        "in_port=1,actions=controller(pause),output:2\n",
        &["in_port=1,tcp"],
    ),
    (
        "in_port=1,actions=controller(reason=invalid_ttl),controller(reason=action_set),controller(reason=group),controller(reason=packet_out),controller(reason=),controller(meter_id=5)\n",
        &["in_port=1,tcp"],
    ),
    (
        // In the action set: reason action_set, the cookie of table 0's rule.
        "cookie=0x7,in_port=1,actions=write_actions(controller:50),goto_table:1\ncookie=0x9,table=1,actions=output:2\n",
        &["in_port=1,tcp"],
    ),
    (
        "in_port=1,actions=write_actions(output:2),goto_table:1\ntable=1,actions=controller(id=2)\n",
        &["in_port=1,tcp"],
    ),
    (
        "in_port=1,actions=controller,resubmit(,1)\ntable=1,cookie=0x3,actions=controller(id=2),output:2\n",
        &["in_port=1,tcp"],
    ),
    (
        // dec_ttl at TTL 1 sends the packet to the controller (invalid_ttl).
        "in_port=1,ip,actions=dec_ttl,output:2\n",
        &["in_port=1,ip,nw_ttl=1", "in_port=1,ip,nw_ttl=9"],
    ),
];

#[test]
fn controller_translation_gives_ofproto_trace_megaflow_and_actions() {
    let Some(ovs) = Ovs::start_or_skip(2) else {
        return;
    };
    let file = ovs.dir.join("ctl.flows");
    let mut n = 0;
    for (rules, flows) in TRACES {
        std::fs::write(&file, rules).expect("write rules");
        ovs.clear_flows(&[]).expect("del-flows");
        let path = file.display().to_string();
        ovs.cmd(
            "ovs-ofctl",
            &["-O", "OpenFlow13", "add-flows", "br0", &path],
        )
        .expect("add-flows");
        let mut of = OfProto::with_rules(
            parse_rules(rules, "ctl.flows").expect("parse"),
            Prefixes::default(),
        );
        of.set_ports(ovs.ofports());
        for fl in *flows {
            let out = ovs
                .cmd("ovs-appctl", &["ofproto/trace", "br0", fl])
                .expect("trace");
            let line = |p: &str| {
                out.lines()
                    .find_map(|l| l.strip_prefix(p))
                    .unwrap_or("")
                    .to_string()
            };
            let f = parse_trace_flow(fl).expect("flow");
            let t = of.translate_flow(&f, true);
            let ctx = format!("{rules}    flow: {fl}");
            assert_eq!(
                format_match(&f.key(), &t.mask, true),
                line("Megaflow: "),
                "{ctx}"
            );
            assert_eq!(
                format_actions(&t.actions),
                recirc_ids_renumbered(&line("Datapath actions: ")),
                "{ctx}"
            );
            n += 1;
        }
    }
    assert_eq!(n, TRACES.iter().map(|t| t.1.len()).sum::<usize>());
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fastpath-ctl-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn frames(p: &Path) -> Vec<Vec<u8>> {
    PcapReader::open(p)
        .expect("open pcap")
        .read_all()
        .expect("read pcap")
}

fn run_ok(args: &[&str]) -> String {
    let o = Command::new(BIN).args(args).output().expect("run fastpath");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn run_writes_controller_packets_cut_to_max_len_and_counts_them() {
    let d = dir("run");
    let rules = d.join("r.flows");
    // TCP: 64 bytes to the controller and the whole frame to port 2; UDP:
    // all of it to the controller only; the rest dropped.
    std::fs::write(
        &rules,
        "in_port=1,tcp,actions=controller:40,output:2\nin_port=1,udp,actions=controller(reason=no_match,id=4)\nin_port=1,actions=drop\n",
    )
    .expect("write");
    let (r, cp, st) = (
        rules.display().to_string(),
        d.join("ctl.pcap").display().to_string(),
        d.join("st.json").display().to_string(),
    );
    let out = d.join("out").display().to_string();
    for nic in ["none", "sim"] {
        run_ok(&[
            "run",
            "--quiet",
            "--nic",
            nic,
            "--rules",
            &r,
            "--in-port",
            "1",
            "--gen",
            "flows=40,zipf=0,packets=600,seed=2",
            "--loops",
            "1",
            "--warmup",
            "0",
            "--controller-pcap",
            &cp,
            "--out-pcap",
            &out,
            "--stats-json",
            &st,
        ]);
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&st).expect("stats")).expect("json");
        let ctl = frames(Path::new(&cp));
        let tx2 = frames(Path::new(&format!("{out}-port2.pcap")));
        let n = s["packets"].as_u64().unwrap_or(0);
        assert_eq!(s["controller"].as_u64(), Some(ctl.len() as u64), "{nic}");
        // Every packet went to the controller (TCP or UDP) or was dropped.
        assert_eq!(
            ctl.len() as u64 + s["dropped"].as_u64().unwrap_or(0),
            n,
            "{nic}"
        );
        // TCP copies are cut to 40 bytes and are the heads of port 2's frames.
        let short: Vec<&Vec<u8>> = ctl.iter().filter(|f| f.len() == 40).collect();
        assert_eq!(short.len(), tx2.len(), "{nic}");
        for (c, f) in short.iter().zip(&tx2) {
            assert!(f.len() > 40);
            assert_eq!(&c[..], &f[..40], "{nic}");
        }
        assert!(
            ctl.len() > tx2.len() && !tx2.is_empty(),
            "{nic}: {}",
            ctl.len()
        );
    }
}

#[test]
fn switch_delivers_packet_ins_to_its_pcap_and_control_socket() {
    let d = dir("sw");
    // Input: 300 UDP frames made by `fastpath run` (output to port 1).
    let input = switch_common::make_input_of(&d, "flows=10,zipf=0,packets=300,seed=4");
    let cp = d.join("ctl.pcap");
    let cps = cp.display().to_string();
    let mut sw = switch_common::Sw::start_on(
        &d,
        input.clone(),
        300,
        "cookie=0x2a,in_port=1,actions=controller(max_len=50,id=9),output:2\n",
        &["--controller-pcap", &cps],
    );
    let ctl = sw.ctl.clone();
    let t0 = Instant::now();
    let shown = loop {
        if let Ok(j) = switch_common::try_ctl(&ctl, &["--format", "json", "controller/show"]) {
            let j: serde_json::Value = serde_json::from_str(&j).expect("json");
            if j["packets"] == 300 {
                break j;
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "switch did not read its input"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(shown["bytes"], 300 * 50);
    let recent = shown["recent"].as_array().expect("recent");
    assert_eq!(recent.len(), fastpath::odp::controller::RING);
    assert_eq!(recent.last().map(|p| p["seq"].clone()), Some(300.into()));
    for p in recent {
        assert_eq!(
            (p["reason"].as_str(), p["rule_cookie"].as_u64()),
            (Some("action"), Some(42))
        );
        assert_eq!(
            (p["controller_id"].as_u64(), p["len"].as_u64()),
            (Some(9), Some(50))
        );
        assert_eq!(p["total_len"].as_u64(), Some(60));
        assert!(
            p["flow"]
                .as_str()
                .is_some_and(|f| f.starts_with("udp,in_port=1,")),
            "{p}"
        );
    }
    let text = switch_common::ctl(&ctl, &["controller/show"]);
    assert!(
        text.starts_with("controller: packets=300 bytes=15000\n"),
        "{text}"
    );
    sw.ctl(&["exit"]);
    let st = sw.child.wait().expect("wait");
    assert!(st.success());
    let got = frames(&cp);
    let sent = frames(&input);
    assert_eq!(got.len(), 300);
    for (g, s) in got.iter().zip(&sent) {
        assert_eq!(&g[..], &s[..50]);
    }
}
