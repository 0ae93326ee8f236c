# Tests of the provision side (see tests/local.mk for the environment): real
# PostgreSQL 15 and Redis 7 from tests/lib/servers.sh, the real instancectl.
PROVISION_TESTS = \
	tests/it_provision_walls.sh \
	tests/it_provision_idempotent.sh \
	tests/it_provision_failure.sh \
	tests/it_provision_worker.sh
TESTS += $(PROVISION_TESTS)
EXTRA_DIST += $(PROVISION_TESTS)

# What prov_worker_urls() hands the supervisor, for it_provision_walls.sh.
check_PROGRAMS += src/prov-urls-check
src_prov_urls_check_SOURCES = src/prov_urls_check.c
src_prov_urls_check_CFLAGS = $(AM_CFLAGS) $(CONFUSE_CFLAGS)
src_prov_urls_check_LDADD = $(PROVISION_LIBS)
