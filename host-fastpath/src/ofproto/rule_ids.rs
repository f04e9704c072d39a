//! The rules one translation matched, in order.
//!
//! A translation goes through one rule per table it visits: one for a
//! single-table pipeline, a few with `resubmit`/`goto_table`. Every upcall
//! builds such a list and the megaflow it installs keeps it (for rule
//! `idle_timeout`), so up to [`INLINE`] ids live inline: neither the
//! translation nor the installed flow allocates for them (a `Vec` cost an
//! allocation per translation and a shrinking reallocation per install).

use std::fmt;
use std::ops::Deref;

/// Ids held without a heap allocation.
pub const INLINE: usize = 4;

/// A list of rule ids: inline up to [`INLINE`], on the heap beyond.
#[derive(Clone)]
pub struct RuleIds(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, ids: [u32; INLINE] },
    Heap(Vec<u32>),
}

impl RuleIds {
    /// An empty list.
    pub const fn new() -> Self {
        RuleIds(Repr::Inline {
            len: 0,
            ids: [0; INLINE],
        })
    }

    /// Appends `id`.
    pub fn push(&mut self, id: u32) {
        match &mut self.0 {
            Repr::Inline { len, ids } if (*len as usize) < INLINE => {
                ids[*len as usize] = id;
                *len += 1;
            }
            Repr::Inline { ids, .. } => {
                let mut v = Vec::with_capacity(2 * INLINE);
                v.extend_from_slice(ids);
                v.push(id);
                self.0 = Repr::Heap(v);
            }
            Repr::Heap(v) => v.push(id),
        }
    }
}

impl Default for RuleIds {
    fn default() -> Self {
        Self::new()
    }
}

impl Deref for RuleIds {
    type Target = [u32];
    fn deref(&self) -> &[u32] {
        match &self.0 {
            Repr::Inline { len, ids } => &ids[..(*len as usize).min(INLINE)],
            Repr::Heap(v) => v,
        }
    }
}

impl PartialEq for RuleIds {
    fn eq(&self, other: &Self) -> bool {
        self[..] == other[..]
    }
}

impl Eq for RuleIds {}

impl fmt::Debug for RuleIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl From<&[u32]> for RuleIds {
    fn from(ids: &[u32]) -> Self {
        let mut r = RuleIds::new();
        for &id in ids {
            r.push(id);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_inline_and_beyond() {
        let mut r = RuleIds::new();
        assert!(r.is_empty());
        for n in 1..=3 * INLINE as u32 {
            r.push(n * 10);
            let want: Vec<u32> = (1..=n).map(|i| i * 10).collect();
            assert_eq!(&r[..], &want[..], "after {n} pushes");
            assert_eq!(r, RuleIds::from(&want[..]));
        }
        assert_ne!(r, RuleIds::from(&[10u32][..]));
        assert_eq!(format!("{:?}", RuleIds::from(&[1u32, 2][..])), "[1, 2]");
    }
}
