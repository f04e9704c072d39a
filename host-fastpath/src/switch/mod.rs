//! `fastpath switch`: a long-running datapath with ports.
//!
//! With one packet thread (`--threads 1`, and always with a NIC) the
//! thread runs [`Switch::run`]: it takes a burst from each port in turn,
//! hands it to the one datapath object ([`SwitchDatapath`]: the software
//! [`Pmd`], or a NIC first with software for what it cannot finish), and
//! sends the frames each port got in one batch. With the packet-path NIC
//! (`--nic sim`) the port with OpenFlow number N is the NIC's MAC port N -
//! `MAC_PORT_BASE`: its frames enter the NIC, and the NIC's frames for that
//! MAC port leave through it; ports past the NIC's MAC ports take the host
//! path (counted as `host_path_rx`). Between bursts it answers control
//! requests ([`ctl`]) and revalidates every [`REVALIDATE_INTERVAL_MS`], so a
//! rule change, a port change or a dump happens between two bursts: no
//! packet is half-processed or left uncounted by it. When no port has
//! frames the thread sleeps in `poll` on the ports' descriptors.
//!
//! With N packet threads (`--threads N`, software only) the design is OVS's
//! dpif-netdev: thread `i` owns a datapath of its own (EMC, classifier,
//! megaflows: a PMD) and queue `i` of every port, receives from those
//! queues only and sends its output through its own queue of the output
//! port. Where each frame goes:
//! - AF_PACKET: the port is N sockets in one `PACKET_FANOUT` group of type
//!   `PACKET_FANOUT_HASH` (with `DEFRAG`), so the kernel puts a frame on
//!   socket `skb_get_hash % N`: the kernel's flow hash is the RSS.
//! - AF_XDP: socket `i` is bound to interface queue `i` behind one XDP
//!   program; the device's RSS (veth: the sender's transmit queue) picks
//!   the queue. An interface with fewer queues than threads is refused
//!   (veth: `numrxqueues N numtxqueues N`); queues past N have no socket,
//!   their frames go to the kernel (warned).
//! - pcap: every share reads the input and keeps the frames whose
//!   [`crate::runner::rss`] (FNV-1a of bytes 26..38: IPv4 addresses and L4
//!   ports) modulo N is its index, as `fastpath run --threads` spreads
//!   packets; the shares append to one output file.
//!
//! The rules are shared: packet threads read them, and the control (main)
//! thread changes them only while every packet thread is paused. It waits
//! for a control request, the next revalidation, the stop or the inputs'
//! end, then pauses the threads (each returns between two bursts, after at
//! most its 10 ms `poll`), runs the command or revalidation with every
//! datapath to itself (as OVS quiesces PMDs), and resumes them. So a rule
//! change revalidates every thread's megaflows before any sees another
//! packet; rule counters are pushed from every thread's megaflows and
//! upcalls; `dpctl/dump-flows` lists each thread's megaflows and
//! `pmd-perf-show` each thread then the totals. SIGTERM stops every thread;
//! the control thread then drains every queue through its thread's
//! datapath, so every frame received is counted in the final report.
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
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
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
    mode: Option<&'static str>,
}

impl SwitchPort {
    /// How the port ended up attached, where it has a choice (AF_XDP:
    /// zero-copy or copy mode).
    pub fn mode(&self) -> Option<&'static str> {
        self.mode
    }
}

/// Counters of a packet thread (for `dpif-netdev/pmd-perf-show`).
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

impl LoopStats {
    /// Adds `o` to these counters.
    pub fn add(&mut self, o: &LoopStats) {
        self.iterations += o.iterations;
        self.busy_iterations += o.busy_iterations;
        self.busy_cycles += o.busy_cycles;
        self.total_cycles += o.total_cycles;
        self.rx_batches += o.rx_batches;
        self.tx_packets += o.tx_packets;
        self.tx_batches += o.tx_batches;
        self.tx_no_port += o.tx_no_port;
        self.hw_errors += o.hw_errors;
        self.host_path_rx += o.host_path_rx;
    }
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

/// Where a packet thread's packet-ins go.
type ControllerFn<'a> = dyn FnMut(&crate::odp::ControllerAction, u32, &[u8]) + 'a;

/// Output frames of a burst, queued per port.
struct TxSink<'a, 'c> {
    ofports: &'a [u32],
    queues: &'a mut [TxQueue],
    no_port: &'a mut u64,
    ctl: &'a mut ControllerFn<'c>,
}

use crate::odp::controller::ControllerSink;

impl PacketSink for TxSink<'_, '_> {
    #[inline]
    fn output(&mut self, port: u32, frame: &[u8]) {
        match self.ofports.iter().position(|&p| p == port) {
            Some(i) => self.queues[i].push(frame),
            None => *self.no_port += 1,
        }
    }

