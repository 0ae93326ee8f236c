#!/bin/sh
# install-deps.sh - install what `make bench` needs from Debian when it is missing:
# the peers we compare against (supervisor, runit, s6), wrk (HTTP load), nginx (the
# static-file ceiling for the status endpoint), gnuplot-nox (the plots) and python3
# (the harness). Some of these packages start a system service on installation; we
# forbid that with a temporary policy-rc.d and, should one run anyway, stop it: the
# benchmark runs its own supervisors and nginx with their own configuration in a temp
# dir.
#
# BENCH_SYSROOT (default empty, for tests/it_bench_deps.sh) is prepended to the
# system paths this script writes or runs: usr/sbin/policy-rc.d, etc/init.d and
# run/systemd.
set -eu

root=${BENCH_SYSROOT:-}
need=""
command -v supervisord >/dev/null 2>&1 || need="$need supervisor"
command -v runsvdir >/dev/null 2>&1 || need="$need runit"
command -v s6-svscan >/dev/null 2>&1 || need="$need s6"
command -v wrk >/dev/null 2>&1 || need="$need wrk"
command -v nginx >/dev/null 2>&1 || [ -x "$root/usr/sbin/nginx" ] || need="$need nginx"
command -v gnuplot >/dev/null 2>&1 || need="$need gnuplot-nox"
[ -x /usr/bin/python3 ] || need="$need python3"
[ -z "$need" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "bench: missing Debian packages:$need (run as root, or install them)" >&2
    exit 1
fi

echo "bench: installing$need"
policy=$root/usr/sbin/policy-rc.d
made_policy=""
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    made_policy=1
fi
# An `if`, not `[ -n "$made_policy" ] && rm`: that list's status (1 when a
# policy-rc.d was there already) would become the script's exit status.
cleanup() {
    if [ -n "$made_policy" ]; then
        rm -f "$policy"
    fi
}
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
if ! apt-get install -y -q --no-install-recommends $need >/dev/null; then
    apt-get update -q >/dev/null
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $need >/dev/null
fi

# Should a service have come up anyway (no policy-rc.d honoured, systemd running),
# stop it and keep it from starting at boot: it is not ours to leave running.
for unit in supervisor runit nginx; do
    case " $need " in *" $unit "*) ;; *) continue ;; esac
    if command -v systemctl >/dev/null 2>&1 && [ -d "$root/run/systemd/system" ]; then
        systemctl disable --now "$unit.service" >/dev/null 2>&1 || true
    fi
    if [ -x "$root/etc/init.d/$unit" ]; then
        "$root/etc/init.d/$unit" stop >/dev/null 2>&1 || true
    fi
done
exit 0
