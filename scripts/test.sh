#!/bin/sh
# The whole test suite, from a fresh clone of a Debian 12 machine: install what is
# missing, build, run `make check` (unit and integration tests against real servers),
# then `make distcheck`, then the extra builds of scripts/ci-builds.sh: warnings as
# errors, `make check` under ASan/LSan/UBSan, and `make fuzz-smoke` with clang.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh" --packaging
"$top/scripts/build.sh"
cd "$top/build"
status=0
make -j"$(nproc)" check || status=$?
if [ "$status" -ne 0 ]; then
    find . -name '*.log' -path '*tests*' -newer Makefile -exec sh -c \
        'grep -q "^FAIL\|^ERROR" "$1" 2>/dev/null && { echo "==== $1"; cat "$1"; }' _ {} \;
    exit "$status"
fi
# Everything a test could need was installed above, so a skipped test here means a
# missing dependency or a broken probe for one: fail rather than pass with less tested.
skipped=$(sed -n 's/^# SKIP: *//p' test-suite.log)
if [ "${skipped:-0}" -ne 0 ]; then
    grep -l ':test-result: SKIP' $(find . -name '*.trs') | sed 's/^/test.sh: skipped: /' >&2
    echo "test.sh: $skipped test(s) skipped although deps.sh installed everything" >&2
    exit 1
fi
# distcheck builds the tarball, checks it in a read-only VPATH build; the test suite
# has already run above, so do not run it twice.
make distcheck DISTCHECK_CONFIGURE_FLAGS= TESTS=
"$top/scripts/ci-builds.sh" werror sanitizers fuzz
echo "test.sh: all tests passed"
