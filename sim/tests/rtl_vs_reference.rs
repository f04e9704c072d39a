//! The Verilated RTL, programmed through `driver::Nic` over `SimNic`, against
//! the naive reference model fed the same register writes. Lookups stream at
//! one per clock while tables change, so the ordering promise is checked on
//! every lookup that overlapped a command.

mod common;

use abi::action::ActionEntry;
use abi::regs::{HitKind, LookupResult, REG_SCRATCH, REG_WINDOW_BYTES};
use abi::{Field, FlowKey};
use common::*;
use driver::{Device, DeviceError, EmcPolicy, Nic, NicError};
use rand::Rng;
use sim::reference::Replay;
use sim::{ModelKind, SimNic, GEOMETRY};

/// Every check runs on both Verilated models: the fast one (hash units
/// replaced by their proven-equal stand-in) and the exact RTL.
macro_rules! on_both_models {
    ($($name:ident),* $(,)?) => {
        mod fast {
            $(#[test]
            fn $name() {
                super::$name(sim::ModelKind::Fast)
            })*
        }
        mod exact {
            $(#[test]
            fn $name() {
                super::$name(sim::ModelKind::Exact)
            })*
        }
    };
}

on_both_models!(
    random_tables_with_updates_in_flight,
    ordering_promise_at_the_boundaries,
    all_collision_keys,
    signature_clash_by_raw_commands_is_a_miss,
    full_megaflow_table_with_displacement,
    backpressure_misses_and_counters,
    device_trait_bounds_and_32_bit_access,
);

fn open(kind: ModelKind) -> (Nic<SimNic>, Replay) {
    let mut sim = SimNic::with_model(kind).expect("model");
    assert_eq!(sim.kind(), kind);
    sim.set_access_log(true);
    let nic = Nic::open(sim).expect("Nic::open over SimNic");
    assert_eq!(*nic.geometry(), GEOMETRY);
    (nic, Replay::new(GEOMETRY))
}

/// Random installs and removals (EMC and megaflow, several masks) with
/// bursts of lookups in flight during every table change.
fn random_tables_with_updates_in_flight(kind: ModelKind) {
    let (mut nic, mut replay) = open(kind);
    let mut r = rng(1);
    let mut keys: Vec<FlowKey> = Vec::new();
    let slots = GEOMETRY.mf_slots;
    let masks: Vec<FlowKey> = (0..slots).map(|_| random_mask(&mut r)).collect();
    for (s, m) in masks.iter().enumerate() {
        if s % 4 != 3 {
            nic.set_mask(s as u8, m).expect("mask");
        }
    }
    let mut emc_keys: Vec<FlowKey> = Vec::new();
    let mut mf: Vec<(u8, FlowKey)> = Vec::new();
    let rounds = 300 * scale();
    let mut flow = 1u32;
    for round in 0..rounds {
        // Keys in flight: known flows, their neighbours and random ones.
        let mut burst = Vec::new();
        for _ in 0..r.gen_range(16..64) {
            let k = match r.gen_range(0..3) {
                0 if !emc_keys.is_empty() => emc_keys[r.gen_range(0..emc_keys.len())],
                1 if !mf.is_empty() => {
                    let (_, base) = mf[r.gen_range(0..mf.len())];
                    let mut k = random_key(&mut r);
                    k.set(Field::InPort, base.get(Field::InPort));
                    k.set(Field::NwSrc, base.get(Field::NwSrc));
                    k.set(Field::NwDst, base.get(Field::NwDst));
                    k
                }
                _ => random_key(&mut r),
            };
            burst.push(k);
        }
        let tags: Vec<u32> = (keys.len() as u32..(keys.len() + burst.len()) as u32).collect();
        keys.extend_from_slice(&burst);
        nic.device().submit(&burst, &tags).expect("submit");
        // A table change while those keys stream in.
        match r.gen_range(0..10) {
            0..=3 => {
                let k = random_key(&mut r);
                nic.install_emc(&k, flow, &ActionEntry::TO_HOST, EmcPolicy::Ovs)
                    .expect("emc install");
                if !emc_keys.contains(&k) {
                    emc_keys.push(k);
                }
            }
            4 if !emc_keys.is_empty() => {
                let k = emc_keys.swap_remove(r.gen_range(0..emc_keys.len()));
                // The key may have been evicted by a later install.
                match nic.remove_emc(&k) {
                    Ok(_) | Err(NicError::NoSuchEntry(_)) => {}
                    Err(e) => panic!("remove_emc: {e}"),
                }
            }
            5..=7 => {
                let s = r.gen_range(0..slots);
                if nic.mask(s).is_some() {
                    let k = random_key(&mut r);
                    match nic.install_megaflow(s, &k, flow, &ActionEntry::TO_HOST) {
                        Ok(_) => mf.push((s, k)),
                        Err(NicError::TableFull { .. }) => {}
                        Err(e) => panic!("install_megaflow: {e}"),
                    }
                }
            }
            8 if !mf.is_empty() => {
                let (s, k) = mf.swap_remove(r.gen_range(0..mf.len()));
                match nic.remove_megaflow(s, &k) {
                    Ok(_) | Err(NicError::NoSuchEntry(_)) => {}
                    Err(e) => panic!("remove_megaflow: {e}"),
                }
            }
            _ => {
                // A slot changes its mask: clear it (entries first), set anew.
                let s = r.gen_range(0..slots);
                nic.clear_mask(s).expect("clear_mask");
                mf.retain(|(x, _)| *x != s);
                if round % 2 == 0 {
                    nic.set_mask(s, &random_mask(&mut r)).expect("mask");
                }
            }
        }
        flow = (flow + 1) & 0xff_ffff;
        if round % 16 == 15 {
            settle_and_check(&mut nic, &mut replay, &keys);
        }
    }
    settle_and_check(&mut nic, &mut replay, &keys);
    let rep = replay.report().clone();
    assert_clean(&rep);
    assert!(
        rep.checked as usize == keys.len(),
        "{} of {} checked",
        rep.checked,
        keys.len()
    );
    // The window cases happened (otherwise the test proves nothing about
    // updates in flight).
    assert!(rep.window_old + rep.window_new > 0, "{rep:?}");
    eprintln!("{rep:?}");
}

