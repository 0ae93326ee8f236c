/* prov_pg.c - PostgreSQL side of provisioning: schemas, roles, grants, legacy tables.
 *
 * Every step first reads the catalog and issues a statement only when the state
 * differs, so a second run issues no statement at all. Identifiers always go through
 * PQescapeIdentifier and literals through PQescapeLiteral (DDL takes no parameters);
 * catalog queries use PQexecParams. A password reaches the server only as the SCRAM
 * verifier made by PQencryptPasswordConn, and is shown as '***'.
 *
 * A little over the project's ~800 lines: every PostgreSQL statement provisioning
 * issues is here, next to the catalog query that decides whether it is needed. */
#include "config.h"

#include "prov_pg.h"
#include "errbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "credentials.h"
#include "mask.h"
#include "provision.h"
#include "xalloc.h"

#define IDENT_MAX 160 /* a quoted 63-byte identifier with every quote doubled */
#define SQL_MAX   2048
#define COMMENT_PREFIX "instanced: "

struct prov_pg {
    PGconn *conn;
    int dry_run;
    int superuser;
    char admin[IDENT_MAX];  /* current_user, quoted */
    char db[IDENT_MAX];     /* current_database(), quoted */
    char monitor[IDENT_MAX];
};

static void quiet_notice(void *arg, const char *msg)
{
    (void)arg, (void)msg;
}

/* Quote s as an identifier into out. 0 or -1. */
static int qident(prov_pg_t *pg, const char *s, char out[IDENT_MAX])
{
    char *q = PQescapeIdentifier(pg->conn, s, strlen(s));
    int rc = -1;
    if (q && strlen(q) < IDENT_MAX) {
        strcpy(out, q);
        rc = 0;
    }
    PQfreemem(q);
    return rc;
}

/* Run a catalog query; NULL with err on failure. The caller PQclear()s. */
static PGresult *query(prov_pg_t *pg, const char *sql, int n, const char *const *params,
                       char *err, size_t errlen)
{
    PGresult *res = PQexecParams(pg->conn, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        errbuf_set_masked(err, errlen, "query failed: %s", PQerrorMessage(pg->conn));
        PQclear(res);
        return NULL;
    }
    return res;
}

/* A query returning one boolean row; -1 on error, else 0/1. */
static int query_bool(prov_pg_t *pg, const char *sql, int n, const char *const *params,
                      char *err, size_t errlen)
{
    PGresult *res = query(pg, sql, n, params, err, errlen);
    int v;
    if (!res)
        return -1;
    v = PQntuples(res) > 0 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return v;
}

static int exec_plain(prov_pg_t *pg, const char *sql, char *err, size_t errlen)
{
    PGresult *res = PQexec(pg->conn, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok)
        errbuf_set_masked(err, errlen, "%s: %s", sql, PQerrorMessage(pg->conn));
    PQclear(res);
    return ok ? 0 : -1;
}

/* A change: report it (shown, or sql itself), then run it. */
static int change(prov_pg_t *pg, prov_report_t *rep, const char *sql, const char *shown,
                  char *err, size_t errlen)
{
    PGresult *res;

    rep_change(rep, "sql", shown ? shown : sql);
    res = PQexec(pg->conn, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        errbuf_set_masked(err, errlen, "%s: %s", shown ? shown : sql, PQerrorMessage(pg->conn));
        PQclear(res);
        return -1;
    }
    PQclear(res);
    return 0;
}

