#!/bin/bash
# Provisioning builds walls between instances: exchange-OKX's PostgreSQL role and
# Redis ACL user try to cross them and fail; the monitor role reads everywhere and
# writes nowhere; credential files are 0600 and readable only by their owner.
# PostgreSQL asks for SCRAM passwords on TCP (tests/lib/servers.sh), so the generated
# ones are proven too.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/servers.sh"
t_init prov-walls
pg_start || { fail "postgres starts"; t_done; }
redis_start || { fail "redis starts"; t_done; }
CTL=$top_builddir/src/instancectl

psql_admin -c 'CREATE DATABASE other_db' >/dev/null

cat > "$T/inv.conf" <<CONF
environment    = "test"
volumes_root   = "$T/volumes"
state_dir      = "$T/state"
status_listen  = "127.0.0.1:1"
control_socket = "$T/ctl.sock"
postgres_url   = "$PG_URL"
redis_url      = "$REDIS_URL"
service "audit-correlator" {
    command   = "/bin/true"
    singleton = true
}
service "exchange-simulator" {
    command          = "/bin/true"
    instance_prefix  = "exchange"
    namespace_prefix = "exchange"
}
instance "audit-correlator" {
    service = "audit-correlator"
    port    = 8083
    user    = "daemon"
}
instance "exchange-OKX" {
    service = "exchange-simulator"
    port    = 8081
    user    = "nobody"
}
instance "exchange-Binance" {
    service = "exchange-simulator"
    port    = 8082
}
CONF

"$CTL" provision -c "$T/inv.conf" >"$T/out" 2>"$T/err"
is "$?" "0" "provision succeeds"

CRED=$T/state/credentials
pg_pw()    { sed -n 's|^POSTGRES_URL=postgresql://[^:]*:\([^@]*\)@.*|\1|p' "$CRED/$1.env"; }
redis_pw() { sed -n 's|^REDIS_URL=redis://[^:]*:\([^@]*\)@.*|\1|p' "$CRED/$1.env"; }
OKX_PG=$(pg_pw exchange-OKX)
OKX_RD=$(redis_pw exchange-OKX)
[ -n "$OKX_PG" ] && [ -n "$OKX_RD" ] && pass "credential file holds both URLs" ||
    fail "credential file holds both URLs"

# --- PostgreSQL, as exchange-OKX (password over TCP, as a worker connects) ---
okx() { PGPASSWORD=$OKX_PG psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" \
        -U inst_exchange_okx -d "${DB:-trading_ecosystem}" -tAc "$1" 2>&1; }
mon() { psql -X -q -v ON_ERROR_STOP=1 -h "$PGHOST" -p "$PGPORT" -U monitor_user \
        -d trading_ecosystem -tAc "$1" 2>&1; }
denied() { # WHAT OUTPUT
    case $2 in
    *"permission denied"* | *"must be owner"*) pass "$1" ;;
    *) fail "$1: $2" ;;
    esac
}

is "$(okx 'SELECT current_user')" "inst_exchange_okx" "exchange-OKX logs in with its generated password"
is "$(PGPASSWORD=wrong psql -X -h 127.0.0.1 -p "$PGPORT" -U inst_exchange_okx -d trading_ecosystem \
      -tAc 'SELECT 1' 2>&1 | grep -c 'password authentication failed')" "1" "a wrong password is refused"
is "$(PGPASSWORD=$OKX_PG psql -X -h 127.0.0.1 -p "$PGPORT" -U inst_audit -d trading_ecosystem \
      -tAc 'SELECT 1' 2>&1 | grep -c 'password authentication failed')" "1" \
    "exchange-OKX's password does not log in as audit-correlator's role"
is "$(psql -X -h 127.0.0.1 -p "$PGPORT" -U inst_exchange_okx -d trading_ecosystem -w \
      -tAc 'SELECT 1' 2>&1 | grep -c 'no password supplied')" "1" "no password, no login"
is "$(okx 'SHOW search_path')" "exchange_okx" "search_path is the instance schema"
is "$(okx 'CREATE TABLE orders (id serial PRIMARY KEY, venue text); INSERT INTO orders (venue) VALUES ($$okx$$); SELECT count(*) FROM orders')" \
    "1" "exchange-OKX creates and writes tables in its own schema"
