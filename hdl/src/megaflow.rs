//! Megaflow stage, one mask slot: `key & mask` → hash → two cuckoo buckets of
//! k signature ways → one full-key compare per bank.
//!
//! The top instantiates one per mask slot and searches all of them every
//! clock (tuple space search in parallel). The two candidate buckets are in
//! disjoint banks (`abi::geometry::cuckoo_buckets`: bank A holds buckets
//! `[0, half)`, bank B `[half, 2·half)`), and every entry is stored once.
//! Per bank: k way RAMs of half words `{flow id, valid, signature}`
//! ([`crate::entry::Way`]; one per way, so a command writes one way without
//! a read-modify-write) and one key RAM of half·k masked keys (address
//! `bucket << log2(k) | way` within the bank).
//!
//! Timing (cycle 0 = `key`): hash at cycle 2, way RAMs read; cycle 3: per
//! bank, the first valid way whose signature equals the key's
//! (`abi::geometry::signatures`) gives the key RAM address; cycle 4:
//! per-word compare of that one stored key with `key & mask`, registered;
//! cycle 5: hit and bank priority (A first), registered: result at cycle 6.
//! A signature match of another key is a miss of that bank, never a hit;
//! the driver keeps a bucket's valid signatures distinct, so no key is
//! hidden behind another.
//!
//! Writes come `HASH_LATENCY` clocks after the command engine's, with the
//! hash of the written (masked) key on `wr_hash` (the top's command hash
//! unit). The way RAM is written first and the key RAM one clock later
//! (`kw_*`, delayed by the top): a lookup reads them one clock apart, so it
//! sees both old or both new.

use crate::bram::Bram;
use crate::entry::{
    Entry, Way, FLOW_LSB, IDX_BITS, VALID_BIT, WAY_BITS, WAY_FLOW_LSB, WAY_VALID_BIT,
};
use crate::hash_unit::HashUnit;
use abi::Geometry;
use rust_hdl::prelude::*;

/// Cycles from `key` to `hit`/`index`/`flow`.
pub const MF_LATENCY: usize = 6;

/// Cycle at which the slot compares against `key_d4` (the key delayed).
pub const MF_KEY_DELAY: usize = 4;

