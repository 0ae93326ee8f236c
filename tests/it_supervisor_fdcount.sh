#!/bin/sh
# Descriptors per instance: in steady state the supervisor holds two per running
# instance (the read end of its output pipe and its log file), plus a constant for
# itself (listeners, the event loop, stdio, ...). Counted in /proc/PID/fd with one
# instance and with N, after restarts too (each start's pipe is closed at its end of
# file), and with a worker that leaves a grandchild holding its output (whose output
# still lands in the log file).
. "$srcdir/tests/lib/common.sh"
t_init sup-fdcount
. "$srcdir/tests/it_supervisor_lib.sh"

N=60
BASE_MAX=64 # the supervisor's own descriptors, whatever the inventory

write_inv() { # FILE COUNT
    {
        sup_globals
        # Without containment: a grandchild left behind then outlives its worker
        # (with a cgroup per instance it is killed at the worker's exit, and
        # it_contain.sh counts descriptors with containment on).
        echo 'cgroups = false'
        echo 'service "sleeper" { command = "/bin/sleep"  args = {"1000"}  instance_prefix = "sleeper" }'
        echo 'service "leaver" { command = "/bin/sh"  instance_prefix = "leaver"'
        # The worker starts a grandchild in its own session that keeps stdout, then
        # runs on: at its stop the grandchild is left behind, still writing.
        echo '  args = { "-c", "setsid sh -c '"'"'while :; do echo grandchild-alive-\$\$; sleep 0.2; done'"'"' & exec sleep 1000" } }'
        echo 'instance "leaver-one" { service = "leaver" }'
        _i=1
        while [ "$_i" -le "$2" ]; do
            echo "instance \"sleeper-$_i\" { service = \"sleeper\" }"
            _i=$((_i + 1))
        done
    } >"$1.new"
    mv "$1.new" "$1"
}
# The left-behind grandchildren: re-parented to the supervisor (its child subreaper).
kill_grandchildren() {
    for _p in $(pgrep -P "$SUP_PID" -f 'do echo grandchild-alive'); do kill -9 "$_p"; done
}
nstarted() { grep -c 'msg="worker started"' "$T/sup.log"; }
# fds_at_most LIMIT: the supervisor holds at most LIMIT descriptors (polled: the
# supervisor closes its copy of a new pipe's write end when its loop next runs).
fds_at_most() { [ "$(nfds "$SUP_PID")" -le "$1" ]; }

# --- one instance (and the leaver): the supervisor's own descriptors ---
write_inv "$T/inv.conf" 1
sup_start "$T/inv.conf" || { fail "instanced starts"; t_done; }
at_exit kill_grandchildren
ok "2 instances run" wait_for 10 sh -c "[ \$(grep -c 'msg=\"worker started\"' '$T/sup.log') -ge 2 ]"
ok "the grandchild writes into leaver-one's log" \
    wait_for 10 grep -q grandchild-alive "$T/vol/leaver-one/logs/leaver-one.log"
ok "at most $BASE_MAX + 2 x 2 descriptors with 2 instances" wait_for 5 fds_at_most $((BASE_MAX + 4))
base=$(nfds "$SUP_PID")
echo "# with 2 instances: $base descriptors"

# --- N more: at most two each ---
write_inv "$T/inv.conf" "$N"
kill -HUP "$SUP_PID"
ok "$N sleepers run" wait_for 20 sh -c "[ \$(grep -c 'msg=\"worker started\"' '$T/sup.log') -ge $((N + 1)) ]"
ok "every one of them is alive" sh -c "[ \$(pgrep -c -P $SUP_PID -x sleep) -ge $N ]"
limit=$((base + 2 * (N - 1)))
ok "at most 2 descriptors per added instance ($limit)" wait_for 5 fds_at_most "$limit"
echo "# with $((N + 1)) instances: $(nfds "$SUP_PID") descriptors"
ok "at most 2 per instance + $BASE_MAX in all" fds_at_most $((2 * (N + 1) + BASE_MAX))

# --- restarts: each start's pipe goes at its end of file ---
before=$(nstarted)
for i in 1 2 3 4 5 6 7 8 9 10; do kill -9 "$(wpid "sleeper-$i")"; done
ok "10 killed sleepers restart" wait_for 20 sh -c "[ \$(grep -c 'msg=\"worker started\"' '$T/sup.log') -ge $((before + 10)) ]"
ok "still at most 2 per instance after restarts" wait_for 5 fds_at_most "$limit"

# --- a worker that leaves a grandchild behind: its read end stays while it writes ---
wp=$(wpid leaver-one)
g1=$(pgrep -P "$wp" -f 'do echo grandchild-alive')
ok "leaver-one's grandchild runs" test -n "$g1"
kill -9 "$wp"
ok "leaver-one restarts" wait_for 20 sh -c "[ \$(grep -c 'msg=\"worker started\"' '$T/sup.log') -ge $((before + 11)) ]"
n0=$(grep -c "grandchild-alive-$g1" "$T/vol/leaver-one/logs/leaver-one.log")
ok "the first start's grandchild's output still lands in the log file" \
    wait_for 5 sh -c "[ \$(grep -c 'grandchild-alive-$g1' '$T/vol/leaver-one/logs/leaver-one.log') -gt $n0 ]"
# Two grandchildren alive now (one per start): one read end more than steady state.
ok "one more descriptor while a left-over writer lives" wait_for 5 fds_at_most $((limit + 1))
kill_grandchildren
ok "its read end is closed at its end of file" wait_for 5 fds_at_most "$limit"

kill_grandchildren
sup_stop
is "$SUP_RC" 0 "instanced exits 0"
t_done
