#!/bin/bash
# Provisioning is idempotent and quiet about it: --dry-run changes nothing and masks
# secrets, a second run issues no statement and gives the same catalog and ACL list,
# the legacy migration moves rows once, --rotate changes passwords, removed instances
# are only reported until --prune. No password shows in logs, output or cmdlines.
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/servers.sh"
t_init prov-idem
pg_start || { fail "postgres starts"; t_done; }
redis_start || { fail "redis starts"; t_done; }
CTL=$top_builddir/src/instancectl
CRED=$T/state/credentials

inventory() { # FILE [with-binance]
    cat > "$1" <<CONF
environment    = "test"
volumes_root   = "$T/volumes"
state_dir      = "$T/state"
status_listen  = "127.0.0.1:1"
control_socket = "$T/ctl.sock"
postgres_url   = "$PG_URL"
redis_url      = "$REDIS_URL"
legacy_schemas = {"audit_correlator"}
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
}
instance "exchange-OKX" {
    service = "exchange-simulator"
    port    = 8081
}
CONF
    [ -n "${2:-}" ] && cat >> "$1" <<CONF
instance "exchange-Binance" {
    service = "exchange-simulator"
    port    = 8082
}
CONF
    return 0
}
inventory "$T/inv.conf" with-binance
inventory "$T/inv-removed.conf"

# The legacy layout before the migration: tables in public and in audit_correlator.
psql_admin <<'SQL'
CREATE TABLE public.audit_events (id serial PRIMARY KEY, msg text);
INSERT INTO public.audit_events (msg) VALUES ('a'), ('b'), ('c');
CREATE TABLE public.audit_correlations (id int);
INSERT INTO public.audit_correlations VALUES (1), (2);
CREATE TABLE public.service_registrations (id int, name text);
INSERT INTO public.service_registrations VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd');
CREATE TABLE public.unrelated (id int);
CREATE SCHEMA audit_correlator;
CREATE TABLE audit_correlator.service_metrics (id int, v float8);
INSERT INTO audit_correlator.service_metrics VALUES (1, 0.5), (2, 0.7);
SQL

snapshot() { # the catalog state provisioning touches, and the ACL list
    psql_admin -tA <<'SQL'
SELECT 'ns', nspname, nspowner::regrole, nspacl FROM pg_namespace WHERE nspname !~ '^pg_' ORDER BY 2;
SELECT 'role', rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,
       rolreplication, rolbypassrls, rolpassword, shobj_description(oid, 'pg_authid')
  FROM pg_authid ORDER BY 2;
SELECT 'db', datname, datacl FROM pg_database ORDER BY 2;
SELECT 'set', setrole::regrole, setdatabase, setconfig FROM pg_db_role_setting ORDER BY 2, 3;
SELECT 'defacl', defaclrole::regrole, defaclnamespace::regnamespace, defaclobjtype, defaclacl
  FROM pg_default_acl ORDER BY 2, 3, 4;
SELECT 'rel', n.nspname, c.relname, c.relkind, c.relowner::regrole, c.relacl FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname !~ '^(pg_|information_schema)'
  ORDER BY 2, 3;
SQL
    $REDIS_CLI ACL LIST
}
count() { psql_admin -tAc "SELECT count(*) FROM $1" 2>&1; }
# Every cmdline on the host while instancectl runs, to look for passwords later.
run_sampled() {
    "$@" &
    _pid=$!
    while kill -0 "$_pid" 2>/dev/null; do
        cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\0' ' ' >>"$T/cmdlines"
    done
    wait "$_pid"
}

# --- dry run on a fresh database ---
snapshot >"$T/snap0"
"$CTL" provision -c "$T/inv.conf" --dry-run >"$T/dry" 2>&1
is "$?" "0" "--dry-run exits 0"
snapshot >"$T/snap0b"
ok "--dry-run changes no catalog and no ACL" cmp -s "$T/snap0" "$T/snap0b"
ok "--dry-run makes no credential file" sh -c "[ ! -e '$CRED' ] || [ -z \"\$(ls -A '$CRED')\" ]"
ok "--dry-run prints CREATE ROLE with the password masked" \
    grep -q "CREATE ROLE \"inst_exchange_okx\" LOGIN .* PASSWORD '\*\*\*'$" "$T/dry"
