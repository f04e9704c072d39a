//! Hardware ≡ software: the Verilated pipeline (`sim::SimNic`, programmed
//! through `driver::Nic` — the real table-programming path) against the
//! software datapath (`fastpath::emc::Emc` + `fastpath::dpcls::Dpcls`) fed
//! the same entries, and against a naive oracle (a list of megaflows scanned
//! in order). Every lookup must resolve to the same flow (or miss) in all
//! three; every RTL result must also equal the register-level reference
//! model (`sim::reference`), including lookups that were in flight while a
//! command changed the tables.
//!
//! As in the datapath, EMC entries cache megaflow decisions: an EMC entry is
//! installed only for a key whose megaflow gives the same flow, and removed
//! with that megaflow. Megaflows never overlap (the slow path guarantees it),
//! so the decision does not depend on which table answered.
//!
//! CI runs ≥ 1 M lookups on the default (fast) simulation model and 250 K on
//! the exact RTL (`sim::ModelKind`); `FASTPATH_LONG=1` runs 20 times more.
//! A second scenario fills every megaflow table to ≥ 90 % (displacement
//! chains included) with IPv6 megaflows whose keys have all eight words
//! non-zero, then checks ≥ 1 M lookups (10 M with `FASTPATH_LONG=1`).
#![cfg(feature = "sim")]

use abi::action::ActionEntry;
use abi::regs::HitKind;
use abi::{Field, FlowKey};
use driver::{EmcPolicy, Nic, NicError};
use fastpath::dpcls::Dpcls;
use fastpath::emc::Emc;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sim::reference::Replay;
use sim::{ModelKind, SimNic, SimResult, GEOMETRY};
use std::collections::{HashMap, HashSet};

fn scale() -> u64 {
    if std::env::var("FASTPATH_LONG").is_ok_and(|v| v == "1") {
        20
    } else {
        1
    }
}

fn random_key(r: &mut StdRng) -> FlowKey {
    FlowKey::ZERO
        .with(Field::InPort, r.gen_range(1..=3))
        .with(Field::DlType, 0x0800)
        .with(Field::NwProto, [6, 17][r.gen_range(0..2)])
        .with(Field::NwSrc, 0x0a00_0000 | r.gen_range(0..256))
        .with(Field::NwDst, 0x0a01_0000 | r.gen_range(0..256))
        .with(Field::TpSrc, r.gen_range(1000..1064))
        .with(Field::TpDst, [53, 80, 443, 8080][r.gen_range(0..4)])
        .with(Field::NwTtl, 64)
}

/// Exact on in_port and dl_type (as every megaflow), plus random fields.
fn random_mask(r: &mut StdRng) -> FlowKey {
    let mut m = FlowKey::ZERO
        .with(Field::InPort, u64::MAX)
        .with(Field::DlType, u64::MAX);
    if r.gen_bool(0.6) {
        m.set(Field::NwProto, u64::MAX);
    }
    if r.gen_bool(0.6) {
        m.set(
            Field::NwSrc,
            (u32::MAX << (32 - r.gen_range(24..=32))) as u64,
        );
    }
    if r.gen_bool(0.6) {
        m.set(
            Field::NwDst,
            (u32::MAX << (32 - r.gen_range(24..=32))) as u64,
        );
    }
    if r.gen_bool(0.3) {
        m.set(Field::TpSrc, u64::MAX);
    }
    if r.gen_bool(0.5) {
        m.set(Field::TpDst, u64::MAX);
    }
    m
}

/// Two megaflows overlap iff they agree on every bit both masks cover.
fn overlaps(m1: &FlowKey, k1: &FlowKey, m2: &FlowKey, k2: &FlowKey) -> bool {
    let common = m1.masked(m2);
    k1.masked(&common) == k2.masked(&common)
}

struct Megaflow {
    slot: u8,
    mask: FlowKey,
    masked: FlowKey,
    flow: u32,
}

