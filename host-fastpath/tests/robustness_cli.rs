//! Every bad input to `fastpath` is a clear error before any packet runs:
//! the exit code, the message's first line (naming the input, the position
//! and what is wrong), and an empty report (nothing ran) for each case; and
//! `--stats-json` accounts for every packet on every `--nic`.

use fastpath::io::frames::{frame_from_key, MIN_FRAME};
use fastpath::io::pcap::PcapWriter;
use std::path::PathBuf;
use std::process::Command;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fastpath-robust-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d.join(name)
}

fn write(name: &str, bytes: &[u8]) -> String {
    let p = tmp(name);
    std::fs::write(&p, bytes).expect("write");
    p.display().to_string()
}

/// Exit code, stdout, first line of stderr.
fn fastpath(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_fastpath"))
        .args(args)
        .output()
        .expect("run fastpath");
    let err = String::from_utf8_lossy(&o.stderr);
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        err.lines().next().unwrap_or("").to_string(),
    )
}

const RULES: &str = "priority=20,udp,tp_src=53,actions=drop\n\
                     priority=10,tcp,actions=output:2,output:3\n\
                     priority=5,udp,actions=output:2\n\
                     priority=0,actions=drop\n";

/// A fresh name: tests run in parallel and must not rewrite each other's files.
fn unique(stem: &str, ext: &str) -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{stem}-{n}.{ext}")
}

fn rules() -> String {
    write(&unique("r", "flows"), RULES.as_bytes())
}

/// Runs `fastpath run --rules R ARGS` and checks it fails with `code` and
/// a first line starting with `first`, having printed no report.
fn rejects(args: &[&str], code: i32, first: &str) {
    let r = rules();
    let mut all = vec!["run", "--rules", &r];
    all.extend_from_slice(args);
    let (c, out, line) = fastpath(&all);
    assert_eq!(c, code, "{args:?}: exit {c}, first line {line}");
    assert!(
        line.starts_with(first),
        "{args:?}:\n  got  {line}\n  want {first}"
    );
    assert!(out.is_empty(), "{args:?} ran traffic:\n{out}");
    assert!(
        line.len() < 400,
        "{args:?}: first line of {} bytes",
        line.len()
    );
}

#[test]
fn huge_or_bad_gen_values_are_refused_before_allocation() {
    for (gen, first) in [
        (
            "flows=18446744073709551615,zipf=1,packets=10,seed=1",
            "error: invalid value 'flows=18446744073709551615,zipf=1,packets=10,seed=1' for '--gen <GEN>': --gen flows=18446744073709551615: expected an integer in 1..=10000000",
        ),
        (
            "packets=18446744073709551615",
            "error: invalid value 'packets=18446744073709551615' for '--gen <GEN>': --gen packets=18446744073709551615: expected an integer in 1..=100000000",
        ),
        (
            "packets=10000000000",
            "error: invalid value 'packets=10000000000' for '--gen <GEN>': --gen packets=10000000000: expected an integer in 1..=100000000",
        ),
        ("", "error: invalid value '' for '--gen <GEN>': --gen is empty"),
        (
            "flows=1,flows=2",
            "error: invalid value 'flows=1,flows=2' for '--gen <GEN>': --gen: `flows` is given twice",
        ),
        (
            "zipf=nan",
            "error: invalid value 'zipf=nan' for '--gen <GEN>': --gen zipf=nan: expected a number in 0..=100",
        ),
    ] {
        rejects(&["--nic", "none", "--gen", gen], 2, first);
    }
}

#[test]
fn numeric_options_are_range_checked() {
    let g = ["--gen", "flows=5,packets=10"];
    for (extra, code, first) in [
        (
            &["--loops", "0"][..],
            2,
            "error: invalid value '0' for '--loops <LOOPS>': 0 is not in 1..=4294967295",
        ),
        (
            &["--threads", "0"][..],
            2,
            "error: invalid value '0' for '--threads <THREADS>': 0 is not in 1..=64",
        ),
        (
            &["--threads", "18446744073709551615"][..],
            2,
            "error: invalid value '18446744073709551615' for '--threads <THREADS>': 18446744073709551615 is not in 1..=64",
        ),
        (
            &["--nic", "none", "--mask-slots", "2"][..],
            1,
            "Error: --mask-slots configures the NIC's tables: it has no effect with --nic none",
        ),
        (
            &["--nic", "none", "--widen", "always"][..],
            1,
            "Error: --widen configures the NIC's tables: it has no effect with --nic none",
        ),
        (
            &["--nic", "bogus"][..],
            2,
            "error: invalid value 'bogus' for '--nic <NIC>': --nic `bogus`: expected sim, sim-lookup, none or vfio:BDF",
        ),
        (
            &["--nic", "sim", "--threads", "2"][..],
            1,
            "Error: --nic sim drives one NIC from one thread",
        ),
    ] {
        let mut a = g.to_vec();
        a.extend_from_slice(extra);
        rejects(&a, code, first);
    }
    let (c, out, line) = fastpath(&["gen-rules", "--count", "18446744073709551615"]);
    assert_eq!(c, 2, "{line}");
    assert!(out.is_empty());
    assert!(line.ends_with("is not in 0..=1000000"), "{line}");
}

