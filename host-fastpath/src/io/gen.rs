//! Synthetic traffic and rule sets.
//!
//! `--gen flows=N,zipf=S,packets=P,seed=X`: N distinct flows, each drawn
//! inside a rule picked at random (the rule's matched bits, random values
//! elsewhere), then P packets whose flow follows a Zipf law of exponent S
//! (S = 0: uniform). [`acl_rules`] writes a ClassBench-like ACL in
//! `ovs-ofctl` syntax (our own generator; no ClassBench data is shipped).

use crate::ofproto::flow::{eth_type, ip_proto};
use crate::ofproto::Rule;
use abi::key::VLAN_PRESENT;
use abi::{Field, FlowKey};
use std::fmt::Write as _;

/// Environment variable that replaces the fixed seed of every randomized
/// test: unset, each test uses its own fixed seed (CI's reproducible run);
/// set to a decimal `u64`, every test draws from it (CI's randomized run
/// prints the value it picked, so a failure can be replayed).
pub const SEED_VAR: &str = "FASTPATH_SEED";

/// The seed a randomized test uses: [`SEED_VAR`] when set, else `default`.
/// Printed to stderr, which the test harness shows when the test fails.
///
/// # Panics
/// If [`SEED_VAR`] is set but is not a decimal `u64` (a typo must not fall
/// back to the fixed seed and pass as a randomized run).
pub fn test_seed(default: u64) -> u64 {
    let seed = match std::env::var(SEED_VAR) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{SEED_VAR}={v:?} is not a decimal u64: {e}")),
        Err(_) => default,
    };
    eprintln!("random seed {seed} (replay: {SEED_VAR}={seed})");
    seed
}

/// xoshiro256** seeded by splitmix64: fast, reproducible, no dependency.
#[derive(Clone, Debug)]
pub struct Rng([u64; 4]);

impl Rng {
    /// Seeds the generator.
    pub fn new(seed: u64) -> Self {
        let mut x = seed;
        let mut s = [0u64; 4];
        for w in &mut s {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            *w = z ^ (z >> 31);
        }
        Rng(s)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let r = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        r
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n.max(1) as u128) >> 64) as u64
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Most distinct flows `--gen` draws (each holds a key and a frame: ~150 bytes).
pub const MAX_GEN_FLOWS: u64 = 10_000_000;
/// Most packets `--gen` lays out (4 bytes each; `--loops` replays them).
pub const MAX_GEN_PACKETS: u64 = 100_000_000;
/// Largest Zipf exponent (beyond it every packet is flow 0 anyway).
pub const MAX_GEN_ZIPF: f64 = 100.0;

/// A `--gen` specification: `flows=N,zipf=S,packets=P,seed=X`, each key at
/// most once, in any order; keys left out take [`GenSpec::default`]'s value.
#[derive(Clone, Debug, PartialEq)]
pub struct GenSpec {
    /// Distinct flows.
    pub flows: usize,
    /// Zipf exponent (0 = uniform).
    pub zipf: f64,
    /// Packets.
    pub packets: usize,
    /// Seed.
    pub seed: u64,
}

impl Default for GenSpec {
    /// flows=1000, zipf=1.0, packets=1000000, seed=1.
    fn default() -> Self {
        GenSpec {
            flows: 1000,
            zipf: 1.0,
            packets: 1_000_000,
            seed: 1,
        }
    }
}

impl std::str::FromStr for GenSpec {
    type Err = String;
    /// Checks every value's range before anything is allocated.
    fn from_str(s: &str) -> Result<Self, String> {
        use super::text::shorten;
        const KEYS: &str = "flows, zipf, packets, seed";
        if s.trim().is_empty() {
            return Err(format!(
                "--gen is empty: expected KEY=VALUE pairs separated by commas ({KEYS}), \
                 e.g. flows=1000,zipf=1.0,packets=1000000,seed=1"
            ));
        }
        let mut g = GenSpec::default();
        let mut seen: Vec<&str> = Vec::new();
        for part in s.split(',') {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("--gen: expected KEY=VALUE, found `{}`", shorten(part)))?;
            if seen.contains(&k) {
                return Err(format!("--gen: `{k}` is given twice"));
            }
            let int = |max: u64, min: u64| -> Result<u64, String> {
                v.parse::<u64>()
                    .ok()
                    .filter(|n| (min..=max).contains(n))
                    .ok_or_else(|| {
                        format!(
                            "--gen {k}={}: expected an integer in {min}..={max}",
                            shorten(v)
                        )
                    })
            };
            match k {
                "flows" => g.flows = int(MAX_GEN_FLOWS, 1)? as usize,
                "packets" => g.packets = int(MAX_GEN_PACKETS, 1)? as usize,
                "seed" => g.seed = int(u64::MAX, 0)?,
                "zipf" => {
                    g.zipf = v
                        .parse::<f64>()
                        .ok()
                        .filter(|z| (0.0..=MAX_GEN_ZIPF).contains(z))
                        .ok_or_else(|| {
                            format!(
                                "--gen zipf={}: expected a number in 0..={MAX_GEN_ZIPF}",
                                shorten(v)
                            )
                        })?
                }
                _ => {
                    return Err(format!(
                        "--gen: unknown key `{}` (expected {KEYS})",
                        shorten(k)
                    ))
                }
            }
            seen.push(k);
        }
        Ok(g)
    }
}

