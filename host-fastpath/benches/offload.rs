//! Hybrid offload benchmarks (stable names, see docs/PERFORMANCE.md
//! "## Hybrid offload"):
//! - `offload/upcall_to_hw_install/model`: 10 000 new flows, each an upcall
//!   (translate, software install) and the hardware placement of its
//!   megaflow, on the model NIC (the host's cost).
//! - `offload/upcall_to_hw_install/sim`: the same for 1 000 flows on the
//!   simulated NIC (Verilated RTL; register programming in simulated cycles).
//! - `offload/hw_hit_burst/sim`: a burst of 32 packets whose megaflows are in
//!   hardware, end to end through the simulated NIC.

use abi::{Field, FlowKey, Geometry};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use fastpath::dpif::{CountingSink, DpConfig, Pmd};
use fastpath::io::frames::frame_from_key;
use fastpath::offload::{HwLookup, HybridDp, ModelNic, OffloadConfig};
use fastpath::ofproto::{parse_rules, OfProto, Prefixes};
use fastpath::BURST;

fn of() -> OfProto {
    let mut of = OfProto::with_rules(
        parse_rules(
            "priority=10,ip,nw_proto=17,actions=output:2\npriority=0,actions=drop\n",
            "bench",
        )
        .expect("rules"),
        Prefixes::default(),
    );
    // Exact megaflows: every new flow is one upcall and one hardware install.
    of.megaflows = false;
    of
}

fn frames(n: u32, base: u32) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let k = FlowKey::ZERO
                .with(Field::InPort, 1)
                .with(Field::DlType, 0x0800)
                .with(Field::NwProto, 17)
                .with(Field::NwSrc, (base.wrapping_add(i)) as u64)
                .with(Field::NwDst, 0x0b00_0001)
                .with(Field::NwTtl, 64)
                .with(Field::TpSrc, 1000)
                .with(Field::TpDst, 53);
            frame_from_key(&k, 60)
        })
        .collect()
}

fn pmd() -> Pmd {
    let mut p = Pmd::new(DpConfig::default()).expect("pmd");
    p.dynamic_limit = p.config.flow_limit;
    p
}

fn run<H: HwLookup>(dp: &mut HybridDp<H>, of: &OfProto, frames: &[Vec<u8>]) {
    let mut sink = CountingSink::default();
    for chunk in frames.chunks(BURST) {
        let b: Vec<&[u8]> = chunk.iter().map(|f| f.as_slice()).collect();
        dp.process_burst(of, &b, 1, &mut sink).expect("hardware");
    }
}

fn benches(c: &mut Criterion) {
    let of = of();
    let mut g = c.benchmark_group("offload");
    g.sample_size(10);
    let n = 10_000u32;
    g.throughput(Throughput::Elements(n as u64));
    let fr = frames(n, 0x0a00_0000);
    let geometry = Geometry {
        mf_log2_buckets: 14,
        ..Geometry::DEFAULT
    };
    g.bench_function("upcall_to_hw_install/model", |b| {
        b.iter_batched(
            || HybridDp::new(pmd(), ModelNic::new(geometry), OffloadConfig::default()),
            |mut dp| {
                run(&mut dp, &of, &fr);
                assert_eq!(dp.counters().mf_installs, n as u64);
                dp
            },
            BatchSize::PerIteration,
        )
    });
    sim_benches(&mut g, &of);
    g.finish();
}

#[cfg(feature = "sim")]
fn sim_benches(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    of: &OfProto,
) {
    let open = || {
        let nic = driver::Nic::open(sim::SimNic::new().expect("sim")).expect("nic");
        HybridDp::new(pmd(), nic, OffloadConfig::default())
    };
    let n = 1_000u32;
    g.throughput(Throughput::Elements(n as u64));
    let mut base = 0x0c00_0000u32;
    g.bench_function("upcall_to_hw_install/sim", |b| {
        let mut dp = open();
        b.iter_batched(
            || {
                // New flows each time (the tables hold 16 384; reopen when near full).
                base = base.wrapping_add(n);
                frames(n, base)
            },
            |fr| {
                if dp.mgr.entries().0 > 12_000 {
                    dp = open();
                }
                run(&mut dp, of, &fr);
            },
            BatchSize::PerIteration,
        )
    });
    let mut dp = open();
    let burst = frames(BURST as u32, 0x0d00_0000);
    run(&mut dp, of, &burst);
    g.throughput(Throughput::Elements(BURST as u64));
    g.bench_function("hw_hit_burst/sim", |b| b.iter(|| run(&mut dp, of, &burst)));
}

#[cfg(not(feature = "sim"))]
fn sim_benches(
    _: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    _: &OfProto,
) {
}

criterion_group!(offload, benches);
criterion_main!(offload);
