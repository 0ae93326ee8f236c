#!/bin/sh
# The extra CI builds, each in its own build directory next to ./build:
#   sanitizers  build-sanitizers: --enable-sanitizers (ASan with LeakSanitizer, UBSan),
#               the whole `make check`; any sanitizer report fails it, even one from a
#               process whose exit status no test looks at (a leak at a worker's or
#               the supervisor's shutdown): reports go to files, which must not exist
#   werror      build-werror: --enable-werror, everything built (programs and test
#               programs), no tests; every warning is listed before it fails
#   fuzz        build-fuzz: clang, --enable-fuzzing, `make fuzz-smoke` (FUZZ_SECONDS
#               per target, default 60)
# Usage: ci-builds.sh [STEP...] (default: all three). Prints the time of each step.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)
[ "$#" -gt 0 ] || set -- werror sanitizers fuzz
cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi

# fresh DIR CONFIGURE-ARGS...: an empty build directory, configured.
fresh() {
    d=$top/$1
    shift
    rm -rf "$d"
    mkdir -p "$d"
    cd "$d"
    ../configure "$@" >configure.log 2>&1 || { cat configure.log; exit 1; }
}

step_sanitizers() {
    fresh build-sanitizers --enable-sanitizers
    make -j"$jobs" >make.log 2>&1 || { cat make.log; return 1; }
    reports=$PWD/sanitizer-reports
    mkdir -p "$reports"
    # LeakSanitizer is part of ASan on x86-64 Linux; detect_leaks=1 says so explicitly.
    # Suppressions for third-party libraries, one commented entry each, live in
    # tests/lsan.supp.
    ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:log_path=$reports/asan"
    LSAN_OPTIONS="suppressions=$top/tests/lsan.supp:print_suppressions=0"
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan"
    export ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS
    status=0
    make -j"$jobs" check || status=$?
    if [ "$status" -ne 0 ]; then
        find . -name '*.log' -path '*tests*' -newer Makefile -exec sh -c \
            'grep -q "^FAIL\|^ERROR" "$1" 2>/dev/null && { echo "==== $1"; cat "$1"; }' _ {} \;
    fi
    # As in test.sh: deps.sh installed everything, so a skipped test is a failure.
    skipped=$(sed -n 's/^# SKIP: *//p' test-suite.log 2>/dev/null)
    if [ "${skipped:-0}" -ne 0 ]; then
        echo "ci-builds.sh: sanitizers: $skipped test(s) skipped" >&2
        status=1
    fi
    if [ -n "$(ls -A "$reports")" ]; then
        for f in "$reports"/*; do echo "==== $f"; cat "$f"; done
        echo "ci-builds.sh: sanitizers: $(ls "$reports" | wc -l) sanitizer report(s)" >&2
        status=1
    fi
    unset ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS
    return "$status"
}

step_werror() {
    fresh build-werror --enable-werror
    # -k: list every warning of the build at once, not only the first file's.
    # check-programs rather than `check TESTS=`, which would give up with the library.
    # Two runs, not `make all check-programs`: automake's `all` recurses into a second
    # make, which would build the same archives as the first one at the same time.
    if ! { make -k -j"$jobs" all && make -k -j"$jobs" check-programs; } >make.log 2>&1; then
        grep 'error:' make.log | sort -u >&2
        echo "ci-builds.sh: werror: the build has warnings (above)" >&2
        return 1
    fi
}

step_fuzz() {
    command -v clang >/dev/null || { echo "ci-builds.sh: fuzz: clang is missing (deps.sh)" >&2; return 1; }
    fresh build-fuzz --enable-fuzzing CC=clang
    make -j"$jobs" fuzz >make.log 2>&1 || { cat make.log; return 1; }
    make fuzz-smoke FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
}

failed=""
for step in "$@"; do
    t0=$(date +%s)
    echo "ci-builds.sh: $step: start" >&2
    rc=0
    ( "step_$step" ) || rc=$?
    echo "ci-builds.sh: $step: $( [ "$rc" -eq 0 ] && echo passed || echo FAILED) in $(( $(date +%s) - t0 )) s" >&2
    [ "$rc" -eq 0 ] || failed="$failed $step"
done
[ -z "$failed" ] || { echo "ci-builds.sh: failed:$failed" >&2; exit 1; }
