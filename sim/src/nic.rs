//! [`SimNic`]: the Verilated pipeline as a [`driver::Device`] plus a lookup
//! port driven at one key per clock.

use crate::axil;
use crate::model::{CycleIn, CycleOut, KeyTag, LookupOut, Model, ModelKind};
use abi::regs::{DecodeError, LookupResult};
use abi::FlowKey;
use driver::DeviceError;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Simulated clock period (250 MHz), used only for waveform timestamps.
pub const CLOCK_PERIOD_PS: u64 = 4_000;

/// Cycles a register access may wait for the bus before it fails: a write
/// may legitimately wait for a whole table clear ([`table_clear_cycles`] of
/// the model's geometry), so the bound is that plus [`AXI_SLACK_CYCLES`].
/// Derived rather than fixed: a geometry `validate()` accepts can need more
/// than any fixed bound (8.5 M clocks at the largest).
pub const AXI_TIMEOUT_CYCLES: u64 = table_clear_cycles(&crate::GEOMETRY) + AXI_SLACK_CYCLES;

/// What a register access may wait beyond a table clear (a command in
/// progress takes a few clocks; this is far above that).
pub const AXI_SLACK_CYCLES: u64 = 1_000_000;

/// Clocks a table clear (power-on or `CTRL.CLEAR_TABLES`) holds the bus: the
/// register file writes one statistics entry per clock, and there is one per
/// EMC entry and per megaflow entry of every slot.
pub const fn table_clear_cycles(g: &abi::Geometry) -> u64 {
    (1u64 << g.emc_log2_entries)
        + g.mf_slots as u64 * (1u64 << g.mf_log2_buckets) * g.mf_bucket_slots as u64
}

/// Environment variable: `1` makes [`SimNic::new`] run the exact model.
pub const EXACT_ENV: &str = "FASTPATH_SIM_EXACT";

/// Cycles the reset pin is held at power-on.
const RESET_CYCLES: u64 = 4;

/// Why a simulation call failed.
#[derive(Debug, Error)]
pub enum SimError {
    /// The waveform file could not be created.
    #[error("cannot create waveform file {0}")]
    Waveform(PathBuf),
    /// The model could not be created.
    #[error("cannot create the Verilated model")]
    Model,
    /// Keys and tags of a burst differ in length.
    #[error("burst of {keys} keys with {tags} tags")]
    BurstLength {
        /// Keys given.
        keys: usize,
        /// Tags given.
        tags: usize,
    },
    /// The pipeline did not finish within the cycle budget.
    #[error("{what}: not done after {cycles} cycles ({pending} keys not accepted, {in_flight} results outstanding)")]
    Timeout {
        /// What was awaited.
        what: &'static str,
        /// Cycles waited.
        cycles: u64,
        /// Keys still waiting for `lk_ready`.
        pending: usize,
        /// Lookups accepted without a result yet.
        in_flight: usize,
    },
}

/// One lookup result as it left the pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimResult {
    /// `res_word` (abi `RESULT_FIELDS`).
    pub word: u64,
    /// Tag given with the key.
    pub tag: u32,
    /// `res_hash`: the key's full hash.
    pub hash: u32,
    /// Cycle in which the key was accepted (`lk_valid && lk_ready`).
    pub accepted_at: u64,
    /// Cycle in which the result was taken (`res_valid && res_ready`).
    pub done_at: u64,
}

impl SimResult {
    /// The decoded result word.
    pub fn result(&self) -> Result<LookupResult, DecodeError> {
        LookupResult::decode(self.word)
    }
}

/// One completed register access, with the cycles that bound it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessRecord {
    /// Byte offset (8-byte aligned bus address).
    pub offset: u64,
    /// Write (true) or read.
    pub write: bool,
    /// Value written or read (the whole 64-bit bus word).
    pub value: u64,
    /// Cycle in which the request was first presented.
    pub issued_at: u64,
    /// Cycle of the address (and data) handshake.
    pub accepted_at: u64,
    /// Cycle of the response handshake (B or R).
    pub done_at: u64,
}

