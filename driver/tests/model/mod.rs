//! A register-level software model of the fastpath pipeline, written from
//! abi's register semantics (not from the driver): staging key, command
//! register, per-entry and global counters, the miss queue, table clear with
//! a busy period, around abi's reference tables and lookup
//! ([`abi::reference::RefTables`]). Used to test the Nic API, with fault
//! injection knobs.
#![allow(dead_code)]

use abi::reference::RefTables;
use abi::regs::*;
use abi::{hash_key, FlowKey, Geometry, HW_KEY_WORDS};
use driver::{check_access, Device, DeviceError};
use std::collections::{HashMap, VecDeque};

/// Per-entry statistics: hits since the entry was written, last-used time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EntryStats {
    pub hits: u64,
    pub used: u64,
    /// Modulo 2^STATS_BYTES_BITS, as the hardware counts.
    pub bytes: u64,
}

#[derive(Clone, Debug)]
pub struct Model {
    pub cap: Capability,
    pub bar_len: u64,
    // Registers.
    scratch: u64,
    enable: bool,
    cmd_error: bool,
    time: u64,
    pub lookups: u64,
    pub emc_hits: u64,
    pub mf_hits: u64,
    pub misses: u64,
    pub miss_drops: u64,
    pub commands: u64,
    staging: [u64; HW_KEY_WORDS],
    stage_action: u64,
    stats_sel: u64,
    // Tables.
    pub tables: RefTables,
    emc_stats: Vec<EntryStats>,
    mf_stats: Vec<Vec<EntryStats>>,
    /// Action RAM: the staged action word written with each entry, 0 when
    /// the entry is invalidated or cleared.
    emc_actions: Vec<u64>,
    mf_actions: Vec<Vec<u64>>,
    pub missq: VecDeque<(FlowKey, u32, u32)>,
    busy_left: u32,
    // Knobs and observations.
    /// Status reads a table clear stays busy for.
    pub clear_busy_reads: u32,
    /// The clear never finishes.
    pub stuck_busy: bool,
    /// Scratch reads back inverted bits.
    pub broken_scratch: bool,
    /// Overrides the ID register.
    pub id_override: Option<u64>,
    /// Where each block sits, indexed like `LAYOUT` (default: the declared
    /// bases); the chain links them in `LAYOUT` order. Tests move blocks to
    /// prove the driver uses the bases it discovers.
    pub bases: [u64; LAYOUT.len()],
    /// Window words that read as given (e.g. a corrupt block header).
    pub overrides: HashMap<u64, u64>,
    /// The next command sets CMD_ERROR without executing.
    pub reject_next_cmd: bool,
    /// Register writes seen.
    pub writes: u64,
    /// Keys (with flow ids) that must hit at every command boundary.
    pub watch: Vec<(FlowKey, u32)>,
    /// When set, a watched key must also find `watch_action(flow)` in the
    /// action RAM at its hit position.
    pub watch_action: Option<fn(u32) -> u64>,
    /// Commands after which a watched key missed.
    pub watch_violations: Vec<String>,
}

impl Model {
    pub fn new(g: Geometry) -> Self {
        let cap = Capability::new(g, 9, 0);
        Model {
            cap,
            bar_len: REG_WINDOW_BYTES,
            scratch: 0,
            enable: true,
            cmd_error: false,
            time: 0,
            lookups: 0,
            emc_hits: 0,
            mf_hits: 0,
            misses: 0,
            miss_drops: 0,
            commands: 0,
            staging: [0; HW_KEY_WORDS],
            stage_action: 0,
            stats_sel: 0,
            tables: RefTables::new(g),
            emc_stats: vec![EntryStats::default(); g.emc_entries() as usize],
            mf_stats: vec![
                vec![EntryStats::default(); g.mf_entries_per_slot() as usize];
                g.mf_slots as usize
            ],
            emc_actions: vec![0; g.emc_entries() as usize],
            mf_actions: vec![vec![0; g.mf_entries_per_slot() as usize]; g.mf_slots as usize],
            missq: VecDeque::new(),
            busy_left: 0,
            clear_busy_reads: 3,
            stuck_busy: false,
            broken_scratch: false,
            id_override: None,
            bases: LAYOUT.map(|d| d.base),
            overrides: HashMap::new(),
            reject_next_cmd: false,
            writes: 0,
            watch: Vec::new(),
            watch_action: None,
            watch_violations: Vec::new(),
        }
    }

