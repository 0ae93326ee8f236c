#!/bin/sh
# Cluster mode with provision = true: credentials at failover. Two instanced nodes
# against a real three-member etcd, a real PostgreSQL and Redis. n1 runs both
# contested instances; it is killed with SIGKILL; n2 claims them, sets new passwords
# for their PostgreSQL roles and Redis ACL users (ending the sessions opened with the
# old ones) before starting them, and writes its own credential files. The workers
# run on n2 with working credentials; n1's old credential file no longer logs in
# anywhere. Provisioning runs under the etcd lock <name>/locks/provision.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/etcd.sh"
. "$srcdir/tests/lib/servers.sh"
t_init cluster_credentials
. "$srcdir/tests/lib/cluster.sh"
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 1; }
etcd_start || { fail "etcd cluster starts"; t_done; }
redis_start || { fail "redis starts"; t_done; }
pg_start || { fail "postgres starts"; t_done; }

{
    cl_head itcred 2s "$ETCD_ENDPOINTS" "provision       = true" \
        "postgres_url    = \"$PG_URL\"" "redis_url       = \"$REDIS_URL\""
    cl_service db "restart_delay = 100ms" "ready_after = 100ms"
    echo 'instance "db-1" { service = "db" }'
    echo 'instance "db-2" { service = "db" }'
} >"$T/inv.conf"
ND="$T/check" SPORT=1 "$INSTANCED" --check-config -c "$T/inv.conf" >/dev/null 2>"$T/check.err" ||
    { fail "inventory valid: $(cat "$T/check.err")"; t_done; }

# The instances node N runs: "db-1 db-2 " (sorted)
runs_on() {
    eval "_p=\$CL_PID_$1"
    cl_copies | awk -v p="$_p" '$2 == p {print $1}' | sort | tr '\n' ' '
}
both_on() { [ "$(runs_on "$1")" = "db-1 db-2 " ]; }
url_of() { sed -n "s/^$2=//p" "$1"; }      # FILE KEY
pg_login() { psql -X -d "$1" -tAc 'SELECT current_user' 2>&1; }
redis_login() { redis-cli -u "$1" --no-auth-warning ping 2>&1; }

cl_node_start 1
ok "n1 runs both contested instances" wait_for 30 both_on 1
f1="$T/n1/state/credentials/db-1.env"
ok "n1 wrote db-1's credential file" test -s "$f1"
old_pg=$(url_of "$f1" POSTGRES_URL)
old_rd=$(url_of "$f1" REDIS_URL)
role=$(printf '%s' "$old_pg" | sed 's|postgresql://\([^:]*\):.*|\1|')
is "$(pg_login "$old_pg")" "$role" "n1's credentials log in to PostgreSQL as $role"
is "$(redis_login "$old_rd")" "PONG" "n1's credentials log in to Redis"

# instancectl provision on a node's host acts as that node: --rotate sets new passwords
# for what that node runs, and only for that.
prov_on() {
    _n=$1
    shift
    eval "_sp=\$CL_SPORT_$_n"
    ND="$T/n$_n" SPORT=$_sp "$INSTANCECTL" provision -c "$T/inv.conf" "$@" >"$T/prov-n$_n.out" 2>&1
}
ok "instancectl provision --rotate on n1's host" prov_on 1 --rotate
ok "it reports db-2's rotation too" grep -q 'db-2' "$T/prov-n1.out"
rot_pg=$(url_of "$f1" POSTGRES_URL)
rot_rd=$(url_of "$f1" REDIS_URL)
ok "db-1 has a new PostgreSQL password" test "$rot_pg" != "$old_pg"
ok "db-1 has a new Redis password" test "$rot_rd" != "$old_rd"
is "$(pg_login "$rot_pg")" "$role" "the rotated PostgreSQL password logs in"
is "$(redis_login "$rot_rd")" "PONG" "the rotated Redis password logs in"
case $(pg_login "$old_pg") in
    *"password authentication failed"*) pass "the password before the rotation no longer works" ;;
    *) fail "the password before the rotation no longer works: $(pg_login "$old_pg")" ;;
esac
old_pg=$rot_pg
old_rd=$rot_rd
ok "n1 provisioned under the etcd lock" grep -q 'msg="cluster: provisioning lock taken"' "$T/n1/log"
ok "n1 set new credentials at its claims" grep -q 'msg="cluster: new credentials set"' "$T/n1/log"
# A session and a client opened with the old credentials, as a copy left running
# elsewhere would hold them.
psql -X -d "$old_pg" -c 'SELECT pg_sleep(600)' >"$T/old-session.out" 2>&1 &
old_psql=$!
redis-cli -u "$old_rd" --no-auth-warning BLPOP never-pushed 600 >"$T/old-client.out" 2>&1 &
old_redis=$!
at_exit "kill $old_psql $old_redis 2>/dev/null"
has_session() { [ "$(psql_admin -tAc "SELECT count(*) FROM pg_stat_activity WHERE usename = '$role'")" -ge 1 ]; }
ok "the old session is open" wait_for 10 has_session

