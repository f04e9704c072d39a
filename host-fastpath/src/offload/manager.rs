//! The offload manager: which megaflows live in hardware, where, and what
//! their hardware counters have added up to.
//!
//! Software always holds every megaflow; hardware is a cache of them. So a
//! megaflow that does not fit (no mask slot, table full) is an offload
//! failure, never a lost flow: its packets miss in hardware and software
//! finds them. Each hardware entry is recorded with the flow it serves, so
//! a flow's deletion or modification invalidates its entries first, and a
//! port's removal touches only the entries of that port's flows.

use super::edits::EditTable;
use super::encode::{encode, HwActionSet, PartialReason};
use super::hw::{HwError, HwTables};
use super::policy::{auto_widen_pays, rank_slots, widen_target, WidenPolicy};
use super::OffloadCounters;
use crate::dpif::{DpFlow, Pmd};
use crate::FlowId;
use abi::action::{ActionEntry, EditEntry};
use abi::geometry::emc_candidates;
use abi::{hash_key, Field, FlowKey, Geometry};
use std::collections::HashMap;
use std::time::Instant;

/// Default offloaded-statistics delay: hardware counters are read only at
/// revalidation, so a flow offloaded less than this long ago is never
/// treated as idle (OVS's `offload-stats` delay, 2 s).
pub const DEFAULT_STATS_DELAY_NS: u64 = 2_000_000_000;
/// Default hardware EMC insertion probability 1/N for packets software
/// handled on a flow hardware does not cover. Lower than OVS's software 1/100
/// because a hardware EMC hit saves a whole software pass, yet high enough
/// that a flood of new flows writes only a few entries.
pub const DEFAULT_HW_EMC_INV_PROB: u32 = 16;
/// Default re-ranking interval in packets. Packets, not seconds: simulated
/// time runs far slower than the wall clock, and a packet count keeps runs
/// reproducible. At 10 Mpps this is ~OVS's 1 s.
pub const DEFAULT_RANK_INTERVAL: u64 = 1 << 14;

/// Offload configuration.
#[derive(Clone, Debug)]
pub struct OffloadConfig {
    /// Widening policy for megaflows whose mask has no slot.
    pub widen: WidenPolicy,
    /// Use at most this many of the device's mask slots.
    pub max_slots: Option<u8>,
    /// Hardware EMC insertion 1/N (0: no hardware EMC).
    pub emc_insert_inv_prob: u32,
    /// Packets between slot re-rankings.
    pub rank_interval_packets: u64,
    /// Offloaded-statistics delay, ns.
    pub stats_delay_ns: u64,
    /// Seed of the EMC insertion draws.
    pub seed: u64,
    /// Reserve the last slot for the union of the masks that have no slot of
    /// their own, so their flows can be widened into it (one entry per
    /// microflow: an exact-match table beside the EMC). Needs widening on.
    pub wide_slot: bool,
}