    fn g(&self) -> Geometry {
        self.cap.geometry
    }

    fn busy(&self) -> bool {
        self.stuck_busy || self.busy_left > 0
    }

    /// Lookup without side effects: (kind, slot, index, flow id).
    pub fn peek(&self, key: &FlowKey) -> LookupResult {
        self.tables.lookup(key)
    }

    /// The action-RAM word at the position a lookup hit (`None`: a miss).
    pub fn action_at(&self, r: &LookupResult) -> Option<u64> {
        match r.kind {
            HitKind::Emc => Some(self.emc_actions[r.index as usize]),
            HitKind::Megaflow => Some(self.mf_actions[r.slot as usize][r.index as usize]),
            HitKind::Miss => None,
        }
    }

    /// A packet lookup through the pipeline: counts, updates entry
    /// statistics, queues misses. `None` when lookups are disabled.
    pub fn lookup(&mut self, key: &FlowKey, tag: u32) -> Option<LookupResult> {
        self.lookup_frame(key, tag, 0)
    }

    /// [`Model::lookup`] of a frame of `len` bytes (the byte counters add it).
    pub fn lookup_frame(&mut self, key: &FlowKey, tag: u32, len: u16) -> Option<LookupResult> {
        if !self.enable {
            return None;
        }
        self.time += 1;
        self.lookups += 1;
        let r = self.peek(key);
        let now = self.time;
        match r.kind {
            HitKind::Emc => {
                self.emc_hits += 1;
                let e = &mut self.emc_stats[r.index as usize];
                e.hits += 1;
                e.bytes = (e.bytes + len as u64) & ((1 << STATS_BYTES_BITS) - 1);
                e.used = now;
            }
            HitKind::Megaflow => {
                self.mf_hits += 1;
                let e = &mut self.mf_stats[r.slot as usize][r.index as usize];
                e.hits += 1;
                e.bytes = (e.bytes + len as u64) & ((1 << STATS_BYTES_BITS) - 1);
                e.used = now;
            }
            HitKind::Miss => {
                self.misses += 1;
                if self.missq.len() < 1 << self.g().missq_log2_depth {
                    self.missq.push_back((*key, hash_key(key), tag));
                } else {
                    self.miss_drops += 1;
                }
            }
        }
        Some(r)
    }

    fn exec(&mut self, word: u64) {
        if self.busy() {
            return; // ignored while a clear runs
        }
        if std::mem::take(&mut self.reject_next_cmd) {
            self.cmd_error = true;
            return;
        }
        let Ok(c) = Command::decode(word) else {
            self.cmd_error = true;
            return;
        };
        let staged = FlowKey::from_hw_words(&self.staging);
        let ok = self.tables.execute(&c, &staged).is_ok();
        if ok {
            // A write or invalidation restarts the entry's statistics.
            let fresh = EntryStats {
                hits: 0,
                used: self.time,
                bytes: 0,
            };
            let (i, s) = (c.index as usize, c.slot as usize);
            match c.op {
                Op::EmcWrite => {
                    (self.emc_stats[i], self.emc_actions[i]) = (fresh, self.stage_action)
                }
                Op::EmcInvalidate => (self.emc_stats[i], self.emc_actions[i]) = (fresh, 0),
                Op::MfWrite => {
                    (self.mf_stats[s][i], self.mf_actions[s][i]) = (fresh, self.stage_action)
                }
                Op::MfInvalidate => (self.mf_stats[s][i], self.mf_actions[s][i]) = (fresh, 0),
                _ => {}
            }
        }
        self.cmd_error = !ok;
        if ok {
            self.commands += 1;
        }
        let watch = std::mem::take(&mut self.watch);
        for (k, flow) in &watch {
            let r = self.peek(k);
            if r.kind == HitKind::Miss || r.flow_id != *flow {
                self.watch_violations.push(format!(
                    "after {c:?}: watched key {k:?} -> {r:?}, want flow {flow}"
                ));
            } else if let Some(want) = self.watch_action.map(|f| f(*flow)) {
                let got = self.action_at(&r);
                if got != Some(want) {
                    self.watch_violations.push(format!(
                        "after {c:?}: watched key {k:?} -> {r:?} has action {got:x?}, want {want:#x}"
                    ));
                }
            }
        }
        self.watch = watch;
    }

