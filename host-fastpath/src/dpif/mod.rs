//! Datapath: the pipeline (extract → EMC → dpcls → upcall) and the flow table with its lifecycle.
//!
//! One [`Pmd`] is one packet-processing thread, as in Open vSwitch's
//! dpif-netdev: it owns its exact-match cache, megaflow classifier and flow
//! table; the OpenFlow tables ([`OfProto`]) are shared read-only between
//! threads. A burst of up to [`BURST`] frames is extracted, looked up in the
//! EMC, the misses in the megaflow classifier in one batch, and what is still
//! missed goes to the upcall: translate, install the megaflow (unless it is
//! already there or the flow limit is reached), execute.
//!
//! Lifecycle ([`Pmd::revalidate`]): idle flows expire after `max_idle`
//! (100 ms when over the flow limit; everything goes when over twice the
//! limit), every flow is re-translated when the rules changed (kept,
//! actions modified, or deleted when it would need more bits), and the
//! dynamic flow limit moves with how long the pass took — all as OVS's
//! revalidator threads do.

mod offload_hooks;
pub use offload_hooks::RevalidationPlan;

use crate::dpcls::Dpcls;
use crate::emc::{Emc, NO_FLOW};
use crate::extract::{extract_batch_with, ExtractConfig, ExtractStats};
use crate::odp::{self, ExecStats, OdpAction};
use crate::ofproto::{OfProto, RuleIds};
use crate::{FlowId, BURST};
use abi::{Field, FlowKey};
use std::time::Instant;

/// Default upper limit on installed megaflows (OVS `other_config:flow-limit`).
pub const DEFAULT_FLOW_LIMIT: usize = 200_000;
/// Starting value of the dynamic flow limit (OVS udpif `flow_limit` at start).
pub const INITIAL_DYNAMIC_LIMIT: usize = 10_000;
/// Default idle timeout (OVS `other_config:max-idle`), ms.
pub const DEFAULT_MAX_IDLE_MS: u64 = 10_000;
/// Idle timeout while over the flow limit, ms.
pub const OVER_LIMIT_MAX_IDLE_MS: u64 = 100;
/// Revalidation period (OVS `max-revalidator`), ms.
pub const REVALIDATE_INTERVAL_MS: u64 = 500;

/// Datapath configuration.
#[derive(Clone, Debug)]
pub struct DpConfig {
    /// Hard limit on megaflows.
    pub flow_limit: usize,
    /// Idle timeout, ms.
    pub max_idle_ms: u64,
    /// EMC entries (power of two).
    pub emc_entries: u32,
    /// EMC insertion 1-in-N (0 disables the EMC).
    pub emc_insert_inv_prob: u32,
    /// Extraction settings (`vlan-limit`, default 1 as ovs-vswitchd).
    pub extract: ExtractConfig,
}

impl Default for DpConfig {
    fn default() -> Self {
        Self {
            flow_limit: DEFAULT_FLOW_LIMIT,
            max_idle_ms: DEFAULT_MAX_IDLE_MS,
            emc_entries: 8192,
            emc_insert_inv_prob: crate::emc::DEFAULT_INSERT_INV_PROB,
            extract: ExtractConfig::default(),
        }
    }
}

/// One installed megaflow.
#[derive(Clone, Debug)]
pub struct DpFlow {
    /// Masked key.
    pub key: FlowKey,
    /// Mask.
    pub mask: FlowKey,
    /// Full key of the packet that created it (re-translated on revalidation).
    pub ukey: FlowKey,
    /// Datapath actions.
    pub actions: Vec<OdpAction>,
    /// Packets (the one that caused the upcall is not counted, as in OVS).
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
    /// Last use, ns on the datapath clock (creation time until used).
    pub used_ns: u64,
    /// Whether any packet hit it since creation.
    pub ever_used: bool,
    /// OR of the TCP flags seen.
    pub tcp_flags: u16,
    /// Rules its translation matched (Open vSwitch's xlate cache): their
    /// `idle_timeout` counts from this flow's last use, pushed at revalidation.
    pub rules: RuleIds,
}

