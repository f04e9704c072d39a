//! Helpers shared by the simulated-NIC tests: key generators, crafted hash
//! collisions and the replay check.
#![allow(dead_code)]

use abi::{Field, FlowKey, HW_KEY_BITS};
use driver::Nic;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sim::reference::{Replay, ReplayReport};
use sim::{AccessRecord, SimNic, SimResult};

/// Scale of randomized runs: `FASTPATH_LONG=1` multiplies by 20.
pub fn scale() -> u64 {
    if std::env::var("FASTPATH_LONG").is_ok_and(|v| v == "1") {
        20
    } else {
        1
    }
}

/// The test's generator: seeded by `FASTPATH_SEED` when set (CI's randomized
/// run; the same variable as `fastpath::io::gen::test_seed`, which sim cannot
/// depend on), else by the test's fixed `seed`. The seed is printed so a
/// failing run names it.
pub fn rng(seed: u64) -> StdRng {
    let seed = match std::env::var("FASTPATH_SEED") {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("FASTPATH_SEED={v:?} is not a decimal u64: {e}")),
        Err(_) => seed,
    };
    eprintln!("random seed {seed} (replay: FASTPATH_SEED={seed})");
    StdRng::seed_from_u64(seed)
}

/// An IPv4/UDP-like key with small value ranges, so megaflows and lookups meet.
pub fn random_key(r: &mut StdRng) -> FlowKey {
    FlowKey::ZERO
        .with(Field::InPort, r.gen_range(1..=4))
        .with(Field::DlType, 0x0800)
        .with(Field::NwProto, [6, 17][r.gen_range(0..2)])
        .with(Field::NwSrc, 0x0a00_0000 | r.gen_range(0..64))
        .with(Field::NwDst, 0x0a01_0000 | r.gen_range(0..64))
        .with(Field::TpSrc, r.gen_range(1000..1016))
        .with(Field::TpDst, [53, 80, 443][r.gen_range(0..3)])
        .with(Field::NwTtl, 64)
}

/// A random megaflow mask: exact on in_port and dl_type (as OVS megaflows
/// always are) plus a random subset of fields, some as prefixes.
pub fn random_mask(r: &mut StdRng) -> FlowKey {
    let mut m = FlowKey::ZERO
        .with(Field::InPort, u64::MAX)
        .with(Field::DlType, u64::MAX);
    if r.gen_bool(0.7) {
        m.set(Field::NwProto, u64::MAX);
    }
    if r.gen_bool(0.5) {
        let len = r.gen_range(26..=32);
        m.set(Field::NwSrc, (u32::MAX << (32 - len)) as u64);
    }
    if r.gen_bool(0.5) {
        let len = r.gen_range(26..=32);
        m.set(Field::NwDst, (u32::MAX << (32 - len)) as u64);
    }
    if r.gen_bool(0.3) {
        m.set(Field::TpSrc, u64::MAX);
    }
    if r.gen_bool(0.4) {
        m.set(Field::TpDst, u64::MAX);
    }
    m
}

/// Column `j` of the hash's linear part: `hash(e_j) ^ hash(0)`.
fn column(j: usize) -> u32 {
    let mut k = FlowKey::ZERO;
    k.words[j / 64] = 1 << (j % 64);
    abi::hash_key(&k) ^ abi::hash_key(&FlowKey::ZERO)
}

/// Keys that all have exactly the hash of `base` — under the full mask and
/// under every mask covering `support` — built from the null space of the
/// CRC's linear map restricted to the key bits in `support` (CRC32-C is
/// linear, so `hash(k ^ d) = hash(k)` whenever `L(d) = 0`).
pub fn colliding_keys(
    base: &FlowKey,
    support: &[usize],
    count: usize,
    r: &mut StdRng,
) -> Vec<FlowKey> {
    assert!(support.iter().all(|&b| b < HW_KEY_BITS));
    // Gaussian elimination on the 32 x n matrix, columns = support bits.
    let n = support.len();
    let mut cols: Vec<u32> = support.iter().map(|&b| column(b)).collect();
    // Reduced form: track, for each column, the combination of support bits
    // (as a bitset over n) it stands for.
    let mut combo: Vec<Vec<bool>> = (0..n).map(|i| (0..n).map(|j| i == j).collect()).collect();
    let mut pivots: Vec<usize> = Vec::new();
    let mut kernel: Vec<Vec<bool>> = Vec::new();
    for i in 0..n {
        // Eliminate with earlier pivots.
        for &p in &pivots {
            let bit = 31 - cols[p].leading_zeros();
            if cols[i] >> bit & 1 == 1 {
                cols[i] ^= cols[p];
                let c = combo[p].clone();
                for (a, b) in combo[i].iter_mut().zip(c) {
                    *a ^= b;
                }
            }
        }
        if cols[i] == 0 {
            kernel.push(combo[i].clone());
        } else {
            // Keep pivots with distinct leading bits (reduce others by it).
            let bit = 31 - cols[i].leading_zeros();
            for &p in &pivots.clone() {
                if cols[p] >> bit & 1 == 1 {
                    cols[p] ^= cols[i];
                    let c = combo[i].clone();
                    for (a, b) in combo[p].iter_mut().zip(c) {
                        *a ^= b;
                    }
                }
            }
            pivots.push(i);
        }
    }
    assert!(!kernel.is_empty(), "support too small for a collision");
    let mut out = vec![*base];
    let mut seen = std::collections::HashSet::new();
    seen.insert(*base);
    while out.len() < count {
        let mut k = *base;
        for v in &kernel {
            if r.gen_bool(0.5) {
                for (j, &on) in v.iter().enumerate() {
                    if on {
                        let b = support[j];
                        k.words[b / 64] ^= 1 << (b % 64);
                    }
                }
            }
        }
        if seen.insert(k) {
            out.push(k);
        }
    }
    out
}

/// Bits of a field, for `colliding_keys` supports.
pub fn field_bits(f: Field) -> Vec<usize> {
    let d = f.def();
    (d.offset as usize..d.offset as usize + d.width as usize).collect()
}

/// Runs the lookups still queued, then replays the access log and the
/// results against the reference. Returns the results.
pub fn settle_and_check(
    nic: &mut Nic<SimNic>,
    replay: &mut Replay,
    keys: &[FlowKey],
) -> Vec<SimResult> {
    let sim = nic.device();
    sim.run_until_idle(10_000_000).expect("pipeline drains");
    let mut log: Vec<AccessRecord> = Vec::new();
    sim.take_access_log(&mut log);
    let mut res = Vec::new();
    sim.take_results(&mut res);
    replay.push_log(&log);
    replay.check(&res, |t| keys.get(t as usize).copied());
    res
}

pub fn assert_clean(r: &ReplayReport) {
    assert_eq!(
        r.mismatches, 0,
        "RTL differs from the reference: {:#?}",
        r.details
    );
}