impl Default for OffloadConfig {
    fn default() -> Self {
        OffloadConfig {
            widen: WidenPolicy::Auto,
            max_slots: None,
            emc_insert_inv_prob: DEFAULT_HW_EMC_INV_PROB,
            rank_interval_packets: DEFAULT_RANK_INTERVAL,
            stats_delay_ns: DEFAULT_STATS_DELAY_NS,
            seed: 0x5eed,
            wide_slot: true,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Where {
    /// Megaflow entry in a mask slot (the flow's own mask or a wider one).
    Mf(u8),
    /// Hardware EMC entry.
    Emc,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    at: Where,
    /// Key of the entry (megaflow entries: any key inside; hardware masks it).
    key: FlowKey,
    /// Hardware hit counter value already credited to the flow.
    credited: u64,
    /// Hardware byte counter value already credited (modulo its width).
    credited_bytes: u64,
}

#[derive(Clone, Debug)]
struct HwFlow {
    mask: FlowKey,
    masked: FlowKey,
    ukey: FlowKey,
    /// Action word of every hardware entry of the flow.
    action: ActionEntry,
    /// What `encode` gave (the action before an edit index was chosen, the
    /// rewrite values), to tell an unchanged flow.
    encoded: (ActionEntry, Option<EditEntry>),
    /// Edit-table entry the flow holds (released when it is forgotten).
    edit: Option<u16>,
    /// Why `action` is `TO_HOST`, until counted (once, at the flow's first
    /// hardware entry).
    partial: Option<PartialReason>,
    entries: Vec<Entry>,
    /// Slot of the flow's own mask holds its entry.
    native: bool,
    /// Last native install failed as table-full in (slot, slot epoch).
    full_at: Option<(u8, u64)>,
    /// Counted once as "no slot".
    no_slot_counted: bool,
    offloaded_at_ns: Option<u64>,
    /// Non-first packets this ranking interval (hardware or software).
    interval_hits: u64,
    /// Bytes of hardware-handled packets seen by the host, not yet credited.
    pending_bytes: u64,
    pending_tcp_flags: u16,
}

#[derive(Clone, Copy, Debug)]
struct SlotInfo {
    mask: FlowKey,
    entries: usize,
    /// Bumped whenever an entry leaves the slot (a table-full retry may now succeed).
    epoch: u64,
}

/// Hardware state of one flow, for dumps and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FlowOffload {
    /// Native megaflow entry present.
    pub native: bool,
    /// Widened megaflow entries.
    pub widened: usize,
    /// Hardware EMC entries.
    pub emc: usize,
}

impl FlowOffload {
    /// Any hardware entry serves the flow.
    pub fn offloaded(&self) -> bool {
        self.native || self.widened > 0 || self.emc > 0
    }
}

/// The offload manager over hardware tables `H`.
pub struct OffloadManager<H: HwTables> {
    hw: H,
    cfg: OffloadConfig,
    geometry: Geometry,
    /// What the NIC's action stage executes.
    actions: HwActionSet,
    /// The edit table's entries and their flows.
    edits: EditTable,
    slots: Vec<Option<SlotInfo>>,
    /// Each slot's mask (kept in step with `slots`; the miss path reads it
    /// without allocating).
    masks: Vec<Option<FlowKey>>,
    flows: Vec<Option<HwFlow>>,
    /// Hardware EMC position → (key, flow).
    emc: HashMap<u32, (FlowKey, FlowId)>,
    /// Per minimal mask: widened entries made and hardware hits they earned.
    widen_trade: HashMap<FlowKey, (u64, u64)>,
    rng: u64,
    /// Counters.
    pub counters: OffloadCounters,
    /// Last device error (operations that fail leave flows in software).
    pub last_error: Option<String>,
    /// Hardware insert attempts, successes and their latency.
    pub insert_latency: InsertLatency,
    /// Hardware hits reach ranking and the widening trade through the
    /// entries' counters (read at [`OffloadManager::sync_stats`]), not
    /// through [`OffloadManager::on_hardware_packet`].
    hits_from_counters: bool,
}

/// Offload inserts and their latency, as `dpctl/offload-stats-show` prints
/// them. Inserts here are synchronous, so an insert's latency is the time
/// the device took to program it (OVS's also includes the offload thread's
/// queue wait).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct InsertLatency {
    /// Inserts tried.
    pub enqueued: u64,
    /// Inserts that succeeded.
    pub inserted: u64,
    /// Cumulative mean, µs (over every insert tried).
    pub mean_us: f64,
    m2: f64,
    /// Exponential moving average, µs (weight 1/16 per sample).
    pub ema_us: f64,
    /// Exponential moving variance, µs².
    pub ema_var: f64,
}

impl InsertLatency {
    /// Records one insert that took `d`.
    pub fn record(&mut self, d: std::time::Duration, ok: bool) {
        let x = d.as_secs_f64() * 1e6;
        self.enqueued += 1;
        self.inserted += ok as u64;
        // Welford's update: numerically stable mean and variance.
        let delta = x - self.mean_us;
        self.mean_us += delta / self.enqueued as f64;
        self.m2 += delta * (x - self.mean_us);
        if self.enqueued == 1 {
            self.ema_us = x;
        } else {
            let a = 1.0 / 16.0;
            let dev = x - self.ema_us;
            self.ema_us += a * dev;
            self.ema_var = (1.0 - a) * (self.ema_var + a * dev * dev);
        }
    }

    /// Cumulative standard deviation, µs.
    pub fn stddev_us(&self) -> f64 {
        if self.enqueued < 2 {
            0.0
        } else {
            (self.m2 / self.enqueued as f64).sqrt()
        }
    }
}

impl<H: HwTables> OffloadManager<H> {
    /// A manager of `hw` (whose tables must be empty).
    pub fn new(hw: H, cfg: OffloadConfig) -> Self {
        let geometry = hw.geometry();
        let actions = hw.action_set();
        let n = cfg
            .max_slots
            .map_or(geometry.mf_slots, |m| m.min(geometry.mf_slots)) as usize;
        let rng = cfg.seed | 1;
        OffloadManager {
            hw,
            cfg,
            geometry,
            actions,
            edits: EditTable::new(actions.edit_entries),
            slots: vec![None; n],
            masks: vec![None; n],
            flows: Vec::new(),
            emc: HashMap::new(),
            widen_trade: HashMap::new(),
            rng,
            counters: OffloadCounters::default(),
            last_error: None,
            insert_latency: InsertLatency::default(),
            hits_from_counters: false,
        }
    }