/* Format a statement into buf and run it as a change. */
static int changef(prov_pg_t *pg, prov_report_t *rep, char *err, size_t errlen,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int changef(prov_pg_t *pg, prov_report_t *rep, char *err, size_t errlen,
                   const char *fmt, ...)
{
    char sql[SQL_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(sql))
        return errbuf_set_masked(err, errlen, "statement too long");
    return change(pg, rep, sql, NULL, err, errlen);
}

prov_pg_t *ppg_connect(const char *url, int dry_run, char *err, size_t errlen)
{
    static const char *const keys[] = { "dbname", "connect_timeout", "application_name", NULL };
    const char *vals[] = { url, "10", "instancectl-provision", NULL };
    prov_pg_t *pg = xcalloc(1, sizeof(*pg));
    PGresult *res = NULL;

    pg->dry_run = dry_run;
    pg->conn = PQconnectdbParams(keys, vals, 1);
    if (!pg->conn || PQstatus(pg->conn) != CONNECTION_OK) {
        errbuf_set_masked(err, errlen, "PostgreSQL: cannot connect: %s",
             pg->conn ? PQerrorMessage(pg->conn) : "out of memory");
        goto bad;
    }
    PQsetNoticeProcessor(pg->conn, quiet_notice, NULL);
    /* Never wait forever on a lock a worker holds; serialize concurrent runs. */
    if (exec_plain(pg, "SET lock_timeout = '10s'", err, errlen) < 0 ||
        exec_plain(pg, "SET statement_timeout = '60s'", err, errlen) < 0 ||
        exec_plain(pg, "SELECT pg_advisory_lock(hashtext('instanced provision'))", err,
                   errlen) < 0)
        goto bad;
    res = query(pg,
                "SELECT current_user, current_database(), "
                "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user)",
                0, NULL, err, errlen);
    if (!res)
        goto bad;
    pg->superuser = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
    if (qident(pg, PQgetvalue(res, 0, 0), pg->admin) < 0 ||
        qident(pg, PQgetvalue(res, 0, 1), pg->db) < 0 ||
        qident(pg, PROV_MONITOR_ROLE, pg->monitor) < 0) {
        errbuf_set_masked(err, errlen, "PostgreSQL: cannot quote identifiers");
        goto bad;
    }
    PQclear(res);
    if (dry_run && exec_plain(pg, "BEGIN", err, errlen) < 0)
        goto bad_noclear;
    return pg;
bad:
    PQclear(res);
bad_noclear:
    ppg_close(pg);
    return NULL;
}

void ppg_close(prov_pg_t *pg)
{
    if (!pg)
        return;
    if (pg->conn) {
        if (pg->dry_run && PQstatus(pg->conn) == CONNECTION_OK)
            PQclear(PQexec(pg->conn, "ROLLBACK"));
        PQfinish(pg->conn);
    }
    free(pg);
}

char *ppg_worker_url(prov_pg_t *pg, const char *role, const char *password)
{
    /* Connection settings of the admin URL the worker needs too (TLS above all);
     * never the admin's identity, password, certificate or options. */
    static const char *const carried[] = { "sslmode", "sslrootcert", "sslcrl",
                                           "target_session_attrs", "gssencmode",
                                           "channel_binding", NULL };
    PQconninfoOption *opts = PQconninfo(pg->conn);
    char *query = NULL, *url;

    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        int wanted = 0;
        for (const char *const *k = carried; *k; k++)
            wanted |= strcmp(o->keyword, *k) == 0;
        if (!wanted || !o->val || !*o->val || (o->compiled && strcmp(o->val, o->compiled) == 0))
            continue;
        cred_query_add(&query, o->keyword, o->val);
    }
    url = cred_pg_url(PQhost(pg->conn), PQport(pg->conn), PQdb(pg->conn), role, password, query);
    PQconninfoFree(opts);
    free(query);
    return url;
}

int ppg_begin(prov_pg_t *pg, char *err, size_t errlen)
{
    return exec_plain(pg, pg->dry_run ? "SAVEPOINT provision_unit" : "BEGIN", err, errlen);
}

int ppg_commit(prov_pg_t *pg, char *err, size_t errlen)
{
    return exec_plain(pg, pg->dry_run ? "RELEASE SAVEPOINT provision_unit" : "COMMIT", err,
                      errlen);
}

void ppg_rollback(prov_pg_t *pg)
{
    PQclear(PQexec(pg->conn, pg->dry_run ? "ROLLBACK TO SAVEPOINT provision_unit" : "ROLLBACK"));
    if (pg->dry_run)
        PQclear(PQexec(pg->conn, "RELEASE SAVEPOINT provision_unit"));
}

int ppg_role_state(prov_pg_t *pg, const char *role, ppg_role_state_t *state, char *err,
                   size_t errlen)
{
    const char *p[] = { role };
    PGresult *res = query(pg,
                          "SELECT coalesce(shobj_description(oid, 'pg_authid'), '') "
                          "FROM pg_roles WHERE rolname = $1",
                          1, p, err, errlen);
    if (!res)
        return -1;
    if (PQntuples(res) == 0)
        *state = PPG_ROLE_ABSENT;
    else if (strncmp(PQgetvalue(res, 0, 0), COMMENT_PREFIX, strlen(COMMENT_PREFIX)) == 0)
        *state = PPG_ROLE_MANAGED;
    else
        *state = PPG_ROLE_FOREIGN;
    PQclear(res);
    return 0;
}

#define ROLE_ATTRS "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS"

/* The role exists with ROLE_ATTRS, its comment (NULL: leave the comment alone) and
 * (when password is set) that password; a missing role needs a password. */
