#!/bin/bash
# instanced with provision = true: each worker gets its own least-privilege
# credentials (never the admin URLs, never in the supervisor's log); with PostgreSQL
# down at start, a new instance waits for provisioning, which is retried with backoff
# and lets it start once the server is back.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/servers.sh"
t_init sup-provision
. "$srcdir/tests/it_supervisor_lib.sh"

redis_start || { fail "redis starts"; t_done; }
pg_start || { fail "postgres starts"; t_done; }
# The admin URL carries a password, so a leak would be visible.
psql_admin -c "ALTER ROLE postgres PASSWORD 'AdminSecret42'" >/dev/null
ADMIN_PG="postgresql://postgres:AdminSecret42@127.0.0.1:$PGPORT/trading_ecosystem"

conf=$T/inv.conf
write_conf() {
    {
        sup_globals
        echo "state_dir = \"$T/state\""
        echo "provision = true"
        echo "postgres_url = \"$ADMIN_PG\""
        echo "redis_url = \"$REDIS_URL\""
        sup_service exchange "env = {\"TW_REPORT=$T/report-\${INSTANCE:-x}\"}"
        for n in "$@"; do
            printf 'instance "%s" {\n service = "exchange"\n env = {"TW_REPORT=%s/report-%s"}\n}\n' \
                "$n" "$T" "$n"
        done
    } >"$conf"
}
write_conf exchange-OKX exchange-Binance
"$INSTANCED" --check-config -c "$conf" >/dev/null 2>"$T/check.err" ||
    { fail "inventory valid: $(cat "$T/check.err")"; t_done; }

sup_start "$conf"
ok "exchange-OKX started" wait_for 20 test -s "$T/report-exchange-OKX"
ok "exchange-Binance started" wait_for 20 test -s "$T/report-exchange-Binance"

okx_pg=$(sed -n 's/^env POSTGRES_URL=//p' "$T/report-exchange-OKX")
okx_redis=$(sed -n 's/^env REDIS_URL=//p' "$T/report-exchange-OKX")
case $okx_pg in
    postgresql://inst_exchange_okx:*@*) pass "POSTGRES_URL is the instance's own role" ;;
    *) fail "POSTGRES_URL is the instance's own role: got '${okx_pg%%:*}...'" ;;
esac
case $okx_redis in
    redis://inst_exchange_okx:*@*) pass "REDIS_URL is the instance's own ACL user" ;;
    *) fail "REDIS_URL is the instance's own ACL user" ;;
esac
ok "no admin password in the worker's environment" sh -c "! grep -q AdminSecret42 '$T/report-exchange-OKX'"
# The credentials work, and only for the instance's own schema.
okx_conn=$(printf '%s' "$okx_pg" | sed 's/@127.0.0.1/@127.0.0.1/')
is "$(psql -X -d "$okx_conn" -tAc 'SELECT current_user' 2>&1)" "inst_exchange_okx" \
    "the worker's POSTGRES_URL logs in as its role"
ok "the role cannot read another instance's schema" sh -c \
    "psql -X -d '$okx_conn' -c 'CREATE TABLE exchange_binance.t(x int)' 2>&1 | grep -q 'permission denied'"
okx_pw=$(printf '%s' "$okx_pg" | sed 's|postgresql://[^:]*:\([^@]*\)@.*|\1|')
ok "no password in the supervisor's log" sh -c \
    "! grep -qF -e AdminSecret42 -e '$okx_pw' '$T/sup.log' '$T/sup.out'"
ok "provisioning logged as done" grep -q 'msg="provisioning done"' "$T/sup.log"
metric() { # NAME: its value on the status endpoint
    _p=$(sed -n 's/^status_listen *= *"127.0.0.1:\([0-9]*\)"/\1/p' "$conf")
    curl -s "http://127.0.0.1:$_p/metrics" | sed -n "s/^$1 //p"
}
is "$(metric instanced_provisioning_runs_total) $(metric instanced_provisioning_failures_total) $(metric instanced_provisioning_in_progress)" \
    "1 0 0" "metrics: one run, no failure, none in progress"
"$top_builddir/src/instancectl" -s "$T/ctl.sock" status >"$T/status0.txt" 2>&1
ok "instancectl status says when provisioning was done" \
    grep -q '^provisioning: done at 20[0-9-]*T[0-9:]*Z$' "$T/status0.txt"
ok "metrics: the last success has a time" test "$(metric instanced_provisioning_last_success_time_seconds)" -gt 0
_p=$(sed -n 's/^status_listen *= *"127.0.0.1:\([0-9]*\)"/\1/p' "$conf")
ok "promtool accepts /metrics with the provisioning series" sh -c \
    "curl -s http://127.0.0.1:$_p/metrics | promtool check metrics"

# PostgreSQL goes away; a new instance is added by a reload: it waits for its
# credentials, and starts once provisioning succeeds on a retry.
pg_stop
write_conf exchange-OKX exchange-Binance exchange-Kraken
kill -HUP "$SUP_PID"
ok "reload with PostgreSQL down: provisioning failure logged" \
    wait_for 30 grep -q 'msg="provisioning failed, will retry"' "$T/sup.log"
