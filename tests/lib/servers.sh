# servers.sh - start a throwaway PostgreSQL 15 and Redis 7 on free loopback ports.
#
#   . "$srcdir/tests/lib/common.sh"; . "$srcdir/tests/lib/servers.sh"
#   t_init mytest
#   pg_start            # sets PGPORT PGHOST(socket dir) PG_URL (postgres superuser
#                       # with its password, database trading_ecosystem), PG_ADMIN_PASSWORD,
#                       # PG_DATA, PG_LOG; TCP logins use SCRAM, the socket trusts
#   redis_start         # sets REDIS_PORT REDIS_URL REDIS_CLI
#   pg_stop / pg_restart / redis_stop / redis_restart
#   psql_admin -c 'SQL' # psql as the superuser on the test database
#
# Both servers run as plain processes inside $T and are stopped at exit. PostgreSQL
# refuses to run as root, so as root it runs as the "postgres" user (created by the
# Debian package) in a directory that user owns.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

_as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
    PG_DIR="$T/pg"
    PG_DATA="$PG_DIR/data"
    PG_LOG="$PG_DIR/server.log"
    mkdir -p "$PG_DIR"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$PG_DIR"
    PGPORT=$(free_port)
    PGHOST="$PG_DIR"
    # TCP connections authenticate with SCRAM, as in production: a role's password is
    # then really its key, and one instance's credentials cannot log in as another's.
    # The Unix socket (psql_admin) trusts, for the tests' own administration.
    PG_ADMIN_PASSWORD="admin-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
    printf '%s\n' "$PG_ADMIN_PASSWORD" >"$PG_DIR/pwfile"
    chmod 0644 "$PG_DIR/pwfile"
    _as_pg "$PG_BIN/initdb" -D "$PG_DATA" --auth-local=trust --auth-host=scram-sha-256 \
        --pwfile="$PG_DIR/pwfile" -U postgres -E UTF8 --no-sync >/dev/null ||
        { echo "initdb failed" >&2; return 1; }
    rm -f "$PG_DIR/pwfile"
    # Statement logging lets tests prove that no password reaches the server log.
    _as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 30 -o \
        "-p $PGPORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c log_statement=all -c password_encryption=scram-sha-256" \
        start >/dev/null || { cat "$PG_LOG" >&2; return 1; }
    at_exit "pg_stop"
    export PGPORT PGHOST PG_DATA PG_LOG
    PG_URL="postgresql://postgres:$PG_ADMIN_PASSWORD@127.0.0.1:$PGPORT/trading_ecosystem"
    export PG_URL PG_ADMIN_PASSWORD
    psql -X -h "$PG_DIR" -p "$PGPORT" -U postgres -d postgres -qc \
        'CREATE DATABASE trading_ecosystem' >/dev/null
}

pg_stop() {
    [ -n "${PG_DATA:-}" ] && _as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1
    return 0
}

pg_restart() {
    _as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 30 -o \
        "-p $PGPORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c log_statement=all -c password_encryption=scram-sha-256" \
        start >/dev/null
}

psql_admin() {
    psql -X -q -v ON_ERROR_STOP=1 -h "$PGHOST" -p "$PGPORT" -U postgres -d trading_ecosystem "$@"
}

redis_start() {
    REDIS_DIR="$T/redis"
    mkdir -p "$REDIS_DIR"
    REDIS_PORT=$(free_port)
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" \
        --save '' --appendonly no --daemonize yes --pidfile "$REDIS_DIR/redis.pid" \
        --logfile "$REDIS_DIR/redis.log" || return 1
    REDIS_CLI="redis-cli -h 127.0.0.1 -p $REDIS_PORT"
    wait_for 10 $REDIS_CLI ping || { cat "$REDIS_DIR/redis.log" >&2; return 1; }
    at_exit "redis_stop"
    REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
    export REDIS_PORT REDIS_URL REDIS_CLI
}

# redis_key_is KEY WANT WHAT: EXISTS KEY (through $REDIS_CLI, as the test has it) becomes
# WANT within 5 s. The workers send their cache writes to Redis without waiting for
# them before they answer, so redis-cli, on a connection of its own, may look before
# they landed.
redis_key_is() {
    _rk_is() { [ "$($REDIS_CLI exists "$1")" = "$2" ]; }
    if wait_for 5 _rk_is "$1" "$2"; then pass "$3"
    else fail "$3: got '$($REDIS_CLI exists "$1")', want '$2'"; fi
}

redis_stop() {
    [ -f "${REDIS_DIR:-/nonexistent}/redis.pid" ] || return 0
    kill "$(cat "$REDIS_DIR/redis.pid")" 2>/dev/null
    wait_for 10 sh -c "! kill -0 $(cat "$REDIS_DIR/redis.pid") 2>/dev/null"
    rm -f "$REDIS_DIR/redis.pid"
}

redis_restart() {
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" \
        --save '' --appendonly no --daemonize yes --pidfile "$REDIS_DIR/redis.pid" \
        --logfile "$REDIS_DIR/redis.log" && wait_for 10 $REDIS_CLI ping
}
