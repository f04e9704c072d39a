//! [`SimFastpathNic`]: the Verilated NIC `fastpath_nic` (MAC ports, host
//! queues, parser, lookup core, action stage) as a [`driver::Device`] plus a
//! frame API driven in batches.
//!
//! What the RTL has is the NIC's streams: frames in on the MAC RX ports and
//! the host TX queue (each host frame with its [`HostTxMeta`] word), frames
//! out of the MAC TX ports and the host RX queue (each with its
//! [`HostRxMeta`] words), all as 64-bit AXI-Stream. Beside the RTL this
//! model runs what a shell's DMA engine provides on a board: host memory
//! ([`driver::Device::dma_alloc`], a [`driver::HeapDma`]) and the host queue
//! rings ([`abi::hostring::RingEngine`], register block in BAR
//! [`abi::regs::HOSTQ_BAR`]). A TX doorbell fetches the posted frames into
//! the host TX stream at once; host RX frames go into the RX ring as a run
//! collects them, once the host has enabled it (before that, and for this
//! crate's own tests, [`SimFastpathNic::queue_host_tx`] and
//! [`SimFastpathNic::take_host_rx`] are the streams themselves).
//!
//! A run is one call into the model (csrc/nic_run.cpp): it sends every
//! queued frame, with optional random gaps and backpressure
//! ([`Backpressure`]), and collects every frame that leaves.

use crate::axil;
use abi::action_stage::ActionCounter;
use abi::hostq::{HostMetaError, HostRxMeta, HostTxMeta, HOST_RX_META_WORDS};
use abi::hostring::RingEngine;
use abi::regs::{
    HOSTQ_BAR, HOSTQ_RX, HOSTQ_STRIDE, HOSTQ_TX, HOSTQ_WINDOW_BYTES, REG_HQ_PROD, REG_WINDOW_BYTES,
};
use driver::{check_access, DeviceError, DmaBuffer, HeapDma};
use std::ptr::NonNull;
use thiserror::Error;

mod generated {
    include!(concat!(env!("OUT_DIR"), "/nic_counters.rs"));
}
pub use generated::{COUNTER_NAMES, MAC_PORTS};

/// Cycles the reset pin is held at power-on.
const RESET_CYCLES: u64 = 4;
/// Sources of the model, in csrc/nic_run.h order.
const SRC_HTX: usize = 2;
const SRCS: usize = 3;
/// `sink` of a host RX frame (csrc/nic_run.h `FPNIC_SINK_HOST_RX`).
const SINK_HOST_RX: u32 = 0xff;

