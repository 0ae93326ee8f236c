#!/bin/sh
# The workers under the real supervisor: they take the environment contract (schema,
# namespace, service_type, entity_type) from instanced, become healthy in its combined
# status, leave their traces in the right schema and namespace, and deregister when
# the supervisor stops them.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/servers.sh"
t_init worker-fleet
pg_start || { fail "postgres starts"; t_done; }
redis_start || { fail "redis starts"; t_done; }
W="$top_builddir/workers"
sp=$(free_port)
p1=$(free_port)
p2=$(free_port)
p3=$(free_port)
cat >"$T/fleet.conf" <<CONF
environment     = "fleet-test"
version         = "2.0.0"
volumes_root    = "$T/volumes"
state_dir       = "$T/state"
status_listen   = "127.0.0.1:$sp"
control_socket  = "$T/control.sock"
health_interval = 1s
health_timeout  = 1s
postgres_url    = "$PG_URL"
redis_url       = "$REDIS_URL"
service "audit-correlator" {
    command     = "$W/audit-correlator"
    singleton   = true
    health_path = "/api/v1/health"
}
service "exchange-simulator" {
    command          = "$W/entity-worker"
    instance_prefix  = "exchange"
    namespace_prefix = "exchange"
    entity_type      = "exchange"
    health_path      = "/api/v1/health"
}
service "market-data-simulator" {
    command          = "$W/entity-worker"
    instance_prefix  = "market-data"
    namespace_prefix = "market_data"
    entity_type      = "market-data"
    health_path      = "/api/v1/health"
}
instance "audit-correlator" {
    service = "audit-correlator"
    port    = $p1
}
instance "exchange-OKX" {
    service = "exchange-simulator"
    port    = $p2
}
instance "market-data-Coinmetrics" {
    service = "market-data-simulator"
    port    = $p3
}
CONF
"$top_builddir/src/instanced" -c "$T/fleet.conf" --foreground >"$T/instanced.log" 2>&1 &
sup=$!
at_exit "kill $sup 2>/dev/null"
# (jq 1.6 -e exits 0 on empty input, e.g. before the status endpoint listens)
all_healthy() { [ "$(curl -s "127.0.0.1:$sp/api/v1/health" | jq -r '.summary.healthy')" = 3 ]; }
ok "all three workers healthy in the combined status" wait_for 30 all_healthy

is "$(curl -s 127.0.0.1:$p3/api/v1/health | jq -r '[.instance,.version,.environment,.service_type]|join(",")')" \
    "market-data-Coinmetrics,2.0.0,fleet-test,multi-instance" "worker health reflects the contract"
is "$($REDIS_CLI get services:market-data-simulator:market-data-Coinmetrics | jq -r '.entity_type + "," + (.port|tostring)')" \
    "market-data,$p3" "registration from the supervisor's environment"
state_key() { [ "$($REDIS_CLI exists market_data:Coinmetrics:state exchange:OKX:state)" = 2 ]; }
ok "state keys under the inventory's namespaces" wait_for 10 state_key
is "$(psql_admin -tAc "SELECT count(*) FROM pg_namespace WHERE nspname IN ('audit','exchange_okx','market_data_coinmetrics')")" 3 "one schema per instance"
ok "config lines in the worker logs are masked" sh -c "! grep -rq 'password=' '$T/volumes' 2>/dev/null"
id=$(curl -s -X POST 127.0.0.1:$p1/api/v1/audit/events -d '{"service_name":"exchange-OKX","event_type":"fleet"}' | jq -r .id)
is "$(psql_admin -tAc "SELECT event_type FROM audit.audit_events WHERE id='$id'")" fleet "audit-correlator stores events under the supervisor"

kill -TERM $sup
ok "supervisor stops" wait_for 30 sh -c "! kill -0 $sup 2>/dev/null"
is "$($REDIS_CLI keys "services:*" | sort | paste -sd" ")" "" "every worker deregistered on stop"
is "$(psql_admin -tAc "SELECT string_agg(state, ',') FROM (SELECT state FROM exchange_okx.entity_state UNION ALL SELECT state FROM market_data_coinmetrics.entity_state) s")" \
    "stopped,stopped" "entity workers recorded their stop"
t_done
