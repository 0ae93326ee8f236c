#!/bin/bash
# The open-file limit: the supervisor keeps two descriptors per instance, so it raises
# its soft RLIMIT_NOFILE to the hard limit (started from a shell with the usual soft
# 1024, about 400 instances would otherwise be its ceiling); every worker gets the limit the
# supervisor was started with back; a hard limit too low for the inventory is said at
# start, not discovered one failed start at a time.
. "$srcdir/tests/lib/common.sh"
t_init sup-nofile
. "$srcdir/tests/it_supervisor_lib.sh"

N=100
HARD=$(ulimit -Hn)
if [ "$HARD" != unlimited ] && [ "$HARD" -lt 1024 ]; then
    fail "this test needs a hard open-file limit of at least 1024 (have $HARD)"
    t_done
fi

write_inv() { # FILE COUNT
    {
        sup_globals
        echo 'log_level = "info"'
        echo 'service "sleeper" { command = "/bin/sleep"  args = {"1000"}  instance_prefix = "sleeper" }'
        _i=1
        while [ "$_i" -le "$2" ]; do
            echo "instance \"sleeper-$_i\" { service = \"sleeper\" }"
            _i=$((_i + 1))
        done
    } >"$1"
}
soft_of() { awk '/^Max open files/ { print $4 }' "/proc/$1/limits"; }
hard_of() { awk '/^Max open files/ { print $5 }' "/proc/$1/limits"; }

# --- 100 instances need over 256 descriptors; started with a soft limit of 256 ---
write_inv "$T/inv.conf" "$N"
ulimit -Sn 256
sup_start "$T/inv.conf" || fail "instanced starts"
ulimit -Sn "$HARD"
all_running() { [ "$(grep -c 'msg="worker started"' "$T/sup.log")" -ge "$N" ]; }
ok "all $N instances start under a soft limit of 256" wait_for 20 all_running
ok "every one of them is alive" sh -c "[ \$(pgrep -c -P $SUP_PID) -eq $N ]"
is "$(soft_of "$SUP_PID")" "$(hard_of "$SUP_PID")" "the supervisor raised its soft limit to the hard one"
wp=$(wpid sleeper-1)
is "$(soft_of "$wp")" "256" "a worker gets the soft limit the supervisor was started with"
is "$(hard_of "$wp")" "$(hard_of "$SUP_PID")" "and the same hard limit"
is "$(nlog 'Too many open files')" "0" "no start failed for want of descriptors"
is "$(nlog 'open-file limit is too low')" "0" "no warning when the hard limit is enough"
sup_stop
is "$SUP_RC" 0 "instanced exits 0"

# --- a hard limit below what the inventory needs is said at start ---
: >"$T/sup.log"
(
    ulimit -n 300
    exec "$INSTANCED" -c "$T/inv.conf" >>"$T/sup.out" 2>>"$T/sup.log"
) &
SUP_PID=$!
at_exit "sup_kill_all $SUP_PID"
ok "a hard limit of 300 for $N instances is warned about" \
    wait_for 5 grep -q 'msg="the open-file limit is too low for this many instances: raise it.*limit=300 needed=712 instances=100' "$T/sup.log"
sup_stop
is "$SUP_RC" 0 "instanced exits 0"
t_done
