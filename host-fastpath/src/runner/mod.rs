//! `fastpath run` as a library: load traffic, drive it through the datapath
//! in bursts of [`BURST`] (the NIC first when there is one: with a packet
//! path or look-aside, [`drive_one`] over the same [`SwitchDatapath`]
//! object `fastpath switch` drives), expire
//! rules with timeouts, spread packets over threads by flow hash (RSS), and
//! return one [`RunStats`] for every `--nic` plus what [`report::text`]
//! prints.

pub mod report;

use crate::dpif::{format_dump_flow, REVALIDATE_INTERVAL_MS};
use crate::dpif::{CountingSink, DpConfig, DpifError, PacketSink, Pmd, PmdStats};
use crate::io::classbench::{header_frame, load_trace, LoadTraceError};
use crate::io::frames::{frame_from_key, MIN_FRAME};
use crate::io::gen::{flows_inside, zipf_sequence, GenSpec, Rng};
use crate::io::pcap::{PcapError, PcapReader, PcapWriter};
use crate::nic_spec::NicSpec;
use crate::offload::{HwError, OffloadConfig};
use crate::ofproto::OfProto;
use crate::stats::{RunStats, Timing};
use crate::switch::SwitchDatapath;
use crate::BURST;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};
use thiserror::Error;

/// Why a run failed; each step that can fail has its variant.
#[derive(Debug, Error)]
pub enum RunError {
    /// Reading `--pcap`.
    #[error("--pcap {0}")]
    Pcap(#[source] PcapError),
    /// Reading `--classbench-trace`.
    #[error("--classbench-trace {0}")]
    Trace(#[source] LoadTraceError),
    /// `--gen` over a rule table with no rules.
    #[error("--gen: the rule file has no rules to draw flows from")]
    GenNoRules,
    /// The input holds no packet.
    #[error("no packets to run")]
    NoPackets,
    /// Creating a packet thread's datapath.
    #[error("creating the datapath")]
    Datapath(#[source] DpifError),
    /// Writing `--out-pcap` files.
    #[error("--out-pcap {0}")]
    OutPcap(#[source] PcapError),
    /// A packet thread panicked.
    #[error("packet thread panicked")]
    ThreadPanicked,
    /// A packet thread panicked while it held the rule table.
    #[error("rule table lock poisoned by a failed packet thread")]
    LockPoisoned,
    /// The NIC failed during a burst (the burst itself was handled in software).
    #[error("simulated NIC")]
    Hw(#[source] HwError),
    /// Building the Verilated model.
    #[cfg(feature = "sim")]
    #[error("--nic sim: creating the Verilated model")]
    SimModel(#[source] sim::SimError),
    /// Opening the pipeline behind a NIC.
    #[error("--nic {nic}: opening the {what} pipeline")]
    NicOpen {
        /// The `--nic` given.
        nic: NicSpec,
        /// `simulated` or `fastpath`.
        what: &'static str,
        /// Why.
        source: driver::NicError,
    },
    /// Built without the simulated NIC.
    #[error("--nic sim: this fastpath was built without the `sim` feature; use --nic none")]
    NoSim,
    /// The packet path's burst loop fed a NIC that carries no frames.
    #[error("--nic {nic}: the NIC announces no MAC ports (no packet path)")]
    NoPacketPath {
        /// The `--nic` given.
        nic: NicSpec,
    },
    /// Opening a board through VFIO.
    #[cfg(target_os = "linux")]
    #[error("--nic vfio:{bdf}: opening the device")]
    VfioOpen {
        /// Its PCI address.
        bdf: String,
        /// Why.
        source: driver::vfio::VfioError,
    },
    /// A board opened, but frames cannot reach it yet.
    #[error(
        "--nic vfio:{bdf}: {nic} is up, but on a board lookups come from the wire and this build \
         has no packet I/O for it yet; use --nic sim to run traces"
    )]
    NoPacketIo {
        /// Its PCI address.
        bdf: String,
        /// The opened NIC, as its `Debug` prints it.
        nic: String,
    },
    /// VFIO is Linux-only.
    #[error("--nic vfio:{bdf}: VFIO exists only on Linux")]
    NoVfio {
        /// Its PCI address.
        bdf: String,
    },
}

/// Where packets come from.
#[derive(Clone, Debug)]
pub enum Input {
    /// A classic libpcap file (Ethernet).
    Pcap(PathBuf),
    /// A ClassBench header trace.
    ClassBench(PathBuf),
    /// Synthetic flows drawn inside the rules.
    Gen(GenSpec),
}

/// Distinct frames and the order they are sent in (indices into `frames`).
pub struct Traffic {
    /// One frame per flow (or per packet for files).
    pub frames: Vec<Vec<u8>>,
    /// Indices into `frames`, in sending order.
    pub seq: Vec<u32>,
}

impl Traffic {
    /// Reads or generates `input`; generated flows arrive on `in_port`.
    pub fn load(input: &Input, of: &OfProto, in_port: u32) -> Result<Traffic, RunError> {
        let (frames, seq) = match input {
            Input::Pcap(p) => {
                let frames = PcapReader::open(p)
                    .and_then(|r| r.read_all())
                    .map_err(RunError::Pcap)?;
                let seq = (0..frames.len() as u32).collect();
                (frames, seq)
            }
            Input::ClassBench(p) => {
                let hdrs = load_trace(p).map_err(RunError::Trace)?;
                let frames: Vec<Vec<u8>> = hdrs.iter().map(header_frame).collect();
                let seq = (0..frames.len() as u32).collect();
                (frames, seq)
            }
            Input::Gen(spec) => {
                let mut rng = Rng::new(spec.seed);
                let keys = flows_inside(&of.rules, spec.flows, &mut rng, in_port);
                if keys.is_empty() {
                    return Err(RunError::GenNoRules);
                }
                let frames: Vec<Vec<u8>> =
                    keys.iter().map(|k| frame_from_key(k, MIN_FRAME)).collect();
                let seq = zipf_sequence(frames.len(), spec.zipf, spec.packets, &mut rng);
                (frames, seq)
            }
        };
        if seq.is_empty() {
            return Err(RunError::NoPackets);
        }
        Ok(Traffic { frames, seq })
    }

    /// Packets in one pass.
    pub fn len(&self) -> usize {
        self.seq.len()
    }

    /// Whether a pass has no packet.
    pub fn is_empty(&self) -> bool {
        self.seq.is_empty()
    }
}

/// How to run.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The NIC tier (or none).
    pub nic: NicSpec,
    /// Packet threads (software only; a NIC is driven from one).
    pub threads: usize,
    /// Port the packets arrive on.
    pub in_port: u32,
    /// Timed passes over the traffic.
    pub loops: u32,
    /// Untimed passes first (each followed by a revalidation).
    pub warmup: u32,
    /// Each packet thread's datapath.
    pub dp: DpConfig,
    /// The offload manager (with a NIC).
    pub offload: OffloadConfig,
    /// Write each port's output to PREFIX-portN.pcap (one thread only).
    pub out_pcap: Option<String>,
    /// Write the packets sent to the controller to this pcap file (one
    /// thread only).
    pub controller_pcap: Option<String>,
    /// Also render the megaflows in `dpctl/dump-flows` format.
    pub dump_flows: bool,
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// The counters (`--stats-json`).
    pub stats: RunStats,
    /// Rule subtables at the end.
    pub rule_subtables: usize,
    /// The NIC as the report names it (`None`: software only).
    pub nic_desc: Option<String>,
    /// The offload manager's last error, if any.
    pub last_offload_error: Option<String>,
    /// Bytes sent, per output port.
    pub tx_bytes: BTreeMap<u32, u64>,
    /// `dpctl/dump-flows` text, if [`RunConfig::dump_flows`].
    pub dump_flows: Option<String>,
}

/// Called as packets are processed with how many more went through.
pub type Progress<'a> = &'a (dyn Fn(u64) + Sync);

/// Runs `traffic` through the datapath `cfg` names. `loaded` is when the
/// rules were loaded: their timeouts count from it.
pub fn run(
    cfg: &RunConfig,
    of: OfProto,
    loaded: Instant,
    traffic: &Traffic,
    progress: Progress<'_>,
) -> Result<RunOutcome, RunError> {
    match &cfg.nic {
        NicSpec::None => run_software(cfg, of, loaded, traffic, progress),
        NicSpec::Sim => run_inline(cfg, of, loaded, traffic, progress),
        NicSpec::SimLookup => run_sim(cfg, of, loaded, traffic, progress),
        NicSpec::Vfio(bdf) => run_vfio(bdf),
    }
}

#[inline]
fn rdtsc() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: RDTSC only reads the time-stamp counter; it has no memory
        // effects and is available on every x86_64 CPU.
        #[allow(unused_unsafe)]
        unsafe {
            core::arch::x86_64::_rdtsc()
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        0
    }
}

/// RSS-like spreading: by a hash of the frame's address and port bytes.
pub fn rss(frame: &[u8], threads: usize) -> usize {
    if threads <= 1 {
        return 0;
    }
    let mut h: u32 = 0x811c_9dc5;
    for &b in frame.iter().skip(26).take(12) {
        h = (h ^ b as u32).wrapping_mul(0x0100_0193);
    }
    h as usize % threads
}

/// Removes the rules of `of` whose timeout passed by now, on the clock that
/// started at `epoch` (when the rules were loaded); returns how many.
pub fn expire_rules(of: &mut OfProto, epoch: Instant) -> usize {
    of.expire(epoch.elapsed().as_millis() as u64).len()
}

/// Counts every port's output and, with `--out-pcap`, writes it to the
/// port's own pcap file.
struct Sink {
    counts: CountingSink,
    pcap: Option<PcapFiles>,
    ctl: crate::odp::controller::ControllerSink,
}

struct PcapFiles {
    prefix: String,
    files: HashMap<u32, PcapWriter<BufWriter<File>>>,
    error: Option<PcapError>,
    ts: u64,
}

impl Sink {
    fn new(cfg: &RunConfig) -> Result<Self, RunError> {
        let out_pcap = &cfg.out_pcap;
        let ctl = crate::odp::controller::ControllerSink::new(
            cfg.controller_pcap.as_deref().map(std::path::Path::new),
            false,
        )
        .map_err(RunError::OutPcap)?;
        Ok(Sink {
            ctl,
            counts: CountingSink::default(),
            pcap: out_pcap.as_ref().map(|p| PcapFiles {
                prefix: p.clone(),
                files: HashMap::new(),
                error: None,
                ts: 0,
            }),
        })
    }

    /// Closes the files; the first write error is the run's.
    fn finish(mut self) -> Result<CountingSink, RunError> {
        self.ctl.finish().map_err(RunError::OutPcap)?;
        if let Some(p) = self.pcap {
            let mut err = p.error;
            for (_, w) in p.files {
                if let Err(e) = w.finish() {
                    err.get_or_insert(e);
                }
            }
            if let Some(e) = err {
                return Err(RunError::OutPcap(e));
            }
        }
        Ok(self.counts)
    }
}

impl PacketSink for Sink {
    fn controller(&mut self, c: &crate::odp::ControllerAction, in_port: u32, frame: &[u8]) {
        self.counts.controller(c, in_port, frame);
        self.ctl.deliver(c, in_port, frame);
    }

    fn output(&mut self, port: u32, frame: &[u8]) {
        self.counts.output(port, frame);
        let Some(p) = &mut self.pcap else { return };
        if p.error.is_some() {
            return;
        }
        p.ts += 1000;
        let w = match p.files.entry(port) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let path = PathBuf::from(format!("{}-port{port}.pcap", p.prefix));
                match PcapWriter::create(&path) {
                    Ok(w) => v.insert(w),
                    Err(e) => {
                        p.error = Some(e);
                        return;
                    }
                }
            }
        };
        if let Err(e) = w.write(p.ts, frame) {
            p.error = Some(e);
        }
    }
}

