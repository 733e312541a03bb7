#!/usr/bin/env bash
# Nodes for the QEMU driver on one host: a network namespace per node, each joined to a bridge by
# a veth pair whose namespace end sends at most RATE (tc tbf), so that a migration between two of
# them crosses a real, limited link. Node k (from 1) has the address 10.231.0.k; its QEMU
# processes run inside its namespace (`ip netns exec`), as the driver's `namespace` says.
#
# usage: scripts/qemu_nodes.sh up   PREFIX N [RATE]   namespaces PREFIX-1 … PREFIX-N (RATE e.g. 200mbit, default 1gbit)
#        scripts/qemu_nodes.sh down PREFIX            removes them and the bridge
#
# The qemu object of poolswap's configuration then names them, e.g. for node 1:
#   {"id": "node-1", "capacity": [4, 4, 0], "namespace": "PREFIX-1", "address": "10.231.0.1", "bandwidthMbit": 200}
set -euo pipefail
command="${1:-}"; prefix="${2:-}"
[ -n "$command" ] && [ -n "$prefix" ] || { sed -n '7,8p' "$0" >&2; exit 2; }
# Interface names hold 15 characters: PREFIX, h or n, and the node's number.
[[ "$prefix" =~ ^[a-z][a-z0-9]{0,10}$ ]] || { echo "PREFIX must be 1 to 11 lower-case letters and digits, starting with a letter" >&2; exit 2; }
bridge="${prefix}br"
case "$command" in
up)
    count="${3:?how many nodes}"; rate="${4:-1gbit}"
    [ "$count" -ge 1 ] && [ "$count" -le 200 ] || { echo "N must be 1...200" >&2; exit 2; }
    if ip link show "$bridge" >/dev/null 2>&1 || ip netns list | awk '{print $1}' | grep -qE "^${prefix}-[0-9]+$"; then
        echo "nodes $prefix-* are up already: scripts/qemu_nodes.sh down $prefix first" >&2; exit 1
    fi
    # Bridged traffic through iptables (br_netfilter, as Docker sets it up) may be dropped.
    if [ "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || echo 0)" = 1 ]; then
        echo "note: bridged traffic goes through iptables here (bridge-nf-call-iptables=1); if FORWARD drops, accept $bridge there" >&2
    fi
    trap '"$0" down "$prefix"' ERR
    ip link add "$bridge" type bridge
    ip link set "$bridge" up
    for k in $(seq 1 "$count"); do
        namespace="$prefix-$k"; outside="${prefix}h$k"; inside="${prefix}n$k"
        ip netns add "$namespace"
        ip link add "$outside" type veth peer name "$inside"
        ip link set "$outside" master "$bridge" up
        ip link set "$inside" netns "$namespace"
        ip -n "$namespace" addr add "10.231.0.$k/24" dev "$inside"
        ip -n "$namespace" link set "$inside" up
        ip -n "$namespace" link set lo up
        ip netns exec "$namespace" tc qdisc add dev "$inside" root tbf rate "$rate" burst 256kb latency 50ms
    done
    ;;
down)
    for namespace in $(ip netns list | awk '{print $1}' | grep -E "^${prefix}-[0-9]+$" || true); do
        ip link delete "${prefix}h${namespace##*-}" 2>/dev/null || true
        ip netns delete "$namespace"
    done
    ip link delete "$bridge" 2>/dev/null || true
    ;;
*)
    sed -n '7,8p' "$0" >&2; exit 2 ;;
esac
