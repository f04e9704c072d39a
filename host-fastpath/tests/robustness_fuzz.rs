//! Property tests of robustness:
//! - `fastpath run` with random option values and random file contents
//!   (rules, pcap, ClassBench trace) never panics or dies by a signal, ends
//!   within a time bound under a memory limit, and when it fails says so on
//!   one clear first line;
//! - for random multi-output rule sets and traffic (malformed frames
//!   included), `packets = forwarded + dropped + lost` with nothing lost, in
//!   the software datapath and in the hybrid one.
//!
//! `FASTPATH_LONG=1` runs ten times more cases.

use abi::{Field, FlowKey, Geometry};
use fastpath::dpif::{CountingSink, DpConfig, Pmd};
use fastpath::io::frames::{frame_from_key, MIN_FRAME};
use fastpath::io::gen::{flows_inside, Rng};
use fastpath::io::pcap::PcapWriter;
use fastpath::offload::{HybridDp, ModelNic, OffloadConfig};
use fastpath::ofproto::{parse_rules, OfProto, Prefixes};
use fastpath::BURST;
use proptest::prelude::*;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn cases(n: u32) -> u32 {
    if std::env::var_os("FASTPATH_LONG").is_some() {
        n * 10
    } else {
        n
    }
}

/// Each run's bounds: a run taking longer is a hang.
const TIME_LIMIT: Duration = Duration::from_secs(60);
/// Address space per run, KiB (`ulimit -v`): an unbounded allocation fails
/// (and would abort, which the test catches) instead of swapping the machine.
const MEMORY_LIMIT_KIB: u64 = 4 << 20;

const RULES: &str = "priority=20,udp,tp_src=53,actions=drop\n\
                     priority=10,tcp,actions=output:2,output:3\n\
                     priority=5,udp,actions=mod_nw_tos:8,output:2\n\
                     priority=0,actions=drop\n";

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fastpath-rfuzz-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d.join(name)
}

/// Runs `fastpath ARGS` under the time and memory bounds; returns the
/// exit code (None: killed by a signal) and stderr.
fn bounded(args: &[String]) -> (Option<i32>, String) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {MEMORY_LIMIT_KIB} && exec \"$0\" \"$@\""
        ))
        .arg(env!("CARGO_BIN_EXE_fastpath"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut err_pipe = child.stderr.take().expect("stderr");
    // Read stderr on a thread so a chatty child cannot block on a full pipe.
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err_pipe.read_to_end(&mut s);
        s
    });
    let t0 = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if t0.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("fastpath {args:?} did not finish within {TIME_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let err = String::from_utf8_lossy(&reader.join().expect("reader")).into_owned();
    (status.code(), err)
}

/// Option values a hostile user might type: out of range, negative, not a
/// number, empty; valid ones are kept cheap (no long runs).
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => (0u8..255).prop_map(|n| n.to_string()),
        1 => Just("0".to_string()),
        1 => Just("4294967295".to_string()),
        1 => Just("-1".to_string()),
        1 => Just("4294967296".to_string()),
        1 => Just("18446744073709551615".to_string()),
        1 => Just("99999999999999999999999".to_string()),
        1 => Just("".to_string()),
        1 => Just("x".to_string()),
        1 => Just("1e3".to_string()),
    ]
}

fn gen_spec() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        (1u32..50).prop_map(|n| format!("flows={n}")),
        (1u32..300).prop_map(|n| format!("packets={n}")),
        prop_oneof![Just("0"), Just("1.0"), Just("nan"), Just("-1"), Just("1e9")]
            .prop_map(|z| format!("zipf={z}")),
        any::<u64>().prop_map(|s| format!("seed={s}")),
        number().prop_map(|v| format!("flows={v}")),
        number().prop_map(|v| format!("packets={v}")),
        Just("bogus=1".to_string()),
        Just("flows".to_string()),
        Just("".to_string()),
    ];
    prop::collection::vec(part, 0..4).prop_map(|mut p| {
        // Left out, packets would be the default million: keep runs short.
        if !p.iter().any(|x| x.starts_with("packets=")) {
            p.push("packets=100".into());
        }
        p.join(",")
    })
}

