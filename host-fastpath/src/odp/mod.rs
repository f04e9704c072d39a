//! Datapath actions executed on frames.
