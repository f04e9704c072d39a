//! Hybrid offload on the model NIC (no simulator): the scenarios of the
//! issue — steady-state hardware share, identical outputs, table full,
//! mask-slot exhaustion and eviction, rule change while traffic flows, flow
//! limit, port removal, flood resistance.

mod offload_common;

use abi::Geometry;
use fastpath::dpif::{DpConfig, Pmd};
use fastpath::offload::{HybridDp, ModelNic, OffloadConfig, WidenPolicy};
use offload_common::*;

fn hybrid(g: Geometry, cfg: OffloadConfig, dp: DpConfig) -> HybridDp<ModelNic> {
    HybridDp::new(Pmd::new(dp).expect("pmd"), ModelNic::new(g), cfg)
}

#[test]
fn zipf_steady_state_is_mostly_hardware_and_identical_to_software() {
    let of = rules(200, 7);
    let (frames, seq) = traffic(&of, 10_000, 1.0, 100_000, 11);
    let sw = run_software(&of, &frames, &seq, dp_config(), &[]);
    let mut dp = hybrid(Geometry::DEFAULT, hybrid_config(), dp_config());
    let (hw, share) = run_hybrid(&of, &frames, &seq, &mut dp, &[]);
    assert_eq!(sw.out.len(), hw.out.len());
    assert!(
        sw.out == hw.out,
        "outputs differ from the software-only run"
    );
    check_accounting(&mut dp, seq.len(), false);
    let c = dp.counters();
    eprintln!("share {share:.4} {c:?}");
    assert!(
        share >= 0.95,
        "steady-state hardware share {share:.3} < 95 %: {c:?}"
    );
}
