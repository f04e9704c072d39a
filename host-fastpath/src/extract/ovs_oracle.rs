//! Differential test against Open vSwitch itself: thousands of generated
//! frames (well-formed, truncated, corrupted) are written to a pcap file and
//! parsed by `ovs-ofctl parse-pcap`, which runs OVS's own `flow_extract()`
//! (the same code as `miniflow_extract()`); every flow it prints must equal
//! our key field by field.
//!
//! `ovs-ofctl` comes from Debian's `openvswitch-common`. Without it the test
//! is skipped with a note, unless `FASTPATH_REQUIRE_OVS=1` (CI sets it after
//! installing the package), which turns a missing tool into a failure.
//!
//! Known, deliberate differences, excluded from the comparison: OVS puts the
//! IGMP type/code in `tp_src`/`tp_dst` (the abi key defines no IGMP fields),
//! and fields the key does not have (IPv6 flow label, MPLS labels) are
//! ignored.

use std::io::Write;
use std::process::Command;

use abi::key::VLAN_PRESENT;
use abi::Field::*;
use abi::FlowKey;
use rand::prelude::*;

use super::frame::*;
use super::parse::*;
use super::{miniflow_extract, ExtractStats};

/// Parses one line of `ovs-ofctl parse-pcap` output into a key (in_port 0).
/// Returns `None` for flows outside the key's coverage (MPLS).
fn parse_ovs_flow(line: &str) -> Result<Option<FlowKey>, String> {
    let mut k = FlowKey::ZERO;
    let mut tos = 0u64;
    for (n, tok) in line.split(',').enumerate() {
        let Some((name, value)) = tok.split_once('=') else {
            if n != 0 {
                return Err(format!("bare token {tok:?}"));
            }
            let (ty, proto) = match tok {
                "ip" => (0x0800, None),
                "ipv6" => (0x86dd, None),
                "tcp" => (0x0800, Some(6)),
                "udp" => (0x0800, Some(17)),
                "sctp" => (0x0800, Some(132)),
                "icmp" => (0x0800, Some(1)),
                "tcp6" => (0x86dd, Some(6)),
                "udp6" => (0x86dd, Some(17)),
                "sctp6" => (0x86dd, Some(132)),
                "icmp6" => (0x86dd, Some(58)),
                "arp" => (0x0806, None),
                "rarp" => (0x8035, None),
                "mpls" | "mplsm" => return Ok(None),
                _ => return Err(format!("unknown protocol keyword {tok:?}")),
            };
            k.set(DlType, ty);
            if let Some(p) = proto {
                k.set(NwProto, p);
            }
            continue;
        };
        let num = |v: &str| -> Result<u64, String> {
            match v.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16),
                None => v.parse(),
            }
            .map_err(|e| format!("{name}={v}: {e}"))
        };
        let mac = |v: &str| -> Result<u64, String> {
            u64::from_str_radix(&v.replace(':', ""), 16).map_err(|e| format!("{name}={v}: {e}"))
        };
        let ip4 = |v: &str| -> Result<u64, String> {
            v.parse::<std::net::Ipv4Addr>()
                .map(|a| u32::from(a) as u64)
                .map_err(|e| format!("{name}={v}: {e}"))
        };
        let ip6 = |v: &str| -> Result<u128, String> {
            v.parse::<std::net::Ipv6Addr>()
                .map(u128::from)
                .map_err(|e| format!("{name}={v}: {e}"))
        };
        match name {
            "in_port" | "ipv6_label" => {}
            "dl_type" => k.set(DlType, num(value)?),
            "vlan_tci" => k.set(VlanTci, num(value)?),
            "vlan_tci1" => k.set(VlanTci2, num(value)?),
            "dl_vlan" => k.set(VlanTci, k.get(VlanTci) | num(value)? | VLAN_PRESENT as u64),
            "dl_vlan_pcp" => k.set(
                VlanTci,
                k.get(VlanTci) | num(value)? << 13 | VLAN_PRESENT as u64,
            ),
            "dl_vlan1" => k.set(
                VlanTci2,
                k.get(VlanTci2) | num(value)? | VLAN_PRESENT as u64,
            ),
            "dl_vlan_pcp1" => k.set(
                VlanTci2,
                k.get(VlanTci2) | num(value)? << 13 | VLAN_PRESENT as u64,
            ),
            "dl_src" => k.set(DlSrc, mac(value)?),
            "dl_dst" => k.set(DlDst, mac(value)?),
            "nw_src" | "arp_spa" => k.set(NwSrc, ip4(value)?),
            "nw_dst" | "arp_tpa" => k.set(NwDst, ip4(value)?),
            "ipv6_src" => k.set_ipv6_src(ip6(value)?),
            "ipv6_dst" => k.set_ipv6_dst(ip6(value)?),
            "arp_sha" => k.set(ArpSha, mac(value)?),
            "arp_tha" => k.set(ArpTha, mac(value)?),
            "nw_proto" | "arp_op" => k.set(NwProto, num(value)?),
            "nw_tos" | "nw_ecn" => tos |= num(value)?,
            "nw_ttl" => k.set(NwTtl, num(value)?),
            "nw_frag" => k.set(
                NwFrag,
                match value {
                    "no" => 0,
                    "first" => 1,
                    "later" => 3,
                    _ => return Err(format!("nw_frag={value}")),
                },
            ),
            "nd_target" => k.set_nd_target(ip6(value)?),
            "nd_sll" => k.set(NdSll, mac(value)?),
            "nd_tll" => k.set(NdTll, mac(value)?),
            "tp_src" | "icmp_type" | "icmpv6_type" => k.set(TpSrc, num(value)?),
            "tp_dst" | "icmp_code" | "icmpv6_code" => k.set(TpDst, num(value)?),
            "tcp_flags" => {
                let mut f = 0;
                for name in value.split('|') {
                    f |= match name {
                        "fin" => 0x001,
                        "syn" => 0x002,
                        "rst" => 0x004,
                        "psh" => 0x008,
                        "ack" => 0x010,
                        "urg" => 0x020,
                        "ece" => 0x040,
                        "cwr" => 0x080,
                        "ns" => 0x100,
                        // Bits without a name print as "[hex]".
                        other => match other.strip_prefix('[').and_then(|o| o.strip_suffix(']')) {
                            Some(h) => {
                                u64::from_str_radix(h, 16).map_err(|e| format!("{other}: {e}"))?
                            }
                            None => num(other)?,
                        },
                    };
                }
                k.set(TcpFlags, f);
            }
            _ => return Err(format!("unknown field {name}")),
        }
    }
    k.set(NwTos, tos);
    Ok(Some(k))
}