/// One `--opt value` pair (or a flag).
fn option() -> impl Strategy<Value = Vec<String>> {
    let small = prop_oneof![
        4 => Just("1"),
        4 => Just("2"),
        1 => Just("0"),
        1 => Just("65"),
        1 => Just("-1"),
        1 => Just("x"),
        1 => Just(""),
    ];
    prop_oneof![
        small.clone().prop_map(|v| vec!["--loops".into(), v.into()]),
        small
            .clone()
            .prop_map(|v| vec!["--warmup".into(), v.into()]),
        small.prop_map(|v| vec!["--threads".into(), v.into()]),
        number().prop_map(|v| vec!["--in-port".into(), v]),
        number().prop_map(|v| vec!["--emc-insert-inv-prob".into(), v]),
        number().prop_map(|v| vec!["--flow-limit".into(), v]),
        number().prop_map(|v| vec!["--max-idle".into(), v]),
        number().prop_map(|v| vec!["--mask-slots".into(), v]),
        number().prop_map(|v| vec!["--hw-emc-insert-inv-prob".into(), v]),
        prop_oneof![
            Just("auto"),
            Just("never"),
            Just("always"),
            Just("sometimes")
        ]
        .prop_map(|v| vec!["--widen".into(), v.into()]),
        prop_oneof![
            Just("none"),
            Just("nw_dst"),
            Just("nw_dst,nw_dst"),
            Just("tp_dst"),
            Just("")
        ]
        .prop_map(|v| vec!["--prefixes".into(), v.into()]),
        Just(vec!["--no-megaflows".to_string()]),
        Just(vec!["--quiet".to_string()]),
    ]
}

/// Bytes of a file: valid, valid with random bytes overwritten, cut short,
/// or random.
fn mutate(valid: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let n = valid.len();
    let v1 = valid.clone();
    let v2 = valid.clone();
    prop_oneof![
        3 => Just(valid),
        2 => prop::collection::vec((0..n.max(1), any::<u8>()), 1..8).prop_map(move |edits| {
            let mut v = v1.clone();
            for (at, b) in edits {
                if at < v.len() {
                    v[at] = b;
                }
            }
            v
        }),
        1 => (0..n.max(1)).prop_map(move |cut| v2[..cut.min(v2.len())].to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..300),
    ]
}

fn valid_pcap() -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), "mem").expect("header");
    for i in 0..6u64 {
        let k = FlowKey::ZERO
            .with(Field::DlType, 0x0800)
            .with(Field::NwProto, [6, 17][(i % 2) as usize])
            .with(Field::NwTtl, 64)
            .with(Field::TpSrc, 1000 + i);
        w.write(i, &frame_from_key(&k, MIN_FRAME)).expect("write");
    }
    w.finish().expect("flush")
}

#[derive(Debug, Clone)]
enum Input {
    Gen(String),
    Pcap(Vec<u8>),
    Trace(Vec<u8>),
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        gen_spec().prop_map(Input::Gen),
        mutate(valid_pcap()).prop_map(Input::Pcap),
        mutate(b"1 2 3 4 6 0 1\n167772161 167772162 1000 80 17 0 2\n".to_vec())
            .prop_map(Input::Trace),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(40), ..ProptestConfig::default() })]

    #[test]
    fn random_options_and_files_fail_cleanly_or_run(
        rules in mutate(RULES.as_bytes().to_vec()),
        inp in input(),
        opts in prop::collection::vec(option(), 0..3),
        nic in prop_oneof![6 => Just("none"), 3 => Just("sim"), 1 => Just("vfio:"), 1 => Just("bogus")],
        case in any::<u64>(),
    ) {
        let r = tmp(&format!("{case}.flows"));
        std::fs::write(&r, &rules).expect("write rules");
        let mut args: Vec<String> = vec!["run".into(), "--rules".into(), r.display().to_string(), "--nic".into(), nic.into()];
        let data = tmp(&format!("{case}.in"));
        match &inp {
            Input::Gen(g) => args.extend(["--gen".into(), g.clone()]),
            Input::Pcap(b) => {
                std::fs::write(&data, b).expect("write pcap");
                args.extend(["--pcap".into(), data.display().to_string()]);
            }
            Input::Trace(b) => {
                std::fs::write(&data, b).expect("write trace");
                args.extend(["--classbench-trace".into(), data.display().to_string()]);
            }
        }
        for o in &opts {
            args.extend(o.iter().cloned());
        }
        let (code, err) = bounded(&args);
        let _ = std::fs::remove_file(&r);
        let _ = std::fs::remove_file(&data);
        prop_assert!(!err.contains("panicked"), "{args:?}\n{err}");
        let code = code.unwrap_or_else(|| panic!("killed by a signal: {args:?}\n{err}"));
        prop_assert!(matches!(code, 0..=2), "exit {code}: {args:?}\n{err}");
        if code != 0 {
            let first = err.lines().next().unwrap_or("");
            prop_assert!(first.starts_with("Error: ") || first.starts_with("error: "), "{args:?}\n{err}");
            prop_assert!(first.len() < 1000, "{} bytes: {args:?}", first.len());
        }
    }
}

