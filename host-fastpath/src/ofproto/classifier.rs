//! OpenFlow rule classifier that records every bit it consulted.
//!
//! The structure is Open vSwitch's lib/classifier.c: one subtable per
//! distinct rule mask, visited in order of the highest priority they hold and
//! abandoned as soon as no remaining subtable can beat the best match. Inside
//! a subtable the lookup is staged (metadata → L2 → L3 → L4): each stage but
//! the last has an index of the hashes of its cumulative masked values, so a
//! subtable that cannot match is usually ruled out after consulting only the
//! early fields, and only those fields are un-wildcarded. Prefix tries on
//! IP addresses rule subtables out after examining only as many address bits
//! as needed; a per-subtable trie over the transport ports does the same for
//! ports when the final stage misses (`tp_dst=0x40/0xfff0` instead of an
//! exact port).
//!
//! Equal priorities: a rule identical in match and priority to an existing
//! one replaces it (as `ovs-ofctl add-flow`). Overlapping rules of equal
//! priority in different subtables are resolved by subtable order: highest
//! maximum priority first, then the subtable created first (i.e. the earlier
//! rule wins). This is deterministic given the rule file.

use super::fields::{prereq_ok, Mf};
use super::flow::{stage_masks, Flow, N_STAGES};
use super::parse::Match;
use super::trie::PrefixTrie;
use abi::Field;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

/// Most prefix-tracked fields per classifier (as Open vSwitch).
pub const MAX_TRIES: usize = 4;

/// Identifies a rule to the classifier's user.
pub type RuleId = u32;

pub use crate::wordhash::WordHasher;

/// `HashMap` with [`WordHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<WordHasher>>;

struct TrieField {
    mf: &'static Mf,
    trie: PrefixTrie,
}

/// Rules of one masked value (several values may share a hash).
struct RuleSet {
    value: Flow,
    /// The best of `list`, kept inline so a hit reads no other cache line.
    top: (u16, RuleId),
    /// (priority, id), highest priority first.
    list: Vec<(u16, RuleId)>,
}

/// Most (word, mask) pairs of a subtable's stages: the stages partition the
/// bits, so each of the flow's words is split at most at the 3 stage borders.
const MAX_STAGE_WORDS: usize = super::flow::FLOW_WORDS + N_STAGES - 1;

/// What a visit of a subtable reads before it touches anything else: the
/// priority bound, the stage layout, the trie prefix lengths, a filter of
/// each stage's hashes and the single-hash shortcut, then the words each
/// stage hashes. The classifier keeps a copy of every subtable's record in
/// visiting order in one array, so a lookup streams through contiguous
/// memory (the hardware prefetcher follows it) and a subtable ruled out
/// early costs one or two cache lines instead of misses spread over a
/// 1.5 KB record and its hash maps (visits are most of a translation).
#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct Hot {
    max_priority: u16,
    /// Indexed stages (all but the last).
    n_idx: u8,
    /// Bit i: stage i's index holds a single hash, `single[i]`, compared
    /// instead of probing the map (e.g. every rule is `ip`).
    single_map: u8,
    /// Per stage (indexed and final): bitmap of the tries relevant to it
    /// (only tries whose field the mask matches as a prefix).
    stage_tries: [u8; N_STAGES],
    /// Prefix length of the mask on each trie's field (0: none).
    trie_plen: [u8; MAX_TRIES],
    /// Stage i hashes the words `stage_words[end(i-1)..stage_end[i]]`.
    stage_end: [u8; N_STAGES],
    /// Index of the subtable in [`Classifier::subtables`].
    st: u32,
    stage_words: [u8; MAX_STAGE_WORDS],
    /// Per stage (the last: the rules' full hashes), bit `h >> 58` is set
    /// for every hash `h` present: a clear bit proves a miss without
    /// probing the map (exactly the map's answer, so megaflows are
    /// unchanged). Bits are only cleared when a removal rebuilds them.
    filter: [u64; N_STAGES],
    single: [u64; N_STAGES],
    /// Mask of each entry of `stage_words`.
    stage_word_masks: [u64; MAX_STAGE_WORDS],
}

/// The common visit in its shortest form: a first stage of one word whose
/// index holds a single value (e.g. `dl_type=0x0800`), then a stage that
/// one or two prefix tries can rule out. The full visit of such a subtable
/// ends at that trie check, un-wildcarding only the first stage's word,
/// when the first of those tries that rejects the flow has its rejection
/// bits in the wildcards already (`TrieCtx::covered`) and the first
/// stage's word is in them too: the visit then changes nothing but the
/// visit count. Most visits of a ClassBench lookup are such (gen 10K: 100
/// of 125), so [`QuickSets`] decides them for all subtables at once.
#[derive(Clone, Copy, PartialEq, Eq)]
struct QuickForm {
    /// The first stage: word, mask, single masked value.
    word: u8,
    mask: u64,
    value: u64,
    /// The second stage's tries, lowest index first: (trie, prefix length).
    a: (u8, u8),
    b: Option<(u8, u8)>,
}

/// Inverse of the one-word stage hash (`Hot::stage_hash` of stage 0 from
/// `HASH_BASIS`): a multiply by an odd constant and an xor-shift are both
/// bijections, so the single hash of a one-word stage names exactly one
/// masked value, and comparing the value is comparing the hash.
fn unhash_one_word(h: u64) -> u64 {
    const C: u64 = 0x517c_c1b7_2722_0a95;
    // Inverse of x ^ (x >> 29): x = h ^ (h >> 29) ^ (h >> 58).
    let x = h ^ (h >> 29) ^ (h >> 58);
    // Inverse of C modulo 2^64 by Newton's iteration (each step doubles
    // the correct low bits; C * C = 1 mod 8 starts with three).
    let mut inv = C;
    for _ in 0..5 {
        inv = inv.wrapping_mul(2u64.wrapping_sub(C.wrapping_mul(inv)));
    }
    x.wrapping_mul(inv) ^ HASH_BASIS.rotate_left(5)
}

