# Tests of the provision side (see tests/local.mk for the environment): real
# PostgreSQL 15 and Redis 7 from tests/lib/servers.sh, the real instancectl.
PROVISION_TESTS = \
	tests/it_provision_walls.sh \
	tests/it_provision_idempotent.sh \
	tests/it_provision_failure.sh
TESTS += $(PROVISION_TESTS)
EXTRA_DIST += $(PROVISION_TESTS)
