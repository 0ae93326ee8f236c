#!/bin/sh
# audit-correlator against real PostgreSQL and Redis: configuration line, registration,
# every repository function through the HTTP API, the cache, errors, metrics, SIGTERM.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/servers.sh"
. "$srcdir/tests/it_worker_lib.sh"
t_init worker-api
pg_start || { fail "postgres starts"; t_done; }
redis_start || { fail "redis starts"; t_done; }

# The legacy migration case: the tables exist in public with rows.
psql_admin <<'SQL'
CREATE TABLE public.audit_events (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(), trace_id TEXT, span_id TEXT,
  correlation_id TEXT, service_name TEXT NOT NULL, event_type TEXT NOT NULL,
  "timestamp" TIMESTAMPTZ NOT NULL DEFAULT now(), duration_ms BIGINT,
  status TEXT NOT NULL DEFAULT 'ok', metadata JSONB NOT NULL DEFAULT '{}',
  tags TEXT[] NOT NULL DEFAULT '{}', created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now());
INSERT INTO public.audit_events (id, service_name, event_type)
  VALUES ('00000000-0000-4000-8000-000000000001', 'legacy', 'migrated');
CREATE TABLE public.service_metrics (id BIGSERIAL PRIMARY KEY, service_name TEXT NOT NULL,
  instance_name TEXT, metric_name TEXT NOT NULL, metric_value DOUBLE PRECISION NOT NULL,
  labels JSONB NOT NULL DEFAULT '{}', recorded_at TIMESTAMPTZ NOT NULL DEFAULT now());
INSERT INTO public.service_metrics (service_name, metric_name, metric_value) VALUES ('x', 'm', 1);
SQL

# A bad environment is a configuration error: exit 78 (EX_CONFIG, "do not respawn").
SERVICE_NAME='Bad Name' HTTP_PORT=1 "$top_builddir/workers/audit-correlator" 2>"$T/bad.log"
is "$?" 78 "bad SERVICE_NAME exits 78"
ok "and says why" grep -q 'msg="invalid worker configuration".*invalid service name' "$T/bad.log"
SERVICE_NAME=audit-correlator REDIS_URL=http://x HTTP_PORT=$(free_port) \
    "$top_builddir/workers/audit-correlator" 2>"$T/bad2.log"
is "$?" 78 "bad REDIS_URL exits 78"
# The holder binds port 0 and says which port it got: no window for another process to
# take a port found free. The worker must exit; timeout keeps a regression from hanging.
python3 -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(60)" >"$T/busy.port" &
holder=$!
at_exit "kill $holder 2>/dev/null"
wait_for 5 test -s "$T/busy.port" || fail "the port holder is up"
busy=$(cat "$T/busy.port")
SERVICE_NAME=audit-correlator HTTP_BIND=127.0.0.1 HTTP_PORT=$busy POSTGRES_URL=$PG_URL \
    REDIS_URL=$REDIS_URL timeout 30 "$top_builddir/workers/audit-correlator" 2>"$T/busy.log"
is "$?" 1 "port in use exits 1"
kill $holder 2>/dev/null

# A password in both URLs: it must never reach the log.
PASS=Sup3rSecretPw
# (statement logging off for this session only, or the test itself would log it)
psql_admin -c "SET log_statement = 'none'" -c "ALTER ROLE postgres PASSWORD '$PASS'" >/dev/null
$REDIS_CLI config set requirepass "$PASS" >/dev/null
REDIS_CLI="$REDIS_CLI -a $PASS --no-auth-warning"
worker_start AC audit-correlator SERVICE_NAME=audit-correlator \
    POSTGRES_URL="postgresql://postgres:$PASS@127.0.0.1:$PGPORT/trading_ecosystem" \
    REDIS_URL="redis://:$PASS@127.0.0.1:$REDIS_PORT/0" ||
    { fail "audit-correlator starts"; cat "$AC_LOG"; t_done; }
U=$(worker_url AC)
A=$U/api/v1/audit
ok "health becomes healthy" wait_for 10 health_is AC healthy

