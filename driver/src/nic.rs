//! The table-programming API over any [`Device`].
//!
//! The host does all the thinking: it hashes keys with [`abi::hash_masked`],
//! computes candidate positions with [`abi::geometry`], keeps a shadow copy
//! of every table and picks positions itself (OVS's EMC policy, cuckoo
//! placement with displacement for megaflows). The device only executes
//! "write this entry here" commands, so an install is a handful of posted
//! writes and no reads besides one status check.

use crate::device::{Device, DeviceError};
use crate::hostq::{HostQueueConfig, HostQueueError, HostQueues};
use crate::shadow::{self, MfSlot};
use abi::action::{ActionEntry, EditEntry, EDIT_WORDS};
use abi::geometry::emc_candidates;
use abi::regs::{
    BlockError, BlockType, Blocks, Capability, CapabilityError, Command, DecodeError, Op, Reg,
    StatsSel, CTRL_CLEAR_COUNTERS, CTRL_CLEAR_TABLES, CTRL_ENABLE, HQ_REF_BAR, HQ_REF_OFFSET,
    HQ_REF_QUEUES, LAYOUT, MISS_HASH, MISS_TAG, REG_CMD, REG_CNT_COMMANDS, REG_CNT_EMC_HITS,
    REG_CNT_LOOKUPS, REG_CNT_MF_HITS, REG_CNT_MISSES, REG_CNT_MISS_DROPS, REG_CTRL, REG_HQ_REF,
    REG_MISSQ_KEY, REG_MISSQ_LEVEL, REG_MISSQ_META, REG_MISSQ_POP, REG_SCRATCH, REG_STAGE_ACTION,
    REG_STAGE_KEY, REG_STATS_BYTES, REG_STATS_HITS, REG_STATS_SEL, REG_STATS_USED, REG_STATUS,
    REG_WINDOW_BYTES, STATS_BYTES_BITS, STATUS_BUSY, STATUS_CMD_ERROR,
};
use abi::{hash_key, hash_masked, FlowKey, Geometry, HW_KEY_WORDS};
use thiserror::Error;

/// Longest displacement path (entry moves) one megaflow install may take.
/// Like OVS's cmap, a short breadth-first search: with two buckets of 4
/// entries a 4-move path reaches ~680 buckets, which finds room well past 90 %
/// load; longer paths cost many more writes for little load factor.
pub const MAX_CUCKOO_PATH: usize = 4;

/// Default bound on `STATUS_BUSY` polls after a table clear.
pub const DEFAULT_POLL_LIMIT: u32 = 1_000_000;

/// Scratch patterns: alternating bits, then their inverse, so a stuck or
/// floating data line shows up.
const SCRATCH_PATTERNS: [u64; 2] = [0x5a5a_a5a5_0f0f_f0f0, !0x5a5a_a5a5_0f0f_f0f0];

/// Why a NIC operation failed.
#[derive(Debug, Error)]
pub enum NicError {
    /// Register access failed.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// The device's capability block is not one this software drives.
    #[error("{device}: {error}")]
    Capability {
        /// Device name.
        device: String,
        /// What is wrong (shown in the message, so not also a `source`).
        error: CapabilityError,
    },
    /// The register block chain is broken or lacks a block this software
    /// needs (or has one in a major version it does not drive).
    #[error("{device}: {error}")]
    Blocks {
        /// Device name.
        device: String,
        /// What is wrong (shown in the message, so not also a `source`).
        error: BlockError,
    },
    /// The register BAR is smaller than the register window.
    #[error("{device}: BAR {bar} is {len:#x} bytes, the fastpath register window needs {need:#x}")]
    BarTooSmall {
        /// Device name.
        device: String,
        /// BAR index.
        bar: u8,
        /// Its length.
        len: u64,
        /// [`REG_WINDOW_BYTES`].
        need: u64,
    },
    /// The scratch register did not read back what was written.
    #[error("{device}: scratch register wrote {wrote:#018x}, read back {read:#018x}: the register bus is not working")]
    Liveness {
        /// Device name.
        device: String,
        /// Written value.
        wrote: u64,
        /// Value read back.
        read: u64,
    },
    /// No free position for a megaflow, even after displacement.
    #[error("megaflow table of mask slot {slot} is full around this key ({entries} entries; no displacement path of <= {MAX_CUCKOO_PATH} moves)")]
    TableFull {
        /// Mask slot.
        slot: u8,
        /// Entries resident in the slot.
        entries: usize,
    },
    /// Removal or statistics of an entry that is not installed.
    #[error("no such entry: {0}")]
    NoSuchEntry(String),
    /// A mask slot that does not exist, has no mask, or cannot change now.
    #[error("mask slot {slot}: {reason}")]
    BadMask {
        /// Mask slot.
        slot: u8,
        /// What is wrong.
        reason: String,
    },
    /// An edit-table write to a bitstream without the edit table.
    #[error("{device}: the bitstream has no edit table (CAP_ACT_ETH is 0)")]
    NoEditTable {
        /// Device name.
        device: String,
    },
    /// An argument outside what the API or device accepts.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A value does not fit its register field (e.g. a flow id too wide).
    #[error(transparent)]
    Encoding(#[from] DecodeError),
    /// The device set `STATUS_CMD_ERROR` after a command.
    #[error("{device}: command {command:?} ({word:#018x}) rejected: STATUS_CMD_ERROR set")]
    CommandRejected {
        /// Device name.
        device: String,
        /// The command.
        command: Command,
        /// Its encoding.
        word: u64,
    },
    /// A command was issued while a table clear was still running.
    #[error("{device}: command {command:?} issued while STATUS_BUSY is set; it was ignored")]
    Busy {
        /// Device name.
        device: String,
        /// The command.
        command: Command,
    },
    /// A bounded poll ran out.
    #[error("{device}: timed out after {polls} polls waiting for {what}")]
    Timeout {
        /// Device name.
        device: String,
        /// What was awaited.
        what: &'static str,
        /// Polls made.
        polls: u32,
    },
    /// A register read back a value that cannot be right.
    #[error("{device}: register {register} reads {value:#x}: {why}")]
    BadRegister {
        /// Device name.
        device: String,
        /// Register name.
        register: &'static str,
        /// Value read.
        value: u64,
        /// Why it is impossible.
        why: String,
    },
}

/// Where an EMC entry goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EmcPolicy {
    /// Open vSwitch's policy: the key's own entry if present, else an empty
    /// candidate, else the candidate whose stored hash is smaller.
    #[default]
    Ovs,
    /// Candidate `way` (0 or 1) of [`abi::geometry::emc_candidates`],
    /// whatever it holds (the caller's own replacement policy).
    Way(u8),
}