    fn controller(&mut self, c: &crate::odp::ControllerAction, in_port: u32, frame: &[u8]) {
        (self.ctl)(c, in_port, frame);
    }
}

/// What one packet thread owns besides its datapath: its queue of every
/// port (in port order), the frames queued for each port, its counters.
struct LaneIo {
    queues: Vec<Box<dyn Port>>,
    txq: Vec<TxQueue>,
    loop_stats: LoopStats,
    /// Its inputs ended (`--exit-at-eof`): not run again before shutdown.
    finished: bool,
}

/// One packet thread: its datapath (own EMC, classifier and megaflows, as
/// an OVS PMD) and its queues.
struct Lane {
    dp: Box<dyn SwitchDatapath>,
    io: LaneIo,
}

impl LaneIo {
    /// One pass over this thread's queues: a burst from each, processed by
    /// `dp` and sent. With `rules`, upcall packets are credited at once
    /// (else they wait in the datapath for [`Switch::sync`]). Returns the
    /// frames received.
    fn poll_once<D: SwitchDatapath + ?Sized>(
        &mut self,
        of: &OfProto,
        dp: &mut D,
        ofports: &[u32],
        ctl: &mut ControllerFn<'_>,
        mut rules: Option<&mut RuleStats>,
    ) -> usize {
        let mut total = 0;
        let base = abi::action::MAC_PORT_BASE as u32;
        let on_nic =
            |mac: Option<u16>, p: u32| mac.is_some_and(|n| p >= base && p < base + n as u32);
        for i in 0..self.queues.len() {
            let in_port = ofports[i];
            let LaneIo {
                queues,
                txq,
                loop_stats,
                ..
            } = self;
            let mut sink = TxSink {
                ofports,
                queues: txq,
                no_port: &mut loop_stats.tx_no_port,
                ctl: &mut *ctl,
            };
            let mut hw_errors = 0;
            let n = queues[i].recv(&mut |frames| {
                if let Err(e) = dp.process_burst(of, frames, in_port, &mut sink) {
                    hw_errors += 1;
                    tracing::warn!(error = %e, "NIC failed; the burst went through software");
                }
            });
            if n > 0 {
                let mac = dp.mac_ports();
                if mac.is_some() && !on_nic(mac, in_port) {
                    self.loop_stats.host_path_rx += n as u64;
                }
                self.loop_stats.rx_batches += 1;
                self.loop_stats.hw_errors += hw_errors;
                if let Some(r) = rules.as_deref_mut() {
                    r.take_uncounted(dp.pmd_mut());
                }
                total += n;
            }
        }
        if total > 0 {
            self.flush_tx();
            dp.housekeeping();
        }
        total
    }

    fn flush_tx(&mut self) {
        for (q, p) in self.txq.iter_mut().zip(self.queues.iter_mut()) {
            if !q.is_empty() {
                self.loop_stats.tx_packets += q.len() as u64;
                self.loop_stats.tx_batches += 1;
                p.send(q);
            }
        }
    }

    /// Descriptors to sleep on, and whether some queue never waits.
    fn poll_fds(&self) -> (Vec<libc::pollfd>, bool) {
        let mut busy = false;
        let mut fds = Vec::with_capacity(self.queues.len());
        for p in &self.queues {
            match p.poll_fd() {
                Some(fd) => fds.push(libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                }),
                None => busy |= !p.exhausted(),
            }
        }
        (fds, busy)
    }

