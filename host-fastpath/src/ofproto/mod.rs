//! Slow path: OpenFlow-style rule tables, translation and megaflow wildcards.
