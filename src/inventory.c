/* inventory.c - load and validate the instance inventory: the key table, one load
 * from file to result, the error list, freeing and comparing inventories.
 *
 * The file is opened once (never blocking: a FIFO or a device is refused), read into
 * one buffer of bounded size, and everything below works on that buffer. A pre-scan
 * refuses NUL and control bytes and over-long lines, with their line, before any
 * parser sees the text.
 *
 * libconfuse parses the buffer, but it stops at the first unknown key, gives no line
 * numbers for options and expands an unset ${VAR} to "" silently. So a small scanner
 * (inv_scan.c) walks the text first: it records where each section and key is, and
 * reports unknown keys, duplicate keys and titles and unset variables, all of them.
 * Its grammar allows a section and a list inside it, nothing deeper, so nesting is
 * bounded before libconfuse (whose parser recurses) sees the text. libconfuse then
 * parses the same bytes statement by statement, as the scanner delimited them, in
 * batches (inv_parse.c): it looks a section's title up among all the sections of its
 * cfg_t one by one, which would make a whole 100,000-instance file cost 10^10
 * comparisons. Every scalar is declared to libconfuse as a string and converted in
 * inv_value.c, so a bad value is one more error in the list rather than the end of
 * the parse. Cross-checks (inv_check.c: names, schemas, ports, namespaces,
 * dependencies) use hash tables (inv_hmap.c), so validation stays linear in the
 * number of instances. Nothing is returned unless the whole file is valid. include()
 * is not available: the scanner refuses it as a syntax error, so every byte the
 * loader uses passed the checks above.
 *
 * Allocation failures abort (xalloc.h). */
#include "config.h"

#include "inv_private.h"
#include "inventory.h"
#include "inv_cluster.h"
#include "log.h"
#include "mask.h"
#include "naming.h"
#include "probe_conf.h"
#include "xalloc.h"

#include <confuse.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- the key table ---------------------------------------------------------------- */

#define G(f) TG_GLOBAL, offsetof(inventory_t, f)
#define P(f) TG_POLICY, offsetof(inv_policy_t, f)
#define S(f) TG_SERVICE, offsetof(inv_service_t, f)
#define I(f) TG_INSTANCE, offsetof(inv_instance_t, f)
#define X TG_SPECIAL, 0
#define SI (SC_SERVICE | SC_INSTANCE)

