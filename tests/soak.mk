# Soak test: `make soak`, never part of `make check`. Runs the supervisor for
# SOAK_SECONDS (default 30 minutes) under a kill storm, a reload storm, a flooding
# worker, hostile health endpoints and many status clients at once, and checks that
# its descriptors and memory end flat, no child is left a zombie and every killed
# worker came back. See tests/soak.sh for the bounds.
SOAK_SECONDS = 1800
EXTRA_DIST += tests/soak.sh

.PHONY: soak
soak: all tests/test-worker$(EXEEXT)
	SOAK_SECONDS='$(SOAK_SECONDS)' srcdir='$(abs_top_srcdir)' \
	  top_builddir='$(abs_top_builddir)' $(SHELL) $(abs_top_srcdir)/tests/soak.sh
