# Containment (cgroup.c): one cgroup v2 per instance, and the parsers of the limit keys,
# in the core library so that the inventory and --check-config can call them.
src_libinstanced_a_SOURCES += src/cgroup.c src/cgroup.h
dist_docs_DATA += docs/containment.md