/// A neighbour solicitation or advertisement (sometimes another code): the
/// target, then link-layer options (sometimes repeated, odd-sized, of
/// length 0 or cut short) and other options.
fn nd(rng: &mut StdRng) -> Vec<u8> {
    let ty = *[135u8, 136].choose(rng).unwrap_or(&135);
    let code = if rng.gen_bool(0.9) { 0 } else { 1 };
    let mut body: Vec<u8> = (0..16).map(|_| rng.gen()).collect();
    for _ in 0..rng.gen_range(0..4) {
        let opt_ty = *[1u8, 2, 1, 2, 3, 14].choose(rng).unwrap_or(&1);
        let len = *[1u8, 1, 1, 2, 0].choose(rng).unwrap_or(&1);
        body.extend([opt_ty, len]);
        let mac = if rng.gen_bool(0.1) {
            0
        } else {
            rng.gen::<u64>() >> 16
        };
        body.extend(&mac.to_be_bytes()[2..]);
        body.extend((0..(len.max(1) as usize - 1) * 8).map(|_| rng.gen::<u8>()));
    }
    let cut = if rng.gen_bool(0.1) {
        rng.gen_range(0..body.len())
    } else {
        body.len()
    };
    body.truncate(cut);
    icmp(ty, code, &body)
}

