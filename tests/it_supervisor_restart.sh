#!/bin/sh
# Restarts: kill -9 gives a new PID and a higher restart count; a worker that fails at
# once reaches `failed` after the start-limit burst, with growing gaps; exit 78 is
# `failed` at once; a missing command is a failed start; exit causes are decoded.
. "$srcdir/tests/lib/common.sh"
t_init sup-restart
. "$srcdir/tests/it_supervisor_lib.sh"

cat >"$T/inv.conf" <<EOF
$(sup_globals)
$(sup_service tw 'restart_delay = 100ms' 'restart_delay_max = 2s')
service "gone" {
    command = "$T/no-such-binary"
    instance_prefix = "gone"
    restart_delay = 50ms
    start_limit_burst = 3
}
service "noexec" {
    command = "$T/not-executable"
    instance_prefix = "noexec"
    restart_delay = 50ms
    start_limit_burst = 2
}
instance "tw-steady" { service = "tw" }
instance "tw-crash"  { service = "tw"  env = {"TW_EXIT_AFTER_MS=0", "TW_EXIT_CODE=3"} }
instance "tw-config" { service = "tw"  env = {"TW_EXIT_AFTER_MS=0", "TW_EXIT_CODE=78"} }
instance "tw-abort"  { service = "tw"  env = {"TW_EXIT_AFTER_MS=200", "TW_EXIT_SIGNAL=6"}
                       restart = "never" }
instance "tw-clean"  { service = "tw"  env = {"TW_EXIT_AFTER_MS=200"}  restart = "on-failure" }
instance "gone-x"    { service = "gone" }
instance "noexec-x"  { service = "noexec" }
EOF
printf '#!/bin/sh\nexit 0\n' >"$T/not-executable"
chmod 0644 "$T/not-executable"
sup_start "$T/inv.conf" || fail "instanced starts"

# kill -9: a new PID, a restart counted and the cause decoded.
wait_for 5 running tw-steady
p1=$(wpid tw-steady)
kill -9 "$p1"
wait_for 5 sh -c "[ -n \"\$(grep 'worker started\" instance=tw-steady .*restarts=1' '$T/sup.log')\" ]"
p2=$(wpid tw-steady)
ok "kill -9: a new PID ($p1 -> $p2)" test -n "$p2" -a "$p2" != "$p1"
ok "the new worker runs" wait_for 5 running tw-steady
is "$(nlog "instance=tw-steady pid=$p1 cause=\"killed by signal 9\"")" 1 "exit cause decoded: killed by signal 9"
ok "restart count went up (restarts=1 on the new start)" \
    grep -q "worker started\" instance=tw-steady pid=$p2 restarts=1" "$T/sup.log"

# A worker exiting at once: failed after the burst (5 starts), with growing gaps.
ok "crashing worker ends failed" wait_for 10 grep -q 'msg="instance failed" instance=tw-crash reason="start limit hit' "$T/sup.log"
is "$(nlog 'msg="worker started" instance=tw-crash ')" 5 "5 starts before failed (start_limit_burst)"
is "$(grep 'msg="restart scheduled" instance=tw-crash ' "$T/sup.log" | sed -n 's/.*delay_ms=\([0-9]*\).*/\1/p' | tr '\n' ' ')" \
    "100 200 400 800 " "backoff delays double: 100 200 400 800 ms"
# The gaps from each exit to the next start, from the supervisor's own timestamps.
gaps=$(grep -E 'msg="worker (started|exited)" instance=tw-crash ' "$T/sup.log" |
    sed -n 's/^time=[0-9-]*T\([0-9]*\):\([0-9]*\):\([0-9.]*\)Z level=[a-z]* msg="worker \([a-z]*\)".*/\1 \2 \3 \4/p' |
    awk '{ t = $1 * 3600 + $2 * 60 + $3 } $4 == "exited" { e = t } $4 == "started" && e { printf "%d ", (t - e) * 1000 }')
echo "# gaps from exit to restart (ms): $gaps"
# A timer never fires early, but the log's timestamps are taken when a line is written,
# which a loaded loop may do late for the exit and on time for the start: so each gap
# is only checked to be at least half its delay, which still tells a backoff from none.
ok "each gap from exit to restart is at least half its delay ($gaps)" \
    sh -c "echo '$gaps' | awk '{ d = 100; if (NF != 4) exit 1; for (i = 1; i <= NF; i++) { if (\$i < d / 2) exit 1; d *= 2 } }'"
