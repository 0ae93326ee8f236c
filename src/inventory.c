/* inventory.c - load and validate the instance inventory (libconfuse syntax).
 *
 * The file is opened once (never blocking: a FIFO or a device is refused), read into
 * one buffer of bounded size, and everything below works on that buffer. A pre-scan
 * refuses NUL and control bytes and over-long lines, with their line, before any
 * parser sees the text.
 *
 * libconfuse parses the buffer, but it stops at the first unknown key, gives no line
 * numbers for options and expands an unset ${VAR} to "" silently. So a small scanner
 * (scan_text) walks the text first: it records where each section and key is, and
 * reports unknown keys, duplicate keys and titles and unset variables, all of them.
 * Its grammar allows a section and a list inside it, nothing deeper, so nesting is
 * bounded before libconfuse (whose parser recurses) sees the text. libconfuse then
 * parses the same bytes statement by statement, as the scanner delimited them, in
 * batches: it looks a section's title up among all the sections of its cfg_t one by
 * one, which would make a whole 100,000-instance file cost 10^10 comparisons.
 * Every scalar is declared to libconfuse as a string and converted here, so a bad
 * value is one more error in the list rather than the end of the parse. Cross-checks
 * (names, schemas, ports, namespaces, dependencies) use hash tables, so validation
 * stays linear in the number of instances. Nothing is returned unless the whole file
 * is valid. include() is not available: the scanner refuses it as a syntax error, so
 * every byte the loader uses passed the checks above.
 *
 * Allocation failures abort (xalloc.h). */
#include "config.h"

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

enum { SC_GLOBAL = 1, SC_SERVICE = 2, SC_INSTANCE = 4 };

typedef enum {
    T_STR,      /* char * */
    T_PATH,     /* char *, relative to the inventory's directory */
    T_INT,      /* long, >= 0 */
    T_PORT,     /* int, 1..65535 */
    T_DURATION, /* long milliseconds */
    T_SIZE,     /* long long bytes */
    T_BOOL,     /* int */
    T_RESTART,  /* inv_restart_t */
    T_LIST,     /* handled by the section code */
} key_type_t;

typedef enum { TG_GLOBAL, TG_POLICY, TG_SERVICE, TG_INSTANCE, TG_SPECIAL } key_target_t;

typedef struct inv_key {
    const char *name;
    unsigned scope;
    key_type_t type;
    key_target_t target;
    size_t offset;
    const char *def; /* default as text; NULL: no default */
} inv_key_t;

#define G(f) TG_GLOBAL, offsetof(inventory_t, f)
#define P(f) TG_POLICY, offsetof(inv_policy_t, f)
#define S(f) TG_SERVICE, offsetof(inv_service_t, f)
#define I(f) TG_INSTANCE, offsetof(inv_instance_t, f)
#define X TG_SPECIAL, 0
#define SI (SC_SERVICE | SC_INSTANCE)

/* One row per key: where it may appear, its type, where it lands, its default. */
static const inv_key_t keys[] = {
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
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static size_t key_index(const char *name);

static const inv_key_t *find_key(const char *name, unsigned scope)
{
    size_t i = key_index(name);
    return i != (size_t)-1 && (keys[i].scope & scope) ? &keys[i] : NULL;
}

/* Index of a key in keys[], or (size_t)-1: a lookup per key of the file, so a
 * switch on the length and first letter narrows it to one or two comparisons. */
static size_t key_index(const char *name)
{
    static unsigned char bucket[64][26][4]; /* (length, letter) -> up to 3 indexes + 1 */
    static int ready;
    size_t len = strlen(name);
    unsigned char *b;

    if (!ready) {
        for (size_t i = 0; i < NKEYS; i++) {
            unsigned char *e = bucket[strlen(keys[i].name)][keys[i].name[0] - 'a'];
            size_t k = 0;
            while (e[k])
                k++;
            if (k == 3)
                abort(); /* two share a bucket at most today; make room if ever more */
            e[k] = (unsigned char)(i + 1);
        }
        ready = 1;
    }
    if (len == 0 || len >= 64 || name[0] < 'a' || name[0] > 'z')
        return (size_t)-1;
    b = bucket[len][name[0] - 'a'];
    for (size_t k = 0; k < 4 && b[k]; k++)
        if (strcmp(keys[b[k] - 1].name, name) == 0)
            return b[k] - 1u;
    return (size_t)-1;
}

/* ---- hash tables ------------------------------------------------------------------ */

/* Open addressing, keyed by (tag, the first alen bytes of a): enough for every lookup
 * here (section titles by kind, names, schemas, namespace prefixes, error texts).
 * Keys point into storage that outlives the table. Entries are kept small, as a
 * 100,000-instance inventory fills several tables of that size. */
typedef struct hent {
    const char *a;     /* NULL: a free slot */
    uint32_t alen;
    uint32_t val;
    int32_t tag;
    uint32_t h;
} hent_t;

typedef struct hmap {
    hent_t *v;
    size_t cap, n;
    int nocase; /* compare a case-insensitively (instance names) */
} hmap_t;

static uint32_t hm_hash(const hmap_t *m, long tag, const char *a, size_t alen)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)tag;

    for (size_t i = 0; i < alen; i++) {
        unsigned char c = (unsigned char)a[i];
        h = (h ^ (m->nocase ? (unsigned char)tolower(c) : c)) * 1099511628211ULL;
    }
    /* FNV leaves the low bits (the slot) depending on the inputs' low bits only: mix. */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return (uint32_t)h;
}

static int hm_match(const hmap_t *m, const hent_t *e, long tag, const char *a, size_t alen)
{
    return e->tag == tag && e->alen == alen &&
           (m->nocase ? strncasecmp(e->a, a, alen) == 0 : memcmp(e->a, a, alen) == 0);
}

static hent_t *hm_slot(const hmap_t *m, uint32_t h, long tag, const char *a, size_t alen)
{
    size_t i = h & (m->cap - 1);
    while (m->v[i].a && !(m->v[i].h == h && hm_match(m, &m->v[i], tag, a, alen)))
        i = (i + 1) & (m->cap - 1);
    return &m->v[i];
}

/* Room for at least n entries at a load of at most 3/4. */
static void hm_reserve(hmap_t *m, size_t n)
{
    size_t cap = m->cap ? m->cap : 64;
    hmap_t g;

    while (n * 4 > cap * 3)
        cap *= 2;
    if (cap == m->cap)
        return;
    g = (hmap_t){ xcalloc(cap, sizeof(hent_t)), cap, m->n, m->nocase };
    for (size_t i = 0; i < m->cap; i++) {
        hent_t *e = &m->v[i];
        if (e->a)
            *hm_slot(&g, e->h, e->tag, e->a, e->alen) = *e;
    }
    free(m->v);
    *m = g;
}

/* The value stored under the key, or (size_t)-1. */
static size_t hm_get(const hmap_t *m, long tag, const char *a, size_t alen)
{
    const hent_t *e;
    if (!m->cap)
        return (size_t)-1;
    e = hm_slot(m, hm_hash(m, tag, a, alen), tag, a, alen);
    return e->a ? e->val : (size_t)-1;
}

/* Store val unless the key is there: returns the value already stored, or (size_t)-1
 * when val was stored (the first one wins). Values are below 2^32 (indexes into
 * arrays built from a file of at most INV_MAX_FILE bytes). */
static size_t hm_put_first(hmap_t *m, long tag, const char *a, size_t alen, size_t val)
{
    uint32_t h;
    hent_t *e;

    hm_reserve(m, m->n + 1);
    h = hm_hash(m, tag, a, alen);
    e = hm_slot(m, h, tag, a, alen);
    if (e->a)
        return e->val;
    *e = (hent_t){ a, (uint32_t)alen, (uint32_t)val, (int32_t)tag, h };
    m->n++;
    return (size_t)-1;
}

static void hm_free(hmap_t *m)
{
    free(m->v);
    memset(m, 0, sizeof(*m));
}

#define NONE ((size_t)-1)

/* ---- errors --------------------------------------------------------------------- */

void inv_errors_init(inv_errors_t *e) { memset(e, 0, sizeof(*e)); }

void inv_errors_free(inv_errors_t *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i].text);
    free(e->v);
    memset(e, 0, sizeof(*e));
}

typedef struct loader {
    const char *path;
    inv_errors_t *errs;
    int nerr;
    size_t first;      /* errs->n when this load began */
    size_t dropped;    /* errors past INV_MAX_ERRORS, counted only */
    hmap_t seen;       /* texts of this load's errors, to say each once */
    int line_offset;   /* during a libconfuse parse: line of its chunk's start, less 1 */
    hmap_t accounts;   /* user (tag 0) or group (tag 1) name -> exists */
    hmap_t services;   /* service name -> index */
} loader_t;

static void add_error(loader_t *ld, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* line 0: a problem with the whole file, "FILE: message". */
static void add_error(loader_t *ld, int line, const char *fmt, ...)
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
    if (hm_put_first(&ld->seen, 0, text, strlen(text), e->n) != NONE) {
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
        add_error(ld, 0, "%zu more errors not shown (at most %d are)", dropped, INV_MAX_ERRORS);
        e->v[e->n - 1].line = INT_MAX; /* after every line, for callers that sort */
    }
}

/* ---- the pre-scan: bytes no parser should see ----------------------------------------- */

/* NUL and control bytes other than tab, LF and CR have no place in an inventory (one
 * NUL used to make the scanner and libconfuse read different texts), and a line
 * longer than INV_MAX_LINE costs libconfuse quadratic time. Reports each with its
 * line; returns 0 when the text is clean. Bytes of 0x80 and above (UTF-8) pass. */
