//! Noise-robust timing beside criterion: the minimum over several passes of
//! the time per item. On a shared 2-vCPU machine criterion's mean includes
//! every preemption by other jobs; the minimum pass approximates the cost on
//! a quiet core and is what we compare with the Open vSwitch reference.

use std::time::Instant;

/// Runs `pass` `passes` times; returns the smallest nanoseconds per item,
/// where one pass handles `items` items.
pub fn min_ns_per_item(passes: usize, items: usize, mut pass: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..passes {
        let t = Instant::now();
        pass();
        let ns = t.elapsed().as_nanos() as f64 / items as f64;
        best = best.min(ns);
    }
    best
}
