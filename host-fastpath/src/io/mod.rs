//! Packet I/O: pcap files, ClassBench traces, synthetic traffic.
