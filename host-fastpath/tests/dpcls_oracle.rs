//! The classifier against a naive oracle: "for each megaflow, key & mask ==
//! masked key" over random masks, non-overlapping random megaflows and random
//! keys, with removals (down to whole subtables), re-ranking between bursts
//! and several in_ports.

use abi::{Field, FlowKey, KEY_WORDS};
use fastpath::dpcls::{Dpcls, DpclsError};
use fastpath::FlowId;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Copy)]
struct Rule {
    mask: FlowKey,
    masked: FlowKey,
    flow: FlowId,
}

fn overlaps(a: &Rule, b: &Rule) -> bool {
    (0..KEY_WORDS)
        .all(|i| (a.masked.words[i] ^ b.masked.words[i]) & a.mask.words[i] & b.mask.words[i] == 0)
}

fn prefix32(len: u32) -> u64 {
    if len == 0 {
        0
    } else {
        (u32::MAX << (32 - len)) as u64
    }
}

fn random_mask(rng: &mut StdRng) -> FlowKey {
    let mut m = FlowKey::ZERO
        .with(Field::InPort, u32::MAX as u64)
        .with(Field::DlType, 0xffff);
    if rng.gen_bool(0.6) {
        m.set(
            Field::NwSrc,
            prefix32([8, 16, 24, 30, 32][rng.gen_range(0..5)]),
        );
    }
    if rng.gen_bool(0.6) {
        m.set(
            Field::NwDst,
            prefix32([8, 16, 24, 30, 32][rng.gen_range(0..5)]),
        );
    }
    if rng.gen_bool(0.5) {
        m.set(Field::NwProto, 0xff);
    }
    for f in [Field::TpSrc, Field::TpDst] {
        if rng.gen_bool(0.4) {
            m.set(f, [0xffff, 0xfff0, 0xff00, 0x8000][rng.gen_range(0..4)]);
        }
    }
    if rng.gen_bool(0.2) {
        m.set(Field::NwTos, 0xfc);
    }
    if rng.gen_bool(0.1) {
        m.set(Field::DlSrc, 0xffff_ffff_ffff);
    }
    m
}

/// A key from small value domains, so rules and keys collide often.
fn random_key(rng: &mut StdRng, ports: u32) -> FlowKey {
    FlowKey::ZERO
        .with(Field::InPort, rng.gen_range(1..=ports) as u64)
        .with(Field::DlType, [0x0800, 0x86dd][rng.gen_range(0..2)])
        .with(
            Field::NwSrc,
            0x0a00_0000 | rng.gen_range(0..4) << 16 | rng.gen_range(0..6),
        )
        .with(
            Field::NwDst,
            0xc0a8_0000 | rng.gen_range(0..3) << 8 | rng.gen_range(0..6),
        )
        .with(Field::NwProto, [6, 17][rng.gen_range(0..2)])
        .with(Field::TpSrc, rng.gen_range(0..20))
        .with(Field::TpDst, [80, 443, 53, 0x8001][rng.gen_range(0..4)])
        .with(Field::NwTos, rng.gen_range(0..4) << 2)
        .with(Field::DlSrc, rng.gen_range(0..3))
        .with(Field::NwTtl, rng.gen())
}

struct Oracle {
    rules: BTreeMap<FlowId, Rule>,
}

impl Oracle {
    fn lookup(&self, k: &FlowKey) -> Option<FlowId> {
        let mut hit = None;
        for r in self.rules.values() {
            if k.matches(&r.mask, &r.masked) {
                assert!(hit.is_none(), "generator made overlapping megaflows");
                hit = Some(r.flow);
            }
        }
        hit
    }

    fn masks(&self) -> HashMap<FlowKey, usize> {
        let mut m = HashMap::new();
        for r in self.rules.values() {
            *m.entry(r.mask).or_insert(0) += 1;
        }
        m
    }
}

