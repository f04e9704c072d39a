//! Scenarios shared by the offload tests on the model NIC and on the
//! simulated NIC: the hybrid datapath against a software-only run of the
//! same packets (same outputs, in the same order), nothing lost, and flow
//! statistics that add up.
#![allow(dead_code)]

use fastpath::dpif::{DpConfig, PacketSink, Pmd};
use fastpath::io::frames::{frame_from_key, MIN_FRAME};
use fastpath::io::gen::{acl_rules, flows_inside, zipf_sequence, Rng};
use fastpath::offload::{HwLookup, HybridDp, OffloadConfig, OffloadCounters};
use fastpath::ofproto::{parse_rules, OfProto, Prefixes};
use fastpath::BURST;

/// Records every output as (port, FNV-1a of the frame), in order.
#[derive(Default)]
pub struct Recorder {
    pub out: Vec<(u32, u64)>,
}

impl PacketSink for Recorder {
    fn output(&mut self, port: u32, frame: &[u8]) {
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        for &b in frame {
            h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
        h ^= frame.len() as u64;
        self.out.push((port, h));
    }
}

/// A ClassBench-style ACL with `n` rules (the slow path's generator).
pub fn rules(n: usize, seed: u64) -> OfProto {
    let text = acl_rules(n, seed);
    let rules = parse_rules(&text, "generated").expect("generated rules parse");
    OfProto::with_rules(rules, Prefixes::default())
}

/// `flows` frames inside the rules and a Zipf(s) sequence of `packets`.
pub fn traffic(
    of: &OfProto,
    flows: usize,
    s: f64,
    packets: usize,
    seed: u64,
) -> (Vec<Vec<u8>>, Vec<u32>) {
    let mut rng = Rng::new(seed);
    let keys = flows_inside(&of.rules, flows, &mut rng, 1);
    let frames = keys.iter().map(|k| frame_from_key(k, MIN_FRAME)).collect();
    let seq = zipf_sequence(flows, s, packets, &mut rng);
    (frames, seq)
}

pub fn dp_config() -> DpConfig {
    DpConfig {
        // No idle expiry during a test: both runs must delete the same flows.
        max_idle_ms: 3_600_000,
        ..DpConfig::default()
    }
}

/// Events a run can schedule between bursts.
pub enum Event<'a> {
    /// Replace the rule tables (rule change while traffic flows), then revalidate.
    Rules(&'a OfProto),
    /// Remove a port.
    RemovePort(u32),
    /// Revalidate without rule changes.
    Revalidate,
}

/// Software-only reference run.
pub fn run_software(
    of: &OfProto,
    frames: &[Vec<u8>],
    seq: &[u32],
    cfg: DpConfig,
    events: &[(usize, Event)],
) -> Recorder {
    let mut pmd = Pmd::new(cfg).expect("pmd");
    let mut rec = Recorder::default();
    let mut of = of;
    for (b, chunk) in seq.chunks(BURST).enumerate() {
        for (at, ev) in events {
            if *at == b {
                match ev {
                    Event::Rules(o) => {
                        of = o;
                        pmd.revalidate(of, true);
                    }
                    Event::RemovePort(p) => {
                        let ids: Vec<_> = pmd
                            .flows()
                            .filter(|(_, f)| f.ukey.get(abi::Field::InPort) == *p as u64)
                            .map(|(id, _)| id)
                            .collect();
                        pmd.delete_flows(&ids);
                    }
                    Event::Revalidate => {
                        pmd.revalidate(of, false);
                    }
                }
            }
        }
        let burst: Vec<&[u8]> = chunk
            .iter()
            .map(|&i| frames[i as usize].as_slice())
            .collect();
        pmd.process_burst(of, &burst, 1, &mut rec);
    }
    rec
}

/// The same run through the hybrid datapath. Returns the recorder, the
/// datapath, and the hardware share of the second half of the packets.
pub fn run_hybrid<H: HwLookup>(
    of: &OfProto,
    frames: &[Vec<u8>],
    seq: &[u32],
    dp: &mut HybridDp<H>,
    events: &[(usize, Event)],
) -> (Recorder, f64) {
    let mut rec = Recorder::default();
    let mut of = of;
    let half = seq.len().div_ceil(BURST) / 2;
    let mut at_half = OffloadCounters::default();
    for (b, chunk) in seq.chunks(BURST).enumerate() {
        if b == half {
            at_half = dp.counters();
        }
        for (at, ev) in events {
            if *at == b {
                match ev {
                    Event::Rules(o) => {
                        of = o;
                        dp.revalidate(of, true);
                    }
                    Event::RemovePort(p) => {
                        dp.remove_port(*p);
                    }
                    Event::Revalidate => {
                        dp.revalidate(of, false);
                    }
                }
            }
        }
        let burst: Vec<&[u8]> = chunk
            .iter()
            .map(|&i| frames[i as usize].as_slice())
            .collect();
        dp.process_burst(of, &burst, 1, &mut rec)
            .expect("hardware works");
    }
    let end = dp.counters();
    let share = (end.hw_handled() - at_half.hw_handled()) as f64
        / (end.packets - at_half.packets).max(1) as f64;
    (rec, share)
}

/// Every packet accounted for; hardware counters equal what the host saw;
/// each flow's packets add up (no flow was deleted in between).
pub fn check_accounting<H: HwLookup>(dp: &mut HybridDp<H>, packets: usize, flows_deleted: bool) {
    dp.sync_stats();
    let c = dp.counters();
    assert_eq!(c.packets, packets as u64);
    assert_eq!(
        c.hw_emc_hits + c.hw_megaflow_hits + c.sw_emc_hits + c.sw_megaflow_hits + c.upcalls,
        c.packets,
        "every packet is handled exactly once: {c:?}"
    );
    assert_eq!(c.pipeline_aborts, 0, "{c:?}");
    assert_eq!(c.miss_queue_drops, 0, "{c:?}");
    assert_eq!(c.lost, 0, "{c:?}");
    assert_eq!(c.offload_fail_device, 0, "{:?}", dp.mgr.last_error);
    assert_eq!(
        c.hw_packets_credited,
        c.hw_handled(),
        "hardware per-entry counters = hits the host saw: {c:?}"
    );
    if !flows_deleted {
        let in_flows: u64 = dp.pmd.flows().map(|(_, f)| f.packets).sum();
        let bytes: u64 = dp.pmd.flows().map(|(_, f)| f.bytes).sum();
        let s = &dp.pmd.stats;
        // The packet that caused an upcall is not counted in its flow (OVS).
        assert_eq!(
            in_flows + s.upcalls - s.upcall_existing,
            c.packets,
            "{c:?} {s:?}"
        );
        for (id, f) in dp.pmd.flows() {
            assert!(
                f.bytes >= f.packets * MIN_FRAME as u64,
                "flow {id}: {} packets, {} bytes, {:?}",
                f.packets,
                f.bytes,
                dp.mgr.flow_offload(id)
            );
        }
        assert!(bytes >= in_flows * MIN_FRAME as u64);
    }
}

pub fn hybrid_config() -> OffloadConfig {
    OffloadConfig {
        rank_interval_packets: 1 << 13,
        emc_insert_inv_prob: 1,
        ..OffloadConfig::default()
    }
}
