//! The `fastpath trace`, `parse-flows` and `run` commands, good and bad input:
//! every malformed input is a clear error and a non-zero exit.

use fastpath::io::pcap::{PcapReader, PcapWriter};
use std::path::PathBuf;
use std::process::Command;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fastpath-slowpath-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d.join(name)
}

fn fastpath(args: &[&str]) -> (bool, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_fastpath"))
        .args(args)
        .output()
        .expect("run fastpath");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn write(name: &str, text: &str) -> String {
    let p = tmp(name);
    std::fs::write(&p, text).expect("write");
    p.display().to_string()
}

#[test]
fn trace_prints_megaflow_and_actions() {
    let r = write(
        "t.flows",
        "in_port=1,dl_src=50:54:00:00:00:09 actions=mod_dl_dst:50:54:00:00:00:0b,output(2)\n",
    );
    let (ok, out, err) = fastpath(&[
        "trace",
        "--rules",
        &r,
        "in_port=1,dl_src=50:54:00:00:00:09,dl_dst=50:54:00:00:00:0a,dl_type=0x0800,nw_src=10.0.0.2,nw_dst=10.0.0.1,nw_proto=1,nw_ttl=64,icmp_type=8,icmp_code=0",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains(" 0. in_port=1,dl_src=50:54:00:00:00:09, priority 32768"),
        "{out}"
    );
    assert!(out.contains("Megaflow: recirc_id=0,eth,ip,in_port=1,dl_src=50:54:00:00:00:09,dl_dst=50:54:00:00:00:0a,nw_frag=no\n"), "{out}");
    assert!(
        out.ends_with("Datapath actions: set(eth(dst=50:54:00:00:00:0b)),2\n"),
        "{out}"
    );
}

#[test]
fn malformed_rules_name_file_line_column() {
    for (text, col, what) in [
        ("ip,nw_src=10.0.0.300,actions=drop", 4, "IPv4 address"),
        (
            "ip,actions=output:2,explode",
            21,
            "unknown action `explode`",
        ),
        (
            "ip,nw_sorc=10.0.0.1,actions=drop",
            4,
            "unknown field `nw_sorc`",
        ),
        ("tp_dst=80,actions=drop", 1, "prerequisites"),
        ("ip,nw_tos=300,actions=drop", 4, "value too large"),
        ("ip,nw_src=10.0.0.1", 19, "must specify an action"),
        ("priority=70000,actions=drop", 1, "out of range"),
        ("ip,actions=resubmit(x)", 12, "unknown port"),
        (
            "ip,actions=load:0x1ff->NXM_NX_REG0[0..7]",
            12,
            "does not fit",
        ),
        (
            "ip,actions=move:NXM_OF_IP_SRC[]->NXM_OF_ETH_SRC[]",
            12,
            "bits",
        ),
    ] {
        let f = write(
            "bad.flows",
            &format!("# fine\ntable=0,priority=1,actions=drop\n{text}\n"),
        );
        let (ok, _, err) = fastpath(&["trace", "--rules", &f, "in_port=1"]);
        assert!(!ok, "{text} was accepted");
        assert!(
            err.contains(&format!("bad.flows:3:{col}:")),
            "{text}: {err}"
        );
        assert!(err.contains(what), "{text}: {err}");
        let (ok, _, _) = fastpath(&["run", "--rules", &f, "--gen", "flows=10,packets=10"]);
        assert!(!ok);
    }
}

#[test]
fn bad_options_and_files() {
    let r = write("ok.flows", "priority=0,actions=output:2\n");
    let (ok, _, err) = fastpath(&[
        "trace",
        "--rules",
        &r,
        "--prefixes",
        "nw_dst,nw_dst",
        "in_port=1",
    ]);
    assert!(!ok && err.contains("listed twice"), "{err}");
    let (ok, _, err) = fastpath(&["trace", "--rules", "/nonexistent/x.flows", "in_port=1"]);
    assert!(!ok && err.contains("/nonexistent/x.flows"), "{err}");
    let (ok, _, err) = fastpath(&["trace", "--rules", &r, "in_port=1,frobs=2"]);
    assert!(!ok && err.contains("unknown field `frobs`"), "{err}");
    let (ok, _, err) = fastpath(&["run", "--rules", &r, "--gen", "flows=0"]);
    assert!(!ok && err.contains("flows"), "{err}");
    let (ok, _, err) = fastpath(&["run", "--rules", &r, "--pcap", "/nonexistent/in.pcap"]);
    assert!(!ok && err.contains("/nonexistent/in.pcap"), "{err}");
    let t = write("bad_trace", "1 2 3 4 6 0 1\n1 2 x 4 6 0 1\n");
    let (ok, _, err) = fastpath(&["run", "--rules", &r, "--classbench-trace", &t]);
    assert!(!ok && err.contains("bad_trace:2"), "{err}");
    let np = write("notpcap.pcap", "this is not a capture file at all");
    let (ok, _, err) = fastpath(&["run", "--rules", &r, "--pcap", &np]);
    assert!(!ok && err.contains("not a pcap file"), "{err}");
}

#[test]
fn truncated_pcap_names_the_packet() {
    let p = tmp("trunc.pcap");
    let mut w = PcapWriter::create(&p).expect("create");
    let frame = fastpath::io::frames::frame_from_key(
        &abi::FlowKey::ZERO
            .with(abi::Field::DlType, 0x0800)
            .with(abi::Field::NwTtl, 64),
        60,
    );
    for _ in 0..3 {
        w.write(0, &frame).expect("write");
    }
    w.finish().expect("flush");
    let len = std::fs::metadata(&p).expect("meta").len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .expect("open");
    f.set_len(len - 7).expect("truncate");
    let r = write("ok2.flows", "priority=0,actions=output:2\n");
    let (ok, out, err) = fastpath(&["run", "--rules", &r, "--pcap", &p.display().to_string()]);
    assert!(!ok, "{out}");
    assert!(
        err.contains("trunc.pcap: packet 3: truncated packet data"),
        "{err}"
    );
}

#[test]
fn run_writes_flows_stats_and_pcaps() {
    let rules = write(
        "run.flows",
        "priority=10,tcp,nw_dst=10.0.0.0/8,actions=dec_ttl,output:2\npriority=5,udp,actions=output:3\npriority=0,actions=drop\n",
    );
    let df = tmp("flows.txt");
    let js = tmp("stats.json");
    let prefix = tmp("out").display().to_string();
    // This test is about the software datapath: pick it explicitly when the
    // command also offers a NIC (`--nic`).
    let (_, help, _) = fastpath(&["run", "--help"]);
    let nic: &[&str] = if help.contains("--nic") {
        &["--nic", "none"]
    } else {
        &[]
    };
    let (df_s, js_s) = (df.display().to_string(), js.display().to_string());
    let mut args = vec![
        "run",
        "--rules",
        &rules,
        "--gen",
        "flows=200,zipf=1.0,packets=20000,seed=3",
        "--dump-flows",
        &df_s,
        "--stats-json",
        &js_s,
        "--out-pcap",
        &prefix,
        "--emc-insert-inv-prob",
        "1",
    ];
    args.extend_from_slice(nic);
    let (ok, out, err) = fastpath(&args);
    assert!(ok, "{err}");
    assert!(
        out.contains("Rx packets:") && out.contains("EMC hits:") && out.contains("Megaflows:"),
        "{out}"
    );
    let j = std::fs::read_to_string(&js).expect("json");
    for k in [
        "\"packets\": 20000",
        "\"mpps\"",
        "\"emc_hits\"",
        "\"megaflow_hits\"",
        "\"upcalls\"",
        "\"lost\": 0",
        "\"megaflows\"",
        "\"masks\"",
    ] {
        assert!(j.contains(k), "{k} missing in {j}");
    }
    let dump = std::fs::read_to_string(&df).expect("dump");
    let n_flows = dump
        .lines()
        .filter(|l| l.starts_with("recirc_id(0)"))
        .count();
    assert!(
        j.contains(&format!("\"megaflows\": {n_flows}")),
        "{j}\n{dump}"
    );
    assert!(
        dump.contains("actions:set(ipv4(ttl=63)),2") || dump.contains("actions:3"),
        "{dump}"
    );
    let p2 = PcapReader::open(&PathBuf::from(format!("{prefix}-port2.pcap")))
        .expect("port 2 pcap")
        .read_all()
        .expect("read");
    let p3 = PcapReader::open(&PathBuf::from(format!("{prefix}-port3.pcap")))
        .expect("port 3 pcap")
        .read_all()
        .expect("read");
    assert!(!p2.is_empty() && !p3.is_empty());
    for f in p2.iter().chain(p3.iter()) {
        fastpath::io::frames::verify_checksums(f).expect("output checksums");
    }
}

#[test]
fn parse_flows_prints_the_ovs_ofctl_form() {
    // The expected lines are what `ovs-ofctl parse-flows` 3.1 prints after `ADD `.
    let f = write(
        "pf.flows",
        "table=1,cookie=0x10,idle_timeout=5,arp,arp_spa=10.0.0.1 action=output:3\n\
         priority=33,tcp,tcp_flags=syn|ack,tp_dst=80 actions=drop\n",
    );
    let (ok, out, err) = fastpath(&["parse-flows", &f]);
    assert!(ok, "{err}");
    assert_eq!(
        out,
        "table:1 arp,arp_spa=10.0.0.1 cookie:0x10 idle:5 actions=output:3\n\
         table:255 priority=33,tcp,tp_dst=80,tcp_flags=syn|ack actions=drop\n"
    );
    let (ok, out, _) = fastpath(&["parse-flow", "in_port=local,ip6,action=in_port"]);
    assert!(ok);
    assert_eq!(out, "ipv6,in_port=LOCAL actions=IN_PORT\n");
    let bad = write(
        "pf_bad.flows",
        "ip,actions=drop\nip,nw_tos=300,actions=drop\n",
    );
    let (ok, out, err) = fastpath(&["parse-flows", &bad]);
    assert!(!ok && out.is_empty(), "{out}");
    assert!(
        err.contains("pf_bad.flows:2:4:") && err.contains("value too large"),
        "{err}"
    );
}

#[test]
fn trace_flows_are_read_as_ofproto_trace_reads_them() {
    let r = write("tr.flows", "priority=5,tcp,tp_dst=80,actions=output:2\n");
    for (flow, what) in [
        ("tcp,tp_dst=80/0xfff0", "masking"),
        ("tp_dst=80", "prerequisites"),
        ("ip,tcp", "multiple"),
    ] {
        let (ok, _, err) = fastpath(&["trace", "--rules", &r, flow]);
        assert!(!ok && err.contains(what), "{flow}: {err}");
    }
    let (ok, out, err) = fastpath(&["trace", "--rules", &r, "arp,arp_spa=1.2.3.4"]);
    assert!(ok, "{err}");
    assert!(
        out.contains(
            "Flow: arp,in_port=ANY,vlan_tci=0x0000,dl_src=00:00:00:00:00:00,dl_dst=00:00:00:00:00:00,\
             arp_spa=1.2.3.4,arp_tpa=0.0.0.0,arp_op=0,arp_sha=00:00:00:00:00:00,arp_tha=00:00:00:00:00:00\n"
        ),
        "{out}"
    );
}