static int prescan(loader_t *ld, const char *buf, size_t len)
{
    int line = 1, bad = 0, bad_line = 0;
    size_t line_start = 0;

    for (size_t i = 0; i <= len; i++) {
        unsigned char c = i < len ? (unsigned char)buf[i] : '\n';
        if (c == '\n') {
            if (i - line_start > INV_MAX_LINE) {
                add_error(ld, line, "line is %zu bytes long, more than the %d allowed",
                          i - line_start, INV_MAX_LINE);
                bad = 1;
            }
            line++;
            line_start = i + 1;
            continue;
        }
        if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f) {
            /* One per line is enough to find it. */
            if (bad_line != line && c == 0)
                add_error(ld, line, "NUL byte at column %zu: the inventory must be text",
                          i - line_start + 1);
            else if (bad_line != line)
                add_error(ld, line, "control character 0x%02x at column %zu: the inventory "
                          "must be text", c, i - line_start + 1);
            bad = bad_line = line;
        }
        if (ld->nerr >= INV_MAX_ERRORS)
            break;
    }
    return bad ? -1 : 0;
}

/* ---- the scanner: where things are ------------------------------------------------ */

/* A known key set in a section: its index in keys[] and the line of its first
 * setting. */
typedef struct scan_kline {
    unsigned char key;
    int line;
} scan_kline_t;

typedef struct scan_sec {
    char *kind;        /* "service", "instance" */
    char *title;
    int line;
    int skip;          /* a duplicate title or an unknown kind: not loaded */
    size_t body_start, body_end; /* the text between its braces */
    int body_line;     /* line of body_start */
    scan_kline_t *kl;  /* the known keys it sets (at most NKEYS) */
    size_t nkl;
} scan_sec_t;

/* One top-level statement: a key (sec -1) or a section, as bytes [start, end). */
typedef struct scan_item {
    int sec;
    size_t start, end;
    int line;
} scan_item_t;

typedef struct scan {
    scan_sec_t *secs;
    size_t nsecs, capsecs;
    scan_item_t *items;
    size_t nitems, capitems;
    hmap_t sec_map;    /* (kind's scope, title) -> first section of a known kind */
    int top_line[NKEYS]; /* line where each key is first set at the top level, or 0 */
} scan_t;

typedef enum { TK_EOF, TK_WORD, TK_STRING, TK_PUNCT } tok_kind_t;

typedef struct tok {
    tok_kind_t kind;
    char *text;        /* malloc'd for WORD and STRING */
    char punct;        /* for PUNCT: { } = ( ) , and '+' for "+=" */
    int line;
    int dquoted;       /* STRING in double quotes (libconfuse expands ${} there) */
    size_t off;        /* where the token starts in the text */
} tok_t;

typedef struct lexer {
    const char *base;
    const char *p;
    int line;
} lexer_t;

/* The '}' closing "${" at p on the same line, or NULL: never a search through the
 * rest of the file for each "${". */
static const char *var_end(const char *p)
{
    for (p += 2; *p && *p != '\n'; p++)
        if (*p == '}')
            return p;
    return NULL;
}

static void lex_next(lexer_t *lx, tok_t *t)
{
    const char *p = lx->p;

    memset(t, 0, sizeof(*t));
    for (;;) {
        while (*p && isspace((unsigned char)*p)) {
            if (*p == '\n')
                lx->line++;
            p++;
        }
        if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
            while (*p && *p != '\n')
                p++;
            continue;
        }
        if (p[0] == '/' && p[1] == '*') {
            p += 2;
            while (*p && !(p[0] == '*' && p[1] == '/')) {
                if (*p == '\n')
                    lx->line++;
                p++;
            }
            if (*p)
                p += 2;
            continue;
        }
        break;
    }
    t->line = lx->line;
    t->off = (size_t)(p - lx->base);
    if (*p == '\0') {
        t->kind = TK_EOF;
    } else if (*p == '"' || *p == '\'') {
        char q = *p++;
        const char *s = p;
        size_t n = 0;
        char *out;
        while (*p && *p != q) {
            if (*p == '\\' && p[1])
                p++;
            if (*p == '\n')
                lx->line++;
            p++;
        }
        out = xmalloc((size_t)(p - s) + 1);
        for (const char *c = s; c < p; c++) {
            if (*c == '\\' && c + 1 < p)
                c++;
            out[n++] = *c;
        }
        out[n] = '\0';
        if (*p)
            p++;
        t->kind = TK_STRING;
        t->text = out;
        t->dquoted = q == '"';
    } else if (p[0] == '+' && p[1] == '=') {
        t->kind = TK_PUNCT;
        t->punct = '+';
        p += 2;
    } else if (strchr("{}=(),", *p)) {
        t->kind = TK_PUNCT;
        t->punct = *p++;
    } else {
        const char *s = p;
        while (*p && !isspace((unsigned char)*p) && !strchr("{}=(),\"'#", *p) &&
               !(p[0] == '/' && (p[1] == '/' || p[1] == '*'))) {
            /* ${VAR} and ${VAR:-default} belong to an unquoted value, braces and all. */
            if (p[0] == '$' && p[1] == '{' && var_end(p))
                p = var_end(p);
            p++;
        }
        t->kind = TK_WORD;
        t->text = xstrndup(s, (size_t)(p - s));
    }
    lx->p = p;
}

/* Report ${VAR} without a default when VAR is unset: libconfuse would silently expand
 * it to an empty string. "${VAR:-default}" is fine. */
static void check_vars(loader_t *ld, const char *s, int line)
{
    for (const char *p = s; (p = strstr(p, "${")) != NULL; p += 2) {
        const char *end = strchr(p + 2, '}');
        char name[256];
        size_t n;
        if (!end)
            return;
        n = strcspn(p + 2, ":}");
        if (n == 0 || n >= sizeof(name))
            continue;
        memcpy(name, p + 2, n);
        name[n] = '\0';
        if (p[2 + n] == ':' && p[3 + n] == '-')
            continue;
        if (getenv(name) == NULL)
            add_error(ld, line, "environment variable %s is not set (use ${%s:-default} "
                      "for a default)", name, name);
    }
}

/* Make room for one more element of size bytes in *arr (n used, *cap allocated),
 * zeroed; returns its index. Doubling keeps appends linear. */
static size_t push(void **arr, size_t *n, size_t *cap, size_t size)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *arr = xreallocarray(*arr, *cap, size);
    }
    memset((char *)*arr + *n * size, 0, size);
    return (*n)++;
}

static void scan_free(scan_t *sc)
{
    for (size_t i = 0; i < sc->nsecs; i++) {
        free(sc->secs[i].kind);
        free(sc->secs[i].title);
        free(sc->secs[i].kl);
    }
    free(sc->secs);
    free(sc->items);
    hm_free(&sc->sec_map);
}

static unsigned kind_scope(const char *kind)
{
    if (strcmp(kind, "service") == 0)
        return SC_SERVICE;
    if (strcmp(kind, "instance") == 0)
        return SC_INSTANCE;
    return 0;
}

/* first_line: per key of keys[], the line of its first setting in the current
 * section (or at the top level), 0 if none yet. */
static void scan_add_key(loader_t *ld, scan_t *sc, int cur, const tok_t *k, int append,
                         int *first_line)
{
    unsigned scope = cur < 0 ? SC_GLOBAL : kind_scope(sc->secs[cur].kind);
    const inv_key_t *key = scope ? find_key(k->text, scope) : NULL;
    size_t ki;

    if (!scope)
        return; /* in a section of an unknown kind, reported already */
    if (!key) {
        if (cur < 0)
            add_error(ld, k->line, "unknown key \"%s\" at the top level", k->text);
        else
            add_error(ld, k->line, "unknown key \"%s\" in %s \"%s\"", k->text,
                      sc->secs[cur].kind, sc->secs[cur].title);
        return;
    }
    ki = (size_t)(key - keys);
    if (first_line[ki] && !append)
        add_error(ld, k->line, "duplicate key \"%s\" (first set at line %d)", k->text,
                  first_line[ki]);
    if (!first_line[ki])
        first_line[ki] = k->line;
}

static int scan_add_section(loader_t *ld, scan_t *sc, const tok_t *kind, const tok_t *title)
{
    size_t i = push((void **)&sc->secs, &sc->nsecs, &sc->capsecs, sizeof(*sc->secs)), first;

    sc->secs[i].kind = xstrdup(kind->text);
    sc->secs[i].title = xstrdup(title->text);
    sc->secs[i].line = kind->line;
    if (!kind_scope(kind->text)) {
        add_error(ld, kind->line, "unknown section \"%s\" (expected service or instance)",
                  kind->text);
        sc->secs[i].skip = 1;
        return (int)i;
    }
    first = hm_put_first(&sc->sec_map, kind_scope(kind->text), sc->secs[i].title,
                         strlen(title->text), i);
    if (first != NONE) {
        add_error(ld, kind->line, "duplicate %s \"%s\" (first defined at line %d)",
                  kind->text, title->text, sc->secs[first].line);
        sc->secs[i].skip = 1;
    }
    return (int)i;
}

static void scan_add_item(scan_t *sc, int sec, size_t start, size_t end, int line)
{
    size_t i = push((void **)&sc->items, &sc->nitems, &sc->capitems, sizeof(*sc->items));
    sc->items[i] = (scan_item_t){ sec, start, end, line };
}

/* A recursive-descent pass over the grammar libconfuse accepts for an inventory:
 *   file    := { key ("=" | "+=") value | kind title "{" { key ("=" | "+=") value } "}" }
 *   value   := atom | "{" [ atom { "," atom } ] "}"
 * It records where each section and key is and reports the first syntax error with
 * its true line (libconfuse's own line count drifts after comments). It recurses
 * once at most (a section's body), whatever the input. */
