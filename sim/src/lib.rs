//! The simulated fastpath NIC: the pipeline's Verilog (emitted by `hdl`),
//! compiled by Verilator and driven cycle by cycle from Rust.
//!
//! [`SimNic`] implements [`driver::Device`]: register reads and writes are
//! AXI4-Lite transactions on the RTL's register port, so `driver::Nic`
//! programs the simulated tables exactly as it programs a real board. Beside
//! the register port, simulation-only calls feed lookup keys (with tags) into
//! the lookup port at one per clock, collect results as they leave the
//! pipeline, step the clock and record a waveform ([`SimNic::with_vcd`]).
//!
//! The model is built by `build.rs` for `abi::Geometry::DEFAULT` (or the board
//! file named by `$FASTPATH_SIM_CONFIG` at build time); [`GEOMETRY`] says which.
//! It is built twice ([`ModelKind`]): the *fast* model, which [`SimNic::new`]
//! runs, replaces the nine hash units' XOR matrices by a CRC32-C stand-in
//! proven equal to them on every input ([`hash_check`]); the *exact* model
//! is the emitted RTL untouched ([`SimNic::exact`], `FASTPATH_SIM_EXACT=1`,
//! and every waveform).
//!
//! Beside the lookup pipeline, [`parser::ParserSim`] runs the hardware
//! parser (`fastpath_parser`) at 64 and 512 bits, and [`SimFastpathNic`]
//! the whole NIC (`fastpath_nic`: MAC ports, host queues, parser, lookup
//! core, action stage) behind the same `driver::Device` register port.

#![warn(missing_docs)]

mod axil;
pub mod fastpath_nic;
pub mod hash_check;
mod model;
mod nic;
pub mod parser;
pub mod reference;

pub use fastpath_nic::{Backpressure, Frames, NicCounters, SimFastpathNic, SimNicError};
pub use model::{CycleIn, CycleOut, KeyTag, LookupOut, LookupRun, Model, ModelKind, PORTS};
pub use nic::{
    table_clear_cycles, AccessRecord, SimError, SimNic, SimResult, AXI_SLACK_CYCLES,
    AXI_TIMEOUT_CYCLES, CLOCK_PERIOD_PS, EXACT_ENV,
};

mod config {
    include!(concat!(env!("OUT_DIR"), "/config.rs"));
}
pub use config::{GEOMETRY, LATENCY};
