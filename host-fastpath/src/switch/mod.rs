//! `fastpath switch`: a long-running datapath with ports.
//!
//! One packet thread runs [`Switch::run`]: it takes a burst from each port
//! in turn, hands it to the one datapath object ([`SwitchDatapath`]: the
//! software [`Pmd`], or a NIC first with software for what it cannot
//! finish), and sends the frames each port got in one batch. With the
//! packet-path NIC (`--nic sim`) the port with OpenFlow number N is the
//! NIC's MAC port N - `MAC_PORT_BASE`: its frames enter the NIC, and the
//! NIC's frames for that MAC port leave through it; ports past the NIC's
//! MAC ports take the host path (counted as `host_path_rx`). Between bursts it answers control
//! requests ([`ctl`]) and revalidates every [`REVALIDATE_INTERVAL_MS`], so a
//! rule change, a port change or a dump happens between two bursts: no
//! packet is half-processed or left uncounted by it. When no port has
//! frames the thread sleeps in `poll` on the ports' descriptors.
//!
//! - [`port`]: AF_XDP (UMEM and rings), AF_PACKET (TPACKET_V3 ring) and pcap
//!   ports, their counters.
//! - [`datapath`]: the datapath trait and its software, packet-path and
//!   look-aside forms, each reporting the one stats table.
//! - [`rules`]: rule counters and the flow-mod commands.
//! - [`ctl`]: the control socket: requests, commands, replies.
//! - [`report`]: what the reading commands print (text and JSON).

pub mod ctl;
pub mod datapath;
pub mod port;
pub mod report;
pub mod rules;

use crate::dpif::{PacketSink, Pmd, REVALIDATE_INTERVAL_MS};
use crate::ofproto::port::OFPP_MAX;
use crate::ofproto::OfProto;
use crate::BURST;
pub use datapath::SwitchDatapath;
use port::{Port, PortError, PortKind, PortSpec, PortStats, TxQueue};
use rules::RuleStats;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Errors of switch operations (each names what failed).
#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    /// A port could not be opened or closed.
    #[error(transparent)]
    Port(#[from] PortError),
    /// Two ports with one name.
    #[error("port name `{0}` is already in use")]
    DuplicateName(String),
    /// Two ports with one number.
    #[error("ofport {0} is already in use (by `{1}`)")]
    DuplicateOfport(u32, String),
    /// No such port.
    #[error("no port named `{0}`")]
    NoSuchPort(String),
    /// Every OpenFlow port number is taken.
    #[error("no free OpenFlow port number")]
    NoFreeOfport,
    /// The control socket failed.
    #[error("control socket {path}: {source}")]
    Ctl {
        /// Socket path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
}

/// One port of the switch.
pub struct SwitchPort {
    /// Name.
    pub name: String,
    /// OpenFlow port number.
    pub ofport: u32,
    /// What it is.
    pub kind: PortKind,
    port: Box<dyn Port>,
}

impl SwitchPort {
    /// How the port ended up attached, where it has a choice (AF_XDP:
    /// zero-copy or copy mode).
    pub fn mode(&self) -> Option<&'static str> {
        self.port.mode()
    }
}

/// Counters of the packet thread (for `dpif-netdev/pmd-perf-show`).
#[derive(Clone, Copy, Debug, Default)]
pub struct LoopStats {
    /// Loop iterations.
    pub iterations: u64,
    /// Iterations that received at least one frame.
    pub busy_iterations: u64,
    /// Time stamp counter cycles spent in iterations that received frames.
    pub busy_cycles: u64,
    /// Cycles in all iterations (busy, idle and sleeping).
    pub total_cycles: u64,
    /// Bursts handed to the datapath.
    pub rx_batches: u64,
    /// Frames sent out.
    pub tx_packets: u64,
    /// Batches sent out.
    pub tx_batches: u64,
    /// Output to a port number that has no port (counted, not sent).
    pub tx_no_port: u64,
    /// Bursts during which the NIC failed (software handled them).
    pub hw_errors: u64,
    /// Frames from ports with no NIC MAC port (host path; see
    /// [`report::SwitchExtras::host_path_rx`]).
    pub host_path_rx: u64,
}

/// Reads the time stamp counter (0 where there is none).
#[inline]
pub fn rdtsc() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: RDTSC only reads the time-stamp counter; no memory effects.
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

/// Output frames of a burst, queued per port.
struct TxSink<'a> {
    ofports: &'a [u32],
    queues: &'a mut [TxQueue],
    no_port: &'a mut u64,
    ctl: &'a mut ControllerSink,
}

use crate::odp::controller::ControllerSink;

