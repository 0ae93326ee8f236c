#!/bin/sh
# cluster_scale.sh - cluster mode at scale: three instanced nodes on this machine
# against a real three-member etcd 3.4 on loopback, CS_INSTANCES contested instances
# (default 3000: 1000 per node; /bin/sleep workers). It prints:
#   - the time from the nodes' start until every instance runs exactly once;
#   - etcd requests per second, summed over the three members from their /metrics
#     (grpc_server_msg_received_total: every request message, the gateway's included,
#     lease keepalives and watch creations too), while the nodes start and claim, and
#     then in the steady state (CS_WINDOW seconds, default 30);
#   - the failover time: kill -9 of node 1 until each of its instances runs on another
#     node (every instance exactly once again).
#
#   srcdir=. top_builddir=build sh bench/cluster_scale.sh
#   (instanced from top_builddir/src)
#
# Needs etcd (Debian's etcd-server), python3, curl. Not part of `make check`.
: "${srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$(pwd)}"
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/etcd.sh"
t_init cluster_scale
. "$srcdir/tests/lib/cluster.sh"
N=${CS_INSTANCES:-3000}
WINDOW=${CS_WINDOW:-30}
CL_TTL=${CS_TTL:-10}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
rate() { awk -v n="$1" -v ms="$2" 'BEGIN {printf "%.1f", n * 1000 / ms}'; } # COUNT MS

etcd_start || { echo "etcd does not start" >&2; exit 1; }

{
    cl_head bench 2s "$ETCD_ENDPOINTS"
    cl_service w "ready_after = 100ms"
    i=1
    while [ "$i" -le "$N" ]; do echo "instance \"w-$i\" { service = \"w\" }"; i=$((i + 1)); done
} >"$T/inv.conf"

# How many distinct instances run, and whether one runs twice: "distinct dups"
census() {
    cl_copies | awk '{c[$1]++} END {d = 0; for (k in c) if (c[k] > 1) d++; print length(c), d}'
}
all_once() { [ "$(census)" = "$N 0" ]; }
# Sum over the members of every gRPC request message received.
etcd_requests() {
    for u in $(echo "$ETCD_ENDPOINTS" | tr ',' ' '); do
        curl -s --max-time 5 "$u/metrics"
    done | awk '/^grpc_server_msg_received_total/ {s += $2} END {printf "%d\n", s}'
}

r0=$(etcd_requests)
t0=$(now_ms)
for n in 1 2 3; do cl_node_start "$n"; done
if ! wait_for 600 all_once; then
    echo "not every instance runs exactly once after 600 s: $(census)" >&2
    exit 1
fi
t1=$(now_ms)
r1=$(etcd_requests)
echo "instances:            $N over 3 nodes ($(cl_counts)), lease_ttl ${CL_TTL}s"
echo "start to all running: $((t1 - t0)) ms"
echo "etcd requests, start: $((r1 - r0)) in $((t1 - t0)) ms = $(rate $((r1 - r0)) $((t1 - t0)))/s"

# The steady state: nothing changes, the nodes renew and publish nothing new. The
# status keys of the last starts are written at most 400 per node and second: let them
# drain first (CS_SETTLE seconds, default 15).
sleep "${CS_SETTLE:-15}"
r2=$(etcd_requests)
t2=$(now_ms)
sleep "$WINDOW"
r3=$(etcd_requests)
t3=$(now_ms)
echo "etcd requests, steady: $((r3 - r2)) in $((t3 - t2)) ms = $(rate $((r3 - r2)) $((t3 - t2)))/s"
# How often one instance's status key was written so far (its version).
echo "status/w-1 written:   $(ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" get bench/status/w-1 -w json |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["kvs"][0]["version"])') times"

had=$(cl_on_node 1 | wc -w)
k0=$(now_ms)
cl_node_kill 1 KILL
if wait_for 300 all_once; then
    k1=$(now_ms)
    echo "failover:             kill -9 of n1 ($had instances) to all running elsewhere: $((k1 - k0)) ms (lease_ttl ${CL_TTL}s)"
    echo "after failover:       $(cl_counts)"
else
    echo "failover: not every instance runs again after 300 s: $(census)" >&2
fi
r4=$(etcd_requests)
k2=$(now_ms)
echo "etcd requests, failover: $((r4 - r3)) in $((k2 - t3)) ms = $(rate $((r4 - r3)) $((k2 - t3)))/s"
for n in 2 3; do cl_node_kill "$n" TERM; done
