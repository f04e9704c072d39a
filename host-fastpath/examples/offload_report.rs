//! Hybrid offload figures for docs/PERFORMANCE.md ("## Hybrid offload"):
//!
//! 1. Hardware share of the ClassBench acl1/fw1/ipc1 10K traces at 8, 16 and
//!    32 mask slots (model NIC: the same manager and policy, tables of the
//!    default geometry with more slots than an ABI build may have), with
//!    widening `never` and `auto`.
//! 2. Megaflow installs per second from upcall to hardware entry (model NIC:
//!    the host's cost; simulated NIC: wall clock and simulated cycles).
//! 3. End-to-end simulated packets per second (`--sim`).
//!
//! Reads /work/shared/classbench (or $CLASSBENCH); skips what is absent.
//!   cargo run --release -p host-fastpath --example offload_report [-- --sim]

use abi::Geometry;
use fastpath::dpif::{CountingSink, DpConfig, Pmd};
use fastpath::io::classbench::{header_frame, parse_trace};
use fastpath::io::gen::range_to_prefixes;
use fastpath::offload::{HwLookup, HybridDp, ModelNic, OffloadConfig, WidenPolicy};
use fastpath::ofproto::{parse_rules, OfProto, Prefixes};
use fastpath::BURST;
use std::path::PathBuf;
use std::time::Instant;

/// ClassBench filter lines → `ovs-ofctl` rules, as /work/shared/classbench/ovs
/// was made: port ranges as value/mask prefixes, protocol-wildcard rules with
/// port ranges split into tcp + udp, priority = N − index, final drop.
fn classbench_to_ofctl(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with('@')).collect();
    let n = lines.len();
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        let f: Vec<&str> = l[1..].split('\t').map(str::trim).collect();
        if f.len() < 5 {
            continue;
        }
        let range = |s: &str| -> (u16, u16) {
            let mut it = s.split(':').map(|x| x.trim().parse::<u16>().unwrap_or(0));
            (it.next().unwrap_or(0), it.next().unwrap_or(u16::MAX))
        };
        let (sp, dp) = (range(f[2]), range(f[3]));
        let (proto, pmask) = f[4].split_once('/').unwrap_or(("0x00", "0x00"));
        let proto = u8::from_str_radix(proto.trim_start_matches("0x"), 16).unwrap_or(0);
        let pmask = u8::from_str_radix(pmask.trim_start_matches("0x").trim_start_matches("0X"), 16)
            .unwrap_or(0);
        let full = |r: (u16, u16)| r == (0, u16::MAX);
        let protos: Vec<Option<u8>> = if pmask == 0 {
            if full(sp) && full(dp) {
                vec![None]
            } else {
                vec![Some(6), Some(17)]
            }
        } else {
            vec![Some(proto)]
        };
        let prio = n - i;
        for p in protos {
            let ports = matches!(p, Some(6) | Some(17));
            let sps = if ports && !full(sp) {
                range_to_prefixes(sp.0, sp.1)
            } else {
                vec![(0, 0)]
            };
            let dps = if ports && !full(dp) {
                range_to_prefixes(dp.0, dp.1)
            } else {
                vec![(0, 0)]
            };
            for s in &sps {
                for d in &dps {
                    out.push_str(&format!(
                        "priority={prio},ip,nw_src={},nw_dst={}",
                        f[0], f[1]
                    ));
                    if let Some(p) = p {
                        out.push_str(&format!(",nw_proto={p}"));
                    }
                    if s.1 != 0 {
                        out.push_str(&format!(",tp_src=0x{:04x}/0x{:04x}", s.0, s.1));
                    }
                    if d.1 != 0 {
                        out.push_str(&format!(",tp_dst=0x{:04x}/0x{:04x}", d.0, d.1));
                    }
                    out.push_str(",actions=output:2\n");
                }
            }
        }
    }
    out.push_str("priority=0,actions=drop\n");
    out
}

fn run<H: HwLookup>(dp: &mut HybridDp<H>, of: &OfProto, frames: &[Vec<u8>]) -> f64 {
    let mut sink = CountingSink::default();
    let t = Instant::now();
    for chunk in frames.chunks(BURST) {
        let b: Vec<&[u8]> = chunk.iter().map(|f| f.as_slice()).collect();
        if let Err(e) = dp.process_burst(of, &b, 1, &mut sink) {
            eprintln!("hardware error: {e}");
        }
    }
    t.elapsed().as_secs_f64()
}

fn dp_config() -> DpConfig {
    DpConfig {
        max_idle_ms: 3_600_000,
        ..DpConfig::default()
    }
}

/// A PMD whose dynamic flow limit starts at the hard limit (a long-running
/// OVS reaches it after a few revalidations; a two-pass replay would not).
fn pmd() -> Pmd {
    let mut p = Pmd::new(dp_config()).expect("pmd");
    p.dynamic_limit = p.config.flow_limit;
    p
}

