//! Hybrid offload on the simulated NIC (the Verilated RTL through
//! `driver::Nic`): the Zipf acceptance run of the issue and a rule change
//! with a port removal while traffic flows.
#![cfg(feature = "sim")]

mod offload_common;

use driver::Nic;
use fastpath::dpif::Pmd;
use fastpath::offload::HybridDp;
use offload_common::*;
use sim::SimNic;

fn hybrid() -> HybridDp<Nic<SimNic>> {
    let nic = Nic::open(SimNic::new().expect("simulated NIC")).expect("NIC opens");
    HybridDp::new(Pmd::new(dp_config()).expect("pmd"), nic, hybrid_config())
}

#[test]
fn zipf_100k_packets_10k_flows_on_the_simulated_nic() {
    let of = rules(200, 7);
    let (frames, seq) = traffic(&of, 10_000, 1.0, 100_000, 11);
    let sw = run_software(&of, &frames, &seq, dp_config(), &[]);
    let mut dp = hybrid();
    let (hw, share) = run_hybrid(&of, &frames, &seq, &mut dp, &[]);
    assert_eq!(sw.out.len(), hw.out.len());
    assert!(
        sw.out == hw.out,
        "outputs differ from the software-only run"
    );
    check_accounting(&mut dp, seq.len(), false);
    let c = dp.counters();
    eprintln!("steady-state hardware share {share:.4}; {c:?}");
    assert!(
        share >= 0.95,
        "steady-state hardware share {share:.3} < 95 %: {c:?}"
    );
    // The RTL's own counters agree with the host's view.
    let g = dp.mgr.hw().counters().expect("counters");
    assert_eq!(g.lookups, c.packets);
    assert_eq!(g.emc_hits, c.hw_emc_hits);
    assert_eq!(g.mf_hits, c.hw_megaflow_hits);
    assert_eq!(g.misses, c.hw_misses);
    assert_eq!(g.miss_drops, 0);
}

#[test]
fn rule_change_and_port_removal_on_the_simulated_nic() {
    let of = rules(100, 5);
    let mut of2 = rules(100, 5);
    for r in fastpath::ofproto::parse_rules("priority=65000,tcp,actions=output:9", "change")
        .expect("parse")
    {
        of2.add_rule(r);
    }
    let (frames, seq) = traffic(&of, 2_000, 1.0, 20_000, 3);
    let events = [(200, Event::Rules(&of2)), (400, Event::RemovePort(1))];
    let sw = run_software(&of, &frames, &seq, dp_config(), &events);
    let mut dp = hybrid();
    let (hw, _) = run_hybrid(&of, &frames, &seq, &mut dp, &events);
    assert!(
        sw.out == hw.out,
        "outputs differ from the software-only run"
    );
    check_accounting(&mut dp, seq.len(), true);
    let c = dp.counters();
    assert!(c.hw_removals > 0, "{c:?}");
    assert!(hw.out.iter().any(|o| o.0 == 9));
}
