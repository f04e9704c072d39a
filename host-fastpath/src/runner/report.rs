//! The text a run prints: one function for every `--nic`, from the same
//! [`RunStats`] `--stats-json` writes. With a NIC it adds where each packet
//! was handled and the offload counters; without, the software datapath's
//! `dpif-netdev/pmd-perf-show`-style figures.

use super::RunOutcome;
use crate::stats::{OffloadRunStats, PacketPathStats, RunStats};
use std::fmt::Write as _;

fn pct(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

/// The report of a finished run.
pub fn text(o: &RunOutcome) -> String {
    let s = &o.stats;
    let mut rules = format!("{} rules ({} subtables)", s.rules, o.rule_subtables);
    if s.rules_expired > 0 {
        let _ = write!(
            rules,
            ", {} expired by idle_timeout/hard_timeout",
            s.rules_expired
        );
    }
    let mut out = String::new();
    match (&s.offload, &o.nic_desc) {
        (Some(off), Some(desc)) => {
            let _ = writeln!(out, "fastpath run: {rules}, NIC {desc}");
            if let Some(pp) = &s.packet_path {
                packet_path_lines(&mut out, s, pp);
            }
            hybrid_lines(&mut out, s, off);
        }
        _ => {
            let _ = writeln!(out, "fastpath run: {rules}, {} thread(s)", s.threads);
            software_lines(&mut out, s);
        }
    }
    // Shared tail.
    let o_ = &mut out;
    let _ = writeln!(
        o_,
        "  Forwarded:           {:>12}  ({} copies sent)",
        s.forwarded, s.tx_packets
    );
    let _ = writeln!(o_, "  Dropped by actions:  {:>12}", s.dropped);
    let _ = writeln!(o_, "  Lost:                {:>12}", s.lost);
    match &s.offload {
        Some(off) => {
            malformed_line(o_, s.malformed);
            let _ = writeln!(
                o_,
                "  Megaflows:           {:>12}  in {} masks, {} offloaded; hw entries: {} megaflow in {} slots, {} EMC",
                s.megaflows,
                s.masks,
                off.offloaded_megaflows,
                off.hw_megaflow_entries,
                off.hw_slots_used,
                off.hw_emc_entries
            );
            if let Some(e) = &o.last_offload_error {
                let _ = writeln!(o_, "  Last offload error:  {e}");
            }
        }
        None => {
            let _ = writeln!(
                o_,
                "  Megaflows:           {:>12}  in {} masks (flow limit {})",
                s.megaflows, s.masks, s.flow_limit
            );
            malformed_line(o_, s.malformed);
        }
    }
    for (p, n) in &s.tx_ports {
        let b = o.tx_bytes.get(p).copied().unwrap_or(0);
        let _ = writeln!(o_, "  Tx port {p:<6}       {n:>12}  packets, {b} bytes");
    }
    if s.controller > 0 {
        let _ = writeln!(
            o_,
            "  Controller:          {:>12}  packet-ins",
            s.controller
        );
    }
    out
}

fn malformed_line(o: &mut String, malformed: u64) {
    if malformed > 0 {
        let _ = writeln!(
            o,
            "  Malformed frames:    {malformed:>12}  (parsed as far as possible)"
        );
    }
}

fn software_lines(o: &mut String, s: &RunStats) {
    let p = s.packets;
    let _ = writeln!(
        o,
        "  Rx packets:          {:>12}  ({:.2} Mpps, {:.3} s)",
        p, s.mpps, s.seconds
    );
    let _ = writeln!(
        o,
        "  Cycles per packet:   {:>12.1}  ({:.1} ns per packet per thread)",
        s.cycles_per_packet, s.ns_per_packet
    );
    let _ = writeln!(
        o,
        "  - EMC hits:          {:>12}  ({:5.1} %)",
        s.emc_hits,
        pct(s.emc_hits, p)
    );
    let _ = writeln!(
        o,
        "  - Megaflow hits:     {:>12}  ({:5.1} %, {:.2} subtbl lookups/hit)",
        s.megaflow_hits,
        pct(s.megaflow_hits, p),
        s.subtable_lookups_per_hit
    );
    let _ = writeln!(
        o,
        "  - Upcalls:           {:>12}  ({:5.1} %, {:.2} us/upcall, {:.1} rule subtables/translation)",
        s.upcalls,
        pct(s.upcalls, p),
        s.upcall_us_avg,
        s.xlate_subtables_per_upcall
    );
    let _ = writeln!(
        o,
        "      installed {}, found installed by the same burst {}, over flow limit {}, install failed {}",
        s.upcall_installs, s.upcall_existing, s.upcall_flow_limit, s.upcall_install_failed
    );
}

fn packet_path_lines(o: &mut String, s: &RunStats, pp: &PacketPathStats) {
    let p = s.packets;
    let _ = writeln!(o, "  Where frames went (packet path):");
    let _ = writeln!(
        o,
        "    hw forwarded       {:>12}  ({:5.1} %, the host never saw them; {} copies)",
        pp.hw_forwarded,
        pct(pp.hw_forwarded, p),
        pp.hw_tx_copies
    );
    let _ = writeln!(
        o,
        "    hw dropped         {:>12}  ({:5.1} %)",
        pp.hw_dropped,
        pct(pp.hw_dropped, p)
    );
    let rx: u64 = pp.host_rx.values().sum();
    let by: Vec<String> = pp.host_rx.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let _ = writeln!(
        o,
        "    host rx            {:>12}  ({:5.1} %: {})",
        rx,
        pct(rx, p),
        by.join(", ")
    );
    if pp.exceptions.values().any(|&n| n > 0) {
        let by: Vec<String> = pp
            .exceptions
            .iter()
            .filter(|(_, &n)| n > 0)
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let _ = writeln!(o, "      exceptions by reason: {}", by.join(", "));
    }
    let _ = writeln!(
        o,
        "    hw marked          {:>12}  (host ran the flow's actions, no classification; {} stale)",
        pp.hw_marked, pp.hw_mark_stale
    );
    let _ = writeln!(
        o,
        "    host tx            {:>12}  (host outputs sent out of the NIC's MAC ports)",
        pp.host_tx
    );
    if pp.hw_lost > 0 {
        let _ = writeln!(o, "    hw lost            {:>12}", pp.hw_lost);
    }
}

fn hybrid_lines(o: &mut String, s: &RunStats, off: &OffloadRunStats) {
    let (p, c) = (s.packets, &off.counters);
    let _ = writeln!(
        o,
        "  Rx packets:          {:>12}  ({:.3} Mpps simulated end to end, {:.3} s)",
        p, s.mpps, s.seconds
    );
    let _ = writeln!(o, "  Where packets were handled:");
    for (name, n) in [
        ("hw EMC", c.hw_emc_hits),
        ("hw megaflow", c.hw_megaflow_hits),
        ("sw EMC", c.sw_emc_hits),
        ("sw megaflow", c.sw_megaflow_hits),
        ("upcall", c.upcalls),
    ] {
        let _ = writeln!(o, "    {name:<16}   {n:>12}  ({:5.1} %)", pct(n, p));
    }
    // Totals in the software datapath's terms (`--nic none` prints these).
    let _ = writeln!(
        o,
        "  - EMC hits:          {:>12}  ({:5.1} %, hw + sw)",
        s.emc_hits,
        pct(s.emc_hits, p)
    );
    let _ = writeln!(
        o,
        "  - Megaflow hits:     {:>12}  ({:5.1} %, hw + sw)",
        s.megaflow_hits,
        pct(s.megaflow_hits, p)
    );
    let _ = writeln!(
        o,
        "  - Upcalls:           {:>12}  ({:5.1} %)",
        s.upcalls,
        pct(s.upcalls, p)
    );
    let _ = writeln!(o, "  Offload counters:");
    let _ = writeln!(
        o,
        "    handled fully in hw {:>12}  ({:5.1} %)",
        off.hw_handled,
        pct(off.hw_handled, p)
    );
    let _ = writeln!(o, "    hw miss             {:>12}", c.hw_misses);
    let _ = writeln!(
        o,
        "    offload failure     {:>12}  (table full {}, no mask slot {}, device {})",
        c.offload_failures,
        c.offload_fail_table_full,
        c.offload_fail_no_slot,
        c.offload_fail_device
    );
    let _ = writeln!(
        o,
        "    pipeline abort      {:>12}  (miss-queue drops {})",
        c.pipeline_aborts, c.miss_queue_drops
    );
    let _ = writeln!(
        o,
        "    installs            own mask {}, widened {}, hw EMC {} ({} replaced); slots assigned {}, evicted {} ({} entries)",
        c.mf_installs, c.widened_installs, c.emc_installs, c.emc_evictions, c.mask_assignments, c.mask_evictions, c.entries_evicted
    );
    let _ = writeln!(
        o,
        "    widening trade      {} widened entries earned {} hw hits ({:.1} per entry)",
        c.widened_installs,
        c.widened_hits,
        c.widened_hits as f64 / c.widened_installs.max(1) as f64
    );
}
