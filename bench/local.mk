# Benchmarks: `make bench`, never part of `make check`.
#
# `make bench` builds everything, builds the trivial child program both supervisors
# run (bench/bench-child, static, without sanitizers so that it measures the
# supervisor and not the child), installs Debian's supervisor and wrk when missing,
# and runs bench/run.sh: the same workload under instanced and supervisord, one table
# with both figures and their ratio. BENCH_QUICK=1 runs a short smoke version.
EXTRA_PROGRAMS = bench/bench-child
bench_bench_child_SOURCES = bench/bench-child.c
bench_bench_child_CFLAGS = $(WARN_CFLAGS) -O2
bench_bench_child_LDFLAGS = -static
CLEANFILES += bench/bench-child$(EXEEXT)

EXTRA_DIST += bench/run.sh bench/install-deps.sh bench/bench.py bench/wrk-xmlrpc.lua

.PHONY: bench
bench: all bench/bench-child$(EXEEXT)
	INSTANCED=$(abs_top_builddir)/src/instanced \
	BENCH_CHILD=$(abs_top_builddir)/bench/bench-child$(EXEEXT) \
	  $(SHELL) $(abs_top_srcdir)/bench/run.sh

# `make bench-inventory`: time `instanced --check-config` on generated inventories of
# 10,000, 20,000 and 100,000 instances (BENCHMARKS.md, "Inventory validation").
EXTRA_DIST += bench/inventory_scale.sh
.PHONY: bench-inventory
bench-inventory: src/instanced$(EXEEXT)
	INSTANCED=$(abs_top_builddir)/src/instanced $(SHELL) $(abs_top_srcdir)/bench/inventory_scale.sh

# `make bench-worker`: audit-correlator ingest (wrk, realistic events) against a durable
# PostgreSQL, and its health answer while PostgreSQL is SIGSTOPped (bench/worker_ingest.sh).
EXTRA_DIST += bench/worker_ingest.sh bench/worker_events.lua
.PHONY: bench-worker
bench-worker: workers/audit-correlator$(EXEEXT)
	AUDIT_CORRELATOR=$(abs_top_builddir)/workers/audit-correlator $(SHELL) $(abs_top_srcdir)/bench/worker_ingest.sh