ok "--dry-run prints the ACL SETUSER with the password masked" \
    grep -q "ACL SETUSER inst_exchange_okx reset on >\*\*\* ~exchange:OKX:\* " "$T/dry"
ok "--dry-run prints the legacy moves" grep -q 'ALTER TABLE "public"."audit_events" SET SCHEMA "audit"' "$T/dry"
ok "--dry-run says nothing was changed" grep -q 'dry run: [0-9]* changes would be made; nothing was changed' "$T/dry"
ok "--dry-run shows no SCRAM verifier" sh -c "! grep -q 'SCRAM-SHA-256' '$T/dry'"

# --- first run ---
run_sampled "$CTL" provision -c "$T/inv.conf" >"$T/run1" 2>&1
is "$?" "0" "first run exits 0"
ok "first run reports its changes" grep -q '^\[provision\] [0-9]* changes made' "$T/run1"
is "$(count audit.audit_events)" "3" "legacy: public.audit_events moved into audit with its rows"
is "$(count audit.audit_correlations)" "2" "legacy: public.audit_correlations moved into audit"
is "$(count audit.service_metrics)" "2" "legacy: audit_correlator.service_metrics moved into audit"
is "$(count audit.service_registrations)" "4" "legacy: public.service_registrations moved into audit"
is "$(psql_admin -tAc "SELECT to_regclass('public.audit_events') IS NULL AND to_regclass('public.service_registrations') IS NULL AND to_regclass('audit_correlator.service_metrics') IS NULL")" \
    "t" "legacy: the old tables are gone"
is "$(psql_admin -tAc "SELECT to_regclass('public.unrelated') IS NOT NULL")" "t" "legacy: unrelated public tables stay"
is "$(psql_admin -tAc "SELECT relowner::regrole FROM pg_class WHERE oid = 'audit.audit_events_id_seq'::regclass")" \
    "inst_audit" "legacy: the table's sequence moved with it and belongs to the instance"
is "$(psql -X -q -h "$PGHOST" -p "$PGPORT" -U inst_audit -d trading_ecosystem -tAc \
      "INSERT INTO audit_events (msg) VALUES ('d') RETURNING id" 2>&1)" "4" "legacy: the instance keeps using the moved table"