typedef struct parser {
    loader_t *ld;
    scan_t *sc;
    lexer_t lx;
    tok_t t;
    size_t prev_end;   /* where the token before t ended */
    int failed;
    int sec_line[NKEYS]; /* first lines of keys in the current section (scan_add_key) */
} parser_t;

static void p_syntax(parser_t *p, const char *what);

static void p_next(parser_t *p)
{
    free(p->t.text);
    p->prev_end = (size_t)(p->lx.p - p->lx.base);
    lex_next(&p->lx, &p->t);
    /* A quoted string may span lines: bound it as a line is bounded. */
    if ((p->t.kind == TK_STRING || p->t.kind == TK_WORD) && strlen(p->t.text) > INV_MAX_LINE &&
        !p->failed) {
        add_error(p->ld, p->t.line, "a value longer than %d bytes", INV_MAX_LINE);
        p->failed = 1;
    }
}

static int p_atom(const tok_t *t) { return t->kind == TK_WORD || t->kind == TK_STRING; }

static void p_syntax(parser_t *p, const char *what)
{
    if (p->failed)
        return;
    p->failed = 1;
    if (p->t.kind == TK_EOF) {
        add_error(p->ld, p->t.line, "syntax error: %s, found the end of the file", what);
    } else if (p->t.kind == TK_PUNCT) {
        add_error(p->ld, p->t.line, "syntax error: %s, found '%s'", what,
                  p->t.punct == '+' ? "+=" : (char[2]){ p->t.punct, 0 });
    } else if (p->t.kind == TK_STRING) {
        /* A quoted string may be a password or an env entry: never echo it. */
        add_error(p->ld, p->t.line, "syntax error: %s, found a quoted string", what);
    } else if (key_index(p->t.text) != NONE || kind_scope(p->t.text)) {
        add_error(p->ld, p->t.line, "syntax error: %s, found \"%s\"", what, p->t.text);
    } else {
        /* Any other word may be a secret written without its quotes or its key. */
        add_error(p->ld, p->t.line, "syntax error: %s, found an unquoted value", what);
    }
}

static void p_check_atom(parser_t *p)
{
    if (p->t.kind == TK_WORD || p->t.dquoted)
        check_vars(p->ld, p->t.text, p->t.line);
}

/* At the token after "=": a value. */
static void p_value(parser_t *p)
{
    if (p_atom(&p->t)) {
        p_check_atom(p);
        p_next(p);
        return;
    }
    if (!(p->t.kind == TK_PUNCT && p->t.punct == '{')) {
        p_syntax(p, "expected a value");
        return;
    }
    p_next(p);
    if (p->t.kind == TK_PUNCT && p->t.punct == '}') {
        p_next(p);
        return;
    }
    for (;;) {
        if (!p_atom(&p->t)) {
            p_syntax(p, "expected a list item");
            return;
        }
        p_check_atom(p);
        p_next(p);
        if (p->t.kind == TK_PUNCT && p->t.punct == ',') {
            p_next(p);
            continue;
        }
        if (p->t.kind == TK_PUNCT && p->t.punct == '}') {
            p_next(p);
            return;
        }
        p_syntax(p, "expected ',' or '}' in a list");
        return;
    }
}

/* Statements until '}' (in a section) or the end of the file (at the top). */
static void p_body(parser_t *p, int sec)
{
    if (sec >= 0) {
        p->sc->secs[sec].body_start = p->t.off;
        p->sc->secs[sec].body_line = p->t.line;
        memset(p->sec_line, 0, sizeof(p->sec_line));
    }
    while (!p->failed) {
        tok_t name;

        if (p->t.kind == TK_EOF) {
            if (sec >= 0)
                p_syntax(p, "expected '}' to close the section");
            return;
        }
        if (sec >= 0 && p->t.kind == TK_PUNCT && p->t.punct == '}') {
            scan_sec_t *s = &p->sc->secs[sec];
            s->body_end = p->t.off;
            for (size_t k = 0; k < NKEYS; k++)
                s->nkl += p->sec_line[k] != 0;
            s->kl = xcalloc(s->nkl ? s->nkl : 1, sizeof(*s->kl));
            s->nkl = 0;
            for (size_t k = 0; k < NKEYS; k++)
                if (p->sec_line[k])
                    s->kl[s->nkl++] = (scan_kline_t){ (unsigned char)k, p->sec_line[k] };
            p_next(p);
            return;
        }
        if (p->t.kind != TK_WORD) {
            p_syntax(p, "expected a key");
            return;
        }
        name = p->t;
        p->t.text = NULL; /* name owns it now */
        p_next(p);
        if (p->t.kind == TK_PUNCT && (p->t.punct == '=' || p->t.punct == '+')) {
            scan_add_key(p->ld, p->sc, sec, &name, p->t.punct == '+',
                         sec < 0 ? p->sc->top_line : p->sec_line);
            p_next(p);
            p_value(p);
            if (sec < 0 && !p->failed)
                scan_add_item(p->sc, -1, name.off, p->prev_end, name.line);
        } else if (sec < 0 && p_atom(&p->t)) {
            tok_t title = p->t;
            int idx;
            p->t.text = NULL; /* title owns it now */
            p_next(p);
            if (p->t.kind == TK_PUNCT && p->t.punct == '{') {
                idx = scan_add_section(p->ld, p->sc, &name, &title);
                p_next(p);
                p_body(p, idx);
                if (!p->failed)
                    scan_add_item(p->sc, idx, name.off, p->prev_end, name.line);
            } else {
                p_syntax(p, "expected '{' after the section name");
            }
            free(title.text);
        } else if (sec < 0 && p->t.kind == TK_PUNCT && p->t.punct == '{') {
            add_error(p->ld, name.line, "section \"%s\" needs a name", name.text);
            p->failed = 1;
        } else {
            p_syntax(p, "expected '=' after a key");
        }
        free(name.text);
    }
}

static void scan_text(loader_t *ld, const char *text, scan_t *sc, int *syntax_failed)
{
    parser_t p = { ld, sc, { text, text, 1 }, { 0 }, 0, 0, { 0 } };

    lex_next(&p.lx, &p.t);
    p_body(&p, -1);
    free(p.t.text);
    *syntax_failed = p.failed;
}

/* Line of key `name` in section sec (-1: the top level), or of the section, or 0. */
static int sec_line(const scan_t *sc, long sec, const char *name)
{
    size_t k = name ? key_index(name) : NONE;

    if (sec < 0)
        return k == NONE ? 0 : sc->top_line[k];
    for (size_t i = 0; k != NONE && i < sc->secs[sec].nkl; i++)
        if (sc->secs[sec].kl[i].key == k)
            return sc->secs[sec].kl[i].line;
    return sc->secs[sec].line;
}

/* Line of key `name` in section (kind, title), or of the section, or 0. */
static int line_of(const scan_t *sc, const char *kind, const char *title, const char *name)
{
    size_t sec = NONE;

    if (kind && (sec = hm_get(&sc->sec_map, kind_scope(kind), title, strlen(title))) == NONE)
        return 0;
    return sec_line(sc, kind ? (long)sec : -1, name);
}

/* ---- value conversion ------------------------------------------------------------- */

int inv_parse_duration(const char *s, long *ms)
{
    char *end;
    double v;

    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || v < 0)
        return -1;
    while (*end == ' ')
        end++;
    if (*end == '\0' || strcmp(end, "s") == 0 || strcmp(end, "sec") == 0)
        v *= 1000;
    else if (strcmp(end, "ms") == 0)
        ;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        v *= 60000;
    else if (strcmp(end, "h") == 0)
        v *= 3600000;
    else
        return -1;
    if (v > (double)LONG_MAX / 2)
        return -1;
    *ms = (long)(v + 0.5);
    return 0;
}

int inv_parse_size(const char *s, long long *bytes)
{
    static const struct { const char *suffix; long long mul; } units[] = {
        { "", 1 }, { "B", 1 }, { "k", 1024 }, { "K", 1024 }, { "KiB", 1024 },
        { "KB", 1000 }, { "M", 1048576 }, { "MiB", 1048576 }, { "MB", 1000000 },
        { "G", 1073741824 }, { "GiB", 1073741824 }, { "GB", 1000000000 },
    };
    char *end;
    long long v;

    if (!s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno)
        return -1;
    while (*end == ' ')
        end++;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(end, units[i].suffix) == 0) {
            if (v > LLONG_MAX / units[i].mul)
                return -1;
            *bytes = v * units[i].mul;
            return 0;
        }
    return -1;
}

static int parse_bool(const char *s, int *out)
{
    static const char *yes[] = { "true", "yes", "on", "1" }, *no[] = { "false", "no", "off", "0" };
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return *out = 1, 0;
        if (strcasecmp(s, no[i]) == 0)
            return *out = 0, 0;
    }
    return -1;
}

const char *inv_restart_name(inv_restart_t r)
{
    return r == INV_RESTART_ON_FAILURE ? "on-failure" : r == INV_RESTART_NEVER ? "never" : "always";
}

/* Absolute paths stay; relative ones are taken from the inventory's directory. */
static char *resolve_path(const char *dir, const char *p)
{
    if (p[0] == '/' || !dir)
        return xstrdup(p);
    return xasprintf("%s/%s", dir, p);
}

