# it_worker_lib.sh - helpers of the worker integration tests (sourced after servers.sh).
#
#   worker_start NAME PROGRAM [VAR=value...]   start a worker in the background with a
#                                              free HTTP_PORT; sets NAME_PORT, NAME_PID,
#                                              NAME_LOG and waits until it answers
#   worker_url NAME                             http://127.0.0.1:PORT
#   worker_stop NAME                            SIGTERM and wait (returns its exit code)
#   health_status NAME                          "status" of GET /api/v1/health
#   http_code URL [curl args...]                the HTTP status code only

WORKERS_DIR="$top_builddir/workers"

worker_start() {
    _n=$1
    _prog=$2
    shift 2
    _port=$(free_port)
    _log="$T/$_n.log"
    env SERVICE_VERSION=1.0.0 ENVIRONMENT=test LOG_LEVEL=info HTTP_BIND=127.0.0.1 \
        HTTP_PORT="$_port" POSTGRES_URL="$PG_URL" REDIS_URL="$REDIS_URL" "$@" \
        "$WORKERS_DIR/$_prog" >"$_log" 2>&1 &
    _pid=$!
    eval "${_n}_PORT=$_port ${_n}_PID=$_pid ${_n}_LOG=$_log"
    at_exit "kill $_pid 2>/dev/null"
    wait_for 10 curl -fs -o /dev/null "http://127.0.0.1:$_port/metrics"
}

worker_url() { eval "echo http://127.0.0.1:\$${1}_PORT"; }

# SIGTERM, then wait at most 10 s; prints nothing, returns the exit status.
worker_stop() {
    eval "_pid=\$${1}_PID"
    kill -TERM "$_pid" 2>/dev/null || return 1
    wait "$_pid"
}

health_status() {
    curl -s "$(worker_url "$1")/api/v1/health" | jq -r .status
}

health_is() { [ "$(health_status "$1")" = "$2" ]; }

http_code() {
    _u=$1
    shift
    curl -s -o /dev/null -w '%{http_code}' "$@" "$_u"
}