struct World {
    nic: Nic<SimNic>,
    emc: Emc,
    dpcls: Dpcls,
    /// The naive oracle: every installed megaflow, scanned in order.
    oracle: Vec<Megaflow>,
    /// The same megaflows by mask, then masked key: the oracle for tables
    /// too large to scan per lookup (megaflows never overlap, so at most
    /// one mask matches). Checked against the scan while that is cheap.
    by_mask: HashMap<FlowKey, HashMap<FlowKey, u32>>,
    masks: Vec<Option<FlowKey>>,
    emc_keys: HashMap<u32, Vec<FlowKey>>,
    live: HashSet<u32>,
    next_flow: u32,
    replay: Replay,
    keys: Vec<FlowKey>,
    stats: Stats,
}

#[derive(Default, Debug)]
struct Stats {
    lookups: u64,
    compared: u64,
    hw_emc: u64,
    hw_mf: u64,
    hw_miss: u64,
    sw_emc: u64,
    mf_installed: u64,
    mf_removed: u64,
    emc_installed: u64,
    table_full: u64,
}

impl World {
    fn new(r: &mut StdRng, kind: ModelKind) -> World {
        let mut w = World::empty(kind);
        for s in 0..GEOMETRY.mf_slots {
            w.set_mask(s, random_mask(r));
        }
        w
    }

    fn empty(kind: ModelKind) -> World {
        let mut sim = SimNic::with_model(kind).expect("Verilated model");
        assert_eq!(sim.kind(), kind);
        sim.set_access_log(true);
        let nic = Nic::open(sim).expect("Nic::open over SimNic");
        World {
            nic,
            emc: Emc::for_geometry(&GEOMETRY, 1).expect("software EMC"),
            dpcls: Dpcls::new(),
            oracle: Vec::new(),
            by_mask: HashMap::new(),
            masks: vec![None; GEOMETRY.mf_slots as usize],
            emc_keys: HashMap::new(),
            live: HashSet::new(),
            next_flow: 1,
            replay: Replay::new(GEOMETRY),
            keys: Vec::new(),
            stats: Stats::default(),
        }
    }

    fn set_mask(&mut self, slot: u8, mask: FlowKey) {
        // Distinct masks per slot, as an offload manager assigns them.
        if self.masks.contains(&Some(mask)) {
            return;
        }
        self.nic.set_mask(slot, &mask).expect("set_mask");
        self.masks[slot as usize] = Some(mask);
    }

    fn oracle_lookup(&self, key: &FlowKey) -> Option<u32> {
        let mut found = self
            .by_mask
            .iter()
            .filter_map(|(mask, t)| t.get(&key.masked(mask)).copied());
        let hit = found.next();
        assert_eq!(found.next(), None, "overlapping megaflows for {key:?}");
        if self.oracle.len() <= 512 {
            let scan = self
                .oracle
                .iter()
                .find(|m| key.matches(&m.mask, &m.masked))
                .map(|m| m.flow);
            assert_eq!(hit, scan, "oracle index vs scan for {key:?}");
        }
        hit
    }

    fn install_megaflow(&mut self, r: &mut StdRng) {
        let slot = r.gen_range(0..GEOMETRY.mf_slots);
        let Some(mask) = self.masks[slot as usize] else {
            return;
        };
        let key = random_key(r);
        let masked = key.masked(&mask);
        if self
            .oracle
            .iter()
            .any(|m| overlaps(&m.mask, &m.masked, &mask, &masked))
        {
            return;
        }
        self.install_megaflow_key(slot, &key);
    }

    /// Installs a megaflow that overlaps no installed one (the caller makes
    /// sure); the displacement moves it took, `None` when the table is full.
    fn install_megaflow_key(&mut self, slot: u8, key: &FlowKey) -> Option<u32> {
        let mask = self.masks[slot as usize].expect("slot has a mask");
        let masked = key.masked(&mask);
        let flow = self.next_flow;
        let moves = match self
            .nic
            .install_megaflow(slot, key, flow, &ActionEntry::TO_HOST)
        {
            Ok(ins) => ins.moves,
            Err(NicError::TableFull { .. }) => {
                self.stats.table_full += 1;
                return None;
            }
            Err(e) => panic!("install_megaflow: {e}"),
        };
        self.next_flow += 1;
        self.dpcls.insert(&mask, key, flow).expect("dpcls insert");
        self.oracle.push(Megaflow {
            slot,
            mask,
            masked,
            flow,
        });
        self.by_mask.entry(mask).or_default().insert(masked, flow);
        self.live.insert(flow);
        self.stats.mf_installed += 1;
        Some(moves)
    }

