//! The group table: `ovs-ofctl add-groups` lines, their errors, and the
//! `dump-groups` form.
//!
//! A group line is `group_id=N,type=T[,selection_method=M][,fields(...)],
//! bucket=...`; each bucket is `[bucket_id:N,][weight:N,][watch_port:P,]
//! [watch_group:G,]actions=...` (a bare action also starts the actions).
//! Errors are those of `ovs-ofctl` (parse) and of `ovs-vswitchd` (the
//! OpenFlow error code it answers a bad group mod with).

use super::fields::{self, Mf};
use super::ofctl::{format_actions, Dialect};
use super::parse::{parse_action_list, parse_uint, Action};
use super::port::{format_port, OFPP_CONTROLLER, OFPP_MAX, OFPP_NONE};
use std::collections::BTreeMap;

/// Highest group id (`OFPG_MAX`).
pub const OFPG_MAX: u32 = 0xffff_ff00;
/// `group_id=all` (`OFPG_ALL`).
pub const OFPG_ALL: u32 = 0xffff_fffc;
/// Highest bucket id (`OFPG15_BUCKET_MAX`).
pub const BUCKET_MAX: u32 = 0xffff_ff00;

/// Group type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupType {
    /// Every bucket, each on a copy of the packet.
    All,
    /// One bucket chosen by hash.
    Select,
    /// Its single bucket.
    Indirect,
    /// The first live bucket (`ff` / `fast_failover`).
    FastFailover,
}

impl GroupType {
    fn name(self) -> &'static str {
        match self {
            GroupType::All => "all",
            GroupType::Select => "select",
            GroupType::Indirect => "indirect",
            GroupType::FastFailover => "ff",
        }
    }
}

/// A field a `selection_method=hash` group hashes, with its mask.
#[derive(Clone, Debug, PartialEq)]
pub struct HashField {
    /// The field.
    pub mf: &'static Mf,
    /// Open vSwitch's name for it (printed by `dump-groups`).
    pub ovs_name: &'static str,
    /// Bytes of the field's value OVS hashes.
    pub n_bytes: usize,
    /// Mask (all ones when none was given).
    pub mask: u128,
}

/// One bucket.
#[derive(Clone, Debug, PartialEq)]
pub struct Bucket {
    /// Bucket id (given, or the lowest unused one, as `ovs-ofctl`).
    pub id: u32,
    /// Weight (select groups: default 1; others 0).
    pub weight: u16,
    /// `watch_port` (None: `OFPP_ANY`).
    pub watch_port: Option<u32>,
    /// `watch_group` (None: `OFPG_ANY`).
    pub watch_group: Option<u32>,
    /// Actions, run as an OpenFlow action set (as OVS does).
    pub actions: Vec<Action>,
}

impl Bucket {
    /// Whether liveness is watched at all.
    pub fn has_liveness(&self) -> bool {
        self.watch_port.is_some() || self.watch_group.is_some()
    }
}

/// A group.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// Group id.
    pub id: u32,
    /// Type.
    pub ty: GroupType,
    /// `selection_method` as written (`""`, `hash`, `dp_hash`).
    pub selection_method: String,
    /// `selection_method_param`.
    pub selection_param: u64,
    /// Hashed fields, in Open vSwitch's field order (the order OVS hashes
    /// and prints them in, whatever order they were written in).
    pub fields: Vec<HashField>,
    /// Buckets, in order.
    pub buckets: Vec<Bucket>,
}

/// Errors of a group line or a group table change.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GroupError {
    /// A line `ovs-ofctl` refuses: `file:line: message`.
    #[error("{file}:{line}: {msg}")]
    Parse {
        /// File name.
        file: String,
        /// 1-based line.
        line: usize,
        /// What is wrong (OVS's words).
        msg: String,
    },
    /// A group mod the switch refuses, with OVS's OpenFlow error name.
    #[error("group {group}: {code}")]
    Refused {
        /// Group id.
        group: u32,
        /// `OFPGMFC_GROUP_EXISTS`, `OFPBAC_BAD_OUT_GROUP`, …
        code: &'static str,
    },
}