# The worker sends its cache SET and DEL to Redis without waiting for them before it
# answers, so redis-cli, on a connection of its own, may look before they landed: a
# check of a cache key waits for the value (redis_key_is) rather than reads it once.

line=$(grep 'msg="Data adapter configuration loaded"' "$AC_LOG")
ok "config line logged" [ -n "$line" ]
for kv in service_name=audit-correlator instance_name=audit-correlator schema=audit \
    redis_namespace=audit environment=test; do
    case "$line" in *" $kv "*|*" $kv") pass "config line has $kv" ;; *) fail "config line has $kv: $line" ;; esac
done
case "$line" in *"postgres_url=postgresql://postgres:***@"*) pass "postgres URL masked" ;;
    *) fail "postgres URL masked: $line" ;; esac
ok "no password anywhere in the worker log" sh -c "! grep -q '$PASS' '$AC_LOG'"
ok "schema validated logged" grep -q 'msg="PostgreSQL schema validated" schema=audit' "$AC_LOG"
ok "namespace validated logged" grep -q 'msg="Redis namespace validated" namespace=audit' "$AC_LOG"

# Health document.
h=$(curl -s -D "$T/h.hdr" "$U/api/v1/health")
is "$(echo "$h" | jq -r '[.service,.instance,.version,.environment,.checks.postgres.status,.checks.redis.status]|join(",")')" \
    "audit-correlator,audit-correlator,1.0.0,test,healthy,healthy" "health fields"
# (jq 1.6 -e exits 0 on empty input: compare jq's output instead)
is "$(echo "$h" | jq -r '.timestamp|test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T.*Z$")')" true "health has a timestamp"
ok "health Content-Type is JSON" grep -qi '^content-type: application/json' "$T/h.hdr"
is "$(http_code "$U/api/v1/health" -X POST)" 405 "POST /api/v1/health is 405"
is "$(http_code "$U/nope")" 404 "unknown path is 404"
is "$(http_code "$U/metrics" -X TRACE)" 405 "TRACE is 405, not 501"
ok "405 carries Allow" sh -c "curl -s -D - -o /dev/null -X DELETE '$U/metrics' | grep -qi '^allow: GET'"

# Registration key, TTL and metadata.
key=services:audit-correlator:audit-correlator
ttl=$($REDIS_CLI ttl $key)
ok "registration key has a TTL (got $ttl)" [ "$ttl" -gt 0 ] && [ "$ttl" -le 30 ]
reg=$($REDIS_CLI get $key)
is "$(echo "$reg" | jq -r '[.environment,.log_level,.service_type,.instance_name,.version,(.port|tostring),(.pid|tostring)]|join(",")')" \
    "test,info,singleton,audit-correlator,1.0.0,$AC_PORT,$AC_PID" "registration metadata"
is "$(echo "$reg" | jq -r '(.host|length > 0) and (.started_at|length > 0)')" true "registration has host and started_at"

reg_row() { [ "$(psql_admin -tAc "SELECT instance_name || ',' || port FROM audit.service_registrations WHERE id='$key'")" = "audit-correlator,$AC_PORT" ]; }
ok "registration mirrored in service_registrations" wait_for 10 reg_row

# Migration from public kept the rows and emptied public.
is "$(psql_admin -tAc "SELECT count(*) FROM pg_tables WHERE schemaname='public' AND tablename IN ('audit_events','service_metrics')")" 0 "tables moved out of public"
is "$(curl -s $A/events/00000000-0000-4000-8000-000000000001 | jq -r .event_type)" migrated "migrated row readable through the API"
is "$(psql_admin -tAc 'SELECT count(*) FROM audit.service_metrics')" 1 "migrated service_metrics rows kept"
for t in audit_events service_registrations audit_correlations service_metrics audit_events_archive; do
    is "$(psql_admin -tAc "SELECT count(*) FROM pg_tables WHERE schemaname='audit' AND tablename='$t'")" 1 "table audit.$t exists"
