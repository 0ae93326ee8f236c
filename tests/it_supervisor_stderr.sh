#!/bin/sh
# A stderr pipe that nobody reads does not stop the supervisor: with the pipe full,
# it still answers its status endpoint and restarts a killed worker; lines that did not
# fit are dropped whole and counted, and what reaches the pipe is whole lines in order.
. "$srcdir/tests/lib/common.sh"
t_init sup-stderr
. "$srcdir/tests/it_supervisor_lib.sh"
# jget KEY: KEY of the JSON object on stdin ("" when null, missing or no JSON).
jget() { python3 -c 'import json,sys
try: v = json.load(sys.stdin).get(sys.argv[1])
except Exception: v = None
print("" if v is None else v)' "$1"; }

GLOBALS=$(sup_globals)
STATUS=$(printf '%s\n' "$GLOBALS" | sed -n 's/^status_listen *= *"\(.*\)"/\1/p')
{
    printf '%s\n' "$GLOBALS"
    echo 'log_level = "debug"'
    sup_service tw 'ready_after = 50ms'
    for i in $(seq 1 20); do echo "instance \"tw-$i\" { service = \"tw\" }"; done
    # Far more log than the queue holds: 500 quick crashes, then failed (and quiet).
    echo 'instance "tw-loop" { service = "tw"  env = {"TW_EXIT_AFTER_MS=0", "TW_EXIT_CODE=1"}'
    echo '  restart_delay = 1ms  restart_delay_max = 1ms  start_limit_burst = 500  start_limit_interval = 1h }'
} >"$T/inv.conf"

# instanced with its stderr on a one-page pipe whose read end is held and never read
# until SIGUSR1 asks the holder to drain it into a file.
python3 - "$INSTANCED" "$T/inv.conf" "$T/sup.pid" "$T/drained" "$T/full" <<'PY' &
import fcntl, os, signal, sys, time
instanced, conf, pidfile, drained, fullfile = sys.argv[1:6]
r, w = os.pipe()
fcntl.fcntl(w, 1031, 4096)  # F_SETPIPE_SZ: one page
pid = os.fork()
if pid == 0:
    os.close(r)
    os.dup2(w, 2)
    os.close(w)
    os.execv(instanced, [instanced, "-c", conf])
os.close(w)
open(pidfile, "w").write("%d\n" % pid)
def drain(*_):
    fcntl.fcntl(r, fcntl.F_SETFL, os.O_NONBLOCK)
    with open(drained, "ab") as out:
        while True:
            try:
                b = os.read(r, 65536)
            except BlockingIOError:
                break
            if not b:
                break
            out.write(b)
    open(drained + ".done", "w").close()
signal.signal(signal.SIGUSR1, drain)
while True:
    # Report when the pipe is full (nothing more fits): FIONREAD on the read end.
    import array, termios
    buf = array.array("i", [0])
    fcntl.ioctl(r, termios.FIONREAD, buf)
    if buf[0] >= 4096 - 512:
        open(fullfile, "w").close()
    time.sleep(0.05)
PY
HOLDER=$!
at_exit "kill $HOLDER 2>/dev/null"
wait_for 5 test -s "$T/sup.pid" || { fail "instanced started"; t_done; }
SUP_PID=$(cat "$T/sup.pid")
at_exit "sup_kill_all $SUP_PID; kill $HOLDER 2>/dev/null"

api() { curl -sS --max-time 3 "http://$STATUS/api/v1/instances/$1"; }
# state_is NAME STATE: the status endpoint answers, and NAME is in STATE.
state_is() { [ "$(api "$1" | jget state)" = "$2" ]; }
ok "the stderr pipe fills up" wait_for 10 test -e "$T/full"
ok "the status endpoint answers with stderr full" wait_for 10 state_is tw-1 running
p1=$(api tw-1 | jget pid)
ok "tw-1 has a pid ($p1)" test -n "$p1" -a "$p1" != null
kill -KILL "$p1"
newpid() { q=$(api tw-1 | jget pid); [ -n "$q" ] && [ "$q" != null ] && [ "$q" != "$p1" ] && [ "$q" != 0 ] && kill -0 "$q"; }
ok "a killed worker is restarted with stderr full" wait_for 10 newpid
ok "and runs" wait_for 10 state_is tw-1 running

# Read the pipe now: it gets the lines that waited, and the notice of those dropped.
# Generous: a sanitizer build forks slowly, and 500 starts take it a while (the
# start-limit window is an hour, so that they all count however long they take).
ok "tw-loop crash-looped until failed, stderr still full" wait_for 300 state_is tw-loop failed
# drain PATTERN: have the holder read the pipe once (it appends to $T/drained); PATTERN
# is in what was read so far.
drain() {
    rm -f "$T/drained.done"
    kill -USR1 "$HOLDER"
    _n=0
    while [ ! -e "$T/drained.done" ] && [ $_n -lt 100 ]; do sleep 0.05; _n=$((_n + 1)); done
    grep -q "$1" "$T/drained"
}
ok "dropped lines are reported once stderr is read again" wait_for 60 drain 'msg="log lines dropped: stderr was not read fast enough" dropped=[1-9]'
bad=$(grep -cv '^time=[0-9T:.Z-]* level=[a-z]* msg=' "$T/drained")
is "$bad" 0 "every line that reached stderr is whole"
kill -TERM "$SUP_PID"
ok "instanced exits" wait_for 15 sh -c "! kill -0 $SUP_PID 2>/dev/null || [ \"\$(sed 's/.*) //' /proc/$SUP_PID/stat | cut -d' ' -f1)\" = Z ]"
t_done