/// Fields a select group may hash, in Open vSwitch's field-id order:
/// (OVS name, fastpath name, bytes OVS hashes).
const HASH_FIELDS: &[(&str, &str, usize)] = &[
    ("tun_id", "tun_id", 8),
    ("metadata", "metadata", 8),
    ("in_port", "in_port", 2),
    ("reg0", "reg0", 4),
    ("reg1", "reg1", 4),
    ("reg2", "reg2", 4),
    ("reg3", "reg3", 4),
    ("reg4", "reg4", 4),
    ("reg5", "reg5", 4),
    ("reg6", "reg6", 4),
    ("reg7", "reg7", 4),
    ("eth_src", "dl_src", 6),
    ("eth_dst", "dl_dst", 6),
    ("eth_type", "dl_type", 2),
    ("ip_src", "nw_src", 4),
    ("ip_dst", "nw_dst", 4),
    ("ipv6_src", "ipv6_src", 16),
    ("ipv6_dst", "ipv6_dst", 16),
    ("nw_proto", "nw_proto", 1),
    ("nw_ttl", "nw_ttl", 1),
    ("arp_op", "arp_op", 2),
    ("arp_spa", "arp_spa", 4),
    ("arp_tpa", "arp_tpa", 4),
    ("arp_sha", "arp_sha", 6),
    ("arp_tha", "arp_tha", 6),
    ("tcp_src", "tcp_src", 2),
    ("tcp_dst", "tcp_dst", 2),
    ("udp_src", "udp_src", 2),
    ("udp_dst", "udp_dst", 2),
    ("sctp_src", "sctp_src", 2),
    ("sctp_dst", "sctp_dst", 2),
    ("icmp_type", "icmp_type", 1),
    ("icmp_code", "icmp_code", 1),
    ("icmpv6_type", "icmpv6_type", 1),
    ("icmpv6_code", "icmpv6_code", 1),
];