fn check_lookups(d: &Dpcls, o: &Oracle, rng: &mut StdRng, ports: u32) -> (u64, u64) {
    let (mut lookups, mut hits) = (0, 0);
    let installed: Vec<Rule> = o.rules.values().copied().collect();
    for _ in 0..6 {
        let n = rng.gen_range(1..=32);
        let keys: Vec<FlowKey> = (0..n)
            .map(|_| {
                let k = random_key(rng, ports);
                if !installed.is_empty() && rng.gen_bool(0.7) {
                    // A key inside a random rule: wildcarded bits random.
                    let r = &installed[rng.gen_range(0..installed.len())];
                    let mut out = FlowKey::ZERO;
                    for i in 0..KEY_WORDS {
                        out.words[i] = (k.words[i] & !r.mask.words[i]) | r.masked.words[i];
                    }
                    out
                } else {
                    k
                }
            })
            .collect();
        let mut out = vec![Some(u32::MAX); n];
        let found = d.lookup_batch(&keys, &mut out);
        for (i, k) in keys.iter().enumerate() {
            let want = o.lookup(k);
            assert_eq!(out[i], want, "burst key {i}: {k:?}");
            assert_eq!(found >> i & 1 == 1, want.is_some());
            hits += want.is_some() as u64;
        }
        assert_eq!(d.lookup(&keys[0]), o.lookup(&keys[0]));
        hits += o.lookup(&keys[0]).is_some() as u64;
        lookups += n as u64 + 1;
    }
    (lookups, hits)
}

fn check_contents(d: &Dpcls, o: &Oracle) {
    assert_eq!(d.flow_count(), o.rules.len());
    let masks = o.masks();
    assert_eq!(d.mask_count(), masks.len());
    let listed: HashMap<FlowKey, usize> = d.masks().into_iter().map(|(m, _, n)| (m, n)).collect();
    assert_eq!(listed, masks);
    let mut seen = BTreeMap::new();
    d.for_each_flow(|m, k, f| {
        assert!(seen.insert(f, (*m, *k)).is_none());
    });
    let want: BTreeMap<FlowId, (FlowKey, FlowKey)> = o
        .rules
        .values()
        .map(|r| (r.flow, (r.mask, r.masked)))
        .collect();
    assert_eq!(seen, want);
}

fn run(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let ports = rng.gen_range(1..=3);
    let masks: Vec<FlowKey> = (0..rng.gen_range(1..=10))
        .map(|_| random_mask(&mut rng))
        .collect();
    let d = Dpcls::new();
    let mut o = Oracle {
        rules: BTreeMap::new(),
    };
    let (mut lookups, mut hits) = (0u64, 0u64);
    let mut next_flow = 0;
    for step in 0..40 {
        match rng.gen_range(0..10) {
            0..=4 => {
                // Insert a batch of non-overlapping rules.
                for _ in 0..rng.gen_range(1..30) {
                    let mask = masks[rng.gen_range(0..masks.len())];
                    let key = random_key(&mut rng, ports);
                    let r = Rule {
                        mask,
                        masked: key.masked(&mask),
                        flow: next_flow,
                    };
                    if let Some(e) = o
                        .rules
                        .values()
                        .find(|e| e.mask == r.mask && e.masked == r.masked)
                    {
                        assert_eq!(
                            d.insert(&mask, &key, next_flow),
                            Err(DpclsError::Duplicate { existing: e.flow })
                        );
                        continue;
                    }
                    if o.rules.values().any(|e| overlaps(e, &r)) {
                        continue;
                    }
                    d.insert(&mask, &key, next_flow).unwrap();
                    o.rules.insert(next_flow, r);
                    next_flow += 1;
                }
            }
            5 | 6 => {
                // Remove random rules.
                let ids: Vec<FlowId> = o.rules.keys().copied().collect();
                for _ in 0..rng.gen_range(0..8).min(ids.len()) {
                    let id = ids[rng.gen_range(0..ids.len())];
                    if let Some(r) = o.rules.remove(&id) {
                        assert_eq!(d.remove(&r.mask, &r.masked), Some(id));
                    }
                    assert_eq!(d.remove(&FlowKey::ONES, &FlowKey::ZERO), None);
                }
            }
            7 => {
                // Remove every rule of one mask: its subtables disappear.
                let mask = masks[rng.gen_range(0..masks.len())];
                let ids: Vec<FlowId> = o
                    .rules
                    .values()
                    .filter(|r| r.mask == mask)
                    .map(|r| r.flow)
                    .collect();
                for id in ids {
                    let r = o.rules.remove(&id).unwrap();
                    assert_eq!(d.remove(&r.mask, &r.masked), Some(id));
                }
                assert!(d.masks().iter().all(|(m, _, _)| *m != mask));
            }
            _ => d.rank(),
        }
        check_contents(&d, &o);
        let (l, h) = check_lookups(&d, &o, &mut rng, ports);
        lookups += l;
        hits += h;
        if step % 7 == 0 {
            d.rank();
        }
    }
    let s = d.stats();
    assert_eq!(
        (s.lookups, s.hits, s.misses),
        (lookups, hits, lookups - hits)
    );
    assert!(s.subtable_lookups >= s.hits);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn classifier_matches_oracle(seed in any::<u64>()) {
        run(seed);
    }
}

