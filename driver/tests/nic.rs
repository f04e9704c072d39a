//! The Nic API against the register-level model in tests/model.

mod model;

use abi::action::ActionEntry;
use abi::geometry::{cuckoo_buckets, emc_candidates};
use abi::regs::{self, CapabilityError, Command, HitKind, REG_WINDOW_BYTES};
use abi::{hash_key, hash_masked, FlowKey, Geometry};
use driver::{Device, EmcPolicy, EntryStats, Miss, Nic, NicError, Split32, MAX_CUCKOO_PATH};
use model::{key, tiny, Model, Model32};
use proptest::prelude::*;
use std::collections::HashMap;

fn open(g: Geometry) -> Nic<Model> {
    Nic::open(Model::new(g)).expect("open model")
}

/// A mask exact on word 0 and the low half of word 6.
fn mask_a() -> FlowKey {
    FlowKey::from_hw_words(&[u64::MAX, 0, 0, 0, 0, 0, 0xffff_ffff, 0])
}

fn mask_b() -> FlowKey {
    FlowKey::from_hw_words(&[u64::MAX, 0, 0, 0, 0, 0, 0, 0xffff])
}

#[test]
fn open_checks_capability_liveness_and_resets() {
    let mut m = Model::new(tiny());
    let stale = Command {
        op: regs::Op::EmcWrite,
        slot: 0,
        index: 3,
        flow_id: 5,
    };
    m.tables.execute(&stale, &key(1)).unwrap();
    m.lookups = 77;
    let mut nic = Nic::open(m).unwrap();
    assert_eq!(nic.capability().geometry, tiny());
    assert_eq!(nic.geometry().emc_entries(), 16);
    let m = nic.device();
    assert!(m.tables.emc_count() == 0, "open clears stale entries");
    assert_eq!(m.lookups, 0, "open clears counters");
}

/// The model with its blocks moved away from the declared layout (the
/// identity block stays at 0, the others go elsewhere and chain in a
/// different window order).
fn relocated() -> Model {
    let mut m = Model::new(tiny());
    m.bases = [0x000, 0x800, 0x400, 0xc00, 0x600, 0xe00];
    m
}

#[test]
fn driver_uses_the_bases_it_discovers() {
    let mut nic = Nic::open(relocated()).unwrap();
    let bases: Vec<u64> = nic.blocks().list.iter().map(|b| b.base).collect();
    assert_eq!(bases, [0x000, 0x800, 0x400, 0xc00, 0x600]);
    let k = key(3);
    nic.install_emc(&k, 9, &ActionEntry::TO_HOST, EmcPolicy::Way(0))
        .unwrap();
    let m = nic.device();
    assert_eq!(
        m.tables.emc_count(),
        1,
        "the command reached the moved table block"
    );
    assert_eq!(m.peek(&k).flow_id, 9);
    // Every block sits where the chain says: the header at each found base
    // is that block's type.
    let (blocks, _) = Nic::probe_blocks(m, 0).unwrap();
    for b in &blocks.list {
        let hdr = [m.reg_read(b.base)];
        assert_eq!(regs::BLK_TYPE.get(&hdr) as u16, b.code);
        assert_eq!(m.reg_at(b.base), Some(regs::reg_header(b.ty.unwrap())));
    }
}

