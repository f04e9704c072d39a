//! `fastpath run`: packets through the software datapath, with a
//! `dpif-netdev/pmd-perf-show`-style report.

use anyhow::{bail, Result};
use clap::{ArgGroup, Args};
use fastpath::dpif::{
    format_dump_flow, CountingSink, DpConfig, PacketSink, Pmd, PmdStats, REVALIDATE_INTERVAL_MS,
};
use fastpath::io::classbench::{header_frame, load_trace};
use fastpath::io::frames::{frame_from_key, MIN_FRAME};
use fastpath::io::gen::{flows_inside, zipf_sequence, GenSpec, Rng};
use fastpath::io::output::PendingFile;
use fastpath::io::pcap::{PcapReader, PcapWriter};
use fastpath::nic_spec::NicSpec;
use fastpath::ofproto::{OfProto, Prefixes};
use fastpath::stats::{RunStats, Timing};
use fastpath::BURST;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

#[path = "hybrid.rs"]
mod hybrid;

/// Most packet threads `--threads` accepts.
const MAX_THREADS: u64 = 64;

/// Arguments of `fastpath run`.
#[derive(Args)]
#[command(group(ArgGroup::new("input").required(true).args(["pcap", "classbench_trace", "gen"])))]
#[command(after_help = "Examples:
  fastpath run --rules examples/acl-small.flows --gen flows=2000,zipf=1.0,packets=20000,seed=1
  fastpath run --nic none --rules examples/acl-small.flows --gen flows=10000,zipf=1.0,packets=1000000,seed=1
  fastpath run --rules examples/acl-small.flows --pcap in.pcap --out-pcap out --dump-flows flows.txt
  fastpath run --nic none --rules acl1_10k.flows --classbench-trace acl1_10000_trace --loops 20 --stats-json s.json

