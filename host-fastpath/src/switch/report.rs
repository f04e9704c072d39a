//! What the switch's reading commands print, as text in Open vSwitch's
//! layout and as JSON. The counters are `fastpath run`'s stats table
//! ([`RunStats`]) under the same names, plus the switch's own
//! ([`SwitchExtras`]).

use super::datapath::StatsMark;
use super::rules::{self, FlowFilter, RuleDump};
use super::{LoopStats, Switch};
use crate::stats::{RunStats, Timing};
use serde::Serialize;
use serde_json::{json, Value};
use std::fmt::Write as _;

/// A reading command's answer in both forms.
pub struct Reading {
    /// Text, as OVS prints it.
    pub text: String,
    /// The same as JSON.
    pub json: Value,
}

/// Totals of the switch: the one stats table `fastpath run` reports
/// ([`RunStats`], flattened: the same names in the same JSON object), plus
/// what only a switch with ports has ([`SwitchExtras`]).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct SwitchStats {
    /// The datapath's counters since the switch started.
    #[serde(flatten)]
    pub run: RunStats,
    /// Counters of the ports and the packet thread.
    #[serde(flatten)]
    pub extras: SwitchExtras,
}

/// The switch's counters that `fastpath run` has no use for.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct SwitchExtras {
    /// Output to a port number with no port (counted, not sent; part of
    /// `tx_packets`, not of `tx_ports`).
    pub tx_no_port: u64,
    /// Megaflows deleted by revalidation and port removal.
    pub flows_deleted: u64,
    /// Times a port's link went down (all ports, removed ones included).
    pub link_down: u64,
    /// Bursts during which the NIC failed (software handled them).
    pub hw_errors: u64,
    /// With a packet path: frames received on a switch port that is none
    /// of the NIC's MAC ports (its OpenFlow number is past them), which the
    /// host datapath handled without the NIC (part of `packets`).
    pub host_path_rx: u64,
}

/// The switch's totals now (counters as of the last [`Switch::sync`]),
/// every packet thread's added up.
pub fn stats(sw: &mut Switch) -> SwitchStats {
    let ls = sw.loop_stats();
    let t = Timing {
        seconds: sw.uptime().as_secs_f64(),
        busy_ns: 0,
        cycles: ls.busy_cycles,
    };
    let nic = sw.datapath().nic().to_string();
    let mut run = if sw.threads() > 1 {
        crate::runner::software_stats(&nic, sw.datapaths().map(|d| d.pmd()), &t)
    } else {
        match sw.datapath_mut(0).stats_since(&StatsMark::default(), &t) {
            Ok(r) => r,
            Err(e) => {
                // The NIC's lookup counters could not be read: the software
                // tiers' counters still stand.
                tracing::warn!(error = %e, "reading the NIC's counters");
                let p = sw.pmd();
                RunStats::from_pmd(&nic, 1, &p.stats, p.extract_stats.malformed(), &t)
            }
        }
    };
    run.rules = sw.of.n_rules();
    run.rules_expired = sw.rules_expired;
    let ps = sw.port_stats();
    let mut link_down = sw.removed_port_stats().link_down;
    for (p, s) in sw.ports().iter().zip(&ps) {
        if s.tx_packets > 0 {
            run.tx_ports.insert(p.ofport, s.tx_packets);
        }
        link_down += s.link_down;
    }
    SwitchStats {
        run,
        extras: SwitchExtras {
            tx_no_port: ls.tx_no_port,
            flows_deleted: sw.datapaths().map(|d| d.pmd().stats.flows_deleted).sum(),
            link_down,
            hw_errors: ls.hw_errors,
            host_path_rx: ls.host_path_rx,
        },
    }
}

