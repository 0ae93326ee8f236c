#!/bin/sh
# The inventories in etc/examples/ (Redis, nginx, a Python web app, PostgreSQL as the
# postgres user) are valid, and --check-config prints each instance's probe kind.
. "$srcdir/tests/lib/common.sh"
t_init probe-examples

INSTANCED="$top_builddir/src/instanced"
kinds() { jq -r '[.[] | "\(.instance)=\(.health_check)"] | join(" ")' "$1"; }

for ex in redis nginx python-http postgresql; do
    f="$srcdir/etc/examples/$ex.conf"
    if "$INSTANCED" --check-config --json -c "$f" >"$T/$ex.json" 2>"$T/$ex.err"; then
        pass "etc/examples/$ex.conf is valid"
    else
        fail "etc/examples/$ex.conf is valid: $(cat "$T/$ex.err")"
    fi
done
is "$(kinds "$T/redis.json")" "redis-cache=exec redis-queue=tcp" "redis: exec and tcp probes"
is "$(kinds "$T/nginx.json")" "nginx-front=http nginx-admin=http" "nginx: http probes"
is "$(kinds "$T/python-http.json")" "web-A=http web-B=http" "python web app: http probes"
is "$(kinds "$T/postgresql.json")" "postgres-main=exec" "postgresql: an exec probe (pg_isready)"
"$INSTANCED" --check-config -c "$srcdir/etc/examples/redis.conf" >"$T/redis.txt" 2>/dev/null
ok "the table has a health_check column" grep -q '^instance .* health_check$' "$T/redis.txt"
t_done
