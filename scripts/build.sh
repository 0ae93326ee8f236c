#!/bin/sh
# Configure and build instanced in ./build (out of tree). Extra arguments go to configure.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi
mkdir -p build
cd build
[ -f Makefile ] && [ "$#" -eq 0 ] || ../configure "$@"
make -j"$(nproc)"