    /// The hardware.
    pub fn hw(&mut self) -> &mut H {
        &mut self.hw
    }

    /// The configuration.
    pub fn config(&self) -> &OffloadConfig {
        &self.cfg
    }

    /// Counts hardware hits and bytes (flow stats, slot ranking and the
    /// widening trade) from the entries' counters at each
    /// [`OffloadManager::sync_stats`] (as OVS's revalidator reads offloaded
    /// flows' stats): for a NIC that forwards frames itself, which the host
    /// never sees. Then [`OffloadManager::on_hardware_packet`] keeps only
    /// TCP flags, since the entry's counters already count the packet.
    pub fn set_hits_from_counters(&mut self, on: bool) {
        self.hits_from_counters = on;
    }

    /// Mask of each slot in use.
    pub fn slot_masks(&self) -> Vec<Option<FlowKey>> {
        self.masks.clone()
    }

    /// Hardware state of flow `id`.
    pub fn flow_offload(&self, id: FlowId) -> FlowOffload {
        let Some(f) = self.flows.get(id as usize).and_then(|f| f.as_ref()) else {
            return FlowOffload::default();
        };
        FlowOffload {
            native: f.native,
            widened: f
                .entries
                .iter()
                .filter(|e| matches!(e.at, Where::Mf(_)))
                .count()
                - f.native as usize,
            emc: f.entries.iter().filter(|e| e.at == Where::Emc).count(),
        }
    }

    /// Hardware entries in use (megaflow, EMC).
    pub fn entries(&self) -> (usize, usize) {
        let mf = self.slots.iter().flatten().map(|s| s.entries).sum();
        (mf, self.emc.len())
    }

    /// True when flow `id` was offloaded less than the statistics delay ago
    /// (revalidation must not expire it: its counters may still be in flight).
    pub fn recently_offloaded(&self, id: FlowId, now_ns: u64) -> bool {
        self.flows
            .get(id as usize)
            .and_then(|f| f.as_ref())
            .and_then(|f| f.offloaded_at_ns)
            .is_some_and(|t| now_ns.saturating_sub(t) < self.cfg.stats_delay_ns)
    }

    fn error(&mut self, e: HwError) {
        self.counters.offload_fail_device += 1;
        self.counters.offload_failures += 1;
        self.last_error = Some(e.to_string());
    }

    /// The manager's record of `id`, created (or reset when the id now names
    /// another flow) from `flow`.
    fn track(&mut self, id: FlowId, flow: &DpFlow) {
        let i = id as usize;
        if self.flows.len() <= i {
            self.flows.resize_with(i + 1, || None);
        }
        let (word, values, mut partial) = encode(&flow.actions, &self.actions);
        let encoded = (word, values);
        let same = self.flows[i]
            .as_ref()
            .is_some_and(|f| f.mask == flow.mask && f.masked == flow.key && f.encoded == encoded);
        if !same {
            if self.flows[i].is_some() {
                // Should not happen: deletions and modifications invalidate
                // first. Be safe: an entry must never carry another key or
                // an old action word.
                self.drop_entries(id, None);
            }
            let mut action = word;
            let mut edit = None;
            if let Some(v) = values {
                // The entry is written before any action word names it.
                match self.acquire_edit(&v) {
                    Ok(index) => {
                        action.edit_index = index;
                        edit = Some(index);
                    }
                    Err(why) => {
                        action = ActionEntry::TO_HOST;
                        partial = Some(why);
                    }
                }
            }
            self.flows[i] = Some(HwFlow {
                mask: flow.mask,
                masked: flow.key,
                ukey: flow.ukey,
                action,
                encoded,
                edit,
                partial,
                entries: Vec::new(),
                native: false,
                full_at: None,
                no_slot_counted: false,
                offloaded_at_ns: None,
                interval_hits: 0,
                pending_bytes: 0,
                pending_tcp_flags: 0,
            });
        }
    }

    /// An edit-table entry holding `v` for one more flow, written to the
    /// device when new; else why the flow is partial offload (never
    /// refused: the host makes the rewrite).
    fn acquire_edit(&mut self, v: &EditEntry) -> Result<u16, PartialReason> {
        let (index, new) = self.edits.acquire(v).ok_or(PartialReason::EditTableFull)?;
        if new {
            if let Err(e) = self.hw.write_edit(index, v) {
                self.edits.release(index);
                self.error(e);
                return Err(PartialReason::SetField);
            }
        }
        Ok(index)
    }

