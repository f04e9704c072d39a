//! fastpath host library: the software datapath that hardware must match bit
//! for bit, the slow path that turns misses into megaflows, and the flow
//! lifecycle.
//!
//! A packet's walk: [`extract`] (frame → [`abi::FlowKey`]) → [`emc`] (exact
//! match) → [`dpcls`] (megaflow tuple space search) → on a miss, the upcall in
//! [`dpif`] asks [`ofproto`] to translate, installs the megaflow, and [`odp`]
//! executes the actions on the frame. [`io`] reads and writes packets (pcap,
//! ClassBench traces, synthetic traffic, bounded text and output files);
//! [`runner`] drives traffic through it for `fastpath run` and [`stats`]
//! holds the counters a run reports; [`nic_spec`] is what `--nic` names;
//! `switch` runs the datapath as a daemon with ports and a control socket.

pub mod dpcls;
pub mod dpif;
pub mod emc;
pub mod extract;
pub mod io;
pub mod nic_spec;
pub mod odp;
pub mod offload;
pub mod ofproto;
pub mod runner;
pub mod stats;
#[cfg(target_os = "linux")]
pub mod switch;
pub mod wordhash;

/// Index of a megaflow in the datapath's flow table; what EMC and megaflow
/// entries (in software and in hardware) point to.
pub type FlowId = u32;

/// Packets per burst on the hot path. 32 as in Open vSwitch (NETDEV_MAX_BURST):
/// large enough to amortise per-batch work and hide cache misses with
/// prefetches, small enough that a burst's keys stay in L1.
pub const BURST: usize = 32;
