#!/bin/sh
# install-deps.sh - install what `make bench` needs from Debian when it is missing:
# supervisor (the peer we compare against), wrk (HTTP load) and python3 (the harness).
# The supervisor package starts supervisord as a system service on installation; we
# forbid that with a temporary policy-rc.d and, should it run anyway, stop it: the
# benchmark runs its own supervisord with its own configuration in a temp dir.
set -eu

need=""
command -v supervisord >/dev/null 2>&1 || need="$need supervisor"
command -v wrk >/dev/null 2>&1 || need="$need wrk"
[ -x /usr/bin/python3 ] || need="$need python3"
[ -z "$need" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "bench: missing Debian packages:$need (run as root, or install them)" >&2
    exit 1
fi

echo "bench: installing$need"
policy=/usr/sbin/policy-rc.d
made_policy=""
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    made_policy=1
fi
cleanup() { [ -n "$made_policy" ] && rm -f "$policy"; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
if ! apt-get install -y -q --no-install-recommends $need >/dev/null; then
    apt-get update -q >/dev/null
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $need >/dev/null
fi

# Should the service have come up anyway (no policy-rc.d honoured, systemd running),
# stop it and keep it from starting at boot: it is not ours to leave running.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now supervisor.service >/dev/null 2>&1 || true
fi
if [ -x /etc/init.d/supervisor ]; then
    /etc/init.d/supervisor stop >/dev/null 2>&1 || true
fi