static int ensure_role(prov_pg_t *pg, prov_report_t *rep, const char *role,
                       const char *password, const char *comment, char *err, size_t errlen)
{
    const char *p[] = { role };
    char r[IDENT_MAX], sql[SQL_MAX], shown[SQL_MAX];
    char *verifier = NULL, *lit = NULL, *clit = NULL;
    PGresult *res;
    int exists, attrs_ok, comment_ok, rc = -1;

    if (qident(pg, role, r) < 0)
        return errbuf_set_masked(err, errlen, "cannot quote role %s", role);
    res = query(pg,
                "SELECT rolcanlogin AND NOT rolsuper AND NOT rolcreatedb AND NOT rolcreaterole "
                "AND NOT rolinherit AND NOT rolreplication AND NOT rolbypassrls, "
                "coalesce(shobj_description(oid, 'pg_authid'), '') "
                "FROM pg_roles WHERE rolname = $1",
                1, p, err, errlen);
    if (!res)
        return -1;
    exists = PQntuples(res) > 0;
    attrs_ok = exists && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    comment_ok = !comment || (exists && strcmp(PQgetvalue(res, 0, 1), comment) == 0);
    PQclear(res);

    if (!exists && !password)
        return errbuf_set_masked(err, errlen, "role %s is missing and no password was given", role);
    if (password) {
        verifier = PQencryptPasswordConn(pg->conn, password, role, "scram-sha-256");
        if (!verifier) {
            errbuf_set_masked(err, errlen, "cannot make the SCRAM verifier: %s", PQerrorMessage(pg->conn));
            goto out;
        }
        lit = PQescapeLiteral(pg->conn, verifier, strlen(verifier));
        if (!lit) {
            errbuf_set_masked(err, errlen, "cannot quote the SCRAM verifier");
            goto out;
        }
    }
    if (!exists) {
        snprintf(sql, sizeof(sql), "CREATE ROLE %s " ROLE_ATTRS " PASSWORD %s", r, lit);
        snprintf(shown, sizeof(shown), "CREATE ROLE %s " ROLE_ATTRS " PASSWORD '***'", r);
        if (change(pg, rep, sql, shown, err, errlen) < 0)
            goto out;
    } else {
        if (!attrs_ok && changef(pg, rep, err, errlen, "ALTER ROLE %s " ROLE_ATTRS, r) < 0)
            goto out;
        if (password) {
            snprintf(sql, sizeof(sql), "ALTER ROLE %s PASSWORD %s", r, lit);
            snprintf(shown, sizeof(shown), "ALTER ROLE %s PASSWORD '***'", r);
            if (change(pg, rep, sql, shown, err, errlen) < 0)
                goto out;
        }
    }
    if (!comment_ok) {
        clit = PQescapeLiteral(pg->conn, comment, strlen(comment));
        if (!clit || changef(pg, rep, err, errlen, "COMMENT ON ROLE %s IS %s", r, clit) < 0) {
            if (!clit)
                errbuf_set_masked(err, errlen, "cannot quote a comment");
            goto out;
        }
    }
    rc = 0;
out:
    if (verifier) {
        explicit_bzero(verifier, strlen(verifier));
        PQfreemem(verifier);
    }
    if (lit) {
        explicit_bzero(lit, strlen(lit));
        PQfreemem(lit);
    }
    PQfreemem(clit);
    return rc;
}

/* role has CONNECT on this database and neither CREATE nor TEMPORARY. */
static int ensure_db_connect(prov_pg_t *pg, prov_report_t *rep, const char *role, char *err,
                             size_t errlen)
{
    const char *p[] = { role };
    char r[IDENT_MAX];
    PGresult *res;
    int can_connect, extra;

    if (qident(pg, role, r) < 0)
        return errbuf_set_masked(err, errlen, "cannot quote role %s", role);
    res = query(pg,
                "SELECT coalesce(bool_or(a.privilege_type = 'CONNECT'), false), "
                "coalesce(bool_or(a.privilege_type IN ('CREATE', 'TEMPORARY')), false) "
                "FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a "
                "WHERE d.datname = current_database() "
                "AND a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $1)",
                1, p, err, errlen);
    if (!res)
        return -1;
    can_connect = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    extra = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    PQclear(res);
    if (!can_connect &&
        changef(pg, rep, err, errlen, "GRANT CONNECT ON DATABASE %s TO %s", pg->db, r) < 0)
        return -1;
    if (extra && changef(pg, rep, err, errlen, "REVOKE CREATE, TEMPORARY ON DATABASE %s FROM %s",
                         pg->db, r) < 0)
        return -1;
    return 0;
}