    /// Idle: sleeps until a queue has frames, at most 10 ms (control
    /// requests and revalidation wait that long). Queues whose descriptor
    /// reported an error (link gone) count it; if one did, the thread
    /// sleeps its 10 ms anyway instead of spinning.
    fn idle(&mut self) {
        let (mut fds, busy) = self.poll_fds();
        if busy {
            return;
        }
        // SAFETY: `fds` is a valid array of pollfd of that length.
        unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 10) };
        let bad = libc::POLLERR | libc::POLLHUP | libc::POLLNVAL;
        let mut any = false;
        for f in fds.iter().filter(|f| f.revents & bad != 0) {
            if let Some(p) = self.queues.iter_mut().find(|p| p.poll_fd() == Some(f.fd)) {
                p.poll_error();
                any = true;
            }
        }
        if any {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether every queue is a file read to its end (for `--exit-at-eof`).
    fn inputs_exhausted(&self) -> bool {
        self.queues
            .iter()
            .all(|p| p.exhausted() || p.poll_fd().is_some())
            && self.queues.iter().any(|p| p.poll_fd().is_none())
    }

    /// One loop iteration's counters around `f` (which returns the frames
    /// received).
    fn timed(&mut self, f: impl FnOnce(&mut Self) -> usize) -> usize {
        let t0 = rdtsc();
        let n = f(self);
        self.loop_stats.iterations += 1;
        if n > 0 {
            self.loop_stats.busy_iterations += 1;
            self.loop_stats.busy_cycles += rdtsc().wrapping_sub(t0);
        }
        n
    }
}

/// What the packet threads share while they run.
struct Shared<'a, 'c> {
    of: &'a OfProto,
    ofports: &'a [u32],
    controller: &'a Mutex<&'c mut ControllerSink>,
    /// Set by the control thread: return so it can run a command or a
    /// revalidation with every datapath to itself.
    pause: &'a AtomicBool,
    stop: &'a AtomicBool,
    exit_at_eof: bool,
    /// Threads whose inputs ended.
    finished: &'a AtomicUsize,
}

/// A packet thread of [`Switch::run`] with N threads: bursts from its own
/// queues through its own datapath until paused or stopped.
fn packet_thread(sh: &Shared<'_, '_>, pmd: &mut Pmd, io: &mut LaneIo) {
    let mut ctl = |c: &crate::odp::ControllerAction, in_port: u32, frame: &[u8]| {
        sh.controller
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .deliver(c, in_port, frame)
    };
    while !sh.pause.load(Ordering::Relaxed) && !sh.stop.load(Ordering::Relaxed) {
        let t0 = rdtsc();
        let n = io.timed(|io| io.poll_once(sh.of, pmd, sh.ofports, &mut ctl, None));
        if sh.exit_at_eof && io.inputs_exhausted() {
            io.finished = true;
            sh.finished.fetch_add(1, Ordering::Relaxed);
            io.loop_stats.total_cycles += rdtsc().wrapping_sub(t0);
            return;
        }
        if n == 0 {
            io.idle();
        }
        io.loop_stats.total_cycles += rdtsc().wrapping_sub(t0);
    }
}

/// The switch: rule tables, one datapath per packet thread, ports.
pub struct Switch {
    /// OpenFlow tables.
    pub of: OfProto,
    lanes: Vec<Lane>,
    ports: Vec<SwitchPort>,
    /// Each port's OpenFlow number, in `ports` order (what the sink searches).
    ofports: Vec<u32>,
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
    /// Rules expired by their timeouts.
    pub rules_expired: u64,
    /// Revalidation passes run.
    pub revalidations: u64,
    /// Where packet-ins go (`controller/show`, `--controller-pcap`).
    pub controller: ControllerSink,
}

/// Why a switch could not be made.
#[derive(Debug, thiserror::Error)]
#[error("a switch needs at least one packet thread")]
pub struct NoThreads;

impl Switch {
    /// A switch over `of` (loaded at `epoch`) and datapath `dp`, no ports:
    /// one packet thread.
    pub fn new(of: OfProto, dp: Box<dyn SwitchDatapath>, epoch: Instant) -> Self {
        Self::with_lanes(of, vec![dp], epoch)
    }

    /// A switch with one packet thread per software datapath in `pmds`
    /// (each its own EMC, classifier and megaflows, as OVS's PMDs).
    pub fn with_threads(of: OfProto, pmds: Vec<Pmd>, epoch: Instant) -> Result<Self, NoThreads> {
        if pmds.is_empty() {
            return Err(NoThreads);
        }
        let dps = pmds
            .into_iter()
            .map(|p| Box::new(p) as Box<dyn SwitchDatapath>)
            .collect();
        Ok(Self::with_lanes(of, dps, epoch))
    }

