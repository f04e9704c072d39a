//! Table programming through the Nic API against the register-level model
//! (tests/model): what the host side of an install costs, and how many
//! register writes installs take as a slot fills.
//!
//! cargo bench -p driver --bench install

#[path = "../tests/model/mod.rs"]
mod model;

use abi::action::ActionEntry;
use abi::{FlowKey, Geometry};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use driver::{EmcPolicy, Nic, NicError};
use model::{key, Model};
use std::time::{Duration, Instant};

/// A typical megaflow mask: in_port + dl_type, nw_src, nw_dst, tp ports.
fn mask() -> FlowKey {
    FlowKey::from_hw_words(&[
        0x0000_ffff_ffff_ffff,
        0,
        0,
        0,
        0xffff_ffff,
        0,
        0xffff_ffff,
        0xffff_ffff,
    ])
}

fn open() -> Nic<Model> {
    let mut nic = Nic::open(Model::new(Geometry::DEFAULT)).expect("open");
    nic.set_mask(0, &mask()).expect("mask");
    nic
}

/// Fills slot 0 until the first TableFull; prints write statistics.
fn write_report() {
    let mut nic = open();
    let per_slot = Geometry::DEFAULT.mf_entries_per_slot() as usize;
    let (mut direct, mut direct_writes, mut direct_max) = (0u64, 0u64, 0u32);
    let (mut displaced, mut displaced_writes, mut displaced_max, mut moves) =
        (0u64, 0u64, 0u32, 0u64);
    let mut n = 0u64;
    loop {
        match nic.install_megaflow(0, &key(n), n as u32 & 0xff_ffff, &ActionEntry::TO_HOST) {
            Ok(i) if i.moves == 0 => {
                direct += 1;
                direct_writes += i.writes as u64;
                direct_max = direct_max.max(i.writes);
            }
            Ok(i) => {
                displaced += 1;
                displaced_writes += i.writes as u64;
                displaced_max = displaced_max.max(i.writes);
                moves += i.moves as u64;
            }
            Err(NicError::TableFull { entries, .. }) => {
                eprintln!(
                    "megaflow slot ({per_slot} entries): first TableFull at {entries} entries ({:.1} % load)",
                    100.0 * entries as f64 / per_slot as f64
                );
                break;
            }
            Err(e) => panic!("{e}"),
        }
        n += 1;
    }
    eprintln!(
        "megaflow installs without displacement: {direct}, writes avg {:.2} max {direct_max}",
        direct_writes as f64 / direct as f64
    );
    eprintln!(
        "megaflow installs with displacement: {displaced}, moves avg {:.2}, writes avg {:.2} max {displaced_max}",
        moves as f64 / displaced.max(1) as f64,
        displaced_writes as f64 / displaced.max(1) as f64
    );
    let mut nic = open();
    let (mut w, mut max) = (0u64, 0u32);
    for i in 0..4096u64 {
        let ins = nic
            .install_emc(&key(1 << 40 | i), 1, &ActionEntry::TO_HOST, EmcPolicy::Ovs)
            .expect("emc");
        w += ins.writes as u64;
        max = max.max(ins.writes);
    }
    eprintln!(
        "EMC installs: writes avg {:.2} max {max}",
        w as f64 / 4096.0
    );
}

fn bench(c: &mut Criterion) {
    write_report();
    let keys: Vec<FlowKey> = (0..8192u64).map(|i| key(i + (1 << 32))).collect();

    let mut nic = open();
    let mut i = 0usize;
    c.bench_function("nic/install_emc", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(
                nic.install_emc(&keys[i], 7, &ActionEntry::TO_HOST, EmcPolicy::Ovs)
                    .expect("emc"),
            )
        })
    });

    // Half-full slot: install one key and remove it again (load stays put).
    let mut nic = open();
    for k in &keys[..1024] {
        nic.install_megaflow(0, k, 1, &ActionEntry::TO_HOST)
            .expect("fill");
    }
    let mut j = 1024usize;
    c.bench_function("nic/megaflow_install_remove_at_50pct", |b| {
        b.iter(|| {
            j = if j + 1 >= keys.len() { 1024 } else { j + 1 };
            let k = &keys[j];
            let r = nic.install_megaflow(0, k, 2, &ActionEntry::TO_HOST);
            if r.is_ok() {
                nic.remove_megaflow(0, k).expect("remove");
            }
            black_box(r.is_ok())
        })
    });

    // Empty to 90 % of a 2048-entry slot, displacement included: time per install.
    let target = Geometry::DEFAULT.mf_entries_per_slot() as usize * 9 / 10;
    c.bench_function("nic/megaflow_fill_to_90pct_per_install", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0u64;
            while done < iters {
                let mut nic = open();
                let t = Instant::now();
                for k in keys.iter().take(target) {
                    if done == iters {
                        break;
                    }
                    nic.install_megaflow(0, k, 3, &ActionEntry::TO_HOST)
                        .expect("below full");
                    done += 1;
                }
                total += t.elapsed();
            }
            total
        })
    });

    c.bench_function("nic/open_and_reset", |b| {
        b.iter_batched(
            || Model::new(Geometry::DEFAULT),
            |m| black_box(Nic::open(m).expect("open")),
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
