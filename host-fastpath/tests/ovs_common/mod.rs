//! The Open vSwitch sandbox the differential tests compare against.
#![allow(dead_code)]

use fastpath::ofproto::port::OFPP_LOCAL;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A private Open vSwitch (ovsdb-server + ovs-vswitchd) on a dummy datapath
/// in a temporary directory, with bridge br0 and ports p1..pN (OpenFlow
/// ports 1..N). Dropping it stops exactly those daemons.
pub struct Ovs {
    /// Its run/log/db directory.
    pub dir: PathBuf,
    /// Megaflows of [`PROBES`] on the empty bridge.
    empty: Vec<String>,
    /// How many ports (p1..pN) br0 has besides its local port.
    n_ports: u32,
}

/// Trace flows whose megaflows show whether deleted rules still count:
/// OVS removes deleted rules from its classifier only after an RCU grace
/// period, and until then their subtables still un-wildcard lookups.
const PROBES: [&str; 3] = ["in_port=1,tcp", "in_port=2,tcp6", "in_port=1,arp"];

impl Ovs {
    /// Runs an OVS tool against this instance; stdout, or stderr as the error.
    pub fn cmd(&self, prog: &str, args: &[&str]) -> Result<String, String> {
        let o = Command::new(prog)
            .args(args)
            .env("OVS_RUNDIR", &self.dir)
            .env("OVS_LOGDIR", &self.dir)
            .env("OVS_DBDIR", &self.dir)
            .env("OVS_SYSCONFDIR", &self.dir)
            .output()
            .map_err(|e| format!("{prog}: {e}"))?;
        if !o.status.success() {
            return Err(format!(
                "{prog} {args:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    }

    /// br0's OpenFlow ports in our numbering (p1..pN and LOCAL), for
    /// `OfProto::set_ports`: both sides then flood to the same ports.
    pub fn ofports(&self) -> Vec<u32> {
        (1..=self.n_ports).chain([OFPP_LOCAL]).collect()
    }

    fn probe_megaflows(&self) -> Result<Vec<String>, String> {
        PROBES
            .iter()
            .map(|p| {
                let out = self.cmd("ovs-appctl", &["ofproto/trace", "br0", p])?;
                Ok(out
                    .lines()
                    .find_map(|l| l.strip_prefix("Megaflow: "))
                    .unwrap_or("")
                    .to_string())
            })
            .collect()
    }

    /// Replaces the bridge's rules with `text` (written to `name` in the
    /// sandbox, loaded by `ovs-ofctl add-flows` once the old ones are gone).
    pub fn load_flows(&self, name: &str, text: &str) -> Result<(), String> {
        let file = self.dir.join(name);
        std::fs::write(&file, text).map_err(|e| format!("{}: {e}", file.display()))?;
        self.clear_flows(&[])?;
        self.cmd(
            "ovs-ofctl",
            &["add-flows", "br0", &file.display().to_string()],
        )
        .map(|_| ())
    }

    /// Deletes every rule (with `ovs-ofctl` options `opts`) and waits until
    /// OVS's classifier no longer sees them, so the next rules' megaflows
    /// do not depend on the ones before.
    pub fn clear_flows(&self, opts: &[&str]) -> Result<(), String> {
        let mut args = opts.to_vec();
        args.extend(["del-flows", "br0"]);
        self.cmd("ovs-ofctl", &args)?;
        for _ in 0..400 {
            if self.probe_megaflows()? == self.empty {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        Err("deleted rules still shape OVS's megaflows after 2 s".into())
    }

    fn ctl(&self, name: &str) -> Option<String> {
        let pid = std::fs::read_to_string(self.dir.join(format!("{name}.pid"))).ok()?;
        Some(
            self.dir
                .join(format!("{name}.{}.ctl", pid.trim()))
                .display()
                .to_string(),
        )
    }

    /// Whether the OVS daemons are installed. When they are not, a test is
    /// skipped with a message, unless FASTPATH_REQUIRE_OVS is set (CI).
    pub fn available() -> bool {
        if Command::new("ovs-vswitchd")
            .arg("--version")
            .output()
            .is_ok()
            && Command::new("ovs-ofctl").arg("--version").output().is_ok()
        {
            return true;
        }
        assert!(
            std::env::var_os("FASTPATH_REQUIRE_OVS").is_none(),
            "FASTPATH_REQUIRE_OVS is set but Open vSwitch (Debian openvswitch-switch) is not installed"
        );
        eprintln!("skipping: Open vSwitch is not installed (apt-get install openvswitch-switch)");
        false
    }

    /// Starts an instance with `ports` ports, or `None` (after the message
    /// of [`Ovs::available`]) when OVS is not installed.
    pub fn start_or_skip(ports: u32) -> Option<Ovs> {
        if !Self::available() {
            return None;
        }
        match Ovs::start(ports) {
            Ok(o) => Some(o),
            Err(e) => panic!("cannot start Open vSwitch on a dummy datapath: {e}"),
        }
    }

    fn start(ports: u32) -> Result<Ovs, String> {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("fastpath-ovs-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let mut ovs = Ovs {
            dir,
            empty: Vec::new(),
            n_ports: ports,
        };
        let d = ovs.dir.display().to_string();
        let schema = [
            "/usr/share/openvswitch/vswitch.ovsschema",
            "/usr/local/share/openvswitch/vswitch.ovsschema",
        ]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .ok_or("vswitch.ovsschema not found")?;
        ovs.cmd("ovsdb-tool", &["create", &format!("{d}/conf.db"), schema])?;
        ovs.cmd(
            "ovsdb-server",
            &[
                "--detach",
                "--no-chdir",
                &format!("--pidfile={d}/ovsdb-server.pid"),
                &format!("--remote=punix:{d}/db.sock"),
                &format!("--log-file={d}/ovsdb.log"),
                &format!("{d}/conf.db"),
            ],
        )?;
        let db = format!("--db=unix:{d}/db.sock");
        ovs.cmd("ovs-vsctl", &[&db, "--no-wait", "init"])?;
        ovs.cmd(
            "ovs-vswitchd",
            &[
                "--enable-dummy=override",
                "--disable-system",
                "--detach",
                "--no-chdir",
                &format!("--pidfile={d}/ovs-vswitchd.pid"),
                &format!("--log-file={d}/vswitchd.log"),
                &format!("unix:{d}/db.sock"),
            ],
        )?;
        let mut args: Vec<String> = vec![
            db,
            "add-br".into(),
            "br0".into(),
            "--".into(),
            "set".into(),
            "bridge".into(),
            "br0".into(),
            "datapath-type=dummy".into(),
        ];
        for p in 1..=ports {
            for a in ["--", "add-port", "br0"] {
                args.push(a.into());
            }
            args.push(format!("p{p}"));
            for a in ["--", "set", "interface"] {
                args.push(a.into());
            }
            args.push(format!("p{p}"));
            args.push("type=dummy".into());
            args.push(format!("ofport_request={p}"));
        }
        let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        ovs.cmd("ovs-vsctl", &refs)?;
        // The bridge's default rule matches everything (no mask bits), so
        // the empty bridge's megaflows are read right after deleting it.
        ovs.cmd("ovs-ofctl", &["del-flows", "br0"])?;
        ovs.empty = ovs.probe_megaflows()?;
        Ok(ovs)
    }
}

impl Drop for Ovs {
    fn drop(&mut self) {
        // Stop exactly the daemons this test started, through their control sockets.
        for name in ["ovs-vswitchd", "ovsdb-server"] {
            if let Some(ctl) = self.ctl(name) {
                let _ = self.cmd("ovs-appctl", &["-t", &ctl, "exit"]);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The (source, text) lines of a corpus file in tests/ovs-corpus/.
pub fn corpus(name: &str) -> Vec<(String, String)> {
    let path = format!("{}/tests/ovs-corpus/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (s, t) = l
                .split_once('\t')
                .unwrap_or_else(|| panic!("{path}: no tab in `{l}`"));
            (s.to_string(), t.to_string())
        })
        .collect()
}

/// The mask of an `ofproto/trace` `Megaflow:` line, in our key. A
/// megaflow's `nw_frag=no` is both fragment bits (OVS always un-wildcards
/// both for IP); the rule syntax reads it as one.
pub fn ovs_megaflow_mask(megaflow: &str) -> Result<abi::FlowKey, String> {
    let m = megaflow
        .trim_start_matches("recirc_id=0,")
        .trim_start_matches("skb_priority=0,")
        .trim_start_matches("eth,")
        .trim_start_matches("eth");
    let r = fastpath::ofproto::parse::parse_rule(&format!("{m},actions=drop"))
        .map_err(|e| format!("cannot read OVS megaflow `{megaflow}`: {e}"))?;
    let mut mask = r.m.mask.key();
    if mask.get(abi::Field::NwFrag) != 0 {
        mask.set(abi::Field::NwFrag, 3);
    }
    Ok(mask)
}

/// Makes `mask` say what OVS's datapath key says by its structure: which
/// tags `key` has. OVS's key nests each tag (an encapsulated key with an
/// exact type) instead of carrying TCI fields, so every TCI bit of an absent
/// tag is implicitly exact (all zero) and "present" is implicit for a tag
/// there. Applied to both masks, "untagged, exact on no VLAN" (ours) and no
/// vlan attribute (OVS's) compare equal.
pub fn implicit_tags(key: &abi::FlowKey, mask: &mut abi::FlowKey) {
    for f in [abi::Field::VlanTci, abi::Field::VlanTci2] {
        let tag = key.get(f) & u64::from(abi::key::VLAN_PRESENT) != 0;
        let implicit = if tag {
            u64::from(abi::key::VLAN_PRESENT)
        } else {
            0xffff
        };
        mask.set(f, mask.get(f) | implicit);
    }
}

/// Our `Megaflow:` line as OVS prints it after a queue action: OVS's key
/// carries the packet's priority and its megaflow is then exact on
/// `skb_priority=0`; fastpath's key has none (every packet enters with 0),
/// and the translation says whether a queue action read it.
pub fn priority_as_ovs(megaflow: String, matched: bool) -> String {
    match megaflow.strip_prefix("recirc_id=0,") {
        Some(rest) if matched => format!("recirc_id=0,skb_priority=0,{rest}"),
        _ => megaflow,
    }
}

/// Splits an action list at top-level commas, without `drop`.
pub fn split_top(s: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out.into_iter()
        .filter(|a| !a.is_empty() && *a != "drop")
        .collect()
}

/// br0's local port in the dummy datapath's numbering; ours is OFPP_LOCAL.
const OVS_LOCAL_ODP: &str = "100";

/// An OVS datapath action in our port numbering: LOCAL's datapath port
/// is 100 in OVS's dummy datapath (the bridge has no port 100, so an
/// output to 100 is always LOCAL), OFPP_LOCAL in ours.
pub fn ovs_port_ours(a: &str) -> String {
    if a == OVS_LOCAL_ODP {
        OFPP_LOCAL.to_string()
    } else {
        a.to_string()
    }
}

/// Datapath actions with floods put in port order. FLOOD, ALL and
/// NORMAL's flood output to every port of `ports` but `in_port`, OVS in its
/// hash table's order, ours in port order: a run of plain outputs that
/// holds such a flood is sorted; other runs keep their order.
pub fn floods_sorted(acts: &str, ports: &[u32], in_port: u64) -> String {
    let flood: std::collections::BTreeSet<u32> = ports
        .iter()
        .copied()
        .filter(|&p| u64::from(p) != in_port)
        .collect();
    let has_flood = |run: &[u32]| {
        !flood.is_empty()
            && run
                .windows(flood.len())
                .any(|w| w.iter().copied().collect::<std::collections::BTreeSet<_>>() == flood)
    };
    let mut out: Vec<String> = Vec::new();
    let mut run: Vec<u32> = Vec::new();
    let flush = |run: &mut Vec<u32>, out: &mut Vec<String>| {
        if has_flood(run) {
            run.sort_unstable();
        }
        out.extend(run.drain(..).map(|p| p.to_string()));
    };
    for a in split_top(acts) {
        match a.parse::<u32>() {
            Ok(p) => run.push(p),
            Err(_) => {
                flush(&mut run, &mut out);
                out.push(a.to_string());
            }
        }
    }
    flush(&mut run, &mut out);
    if out.is_empty() {
        "drop".into()
    } else {
        out.join(",")
    }
}

/// Datapath actions with the `recirc_id` of each controller action
/// renumbered 1, 2, … in order of first appearance: OVS allocates them from
/// a bridge-wide counter, fastpath per translation (docs/ovs-compat.md), so
/// only which actions share one can be compared.
pub fn recirc_ids_renumbered(acts: &str) -> String {
    let mut seen: Vec<String> = Vec::new();
    let mut out = String::new();
    let mut rest = acts;
    while let Some(i) = rest.find("recirc_id=") {
        let (head, tail) = rest.split_at(i + "recirc_id=".len());
        out.push_str(head);
        let n = tail.bytes().take_while(u8::is_ascii_digit).count();
        let id = &tail[..n];
        let k = match seen.iter().position(|s| s == id) {
            Some(k) => k,
            None => {
                seen.push(id.to_string());
                seen.len() - 1
            }
        };
        out.push_str(&(k + 1).to_string());
        rest = &tail[n..];
    }
    out.push_str(rest);
    out
}