#[repr(C)]
struct FpNic {
    _private: [u8; 0],
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct InFrame {
    off: u64,
    meta: u64,
    len: u64,
}

#[repr(C)]
struct Src {
    bytes: *const u8,
    frames: *const InFrame,
    n: u64,
    next: u64,
    off: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct OutFrame {
    off: u64,
    len: u64,
    meta: [u64; HOST_RX_META_WORDS],
    cycle: u64,
    sink: u32,
    pad: u32,
}

#[repr(C)]
struct Run {
    src: [Src; SRCS],
    max_cycles: u64,
    cycles: u64,
    valid_pct: u32,
    tx_ready_pct: u32,
    hrx_ready_pct: u32,
    until_idle: u32,
    idle: u32,
    pad: u32,
}

#[repr(C)]
struct Outputs {
    frames: *const OutFrame,
    n: u64,
    bytes: *const u8,
    len: u64,
}

extern "C" {
    fn fpnic_new() -> *mut FpNic;
    fn fpnic_free(m: *mut FpNic);
    fn fpnic_set_vlan_limit(m: *mut FpNic, v: u32);
    fn fpnic_seed(m: *mut FpNic, seed: u64);
    fn fpnic_cycle_count(m: *const FpNic) -> u64;
    fn fpnic_reset(m: *mut FpNic, cycles: u64);
    fn fpnic_axil_cycle(m: *mut FpNic, i: *const axil::AxilIn, o: *mut axil::AxilOut);
    fn fpnic_run(m: *mut FpNic, r: *mut Run);
    fn fpnic_outputs(m: *const FpNic, o: *mut Outputs);
    fn fpnic_clear_outputs(m: *mut FpNic);
    fn fpnic_counters(m: *const FpNic, out: *mut u64);
    fn fpnic_n_counters() -> u32;
}

/// Why a call failed.
#[derive(Debug, Error)]
pub enum SimNicError {
    /// A MAC port this build does not have.
    #[error("MAC port {port}: the NIC has {MAC_PORTS} MAC ports")]
    NoSuchPort {
        /// The port asked for.
        port: usize,
    },
    /// The run did not go idle within its budget.
    #[error("not idle after {cycles} cycles ({pending} queued frames not sent)")]
    Timeout {
        /// Cycles run.
        cycles: u64,
        /// Frames not (wholly) sent yet.
        pending: usize,
    },
    /// A host RX frame's metadata did not decode.
    #[error("host RX frame {index} (cycle {cycle}): {error}")]
    Meta {
        /// Index among the host RX frames of the run.
        index: usize,
        /// Cycle of its last beat.
        cycle: u64,
        /// What is wrong.
        error: HostMetaError,
    },
}

/// Random gaps and backpressure of a run (percent of cycles; 100 = none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backpressure {
    /// A source starts offering its next beat (a beat once offered stays
    /// offered until taken).
    pub valid_pct: u32,
    /// Each MAC TX port is ready.
    pub tx_ready_pct: u32,
    /// The host RX queue is ready.
    pub hrx_ready_pct: u32,
    /// Seed of the pattern.
    pub seed: u64,
}

impl Default for Backpressure {
    fn default() -> Self {
        Backpressure {
            valid_pct: 100,
            tx_ready_pct: 100,
            hrx_ready_pct: 100,
            seed: 1,
        }
    }
}

/// Frames with a tag each (MAC port, or host RX metadata), their bytes in
/// one buffer: filled by [`SimFastpathNic::take_tx`] and
/// [`SimFastpathNic::take_host_rx`], reused across batches.
#[derive(Clone, Debug)]
pub struct Frames<T> {
    bytes: Vec<u8>,
    frames: Vec<(T, usize, usize, u64)>,
}

impl<T> Default for Frames<T> {
    fn default() -> Self {
        Frames {
            bytes: Vec::new(),
            frames: Vec::new(),
        }
    }
}

impl<T: Copy> Frames<T> {
    /// Frames held.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// No frames held.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Forgets every frame, keeping the buffers.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.frames.clear();
    }

    /// Frame `i`: its tag and bytes.
    pub fn get(&self, i: usize) -> Option<(T, &[u8])> {
        self.frames
            .get(i)
            .map(|&(t, off, len, _)| (t, &self.bytes[off..off + len]))
    }

    /// Cycle of frame `i`'s last beat.
    pub fn cycle(&self, i: usize) -> Option<u64> {
        self.frames.get(i).map(|f| f.3)
    }

    /// Every frame in the order it left: tag and bytes.
    pub fn iter(&self) -> impl Iterator<Item = (T, &[u8])> + '_ {
        self.frames
            .iter()
            .map(|&(t, off, len, _)| (t, &self.bytes[off..off + len]))
    }

    fn push(&mut self, tag: T, bytes: &[u8], cycle: u64) {
        let off = self.bytes.len();
        self.bytes.extend_from_slice(bytes);
        self.frames.push((tag, off, bytes.len(), cycle));
    }
}

/// The counter output ports, read at one instant (32-bit, wrapping).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NicCounters {
    values: [u64; COUNTER_NAMES.len()],
}

const fn counter_index(name: &str) -> usize {
    let mut i = 0;
    while i < COUNTER_NAMES.len() {
        let (a, b) = (COUNTER_NAMES[i].as_bytes(), name.as_bytes());
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("no such counter port")
}

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        impl NicCounters {
            $($(#[$doc])* pub fn $name(&self) -> u64 {
                const I: usize = counter_index(stringify!($name));
                self.values[I]
            })*
        }
    };
}