is "$(nlog 'instance=tw-crash .*cause="exited with status 3"')" 5 "exit cause decoded: exited with status 3"

# Exit 78: failed at once, never respawned.
ok "exit 78: failed" wait_for 5 grep -q 'msg="instance failed" instance=tw-config reason="exit status 78' "$T/sup.log"
is "$(nlog 'msg="worker started" instance=tw-config ')" 1 "exit 78: exactly one start"

# restart = never, killed by a signal: failed; restart = on-failure, clean exit: stopped.
ok "SIGABRT decoded" wait_for 5 grep -q 'instance=tw-abort .*cause="killed by signal 6' "$T/sup.log"
ok "restart=never after a crash: failed" wait_for 5 grep -q 'msg="instance failed" instance=tw-abort reason="restart=never' "$T/sup.log"
ok "restart=on-failure after exit 0: not restarted" wait_for 5 grep -q 'msg="worker not restarted" instance=tw-clean' "$T/sup.log"
is "$(nlog 'msg="worker started" instance=tw-clean ')" 1 "on-failure clean exit: one start"

# A missing command: each attempt is a failed start with the reason, then failed.
ok "missing command: reason logged" grep -q 'msg="worker failed to start" instance=gone-x error="exec: No such file or directory" command=.*/no-such-binary' "$T/sup.log"
ok "missing command: failed after its burst of 3" wait_for 5 grep -q 'msg="instance failed" instance=gone-x reason="start limit hit (3 starts' "$T/sup.log"

# An exec failure in the child comes back through the report pipe: a failed start.
ok "exec failure: reason logged" wait_for 5 grep -q 'msg="worker failed to start" instance=noexec-x error="exec: Permission denied"' "$T/sup.log"
ok "exec failure: failed after its burst of 2" wait_for 5 grep -q 'msg="instance failed" instance=noexec-x reason="start limit hit (2 starts' "$T/sup.log"
is "$(nlog 'msg="worker (started|exited)" instance=noexec-x ')" 0 "exec failure: never logged as started or exited"

# No respawn after failed: absence cannot be polled for; give it a second (longer
# than any backoff so far) and compare.
n_before=$(nlog 'msg="worker started" instance=tw-crash ')
sleep 1
is "$(nlog 'msg="worker started" instance=tw-crash ')" "$n_before" "failed instance is not restarted"
ok "steady worker still running" running tw-steady

# Manual control through instancectl: start clears failed, stop keeps an instance
# down (no restart), restart gives a new PID.
ctl() { "$top_builddir/src/instancectl" -s "$T/ctl.sock" "$@" >/dev/null; }
if wait_for 5 test -S "$T/ctl.sock"; then
    n0=$(nlog 'msg="worker started" instance=tw-crash ')
    ok "instancectl start on a failed instance" ctl start tw-crash
    ok "it is started again" wait_for 5 sh -c "[ \$(grep -c 'msg=\"worker started\" instance=tw-crash ' '$T/sup.log') -gt $n0 ]"
    ok "and fails again after a fresh burst" wait_for 10 sh -c "[ \$(grep -c 'msg=\"instance failed\" instance=tw-crash ' '$T/sup.log') -ge 2 ]"
    s1=$(wpid tw-steady)
    ok "instancectl stop" ctl stop tw-steady
    ok "stopped worker exits" wait_for 5 grep -q "instance=tw-steady pid=$s1 cause=\"exited with status 0\"" "$T/sup.log"
    n1=$(nlog 'msg="worker started" instance=tw-steady ')
    sleep 0.5 # absence of a restart: nothing to poll for
    is "$(nlog 'msg="worker started" instance=tw-steady ')" "$n1" "a stopped instance is not restarted"
    ok "instancectl start" ctl start tw-steady
    ok "started again" wait_for 5 running tw-steady
    s2=$(wpid tw-steady)
    ok "instancectl restart" ctl restart tw-steady
    restarted() { _p=$(wpid tw-steady); [ -n "$_p" ] && [ "$_p" != "$s2" ] && running tw-steady; }
    ok "restart: a new PID" wait_for 5 restarted
else
    fail "control socket appears"
fi

sup_stop 10
is "$SUP_RC" 0 "instanced exits 0 on SIGTERM"
t_done
