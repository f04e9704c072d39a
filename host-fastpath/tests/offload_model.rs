//! Hybrid offload on the model NIC (no simulator): the scenarios of the
//! issue — steady-state hardware share, identical outputs, table full,
//! mask-slot exhaustion and eviction, rule change while traffic flows, flow
//! limit, port removal, flood resistance.

mod offload_common;

use abi::action::ActionEntry;
use abi::Geometry;
use fastpath::dpif::{DpConfig, Pmd};
use fastpath::offload::encode::encode;
use fastpath::offload::{HwActionSet, HybridDp, ModelNic, OffloadConfig, WidenPolicy};
use offload_common::*;

fn hybrid(g: Geometry, cfg: OffloadConfig, dp: DpConfig) -> HybridDp<ModelNic> {
    HybridDp::new(Pmd::new(dp).expect("pmd"), ModelNic::new(g), cfg)
}

#[test]
fn zipf_steady_state_is_mostly_hardware_and_identical_to_software() {
    let of = rules(200, 7);
    let (frames, seq) = traffic(&of, 10_000, 1.0, 100_000, 11);
    let sw = run_software(&of, &frames, &seq, dp_config(), &[]);
    let mut dp = hybrid(Geometry::DEFAULT, hybrid_config(), dp_config());
    let (hw, share) = run_hybrid(&of, &frames, &seq, &mut dp, &[]);
    assert_eq!(sw.out.len(), hw.out.len());
    assert!(
        sw.out == hw.out,
        "outputs differ from the software-only run"
    );
    check_accounting(&mut dp, seq.len(), false);
    let c = dp.counters();
    eprintln!("share {share:.4} {c:?}");
    assert!(
        share >= 0.95,
        "steady-state hardware share {share:.3} < 95 %: {c:?}"
    );
}

fn tiny() -> Geometry {
    Geometry {
        emc_log2_entries: 4,
        mf_slots: 2,
        mf_log2_buckets: 2,
        mf_bucket_slots: 2,
        missq_log2_depth: 6,
    }
}

#[test]
fn full_tables_and_slot_exhaustion_lose_nothing() {
    let of = rules(200, 3);
    let (frames, seq) = traffic(&of, 3_000, 1.0, 30_000, 5);
    let sw = run_software(&of, &frames, &seq, dp_config(), &[]);
    for widen in [WidenPolicy::Never, WidenPolicy::Auto, WidenPolicy::Always] {
        let cfg = OffloadConfig {
            widen,
            rank_interval_packets: 1024,
            emc_insert_inv_prob: 1,
            ..OffloadConfig::default()
        };
        let mut dp = hybrid(tiny(), cfg, dp_config());
        let (hw, _) = run_hybrid(&of, &frames, &seq, &mut dp, &[]);
        assert!(
            sw.out == hw.out,
            "{widen:?}: outputs differ from the software-only run"
        );
        check_accounting(&mut dp, seq.len(), false);
        let c = dp.counters();
        if widen == WidenPolicy::Always {
            assert!(
                c.offload_fail_table_full > 0,
                "{widen:?}: tables never filled: {c:?}"
            );
        }
        assert!(
            c.offload_fail_no_slot > 0,
            "{widen:?}: slots never ran out: {c:?}"
        );
        assert!(c.emc_evictions > 0, "{widen:?}: {c:?}");
        assert!(c.hw_handled() > 0, "{widen:?}: {c:?}");
        let (mf, emc) = dp.mgr.entries();
        let g = tiny();
        assert!(mf <= g.mf_slots as usize * g.mf_entries_per_slot() as usize);
        assert!(emc <= g.emc_entries() as usize);
        if widen == WidenPolicy::Never {
            assert_eq!(c.widened_installs, 0);
        }
    }
}

