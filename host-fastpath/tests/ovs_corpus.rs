//! The share of Open vSwitch's own rule strings and trace flows (from its
//! test suite and documentation, in tests/ovs-corpus/, kept by
//! `scripts/ovs-corpus` when Debian's `ovs-ofctl parse-flow` accepts them)
//! that fastpath accepts, by cause of refusal.
//!
//! `FASTPATH_CORPUS_LIST=1` prints every refused line with its source.

use fastpath::ofproto::parse::parse_rule;
use fastpath::ofproto::parse::parse_trace_flow;
use std::collections::BTreeMap;

mod ovs_common;
use ovs_common::corpus;

/// A refusal's cause: the error message with the rule's own values taken out.
fn cause(msg: &str) -> String {
    // Messages name the offending item in backquotes first; keep the
    // keyword (the part before `=`, `:` or `(`) so causes group.
    let mut out = String::new();
    let mut parts = msg.split('`');
    out.push_str(parts.next().unwrap_or(""));
    if let Some(item) = parts.next() {
        let kw: String = item
            .chars()
            .take_while(|c| !matches!(c, '=' | ':' | '(' | '[' | '/'))
            .collect();
        out.push('`');
        out.push_str(&kw);
        out.push('`');
    }
    out
}

struct Share {
    total: usize,
    ok: usize,
    /// Lines using connection tracking, which #14 leaves out, and how many of them fastpath accepts.
    ct: (usize, usize),
    causes: BTreeMap<String, Vec<String>>,
}

/// Whether a line uses connection tracking (`ct(...)`, `ct_state`, `ct_clear`, …).
fn uses_ct(t: &str) -> bool {
    t.match_indices("ct").any(|(i, _)| {
        let before = t[..i].chars().next_back();
        let after = t[i + 2..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            && matches!(after, Some('(' | '_'))
    })
}

fn share<E: std::fmt::Display>(name: &str, f: impl Fn(&str) -> Result<(), (E, String)>) -> Share {
    let lines = corpus(name);
    let mut s = Share {
        total: lines.len(),
        ok: 0,
        ct: (0, 0),
        causes: BTreeMap::new(),
    };
    for (src, t) in &lines {
        let ct = uses_ct(t);
        s.ct.0 += ct as usize;
        match f(t) {
            Ok(()) => {
                s.ok += 1;
                s.ct.1 += ct as usize;
            }
            Err((e, msg)) => s
                .causes
                .entry(cause(&msg))
                .or_default()
                .push(format!("{src}: {t}\n    {e}")),
        }
    }
    let list = std::env::var("FASTPATH_CORPUS_LIST").is_ok_and(|v| v == "1");
    eprintln!(
        "{name}: fastpath accepts {} of {} ({:.1} %)",
        s.ok,
        s.total,
        100.0 * s.ok as f64 / s.total as f64
    );
    eprintln!(
        "{name}: without the {} using connection tracking (not in #14): {} of {} ({:.1} %)",
        s.ct.0,
        s.ok - s.ct.1,
        s.total - s.ct.0,
        s.in_scope_pct()
    );
    let mut by: Vec<_> = s.causes.iter().collect();
    by.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
    for (c, v) in by {
        eprintln!("  {:4}  {c}", v.len());
        if list {
            for l in v {
                eprintln!("        {l}");
            }
        }
    }
    s
}

impl Share {
    fn in_scope_pct(&self) -> f64 {
        100.0 * (self.ok - self.ct.1) as f64 / (self.total - self.ct.0).max(1) as f64
    }
}

#[test]
fn connection_tracking_is_recognised() {
    assert!(uses_ct("ct_state=+trk,actions=ct(commit)"));
    assert!(uses_ct("ip,actions=ct_clear"));
    assert!(!uses_ct("ip,actions=conjunction(1,1/2)"));
    assert!(!uses_ct("ip,actions=mod_dl_src:00:00:00:00:00:01,dec_ttl"));
}

/// Checks a corpus's share against its floors (all lines, lines without ct).
fn check_share<E: std::fmt::Display>(
    name: &str,
    min_lines: usize,
    floors: (f64, f64),
    parse: impl Fn(&str) -> Result<(), E>,
) {
    let s = share(name, |t| {
        parse(t).map_err(|e| {
            let m = e.to_string();
            // The message after `file:line:col: `.
            let m = m.splitn(4, ':').nth(3).unwrap_or(&m).trim().to_string();
            (e, m)
        })
    });
    assert!(s.total > min_lines, "{name}: corpus too small: {}", s.total);
    // Floors at the shares reached at this commit, so a regression fails.
    let pct = 100.0 * s.ok as f64 / s.total as f64;
    assert!(pct >= floors.0, "{name}: share accepted fell to {pct:.1} %");
    let pct = s.in_scope_pct();
    assert!(
        pct >= floors.1,
        "{name}: share without ct accepted fell to {pct:.1} %"
    );
}

#[test]
fn rules_accepted_share() {
    check_share("rules.txt", 1000, MIN_RULES_PCT, |t| {
        parse_rule(t).map(|_| ())
    });
}

#[test]
fn flows_accepted_share() {
    // As `fastpath trace` reads them.
    check_share("flows.txt", 50, MIN_FLOWS_PCT, |t| {
        parse_trace_flow(t).map(|_| ())
    });
}

/// Shares (all, without connection tracking) reached at this commit, at
/// or above the targets of 80 % of rules and 95 % of flows. The
/// rest is outside #14 (MPLS, NSH, tunnel metadata, `actset_output`, …).
const MIN_RULES_PCT: (f64, f64) = (59.0, 84.0);
const MIN_FLOWS_PCT: (f64, f64) = (92.0, 95.0);
