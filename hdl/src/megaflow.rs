//! Megaflow stage, one mask slot: `key & mask` → hash → two cuckoo buckets of
//! k entries → compare with the stored masked keys.
//!
//! The top instantiates one per mask slot and searches all of them every
//! clock (tuple space search in parallel). The two candidate buckets are in
//! disjoint banks (`abi::geometry::cuckoo_buckets`: bank A holds buckets
//! `[0, half)`, bank B `[half, 2·half)`), and each way of a bank has its own
//! RAM (2 × k RAMs of half words), so all 2k entries are read in the same
//! clock, every entry is stored once, and a command writes one way of one
//! bank without a read-modify-write. Same timing as the EMC stage: per-word compares
//! registered in cycle 3, hit and priority in cycle 4, result at cycle 5.

use crate::bram::Bram;
use crate::entry::{Entry, FLOW_LSB, IDX_BITS, VALID_BIT};
use crate::hash_unit::HashUnit;
use abi::Geometry;
use rust_hdl::prelude::*;

/// Cycles from `key` to `hit`/`index`/`flow`.
pub const MF_LATENCY: usize = 5;

/// One megaflow mask slot.
#[derive(LogicBlock)]
pub struct MfSlot {
    /// Pipeline clock.
    pub clock: Signal<In, Clock>,
    /// Lookup key (cycle 0).
    pub key: Signal<In, Bits<512>>,
    /// The same key at cycle 3 (from the EMC stage; saves a copy per slot).
    pub key_d3: Signal<In, Bits<512>>,
    /// This slot's mask.
    pub mask: Signal<In, Bits<512>>,
    /// The slot is enabled (a mask is set).
    pub enabled: Signal<In, bool>,
    /// Entry write strobe for this slot.
    pub wr_en: Signal<In, bool>,
    /// Bucket to write.
    pub wr_bucket: Signal<In, Bits<IDX_BITS>>,
    /// Way within the bucket to write.
    pub wr_way: Signal<In, Bits<8>>,
    /// Write every way (table clear).
    pub wr_all: Signal<In, bool>,
    /// Entry word (key already masked by the command path).
    pub wr_data: Signal<In, Entry>,
    /// Cycle 5: hit in this slot.
    pub hit: Signal<Out, bool>,
    /// Cycle 5: entry index (`bucket << log2(k) | way`, as in abi commands).
    pub index: Signal<Out, Bits<IDX_BITS>>,
    /// Cycle 5: flow id.
    pub flow: Signal<Out, Bits<IDX_BITS>>,
    hasher: HashUnit,
    half_mask: Constant<Bits<32>>,
    half: Constant<Bits<32>>,
    rot: Constant<Bits<8>>,
    bank_bit: Constant<Bits<16>>,
    wr_local: Signal<Local, Bits<IDX_BITS>>,
    wr_bank_b: Signal<Local, bool>,
    valid_bit: Constant<Bits<16>>,
    flow_lsb: Constant<Bits<16>>,
    way_id: Vec<Constant<Bits<8>>>,
    way_off: Vec<Constant<Bits<IDX_BITS>>>,
    k_log2: Constant<Bits<8>>,
    ways_a: Vec<Bram<Entry>>,
    ways_b: Vec<Bram<Entry>>,
    bucket_a: Signal<Local, Bits<IDX_BITS>>,
    bucket_b: Signal<Local, Bits<IDX_BITS>>,
    base_a: Signal<Local, Bits<IDX_BITS>>,
    base_b: Signal<Local, Bits<IDX_BITS>>,
    base_a3: DFF<Bits<IDX_BITS>>,
    base_b3: DFF<Bits<IDX_BITS>>,
    masked3: Signal<Local, Bits<512>>,
    eqa: Vec<Signal<Local, Bits<8>>>,
    eqb: Vec<Signal<Local, Bits<8>>>,
    eqa4: Vec<DFF<Bits<8>>>,
    eqb4: Vec<DFF<Bits<8>>>,
    va4: Vec<DFF<bool>>,
    vb4: Vec<DFF<bool>>,
    fa4: Vec<DFF<Bits<IDX_BITS>>>,
    fb4: Vec<DFF<Bits<IDX_BITS>>>,
    base_a4: DFF<Bits<IDX_BITS>>,
    base_b4: DFF<Bits<IDX_BITS>>,
    en4: DFF<bool>,
    found: Signal<Local, bool>,
    idx: Signal<Local, Bits<IDX_BITS>>,
    fl: Signal<Local, Bits<IDX_BITS>>,
    hit_q: DFF<bool>,
    index_q: DFF<Bits<IDX_BITS>>,
    flow_q: DFF<Bits<IDX_BITS>>,
    _ways: usize,
}