    fn remove_megaflow(&mut self, i: usize) {
        let m = self.oracle.swap_remove(i);
        let t = self.by_mask.get_mut(&m.mask).expect("indexed");
        assert_eq!(t.remove(&m.masked), Some(m.flow));
        if t.is_empty() {
            self.by_mask.remove(&m.mask);
        }
        self.nic
            .remove_megaflow(m.slot, &m.masked)
            .expect("remove_megaflow");
        assert_eq!(self.dpcls.remove(&m.mask, &m.masked), Some(m.flow));
        self.live.remove(&m.flow);
        // EMC entries caching this flow die with it (hardware: invalidated;
        // software: the flow is dead, and swept).
        for k in self.emc_keys.remove(&m.flow).unwrap_or_default() {
            if self.nic.emc_lookup(&k).is_some_and(|(_, f)| f == m.flow) {
                self.nic.remove_emc(&k).expect("remove_emc");
            }
        }
        self.emc.remove_flow(m.flow);
        self.stats.mf_removed += 1;
    }

    /// Caches a key's megaflow decision in both EMCs (the datapath's
    /// insert after a megaflow hit).
    fn install_emc(&mut self, key: &FlowKey) {
        let Some(flow) = self.oracle_lookup(key) else {
            return;
        };
        self.nic
            .install_emc(key, flow, &ActionEntry::TO_HOST, EmcPolicy::Ovs)
            .expect("install_emc");
        let live = &self.live;
        self.emc
            .insert(key, abi::hash_key(key), flow, |f| live.contains(&f));
        self.emc_keys.entry(flow).or_default().push(*key);
        self.stats.emc_installed += 1;
    }

    /// A key near an installed megaflow (so most lookups hit), or random.
    fn probe_key(&self, r: &mut StdRng) -> FlowKey {
        let k = random_key(r);
        self.probe_near(r, k)
    }

    /// `k` with the matched bits of a random installed megaflow (80 %), or
    /// `k` itself.
    fn probe_near(&self, r: &mut StdRng, mut k: FlowKey) -> FlowKey {
        if !self.oracle.is_empty() && r.gen_bool(0.8) {
            let m = &self.oracle[r.gen_range(0..self.oracle.len())];
            // Wildcarded bits random, matched bits from the megaflow.
            let inv = FlowKey::from_words(m.mask.words.map(|w| !w));
            let mut out = k.masked(&inv);
            for i in 0..abi::KEY_WORDS {
                out.words[i] |= m.masked.words[i];
            }
            k = out;
        }
        k
    }

    fn submit(&mut self, burst: &[FlowKey]) {
        let base = self.keys.len() as u32;
        let tags: Vec<u32> = (base..base + burst.len() as u32).collect();
        self.keys.extend_from_slice(burst);
        self.nic.device().submit(burst, &tags).expect("submit");
    }

    /// Runs the pipeline dry and checks every result against the reference
    /// model; with `compare_sw`, also against the software datapath and the
    /// oracle (only for results that were not in flight during a change).
    fn drain(&mut self, compare_sw: bool) {
        let sim = self.nic.device();
        sim.run_until_idle(50_000_000).expect("pipeline drains");
        let mut log = Vec::new();
        sim.take_access_log(&mut log);
        let mut res: Vec<SimResult> = Vec::new();
        sim.take_results(&mut res);
        self.replay.push_log(&log);
        let keys = &self.keys;
        self.replay.check(&res, |t| keys.get(t as usize).copied());
        self.stats.lookups += res.len() as u64;
        if compare_sw {
            self.compare(&res);
        }
        // Tags index `keys`; every result is in, so tags restart at 0.
        self.keys.clear();
    }

