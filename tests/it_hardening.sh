#!/bin/sh
# The installed programs are built hardened: position independent (PIE), full RELRO
# (the GOT read-only after start: GNU_RELRO plus BIND_NOW), the stack protector, and
# _FORTIFY_SOURCE's checked *_chk functions. Read from the ELF files with readelf.
#
# INST_HARDENING and INST_FORTIFY come from configure (tests/local.mk): a build
# configured --disable-hardening has nothing to check, and the sanitizer and fuzzing
# builds leave _FORTIFY_SOURCE out on purpose (ASan checks the same calls).
. "$srcdir/tests/lib/common.sh"
t_init hardening

if [ "${INST_HARDENING:-yes}" != yes ]; then
    echo "# configured --disable-hardening: nothing to check"
    exit 77
fi
# has PATTERN TEXT WHAT: a check that grep finds PATTERN in TEXT.
has() {
    if printf '%s\n' "$2" | grep -q -- "$1"; then pass "$3"; else fail "$3"; fi
}

command -v readelf >/dev/null || { fail "readelf (binutils) is installed"; t_done; }

for prog in src/instanced src/instancectl workers/audit-correlator workers/entity-worker; do
    bin=$top_builddir/$prog
    [ -f "$bin" ] || { fail "$prog was built"; continue; }
    header=$(readelf -hW "$bin")
    segments=$(readelf -lW "$bin")
    dynamic=$(readelf -dW "$bin")
    symbols=$(readelf --dyn-syms -W "$bin")

    has "Type:[[:space:]]*DYN" "$header" "$prog is PIE (ELF type DYN)"
    has "GNU_RELRO" "$segments" "$prog has a GNU_RELRO segment"
    has "BIND_NOW\|FLAGS.*[[:space:]]NOW" "$dynamic" "$prog binds now (BIND_NOW or FLAGS NOW)"
    has " __stack_chk_fail" "$symbols" "$prog calls __stack_chk_fail (stack protector)"
    if [ "${INST_FORTIFY:-yes}" = yes ]; then
        fortified=$(printf '%s\n' "$symbols" | grep -o ' __[a-z]*_chk\b' | grep -v __stack_chk_fail |
                    sort -u | tr -d ' ' | tr '\n' ' ')
        is "$([ -n "$fortified" ] && echo yes || echo no)" yes \
            "$prog uses _FORTIFY_SOURCE's checked functions (${fortified:-none})"
    else
        echo "# $prog: _FORTIFY_SOURCE is off in this build (sanitizers), not checked"
    fi
done
t_done
