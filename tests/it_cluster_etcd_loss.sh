#!/bin/sh
# Cluster mode when etcd members are lost. Three instanced nodes against a real
# three-member etcd (12 contested instances, one pinned to n2):
# - the etcd leader, found through the maintenance status API (etcdctl endpoint
#   status), is killed and brought back: nothing is stopped, restarted or moved (every
#   worker keeps its pid, on its node);
# - two members are killed (quorum lost): the contested instances stop within
#   lease_ttl, the pinned one keeps running (same pid);
# - quorum back: every contested instance runs again, exactly once, within
#   lease_ttl + 5 s.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/etcd.sh"
t_init cluster_etcd_loss
. "$srcdir/tests/lib/cluster.sh"
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 1; }
# A leader election takes a second or two on a loaded machine: the nodes must ride it
# out without fencing, which they do until lease_ttl / 2 without a renewal.
CL_TTL=${CL_LOSS_TTL:-8}
etcd_start || { fail "etcd cluster starts"; t_done; }
cl_inventory "$T/inv.conf"
for n in 1 2 3; do cl_node_start "$n"; done
ok "12 contested instances each run exactly once on 3 nodes" wait_for 40 cl_exactly_once

# "instance worker-pid supervisor-pid" of every live marked worker, sorted.
workers() {
    python3 - "$CL_MARK" <<'PY' | sort
import os, sys
mark = ("CT_MARK=" + sys.argv[1]).encode()
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    try:
        env = open("/proc/%s/environ" % pid, "rb").read().split(b"\0")
        st = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    if mark in env and st[0] != "Z":
        n = [e for e in env if e.startswith(b"SERVICE_INSTANCE_NAME=")]
        if n:
            print(n[0].split(b"=", 1)[1].decode(), pid, st[1])
PY
}
pinned_pid() { workers | awk '$1 == "w-p2" {print $2}'; }
wait_for 20 test -n "$(pinned_pid)"
ok "w-p2, pinned to n2, runs" test -n "$(pinned_pid)"
# Let the starts settle (every worker ready), then take the reference.
all_running() {
    for k in 1 2 3; do
        cl_api "$k" /api/v1/cluster | python3 -c '
import json, sys
d = json.load(sys.stdin)
bad = [i["name"] for i in d["instances"] if i["name"] != "w-p9" and i["state"] != "running"]
sys.exit(1 if bad else 0)' || return 1
    done
}
ok "every node's fleet view shows every instance running" wait_for 30 all_running
workers >"$T/before"
echo "# $(wc -l <"$T/before") workers before"

# --- the leader, found through the maintenance status API ---------------------------
leader_index() {
    ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" --dial-timeout 2s \
        --command-timeout 3s endpoint status -w json 2>/dev/null | python3 -c '
import json, sys
eps = sys.argv[1].split(",")
for s in json.load(sys.stdin):
    h = s["Status"]["header"]
    if s["Status"]["leader"] == h["member_id"]:
        print(eps.index(s["Endpoint"]) + 1)
        break' "$ETCD_ENDPOINTS"
}
L=$(leader_index)
ok "the etcd leader is found through the maintenance status API (member $L)" test -n "$L"
[ -n "$L" ] || t_done
etcd_kill "$L" KILL
echo "# killed the leader, member $L, at $(date -u +%H:%M:%S.%3N)"
new_leader() { _l=$(leader_index); [ -n "$_l" ] && [ "$_l" != "$L" ]; }
ok "the two other members elect a new leader" wait_for 30 new_leader
# Nothing may happen for longer than a lease: watch it for lease_ttl + 2 s.
t0=$(date +%s)
while [ $(( $(date +%s) - t0 )) -lt $((CL_TTL + 2)) ]; do
    workers >"$T/during"
    if ! cmp -s "$T/before" "$T/during"; then
        break
    fi
    sleep 0.2
done
etcd_restart "$L"
ok "the old leader comes back (three members healthy)" wait_for 30 etcd_healthy
# And again a lease long after it is back.
t0=$(date +%s)
while [ $(( $(date +%s) - t0 )) -lt $((CL_TTL + 2)) ] && cmp -s "$T/before" "$T/during"; do
    workers >"$T/during"
    sleep 0.2
done
if cmp -s "$T/before" "$T/during"; then
    pass "leader lost and back: nothing stopped, restarted or moved (every worker has its pid)"
else
    fail "leader lost and back: nothing stopped, restarted or moved"
    diff "$T/before" "$T/during" | sed 's/^/# /'
fi
for n in 1 2 3; do
    grep -q 'msg="fencing worker"' "$T/n$n/log" && echo "# n$n fenced:" &&
        grep 'msg="fencing worker"' "$T/n$n/log" | head -n 3 | sed 's/^/#   /'
done
ok "no node fenced anything" sh -c "! grep -q 'msg=\"fencing worker\"' '$T/n1/log' '$T/n2/log' '$T/n3/log'"

# --- quorum lost --------------------------------------------------------------------
pin=$(pinned_pid)
contested_gone() { [ -z "$(workers | awk '$1 !~ /^w-p/')" ]; }
a=$(( L % 3 + 1 )); b=$(( a % 3 + 1 ))
t0=$(date +%s%N)
etcd_kill "$a" KILL
etcd_kill "$b" KILL
echo "# killed members $a and $b (quorum lost) at $(date -u +%H:%M:%S.%3N)"
if wait_for "$CL_TTL" contested_gone; then
    pass "quorum lost: every contested instance stops within lease_ttl"
    echo "# contested instances all stopped after $(( ($(date +%s%N) - t0) / 1000000 )) ms (lease_ttl ${CL_TTL}s)"
else
    fail "quorum lost: every contested instance stops within lease_ttl (still: $(workers | awk '$1 !~ /^w-p/ {print $1}' | tr '\n' ' '))"
fi
is "$(pinned_pid)" "$pin" "quorum lost: w-p2 (pinned) keeps running, same pid"
ok "the fleet view says disconnected" sh -c "cl_api() { curl -sS --max-time 5 http://127.0.0.1:$CL_SPORT_1/api/v1/cluster; }; cl_api | grep -q '\"connection\": *\"disconnected'"

# --- quorum back --------------------------------------------------------------------
etcd_restart "$a"
etcd_restart "$b"
t0=$(date +%s%N)
ok "quorum back (three members healthy)" wait_for 30 etcd_healthy
echo "# quorum back after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
t1=$(date +%s%N)
if wait_for $((CL_TTL + 5)) cl_exactly_once; then
    pass "quorum back: every contested instance runs again, exactly once, within lease_ttl + 5 s"
    echo "# all running again $(( ($(date +%s%N) - t1) / 1000000 )) ms after quorum was back"
else
    fail "quorum back: every contested instance runs again within lease_ttl + 5 s"
    cl_copies | sort | sed 's/^/# /'
fi
is "$(pinned_pid)" "$pin" "w-p2 (pinned) ran throughout, same pid"
ok "no instance runs twice" cl_no_duplicate

for n in 1 2 3; do cl_node_kill "$n" TERM; done
[ "$T_FAILS" -eq 0 ] || for n in 1 2 3; do echo "# --- n$n"; grep -E 'cluster|fenc' "$T/n$n/log" | tail -n 30; done
t_done
