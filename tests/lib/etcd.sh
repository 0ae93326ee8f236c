# etcd.sh - start a throwaway three-member etcd 3.4 cluster on free loopback ports.
#
#   . "$srcdir/tests/lib/common.sh"; . "$srcdir/tests/lib/etcd.sh"
#   t_init mytest
#   etcd_start            # sets ETCD_ENDPOINTS (comma-separated client URLs, member
#                         # order), ETCD_CLIENT_1..3, ETCD_PID_1..3, ETCD_DIR
#   etcd_kill N [SIG]     # stop member N (default SIGKILL); etcd_restart N
#   etcd_healthy          # every member answers its health check
#
# The members run as plain processes inside $T, each with its own data directory and
# a cluster token unique to the test, and are stopped at exit.

etcd_member_start() {
    _n=$1
    eval "_cport=\$ETCD_CPORT_$_n _pport=\$ETCD_PPORT_$_n"
    etcd --name "m$_n" --data-dir "$ETCD_DIR/m$_n" \
        --listen-client-urls "http://127.0.0.1:$_cport" \
        --advertise-client-urls "http://127.0.0.1:$_cport" \
        --listen-peer-urls "http://127.0.0.1:$_pport" \
        --initial-advertise-peer-urls "http://127.0.0.1:$_pport" \
        --initial-cluster "$ETCD_INITIAL" --initial-cluster-token "$ETCD_TOKEN" \
        --initial-cluster-state new >"$ETCD_DIR/m$_n.log" 2>&1 &
    eval "ETCD_PID_$_n=$!"
}

etcd_start() {
    command -v etcd >/dev/null || { echo "etcd not installed (scripts/deps.sh installs etcd-server)" >&2; return 1; }
    ETCD_DIR="$T/etcd"
    mkdir -p "$ETCD_DIR"
    ETCD_TOKEN="it-$(basename "$T")"
    ETCD_INITIAL=""
    ETCD_ENDPOINTS=""
    for _n in 1 2 3; do
        eval "ETCD_CPORT_$_n=$(free_port) ETCD_PPORT_$_n=$(free_port)"
        eval "_cport=\$ETCD_CPORT_$_n _pport=\$ETCD_PPORT_$_n"
        ETCD_INITIAL="${ETCD_INITIAL:+$ETCD_INITIAL,}m$_n=http://127.0.0.1:$_pport"
        ETCD_ENDPOINTS="${ETCD_ENDPOINTS:+$ETCD_ENDPOINTS,}http://127.0.0.1:$_cport"
        eval "ETCD_CLIENT_$_n=http://127.0.0.1:$_cport"
    done
    at_exit "etcd_stop"
    for _n in 1 2 3; do etcd_member_start "$_n"; done
    export ETCD_ENDPOINTS ETCD_CLIENT_1 ETCD_CLIENT_2 ETCD_CLIENT_3
    wait_for 30 etcd_healthy || { tail -n 20 "$ETCD_DIR"/m*.log >&2; return 1; }
}

etcd_healthy() {
    ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" --dial-timeout 2s \
        endpoint health >/dev/null 2>&1
}

etcd_kill() {
    eval "_pid=\${ETCD_PID_$1:-}"
    [ -n "$_pid" ] || return 0
    kill "-${2:-KILL}" "$_pid" 2>/dev/null
    wait "$_pid" 2>/dev/null
    eval "ETCD_PID_$1="
    return 0
}

etcd_restart() {
    etcd_member_start "$1"
}

etcd_stop() {
    for _n in 1 2 3; do etcd_kill "$_n" TERM; done
}