/// `key=value` / `key(value)` / `key:value` / bare `key` items at top level
/// (OVS `ofputil_parse_key_value`).
fn key_values(s: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let bytes = s.as_bytes();
    let mut items = Vec::new();
    for (i, &c) in bytes.iter().enumerate() {
        match c {
            b'(' => depth += 1,
            b')' => depth -= 1,
            b',' | b' ' | b'\t' if depth == 0 => {
                items.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&s[start..]);
    for t in items.into_iter().map(str::trim).filter(|t| !t.is_empty()) {
        let p = t.find(['=', ':', '(']);
        out.push(match p {
            None => (t, ""),
            Some(p) if t.as_bytes()[p] == b'(' => {
                let v = &t[p + 1..];
                (&t[..p], v.strip_suffix(')').unwrap_or(v))
            }
            Some(p) => (&t[..p], &t[p + 1..]),
        });
    }
    out
}

fn parse_u32(v: &str) -> Result<u32, String> {
    parse_uint(v, u32::MAX as u128)
        .map(|n| n as u32)
        .map_err(|_| format!("invalid numeric format {v}"))
}

fn parse_fields(s: &str) -> Result<Vec<HashField>, String> {
    let mut out: Vec<HashField> = Vec::new();
    for (name, v) in key_values(s) {
        // OVS's mf names: tp_src/tp_dst are tcp_src/tcp_dst there.
        let mf = match name {
            "tp_src" => fields::by_name("tcp_src"),
            "tp_dst" => fields::by_name("tcp_dst"),
            n => fields::by_name(n),
        };
        let entry = mf.and_then(|mf| HASH_FIELDS.iter().find(|(_, ours, _)| *ours == mf.name));
        let (Some(mf), Some(&(ovs_name, _, n_bytes))) = (mf, entry) else {
            return Err(format!("{s}: unknown field {name}"));
        };
        if out.iter().any(|f| std::ptr::eq(f.mf, mf)) {
            return Err(format!("{name}: duplicate field"));
        }
        let mask = if v.is_empty() {
            u128::MAX
        } else {
            let (val, _) = super::parse::parse_field_value(mf, v)?;
            if val == 0 {
                return Err(format!(
                    "{s}: values are wildcards here and must not be all-zeros"
                ));
            }
            val
        };
        out.push(HashField {
            mf,
            ovs_name,
            n_bytes,
            mask: mask & mf.full_mask(),
        });
    }
    let order = |f: &HashField| HASH_FIELDS.iter().position(|(n, _, _)| *n == f.ovs_name);
    out.sort_by_key(order);
    Ok(out)
}

fn parse_bucket(s: &str, ty: GroupType) -> Result<Bucket, String> {
    let mut b = Bucket {
        id: u32::MAX,
        weight: u16::from(ty == GroupType::Select),
        watch_port: None,
        watch_group: None,
        actions: Vec::new(),
    };
    let mut actions: Vec<String> = Vec::new();
    for (k, v) in key_values(s) {
        match k.to_ascii_lowercase().as_str() {
            "weight" => {
                b.weight = parse_uint(v, u16::MAX as u128)
                    .map_err(|_| format!("invalid numeric format {v}"))?
                    as u16
            }
            "watch_port" => {
                let p = super::parse::parse_action_port(v)
                    .ok()
                    .filter(|&p| p < OFPP_MAX || p == OFPP_NONE || p == OFPP_CONTROLLER)
                    .ok_or_else(|| format!("{v}: invalid watch_port"))?;
                b.watch_port = (p != OFPP_NONE).then_some(p);
            }
            "watch_group" => {
                let g = parse_u32(v)?;
                if g > OFPG_MAX {
                    return Err(format!("invalid watch_group id {g}"));
                }
                b.watch_group = Some(g);
            }
            "bucket_id" => {
                let id = parse_u32(v)?;
                if id > BUCKET_MAX {
                    return Err(format!("invalid bucket_id id {id}"));
                }
                b.id = id;
            }
            "action" | "actions" => actions.push(v.to_string()),
            _ if v.is_empty() => actions.push(k.to_string()),
            _ => actions.push(format!("{k}({v})")),
        }
    }
    if actions.is_empty() {
        return Err("bucket must specify actions".into());
    }
    if ty == GroupType::FastFailover && !b.has_liveness() {
        return Err("fast failover bucket requires watch_port or watch_group".into());
    }
    b.actions = parse_action_list(&actions.join(",")).map_err(|e| {
        // ovs-ofctl's words for the commonest mistake (a misspelt key).
        match e
            .strip_prefix("unknown action `")
            .and_then(|r| r.strip_suffix('`'))
        {
            Some(name) => format!("unknown action {name}"),
            None => e,
        }
    })?;
    Ok(b)
}

/// Parses one `add-groups` line (OVS `parse_ofp_group_mod_str`).
pub fn parse_group(line: &str) -> Result<Group, String> {
    let (head, buckets) = match line.find("bucket=") {
        Some(p) => (&line[..p], Some(&line[p..])),
        None => (line, None),
    };
    let mut id = None;
    let mut ty = None;
    let mut method = String::new();
    let mut param = 0u64;
    let mut flds = Vec::new();
    for (k, v) in key_values(head) {
        match k {
            "group_id" if v == "all" => id = Some(OFPG_ALL),
            "group_id" => {
                let g = parse_u32(v)?;
                if g != OFPG_ALL && g > OFPG_MAX {
                    return Err(format!("invalid group id {g}"));
                }
                id = Some(g);
            }
            "type" => {
                ty = Some(match v {
                    "all" => GroupType::All,
                    "select" => GroupType::Select,
                    "indirect" => GroupType::Indirect,
                    "ff" | "fast_failover" => GroupType::FastFailover,
                    _ => return Err(format!("invalid group type {v}")),
                })
            }
            "selection_method" => {
                if v.len() >= 16 {
                    return Err("selection method is longer than 15 bytes long".into());
                }
                method = v.to_string();
            }
            "selection_method_param" => {
                param = parse_uint(v, u64::MAX as u128)
                    .map_err(|_| format!("invalid numeric format {v}"))?
                    as u64
            }
            "fields" => flds = parse_fields(v)?,
            _ => return Err(format!("unknown keyword {k}")),
        }
    }
    let id = id.ok_or("must specify a group_id")?;
    let ty = ty.ok_or("must specify a type")?;
    if method != "hash" && !flds.is_empty() {
        return Err("fields may only be specified with \"selection_method=hash\"".into());
    }
    if method.is_empty() && param != 0 {
        return Err("selection_method_param is only allowed with \"selection_method\"".into());
    }
    let mut bs = Vec::new();
    if let Some(mut rest) = buckets {
        while let Some(b) = rest.strip_prefix("bucket=") {
            let end = b.find("bucket=").unwrap_or(b.len());
            let bucket = parse_bucket(b[..end].trim_end_matches([',', ' ']), ty)?;
            if ty != GroupType::Select && bucket.weight != 0 {
                return Err("Only select groups can have bucket weights.".into());
            }
            bs.push(bucket);
            rest = &b[end..];
        }
    }
    if ty == GroupType::Indirect && bs.len() > 1 {
        return Err("Indirect groups can have at most one bucket.".into());
    }
    assign_bucket_ids(&mut bs);
    Ok(Group {
        id,
        ty,
        selection_method: method,
        selection_param: param,
        fields: flds,
        buckets: bs,
    })
}

/// As `ovs-ofctl` encodes a group mod: a bucket without an id gets the
/// lowest id not used by the buckets after it nor already handed out.
fn assign_bucket_ids(bs: &mut [Bucket]) {
    let mut used: Option<Vec<u32>> = None;
    for i in 0..bs.len() {
        if bs[i].id <= BUCKET_MAX {
            continue;
        }
        let u = used.get_or_insert_with(|| {
            bs[i + 1..]
                .iter()
                .filter(|b| b.id <= BUCKET_MAX)
                .map(|b| b.id)
                .collect()
        });
        let id = (0..=BUCKET_MAX).find(|n| !u.contains(n)).unwrap_or(0);
        u.push(id);
        bs[i].id = id;
    }
}

/// Parses an `add-groups` file: all or nothing; `#` comments and blank lines skipped.
pub fn parse_groups(text: &str, file: &str) -> Result<Vec<Group>, GroupError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("");
        if line.trim().is_empty() {
            continue;
        }
        out.push(parse_group(line.trim()).map_err(|msg| GroupError::Parse {
            file: file.to_string(),
            line: i + 1,
            msg,
        })?);
    }
    Ok(out)
}

