#!/bin/sh
# Two audit-correlator instances and an entity worker share one database and one Redis:
# each sees only its own schema and namespace.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/servers.sh"
. "$srcdir/tests/it_worker_lib.sh"
t_init worker-isolation
pg_start || { fail "postgres starts"; t_done; }
redis_start || { fail "redis starts"; t_done; }

# audit-A runs as a least-privileged PostgreSQL role, as provisioning creates them:
# USAGE and CREATE on a schema it does not own. A legacy table left in public, owned by
# someone else, cannot be moved by it: that must not keep it from starting.
psql_admin <<'SQL'
CREATE ROLE audit_a LOGIN PASSWORD 'pwA';
CREATE SCHEMA audit_a AUTHORIZATION postgres;
GRANT USAGE, CREATE ON SCHEMA audit_a TO audit_a;
CREATE TABLE public.audit_correlations (id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  source_event_id UUID NOT NULL, target_event_id UUID NOT NULL,
  correlation_type TEXT NOT NULL DEFAULT 'related',
  confidence DOUBLE PRECISION NOT NULL DEFAULT 1.0,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now());
SQL
worker_start WA audit-correlator SERVICE_NAME=audit-correlator SERVICE_INSTANCE_NAME=audit-A \
    POSTGRES_URL="postgresql://audit_a:pwA@127.0.0.1:$PGPORT/trading_ecosystem" ||
    fail "audit-A starts"
# audit-B runs as a least-privileged Redis user, as provisioning creates them: its
# namespace, its own discovery key, read-only services:*, no SCAN or KEYS.
$REDIS_CLI ACL SETUSER audit-B reset on '>pwB' '~audit:B:*' '&audit:B:*' \
    '%RW~services:audit-correlator:audit-B' '%R~services:*' +@all -@dangerous -scan -keys >/dev/null
worker_start WB audit-correlator SERVICE_NAME=audit-correlator SERVICE_INSTANCE_NAME=audit-B \
    REDIS_URL="redis://audit-B:pwB@127.0.0.1:$REDIS_PORT/0" || fail "audit-B starts"
worker_start EX entity-worker SERVICE_NAME=exchange-simulator SERVICE_INSTANCE_NAME=exchange-OKX \
    ENTITY_TYPE=exchange || fail "exchange-OKX starts"
ok "audit-A healthy" wait_for 10 health_is WA healthy
ok "audit-B healthy" wait_for 10 health_is WB healthy
ok "exchange-OKX healthy" wait_for 10 health_is EX healthy
A=$(worker_url WA)/api/v1/audit
B=$(worker_url WB)/api/v1/audit

ok "audit-A could not move the public table and said so" grep -q 'msg="cannot move table from public schema; leaving it there".*table=audit_correlations' "$WA_LOG"
is "$(psql_admin -tAc "SELECT tableowner FROM pg_tables WHERE schemaname='audit_a' AND tablename='audit_events'")" audit_a "audit-A created its tables as its own role"
ok "audit-A derived schema and namespace" grep -q 'schema=audit_a redis_namespace=audit:A' "$WA_LOG"
ok "audit-B derived schema and namespace" grep -q 'schema=audit_b redis_namespace=audit:B' "$WB_LOG"

ea=$(curl -s -X POST $A/events -d '{"service_name":"s","event_type":"from-a","correlation_id":"shared"}' | jq -r .id)
eb=$(curl -s -X POST $B/events -d '{"service_name":"s","event_type":"from-b","correlation_id":"shared"}' | jq -r .id)
ok "both created" [ -n "$ea" ] && [ -n "$eb" ] && [ "$ea" != null ] && [ "$eb" != null ]
is "$(psql_admin -tAc "SELECT event_type FROM audit_a.audit_events")" from-a "A's row in audit_a only"
is "$(psql_admin -tAc "SELECT event_type FROM audit_b.audit_events")" from-b "B's row in audit_b only"
is "$(http_code $A/events/$eb)" 404 "A cannot get B's event"
is "$(http_code $B/events/$ea)" 404 "B cannot get A's event"
is "$(curl -s $A/events | jq -r 'map(.event_type)|join(",")')" from-a "A lists only its events"
is "$(curl -s $B/events/count | jq .count)" 1 "B counts only its events"
is "$(curl -s $A/events/$ea/correlated | jq length)" 0 "correlation does not cross instances"