    fn with_lanes(mut of: OfProto, dps: Vec<Box<dyn SwitchDatapath>>, epoch: Instant) -> Self {
        // No port yet (and no local port): outputs reach nothing until ports are added.
        of.set_ports([]);
        let lanes = dps
            .into_iter()
            .map(|mut dp| {
                dp.pmd_mut().uncounted = Some(Vec::with_capacity(BURST));
                Lane {
                    dp,
                    io: LaneIo {
                        queues: Vec::new(),
                        txq: Vec::new(),
                        loop_stats: LoopStats::default(),
                        finished: false,
                    },
                }
            })
            .collect();
        let rule_stats = RuleStats::new(&of);
        Switch {
            of,
            lanes,
            ports: Vec::new(),
            ofports: Vec::new(),
            removed_stats: PortStats::default(),
            ofport_history: HashMap::new(),
            rule_stats,
            epoch,
            started: Instant::now(),
            last_reval: Instant::now(),
            rules_expired: 0,
            revalidations: 0,
            controller: ControllerSink::with_ring(),
        }
    }

    /// Packet threads.
    pub fn threads(&self) -> usize {
        self.lanes.len()
    }

    /// The datapath of the first packet thread (the only one with a NIC).
    pub fn datapath(&self) -> &dyn SwitchDatapath {
        self.lanes[0].dp.as_ref()
    }

    /// Each packet thread's datapath, in thread order.
    pub fn datapaths(&self) -> impl Iterator<Item = &dyn SwitchDatapath> {
        self.lanes.iter().map(|l| l.dp.as_ref())
    }

    pub(crate) fn datapath_mut(&mut self, thread: usize) -> &mut dyn SwitchDatapath {
        self.lanes[thread].dp.as_mut()
    }

    /// Each packet thread's counters, in thread order.
    pub fn thread_loop_stats(&self) -> Vec<LoopStats> {
        self.lanes.iter().map(|l| l.io.loop_stats).collect()
    }

    /// The packet threads' counters added up.
    pub fn loop_stats(&self) -> LoopStats {
        let mut t = LoopStats::default();
        for l in &self.lanes {
            t.add(&l.io.loop_stats);
        }
        t
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

    /// Counters of every port (read now, all its queues added), in port order.
    pub fn port_stats(&mut self) -> Vec<PortStats> {
        let mut v = vec![PortStats::default(); self.ports.len()];
        for l in &mut self.lanes {
            for (t, q) in v.iter_mut().zip(l.io.queues.iter_mut()) {
                add_port_stats(t, &q.stats());
            }
        }
        v
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

    /// Opens and adds a port (one queue per packet thread); returns its
    /// OpenFlow number.
    pub fn add_port(&mut self, spec: &PortSpec) -> Result<u32, SwitchError> {
        if self.ports.iter().any(|p| p.name == spec.name) {
            return Err(SwitchError::DuplicateName(spec.name.clone()));
        }
        let ofport = self.pick_ofport(&spec.name, spec.ofport)?;
        let queues = port::open_queues(&spec.kind, self.lanes.len())?;
        let mode = queues.first().and_then(|q| q.mode());
        self.ofport_history.insert(spec.name.clone(), ofport);
        tracing::info!(name = %spec.name, ofport, kind = %spec.kind, queues = queues.len(), "port added");
        if let (Some(n), false) = (self.datapath().mac_ports(), self.on_nic(ofport)) {
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
            mode,
        });
        self.ofports.push(ofport);
        self.of.set_ports(self.ofports.iter().copied());
        for (l, q) in self.lanes.iter_mut().zip(queues) {
            l.io.queues.push(q);
            l.io.txq.push(TxQueue::new());
        }
        Ok(ofport)
    }

    /// Removes port `name` and only the megaflows of packets it received (in
    /// hardware and software, in every thread); returns (ofport, megaflows
    /// deleted).
    pub fn del_port(&mut self, name: &str) -> Result<(u32, usize), SwitchError> {
        let i = self
            .ports
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| SwitchError::NoSuchPort(name.to_string()))?;
        // Frames already queued for it go out first.
        self.flush_tx();
        let p = self.ports.remove(i);
        self.ofports.remove(i);
        self.of.set_ports(self.ofports.iter().copied());
        let mut closed = Ok(());
        for l in &mut self.lanes {
            let mut q = l.io.queues.remove(i);
            l.io.txq.remove(i);
            add_port_stats(&mut self.removed_stats, &q.stats());
            if let Err(e) = q.close() {
                if closed.is_ok() {
                    closed = Err(e);
                }
            }
        }
        self.sync();
        let mut n = 0;
        for (t, l) in self.lanes.iter_mut().enumerate() {
            n += l.dp.remove_port(p.ofport);
            self.rule_stats.forget_deleted(t, l.dp.pmd());
        }
        tracing::info!(name, ofport = p.ofport, megaflows = n, "port deleted");
        closed?;
        Ok((p.ofport, n))
    }