/// A lookup accepted after the driver's STATUS read that follows a CMD write
/// sees the new entry; one accepted up to the CMD handshake sees the old.
fn ordering_promise_at_the_boundaries(kind: ModelKind) {
    let (mut nic, _) = open(kind);
    let k = FlowKey::ZERO
        .with(Field::InPort, 9)
        .with(Field::DlType, 0x0800);
    // Install, then keep the key streaming while the entry is rewritten with
    // another flow id, and check every result against the cycle bounds.
    nic.install_emc(&k, 1, &ActionEntry::TO_HOST, EmcPolicy::Ovs)
        .expect("install");
    let n = 400usize;
    let tags: Vec<u32> = (0..n as u32).collect();
    nic.device().submit(&vec![k; n], &tags).expect("submit");
    nic.device().step(20);
    let mut log = Vec::new();
    nic.device().take_access_log(&mut log);
    nic.install_emc(&k, 2, &ActionEntry::TO_HOST, EmcPolicy::Ovs)
        .expect("rewrite");
    let mut log = Vec::new();
    nic.device().take_access_log(&mut log);
    let cmd = log
        .iter()
        .position(|a| a.write && a.offset == abi::regs::REG_CMD.addr())
        .expect("a CMD write");
    let w = log[cmd].accepted_at;
    let fence = log[cmd + 1].done_at;
    assert!(!log[cmd + 1].write, "the driver reads STATUS after CMD");
    nic.device().run_until_idle(100_000).expect("drain");
    let mut res = Vec::new();
    nic.device().take_results(&mut res);
    assert_eq!(res.len(), n);
    let (mut before, mut after) = (0, 0);
    for x in &res {
        let f = x.result().expect("decodes").flow_id;
        if x.accepted_at <= w {
            assert_eq!(f, 1, "accepted at {} <= CMD handshake {w}", x.accepted_at);
            before += 1;
        } else if x.accepted_at > fence {
            assert_eq!(f, 2, "accepted at {} > fence {fence}", x.accepted_at);
            after += 1;
        } else {
            assert!(f == 1 || f == 2);
        }
    }
    assert!(before > 0 && after > 0, "{before} before, {after} after");
    // The window is the command's execution time, a few tens of clocks.
    assert!(fence - w < 64, "command window {} clocks", fence - w);
}