cl_node_start 2
rejoined() { cl_api 2 /api/v1/cluster | grep -q '"lease_fresh": *true'; }
ok "n2 joins" wait_for 20 rejoined
sleep_settle() { grep -q 'msg="cluster: membership settled"' "$T/n2/log"; }
ok "n2's membership settles" wait_for 20 sleep_settle
is "$(runs_on 2)" "" "n2 takes nothing from a live n1"
ok "n2's provisioning run is done" wait_for 30 grep -q 'msg="provisioning done"' "$T/n2/log"
# n2 runs none of them: its run must not touch the passwords n1's workers use.
is "$(pg_login "$old_pg")" "$role" "n1's PostgreSQL credentials still work after n2 provisioned"
is "$(redis_login "$old_rd")" "PONG" "n1's Redis credentials still work after n2 provisioned"
# Nor may an operator's provisioning on n2's host, plain or --rotate: n2 runs nothing.
ok "instancectl provision on n2's host" prov_on 2
ok "instancectl provision --rotate on n2's host" prov_on 2 --rotate
ok "it says n2 runs nothing" grep -q 'no instance runs on this node' "$T/prov-n2.out"
# -s names the supervisor that --rotate asks: on n1's host (whose inventory names n1's
# socket) but pointed at n2's, it acts as n2 and changes nothing; also when -s comes
# before the command.
prov_s() { ND="$T/n1" SPORT=$CL_SPORT_1 "$INSTANCECTL" "$@" >"$T/prov-s.out" 2>&1; }
ok "provision -s <n2's socket> --rotate on n1's host" \
    prov_s provision -c "$T/inv.conf" -s "$T/n2/ctl.sock" --rotate
ok "it asked n2, which runs nothing" grep -q 'no instance runs on this node' "$T/prov-s.out"
ok "instancectl -s <n2's socket> -c FILE provision --rotate on n1's host" \
    prov_s -s "$T/n2/ctl.sock" -c "$T/inv.conf" provision --rotate
ok "a -s before the command reaches provision too" \
    grep -q 'no instance runs on this node' "$T/prov-s.out"
is "$(pg_login "$old_pg")" "$role" "n1's PostgreSQL credentials still work after both"
is "$(redis_login "$old_rd")" "PONG" "n1's Redis credentials still work after both"

t0=$(date +%s%N)
cl_node_kill 1 KILL
if wait_for $((CL_TTL + 20)) both_on 2; then
    pass "after kill -9 of n1, both instances run on n2"
    echo "# failover with new credentials took $(( ($(date +%s%N) - t0) / 1000000 )) ms (lease_ttl ${CL_TTL}s)"
else
    fail "after kill -9 of n1, both instances run on n2 (n2 runs: $(runs_on 2))"
fi
f2="$T/n2/state/credentials/db-1.env"
ok "n2 wrote its own credential file for db-1" test -s "$f2"
new_pg=$(url_of "$f2" POSTGRES_URL)
new_rd=$(url_of "$f2" REDIS_URL)
ok "the new PostgreSQL password differs from the old one" test "$new_pg" != "$old_pg"
ok "the new Redis password differs from the old one" test "$new_rd" != "$old_rd"
is "$(pg_login "$new_pg")" "$role" "n2's credentials log in to PostgreSQL"
is "$(redis_login "$new_rd")" "PONG" "n2's credentials log in to Redis"
# The worker itself got them.
wpid=$(python3 - "$CL_MARK" <<'PY'
import os, sys
mark = ("CT_MARK=" + sys.argv[1]).encode()
for pid in os.listdir("/proc"):
    try:
        env = open("/proc/%s/environ" % pid, "rb").read().split(b"\0")
    except OSError:
        continue
    if mark in env and b"SERVICE_INSTANCE_NAME=db-1" in env:
        print(pid)
PY
)
wenv=$(tr '\0' '\n' <"/proc/$wpid/environ" 2>/dev/null | sed -n 's/^POSTGRES_URL=//p')
ok "the worker on n2 has the new POSTGRES_URL" test -n "$wenv" -a "$wenv" = "$new_pg"
case $(pg_login "$old_pg") in
    *"password authentication failed"*) pass "n1's old PostgreSQL password no longer works" ;;
    *) fail "n1's old PostgreSQL password no longer works: $(pg_login "$old_pg")" ;;
esac
case $(redis_login "$old_rd") in
    *WRONGPASS*|*"invalid username-password"*) pass "n1's old Redis password no longer works" ;;
    *) fail "n1's old Redis password no longer works: $(redis_login "$old_rd")" ;;
esac
gone() { ! kill -0 "$1" 2>/dev/null; }
ok "the session opened with the old PostgreSQL password was ended" wait_for 10 gone "$old_psql"
ok "the Redis client authenticated with the old password was disconnected" \
    wait_for 10 gone "$old_redis"
ok "n2 counts the rotations" sh -c \
    "curl -s http://127.0.0.1:$CL_SPORT_2/metrics | grep -q '^instanced_cluster_credential_rotations_total [1-9]'"
ok "no password in n2's log" sh -c \
    "! grep -qF -e '$(printf '%s' "$new_pg" | sed 's|.*://[^:]*:\([^@]*\)@.*|\1|')' -e '$PG_ADMIN_PASSWORD' '$T/n2/log' '$T/n2/out'"
no_lock() { [ -z "$(ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" get itcred/locks/provision)" ]; }
ok "the provisioning lock is let go after the run" wait_for 10 no_lock

cl_node_kill 2 TERM
[ "$T_FAILS" -eq 0 ] || for n in 1 2; do echo "# --- n$n"; grep -E 'cluster|provision|fail' "$T/n$n/log" | tail -n 30; done
t_done