done
is "$(psql_admin -tAc "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid=p.pronamespace WHERE n.nspname='audit' AND proname='update_updated_at_column'")" 1 "trigger function in the schema"
is "$(psql_admin -tAc "SELECT count(*) FROM pg_indexes WHERE schemaname='audit' AND tablename='audit_events' AND indexname LIKE 'idx_%'")" 7 "audit_events indexes"
is "$(psql_admin -tAc "SELECT count(DISTINCT application_name) FROM pg_stat_activity WHERE application_name='audit-correlator'")" 1 "application_name is the instance"

# Create (one), get, cache.
r=$(curl -s -w '\n%{http_code}' -X POST $A/events -d '{"service_name":"exchange-OKX","event_type":"order.created","correlation_id":"corr-1","trace_id":"tr-1","timestamp":"2025-10-07T12:00:00Z","duration_ms":12,"metadata":{"qty":5},"tags":["a","b"]}')
is "$(echo "$r" | tail -1)" 201 "create one: 201"
id1=$(echo "$r" | head -1 | jq -r .id)
is "$(psql_admin -tAc "SELECT count(*) FROM audit.audit_events WHERE id='$id1'")" 1 "acknowledged event is in PostgreSQL"
is "$(curl -s -D "$T/g1" $A/events/$id1 | jq -r '[.service_name,.event_type,.correlation_id,(.duration_ms|tostring),(.metadata.qty|tostring),(.tags|join("+"))]|join(",")')" \
    "exchange-OKX,order.created,corr-1,12,5,a+b" "get by id returns the event"
ok "first get is a cache miss" grep -qi '^x-cache: miss' "$T/g1"
redis_key_is audit:audit_event:$id1 1 "cache key under the namespace"
ttl=$($REDIS_CLI ttl audit:audit_event:$id1)
ok "cache key has a TTL ($ttl)" [ "$ttl" -gt 0 ]
curl -s -D "$T/g2" -o /dev/null $A/events/$id1
ok "second get is a cache hit" grep -qi '^x-cache: hit' "$T/g2"

# Update invalidates.
is "$(curl -s -X PUT $A/events/$id1 -d '{"status":"failed","metadata":{"qty":6}}' | jq -r '.status + "," + (.metadata.qty|tostring)')" "failed,6" "update by id"
redis_key_is audit:audit_event:$id1 0 "update invalidates the cache key"
is "$(curl -s $A/events/$id1 | jq -r .status)" failed "get after update sees the new value"
is "$(psql_admin -tAc "SELECT updated_at > created_at FROM audit.audit_events WHERE id='$id1'")" t "updated_at moved by the trigger"
is "$(http_code $A/events/00000000-0000-4000-8000-0000000000ff -X PUT -d '{"status":"x"}')" 404 "update unknown id: 404"

