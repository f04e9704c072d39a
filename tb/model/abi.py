"""The abi contract, loaded from the abi crate's JSON export."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_JSON = REPO / "build" / "abi.json"


@dataclass(frozen=True)
class BitField:
    """A run of bits in an array of 64-bit words (LSB-first global offset)."""

    name: str
    offset: int
    width: int

    @property
    def word(self) -> int:
        return self.offset // 64

    @property
    def shift(self) -> int:
        return self.offset % 64

    @property
    def mask(self) -> int:
        return (1 << self.width) - 1

    def get(self, words) -> int:
        """Reads the field from a word list (or a single int word)."""
        w = words if isinstance(words, int) else words[self.word]
        return (w >> self.shift) & self.mask

    def put(self, word: int, value: int) -> int:
        """Returns `word` with the field (which must lie in it) set to `value`."""
        if value & ~self.mask:
            raise ValueError(f"{self.name}: {value:#x} does not fit {self.width} bits")
        return (word & ~(self.mask << self.shift)) | (value << self.shift)


class Abi:
    """Constants of the hardware/software contract."""

    def __init__(self, data: dict):
        self.data = data
        self.key_words: int = data["key_words"]
        self.key_bits = 64 * self.key_words
        self.hash_id: int = data["hash_id"]
        self.key_fields = {f["name"]: BitField(**f) for f in data["key_fields"]}
        self.layouts = {
            name: {f["name"]: BitField(**f) for f in fields}
            for name, fields in data["layouts"].items()
        }
        self.fields = {n: f for lay in self.layouts.values() for n, f in lay.items()}
        self.regs: dict[str, int] = data["registers"]
        # Register blocks of the declared layout: name -> type, major, minor, base, size.
        self.blocks: dict[str, dict] = data["blocks"]
        self.ops: dict[str, int] = data["ops"]
        self.op_names = {v: k for k, v in self.ops.items()}
        self.kinds: dict[str, int] = data["hit_kinds"]
        self.emc_ways: int = data["emc_ways"]
        self.stats_bytes_bits: int = data["stats_bytes_bits"]
        self.stats_len_bits: int = data["stats_len_bits"]
        self.edit_entries: int = data["edit_entries"]
        self.edit_words: int = data["edit_words"]
        self.default_geometry: dict = data["default_geometry"]
        self.default_capability = {
            int(k): int(v, 16) for k, v in data["default_capability_registers"].items()
        }
        self.test_vectors = [
            (
                [int(w, 16) for w in v["key"]],
                [int(w, 16) for w in v["mask"]],
                int(v["hash"], 16),
            )
            for v in data["hash_test_vectors"]
        ]

    def f(self, name: str) -> BitField:
        """A register-layout field by name (e.g. `CMD_OP`)."""
        return self.fields[name]

    def encode(self, **values: int) -> int:
        """One word from layout fields: `encode(CMD_OP=3, CMD_SLOT=1)`."""
        w = 0
        for name, v in values.items():
            w = self.fields[name].put(w, v)
        return w

    def command(self, op: str, slot: int = 0, index: int = 0, flow_id: int = 0) -> int:
        return self.encode(
            CMD_OP=self.ops[op], CMD_SLOT=slot, CMD_INDEX=index, CMD_FLOW_ID=flow_id
        )

    def result(self, kind: str, slot: int = 0, index: int = 0, flow_id: int = 0) -> int:
        return self.encode(
            RESULT_KIND=self.kinds[kind],
            RESULT_SLOT=slot,
            RESULT_INDEX=index,
            RESULT_FLOW_ID=flow_id,
        )

    def key(self, **fields: int) -> list[int]:
        """A key (list of words) from field values by lower-case name."""
        words = [0] * self.key_words
        for name, v in fields.items():
            f = self.key_fields[name.upper()]
            words[f.word] = f.put(words[f.word], v)
        return words


def load_abi(path: str | os.PathLike | None = None) -> Abi:
    """Loads the export from `path`, `$FASTPATH_ABI_JSON` or build/abi.json,
    generating the latter with cargo when it is missing."""
    p = Path(path or os.environ.get("FASTPATH_ABI_JSON") or DEFAULT_JSON)
    if not p.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(
            ["cargo", "run", "-q", "-p", "abi", "--example", "abi-export", "--", "json"],
            cwd=REPO,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        p.write_text(out)
    return Abi(json.loads(p.read_text()))