/* Convert text for key k into the field at base + k->offset. 0, or -1 with err set. */
static int set_value(const inv_key_t *k, const char *text, const char *dir, void *base,
                     char *err, size_t errlen)
{
    void *f = (char *)base + k->offset;
    long n;
    char *end;

    switch (k->type) {
    case T_STR:
        /* Values are never echoed here: a URL or an env value may hold a secret. */
        if (strlen(text) > INV_MAX_VALUE)
            return snprintf(err, errlen, "%s is longer than %d bytes", k->name,
                            INV_MAX_VALUE), -1;
        free(*(char **)f);
        *(char **)f = xstrdup(text);
        return 0;
    case T_PATH: {
        char *path;
        if (*text == '\0')
            return snprintf(err, errlen, "%s must not be empty", k->name), -1;
        path = resolve_path(dir, text);
        if (strlen(path) >= PATH_MAX) {
            free(path);
            return snprintf(err, errlen, "%s is longer than %d bytes (PATH_MAX)", k->name,
                            PATH_MAX - 1), -1;
        }
        free(*(char **)f);
        *(char **)f = path;
        return 0;
    }
    case T_INT:
    case T_PORT:
        errno = 0;
        n = strtol(text, &end, 10);
        if (errno || end == text || *end || n < 0 || n > INT_MAX ||
            (k->type == T_PORT && (n < 1 || n > 65535)))
            return snprintf(err, errlen, "%s: \"%s\" is not %s", k->name, text,
                            k->type == T_PORT ? "a port (1-65535)" : "a non-negative integer"), -1;
        if (k->type == T_PORT)
            *(int *)f = (int)n;
        else
            *(long *)f = n;
        return 0;
    case T_DURATION:
        if (inv_parse_duration(text, (long *)f) < 0)
            return snprintf(err, errlen, "%s: \"%s\" is not a duration (e.g. 500ms, 10s, 2m)",
                            k->name, text), -1;
        return 0;
    case T_SIZE:
        if (inv_parse_size(text, (long long *)f) < 0)
            return snprintf(err, errlen, "%s: \"%s\" is not a size (e.g. 10MiB)", k->name,
                            text), -1;
        return 0;
    case T_BOOL:
        if (parse_bool(text, (int *)f) < 0)
            return snprintf(err, errlen, "%s: \"%s\" is not a boolean (true or false)", k->name,
                            text), -1;
        return 0;
    case T_RESTART:
        if (strcmp(text, "always") == 0)
            *(inv_restart_t *)f = INV_RESTART_ALWAYS;
        else if (strcmp(text, "on-failure") == 0)
            *(inv_restart_t *)f = INV_RESTART_ON_FAILURE;
        else if (strcmp(text, "never") == 0)
            *(inv_restart_t *)f = INV_RESTART_NEVER;
        else
            return snprintf(err, errlen, "restart: \"%s\" is not always, on-failure or never",
                            text), -1;
        return 0;
    case T_LIST:
        break;
    }
    return 0;
}

static void policy_free(inv_policy_t *p)
{
    free(p->health_path);
    free(p->user);
    free(p->group);
    p->health_path = p->user = p->group = NULL;
    free(p->health_check);
    free(p->health_expect_body);
    inv_strv_free(p->health_command);
    p->health_check = p->health_expect_body = NULL;
    p->health_command = NULL;
}

/* Bytes of a scalar field of this type (0 for strings and lists, handled apart). */
static size_t field_size(key_type_t t)
{
    switch (t) {
    case T_INT:
    case T_DURATION:
        return sizeof(long);
    case T_SIZE:
        return sizeof(long long);
    case T_BOOL:
    case T_PORT:
        return sizeof(int);
    case T_RESTART:
        return sizeof(inv_restart_t);
    default:
        return 0;
    }
}

static int is_string(key_type_t t) { return t == T_STR || t == T_PATH; }

/* Copy one policy key's value from src to dst, duplicating strings. */
static void policy_copy_key(const inv_key_t *k, inv_policy_t *dst, const inv_policy_t *src)
{
    void *d = (char *)dst + k->offset;
    const void *s = (const char *)src + k->offset;

    if (is_string(k->type)) {
        free(*(char **)d);
        *(char **)d = *(char *const *)s ? xstrdup(*(char *const *)s) : NULL;
    } else {
        memcpy(d, s, field_size(k->type));
    }
}

/* ---- libconfuse option tables, generated from keys[] -------------------------------- */

/* Each section's body is parsed on its own (parse_section), so no table declares a
 * section: the root table holds the top-level keys only. */
static cfg_opt_t *make_opts(unsigned scope)
{
    size_t n = 0;
    cfg_opt_t *o = xcalloc(NKEYS + 1, sizeof(*o));

    for (size_t i = 0; i < NKEYS; i++) {
        if (!(keys[i].scope & scope))
            continue;
        if (keys[i].type == T_LIST) {
            cfg_opt_t l = CFG_STR_LIST((char *)keys[i].name, NULL, CFGF_NODEFAULT);
            o[n++] = l;
        } else {
            cfg_opt_t s = CFG_STR((char *)keys[i].name, NULL, CFGF_NODEFAULT);
            o[n++] = s;
        }
    }
    {
        cfg_opt_t end = CFG_END();
        o[n] = end;
    }
    return o;
}

static loader_t *cur_loader; /* for the libconfuse error callback, during cfg_parse only */

static void confuse_error_cb(cfg_t *cfg, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void confuse_error_cb(cfg_t *cfg, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (cur_loader)
        add_error(cur_loader, cfg && cfg->line > 0 ? cfg->line + cur_loader->line_offset
                                                   : cur_loader->line_offset + 1, "%s", msg);
}

/* ---- building the inventory -------------------------------------------------------- */

/* A libconfuse cfg_t with its options found once per key (cfg_getopt would compare
 * names for every lookup). */
typedef struct kcfg {
    cfg_t *cfg;
    cfg_opt_t *opt[NKEYS];
} kcfg_t;

static int kcfg_init(kcfg_t *k, cfg_opt_t *opts)
{
    memset(k, 0, sizeof(*k));
    k->cfg = cfg_init(opts, CFGF_IGNORE_UNKNOWN);
    if (!k->cfg)
        return -1;
    cfg_set_error_function(k->cfg, confuse_error_cb);
    for (cfg_opt_t *o = k->cfg->opts; o->name; o++)
        for (size_t i = 0; i < NKEYS; i++)
            if (strcmp(keys[i].name, o->name) == 0)
                k->opt[i] = o;
    return 0;
}

/* Forget every value, so that the next section starts from nothing. */
static void kcfg_reset(kcfg_t *k)
{
    for (cfg_opt_t *o = k->cfg->opts; o->name; o++)
        if (o->nvalues)
            cfg_free_value(o);
}

static cfg_opt_t *kopt(const kcfg_t *k, const char *name)
{
    size_t i = key_index(name);
    return i == NONE ? NULL : k->opt[i];
}

static char **copy_list(const kcfg_t *k, const char *name, size_t *n)
{
    cfg_opt_t *o = kopt(k, name);
    size_t cnt = o ? cfg_opt_size(o) : 0;
    char **v = xcalloc(cnt + 1, sizeof(char *));

    for (size_t i = 0; i < cnt; i++)
        v[i] = xstrdup(cfg_opt_getnstr(o, (unsigned)i));
    *n = cnt;
    return v;
}

/* A list's length and each item's, without echoing an item (it may be a secret). */
static void check_list(loader_t *ld, char **v, size_t n, const char *name,
                       const scan_t *sc, long sec)
{
    if (n > INV_MAX_LIST)
        add_error(ld, sec_line(sc, sec, name), "%s has %zu items, more than the %d allowed",
                  name, n, INV_MAX_LIST);
    for (size_t i = 0; i < n; i++)
        if (strlen(v[i]) > INV_MAX_VALUE) {
            add_error(ld, sec_line(sc, sec, name), "%s: item %zu is longer than %d bytes",
                      name, i + 1, INV_MAX_VALUE);
            break;
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

/* Variables the supervisor sets; an instance's env may not replace them, since a
 * worker told a different SCHEMA_NAME would step outside its walls. LOG_LEVEL is the
 * one contract variable users set through env. */
static const char *const contract_vars[] = {
    "SERVICE_NAME", "SERVICE_INSTANCE_NAME", "SERVICE_VERSION", "SERVICE_TYPE", "ENTITY_TYPE",
    "ENVIRONMENT", "HTTP_PORT", "SCHEMA_NAME", "REDIS_NAMESPACE", "DATA_DIR", "LOGS_DIR",
    "POSTGRES_URL", "REDIS_URL", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
    "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
};

static void check_env_list(loader_t *ld, char **env, const scan_t *sc, long sec)
{
    for (char **e = env; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        size_t n = eq ? (size_t)(eq - *e) : 0;
        int ok = n > 0 && (isalpha((unsigned char)**e) || **e == '_');
        for (size_t i = 0; ok && i < n; i++)
            ok = isalnum((unsigned char)(*e)[i]) || (*e)[i] == '_';
        if (!ok) {
            /* The entry is most likely NAME and a secret with the '=' missing
             * ("DB_TOKEN TOPSECRET"): show what stands before the first space or
             * '=', if anything does and it looks like a name, never the rest. */
            size_t nl = strcspn(*e, " \t=");
            int name_like = nl > 0 && nl <= 64 && (*e)[nl] != '\0';
            for (size_t i = 0; name_like && i < nl; i++)
                name_like = isalnum((unsigned char)(*e)[i]) || (*e)[i] == '_';
            if (name_like)
                add_error(ld, sec_line(sc, sec, "env"), "env entry %zu (\"%.*s ...\") must be NAME=value; its "
                          "value is not shown", (size_t)(e - env) + 1, (int)nl, *e);
            else
                add_error(ld, sec_line(sc, sec, "env"), "env entry %zu must be NAME=value; it is not shown, as "
                          "it may hold a secret", (size_t)(e - env) + 1);
            continue;
        }
        for (size_t i = 0; i < sizeof(contract_vars) / sizeof(contract_vars[0]); i++)
            if (strlen(contract_vars[i]) == n && strncmp(*e, contract_vars[i], n) == 0)
                add_error(ld, sec_line(sc, sec, "env"), "env may not set %s: instanced sets it for the worker",
                          contract_vars[i]);
    }
}

static const char *opt_str_at(const kcfg_t *k, size_t i)
{
    return k->opt[i] && cfg_opt_size(k->opt[i]) ? cfg_opt_getnstr(k->opt[i], 0) : NULL;
}

static const char *opt_str(const kcfg_t *k, const char *name)
{
    size_t i = key_index(name);
    return i == NONE ? NULL : opt_str_at(k, i);
}

/* Set every scalar key of `scope` present in sec (or its default when global) into
 * the structs; report bad values at their lines. *set collects policy bits. */
static void load_scalars(loader_t *ld, const scan_t *sc, const kcfg_t *sec, unsigned scope,
                         const char *kind, const char *title, const char *dir, void *target,
                         inv_policy_t *policy, unsigned long long *set)
{
    char err[512];

    for (size_t i = 0; i < NKEYS; i++) {
        const inv_key_t *k = &keys[i];
        const char *text;
        void *base;

        if (!(k->scope & scope) || k->type == T_LIST || k->target == TG_SPECIAL)
            continue;
        text = opt_str_at(sec, i);
        if (!text && (scope != SC_GLOBAL || !k->def))
            continue;
        if (!text)
            text = k->def;
        base = k->target == TG_POLICY ? (void *)policy : target;
        if (set_value(k, text, dir, base, err, sizeof(err)) < 0)
            add_error(ld, line_of(sc, kind, title, k->name), "%s", err);
        else if (k->target == TG_POLICY && set)
            *set |= 1ULL << i;
    }
}

static void default_policy(inv_policy_t *p)
{
    char err[256];
    memset(p, 0, sizeof(*p));
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].target == TG_POLICY && keys[i].def)
            set_value(&keys[i], keys[i].def, NULL, p, err, sizeof(err));
}

static int valid_user_or_group(const char *s)
{
    if (!s || !*s || strlen(s) > 32 || !(isalpha((unsigned char)*s) || *s == '_'))
        return 0;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '-' || *s == '.'))
            return 0;
    return 1;
}

