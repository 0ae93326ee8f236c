/* ac_schema.h - audit-correlator's tables in its own schema: setup and the move from public. */
#ifndef AC_SCHEMA_H
#define AC_SCHEMA_H

#include "wrt_pg.h"

/* Create the tables, indexes and trigger function if missing (idempotent), after
 * moving the legacy tables out of public once if they are there and not yet in the
 * schema. One transaction under an advisory lock, so instances starting together
 * do not race. Returns 0 or -1 (logged). */
int ac_schema_setup(wpg_t *pg, const char *schema, const char *instance);

/* Upsert the instance's own row of service_registrations (a legacy table): the
 * registration metadata and a last_heartbeat, so the table mirrors the discovery key.
 * Queued on the connection, not waited for (a failure is logged); returns -1 when
 * PostgreSQL is not ready. */
int ac_schema_heartbeat(wpg_t *pg, const char *discovery_key, const char *service,
                        const char *instance, int port, const char *metadata_json);

/* The columns of audit_events in order, for INSERT ... SELECT into the archive. */
#define AC_EVENT_COLUMNS "id, trace_id, span_id, correlation_id, service_name, event_type, " \
    "\"timestamp\", duration_ms, status, metadata, tags, created_at, updated_at"

#endif
