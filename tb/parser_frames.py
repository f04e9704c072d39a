"""Frames for the parser benches: crafted ones for every protocol and
every malformed reason, and random ones built from protocol headers, then
cut or damaged (the generator of host-fastpath/tests/parser_vs_extract.rs)."""

from __future__ import annotations

from model.frames import (arp, ethernet, icmp, ipv4, ipv6, ipv6_ah, ipv6_frag, ipv6_opts,
                          llc_snap, sctp, tcp, udp)

M = (0x505400000009, 0x02000A0B0C0D)
EXT = [0, 43, 60, 51, 44]
V6S, V6D = 1 << 120 | 5, 7 << 64 | 9


def v4(proto, l4, **kw):
    kw.setdefault("options", bytes([1] * 8))
    return ipv4(0x0A000002, 0xC0A80101, proto, l4, **kw)


def v6(next_, body, **kw):
    return ipv6(V6S, V6D, next_, body, **kw)


def eth(ty, payload, vlans=()):
    return ethernet(M[0], M[1], list(vlans), ty, payload)


def good_frames():
    """(name, frame): one well-formed frame per protocol and header kind."""
    t = tcp(80, 443, 0x1FF, bytes([1, 1, 1, 1]))
    return [
        ("eth", eth(0x88B5, bytes(50))),
        ("llc", eth(40, bytes([0x42, 0x42, 3]) + bytes(37))),
        ("snap-ipv4-icmp", eth(30, llc_snap(0x0800, v4(1, icmp(8, 0))))),
        ("ipv4-tcp", eth(0x0800, v4(6, t, tos=0xB8, ttl=17))),
        ("ipv4-udp", eth(0x0800, v4(17, udp(1, 2), options=b""))),
        ("ipv4-sctp", eth(0x0800, v4(132, sctp(9, 10, bytes(4))))),
        ("ipv4-icmp", eth(0x0800, v4(1, icmp(3, 4)))),
        ("ipv4-opts40-tcp", eth(0x0800, v4(6, t, options=bytes(range(40))))),
        ("ipv4-gre", eth(0x0800, v4(47, bytes(8)))),
        ("ipv4-frag-first", eth(0x0800, v4(17, udp(3, 4), frag=0x2000))),
        ("ipv4-frag-later", eth(0x0800, v4(17, udp(3, 4), frag=0x0010))),
        ("ipv4-frag-last", eth(0x0800, v4(6, t, frag=0x2010))),
        ("vlan-ipv4-udp", eth(0x0800, v4(17, udp(1, 2)), [(0x8100, 5)])),
        ("qinq-ipv6-icmpv6", eth(0x86DD, v6(58, icmp(128, 0)), [(0x88A8, 0xE005), (0x8100, 6)])),
        ("qinq-ipv4-tcp", eth(0x0800, v4(6, t), [(0x88A8, 0x2001), (0x8100, 0xF00F)])),
        ("arp", eth(0x0806, arp(1, 0x0A0B0C0D0E0F, 0x01020304, 0x111213141516, 0x05060708))),
        ("rarp", eth(0x8035, arp(4, 1, 2, 3, 4))),
        ("arp-op-300", eth(0x0806, arp(300, 1, 2, 3, 4))),
        ("ipv6-tcp", eth(0x86DD, v6(6, t, tclass=0xA5, flow_label=0x12345, hop_limit=3))),
        ("ipv6-udp", eth(0x86DD, v6(17, udp(7, 8)))),
        ("ipv6-sctp", eth(0x86DD, v6(132, sctp(7, 8)))),
        ("ipv6-hbh-rt-dst-frag-sctp", eth(0x86DD, v6(0, ipv6_opts(
            43, 0, ipv6_opts(60, 1, ipv6_frag(132, 0, True, sctp(9, 10))))))),
        ("ipv6-ah-frag-later", eth(0x86DD, v6(51, ipv6_ah(44, 1, ipv6_frag(6, 7, False, t))))),
        ("ipv6-frag-atomic-udp", eth(0x86DD, v6(44, ipv6_frag(17, 0, False, udp(5, 6))))),
        ("ipv6-four-ext-udp", eth(0x86DD, v6(0, ipv6_opts(43, 0, ipv6_opts(60, 0, ipv6_opts(
            51, 0, ipv6_ah(17, 1, udp(1, 2)))))))),
    ]


