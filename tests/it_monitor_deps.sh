#!/bin/sh
# Dependency ordering: a dependent starts only after its dependency is ready (its first
# healthy probe, or ready_after without a health_path); while the dependency is not
# ready the dependent waits and says so in status; a cycle is rejected at load.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/it_monitor_lib.sh"
t_init monitor-deps
at_exit mon_dump_log

echo unhealthy >"$T/health-db"
mon_inventory 300ms 200ms
mon_service tw "$TW" /api/v1/health
mon_service plain "$TW" "" 'ready_after = 500ms'
mon_instance tw-DB tw "env = {\"TW_HEALTH_FILE=$T/health-db\"}"
mon_instance tw-APP tw 'depends_on = {"tw-DB"}'
mon_instance tw-FRONT tw 'depends_on = {"tw-APP", "plain-Q"}'
mon_instance plain-Q plain
mon_start || { fail "instanced starts"; t_done; }

ok "tw-DB runs but is not ready (unhealthy)" \
    wait_for 10 inst_is tw-DB '.pid != null and .state == "starting"'
ok "tw-APP waits for tw-DB" \
    wait_for 10 inst_is tw-APP '.state == "waiting" and .pid == null and (.waiting_for | test("tw-DB"))'
ok "tw-FRONT waits too" inst_is tw-FRONT '.state == "waiting" and .pid == null'
ok "plain-Q (no health_path) becomes running after ready_after" \
    wait_for 10 inst_is plain-Q '.state == "running" and .status == "healthy"'
# Several probe cycles later, still waiting (polling the dependency's probe counter).
n=$(mon_json /api/v1/instances/tw-DB .probes)
wait_for 10 sh -c "[ \$(curl -s $BASE/api/v1/instances/tw-DB | jq .probes) -ge $((n + 4)) ]"
ok "tw-APP still waits after four more probes of tw-DB" inst_is tw-APP '.state == "waiting" and .starts == 0'
CTL status >"$T/status.txt"
ok "instancectl status says what tw-APP waits for" grep -q '^  tw-APP: waiting for .*tw-DB' "$T/status.txt"
is "$(mon_json /api/v1/health '.instances["tw-APP"].state')" waiting "the combined health shows the waiting state"

echo healthy >"$T/health-db"
ok "tw-DB gets ready" wait_for 10 inst_is tw-DB '.state == "running"'
ok "tw-APP starts and gets ready" wait_for 10 inst_is tw-APP '.state == "running" and .status == "healthy"'
ok "tw-FRONT starts and gets ready" wait_for 10 inst_is tw-FRONT '.state == "running" and .status == "healthy"'

# Order, from the supervisor's log: ready(dependency) before started(dependent).
line() { grep -n "msg=\"$1\".* instance=$2 " "$T/instanced.log" | head -1 | cut -d: -f1; }
db_ready=$(line "worker ready" tw-DB)
app_started=$(line "worker started" tw-APP)
app_ready=$(line "worker ready" tw-APP)
front_started=$(line "worker started" tw-FRONT)
ok "tw-APP started after tw-DB was ready (log lines $db_ready < $app_started)" \
    test "${db_ready:-0}" -gt 0 -a "${app_started:-0}" -gt "${db_ready:-0}"
ok "tw-FRONT started after tw-APP was ready (log lines $app_ready < $front_started)" \
    test "${app_ready:-0}" -gt 0 -a "${front_started:-0}" -gt "${app_ready:-0}"
# With 300 ms probes timing out at 200 ms, two slow probes in a row on a loaded machine
# make a worker unhealthy for a moment: waited for rather than read once.
if wait_for 10 overall_is healthy; then pass "everything healthy in the end"
else fail "everything healthy in the end: got '$(mon_json /api/v1/health .status)'"; fi
mon_stop

# A cycle is rejected at load, with the cycle shown.
"$INSTANCED" --check-config -c "$srcdir/tests/fixtures/reject/depends-cycle.conf" >/dev/null 2>"$T/cycle.err"
is "$?" 1 "an inventory with a depends_on cycle is rejected"
ok "the error shows the cycle" grep -q -- '->' "$T/cycle.err"
t_done
