# Cluster mode's building blocks: an asynchronous etcd v3 client on the loop
# (etcd.c, libcurl multi + jansson) and placement of instances on nodes (placement.c,
# pure), and cluster mode itself (cluster.c: membership, ownership, fencing, the
# fleet view), linked into the supervisor.
src_instanced_SOURCES += src/etcd.c src/etcd.h src/placement.c src/placement.h \
	src/cluster.c src/cluster.h
EXTRA_DIST += docs/cluster.md

# The inventory's cluster keys, part of the core library (the loader calls them).
src_libinstanced_a_SOURCES += src/inv_cluster.c src/inv_cluster.h
EXTRA_DIST += etc/prometheus-cluster.yml