ok "the new instance has not started without credentials" test ! -e "$T/report-exchange-Kraken"
ok "the running instances kept running" running exchange-OKX
pg_restart
ok "after PostgreSQL returns, the new instance starts" \
    wait_for 40 test -s "$T/report-exchange-Kraken"
case $(sed -n 's/^env POSTGRES_URL=//p' "$T/report-exchange-Kraken") in
    postgresql://inst_exchange_kraken:*@*) pass "the new instance got its own role" ;;
    *) fail "the new instance got its own role" ;;
esac
ok "no password in the supervisor's log after the retry" sh -c \
    "! grep -qF AdminSecret42 '$T/sup.log'"

sup_stop
is "$SUP_RC" 0 "instanced exits 0"

# A PostgreSQL that accepts connections and never answers holds a provisioning run for
# its whole 10 s connect timeout. That run is a child process: the supervisor's loop
# keeps serving meanwhile; starts wait for the run (it may be rewriting the credential
# files), then instances provisioned earlier start; a stop does not wait for a run.
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
print(s.getsockname()[1], flush=True); time.sleep(120)' >"$T/silent.port" &
SILENT_PID=$!
at_exit "kill $SILENT_PID"
wait_for 30 test -s "$T/silent.port" || fail "the silent listener is up"
silent=$(cat "$T/silent.port")
ADMIN_PG="postgresql://postgres:AdminSecret42@127.0.0.1:$silent/trading_ecosystem"
write_conf exchange-OKX exchange-Binance
status_port=$(sed -n 's/^status_listen *= *"127.0.0.1:\([0-9]*\)"/\1/p' "$conf")
: >"$T/sup.log"
rm -f "$T/report-exchange-OKX"
sup_start "$conf"
ok "instanced is up" wait_for 20 grep -q 'msg="instanced started"' "$T/sup.log"
ok "and came up while the run was going, not after it" sh -c \
    "! sed '/msg=\"instanced started\"/q' '$T/sup.log' | grep -q -e 'provisioning done' -e 'provisioning failed'"
ok "a provisioning run is under way" wait_for 5 grep -q 'msg="provisioning started"' "$T/sup.log"
ok "the status endpoint answers while it hangs" \
    curl -sf --max-time 2 -o /dev/null "http://127.0.0.1:$status_port/api/v1/health"
"$top_builddir/src/instancectl" -s "$T/ctl.sock" status >"$T/status.txt" 2>&1
[ $? -ne 3 ] && pass "the control socket answers while it hangs" ||
    fail "the control socket answers while it hangs"
ok "the status table says the instances wait for provisioning" \
    grep -q 'exchange-OKX: waiting for provisioning' "$T/status.txt"
ok "and that a run is in progress" grep -q '^provisioning: in progress' "$T/status.txt"
is "$(metric instanced_provisioning_in_progress)" 1 "metrics: a run in progress"
ok "the run has not ended yet" sh -c "! grep -q -e 'provisioning done' -e 'provisioning failed' '$T/sup.log'"
ok "no instance started during the run" test ! -e "$T/report-exchange-OKX"
ok "the run fails at the connect timeout" \
    wait_for 20 grep -q 'msg="provisioning failed, will retry"' "$T/sup.log"
ok "then an instance provisioned earlier starts" wait_for 5 test -s "$T/report-exchange-OKX"
is "$(metric instanced_provisioning_failures_total)" 1 "metrics: the failure is counted"
"$top_builddir/src/instancectl" -s "$T/ctl.sock" status >"$T/status2.txt" 2>&1
ok "instancectl status says why provisioning failed" \
    grep -q '^provisioning: failed at 20[0-9-]*T[0-9:]*Z, retrying: .*PostgreSQL: cannot connect: .*timeout expired' "$T/status2.txt"
is "$(curl -s "http://127.0.0.1:$status_port/api/v1/instances" | jq -r '.provisioning | [.failures, (.last_error | test("AdminSecret42"))] | map(tostring) | join(" ")')" \
    "1 false" "GET /api/v1/instances reports it, without the password"
ok "a retry run is under way" \
    wait_for 5 sh -c "[ \$(grep -c 'msg=\"provisioning started\"' '$T/sup.log') -ge 2 ]"
prov_child=$(pgrep -P "$SUP_PID" -x instanced)
sup_stop
is "$SUP_RC" 0 "instanced exits 0 while provisioning hangs"
# Had the stop waited for the run, the supervisor would have stopped no sooner than the
# run's own 10 s connect timeout after the run started: compare the two log lines.
logtime() { date -d "$(grep "$1" "$T/sup.log" | tail -n 1 | sed 's/^time=\([^ ]*\) .*/\1/')" +%s; }
ok "it stopped before the run could end on its own" \
    test $(( $(logtime 'msg="instanced stopped"') - $(logtime 'msg="provisioning started"') )) -lt 10
ok "the provisioning process is gone too" sh -c "[ -n '$prov_child' ] && ! kill -0 $prov_child 2>/dev/null"
t_done
