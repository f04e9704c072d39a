//! The cuckoo map against a reference `BTreeMap`, under an identity hash, a
//! good hash and a constant hash (every key in one chain).

use abi::{hash_key, FlowKey};
use fastpath::dpcls::cmap::{Cmap, BUCKET_SLOTS, GROW_PERCENT, MIN_LOG2, SHRINK_PERCENT};
use proptest::prelude::*;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HashKind {
    /// Low 32 bits of word 0: candidate buckets are bits of the key id.
    Identity,
    Good,
    Constant,
}

fn hash(kind: HashKind, k: &FlowKey) -> u32 {
    match kind {
        HashKind::Identity => k.words[0] as u32,
        HashKind::Good => hash_key(k),
        HashKind::Constant => 0x5a5a_5a5a,
    }
}

/// Key `id`: word 7 stays zero so lookups can carry junk there under a mask.
fn key(id: u32) -> FlowKey {
    FlowKey::from_hw_words(&[id as u64, 0xfeed, id as u64 * 7, 0, 0, 0, 0, 0])
}

/// Mask that ignores word 7.
fn mask7() -> FlowKey {
    let mut m = FlowKey::ONES;
    m.words[7] = 0;
    m
}

#[derive(Clone, Debug)]
enum Op {
    Insert(u32, u32),
    InsertUnique(u32, u32),
    Remove(u32),
}

fn op(universe: u32) -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..universe, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        1 => (0..universe, any::<u32>()).prop_map(|(k, v)| Op::InsertUnique(k, v)),
        3 => (0..universe).prop_map(Op::Remove),
    ]
}

/// Every observable view of `m` agrees with `r` for keys `0..universe`.
fn check(kind: HashKind, m: &Cmap, r: &BTreeMap<u32, u32>, universe: u32, junk: u64) {
    assert_eq!(m.len(), r.len());
    for id in 0..universe {
        let k = key(id);
        assert_eq!(m.get(hash(kind, &k), &k), r.get(&id).copied(), "get {id}");
    }
    // Batches with junk in the masked-out word.
    let ids: Vec<u32> = (0..universe).collect();
    for chunk in ids.chunks(32) {
        let keys: Vec<FlowKey> = chunk
            .iter()
            .map(|&id| {
                let mut k = key(id);
                k.words[7] = junk ^ id as u64;
                k
            })
            .collect();
        let hashes: Vec<u32> = chunk.iter().map(|&id| hash(kind, &key(id))).collect();
        let mut out = vec![None; keys.len()];
        let map = if keys.len() == 32 {
            u32::MAX
        } else {
            (1 << keys.len()) - 1
        };
        let found = m.get_batch(&keys, &mask7(), &hashes, map, &mut out);
        // With the abi hash the map can hash the keys itself.
        let hashing = (kind == HashKind::Good).then(|| {
            let mut out2 = vec![None; keys.len()];
            (m.get_batch_hashing(&keys, &mask7(), map, &mut out2), out2)
        });
        for (i, &id) in chunk.iter().enumerate() {
            let want = r.get(&id).copied();
            assert_eq!(found >> i & 1 == 1, want.is_some(), "batch bit {id}");
            if want.is_some() {
                assert_eq!(out[i], want, "batch value {id}");
            }
            if let Some((found2, out2)) = &hashing {
                assert_eq!(found2 >> i & 1 == 1, want.is_some(), "hashing bit {id}");
                assert_eq!(out2[i], want, "hashing value {id}");
            }
        }
    }
    let mut seen = BTreeMap::new();
    m.for_each(|k, v| {
        let id = k.words[0] as u32;
        assert_eq!(*k, key(id));
        assert!(seen.insert(id, v).is_none(), "key {id} twice");
    });
    assert_eq!(&seen, r);
}