#[test]
fn broken_chains_are_typed_errors() {
    use regs::{header_word, BlockError, BlockType};
    let blk = |m: Model| match Nic::open(m) {
        Err(NicError::Blocks { error, .. }) => error,
        other => panic!("{other:?}"),
    };
    let decl = |t: BlockType| *t.decl();
    // A loop: the stats block points back at the control block.
    let mut m = Model::new(tiny());
    let st = decl(BlockType::Stats);
    m.overrides
        .insert(st.base, header_word(&st, decl(BlockType::Control).base));
    assert!(matches!(blk(m), BlockError::Loop { .. }));
    // A pointer out of the window.
    let mut m = Model::new(tiny());
    m.overrides
        .insert(st.base, header_word(&st, REG_WINDOW_BYTES + 0x40));
    let e = blk(m);
    assert!(matches!(e, BlockError::OutOfWindow { .. }), "{e}");
    // A missing block: control skips the table block.
    let mut m = Model::new(tiny());
    let ctl = decl(BlockType::Control);
    m.overrides.insert(ctl.base, header_word(&ctl, st.base));
    let e = blk(m);
    assert!(
        matches!(
            e,
            BlockError::Missing {
                ty: BlockType::Table,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("no table register block"), "{e}");
    // A newer major version of a block.
    let mut m = Model::new(tiny());
    let newer = regs::BlockDecl {
        major: ctl.major + 1,
        ..ctl
    };
    m.overrides
        .insert(ctl.base, header_word(&newer, decl(BlockType::Table).base));
    let e = blk(m);
    assert!(
        matches!(e, BlockError::Version { ty: BlockType::Control, major, .. } if major == ctl.major + 1),
        "{e}"
    );
    assert!(e.to_string().contains("control register block"), "{e}");
    // No host-queue block in a look-aside build: a typed error with a hint.
    let mut nic = Nic::open(Model::new(tiny())).unwrap();
    match nic.host_queues() {
        Err(driver::HostQueueError::Block(e @ BlockError::Missing { .. })) => {
            assert!(e.to_string().contains("look-aside"), "{e}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn capability_refusals_are_typed() {
    let mut m = Model::new(tiny());
    m.id_override = Some(0x0000_0000_0100_00ed);
    match Nic::open(m) {
        Err(NicError::Capability {
            error: CapabilityError::BadMagic(_),
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    let mut m = Model::new(tiny());
    m.cap.abi_major = 7;
    assert!(matches!(
        Nic::open(m),
        Err(NicError::Capability {
            error: CapabilityError::Version {
                device_major: 7,
                ..
            },
            ..
        })
    ));
    let mut m = Model::new(tiny());
    m.cap.geometry.mf_bucket_slots = 12;
    assert!(matches!(
        Nic::open(m),
        Err(NicError::Capability {
            error: CapabilityError::Geometry(_),
            ..
        })
    ));
    let mut m = Model::new(tiny());
    m.cap.key_words = 4;
    assert!(matches!(
        Nic::open(m),
        Err(NicError::Capability {
            error: CapabilityError::Mismatch {
                field: "key_words",
                ..
            },
            ..
        })
    ));
    let mut m = Model::new(tiny());
    m.bar_len = REG_WINDOW_BYTES / 2;
    assert!(matches!(Nic::open(m), Err(NicError::BarTooSmall { .. })));
    let mut m = Model::new(tiny());
    assert!(matches!(
        Nic::open_bar(&mut m, 2),
        Err(NicError::Device(driver::DeviceError::NoSuchBar {
            bar: 2,
            ..
        }))
    ));
    let mut m = Model::new(tiny());
    m.broken_scratch = true;
    assert!(matches!(Nic::open(m), Err(NicError::Liveness { .. })));
    // probe does not write anything.
    let mut m = Model::new(tiny());
    let cap = Nic::probe(&mut m, 0).unwrap();
    assert_eq!(cap.geometry, tiny());
    assert_eq!(m.writes, 0);
}

#[test]
fn reset_waits_for_busy_and_times_out() {
    let mut m = Model::new(tiny());
    m.clear_busy_reads = 50;
    let mut nic = Nic::open(m).unwrap();
    nic.set_poll_limit(10);
    assert!(matches!(
        nic.reset(),
        Err(NicError::Timeout { polls: 10, .. })
    ));
    nic.set_poll_limit(1000);
    nic.reset().unwrap();
    nic.device().stuck_busy = true;
    assert!(matches!(nic.reset(), Err(NicError::Timeout { .. })));
    // A command while busy is reported, not silently lost.
    assert!(matches!(
        nic.install_emc(&key(1), 1, &ActionEntry::TO_HOST, EmcPolicy::Ovs),
        Err(NicError::Busy { .. })
    ));
}

#[test]
fn emc_install_lookup_remove_within_write_budget() {
    let mut nic = open(tiny());
    let k = key(42);
    let before = nic.device().writes;
    let ins = nic
        .install_emc(&k, 1234, &ActionEntry::TO_HOST, EmcPolicy::Ovs)
        .unwrap();
    assert!(ins.writes <= 12, "{ins:?}");
    assert_eq!(
        ins.writes, 10,
        "8 key words + action word + command on a cold staging area"
    );
    assert_eq!(nic.device().writes - before, ins.writes as u64);
    let r = nic.device().lookup(&k, 0).unwrap();
    assert_eq!(
        (r.kind, r.flow_id, r.index),
        (HitKind::Emc, 1234, ins.index)
    );
    assert!(emc_candidates(hash_key(&k), 4).contains(&ins.index));
    // Same key again: only the command (staging already holds the key).
    let again = nic
        .install_emc(&k, 99, &ActionEntry::TO_HOST, EmcPolicy::Ovs)
        .unwrap();
    assert_eq!((again.index, again.writes), (ins.index, 1));
    assert!(again.replaced_same_key);
    assert_eq!(nic.device().peek(&k).flow_id, 99);
    // A key differing in one word costs 2 writes, a new action one more.
    let mut k2 = k;
    k2.words[7] ^= 1;
    assert_eq!(
        nic.install_emc(&k2, 5, &ActionEntry::TO_HOST, EmcPolicy::Ovs)
            .unwrap()
            .writes,
        2
    );
    let re = nic
        .install_emc(&k2, 5, &action_of(5), EmcPolicy::Ovs)
        .unwrap();
    assert_eq!(re.writes, 2, "action word + command");
    let r = nic.device().peek(&k2);
    assert_eq!(nic.device().action_at(&r), Some(action_word_of(5)));
    let r = nic.device().peek(&k);
    assert_eq!(
        nic.device().action_at(&r),
        Some(ActionEntry::TO_HOST.encode()),
        "each position keeps its own action"
    );
    assert_eq!(
        nic.emc_stats(&k).unwrap().hits,
        0,
        "rewrite resets the counter"
    );
    nic.device().lookup(&k, 0);
    nic.device().lookup(&k, 0);
    assert_eq!(nic.emc_stats(&k).unwrap().hits, 2);
    assert_eq!(nic.remove_emc(&k).unwrap(), ins.index);
    assert_eq!(nic.device().peek(&k).kind, HitKind::Miss);
    assert!(matches!(nic.remove_emc(&k), Err(NicError::NoSuchEntry(_))));
    assert!(matches!(nic.emc_stats(&k), Err(NicError::NoSuchEntry(_))));
}

/// Keys whose two EMC candidates are positions `a` (bank A, 0..8) and `b`
/// (bank B, 8..16) of 16 entries.
fn emc_keys_for(a: u32, b: u32, n: usize) -> Vec<FlowKey> {
    assert!(a < 8 && (8..16).contains(&b), "not one position per bank");
    (0..)
        .map(key)
        .filter(|k| emc_candidates(hash_key(k), 4) == [a, b])
        .take(n)
        .collect()
}

#[test]
fn emc_follows_ovs_replacement() {
    let mut nic = open(tiny());
    let ks = emc_keys_for(3, 9, 3);
    let i0 = nic
        .install_emc(&ks[0], 1, &ActionEntry::TO_HOST, EmcPolicy::Ovs)
        .unwrap();
    let i1 = nic
        .install_emc(&ks[1], 2, &ActionEntry::TO_HOST, EmcPolicy::Ovs)
        .unwrap();
    assert_eq!((i0.index, i1.index), (3, 9), "empty candidates first");
    assert_eq!(i1.evicted, None);
    // Both full: the one with the smaller stored hash goes.
    let (h0, h1) = (hash_key(&ks[0]), hash_key(&ks[1]));
    let (victim, victim_key) = if h1 < h0 { (9, ks[1]) } else { (3, ks[0]) };
    let i2 = nic
        .install_emc(&ks[2], 3, &ActionEntry::TO_HOST, EmcPolicy::Ovs)
        .unwrap();
    assert_eq!(i2.index, victim);
    assert_eq!(i2.evicted.map(|e| e.0), Some(victim_key));
    assert_eq!(nic.device().peek(&victim_key).kind, HitKind::Miss);
    assert_eq!(nic.device().peek(&ks[2]).flow_id, 3);
    // The caller's policy: way 1, whatever is there.
    let ks = emc_keys_for(5, 14, 2);
    assert_eq!(
        nic.install_emc(&ks[0], 7, &ActionEntry::TO_HOST, EmcPolicy::Way(1))
            .unwrap()
            .index,
        14
    );
    let w = nic
        .install_emc(&ks[1], 8, &ActionEntry::TO_HOST, EmcPolicy::Way(1))
        .unwrap();
    assert_eq!((w.index, w.evicted.map(|e| e.0)), (14, Some(ks[0])));
    assert!(matches!(
        nic.install_emc(&ks[0], 1, &ActionEntry::TO_HOST, EmcPolicy::Way(2)),
        Err(NicError::InvalidArgument(_))
    ));
}

#[test]
fn flow_id_too_wide_writes_nothing() {
    let mut nic = open(tiny());
    nic.set_mask(0, &mask_a()).unwrap();
    let w = nic.device().writes;
    assert!(matches!(
        nic.install_emc(&key(1), 1 << 24, &ActionEntry::TO_HOST, EmcPolicy::Ovs),
        Err(NicError::Encoding(_))
    ));
    assert!(matches!(
        nic.install_megaflow(0, &key(1), u32::MAX, &ActionEntry::TO_HOST),
        Err(NicError::Encoding(_))
    ));
    assert_eq!(nic.device().writes, w);
}

#[test]
fn command_error_is_reported() {
    let mut nic = open(tiny());
    nic.device().reject_next_cmd = true;
    assert!(matches!(
        nic.install_emc(&key(1), 1, &ActionEntry::TO_HOST, EmcPolicy::Ovs),
        Err(NicError::CommandRejected { .. })
    ));
    assert_eq!(
        nic.emc_lookup(&key(1)),
        None,
        "nothing recorded as installed"
    );
    nic.install_emc(&key(1), 1, &ActionEntry::TO_HOST, EmcPolicy::Ovs)
        .unwrap();
    assert_eq!(nic.emc_lookup(&key(1)).map(|e| e.1), Some(1));
}

#[test]
fn masks_and_megaflows() {
    let mut nic = open(tiny());
    assert!(matches!(
        nic.install_megaflow(0, &key(1), 1, &ActionEntry::TO_HOST),
        Err(NicError::BadMask { slot: 0, .. })
    ));
    assert!(matches!(
        nic.set_mask(3, &mask_a()),
        Err(NicError::BadMask { slot: 3, .. })
    ));
    assert!(matches!(
        nic.set_mask(0, &FlowKey::ZERO),
        Err(NicError::BadMask { .. })
    ));
    assert_eq!(nic.set_mask(0, &mask_a()).unwrap(), 9);
    assert_eq!(nic.set_mask(0, &mask_a()).unwrap(), 0, "same mask: no-op");
    nic.set_mask(1, &mask_b()).unwrap();
    assert_eq!(nic.mask(1), Some(mask_b()));

    let k = key(7);
    let ins = nic
        .install_megaflow(0, &k, 77, &ActionEntry::TO_HOST)
        .unwrap();
    // Mask covers words 0 and 6: at most 2 key words + action + command.
    assert!(ins.writes <= 4, "{ins:?}");
    assert_eq!(ins.moves, 0);
    let h = hash_masked(&k, &mask_a());
    let g = tiny();
    let buckets = cuckoo_buckets(h, g.mf_log2_buckets);
    assert!(buckets.contains(&g.mf_bucket_way(ins.index).0));
    // Any key equal under the mask hits it.
    let mut k2 = key(8);
    k2.words[0] = k.words[0];
    k2.words[6] = (k2.words[6] & !0xffff_ffff) | (k.words[6] & 0xffff_ffff);
    let r = nic.device().lookup(&k2, 0).unwrap();
    assert_eq!((r.kind, r.slot, r.flow_id), (HitKind::Megaflow, 0, 77));
    assert_eq!(nic.megaflow_stats(0, &k).unwrap().hits, 1);
    assert_eq!(nic.megaflow_lookup(0, &k2).map(|e| e.flow_id), Some(77));
    assert_eq!(nic.megaflows(0).count(), 1);

    // The mask cannot change under entries.
    assert!(matches!(
        nic.set_mask(0, &mask_b()),
        Err(NicError::BadMask { slot: 0, .. })
    ));
    // Update in place keeps the hit count.
    let up = nic
        .install_megaflow(0, &k2, 78, &ActionEntry::TO_HOST)
        .unwrap();
    assert!(up.replaced_same_key);
    assert_eq!(up.index, ins.index);
    assert_eq!(nic.megaflow_stats(0, &k).unwrap().hits, 1);
    assert_eq!(nic.device().peek(&k).flow_id, 78);

    assert_eq!(nic.remove_megaflow(0, &k).unwrap(), ins.index);
    assert_eq!(nic.device().peek(&k).kind, HitKind::Miss);
    assert!(matches!(
        nic.remove_megaflow(0, &k),
        Err(NicError::NoSuchEntry(_))
    ));

    // clear_mask removes entries first, then disables the slot.
    for s in 0..5 {
        nic.install_megaflow(1, &key(100 + s), s as u32, &ActionEntry::TO_HOST)
            .unwrap();
    }
    assert_eq!(nic.megaflow_len(1), 5);
    assert_eq!(nic.clear_mask(1).unwrap(), 5);
    assert_eq!(nic.device().tables.mf_count(1), 0);
    assert_eq!(nic.device().tables.mask(1), None);
    nic.set_mask(1, &mask_a()).unwrap();
    assert_eq!(nic.device().peek(&key(100)).kind, HitKind::Miss);
}

/// A distinct, valid action per flow id, so a test can tell whether the
/// action RAM holds the word installed with each entry.
#[test]
fn edit_entries_are_staged_and_written_by_index() {
    use abi::action::{EditEntry, EDIT_ENTRIES};
    let e = EditEntry {
        eth_src: [2, 0, 0, 0, 0, 1],
        eth_dst: [2, 0, 0, 0, 0, 2],
        ipv4_src: [10, 0, 0, 1],
        ipv4_dst: [10, 0, 0, 2],
        l4_src: 7,
        l4_dst: 9,
    };
    // A bitstream without the table refuses before writing anything.
    let mut nic = open(tiny());
    let w = nic.register_writes();
    assert!(matches!(
        nic.write_edit(1, &e),
        Err(NicError::NoEditTable { .. })
    ));
    assert_eq!(nic.register_writes(), w);
    let mut m = Model::new(tiny());
    m.cap = m.cap.with_packet_path(2, true).with_eth_edit(true);
    let mut nic = Nic::open(m).expect("open model");
    nic.write_edit(4095, &e).unwrap();
    nic.write_edit(3, &EditEntry::default()).unwrap();
    assert_eq!(EditEntry::decode(&nic.device().tables.edit(4095)), e);
    assert_eq!(nic.device().tables.edit(3), [0; 4]);
    // Past the table: the command engine refuses it.
    assert!(matches!(
        nic.write_edit(EDIT_ENTRIES as u16, &e),
        Err(NicError::CommandRejected { .. })
    ));
}

fn action_of(flow: u32) -> ActionEntry {
    ActionEntry {
        kind: Some(abi::action::ActionKind::Output),
        out_ports: flow as u16 | 1,
        vlan_tci: (flow >> 16) as u16,
        ..ActionEntry::default()
    }
}

fn action_word_of(flow: u32) -> u64 {
    action_of(flow).encode()
}

/// Fills one slot through the Nic while the model checks, after every
/// command, that every previously installed key still hits with its flow.
#[test]
fn displacement_never_loses_a_resident_and_full_is_clean() {
    let g = Geometry {
        emc_log2_entries: 4,
        mf_slots: 1,
        mf_log2_buckets: 4,
        mf_bucket_slots: 2,
        missq_log2_depth: 2,
    };
    let mut nic = open(g);
    let mask = FlowKey::ONES.hw();
    nic.set_mask(0, &mask).unwrap();
    let mut installed: Vec<(FlowKey, u32)> = Vec::new();
    let mut moves = 0;
    let mut max_writes_direct = 0;
    let mut full = 0;
    for s in 0..200u64 {
        let k = key(s);
        nic.device().watch = installed.clone();
        nic.device().watch_action = Some(action_word_of);
        let before = (nic.device().tables.clone(), nic.device().writes);
        match nic.install_megaflow(0, &k, s as u32, &action_of(s as u32)) {
            Ok(ins) => {
                if ins.moves == 0 {
                    max_writes_direct = max_writes_direct.max(ins.writes);
                }
                assert!(ins.moves as usize <= MAX_CUCKOO_PATH);
                moves += ins.moves;
                installed.push((k, s as u32));
            }
            Err(NicError::TableFull { slot: 0, entries }) => {
                assert_eq!(entries, installed.len());
                assert!(nic.device().tables == before.0, "nothing half-installed");
                assert_eq!(nic.device().writes, before.1, "no write on a full table");
                full += 1;
            }
            Err(e) => panic!("{e}"),
        }
        assert!(
            nic.device().watch_violations.is_empty(),
            "{:?}",
            nic.device().watch_violations
        );
    }
    assert!(moves > 0, "the test must exercise displacement");
    assert!(full > 0, "the test must reach a full table");
    assert!(max_writes_direct <= 12, "{max_writes_direct}");
    // Load factor reached with 2-entry buckets and 4-move paths.
    assert!(
        installed.len() * 100 / 32 >= 75,
        "{} of 32",
        installed.len()
    );
    for (k, f) in &installed {
        let r = nic.device().peek(k);
        assert_eq!((r.kind, r.flow_id), (HitKind::Megaflow, *f));
        assert_eq!(nic.device().action_at(&r), Some(action_word_of(*f)));
        let e = nic.megaflow_lookup(0, k).unwrap();
        assert_eq!(e.action, action_of(*f));
    }
}

#[test]
fn hits_survive_displacement() {
    let g = Geometry {
        emc_log2_entries: 4,
        mf_slots: 1,
        mf_log2_buckets: 3,
        mf_bucket_slots: 1,
        missq_log2_depth: 2,
    };
    let mut nic = open(g);
    nic.set_mask(0, &FlowKey::ONES.hw()).unwrap();
    let mut installed = Vec::new();
    for s in 0..40u64 {
        let k = key(s);
        if nic
            .install_megaflow(0, &k, s as u32, &ActionEntry::TO_HOST)
            .is_ok()
        {
            // Every resident gets one more hit per install round.
            installed.push(k);
            for (i, k) in installed.iter().enumerate() {
                nic.device().lookup_frame(k, 0, frame_len(i));
            }
        }
    }
    assert!(installed.len() >= 4);
    let n = installed.len() as u64;
    for (i, k) in installed.iter().enumerate() {
        let st = nic.megaflow_stats(0, k).unwrap();
        let hits = n - i as u64;
        assert_eq!(st.hits, hits, "key {i}");
        assert_eq!(st.bytes, hits * frame_len(i) as u64, "key {i} bytes");
    }
}

/// The frame length of the `i`-th key's frames in the displacement test.
fn frame_len(i: usize) -> u16 {
    60 + 97 * i as u16
}

#[test]
fn byte_deltas_survive_the_counter_wrapping() {
    let top = driver::stats_bytes_mask();
    let before = EntryStats {
        bytes: top - 99,
        ..Default::default()
    };
    let after = EntryStats {
        bytes: 400,
        ..Default::default()
    };
    // 100 bytes up to the wrap, 400 after it.
    assert_eq!(after.bytes_since(before.bytes), 500);
    assert_eq!(before.bytes_since(before.bytes), 0);
}

#[test]
fn miss_queue_drains_in_bursts_and_counters_add_up() {
    let mut nic = open(tiny()); // queue depth 8
    nic.install_emc(&key(1), 11, &ActionEntry::TO_HOST, EmcPolicy::Ovs)
        .unwrap();
    nic.set_mask(0, &mask_a()).unwrap();
    nic.install_megaflow(0, &key(2), 22, &ActionEntry::TO_HOST)
        .unwrap();
    let m = nic.device();
    m.lookup(&key(1), 0);
    m.lookup(&key(2), 0);
    for t in 0..10u32 {
        m.lookup(&key(1000 + t as u64), 500 + t);
    }
    let c = nic.counters().unwrap();
    assert_eq!(
        (c.lookups, c.emc_hits, c.mf_hits, c.misses, c.miss_drops),
        (12, 1, 1, 10, 2)
    );
    assert!(c.commands >= 3);
    let mut buf = [Miss::default(); 3];
    let mut got = Vec::new();
    loop {
        let n = nic.drain_misses(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        assert!(n <= 3);
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got.len(), 8, "queue depth 8; two were dropped");
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m.key, key(1000 + i as u64));
        assert_eq!(m.tag, 500 + i as u32);
        assert_eq!(m.hash, hash_key(&m.key));
    }
    nic.clear_counters().unwrap();
    assert_eq!(nic.counters().unwrap().lookups, 0);
    nic.set_enabled(false).unwrap();
    assert_eq!(nic.device().lookup(&key(1), 0), None);
    nic.set_enabled(true).unwrap();
    // reset keeps the enable bit and forgets every entry.
    nic.reset().unwrap();
    assert_eq!(nic.emc_len(), 0);
    assert_eq!(nic.megaflow_len(0), 0);
    assert_eq!(nic.mask(0), None);
    assert_eq!(
        nic.device().lookup(&key(1), 0).map(|r| r.kind),
        Some(HitKind::Miss)
    );
}

#[test]
fn impossible_miss_level_is_an_error() {
    struct Liar(Model);
    impl driver::Device for Liar {
        fn name(&self) -> &str {
            "liar"
        }
        fn bar_len(&self, bar: u8) -> Result<u64, driver::DeviceError> {
            self.0.bar_len(bar)
        }
        fn read32(&mut self, bar: u8, o: u64) -> Result<u32, driver::DeviceError> {
            self.0.read32(bar, o)
        }
        fn write32(&mut self, bar: u8, o: u64, v: u32) -> Result<(), driver::DeviceError> {
            self.0.write32(bar, o, v)
        }
        fn read64(&mut self, bar: u8, o: u64) -> Result<u64, driver::DeviceError> {
            if o == abi::regs::REG_MISSQ_LEVEL.addr() {
                return Ok(u64::MAX);
            }
            self.0.read64(bar, o)
        }
        fn write64(&mut self, bar: u8, o: u64, v: u64) -> Result<(), driver::DeviceError> {
            self.0.write64(bar, o, v)
        }
    }
    let mut nic = Nic::open(Liar(Model::new(tiny()))).unwrap();
    let mut buf = [Miss::default(); 4];
    assert!(matches!(
        nic.drain_misses(&mut buf),
        Err(NicError::BadRegister {
            register: "MISSQ_LEVEL",
            ..
        })
    ));
    // DMA is not something a register model offers.
    assert!(matches!(
        driver::Device::dma_alloc(nic.device(), 64),
        Err(driver::DeviceError::Unsupported { .. })
    ));
}

#[derive(Clone, Debug)]
enum Op {
    Emc(u8, u32),
    RemoveEmc(u8),
    Mf(u8, u8, u32),
    RemoveMf(u8, u8),
}

/// Keys from a small pool, so updates, collisions and removals of present
/// keys happen often.
fn pool_key(i: u8) -> FlowKey {
    key(i as u64 % 48)
}

const MASKS: [[u64; 8]; 3] = [
    [u64::MAX, 0, 0, 0, 0, 0, 0xffff_ffff, 0],
    [u64::MAX, 0xffff, 0, 0, 0, 0, 0, 0],
    [0xffff_ffff, 0, 0, 0, 0, 0, 0, 0xffff_0000],
];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<u8>(), 0u32..1000).prop_map(|(k, f)| Op::Emc(k, f)),
        any::<u8>().prop_map(Op::RemoveEmc),
        (0u8..3, any::<u8>(), 0u32..1000).prop_map(|(s, k, f)| Op::Mf(s, k, f)),
        (0u8..3, any::<u8>()).prop_map(|(s, k)| Op::RemoveMf(s, k)),
    ]
}

fn cases() -> u32 {
    if std::env::var_os("FASTPATH_LONG").is_some() {
        2000
    } else {
        96
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Random installs and removals through the Nic; then every lookup in
    /// the model agrees with a naive oracle (a map for the EMC, one map of
    /// masked keys per mask slot, slots searched in order).
    #[test]
    fn model_lookups_agree_with_naive_oracle(ops in proptest::collection::vec(op(), 1..120), probes in proptest::collection::vec(any::<u8>(), 16)) {
        let g = tiny();
        let mut nic = open(g);
        let masks: Vec<FlowKey> = MASKS.iter().map(FlowKey::from_hw_words).collect();
        for (s, m) in masks.iter().enumerate() {
            nic.set_mask(s as u8, m).unwrap();
        }
        let mut emc: HashMap<FlowKey, u32> = HashMap::new();
        let mut mf: Vec<HashMap<FlowKey, u32>> = vec![HashMap::new(); 3];
        for op in &ops {
            match *op {
                Op::Emc(k, f) => {
                    let k = pool_key(k);
                    let ins = nic.install_emc(&k, f, &ActionEntry::TO_HOST, EmcPolicy::Ovs).unwrap();
                    prop_assert!(ins.writes <= 12);
                    if let Some((ev, _)) = ins.evicted {
                        // The victim shared the position.
                        prop_assert!(emc_candidates(hash_key(&ev), g.emc_log2_entries).contains(&ins.index));
                        prop_assert!(emc.remove(&ev).is_some());
                    }
                    emc.insert(k, f);
                }
                Op::RemoveEmc(k) => {
                    let k = pool_key(k);
                    let r = nic.remove_emc(&k);
                    prop_assert_eq!(r.is_ok(), emc.remove(&k).is_some());
                }
                Op::Mf(s, k, f) => {
                    let k = pool_key(k);
                    let mk = k.masked(&masks[s as usize]);
                    match nic.install_megaflow(s, &k, f, &ActionEntry::TO_HOST) {
                        Ok(ins) => {
                            if ins.moves == 0 { prop_assert!(ins.writes <= 12); }
                            mf[s as usize].insert(mk, f);
                        }
                        Err(NicError::TableFull { .. }) => {
                            prop_assert!(!mf[s as usize].contains_key(&mk));
                        }
                        Err(e) => return Err(TestCaseError::fail(e.to_string())),
                    }
                }
                Op::RemoveMf(s, k) => {
                    let k = pool_key(k);
                    let mk = k.masked(&masks[s as usize]);
                    let r = nic.remove_megaflow(s, &k);
                    prop_assert_eq!(r.is_ok(), mf[s as usize].remove(&mk).is_some());
                }
            }
        }
        prop_assert_eq!(nic.emc_len(), emc.len());
        let mut probe_keys: Vec<FlowKey> = probes.iter().map(|&p| pool_key(p)).collect();
        // Variants equal under some mask but never installed exactly.
        probe_keys.extend(probes.iter().map(|&p| {
            let mut k = pool_key(p);
            k.words[3] ^= 0xdead_beef;
            k
        }));
        for k in &probe_keys {
            let want = if let Some(f) = emc.get(k) {
                (HitKind::Emc, *f)
            } else if let Some((_, f)) = (0..3).find_map(|s| mf[s].get(&k.masked(&masks[s])).map(|f| (s, *f))) {
                (HitKind::Megaflow, f)
            } else {
                (HitKind::Miss, 0)
            };
            // Driver-built tables: the signature lookup is the full search.
            let t = &nic.device().tables;
            prop_assert_eq!(t.lookup(k), t.lookup_naive(k));
            let r = nic.device().lookup(k, 0).unwrap();
            prop_assert_eq!((r.kind, r.flow_id), want, "key {:?}", k);
        }
        for s in 0..3 {
            prop_assert!(nic.device().tables.signature_clashes(s).is_empty());
        }
    }
}

/// Keys that share bank A's bucket and signature (and so bank B's bucket):
/// the driver never puts two of them in one bucket, so each hits.
#[test]
fn forced_signature_collisions_never_share_a_bucket() {
    let g = tiny();
    let mut nic = open(g);
    nic.set_mask(0, &mask_a()).unwrap();
    let ks = abi::reference::signature_collisions(&g, &mask_a(), 4, key);
    let buckets = cuckoo_buckets(hash_masked(&ks[0], &mask_a()), g.mf_log2_buckets);
    for k in &ks {
        assert_eq!(
            cuckoo_buckets(hash_masked(k, &mask_a()), g.mf_log2_buckets),
            buckets
        );
    }
    let mut placed = Vec::new();
    for (f, k) in ks.iter().take(3).enumerate() {
        let ins = nic
            .install_megaflow(0, k, 10 + f as u32, &ActionEntry::TO_HOST)
            .unwrap();
        placed.push(g.mf_bucket_way(ins.index).0);
    }
    // Bank A's bucket takes one of them (one signature), bank B's the
    // other two (their bank B signatures differ).
    placed.sort();
    assert_eq!(placed, vec![buckets[0], buckets[1], buckets[1]]);
    assert!(nic.device().tables.signature_clashes(0).is_empty());
    for (f, k) in ks.iter().take(3).enumerate() {
        assert_eq!(nic.device().lookup(k, 0).unwrap().flow_id, 10 + f as u32);
    }
    // A fourth: bank A's bucket has its signature, bank B's is full.
    assert!(matches!(
        nic.install_megaflow(0, &ks[3], 13, &ActionEntry::TO_HOST),
        Err(NicError::TableFull { slot: 0, .. })
    ));
    assert_eq!(nic.device().peek(&ks[3]).kind, HitKind::Miss);
}

#[test]
fn nic_over_a_boxed_trait_object() {
    let dev: Box<dyn driver::Device> = Box::new(Model::new(tiny()));
    let mut nic = Nic::open(dev).unwrap();
    let ins = nic
        .install_emc(&key(3), 3, &ActionEntry::TO_HOST, EmcPolicy::Ovs)
        .unwrap();
    assert_eq!(nic.emc_lookup(&key(3)), Some((ins.index, 3)));
    assert!(nic.register_writes() > 0);
    // 32-bit reads see the halves of a 64-bit register.
    let a = abi::regs::REG_ID.addr();
    let id = nic.device().read64(0, a).unwrap();
    assert_eq!(nic.device().read32(0, a + 4).unwrap(), (id >> 32) as u32);
    assert_eq!(nic.device().read32(0, a).unwrap(), id as u32);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Random installs and removals in one small slot (so displacement and
    /// full tables are common): after every single command of every
    /// install, each megaflow that was resident before it still hits with
    /// its flow id, and a refused install leaves the table untouched.
    #[test]
    fn no_resident_megaflow_ever_misses(ops in proptest::collection::vec((any::<bool>(), 0u64..64, 0u32..1000), 1..200)) {
        let g = Geometry {
            emc_log2_entries: 2,
            mf_slots: 1,
            mf_log2_buckets: 3,
            mf_bucket_slots: 2,
            missq_log2_depth: 2,
        };
        let mut nic = open(g);
        nic.set_mask(0, &FlowKey::ONES.hw()).unwrap();
        let mut oracle: HashMap<FlowKey, u32> = HashMap::new();
        for (install, k, f) in ops {
            let k = key(k);
            if install {
                let mut watch: Vec<(FlowKey, u32)> = oracle.iter().map(|(k, f)| (*k, *f)).collect();
                watch.retain(|(w, _)| *w != k);
                nic.device().watch = watch;
                nic.device().watch_action = Some(action_word_of);
                let before = nic.device().tables.clone();
                match nic.install_megaflow(0, &k, f, &action_of(f)) {
                    Ok(_) => {
                        oracle.insert(k, f);
                    }
                    Err(NicError::TableFull { .. }) => {
                        prop_assert!(!oracle.contains_key(&k));
                        prop_assert!(nic.device().tables == before, "nothing half-installed");
                    }
                    Err(e) => return Err(TestCaseError::fail(e.to_string())),
                }
                nic.device().watch.clear();
                let v = std::mem::take(&mut nic.device().watch_violations);
                prop_assert!(v.is_empty(), "{:?}", v);
            } else {
                prop_assert_eq!(nic.remove_megaflow(0, &k).is_ok(), oracle.remove(&k).is_some());
            }
        }
        prop_assert_eq!(nic.megaflow_len(0), oracle.len());
        for (k, f) in &oracle {
            let r = nic.device().peek(k);
            prop_assert_eq!((r.kind, r.flow_id), (HitKind::Megaflow, *f));
            prop_assert_eq!(nic.device().action_at(&r), Some(action_word_of(*f)));
        }
    }
}

#[test]
fn nic_works_through_split32_over_a_32_bit_bus() {
    // A 32-bit bus refuses 64-bit accesses: the Nic needs the wrapper.
    assert!(Nic::open(Model32::new(Model::new(tiny()))).is_err());
    let mut nic = Nic::open(Split32::new(Model32::new(Model::new(tiny())))).unwrap();
    let k = key(42);
    let ins = nic
        .install_emc(&k, 1234, &ActionEntry::TO_HOST, EmcPolicy::Ovs)
        .unwrap();
    let m = &mut nic.device().get_mut().inner;
    let r = m.lookup(&k, 0).unwrap();
    assert_eq!(
        (r.kind, r.flow_id, r.index),
        (HitKind::Emc, 1234, ins.index)
    );
    nic.set_mask(0, &mask_a()).unwrap();
    let mk = key(7);
    let mf = nic
        .install_megaflow(0, &mk, 77, &ActionEntry::TO_HOST)
        .unwrap();
    let r = nic.device().get_mut().inner.lookup(&mk, 1).unwrap();
    assert_eq!(
        (r.kind, r.flow_id, r.index),
        (HitKind::Megaflow, 77, mf.index)
    );
    let c = nic.counters().unwrap();
    assert_eq!((c.lookups, c.emc_hits, c.mf_hits), (2, 1, 1));
    // Every 64-bit access was low half, then high half of the same word.
    let log = &nic.device().get_mut().log;
    assert!(log.len() > 20 && log.len().is_multiple_of(2));
    for p in log.chunks(2) {
        assert_eq!((p[0].0, p[0].1 + 4), (p[1].0, p[1].1), "{log:?}");
    }
    // Errors of the 32-bit device come through as DeviceError.
    let mut d = Split32::new(Model32::new(Model::new(tiny())));
    assert!(
        d.read64(0, regs::REG_ID.addr() + 4).is_err(),
        "misaligned 64-bit"
    );
    assert!(
        d.write64(0, REG_WINDOW_BYTES, 0).is_err(),
        "outside the BAR"
    );
}
