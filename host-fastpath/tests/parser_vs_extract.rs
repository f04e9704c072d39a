//! Hardware parser ≡ extract: the Verilated `fastpath_parser` (64-bit) and
//! `fastpath_parser_512` against `fastpath::extract` on random and crafted
//! frames — every protocol extract knows, VLAN/QinQ under both VLAN limits,
//! LLC/SNAP, IPv4 options and fragments, IPv6 extension chains, truncations
//! at every byte, corrupted length fields — with random `tvalid`/`tready`
//! gaps. For every frame the parser gives extract's key, malformed reason,
//! `bad_ip_version` flag, length and in port, or an exception; an exception
//! is only allowed where extract would read past the parse window or walk
//! more IPv6 extension headers than the parser does.
//!
//! CI runs ≥ 1 M frames (both widths together); `FASTPATH_LONG=1` ten times more.
#![cfg(feature = "sim")]

use abi::parser::{Exception, MalformedReason, PARSE_WINDOW_BYTES};
use abi::FlowKey;
use fastpath::extract::frame::*;
use fastpath::extract::{miniflow_extract_with, ExtractConfig, ExtractStats};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sim::parser::{ParserSim, ParserWidth, StreamOpts};

fn scale() -> usize {
    if std::env::var_os("FASTPATH_LONG").is_some() {
        10
    } else {
        1
    }
}

