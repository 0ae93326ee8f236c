#!/bin/bash
# The real workers run with provisioned credentials: audit-correlator (which creates
# its tables and takes over the legacy tables) and an entity worker, each
# started with only its own POSTGRES_URL / REDIS_URL from prov_worker_urls(), report
# PostgreSQL and Redis healthy and register themselves under services:*.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/servers.sh"
AC=$top_builddir/workers/audit-correlator
EW=$top_builddir/workers/entity-worker
t_init prov-worker
# The workers are part of every build: missing ones are a failure, not a skip.
[ -x "$AC" ] && [ -x "$EW" ] || { fail "workers built ($AC, $EW)"; t_done; }
pg_start || { fail "postgres starts"; t_done; }
redis_start || { fail "redis starts"; t_done; }
CTL=$top_builddir/src/instancectl
URLS=$top_builddir/src/prov-urls-check


AC_PORT=$(free_port)
EW_PORT=$(free_port)
cat > "$T/inv.conf" <<CONF
environment    = "test"
volumes_root   = "$T/volumes"
state_dir      = "$T/state"
status_listen  = "127.0.0.1:1"
control_socket = "$T/ctl.sock"
postgres_url   = "$PG_URL"
redis_url      = "$REDIS_URL"
service "audit-correlator" {
    command   = "$AC"
    singleton = true
}
service "exchange-simulator" {
    command          = "$EW"
    instance_prefix  = "exchange"
    namespace_prefix = "exchange"
    entity_type      = "exchange"
}
instance "audit-correlator" {
    service = "audit-correlator"
    port    = $AC_PORT
}
instance "exchange-OKX" {
    service = "exchange-simulator"
    port    = $EW_PORT
}
CONF
"$CTL" provision -c "$T/inv.conf" >"$T/out" 2>&1
is "$?" "0" "provision succeeds"

start_worker() { # NAME SERVICE PORT BIN [ENTITY]
    mkdir -p "$T/volumes/$1/data" "$T/volumes/$1/logs"
    "$URLS" "$T/inv.conf" "$1" >"$T/$1.urls" || { fail "URLs for $1: $(cat "$T/$1.urls")"; return 1; }
    (
        set -a
        . "$T/$1.urls"
        set +a
        exec env SERVICE_NAME="$2" SERVICE_INSTANCE_NAME="$1" HTTP_PORT="$3" \
            ENTITY_TYPE="${5:-}" DATA_DIR="$T/volumes/$1/data" LOGS_DIR="$T/volumes/$1/logs" \
            "$4" >"$T/$1.log" 2>&1
    ) &
    eval "PID_${3}=\$!"
    at_exit "kill $! 2>/dev/null"
}
healthy() { curl -fsS "http://127.0.0.1:$1/api/v1/health" 2>/dev/null | grep -q '"postgres":{"status":"healthy"'; }

start_worker audit-correlator audit-correlator "$AC_PORT" "$AC"
start_worker exchange-OKX exchange-simulator "$EW_PORT" "$EW" exchange
ok "audit-correlator reports PostgreSQL healthy with its own role" wait_for 20 healthy "$AC_PORT"
ok "exchange-OKX reports PostgreSQL healthy with its own role" wait_for 20 healthy "$EW_PORT"
# PostgreSQL healthy says nothing of Redis: a worker checks each on its own and may not
# have seen Redis healthy yet when PostgreSQL is, so Redis is waited for too.
redis_healthy() { curl -fsS "http://127.0.0.1:$1/api/v1/health" 2>/dev/null | grep -q '"redis":{"status":"healthy"'; }
for p in "$AC_PORT" "$EW_PORT"; do
    if wait_for 20 redis_healthy "$p"; then
        pass "worker on $p reports Redis healthy with its ACL user"
    else
        fail "worker on $p reports Redis healthy: $(curl -fsS "http://127.0.0.1:$p/api/v1/health" 2>&1)"
    fi
done
ok "exchange-OKX registers under its own key" \
    wait_for 10 sh -c "$REDIS_CLI EXISTS services:exchange-simulator:exchange-OKX | grep -qx 1"
ok "audit-correlator registers under its own key" \
    wait_for 10 sh -c "$REDIS_CLI EXISTS services:audit-correlator:audit-correlator | grep -qx 1"
is "$(psql_admin -tAc "SELECT count(*) > 0 AND bool_and(tableowner = 'inst_audit') FROM pg_tables WHERE schemaname = 'audit'")" \
    "t" "audit-correlator created its tables in its schema, owned by its role"
is "$(psql -X -q -h "$PGHOST" -p "$PGPORT" -U monitor_user -d trading_ecosystem \
      -tAc 'SELECT count(*) >= 0 FROM audit.audit_events' 2>&1)" "t" "the monitor reads audit-correlator's tables"
ok "no worker logged a permission error" sh -c "! grep -i -E 'permission denied|NOPERM|must be owner' '$T/audit-correlator.log' '$T/exchange-OKX.log'"
"$CTL" provision -c "$T/inv.conf" >"$T/out2" 2>&1
is "$(tail -n 1 "$T/out2")" "[provision] nothing changed" "provisioning again while workers run changes nothing"
t_done
