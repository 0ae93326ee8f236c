#!/bin/sh
# Log capture: stdout and stderr land in <logs_dir>/<instance>.log with a timestamp per
# line; files rotate at log_max_bytes keeping log_backups; a flood is dropped with a
# counter and never delays another instance's restart; --foreground mirrors lines
# prefixed with the instance name.
. "$srcdir/tests/lib/common.sh"
t_init sup-logs
. "$srcdir/tests/it_supervisor_lib.sh"

MAX=65536
cat >"$T/inv.conf" <<EOF
$(sup_globals)
$(sup_service tw 'restart_delay = 100ms' 'log_max_bytes = 64KiB' 'log_backups = 2')
instance "tw-talk"   { service = "tw"  env = {"TW_PRINT=hello out", "TW_STDERR=hello err"} }
instance "tw-flood"  { service = "tw"  env = {"TW_FLOOD_BYTES=200000", "TW_PRINT=flood begins"} }
instance "tw-hose"   { service = "tw"  env = {"TW_FLOOD_BYTES=forever"}  log_backups = 1 }
instance "tw-burst"  { service = "tw"  env = {"TW_FLOOD_BYTES=20000000", "TW_TICK_MS=300"} }
instance "tw-victim" { service = "tw" }
EOF
# Output beyond 256 KiB/s per instance is dropped: low enough that any machine floods
# past it, high enough for tw-flood's 200 kB to pass whole.
INSTANCED_LOG_RATE=256KiB sup_start "$T/inv.conf" || fail "instanced starts"
L=$T/vol

# Lines and timestamps.
ok "stdout captured" wait_for 5 grep -q ' hello out$' "$L/tw-talk/logs/tw-talk.log"
ok "stderr captured" wait_for 5 grep -q ' hello err$' "$L/tw-talk/logs/tw-talk.log"
ok "every line timestamped" sh -c "! grep -vqE '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z ' '$L/tw-talk/logs/tw-talk.log'"
is "$(stat -c %a "$L/tw-talk/logs/tw-talk.log")" 640 "log file mode 0640"

# Rotation: 200 kB through a 64 KiB file with 2 backups.
ok "flood finished (its next line is in the log)" wait_for 15 grep -q 'test-worker: running' "$L/tw-flood/logs/tw-flood.log"
ls -l "$L/tw-flood/logs" | sed 's/^/# /'
# Backups are numbered upwards (the highest the newest): 200 kB make three rotations.
is "$(cd "$L/tw-flood/logs" && ls tw-flood.log.* | sort -V | tr '\n' ' ')" "tw-flood.log.2 tw-flood.log.3 " "two backups, .2 and .3, the oldest .1 removed"
for f in "$L"/tw-flood/logs/tw-flood.log*; do
    ok "$(basename "$f") within log_max_bytes ($(stat -c %s "$f"))" test "$(stat -c %s "$f")" -le $MAX
done
total=$(cat "$L"/tw-flood/logs/tw-flood.log* | wc -c)
ok "total within log_max_bytes x (log_backups + 1) ($total)" test "$total" -le $((MAX * 3))
ok "rotated files hold whole timestamped lines" sh -c "tail -n 1 '$L/tw-flood/logs/tw-flood.log.3' | grep -qE '^20[0-9-]{8}T[0-9:.]{12}Z x+$'"

# A never-ending flood: dropped, counted, said in both logs; the disk bound holds.
ok "flood drop reported in the supervisor log" wait_for 10 grep -q 'msg="worker output dropped" instance=tw-hose bytes=[0-9]' "$T/sup.log"
# A burst (20 MB, then a tick every 300 ms): the note lands in its own log when
# output is accepted again, and stays there (the hose would rotate it away at once).
ok "flood drop noted in the worker's log" wait_for 10 grep -q '\[instanced\] dropped [0-9]* bytes of output' "$L/tw-burst/logs/tw-burst.log"
ok "the burst's output resumes after the note" wait_for 5 sh -c "grep -A1 'dropped [0-9]* bytes' '$L/tw-burst/logs/tw-burst.log' | grep -q ' tick [0-9]*$'"
is "$(ls "$L/tw-hose/logs" | grep -c '^tw-hose\.log\.')" 1 "one backup for log_backups = 1"
total=$(cat "$L"/tw-hose/logs/tw-hose.log* 2>/dev/null | wc -c)
ok "flooding worker within its bound ($total <= $((MAX * 2)))" test "$total" -le $((MAX * 2))

