# Tests of the supervisor side (see tests/local.mk for the environment).

# The test worker: behaviour chosen by its environment (see the top of test_worker.c).
check_PROGRAMS += tests/test-worker
tests_test_worker_SOURCES = tests/test_worker.c
tests_test_worker_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS)
tests_test_worker_LDADD = $(LIBEVENT_LIBS)

# The restart policy, linked alone (it is pure).
check_PROGRAMS += tests/unit_policy
tests_unit_policy_SOURCES = tests/unit_policy.c src/policy.c src/policy.h src/states.c
tests_unit_policy_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_policy_LDADD = $(CUNIT_LIBS)
TESTS += tests/unit_policy

# The supervision core with a fake spawner and fake hooks: dispatch, dependency
# gating, shutdown order, reload as plan then apply.
check_PROGRAMS += tests/unit_core
tests_unit_core_SOURCES = tests/unit_core.c src/supervisor.c src/reload.c src/reload.h \
	src/sup_hooks.c src/sup_hooks.h \
	src/policy.c src/logcap.c src/notify.c src/detach.c src/spawn.c
tests_unit_core_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(LIBEVENT_CFLAGS) $(SYSTEMD_CFLAGS)
tests_unit_core_LDADD = $(CORE_LIBS) $(LIBEVENT_LIBS) $(SYSTEMD_LIBS) $(CUNIT_LIBS)
TESTS += tests/unit_core

SUPERVISOR_IT = \
	tests/it_supervisor_restart.sh \
	tests/it_supervisor_stop.sh \
	tests/it_supervisor_reload.sh \
	tests/it_supervisor_hygiene.sh \
	tests/it_supervisor_storm.sh \
	tests/it_supervisor_logs.sh \
	tests/it_supervisor_notify.sh \
	tests/it_supervisor_unit.sh \
	tests/it_supervisor_provision.sh \
	tests/it_supervisor_nofile.sh \
	tests/it_supervisor_helperfds.sh \
	tests/it_supervisor_emfile.sh \
	tests/it_supervisor_portheld.sh \
	tests/it_supervisor_stderr.sh \
	tests/it_supervisor_fdcount.sh \
	tests/it_contain.sh tests/it_contain_crash.sh
TESTS += $(SUPERVISOR_IT)
EXTRA_DIST += $(SUPERVISOR_IT) tests/it_supervisor_lib.sh

# Out of memory in the converted modules ends the process with a message (xalloc.h).
check_PROGRAMS += tests/unit_oom
tests_unit_oom_SOURCES = tests/unit_oom.c src/health.c src/health.h src/logcap.c src/logcap.h
tests_unit_oom_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(JANSSON_CFLAGS) $(CONFUSE_CFLAGS) \
	$(LIBEVENT_CFLAGS)
tests_unit_oom_LDADD = $(PROVISION_LIBS) $(LIBEVENT_LIBS) $(CUNIT_LIBS)
TESTS += tests/unit_oom
