//! Miniflow extract and key hash benchmarks.
//!
//! `extract/*_burst32` extract and hash a burst of 32 frames (time per
//! iteration / 32 = per packet). The `etherparse_*` entries do the same work
//! with etherparse slicing the frame and the key built from its slices: the
//! measurement behind the choice of a hand-written parser (see
//! `fastpath::extract`). `hash/crc32c_key_burst32` is the abi hash alone.
//!
//! Run: `cargo bench -p host-fastpath --bench extract`

use std::hint::black_box;
use std::time::Duration;

use abi::FlowKey;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fastpath::extract::frame::*;
use fastpath::extract::{extract_batch, ExtractStats};
use fastpath::BURST;

#[path = "support/etherparse_key.rs"]
mod etherparse_key;
#[path = "support/min_time.rs"]
mod min_time;

/// 32 distinct 64-byte IPv4/UDP frames (60 bytes + FCS on the wire).
fn udp64() -> Vec<Vec<u8>> {
    (0..BURST as u16)
        .map(|i| {
            ethernet(
                0x5054_0000_0009,
                0x5054_0000_000a,
                &[],
                0x0800,
                &ipv4(
                    &Ipv4::new(0x0a00_0002 + i as u32, 0x0a00_0001, 17),
                    &udp(1024 + i, 53, &[0; 22]),
                ),
            )
        })
        .collect()
}

/// 32 distinct IPv6/TCP frames (86 bytes).
fn tcp6() -> Vec<Vec<u8>> {
    (0..BURST as u16)
        .map(|i| {
            ethernet(
                0x5054_0000_0009,
                0x5054_0000_000a,
                &[],
                0x86dd,
                &ipv6(
                    &Ipv6::new(0x2001_0db8 << 96 | i as u128, 0x2001_0db8 << 96 | 1, 6),
                    &tcp(40000 + i, 443, 0x010, &[], &[]),
                ),
            )
        })
        .collect()
}

fn bench_extract(c: &mut Criterion) {
    let mut g = c.benchmark_group("extract");
    g.throughput(Throughput::Elements(BURST as u64));
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));
    for (name, frames) in [("udp64", udp64()), ("tcp6", tcp6())] {
        let refs: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
        let mut keys = [FlowKey::ZERO; BURST];
        let mut hashes = [0u32; BURST];
        let mut stats = ExtractStats::default();
        let ns = min_time::min_ns_per_item(2000, BURST, || {
            extract_batch(black_box(&refs), 1, &mut keys, &mut hashes, &mut stats);
            black_box(&hashes);
        });
        let ns_ep = min_time::min_ns_per_item(2000, BURST, || {
            for (f, k) in black_box(&refs).iter().zip(keys.iter_mut()) {
                *k = etherparse_key::etherparse_key(f, 1).unwrap_or(FlowKey::ZERO);
            }
            abi::hash::hash_masked_batch(&keys, &FlowKey::ONES, &mut hashes);
            black_box(&hashes);
        });
        eprintln!("extract/{name}_burst32: min {ns:.2} ns/packet; etherparse {ns_ep:.2} ns/packet");
        g.bench_function(format!("{name}_burst32"), |b| {
            b.iter(|| {
                extract_batch(black_box(&refs), 1, &mut keys, &mut hashes, &mut stats);
                black_box(&hashes);
            })
        });
        g.bench_function(format!("etherparse_{name}"), |b| {
            b.iter(|| {
                for (f, k) in black_box(&refs).iter().zip(keys.iter_mut()) {
                    *k = etherparse_key::etherparse_key(f, 1).unwrap_or(FlowKey::ZERO);
                }
                abi::hash::hash_masked_batch(&keys, &FlowKey::ONES, &mut hashes);
                black_box(&hashes);
            })
        });
        g.bench_function(format!("etherparse_slice_only_{name}"), |b| {
            b.iter(|| {
                let mut n = 0usize;
                for f in black_box(&refs) {
                    n += etherparse::SlicedPacket::from_ethernet(f).is_ok() as usize;
                }
                black_box(n)
            })
        });
    }
    g.finish();
}

fn bench_hash(c: &mut Criterion) {
    let mut g = c.benchmark_group("hash");
    g.throughput(Throughput::Elements(BURST as u64));
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));
    let frames = udp64();
    let refs: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
    let mut keys = [FlowKey::ZERO; BURST];
    let mut hashes = [0u32; BURST];
    extract_batch(
        &refs,
        1,
        &mut keys,
        &mut hashes,
        &mut ExtractStats::default(),
    );
    let ns = min_time::min_ns_per_item(2000, BURST, || {
        abi::hash::hash_masked_batch(black_box(&keys), &FlowKey::ONES, &mut hashes);
        black_box(&hashes);
    });
    eprintln!("hash/crc32c_key_burst32: min {ns:.2} ns/key");
    g.bench_function("crc32c_key_burst32", |b| {
        b.iter(|| {
            abi::hash::hash_masked_batch(black_box(&keys), &FlowKey::ONES, &mut hashes);
            black_box(&hashes);
        })
    });
    g.finish();
}

criterion_group!(benches, bench_extract, bench_hash);
criterion_main!(benches);
