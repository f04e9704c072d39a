//! Megaflow classifier benchmarks. Time per iteration is one burst of 32.
//!
//! * `dpcls/subtables/{1,4,16}/{unranked,ranked}` — 1000 megaflows in each
//!   subtable, every packet hits the LAST subtable created. Unranked, a
//!   packet visits all N subtables (per-subtable cost = time / 32 / N; OVS:
//!   22–25 ns per subtable, 395 ns per packet for 16); ranked (after one
//!   `rank()`), the hit subtable comes first (OVS: 25 ns per packet).
//! * `dpcls/single/{1,16}/ranked` — the same through `lookup()`, one key.
//! * `dpcls/insert_remove/16x1000` — one insert plus one remove (writer).
//! * `dpcls/classbench/acl1_10k` — the OVS megaflow dump of ClassBench acl1
//!   10K replayed with its trace (ranked), when shared/classbench is present;
//!   hit rate and subtable lookups per hit go to stderr.
//!
//! Run: `cargo bench -p host-fastpath --bench dpcls`

#[path = "support/ovs_megaflows.rs"]
mod ovs_megaflows;

use abi::{Field, FlowKey};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fastpath::dpcls::Dpcls;
use fastpath::BURST;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::hint::black_box;
use std::time::Duration;

const FLOWS_PER_SUBTABLE: usize = 1000;
const PORT: u64 = 3;

/// Mask `i`: in_port, dl_type, nw_proto, nw_src/(16 + i), tp_dst. Subtable
/// `i`'s flows all have nw_proto = i + 1, so no two subtables overlap.
fn mask(i: usize) -> FlowKey {
    FlowKey::ZERO
        .with(Field::InPort, u32::MAX as u64)
        .with(Field::DlType, 0xffff)
        .with(Field::NwProto, 0xff)
        .with(Field::NwSrc, (u32::MAX << (16 - i.min(16))) as u64)
        .with(Field::TpDst, 0xffff)
}

fn flow_key(rng: &mut StdRng, i: usize) -> FlowKey {
    FlowKey::ZERO
        .with(Field::InPort, PORT)
        .with(Field::DlType, 0x0800)
        .with(Field::NwProto, i as u64 + 1)
        .with(Field::NwSrc, rng.gen::<u32>() as u64)
        .with(Field::NwDst, rng.gen::<u32>() as u64)
        .with(Field::TpSrc, rng.gen::<u16>() as u64)
        .with(Field::TpDst, rng.gen::<u16>() as u64)
}

/// A classifier with `n` subtables and 4096 probe keys that hit the last.
fn setup(n: usize) -> (Dpcls, Vec<FlowKey>) {
    let mut rng = StdRng::seed_from_u64(n as u64);
    let d = Dpcls::new();
    let mut last = Vec::new();
    let mut id = 0;
    for i in 0..n {
        let m = mask(i);
        let mut added = 0;
        while added < FLOWS_PER_SUBTABLE {
            let k = flow_key(&mut rng, i);
            if d.insert(&m, &k, id).is_ok() {
                id += 1;
                added += 1;
                if i == n - 1 {
                    last.push(k);
                }
            }
        }
    }
    let probes = (0..4096)
        .map(|_| {
            // A packet of a random last-subtable flow: its wildcarded bits
            // (low nw_src bits, nw_dst, tp_src) differ from the flow's.
            let k = last[rng.gen_range(0..last.len())];
            k.with(Field::NwDst, rng.gen::<u32>() as u64)
                .with(Field::TpSrc, rng.gen::<u16>() as u64)
        })
        .collect();
    (d, probes)
}

fn run_bursts(
    d: &Dpcls,
    probes: &[FlowKey],
    at: &mut usize,
    out: &mut [Option<u32>; BURST],
) -> u32 {
    let keys = &probes[*at..*at + BURST];
    *at = (*at + BURST) % probes.len();
    d.lookup_batch(keys, out)
}

