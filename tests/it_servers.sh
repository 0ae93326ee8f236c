#!/bin/sh
# The test servers themselves start, answer and stop (so other tests can trust them).
. "$srcdir/tests/lib/common.sh"
. "$srcdir/tests/lib/servers.sh"
t_init servers
pg_start || { fail "postgres starts"; t_done; }
redis_start || { fail "redis starts"; t_done; }
is "$(psql_admin -tAc 'SELECT 1')" "1" "postgres answers on port $PGPORT"
is "$(psql_admin -tAc 'SHOW server_version_num' | cut -c1-2)" "15" "postgres is version 15"
is "$($REDIS_CLI ping)" "PONG" "redis answers on port $REDIS_PORT"
is "$($REDIS_CLI info server | grep -o 'redis_version:7' )" "redis_version:7" "redis is version 7"
t_done
