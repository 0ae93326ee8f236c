#!/bin/sh
# Cluster mode against a real three-member etcd 3.4 with three instanced nodes on this
# machine: 12 contested instances each run exactly once, balanced, spread honoured,
# pinned ones where pinned; a node killed with SIGKILL has its instances running on the
# others within lease_ttl + 3 s and it gets nothing back when it returns until a
# rebalance; a second process with a live node's name is refused;
# a node started while etcd is unreachable runs its pinned instances only and says
# why. A checker samples every 100 ms throughout: no instance ever runs twice.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/etcd.sh"
t_init cluster_basic
. "$srcdir/tests/lib/cluster.sh"
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 1; }
etcd_start || { fail "etcd cluster starts"; t_done; }
pass "three etcd members healthy"

cl_inventory "$T/inv.conf"  # settle = 10s: nodes started one after the other on a loaded machine still count as together
ok "--check-config shows the cluster section" sh -c \
    "ND=$T/x SPORT=1 '$INSTANCED' --check-config -c '$T/inv.conf' --node n1 2>&1 |
     grep -q 'cluster itc: node n1, lease_ttl ${CL_TTL}s'"

cl_checker_start

for n in 1 2 3; do cl_node_start "$n"; done
ok "12 contested instances each run exactly once on 3 nodes" wait_for 20 cl_exactly_once
copies=$(cl_copies)
echo "$copies" | while read -r inst ppid; do echo "# $inst on $(cl_node_of "$ppid")"; done
per_node=$(for n in 1 2 3; do
    eval "p=\$CL_PID_$n"
    echo "$copies" | awk -v p="$p" '$2 == p && $1 !~ /^w-p/' | wc -l
done | tr '\n' ' ')
is "$per_node" "4 4 4 " "balanced: 4 contested instances per node"
spread_nodes=$(echo "$copies" | awk '$1 ~ /^s-/ {print $2}' | sort -u | wc -l)
is "$spread_nodes" 3 "spread: s-1, s-2, s-3 on three distinct nodes"
p2=$(echo "$copies" | awk '$1 == "w-p2" {print $2}')
is "$p2" "$CL_PID_2" "w-p2 runs on n2, where it is pinned"
is "$(echo "$copies" | awk '$1 == "w-p9"' | wc -l)" 0 "w-p9 (pinned to an absent node) runs nowhere"

view=$(cl_api 1 /api/v1/cluster)
ok "GET /api/v1/cluster on n1 shows three live nodes with the same inventory" sh -c \
    'echo "$1" | python3 -c "