/* Line of a policy key for an instance: where the instance sets it, else where its
 * service does, else the instance's own line. */
static int policy_line(const scan_t *sc, const char *inst, const char *svc, const char *key)
{
    int l = line_of(sc, "instance", inst, NULL), k = line_of(sc, "instance", inst, key);
    if (k != l)
        return k;
    k = line_of(sc, "service", svc, key);
    return k && k != line_of(sc, "service", svc, NULL) ? k : l;
}

/* getpwnam/getgrnam once per distinct name and load, not once per instance. */
static int account_exists(loader_t *ld, const char *name, int group)
{
    size_t v = hm_get(&ld->accounts, group, name, strlen(name));

    if (v == NONE) {
        v = group ? getgrnam(name) != NULL : getpwnam(name) != NULL;
        hm_put_first(&ld->accounts, group, name, strlen(name), v);
    }
    return (int)v;
}

static void check_policy(loader_t *ld, const scan_t *sc, const char *inst, const char *svc,
                         const inv_policy_t *p)
{
    if (p->health_path && strlen(p->health_path) > INV_MAX_HEALTH_PATH)
        add_error(ld, policy_line(sc, inst, svc, "health_path"),
                  "health_path is %zu bytes long, more than the %d allowed",
                  strlen(p->health_path), INV_MAX_HEALTH_PATH);
    else if (p->health_path && p->health_path[0] != '/') {
        char shown[INV_MAX_HEALTH_PATH + 16];
        add_error(ld, policy_line(sc, inst, svc, "health_path"),
                  "health_path \"%s\" must start with /",
                  mask_secrets(p->health_path, shown, sizeof(shown)));
    }
    if (p->health_path)
        for (const char *c = p->health_path; *c; c++)
            if ((unsigned char)*c <= ' ' || *c == 0x7f) {
                add_error(ld, policy_line(sc, inst, svc, "health_path"),
                          "health_path may not contain spaces or control characters");
                break;
            }
    if (p->user && !valid_user_or_group(p->user))
        add_error(ld, policy_line(sc, inst, svc, "user"), "user \"%s\" is not a valid name",
                  p->user);
    else if (p->user && !account_exists(ld, p->user, 0))
        add_error(ld, policy_line(sc, inst, svc, "user"), "user \"%s\" does not exist", p->user);
    if (p->group && !valid_user_or_group(p->group))
        add_error(ld, policy_line(sc, inst, svc, "group"), "group \"%s\" is not a valid name",
                  p->group);
    else if (p->group && !account_exists(ld, p->group, 1))
        add_error(ld, policy_line(sc, inst, svc, "group"), "group \"%s\" does not exist",
                  p->group);
    if (p->restart_delay_max_ms < p->restart_delay_ms)
        add_error(ld, policy_line(sc, inst, svc, "restart_delay_max"),
                  "restart_delay_max is shorter than restart_delay");
    if (p->start_limit_burst < 1)
        add_error(ld, policy_line(sc, inst, svc, "start_limit_burst"),
                  "start_limit_burst must be at least 1");
    if (p->successes_before_healthy < 1 || p->failures_before_unhealthy < 1)
        add_error(ld, policy_line(sc, inst, svc, p->successes_before_healthy < 1
                              ? "successes_before_healthy" : "failures_before_unhealthy"),
                  "successes_before_healthy and failures_before_unhealthy must be at least 1");
    if (p->log_max_bytes < 4096)
        add_error(ld, policy_line(sc, inst, svc, "log_max_bytes"),
                  "log_max_bytes must be at least 4KiB");
    /* Each backup is one more file to rotate and list on every rotation. */
    if (p->log_backups > INV_MAX_LOG_BACKUPS)
        add_error(ld, policy_line(sc, inst, svc, "log_backups"),
                  "log_backups must be at most %d", INV_MAX_LOG_BACKUPS);
}

static char *dir_of(const char *path)
{
    char buf[PATH_MAX];
    const char *slash = strrchr(path, '/');

    if (path[0] != '/') {
        /* Relative paths in the file must not change meaning when the supervisor later
         * chdirs, so anchor the directory to the current one now. */
        if (!getcwd(buf, sizeof(buf)))
            return NULL;
        if (slash)
            return xasprintf("%s/%.*s", buf, (int)(slash - path), path);
        return xstrdup(buf);
    }
    if (slash == path)
        return xstrdup("/");
    return xstrndup(path, (size_t)(slash - path));
}

static int check_listen(const char *s)
{
    const char *colon = strrchr(s, ':');
    char *end;
    long port;

    if (!colon || colon == s)
        return -1;
    port = strtol(colon + 1, &end, 10);
    return (*end || port < 1 || port > 65535) ? -1 : (int)port;
}

/* ---- probe keys and placeholders (the rules are in probe_conf.c) --------------------- */

typedef struct probe_ctx {
    loader_t *ld;
    const scan_t *sc;
    const char *inst, *svc; /* inst NULL: a service's own keys */
} probe_ctx_t;

static void probe_report(void *arg, const char *key, const char *msg)
{
    probe_ctx_t *c = arg;

    add_error(c->ld, c->inst ? policy_line(c->sc, c->inst, c->svc, key)
                             : line_of(c->sc, "service", c->svc, key), "%s", msg);
}

static int has_list(const kcfg_t *sec, const char *name)
{
    cfg_opt_t *o = kopt(sec, name);
    return o && cfg_opt_size(o) > 0;
}

/* health_command (the instance's list, else its service's) and the probe checks. */
static void check_probe(loader_t *ld, const scan_t *sc, const kcfg_t *sec, long si,
                        inv_instance_t *in, char **own_env)
{
    probe_ctx_t c = { ld, sc, in->name, in->service->name };
    const char *const *svc_cmd = (const char *const *)in->service->policy.health_command;
    size_t n;

    inv_strv_free(in->policy.health_command);
    in->policy.health_command = NULL;
    if (has_list(sec, "health_command")) {
        in->policy.health_command = copy_list(sec, "health_command", &n);
        check_list(ld, in->policy.health_command, n, "health_command", sc,
                   si);
    } else if (svc_cmd) {
        for (n = 0; svc_cmd[n]; n++)
            ;
        in->policy.health_command = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
            in->policy.health_command[i] = xstrdup(svc_cmd[i]);
    }
    pc_check_instance(in, own_env, probe_report, &c);
}

/* libconfuse parses one section's body, the very bytes the scanner saw between its
 * braces, into k, emptied first: one cfg_t serves every section of a kind, so no
 * title is ever looked up among the others. 0, or -1 when libconfuse failed. */
static int parse_section(loader_t *ld, const scan_sec_t *sec, char *text, kcfg_t *k)
{
    char save = text[sec->body_end];
    int rc;

    kcfg_reset(k);
    text[sec->body_end] = '\0';
    ld->line_offset = sec->body_line - 1;
    cur_loader = ld;
    rc = cfg_parse_buf(k->cfg, text + sec->body_start);
    cur_loader = NULL;
    text[sec->body_end] = save;
    if (rc != CFG_SUCCESS && ld->nerr == 0)
        add_error(ld, sec->line, "syntax error");
    return rc == CFG_SUCCESS ? 0 : -1;
}

