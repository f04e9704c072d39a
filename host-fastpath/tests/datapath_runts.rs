//! Runts (frames shorter than an Ethernet header) are dropped before
//! classification and counted, as Open vSwitch's `dfc_processing` does; the
//! other frames of their burst are forwarded as usual.

use fastpath::dpif::{DpConfig, PacketSink, Pmd};
use fastpath::extract::frame::{ethernet, ipv4, udp, Ipv4};
use fastpath::ofproto::{parse_rules, OfProto, Prefixes};

#[derive(Default)]
struct Ports(Vec<u32>);

impl PacketSink for Ports {
    fn output(&mut self, port: u32, _frame: &[u8]) {
        self.0.push(port);
    }
}

#[test]
fn runts_are_dropped_and_counted() {
    // A rule that would forward anything from port 1, runts included, were
    // they classified.
    let of = OfProto::with_rules(
        parse_rules("in_port=1,actions=output:2", "t").expect("rules"),
        Prefixes::default(),
    );
    let good = ethernet(
        0x5054_0000_0009,
        0x5054_0000_000a,
        &[],
        0x0800,
        &ipv4(&Ipv4::new(1, 2, 17), &udp(1, 2, &[0; 18])),
    );
    let runts: Vec<Vec<u8>> = (0..14).map(|n| good[..n].to_vec()).collect();
    let mut burst: Vec<&[u8]> = vec![&good];
    burst.extend(runts.iter().map(|r| r.as_slice()));
    burst.push(&good);
    let mut pmd = Pmd::new(DpConfig::default()).expect("pmd");
    let mut out = Ports::default();
    pmd.process_burst(&of, &burst, 1, &mut out);
    assert_eq!(out.0, vec![2, 2], "only the two whole frames are forwarded");
    let s = &pmd.stats;
    assert_eq!((s.packets, s.runts, s.dropped), (16, 14, 14));
    // The two whole frames miss (the second finds the first's install);
    // no runt reaches an upcall.
    assert_eq!((s.upcalls, s.upcall_existing), (2, 1));
    assert_eq!(pmd.extract_stats.too_short_eth, 14);
}
