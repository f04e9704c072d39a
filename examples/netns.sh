#!/usr/bin/env bash
# Two hosts in network namespaces (fph1 10.0.0.1, fph2 10.0.0.2), each wired
# by a veth pair to a third namespace fpsw, where `fastpath switch` runs on
# sw1 and sw2. `examples/netns.sh up` builds it, `examples/netns.sh down`
# removes it. Needs root and iproute2.
set -euo pipefail
case "${1:-}" in
up)
    for ns in fph1 fph2 fpsw; do
        ip netns add "$ns"
        ip netns exec "$ns" ip link set lo up
    done
    for i in 1 2; do
        ip link add "h$i" netns "fph$i" type veth peer name "sw$i" netns fpsw
        ip netns exec "fph$i" ip addr add "10.0.0.$i/24" dev "h$i"
        ip netns exec "fph$i" ip link set "h$i" up
        ip netns exec fpsw ip link set "sw$i" up
        # Full checksums on frames sent into the switch (as for OVS's
        # userspace datapath on veth); without ethtool, ping still works.
        if command -v ethtool >/dev/null; then
            ip netns exec "fph$i" ethtool -K "h$i" tx off >/dev/null
        fi
    done
    ;;
down)
    for ns in fph1 fph2 fpsw; do ip netns del "$ns" 2>/dev/null || true; done
    ;;
*)
    echo "usage: $0 up|down" >&2
    exit 2
    ;;
esac
