# Benchmarks: `make bench`, never part of `make check`.
#
# `make bench` builds everything, builds the trivial child program every supervisor
# runs (bench/bench-child, static, without sanitizers so that it measures the
# supervisor and not the child), installs Debian's supervisor, runit, s6, wrk, nginx
# and gnuplot-nox when missing, and runs bench/run.sh: the same workload under
# supervisord, runit, s6 and instanced, one table with every figure and instanced
# against the best peer, the cost as N grows (plots in bench-plots/), the status
# endpoint against nginx. `make bench-quick` (or BENCH_QUICK=1) is a short smoke run.
EXTRA_PROGRAMS = bench/bench-child
bench_bench_child_SOURCES = bench/bench-child.c
bench_bench_child_CFLAGS = $(WARN_CFLAGS) -O2
bench_bench_child_LDFLAGS = -static
CLEANFILES += bench/bench-child$(EXEEXT)

EXTRA_DIST += bench/run.sh bench/install-deps.sh bench/bench.py bench/wrk-xmlrpc.lua \
	bench/plots/scale-startup.png bench/plots/scale-rss.png bench/plots/scale-pss.png \
	bench/plots/scale-probe.png bench/plots/scale-status.png

.PHONY: bench
bench: all bench/bench-child$(EXEEXT)
	INSTANCED=$(abs_top_builddir)/src/instanced \
	BENCH_CHILD=$(abs_top_builddir)/bench/bench-child$(EXEEXT) \
	  $(SHELL) $(abs_top_srcdir)/bench/run.sh

.PHONY: bench-quick
bench-quick: all bench/bench-child$(EXEEXT)
	BENCH_QUICK=1 INSTANCED=$(abs_top_builddir)/src/instanced \
	BENCH_CHILD=$(abs_top_builddir)/bench/bench-child$(EXEEXT) \
	  $(SHELL) $(abs_top_srcdir)/bench/run.sh

# `make bench-inventory`: time `instanced --check-config` on generated inventories of
# 10,000, 20,000 and 100,000 instances (BENCHMARKS.md, "Inventory validation").
EXTRA_DIST += bench/inventory_scale.sh
EXTRA_DIST += bench/cluster_scale.sh
.PHONY: bench-inventory
bench-inventory: src/instanced$(EXEEXT)
	INSTANCED=$(abs_top_builddir)/src/instanced $(SHELL) $(abs_top_srcdir)/bench/inventory_scale.sh

# `make bench-worker`: audit-correlator ingest (wrk, realistic events) against a durable
# PostgreSQL, and its health answer while PostgreSQL is SIGSTOPped (bench/worker_ingest.sh).
EXTRA_DIST += bench/worker_ingest.sh bench/worker_events.lua
.PHONY: bench-worker
bench-worker: workers/audit-correlator$(EXEEXT)
	AUDIT_CORRELATOR=$(abs_top_builddir)/workers/audit-correlator $(SHELL) $(abs_top_srcdir)/bench/worker_ingest.sh
