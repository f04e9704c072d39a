//! `fastpath switch` (the daemon) and `fastpath ctl` (its control client).

use anyhow::{bail, Context, Result};
use clap::Args;
use fastpath::dpif::{DpConfig, Pmd};
use fastpath::nic_spec::NicSpec;
use fastpath::ofproto::{OfProto, Prefixes};
use fastpath::switch::ctl::{self, CtlServer, Request};
use fastpath::switch::port::PortSpec;
use fastpath::switch::{report, stop_on_signals, Switch, SwitchDatapath};
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Instant;

/// Most packet threads `--threads` accepts.
const MAX_THREADS: u64 = 64;

/// Arguments of `fastpath switch`.
#[derive(Args)]
#[command(after_help = "Examples:
  fastpath switch --port p1=af_packet:veth1 --port p2=af_packet:veth2 \\
      --rules examples/two-port.flows --ctl /tmp/sw.ctl
  fastpath switch --port p1=af_xdp:veth1 --port p2=af_xdp:veth2 --rules examples/two-port.flows
  fastpath switch --nic sim --port p1=af_packet:veth1 --port p2=af_packet:veth2 ...
  fastpath switch --port in=pcap:in.pcap --port out=pcap:,out.pcap --rules r.flows --exit-at-eof

Ports get OpenFlow numbers as Open vSwitch assigns them: the ofport=N asked
for, else the number the name had before (a port deleted and re-added keeps
it), else the lowest free one. One packet thread takes bursts of 32 from each
port, runs them through the datapath and sends each port's output in one
batch; it sleeps in poll() when no port has frames. Rule changes through the
control socket take effect between two bursts, followed at once by a
revalidation of every megaflow.

--threads N (--nic none): N packet threads, each with its own datapath and
queue N of every port: AF_PACKET ports get N sockets in one PACKET_FANOUT
group of type hash (the kernel's flow hash picks the socket), AF_XDP ports
one socket on each of interface queues 0..N (refused when the interface has
fewer; create veths with numrxqueues N numtxqueues N), pcap inputs are split
by fastpath's flow hash (`fastpath run --threads`'s). A thread sends its
output through its own queue of the output port. Control commands pause
every thread between two bursts, run, and resume them: a rule change
revalidates every thread's megaflows; dpctl/dump-flows lists each thread's,
pmd-perf-show prints each thread, then the totals. SIGINT or SIGTERM stop the switch: frames
already received are processed, and the final report is printed.

Veth and TCP/UDP: turn transmit checksum offload off on the interfaces that
send into the switch (`ethtool -K IFACE tx off`), as for Open vSwitch's
userspace datapath, or receivers drop the frames for bad checksums.