/// A random packet key inside `rule`'s match, arriving on `default_port`
/// unless the rule fixes in_port.
pub fn key_inside(rule: &Rule, rng: &mut Rng, default_port: u32) -> FlowKey {
    let m = &rule.m;
    let mut base = FlowKey::ZERO;
    base.set(Field::InPort, default_port as u64);
    base.set(Field::DlSrc, 0x5054_0000_0000 | (rng.next_u64() & 0xffff));
    base.set(Field::DlDst, 0x5054_0001_0000 | (rng.next_u64() & 0xffff));
    // Protocol first: fixed by the rule or TCP/UDP over IPv4.
    let dl = if m.mask.get(Field::DlType) != 0 {
        m.value.get(Field::DlType) as u16
    } else {
        eth_type::IP
    };
    base.set(Field::DlType, dl as u64);
    let proto = if m.mask.get(Field::NwProto) != 0 {
        m.value.get(Field::NwProto) as u8
    } else if rng.below(2) == 0 {
        ip_proto::TCP
    } else {
        ip_proto::UDP
    };
    match dl {
        eth_type::IP | eth_type::IPV6 => {
            base.set(Field::NwProto, proto as u64);
            base.set(Field::NwTtl, 64);
            if dl == eth_type::IP {
                base.set(Field::NwSrc, rng.next_u64() & 0xffff_ffff);
                base.set(Field::NwDst, rng.next_u64() & 0xffff_ffff);
            } else {
                let (a, b) = (rng.next_u64() as u128, rng.next_u64() as u128);
                base.set_ipv6_src(0x2001_0db8 << 96 | a);
                base.set_ipv6_dst(0x2001_0db8 << 96 | b);
            }
            match proto {
                ip_proto::TCP | ip_proto::UDP | ip_proto::SCTP => {
                    base.set(Field::TpSrc, 1024 + rng.below(64_000));
                    base.set(Field::TpDst, rng.below(65_536));
                    if proto == ip_proto::TCP {
                        base.set(Field::TcpFlags, 0x010);
                    }
                }
                ip_proto::ICMP | ip_proto::ICMPV6 => {
                    base.set(Field::TpSrc, rng.below(256));
                    base.set(Field::TpDst, rng.below(4));
                }
                _ => {}
            }
        }
        eth_type::ARP => {
            base.set(Field::NwProto, 1 + rng.below(2));
            base.set(Field::NwSrc, rng.next_u64() & 0xffff_ffff);
            base.set(Field::NwDst, rng.next_u64() & 0xffff_ffff);
            base.set(Field::ArpSha, base.get(Field::DlSrc));
        }
        _ => {}
    }
    // Overlay the rule's matched bits (datapath part only).
    let (mv, mm) = (m.value.key(), m.mask.key());
    for i in 0..abi::KEY_WORDS {
        base.words[i] = (base.words[i] & !mm.words[i]) | (mv.words[i] & mm.words[i]);
    }
    // Keep what extraction can produce: ICMP type/code are 8 bits, a VLAN
    // TCI present only with its bit, ports only for port protocols.
    let tci = base.get(Field::VlanTci);
    if tci != 0 {
        base.set(Field::VlanTci, tci | VLAN_PRESENT as u64);
    }
    if base.get(Field::TcpFlags) != 0 && proto != ip_proto::TCP {
        base.set(Field::TcpFlags, 0);
    }
    if matches!(proto, ip_proto::ICMP | ip_proto::ICMPV6) {
        base.set(Field::TpSrc, base.get(Field::TpSrc) & 0xff);
        base.set(Field::TpDst, base.get(Field::TpDst) & 0xff);
    }
    base.set(Field::NwFrag, 0);
    base
}

