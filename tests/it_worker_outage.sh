#!/bin/sh
# PostgreSQL and Redis go away and come back: health follows without a restart of the
# worker, writes are refused (503) rather than acknowledged, and no acknowledged event
# is lost. Workers started while a server is down come up when it returns.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/servers.sh"
. "$srcdir/tests/it_worker_lib.sh"
t_init worker-outage
pg_start || { fail "postgres starts"; t_done; }
redis_start || { fail "redis starts"; t_done; }

worker_start AC audit-correlator SERVICE_NAME=audit-correlator || fail "audit-correlator starts"
ok "healthy at start" wait_for 10 health_is AC healthy
A=$(worker_url AC)/api/v1/audit
: >"$T/acked"

# post N: POST one event; record its id when acknowledged (201).
post() {
    _r=$(curl -s -w '\n%{http_code}' -X POST $A/events -d "{\"service_name\":\"s\",\"event_type\":\"$1\"}")
    _c=$(echo "$_r" | tail -1)
    [ "$_c" = 201 ] && echo "$_r" | head -1 | jq -r .id >>"$T/acked"
    echo "$_c"
}

for i in 1 2 3; do post before-$i >/dev/null; done
is "$(wc -l <"$T/acked")" 3 "three events acknowledged"
first=$(head -1 "$T/acked")
curl -s $A/events/$first >/dev/null   # cached

# PostgreSQL goes away.
pg_stop
ok "unhealthy when PostgreSQL stops" wait_for 10 health_is AC unhealthy
is "$(http_code "$(worker_url AC)/api/v1/health")" 503 "health answers 503"
is "$(curl -s "$(worker_url AC)/api/v1/health" | jq -r .checks.postgres.status)" unhealthy "checks.postgres unhealthy"
is "$(post during-pg-outage)" 503 "create refused with 503 while PostgreSQL is down"
is "$(http_code $A/events/count)" 503 "count 503 while PostgreSQL is down"
ok "worker still running" kill -0 "$AC_PID"

# A worker started while PostgreSQL is down keeps running and reports it.
worker_start AB audit-correlator SERVICE_NAME=audit-correlator SERVICE_INSTANCE_NAME=audit-B ||
    fail "second worker starts with PostgreSQL down"
is "$(health_status AB)" unhealthy "worker started without PostgreSQL is unhealthy"

pg_restart
ok "healthy again when PostgreSQL returns" wait_for 15 health_is AC healthy
ok "worker started without PostgreSQL becomes healthy" wait_for 15 health_is AB healthy
ok "same process (no restart)" kill -0 "$AC_PID"
is "$(post after-pg)" 201 "create works after PostgreSQL returns"
ok "reconnect logged" grep -q 'msg="PostgreSQL connected"' "$AC_LOG"

# A server that stops answering (its backend frozen) must not hang the worker: the
# health answer comes from the state the asynchronous checks keep (healthy, or
# degraded once the check has waited a second), the check gives up after 2 s and the
# connection is replaced.
backend=$(psql_admin -tAc "SELECT pid FROM pg_stat_activity WHERE application_name='audit-correlator'")
ok "found the worker's backend ($backend)" [ -n "$backend" ]
kill -STOP $backend
at_exit "kill -CONT $backend 2>/dev/null"
h=$(curl -s -m 1 "$(worker_url AC)/api/v1/health" | jq -r .status)
ok "health answers at once while the backend is frozen, not unhealthy ($h)" \
    sh -c "[ '$h' = healthy ] || [ '$h' = degraded ]"
ok "the frozen connection is given up" \
    wait_for 10 grep -q 'msg="PostgreSQL connection lost" .*no answer within' "$AC_LOG"
ok "healthy again on a new connection" wait_for 15 health_is AC healthy
kill -CONT $backend
is "$(post after-freeze)" 201 "create works on the new connection"

# Redis goes away: degraded, data path still works from PostgreSQL.
redis_stop
ok "degraded when Redis stops" wait_for 10 health_is AC degraded
is "$(http_code "$(worker_url AC)/api/v1/health")" 200 "degraded answers 200"
is "$(post during-redis-outage)" 201 "create works without Redis"
is "$(http_code $A/events/$first)" 200 "get works without Redis"
is "$(http_code $A/cache/stats)" 503 "cache stats 503 without Redis"

# An entity worker started while Redis is down: degraded once its first PostgreSQL
# connection is made (its checks run asynchronously, so the first answers may come
# before that connection and say unhealthy).
worker_start EX entity-worker SERVICE_NAME=exchange-simulator SERVICE_INSTANCE_NAME=exchange-OKX ||
    fail "entity worker starts with Redis down"
ok "entity worker without Redis is degraded" wait_for 10 health_is EX degraded

redis_restart
ok "healthy again when Redis returns" wait_for 15 health_is AC healthy
ok "entity worker healthy when Redis returns" wait_for 15 health_is EX healthy
ok "registration restored after Redis restart" wait_for 15 sh -c "[ \"\$($REDIS_CLI exists services:audit-correlator:audit-correlator)\" = 1 ]"
ok "entity registration appears" wait_for 15 sh -c "[ \"\$($REDIS_CLI exists services:exchange-simulator:exchange-OKX)\" = 1 ]"
ok "same process after Redis outage" kill -0 "$AC_PID"
is "$(post after-redis)" 201 "create works after Redis returns"

# An update while Redis does not answer (paused writes): the invalidation cannot
# reach Redis, so the cache is purged when it is back and no stale copy is served.
e=$(curl -s -X POST $A/events -d '{"service_name":"s","event_type":"stale-test","status":"old"}' | jq -r .id)
echo "$e" >>"$T/acked"
curl -s $A/events/$e >/dev/null
redis_key_is audit:audit_event:$e 1 "event cached"
$REDIS_CLI client pause 2500 WRITE >/dev/null
is "$(curl -s -m 10 -X PUT $A/events/$e -d '{"status":"new"}' | jq -r .status)" new "update committed while Redis is paused"
ok "healthy again after the pause" wait_for 15 health_is AC healthy
is "$(curl -s $A/events/$e | jq -r .status)" new "no stale cached copy after the pause"

# No acknowledged event lost.
n=$(wc -l <"$T/acked")
is "$n" 8 "eight events acknowledged in all"
missing=0
while read -r id; do
    [ "$(psql_admin -tAc "SELECT count(*) FROM audit.audit_events WHERE id='$id'")" = 1 ] || missing=$((missing + 1))
done <"$T/acked"
is "$missing" 0 "every acknowledged event is in PostgreSQL"
is "$(psql_admin -tAc "SELECT count(*) FROM audit.audit_events WHERE event_type='during-pg-outage'")" 0 "refused event not stored"
ok "metrics count the reconnects" sh -c "curl -s $(worker_url AC)/metrics | grep -q '^worker_reconnects_total{dependency=\"postgres\"} [1-9]'"

worker_stop AC; is "$?" 0 "exit 0"
worker_stop AB; worker_stop EX
t_done