/* One row per key: where it may appear, its type, where it lands, its default. */
const inv_key_t inv_keys[] = {
    { "environment", SC_GLOBAL, T_STR, G(environment), "production" },
    { "version", SC_GLOBAL, T_STR, G(version), "1.0.0" },
    { "volumes_root", SC_GLOBAL, T_PATH, G(volumes_root), "/var/lib/instanced/volumes" },
    { "state_dir", SC_GLOBAL, T_PATH, G(state_dir), "/var/lib/instanced/state" },
    { "status_listen", SC_GLOBAL, T_STR, G(status_listen), "127.0.0.1:7070" },
    { "control_socket", SC_GLOBAL, T_PATH, G(control_socket), "/run/instanced/control.sock" },
    { "health_interval", SC_GLOBAL, T_DURATION, G(health_interval_ms), "5s" },
    { "health_timeout", SC_GLOBAL, T_DURATION, G(health_timeout_ms), "2s" },
    { "status_max_connections", SC_GLOBAL, T_INT, G(status_max_connections), "0" },
    { "postgres_url", SC_GLOBAL, T_STR, G(postgres_url), NULL },
    { "redis_url", SC_GLOBAL, T_STR, G(redis_url), NULL },
    { "log_level", SC_GLOBAL, T_STR, G(log_level), "info" },
    { "provision", SC_GLOBAL, T_BOOL, G(provision), "false" },
    { "cgroups", SC_GLOBAL, T_BOOL, G(cgroups), "true" },
    { "cgroup_root", SC_GLOBAL, T_ABSPATH, G(cgroup_root), NULL },
    { "legacy_schemas", SC_GLOBAL, T_LIST, X, NULL },

    { "command", SC_SERVICE, T_PATH, S(command), NULL },
    { "args", SC_SERVICE, T_LIST, X, NULL },
    { "instance_prefix", SC_SERVICE, T_STR, S(instance_prefix), NULL },
    { "namespace_prefix", SC_SERVICE, T_STR, S(namespace_prefix), NULL },
    { "entity_type", SC_SERVICE, T_STR, S(entity_type), NULL },
    { "singleton", SC_SERVICE, T_BOOL, S(singleton), "false" },

    { "service", SC_INSTANCE, T_STR, X, NULL },
    { "port", SC_INSTANCE, T_PORT, I(port), NULL },
    { "schema", SC_INSTANCE, T_STR, X, NULL },
    { "namespace", SC_INSTANCE, T_STR, X, NULL },
    { "depends_on", SC_INSTANCE, T_LIST, X, NULL },

    { "env", SI, T_LIST, X, NULL },
    { "restart", SI, T_RESTART, P(restart), "always" },
    { "stop_timeout", SI, T_DURATION, P(stop_timeout_ms), "10s" },
    { "restart_delay", SI, T_DURATION, P(restart_delay_ms), "100ms" },
    { "restart_delay_max", SI, T_DURATION, P(restart_delay_max_ms), "30s" },
    { "stable_after", SI, T_DURATION, P(stable_after_ms), "10s" },
    { "start_limit_burst", SI, T_INT, P(start_limit_burst), "5" },
    { "start_limit_interval", SI, T_DURATION, P(start_limit_interval_ms), "60s" },
    { "ready_after", SI, T_DURATION, P(ready_after_ms), "1s" },
    { "health_path", SI, T_STR, P(health_path), NULL },
    { "health_check", SI, T_STR, P(health_check), NULL },
    { "health_port", SI, T_PORT, P(health_port), NULL },
    { "health_expect_status", SI, T_INT, P(health_expect_status), NULL },
    { "health_expect_body", SI, T_STR, P(health_expect_body), NULL },
    { "health_command", SI, T_LIST, X, NULL },
    { "failures_before_unhealthy", SI, T_INT, P(failures_before_unhealthy), "2" },
    { "successes_before_healthy", SI, T_INT, P(successes_before_healthy), "1" },
    { "restart_on_unhealthy", SI, T_INT, P(restart_on_unhealthy), "0" },
    { "critical", SI, T_BOOL, P(critical), "true" },
    { "user", SI, T_STR, P(user), NULL },
    { "group", SI, T_STR, P(group), NULL },
    { "log_max_bytes", SI, T_SIZE, P(log_max_bytes), "10MiB" },
    { "log_backups", SI, T_INT, P(log_backups), "5" },
    { "memory_max", SI, T_LIMIT, P(memory_max), NULL },
    { "memory_high", SI, T_LIMIT, P(memory_high), NULL },
    { "pids_max", SI, T_COUNT, P(pids_max), NULL },
    { "cpu_weight", SI, T_WEIGHT, P(cpu_weight), NULL },
    { "io_weight", SI, T_WEIGHT, P(io_weight), NULL },
    { "cpu_max", SI, T_CPU_MAX, P(cpu_max), NULL },
};
/* inv_private.h declares the table's size for the other files: keep it true. */
_Static_assert(sizeof(inv_keys) / sizeof(inv_keys[0]) == INV_NKEYS,
               "INV_NKEYS must be the number of rows of inv_keys[]");
/* A policy key is one bit of policy_set. */
_Static_assert(INV_NKEYS <= 64, "policy_set has 64 bits");

const inv_key_t *inv_find_key(const char *name, unsigned scope)
{
    size_t i = inv_key_index(name);
    return i != (size_t)-1 && (inv_keys[i].scope & scope) ? &inv_keys[i] : NULL;
}

/* Index of a key in inv_keys[], or (size_t)-1: a lookup per key of the file, so a
 * switch on the length and first letter narrows it to one or two comparisons. */
size_t inv_key_index(const char *name)
{
    static unsigned char bucket[64][26][6]; /* (length, letter) -> up to 5 indexes + 1 */
    static int ready;
    size_t len = strlen(name);
    unsigned char *b;

    if (!ready) {
        for (size_t i = 0; i < INV_NKEYS; i++) {
            unsigned char *e = bucket[strlen(inv_keys[i].name)][inv_keys[i].name[0] - 'a'];
            size_t k = 0;
            while (e[k])
                k++;
            if (k == 5)
                abort(); /* three share a bucket at most today; make room if ever more */
            e[k] = (unsigned char)(i + 1);
        }
        ready = 1;
    }
    if (len == 0 || len >= 64 || name[0] < 'a' || name[0] > 'z')
        return (size_t)-1;
    b = bucket[len][name[0] - 'a'];
    for (size_t k = 0; k < 6 && b[k]; k++)
        if (strcmp(inv_keys[b[k] - 1].name, name) == 0)
            return b[k] - 1u;
    return (size_t)-1;
}

/* ---- errors --------------------------------------------------------------------- */

void inv_errors_init(inv_errors_t *e) { memset(e, 0, sizeof(*e)); }

void inv_errors_free(inv_errors_t *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i].text);
    free(e->v);
    memset(e, 0, sizeof(*e));
}

