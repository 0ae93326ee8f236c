# Tests of cluster mode's building blocks (see tests/local.mk for the environment).

# Placement, linked alone (it is pure).
check_PROGRAMS += tests/unit_placement
tests_unit_placement_SOURCES = tests/unit_placement.c src/placement.c src/placement.h \
	src/xalloc.c src/xalloc.h
tests_unit_placement_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_placement_LDADD = $(CUNIT_LIBS)
TESTS += tests/unit_placement

# The string map (contain.c's index by name), linked alone.
check_PROGRAMS += tests/unit_strmap
tests_unit_strmap_SOURCES = tests/unit_strmap.c src/strmap.c src/strmap.h \
	src/xalloc.c src/xalloc.h
tests_unit_strmap_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_strmap_LDADD = $(CUNIT_LIBS)
TESTS += tests/unit_strmap

# The etcd client against a real three-member etcd 3.4 (tests/lib/etcd.sh starts it):
# the program is driven by tests/it_etcd_client.sh, which gives it the endpoints.
check_PROGRAMS += tests/etcd_client_test
tests_etcd_client_test_SOURCES = tests/etcd_client_test.c src/etcd.c src/etcd.h src/curlev.c \
	src/xalloc.c src/xalloc.h
tests_etcd_client_test_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(LIBCURL_CFLAGS) \
	$(LIBEVENT_CFLAGS) $(JANSSON_CFLAGS)
tests_etcd_client_test_LDADD = $(LIBCURL_LIBS) $(LIBEVENT_LIBS) $(JANSSON_LIBS) $(CUNIT_LIBS)

# base64 and prefix ends, without a server.
check_PROGRAMS += tests/unit_etcd
tests_unit_etcd_SOURCES = tests/unit_etcd.c src/etcd.c src/etcd.h src/curlev.c src/xalloc.c src/xalloc.h
tests_unit_etcd_CFLAGS = $(tests_etcd_client_test_CFLAGS)
tests_unit_etcd_LDADD = $(tests_etcd_client_test_LDADD)
TESTS += tests/unit_etcd

CLUSTER_IT = tests/it_etcd_client.sh

# The inventory's cluster keys through the real loader.
check_PROGRAMS += tests/unit_inv_cluster
tests_unit_inv_cluster_SOURCES = tests/unit_inv_cluster.c
tests_unit_inv_cluster_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_inv_cluster_LDADD = $(CORE_LIBS) $(CUNIT_LIBS)
TESTS += tests/unit_inv_cluster

# Cluster mode end to end: three instanced nodes on this machine against a real etcd.
CLUSTER_IT += tests/it_cluster_basic.sh tests/it_cluster_partition.sh
CLUSTER_IT += tests/it_cluster_credentials.sh tests/it_cluster_etcd_loss.sh tests/it_cluster_depends.sh
CLUSTER_IT += tests/it_cluster_mismatch.sh
EXTRA_DIST += tests/lib/cluster.sh tests/cluster_relay.py
TESTS += $(CLUSTER_IT)
EXTRA_DIST += $(CLUSTER_IT)
