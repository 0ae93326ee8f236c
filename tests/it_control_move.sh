#!/bin/sh
# A reload requested through the control socket that names another control_socket:
# whether the supervisor moves the socket or refuses to, the reload's own client gets
# its answer (the old socket's clients may be closed under it, never freed twice or
# used after free: run it in the sanitizer build too), and the supervisor stays up.
. "$srcdir/tests/lib/common.sh"
t_init ctl-move
. "$srcdir/tests/it_supervisor_lib.sh"
CTL=$top_builddir/src/instancectl

G=$(sup_globals)
printf '%s\n%s\n%s\n' "$G" "$(sup_service tw)" 'instance "tw-a" { service = "tw" }' >"$T/inv.conf"
sup_start "$T/inv.conf" || fail "instanced starts"
ok "tw-a runs" wait_for 5 running tw-a

# An idle client on the old socket, open during the reload.
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); open(sys.argv[2], "w").close()
s.settimeout(30); s.recv(100)' "$T/ctl.sock" "$T/idle.ready" &
IDLE=$!
at_exit "kill $IDLE"
ok "idle client connected" wait_for 5 test -e "$T/idle.ready"

printf '%s\n%s\n%s\n' "$(echo "$G" | sed "s|$T/ctl.sock|$T/ctl2.sock|")" "$(sup_service tw)" \
    'instance "tw-a" { service = "tw" }' >"$T/inv.new"
mv "$T/inv.new" "$T/inv.conf"
"$CTL" -s "$T/ctl.sock" -t 10 reload >"$T/out" 2>"$T/err"
rc=$?
ok "the reload's client got an answer (exit $rc)" test "$rc" -eq 0 -o "$rc" -eq 1
ok "the answer was printed" test -s "$T/out" -o -s "$T/err"
ok "the supervisor is still up" kill -0 "$SUP_PID"
sock=$T/ctl.sock
[ -S "$T/ctl2.sock" ] && sock=$T/ctl2.sock
ok "status answers on $sock" wait_for 5 "$CTL" -s "$sock" -t 5 status tw-a
sup_stop 15
is "$SUP_RC" 0 "instanced exits 0"
ok "no sanitizer report" sh -c "! grep -qE 'Sanitizer|runtime error:' '$T/sup.log'"
t_done