#[test]
fn mask_eviction_moves_slots_to_the_busy_masks() {
    // Two phases drawing flows from disjoint halves of the rules: the masks
    // busy in phase 2 must take the slots from phase 1's.
    let of = rules(300, 21);
    let (a, b) = of.rules.split_at(of.rules.len() / 2);
    let mut rng = fastpath::io::gen::Rng::new(9);
    let mut keys = fastpath::io::gen::flows_inside(a, 300, &mut rng, 1);
    keys.extend(fastpath::io::gen::flows_inside(b, 300, &mut rng, 1));
    let frames: Vec<Vec<u8>> = keys
        .iter()
        .map(|k| fastpath::io::frames::frame_from_key(k, fastpath::io::frames::MIN_FRAME))
        .collect();
    let mut seq: Vec<u32> = (0..20_000u32).map(|i| (i * 7919) % 300).collect();
    seq.extend((0..20_000u32).map(|i| 300 + (i * 7919) % 300));
    let sw = run_software(&of, &frames, &seq, dp_config(), &[]);
    let g = Geometry {
        mf_slots: 4,
        ..Geometry::DEFAULT
    };
    let cfg = OffloadConfig {
        rank_interval_packets: 2048,
        widen: WidenPolicy::Never,
        emc_insert_inv_prob: 0,
        ..OffloadConfig::default()
    };
    let mut dp = hybrid(g, cfg, dp_config());
    let (hw, _) = run_hybrid(&of, &frames, &seq, &mut dp, &[]);
    assert!(sw.out == hw.out);
    check_accounting(&mut dp, seq.len(), false);
    let c = dp.counters();
    assert!(c.mask_evictions > 0 && c.entries_evicted > 0, "{c:?}");
    // Every slot now holds a mask of a phase-2 flow.
    let phase2: std::collections::HashSet<_> = dp
        .pmd
        .flows()
        .filter(|(_, f)| keys[300..].iter().any(|k| k.matches(&f.mask, &f.key)))
        .map(|(_, f)| f.mask)
        .collect();
    for m in dp.mgr.slot_masks().into_iter().flatten() {
        assert!(phase2.contains(&m), "slot kept a phase-1 mask");
    }
}

#[test]
fn rule_change_while_traffic_flows() {
    let of = rules(200, 13);
    // Same rules plus a high-priority rule that changes the actions of all
    // TCP traffic, and one that only narrows (some flows need more bits).
    let mut of2 = rules(200, 13);
    for r in fastpath::ofproto::parse_rules(
        "priority=65000,tcp,actions=output:9\npriority=64000,udp,tp_dst=53,actions=drop",
        "change",
    )
    .expect("rules parse")
    {
        of2.add_rule(r);
    }
    let (frames, seq) = traffic(&of, 4_000, 1.0, 40_000, 17);
    let events = [(600, Event::Rules(&of2)), (900, Event::Revalidate)];
    let sw = run_software(&of, &frames, &seq, dp_config(), &events);
    let mut dp = hybrid(Geometry::DEFAULT, hybrid_config(), dp_config());
    let (hw, _) = run_hybrid(&of, &frames, &seq, &mut dp, &events);
    assert!(
        sw.out == hw.out,
        "outputs differ from the software-only run"
    );
    check_accounting(&mut dp, seq.len(), true);
    let c = dp.counters();
    let s = dp.pmd.stats;
    assert!(s.flows_deleted + s.flows_modified > 0, "{s:?}");
    assert!(
        c.hw_removals > 0,
        "hardware entries were not invalidated: {c:?}"
    );
    assert!(hw.out.iter().any(|o| o.0 == 9), "new rule never applied");
}

#[test]
fn flow_limit_keeps_correctness() {
    let of = rules(200, 4);
    let (frames, seq) = traffic(&of, 5_000, 0.8, 30_000, 8);
    let cfg = DpConfig {
        flow_limit: 60,
        ..dp_config()
    };
    let sw = run_software(&of, &frames, &seq, cfg.clone(), &[]);
    let mut dp = hybrid(Geometry::DEFAULT, hybrid_config(), cfg);
    let (hw, _) = run_hybrid(&of, &frames, &seq, &mut dp, &[]);
    assert!(sw.out == hw.out);
    check_accounting(&mut dp, seq.len(), false);
    assert!(dp.pmd.stats.upcall_flow_limit > 0);
    assert!(dp.pmd.n_flows() <= 60);
}