/* line 0: a problem with the whole file, "FILE: message". */
void inv_add_error(loader_t *ld, int line, const char *fmt, ...)
{
    char msg[1024], *text;
    va_list ap;
    inv_errors_t *e = ld->errs;

    ld->nerr++;
    if (e->n - ld->first >= INV_MAX_ERRORS) {
        ld->dropped++;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    text = line > 0 ? xasprintf("%s:%d: %s", ld->path, line, msg)
                    : xasprintf("%s: %s", ld->path, msg);
    /* A bad service-level value is seen through each of its instances: say it once. */
    if (inv_hm_put_first(&ld->seen, 0, text, strlen(text), e->n) != NONE) {
        free(text);
        return;
    }
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 8;
        e->v = xreallocarray(e->v, e->cap, sizeof(*e->v));
    }
    e->v[e->n].line = line;
    e->v[e->n].text = text;
    e->n++;
}

/* This load's errors by line, keeping the order of discovery within a line (a merge
 * sort: stable, and n log n however many errors there are). */
static void sort_errors(struct inv_error *v, size_t n, struct inv_error *tmp)
{
    size_t h = n / 2, i = 0, j = h, k = 0;

    if (n < 2)
        return;
    sort_errors(v, h, tmp);
    sort_errors(v + h, n - h, tmp);
    while (i < h && j < n)
        tmp[k++] = v[j].line < v[i].line ? v[j++] : v[i++];
    while (i < h)
        tmp[k++] = v[i++];
    while (j < n)
        tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof(*v));
}

static void finish_errors(loader_t *ld)
{
    inv_errors_t *e = ld->errs;
    size_t n = e->n - ld->first;
    struct inv_error *tmp = xcalloc(n ? n : 1, sizeof(*tmp));

    sort_errors(e->v + ld->first, n, tmp);
    free(tmp);
    if (ld->dropped) {
        size_t dropped = ld->dropped;
        ld->first = e->n; /* let this last one in */
        inv_add_error(ld, 0, "%zu more errors not shown (at most %d are)", dropped, INV_MAX_ERRORS);
        e->v[e->n - 1].line = INT_MAX; /* after every line, for callers that sort */
    }
}

void inv_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

/* ---- one load ------------------------------------------------------------------- */

/* Read the inventory into a new NUL-terminated buffer: opened once, without blocking
 * (a FIFO would hang the loop on reload), and only a regular file of at most
 * INV_MAX_FILE bytes (-c /dev/zero would read until memory runs out). 0, or -1 with
 * err set. The caller frees *buf. */