#[cfg(feature = "sim")]
#[test]
fn mask_slots_beyond_the_simulated_nic_are_refused() {
    let slots = sim::GEOMETRY.mf_slots;
    let n = (slots as u32 + 1).to_string();
    rejects(
        &["--gen", "flows=5,packets=10", "--mask-slots", &n],
        1,
        &format!(
            "Error: --mask-slots {n}: the simulated NIC has {slots} mask slots (give 0..={slots})"
        ),
    );
}

#[test]
fn endless_and_binary_inputs_stop_at_once() {
    let g = ["--nic", "none", "--gen", "flows=5,packets=10"];
    let (c, out, line) = fastpath(&["run", "--rules", "/dev/zero", g[0], g[1], g[2], g[3]]);
    assert_eq!((c, out.as_str()), (1, ""), "{line}");
    assert_eq!(line, "Error: /dev/zero:1:1: NUL byte (a binary file?)");
    rejects(
        &["--nic", "none", "--classbench-trace", "/dev/zero"],
        1,
        "Error: --classbench-trace /dev/zero:1:1: NUL byte (a binary file?)",
    );
    rejects(
        &["--nic", "none", "--pcap", "/dev/zero"],
        1,
        "Error: --pcap /dev/zero: not a pcap file (magic 0x00000000",
    );
    let (c, out, line) = fastpath(&["trace", "--rules", "/dev/zero", "in_port=1"]);
    assert_eq!((c, out.as_str()), (1, ""), "{line}");
    assert_eq!(line, "Error: /dev/zero:1:1: NUL byte (a binary file?)");
}

#[test]
fn bom_nul_non_utf8_and_long_lines_are_named_with_their_line() {
    let long_token = format!("ip,nw_src={},actions=drop\n", "x".repeat(10_000));
    let huge_line = format!("ip,nw_src={},actions=drop\n", "x".repeat(10 << 20));
    for (name, bytes, first) in [
        (
            "bom.flows",
            b"\xef\xbb\xbfip,actions=drop\n".to_vec(),
            "bom.flows:1:1: UTF-8 byte-order mark (bytes ef bb bf): save the file without it",
        ),
        (
            "nul.flows",
            b"ip,actions=drop\n\nip,act\0ions=drop\n".to_vec(),
            "nul.flows:3:7: NUL byte (a binary file?)",
        ),
        (
            "latin1.flows",
            b"ip,actions=drop\n# caf\xe9\n".to_vec(),
            "latin1.flows:2:6: byte 0xe9 is not UTF-8 (the file must be UTF-8 text)",
        ),
        (
            "huge.flows",
            huge_line.into_bytes(),
            "huge.flows:1: line longer than the limit of 65536 bytes",
        ),
        (
            "token.flows",
            long_token.into_bytes(),
            "token.flows:1:4: expected an IPv4 address, found `xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…[9946 bytes]…xxxxxxxxxxxxxxx`",
        ),
    ] {
        let f = write(name, &bytes);
        let (c, out, line) = fastpath(&["run", "--nic", "none", "--rules", &f, "--gen", "flows=5"]);
        assert_eq!((c, out.as_str()), (1, ""), "{name}: {line}");
        let want = format!("Error: {}", tmp(first).display());
        assert_eq!(line, want, "{name}");
    }
    // The same checks apply to traces.
    let t = write("bom_trace", b"\xef\xbb\xbf1 2 3 4 6 0 1\n");
    rejects(
        &["--nic", "none", "--classbench-trace", &t],
        1,
        &format!("Error: --classbench-trace {t}:1:1: UTF-8 byte-order mark"),
    );
    // A long FLOW argument is shortened too.
    let flow = format!("in_port=1,{}=1", "f".repeat(100_000));
    let (c, _, line) = fastpath(&["trace", "--rules", &rules(), &flow]);
    assert_eq!(c, 1);
    assert!(
        line.starts_with("Error: FLOW <flow>:1:11: unknown field `ffff"),
        "{line}"
    );
    assert!(line.len() < 200, "{line}");
}