def malformed_frames():
    """(name, frame, vlan_limit, expected reason or exception name): one
    crafted frame per malformed reason and exception (more come from
    cutting the good frames)."""
    t = tcp(80, 443, 0x012)
    ip = bytearray(eth(0x0800, v4(6, t, options=b"")))
    bad_ihl = bytearray(ip)
    bad_ihl[14] = 0x44
    bad_tot = bytearray(ip)
    bad_tot[16:18] = (len(ip) - 14 + 1).to_bytes(2, "big")
    bad_tot_low = bytearray(ip)
    bad_tot_low[16:18] = (19).to_bytes(2, "big")
    bad_ver = bytearray(ip)
    bad_ver[14] = 0x65
    bad_off = bytearray(ip)
    bad_off[14 + 20 + 12] = 0x40
    bad_off_long = bytearray(ip)
    bad_off_long[14 + 20 + 12] = 0x60
    six = bytearray(eth(0x86DD, v6(17, udp(1, 2))))
    bad_plen = bytearray(six)
    bad_plen[18:20] = (len(six) - 54 + 1).to_bytes(2, "big")
    bad_ver6 = bytearray(six)
    bad_ver6[14] = 0x46
    bad_arp = bytearray(eth(0x0806, arp(1, 1, 2, 3, 4)))
    bad_arp[14 + 4] = 8
    ext_long = eth(0x86DD, v6(0, ipv6_opts(17, 5, udp(1, 2))))
    ext_cut = bytearray(ext_long)
    ext_cut[18:20] = (16).to_bytes(2, "big")  # payload ends inside the 48-byte header
    five_ext = eth(0x86DD, v6(0, ipv6_opts(43, 0, ipv6_opts(60, 0, ipv6_opts(
        60, 0, ipv6_opts(43, 0, ipv6_opts(17, 0, udp(1, 2))))))))
    # IPv6 at 14, its extensions at 54: (len8 + 1) * 8 or (len4 + 2) * 4 bytes
    # put L4 (or the next extension header) at or just past the window's edge.
    pad = bytes(30)
    past_udp = eth(0x86DD, v6(0, ipv6_opts(17, 8, udp(5, 6, pad))))  # UDP at 126
    past_ext = eth(0x86DD, v6(0, ipv6_opts(60, 8, ipv6_opts(17, 0, udp(5, 6, pad)))))
    edge_icmp = eth(0x86DD, v6(0, ipv6_opts(58, 8, icmp(1, 2, pad))))  # type/code 126..128
    past_icmp = eth(0x86DD, v6(51, ipv6_ah(58, 17, icmp(1, 2, pad))))  # at 130
    edge_tcp = eth(0x86DD, v6(51, ipv6_ah(6, 13, tcp(1, 2, 0x10, b"", pad))))  # at 114
    past_tcp = eth(0x86DD, v6(51, ipv6_ah(6, 14, tcp(1, 2, 0x10, b"", pad))))  # at 118
    big = eth(0x0800, v4(17, udp(1, 2)))
    big = big + bytes(0x10000 - len(big))
    big_qinq = eth(0x0800, v4(17, udp(1, 2)), [(0x88A8, 1), (0x8100, 2)])
    big_qinq = big_qinq + bytes(0x10001 - len(big_qinq))
    return [
        ("runt", bytes(13), 1, "too_short_eth"),
        ("oversized", big, 1, "oversized_frame"),
        ("vlan-cut", eth(0x0800, b"")[:12] + bytes([0x81, 0, 0, 5, 8]), 1, "truncated_vlan"),
        ("qinq-limit-1", eth(0x0800, v4(6, t), [(0x88A8, 1), (0x8100, 2)]), 1, "too_many_vlans"),
        ("three-tags", eth(0x0800, v4(6, t), [(0x8100, 1), (0x8100, 2), (0x8100, 3)]), 2,
         "too_many_vlans"),
        ("arp-cut", eth(0x0806, arp(1, 1, 2, 3, 4))[:14 + 27], 1, "truncated_arp"),
        ("arp-bad", bytes(bad_arp), 1, "bad_arp_format"),
        ("ipv4-cut", bytes(ip[:14 + 19]), 1, "truncated_ipv4"),
        ("ipv4-ihl", bytes(bad_ihl), 1, "bad_ipv4_ihl"),
        ("ipv4-tot-high", bytes(bad_tot), 1, "bad_ipv4_total_len"),
        ("ipv4-tot-low", bytes(bad_tot_low), 1, "bad_ipv4_total_len"),
        ("ipv4-version-6", bytes(bad_ver), 1, None),
        ("ipv6-cut", bytes(six[:14 + 39]), 1, "truncated_ipv6"),
        ("ipv6-plen", bytes(bad_plen), 1, "bad_ipv6_payload_len"),
        ("ipv6-version-4", bytes(bad_ver6), 1, None),
        ("ipv6-ext-cut", bytes(ext_cut), 1, "truncated_ipv6_ext"),
        ("tcp-cut", eth(0x0800, v4(6, t[:19], options=b"")), 1, "truncated_tcp"),
        ("tcp-offset-4", bytes(bad_off), 1, "bad_tcp_offset"),
        ("tcp-offset-past", bytes(bad_off_long), 1, "bad_tcp_offset"),
        ("udp-cut", eth(0x0800, v4(17, udp(1, 2)[:7])), 1, "truncated_udp"),
        ("sctp-cut", eth(0x86DD, v6(132, sctp(1, 2)[:11])), 1, "truncated_sctp"),
        ("icmp-cut", eth(0x0800, v4(1, icmp(8, 0)[:7])), 1, "truncated_icmp"),
        ("icmpv6-cut", eth(0x86DD, v6(58, icmp(128, 0)[:7])), 1, "truncated_icmpv6"),
        ("five-ext", five_ext, 1, "too_many_ipv6_ext"),
        # Neighbour discovery: host-only key fields, so the host parses it;
        # another code or type is an ordinary ICMPv6 key.
        ("nd-solicit", eth(0x86DD, v6(58, icmp(135, 0, bytes(16) + bytes([1, 1, 2, 0, 0, 0, 0, 7])))), 1,
         "neighbor_discovery"),
        ("nd-advert", eth(0x86DD, v6(58, icmp(136, 0, bytes(20)))), 1, "neighbor_discovery"),
        ("nd-code-1", eth(0x86DD, v6(58, icmp(135, 1, bytes(20)))), 1, None),
        ("ipv4-proto-58-nd", eth(0x0800, v4(58, icmp(136, 0, bytes(20)))), 1, None),
        ("past-window-udp", past_udp, 1, "past_window"),
        ("past-window-ext", past_ext, 1, "past_window"),
        ("window-edge-icmpv6", edge_icmp, 1, None),
        ("past-window-icmpv6", past_icmp, 1, "past_window"),
        ("window-edge-tcp", edge_tcp, 1, None),
        ("past-window-tcp", past_tcp, 1, "past_window"),
        ("oversized-qinq", big_qinq, 1, "past_window"),
    ]