/// What an install did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Install {
    /// Entry index the key now lives at.
    pub index: u32,
    /// Register writes the install took (including moves).
    pub writes: u32,
    /// Resident entries moved to make room (megaflows).
    pub moves: u32,
    /// The key and flow id of an EMC entry this install replaced.
    pub evicted: Option<(FlowKey, u32)>,
    /// True when the key was already installed and only its flow id changed.
    pub replaced_same_key: bool,
}

/// A resident megaflow entry (from the shadow table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MfEntry {
    /// Mask slot.
    pub slot: u8,
    /// Entry index.
    pub index: u32,
    /// `key & mask`.
    pub masked_key: FlowKey,
    /// Flow id.
    pub flow_id: u32,
    /// Action-RAM word.
    pub action: ActionEntry,
}

/// Per-entry statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct EntryStats {
    /// Hits since the entry was installed.
    pub hits: u64,
    /// `REG_TIME` of the last hit (or of the last write of the entry).
    pub used: u64,
    /// Bytes of those hits, modulo 2^[`STATS_BYTES_BITS`]: a reader keeps
    /// the last value and adds [`EntryStats::bytes_since`] to its own count.
    pub bytes: u64,
}

impl EntryStats {
    /// Bytes counted since an earlier reading `earlier` of the same entry
    /// (the counter wraps at 2^[`STATS_BYTES_BITS`], never twice between
    /// two reads a revalidation period apart: docs/hardware.md).
    pub fn bytes_since(&self, earlier: u64) -> u64 {
        self.bytes.wrapping_sub(earlier) & stats_bytes_mask()
    }
}

/// Mask of the byte counter's [`STATS_BYTES_BITS`] bits.
pub fn stats_bytes_mask() -> u64 {
    (1u64 << STATS_BYTES_BITS) - 1
}

/// Global counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct GlobalCounters {
    /// Lookups accepted.
    pub lookups: u64,
    /// EMC hits.
    pub emc_hits: u64,
    /// Megaflow hits.
    pub mf_hits: u64,
    /// Misses (queued or dropped).
    pub misses: u64,
    /// Misses dropped because the queue was full.
    pub miss_drops: u64,
    /// Commands executed.
    pub commands: u64,
}

/// One entry of the miss queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Miss {
    /// The full flow key.
    pub key: FlowKey,
    /// Its EMC hash (from the device; equals [`abi::hash_key`]).
    pub hash: u32,
    /// Packet tag given with the lookup.
    pub tag: u32,
}

impl Default for Miss {
    fn default() -> Self {
        Miss {
            key: FlowKey::ZERO,
            hash: 0,
            tag: 0,
        }
    }
}

