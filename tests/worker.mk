# Tests of the worker side (see tests/local.mk for the environment).
check_PROGRAMS += tests/unit_worker
tests_unit_worker_SOURCES = tests/unit_worker.c \
	workers/audit_correlator/ac_event.c workers/audit_correlator/ac_event.h \
	workers/audit_correlator/ac_cache.c workers/audit_correlator/ac_cache.h
tests_unit_worker_CFLAGS = $(WORKER_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_worker_CPPFLAGS = $(WORKER_CPPFLAGS)
tests_unit_worker_LDADD = $(WORKER_LIBS) $(CUNIT_LIBS)
TESTS += tests/unit_worker

TESTS += tests/it_worker_api.sh tests/it_worker_isolation.sh tests/it_worker_outage.sh \
	tests/it_worker_fleet.sh tests/it_worker_stall.sh
EXTRA_DIST += tests/it_worker_lib.sh tests/it_worker_api.sh tests/it_worker_isolation.sh \
	tests/it_worker_outage.sh tests/it_worker_fleet.sh tests/it_worker_stall.sh