/* How many sections of this kind are to be loaded. */
static size_t count_sections(const scan_t *sc, const char *kind)
{
    size_t n = 0;
    for (size_t i = 0; i < sc->nsecs; i++)
        n += !sc->secs[i].skip && strcmp(sc->secs[i].kind, kind) == 0;
    return n;
}

/* Services: scalars, lists, required keys. 0, or -1 when libconfuse failed. */
static int load_services(loader_t *ld, const scan_t *sc, char *text, kcfg_t *sec,
                         inventory_t *inv)
{
    size_t n = count_sections(sc, "service"), i = 0;

    inv->services = xcalloc(n ? n : 1, sizeof(inv_service_t));
    for (size_t si = 0; si < sc->nsecs; si++) {
        inv_service_t *s = &inv->services[i];
        const char *title = sc->secs[si].title;

        if (sc->secs[si].skip || strcmp(sc->secs[si].kind, "service") != 0)
            continue;
        if (parse_section(ld, &sc->secs[si], text, sec) < 0)
            return -1;
        inv->nservices = ++i;

        s->name = xstrdup(title);
        hm_put_first(&ld->services, 0, s->name, strlen(s->name), i - 1);
        s->line = sc->secs[si].line;
        load_scalars(ld, sc, sec, SC_SERVICE, "service", title, inv->dir, s, &s->policy,
                     &s->policy_set);
        /* A bare command name is looked up in PATH, like a shell would. */
        if (s->command && opt_str(sec, "command") && !strchr(opt_str(sec, "command"), '/')) {
            free(s->command);
            s->command = xstrdup(opt_str(sec, "command"));
        }
        s->args = copy_list(sec, "args", &s->nargs);
        check_list(ld, s->args, s->nargs, "args", sc, (long)si);
        s->env = copy_list(sec, "env", &s->nenv);
        check_list(ld, s->env, s->nenv, "env", sc, (long)si);
        check_env_list(ld, s->env, sc, (long)si);
        if (has_list(sec, "health_command")) {
            size_t nc;
            s->policy.health_command = copy_list(sec, "health_command", &nc);
            check_list(ld, s->policy.health_command, nc, "health_command", sc, (long)si);
        }
        pc_check_service(s, probe_report, &(probe_ctx_t){ ld, sc, NULL, title });
        if (!nm_valid_service_name(title))
            add_error(ld, s->line, "invalid service name \"%s\": must match "
                      "[a-z][a-z0-9]*(-[a-z0-9]+)*", title);
        if (!s->command)
            add_error(ld, s->line, "service \"%s\" has no command", title);
        if (s->instance_prefix && !nm_valid_instance_name(s->instance_prefix))
            add_error(ld, sec_line(sc, (long)si, "instance_prefix"),
                      "instance_prefix \"%s\" is not a valid name", s->instance_prefix);
        if (s->namespace_prefix) {
            char err[256];
            if (nm_check_namespace(s->namespace_prefix, err, sizeof(err)) < 0)
                add_error(ld, sec_line(sc, (long)si, "namespace_prefix"),
                          "namespace_prefix: %s", err);
        }
        if (s->entity_type && !nm_valid_service_name(s->entity_type))
            add_error(ld, sec_line(sc, (long)si, "entity_type"),
                      "entity_type \"%s\" must match [a-z][a-z0-9]*(-[a-z0-9]+)*",
                      s->entity_type);
    }
    return 0;
}

static const inv_service_t *find_service(const loader_t *ld, const inventory_t *inv,
                                         const char *name)
{
    size_t i = hm_get(&ld->services, 0, name, strlen(name));
    return i == NONE ? NULL : &inv->services[i];
}

static char **concat_env(char **a, size_t na, char **b, size_t nb, size_t *n)
{
    char **v = xcalloc(na + nb + 1, sizeof(char *));
    for (size_t i = 0; i < na; i++)
        v[i] = xstrdup(a[i]);
    for (size_t i = 0; i < nb; i++)
        v[na + i] = xstrdup(b[i]);
    *n = na + nb;
    return v;
}

/* Name lookups of a loaded inventory (inv_find_instance). */
struct inv_index {
    hmap_t by_name; /* instance name -> index; keys are the instances' own names */
};

/* Instances: their own keys over their service's, derived names, policy checks.
 * 0, or -1 when libconfuse failed. */
static int load_instances(loader_t *ld, const scan_t *sc, char *text, kcfg_t *sec,
                          inventory_t *inv)
{
    size_t n = count_sections(sc, "instance"), i = 0;

    inv->instances = xcalloc(n ? n : 1, sizeof(inv_instance_t));
    inv->index = xcalloc(1, sizeof(*inv->index));
    hm_reserve(&inv->index->by_name, n);
    for (size_t si = 0; si < sc->nsecs; si++) {
        inv_instance_t *in = &inv->instances[i];
        const char *title = sc->secs[si].title, *svc;
        inv_policy_t own = { 0 };
        unsigned long long own_set = 0;
        char **env;
        size_t nenv;
        char err[512];

        if (sc->secs[si].skip || strcmp(sc->secs[si].kind, "instance") != 0)
            continue;
        if (parse_section(ld, &sc->secs[si], text, sec) < 0)
            return -1;
        inv->ninstances = ++i;
        svc = opt_str(sec, "service");
        in->name = xstrdup(title);
        hm_put_first(&inv->index->by_name, 0, in->name, strlen(in->name), i - 1);
        in->line = sc->secs[si].line;
        default_policy(&in->policy);
        load_scalars(ld, sc, sec, SC_INSTANCE, "instance", title, inv->dir, in, &own, &own_set);
        env = copy_list(sec, "env", &nenv);
        check_list(ld, env, nenv, "env", sc, (long)si);
        check_env_list(ld, env, sc, (long)si);
        in->depends_on = copy_list(sec, "depends_on", &in->ndeps);
        check_list(ld, in->depends_on, in->ndeps, "depends_on", sc, (long)si);

        if (!nm_valid_instance_name(title)) {
            add_error(ld, in->line, "invalid instance name \"%s\": must match "
                      "[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)*", title);
        }
        if (!svc) {
            add_error(ld, in->line, "instance \"%s\" has no service", title);
        } else if ((in->service = find_service(ld, inv, svc)) == NULL) {
            add_error(ld, sec_line(sc, (long)si, "service"),
                      "instance \"%s\" names undefined service \"%.100s\"", title, svc);
        }
        if (in->service) {
            const inv_service_t *s = in->service;
            nm_input_t nin = {
                .service = s->name, .instance = title,
                .instance_prefix = s->instance_prefix, .namespace_prefix = s->namespace_prefix,
                .schema = opt_str(sec, "schema"), .namespace = opt_str(sec, "namespace"),
            };
            nm_derived_t d;

            for (size_t k = 0; k < NKEYS; k++) {
                if (keys[k].target != TG_POLICY)
                    continue;
                if (s->policy_set & (1ULL << k))
                    policy_copy_key(&keys[k], &in->policy, &s->policy);
                if (own_set & (1ULL << k))
                    policy_copy_key(&keys[k], &in->policy, &own);
            }
            in->env = concat_env(s->env, s->nenv, env, nenv, &in->nenv);
            if (nm_valid_service_name(s->name) && nm_valid_instance_name(title)) {
                if (nm_derive(&nin, &d, err, sizeof(err)) < 0) {
                    const char *key = nin.namespace && strstr(err, "namespace") ? "namespace"
                                      : nin.schema && strstr(err, "schema") ? "schema" : NULL;
                    add_error(ld, sec_line(sc, (long)si, key), "%s", err);
                } else {
                    in->schema = xstrdup(d.schema);
                    in->namespace = xstrdup(d.namespace);
                    in->discovery_key = xstrdup(d.discovery_key);
                    in->service_type = d.service_type;
                    in->singleton = d.singleton;
                }
            }
            check_policy(ld, sc, title, s->name, &in->policy);
            check_probe(ld, sc, sec, (long)si, in, env);
        }
        policy_free(&own);
        inv_strv_free(env);
        in->data_dir = xasprintf("%s/%s/data", inv->volumes_root ? inv->volumes_root : "",
                                 title);
        in->logs_dir = xasprintf("%s/%s/logs", inv->volumes_root ? inv->volumes_root : "",
                                 title);
        if (strlen(in->data_dir) >= PATH_MAX)
            add_error(ld, in->line, "the data directory of \"%.100s\" would be longer than "
                      "%d bytes (PATH_MAX): shorten volumes_root", title, PATH_MAX - 1);
    }
    return 0;
}

/* Where each depends_on entry points: dep[first[i] .. first[i + 1]) are instance i's
 * dependencies as indexes, NONE for an undefined one. */
typedef struct deps {
    size_t *first, *dep;
} deps_t;

/* Report the first depends_on cycle found. Iterative depth-first search: a chain of
 * 100,000 dependencies must not overflow the stack. */
