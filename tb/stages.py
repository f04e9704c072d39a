"""Shared pieces of the EMC-stage and megaflow-slot benches."""

from common import key_int
from model import load_abi


def entry_word(abi, key_words, flow, valid=True):
    """An entry word as the command engine writes it: key, then the flow id
    (CMD_FLOW_ID wide), then the valid bit (widths from the abi export)."""
    fw = abi.f("CMD_FLOW_ID").width
    return key_int(key_words) | (flow << abi.key_bits) | (int(valid) << (abi.key_bits + fw))


def find_delay(outs, want, max_delay=10):
    """The pipeline delay d with outs[i + d] == want[i] for every i."""
    for d in range(1, max_delay + 1):
        if all(i + d < len(outs) and outs[i + d] == w for i, w in enumerate(want)):
            return d
    return None


__all__ = ["entry_word", "find_delay", "load_abi"]