/// Random rules built from matches and (multi-output) actions.
fn rule_set() -> impl Strategy<Value = String> {
    let m = prop_oneof![
        Just("ip"),
        Just("tcp"),
        Just("udp"),
        Just("tcp,tp_dst=80"),
        Just("udp,tp_src=53"),
        Just("ip,nw_src=10.0.0.0/8"),
        Just("icmp"),
    ];
    let a = prop_oneof![
        Just("drop"),
        Just("output:2"),
        Just("output:2,output:3"),
        Just("output:3,output:4,output:5"),
        Just("mod_nw_tos:8,output:2,output:6"),
        Just("in_port"),
        Just("dec_ttl,output:2"),
    ];
    prop::collection::vec((1u16..100, m, a), 1..8).prop_map(|rs| {
        let mut s: String = rs
            .iter()
            .map(|(p, m, a)| format!("priority={p},{m},actions={a}\n"))
            .collect();
        s.push_str("priority=0,actions=drop\n");
        s
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(24), ..ProptestConfig::default() })]

    #[test]
    fn every_packet_is_forwarded_dropped_or_lost(
        text in rule_set(),
        seed in any::<u64>(),
        junk in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..80), 0..20),
        packets in 50usize..600,
    ) {
        let of = OfProto::with_rules(parse_rules(&text, "r").expect("rules parse"), Prefixes::default());
        let mut rng = Rng::new(seed);
        let mut frames: Vec<Vec<u8>> = flows_inside(&of.rules, 40, &mut rng, 1)
            .iter()
            .map(|k| frame_from_key(k, MIN_FRAME))
            .collect();
        frames.extend(junk);
        let seq: Vec<usize> = (0..packets).map(|_| rng.below(frames.len() as u64) as usize).collect();
        let dp_cfg = DpConfig { emc_insert_inv_prob: 1, ..DpConfig::default() };

        let mut pmd = Pmd::new(dp_cfg.clone()).expect("pmd");
        let mut sink = CountingSink::default();
        for chunk in seq.chunks(BURST) {
            let burst: Vec<&[u8]> = chunk.iter().map(|&i| frames[i].as_slice()).collect();
            pmd.process_burst(&of, &burst, 1, &mut sink);
        }
        let s = pmd.stats;
        prop_assert_eq!(s.packets, packets as u64);
        prop_assert_eq!(s.forwarded + s.dropped + s.lost, s.packets, "{:?}", s);
        prop_assert_eq!(s.lost, 0);
        let copies: u64 = sink.ports.iter().map(|p| p.1).sum();
        prop_assert_eq!(copies, s.tx_packets);

        let mut dp = HybridDp::new(Pmd::new(dp_cfg).expect("pmd"), ModelNic::new(Geometry::DEFAULT), OffloadConfig::default());
        let mut hsink = CountingSink::default();
        for chunk in seq.chunks(BURST) {
            let burst: Vec<&[u8]> = chunk.iter().map(|&i| frames[i].as_slice()).collect();
            dp.process_burst(&of, &burst, 1, &mut hsink).expect("model NIC");
        }
        let c = dp.counters();
        prop_assert_eq!(c.packets, packets as u64);
        prop_assert_eq!(c.forwarded + c.dropped + c.lost, c.packets, "{:?}", c);
        prop_assert_eq!(c.lost, 0);
        // Same verdicts and copies as the software datapath.
        prop_assert_eq!((c.forwarded, c.dropped, c.tx_packets), (s.forwarded, s.dropped, s.tx_packets));
        prop_assert_eq!(&hsink.ports, &sink.ports);
    }
}