# The flood does not delay another instance's restart (restart_delay 100 ms).
ok "victim runs" wait_for 5 running tw-victim
v1=$(wpid tw-victim)
t0=$(ms)
kill -9 "$v1"
newpid() { [ -n "$(wpid tw-victim)" ] && [ "$(wpid tw-victim)" != "$v1" ] && running tw-victim; }
ok "victim restarted" wait_for 5 newpid
# Timed from the kill to the time stamped on the new worker's "worker started" line, so
# the shell's own polling of a growing log on a loaded machine is not counted. A
# sanitizer build is slower at everything: 2 s there (a flood that held the restart up
# would hold it for as long as the flood goes on).
started_ms() {
    _t=$(grep "msg=\"worker started\" instance=tw-victim pid=$(wpid tw-victim) " "$T/sup.log" |
        tail -n 1 | sed -n 's/^time=\([^ ]*\) .*/\1/p')
    [ -n "$_t" ] && date -u -d "$_t" +%s%3N
}
dt=$(( $(started_ms || echo 99999999999999) - t0 ))
limit=1000
if sanitized "$INSTANCED"; then limit=2000; fi
ok "restart during the flood took $dt ms (< $limit)" test "$dt" -lt "$limit"
ok "the hose is still flooding" running tw-hose

sup_stop 10
is "$SUP_RC" 0 "instanced exits 0"

# --foreground: lines mirrored to the terminal (here a file: no colour).
: >"$T/sup.log"
cat >"$T/fg.conf" <<EOF
$(sup_globals)
$(sup_service tw)
instance "tw-fg" { service = "tw"  env = {"TW_PRINT=to the terminal"} }
EOF
sup_start "$T/fg.conf" --foreground || fail "instanced --foreground starts"
ok "foreground: line mirrored with the instance name" wait_for 5 grep -qE '^tw-fg +\| to the terminal$' "$T/sup.out"
ok "foreground: still written to the file" grep -q ' to the terminal$' "$L/tw-fg/logs/tw-fg.log"
ok "foreground: no colour codes when not a terminal" sh -c "! grep -q \"\$(printf '\\033')\" '$T/sup.out'"
sup_stop 10
is "$SUP_RC" 0 "instanced --foreground exits 0"

# On a terminal the prefix is coloured: script(1) gives instanced a pty.
if command -v script >/dev/null 2>&1; then
    : >"$T/sup.log"
    script -q -f -e -c "'$INSTANCED' -c '$T/fg.conf' --foreground 2>>'$T/sup.log'" "$T/tty.out" \
        </dev/null >/dev/null 2>&1 &
    SCRIPT_PID=$!
    at_exit "kill $SCRIPT_PID"
    wait_for 5 grep -q 'msg="instanced started"' "$T/sup.log"
    SUP_PID=$(sed -n 's/.*msg="instanced started".* pid=\([0-9]*\).*/\1/p' "$T/sup.log")
    at_exit "sup_kill_all $SUP_PID"
    ok "tty: coloured instance prefix" wait_for 5 grep -q "$(printf '\033')\[3[1-6]mtw-fg" "$T/tty.out"
    kill -TERM "$SUP_PID"
    ok "tty: script(1) ends with instanced" wait_for 10 sh -c "! kill -0 $SCRIPT_PID 2>/dev/null"
    ok "tty: instanced exited 0" grep -q 'COMMAND_EXIT_CODE="0"' "$T/tty.out"
else
    echo "# no script(1): colour not checked"
fi
t_done
