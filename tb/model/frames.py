"""Frame builders for the parser benches: the same bytes as
host-fastpath/src/extract/frame.rs (every length filled in, the IPv4
checksum computed), so crafted frames read like the Rust tests'."""

from __future__ import annotations


def _be(v: int, n: int) -> bytes:
    return (v & ((1 << (8 * n)) - 1)).to_bytes(n, "big")


def ethernet(dst: int, src: int, vlans, eth_type: int, payload: bytes) -> bytes:
    """`vlans`: (TPID, TCI) pairs, outer first."""
    f = _be(dst, 6) + _be(src, 6)
    for tpid, tci in vlans:
        f += _be(tpid, 2) + _be(tci, 2)
    return f + _be(eth_type, 2) + payload


def llc_snap(eth_type: int, payload: bytes) -> bytes:
    return bytes([0xAA, 0xAA, 0x03, 0, 0, 0]) + _be(eth_type, 2) + payload


def ipv4(src: int, dst: int, proto: int, payload: bytes, tos=0, ttl=64, frag=0,
         options=b"") -> bytes:
    opts = bytes(options) + bytes(-len(options) % 4)
    hlen = 20 + len(opts)
    h = bytearray(bytes([0x40 | hlen // 4, tos]) + _be(hlen + len(payload), 2) + _be(0x1234, 2)
                  + _be(frag, 2) + bytes([ttl, proto, 0, 0]) + _be(src, 4) + _be(dst, 4) + opts)
    s = sum(int.from_bytes(h[i:i + 2], "big") for i in range(0, len(h), 2))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    h[10:12] = _be(~s, 2)
    return bytes(h) + payload


def ipv6(src: int, dst: int, next_: int, payload: bytes, tclass=0, flow_label=0,
         hop_limit=64) -> bytes:
    vtf = (6 << 28) | (tclass << 20) | (flow_label & 0xFFFFF)
    return (_be(vtf, 4) + _be(len(payload), 2) + bytes([next_, hop_limit]) + _be(src, 16)
            + _be(dst, 16) + payload)


def ipv6_opts(next_: int, len8: int, payload: bytes) -> bytes:
    """Hop-by-hop, routing or destination options: (len8 + 1) * 8 bytes."""
    total = (len8 + 1) * 8
    return (bytes([next_, len8, 1, total - 4]) + bytes(total - 4)) + payload


def ipv6_ah(next_: int, len4: int, payload: bytes) -> bytes:
    total = (len4 + 2) * 4
    return bytes([next_, len4]) + bytes(total - 2) + payload


def ipv6_frag(next_: int, offset8: int, more: bool, payload: bytes) -> bytes:
    return bytes([next_, 0]) + _be((offset8 << 3) | int(more), 2) + _be(0xDEADBEEF, 4) + payload


def tcp(src: int, dst: int, flags: int, options=b"", payload=b"") -> bytes:
    opts = bytes(options) + bytes(-len(options) % 4)
    hlen = 20 + len(opts)
    ctl = ((hlen // 4) << 12) | (flags & 0x0FFF)
    return (_be(src, 2) + _be(dst, 2) + _be(1, 4) + _be(0, 4) + _be(ctl, 2) + _be(0xFFFF, 2)
            + bytes(4) + opts + payload)


def udp(src: int, dst: int, payload=b"") -> bytes:
    return _be(src, 2) + _be(dst, 2) + _be(8 + len(payload), 2) + bytes(2) + payload


def sctp(src: int, dst: int, payload=b"") -> bytes:
    return _be(src, 2) + _be(dst, 2) + _be(0x01020304, 4) + bytes(4) + payload


def icmp(ty: int, code: int, payload=b"") -> bytes:
    return bytes([ty, code, 0, 0, 0, 1, 0, 1]) + payload


def arp(op: int, sha: int, spa: int, tha: int, tpa: int) -> bytes:
    return (_be(1, 2) + _be(0x0800, 2) + bytes([6, 4]) + _be(op, 2) + _be(sha, 6) + _be(spa, 4)
            + _be(tha, 6) + _be(tpa, 4))