/// Counters of one PMD (what `dpif-netdev/pmd-perf-show` prints).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PmdStats {
    /// Packets received.
    pub packets: u64,
    /// Bytes received.
    pub bytes: u64,
    /// EMC hits.
    pub emc_hits: u64,
    /// Megaflow (dpcls) hits.
    pub megaflow_hits: u64,
    /// Subtables searched by dpcls lookups that hit.
    pub subtable_lookups: u64,
    /// Packets that missed both caches (upcalls).
    pub upcalls: u64,
    /// Upcalls that installed a new megaflow.
    pub upcall_installs: u64,
    /// Upcalls whose megaflow another packet of the same burst had just installed.
    pub upcall_existing: u64,
    /// Upcalls not installed because the flow limit was reached (actions still ran).
    pub upcall_flow_limit: u64,
    /// Packets neither forwarded nor dropped: their flow was gone when its
    /// actions were to run (none expected; `packets = forwarded + dropped + lost`).
    pub lost: u64,
    /// Upcalls whose install failed in the classifier (actions still ran).
    pub upcall_install_failed: u64,
    /// Nanoseconds spent in upcalls (translate + install), timed per burst
    /// by [`Pmd::process_keys`] (a caller of [`Pmd::upcall`] times its own).
    pub upcall_ns: u64,
    /// Subtables visited by translations.
    pub xlate_subtables: u64,
    /// Copies sent to ports (a packet output to three ports counts three).
    pub tx_packets: u64,
    /// Packets that left on at least one port.
    pub forwarded: u64,
    /// Packets dropped: by their actions (no output), or runts.
    pub dropped: u64,
    /// Runts: frames shorter than an Ethernet header, dropped before
    /// classification (also counted in `dropped`; Open vSwitch's
    /// `datapath_drop_rx_invalid_packet`).
    pub runts: u64,
    /// Megaflows deleted by revalidation (idle or no longer valid).
    pub flows_deleted: u64,
    /// Megaflows whose actions revalidation changed.
    pub flows_modified: u64,
}

impl PmdStats {
    /// Every counter of `self` and `o` combined by `f`.
    fn zip(&self, o: &PmdStats, f: impl Fn(u64, u64) -> u64) -> PmdStats {
        PmdStats {
            packets: f(self.packets, o.packets),
            bytes: f(self.bytes, o.bytes),
            emc_hits: f(self.emc_hits, o.emc_hits),
            megaflow_hits: f(self.megaflow_hits, o.megaflow_hits),
            subtable_lookups: f(self.subtable_lookups, o.subtable_lookups),
            upcalls: f(self.upcalls, o.upcalls),
            upcall_installs: f(self.upcall_installs, o.upcall_installs),
            upcall_existing: f(self.upcall_existing, o.upcall_existing),
            upcall_flow_limit: f(self.upcall_flow_limit, o.upcall_flow_limit),
            lost: f(self.lost, o.lost),
            upcall_install_failed: f(self.upcall_install_failed, o.upcall_install_failed),
            upcall_ns: f(self.upcall_ns, o.upcall_ns),
            xlate_subtables: f(self.xlate_subtables, o.xlate_subtables),
            tx_packets: f(self.tx_packets, o.tx_packets),
            forwarded: f(self.forwarded, o.forwarded),
            dropped: f(self.dropped, o.dropped),
            runts: f(self.runts, o.runts),
            flows_deleted: f(self.flows_deleted, o.flows_deleted),
            flows_modified: f(self.flows_modified, o.flows_modified),
        }
    }

    /// Adds `o`'s counts (to sum the threads of a run).
    pub fn accumulate(&mut self, o: &PmdStats) {
        *self = self.zip(o, u64::wrapping_add);
    }

    /// Counts since `earlier` (a snapshot of the same PMD).
    pub fn since(&self, earlier: &PmdStats) -> PmdStats {
        self.zip(earlier, u64::saturating_sub)
    }
}

/// What an upcall did with a packet.
#[derive(Debug)]
pub enum Upcall {
    /// The megaflow was already installed (by an earlier packet of the burst).
    Existing(FlowId),
    /// Translated and installed as this megaflow: run its actions
    /// ([`Pmd::flow`]) on the packet. The flow owns the only copy of the
    /// actions (an upcall copied them once per install before).
    Installed(FlowId),
    /// Translated but not installed (over the flow limit, or the install
    /// failed): run `actions` on the packet.
    Executed {
        /// Actions for this packet.
        actions: Vec<OdpAction>,
        /// The rules the translation matched.
        rules: RuleIds,
    },
}

impl Upcall {
    /// The megaflow the packet belongs to after the upcall, if any.
    pub fn flow(&self) -> Option<FlowId> {
        match self {
            Upcall::Existing(id) | Upcall::Installed(id) => Some(*id),
            Upcall::Executed { .. } => None,
        }
    }
}