/// One random frame: a well-formed packet of a random protocol stack, then
/// (often) damaged by truncation, a corrupted byte or trailing garbage.
fn random_frame(rng: &mut StdRng) -> Vec<u8> {
    let r16 = |rng: &mut StdRng| rng.gen::<u16>();
    let proto = *[6u8, 17, 132, 1, 58, 2, 47, 6, 17]
        .choose(rng)
        .unwrap_or(&6);
    let payload: Vec<u8> = (0..rng.gen_range(0..24)).map(|_| rng.gen()).collect();
    let l4 = match proto {
        6 => {
            let opts: Vec<u8> = (0..rng.gen_range(0..3) * 4).map(|_| 1).collect();
            tcp(r16(rng), r16(rng), r16(rng) & 0xfff, &opts, &payload)
        }
        17 => udp(r16(rng), r16(rng), &payload),
        132 => sctp(r16(rng), r16(rng), &payload),
        58 if rng.gen_bool(0.5) => nd(rng),
        1 | 58 | 2 => icmp(rng.gen(), rng.gen(), &payload),
        _ => payload.clone(),
    };
    // Transport headers cut short or with a bad TCP data offset, inside a
    // consistent IP packet (so the IP layer parses and L4 is what fails).
    let mut l4 = l4;
    if rng.gen_bool(0.15) {
        let n = rng.gen_range(0..=l4.len().min(19));
        l4.truncate(n);
    } else if proto == 6 && rng.gen_bool(0.1) {
        l4[12] = (rng.gen_range(0..16u8) << 4) | (l4[12] & 0x0f);
    }
    let ty_choice = rng.gen_range(0..10);
    let (ty, l3) = match ty_choice {
        0..=3 => {
            let mut h = Ipv4::new(rng.gen(), rng.gen(), proto);
            h.tos = rng.gen();
            h.ttl = rng.gen();
            if rng.gen_bool(0.2) {
                h.frag = *[0x2000, 0x2000 | 7, 9, 0x4000, 0x8000]
                    .choose(rng)
                    .unwrap_or(&0);
            }
            if rng.gen_bool(0.2) {
                h.options = vec![1; rng.gen_range(1..12)];
            }
            (ETH_TYPE_IP, ipv4(&h, &l4))
        }
        4..=6 => {
            // A random chain of extension headers in front of L4.
            let mut body = l4.clone();
            let mut next = proto;
            for _ in 0..rng.gen_range(0..4) {
                let which = rng.gen_range(0..5);
                body = match which {
                    0 => ipv6_opts(next, rng.gen_range(0..3), &body),
                    // AH of length 0 (8 bytes) too: OVS walks it, etherparse
                    // refuses it (see the extract tests' etherparse_oracle).
                    1 => ipv6_ah(next, rng.gen_range(0..5), &body),
                    2 => {
                        let mut h = ipv6_frag(
                            next,
                            *[0u16, 0, 5].choose(rng).unwrap_or(&0),
                            rng.gen(),
                            &body,
                        );
                        // Reserved bits: OVS tests the whole offset/flags word.
                        if rng.gen_bool(0.2) {
                            h[3] |= 0x06;
                        }
                        h
                    }
                    3 => ipv6_opts(next, 0, &body),
                    _ => ipv6_opts(next, 1, &body),
                };
                next = [
                    IPPROTO_HOPOPTS,
                    IPPROTO_AH,
                    IPPROTO_FRAGMENT,
                    IPPROTO_DSTOPTS,
                    IPPROTO_ROUTING,
                ][which];
            }
            let mut h = Ipv6::new(rng.gen(), rng.gen(), next);
            h.tclass = rng.gen();
            h.hop_limit = rng.gen();
            h.flow_label = rng.gen();
            (ETH_TYPE_IPV6, ipv6(&h, &body))
        }
        7 => {
            let op = if rng.gen_bool(0.8) {
                rng.gen_range(0..5)
            } else {
                r16(rng)
            };
            let mut a = arp(
                op,
                rng.gen::<u64>() >> 16,
                rng.gen(),
                rng.gen::<u64>() >> 16,
                rng.gen(),
            );
            if rng.gen_bool(0.1) {
                a[4] = 8;
            }
            (
                *[ETH_TYPE_ARP, ETH_TYPE_RARP]
                    .choose(rng)
                    .unwrap_or(&ETH_TYPE_ARP),
                a,
            )
        }
        8 => {
            let inner = ipv4(&Ipv4::new(rng.gen(), rng.gen(), 17), &udp(1, 2, &[]));
            let snap = if rng.gen_bool(0.5) {
                llc_snap(ETH_TYPE_IP, &inner)
            } else {
                payload.clone()
            };
            (snap.len().min(0x5dc) as u16, snap)
        }
        _ => (
            *[0x88cc, 0x8847, 0x8100, 0x0000]
                .choose(rng)
                .unwrap_or(&0x88cc),
            payload.clone(),
        ),
    };
    let nvlan = *[0usize, 0, 0, 1, 2, 3].choose(rng).unwrap_or(&0);
    let vlans: Vec<(u16, u16)> = (0..nvlan)
        .map(|_| {
            (
                *[ETH_TYPE_VLAN_8021Q, ETH_TYPE_VLAN_8021AD]
                    .choose(rng)
                    .unwrap_or(&0x8100),
                r16(rng),
            )
        })
        .collect();
    let mut f = ethernet(
        rng.gen::<u64>() >> 16,
        rng.gen::<u64>() >> 16,
        &vlans,
        ty,
        &l3,
    );
    match rng.gen_range(0..6) {
        0 => {
            let n = rng.gen_range(1..=f.len());
            f.truncate(n);
        }
        1 => {
            let i = rng.gen_range(12..f.len().min(120));
            f[i] = rng.gen();
        }
        2 => f.extend((0..rng.gen_range(1..40)).map(|_| rng.gen::<u8>())),
        _ => {}
    }
    f
}

