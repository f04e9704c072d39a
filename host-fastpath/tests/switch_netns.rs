//! `fastpath switch` between network namespaces the test creates: two hosts
//! (A, B), each with a veth pair whose other end sits in the switch's own
//! namespace S, where the switch runs with AF_PACKET (or AF_XDP) ports. Traffic flows
//! only between A and B. Counters are checked against the kernel's own
//! interface counters (IPv6 is off and neighbours are static, so the only
//! frames are the test's).
//!
//! Needs root (namespaces, AF_PACKET). Without it the tests print SKIP and
//! pass, unless FASTPATH_REQUIRE_NETNS=1 (set by scripts/test), where they fail.
//! The AF_XDP tests also print SKIP where the kernel has no AF_XDP sockets
//! (CONFIG_XDP_SOCKETS off) or refuses BPF programs.

mod switch_common;
use switch_common as common;

use serde_json::Value;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_fastpath");
const IP_A: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const IP_B: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
const MAC_A: &str = "02:00:00:77:00:01";
const MAC_B: &str = "02:00:00:77:00:02";

fn sh(args: &[&str]) -> Result<(), String> {
    let o = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if !o.status.success() {
        return Err(format!(
            "{}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        ));
    }
    Ok(())
}

fn ns_sh(ns: &str, args: &[&str]) -> Result<(), String> {
    let mut v = vec!["ip", "netns", "exec", ns];
    v.extend_from_slice(args);
    sh(&v)
}

/// Runs `f` on a thread inside namespace `ns` (sockets it opens live there).
fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        let fd = File::open(&path).expect("open netns");
        // SAFETY: setns on a namespace file descriptor; affects this thread only.
        let r = unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "setns {path}: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .expect("namespace thread")
}

/// Turns transmit checksum offload off on `iface` (as `ethtool -K IFACE tx
/// off`): frames sent into the switch then carry full checksums.
fn tx_csum_off(iface: &str) {
    #[repr(C)]
    struct EthtoolValue {
        cmd: u32,
        data: u32,
    }
    const ETHTOOL_STXCSUM: u32 = 0x17;
    let mut v = EthtoolValue {
        cmd: ETHTOOL_STXCSUM,
        data: 0,
    };
    // SAFETY: plain socket and ioctl calls on local values.
    unsafe {
        let s = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        assert!(s >= 0);
        let mut ifr: libc::ifreq = std::mem::zeroed();
        for (d, c) in ifr.ifr_name.iter_mut().zip(iface.bytes()) {
            *d = c as libc::c_char;
        }
        ifr.ifr_ifru.ifru_data = (&mut v as *mut EthtoolValue).cast();
        let r = libc::ioctl(s, libc::SIOCETHTOOL, &mut ifr);
        libc::close(s);
        assert_eq!(
            r,
            0,
            "SIOCETHTOOL {iface}: {}",
            std::io::Error::last_os_error()
        );
    }
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// The namespaces and veth pairs; removed on drop.
struct Topo {
    a: String,
    b: String,
    s: String,
    /// Switch-side interfaces (in S).
    sa: String,
    sb: String,
    dir: PathBuf,
}

impl Topo {
    /// Creates the topology, or says why it cannot (then the test skips).
    fn new() -> Result<Topo, String> {
        Topo::with_queues(1)
    }

    /// As [`Topo::new`], each veth end with `queues` receive and transmit queues.
    fn with_queues(queues: usize) -> Result<Topo, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not root".into());
        }
        let id = format!(
            "{}{}",
            std::process::id() % 100_000,
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let t = Topo {
            a: format!("fpa{id}"),
            b: format!("fpb{id}"),
            s: format!("fps{id}"),
            sa: format!("fsa{id}"),
            sb: format!("fsb{id}"),
            dir: std::env::temp_dir().join(format!("fastpath-netns-{id}")),
        };
        let _ = std::fs::remove_dir_all(&t.dir);
        std::fs::create_dir_all(&t.dir).map_err(|e| e.to_string())?;
        sh(&["ip", "netns", "add", &t.a])?;
        sh(&["ip", "netns", "add", &t.b])?;
        sh(&["ip", "netns", "add", &t.s])?;
        for ns in [&t.a, &t.b, &t.s] {
            // No IPv6 (no router solicitations or neighbour discovery).
            ns_sh(ns, &["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])?;
            ns_sh(
                ns,
                &["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"],
            )?;
            ns_sh(ns, &["ip", "link", "set", "lo", "up"])?;
        }
        for (host, hif, sif, ip, mac, peer_ip, peer_mac) in [
            (&t.a, "va", &t.sa, IP_A, MAC_A, IP_B, MAC_B),
            (&t.b, "vb", &t.sb, IP_B, MAC_B, IP_A, MAC_A),
        ] {
            let q = queues.to_string();
            let qs = ["numrxqueues", &q, "numtxqueues", &q];
            let mut add = vec!["ip", "link", "add", hif];
            add.extend(qs);
            add.extend(["type", "veth", "peer", "name", sif]);
            add.extend(qs);
            ns_sh(host, &add)?;
            ns_sh(host, &["ip", "link", "set", sif, "netns", &t.s])?;
            ns_sh(host, &["ip", "link", "set", hif, "address", mac])?;
            ns_sh(
                host,
                &["ip", "addr", "add", &format!("{ip}/24"), "dev", hif],
            )?;
            ns_sh(host, &["ip", "link", "set", hif, "up"])?;
            ns_sh(
                host,
                &[
                    "ip",
                    "neigh",
                    "add",
                    &peer_ip.to_string(),
                    "lladdr",
                    peer_mac,
                    "dev",
                    hif,
                    "nud",
                    "permanent",
                ],
            )?;
            let hif = hif.to_string();
            in_ns(host, move || tx_csum_off(&hif));
            ns_sh(&t.s, &["ip", "link", "set", sif, "up"])?;
        }
        Ok(t)
    }

    fn counter(&self, ns: &str, iface: &str, name: &str) -> u64 {
        let o = Command::new("ip")
            .args([
                "netns",
                "exec",
                ns,
                "cat",
                &format!("/sys/class/net/{iface}/statistics/{name}"),
            ])
            .output()
            .expect("ip netns exec cat");
        String::from_utf8_lossy(&o.stdout)
            .trim()
            .parse()
            .expect("counter")
    }

    /// Waits until neither host has sent anything for 300 ms (late TCP
    /// acknowledgements), so counters read next are final.
    fn settle(&self) {
        let sent = || {
            (
                self.counter(&self.a, "va", "tx_packets"),
                self.counter(&self.b, "vb", "tx_packets"),
            )
        };
        let mut last = sent();
        loop {
            std::thread::sleep(Duration::from_millis(300));
            let now = sent();
            if now == last {
                // The switch's poll interval, for the last frames to be counted.
                std::thread::sleep(Duration::from_millis(50));
                return;
            }
            last = now;
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Topo {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b, &self.s] {
            let _ = sh(&["ip", "netns", "del", ns]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn topo_or_skip(test: &str) -> Option<Topo> {
    match Topo::new() {
        Ok(t) => Some(t),
        Err(e) => {
            if std::env::var("FASTPATH_REQUIRE_NETNS").is_ok_and(|v| v == "1") {
                panic!(
                    "{test}: cannot create network namespaces ({e}) and FASTPATH_REQUIRE_NETNS=1"
                );
            }
            eprintln!("SKIP {test}: cannot create network namespaces: {e}");
            None
        }
    }
}

/// A running switch in namespace S.
struct Sw {
    child: Child,
    ctl: PathBuf,
    stats: PathBuf,
}

impl Sw {
    fn start(t: &Topo, rules: &str, extra: &[&str]) -> Sw {
        Sw::start_on(t, "af_packet", rules, extra)
    }

    /// The switch with both ports of type `kind` (af_packet, af_xdp).
    fn start_on(t: &Topo, kind: &str, rules: &str, extra: &[&str]) -> Sw {
        let rf = t.path("rules.flows");
        std::fs::write(&rf, rules).unwrap();
        let ctl = t.path("sw.ctl");
        let stats = t.path("stats.json");
        let mut args: Vec<String> = ["netns", "exec", &t.s, BIN, "switch"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for a in [format!("p1={kind}:{}", t.sa), format!("p2={kind}:{}", t.sb)] {
            args.push("--port".into());
            args.push(a);
        }
        args.extend(
            [
                "--rules",
                rf.to_str().unwrap(),
                "--ctl",
                ctl.to_str().unwrap(),
                "--stats-json",
                stats.to_str().unwrap(),
                "--log-level",
                "warn",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        args.extend(extra.iter().map(|s| s.to_string()));
        let child = Command::new("ip")
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn switch");
        let sw = Sw { child, ctl, stats };
        let t0 = Instant::now();
        while sw.try_ctl(&["show"]).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "switch did not come up"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        sw
    }

    fn try_ctl(&self, args: &[&str]) -> Result<String, String> {
        common::try_ctl(&self.ctl, args)
    }

    fn ctl(&self, args: &[&str]) -> String {
        common::ctl(&self.ctl, args)
    }

    fn json(&self, args: &[&str]) -> Value {
        common::ctl_json(&self.ctl, args)
    }

    /// SIGTERM; waits for a clean exit; returns the final counters.
    fn stop(&mut self) -> (Value, String) {
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let mut out = String::new();
        if let Some(mut o) = self.child.stdout.take() {
            o.read_to_string(&mut out).unwrap();
        }
        let st = self.child.wait().unwrap();
        assert!(st.success(), "switch exit status {st}: {out}");
        let j = serde_json::from_str(&std::fs::read_to_string(&self.stats).unwrap()).unwrap();
        (j, out)
    }
}

impl Drop for Sw {
    fn drop(&mut self) {
        // A test that failed half-way leaves no switch behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn port<'a>(j: &'a Value, name: &str) -> &'a Value {
    j["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no port {name} in {j}"))
}

fn rule_packets(dump: &Value, m: &str) -> u64 {
    dump["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["match"] == m)
        .map(|f| f["n_packets"].as_u64().unwrap())
        .sum()
}

fn total_rule_packets(dump: &Value) -> u64 {
    dump["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["n_packets"].as_u64().unwrap())
        .sum()
}

/// Sends `n` UDP datagrams from namespace `a` to B:`port` in namespace
/// `b`; returns how many B received.
fn udp(a: &str, b: &str, n: usize, port: u16, pace: Duration) -> usize {
    let rx = in_ns(b, move || {
        UdpSocket::bind(SocketAddrV4::new(IP_B, port)).unwrap()
    });
    rx.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let counter = std::thread::spawn(move || {
        let mut got = 0;
        let mut buf = [0u8; 2048];
        loop {
            match rx.recv(&mut buf) {
                Ok(_) => got += 1,
                Err(_) if d.load(Ordering::Relaxed) => return got,
                Err(_) => {}
            }
        }
    });
    in_ns(a, move || {
        let s = UdpSocket::bind(SocketAddrV4::new(IP_A, 0)).unwrap();
        for i in 0..n {
            s.send_to(&(i as u32).to_be_bytes(), SocketAddrV4::new(IP_B, port))
                .unwrap();
            if !pace.is_zero() {
                std::thread::sleep(pace);
            }
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    done.store(true, Ordering::Relaxed);
    counter.join().unwrap()
}

fn icmp_checksum(b: &[u8]) -> u16 {
    let mut s: u32 = 0;
    for c in b.chunks(2) {
        s += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// Sends `n` ICMP echo requests from A to B; returns the replies A got.
fn ping(t: &Topo, n: u16) -> usize {
    in_ns(&t.a, move || {
        // SAFETY: a raw ICMP socket (root), used through libc calls below.
        let s = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP) };
        assert!(s >= 0);
        let tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 300_000,
        };
        // SAFETY: valid option value of the size passed.
        unsafe {
            libc::setsockopt(
                s,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as u32,
            );
        }
        // SAFETY: sockaddr_in is plain data.
        let mut dst: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        dst.sin_family = libc::AF_INET as u16;
        dst.sin_addr.s_addr = u32::from(IP_B).to_be();
        let mut replies = 0;
        for seq in 0..n {
            let mut p = vec![8u8, 0, 0, 0, 0x12, 0x34, (seq >> 8) as u8, seq as u8];
            p.extend_from_slice(&[0xab; 32]);
            let c = icmp_checksum(&p);
            p[2..4].copy_from_slice(&c.to_be_bytes());
            // SAFETY: `p` and `dst` are valid for the sizes passed.
            let r = unsafe {
                libc::sendto(
                    s,
                    p.as_ptr().cast(),
                    p.len(),
                    0,
                    (&dst as *const libc::sockaddr_in).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as u32,
                )
            };
            assert_eq!(r as usize, p.len());
            let mut buf = [0u8; 1500];
            // Raw ICMP sockets also see our own requests on some paths: count echo replies for this seq only.
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_millis(500) {
                // SAFETY: `buf` is writable for its length.
                let k = unsafe { libc::recv(s, buf.as_mut_ptr().cast(), buf.len(), 0) };
                if k < 28 {
                    break;
                }
                let ihl = (buf[0] & 0xf) as usize * 4;
                let icmp = &buf[ihl..k as usize];
                if icmp[0] == 0 && icmp[6] == (seq >> 8) as u8 && icmp[7] == seq as u8 {
                    replies += 1;
                    break;
                }
            }
        }
        // SAFETY: closing our socket.
        unsafe { libc::close(s) };
        replies
    })
}

/// Sends `len` bytes from A to B over TCP; returns what B received.
fn tcp(t: &Topo, len: usize) -> Vec<u8> {
    let l = in_ns(&t.b, || {
        TcpListener::bind(SocketAddrV4::new(IP_B, 6000)).unwrap()
    });
    let server = std::thread::spawn(move || {
        let (mut c, _) = l.accept().unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut v = Vec::new();
        c.read_to_end(&mut v).unwrap();
        v
    });
    let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
    in_ns(&t.a, move || {
        let mut c = TcpStream::connect_timeout(
            &SocketAddrV4::new(IP_B, 6000).into(),
            Duration::from_secs(5),
        )
        .unwrap();
        c.write_all(&data).unwrap();
    });
    server.join().unwrap()
}

const RULES: &str = "\
priority=10,in_port=1,udp,tp_dst=5000,actions=output:2
priority=10,in_port=1,icmp,actions=output:2
priority=10,in_port=2,icmp,actions=output:1
priority=10,in_port=1,tcp,actions=output:2
priority=10,in_port=2,tcp,actions=output:1
priority=0,actions=drop
";

/// Why AF_XDP sockets cannot be used here, if they cannot: an AF_XDP
/// socket and an XSK map are created (in the test's own process, as root).
fn af_xdp_unavailable() -> Option<String> {
    // SAFETY: plain socket creation, closed at once.
    let s = unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW, 0) };
    if s < 0 {
        return Some(format!(
            "socket(AF_XDP): {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: closing the socket just created.
    unsafe { libc::close(s) };
    #[repr(C)]
    struct MapCreate {
        map_type: u32,
        key_size: u32,
        value_size: u32,
        max_entries: u32,
    }
    let attr = MapCreate {
        map_type: 17, // BPF_MAP_TYPE_XSKMAP
        key_size: 4,
        value_size: 4,
        max_entries: 1,
    };
    // SAFETY: BPF_MAP_CREATE (0) with a valid attribute of the size passed.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            0,
            &attr as *const MapCreate,
            std::mem::size_of::<MapCreate>(),
        )
    };
    if fd < 0 {
        return Some(format!(
            "bpf(BPF_MAP_CREATE XSKMAP): {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: closing the map just created.
    unsafe { libc::close(fd as i32) };
    None
}

#[test]
fn udp_tcp_icmp_cross_the_switch_as_the_rules_say() {
    let Some(t) = topo_or_skip("udp_tcp_icmp_cross_the_switch_as_the_rules_say") else {
        return;
    };
    cross_the_switch(&t, "af_packet", &[]);
}

#[cfg(feature = "sim")]
#[test]
fn udp_tcp_icmp_cross_the_switch_through_the_packet_path_nic() {
    let test = "udp_tcp_icmp_cross_the_switch_through_the_packet_path_nic";
    let Some(t) = topo_or_skip(test) else {
        return;
    };
    cross_the_switch(&t, "af_packet", &["--nic", "sim"]);
}

#[test]
fn udp_tcp_icmp_cross_the_switch_over_af_xdp() {
    let test = "udp_tcp_icmp_cross_the_switch_over_af_xdp";
    let Some(t) = topo_or_skip(test) else {
        return;
    };
    if let Some(why) = af_xdp_unavailable() {
        eprintln!("SKIP {test}: no AF_XDP sockets: {why}");
        return;
    }
    cross_the_switch(&t, "af_xdp", &[]);
    // The program goes with the switch: the interface takes another at once.
    let mut sw = Sw::start_on(&t, "af_xdp", RULES, &[]);
    let show = sw.json(&["show"]);
    assert_eq!(port(&show, "p1")["kind"]["type"], "af_xdp", "{show}");
    // veth has no zero-copy AF_XDP: copy mode, driver-mode XDP.
    assert_eq!(port(&show, "p1")["mode"], "driver mode, copy", "{show}");
    let text = sw.ctl(&["show"]);
    assert!(
        text.contains(&format!("1(p1): af_xdp:{} (driver mode, copy)", t.sa)),
        "{text}"
    );
    assert_eq!(udp(&t.a, &t.b, 20, 5000, Duration::ZERO), 20);
    sw.stop();
    // Jumbo frames do not fit an AF_XDP chunk: refused up front, by name.
    ns_sh(&t.s, &["ip", "link", "set", &t.sb, "mtu", "9000"]).unwrap();
    let o = Command::new("ip")
        .args(["netns", "exec", &t.s, BIN, "switch", "--port"])
        .arg(format!("p1=af_xdp:{}", t.sb))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains(&format!("af_xdp:{}", t.sb)) && err.contains("MTU 9000"),
        "{err}"
    );
}

/// Every frame of a switch over the packet-path NIC entered it (ports 1
/// and 2 are its MAC ports) and is accounted once: sent or dropped by the
/// NIC, handed to the host, or lost (none).
fn packet_path_accounts_every_frame(perf: &Value) {
    let n = |k: &str| perf[k].as_u64().unwrap_or_else(|| panic!("{k}: {perf}"));
    let host_rx: u64 = perf["host_rx"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(
        n("hw_forwarded") + n("hw_dropped") + host_rx + n("hw_lost"),
        n("packets"),
        "{perf}"
    );
    assert_eq!((n("hw_lost"), n("host_path_rx")), (0, 0), "{perf}");
    assert_eq!(perf["nic"], "sim", "{perf}");
}

/// UDP, ICMP and TCP through a switch with `kind` ports (and `extra`
/// arguments), counted exactly.
fn cross_the_switch(t: &Topo, kind: &str, extra: &[&str]) {
    let nic = extra.contains(&"sim");
    let mut sw = Sw::start_on(t, kind, RULES, extra);
    assert_eq!(udp(&t.a, &t.b, 200, 5000, Duration::ZERO), 200);
    // No rule forwards UDP to 5001: dropped, and counted.
    assert_eq!(udp(&t.a, &t.b, 50, 5001, Duration::ZERO), 0);
    assert_eq!(ping(t, 20), 20);
    let data = tcp(t, 200_000);
    assert_eq!(data.len(), 200_000);
    assert!(data
        .iter()
        .enumerate()
        .all(|(i, &b)| b == (i * 7 % 251) as u8));

    t.settle();
    let dump = sw.json(&["dump-flows"]);
    assert_eq!(rule_packets(&dump, "in_port=1,udp,tp_dst=5000"), 200);
    assert_eq!(rule_packets(&dump, "in_port=1,icmp"), 20);
    assert_eq!(rule_packets(&dump, "in_port=2,icmp"), 20);
    assert_eq!(rule_packets(&dump, ""), 50, "{dump}");
    let text = sw.ctl(&["dump-flows"]);
    assert!(text.contains("n_packets=200, n_bytes="), "{text}");
    assert!(
        text.contains("priority=10,in_port=1,udp,tp_dst=5000 actions=output:2"),
        "{text}"
    );
    // What A and B sent is what the switch received, and every packet went
    // through exactly one rule.
    let perf = sw.json(&["dpif-netdev/pmd-perf-show"]);
    let a_tx = t.counter(&t.a, "va", "tx_packets");
    let b_tx = t.counter(&t.b, "vb", "tx_packets");
    assert_eq!(perf["packets"].as_u64().unwrap(), a_tx + b_tx, "{perf}");
    assert_eq!(total_rule_packets(&dump), a_tx + b_tx);
    assert_eq!(perf["dropped"].as_u64().unwrap(), 50);
    assert_eq!(perf["lost"].as_u64().unwrap(), 0);
    if nic {
        packet_path_accounts_every_frame(&perf);
        // 200 UDP packets of one flow, then TCP and ICMP: once a flow's
        // megaflow is in the NIC its frames never reach the host.
        assert!(perf["hw_forwarded"].as_u64().unwrap() > 200, "{perf}");
        assert!(perf["hw_dropped"].as_u64().unwrap() > 0, "{perf}");
    }
    let show = sw.json(&["show"]);
    assert_eq!(
        port(&show, "p1")["stats"]["rx_packets"].as_u64().unwrap(),
        a_tx
    );
    assert_eq!(
        port(&show, "p2")["stats"]["tx_packets"].as_u64().unwrap(),
        t.counter(&t.b, "vb", "rx_packets")
    );
    // The megaflows: one per rule that saw traffic, at least.
    let dp = sw.ctl(&["dpctl/dump-flows"]);
    assert!(
        dp.starts_with("flow-dump from pmd on cpu core: 0\n"),
        "{dp}"
    );
    assert!(dp.contains("in_port(1)"), "{dp}");
    let trace = sw.ctl(&[
        "ofproto/trace",
        "br0",
        "in_port=1,udp,nw_dst=10.77.0.2,udp_dst=5000",
    ]);
    assert!(trace.contains("Datapath actions: 2"), "{trace}");

    let (fin, out) = sw.stop();
    assert!(out.contains("pmd thread"), "{out}");
    assert_eq!(fin["stats"]["packets"].as_u64().unwrap(), a_tx + b_tx);
}

#[test]
fn rules_and_ports_change_while_traffic_flows() {
    let Some(t) = topo_or_skip("rules_and_ports_change_while_traffic_flows") else {
        return;
    };
    rules_and_ports_change(&t, "af_packet", &[]);
}

#[cfg(feature = "sim")]
#[test]
fn rules_and_ports_change_while_traffic_flows_through_the_packet_path_nic() {
    let test = "rules_and_ports_change_while_traffic_flows_through_the_packet_path_nic";
    let Some(t) = topo_or_skip(test) else {
        return;
    };
    rules_and_ports_change(&t, "af_packet", &["--nic", "sim"]);
}

#[test]
fn rules_and_ports_change_while_traffic_flows_over_af_xdp() {
    let test = "rules_and_ports_change_while_traffic_flows_over_af_xdp";
    let Some(t) = topo_or_skip(test) else {
        return;
    };
    if let Some(why) = af_xdp_unavailable() {
        eprintln!("SKIP {test}: no AF_XDP sockets: {why}");
        return;
    }
    rules_and_ports_change(&t, "af_xdp", &[]);
}

fn rules_and_ports_change(t: &Topo, kind: &str, extra: &[&str]) {
    let nic = extra.contains(&"sim");
    let mut sw = Sw::start_on(t, kind, RULES, extra);
    // Malformed commands change nothing.
    let before = sw.ctl(&["dump-flows"]);
    assert!(sw
        .try_ctl(&["add-flow", "udp,tp_dts=1,actions=drop"])
        .unwrap_err()
        .contains("tp_dts"));
    assert!(sw
        .try_ctl(&["mod-flows", "udp"])
        .unwrap_err()
        .contains("actions"));
    assert!(sw
        .try_ctl(&["port-add", "p9=af_packet:nonexistent0"])
        .unwrap_err()
        .contains("nonexistent0"));
    assert!(sw
        .try_ctl(&["port-del", "p9"])
        .unwrap_err()
        .contains("no port named `p9`"));
    assert!(sw
        .try_ctl(&["frob"])
        .unwrap_err()
        .contains("unknown command"));
    let strip = |s: &str| -> Vec<String> {
        s.lines()
            .map(|l| l[l.find("table=").unwrap()..].to_string())
            .collect()
    };
    assert_eq!(strip(&before), strip(&sw.ctl(&["dump-flows"])));

    // UDP at a steady pace while the forwarding rule is modified to drop,
    // deleted, and added back.
    let sender = {
        let (a, b) = (t.a.clone(), t.b.clone());
        std::thread::spawn(move || udp(&a, &b, 3000, 5000, Duration::from_micros(300)))
    };
    std::thread::sleep(Duration::from_millis(150));
    sw.ctl(&[
        "mod-flows",
        "--strict",
        "priority=10,in_port=1,udp,tp_dst=5000,actions=drop",
    ]);
    std::thread::sleep(Duration::from_millis(150));
    // The deleted rule's final counters come back with the deletion.
    let del = sw.json(&[
        "del-flows",
        "--strict",
        "priority=10,in_port=1,udp,tp_dst=5000",
    ]);
    let removed = total_rule_packets(&serde_json::json!({ "flows": del["removed"] }));
    assert!(removed > 0, "{del}");
    std::thread::sleep(Duration::from_millis(150));
    sw.ctl(&[
        "add-flow",
        "priority=10,in_port=1,udp,tp_dst=5000,actions=output:2",
    ]);
    let got = sender.join().unwrap();
    t.settle();
    let a_tx = t.counter(&t.a, "va", "tx_packets");
    let dump = sw.json(&["dump-flows"]);
    let perf = sw.json(&["dpif-netdev/pmd-perf-show"]);
    let show = sw.json(&["show"]);
    // Every packet A sent was received (or dropped by the kernel's ring,
    // and counted), went through one rule, and was either delivered to B or
    // counted as dropped.
    let p1 = &port(&show, "p1")["stats"];
    let rx = p1["rx_packets"].as_u64().unwrap();
    assert_eq!(rx + p1["rx_dropped"].as_u64().unwrap(), a_tx, "{show}");
    assert_eq!(perf["packets"].as_u64().unwrap(), rx, "{perf} {show}");
    assert_eq!(total_rule_packets(&dump) + removed, rx, "{dump}");
    assert_eq!(perf["lost"].as_u64().unwrap(), 0);
    assert_eq!(
        got as u64 + perf["dropped"].as_u64().unwrap(),
        rx,
        "received {got}, {perf}"
    );
    assert!(
        got > 0 && got < 3000,
        "the rule changes took effect: {got} of 3000 delivered"
    );
    if nic {
        packet_path_accounts_every_frame(&perf);
        assert!(perf["hw_forwarded"].as_u64().unwrap() > 0, "{perf}");
    }

    // A port deleted takes only its megaflows with it, and gets its number back.
    assert_eq!(ping(t, 3), 3);
    let flows = sw.ctl(&["dpctl/dump-flows"]);
    assert!(
        flows.contains("in_port(2)") && flows.contains("in_port(1)"),
        "{flows}"
    );
    let out = sw.ctl(&["port-del", "p2"]);
    assert!(out.contains("ofport 2"), "{out}");
    let flows = sw.ctl(&["dpctl/dump-flows"]);
    assert!(
        !flows.contains("in_port(2)") && flows.contains("in_port(1)"),
        "{flows}"
    );
    let before = sw.json(&["show"]);
    assert_eq!(ping(t, 3), 0);
    // The 3 requests for the deleted port are each counted once: output to
    // no port by a megaflow translated before the deletion, or dropped by
    // one translated after it (output to a port that does not exist does
    // nothing, as in Open vSwitch).
    let after = sw.json(&["show"]);
    let delta =
        |k: &str| after["stats"][k].as_u64().unwrap() - before["stats"][k].as_u64().unwrap();
    let (no_port, dropped) = (delta("tx_no_port"), delta("dropped"));
    assert!(no_port <= 3 && no_port + dropped >= 3, "{before}\n{after}");
    let out = sw.ctl(&["port-add", &format!("p2={kind}:{}", t.sb)]);
    assert!(out.contains("ofport 2"), "{out}");
    // The re-added port's socket is bound when port-add returns, but on a
    // loaded machine the first exchange can miss the 300 ms reply timeout:
    // wait (bounded) for one reply, then require every one.
    assert!(
        (0..20).any(|_| ping(t, 1) == 1),
        "no reply through the re-added port"
    );
    assert_eq!(ping(t, 3), 3);
    let show = sw.json(&["show"]);
    assert_eq!(
        show["stats"]["tx_no_port"].as_u64().unwrap(),
        after["stats"]["tx_no_port"].as_u64().unwrap(),
        "nothing output to no port once p2 is back: {show}"
    );

    // SIGTERM: a clean stop, every frame counted.
    t.settle();
    let a_tx = t.counter(&t.a, "va", "tx_packets");
    let b_tx = t.counter(&t.b, "vb", "tx_packets");
    let (fin, _) = sw.stop();
    let p1 = &port(&fin, "p1")["stats"];
    let rx_a = p1["rx_packets"].as_u64().unwrap();
    assert_eq!(rx_a + p1["rx_dropped"].as_u64().unwrap(), a_tx);
    let rx_b = port(&fin, "p2")["stats"]["rx_packets"].as_u64().unwrap()
        + fin["removed_ports"]["rx_packets"].as_u64().unwrap();
    let dropped_b = port(&fin, "p2")["stats"]["rx_dropped"].as_u64().unwrap()
        + fin["removed_ports"]["rx_dropped"].as_u64().unwrap();
    assert_eq!(rx_b + dropped_b, b_tx);
    assert_eq!(fin["stats"]["packets"].as_u64().unwrap(), rx_a + rx_b);
}

#[cfg(feature = "sim")]
#[test]
fn with_the_simulated_nic_the_host_handles_only_misses() {
    let Some(t) = topo_or_skip("with_the_simulated_nic_the_host_handles_only_misses") else {
        return;
    };
    let mut sw = Sw::start(&t, RULES, &["--nic", "sim"]);
    assert_eq!(udp(&t.a, &t.b, 300, 5000, Duration::from_micros(200)), 300);
    let perf = sw.json(&["dpif-netdev/pmd-perf-show"]);
    assert_eq!(perf["packets"].as_u64().unwrap(), 300, "{perf}");
    assert_eq!(perf["forwarded"].as_u64().unwrap(), 300, "{perf}");
    packet_path_accounts_every_frame(&perf);
    // One flow: the first frame misses (the host's upcall installs it in
    // software and in the NIC); once its entry is in, the NIC forwards every
    // later frame itself.
    let hw = perf["hw_forwarded"].as_u64().unwrap();
    assert!(hw >= 290, "{perf}");
    assert!(perf["host_rx"]["miss"].as_u64().unwrap() >= 1, "{perf}");
    assert!(perf["upcalls"].as_u64().unwrap() >= 1, "{perf}");
    assert_eq!(perf["hw_handled"].as_u64().unwrap(), hw, "{perf}");
    let text = sw.ctl(&["dpif-netdev/pmd-perf-show"]);
    assert!(
        text.contains(&format!("  - {:<17}{hw:>12}", "HWOL hits:")),
        "{text}"
    );
    let off = sw.ctl(&["dpctl/dump-flows", "type=offloaded"]);
    assert!(off.contains("offloaded:yes, dp:hw"), "{off}");
    let stats = sw.json(&["dpctl/offload-stats-show"]);
    assert!(stats["inserted"].as_u64().unwrap() >= 1, "{stats}");
    // Its hit counters are the stats table's (the NIC's lookup counters).
    assert_eq!(
        stats["counters"]["hw_megaflow_hits"], perf["hw_megaflow_hits"],
        "{stats} {perf}"
    );
    assert!(perf["hw_megaflow_hits"].as_u64().unwrap() >= 290, "{perf}");
    let text = sw.ctl(&["dpctl/offload-stats-show"]);
    assert!(text.contains("Inserted offloads: "), "{text}");
    // The rule's counters include the frames the host never saw.
    let dump = sw.json(&["dump-flows"]);
    assert_eq!(
        rule_packets(&dump, "in_port=1,udp,tp_dst=5000"),
        300,
        "{dump}"
    );
    let (fin, out) = sw.stop();
    assert!(out.contains("packet path: hw_forwarded "), "{out}");
    assert_eq!(fin["stats"]["packets"].as_u64().unwrap(), 300);
    assert_eq!(fin["stats"]["hw_forwarded"], perf["hw_forwarded"]);
    assert_eq!(fin["pmd"]["hw_forwarded"], perf["hw_forwarded"]);
}

#[cfg(feature = "sim")]
#[test]
fn with_the_look_aside_nic_the_host_runs_every_action() {
    let Some(t) = topo_or_skip("with_the_look_aside_nic_the_host_runs_every_action") else {
        return;
    };
    let mut sw = Sw::start(&t, RULES, &["--nic", "sim-lookup"]);
    assert_eq!(udp(&t.a, &t.b, 300, 5000, Duration::from_micros(200)), 300);
    let perf = sw.json(&["dpif-netdev/pmd-perf-show"]);
    let n = |k: &str| perf[k].as_u64().unwrap_or_else(|| panic!("{k}: {perf}"));
    assert_eq!(n("packets"), 300, "{perf}");
    assert_eq!(perf["nic"], "sim-lookup");
    assert!(perf.get("hw_forwarded").is_none(), "no packet path: {perf}");
    // Each packet in one tier: a hardware hit, a software hit or an upcall.
    assert_eq!(
        n("hw_handled") + n("sw_emc_hits") + n("sw_megaflow_hits") + n("upcalls"),
        300,
        "{perf}"
    );
    assert_eq!(n("emc_hits"), n("hw_emc_hits") + n("sw_emc_hits"), "{perf}");
    assert!(n("hw_handled") >= 290, "{perf}");
    let (fin, _) = sw.stop();
    assert_eq!(fin["stats"]["packets"].as_u64().unwrap(), 300);
}

/// Sends `per_flow` UDP datagrams on each of `flows` sockets (each its own
/// source port: its own flow) from namespace `a` to B:`port`; returns how
/// many B received.
fn udp_flows(a: &str, b: &str, flows: usize, per_flow: usize, port: u16) -> usize {
    let rx = in_ns(b, move || {
        UdpSocket::bind(SocketAddrV4::new(IP_B, port)).unwrap()
    });
    rx.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let sender = std::thread::spawn({
        let a = a.to_string();
        move || {
            in_ns(&a, move || {
                let socks: Vec<UdpSocket> = (0..flows)
                    .map(|_| UdpSocket::bind(SocketAddrV4::new(IP_A, 0)).unwrap())
                    .collect();
                for i in 0..per_flow {
                    for s in &socks {
                        s.send_to(&(i as u32).to_be_bytes(), SocketAddrV4::new(IP_B, port))
                            .unwrap();
                    }
                    // Paced: the switch's rings and B's socket buffer never fill.
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
        }
    });
    let mut got = 0;
    let mut buf = [0u8; 64];
    while rx.recv(&mut buf).is_ok() {
        got += 1;
    }
    sender.join().unwrap();
    got
}

/// After `udp_flows(.., 32, 20, 5000)` through a switch with two packet
/// threads: the rule and `pmd-perf-show` count the `sent` frames, and each
/// thread (`unit`: its socket or queue) got some of the flows. Returns
/// `pmd-perf-show` and the per-thread packet counts.
fn two_threads_counted(sw: &Sw, sent: u64, unit: &str) -> (Value, Vec<u64>) {
    let dump = sw.json(&["dump-flows"]);
    assert_eq!(
        rule_packets(&dump, "in_port=1,udp,tp_dst=5000"),
        640,
        "{dump}"
    );
    assert_eq!(total_rule_packets(&dump), sent, "{dump}");
    let perf = sw.json(&["dpif-netdev/pmd-perf-show"]);
    assert_eq!(perf["packets"].as_u64().unwrap(), sent, "{perf}");
    let per: Vec<u64> = perf["pmds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["packets"].as_u64().unwrap())
        .collect();
    assert_eq!(per.len(), 2, "{perf}");
    assert!(
        per.iter().all(|&n| n > 0),
        "one {unit} got every flow: {per:?}"
    );
    (perf, per)
}

#[test]
fn two_packet_threads_forward_udp_over_af_packet_fanout() {
    let test = "two_packet_threads_forward_udp_over_af_packet_fanout";
    let Some(t) = topo_or_skip(test) else {
        return;
    };
    // The single-flow checks hold as with one thread.
    cross_the_switch(&t, "af_packet", &["--threads", "2"]);
    // 32 flows: the kernel's flow hash spreads them over both sockets of
    // each port's fanout group.
    let mut sw = Sw::start(&t, RULES, &["--threads", "2"]);
    let a0 = t.counter(&t.a, "va", "tx_packets");
    let b0 = t.counter(&t.b, "vb", "tx_packets");
    assert_eq!(udp_flows(&t.a, &t.b, 32, 20, 5000), 640);
    t.settle();
    let sent = t.counter(&t.a, "va", "tx_packets") - a0 + t.counter(&t.b, "vb", "tx_packets") - b0;
    let (perf, per) = two_threads_counted(&sw, sent, "socket");
    assert_eq!(perf["lost"], 0, "{perf}");
    assert_eq!(per.iter().sum::<u64>(), sent, "{perf}");
    let show = sw.json(&["show"]);
    assert_eq!(
        port(&show, "p2")["stats"]["tx_packets"].as_u64().unwrap(),
        640,
        "{show}"
    );
    assert_eq!(port(&show, "p1")["stats"]["rx_dropped"], 0, "{show}");
    let dp = sw.ctl(&["dpctl/dump-flows"]);
    assert_eq!(
        dp.matches("flow-dump from pmd on cpu core:").count(),
        2,
        "{dp}"
    );
    let (fin, out) = sw.stop();
    assert!(out.contains("Total of 2 pmd threads:"), "{out}");
    assert_eq!(fin["stats"]["packets"].as_u64().unwrap(), sent);
}

#[test]
fn af_xdp_threads_need_an_interface_queue_each() {
    let test = "af_xdp_threads_need_an_interface_queue_each";
    let Some(t) = topo_or_skip(test) else {
        return;
    };
    // The topology's veths have one queue each: two threads are refused.
    let o = Command::new("ip")
        .args([
            "netns",
            "exec",
            &t.s,
            BIN,
            "switch",
            "--threads",
            "2",
            "--port",
        ])
        .arg(format!("p1=af_xdp:{}", t.sa))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains(&format!("af_xdp:{}", t.sa))
            && err.contains("1 receive queue(s), but --threads 2 needs one per packet thread")
            && err.contains("numrxqueues 2 numtxqueues 2"),
        "{err}"
    );
}

#[test]
fn two_packet_threads_forward_udp_over_af_xdp_queues() {
    let test = "two_packet_threads_forward_udp_over_af_xdp_queues";
    if let Some(why) = af_xdp_unavailable() {
        eprintln!("SKIP {test}: no AF_XDP sockets: {why}");
        return;
    }
    let t = match Topo::with_queues(2) {
        Ok(t) => t,
        Err(e) => {
            if std::env::var("FASTPATH_REQUIRE_NETNS").is_ok_and(|v| v == "1") {
                panic!("{test}: cannot create network namespaces ({e})");
            }
            eprintln!("SKIP {test}: cannot create network namespaces: {e}");
            return;
        }
    };
    let mut sw = Sw::start_on(&t, "af_xdp", RULES, &["--threads", "2"]);
    assert_eq!(udp_flows(&t.a, &t.b, 32, 20, 5000), 640);
    t.settle();
    let sent = t.counter(&t.a, "va", "tx_packets") + t.counter(&t.b, "vb", "tx_packets");
    two_threads_counted(&sw, sent, "queue");
    let (fin, _) = sw.stop();
    assert_eq!(fin["stats"]["packets"].as_u64().unwrap(), sent);
}