curl -s $A/events/$ea >/dev/null
curl -s $B/events/$eb >/dev/null
redis_key_is audit:A:audit_event:$ea 1 "A caches under audit:A"
redis_key_is audit:B:audit_event:$eb 1 "B caches under audit:B"
is "$($REDIS_CLI --scan --pattern 'audit:A:*' | grep -c "$eb")" 0 "no B key under audit:A"
is "$(curl -s "$A/cache/keys?pattern=*" | jq -r '.keys|join(",")')" "audit_event:$ea" "A's keys list holds only its key"
is "$(curl -s "$B/cache/stats" | jq -r '(.keys|tostring) + "," + .source')" "1,index" "B's stats count only its keys (through the index: no SCAN for B)"
is "$(curl -s "$B/cache/keys?pattern=audit_event:*" | jq -r '.keys|join(",")')" "audit_event:$eb" "B's keys through the index"
is "$(curl -s "$A/cache/stats" | jq -r '(.keys|tostring) + "," + .source')" "1,scan" "A's stats through SCAN"
curl -s -X DELETE $B/events/$eb >/dev/null
is "$(curl -s "$B/cache/keys" | jq '.keys|length')" 0 "delete removes the key from B's index"
eb=$(curl -s -X POST $B/events -d '{"service_name":"s","event_type":"from-b"}' | jq -r .id)
is "$(curl -s -X POST $A/retention -d '{"older_than":"2100-01-01T00:00:00Z"}' | jq .deleted)" 1 "A's retention deletes A's row"
is "$(curl -s $B/events/count | jq .count)" 1 "B's row survives A's retention"

is "$($REDIS_CLI exists services:audit-correlator:audit-A services:audit-correlator:audit-B)" 2 "both registered"
is "$($REDIS_CLI get services:audit-correlator:audit-A | jq -r .service_type)" multi-instance "service_type multi-instance"

# The entity worker: state row in its schema, state key in its namespace.
X=$(worker_url EX)
ok "entity state row written" wait_for 10 sh -c "[ \"\$(psql -X -h '$PGHOST' -p '$PGPORT' -U postgres -d trading_ecosystem -tAc \"SELECT entity_type FROM exchange_okx.entity_state WHERE instance_name='exchange-OKX'\" 2>/dev/null)\" = exchange ]"
ok "entity state key in its namespace" wait_for 10 sh -c "[ \"\$($REDIS_CLI exists exchange:OKX:state)\" = 1 ]"
is "$(curl -s $X/api/v1/state | jq -r .instance_name)" exchange-OKX "GET /api/v1/state"
is "$($REDIS_CLI get services:exchange-simulator:exchange-OKX | jq -r '.service_type + "," + .entity_type')" "multi-instance,exchange" "entity registration"
ok "entity metrics pass promtool" sh -c "curl -s $X/metrics | promtool check metrics"
ok "entity metrics labels" sh -c "curl -s $X/metrics | grep -q 'entity_type=\"exchange\"'"
# audit-correlator holds a second connection for group commits; the entity worker one.
ok "audit-correlator's second connection is up" wait_for 10 sh -c "[ \"\$(psql -X -h '$PGHOST' -p '$PGPORT' -U postgres -d trading_ecosystem -tAc \"SELECT count(*) FROM pg_stat_activity WHERE application_name IN ('audit-A', 'audit-B')\" 2>/dev/null)\" = 4 ]"
is "$(psql_admin -tAc "SELECT string_agg(application_name || '=' || n, ',' ORDER BY application_name) FROM (SELECT application_name, count(*) AS n FROM pg_stat_activity WHERE application_name IN ('audit-A','audit-B','exchange-OKX') GROUP BY 1) c")" "audit-A=2,audit-B=2,exchange-OKX=1" "application_name per instance (connections per worker)"

worker_stop EX
is "$?" 0 "entity worker exits 0 on SIGTERM"
is "$(psql_admin -tAc "SELECT state FROM exchange_okx.entity_state")" stopped "entity state stopped"
is "$($REDIS_CLI exists services:exchange-simulator:exchange-OKX)" 0 "entity deregistered"
worker_stop WA
worker_stop WB
is "$($REDIS_CLI exists services:audit-correlator:audit-A services:audit-correlator:audit-B)" 0 "both deregistered"
t_done