    fn selected(&self) -> Option<&EntryStats> {
        let w = [self.stats_sel];
        let (table, slot, index) = (
            STATS_TABLE.get(&w),
            STATS_SLOT.get(&w) as u8,
            STATS_INDEX.get(&w) as u32,
        );
        match table {
            0 => self.tables.emc_entry(index)?,
            1 => self.tables.mf_entry(slot, index)?,
            _ => return None,
        };
        match table {
            0 => self.emc_stats.get(index as usize),
            _ => self.mf_stats.get(slot as usize)?.get(index as usize),
        }
    }

    /// The register at window offset `off` under [`Model::bases`].
    pub fn reg_at(&self, off: u64) -> Option<Reg> {
        LAYOUT
            .iter()
            .zip(self.bases)
            .find(|(d, b)| (*b..*b + d.size).contains(&off))
            .map(|(d, b)| Reg::new(d.ty, off - b))
    }

    /// Window offset of `r` under [`Model::bases`].
    pub fn addr(&self, r: Reg) -> u64 {
        self.bases[r.block as usize - 1] + r.off
    }

    fn header(&self, ty: BlockType) -> u64 {
        let chain = self.cap.chain();
        let Some(p) = chain.iter().position(|d| d.ty == ty) else {
            return 0;
        };
        let next = chain
            .get(p + 1)
            .map_or(0, |n| self.bases[n.ty as usize - 1]);
        header_word(&chain[p], next)
    }

    pub fn reg_read(&mut self, off: u64) -> u64 {
        self.time += 1;
        if let Some(v) = self.overrides.get(&off) {
            return *v;
        }
        let Some(r) = self.reg_at(off) else {
            return 0;
        };
        if !self.cap.chain().iter().any(|d| d.ty == r.block) {
            return 0;
        }
        if r.off == 0 {
            return self.header(r.block);
        }
        if let Some(v) = self.id_override.filter(|_| r == REG_ID) {
            return v;
        }
        if let Some((_, v)) = self.cap.encode().iter().find(|(c, _)| *c == r) {
            return *v;
        }
        let key_word = |base: Reg| {
            (r.block == base.block
                && r.off >= base.off
                && r.off < base.off + 8 * HW_KEY_WORDS as u64)
                .then(|| ((r.off - base.off) / 8) as usize)
        };
        if let Some(i) = key_word(REG_STAGE_KEY) {
            return self.staging[i];
        }
        if let Some(i) = key_word(REG_MISSQ_KEY) {
            return self.missq.front().map_or(0, |m| m.0.words[i]);
        }
        match r {
            REG_SCRATCH => {
                if self.broken_scratch {
                    !self.scratch
                } else {
                    self.scratch
                }
            }
            REG_CTRL => self.enable as u64,
            REG_STATUS => {
                let mut w = [0u64];
                STATUS_BUSY.set(&mut w, self.busy() as u64);
                STATUS_CMD_ERROR.set(&mut w, self.cmd_error as u64);
                if self.busy_left > 0 {
                    self.busy_left -= 1;
                }
                w[0]
            }
            REG_TIME => self.time,
            REG_CNT_LOOKUPS => self.lookups,
            REG_CNT_EMC_HITS => self.emc_hits,
            REG_CNT_MF_HITS => self.mf_hits,
            REG_CNT_MISSES => self.misses,
            REG_CNT_MISS_DROPS => self.miss_drops,
            REG_CNT_COMMANDS => self.commands,
            REG_STATS_SEL => self.stats_sel,
            REG_STAGE_ACTION => self.stage_action,
            REG_STATS_HITS => self.selected().map_or(0, |e| e.hits),
            REG_STATS_USED => self.selected().map_or(0, |e| e.used),
            REG_STATS_BYTES => self.selected().map_or(0, |e| e.bytes),
            REG_MISSQ_LEVEL => self.missq.len() as u64,
            REG_MISSQ_META => self.missq.front().map_or(0, |m| {
                let mut w = [0u64];
                MISS_HASH.set(&mut w, m.1 as u64);
                MISS_TAG.set(&mut w, m.2 as u64);
                w[0]
            }),
            _ => 0,
        }
    }