    /// One pass over the ports in the calling thread: a burst from each
    /// queue of every packet thread, each through its thread's datapath.
    /// Returns the frames received.
    pub fn poll_once(&mut self) -> usize {
        let total: usize = {
            let Switch {
                of,
                lanes,
                ofports,
                rule_stats,
                controller,
                ..
            } = self;
            let mut ctl =
                |c: &crate::odp::ControllerAction, p: u32, f: &[u8]| controller.deliver(c, p, f);
            lanes
                .iter_mut()
                .map(|l| {
                    l.io.poll_once(of, l.dp.as_mut(), ofports, &mut ctl, Some(rule_stats))
                })
                .sum()
        };
        // Rules `learn` actions taught in these bursts go in now and the
        // megaflows they affect are re-translated, as OVS's revalidators
        // do after a flow table change.
        if total > 0 && self.of.apply_learned() > 0 {
            self.revalidate();
        }
        total
    }

    /// Whether frames from `ofport` enter the NIC's MAC port (false also
    /// without a packet path).
    fn on_nic(&self, ofport: u32) -> bool {
        let base = abi::action::MAC_PORT_BASE as u32;
        self.datapath()
            .mac_ports()
            .is_some_and(|n| ofport >= base && ofport < base + n as u32)
    }

    fn flush_tx(&mut self) {
        for l in &mut self.lanes {
            l.io.flush_tx();
        }
    }

    /// Makes the counters current: hardware counters read, upcall packets
    /// credited, megaflow counts pushed to their rules (every thread's).
    pub fn sync(&mut self) {
        for (t, l) in self.lanes.iter_mut().enumerate() {
            l.dp.sync_stats();
            self.rule_stats.take_uncounted(l.dp.pmd_mut());
            self.rule_stats.push(t, l.dp.pmd());
        }
    }

    /// One revalidation pass: rules past their timeouts expire, megaflows
    /// idle for max-idle expire, every megaflow of every thread is
    /// re-translated when the rules changed, the dynamic flow limit adapts.
    /// Returns (deleted, modified).
    pub fn revalidate(&mut self) -> (usize, usize) {
        self.sync();
        if self.of.has_timeouts() {
            let gone = self.of.expire(self.now_ms()).len();
            self.rules_expired += gone as u64;
        }
        self.of.expire_macs(self.now_ms());
        let mut r = (0, 0);
        for (t, l) in self.lanes.iter_mut().enumerate() {
            let (d, m) = l.dp.revalidate(&self.of, false);
            self.rule_stats.forget_deleted(t, l.dp.pmd());
            r = (r.0 + d, r.1 + m);
        }
        // What the megaflows that carried traffic learned again (XC_LEARN).
        self.of.apply_learned();
        self.revalidations += 1;
        self.last_reval = Instant::now();
        if r != (0, 0) {
            tracing::debug!(deleted = r.0, modified = r.1, "revalidated");
        }
        r
    }

    fn revalidation_due(&self) -> bool {
        self.last_reval.elapsed() >= Duration::from_millis(REVALIDATE_INTERVAL_MS)
    }

    /// Revalidates if [`REVALIDATE_INTERVAL_MS`] passed since the last pass.
    pub fn maybe_revalidate(&mut self) {
        if self.revalidation_due() {
            self.revalidate();
        }
    }

