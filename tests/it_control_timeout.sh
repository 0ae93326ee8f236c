#!/bin/sh
# instancectl gives up on its own: a peer that accepts and never answers, or whose
# backlog is full so that connect cannot complete, ends in "no answer from SOCKET
# within N s" and exit 5 after -t SECONDS (default 10), never a hang.
. "$srcdir/tests/lib/common.sh"
t_init ctl-timeout
CTL=$top_builddir/src/instancectl

# silent MODE: start tests/silent_socket.py on $T/MODE.sock, wait until it listens.
silent() {
    python3 "$srcdir/tests/silent_socket.py" "$T/$1.sock" "$1" &
    _p=$!
    at_exit "kill $_p"
    wait_for 10 test -e "$T/$1.sock.ready"
}

# run_ctl LIMIT ARGS...: instancectl, killed after LIMIT s if it hangs; sets RC, ERR.
run_ctl() {
    _lim=$1
    shift
    timeout -s KILL "$_lim" "$CTL" "$@" >"$T/out" 2>"$T/err"
    RC=$?
    ERR=$(cat "$T/err")
}

ok "a silent peer is set up (accept)" silent accept
run_ctl 20 -s "$T/accept.sock" -t 1 status
is "$RC" 5 "accepted, never answered, -t 1: exit 5"
is "$ERR" "instancectl: no answer from $T/accept.sock within 1 s" "the error names the socket and the timeout"

run_ctl 20 -s "$T/accept.sock" --timeout 0.5 reload
is "$RC" 5 "--timeout 0.5, reload: exit 5"
ok "fractional timeout in the message" grep -q "within 0.5 s" "$T/err"

# Without -t: the default, 10 s (the old client waited 120 s).
run_ctl 40 -s "$T/accept.sock" status x
is "$RC" 5 "default timeout: exit 5"
is "$ERR" "instancectl: no answer from $T/accept.sock within 10 s" "default timeout is 10 s"

ok "a silent peer is set up (backlog full)" silent backlog
run_ctl 20 -s "$T/backlog.sock" -t 1 status
is "$RC" 5 "backlog full, connect cannot complete, -t 1: exit 5"
is "$ERR" "instancectl: no answer from $T/backlog.sock within 1 s" "connect times out with the same error"

# Nothing listening is still "cannot reach" (3), not a timeout.
run_ctl 20 -s "$T/nothing.sock" -t 1 status
is "$RC" 3 "no socket at all: exit 3"

for bad in 0 -1 abc 1x ''; do
    run_ctl 20 -s "$T/accept.sock" -t "$bad" status
    is "$RC" 64 "-t '$bad' is a usage error"
done
ok "usage line shows -t" sh -c "'$CTL' --help | grep -q -- '-t SECONDS'"
t_done