With the default --nic sim, each burst is looked up in the simulated NIC (the
pipeline's RTL under Verilator) first; misses go through the software
datapath: extract → EMC → megaflow classifier → upcall (translate, install)
in bursts of 32, as Open vSwitch's userspace datapath does, and new megaflows
are offloaded. The simulated RTL runs a few hundred thousand lookups per
second, so use --nic none to measure the software datapath. The run ends with
a pmd-perf-show style table and, with a NIC, where each packet was handled.

--gen takes flows=N (1..=10000000), zipf=S (0..=100), packets=P
(1..=100000000; --loops replays them) and seed=X, each at most once; keys
left out are flows=1000, zipf=1.0, packets=1000000, seed=1.

Every bad input is an error before any packet runs: rule files and traces are
read within 256 MiB and 64 KiB per line, as UTF-8 without NUL bytes or a
byte-order mark; pcap files must be version 2.4, each record within its
original length and the snapshot length; output files are opened first and
written only when the run succeeded.

--stats-json keys, for every --nic: nic, threads, seconds, mpps,
ns_per_packet, cycles_per_packet, packets, bytes, forwarded (packets that left
on at least one port), dropped, lost, malformed, tx_packets (copies sent: a
packet output to 3 ports counts 3), emc_hits, megaflow_hits,
subtable_lookups_per_hit, upcalls, upcall_installs, upcall_existing,
upcall_flow_limit, upcall_install_failed, upcall_us_avg,
xlate_subtables_per_upcall, megaflows, masks, flow_limit, rules,
rules_expired, tx_ports {port: copies}. packets = forwarded + dropped + lost.
With a NIC also: widen, hw_handled, hw_share, the offload counters (hw_emc_hits,
hw_megaflow_hits, hw_misses, sw_emc_hits, sw_megaflow_hits, pipeline_aborts,
miss_queue_drops, offload_failures, ...), offloaded_megaflows,
hw_megaflow_entries, hw_emc_entries, hw_slots_used.

Rules with idle_timeout or hard_timeout expire during the run (checked at
each revalidation, every 500 ms); their megaflows are then re-translated.")]
pub struct RunArgs {
    /// Rule file in `ovs-ofctl add-flows` syntax.
    #[arg(long)]
    rules: PathBuf,
    /// Read packets from a classic libpcap file (Ethernet).
    #[arg(long)]
    pcap: Option<PathBuf>,
    /// Read a ClassBench header trace (`sip dip sport dport proto flags idx`).
    #[arg(long)]
    classbench_trace: Option<PathBuf>,
    /// Synthetic traffic: `flows=N,zipf=S,packets=P,seed=X` (ranges below).
    #[arg(long, value_parser = clap::builder::ValueParser::new(|s: &str| s.parse::<GenSpec>()))]
    gen: Option<GenSpec>,
    /// Port the packets arrive on.
    #[arg(long, default_value_t = 1)]
    in_port: u32,
    /// Replay the input this many times.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    loops: u32,
    /// Replay the input this many times first, untimed and uncounted (flows
    /// stay installed; a revalidation after each pass lets the dynamic flow
    /// limit settle): the figures are then for the steady state.
    #[arg(long, default_value_t = 0)]
    warmup: u32,
    /// Packet threads (each with its own EMC, classifier and flow table, as OVS PMDs; packets are spread by flow hash).
    #[arg(long, default_value_t = 1, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=MAX_THREADS))]
    threads: usize,
    /// Write the megaflows in `dpctl/dump-flows` format.
    #[arg(long)]
    dump_flows: Option<PathBuf>,
    /// Write the counters as JSON.
    #[arg(long)]
    stats_json: Option<PathBuf>,
    /// Write each output port's packets to PREFIX-portN.pcap (needs --threads 1).
    #[arg(long)]
    out_pcap: Option<String>,
    /// EMC insertion probability 1/N (0 disables the EMC).
    #[arg(long, default_value_t = 100)]
    emc_insert_inv_prob: u32,
    /// Upper limit on megaflows.
    #[arg(long, default_value_t = 200_000)]
    flow_limit: usize,
    /// Idle timeout of megaflows, ms.
    #[arg(long, default_value_t = 10_000)]
    max_idle: u64,
    /// Address prefix tracking: up to 4 of nw_dst,nw_src,ipv6_dst,ipv6_src, or `none`.
    #[arg(long, default_value = "nw_dst,nw_src,ipv6_dst,ipv6_src")]
    prefixes: String,
    /// Exact-match megaflows.
    #[arg(long)]
    no_megaflows: bool,
    /// IP fragment handling, as `ovs-ofctl set-frags`: normal (L4 ports of
    /// fragments read as 0), nx-match or drop.
    #[arg(long, default_value = "normal", value_parser = clap::builder::ValueParser::new(|s: &str| s.parse::<fastpath::ofproto::FragMode>()))]
    frags: fastpath::ofproto::FragMode,
    /// NIC: `sim` (the Verilated RTL: hardware tables first, software for
    /// every miss), `none` (software only) or `vfio:BDF` (a board).
    #[arg(long, default_value = "sim", value_parser = clap::builder::ValueParser::new(|s: &str| s.parse::<NicSpec>()))]
    nic: NicSpec,
    /// Widen megaflows whose mask has no hardware slot into a covering slot:
    /// auto (default), never, always. Needs a NIC.
    #[arg(long, value_parser = clap::builder::ValueParser::new(|s: &str| s.parse::<fastpath::offload::WidenPolicy>()))]
    widen: Option<fastpath::offload::WidenPolicy>,
    /// Use at most this many of the NIC's mask slots (0: hardware EMC only). Needs a NIC.
    #[arg(long)]
    mask_slots: Option<u8>,
    #[arg(long, help = format!(
        "Hardware EMC insertion probability 1/N for flows hit again in software \
         (0: no hardware EMC; default {}). Needs a NIC",
        fastpath::offload::manager::DEFAULT_HW_EMC_INV_PROB
    ))]
    hw_emc_insert_inv_prob: Option<u32>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

struct Traffic {
    frames: Vec<Vec<u8>>,
    seq: Vec<u32>,
}