    /// Whether every port is a file read to its end (for `--exit-at-eof`).
    pub fn inputs_exhausted(&self) -> bool {
        self.lanes.iter().all(|l| l.io.inputs_exhausted())
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
        tracing::info!(ports = self.ports.len(), threads = self.lanes.len(), datapath = %self.datapath().describe(), "switch running");
        if self.lanes.len() > 1 {
            self.run_threads(stop, ctl, exit_at_eof);
            return self.shutdown();
        }
        while !stop.load(Ordering::Relaxed) {
            let t0 = rdtsc();
            let n = {
                let Switch {
                    of,
                    lanes,
                    ofports,
                    rule_stats,
                    controller,
                    ..
                } = &mut *self;
                let Lane { dp, io } = &mut lanes[0];
                let mut cf = |c: &crate::odp::ControllerAction, p: u32, f: &[u8]| {
                    controller.deliver(c, p, f)
                };
                io.timed(|io| io.poll_once(of, dp.as_mut(), ofports, &mut cf, Some(rule_stats)))
            };
            if let Some(c) = ctl {
                if c.serve(self) {
                    stop.store(true, Ordering::Relaxed);
                }
            }
            self.maybe_revalidate();
            let io = &mut self.lanes[0].io;
            if exit_at_eof && io.inputs_exhausted() {
                io.loop_stats.total_cycles += rdtsc().wrapping_sub(t0);
                break;
            }
            if n == 0 {
                io.idle();
            }
            io.loop_stats.total_cycles += rdtsc().wrapping_sub(t0);
        }
        self.shutdown()
    }

    /// `run` with N packet threads. Each runs [`packet_thread`] over its own
    /// datapath and queues, reading the rules shared; this (the control)
    /// thread waits for a control request, the next revalidation, the stop
    /// or every input's end, then pauses the packet threads (each returns
    /// between two bursts) and runs the command or the revalidation with
    /// every datapath to itself (as OVS quiesces its PMDs), and resumes
    /// them. So a rule change revalidates every thread's megaflows before
    /// any of them sees another packet, and no packet is half-processed or
    /// uncounted by a command.
    fn run_threads(&mut self, stop: &AtomicBool, ctl: Option<&ctl::CtlServer>, exit_at_eof: bool) {
        let pause = AtomicBool::new(false);
        let n = self.lanes.len();
        loop {
            pause.store(false, Ordering::Relaxed);
            let finished = AtomicUsize::new(self.lanes.iter().filter(|l| l.io.finished).count());
            let reval_at = self.last_reval + Duration::from_millis(REVALIDATE_INTERVAL_MS);
            let Switch {
                of,
                lanes,
                ofports,
                controller,
                ..
            } = &mut *self;
            let controller = Mutex::new(controller);
            let sh = Shared {
                of,
                ofports,
                controller: &controller,
                pause: &pause,
                stop,
                exit_at_eof,
                finished: &finished,
            };
            std::thread::scope(|s| {
                for (i, l) in lanes.iter_mut().enumerate().filter(|(_, l)| !l.io.finished) {
                    let pmd = l.dp.pmd_mut();
                    let io = &mut l.io;
                    let sh = &sh;
                    let spawned = std::thread::Builder::new()
                        .name(format!("fastpath-pmd{i}"))
                        .spawn_scoped(s, move || packet_thread(sh, pmd, io));
                    if let Err(e) = spawned {
                        // The queues of a thread that cannot start are
                        // drained by the shutdown.
                        tracing::error!(error = %e, thread = i, "cannot start a packet thread");
                        stop.store(true, Ordering::Relaxed);
                    }
                }
                loop {
                    if stop.load(Ordering::Relaxed) || finished.load(Ordering::Relaxed) == n {
                        break;
                    }
                    let wait = reval_at.saturating_duration_since(Instant::now());
                    if wait.is_zero() {
                        break;
                    }
                    let wait = wait.min(Duration::from_millis(10));
                    match ctl {
                        Some(c) if c.wait(wait) => break,
                        Some(_) => {}
                        None => std::thread::sleep(wait),
                    }
                }
                pause.store(true, Ordering::Relaxed);
            });
            if let Some(c) = ctl {
                if c.serve(self) {
                    stop.store(true, Ordering::Relaxed);
                }
            }
            // Rules `learn` actions taught while the threads ran.
            if self.of.apply_learned() > 0 {
                self.revalidate();
            }
            self.maybe_revalidate();
            let all_done = self.lanes.iter().all(|l| l.io.finished);
            if stop.load(Ordering::Relaxed) || (exit_at_eof && all_done) {
                return;
            }
        }
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
        for l in &mut self.lanes {
            for q in &mut l.io.queues {
                if let Err(e) = q.close() {
                    first.get_or_insert(e);
                }
            }
        }
        tracing::info!("switch stopped");
        match first {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    /// The software datapath of the first packet thread.
    pub fn pmd(&self) -> &Pmd {
        self.datapath().pmd()
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
