//! Flow lifecycle: statistics, idle expiry, revalidation after rule changes
//! (keep, modify actions, delete), the flow limit (over it packets still get
//! their actions; nothing is installed; it is counted).

use fastpath::dpif::{CountingSink, DpConfig, Pmd};
use fastpath::io::frames::{frame_from_key, MIN_FRAME};
use fastpath::ofproto::{parse_flow, parse_rules, OfProto, Prefixes};

fn of(rules: &str) -> OfProto {
    OfProto::with_rules(parse_rules(rules, "t").expect("rules"), Prefixes::default())
}

fn frame(flow: &str) -> Vec<u8> {
    frame_from_key(&parse_flow(flow).expect("flow").key(), MIN_FRAME)
}

#[test]
fn stats_idle_expiry_and_revalidation() {
    let a = of("priority=10,tcp,nw_dst=10.0.0.0/8,actions=output:2\npriority=0,actions=output:3");
    let mut pmd = Pmd::new(DpConfig::default()).expect("pmd");
    let f1 = frame(
        "in_port=1,tcp,nw_src=1.1.1.1,nw_dst=10.1.1.1,nw_ttl=64,tp_src=1,tp_dst=2,tcp_flags=0x002",
    );
    let f2 = frame("in_port=1,udp,nw_src=1.1.1.1,nw_dst=11.1.1.1,nw_ttl=64,tp_src=1,tp_dst=2");
    let mut sink = CountingSink::default();
    for _ in 0..5 {
        pmd.process_burst(&a, &[&f1, &f2], 1, &mut sink);
    }
    assert_eq!(pmd.n_flows(), 2);
    assert_eq!(
        sink.ports,
        vec![(2, 5, 5 * f1.len() as u64), (3, 5, 5 * f2.len() as u64)]
    );
    let tcp = pmd
        .flows()
        .map(|(_, f)| f)
        .find(|f| f.key.get(abi::Field::NwProto) == 6)
        .expect("tcp flow");
    // The upcalled packet is not counted in the flow, as in OVS.
    assert_eq!(
        (tcp.packets, tcp.bytes, tcp.tcp_flags),
        (4, 4 * f1.len() as u64, 0x002)
    );

    // Same rules: revalidation keeps everything.
    assert_eq!(pmd.revalidate(&a, true), (0, 0));
    // New actions, same bits consulted: modified in place.
    let b = of("priority=10,tcp,nw_dst=10.0.0.0/8,actions=output:4\npriority=0,actions=output:3");
    assert_eq!(pmd.revalidate(&b, true), (0, 1));
    pmd.process_burst(&b, &[&f1], 1, &mut sink);
    assert!(sink.ports.contains(&(4, 1, f1.len() as u64)));
    // A rule that needs more bits: the flows that would now consult them go.
    let c = of("priority=20,ip,nw_src=1.1.1.1,actions=drop\npriority=10,tcp,nw_dst=10.0.0.0/8,actions=output:4\npriority=0,actions=output:3");
    let (deleted, _) = pmd.revalidate(&c, true);
    assert_eq!(deleted, 2);
    assert_eq!(pmd.n_flows(), 0);
    // Deleted flows are gone from every cache: the next packet upcalls again.
    let up = pmd.stats.upcalls;
    pmd.process_burst(&c, &[&f1], 1, &mut sink);
    assert_eq!(pmd.stats.upcalls, up + 1);

    // Idle expiry.
    let mut pmd = Pmd::new(DpConfig {
        max_idle_ms: 0,
        ..DpConfig::default()
    })
    .expect("pmd");
    pmd.process_burst(&a, &[&f1, &f2], 1, &mut sink);
    assert_eq!(pmd.n_flows(), 2);
    let (deleted, _) = pmd.revalidate(&a, false);
    assert_eq!(deleted, 2);
    assert_eq!(pmd.n_flows(), 0);
}

#[test]
fn flow_limit_runs_actions_but_installs_nothing() {
    let rules = of("priority=1,ip,actions=output:2");
    let mut pmd = Pmd::new(DpConfig {
        flow_limit: 3,
        ..DpConfig::default()
    })
    .expect("pmd");
    assert_eq!(pmd.flow_limit(), 3);
    // Exact-match megaflows so each distinct packet needs its own flow.
    let mut exact = rules;
    exact.megaflows = false;
    let frames: Vec<Vec<u8>> = (0..10)
        .map(|i| {
            frame(&format!(
                "in_port=1,udp,nw_src=1.1.1.{i},nw_dst=2.2.2.2,nw_ttl=64,tp_src=1,tp_dst=2"
            ))
        })
        .collect();
    let burst: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
    let mut sink = CountingSink::default();
    pmd.process_burst(&exact, &burst, 1, &mut sink);
    assert_eq!(pmd.n_flows(), 3);
    assert_eq!(pmd.stats.upcall_flow_limit, 7);
    assert_eq!(pmd.stats.lost, 0);
    assert_eq!(sink.ports, vec![(2, 10, 10 * frames[0].len() as u64)]);
}

#[test]
fn dynamic_limit_starts_at_ten_thousand_and_stays_within_bounds() {
    let mut pmd = Pmd::new(DpConfig::default()).expect("pmd");
    assert_eq!(pmd.flow_limit(), 10_000);
    let a = of("priority=0,actions=drop");
    pmd.revalidate(&a, false);
    // Few flows: the limit does not grow, never goes below 1000 nor above the configured limit.
    assert!((1000..=200_000).contains(&pmd.flow_limit()));
}

