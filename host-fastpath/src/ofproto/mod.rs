//! Slow path: OpenFlow-style rule tables, translation and megaflow wildcards.
//!
//! [`parse`] reads rules in `ovs-ofctl add-flows` syntax; [`classifier`]
//! finds the matching rule in a table while recording every bit it consulted
//! (staged lookup, prefix tries, port tries, as Open vSwitch); [`xlate`]
//! walks the tables and turns a flow into datapath actions plus the megaflow
//! mask; [`format`] prints megaflows as `ofproto/trace` and `dpctl/dump-flows` do.

pub mod classifier;
pub mod fields;
pub mod flow;
pub mod format;
pub mod parse;
pub mod trie;
pub mod xlate;

pub use classifier::{Classifier, MAX_TRIES};
pub use fields::Mf;
pub use flow::Flow;
pub use parse::{parse_flow, parse_rules, Action, Match, ParseError, Rule};
pub use xlate::Translation;

use std::path::Path;

/// Errors loading a rule table.
#[derive(Debug, thiserror::Error)]
pub enum OfprotoError {
    /// The rule file could not be read.
    #[error("cannot read rules file {path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// A line did not parse.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// A bad `--prefixes` list.
    #[error("--prefixes: {0}")]
    Prefixes(String),
}

/// Fields with address prefix tracking (`--prefixes`).
#[derive(Clone, Debug)]
pub struct Prefixes(pub Vec<&'static Mf>);

impl Default for Prefixes {
    /// nw_dst, nw_src, ipv6_dst, ipv6_src: current Open vSwitch's default.
    fn default() -> Self {
        Prefixes(
            ["nw_dst", "nw_src", "ipv6_dst", "ipv6_src"]
                .iter()
                .map(|n| fields::named(n))
                .collect(),
        )
    }
}

impl std::str::FromStr for Prefixes {
    type Err = OfprotoError;
    /// `none` or a comma-separated list of at most 4 address fields, no duplicates.
    fn from_str(s: &str) -> Result<Self, OfprotoError> {
        let s = s.trim();
        if s == "none" {
            return Ok(Prefixes(Vec::new()));
        }
        let mut out: Vec<&'static Mf> = Vec::new();
        for name in s.split(',').map(str::trim) {
            let mf = fields::by_name(name)
                .filter(|m| matches!(m.syntax, fields::Syntax::Ipv4 | fields::Syntax::Ipv6) && !m.name.starts_with("arp"))
                .ok_or_else(|| {
                    OfprotoError::Prefixes(format!(
                        "`{name}` is not a prefix-trackable field (expected nw_src, nw_dst, ipv6_src or ipv6_dst)"
                    ))
                })?;
            if out.iter().any(|m| std::ptr::eq(*m, mf)) {
                return Err(OfprotoError::Prefixes(format!("`{name}` is listed twice")));
            }
            out.push(mf);
        }
        if out.len() > MAX_TRIES {
            return Err(OfprotoError::Prefixes(format!(
                "at most {MAX_TRIES} fields, found {}",
                out.len()
            )));
        }
        Ok(Prefixes(out))
    }
}

/// A bridge's OpenFlow tables.
pub struct OfProto {
    /// Every rule ever added, indexed by rule id (replaced rules stay, unreachable).
    pub rules: Vec<Rule>,
    tables: Vec<Option<Classifier>>,
    prefixes: Prefixes,
    /// When false, every megaflow is an exact match (`--no-megaflows`).
    pub megaflows: bool,
}

impl OfProto {
    /// Empty tables.
    pub fn new(prefixes: Prefixes) -> Self {
        Self {
            rules: Vec::new(),
            tables: Vec::new(),
            prefixes,
            megaflows: true,
        }
    }

    /// Tables holding `rules`.
    pub fn with_rules(rules: Vec<Rule>, prefixes: Prefixes) -> Self {
        let mut o = Self::new(prefixes);
        for r in rules {
            o.add_rule(r);
        }
        for c in o.tables.iter_mut().flatten() {
            c.compact();
        }
        o
    }

    /// Reads and installs a rule file: all or nothing.
    pub fn load(path: &Path, prefixes: Prefixes) -> Result<Self, OfprotoError> {
        let text = std::fs::read_to_string(path).map_err(|source| OfprotoError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let rules = parse_rules(&text, &path.display().to_string())?;
        Ok(Self::with_rules(rules, prefixes))
    }

    /// Adds one rule (replacing one with the same table, match and priority).
    pub fn add_rule(&mut self, r: Rule) {
        let t = r.table as usize;
        if self.tables.len() <= t {
            self.tables.resize_with(t + 1, || None);
        }
        let id = self.rules.len() as u32;
        let cls = self.tables[t].get_or_insert_with(|| Classifier::new(&self.prefixes.0));
        cls.insert(&r.m, r.priority, id);
        self.rules.push(r);
    }

    /// Rules installed (not counting replaced ones).
    pub fn n_rules(&self) -> usize {
        self.tables.iter().flatten().map(|c| c.len()).sum()
    }

    /// Subtables over all tables.
    pub fn n_subtables(&self) -> usize {
        self.tables.iter().flatten().map(|c| c.n_subtables()).sum()
    }

    /// The prefix fields in use.
    pub fn prefixes(&self) -> &Prefixes {
        &self.prefixes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_parse() {
        assert_eq!("none".parse::<Prefixes>().unwrap().0.len(), 0);
        assert_eq!("nw_dst,ip_src".parse::<Prefixes>().unwrap().0.len(), 2);
        assert!("nw_dst,nw_dst".parse::<Prefixes>().is_err());
        assert!("nw_dst,ip_dst".parse::<Prefixes>().is_err());
        assert!("tp_dst".parse::<Prefixes>().is_err());
        assert!("nw_dst,nw_src,ipv6_dst,ipv6_src,nw_dst"
            .parse::<Prefixes>()
            .is_err());
        assert_eq!(Prefixes::default().0.len(), 4);
    }
}
