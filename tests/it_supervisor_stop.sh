#!/bin/sh
# Stopping: a SIGTERM-ignoring worker is SIGKILLed after stop_timeout; shutdown stops
# dependents first and exits 0; a second SIGTERM kills at once; a SIGHUP during the
# shutdown restarts nothing; SIGKILL of the supervisor takes every worker along
# within 2 s (PR_SET_PDEATHSIG).
. "$srcdir/tests/lib/common.sh"
t_init sup-stop
. "$srcdir/tests/it_supervisor_lib.sh"

# 1. stop_timeout, dependency order, exit 0.
cat >"$T/inv.conf" <<EOF
$(sup_globals)
$(sup_service tw 'ready_after = 100ms')
instance "tw-db"   { service = "tw" }
instance "tw-app"  { service = "tw"  depends_on = {"tw-db"} }
instance "tw-deaf" { service = "tw"  env = {"TW_IGNORE_TERM=1"}  stop_timeout = 1500ms }
EOF
sup_start "$T/inv.conf" || fail "instanced starts"
ok "all three run" wait_for 5 sh -c ". '$srcdir/tests/it_supervisor_lib.sh'; T='$T' SUP_PID=$SUP_PID; running tw-db && running tw-app && running tw-deaf"
db=$(wpid tw-db); app=$(wpid tw-app); deaf=$(wpid tw-deaf)
# tw-app started only after tw-db was ready.
ok "dependent started after its dependency was ready" \
    awk '/msg="worker ready" instance=tw-db /{r=NR} /msg="worker started" instance=tw-app /{s=NR} END{exit !(r && s > r)}' "$T/sup.log"
t0=$(ms)
kill -TERM "$SUP_PID"
# A SIGHUP while stopping must not restart anything.
wait_for 5 grep -q 'msg="shutting down"' "$T/sup.log"
kill -HUP "$SUP_PID"
sup_wait_exit 10
t1=$(ms)
is "$SUP_RC" 0 "exit status 0 after SIGTERM"
ok "stopping took at least stop_timeout ($((t1 - t0)) ms)" test $((t1 - t0)) -ge 1400
# Bounded only against a hang (waiting for a worker that is gone, or for a timeout that
# was never armed), generously enough for a loaded machine or a sanitizer build.
ok "and ended without hanging" test $((t1 - t0)) -lt 20000
ok "the deaf worker was SIGKILLed" grep -q "instance=tw-deaf pid=$deaf cause=\"killed by signal 9\"" "$T/sup.log"
ok "the stop timeout was logged" grep -q 'msg="stop timeout: killing worker" instance=tw-deaf' "$T/sup.log"
ok "polite workers exited 0" sh -c "grep -q 'instance=tw-db pid=$db cause=\"exited with status 0\"' '$T/sup.log' && grep -q 'instance=tw-app pid=$app cause=\"exited with status 0\"' '$T/sup.log'"
ok "dependents stop first (tw-app exited before tw-db was asked)" \
    awk '/msg="worker exited" instance=tw-app /{e=NR} /msg="stopping worker" instance=tw-db /{s=NR} END{exit !(e && s > e)}' "$T/sup.log"
ok "SIGHUP during shutdown ignored" grep -q 'SIGHUP ignored: shutting down' "$T/sup.log"
is "$(nlog 'msg="worker started"')" 3 "nothing was restarted during the shutdown"
for p in $db $app $deaf; do
    ok "worker $p is gone" sh -c "! kill -0 $p 2>/dev/null"
done

# 2. A second SIGTERM kills at once.
: >"$T/sup.log"
cat >"$T/inv2.conf" <<EOF
$(sup_globals)
$(sup_service tw 'stop_timeout = 60s')
instance "tw-deaf" { service = "tw"  env = {"TW_IGNORE_TERM=1"} }
EOF
sup_start "$T/inv2.conf" || fail "instanced starts again"
wait_for 5 running tw-deaf
t0=$(ms)
kill -TERM "$SUP_PID"
wait_for 5 grep -q 'msg="stopping worker" instance=tw-deaf' "$T/sup.log"
kill -INT "$SUP_PID"
sup_wait_exit 10
t1=$(ms)
is "$SUP_RC" 0 "exit 0 after a second signal"
ok "second signal: gone in $((t1 - t0)) ms, not after stop_timeout (60 s)" test $((t1 - t0)) -lt 3000
ok "second signal logged" grep -q 'second stop signal' "$T/sup.log"

# 3. What a worker leaves in its process group goes with it: on kill -9 of the worker,
# and on a stop where the leftover ignores SIGTERM.
: >"$T/sup.log"
cat >"$T/inv4.conf" <<EOF
$(sup_globals)
$(sup_service tw 'restart_delay = 50ms')
instance "tw-parent" { service = "tw"  env = {"TW_FORK_CHILD=1"} }
EOF
sup_start "$T/inv4.conf" || fail "instanced starts (process group)"
LOG4=$T/vol/tw-parent/logs/tw-parent.log
kid() { sed -n 's/.*test-worker: child \([0-9]*\)$/\1/p' "$LOG4" | tail -n 1; }
ok "worker forked its child" wait_for 5 sh -c "grep -q 'test-worker: child [0-9]' '$LOG4'"
k1=$(kid)
kill -9 "$(wpid tw-parent)"
gone_pid() { st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1); [ -z "$st" ] || [ "$st" = Z ]; }
ok "worker's leftover child killed with it" wait_for 5 gone_pid "$k1"
ok "leftover kill logged" grep -q 'msg="killed processes left in the worker.s process group" instance=tw-parent' "$T/sup.log"
ok "worker restarted and forked a new child" wait_for 5 sh -c "[ \$(grep -c 'test-worker: child [0-9]' '$LOG4') -ge 2 ]"
k2=$(kid)
sup_stop 10
is "$SUP_RC" 0 "stop with a SIGTERM-ignoring leftover: exit 0"
ok "leftover of a stopped worker killed" wait_for 5 gone_pid "$k2"

# 4. SIGKILL of the supervisor: workers die with it.
: >"$T/sup.log"
cat >"$T/inv3.conf" <<EOF
$(sup_globals)
$(sup_service tw)
instance "tw-a" { service = "tw" }
instance "tw-b" { service = "tw"  env = {"TW_IGNORE_TERM=1"} }
instance "tw-c" { service = "tw" }
EOF
sup_start "$T/inv3.conf" || fail "instanced starts a third time"
wait_for 5 sh -c ". '$srcdir/tests/it_supervisor_lib.sh'; T='$T' SUP_PID=$SUP_PID; running tw-a && running tw-b && running tw-c"
pids="$(wpid tw-a) $(wpid tw-b) $(wpid tw-c)"
kill -KILL "$SUP_PID"
wait "$SUP_PID" 2>/dev/null
# Gone: no such process, or a zombie waiting for its new parent (init) to reap it.
gone() {
    for p in $pids; do
        st=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -d' ' -f1)
        [ -n "$st" ] && [ "$st" != Z ] && return 1
    done
    return 0
}
t0=$(ms)
ok "SIGKILL of the supervisor: every worker gone within 2 s" wait_for 2 gone
echo "# workers gone after $(( $(ms) - t0 )) ms"
t_done