fn load_traffic(a: &RunArgs, of: &OfProto) -> Result<Traffic> {
    if let Some(p) = &a.pcap {
        let frames = PcapReader::open(p)
            .and_then(|r| r.read_all())
            .map_err(|e| anyhow::anyhow!("--pcap {e}"))?;
        let seq = (0..frames.len() as u32).collect();
        return Ok(Traffic { frames, seq });
    }
    if let Some(p) = &a.classbench_trace {
        let hdrs = load_trace(p).map_err(|e| anyhow::anyhow!("--classbench-trace {e}"))?;
        let frames: Vec<Vec<u8>> = hdrs.iter().map(header_frame).collect();
        let seq = (0..frames.len() as u32).collect();
        return Ok(Traffic { frames, seq });
    }
    let spec = a.gen.clone().unwrap_or_default();
    let mut rng = Rng::new(spec.seed);
    let keys = flows_inside(&of.rules, spec.flows, &mut rng, a.in_port);
    if keys.is_empty() {
        bail!("--gen: the rule file has no rules to draw flows from");
    }
    let frames: Vec<Vec<u8>> = keys.iter().map(|k| frame_from_key(k, MIN_FRAME)).collect();
    let seq = zipf_sequence(frames.len(), spec.zipf, spec.packets, &mut rng);
    Ok(Traffic { frames, seq })
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

/// Writes each port's packets to its own pcap file.
struct PcapSink {
    prefix: String,
    files: HashMap<u32, PcapWriter<BufWriter<File>>>,
    counts: CountingSink,
    error: Option<anyhow::Error>,
    ts: u64,
}

impl PacketSink for PcapSink {
    fn output(&mut self, port: u32, frame: &[u8]) {
        self.counts.output(port, frame);
        if self.error.is_some() {
            return;
        }
        self.ts += 1000;
        let w = match self.files.entry(port) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let path = PathBuf::from(format!("{}-port{port}.pcap", self.prefix));
                match PcapWriter::create(&path) {
                    Ok(w) => v.insert(w),
                    Err(e) => {
                        self.error = Some(anyhow::anyhow!("--out-pcap {e}"));
                        return;
                    }
                }
            }
        };
        if let Err(e) = w.write(self.ts, frame) {
            self.error = Some(anyhow::anyhow!("--out-pcap {e}"));
        }
    }
}

struct ThreadResult {
    pmd: Pmd,
    sink: CountingSink,
    ns: u64,
    cycles: u64,
    error: Option<anyhow::Error>,
}

/// RSS-like spreading: by a hash of the frame's address and port bytes.
fn rss(frame: &[u8], threads: usize) -> usize {
    if threads == 1 {
        return 0;
    }
    let mut h: u32 = 0x811c_9dc5;
    for &b in frame.iter().skip(26).take(12) {
        h = (h ^ b as u32).wrapping_mul(0x0100_0193);
    }
    h as usize % threads
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
    fn read(&self) -> Result<RwLockReadGuard<'_, OfProto>> {
        self.of
            .read()
            .map_err(|_| anyhow::anyhow!("rule table lock poisoned by a failed packet thread"))
    }

    /// Between bursts: gives up `held`, removes rules whose timeout passed
    /// and reads the table again. Their megaflows are re-translated by each
    /// thread's next revalidation (the table generation changed).
    fn expire<'a>(
        &'a self,
        held: RwLockReadGuard<'a, OfProto>,
    ) -> Result<RwLockReadGuard<'a, OfProto>> {
        if !self.timed {
            return Ok(held);
        }
        drop(held);
        {
            let mut of = self.of.write().map_err(|_| {
                anyhow::anyhow!("rule table lock poisoned by a failed packet thread")
            })?;
            let gone = expire_rules(&mut of, self.epoch) as u64;
            self.expired.fetch_add(gone, Ordering::Relaxed);
        }
        self.read()
    }
}

/// Removes the rules of `of` whose timeout passed by now, on the clock that
/// started at `epoch` (when the rules were loaded); returns how many.
fn expire_rules(of: &mut OfProto, epoch: Instant) -> usize {
    of.expire(epoch.elapsed().as_millis() as u64).len()
}

/// The report's first line: rules, subtables, and expired rules if any.
fn rules_summary(of: &OfProto, rules_expired: u64) -> String {
    let mut s = format!("{} rules ({} subtables)", of.n_rules(), of.n_subtables());
    if rules_expired > 0 {
        let _ = write!(s, ", {rules_expired} expired by idle_timeout/hard_timeout");
    }
    s
}