#[test]
fn port_removal_touches_only_that_ports_entries() {
    let of = rules(200, 6);
    let (frames, seq) = traffic(&of, 2_000, 1.0, 20_000, 3);
    let mut dp = hybrid(Geometry::DEFAULT, hybrid_config(), dp_config());
    let mut rec = Recorder::default();
    for chunk in seq.chunks(fastpath::BURST) {
        let burst: Vec<&[u8]> = chunk
            .iter()
            .map(|&i| frames[i as usize].as_slice())
            .collect();
        dp.process_burst(&of, &burst, 1, &mut rec).expect("hw");
        dp.process_burst(&of, &burst, 2, &mut rec).expect("hw");
    }
    let port_of = |dp: &HybridDp<ModelNic>, p: u64| -> Vec<(u32, fastpath::offload::FlowOffload)> {
        dp.pmd
            .flows()
            .filter(|(_, f)| f.ukey.get(abi::Field::InPort) == p)
            .map(|(id, _)| (id, dp.mgr.flow_offload(id)))
            .collect()
    };
    let before1 = port_of(&dp, 1);
    let before2 = port_of(&dp, 2);
    assert!(before2.iter().any(|(_, o)| o.offloaded()));
    let (mf0, emc0) = dp.mgr.entries();
    let removed = dp.remove_port(2);
    assert_eq!(removed, before2.len());
    assert_eq!(port_of(&dp, 1), before1, "port 1's flows changed");
    assert!(port_of(&dp, 2).is_empty());
    let (mf1, emc1) = dp.mgr.entries();
    let mf2: usize = before2
        .iter()
        .map(|(_, o)| o.native as usize + o.widened)
        .sum();
    let emc2: usize = before2.iter().map(|(_, o)| o.emc).sum();
    assert_eq!((mf0 - mf1, emc0 - emc1), (mf2, emc2));
    // Port 1 traffic keeps hitting hardware as before.
    let c0 = dp.counters();
    for chunk in seq.chunks(fastpath::BURST).take(100) {
        let burst: Vec<&[u8]> = chunk
            .iter()
            .map(|&i| frames[i as usize].as_slice())
            .collect();
        dp.process_burst(&of, &burst, 1, &mut rec).expect("hw");
    }
    let c1 = dp.counters();
    assert_eq!(c1.upcalls, c0.upcalls, "port 1 flows were lost");
    check_accounting(&mut dp, c1.packets as usize, true);
}

