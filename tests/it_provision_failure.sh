#!/bin/bash
# Failures leave nothing half-done: a server that is down changes nothing on the
# other one, an instance whose transaction fails halfway leaves no trace while the
# others are provisioned, a role made by someone else is not taken over, and names
# that could escape SQL or ACL syntax never get past the inventory loader.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/servers.sh"
t_init prov-fail
pg_start || { fail "postgres starts"; t_done; }
redis_start || { fail "redis starts"; t_done; }
CTL=$top_builddir/src/instancectl
CRED=$T/state/credentials

inventory() { # FILE PG_URL REDIS_URL [EXTRA_INSTANCE_BLOCK]
    cat > "$1" <<CONF
environment    = "test"
volumes_root   = "$T/volumes"
state_dir      = "$T/state"
status_listen  = "127.0.0.1:1"
control_socket = "$T/ctl.sock"
postgres_url   = "$2"
redis_url      = "$3"
service "exchange-simulator" {
    command          = "/bin/true"
    instance_prefix  = "exchange"
    namespace_prefix = "exchange"
}
instance "exchange-OKX" {
    service = "exchange-simulator"
    port    = 8081
}
instance "exchange-Binance" {
    service = "exchange-simulator"
    port    = 8082
}
${4:-}
CONF
}
roles() { psql_admin -tAc "SELECT count(*) FROM pg_roles WHERE rolname ~ '^(inst_|monitor_user)'"; }
schemas() { psql_admin -tAc "SELECT count(*) FROM pg_namespace WHERE nspname ~ '^exchange'"; }
acl_users() { $REDIS_CLI ACL USERS | grep -c '^inst_'; }
no_files() { [ ! -e "$CRED" ] || [ -z "$(ls -A "$CRED")" ]; }
dead=$(free_port)

# --- PostgreSQL down ---
inventory "$T/pg-down.conf" "postgresql://postgres@127.0.0.1:$dead/trading_ecosystem" "$REDIS_URL"
"$CTL" provision -c "$T/pg-down.conf" >"$T/out" 2>"$T/err"
is "$?" "1" "PostgreSQL down: exit 1"
ok "PostgreSQL down: a clear error" grep -q 'error: PostgreSQL: cannot connect: .*; nothing was changed' "$T/err"
is "$(acl_users)" "0" "PostgreSQL down: no Redis ACL user made"
ok "PostgreSQL down: no credential file" no_files

# --- Redis down ---
inventory "$T/redis-down.conf" "$PG_URL" "redis://127.0.0.1:$dead/0"
"$CTL" provision -c "$T/redis-down.conf" >"$T/out" 2>"$T/err"
is "$?" "1" "Redis down: exit 1"
ok "Redis down: a clear error" grep -q 'error: Redis: cannot connect to 127.0.0.1:[0-9]*: .*; nothing was changed' "$T/err"
is "$(roles) $(schemas)" "0 0" "Redis down: no PostgreSQL role or schema made"
ok "Redis down: no credential file" no_files

# --- one instance fails halfway through its transaction ---
# An event trigger makes moving exchange-Binance's legacy table fail, after its role,
# schema and grants were already issued in the same transaction.
psql_admin <<'SQL'
CREATE TABLE public.exchange_binance_orders (id int);
CREATE FUNCTION boom() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands()
               WHERE object_identity LIKE 'exchange_binance.%') THEN
        RAISE EXCEPTION 'boom: refusing %', tg_tag;
    END IF;
END $$;
CREATE EVENT TRIGGER boom ON ddl_command_end WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION boom();
SQL
inventory "$T/inv.conf" "$PG_URL" "$REDIS_URL"
"$CTL" provision -c "$T/inv.conf" >"$T/out" 2>"$T/err"
is "$?" "1" "a failing instance: exit 1"
ok "the failure names the instance and the cause" grep -q '^\[exchange-Binance\] error: .*boom: refusing ALTER TABLE' "$T/err"
ok "the instance's transaction is reported rolled back" grep -q '^\[exchange-Binance\] rolled back: nothing changed for this instance' "$T/out"
is "$(psql_admin -tAc "SELECT count(*) FROM pg_roles WHERE rolname = 'inst_exchange_binance'")" "0" "no half-made role"
is "$(psql_admin -tAc "SELECT count(*) FROM pg_namespace WHERE nspname = 'exchange_binance'")" "0" "no half-made schema"
is "$(psql_admin -tAc "SELECT to_regclass('public.exchange_binance_orders') IS NOT NULL")" "t" "the legacy table stays where it was"
ok "no credential file for the failed instance" test ! -e "$CRED/exchange-Binance.env"
ok "no stray .new file" sh -c "[ -z \"\$(ls '$CRED' | grep '\.new$')\" ]"
is "$($REDIS_CLI ACL LIST | grep -c 'user inst_exchange_binance ')" "0" "no ACL user for the failed instance"
is "$(psql_admin -tAc "SELECT count(*) FROM pg_roles WHERE rolname = 'inst_exchange_okx'")" "1" "the other instance is provisioned"
ok "the other instance has its credential file" test -f "$CRED/exchange-OKX.env"
is "$($REDIS_CLI ACL LIST | grep -c 'user inst_exchange_okx ')" "1" "the other instance has its ACL user"
psql_admin -c 'DROP EVENT TRIGGER boom' >/dev/null
"$CTL" provision -c "$T/inv.conf" >"$T/out" 2>"$T/err"
is "$?" "0" "once the cause is gone, the next run succeeds"
is "$(psql_admin -tAc 'SELECT count(*) FROM exchange_binance.exchange_binance_orders')" "0" "and moves the legacy table"
ok "the instance that was fine stays unchanged" grep -q '^\[exchange-OKX\] unchanged$' "$T/out"