    pub fn reg_write(&mut self, off: u64, v: u64) {
        self.time += 1;
        self.writes += 1;
        let Some(r) = self.reg_at(off) else {
            return;
        };
        if r.block == REG_STAGE_KEY.block
            && r.off >= REG_STAGE_KEY.off
            && r.off < REG_STAGE_KEY.off + 8 * HW_KEY_WORDS as u64
        {
            self.staging[((r.off - REG_STAGE_KEY.off) / 8) as usize] = v;
            return;
        }
        match r {
            REG_SCRATCH => self.scratch = v,
            REG_CTRL => {
                let w = [v];
                self.enable = CTRL_ENABLE.get(&w) != 0;
                if CTRL_CLEAR_COUNTERS.get(&w) != 0 {
                    self.lookups = 0;
                    self.emc_hits = 0;
                    self.mf_hits = 0;
                    self.misses = 0;
                    self.miss_drops = 0;
                    self.commands = 0;
                }
                if CTRL_CLEAR_TABLES.get(&w) != 0 {
                    self.tables.clear();
                    self.emc_actions.iter_mut().for_each(|a| *a = 0);
                    self.mf_actions.iter_mut().flatten().for_each(|a| *a = 0);
                    self.busy_left = self.clear_busy_reads;
                }
            }
            REG_CMD => self.exec(v),
            REG_STATS_SEL => self.stats_sel = v,
            REG_STAGE_ACTION => self.stage_action = v,
            REG_MISSQ_POP => {
                self.missq.pop_front();
            }
            _ => {}
        }
    }
}

impl Device for Model {
    fn name(&self) -> &str {
        "model"
    }

    fn bar_len(&self, bar: u8) -> Result<u64, DeviceError> {
        if bar == 0 {
            Ok(self.bar_len)
        } else {
            Err(DeviceError::NoSuchBar {
                device: "model".into(),
                bar,
                present: "0".into(),
            })
        }
    }

    fn read32(&mut self, bar: u8, offset: u64) -> Result<u32, DeviceError> {
        self.bar_len(bar)?;
        check_access("model", bar, self.bar_len, offset, 4)?;
        let v = self.reg_read(offset & !7);
        Ok(if offset & 4 == 0 {
            v as u32
        } else {
            (v >> 32) as u32
        })
    }

    fn write32(&mut self, bar: u8, offset: u64, _value: u32) -> Result<(), DeviceError> {
        self.bar_len(bar)?;
        check_access("model", bar, self.bar_len, offset, 4)?;
        Err(DeviceError::Backend {
            device: "model".into(),
            message: "the register file takes 64-bit writes only".into(),
        })
    }