/// The simulated NIC. Register BAR 0 is the RTL's AXI4-Lite port.
pub struct SimNic {
    model: Model,
    name: String,
    input: CycleIn,
    cycle: u64,
    pending: VecDeque<KeyTag>,
    in_flight: VecDeque<u64>,
    // Scratch of run_until_idle's batched runs (kept to stay allocation-free).
    run_accepted: Vec<u64>,
    run_results: Vec<LookupOut>,
    results: VecDeque<SimResult>,
    res_ready: bool,
    last_access: Option<AccessRecord>,
    log: Option<Vec<AccessRecord>>,
    accepted: u64,
}

impl std::fmt::Debug for SimNic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimNic")
            .field("name", &self.name)
            .field("model", &self.model.kind())
            .field("cycle", &self.cycle)
            .field("pending", &self.pending.len())
            .field("in_flight", &self.in_flight.len())
            .finish_non_exhaustive()
    }
}

impl SimNic {
    /// A fresh NIC, after its power-on reset (the pipeline then clears its
    /// tables by itself; register writes wait for that, lookups are not
    /// accepted until it ends). Runs the fast model ([`ModelKind::Fast`]),
    /// or the exact one if `FASTPATH_SIM_EXACT=1` ([`EXACT_ENV`]).
    pub fn new() -> Result<SimNic, SimError> {
        let kind = if std::env::var(EXACT_ENV).is_ok_and(|v| v == "1") {
            ModelKind::Exact
        } else {
            ModelKind::Fast
        };
        Self::with_model(kind)
    }

    /// A fresh NIC running the exact model: the emitted RTL untouched.
    pub fn exact() -> Result<SimNic, SimError> {
        Self::with_model(ModelKind::Exact)
    }

    /// A fresh NIC running the given model.
    pub fn with_model(kind: ModelKind) -> Result<SimNic, SimError> {
        Self::build(kind, None)
    }

    /// A fresh NIC on the exact model, writing every clock cycle of every
    /// port and internal signal to the VCD file `path` (open it with GTKWave
    /// or Surfer).
    pub fn with_vcd(path: impl AsRef<Path>) -> Result<SimNic, SimError> {
        Self::build(ModelKind::Exact, Some(path.as_ref()))
    }

    fn build(kind: ModelKind, vcd: Option<&Path>) -> Result<SimNic, SimError> {
        let model = Model::new(kind, vcd, CLOCK_PERIOD_PS / 2).ok_or_else(|| match vcd {
            Some(p) => SimError::Waveform(p.to_owned()),
            None => SimError::Model,
        })?;
        let mut nic = SimNic {
            model,
            name: "sim:fastpath_top".to_string(),
            input: CycleIn {
                res_ready: 1,
                ..CycleIn::default()
            },
            cycle: 0,
            pending: VecDeque::new(),
            in_flight: VecDeque::new(),
            run_accepted: Vec::new(),
            run_results: Vec::new(),
            results: VecDeque::new(),
            res_ready: true,
            last_access: None,
            log: None,
            accepted: 0,
        };
        nic.reset();
        Ok(nic)
    }

    /// Pulses the synchronous reset. Lookups in flight are lost (their
    /// bookkeeping is dropped too); keys not yet accepted stay queued.
    pub fn reset(&mut self) {
        self.input.reset = 1;
        for _ in 0..RESET_CYCLES {
            self.step_one();
        }
        self.input.reset = 0;
        self.in_flight.clear();
    }

    /// Which model runs.
    pub fn kind(&self) -> ModelKind {
        self.model.kind()
    }

    /// The model (for port peeks and waveform flushes).
    pub fn model(&mut self) -> &mut Model {
        &mut self.model
    }

    /// Clock cycles run since creation.
    pub fn cycle(&self) -> u64 {
        self.cycle
    }

    /// Lookups accepted by the pipeline since creation.
    pub fn accepted(&self) -> u64 {
        self.accepted
    }

    /// Keys queued but not yet accepted.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Lookups accepted whose result has not been taken yet.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// The last completed register access.
    pub fn last_access(&self) -> Option<AccessRecord> {
        self.last_access
    }

    /// Starts (or stops) recording every completed register access.
    pub fn set_access_log(&mut self, on: bool) {
        self.log = if on { Some(Vec::new()) } else { None };
    }