impl QuickForm {
    fn of(hot: &Hot) -> Option<QuickForm> {
        let tries = hot.stage_tries[1];
        if hot.stage_end[0] != 1
            || hot.stage_tries[0] != 0
            || hot.single_map & 1 == 0
            || tries == 0
            || tries.count_ones() > 2
        {
            return None;
        }
        // `stage_tries` holds only tries with a prefix length.
        let at = |j: u32| (j as u8, hot.trie_plen[j as usize]);
        let rest = tries & (tries - 1);
        let form = QuickForm {
            word: hot.stage_words[0],
            mask: hot.stage_word_masks[0],
            value: unhash_one_word(hot.single[0]),
            a: at(tries.trailing_zeros()),
            b: (rest != 0).then(|| at(rest.trailing_zeros())),
        };
        (form.value & !form.mask == 0 && (form.a.1 > 0) && form.b.is_none_or(|b| b.1 > 0))
            .then_some(form)
    }
}

/// Subtable positions (in visiting order) tracked by [`QuickSets`]; later
/// ones always get the full visit. A bitmap of this many bits lives on the
/// stack of every lookup.
const QUICK_POSITIONS: usize = 1024;
const QUICK_WORDS: usize = QUICK_POSITIONS / 64;

/// A set of subtable positions.
type PosSet = [u64; QUICK_WORDS];

/// The [`QuickForm`]s of the subtables as position sets per distinct part
/// (first stage; first trie; second trie), so a lookup learns which visits
/// end early for every subtable at once with a few word operations per
/// distinct part, instead of a data-dependent branch per visit (which was
/// most of a ClassBench lookup's time). Rebuilt when the order changes.
#[derive(Default)]
struct QuickSets {
    /// Words of the sets in use.
    words: usize,
    forms: Vec<Option<QuickForm>>,
    firsts: Vec<((u8, u64, u64), PosSet)>,
    a: Vec<((u8, u8), PosSet)>,
    b: Vec<((u8, u8), PosSet)>,
}

impl QuickSets {
    fn build(forms: Vec<Option<QuickForm>>) -> QuickSets {
        fn add<K: PartialEq>(v: &mut Vec<(K, PosSet)>, k: K, pos: usize) {
            let i = match v.iter().position(|(x, _)| *x == k) {
                Some(i) => i,
                None => {
                    v.push((k, [0; QUICK_WORDS]));
                    v.len() - 1
                }
            };
            v[i].1[pos / 64] |= 1 << (pos % 64);
        }
        let mut q = QuickSets {
            words: forms.len().min(QUICK_POSITIONS).div_ceil(64),
            ..QuickSets::default()
        };
        for (pos, f) in forms.iter().enumerate().take(QUICK_POSITIONS) {
            if let Some(f) = f {
                add(&mut q.firsts, (f.word, f.mask, f.value), pos);
                add(&mut q.a, f.a, pos);
                if let Some(b) = f.b {
                    add(&mut q.b, b, pos);
                }
            }
        }
        q.forms = forms;
        q
    }

    /// Positions whose visit ends early, given the trie answers so far
    /// (`rejects[j]`: trie `j`'s `!plens`, all ones while not looked up,
    /// so an unknown trie never ends a visit early), the covered tries and
    /// the wildcards. Every answer stays right for the rest of the lookup
    /// (tries are looked up once, coverage and wildcards only grow), so a
    /// position found here may be skipped later too.
    fn ends_early(
        &self,
        flow: &Flow,
        wc: &Flow,
        rejects: &[u128; MAX_TRIES],
        (done, covered): (u8, u8),
        out: &mut PosSet,
    ) {
        let n = self.words;
        let rej = |(j, plen): (u8, u8)| {
            rejects
                .get(j as usize)
                .is_none_or(|r| (r >> (plen.wrapping_sub(1) & 127)) & 1 != 0)
        };
        let cov = |j: u8| covered >> j & 1 != 0;
        let (mut first, mut ends, mut passes, mut second) = (
            [0u64; QUICK_WORDS],
            [0u64; QUICK_WORDS],
            [0u64; QUICK_WORDS],
            [0u64; QUICK_WORDS],
        );
        let or = |dst: &mut PosSet, src: &PosSet| {
            for (d, s) in dst[..n].iter_mut().zip(&src[..n]) {
                *d |= s;
            }
        };
        for &((w, mask, value), ref set) in &self.firsts {
            let w = w as usize;
            if flow.w[w] & mask == value && wc.w[w] & mask == mask {
                or(&mut first, set);
            }
        }
        // check_tries takes the tries in order: the first that rejects
        // decides, and the visit ends unchanged only when it is covered.
        // A trie not looked up yet decides nothing (and is not covered).
        for &(t, ref set) in &self.a {
            if done >> t.0 & 1 == 0 {
                continue;
            }
            if !rej(t) {
                or(&mut passes, set);
            } else if cov(t.0) {
                or(&mut ends, set);
            }
        }
        for &(t, ref set) in &self.b {
            if cov(t.0) && rej(t) {
                or(&mut second, set);
            }
        }
        for i in 0..n {
            out[i] = first[i] & (ends[i] | (passes[i] & second[i]));
        }
    }
}

#[inline(always)]
fn filter_bit(h: u64) -> u64 {
    1 << (h >> 58)
}

/// Entries a stage may hold before it gets a [`Bloom`] filter (below, the
/// hot record's 64-bit filter rejects most misses on its own).
const BLOOM_MIN: usize = 8;
/// Filter bits per entry: one probe bit gives about 6 % false positives.
const BLOOM_BITS_PER_ENTRY: usize = 16;

/// A one-hash Bloom filter over a stage's hashes, for stages too big for
/// the hot record's 64 bits. A clear bit costs one cache line and proves a
/// miss; the map probe it saves costs two or three. Never a false negative,
/// so the classifier's answer (and so every megaflow) is unchanged.
#[derive(Default)]
struct Bloom {
    words: Vec<u64>,
}

impl Bloom {
    /// A filter sized for the `n` hashes of `keys` (empty when `n` is small).
    fn build(n: usize, keys: impl Iterator<Item = u64>) -> Bloom {
        if n <= BLOOM_MIN {
            return Bloom::default();
        }
        let bits = (n * BLOOM_BITS_PER_ENTRY).next_power_of_two();
        let mut b = Bloom {
            words: vec![0; bits / 64],
        };
        keys.for_each(|h| b.insert(h));
        b
    }

