//! End to end over the real Verilated NIC with a packet path
//! (`sim::SimFastpathNic`): `--nic sim` against `--nic none` on random rule
//! sets and traces, a rule change while frames flow, a full hardware table,
//! a host queue under backpressure, and the steady-state share of frames
//! the NIC forwards itself.
//!
//! What must be equal: the frames on every output port as a multiset, and
//! per flow their order. Across flows the order may differ: a flow's first
//! packet detours through the host (miss → upcall → host TX queue) and
//! leaves after the frames the NIC forwarded itself in the same burst,
//! while `--nic none` sends every frame in arrival order. Every packet is
//! counted once: `packets = forwarded + dropped + lost`, with identical
//! forwarded and dropped counts.
#![cfg(feature = "sim")]

use fastpath::dpif::{DpConfig, PacketSink, Pmd};
use fastpath::io::frames::frame_from_key;
use fastpath::io::gen::{flows_inside, zipf_sequence, Rng};
use fastpath::io::pcap::PcapReader;
use fastpath::nic_spec::NicSpec;
use fastpath::offload::{InlineDp, OffloadConfig};
use fastpath::ofproto::{parse_rules, OfProto, Prefixes};
use fastpath::runner::{self, RunConfig, RunOutcome, Traffic};
use fastpath::BURST;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Instant;

/// Frame length: room after the headers for a 4-byte sequence number.
const LEN: usize = 80;

/// Random rules over 10.x.0.0/16 sources, some on tagged frames: outputs
/// to the NIC's ports (1–2), drops, VLAN pushes and pops (the NIC's own
/// since it announces `CAP_ACT_VLAN`), an Ethernet rewrite (its own with
/// `CAP_ACT_ETH`), and actions the NIC cannot do (a port it does not carry,
/// a TTL rewrite, copies to two kinds of port, a tag rewrite, which is a
/// pop and a push).
fn random_rules(rng: &mut Rng, n: usize) -> String {
    let acts = [
        "output:2",
        "output:1,output:2",
        "drop",
        "output:3",
        "mod_dl_dst:02:00:00:00:00:99,output:2",
        "output:2,output:3",
        "dec_ttl,output:1",
        "mod_vlan_vid:5,output:2",
        "push_vlan:0x88a8,mod_vlan_vid:9,output:1,output:2",
        "strip_vlan,output:2",
    ];
    let mut s = String::new();
    for i in 0..n {
        let a = acts[rng.below(acts.len() as u64) as usize];
        let src = rng.below(8);
        let m = match rng.below(4) {
            0 => format!("ip,nw_src=10.{src}.0.0/16"),
            3 => format!("ip,dl_vlan={},nw_src=10.{src}.0.0/16", 1 + rng.below(3)),
            1 => format!("udp,nw_src=10.{src}.0.0/16,tp_dst={}", rng.below(4) * 1000),
            _ => format!("tcp,nw_src=10.{src}.{}.0/24", rng.below(4)),
        };
        s += &format!("priority={},{m},actions={a}\n", 100 + n - i);
    }
    s += "priority=1,ip,actions=output:2\npriority=0,actions=drop\n";
    s
}

fn ofproto(text: &str) -> OfProto {
    OfProto::with_rules(
        parse_rules(text, "t").expect("rules parse"),
        Prefixes::default(),
    )
}

/// `packets` frames over `flows` flows (Zipf 1.0) drawn inside the rules,
/// each frame stamped with its sequence number after the headers.
fn trace(of: &OfProto, flows: usize, packets: usize, seed: u64, in_port: u32) -> Traffic {
    let mut rng = Rng::new(seed);
    let keys = flows_inside(&of.rules, flows, &mut rng, in_port);
    let seq = zipf_sequence(keys.len(), 1.0, packets, &mut rng);
    let frames = seq
        .iter()
        .enumerate()
        .map(|(n, &k)| {
            let mut f = frame_from_key(&keys[k as usize], LEN);
            f.truncate(LEN);
            f[LEN - 4..].copy_from_slice(&(n as u32).to_be_bytes());
            f
        })
        .collect();
    Traffic {
        frames,
        seq: (0..packets as u32).collect(),
    }
}

