#!/bin/sh
# Control clients still connected when the supervisor stops are closed and freed:
# instanced logs how many it closed and exits 0 promptly; in the sanitizer build
# (--enable-sanitizers) LeakSanitizer finds nothing left behind.
. "$srcdir/tests/lib/common.sh"
t_init ctl-shutdown
. "$srcdir/tests/it_supervisor_lib.sh"

printf '%s\n%s\n%s\n' "$(sup_globals)" "$(sup_service tw)" 'instance "tw-a" { service = "tw" }' >"$T/inv.conf"
sup_start "$T/inv.conf" || fail "instanced starts"
ok "tw-a runs" wait_for 5 running tw-a

# Two clients: one silent, one with half a request line. Each holds its connection
# until told to stop (its stdin closes), and reports what it saw at the end.
fds0=$(nfds "$SUP_PID")
mkfifo "$T/hold"
cat >"$T/clients.py" <<'PY'
import socket, sys
a = socket.socket(socket.AF_UNIX); a.connect(sys.argv[1])
b = socket.socket(socket.AF_UNIX); b.connect(sys.argv[1]); b.sendall(b"stat")
open(sys.argv[2] + ".ready", "w").close()
sys.stdin.read()  # until the test closes the fifo
with open(sys.argv[2], "w") as f:
    for s in (a, b):
        s.settimeout(5)
        try:
            f.write("eof\n" if s.recv(100) == b"" else "data\n")
        except OSError as e:
            f.write("error %s\n" % e)
PY
python3 "$T/clients.py" "$T/ctl.sock" "$T/clients.out" <"$T/hold" &
CLIENTS=$!
exec 9>"$T/hold"
at_exit "exec 9>&-; kill $CLIENTS"
ok "both clients connected" wait_for 5 test -e "$T/clients.out.ready"
ok "the supervisor accepted both" wait_for 5 sh -c "[ \$(ls /proc/$SUP_PID/fd | wc -l) -ge $((fds0 + 2)) ]"

sup_stop 15
is "$SUP_RC" 0 "instanced exits 0 with clients still connected"
ok "it closed both clients" grep -q 'msg="control socket closed" path=.* clients=2' "$T/sup.log"
ok "no leak reported" sh -c "! grep -q 'LeakSanitizer' '$T/sup.log'"
ok "no sanitizer error" sh -c "! grep -qE '(Address|UndefinedBehavior)Sanitizer|runtime error:' '$T/sup.log'"
exec 9>&-
wait "$CLIENTS"
is "$(cat "$T/clients.out")" "eof
eof" "both clients saw their connection closed"
t_done
