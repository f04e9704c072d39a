//! Pure policy: which masks own the hardware's mask slots, which slot a
//! mask without one may be widened into, and when widening pays.
//!
//! Mask slots, not entries, are the scarce resource: Open vSwitch's own
//! megaflows for ClassBench traces use 99–947 masks, and 8 slots hold only
//! 58–90 % of their packets. So slots go to the masks with the most hits in
//! the last interval (OVS's subtable ranking, `dpcls_sort_subtable_vector`),
//! with hysteresis so two masks of similar weight do not swap every
//! interval — a swap costs a full slot clear and reinstall.

use abi::FlowKey;
use std::str::FromStr;

/// A challenger takes a slot only with more than `HYST_NUM/HYST_DEN` times the
/// incumbent's interval hits plus [`HYST_MIN_HITS`]: a slot swap invalidates
/// and rewrites every entry of the slot, so it must buy a clear gain.
pub const HYST_NUM: u64 = 5;
/// See [`HYST_NUM`].
pub const HYST_DEN: u64 = 4;
/// See [`HYST_NUM`].
pub const HYST_MIN_HITS: u64 = 32;

/// When a megaflow whose mask has no slot may be widened into a slot whose
/// mask covers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum WidenPolicy {
    /// Never: such flows stay in software (and the hardware EMC).
    Never,
    /// Widen while the measured trade pays ([`auto_widen_pays`]).
    #[default]
    Auto,
    /// Widen whenever a covering slot has room.
    Always,
}

impl FromStr for WidenPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "never" => Ok(WidenPolicy::Never),
            "auto" => Ok(WidenPolicy::Auto),
            "always" => Ok(WidenPolicy::Always),
            _ => Err(format!(
                "widen policy `{s}`: expected auto, never or always"
            )),
        }
    }
}

impl std::fmt::Display for WidenPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WidenPolicy::Never => "never",
            WidenPolicy::Auto => "auto",
            WidenPolicy::Always => "always",
        })
    }
}

/// Number of mask bits.
pub fn popcount(m: &FlowKey) -> u32 {
    m.words.iter().map(|w| w.count_ones()).sum()
}

/// The slot a megaflow with minimal mask `mask` can be widened into: one
/// whose mask is a superset of `mask` (more exact bits, so every packet an
/// entry `key & wide` matches is inside the megaflow and gets its actions),
/// preferring the fewest extra bits (fewest entries per megaflow). `None`
/// when no slot covers it.
pub fn widen_target(mask: &FlowKey, slots: &[Option<FlowKey>]) -> Option<u8> {
    slots
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.map(|w| (i, w)))
        .filter(|(_, w)| w != mask && mask.is_subset_of(w))
        .min_by_key(|(i, w)| (popcount(w), *i))
        .map(|(i, _)| i as u8)
}

/// Widened entries a mask may create before its hit rate is judged.
pub const AUTO_WARMUP_ENTRIES: u64 = 32;
/// Hardware hits each widened entry must earn on average to keep widening:
/// an entry costs ~10 register writes and a table position; two hits are
/// the least that beats leaving those packets to the software megaflow.
pub const AUTO_MIN_HITS_PER_ENTRY: u64 = 2;
/// Widened entries may fill a slot's table only to this share (percent),
/// keeping room for the slot's own megaflows.
pub const AUTO_MAX_FILL_PCT: usize = 75;

/// Whether widening one more entry pays (policy `auto`): below
/// [`AUTO_MAX_FILL_PCT`] of the target slot's capacity, and after a warm-up
/// of [`AUTO_WARMUP_ENTRIES`] only while the entries this mask already
/// widened earn [`AUTO_MIN_HITS_PER_ENTRY`] hits each.
pub fn auto_widen_pays(entries: u64, hits: u64, slot_fill: usize, slot_capacity: usize) -> bool {
    if slot_fill * 100 >= slot_capacity * AUTO_MAX_FILL_PCT {
        return false;
    }
    entries < AUTO_WARMUP_ENTRIES || hits >= entries * AUTO_MIN_HITS_PER_ENTRY
}

/// One slot change decided by [`rank_slots`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotChange {
    /// The slot.
    pub slot: u8,
    /// Its new mask.
    pub mask: FlowKey,
}