psql_admin -c "CREATE TABLE audit.audit_events (id int); INSERT INTO audit.audit_events VALUES (1)"
denied "exchange-OKX cannot read audit" "$(okx 'SELECT * FROM audit.audit_events')"
denied "exchange-OKX cannot write audit" "$(okx 'INSERT INTO audit.audit_events VALUES (2)')"
denied "exchange-OKX cannot create in audit" "$(okx 'CREATE TABLE audit.x (i int)')"
denied "exchange-OKX cannot read exchange_binance" "$(okx 'CREATE TABLE IF NOT EXISTS t (i int); SELECT * FROM exchange_binance.t')"
denied "exchange-OKX cannot create in public" "$(okx 'CREATE TABLE public.x (i int)')"
denied "exchange-OKX cannot create temporary tables" "$(okx 'CREATE TEMP TABLE x (i int)')"
denied "exchange-OKX cannot drop its own schema" "$(okx 'DROP SCHEMA exchange_okx CASCADE')"
denied "exchange-OKX cannot create a schema" "$(okx 'CREATE SCHEMA mine')"
denied "exchange-OKX cannot connect to database postgres" "$(DB=postgres okx 'SELECT 1')"
denied "exchange-OKX cannot connect to database other_db" "$(DB=other_db okx 'SELECT 1')"
is "$(psql_admin -tAc "SELECT rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls FROM pg_roles WHERE rolname = 'inst_exchange_okx'")" \
    "f" "the instance role has no special attributes"

# --- the monitor role: SELECT everywhere (also on tables made after provisioning) ---
is "$(mon 'SELECT count(*) FROM exchange_okx.orders')" "1" "monitor reads a table exchange-OKX created later"
is "$(mon 'SELECT count(*) FROM audit.audit_events')" "1" "monitor reads a table the admin created later in audit"
is "$(PGPASSWORD=$(pg_pw audit-correlator) psql -X -q -h 127.0.0.1 -p "$PGPORT" -U inst_audit -d trading_ecosystem -tAc 'INSERT INTO audit_events VALUES (2); SELECT count(*) FROM audit_events' 2>&1)" \
    "2" "audit-correlator writes a table the admin created in its schema"
denied "monitor cannot insert" "$(mon 'INSERT INTO exchange_okx.orders (venue) VALUES (1)')"
denied "monitor cannot update" "$(mon 'UPDATE audit.audit_events SET id = 3')"
denied "monitor cannot delete" "$(mon 'DELETE FROM exchange_okx.orders')"
denied "monitor cannot create in an instance schema" "$(mon 'CREATE TABLE exchange_okx.m (i int)')"
denied "monitor cannot create temporary tables" "$(mon 'CREATE TEMP TABLE m (i int)')"

# --- Redis, as exchange-OKX ---
$REDIS_CLI SET audit:secret v >/dev/null
$REDIS_CLI SET services:audit-correlator:audit-correlator '{"port":8083}' >/dev/null
okx_redis() { REDISCLI_AUTH=$OKX_RD $REDIS_CLI --user inst_exchange_okx "$@" 2>&1; }
noperm() { # WHAT CMD...
    _w=$1; shift
    _o=$(okx_redis "$@")
    case $_o in *NOPERM*) pass "$_w" ;; *) fail "$_w: $_o" ;; esac
}
is "$(okx_redis ACL WHOAMI)" "inst_exchange_okx" "exchange-OKX authenticates to Redis as its ACL user"
noperm "NOPERM on GET audit:*" GET audit:secret
noperm "NOPERM on SET audit:*" SET audit:mine v
noperm "NOPERM on another instance's namespace" GET exchange:Binance:k
noperm "NOPERM on SCAN" SCAN 0
noperm "NOPERM on KEYS" KEYS '*'
noperm "NOPERM on FLUSHALL" FLUSHALL
noperm "NOPERM on FLUSHDB" FLUSHDB
noperm "NOPERM on SWAPDB" SWAPDB 0 1
noperm "NOPERM on CONFIG" CONFIG GET maxmemory
noperm "NOPERM on another registration key" SET services:exchange-simulator:exchange-Binance x
noperm "NOPERM on writing services:*" DEL services:audit-correlator:audit-correlator
noperm "NOPERM on another instance's channels" PUBLISH audit:events hi
is "$(okx_redis SET exchange:OKX:k v)" "OK" "exchange-OKX writes its own namespace"
is "$(okx_redis GET exchange:OKX:k)" "v" "exchange-OKX reads its own namespace"
is "$(okx_redis GET services:audit-correlator:audit-correlator)" '{"port":8083}' "exchange-OKX reads services:*"
is "$(okx_redis SET services:exchange-simulator:exchange-OKX '{"port":8081}')" "OK" "exchange-OKX writes its own registration key"
is "$(okx_redis PUBLISH exchange:OKX:events hi)" "0" "exchange-OKX publishes on its own channels"
is "$(REDISCLI_AUTH=wrong $REDIS_CLI --user inst_exchange_okx PING 2>&1 | grep -c WRONGPASS)" "1" "a wrong Redis password is refused"