    fn read64(&mut self, bar: u8, offset: u64) -> Result<u64, DeviceError> {
        self.bar_len(bar)?;
        check_access("model", bar, self.bar_len, offset, 8)?;
        Ok(self.reg_read(offset))
    }

    fn write64(&mut self, bar: u8, offset: u64, value: u64) -> Result<(), DeviceError> {
        self.bar_len(bar)?;
        check_access("model", bar, self.bar_len, offset, 8)?;
        self.reg_write(offset, value);
        Ok(())
    }
}

/// A small geometry that fills up quickly.
pub fn tiny() -> Geometry {
    Geometry {
        emc_log2_entries: 4,
        mf_slots: 3,
        mf_log2_buckets: 3,
        mf_bucket_slots: 2,
        missq_log2_depth: 3,
    }
}

/// A key from a seed, spread over every word.
pub fn key(seed: u64) -> FlowKey {
    let mut w = [0u64; HW_KEY_WORDS];
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x1234_5678;
    for v in w.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *v = x;
    }
    FlowKey::from_hw_words(&w)
}

/// The model behind a 32-bit bus with the semantics of `abi::regs` for one
/// (the RTL's `fastpath_axil_regs32`): a low-half write is held and written
/// with the high half of the same register; the read of a low half latches
/// the high half for the read of offset + 4 that follows. 64-bit accesses
/// are refused, as a 32-bit master cannot make them.
pub struct Model32 {
    pub inner: Model,
    hold: Option<(u64, u32)>,
    latch: Option<(u64, u32)>,
    /// 32-bit accesses seen, in order: (write?, offset).
    pub log: Vec<(bool, u64)>,
}

impl Model32 {
    pub fn new(inner: Model) -> Self {
        Model32 {
            inner,
            hold: None,
            latch: None,
            log: Vec::new(),
        }
    }

    fn refuse(what: &str) -> DeviceError {
        DeviceError::Backend {
            device: "model32".into(),
            message: format!("{what} on a 32-bit bus"),
        }
    }
}

impl Device for Model32 {
    fn name(&self) -> &str {
        "model32"
    }

    fn bar_len(&self, bar: u8) -> Result<u64, DeviceError> {
        self.inner.bar_len(bar)
    }

    fn read32(&mut self, bar: u8, offset: u64) -> Result<u32, DeviceError> {
        self.bar_len(bar)?;
        check_access("model32", bar, self.inner.bar_len, offset, 4)?;
        self.log.push((false, offset));
        let word = offset & !7;
        if offset & 4 != 0 {
            if let Some((a, hi)) = self.latch.take() {
                if a == word {
                    return Ok(hi);
                }
            }
            return Ok((self.inner.reg_read(word) >> 32) as u32);
        }
        let v = self.inner.reg_read(word);
        self.latch = Some((word, (v >> 32) as u32));
        Ok(v as u32)
    }

    fn write32(&mut self, bar: u8, offset: u64, value: u32) -> Result<(), DeviceError> {
        self.bar_len(bar)?;
        check_access("model32", bar, self.inner.bar_len, offset, 4)?;
        self.log.push((true, offset));
        let word = offset & !7;
        if offset & 4 == 0 {
            self.hold = Some((word, value));
            return Ok(());
        }
        match self.hold.take() {
            Some((a, lo)) if a == word => {
                self.inner
                    .reg_write(word, u64::from(value) << 32 | u64::from(lo));
                Ok(())
            }
            // The hardware writes the high half alone (strobes 0xf0); the
            // model has no strobes, and the driver never does this.
            _ => Err(Self::refuse("high half written without its low half")),
        }
    }

    fn read64(&mut self, _bar: u8, _offset: u64) -> Result<u64, DeviceError> {
        Err(Self::refuse("64-bit read"))
    }

    fn write64(&mut self, _bar: u8, _offset: u64, _value: u64) -> Result<(), DeviceError> {
        Err(Self::refuse("64-bit write"))
    }
}
