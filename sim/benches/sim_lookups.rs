//! Simulated lookups per second: back-to-back keys (II = 1) through the
//! Verilated pipeline, default geometry, a table mix of EMC hits, megaflow
//! hits and misses. `cargo bench -p sim --bench sim_lookups`.
//! `lookups_default_geometry_burst4096` runs the default (fast) model,
//! `lookups_exact_model_burst4096` the exact RTL.

use abi::action::ActionEntry;
use abi::{Field, FlowKey};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use driver::{EmcPolicy, Nic};
use sim::{ModelKind, SimNic};

const BURST: usize = 4096;

fn key(i: u64) -> FlowKey {
    FlowKey::ZERO
        .with(Field::InPort, 1 + (i & 3))
        .with(Field::DlType, 0x0800)
        .with(Field::NwProto, 17)
        .with(Field::NwSrc, 0x0a00_0000 | (i & 0xffff))
        .with(Field::NwDst, 0x0a01_0000 | (i >> 16))
        .with(Field::TpSrc, 1024 + (i & 0xfff))
        .with(Field::TpDst, 53)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("sim");
    g.throughput(Throughput::Elements(BURST as u64));
    g.sample_size(20);
    for (kind, name) in [
        (ModelKind::Fast, "lookups_default_geometry_burst4096"),
        (ModelKind::Exact, "lookups_exact_model_burst4096"),
    ] {
        bench_model(&mut g, kind, name);
    }
    g.finish();
}

fn bench_model(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    kind: ModelKind,
    name: &str,
) {
    let sim = match SimNic::with_model(kind) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sim_lookups: {e}");
            return;
        }
    };
    let mut nic = match Nic::open(sim) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("sim_lookups: {e}");
            return;
        }
    };
    // A third of the keys hit the EMC, a third a megaflow (mask on in_port,
    // dl_type and nw_dst), a third miss (and are dropped once the miss
    // queue is full, which costs the pipeline nothing).
    let mask = FlowKey::ZERO
        .with(Field::InPort, u64::MAX)
        .with(Field::DlType, u64::MAX)
        .with(Field::NwDst, u64::MAX);
    let setup = (|| -> Result<(), driver::NicError> {
        nic.set_mask(0, &mask)?;
        for i in 0..BURST as u64 {
            match i % 3 {
                0 => {
                    nic.install_emc(&key(i), i as u32, &ActionEntry::TO_HOST, EmcPolicy::Ovs)?;
                }
                1 => {
                    nic.install_megaflow(0, &key(i), i as u32, &ActionEntry::TO_HOST)?;
                }
                _ => {}
            }
        }
        Ok(())
    })();
    if let Err(e) = setup {
        eprintln!("sim_lookups: programming the tables failed: {e}");
        return;
    }
    let keys: Vec<FlowKey> = (0..BURST as u64)
        .map(|i| key(i + (1 << 20) * (i % 3 / 2)))
        .collect();
    let tags: Vec<u32> = (0..BURST as u32).collect();
    let mut out = Vec::with_capacity(BURST);
    g.bench_function(name, |b| {
        b.iter(|| {
            out.clear();
            if let Err(e) = nic.device().lookup_burst(&keys, &tags, &mut out) {
                panic!("sim_lookups: {e}");
            }
            out.len()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
