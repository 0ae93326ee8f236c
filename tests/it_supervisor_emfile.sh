#!/bin/sh
# A worker that cannot be restarted because the supervisor itself has run out of
# descriptors is not a failing worker: the start is retried, not counted against the
# start limit, the instance never becomes failed, and it runs again once descriptors
# are free. The supervisor's descriptors are exhausted by lowering its open-file limit
# (prlimit --pid) to its lowest free descriptor number: every new descriptor fails
# with EMFILE, whatever else the supervisor caps.
. "$srcdir/tests/lib/common.sh"
t_init sup-emfile
. "$srcdir/tests/it_supervisor_lib.sh"

command -v prlimit >/dev/null || { echo "prlimit (util-linux) is required"; exit 77; }

{
    sup_globals
    echo 'log_level = "debug"'
    # A start limit that three quick failures would hit.
    sup_service tw 'ready_after = 100ms' 'restart_delay = 20ms' 'start_limit_burst = 3' \
        'start_limit_interval = 60s'
    echo 'instance "tw-one" { service = "tw" }'
} >"$T/inv.conf"
sup_start "$T/inv.conf" || { fail "instanced starts"; t_done; }
ok "tw-one runs" wait_for 5 running tw-one
first=$(wpid tw-one)
ok "it became ready" wait_for 5 grep -q 'msg="worker ready" instance=tw-one' "$T/sup.log"

# lowest_free PID: the lowest descriptor number PID does not use.
lowest_free() {
    ls "/proc/$1/fd" | sort -n | awk 'BEGIN{n=0} $1==n{n++} END{print n}'
}
hard=$(prlimit --pid "$SUP_PID" --nofile --raw --noheadings -o HARD)
soft=$(prlimit --pid "$SUP_PID" --nofile --raw --noheadings -o SOFT)
lim=$(lowest_free "$SUP_PID")
prlimit --pid "$SUP_PID" --nofile="$lim:$hard" || { fail "prlimit lowers the limit"; t_done; }
kill -KILL "$first"

# Four deferred starts: more than the start limit would allow.
ok "the restart is deferred, again and again" wait_for 15 sh -c "[ \$(grep -cE 'msg=\"(cannot start worker: the supervisor is short of resources|start deferred again: short of resources)' '$T/sup.log') -ge 4 ]"
is "$(nlog 'msg="cannot start worker: the supervisor is short of resources')" 1 \
    "the shortage is logged once (warning) per episode"
ok "the warning names the reason" grep -q 'msg="cannot start worker: the supervisor is short of resources.* instance=tw-one error=".*Too many open files' "$T/sup.log"
is "$(nlog 'msg="instance failed" instance=tw-one')" 0 "not failed while descriptors are short"

# Descriptors come back.
prlimit --pid "$SUP_PID" --nofile="$soft:$hard"
ok "tw-one runs again" wait_for 10 sh -c ". '$srcdir/tests/it_supervisor_lib.sh'; T='$T' SUP_PID=$SUP_PID; p=\$(wpid tw-one); [ -n \"\$p\" ] && [ \"\$p\" != $first ] && running tw-one"
ok "and becomes ready" wait_for 5 sh -c "[ \$(grep -c 'msg=\"worker ready\" instance=tw-one' '$T/sup.log') -ge 2 ]"
is "$(nlog 'msg="instance failed" instance=tw-one')" 0 "never failed"
ok "the recovery is logged" grep -q 'msg="resources available again: start no longer deferred" instance=tw-one' "$T/sup.log"
# Only the one real restart is counted: deferred attempts are not starts.
ok "restarts=1 on the new start" grep -q "msg=\"worker started\" instance=tw-one pid=$(wpid tw-one) restarts=1" "$T/sup.log"
# The window holds the two real starts only: a third (burst = 3) is still allowed.
p=$(wpid tw-one)
kill -KILL "$p"
ok "one more crash is still restarted" wait_for 5 sh -c ". '$srcdir/tests/it_supervisor_lib.sh'; T='$T' SUP_PID=$SUP_PID; q=\$(wpid tw-one); [ -n \"\$q\" ] && [ \"\$q\" != $p ] && running tw-one"
is "$(nlog 'msg="instance failed" instance=tw-one')" 0 "still not failed"

sup_stop
is "$SUP_RC" 0 "instanced exits 0"
t_done