static void check_cycles(loader_t *ld, const scan_t *sc, const inventory_t *inv,
                         const deps_t *g)
{
    size_t n = inv->ninstances;
    unsigned char *color = xcalloc(n ? n : 1, 1);
    size_t *node = xcalloc(n ? n : 1, sizeof(size_t)), *next = xcalloc(n ? n : 1, sizeof(size_t));

    for (size_t r = 0; r < n; r++) {
        size_t sp = 1;
        if (color[r])
            continue;
        node[0] = r;
        next[0] = g->first[r];
        color[r] = 1;
        while (sp > 0) {
            size_t u = node[sp - 1], v, start = 0, len = 0;
            char cycle[1024];
            if (next[sp - 1] == g->first[u + 1]) {
                color[u] = 2;
                sp--;
                continue;
            }
            v = g->dep[next[sp - 1]++];
            if (v == NONE || color[v] == 2)
                continue;
            if (color[v] == 0) {
                color[v] = 1;
                node[sp] = v;
                next[sp++] = g->first[v];
                continue;
            }
            while (node[start] != v)
                start++;
            for (size_t k = start; k <= sp; k++) {
                /* "a -> b -> a", cut with " ..." when it does not fit. */
                const char *name = inv->instances[k < sp ? node[k] : v].name;
                size_t nl = strlen(name), room = sizeof(cycle) - 8 - len;
                if (nl + 4 > room) {
                    memcpy(cycle + len, " ...", 4);
                    len += 4;
                    break;
                }
                memcpy(cycle + len, name, nl);
                len += nl;
                if (k < sp) {
                    memcpy(cycle + len, " -> ", 4);
                    len += 4;
                }
            }
            cycle[len] = '\0';
            add_error(ld, line_of(sc, "instance", inv->instances[v].name, "depends_on"),
                      "depends_on forms a cycle: %s", cycle);
            goto done;
        }
    }
done:
    free(color);
    free(node);
    free(next);
}

/* Line of key a, else of key b, at the top level. */
static int global_line(const scan_t *sc, const char *a, const char *b)
{
    int l = line_of(sc, NULL, NULL, a);
    return l ? l : line_of(sc, NULL, NULL, b);
}

