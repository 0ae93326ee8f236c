#!/bin/sh
# run.sh - `make bench`: the same workload under instanced and supervisord.
#
#   INSTANCED=build/src/instanced BENCH_CHILD=build/bench/bench-child sh bench/run.sh
#
# Environment: BENCH_QUICK=1 for a short smoke run (about 2 minutes instead of ~10),
# BENCH_ONLY=restart,startup,idle,probe,storm,bare_spawn to run some figures only,
# BENCH_KEEP=1 to keep the temp dirs (configs, logs), BENCH_OUT=DIR for the results
# (default: the current directory: bench-results.json and bench-results.md).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
: "${INSTANCED:?set INSTANCED to the instanced binary (make bench does)}"
: "${BENCH_CHILD:?set BENCH_CHILD to the bench-child binary (make bench does)}"
out=${BENCH_OUT:-$(pwd)}

sh "$here/install-deps.sh"

# 500 children with captured output need a few thousand descriptors, for either
# supervisor (supervisord raises its own limit to minfds; instanced gets the same).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

set -- --instanced "$INSTANCED" --child "$BENCH_CHILD" --srcdir "$here" \
    --json "$out/bench-results.json" --md "$out/bench-results.md"
[ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK}" != 0 ] && set -- "$@" --quick
[ -n "${BENCH_ONLY:-}" ] && set -- "$@" --only "$BENCH_ONLY"
[ -n "${BENCH_KEEP:-}" ] && set -- "$@" --keep
[ -n "${BENCH_SUPS:-}" ] && set -- "$@" --sups "$BENCH_SUPS"

echo "bench: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); results in $out/bench-results.{md,json}"
exec /usr/bin/python3 "$here/bench.py" "$@"
