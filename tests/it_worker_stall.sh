#!/bin/sh
# A database that stops answering (SIGSTOP) never holds up the worker's health
# answer: /api/v1/health keeps answering at once from the state the asynchronous
# checks keep, reports degraded first (within the grace after the last answer) and
# not unhealthy, and healthy again once the server continues. Every event
# acknowledged with 201 is in the table, also when requests arrive concurrently.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/servers.sh"
. "$srcdir/tests/it_worker_lib.sh"
t_init worker-stall
pg_start || { fail "postgres starts"; t_done; }
redis_start || { fail "redis starts"; t_done; }

worker_start AC audit-correlator SERVICE_NAME=audit-correlator || fail "audit-correlator starts"
ok "healthy at start" wait_for 10 health_is AC healthy
H=$(worker_url AC)/api/v1/health
A=$(worker_url AC)/api/v1/audit
: >"$T/acked"

# post BODY: POST; the ids of an acknowledged (201) answer go to $T/acked.
post() {
    _r=$(curl -s -m 20 -w '\n%{http_code}' -X POST $A/events -d "$1")
    _c=$(echo "$_r" | tail -1)
    [ "$_c" = 201 ] && echo "$_r" | head -1 | jq -r 'if type == "array" then .[].id else .id end' >>"$T/acked"
    echo "$_c"
}

# follow WANT SECONDS [FIELD]: poll the health answer (each curl given at most 1 s)
# until FIELD (default .status) is WANT; every overall status seen goes to $T/seen
# ("timeout" when no answer came).
follow() {
    : >"$T/seen"
    _end=$(( $(date +%s) + $2 ))
    while [ "$(date +%s)" -le "$_end" ]; do
        _j=$(curl -s -m 1 "$H")
        _s=$(echo "$_j" | jq -r .status 2>/dev/null)
        _f=$(echo "$_j" | jq -r "${3:-.status}" 2>/dev/null)
        echo "${_s:-timeout}" >>"$T/seen"
        [ "$_f" = "$1" ] && return 0
        sleep 0.1
    done
    return 1
}
seen() { tr '\n' ' ' <"$T/seen"; }

# Acknowledged means stored: single events, a batch, and concurrent posts.
is "$(post '{"service_name":"s","event_type":"one"}')" 201 "one event acknowledged"
is "$(post '[{"service_name":"s","event_type":"b1"},{"service_name":"s","event_type":"b2"}]')" 201 "a batch acknowledged"
pids=
for i in $(seq 1 20); do
    post "{\"service_name\":\"s\",\"event_type\":\"c$i\"}" >"$T/c$i" &
    pids="$pids $!"
done
wait $pids
is "$(cat "$T"/c* | sort -u | tr -d '\n')" 201 "twenty concurrent posts acknowledged"
ok "group commits go to two connections" wait_for 10 sh -c \
    "curl -s $(worker_url AC)/metrics | grep -qx 'audit_commit_connections 2'"
# Concurrent creates are committed in groups; a duplicate id in a group answers
# for itself alone (409), the others of the group are still stored.
gid=5a1c9e2b-3d4f-4a6b-8c7d-9e0f1a2b3c4d
pids=
for i in $(seq 1 12); do
    case $i in 4|9) body="{\"id\":\"$gid\",\"service_name\":\"s\",\"event_type\":\"g$i\"}" ;;
                *) body="{\"service_name\":\"s\",\"event_type\":\"g$i\"}" ;; esac
    post "$body" >"$T/g$i" &
    pids="$pids $!"
done
wait $pids
is "$(cat "$T"/g* | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}')" "201:11 409:1 " \
    "twelve concurrent creates with one duplicate id: eleven 201, one 409"
is "$(psql_admin -tAc "SELECT count(*) FROM audit.audit_events WHERE event_type LIKE 'g%'")" 11 \
    "eleven of them stored"
is "$(wc -l <"$T/acked" | tr -d ' ')" 34 "34 events acknowledged"
missing=0
while read -r id; do
    [ "$(psql_admin -tAc "SELECT count(*) FROM audit.audit_events WHERE id='$id'")" = 1 ] || missing=$((missing + 1))
