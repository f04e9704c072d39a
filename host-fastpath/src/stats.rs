//! The counters of a `fastpath run`: one struct for every `--nic`, which
//! `--stats-json` serialises.
//!
//! Every packet received ends in exactly one of three counts:
//! `packets = forwarded + dropped + lost` (see [`RunStats::balanced`]).
//! `tx_packets` counts copies (a packet output to three ports counts three),
//! so it is not part of that sum.

use crate::dpif::PmdStats;
use crate::offload::{InlineCounters, OffloadCounters};
use abi::hostq::HostRxReason;
use serde::Serialize;
use std::collections::BTreeMap;

/// What `fastpath run --stats-json` writes.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RunStats {
    /// The `--nic` the run used: `none`, `sim` or `vfio:BDF`.
    pub nic: String,
    /// Packet threads.
    pub threads: usize,
    /// Wall-clock seconds of the timed passes.
    pub seconds: f64,
    /// Million packets per second over `seconds`.
    pub mpps: f64,
    /// Busy nanoseconds per packet per thread.
    pub ns_per_packet: f64,
    /// TSC cycles per packet (all threads).
    pub cycles_per_packet: f64,
    /// Packets received.
    pub packets: u64,
    /// Bytes received.
    pub bytes: u64,
    /// Packets that left on at least one port.
    pub forwarded: u64,
    /// Packets whose actions output nothing.
    pub dropped: u64,
    /// Packets neither forwarded nor dropped (none expected).
    pub lost: u64,
    /// Frames extraction found malformed: parsed as far as possible and then
    /// handled like any other (so also counted in the three above).
    pub malformed: u64,
    /// Copies sent to ports.
    pub tx_packets: u64,
    /// EMC hits (hardware + software with a NIC).
    pub emc_hits: u64,
    /// Megaflow hits (hardware + software with a NIC).
    pub megaflow_hits: u64,
    /// Software subtables searched per software megaflow hit.
    pub subtable_lookups_per_hit: f64,
    /// Upcalls.
    pub upcalls: u64,
    /// Upcalls that installed a megaflow.
    pub upcall_installs: u64,
    /// Upcalls whose megaflow an earlier packet of the burst had installed.
    pub upcall_existing: u64,
    /// Upcalls over the flow limit (actions ran, nothing installed).
    pub upcall_flow_limit: u64,
    /// Upcalls whose install failed (actions ran).
    pub upcall_install_failed: u64,
    /// Microseconds per upcall.
    pub upcall_us_avg: f64,
    /// Rule subtables visited per translation.
    pub xlate_subtables_per_upcall: f64,
    /// Megaflows at the end.
    pub megaflows: usize,
    /// Megaflow masks (software subtables) at the end.
    pub masks: usize,
    /// The dynamic flow limit at the end.
    pub flow_limit: usize,
    /// Rules installed at the end.
    pub rules: usize,
    /// Rules removed by idle_timeout/hard_timeout during the run.
    pub rules_expired: u64,
    /// Copies sent, per output port.
    pub tx_ports: BTreeMap<u32, u64>,
    /// Copies handed to the controller sink (packet-ins; each also counts
    /// in `tx_packets`, and a packet sent only there is `forwarded`).
    pub controller: u64,
    /// With a NIC: the offload figures.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub offload: Option<OffloadRunStats>,
    /// With a NIC that carries frames (`--nic sim`): where they went.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub packet_path: Option<PacketPathStats>,
}

/// The packet path's part of [`RunStats`] (`--nic sim`). Every packet
/// received on a MAC port is `hw_forwarded`, `hw_dropped`, `hw_lost` or in
/// `host_rx`; `forwarded`, `dropped` and `lost` include the first three.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PacketPathStats {
    /// Frames the NIC sent out of its MAC ports without the host seeing them.
    pub hw_forwarded: u64,
    /// Frames the NIC dropped by their action without the host seeing them.
    pub hw_dropped: u64,
    /// Frames queued on the NIC that it neither sent, dropped nor handed to
    /// the host (none expected; part of `lost`).
    pub hw_lost: u64,
    /// Copies the NIC sent itself (part of `tx_packets`).
    pub hw_tx_copies: u64,
    /// Partial offload: marked frames whose flow's actions the host ran.
    pub hw_marked: u64,
    /// Marked frames whose flow id software no longer had (classified again).
    pub hw_mark_stale: u64,
    /// Frames the host received from the NIC, by reason (`marked`, `miss`,
    /// `exception`).
    pub host_rx: BTreeMap<&'static str, u64>,
    /// The `exception` frames by the parser's reason (`past_window`,
    /// `too_many_ipv6_ext`, `neighbor_discovery`).
    pub exceptions: BTreeMap<&'static str, u64>,
    /// Frames the host sent out of a MAC port through the NIC's host TX queue.
    pub host_tx: u64,
    /// `hw_forwarded / packets`.
    pub hw_forwarded_share: f64,
}

