#!/bin/sh
# Combined health with real test workers: healthy, degraded and unhealthy instances give
# the right combined status and HTTP code, critical vs non-critical; the status endpoint
# is read-only with the right Content-Types; /metrics passes promtool; http_sd is valid;
# instancectl exit codes; stop keeps an instance down; reload reports every error.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/it_monitor_lib.sh"
t_init monitor-health
at_exit mon_dump_log

# Each worker reads its health from a file on every request: no restarts needed.
for n in A B C; do echo healthy >"$T/health-$n"; done
mon_inventory 300ms 200ms
mon_service tw "$TW" /api/v1/health 'entity_type = "exchange"'
mon_instance tw-A tw "env = {\"TW_HEALTH_FILE=$T/health-A\"}"
mon_instance tw-B tw "env = {\"TW_HEALTH_FILE=$T/health-B\"}"
mon_instance tw-C tw "env = {\"TW_HEALTH_FILE=$T/health-C\"}" "critical = false"
mon_start || { fail "instanced starts"; t_done; }

# With 300 ms probes timing out at 200 ms, two slow probes in a row on a loaded machine
# (two cores, or a sanitizer build) make a worker rightly unhealthy for a cycle or so. So
# a check of the health the workers report waits for it rather than reads it once.
# status_code: the combined status and the HTTP code of one GET /api/v1/health.
status_code() {
    _sc=$(curl -s -o "$T/health.json" -w '%{http_code}' "$BASE/api/v1/health")
    echo "$(jq -r .status "$T/health.json" 2>/dev/null) $_sc"
}
status_code_is() { [ "$(status_code)" = "$1" ]; }
# ctl_rc ARGS...: the exit code of instancectl ARGS; ctl_rc_is WANT ARGS...
ctl_rc() { CTL "$@" >/dev/null 2>&1; echo $?; }
ctl_rc_is() { _want=$1; shift; [ "$(ctl_rc "$@")" = "$_want" ]; }
unhealthy_is() { [ "$(mon_json /api/v1/health .summary.unhealthy)" = "$1" ]; }

ok "every instance becomes running and healthy" \
    wait_for 10 sh -c "[ \"\$(curl -s $BASE/api/v1/health | jq -r '.summary.healthy')\" = 3 ]"
if wait_for 10 overall_is healthy; then pass "all healthy: combined healthy"
else fail "all healthy: combined healthy: got '$(mon_json /api/v1/health .status)'"; fi
if wait_for 10 status_code_is "healthy 200"; then pass "all healthy: HTTP 200"
else fail "all healthy: HTTP 200: got '$(status_code)'"; fi
# The table checked below is the one of the answer that exited 0 (all healthy).
status_table() { CTL status >"$T/status.txt"; }
if wait_for 10 status_table; then pass "instancectl status exits 0 when healthy"
else fail "instancectl status exits 0 when healthy: got $(ctl_rc status)"; fi
# CPU% and RSS follow when containment keeps accounts (a cgroup per instance).
ok "the status table has the documented columns" \
    grep -Eq '^INSTANCE +STATE +HEALTH +PID +UPTIME +RESTARTS +SCHEMA +NAMESPACE( +CPU% +RSS)?$' "$T/status.txt"
ok "the status table lists tw-A with schema and namespace" \
    grep -Eq '^tw-A +running +healthy +[0-9]+ +[0-9]+s +0 +tw_a +tw:A( +[0-9.-]+ +[0-9.]*[BKMG-])?$' "$T/status.txt"

# The combined health has exactly the documented fields (docs/design.md).
is "$(mon_json /api/v1/health '[keys[]] | sort | join(",")')" \
    "environment,instances,service,status,summary,timestamp,version" "combined health: top-level fields"
is "$(mon_json /api/v1/health '.instances["tw-A"] | [keys[]] | sort | join(",")')" \
    "entity_type,last_check,latency_seconds,message,namespace,pid,restarts,schema,service,service_type,state,status" \
    "combined health: per-instance fields"
is "$(mon_json /api/v1/health '.service + " " + .version + " " + .environment')" \
    "instanced 0.1.0 test" "combined health: service, version, environment"
is "$(mon_json /api/v1/health '.instances["tw-A"].service_type + " " + .instances["tw-A"].entity_type')" \
    "multi-instance exchange" "combined health: labels of an instance"

