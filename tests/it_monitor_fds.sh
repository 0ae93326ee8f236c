#!/bin/bash
# Running out of descriptors: a local client that holds more connections than the
# open-file limit allows must not turn the status endpoint (or a worker's HTTP
# listener) into a busy loop. libevent 2.1 keeps a listener enabled after accept()
# fails with EMFILE and logs "Error from accept() call" on every wake-up: 100 % CPU and
# hundreds of thousands of lines a second. The listener rests instead, says so once per
# pause, and serves again when descriptors are back. The status endpoint's connection
# cap (a quarter of the limit by default) keeps it from getting there at all.
. "$srcdir/tests/lib/common.sh"
t_init mon-fds
. "$srcdir/tests/it_monitor_lib.sh"

# hold PORT COUNT READY_FILE RELEASE_FILE: open up to COUNT connections, then hold them
# until RELEASE_FILE exists.
hold() {
    python3 - "$@" <<'PY' &
import os, socket, sys, time
port, count, ready, release = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
held = []
for _ in range(count):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
    except OSError:
        break
    held.append(s)
open(ready, "w").write("%d\n" % len(held))
while not os.path.exists(release):
    time.sleep(0.05)
PY
    HOLD_PID=$!
    at_exit "kill $HOLD_PID"
}
# exhaust WHAT PID PORT COUNT LOG LISTENER: hold COUNT connections to PORT against the
# process PID (its log in LOG, its listener named LISTENER there) and check that it
# rests without spinning or flooding its log.
exhaust() {
    rm -f "$T/held" "$T/release"
    hold "$3" "$4" "$T/held" "$T/release"
    ok "$4 connections to $1 are open or queued" wait_for 10 test -s "$T/held"
    ok "$1 rests when out of descriptors" wait_for 5 grep -q \
        "msg=\"out of descriptors: not accepting connections for a while\" listener=$6 error=\"Too many open files\"" "$5"
    _b=$(busy "$2")
    ok "$1 does not spin meanwhile ($_b ticks of CPU in 1 s)" test "$_b" -lt 50
    is "$(grep -c 'Error from accept' "$5")" 0 "no accept() error flood from $1"
}
release() { touch "$T/release"; wait "$HOLD_PID" 2>/dev/null; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# busy PID: CPU ticks (1/100 s) PID used over the next second.
busy() { _a=$(ticks "$1"); sleep 1; echo $(( $(ticks "$1") - _a )); }

# --- the supervisor's status endpoint, under a limit of 64 descriptors ---
mon_inventory 60s 500ms
mon_service tw "$TW" ""
mon_instance tw-A tw
# start_limited CAP: instanced under ulimit -n 64, its status connections capped at CAP
# (empty: the default, a quarter of the limit).
start_limited() {
    (
        ulimit -n 64
        [ -n "$1" ] && export INSTANCED_STATUS_MAX_CONNECTIONS=$1
        exec "$INSTANCED" -c "$INV"
    ) >"$T/instanced.log" 2>&1 &
    MON_PID=$!
    at_exit "kill $MON_PID 2>/dev/null; wait $MON_PID 2>/dev/null"
    ok "instanced is up under ulimit -n 64" wait_for 10 mon_up
    ok "tw-A is running" wait_for 10 inst_is tw-A '.state == "running"'
}

# By default the cap keeps the endpoint from running out of descriptors at all, and
# leaves the rest to the supervisor: the control socket is served meanwhile.
start_limited ""
FDS0=$(ls "/proc/$MON_PID/fd" | wc -l)
rm -f "$T/held" "$T/release"
hold "$STATUS_PORT" 200 "$T/held" "$T/release"
ok "200 connections to the status endpoint are open or queued" wait_for 10 test -s "$T/held"
ok "the endpoint stops accepting at its default cap of 16" wait_for 5 grep -q \
    'msg="status endpoint at its connection cap: not accepting until one ends" max_connections=16' "$T/instanced.log"
FDS=$(ls "/proc/$MON_PID/fd" | wc -l)
ok "instanced holds at most 16 more descriptors ($FDS0 before, $FDS now)" test "$FDS" -le $((FDS0 + 16))
CTL status >/dev/null 2>&1
is "$?" 0 "instancectl status is served meanwhile"
is "$(grep -c 'out of descriptors' "$T/instanced.log")" 0 "the endpoint never ran out of descriptors"
release
ok "the status endpoint answers again once the connections are gone" wait_for 10 mon_up
mon_stop

# With a cap above the limit, the listener rests when accept() runs out of descriptors.
start_limited 1000
exhaust "the status endpoint" "$MON_PID" "$STATUS_PORT" 200 "$T/instanced.log" '"status endpoint"'
ok "at most one line per pause ($(wc -l <"$T/instanced.log") lines in all)" \
    test "$(wc -l <"$T/instanced.log")" -lt 50
release
ok "the status endpoint answers again once the connections are gone" wait_for 10 mon_up
is "$(mon_json /api/v1/instances/tw-A .state)" running "and its instance kept running"
mon_stop

# --- the control socket serves 64 clients at once; one more is told so and closed ---
mon_start || { fail "instanced starts"; t_done; }
ok "tw-A is running" wait_for 10 inst_is tw-A '.state == "running"'
python3 - "$SOCK" "$T/held" "$T/release" <<'PY' &
import os, socket, sys, time
held = []
for _ in range(64):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    held.append(s)
open(sys.argv[2], "w").write("%d\n" % len(held))
while not os.path.exists(sys.argv[3]):
    time.sleep(0.05)
PY
HOLD_PID=$!
at_exit "kill $HOLD_PID"
rm -f "$T/held" "$T/release"
ok "64 control clients are connected" wait_for 10 test -s "$T/held"
CTL status >"$T/busy.out" 2>&1
is "$?" 1 "the 65th is refused (exit 1)"
ok "and told why" grep -q 'too many control connections' "$T/busy.out"
release
# The supervisor notices the 64 closes on its own time: poll until it serves again. Its
# one instance runs and has no health check: healthy, exit 0 and nothing else.
ctl_status_is() { CTL status >/dev/null 2>&1; [ $? -eq "$1" ]; }
ok "once they are gone, instancectl is served again (exit 0)" wait_for 10 ctl_status_is 0
mon_stop

# --- a worker's HTTP listener (the worker runtime), under a limit of 32 ---
W=$top_builddir/workers/entity-worker
mon_new_port
WPORT=$MON_PORT
(
    ulimit -n 32
    SERVICE_NAME=exchange-simulator SERVICE_INSTANCE_NAME=exchange-OKX HTTP_PORT=$WPORT \
        POSTGRES_URL="postgresql://nobody@127.0.0.1:1/none" REDIS_URL="redis://127.0.0.1:1/0" \
        exec "$W"
) >"$T/worker.log" 2>&1 &
WPID=$!
at_exit "kill $WPID 2>/dev/null"
wup() { curl -s -o /dev/null "http://127.0.0.1:$WPORT/api/v1/health"; }
ok "the worker is up under ulimit -n 32" wait_for 10 wup
exhaust "the worker" "$WPID" "$WPORT" 100 "$T/worker.log" http
release
ok "the worker answers again" wait_for 10 wup
kill "$WPID"
t_done