fn main() {
    let sim = std::env::args().any(|a| a == "--sim");
    let root = PathBuf::from(
        std::env::var("CLASSBENCH").unwrap_or_else(|_| "/work/shared/classbench".into()),
    );
    let ocfg = |widen| OffloadConfig {
        widen,
        ..OffloadConfig::default()
    };
    println!("## hardware share (second pass of the trace; model NIC, 2048 entries per slot, 4096-entry EMC)");
    println!("| set | packets | megaflows | masks | widen | 8 slots | 16 slots | 32 slots |");
    println!("|---|---|---|---|---|---|---|---|");
    for set in ["acl1", "fw1", "ipc1"] {
        let (r, t) = (
            root.join(format!("rules/{set}_10000")),
            root.join(format!("traces/{set}_10000_trace")),
        );
        let (Ok(rt), Ok(tt)) = (std::fs::read_to_string(&r), std::fs::read_to_string(&t)) else {
            println!("| {set} | (absent: {}) |", r.display());
            continue;
        };
        let rules = match parse_rules(&classbench_to_ofctl(&rt), set) {
            Ok(r) => r,
            Err(e) => {
                println!("| {set} | rules do not parse: {e} |");
                continue;
            }
        };
        let of = OfProto::with_rules(rules, Prefixes::default());
        let frames: Vec<Vec<u8>> = match parse_trace(&tt, set) {
            Ok(h) => h.iter().map(header_frame).collect(),
            Err(e) => {
                println!("| {set} | trace does not parse: {e} |");
                continue;
            }
        };
        for widen in [WidenPolicy::Never, WidenPolicy::Auto] {
            let mut cells = Vec::new();
            let mut info = (0, 0);
            for slots in [8u8, 16, 32] {
                let g = Geometry {
                    mf_slots: slots,
                    ..Geometry::DEFAULT
                };
                let mut dp = HybridDp::new(pmd(), ModelNic::new(g), ocfg(widen));
                run(&mut dp, &of, &frames);
                let c0 = dp.counters();
                run(&mut dp, &of, &frames);
                let c = dp.counters().since(&c0);
                cells.push(format!(
                    "{:.1} % ({:.1} mf + {:.1} emc)",
                    100.0 * c.hw_handled() as f64 / c.packets as f64,
                    100.0 * c.hw_megaflow_hits as f64 / c.packets as f64,
                    100.0 * c.hw_emc_hits as f64 / c.packets as f64
                ));
                info = (dp.pmd.n_flows(), dp.pmd.dpcls.mask_count());
            }
            println!(
                "| {set} 10K | {} | {} | {} | {widen} | {} |",
                frames.len(),
                info.0,
                info.1,
                cells.join(" | ")
            );
        }
    }
    // Installs from upcall to hardware entry: distinct flows, each a miss.
    let of = OfProto::with_rules(
        parse_rules(
            "priority=10,ip,nw_proto=17,actions=output:2\npriority=0,actions=drop\n",
            "u",
        )
        .expect("rules"),
        Prefixes::default(),
    );
    let n = 20_000u32;
    let frames: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let k = abi::FlowKey::ZERO
                .with(abi::Field::InPort, 1)
                .with(abi::Field::DlType, 0x0800)
                .with(abi::Field::NwProto, 17)
                .with(abi::Field::NwSrc, 0x0a00_0000 | i as u64)
                .with(abi::Field::NwDst, 0x0b00_0001)
                .with(abi::Field::NwTtl, 64)
                .with(abi::Field::TpSrc, 1000)
                .with(abi::Field::TpDst, 53);
            fastpath::io::frames::frame_from_key(&k, 60)
        })
        .collect();
    let mut of_exact = of;
    of_exact.megaflows = false; // exact megaflows: one install per flow
    let mut dp = HybridDp::new(
        pmd(),
        ModelNic::new(Geometry {
            mf_log2_buckets: 14,
            ..Geometry::DEFAULT
        }),
        OffloadConfig::default(),
    );
    let secs = run(&mut dp, &of_exact, &frames);
    let c = dp.counters();
    println!(
        "\n## installs, model NIC: {} upcalls → {} hardware megaflow entries in {secs:.3} s = {:.0} installs/s (upcall + software install + hardware placement)",
        c.upcalls,
        c.mf_installs,
        c.mf_installs as f64 / secs
    );
    if sim {
        sim_figures(&of_exact, &frames[..2000]);
    }
}

#[cfg(feature = "sim")]
fn sim_figures(of: &OfProto, frames: &[Vec<u8>]) {
    let nic = driver::Nic::open(sim::SimNic::new().expect("sim")).expect("nic");
    let mut dp = HybridDp::new(pmd(), nic, OffloadConfig::default());
    let c0 = dp.mgr.hw().device().cycle();
    let w0 = fastpath::offload::HwTables::register_writes(dp.mgr.hw());
    let secs = run(&mut dp, of, frames);
    let c = dp.counters();
    let cycles = dp.mgr.hw().device().cycle() - c0;
    let writes = fastpath::offload::HwTables::register_writes(dp.mgr.hw()) - w0;
    println!(
        "## installs, simulated NIC: {} entries in {secs:.3} s wall = {:.0} installs/s simulated; {} cycles, {:.1} register writes and {:.0} cycles per miss+install (lookup, drain, install) = {:.0} K/s at 250 MHz",
        c.mf_installs,
        c.mf_installs as f64 / secs,
        cycles,
        writes as f64 / c.mf_installs.max(1) as f64,
        cycles as f64 / c.mf_installs.max(1) as f64,
        250e6 / (cycles as f64 / c.mf_installs.max(1) as f64) / 1e3
    );
    // End to end: the same flows again, now all hardware hits.
    let c0 = dp.mgr.hw().device().cycle();
    let secs = run(&mut dp, of, frames);
    let cycles = dp.mgr.hw().device().cycle() - c0;
    let c = dp.counters();
    println!(
        "## end to end, simulated NIC: {} packets in {secs:.3} s = {:.0} packets/s simulated ({:.1} cycles per packet); {} handled in hw",
        frames.len(),
        frames.len() as f64 / secs,
        cycles as f64 / frames.len() as f64,
        c.hw_handled()
    );
}

#[cfg(not(feature = "sim"))]
fn sim_figures(_: &OfProto, _: &[Vec<u8>]) {
    println!("(built without the sim feature)");
}