/// The offload part of [`RunStats`] (`--nic sim`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct OffloadRunStats {
    /// `--widen` policy.
    pub widen: String,
    /// Packets handled fully in hardware.
    pub hw_handled: u64,
    /// `hw_handled / packets`.
    pub hw_share: f64,
    /// The offload counters (those [`RunStats`] holds are not repeated).
    #[serde(flatten)]
    pub counters: OffloadCounters,
    /// Megaflows with a hardware entry at the end.
    pub offloaded_megaflows: usize,
    /// Hardware megaflow entries at the end.
    pub hw_megaflow_entries: usize,
    /// Hardware EMC entries at the end.
    pub hw_emc_entries: usize,
    /// Mask slots in use at the end.
    pub hw_slots_used: usize,
}

/// How long a run's timed passes took.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Timing {
    /// Wall-clock seconds (the slowest thread).
    pub seconds: f64,
    /// Busy nanoseconds summed over threads.
    pub busy_ns: u64,
    /// TSC cycles summed over threads.
    pub cycles: u64,
}

fn div(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

impl RunStats {
    /// From the software datapath's counters `s` (summed over `threads`),
    /// `malformed` frames and the timing.
    pub fn from_pmd(nic: &str, threads: usize, s: &PmdStats, malformed: u64, t: &Timing) -> Self {
        let translations = s.upcalls.saturating_sub(s.upcall_existing);
        RunStats {
            nic: nic.into(),
            threads,
            seconds: t.seconds,
            mpps: div(s.packets as f64, t.seconds) / 1e6,
            ns_per_packet: div(t.busy_ns as f64, s.packets as f64),
            cycles_per_packet: div(t.cycles as f64, s.packets as f64),
            packets: s.packets,
            bytes: s.bytes,
            forwarded: s.forwarded,
            dropped: s.dropped,
            lost: s.lost,
            malformed,
            tx_packets: s.tx_packets,
            emc_hits: s.emc_hits,
            megaflow_hits: s.megaflow_hits,
            subtable_lookups_per_hit: div(s.subtable_lookups as f64, s.megaflow_hits as f64),
            upcalls: s.upcalls,
            upcall_installs: s.upcall_installs,
            upcall_existing: s.upcall_existing,
            upcall_flow_limit: s.upcall_flow_limit,
            upcall_install_failed: s.upcall_install_failed,
            upcall_us_avg: div(s.upcall_ns as f64 / 1000.0, s.upcalls as f64),
            xlate_subtables_per_upcall: div(s.xlate_subtables as f64, translations as f64),
            ..RunStats::default()
        }
    }

    /// A hybrid run: the software part from `s` (as [`RunStats::from_pmd`]),
    /// then packets, where they went and the hit counts from `c`, which
    /// covers hardware and software.
    pub fn from_hybrid(
        nic: &str,
        s: &PmdStats,
        c: &OffloadCounters,
        malformed: u64,
        t: &Timing,
        offload: OffloadRunStats,
    ) -> Self {
        let mut r = RunStats::from_pmd(nic, 1, s, malformed, t);
        r.mpps = div(c.packets as f64, t.seconds) / 1e6;
        r.ns_per_packet = div(t.busy_ns as f64, c.packets as f64);
        r.cycles_per_packet = div(t.cycles as f64, c.packets as f64);
        r.packets = c.packets;
        r.bytes = c.bytes;
        r.forwarded = c.forwarded;
        r.dropped = c.dropped;
        r.lost = c.lost;
        r.tx_packets = c.tx_packets;
        r.emc_hits = c.hw_emc_hits + c.sw_emc_hits;
        r.megaflow_hits = c.hw_megaflow_hits + c.sw_megaflow_hits;
        r.upcalls = c.upcalls;
        r.offload = Some(OffloadRunStats {
            hw_handled: c.hw_handled(),
            hw_share: div(c.hw_handled() as f64, c.packets as f64),
            counters: *c,
            ..offload
        });
        r
    }

    /// A run over a NIC with a packet path: the software part from `s` (the
    /// frames the host classified), the packet path's counts from `c`, the
    /// offload counters `oc` (hardware lookups from the NIC's counters).
    pub fn from_inline(
        nic: &str,
        s: &PmdStats,
        c: &InlineCounters,
        oc: &OffloadCounters,
        malformed: u64,
        t: &Timing,
        offload: OffloadRunStats,
    ) -> Self {
        let mut r = RunStats::from_pmd(nic, 1, s, malformed, t);
        r.mpps = div(c.packets as f64, t.seconds) / 1e6;
        r.ns_per_packet = div(t.busy_ns as f64, c.packets as f64);
        r.cycles_per_packet = div(t.cycles as f64, c.packets as f64);
        r.packets = c.packets;
        r.bytes = c.bytes;
        r.forwarded = c.hw_forwarded + c.marked_forwarded + s.forwarded;
        r.dropped = c.hw_dropped + c.marked_dropped + s.dropped;
        r.lost = c.hw_lost + s.lost;
        r.tx_packets = c.hw_tx_copies + c.marked_tx + s.tx_packets;
        r.emc_hits = oc.hw_emc_hits + s.emc_hits;
        r.megaflow_hits = oc.hw_megaflow_hits + s.megaflow_hits;
        let hw = c.hw_forwarded + c.hw_dropped;
        r.offload = Some(OffloadRunStats {
            hw_handled: hw,
            hw_share: div(hw as f64, c.packets as f64),
            counters: *oc,
            ..offload
        });
        r.packet_path = Some(PacketPathStats {
            hw_forwarded: c.hw_forwarded,
            hw_dropped: c.hw_dropped,
            hw_lost: c.hw_lost,
            hw_tx_copies: c.hw_tx_copies,
            hw_marked: c.hw_marked,
            hw_mark_stale: c.marked_stale,
            host_rx: HostRxReason::ALL
                .iter()
                .map(|&why| (why.name(), c.host_rx(why)))
                .collect(),
            exceptions: abi::parser::Exception::ALL
                .iter()
                .map(|&why| (why.name(), c.exceptions(why)))
                .collect(),
            host_tx: c.host_tx,
            hw_forwarded_share: div(c.hw_forwarded as f64, c.packets as f64),
        });
        r
    }

    /// Whether every packet is counted once: `packets = forwarded + dropped + lost`.
    pub fn balanced(&self) -> bool {
        self.forwarded
            .checked_add(self.dropped)
            .and_then(|n| n.checked_add(self.lost))
            == Some(self.packets)
    }

    /// Pretty-printed JSON, newline-terminated.
    pub fn to_json(&self) -> String {
        // Only numbers, strings and string-keyed maps: serialising cannot fail.
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_every_name_once_and_offload_only_with_a_nic() {
        let s = PmdStats {
            packets: 10,
            forwarded: 6,
            dropped: 3,
            lost: 1,
            tx_packets: 12,
            ..PmdStats::default()
        };
        let mut r = RunStats::from_pmd("none", 2, &s, 4, &Timing::default());
        r.tx_ports.insert(2, 12);
        assert!(r.balanced());
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        for (k, want) in [
            ("packets", 10),
            ("forwarded", 6),
            ("dropped", 3),
            ("lost", 1),
            ("malformed", 4),
            ("tx_packets", 12),
            ("threads", 2),
        ] {
            assert_eq!(v[k], want, "{k}");
        }
        assert_eq!(v["nic"], "none");
        assert_eq!(v["tx_ports"]["2"], 12);
        assert!(v.get("hw_handled").is_none() && v.get("widen").is_none());

        let c = OffloadCounters {
            packets: 20,
            forwarded: 15,
            dropped: 5,
            hw_emc_hits: 7,
            sw_emc_hits: 1,
            ..OffloadCounters::default()
        };
        let r = RunStats::from_hybrid(
            "sim",
            &s,
            &c,
            0,
            &Timing::default(),
            OffloadRunStats {
                widen: "auto".into(),
                ..OffloadRunStats::default()
            },
        );
        assert!(r.balanced());
        let text = r.to_json();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (v["packets"].clone(), v["forwarded"].clone()),
            (20.into(), 15.into())
        );
        assert_eq!(
            (v["hw_handled"].clone(), v["emc_hits"].clone()),
            (7.into(), 8.into())
        );
        assert_eq!(v["widen"], "auto");
        // Shared counters appear once (duplicate keys would be invalid for most readers).
        assert_eq!(text.matches("\"packets\"").count(), 1, "{text}");
        assert_eq!(text.matches("\"upcalls\"").count(), 1, "{text}");
        let unbalanced = RunStats {
            packets: 3,
            forwarded: 1,
            ..RunStats::default()
        };
        assert!(!unbalanced.balanced());
    }
}
