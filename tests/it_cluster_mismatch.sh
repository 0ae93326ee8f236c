#!/bin/sh
# Cluster mode with bad input, against a real three-member etcd 3.4:
# - two nodes whose inventories differ (n2 has one instance more): the fleet view says
#   so and the cluster is degraded; the extra instance runs only on the node that has
#   it and never moves to a node whose inventory lacks it, even when its node dies;
# - etcd with authentication on: a node with a wrong password runs its pinned instance
#   only, holds its contested ones and says why, and never writes the password out; a
#   node with the right one joins.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/etcd.sh"
t_init cluster_mismatch
. "$srcdir/tests/lib/cluster.sh"
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 1; }
etcd_start || { fail "etcd cluster starts"; t_done; }

cl_inventory "$T/inv.conf"
sed -i 's/settle = 10s/settle = 3s/' "$T/inv.conf"
cp "$T/inv.conf" "$T/inv2.conf"
echo 'instance "w-only2" { service = "w" }' >>"$T/inv2.conf"

cl_node_start 1
cl_node_start 2 "$T/inv2.conf"
# n1 and n2 share the 12 contested instances (n3 never starts).
ok "every contested instance runs exactly once on n1 and n2" wait_for 40 cl_exactly_once
only2_on() { cl_copies | awk '$1 == "w-only2" {print $2}' | tr '\n' ' '; }
w_only2_on_n2() { [ "$(only2_on)" = "$CL_PID_2 " ]; }
ok "w-only2 runs exactly once, on n2" wait_for 20 w_only2_on_n2

view=$(cl_api 1 /api/v1/cluster)
is "$(echo "$view" | python3 -c '
import json, sys
v = json.load(sys.stdin)
print(" ".join("%s:%s" % (n["name"], n["inventory_matches"]) for n in sorted(v["nodes"], key=lambda n: n["name"]) if n["alive"]))')" \
    "n1:True n2:False" "n1's fleet view: n2's inventory differs from n1's"
is "$(echo "$view" | python3 -c 'import json, sys; print(json.load(sys.stdin)["status"])')" \
    "degraded" "a node whose inventory differs makes the cluster degraded"
ok "instancectl cluster status shows the difference" sh -c \
    "'$INSTANCECTL' -s '$T/n1/ctl.sock' cluster status | grep -E '^n2 ' | grep -q DIFFERS"

# n2 dies: its share moves to n1, w-only2 goes nowhere (n1's inventory lacks it).
cl_node_kill 2 KILL
all_on_n1() { [ "$(cl_on_node 1 | wc -w)" -eq 12 ]; }
ok "after kill -9 of n2, n1 runs all 12 contested instances" wait_for $((CL_TTL + 15)) all_on_n1
sleep 2
is "$(only2_on)" "" "w-only2 is not taken by n1, whose inventory lacks it"
ok "n1 never logged a claim of w-only2" sh -c "! grep -q 'instance=w-only2' '$T/n1/log'"
cl_node_kill 1 TERM

# --- authentication --------------------------------------------------------------------
PW="inst-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
ok "etcd users and roles set up, authentication on" sh -c '
    ctl() { ETCDCTL_API=3 etcdctl --endpoints "$0" "$@" >/dev/null; }
    ctl user add root:rootpw && ctl user grant-role root root &&
    ctl user add "inst:$1" && ctl role add inst &&
    ctl role grant-permission inst --prefix=true readwrite itc/ &&
    ctl user grant-role inst inst && ctl auth enable' "$ETCD_ENDPOINTS" "$PW"
printf '%s\n' "wrong-$PW" >"$T/bad.pw"
printf '%s\n' "$PW" >"$T/good.pw"
chmod 600 "$T/bad.pw" "$T/good.pw"
auth_inventory() { # FILE PASSWORD-FILE
    sed "s|name = \"itc\"|name = \"itc\"\n    etcd_user = \"inst\"\n    etcd_password_file = \"$2\"|" \
        "$T/inv.conf" >"$1"
    echo 'instance "w-p3" { service = "w"  node = "n3" }' >>"$1"
}
auth_inventory "$T/inv3.conf" "$T/bad.pw"
auth_inventory "$T/inv4.conf" "$T/good.pw"

cl_node_start 3 "$T/inv3.conf"
ok "wrong etcd password: the pinned instance starts" wait_for 20 sh -c \
    "grep -q 'msg=\"worker started\" instance=w-p3' '$T/n3/log'"
ok "wrong etcd password: a contested instance waits, saying why" wait_for 10 sh -c \
    "'$INSTANCECTL' -s '$T/n3/ctl.sock' --json status w-1 2>&1 | grep -q 'cluster: disconnected'"
conn=$(cl_api 3 /api/v1/cluster | python3 -c 'import json, sys; print(json.load(sys.stdin)["connection"])')
echo "# n3's connection: $conn"
case $conn in
    disconnected*auth*|disconnected*password*) pass "the fleet view says the credentials were refused" ;;
    *) fail "the fleet view says the credentials were refused: $conn" ;;
esac
is "$(cl_on_node 3)" "" "n3 runs no contested instance"
ok "neither password is in n3's log or output" sh -c \
    "! grep -qF -e '$PW' '$T/n3/log' '$T/n3/out'"

cl_node_start 4 "$T/inv4.conf"
joined4() { cl_api 4 /api/v1/cluster | grep -q '"lease_fresh": *true'; }
ok "right etcd password: the node joins" wait_for 30 joined4
n4_runs_all() { [ "$(cl_copies | awk -v p="$CL_PID_4" '$2 == p' | wc -l)" -ge 12 ]; }
ok "and runs the contested instances" wait_for 30 n4_runs_all
ok "the password is not in n4's log or output" sh -c "! grep -qF '$PW' '$T/n4/log' '$T/n4/out'"
cl_node_kill 3 TERM
cl_node_kill 4 TERM
t_done