/// The rule tables shared by the packet threads: read-locked while packets
/// run, write-locked between bursts only to expire rules with timeouts.
struct SharedRules {
    of: RwLock<OfProto>,
    /// Whether any rule has a timeout (else nobody ever takes the write lock).
    timed: bool,
    /// The clock rules and flows share: `add_rule` stamps are relative to it.
    epoch: Instant,
    expired: AtomicU64,
}

impl SharedRules {
    fn read(&self) -> Result<RwLockReadGuard<'_, OfProto>, RunError> {
        self.of.read().map_err(|_| RunError::LockPoisoned)
    }

    /// Between bursts: gives up `held`, removes rules whose timeout passed
    /// and reads the table again. Their megaflows are re-translated by each
    /// thread's next revalidation (the table generation changed).
    fn expire<'a>(
        &'a self,
        held: RwLockReadGuard<'a, OfProto>,
    ) -> Result<RwLockReadGuard<'a, OfProto>, RunError> {
        if !self.timed {
            return Ok(held);
        }
        drop(held);
        {
            let mut of = self.of.write().map_err(|_| RunError::LockPoisoned)?;
            of.apply_learned();
            let gone = expire_rules(&mut of, self.epoch) as u64;
            self.expired.fetch_add(gone, Ordering::Relaxed);
        }
        self.read()
    }
}

