"""Reference model of the hardware parser (`fastpath_parser`): frame bytes,
in port and VLAN limit → the 512-bit key (abi layout) and the abi `meta`
word (in port, length, malformed reason, bad_ip_version, exception).

Written from the contract (abi/src/parser.rs) and the host's software
parser (host-fastpath/src/extract/parse.rs, Open vSwitch's
miniflow_extract), decision for decision in its order. Field positions,
reason and exception codes, the window, the VLAN and extension-header
limits come from the abi JSON export. Protocol numbers (Ethernet types, IP
protocols, header lengths) are the IEEE/IANA values extract also spells.

`window=False` is the software parser (what `extract` gives, never an
exception); `window=True` the hardware: a read extract would do on bytes
the frame has but the first `parse_window_bytes` lack, or a walk past
`max_ipv6_ext_headers` extension headers, gives an exception and no key.
"""

from __future__ import annotations

from dataclasses import dataclass

ETH_TYPE_MIN = 0x0600
DL_TYPE_NONE = 0x05FF
ETH_IP, ETH_ARP, ETH_RARP, ETH_IPV6 = 0x0800, 0x0806, 0x8035, 0x86DD
VLAN_TPIDS = (0x8100, 0x88A8)
HOPOPTS, ICMP, TCP, UDP, ROUTING, FRAGMENT, AH, ICMPV6, DSTOPTS, SCTP = (
    0, 1, 6, 17, 43, 44, 51, 58, 60, 132)
IPV6_EXT = (HOPOPTS, ROUTING, DSTOPTS, AH, FRAGMENT)
ETH_LEN, IPV4_LEN, IPV6_LEN, ARP_LEN = 14, 20, 40, 28
L4_LEN = {TCP: 20, UDP: 8, SCTP: 12, ICMP: 8, ICMPV6: 8}
L4_REASON = {TCP: "truncated_tcp", UDP: "truncated_udp", SCTP: "truncated_sctp",
             ICMP: "truncated_icmp", ICMPV6: "truncated_icmpv6"}
# Bytes of each transport header the hardware reads (ports or type/code;
# TCP also its offset/flags at 12..14): the rest of the window check.
L4_READ = {TCP: 14, UDP: 4, SCTP: 4, ICMP: 2, ICMPV6: 2}
# Bytes of every IPv6 extension header the hardware reads: next header,
# length and the fragment header's offset word (the same slice for all).
EXT_READ = 4


class _Exception(Exception):
    def __init__(self, name: str):
        self.name = name


@dataclass
class Verdict:
    """One frame's result: key words, reason name (or None), flags."""

    key: list
    reason: str | None
    bad_ip_version: bool
    exception: str | None
    frame_len: int
    in_port: int


def _u(b: bytes, i: int, n: int) -> int:
    return int.from_bytes(b[i:i + n], "big")


class ParserModel:
    def __init__(self, abi):
        p = abi.data["parser"]
        kv = abi.data["key_values"]
        self.abi = abi
        self.window = p["parse_window_bytes"]
        # ICMPv6 neighbour solicitation and advertisement (code 0): exceptions.
        self.nd_types = tuple(p["nd_types"])
        self.max_vlans = p["max_vlan_headers"]
        self.max_ext = p["max_ipv6_ext_headers"]
        self.max_frame_len = p["max_frame_len"]
        self.port_bits = p["tuser_in_port_bits"]
        self.reasons = p["malformed"]
        self.exceptions = p["exceptions"]
        self.reason_names = {v: k for k, v in self.reasons.items()}
        self.exception_names = {v: k for k, v in self.exceptions.items()}
        self.sb = {f["name"]: f for f in p["sideband"]}
        self.vlan_present = kv["vlan_present"]
        self.frag_any = kv["frag_any"]
        self.frag_later = kv["frag_later"]
        self.kf = abi.key_fields

    # ---- public API

    def vlan_limit(self, limit: int) -> int:
        """`vlan-limit` as OVS reads it: 0 = all the key holds; capped."""
        return self.max_vlans if limit == 0 else min(limit, self.max_vlans)

    def verdict(self, frame: bytes, in_port: int, vlan_limit: int, window: bool) -> Verdict:
        st = _State(self, bytes(frame), in_port, self.vlan_limit(vlan_limit), window)
        exc = None
        try:
            st.parse()
        except _Exception as e:
            exc = e.name
        if exc is not None:
            return Verdict([0] * self.abi.key_words, None, False, exc, len(frame), in_port)
        return Verdict(st.w, st.reason, st.badver, None, len(frame), in_port)

    def meta(self, v: Verdict) -> int:
        """The `meta` word of a verdict (an exception clears reason and flag)."""
        def put(w, name, val):
            f = self.sb[name]
            assert 0 <= val < (1 << f["width"]), (name, val)
            return w | (val << f["offset"])
        w = put(0, "SB_IN_PORT", v.in_port)
        w = put(w, "SB_FRAME_LEN", min(v.frame_len, (1 << self.sb["SB_FRAME_LEN"]["width"]) - 1))
        if v.exception is not None:
            return put(w, "SB_EXCEPTION", self.exceptions[v.exception])
        w = put(w, "SB_MALFORMED", self.reasons[v.reason] if v.reason else 0)
        return put(w, "SB_BAD_IP_VERSION", int(v.bad_ip_version))

    def parse(self, frame: bytes, in_port: int, vlan_limit: int, window: bool = True):
        """(key words, meta word): the hardware's result with `window`,
        the software parser's without."""
        v = self.verdict(frame, in_port, vlan_limit, window)
        return v.key, self.meta(v)

    def decode_meta(self, word: int) -> dict:
        """Meta word → {in_port, frame_len, malformed, bad_ip_version, exception}."""
        g = {n: (word >> f["offset"]) & ((1 << f["width"]) - 1) for n, f in self.sb.items()}
        return {
            "in_port": g["SB_IN_PORT"],
            "frame_len": g["SB_FRAME_LEN"],
            "malformed": self.reason_names.get(g["SB_MALFORMED"], g["SB_MALFORMED"] or None),
            "bad_ip_version": bool(g["SB_BAD_IP_VERSION"]),
            "exception": self.exception_names.get(g["SB_EXCEPTION"], g["SB_EXCEPTION"] or None),
        }


