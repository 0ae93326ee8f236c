# Cluster mode's building blocks: an asynchronous etcd v3 client on the loop
# (etcd.c, libcurl multi + jansson) and placement of instances on nodes (placement.c,
# pure). Each is linked into its own tests here; the supervisor links them when
# cluster mode is wired in.
EXTRA_DIST += src/etcd.c src/etcd.h src/placement.c src/placement.h
EXTRA_DIST += docs/cluster.md

# The inventory's cluster keys, part of the core library (the loader calls them).
src_libinstanced_a_SOURCES += src/inv_cluster.c src/inv_cluster.h
