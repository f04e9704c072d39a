//! Readers look up continuously while a writer inserts, displaces, grows,
//! shrinks, replaces and deletes. Every value found must be the one its key
//! maps to (values are a function of the key, so a torn or stale entry shows
//! up), and keys present throughout must always be found.
//!
//! Runs ~1 s per test by default; `FASTPATH_LONG=1` runs 20 s.

use abi::{hash_key, Field, FlowKey};
use fastpath::dpcls::cmap::Cmap;
use fastpath::dpcls::Dpcls;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

fn run_time() -> Duration {
    if std::env::var("FASTPATH_LONG").is_ok_and(|v| v == "1") {
        Duration::from_secs(20)
    } else {
        Duration::from_millis(1000)
    }
}

/// Key `id`. The multiplication makes the CRC (linear over GF(2)) of
/// consecutive ids behave like random hashes, so buckets overflow and the
/// writer has to displace.
fn key(id: u32) -> FlowKey {
    let mix = (id as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    FlowKey::from_hw_words(&[id as u64, 0x1111, 0, 0, 0, 0, 0, mix])
}

fn value_of(id: u32) -> u32 {
    id.wrapping_mul(0x9e37_79b1) ^ 0x5bd1_e995
}

const STABLE: u32 = 2000;
const CHURN: u32 = 25_000;
const READERS: usize = 2;

fn cmap_under_churn(hash: fn(&FlowKey) -> u32, expect_shrinks: bool) {
    let m = Arc::new(Cmap::new());
    for id in 0..STABLE {
        let k = key(id);
        m.insert(hash(&k), &k, value_of(id)).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let checks = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..READERS)
        .map(|r| {
            let (m, stop, checks) = (m.clone(), stop.clone(), checks.clone());
            thread::spawn(move || {
                let mut base = r as u32 * 977;
                let mut n = 0u64;
                let mut out = [None; 32];
                while !stop.load(Relaxed) {
                    // Stable keys: always found, with their value.
                    let ids: Vec<u32> = (0..32).map(|i| (base + i * 61) % STABLE).collect();
                    let keys: Vec<FlowKey> = ids.iter().map(|&i| key(i)).collect();
                    let hashes: Vec<u32> = keys.iter().map(hash).collect();
                    out.fill(None);
                    let found = m.get_batch(&keys, &FlowKey::ONES, &hashes, u32::MAX, &mut out);
                    assert_eq!(found, u32::MAX, "stable keys missed: {:032b}", !found);
                    for (i, &id) in ids.iter().enumerate() {
                        assert_eq!(out[i], Some(value_of(id)), "stable key {id}");
                    }
                    let id = base % STABLE;
                    assert_eq!(m.get(hash(&key(id)), &key(id)), Some(value_of(id)));
                    // Churning keys: present or not, never a wrong value.
                    let ids: Vec<u32> = (0..32).map(|i| STABLE + (base + i * 7) % CHURN).collect();
                    let keys: Vec<FlowKey> = ids.iter().map(|&i| key(i)).collect();
                    let hashes: Vec<u32> = keys.iter().map(hash).collect();
                    out.fill(None);
                    let found = m.get_batch(&keys, &FlowKey::ONES, &hashes, u32::MAX, &mut out);
                    for (i, &id) in ids.iter().enumerate() {
                        if found >> i & 1 == 1 {
                            assert_eq!(out[i], Some(value_of(id)), "churn key {id}");
                        } else {
                            assert_eq!(out[i], None);
                        }
                    }
                    base = base.wrapping_add(13);
                    n += 1;
                }
                checks.fetch_add(n, Relaxed);
            })
        })
        .collect();

    let deadline = Instant::now() + run_time();
    let mut rounds = 0;
    while Instant::now() < deadline || rounds < 2 {
        // Fill (grows, displaces), replace some, delete interleaved with
        // re-inserts (entry indexes are reused at once), drain (shrinks).
        for id in STABLE..STABLE + CHURN {
            let k = key(id);
            assert_eq!(m.insert(hash(&k), &k, value_of(id)), Ok(None));
            if id % 5 == 0 {
                let old = STABLE + (id - STABLE) / 2;
                let k = key(old);
                assert!(m.remove(hash(&k), &k).is_some());
                assert_eq!(m.insert(hash(&k), &k, value_of(old)), Ok(None));
            }
        }
        for id in (STABLE..STABLE + CHURN).step_by(3) {
            let k = key(id);
            assert_eq!(m.insert(hash(&k), &k, value_of(id)), Ok(Some(value_of(id))));
        }
        for id in (STABLE..STABLE + CHURN).rev() {
            let k = key(id);
            assert_eq!(m.remove(hash(&k), &k), Some(value_of(id)));
        }
        rounds += 1;
    }
    stop.store(true, Relaxed);
    for r in readers {
        r.join().expect("reader saw a wrong or missing entry");
    }
    assert_eq!(m.len(), STABLE as usize);
    let st = m.writer_stats();
    assert!(st.grows > 0 && st.moves > 0, "{st:?}");
    if expect_shrinks {
        assert!(st.shrinks > 0, "{st:?}");
    }
    assert!(checks.load(Relaxed) > 0);
}

#[test]
fn cmap_readers_never_see_wrong_or_missing_entries() {
    cmap_under_churn(hash_key, true);
}

#[test]
fn cmap_readers_with_chained_hashes() {
    // 4096 distinct hashes (both candidate buckets still vary): chains of
    // about 7 keys, removals from chain middles. The stable keys alone keep
    // the load above the shrink threshold.
    cmap_under_churn(|k| (hash_key(k) & 0xfff).wrapping_mul(0x9e37_79b1), false);
}

/// A key ping-pongs between its two buckets (cuckoo displacement in both
/// directions) while readers look it up: it must never be missed. Hashes are
/// chosen by hand: `c1 << 16 | n << 4 | c0` has candidates c0 and c1 in a
/// 16-bucket table.
#[test]
fn cmap_readers_never_miss_a_key_being_displaced() {
    let m = Arc::new(Cmap::with_capacity(60));
    assert_eq!(m.buckets(), 16);
    let mut n = 0u32;
    let mut h = |c0: u32, c1: u32| {
        n += 1;
        (c1 << 16) | (n << 4) | c0
    };
    let ins = |m: &Cmap, hash: u32| {
        assert_eq!(m.insert(hash, &key(hash), value_of(hash)), Ok(None));
    };
    for _ in 0..5 {
        ins(&m, h(8, 8)); // fill bucket 8, no alternate
        ins(&m, h(9, 9)); // fill bucket 9, no alternate
    }
    let s = h(0, 1);
    ins(&m, s); // bucket 0
    for _ in 0..4 {
        ins(&m, h(0, 8)); // bucket 0 full, alternate full
        ins(&m, h(1, 9)); // bucket 1: 4 of 5, alternate full
    }
    let t0 = h(0, 8);
    let t1 = h(1, 9);

    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..READERS)
        .map(|r| {
            let (m, stop) = (m.clone(), stop.clone());
            thread::spawn(move || {
                let keys = [key(s); 32];
                let hashes = [s; 32];
                let mut out = [None; 32];
                let mut n = 0u64;
                while !stop.load(Relaxed) {
                    if r == 0 {
                        assert_eq!(m.get(s, &key(s)), Some(value_of(s)), "displaced key missed");
                    } else {
                        let found = m.get_batch(&keys, &FlowKey::ONES, &hashes, u32::MAX, &mut out);
                        assert_eq!(found, u32::MAX, "displaced key missed in a batch");
                    }
                    n += 1;
                }
                n
            })
        })
        .collect();
    let deadline = Instant::now() + run_time();
    let mut cycles = 0u64;
    while Instant::now() < deadline || cycles < 10 {
        // Both candidates of t0 are full: S moves from bucket 0 to 1.
        ins(&m, t0);
        assert_eq!(m.remove(t0, &key(t0)), Some(value_of(t0)));
        // Both candidates of t1 are full: S moves back from 1 to 0.
        ins(&m, t1);
        assert_eq!(m.remove(t1, &key(t1)), Some(value_of(t1)));
        cycles += 1;
    }
    stop.store(true, Relaxed);
    for r in readers {
        assert!(r.join().expect("reader missed the displaced key") > 0);
    }
    let st = m.writer_stats();
    assert_eq!(st.moves, 2 * cycles, "{st:?}");
    assert_eq!((st.grows, st.shrinks), (0, 0), "{st:?}");
}