snapshot >"$T/snap1"
md5sum "$CRED"/*.env >"$T/md5-1"

# --- second run: nothing to do, and it says so ---
lines=$(wc -l <"$PG_LOG")
run_sampled "$CTL" provision -c "$T/inv.conf" >"$T/run2" 2>&1
is "$?" "0" "second run exits 0"
is "$(tail -n 1 "$T/run2")" "[provision] nothing changed" "second run says nothing changed"
is "$(grep -c -E '\] (sql|acl|file): ' "$T/run2")" "0" "second run lists no change"
is "$(grep -c 'unchanged$' "$T/run2")" "4" "each instance and the database report unchanged"
is "$(tail -n +"$((lines + 1))" "$PG_LOG" | grep -c -E 'statement: (CREATE|ALTER|GRANT|REVOKE|COMMENT|DROP)')" \
    "0" "second run sends PostgreSQL no DDL"
snapshot >"$T/snap2"
ok "second run: same pg_namespace, pg_roles (passwords too), ACLs and ACL LIST" cmp -s "$T/snap1" "$T/snap2"
md5sum "$CRED"/*.env >"$T/md5-2"
ok "second run keeps every credential file as it was" cmp -s "$T/md5-1" "$T/md5-2"
is "$(count audit.audit_events)" "4" "legacy: the second run moves nothing"
"$CTL" provision -c "$T/inv.conf" --dry-run >"$T/dry2" 2>&1
is "$(tail -n 1 "$T/dry2")" "[provision] nothing changed (dry run)" "a dry run after provisioning has nothing to do"

# --- prov_apply(), as the supervisor calls it: logfmt through log_kv ---
"$top_builddir/src/prov-urls-check" --apply "$T/inv.conf" >"$T/apply.out" 2>"$T/apply.log"
is "$(cat "$T/apply.out")" "prov_apply=0 err=" "prov_apply() returns 0 with an empty error"
ok "prov_apply() logs logfmt lines" grep -q 'level=info msg="nothing changed" scope=provision$' "$T/apply.log"

# --- a lost credential file: a new password for that instance only ---
cp "$CRED/exchange-OKX.env" "$T/okx-old.env"
rm "$CRED/exchange-OKX.env"
"$CTL" provision -c "$T/inv.conf" >"$T/run3" 2>&1
is "$?" "0" "run after losing a credential file exits 0"
is "$(grep -c -E '\] (sql|acl|file): ' "$T/run3")" "3" "only the password, the ACL user and the file change"
ok "the new password is set as a masked ALTER ROLE" grep -q "^\[exchange-OKX\] sql: ALTER ROLE \"inst_exchange_okx\" PASSWORD '\*\*\*'$" "$T/run3"
ok "the file is written again" test -f "$CRED/exchange-OKX.env"
ok "with a new password" sh -c "! cmp -s '$CRED/exchange-OKX.env' '$T/okx-old.env'"

# --- --rotate ---
md5sum "$CRED"/*.env >"$T/md5-3"
run_sampled "$CTL" provision -c "$T/inv.conf" --rotate >"$T/rot" 2>&1
is "$?" "0" "--rotate exits 0"
is "$(grep -c "sql: ALTER ROLE .* PASSWORD '\*\*\*'" "$T/rot")" "4" "--rotate sets four new PostgreSQL passwords"
is "$(grep -c 'acl: ACL SETUSER' "$T/rot")" "3" "--rotate sets three new Redis passwords"
md5sum "$CRED"/*.env >"$T/md5-4"
is "$(join "$T/md5-3" "$T/md5-4" 2>/dev/null | wc -l)" "0" "--rotate rewrites every credential file"
"$CTL" provision -c "$T/inv.conf" >"$T/run4" 2>&1
is "$(tail -n 1 "$T/run4")" "[provision] nothing changed" "after --rotate the next run changes nothing"

# --- an instance leaves the inventory ---
"$CTL" provision -c "$T/inv-removed.conf" >"$T/rm" 2>&1
is "$?" "0" "a run without exchange-Binance exits 0"
ok "the removed instance is reported" grep -q '^\[exchange-Binance\] removed from the inventory: role inst_exchange_binance and schema exchange_binance kept' "$T/rm"
ok "its ACL user is reported" grep -q 'Redis ACL user inst_exchange_binance has no instance' "$T/rm"
is "$(tail -n 1 "$T/rm")" "[provision] nothing changed" "nothing is dropped without --prune"
is "$(psql_admin -tAc "SELECT count(*) FROM pg_roles WHERE rolname = 'inst_exchange_binance'")" "1" "its role is kept"
"$CTL" provision -c "$T/inv-removed.conf" --prune >"$T/prune" 2>&1
is "$?" "0" "--prune exits 0"
is "$(psql_admin -tAc "SELECT count(*) FROM pg_roles WHERE rolname = 'inst_exchange_binance'") $(psql_admin -tAc "SELECT count(*) FROM pg_namespace WHERE nspname = 'exchange_binance'")" \
    "0 0" "--prune drops the role and the schema"
is "$($REDIS_CLI ACL LIST | grep -c inst_exchange_binance)" "0" "--prune deletes the ACL user"
ok "--prune removes the credential file" test ! -e "$CRED/exchange-Binance.env"
"$CTL" provision -c "$T/inv-removed.conf" --prune >"$T/prune2" 2>&1
is "$(tail -n 1 "$T/prune2")" "[provision] nothing changed" "a second --prune changes nothing"

# --- passwords: every one ever generated, looked for everywhere ---
cat "$CRED"/*.env "$T/okx-old.env" | sed -n 's|^[A-Z_]*=[a-z]*://[^:]*:\([^@]*\)@.*|\1|p' >"$T/passwords"
is "$(sort -u "$T/passwords" | wc -l)" "$(wc -l <"$T/passwords")" "passwords are all different"
ok "no password in the PostgreSQL server log" sh -c "! grep -qF -f '$T/passwords' '$PG_LOG'"
ok "no password in any instancectl output" sh -c "! cat '$T'/dry* '$T'/run* '$T/rot' '$T/rm' '$T'/prune* | grep -qF -f '$T/passwords'"
ok "no password in prov_apply()'s log" sh -c "! grep -qF -f '$T/passwords' '$T/apply.log'"
ok "cmdlines were sampled while instancectl ran" test -s "$T/cmdlines"
ok "no password in any /proc/*/cmdline" sh -c "! grep -qF -f '$T/passwords' '$T/cmdlines'"
t_done
