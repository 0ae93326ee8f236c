#!/bin/sh
# run.sh - `make bench`: the same workload under instanced, supervisord, runit and s6.
#
#   INSTANCED=build/src/instanced BENCH_CHILD=build/bench/bench-child sh bench/run.sh
#
# Environment: BENCH_QUICK=1 for a short smoke run (a few minutes instead of ~20),
# BENCH_ONLY=bare_spawn,bare_restart,restart,restart_default,startup,idle,probe,storm,status,scale
# to run some figures only, BENCH_SUPS=supervisord,runit,s6,instanced,
# BENCH_REPEATS=N start-up runs per supervisor (default 3; 1 on a busy machine),
# BENCH_SCALE_SIZES=500,5000 for the sizes of the scale step, BENCH_KEEP=1 to keep the temp dirs (configs, logs), BENCH_OUT=DIR for the results
# (default: the current directory: bench-results.json, bench-results.md and the
# plots in bench-plots/).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
: "${INSTANCED:?set INSTANCED to the instanced binary (make bench does)}"
: "${BENCH_CHILD:?set BENCH_CHILD to the bench-child binary (make bench does)}"
out=${BENCH_OUT:-$(pwd)}

sh "$here/install-deps.sh"

# 5,000 children with captured output need many descriptors, for every supervisor:
# the soft limit goes up to the hard one (supervisord asks for minfds itself; the
# others inherit this one). A step that still runs out is reported, not fatal.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

set -- --instanced "$INSTANCED" --child "$BENCH_CHILD" --srcdir "$here" \
    --json "$out/bench-results.json" --md "$out/bench-results.md" --plots "$out/bench-plots"
[ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK}" != 0 ] && set -- "$@" --quick
[ -n "${BENCH_ONLY:-}" ] && set -- "$@" --only "$BENCH_ONLY"
[ -n "${BENCH_KEEP:-}" ] && set -- "$@" --keep
[ -n "${BENCH_SUPS:-}" ] && set -- "$@" --sups "$BENCH_SUPS"
[ -n "${BENCH_REPEATS:-}" ] && set -- "$@" --startup-repeats "$BENCH_REPEATS"
[ -n "${BENCH_SCALE_SIZES:-}" ] && set -- "$@" --scale-sizes "$BENCH_SCALE_SIZES"

echo "bench: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); ulimit -n $(ulimit -n); results in $out/bench-results.{md,json}"
exec /usr/bin/python3 "$here/bench.py" "$@"
