#!/bin/sh
# Cluster mode under network partitions: three instanced nodes, each reaching the
# three etcd members only through its own relay (tests/cluster_relay.py) that the test
# turns into a black hole. One node at a time is cut off for longer than lease_ttl
# (CL_PARTITIONS rounds, default 10): its contested instances are fenced and run on the
# other nodes, the node comes back and rejoins, every instance runs exactly once
# again, and a checker sampling every 100 ms over all nodes never sees two live copies.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/etcd.sh"
t_init cluster_partition
. "$srcdir/tests/lib/cluster.sh"
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 1; }
etcd_start || { fail "etcd cluster starts"; t_done; }
pass "three etcd members healthy"

for n in 1 2 3; do
    python3 "$srcdir/tests/cluster_relay.py" "$T/cut-n$n" "$T/ports-n$n" \
        "$ETCD_CPORT_1" "$ETCD_CPORT_2" "$ETCD_CPORT_3" &
    at_exit "kill $!"
    wait_for 10 test -s "$T/ports-n$n" || { fail "relay n$n starts"; t_done; }
    eps=$(sed 's|^|http://127.0.0.1:|' "$T/ports-n$n" | paste -sd, -)
    cl_inventory "$T/inv-n$n.conf" "$eps"
done
cl_checker_start
for n in 1 2 3; do cl_node_start "$n" "$T/inv-n$n.conf"; done
ok "12 contested instances each run exactly once on 3 nodes" wait_for 30 cl_exactly_once

# contested instances node N runs now
on_node() {
    eval "_p=\$CL_PID_$1"
    cl_copies | awk -v p="$_p" '$2 == p && $1 !~ /^w-p/ {print $1}' | tr '\n' ' '
}
fenced() { [ -z "$(on_node "$1")" ]; }
rejoined() {
    cl_api "$1" /api/v1/cluster | grep -q '"connection": *"connected"' &&
        cl_api "$1" /api/v1/cluster | grep -q '"lease_fresh": *true'
}

rounds=${CL_PARTITIONS:-10}
r=1
while [ "$r" -le "$rounds" ]; do
    n=$(( (r - 1) % 3 + 1 ))
    had=$(on_node "$n")
    echo "# round $r: cutting n$n off (it runs: $had)"
    t0=$(date +%s%N)
    echo "# round $r: cut at $(date -u +%H:%M:%S.%3N)"
    touch "$T/cut-n$n"
    if wait_for $((CL_TTL)) fenced "$n"; then
        echo "# round $r: n$n fenced its instances after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
        pass "round $r: n$n, cut off, stops its contested instances within lease_ttl"
        # the daemon's own times, against the cut above (the poll is slower)
        grep -E 'msg="fencing worker"' "$T/n$n/log" | tail -n 1 | cut -c1-110 | sed 's/^/# /'
    else
        fail "round $r: n$n, cut off, stops its contested instances within lease_ttl"
    fi
    ok "round $r: every instance runs exactly once again (on the other nodes)" \
        wait_for $((CL_TTL + 6)) cl_exactly_once
    echo "# round $r: all running again after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
    # the partition lasts longer than lease_ttl
    while [ $(( ($(date +%s%N) - t0) / 1000000 )) -lt $(( CL_TTL * 1000 + 1500 )) ]; do
        sleep 0.1
    done
    rm -f "$T/cut-n$n"
    ok "round $r: n$n rejoins after the partition" wait_for 20 rejoined "$n"
    ok "round $r: still every instance exactly once" cl_exactly_once
    r=$((r + 1))
done

for n in 1 2 3; do cl_node_kill "$n" TERM; done
dups=$(cl_checker_stop)
is "$dups" 0 "the checker (every 100 ms, all nodes) saw no instance running twice"
[ "$dups" -eq 0 ] || head "$T/dups"
[ "$T_FAILS" -eq 0 ] || for n in 1 2 3; do echo "# --- n$n"; grep -E 'cluster|fenc' "$T/n$n/log" | tail -n 30; done
t_done
