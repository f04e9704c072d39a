//! `fastpath switch` with pcap ports and `fastpath ctl` on its control
//! socket (no privileges needed): every reading command in text and JSON,
//! rule changes, malformed commands changing nothing, megaflow expiry.

mod switch_common;
use switch_common as common;
use switch_common::Sw;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_fastpath");

fn dir(name: &str) -> PathBuf {
    common::test_dir("swcli", name)
}

/// 1000 64-byte UDP frames of 50 flows, written by `fastpath run` to
/// DIR/src-port1.pcap (received there on port 5, output to port 1).
fn make_input(d: &Path) -> PathBuf {
    common::make_input_of(d, "flows=50,zipf=1.0,packets=1000,seed=3")
}

fn pcap_frames(p: &Path) -> usize {
    fastpath::io::pcap::PcapReader::open(p)
        .unwrap()
        .read_all()
        .unwrap()
        .len()
}

/// The switch on this suite's standard input.
fn start(d: &Path, rules: &str, extra: &[&str]) -> Sw {
    Sw::start_on(d, make_input(d), 1000, rules, extra)
}

fn rules_text(sw: &Sw) -> Vec<String> {
    sw.ctl(&["dump-flows"])
        .lines()
        .map(|l| {
            let a = l.find(" duration=").unwrap();
            let b = l.find(" table=").unwrap();
            format!("{}{}", &l[..a], &l[b..])
        })
        .collect()
}

