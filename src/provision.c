/* provision.c - the provisioning driver: per instance, PostgreSQL, Redis, credentials.
 *
 * Order per instance, chosen so that a credential file never names a password the
 * database does not have: the new file is written aside, the instance's PostgreSQL
 * transaction commits, the file is moved into place, then the Redis ACL user is set
 * (a Redis failure heals on the next run: its state is compared, password included).
 * Both servers are reached before anything is changed, so a server that is down
 * changes nothing. */
#include "config.h"

#include "provision.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "credentials.h"
#include "prov_pg.h"
#include "prov_redis.h"
#include "prov_report.h"
#include "xalloc.h"

#define ERR_MAX 1024

typedef struct run {
    const inventory_t *inv;
    unsigned flags;
    int dry_run;
    prov_report_t rep;
    prov_pg_t *pg;
    prov_redis_t *rd;
    char *cred_dir;
    char first_err[ERR_MAX + 200];
} run_t;

static void run_error(run_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void run_error(run_t *r, const char *fmt, ...)
{
    char buf[ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    rep_error(&r->rep, "%s", buf);
    if (!r->first_err[0])
        snprintf(r->first_err, sizeof(r->first_err), "%s: %s", r->rep.scope, buf);
}

int prov_role_name(const inv_instance_t *in, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, PROV_ROLE_PREFIX "%s", in->schema ? in->schema : "");
    if (!in->schema || !*in->schema || n < 0 || (size_t)n >= outlen || n > 63)
        return -1;
    return 0;
}

char *prov_credentials_path(const inventory_t *inv, const char *instance)
{
    if (!inv->state_dir)
        return NULL;
    return xasprintf("%s/credentials/%s.env", inv->state_dir, instance);
}

int prov_worker_urls(const inventory_t *inv, const inv_instance_t *in, char **pg_url,
                     char **redis_url)
{
    char role[80], pw[CRED_PASSWORD_LEN * 4];
    char *path = prov_credentials_path(inv, in->name);
    cred_t c;
    int rc;

    *pg_url = *redis_url = NULL;
    if (!path) {
        errno = ENOENT; /* no state_dir: no credential file either */
        return -1;
    }
    rc = cred_load(path, &c);
    free(path);
    if (rc < 0)
        return -1;
    /* A file written for another schema (the inventory changed since the last run)
     * names a role this instance must not use. */
    if (prov_role_name(in, role, sizeof(role)) < 0 ||
        (c.pg_url && cred_url_password(c.pg_url, role, pw, sizeof(pw)) < 0) ||
        (c.redis_url && cred_url_password(c.redis_url, role, pw, sizeof(pw)) < 0) ||
        (!c.pg_url && inv->postgres_url) || (!c.redis_url && inv->redis_url)) {
        explicit_bzero(pw, sizeof(pw));
        cred_free(&c);
        errno = ESTALE;
        return -1;
    }
    explicit_bzero(pw, sizeof(pw));
    *pg_url = c.pg_url;
    *redis_url = c.redis_url;
    return 0;
}

/* The instance a legacy schema belongs to (docs/provisioning.md, "The legacy migration"): the singleton whose
 * service name with '-' as '_' is the schema's name ("audit_correlator" is
 * audit-correlator's), else the instance whose lower-cased name with '-' as '_' is. */
static const inv_instance_t *legacy_owner(const inventory_t *inv, const char *legacy)
{
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < inv->ninstances; i++) {
            const inv_instance_t *in = &inv->instances[i];
            const char *n = pass == 0 ? in->service->name : in->name;
            size_t k = 0;
            if (pass == 0 && !in->singleton)
                continue;
            for (; n[k] && legacy[k]; k++) {
                char c = n[k] == '-' ? '_' : (char)tolower((unsigned char)n[k]);
                if (c != legacy[k])
                    break;
            }
            if (!n[k] && !legacy[k] && strcmp(in->schema, legacy) != 0)
                return in;
        }
    }
    return NULL;
}

/* Legacy tables (the ecosystem's, from before instanced) that sit in public under
 * names no rule above would tie to their service: the singleton of that service gets them (the same list as the
 * audit-correlator worker's own move, workers/audit_correlator/ac_schema.c, which a
 * provisioned role could not do: it does not own them). */
static const struct {
    const char *service;
    const char *const tables[8];
} seed_tables[] = {
    { "audit-correlator", { "audit_events", "service_registrations", "audit_correlations",
                            "service_metrics", "audit_events_archive", NULL } },
};

