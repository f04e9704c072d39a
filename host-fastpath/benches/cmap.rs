//! Cuckoo map lookups (OVS test-cmap's benchmark: 25 ns per batched lookup,
//! 43–54 ns single, over 1M entries on the reference machine).
//!
//! `cmap/batched_lookup/{1K,1M}`: bursts of 32 random present keys, hashes
//! included (CRC32-C of the 64-byte key); throughput in keys.
//! `cmap/lookup/{1K,1M}`: the same keys one at a time.
//! `cmap/batched_lookup/1M_hot`: 2K of those probes (all lines cached: the
//! cost of the work); `cmap/batched_lookup/1M_cold`: every key once per pass
//! in random order (every line from DRAM); `cmap/batched_lookup/1M_miss`: 64K
//! absent keys; `cmap/batched_lookup/1M_insertion_order`: every key once per
//! pass in the order inserted — the access order of OVS's test-cmap batched
//! benchmark (there the bucket is the only random line: elements and our
//! key lines are laid out in insertion order).
//! The 64K probes touch ~62K distinct keys: ~8 MiB of key and bucket lines
//! of the ~160 MiB map, which partly stay in the 32 MiB L3 between passes.
//!
//! Run: `cargo bench -p host-fastpath --bench cmap`

use abi::{hash_key, FlowKey};
use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};
use fastpath::dpcls::cmap::BUCKET_SLOTS;
use fastpath::dpcls::Cmap;
use fastpath::BURST;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
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

/// A map of `n` random keys, 64K probe keys drawn from them at random
/// (so consecutive lookups touch unrelated cache lines), and the keys in a
/// random order.
fn setup(n: usize) -> (Cmap, Vec<FlowKey>, Vec<FlowKey>, Vec<FlowKey>) {
    let mut rng = StdRng::seed_from_u64(n as u64);
    let keys: Vec<FlowKey> = (0..n).map(|_| random_key(&mut rng)).collect();
    let m = Cmap::new();
    for (i, k) in keys.iter().enumerate() {
        m.insert(hash_key(k), k, i as u32)
            .expect("bench map insert");
    }
    let probes = (0..65536).map(|_| keys[rng.gen_range(0..n)]).collect();
    // The load and how many slots sit in their first candidate bucket (a
    // batched hit in the second one costs one more cache line).
    let o = m.occupancy();
    let used = o.first + o.second;
    eprintln!(
        "cmap {n} keys: {} buckets, slot load {:.1} %, {:.1} % of slots in their first candidate",
        o.buckets,
        100.0 * used as f64 / (o.buckets * BUCKET_SLOTS) as f64,
        100.0 * o.first as f64 / used as f64
    );
    let mut shuffled = keys.clone();
    shuffled.shuffle(&mut rng);
    (m, probes, shuffled, keys)
}

/// Batched lookups of `probes` in order, 32 at a time, hashes included.
fn batched(g: &mut BenchmarkGroup<'_, WallTime>, id: BenchmarkId, m: &Cmap, probes: &[FlowKey]) {
    g.throughput(Throughput::Elements(BURST as u64));
    g.bench_function(id, |b| {
        let mut at = 0;
        let mut out = [None; BURST];
        b.iter(|| {
            let keys = &probes[at..at + BURST];
            at = (at + BURST) % probes.len();
            let found = m.get_batch_hashing(keys, &FlowKey::ONES, u32::MAX, &mut out);
            black_box((found, &out));
        })
    });
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("cmap");
    g.measurement_time(Duration::from_secs(4));
    for (name, n) in [("1K", 1000usize), ("1M", 1 << 20)] {
        let (m, probes, all, in_order) = setup(n);
        batched(
            &mut g,
            BenchmarkId::new("batched_lookup", name),
            &m,
            &probes,
        );
        g.throughput(Throughput::Elements(1));
        g.bench_function(BenchmarkId::new("lookup", name), |b| {
            let mut at = 0;
            b.iter(|| {
                let k = &probes[at];
                at = (at + 1) % probes.len();
                black_box(m.get(hash_key(k), k))
            })
        });
        if n > 1000 {
            // The same map with a cache-resident probe set (2K keys: the
            // cost of the work itself) and with every key once per pass in
            // random order (no reuse: every bucket and key line from DRAM).
            let hot = BenchmarkId::new("batched_lookup", format!("{name}_hot"));
            batched(&mut g, hot, &m, &probes[..2048]);
            let cold = BenchmarkId::new("batched_lookup", format!("{name}_cold"));
            batched(&mut g, cold, &m, &all);
            let ordered = BenchmarkId::new("batched_lookup", format!("{name}_insertion_order"));
            batched(&mut g, ordered, &m, &in_order);
            // Absent keys (most probes of a subtable miss).
            let mut rng = StdRng::seed_from_u64(7);
            let absent: Vec<FlowKey> = (0..65536).map(|_| random_key(&mut rng)).collect();
            let miss = BenchmarkId::new("batched_lookup", format!("{name}_miss"));
            batched(&mut g, miss, &m, &absent);
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