/// A fastpath pipeline behind a [`Device`].
pub struct Nic<D: Device> {
    dev: D,
    bar: u8,
    cap: Capability,
    /// The chain found at open.
    blocks: Blocks,
    /// Discovered base of each block, indexed by `BlockType as usize - 1`
    /// (blocks every build has; the host-queue block is looked up on use).
    bases: [u64; LAYOUT.len()],
    emc: Vec<Option<shadow::EmcEntry>>,
    mf: Vec<MfSlot>,
    /// Last value written to each staging word (`None`: unknown). Staging
    /// registers hold their value, so an install skips words that already
    /// hold the right one — consecutive flows share most of their key.
    staging: [Option<u64>; HW_KEY_WORDS],
    /// Last value written to `REG_STAGE_ACTION` (`None`: unknown).
    staged_action: Option<u64>,
    writes: u64,
    poll_limit: u32,
    /// Path-search buffers, reused so installs do not allocate.
    scratch: shadow::Scratch,
    /// The host queue rings, set up on first use.
    hostq: Option<HostQueues>,
}

impl<D: Device> std::fmt::Debug for Nic<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nic")
            .field("device", &self.dev.name())
            .field("bar", &self.bar)
            .field("capability", &self.cap)
            .finish_non_exhaustive()
    }
}

/// Blocks every pipeline has (the driver refuses a chain without one).
const REQUIRED_BLOCKS: [BlockType; 5] = [
    BlockType::Identity,
    BlockType::Control,
    BlockType::Table,
    BlockType::Stats,
    BlockType::MissQueue,
];

impl<D: Device> Nic<D> {
    /// Reads and checks the capability block of BAR `bar` without changing
    /// anything on the device (for `fastpath nic probe`).
    pub fn probe(dev: &mut D, bar: u8) -> Result<Capability, NicError> {
        Ok(Self::probe_blocks(dev, bar)?.1)
    }

    /// [`Nic::probe`], also giving the register block chain it walked.
    pub fn probe_blocks(dev: &mut D, bar: u8) -> Result<(Blocks, Capability), NicError> {
        let len = dev.bar_len(bar)?;
        if len < REG_WINDOW_BYTES {
            return Err(NicError::BarTooSmall {
                device: dev.name().to_string(),
                bar,
                len,
                need: REG_WINDOW_BYTES,
            });
        }
        let block_err = |dev: &D, error| NicError::Blocks {
            device: dev.name().to_string(),
            error,
        };
        let blocks = match Blocks::walk(REG_WINDOW_BYTES, |a| dev.read64(bar, a))? {
            Ok(b) => b,
            Err(e) => return Err(block_err(dev, e)),
        };
        let id = match blocks.find(BlockType::Identity) {
            Ok(b) => b.base,
            Err(e) => return Err(block_err(dev, e)),
        };
        let cap = Capability::decode(|r| dev.read64(bar, id + r.off))?;
        let cap = cap.map_err(|error| NicError::Capability {
            device: dev.name().to_string(),
            error,
        })?;
        for ty in REQUIRED_BLOCKS {
            if let Err(e) = blocks.find(ty) {
                return Err(block_err(dev, e));
            }
        }
        Ok((blocks, cap))
    }

    /// Opens the pipeline at BAR 0: capability check, scratch liveness check,
    /// then a table and counter reset so the shadow tables match the device.
    pub fn open(dev: D) -> Result<Self, NicError> {
        Self::open_bar(dev, 0)
    }

    /// [`Nic::open`] for a register window in BAR `bar`.
    pub fn open_bar(mut dev: D, bar: u8) -> Result<Self, NicError> {
        let (blocks, cap) = Self::probe_blocks(&mut dev, bar)?;
        let mut bases = [0u64; LAYOUT.len()];
        for ty in REQUIRED_BLOCKS {
            if let Ok(b) = blocks.find(ty) {
                bases[ty as usize - 1] = b.base;
            }
        }
        let g = cap.geometry;
        let mut nic = Nic {
            dev,
            bar,
            cap,
            blocks,
            bases,
            emc: vec![None; g.emc_entries() as usize],
            mf: (0..g.mf_slots).map(|_| MfSlot::new(&g)).collect(),
            staging: [None; HW_KEY_WORDS],
            staged_action: None,
            writes: 0,
            poll_limit: DEFAULT_POLL_LIMIT,
            scratch: shadow::Scratch::default(),
            hostq: None,
        };
        nic.scratch_check()?;
        nic.reset()?;
        Ok(nic)
    }

    /// The checked capability block.
    pub fn capability(&self) -> &Capability {
        &self.cap
    }

    /// The register block chain found at open.
    pub fn blocks(&self) -> &Blocks {
        &self.blocks
    }

    /// Table geometry.
    pub fn geometry(&self) -> &Geometry {
        &self.cap.geometry
    }

    /// The device.
    pub fn device(&mut self) -> &mut D {
        &mut self.dev
    }