    #[inline(always)]
    fn slot(&self, h: u64) -> (usize, u64) {
        // The low bits: the hot filter uses the top six.
        let i = h as usize & (self.words.len() * 64 - 1);
        (i >> 6, 1 << (i & 63))
    }

    fn insert(&mut self, h: u64) {
        let (w, b) = self.slot(h);
        if let Some(x) = self.words.get_mut(w) {
            *x |= b;
        }
    }

    /// True unless `h` is certainly absent (always true when empty).
    #[inline(always)]
    fn may_contain(&self, h: u64) -> bool {
        if self.words.is_empty() {
            return true;
        }
        let (w, b) = self.slot(h);
        self.words.get(w).is_none_or(|x| x & b != 0)
    }

    /// Adds a new hash to a stage now holding `n` hashes, re-sizing when
    /// it outgrew the filter (amortized O(1): the size doubles).
    fn add(&mut self, h: u64, n: usize, keys: impl Iterator<Item = u64>) {
        if n > BLOOM_MIN && n * BLOOM_BITS_PER_ENTRY > self.words.len() * 64 {
            *self = Bloom::build(n, keys);
        } else if !self.words.is_empty() {
            self.insert(h);
        }
    }
}

/// One distinct rule mask.
struct Subtable {
    hot: Hot,
    /// Per stage (the last: the rules' full hashes), see [`Bloom`].
    blooms: [Bloom; N_STAGES],
    indices: Vec<FastMap<u64, u32>>,
    rules: FastMap<u64, Vec<RuleSet>>,
    mask: Flow,
    n_rules: usize,
    seq: u64,
    /// Prefix length of the mask over the 32 port bits (tp_src << 16 | tp_dst); 0: no ports.
    ports_mask_len: u32,
    ports_mask: u32,
    ports_trie: PrefixTrie,
    /// L4 bits of the mask other than the ports (TCP flags): folded on a final-stage miss.
    l4_other: Flow,
}

/// Per-lookup lazily computed trie results.
#[derive(Clone, Copy, Default)]
struct TrieCtx {
    done: bool,
    /// The wildcards already hold the address bits a rejection by this trie
    /// needs (`maskbits` leading bits). Monotone within a lookup, so once
    /// set every further rejection by this trie is a single bit test.
    covered: bool,
    /// Bit `n - 1`: some rule has an `n`-bit prefix matching the flow.
    plens: u128,
    /// Leading bits of the address that decided the trie lookup.
    maskbits: u32,
}

/// Lookup statistics.
#[derive(Clone, Copy, Debug, Default)]
pub struct LookupStats {
    /// Subtables visited.
    pub subtables: u32,
}

/// The classifier of one OpenFlow table.
pub struct Classifier {
    subtables: Vec<Subtable>,
    /// The hot record of every subtable holding rules, in visiting order
    /// (highest maximum priority first, then creation order).
    ordered: Vec<Hot>,
    /// Maximum priority of each entry of `ordered` (dense, for finding
    /// where a lookup can stop).
    prio: Vec<u16>,
    /// The quick forms of `ordered`.
    quick: QuickSets,
    /// Position of each subtable in `ordered` (`u32::MAX`: not listed).
    pos: Vec<u32>,
    by_mask: FastMap<Flow, usize>,
    tries: Vec<TrieField>,
    stages: [Flow; N_STAGES],
    seq: u64,
    n_rules: usize,
}

#[inline]
fn ports_of(f: &Flow) -> u32 {
    ((f.get(Field::TpSrc) as u32) << 16) | f.get(Field::TpDst) as u32
}

const HASH_BASIS: u64 = 0x9e37_79b9_7f4a_7c15;

impl Hot {
    /// The chained hash of stage `i` of `f` from `basis`: exactly
    /// [`Flow::hash_chain`] over the stage's own bits, reading only the
    /// words the stage has bits in.
    #[inline(always)]
    fn stage_hash(&self, f: &Flow, i: usize, basis: u64) -> u64 {
        let start = if i == 0 {
            0
        } else {
            self.stage_end[i - 1] as usize
        };
        let end = self.stage_end[i] as usize;
        let mut h = basis;
        for k in start..end {
            let w = f.w[self.stage_words[k] as usize] & self.stage_word_masks[k];
            h = (h.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
        h ^ (h >> 29)
    }

    /// ORs the bits of the stages before `end` (a `stage_end` value) into
    /// `wc`: the cumulative mask a rejection at the next stage consulted,
    /// from the hot record instead of the cold per-stage masks.
    #[inline(always)]
    fn or_stages(&self, wc: &mut Flow, end: u8) {
        for k in 0..end as usize {
            wc.w[self.stage_words[k] as usize] |= self.stage_word_masks[k];
        }
    }

    /// Chained hashes of `f` at each stage (the last is the full-match hash).
    fn stage_hashes(&self, f: &Flow) -> [u64; N_STAGES] {
        let mut out = [0u64; N_STAGES];
        let mut h = HASH_BASIS;
        for (i, o) in out.iter_mut().enumerate().take(self.n_idx as usize + 1) {
            h = self.stage_hash(f, i, h);
            *o = h;
        }
        out
    }
}

impl Subtable {
    /// Is the hash of the flow's first `i + 1` stages in stage `i`'s index?
    #[inline(always)]
    fn index_has(&self, hot: &Hot, i: usize, h: u64) -> bool {
        if hot.filter[i] & filter_bit(h) == 0 {
            false
        } else if hot.single_map & (1 << i) != 0 {
            hot.single[i] == h
        } else {
            self.blooms[i].may_contain(h) && self.indices[i].contains_key(&h)
        }
    }

    /// The rules whose masked value hashes to `hash`, unless a filter
    /// proves there are none.
    #[inline(always)]
    fn final_candidates(&self, hot: &Hot, hash: u64) -> bool {
        let n_idx = hot.n_idx as usize;
        hot.filter[n_idx] & filter_bit(hash) != 0 && self.blooms[n_idx].may_contain(hash)
    }

    /// Rebuilds the single-hash shortcut and the filter of stage `i` (the
    /// final stage when `i == n_idx`) after a removal.
    fn rebuild_summary(&mut self, i: usize) {
        let n_idx = self.hot.n_idx as usize;
        let keys: Vec<u64> = if i == n_idx {
            self.rules.keys().copied().collect()
        } else {
            self.indices[i].keys().copied().collect()
        };
        self.hot.filter[i] = keys.iter().fold(0, |f, &h| f | filter_bit(h));
        self.blooms[i] = Bloom::build(keys.len(), keys.iter().copied());
        if i < n_idx {
            self.hot.single_map &= !(1 << i);
            if let [h] = keys[..] {
                self.hot.single[i] = h;
                self.hot.single_map |= 1 << i;
            }
        }
    }

    /// The best rule whose masked value equals `flow & mask`, given the full hash.
    #[inline]
    fn find(&self, hash: u64, flow: &Flow) -> Option<&(u16, RuleId)> {
        self.rules
            .get(&hash)?
            .iter()
            .find(|r| flow.matches(&self.mask, &r.value))
            .map(|r| &r.top)
    }
}

fn prefix_len(mask: u128, width: u32) -> Option<u32> {
    let full = if width >= 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    };
    let m = mask & full;
    let n = m.count_ones();
    let p = full ^ full.checked_shr(n).unwrap_or(0);
    (m == p).then_some(n)
}

fn prefix_mask(width: u32, n: u32) -> u128 {
    let full = if width >= 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    };
    full ^ full.checked_shr(n.min(width)).unwrap_or(0)
}