    /// Edit-table entries in use.
    pub fn edits_in_use(&self) -> usize {
        self.edits.in_use()
    }

    /// Counts a partial offload once per flow, at its first hardware entry.
    fn installed(&mut self, id: FlowId) {
        let Some(f) = self.flows.get_mut(id as usize).and_then(|f| f.as_mut()) else {
            return;
        };
        match f.partial.take() {
            None | Some(PartialReason::NoPacketPath) => {}
            Some(why) => {
                self.counters.offload_partial += 1;
                if why == PartialReason::EditTableFull {
                    self.counters.offload_partial_edit_full += 1;
                }
            }
        }
    }

    /// Slots given to masks by ranking (all but the wide slot, if any).
    fn ranked_slots(&self) -> usize {
        if self.has_wide_slot() {
            self.slots.len() - 1
        } else {
            self.slots.len()
        }
    }

    fn has_wide_slot(&self) -> bool {
        self.cfg.wide_slot && self.cfg.widen != WidenPolicy::Never && self.slots.len() > 1
    }

    fn slot_of(&self, mask: &FlowKey) -> Option<u8> {
        self.slots
            .iter()
            .position(|s| s.is_some_and(|s| s.mask == *mask))
            .map(|i| i as u8)
    }

    /// Installs flow `id`'s own megaflow entry in slot `slot`.
    fn install_native(&mut self, id: FlowId, slot: u8, now_ns: u64) {
        let Some(f) = self.flows.get(id as usize).and_then(|f| f.as_ref()) else {
            return;
        };
        let (ukey, action) = (f.ukey, f.action);
        let epoch = self.slots[slot as usize].map_or(0, |s| s.epoch);
        if f.native || f.full_at == Some((slot, epoch)) {
            return;
        }
        let t0 = Instant::now();
        let r = self.hw.install_megaflow(slot, &ukey, id, &action);
        self.insert_latency.record(t0.elapsed(), r.is_ok());
        match r {
            Ok(()) => {
                self.installed(id);
                self.counters.mf_installs += 1;
                if let Some(s) = self.slots[slot as usize].as_mut() {
                    s.entries += 1;
                }
                if let Some(f) = self.flows[id as usize].as_mut() {
                    f.native = true;
                    f.full_at = None;
                    f.offloaded_at_ns = Some(now_ns);
                    f.entries.push(Entry {
                        at: Where::Mf(slot),
                        key: ukey,
                        credited: 0,
                        credited_bytes: 0,
                    });
                }
            }
            Err(HwError::TableFull { .. }) => {
                self.counters.offload_fail_table_full += 1;
                self.counters.offload_failures += 1;
                if let Some(f) = self.flows[id as usize].as_mut() {
                    f.full_at = Some((slot, epoch));
                }
            }
            Err(e) => self.error(e),
        }
    }

    /// Software handled a packet of flow `id` (`upcall`: it was the packet
    /// that created or found the flow through an upcall). Places the flow in
    /// hardware if it can go there: its own slot (taking a free one), else
    /// widened into a covering slot per policy, else — for flows hit again —
    /// the hardware EMC with probability 1/N.
    pub fn on_software_packet(
        &mut self,
        pmd: &mut Pmd,
        id: FlowId,
        key: &FlowKey,
        upcall: bool,
        now_ns: u64,
    ) {
        let Some(flow) = pmd.flow(id) else { return };
        self.track(id, flow);
        let Some(f) = self.flows[id as usize].as_mut() else {
            return;
        };
        if !upcall {
            f.interval_hits += 1;
        }
        if f.native {
            return;
        }
        if f.mask.has_host_only_bits() {
            if !f.no_slot_counted {
                // The same once-per-flow flag: such a flow never gets a slot.
                f.no_slot_counted = true;
                self.counters.offload_host_only += 1;
            }
            return;
        }
        let mask = f.mask;
        let slot = match self.slot_of(&mask) {
            Some(s) => Some(s),
            None => match self.slots[..self.ranked_slots()]
                .iter()
                .position(|s| s.is_none())
            {
                Some(free) => self.assign_slot(pmd, free as u8, mask, now_ns),
                None => None,
            },
        };
        if let Some(slot) = slot {
            self.install_native(id, slot, now_ns);
        } else if let Some(f) = self.flows[id as usize].as_mut() {
            if !f.no_slot_counted {
                f.no_slot_counted = true;
                self.counters.offload_fail_no_slot += 1;
                self.counters.offload_failures += 1;
            }
        }
        if self.flows[id as usize].as_ref().is_some_and(|f| f.native) {
            return;
        }
        if self.try_widen(id, key, now_ns) || upcall {
            return;
        }
        self.maybe_emc(pmd, id, key, now_ns);
    }