    /// The host queue rings with the device they run on; set up with
    /// `HostQueueConfig::default()` on first use (a device without DMA
    /// buffers or a ring block fails here, not in [`Nic::open`]).
    pub fn host_queues(&mut self) -> Result<(&mut D, &mut HostQueues), HostQueueError> {
        let q = match &mut self.hostq {
            Some(q) => q,
            slot @ None => {
                // The host-queue block names the ring registers' BAR and offset.
                let b = self.blocks.find(BlockType::HostQueue)?;
                let r = [self
                    .dev
                    .read64(self.bar, b.base + REG_HQ_REF.off)
                    .map_err(|source| HostQueueError::Device {
                        what: "reading HQ_REF",
                        source,
                    })?];
                if HQ_REF_QUEUES.get(&r) < abi::regs::HOSTQ_QUEUES as u64 {
                    return Err(HostQueueError::Config(format!(
                        "HQ_REF announces {} queues, the host queue pair needs {}",
                        HQ_REF_QUEUES.get(&r),
                        abi::regs::HOSTQ_QUEUES
                    )));
                }
                let (bar, base) = (HQ_REF_BAR.get(&r) as u8, HQ_REF_OFFSET.get(&r));
                slot.insert(HostQueues::open_at(
                    &mut self.dev,
                    HostQueueConfig::default(),
                    bar,
                    base,
                )?)
            }
        };
        Ok((&mut self.dev, q))
    }

    /// Gives the device back.
    pub fn into_device(self) -> D {
        self.dev
    }

    /// Register writes issued since open.
    pub fn register_writes(&self) -> u64 {
        self.writes
    }

    /// Bounds `STATUS_BUSY` polling (default [`DEFAULT_POLL_LIMIT`]).
    pub fn set_poll_limit(&mut self, polls: u32) {
        self.poll_limit = polls.max(1);
    }

    /// Window offset of `reg`: its block's discovered base + its offset.
    fn at(&self, reg: Reg) -> u64 {
        self.bases[reg.block as usize - 1] + reg.off
    }

    fn read(&mut self, reg: Reg) -> Result<u64, NicError> {
        Ok(self.dev.read64(self.bar, self.at(reg))?)
    }

    fn write(&mut self, reg: Reg, value: u64) -> Result<(), NicError> {
        self.dev.write64(self.bar, self.at(reg), value)?;
        self.writes += 1;
        Ok(())
    }

    fn name(&self) -> String {
        self.dev.name().to_string()
    }

    /// Writes the scratch register with two patterns and reads each back.
    pub fn scratch_check(&mut self) -> Result<(), NicError> {
        for wrote in SCRATCH_PATTERNS {
            self.write(REG_SCRATCH, wrote)?;
            let read = self.read(REG_SCRATCH)?;
            if read != wrote {
                return Err(NicError::Liveness {
                    device: self.name(),
                    wrote,
                    read,
                });
            }
        }
        Ok(())
    }

    /// Loads the staged action word unless it already holds `action`: the
    /// register file writes it to the action RAM with the next EMC or
    /// megaflow write, so it must be set before every write command.
    fn stage_action(&mut self, action: &ActionEntry) -> Result<(), NicError> {
        let w = action.encode();
        if self.staged_action != Some(w) {
            self.staged_action = None;
            self.write(REG_STAGE_ACTION, w)?;
            self.staged_action = Some(w);
        }
        Ok(())
    }

    /// Loads the staging key, skipping words already holding their value and
    /// (megaflows) words the slot's mask does not cover.
    fn stage(&mut self, key: &FlowKey, care: Option<&FlowKey>) -> Result<(), NicError> {
        for i in 0..HW_KEY_WORDS {
            if care.is_some_and(|m| m.words[i] == 0) {
                continue;
            }
            let w = key.words[i];
            if self.staging[i] != Some(w) {
                // Forget the word first: if the write fails, its value is unknown.
                self.staging[i] = None;
                self.write(REG_STAGE_KEY.word(i), w)?;
                self.staging[i] = Some(w);
            }
        }
        Ok(())
    }

    /// Issues one command and checks `REG_STATUS`.
    fn command(&mut self, op: Op, slot: u8, index: u32, flow_id: u32) -> Result<(), NicError> {
        let command = Command {
            op,
            slot,
            index,
            flow_id,
        };
        let word = command.encode()?;
        self.write(REG_CMD, word)?;
        let status = [self.read(REG_STATUS)?];
        if STATUS_CMD_ERROR.get(&status) != 0 {
            return Err(NicError::CommandRejected {
                device: self.name(),
                command,
                word,
            });
        }
        if STATUS_BUSY.get(&status) != 0 {
            return Err(NicError::Busy {
                device: self.name(),
                command,
            });
        }
        Ok(())
    }

