/* prov_pg.h - PostgreSQL side of provisioning: schemas, roles, grants, legacy tables. */
#ifndef INSTANCED_PROV_PG_H
#define INSTANCED_PROV_PG_H

#include <stddef.h>

#include "prov_report.h"

typedef struct prov_pg prov_pg_t;

/* Connect with the admin URL, serialize against other provisioning runs with an
 * advisory lock, and in a dry run open the one transaction that ppg_close() rolls
 * back (every statement runs in it, so the plan printed is exact and nothing stays).
 * NULL with a reason in err. */
prov_pg_t *ppg_connect(const char *url, int dry_run, char *err, size_t errlen);
void ppg_close(prov_pg_t *pg);

/* The worker's postgresql:// URL: the admin connection's host, port and database
 * with role and password. Newly allocated. */
char *ppg_worker_url(prov_pg_t *pg, const char *role, const char *password);

typedef enum {
    PPG_ROLE_ABSENT = 0,
    PPG_ROLE_MANAGED,  /* carries instanced's comment */
    PPG_ROLE_FOREIGN,  /* exists, made by someone else */
} ppg_role_state_t;

/* 0 with *state set, or -1 with err. */
int ppg_role_state(prov_pg_t *pg, const char *role, ppg_role_state_t *state, char *err,
                   size_t errlen);

/* One unit of work: a transaction (a savepoint in a dry run). */
int ppg_begin(prov_pg_t *pg, char *err, size_t errlen);
int ppg_commit(prov_pg_t *pg, char *err, size_t errlen);
void ppg_rollback(prov_pg_t *pg);

/* Database-wide settings, inside a unit: the monitoring role (created with
 * monitor_password when absent; its password is changed only when monitor_password is
 * set and the role exists; marked as instanced's only when adopt is set, so that a
 * monitor role someone else made stays theirs), CONNECT and TEMP revoked from PUBLIC
 * here and CONNECT on the other databases, no CREATE on public for PUBLIC. 0 or -1. */
int ppg_global(prov_pg_t *pg, prov_report_t *rep, const char *monitor_password, int adopt,
               char *err, size_t errlen);

typedef struct ppg_spec {
    const char *instance;
    const char *schema;
    const char *role;
    const char *password;        /* NULL: keep the role's password (must exist) */
    const char *const *legacy;   /* legacy schemas mapped to this instance, NULL-terminated */
    const char *const *schemas;  /* every instance's schema, NULL-terminated */
    const char *const *known;    /* names of public tables known to be its, or NULL */
} ppg_spec_t;

/* Everything for one instance, inside a unit. 0 or -1 with err. */
int ppg_instance(prov_pg_t *pg, prov_report_t *rep, const ppg_spec_t *spec, char *err,
                 size_t errlen);

/* Report managed roles whose instance left the inventory (keep_roles, NULL-terminated);
 * with prune, drop each one's schema (unless in keep_schemas), objects and role, one
 * unit each. Returns the number of failures, or -1 when the list cannot be read. */
int ppg_removed(prov_pg_t *pg, prov_report_t *rep, const char *const *keep_roles,
                const char *const *keep_schemas, int prune, char *err, size_t errlen);

/* End every session of role but this one (pg_terminate_backend), after its password
 * changed: a copy of the instance left running elsewhere loses its database access
 * at once, not only at its next connection. Outside any unit (a superuser's
 * function). *ended: how many. 0 or -1 with err; nothing in a dry run. */
int ppg_end_sessions(prov_pg_t *pg, const char *role, int *ended, char *err, size_t errlen);

#endif
