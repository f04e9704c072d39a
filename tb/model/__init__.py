"""Python reference model of the fastpath ABI and pipeline.

Every constant (field positions, register offsets, opcodes, hit kinds, test
vectors) is read from the abi crate's JSON export
(`cargo run -p abi --example abi-export -- json`); nothing is restated here.
"""

from .abi import Abi, load_abi
from .hashing import crc32c, hash_masked, hash_key
from .geometry import Geometry, emc_candidates, cuckoo_buckets, signatures
from .pipeline import PipelineModel

__all__ = [
    "Abi",
    "load_abi",
    "crc32c",
    "hash_masked",
    "hash_key",
    "Geometry",
    "emc_candidates",
    "cuckoo_buckets",
    "signatures",
    "PipelineModel",
]
