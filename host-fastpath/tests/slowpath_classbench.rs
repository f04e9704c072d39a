//! ClassBench-style end to end: a generated ACL (ours, shipped as
//! examples/acl-small.flows), packets drawn inside its rules and at random,
//! run as frames through extract → EMC → megaflow classifier → upcall; every
//! packet's output must equal a linear first-match over the rules.

use abi::FlowKey;
use fastpath::dpif::{DpConfig, PacketSink, Pmd};
use fastpath::io::frames::{frame_from_key, MIN_FRAME};
use fastpath::io::gen::{acl_rules, key_inside, Rng};
use fastpath::ofproto::{parse_rules, Action, Flow, OfProto, Prefixes, Rule};

struct Recorder(Vec<(u32, u32)>);

impl PacketSink for Recorder {
    fn output(&mut self, port: u32, frame: &[u8]) {
        let n = frame.len();
        let idx = u32::from_be_bytes([frame[n - 4], frame[n - 3], frame[n - 2], frame[n - 1]]);
        self.0.push((idx, port));
    }
}

fn linear(rules: &[Rule], k: &FlowKey) -> Vec<u32> {
    let f = Flow::from_key(k);
    let mut best: Option<&Rule> = None;
    for r in rules {
        if r.table == 0 && r.m.matches(&f) && best.is_none_or(|b| r.priority > b.priority) {
            best = Some(r);
        }
    }
    let mut out = Vec::new();
    for a in best.map(|r| r.actions.as_slice()).unwrap_or(&[]) {
        if let Action::Output(p) = a {
            if *p != 1 {
                out.push(*p);
            }
        }
    }
    out
}

fn run_check(text: &str, seed: u64, emc_inv: u32, prefixes: &str) {
    let rules = parse_rules(text, "acl").expect("generated ACL parses");
    let of = OfProto::with_rules(
        rules.clone(),
        prefixes.parse::<Prefixes>().expect("prefixes"),
    );
    let mut rng = Rng::new(fastpath::io::gen::test_seed(seed));
    let n = 3000;
    let mut keys = Vec::new();
    for i in 0..n {
        let k = if i % 3 == 2 {
            // Anything at all: mostly hits the catch-all.
            let mut k = key_inside(&rules[rules.len() - 1], &mut rng, 1);
            k.set(abi::Field::NwSrc, rng.next_u64() & 0xffff_ffff);
            k
        } else {
            key_inside(&rules[rng.below(rules.len() as u64) as usize], &mut rng, 1)
        };
        keys.push(k);
    }
    let frames: Vec<Vec<u8>> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let mut f = frame_from_key(k, MIN_FRAME + 4);
            let l = f.len();
            f[l - 4..].copy_from_slice(&(i as u32).to_be_bytes());
            f
        })
        .collect();
    let expect: Vec<Vec<u32>> = keys.iter().map(|k| linear(&rules, k)).collect();
    let mut pmd = Pmd::new(DpConfig {
        emc_insert_inv_prob: emc_inv,
        ..DpConfig::default()
    })
    .expect("pmd");
    // Three passes in different orders: upcalls, then megaflow and EMC hits.
    for pass in 0..3 {
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            order.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let mut rec = Recorder(Vec::new());
        for chunk in order.chunks(32) {
            let burst: Vec<&[u8]> = chunk.iter().map(|&i| frames[i].as_slice()).collect();
            pmd.process_burst(&of, &burst, 1, &mut rec);
        }
        let mut got: Vec<Vec<u32>> = vec![Vec::new(); n];
        for (idx, port) in rec.0 {
            got[idx as usize].push(port);
        }
        for i in 0..n {
            assert_eq!(got[i], expect[i], "pass {pass}, packet {i}: {:?}", keys[i]);
        }
    }
    let st = pmd.stats;
    assert_eq!(st.packets, 3 * n as u64);
    assert_eq!(st.emc_hits + st.megaflow_hits + st.upcalls, st.packets);
    assert_eq!(st.lost, 0);
    assert!(st.megaflow_hits > 0);
    if emc_inv > 0 {
        assert!(st.emc_hits > 0);
    }
    // Megaflows never overlap: each installed flow's own key finds itself.
    for (id, f) in pmd.flows() {
        assert_eq!(pmd.dpcls.lookup(&f.ukey), Some(id));
    }
}

#[test]
fn generated_acl_matches_linear_first_match() {
    run_check(&acl_rules(300, 11), 5, 1, "nw_dst,nw_src");
    run_check(&acl_rules(150, 12), 6, 0, "none");
}

#[test]
fn shipped_example_is_reproducible_and_correct() {
    let shipped = include_str!("../../examples/acl-small.flows");
    assert_eq!(
        shipped,
        acl_rules(200, 1),
        "examples/acl-small.flows must equal `fastpath gen-rules --count 200 --seed 1`"
    );
    run_check(shipped, 7, 100, "nw_dst,nw_src,ipv6_dst,ipv6_src");
}