    fn check_flow_id(&self, flow_id: u32) -> Result<(), NicError> {
        // Encode a dummy command to get abi's typed "does not fit" error
        // before anything is written.
        Command {
            op: Op::Nop,
            slot: 0,
            index: 0,
            flow_id,
        }
        .encode()?;
        Ok(())
    }

    fn slot_ref(&self, slot: u8) -> Result<&MfSlot, NicError> {
        self.mf.get(slot as usize).ok_or_else(|| NicError::BadMask {
            slot,
            reason: format!("device has {} mask slots", self.cap.geometry.mf_slots),
        })
    }

    // ---- masks -------------------------------------------------------------

    /// Sets the mask of `slot`. Refused while the slot holds entries under a
    /// different mask (they would silently change meaning), and for an
    /// all-zero mask (a megaflow is always exact on at least `in_port`) or
    /// one with host-only bits.
    pub fn set_mask(&mut self, slot: u8, mask: &FlowKey) -> Result<u32, NicError> {
        let s = self.slot_ref(slot)?;
        if mask.words.iter().all(|&w| w == 0) {
            return Err(NicError::BadMask {
                slot,
                reason: "an all-zero mask would match every packet".into(),
            });
        }
        if mask.has_host_only_bits() {
            return Err(NicError::BadMask {
                slot,
                reason: "the mask has host-only bits (ND fields), which no NIC table holds".into(),
            });
        }
        if s.mask == Some(*mask) {
            return Ok(0);
        }
        if s.count > 0 {
            return Err(NicError::BadMask {
                slot,
                reason: format!(
                    "still holds {} entries under another mask; clear the slot first",
                    s.count
                ),
            });
        }
        let before = self.writes;
        self.stage(mask, None)?;
        self.command(Op::MaskSet, slot, 0, 0)?;
        self.mf[slot as usize].mask = Some(*mask);
        Ok((self.writes - before) as u32)
    }

    /// The mask of `slot`, if set.
    pub fn mask(&self, slot: u8) -> Option<FlowKey> {
        self.mf.get(slot as usize).and_then(|s| s.mask)
    }