# Non-critical unhealthy: degraded, still 200.
echo unhealthy >"$T/health-C"
ok "non-critical unhealthy: combined degraded" wait_for 10 overall_is degraded
if wait_for 10 status_code_is "degraded 200"; then pass "non-critical unhealthy: HTTP 200"
else fail "non-critical unhealthy: HTTP 200: got '$(status_code)'"; fi
is "$(mon_json /api/v1/instances/tw-C .status)" unhealthy "tw-C itself is unhealthy"
if wait_for 10 ctl_rc_is 1 status; then pass "instancectl status exits 1 when degraded"
else fail "instancectl status exits 1 when degraded: got $(ctl_rc status)"; fi
CTL status tw-C >/dev/null; is "$?" 2 "instancectl status tw-C exits 2 (unhealthy)"
if wait_for 10 ctl_rc_is 0 status tw-A; then pass "instancectl status tw-A exits 0 (healthy)"
else fail "instancectl status tw-A exits 0 (healthy): got $(ctl_rc status tw-A)"; fi

# Critical degraded: degraded.
echo healthy >"$T/health-C"
echo degraded >"$T/health-B"
ok "critical degraded: combined degraded" \
    wait_for 10 sh -c "[ \"\$(curl -s $BASE/api/v1/health | jq -r '[.status, .instances[\"tw-C\"].status, .instances[\"tw-B\"].status] | join(\" \")')\" = 'degraded healthy degraded' ]"
if wait_for 10 status_code_is "degraded 200"; then pass "critical degraded: HTTP 200"
else fail "critical degraded: HTTP 200: got '$(status_code)'"; fi

# Critical unhealthy: unhealthy, 503.
echo unhealthy >"$T/health-A"
ok "critical unhealthy: combined unhealthy" wait_for 10 overall_is unhealthy
is "$(mon_code /api/v1/health)" 503 "critical unhealthy: HTTP 503"
if wait_for 10 unhealthy_is 1; then pass "summary counts one unhealthy"
else fail "summary counts one unhealthy: got '$(mon_json /api/v1/health .summary.unhealthy)'"; fi
CTL status >/dev/null; is "$?" 2 "instancectl status exits 2 when unhealthy"
echo healthy >"$T/health-A"; echo healthy >"$T/health-B"
ok "back to healthy" wait_for 10 overall_is healthy

# Content types, read-only, 404s.
ct() { curl -s -o /dev/null -w '%{content_type}' "$BASE$1"; }
is "$(ct /api/v1/health)" "application/json" "Content-Type of /api/v1/health"
is "$(ct /api/v1/instances)" "application/json" "Content-Type of /api/v1/instances"
is "$(ct /api/v1/prometheus/targets)" "application/json" "Content-Type of the targets"
is "$(ct /metrics)" "text/plain; version=0.0.4; charset=utf-8" "Content-Type of /metrics"
is "$(ct /nope)" "application/json" "Content-Type of a 404"
is "$(mon_code /api/v1/instances/tw-A)" 200 "GET /api/v1/instances/tw-A: 200"
is "$(mon_code /api/v1/instances/nope)" 404 "unknown instance: 404"
is "$(mon_json /api/v1/instances/nope .error)" "Not Found" "unknown instance: JSON error"
is "$(mon_code /nope)" 404 "unknown path: 404"
is "$(mon_json /api/v1/instances '.instances | length')" 3 "/api/v1/instances lists 3"
pid_a=$(mon_json /api/v1/instances/tw-A .pid)
for m in POST PUT DELETE PATCH; do
    is "$(mon_code /api/v1/instances/tw-A "$m")" 405 "$m is refused with 405"
done
is "$(curl -s -X POST -d 'stop' "$BASE/api/v1/instances/tw-A/stop" -o /dev/null -w '%{http_code} %{content_type}')" \
    "405 application/json" "a mutation over TCP: 405 with a JSON message"
is "$(curl -s -X POST "$BASE/api/v1/health" | jq -r .error)" "Method Not Allowed" "405 body is JSON"
is "$(mon_json /api/v1/instances/tw-A .pid)" "$pid_a" "tw-A untouched by the refused mutations"
is "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' x)" "$BASE/api/v1/health")" \
    400 "oversized request headers are refused"

