# Tests of probe kinds, placeholders and real programs as workers.

# Placeholders and probe keys (in the core library) and the http/exec verdicts, pure.
check_PROGRAMS += tests/unit_probe
tests_unit_probe_SOURCES = tests/unit_probe.c src/probe_verdict.c src/probe_verdict.h
# String literals in the inventory fixtures (see tests/monitor.mk).
tests_unit_probe_CFLAGS = $(AM_CFLAGS) -Wno-write-strings $(CUNIT_CFLAGS)
tests_unit_probe_LDADD = $(CORE_LIBS) $(CUNIT_LIBS)
TESTS += tests/unit_probe

# Real programs as workers (redis-server, nginx, python3) and the probe kinds.
PROBE_IT = \
	tests/it_probe_redis.sh \
	tests/it_probe_detach.sh \
	tests/it_probe_nginx.sh \
	tests/it_probe_examples.sh \
	tests/it_probe_scale.sh \
	tests/it_probe_inflight.sh
TESTS += $(PROBE_IT)
EXTRA_DIST += $(PROBE_IT)
EXTRA_DIST += etc/examples/redis.conf etc/examples/nginx.conf etc/examples/python-http.conf \
	etc/examples/postgresql.conf