/// Where each packet of a burst landed (see [`Pmd::process_keys`]).
#[derive(Clone, Copy, Debug)]
pub struct BurstOutcome {
    /// The megaflow each packet belongs to after the burst (None: lost, or
    /// translated without an install).
    pub flows: [Option<FlowId>; BURST],
    /// Bit i set: packet i went through an upcall.
    pub upcalls: u32,
}

/// Where output packets go.
pub trait PacketSink {
    /// Called for each output action.
    fn output(&mut self, port: u32, frame: &[u8]);
    /// Called for each copy to the controller with the whole packet (what
    /// is delivered is its first `c.max_len` bytes); sinks without a
    /// controller sink ignore it.
    fn controller(&mut self, _c: &odp::ControllerAction, _in_port: u32, _frame: &[u8]) {}
}

/// A sink that counts per port.
#[derive(Default, Debug, Clone)]
pub struct CountingSink {
    /// (port, packets, bytes), sorted by port.
    pub ports: Vec<(u32, u64, u64)>,
    /// Copies handed to the controller.
    pub controller: u64,
}

impl PacketSink for CountingSink {
    #[inline]
    fn output(&mut self, port: u32, frame: &[u8]) {
        match self.ports.binary_search_by_key(&port, |p| p.0) {
            Ok(i) => {
                self.ports[i].1 += 1;
                self.ports[i].2 += frame.len() as u64;
            }
            Err(i) => self.ports.insert(i, (port, 1, frame.len() as u64)),
        }
    }

    fn controller(&mut self, _c: &odp::ControllerAction, _in_port: u32, _frame: &[u8]) {
        self.controller += 1;
    }
}

/// Errors creating a datapath.
#[derive(Debug, thiserror::Error)]
pub enum DpifError {
    /// Bad EMC geometry.
    #[error("EMC: {0}")]
    Emc(#[from] crate::emc::EmcError),
}

/// One packet-processing thread's datapath.
pub struct Pmd {
    /// EMC.
    pub emc: Emc,
    /// Megaflow classifier.
    pub dpcls: Dpcls,
    flows: Vec<Option<DpFlow>>,
    alive: Vec<bool>,
    free: Vec<FlowId>,
    n_flows: usize,
    /// Configuration.
    pub config: DpConfig,
    /// Dynamic flow limit (≤ `config.flow_limit`).
    pub dynamic_limit: usize,
    /// Counters.
    pub stats: PmdStats,
    /// Extraction counters.
    pub extract_stats: ExtractStats,
    /// Action execution counters.
    pub exec_stats: ExecStats,
    scratch: Vec<u8>,
    start: Instant,
    /// [`OfProto::generation`] the flows were last revalidated against.
    pub(crate) of_generation: u64,
    /// Megaflows installed during the current burst (mask, masked key, id).
    recent: Vec<(FlowKey, FlowKey, FlowId)>,
    /// When `Some`, each packet whose upcall no flow's statistics count (it
    /// installed its flow, or was translated without an install) is recorded
    /// here with the rules it went through and its length, for a caller that
    /// keeps per-rule statistics: OVS credits those packets to their rules
    /// through the translation. The caller drains it after each burst.
    pub uncounted: Option<Vec<(RuleIds, u64)>>,
}

impl Pmd {
    /// A datapath with `config`.
    pub fn new(config: DpConfig) -> Result<Self, DpifError> {
        // Room for the flows the starting flow limit admits, reserved (not
        // touched) up front: growing by doubling copied every flow (320
        // bytes each) again at each step while upcalls installed them.
        let expected = INITIAL_DYNAMIC_LIMIT.min(config.flow_limit);
        Ok(Self {
            emc: Emc::new(config.emc_entries, config.emc_insert_inv_prob)?,
            dpcls: Dpcls::new(),
            flows: Vec::with_capacity(expected),
            alive: Vec::with_capacity(expected),
            free: Vec::new(),
            n_flows: 0,
            dynamic_limit: INITIAL_DYNAMIC_LIMIT.min(config.flow_limit),
            config,
            stats: PmdStats::default(),
            extract_stats: ExtractStats::default(),
            exec_stats: ExecStats::default(),
            scratch: Vec::with_capacity(2048),
            start: Instant::now(),
            of_generation: 0,
            recent: Vec::with_capacity(BURST),
            uncounted: None,
        })
    }