/// A bridge's groups.
#[derive(Clone, Debug, Default)]
pub struct GroupTable {
    groups: BTreeMap<u32, Group>,
}

impl GroupTable {
    /// Adds a group as `ovs-vswitchd` does an OFPGC_ADD, with its errors.
    pub fn add(&mut self, g: Group) -> Result<(), GroupError> {
        let refuse = |code| Err(GroupError::Refused { group: g.id, code });
        if g.id > OFPG_MAX {
            return refuse("OFPGMFC_INVALID_GROUP");
        }
        if g.ty == GroupType::Indirect && g.buckets.len() != 1 {
            return refuse("OFPGMFC_INVALID_GROUP");
        }
        if !g.selection_method.is_empty() && g.ty != GroupType::Select {
            return refuse("OFPBPC_BAD_VALUE");
        }
        if !["", "hash", "dp_hash"].contains(&g.selection_method.as_str()) {
            return refuse("OFPBPC_BAD_VALUE");
        }
        if g.ty != GroupType::FastFailover && g.buckets.iter().any(Bucket::has_liveness) {
            return refuse("OFPGMFC_WATCH_UNSUPPORTED");
        }
        for (i, b) in g.buckets.iter().enumerate() {
            if g.buckets[..i].iter().any(|o| o.id == b.id) {
                return refuse("OFPGMFC_BAD_BUCKET");
            }
        }
        if self.groups.contains_key(&g.id) {
            return refuse("OFPGMFC_GROUP_EXISTS");
        }
        self.groups.insert(g.id, g);
        Ok(())
    }

    /// Deletes group `id` (`OFPG_ALL`: every group); returns how many went.
    pub fn delete(&mut self, id: u32) -> usize {
        if id == OFPG_ALL {
            let n = self.groups.len();
            self.groups.clear();
            n
        } else {
            usize::from(self.groups.remove(&id).is_some())
        }
    }

    /// Group `id`.
    pub fn get(&self, id: u32) -> Option<&Group> {
        self.groups.get(&id)
    }

