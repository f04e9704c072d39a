//! Every board's geometry fits the share of its part's RAM that its
//! `board.toml` gives the tables, by the arithmetic of `hdl::ram_budget`
//! over the Verilog emitted for that geometry.

use hdl::config::Board;
use hdl::ram_budget::{memories, RamBudget};
use std::collections::HashMap;
use std::path::Path;

#[test]
fn every_board_geometry_fits_its_ram_budget() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../boards");
    let mut checked = 0;
    // Emission is the slow part; boards that share a geometry share it.
    let mut inventory = HashMap::new();
    for dir in std::fs::read_dir(&root).expect("boards/") {
        let file = dir.expect("boards/ entry").path().join("board.toml");
        if !file.exists() {
            continue;
        }
        let board = Board::load(&file).unwrap_or_else(|e| panic!("{e}"));
        let mems = inventory
            .entry(board.config)
            .or_insert_with(|| {
                let top = hdl::emit::emit_top(&board.config).unwrap_or_else(|e| panic!("{e}"));
                memories(&top)
            })
            .clone();
        // The inventory is the design's: both EMC banks, per slot 2k way
        // RAMs and 2 key RAMs, the four statistics RAMs, the miss and
        // result queues.
        let g = board.config.geometry;
        let expect = 2 + (2 * g.mf_bucket_slots as usize + 2) * g.mf_slots as usize + 4 + 2;
        assert_eq!(mems.len(), expect, "{}: {mems:?}", board.name);
        let budget = RamBudget::place(&mems, &board.ram);
        for k in 0..budget.used.len() {
            assert!(
                budget.percent(k) <= board.ram_budget_percent as f64,
                "{}: {} at {:.1} % over its {} % budget\n{}",
                board.name,
                budget.names[k],
                budget.percent(k),
                board.ram_budget_percent,
                budget.markdown()
            );
        }
        checked += 1;
    }
    assert!(checked >= 5, "{checked} boards");
}