int ppg_global(prov_pg_t *pg, prov_report_t *rep, const char *monitor_password, int adopt,
               char *err, size_t errlen)
{
    PGresult *res;
    int v;

    if (ensure_role(pg, rep, PROV_MONITOR_ROLE, monitor_password,
                    adopt ? COMMENT_PREFIX "monitor" : NULL, err, errlen) < 0)
        return -1;

    /* PUBLIC may neither connect to this database nor make temporary tables in it:
     * each role gets CONNECT by name. */
    v = query_bool(pg,
                   "SELECT EXISTS (SELECT 1 FROM pg_database d, "
                   "aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a "
                   "WHERE d.datname = current_database() AND a.grantee = 0 "
                   "AND a.privilege_type IN ('CONNECT', 'TEMPORARY'))",
                   0, NULL, err, errlen);
    if (v < 0 || (v && changef(pg, rep, err, errlen,
                               "REVOKE CONNECT, TEMPORARY ON DATABASE %s FROM PUBLIC", pg->db) < 0))
        return -1;
    if (ensure_db_connect(pg, rep, PROV_MONITOR_ROLE, err, errlen) < 0)
        return -1;

    /* Nor to any other database of the cluster, so an instance's role stays in its own
     * database. Only an owner or a superuser can revoke; otherwise say so. */
    res = query(pg,
                "SELECT d.datname, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) "
                "OR pg_has_role(current_user, d.datdba, 'MEMBER') "
                "FROM pg_database d WHERE d.datallowconn AND d.datname <> current_database() "
                "AND EXISTS (SELECT 1 FROM aclexplode(coalesce(d.datacl, "
                "acldefault('d', d.datdba))) a WHERE a.grantee = 0 "
                "AND a.privilege_type = 'CONNECT') ORDER BY 1",
                0, NULL, err, errlen);
    if (!res)
        return -1;
    for (int i = 0; i < PQntuples(res); i++) {
        char d[IDENT_MAX];
        if (strcmp(PQgetvalue(res, i, 1), "t") != 0) {
            rep_warn(rep, "PUBLIC can connect to database %s and this admin cannot revoke it: "
                          "instance roles can connect there", PQgetvalue(res, i, 0));
            continue;
        }
        if (qident(pg, PQgetvalue(res, i, 0), d) < 0 ||
            changef(pg, rep, err, errlen, "REVOKE CONNECT ON DATABASE %s FROM PUBLIC", d) < 0) {
            PQclear(res);
            return -1;
        }
    }
    PQclear(res);

    /* PostgreSQL 15 no longer grants CREATE on public to PUBLIC; an upgraded cluster may. */
    v = query_bool(pg,
                   "SELECT EXISTS (SELECT 1 FROM pg_namespace n, "
                   "aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a "
                   "WHERE n.nspname = 'public' AND a.grantee = 0 AND a.privilege_type = 'CREATE')",
                   0, NULL, err, errlen);
    if (v < 0 || (v && changef(pg, rep, err, errlen, "REVOKE CREATE ON SCHEMA public FROM PUBLIC") < 0))
        return -1;
    return 0;
}

/* The schema exists, is owned by the admin (so the instance cannot drop it), and only
 * the instance role (USAGE, CREATE) and the monitor (USAGE) have rights on it. */
