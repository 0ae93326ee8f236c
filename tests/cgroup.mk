# Tests of containment (src/cgroup.c, spawn_run_cg): the pure parsers and the layout
# choice, then real cgroups through a small driver.
check_PROGRAMS += tests/unit_cgroup
tests_unit_cgroup_SOURCES = tests/unit_cgroup.c
tests_unit_cgroup_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_cgroup_LDADD = $(CORE_LIBS) $(CUNIT_LIBS)
TESTS += tests/unit_cgroup

check_PROGRAMS += tests/cgroup_driver
tests_cgroup_driver_SOURCES = tests/cgroup_driver.c src/spawn.c src/spawn.h
tests_cgroup_driver_CFLAGS = $(AM_CFLAGS)
tests_cgroup_driver_LDADD = $(CORE_LIBS)
TESTS += tests/it_cgroup.sh
EXTRA_DIST += tests/it_cgroup.sh