    /// Nanoseconds since the datapath started (its clock for `used`).
    pub fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Moves the clock's zero to `start` (e.g. when the rules were loaded,
    /// so rule timeouts and flow use share one clock). Only for a datapath
    /// with no flows yet: stamps taken before would shift.
    pub fn set_clock_start(&mut self, start: Instant) {
        debug_assert_eq!(self.n_flows, 0);
        self.start = start;
    }

    /// Installed megaflows.
    pub fn n_flows(&self) -> usize {
        self.n_flows
    }

    /// The flow limit in force.
    pub fn flow_limit(&self) -> usize {
        self.dynamic_limit.min(self.config.flow_limit)
    }

    /// Every installed megaflow.
    pub fn flows(&self) -> impl Iterator<Item = (FlowId, &DpFlow)> {
        self.flows
            .iter()
            .enumerate()
            .filter_map(|(i, f)| f.as_ref().map(|f| (i as FlowId, f)))
    }

    /// A flow by id.
    pub fn flow(&self, id: FlowId) -> Option<&DpFlow> {
        self.flows.get(id as usize).and_then(|f| f.as_ref())
    }

    /// Installs a megaflow; gives the actions back if it could not.
    fn install(
        &mut self,
        ukey: &FlowKey,
        mask: FlowKey,
        actions: Vec<OdpAction>,
        rules: RuleIds,
        now: u64,
    ) -> Result<FlowId, (Vec<OdpAction>, RuleIds)> {
        let key = ukey.masked(&mask);
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                self.flows.push(None);
                self.alive.push(false);
                (self.flows.len() - 1) as FlowId
            }
        };
        if id == NO_FLOW {
            self.stats.upcall_install_failed += 1;
            return Err((actions, rules));
        }
        if self.dpcls.insert(&mask, &key, id).is_err() {
            self.free.push(id);
            self.stats.upcall_install_failed += 1;
            return Err((actions, rules));
        }
        self.flows[id as usize] = Some(DpFlow {
            key,
            mask,
            ukey: *ukey,
            actions,
            packets: 0,
            bytes: 0,
            used_ns: now,
            ever_used: false,
            tcp_flags: 0,
            rules,
        });
        self.alive[id as usize] = true;
        self.n_flows += 1;
        Ok(id)
    }

    /// Deletes a flow now; its id is reused only after EMC entries pointing
    /// to it are swept ([`Pmd::release_dead`]).
    fn delete(&mut self, id: FlowId) -> Option<DpFlow> {
        let f = self.flows.get_mut(id as usize)?.take()?;
        self.alive[id as usize] = false;
        self.recent.retain(|r| r.2 != id);
        self.dpcls.remove(&f.mask, &f.key);
        self.n_flows -= 1;
        self.stats.flows_deleted += 1;
        Some(f)
    }

    fn release_dead(&mut self, dead: Vec<FlowId>) {
        if dead.is_empty() {
            return;
        }
        let alive = &self.alive;
        self.emc
            .sweep_all(|id| alive.get(id as usize).copied().unwrap_or(false));
        self.free.extend(dead);
    }

    /// Processes a burst of at most [`BURST`] frames received on `in_port`.
    pub fn process_burst(
        &mut self,
        of: &OfProto,
        frames: &[&[u8]],
        in_port: u32,
        sink: &mut dyn PacketSink,
    ) {
        let mut keys = [FlowKey::ZERO; BURST];
        let mut hashes = [0u32; BURST];
        let n = self.extract_burst(frames, in_port, &mut keys, &mut hashes);
        self.process_keys(of, &frames[..n], &keys[..n], &hashes[..n], in_port, sink);
    }

    /// Extracts the keys and EMC hashes of the first [`BURST`] of `frames`
    /// (malformed ones counted in `extract_stats`); returns how many.
    #[inline]
    pub fn extract_burst(
        &mut self,
        frames: &[&[u8]],
        in_port: u32,
        keys: &mut [FlowKey; BURST],
        hashes: &mut [u32; BURST],
    ) -> usize {
        let n = frames.len().min(BURST);
        extract_batch_with(
            &frames[..n],
            in_port,
            &self.config.extract,
            &mut keys[..n],
            &mut hashes[..n],
            &mut self.extract_stats,
        );
        n
    }

    /// The datapath after extract: frames with their keys and EMC hashes
    /// already computed (by [`crate::extract::extract_batch`], or by a NIC that missed them)
    /// go through EMC → classifier → upcall and are executed. Returns where
    /// each packet landed, so a caller need not look it up again.
    pub fn process_keys(
        &mut self,
        of: &OfProto,
        frames: &[&[u8]],
        keys: &[FlowKey],
        hashes: &[u32],
        in_port: u32,
        sink: &mut dyn PacketSink,
    ) -> BurstOutcome {
        let n = frames.len().min(keys.len()).min(hashes.len()).min(BURST);
        self.begin_burst();
        let now = self.now_ns();
        let mut ids: [Option<FlowId>; BURST] = [None; BURST];
        let mut landed: [Option<FlowId>; BURST] = [None; BURST];
        let alive = &self.alive;
        let is_alive = |id: FlowId| alive.get(id as usize).copied().unwrap_or(false);
        // Runts are dropped before classification, as OVS's dfc_processing
        // does: their key holds only the in port.
        let mut runts = 0u32;
        for (i, f) in frames[..n].iter().enumerate() {
            if f.len() < crate::extract::ETH_HEADER_LEN {
                runts |= 1 << i;
            }
        }
        let emc_hits = self
            .emc
            .lookup_batch(&keys[..n], &hashes[..n], &mut ids[..n], is_alive)
            & !runts;
        self.stats.emc_hits += emc_hits.count_ones() as u64;
        let all = if n == BURST {
            u32::MAX
        } else {
            (1u32 << n) - 1
        };
        let mut miss = all & !emc_hits & !runts;
        if miss != 0 {
            // Gather the EMC misses and look them up in one dpcls batch.
            let mut mk = [FlowKey::ZERO; BURST];
            let mut idx = [0usize; BURST];
            let mut m = 0;
            let mut bits = miss;
            while bits != 0 {
                let i = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                mk[m] = keys[i];
                idx[m] = i;
                m += 1;
            }
            let mut out: [Option<FlowId>; BURST] = [None; BURST];
            let mut visited = 0;
            let found = self
                .dpcls
                .lookup_batch_counted(&mk[..m], &mut out[..m], &mut visited);
            self.stats.subtable_lookups += visited;
            self.stats.megaflow_hits += found.count_ones() as u64;
            for j in 0..m {
                if let Some(id) = out[j] {
                    let i = idx[j];
                    ids[i] = Some(id);
                    miss &= !(1 << i);
                    let alive = &self.alive;
                    self.emc
                        .probabilistic_insert(&keys[i], hashes[i], id, |id| {
                            alive.get(id as usize).copied().unwrap_or(false)
                        });
                }
            }
        }
        // Upcalls, one packet at a time; a packet whose megaflow an earlier
        // packet of this burst just installed finds it here.
        let mut upcall_actions: [Option<Vec<OdpAction>>; BURST] = Default::default();
        let upcalls = miss;
        if miss != 0 {
            // One clock read pair per burst, not per upcall (two reads were
            // ~2 % of an upcall).
            let t0 = Instant::now();
            while miss != 0 {
                let i = miss.trailing_zeros() as usize;
                miss &= miss - 1;
                let up = self.upcall(of, &keys[i], now);
                if let Some(u) = self.uncounted.as_mut() {
                    let len = frames[i].len() as u64;
                    match &up {
                        Upcall::Existing(_) => {}
                        Upcall::Installed(id) => {
                            if let Some(f) = self.flows.get(*id as usize).and_then(|f| f.as_ref()) {
                                u.push((f.rules.clone(), len));
                            }
                        }
                        Upcall::Executed { rules, .. } => u.push((rules.clone(), len)),
                    }
                }
                match up {
                    Upcall::Existing(id) => ids[i] = Some(id),
                    Upcall::Installed(id) => landed[i] = Some(id),
                    Upcall::Executed { actions, .. } => upcall_actions[i] = Some(actions),
                }
            }
            self.stats.upcall_ns += t0.elapsed().as_nanos() as u64;
        }
        // Execute.
        for i in 0..n {
            let len = frames[i].len() as u64;
            self.stats.packets += 1;
            self.stats.bytes += len;
            if runts & (1 << i) != 0 {
                self.stats.runts += 1;
                self.stats.dropped += 1;
                continue;
            }
            let acts: &[OdpAction] = if let Some(a) = &upcall_actions[i] {
                a
            } else if let Some(id) = landed[i] {
                // Its upcall installed this megaflow: it runs the flow's
                // actions but, as in OVS, is not counted in its statistics.
                match self.flows.get(id as usize).and_then(|f| f.as_ref()) {
                    Some(f) => &f.actions,
                    None => {
                        self.stats.lost += 1;
                        continue;
                    }
                }
            } else if let Some(id) = ids[i] {
                landed[i] = Some(id);
                match self.flows.get_mut(id as usize).and_then(|f| f.as_mut()) {
                    Some(f) => {
                        f.packets += 1;
                        f.bytes += len;
                        f.used_ns = now;
                        f.ever_used = true;
                        if keys[i].get(Field::NwProto) == 6 {
                            f.tcp_flags |= keys[i].get(Field::TcpFlags) as u16;
                        }
                        &f.actions
                    }
                    None => {
                        self.stats.lost += 1;
                        continue;
                    }
                }
            } else {
                self.stats.lost += 1;
                continue;
            };
            let outs = run_actions(
                acts,
                frames[i],
                &keys[i],
                in_port,
                &mut self.scratch,
                &mut self.exec_stats,
                sink,
            );
            if outs == 0 {
                self.stats.dropped += 1;
            } else {
                self.stats.forwarded += 1;
            }
            self.stats.tx_packets += outs;
        }
        BurstOutcome {
            flows: landed,
            upcalls,
        }
    }

    /// Starts a burst: forgets the previous burst's installs. Call before
    /// [`Pmd::upcall`] when driving upcalls directly (tests, benchmarks).
    pub fn begin_burst(&mut self) {
        self.recent.clear();
    }

    /// Handles one packet that missed both caches (OVS `handle_packet_upcall`):
    /// look the megaflow up again (an earlier packet may have installed it),
    /// else translate, install unless over the flow limit, and say which
    /// actions to run on this packet: the installed flow's, or (not
    /// installed) the translation's. The packet is not counted in the
    /// flow's statistics.
    pub fn upcall(&mut self, of: &OfProto, key: &FlowKey, now: u64) -> Upcall {
        self.stats.upcalls += 1;
        // The key missed the classifier when its burst was looked up, so only
        // a megaflow installed since (by an earlier packet of this burst) can
        // hold it: check those few instead of searching every subtable again
        // (OVS searches again because its PMDs race; this one is the only writer).
        if let Some(&(_, _, id)) = self.recent.iter().find(|(m, k, _)| key.matches(m, k)) {
            self.stats.upcall_existing += 1;
            return Upcall::Existing(id);
        }
        let t = of.translate(key, false);
        self.stats.xlate_subtables += t.subtables_visited as u64;
        of.note_used(&t.rules, now / 1_000_000);
        // Learning is this upcall's side effect (OVS allow_side_effects).
        of.learn(&t.learn, now / 1_000_000);
        of.learn_flows(&t.learned, now / 1_000_000);
        if self.n_flows == 0 {
            // No flow predates this translation, so none needs
            // re-translating for earlier rule changes.
            self.of_generation = of.generation();
        }
        if self.n_flows >= self.flow_limit() {
            self.stats.upcall_flow_limit += 1;
        } else {
            match self.install(key, t.mask, t.actions, t.rules, now) {
                Ok(id) => {
                    self.stats.upcall_installs += 1;
                    self.recent.push((t.mask, key.masked(&t.mask), id));
                    return Upcall::Installed(id);
                }
                Err((actions, rules)) => return Upcall::Executed { actions, rules },
            }
        }
        Upcall::Executed {
            actions: t.actions,
            rules: t.rules,
        }
    }

    /// Ranks the classifier's subtables if a second has passed (OVS does this per PMD).
    pub fn housekeeping(&mut self) {
        self.dpcls.maybe_rank(Instant::now());
    }

    /// One revalidation pass: expire idle flows, re-translate every flow
    /// against `of` when `rules_changed`, adjust the dynamic flow limit.
    /// Returns (deleted, modified).
    pub fn revalidate(&mut self, of: &OfProto, rules_changed: bool) -> (usize, usize) {
        // One implementation for both users: the offload layer plans first so
        // it can invalidate hardware entries before the flows are freed.
        let plan = self.plan_revalidation(of, rules_changed, |_| false);
        self.apply_revalidation(plan)
    }

    /// Deletes every flow.
    pub fn flush(&mut self) {
        let ids: Vec<FlowId> = self.flows().map(|(id, _)| id).collect();
        for &id in &ids {
            self.delete(id);
        }
        self.release_dead(ids);
    }
}