/// One megaflow mask slot.
#[derive(LogicBlock)]
pub struct MfSlot {
    /// Pipeline clock.
    pub clock: Signal<In, Clock>,
    /// Lookup key (cycle 0).
    pub key: Signal<In, Bits<512>>,
    /// The same key at cycle 4 (from the EMC stage; saves a copy per slot).
    pub key_d4: Signal<In, Bits<512>>,
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
    /// Write every way (table clear: way words only, the keys stay).
    pub wr_all: Signal<In, bool>,
    /// Entry word (key already masked by the command path).
    pub wr_data: Signal<In, Entry>,
    /// Hash of the entry's key (its signatures are stored).
    pub wr_hash: Signal<In, Bits<32>>,
    /// Key write, the clock after the way word (the `wr_*` write delayed
    /// by one clock; one register in the top for all slots): strobe.
    pub kw_en: Signal<In, bool>,
    /// Key write: bucket.
    pub kw_bucket: Signal<In, Bits<IDX_BITS>>,
    /// Key write: way.
    pub kw_way: Signal<In, Bits<8>>,
    /// Key write: the masked key.
    pub kw_key: Signal<In, Bits<512>>,
    /// Cycle 6: hit in this slot.
    pub hit: Signal<Out, bool>,
    /// Cycle 6: entry index (`bucket << log2(k) | way`, as in abi commands).
    pub index: Signal<Out, Bits<IDX_BITS>>,
    /// Cycle 6: flow id.
    pub flow: Signal<Out, Bits<IDX_BITS>>,
    hasher: HashUnit,
    half_mask: Constant<Bits<32>>,
    half: Constant<Bits<32>>,
    rot: Constant<Bits<8>>,
    lo16: Constant<Bits<32>>,
    bank_bit: Constant<Bits<16>>,
    valid_bit: Constant<Bits<16>>,
    flow_lsb: Constant<Bits<16>>,
    way_valid: Constant<Bits<16>>,
    way_flow: Constant<Bits<8>>,
    way_id: Vec<Constant<Bits<8>>>,
    way_off: Vec<Constant<Bits<IDX_BITS>>>,
    k_log2: Constant<Bits<8>>,
    ways_a: Vec<Bram<Way>>,
    ways_b: Vec<Bram<Way>>,
    keys_a: Bram<Bits<512>>,
    keys_b: Bram<Bits<512>>,
    wr_local: Signal<Local, Bits<IDX_BITS>>,
    wr_bank_b: Signal<Local, bool>,
    wr_sig: Signal<Local, Bits<32>>,
    wr_word: Signal<Local, Way>,
    kw_b: Signal<Local, bool>,
    kw_addr: Signal<Local, Bits<IDX_BITS>>,
    bucket_a: Signal<Local, Bits<IDX_BITS>>,
    bucket_b: Signal<Local, Bits<IDX_BITS>>,
    base_a3: DFF<Bits<IDX_BITS>>,
    base_b3: DFF<Bits<IDX_BITS>>,
    lbase_a3: DFF<Bits<IDX_BITS>>,
    lbase_b3: DFF<Bits<IDX_BITS>>,
    sig_a3: DFF<Bits<16>>,
    sig_b3: DFF<Bits<16>>,
    ma: Vec<Signal<Local, bool>>,
    mb: Vec<Signal<Local, bool>>,
    fa: Signal<Local, bool>,
    fb: Signal<Local, bool>,
    wa: Signal<Local, Bits<IDX_BITS>>,
    wb: Signal<Local, Bits<IDX_BITS>>,
    fla: Signal<Local, Bits<IDX_BITS>>,
    flb: Signal<Local, Bits<IDX_BITS>>,
    fa4: DFF<bool>,
    fb4: DFF<bool>,
    ia4: DFF<Bits<IDX_BITS>>,
    ib4: DFF<Bits<IDX_BITS>>,
    fla4: DFF<Bits<IDX_BITS>>,
    flb4: DFF<Bits<IDX_BITS>>,
    masked4: Signal<Local, Bits<512>>,
    eqa: Signal<Local, Bits<8>>,
    eqb: Signal<Local, Bits<8>>,
    eqa5: DFF<Bits<8>>,
    eqb5: DFF<Bits<8>>,
    fa5: DFF<bool>,
    fb5: DFF<bool>,
    ia5: DFF<Bits<IDX_BITS>>,
    ib5: DFF<Bits<IDX_BITS>>,
    fla5: DFF<Bits<IDX_BITS>>,
    flb5: DFF<Bits<IDX_BITS>>,
    en5: DFF<bool>,
    hit_a: Signal<Local, bool>,
    hit_b: Signal<Local, bool>,
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
            key_d4: Default::default(),
            mask: Default::default(),
            enabled: Default::default(),
            wr_en: Default::default(),
            wr_bucket: Default::default(),
            wr_way: Default::default(),
            wr_all: Default::default(),
            wr_data: Default::default(),
            wr_hash: Default::default(),
            hit: Default::default(),
            index: Default::default(),
            flow: Default::default(),
            hasher: HashUnit::default(),
            half_mask: Constant::new(((half - 1) as u64).into()),
            half: Constant::new((half as u64).into()),
            rot: Constant::new(16u64.into()),
            lo16: Constant::new(0xffffu64.into()),
            bank_bit: Constant::new(((g.mf_log2_buckets - 1) as u64).into()),
            valid_bit: Constant::new((VALID_BIT as u64).into()),
            flow_lsb: Constant::new((FLOW_LSB as u64).into()),
            way_valid: Constant::new((WAY_VALID_BIT as u64).into()),
            way_flow: Constant::new((WAY_FLOW_LSB as u64).into()),
            way_id: (0..k).map(|w| Constant::new((w as u64).into())).collect(),
            way_off: (0..k).map(|w| Constant::new((w as u64).into())).collect(),
            k_log2: Constant::new((g.mf_log2_bucket_slots() as u64).into()),
            ways_a: (0..k).map(|_| Bram::new_pow2(half)).collect(),
            ways_b: (0..k).map(|_| Bram::new_pow2(half)).collect(),
            keys_a: Bram::new_pow2(half * k),
            keys_b: Bram::new_pow2(half * k),
            wr_local: Default::default(),
            wr_bank_b: Default::default(),
            wr_sig: Default::default(),
            wr_word: Default::default(),
            kw_en: Default::default(),
            kw_bucket: Default::default(),
            kw_way: Default::default(),
            kw_key: Default::default(),
            kw_b: Default::default(),
            kw_addr: Default::default(),
            bucket_a: Default::default(),
            bucket_b: Default::default(),
            base_a3: Default::default(),
            base_b3: Default::default(),
            lbase_a3: Default::default(),
            lbase_b3: Default::default(),
            sig_a3: Default::default(),
            sig_b3: Default::default(),
            ma: (0..k).map(|_| Default::default()).collect(),
            mb: (0..k).map(|_| Default::default()).collect(),
            fa: Default::default(),
            fb: Default::default(),
            wa: Default::default(),
            wb: Default::default(),
            fla: Default::default(),
            flb: Default::default(),
            fa4: Default::default(),
            fb4: Default::default(),
            ia4: Default::default(),
            ib4: Default::default(),
            fla4: Default::default(),
            flb4: Default::default(),
            masked4: Default::default(),
            eqa: Default::default(),
            eqb: Default::default(),
            eqa5: Default::default(),
            eqb5: Default::default(),
            fa5: Default::default(),
            fb5: Default::default(),
            ia5: Default::default(),
            ib5: Default::default(),
            fla5: Default::default(),
            flb5: Default::default(),
            en5: Default::default(),
            hit_a: Default::default(),
            hit_b: Default::default(),
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
        dff_setup!(
            self, clock, base_a3, base_b3, lbase_a3, lbase_b3, sig_a3, sig_b3, fa4, fb4, ia4, ib4,
            fla4, flb4, eqa5, eqb5, fa5, fb5, ia5, ib5, fla5, flb5, en5, hit_q, index_q, flow_q
        );
        self.hasher.clock.next = self.clock.val();
        self.hasher.key.next = self.key.val();
        self.hasher.mask.next = self.mask.val();
        self.keys_a.clock.next = self.clock.val();
        self.keys_b.clock.next = self.clock.val();

