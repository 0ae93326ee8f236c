# Worker programs: the shared worker runtime (workers/lib), the audit-correlator pilot
# and the simulated entity worker. Installed in $(libexecdir)/instanced.
noinst_LIBRARIES += workers/lib/libworker.a
workers_lib_libworker_a_SOURCES = \
	workers/lib/wrt_config.c workers/lib/wrt_config.h \
	workers/lib/wrt_backoff.c workers/lib/wrt_backoff.h \
	workers/lib/wrt_conn.c workers/lib/wrt_conn.h \
	workers/lib/wrt_health.c workers/lib/wrt_health.h \
	workers/lib/wrt_metrics.c workers/lib/wrt_metrics.h \
	workers/lib/wrt_pg.c workers/lib/wrt_pg.h \
	workers/lib/wrt_redis.c workers/lib/wrt_redis.h \
	workers/lib/wrt_registry.c workers/lib/wrt_registry.h \
	workers/lib/wrt_http.c workers/lib/wrt_http.h \
	workers/lib/wrt_runtime.c workers/lib/wrt_runtime.h
WORKER_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(LIBPQ_CFLAGS) $(HIREDIS_CFLAGS) \
	$(JANSSON_CFLAGS)
WORKER_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/workers/lib \
	-I$(top_srcdir)/workers/audit_correlator
workers_lib_libworker_a_CFLAGS = $(WORKER_CFLAGS)
workers_lib_libworker_a_CPPFLAGS = $(WORKER_CPPFLAGS)
WORKER_LIBS = workers/lib/libworker.a $(CORE_LIBS) $(LIBEVENT_LIBS) $(LIBPQ_LIBS) \
	$(HIREDIS_LIBS) $(JANSSON_LIBS) -lm

pkglibexec_PROGRAMS += workers/audit-correlator workers/entity-worker

workers_entity_worker_SOURCES = workers/entity_worker.c
workers_entity_worker_CFLAGS = $(WORKER_CFLAGS)
workers_entity_worker_CPPFLAGS = $(WORKER_CPPFLAGS)
workers_entity_worker_LDADD = $(WORKER_LIBS)

workers_audit_correlator_SOURCES = \
	workers/audit_correlator/ac_main.c \
	workers/audit_correlator/ac_event.c workers/audit_correlator/ac_event.h \
	workers/audit_correlator/ac_schema.c workers/audit_correlator/ac_schema.h \
	workers/audit_correlator/ac_repo.c workers/audit_correlator/ac_repo.h \
	workers/audit_correlator/ac_cache.c workers/audit_correlator/ac_cache.h \
	workers/audit_correlator/ac_api.c workers/audit_correlator/ac_api.h
workers_audit_correlator_CFLAGS = $(WORKER_CFLAGS)
workers_audit_correlator_CPPFLAGS = $(WORKER_CPPFLAGS)
workers_audit_correlator_LDADD = $(WORKER_LIBS)

# The workers' documentation is docs/workers.md.
