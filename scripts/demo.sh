#!/bin/bash
# The main job: the demo fleet. Installs what is missing, builds (build output goes to
# demo-run/build.log), starts a private PostgreSQL and Redis on free loopback ports
# under ./demo-run, provisions them when instancectl can, and runs ten named instances
# of seven services under instanced in the foreground; once the fleet is healthy it
# prints every instance with the names derived for it. Ctrl-C stops the fleet
# gracefully, then the servers. The status endpoint is at
# http://127.0.0.1:7070/api/v1/health (INSTANCED_DEMO_STATUS_PORT to change it).
#
#   DEMO_SECONDS=N                run the fleet for N seconds, print its status, stop;
#                                 exit 0 only when the fleet is healthy.
#   INSTANCED_DEMO_STATUS_PORT=P  the status endpoint's port (7070).
#   INSTANCED_DEMO_PORT_*=P       an instance's port (see etc/demo.conf).
#   INSTANCED_DEMO_DIR=DIR        where the servers, volumes and logs go (./demo-run).
#   INSTANCED_DEMO_BUILD_DIR=DIR  use this configured and built tree; skip deps and build.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
export INSTANCED_DEMO_DIR="${INSTANCED_DEMO_DIR:-$top/demo-run}"
mkdir -p "$INSTANCED_DEMO_DIR"
chmod 755 "$INSTANCED_DEMO_DIR"
say() { printf 'demo: %s\n' "$*"; }
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }

# Installing and building say a lot; the demo's own output is the fleet. The log is
# shown when a step fails.
build_dir="${INSTANCED_DEMO_BUILD_DIR:-}"
if [ -z "$build_dir" ]; then
    build_dir="$top/build"
    log="$INSTANCED_DEMO_DIR/build.log"
    say "installing what is missing and building (output in $log)"
    if ! { "$top/scripts/deps.sh" && "$top/scripts/build.sh"; } >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        die "the build failed; the whole output is in $log"
    fi
fi
instanced="$build_dir/src/instanced"
instancectl="$build_dir/src/instancectl"
[ -x "$instanced" ] || die "$instanced is not built"
export INSTANCED_DEMO_WORKERS="$build_dir/workers"
export INSTANCED_DEMO_PROVISION="${INSTANCED_DEMO_PROVISION:-true}"
export INSTANCED_DEMO_STATUS_PORT="${INSTANCED_DEMO_STATUS_PORT:-7070}"
conf="$top/etc/demo.conf"
status_url="http://127.0.0.1:$INSTANCED_DEMO_STATUS_PORT"
# Every request has a deadline: a listener that never answers must not hang the demo.
http_get() { curl -fsS --max-time 2 "$status_url$1"; }

PG_BIN=/usr/lib/postgresql/15/bin
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
port_taken() {
    python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(0)
sys.exit(1)
PY
}
as_pg() { if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }

# The servers' admin passwords, made on the first run and kept (mode 0600) for the
# next: TCP logins to PostgreSQL need SCRAM passwords and Redis needs one, so the
# per-instance roles and ACL users made by provisioning are the only way in for a
# worker. Passwords travel in files and environment variables, never on a command line.
secrets="$INSTANCED_DEMO_DIR/admin-passwords"
if [ ! -s "$secrets" ]; then
    (umask 077; printf 'PG=%s\nREDIS=%s\n' "$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')" \
        "$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')" >"$secrets")
fi
pg_password=$(sed -n 's/^PG=//p' "$secrets")
redis_password=$(sed -n 's/^REDIS=//p' "$secrets")
pg_port=$(free_port)
redis_port=$(free_port)
export INSTANCED_DEMO_PG_URL="postgresql://postgres:$pg_password@127.0.0.1:$pg_port/trading_ecosystem"
export INSTANCED_DEMO_REDIS_URL="redis://:$redis_password@127.0.0.1:$redis_port/0"

# Before anything starts: the inventory is valid and every port it needs is free. A
# taken status port would make instanced exit at once; a taken instance port would
# leave that instance failing.
"$instanced" --check-config -c "$conf" >"$INSTANCED_DEMO_DIR/derived-names.txt" ||
    die "etc/demo.conf is invalid (see above)"