static int ensure_schema(prov_pg_t *pg, prov_report_t *rep, const ppg_spec_t *sp,
                         const char *s, const char *r, char *err, size_t errlen)
{
    const char *p[] = { sp->schema, sp->role, PROV_MONITOR_ROLE };
    PGresult *res;
    int n;

    res = query(pg,
                "SELECT n.nspowner = (SELECT oid FROM pg_roles WHERE rolname = current_user) "
                "FROM pg_namespace n WHERE n.nspname = $1",
                1, p, err, errlen);
    if (!res)
        return -1;
    n = PQntuples(res);
    if (n == 0) {
        PQclear(res);
        if (changef(pg, rep, err, errlen, "CREATE SCHEMA %s AUTHORIZATION %s", s, pg->admin) < 0)
            return -1;
    } else {
        int owned = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        PQclear(res);
        if (!owned &&
            changef(pg, rep, err, errlen, "ALTER SCHEMA %s OWNER TO %s", s, pg->admin) < 0)
            return -1;
    }

    /* Who holds what on the schema, besides its owner. */
    res = query(pg,
                "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(g.rolname) END, "
                "a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $2), "
                "a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $3), "
                "string_agg(a.privilege_type, ',' ORDER BY a.privilege_type) "
                "FROM pg_namespace n, "
                "aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a "
                "LEFT JOIN pg_roles g ON g.oid = a.grantee "
                "WHERE n.nspname = $1 AND a.grantee <> n.nspowner "
                "GROUP BY 1, 2, 3 ORDER BY 1",
                3, p, err, errlen);
    if (!res)
        return -1;
    int role_ok = 0, mon_ok = 0, rc = 0;
    for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
        const char *who = PQgetvalue(res, i, 0), *privs = PQgetvalue(res, i, 3);
        if (strcmp(PQgetvalue(res, i, 1), "t") == 0)
            role_ok = strcmp(privs, "CREATE,USAGE") == 0;
        else if (strcmp(PQgetvalue(res, i, 2), "t") == 0) {
            mon_ok = strstr(privs, "USAGE") != NULL;
            if (strstr(privs, "CREATE"))
                rc = changef(pg, rep, err, errlen, "REVOKE CREATE ON SCHEMA %s FROM %s", s,
                             pg->monitor);
        } else {
            rc = changef(pg, rep, err, errlen, "REVOKE ALL ON SCHEMA %s FROM %s", s, who);
        }
    }
    PQclear(res);
    if (rc < 0)
        return -1;
    if (!role_ok && changef(pg, rep, err, errlen, "GRANT USAGE, CREATE ON SCHEMA %s TO %s", s, r) < 0)
        return -1;
    if (!mon_ok &&
        changef(pg, rep, err, errlen, "GRANT USAGE ON SCHEMA %s TO %s", s, pg->monitor) < 0)
        return -1;
    return 0;
}

/* The role belongs to no other role, so it inherits nothing. */
static int ensure_no_membership(prov_pg_t *pg, prov_report_t *rep, const char *role,
                                const char *r, char *err, size_t errlen)
{
    const char *p[] = { role };
    PGresult *res = query(pg,
                          "SELECT quote_ident(g.rolname) FROM pg_auth_members m "
                          "JOIN pg_roles g ON g.oid = m.roleid "
                          "WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = $1) "
                          "ORDER BY 1",
                          1, p, err, errlen);
    int rc = 0;
    if (!res)
        return -1;
    for (int i = 0; i < PQntuples(res) && rc == 0; i++)
        rc = changef(pg, rep, err, errlen, "REVOKE %s FROM %s", PQgetvalue(res, i, 0), r);
    PQclear(res);
    return rc;
}

static int ensure_search_path(prov_pg_t *pg, prov_report_t *rep, const ppg_spec_t *sp,
                              const char *s, const char *r, char *err, size_t errlen)
{
    const char *p[] = { sp->role, sp->schema };
    int v = query_bool(pg,
                       "SELECT EXISTS (SELECT 1 FROM pg_db_role_setting st "
                       "JOIN pg_database d ON d.oid = st.setdatabase "
                       "JOIN pg_roles r ON r.oid = st.setrole "
                       "WHERE d.datname = current_database() AND r.rolname = $1 "
                       "AND 'search_path=' || quote_ident($2) = ANY (st.setconfig))",
                       2, p, err, errlen);
    if (v < 0)
        return -1;
    if (!v && changef(pg, rep, err, errlen, "ALTER ROLE %s IN DATABASE %s SET search_path = %s",
                      r, pg->db, s) < 0)
        return -1;
    return 0;
}

/* Move table (schema from, name t) into the instance schema and give it to the role.
 * A table of the same name already there stays where it is, with a warning. */
static int move_table(prov_pg_t *pg, prov_report_t *rep, const ppg_spec_t *sp, const char *s,
                      const char *r, const char *from, const char *t, char *err, size_t errlen)
{
    const char *p[] = { sp->schema, t };
    char f[IDENT_MAX], tq[IDENT_MAX];
    int clash = query_bool(pg,
                           "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n "
                           "ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2)",
                           2, p, err, errlen);
    if (clash < 0)
        return -1;
    if (qident(pg, from, f) < 0 || qident(pg, t, tq) < 0)
        return errbuf_set_masked(err, errlen, "cannot quote table %s.%s", from, t);
    if (clash) {
        rep_warn(rep, "legacy table %s.%s not moved: %s.%s already exists", f, tq, s, tq);
        return 0;
    }
    if (changef(pg, rep, err, errlen, "ALTER TABLE %s.%s SET SCHEMA %s", f, tq, s) < 0 ||
        changef(pg, rep, err, errlen, "ALTER TABLE %s.%s OWNER TO %s", s, tq, r) < 0)
        return -1;
    return 0;
}