    /// Moves the recorded accesses into `out` (oldest first).
    pub fn take_access_log(&mut self, out: &mut Vec<AccessRecord>) {
        if let Some(l) = self.log.as_mut() {
            out.append(l);
        }
    }

    fn record(&mut self, r: AccessRecord) {
        self.last_access = Some(r);
        if let Some(l) = self.log.as_mut() {
            l.push(r);
        }
    }

    /// Drives `res_ready` (default true). With false, results back up in the
    /// pipeline's result queue and then into `lk_ready`; nothing is lost.
    pub fn set_result_ready(&mut self, ready: bool) {
        self.res_ready = ready;
    }

    /// Queues keys with their tags; they enter the pipeline one per clock as
    /// the clock runs (in [`SimNic::step`], [`SimNic::run_until_idle`] or
    /// during register accesses).
    pub fn submit(&mut self, keys: &[FlowKey], tags: &[u32]) -> Result<(), SimError> {
        if keys.len() != tags.len() {
            return Err(SimError::BurstLength {
                keys: keys.len(),
                tags: tags.len(),
            });
        }
        self.pending.extend(
            keys.iter()
                .zip(tags)
                .map(|(k, &t)| KeyTag::new(*k.hw_words(), t)),
        );
        Ok(())
    }

    /// Runs `cycles` clock cycles.
    pub fn step(&mut self, cycles: u64) {
        for _ in 0..cycles {
            self.step_one();
        }
    }

    /// Runs until every queued key was accepted and every result taken.
    /// Returns the cycles run.
    pub fn run_until_idle(&mut self, max_cycles: u64) -> Result<u64, SimError> {
        let start = self.cycle;
        // Bursts run in one call into the model; anything it cannot finish
        // (a full result buffer after a stray result) continues below, one
        // clock per call, with the same books.
        if self.input.reset == 0 {
            self.run_batch(max_cycles);
        }
        while !self.pending.is_empty() || !self.in_flight.is_empty() {
            if self.cycle - start >= max_cycles {
                return Err(SimError::Timeout {
                    what: "lookups",
                    cycles: max_cycles,
                    pending: self.pending.len(),
                    in_flight: self.in_flight.len(),
                });
            }
            self.step_one();
        }
        Ok(self.cycle - start)
    }

    /// Moves every collected result into `out` (in acceptance order).
    pub fn take_results(&mut self, out: &mut Vec<SimResult>) {
        out.extend(self.results.drain(..));
    }

    /// Collected results not taken yet.
    pub fn results_ready(&self) -> usize {
        self.results.len()
    }

    /// Looks up a burst: queues it, runs until the pipeline is idle and
    /// appends every result (including any from earlier submissions) to `out`.
    pub fn lookup_burst(
        &mut self,
        keys: &[FlowKey],
        tags: &[u32],
        out: &mut Vec<SimResult>,
    ) -> Result<(), SimError> {
        self.submit(keys, tags)?;
        let budget = (keys.len() as u64 + self.in_flight.len() as u64) * 8 + 1_000_000;
        self.run_until_idle(budget)?;
        self.take_results(out);
        Ok(())
    }

    /// The cycles step_one would run until idle (or `max_cycles`), in one
    /// call into the model, with the same books.
    fn run_batch(&mut self, max_cycles: u64) {
        let keys = self.pending.make_contiguous();
        self.input.res_ready = self.res_ready as u8;
        let run = self.model.lookups(
            &self.input,
            keys,
            self.in_flight.len(),
            max_cycles,
            &mut self.run_accepted,
            &mut self.run_results,
        );
        if run.accepted > 0 {
            // The port keeps the last key offered; so do our inputs.
            let last = keys[run.accepted - 1];
            self.input.lk_key = last.key;
            self.input.lk_tag = last.tag;
        }
        self.input.lk_valid = 0;
        // Replay the run's events in cycle order, acceptances before results
        // of the same cycle, exactly as step_one books them.
        let base = self.cycle;
        let mut acc = self.run_accepted[..run.accepted].iter().peekable();
        for r in &self.run_results[..run.taken] {
            while let Some(&&c) = acc.peek() {
                if c > r.cycle {
                    break;
                }
                self.in_flight.push_back(base + c);
                acc.next();
            }
            let accepted_at = self.in_flight.pop_front().unwrap_or(u64::MAX);
            self.results.push_back(SimResult {
                word: r.word,
                tag: r.tag,
                hash: r.hash,
                accepted_at,
                done_at: base + r.cycle,
            });
        }
        for &c in acc {
            self.in_flight.push_back(base + c);
        }
        self.pending.drain(..run.accepted);
        self.accepted += run.accepted as u64;
        self.cycle += run.cycles;
    }

