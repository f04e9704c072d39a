//! The fastpath lookup pipeline in rust-hdl: hash unit, EMC stage, megaflow
//! stage, miss queue and AXI4-Lite register file, the frame parser, the
//! frame buffer and the action stage, emitted as Verilog.
//!
//! Every constant the hardware shares with software (key width, hash, field
//! offsets, register map, capability block) is taken from [`abi`] at
//! elaboration time; nothing is restated here.

pub mod action_stage;
pub mod axis_width;
pub mod bram;
pub mod config;
pub mod emc;
pub mod emit;
pub mod entry;
pub mod fifo;
pub mod frame_buffer;
pub mod hash_unit;
pub mod matrix;
pub mod megaflow;
pub mod nic;
pub mod parser;
pub mod port_arbiter;
pub mod port_fanout;
pub mod ram_budget;
pub mod regdoc;
pub mod regfile;
pub mod regfile32;
pub mod simtools;
pub mod stats;
#[cfg(test)]
mod testrng;
pub mod top;
