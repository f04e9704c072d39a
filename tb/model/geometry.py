"""Table geometry and candidate positions (abi::geometry)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from .hashing import hash_key


@dataclass(frozen=True)
class Geometry:
    emc_log2_entries: int
    mf_slots: int
    mf_log2_buckets: int
    mf_bucket_slots: int
    missq_log2_depth: int

    def __post_init__(self) -> None:
        k = self.mf_bucket_slots
        if k < 1 or k & (k - 1):
            raise ValueError(f"geometry field mf_bucket_slots = {k} is not a power of two")

    @property
    def mf_log2_bucket_slots(self) -> int:
        return self.mf_bucket_slots.bit_length() - 1

    @classmethod
    def from_dict(cls, d: dict) -> "Geometry":
        return cls(**{k: int(d[k]) for k in cls.__dataclass_fields__})

    @classmethod
    def from_toml(cls, path: Path) -> "Geometry":
        return cls.from_dict(tomllib.loads(Path(path).read_text()))

    @property
    def emc_entries(self) -> int:
        return 1 << self.emc_log2_entries

    @property
    def mf_buckets(self) -> int:
        return 1 << self.mf_log2_buckets

    @property
    def mf_entries_per_slot(self) -> int:
        return self.mf_buckets << self.mf_log2_bucket_slots

    @property
    def missq_depth(self) -> int:
        return 1 << self.missq_log2_depth

    def mf_index(self, bucket: int, way: int) -> int:
        return bucket << self.mf_log2_bucket_slots | way

    def emc_candidates(self, h: int) -> list[int]:
        return emc_candidates(h, self.emc_log2_entries)

    def cuckoo_buckets(self, h: int) -> list[int]:
        return cuckoo_buckets(h, self.mf_log2_buckets)

    def mf_lookup(self, table, mk, h: int):
        """The megaflow slot's search of `table` (index -> (masked key, flow)
        or None) for masked key `mk` with hash `h`: per bank (A first), the
        first valid way whose signature matches is the only one compared."""
        sigs = signatures(h)
        for bank, b in enumerate(self.cuckoo_buckets(h)):
            for w in range(self.mf_bucket_slots):
                i = self.mf_index(b, w)
                e = table[i]
                if e is not None and signatures(hash_key(e[0]))[bank] == sigs[bank]:
                    if e[0] == mk:
                        return i, e
                    break
        return None


def emc_candidates(h: int, log2: int) -> list[int]:
    """One candidate per bank (half = 2^(log2-1) entries each): the low
    log2-1 bits of the hash in bank A, the next log2-1 bits in bank B."""
    half = 1 << (log2 - 1)
    m = half - 1
    return [h & m, half | ((h >> (log2 - 1)) & m)]


def signatures(h: int) -> list[int]:
    """A masked key's signature in bank A (hash bits 31..16) and bank B
    (bits 15..0): the bits that did not choose its bucket there."""
    return [(h >> 16) & 0xFFFF, h & 0xFFFF]


def cuckoo_buckets(h: int, log2: int) -> list[int]:
    """One bucket per bank (half = 2^(log2-1) buckets each): low bits of the
    hash in bank A, low bits of the hash rotated right by 16 in bank B."""
    half = 1 << (log2 - 1)
    m = half - 1
    rot = ((h >> 16) | (h << 16)) & 0xFFFFFFFF
    return [h & m, half | (rot & m)]
