# Tests: CUnit unit tests of the core library, integration tests against real
# processes and servers (tests/*.sh), and the test worker they drive.
check_PROGRAMS += tests/unit_tests
tests_unit_tests_SOURCES = tests/unit_tests.c
tests_unit_tests_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(CONFUSE_CFLAGS)
tests_unit_tests_LDADD = $(CORE_LIBS) $(CUNIT_LIBS)

TESTS += tests/unit_tests
EXTRA_DIST += tests/derivation-vectors.tsv tests/fixtures tests/cunit_run.h

# Shell integration tests get srcdir and top_builddir in their environment.
AM_TESTS_ENVIRONMENT = srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)'; \
	INST_HARDENING='$(enable_hardening)' INST_FORTIFY='$(have_fortify)'; \
	export srcdir top_builddir INST_HARDENING INST_FORTIFY;
# A test that hangs fails after TEST_TIMEOUT seconds (killed 10 s later if it ignores
# SIGTERM) instead of holding the whole run until CI gives up. The test's own shebang
# still chooses its interpreter.
TEST_TIMEOUT = 900
LOG_COMPILER = timeout --kill-after=10 $(TEST_TIMEOUT)
TESTS += tests/it_servers.sh tests/it_hardening.sh
TESTS += tests/it_bench_deps.sh
EXTRA_DIST += tests/it_bench_deps.sh
EXTRA_DIST += tests/lsan.supp
EXTRA_DIST += tests/lib tests/it_servers.sh tests/it_hardening.sh
include $(srcdir)/tests/supervisor.mk
include $(srcdir)/tests/monitor.mk
include $(srcdir)/tests/worker.mk
include $(srcdir)/tests/provision.mk
include $(srcdir)/tests/control.mk
include $(srcdir)/tests/probe.mk
include $(srcdir)/tests/package.mk
include $(srcdir)/tests/fuzz/fuzz.mk
include $(srcdir)/tests/soak.mk
include $(srcdir)/tests/cluster.mk

# Every test program, without running a test (the warnings-as-errors CI build).
.PHONY: check-programs
check-programs: $(check_PROGRAMS)
include $(srcdir)/tests/cgroup.mk