# --- two runs at once are serialised (advisory lock): one works, the other finds it done ---
inventory "$T/twin.conf" "$PG_URL" "$REDIS_URL" 'instance "exchange-Bitstamp" {
    service = "exchange-simulator"
    port    = 8086
}'
"$CTL" provision -c "$T/twin.conf" >"$T/twin1" 2>&1 &
p1=$!
"$CTL" provision -c "$T/twin.conf" >"$T/twin2" 2>&1 &
p2=$!
wait "$p1"; r1=$?
wait "$p2"; r2=$?
is "$r1 $r2" "0 0" "two concurrent runs both succeed"
is "$(cat "$T/twin1" "$T/twin2" | grep -c '^\[exchange-Bitstamp\] unchanged$')" "1" \
    "exactly one of them finds the new instance already provisioned"
is "$(psql_admin -tAc "SELECT count(*) FROM pg_roles WHERE rolname = 'inst_exchange_bitstamp'")" "1" "one role"

# --- a role made by someone else is not taken over ---
psql_admin -c 'CREATE ROLE inst_exchange_kraken LOGIN' >/dev/null
# Older deployment scripts made monitor_user themselves: its grants are managed, its password
# is not (before this, the earlier runs made it ours: make it someone else's again).
rm -f "$CRED/monitor_user.env"
psql_admin -c "COMMENT ON ROLE monitor_user IS 'made by hand'; ALTER ROLE monitor_user PASSWORD 'hand-made-password'" >/dev/null
verifier() { psql_admin -tAc "SELECT rolpassword || coalesce(shobj_description(oid, 'pg_authid'), '') FROM pg_authid WHERE rolname = 'monitor_user'"; }
v0=$(verifier)
"$CTL" provision -c "$T/inv.conf" >"$T/mon1" 2>&1
"$CTL" provision -c "$T/inv.conf" >"$T/mon2" 2>&1
is "$(verifier)" "$v0" "a monitor_user made by someone else keeps its password and comment"
ok "and it is said so" grep -q 'role monitor_user exists and was not made by instanced' "$T/mon1"
is "$(tail -n 1 "$T/mon2")" "[provision] nothing changed" "a foreign monitor_user: the next run changes nothing"
ok "no credential file for a foreign monitor_user" test ! -e "$CRED/monitor_user.env"
inventory "$T/kraken.conf" "$PG_URL" "$REDIS_URL" 'instance "exchange-Kraken" {
    service = "exchange-simulator"
    port    = 8084
}'
"$CTL" provision -c "$T/kraken.conf" >"$T/out" 2>"$T/err"
is "$?" "1" "a foreign role: exit 1"
ok "a foreign role: a clear error" grep -q '^\[exchange-Kraken\] error: role inst_exchange_kraken exists but was not made by instanced' "$T/err"
is "$(psql_admin -tAc "SELECT count(*) FROM pg_namespace WHERE nspname = 'exchange_kraken'")" "0" "a foreign role: nothing done for that instance"

# --- names that could escape SQL or ACL syntax are rejected at load ---
lines=$(wc -l <"$PG_LOG")
before=$($REDIS_CLI ACL LIST | md5sum)
for bad in "exchange-O'KX" 'exchange-O KX' 'exchange-O*' 'exchange-"x"'; do
    inventory "$T/bad.conf" "$PG_URL" "$REDIS_URL" "instance \"$bad\" {
    service = \"exchange-simulator\"
    port    = 8085
}"
    "$CTL" provision -c "$T/bad.conf" >"$T/out" 2>"$T/err"
    rc=$?
    if [ "$rc" = 1 ] && grep -q "bad.conf:[0-9]*:" "$T/err"; then
        pass "instance name [$bad] is rejected with FILE:LINE"
    else
        fail "instance name [$bad] is rejected: rc=$rc $(cat "$T/err")"
    fi
done
for ns in 'exchange:*' 'ex[ch]' 'exchange:O KX'; do
    inventory "$T/bad.conf" "$PG_URL" "$REDIS_URL" "instance \"exchange-Kraken\" {
    service   = \"exchange-simulator\"
    port      = 8085
    namespace = \"$ns\"
}"
    "$CTL" provision -c "$T/bad.conf" >/dev/null 2>"$T/err"
    is "$?" "1" "namespace [$ns] is rejected"
done
inventory "$T/bad.conf" "$PG_URL" "$REDIS_URL" 'instance "exchange-Kraken" {
    service = "exchange-simulator"
    port    = 8085
    schema  = "x\"; DROP TABLE y; --"
}'
"$CTL" provision -c "$T/bad.conf" >/dev/null 2>"$T/err"
is "$?" "1" "a schema with a quote is rejected"
is "$(tail -n +"$((lines + 1))" "$PG_LOG" | grep -c 'statement:')" "0" "rejected inventories send PostgreSQL nothing"
is "$($REDIS_CLI ACL LIST | md5sum)" "$before" "rejected inventories change no ACL"
t_done