impl MfSlot {
    /// A slot sized by `g`.
    pub fn new(g: &Geometry) -> Self {
        let k = g.mf_bucket_slots as usize;
        let half = g.mf_buckets() as usize / 2;
        MfSlot {
            clock: Default::default(),
            key: Default::default(),
            key_d3: Default::default(),
            mask: Default::default(),
            enabled: Default::default(),
            wr_en: Default::default(),
            wr_bucket: Default::default(),
            wr_way: Default::default(),
            wr_all: Default::default(),
            wr_data: Default::default(),
            hit: Default::default(),
            index: Default::default(),
            flow: Default::default(),
            hasher: HashUnit::default(),
            half_mask: Constant::new(((half - 1) as u64).into()),
            half: Constant::new((half as u64).into()),
            rot: Constant::new(16u64.into()),
            bank_bit: Constant::new(((g.mf_log2_buckets - 1) as u64).into()),
            wr_local: Default::default(),
            wr_bank_b: Default::default(),
            valid_bit: Constant::new((VALID_BIT as u64).into()),
            flow_lsb: Constant::new((FLOW_LSB as u64).into()),
            way_id: (0..k).map(|w| Constant::new((w as u64).into())).collect(),
            way_off: (0..k).map(|w| Constant::new((w as u64).into())).collect(),
            k_log2: Constant::new((g.mf_log2_bucket_slots() as u64).into()),
            ways_a: (0..k).map(|_| Bram::new_pow2(half)).collect(),
            ways_b: (0..k).map(|_| Bram::new_pow2(half)).collect(),
            bucket_a: Default::default(),
            bucket_b: Default::default(),
            base_a: Default::default(),
            base_b: Default::default(),
            base_a3: Default::default(),
            base_b3: Default::default(),
            masked3: Default::default(),
            eqa: (0..k).map(|_| Default::default()).collect(),
            eqb: (0..k).map(|_| Default::default()).collect(),
            eqa4: (0..k).map(|_| Default::default()).collect(),
            eqb4: (0..k).map(|_| Default::default()).collect(),
            va4: (0..k).map(|_| Default::default()).collect(),
            vb4: (0..k).map(|_| Default::default()).collect(),
            fa4: (0..k).map(|_| Default::default()).collect(),
            fb4: (0..k).map(|_| Default::default()).collect(),
            base_a4: Default::default(),
            base_b4: Default::default(),
            en4: Default::default(),
            found: Default::default(),
            idx: Default::default(),
            fl: Default::default(),
            hit_q: Default::default(),
            index_q: Default::default(),
            flow_q: Default::default(),
            _ways: k,
        }
    }
}