/// Runs a megaflow's actions on one frame and returns how many copies were
/// output (0: dropped). Output-only action lists send the frame as it is; any
/// rewrite works on a copy in `scratch`, so the received frame is never
/// modified. Shared by the software datapath and the hybrid datapath's
/// hardware-handled packets, so both execute exactly the same way.
#[inline]
pub(crate) fn run_actions(
    acts: &[OdpAction],
    frame: &[u8],
    key: &FlowKey,
    in_port: u32,
    scratch: &mut Vec<u8>,
    exec: &mut ExecStats,
    sink: &mut dyn PacketSink,
) -> u64 {
    if acts.iter().all(|a| matches!(a, OdpAction::Output(_))) {
        for a in acts {
            if let OdpAction::Output(p) = a {
                sink.output(*p, frame);
            }
        }
        return acts.len() as u64;
    }
    scratch.clear();
    scratch.extend_from_slice(frame);
    // Both callbacks need the sink; a copy to the controller counts as an
    // output too (the packet left the datapath).
    let outs = std::cell::Cell::new(0u64);
    let sink = std::cell::RefCell::new(sink);
    odp::execute_with_controller(
        acts,
        scratch,
        key,
        in_port,
        exec,
        &mut |p, f| {
            sink.borrow_mut().output(p, f);
            outs.set(outs.get() + 1);
        },
        &mut |c, f| {
            sink.borrow_mut().controller(c, in_port, f);
            outs.set(outs.get() + 1);
        },
    );
    outs.get()
}