# --- credential files ---
is "$(stat -c '%a %U' "$CRED/exchange-OKX.env")" "600 nobody" "exchange-OKX's file is 0600 and owned by its user"
is "$(stat -c '%a %U' "$CRED/audit-correlator.env")" "600 daemon" "audit-correlator's file is 0600 and owned by its user"
is "$(stat -c '%a %U' "$CRED/exchange-Binance.env")" "600 root" "an instance without a user gets a root-owned 0600 file"
is "$(stat -c '%a' "$CRED")" "711" "the credentials directory cannot be listed"
ok "exchange-OKX's user reads its own file" \
    sh -c "runuser -u nobody -- cat '$CRED/exchange-OKX.env' >/dev/null"
ok "audit-correlator's user cannot read exchange-OKX's file" \
    sh -c "! runuser -u daemon -- cat '$CRED/exchange-OKX.env' >/dev/null 2>&1"
ok "exchange-OKX's user cannot list the directory" \
    sh -c "! runuser -u nobody -- ls '$CRED' >/dev/null 2>&1"
ok "no credential file is world-readable" \
    sh -c "[ -z \"\$(find '$CRED' -type f -perm /077)\" ]"

# --- what the supervisor passes each worker (prov_worker_urls) ---
URLS=$top_builddir/src/prov-urls-check
is "$("$URLS" "$T/inv.conf" exchange-OKX)" "$(grep -v '^#' "$CRED/exchange-OKX.env")" \
    "the worker's POSTGRES_URL and REDIS_URL are those of its credential file"
"$URLS" "$T/inv.conf" exchange-Binance >"$T/binance-env"
ok "another instance's environment holds none of exchange-OKX's passwords" \
    sh -c "! grep -qF -e '$OKX_PG' -e '$OKX_RD' '$T/binance-env'"
ok "another instance's environment names its own role" grep -q 'inst_exchange_binance:' "$T/binance-env"
sed 's/port    = 8081/port    = 8081\n    schema  = "okx_renamed"/' "$T/inv.conf" >"$T/renamed.conf"
is "$("$URLS" "$T/renamed.conf" exchange-OKX)" "error: Stale file handle" \
    "a file written for another role is refused (ESTALE), never passed on"

# --- no password anywhere it should not be ---
for f in "$CRED"/*.env; do
    for pw in $(sed -n 's|^[A-Z_]*=[a-z]*://[^:]*:\([^@]*\)@.*|\1|p' "$f"); do
        echo "$pw"
    done
done >"$T/passwords"
is "$(wc -l <"$T/passwords")" "7" "seven passwords were generated (3 x 2 + monitor)"
ok "no password in the PostgreSQL server log" sh -c "! grep -qF -f '$T/passwords' '$PG_LOG'"
ok "the server log shows SCRAM verifiers only" grep -q "PASSWORD 'SCRAM-SHA-256" "$PG_LOG"
ok "no password in instancectl's output" sh -c "! grep -qF -f '$T/passwords' '$T/out' '$T/err'"
ok "no password in the Redis log" sh -c "! grep -qF -f '$T/passwords' '$REDIS_DIR/redis.log'"
rm -f "$CRED/exchange-Binance.env"
is "$("$URLS" "$T/inv.conf" exchange-Binance)" "error: No such file or directory" \
    "an instance not provisioned yet gets no URLs (ENOENT)"
t_done
