/* ac_schema.c - audit-correlator's tables in its own schema: setup and the move from public. */
#include "config.h"

#include "ac_schema.h"

#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The audit-correlator's tables as the ecosystem defined them before instanced, in the
 * order the move from public handles them. */
static const char *const tables[] = { "audit_events", "service_registrations",
                                      "audit_correlations", "service_metrics",
                                      "audit_events_archive", NULL };

/* Objects that CREATE ... IF NOT EXISTS cannot cover: the statement right after a
 * SKIP_IF_* marker runs only when the query ($1 = the schema) finds nothing. Re-creating
 * them would need ownership, which an instance's provisioned role lacks for objects
 * an earlier, unprovisioned run (or the admin) created: setup must not fail on them. */
#define SKIP_IF_FUNCTION                                                                 \
    "?SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"            \
    " WHERE n.nspname = $1 AND p.proname = 'update_updated_at_column'"
#define SKIP_IF_TRIGGER(name)                                                            \
    "?SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"                  \
    " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1"               \
    " AND t.tgname = '" name "'"

/* DDL takes no parameters: every statement is built here from the schema name
 * quoted by PQescapeIdentifier (S below), and from nothing else. */
static const char *const ddl[] = {
    SKIP_IF_FUNCTION,
    "CREATE FUNCTION %S.update_updated_at_column() RETURNS trigger"
    " LANGUAGE plpgsql AS $f$ BEGIN NEW.updated_at = now(); RETURN NEW; END $f$",

    "CREATE TABLE IF NOT EXISTS %S.audit_events ("
    " id UUID PRIMARY KEY DEFAULT gen_random_uuid(),"
    " trace_id TEXT, span_id TEXT, correlation_id TEXT,"
    " service_name TEXT NOT NULL, event_type TEXT NOT NULL,"
    " \"timestamp\" TIMESTAMPTZ NOT NULL DEFAULT now(),"
    " duration_ms BIGINT CHECK (duration_ms >= 0),"
    " status TEXT NOT NULL DEFAULT 'ok',"
    " metadata JSONB NOT NULL DEFAULT '{}'::jsonb,"
    " tags TEXT[] NOT NULL DEFAULT '{}',"
    " created_at TIMESTAMPTZ NOT NULL DEFAULT now(),"
    " updated_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    "CREATE INDEX IF NOT EXISTS idx_audit_events_timestamp ON %S.audit_events (\"timestamp\")",
    "CREATE INDEX IF NOT EXISTS idx_audit_events_service ON %S.audit_events"
    " (service_name, \"timestamp\")",
    "CREATE INDEX IF NOT EXISTS idx_audit_events_type ON %S.audit_events"
    " (event_type, \"timestamp\")",
    "CREATE INDEX IF NOT EXISTS idx_audit_events_correlation ON %S.audit_events (correlation_id)"
    " WHERE correlation_id IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS idx_audit_events_trace ON %S.audit_events (trace_id)"
    " WHERE trace_id IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS idx_audit_events_status ON %S.audit_events (status)",
    "CREATE INDEX IF NOT EXISTS idx_audit_events_created ON %S.audit_events (created_at)",
    SKIP_IF_TRIGGER("update_audit_events_updated_at"),
    "CREATE TRIGGER update_audit_events_updated_at BEFORE UPDATE ON %S.audit_events"
    " FOR EACH ROW EXECUTE FUNCTION %S.update_updated_at_column()",

    "CREATE TABLE IF NOT EXISTS %S.service_registrations ("
    " id TEXT PRIMARY KEY, service_name TEXT NOT NULL, instance_name TEXT NOT NULL,"
    " host TEXT, port INTEGER, status TEXT NOT NULL DEFAULT 'unknown',"
    " metadata JSONB NOT NULL DEFAULT '{}'::jsonb,"
    " registered_at TIMESTAMPTZ NOT NULL DEFAULT now(),"
    " last_heartbeat TIMESTAMPTZ NOT NULL DEFAULT now(),"
    " updated_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    SKIP_IF_TRIGGER("update_service_registrations_updated_at"),
    "CREATE TRIGGER update_service_registrations_updated_at BEFORE UPDATE"
    " ON %S.service_registrations FOR EACH ROW EXECUTE FUNCTION %S.update_updated_at_column()",

    "CREATE TABLE IF NOT EXISTS %S.audit_correlations ("
    " id UUID PRIMARY KEY DEFAULT gen_random_uuid(),"
    " source_event_id UUID NOT NULL, target_event_id UUID NOT NULL,"
    " correlation_type TEXT NOT NULL DEFAULT 'related',"
    " confidence DOUBLE PRECISION NOT NULL DEFAULT 1.0,"
    " created_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    "CREATE INDEX IF NOT EXISTS idx_audit_correlations_source ON %S.audit_correlations"
    " (source_event_id)",
    "CREATE INDEX IF NOT EXISTS idx_audit_correlations_target ON %S.audit_correlations"
    " (target_event_id)",

    "CREATE TABLE IF NOT EXISTS %S.service_metrics ("
    " id BIGSERIAL PRIMARY KEY, service_name TEXT NOT NULL, instance_name TEXT,"
    " metric_name TEXT NOT NULL, metric_value DOUBLE PRECISION NOT NULL,"
    " labels JSONB NOT NULL DEFAULT '{}'::jsonb,"
    " recorded_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    "CREATE INDEX IF NOT EXISTS idx_service_metrics_name ON %S.service_metrics"
    " (service_name, metric_name, recorded_at)",

    "CREATE TABLE IF NOT EXISTS %S.audit_events_archive ("
    " id UUID NOT NULL, trace_id TEXT, span_id TEXT, correlation_id TEXT,"
    " service_name TEXT NOT NULL, event_type TEXT NOT NULL,"
    " \"timestamp\" TIMESTAMPTZ NOT NULL, duration_ms BIGINT, status TEXT NOT NULL,"
    " metadata JSONB NOT NULL, tags TEXT[] NOT NULL,"
    " created_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL,"
    " archived_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    "CREATE INDEX IF NOT EXISTS idx_audit_events_archive_id ON %S.audit_events_archive (id)",
    "CREATE INDEX IF NOT EXISTS idx_audit_events_archive_timestamp ON %S.audit_events_archive"
    " (\"timestamp\")",
    NULL
};

/* Expand every %S in fmt to the quoted schema. Caller frees. */
static char *expand(const char *fmt, const char *qs)
{
    size_t n = strlen(fmt) + 1, q = strlen(qs);
    char *out, *o;
    for (const char *p = fmt; (p = strstr(p, "%S")); p += 2)
        n += q;
    out = malloc(n);
    if (!out)
        return NULL;
    for (o = out; *fmt;) {
        if (fmt[0] == '%' && fmt[1] == 'S') {
            memcpy(o, qs, q);
            o += q;
            fmt += 2;
        } else {
            *o++ = *fmt++;
        }
    }
    *o = '\0';
    return out;
}

static int run(wpg_t *pg, const char *sql, const char *instance)
{
    PGresult *res = wpg_exec(pg, sql, 0, NULL);
    int ok = res && wpg_res_ok(res);
    if (res && !ok)
        log_error("schema setup statement failed", "instance", instance,
                  "error", PQresultErrorMessage(res));
    PQclear(res);
    return ok ? 0 : -1;
}

/* Run one setup statement; a table someone else owns (the admin's migrations, or an
 * earlier run before provisioning) answers "must be owner" even to CREATE INDEX IF NOT
 * EXISTS: that object is left as it is, with a warning, instead of failing setup. */
static int run_owned(wpg_t *pg, const char *sql, const char *instance)
{
    PGresult *res;
    const char *state;

    if (run(pg, "SAVEPOINT ddl", instance) < 0)
        return -1;
    res = wpg_exec(pg, sql, 0, NULL);
    if (!res)
        return -1;
    if (wpg_res_ok(res)) {
        PQclear(res);
        return run(pg, "RELEASE SAVEPOINT ddl", instance);
    }
    state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (!state || strcmp(state, "42501") != 0) {
        log_error("schema setup statement failed", "instance", instance,
                  "error", PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }
    log_warn("schema object owned by another role; left as it is", "instance", instance,
             "error", PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
    PQclear(res);
    return run(pg, "ROLLBACK TO SAVEPOINT ddl", instance);
}

/* Does query (with $1 = schema) return a row? */
static int object_exists(wpg_t *pg, const char *query, const char *schema, int *out)
{
    const char *vals[1] = { schema };
    PGresult *res = wpg_exec(pg, query, 1, vals);
    int ok = res && PQresultStatus(res) == PGRES_TUPLES_OK;
    if (ok)
        *out = PQntuples(res) > 0;
    PQclear(res);
    return ok ? 0 : -1;
}

static int exists(wpg_t *pg, const char *schema, const char *table, int *out)
{
    const char *vals[2] = { schema, table };
    PGresult *res = wpg_exec(pg, "SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = $2",
                             2, vals);
    int ok = res && PQresultStatus(res) == PGRES_TUPLES_OK;
    if (ok)
        *out = PQntuples(res) > 0;
    PQclear(res);
    return ok ? 0 : -1;
}

/* The legacy migration: a table still in public and absent from the schema moves,
 * rows, indexes, owned sequences and all. A table present in both stays put (the
 * move happened already, or someone else owns the public one): logged, not fatal. */
static int migrate_from_public(wpg_t *pg, const char *schema, const char *qs,
                               const char *instance)
{
    for (int i = 0; tables[i]; i++) {
        int in_public, in_schema;
        char sql[512];
        char *qt;
        PGresult *res;

        if (exists(pg, "public", tables[i], &in_public) < 0 ||
            exists(pg, schema, tables[i], &in_schema) < 0)
            return -1;
        if (!in_public)
            continue;
        if (in_schema) {
            log_warn("table exists in public and in the schema; leaving public alone",
                     "instance", instance, "table", tables[i], "schema", schema);
            continue;
        }
        qt = wpg_conn(pg) ? PQescapeIdentifier(wpg_conn(pg), tables[i], strlen(tables[i]))
                          : NULL;
        if (!qt)
            return -1;
        snprintf(sql, sizeof(sql), "ALTER TABLE public.%s SET SCHEMA %s", qt, qs);
        PQfreemem(qt);
        /* A role that does not own the public table cannot move it (a provisioned,
         * least-privileged instance): that must not keep the worker from starting. */
        if (run(pg, "SAVEPOINT move_table", instance) < 0)
            return -1;
        res = wpg_exec(pg, sql, 0, NULL);
        if (!res)
            return -1;
        if (!wpg_res_ok(res)) {
            log_warn("cannot move table from public schema; leaving it there",
                     "instance", instance, "table", tables[i], "schema", schema,
                     "error", PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
            PQclear(res);
            if (run(pg, "ROLLBACK TO SAVEPOINT move_table", instance) < 0)
                return -1;
            continue;
        }
        PQclear(res);
        if (run(pg, "RELEASE SAVEPOINT move_table", instance) < 0)
            return -1;
        log_info("Migrated table from public schema", "instance", instance,
                 "table", tables[i], "schema", schema);
    }
    return 0;
}

int ac_schema_setup(wpg_t *pg, const char *schema, const char *instance)
{
    PGconn *conn = wpg_conn(pg);
    char *qs, lock[128];
    int rc = -1;

    if (!conn)
        return -1;
    qs = PQescapeIdentifier(conn, schema, strlen(schema));
    if (!qs)
        return -1;
    /* One key for every instance: the move from public must happen once. */
    snprintf(lock, sizeof(lock), "SELECT pg_advisory_xact_lock(%d)", 0x61756469);
    if (run(pg, "BEGIN", instance) < 0)
        goto out;
    if (run(pg, lock, instance) < 0 || migrate_from_public(pg, schema, qs, instance) < 0)
        goto rollback;
    for (int i = 0; ddl[i]; i++) {
        char *sql;
        int r;

        if (ddl[i][0] == '?') {
            int found;
            if (object_exists(pg, ddl[i] + 1, schema, &found) < 0)
                goto rollback;
            if (found)
                i++; /* the object is there: skip the statement that makes it */
            continue;
        }
        sql = expand(ddl[i], qs);
        r = sql ? run_owned(pg, sql, instance) : -1;
        free(sql);
        if (r < 0)
            goto rollback;
    }
    if (run(pg, "COMMIT", instance) < 0)
        goto out;
    log_info("audit schema ready", "instance", instance, "schema", schema);
    rc = 0;
    goto out;
rollback:
    PQclear(wpg_exec(pg, "ROLLBACK", 0, NULL));
out:
    PQfreemem(qs);
    return rc;
}

static void heartbeat_done(PGresult *res, void *arg)
{
    const char *instance = arg;
    if (res && !wpg_res_ok(res))
        log_warn("service_registrations heartbeat failed", "instance", instance,
                 "error", PQresultErrorMessage(res));
    PQclear(res);
}

int ac_schema_heartbeat(wpg_t *pg, const char *discovery_key, const char *service,
                        const char *instance, int port, const char *metadata_json)
{
    char *table = wpg_qualify(pg, "service_registrations");
    char sql[768], portbuf[16];
    const char *vals[5] = { discovery_key, service, instance, portbuf, metadata_json };

    if (!table)
        return -1;
    snprintf(portbuf, sizeof(portbuf), "%d", port);
    snprintf(sql, sizeof(sql),
             "INSERT INTO %s AS r (id, service_name, instance_name, host, port, status, metadata)"
             " VALUES ($1, $2, $3, $5::jsonb->>'host', $4::int, 'running', $5::jsonb)"
             " ON CONFLICT (id) DO UPDATE SET host = EXCLUDED.host, port = EXCLUDED.port,"
             " status = 'running', metadata = EXCLUDED.metadata, last_heartbeat = now()",
             table);
    free(table);
    /* Queued, not waited for; instance is the configuration's and outlives it. */
    return wpg_query(pg, sql, 5, vals, WPG_QUERY_TIMEOUT_MS, heartbeat_done, (void *)instance);
}
