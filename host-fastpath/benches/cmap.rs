//! Cuckoo map lookups (OVS test-cmap's benchmark: 25 ns per batched lookup,
//! 43–54 ns single, over 1M entries on the reference machine).
//!
//! `cmap/batched_lookup/{1K,1M}`: bursts of 32 random present keys, hashes
//! included (CRC32-C of the 64-byte key); throughput in keys.
//! `cmap/lookup/{1K,1M}`: the same keys one at a time.
//!
//! Run: `cargo bench -p host-fastpath --bench cmap`

use abi::hash::hash_masked_batch;
use abi::{hash_key, FlowKey};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fastpath::dpcls::Cmap;
use fastpath::BURST;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::hint::black_box;
use std::time::Duration;

fn random_key(rng: &mut StdRng) -> FlowKey {
    let mut k = FlowKey::ZERO;
    for w in k.words.iter_mut() {
        *w = rng.gen();
    }
    k
}

/// A map of `n` random keys, and 64K probe keys drawn from them at random
/// (so consecutive lookups touch unrelated cache lines).
fn setup(n: usize) -> (Cmap, Vec<FlowKey>) {
    let mut rng = StdRng::seed_from_u64(n as u64);
    let keys: Vec<FlowKey> = (0..n).map(|_| random_key(&mut rng)).collect();
    let m = Cmap::new();
    for (i, k) in keys.iter().enumerate() {
        m.insert(hash_key(k), k, i as u32)
            .expect("bench map insert");
    }
    let probes = (0..65536).map(|_| keys[rng.gen_range(0..n)]).collect();
    (m, probes)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("cmap");
    g.measurement_time(Duration::from_secs(4));
    for (name, n) in [("1K", 1000usize), ("1M", 1 << 20)] {
        let (m, probes) = setup(n);
        g.throughput(Throughput::Elements(BURST as u64));
        g.bench_function(BenchmarkId::new("batched_lookup", name), |b| {
            let mut at = 0;
            let mut hashes = [0u32; BURST];
            let mut out = [None; BURST];
            b.iter(|| {
                let keys = &probes[at..at + BURST];
                at = (at + BURST) % probes.len();
                hash_masked_batch(keys, &FlowKey::ONES, &mut hashes);
                let found = m.get_batch(keys, &FlowKey::ONES, &hashes, u32::MAX, &mut out);
                black_box((found, &out));
            })
        });
        g.throughput(Throughput::Elements(1));
        g.bench_function(BenchmarkId::new("lookup", name), |b| {
            let mut at = 0;
            b.iter(|| {
                let k = &probes[at];
                at = (at + 1) % probes.len();
                black_box(m.get(hash_key(k), k))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