# Batch create: atomic.
before=$(psql_admin -tAc 'SELECT count(*) FROM audit.audit_events')
is "$(http_code $A/events -X POST -d '[{"service_name":"s","event_type":"e"},{"service_name":"s"}]')" 400 "batch with a bad row: 400"
is "$(curl -s -X POST $A/events -d '[{"service_name":"s","event_type":"e"},{"service_name":"s"}]' | jq -r .field)" "[1].event_type" "batch error names the row and field"
is "$(curl -s -X POST $A/events -d "[{\"service_name\":\"s\",\"event_type\":\"e\"},{\"id\":\"$id1\",\"service_name\":\"s\",\"event_type\":\"e\"}]" -w ' %{http_code}' | tail -c 3)" 409 "batch with a duplicate id: 409"
is "$(psql_admin -tAc 'SELECT count(*) FROM audit.audit_events')" "$before" "rejected batches stored nothing"
b=$(curl -s -w '\n%{http_code}' -X POST $A/events -d '[
 {"service_name":"custodian-Komainu","event_type":"settle","correlation_id":"corr-1","timestamp":"2025-10-07T12:01:00Z"},
 {"service_name":"custodian-Komainu","event_type":"settle","trace_id":"tr-1","timestamp":"2025-10-07T12:02:00Z"},
 {"service_name":"risk-monitor-LH","event_type":"alert","timestamp":"2020-01-01T00:00:00Z"},
 {"service_name":"risk-monitor-LH","event_type":"alert","timestamp":"2020-01-02T00:00:00Z"}]')
is "$(echo "$b" | tail -1)" 201 "batch create: 201"
is "$(echo "$b" | head -1 | jq length)" 4 "batch create returns every event"
is "$(psql_admin -tAc 'SELECT count(*) FROM audit.audit_events')" "$((before + 4))" "batch rows committed"
id2=$(echo "$b" | head -1 | jq -r '.[0].id')
id3=$(echo "$b" | head -1 | jq -r '.[1].id')

# Batch update: atomic too.
is "$(http_code $A/events -X PUT -d "[{\"id\":\"$id2\",\"status\":\"x\"},{\"id\":\"00000000-0000-4000-8000-0000000000fe\",\"status\":\"x\"}]")" 404 "batch update with an unknown id: 404"
is "$(psql_admin -tAc "SELECT status FROM audit.audit_events WHERE id='$id2'")" ok "failed batch update changed nothing"
curl -s $A/events/$id2 >/dev/null
is "$(curl -s -X PUT $A/events -d "[{\"id\":\"$id2\",\"status\":\"done\"},{\"id\":\"$id3\",\"status\":\"done\"}]" | jq -r 'map(.status)|join(",")')" "done,done" "batch update"
redis_key_is audit:audit_event:$id2 0 "batch update invalidates the cache"
curl -s $A/events/$id3 >/dev/null
ID3=$(echo "$id3" | tr a-f A-F)
is "$(curl -s -X PUT $A/events -d "[{\"id\":\"$ID3\",\"status\":\"upper\"}]" | jq -r '.[0].status')" upper "batch update by an upper-case id"
redis_key_is audit:audit_event:$id3 0 "upper-case id invalidates the same cache key"
is "$(curl -s $A/events/$ID3 | jq -r .status)" upper "get by upper-case id"

# Correlated (same correlation id, same trace id).
is "$(curl -s $A/events/$id1/correlated | jq -r 'map(.id)|sort|join(",")')" "$(printf '%s\n%s\n' $id2 $id3 | sort | paste -sd,)" "correlated events"
is "$(http_code $A/events/00000000-0000-4000-8000-0000000000ff/correlated)" 404 "correlated of unknown id: 404"

# Filtered query and count.
is "$(curl -s "$A/events?service=custodian-Komainu" | jq length)" 2 "filter by service"
is "$(curl -s "$A/events?event_type=alert&since=2020-01-01T12:00:00Z" | jq length)" 1 "filter by type and since"
is "$(curl -s "$A/events?until=2020-06-01T00:00:00Z&limit=1&offset=1" | jq -r '.[0].timestamp')" "2020-01-01T00:00:00+00:00" "until, limit, offset"
is "$(curl -s "$A/events/count?service=risk-monitor-LH" | jq .count)" 2 "count with a filter"
is "$(curl -s "$A/events/count" | jq .count)" "$(psql_admin -tAc 'SELECT count(*) FROM audit.audit_events')" "count of all"
is "$(curl -s "$A/events?since=yesterday" | jq -r .field)" since "bad since: 400 names the field"
is "$(http_code "$A/events?limit=0")" 400 "bad limit: 400"

# Retention: archive, then delete.
r=$(curl -s -X POST $A/retention -d '{"older_than":"2021-01-01T00:00:00Z","archive":true}')
is "$(echo "$r" | jq .archived)" 2 "archive older than moves 2 rows"
is "$(psql_admin -tAc "SELECT count(*) FROM audit.audit_events_archive WHERE service_name='risk-monitor-LH'")" 2 "rows in the archive"
is "$(psql_admin -tAc "SELECT count(*) FROM audit.audit_events WHERE service_name='risk-monitor-LH'")" 0 "rows gone from the live table"
curl -s $A/events/$id1 >/dev/null
r=$(curl -s -X POST $A/retention -d '{"older_than":"2025-10-07T12:01:30Z"}')
is "$(echo "$r" | jq .deleted)" 2 "delete older than a time"
is "$(http_code $A/events/$id1)" 404 "deleted old event is gone (cache invalidated too)"
is "$(http_code $A/events/$id3)" 200 "newer event kept"
is "$(curl -s -X POST $A/retention -d '{"older_than":"30d"}' | jq .deleted)" 1 "delete older than a duration"
is "$(curl -s -X POST $A/retention -d '{"older_than":"soon"}' | jq -r .field)" older_than "bad older_than: 400 names the field"

# Delete.
id4=$(curl -s -X POST $A/events -d '{"service_name":"x","event_type":"y"}' | jq -r .id)
curl -s $A/events/$id4 >/dev/null
redis_key_is audit:audit_event:$id4 1 "cached before delete"
is "$(http_code $A/events/$id4 -X DELETE)" 204 "delete: 204"
redis_key_is audit:audit_event:$id4 0 "delete invalidates the cache"
is "$(http_code $A/events/$id4)" 404 "get deleted: 404"
is "$(http_code $A/events/$id4 -X DELETE)" 404 "delete again: 404"
is "$(http_code $A/events/not-a-uuid)" 400 "malformed id: 400"

# Errors.
is "$(curl -s -X POST $A/events -d '{"service_name":"x","event_type":"y","duration_ms":-1}' | jq -r .field)" duration_ms "bad duration names the field"
is "$(curl -s -X POST $A/events -d '{"service_name":"x","event_type":"y","nope":1}' | jq -r .field)" nope "unknown field named"
is "$(curl -s -X POST $A/events -d '{oops' | jq -r .field)" body "bad JSON: 400 body"
head -c 1200000 /dev/zero | tr '\0' ' ' >"$T/big"
is "$(http_code $A/events -X POST --data-binary @"$T/big")" 413 "body over the limit: 413"
is "$(http_code $A/events -X DELETE)" 405 "DELETE on the collection: 405"

# Cache keys and stats: only the namespace, returned without the prefix.
$REDIS_CLI set other:thing 1 >/dev/null
$REDIS_CLI set auditx:thing 1 >/dev/null
mig=00000000-0000-4000-8000-000000000001
curl -s $A/events/$mig >/dev/null
keys=$(curl -s "$A/cache/keys?pattern=*" | jq -r '.keys|sort|join(",")')
is "$keys" "audit_event:$mig" "keys by pattern: namespace only, prefix stripped"
s=$(curl -s $A/cache/stats)
is "$(echo "$s" | jq -r '.hits >= 2 and .misses >= 1 and .keys == 1 and .memory_bytes > 0')" true "stats report hits, misses, keys, memory"

# Metrics.
curl -s -D "$T/m.hdr" "$U/metrics" >"$T/metrics.txt"
ok "metrics pass promtool" promtool check metrics <"$T/metrics.txt"
ok "metrics Content-Type" grep -qi '^content-type: text/plain; version=0.0.4' "$T/m.hdr"
ok "metrics carry the instance labels" grep -q 'worker_info{service="audit-correlator",instance_name="audit-correlator",service_type="singleton"' "$T/metrics.txt"
ok "created counter" grep -q '^audit_events_created_total [1-9]' "$T/metrics.txt"

# SIGTERM: deregistered, exit 0, quickly.
t0=$(date +%s)
worker_stop AC
is "$?" 0 "exit status 0 on SIGTERM"
ok "stopped within 5 s" [ $(( $(date +%s) - t0 )) -le 5 ]
is "$($REDIS_CLI exists $key)" 0 "registration key removed on SIGTERM"
ok "no password in the server log" sh -c "! grep -q '$PASS' '$PG_LOG'"
t_done
