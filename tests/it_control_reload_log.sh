#!/bin/sh
# A reload rejected through the control socket (instancectl reload) logs every error,
# secrets masked, with the very lines a rejected reload by SIGHUP logs; instancectl
# prints the same errors, and nothing changes.
. "$srcdir/tests/lib/common.sh"
t_init ctl-reload-log
. "$srcdir/tests/it_supervisor_lib.sh"
CTL=$top_builddir/src/instancectl

GLOBALS=$(sup_globals)
write_inv() {
    printf '%s\n%s\n%s\n' "$GLOBALS" "$(sup_service tw 'ready_after = 100ms')" "$1" >"$T/inv.new"
    mv "$T/inv.new" "$T/inv.conf"
}
write_inv 'instance "tw-a" { service = "tw" }'
sup_start "$T/inv.conf" || fail "instanced starts"
ok "tw-a runs" wait_for 5 running tw-a
pid_a=$(wpid tw-a)

# Four errors, one of them quoting a secret.
write_inv '
instance "tw-a" { service = "tw"  port = 70000  bogus_key = 1 }
instance "tw-b" { service = "nosuch" }
instance "tw-c" { service = "tw"  env = {"DB_PASSWORD: hunter2pw"} }
'

# rejected LOGFILE: the error values of the "reload rejected" lines, unescaped.
rejected() {
    sed -n 's/.* msg="reload rejected" error="\(.*\)"$/\1/p' "$1" | sed 's/\\"/"/g'
}

# 1. Through the control socket.
n0=$(wc -l <"$T/sup.log")
"$CTL" -s "$T/ctl.sock" reload >"$T/ctl.out" 2>"$T/ctl.err"
is "$?" 1 "instancectl reload: rejected, exit 1"
ok "the verdict is logged" wait_for 5 sh -c "tail -n +$((n0 + 1)) '$T/sup.log' | grep -q 'msg=\"reload failed: still running the previous inventory\" errors=4 '"
tail -n +$((n0 + 1)) "$T/sup.log" >"$T/ctl.log"
grep "^$T/inv.conf:" "$T/ctl.err" >"$T/ctl.errors"
is "$(wc -l <"$T/ctl.errors")" 4 "instancectl prints the 4 errors"
rejected "$T/ctl.log" >"$T/ctl.logged"
is "$(wc -l <"$T/ctl.logged")" 4 "the supervisor's log has 4 reload rejected lines"
while IFS= read -r e; do
    ok "logged: $e" grep -qxF -- "$e" "$T/ctl.logged"
done <"$T/ctl.errors"
ok "the secret is masked in the log" sh -c "! grep -q hunter2pw '$T/sup.log'"
ok "the secret is masked in instancectl's output" sh -c "! grep -q hunter2pw '$T/ctl.err' '$T/ctl.out'"
ok "the env error is there, without the entry" grep -q 'inv.conf:13: env entry 1 must be NAME=value' "$T/ctl.logged"

# 2. By SIGHUP: the same lines (without their timestamps).
n1=$(wc -l <"$T/sup.log")
kill -HUP "$SUP_PID"
ok "SIGHUP's verdict is logged" wait_for 5 sh -c "tail -n +$((n1 + 1)) '$T/sup.log' | grep -q 'msg=\"reload failed: still running the previous inventory\"'"
tail -n +$((n1 + 1)) "$T/sup.log" >"$T/hup.log"
notime() { grep -E 'msg="reload (rejected|failed)' "$1" | sed 's/^time=[^ ]* //'; }
notime "$T/ctl.log" >"$T/ctl.lines"
notime "$T/hup.log" >"$T/hup.lines"
ok "both paths log the same lines" cmp "$T/ctl.lines" "$T/hup.lines"

is "$(wpid tw-a)" "$pid_a" "nothing restarted"
ok "tw-a still runs" running tw-a
sup_stop
is "$SUP_RC" 0 "instanced stops cleanly"
t_done