        // Writes: the way word of the owning bank now (with that bank's
        // signature), its key one clock later; a clear writes way words only.
        self.wr_bank_b.next = self.wr_bucket.val().get_bit(self.bank_bit.val().index());
        self.wr_local.next = self.wr_bucket.val() & bit_cast::<IDX_BITS, 32>(self.half_mask.val());
        if self.wr_bank_b.val() {
            self.wr_sig.next = self.wr_hash.val() & self.lo16.val();
        } else {
            self.wr_sig.next = self.wr_hash.val() >> self.rot.val();
        }
        self.wr_word.next = (bit_cast::<WAY_BITS, 32>(self.wr_sig.val())
            | (bit_cast::<WAY_BITS, IDX_BITS>(
                self.wr_data
                    .val()
                    .get_bits::<IDX_BITS>(self.flow_lsb.val().index()),
            ) << self.way_flow.val()))
        .replace_bit(
            self.way_valid.val().index(),
            self.wr_data.val().get_bit(self.valid_bit.val().index()),
        );
        self.kw_b.next = self.kw_bucket.val().get_bit(self.bank_bit.val().index());
        self.kw_addr.next = ((self.kw_bucket.val()
            & bit_cast::<IDX_BITS, 32>(self.half_mask.val()))
            << self.k_log2.val())
            | bit_cast::<IDX_BITS, 8>(self.kw_way.val());
        self.keys_a.waddr.next = self.kw_addr.val();
        self.keys_b.waddr.next = self.kw_addr.val();
        self.keys_a.wdata.next = self.kw_key.val();
        self.keys_b.wdata.next = self.kw_key.val();
        self.keys_a.we.next = self.kw_en.val() & !self.kw_b.val();
        self.keys_b.we.next = self.kw_en.val() & self.kw_b.val();

        // Cycle 2: abi::geometry::cuckoo_buckets (bank A: low bits; bank B:
        // low bits of the hash rotated by 16) and abi::geometry::signatures
        // (the other 16 bits), as wire selections.
        self.bucket_a.next =
            bit_cast::<IDX_BITS, 32>(self.hasher.hash.val() & self.half_mask.val());
        self.bucket_b.next = bit_cast::<IDX_BITS, 32>(
            ((self.hasher.hash.val() >> self.rot.val())
                | (self.hasher.hash.val() << self.rot.val()))
                & self.half_mask.val(),
        );
        // abi::Geometry::mf_index: bucket << log2(k) | way (k is a power of
        // two), so the index is wires, not an adder.
        self.base_a3.d.next = self.bucket_a.val() << self.k_log2.val();
        self.base_b3.d.next =
            (self.bucket_b.val() | bit_cast::<IDX_BITS, 32>(self.half.val())) << self.k_log2.val();
        self.lbase_a3.d.next = self.bucket_a.val() << self.k_log2.val();
        self.lbase_b3.d.next = self.bucket_b.val() << self.k_log2.val();
        self.sig_a3.d.next = bit_cast::<16, 32>(self.hasher.hash.val() >> self.rot.val());
        self.sig_b3.d.next = bit_cast::<16, 32>(self.hasher.hash.val());
        for w in 0..self._ways {
            self.ways_a[w].clock.next = self.clock.val();
            self.ways_b[w].clock.next = self.clock.val();
            self.ways_a[w].raddr.next = self.bucket_a.val();
            self.ways_b[w].raddr.next = self.bucket_b.val();
            self.ways_a[w].waddr.next = self.wr_local.val();
            self.ways_b[w].waddr.next = self.wr_local.val();
            self.ways_a[w].wdata.next = self.wr_word.val();
            self.ways_b[w].wdata.next = self.wr_word.val();
            self.ways_a[w].we.next = self.wr_en.val()
                & !self.wr_bank_b.val()
                & (self.wr_all.val() | (self.wr_way.val() == self.way_id[w].val()));
            self.ways_b[w].we.next = self.wr_en.val()
                & self.wr_bank_b.val()
                & (self.wr_all.val() | (self.wr_way.val() == self.way_id[w].val()));
        }