#[test]
fn rule_timeouts_expire_rules_and_revalidate_their_flows() {
    let mut of = of(
        "priority=10,ip,nw_dst=10.0.0.1,idle_timeout=2,actions=output:2\n\
         priority=10,ip,nw_dst=10.0.0.2,hard_timeout=3,actions=output:4\n\
         priority=0,ip,actions=output:9",
    );
    let mut pmd = Pmd::new(DpConfig::default()).expect("pmd");
    let f1 = frame("in_port=1,udp,nw_src=1.1.1.1,nw_dst=10.0.0.1,nw_ttl=64,tp_src=1,tp_dst=2");
    let f2 = frame("in_port=1,udp,nw_src=1.1.1.1,nw_dst=10.0.0.2,nw_ttl=64,tp_src=1,tp_dst=2");
    let mut sink = CountingSink::default();
    pmd.process_burst(&of, &[&f1, &f2], 1, &mut sink);
    assert_eq!(
        sink.ports,
        vec![(2, 1, f1.len() as u64), (4, 1, f2.len() as u64)]
    );
    // Each flow remembers the rule its translation matched.
    let rule_of = |pmd: &Pmd, port: u32| -> Vec<u32> {
        pmd.flows()
            .find(|(_, f)| f.actions == vec![fastpath::odp::OdpAction::Output(port)])
            .map(|(_, f)| f.rules.to_vec())
            .unwrap_or_default()
    };
    assert_eq!(rule_of(&pmd, 2), vec![0]);
    assert_eq!(rule_of(&pmd, 4), vec![1]);

    // The flow to 10.0.0.1 carries traffic "at 50 s": revalidation pushes
    // that use to its rule, so the idle timeout counts from there.
    let id = pmd
        .flows()
        .find(|(_, f)| f.rules[..] == [0])
        .map(|(id, _)| id)
        .expect("flow of rule 0");
    assert!(pmd.credit_flow(id, 1, 64, 50_000 * 1_000_000, 0));
    assert_eq!(pmd.revalidate(&of, false), (0, 0));
    assert_eq!(of.used_ms(0), Some(50_000));

    // At 51 s only the hard timeout (3 s after loading) has passed.
    let gone = of.expire(51_000);
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].id, 1);
    // The table changed: the next revalidation re-translates without being
    // told, and the flow to 10.0.0.2 now takes the fallback rule.
    assert_eq!(pmd.revalidate(&of, false), (0, 1));
    assert_eq!(rule_of(&pmd, 9), vec![2]);
    // 2 s after its last use the idle rule goes too.
    assert!(of.expire(51_999).is_empty());
    assert_eq!(of.expire(52_000).len(), 1);
    assert_eq!(pmd.revalidate(&of, false), (0, 1));
    pmd.process_burst(&of, &[&f1, &f2], 1, &mut sink);
    assert!(
        sink.ports.contains(&(9, 2, 2 * f1.len() as u64)),
        "{:?}",
        sink.ports
    );
    assert_eq!(of.n_rules(), 1);
}

/// A `learn` rule through the datapath: the upcall learns, the learned
/// rule goes in as a rule change, and revalidation re-translates the
/// megaflow that flooded to the learned destination (OVS's learn.at
/// MAC learning by rules).
#[test]
fn learned_rules_revalidate_the_megaflows_they_change() {
    let mut a = of("table=0 actions=learn(table=1,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],output:NXM_OF_IN_PORT[]),resubmit(,1)\n\
                    table=1 priority=0 actions=flood");
    a.set_ports([1, 2, 3]);
    let mut pmd = Pmd::new(DpConfig::default()).expect("pmd");
    let mut sink = CountingSink::default();
    let to_b = frame("in_port=1,dl_src=00:00:00:00:00:0a,dl_dst=00:00:00:00:00:0b,ip");
    let from_b = frame("in_port=2,dl_src=00:00:00:00:00:0b,dl_dst=00:00:00:00:00:0a,ip");
    pmd.process_burst(&a, &[&to_b], 1, &mut sink);
    // Learned A on port 1; the frame to B flooded to 2 and 3.
    assert_eq!(a.apply_learned(), 1);
    assert_eq!(
        sink.ports,
        vec![(2, 1, to_b.len() as u64), (3, 1, to_b.len() as u64)]
    );
    pmd.process_burst(&a, &[&from_b], 2, &mut sink);
    assert_eq!(a.apply_learned(), 1);
    // The frame to A went to port 1 only.
    assert!(sink.ports.contains(&(1, 1, from_b.len() as u64)));
    // The megaflow to B flooded without reading dl_dst; with B learned its
    // translation reads it: revalidation deletes it, and B gets port 2 only.
    let (deleted, _) = pmd.revalidate(&a, false);
    assert!(deleted >= 1);
    pmd.process_burst(&a, &[&to_b, &to_b], 1, &mut sink);
    assert!(sink.ports.contains(&(2, 3, 3 * to_b.len() as u64)));
    assert!(sink.ports.contains(&(3, 1, to_b.len() as u64)));
}