counters!(
    /// Frames received on MAC port 0.
    rx_frames0,
    /// Frames received on MAC port 1.
    rx_frames1,
    /// Frames the host injected into the pipeline.
    inject_frames,
    /// Frames the host sent straight out of a MAC port.
    host_tx_frames,
    /// Frames admitted into the frame buffer.
    frames_in,
    /// Frames passed on to the action stage.
    frames_out,
    /// Frames dropped for lack of room (lossy builds only).
    drops_full,
    /// Frames over `MAX_PORT_FRAME`, drained.
    drops_oversize,
    /// Frames with no MAC port of this build in their bitmap.
    drops_no_port,
);

impl NicCounters {
    /// The counter port `name` ([`COUNTER_NAMES`]).
    pub fn get(&self, name: &str) -> Option<u64> {
        COUNTER_NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| self.values[i])
    }

    /// The action stage's counter `c` (its port has `c.name()`).
    pub fn action(&self, c: ActionCounter) -> u64 {
        self.get(c.name())
            .expect("every ActionCounter is a counter port (build-support/nic.rs)")
    }

    /// Every counter with its port name.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        COUNTER_NAMES
            .iter()
            .copied()
            .zip(self.values.iter().copied())
    }
}

#[derive(Default)]
struct Source {
    bytes: Vec<u8>,
    frames: Vec<InFrame>,
    next: usize,
    off: u64,
}

impl Source {
    fn push(&mut self, frame: &[u8], meta: u64) {
        self.frames.push(InFrame {
            off: self.bytes.len() as u64,
            meta,
            len: frame.len() as u64,
        });
        self.bytes.extend_from_slice(frame);
    }

    fn pending(&self) -> usize {
        self.frames.len() - self.next
    }

    /// Drops the frames sent, keeping the buffers.
    fn compact(&mut self) {
        if self.next == self.frames.len() {
            self.frames.clear();
            self.bytes.clear();
            self.next = 0;
        } else if self.next >= 1024 && 2 * self.next >= self.frames.len() {
            let base = self.frames[self.next].off;
            self.frames.drain(..self.next);
            self.bytes.drain(..base as usize);
            for f in &mut self.frames {
                f.off -= base;
            }
            self.next = 0;
        }
    }
}

/// The Verilated `fastpath_nic` (fast model: hash units replaced by their
/// proven-equal stand-in). Register BAR 0 is its AXI4-Lite port, the same
/// register file as `fastpath_top`'s ([`crate::SimNic`]).
pub struct SimFastpathNic {
    m: NonNull<FpNic>,
    name: String,
    src: [Source; SRCS],
    bp: Backpressure,
    tx: Frames<u8>,
    hrx: Frames<[u64; HOST_RX_META_WORDS]>,
    /// Host memory and the ring engine: the shell's part.
    mem: HeapDma,
    rings: RingEngine,
    ring_frame: Vec<u8>,
}

// SAFETY: the model is owned by this handle alone and has no thread affinity.
unsafe impl Send for SimFastpathNic {}

impl std::fmt::Debug for SimFastpathNic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimFastpathNic")
            .field("name", &self.name)
            .field("cycle", &self.cycle())
            .field("pending", &self.pending())
            .finish_non_exhaustive()
    }
}

impl SimFastpathNic {
    /// A fresh NIC after its power-on reset (the lookup core then clears its
    /// tables by itself: register writes wait for that, frames wait in the
    /// frame buffer).
    pub fn new() -> SimFastpathNic {
        // SAFETY: plain constructor; returns a live model or aborts (C++ new).
        let m = NonNull::new(unsafe { fpnic_new() }).expect("fpnic_new returned null");
        assert_eq!(
            // SAFETY: no arguments.
            unsafe { fpnic_n_counters() } as usize,
            COUNTER_NAMES.len(),
            "nic_counters.h and nic_counters.rs come from one list"
        );
        let mut nic = SimFastpathNic {
            m,
            name: "sim:fastpath_nic".to_string(),
            src: Default::default(),
            bp: Backpressure::default(),
            tx: Frames::default(),
            hrx: Frames::default(),
            mem: HeapDma::default(),
            rings: RingEngine::default(),
            ring_frame: Vec::new(),
        };
        nic.set_vlan_limit(abi::parser::DEFAULT_VLAN_LIMIT as u32);
        nic.reset();
        nic
    }