/// Re-ranks mask slots. `slots[i]` is slot i's mask and last-interval hits
/// (`None`: free); `candidates` are masks without a slot and their hits.
/// Free slots take the busiest candidates with any hits; then the busiest
/// remaining candidate replaces the least busy slot while it beats it by the
/// hysteresis margin.
pub fn rank_slots(
    slots: &[Option<(FlowKey, u64)>],
    candidates: &[(FlowKey, u64)],
) -> Vec<SlotChange> {
    let mut cands: Vec<(FlowKey, u64)> = candidates.iter().copied().filter(|c| c.1 > 0).collect();
    cands.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.words.cmp(&b.0.words)));
    let mut cands = cands.into_iter();
    let mut changes = Vec::new();
    let mut occupied: Vec<(u8, u64)> = Vec::new();
    for (i, s) in slots.iter().enumerate() {
        match s {
            None => {
                if let Some((mask, _)) = cands.next() {
                    changes.push(SlotChange {
                        slot: i as u8,
                        mask,
                    });
                }
            }
            Some((_, hits)) => occupied.push((i as u8, *hits)),
        }
    }
    occupied.sort_by_key(|&(i, h)| (h, i));
    for (slot, hits) in occupied {
        let Some(&(mask, c_hits)) = cands.as_slice().first() else {
            break;
        };
        if c_hits * HYST_DEN > hits * HYST_NUM + HYST_MIN_HITS * HYST_DEN {
            cands.next();
            changes.push(SlotChange { slot, mask });
        } else {
            break;
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi::Field;

    fn m(bits: &[(Field, u64)]) -> FlowKey {
        let mut k = FlowKey::ZERO.with(Field::InPort, u32::MAX as u64);
        for &(f, v) in bits {
            k.set(f, v);
        }
        k
    }

    #[test]
    fn widen_picks_the_covering_mask_with_fewest_bits() {
        let minimal = m(&[(Field::NwDst, 0xffff_0000)]);
        let wide = m(&[(Field::NwDst, 0xffff_ff00)]);
        let wider = m(&[(Field::NwDst, 0xffff_ffff), (Field::TpDst, 0xffff)]);
        let other = m(&[(Field::NwSrc, 0xffff_ffff)]);
        let slots = [Some(wider), Some(other), None, Some(wide)];
        assert_eq!(widen_target(&minimal, &slots), Some(3));
        assert_eq!(widen_target(&minimal, &[Some(other), None]), None);
        // Its own mask is not a widening.
        assert_eq!(widen_target(&minimal, &[Some(minimal)]), None);
        // A narrower mask never covers.
        assert_eq!(widen_target(&wide, &[Some(minimal)]), None);
    }

    #[test]
    fn widened_entries_match_only_inside_the_megaflow() {
        // Soundness of widening: for random keys, `k & wide == e & wide`
        // implies `k & minimal == e & minimal` when minimal ⊆ wide.
        let minimal = m(&[(Field::NwDst, 0xff00_0000)]);
        let wide = m(&[(Field::NwDst, 0xffff_0000), (Field::TpDst, 0xff)]);
        assert!(minimal.is_subset_of(&wide));
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let e = FlowKey::from_hw_words(&[
            next(),
            next(),
            next(),
            next(),
            next(),
            next(),
            next(),
            next(),
        ]);
        for _ in 0..10_000 {
            let mut k = e;
            k.set(Field::NwDst, e.get(Field::NwDst) ^ (next() & 0x0101_0101));
            k.set(Field::TpDst, e.get(Field::TpDst) ^ (next() & 0x3));
            if k.matches(&wide, &e.masked(&wide)) {
                assert!(k.matches(&minimal, &e.masked(&minimal)));
            }
        }
    }

    #[test]
    fn ranking_fills_free_slots_then_swaps_with_hysteresis() {
        let a = m(&[(Field::NwDst, 1)]);
        let b = m(&[(Field::NwDst, 2)]);
        let c = m(&[(Field::NwDst, 4)]);
        let d = m(&[(Field::NwDst, 8)]);
        // Free slot takes the busiest candidate; zero-hit candidates never.
        let ch = rank_slots(&[Some((a, 10)), None], &[(b, 5), (c, 50), (d, 0)]);
        assert_eq!(ch, vec![SlotChange { slot: 1, mask: c }]);
        assert!(rank_slots(&[None], &[(d, 0)]).is_empty());
        // A challenger within the margin does not swap...
        assert!(rank_slots(&[Some((a, 1000))], &[(b, 1200)]).is_empty());
        // ...one well above it replaces the least busy slot.
        let ch = rank_slots(&[Some((a, 1000)), Some((c, 100))], &[(b, 2000), (d, 150)]);
        assert_eq!(ch, vec![SlotChange { slot: 1, mask: b }]);
        // Several swaps in one pass, busiest challenger to least busy slot.
        let ch = rank_slots(&[Some((a, 0)), Some((c, 10))], &[(b, 500), (d, 400)]);
        assert_eq!(
            ch,
            vec![
                SlotChange { slot: 0, mask: b },
                SlotChange { slot: 1, mask: d }
            ]
        );
    }

    #[test]
    fn auto_widening_stops_when_entries_do_not_earn_hits() {
        assert!(auto_widen_pays(0, 0, 0, 2048));
        assert!(auto_widen_pays(AUTO_WARMUP_ENTRIES - 1, 0, 0, 2048));
        assert!(!auto_widen_pays(
            AUTO_WARMUP_ENTRIES,
            AUTO_WARMUP_ENTRIES,
            0,
            2048
        ));
        assert!(auto_widen_pays(100, 200, 0, 2048));
        assert!(!auto_widen_pays(0, 0, 1536, 2048));
    }

    #[test]
    fn policy_parses() {
        assert_eq!("auto".parse::<WidenPolicy>(), Ok(WidenPolicy::Auto));
        assert_eq!("never".parse::<WidenPolicy>(), Ok(WidenPolicy::Never));
        assert!("sometimes"
            .parse::<WidenPolicy>()
            .unwrap_err()
            .contains("sometimes"));
    }
}