/// `flows` keys, each inside a uniformly chosen rule.
pub fn flows_inside(rules: &[Rule], n: usize, rng: &mut Rng, in_port: u32) -> Vec<FlowKey> {
    if rules.is_empty() {
        return Vec::new();
    }
    (0..n)
        .map(|_| key_inside(&rules[rng.below(rules.len() as u64) as usize], rng, in_port))
        .collect()
}

/// `packets` flow indices in `0..flows` with Zipf(s) popularity (index 0 most popular).
pub fn zipf_sequence(flows: usize, s: f64, packets: usize, rng: &mut Rng) -> Vec<u32> {
    let mut cdf = Vec::with_capacity(flows);
    let mut acc = 0.0;
    for i in 0..flows {
        acc += 1.0 / ((i + 1) as f64).powf(s);
        cdf.push(acc);
    }
    let total = acc;
    (0..packets)
        .map(|_| {
            let u = rng.unit() * total;
            cdf.partition_point(|&c| c < u).min(flows - 1) as u32
        })
        .collect()
}

/// Port ranges as value/mask prefixes (how ClassBench ranges become OpenFlow matches).
pub fn range_to_prefixes(lo: u16, hi: u16) -> Vec<(u16, u16)> {
    let mut out = Vec::new();
    let (mut lo, hi) = (lo as u32, hi as u32);
    while lo <= hi {
        let mut size = if lo == 0 {
            1 << 16
        } else {
            1u32 << lo.trailing_zeros()
        };
        while lo + size - 1 > hi {
            size >>= 1;
        }
        out.push((lo as u16, !((size - 1) as u16)));
        lo += size;
    }
    out
}

