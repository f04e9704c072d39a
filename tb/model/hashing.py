"""The key hash: CRC-32C over the 64 little-endian bytes of key & mask."""

from __future__ import annotations

try:
    import crcmod.predefined

    _crc = crcmod.predefined.mkCrcFun("crc-32c")
except ImportError:  # pure-Python fallback (reflected 0x82F63B78)
    _T = []
    for _i in range(256):
        _c = _i
        for _ in range(8):
            _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
        _T.append(_c)

    def _crc(data: bytes) -> int:
        c = 0xFFFFFFFF
        for b in data:
            c = _T[(c ^ b) & 0xFF] ^ (c >> 8)
        return c ^ 0xFFFFFFFF


def crc32c(data: bytes) -> int:
    return _crc(data)


def key_bytes(words) -> bytes:
    return b"".join(int(w).to_bytes(8, "little") for w in words)


def hash_masked(key, mask) -> int:
    return crc32c(key_bytes(k & m for k, m in zip(key, mask)))


def hash_key(key) -> int:
    return crc32c(key_bytes(key))