port_taken "$INSTANCED_DEMO_STATUS_PORT" &&
    die "the status port 127.0.0.1:$INSTANCED_DEMO_STATUS_PORT is in use by another program;" \
        "free it or set INSTANCED_DEMO_STATUS_PORT to a free port"
while read -r name port; do
    port_taken "$port" &&
        die "port $port of instance $name is in use by another program; free it or set" \
            "its INSTANCED_DEMO_PORT_* variable (etc/demo.conf) to a free port"
done < <(awk 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "port") c = i; next }
              c && $c ~ /^[0-9]+$/ { print $1, $c }' "$INSTANCED_DEMO_DIR/derived-names.txt")

# PostgreSQL refuses to run as root: as root it runs as the postgres user, which must
# be able to reach its directory. A clone where it cannot (under /root, or any 0700
# directory) keeps its demo database in /var/tmp instead, one per demo directory.
pg_dir="$INSTANCED_DEMO_DIR/pg"
if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$INSTANCED_DEMO_DIR"; then
    pg_dir="/var/tmp/instanced-demo-$(printf '%s' "$INSTANCED_DEMO_DIR" | md5sum | cut -c1-12)/pg"
    mkdir -p "${pg_dir%/pg}"
    chmod 755 "${pg_dir%/pg}"
fi
mkdir -p "$pg_dir"
[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$pg_dir"

sup_pid=""
sup_signalled=""
# Stop the fleet with one SIGTERM, then the servers. instanced treats a second stop
# signal as "kill every worker now", so it is never sent a second one while it is
# stopping gracefully: it runs in its own session (a Ctrl-C reaches this script only)
# and gets SIGTERM once, then has a bounded time to stop its workers.
cleanup() {
    trap '' INT TERM
    if [ -n "$sup_pid" ] && kill -0 "$sup_pid" 2>/dev/null; then
        if [ -z "$sup_signalled" ]; then
            say "stopping the fleet"
            kill -TERM "$sup_pid" 2>/dev/null
            sup_signalled=1
        fi
        for _ in $(seq 600); do kill -0 "$sup_pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$sup_pid" 2>/dev/null; then
            say "instanced did not stop within 60 s; killing the fleet"
            kill -TERM "$sup_pid" 2>/dev/null
        fi
        wait "$sup_pid" 2>/dev/null
    fi
    as_pg "$PG_BIN/pg_ctl" -D "$pg_dir/data" -m fast -w stop >/dev/null 2>&1 || true
    [ -f "$INSTANCED_DEMO_DIR/redis.pid" ] &&
        kill "$(cat "$INSTANCED_DEMO_DIR/redis.pid")" 2>/dev/null
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ ! -f "$pg_dir/data/PG_VERSION" ]; then
    as_pg "$PG_BIN/initdb" -D "$pg_dir/data" -A trust -U postgres -E UTF8 >/dev/null
fi
# The Unix socket (this script's administration) trusts; TCP asks for a password.
printf '%s\n' 'local all all trust' 'host all all 127.0.0.1/32 scram-sha-256' \
    'host all all ::1/128 scram-sha-256' >"$pg_dir/data/pg_hba.conf"
[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$pg_dir/data/pg_hba.conf"
as_pg "$PG_BIN/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -o \
    "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c password_encryption=scram-sha-256" \
    start >/dev/null || die "PostgreSQL did not start; see $pg_dir/server.log"
psql_admin() { psql -X -q -h "$pg_dir" -p "$pg_port" -U postgres -d postgres "$@"; }
psql_admin <<SQL
ALTER ROLE postgres PASSWORD '$pg_password';
SQL
(umask 077; printf 'requirepass %s\n' "$redis_password" >"$INSTANCED_DEMO_DIR/redis.conf")
redis-server "$INSTANCED_DEMO_DIR/redis.conf" --port "$redis_port" --bind 127.0.0.1 \
    --dir "$INSTANCED_DEMO_DIR" --save '' --daemonize yes \
    --pidfile "$INSTANCED_DEMO_DIR/redis.pid" --logfile "$INSTANCED_DEMO_DIR/redis.log"
export REDISCLI_AUTH="$redis_password"

psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = 'trading_ecosystem'" | grep -q 1 ||
    psql_admin -c 'CREATE DATABASE trading_ecosystem'
for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done

say "PostgreSQL on 127.0.0.1:$pg_port, Redis on 127.0.0.1:$redis_port"
say "status at $status_url/ and $status_url/api/v1/health"
say "instancectl -s $INSTANCED_DEMO_DIR/control.sock status"

# The fleet, side by side: what instanced derived from each name (schema, namespace,
# port), the PostgreSQL role and Redis ACL user provisioning made for it (checked on
# the servers, "-" where there is none), and its state and health now.
print_fleet() {
    local json roles users
    json=$(http_get /api/v1/instances) || { say "the status endpoint did not answer"; return 1; }
    roles=$(psql_admin -tAc "SELECT rolname FROM pg_roles WHERE rolname LIKE 'inst\_%'" \
        2>/dev/null || true)
    users=$(redis-cli -p "$redis_port" ACL USERS 2>/dev/null || true)
    ROLES="$roles" ACL_USERS="$users" python3 -c '
import json, os, sys
doc = json.load(sys.stdin)
roles = set(os.environ["ROLES"].split())
users = set(os.environ["ACL_USERS"].split())
rows = [("INSTANCE", "SERVICE", "SCHEMA", "NAMESPACE", "ROLE / ACL USER", "PORT", "STATE",
         "HEALTH")]
per_service = {}
healthy = 0
for i in doc["instances"]:
    role = "inst_" + (i.get("schema") or "")
    shown = role if role in roles and role in users else \
        (role + " (no ACL user)" if role in roles else "-")
    rows.append((i["name"], i.get("service") or "-", i.get("schema") or "-",
                 i.get("namespace") or "-", shown, str(i.get("port") or "-"),
                 i.get("state") or "-", i.get("health") or "-"))
    per_service.setdefault(i.get("service"), []).append(i["name"])
    healthy += i.get("health") == "healthy"
widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
for r in rows:
    print("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
several = ["%s (%s)" % (s, ", ".join(n)) for s, n in per_service.items() if len(n) > 1]
print("%d of %d instances healthy; combined health %s" % (healthy, len(doc["instances"]),
                                                          doc.get("status")))
if several:
    print("several instances of one service: " + "; ".join(several))
' <<<"$json"
}

# Its own session: a Ctrl-C in the terminal reaches this script, not instanced, so
# instanced gets exactly one stop signal (from cleanup).
setsid "$instanced" -c "$conf" --foreground &
sup_pid=$!
echo "$sup_pid" >"$INSTANCED_DEMO_DIR/instanced.pid"

# Wait for the fleet: healthy, or the deadline. If instanced exits meanwhile (a port
# taken after the check, a broken setup), say so and fail instead of waiting on.
deadline=$(( $(date +%s) + ${DEMO_SECONDS:-60} ))
health=""
while [ "$(date +%s)" -lt "$deadline" ]; do
    if ! kill -0 "$sup_pid" 2>/dev/null; then
        wait "$sup_pid" && rc=0 || rc=$?
        sup_pid=""
        die "instanced exited with status $rc before the fleet was up (its log is above)"
    fi
    # "healthy" once every instance has answered its probe (not yet probed counts
    # as unknown, which the combined health does not hold against the fleet).
    health=$(http_get /api/v1/health 2>/dev/null | python3 -c 'import json, sys
d = json.load(sys.stdin)
everyone = d["summary"]["healthy"] == len(d["instances"])
print("healthy" if d["status"] == "healthy" and everyone else
      d["status"] + " (%d of %d healthy)" % (d["summary"]["healthy"], len(d["instances"])))' \
        2>/dev/null || true)
    [ "$health" = healthy ] && [ -z "${DEMO_SECONDS:-}" ] && break
    sleep 0.5
done
echo
print_fleet || true
echo
if [ -n "${DEMO_SECONDS:-}" ]; then
    "$instancectl" -s "$INSTANCED_DEMO_DIR/control.sock" status >/dev/null 2>&1 ||
        say "instancectl status: not every instance is healthy"
    [ "$health" = healthy ] || die "the fleet is not healthy after $DEMO_SECONDS s (health: ${health:-no answer})"
    exit 0
fi
[ "$health" = healthy ] || say "the fleet is not healthy yet (health: ${health:-no answer}); it keeps running"
say "the fleet runs; Ctrl-C stops it"
wait "$sup_pid" && rc=0 || rc=$?
sup_pid=""
die "instanced exited with status $rc"