def cuts(frames):
    """Every prefix of every frame: truncation at each header boundary."""
    return [f[:n] for f in frames for n in range(len(f) + 1)]


def random_frame(r) -> bytes:
    """A random frame from protocol headers, maybe padded, cut or damaged."""
    mac = lambda: r.getrandbits(48)  # noqa: E731
    nvlan = r.choice([0, 0, 0, 1, 1, 2, 2, 3])
    vlans = [(r.choice([0x8100, 0x88A8]), r.getrandbits(16)) for _ in range(nvlan)]
    rb = lambda n: bytes(r.getrandbits(8) for _ in range(n))  # noqa: E731

    def l4(proto):
        pay = rb(r.randrange(40))
        if proto == 6:
            return tcp(r.getrandbits(16), r.getrandbits(16), r.getrandbits(16),
                       rb(r.randrange(3) * 4), pay)
        if proto == 17:
            return udp(r.getrandbits(16), r.getrandbits(16), pay)
        if proto == 132:
            return sctp(r.getrandbits(16), r.getrandbits(16), pay)
        if proto in (1, 58):
            return icmp(r.getrandbits(8), r.getrandbits(8), pay)
        return pay

    protos = [6, 17, 132, 1, 58, 47, 6, 17]
    k = r.randrange(10)
    if k <= 3:
        proto = r.choice(protos)
        ty, l3 = 0x0800, ipv4(r.getrandbits(32), r.getrandbits(32), proto, l4(proto),
                              tos=r.getrandbits(8), ttl=r.getrandbits(8),
                              frag=r.choice([0, 0, 0, 0x2000, 0x0010, 0x2010, r.getrandbits(16)]),
                              options=rb(r.randrange(4) * r.randrange(11))[:40])
    elif k <= 6:
        proto = r.choice(protos)
        body, nxt = l4(proto), proto
        for _ in range(r.choice([0, 0, 1, 2, 3, 4, 5, 6])):
            e = r.choice(EXT)
            if e == 44:
                body = ipv6_frag(nxt, r.choice([0, 0, 1, 185]), r.random() < 0.5, body)
            elif e == 51:
                body = ipv6_ah(nxt, r.randrange(4), body)
            else:
                body = ipv6_opts(nxt, r.choice([0, 0, 1, 2, 9]), body)
            nxt = e
        ty, l3 = 0x86DD, ipv6(r.getrandbits(128), r.getrandbits(128), nxt, body,
                              tclass=r.getrandbits(8), flow_label=r.getrandbits(20),
                              hop_limit=r.getrandbits(8))
    elif k == 7:
        a = bytearray(arp(r.randrange(3) * 0x80 + r.randrange(3), mac(), r.getrandbits(32),
                          mac(), r.getrandbits(32)))
        if r.random() < 0.1:
            a[r.randrange(6)] ^= 1 << r.randrange(8)
        ty, l3 = r.choice([0x0806, 0x8035]), bytes(a)
    elif k == 8:
        inner = ipv4(r.getrandbits(32), r.getrandbits(32), 17,
                     udp(r.getrandbits(16), r.getrandbits(16)))
        p = llc_snap(r.choice([0x0800, 0x86DD, 0x0500]), inner) if r.random() < 0.6 else inner
        ty, l3 = len(p), p
    else:
        ty, l3 = r.getrandbits(16), rb(r.randrange(60))
    f = bytearray(ethernet(mac(), mac(), vlans, ty, l3))
    if r.random() < 0.3:
        f += rb(r.randrange(40))
    k = r.randrange(10)
    if k <= 1:
        del f[r.randrange(len(f) + 1):]
    elif k == 2 and f:
        f[r.randrange(min(len(f), 80))] = r.getrandbits(8)
    return bytes(f)