    fn compare(&mut self, res: &[SimResult]) {
        let mut out = [None; 1];
        for x in res {
            let key = self.keys[x.tag as usize];
            let hw = x.result().expect("result decodes");
            assert_eq!(x.hash, abi::hash_key(&key), "res_hash of {key:?}");
            let live = &self.live;
            let sw_emc = self
                .emc
                .lookup(&key, abi::hash_key(&key), |f| live.contains(&f));
            let sw = match sw_emc {
                Some(f) => {
                    self.stats.sw_emc += 1;
                    Some(f)
                }
                None => {
                    self.dpcls
                        .lookup_batch(std::slice::from_ref(&key), &mut out);
                    out[0]
                }
            };
            let oracle = self.oracle_lookup(&key);
            let hw_flow = match hw.kind {
                HitKind::Miss => {
                    self.stats.hw_miss += 1;
                    None
                }
                HitKind::Emc => {
                    self.stats.hw_emc += 1;
                    Some(hw.flow_id)
                }
                HitKind::Megaflow => {
                    self.stats.hw_mf += 1;
                    Some(hw.flow_id)
                }
            };
            assert_eq!(
                (hw_flow, sw),
                (oracle, oracle),
                "key {key:?}: hardware {hw:?}, software {sw:?}, oracle {oracle:?}"
            );
            self.stats.compared += 1;
        }
    }
}

#[test]
fn hardware_equals_software() {
    run(ModelKind::Fast, 1_000_000 * scale());
}

/// The exact model (hash units as emitted) is ~2.5× slower per clock.
#[test]
fn exact_hardware_equals_software() {
    run(ModelKind::Exact, 250_000 * scale());
}

fn run(kind: ModelKind, target: u64) {
    let mut r = StdRng::seed_from_u64(fastpath::io::gen::test_seed(0x5eed));
    let mut w = World::new(&mut r, kind);
    let mut round = 0u64;
    while w.stats.compared < target {
        round += 1;
        // Table changes with keys in flight.
        let burst: Vec<FlowKey> = (0..64).map(|_| w.probe_key(&mut r)).collect();
        w.submit(&burst);
        for _ in 0..8 {
            match r.gen_range(0..10) {
                0..=5 => w.install_megaflow(&mut r),
                6 if w.oracle.len() > 50 => {
                    let i = r.gen_range(0..w.oracle.len());
                    w.remove_megaflow(i);
                }
                7 | 8 => {
                    let k = w.probe_key(&mut r);
                    w.install_emc(&k);
                }
                _ if round.is_multiple_of(25) => {
                    // A slot gets a new mask: its megaflows go first.
                    let s = r.gen_range(0..GEOMETRY.mf_slots);
                    while let Some(i) = w.oracle.iter().position(|m| m.slot == s) {
                        w.remove_megaflow(i);
                    }
                    w.nic.clear_mask(s).expect("clear_mask");
                    w.masks[s as usize] = None;
                    w.set_mask(s, random_mask(&mut r));
                }
                _ => {}
            }
        }
        w.drain(false);
        // A quiescent burst: compared with software and oracle too.
        let burst: Vec<FlowKey> = (0..4096).map(|_| w.probe_key(&mut r)).collect();
        w.submit(&burst);
        w.drain(true);
        let rep = w.replay.report();
        assert_eq!(rep.mismatches, 0, "RTL vs reference: {:#?}", rep.details);
    }
    let rep = w.replay.report().clone();
    eprintln!("{:?}\n{rep:?}", w.stats);
    assert_eq!(rep.mismatches, 0);
    assert!(
        w.stats.hw_emc > 0 && w.stats.hw_mf > 0 && w.stats.hw_miss > 0,
        "{:?}",
        w.stats
    );
    assert!(w.stats.mf_removed > 0 && w.stats.emc_installed > 0);
}

/// An IPv6/TCP key with all eight key words non-zero; `in_port` is
/// `slot + 1`, so megaflows of different slots never overlap.
fn ipv6_key(r: &mut StdRng, slot: u8) -> FlowKey {
    let nz = |r: &mut StdRng| r.gen::<u64>() | 1;
    FlowKey::ZERO
        .with(Field::InPort, slot as u64 + 1)
        .with(Field::DlType, 0x86dd)
        .with(Field::DlDst, nz(r) & 0xffff_ffff_ffff)
        .with(Field::DlSrc, nz(r) & 0xffff_ffff_ffff)
        .with(Field::NwProto, 6)
        .with(Field::NwTtl, 64)
        .with(Field::Ipv6SrcHi, nz(r))
        .with(Field::Ipv6SrcLo, nz(r))
        .with(Field::Ipv6DstHi, nz(r))
        .with(Field::Ipv6DstLo, nz(r))
        .with(Field::TpSrc, r.gen_range(1..=u16::MAX as u64))
        .with(Field::TpDst, r.gen_range(1..=u16::MAX as u64))
        .with(Field::TcpFlags, 0x10)
}