static const char *const *known_tables(const inv_instance_t *in)
{
    for (size_t i = 0; i < sizeof(seed_tables) / sizeof(seed_tables[0]); i++)
        if (in->singleton && strcmp(in->service->name, seed_tables[i].service) == 0)
            return seed_tables[i].tables;
    return NULL;
}

/* Generate a password, or reuse the one in the file when allowed. */
static int pick_password(run_t *r, const char *url, const char *user, int *from_file,
                         char out[CRED_PASSWORD_LEN + 1])
{
    char pw[CRED_PASSWORD_LEN * 4];

    *from_file = 0;
    if (!(r->flags & PROV_ROTATE) && url && cred_url_password(url, user, pw, sizeof(pw)) == 0 &&
        strlen(pw) <= CRED_PASSWORD_LEN) {
        strcpy(out, pw);
        explicit_bzero(pw, sizeof(pw));
        *from_file = 1;
        return 0;
    }
    return cred_generate(out);
}

/* Write the file aside when its content or owner differs. 1 when written (or would
 * be), 0 when the same, -1 on error. */
static int stage_file(run_t *r, const char *path, const char *content, uid_t uid, gid_t gid)
{
    char err[ERR_MAX], what[ERR_MAX];

    if (cred_file_same(path, content, uid, gid))
        return 0;
    snprintf(what, sizeof(what), "write %s (mode 0600, owner %ld:%ld)", path, (long)uid,
             (long)gid);
    rep_change(&r->rep, "file", what);
    if (r->dry_run)
        return 1;
    if (cred_write_new(path, content, uid, gid, err, sizeof(err)) < 0) {
        run_error(r, "%s", err);
        return -1;
    }
    return 1;
}

static int commit_file(run_t *r, const char *path)
{
    char err[ERR_MAX];
    if (r->dry_run)
        return 0;
    if (cred_commit_new(path, err, sizeof(err)) < 0) {
        run_error(r, "%s (the role's new password is lost: run again with --rotate)", err);
        return -1;
    }
    return 0;
}

/* A transaction failed (err, when the failure was not the staging's own, which reported
 * itself): roll it back, drop the staged credential file and what the report said the
 * transaction would do. */
static void abandon(run_t *r, const char *path, int staged, const char *err)
{
    if (staged >= 0)
        run_error(r, "%s", err);
    ppg_rollback(r->pg);
    if (!r->dry_run)
        cred_discard_new(path);
    rep_discard(&r->rep);
}

static void free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/* The monitoring role and the database-wide settings, one unit. */
static void provision_global(run_t *r)
{
    char err[ERR_MAX], pw[CRED_PASSWORD_LEN + 1] = "";
    char *path = NULL, *url = NULL, *content = NULL;
    ppg_role_state_t st;
    cred_t c = { 0 };
    int from_file = 0, staged = 0, send = 0;

    rep_begin(&r->rep, "database");
    if (ppg_role_state(r->pg, PROV_MONITOR_ROLE, &st, err, sizeof(err)) < 0) {
        run_error(r, "%s", err);
        return;
    }
    path = xasprintf("%s/" PROV_MONITOR_ROLE ".env", r->cred_dir);
    if (st == PPG_ROLE_FOREIGN) {
        rep_note(&r->rep, "role %s exists and was not made by instanced: its password is left "
                          "alone and no credential file is written", PROV_MONITOR_ROLE);
    } else {
        cred_load(path, &c);
        if (pick_password(r, c.pg_url, PROV_MONITOR_ROLE, &from_file, pw) < 0) {
            run_error(r, "cannot generate a password: %s", strerror(errno));
            goto out;
        }
        send = st == PPG_ROLE_ABSENT || !from_file;
        if (send && st != PPG_ROLE_ABSENT && (r->flags & PROV_CLUSTER)) {
            /* Another node knows its password: keep it, write no file here. */
            send = 0;
            rep_note(&r->rep, "role %s exists and this node has no file for it: its "
                              "password is left as it is (cluster mode)", PROV_MONITOR_ROLE);
        } else {
            url = ppg_worker_url(r->pg, PROV_MONITOR_ROLE, pw);
            content = cred_format(PROV_MONITOR_ROLE, url, NULL);
        }
    }
    if (ppg_begin(r->pg, err, sizeof(err)) < 0) {
        run_error(r, "%s", err);
        goto out;
    }
    if (ppg_global(r->pg, &r->rep, send ? pw : NULL, st != PPG_ROLE_FOREIGN, err,
                   sizeof(err)) < 0 ||
        (content && (staged = stage_file(r, path, content, geteuid(), getegid())) < 0) ||
        ppg_commit(r->pg, err, sizeof(err)) < 0) {
        abandon(r, path, staged, err);
        goto out;
    }
    if (staged > 0)
        commit_file(r, path);
    rep_end(&r->rep);
out:
    explicit_bzero(pw, sizeof(pw));
    cred_free(&c);
    free_secret(url);
    free_secret(content);
    free(path);
}