fn subtables(c: &mut Criterion) {
    let mut g = c.benchmark_group("dpcls");
    g.measurement_time(Duration::from_secs(3));
    g.warm_up_time(Duration::from_secs(1));
    for n in [1usize, 4, 16] {
        let (d, probes) = setup(n);
        let mut out = [None; BURST];
        let mut at = 0;
        g.throughput(Throughput::Elements(BURST as u64));
        g.bench_function(
            BenchmarkId::new("subtables", format!("{n}/unranked")),
            |b| b.iter(|| black_box(run_bursts(&d, &probes, &mut at, &mut out))),
        );
        let s = d.stats();
        assert_eq!(s.misses, 0, "probe keys must all hit");
        eprintln!(
            "dpcls/subtables/{n}/unranked: {:.2} subtable lookups per hit",
            s.subtable_lookups_per_hit()
        );
        d.rank();
        let before = d.stats();
        g.bench_function(BenchmarkId::new("subtables", format!("{n}/ranked")), |b| {
            b.iter(|| black_box(run_bursts(&d, &probes, &mut at, &mut out)))
        });
        let s = d.stats();
        eprintln!(
            "dpcls/subtables/{n}/ranked: {:.2} subtable lookups per hit",
            (s.subtable_lookups - before.subtable_lookups) as f64 / (s.hits - before.hits) as f64
        );
        if n != 4 {
            g.throughput(Throughput::Elements(1));
            g.bench_function(BenchmarkId::new("single", format!("{n}/ranked")), |b| {
                b.iter(|| {
                    let k = &probes[at];
                    at = (at + 1) % probes.len();
                    black_box(d.lookup(k))
                })
            });
        }
    }
    g.finish();
}

/// Writer cost (the upcall's install and the revalidator's delete): one
/// insert plus one remove in a classifier of 16 × 1000 megaflows.
fn writer(c: &mut Criterion) {
    let (d, _) = setup(16);
    let mut rng = StdRng::seed_from_u64(99);
    let m = mask(15);
    let fresh: Vec<FlowKey> = (0..4096)
        .map(|_| flow_key(&mut rng, 15))
        .filter(|k| d.lookup(k).is_none())
        .collect();
    let mut g = c.benchmark_group("dpcls");
    g.measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Elements(1));
    let mut at = 0;
    g.bench_function("insert_remove/16x1000", |b| {
        b.iter(|| {
            let k = &fresh[at];
            at = (at + 1) % fresh.len();
            d.insert(&m, k, 1 << 30).expect("fresh megaflow");
            black_box(d.remove(&m, k))
        })
    });
    g.finish();
}

fn classbench(c: &mut Criterion) {
    let Some((mf_path, trace_path)) = ovs_megaflows::set_paths("acl1", "10k") else {
        eprintln!("dpcls/classbench: shared/classbench not found, skipped");
        return;
    };
    let (megaflows, trace) = match ovs_megaflows::load_megaflows(&mf_path).and_then(|mf| {
        let port = mf.first().map_or(PORT, |m| m.key.get(Field::InPort)) as u32;
        Ok((mf, ovs_megaflows::load_trace(&trace_path, port)?))
    }) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("dpcls/classbench: {e}; skipped");
            return;
        }
    };
    let d = Dpcls::new();
    let mut dup = 0;
    for (i, m) in megaflows.iter().enumerate() {
        if d.insert(&m.mask, &m.key, i as u32).is_err() {
            dup += 1;
        }
    }
    // Warm pass, then rank as the 1 s optimisation would.
    let mut out = [None; BURST];
    for chunk in trace.chunks(BURST) {
        d.lookup_batch(chunk, &mut out);
    }
    d.rank();
    let before = d.stats();
    let mut g = c.benchmark_group("dpcls");
    g.measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Elements(BURST as u64));
    let usable = trace.len() / BURST * BURST;
    let mut at = 0;
    g.bench_function("classbench/acl1_10k", |b| {
        b.iter(|| black_box(run_bursts(&d, &trace[..usable], &mut at, &mut out)))
    });
    g.finish();
    let s = d.stats();
    let (l, h) = (s.lookups - before.lookups, s.hits - before.hits);
    eprintln!(
        "dpcls/classbench/acl1_10k: {} megaflows ({dup} rejected), {} masks, hit rate {:.4}, {:.2} subtable lookups per hit",
        d.flow_count(),
        d.mask_count(),
        h as f64 / l as f64,
        (s.subtable_lookups - before.subtable_lookups) as f64 / h as f64
    );
}

criterion_group!(benches, subtables, writer, classbench);
criterion_main!(benches);