/// Slot `s`'s mask: exact on in_port and dl_type, an IPv6 source prefix of
/// 64 + 8 s bits, the whole destination and (odd slots) both ports; the
/// masks differ per slot and cover key words 0, 3..=7.
fn ipv6_mask(s: u8) -> FlowKey {
    let mut m = FlowKey::ZERO
        .with(Field::InPort, u64::MAX)
        .with(Field::DlType, u64::MAX)
        .with(Field::Ipv6SrcHi, u64::MAX)
        .with(Field::Ipv6SrcLo, !(u64::MAX >> (8 * (s as u32 % 8))))
        .with(Field::Ipv6DstHi, u64::MAX)
        .with(Field::Ipv6DstLo, u64::MAX);
    if s % 2 == 1 {
        m.set(Field::TpSrc, u64::MAX);
        m.set(Field::TpDst, u64::MAX);
    }
    m
}

#[test]
fn full_tables_ipv6_hardware_equals_software() {
    let scale = if scale() > 1 { 10 } else { 1 };
    full_tables_ipv6(ModelKind::Fast, 1_000_000 * scale);
}

fn full_tables_ipv6(kind: ModelKind, target: u64) {
    let mut r = StdRng::seed_from_u64(0x1b6_f011);
    let mut w = World::empty(kind);
    let cap = GEOMETRY.mf_entries_per_slot() as usize;
    let mut max_moves = 0;
    let mut moved = 0u64;
    for s in 0..GEOMETRY.mf_slots {
        w.set_mask(s, ipv6_mask(s));
        // Fill until 96 % or until 16 installs in a row find no path.
        let (mut n, mut full_run) = (0usize, 0);
        while n * 100 < cap * 96 && full_run < 16 {
            let k = ipv6_key(&mut r, s);
            let masked = k.masked(&ipv6_mask(s));
            if w.by_mask
                .get(&ipv6_mask(s))
                .is_some_and(|t| t.contains_key(&masked))
            {
                continue;
            }
            match w.install_megaflow_key(s, &k) {
                Some(m) => {
                    n += 1;
                    full_run = 0;
                    max_moves = max_moves.max(m);
                    moved += (m > 0) as u64;
                }
                None => full_run += 1,
            }
        }
        let load = w.nic.megaflow_len(s) as f64 / cap as f64;
        assert!(load >= 0.9, "slot {s}: load {load:.3} ({n} of {cap})");
    }
    assert!(max_moves >= 3, "longest displacement chain {max_moves}");
    // EMC entries for keys of installed megaflows (the datapath caches
    // megaflow hits), more than the EMC holds: the OVS policy replaces.
    let mut cached = Vec::new();
    for _ in 0..2 * GEOMETRY.emc_entries() {
        let slot = r.gen_range(0..GEOMETRY.mf_slots);
        let k = ipv6_key(&mut r, slot);
        let k = w.probe_near(&mut r, k);
        w.install_emc(&k);
        cached.push(k);
    }
    w.drain(false);
    while w.stats.compared < target {
        // A quarter of the keys were cached in the EMCs (some since evicted).
        let burst: Vec<FlowKey> = (0..4096)
            .map(|_| {
                if r.gen_bool(0.25) {
                    return cached[r.gen_range(0..cached.len())];
                }
                let slot = r.gen_range(0..GEOMETRY.mf_slots);
                let k = ipv6_key(&mut r, slot);
                w.probe_near(&mut r, k)
            })
            .collect();
        assert!(burst.iter().all(|k| k.words.iter().all(|&x| x != 0)));
        w.submit(&burst);
        w.drain(true);
    }
    let rep = w.replay.report().clone();
    eprintln!(
        "{:?}\n{rep:?}\nlongest chain {max_moves}, {moved} installs moved residents",
        w.stats
    );
    assert_eq!(rep.mismatches, 0, "RTL vs reference: {:#?}", rep.details);
    assert!(
        w.stats.hw_emc > 0 && w.stats.sw_emc > 0 && w.stats.hw_mf > 0 && w.stats.hw_miss > 0,
        "{:?}",
        w.stats
    );
}