struct ThreadResult {
    pmd: Pmd,
    sink: CountingSink,
    ns: u64,
    cycles: u64,
}

fn run_thread(
    cfg: &RunConfig,
    rules: &SharedRules,
    traffic: &Traffic,
    seq: &[u32],
    progress: Progress<'_>,
) -> Result<ThreadResult, RunError> {
    let mut pmd = Pmd::new(cfg.dp.clone()).map_err(RunError::Datapath)?;
    pmd.set_clock_start(rules.epoch);
    let mut sink = Sink::new(cfg)?;
    let mut burst: Vec<&[u8]> = Vec::with_capacity(BURST);
    let mut scratch = CountingSink::default();
    // The read guard is held across bursts and released only at
    // housekeeping, so the per-burst path takes no lock.
    let mut of = rules.read()?;
    for _ in 0..cfg.warmup {
        for chunk in seq.chunks(BURST) {
            burst.clear();
            burst.extend(chunk.iter().map(|&i| traffic.frames[i as usize].as_slice()));
            pmd.process_burst(&of, &burst, cfg.in_port, &mut scratch);
        }
        pmd.housekeeping();
        of = rules.expire(of)?;
        pmd.revalidate(&of, false);
    }
    pmd.stats = PmdStats::default();
    pmd.dpcls.rank();
    let start = Instant::now();
    let c0 = rdtsc();
    let mut last_reval = Instant::now();
    let mut n_bursts = 0u64;
    for _ in 0..cfg.loops {
        for chunk in seq.chunks(BURST) {
            burst.clear();
            burst.extend(chunk.iter().map(|&i| traffic.frames[i as usize].as_slice()));
            pmd.process_burst(&of, &burst, cfg.in_port, &mut sink);
            n_bursts += 1;
            if n_bursts.is_multiple_of(256) {
                progress(256 * BURST as u64);
                pmd.housekeeping();
                if last_reval.elapsed() >= Duration::from_millis(REVALIDATE_INTERVAL_MS) {
                    of = rules.expire(of)?;
                    pmd.revalidate(&of, false);
                    last_reval = Instant::now();
                }
            }
        }
    }
    let cycles = rdtsc().wrapping_sub(c0);
    let ns = start.elapsed().as_nanos() as u64;
    drop(of);
    Ok(ThreadResult {
        pmd,
        sink: sink.finish()?,
        ns,
        cycles,
    })
}

