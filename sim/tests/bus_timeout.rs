//! The simulated bus timeout covers a table clear: a register access that
//! arrives during one waits it out (as the RTL promises) and the wait is
//! what `table_clear_cycles` says, so the derived timeout bounds it for
//! every geometry.

use abi::regs::{CTRL_CLEAR_TABLES, REG_CTRL, REG_SCRATCH};
use driver::Device;
use sim::{table_clear_cycles, SimNic, AXI_SLACK_CYCLES, AXI_TIMEOUT_CYCLES, GEOMETRY};

#[test]
fn a_write_during_a_table_clear_waits_for_it_within_the_timeout() {
    let mut sim = SimNic::new().expect("model");
    // The first access waits for the power-on clear.
    sim.write64(0, REG_SCRATCH.addr(), 1).expect("first write");
    let mut w = [0u64];
    CTRL_CLEAR_TABLES.set(&mut w, 1);
    sim.write64(0, REG_CTRL.addr(), w[0]).expect("clear tables");
    sim.write64(0, REG_SCRATCH.addr(), 2)
        .expect("write during the clear");
    let r = sim.last_access().expect("recorded");
    let waited = r.done_at - r.issued_at;
    let clear = table_clear_cycles(&GEOMETRY);
    // The clear's length, give or take the few clocks of the handshakes.
    assert!(
        waited + 16 >= clear && waited <= clear + 16,
        "waited {waited} cycles, table clear is {clear}"
    );
    assert_eq!(AXI_TIMEOUT_CYCLES, clear + AXI_SLACK_CYCLES);
    assert_eq!(sim.read64(0, REG_SCRATCH.addr()).expect("read"), 2);
}

#[test]
fn the_timeout_covers_the_largest_valid_geometry() {
    let g = abi::Geometry {
        emc_log2_entries: abi::geometry::MAX_LOG2,
        mf_slots: abi::geometry::MAX_MF_SLOTS,
        mf_log2_buckets: abi::geometry::MAX_LOG2,
        mf_bucket_slots: abi::geometry::MAX_BUCKET_SLOTS,
        missq_log2_depth: abi::geometry::MAX_LOG2,
    };
    g.validate().expect("valid");
    // 65 536 + 16 × 65 536 × 8 clocks: more than the old fixed 1 M bound.
    assert_eq!(table_clear_cycles(&g), 8_454_144);
}
