#!/bin/bash
# Slow clients against the status endpoint ("slowloris"): connections that trickle one
# byte a second never trip an idle timeout, and used to be kept for ever, until the
# supervisor had no descriptor left even to restart a worker. Now the endpoint serves
# at most its cap of connections at once (the rest wait in the kernel's backlog), and
# shuts down any connection that has not sent a whole request within the deadline
# (10 s), however slowly it trickles.
. "$srcdir/tests/lib/common.sh"
t_init mon-slowloris
. "$srcdir/tests/it_monitor_lib.sh"
at_exit mon_dump_log

DEADLINE=10  # STATUS_REQUEST_DEADLINE_S
NOFILE=128
CAP=64       # INSTANCED_STATUS_MAX_CONNECTIONS below
SLOW=120     # more than the descriptors left under NOFILE, fewer than CAP + the backlog

# Probes every 60 s only: a probe cycle would free and take a descriptor now and then,
# which the old endpoint handed to the next queued client.
mon_inventory 60s 500ms
mon_service tw "$TW" /api/v1/health
mon_instance tw-A tw

# The default cap follows the open-file limit: a quarter of it.
(
    ulimit -n 64
    exec "$INSTANCED" -c "$INV"
) >"$T/default.log" 2>&1 &
MON_PID=$!
at_exit "kill $MON_PID 2>/dev/null; wait $MON_PID 2>/dev/null"
ok "instanced is up under ulimit -n 64" wait_for 10 mon_up
ok "its status endpoint takes 16 connections at most by default" \
    grep -q 'msg="status endpoint listening" .* max_connections=16 request_deadline_s=10' "$T/default.log"
# The inventory's status_max_connections sets it, and a reload applies a new value.
cp "$INV" "$T/inv.orig"
{ echo 'status_max_connections = 24'; cat "$T/inv.orig"; } >"$INV"
kill -HUP $MON_PID
ok "a reload applies status_max_connections" wait_for 10 \
    grep -q 'msg="status endpoint connection cap changed" from=16 to=24' "$T/default.log"
cp "$T/inv.orig" "$INV"
mon_stop

(
    ulimit -n $NOFILE
    INSTANCED_STATUS_MAX_CONNECTIONS=$CAP exec "$INSTANCED" -c "$INV"
) >"$T/instanced.log" 2>&1 &
MON_PID=$!
ok "instanced is up under ulimit -n $NOFILE" wait_for 10 mon_up
ok "tw-A runs and is healthy" wait_for 10 inst_is tw-A '.state == "running" and .status == "healthy"'
grep -q "max_connections=$CAP " "$T/instanced.log" || fail "the cap is $CAP"
FDS0=$(ls "/proc/$MON_PID/fd" | wc -l)
pid_a=$(mon_json /api/v1/instances/tw-A .pid)
# During the attack, ask the control socket (the status endpoint is what is attacked).
ctl_is() { CTL --json status "$1" | jq -e ".instances[0] | $2" >/dev/null; }

# SLOW connections, each sending a request line and then one header byte a second;
# the lifetime of each (from its connect to the server's close) goes to $T/lifetimes,
# once every connection is closed or after 90 s.
python3 - "$STATUS_PORT" "$SLOW" "$T/ready" "$T/lifetimes" <<'PY' &
import select, socket, sys, time
port, n, ready, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
conns = {}
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setblocking(False)
    s.send(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    conns[s] = time.monotonic()
open(ready, "w").write("%d\n" % len(conns))
life = []
end = time.monotonic() + 90
while conns and time.monotonic() < end:
    r, _, _ = select.select(list(conns), [], [], 1.0)
    for s in r:
        try:
            gone = s.recv(4096) == b""
        except OSError:
            gone = True
        if gone:
            life.append(time.monotonic() - conns.pop(s))
            s.close()
    for s in list(conns):
        try:
            s.send(b"a")
        except OSError:
            life.append(time.monotonic() - conns.pop(s))
            s.close()
with open(out, "w") as f:
    f.write("".join("%.1f\n" % x for x in sorted(life)))
    f.write("".join("open\n" for _ in conns))
PY
SLOW_PID=$!
at_exit "kill $SLOW_PID 2>/dev/null"
ok "$SLOW slow connections are open or queued" wait_for 20 test -s "$T/ready"
ok "the endpoint stops accepting at its cap" wait_for 10 \
    grep -q "msg=\"status endpoint at its connection cap: not accepting until one ends\" max_connections=$CAP" "$T/instanced.log"
FDS=$(ls "/proc/$MON_PID/fd" | wc -l)
ok "instanced holds at most $CAP more descriptors ($FDS0 before, $FDS now)" \
    test "$FDS" -le $((FDS0 + CAP))

# A worker killed meanwhile finds the descriptors it needs to start again.
kill -9 "$pid_a"
ok "tw-A, killed during the attack, is restarted" wait_for 15 \
    ctl_is tw-A ".state == \"running\" and .pid != $pid_a and .pid != null"

# A new client waits behind the slow ones in the backlog, and is served once they have
# been cut at their deadline.
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time $((3 * DEADLINE)) "$BASE/api/v1/instances/tw-A")
is "$code" 200 "a new client is answered during the attack"

ok "every slow connection ends" wait_for 100 test -s "$T/lifetimes"
is "$(grep -c open "$T/lifetimes")" 0 "no slow connection is kept open"
# The first CAP were accepted at once: each is cut within the deadline and a sweep.
ok "the first $CAP slow connections are cut within $DEADLINE s and a little" \
    test "$(awk -v d=$DEADLINE '$1 >= d - 1 && $1 <= d + 5' "$T/lifetimes" | wc -l)" -ge $CAP
ok "none is cut before the deadline" test "$(awk -v d=$DEADLINE '$1 < d - 1' "$T/lifetimes" | wc -l)" -eq 0
is "$(grep -c 'out of descriptors' "$T/instanced.log")" 0 "instanced never ran out of descriptors"
ok "the endpoint serves again after the attack" wait_for 10 mon_up
ok "its descriptors are back ($(ls "/proc/$MON_PID/fd" | wc -l), $FDS0 before)" \
    wait_for 5 sh -c "[ \$(ls /proc/$MON_PID/fd | wc -l) -le $((FDS0 + 2)) ]"
CTL status >/dev/null
is "$?" 0 "instancectl status: all healthy"
mon_stop
t_done