    fn try_widen(&mut self, id: FlowId, key: &FlowKey, now_ns: u64) -> bool {
        if self.cfg.widen == WidenPolicy::Never {
            return false;
        }
        let Some(f) = self.flows[id as usize].as_ref() else {
            return false;
        };
        let mask = f.mask;
        let Some(slot) = widen_target(&mask, &self.masks) else {
            return false;
        };
        let Some(info) = self.slots[slot as usize] else {
            return false;
        };
        if f.entries
            .iter()
            .any(|e| e.at == Where::Mf(slot) && key.matches(&info.mask, &e.key.masked(&info.mask)))
        {
            return false;
        }
        let cap = self.geometry.mf_entries_per_slot() as usize;
        if self.cfg.widen == WidenPolicy::Auto {
            let (entries, hits) = self.widen_trade.get(&mask).copied().unwrap_or((0, 0));
            if !auto_widen_pays(entries, hits, info.entries, cap) {
                return false;
            }
        }
        let action = f.action;
        let t0 = Instant::now();
        let r = self.hw.install_megaflow(slot, key, id, &action);
        self.insert_latency.record(t0.elapsed(), r.is_ok());
        match r {
            Ok(()) => {
                self.installed(id);
                self.counters.widened_installs += 1;
                self.widen_trade.entry(mask).or_default().0 += 1;
                if let Some(s) = self.slots[slot as usize].as_mut() {
                    s.entries += 1;
                }
                if let Some(f) = self.flows[id as usize].as_mut() {
                    f.offloaded_at_ns = Some(now_ns);
                    f.entries.push(Entry {
                        at: Where::Mf(slot),
                        key: *key,
                        credited: 0,
                        credited_bytes: 0,
                    });
                }
                true
            }
            Err(HwError::TableFull { .. }) => {
                self.counters.offload_fail_table_full += 1;
                self.counters.offload_failures += 1;
                false
            }
            Err(e) => {
                self.error(e);
                false
            }
        }
    }

