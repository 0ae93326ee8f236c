#!/bin/sh
# The etcd client against a real three-member etcd 3.4 on loopback: kv, transactions,
# leases, watch streams, a silent member and the first member killed.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/etcd.sh"
t_init etcd_client
etcd_start || { fail "etcd cluster starts"; t_done; }
pass "three etcd members healthy at $ETCD_ENDPOINTS"
ETCD_KILL_PID=$ETCD_PID_1 "$top_builddir/tests/etcd_client_test" >"$T/client.out" 2>&1
rc=$?
cat "$T/client.out"
is "$rc" 0 "etcd client test program passes"

# Authentication on (the first member is dead now: two of three keep quorum).
APP_PW="app-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
ok "etcd users and roles set up" sh -c '
    ctl() { ETCDCTL_API=3 etcdctl --endpoints "$0" "$@" >/dev/null; }
    ctl user add root:rootpw && ctl user grant-role root root &&
    ctl user add "app:$1" && ctl role add rw &&
    ctl role grant-permission rw --prefix=true readwrite a/ &&
    ctl user grant-role app rw && ctl auth enable' "$ETCD_CLIENT_2,$ETCD_CLIENT_3" "$APP_PW"
ETCD_AUTH_USER=app ETCD_AUTH_PASSWORD=$APP_PW "$top_builddir/tests/etcd_client_test" >"$T/auth.out" 2>&1
rc=$?
cat "$T/auth.out"
is "$rc" 0 "etcd client authenticates with user and password"
t_done