# /metrics passes promtool; the targets are http_sd JSON. The copy checked is one where
# tw-A is up (a run of slow probes can have it unhealthy, so down, for a moment).
TWA_UP='^instanced_instance_up{service="tw",instance_name="tw-A",service_type="multi-instance",entity_type="exchange"} 1$'
metrics_a_up() { curl -s "$BASE/metrics" >"$T/metrics.txt" && grep -q "$TWA_UP" "$T/metrics.txt"; }
wait_for 10 metrics_a_up
if command -v promtool >/dev/null; then
    ok "promtool check metrics accepts /metrics" sh -c "promtool check metrics <'$T/metrics.txt'"
else
    echo "# promtool not installed: skipped"
fi
if grep -q "$TWA_UP" "$T/metrics.txt"; then pass "/metrics has the per-instance series with the documented labels"
else fail "/metrics has the per-instance series with the documented labels: got '$(grep '^instanced_instance_up{' "$T/metrics.txt")'"; fi
ok "/metrics has the restarts counter" grep -q '^# TYPE instanced_instance_restarts_total counter$' "$T/metrics.txt"
ok "/metrics has build info" grep -q '^instanced_build_info{version="0.1.0"} 1$' "$T/metrics.txt"
curl -s "$BASE/api/v1/prometheus/targets" >"$T/targets.json"
ok "http_sd: an array of {targets:[host:port], labels:{string:string}}" jqe '
    type == "array" and length == 3 and
    all(.[]; (.targets | type == "array" and length == 1 and (.[0] | test("^127\\.0\\.0\\.1:[0-9]+$")))
              and (.labels | type == "object" and all(to_entries[]; .value | type == "string"))
              and .labels.service == "tw" and .labels.service_type == "multi-instance")' "$T/targets.json"
is "$(jq -r --arg p "127.0.0.1:$PORT_tw_B" '.[] | select(.targets[0] == $p) | .labels.instance_name' "$T/targets.json")" \
    tw-B "http_sd: tw-B's target carries its instance_name"
if command -v promtool >/dev/null; then
    cat >"$T/prom.yml" <<EOF
scrape_configs:
  - job_name: instanced-workers
    http_sd_configs:
      - url: $BASE/api/v1/prometheus/targets
EOF
    ok "promtool check config accepts an http_sd job on the endpoint" \
        sh -c "promtool check config '$T/prom.yml' >/dev/null"
fi

# The control socket: mode 0660.
is "$(stat -c %a "$SOCK")" 660 "control socket mode 0660"
is "$(stat -c %a "$(dirname "$SOCK")")" 750 "control socket directory created 0750"

# The control protocol itself: one line, one JSON answer; a long line is refused; an
# idle client does not block the others.
sockreq() {
    python3 - "$SOCK" "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode())
print(s.makefile().readline().strip())
EOF
}
is "$(sockreq 'status tw-B
' | jq -r '.ok, .instances[0].name' | tr '\n' ' ')" "true tw-B " "raw protocol: status NAME"
is "$(sockreq "$(head -c 5000 /dev/zero | tr '\0' a)" | jq -r .error)" "request line too long" \
    "raw protocol: an over-long line is refused"
# The idle client connects, says so, and sends nothing until released (or 20 s have
# passed); it exits 0 only when it was released in time and is still connected. So
# instancectl must be served while the idle client is connected before and after: a
# supervisor that waited on the idle client would serve instancectl only once the idle
# client gave up.
rm -f "$T/idle.ready" "$T/idle.release"
python3 - "$SOCK" "$T/idle.ready" "$T/idle.release" <<'EOF' &
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
open(sys.argv[2], "w").write("connected\n")
end = time.monotonic() + 20
while not os.path.exists(sys.argv[3]):
    if time.monotonic() > end:
        sys.exit(1)
    time.sleep(0.05)
s.setblocking(False)
try:
    sys.exit(1 if s.recv(1) == b"" else 2)  # closed, or an answer nobody asked for
except BlockingIOError:
    sys.exit(0)
