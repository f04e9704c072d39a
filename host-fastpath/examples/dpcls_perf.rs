//! Megaflow classifier figures, measured by wall clock, by the CPU time of
//! the measuring thread (from /proc/thread-self/schedstat) and as the
//! fastest pass, so that a shared, overloaded machine still gives a usable
//! per-operation cost.
//!
//! * synthetic: the `dpcls/subtables/*` and `cmap/*` workloads of the
//!   criterion benches;
//! * classbench: the OVS megaflow dump of a ClassBench set loaded into
//!   `Dpcls`, its trace replayed in bursts of 32 (lookups/s, hit rate,
//!   subtable lookups per hit), unranked and then ranked as the 1 s
//!   optimisation does. Skipped when shared/classbench is absent.
//!
//! Run: `cargo run --release -p host-fastpath --example dpcls_perf [-- PART [SET SIZE]]`
//! (PART: all, classbench, synthetic or cmap; default set acl1 10k, e.g.
//! `-- classbench fw1 10k`).

#[path = "../benches/support/ovs_megaflows.rs"]
mod ovs_megaflows;

use abi::{hash_key, Field, FlowKey};
use fastpath::dpcls::{Cmap, Dpcls};
use fastpath::BURST;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// CPU time of this thread, ns (0 where schedstat is unavailable).
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Runs `f` (which does `ops` operations per call) for about `secs` and
/// prints ns per operation: by wall clock, by this thread's CPU time, and
/// the fastest pass of 100 calls (the cost on an uncontended core, the
/// figure to compare with Open vSwitch's).
fn measure(name: &str, ops: u64, secs: f64, mut f: impl FnMut()) -> (f64, f64) {
    for _ in 0..1000 {
        f();
    }
    let (t0, c0) = (Instant::now(), cpu_ns());
    let mut n = 0u64;
    let mut min = f64::MAX;
    while t0.elapsed() < Duration::from_secs_f64(secs) {
        let p = Instant::now();
        for _ in 0..100 {
            f();
        }
        min = min.min(p.elapsed().as_nanos() as f64 / (100 * ops) as f64);
        n += 100 * ops;
    }
    let wall = t0.elapsed().as_nanos() as f64 / n as f64;
    let cpu = (cpu_ns() - c0) as f64 / n as f64;
    println!("{name:<44} wall {wall:7.1}  cpu {cpu:7.1}  min {min:7.1} ns/op");
    (wall, min)
}

fn random_key(rng: &mut StdRng) -> FlowKey {
    let mut k = FlowKey::ZERO;
    for w in k.words.iter_mut() {
        *w = rng.gen();
    }
    k
}

fn cmap_figures() {
    for (name, n) in [("1K", 1000usize), ("1M", 1 << 20)] {
        let mut rng = StdRng::seed_from_u64(n as u64);
        let keys: Vec<FlowKey> = (0..n).map(|_| random_key(&mut rng)).collect();
        let m = Cmap::new();
        for (i, k) in keys.iter().enumerate() {
            m.insert(hash_key(k), k, i as u32).expect("insert");
        }
        let probes: Vec<FlowKey> = (0..65536).map(|_| keys[rng.gen_range(0..n)]).collect();
        let mut at = 0;
        let mut out = [None; BURST];
        measure(
            &format!("cmap/batched_lookup/{name}"),
            BURST as u64,
            2.0,
            || {
                let ks = &probes[at..at + BURST];
                at = (at + BURST) % probes.len();
                black_box(m.get_batch_hashing(ks, &FlowKey::ONES, u32::MAX, &mut out));
            },
        );
        measure(&format!("cmap/lookup/{name}"), 1, 2.0, || {
            let k = &probes[at];
            at = (at + 1) % probes.len();
            black_box(m.get(hash_key(k), k));
        });
        println!("  (map memory {} MiB)", m.memory_bytes() >> 20);
    }
}

