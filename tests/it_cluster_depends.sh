#!/bin/sh
# Cluster mode and depends_on across nodes. Two instanced nodes against a real
# three-member etcd:
# - app, pinned to n2, depends on db, pinned to n1: it waits while db does not run,
#   and starts once n1 runs db and publishes it running (<name>/status/db);
# - the chain c-1 <- c-2 <- c-3 (each depends on the one before) runs on n2; drain n2
#   stops them in dependency order, dependents first (c-3, c-2, c-1), and they run
#   on n1 afterwards.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/etcd.sh"
t_init cluster_depends
. "$srcdir/tests/lib/cluster.sh"
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 1; }
etcd_start || { fail "etcd cluster starts"; t_done; }

{
    cl_head itdep 2s "$ETCD_ENDPOINTS"
    cl_service w "restart_delay = 100ms" "ready_after = 300ms"
    cat <<EOF2
instance "db-1"  { service = "w"  node = "n1" }
instance "app-1" { service = "w"  node = "n2"  depends_on = { "db-1" } }
instance "c-1" { service = "w" }
instance "c-2" { service = "w"  depends_on = { "c-1" } }
instance "c-3" { service = "w"  depends_on = { "c-2" } }
EOF2
} >"$T/inv.conf"
ND="$T/check" SPORT=1 "$INSTANCED" --check-config -c "$T/inv.conf" >/dev/null 2>"$T/check.err" ||
    { fail "inventory valid: $(cat "$T/check.err")"; t_done; }

# the node (n1, n2) that runs instance I, or nothing
node_of() {
    _pp=$(cl_copies | awk -v i="$1" '$1 == i {print $2}')
    [ -n "$_pp" ] && cl_node_of "$_pp"
}
runs_on() { [ "$(node_of "$1")" = "$2" ]; }
chain_on() { runs_on c-1 "$1" && runs_on c-2 "$1" && runs_on c-3 "$1"; }

cl_node_start 2
ok "n2 alone runs the chain c-1, c-2, c-3" wait_for 30 chain_on n2
ok "app waits for its dependency db (on n1, not running)" wait_for 10 \
    grep -q 'msg="waiting for dependency" instance=app-1 depends_on=db-1' "$T/n2/log"
is "$(node_of app-1)" "" "app does not run while db is down"

cl_node_start 1
ok "db runs on n1" wait_for 30 runs_on db-1 n1
ok "app starts on n2 once db runs on n1" wait_for 20 runs_on app-1 n2

# Drain n2: the chain moves to n1, dependents stopped first.
"$INSTANCECTL" -s "$T/n2/ctl.sock" cluster drain n2 >"$T/drain.out" 2>&1 ||
    fail "instancectl cluster drain n2: $(cat "$T/drain.out")"
ok "after drain n2, the chain runs on n1" wait_for 30 chain_on n1
order=$(grep 'msg="fencing worker"' "$T/n2/log" | sed -n 's/.* instance=\(c-[0-9]\).*/\1/p' | tr '\n' ' ')
is "$order" "c-3 c-2 c-1 " "drain stops the chain dependents first"
is "$(node_of app-1)" "n2" "app, pinned to n2, keeps running through the drain"
ok "no instance runs twice" cl_no_duplicate

for n in 1 2; do cl_node_kill "$n" TERM; done
[ "$T_FAILS" -eq 0 ] || for n in 1 2; do echo "# --- n$n"; grep -E 'cluster|fenc|depend' "$T/n$n/log" | tail -n 30; done
t_done