    /// Groups by id.
    pub fn iter(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Reads a group file into a table (all or nothing).
    pub fn from_text(text: &str, file: &str) -> Result<Self, GroupError> {
        let mut t = GroupTable::default();
        for g in parse_groups(text, file)? {
            t.add(g)?;
        }
        Ok(t)
    }
}

/// A group as `ovs-ofctl dump-groups` prints it (OpenFlow 1.0/NXM
/// dialect, without the leading space).
pub fn format_group(g: &Group) -> String {
    let mut s = format!("group_id={},type={}", g.id, g.ty.name());
    if !g.selection_method.is_empty() {
        s.push_str(&format!(",selection_method={}", g.selection_method));
        if g.selection_param != 0 {
            s.push_str(&format!(",selection_method_param={}", g.selection_param));
        }
        let f: Vec<String> = g
            .fields
            .iter()
            .map(|f| {
                if f.mask == f.mf.full_mask() {
                    f.ovs_name.to_string()
                } else {
                    format!("{}={}", f.ovs_name, f.mf.format_value(f.mask))
                }
            })
            .collect();
        match f.len() {
            0 => {}
            1 => s.push_str(&format!(",fields={}", f[0])),
            _ => s.push_str(&format!(",fields({})", f.join(","))),
        }
    }
    for b in &g.buckets {
        s.push_str(&format!(",bucket=bucket_id:{},", b.id));
        if b.weight != u16::from(g.ty == GroupType::Select) {
            s.push_str(&format!("weight:{},", b.weight));
        }
        if let Some(p) = b.watch_port {
            s.push_str(&format!("watch_port:{},", format_port(p)));
        }
        if let Some(w) = b.watch_group {
            s.push_str(&format!("watch_group:{w},"));
        }
        s.push_str("actions=");
        s.push_str(&format_actions(&b.actions, Dialect::Of10));
    }
    s
}

// Open vSwitch's hash functions (lib/hash.h, the portable murmur-based
// ones a Debian x86-64 build uses): a select group's bucket choice must be
// OVS's for the same packet.

fn mhash_add(hash: u32, data: u32) -> u32 {
    let h = if data == 0 {
        hash
    } else {
        hash ^ data
            .wrapping_mul(0xcc9e_2d51)
            .rotate_left(15)
            .wrapping_mul(0x1b87_3593)
    };
    h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64)
}