/// A pcap file of one `incl`-byte frame whose header then claims
/// `version`, `snaplen` and an original length `orig`.
fn pcap_bytes(version: (u16, u16), snaplen: u32, incl: u32, orig: u32) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), "mem").expect("header");
    let k = abi::FlowKey::ZERO.with(abi::Field::DlType, 0x0800);
    w.write(0, &frame_from_key(&k, incl as usize))
        .expect("write");
    let mut v = w.finish().expect("flush");
    // File header: version at 4 and 6, snaplen at 16; record header: orig_len at 24 + 12.
    v[4..6].copy_from_slice(&version.0.to_le_bytes());
    v[6..8].copy_from_slice(&version.1.to_le_bytes());
    v[16..20].copy_from_slice(&snaplen.to_le_bytes());
    v[36..40].copy_from_slice(&orig.to_le_bytes());
    v
}

#[test]
fn strict_pcap_and_classbench_readers() {
    for (name, bytes, msg) in [
        (
            "incl.pcap",
            pcap_bytes((2, 4), 65535, 80, 60),
            "packet 1: captured length 80 exceeds the original length 60",
        ),
        (
            "snap.pcap",
            pcap_bytes((2, 4), 64, 80, 80),
            "packet 1: captured length 80 exceeds the file's snapshot length 64",
        ),
        (
            "version.pcap",
            pcap_bytes((99, 77), 65535, 60, 60),
            "format version 99.77 (only 2.4 is read)",
        ),
    ] {
        let p = write(name, &bytes);
        rejects(
            &["--nic", "none", "--pcap", &p],
            1,
            &format!("Error: --pcap {p}: {msg}"),
        );
    }
    let t = write("extra_trace", b"1 2 3 4 6 0 1\n1 2 3 4 6 0 1 99\n");
    rejects(
        &["--nic", "none", "--classbench-trace", &t],
        1,
        &format!("Error: --classbench-trace {t}:2: expected 5 to 7 fields `sip dip sport dport proto [flags idx]`, found 8"),
    );
}

