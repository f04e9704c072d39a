//! `fastpath run`: packets through the software datapath, with a
//! `dpif-netdev/pmd-perf-show`-style report.

use anyhow::{bail, Result};
use clap::{ArgGroup, Args};
use fastpath::dpif::DpConfig;
use fastpath::io::gen::GenSpec;
use fastpath::io::output::PendingFile;
use fastpath::nic_spec::NicSpec;
use fastpath::offload::OffloadConfig;
use fastpath::ofproto::{OfProto, Prefixes};
use fastpath::runner::{self, Input, RunConfig, RunOutcome, Traffic};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::time::Instant;

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

With the default --nic sim, frames arriving on port 1 or 2 enter the simulated
NIC's MAC ports (fastpath_nic under Verilator): hits on fully offloaded
megaflows leave its MAC ports or are dropped without the host seeing them;
marked frames (actions the NIC cannot do) reach the host, which runs their
megaflow's actions without classifying them; misses go through the software
datapath: extract → EMC → megaflow classifier → upcall (translate, install)
in bursts of 32, as Open vSwitch's userspace datapath does, and new megaflows
are offloaded. --nic sim-lookup is the look-aside NIC instead (the host parses
every frame and asks the NIC's tables; kept for comparison). The simulated
NIC runs some tens of thousands of frames per second, so use --nic none to
measure the software datapath. The run ends with a pmd-perf-show style table
and, with a NIC, where each packet was handled.

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
hw_megaflow_entries, hw_emc_entries, hw_slots_used. With --nic sim also:
hw_forwarded (frames the NIC sent out itself, unseen by the host),
hw_dropped, hw_lost, hw_tx_copies, hw_marked (host ran a marked frame's
actions), hw_mark_stale, host_rx {marked, miss, exception}, host_tx (host
outputs sent out of the NIC's MAC ports), hw_forwarded_share; malformed then
counts the frames the host parsed.

Rules with idle_timeout or hard_timeout expire during the run (checked at
each revalidation, every 500 ms); their megaflows are then re-translated.")]
pub struct RunArgs {
    /// Rule file in `ovs-ofctl add-flows` syntax.
    #[arg(long)]
    rules: PathBuf,
    /// Group table, in `ovs-ofctl add-groups` syntax (rules' `group:N`).
    #[arg(long)]
    groups: Option<PathBuf>,
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
    /// Write the packets sent to the controller (CONTROLLER, controller(...)),
    /// cut to each action's max_len, to this pcap file (needs --threads 1).
    #[arg(long)]
    controller_pcap: Option<PathBuf>,
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
    /// NIC: `sim` (the Verilated NIC with a packet path: frames on its MAC
    /// ports 1-2, the host sees only what it cannot finish), `sim-lookup`
    /// (the look-aside NIC: host parses every frame, NIC tables first),
    /// `none` (software only) or `vfio:BDF` (a board).
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

/// The output files, opened before the run and written after it.
struct Outputs {
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
    fn write(self, o: &RunOutcome) -> Result<()> {
        if let (Some(f), Some(d)) = (self.dump_flows, &o.dump_flows) {
            f.commit(d.as_bytes())?;
        }
        if let Some(f) = self.stats_json {
            f.commit(o.stats.to_json().as_bytes())?;
        }
        Ok(())
    }
}

/// Option checks that need no file: before anything is read.
fn check_options(a: &RunArgs) -> Result<()> {
    if a.out_pcap.is_some() && a.threads != 1 {
        bail!("--out-pcap needs --threads 1 (each port's file is written in packet order)");
    }
    if a.controller_pcap.is_some() && a.threads != 1 {
        bail!("--controller-pcap needs --threads 1 (the file is written in packet order)");
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
    #[cfg(feature = "sim")]
    if let (NicSpec::Sim, Some(n)) = (&a.nic, a.mask_slots) {
        let slots = sim::GEOMETRY.mf_slots;
        if n > slots {
            bail!("--mask-slots {n}: the simulated NIC has {slots} mask slots (give 0..={slots})");
        }
    }
    Ok(())
}

fn offload_config(a: &RunArgs) -> OffloadConfig {
    let d = OffloadConfig::default();
    OffloadConfig {
        widen: a.widen.unwrap_or(d.widen),
        max_slots: a.mask_slots,
        emc_insert_inv_prob: a.hw_emc_insert_inv_prob.unwrap_or(d.emc_insert_inv_prob),
        ..d
    }
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
    of.load_groups(a.groups.as_deref())?;
    // Rule timeouts count from here, on the clock the datapaths share.
    let loaded = Instant::now();
    of.megaflows = !a.no_megaflows;
    of.frags = a.frags;
    let input = match (&a.pcap, &a.classbench_trace) {
        (Some(p), _) => Input::Pcap(p.clone()),
        (None, Some(p)) => Input::ClassBench(p.clone()),
        (None, None) => Input::Gen(a.gen.clone().unwrap_or_default()),
    };
    let traffic = Traffic::load(&input, &of, a.in_port)?;
    let cfg = RunConfig {
        nic: a.nic.clone(),
        threads: a.threads,
        in_port: a.in_port,
        loops: a.loops,
        warmup: a.warmup,
        dp: DpConfig {
            flow_limit: a.flow_limit,
            max_idle_ms: a.max_idle,
            emc_insert_inv_prob: a.emc_insert_inv_prob,
            ..DpConfig::default()
        },
        offload: offload_config(&a),
        out_pcap: a.out_pcap.clone(),
        controller_pcap: a.controller_pcap.as_ref().map(|p| p.display().to_string()),
        dump_flows: a.dump_flows.is_some(),
    };
    let total = traffic.len() as u64 * a.loops as u64;
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
    let res = runner::run(&cfg, of, loaded, &traffic, &|n| pb.inc(n));
    pb.finish_and_clear();
    let outcome = res?;
    print!("{}", runner::report::text(&outcome));
    outputs.write(&outcome)
}