done <"$T/acked"
is "$missing" 0 "every acknowledged event is in the table"
dup=7c9e6679-7425-40de-944b-e07fc1f90ae7
is "$(post "[{\"service_name\":\"s\",\"event_type\":\"ok\"},{\"id\":\"$dup\",\"service_name\":\"s\",\"event_type\":\"x\"},{\"id\":\"$dup\",\"service_name\":\"s\",\"event_type\":\"y\"}]")" 409 \
    "a batch whose third row conflicts is refused (409)"
is "$(psql_admin -tAc "SELECT count(*) FROM audit.audit_events WHERE event_type IN ('ok','x','y')")" 0 \
    "nothing of the refused batch stored (rolled back)"

# PostgreSQL stops answering: the postmaster and every backend are stopped.
pm=$(head -1 "$PG_DATA/postmaster.pid")
pgs="$pm $(pgrep -P "$pm" | tr '\n' ' ')"
kill -STOP $pgs
at_exit "kill -CONT $pgs 2>/dev/null"
# A create that meets the stall is answered 503: "not applied" when its statement
# was still queued, "may still be applied" when it had reached the stopped server
# (which may run it when it continues); either way a retry with the same id is safe.
sid=0b4f2a3c-8d6e-4f70-9a1b-2c3d4e5f6a7b
curl -s -m 20 -w '\n%{http_code}' -X POST $A/events \
    -d "{\"id\":\"$sid\",\"service_name\":\"s\",\"event_type\":\"during-stall\"}" >"$T/stalled_post" &
stalled_post=$!
ok "degraded while PostgreSQL is stopped" follow degraded 10
ok "health answered every time within 1 s, never unhealthy first ($(seen))" \
    sh -c "! grep -qx 'timeout\|unhealthy' '$T/seen'"
is "$(curl -s -m 1 "$H" | jq -r .checks.postgres.status)" degraded "checks.postgres degraded"
ok "unhealthy once the grace after the last answer is over" follow unhealthy 20
ok "health still answered every time within 1 s ($(seen))" sh -c "! grep -qx timeout '$T/seen'"
wait $stalled_post
is "$(tail -1 "$T/stalled_post")" 503 "a create that met the stall is answered 503, not acknowledged"
ok "which says whether it may still be applied ($(head -1 "$T/stalled_post"))" \
    grep -q 'may still be applied\|was not applied' "$T/stalled_post"
kill -CONT $pgs
ok "healthy again when PostgreSQL continues" follow healthy 20
ok "no health answer missed ($(seen))" sh -c "! grep -qx timeout '$T/seen'"
retry=$(post "{\"id\":\"$sid\",\"service_name\":\"s\",\"event_type\":\"during-stall\"}")
ok "the retry with the same id is stored (201) or finds it stored (409): $retry" \
    sh -c "[ '$retry' = 201 ] || [ '$retry' = 409 ]"
is "$(psql_admin -tAc "SELECT count(*) FROM audit.audit_events WHERE id='$sid'")" 1 "the event is stored exactly once"
is "$(post '{"service_name":"s","event_type":"after-stall"}')" 201 "create works after the stall"

# Redis stops answering: degraded (never unhealthy: PostgreSQL is fine), and back.
rp=$(cat "$REDIS_DIR/redis.pid")
kill -STOP "$rp"
at_exit "kill -CONT $rp 2>/dev/null"
ok "degraded while Redis is stopped" follow degraded 10
ok "health answered every time within 1 s, never unhealthy ($(seen))" \
    sh -c "! grep -qx 'timeout\|unhealthy' '$T/seen'"
is "$(curl -s -m 1 "$H" | jq -r .checks.redis.status)" degraded "checks.redis degraded"
is "$(post '{"service_name":"s","event_type":"redis-stalled"}')" 201 "create works while Redis is stopped"
ok "Redis's own check unhealthy once its grace is over" follow unhealthy 20 .checks.redis.status
ok "and the worker still degraded, answering every time ($(seen))" \
    sh -c "! grep -qx 'timeout\|unhealthy' '$T/seen'"
kill -CONT "$rp"
ok "healthy again when Redis continues" follow healthy 20
ok "no health answer missed ($(seen))" sh -c "! grep -qx timeout '$T/seen'"

# No acknowledged event lost.
missing=0
while read -r id; do
    [ "$(psql_admin -tAc "SELECT count(*) FROM audit.audit_events WHERE id='$id'")" = 1 ] || missing=$((missing + 1))
done <"$T/acked"
is "$missing" 0 "every acknowledged event is in the table ($(wc -l <"$T/acked" | tr -d ' '))"
worker_stop AC; is "$?" 0 "exit 0"
t_done