impl Classifier {
    /// A classifier tracking address prefixes on `prefix_fields` (at most [`MAX_TRIES`]).
    pub fn new(prefix_fields: &[&'static Mf]) -> Self {
        Self {
            subtables: Vec::new(),
            ordered: Vec::new(),
            prio: Vec::new(),
            quick: QuickSets::default(),
            pos: Vec::new(),
            by_mask: FastMap::default(),
            tries: prefix_fields
                .iter()
                .take(MAX_TRIES)
                .map(|mf| TrieField {
                    mf,
                    trie: PrefixTrie::new(mf.width()),
                })
                .collect(),
            stages: stage_masks(),
            seq: 0,
            n_rules: 0,
        }
    }

    /// Rules held.
    pub fn len(&self) -> usize {
        self.n_rules
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.n_rules == 0
    }

    /// Subtables (distinct masks) holding rules.
    pub fn n_subtables(&self) -> usize {
        self.ordered.len()
    }

    fn new_subtable(&mut self, mask: &Flow) -> usize {
        // Each non-empty stage's own bits; a stage's cumulative mask (what a
        // miss there un-wildcards) is the union of the own bits up to it.
        let mut own: Vec<Flow> = self
            .stages
            .iter()
            .map(|s| mask.masked(s))
            .filter(|p| !p.is_zero())
            .collect();
        if own.is_empty() {
            own.push(Flow::ZERO);
        }
        let mut trie_plen = [0u8; MAX_TRIES];
        for (j, t) in self.tries.iter().enumerate() {
            // At most 128 (IPv6), so it fits a byte.
            trie_plen[j] = prefix_len(t.mf.get(mask), t.mf.width()).unwrap_or(0) as u8;
        }
        let mut stage_tries = [0u8; N_STAGES];
        for (slot, part) in stage_tries.iter_mut().zip(own.iter()) {
            for (j, t) in self.tries.iter().enumerate() {
                if trie_plen[j] > 0 && t.mf.get(part) != 0 {
                    *slot |= 1 << j;
                }
            }
        }
        let mut stage_end = [0u8; N_STAGES];
        let mut stage_words = [0u8; MAX_STAGE_WORDS];
        let mut stage_word_masks = [0u64; MAX_STAGE_WORDS];
        let mut k = 0;
        for (i, part) in own.iter().enumerate() {
            for (w, &m) in part.w.iter().enumerate() {
                if m != 0 {
                    stage_words[k] = w as u8;
                    stage_word_masks[k] = m;
                    k += 1;
                }
            }
            stage_end[i] = k as u8;
        }
        let ports_mask = ports_of(mask);
        let ports_mask_len = if ports_mask == 0 {
            0
        } else {
            32 - ports_mask.trailing_zeros()
        };
        let mut l4_other = mask.masked(&self.stages[N_STAGES - 1]);
        l4_other.set(Field::TpSrc, 0);
        l4_other.set(Field::TpDst, 0);
        let n_idx = own.len() - 1;
        let st = Subtable {
            hot: Hot {
                max_priority: 0,
                n_idx: n_idx as u8,
                single_map: 0,
                stage_tries,
                trie_plen,
                stage_end,
                st: self.subtables.len() as u32,
                stage_words,
                filter: [0; N_STAGES],
                single: [0; N_STAGES],
                stage_word_masks,
            },
            blooms: Default::default(),
            indices: (0..n_idx).map(|_| FastMap::default()).collect(),
            rules: FastMap::default(),
            mask: *mask,
            n_rules: 0,
            seq: self.seq,
            ports_mask_len,
            ports_mask,
            ports_trie: PrefixTrie::new(32),
            l4_other,
        };
        self.seq += 1;
        self.subtables.push(st);
        self.pos.push(u32::MAX);
        let i = self.subtables.len() - 1;
        self.by_mask.insert(*mask, i);
        i
    }

    fn resort(&mut self) {
        let subs = &self.subtables;
        let mut order: Vec<usize> = (0..subs.len()).filter(|&i| subs[i].n_rules > 0).collect();
        order.sort_by(|&a, &b| {
            subs[b]
                .hot
                .max_priority
                .cmp(&subs[a].hot.max_priority)
                .then(subs[a].seq.cmp(&subs[b].seq))
        });
        self.pos.iter_mut().for_each(|p| *p = u32::MAX);
        self.ordered.clear();
        self.prio.clear();
        for (k, &i) in order.iter().enumerate() {
            self.pos[i] = k as u32;
            self.ordered.push(subs[i].hot);
            self.prio.push(subs[i].hot.max_priority);
        }
        self.quick = QuickSets::build(self.ordered.iter().map(QuickForm::of).collect());
    }

    /// Copies subtable `si`'s hot record into the visiting-order array.
    fn refresh_hot(&mut self, si: usize) {
        if let Some(&p) = self.pos.get(si) {
            if let Some(h) = self.ordered.get_mut(p as usize) {
                *h = self.subtables[si].hot;
            }
            if let Some(p) = self.prio.get_mut(p as usize) {
                *p = self.subtables[si].hot.max_priority;
            }
            let form = QuickForm::of(&self.subtables[si].hot);
            if self.quick.forms.get(p as usize).is_some_and(|f| *f != form) {
                let mut forms = std::mem::take(&mut self.quick.forms);
                forms[p as usize] = form;
                self.quick = QuickSets::build(forms);
            }
        }
    }

    fn trie_eligible(mf: &Mf, m: &Match) -> bool {
        prereq_ok(mf.prereq, &m.value, None)
    }

    /// Inserts a rule. A rule with the same match and priority is replaced;
    /// its id is returned.
    pub fn insert(&mut self, m: &Match, priority: u16, id: RuleId) -> Option<RuleId> {
        let si = match self.by_mask.get(&m.mask) {
            Some(&i) => i,
            None => self.new_subtable(&m.mask),
        };
        let value = m.value.masked(&m.mask);
        let st = &mut self.subtables[si];
        let hs = st.hot.stage_hashes(&value);
        let n_idx = st.hot.n_idx as usize;
        st.hot.filter[n_idx] |= filter_bit(hs[n_idx]);
        if let std::collections::hash_map::Entry::Vacant(e) = st.rules.entry(hs[n_idx]) {
            e.insert(Vec::new());
            let n = st.rules.len();
            st.blooms[n_idx].add(hs[n_idx], n, st.rules.keys().copied());
        }
        let bucket = st.rules.entry(hs[n_idx]).or_default();
        let set = match bucket.iter().position(|r| r.value == value) {
            Some(i) => &mut bucket[i],
            None => {
                bucket.push(RuleSet {
                    value,
                    top: (priority, id),
                    list: Vec::new(),
                });
                let n = bucket.len() - 1;
                &mut bucket[n]
            }
        };
        let list = &mut set.list;
        if let Some(e) = list.iter_mut().find(|e| e.0 == priority) {
            let old = e.1;
            e.1 = id;
            set.top = list[0];
            return Some(old);
        }
        let pos = list
            .iter()
            .position(|e| e.0 < priority)
            .unwrap_or(list.len());
        list.insert(pos, (priority, id));
        set.top = list[0];
        for (i, &h) in hs.iter().enumerate().take(n_idx) {
            let c = st.indices[i].entry(h).or_insert(0);
            *c += 1;
            if *c == 1 {
                let n = st.indices[i].len();
                st.blooms[i].add(h, n, st.indices[i].keys().copied());
            }
            st.hot.filter[i] |= filter_bit(h);
            st.hot.single_map &= !(1 << i);
            if st.indices[i].len() == 1 {
                st.hot.single[i] = h;
                st.hot.single_map |= 1 << i;
            }
        }
        if st.ports_mask_len > 0 {
            st.ports_trie
                .insert(ports_of(&value) as u128, st.ports_mask_len);
        }
        let plens = st.hot.trie_plen.map(u32::from);
        st.n_rules += 1;
        let resort = st.n_rules == 1 || priority > st.hot.max_priority;
        st.hot.max_priority = st.hot.max_priority.max(priority);
        for (j, t) in self.tries.iter_mut().enumerate() {
            if plens[j] > 0 && Self::trie_eligible(t.mf, m) {
                t.trie.insert(t.mf.get(&value), plens[j]);
            }
        }
        self.n_rules += 1;
        if resort {
            self.resort();
        } else {
            self.refresh_hot(si);
        }
        None
    }

    /// Removes the rule with exactly this match and priority.
    pub fn remove(&mut self, m: &Match, priority: u16) -> Option<RuleId> {
        let si = *self.by_mask.get(&m.mask)?;
        let value = m.value.masked(&m.mask);
        let st = &mut self.subtables[si];
        let hs = st.hot.stage_hashes(&value);
        let n_idx = st.hot.n_idx as usize;
        let bucket = st.rules.get_mut(&hs[n_idx])?;
        let bi = bucket.iter().position(|r| r.value == value)?;
        let set = &mut bucket[bi];
        let pos = set.list.iter().position(|e| e.0 == priority)?;
        let (_, id) = set.list.remove(pos);
        if let Some(&t) = set.list.first() {
            set.top = t;
        }
        if set.list.is_empty() {
            bucket.remove(bi);
            if bucket.is_empty() {
                st.rules.remove(&hs[n_idx]);
            }
        }
        for (i, &h) in hs.iter().enumerate().take(n_idx) {
            if let Some(c) = st.indices[i].get_mut(&h) {
                *c -= 1;
                if *c == 0 {
                    st.indices[i].remove(&h);
                }
            }
            st.rebuild_summary(i);
        }
        if st.ports_mask_len > 0 {
            st.ports_trie
                .remove(ports_of(&value) as u128, st.ports_mask_len);
        }
        st.n_rules -= 1;
        st.rebuild_summary(n_idx);
        if priority == st.hot.max_priority {
            st.hot.max_priority = st
                .rules
                .values()
                .flatten()
                .filter_map(|r| r.list.first().map(|e| e.0))
                .max()
                .unwrap_or(0);
        }
        let plens = st.hot.trie_plen.map(u32::from);
        for (j, t) in self.tries.iter_mut().enumerate() {
            if plens[j] > 0 && Self::trie_eligible(t.mf, m) {
                t.trie.remove(t.mf.get(&value), plens[j]);
            }
        }
        self.n_rules -= 1;
        self.resort();
        Some(id)
    }

    /// Re-lays out the prefix and port tries for lookup locality (after bulk loading).
    pub fn compact(&mut self) {
        for t in &mut self.tries {
            t.trie.compact();
        }
        for st in &mut self.subtables {
            st.ports_trie.compact();
        }
    }

    /// Finds the highest-priority rule matching `flow`, ORing into `wc` every
    /// bit the decision depended on.
    pub fn lookup(
        &self,
        flow: &Flow,
        wc: &mut Flow,
        stats: &mut LookupStats,
    ) -> Option<(RuleId, u16)> {
        self.lookup_with(flow, wc, stats, true, |_| {})
    }

    /// [`Classifier::lookup`] that calls `on_best(rule)` each time a better
    /// match is found, while the search goes on: a caller that will read
    /// the rule can start fetching it (a rule table of thousands of rules
    /// is not in cache, and the visits after the best match hide the miss).
    pub fn lookup_hinted(
        &self,
        flow: &Flow,
        wc: &mut Flow,
        stats: &mut LookupStats,
        on_best: impl FnMut(RuleId),
    ) -> Option<(RuleId, u16)> {
        self.lookup_with(flow, wc, stats, true, on_best)
    }

    /// [`Classifier::lookup`], with the [`QuickSets`] decisions or without
    /// (tests check that both give the same answer and wildcards).
    #[inline(always)]
    fn lookup_with(
        &self,
        flow: &Flow,
        wc: &mut Flow,
        stats: &mut LookupStats,
        quick: bool,
        mut on_best: impl FnMut(RuleId),
    ) -> Option<(RuleId, u16)> {
        let mut ctx = [TrieCtx::default(); MAX_TRIES];
        let mut best: Option<(RuleId, u16)> = None;
        if !quick {
            for (visited, hot) in self.ordered.iter().enumerate() {
                if best.is_some_and(|(_, p)| hot.max_priority <= p) {
                    stats.subtables += visited as u32;
                    return best;
                }
                if let Some(hit) = self.find_match_wc(hot, flow, &mut ctx, wc) {
                    if best.is_none_or(|(_, p)| hit.1 > p) {
                        best = Some(hit);
                    }
                }
            }
            stats.subtables += self.ordered.len() as u32;
            return best;
        }
        // Subtables are visited in order until the first whose maximum
        // priority cannot beat the best match: `limit`.
        let mut limit = self.ordered.len();
        // Positions whose visit ends early (none before a trie is looked
        // up); recomputed when a full visit looked up or covered a trie.
        let mut early: PosSet = [0; QUICK_WORDS];
        let mut rejects = [u128::MAX; MAX_TRIES];
        let (mut done, mut covered) = (0u8, 0u8);
        let mut v = 0;
        loop {
            // The next position that needs its full visit.
            let mut w = v / 64;
            let mut bits = match early.get(w) {
                Some(e) => !e & (u64::MAX << (v % 64)),
                None => u64::MAX << (v % 64),
            };
            while bits == 0 {
                w += 1;
                bits = early.get(w).map_or(u64::MAX, |e| !e);
            }
            v = w * 64 + bits.trailing_zeros() as usize;
            if v >= limit {
                break;
            }
            let hot = &self.ordered[v];
            if let Some(hit) = self.find_match_wc(hot, flow, &mut ctx, wc) {
                if best.is_none_or(|(_, p)| hit.1 > p) {
                    best = Some(hit);
                    on_best(hit.0);
                    limit = v
                        + 1
                        + self.prio[v + 1..limit]
                            .iter()
                            .position(|&p| p <= hit.1)
                            .unwrap_or(limit - v - 1);
                }
            }
            // Trie answers never change once looked up: a change in which
            // tries are looked up or covered is a change of answers.
            let (mut d, mut c) = (0u8, 0u8);
            for (j, t) in ctx.iter().enumerate() {
                d |= (t.done as u8) << j;
                c |= (t.covered as u8) << j;
            }
            if (d, c) != (done, covered) {
                (done, covered) = (d, c);
                for (r, t) in rejects.iter_mut().zip(&ctx) {
                    if t.done {
                        *r = !t.plens;
                    }
                }
                self.quick
                    .ends_early(flow, wc, &rejects, (done, covered), &mut early);
            }
            v += 1;
        }
        stats.subtables += limit as u32;
        best
    }

    /// Lookup without wildcard tracking (the oracle for tests and `--no-megaflows`).
    pub fn lookup_exact(&self, flow: &Flow) -> Option<(RuleId, u16)> {
        let mut best: Option<(RuleId, u16)> = None;
        for hot in &self.ordered {
            let st = &self.subtables[hot.st as usize];
            if let Some((_, p)) = best {
                if hot.max_priority <= p {
                    break;
                }
            }
            let hs = hot.stage_hashes(flow);
            if let Some(&(prio, id)) = st.find(hs[hot.n_idx as usize], flow) {
                if best.is_none_or(|(_, p)| prio > p) {
                    best = Some((id, prio));
                }
            }
        }
        best
    }

    /// OVS `check_tries`: can the prefix tries rule this subtable out at this
    /// stage? Sets the trie's bits in `wc` when they do.
    #[inline(always)]
    fn check_tries(
        &self,
        st: &Hot,
        stage: usize,
        flow: &Flow,
        ctx: &mut [TrieCtx; MAX_TRIES],
        wc: &mut Flow,
    ) -> bool {
        let mut rel = st.stage_tries[stage];
        while rel != 0 {
            let j = rel.trailing_zeros() as usize;
            rel &= rel - 1;
            if !ctx[j].done {
                self.init_trie_ctxs(j, rel, flow, ctx);
            }
            // Only tries with a prefix length are in `stage_tries`.
            let plen = st.trie_plen[j] as u32;
            let c = &mut ctx[j];
            if (c.plens >> (plen - 1)) & 1 == 0 {
                // No rule has a `plen`-bit prefix matching the flow: this
                // subtable cannot match, given the first `maskbits` bits.
                if c.covered {
                    return true;
                }
                let t = &self.tries[j];
                let need = prefix_mask(t.mf.width(), c.maskbits);
                if c.maskbits <= plen {
                    t.mf.unwildcard(wc, need);
                    c.covered = true;
                    return true;
                }
                if t.mf.get(wc) & need == need {
                    c.covered = true;
                    return true;
                }
            }
        }
        false
    }

    /// The trie lookup of field `j` (done once per classifier lookup and
    /// only when some subtable needs it), together with that of the next
    /// trie of `more` not looked up yet: the same stage may consult it
    /// next, and two lookups walked in lockstep overlap their cache misses
    /// (the ClassBench and generated tables need both address tries in
    /// nearly every lookup). A trie answer is a function of the flow alone,
    /// so looking one up early changes no result.
    #[cold]
    fn init_trie_ctxs(&self, j: usize, more: u8, flow: &Flow, ctx: &mut [TrieCtx; MAX_TRIES]) {
        let mut rest = more;
        while rest != 0 {
            let k = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            if ctx[k].done {
                continue;
            }
            let (Some(a), Some(b)) = (self.tries.get(j), self.tries.get(k)) else {
                break;
            };
            if prereq_ok(a.mf.prereq, flow, None) && prereq_ok(b.mf.prereq, flow, None) {
                let (ma, mb) =
                    PrefixTrie::lookup_pair((&a.trie, a.mf.get(flow)), (&b.trie, b.mf.get(flow)));
                ctx[j] = TrieCtx {
                    done: true,
                    covered: ctx[j].covered,
                    plens: ma.plens,
                    maskbits: ma.maskbits,
                };
                ctx[k] = TrieCtx {
                    done: true,
                    covered: ctx[k].covered,
                    plens: mb.plens,
                    maskbits: mb.maskbits,
                };
                return;
            }
            break;
        }
        self.init_trie_ctx(j, flow, &mut ctx[j]);
    }

    /// The trie lookup of field `j` alone.
    fn init_trie_ctx(&self, j: usize, flow: &Flow, c: &mut TrieCtx) {
        let t = &self.tries[j];
        c.done = true;
        if prereq_ok(t.mf.prereq, flow, None) {
            let m = t.trie.lookup(t.mf.get(flow));
            c.plens = m.plens;
            c.maskbits = m.maskbits;
        } else {
            c.plens = u128::MAX;
            c.maskbits = 0;
        }
    }

    #[inline(always)]
    fn find_match_wc(
        &self,
        hot: &Hot,
        flow: &Flow,
        ctx: &mut [TrieCtx; MAX_TRIES],
        wc: &mut Flow,
    ) -> Option<(RuleId, u16)> {
        // The cold part of the subtable is only read past the early exits
        // (the address is computed here, nothing is loaded).
        let st = &self.subtables[hot.st as usize];
        let n_idx = hot.n_idx as usize;
        let mut h = HASH_BASIS;
        for i in 0..n_idx {
            if self.check_tries(hot, i, flow, ctx, wc) {
                if i > 0 {
                    hot.or_stages(wc, hot.stage_end[i - 1]);
                }
                return None;
            }
            h = hot.stage_hash(flow, i, h);
            if !st.index_has(hot, i, h) {
                hot.or_stages(wc, hot.stage_end[i]);
                return None;
            }
        }
        if self.check_tries(hot, n_idx, flow, ctx, wc) {
            if n_idx > 0 {
                hot.or_stages(wc, hot.stage_end[n_idx - 1]);
            }
            return None;
        }
        h = hot.stage_hash(flow, n_idx, h);
        let found = if st.final_candidates(hot, h) {
            st.find(h, flow)
        } else {
            None
        };
        match found {
            Some(&(prio, id)) => {
                wc.or_with(&st.mask);
                Some((id, prio))
            }
            None if st.ports_mask_len > 0 => {
                let value = ports_of(flow) & st.ports_mask;
                let mbits = st.ports_trie.lookup(value as u128).maskbits;
                let m = st.ports_mask & (prefix_mask(32, mbits) as u32);
                if n_idx > 0 {
                    hot.or_stages(wc, hot.stage_end[n_idx - 1]);
                }
                let tps = wc.get(Field::TpSrc) | (m >> 16) as u64;
                let tpd = wc.get(Field::TpDst) | (m & 0xffff) as u64;
                wc.set(Field::TpSrc, tps);
                wc.set(Field::TpDst, tpd);
                wc.or_with(&st.l4_other);
                None
            }
            None => {
                wc.or_with(&st.mask);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fields::named;
    use super::super::parse::parse_rule;
    use super::*;

    fn cls(rules: &[&str]) -> Classifier {
        let mut c = Classifier::new(&[
            named("nw_dst"),
            named("nw_src"),
            named("ipv6_dst"),
            named("ipv6_src"),
        ]);
        for (i, r) in rules.iter().enumerate() {
            let r = parse_rule(r).unwrap();
            c.insert(&r.m, r.priority, i as u32);
        }
        c
    }

    #[test]
    fn ports_trie_unwildcards_minimal_bits() {
        let c = cls(&[
            "priority=16,tcp,nw_dst=10.1.0.0/16,actions=output:3",
            "priority=32,tcp,nw_dst=10.1.2.15,actions=output:2",
            "priority=33,tcp,nw_dst=10.1.2.15,tp_dst=80,actions=drop",
            "priority=0,ip,actions=drop",
        ]);
        let mut f = Flow::ZERO;
        f.set(Field::DlType, 0x0800);
        f.set(Field::NwProto, 6);
        f.set(Field::NwDst, 0x0a01_020f);
        f.set(Field::TpDst, 79);
        let mut wc = Flow::ZERO;
        let hit = c.lookup(&f, &mut wc, &mut LookupStats::default());
        assert_eq!(hit, Some((1, 32)));
        assert_eq!(wc.get(Field::TpDst), 0xfff0);
        assert_eq!(wc.get(Field::TpSrc), 0);
        assert_eq!(wc.get(Field::NwDst), 0xffff_ffff);
        assert_eq!(wc.get(Field::NwSrc), 0);
    }

    /// The quick form compares a first stage's value instead of its hash:
    /// exact only if the one-word stage hash is inverted exactly.
    #[test]
    fn one_word_stage_hash_inverts() {
        let mut hot = Hot {
            max_priority: 0,
            n_idx: 0,
            single_map: 0,
            stage_tries: [0; N_STAGES],
            trie_plen: [0; MAX_TRIES],
            stage_end: [0; N_STAGES],
            st: 0,
            stage_words: [0; MAX_STAGE_WORDS],
            filter: [0; N_STAGES],
            single: [0; N_STAGES],
            stage_word_masks: [0; MAX_STAGE_WORDS],
        };
        hot.stage_end[0] = 1;
        for (i, w) in [
            0u64,
            1,
            0x0800,
            0x86dd << 16,
            u64::MAX,
            0x0123_4567_89ab_cdef,
        ]
        .into_iter()
        .enumerate()
        {
            hot.stage_words[0] = (i % 8) as u8;
            hot.stage_word_masks[0] = u64::MAX;
            let mut f = Flow::ZERO;
            f.w[i % 8] = w;
            assert_eq!(unhash_one_word(hot.stage_hash(&f, 0, HASH_BASIS)), w);
        }
    }

    #[test]
    fn prefix_len_detects_cidr() {
        assert_eq!(prefix_len(0xffff_0000, 32), Some(16));
        assert_eq!(prefix_len(0, 32), Some(0));
        assert_eq!(prefix_len(0xff00_ff00, 32), None);
        assert_eq!(prefix_mask(32, 28), 0xffff_fff0);
        assert_eq!(prefix_mask(128, 128), u128::MAX);
        assert_eq!(prefix_mask(32, 0), 0);
        assert_eq!(prefix_len(u128::MAX, 128), Some(128));
    }

    #[test]
    fn bloom_has_no_false_negatives_and_rejects_most_misses() {
        let mix = |i: u64| {
            let h = (i ^ 0x1234_5678).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            h ^ (h >> 29)
        };
        let mut b = Bloom::default();
        for n in 1..=1000u64 {
            b.add(mix(n), n as usize, (1..=n).map(mix));
        }
        assert!((1..=1000).all(|i| b.may_contain(mix(i))));
        let false_pos = (1001..11_001).filter(|&i| b.may_contain(mix(i))).count();
        assert!(false_pos < 1_500, "{false_pos} false positives in 10 000");
        assert!(Bloom::default().may_contain(7));
    }

    /// Filters and single-hash shortcuts are rebuilt on removal: after
    /// removing most rules of a big subtable, lookups still agree with the
    /// oracle, for present and removed values alike.
    #[test]
    fn lookups_stay_exact_after_mass_removal() {
        let rule = |i: u32| {
            format!(
                "priority={},tcp,nw_src=10.{}.{}.0/24,tp_dst={},actions=drop",
                100 + i % 7,
                i / 256,
                i % 256,
                1000 + i % 50
            )
        };
        let rules: Vec<String> = (0..600).map(rule).collect();
        let refs: Vec<&str> = rules.iter().map(|s| s.as_str()).collect();
        let mut c = cls(&refs);
        for i in (0..600).filter(|i| i % 5 != 0) {
            let r = parse_rule(&rule(i)).unwrap();
            assert_eq!(c.remove(&r.m, r.priority), Some(i));
        }
        for i in 0..600u32 {
            let mut f = Flow::ZERO;
            f.set(Field::DlType, 0x0800);
            f.set(Field::NwProto, 6);
            f.set(
                Field::NwSrc,
                (10 << 24 | (i / 256) << 16 | (i % 256) << 8 | 9) as u64,
            );
            f.set(Field::TpDst, (1000 + i % 50) as u64);
            let want = c.lookup_exact(&f);
            assert_eq!(want.map(|h| h.0), (i % 5 == 0).then_some(i), "flow {i}");
            let mut wc = Flow::ZERO;
            assert_eq!(c.lookup(&f, &mut wc, &mut LookupStats::default()), want);
        }
    }

    /// The quick visits change nothing: same rule, same wildcards, same
    /// subtable count as full visits, on random ClassBench-like tables
    /// (prefixes on both addresses, protocols, exact and prefix ports).
    #[test]
    fn quick_visits_equal_full_visits() {
        // xorshift64 must not start at 0.
        let mut seed = crate::io::gen::test_seed(0x2545_f491_4f6c_dd1d).max(1);
        let mut rnd = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for table in 0..4 {
            let mut rules = Vec::new();
            for i in 0..400 {
                let sl = [0, 8, 16, 24, 32][rnd(5) as usize];
                let dl = [0, 16, 24, 32][rnd(4) as usize];
                let proto = ["ip", "tcp", "udp"][rnd(3) as usize];
                let mut r = format!(
                    "priority={},{proto},nw_src={}.{}.0.0/{sl},nw_dst=10.{}.{}.0/{dl}",
                    1000 - i,
                    rnd(4),
                    rnd(4),
                    rnd(4),
                    rnd(4)
                );
                if proto != "ip" && rnd(2) == 0 {
                    r.push_str(&format!(",tp_dst={:#x}/0xfff0", rnd(4) << 4));
                }
                r.push_str(",actions=drop");
                rules.push(r);
            }
            let refs: Vec<&str> = rules.iter().map(|s| s.as_str()).collect();
            let c = cls(&refs);
            for k in 0..2000 {
                let mut f = Flow::ZERO;
                f.set(Field::DlType, 0x0800);
                f.set(Field::NwProto, [6, 17, 1][rnd(3) as usize]);
                f.set(Field::NwSrc, rnd(4) << 24 | rnd(4) << 16 | rnd(1 << 16));
                f.set(
                    Field::NwDst,
                    10 << 24 | rnd(4) << 16 | rnd(4) << 8 | rnd(256),
                );
                f.set(Field::TpDst, rnd(80));
                let (mut wq, mut wf) = (Flow::ZERO, Flow::ZERO);
                let (mut sq, mut sf) = (LookupStats::default(), LookupStats::default());
                let hq = c.lookup_with(&f, &mut wq, &mut sq, true, |_| {});
                let hf = c.lookup_with(&f, &mut wf, &mut sf, false, |_| {});
                assert_eq!(hq, hf, "table {table} flow {k}");
                assert_eq!(wq, wf, "table {table} flow {k}");
                assert_eq!(sq.subtables, sf.subtables, "table {table} flow {k}");
                assert_eq!(hq, c.lookup_exact(&f), "table {table} flow {k}");
            }
        }
    }

    #[test]
    fn replace_and_remove() {
        let mut c = cls(&["priority=5,ip,actions=drop"]);
        let r = parse_rule("priority=5,ip,actions=output:1").unwrap();
        assert_eq!(c.insert(&r.m, 5, 9), Some(0));
        assert_eq!(c.len(), 1);
        assert_eq!(c.remove(&r.m, 5), Some(9));
        assert!(c.is_empty());
        assert_eq!(c.n_subtables(), 0);
    }
}
