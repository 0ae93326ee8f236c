#!/bin/sh
# The forked provisioning helper keeps none of the supervisor's descriptors: an
# `instancectl reload` whose reload starts a provisioning run gets its answer (EOF on
# its socket) while that run is still stalled on a PostgreSQL that accepts and never
# answers, not when the run ends.
. "$srcdir/tests/lib/common.sh"
t_init sup-helperfds
. "$srcdir/tests/it_supervisor_lib.sh"
INSTANCECTL=$top_builddir/src/instancectl

# A "server" that accepts connections and never says a word.
STALL_PORT=$(free_port)
python3 - "$STALL_PORT" "$T/stall.ready" <<'PY' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
open(sys.argv[2], "w").close()
held = []
while True:
    c, _ = s.accept()
    held.append(c)
PY
STALL_PID=$!
at_exit "kill $STALL_PID 2>/dev/null"
wait_for 30 test -e "$T/stall.ready" || { fail "stall listener up"; t_done; }

write_inv() { # write_inv PROVISION_LINES
    {
        sup_globals
        echo "state_dir = \"$T/state\""
        printf '%s\n' "$1"
        sup_service tw 'ready_after = 100ms'
        echo 'instance "tw-one" { service = "tw" }'
    } >"$T/inv.new"
    mv "$T/inv.new" "$T/inv.conf"
}
write_inv ''
sup_start "$T/inv.conf" || { fail "instanced starts"; t_done; }
ok "tw-one runs" wait_for 5 running tw-one

# Switch provisioning on, against the stalled server: the reload forks the helper while
# the client's connection is open.
write_inv "provision = true
postgres_url = \"postgresql://postgres:x@127.0.0.1:$STALL_PORT/db\""
"$INSTANCECTL" -s "$T/ctl.sock" reload >"$T/reload.out" 2>&1 &
CTL_PID=$!
ok "instancectl reload answers" wait_for 8 sh -c "! kill -0 $CTL_PID 2>/dev/null"
# The answer came while the run was still stalled: its helper is alive.
helper=$(sed -n 's/.*msg="provisioning started" pid=\([0-9]*\).*/\1/p' "$T/sup.log" | tail -n 1)
ok "provisioning helper started" test -n "$helper"
ok "the client got its answer while provisioning was still running" alive "$helper"
ok "no provisioning result yet" sh -c "! grep -q 'msg=\"provisioning failed' '$T/sup.log'"
wait "$CTL_PID" 2>/dev/null
ok "the reload was answered with its summary" grep -q '1 changed' "$T/reload.out"
# Stdio, its result pipe and its connection to the server: no listener, no control
# socket, no client, no worker log.
nh=$(ls "/proc/$helper/fd" 2>/dev/null | wc -l)
ok "the helper holds only stdio, its pipe and its server connection ($nh descriptors)" \
    sh -c "[ $nh -ge 3 ] && [ $nh -le 5 ]"

sup_stop
t_done
