# it_supervisor_lib.sh - helpers for the supervisor's integration tests (sourced after
# tests/lib/common.sh and t_init). The supervisor's state is observed through its log
# ($T/sup.log), its children (/proc) and the workers' reports, not the status endpoint.

INSTANCED=$top_builddir/src/instanced
TW=$top_builddir/tests/test-worker

# sup_globals: the global part of an inventory, private to $T, with free ports.
sup_globals() {
    cat <<EOF
volumes_root    = "$T/vol"
status_listen   = "127.0.0.1:$(free_port)"
control_socket  = "$T/ctl.sock"
health_interval = 60s
EOF
}

# sup_service NAME [extra lines...]: a service running the test worker.
sup_service() {
    _n=$1
    shift
    echo "service \"$_n\" {"
    echo "    command = \"$TW\""
    echo "    instance_prefix = \"$_n\""
    for _l in "$@"; do echo "    $_l"; done
    echo "}"
}

# sup_start CONF [ARGS...]: run instanced in the background; its stderr in $T/sup.log,
# stdout in $T/sup.out. Sets SUP_PID.
sup_start() {
    _conf=$1
    shift
    "$INSTANCED" -c "$_conf" "$@" >>"$T/sup.out" 2>>"$T/sup.log" &
    SUP_PID=$!
    at_exit "sup_kill_all $SUP_PID"
    wait_for 5 grep -q 'msg="instanced started"' "$T/sup.log"
}

# Last-resort cleanup: the supervisor and every process of its workers' groups.
sup_kill_all() {
    for _c in $(pgrep -P "$1" 2>/dev/null); do kill -9 -- "-$_c" 2>/dev/null; done
    kill -9 "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

# sup_stop [SECONDS]: SIGTERM and wait (default 15 s); sets SUP_RC.
sup_stop() {
    kill -TERM "$SUP_PID"
    sup_wait_exit "${1:-15}"
}

# sup_wait_exit SECONDS: wait for the supervisor to exit; sets SUP_RC.
sup_wait_exit() {
    _end=$(( $(date +%s) + $1 ))
    while kill -0 "$SUP_PID" 2>/dev/null && [ "$(date +%s)" -le "$_end" ]; do
        # a zombie counts as exited: only `wait` below reaps it
        [ "$(sed 's/.*) //' "/proc/$SUP_PID/stat" 2>/dev/null | cut -d' ' -f1)" = Z ] && break
        sleep 0.05
    done
    if [ "$(sed 's/.*) //' "/proc/$SUP_PID/stat" 2>/dev/null | cut -d' ' -f1)" != Z ] &&
        kill -0 "$SUP_PID" 2>/dev/null; then
        SUP_RC=timeout
        return 1
    fi
    wait "$SUP_PID"
    SUP_RC=$?
}

# nlog PATTERN: how many supervisor log lines match (grep -E).
nlog() { grep -cE -- "$1" "$T/sup.log"; }

# wpid NAME: the PID of NAME's newest "worker started" line (empty if none).
wpid() {
    grep "msg=\"worker started\" instance=$1 " "$T/sup.log" | tail -n 1 |
        sed -n 's/.* pid=\([0-9]*\).*/\1/p'
}

# alive PID: PID is a live (not zombie) child of the supervisor.
alive() {
    [ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
    _st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
    # shellcheck disable=SC2086
    set -- $_st
    [ "$1" != Z ] && [ "$2" = "$SUP_PID" ]
}

# running NAME: a started line for NAME exists and that process is alive.
running() { alive "$(wpid "$1")"; }

# zombies: PIDs of zombie children of the supervisor (space separated).
zombies() {
    for _c in $(pgrep -P "$SUP_PID" 2>/dev/null); do
        [ "$(sed 's/.*) //' "/proc/$_c/stat" 2>/dev/null | cut -d' ' -f1)" = Z ] &&
            printf '%s ' "$_c"
    done
    :
}

# nfds PID: open descriptors of PID.
nfds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

# ms: wall milliseconds, for measuring intervals in the tests.
ms() { echo $(( $(date +%s%N) / 1000000 )); }