impl PacketSink for TxSink<'_> {
    #[inline]
    fn output(&mut self, port: u32, frame: &[u8]) {
        match self.ofports.iter().position(|&p| p == port) {
            Some(i) => self.queues[i].push(frame),
            None => *self.no_port += 1,
        }
    }

    fn controller(&mut self, c: &crate::odp::ControllerAction, in_port: u32, frame: &[u8]) {
        self.ctl.deliver(c, in_port, frame);
    }
}

/// The switch: rule tables, one datapath, ports.
pub struct Switch {
    /// OpenFlow tables.
    pub of: OfProto,
    dp: Box<dyn SwitchDatapath>,
    ports: Vec<SwitchPort>,
    /// Each port's OpenFlow number, in `ports` order (what the sink searches).
    ofports: Vec<u32>,
    txq: Vec<TxQueue>,
    /// Counters of removed ports, so totals stay exact.
    removed_stats: PortStats,
    /// The number each name had, so a port re-added gets it back (as OVS).
    ofport_history: HashMap<String, u32>,
    /// Per-rule counters.
    pub rule_stats: RuleStats,
    /// Clock of rule timeouts (ms since the rules were loaded).
    epoch: Instant,
    started: Instant,
    last_reval: Instant,
    /// Packet-thread counters.
    pub loop_stats: LoopStats,
    /// Rules expired by their timeouts.
    pub rules_expired: u64,
    /// Revalidation passes run.
    pub revalidations: u64,
    /// Where packet-ins go (`controller/show`, `--controller-pcap`).
    pub controller: ControllerSink,
}

impl Switch {
    /// A switch over `of` (loaded at `epoch`) and datapath `dp`, no ports.
    pub fn new(mut of: OfProto, mut dp: Box<dyn SwitchDatapath>, epoch: Instant) -> Self {
        // No port yet (and no local port): outputs reach nothing until ports are added.
        of.set_ports([]);
        dp.pmd_mut().uncounted = Some(Vec::with_capacity(BURST));
        let rule_stats = RuleStats::new(&of);
        Switch {
            of,
            dp,
            ports: Vec::new(),
            ofports: Vec::new(),
            txq: Vec::new(),
            removed_stats: PortStats::default(),
            ofport_history: HashMap::new(),
            rule_stats,
            epoch,
            started: Instant::now(),
            last_reval: Instant::now(),
            loop_stats: LoopStats::default(),
            rules_expired: 0,
            revalidations: 0,
            controller: ControllerSink::with_ring(),
        }
    }

    /// The datapath.
    pub fn datapath(&self) -> &dyn SwitchDatapath {
        self.dp.as_ref()
    }

    /// Ms on the rules' clock.
    pub fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Seconds since the switch started.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// The ports.
    pub fn ports(&self) -> &[SwitchPort] {
        &self.ports
    }

    /// Counters of every port (read now), in port order.
    pub fn port_stats(&mut self) -> Vec<PortStats> {
        self.ports.iter_mut().map(|p| p.port.stats()).collect()
    }

    /// Counters of ports already removed.
    pub fn removed_port_stats(&self) -> PortStats {
        self.removed_stats
    }

    /// The OpenFlow number a new port `name` gets: `requested` if free; else
    /// the one the name had before, if free; else the lowest number no other
    /// name had, else the lowest free one.
    fn pick_ofport(&self, name: &str, requested: Option<u32>) -> Result<u32, SwitchError> {
        let owner = |n: u32| self.ports.iter().find(|p| p.ofport == n);
        if let Some(n) = requested {
            return match owner(n) {
                Some(p) => Err(SwitchError::DuplicateOfport(n, p.name.clone())),
                None => Ok(n),
            };
        }
        if let Some(&n) = self.ofport_history.get(name) {
            if owner(n).is_none() {
                return Ok(n);
            }
        }
        let remembered = |n: u32| self.ofport_history.values().any(|&v| v == n);
        (1..OFPP_MAX)
            .find(|&n| owner(n).is_none() && !remembered(n))
            .or_else(|| (1..OFPP_MAX).find(|&n| owner(n).is_none()))
            .ok_or(SwitchError::NoFreeOfport)
    }

    /// Opens and adds a port; returns its OpenFlow number.
    pub fn add_port(&mut self, spec: &PortSpec) -> Result<u32, SwitchError> {
        if self.ports.iter().any(|p| p.name == spec.name) {
            return Err(SwitchError::DuplicateName(spec.name.clone()));
        }
        let ofport = self.pick_ofport(&spec.name, spec.ofport)?;
        let port = port::open(&spec.kind)?;
        self.ofport_history.insert(spec.name.clone(), ofport);
        tracing::info!(name = %spec.name, ofport, kind = %spec.kind, "port added");
        if let (Some(n), false) = (self.dp.mac_ports(), self.on_nic(ofport)) {
            tracing::warn!(
                name = %spec.name,
                ofport,
                mac_ports = n,
                "no NIC MAC port for this OpenFlow number: its frames take the host path"
            );
        }
        self.ports.push(SwitchPort {
            name: spec.name.clone(),
            ofport,
            kind: spec.kind.clone(),
            port,
        });
        self.ofports.push(ofport);
        self.of.set_ports(self.ofports.iter().copied());
        self.txq.push(TxQueue::new());
        Ok(ofport)
    }