/// Formats a flow as `ovs-appctl dpctl/dump-flows` does.
pub fn format_dump_flow(f: &DpFlow, now_ns: u64) -> String {
    let used = if f.ever_used {
        format!("{:.3}s", now_ns.saturating_sub(f.used_ns) as f64 / 1e9)
    } else {
        "never".to_string()
    };
    let mut s = format!(
        "{}, packets:{}, bytes:{}, used:{}",
        crate::ofproto::format::format_dp_flow(&f.key, &f.mask),
        f.packets,
        f.bytes,
        used
    );
    if f.tcp_flags != 0 {
        let names = crate::ofproto::parse::tcp_flag_names();
        let v: Vec<&str> = names
            .iter()
            .filter(|(_, b)| f.tcp_flags & b != 0)
            .map(|(n, _)| *n)
            .collect();
        s.push_str(&format!(", flags:{}", v.join("|")));
    }
    s.push_str(&format!(", actions:{}", odp::format_actions(&f.actions)));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::frames::{frame_from_key, MIN_FRAME};
    use crate::ofproto::{parse_flow, parse_rules, Prefixes};

    /// Upcall packets are in no flow's count: `uncounted` hands them, with
    /// their rules, to a caller keeping rule statistics.
    #[test]
    fn uncounted_upcall_packets_are_reported_with_their_rules() {
        let of = OfProto::with_rules(
            parse_rules(
                "priority=5,udp,actions=output:2\npriority=0,actions=drop\n",
                "t",
            )
            .unwrap(),
            Prefixes::default(),
        );
        let mut pmd = Pmd::new(DpConfig::default()).unwrap();
        pmd.uncounted = Some(Vec::new());
        let udp = frame_from_key(
            &parse_flow("in_port=1,udp,nw_src=10.0.0.1,nw_dst=10.0.0.2,tp_dst=9")
                .unwrap()
                .key(),
            MIN_FRAME,
        );
        let arp = frame_from_key(&parse_flow("in_port=1,arp").unwrap().key(), MIN_FRAME);
        let frames: Vec<&[u8]> = vec![&udp, &udp, &arp, &udp];
        pmd.process_burst(&of, &frames, 1, &mut CountingSink::default());
        let u = pmd.uncounted.take().unwrap();
        // One install per megaflow; the other two UDP packets are in its count.
        let mut got: Vec<(Vec<u32>, u64)> = u.iter().map(|(r, l)| (r.to_vec(), *l)).collect();
        got.sort();
        assert_eq!(
            got,
            vec![(vec![0], udp.len() as u64), (vec![1], arp.len() as u64)]
        );
        let counted: u64 = pmd.flows().map(|(_, f)| f.packets).sum();
        assert_eq!(counted + u.len() as u64, 4);
    }
}
