//! What the switch's reading commands print, as text in Open vSwitch's
//! layout and as JSON. Counter names follow the rest of fastpath
//! (`packets`, `forwarded`, `dropped`, `lost`, `malformed`).

use super::rules::{self, FlowFilter, RuleDump};
use super::Switch;
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

/// Totals of the switch.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct SwitchStats {
    /// Frames received by the datapath.
    pub packets: u64,
    /// Bytes received.
    pub bytes: u64,
    /// Packets whose actions output at least once.
    pub forwarded: u64,
    /// Packets whose actions output nothing.
    pub dropped: u64,
    /// Packets lost inside the datapath (a failed install), counted.
    pub lost: u64,
    /// Frames that did not parse completely (still processed).
    pub malformed: u64,
    /// Output copies queued to ports.
    pub tx_packets: u64,
    /// Output to a port number with no port.
    pub tx_no_port: u64,
    /// Handled by the NIC's tables.
    pub hw_handled: u64,
    /// Software EMC hits.
    pub emc_hits: u64,
    /// Software megaflow hits.
    pub megaflow_hits: u64,
    /// Upcalls.
    pub upcalls: u64,
    /// Installed megaflows.
    pub megaflows: usize,
    /// Megaflow masks.
    pub masks: usize,
    /// Flow limit in force.
    pub flow_limit: usize,
    /// Megaflows deleted by revalidation.
    pub flows_deleted: u64,
    /// Rules in the tables.
    pub rules: usize,
    /// Rules expired by timeouts.
    pub rules_expired: u64,
}

/// The switch's totals now.
pub fn stats(sw: &Switch) -> SwitchStats {
    let p = sw.pmd();
    let s = &p.stats;
    let mut out = SwitchStats {
        packets: s.packets,
        bytes: s.bytes,
        dropped: s.dropped,
        lost: s.lost,
        malformed: p.extract_stats.malformed(),
        tx_packets: sw.loop_stats.tx_packets,
        tx_no_port: sw.loop_stats.tx_no_port,
        emc_hits: s.emc_hits,
        megaflow_hits: s.megaflow_hits,
        upcalls: s.upcalls,
        megaflows: p.n_flows(),
        masks: p.dpcls.mask_count(),
        flow_limit: p.flow_limit(),
        flows_deleted: s.flows_deleted,
        rules: sw.of.n_rules(),
        rules_expired: sw.rules_expired,
        ..Default::default()
    };
    if let Some((c, _)) = sw.datapath().offload() {
        out.packets = c.packets;
        out.bytes = c.bytes;
        out.dropped = c.dropped;
        out.hw_handled = c.hw_handled();
    }
    out.forwarded = out.packets.saturating_sub(out.dropped + out.lost);
    out
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

/// `dpif-netdev/pmd-perf-show`.
pub fn pmd_perf_show(sw: &mut Switch) -> Reading {
    sw.sync();
    let st = stats(sw);
    let ls = sw.loop_stats;
    let p = sw.pmd().stats;
    let secs = sw.uptime().as_secs_f64();
    let idle = ls.iterations - ls.busy_iterations;
    let cyc_pp = div(ls.busy_cycles as f64, st.packets as f64);
    let lookups = div(p.subtable_lookups as f64, p.megaflow_hits as f64);
    let us_up = div(p.upcall_ns as f64 / 1000.0, p.upcalls as f64);
    let mut o = String::new();
    let _ = writeln!(o, "Measurement duration: {secs:.3} s\n");
    let _ = writeln!(o, "pmd thread numa_id 0 core_id 0:\n");
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
        st.packets,
        div(st.packets as f64, secs) / 1e3,
        cyc_pp
    );
    let _ = writeln!(
        o,
        "  Datapath passes:    {:>12}  ({:.2} passes/pkt)",
        st.packets,
        if st.packets > 0 { 1.0 } else { 0.0 }
    );
    let rows = [
        ("PHWOL hits", st.hw_handled, String::new()),
        ("EMC hits", st.emc_hits, String::new()),
        (
            "Megaflow hits",
            st.megaflow_hits,
            format!(", {lookups:.2} subtbl lookups/hit"),
        ),
        ("Upcalls", st.upcalls, format!(", {us_up:.1} us/upcall")),
        ("Lost upcalls", st.lost, String::new()),
    ];
    for (name, n, extra) in &rows {
        let _ = writeln!(
            o,
            "  - {:<17}{:>12}  ({:5.1} %{extra})",
            format!("{name}:"),
            n,
            pct(*n, st.packets)
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
    let _ = writeln!(o, "  Dropped by actions: {:>12}", st.dropped);
    let json = json!({
        "seconds": secs,
        "iterations": ls.iterations,
        "busy_iterations": ls.busy_iterations,
        "used_cycles": ls.total_cycles,
        "busy_cycles": ls.busy_cycles,
        "cycles_per_packet": cyc_pp,
        "packets": st.packets,
        "forwarded": st.forwarded,
        "dropped": st.dropped,
        "lost": st.lost,
        "malformed": st.malformed,
        "hw_handled": st.hw_handled,
        "emc_hits": st.emc_hits,
        "megaflow_hits": st.megaflow_hits,
        "subtable_lookups_per_hit": lookups,
        "upcalls": st.upcalls,
        "upcall_us_avg": us_up,
        // Upcalls whose actions ran but whose megaflow was not installed
        // (the flow limit was reached).
        "upcalls_over_flow_limit": p.upcall_flow_limit,
        "tx_packets": ls.tx_packets,
        "tx_batches": ls.tx_batches,
        "tx_no_port": ls.tx_no_port,
    });
    Reading { text: o, json }
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

/// `dpctl/dump-flows [type=...]`.
pub fn dp_dump_flows(sw: &mut Switch, ty: FlowType) -> Reading {
    sw.sync();
    let dp = sw.datapath();
    let mut o = String::from("flow-dump from pmd on cpu core: 0\n");
    let mut list = Vec::new();
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
            }));
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
    let (c, l) = sw.datapath().offload()?;
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
    let _ = writeln!(
        o,
        " rules: {} ({} subtables), megaflows: {} in {} masks (flow limit {}), uptime {:.1} s",
        st.rules,
        sw.of.n_subtables(),
        st.megaflows,
        st.masks,
        st.flow_limit,
        sw.uptime().as_secs_f64()
    );
    let _ = writeln!(
        o,
        " packets: {}, forwarded {}, dropped {}, lost {}, malformed {}",
        st.packets, st.forwarded, st.dropped, st.lost, st.malformed
    );
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
    });
    Reading { text: o, json }
}
