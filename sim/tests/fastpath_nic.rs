//! The Verilated NIC (`fastpath_nic`) programmed through `driver::Nic` over
//! `SimFastpathNic`, with frames on its MAC ports and host queues. Every
//! frame's fate is checked against `abi::action_stage::action_stage`, fed
//! the hardware parser's key and meta word (`sim::parser::ParserSim`) and
//! the driver's shadow of the installed megaflows.

mod common;

use abi::action::{ActionEntry, ActionKind, EditEntry, SetMask, VlanOp, EDIT_WORDS, MAC_PORT_BASE};
use abi::action_stage::{
    action_stage, ActionCounter, ActionDesc, Disposition, TPID_8021AD, TPID_8021Q, VLAN_TAG_AT,
};
use abi::hostq::{HostRxMeta, HostRxReason, HostTxKind, HostTxMeta};
use abi::hostring::DescStatus;
use abi::regs::{HitKind, LookupResult, REG_SCRATCH};
use abi::{Field, FlowKey};
use common::rng;
use driver::{Device, HostQueueConfig, HostQueueError, HostQueues, Nic, Split32, HOSTQ_BURST};
use rand::Rng;
use sim::fastpath_nic::MAC_PORTS;
use sim::parser::{ParserSim, ParserWidth, StreamOpts};
use sim::{Backpressure, Frames, SimFastpathNic, SimNicError};
use std::collections::HashMap;

/// Datapath port the host injects as (no MAC port: its own megaflows).
const INJECT_PORT: u16 = 9;

/// A UDP/IPv4 frame of `len` bytes from 10.0.0.`src`; `salt` varies the rest.
fn udp_frame(src: u8, salt: u8, len: usize) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 0xbb, 0x02, 0, 0, 0, salt, src, 0x08, 0x00];
    let ip_len = (len - 14) as u16;
    f.extend([
        0x45,
        0,
        (ip_len >> 8) as u8,
        ip_len as u8,
        0,
        salt,
        0,
        0,
        64,
        17,
        0,
        0,
    ]);
    f.extend([10, 0, 0, src, 10, 0, 1, 1]);
    f.extend([0x30, 0x39, 0, 53, 0, (len - 34) as u8, 0, 0]);
    f.extend((0..len - f.len()).map(|i| (i as u8) ^ salt));
    f
}

/// `f` with a tag (`tpid`, `tci`) outside its others.
fn tagged(f: &[u8], tpid: u16, tci: u16) -> Vec<u8> {
    let mut t = f.to_vec();
    let (p, c) = (tpid.to_be_bytes(), tci.to_be_bytes());
    t.splice(VLAN_TAG_AT..VLAN_TAG_AT, [p[0], p[1], c[0], c[1]]);
    t
}

fn mac(i: u16) -> u16 {
    MAC_PORT_BASE + i
}

fn output(ports: u16) -> ActionEntry {
    ActionEntry {
        kind: Some(ActionKind::Output),
        out_ports: ports,
        ..ActionEntry::default()
    }
}

/// The NIC with slot 0 masked on (in_port, nw_src) and these megaflows:
/// (in_port, last byte of nw_src, action).
struct Bench {
    nic: Nic<SimFastpathNic>,
    mask: FlowKey,
    actions: HashMap<FlowKey, u64>,
    /// Edit-table entries written (the rest read 0).
    edits: HashMap<u16, EditEntry>,
    parser: ParserSim,
}

/// Edit-table entries the flows name: (index, values).
fn edits() -> [(u16, EditEntry); 2] {
    let e = |src: u8, dst: u8| EditEntry {
        eth_src: [0x02, 0x5a, 0, 0, 0, src],
        eth_dst: [0x02, 0xda, 0, 0, 0, dst],
        ..EditEntry::default()
    };
    [(77, e(1, 2)), (4095, e(3, 4))]
}

