//! EMC benchmarks: lookup of bursts of 32 keys that all hit, at 256, 1024
//! and 4096 cached flows in the default 8192-entry cache (time per
//! iteration / 32 = per packet), plus misses and inserts.
//!
//! Run: `cargo bench -p host-fastpath --bench emc`

use std::hint::black_box;
use std::time::Duration;

use abi::{Field, FlowKey};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fastpath::emc::{Emc, DEFAULT_ENTRIES};
use fastpath::{FlowId, BURST};
use rand::prelude::*;

#[path = "support/min_time.rs"]
mod min_time;

/// Distinct 5-tuple-like keys.
fn keys(n: usize, salt: u64) -> Vec<FlowKey> {
    (0..n as u64)
        .map(|i| {
            FlowKey::ZERO
                .with(Field::InPort, 1)
                .with(Field::DlType, 0x0800)
                .with(Field::NwProto, 17)
                .with(Field::NwSrc, 0x0a00_0000 | (i & 0xffff) | salt << 16)
                .with(Field::NwDst, 0xc0a8_0001)
                .with(Field::TpSrc, 1024 + i)
                .with(Field::TpDst, 53)
        })
        .collect()
}

/// Bursts of keys in random order (each flow once per pass), with hashes.
fn bursts(keys: &[FlowKey], rng: &mut StdRng) -> Vec<([FlowKey; BURST], [u32; BURST])> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.shuffle(rng);
    order
        .chunks_exact(BURST)
        .map(|c| {
            let mut k = [FlowKey::ZERO; BURST];
            let mut h = [0u32; BURST];
            for (j, &i) in c.iter().enumerate() {
                k[j] = keys[i];
                h[j] = abi::hash_key(&keys[i]);
            }
            (k, h)
        })
        .collect()
}

fn bench_emc(c: &mut Criterion) {
    let mut g = c.benchmark_group("emc");
    g.throughput(Throughput::Elements(BURST as u64));
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));
    let mut rng = StdRng::seed_from_u64(7);
    let alive = |_: FlowId| true;
    for flows in [256usize, 1024, 4096] {
        let mut emc = Emc::new(DEFAULT_ENTRIES, 1).expect("valid EMC size");
        let ks = keys(flows, 0);
        for (i, k) in ks.iter().enumerate() {
            emc.insert(k, abi::hash_key(k), i as FlowId, alive);
        }
        // Only keys still cached after all inserts (at 4096 flows two-way
        // collisions evict some): the benchmark measures hits.
        let cached: Vec<FlowKey> = ks
            .iter()
            .copied()
            .filter(|k| emc.lookup(k, abi::hash_key(k), alive).is_some())
            .collect();
        eprintln!(
            "emc: {flows} flows inserted, {} cached ({:.1} %)",
            cached.len(),
            100.0 * cached.len() as f64 / flows as f64
        );
        let bs = bursts(&cached, &mut rng);
        let mut out = [None; BURST];
        // Min-of-passes over a random 64K-packet trace of the cached flows
        // (no repeating order the branch predictor could learn).
        let trace: Vec<FlowKey> = (0..65536)
            .map(|_| cached[rng.gen_range(0..cached.len())])
            .collect();
        let th: Vec<u32> = trace.iter().map(abi::hash_key).collect();
        let ns = min_time::min_ns_per_item(30, trace.len(), || {
            for (k, h) in trace.chunks_exact(BURST).zip(th.chunks_exact(BURST)) {
                black_box(emc.lookup_batch(black_box(k), h, &mut out, alive));
            }
        });
        eprintln!("emc/hit_trace64k/{flows}flows: min {ns:.2} ns/packet");
        let mut next = 0;
        g.bench_function(
            BenchmarkId::new("hit_burst32", format!("{flows}flows")),
            |b| {
                b.iter(|| {
                    let (k, h) = &bs[next];
                    next = if next + 1 == bs.len() { 0 } else { next + 1 };
                    let hits = emc.lookup_batch(black_box(k), h, &mut out, alive);
                    black_box((hits, &out));
                })
            },
        );
        let miss = bursts(&keys(4096, 1), &mut rng);
        let mut next = 0;
        g.bench_function(
            BenchmarkId::new("miss_burst32", format!("{flows}flows")),
            |b| {
                b.iter(|| {
                    let (k, h) = &miss[next];
                    next = if next + 1 == miss.len() { 0 } else { next + 1 };
                    black_box(emc.lookup_batch(black_box(k), h, &mut out, alive))
                })
            },
        );
    }
    // Insert cost (always inserting, 8192-entry cache, keys cycling).
    let ks = keys(16384, 2);
    let bs = bursts(&ks, &mut rng);
    let mut emc = Emc::new(DEFAULT_ENTRIES, 1).expect("valid EMC size");
    let mut next = 0;
    g.bench_function("insert_burst32", |b| {
        b.iter(|| {
            let (k, h) = &bs[next];
            next = if next + 1 == bs.len() { 0 } else { next + 1 };
            for i in 0..BURST {
                emc.insert(&k[i], h[i], i as FlowId, alive);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench_emc);
criterion_main!(benches);