#[test]
fn control_commands_in_text_and_json() {
    let d = dir("cmds");
    let sw = start(
        &d,
        "priority=10,in_port=1,udp,actions=output:2\npriority=0,actions=drop\n",
        &[],
    );
    // dump-flows: every frame through the forwarding rule.
    assert_eq!(
        rules_text(&sw),
        vec![
            " cookie=0x0, table=0, n_packets=1000, n_bytes=60000, priority=10,in_port=1,udp actions=output:2",
            " cookie=0x0, table=0, n_packets=0, n_bytes=0, priority=0 actions=drop",
        ]
    );
    let j = sw.json(&["dump-flows", "udp"]);
    assert_eq!(j["flows"].as_array().unwrap().len(), 1, "{j}");
    assert_eq!(j["flows"][0]["n_packets"], 1000);
    assert_eq!(j["flows"][0]["n_bytes"], 60000);

    // pmd-perf-show: the same totals.
    let perf = sw.ctl(&["dpif-netdev/pmd-perf-show"]);
    assert!(perf.contains("pmd thread numa_id 0 core_id 0:"), "{perf}");
    let rx = perf
        .lines()
        .find(|l| l.trim_start().starts_with("Rx packets:"))
        .unwrap();
    assert_eq!(rx.split_whitespace().nth(2), Some("1000"), "{perf}");
    let j = sw.json(&["dpif-netdev/pmd-perf-show"]);
    assert_eq!(j["packets"], 1000);
    assert_eq!(j["forwarded"], 1000);
    assert_eq!(
        j["emc_hits"].as_u64().unwrap()
            + j["megaflow_hits"].as_u64().unwrap()
            + j["upcalls"].as_u64().unwrap(),
        1000
    );

    // dpctl/dump-flows: megaflow packets plus the upcalls that made them = 1000.
    let j = sw.json(&["dpctl/dump-flows"]);
    let flows = j["flows"].as_array().unwrap();
    let in_flows: u64 = flows.iter().map(|f| f["packets"].as_u64().unwrap()).sum();
    assert_eq!(in_flows + flows.len() as u64, 1000, "{j}");
    let text = sw.ctl(&["dpctl/dump-flows", "type=non-offloaded"]);
    assert_eq!(text.lines().count(), flows.len() + 1, "{text}");
    assert_eq!(
        sw.json(&["dpctl/dump-flows", "type=offloaded"])["flows"],
        serde_json::json!([])
    );
    let e = sw.try_ctl(&["dpctl/offload-stats-show"]).unwrap_err();
    assert!(e.contains("--nic none"), "{e}");

    // show, ofproto/trace.
    let show = sw.ctl(&["show"]);
    assert!(
        show.contains(" 1(in): pcap:") && show.contains(" 2(out): pcap:,"),
        "{show}"
    );
    let j = sw.json(&["show"]);
    assert_eq!(j["ports"][1]["stats"]["tx_packets"], 1000);
    let tr = sw.ctl(&["ofproto/trace", "in_port=1,udp"]);
    assert!(tr.contains("Datapath actions: 2"), "{tr}");
    let tr = sw.json(&["ofproto/trace", "br0", "in_port=2,udp"]);
    assert!(
        tr["trace"]
            .as_str()
            .unwrap()
            .contains("Datapath actions: drop"),
        "{tr}"
    );

    // Malformed commands: a clear error, nothing changed.
    let before = rules_text(&sw);
    for (args, want) in [
        (&["add-flow", "udp,tp_dts=1,actions=drop"][..], "tp_dts"),
        (
            &["add-flows", "/nonexistent/x.flows"][..],
            "/nonexistent/x.flows",
        ),
        (&["del-flows", "udp,actions=drop"][..], "takes no actions"),
        (&["mod-flows", "udp"][..], "actions"),
        (&["port-del", "nope"][..], "no port named `nope`"),
        (&["port-add", "in=pcap:x.pcap"][..], "already in use"),
        (
            &["port-add", "x=pcap:,y.pcap,ofport=1"][..],
            "ofport 1 is already in use",
        ),
        (&["bogus"][..], "unknown command `bogus`"),
    ] {
        let e = sw.try_ctl(args).unwrap_err();
        assert!(e.contains(want), "{args:?}: {e}");
    }
    let bad = d.join("bad.flows");
    std::fs::write(&bad, "udp,actions=drop\nudp,tp_dst=99999,actions=drop\n").unwrap();
    let e = sw
        .try_ctl(&["add-flows", bad.to_str().unwrap()])
        .unwrap_err();
    assert!(e.contains("bad.flows:2:"), "{e}");
    assert_eq!(rules_text(&sw), before);

    // Rule changes: counters kept by mod-flows, the difference by replace-flows.
    let out = sw.ctl(&["mod-flows", "in_port=1,udp,actions=output:3"]);
    assert!(out.contains("1 modified"), "{out}");
    assert!(rules_text(&sw)[0]
        .ends_with("n_packets=1000, n_bytes=60000, priority=10,in_port=1,udp actions=output:3"));
    sw.ctl(&[
        "add-flow",
        "priority=20,in_port=1,udp,tp_dst=53,actions=drop",
    ]);
    let repl = d.join("repl.flows");
    std::fs::write(
        &repl,
        "priority=10,in_port=1,udp,actions=output:2\npriority=5,arp,actions=drop\npriority=0,actions=drop\n",
    )
    .unwrap();
    let j = sw.json(&["replace-flows", repl.to_str().unwrap()]);
    assert_eq!(
        j["rules"],
        serde_json::json!({"added": 1, "modified": 1, "deleted": 1}),
        "{j}"
    );
    assert_eq!(
        rules_text(&sw),
        vec![
            " cookie=0x0, table=0, n_packets=1000, n_bytes=60000, priority=10,in_port=1,udp actions=output:2",
            " cookie=0x0, table=0, n_packets=0, n_bytes=0, priority=5,arp actions=drop",
            " cookie=0x0, table=0, n_packets=0, n_bytes=0, priority=0 actions=drop",
        ]
    );
    let j = sw.json(&["del-flows", "arp"]);
    assert_eq!(j["rules"]["deleted"], 1);
    assert_eq!(j["removed"][0]["match"], "arp");
    let r = sw.json(&["revalidate"]);
    assert!(r["megaflows_deleted"].is_u64(), "{r}");

    // exit: the final report, the output file complete.
    sw.ctl(&["exit"]);
    let mut sw = sw;
    let st = sw.child.wait().unwrap();
    assert!(st.success());
    assert_eq!(pcap_frames(&d.join("out.pcap")), 1000);
    let fin: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("stats.json")).unwrap()).unwrap();
    assert_eq!(fin["stats"]["packets"], 1000);
    assert_eq!(fin["pmd"]["tx_packets"], 1000);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn idle_megaflows_expire_after_max_idle() {
    let d = dir("idle");
    let sw = start(&d, "in_port=1,actions=output:2\n", &["--max-idle", "200"]);
    let t0 = Instant::now();
    // Revalidation runs every 500 ms: the flows, idle since the input ended, go.
    loop {
        let j = sw.json(&["dpctl/dump-flows"]);
        if j["flows"].as_array().unwrap().is_empty() {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "megaflows never expired: {j}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Their counts stay with the rule.
    let j = sw.json(&["dump-flows"]);
    assert_eq!(j["flows"][0]["n_packets"], 1000);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn bad_switch_arguments_are_refused() {
    for (args, want) in [
        (&["--port", "p1"][..], "expected NAME=TYPE:ARGS"),
        (&["--port", "p1=af_packet:nonexistent9"][..], "nonexistent9"),
        (
            &["--port", "p1=af_xdp:nonexistent9"][..],
            "af_xdp:nonexistent9: no such interface",
        ),
        (
            &[
                "--port",
                "a=pcap:,x.pcap,ofport=3",
                "--port",
                "b=pcap:,y.pcap,ofport=3",
            ][..],
            "ofport 3 is already in use",
        ),
        (&["--nic", "bogus"][..], "--nic `bogus`"),
        (
            &["--nic", "vfio:0000:03:20.0"][..],
            "--nic `vfio:0000:03:20.0`: expected sim, sim-lookup, none or vfio:BDF",
        ),
        (
            &["--rules", "/nonexistent/r.flows"][..],
            "/nonexistent/r.flows",
        ),
        (&["--log-level", "loud"][..], "--log-level `loud`"),
    ] {
        refused(args, want, "bad");
    }
}

/// Rules that give every source address its own megaflow (without prefix
/// tracking, the miss in the nw_src subtable un-wildcards all of nw_src).
const PER_SOURCE: &str =
    "priority=20,ip,nw_src=1.2.3.4,actions=drop\npriority=10,in_port=1,actions=output:2\n";

#[test]
fn over_the_flow_limit_packets_are_forwarded_but_not_installed() {
    let d = dir("limit");
    let input = common::make_input_of(&d, "flows=5000,zipf=0,packets=10000,seed=9");
    let mut sw = Sw::start_on(
        &d,
        input,
        10_000,
        PER_SOURCE,
        &["--prefixes", "none", "--flow-limit", "500"],
    );
    let show = sw.json(&["show"]);
    let megaflows = show["stats"]["megaflows"].as_u64().unwrap();
    assert!(megaflows > 0 && megaflows <= 500, "{show}");
    assert_eq!(show["stats"]["flow_limit"], 500, "{show}");
    let perf = sw.json(&["dpif-netdev/pmd-perf-show"]);
    let over = perf["upcall_flow_limit"].as_u64().unwrap();
    assert!(over > 1000, "{perf}");
    assert_eq!(perf["lost"], 0, "{perf}");
    // Every packet's actions ran, installed or not.
    sw.ctl(&["exit"]);
    assert!(sw.child.wait().unwrap().success());
    assert_eq!(pcap_frames(&d.join("out.pcap")), 10_000);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn dynamic_flow_limit_grows_while_revalidation_is_quick() {
    let d = dir("dynlimit");
    let input = common::make_input_of(&d, "flows=5000,zipf=0,packets=10000,seed=9");
    let sw = Sw::start_on(&d, input, 10_000, PER_SOURCE, &["--prefixes", "none"]);
    let show = sw.json(&["show"]);
    let megaflows = show["stats"]["megaflows"].as_u64().unwrap();
    // More than 2000 flows and a pass far under a second: OVS's revalidator
    // raises the limit by 1000 per pass (from 10 000, up to flow-limit).
    assert!(megaflows > 2000, "{show}");
    let before = show["stats"]["flow_limit"].as_u64().unwrap();
    assert!(before >= 10_000, "{show}");
    sw.json(&["revalidate"]);
    sw.json(&["revalidate"]);
    let show = sw.json(&["show"]);
    let after = show["stats"]["flow_limit"].as_u64().unwrap();
    assert!(after >= before + 2000, "{before} -> {after}: {show}");
    assert_eq!(show["stats"]["megaflows"].as_u64().unwrap(), megaflows);
    let _ = std::fs::remove_dir_all(&d);
}

/// Rules splitting the flows of port 1 over ports 2 and 3 (one, the other,
/// both), port 40 (past the NIC's MAC ports) and drop; port 40's frames
/// to port 2.
const SPLIT_RULES: &str = "\
priority=30,in_port=1,udp,tp_src=0/0x3,actions=output:2
priority=30,in_port=1,udp,tp_src=1/0x3,actions=output:3
priority=30,in_port=1,udp,tp_src=2/0x3,actions=output:2,output:3
priority=30,in_port=1,udp,tp_src=3/0x7,actions=output:40
priority=20,in_port=40,actions=output:2
priority=0,actions=drop
";

/// `fastpath switch` over pcap ports with `--nic NIC` until its inputs
/// end: the final counters and the frames each output port got.
fn switch_over_pcaps(
    d: &Path,
    nic: &str,
    in1: &Path,
    in40: &Path,
) -> (Value, std::collections::BTreeMap<u32, Vec<Vec<u8>>>) {
    switch_over_pcaps_threads(d, nic, 1, in1, in40)
}

/// As [`switch_over_pcaps`], with `--threads THREADS`.
fn switch_over_pcaps_threads(
    d: &Path,
    nic: &str,
    threads: usize,
    in1: &Path,
    in40: &Path,
) -> (Value, std::collections::BTreeMap<u32, Vec<Vec<u8>>>) {
    let rf = d.join("split.flows");
    std::fs::write(&rf, SPLIT_RULES).unwrap();
    let out = |p: u32| d.join(format!("{nic}-t{threads}-out{p}.pcap"));
    let stats = d.join(format!("{nic}-t{threads}-stats.json"));
    let o = Command::new(BIN)
        .args([
            "switch",
            "--nic",
            nic,
            "--threads",
            &threads.to_string(),
            "--exit-at-eof",
            "--log-level",
            "error",
        ])
        .arg("--port")
        .arg(format!("in=pcap:{},ofport=1", in1.display()))
        .arg("--port")
        .arg(format!("o2=pcap:,{},ofport=2", out(2).display()))
        .arg("--port")
        .arg(format!("o3=pcap:,{},ofport=3", out(3).display()))
        .arg("--port")
        .arg(format!(
            "far=pcap:{},{},ofport=40",
            in40.display(),
            out(40).display()
        ))
        .arg("--rules")
        .arg(&rf)
        .arg("--stats-json")
        .arg(&stats)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: Value = serde_json::from_str(&std::fs::read_to_string(&stats).unwrap()).unwrap();
    let frames = [2, 3, 40]
        .into_iter()
        .map(|p| {
            let f = fastpath::io::pcap::PcapReader::open(&out(p))
                .unwrap()
                .read_all()
                .unwrap();
            (p, f)
        })
        .collect();
    (j, frames)
}

#[cfg(feature = "sim")]
#[test]
fn pcap_ports_through_the_packet_path_nic_get_the_frames_of_software() {
    let d = dir("nic-vs-none");
    let in1 = common::make_input_of(&d, "flows=64,zipf=1.0,packets=2000,seed=5");
    let far = d.join("far");
    std::fs::create_dir_all(&far).unwrap();
    let in40 = common::make_input_of(&far, "flows=8,packets=300,seed=6");
    let (sim, sim_out) = switch_over_pcaps(&d, "sim", &in1, &in40);
    let (none, none_out) = switch_over_pcaps(&d, "none", &in1, &in40);
    for (p, frames) in &none_out {
        let (mut a, mut b) = (sim_out[p].clone(), frames.clone());
        assert!(!b.is_empty(), "port {p} got nothing");
        a.sort();
        b.sort();
        assert!(a == b, "port {p}: {} vs {} frames", a.len(), b.len());
    }
    let (s, n) = (&sim["stats"], &none["stats"]);
    for k in ["packets", "forwarded", "dropped", "lost", "tx_packets"] {
        assert_eq!(s[k], n[k], "{k}: {s} vs {n}");
    }
    assert_eq!(s["packets"], 2300);
    assert_eq!(s["tx_ports"], n["tx_ports"], "{s} vs {n}");
    // Port 1 is a MAC port: every one of its frames went through the NIC
    // (forwarded or dropped there, or handed to the host). Port 40 is past
    // the NIC's MAC ports: the host path, counted.
    let u = |k: &str| s[k].as_u64().unwrap_or_else(|| panic!("{k}: {s}"));
    assert_eq!(u("host_path_rx"), 300, "{s}");
    assert!(u("hw_forwarded") > 0, "{s}");
    assert!(u("hw_dropped") > 0, "{s}");
    let host_rx: u64 = s["host_rx"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(u("hw_forwarded") + u("hw_dropped") + host_rx, 2000, "{s}");
    // Output to port 40 is no NIC action: those flows are partially
    // offloaded (the NIC marks, the host runs the output).
    assert!(u("hw_marked") > 0, "{s}");
    assert!(n.get("hw_forwarded").is_none(), "{n}");
    assert_eq!(n["host_path_rx"], 0, "{n}");
}

/// Frames of every output port as multisets.
fn sorted(
    m: &std::collections::BTreeMap<u32, Vec<Vec<u8>>>,
) -> std::collections::BTreeMap<u32, Vec<Vec<u8>>> {
    m.iter()
        .map(|(p, f)| {
            let mut f = f.clone();
            f.sort();
            (*p, f)
        })
        .collect()
}

#[test]
fn packet_threads_send_the_frames_of_one_thread_and_count_every_packet() {
    let d = dir("threads-pcap");
    let in1 = common::make_input_of(&d, "flows=64,zipf=1.0,packets=2000,seed=5");
    let far = d.join("far");
    std::fs::create_dir_all(&far).unwrap();
    let in40 = common::make_input_of(&far, "flows=8,packets=300,seed=6");
    let (one, one_out) = switch_over_pcaps_threads(&d, "none", 1, &in1, &in40);
    let want = sorted(&one_out);
    assert!(want.values().all(|f| !f.is_empty()), "{want:?}");
    for threads in [2usize, 4] {
        let (j, out) = switch_over_pcaps_threads(&d, "none", threads, &in1, &in40);
        assert!(sorted(&out) == want, "--threads {threads}: other frames");
        let (s, o) = (&j["stats"], &one["stats"]);
        for k in [
            "packets",
            "forwarded",
            "dropped",
            "lost",
            "tx_packets",
            "tx_ports",
        ] {
            assert_eq!(s[k], o[k], "--threads {threads} {k}: {s} vs {o}");
        }
        assert_eq!(s["packets"], 2300);
        assert_eq!(s["threads"], threads);
        // pmd-perf-show: the totals, and each thread's, adding up.
        let pmd = &j["pmd"];
        assert_eq!(pmd["packets"], 2300, "{pmd}");
        let pmds = pmd["pmds"].as_array().unwrap();
        assert_eq!(pmds.len(), threads, "{pmd}");
        let per: Vec<u64> = pmds
            .iter()
            .map(|p| p["packets"].as_u64().unwrap())
            .collect();
        assert_eq!(per.iter().sum::<u64>(), 2300, "{per:?}");
        assert!(per.iter().all(|&n| n > 0), "a thread got no flow: {per:?}");
        let f = |k: &str| -> u64 { pmds.iter().map(|p| p[k].as_u64().unwrap()).sum() };
        assert_eq!(f("tx_sent"), pmd["tx_sent"].as_u64().unwrap(), "{pmd}");
        assert_eq!(
            f("emc_hits") + f("megaflow_hits") + f("upcalls") + f("lost"),
            2300,
            "{pmd}"
        );
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn with_threads_control_commands_see_and_change_every_thread() {
    for threads in ["2", "4"] {
        let d = dir(&format!("threads-ctl-{threads}"));
        let mut sw = start(
            &d,
            "priority=10,udp,actions=output:2\npriority=0,actions=drop\n",
            &["--threads", threads],
        );
        let n: usize = threads.parse().unwrap();
        // dump-flows: the rules' counters hold every packet, whichever
        // thread it went through.
        let dump = sw.json(&["dump-flows"]);
        let rule_packets: u64 = dump["flows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["n_packets"].as_u64().unwrap())
            .sum();
        assert_eq!(rule_packets, 1000, "{dump}");
        let perf = sw.json(&["dpif-netdev/pmd-perf-show"]);
        assert_eq!(perf["packets"], 1000, "{perf}");
        assert_eq!(perf["pmds"].as_array().unwrap().len(), n, "{perf}");
        let text = sw.ctl(&["dpif-netdev/pmd-perf-show"]);
        for i in 0..n {
            assert!(
                text.contains(&format!("pmd thread numa_id 0 core_id {i}:")),
                "{text}"
            );
        }
        assert!(
            text.contains(&format!("Total of {n} pmd threads:")),
            "{text}"
        );
        // dpctl/dump-flows: each thread's megaflows under its header; their
        // packets and the upcalls that installed no flow are every packet
        // (an upcall finding its flow installed is counted in the flow).
        let dp = sw.ctl(&["dpctl/dump-flows"]);
        assert_eq!(
            dp.matches("flow-dump from pmd on cpu core:").count(),
            n,
            "{dp}"
        );
        let dpj = sw.json(&["dpctl/dump-flows"]);
        let flows = dpj["flows"].as_array().unwrap();
        let mf_packets: u64 = flows.iter().map(|f| f["packets"].as_u64().unwrap()).sum();
        let u = |k: &str| perf[k].as_u64().unwrap();
        assert_eq!(
            mf_packets + u("upcalls") - u("upcall_existing"),
            1000,
            "{perf}"
        );
        let used: std::collections::BTreeSet<u64> =
            flows.iter().map(|f| f["pmd"].as_u64().unwrap()).collect();
        assert!(used.len() > 1, "one thread had every flow: {used:?}");
        // A rule change re-translates every thread's megaflows.
        let megaflows = sw.json(&["show"])["stats"]["megaflows"].as_u64().unwrap();
        assert_eq!(megaflows as usize, flows.len());
        let r = sw.json(&["mod-flows", "udp,actions=drop"]);
        let touched =
            r["megaflows_deleted"].as_u64().unwrap() + r["megaflows_modified"].as_u64().unwrap();
        assert_eq!(touched, megaflows, "{r}");
        let dpj = sw.json(&["dpctl/dump-flows"]);
        for f in dpj["flows"].as_array().unwrap() {
            let l = f["flow"].as_str().unwrap();
            assert!(l.ends_with("actions:drop"), "{l}");
        }
        // SIGTERM stops every thread; the final report has every packet.
        let pid = sw.child.id().to_string();
        let st = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(st.success());
        let t0 = Instant::now();
        while sw.child.try_wait().unwrap().is_none() {
            assert!(t0.elapsed() < Duration::from_secs(20), "no exit on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
        let j: Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("stats.json")).unwrap()).unwrap();
        assert_eq!(j["stats"]["packets"], 1000, "{j}");
        assert_eq!(j["pmd"]["pmds"].as_array().unwrap().len(), n, "{j}");
        let tx = j["stats"]["tx_ports"]["2"].as_u64().unwrap();
        assert_eq!(pcap_frames(&d.join("out.pcap")) as u64, tx);
        let _ = std::fs::remove_dir_all(&d);
    }
}

#[test]
fn one_nic_is_not_shared_by_packet_threads() {
    for (args, want) in [
        (
            &["--nic", "sim", "--threads", "2"][..],
            "--nic sim is one NIC driven by one packet thread and cannot be shared; \
             use --threads 1 with --nic sim, or --nic none with --threads 2",
        ),
        (
            &["--nic", "sim-lookup", "--threads", "4"][..],
            "--nic none with --threads 4",
        ),
        (&["--threads", "0"][..], "--threads"),
        (&["--threads", "65"][..], "--threads"),
    ] {
        refused(args, want, "bad-threads");
    }
}

/// `fastpath switch ARGS` fails before starting, naming `want`.
fn refused(args: &[&str], want: &str, name: &str) {
    let d = dir(name);
    let o = Command::new(BIN)
        .arg("switch")
        .args(args)
        .current_dir(&d)
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains(want), "{args:?}: {e}");
    let _ = std::fs::remove_dir_all(&d);
}
