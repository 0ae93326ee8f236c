# Fuzzing: libFuzzer targets (tests/fuzz/fuzz_*.c), built only by a clang build
# configured with --enable-fuzzing, and `make fuzz-smoke`, which runs each target for
# FUZZ_SECONDS over a scratch copy of its seed corpus tests/fuzz/corpus/TARGET/.
#
# Adding a target is one word in FUZZ_TARGETS; a target that needs sources no library
# holds names them in one line TARGET_SRC = ... (relative to the source tree; headers
# in the list are ignored, so source lists such as MONITOR_PURE can be reused). Every
# target links all of the project's static libraries and their dependencies; the
# linker takes only what the target uses.
FUZZ_TARGETS = fuzz_inventory fuzz_health fuzz_control fuzz_mask fuzz_worker
fuzz_inventory_SRC =
fuzz_health_SRC = src/health.c
fuzz_control_SRC = src/control.c src/control_cmd.c $(MONITOR_PURE)
fuzz_mask_SRC =
fuzz_worker_SRC = workers/audit_correlator/ac_event.c

FUZZ_SECONDS = 60
FUZZ_PROGS = $(FUZZ_TARGETS:%=tests/fuzz/%$(EXEEXT))
FUZZ_LIBDEPS = workers/lib/libworker.a src/libprovision.a src/libinstanced.a
FUZZ_LINK_LIBS = $(FUZZ_LIBDEPS) $(CONFUSE_LIBS) $(JANSSON_LIBS) $(LIBEVENT_LIBS) \
	$(LIBCURL_LIBS) $(LIBPQ_LIBS) $(HIREDIS_LIBS) $(SYSTEMD_LIBS) -lm
FUZZ_ALL_CPPFLAGS = $(DEFS) $(DEFAULT_INCLUDES) $(AM_CPPFLAGS) \
	-I$(top_srcdir)/workers/lib -I$(top_srcdir)/workers/audit_correlator $(CPPFLAGS)
FUZZ_ALL_CFLAGS = $(WARN_CFLAGS) -Wno-write-strings $(FUZZ_CFLAGS) $(CFLAGS) $(CONFUSE_CFLAGS) \
	$(JANSSON_CFLAGS) $(LIBEVENT_CFLAGS) $(LIBCURL_CFLAGS) $(LIBPQ_CFLAGS) \
	$(HIREDIS_CFLAGS) $(SYSTEMD_CFLAGS)

EXTRA_DIST += tests/fuzz/smoke.sh tests/fuzz/corpus $(FUZZ_TARGETS:%=tests/fuzz/%.c)
CLEANFILES += $(FUZZ_PROGS)
clean-local: clean-fuzz
clean-fuzz:
	rm -rf fuzz-artifacts

.PHONY: fuzz fuzz-smoke clean-fuzz
if ENABLE_FUZZING
.SECONDEXPANSION:
tests/fuzz/%$(EXEEXT): $(srcdir)/tests/fuzz/%.c $$(addprefix $$(srcdir)/,$$($$*_SRC)) \
		$(FUZZ_LIBDEPS)
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CCLD)$(CC) $(FUZZ_ALL_CPPFLAGS) $(FUZZ_ALL_CFLAGS) -o $@ \
	  $(srcdir)/tests/fuzz/$*.c $(filter %.c,$(addprefix $(srcdir)/,$($*_SRC))) $(LDFLAGS) $(FUZZ_LINK_LIBS)

fuzz: $(FUZZ_PROGS)

# Fails on any crash, leak, timeout or sanitizer report; reproducers are kept in
# fuzz-artifacts/TARGET/ of the build directory.
fuzz-smoke: $(FUZZ_PROGS)
	FUZZ_SECONDS='$(FUZZ_SECONDS)' $(SHELL) $(srcdir)/tests/fuzz/smoke.sh \
	  '$(srcdir)/tests/fuzz/corpus' $(FUZZ_PROGS)
else
fuzz fuzz-smoke:
	@echo "$@: the fuzz targets need a clang build: ./configure --enable-fuzzing" >&2
	@exit 1
endif
