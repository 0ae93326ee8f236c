#!/bin/sh
# Containment on real cgroups (src/cgroup.c, spawn_run_cg) through tests/cgroup_driver:
# a setsid'd child that ignores SIGTERM outlives its worker but not the cgroup's kill;
# 200 orphans all go; freeze and thaw; CPU accounting of a 2 s burn; each limit key
# applied or explained; leftovers of a "previous run" found by name and pid, then
# killed. Each scenario runs twice: with cgroup.kill and clone3(CLONE_INTO_CGROUP), and
# with the second ways (SIGKILL of every pid, the child's own cgroup.procs write).
. "$srcdir/tests/lib/common.sh"
t_init cgroup
DRIVER="$top_builddir/tests/cgroup_driver"

# The auto layout first: it says whether this host has a writable cgroup2 at all.
CG_TAG="it-$$" "$DRIVER" auto >"$T/auto.out" 2>&1
rc=$?
if [ "$rc" -eq 77 ]; then
    echo "# SKIP: $(cat "$T/auto.out")"
    exit 77
fi
cat "$T/auto.out"
is "$rc" 0 "the module's own layout: a subtree under the cgroup2 mount, created and removed"

# A private subtree next to this test's own cgroup, as cgroup_root.
mnt=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i+1) == "cgroup2" && $4 != "" && $6 ~ /^rw/) { print $5; exit } } }' /proc/self/mountinfo)
own=$(sed -n 's/^0:://p' /proc/self/cgroup)
own=${own%/}
CG_ROOT="$mnt$own/it-cgroup-$$"
export CG_ROOT
echo "# subtree $CG_ROOT"
cleanup_cgroups() {
    [ -d "$CG_ROOT" ] || return 0
    echo 1 >"$CG_ROOT/cgroup.kill" 2>/dev/null
    for p in $(cat "$CG_ROOT"/*/cgroup.procs 2>/dev/null); do kill -9 "$p"; done
    wait_for 10 sh -c "! grep -q 'populated 1' '$CG_ROOT/cgroup.events'"
    find "$CG_ROOT" -depth -type d -exec rmdir {} \; 2>/dev/null
}
at_exit cleanup_cgroups

run() { # NAME SCENARIO [ENV=VALUE...]
    name=$1 sc=$2
    shift 2
    env "$@" "$DRIVER" "$sc" >"$T/$name.out" 2>"$T/$name.err"
    rc=$?
    sed "s/^/#   /" "$T/$name.out"
    [ -s "$T/$name.err" ] && sed "s/^/#   stderr: /" "$T/$name.err"
    is "$rc" 0 "$name"
}

for mode in kill fallback; do
    extra=""
    [ "$mode" = fallback ] && extra="CG_FALLBACK=1"
    run "setsid-$mode" setsid $extra
    if [ "$mode" = kill ]; then
        ok "born in the cgroup by clone3" grep -q "started by clone3-into-cgroup" "$T/setsid-kill.out"
        ok "killed through cgroup.kill" grep -q "killed (cgroup.kill" "$T/setsid-kill.out"
    else
        ok "moved by its own cgroup.procs write" grep -q "started by cgroup.procs-write" "$T/setsid-fallback.out"
        ok "killed by signals" grep -q "killed (signals, 1 signalled)" "$T/setsid-fallback.out"
    fi
    ok "the orphan survived its worker's SIGTERM" grep -q "setsid child .* survived" "$T/setsid-$mode.out"
    ok "the wait for empty was woken by cgroup.events" grep -q "setsid empty (woken [1-9]" "$T/setsid-$mode.out"
    run "forkbomb-$mode" forkbomb $extra
    ok "200 orphans, then none" sh -c "grep -q '200 orphans' '$T/forkbomb-$mode.out' && grep -q 'none left' '$T/forkbomb-$mode.out'"
done

run freeze freeze
ok "frozen and thawed" sh -c "grep -q '^ok frozen' '$T/freeze.out' && grep -q '^ok thawed' '$T/freeze.out'"

run cpu cpu
run limits limits
ok "every limit key applied or explained" test "$(grep -c '^ok \(applied\|explained\)' "$T/limits.out")" -eq 6
if grep -q "explained memory_max cannot apply" "$T/limits.out"; then
    ok "the explanation names the key, the controller and the cgroup" \
        grep -q "explained memory_max cannot apply: the memory controller is not .* $mnt" "$T/limits.out"
fi

# A previous run: setsid'd descendants left behind by a driver that exits without
# cleaning up (as a SIGKILLed supervisor does).
run leftover-make leftover-make
pids=$(sed -n 's/^orphan //p' "$T/leftover-make.out")
alive=0
for p in $pids; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
ok "the previous run left 3 processes behind" test "$alive" -eq 3
run leftover-scan leftover-scan
for p in $pids; do
    if kill -0 "$p" 2>/dev/null; then
        ok "leftover $p gone" sh -c "grep -q 'State:.*Z' /proc/$p/status"
    else
        pass "leftover $p gone"
    fi
done
n=0
for p in $pids; do
    grep -q "killed leftover pid $p (sleep) of instance old" "$T/leftover-scan.out" && n=$((n + 1))
done
is "$n" 3 "each leftover named with its pid, comm and instance"
ok "the subtree is gone at the end" test ! -d "$CG_ROOT"
t_done
