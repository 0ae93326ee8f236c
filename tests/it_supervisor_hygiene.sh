#!/bin/sh
# Child hygiene: descriptors 0-2 only, empty signal mask, default dispositions, own
# session and process group, umask 027, cwd = data dir, a clean environment (no
# NOTIFY_SOCKET, WATCHDOG_*, LISTEN_* or anything else of the supervisor's); volume
# directories 0750, owned by the instance's user when root, symlinks refused.
. "$srcdir/tests/lib/common.sh"
t_init sup-hygiene
. "$srcdir/tests/it_supervisor_lib.sh"

ROOT=0
[ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1 && ROOT=1
# The worker that runs as nobody must be able to reach its program: the build tree may
# sit under a directory only root can enter (a checkout in /root, or mktemp -d), so the
# workers of this test run a copy in the test's own directory (0755).
cp "$TW" "$T/test-worker" && TW=$T/test-worker
mkdir -p "$T/vol/tw-loose/data" "$T/elsewhere"
chmod 0777 "$T/vol/tw-loose" "$T/vol/tw-loose/data"
ln -s "$T/elsewhere" "$T/vol/tw-link"

{
    sup_globals
    sup_service tw 'start_limit_burst = 2'
    # A worker that opens nothing of its own, for a live look at /proc/PID/fd.
    echo 'service "sleeper" { command = "/bin/sleep"  args = {"1000"}  instance_prefix = "sleeper" }'
    echo 'instance "sleeper-x" { service = "sleeper" }'
    echo "instance \"tw-a\"     { service = \"tw\"  port = $(free_port)  env = {\"TW_REPORT=$T/a.report\"} }"
    echo "instance \"tw-loose\" { service = \"tw\" }"
    echo "instance \"tw-link\"  { service = \"tw\" }"
    if [ "$ROOT" = 1 ]; then
        echo "instance \"tw-nobody\" { service = \"tw\"  user = \"nobody\"  env = {\"TW_REPORT=$T/vol/tw-nobody/data/report\"} }"
    fi
} >"$T/inv.conf"

# What systemd would hand the supervisor must not reach the workers.
NOTIFY_SOCKET=$T/no-notify.sock WATCHDOG_USEC=100000000 WATCHDOG_PID=1 LISTEN_FDS=1 \
    LISTEN_PID=1 SUPERVISOR_SECRET=leak sup_start "$T/inv.conf" || fail "instanced starts"

ok "worker report written" wait_for 5 test -s "$T/a.report"
rep() { sed -n "s/^$1=//p" "$T/a.report"; }
is "$(rep fds)" "0,1,2" "descriptors at exec: 0,1,2 only"
is "$(rep SigBlk)" "0000000000000000" "SigBlk is 0"
is "$(rep SigIgn)" "0000000000000000" "SigIgn is 0"
is "$(rep umask)" "0027" "umask 027"
is "$(rep cwd)" "$T/vol/tw-a/data" "cwd is the data dir"
is "$(rep pgid)" "$(rep pid)" "own process group"
is "$(rep sid)" "$(rep pid)" "own session"
is "$(rep ppid)" "$SUP_PID" "child of the supervisor"
for v in NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID LISTEN_FDS LISTEN_PID SUPERVISOR_SECRET; do
    ok "no $v in the worker's environment" sh -c "! grep -q '^env $v=' '$T/a.report'"
done
for v in SERVICE_NAME=tw SERVICE_INSTANCE_NAME=tw-a SERVICE_TYPE=multi-instance \
    SCHEMA_NAME=tw_a REDIS_NAMESPACE=tw:a "DATA_DIR=$T/vol/tw-a/data" "LOGS_DIR=$T/vol/tw-a/logs"; do
    ok "worker environment has $v" grep -qx "env $v" "$T/a.report"
done

# A worker that opens nothing itself: its live /proc view.
ok "sleeper runs" wait_for 5 running sleeper-x
sp=$(wpid sleeper-x)
is "$(ls "/proc/$sp/fd" | sort -n | tr '\n' ' ')" "0 1 2 " "/proc/PID/fd of a live worker: 0 1 2"
is "$(sed -n 's/^SigBlk:[[:space:]]*//p' "/proc/$sp/status")" "0000000000000000" "/proc/PID/status SigBlk 0"
is "$(sed -n 's/^SigIgn:[[:space:]]*//p' "/proc/$sp/status")" "0000000000000000" "/proc/PID/status SigIgn 0"
is "$(readlink "/proc/$sp/fd/0")" "/dev/null" "stdin is /dev/null"
ok "stdout is a pipe" sh -c "readlink /proc/$sp/fd/1 | grep -q '^pipe:'"

# Volume directories.
for d in "$T/vol/tw-a" "$T/vol/tw-a/data" "$T/vol/tw-a/logs" "$T/vol/tw-loose" "$T/vol/tw-loose/data"; do
    is "$(stat -c %a "$d")" 750 "mode 0750: ${d#$T/}"
done
ok "symlinked volume refused" wait_for 5 grep -q 'msg="worker failed to start" instance=tw-link error=".*is a symlink' "$T/sup.log"
ok "nothing created through the symlink" test -z "$(ls -A "$T/elsewhere")"
is "$(nlog 'msg="worker started" instance=tw-link ')" 0 "symlinked instance never ran"

if [ "$ROOT" = 1 ]; then
    ok "worker as nobody wrote its report" wait_for 5 test -s "$T/vol/tw-nobody/data/report"
    nrep() { sed -n "s/^$1=//p" "$T/vol/tw-nobody/data/report"; }
    is "$(nrep uid)" "$(id -u nobody)" "uid dropped to nobody"
    is "$(nrep gid)" "$(id -g nobody)" "gid dropped to nobody's group"
    is "$(nrep groups)" "$(id -G nobody | tr ' ' ',')" "supplementary groups are nobody's"
    for d in "$T/vol/tw-nobody" "$T/vol/tw-nobody/data" "$T/vol/tw-nobody/logs"; do
        is "$(stat -c '%a %U' "$d")" "750 nobody" "owned by nobody, 0750: ${d#$T/}"
    done
    is "$(stat -c %U "$T/vol/tw-nobody/logs/tw-nobody.log")" root "its log file is the supervisor's"
else
    echo "# not root: skipping the user switch checks"
fi

sup_stop 10
is "$SUP_RC" 0 "instanced exits 0"

# The child that drops credentials shares the supervisor's memory (CLONE_VM): it must
# make the raw system calls, not glibc's setuid/setgid/setgroups, whose broadcast to
# every thread of the process is only safe in a single-threaded one.
if command -v nm >/dev/null; then
    wrappers=$(nm -D --undefined-only "$INSTANCED" 2>/dev/null | grep -Ew 'set(uid|gid|groups|resuid|resgid)(@.*)?' | tr '\n' ' ')
    is "$wrappers" "" "instanced calls no glibc set*id wrapper"
else
    fail "nm (binutils) is needed to check the set*id calls"
fi
t_done