/// A ClassBench-like ACL of about `n` rules in `ovs-ofctl` syntax, first
/// rule highest priority, ending with `priority=0,actions=drop`.
///
/// Structure borrowed from real ACLs: addresses from a small pool of
/// prefixes (so rules share masks and prefixes nest), destination ports
/// exact, well-known ranges or wildcards, protocol TCP/UDP/any, half the
/// rules permit (output:2) and the rest drop.
pub fn acl_rules(n: usize, seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let src_pool: Vec<(u32, u32)> = (0..24)
        .map(|_| {
            let len = [8u32, 16, 16, 24, 24, 24, 32][rng.below(7) as usize];
            ((rng.next_u64() as u32) & (u32::MAX << (32 - len)), len)
        })
        .collect();
    let dst_pool: Vec<(u32, u32)> = (0..48)
        .map(|_| {
            let len = [16u32, 24, 24, 32, 32, 32, 32][rng.below(7) as usize];
            ((rng.next_u64() as u32) & (u32::MAX << (32 - len)), len)
        })
        .collect();
    let ports: [(u16, u16); 8] = [
        (80, 80),
        (443, 443),
        (53, 53),
        (22, 22),
        (1024, 65535),
        (6000, 6063),
        (0, 1023),
        (0, 65535),
    ];
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Synthetic ClassBench-like ACL: `fastpath gen-rules --count {n} --seed {seed}`"
    );
    let mut prio = n + 10;
    let mut emitted = 0;
    while emitted < n {
        let (s, sl) = src_pool[rng.below(src_pool.len() as u64) as usize];
        let (d, dlen) = dst_pool[rng.below(dst_pool.len() as u64) as usize];
        // Some rules refine the address to a host or /24 inside the pool
        // prefix (nested prefixes), as real ACLs do; lengths stay few, so
        // rules share masks as in ClassBench's acl sets.
        let (s, sl) = if rng.below(3) == 0 && sl < 32 {
            let nl = if sl < 24 && rng.below(2) == 0 { 24 } else { 32 };
            (
                (s | (rng.next_u64() as u32 & !(u32::MAX << (32 - sl)))) & (u32::MAX << (32 - nl)),
                nl,
            )
        } else {
            (s, sl)
        };
        let proto = ["tcp", "tcp", "udp", "ip"][rng.below(4) as usize];
        let (plo, phi) = ports[rng.below(ports.len() as u64) as usize];
        let action = if rng.below(2) == 0 {
            "output:2"
        } else {
            "drop"
        };
        let addr = |a: u32, l: u32| format!("{}/{}", std::net::Ipv4Addr::from(a), l);
        let protos: Vec<&str> = if proto == "ip" && (plo, phi) != (0, 65535) {
            vec!["tcp", "udp"]
        } else {
            vec![proto]
        };
        for p in protos {
            let pr: Vec<(u16, u16)> = if p == "ip" || (plo, phi) == (0, 65535) {
                vec![(0, 0)]
            } else {
                range_to_prefixes(plo, phi)
            };
            for (v, m) in pr {
                let mut line = format!(
                    "priority={prio},{p},nw_src={},nw_dst={}",
                    addr(s, sl),
                    addr(d, dlen)
                );
                if m != 0 {
                    if m == 0xffff {
                        let _ = write!(line, ",tp_dst={v}");
                    } else {
                        let _ = write!(line, ",tp_dst={v:#06x}/{m:#06x}");
                    }
                }
                let _ = writeln!(line, ",actions={action}");
                out.push_str(&line);
                emitted += 1;
            }
        }
        prio -= 1;
    }
    out.push_str("priority=0,actions=drop\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ofproto::parse_rules;

    #[test]
    fn ranges_cover_exactly() {
        for (lo, hi) in [
            (0u16, 65535u16),
            (1024, 65535),
            (6000, 6063),
            (80, 80),
            (5, 1000),
        ] {
            let p = range_to_prefixes(lo, hi);
            for port in [
                0u16,
                1,
                lo,
                hi,
                lo.saturating_sub(1),
                hi.saturating_add(1),
                4000,
                65535,
            ] {
                let hit = p.iter().filter(|(v, m)| port & m == *v).count();
                assert_eq!(
                    hit,
                    ((lo..=hi).contains(&port)) as usize,
                    "{lo}-{hi} {port}"
                );
            }
        }
    }

    #[test]
    fn keys_fall_inside_their_rule() {
        let text = acl_rules(200, 7);
        let rules = parse_rules(&text, "gen").unwrap();
        let mut rng = Rng::new(test_seed(3));
        for r in &rules {
            for _ in 0..5 {
                let k = key_inside(r, &mut rng, 1);
                assert!(
                    r.m.matches(&crate::ofproto::Flow::from_key(&k)),
                    "{}",
                    r.match_text
                );
            }
        }
    }

    #[test]
    fn gen_specs_are_checked_before_anything_is_allocated() {
        let g: GenSpec = "packets=5,flows=2".parse().unwrap();
        assert_eq!((g.flows, g.packets, g.zipf, g.seed), (2, 5, 1.0, 1));
        for (text, msg) in [
            ("", "--gen is empty: expected KEY=VALUE pairs"),
            (" ", "--gen is empty"),
            ("flows=1,flows=2", "--gen: `flows` is given twice"),
            (
                "flows=18446744073709551615",
                "--gen flows=18446744073709551615: expected an integer in 1..=10000000",
            ),
            (
                "packets=10000000000",
                "--gen packets=10000000000: expected an integer in 1..=100000000",
            ),
            (
                "packets=0",
                "--gen packets=0: expected an integer in 1..=100000000",
            ),
            (
                "flows=-1",
                "--gen flows=-1: expected an integer in 1..=10000000",
            ),
            ("zipf=NaN", "--gen zipf=NaN: expected a number in 0..=100"),
            ("zipf=inf", "--gen zipf=inf: expected a number in 0..=100"),
            ("zipf=-0.5", "--gen zipf=-0.5: expected a number in 0..=100"),
            ("flows=1,", "--gen: expected KEY=VALUE, found ``"),
            ("bogus=1", "--gen: unknown key `bogus`"),
            (
                "seed=x",
                "--gen seed=x: expected an integer in 0..=18446744073709551615",
            ),
        ] {
            let e = text.parse::<GenSpec>().unwrap_err();
            assert!(e.starts_with(msg), "{text:?}: {e}");
        }
        let long = format!("flows={}", "9".repeat(100_000));
        assert!(long.parse::<GenSpec>().unwrap_err().len() < 200);
    }

    #[test]
    fn zipf_prefers_low_ranks() {
        let mut rng = Rng::new(test_seed(1));
        let s = zipf_sequence(100, 1.0, 10_000, &mut rng);
        let c0 = s.iter().filter(|&&i| i == 0).count();
        let c99 = s.iter().filter(|&&i| i == 99).count();
        assert!(c0 > 10 * c99.max(1), "{c0} {c99}");
        assert!(s.iter().all(|&i| i < 100));
    }
}