fn run_thread(
    a: &RunArgs,
    rules: &SharedRules,
    traffic: &Traffic,
    seq: &[u32],
    cfg: DpConfig,
    pb: &ProgressBar,
    mut sink: Box<dyn SinkExt + '_>,
) -> Result<ThreadResult> {
    let mut pmd = Pmd::new(cfg)?;
    pmd.set_clock_start(rules.epoch);
    let mut burst: Vec<&[u8]> = Vec::with_capacity(BURST);
    let mut scratch = CountingSink::default();
    // The read guard is held across bursts and released only at
    // housekeeping, so the per-burst path takes no lock.
    let mut of = rules.read()?;
    for _ in 0..a.warmup {
        for chunk in seq.chunks(BURST) {
            burst.clear();
            burst.extend(chunk.iter().map(|&i| traffic.frames[i as usize].as_slice()));
            pmd.process_burst(&of, &burst, a.in_port, &mut scratch);
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
    for _ in 0..a.loops {
        for chunk in seq.chunks(BURST) {
            burst.clear();
            burst.extend(chunk.iter().map(|&i| traffic.frames[i as usize].as_slice()));
            pmd.process_burst(&of, &burst, a.in_port, sink.as_sink());
            n_bursts += 1;
            if n_bursts.is_multiple_of(256) {
                pb.inc(256 * BURST as u64);
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
    let (counts, error) = sink.finish();
    Ok(ThreadResult {
        pmd,
        sink: counts,
        ns,
        cycles,
        error,
    })
}

trait SinkExt: Send {
    fn as_sink(&mut self) -> &mut dyn PacketSink;
    fn finish(self: Box<Self>) -> (CountingSink, Option<anyhow::Error>);
}

impl SinkExt for CountingSink {
    fn as_sink(&mut self) -> &mut dyn PacketSink {
        self
    }
    fn finish(self: Box<Self>) -> (CountingSink, Option<anyhow::Error>) {
        (*self, None)
    }
}

impl SinkExt for PcapSink {
    fn as_sink(&mut self) -> &mut dyn PacketSink {
        self
    }
    fn finish(self: Box<Self>) -> (CountingSink, Option<anyhow::Error>) {
        let mut err = self.error;
        for (_, w) in self.files {
            if let Err(e) = w.finish() {
                err.get_or_insert(anyhow::anyhow!("--out-pcap {e}"));
            }
        }
        (self.counts, err)
    }
}

fn pct(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

/// The output files, opened before the run and written after it.
pub struct Outputs {
    dump_flows: Option<PendingFile>,
    stats_json: Option<PendingFile>,
}

impl Outputs {
    /// Opens `--dump-flows` and `--stats-json`, and checks that `--out-pcap`
    /// files can be created (they are opened as ports first send).
    fn open(a: &RunArgs) -> Result<Self> {
        if let Some(p) = &a.out_pcap {
            // Opened and abandoned: proves the directory exists and is writable.
            PendingFile::create("--out-pcap", &PathBuf::from(format!("{p}-port1.pcap")))?;
        }
        let open = |what: &str, p: &Option<PathBuf>| -> Result<Option<PendingFile>> {
            Ok(match p {
                Some(p) => Some(PendingFile::create(what, p)?),
                None => None,
            })
        };
        Ok(Outputs {
            dump_flows: open("--dump-flows", &a.dump_flows)?,
            stats_json: open("--stats-json", &a.stats_json)?,
        })
    }

    /// Writes the dump and the JSON.
    fn write(self, dump: impl FnOnce() -> String, stats: &RunStats) -> Result<()> {
        if let Some(f) = self.dump_flows {
            f.commit(dump().as_bytes())?;
        }
        if let Some(f) = self.stats_json {
            f.commit(stats.to_json().as_bytes())?;
        }
        Ok(())
    }
}

/// Option checks that need no file: before anything is read.
fn check_options(a: &RunArgs) -> Result<()> {
    if a.out_pcap.is_some() && a.threads != 1 {
        bail!("--out-pcap needs --threads 1 (each port's file is written in packet order)");
    }
    if matches!(a.nic, NicSpec::None) {
        for (given, opt) in [
            (a.widen.is_some(), "--widen"),
            (a.mask_slots.is_some(), "--mask-slots"),
            (
                a.hw_emc_insert_inv_prob.is_some(),
                "--hw-emc-insert-inv-prob",
            ),
        ] {
            if given {
                bail!("{opt} configures the NIC's tables: it has no effect with --nic none");
            }
        }
    } else if a.threads != 1 {
        bail!(
            "--nic {} drives one NIC from one thread: use --threads 1 (or --nic none)",
            a.nic
        );
    }
    hybrid::check_options(a)
}

/// `e` and its causes on one line (a cause its message already quotes is
/// not repeated), so an error's first line says what failed, where and why.
pub fn one_line(e: anyhow::Error) -> anyhow::Error {
    let mut s = e.to_string();
    for c in e.chain().skip(1) {
        let c = c.to_string();
        if !s.contains(&c) {
            s.push_str(": ");
            s.push_str(&c);
        }
    }
    anyhow::Error::msg(s)
}

/// Runs `fastpath run`.
pub fn run(a: RunArgs) -> Result<()> {
    run_checked(a).map_err(one_line)
}

fn run_checked(a: RunArgs) -> Result<()> {
    check_options(&a)?;
    let prefixes: Prefixes = a.prefixes.parse()?;
    let outputs = Outputs::open(&a)?;
    let mut of = OfProto::load(&a.rules, prefixes)?;
    // Rule timeouts count from here, on the clock the datapaths share.
    let loaded = Instant::now();
    of.megaflows = !a.no_megaflows;
    of.frags = a.frags;
    let traffic = load_traffic(&a, &of)?;
    if traffic.seq.is_empty() {
        bail!("no packets to run");
    }
    let cfg = DpConfig {
        flow_limit: a.flow_limit,
        max_idle_ms: a.max_idle,
        emc_insert_inv_prob: a.emc_insert_inv_prob,
        ..DpConfig::default()
    };
    if !matches!(a.nic, NicSpec::None) {
        return hybrid::run(&a, &mut of, loaded, &traffic, cfg, outputs);
    }
    // Spread packets over threads by flow hash (RSS).
    let mut shares: Vec<Vec<u32>> = vec![Vec::new(); a.threads];
    for &i in &traffic.seq {
        shares[rss(&traffic.frames[i as usize], a.threads)].push(i);
    }
    let total = traffic.seq.len() as u64 * a.loops as u64;
    let pb = if a.quiet || total < 2_000_000 {
        ProgressBar::hidden()
    } else {
        let pb = ProgressBar::new(total);
        pb.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} packets {per_sec} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb
    };
    let rules = SharedRules {
        timed: of.has_timeouts(),
        of: RwLock::new(of),
        epoch: loaded,
        expired: AtomicU64::new(0),
    };
    let results: Vec<Result<ThreadResult>> = std::thread::scope(|s| {
        let handles: Vec<_> = shares
            .iter()
            .map(|share| {
                let (a, rules, traffic, cfg, pb) = (&a, &rules, &traffic, cfg.clone(), &pb);
                s.spawn(move || {
                    let sink: Box<dyn SinkExt> = match &a.out_pcap {
                        Some(p) => Box::new(PcapSink {
                            prefix: p.clone(),
                            files: HashMap::new(),
                            counts: CountingSink::default(),
                            error: None,
                            ts: 0,
                        }),
                        None => Box::new(CountingSink::default()),
                    };
                    run_thread(a, rules, traffic, share, cfg, pb, sink)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("packet thread panicked")))
            })
            .collect()
    });
    pb.finish_and_clear();
    let mut res = Vec::new();
    for r in results {
        let r = r?;
        if let Some(e) = r.error {
            return Err(e);
        }
        res.push(r);
    }
    let expired = rules.expired.into_inner();
    let of = rules
        .of
        .into_inner()
        .map_err(|_| anyhow::anyhow!("rule table lock poisoned by a failed packet thread"))?;
    report(&a, &of, expired, &res, outputs)
}

fn report(
    a: &RunArgs,
    of: &OfProto,
    rules_expired: u64,
    res: &[ThreadResult],
    outputs: Outputs,
) -> Result<()> {
    let mut st = PmdStats::default();
    let mut tx: Vec<(u32, u64, u64)> = Vec::new();
    let (mut flows, mut masks, mut ns, mut cycles) = (0usize, 0usize, 0u64, 0u64);
    let mut malformed = 0u64;
    for r in res {
        st.accumulate(&r.pmd.stats);
        flows += r.pmd.n_flows();
        masks += r.pmd.dpcls.mask_count();
        ns = ns.max(r.ns);
        cycles += r.cycles;
        malformed += r.pmd.extract_stats.malformed();
        for &(p, n, b) in &r.sink.ports {
            match tx.iter_mut().find(|t| t.0 == p) {
                Some(t) => {
                    t.1 += n;
                    t.2 += b;
                }
                None => tx.push((p, n, b)),
            }
        }
    }
    tx.sort();
    let busy_ns: u64 = res.iter().map(|r| r.ns).sum();
    let timing = Timing {
        seconds: ns as f64 / 1e9,
        busy_ns,
        cycles,
    };
    let mut js = RunStats::from_pmd(&a.nic.to_string(), a.threads, &st, malformed, &timing);
    js.megaflows = flows;
    js.masks = masks;
    js.flow_limit = res.iter().map(|r| r.pmd.flow_limit()).max().unwrap_or(0);
    js.rules = of.n_rules();
    js.rules_expired = rules_expired;
    js.tx_ports = tx.iter().map(|&(p, n, _)| (p, n)).collect();
    let (secs, mpps, ns_pp, cyc_pp) = (js.seconds, js.mpps, js.ns_per_packet, js.cycles_per_packet);
    let (lookups_per_hit, up_us, xl, limit) = (
        js.subtable_lookups_per_hit,
        js.upcall_us_avg,
        js.xlate_subtables_per_upcall,
        js.flow_limit,
    );
    let mut o = String::new();
    let _ = writeln!(
        o,
        "fastpath run: {}, {} thread(s)",
        rules_summary(of, rules_expired),
        a.threads
    );
    let _ = writeln!(
        o,
        "  Rx packets:          {:>12}  ({:.2} Mpps, {:.3} s)",
        st.packets, mpps, secs
    );
    let _ = writeln!(
        o,
        "  Cycles per packet:   {:>12.1}  ({:.1} ns per packet per thread)",
        cyc_pp, ns_pp
    );
    let _ = writeln!(
        o,
        "  - EMC hits:          {:>12}  ({:5.1} %)",
        st.emc_hits,
        pct(st.emc_hits, st.packets)
    );
    let _ = writeln!(
        o,
        "  - Megaflow hits:     {:>12}  ({:5.1} %, {:.2} subtbl lookups/hit)",
        st.megaflow_hits,
        pct(st.megaflow_hits, st.packets),
        lookups_per_hit
    );
    let _ = writeln!(
        o,
        "  - Upcalls:           {:>12}  ({:5.1} %, {:.2} us/upcall, {:.1} rule subtables/translation)",
        st.upcalls,
        pct(st.upcalls, st.packets),
        up_us,
        xl
    );
    let _ = writeln!(
        o,
        "      installed {}, found installed by the same burst {}, over flow limit {}, install failed {}",
        st.upcall_installs, st.upcall_existing, st.upcall_flow_limit, st.upcall_install_failed
    );
    let _ = writeln!(
        o,
        "  Forwarded:           {:>12}  ({} copies sent)",
        st.forwarded, st.tx_packets
    );
    let _ = writeln!(o, "  Dropped by actions:  {:>12}", st.dropped);
    let _ = writeln!(o, "  Lost:                {:>12}", st.lost);
    let _ = writeln!(
        o,
        "  Megaflows:           {:>12}  in {} masks (flow limit {})",
        flows, masks, limit
    );
    if malformed > 0 {
        let _ = writeln!(
            o,
            "  Malformed frames:    {:>12}  (parsed as far as possible)",
            malformed
        );
    }
    for (p, n, b) in &tx {
        let _ = writeln!(
            o,
            "  Tx port {:<6}       {:>12}  packets, {} bytes",
            p, n, b
        );
    }
    print!("{o}");
    outputs.write(
        || {
            let mut s = String::new();
            for (i, r) in res.iter().enumerate() {
                let _ = writeln!(s, "flow-dump from pmd on cpu core: {i}");
                let now = r.pmd.now_ns();
                for (_, f) in r.pmd.flows() {
                    let _ = writeln!(s, "{}", format_dump_flow(f, now));
                }
            }
            s
        },
        &js,
    )
}