    /// Pulses the synchronous reset (tables are cleared again, counters
    /// zeroed); queued frames stay queued, frames half sent start over.
    pub fn reset(&mut self) {
        // SAFETY: `m` is live.
        unsafe { fpnic_reset(self.m.as_ptr(), RESET_CYCLES) };
        for s in &mut self.src {
            s.off = 0;
        }
    }

    /// The parser's `vlan-limit` input.
    pub fn set_vlan_limit(&mut self, v: u32) {
        // SAFETY: `m` is live.
        unsafe { fpnic_set_vlan_limit(self.m.as_ptr(), v) }
    }

    /// Gaps and backpressure of the next runs (reseeds the pattern).
    pub fn set_backpressure(&mut self, bp: Backpressure) {
        self.bp = bp;
        // SAFETY: `m` is live.
        unsafe { fpnic_seed(self.m.as_ptr(), bp.seed) }
    }

    /// Clock cycles run since creation.
    pub fn cycle(&self) -> u64 {
        // SAFETY: `m` is live.
        unsafe { fpnic_cycle_count(self.m.as_ptr()) }
    }

    /// Queued frames not (wholly) sent yet.
    pub fn pending(&self) -> usize {
        self.src.iter().map(Source::pending).sum()
    }

    /// Queues `frame` on MAC RX port `port` (0-based; datapath port
    /// `abi::action::MAC_PORT_BASE + port`).
    pub fn queue_rx(&mut self, port: usize, frame: &[u8]) -> Result<(), SimNicError> {
        if port >= MAC_PORTS {
            return Err(SimNicError::NoSuchPort { port });
        }
        self.src[port].push(frame, 0);
        Ok(())
    }

    /// Queues `frame` on the host TX queue with its metadata (sent as it is:
    /// its `frame_len` is not checked against the frame).
    pub fn queue_host_tx(&mut self, meta: &HostTxMeta, frame: &[u8]) {
        self.src[SRC_HTX].push(frame, meta.encode());
    }

    /// Runs `max_cycles` clocks (fewer if `until_idle` and the NIC is idle).
    fn run_inner(&mut self, max_cycles: u64, until_idle: bool) -> (u64, bool) {
        let src = |s: &Source| Src {
            bytes: s.bytes.as_ptr(),
            frames: s.frames.as_ptr(),
            n: s.frames.len() as u64,
            next: s.next as u64,
            off: s.off,
        };
        let mut run = Run {
            src: [src(&self.src[0]), src(&self.src[1]), src(&self.src[2])],
            max_cycles,
            cycles: 0,
            valid_pct: self.bp.valid_pct,
            tx_ready_pct: self.bp.tx_ready_pct,
            hrx_ready_pct: self.bp.hrx_ready_pct,
            until_idle: until_idle as u32,
            idle: 0,
            pad: 0,
        };
        // SAFETY: `m` is live; every source's arrays outlive the call and
        // are not touched during it; `n` is their length.
        unsafe { fpnic_run(self.m.as_ptr(), &mut run) };
        for (s, r) in self.src.iter_mut().zip(&run.src) {
            s.next = r.next as usize;
            s.off = r.off;
            s.compact();
        }
        self.collect();
        (run.cycles, run.idle != 0)
    }

    /// Moves the model's output frames into our buffers.
    fn collect(&mut self) {
        let mut o = Outputs {
            frames: std::ptr::null(),
            n: 0,
            bytes: std::ptr::null(),
            len: 0,
        };
        // SAFETY: `m` is live; the views stay valid until the clear below.
        unsafe { fpnic_outputs(self.m.as_ptr(), &mut o) };
        if o.n > 0 {
            // SAFETY: `frames` holds `n` records and `bytes` `len` bytes,
            // every record inside it (nic_run.cpp `finish`).
            let (frames, bytes) = unsafe {
                (
                    std::slice::from_raw_parts(o.frames, o.n as usize),
                    std::slice::from_raw_parts(o.bytes, o.len as usize),
                )
            };
            let to_ring = self.rings.enabled(HOSTQ_RX);
            for f in frames {
                let b = &bytes[f.off as usize..(f.off + f.len) as usize];
                if f.sink == SINK_HOST_RX && to_ring {
                    // Out of buffers or too long: counted or written back
                    // by the engine, never lost silently.
                    let rings = &mut self.rings;
                    self.mem.with(|m| rings.deliver_rx(m, &f.meta, b));
                } else if f.sink == SINK_HOST_RX {
                    self.hrx.push(f.meta, b, f.cycle);
                } else {
                    self.tx.push(f.sink as u8, b, f.cycle);
                }
            }
        }
        // SAFETY: `m` is live.
        unsafe { fpnic_clear_outputs(self.m.as_ptr()) };
    }

