//! The edit table's allocation: one entry per distinct set of rewrite
//! values, shared by every flow that rewrites to them (NICs keep "modify
//! header" contexts apart from flows the same way), freed with its last
//! flow.

use abi::action::EditEntry;
use std::collections::HashMap;

/// Entries in use and their users.
#[derive(Clone, Debug, Default)]
pub struct EditTable {
    /// Values → (entry, flows using it).
    by_value: HashMap<EditEntry, (u16, u32)>,
    /// Values of each entry in use.
    values: HashMap<u16, EditEntry>,
    /// Free entries, the lowest last.
    free: Vec<u16>,
}

impl EditTable {
    /// A table of `entries` free entries.
    pub fn new(entries: u16) -> Self {
        EditTable {
            free: (0..entries).rev().collect(),
            ..EditTable::default()
        }
    }

    /// The entry holding `v` for one more flow, and whether it is new (the
    /// caller writes a new one to the device first); `None` when every
    /// entry holds other values.
    pub fn acquire(&mut self, v: &EditEntry) -> Option<(u16, bool)> {
        if let Some((index, users)) = self.by_value.get_mut(v) {
            *users += 1;
            return Some((*index, false));
        }
        let index = self.free.pop()?;
        self.by_value.insert(*v, (index, 1));
        self.values.insert(index, *v);
        Some((index, true))
    }

    /// One flow fewer uses `index`; the last one frees it. No device write:
    /// no action word names it any more.
    pub fn release(&mut self, index: u16) {
        let Some(v) = self.values.get(&index).copied() else {
            return;
        };
        let Some(e) = self.by_value.get_mut(&v) else {
            return;
        };
        e.1 -= 1;
        if e.1 == 0 {
            self.by_value.remove(&v);
            self.values.remove(&index);
            self.free.push(index);
        }
    }

    /// Entries in use.
    pub fn in_use(&self) -> usize {
        self.values.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(i: u8) -> EditEntry {
        EditEntry {
            eth_dst: [2, 0, 0, 0, 0, i],
            ..EditEntry::default()
        }
    }

    #[test]
    fn values_share_an_entry_until_their_last_user_leaves() {
        let mut t = EditTable::new(2);
        assert_eq!(t.acquire(&v(1)), Some((0, true)));
        assert_eq!(t.acquire(&v(1)), Some((0, false)));
        assert_eq!(t.acquire(&v(2)), Some((1, true)));
        // Full: other values get nothing, known ones still share.
        assert_eq!(t.acquire(&v(3)), None);
        assert_eq!(t.acquire(&v(2)), Some((1, false)));
        t.release(0);
        assert_eq!(t.acquire(&v(3)), None, "entry 0 still has a user");
        t.release(0);
        assert_eq!(t.in_use(), 1);
        assert_eq!(t.acquire(&v(3)), Some((0, true)));
        // A release of a free entry changes nothing.
        t.release(0);
        t.release(0);
        assert_eq!(t.in_use(), 1);
        assert_eq!(EditTable::new(0).acquire(&v(1)), None);
    }
}