fn synthetic_figures() {
    for n in [1usize, 4, 16] {
        let mut rng = StdRng::seed_from_u64(n as u64);
        let d = Dpcls::new();
        let mut last = Vec::new();
        let mut id = 0;
        for i in 0..n {
            let mask = FlowKey::ZERO
                .with(Field::InPort, u32::MAX as u64)
                .with(Field::DlType, 0xffff)
                .with(Field::NwProto, 0xff)
                .with(Field::NwSrc, (u32::MAX << (16 - i.min(16))) as u64)
                .with(Field::TpDst, 0xffff);
            let mut added = 0;
            while added < 1000 {
                let k = FlowKey::ZERO
                    .with(Field::InPort, 3)
                    .with(Field::DlType, 0x0800)
                    .with(Field::NwProto, i as u64 + 1)
                    .with(Field::NwSrc, rng.gen::<u32>() as u64)
                    .with(Field::TpDst, rng.gen::<u16>() as u64);
                if d.insert(&mask, &k, id).is_ok() {
                    id += 1;
                    added += 1;
                    if i == n - 1 {
                        last.push(k);
                    }
                }
            }
        }
        let probes: Vec<FlowKey> = (0..4096)
            .map(|_| {
                last[rng.gen_range(0..last.len())]
                    .with(Field::NwDst, rng.gen::<u32>() as u64)
                    .with(Field::TpSrc, rng.gen::<u16>() as u64)
            })
            .collect();
        let mut at = 0;
        let mut out = [None; BURST];
        let mut burst = || {
            let ks = &probes[at..at + BURST];
            at = (at + BURST) % probes.len();
            black_box(d.lookup_batch(ks, &mut out));
        };
        let (_, min) = measure(
            &format!("dpcls/subtables/{n}/unranked"),
            BURST as u64,
            2.0,
            &mut burst,
        );
        println!("  {:.1} ns (min) per subtable visited", min / n as f64);
        d.rank();
        measure(
            &format!("dpcls/subtables/{n}/ranked"),
            BURST as u64,
            2.0,
            &mut burst,
        );
    }
}

fn classbench_figures(set: &str, size: &str) {
    let Some((mf_path, tr_path)) = ovs_megaflows::set_paths(set, size) else {
        println!("classbench {set} {size}: shared/classbench not found, skipped");
        return;
    };
    let megaflows = match ovs_megaflows::load_megaflows(&mf_path) {
        Ok(m) => m,
        Err(e) => {
            println!("classbench: {e}");
            return;
        }
    };
    let port = megaflows.first().map_or(3, |m| m.key.get(Field::InPort)) as u32;
    let trace = match ovs_megaflows::load_trace(&tr_path, port) {
        Ok(t) => t,
        Err(e) => {
            println!("classbench: {e}");
            return;
        }
    };
    let d = Dpcls::new();
    let t = Instant::now();
    let mut rejected = 0;
    for (i, m) in megaflows.iter().enumerate() {
        if let Err(e) = d.insert(&m.mask, &m.key, i as u32) {
            if rejected == 0 {
                println!("  first rejected megaflow #{i}: {e}");
            }
            rejected += 1;
        }
    }
    println!(
        "classbench {set} {size}: {} megaflows ({rejected} rejected) in {} masks, inserted in {:.1} ms; trace {} packets",
        d.flow_count(),
        d.mask_count(),
        t.elapsed().as_secs_f64() * 1e3,
        trace.len()
    );
    let usable = trace.len() / BURST * BURST;
    for phase in ["unranked (dump order)", "ranked"] {
        if phase == "ranked" {
            d.rank();
        }
        let before = d.stats();
        let mut at = 0;
        let mut out = [None; BURST];
        measure(
            &format!("dpcls/classbench/{set}_{size} {phase}"),
            BURST as u64,
            3.0,
            || {
                let ks = &trace[at..at + BURST];
                at = (at + BURST) % usable;
                black_box(d.lookup_batch(ks, &mut out));
            },
        );
        let s = d.stats();
        let (l, h) = (s.lookups - before.lookups, s.hits - before.hits);
        println!(
            "  hit rate {:.4}, {:.2} subtable lookups per hit",
            h as f64 / l as f64,
            (s.subtable_lookups - before.subtable_lookups) as f64 / h as f64
        );
    }
}

fn main() {
    // [PART [SET SIZE]]: PART = all (default) | classbench | synthetic | cmap.
    let args: Vec<String> = std::env::args().collect();
    let part = args.get(1).map_or("all", String::as_str);
    let set = args.get(2).map_or("acl1", String::as_str);
    let size = args.get(3).map_or("10k", String::as_str);
    if matches!(part, "all" | "classbench") {
        classbench_figures(set, size);
    }
    if matches!(part, "all" | "synthetic") {
        synthetic_figures();
    }
    if matches!(part, "all" | "cmap") {
        cmap_figures();
    }
}