impl Logic for MfSlot {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, base_a3, base_b3, hit_q, index_q, flow_q, base_a4, base_b4, en4);
        self.hasher.clock.next = self.clock.val();
        self.hasher.key.next = self.key.val();
        self.hasher.mask.next = self.mask.val();
        // Cycle 2: abi::geometry::cuckoo_buckets (bank A: low bits; bank B:
        // low bits of the hash rotated by 16), as wire selections.
        self.bucket_a.next =
            bit_cast::<IDX_BITS, 32>(self.hasher.hash.val() & self.half_mask.val());
        self.bucket_b.next = bit_cast::<IDX_BITS, 32>(
            self.half.val()
                | (((self.hasher.hash.val() >> self.rot.val())
                    | (self.hasher.hash.val() << self.rot.val()))
                    & self.half_mask.val()),
        );
        // A write goes to the bank that owns its bucket.
        self.wr_bank_b.next = self.wr_bucket.val().get_bit(self.bank_bit.val().index());
        self.wr_local.next = self.wr_bucket.val() & bit_cast::<IDX_BITS, 32>(self.half_mask.val());
        // abi::Geometry::mf_index: bucket << log2(k) | way (k is a power of
        // two), so the index is wires, not an adder.
        self.base_a.next = self.bucket_a.val() << self.k_log2.val();
        self.base_b.next = self.bucket_b.val() << self.k_log2.val();
        self.base_a3.d.next = self.base_a.val();
        self.base_b3.d.next = self.base_b.val();
        for w in 0..self._ways {
            self.ways_a[w].clock.next = self.clock.val();
            self.ways_b[w].clock.next = self.clock.val();
            self.ways_a[w].raddr.next = self.bucket_a.val();
            self.ways_b[w].raddr.next =
                self.bucket_b.val() & bit_cast::<IDX_BITS, 32>(self.half_mask.val());
            self.ways_a[w].waddr.next = self.wr_local.val();
            self.ways_b[w].waddr.next = self.wr_local.val();
            self.ways_a[w].wdata.next = self.wr_data.val();
            self.ways_b[w].wdata.next = self.wr_data.val();
            self.ways_a[w].we.next = self.wr_en.val()
                & !self.wr_bank_b.val()
                & (self.wr_all.val() | (self.wr_way.val() == self.way_id[w].val()));
            self.ways_b[w].we.next = self.wr_en.val()
                & self.wr_bank_b.val()
                & (self.wr_all.val() | (self.wr_way.val() == self.way_id[w].val()));
        }
        // Cycle 3: per-word compare of all 2k entries with key & mask.
        self.masked3.next = self.key_d3.val() & self.mask.val();
        for w in 0..self._ways {
            self.eqa4[w].clock.next = self.clock.val();
            self.eqb4[w].clock.next = self.clock.val();
            self.va4[w].clock.next = self.clock.val();
            self.vb4[w].clock.next = self.clock.val();
            self.fa4[w].clock.next = self.clock.val();
            self.fb4[w].clock.next = self.clock.val();
            self.eqa[w].next = 0.into();
            self.eqb[w].next = 0.into();
            for i in 0..8 {
                self.eqa[w].next = self.eqa[w].val().replace_bit(
                    i,
                    self.ways_a[w].rdata.val().get_bits::<64>(i * 64)
                        == self.masked3.val().get_bits::<64>(i * 64),
                );
                self.eqb[w].next = self.eqb[w].val().replace_bit(
                    i,
                    self.ways_b[w].rdata.val().get_bits::<64>(i * 64)
                        == self.masked3.val().get_bits::<64>(i * 64),
                );
            }
            self.eqa4[w].d.next = self.eqa[w].val();
            self.eqb4[w].d.next = self.eqb[w].val();
            self.va4[w].d.next = self.ways_a[w]
                .rdata
                .val()
                .get_bit(self.valid_bit.val().index());
            self.vb4[w].d.next = self.ways_b[w]
                .rdata
                .val()
                .get_bit(self.valid_bit.val().index());
            self.fa4[w].d.next = self.ways_a[w]
                .rdata
                .val()
                .get_bits::<IDX_BITS>(self.flow_lsb.val().index());
            self.fb4[w].d.next = self.ways_b[w]
                .rdata
                .val()
                .get_bits::<IDX_BITS>(self.flow_lsb.val().index());
        }
        self.base_a4.d.next = self.base_a3.q.val();
        self.base_b4.d.next = self.base_b3.q.val();
        self.en4.d.next = self.enabled.val();
        // Cycle 4: the first matching entry wins (a masked key is stored at
        // most once per slot).
        self.found.next = false;
        self.idx.next = 0.into();
        self.fl.next = 0.into();
        for w in 0..self._ways {
            if !self.found.val() & self.va4[w].q.val() & self.eqa4[w].q.val().all() {
                self.found.next = true;
                self.idx.next = self.base_a4.q.val() | self.way_off[w].val();
                self.fl.next = self.fa4[w].q.val();
            }
        }
        for w in 0..self._ways {
            if !self.found.val() & self.vb4[w].q.val() & self.eqb4[w].q.val().all() {
                self.found.next = true;
                self.idx.next = self.base_b4.q.val() | self.way_off[w].val();
                self.fl.next = self.fb4[w].q.val();
            }
        }
        self.hit_q.d.next = self.found.val() & self.en4.q.val();
        self.index_q.d.next = self.idx.val();
        self.flow_q.d.next = self.fl.val();
        self.hit.next = self.hit_q.q.val();
        self.index.next = self.index_q.q.val();
        self.flow.next = self.flow_q.q.val();
    }
}
