"""Behavioural model of fastpath_top at the register and lookup-port level.

Tables, masks, the command engine (with its checks), global counters,
per-entry hit counters, the miss queue and CTRL/STATUS, as abi::regs
documents them. Timing is not modelled: the bench applies a register write
to the model when its AXI response arrives and a lookup when its result
leaves the pipeline, and keeps table changes and lookups apart in time.
"""

from __future__ import annotations

from collections import deque

from .abi import Abi
from .geometry import Geometry
from .hashing import hash_key, hash_masked

U64 = (1 << 64) - 1


def _merge(old: int, new: int, strb: int) -> int:
    m = 0
    for b in range(8):
        if strb >> b & 1:
            m |= 0xFF << (8 * b)
    return (old & ~m) | (new & m)


class PipelineModel:
    def __init__(self, abi: Abi, g: Geometry):
        self.abi = abi
        self.g = g
        self.scratch = 0
        self.stage_action = 0
        self.enable = 1
        self.stats_sel = 0
        self.cmd_word = 0
        self.cmd_error = False
        self.staging = [0] * abi.key_words
        self.counters = {n: 0 for n in ("LOOKUPS", "EMC_HITS", "MF_HITS", "MISSES", "MISS_DROPS", "COMMANDS")}
        self.missq: deque = deque()
        # The edit table EditWrite writes (index -> its words as one int,
        # word i in bits 64 i + 63 .. 64 i); a table clear leaves it.
        self.edits: dict = {}
        self.clear_tables()

    # ---- state -------------------------------------------------------------

    def clear_tables(self):
        g = self.g
        self.emc = [None] * g.emc_entries  # (key words, flow)
        self.masks = [[0] * self.abi.key_words for _ in range(g.mf_slots)]
        self.mask_en = [False] * g.mf_slots
        self.mf = [[None] * g.mf_entries_per_slot for _ in range(g.mf_slots)]
        self.hits: dict = {}
        # Bytes per entry, modulo 2**stats_bytes_bits as the RTL counts.
        self.bytes: dict = {}
        # The action RAM the core writes through act_*: one word per table
        # position (EMC entries, then each slot's megaflow entries).
        self.actions = [0] * (g.emc_entries + g.mf_slots * g.mf_entries_per_slot)

    def position(self, table: int, slot: int, index: int) -> int:
        """Action RAM / statistics position of an entry (table 0 = EMC)."""
        g = self.g
        return index if table == 0 else g.emc_entries + slot * g.mf_entries_per_slot + index

    # ---- registers -----------------------------------------------------------

    def write(self, offset: int, value: int, strb: int = 0xFF):
        r = self.abi.regs
        kw = self.abi.key_words
        if offset == r["SCRATCH"]:
            self.scratch = _merge(self.scratch, value, strb)
        elif offset == r["STAGE_ACTION"]:
            self.stage_action = _merge(self.stage_action, value, strb)
        elif offset == r["CTRL"] and strb & 1:
            f = self.abi.f
            self.enable = f("CTRL_ENABLE").get(value)
            if f("CTRL_CLEAR_COUNTERS").get(value):
                for k in self.counters:
                    self.counters[k] = 0
            if f("CTRL_CLEAR_TABLES").get(value):
                self.clear_tables()
        elif r["STAGE_KEY"] <= offset < r["STAGE_KEY"] + 8 * kw:
            i = (offset - r["STAGE_KEY"]) // 8
            self.staging[i] = _merge(self.staging[i], value, strb)
        elif offset == r["STATS_SEL"]:
            self.stats_sel = _merge(self.stats_sel, value, strb)
        elif offset == r["MISSQ_POP"]:
            if self.missq:
                self.missq.popleft()
        elif offset == r["CMD"]:
            self.counters["COMMANDS"] += 1
            self.cmd_word = value
            self.command(value, full=strb == 0xFF)

    def command(self, word: int, full: bool = True):
        a, g = self.abi, self.g
        f = a.f
        op = f("CMD_OP").get(word) if full else None
        slot, index, flow = f("CMD_SLOT").get(word), f("CMD_INDEX").get(word), f("CMD_FLOW_ID").get(word)
        name = a.op_names.get(op)
        bad = (
            name is None
            or (name in ("EmcWrite", "EmcInvalidate") and index >= g.emc_entries)
            or (name in ("MfWrite", "MfInvalidate") and (index >= g.mf_entries_per_slot or slot >= g.mf_slots))
            or (name in ("MaskSet", "MaskClear") and slot >= g.mf_slots)
            or (name == "EditWrite" and index >= a.edit_entries)
        )
        if bad:
            self.cmd_error = True
            return
        self.cmd_error = False
        if name == "EmcWrite":
            self.emc[index] = (list(self.staging), flow)
            self.hits[(0, 0, index)] = 0
            self.bytes[(0, 0, index)] = 0
            self.actions[self.position(0, 0, index)] = self.stage_action
        elif name == "EmcInvalidate":
            self.emc[index] = None
            self.hits[(0, 0, index)] = 0
            self.bytes[(0, 0, index)] = 0
            self.actions[self.position(0, 0, index)] = 0
        elif name == "MfWrite":
            m = self.masks[slot]
            self.mf[slot][index] = ([s & x for s, x in zip(self.staging, m)], flow)
            self.hits[(1, slot, index)] = 0
            self.bytes[(1, slot, index)] = 0
            self.actions[self.position(1, slot, index)] = self.stage_action
        elif name == "MfInvalidate":
            self.mf[slot][index] = None
            self.hits[(1, slot, index)] = 0
            self.bytes[(1, slot, index)] = 0
            self.actions[self.position(1, slot, index)] = 0
        elif name == "MaskSet":
            self.masks[slot] = list(self.staging)
            self.mask_en[slot] = True
        elif name == "MaskClear":
            self.mask_en[slot] = False
        elif name == "EditWrite":
            self.edits[index] = sum(w << (64 * i) for i, w in enumerate(self.staging[: a.edit_words]))

    def read(self, offset: int):
        """Expected value of a register read; None where the model does not
        predict it (capabilities, TIME, STATS_USED, an empty miss queue)."""
        a, r, f = self.abi, self.abi.regs, self.abi.f
        kw = a.key_words
        if offset == r["SCRATCH"]:
            return self.scratch
        if offset == r["STAGE_ACTION"]:
            return self.stage_action
        if offset == r["CTRL"]:
            return a.encode(CTRL_ENABLE=self.enable)
        if offset == r["STATUS"]:
            return a.encode(STATUS_BUSY=0, STATUS_CMD_ERROR=int(self.cmd_error))
        for n in self.counters:
            if offset == r["CNT_" + n]:
                return self.counters[n]
        if r["STAGE_KEY"] <= offset < r["STAGE_KEY"] + 8 * kw:
            return self.staging[(offset - r["STAGE_KEY"]) // 8]
        if offset == r["CMD"]:
            return self.cmd_word
        if offset == r["STATS_SEL"]:
            return self.stats_sel
        if offset == r["STATS_HITS"]:
            s = self.stats_sel
            return self.hits.get((f("STATS_TABLE").get(s), f("STATS_SLOT").get(s), f("STATS_INDEX").get(s)), 0)
        if offset == r["STATS_BYTES"]:
            s = self.stats_sel
            return self.bytes.get((f("STATS_TABLE").get(s), f("STATS_SLOT").get(s), f("STATS_INDEX").get(s)), 0)
        if offset == r["MISSQ_LEVEL"]:
            return len(self.missq)
        if not self.missq:
            return None
        key, h, tag = self.missq[0]
        if offset == r["MISSQ_META"]:
            return a.encode(MISS_HASH=h, MISS_TAG=tag)
        if r["MISSQ_KEY"] <= offset < r["MISSQ_KEY"] + 8 * kw:
            return key[(offset - r["MISSQ_KEY"]) // 8]
        return None

    # ---- lookups -------------------------------------------------------------

    def expected(self, key) -> int:
        """The result word for `key`, without side effects."""
        return self._find(key)[0]

    def _find(self, key):
        a, g = self.abi, self.g
        h = hash_key(key)
        for c in g.emc_candidates(h):
            e = self.emc[c]
            if e is not None and e[0] == list(key):
                return a.result("Emc", 0, c, e[1]), (0, 0, c)
        for s in range(g.mf_slots):
            if not self.mask_en[s]:
                continue
            m = self.masks[s]
            mk = [k & x for k, x in zip(key, m)]
            found = g.mf_lookup(self.mf[s], mk, hash_masked(key, m))
            if found is not None:
                i, e = found
                return a.result("Megaflow", s, i, e[1]), (1, s, i)
        return a.result("Miss"), None

    def lookup(self, key, tag: int, length: int = 0):
        """A lookup (of a frame of `length` bytes) leaving the pipeline:
        returns (result word, hash) and updates counters, per-entry hits and
        bytes, and the miss queue."""
        word, entry = self._find(key)
        h = hash_key(key)
        c = self.counters
        c["LOOKUPS"] += 1
        kind = self.abi.f("RESULT_KIND").get(word)
        if kind == self.abi.kinds["Emc"]:
            c["EMC_HITS"] += 1
        elif kind == self.abi.kinds["Megaflow"]:
            c["MF_HITS"] += 1
        else:
            c["MISSES"] += 1
            if len(self.missq) < self.g.missq_depth:
                self.missq.append((list(key), h, tag))
            else:
                c["MISS_DROPS"] += 1
        if entry is not None:
            self.hits[entry] = self.hits.get(entry, 0) + 1
            top = (1 << self.abi.stats_bytes_bits) - 1
            self.bytes[entry] = (self.bytes.get(entry, 0) + length) & top
        return word, h