class _State:
    def __init__(self, m: ParserModel, f: bytes, port: int, limit: int, window: bool):
        self.m, self.f, self.limit, self.win = m, f, limit, window
        self.w = [0] * m.abi.key_words
        self.reason = None
        self.badver = False
        self.put("IN_PORT", port)

    def put(self, name: str, v: int):
        fld = self.m.kf[name]
        self.w[fld.word] |= (v & fld.mask) << fld.shift

    def stop(self, reason: str):
        assert self.reason is None, (self.reason, reason)
        self.reason = reason

    def read(self, pos: int, n: int):
        """The hardware reads frame bytes pos..pos+n: past the window, the
        key depends on bytes it cannot see."""
        if self.win and pos + n > self.m.window:
            raise _Exception("past_window")

    def parse(self):
        f = self.f
        if len(f) < ETH_LEN:
            self.stop("too_short_eth")
            return
        self.put("DL_DST", _u(f, 0, 6))
        self.put("DL_SRC", _u(f, 6, 6))
        pos, ty, tags = 12, _u(f, 12, 2), 0
        while ty in VLAN_TPIDS:
            if tags == self.limit:
                self.stop("too_many_vlans")
                break
            if len(f) - pos < 6:
                self.stop("truncated_vlan")
                break
            tci = _u(f, pos + 2, 2) | self.m.vlan_present
            self.put("VLAN_TCI" if tags == 0 else "VLAN_TCI2", tci)
            tags += 1
            pos += 4
            ty = _u(f, pos, 2)
        pos += 2
        if ty >= ETH_TYPE_MIN:
            dl = ty
        else:
            dl = DL_TYPE_NONE
            llc = f[pos:pos + 8]
            if len(llc) == 8 and llc[:6] == bytes([0xAA, 0xAA, 3, 0, 0, 0]):
                pos += 8
                t = _u(llc, 6, 2)
                dl = t if t >= ETH_TYPE_MIN else DL_TYPE_NONE
        self.put("DL_TYPE", dl)
        if len(f) > self.m.max_frame_len:
            if self.reason is not None:
                # extract counts the VLAN reason and oversized_frame: one
                # reason code cannot say both, so the hardware hands the
                # frame to the host.
                if self.win:
                    raise _Exception("past_window")
                raise ValueError(f"extract counts {self.reason} and oversized_frame")
            self.reason = None
            self.stop("oversized_frame")
            return
        if self.reason is not None:
            return
        if dl == ETH_IP:
            self.ipv4(pos)
        elif dl == ETH_IPV6:
            self.ipv6(pos)
        elif dl in (ETH_ARP, ETH_RARP):
            self.arp(pos)

    def ipv4(self, pos):
        h = self.f[pos:]
        if len(h) < IPV4_LEN:
            return self.stop("truncated_ipv4")
        ihl = (h[0] & 0x0F) * 4
        if ihl < IPV4_LEN:
            return self.stop("bad_ipv4_ihl")
        if len(h) < ihl:
            return self.stop("truncated_ipv4")
        tot = _u(h, 2, 2)
        if tot > len(h) or tot < ihl:
            return self.stop("bad_ipv4_total_len")
        self.read(pos, IPV4_LEN)
        if h[0] >> 4 != 4:
            self.badver = True
        self.put("NW_SRC", _u(h, 12, 4))
        self.put("NW_DST", _u(h, 16, 4))
        fo = _u(h, 6, 2)
        frag = 0
        if fo & 0x3FFF:
            frag = self.m.frag_any
            if fo & 0x1FFF:
                frag |= self.m.frag_later
        proto = h[9]
        self.put("NW_TOS", h[1])
        self.put("NW_TTL", h[8])
        self.put("NW_PROTO", proto)
        self.put("NW_FRAG", frag)
        if not frag & self.m.frag_later:
            self.l4(pos + ihl, pos + tot, proto, False)

    def ipv6(self, pos):
        h = self.f[pos:]
        if len(h) < IPV6_LEN:
            return self.stop("truncated_ipv6")
        plen = _u(h, 4, 2)
        if IPV6_LEN + plen > len(h):
            return self.stop("bad_ipv6_payload_len")
        self.read(pos, IPV6_LEN)
        if h[0] >> 4 != 6:
            self.badver = True
        self.put("IPV6_SRC_HI", _u(h, 8, 8))
        self.put("IPV6_SRC_LO", _u(h, 16, 8))
        self.put("IPV6_DST_HI", _u(h, 24, 8))
        self.put("IPV6_DST_LO", _u(h, 32, 8))
        tos = (_u(h, 0, 4) >> 20) & 0xFF
        ttl, proto, frag = h[7], h[6], 0
        p, end = pos + IPV6_LEN, pos + IPV6_LEN + plen
        walked = 0
        while proto in IPV6_EXT:
            if self.win and walked == self.m.max_ext:
                raise _Exception("too_many_ipv6_ext")
            if end - p < 8:
                # OVS keeps the addresses, not proto/tos/ttl/frag.
                return self.stop("truncated_ipv6_ext")
            self.read(p, EXT_READ)
            nxt, ln = self.f[p], self.f[p + 1]
            size = (ln + 2) * 4 if proto == AH else 8 if proto == FRAGMENT else (ln + 1) * 8
            if end - p < size:
                return self.stop("truncated_ipv6_ext")
            is_frag = proto == FRAGMENT
            offlg = _u(self.f, p + 2, 2)
            proto = nxt
            p += size
            walked += 1
            if is_frag and offlg:
                frag = self.m.frag_any
                if offlg & 0xFFF8:
                    # Later fragment: OVS reports the fragment header as proto.
                    frag |= self.m.frag_later
                    proto = FRAGMENT
                    break
        self.put("NW_TOS", tos)
        self.put("NW_TTL", ttl)
        self.put("NW_PROTO", proto)
        self.put("NW_FRAG", frag)
        if not frag & self.m.frag_later:
            self.l4(p, end, proto, True)

    def arp(self, pos):
        a = self.f[pos:]
        if len(a) < ARP_LEN:
            return self.stop("truncated_arp")
        if _u(a, 0, 2) != 1 or _u(a, 2, 2) != ETH_IP or a[4] != 6 or a[5] != 4:
            return self.stop("bad_arp_format")
        self.read(pos, ARP_LEN)
        self.put("NW_SRC", _u(a, 14, 4))
        self.put("NW_DST", _u(a, 24, 4))
        op = _u(a, 6, 2)
        if op <= 0xFF:  # OVS keeps only opcodes that fit nw_proto
            self.put("NW_PROTO", op)
        self.put("ARP_SHA", _u(a, 8, 6))
        self.put("ARP_THA", _u(a, 18, 6))

    def l4(self, pos, end, proto, v6):
        """Transport header at `pos`; the IP packet ends at `end` (padding
        behind it is never L4)."""
        if proto not in L4_LEN:
            return
        t = self.f[pos:end]
        if len(t) < L4_LEN[proto]:
            return self.stop(L4_REASON[proto])
        self.read(pos, L4_READ[proto])
        if proto == TCP:
            hl = (t[12] >> 4) * 4
            if hl < L4_LEN[TCP] or hl > len(t):
                return self.stop("bad_tcp_offset")
            self.put("TCP_FLAGS", _u(t, 12, 2) & 0x0FFF)
        if self.win and v6 and proto == ICMPV6 and t[1] == 0 and t[0] in self.m.nd_types:
            # abi::parser::is_nd: the key has host-only fields.
            raise _Exception("neighbor_discovery")
        if proto in (ICMP, ICMPV6):
            self.put("TP_SRC", t[0])
            self.put("TP_DST", t[1])
        else:
            self.put("TP_SRC", _u(t, 0, 2))
            self.put("TP_DST", _u(t, 2, 2))
