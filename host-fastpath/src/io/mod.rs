//! Packet I/O: pcap files, ClassBench traces, synthetic traffic.

pub mod classbench;
pub mod frames;
pub mod gen;
pub mod output;
pub mod pcap;
pub mod text;
