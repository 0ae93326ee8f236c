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
t_done