fn write_pcap(path: &std::path::Path, frames: &[Vec<u8>]) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    // Classic pcap, microsecond timestamps, snaplen 65535, Ethernet.
    out.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
    out.write_all(&2u16.to_le_bytes())?;
    out.write_all(&4u16.to_le_bytes())?;
    out.write_all(&[0; 8])?;
    out.write_all(&65535u32.to_le_bytes())?;
    out.write_all(&1u32.to_le_bytes())?;
    for (i, f) in frames.iter().enumerate() {
        out.write_all(&(i as u32).to_le_bytes())?;
        out.write_all(&0u32.to_le_bytes())?;
        out.write_all(&(f.len() as u32).to_le_bytes())?;
        out.write_all(&(f.len() as u32).to_le_bytes())?;
        out.write_all(f)?;
    }
    out.flush()
}

#[test]
fn keys_match_ovs_flow_extract() {
    let have_ovs = Command::new("ovs-ofctl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_ovs {
        assert!(
            std::env::var_os("FASTPATH_REQUIRE_OVS").is_none(),
            "FASTPATH_REQUIRE_OVS is set but ovs-ofctl (Debian openvswitch-common) is not installed"
        );
        eprintln!("skipped: ovs-ofctl not installed (apt-get install openvswitch-common)");
        return;
    }
    let n = if std::env::var_os("FASTPATH_LONG").is_some() {
        100_000
    } else {
        5_000
    };
    let mut rng = StdRng::seed_from_u64(crate::io::gen::test_seed(0x0f5_0f5));
    let frames: Vec<Vec<u8>> = (0..n).map(|_| random_frame(&mut rng)).collect();
    let path =
        std::env::temp_dir().join(format!("fastpath-extract-ovs-{}.pcap", std::process::id()));
    write_pcap(&path, &frames).expect("write pcap to the temp dir");
    let out = Command::new("ovs-ofctl")
        .arg("parse-pcap")
        .arg(&path)
        .output();
    let _ = std::fs::remove_file(&path);
    let out = out.expect("run ovs-ofctl parse-pcap");
    assert!(
        out.status.success(),
        "ovs-ofctl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), frames.len(), "one flow per packet");
    let mut stats = ExtractStats::default();
    let (mut compared, mut bad, mut mismatches) = (0, 0, Vec::new());
    for (f, line) in frames.iter().zip(&lines) {
        let Some(want) = parse_ovs_flow(line).unwrap_or_else(|e| panic!("{e} in {line}")) else {
            continue;
        };
        let mut got = miniflow_extract(f, 0, &mut stats);
        // IGMP: OVS fills tp_src/tp_dst, the abi key has no IGMP fields.
        let igmp = matches!(got.get(DlType), 0x0800 | 0x86dd) && got.get(NwProto) == 2;
        let mut want = want;
        if igmp {
            want.set(TpSrc, 0);
            want.set(TpDst, 0);
            got.set(TpSrc, 0);
            got.set(TpDst, 0);
        }
        compared += 1;
        bad += usize::from(got != want);
        if got != want && mismatches.len() < 5 {
            mismatches.push(format!(
                "frame {:02x?}\n  ovs:  {line}\n  want: {want:?}\n  got:  {got:?}",
                f
            ));
        }
    }
    assert!(
        bad == 0,
        "{bad} mismatches of {compared}, first:\n{}",
        mismatches.join("\n")
    );
    assert!(compared > n * 9 / 10, "compared only {compared} of {n}");
    // The generator must reach the interesting cases.
    assert!(stats.malformed() > (n / 20) as u64, "{stats:?}");
    assert!(
        stats.truncated_ipv6_ext > 0 && stats.bad_tcp_offset + stats.truncated_tcp > 0,
        "{stats:?}"
    );
}