/* 1 when another instance schema is a longer "<schema>_" prefix of name than mine. */
static int longer_claim(const ppg_spec_t *sp, const char *name)
{
    size_t mine = strlen(sp->schema);
    for (const char *const *o = sp->schemas; o && *o; o++) {
        size_t n = strlen(*o);
        if (n > mine && strncmp(name, *o, n) == 0 && name[n] == '_')
            return 1;
    }
    return 0;
}

/* The legacy migration rule (docs/provisioning.md, "The legacy migration"): every table of a legacy schema mapped
 * to this instance, and every table of public owned by the instance's role, named
 * "<schema>_..." (the longest matching schema wins) or known to be its (the legacy
 * tables), moves into the instance schema. */
static int migrate_legacy(prov_pg_t *pg, prov_report_t *rep, const ppg_spec_t *sp,
                          const char *s, const char *r, char *err, size_t errlen)
{
    PGresult *res;
    int rc = 0;

    for (const char *const *l = sp->legacy; l && *l && rc == 0; l++) {
        const char *p[] = { *l };
        res = query(pg,
                    "SELECT c.relname FROM pg_class c JOIN pg_namespace n "
                    "ON n.oid = c.relnamespace WHERE n.nspname = $1 "
                    "AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1",
                    1, p, err, errlen);
        if (!res)
            return -1;
        for (int i = 0; i < PQntuples(res) && rc == 0; i++)
            rc = move_table(pg, rep, sp, s, r, *l, PQgetvalue(res, i, 0), err, errlen);
        PQclear(res);
    }
    if (rc < 0)
        return -1;

    /* The known names as a text[] literal; they are plain identifiers. */
    char known[1024] = "{";
    size_t off = 1;
    for (const char *const *k = sp->known; k && *k; k++) {
        int n = snprintf(known + off, sizeof(known) - off, "%s\"%s\"", off > 1 ? "," : "", *k);
        if (n < 0 || (size_t)n >= sizeof(known) - off || strpbrk(*k, "\"\\{},"))
            return errbuf_set_masked(err, errlen, "known table list too long or not plain");
        off += (size_t)n;
    }
    snprintf(known + off, sizeof(known) - off, "}");

    const char *p[] = { sp->role, sp->schema, known };
    res = query(pg,
                "SELECT c.relname, c.relname = ANY ($3::text[]) "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
                "AND (c.relowner = (SELECT oid FROM pg_roles WHERE rolname = $1) "
                "OR left(c.relname, length($2) + 1) = $2 || '_' "
                "OR c.relname = ANY ($3::text[])) ORDER BY 1",
                3, p, err, errlen);
    if (!res)
        return -1;
    for (int i = 0; i < PQntuples(res) && rc == 0; i++)
        if (strcmp(PQgetvalue(res, i, 1), "t") == 0 || !longer_claim(sp, PQgetvalue(res, i, 0)))
            rc = move_table(pg, rep, sp, s, r, "public", PQgetvalue(res, i, 0), err, errlen);
    PQclear(res);
    return rc;
}

/* Tables in the schema the role does not own (moved by an admin, made by migrations
 * run as the admin) are still the instance's to use; the monitor reads every table
 * there, now and later, and writes none. */