fn hash_finish(hash: u32, last: u32) -> u32 {
    let mut h = hash ^ last;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// OVS `hash_bytes` (words read little-endian, as on x86).
pub fn hash_bytes(p: &[u8], basis: u32) -> u32 {
    let mut h = basis;
    let mut chunks = p.chunks_exact(4);
    for c in &mut chunks {
        h = mhash_add(h, u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut t = [0u8; 4];
        t[..rest.len()].copy_from_slice(rest);
        h = mhash_add(h, u32::from_le_bytes(t));
    }
    hash_finish(h, p.len() as u32)
}

/// OVS `hash_int` (`hash_2words(x, basis)`).
pub fn hash_int(x: u32, basis: u32) -> u32 {
    hash_finish(mhash_add(mhash_add(x, 0), basis), 8)
}

/// OVS `hash_uint64`.
pub fn hash_uint64(x: u64) -> u32 {
    hash_finish(mhash_add(mhash_add(0, x as u32), (x >> 32) as u32), 8)
}

/// OVS's bucket score: `(hash_int(bucket_id, basis) & 0xffff) * weight`.
pub fn bucket_score(b: &Bucket, basis: u32) -> u32 {
    (hash_int(b.id, basis) & 0xffff) * u32::from(b.weight)
}

/// OVS `jhash_bytes` (lookup3, words read little-endian).
pub fn jhash_bytes(p: &[u8], basis: u32) -> u32 {
    let mut a = 0xdead_beef_u32
        .wrapping_add(p.len() as u32)
        .wrapping_add(basis);
    let (mut b, mut c) = (a, a);
    let word = |s: &[u8]| {
        let mut t = [0u8; 4];
        t[..s.len()].copy_from_slice(s);
        u32::from_le_bytes(t)
    };
    let mut rest = p;
    while rest.len() >= 12 {
        a = a.wrapping_add(word(&rest[0..4]));
        b = b.wrapping_add(word(&rest[4..8]));
        c = c.wrapping_add(word(&rest[8..12]));
        // jhash_mix
        a = a.wrapping_sub(c);
        a ^= c.rotate_left(4);
        c = c.wrapping_add(b);
        b = b.wrapping_sub(a);
        b ^= a.rotate_left(6);
        a = a.wrapping_add(c);
        c = c.wrapping_sub(b);
        c ^= b.rotate_left(8);
        b = b.wrapping_add(a);
        a = a.wrapping_sub(c);
        a ^= c.rotate_left(16);
        c = c.wrapping_add(b);
        b = b.wrapping_sub(a);
        b ^= a.rotate_left(19);
        a = a.wrapping_add(c);
        c = c.wrapping_sub(b);
        c ^= b.rotate_left(4);
        b = b.wrapping_add(a);
        rest = &rest[12..];
    }
    if !rest.is_empty() {
        let mut t = [0u8; 12];
        t[..rest.len()].copy_from_slice(rest);
        a = a.wrapping_add(word(&t[0..4]));
        b = b.wrapping_add(word(&t[4..8]));
        c = c.wrapping_add(word(&t[8..12]));
        // jhash_final
        c ^= b;
        c = c.wrapping_sub(b.rotate_left(14));
        a ^= c;
        a = a.wrapping_sub(c.rotate_left(11));
        b ^= a;
        b = b.wrapping_sub(a.rotate_left(25));
        c ^= b;
        c = c.wrapping_sub(b.rotate_left(16));
        a ^= c;
        a = a.wrapping_sub(c.rotate_left(4));
        b ^= a;
        b = b.wrapping_sub(a.rotate_left(14));
        c ^= b;
        c = c.wrapping_sub(b.rotate_left(24));
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_as_ovs_dump_groups() {
        let g = parse_group(
            "group_id=5,type=select,selection_method=hash,fields(tcp_dst,ip_src),bucket=weight:10,output:2,bucket=weight:20,output:3",
        )
        .unwrap();
        assert_eq!(
            format_group(&g),
            "group_id=5,type=select,selection_method=hash,fields(ip_src,tcp_dst),bucket=bucket_id:0,weight:10,actions=output:2,bucket=bucket_id:1,weight:20,actions=output:3"
        );
        let g = parse_group("group_id=3,type=fast_failover,bucket=watch_port:5,actions=output:1,bucket=watch_port:2,output:2").unwrap();
        assert_eq!(
            format_group(&g),
            "group_id=3,type=ff,bucket=bucket_id:0,watch_port:5,actions=output:1,bucket=bucket_id:1,watch_port:2,actions=output:2"
        );
    }

    #[test]
    fn errors_are_ovs_ofctls() {
        let e = |l: &str| parse_group(l).unwrap_err();
        assert_eq!(
            e("group_id=1,type=foo,bucket=output:1"),
            "invalid group type foo"
        );
        assert_eq!(e("type=all,bucket=output:1"), "must specify a group_id");
        assert_eq!(e("group_id=1,bucket=output:1"), "must specify a type");
        assert_eq!(
            e("group_id=1,type=ff,bucket=output:1"),
            "fast failover bucket requires watch_port or watch_group"
        );
        assert_eq!(
            e("group_id=1,type=indirect,bucket=output:2,bucket=output:3"),
            "Indirect groups can have at most one bucket."
        );
        assert_eq!(
            e("group_id=1,type=all,bucket=weight:2,output:1"),
            "Only select groups can have bucket weights."
        );
        assert_eq!(
            e("group_id=4294967295,type=all"),
            "invalid group id 4294967295"
        );
    }

    #[test]
    fn bucket_ids_skip_later_explicit_ones() {
        let g =
            parse_group("group_id=1,type=all,bucket=output:1,bucket=bucket_id:0,output:2").unwrap();
        assert_eq!(g.buckets.iter().map(|b| b.id).collect::<Vec<_>>(), [1, 0]);
    }

    #[test]
    fn bucket_scores_match_ovs_trace() {
        // OVS 3.1 `ofproto/trace` of tcp,nw_src=10.0.0.1,tp_dst=80 through
        // selection_method=hash,fields(ip_src,tcp_dst), weights 10 and 20:
        // "bucket 0: score 25040", "bucket 1: score 541980".
        let mut basis = hash_uint64(0);
        basis = hash_bytes(&[10, 0, 0, 1], basis);
        basis = hash_bytes(&80u16.to_be_bytes(), basis);
        assert_eq!(bucket_score(&bucket(0, 10), basis), 25040);
        assert_eq!(bucket_score(&bucket(1, 20), basis), 541980);
    }

    fn bucket(id: u32, weight: u16) -> Bucket {
        Bucket {
            id,
            weight,
            watch_port: None,
            watch_group: None,
            actions: Vec::new(),
        }
    }

    #[test]
    fn symmetric_l4_hash_matches_ovs_trace() {
        // OVS 3.1's default-method scores (31996, 35508) for
        // tcp,nw_src=10.0.0.1,tp_src=7,tp_dst=80 (flow_hash_symmetric_l4).
        let mut f = [0u8; 32];
        f[0..4].copy_from_slice(&[10, 0, 0, 1]);
        f[16..18].copy_from_slice(&0x0800u16.to_be_bytes());
        f[20..22].copy_from_slice(&(7u16 ^ 80).to_be_bytes());
        f[28] = 6;
        let basis = jhash_bytes(&f, 0);
        assert_eq!(bucket_score(&bucket(0, 1), basis), 31996);
        assert_eq!(bucket_score(&bucket(1, 1), basis), 35508);
    }
}