import json, sys
v = json.load(sys.stdin)
alive = [n for n in v[\"nodes\"] if n[\"alive\"] and n[\"inventory_matches\"]]
sys.exit(0 if len(alive) == 3 and v[\"connection\"] == \"connected\" else 1)"' _ "$view"
ok "the fleet view names w-p9's pinned node as absent" sh -c \
    'echo "$1" | grep -q "its pinned node is not alive"' _ "$view"
ok "instancectl cluster status prints the fleet" sh -c \
    "'$INSTANCECTL' -s '$T/n2/ctl.sock' cluster status | grep -q '^n3 *yes'"
ok "metrics carry instanced_cluster_nodes_alive 3" sh -c \
    "curl -s http://127.0.0.1:$CL_SPORT_3/metrics | grep -q '^instanced_cluster_nodes_alive 3'"

# drain, undrain, move, rebalance: orders written in etcd that every node acts on.
CTL2="$INSTANCECTL -s $T/n2/ctl.sock"
ok "instancectl cluster drain n3" $CTL2 cluster drain n3
n3_empty() { [ -z "$(cl_on_node 3)" ]; }
victim_on_n3() { [ "$(cl_copies | awk -v i="$victim" '$1 == i {print $2}')" = "$CL_PID_3" ]; }
balanced() { [ "$(cl_counts)" = "4 4 4 " ]; }
ok "drain: n3 ends up running no contested instance" wait_for 20 n3_empty
ok "drain: every instance runs exactly once, on n1 and n2" wait_for 20 cl_exactly_once
is "$(cl_api 1 /api/v1/cluster | python3 -c 'import json,sys; print([n["drained"] for n in json.load(sys.stdin)["nodes"] if n["name"] == "n3"][0])')" \
    True "the fleet view shows n3 drained"
ok "instancectl cluster undrain n3" $CTL2 cluster undrain n3
sleep 3
ok "undrain gives n3 nothing back by itself (placement is sticky)" n3_empty
victim=$(cl_on_node 1 | awk '{print $1}')
ok "instancectl cluster move $victim n3" $CTL2 cluster move "$victim" n3
ok "move: $victim runs on n3, once" wait_for 20 victim_on_n3
ok "instancectl cluster rebalance" $CTL2 cluster rebalance
ok "rebalance: 4 contested instances per node again" wait_for 30 balanced
ok "after the moves every instance runs exactly once" wait_for 10 cl_exactly_once

# A second process named n2 while n2 is alive: refused, and n2 keeps its instances.
mkdir -p "$T/n2b"
ND="$T/n2b" SPORT=$(free_port) "$INSTANCED" -c "$T/inv.conf" --node n2 \
    >"$T/n2b/out" 2>"$T/n2b/log" &
dup=$!
at_exit "kill -9 $dup"
ok "a second n2 exits" wait_for $((CL_TTL + 8)) sh -c "! kill -0 $dup 2>/dev/null"
wait "$dup"
dup_rc=$?
is "$dup_rc" 1 "the second n2 exits with status 1"
ok "the second n2 says the name is held" grep -q 'held by another live instanced' "$T/n2b/log"
ok "after the refusal every instance still runs exactly once" cl_exactly_once

# kill -9 of n1: its instances move to n2 and n3 within lease_ttl + 3 s.
n1_had=$(cl_copies | awk -v p="$CL_PID_1" '$2 == p {print $1}' | tr '\n' ' ')
echo "# n1 ran: $n1_had"
t0=$(date +%s%N)
cl_node_kill 1 KILL
moved() {
    c=$(cl_copies)
    for i in $n1_had; do
        [ "$(echo "$c" | awk -v i="$i" '$1 == i' | wc -l)" -eq 1 ] || return 1
    done
}
if wait_for $((CL_TTL + 3)) moved; then
    t1=$(date +%s%N)
    echo "# failover: n1's instances running again on n2/n3 after $(( (t1 - t0) / 1000000 )) ms (lease_ttl ${CL_TTL}s)"
    pass "n1's instances run on the other nodes within lease_ttl + 3 s"
else
    fail "n1's instances run on the other nodes within lease_ttl + 3 s"
fi
ok "after the failover every contested instance runs exactly once" cl_exactly_once
fo=$(curl -s "http://127.0.0.1:$CL_SPORT_2/metrics" "http://127.0.0.1:$CL_SPORT_3/metrics" |
     awk '/^instanced_cluster_failovers_total/ {s += $2} END {print s}')
is "$fo" "$(echo $n1_had | wc -w)" "the failovers metric counts every instance taken over"

# n1 comes back: its instances stay where they are until a rebalance.
settled_before=$(grep -c 'msg="cluster: membership settled"' "$T/n1/log")
cl_node_start 1
n1_settled() { [ "$(grep -c 'msg="cluster: membership settled"' "$T/n1/log")" -gt "$settled_before" ]; }
ok "the restarted n1 rejoins and settles" wait_for 40 n1_settled
sleep 2
is "$(cl_on_node 1)" "" "the restarted n1 gets nothing back (placement is sticky)"
ok "instancectl cluster rebalance, again" $CTL2 cluster rebalance
ok "the rebalance gives n1 its share: 4 contested instances per node" wait_for 30 balanced
ok "after the rebalance every instance runs exactly once" wait_for 10 cl_exactly_once

# A node started while etcd is unreachable: pinned instances start, contested wait.
cat >"$T/inv4.conf" <<EOF
volumes_root    = "$T/n4/vol"
state_dir       = "$T/n4/state"
status_listen   = "127.0.0.1:$(free_port)"
control_socket  = "$T/n4/ctl.sock"
cluster {
    etcd_endpoints = { "http://127.0.0.1:$(free_port)" }
    name = "itc"
    lease_ttl = 4s
}
service "w" {
    command = "/bin/sleep"
    args = { "100000" }
    env = { "CT_MARK=$CL_MARK" }
    stop_timeout = 1s
    ready_after = 100ms
}
instance "w-x1" { service = "w" }
instance "w-x2" { service = "w"  node = "n4" }
EOF
mkdir -p "$T/n4"
"$INSTANCED" -c "$T/inv4.conf" --node n4 >"$T/n4/out" 2>"$T/n4/log" &
CL_PID_4=$!
at_exit "cl_node_kill 4 KILL"
ok "etcd down at start: the pinned instance starts" wait_for 15 sh -c \
    "grep -q 'msg=\"worker started\" instance=w-x2' '$T/n4/log'"
ok "etcd down at start: the contested one waits, saying why" wait_for 5 sh -c \
    "'$INSTANCECTL' -s '$T/n4/ctl.sock' --json status w-x1 2>&1 | grep -q 'cluster: disconnected'"
ok "instancectl cluster status says disconnected and why" sh -c \
    "'$INSTANCECTL' -s '$T/n4/ctl.sock' cluster status | grep -q 'disconnected: '"
is "$(cl_copies | awk '$1 == "w-x1"' | wc -l)" 0 "w-x1 does not run"
cl_node_kill 4 TERM

for n in 2 3; do cl_node_kill "$n" TERM; done
dups=$(cl_checker_stop)
is "$dups" 0 "the checker (every 100 ms) saw no instance running twice"
[ "$dups" -eq 0 ] || head "$T/dups"
[ "$T_FAILS" -eq 0 ] || for n in 1 2 3 4; do echo "# --- n$n"; tail -n 30 "$T/n$n/log" 2>/dev/null; done
t_done