#[test]
fn flood_of_new_flows_does_not_push_established_flows_out() {
    let of = rules(200, 8);
    let (frames, seq) = traffic(&of, 400, 1.0, 40_000, 1);
    let mut dp = hybrid(Geometry::DEFAULT, hybrid_config(), dp_config());
    let mut rec = Recorder::default();
    let run = |dp: &mut HybridDp<ModelNic>, seq: &[u32], frames: &[Vec<u8>], rec: &mut Recorder| {
        for chunk in seq.chunks(fastpath::BURST) {
            let burst: Vec<&[u8]> = chunk
                .iter()
                .map(|&i| frames[i as usize].as_slice())
                .collect();
            dp.process_burst(&of, &burst, 1, rec).expect("hw");
        }
    };
    run(&mut dp, &seq, &frames, &mut rec);
    let established: Vec<u32> = dp
        .pmd
        .flows()
        .filter(|(id, _)| dp.mgr.flow_offload(*id).offloaded())
        .map(|(id, _)| id)
        .collect();
    assert!(!established.is_empty());
    // The flood: 30 000 single-packet flows, interleaved 3:1 with the
    // established traffic.
    let (flood, _) = traffic(&of, 30_000, 1.0, 1, 99);
    let mut mixed: Vec<Vec<u8>> = Vec::new();
    for (i, f) in flood.into_iter().enumerate() {
        mixed.push(f);
        if i % 3 == 2 {
            mixed.push(frames[seq[i % seq.len()] as usize].clone());
        }
    }
    let all: Vec<u32> = (0..mixed.len() as u32).collect();
    run(&mut dp, &all, &mixed, &mut rec);
    for id in &established {
        assert!(
            dp.mgr.flow_offload(*id).offloaded(),
            "established flow {id} left hardware"
        );
    }
    // And established traffic alone is still handled in hardware.
    let c0 = dp.counters();
    run(&mut dp, &seq[..10_000], &frames, &mut rec);
    let c1 = dp.counters();
    let share = (c1.hw_handled() - c0.hw_handled()) as f64 / (c1.packets - c0.packets) as f64;
    assert!(
        share > 0.99,
        "established traffic hardware share after the flood: {share}"
    );
    check_accounting(&mut dp, c1.packets as usize, false);
}

#[test]
fn idle_flows_expire_but_recently_offloaded_ones_do_not() {
    let of = rules(50, 2);
    let (frames, seq) = traffic(&of, 200, 1.0, 5_000, 2);
    let cfg = DpConfig {
        max_idle_ms: 0,
        ..dp_config()
    };
    let g = Geometry {
        mf_slots: 2,
        ..Geometry::DEFAULT
    };
    let ocfg = OffloadConfig {
        widen: WidenPolicy::Never,
        emc_insert_inv_prob: 0,
        ..hybrid_config()
    };
    let mut dp = hybrid(g, ocfg, cfg);
    let mut rec = Recorder::default();
    for chunk in seq.chunks(fastpath::BURST) {
        let burst: Vec<&[u8]> = chunk
            .iter()
            .map(|&i| frames[i as usize].as_slice())
            .collect();
        dp.process_burst(&of, &burst, 1, &mut rec).expect("hw");
    }
    let offloaded: Vec<u32> = dp
        .pmd
        .flows()
        .filter(|(id, _)| dp.mgr.flow_offload(*id).offloaded())
        .map(|(id, _)| id)
        .collect();
    let n = dp.pmd.n_flows();
    assert!(!offloaded.is_empty() && offloaded.len() < n);
    // Idle timeout 0: every software-only flow expires, offloaded ones are
    // protected by the statistics delay.
    let (dead, _) = dp.revalidate(&of, false);
    assert_eq!(dead, n - offloaded.len());
    for id in &offloaded {
        assert!(dp.pmd.flow(*id).is_some());
    }
    check_accounting(&mut dp, seq.len(), true);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(
        std::env::var("FASTPATH_LONG").map_or(6, |_| 64)
    ))]

    /// Any rule set, traffic mix, geometry and policy: the hybrid datapath
    /// outputs exactly what the software-only run does, and loses nothing.
    #[test]
    fn hybrid_equals_software(
        rules_seed in 0u64..1000,
        traffic_seed in 0u64..1000,
        n_rules in 5usize..120,
        flows in 20usize..800,
        s in 0.0f64..1.5,
        slots in 1u8..6,
        log2_buckets in 1u8..5,
        widen in 0u8..3,
        emc_inv in 0u32..4,
        rank in 64u64..2048,
    ) {
        let of = rules(n_rules, rules_seed);
        let (frames, seq) = traffic(&of, flows, s, 4_000, traffic_seed);
        let sw = run_software(&of, &frames, &seq, dp_config(), &[]);
        let g = Geometry {
            emc_log2_entries: 5,
            mf_slots: slots,
            mf_log2_buckets: log2_buckets,
            mf_bucket_slots: 2,
            missq_log2_depth: 6,
        };
        let cfg = OffloadConfig {
            widen: [WidenPolicy::Never, WidenPolicy::Auto, WidenPolicy::Always][widen as usize],
            emc_insert_inv_prob: emc_inv,
            rank_interval_packets: rank,
            ..OffloadConfig::default()
        };
        let mut dp = hybrid(g, cfg, dp_config());
        let (hw, _) = run_hybrid(&of, &frames, &seq, &mut dp, &[]);
        proptest::prop_assert!(sw.out == hw.out);
        check_accounting(&mut dp, seq.len(), false);
    }
}