Logs go to standard error; RUST_LOG (e.g. fastpath=debug) overrides --log-level.")]
pub struct SwitchArgs {
    /// A port: NAME=af_xdp:IFACE, NAME=af_packet:IFACE or NAME=pcap:IN[,OUT],
    /// optionally ,ofport=N. Repeatable.
    #[arg(long = "port", value_name = "NAME=TYPE:ARGS")]
    ports: Vec<String>,
    /// Rules to start with, in `ovs-ofctl add-flows` syntax (none: every packet is dropped).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Group table, in `ovs-ofctl add-groups` syntax (rules' `group:N`).
    #[arg(long)]
    groups: Option<PathBuf>,
    /// NIC: `none` (software only), `sim` (the simulated NIC with a packet
    /// path: frames from the port with OpenFlow number N enter its MAC port
    /// N-1, ports past its MAC ports take the host path; the host sees only
    /// misses, exceptions and marked frames), `sim-lookup` (the simulated
    /// look-aside NIC: the host parses every frame, the NIC's tables look it
    /// up) or `vfio:BDF` (a board: not yet).
    #[arg(long, default_value = "none", value_parser = clap::builder::ValueParser::new(|s: &str| s.parse::<NicSpec>()))]
    nic: NicSpec,
    /// Packet threads, each with its own datapath (EMC, classifier,
    /// megaflows) and one queue of every port, as OVS's PMDs: AF_PACKET
    /// ports get one socket per thread in a hash fanout group, AF_XDP ports
    /// one socket per interface queue, pcap inputs are split by flow hash.
    /// More than 1 needs --nic none.
    #[arg(long, default_value_t = 1, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=MAX_THREADS))]
    threads: usize,
    /// Control socket path (for `fastpath ctl`).
    #[arg(long)]
    ctl: Option<PathBuf>,
    /// Stop once every pcap input is read (ports that wait for frames aside).
    #[arg(long)]
    exit_at_eof: bool,
    /// Write the final counters as JSON (`show --format json`) to this file.
    #[arg(long)]
    stats_json: Option<PathBuf>,
    /// Upper limit on megaflows.
    #[arg(long, default_value_t = 200_000)]
    flow_limit: usize,
    /// Idle timeout of megaflows, ms.
    #[arg(long, default_value_t = 10_000)]
    max_idle: u64,
    /// EMC insertion probability 1/N (0 disables the EMC).
    #[arg(long, default_value_t = 100)]
    emc_insert_inv_prob: u32,
    /// Address prefix tracking: up to 4 of nw_dst,nw_src,ipv6_dst,ipv6_src, or `none`.
    #[arg(long, default_value = "nw_dst,nw_src,ipv6_dst,ipv6_src")]
    prefixes: String,
    /// Write the packets sent to the controller (CONTROLLER, controller(...)),
    /// cut to each action's max_len, to this pcap file; `fastpath ctl SOCK
    /// controller/show` shows their count and the last 16.
    #[arg(long)]
    controller_pcap: Option<PathBuf>,
    /// Log level: error, warn, info, debug or trace.
    #[arg(long, default_value = "info")]
    log_level: String,
}

fn init_logs(level: &str) -> Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.is_empty() => EnvFilter::try_new(&v).context("RUST_LOG")?,
        _ => {
            if !["error", "warn", "info", "debug", "trace"].contains(&level) {
                bail!("--log-level `{level}`: expected error, warn, info, debug or trace");
            }
            EnvFilter::new(level)
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    Ok(())
}