fn flows() -> Vec<(u16, u8, ActionEntry)> {
    let drop = ActionEntry {
        kind: Some(ActionKind::Drop),
        ..ActionEntry::default()
    };
    let to_host = ActionEntry {
        kind: Some(ActionKind::ToHost),
        ..ActionEntry::default()
    };
    // Ethernet rewrites the stage makes; an IPv4 one it leaves to the host.
    let eth = ActionEntry {
        set: SetMask {
            eth_src: true,
            eth_dst: true,
            ..SetMask::default()
        },
        edit_index: 77,
        ..output(0b01)
    };
    let eth_pop = ActionEntry {
        set: SetMask {
            eth_dst: true,
            ..SetMask::default()
        },
        edit_index: 4095,
        vlan: Some(VlanOp::Pop),
        ..output(0b11)
    };
    let ip_edit = ActionEntry {
        set: SetMask {
            eth_dst: true,
            ipv4_dst: true,
            ..SetMask::default()
        },
        edit_index: 77,
        ..output(0b01)
    };
    let vlan = |op, ad, tci, ports| ActionEntry {
        vlan: Some(op),
        vlan_8021ad: ad,
        vlan_tci: tci,
        ..output(ports)
    };
    vec![
        (mac(0), 5, vlan(VlanOp::Push, true, 0x2064, 0b11)),
        (mac(1), 2, vlan(VlanOp::Pop, false, 0, 0b01)),
        (mac(1), 3, vlan(VlanOp::SetTci, false, 0xe00a, 0b10)),
        (INJECT_PORT, 4, vlan(VlanOp::Push, false, 0x0fff, 0b10)),
        (mac(0), 1, output(0b10)),
        (mac(0), 2, output(0b11)),
        (mac(0), 3, drop),
        (mac(0), 4, output(0)),
        (mac(1), 1, output(0b01)),
        (mac(1), 4, to_host),
        (mac(1), 5, eth),
        (mac(1), 7, eth_pop),
        (mac(0), 7, ip_edit),
        (INJECT_PORT, 1, output(0b01)),
        (INJECT_PORT, 2, drop),
    ]
}

impl Bench {
    fn new() -> Bench {
        let mut nic = Nic::open(SimFastpathNic::new()).expect("Nic::open over SimFastpathNic");
        // CAP_ACTIONS announces the packet path: the host encodes for it.
        assert_eq!(nic.capability().mac_ports as usize, MAC_PORTS);
        let mask = FlowKey::ZERO
            .with(Field::InPort, u64::MAX)
            .with(Field::NwSrc, u64::MAX);
        nic.set_mask(0, &mask).expect("mask");
        let mut b = Bench {
            nic,
            mask,
            actions: HashMap::new(),
            edits: HashMap::new(),
            parser: ParserSim::new(ParserWidth::W64),
        };
        // Entries before the action words that name them.
        for (i, e) in edits() {
            b.nic.write_edit(i, &e).expect("edit entry");
            b.edits.insert(i, e);
        }
        for (i, (port, src, a)) in flows().into_iter().enumerate() {
            b.install(port, src, 100 + i as u32, a);
        }
        b
    }

    fn install(&mut self, port: u16, src: u8, flow_id: u32, a: ActionEntry) {
        let key = FlowKey::ZERO
            .with(Field::InPort, port as u64)
            .with(Field::NwSrc, 0x0a00_0000 | src as u64);
        self.nic
            .install_megaflow(0, &key, flow_id, &a)
            .expect("install");
        self.actions.insert(key.masked(&self.mask), a.encode());
    }

    /// What the reference stage does with `frame` received on `in_port`.
    fn expect(&mut self, frame: &[u8], in_port: u16) -> Disposition {
        let (p, _) = self
            .parser
            .run(&[(frame, in_port)], &StreamOpts::default())
            .expect("parser");
        let key = p[0].key;
        let (result, action) = match self.nic.megaflow_lookup(0, &key) {
            Some(e) => (
                LookupResult {
                    kind: HitKind::Megaflow,
                    slot: e.slot,
                    index: e.index,
                    flow_id: e.flow_id,
                },
                self.actions[&e.masked_key],
            ),
            None => (LookupResult::MISS, 0),
        };
        let index = ActionEntry::decode(action).map_or(0, |a| a.edit_index);
        let desc = ActionDesc {
            result: result.encode().expect("result encodes"),
            action,
            parse_meta: p[0].meta.encode(),
            hash: abi::hash_key(&key),
            edit: self
                .edits
                .get(&index)
                .map_or([0; EDIT_WORDS], EditEntry::encode),
        };
        action_stage(&desc, frame)
            .expect("meta decodes")
            .disposition
    }
}

/// What one run should produce, per sink, and how many drops.
#[derive(Default, Debug)]
struct Expected {
    tx: [Vec<Vec<u8>>; sim::fastpath_nic::MAC_PORTS],
    host: Vec<(HostRxMeta, Vec<u8>)>,
    dropped: usize,
    /// Frames sent edited: grown (push), shrunk (pop), rewritten (TCI).
    edited: [usize; 3],
}

