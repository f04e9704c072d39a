//! `fastpath run --nic …`: the simulated NIC with a packet path by default
//! (where frames went), the look-aside NIC (`sim-lookup`) with a
//! where-handled table and offload fields in dumps and JSON; `--nic none`
//! is software only;
//! `--nic vfio:BDF` fails with the backend's error when there is no board.

use std::path::PathBuf;
use std::process::Command;

fn fastpath(args: &[&str]) -> (bool, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_fastpath"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("fastpath runs");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fastpath-offload-cli-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("tmp dir");
    d.join(name)
}

fn rules() -> String {
    let p = tmp("r.flows");
    std::fs::write(
        &p,
        "priority=10,tcp,nw_dst=10.0.0.0/8,actions=dec_ttl,output:2\npriority=5,udp,actions=output:3\npriority=0,actions=drop\n",
    )
    .expect("write rules");
    p.display().to_string()
}

#[test]
fn bad_nic_and_absent_board_fail_clearly() {
    let r = rules();
    let (ok, _, err) = fastpath(&[
        "run",
        "--rules",
        &r,
        "--gen",
        "flows=5,packets=5",
        "--nic",
        "bogus",
    ]);
    assert!(
        !ok && err.contains("expected sim, sim-lookup, none or vfio:BDF"),
        "{err}"
    );
    let (ok, _, err) = fastpath(&[
        "run",
        "--rules",
        &r,
        "--gen",
        "flows=5,packets=5",
        "--nic",
        "vfio:0000:7f:1f.7",
    ]);
    assert!(
        !ok && err.contains("vfio:0000:7f:1f.7") && err.contains("0000:7f:1f.7"),
        "{err}"
    );
    let (ok, _, err) = fastpath(&[
        "run",
        "--rules",
        &r,
        "--gen",
        "flows=5,packets=5",
        "--widen",
        "often",
    ]);
    assert!(!ok && err.contains("often"), "{err}");
    let (ok, _, err) = fastpath(&[
        "run",
        "--rules",
        &r,
        "--gen",
        "flows=5,packets=5",
        "--threads",
        "2",
    ]);
    assert!(!ok && err.contains("--threads 1"), "{err}");
}

#[test]
fn software_only_run_has_no_offload_table() {
    let r = rules();
    let (ok, out, err) = fastpath(&[
        "run",
        "--rules",
        &r,
        "--gen",
        "flows=50,packets=500",
        "--nic",
        "none",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("EMC hits:") && !out.contains("hw megaflow"),
        "{out}"
    );
}

#[cfg(feature = "sim")]
#[test]
fn simulated_nic_run_reports_where_packets_were_handled() {
    let r = rules();
    let (df, js) = (tmp("flows.txt"), tmp("stats.json"));
    let (ok, out, err) = fastpath(&[
        "run",
        "--rules",
        &r,
        "--gen",
        "flows=100,zipf=1.0,packets=3000,seed=2",
        "--nic",
        "sim-lookup",
        "--dump-flows",
        &df.display().to_string(),
        "--stats-json",
        &js.display().to_string(),
    ]);
    assert!(ok, "{err}");
    for k in [
        "hw EMC",
        "hw megaflow",
        "sw EMC",
        "sw megaflow",
        "upcall",
        "handled fully in hw",
        "offload failure",
        "pipeline abort",
    ] {
        assert!(out.contains(k), "{k} missing:\n{out}");
    }
    let j = std::fs::read_to_string(&js).expect("json");
    let num = |k: &str| -> u64 {
        let at = j
            .find(&format!("\"{k}\": "))
            .unwrap_or_else(|| panic!("{k} missing in {j}"));
        j[at + k.len() + 4..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|v| v.parse().ok())
            .expect("number")
    };
    assert_eq!(num("packets"), 3000);
    assert_eq!(
        num("hw_emc_hits")
            + num("hw_megaflow_hits")
            + num("sw_emc_hits")
            + num("sw_megaflow_hits")
            + num("upcalls"),
        3000
    );
    assert!(num("hw_handled") > 2000, "{j}");
    assert_eq!(num("pipeline_aborts"), 0);
    let dump = std::fs::read_to_string(&df).expect("dump");
    let flows: Vec<&str> = dump
        .lines()
        .filter(|l| l.starts_with("recirc_id(0)"))
        .collect();
    assert_eq!(flows.len() as u64, num("megaflows"));
    assert!(flows
        .iter()
        .all(|l| l.contains("offloaded:yes, dp:hw") || l.contains("offloaded:no, dp:sw")));
    assert!(
        flows.iter().any(|l| l.contains("offloaded:yes, dp:hw")),
        "{dump}"
    );
}

#[cfg(feature = "sim")]
#[test]
fn packet_path_run_reports_where_frames_went() {
    let r = rules();
    let js = tmp("pp.json");
    let (ok, out, err) = fastpath(&[
        "run",
        "--rules",
        &r,
        "--gen",
        "flows=100,zipf=1.0,packets=3000,seed=2",
        "--stats-json",
        &js.display().to_string(),
    ]);
    assert!(ok, "{err}");
    for k in [
        "packet path",
        "hw forwarded",
        "hw dropped",
        "host rx",
        "hw marked",
        "host tx",
    ] {
        assert!(out.contains(k), "{k} missing:\n{out}");
    }
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&js).expect("json")).expect("json parses");
    let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"));
    assert_eq!(v["nic"], "sim");
    assert_eq!(n("packets"), n("forwarded") + n("dropped") + n("lost"));
    let host_rx: u64 = ["marked", "miss", "exception"]
        .iter()
        .map(|k| v["host_rx"][k].as_u64().expect("host_rx reason"))
        .sum();
    // Every frame came in on MAC port 0 (datapath port 1).
    assert_eq!(
        n("hw_forwarded") + n("hw_dropped") + n("hw_lost") + host_rx,
        3000
    );
    // These rules' outputs need the host (dec_ttl, port 3): it ran them.
    assert!(n("hw_marked") > 0 && n("hw_dropped") > 0, "{v}");
}