static void check_across(loader_t *ld, const scan_t *sc, inventory_t *inv)
{
    int status_port = inv->status_listen ? check_listen(inv->status_listen) : -1;
    size_t n = inv->ninstances, ndeps = 0;
    size_t *count = xcalloc(inv->nservices ? inv->nservices : 1, sizeof(size_t));
    size_t *port_owner = xmalloc(65536 * sizeof(size_t));
    hmap_t lower = { .nocase = 1 }, schemas = { 0 }, spaces = { 0 };
    deps_t g;

    if (inv->status_max_connections > 65536)
        add_error(ld, line_of(sc, NULL, NULL, "status_max_connections"),
                  "status_max_connections must be at most 65536 (0: automatic)");
    if (inv->status_listen && status_port < 0)
        add_error(ld, line_of(sc, NULL, NULL, "status_listen"),
                  "status_listen \"%.100s\" must be HOST:PORT", inv->status_listen);
    if (inv->control_socket && strlen(inv->control_socket) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        add_error(ld, line_of(sc, NULL, NULL, "control_socket"),
                  "control_socket is longer than the %zu bytes a socket path may have",
                  sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
    if (inv->postgres_url && strlen(inv->postgres_url) > INV_MAX_URL)
        add_error(ld, line_of(sc, NULL, NULL, "postgres_url"),
                  "postgres_url is longer than %d bytes", INV_MAX_URL);
    if (inv->redis_url && strlen(inv->redis_url) > INV_MAX_URL)
        add_error(ld, line_of(sc, NULL, NULL, "redis_url"),
                  "redis_url is longer than %d bytes", INV_MAX_URL);
    /* A health_timeout left to its default adapts to a shorter health_interval; one
     * the user wrote is checked, and reported at its own line. */
    if (inv->health_interval_ms >= 0 && inv->health_timeout_ms > inv->health_interval_ms &&
        line_of(sc, NULL, NULL, "health_timeout") == 0)
        inv->health_timeout_ms = inv->health_interval_ms;
    if (inv->health_interval_ms >= 0 && inv->health_timeout_ms >= 0 &&
        (inv->health_timeout_ms == 0 || inv->health_timeout_ms > inv->health_interval_ms))
        add_error(ld, global_line(sc, "health_timeout", "health_interval"),
                  "health_timeout must be above 0 and at most health_interval");
    if (inv->health_interval_ms >= 0 && inv->health_interval_ms < 100)
        add_error(ld, line_of(sc, NULL, NULL, "health_interval"),
                  "health_interval must be at least 100ms");
    for (size_t i = 0; i < inv->nlegacy; i++) {
        char err[256];
        if (nm_check_schema(inv->legacy_schemas[i], err, sizeof(err)) < 0)
            add_error(ld, line_of(sc, NULL, NULL, "legacy_schemas"), "legacy_schemas: %s", err);
    }

    /* Singleton services: each instance of one must bear its name, and one must exist. */
    for (size_t j = 0; j < n; j++) {
        const inv_instance_t *in = &inv->instances[j];
        const inv_service_t *s = in->service;
        if (!s || !s->singleton)
            continue;
        count[s - inv->services]++;
        if (strcmp(in->name, s->name) != 0)
            add_error(ld, in->line, "service \"%s\" is a singleton: its one instance must "
                      "be named \"%s\", not \"%s\"", s->name, s->name, in->name);
    }
    for (size_t i = 0; i < inv->nservices; i++)
        if (inv->services[i].singleton && count[i] == 0)
            add_error(ld, inv->services[i].line, "singleton service \"%s\" has no instance "
                      "\"%s\"", inv->services[i].name, inv->services[i].name);

    /* Pairs that may not collide, each found through a table of the earlier ones. */
    hm_reserve(&lower, n);
    hm_reserve(&schemas, n);
    hm_reserve(&spaces, 2 * n);
    for (size_t p = 0; p < 65536; p++)
        port_owner[p] = NONE;
    for (size_t i = 0; i < n; i++) {
        const inv_instance_t *a = &inv->instances[i];
        size_t j;
        ndeps += a->ndeps;
        if (a->port && a->port == status_port)
            add_error(ld, line_of(sc, "instance", a->name, "port"),
                      "port %d of \"%s\" is the status_listen port", a->port, a->name);
        if ((j = hm_put_first(&lower, 0, a->name, strlen(a->name), i)) != NONE)
            add_error(ld, a->line, "instance \"%s\" differs from \"%s\" (line %d) only in "
                      "case", a->name, inv->instances[j].name, inv->instances[j].line);
        if (a->schema &&
            (j = hm_put_first(&schemas, 0, a->schema, strlen(a->schema), i)) != NONE)
            add_error(ld, line_of(sc, "instance", a->name, "schema"),
                      "instance \"%s\" has schema \"%s\", already used by \"%s\" (line %d)",
                      a->name, a->schema, inv->instances[j].name, inv->instances[j].line);
        if (a->namespace) {
            /* Two namespaces overlap when one is the other or a prefix of it ending at
             * a ':'. Table tag 0 holds every earlier namespace, tag 1 every proper
             * ':'-prefix of one: look up a's prefixes (and a itself) in the first, a
             * in the second. */
            const char *ns = a->namespace;
            size_t len = strlen(ns);
            for (size_t k = 1; k <= len; k++) {
                if (k < len && ns[k] != ':')
                    continue;
                if ((j = hm_get(&spaces, 0, ns, k)) != NONE)
                    add_error(ld, line_of(sc, "instance", a->name, "namespace"),
                              "namespace \"%s\" of \"%s\" overlaps namespace \"%s\" of \"%s\" "
                              "(line %d)", ns, a->name, inv->instances[j].namespace,
                              inv->instances[j].name, inv->instances[j].line);
            }
            if ((j = hm_get(&spaces, 1, ns, len)) != NONE)
                add_error(ld, line_of(sc, "instance", a->name, "namespace"),
                          "namespace \"%s\" of \"%s\" overlaps namespace \"%s\" of \"%s\" "
                          "(line %d)", ns, a->name, inv->instances[j].namespace,
                          inv->instances[j].name, inv->instances[j].line);
            hm_put_first(&spaces, 0, ns, len, i);
            for (size_t k = 1; k < len; k++)
                if (ns[k] == ':')
                    hm_put_first(&spaces, 1, ns, k, i);
        }
        if (a->port) {
            if (port_owner[a->port] != NONE)
                add_error(ld, line_of(sc, "instance", a->name, "port"),
                          "port %d of \"%s\" is already used by \"%s\" (line %d)", a->port,
                          a->name, inv->instances[port_owner[a->port]].name,
                          inv->instances[port_owner[a->port]].line);
            else
                port_owner[a->port] = i;
        }
    }

    g.first = xcalloc(n + 1, sizeof(size_t));
    g.dep = xcalloc(ndeps ? ndeps : 1, sizeof(size_t));
    for (size_t i = 0, k = 0; i < n; i++) {
        const inv_instance_t *a = &inv->instances[i];
        g.first[i] = k;
        for (size_t d = 0; d < a->ndeps; d++) {
            const inv_instance_t *dep = inv_find_instance(inv, a->depends_on[d]);
            g.dep[k++] = dep ? (size_t)(dep - inv->instances) : NONE;
            if (!dep)
                add_error(ld, line_of(sc, "instance", a->name, "depends_on"),
                          "instance \"%s\" depends on undefined instance \"%.100s\"", a->name,
                          a->depends_on[d]);
        }
        g.first[i + 1] = k;
    }
    check_cycles(ld, sc, inv, &g);

    free(g.first);
    free(g.dep);
    free(count);
    free(port_owner);
    hm_free(&lower);
    hm_free(&schemas);
    hm_free(&spaces);
}

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

/* libconfuse parses the top-level key statements into root, in file order, as if
 * the file were parsed at once: consecutive ones (with at most CHUNK_GAP bytes of
 * comments and blank lines between them) in one call, up to CHUNK_ITEMS at a time.
 * Sections are parsed one by one later (parse_section). 0, or -1 when libconfuse
 * failed. */
#define CHUNK_ITEMS 64
#define CHUNK_GAP 4096

static int parse_globals(loader_t *ld, const scan_t *sc, char *text, kcfg_t *root)
{
    size_t i = 0;

    while (i < sc->nitems) {
        const scan_item_t *it = &sc->items[i];
        size_t j = i + 1, end;
        char save;
        int rc;

        if (it->sec >= 0) {
            i++;
            continue;
        }
        while (j < sc->nitems && j - i < CHUNK_ITEMS && sc->items[j].sec < 0 &&
               sc->items[j].start - sc->items[j - 1].end <= CHUNK_GAP)
            j++;
        /* The same bytes, cut at the chunk's end for the moment of the call. */
        end = sc->items[j - 1].end;
        save = text[end];
        text[end] = '\0';
        ld->line_offset = it->line - 1;
        cur_loader = ld;
        rc = cfg_parse_buf(root->cfg, text + it->start);
        cur_loader = NULL;
        text[end] = save;
        if (rc != CFG_SUCCESS) {
            if (ld->nerr == 0)
                add_error(ld, it->line, "syntax error");
            return -1;
        }
        i = j;
    }
    return 0;
}

/* inv_cluster.c's errors, with the loader's file name. */
static void cluster_report(void *ld, int line, const char *msg)
{
    add_error(ld, line, "%s", msg);
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

    if (prescan(&ld, text, len) < 0)
        goto out;
    /* The cluster keys are taken out of the text first (inv_cluster.c). */
    cdir = dir_of(name);
    cl = invc_extract(text, len, cdir, cluster_report, &ld);
    free(cdir);
    scan_text(&ld, text, &sc, &syntax_failed);
    if (syntax_failed)
        goto out;

    svc_opts = make_opts(SC_SERVICE);
    inst_opts = make_opts(SC_INSTANCE);
    root_opts = make_opts(SC_GLOBAL);
    /* Unknown keys were reported by the scanner, with every line; let libconfuse carry
     * on past them so the other errors are found too. */
    if (kcfg_init(&root, root_opts) < 0 || kcfg_init(&svc, svc_opts) < 0 ||
        kcfg_init(&inst, inst_opts) < 0) {
        add_error(&ld, 0, "out of memory");
        goto out;
    }
    if (parse_globals(&ld, &sc, text, &root) < 0)
        goto out;

    inv = xcalloc(1, sizeof(*inv));
    inv->path = xstrdup(name);
    inv->dir = dir_of(name);
    /* -1 marks "did not parse", so that one bad value is not reported three times. */
    inv->health_interval_ms = inv->health_timeout_ms = -1;
    load_scalars(&ld, &sc, &root, SC_GLOBAL, NULL, NULL, inv->dir, inv, NULL, NULL);
    inv->legacy_schemas = copy_list(&root, "legacy_schemas", &inv->nlegacy);
    check_list(&ld, inv->legacy_schemas, inv->nlegacy, "legacy_schemas", &sc, -1);
    failed = load_services(&ld, &sc, text, &svc, inv) < 0 ||
             load_instances(&ld, &sc, text, &inst, inv) < 0;
    if (failed)
        goto out;
    /* Alone: a file with other errors is rejected anyway, and is likely half-written. */
    if (inv->ninstances == 0 && ld.nerr == 0)
        add_error(&ld, 0, "no instance is defined: an inventory names at least one "
                  "instance to supervise (instance \"NAME\" { service = \"SERVICE\" })");
    check_across(&ld, &sc, inv);
    invc_attach(cl, inv, cluster_report, &ld);
    inv->cluster = cl;
    cl = NULL;
    if (inv->log_level && log_parse_level(inv->log_level, &(log_level_t){ 0 }) < 0)
        add_error(&ld, line_of(&sc, NULL, NULL, "log_level"),
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
    scan_free(&sc);
    free(text);
    hm_free(&ld.accounts);
    hm_free(&ld.services);
    if (ld.nerr > 0) {
        inv_free(inv);
        inv = NULL;
        finish_errors(&ld);
    }
    hm_free(&ld.seen);
    return inv;
}

inventory_t *inv_load_buf(const char *name, const char *buf, size_t len, inv_errors_t *errs)
{
    char *text;

    if (len > INV_MAX_FILE) {
        loader_t ld = { name, errs, 0, errs->n, 0, { 0 }, 0, { 0 }, { 0 } };
        add_error(&ld, 0, "the inventory is %zu bytes, more than the %u allowed", len,
                  INV_MAX_FILE);
        hm_free(&ld.seen);
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
        add_error(&ld, 0, "%s", err);
        hm_free(&ld.seen);
        return NULL;
    }
    return load_text(path, text, len, errs);
}

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
        policy_free(&s->policy);
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
        policy_free(&in->policy);
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
    invc_free(inv->cluster);
    if (inv->index)
        hm_free(&inv->index->by_name);
    free(inv->index);
    free(inv);
}

const inv_instance_t *inv_find_instance(const inventory_t *inv, const char *name)
{
    if (inv->index) {
        size_t i = hm_get(&inv->index->by_name, 0, name, strlen(name));
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
    for (size_t i = 0; i < NKEYS; i++) {
        const inv_key_t *k = &keys[i];
        const void *a = (const char *)x + k->offset, *b = (const char *)y + k->offset;
        if (k->target != TG_POLICY)
            continue;
        if (is_string(k->type) ? !str_eq(*(char *const *)a, *(char *const *)b)
                               : memcmp(a, b, field_size(k->type)) != 0)
            return k->name;
    }
    return NULL;
}

int inv_instance_same(const inventory_t *a, const inv_instance_t *x,
                      const inventory_t *b, const inv_instance_t *y)
{
    const inv_service_t *s = x->service, *t = y->service;

    /* What reaches the worker through its environment or its exec; provision and
     * state_dir decide which credentials it gets (its own, or the admin URLs). */
    if (!str_eq(a->environment, b->environment) || !str_eq(a->version, b->version) ||
        !str_eq(a->postgres_url, b->postgres_url) || !str_eq(a->redis_url, b->redis_url) ||
        !str_eq(a->volumes_root, b->volumes_root) || !str_eq(a->log_level, b->log_level) ||
        a->provision != b->provision || !str_eq(a->state_dir, b->state_dir))
        return 0;
    if (!str_eq(s->name, t->name) || !str_eq(s->command, t->command) ||
        !strv_eq(s->args, t->args) || !str_eq(s->entity_type, t->entity_type))
        return 0;
    if (!str_eq(x->name, y->name) || x->port != y->port || x->singleton != y->singleton ||
        !str_eq(x->schema, y->schema) ||
        !str_eq(x->namespace, y->namespace) || !strv_eq(x->env, y->env) ||
        !strv_eq(x->depends_on, y->depends_on))
        return 0;
    return inv_policy_diff(&x->policy, &y->policy) == NULL;
}

static int env_add(char **v, size_t *n, const char *name, const char *value)
{
    if (!value)
        return 0;
    v[(*n)++] = xasprintf("%s=%s", name, value);
    return 0;
}

char **inv_worker_env(const inventory_t *inv, const inv_instance_t *in, const char *path_env)
{
    size_t n = 0, cap = in->nenv + 24;
    char **v = xcalloc(cap, sizeof(char *));
    char port[16];
    const char *log_level = inv->log_level ? inv->log_level : "info";
    int rc = 0;

    if (!v)
        return NULL;
    snprintf(port, sizeof(port), "%d", in->port);
    for (size_t i = 0; i < in->nenv; i++)
        if (strncmp(in->env[i], "LOG_LEVEL=", 10) == 0)
            log_level = in->env[i] + 10;
    rc |= env_add(v, &n, "PATH", path_env ? path_env : "/usr/local/bin:/usr/bin:/bin");
    rc |= env_add(v, &n, "SERVICE_NAME", in->service->name);
    rc |= env_add(v, &n, "SERVICE_INSTANCE_NAME", in->name);
    rc |= env_add(v, &n, "SERVICE_VERSION", inv->version);
    rc |= env_add(v, &n, "SERVICE_TYPE", in->service_type);
    rc |= env_add(v, &n, "ENTITY_TYPE", in->service->entity_type);
    rc |= env_add(v, &n, "ENVIRONMENT", inv->environment);
    rc |= env_add(v, &n, "LOG_LEVEL", log_level);
    rc |= env_add(v, &n, "HTTP_PORT", in->port ? port : NULL);
    rc |= env_add(v, &n, "SCHEMA_NAME", in->schema);
    rc |= env_add(v, &n, "REDIS_NAMESPACE", in->namespace);
    rc |= env_add(v, &n, "DATA_DIR", in->data_dir);
    rc |= env_add(v, &n, "LOGS_DIR", in->logs_dir);
    rc |= env_add(v, &n, "POSTGRES_URL", inv->postgres_url);
    rc |= env_add(v, &n, "REDIS_URL", inv->redis_url);
    /* The instance's own entries come last; the loader has made sure none of them
     * names a contract variable, and LOG_LEVEL was taken above. */
    for (size_t i = 0; i < in->nenv; i++) {
        if (strncmp(in->env[i], "LOG_LEVEL=", 10) == 0)
            continue;
        /* A later entry for the same name replaces an earlier one (instance over service). */
        size_t len = strcspn(in->env[i], "=") + 1, j;
        for (j = 0; j < n; j++)
            if (strncmp(v[j], in->env[i], len) == 0)
                break;
        if (j < n) {
            free(v[j]);
            v[j] = xstrdup(in->env[i]);
        } else {
            v[n++] = xstrdup(in->env[i]);
        }
    }
    if (rc) {
        inv_strv_free(v);
        return NULL;
    }
    return v;
}