impl Expected {
    fn add(&mut self, frame: &[u8], d: Disposition) {
        match d {
            Disposition::Tx { ports, bytes } => {
                let e = match bytes.len().cmp(&frame.len()) {
                    std::cmp::Ordering::Greater => Some(0),
                    std::cmp::Ordering::Less => Some(1),
                    _ if bytes != frame => Some(2),
                    _ => None,
                };
                if let Some(e) = e {
                    self.edited[e] += 1;
                }
                for (p, tx) in self.tx.iter_mut().enumerate() {
                    if ports >> p & 1 == 1 {
                        tx.push(bytes.clone());
                    }
                }
            }
            Disposition::Drop => self.dropped += 1,
            Disposition::Host { meta, bytes } => self.host.push((meta, bytes)),
        }
    }
}

/// Random traffic: frames on both MAC ports and the host TX queue (output
/// and inject), queued on the NIC and added to the expectation.
fn traffic(b: &mut Bench, n: usize, seed: u64, exp: &mut Expected) -> usize {
    let mut r = rng(seed);
    let mut host_out = 0;
    for i in 0..n {
        let src = r.gen_range(1..=7u8);
        let len = r.gen_range(60..=300);
        let f = udp_frame(src, i as u8, len);
        // One tag, two, or none: pop and set edit the outer one.
        let f = match r.gen_range(0..4) {
            0 => tagged(&f, TPID_8021Q, r.gen()),
            1 => tagged(&tagged(&f, TPID_8021Q, r.gen()), TPID_8021AD, r.gen()),
            _ => f,
        };
        match r.gen_range(0..4) {
            p @ (0 | 1) => {
                let d = b.expect(&f, mac(p));
                exp.add(&f, d);
                b.nic.device().queue_rx(p as usize, &f).expect("port");
            }
            2 => {
                let d = b.expect(&f, INJECT_PORT);
                exp.add(&f, d);
                b.nic.device().queue_host_tx(&inject(&f), &f);
            }
            _ => {
                let p = r.gen_range(0..2u16);
                exp.tx[p as usize].push(f.clone());
                host_out += 1;
                let m = HostTxMeta {
                    kind: HostTxKind::Output,
                    port: mac(p),
                    frame_len: f.len() as u16,
                };
                b.nic.device().queue_host_tx(&m, &f);
            }
        }
    }
    host_out
}

fn inject(f: &[u8]) -> HostTxMeta {
    HostTxMeta {
        kind: HostTxKind::Inject,
        port: INJECT_PORT,
        frame_len: f.len() as u16,
    }
}

struct Got {
    tx: [Vec<Vec<u8>>; sim::fastpath_nic::MAC_PORTS],
    host: Vec<(HostRxMeta, Vec<u8>)>,
}

fn take(nic: &mut SimFastpathNic) -> Got {
    let mut tx = Frames::default();
    let mut hrx = Frames::default();
    nic.take_tx(&mut tx);
    nic.take_host_rx(&mut hrx).expect("host RX meta decodes");
    let mut g = Got {
        tx: Default::default(),
        host: hrx.iter().map(|(m, b)| (m, b.to_vec())).collect(),
    };
    for (p, bytes) in tx.iter() {
        g.tx[p as usize].push(bytes.to_vec());
    }
    g
}

fn sorted<T: Ord + Clone>(v: &[T]) -> Vec<T> {
    let mut v = v.to_vec();
    v.sort();
    v
}