/// Random frames per width: `FASTPATH_PARSER_FRAMES`, else 500 K (× 10 long).
fn frames() -> usize {
    std::env::var("FASTPATH_PARSER_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500_000 * scale())
}

const EXT: [u8; 5] = [0, 43, 60, 51, 44];

/// A random frame built from protocol headers, then possibly cut or damaged.
fn random_frame(r: &mut StdRng) -> Vec<u8> {
    let mac = |r: &mut StdRng| r.gen::<u64>() & 0xffff_ffff_ffff;
    let nvlan = [0usize, 0, 0, 1, 1, 2, 2, 3][r.gen_range(0..8)];
    let vlans: Vec<(u16, u16)> = (0..nvlan)
        .map(|_| ([0x8100, 0x88a8][r.gen_range(0..2)], r.gen()))
        .collect();
    let l4 = |r: &mut StdRng, proto: u8| -> Vec<u8> {
        let pay: Vec<u8> = (0..r.gen_range(0..40)).map(|_| r.gen()).collect();
        match proto {
            6 => {
                let opts: Vec<u8> = (0..r.gen_range(0..3) * 4).map(|_| r.gen()).collect();
                tcp(r.gen(), r.gen(), r.gen(), &opts, &pay)
            }
            17 => udp(r.gen(), r.gen(), &pay),
            132 => sctp(r.gen(), r.gen(), &pay),
            // Neighbour discovery now and then: type 135/136, code 0.
            58 if r.gen_bool(0.3) => icmp(r.gen_range(135..=136), u8::from(r.gen_bool(0.2)), &pay),
            1 | 58 => icmp(r.gen(), r.gen(), &pay),
            _ => pay,
        }
    };
    let protos = [6u8, 17, 132, 1, 58, 47, 6, 17];
    let (ty, l3) = match r.gen_range(0..10) {
        0..=3 => {
            let proto = protos[r.gen_range(0..protos.len())];
            let mut h = Ipv4::new(r.gen(), r.gen(), proto);
            h.tos = r.gen();
            h.ttl = r.gen();
            h.frag = [0, 0, 0, 0x2000, 0x0010, 0x2010, r.gen()][r.gen_range(0..7)];
            h.options = (0..r.gen_range(0..4) * r.gen_range(0..11))
                .map(|_| r.gen())
                .collect();
            h.options.truncate(40);
            (0x0800, ipv4(&h, &l4(r, proto)))
        }
        4..=6 => {
            let proto = protos[r.gen_range(0..protos.len())];
            let mut body = l4(r, proto);
            let mut next = proto;
            for _ in 0..[0usize, 0, 1, 2, 3, 4, 5, 6][r.gen_range(0..8)] {
                let e = EXT[r.gen_range(0..EXT.len())];
                body = match e {
                    44 => {
                        let off = [0u16, 0, 1, 185][r.gen_range(0..4)];
                        ipv6_frag(next, off, r.gen(), &body)
                    }
                    51 => ipv6_ah(next, r.gen_range(0..4), &body),
                    _ => ipv6_opts(next, [0u8, 0, 1, 2, 9][r.gen_range(0..5)], &body),
                };
                next = e;
            }
            let mut h = Ipv6::new(r.gen(), r.gen(), next);
            h.tclass = r.gen();
            h.flow_label = r.gen();
            h.hop_limit = r.gen();
            (0x86dd, ipv6(&h, &body))
        }
        7 => {
            let mut a = arp(
                r.gen_range(0..3) * 0x80 + r.gen_range(0..3),
                mac(r),
                r.gen(),
                mac(r),
                r.gen(),
            );
            if r.gen_bool(0.1) {
                a[r.gen_range(0..6)] ^= 1 << r.gen_range(0..8);
            }
            ([0x0806, 0x8035][r.gen_range(0..2)], a)
        }
        8 => {
            // 802.3 length: LLC/SNAP (maybe IPv4 inside) or raw LLC.
            let inner = ipv4(
                &Ipv4::new(r.gen(), r.gen(), 17),
                &udp(r.gen(), r.gen(), &[]),
            );
            let p = if r.gen_bool(0.6) {
                llc_snap([0x0800, 0x86dd, 0x0500][r.gen_range(0..3)], &inner)
            } else {
                inner
            };
            (p.len() as u16, p)
        }
        _ => (r.gen(), (0..r.gen_range(0..60)).map(|_| r.gen()).collect()),
    };
    let mut f = ethernet(mac(r), mac(r), &vlans, ty, &l3);
    // Padding, as short frames carry on the wire.
    if r.gen_bool(0.3) {
        f.extend((0..r.gen_range(0..40)).map(|_| r.gen::<u8>()));
    }
    match r.gen_range(0..10) {
        0..=1 => {
            let cut = r.gen_range(0..=f.len());
            f.truncate(cut);
        }
        // Damage one header byte (lengths, versions, types).
        2 if !f.is_empty() => {
            let i = r.gen_range(0..f.len().min(80));
            f[i] = r.gen();
        }
        _ => {}
    }
    f
}

/// Crafted frames: each good frame cut at every length up to its end.
fn crafted() -> Vec<Vec<u8>> {
    let m = (0x5054_0000_0009, 0x0200_0a0b_0c0d);
    let v4 = |proto, l4: &[u8]| {
        let mut h = Ipv4::new(0x0a00_0002, 0xc0a8_0101, proto);
        h.options = vec![1; 8];
        ipv4(&h, l4)
    };
    let v6 = |next, body: &[u8]| ipv6(&Ipv6::new(1 << 120 | 5, 7 << 64 | 9, next), body);
    let tcp_ = tcp(80, 443, 0x1ff, &[1, 1, 1, 1], &[]);
    let mut good = vec![
        ethernet(m.0, m.1, &[], 0x0800, &v4(6, &tcp_)),
        ethernet(m.0, m.1, &[(0x8100, 5)], 0x0800, &v4(17, &udp(1, 2, &[]))),
        ethernet(
            m.0,
            m.1,
            &[(0x88a8, 5), (0x8100, 6)],
            0x86dd,
            &v6(58, &icmp(128, 0, &[])),
        ),
        // Neighbour discovery: an exception (host-only key fields).
        ethernet(m.0, m.1, &[], 0x86dd, &v6(58, &icmp(135, 0, &[7; 24]))),
        ethernet(m.0, m.1, &[], 0x86dd, &v6(58, &icmp(136, 0, &[7; 16]))),
        ethernet(
            m.0,
            m.1,
            &[],
            0x86dd,
            &v6(
                0,
                &ipv6_opts(
                    43,
                    0,
                    &ipv6_opts(60, 1, &ipv6_frag(132, 0, true, &sctp(9, 10, &[]))),
                ),
            ),
        ),
        ethernet(
            m.0,
            m.1,
            &[],
            0x86dd,
            &v6(51, &ipv6_ah(44, 1, &ipv6_frag(6, 7, false, &tcp_))),
        ),
        ethernet(m.0, m.1, &[], 0x0806, &arp(1, 1, 2, 3, 4)),
        ethernet(
            m.0,
            m.1,
            &[],
            30,
            &llc_snap(0x0800, &v4(1, &icmp(8, 0, &[]))),
        ),
    ];
    let mut frag = Ipv4::new(1, 2, 17);
    frag.frag = 0x2000;
    good.push(ethernet(
        m.0,
        m.1,
        &[],
        0x0800,
        &ipv4(&frag, &udp(3, 4, &[])),
    ));
    let mut out = Vec::new();
    for g in &good {
        for n in 0..=g.len() {
            out.push(g[..n].to_vec());
        }
    }
    // Headers past the window: IPv6 extension chains that push L4 beyond it.
    let long = ethernet(
        m.0,
        m.1,
        &[],
        0x86dd,
        &v6(
            0,
            &ipv6_opts(60, 9, &ipv6_opts(17, 2, &udp(5, 6, &[0; 30]))),
        ),
    );
    assert!(long.len() > PARSE_WINDOW_BYTES);
    out.push(long);
    out
}

/// extract's verdict on one frame.
fn extract(f: &[u8], port: u16, cfg: &ExtractConfig) -> (FlowKey, Option<MalformedReason>, bool) {
    let mut s = ExtractStats::default();
    let k = miniflow_extract_with(f, port as u32, cfg, &mut s);
    let reasons: Vec<MalformedReason> = MalformedReason::ALL
        .iter()
        .copied()
        .filter(|r| *r != MalformedReason::BadIpVersion && s.get(*r) != 0)
        .collect();
    assert!(
        reasons.len() <= 1,
        "extract counted {reasons:?} for one frame"
    );
    (k, reasons.first().copied(), s.bad_ip_version != 0)
}

#[derive(Default)]
struct Tally {
    frames: u64,
    exceptions: [u64; 4],
}

fn check(
    sim: &mut ParserSim,
    frames: &[Vec<u8>],
    vlan_limit: usize,
    opts: &StreamOpts,
    tally: &mut Tally,
) {
    let cfg = ExtractConfig::with_vlan_limit(vlan_limit);
    let ports: Vec<u16> = (0..frames.len()).map(|i| (i * 7919) as u16).collect();
    let input: Vec<(&[u8], u16)> = frames
        .iter()
        .map(|f| f.as_slice())
        .zip(ports.iter().copied())
        .collect();
    let opts = StreamOpts {
        vlan_limit: vlan_limit as u32,
        ..*opts
    };
    let (out, _) = sim.run(&input, &opts).expect("parser run");
    for (i, (p, f)) in out.iter().zip(frames).enumerate() {
        tally.frames += 1;
        let (key, reason, badver) = extract(f, ports[i], &cfg);
        assert_eq!(p.meta.in_port, ports[i], "frame {i}: in port");
        assert_eq!(p.meta.frame_len as usize, f.len(), "frame {i}: length");
        if let Some(x) = p.meta.exception {
            tally.exceptions[x as usize] += 1;
            assert_eq!(
                p.key,
                FlowKey::ZERO,
                "frame {i}: an exception carries no key"
            );
            if x == Exception::PastWindow {
                assert!(
                    f.len() > PARSE_WINDOW_BYTES,
                    "frame {i} ({} bytes, fits the window) raised {x:?}: {f:02x?}",
                    f.len()
                );
            }
            if x == Exception::NeighborDiscovery {
                let nd = abi::parser::is_nd(
                    key.get(abi::Field::DlType) == 0x86dd,
                    key.get(abi::Field::NwProto) as u8,
                    key.get(abi::Field::TpSrc) as u8,
                    key.get(abi::Field::TpDst) as u8,
                );
                assert!(nd, "frame {i}: {x:?} on a frame extract does not call ND");
            }
            if x == Exception::TooManyIpv6Ext {
                assert_eq!(
                    key.get(abi::Field::DlType),
                    0x86dd,
                    "frame {i}: {x:?} on a non-IPv6 frame"
                );
            }
            continue;
        }
        assert_eq!(
            (p.key, p.meta.malformed, p.meta.bad_ip_version),
            (key, reason, badver),
            "{:?} frame {i} ({} bytes, vlan_limit {vlan_limit}): parser (left) vs extract (right)\n{f:02x?}",
            sim.width(),
            f.len()
        );
    }
}

fn run_width(width: ParserWidth, n: usize, seed: u64) {
    let mut r = StdRng::seed_from_u64(seed);
    let mut sim = ParserSim::new(width);
    let mut t = Tally::default();
    let crafted = crafted();
    for limit in [1, 2] {
        check(&mut sim, &crafted, limit, &StreamOpts::default(), &mut t);
    }
    let batch = 4096;
    let mut done = 0;
    while done < n {
        let frames: Vec<Vec<u8>> = (0..batch).map(|_| random_frame(&mut r)).collect();
        let opts = StreamOpts {
            valid_pct: [100, 100, 70, 30][r.gen_range(0..4)],
            ready_pct: [100, 100, 60, 20][r.gen_range(0..4)],
            seed: r.gen(),
            ..StreamOpts::default()
        };
        check(&mut sim, &frames, r.gen_range(1..=2), &opts, &mut t);
        done += batch;
    }
    eprintln!(
        "{width:?}: {} frames, exceptions past_window {} too_many_ipv6_ext {} neighbor_discovery {}",
        t.frames, t.exceptions[1], t.exceptions[2], t.exceptions[3]
    );
}

#[test]
fn parser64_matches_extract() {
    run_width(ParserWidth::W64, frames(), 64);
}

#[test]
fn parser512_matches_extract() {
    run_width(ParserWidth::W512, frames(), 512);
}