static int read_inventory(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    size_t cap, n = 0;
    char *b;

    if (fd < 0)
        return snprintf(err, errlen, "cannot open: %s", strerror(errno)), -1;
    if (fstat(fd, &st) < 0) {
        snprintf(err, errlen, "cannot stat: %s", strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "not a regular file (%s): the inventory must be a file",
                 S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISDIR(st.st_mode) ? "a directory"
                 : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device" : "a socket");
        close(fd);
        return -1;
    }
    if (st.st_size > (off_t)INV_MAX_FILE) {
        snprintf(err, errlen, "the file is %lld bytes, more than the %u allowed",
                 (long long)st.st_size, INV_MAX_FILE);
        close(fd);
        return -1;
    }
    /* The file may grow while it is read: never read past the cap either. */
    cap = (size_t)st.st_size + 4096;
    b = xmalloc(cap + 1);
    for (;;) {
        ssize_t r;
        if (n == cap) {
            if (cap > INV_MAX_FILE)
                break;
            /* One byte past the cap is enough to know the file is too big. */
            cap = cap * 2 > (size_t)INV_MAX_FILE + 1 ? (size_t)INV_MAX_FILE + 1 : cap * 2;
            b = xrealloc(b, cap + 1);
        }
        r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "read error: %s", strerror(errno));
            free(b);
            close(fd);
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (n > INV_MAX_FILE) {
        snprintf(err, errlen, "the file grew past the %u bytes allowed while it was read",
                 INV_MAX_FILE);
        free(b);
        return -1;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}

/* inv_cluster.c's errors, with the loader's file name. */
static void cluster_report(void *ld, int line, const char *msg)
{
    inv_add_error(ld, line, "%s", msg);
}

/* Load from text (len bytes, NUL-terminated, owned and modified in place for a
 * moment by parse_chunks, freed here). */
static inventory_t *load_text(const char *name, char *text, size_t len, inv_errors_t *errs)
{
    loader_t ld = { name, errs, 0, errs->n, 0, { 0 }, 0, { 0 }, { 0 } };
    scan_t sc = { 0 };
    cfg_opt_t *svc_opts = NULL, *inst_opts = NULL, *root_opts = NULL;
    kcfg_t root = { 0 }, svc = { 0 }, inst = { 0 };
    inventory_t *inv = NULL;
    int syntax_failed = 0, failed = 0;
    inv_cluster_t *cl = NULL;
    char *cdir;

    if (inv_prescan(&ld, text, len) < 0)
        goto out;
    /* The cluster keys are taken out of the text first (inv_cluster.c). */
    cdir = inv_dir_of(name);
    cl = invc_extract(text, len, cdir, cluster_report, &ld);
    free(cdir);
    inv_scan_text(&ld, text, &sc, &syntax_failed);
    if (syntax_failed)
        goto out;

    svc_opts = inv_make_opts(SC_SERVICE);
    inst_opts = inv_make_opts(SC_INSTANCE);
    root_opts = inv_make_opts(SC_GLOBAL);
    /* Unknown keys were reported by the scanner, with every line; let libconfuse carry
     * on past them so the other errors are found too. */
    if (inv_kcfg_init(&root, root_opts) < 0 || inv_kcfg_init(&svc, svc_opts) < 0 ||
        inv_kcfg_init(&inst, inst_opts) < 0) {
        inv_add_error(&ld, 0, "out of memory");
        goto out;
    }
    if (inv_parse_globals(&ld, &sc, text, &root) < 0)
        goto out;

    inv = xcalloc(1, sizeof(*inv));
    inv->path = xstrdup(name);
    inv->dir = inv_dir_of(name);
    /* -1 marks "did not parse", so that one bad value is not reported three times. */
    inv->health_interval_ms = inv->health_timeout_ms = -1;
    inv_load_scalars(&ld, &sc, &root, SC_GLOBAL, NULL, NULL, inv->dir, inv, NULL, NULL);
    inv->legacy_schemas = inv_copy_list(&root, "legacy_schemas", &inv->nlegacy);
    inv_check_list(&ld, inv->legacy_schemas, inv->nlegacy, "legacy_schemas", &sc, -1);
    failed = inv_load_services(&ld, &sc, text, &svc, inv) < 0 ||
             inv_load_instances(&ld, &sc, text, &inst, inv) < 0;
    if (failed)
        goto out;
    /* Alone: a file with other errors is rejected anyway, and is likely half-written. */
    if (inv->ninstances == 0 && ld.nerr == 0)
        inv_add_error(&ld, 0, "no instance is defined: an inventory names at least one "
                      "instance to supervise (instance \"NAME\" { service = \"SERVICE\" })");
    inv_check_across(&ld, &sc, inv);
    invc_attach(cl, inv, cluster_report, &ld);
    inv->cluster = cl;
    cl = NULL;
    if (inv->log_level && log_parse_level(inv->log_level, &(log_level_t){ 0 }) < 0)
        inv_add_error(&ld, inv_line_of(&sc, NULL, NULL, "log_level"),
                      "log_level \"%.40s\" is not debug, info, warn or error", inv->log_level);
out:
    invc_free(cl);
    if (root.cfg)
        cfg_free(root.cfg);
    if (svc.cfg)
        cfg_free(svc.cfg);
    if (inst.cfg)
        cfg_free(inst.cfg);
    free(svc_opts);
    free(inst_opts);
    free(root_opts);
    inv_scan_free(&sc);
    free(text);
    inv_hm_free(&ld.accounts);
    inv_hm_free(&ld.services);
    if (ld.nerr > 0) {
        inv_free(inv);
        inv = NULL;
        finish_errors(&ld);
    }
    inv_hm_free(&ld.seen);
    return inv;
}

inventory_t *inv_load_buf(const char *name, const char *buf, size_t len, inv_errors_t *errs)
{
    char *text;

    if (len > INV_MAX_FILE) {
        loader_t ld = { name, errs, 0, errs->n, 0, { 0 }, 0, { 0 }, { 0 } };
        inv_add_error(&ld, 0, "the inventory is %zu bytes, more than the %u allowed", len,
                      INV_MAX_FILE);
        inv_hm_free(&ld.seen);
        return NULL;
    }
    text = xmalloc(len + 1);
    memcpy(text, buf, len);
    text[len] = '\0';
    return load_text(name, text, len, errs);
}

inventory_t *inv_load(const char *path, inv_errors_t *errs)
{
    char err[512], *text;
    size_t len;

    if (read_inventory(path, &text, &len, err, sizeof(err)) < 0) {
        loader_t ld = { path, errs, 0, errs->n, 0, { 0 }, 0, { 0 }, { 0 } };
        inv_add_error(&ld, 0, "%s", err);
        inv_hm_free(&ld.seen);
        return NULL;
    }
    return load_text(path, text, len, errs);
}

/* ---- freeing, lookups, comparing -------------------------------------------------- */

void inv_free(inventory_t *inv)
{
    if (!inv)
        return;
    for (size_t i = 0; i < inv->nservices; i++) {
        inv_service_t *s = &inv->services[i];
        free(s->name);
        free(s->command);
        inv_strv_free(s->args);
        free(s->instance_prefix);
        free(s->namespace_prefix);
        free(s->entity_type);
        inv_strv_free(s->env);
        inv_policy_free(&s->policy);
    }
    for (size_t i = 0; i < inv->ninstances; i++) {
        inv_instance_t *in = &inv->instances[i];
        free(in->name);
        free(in->schema);
        free(in->namespace);
        free(in->discovery_key);
        free(in->data_dir);
        free(in->logs_dir);
        inv_strv_free(in->env);
        inv_strv_free(in->depends_on);
        inv_policy_free(&in->policy);
    }
    free(inv->services);
    free(inv->instances);
    inv_strv_free(inv->legacy_schemas);
    free(inv->path);
    free(inv->dir);
    free(inv->environment);
    free(inv->version);
    free(inv->volumes_root);
    free(inv->state_dir);
    free(inv->status_listen);
    free(inv->control_socket);
    free(inv->postgres_url);
    free(inv->redis_url);
    free(inv->log_level);
    free(inv->cgroup_root);
    invc_free(inv->cluster);
    if (inv->index)
        inv_hm_free(&inv->index->by_name);
    free(inv->index);
    free(inv);
}

const inv_instance_t *inv_find_instance(const inventory_t *inv, const char *name)
{
    if (inv->index) {
        size_t i = inv_hm_get(&inv->index->by_name, 0, name, strlen(name));
        return i == NONE ? NULL : &inv->instances[i];
    }
    for (size_t i = 0; i < inv->ninstances; i++)
        if (strcmp(inv->instances[i].name, name) == 0)
            return &inv->instances[i];
    return NULL;
}

static int str_eq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static int strv_eq(char **a, char **b)
{
    for (; a && b && *a && *b; a++, b++)
        if (strcmp(*a, *b) != 0)
            return 0;
    return (!a || !*a) && (!b || !*b);
}

const char *inv_policy_diff(const inv_policy_t *x, const inv_policy_t *y)
{
    for (size_t i = 0; i < INV_NKEYS; i++) {
        const inv_key_t *k = &inv_keys[i];
        const void *a = (const char *)x + k->offset, *b = (const char *)y + k->offset;
        if (k->target != TG_POLICY)
            continue;
        if (inv_is_string(k->type) ? !str_eq(*(char *const *)a, *(char *const *)b)
                                   : memcmp(a, b, inv_field_size(k->type)) != 0)
            return k->name;
    }
    return NULL;
}

const char *inv_instance_diff(const inventory_t *a, const inv_instance_t *x,
                              const inventory_t *b, const inv_instance_t *y)
{
    const inv_service_t *s = x->service, *t = y->service;

    /* What reaches the worker through its environment or its exec; provision and
     * state_dir decide which credentials it gets (its own, or the admin URLs). */
    if (!str_eq(a->environment, b->environment))
        return "environment";
    if (!str_eq(a->version, b->version))
        return "version";
    if (!str_eq(a->postgres_url, b->postgres_url))
        return "postgres_url";
    if (!str_eq(a->redis_url, b->redis_url))
        return "redis_url";
    if (!str_eq(a->volumes_root, b->volumes_root))
        return "volumes_root";
    if (!str_eq(a->log_level, b->log_level))
        return "log_level";
    if (a->provision != b->provision)
        return "provision";
    if (!str_eq(a->state_dir, b->state_dir))
        return "state_dir";
    if (!str_eq(s->name, t->name))
        return "service";
    if (!str_eq(s->command, t->command))
        return "command";
    if (!strv_eq(s->args, t->args))
        return "args";
    if (!str_eq(s->entity_type, t->entity_type))
        return "entity_type";
    if (x->port != y->port)
        return "port";
    if (x->singleton != y->singleton)
        return "singleton";
    if (!str_eq(x->schema, y->schema))
        return "schema";
    if (!str_eq(x->namespace, y->namespace))
        return "namespace";
    if (!strv_eq(x->env, y->env))
        return "env";
    if (!strv_eq(x->depends_on, y->depends_on))
        return "depends_on";
    return inv_policy_diff(&x->policy, &y->policy);
}
