#!/bin/sh
# The main job: build instanced and check the example inventory of the seed's seven
# instances.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/deps.sh"
"$top/scripts/build.sh"
exec "$top/build/src/instanced" --check-config -c "$top/etc/instanced.conf"
