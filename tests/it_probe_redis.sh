#!/bin/sh
# Redis as a worker, as a new user would run it: placeholders give each instance its
# own port and directory on redis-server's command line; a "tcp" and an "exec"
# (redis-cli -p %p ping) probe make it healthy; DEBUG SLEEP makes both unhealthy and
# healthy again after. An exec probe that hangs is killed at the timeout with what it
# forked. A %q placeholder is rejected with its line; a health_interval alone no longer
# trips over the default health_timeout.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/it_monitor_lib.sh"
t_init probe-redis
at_exit mon_dump_log

command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
    { echo "# redis-server and redis-cli are needed (scripts/deps.sh installs them)"; exit 1; }

# Hanging probe marker: a sleep nobody else runs.
HANG="987.$$"
mon_inventory 300ms 250ms
# --tcp-backlog 1: while redis sleeps the kernel queues two connections, then refuses to
# complete more; a tcp probe can only see a stuck server that way (see the man page).
mon_service redis redis-server "" \
    'args = {"--port", "%p", "--dir", "%d", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--tcp-backlog", "1", "--enable-debug-command", "yes"}' \
    'failures_before_unhealthy = 1'
mon_instance redis-T redis 'health_check = "tcp"'
mon_instance redis-E redis 'health_command = {"redis-cli", "-p", "%p", "ping"}'
mon_service hang sleep "" 'args = {"100000"}' 'env = {"GREETING=I am %i of %s, 100%%"}' \
    "health_command = {\"sh\", \"-c\", \"echo probe hangs; sleep $HANG; true\"}"
mon_instance hang-A hang
mon_start || { fail "instanced starts"; t_done; exit 1; }

"$INSTANCED" --check-config --json -c "$INV" >"$T/check.json" 2>"$T/check.err"
is "$(jq -r '.[] | select(.instance == "redis-T") | .health_check' "$T/check.json")" tcp \
    "--check-config shows the tcp kind"
is "$(jq -r '.[] | select(.instance == "redis-E") | .health_check' "$T/check.json")" exec \
    "--check-config shows the exec kind (inferred from health_command)"
DIR_T=$(jq -r '.[] | select(.instance == "redis-T") | .data_dir' "$T/check.json")

ok "redis-T (tcp) is running and healthy" \
    wait_for 20 inst_is redis-T '.state == "running" and .status == "healthy"'
ok "redis-E (exec) is running and healthy" \
    wait_for 20 inst_is redis-E '.state == "running" and .status == "healthy"'
is "$(redis-cli -p "$PORT_redis_T" config get port | tail -1)" "$PORT_redis_T" \
    "%p: redis-T listens on its own port"
is "$(redis-cli -p "$PORT_redis_T" config get dir | tail -1)" "$DIR_T" \
    "%d: redis-T works in its own data directory"
pid=$(mon_json /api/v1/instances/hang-A .pid)
ok "env values get placeholders too" \
    grep -qz '^GREETING=I am hang-A of hang, 100%$' "/proc/$pid/environ"

# Both stuck for 5 s: both turn unhealthy while it lasts, healthy after.
redis-cli -p "$PORT_redis_T" debug sleep 5 >/dev/null 2>&1 &
redis-cli -p "$PORT_redis_E" debug sleep 5 >/dev/null 2>&1 &
ok "redis-T turns unhealthy while redis sleeps" \
    wait_for 5 inst_is redis-T '.status == "unhealthy"'
ok "redis-E turns unhealthy while redis sleeps (probe killed at the timeout)" \
    wait_for 5 inst_is redis-E '.status == "unhealthy" and (.message | test("killed after"))'
ok "redis-T is healthy again after" wait_for 20 inst_is redis-T '.status == "healthy"'
ok "redis-E is healthy again after" wait_for 20 inst_is redis-E '.status == "healthy"'
is "$(mon_json /api/v1/instances/redis-E .restarts)" 0 "no restart (restart_on_unhealthy is 0)"

# The hanging probe: unhealthy with its output and the kill as message.
ok "hang-A is judged unhealthy: its probe is killed at the timeout" \
    wait_for 10 inst_is hang-A '.status == "unhealthy" and (.message | test("killed after 250 ms: probe hangs"))'
n=$(mon_json /api/v1/instances/hang-A .probes)
wait_for 20 sh -c "[ \$(curl -s $BASE/api/v1/instances/hang-A | jq .probes) -ge $((n + 5)) ]"
# At most the probe in flight is alive: every earlier one went with its children. On a
# loaded machine a probe just killed at its timeout can still be on its way out when
# the next one starts, so two can be seen for a moment: wait for at most one. Hung
# probes that piled up would never go back down to one.
hangs() { pgrep -f "^sleep $HANG" | wc -l; }
few_hangs() { left=$(hangs); [ "$left" -le 1 ]; }
if wait_for 10 few_hangs; then pass "no hung probe piles up ($left alive, at most the one in flight)"
else fail "no hung probe piles up: $(hangs) alive, want at most the one in flight"; fi
CTL stop hang-A >/dev/null
nohang() { ! pgrep -f "^sleep $HANG" >/dev/null; }
ok "once stopped, no probe process is left" wait_for 5 nohang
mon_stop

# Rejections name the line of the key the user wrote.
cat >"$T/bad.conf" <<EOF2
volumes_root = "$T/v2"
service "redis" {
    command = "redis-server"
    args = {"--port", "%q"}
}
instance "redis-A" {
    service = "redis"
    port = 7000
    health_check = "exec"
    health_command = {"redis-cli", "-p", "%p", "%z"}
}
EOF2
"$INSTANCED" --check-config -c "$T/bad.conf" >/dev/null 2>"$T/bad.err"
is "$?" 1 "an unknown placeholder is rejected"
ok "args' %q is reported at its line" grep -q "bad.conf:4: args: unknown placeholder %q" "$T/bad.err"
ok "health_command's %z is reported at its line" \
    grep -q "bad.conf:10: health_command: unknown placeholder %z" "$T/bad.err"

cat >"$T/interval.conf" <<EOF2
volumes_root = "$T/v3"
health_interval = "1s"
service "tw" {
    command = "$TW"
}
instance "tw-A" {
    service = "tw"
}
EOF2
ok "health_interval = 1s alone is accepted (health_timeout adapts)" \
    "$INSTANCED" --check-config -c "$T/interval.conf"
sed -i 's/^health_interval = "1s"$/health_interval = "1s"\nhealth_timeout = "3s"/' "$T/interval.conf"
"$INSTANCED" --check-config -c "$T/interval.conf" >/dev/null 2>"$T/interval.err"
ok "a health_timeout written above health_interval is reported at its own line" \
    grep -q "interval.conf:3: health_timeout must be above 0 and at most health_interval" \
    "$T/interval.err"
t_done