    /// Invalidates every entry of `slot`, then disables it. Returns the
    /// number of entries removed.
    pub fn clear_mask(&mut self, slot: u8) -> Result<usize, NicError> {
        self.slot_ref(slot)?;
        let resident: Vec<u32> = self.mf[slot as usize]
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.is_some())
            .map(|(i, _)| i as u32)
            .collect();
        for &i in &resident {
            self.command(Op::MfInvalidate, slot, i, 0)?;
            let s = &mut self.mf[slot as usize];
            s.entries[i as usize] = None;
            s.count -= 1;
        }
        self.command(Op::MaskClear, slot, 0, 0)?;
        self.mf[slot as usize].mask = None;
        Ok(resident.len())
    }

    // ---- Edit table ----------------------------------------------------------

    /// Writes edit-table entry `index` (staging key words `0..EDIT_WORDS`,
    /// then `EditWrite`). An action word that names the entry must be
    /// installed after it: the entry is the action's, not the key's.
    pub fn write_edit(&mut self, index: u16, edit: &EditEntry) -> Result<(), NicError> {
        if !self.cap.action_eth {
            return Err(NicError::NoEditTable {
                device: self.name(),
            });
        }
        // The entry's words go through the staging key's first words.
        let mut words = [0u64; HW_KEY_WORDS];
        words[..EDIT_WORDS].copy_from_slice(&edit.encode());
        let mut care = [0u64; HW_KEY_WORDS];
        care[..EDIT_WORDS].fill(u64::MAX);
        self.stage(
            &FlowKey::from_hw_words(&words),
            Some(&FlowKey::from_hw_words(&care)),
        )?;
        self.command(Op::EditWrite, 0, index as u32, 0)
    }

    // ---- EMC ---------------------------------------------------------------

    /// Installs (or updates) an exact-match entry whose frames the NIC
    /// handles as `action` says.
    pub fn install_emc(
        &mut self,
        key: &FlowKey,
        flow_id: u32,
        action: &ActionEntry,
        policy: EmcPolicy,
    ) -> Result<Install, NicError> {
        self.check_flow_id(flow_id)?;
        if key.has_host_only_bits() || key.is_nd() {
            return Err(NicError::InvalidArgument(format!(
                "EMC key {key:?} is neighbour discovery's: its host-only words (ND fields) are in no NIC table"
            )));
        }
        let hash = hash_key(key);
        let cands = emc_candidates(hash, self.cap.geometry.emc_log2_entries);
        let present = cands
            .into_iter()
            .find(|&i| self.emc[i as usize].is_some_and(|e| e.key == *key));
        let index = match (present, policy) {
            (Some(i), _) => i,
            (None, EmcPolicy::Way(w)) => *cands.get(w as usize).ok_or_else(|| {
                NicError::InvalidArgument(format!(
                    "EMC way {w}: there are only {} candidates",
                    cands.len()
                ))
            })?,
            (None, EmcPolicy::Ovs) => {
                // OVS emc_insert: an empty entry, else the smaller stored hash.
                let mut victim = cands[0];
                for &c in &cands[1..] {
                    let (v, e) = (&self.emc[victim as usize], &self.emc[c as usize]);
                    match (v, e) {
                        (None, _) => {}
                        (Some(_), None) => victim = c,
                        (Some(a), Some(b)) if b.hash < a.hash => victim = c,
                        _ => {}
                    }
                }
                victim
            }
        };
        let before = self.writes;
        let evicted = self.emc[index as usize]
            .filter(|e| e.key != *key)
            .map(|e| (e.key, e.flow_id));
        self.stage(key, None)?;
        self.stage_action(action)?;
        self.command(Op::EmcWrite, 0, index, flow_id)?;
        self.emc[index as usize] = Some(shadow::EmcEntry {
            key: *key,
            hash,
            flow_id,
            action: *action,
        });
        Ok(Install {
            index,
            writes: (self.writes - before) as u32,
            moves: 0,
            evicted,
            replaced_same_key: present.is_some(),
        })
    }

    fn emc_index(&self, key: &FlowKey) -> Option<u32> {
        emc_candidates(hash_key(key), self.cap.geometry.emc_log2_entries)
            .into_iter()
            .find(|&i| self.emc[i as usize].is_some_and(|e| e.key == *key))
    }

    /// Removes an exact-match entry; returns its index.
    pub fn remove_emc(&mut self, key: &FlowKey) -> Result<u32, NicError> {
        let i = self
            .emc_index(key)
            .ok_or_else(|| NicError::NoSuchEntry(format!("EMC key {key:?}")))?;
        self.command(Op::EmcInvalidate, 0, i, 0)?;
        self.emc[i as usize] = None;
        Ok(i)
    }

    /// Flow id and index of the EMC entry for `key` (shadow lookup).
    pub fn emc_lookup(&self, key: &FlowKey) -> Option<(u32, u32)> {
        self.emc_index(key)
            .and_then(|i| self.emc[i as usize].map(|e| (i, e.flow_id)))
    }

    /// Resident EMC entries.
    pub fn emc_len(&self) -> usize {
        self.emc.iter().filter(|e| e.is_some()).count()
    }

    /// Hit statistics of the EMC entry for `key`.
    pub fn emc_stats(&mut self, key: &FlowKey) -> Result<EntryStats, NicError> {
        let i = self
            .emc_index(key)
            .ok_or_else(|| NicError::NoSuchEntry(format!("EMC key {key:?}")))?;
        self.entry_stats(StatsSel {
            megaflow: false,
            slot: 0,
            index: i,
        })
    }

    // ---- megaflows ---------------------------------------------------------

    fn masked_and_hash(
        &self,
        slot: u8,
        key: &FlowKey,
    ) -> Result<(FlowKey, FlowKey, u32), NicError> {
        let s = self.slot_ref(slot)?;
        let mask = s.mask.ok_or_else(|| NicError::BadMask {
            slot,
            reason: "no mask set".into(),
        })?;
        Ok((key.masked(&mask), mask, hash_masked(key, &mask)))
    }

    /// Writes a shadow megaflow entry at `index` of `slot`.
    fn write_mf(
        &mut self,
        slot: u8,
        index: u32,
        e: shadow::MfEntry,
        mask: &FlowKey,
    ) -> Result<(), NicError> {
        self.stage(&e.masked, Some(mask))?;
        self.stage_action(&e.action)?;
        self.command(Op::MfWrite, slot, index, e.flow_id)?;
        let s = &mut self.mf[slot as usize];
        if s.entries[index as usize].is_none() {
            s.count += 1;
        }
        s.entries[index as usize] = Some(e);
        Ok(())
    }

    /// Installs (or updates the flow id and action of) megaflow
    /// `key & mask[slot]`, whose frames the NIC handles as `action` says.
    ///
    /// Cuckoo placement: a free way in either candidate bucket, else the
    /// shortest chain of resident moves (≤ [`MAX_CUCKOO_PATH`]) found by
    /// breadth-first search. Moves run deepest first and each writes its
    /// destination before the next overwrites its source, so every resident
    /// entry stays findable throughout.
    pub fn install_megaflow(
        &mut self,
        slot: u8,
        key: &FlowKey,
        flow_id: u32,
        action: &ActionEntry,
    ) -> Result<Install, NicError> {
        self.check_flow_id(flow_id)?;
        let (masked, mask, hash) = self.masked_and_hash(slot, key)?;
        let g = self.cap.geometry;
        let before = self.writes;
        let s = &self.mf[slot as usize];
        if let Some((i, mut e)) = s
            .find(&g, &masked, hash)
            .and_then(|i| s.entries[i as usize].map(|e| (i, e)))
        {
            // A rewrite restarts the hardware counter: carry it.
            self.carry_hw(slot, i, &mut e)?;
            e.flow_id = flow_id;
            e.action = *action;
            self.write_mf(slot, i, e, &mask)?;
            return Ok(Install {
                index: i,
                writes: (self.writes - before) as u32,
                moves: 0,
                evicted: None,
                replaced_same_key: true,
            });
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        if !s.place(&g, hash, MAX_CUCKOO_PATH, &mut scratch) {
            self.scratch = scratch;
            return Err(NicError::TableFull {
                slot,
                entries: self.mf[slot as usize].count,
            });
        }
        let new = shadow::MfEntry {
            masked,
            hash,
            flow_id,
            action: *action,
            hits_carry: 0,
            bytes_carry: 0,
        };
        let result = self.run_placement(slot, &scratch.placement, &mask, new);
        let (target, moves) = (scratch.placement.target, scratch.placement.moves.len());
        self.scratch = scratch;
        result?;
        Ok(Install {
            index: target,
            writes: (self.writes - before) as u32,
            moves: moves as u32,
            evicted: None,
            replaced_same_key: false,
        })
    }

    /// Executes the moves of `p` deepest first, then writes the new entry.
    fn run_placement(
        &mut self,
        slot: u8,
        p: &shadow::Placement,
        mask: &FlowKey,
        new: shadow::MfEntry,
    ) -> Result<(), NicError> {
        for &(from, to) in &p.moves {
            let Some(mut e) = self.mf[slot as usize].entries[from as usize] else {
                continue;
            };
            self.carry_hw(slot, from, &mut e)?;
            self.write_mf(slot, to, e, mask)?;
        }
        self.write_mf(slot, p.target, new, mask)
    }

    /// Adds the hardware counters at `index` to `e`'s carries (before the
    /// position is rewritten, which restarts them).
    fn carry_hw(&mut self, slot: u8, index: u32, e: &mut shadow::MfEntry) -> Result<(), NicError> {
        let st = self.entry_stats(StatsSel {
            megaflow: true,
            slot,
            index,
        })?;
        e.hits_carry += st.hits;
        e.bytes_carry = e.bytes_carry.wrapping_add(st.bytes) & stats_bytes_mask();
        Ok(())
    }

    /// Removes megaflow `key & mask[slot]`; returns its index.
    pub fn remove_megaflow(&mut self, slot: u8, key: &FlowKey) -> Result<u32, NicError> {
        let (masked, _, hash) = self.masked_and_hash(slot, key)?;
        let g = self.cap.geometry;
        let i = self.mf[slot as usize]
            .find(&g, &masked, hash)
            .ok_or_else(|| NicError::NoSuchEntry(format!("megaflow {masked:?} in slot {slot}")))?;
        self.command(Op::MfInvalidate, slot, i, 0)?;
        let s = &mut self.mf[slot as usize];
        s.entries[i as usize] = None;
        s.count -= 1;
        Ok(i)
    }

    /// The resident megaflow `key & mask[slot]` (shadow lookup).
    pub fn megaflow_lookup(&self, slot: u8, key: &FlowKey) -> Option<MfEntry> {
        let (masked, _, hash) = self.masked_and_hash(slot, key).ok()?;
        let i = self.mf[slot as usize].find(&self.cap.geometry, &masked, hash)?;
        self.mf[slot as usize].entries[i as usize].map(|e| MfEntry {
            slot,
            index: i,
            masked_key: e.masked,
            flow_id: e.flow_id,
            action: e.action,
        })
    }

    /// Resident megaflows of `slot`.
    pub fn megaflows(&self, slot: u8) -> impl Iterator<Item = MfEntry> + '_ {
        self.mf.get(slot as usize).into_iter().flat_map(move |s| {
            s.entries.iter().enumerate().filter_map(move |(i, e)| {
                e.map(|e| MfEntry {
                    slot,
                    index: i as u32,
                    masked_key: e.masked,
                    flow_id: e.flow_id,
                    action: e.action,
                })
            })
        })
    }

    /// Resident megaflows in `slot`.
    pub fn megaflow_len(&self, slot: u8) -> usize {
        self.mf.get(slot as usize).map_or(0, |s| s.count)
    }

    /// Hit statistics of megaflow `key & mask[slot]`, including hits counted
    /// at positions it was moved from.
    pub fn megaflow_stats(&mut self, slot: u8, key: &FlowKey) -> Result<EntryStats, NicError> {
        let e = self
            .megaflow_lookup(slot, key)
            .ok_or_else(|| NicError::NoSuchEntry(format!("megaflow {key:?} in slot {slot}")))?;
        let (carry, bytes_carry) = self.mf[slot as usize].entries[e.index as usize]
            .map_or((0, 0), |s| (s.hits_carry, s.bytes_carry));
        let mut st = self.entry_stats(StatsSel {
            megaflow: true,
            slot,
            index: e.index,
        })?;
        st.hits += carry;
        st.bytes = st.bytes.wrapping_add(bytes_carry) & stats_bytes_mask();
        Ok(st)
    }

    // ---- statistics, miss queue, control ------------------------------------

    /// Raw hardware statistics of one entry position.
    pub fn entry_stats(&mut self, sel: StatsSel) -> Result<EntryStats, NicError> {
        self.write(REG_STATS_SEL, sel.encode()?)?;
        Ok(EntryStats {
            hits: self.read(REG_STATS_HITS)?,
            used: self.read(REG_STATS_USED)?,
            bytes: self.read(REG_STATS_BYTES)? & stats_bytes_mask(),
        })
    }

    /// Global counters.
    pub fn counters(&mut self) -> Result<GlobalCounters, NicError> {
        Ok(GlobalCounters {
            lookups: self.read(REG_CNT_LOOKUPS)?,
            emc_hits: self.read(REG_CNT_EMC_HITS)?,
            mf_hits: self.read(REG_CNT_MF_HITS)?,
            misses: self.read(REG_CNT_MISSES)?,
            miss_drops: self.read(REG_CNT_MISS_DROPS)?,
            commands: self.read(REG_CNT_COMMANDS)?,
        })
    }

    /// Moves up to `out.len()` misses from the device queue into `out`;
    /// returns how many. One read of the level per burst, then per entry
    /// the metadata, the key words and a pop.
    pub fn drain_misses(&mut self, out: &mut [Miss]) -> Result<usize, NicError> {
        let level = self.read(REG_MISSQ_LEVEL)?;
        let depth = 1u64 << self.cap.geometry.missq_log2_depth;
        if level > depth {
            return Err(NicError::BadRegister {
                device: self.name(),
                register: "MISSQ_LEVEL",
                value: level,
                why: format!("more than the queue depth {depth}"),
            });
        }
        let n = (level as usize).min(out.len());
        for m in out.iter_mut().take(n) {
            let meta = [self.read(REG_MISSQ_META)?];
            let mut key = FlowKey::ZERO;
            for (i, w) in key.words[..HW_KEY_WORDS].iter_mut().enumerate() {
                *w = self.read(REG_MISSQ_KEY.word(i))?;
            }
            self.write(REG_MISSQ_POP, 1)?;
            *m = Miss {
                key,
                hash: MISS_HASH.get(&meta) as u32,
                tag: MISS_TAG.get(&meta) as u32,
            };
        }
        Ok(n)
    }

    fn ctrl_enabled(&mut self) -> Result<bool, NicError> {
        Ok(CTRL_ENABLE.get(&[self.read(REG_CTRL)?]) != 0)
    }

    fn write_ctrl(
        &mut self,
        enable: bool,
        clear_counters: bool,
        clear_tables: bool,
    ) -> Result<(), NicError> {
        let mut w = [0u64];
        CTRL_ENABLE.set(&mut w, enable as u64);
        CTRL_CLEAR_COUNTERS.set(&mut w, clear_counters as u64);
        CTRL_CLEAR_TABLES.set(&mut w, clear_tables as u64);
        self.write(REG_CTRL, w[0])
    }

    /// Starts or stops accepting lookups.
    pub fn set_enabled(&mut self, enable: bool) -> Result<(), NicError> {
        self.write_ctrl(enable, false, false)
    }

    /// Invalidates every entry and mask (waiting, bounded, for the clear to
    /// finish) and clears the global counters.
    pub fn reset(&mut self) -> Result<(), NicError> {
        let enable = self.ctrl_enabled()?;
        self.write_ctrl(enable, false, true)?;
        // Forget the shadow now: whatever happens next, the device's tables
        // are being cleared.
        let g = self.cap.geometry;
        self.emc.iter_mut().for_each(|e| *e = None);
        self.mf = (0..g.mf_slots).map(|_| MfSlot::new(&g)).collect();
        let mut polls = 0;
        loop {
            let status = [self.read(REG_STATUS)?];
            polls += 1;
            if STATUS_BUSY.get(&status) == 0 {
                break;
            }
            if polls >= self.poll_limit {
                return Err(NicError::Timeout {
                    device: self.name(),
                    what: "STATUS_BUSY to clear after CTRL_CLEAR_TABLES",
                    polls,
                });
            }
            std::hint::spin_loop();
        }
        self.clear_counters()
    }

    /// Clears the global counters.
    pub fn clear_counters(&mut self) -> Result<(), NicError> {
        let enable = self.ctrl_enabled()?;
        self.write_ctrl(enable, true, false)
    }
}
