//! The Verilated hardware parser (`fastpath_parser`, `fastpath_parser_512`)
//! driven from Rust: frames in as AXI-Stream beats, keys and meta words out.

use abi::parser::{ParseMeta, ParseMetaError};
use abi::FlowKey;
use std::ptr::NonNull;
use thiserror::Error;

#[repr(C)]
struct FpParser {
    _private: [u8; 0],
}

#[repr(C)]
struct FpParserFrame {
    data: *const u8,
    len: u64,
    port: u32,
    pad: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct FpParserResult {
    key: [u64; 8],
    meta: u64,
    cycle: u64,
}

#[repr(C)]
struct FpParserRun {
    frames: *const FpParserFrame,
    n: u64,
    results: *mut FpParserResult,
    max_cycles: u64,
    vlan_limit: u32,
    valid_pct: u32,
    ready_pct: u32,
    seed: u32,
    taken: u64,
    cycles: u64,
}

extern "C" {
    fn fpparser_new(width: u32) -> *mut FpParser;
    fn fpparser_free(m: *mut FpParser);
    fn fpparser_run(m: *mut FpParser, run: *mut FpParserRun);
}

/// Which build of the parser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParserWidth {
    /// 64-bit `tdata`.
    W64,
    /// 512-bit `tdata`.
    W512,
}

impl ParserWidth {
    /// Bytes per beat.
    pub fn beat_bytes(self) -> usize {
        match self {
            ParserWidth::W64 => 8,
            ParserWidth::W512 => 64,
        }
    }
}

/// How a run drives the stream.
#[derive(Clone, Copy, Debug)]
pub struct StreamOpts {
    /// `vlan-limit` input (1, or 2 for both tags).
    pub vlan_limit: u32,
    /// Percent of cycles a beat is offered (100: back to back).
    pub valid_pct: u32,
    /// Percent of cycles a result is taken (100: never backpressured).
    pub ready_pct: u32,
    /// Seed of the gap pattern.
    pub seed: u32,
}

impl Default for StreamOpts {
    fn default() -> Self {
        Self {
            vlan_limit: abi::parser::DEFAULT_VLAN_LIMIT as u32,
            valid_pct: 100,
            ready_pct: 100,
            seed: 1,
        }
    }
}

/// One parsed frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// The key.
    pub key: FlowKey,
    /// The sideband word, decoded.
    pub meta: ParseMeta,
    /// Cycle (from the start of the run) the result was taken.
    pub cycle: u64,
}

/// A run that went wrong.
#[derive(Debug, Error)]
pub enum ParserSimError {
    /// Not every frame came out.
    #[error("parser returned {got} of {want} results within {cycles} cycles")]
    Incomplete {
        /// Results taken.
        got: usize,
        /// Frames sent.
        want: usize,
        /// Cycles run.
        cycles: u64,
    },
    /// A meta word did not decode.
    #[error(transparent)]
    Meta(#[from] ParseMetaError),
    /// A frame longer than the sideband length field.
    #[error("frame {0} is {1} bytes, longer than the 32-bit frame length")]
    TooLong(usize, usize),
}

/// A Verilated parser.
pub struct ParserSim {
    m: NonNull<FpParser>,
    width: ParserWidth,
    results: Vec<FpParserResult>,
}

// SAFETY: the model is owned by this handle alone and has no thread affinity.
unsafe impl Send for ParserSim {}

impl ParserSim {
    /// A fresh model of `width`.
    pub fn new(width: ParserWidth) -> ParserSim {
        let w = match width {
            ParserWidth::W64 => 64,
            ParserWidth::W512 => 512,
        };
        // SAFETY: plain constructor; returns a live model or aborts (C++ new).
        let m = unsafe { fpparser_new(w) };
        ParserSim {
            m: NonNull::new(m).expect("fpparser_new returned null"),
            width,
            results: Vec::new(),
        }
    }

    /// The build this model is.
    pub fn width(&self) -> ParserWidth {
        self.width
    }

    /// Sends `frames` (bytes, in port) and returns one result per frame, in
    /// order, and the cycles the run took (reset included).
    pub fn run(
        &mut self,
        frames: &[(&[u8], u16)],
        opts: &StreamOpts,
    ) -> Result<(Vec<Parsed>, u64), ParserSimError> {
        let mut fr = Vec::with_capacity(frames.len());
        let mut beats = 0u64;
        for (i, (f, port)) in frames.iter().enumerate() {
            if f.len() > u32::MAX as usize {
                return Err(ParserSimError::TooLong(i, f.len()));
            }
            beats += f.len().div_ceil(self.width.beat_bytes()).max(1) as u64;
            fr.push(FpParserFrame {
                data: f.as_ptr(),
                len: f.len() as u64,
                port: *port as u32,
                pad: 0,
            });
        }
        self.results.clear();
        self.results.resize(frames.len(), FpParserResult::default());
        // Generous: every beat and result may wait for its gap, plus the latency.
        let slow =
            100 / opts.valid_pct.clamp(1, 100) as u64 + 100 / opts.ready_pct.clamp(1, 100) as u64;
        let mut run = FpParserRun {
            frames: fr.as_ptr(),
            n: fr.len() as u64,
            results: self.results.as_mut_ptr(),
            max_cycles: (beats + frames.len() as u64 + 64) * (slow + 2) * 4,
            vlan_limit: opts.vlan_limit,
            valid_pct: opts.valid_pct,
            ready_pct: opts.ready_pct,
            seed: opts.seed,
            taken: 0,
            cycles: 0,
        };
        // SAFETY: `m` is live; `frames` and `results` outlive the call and
        // hold `n` entries each; the frame bytes are borrowed for the call.
        unsafe { fpparser_run(self.m.as_ptr(), &mut run) };
        if run.taken as usize != frames.len() {
            return Err(ParserSimError::Incomplete {
                got: run.taken as usize,
                want: frames.len(),
                cycles: run.cycles,
            });
        }
        let mut out = Vec::with_capacity(frames.len());
        for r in &self.results {
            out.push(Parsed {
                key: FlowKey::from_hw_words(&r.key),
                meta: ParseMeta::decode(r.meta)?,
                cycle: r.cycle,
            });
        }
        Ok((out, run.cycles))
    }
}

impl Drop for ParserSim {
    fn drop(&mut self) {
        // SAFETY: `m` came from fpparser_new and is freed once.
        unsafe { fpparser_free(self.m.as_ptr()) }
    }
}
