# Tests of cluster mode's building blocks (see tests/local.mk for the environment).

# Placement, linked alone (it is pure).
check_PROGRAMS += tests/unit_placement
tests_unit_placement_SOURCES = tests/unit_placement.c src/placement.c src/placement.h \
	src/xalloc.c src/xalloc.h
tests_unit_placement_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_placement_LDADD = $(CUNIT_LIBS)
TESTS += tests/unit_placement