    fn next_rand(&mut self) -> u64 {
        // xorshift64*: cheap and good enough for an insertion coin.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Hardware EMC insertion with probability 1/N. The victim among the two
    /// candidates is an empty one, else the one with fewer hits since it was
    /// last credited: fresh entries of a flood (no hits yet) replace each
    /// other, never the busy entries of established flows.
    fn maybe_emc(&mut self, pmd: &mut Pmd, id: FlowId, key: &FlowKey, now_ns: u64) {
        let inv = self.cfg.emc_insert_inv_prob;
        // An ND frame's key is not exact in the NIC's hardware words (its
        // host-only ND words are not there), and the NIC sends ND frames
        // to the host anyway.
        if inv == 0 || key.is_nd() || !self.next_rand().is_multiple_of(inv as u64) {
            return;
        }
        let cands = emc_candidates(hash_key(key), self.geometry.emc_log2_entries);
        if cands
            .iter()
            .any(|c| self.emc.get(c).is_some_and(|e| e.0 == *key))
        {
            return;
        }
        let mut way = 0u8;
        let mut best: Option<u64> = None;
        for (w, c) in cands.iter().enumerate() {
            match self.emc.get(c).copied() {
                None => {
                    way = w as u8;
                    break;
                }
                Some((k, owner)) => {
                    let credited = self.entry_credited(owner, Where::Emc, &k);
                    let recent = match self.hw.emc_counts(&k) {
                        Ok(c) => c.hits.saturating_sub(credited),
                        Err(e) => {
                            self.error(e);
                            return;
                        }
                    };
                    if best.is_none_or(|b| recent < b) {
                        best = Some(recent);
                        way = w as u8;
                    }
                }
            }
        }
        let pos = cands[way as usize];
        if let Some((k, owner)) = self.emc.get(&pos).copied() {
            // Credit the victim's last hits before its counter is overwritten.
            self.remove_entry(pmd, owner, Where::Emc, &k, now_ns);
            self.counters.emc_evictions += 1;
        }
        let Some(action) = self.flows[id as usize].as_ref().map(|f| f.action) else {
            return;
        };
        let t0 = Instant::now();
        let r = self.hw.install_emc(key, id, &action, way);
        self.insert_latency.record(t0.elapsed(), r.is_ok());
        match r {
            Ok(()) => {
                self.installed(id);
                self.counters.emc_installs += 1;
                self.emc.insert(pos, (*key, id));
                if let Some(f) = self.flows[id as usize].as_mut() {
                    f.offloaded_at_ns = Some(now_ns);
                    f.entries.push(Entry {
                        at: Where::Emc,
                        key: *key,
                        credited: 0,
                        credited_bytes: 0,
                    });
                }
            }
            Err(e) => self.error(e),
        }
    }

    fn entry_credited(&self, id: FlowId, at: Where, key: &FlowKey) -> u64 {
        self.flows
            .get(id as usize)
            .and_then(|f| f.as_ref())
            .and_then(|f| f.entries.iter().find(|e| e.at == at && e.key == *key))
            .map_or(0, |e| e.credited)
    }

    /// Hardware handled a packet of `frame_len` bytes for flow `id` that the
    /// host saw (a look-aside lookup, or a marked frame). Without
    /// [`OffloadManager::set_hits_from_counters`] the host counts its bytes
    /// (a look-aside lookup carries no frame length to the NIC); with it, the
    /// entry's byte counter has them. `widened`: it hit an entry of a wider mask.
    #[inline]
    pub fn on_hardware_packet(
        &mut self,
        id: FlowId,
        frame_len: usize,
        tcp_flags: u16,
        widened: bool,
    ) {
        if let Some(f) = self.flows.get_mut(id as usize).and_then(|f| f.as_mut()) {
            if !self.hits_from_counters {
                f.interval_hits += 1;
            }
            if !self.hits_from_counters {
                f.pending_bytes += frame_len as u64;
            }
            f.pending_tcp_flags |= tcp_flags;
            if widened && !self.hits_from_counters {
                let mask = f.mask;
                self.widen_trade.entry(mask).or_default().1 += 1;
                self.counters.widened_hits += 1;
            }
        }
    }

    /// The mask of slot `slot`, if used (to tell widened hits apart).
    #[inline]
    pub fn slot_mask(&self, slot: u8) -> Option<FlowKey> {
        self.slots
            .get(slot as usize)
            .and_then(|s| s.map(|s| s.mask))
    }

    /// The minimal mask the manager recorded for flow `id`.
    #[inline]
    pub fn flow_mask(&self, id: FlowId) -> Option<FlowKey> {
        self.flows
            .get(id as usize)
            .and_then(|f| f.as_ref())
            .map(|f| f.mask)
    }

    /// Reads one entry's hardware counter and credits what is new to the flow.
    fn credit_entry(
        &mut self,
        pmd: &mut Pmd,
        id: FlowId,
        idx: usize,
        now_ns: u64,
    ) -> Result<(), HwError> {
        let Some(e) = self.flows[id as usize].as_ref().map(|f| f.entries[idx]) else {
            return Ok(());
        };
        let counts = match e.at {
            Where::Mf(slot) => self.hw.megaflow_counts(slot, &e.key)?,
            Where::Emc => self.hw.emc_counts(&e.key)?,
        };
        let hits = counts.hits;
        let delta = hits.saturating_sub(e.credited);
        // Bytes: a delta of the wrapping counter, added to the flow's 64 bits.
        let hw_bytes = counts.bytes_since(e.credited_bytes);
        let widened = match e.at {
            Where::Mf(slot) => self.slots[slot as usize].is_some_and(|s| {
                self.flows[id as usize]
                    .as_ref()
                    .is_some_and(|f| f.mask != s.mask)
            }),
            Where::Emc => false,
        };
        if let Some(f) = self.flows[id as usize].as_mut() {
            f.entries[idx].credited = hits;
            f.entries[idx].credited_bytes = counts.bytes;
            if self.hits_from_counters && delta > 0 {
                f.interval_hits += delta;
                if widened {
                    self.widen_trade.entry(f.mask).or_default().1 += delta;
                    self.counters.widened_hits += delta;
                }
            }
            let (mut bytes, flags) = (f.pending_bytes, f.pending_tcp_flags);
            if self.hits_from_counters {
                bytes += hw_bytes;
            }
            if delta > 0 || bytes > 0 {
                f.pending_bytes = 0;
                f.pending_tcp_flags = 0;
                pmd.credit_flow(id, delta, bytes, now_ns, flags);
                self.counters.hw_packets_credited += delta;
            }
        }
        Ok(())
    }

    /// Reads every hardware counter and credits the flows (revalidation
    /// calls this first, so `used` reflects hardware hits).
    pub fn sync_stats(&mut self, pmd: &mut Pmd, now_ns: u64) {
        for id in 0..self.flows.len() as FlowId {
            // Bytes of hits whose entry is gone (credited then) but which
            // the host accounted after that.
            if let Some(f) = self.flows[id as usize]
                .as_mut()
                .filter(|f| f.entries.is_empty() && f.pending_bytes > 0)
            {
                let (b, t) = (f.pending_bytes, f.pending_tcp_flags);
                f.pending_bytes = 0;
                f.pending_tcp_flags = 0;
                pmd.credit_flow(id, 0, b, now_ns, t);
            }
            let n = self.flows[id as usize]
                .as_ref()
                .map_or(0, |f| f.entries.len());
            for idx in 0..n {
                if let Err(e) = self.credit_entry(pmd, id, idx, now_ns) {
                    self.error(e);
                }
            }
        }
    }

    /// Credits and removes one entry of flow `id`.
    fn remove_entry(&mut self, pmd: &mut Pmd, id: FlowId, at: Where, key: &FlowKey, now_ns: u64) {
        let Some(idx) = self.flows[id as usize]
            .as_ref()
            .and_then(|f| f.entries.iter().position(|e| e.at == at && e.key == *key))
        else {
            return;
        };
        if let Err(e) = self.credit_entry(pmd, id, idx, now_ns) {
            self.error(e);
        }
        let r = match at {
            Where::Mf(slot) => self.hw.remove_megaflow(slot, key),
            Where::Emc => self.hw.remove_emc(key),
        };
        if let Err(e) = r {
            self.error(e);
        }
        self.counters.hw_removals += 1;
        self.forget_entry(id, idx);
    }

    /// Forgets entry `idx` of flow `id` (already gone from hardware).
    fn forget_entry(&mut self, id: FlowId, idx: usize) {
        let Some(f) = self.flows[id as usize].as_mut() else {
            return;
        };
        let e = f.entries.swap_remove(idx);
        match e.at {
            Where::Mf(slot) => {
                if e.key.masked(&f.mask) == f.masked
                    && self.slots[slot as usize].is_some_and(|s| s.mask == f.mask)
                {
                    f.native = false;
                }
                if let Some(s) = self.slots[slot as usize].as_mut() {
                    s.entries = s.entries.saturating_sub(1);
                    s.epoch += 1;
                }
            }
            Where::Emc => {
                let pos = emc_candidates(hash_key(&e.key), self.geometry.emc_log2_entries);
                for p in pos {
                    if self.emc.get(&p).is_some_and(|x| x.0 == e.key) {
                        self.emc.remove(&p);
                    }
                }
            }
        }
    }

    /// Removes every hardware entry of flow `id` (crediting their last hits
    /// when `pmd` is given) and forgets the flow. Called before software
    /// deletes or modifies the flow.
    fn drop_entries(&mut self, id: FlowId, mut pmd: Option<&mut Pmd>) {
        while let Some(e) = self.flows[id as usize]
            .as_ref()
            .and_then(|f| f.entries.last().copied())
        {
            match pmd.as_deref_mut() {
                Some(p) => self.remove_entry(p, id, e.at, &e.key, 0),
                None => {
                    let r = match e.at {
                        Where::Mf(slot) => self.hw.remove_megaflow(slot, &e.key),
                        Where::Emc => self.hw.remove_emc(&e.key),
                    };
                    if let Err(err) = r {
                        self.error(err);
                    }
                    let n = self.flows[id as usize]
                        .as_ref()
                        .map_or(0, |f| f.entries.len());
                    self.forget_entry(id, n - 1);
                }
            }
        }
        if let Some(index) = self.flows[id as usize].as_ref().and_then(|f| f.edit) {
            self.edits.release(index);
        }
        self.flows[id as usize] = None;
    }

    /// Invalidates flow `id`'s hardware entries, crediting their final hits,
    /// before software deletes or modifies it.
    pub fn invalidate(&mut self, pmd: &mut Pmd, id: FlowId) {
        if self.flows.get(id as usize).is_some_and(|f| f.is_some()) {
            let now = pmd.now_ns();
            // Credit with the real clock, then remove.
            let n = self.flows[id as usize]
                .as_ref()
                .map_or(0, |f| f.entries.len());
            for idx in 0..n {
                if let Err(e) = self.credit_entry(pmd, id, idx, now) {
                    self.error(e);
                }
            }
            self.drop_entries(id, Some(pmd));
        }
    }

    /// Clears slot `slot` (crediting its entries first) and sets `mask`;
    /// then installs every known flow of `mask`. Returns the slot on success.
    fn assign_slot(&mut self, pmd: &mut Pmd, slot: u8, mask: FlowKey, now_ns: u64) -> Option<u8> {
        if self.slots[slot as usize].is_some() {
            // Evict: credit and forget every entry in the slot; the flows
            // stay in software.
            for id in 0..self.flows.len() as FlowId {
                while let Some(idx) = self.flows[id as usize]
                    .as_ref()
                    .and_then(|f| f.entries.iter().position(|e| e.at == Where::Mf(slot)))
                {
                    if let Err(e) = self.credit_entry(pmd, id, idx, now_ns) {
                        self.error(e);
                    }
                    self.forget_entry(id, idx);
                    self.counters.entries_evicted += 1;
                }
            }
            self.counters.mask_evictions += 1;
            self.slots[slot as usize] = None;
            self.masks[slot as usize] = None;
            if let Err(e) = self.hw.clear_mask(slot) {
                self.error(e);
                return None;
            }
        }
        if let Err(e) = self.hw.set_mask(slot, &mask) {
            self.error(e);
            return None;
        }
        self.masks[slot as usize] = Some(mask);
        self.counters.mask_assignments += 1;
        self.slots[slot as usize] = Some(SlotInfo {
            mask,
            entries: 0,
            epoch: 0,
        });
        let ids: Vec<FlowId> = (0..self.flows.len() as FlowId)
            .filter(|&id| {
                self.flows[id as usize]
                    .as_ref()
                    .is_some_and(|f| f.mask == mask && !f.native)
            })
            .collect();
        for id in ids {
            if let Some(f) = self.flows[id as usize].as_mut() {
                f.full_at = None;
            }
            self.install_native(id, slot, now_ns);
        }
        Some(slot)
    }

    /// Re-ranks the mask slots by last-interval hits (see
    /// [`super::policy::rank_slots`]) and applies the changes; then starts a
    /// new interval. Flows no longer in `pmd` are skipped.
    pub fn rerank(&mut self, pmd: &mut Pmd, now_ns: u64) {
        let mut per_mask: HashMap<FlowKey, u64> = HashMap::new();
        for (id, f) in self.flows.iter_mut().enumerate() {
            let Some(f) = f else { continue };
            let alive = pmd
                .flow(id as FlowId)
                .is_some_and(|d| d.mask == f.mask && d.key == f.masked);
            if alive {
                *per_mask.entry(f.mask).or_default() += f.interval_hits;
            }
            f.interval_hits = 0;
        }
        let ranked = self.ranked_slots();
        let slots: Vec<Option<(FlowKey, u64)>> = self.slots[..ranked]
            .iter()
            .map(|s| s.map(|s| (s.mask, per_mask.get(&s.mask).copied().unwrap_or(0))))
            .collect();
        let own = |m: &FlowKey| slots.iter().flatten().any(|s| s.0 == *m);
        let cands: Vec<(FlowKey, u64)> = per_mask
            .iter()
            .filter(|(m, _)| !own(m))
            .map(|(m, h)| (*m, *h))
            .collect();
        for ch in rank_slots(&slots, &cands) {
            self.assign_slot(pmd, ch.slot, ch.mask, now_ns);
        }
        if self.has_wide_slot() {
            // The wide slot's mask: the union of every mask left without a
            // slot, so each of them is covered (a superset of its bits).
            let masks = self.slot_masks();
            let mut union = FlowKey::ZERO;
            for m in per_mask
                .keys()
                .filter(|m| !masks[..ranked].contains(&Some(**m)))
            {
                for (u, w) in union.words.iter_mut().zip(m.words) {
                    *u |= w;
                }
            }
            if union != FlowKey::ZERO && masks[ranked] != Some(union) {
                self.assign_slot(pmd, ranked as u8, union, now_ns);
            }
        }
        self.counters.reranks += 1;
    }

    /// Flows of `port` the manager tracks (their ids).
    pub fn flows_of_port(&self, port: u32) -> Vec<FlowId> {
        self.flows
            .iter()
            .enumerate()
            .filter_map(|(i, f)| {
                f.as_ref()
                    .filter(|f| f.ukey.get(Field::InPort) == port as u64)
                    .map(|_| i as FlowId)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::InsertLatency;
    use std::time::Duration;

    #[test]
    fn insert_latency_mean_and_deviation() {
        let mut l = InsertLatency::default();
        for (us, ok) in [(10, true), (20, true), (30, false), (40, true)] {
            l.record(Duration::from_micros(us), ok);
        }
        assert_eq!((l.enqueued, l.inserted), (4, 3));
        assert!((l.mean_us - 25.0).abs() < 1e-9);
        // Population deviation of 10, 20, 30, 40.
        assert!((l.stddev_us() - 125f64.sqrt()).abs() < 1e-9);
        assert!(l.ema_us > 10.0 && l.ema_us < 25.0);
    }
}
