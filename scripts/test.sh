#!/bin/sh
# The whole test suite, from a fresh clone of a Debian 12 machine: install what is
# missing, build, run `make check` (unit and integration tests against real servers),
# then `make distcheck`.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
"$top/scripts/build.sh"
cd "$top/build"
status=0
make -j"$(nproc)" check || status=$?
if [ "$status" -ne 0 ]; then
    find . -name '*.log' -path '*tests*' -newer Makefile -exec sh -c \
        'grep -q "^FAIL\|^ERROR" "$1" 2>/dev/null && { echo "==== $1"; cat "$1"; }' _ {} \;
    exit "$status"
fi
# distcheck builds the tarball, checks it in a read-only VPATH build; the test suite
# has already run above, so do not run it twice.
make distcheck DISTCHECK_CONFIGURE_FLAGS= TESTS=
echo "test.sh: all tests passed"