#[test]
fn widening_moves_traffic_into_hardware_and_stays_sound() {
    let of = rules(200, 7);
    let (frames, seq) = traffic(&of, 3_000, 1.0, 30_000, 4);
    let sw = run_software(&of, &frames, &seq, dp_config(), &[]);
    let g = Geometry {
        mf_slots: 4,
        ..Geometry::DEFAULT
    };
    let mut share = Vec::new();
    for widen in [WidenPolicy::Never, WidenPolicy::Auto] {
        let cfg = OffloadConfig {
            widen,
            emc_insert_inv_prob: 0,
            ..hybrid_config()
        };
        let mut dp = hybrid(g, cfg, dp_config());
        let (hw, s) = run_hybrid(&of, &frames, &seq, &mut dp, &[]);
        assert!(sw.out == hw.out, "{widen:?}: outputs differ");
        check_accounting(&mut dp, seq.len(), false);
        let c = dp.counters();
        if widen == WidenPolicy::Auto {
            assert!(c.widened_installs > 0, "{c:?}");
            assert!(
                c.widened_hits > c.widened_installs,
                "widened entries did not pay: {c:?}"
            );
        } else {
            assert_eq!((c.widened_installs, c.widened_hits), (0, 0));
        }
        share.push(s);
    }
    assert!(
        share[1] > share[0] + 0.05,
        "widening did not move traffic into hardware: {share:?}"
    );
}

/// On a NIC with a packet path, every hardware entry carries the action
/// word `encode` gives its flow's current actions — through installs,
/// widening, hardware EMC and a rule change that rewrites actions under
/// live flows — and the partial offloads are counted.
#[test]
fn every_hardware_entry_carries_its_flows_action_word() {
    let set = HwActionSet {
        mac_ports: 4,
        vlan: true,
        edit_entries: 64,
    };
    let of = rules(200, 13);
    // A rule change: TCP to a port the NIC does not carry (partial offload),
    // DNS dropped (a full offload of a drop).
    let mut of2 = rules(200, 13);
    for r in fastpath::ofproto::parse_rules(
        "priority=65000,tcp,actions=output:9\npriority=64000,udp,tp_dst=53,actions=drop",
        "change",
    )
    .expect("rules parse")
    {
        of2.add_rule(r);
    }
    let (frames, seq) = traffic(&of, 4_000, 1.0, 40_000, 17);
    let events = [(600, Event::Rules(&of2)), (900, Event::Revalidate)];
    let sw = run_software(&of, &frames, &seq, dp_config(), &events);
    let nic = ModelNic::new(Geometry::DEFAULT).with_actions(set);
    let mut dp = HybridDp::new(Pmd::new(dp_config()).expect("pmd"), nic, hybrid_config());
    let (hw, _) = run_hybrid(&of, &frames, &seq, &mut dp, &events);
    assert!(
        sw.out == hw.out,
        "outputs differ from the software-only run"
    );
    let (mut full, mut partial) = (0, 0);
    let entries: Vec<_> = dp.mgr.hw().entry_actions().collect();
    for (id, action) in entries {
        let f = dp.pmd.flow(id).expect("a hardware entry of a live flow");
        let (want, values, why) = encode(&f.actions, &set);
        // The manager picks the edit-table entry; the model holds its values.
        let want = ActionEntry {
            edit_index: action.edit_index,
            ..want
        };
        assert_eq!(action, want, "flow {id} actions {:?}", f.actions);
        if let Some(v) = values {
            assert_eq!(dp.mgr.hw().edit(action.edit_index), Some(v), "flow {id}");
        }
        match why {
            None => full += 1,
            Some(_) => partial += 1,
        }
    }
    assert!(full > 0 && partial > 0, "full {full}, partial {partial}");
    assert!(dp.counters().offload_partial > 0, "{:?}", dp.counters());
}