EOF
idle=$!
ok "an idle control client is connected" wait_for 10 test -s "$T/idle.ready"
# Served means answered: any exit but 3 (no answer). Which health it reports does not
# matter here, and a slow probe may just have made a worker unhealthy.
rc=$(ctl_rc status)
if [ "$rc" -le 2 ]; then pass "instancectl status is served meanwhile"
else fail "instancectl status is served meanwhile: got exit $rc"; fi
touch "$T/idle.release"
wait $idle
is "$?" 0 "the idle client was still connected, waiting, when instancectl was served"

# stop: stays down over several probe intervals, even though restart = always.
is "$(CTL stop tw-A)" "stopping tw-A" "instancectl stop tw-A"
ok "tw-A stops" wait_for 10 inst_is tw-A '.state == "stopped" and .pid == null'
ok "the old process is gone" sh -c "! kill -0 $pid_a 2>/dev/null"
probes=$(mon_json /api/v1/instances/tw-B .probes)
ok "five more probe cycles pass" wait_for 10 sh -c "[ \$(curl -s $BASE/api/v1/instances/tw-B | jq .probes) -ge $((probes + 5)) ]"
is "$(mon_json /api/v1/instances/tw-A .state)" stopped "tw-A still stopped five probe cycles later"
if wait_for 10 overall_is healthy; then pass "a stopped (unwanted) instance does not spoil the combined health"
else fail "a stopped (unwanted) instance does not spoil the combined health: got '$(mon_json /api/v1/health .status)'"; fi
CTL status tw-A >/dev/null; is "$?" 2 "instancectl status of a stopped instance exits 2"
is "$(CTL start tw-A)" "starting tw-A" "instancectl start tw-A"
ok "tw-A runs again" wait_for 10 inst_is tw-A '.state == "running" and .status == "healthy"'
pid_b=$(mon_json /api/v1/instances/tw-B .pid)
CTL restart tw-B >/dev/null; is "$?" 0 "instancectl restart tw-B exits 0"
ok "tw-B restarted with a new pid" \
    wait_for 10 inst_is tw-B ".state == \"running\" and .pid != $pid_b and .pid != null"

# Errors and exit codes.
CTL start nope 2>/dev/null; is "$?" 4 "start of an unknown instance exits 4"
CTL status nope 2>/dev/null; is "$?" 4 "status of an unknown instance exits 4"
CTL frobnicate 2>/dev/null; is "$?" 64 "an unknown command exits 64"
"$INSTANCECTL" -s "$T/no-such.sock" status 2>/dev/null; is "$?" 3 "no supervisor: exit 3"
# Exit 0 needs every instance healthy again, tw-B just restarted among them: waited for.
ctlc_rc() { "$INSTANCECTL" -c "$INV" status >/dev/null 2>&1; echo $?; }
ctlc_rc_is() { [ "$(ctlc_rc)" = "$1" ]; }
if wait_for 10 ctlc_rc_is 0; then pass "-c FILE finds the control socket"
else fail "-c FILE finds the control socket: got exit $(ctlc_rc)"; fi
"$INSTANCECTL" --version | grep -q '^instancectl ' ; is "$?" 0 "--version"
"$INSTANCECTL" --help | grep -q 'status \[NAME\]'; is "$?" 0 "--help"
is "$(CTL --json status tw-A | jq -r '.instances[0].name')" tw-A "--json prints the answer"

# reload: the summary, or every error with the old inventory kept.
is "$(CTL reload)" "0 added, 0 removed, 0 changed, 3 unchanged" "reload prints the summary"
cp "$INV" "$T/good.conf"
printf 'bogus_key = 1\ninstance "tw-D" {\n    service = "nope"\n}\n' >>"$INV"
CTL reload >"$T/reload.out" 2>"$T/reload.err"; rc=$?
is "$rc" 1 "a rejected reload exits 1"
ok "a rejected reload prints every error with its line" \
    sh -c "grep -c '^$INV:[0-9]*: ' '$T/reload.err' | grep -qx 2"
is "$(mon_json /api/v1/instances '.instances | length')" 3 "the old inventory is kept"
cp "$T/good.conf" "$INV"

mon_stop
"$INSTANCECTL" -s "$SOCK" status >/dev/null 2>&1; is "$?" 3 "after shutdown: exit 3"
ok "the control socket is removed at shutdown" test ! -e "$SOCK"
t_done
