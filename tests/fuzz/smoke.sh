#!/bin/sh
# smoke.sh - run each libFuzzer target for FUZZ_SECONDS over a scratch copy of its seed
# corpus and print one line per target: executions, coverage, result.
#
# Usage: smoke.sh CORPUS_DIR TARGET... (make fuzz-smoke passes them). A crash, a leak,
# a timeout of one input (FUZZ_TIMEOUT seconds, default 10), an out-of-memory or any
# sanitizer report fails the target; its log and reproducer are kept in
# fuzz-artifacts/TARGET/ of the current directory. The source tree is never written.
set -u
corpus_dir=$1
shift
secs=${FUZZ_SECONDS:-60}
unit_timeout=${FUZZ_TIMEOUT:-10}
# LeakSanitizer is on by default with ASan on x86-64 Linux; say so anyway, and make
# UBSan's reports fatal with a stack.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS UBSAN_OPTIONS

failed=0
printf '%-16s %12s %8s %8s  %s\n' target execs cov ft result
for prog in "$@"; do
    name=$(basename "$prog")
    seeds=$corpus_dir/$name
    out=fuzz-artifacts/$name
    rm -rf "$out"
    mkdir -p "$out/corpus"
    if [ ! -d "$seeds" ] || [ -z "$(ls -A "$seeds")" ]; then
        echo "smoke.sh: $name: no seed corpus in $seeds" >&2
        failed=1
        continue
    fi
    cp -R "$seeds"/. "$out/corpus/"
    chmod -R u+w "$out/corpus"   # distcheck's source tree is read-only
    # The outer timeout only guards against a hung libFuzzer itself.
    timeout --kill-after=10 $((secs + 120)) "$prog" -max_total_time="$secs" \
        -timeout="$unit_timeout" -rss_limit_mb=2048 -print_final_stats=1 \
        -detect_leaks=1 -artifact_prefix="$out/" "$out/corpus" >"$out/log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log" | tail -n 1)
    cov=$(grep -o ' cov: [0-9]*' "$out/log" | tail -n 1 | tr -dc 0-9)
    ft=$(grep -o ' ft: [0-9]*' "$out/log" | tail -n 1 | tr -dc 0-9)
    if [ "$rc" -eq 0 ] && ! grep -q 'ERROR: \(AddressSanitizer\|LeakSanitizer\|libFuzzer\)\|runtime error:' "$out/log"; then
        result=ok
        rm -rf "$out/corpus"
    else
        reason=$(grep -o 'ERROR: [A-Za-z]*: [a-z-]*\|ALARM: working on the last Unit\|runtime error:.*\|out-of-memory' "$out/log" | head -n 1)
        result="FAIL (exit $rc${reason:+: $reason}; log and reproducer in $out/)"
        failed=1
    fi
    printf '%-16s %12s %8s %8s  %s\n' "$name" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$result"
    if [ "$result" != ok ]; then
        tail -n 40 "$out/log" | sed "s/^/    $name: /" >&2
    fi
done
exit "$failed"
