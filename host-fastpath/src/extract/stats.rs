//! Extraction counters: one per reason a frame could not be parsed to the end.
//!
//! A malformed frame is never dropped by extraction: it gets the key of what
//! could be parsed (Open vSwitch semantics) and exactly one reason counter is
//! bumped, so an operator can tell "my traffic is truncated at L4" from "my
//! traffic has bad IPv4 headers" without a packet capture. The reasons are
//! declared once, in `abi::for_each_malformed_reason!`, and shared with the
//! hardware parser's reason codes.

use abi::parser::MalformedReason;

macro_rules! extract_stats {
    ($($(#[$m:meta])* $camel:ident / $name:ident = $code:literal),+ $(,)?) => {
        /// Frames seen and frames that stopped parsing early, by reason.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct ExtractStats {
            /// Frames handed to extraction.
            pub frames: u64,
            $($(#[$m])* pub $name: u64,)+
        }

        impl ExtractStats {
            /// Counter names, in declaration order (stable: used in JSON output).
            pub const NAMES: &'static [&'static str] = &["frames", $(stringify!($name)),+];

            /// Every counter as `(name, value)`, in declaration order.
            pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
                [("frames", self.frames), $((stringify!($name), self.$name)),+].into_iter()
            }

            /// Adds every counter of `other` into `self`.
            pub fn merge(&mut self, other: &ExtractStats) {
                self.frames += other.frames;
                $(self.$name += other.$name;)+
            }

            /// The counter of `reason`.
            pub fn get(&self, reason: MalformedReason) -> u64 {
                match reason {
                    $(MalformedReason::$camel => self.$name,)+
                }
            }

            /// Counts one frame for `reason`.
            pub fn count(&mut self, reason: MalformedReason) {
                match reason {
                    $(MalformedReason::$camel => self.$name += 1,)+
                }
            }
        }
    };
}

abi::for_each_malformed_reason!(extract_stats);

impl ExtractStats {
    /// Frames that stopped parsing early for any reason (every counter except
    /// `frames` and the count-only `bad_ip_version`).
    pub fn malformed(&self) -> u64 {
        self.iter()
            .filter(|(n, _)| *n != "frames" && *n != "bad_ip_version")
            .map(|(_, v)| v)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_iter_agree() {
        let mut s = ExtractStats {
            truncated_tcp: 3,
            frames: 7,
            ..Default::default()
        };
        let names: Vec<_> = s.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ExtractStats::NAMES);
        assert_eq!(
            s.iter().find(|(n, _)| *n == "truncated_tcp"),
            Some(("truncated_tcp", 3))
        );
        assert_eq!(s.malformed(), 3);
        let o = s;
        s.merge(&o);
        assert_eq!((s.frames, s.truncated_tcp), (14, 6));
    }

    #[test]
    fn counters_are_the_abi_reasons() {
        assert_eq!(ExtractStats::NAMES.len(), 1 + MalformedReason::ALL.len());
        for (r, n) in MalformedReason::ALL.iter().zip(&ExtractStats::NAMES[1..]) {
            assert_eq!(r.name(), *n);
            let mut s = ExtractStats::default();
            s.count(*r);
            assert_eq!(s.get(*r), 1);
            assert_eq!(s.iter().find(|(k, _)| k == n), Some((*n, 1)));
        }
    }
}
