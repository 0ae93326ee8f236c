#!/bin/sh
# Install the Debian 12 packages instanced needs to build, test and run its demo.
# Idempotent: installs only what is missing (deps.sh --packaging: and the Debian
# packaging tools). Needs root (or sudo) when something is.
set -eu

PACKAGES="build-essential autoconf automake pkg-config
libevent-dev libcurl4-openssl-dev libhiredis-dev libpq-dev libconfuse-dev
libjansson-dev libcunit1-dev libsystemd-dev zlib1g-dev
postgresql redis-server prometheus curl procps python3 systemd nginx chromium
binutils clang libclang-rt-14-dev jq etcd-server etcd-client"
# --packaging: also what building and checking the Debian packages needs (the test
# suite's tests/it_debian_package.sh); left out of the demo's install, it is large.
if [ "${1:-}" = "--packaging" ]; then
    PACKAGES="$PACKAGES dpkg-dev debhelper lintian"
fi

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "deps.sh: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# Debian's postinst would start the system's own PostgreSQL and Redis where systemd
# runs; instanced's tests and demo start their own servers on free ports instead.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