static void provision_instance(run_t *r, const inv_instance_t *in, const char *const *schemas)
{
    const inventory_t *inv = r->inv;
    char err[ERR_MAX], role[80];
    char pg_pw[CRED_PASSWORD_LEN + 1] = "", rd_pw[CRED_PASSWORD_LEN + 1] = "";
    char *path = NULL, *pg_url = NULL, *rd_url = NULL, *content = NULL;
    const char *legacy[64];
    size_t nlegacy = 0;
    cred_t c = { 0 };
    uid_t uid;
    gid_t gid;
    int pg_from_file = 0, rd_from_file = 0, send_pg = 0, staged = 0;
    ppg_role_state_t st = PPG_ROLE_ABSENT;

    rep_begin(&r->rep, in->name);
    if (prov_role_name(in, role, sizeof(role)) < 0) {
        run_error(r, "role name " PROV_ROLE_PREFIX "%s is longer than 63 bytes: give the "
                     "instance a shorter schema", in->schema);
        return;
    }
    if (cred_owner(in->policy.user, in->policy.group, &uid, &gid, err, sizeof(err)) < 0) {
        run_error(r, "credential file owner: %s", err);
        return;
    }
    path = prov_credentials_path(inv, in->name); /* not NULL: run_all checked state_dir */
    cred_load(path, &c);
    for (size_t i = 0; i < inv->nlegacy && nlegacy + 1 < sizeof(legacy) / sizeof(legacy[0]); i++)
        if (legacy_owner(inv, inv->legacy_schemas[i]) == in)
            legacy[nlegacy++] = inv->legacy_schemas[i];
    legacy[nlegacy] = NULL;

    if (r->pg) {
        if (ppg_role_state(r->pg, role, &st, err, sizeof(err)) < 0) {
            run_error(r, "%s", err);
            goto out;
        }
        if (st == PPG_ROLE_FOREIGN) {
            run_error(r, "role %s exists but was not made by instanced; drop or rename it", role);
            goto out;
        }
        if (pick_password(r, c.pg_url, role, &pg_from_file, pg_pw) < 0) {
            run_error(r, "cannot generate a password: %s", strerror(errno));
            goto out;
        }
        /* A role that exists keeps its password unless --rotate, or unless the file
         * that held it is gone (then nobody knows it any more). */
        send_pg = st == PPG_ROLE_ABSENT || !pg_from_file;
        if (send_pg && st != PPG_ROLE_ABSENT && (r->flags & PROV_CLUSTER) &&
            !(r->flags & PROV_ROTATE)) {
            /* Cluster mode: the node that runs it knows its password; this one gets
             * its own at its claim. */
            rep_note(&r->rep, "role %s exists and this node has no credential file for it: "
                              "left as it is until this node claims the instance", role);
            rep_end(&r->rep);
            goto out;
        }
        pg_url = ppg_worker_url(r->pg, role, pg_pw);
    }
    if (r->rd) {
        if (pick_password(r, c.redis_url, role, &rd_from_file, rd_pw) < 0) {
            run_error(r, "cannot generate a password: %s", strerror(errno));
            goto out;
        }
        if (!rd_from_file && (r->flags & PROV_CLUSTER) && !(r->flags & PROV_ROTATE)) {
            /* As for the role above: another node may hold this user's password. */
            int ex = prd_user_exists(r->rd, role, err, sizeof(err));
            if (ex < 0) {
                run_error(r, "%s", err);
                goto out;
            }
            if (ex) {
                rep_note(&r->rep, "ACL user %s exists and this node has no credential file "
                                  "for it: left as it is until this node claims the "
                                  "instance", role);
                rep_end(&r->rep);
                goto out;
            }
        }
        rd_url = prd_worker_url(r->rd, role, rd_pw);
    }
    content = cred_format(in->name, pg_url, rd_url);

    if (r->pg) {
        ppg_spec_t spec = { .instance = in->name, .schema = in->schema, .role = role,
                            .password = send_pg ? pg_pw : NULL, .legacy = legacy,
                            .schemas = schemas, .known = known_tables(in) };
        if (ppg_begin(r->pg, err, sizeof(err)) < 0) {
            run_error(r, "%s", err);
            goto out;
        }
        if (ppg_instance(r->pg, &r->rep, &spec, err, sizeof(err)) < 0 ||
            (staged = stage_file(r, path, content, uid, gid)) < 0 ||
            ppg_commit(r->pg, err, sizeof(err)) < 0) {
            abandon(r, path, staged, err);
            rep_note(&r->rep, "rolled back: nothing changed for this instance");
            goto out;
        }
        if (send_pg && (r->flags & PROV_END_SESSIONS)) {
            /* The new password holds from now on: sessions opened with the old one
             * (a copy of the instance left elsewhere) go too. */
            int ended = 0;
            if (ppg_end_sessions(r->pg, role, &ended, err, sizeof(err)) < 0) {
                run_error(r, "%s", err);
                goto out;
            }
            if (ended)
                rep_note(&r->rep, "ended %d session(s) of role %s", ended, role);
        }
    } else if ((staged = stage_file(r, path, content, uid, gid)) < 0) {
        goto out;
    }
    if (staged > 0 && commit_file(r, path) < 0)
        goto out;

    if (r->rd) {
        prd_spec_t spec = { .user = role, .password = rd_pw, .namespace = in->namespace,
                            .discovery_key = in->discovery_key };
        long long killed = 0;
        if (prd_instance(r->rd, &r->rep, &spec, err, sizeof(err)) < 0 ||
            ((r->flags & PROV_END_SESSIONS) &&
             prd_kill_user(r->rd, role, &killed, err, sizeof(err)) < 0)) {
            run_error(r, "%s", err);
            goto out;
        }
        if (killed)
            rep_note(&r->rep, "disconnected %lld Redis client(s) of user %s", killed, role);
    }
    rep_end(&r->rep);
out:
    explicit_bzero(pg_pw, sizeof(pg_pw));
    explicit_bzero(rd_pw, sizeof(rd_pw));
    cred_free(&c);
    free_secret(pg_url);
    free_secret(rd_url);
    free_secret(content);
    free(path);
}

