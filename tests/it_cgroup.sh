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

# Everything below happens in a private cgroup next to this test's own: CG_BASE.
mnt=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i+1) == "cgroup2" && $6 ~ /^rw/) { print $5; exit } } }' /proc/self/mountinfo)
own=$(sed -n 's/^0:://p' /proc/self/cgroup)
own=${own%/}
CG_BASE="$mnt$own/it-cgroup-$$"
if [ -z "$mnt" ] || ! mkdir "$CG_BASE" 2>/dev/null; then
    echo "# SKIP: no writable cgroup2 (mount: '${mnt:-none}', own cgroup: '$own')"
    exit 77
fi
echo "# subtree $CG_BASE"
cleanup_cgroups() {
    [ -d "$CG_BASE" ] || return 0
    echo 1 >"$CG_BASE/cgroup.kill" 2>/dev/null
    for p in $(find "$CG_BASE" -name cgroup.procs -exec cat {} +); do kill -9 "$p"; done
    wait_for 10 sh -c "! grep -q 'populated 1' '$CG_BASE/cgroup.events'"
    find "$CG_BASE" -depth -type d -exec rmdir {} \; 2>/dev/null
}
at_exit cleanup_cgroups

# The module's own choice, run from a cgroup of the test's: a plain one, then one
# named as a systemd unit's (where the driver must move itself into a leaf).
mkdir "$CG_BASE/plain" "$CG_BASE/u.service"
sh -c "echo \$\$ >'$CG_BASE/plain/cgroup.procs' && exec env -u INVOCATION_ID CG_TAG=it '$DRIVER' auto" >"$T/auto.out" 2>&1
is "$?" 0 "plain layout: a subtree made, used and removed"
sed "s/^/#   /" "$T/auto.out"
ok "plain layout: <own>/instanced-<tag>, the supervisor stays" \
    grep -q "mode plain, subtree $CG_BASE/plain/instanced-it, supervisor in 0::$own/it-cgroup-$$/plain\$" "$T/auto.out"
sh -c "echo \$\$ >'$CG_BASE/u.service/cgroup.procs' && exec env INVOCATION_ID=0123 CG_TAG=it '$DRIVER' auto" >"$T/unit.out" 2>&1
is "$?" 0 "systemd layout: a subtree made, used and removed"
sed "s/^/#   /" "$T/unit.out"
ok "systemd layout: <unit>/instances, the supervisor moved into <unit>/supervisor" \
    grep -q "mode systemd, subtree $CG_BASE/u.service/instances, supervisor in 0::$own/it-cgroup-$$/u.service/supervisor\$" "$T/unit.out"

CG_ROOT="$CG_BASE/root"
export CG_ROOT
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
    # A sanitizer build forks instead of clone3 (spawn.c): the child then moves itself
    # with its own cgroup.procs write, which is what the fallback checks below test.
    if [ "$mode" = kill ] && grep -q "started by cgroup.procs-write" "$T/setsid-kill.out"; then
        echo "# this build starts children by fork and a cgroup.procs write (sanitizers)"
        sanitized=1
    fi
    if [ "$mode" = kill ] && [ -n "${sanitized:-}" ]; then
        ok "moved by its own cgroup.procs write" grep -q "started by cgroup.procs-write" "$T/setsid-kill.out"
        ok "killed through cgroup.kill" grep -q "killed (cgroup.kill" "$T/setsid-kill.out"
    elif [ "$mode" = kill ]; then
        ok "born in the cgroup by clone3" grep -q "started by clone3-into-cgroup" "$T/setsid-kill.out"
        ok "killed through cgroup.kill" grep -q "killed (cgroup.kill" "$T/setsid-kill.out"
    else
        ok "moved by its own cgroup.procs write" grep -q "started by cgroup.procs-write" "$T/setsid-fallback.out"
        ok "killed by signals" grep -q "killed (signals, 1 signalled)" "$T/setsid-fallback.out"
    fi
    ok "the orphan survived its worker's SIGTERM" grep -q "setsid child .* survived" "$T/setsid-$mode.out"
    # The wait for empty ends. When the cgroup was still populated at its first check
    # it was woken by cgroup.events (the wait polls nothing else). The killed processes
    # may be gone before that check: cgroup.kill only sends the signals, and the signal
    # fallback kills round after round until the cgroup is empty.
    if grep -q "setsid empty (already at the first check)" "$T/setsid-$mode.out"; then
        pass "the wait for empty ended (empty at its first check)"
    else
        ok "the wait for empty was woken by cgroup.events" grep -q "setsid empty (woken [1-9]" "$T/setsid-$mode.out"
    fi
    (cd "$T" && run "where-$mode" where $extra)
    ok "the worker's first instruction ran in its cgroup" grep -q "^ok the worker ran in $own/it-cgroup-$$/root/where\$" "$T/where-$mode.out"
    run "badfd-$mode" badfd $extra
    if [ "$mode" = kill ] && [ -z "${sanitized:-}" ]; then
        ok "clone3 refuses a descriptor that is no cgroup" grep -q "^ok refused by clone3: clone3 into the cgroup: " "$T/badfd-kill.out"
    else
        ok "a child that cannot join never execs" grep -q "^ok the child failed before exec: cgroup: " "$T/badfd-$mode.out"
    fi
    run "forkbomb-$mode" forkbomb $extra
    ok "200 orphans, then none" sh -c "grep -q '200 orphans' '$T/forkbomb-$mode.out' && grep -q 'none left' '$T/forkbomb-$mode.out'"
done

run freeze freeze
ok "frozen and thawed" sh -c "grep -q '^ok frozen' '$T/freeze.out' && grep -q '^ok thawed' '$T/freeze.out'"

run cpu cpu
run limits limits
ok "every limit key applied or explained" test "$(grep -c '^ok \(applied\|explained\)' "$T/limits.out")" -eq 6
# --check-config's view of a subtree not made yet: the same verdicts, nothing created.
run check check CG_ROOT="$CG_BASE/probe"
ok "the probe created nothing" test ! -d "$CG_BASE/probe"
is "$(grep '^ok \(applied\|would apply\|explained\)' "$T/check.out" | sed 's/would apply/applied/; s/applied \([a-z_]*\).*/applied \1/')" \
   "$(grep '^ok \(applied\|explained\)' "$T/limits.out" | sed 's/applied \([a-z_]*\).*/applied \1/')" \
   "the dry check says what applying says"
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
ok "cgroup_root stays at the end, emptied of the instances' cgroups" \
    sh -c "test -d '$CG_ROOT' && test -z \"\$(find '$CG_ROOT' -mindepth 1 -type d)\""
ok "the systemd layout left only the supervisor's leaf" sh -c "test -d '$CG_BASE/u.service/supervisor' && test ! -d '$CG_BASE/u.service/instances'"
t_done
