//! The fastpath hardware/software contract.
//!
//! Everything the FPGA pipeline, the driver, the simulated NIC and the host
//! software must agree on lives here, once: the flow-key layout ([`key`]), the
//! hash ([`hash`]), the table geometry and candidate-position functions
//! ([`geometry`]), the register map with its entry and command encodings
//! ([`regs`]), the reference lookup over tables in that layout
//! ([`reference`]), the hardware parser's limits and reasons
//! ([`parser`]), the action encoding ([`action`]), the action stage's
//! descriptor and reference ([`action_stage`]) and the host queues'
//! metadata ([`hostq`]) with their descriptor rings and reference ring engine
//! ([`hostring`]). Nobody else restates these constants.
//!
//! Bit layouts are declared once as tables of [`bits::BitField`]; [`bits`]
//! reads and writes them through `bitvec` (the declarative reference) and
//! through plain shifts (the per-packet path). Tests prove the two agree.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod action;
pub mod action_stage;
pub mod bits;
pub mod export;
pub mod geometry;
pub mod hash;
pub mod hostq;
pub mod hostring;
pub mod key;
pub mod parser;
pub mod reference;
pub mod regs;

pub use geometry::{Geometry, GeometryError};
pub use hash::{hash_key, hash_masked, HASH_ID_CRC32C};
pub use key::{Field, FlowKey, HW_KEY_BITS, HW_KEY_BYTES, HW_KEY_WORDS, KEY_WORDS};

/// ABI major version: changes whenever an encoding or layout changes incompatibly.
pub const ABI_MAJOR: u16 = 3;
/// ABI minor version: backwards-compatible additions (new capability bits).
pub const ABI_MINOR: u16 = 1;