/* Credential files whose instance left the inventory. */
static void removed_files(run_t *r)
{
    DIR *d = opendir(r->cred_dir);
    struct dirent *e;

    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        char name[256], *path;
        if (n < 5 || strcmp(e->d_name + n - 4, ".env") != 0 || n - 4 >= sizeof(name))
            continue;
        memcpy(name, e->d_name, n - 4);
        name[n - 4] = '\0';
        if (strcmp(name, PROV_MONITOR_ROLE) == 0 || inv_find_instance(r->inv, name))
            continue;
        rep_begin(&r->rep, name);
        path = xasprintf("%s/%s", r->cred_dir, e->d_name);
        if (!(r->flags & PROV_PRUNE)) {
            rep_note(&r->rep, "credential file %s has no instance in the inventory: kept "
                              "(--prune removes it)", path);
        } else {
            char what[1024];
            snprintf(what, sizeof(what), "remove %s", path);
            rep_change(&r->rep, "file", what);
            if (!r->dry_run && unlink(path) < 0)
                run_error(r, "remove %s: %s", path, strerror(errno));
            rep_end(&r->rep);
        }
        free(path);
    }
    closedir(d);
}

static void removed(run_t *r)
{
    const inventory_t *inv = r->inv;
    const char **roles = xcalloc(inv->ninstances + 1, sizeof(*roles));
    const char **schemas = xcalloc(inv->ninstances + 1, sizeof(*schemas));
    char (*names)[80] = xcalloc(inv->ninstances + 1, sizeof(*names));
    char err[ERR_MAX];
    int prune = (r->flags & PROV_PRUNE) != 0;

    for (size_t i = 0, k = 0; i < inv->ninstances; i++) {
        schemas[i] = inv->instances[i].schema;
        if (prov_role_name(&inv->instances[i], names[k], sizeof(names[k])) == 0) {
            roles[k] = names[k];
            k++;
        }
    }
    if (r->pg && ppg_removed(r->pg, &r->rep, roles, schemas, prune, err, sizeof(err)) < 0)
        run_error(r, "%s", err);
    if (r->rd && prd_removed(r->rd, &r->rep, roles, prune, err, sizeof(err)) < 0)
        run_error(r, "%s", err);
    removed_files(r);
    free(roles);
    free(schemas);
    free(names);
}