    /// Runs `max_cycles` clocks, sending queued frames and collecting what
    /// leaves.
    pub fn run(&mut self, max_cycles: u64) {
        self.run_inner(max_cycles, false);
    }

    /// Runs until every queued frame is sent and the pipeline is empty (and
    /// quiet); returns the cycles run.
    pub fn run_until_idle(&mut self, max_cycles: u64) -> Result<u64, SimNicError> {
        let (cycles, idle) = self.run_inner(max_cycles, true);
        if idle {
            Ok(cycles)
        } else {
            Err(SimNicError::Timeout {
                cycles,
                pending: self.pending(),
            })
        }
    }

    /// Appends every MAC TX frame collected so far (tag: MAC port, 0-based)
    /// to `out`. A frame sent to several ports is one frame per port.
    pub fn take_tx(&mut self, out: &mut Frames<u8>) {
        if out.is_empty() {
            // Hand over our buffers instead of copying (theirs become ours).
            std::mem::swap(&mut self.tx, out);
            self.tx.clear();
            return;
        }
        for (i, (p, b)) in self.tx.iter().enumerate() {
            out.push(p, b, self.tx.frames[i].3);
        }
        self.tx.clear();
    }

    /// Appends every host RX frame collected so far, with its decoded
    /// metadata, to `out`. On a metadata word that does not decode nothing is
    /// taken.
    pub fn take_host_rx(&mut self, out: &mut Frames<HostRxMeta>) -> Result<(), SimNicError> {
        for (index, (w, _)) in self.hrx.iter().enumerate() {
            if let Err(error) = HostRxMeta::decode(&w) {
                return Err(SimNicError::Meta {
                    index,
                    cycle: self.hrx.frames[index].3,
                    error,
                });
            }
        }
        for (i, (w, b)) in self.hrx.iter().enumerate() {
            if let Ok(m) = HostRxMeta::decode(&w) {
                out.push(m, b, self.hrx.frames[i].3);
            }
        }
        self.hrx.clear();
        Ok(())
    }

    /// The counter ports now.
    pub fn counters(&self) -> NicCounters {
        let mut values = [0u64; COUNTER_NAMES.len()];
        // SAFETY: `m` is live; `values` holds every counter (checked in new).
        unsafe { fpnic_counters(self.m.as_ptr(), values.as_mut_ptr()) };
        NicCounters { values }
    }

    /// Fetches every posted TX ring frame into the host TX stream (the
    /// shell's H2C engine reading descriptors and frames on a doorbell).
    fn fetch_tx_ring(&mut self) {
        let (rings, src, frame) = (
            &mut self.rings,
            &mut self.src[SRC_HTX],
            &mut self.ring_frame,
        );
        self.mem.with(|m| {
            rings.fetch_tx(m, usize::MAX, frame, |meta, f| src.push(f, meta));
        });
    }

    fn ring_read(&mut self, offset: u64) -> u64 {
        self.rings.read_reg(offset).unwrap_or(0)
    }

    fn ring_write(&mut self, offset: u64, value: u64) {
        self.rings.write_reg(offset, value);
        if offset == HOSTQ_TX as u64 * HOSTQ_STRIDE + REG_HQ_PROD {
            self.fetch_tx_ring();
        }
    }

    fn bar_check(&self, bar: u8, offset: u64, width: u8) -> Result<(), DeviceError> {
        match bar {
            0 => check_access(&self.name, bar, REG_WINDOW_BYTES, offset, width),
            HOSTQ_BAR => check_access(&self.name, bar, HOSTQ_WINDOW_BYTES, offset, width),
            _ => Err(DeviceError::NoSuchBar {
                device: self.name.clone(),
                bar,
                present: format!("0, {HOSTQ_BAR}"),
            }),
        }
    }