// ---------------------------------------------------------------------------

fn flow_key(port: u32, dl_type: u16, field: Field, v: u64) -> FlowKey {
    FlowKey::ZERO
        .with(Field::InPort, port as u64)
        .with(Field::DlType, dl_type as u64)
        .with(field, v)
}

fn flow_mask(field: Field) -> FlowKey {
    FlowKey::ZERO
        .with(Field::InPort, u32::MAX as u64)
        .with(Field::DlType, 0xffff)
        .with(field, u64::MAX)
}

/// Churn masks: distinct dl_types, so no two megaflows ever overlap.
const CHURN_MASKS: [(u16, Field); 3] = [
    (0x86dd, Field::NwSrc),
    (0x0806, Field::TpDst),
    (0x8847, Field::DlSrc),
];

#[test]
fn dpcls_readers_while_subtables_come_and_go() {
    let d = Arc::new(Dpcls::new());
    let stable_mask = flow_mask(Field::NwDst);
    for id in 0..500u32 {
        d.insert(
            &stable_mask,
            &flow_key(1, 0x0800, Field::NwDst, id as u64),
            id,
        )
        .unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..READERS)
        .map(|r| {
            let (d, stop) = (d.clone(), stop.clone());
            thread::spawn(move || {
                let mut base = r as u32 * 31;
                let mut out = [None; 32];
                let mut n = 0u64;
                while !stop.load(Relaxed) {
                    // Mixed burst: stable keys on port 1 and churn keys on
                    // ports 1 and 2.
                    let mut keys = Vec::with_capacity(32);
                    for i in 0..16u32 {
                        keys.push(flow_key(1, 0x0800, Field::NwDst, ((base + i) % 500) as u64));
                    }
                    for i in 0..16u32 {
                        let (t, f) = CHURN_MASKS[(i % 3) as usize];
                        keys.push(flow_key(1 + i % 2, t, f, ((base + i) % 300) as u64));
                    }
                    let found = d.lookup_batch(&keys, &mut out);
                    for (i, o) in out.iter().enumerate() {
                        let j = i as u32 % 16;
                        if i < 16 {
                            assert_eq!(*o, Some((base + j) % 500), "stable flow");
                        } else {
                            let want = ((1 + j % 2) << 28) | ((j % 3) << 24) | ((base + j) % 300);
                            assert!(o.is_none() || *o == Some(want), "churn flow");
                        }
                        assert_eq!(found >> i & 1 == 1, o.is_some());
                    }
                    base = base.wrapping_add(7);
                    n += 1;
                }
                n
            })
        })
        .collect();

    let deadline = Instant::now() + run_time();
    let mut rounds = 0u32;
    while Instant::now() < deadline || rounds < 2 {
        for (mi, &(t, f)) in CHURN_MASKS.iter().enumerate() {
            for port in [1u32, 2] {
                for v in 0..300u32 {
                    let id = (port << 28) | ((mi as u32) << 24) | v;
                    d.insert(&flow_mask(f), &flow_key(port, t, f, v as u64), id)
                        .unwrap();
                }
            }
            d.rank();
        }
        assert_eq!(d.mask_count(), 4);
        for (t, f) in CHURN_MASKS {
            for port in [1u32, 2] {
                for v in 0..300u32 {
                    assert!(d
                        .remove(&flow_mask(f), &flow_key(port, t, f, v as u64))
                        .is_some());
                }
            }
            d.maybe_rank(Instant::now());
        }
        assert_eq!((d.mask_count(), d.flow_count()), (1, 500));
        rounds += 1;
    }
    stop.store(true, Relaxed);
    for r in readers {
        let n = r.join().expect("reader saw a wrong or missing flow");
        assert!(n > 0);
    }
}
