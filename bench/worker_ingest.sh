#!/bin/sh
# worker_ingest.sh - `make bench-worker`: the audit-correlator's ingest rate and its
# health answer while PostgreSQL is stopped.
#
#   AUDIT_CORRELATOR=build/workers/audit-correlator sh bench/worker_ingest.sh
#
# A throwaway PostgreSQL (durable settings: fsync and synchronous_commit on, no
# statement log) and Redis; wrk posts realistic events (bench/worker_events.lua) to
# POST /api/v1/audit/events, then /api/v1/health is measured while the postmaster
# and every backend are SIGSTOPped.
#
# The measured run comes after a warm-up run of the same length and a CHECKPOINT, so
# that PostgreSQL writes its WAL into recycled segments as a server that has run for
# a while does. A fresh cluster has none: each new 16 MB segment is zero-filled and
# synced while every commit waits (about 15-20 ms here, every 2-3 s at this rate),
# which is a cost of the fresh cluster, not of the worker. min_wal_size is raised so
# that the checkpoint keeps the warm-up's segments for reuse. Environment: BENCH_SECONDS (default 15),
# BENCH_CONNECTIONS (default 16), BENCH_OUT (directory for bench-worker.md; default
# the current directory).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
srcdir=$(cd "$here/.." && pwd)
: "${AUDIT_CORRELATOR:?set AUDIT_CORRELATOR to the audit-correlator binary (make bench-worker does)}"
secs=${BENCH_SECONDS:-15}
conns=${BENCH_CONNECTIONS:-16}
out=${BENCH_OUT:-$(pwd)}

command -v wrk >/dev/null || sh "$here/install-deps.sh"
set +e
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/servers.sh"
set -e
t_init worker-bench
pg_start
redis_start
# The test servers log every statement and skip fsync; a benchmark runs durable.
pg_stop
_as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 30 -o \
    "-p $PGPORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on -c log_statement=none -c min_wal_size=1GB -c max_wal_size=2GB" \
    start >/dev/null
at_exit "pg_stop"

port=$(free_port)
env SERVICE_NAME=audit-correlator HTTP_PORT="$port" LOG_LEVEL=warn POSTGRES_URL="$PG_URL" \
    REDIS_URL="$REDIS_URL" "$AUDIT_CORRELATOR" >"$T/worker.log" 2>&1 &
wpid=$!
at_exit "kill $wpid 2>/dev/null"
H=http://127.0.0.1:$port/api/v1/health
wait_for 20 sh -c "curl -s $H | grep -q '^{\"status\":\"healthy\"'" ||
    { echo "worker not healthy" >&2; cat "$T/worker.log" >&2; exit 1; }

echo "bench-worker: warm-up run (${secs}s), then CHECKPOINT"
wrk -t1 -c"$conns" -d"${secs}s" -s "$here/worker_events.lua" \
    "http://127.0.0.1:$port/api/v1/audit/events" >"$T/warmup.txt"
psql_admin -c CHECKPOINT
rows0=$(psql_admin -tAc "SELECT count(*) FROM audit.audit_events")
echo "bench-worker: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), ${secs}s, $conns connections"
wrk -t1 -c"$conns" -d"${secs}s" --latency -s "$here/worker_events.lua" \
    "http://127.0.0.1:$port/api/v1/audit/events" >"$T/ingest.txt"
cat "$T/ingest.txt"
rps=$(awk '/^Requests\/sec:/ {print $2}' "$T/ingest.txt")
line=$(grep '^worker_events:' "$T/ingest.txt")
p50=$(echo "$line" | sed 's/.*p50_ms=\([0-9.]*\).*/\1/')
p99=$(echo "$line" | sed 's/.*p99_ms=\([0-9.]*\).*/\1/')
bad=$(echo "$line" | sed 's/.*errors_status=\([0-9]*\).*/\1/')
rows=$(psql_admin -tAc "SELECT count(*) FROM audit.audit_events")
# Requests are single events but 1 in 20 is a batch of five: events/s from the rows.
eps=$(awk -v r="$rows" -v r0="$rows0" -v s="$secs" 'BEGIN { printf "%.0f", (r - r0) / s }')

# Health while PostgreSQL is stopped (postmaster and every backend).
pm=$(head -1 "$PG_DATA/postmaster.pid")
pgs="$pm $(pgrep -P "$pm" | tr '\n' ' ')"
kill -STOP $pgs
at_exit "kill -CONT $pgs 2>/dev/null"
sleep 1   # let the worker's check meet the stall
wrk -t1 -c1 -d5s --timeout 1s --latency "$H" >"$T/health.txt" || true
status=$(curl -s -m 1 "$H" | jq -r .status)
kill -CONT $pgs
cat "$T/health.txt"
hrps=$(awk '/^Requests\/sec:/ {print $2}' "$T/health.txt")
hp99=$(awk '$1 == "99%" {print $2}' "$T/health.txt")
htimeouts=$(sed -n 's/.*timeout \([0-9]*\).*/\1/p' "$T/health.txt")

{
    echo "| figure | value |"
    echo "|---|---|"
    echo "| POST /api/v1/audit/events, requests/s (wrk -t1 -c$conns, ${secs}s) | $rps |"
    echo "| events stored/s (rows / duration; 1 request in 20 is a batch of 5) | $eps |"
    echo "| POST latency p50 / p99 | ${p50} ms / ${p99} ms |"
    echo "| non-2xx answers | $bad |"
    echo "| GET /api/v1/health while PostgreSQL is SIGSTOPped: requests/s, p99 | $hrps, $hp99 |"
    echo "| health timeouts (1 s) while stopped | ${htimeouts:-0} |"
    echo "| health status while stopped (after the run) | $status |"
} | tee "$out/bench-worker.md"
