#!/bin/sh
# inventory_scale.sh - time `instanced --check-config` on generated inventories of
# 10k, 20k and 100k instances (validation must stay near-linear in their number).
#
#   INSTANCED=build/src/instanced sh bench/inventory_scale.sh [COUNT...]
#
# Each inventory has 100 services (half with a namespace_prefix), instances spread
# over them with a port, an explicit schema, an env list and a depends_on on the
# previous instance of their service (a port for the first 60,000 only, as there are
# no more), so that every cross-check (names, schemas,
# ports, namespaces, dependencies, cycles) has work to do. Prints one line per size:
# "instances=N seconds=S cpu_seconds=C exit=RC" (wall-clock, then user + system CPU
# time). BENCH_TIMEOUT (default 120) bounds one run. Needs /usr/bin/time.
set -eu

: "${INSTANCED:?set INSTANCED to the instanced binary (make bench does)}"
timeout_s=${BENCH_TIMEOUT:-120}
[ $# -gt 0 ] || set -- 10000 20000 100000
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

gen() {
    awk -v n="$1" 'BEGIN {
        nsvc = 100
        print "volumes_root = \"/tmp/instanced-bench/volumes\""
        print "status_listen = \"127.0.0.1:1\""
        for (s = 0; s < nsvc; s++) {
            printf "service \"svc%d\" {\n    command = \"/bin/sleep\"\n", s
            printf "    args = {\"3600\"}\n    instance_prefix = \"svc%d\"\n", s
            if (s % 2) printf "    namespace_prefix = \"ns%d\"\n", s
            printf "    health_path = \"/health\"\n}\n"
        }
        for (i = 0; i < n; i++) {
            s = i % nsvc
            printf "instance \"svc%d-i%d\" {\n    service = \"svc%d\"\n", s, i, s
            if (i < 60000) printf "    port = %d\n", 2000 + i
            printf "    schema = \"s_%d\"\n", i
            printf "    env = {\"K%d=v\", \"LOG_LEVEL=info\"}\n", i
            if (i >= nsvc) printf "    depends_on = {\"svc%d-i%d\"}\n", s, i - nsvc
            printf "}\n"
        }
    }'
}

for n in "$@"; do
    f="$tmp/inv-$n.conf"
    gen "$n" >"$f"
    start=$(date +%s.%N)
    rc=0
    # CPU time as well as wall-clock time: on a busy machine the first says more.
    /usr/bin/time -f "%U %S" -o "$tmp/cpu" \
        timeout "$timeout_s" "$INSTANCED" --check-config -c "$f" >/dev/null 2>&1 || rc=$?
    end=$(date +%s.%N)
    awk -v n="$n" -v a="$start" -v b="$end" -v rc="$rc" -v t="$timeout_s" \
        -v cpu="$(tail -n 1 "$tmp/cpu")" \
        'BEGIN { split(cpu, c, " ");
                 printf "instances=%d seconds=%.2f cpu_seconds=%.2f exit=%d%s\n", n, b - a,
                        c[1] + c[2], rc, rc == 124 ? " (timed out after " t " s)" : "" }'
done