    /// One clock: presents the next queued key, takes a result if one is
    /// shown, and keeps the books.
    #[inline]
    fn step_one(&mut self) -> CycleOut {
        let offering = match self.pending.front() {
            Some(k) if self.input.reset == 0 => {
                self.input.lk_key = k.key;
                self.input.lk_tag = k.tag;
                true
            }
            _ => false,
        };
        self.input.lk_valid = offering as u8;
        self.input.res_ready = self.res_ready as u8;
        let out = self.model.cycle(&self.input);
        if offering && out.lk_ready != 0 {
            self.pending.pop_front();
            self.in_flight.push_back(self.cycle);
            self.accepted += 1;
        }
        if out.res_valid != 0 && self.res_ready {
            let accepted_at = self.in_flight.pop_front().unwrap_or(u64::MAX);
            self.results.push_back(SimResult {
                word: out.res_word,
                tag: out.res_tag,
                hash: out.res_hash,
                accepted_at,
                done_at: self.cycle,
            });
        }
        self.cycle += 1;
        out
    }

    fn backend(&self, message: String) -> DeviceError {
        DeviceError::Backend {
            device: self.name.clone(),
            message,
        }
    }

    /// One AXI4-Lite write of the 8-byte word at `addr` with strobes `strb`.
    fn axi_write(&mut self, addr: u64, data: u64, strb: u8) -> Result<(), DeviceError> {
        let r = axil::write(self, addr, data, strb, AXI_TIMEOUT_CYCLES);
        self.axil_idle();
        match r {
            Ok(t) => {
                self.record(AccessRecord {
                    offset: addr,
                    write: true,
                    value: data,
                    issued_at: t.issued_at,
                    accepted_at: t.accepted_at,
                    done_at: t.done_at,
                });
                Ok(())
            }
            Err(f) => Err(self.backend(axil::write_message(addr, f, AXI_TIMEOUT_CYCLES))),
        }
    }

    /// One AXI4-Lite read of the 8-byte word at `addr`.
    fn axi_read(&mut self, addr: u64) -> Result<u64, DeviceError> {
        let r = axil::read(self, addr, AXI_TIMEOUT_CYCLES);
        self.axil_idle();
        match r {
            Ok((value, t)) => {
                self.record(AccessRecord {
                    offset: addr,
                    write: false,
                    value,
                    issued_at: t.issued_at,
                    accepted_at: t.accepted_at,
                    done_at: t.done_at,
                });
                Ok(value)
            }
            Err(f) => Err(self.backend(axil::read_message(addr, f, AXI_TIMEOUT_CYCLES))),
        }
    }

    /// Drops every AXI4-Lite valid and ready after an access.
    fn axil_idle(&mut self) {
        self.input.awvalid = 0;
        self.input.wvalid = 0;
        self.input.bready = 0;
        self.input.arvalid = 0;
        self.input.rready = 0;
    }
}

impl axil::AxilPort for SimNic {
    fn axil_cycle(&mut self, i: &axil::AxilIn) -> axil::AxilOut {
        self.input.awaddr = i.awaddr;
        self.input.wdata = i.wdata;
        self.input.wstrb = i.wstrb;
        self.input.awvalid = i.awvalid;
        self.input.wvalid = i.wvalid;
        self.input.bready = i.bready;
        self.input.araddr = i.araddr;
        self.input.arvalid = i.arvalid;
        self.input.rready = i.rready;
        let out = self.step_one();
        axil::AxilOut {
            rdata: out.rdata,
            awready: out.awready,
            wready: out.wready,
            bvalid: out.bvalid,
            bresp: out.bresp,
            arready: out.arready,
            rvalid: out.rvalid,
            rresp: out.rresp,
            _pad: 0,
        }
    }

    fn now(&self) -> u64 {
        self.cycle
    }
}

axil::device_over_axil!(SimNic);