static int listed(const char *const *only, const char *name)
{
    if (!only)
        return 1;
    for (; *only; only++)
        if (strcmp(*only, name) == 0)
            return 1;
    return 0;
}

int prov_run(const inventory_t *inv, unsigned flags, const char *const *only, FILE *out,
                   char *err, size_t errlen)
{
    run_t r = { .inv = inv, .flags = flags, .dry_run = (flags & PROV_DRY_RUN) != 0 };
    char e[ERR_MAX];
    const char **schemas = NULL;
    int dir_changed = 0;
    mode_t mode = 0700;

    rep_init(&r.rep, out, r.dry_run);
    if (!inv->postgres_url && !inv->redis_url) {
        run_error(&r, "nothing to provision: the inventory sets neither postgres_url nor redis_url");
        goto done;
    }
    if (!inv->state_dir) {
        run_error(&r, "no state_dir");
        goto done;
    }
    r.cred_dir = xasprintf("%s/credentials", inv->state_dir);
    /* Files owned by instance users must be reachable by path for their owner; the
     * directory stays unlistable for everyone but root. */
    for (size_t i = 0; i < inv->ninstances; i++)
        if (inv->instances[i].policy.user)
            mode = 0711;

    /* Reach both servers before changing anything. */
    if (inv->postgres_url &&
        !(r.pg = ppg_connect(inv->postgres_url, r.dry_run, e, sizeof(e)))) {
        run_error(&r, "%s; nothing was changed", e);
        goto done;
    }
    if (inv->redis_url && !(r.rd = prd_connect(inv->redis_url, r.dry_run, e, sizeof(e)))) {
        run_error(&r, "%s; nothing was changed", e);
        goto done;
    }

    rep_begin(&r.rep, "credentials");
    if (cred_ensure_dir(r.cred_dir, mode, r.dry_run, &dir_changed, e, sizeof(e)) < 0) {
        run_error(&r, "%s", e);
        goto done;
    }
    if (dir_changed) {
        char what[1024];
        snprintf(what, sizeof(what), "directory %s (mode %04o)", r.cred_dir, (unsigned)mode);
        rep_change(&r.rep, "file", what);
        rep_end(&r.rep);
    }

    schemas = xcalloc(inv->ninstances + 1, sizeof(*schemas));
    for (size_t i = 0; i < inv->ninstances; i++)
        schemas[i] = inv->instances[i].schema;
    for (size_t i = 0; i < inv->nlegacy; i++) {
        rep_begin(&r.rep, "legacy");
        if (!legacy_owner(inv, inv->legacy_schemas[i]))
            rep_warn(&r.rep, "legacy schema %s belongs to no instance: its tables stay",
                     inv->legacy_schemas[i]);
    }

    if (r.pg && !(only && (flags & PROV_ROTATE)))
        provision_global(&r);
    for (size_t i = 0; i < inv->ninstances; i++)
        if (listed(only, inv->instances[i].name))
            provision_instance(&r, &inv->instances[i], schemas);
    if (!only)
        removed(&r);
    if (r.rd && prd_finish(r.rd, &r.rep, r.rep.changes > 0, e, sizeof(e)) < 0)
        run_error(&r, "%s", e);

done:
    rep_summary(&r.rep);
    ppg_close(r.pg);
    prd_close(r.rd);
    free(schemas);
    free(r.cred_dir);
    if (r.rep.errors) {
        snprintf(err, errlen, "%s", r.first_err[0] ? r.first_err : "provisioning failed");
        return -1;
    }
    if (errlen)
        err[0] = '\0';
    return 0;
}

int prov_apply(const inventory_t *inv, unsigned flags, char *err, size_t errlen)
{
    return prov_run(inv, flags, NULL, NULL, err, errlen);
}

int prov_apply_only(const inventory_t *inv, unsigned flags, const char *const *only,
                    char *err, size_t errlen)
{
    return prov_run(inv, flags, only, NULL, err, errlen);
}