static int ensure_table_grants(prov_pg_t *pg, prov_report_t *rep, const ppg_spec_t *sp,
                               const char *s, const char *r, char *err, size_t errlen)
{
    const char *p[] = { sp->schema, sp->role, PROV_MONITOR_ROLE };
    PGresult *res = query(
        pg,
        "WITH t AS (SELECT c.oid, c.relkind, c.relowner, c.relacl FROM pg_class c "
        "  JOIN pg_namespace n ON n.oid = c.relnamespace "
        "  WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')), "
        "ro AS (SELECT oid FROM pg_roles WHERE rolname = $2), "
        "mo AS (SELECT oid FROM pg_roles WHERE rolname = $3) "
        "SELECT "
        " EXISTS (SELECT 1 FROM t, ro WHERE t.relkind <> 'S' AND t.relowner <> ro.oid AND NOT ("
        "  has_table_privilege(ro.oid, t.oid, 'SELECT') AND has_table_privilege(ro.oid, t.oid, 'INSERT')"
        "  AND has_table_privilege(ro.oid, t.oid, 'UPDATE') AND has_table_privilege(ro.oid, t.oid, 'DELETE'))),"
        " EXISTS (SELECT 1 FROM t, ro WHERE t.relkind = 'S' AND t.relowner <> ro.oid AND NOT ("
        "  has_sequence_privilege(ro.oid, t.oid, 'USAGE') AND has_sequence_privilege(ro.oid, t.oid, 'UPDATE'))),"
        " EXISTS (SELECT 1 FROM t, mo WHERE t.relkind <> 'S' "
        "  AND NOT has_table_privilege(mo.oid, t.oid, 'SELECT')),"
        " EXISTS (SELECT 1 FROM t, mo, aclexplode(t.relacl) a WHERE t.relkind <> 'S' "
        "  AND a.grantee = mo.oid AND a.privilege_type <> 'SELECT'),"
        " EXISTS (SELECT 1 FROM pg_default_acl d, ro, mo, aclexplode(d.defaclacl) a "
        "  WHERE d.defaclrole = ro.oid AND d.defaclobjtype = 'r' "
        "  AND d.defaclnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) "
        "  AND a.grantee = mo.oid AND a.privilege_type = 'SELECT'),"
        " EXISTS (SELECT 1 FROM pg_default_acl d, mo, aclexplode(d.defaclacl) a "
        "  WHERE d.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = current_user) "
        "  AND d.defaclobjtype = 'r' "
        "  AND d.defaclnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) "
        "  AND a.grantee = mo.oid AND a.privilege_type = 'SELECT'),"
        " (SELECT count(DISTINCT a.privilege_type) = 4 FROM pg_default_acl d, ro, "
        "  aclexplode(d.defaclacl) a "
        "  WHERE d.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = current_user) "
        "  AND d.defaclobjtype = 'r' "
        "  AND d.defaclnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) "
        "  AND a.grantee = ro.oid "
        "  AND a.privilege_type IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE')),"
        " (SELECT count(DISTINCT a.privilege_type) = 3 FROM pg_default_acl d, ro, "
        "  aclexplode(d.defaclacl) a "
        "  WHERE d.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = current_user) "
        "  AND d.defaclobjtype = 'S' "
        "  AND d.defaclnamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1) "
        "  AND a.grantee = ro.oid AND a.privilege_type IN ('USAGE', 'SELECT', 'UPDATE'))",
        3, p, err, errlen);
    int role_tables, role_seqs, mon_missing, mon_extra, mon_default;
    int admin_mon_default, admin_role_tables, admin_role_seqs;

    if (!res)
        return -1;
    role_tables = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    role_seqs = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    mon_missing = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
    mon_extra = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
    mon_default = strcmp(PQgetvalue(res, 0, 4), "t") == 0;
    admin_mon_default = strcmp(PQgetvalue(res, 0, 5), "t") == 0;
    admin_role_tables = strcmp(PQgetvalue(res, 0, 6), "t") == 0;
    admin_role_seqs = strcmp(PQgetvalue(res, 0, 7), "t") == 0;
    PQclear(res);
    if (role_tables &&
        changef(pg, rep, err, errlen,
                "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER "
                "ON ALL TABLES IN SCHEMA %s TO %s", s, r) < 0)
        return -1;
    if (role_seqs && changef(pg, rep, err, errlen,
                             "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA %s TO %s",
                             s, r) < 0)
        return -1;
    if (mon_missing && changef(pg, rep, err, errlen, "GRANT SELECT ON ALL TABLES IN SCHEMA %s TO %s",
                               s, pg->monitor) < 0)
        return -1;
    if (mon_extra &&
        changef(pg, rep, err, errlen,
                "REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER "
                "ON ALL TABLES IN SCHEMA %s FROM %s", s, pg->monitor) < 0)
        return -1;
    if (!mon_default &&
        changef(pg, rep, err, errlen,
                "ALTER DEFAULT PRIVILEGES FOR ROLE %s IN SCHEMA %s GRANT SELECT ON TABLES TO %s",
                r, s, pg->monitor) < 0)
        return -1;
    /* Tables the admin makes there later (migrations run as the admin). */
    if (!admin_mon_default &&
        changef(pg, rep, err, errlen,
                "ALTER DEFAULT PRIVILEGES FOR ROLE %s IN SCHEMA %s GRANT SELECT ON TABLES TO %s",
                pg->admin, s, pg->monitor) < 0)
        return -1;
    if (!admin_role_tables &&
        changef(pg, rep, err, errlen,
                "ALTER DEFAULT PRIVILEGES FOR ROLE %s IN SCHEMA %s GRANT SELECT, INSERT, UPDATE, "
                "DELETE, TRUNCATE, REFERENCES, TRIGGER ON TABLES TO %s", pg->admin, s, r) < 0)
        return -1;
    if (!admin_role_seqs &&
        changef(pg, rep, err, errlen,
                "ALTER DEFAULT PRIVILEGES FOR ROLE %s IN SCHEMA %s GRANT USAGE, SELECT, UPDATE "
                "ON SEQUENCES TO %s", pg->admin, s, r) < 0)
        return -1;
    return 0;
}