/// Runs `fastpath switch`.
pub fn run(a: SwitchArgs) -> Result<()> {
    init_logs(&a.log_level)?;
    let specs: Vec<PortSpec> = a
        .ports
        .iter()
        .map(|p| p.parse())
        .collect::<Result<_, _>>()?;
    let prefixes: Prefixes = a.prefixes.parse()?;
    let mut of = match &a.rules {
        Some(p) => OfProto::load(p, prefixes)?,
        None => OfProto::new(prefixes),
    };
    of.load_groups(a.groups.as_deref())?;
    let epoch = Instant::now();
    let cfg = DpConfig {
        flow_limit: a.flow_limit,
        max_idle_ms: a.max_idle,
        emc_insert_inv_prob: a.emc_insert_inv_prob,
        ..DpConfig::default()
    };
    if a.threads > 1 && a.nic != NicSpec::None {
        bail!(
            "--threads {}: --nic {} is one NIC driven by one packet thread and cannot be shared; \
             use --threads 1 with --nic {}, or --nic none with --threads {}",
            a.threads,
            a.nic,
            a.nic,
            a.threads
        );
    }
    let pmd = |cfg: &DpConfig| -> Result<Pmd> {
        let mut p = Pmd::new(cfg.clone())?;
        p.set_clock_start(epoch);
        Ok(p)
    };
    let mut sw = if a.threads > 1 {
        let pmds = (0..a.threads)
            .map(|_| pmd(&cfg))
            .collect::<Result<Vec<_>>>()?;
        Switch::with_threads(of, pmds, epoch)?
    } else {
        let dp: Box<dyn SwitchDatapath> = match &a.nic {
            NicSpec::None => Box::new(pmd(&cfg)?),
            NicSpec::Sim | NicSpec::SimLookup => sim_datapath(pmd(&cfg)?, &a.nic)?,
            other @ NicSpec::Vfio(_) => bail!(
                "--nic {other}: a board's frames reach the host through its own I/O, which this \
                 build does not have yet; use --nic sim or --nic none"
            ),
        };
        Switch::new(of, dp, epoch)
    };
    if let Some(p) = &a.controller_pcap {
        sw.controller.set_pcap(p)?;
    }
    for s in &specs {
        sw.add_port(s)?;
    }
    let ctl = a.ctl.as_deref().map(CtlServer::bind).transpose()?;
    let stop = stop_on_signals().context("installing the SIGINT/SIGTERM handlers")?;
    let res = sw.run(stop, ctl.as_ref(), a.exit_at_eof);
    drop(ctl);
    let show = report::show(&mut sw);
    let perf = report::pmd_perf_show(&mut sw);
    // The report goes out even when stdout is gone (the error is the run's).
    let _ = writeln!(std::io::stdout(), "{}\n{}", show.text, perf.text);
    if let Some(p) = &a.stats_json {
        let mut j = show.json;
        j["pmd"] = perf.json;
        std::fs::write(p, format!("{j:#}\n"))
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    res?;
    sw.controller.finish()?;
    Ok(())
}

/// `--nic sim`: the packet-path NIC (switch port N is its MAC port
/// N - MAC_PORT_BASE); `--nic sim-lookup`: the look-aside NIC.
#[cfg(feature = "sim")]
fn sim_datapath(pmd: Pmd, nic: &NicSpec) -> Result<Box<dyn SwitchDatapath>> {
    use fastpath::switch::datapath::{simulated_inline, simulated_lookup};
    Ok(match nic {
        NicSpec::SimLookup => Box::new(simulated_lookup(pmd, Default::default())?),
        _ => Box::new(simulated_inline(pmd, Default::default())?),
    })
}

#[cfg(not(feature = "sim"))]
fn sim_datapath(_: Pmd, _: &NicSpec) -> Result<Box<dyn SwitchDatapath>> {
    bail!("--nic sim: this fastpath was built without the `sim` feature; use --nic none")
}

/// Arguments of `fastpath ctl`.
#[derive(Args)]
#[command(after_help = "Examples:
  fastpath ctl /tmp/sw.ctl add-flow 'priority=10,udp,tp_dst=53,actions=drop'
  fastpath ctl /tmp/sw.ctl add-flows more.flows
  fastpath ctl /tmp/sw.ctl del-flows --strict 'priority=10,udp,tp_dst=53'
  fastpath ctl /tmp/sw.ctl mod-flows 'in_port=1,actions=output:3'
  fastpath ctl /tmp/sw.ctl dump-flows
  fastpath ctl /tmp/sw.ctl --format json dpif-netdev/pmd-perf-show
  fastpath ctl /tmp/sw.ctl dpctl/dump-flows type=offloaded
  fastpath ctl /tmp/sw.ctl ofproto/trace br0 in_port=1,icmp,nw_dst=10.0.0.2
  fastpath ctl /tmp/sw.ctl port-add p3=af_packet:veth3,ofport=3
  fastpath ctl /tmp/sw.ctl port-del p3

Commands: add-flow RULE, add-flows FILE (- for stdin), del-flows [--strict]
[MATCH], mod-flows [--strict] RULE, replace-flows FILE, dump-flows [MATCH],
dpctl/dump-flows [type=offloaded|non-offloaded], dpif-netdev/pmd-perf-show,
dpctl/offload-stats-show, controller/show, ofproto/trace [br0] FLOW, show,
port-add NAME=TYPE:ARGS[,ofport=N], port-del NAME, revalidate, exit.")]
pub struct CtlArgs {
    /// The switch's control socket (its --ctl).
    socket: PathBuf,
    /// Output format of reading commands.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    format: String,
    /// Command and arguments.
    #[arg(required = true, num_args = 1.., allow_hyphen_values = true, trailing_var_arg = true)]
    command: Vec<String>,
}

/// Runs `fastpath ctl`.
pub fn ctl(a: CtlArgs) -> Result<()> {
    let req = Request::from_cli(&a.command, a.format == "json")?;
    let r = ctl::request(&a.socket, &req)?;
    if !r.ok {
        bail!("{}", r.output);
    }
    print!("{}", r.output);
    if a.format == "json" && !r.output.is_empty() {
        println!();
    }
    Ok(())
}
