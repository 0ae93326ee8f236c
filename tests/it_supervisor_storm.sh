#!/bin/sh
# Kill storm: 20 instances, a random worker SIGKILLed 20 times a second for 10 s. No
# zombie at any sample, every instance running at the end, the supervisor's
# descriptor count unchanged.
. "$srcdir/tests/lib/common.sh"
t_init sup-storm
. "$srcdir/tests/it_supervisor_lib.sh"

N=20
{
    sup_globals
    sup_service tw 'restart_delay = 10ms' 'restart_delay_max = 200ms' \
        'start_limit_burst = 100000' 'ready_after = 50ms'
    i=1
    while [ $i -le $N ]; do
        printf 'instance "tw-s%02d" { service = "tw" }\n' $i
        i=$((i + 1))
    done
} >"$T/inv.conf"
sup_start "$T/inv.conf" || fail "instanced starts"

all_running() {
    i=1
    while [ $i -le $N ]; do
        running "$(printf 'tw-s%02d' $i)" || return 1
        i=$((i + 1))
    done
}
ok "all $N instances run" wait_for 10 all_running
fds0=$(nfds "$SUP_PID")
echo "# supervisor descriptors before: $fds0"

# The storm itself, in Python for an honest 20 kills per second: before each kill it
# samples the supervisor's children for zombies. A zombie is a failure when it is
# still there a second after it was first seen (20 samples): a reaping bug (one waitpid
# per SIGCHLD) leaves zombies behind for good, while a loaded machine, or a sanitizer
# build whose every fork is slow, may well keep one for a sample or two.
python3 - "$SUP_PID" >"$T/storm.out" <<'PYEOF'
import os, random, signal, sys, time
sup = int(sys.argv[1])
def children():
    try:
        with open(f"/proc/{sup}/task/{sup}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []
def state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None
kills = samples = zombies = transient = 0
first, lingering = {}, set()
end = time.monotonic() + 10
nxt = time.monotonic()
while time.monotonic() < end:
    kids = children()
    samples += 1
    z = set(p for p in kids if state(p) == "Z")
    now = time.monotonic()
    for p in z - set(first):
        first[p] = now
        transient += 1
    for p in list(first):
        if p not in z:
            del first[p]
        elif now - first[p] >= 1.0 and p not in lingering:
            lingering.add(p)
    zombies = len(lingering)
    live = [p for p in kids if state(p) not in (None, "Z")]
    if live:
        try:
            os.kill(random.choice(live), signal.SIGKILL)
            kills += 1
        except ProcessLookupError:
            pass
    nxt += 0.05
    time.sleep(max(0, nxt - time.monotonic()))
print(f"kills={kills} samples={samples} zombies={zombies} transient={transient}")
PYEOF
cat "$T/storm.out" | sed 's/^/# /'
kills=$(sed -n 's/.*kills=\([0-9]*\).*/\1/p' "$T/storm.out")
ok "about 200 kills in 10 s ($kills)" test "${kills:-0}" -ge 150
is "$(sed -n 's/.*zombies=\([0-9]*\).*/\1/p' "$T/storm.out")" 0 "no zombie lingering for a second"
ok "every instance running at the end" wait_for 10 all_running
is "$(zombies)" "" "no zombie at the end"
ok "supervisor still alive" kill -0 "$SUP_PID"
is "$(nlog 'msg="instance failed"')" 0 "no instance failed"
fds1=$(nfds "$SUP_PID")
is "$fds1" "$fds0" "supervisor descriptor count unchanged ($fds0)"
restarts=$(nlog 'msg="worker started" .* restarts=[1-9]')
ok "restarts logged ($restarts)" test "$restarts" -ge "$((kills * 9 / 10))"

sup_stop 15
is "$SUP_RC" 0 "instanced exits 0"
t_done
