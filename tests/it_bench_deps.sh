#!/bin/sh
# bench/install-deps.sh, run with stub commands (apt-get, id, the tools it looks for)
# on PATH and BENCH_SYSROOT pointing at a scratch tree, so that nothing is installed:
#  - a policy-rc.d that is there already is left untouched and the script exits 0
#    (its EXIT trap once returned 1 then, and `make bench` failed on the first run);
#  - with none there, apt-get runs under a policy-rc.d forbidding service starts,
#    which is removed again afterwards;
#  - with every tool present, apt-get is not run at all.
. "$srcdir/tests/lib/common.sh"
t_init bench_deps

script=$srcdir/bench/install-deps.sh
stubs=$T/bin
root=$T/root
mkdir -p "$stubs" "$root/usr/sbin" "$root/etc/init.d"
# The few real programs the script needs, and nothing else of the system's PATH, so
# that the bench's tools look missing even where they are installed.
for p in chmod rm cat; do
    ln -s "$(command -v $p)" "$stubs/$p"
done
printf '#!/bin/sh\necho 0\n' >"$stubs/id"
# apt-get records its arguments and the policy-rc.d in force while it "installs".
cat >"$stubs/apt-get" <<EOF
#!/bin/sh
echo "\$*" >>"$T/apt.log"
if [ -e "$root/usr/sbin/policy-rc.d" ]; then
    echo "policy: \$(cat "$root/usr/sbin/policy-rc.d" | tr '\n' ' ')" >>"$T/apt.log"
else
    echo "policy: none" >>"$T/apt.log"
fi
exit 0
EOF
ln -s "$(command -v tr)" "$stubs/tr"
chmod 755 "$stubs/id" "$stubs/apt-get"

run_deps() {
    env -i PATH="$stubs" BENCH_SYSROOT="$root" /bin/sh "$script" >"$T/out" 2>&1
}

# 1. A policy-rc.d of the machine's own is there already.
printf '#!/bin/sh\n# the site policy\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
cp "$root/usr/sbin/policy-rc.d" "$T/policy.orig"
rc=0
run_deps || rc=$?
is "$rc" 0 "exit status with a policy-rc.d already there ($(cat "$T/out" | tr '\n' ' '))"
ok "the existing policy-rc.d is left untouched" cmp -s "$T/policy.orig" "$root/usr/sbin/policy-rc.d"
ok "apt-get installs every missing package" grep -q "install -y -q --no-install-recommends supervisor runit s6 wrk nginx gnuplot-nox" \
    "$T/apt.log"

# 2. None there: one is made for the install and removed afterwards.
rm -f "$root/usr/sbin/policy-rc.d" "$T/apt.log"
rc=0
run_deps || rc=$?
is "$rc" 0 "exit status without a policy-rc.d ($(cat "$T/out" | tr '\n' ' '))"
ok "apt-get ran under a policy-rc.d that exits 101" grep -q "^policy: #!/bin/sh exit 101" "$T/apt.log"
ok "the policy-rc.d made for the install is removed" test ! -e "$root/usr/sbin/policy-rc.d"

# 3. Everything present: nothing to install.
rm -f "$T/apt.log"
for p in supervisord runsvdir s6-svscan wrk nginx gnuplot; do
    printf '#!/bin/sh\nexit 0\n' >"$stubs/$p"
    chmod 755 "$stubs/$p"
done
rc=0
run_deps || rc=$?
is "$rc" 0 "exit status with every tool present"
ok "apt-get is not run" test ! -e "$T/apt.log"

t_done
