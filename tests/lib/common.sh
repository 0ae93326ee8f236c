# common.sh - helpers for the shell integration tests (sourced, POSIX sh + bash ok).
#
#   . "$srcdir/tests/lib/common.sh"
#   t_init NAME          # a private temp dir in $T, cleaned up on exit
#   port=$(free_port)    # a free TCP port on 127.0.0.1
#   wait_for 10 CMD...   # poll CMD until it succeeds, at most 10 s (no fixed sleeps)
#   ok COND_CMD... / is "$got" "$want" "what" / fail "why"
#   t_done               # exit 1 if any check failed, else 0

: "${srcdir:=.}"
: "${top_builddir:=$(pwd)}"
T_FAILS=0
T_CHECKS=0
T_CLEANUP=""

t_init() {
    T_NAME=$1
    T=$(mktemp -d "/tmp/instanced-$1-XXXXXX")
    chmod 755 "$T"
    trap 't_cleanup' EXIT
    trap 'exit 130' INT TERM
    echo "# $T_NAME: workdir $T"
}

# Register a shell command to run at exit (last registered runs first).
at_exit() { T_CLEANUP="$1; $T_CLEANUP"; }

t_cleanup() {
    rc=$?
    eval "$T_CLEANUP" >/dev/null 2>&1 || true
    if [ "$T_FAILS" -eq 0 ] && [ "$rc" -eq 0 ] && [ -z "${KEEP:-}" ]; then
        rm -rf "$T"
    else
        echo "# kept $T for inspection"
    fi
    exit "$rc"
}

# free_port: a TCP port free on 127.0.0.1 now. It comes from below the kernel's
# ephemeral range: a port 0 bind would hand out an ephemeral port, which tests running
# in parallel and outgoing connections keep taking, so it could be gone by the time a
# server binds it. Ports handed out in this test are remembered in $T and not reused.
free_port() {
    python3 - "${T:-}" <<'PY'
import os, random, socket, sys
used_file = os.path.join(sys.argv[1], ".ports-used") if sys.argv[1] else None
used = set()
if used_file and os.path.exists(used_file):
    used = {int(x) for x in open(used_file).read().split()}
lo = 20000
with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
    hi = min(int(f.read().split()[0]), 65535)
if hi - lo < 1000:
    lo, hi = 1024, hi
for _ in range(1000):
    port = random.randrange(lo, hi)
    if port in used:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    if used_file:
        with open(used_file, "a") as f:
            f.write("%d\n" % port)
    print(port)
    sys.exit(0)
sys.exit("no free port found")
PY
}

# sanitized BINARY: BINARY is built with AddressSanitizer (ci-builds.sh's sanitizers
# build), which runs everything several times slower.
sanitized() { ldd "$1" 2>/dev/null | grep -q libasan; }

# wait_for SECONDS CMD... : run CMD every 50 ms until it succeeds or time runs out.
wait_for() {
    _limit=$1
    shift
    _end=$(( $(date +%s%N) / 1000000 + _limit * 1000 ))
    while :; do
        if "$@" >/dev/null 2>&1; then return 0; fi
        [ "$(( $(date +%s%N) / 1000000 ))" -ge "$_end" ] && return 1
        sleep 0.05
    done
}

pass() { T_CHECKS=$((T_CHECKS + 1)); echo "ok $T_CHECKS - $*"; }
fail() { T_CHECKS=$((T_CHECKS + 1)); T_FAILS=$((T_FAILS + 1)); echo "not ok $T_CHECKS - $*"; }

# ok "what" CMD... : a check that CMD succeeds.
ok() {
    _what=$1
    shift
    if "$@"; then pass "$_what"; else fail "$_what"; fi
}

# is GOT WANT "what"
is() {
    if [ "$1" = "$2" ]; then pass "$3"; else fail "$3: got '$1', want '$2'"; fi
}

t_done() {
    echo "# $T_NAME: $T_CHECKS checks, $T_FAILS failed"
    [ "$T_CHECKS" -gt 0 ] || { echo "# no checks ran"; exit 1; }
    [ "$T_FAILS" -eq 0 ]
}