fn tmp(name: &str) -> String {
    let d = std::env::temp_dir().join(format!("fastpath-inline-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("tmp dir");
    d.join(name).display().to_string()
}

/// Frames per output port, in the order they left.
type PortFrames = BTreeMap<u32, Vec<Vec<u8>>>;

fn run(
    nic: NicSpec,
    rules: &str,
    t: &Traffic,
    in_port: u32,
    prefix: &str,
) -> (RunOutcome, PortFrames) {
    let cfg = RunConfig {
        nic,
        threads: 1,
        in_port,
        loops: 1,
        warmup: 0,
        dp: DpConfig::default(),
        offload: OffloadConfig::default(),
        out_pcap: Some(prefix.into()),
        controller_pcap: None,
        dump_flows: false,
    };
    let o = runner::run(&cfg, ofproto(rules), Instant::now(), t, &|_| {}).expect("run");
    let mut ports = PortFrames::new();
    for &p in o.stats.tx_ports.keys() {
        let path = PathBuf::from(format!("{prefix}-port{p}.pcap"));
        let frames = PcapReader::open(&path)
            .and_then(|r| r.read_all())
            .expect("read port pcap");
        ports.insert(p, frames);
    }
    (o, ports)
}

/// Asserts the same multiset of frames per port and the same order per
/// flow (a flow: the frame without its sequence number).
fn same_outputs(sim: &PortFrames, none: &PortFrames, what: &str) {
    assert_eq!(
        sim.keys().collect::<Vec<_>>(),
        none.keys().collect::<Vec<_>>(),
        "{what}: output ports"
    );
    for (p, s) in sim {
        let n = &none[p];
        let (mut a, mut b) = (s.clone(), n.clone());
        a.sort();
        b.sort();
        assert!(
            a == b,
            "{what}: port {p}: {} vs {} frames differ",
            s.len(),
            n.len()
        );
        let per_flow = |v: &[Vec<u8>]| {
            let mut m: HashMap<Vec<u8>, Vec<Vec<u8>>> = HashMap::new();
            for f in v {
                let cut = f.len().saturating_sub(4);
                m.entry(f[..cut].to_vec())
                    .or_default()
                    .push(f[cut..].to_vec());
            }
            m
        };
        assert!(
            per_flow(s) == per_flow(n),
            "{what}: port {p}: order within a flow differs"
        );
    }
}

#[test]
fn random_rule_sets_give_the_same_frames_as_software() {
    // hw_forwarded, hw_dropped, hw_marked, host_tx, offload_partial.
    let mut seen = [0u64; 5];
    for seed in 1..=4u64 {
        let mut rng = Rng::new(seed);
        let rules = random_rules(&mut rng, 24);
        let in_port = 1 + (seed % 2) as u32;
        let t = trace(&ofproto(&rules), 300, 2500, seed, in_port);
        let (so, sp) = run(
            NicSpec::Sim,
            &rules,
            &t,
            in_port,
            &tmp(&format!("sim{seed}")),
        );
        let (no, np) = run(
            NicSpec::None,
            &rules,
            &t,
            in_port,
            &tmp(&format!("none{seed}")),
        );
        let what = format!("seed {seed}");
        same_outputs(&sp, &np, &what);
        let (s, n) = (&so.stats, &no.stats);
        assert!(s.balanced() && n.balanced(), "{what}");
        assert_eq!(s.packets, t.len() as u64);
        assert_eq!(
            (s.forwarded, s.dropped, s.lost),
            (n.forwarded, n.dropped, 0),
            "{what}"
        );
        assert_eq!(s.tx_packets, n.tx_packets, "{what}");
        assert_eq!(s.tx_ports, n.tx_ports, "{what}");
        let pp = s.packet_path.as_ref().expect("packet-path counters");
        let host_rx: u64 = pp.host_rx.values().sum();
        assert_eq!(
            pp.hw_forwarded + pp.hw_dropped + pp.hw_lost + host_rx,
            s.packets,
            "{what}"
        );
        assert_eq!(pp.hw_lost, 0, "{what}");
        assert!(pp.host_rx["marked"] >= pp.hw_marked, "{what}: {pp:?}");
        assert!(pp.host_rx["miss"] > 0, "{what}: {pp:?}");
        // Copies: the NIC's own, the marked frames', the software path's.
        assert!(pp.hw_tx_copies <= s.tx_packets, "{what}");
        let off = s.offload.as_ref().expect("offload counters");
        seen[0] += pp.hw_forwarded;
        seen[1] += pp.hw_dropped;
        seen[2] += pp.hw_marked;
        seen[3] += pp.host_tx;
        seen[4] += off.counters.offload_partial;
    }
    // Over the seeds every path was taken (which one a rule set uses
    // depends on its draw).
    assert!(seen.iter().all(|&n| n > 0), "{seen:?}");
}

/// Records every output.
#[derive(Default)]
struct Rec(PortFrames);

impl PacketSink for Rec {
    fn output(&mut self, port: u32, frame: &[u8]) {
        self.0.entry(port).or_default().push(frame.to_vec());
    }
}

type Nic = driver::Nic<sim::SimFastpathNic>;

fn inline_dp(dp: DpConfig, off: OffloadConfig) -> InlineDp<Nic> {
    let nic = driver::Nic::open(sim::SimFastpathNic::new()).expect("open the NIC");
    InlineDp::new(Pmd::new(dp.clone()).expect("pmd"), nic, off)
}

/// Runs `t` through `dp` and through a software `Pmd` burst by burst,
/// calling `between(i, of)` before burst `i` (to change rules, revalidating
/// both); returns both outputs.
fn side_by_side(
    mut dp: InlineDp<Nic>,
    cfg: DpConfig,
    of: &mut OfProto,
    t: &Traffic,
    in_port: u32,
    mut between: impl FnMut(usize, &mut OfProto) -> bool,
) -> (InlineDp<Nic>, Pmd, Rec, Rec) {
    let mut pmd = Pmd::new(cfg).expect("pmd");
    let (mut a, mut b) = (Rec::default(), Rec::default());
    for (i, chunk) in t.seq.chunks(BURST).enumerate() {
        if between(i, of) {
            dp.revalidate(of, true);
            pmd.revalidate(of, true);
        }
        let burst: Vec<&[u8]> = chunk
            .iter()
            .map(|&i| t.frames[i as usize].as_slice())
            .collect();
        dp.process_burst(of, &burst, in_port, &mut a)
            .expect("NIC burst");
        pmd.process_burst(of, &burst, in_port, &mut b);
    }
    (dp, pmd, a, b)
}

fn balanced(dp: &InlineDp<Nic>, pmd: &Pmd, packets: u64) {
    let c = &dp.counters;
    let s = &dp.pmd.stats;
    assert_eq!(c.packets, packets);
    let fwd = c.hw_forwarded + c.marked_forwarded + s.forwarded;
    let drop = c.hw_dropped + c.marked_dropped + s.dropped;
    let lost = c.hw_lost + s.lost;
    assert_eq!(fwd + drop + lost, packets, "{c:?}");
    assert_eq!(
        (fwd, drop, lost),
        (pmd.stats.forwarded, pmd.stats.dropped, 0),
        "{c:?}"
    );
}

#[test]
fn a_rule_change_while_frames_flow_takes_effect_in_hardware() {
    let rules = "priority=10,ip,nw_src=10.0.0.0/8,actions=output:2\npriority=0,actions=drop\n";
    let mut of = ofproto(rules);
    let t = trace(&of, 200, 3000, 7, 1);
    let cfg = DpConfig::default();
    let dp = inline_dp(cfg.clone(), OffloadConfig::default());
    let change = t.seq.len() / BURST / 2;
    let (dp, pmd, a, b) = side_by_side(dp, cfg, &mut of, &t, 1, |i, of| {
        if i != change {
            return false;
        }
        // Half the traffic now goes to ports 2 and 3 (partial offload),
        // some is dropped.
        for r in parse_rules(
            "priority=20,ip,nw_src=10.0.0.0/9,actions=output:2,output:3\n\
             priority=20,ip,nw_src=10.128.0.0/9,actions=drop\n",
            "change",
        )
        .expect("rules")
        {
            of.add_rule(r);
        }
        true
    });
    same_outputs(&a.0, &b.0, "rule change");
    balanced(&dp, &pmd, t.len() as u64);
    assert!(
        a.0.contains_key(&3) && a.0.contains_key(&2),
        "{:?}",
        a.0.keys()
    );
    let c = &dp.counters;
    assert!(c.hw_forwarded > 0 && c.hw_marked > 0, "{c:?}");
}

#[test]
fn a_full_table_leaves_flows_in_software_and_counts_every_packet() {
    // Exact-match megaflows under one mask: more flows than a slot holds.
    let rules = "priority=1,ip,actions=output:2\npriority=0,actions=drop\n";
    let mut of = ofproto(rules);
    of.megaflows = false;
    let entries = sim::GEOMETRY.mf_entries_per_slot() as usize;
    let flows = entries + entries / 2;
    let mut rng = Rng::new(3);
    let keys = flows_inside(&of.rules, flows, &mut rng, 1);
    // Every flow twice: the second packet of an offloaded flow is hw_forwarded.
    let mut frames = Vec::new();
    for pass in 0..2u32 {
        for (n, k) in keys.iter().enumerate() {
            let mut f = frame_from_key(k, LEN);
            f.truncate(LEN);
            f[LEN - 4..].copy_from_slice(&(pass << 24 | n as u32).to_be_bytes());
            frames.push(f);
        }
    }
    let t = Traffic {
        seq: (0..frames.len() as u32).collect(),
        frames,
    };
    let cfg = DpConfig::default();
    let off = OffloadConfig {
        emc_insert_inv_prob: 0,
        ..OffloadConfig::default()
    };
    let dp = inline_dp(cfg.clone(), off);
    let (dp, pmd, a, b) = side_by_side(dp, cfg, &mut of, &t, 1, |_, _| false);
    same_outputs(&a.0, &b.0, "full table");
    balanced(&dp, &pmd, t.len() as u64);
    let oc = &dp.mgr.counters;
    assert!(oc.offload_fail_table_full > 0, "{oc:?}");
    let c = &dp.counters;
    assert!(
        c.hw_forwarded > 0 && c.host_rx[1] > keys.len() as u64,
        "{c:?}"
    );
}

#[test]
fn host_queue_backpressure_loses_nothing() {
    let mut rng = Rng::new(11);
    let rules = random_rules(&mut rng, 16);
    let mut of = ofproto(&rules);
    let t = trace(&of, 200, 1500, 11, 1);
    let cfg = DpConfig::default();
    let mut dp = inline_dp(cfg.clone(), OffloadConfig::default());
    dp.mgr.hw().device().set_backpressure(sim::Backpressure {
        valid_pct: 60,
        tx_ready_pct: 40,
        hrx_ready_pct: 20,
        seed: 5,
    });
    let (dp, pmd, a, b) = side_by_side(dp, cfg, &mut of, &t, 1, |_, _| false);
    same_outputs(&a.0, &b.0, "backpressure");
    balanced(&dp, &pmd, t.len() as u64);
    let c = &dp.counters;
    assert_eq!(c.hw_lost, 0);
    assert!(c.host_rx.iter().sum::<u64>() > 0 && c.host_tx > 0, "{c:?}");
}

/// Rules over `masks` different masks (source prefix length × an exact TCP
/// port or none), `per_mask` rules each, every one output to NIC port 2:
/// every hit is fully offloadable.
fn many_mask_rules(masks: usize, per_mask: usize) -> String {
    let mut s = String::new();
    let mut prio = 1000;
    for m in 0..masks {
        let len = 8 + 2 * (m / 2) as u32;
        for r in 0..per_mask {
            // Disjoint sources: 10.m.r.0 inside a /len of its own.
            let src = format!("{}.{}.{}.0", 10 + m, 4 * r, r);
            let l4 = if m % 2 == 0 {
                "ip".to_string()
            } else {
                format!("tcp,tp_dst={}", 1000 + r)
            };
            s += &format!("priority={prio},{l4},nw_src={src}/{len},actions=output:2\n");
            prio -= 1;
        }
    }
    s += "priority=0,actions=output:2\n";
    s
}

/// Packets of each microflow in the burst where it first appears, summed:
/// at steady state a microflow misses in hardware in at most that burst
/// (its frames in one burst all meet the same tables).
fn first_burst_packets(t: &Traffic) -> u64 {
    let mut seen = std::collections::HashSet::new();
    let mut n = 0;
    for chunk in t.seq.chunks(BURST) {
        let mut new = std::collections::HashSet::new();
        for &i in chunk {
            // The microflow: the frame without its sequence number.
            let f = &t.frames[i as usize][..LEN - 4];
            if new.contains(f) || seen.insert(f) && new.insert(f) {
                n += 1;
            }
        }
    }
    n
}

/// More masks than mask slots, every rule fully offloadable, the hardware
/// EMC off: after a warmup pass the ranked slots hold the busiest masks and
/// every other microflow has a widened entry in the wide slot, so in a
/// second pass over the same trace a microflow misses at most in the burst
/// it first appears in. This needs the hardware's hits fed back: ranking
/// and the widening trade never see the frames the NIC forwarded itself.
#[test]
fn steady_state_forwards_in_hardware_with_more_masks_than_slots() {
    let rules = many_mask_rules(24, 4);
    let of = ofproto(&rules);
    let t = trace(&of, 1500, 20_000, 21, 1);
    let cfg = RunConfig {
        nic: NicSpec::Sim,
        threads: 1,
        in_port: 1,
        loops: 1,
        warmup: 1,
        dp: DpConfig::default(),
        offload: OffloadConfig {
            emc_insert_inv_prob: 0,
            rank_interval_packets: 4096,
            ..OffloadConfig::default()
        },
        out_pcap: None,
        controller_pcap: None,
        dump_flows: false,
    };
    let o = runner::run(&cfg, of, Instant::now(), &t, &|_| {}).expect("run");
    let s = &o.stats;
    assert!(s.balanced() && s.lost == 0, "{s:?}");
    let slots = sim::GEOMETRY.mf_slots as usize;
    assert!(
        s.masks > slots,
        "{} masks: too few to need ranking",
        s.masks
    );
    let pp = s.packet_path.as_ref().expect("packet-path counters");
    let bound = first_burst_packets(&t);
    let host = s.packets - pp.hw_forwarded;
    assert!(
        host <= bound,
        "{host} of {} packets reached the host, more than the {bound} packets of \
         microflows' first bursts: {pp:?}",
        s.packets
    );
}

/// Like [`trace`], each frame its own length (64 to 1514 bytes).
fn trace_mixed_lengths(of: &OfProto, flows: usize, packets: usize, seed: u64) -> Traffic {
    let mut rng = Rng::new(seed);
    let keys = flows_inside(&of.rules, flows, &mut rng, 1);
    let seq = zipf_sequence(keys.len(), 1.0, packets, &mut rng);
    let frames = seq
        .iter()
        .enumerate()
        .map(|(n, &k)| {
            let len = 64 + (n * 379) % (1514 - 64 + 1);
            let mut f = frame_from_key(&keys[k as usize], len);
            f.truncate(len);
            f[len - 4..].copy_from_slice(&(n as u32).to_be_bytes());
            f
        })
        .collect();
    Traffic {
        frames,
        seq: (0..packets as u32).collect(),
    }
}

#[test]
fn offloaded_flows_get_the_bytes_of_their_frames() {
    // Output (fully offloaded), drop (fully offloaded) and two ports
    // (partial offload: marked frames, which the NIC counts too).
    let rules = "priority=10,ip,nw_src=10.0.0.0/9,actions=output:2\n\
                 priority=10,ip,nw_src=10.128.0.0/9,actions=output:2,output:3\n\
                 priority=0,actions=drop\n";
    let mut of = ofproto(rules);
    let t = trace_mixed_lengths(&of, 150, 4000, 11);
    let cfg = DpConfig::default();
    let dp = inline_dp(cfg.clone(), OffloadConfig::default());
    let (mut dp, pmd, _, _) = side_by_side(dp, cfg, &mut of, &t, 1, |_, _| false);
    dp.sync_stats();
    assert!(dp.counters.hw_forwarded > 1000, "{:?}", dp.counters);
    let per_flow = |p: &Pmd| -> BTreeMap<String, (u64, u64)> {
        p.flows()
            .map(|(_, f)| (format!("{:?}/{:?}", f.key, f.mask), (f.packets, f.bytes)))
            .collect()
    };
    let (hw, sw) = (per_flow(&dp.pmd), per_flow(&pmd));
    assert_eq!(hw.len(), sw.len());
    for (k, want) in &sw {
        assert_eq!(
            hw.get(k),
            Some(want),
            "flow {k}: (packets, bytes) --nic sim vs none"
        );
    }
    // The software side counts every frame but each flow's first (OVS).
    let bytes: u64 = sw.values().map(|v| v.1).sum();
    let all: u64 = t.frames.iter().map(|f| f.len() as u64).sum();
    assert!(bytes > all / 2 && bytes <= all, "{bytes} of {all}");
}

#[test]
fn vlan_push_and_pop_run_in_hardware_as_in_software() {
    // Tagged flows lose their tag, untagged ones gain an 802.1ad tag; the
    // NIC announces VLAN edits, so no flow is partial.
    let rules = "priority=20,ip,dl_vlan=3,nw_src=10.1.0.0/16,actions=strip_vlan,output:2\n\
                 priority=10,ip,nw_src=10.1.0.0/16,actions=push_vlan:0x88a8,mod_vlan_vid:7,output:2\n\
                 priority=0,actions=drop\n";
    let of = ofproto(rules);
    let t = trace(&of, 60, 3000, 5, 1);
    let (so, sp) = run(NicSpec::Sim, rules, &t, 1, &tmp("vlan-sim"));
    let (no, np) = run(NicSpec::None, rules, &t, 1, &tmp("vlan-none"));
    same_outputs(&sp, &np, "vlan");
    let s = &so.stats;
    assert!(s.balanced() && no.stats.balanced());
    assert_eq!(s.forwarded, no.stats.forwarded);
    // Both edits met frames: pushed ones 4 bytes longer with an 802.1ad
    // tag outside, popped ones 4 bytes shorter.
    let out = &sp[&2];
    let pushed = out
        .iter()
        .filter(|f| f.len() == LEN + 4 && f[12..14] == [0x88, 0xa8])
        .count();
    let popped = out.iter().filter(|f| f.len() + 4 == LEN).count();
    assert!(pushed > 0 && popped > 0, "{pushed} pushed, {popped} popped");
    assert_eq!(pushed + popped, out.len());
    let off = s.offload.as_ref().expect("offload counters");
    assert_eq!(
        off.counters.offload_partial, 0,
        "VLAN flows are full offload"
    );
    let pp = s.packet_path.as_ref().expect("packet-path counters");
    // Only flows' first bursts reach the host (a miss, then an upcall).
    // None of them marked: the NIC made every VLAN edit itself.
    let host: u64 = pp.host_rx.values().sum();
    assert_eq!(pp.hw_marked, 0, "{pp:?}");
    assert!(pp.hw_forwarded > 0, "{pp:?}");
    let bound = first_burst_packets(&t);
    assert!(
        host <= bound,
        "{host} packets reached the host, over {bound}: {pp:?}"
    );
}

#[test]
fn ethernet_rewrites_run_in_hardware_as_in_software() {
    // Two rewrite value sets over three rules (two share theirs, one has a
    // VLAN pop as well); the NIC announces the edit table, so no flow is
    // partial and no frame is marked.
    let rules = "priority=30,ip,dl_vlan=3,nw_src=10.1.0.0/16,actions=strip_vlan,mod_dl_src:02:00:00:00:00:0a,mod_dl_dst:02:00:00:00:00:0b,output:2\n\
                 priority=20,ip,nw_src=10.1.0.0/16,actions=mod_dl_src:02:00:00:00:00:0a,mod_dl_dst:02:00:00:00:00:0b,output:2\n\
                 priority=10,ip,nw_src=10.2.0.0/16,actions=mod_dl_dst:02:00:00:00:00:0c,output:1,output:2\n\
                 priority=0,actions=drop\n";
    let of = ofproto(rules);
    let t = trace(&of, 60, 3000, 9, 1);
    let (so, sp) = run(NicSpec::Sim, rules, &t, 1, &tmp("eth-sim"));
    let (no, np) = run(NicSpec::None, rules, &t, 1, &tmp("eth-none"));
    same_outputs(&sp, &np, "eth");
    let s = &so.stats;
    assert!(s.balanced() && no.stats.balanced());
    assert_eq!(s.forwarded, no.stats.forwarded);
    // Every frame out carries a rewritten destination.
    let dsts = [[2, 0, 0, 0, 0, 0x0b], [2, 0, 0, 0, 0, 0x0c]];
    for (p, frames) in &sp {
        assert!(!frames.is_empty(), "port {p}");
        for f in frames {
            assert!(dsts.iter().any(|d| f[0..6] == d[..]), "port {p}: {f:02x?}");
        }
    }
    let off = s.offload.as_ref().expect("offload counters");
    assert_eq!(
        off.counters.offload_partial, 0,
        "Ethernet rewrites are full offload"
    );
    let pp = s.packet_path.as_ref().expect("packet-path counters");
    assert_eq!(pp.hw_marked, 0, "{pp:?}");
    assert!(pp.hw_forwarded > 0, "{pp:?}");
    let host: u64 = pp.host_rx.values().sum();
    let bound = first_burst_packets(&t);
    assert!(
        host <= bound,
        "{host} packets reached the host, over {bound}: {pp:?}"
    );
}