/// Every key hashing identically (crafted from the CRC's null space): the
/// EMC holds two of them, a megaflow slot one per bank (they share both
/// signatures, and the driver keeps a bucket's signatures distinct), and
/// the driver reports the table full beyond that; all resident ones hit.
fn all_collision_keys(kind: ModelKind) {
    let (mut nic, mut replay) = open(kind);
    let mut r = rng(2);
    let base = random_key(&mut r);
    let mut support = field_bits(Field::NwSrc);
    support.extend(field_bits(Field::TpSrc));
    support.extend(field_bits(Field::VlanTci2));
    let ks = colliding_keys(&base, &support, 24, &mut r);
    let h = abi::hash_key(&ks[0]);
    assert!(ks.iter().all(|k| abi::hash_key(k) == h));
    // EMC: two candidates, so at most two of them resident.
    for (i, k) in ks.iter().enumerate() {
        nic.install_emc(k, 100 + i as u32, &ActionEntry::TO_HOST, EmcPolicy::Ovs)
            .expect("emc");
    }
    assert!(nic.emc_len() <= 2);
    // Megaflow slot with a mask covering the support: same buckets for all.
    let mut mask = FlowKey::ONES.hw();
    mask.set(Field::NwTtl, 0);
    nic.set_mask(0, &mask).expect("mask");
    let hm = abi::hash_masked(&ks[0], &mask);
    assert!(ks.iter().all(|k| abi::hash_masked(k, &mask) == hm));
    let [b0, b1] = GEOMETRY.mf_candidate_buckets(hm);
    assert_ne!(b0, b1, "one bucket per bank");
    let room = 2;
    let mut installed = 0;
    for (i, k) in ks.iter().enumerate() {
        match nic.install_megaflow(0, k, 200 + i as u32, &ActionEntry::TO_HOST) {
            Ok(_) => installed += 1,
            Err(NicError::TableFull { .. }) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(installed, room, "bucket pair {b0}/{b1}");
    let tags: Vec<u32> = (0..ks.len() as u32).collect();
    nic.device().submit(&ks, &tags).expect("submit");
    let res = settle_and_check(&mut nic, &mut replay, &ks);
    assert_clean(replay.report());
    let hits = res
        .iter()
        .filter(|x| x.result().map(|r| r.kind != HitKind::Miss).unwrap_or(false))
        .count();
    assert!(hits >= room, "{hits} hits");
    // Remove every other resident megaflow; the rest still hit.
    for k in ks.iter().step_by(2) {
        let _ = nic.remove_megaflow(0, k);
    }
    nic.device().submit(&ks, &tags).expect("submit");
    settle_and_check(&mut nic, &mut replay, &ks);
    assert_clean(replay.report());
}

/// One slot filled until the driver's cuckoo search gives up: long
/// displacement chains, every resident megaflow found at its index.
/// Two keys with one hash written by raw commands into ways 0 and 1 of one
/// bucket (a signature clash the driver never builds): the second is a miss
/// in the RTL and in the reference, never a hit on the first's entry.
fn signature_clash_by_raw_commands_is_a_miss(kind: ModelKind) {
    use abi::regs::{Command, Op, REG_CMD, REG_STAGE_KEY};
    let (mut nic, mut replay) = open(kind);
    let mut r = rng(3);
    let base = random_key(&mut r);
    let mut support = field_bits(Field::NwSrc);
    support.extend(field_bits(Field::TpSrc));
    let ks = colliding_keys(&base, &support, 2, &mut r);
    assert_ne!(ks[0], ks[1]);
    nic.set_mask(0, &FlowKey::ONES.hw()).expect("mask");
    let [b0, _] = GEOMETRY.mf_candidate_buckets(abi::hash_key(&ks[0]));
    for (way, k) in ks.iter().enumerate() {
        let dev = nic.device();
        for (i, w) in k.hw_words().iter().enumerate() {
            dev.write64(0, REG_STAGE_KEY.addr() + 8 * i as u64, *w)
                .expect("stage");
        }
        let c = Command {
            op: Op::MfWrite,
            slot: 0,
            index: GEOMETRY.mf_index(b0, way as u8),
            flow_id: 300 + way as u32,
        };
        dev.write64(0, REG_CMD.addr(), c.encode().expect("encodes"))
            .expect("cmd");
    }
    nic.device().submit(&ks, &[0, 1]).expect("submit");
    let res = settle_and_check(&mut nic, &mut replay, &ks);
    assert_clean(replay.report());
    let got: Vec<LookupResult> = res.iter().map(|x| x.result().expect("result")).collect();
    assert_eq!(got[0].kind, HitKind::Megaflow);
    assert_eq!(got[0].flow_id, 300);
    assert_eq!(
        got[1],
        LookupResult::MISS,
        "way 1 hides behind way 0's signature"
    );
    // The same commands in a fresh reference: a real clash, and a search
    // of every way (v1's rule) would have found the second key.
    let mut t = abi::reference::RefTables::new(GEOMETRY);
    let set = Command {
        op: Op::MaskSet,
        slot: 0,
        index: 0,
        flow_id: 0,
    };
    t.execute(&set, &FlowKey::ONES).expect("mask");
    for (way, k) in ks.iter().enumerate() {
        let c = Command {
            op: Op::MfWrite,
            slot: 0,
            index: GEOMETRY.mf_index(b0, way as u8),
            flow_id: 300 + way as u32,
        };
        t.execute(&c, k).expect("write");
    }
    assert_eq!(t.signature_clashes(0), vec![b0]);
    assert_eq!(t.lookup_naive(&ks[1]).flow_id, 301);
    assert_eq!(t.lookup(&ks[1]), got[1]);
}

fn full_megaflow_table_with_displacement(kind: ModelKind) {
    let (mut nic, mut replay) = open(kind);
    let mut r = rng(3);
    let mask = FlowKey::ZERO
        .with(Field::InPort, u64::MAX)
        .with(Field::DlType, u64::MAX)
        .with(Field::NwSrc, u64::MAX)
        .with(Field::NwDst, u64::MAX);
    nic.set_mask(1, &mask).expect("mask");
    let cap = GEOMETRY.mf_entries_per_slot() as usize;
    let mut keys = Vec::new();
    let mut moves = 0;
    let mut full = 0;
    let mut i = 0u64;
    while full < 8 && keys.len() < cap {
        i += 1;
        let k = FlowKey::ZERO
            .with(Field::InPort, 1)
            .with(Field::DlType, 0x0800)
            .with(Field::NwSrc, r.gen::<u32>() as u64)
            .with(Field::NwDst, i);
        match nic.install_megaflow(1, &k, (i & 0xff_ffff) as u32, &ActionEntry::TO_HOST) {
            Ok(ins) => {
                moves += ins.moves;
                keys.push(k);
            }
            Err(NicError::TableFull { .. }) => full += 1,
            Err(e) => panic!("{e}"),
        }
    }
    let load = keys.len() as f64 / cap as f64;
    assert!(load > 0.9, "load factor {load}");
    assert!(moves > 0, "no displacement happened");
    let tags: Vec<u32> = (0..keys.len() as u32).collect();
    nic.device().submit(&keys, &tags).expect("submit");
    let res = settle_and_check(&mut nic, &mut replay, &keys);
    assert_clean(replay.report());
    for (x, k) in res.iter().zip(&keys) {
        let got = x.result().expect("decodes");
        let e = nic.megaflow_lookup(1, k).expect("shadow has it");
        assert_eq!(
            got,
            LookupResult {
                kind: HitKind::Megaflow,
                slot: 1,
                index: e.index,
                flow_id: e.flow_id
            }
        );
    }
    eprintln!("{} megaflows (load {load:.3}), {moves} moves", keys.len());
}

/// Results back up into `lk_ready` when the consumer stalls; none is lost,
/// order and tags are kept, and the miss queue holds every miss (up to its
/// depth, the rest counted as drops).
fn backpressure_misses_and_counters(kind: ModelKind) {
    let (mut nic, mut replay) = open(kind);
    let mut r = rng(4);
    let keys: Vec<FlowKey> = (0..2000).map(|_| random_key(&mut r)).collect();
    let tags: Vec<u32> = (0..keys.len() as u32).collect();
    let sim = nic.device();
    sim.submit(&keys, &tags).expect("submit");
    let mut n = 0;
    while sim.pending() > 0 || sim.in_flight() > 0 {
        sim.set_result_ready(r.gen_bool(0.5));
        sim.step(1);
        n += 1;
        assert!(n < 100_000);
    }
    sim.set_result_ready(true);
    let res = settle_and_check(&mut nic, &mut replay, &keys);
    assert_clean(replay.report());
    assert_eq!(res.len(), keys.len());
    assert!(res.iter().zip(&tags).all(|(x, t)| x.tag == *t));
    assert!(res
        .iter()
        .zip(&keys)
        .all(|(x, k)| x.hash == abi::hash_key(k)));
    let c = nic.counters().expect("counters");
    let depth = 1u64 << GEOMETRY.missq_log2_depth;
    assert_eq!(c.lookups, keys.len() as u64);
    assert_eq!(c.misses, keys.len() as u64);
    assert_eq!(c.miss_drops, keys.len() as u64 - depth);
    let mut misses = vec![driver::Miss::default(); 64];
    let got = nic.drain_misses(&mut misses).expect("drain");
    assert_eq!(got, 64);
    for (m, k) in misses.iter().zip(&keys) {
        assert_eq!(m.key, *k);
        assert_eq!(m.hash, abi::hash_key(k));
    }
    assert_eq!(misses[0].tag, 0);
}

fn device_trait_bounds_and_32_bit_access(kind: ModelKind) {
    let mut sim = SimNic::with_model(kind).expect("model");
    assert_eq!(sim.bar_len(0).expect("bar 0"), REG_WINDOW_BYTES);
    assert!(matches!(
        sim.bar_len(1),
        Err(DeviceError::NoSuchBar { bar: 1, .. })
    ));
    assert!(matches!(
        sim.read64(0, 4),
        Err(DeviceError::Misaligned { .. })
    ));
    assert!(matches!(
        sim.write64(0, REG_WINDOW_BYTES, 0),
        Err(DeviceError::OutOfRange { .. })
    ));
    assert!(matches!(
        sim.read32(2, 0),
        Err(DeviceError::NoSuchBar { .. })
    ));
    sim.write64(0, REG_SCRATCH.addr(), 0x1111_2222_3333_4444)
        .expect("write");
    sim.write32(0, REG_SCRATCH.addr() + 4, 0xdead_beef)
        .expect("write32 high");
    assert_eq!(
        sim.read64(0, REG_SCRATCH.addr()).expect("read"),
        0xdead_beef_3333_4444
    );
    assert_eq!(
        sim.read32(0, REG_SCRATCH.addr()).expect("read32"),
        0x3333_4444
    );
    assert_eq!(
        sim.read32(0, REG_SCRATCH.addr() + 4).expect("read32"),
        0xdead_beef
    );
    let cap = Nic::probe(&mut sim, 0).expect("capability");
    assert_eq!(cap.geometry, GEOMETRY);
    assert_eq!(cap.latency, sim::LATENCY);
}

#[test]
fn waveform_is_written() {
    let dir = std::env::temp_dir().join(format!("fastpath-sim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let path = dir.join("wave.vcd");
    {
        let mut sim = SimNic::with_vcd(&path).expect("vcd model");
        // Waveforms come from the exact RTL (the fast model is not traced).
        assert_eq!(sim.kind(), ModelKind::Exact);
        sim.step(50);
    }
    let text = std::fs::read_to_string(&path).expect("vcd exists");
    assert!(text.contains("$enddefinitions"));
    assert!(text.contains("lk_valid") && text.contains("s_axil_awaddr"));
    // The hash units' own registers are in it: the RTL, not the stand-in.
    assert!(text.contains("part_q"));
    assert!(text.contains("#196000"), "50 cycles of 4 ns");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(matches!(
        SimNic::with_vcd("/nonexistent-dir/x.vcd"),
        Err(sim::SimError::Waveform(_))
    ));
}