    fn backend(&self, message: String) -> DeviceError {
        DeviceError::Backend {
            device: self.name.clone(),
            message,
        }
    }

    fn axi_write(&mut self, addr: u64, data: u64, strb: u8) -> Result<(), DeviceError> {
        axil::write(self, addr, data, strb, crate::AXI_TIMEOUT_CYCLES)
            .map(|_| ())
            .map_err(|f| self.backend(axil::write_message(addr, f, crate::AXI_TIMEOUT_CYCLES)))
    }

    fn axi_read(&mut self, addr: u64) -> Result<u64, DeviceError> {
        axil::read(self, addr, crate::AXI_TIMEOUT_CYCLES)
            .map(|(v, _)| v)
            .map_err(|f| self.backend(axil::read_message(addr, f, crate::AXI_TIMEOUT_CYCLES)))
    }
}

impl Default for SimFastpathNic {
    fn default() -> Self {
        Self::new()
    }
}

impl axil::AxilPort for SimFastpathNic {
    fn axil_cycle(&mut self, i: &axil::AxilIn) -> axil::AxilOut {
        let mut o = axil::AxilOut::default();
        // SAFETY: `m` is live; `i` and `o` are valid for the call.
        unsafe { fpnic_axil_cycle(self.m.as_ptr(), i, &mut o) };
        o
    }

    fn now(&self) -> u64 {
        self.cycle()
    }
}

/// BAR 0: the register file over AXI4-Lite (32-bit accesses are one lane
/// of the 64-bit bus). BAR [`HOSTQ_BAR`]: the ring engine's registers (a
/// 32-bit write merges into its lane of the register and writes it, so the
/// high half's write of `driver::Split32` lands last).
impl driver::Device for SimFastpathNic {
    fn name(&self) -> &str {
        &self.name
    }

    fn bar_len(&self, bar: u8) -> Result<u64, DeviceError> {
        self.bar_check(bar, 0, 1)?;
        Ok(if bar == 0 {
            REG_WINDOW_BYTES
        } else {
            HOSTQ_WINDOW_BYTES
        })
    }

    fn read32(&mut self, bar: u8, offset: u64) -> Result<u32, DeviceError> {
        self.bar_check(bar, offset, 4)?;
        let lane = (offset & 4) * 8;
        let v = if bar == 0 {
            self.axi_read(offset & !7)?
        } else {
            self.ring_read(offset & !7)
        };
        Ok((v >> lane) as u32)
    }

    fn write32(&mut self, bar: u8, offset: u64, value: u32) -> Result<(), DeviceError> {
        self.bar_check(bar, offset, 4)?;
        let lane = offset & 4;
        if bar == 0 {
            return self.axi_write(offset & !7, (value as u64) << (lane * 8), 0x0f << lane);
        }
        let old = self.ring_read(offset & !7);
        let mask = 0xffff_ffffu64 << (lane * 8);
        let v = (old & !mask) | ((value as u64) << (lane * 8));
        self.ring_write(offset & !7, v);
        Ok(())
    }

    fn read64(&mut self, bar: u8, offset: u64) -> Result<u64, DeviceError> {
        self.bar_check(bar, offset, 8)?;
        if bar == 0 {
            self.axi_read(offset)
        } else {
            Ok(self.ring_read(offset))
        }
    }

    fn write64(&mut self, bar: u8, offset: u64, value: u64) -> Result<(), DeviceError> {
        self.bar_check(bar, offset, 8)?;
        if bar == 0 {
            self.axi_write(offset, value, 0xff)
        } else {
            self.ring_write(offset, value);
            Ok(())
        }
    }

    fn dma_alloc(&mut self, len: usize) -> Result<Box<dyn DmaBuffer>, DeviceError> {
        Ok(self.mem.alloc(len))
    }
}

impl Drop for SimFastpathNic {
    fn drop(&mut self) {
        // SAFETY: `m` came from fpnic_new and is freed once.
        unsafe { fpnic_free(self.m.as_ptr()) }
    }
}