        // Cycle 3: per bank, the first valid way whose signature matches;
        // its key is read from the bank's key RAM.
        self.fa.next = false;
        self.fb.next = false;
        self.wa.next = 0.into();
        self.wb.next = 0.into();
        self.fla.next = 0.into();
        self.flb.next = 0.into();
        for w in 0..self._ways {
            self.ma[w].next = self.ways_a[w]
                .rdata
                .val()
                .get_bit(self.way_valid.val().index())
                & (self.ways_a[w].rdata.val().get_bits::<16>(0) == self.sig_a3.q.val());
            self.mb[w].next = self.ways_b[w]
                .rdata
                .val()
                .get_bit(self.way_valid.val().index())
                & (self.ways_b[w].rdata.val().get_bits::<16>(0) == self.sig_b3.q.val());
        }
        for w in 0..self._ways {
            if !self.fa.val() & self.ma[w].val() {
                self.fa.next = true;
                self.wa.next = self.way_off[w].val();
                self.fla.next = self.ways_a[w]
                    .rdata
                    .val()
                    .get_bits::<IDX_BITS>(self.way_flow.val().index());
            }
            if !self.fb.val() & self.mb[w].val() {
                self.fb.next = true;
                self.wb.next = self.way_off[w].val();
                self.flb.next = self.ways_b[w]
                    .rdata
                    .val()
                    .get_bits::<IDX_BITS>(self.way_flow.val().index());
            }
        }
        self.keys_a.raddr.next = self.lbase_a3.q.val() | self.wa.val();
        self.keys_b.raddr.next = self.lbase_b3.q.val() | self.wb.val();
        self.fa4.d.next = self.fa.val();
        self.fb4.d.next = self.fb.val();
        self.ia4.d.next = self.base_a3.q.val() | self.wa.val();
        self.ib4.d.next = self.base_b3.q.val() | self.wb.val();
        self.fla4.d.next = self.fla.val();
        self.flb4.d.next = self.flb.val();

        // Cycle 4: per-word compare of the two stored keys with key & mask.
        self.masked4.next = self.key_d4.val() & self.mask.val();
        self.eqa.next = 0.into();
        self.eqb.next = 0.into();
        for i in 0..8 {
            self.eqa.next = self.eqa.val().replace_bit(
                i,
                self.keys_a.rdata.val().get_bits::<64>(i * 64)
                    == self.masked4.val().get_bits::<64>(i * 64),
            );
            self.eqb.next = self.eqb.val().replace_bit(
                i,
                self.keys_b.rdata.val().get_bits::<64>(i * 64)
                    == self.masked4.val().get_bits::<64>(i * 64),
            );
        }
        self.eqa5.d.next = self.eqa.val();
        self.eqb5.d.next = self.eqb.val();
        self.fa5.d.next = self.fa4.q.val();
        self.fb5.d.next = self.fb4.q.val();
        self.ia5.d.next = self.ia4.q.val();
        self.ib5.d.next = self.ib4.q.val();
        self.fla5.d.next = self.fla4.q.val();
        self.flb5.d.next = self.flb4.q.val();
        self.en5.d.next = self.enabled.val();

        // Cycle 5: hit per bank, bank A first.
        self.hit_a.next = self.fa5.q.val() & self.eqa5.q.val().all();
        self.hit_b.next = self.fb5.q.val() & self.eqb5.q.val().all();
        self.hit_q.d.next = (self.hit_a.val() | self.hit_b.val()) & self.en5.q.val();
        if self.hit_a.val() {
            self.index_q.d.next = self.ia5.q.val();
            self.flow_q.d.next = self.fla5.q.val();
        } else {
            self.index_q.d.next = self.ib5.q.val();
            self.flow_q.d.next = self.flb5.q.val();
        }
        self.hit.next = self.hit_q.q.val();
        self.index.next = self.index_q.q.val();
        self.flow.next = self.flow_q.q.val();
    }
}