fn run(kind: HashKind, ops: &[Op], universe: u32, junk: u64) {
    let m = Cmap::new();
    let mut r = BTreeMap::new();
    for op in ops {
        match *op {
            Op::Insert(id, v) => {
                let k = key(id);
                assert_eq!(m.insert(hash(kind, &k), &k, v), Ok(r.insert(id, v)));
            }
            Op::InsertUnique(id, v) => {
                let k = key(id);
                let want = r.get(&id).copied();
                assert_eq!(m.insert_unique(hash(kind, &k), &k, v), Ok(want));
                r.entry(id).or_insert(v);
            }
            Op::Remove(id) => {
                let k = key(id);
                assert_eq!(m.remove(hash(kind, &k), &k), r.remove(&id));
            }
        }
        check(kind, &m, &r, universe, junk);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn identity_hash_matches_reference(ops in proptest::collection::vec(op(150), 1..250), junk in any::<u64>()) {
        run(HashKind::Identity, &ops, 150, junk);
    }

    #[test]
    fn good_hash_matches_reference(ops in proptest::collection::vec(op(150), 1..250), junk in any::<u64>()) {
        run(HashKind::Good, &ops, 150, junk);
    }

    #[test]
    fn constant_hash_matches_reference(ops in proptest::collection::vec(op(60), 1..150), junk in any::<u64>()) {
        run(HashKind::Constant, &ops, 60, junk);
    }
}

#[test]
fn constant_hash_uses_one_slot() {
    let m = Cmap::new();
    for id in 0..200 {
        m.insert(0x77, &key(id), id).unwrap();
    }
    // One slot in use: never above the growth threshold.
    assert_eq!(m.buckets(), 1 << MIN_LOG2);
    for id in (0..200).step_by(3) {
        assert_eq!(m.remove(0x77, &key(id)), Some(id));
    }
    for id in 0..200 {
        let want = (id % 3 != 0).then_some(id);
        assert_eq!(m.get(0x77, &key(id)), want);
    }
}

/// Grows across the 85 % threshold and shrinks across the 20 % one, with
/// every key findable at every step.
#[test]
fn grows_and_shrinks_across_thresholds() {
    for kind in [HashKind::Good, HashKind::Identity] {
        let m = Cmap::new();
        let n = 20_000u32;
        let mut buckets = m.buckets();
        let mut grows = 0;
        for id in 0..n {
            let k = key(id);
            m.insert(hash(kind, &k), &k, id ^ 0xabcd).unwrap();
            let b = m.buckets();
            if b != buckets {
                grows += 1;
                // Growth happens when the load would pass 85 % (or when a
                // cuckoo path is not found, which only happens near it).
                assert!(b > buckets);
                let load = (id as usize + 1) * 100 / (buckets * BUCKET_SLOTS);
                assert!(load >= 50, "{kind:?}: grew at {load} % load");
                buckets = b;
            }
            assert!(
                (id as usize + 1) * 100 <= buckets * BUCKET_SLOTS * GROW_PERCENT,
                "{kind:?}: load above the threshold"
            );
        }
        assert!(grows >= 10, "{kind:?}: {grows} growths");
        if matches!(kind, HashKind::Good) {
            assert!(m.writer_stats().moves > 0, "cuckoo displaced nothing");
        }
        for id in 0..n {
            let k = key(id);
            assert_eq!(m.get(hash(kind, &k), &k), Some(id ^ 0xabcd));
        }
        let mut shrinks = 0;
        for id in 0..n {
            let k = key(id);
            assert_eq!(m.remove(hash(kind, &k), &k), Some(id ^ 0xabcd));
            let b = m.buckets();
            if b != buckets {
                shrinks += 1;
                assert!(b < buckets);
                buckets = b;
            }
            let left = (n - id - 1) as usize;
            if buckets > 1 << MIN_LOG2 {
                assert!(
                    left * 100 >= buckets * BUCKET_SLOTS * SHRINK_PERCENT,
                    "{kind:?}: {left} keys in {buckets} buckets, not shrunk"
                );
            }
            if id % 997 == 0 {
                for j in (id + 1..n).step_by(13) {
                    let k = key(j);
                    assert_eq!(m.get(hash(kind, &k), &k), Some(j ^ 0xabcd));
                }
            }
        }
        assert!(shrinks >= 10, "{kind:?}: {shrinks} shrinks");
        assert_eq!(m.buckets(), 1 << MIN_LOG2);
        assert!(m.is_empty());
    }
}

/// Keys whose both candidates are full force two-step cuckoo paths.
#[test]
fn displacement_chains() {
    // 64 buckets in two banks of 32 (abi::geometry::cuckoo_buckets). Hash
    // = c1 << 16 | n << 6 | c0 puts key n in bucket c0 of bank A and
    // 32 + c1 of bank B. Group 0 fills A 4..8 (alternates B 40..60), group
    // 1 fills B 36..40 (alternates A 4..8, full), group 2 fills A 0..4
    // (alternates B 36..40, full); group 3 keys have both candidates full,
    // so each needs the path A 0..4 → B 36..40 → A 4..8 → B 40..60.
    let m = Cmap::with_capacity(250);
    assert_eq!(m.buckets(), 64);
    let mut hashes = Vec::new();
    let mut n = 0u32;
    let mut h = |c0: u32, c1: u32| {
        n += 1;
        (c1 << 16) | (n << 6) | c0
    };
    for j in 0..20 {
        hashes.push(h(4 + j % 4, 8 + j));
    }
    for j in 0..20 {
        hashes.push(h(4 + j % 4, 4 + j % 4));
    }
    for j in 0..20 {
        hashes.push(h(j % 4, 4 + j % 4));
    }
    for j in 0..10 {
        hashes.push(h(j % 4, 4 + (j + 1) % 4));
    }
    let kind = HashKind::Identity;
    for (i, &id) in hashes.iter().enumerate() {
        let k = key(id);
        assert_eq!(m.insert(hash(kind, &k), &k, id), Ok(None));
        for &j in &hashes[..=i] {
            let k = key(j);
            assert_eq!(m.get(hash(kind, &k), &k), Some(j), "after inserting #{i}");
        }
    }
    let st = m.writer_stats();
    assert_eq!((st.grows, st.failed_placements), (0, 0), "{st:?}");
    assert!(st.moves >= 20, "{st:?}");
    assert_eq!(m.len(), hashes.len());
}

/// Batch lookups in a map large enough (≥ 16K buckets) for
/// `get_batch_hashing` to fetch buckets while it hashes, with partial maps,
/// absent keys and junk in masked-out bits.
#[test]
fn large_map_batches() {
    let kind = HashKind::Good;
    let m = Cmap::new();
    let n = 40_000u32;
    for id in 0..n {
        let k = key(id);
        m.insert(hash(kind, &k), &k, id.wrapping_mul(3)).unwrap();
    }
    assert!(m.buckets() >= 1 << 14, "{} buckets", m.buckets());
    let mut rng = 0x1234_5678u64;
    for round in 0..500u32 {
        let mut keys = [FlowKey::ZERO; 32];
        let mut hashes = [0u32; 32];
        let mut ids = [0u32; 32];
        for i in 0..32 {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // About one in four absent.
            ids[i] = (rng >> 33) as u32 % (n + n / 3);
            keys[i] = key(ids[i]);
            hashes[i] = hash(kind, &keys[i]);
            keys[i].words[7] = rng;
        }
        let map = if round % 2 == 0 {
            u32::MAX
        } else {
            (rng >> 7) as u32
        };
        let mut out = [None; 32];
        let found = m.get_batch(&keys, &mask7(), &hashes, map, &mut out);
        // The same burst, hashed by the map itself (fetches start as each
        // hash is ready).
        let mut out2 = [None; 32];
        let found2 = m.get_batch_hashing(&keys, &mask7(), map, &mut out2);
        for i in 0..32 {
            let want = (map >> i & 1 == 1 && ids[i] < n).then(|| ids[i].wrapping_mul(3));
            assert_eq!(found >> i & 1 == 1, want.is_some(), "round {round} key {i}");
            assert_eq!(out[i], want, "round {round} key {i}");
            assert_eq!(
                found2 >> i & 1 == 1,
                want.is_some(),
                "hashing: round {round} key {i}"
            );
            assert_eq!(out2[i], want, "hashing: round {round} key {i}");
        }
    }
}