    /// Removes port `name` and only the megaflows of packets it received (in
    /// hardware and software); returns (ofport, megaflows deleted).
    pub fn del_port(&mut self, name: &str) -> Result<(u32, usize), SwitchError> {
        let i = self
            .ports
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| SwitchError::NoSuchPort(name.to_string()))?;
        // Frames already queued for it go out first.
        self.flush_tx();
        let mut p = self.ports.remove(i);
        self.ofports.remove(i);
        self.of.set_ports(self.ofports.iter().copied());
        self.txq.remove(i);
        let st = p.port.stats();
        add_port_stats(&mut self.removed_stats, &st);
        let closed = p.port.close();
        self.dp.sync_stats();
        self.rule_stats.push(self.dp.pmd());
        let n = self.dp.remove_port(p.ofport);
        self.rule_stats.forget_deleted(self.dp.pmd());
        tracing::info!(name, ofport = p.ofport, megaflows = n, "port deleted");
        closed?;
        Ok((p.ofport, n))
    }

    /// One pass over the ports: a burst from each, processed and sent.
    /// Returns the frames received.
    pub fn poll_once(&mut self) -> usize {
        let mut total = 0;
        for i in 0..self.ports.len() {
            let in_port = self.ofports[i];
            let Switch {
                of,
                dp,
                ports,
                ofports,
                txq,
                loop_stats,
                controller,
                ..
            } = self;
            let mut sink = TxSink {
                ofports,
                queues: txq,
                no_port: &mut loop_stats.tx_no_port,
                ctl: controller,
            };
            let mut hw_errors = 0;
            let n = ports[i].port.recv(&mut |frames| {
                if let Err(e) = dp.process_burst(of, frames, in_port, &mut sink) {
                    hw_errors += 1;
                    tracing::warn!(error = %e, "NIC failed; the burst went through software");
                }
            });
            if n > 0 {
                if self.dp.mac_ports().is_some() && !self.on_nic(in_port) {
                    self.loop_stats.host_path_rx += n as u64;
                }
                self.loop_stats.rx_batches += 1;
                self.loop_stats.hw_errors += hw_errors;
                self.rule_stats.take_uncounted(self.dp.pmd_mut());
                total += n;
            }
        }
        if total > 0 {
            self.flush_tx();
            self.dp.housekeeping();
            // Rules `learn` actions taught in these bursts go in now and the
            // megaflows they affect are re-translated, as OVS's revalidators
            // do after a flow table change.
            if self.of.apply_learned() > 0 {
                self.revalidate();
            }
        }
        total
    }

    /// Whether frames from `ofport` enter the NIC's MAC port (false also
    /// without a packet path).
    fn on_nic(&self, ofport: u32) -> bool {
        let base = abi::action::MAC_PORT_BASE as u32;
        self.dp
            .mac_ports()
            .is_some_and(|n| ofport >= base && ofport < base + n as u32)
    }

    fn flush_tx(&mut self) {
        for (q, p) in self.txq.iter_mut().zip(self.ports.iter_mut()) {
            if !q.is_empty() {
                self.loop_stats.tx_packets += q.len() as u64;
                self.loop_stats.tx_batches += 1;
                p.port.send(q);
            }
        }
    }

    /// Makes the counters current: hardware counters read, megaflow counts
    /// pushed to their rules.
    pub fn sync(&mut self) {
        self.dp.sync_stats();
        self.rule_stats.push(self.dp.pmd());
    }

    /// One revalidation pass: rules past their timeouts expire, megaflows
    /// idle for max-idle expire, every megaflow is re-translated when the
    /// rules changed, the dynamic flow limit adapts. Returns (deleted, modified).
    pub fn revalidate(&mut self) -> (usize, usize) {
        self.sync();
        if self.of.has_timeouts() {
            let gone = self.of.expire(self.now_ms()).len();
            self.rules_expired += gone as u64;
        }
        self.of.expire_macs(self.now_ms());
        let r = self.dp.revalidate(&self.of, false);
        // What the megaflows that carried traffic learned again (XC_LEARN).
        self.of.apply_learned();
        self.rule_stats.forget_deleted(self.dp.pmd());
        self.revalidations += 1;
        self.last_reval = Instant::now();
        if r != (0, 0) {
            tracing::debug!(deleted = r.0, modified = r.1, "revalidated");
        }
        r
    }

    /// Revalidates if [`REVALIDATE_INTERVAL_MS`] passed since the last pass.
    pub fn maybe_revalidate(&mut self) {
        if self.last_reval.elapsed() >= Duration::from_millis(REVALIDATE_INTERVAL_MS) {
            self.revalidate();
        }
    }

    /// Descriptors to sleep on, and whether some port never waits.
    fn poll_fds(&self) -> (Vec<libc::pollfd>, bool) {
        let mut busy = false;
        let mut fds = Vec::with_capacity(self.ports.len());
        for p in &self.ports {
            match p.port.poll_fd() {
                Some(fd) => fds.push(libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                }),
                None => busy |= !p.port.exhausted(),
            }
        }
        (fds, busy)
    }

    /// Ports whose descriptor reported an error (link gone) count it; if
    /// one did, the loop sleeps its 10 ms anyway instead of spinning.
    fn poll_errors(&mut self, fds: &[libc::pollfd]) {
        let bad = libc::POLLERR | libc::POLLHUP | libc::POLLNVAL;
        let mut any = false;
        for f in fds.iter().filter(|f| f.revents & bad != 0) {
            if let Some(p) = self
                .ports
                .iter_mut()
                .find(|p| p.port.poll_fd() == Some(f.fd))
            {
                p.port.poll_error();
                any = true;
            }
        }
        if any {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether every port is a file read to its end (for `--exit-at-eof`).
    pub fn inputs_exhausted(&self) -> bool {
        self.ports
            .iter()
            .all(|p| p.port.exhausted() || p.port.poll_fd().is_some())
            && self.ports.iter().any(|p| p.port.poll_fd().is_none())
    }

    /// Runs until `stop` is set (or, with `exit_at_eof`, every pcap input is
    /// read): bursts from the ports, control requests from `ctl`, periodic
    /// revalidation. Then drains what the ports still hold, so every frame
    /// received is processed and counted, and closes the ports.
    pub fn run(
        &mut self,
        stop: &AtomicBool,
        ctl: Option<&ctl::CtlServer>,
        exit_at_eof: bool,
    ) -> Result<(), SwitchError> {
        tracing::info!(ports = self.ports.len(), datapath = %self.dp.describe(), "switch running");
        while !stop.load(Ordering::Relaxed) {
            let t0 = rdtsc();
            let n = self.poll_once();
            self.loop_stats.iterations += 1;
            if n > 0 {
                self.loop_stats.busy_iterations += 1;
                self.loop_stats.busy_cycles += rdtsc().wrapping_sub(t0);
            }
            if let Some(c) = ctl {
                if c.serve(self) {
                    stop.store(true, Ordering::Relaxed);
                }
            }
            self.maybe_revalidate();
            if exit_at_eof && self.inputs_exhausted() {
                self.loop_stats.total_cycles += rdtsc().wrapping_sub(t0);
                break;
            }
            if n == 0 {
                let (mut fds, busy) = self.poll_fds();
                if !busy {
                    // Idle: sleep until a port has frames, at most 10 ms
                    // (control requests and revalidation wait that long).
                    // SAFETY: `fds` is a valid array of pollfd of that length.
                    unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 10) };
                    self.poll_errors(&fds);
                }
            }
            self.loop_stats.total_cycles += rdtsc().wrapping_sub(t0);
        }
        self.shutdown()
    }

    /// Drains the ports (frames already received are processed), flushes
    /// output, syncs the counters and closes the ports.
    pub fn shutdown(&mut self) -> Result<(), SwitchError> {
        // A ring holds at most a few thousand bursts; bounded either way.
        for _ in 0..100_000 {
            if self.poll_once() == 0 {
                break;
            }
        }
        self.flush_tx();
        self.sync();
        let mut first = None;
        for p in &mut self.ports {
            if let Err(e) = p.port.close() {
                first.get_or_insert(e);
            }
        }
        tracing::info!("switch stopped");
        match first {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    /// The software datapath.
    pub fn pmd(&self) -> &Pmd {
        self.dp.pmd()
    }
}

fn add_port_stats(a: &mut PortStats, b: &PortStats) {
    a.rx_packets += b.rx_packets;
    a.rx_bytes += b.rx_bytes;
    a.rx_dropped += b.rx_dropped;
    a.rx_errors += b.rx_errors;
    a.tx_packets += b.tx_packets;
    a.tx_bytes += b.tx_bytes;
    a.tx_dropped += b.tx_dropped;
    a.tx_errors += b.tx_errors;
    a.link_down += b.link_down;
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// Sets the returned flag on SIGINT and SIGTERM (what [`Switch::run`] stops on).
pub fn stop_on_signals() -> Result<&'static AtomicBool, std::io::Error> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: sigaction is plain data; the handler only stores to an
        // atomic, which is async-signal-safe.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            if libc::sigaction(sig, &sa, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    Ok(&STOP)
}
