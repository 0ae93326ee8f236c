#!/bin/sh
# A listener left on an instance's port (say, a worker's child that outlived a killed
# supervisor) makes the worker fail to listen: the supervisor says so before the start,
# naming the port and the holder's pid, and the instance's status message says it too.
. "$srcdir/tests/lib/common.sh"
t_init sup-portheld
. "$srcdir/tests/it_supervisor_lib.sh"
# jget KEY: KEY of the JSON object on stdin ("" when null, missing or no JSON).
jget() { python3 -c 'import json,sys
try: v = json.load(sys.stdin).get(sys.argv[1])
except Exception: v = None
print("" if v is None else v)' "$1"; }

PORT=$(free_port)
python3 - "$PORT" "$T/leftover.ready" <<'PY' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(4)
open(sys.argv[2], "w").close()
while True:
    time.sleep(60)
PY
LEFT_PID=$!
at_exit "kill $LEFT_PID 2>/dev/null"
wait_for 30 test -e "$T/leftover.ready" || { fail "leftover listener up"; t_done; }

GLOBALS=$(sup_globals)
STATUS=$(printf '%s\n' "$GLOBALS" | sed -n 's/^status_listen *= *"\(.*\)"/\1/p')
{
    printf '%s\n' "$GLOBALS"
    # It fails at once (the port is taken) and is restarted, slowly.
    sup_service tw 'ready_after = 100ms' 'restart_delay = 200ms' 'restart_delay_max = 1s' \
        'start_limit_burst = 1000'
    echo "instance \"tw-web\" { service = \"tw\"  port = $PORT }"
    echo 'instance "tw-free" { service = "tw" }'
} >"$T/inv.conf"
sup_start "$T/inv.conf" || { fail "instanced starts"; t_done; }

ok "the held port is logged with its holder" wait_for 5 grep -q "msg=\"the worker's port is already in use: it will likely fail to listen\" instance=tw-web port=$PORT holder_pid=$LEFT_PID " "$T/sup.log"
is "$(nlog "msg=\"the worker's port is already in use")" 1 "logged once, not once per start"
ok "the worker cannot listen" wait_for 5 grep -q "cannot listen on 127.0.0.1:$PORT" "$T/sup.log" "$T/sup.out" "$T"/vol/tw-web/logs/*
want="port $PORT is held by another process (pid $LEFT_PID, left from a previous run?)"
msg() { curl -sS "http://$STATUS/api/v1/instances/tw-web" | jget last_exit; }
says_why() { msg | grep -qF "$want"; }
ok "the status says why" wait_for 5 says_why
echo "# last_exit: $(msg)"
ok "an instance without a port is not warned about" sh -c "! grep -q \"port is already in use.* instance=tw-free\" '$T/sup.log'"

# The leftover goes away: the worker starts and stays up; the message is gone.
kill "$LEFT_PID"
wait "$LEFT_PID" 2>/dev/null
ok "the worker listens once the port is free" wait_for 10 sh -c "curl -s -o /dev/null 'http://127.0.0.1:$PORT/'"
no_port_msg() {
    j=$(curl -sS "http://$STATUS/api/v1/instances/tw-web")
    [ "$(printf '%s' "$j" | jget state)" = running ] &&
        ! printf '%s' "$j" | jget message | grep -q 'held by another'
}
ok "no port message after that" wait_for 5 no_port_msg

sup_stop
is "$SUP_RC" 0 "instanced exits 0"
t_done
