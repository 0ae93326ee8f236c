#!/bin/bash
# The main job: the demo fleet. Installs what is missing, builds, starts a private
# PostgreSQL and Redis on free loopback ports under ./demo-run, provisions them when
# instancectl can, and runs the demo's instances under instanced in the
# foreground (Ctrl-C stops the fleet and the servers). The status endpoint is at
# http://127.0.0.1:7070/api/v1/health (INSTANCED_DEMO_STATUS_PORT to change it).
#
#   DEMO_SECONDS=N  run the fleet for N seconds, print its status, then stop.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
"$top/scripts/build.sh"

export INSTANCED_DEMO_DIR="$top/demo-run"
PG_BIN=/usr/lib/postgresql/15/bin
mkdir -p "$INSTANCED_DEMO_DIR"
chmod 755 "$INSTANCED_DEMO_DIR"
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
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

# PostgreSQL refuses to run as root: as root it runs as the postgres user, which must
# be able to reach its directory. A clone where it cannot (under /root, or any 0700
# directory) keeps its demo database in /var/tmp instead, one per clone.
pg_dir="$INSTANCED_DEMO_DIR/pg"
if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$INSTANCED_DEMO_DIR"; then
    pg_dir="/var/tmp/instanced-demo-$(printf '%s' "$top" | md5sum | cut -c1-12)/pg"
    mkdir -p "${pg_dir%/pg}"
    chmod 755 "${pg_dir%/pg}"
fi
mkdir -p "$pg_dir"
[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$pg_dir"
if [ ! -f "$pg_dir/data/PG_VERSION" ]; then
    as_pg "$PG_BIN/initdb" -D "$pg_dir/data" -A trust -U postgres -E UTF8 >/dev/null
fi
# The Unix socket (this script's administration) trusts; TCP asks for a password.
printf '%s\n' 'local all all trust' 'host all all 127.0.0.1/32 scram-sha-256' \
    'host all all ::1/128 scram-sha-256' >"$pg_dir/data/pg_hba.conf"
[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$pg_dir/data/pg_hba.conf"
pg_port=$(free_port)
as_pg "$PG_BIN/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -o \
    "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c password_encryption=scram-sha-256" \
    start >/dev/null
psql -X -q -h "$pg_dir" -p "$pg_port" -U postgres -d postgres <<SQL
ALTER ROLE postgres PASSWORD '$pg_password';
SQL
redis_port=$(free_port)
(umask 077; printf 'requirepass %s\n' "$redis_password" >"$INSTANCED_DEMO_DIR/redis.conf")
redis-server "$INSTANCED_DEMO_DIR/redis.conf" --port "$redis_port" --bind 127.0.0.1 \
    --dir "$INSTANCED_DEMO_DIR" --save '' --daemonize yes \
    --pidfile "$INSTANCED_DEMO_DIR/redis.pid" --logfile "$INSTANCED_DEMO_DIR/redis.log"
export REDISCLI_AUTH="$redis_password"

cleanup() {
    [ -n "${sup_pid:-}" ] && kill -TERM "$sup_pid" 2>/dev/null && wait "$sup_pid" 2>/dev/null
    as_pg "$PG_BIN/pg_ctl" -D "$pg_dir/data" -m fast -w stop >/dev/null 2>&1 || true
    [ -f "$INSTANCED_DEMO_DIR/redis.pid" ] && kill "$(cat "$INSTANCED_DEMO_DIR/redis.pid")" 2>/dev/null
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

psql -X -q -h "$pg_dir" -p "$pg_port" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'trading_ecosystem'" | grep -q 1 ||
    psql -X -q -h "$pg_dir" -p "$pg_port" -U postgres -d postgres -c \
        'CREATE DATABASE trading_ecosystem'
for i in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done

export INSTANCED_DEMO_PG_URL="postgresql://postgres:$pg_password@127.0.0.1:$pg_port/trading_ecosystem"
export INSTANCED_DEMO_REDIS_URL="redis://:$redis_password@127.0.0.1:$redis_port/0"
export INSTANCED_DEMO_PROVISION="${INSTANCED_DEMO_PROVISION:-true}"
export INSTANCED_DEMO_STATUS_PORT="${INSTANCED_DEMO_STATUS_PORT:-7070}"
conf="$top/etc/demo.conf"

"$top/build/src/instanced" --check-config -c "$conf"
echo "demo: PostgreSQL on 127.0.0.1:$pg_port, Redis on 127.0.0.1:$redis_port"
echo "demo: status at http://127.0.0.1:$INSTANCED_DEMO_STATUS_PORT/api/v1/health"
echo "demo: instancectl -s $INSTANCED_DEMO_DIR/control.sock status"

"$top/build/src/instanced" -c "$conf" --foreground &
sup_pid=$!
if [ -n "${DEMO_SECONDS:-}" ]; then
    sleep "$DEMO_SECONDS"
    curl -s "http://127.0.0.1:$INSTANCED_DEMO_STATUS_PORT/api/v1/health" || true
    echo
    "$top/build/src/instancectl" -s "$INSTANCED_DEMO_DIR/control.sock" status || true
    exit 0
fi
wait "$sup_pid"