/// The stats table of software packet threads `pmds` added up (megaflows
/// and masks summed, the largest flow limit), over timing `t`.
pub fn software_stats<'a>(nic: &str, pmds: impl Iterator<Item = &'a Pmd>, t: &Timing) -> RunStats {
    let mut st = PmdStats::default();
    let (mut threads, mut flows, mut masks, mut malformed, mut limit) = (0, 0, 0, 0u64, 0);
    for p in pmds {
        threads += 1;
        st.accumulate(&p.stats);
        flows += p.n_flows();
        masks += p.dpcls.mask_count();
        malformed += p.extract_stats.malformed();
        limit = limit.max(p.flow_limit());
    }
    let mut js = RunStats::from_pmd(nic, threads, &st, malformed, t);
    js.megaflows = flows;
    js.masks = masks;
    js.flow_limit = limit;
    js
}

/// `--nic none`: `cfg.threads` packet threads, packets spread by flow hash.
fn run_software(
    cfg: &RunConfig,
    of: OfProto,
    loaded: Instant,
    traffic: &Traffic,
    progress: Progress<'_>,
) -> Result<RunOutcome, RunError> {
    let threads = cfg.threads.max(1);
    let mut shares: Vec<Vec<u32>> = vec![Vec::new(); threads];
    for &i in &traffic.seq {
        shares[rss(&traffic.frames[i as usize], threads)].push(i);
    }
    let rules = SharedRules {
        // Learned rules go in at the same points as expiry.
        timed: of.has_timeouts() || of.uses_learn_any(),
        of: RwLock::new(of),
        epoch: loaded,
        expired: AtomicU64::new(0),
    };
    let results: Vec<Result<ThreadResult, RunError>> = std::thread::scope(|s| {
        let handles: Vec<_> = shares
            .iter()
            .map(|share| {
                let rules = &rules;
                s.spawn(move || run_thread(cfg, rules, traffic, share, progress))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(Err(RunError::ThreadPanicked)))
            .collect()
    });
    let res = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    let rules_expired = rules.expired.into_inner();
    let of = rules.of.into_inner().map_err(|_| RunError::LockPoisoned)?;

    let mut tx: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    let (mut ns, mut cycles) = (0u64, 0u64);
    for r in &res {
        ns = ns.max(r.ns);
        cycles += r.cycles;
        for &(p, n, b) in &r.sink.ports {
            let t = tx.entry(p).or_default();
            t.0 += n;
            t.1 += b;
        }
    }
    let timing = Timing {
        seconds: ns as f64 / 1e9,
        busy_ns: res.iter().map(|r| r.ns).sum(),
        cycles,
    };
    let mut js = software_stats(&cfg.nic.to_string(), res.iter().map(|r| &r.pmd), &timing);
    js.rules = of.n_rules();
    js.rules_expired = rules_expired;
    js.tx_ports = tx.iter().map(|(&p, &(n, _))| (p, n)).collect();
    js.controller = res.iter().map(|r| r.sink.controller).sum();
    let dump_flows = cfg.dump_flows.then(|| {
        let mut s = String::new();
        for (i, r) in res.iter().enumerate() {
            let _ = writeln!(s, "flow-dump from pmd on cpu core: {i}");
            let now = r.pmd.now_ns();
            for (_, f) in r.pmd.flows() {
                let _ = writeln!(s, "{}", format_dump_flow(f, now));
            }
        }
        s
    });
    Ok(RunOutcome {
        stats: js,
        rule_subtables: of.n_subtables(),
        nic_desc: None,
        last_offload_error: None,
        tx_bytes: tx.iter().map(|(&p, &(_, b))| (p, b)).collect(),
        dump_flows,
    })
}

#[cfg(target_os = "linux")]
fn run_vfio(bdf: &str) -> Result<RunOutcome, RunError> {
    let dev = driver::vfio::open(bdf).map_err(|source| RunError::VfioOpen {
        bdf: bdf.into(),
        source,
    })?;
    let nic = driver::Nic::open(dev).map_err(|source| RunError::NicOpen {
        nic: NicSpec::Vfio(bdf.into()),
        what: "fastpath",
        source,
    })?;
    Err(RunError::NoPacketIo {
        bdf: bdf.into(),
        nic: format!("{nic:?}"),
    })
}

#[cfg(not(target_os = "linux"))]
fn run_vfio(bdf: &str) -> Result<RunOutcome, RunError> {
    Err(RunError::NoVfio { bdf: bdf.into() })
}

#[cfg(feature = "sim")]
fn run_sim(
    cfg: &RunConfig,
    of: OfProto,
    loaded: Instant,
    traffic: &Traffic,
    progress: Progress<'_>,
) -> Result<RunOutcome, RunError> {
    let mut pmd = Pmd::new(cfg.dp.clone()).map_err(RunError::Datapath)?;
    pmd.set_clock_start(loaded);
    let dp = crate::switch::datapath::simulated_lookup(pmd, cfg.offload.clone())?;
    let desc = dp.nic.clone();
    drive_one(cfg, of, loaded, traffic, dp, desc, progress)
}

#[cfg(feature = "sim")]
fn run_inline(
    cfg: &RunConfig,
    of: OfProto,
    loaded: Instant,
    traffic: &Traffic,
    progress: Progress<'_>,
) -> Result<RunOutcome, RunError> {
    let mut pmd = Pmd::new(cfg.dp.clone()).map_err(RunError::Datapath)?;
    pmd.set_clock_start(loaded);
    let dp = crate::switch::datapath::simulated_inline(pmd, cfg.offload.clone())?;
    let desc = dp.nic.clone();
    drive_one(cfg, of, loaded, traffic, dp, desc, progress)
}

#[cfg(not(feature = "sim"))]
fn run_sim(
    _: &RunConfig,
    _: OfProto,
    _: Instant,
    _: &Traffic,
    _: Progress<'_>,
) -> Result<RunOutcome, RunError> {
    Err(RunError::NoSim)
}

#[cfg(not(feature = "sim"))]
fn run_inline(
    _: &RunConfig,
    _: OfProto,
    _: Instant,
    _: &Traffic,
    _: Progress<'_>,
) -> Result<RunOutcome, RunError> {
    Err(RunError::NoSim)
}

/// One thread over a datapath with a NIC tier (the same object `fastpath
/// switch` drives): each burst through it, rules with timeouts expired and
/// megaflows revalidated every [`REVALIDATE_INTERVAL_MS`], the counters of
/// the timed passes as the one [`RunStats`].
pub fn drive_one<D: SwitchDatapath>(
    cfg: &RunConfig,
    mut of: OfProto,
    loaded: Instant,
    traffic: &Traffic,
    mut dp: D,
    desc: String,
    progress: Progress<'_>,
) -> Result<RunOutcome, RunError> {
    let mut sink = Sink::new(cfg)?;
    let mut burst: Vec<&[u8]> = Vec::with_capacity(BURST);
    let mut last_reval = Instant::now();
    let timed = of.has_timeouts();
    let mut expired = 0u64;
    // Expire rules with timeouts, then revalidate (which re-translates the
    // flows if the table changed, invalidating their hardware entries).
    let mut revalidate = |of: &mut OfProto, dp: &mut D| {
        if timed {
            expired += expire_rules(of, loaded) as u64;
        }
        dp.revalidate(of, false);
    };
    let mut pass = |of: &mut OfProto,
                    dp: &mut D,
                    sink: &mut dyn PacketSink,
                    revalidate: &mut dyn FnMut(&mut OfProto, &mut D),
                    timed_pass: bool|
     -> Result<(), RunError> {
        for chunk in traffic.seq.chunks(BURST) {
            burst.clear();
            burst.extend(chunk.iter().map(|&i| traffic.frames[i as usize].as_slice()));
            dp.process_burst(of, &burst, cfg.in_port, sink)
                .map_err(RunError::Hw)?;
            if timed_pass {
                progress(chunk.len() as u64);
            }
            if last_reval.elapsed() >= Duration::from_millis(REVALIDATE_INTERVAL_MS) {
                revalidate(of, dp);
                last_reval = Instant::now();
            }
        }
        Ok(())
    };
    let mut warm = CountingSink::default();
    for _ in 0..cfg.warmup {
        pass(&mut of, &mut dp, &mut warm, &mut revalidate, false)?;
        revalidate(&mut of, &mut dp);
    }
    let base = dp.mark().map_err(RunError::Hw)?;
    let start = Instant::now();
    let c0 = rdtsc();
    for _ in 0..cfg.loops {
        pass(&mut of, &mut dp, &mut sink, &mut revalidate, true)?;
    }
    let cycles = rdtsc().wrapping_sub(c0);
    let elapsed = start.elapsed();
    dp.sync_stats();
    let counts = sink.finish()?;
    let timing = Timing {
        seconds: elapsed.as_secs_f64(),
        busy_ns: elapsed.as_nanos() as u64,
        cycles,
    };
    let mut js = dp.stats_since(&base, &timing).map_err(RunError::Hw)?;
    js.rules = of.n_rules();
    js.rules_expired = expired;
    js.tx_ports = counts.ports.iter().map(|&(p, n, _)| (p, n)).collect();
    js.controller = counts.controller;
    let dump_flows = cfg.dump_flows.then(|| {
        let mut s = String::from("flow-dump from pmd on cpu core: 0\n");
        for (id, _) in dp.pmd().flows() {
            if let Some(l) = dp.format_flow(id) {
                s.push_str(&l);
                s.push('\n');
            }
        }
        s
    });
    Ok(RunOutcome {
        stats: js,
        rule_subtables: of.n_subtables(),
        nic_desc: Some(desc),
        last_offload_error: dp.last_offload_error(),
        tx_bytes: counts.ports.iter().map(|&(p, _, b)| (p, b)).collect(),
        dump_flows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ofproto::{parse_rules, Prefixes};

    fn rules(text: &str) -> OfProto {
        OfProto::with_rules(parse_rules(text, "t").unwrap(), Prefixes::default())
    }

    #[test]
    fn rss_spreads_by_flow_and_keeps_a_flow_on_one_thread() {
        let frames: Vec<Vec<u8>> = (0..64u8)
            .map(|i| {
                let mut f = vec![0u8; 64];
                f[29] = i;
                f
            })
            .collect();
        let mut used = [0usize; 4];
        for f in &frames {
            let t = rss(f, 4);
            assert_eq!(t, rss(&f.clone(), 4));
            used[t] += 1;
        }
        assert!(used.iter().all(|&n| n > 0), "{used:?}");
        assert!(frames.iter().all(|f| rss(f, 1) == 0));
    }

    #[test]
    fn software_run_counts_every_packet_over_threads() {
        let of = rules("priority=10,udp,actions=output:2\npriority=0,actions=drop");
        let spec: GenSpec = "flows=50,packets=3000,seed=3".parse().unwrap();
        let t = Traffic::load(&Input::Gen(spec), &of, 1).unwrap();
        let cfg = RunConfig {
            nic: NicSpec::None,
            threads: 3,
            in_port: 1,
            loops: 2,
            warmup: 0,
            dp: DpConfig::default(),
            offload: OffloadConfig::default(),
            out_pcap: None,
            controller_pcap: None,
            dump_flows: true,
        };
        let seen = AtomicU64::new(0);
        let o = run(&cfg, of, Instant::now(), &t, &|n| {
            seen.fetch_add(n, Ordering::Relaxed);
        })
        .unwrap();
        let s = &o.stats;
        assert_eq!(s.packets, 6000);
        assert!(s.balanced());
        assert_eq!(s.tx_ports.get(&2).copied().unwrap_or(0), s.forwarded);
        assert_eq!(
            o.tx_bytes.get(&2).copied(),
            Some(s.forwarded * MIN_FRAME as u64)
        );
        assert!(seen.load(Ordering::Relaxed) <= 6000);
        let dump = o.dump_flows.unwrap();
        assert_eq!(dump.matches("flow-dump from pmd").count(), 3, "{dump}");
    }
}