fn pct(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

fn div(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

/// `dpif-netdev/pmd-perf-show`: each packet thread's section (as OVS prints
/// one per PMD), then, with more than one, their totals. The text rows split
/// the packets by the tier that handled them (they add up to `Rx
/// packets`); the JSON is the totals' stats table ([`SwitchStats`]) plus
/// the loop counters, and `pmds`: each thread's stats table and loop
/// counters.
pub fn pmd_perf_show(sw: &mut Switch) -> Reading {
    sw.sync();
    let st = stats(sw);
    let secs = st.run.seconds;
    let mut o = String::new();
    let _ = writeln!(o, "Measurement duration: {secs:.3} s\n");
    let per: Vec<(RunStats, LoopStats)> = if sw.threads() == 1 {
        vec![(st.run.clone(), sw.loop_stats())]
    } else {
        let t = Timing {
            seconds: secs,
            busy_ns: 0,
            cycles: 0,
        };
        let nic = sw.datapath().nic().to_string();
        sw.datapaths()
            .zip(sw.thread_loop_stats())
            .map(|(d, ls)| {
                let t = Timing {
                    cycles: ls.busy_cycles,
                    ..t
                };
                (
                    crate::runner::software_stats(&nic, std::iter::once(d.pmd()), &t),
                    ls,
                )
            })
            .collect()
    };
    let mut pmds = Vec::new();
    for (i, (r, ls)) in per.iter().enumerate() {
        let _ = writeln!(o, "pmd thread numa_id 0 core_id {i}:\n");
        perf_section(&mut o, r, ls);
        let mut j = serde_json::to_value(r).unwrap_or_default();
        loop_json(&mut j, ls);
        if let Some(m) = j.as_object_mut() {
            m.insert("core_id".into(), json!(i));
        }
        pmds.push(j);
    }
    let ls = sw.loop_stats();
    if per.len() > 1 {
        let _ = writeln!(o, "\nTotal of {} pmd threads:\n", per.len());
        perf_section(&mut o, &st.run, &ls);
    }
    let mut json = serde_json::to_value(&st).unwrap_or_default();
    loop_json(&mut json, &ls);
    if let Some(m) = json.as_object_mut() {
        m.insert("pmds".into(), Value::Array(pmds));
    }
    Reading { text: o, json }
}

/// The loop counters of `ls` added to the JSON object `j`.
fn loop_json(j: &mut Value, ls: &LoopStats) {
    if let Some(m) = j.as_object_mut() {
        for (k, v) in [
            ("iterations", ls.iterations),
            ("busy_iterations", ls.busy_iterations),
            ("used_cycles", ls.total_cycles),
            ("busy_cycles", ls.busy_cycles),
            ("rx_batches", ls.rx_batches),
            ("tx_sent", ls.tx_packets),
            ("tx_batches", ls.tx_batches),
        ] {
            m.insert(k.into(), json!(v));
        }
    }
}

/// One `pmd-perf-show` section: thread (or totals) counters `ls` and stats `r`.
fn perf_section(o: &mut String, r: &RunStats, ls: &LoopStats) {
    let secs = r.seconds;
    let idle = ls.iterations - ls.busy_iterations;
    let _ = writeln!(
        o,
        "  Iterations:         {:>12}  ({:.2} us/it)",
        ls.iterations,
        div(secs * 1e6, ls.iterations as f64)
    );
    let _ = writeln!(o, "  - Used TSC cycles:  {:>12}", ls.total_cycles);
    let _ = writeln!(
        o,
        "  - idle iterations:  {:>12}  ({:5.1} % of iterations)",
        idle,
        pct(idle, ls.iterations)
    );
    let _ = writeln!(
        o,
        "  - busy iterations:  {:>12}  ({:5.1} % of used cycles)",
        ls.busy_iterations,
        pct(ls.busy_cycles, ls.total_cycles)
    );
    let _ = writeln!(
        o,
        "  Rx packets:         {:>12}  ({:.0} Kpps, {:.0} cycles/pkt)",
        r.packets,
        div(r.packets as f64, secs) / 1e3,
        r.cycles_per_packet
    );
    let _ = writeln!(
        o,
        "  Datapath passes:    {:>12}  ({:.2} passes/pkt)",
        r.packets,
        if r.packets > 0 { 1.0 } else { 0.0 }
    );
    let mut rows = Vec::new();
    // With a NIC, the EMC and megaflow rows are the software tiers only, so
    // that the rows add up to the packets (as in Open vSwitch, where
    // "PHWOL hits" are frames the NIC marked).
    let (emc, mf) = match &r.offload {
        Some(off) => {
            match &r.packet_path {
                Some(pp) => {
                    rows.push(("HWOL hits", pp.hw_forwarded + pp.hw_dropped, String::new()));
                    rows.push(("PHWOL hits", pp.hw_marked, String::new()));
                }
                None => rows.push(("PHWOL hits", off.hw_handled, String::new())),
            }
            (off.counters.sw_emc_hits, off.counters.sw_megaflow_hits)
        }
        None => (r.emc_hits, r.megaflow_hits),
    };
    rows.push(("EMC hits", emc, String::new()));
    rows.push((
        "Megaflow hits",
        mf,
        format!(", {:.2} subtbl lookups/hit", r.subtable_lookups_per_hit),
    ));
    rows.push((
        "Upcalls",
        r.upcalls,
        format!(", {:.1} us/upcall", r.upcall_us_avg),
    ));
    rows.push(("Lost upcalls", r.lost, String::new()));
    for (name, n, extra) in &rows {
        let _ = writeln!(
            o,
            "  - {:<17}{:>12}  ({:5.1} %{extra})",
            format!("{name}:"),
            n,
            pct(*n, r.packets)
        );
    }
    let _ = writeln!(
        o,
        "  Tx packets:         {:>12}  ({:.0} Kpps)",
        ls.tx_packets,
        div(ls.tx_packets as f64, secs) / 1e3
    );
    let _ = writeln!(
        o,
        "  Tx batches:         {:>12}  ({:.2} pkts/batch)",
        ls.tx_batches,
        div(ls.tx_packets as f64, ls.tx_batches as f64)
    );
    let _ = writeln!(o, "  Dropped by actions: {:>12}", r.dropped);
}

/// Which megaflows `dpctl/dump-flows` lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowType {
    /// Every megaflow.
    All,
    /// Those with a hardware entry.
    Offloaded,
    /// Those without.
    NonOffloaded,
}

/// `dpctl/dump-flows [type=...]`: each packet thread's megaflows under its
/// own header, as OVS lists each PMD's.
pub fn dp_dump_flows(sw: &mut Switch, ty: FlowType) -> Reading {
    sw.sync();
    let mut o = String::new();
    let mut list = Vec::new();
    for (core, dp) in sw.datapaths().enumerate() {
        let _ = writeln!(o, "flow-dump from pmd on cpu core: {core}");
        for (id, f) in dp.pmd().flows() {
            let off = dp.offloaded(id);
            let keep = match ty {
                FlowType::All => true,
                FlowType::Offloaded => off,
                FlowType::NonOffloaded => !off,
            };
            if !keep {
                continue;
            }
            if let Some(line) = dp.format_flow(id) {
                o.push_str(&line);
                o.push('\n');
                list.push(json!({
                    "flow": line, "packets": f.packets, "bytes": f.bytes, "offloaded": off,
                    "pmd": core,
                }));
            }
        }
    }
    Reading {
        text: o,
        json: json!({ "flows": list }),
    }
}

/// `dpctl/offload-stats-show` (None: no NIC).
pub fn offload_stats_show(sw: &mut Switch) -> Option<Reading> {
    sw.sync();
    let (mut c, l) = sw.datapath().offload()?;
    // The stats table's counters: with a packet path its hardware hits come
    // from the NIC's lookup counters, which `offload()` cannot read.
    if let Some(off) = stats(sw).run.offload {
        c = off.counters;
    }
    let mut o = String::from("HW Offload stats:\n");
    let ema_sd = l.ema_var.sqrt();
    for (name, v) in [
        (
            "               Enqueued offloads",
            format!("{}", l.enqueued),
        ),
        (
            "               Inserted offloads",
            format!("{}", l.inserted),
        ),
        (
            " Cumulative Average latency (us)",
            format!("{:.3}", l.mean_us),
        ),
        (
            "  Cumulative Latency stddev (us)",
            format!("{:.3}", l.stddev_us()),
        ),
        (
            "Exponential Average latency (us)",
            format!("{:.3}", l.ema_us),
        ),
        (" Exponential Latency stddev (us)", format!("{ema_sd:.3}")),
    ] {
        let _ = writeln!(o, "   Total {name}: {v}");
    }
    let mut counters = serde_json::Map::new();
    for (k, v) in c.iter() {
        counters.insert(k.to_string(), json!(v));
    }
    let json = json!({
        "enqueued": l.enqueued,
        "inserted": l.inserted,
        "latency_mean_us": l.mean_us,
        "latency_stddev_us": l.stddev_us(),
        "latency_ema_us": l.ema_us,
        "latency_ema_stddev_us": ema_sd,
        "counters": counters,
    });
    Some(Reading { text: o, json })
}

/// `dump-flows [MATCH]`.
pub fn dump_flows(sw: &mut Switch, filter: Option<&FlowFilter>) -> Reading {
    sw.sync();
    let ids = rules::selected(&sw.of, filter);
    let dumps: Vec<RuleDump> = ids
        .iter()
        .filter_map(|&id| RuleDump::new(&sw.of, &sw.rule_stats, id))
        .collect();
    let mut o = String::new();
    for d in &dumps {
        let _ = writeln!(o, "{d}");
    }
    Reading {
        text: o,
        json: json!({ "flows": dumps }),
    }
}

/// `show`: the datapath, the tables and each port with its counters.
pub fn show(sw: &mut Switch) -> Reading {
    sw.sync();
    let st = stats(sw);
    let mut o = String::new();
    let _ = writeln!(o, "fastpath switch: {}", sw.datapath().describe());
    if sw.threads() > 1 {
        let _ = writeln!(
            o,
            " packet threads: {}, each with its own datapath and one queue of every port",
            sw.threads()
        );
    }
    let r = &st.run;
    let _ = writeln!(
        o,
        " rules: {} ({} subtables), megaflows: {} in {} masks (flow limit {}), uptime {:.1} s",
        r.rules,
        sw.of.n_subtables(),
        r.megaflows,
        r.masks,
        r.flow_limit,
        sw.uptime().as_secs_f64()
    );
    let _ = writeln!(
        o,
        " packets: {}, forwarded {}, dropped {}, lost {}, malformed {}",
        r.packets, r.forwarded, r.dropped, r.lost, r.malformed
    );
    if let Some(pp) = &r.packet_path {
        let rx: u64 = pp.host_rx.values().sum();
        let _ = writeln!(
            o,
            " packet path: hw_forwarded {}, hw_dropped {}, hw_marked {}, host_rx {}, host_tx {}, hw_lost {}",
            pp.hw_forwarded, pp.hw_dropped, pp.hw_marked, rx, pp.host_tx, pp.hw_lost
        );
    }
    let ps = sw.port_stats();
    let mut ports = Vec::new();
    for (p, s) in sw.ports().iter().zip(&ps) {
        let mode = p.mode();
        match mode {
            Some(m) => {
                let _ = writeln!(o, " {}({}): {} ({m})", p.ofport, p.name, p.kind);
            }
            None => {
                let _ = writeln!(o, " {}({}): {}", p.ofport, p.name, p.kind);
            }
        }
        let _ = writeln!(
            o,
            "     rx pkts={}, bytes={}, drop={}, errs={}",
            s.rx_packets, s.rx_bytes, s.rx_dropped, s.rx_errors
        );
        let _ = writeln!(
            o,
            "     tx pkts={}, bytes={}, drop={}, errs={}, link_down={}",
            s.tx_packets, s.tx_bytes, s.tx_dropped, s.tx_errors, s.link_down
        );
        ports.push(json!({
            "name": p.name, "ofport": p.ofport, "kind": p.kind, "mode": mode, "stats": s,
        }));
    }
    let json = json!({
        "datapath": sw.datapath().describe(),
        "stats": st,
        "ports": ports,
        "removed_ports": sw.removed_port_stats(),
        "revalidations": sw.revalidations,
        "threads": sw.threads(),
    });
    Reading { text: o, json }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dpif::{DpConfig, Pmd};
    use crate::ofproto::OfProto;
    use std::time::Instant;

    #[test]
    fn switch_stats_are_the_run_table_plus_extras_each_name_once() {
        let pmd = Pmd::new(DpConfig::default()).unwrap();
        let mut sw = Switch::new(
            OfProto::new(Default::default()),
            Box::new(pmd),
            Instant::now(),
        );
        let st = stats(&mut sw);
        let text = serde_json::to_string(&st).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        let run = serde_json::to_value(RunStats::default()).unwrap();
        let extras = serde_json::to_value(SwitchExtras::default()).unwrap();
        for k in run
            .as_object()
            .unwrap()
            .keys()
            .chain(extras.as_object().unwrap().keys())
        {
            assert!(v.get(k).is_some(), "{k} missing from {text}");
            assert_eq!(text.matches(&format!("\"{k}\":")).count(), 1, "{k}: {text}");
        }
        assert_eq!(v["nic"], "none");
        let perf = pmd_perf_show(&mut sw).json;
        for k in [
            "packets",
            "upcalls",
            "megaflows",
            "upcall_flow_limit",
            "tx_no_port",
        ] {
            assert!(perf.get(k).is_some(), "{k} missing from {perf}");
        }
    }
}
