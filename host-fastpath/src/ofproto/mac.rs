//! NORMAL's MAC learning table (Open vSwitch lib/mac-learning.c).
//!
//! Keyed by (VLAN, MAC); an entry ages out [`MAC_ENTRY_DEFAULT_IDLE_TIME_S`]
//! after its last use, and a full table evicts its least recently used entry.

use std::collections::HashMap;

/// Seconds an unused entry lives (OVS `MAC_ENTRY_DEFAULT_IDLE_TIME`, the
/// bridge's `mac-aging-time` default).
pub const MAC_ENTRY_DEFAULT_IDLE_TIME_S: u64 = 300;
/// Entries at most (OVS `MAC_DEFAULT_MAX`, `mac-table-size`: 8192 since
/// OVS 2.11's commit 2468f6751, 2048 before).
pub const MAC_DEFAULT_MAX: usize = 8192;

/// What translating a packet through NORMAL learned: `mac` is on `port` in `vlan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MacLearn {
    /// VLAN id (0: untagged).
    pub vlan: u16,
    /// Source MAC (48 bits).
    pub mac: u64,
    /// OpenFlow input port.
    pub port: u32,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    port: u32,
    used_ms: u64,
}

/// The learning table.
#[derive(Debug)]
pub struct MacTable {
    map: HashMap<(u16, u64), Entry>,
    /// Idle time before an entry expires, ms.
    pub idle_ms: u64,
    /// Entries at most.
    pub max: usize,
}

impl Default for MacTable {
    fn default() -> Self {
        MacTable {
            map: HashMap::new(),
            idle_ms: MAC_ENTRY_DEFAULT_IDLE_TIME_S * 1000,
            max: MAC_DEFAULT_MAX,
        }
    }
}

/// Whether a MAC is multicast (group bit set); never learned, never looked up.
pub fn is_multicast(mac: u64) -> bool {
    mac & 0x0100_0000_0000 != 0
}

/// OVS `eth_addr_is_reserved`: STP, pause and other link-local protocols
/// (01:80:c2:00:00:0x), Extreme and Cisco ones. NORMAL drops frames to them.
pub fn is_reserved(mac: u64) -> bool {
    (0x0180_c200_0000..=0x0180_c200_000f).contains(&mac)
        || matches!(
            mac,
            0x00e0_2b00_0000
                | 0x00e0_2b00_0004
                | 0x00e0_2b00_0006
                | 0x0100_0c00_0000
                | 0x0100_0ccc_cccc
                | 0x0100_0ccc_cccd
                | 0x0100_0ccd_cdcd
        )
        || (0x0100_0ccc_ccc0..=0x0100_0ccc_ccc7).contains(&mac)
}

impl MacTable {
    /// The port `mac` was learned on in `vlan`.
    pub fn lookup(&self, vlan: u16, mac: u64) -> Option<u32> {
        if is_multicast(mac) {
            return None;
        }
        self.map.get(&(vlan, mac)).map(|e| e.port)
    }

    /// Learns `l` at `now_ms`; true if the table changed in a way
    /// translation sees (a new entry or a moved one, or an eviction).
    pub fn learn(&mut self, l: MacLearn, now_ms: u64) -> bool {
        if is_multicast(l.mac) {
            return false;
        }
        if let Some(e) = self.map.get_mut(&(l.vlan, l.mac)) {
            e.used_ms = e.used_ms.max(now_ms);
            let moved = e.port != l.port;
            e.port = l.port;
            return moved;
        }
        if self.map.len() >= self.max {
            // OVS evicts the least recently used entry.
            if let Some(k) = self
                .map
                .iter()
                .min_by_key(|(_, e)| e.used_ms)
                .map(|(k, _)| *k)
            {
                self.map.remove(&k);
            }
        }
        if self.max > 0 {
            self.map.insert(
                (l.vlan, l.mac),
                Entry {
                    port: l.port,
                    used_ms: now_ms,
                },
            );
        }
        true
    }

    /// Removes entries idle for [`MacTable::idle_ms`]; how many.
    pub fn expire(&mut self, now_ms: u64) -> usize {
        let n = self.map.len();
        let idle = self.idle_ms;
        self.map
            .retain(|_, e| now_ms < e.used_ms.saturating_add(idle));
        n - self.map.len()
    }

    /// Removes every entry on `port` (it left the bridge); how many.
    pub fn forget_port(&mut self, port: u32) -> usize {
        let n = self.map.len();
        self.map.retain(|_, e| e.port != port);
        n - self.map.len()
    }

    /// Entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: u64 = 0x5054_0000_0001;
    const B: u64 = 0x5054_0000_0002;

    #[test]
    fn learns_moves_ages_and_evicts() {
        let mut t = MacTable::default();
        let l = |mac, port| MacLearn { vlan: 0, mac, port };
        assert!(t.learn(l(A, 1), 0));
        assert!(!t.learn(l(A, 1), 1000), "a refresh is no change");
        assert_eq!(t.lookup(0, A), Some(1));
        assert_eq!(t.lookup(5, A), None, "per VLAN");
        assert!(t.learn(l(A, 2), 2000), "moved");
        assert_eq!(t.lookup(0, A), Some(2));
        // Aging counts from the last use (2 s).
        assert_eq!(t.expire(2000 + 300_000 - 1), 0);
        assert_eq!(t.expire(2000 + 300_000), 1);
        assert!(t.is_empty());
        // Multicast sources are never learned.
        assert!(!t.learn(l(0x0100_5e00_0001, 1), 0));
        // Full: the least recently used goes.
        t.max = 2;
        t.learn(l(A, 1), 10);
        t.learn(l(B, 2), 5);
        t.learn(l(0x5054_0000_0003, 3), 20);
        assert_eq!((t.lookup(0, A), t.lookup(0, B)), (Some(1), None));
        assert_eq!(t.len(), 2);
        assert_eq!(t.forget_port(1), 1);
    }

    #[test]
    fn reserved_addresses_as_ovs() {
        assert!(is_reserved(0x0180_c200_0000));
        assert!(is_reserved(0x0180_c200_000e));
        assert!(!is_reserved(0x0180_c200_0010));
        assert!(is_reserved(0x0100_0ccc_cccd));
        assert!(!is_reserved(0xffff_ffff_ffff));
    }
}