#[test]
fn output_paths_are_checked_before_the_run() {
    // A run this size takes minutes: failing after it would show.
    let big = ["--nic", "none", "--gen", "flows=1000,packets=20000000"];
    for (opt, path, first) in [
        (
            "--stats-json",
            "/nonexistent-dir/s.json",
            "Error: --stats-json /nonexistent-dir/s.json: No such file or directory",
        ),
        (
            "--dump-flows",
            "/nonexistent-dir/f.txt",
            "Error: --dump-flows /nonexistent-dir/f.txt: No such file or directory",
        ),
        (
            "--out-pcap",
            "/nonexistent-dir/out",
            "Error: --out-pcap /nonexistent-dir/out-port1.pcap: No such file or directory",
        ),
    ] {
        let mut a = big.to_vec();
        a.extend_from_slice(&[opt, path]);
        rejects(&a, 1, first);
    }
    let d = std::env::temp_dir().display().to_string();
    let mut a = big.to_vec();
    a.extend_from_slice(&["--stats-json", &d]);
    rejects(&a, 1, &format!("Error: --stats-json {d}: is a directory"));
    // A bad rule file after good output paths leaves no output file behind.
    // Its own directory: other tests' outputs come and go in the shared one.
    let own = tmp("never");
    std::fs::create_dir_all(&own).expect("dir");
    let js = own.join("never.json");
    let bad = write("bad.flows", b"ip,nw_sorc=1,actions=drop\n");
    let (c, _, _) = fastpath(&[
        "run",
        "--nic",
        "none",
        "--rules",
        &bad,
        "--gen",
        "flows=5",
        "--stats-json",
        &js.display().to_string(),
    ]);
    assert_eq!(c, 1);
    assert!(!js.exists());
    let left: Vec<_> = std::fs::read_dir(&own)
        .expect("list")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// `--stats-json` of one run, parsed.
fn stats(args: &[&str], name: &str) -> serde_json::Value {
    let js = tmp(name);
    let mut a = args.to_vec();
    let js_s = js.display().to_string();
    a.extend_from_slice(&["--stats-json", &js_s]);
    let (c, out, line) = fastpath(&a);
    assert_eq!(c, 0, "{args:?}: {line}\n{out}");
    serde_json::from_str(&std::fs::read_to_string(&js).expect("json")).expect("valid JSON")
}

fn n(v: &serde_json::Value, k: &str) -> u64 {
    v[k].as_u64()
        .unwrap_or_else(|| panic!("{k} missing in {v}"))
}

/// packets = forwarded + dropped + lost, copies add up per port, and
/// multi-output rules send more copies than packets.
fn balanced(v: &serde_json::Value, packets: u64) {
    assert_eq!(n(v, "packets"), packets, "{v}");
    assert_eq!(
        n(v, "forwarded") + n(v, "dropped") + n(v, "lost"),
        n(v, "packets"),
        "{v}"
    );
    assert_eq!(n(v, "lost"), 0, "{v}");
    let per_port: u64 = v["tx_ports"]
        .as_object()
        .expect("tx_ports")
        .values()
        .map(|x| x.as_u64().expect("count"))
        .sum();
    assert_eq!(per_port, n(v, "tx_packets"), "{v}");
    assert!(
        n(v, "tx_packets") > n(v, "forwarded"),
        "multi-output rules: {v}"
    );
    assert!(n(v, "forwarded") > 0 && n(v, "dropped") > 0, "{v}");
}

/// Frames for every rule of [`RULES`] (TCP to two ports, UDP to one, the
/// rest dropped), some of them malformed (cut inside the TCP header).
fn mixed_pcap() -> (String, u64, u64) {
    use abi::Field;
    let p = tmp(&unique("mixed", "pcap"));
    let mut w = PcapWriter::create(&p).expect("create");
    let (mut total, mut malformed) = (0, 0);
    for i in 0..300u64 {
        let proto = [6, 17, 1][(i % 3) as usize];
        let k = abi::FlowKey::ZERO
            .with(Field::DlType, 0x0800)
            .with(Field::NwProto, proto)
            .with(Field::NwTtl, 64)
            .with(Field::NwSrc, 0x0a00_0000 | i)
            .with(Field::TpSrc, 1000 + i % 7)
            .with(Field::TpDst, 80);
        let mut f = frame_from_key(&k, MIN_FRAME);
        if i % 10 == 0 && proto == 6 {
            // Ethernet + IPv4 + 10 bytes of a 20-byte TCP header.
            f.truncate(14 + 20 + 10);
            malformed += 1;
        }
        w.write(i * 1000, &f).expect("write");
        total += 1;
    }
    w.finish().expect("flush");
    (p.display().to_string(), total, malformed)
}

#[test]
fn every_packet_is_counted_once_with_nic_none() {
    let r = rules();
    for threads in ["1", "3"] {
        let v = stats(
            &[
                "run",
                "--nic",
                "none",
                "--threads",
                threads,
                "--rules",
                &r,
                "--gen",
                "flows=300,packets=6000,seed=4",
                "--loops",
                "2",
            ],
            &format!("none-{threads}.json"),
        );
        balanced(&v, 12_000);
        assert_eq!(v["nic"], "none");
        assert_eq!(n(&v, "malformed"), 0);
    }
    let (p, total, malformed) = mixed_pcap();
    let v = stats(
        &["run", "--nic", "none", "--rules", &r, "--pcap", &p],
        "none-pcap.json",
    );
    balanced(&v, total);
    assert_eq!(n(&v, "malformed"), malformed, "{v}");
}

#[cfg(feature = "sim")]
#[test]
fn every_packet_is_counted_once_with_nic_sim() {
    let r = rules();
    let v = stats(
        &[
            "run",
            "--nic",
            "sim",
            "--rules",
            &r,
            "--gen",
            "flows=100,packets=2000,seed=5",
            "--warmup",
            "1",
        ],
        "sim.json",
    );
    balanced(&v, 2000);
    assert_eq!(v["nic"], "sim");
    assert!(n(&v, "hw_handled") > 0, "{v}");
    let (p, total, malformed) = mixed_pcap();
    let v = stats(
        &["run", "--nic", "sim", "--rules", &r, "--pcap", &p],
        "sim-pcap.json",
    );
    balanced(&v, total);
    // With a packet path `malformed` counts the frames the host parsed: a
    // malformed frame the NIC forwards itself is never seen by the host.
    assert!(n(&v, "malformed") <= malformed, "{v}");
    let v = stats(
        &["run", "--nic", "sim-lookup", "--rules", &r, "--pcap", &p],
        "sim-lookup-pcap.json",
    );
    balanced(&v, total);
    assert_eq!(n(&v, "malformed"), malformed, "{v}");
}

#[test]
fn device_errors_say_why_on_the_first_line() {
    let (c, out, line) = fastpath(&["nic", "probe", "--device", "0000:99:00.0"]);
    assert_eq!((c, out.as_str()), (1, ""), "{line}");
    let head = "Error: opening 0000:99:00.0: ";
    assert!(
        line.starts_with(head) && line.len() > head.len() + 10,
        "{line}"
    );
}