/// Ethernet rewrites take edit-table entries: one per distinct value set,
/// shared by the flows that rewrite to it, written before the action words
/// that name it, freed with the last such flow; a flow whose values find
/// the table full is a partial offload, counted, and still forwarded.
#[test]
fn ethernet_rewrites_share_edit_entries_and_fall_back_when_full() {
    use fastpath::ofproto::{parse_rules, OfProto, Prefixes};
    let of = |text: &str| {
        OfProto::with_rules(
            parse_rules(text, "t").expect("rules parse"),
            Prefixes::default(),
        )
    };
    // Three value sets over four rules (the first two share theirs).
    let rewrites = of("priority=40,ip,nw_src=10.0.0.0/16,actions=mod_dl_dst:02:00:00:00:00:01,output:2\n\
         priority=30,ip,nw_src=10.1.0.0/16,actions=mod_dl_dst:02:00:00:00:00:01,output:2\n\
         priority=20,ip,nw_src=10.2.0.0/16,actions=mod_dl_src:02:00:00:00:00:02,output:2\n\
         priority=10,ip,nw_src=10.3.0.0/16,actions=mod_dl_dst:02:00:00:00:00:03,mod_dl_src:02:00:00:00:00:04,output:2\n\
         priority=0,actions=drop\n");
    let plain = of("priority=40,ip,nw_src=10.0.0.0/14,actions=output:2\npriority=0,actions=drop\n");
    let set = HwActionSet {
        mac_ports: 2,
        vlan: true,
        edit_entries: 2,
    };
    let (frames, seq) = traffic(&rewrites, 400, 1.0, 20_000, 23);
    let sw = run_software(&rewrites, &frames, &seq, dp_config(), &[]);
    let nic = ModelNic::new(Geometry::DEFAULT).with_actions(set);
    let mut dp = HybridDp::new(Pmd::new(dp_config()).expect("pmd"), nic, hybrid_config());
    let (hw, _) = run_hybrid(&rewrites, &frames, &seq, &mut dp, &[]);
    assert!(
        sw.out == hw.out,
        "outputs differ from the software-only run"
    );
    let c = dp.counters();
    assert_eq!(dp.mgr.edits_in_use(), 2, "{c:?}");
    assert!(c.offload_partial_edit_full > 0, "{c:?}");
    assert!(c.offload_partial >= c.offload_partial_edit_full, "{c:?}");
    let (mut full, mut shared) = (0, std::collections::HashMap::new());
    let entries: Vec<_> = dp.mgr.hw().entry_actions().collect();
    for (id, action) in entries {
        let f = dp.pmd.flow(id).expect("a hardware entry of a live flow");
        let (want, values, _) = encode(&f.actions, &set);
        let Some(v) = values else { continue };
        if action == ActionEntry::TO_HOST {
            continue;
        }
        assert_eq!(
            action,
            ActionEntry {
                edit_index: action.edit_index,
                ..want
            }
        );
        assert_eq!(dp.mgr.hw().edit(action.edit_index), Some(v), "flow {id}");
        *shared.entry(action.edit_index).or_insert(0) += 1;
        full += 1;
    }
    assert!(full > 0 && shared.values().any(|&n| n > 1), "{shared:?}");
    // Rules without rewrites: every entry's last flow goes, and the entries.
    dp.revalidate(&plain, true);
    assert_eq!(dp.mgr.edits_in_use(), 0);
}