int ppg_instance(prov_pg_t *pg, prov_report_t *rep, const ppg_spec_t *sp, char *err,
                 size_t errlen)
{
    char s[IDENT_MAX], r[IDENT_MAX], comment[256];

    if (qident(pg, sp->schema, s) < 0 || qident(pg, sp->role, r) < 0)
        return errbuf_set_masked(err, errlen, "cannot quote %s or %s", sp->schema, sp->role);
    snprintf(comment, sizeof(comment), COMMENT_PREFIX "instance=%s schema=%s", sp->instance,
             sp->schema);
    if (ensure_role(pg, rep, sp->role, sp->password, comment, err, errlen) < 0 ||
        ensure_no_membership(pg, rep, sp->role, r, err, errlen) < 0 ||
        ensure_schema(pg, rep, sp, s, r, err, errlen) < 0 ||
        ensure_search_path(pg, rep, sp, s, r, err, errlen) < 0 ||
        ensure_db_connect(pg, rep, sp->role, err, errlen) < 0 ||
        migrate_legacy(pg, rep, sp, s, r, err, errlen) < 0 ||
        ensure_table_grants(pg, rep, sp, s, r, err, errlen) < 0)
        return -1;
    return 0;
}

static int in_list(const char *const *v, const char *s)
{
    for (; v && *v; v++)
        if (strcmp(*v, s) == 0)
            return 1;
    return 0;
}

static int prune_role(prov_pg_t *pg, prov_report_t *rep, const char *role, const char *schema,
                      const char *const *keep_schemas, char *err, size_t errlen)
{
    char r[IDENT_MAX], s[IDENT_MAX];
    const char *p[] = { schema };
    int has_schema = 0;

    if (qident(pg, role, r) < 0)
        return errbuf_set_masked(err, errlen, "cannot quote %s", role);
    if (*schema && !in_list(keep_schemas, schema)) {
        has_schema = query_bool(pg, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
                                1, p, err, errlen);
        if (has_schema < 0 || qident(pg, schema, s) < 0)
            return -1;
    }
    if (ppg_begin(pg, err, errlen) < 0)
        return -1;
    if ((has_schema && changef(pg, rep, err, errlen, "DROP SCHEMA %s CASCADE", s) < 0) ||
        changef(pg, rep, err, errlen, "DROP OWNED BY %s", r) < 0 ||
        changef(pg, rep, err, errlen, "DROP ROLE %s", r) < 0 || ppg_commit(pg, err, errlen) < 0) {
        ppg_rollback(pg);
        return -1;
    }
    return 0;
}

int ppg_removed(prov_pg_t *pg, prov_report_t *rep, const char *const *keep_roles,
                const char *const *keep_schemas, int prune, char *err, size_t errlen)
{
    PGresult *res = query(pg,
                          "SELECT rolname, shobj_description(oid, 'pg_authid') FROM pg_roles "
                          "WHERE shobj_description(oid, 'pg_authid') LIKE 'instanced: instance=%' "
                          "ORDER BY 1",
                          0, NULL, err, errlen);
    int failures = 0;

    if (!res)
        return -1;
    for (int i = 0; i < PQntuples(res); i++) {
        const char *role = PQgetvalue(res, i, 0), *c = PQgetvalue(res, i, 1);
        char instance[160] = "", schema[80] = "";
        const char *si = strstr(c, "schema=");

        if (in_list(keep_roles, role))
            continue;
        sscanf(c, COMMENT_PREFIX "instance=%159s", instance);
        if (si)
            sscanf(si, "schema=%79s", schema);
        rep_begin(rep, *instance ? instance : role);
        if (!prune) {
            rep_note(rep, "removed from the inventory: role %s and schema %s kept "
                          "(--prune drops them with their data)", role, *schema ? schema : "?");
            continue;
        }
        if (prune_role(pg, rep, role, schema, keep_schemas, err, errlen) < 0) {
            rep_error(rep, "%s", err);
            rep_discard(rep);
            failures++;
        }
        rep_end(rep);
    }
    PQclear(res);
    return failures;
}

int ppg_end_sessions(prov_pg_t *pg, const char *role, int *ended, char *err, size_t errlen)
{
    const char *params[1] = { role };
    PGresult *res;

    *ended = 0;
    if (pg->dry_run)
        return 0;
    res = query(pg, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE usename = $1 AND pid <> pg_backend_pid()", 1, params, err, errlen);
    if (!res)
        return -1;
    *ended = PQntuples(res);
    PQclear(res);
    return 0;
}
