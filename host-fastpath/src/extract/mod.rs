//! Miniflow extract: raw Ethernet frame → flow key.