/// Ranking puts the busiest subtable first, and lookups then stop there.
#[test]
fn ranking_orders_by_recent_hits() {
    let d = Dpcls::new();
    let base = FlowKey::ZERO
        .with(Field::InPort, 5)
        .with(Field::DlType, 0x0800);
    let m = |f: Field| {
        FlowKey::ZERO
            .with(Field::InPort, u32::MAX as u64)
            .with(Field::DlType, 0xffff)
            .with(f, 0xffff)
    };
    let (ma, mb, mc) = (m(Field::TpSrc), m(Field::TpDst), m(Field::NwTtl));
    // Disjoint by construction: A needs tp_src 1, B tp_dst 2, C ttl 3, and
    // the keys below set only one of them.
    d.insert(&ma, &base.with(Field::TpSrc, 1), 10).unwrap();
    d.insert(&mb, &base.with(Field::TpDst, 2), 20).unwrap();
    d.insert(&mc, &base.with(Field::NwTtl, 3), 30).unwrap();
    assert_eq!(d.ranked_masks(5), vec![ma, mb, mc]);
    let kc = [base.with(Field::NwTtl, 3); 32];
    let kb = [base.with(Field::TpDst, 2); 16];
    let mut out = [None; 32];
    assert_eq!(d.lookup_batch(&kc, &mut out), u32::MAX);
    assert_eq!(d.lookup_batch(&kb, &mut out[..16]), 0xffff);
    assert_eq!(d.stats().subtable_lookups, 32 * 3 + 16 * 2);
    d.rank();
    assert_eq!(d.ranked_masks(5), vec![mc, mb, ma]);
    let before = d.stats().subtable_lookups;
    let mut mine = 5;
    assert_eq!(d.lookup_batch_counted(&kc, &mut out, &mut mine), u32::MAX);
    assert_eq!(d.stats().subtable_lookups - before, 32);
    assert_eq!(mine, 5 + 32);
    assert!(out.iter().all(|&o| o == Some(30)));
    // The next interval counts afresh: B (64 hits) now beats C (32).
    for _ in 0..4 {
        assert_eq!(d.lookup_batch(&kb, &mut out[..16]), 0xffff);
    }
    d.rank();
    assert_eq!(d.ranked_masks(5), vec![mb, mc, ma]);
    // Cumulative hits per mask for the offload manager.
    let hits: HashMap<FlowKey, u64> = d.masks().into_iter().map(|(m, h, _)| (m, h)).collect();
    assert_eq!((hits[&ma], hits[&mb], hits[&mc]), (0, 80, 64));
    assert_eq!(d.masks()[0].0, mb);
    // maybe_rank waits for the interval.
    let t = std::time::Instant::now();
    assert!(!d.maybe_rank(t));
    assert!(d.maybe_rank(t + fastpath::dpcls::RANK_INTERVAL));
}

/// The same masked key under two masks is two megaflows.
#[test]
fn identity_is_mask_plus_masked_key() {
    let d = Dpcls::new();
    let k = FlowKey::ZERO
        .with(Field::InPort, 1)
        .with(Field::DlType, 0x0800);
    let m1 = FlowKey::ZERO
        .with(Field::InPort, u32::MAX as u64)
        .with(Field::DlType, 0xffff);
    let m2 = m1.with(Field::NwProto, 0xff);
    d.insert(&m1, &k, 1).unwrap();
    d.insert(&m2, &k, 2).unwrap();
    assert_eq!((d.flow_count(), d.mask_count()), (2, 2));
    assert_eq!(d.remove(&m2, &k), Some(2));
    assert_eq!(d.lookup(&k.with(Field::NwProto, 0)), Some(1));
    assert_eq!(d.remove(&m2, &k), None);
    assert_eq!(d.remove(&m1, &k), Some(1));
    assert_eq!(d.stats().masks, 0);
}