fn host_key(h: &[(HostRxMeta, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    sorted(
        &h.iter()
            .map(|(m, b)| (format!("{m:?}"), b.clone()))
            .collect::<Vec<_>>(),
    )
}

/// Runs `n` random frames with backpressure `bp` and checks every one.
fn random_traffic(n: usize, seed: u64, bp: Backpressure) {
    let mut b = Bench::new();
    b.nic.device().set_backpressure(bp);
    let before = b.nic.device().counters();
    let mut exp = Expected::default();
    let host_out = traffic(&mut b, n, seed, &mut exp);
    // The traffic reaches every rule of the stage.
    assert!(exp.dropped > 0 && exp.tx.iter().all(|t| !t.is_empty()));
    assert!(
        exp.edited.iter().all(|n| *n > 0),
        "VLAN edits {:?}",
        exp.edited
    );
    for r in HostRxReason::ALL
        .iter()
        .filter(|&&r| r != HostRxReason::Exception)
    {
        assert!(exp.host.iter().any(|(m, _)| m.reason == *r), "{r:?}");
    }
    b.nic
        .device()
        .run_until_idle(2_000_000)
        .expect("the NIC goes idle");
    assert_eq!(b.nic.device().pending(), 0);
    let got = take(b.nic.device());
    for p in 0..sim::fastpath_nic::MAC_PORTS {
        assert_eq!(
            sorted(&got.tx[p]),
            sorted(&exp.tx[p]),
            "MAC port {p}: the frames the reference sends there, byte for byte"
        );
    }
    assert_eq!(host_key(&got.host), host_key(&exp.host), "host RX frames");
    let c = b.nic.device().counters();
    let d = |f: fn(&sim::NicCounters) -> u64| f(&c) - f(&before);
    let action = |a| c.action(a) - before.action(a);
    let sent_in = d(|c| c.rx_frames0()) + d(|c| c.rx_frames1()) + d(|c| c.inject_frames());
    assert_eq!(
        sent_in as usize,
        n - host_out,
        "every MAC and inject frame entered"
    );
    assert_eq!(d(|c| c.frames_in()), sent_in);
    assert_eq!(d(|c| c.frames_out()), sent_in);
    let stage: u64 = ActionCounter::ALL.iter().map(|&a| action(a)).sum();
    assert_eq!(stage, sent_in, "each frame counts in one action counter");
    assert_eq!(action(ActionCounter::Dropped) as usize, exp.dropped);
    assert!(
        action(ActionCounter::EditsToHost) > 0,
        "an IPv4 rewrite reached the host"
    );
    assert_eq!(d(|c| c.host_tx_frames()) as usize, host_out);
    assert_eq!(
        (action(ActionCounter::HostMarked)
            + action(ActionCounter::HostMiss)
            + action(ActionCounter::HostException)
            + action(ActionCounter::EditsToHost)) as usize,
        exp.host.len()
    );
    assert_eq!(d(|c| c.drops_full()) + d(|c| c.drops_oversize()), 0);
}

#[test]
fn random_frames_go_where_the_reference_says() {
    random_traffic(300, 11, Backpressure::default());
}

#[test]
fn random_backpressure_loses_nothing() {
    random_traffic(
        300,
        12,
        Backpressure {
            valid_pct: 60,
            tx_ready_pct: 35,
            hrx_ready_pct: 25,
            seed: 7,
        },
    );
}

#[test]
fn outputs_misses_and_injects_in_detail() {
    let mut b = Bench::new();
    let hit = |src, salt| udp_frame(src, salt, 64);
    // MAC 0, 10.0.0.1 → MAC 1, in order and whole; 10.0.0.2 → both ports.
    let to1: Vec<Vec<u8>> = (0..5).map(|i| hit(1, i)).collect();
    let both = udp_frame(2, 9, 97);
    let dev = b.nic.device();
    for f in &to1 {
        dev.queue_rx(0, f).expect("port 0");
    }
    dev.queue_rx(0, &both).expect("port 0");
    // A miss on MAC 1 (no flow for 10.0.0.6).
    let miss = udp_frame(6, 1, 75);
    dev.queue_rx(1, &miss).expect("port 1");
    // Injected as if on INJECT_PORT: 10.0.0.1 hits (→ MAC 0), 10.0.0.3 misses.
    let inj_hit = udp_frame(1, 40, 64);
    let inj_miss = udp_frame(3, 41, 64);
    dev.queue_host_tx(&inject(&inj_hit), &inj_hit);
    dev.queue_host_tx(&inject(&inj_miss), &inj_miss);
    let cycles = dev.run_until_idle(1_000_000).expect("idle");
    assert!(cycles > 0);
    let got = take(dev);
    let mut want1 = to1.clone();
    want1.push(both.clone());
    assert_eq!(got.tx[1], want1, "MAC 0's frames leave MAC 1 in order");
    assert_eq!(
        sorted(&got.tx[0]),
        sorted(&[both.clone(), inj_hit.clone()]),
        "the fan-out copy and the injected hit leave MAC 0"
    );
    assert_eq!(got.host.len(), 2, "the two misses reach the host");
    let mut misses = 0;
    for (f, port) in [(&miss, mac(1)), (&inj_miss, INJECT_PORT)] {
        let (parsed, _) = b
            .parser
            .run(&[(f.as_slice(), port)], &StreamOpts::default())
            .expect("parser");
        let (m, bytes) = got
            .host
            .iter()
            .find(|(_, bytes)| bytes == f)
            .expect("the miss is on the host RX queue");
        assert_eq!(bytes, f);
        assert_eq!(m.reason, HostRxReason::Miss);
        assert_eq!(m.in_port, port);
        assert_eq!(m.frame_len as usize, f.len());
        assert_eq!(m.hash, abi::hash_key(&parsed[0].key));
        assert_eq!(m.mark, 0);
        misses += 1;
    }
    assert_eq!(misses, 2);
    let c = b.nic.device().counters();
    assert_eq!(
        (c.rx_frames0(), c.rx_frames1(), c.inject_frames()),
        (6, 1, 2)
    );
    assert_eq!(c.action(ActionCounter::Forwarded), 7);
    assert_eq!(c.action(ActionCounter::HostMiss), 2);
    assert_eq!(c.frames_in(), 9);
}

/// Every RX descriptor written back so far, reaped in bursts.
fn reap_all(q: &mut HostQueues, dev: &mut SimFastpathNic) -> Vec<(HostRxMeta, Vec<u8>)> {
    let mut got = Vec::new();
    while q
        .reap_rx(dev, HOSTQ_BURST, |m, f| got.push((m, f.to_vec())))
        .expect("reap")
        > 0
    {}
    got
}

#[test]
fn frames_round_trip_through_the_host_rings() {
    let mut b = Bench::new();
    let (dev, q) = b.nic.host_queues().expect("rings");
    // Misses from MAC 1 land in the RX ring, whole and in order: more than
    // a burst, so the reap goes round its loop.
    let misses: Vec<Vec<u8>> = (0..40)
        .map(|i| udp_frame(6, i, 60 + i as usize * 37))
        .collect();
    for f in &misses {
        dev.queue_rx(1, f).expect("port 1");
    }
    dev.run_until_idle(4_000_000).expect("idle");
    let got = reap_all(q, dev);
    assert_eq!(got.iter().map(|g| g.1.clone()).collect::<Vec<_>>(), misses);
    for (m, f) in &got {
        assert_eq!(
            (m.reason, m.in_port, m.frame_len as usize),
            (HostRxReason::Miss, mac(1), f.len())
        );
    }
    assert!(
        take(dev).host.is_empty(),
        "the ring took the host RX frames"
    );
    // Through the TX ring: an output to MAC 0, an injected hit (→ MAC 0)
    // and an injected miss (→ back into the RX ring).
    let out = udp_frame(9, 1, 80);
    let inj_hit = udp_frame(1, 40, 64);
    let inj_miss = udp_frame(3, 41, 64);
    let to_mac0 = HostTxMeta {
        kind: HostTxKind::Output,
        port: mac(0),
        frame_len: out.len() as u16,
    };
    q.post_tx(&to_mac0, &out).expect("post");
    q.post_tx(&inject(&inj_hit), &inj_hit).expect("post");
    q.post_tx(&inject(&inj_miss), &inj_miss).expect("post");
    assert_eq!(
        q.reap_tx().expect("reap"),
        0,
        "nothing moves before the doorbell"
    );
    q.flush_tx(dev).expect("doorbell");
    assert_eq!(q.reap_tx().expect("reap"), 3, "fetched on the doorbell");
    dev.run_until_idle(1_000_000).expect("idle");
    let got_tx = take(dev);
    assert_eq!(sorted(&got_tx.tx[0]), sorted(&[out, inj_hit]));
    let back = reap_all(q, dev);
    assert_eq!(back.len(), 1);
    assert_eq!((back[0].0.in_port, &back[0].1), (INJECT_PORT, &inj_miss));
    assert_eq!(q.rx_drops(dev).expect("drops"), 0);
    assert_eq!(dev.counters().inject_frames(), 2);
}

#[test]
fn a_full_or_short_rx_ring_loses_nothing_silently() {
    let mut nic = SimFastpathNic::new();
    let cfg = HostQueueConfig {
        log2_entries: 2,
        buf_bytes: 100,
    };
    let mut q = HostQueues::open(&mut nic, cfg).expect("rings");
    // Seven misses for four 100-byte buffers; the second is too long.
    let frames: Vec<Vec<u8>> = (0..7)
        .map(|i| udp_frame(6, i, if i == 1 { 150 } else { 64 }))
        .collect();
    for f in &frames {
        nic.queue_rx(0, f).expect("port 0");
    }
    nic.run_until_idle(1_000_000).expect("idle");
    assert_eq!(nic.counters().action(ActionCounter::HostMiss), 7);
    assert_eq!(q.rx_drops(&mut nic).expect("drops"), 3, "no buffer for 3");
    let mut got = Vec::new();
    let e = q
        .reap_rx(&mut nic, HOSTQ_BURST, |_, f| got.push(f.to_vec()))
        .unwrap_err();
    assert!(
        matches!(
            e,
            HostQueueError::Descriptor {
                index: 1,
                status: DescStatus::TooLong,
                frame_len: 150,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(got, [frames[0].clone()]);
    let rest: Vec<Vec<u8>> = reap_all(&mut q, &mut nic)
        .into_iter()
        .map(|g| g.1)
        .collect();
    assert_eq!(rest, frames[2..4]);
    // The buffers are posted again: the next frame gets one.
    nic.queue_rx(0, &frames[6]).expect("port 0");
    nic.run_until_idle(1_000_000).expect("idle");
    assert_eq!(reap_all(&mut q, &mut nic)[0].1, frames[6]);
}

#[test]
fn rings_work_over_a_32_bit_bus() {
    let mut nic = SimFastpathNic::new();
    let mut bus = Split32::new(&mut nic);
    let cfg = HostQueueConfig {
        log2_entries: 3,
        buf_bytes: 2048,
    };
    let mut q = HostQueues::open(&mut bus, cfg).expect("rings");
    let f = udp_frame(6, 3, 300);
    let meta = HostTxMeta {
        kind: HostTxKind::Output,
        port: mac(1),
        frame_len: f.len() as u16,
    };
    for _ in 0..3 {
        q.post_tx(&meta, &f).expect("post");
    }
    q.flush_tx(&mut bus).expect("doorbell");
    assert_eq!(q.reap_tx().expect("reap"), 3);
    let dev = bus.into_inner();
    dev.queue_rx(0, &f).expect("port 0");
    dev.run_until_idle(1_000_000).expect("idle");
    assert_eq!(take(dev).tx[1], [f.clone(), f.clone(), f.clone()]);
    let got = reap_all(&mut q, dev);
    assert_eq!(
        (got.len(), &got[0].1),
        (1, &f),
        "the miss came through the ring"
    );
}

#[test]
fn errors_name_their_input() {
    let mut nic = SimFastpathNic::new();
    match nic.queue_rx(sim::fastpath_nic::MAC_PORTS, &[0; 60]) {
        Err(SimNicError::NoSuchPort { port }) => assert_eq!(port, sim::fastpath_nic::MAC_PORTS),
        other => panic!("{other:?}"),
    }
    // The register file answers as fastpath_top's does.
    nic.write64(0, REG_SCRATCH.addr(), 0x1234_5678_9abc_def0)
        .expect("write");
    assert_eq!(
        nic.read64(0, REG_SCRATCH.addr()).expect("read"),
        0x1234_5678_9abc_def0
    );
    assert!(nic.read64(1, 0).is_err(), "BAR 1 does not exist");
    // A frame that cannot finish: the run says how many are left.
    nic.queue_rx(0, &udp_frame(1, 0, 64)).expect("port");
    match nic.run_until_idle(3) {
        Err(SimNicError::Timeout { cycles, pending }) => assert_eq!((cycles, pending), (3, 1)),
        other => panic!("{other:?}"),
    }
}

/// Frames per second through the model: 64-byte frames on both MAC ports,
/// every one hitting an `Output` megaflow. Prints the figure
/// (docs/PERFORMANCE.md); run with
/// `cargo test -p sim --test fastpath_nic -- --ignored --nocapture throughput`.
#[test]
#[ignore]
fn throughput_64_byte_hits() {
    let mut b = Bench::new();
    let per_port = 50_000;
    let frames: Vec<Vec<u8>> = (0..256).map(|i| udp_frame(1, i as u8, 64)).collect();
    let dev = b.nic.device();
    for i in 0..per_port {
        for p in 0..2 {
            dev.queue_rx(p, &frames[i % frames.len()]).expect("port");
        }
    }
    let t = std::time::Instant::now();
    let cycles = dev.run_until_idle(100_000_000).expect("idle");
    let secs = t.elapsed().as_secs_f64();
    let mut tx = Frames::default();
    dev.take_tx(&mut tx);
    assert_eq!(tx.len(), 2 * per_port, "every frame left");
    let n = (2 * per_port) as f64;
    println!(
        "fastpath_nic: {n} 64-byte frames in {secs:.2} s: {:.3} Mpps simulated, {} cycles ({:.1} per frame), {:.2} M cycles/s",
        n / secs / 1e6,
        cycles,
        cycles as f64 / n,
        cycles as f64 / secs / 1e6
    );
}
