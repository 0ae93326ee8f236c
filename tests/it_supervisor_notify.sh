#!/bin/sh
# systemd notification: READY=1 once every instance started, STATUS= with counts,
# RELOADING=1/READY=1 around a reload, STOPPING=1, WATCHDOG=1 at half WatchdogSec.
# A listener on a datagram socket plays systemd. Skipped without libsystemd.
. "$srcdir/tests/lib/common.sh"
grep -q '^#define HAVE_SYSTEMD 1' "$top_builddir/config.h" || { echo "# built without systemd"; exit 77; }
t_init sup-notify
. "$srcdir/tests/it_supervisor_lib.sh"

python3 - "$T/notify.sock" "$T/notify.log" <<'PYEOF' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        msg = s.recv(4096).decode()
        out.write(msg.replace("\n", "|") + "\n")
PYEOF
LISTENER=$!
at_exit "kill $LISTENER"
wait_for 30 test -S "$T/notify.sock" || fail "listener up"

cat >"$T/inv.conf" <<EOF
$(sup_globals)
$(sup_service tw 'ready_after = 100ms')
instance "tw-a" { service = "tw" }
instance "tw-b" { service = "tw" }
EOF
NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=400000 sup_start "$T/inv.conf" || fail "instanced starts"
ok "READY=1" wait_for 5 grep -qx 'READY=1' "$T/notify.log"
# The last STATUS before the first READY=1: nothing left unstarted.
ok "READY=1 only after every instance was started" \
    awk '/^STATUS=/{st=$0} /^READY=1$/{exit !(st ~ /, 0 stopped$/ && st !~ /^STATUS=0 running, 0 starting/)}' "$T/notify.log"
ok "STATUS with counts" wait_for 5 grep -qx 'STATUS=2 running, 0 starting, 0 waiting, 0 backoff, 0 failed, 0 stopping, 0 stopped' "$T/notify.log"
ok "WATCHDOG=1 pings (400 ms watchdog: every 200 ms)" wait_for 5 sh -c "[ \$(grep -cx 'WATCHDOG=1' '$T/notify.log') -ge 4 ]"
kill -HUP "$SUP_PID"
ok "RELOADING=1 then READY=1" wait_for 5 sh -c "grep -x -e 'RELOADING=1' -e 'READY=1' '$T/notify.log' | tr '\n' ' ' | grep -q 'READY=1 RELOADING=1 READY=1'"
sup_stop 10
is "$SUP_RC" 0 "instanced exits 0"
# The listener writes what it receives on its own time, maybe after instanced exited.
ok "STOPPING=1" wait_for 5 grep -qx 'STOPPING=1' "$T/notify.log"
t_done
