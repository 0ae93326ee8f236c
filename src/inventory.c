/* inventory.c - load and validate the instance inventory (libconfuse syntax).
 *
 * libconfuse parses the file, but it stops at the first unknown key, gives no line
 * numbers for options and expands an unset ${VAR} to "" silently. So a small scanner
 * (scan_file) walks the text first: it records where each section and key is, and
 * reports unknown keys, duplicate keys and titles and unset variables, all of them.
 * Every scalar is declared to libconfuse as a string and converted here, so a bad
 * value is one more error in the list rather than the end of the parse. Nothing is
 * returned unless the whole file is valid. */
#include "config.h"

#include "inventory.h"
#include "log.h"
#include "naming.h"
#include "probe_conf.h"

#include <confuse.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

static const inv_key_t *find_key(const char *name, unsigned scope)
{
    for (size_t i = 0; i < NKEYS; i++)
        if ((keys[i].scope & scope) && strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
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

typedef struct loader {
    const char *path;
    inv_errors_t *errs;
    int nerr;
} loader_t;

static void add_error(loader_t *ld, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add_error(loader_t *ld, int line, const char *fmt, ...)
{
    char msg[1024], *text;
    va_list ap;
    inv_errors_t *e = ld->errs;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ld->nerr++;
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 8;
        void *v = realloc(e->v, cap * sizeof(*e->v));
        if (!v)
            return;
        e->v = v;
        e->cap = cap;
    }
    if (asprintf(&text, "%s:%d: %s", ld->path, line, msg) < 0)
        return;
    /* A bad service-level value is seen through each of its instances: say it once. */
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->v[i].text, text) == 0) {
            free(text);
            return;
        }
    e->v[e->n].line = line;
    e->v[e->n].text = text;
    e->n++;
}

/* By line, keeping the order of discovery within a line (insertion sort is stable,
 * and error lists are short). */
static void sort_errors(inv_errors_t *e)
{
    for (size_t i = 1; i < e->n; i++) {
        struct inv_error x = e->v[i];
        size_t j = i;
        while (j > 0 && e->v[j - 1].line > x.line) {
            e->v[j] = e->v[j - 1];
            j--;
        }
        e->v[j] = x;
    }
}

/* ---- the scanner: where things are ------------------------------------------------ */

typedef struct scan_key {
    int sec;           /* index into sections, -1 for the top level */
    char *name;
    int line;
} scan_key_t;

typedef struct scan_sec {
    char *kind;        /* "service", "instance" */
    char *title;
    int line;
} scan_sec_t;

typedef struct scan {
    scan_sec_t *secs;
    size_t nsecs;
    scan_key_t *keys;
    size_t nkeys;
} scan_t;

typedef enum { TK_EOF, TK_WORD, TK_STRING, TK_PUNCT } tok_kind_t;

typedef struct tok {
    tok_kind_t kind;
    char *text;        /* malloc'd for WORD and STRING */
    char punct;        /* for PUNCT: { } = ( ) , and '+' for "+=" */
    int line;
    int dquoted;       /* STRING in double quotes (libconfuse expands ${} there) */
} tok_t;

typedef struct lexer {
    const char *p;
    int line;
} lexer_t;

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
        out = malloc((size_t)(p - s) + 1);
        for (const char *c = s; out && c < p; c++) {
            if (*c == '\\' && c + 1 < p)
                c++;
            out[n++] = *c;
        }
        if (out)
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
            if (p[0] == '$' && p[1] == '{' && strchr(p, '}'))
                p = strchr(p, '}');
            p++;
        }
        t->kind = TK_WORD;
        t->text = strndup(s, (size_t)(p - s));
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

static int push(void **arr, size_t *n, size_t size)
{
    void *v = realloc(*arr, (*n + 1) * size);
    if (!v)
        return -1;
    *arr = v;
    memset((char *)v + *n * size, 0, size);
    (*n)++;
    return 0;
}

static void scan_free(scan_t *sc)
{
    for (size_t i = 0; i < sc->nsecs; i++) {
        free(sc->secs[i].kind);
        free(sc->secs[i].title);
    }
    for (size_t i = 0; i < sc->nkeys; i++)
        free(sc->keys[i].name);
    free(sc->secs);
    free(sc->keys);
}

static unsigned kind_scope(const char *kind)
{
    if (strcmp(kind, "service") == 0)
        return SC_SERVICE;
    if (strcmp(kind, "instance") == 0)
        return SC_INSTANCE;
    return 0;
}

static void scan_add_key(loader_t *ld, scan_t *sc, int cur, const tok_t *k, int append)
{
    unsigned scope = cur < 0 ? SC_GLOBAL : kind_scope(sc->secs[cur].kind);

    if (scope && find_key(k->text, scope) == NULL) {
        if (cur < 0)
            add_error(ld, k->line, "unknown key \"%s\" at the top level", k->text);
        else
            add_error(ld, k->line, "unknown key \"%s\" in %s \"%s\"", k->text,
                      sc->secs[cur].kind, sc->secs[cur].title);
    } else if (!append) {
        for (size_t i = 0; i < sc->nkeys; i++) {
            if (sc->keys[i].sec == cur && strcmp(sc->keys[i].name, k->text) == 0) {
                add_error(ld, k->line, "duplicate key \"%s\" (first set at line %d)", k->text,
                          sc->keys[i].line);
                break;
            }
        }
    }
    if (push((void **)&sc->keys, &sc->nkeys, sizeof(*sc->keys)) == 0) {
        sc->keys[sc->nkeys - 1].sec = cur;
        sc->keys[sc->nkeys - 1].name = strdup(k->text);
        sc->keys[sc->nkeys - 1].line = k->line;
    }
}

static int scan_add_section(loader_t *ld, scan_t *sc, const tok_t *kind, const tok_t *title)
{
    if (!kind_scope(kind->text))
        add_error(ld, kind->line, "unknown section \"%s\" (expected service or instance)",
                  kind->text);
    for (size_t i = 0; i < sc->nsecs; i++) {
        if (strcmp(sc->secs[i].kind, kind->text) == 0 &&
            strcmp(sc->secs[i].title, title->text) == 0) {
            add_error(ld, kind->line, "duplicate %s \"%s\" (first defined at line %d)",
                      kind->text, title->text, sc->secs[i].line);
            break;
        }
    }
    if (push((void **)&sc->secs, &sc->nsecs, sizeof(*sc->secs)) < 0)
        return -1;
    sc->secs[sc->nsecs - 1].kind = strdup(kind->text);
    sc->secs[sc->nsecs - 1].title = strdup(title->text);
    sc->secs[sc->nsecs - 1].line = kind->line;
    return (int)sc->nsecs - 1;
}

/* A recursive-descent pass over the grammar libconfuse accepts for an inventory:
 *   file    := { key ("=" | "+=") value | kind title "{" { key ("=" | "+=") value } "}" }
 *   value   := atom | "{" [ atom { "," atom } ] "}"
 * It records where each section and key is and reports the first syntax error with
 * its true line (libconfuse's own line count drifts after comments). */
typedef struct parser {
    loader_t *ld;
    scan_t *sc;
    lexer_t lx;
    tok_t t;
    int failed;
} parser_t;

static void p_next(parser_t *p)
{
    free(p->t.text);
    lex_next(&p->lx, &p->t);
}

static int p_atom(const tok_t *t) { return t->kind == TK_WORD || t->kind == TK_STRING; }

static void p_syntax(parser_t *p, const char *what)
{
    if (p->failed)
        return;
    p->failed = 1;
    if (p->t.kind == TK_EOF)
        add_error(p->ld, p->t.line, "syntax error: %s, found the end of the file", what);
    else if (p->t.kind == TK_PUNCT)
        add_error(p->ld, p->t.line, "syntax error: %s, found '%s'", what,
                  p->t.punct == '+' ? "+=" : (char[2]){ p->t.punct, 0 });
    else
        add_error(p->ld, p->t.line, "syntax error: %s, found \"%.40s\"", what, p->t.text);
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
    while (!p->failed) {
        tok_t name;

        if (p->t.kind == TK_EOF) {
            if (sec >= 0)
                p_syntax(p, "expected '}' to close the section");
            return;
        }
        if (sec >= 0 && p->t.kind == TK_PUNCT && p->t.punct == '}') {
            p_next(p);
            return;
        }
        if (p->t.kind != TK_WORD) {
            p_syntax(p, "expected a key");
            return;
        }
        name = p->t;
        name.text = strdup(p->t.text);
        p_next(p);
        if (p->t.kind == TK_PUNCT && (p->t.punct == '=' || p->t.punct == '+')) {
            scan_add_key(p->ld, p->sc, sec, &name, p->t.punct == '+');
            p_next(p);
            p_value(p);
        } else if (sec < 0 && p_atom(&p->t)) {
            tok_t title = p->t;
            int idx;
            title.text = strdup(p->t.text);
            p_next(p);
            if (p->t.kind == TK_PUNCT && p->t.punct == '{') {
                idx = scan_add_section(p->ld, p->sc, &name, &title);
                p_next(p);
                p_body(p, idx < 0 ? -2 : idx);
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
    parser_t p = { ld, sc, { text, 1 }, { 0 }, 0 };

    lex_next(&p.lx, &p.t);
    p_body(&p, -1);
    free(p.t.text);
    *syntax_failed = p.failed;
}

/* Line of key `name` in section (kind, title), or of the section, or 0. */
static int line_of(const scan_t *sc, const char *kind, const char *title, const char *name)
{
    int sec = -1, line = 0;

    if (kind) {
        for (size_t i = 0; i < sc->nsecs; i++)
            if (strcmp(sc->secs[i].kind, kind) == 0 && strcmp(sc->secs[i].title, title) == 0) {
                sec = (int)i;
                line = sc->secs[i].line;
                break;
            }
        if (sec < 0)
            return 0;
    }
    if (name)
        for (size_t i = 0; i < sc->nkeys; i++)
            if (sc->keys[i].sec == sec && strcmp(sc->keys[i].name, name) == 0)
                return sc->keys[i].line;
    return line;
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
    char *out;
    if (p[0] == '/' || !dir)
        return strdup(p);
    if (asprintf(&out, "%s/%s", dir, p) < 0)
        return NULL;
    return out;
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
        free(*(char **)f);
        *(char **)f = strdup(text);
        return 0;
    case T_PATH:
        if (*text == '\0')
            return snprintf(err, errlen, "%s must not be empty", k->name), -1;
        free(*(char **)f);
        *(char **)f = resolve_path(dir, text);
        return 0;
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
        *(char **)d = *(char *const *)s ? strdup(*(char *const *)s) : NULL;
    } else {
        memcpy(d, s, field_size(k->type));
    }
}

/* ---- libconfuse option tables, generated from keys[] -------------------------------- */

static cfg_opt_t *make_opts(unsigned scope, cfg_opt_t *sub_service, cfg_opt_t *sub_instance)
{
    size_t n = 0;
    cfg_opt_t *o = calloc(NKEYS + 3, sizeof(*o));

    if (!o)
        return NULL;
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
    if (sub_service) {
        /* Duplicate titles are found (with both lines) by the scanner; libconfuse
         * would otherwise stop at the first one. */
        cfg_opt_t s = CFG_SEC("service", sub_service, CFGF_MULTI | CFGF_TITLE);
        cfg_opt_t t = CFG_SEC("instance", sub_instance, CFGF_MULTI | CFGF_TITLE);
        o[n++] = s;
        o[n++] = t;
    }
    {
        cfg_opt_t end = CFG_END();
        o[n] = end;
    }
    return o;
}

static loader_t *cur_loader; /* for the libconfuse error callback, during cfg_parse only */

static void confuse_error_cb(cfg_t *cfg, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (cur_loader)
        add_error(cur_loader, cfg ? cfg->line : 0, "%s", msg);
}

/* ---- building the inventory -------------------------------------------------------- */

static char **copy_list(cfg_t *sec, const char *name, size_t *n)
{
    size_t cnt = cfg_size(sec, name);
    char **v = calloc(cnt + 1, sizeof(char *));

    if (!v)
        return NULL;
    for (size_t i = 0; i < cnt; i++)
        v[i] = strdup(cfg_getnstr(sec, name, (unsigned)i));
    *n = cnt;
    return v;
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

static void check_env_list(loader_t *ld, char **env, int line)
{
    for (char **e = env; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        size_t n = eq ? (size_t)(eq - *e) : 0;
        int ok = n > 0 && (isalpha((unsigned char)**e) || **e == '_');
        for (size_t i = 0; ok && i < n; i++)
            ok = isalnum((unsigned char)(*e)[i]) || (*e)[i] == '_';
        if (!ok) {
            add_error(ld, line, "env entry \"%.60s\" must be NAME=value", *e);
            continue;
        }
        for (size_t i = 0; i < sizeof(contract_vars) / sizeof(contract_vars[0]); i++)
            if (strlen(contract_vars[i]) == n && strncmp(*e, contract_vars[i], n) == 0)
                add_error(ld, line, "env may not set %s: instanced sets it for the worker",
                          contract_vars[i]);
    }
}

static const char *opt_str(cfg_t *sec, const char *name)
{
    return cfg_size(sec, name) ? cfg_getstr(sec, name) : NULL;
}

/* Set every scalar key of `scope` present in sec (or its default when global) into
 * the structs; report bad values at their lines. *set collects policy bits. */
static void load_scalars(loader_t *ld, const scan_t *sc, cfg_t *sec, unsigned scope,
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
        text = opt_str(sec, k->name);
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

static void check_policy(loader_t *ld, const scan_t *sc, const char *inst, const char *svc,
                         const inv_policy_t *p)
{
    if (p->health_path && p->health_path[0] != '/')
        add_error(ld, policy_line(sc, inst, svc, "health_path"),
                  "health_path \"%s\" must start with /", p->health_path);
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
    else if (p->user && getpwnam(p->user) == NULL)
        add_error(ld, policy_line(sc, inst, svc, "user"), "user \"%s\" does not exist", p->user);
    if (p->group && !valid_user_or_group(p->group))
        add_error(ld, policy_line(sc, inst, svc, "group"), "group \"%s\" is not a valid name",
                  p->group);
    else if (p->group && getgrnam(p->group) == NULL)
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
        if (slash) {
            char *out;
            if (asprintf(&out, "%s/%.*s", buf, (int)(slash - path), path) < 0)
                return NULL;
            return out;
        }
        return strdup(buf);
    }
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
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

/* health_command (the instance's list, else its service's) and the probe checks. */
static void check_probe(loader_t *ld, const scan_t *sc, cfg_t *root, cfg_t *sec,
                        inv_instance_t *in, char **own_env)
{
    probe_ctx_t c = { ld, sc, in->name, in->service->name };
    cfg_t *from = cfg_size(sec, "health_command") ? sec
                  : cfg_gettsec(root, "service", in->service->name);
    size_t n;

    if (from && cfg_size(from, "health_command"))
        in->policy.health_command = copy_list(from, "health_command", &n);
    pc_check_instance(in, own_env, probe_report, &c);
}

/* Services: scalars, lists, required keys. */
static void load_services(loader_t *ld, const scan_t *sc, cfg_t *root, inventory_t *inv)
{
    size_t n = cfg_size(root, "service");

    inv->services = calloc(n ? n : 1, sizeof(inv_service_t));
    if (!inv->services)
        return;
    inv->nservices = n;
    for (size_t i = 0; i < n; i++) {
        cfg_t *sec = cfg_getnsec(root, "service", (unsigned)i);
        inv_service_t *s = &inv->services[i];
        const char *title = cfg_title(sec);

        s->name = strdup(title);
        s->line = line_of(sc, "service", title, NULL);
        load_scalars(ld, sc, sec, SC_SERVICE, "service", title, inv->dir, s, &s->policy,
                     &s->policy_set);
        /* A bare command name is looked up in PATH, like a shell would. */
        if (s->command && opt_str(sec, "command") && !strchr(opt_str(sec, "command"), '/')) {
            free(s->command);
            s->command = strdup(opt_str(sec, "command"));
        }
        s->args = copy_list(sec, "args", &s->nargs);
        s->env = copy_list(sec, "env", &s->nenv);
        check_env_list(ld, s->env, line_of(sc, "service", title, "env"));
        pc_check_service(s, probe_report, &(probe_ctx_t){ ld, sc, NULL, title });
        if (!nm_valid_service_name(title))
            add_error(ld, s->line, "invalid service name \"%s\": must match "
                      "[a-z][a-z0-9]*(-[a-z0-9]+)*", title);
        if (!s->command)
            add_error(ld, s->line, "service \"%s\" has no command", title);
        if (s->instance_prefix && !nm_valid_instance_name(s->instance_prefix))
            add_error(ld, line_of(sc, "service", title, "instance_prefix"),
                      "instance_prefix \"%s\" is not a valid name", s->instance_prefix);
        if (s->namespace_prefix) {
            char err[256];
            if (nm_check_namespace(s->namespace_prefix, err, sizeof(err)) < 0)
                add_error(ld, line_of(sc, "service", title, "namespace_prefix"),
                          "namespace_prefix: %s", err);
        }
        if (s->entity_type && !nm_valid_service_name(s->entity_type))
            add_error(ld, line_of(sc, "service", title, "entity_type"),
                      "entity_type \"%s\" must match [a-z][a-z0-9]*(-[a-z0-9]+)*",
                      s->entity_type);
    }
}

static const inv_service_t *find_service(const inventory_t *inv, const char *name)
{
    for (size_t i = 0; i < inv->nservices; i++)
        if (strcmp(inv->services[i].name, name) == 0)
            return &inv->services[i];
    return NULL;
}

static char **concat_env(char **a, size_t na, char **b, size_t nb, size_t *n)
{
    char **v = calloc(na + nb + 1, sizeof(char *));
    if (!v)
        return NULL;
    for (size_t i = 0; i < na; i++)
        v[i] = strdup(a[i]);
    for (size_t i = 0; i < nb; i++)
        v[na + i] = strdup(b[i]);
    *n = na + nb;
    return v;
}

static void load_instances(loader_t *ld, const scan_t *sc, cfg_t *root, inventory_t *inv)
{
    size_t n = cfg_size(root, "instance");

    inv->instances = calloc(n ? n : 1, sizeof(inv_instance_t));
    if (!inv->instances)
        return;
    inv->ninstances = n;
    for (size_t i = 0; i < n; i++) {
        cfg_t *sec = cfg_getnsec(root, "instance", (unsigned)i);
        inv_instance_t *in = &inv->instances[i];
        const char *title = cfg_title(sec), *svc = opt_str(sec, "service");
        inv_policy_t own = { 0 };
        unsigned long long own_set = 0;
        char **env;
        size_t nenv;
        char err[512];

        in->name = strdup(title);
        in->line = line_of(sc, "instance", title, NULL);
        default_policy(&in->policy);
        load_scalars(ld, sc, sec, SC_INSTANCE, "instance", title, inv->dir, in, &own, &own_set);
        env = copy_list(sec, "env", &nenv);
        check_env_list(ld, env, line_of(sc, "instance", title, "env"));
        in->depends_on = copy_list(sec, "depends_on", &in->ndeps);

        if (!nm_valid_instance_name(title)) {
            add_error(ld, in->line, "invalid instance name \"%s\": must match "
                      "[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)*", title);
        }
        if (!svc) {
            add_error(ld, in->line, "instance \"%s\" has no service", title);
        } else if ((in->service = find_service(inv, svc)) == NULL) {
            add_error(ld, line_of(sc, "instance", title, "service"),
                      "instance \"%s\" names undefined service \"%s\"", title, svc);
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
                    add_error(ld, line_of(sc, "instance", title, key), "%s", err);
                } else {
                    in->schema = strdup(d.schema);
                    in->namespace = strdup(d.namespace);
                    in->discovery_key = strdup(d.discovery_key);
                    in->service_type = d.service_type;
                    in->singleton = d.singleton;
                }
            }
            check_policy(ld, sc, title, s->name, &in->policy);
            check_probe(ld, sc, root, sec, in, env);
        }
        policy_free(&own);
        inv_strv_free(env);
        in->data_dir = nm_volume_dir(inv->volumes_root ? inv->volumes_root : "", title, "data");
        in->logs_dir = nm_volume_dir(inv->volumes_root ? inv->volumes_root : "", title, "logs");
    }
}

/* Depth-first search for a depends_on cycle; prints the first one found. */
static int find_cycle(const inventory_t *inv, size_t at, int *color, size_t *stack, size_t depth,
                      char *out, size_t outlen)
{
    const inv_instance_t *in = &inv->instances[at];

    color[at] = 1;
    stack[depth] = at;
    for (size_t d = 0; d < in->ndeps; d++) {
        const inv_instance_t *dep = inv_find_instance(inv, in->depends_on[d]);
        size_t j;
        if (!dep)
            continue;
        j = (size_t)(dep - inv->instances);
        if (color[j] == 1) {
            size_t start = 0, len = 0;
            while (stack[start] != j)
                start++;
            out[0] = '\0';
            for (size_t k = start; k <= depth; k++)
                len += (size_t)snprintf(out + len, len < outlen ? outlen - len : 0, "%s -> ",
                                        inv->instances[stack[k]].name);
            snprintf(out + (len < outlen ? len : outlen - 1), len < outlen ? outlen - len : 1,
                     "%s", dep->name);
            return 1;
        }
        if (color[j] == 0 && find_cycle(inv, j, color, stack, depth + 1, out, outlen))
            return 1;
    }
    color[at] = 2;
    return 0;
}

static void check_across(loader_t *ld, const scan_t *sc, inventory_t *inv)
{
    int status_port = inv->status_listen ? check_listen(inv->status_listen) : -1;

    if (inv->status_listen && status_port < 0)
        add_error(ld, line_of(sc, NULL, NULL, "status_listen"),
                  "status_listen \"%s\" must be HOST:PORT", inv->status_listen);
    /* A health_timeout left to its default adapts to a shorter health_interval; one
     * the user wrote is checked, and reported at its own line. */
    if (inv->health_interval_ms >= 0 && inv->health_timeout_ms > inv->health_interval_ms &&
        line_of(sc, NULL, NULL, "health_timeout") == 0)
        inv->health_timeout_ms = inv->health_interval_ms;
    if (inv->health_interval_ms >= 0 && inv->health_timeout_ms >= 0 &&
        (inv->health_timeout_ms == 0 || inv->health_timeout_ms > inv->health_interval_ms))
        add_error(ld, line_of(sc, NULL, NULL, "health_timeout"),
                  "health_timeout must be above 0 and at most health_interval");
    if (inv->health_interval_ms >= 0 && inv->health_interval_ms < 100)
        add_error(ld, line_of(sc, NULL, NULL, "health_interval"),
                  "health_interval must be at least 100ms");
    for (size_t i = 0; i < inv->nlegacy; i++) {
        char err[256];
        if (nm_check_schema(inv->legacy_schemas[i], err, sizeof(err)) < 0)
            add_error(ld, line_of(sc, NULL, NULL, "legacy_schemas"), "legacy_schemas: %s", err);
    }

    for (size_t i = 0; i < inv->nservices; i++) {
        const inv_service_t *s = &inv->services[i];
        size_t count = 0;
        if (!s->singleton)
            continue;
        for (size_t j = 0; j < inv->ninstances; j++) {
            const inv_instance_t *in = &inv->instances[j];
            if (in->service != s)
                continue;
            count++;
            if (strcmp(in->name, s->name) != 0)
                add_error(ld, in->line, "service \"%s\" is a singleton: its one instance must "
                          "be named \"%s\", not \"%s\"", s->name, s->name, in->name);
        }
        if (count == 0)
            add_error(ld, s->line, "singleton service \"%s\" has no instance \"%s\"", s->name,
                      s->name);
    }

    for (size_t i = 0; i < inv->ninstances; i++) {
        const inv_instance_t *a = &inv->instances[i];
        if (a->port && a->port == status_port)
            add_error(ld, line_of(sc, "instance", a->name, "port"),
                      "port %d of \"%s\" is the status_listen port", a->port, a->name);
        for (size_t j = 0; j < i; j++) {
            const inv_instance_t *b = &inv->instances[j];
            if (strcasecmp(a->name, b->name) == 0)
                add_error(ld, a->line, "instance \"%s\" differs from \"%s\" (line %d) only in "
                          "case", a->name, b->name, b->line);
            if (a->schema && b->schema && strcmp(a->schema, b->schema) == 0)
                add_error(ld, line_of(sc, "instance", a->name, "schema"),
                          "instance \"%s\" has schema \"%s\", already used by \"%s\" (line %d)",
                          a->name, a->schema, b->name, b->line);
            if (a->namespace && b->namespace && nm_namespaces_overlap(a->namespace, b->namespace))
                add_error(ld, line_of(sc, "instance", a->name, "namespace"),
                          "namespace \"%s\" of \"%s\" overlaps namespace \"%s\" of \"%s\" "
                          "(line %d)", a->namespace, a->name, b->namespace, b->name, b->line);
            if (a->port && a->port == b->port)
                add_error(ld, line_of(sc, "instance", a->name, "port"),
                          "port %d of \"%s\" is already used by \"%s\" (line %d)", a->port,
                          a->name, b->name, b->line);
        }
        for (size_t d = 0; d < a->ndeps; d++) {
            if (!inv_find_instance(inv, a->depends_on[d]))
                add_error(ld, line_of(sc, "instance", a->name, "depends_on"),
                          "instance \"%s\" depends on undefined instance \"%s\"", a->name,
                          a->depends_on[d]);
            else if (strcmp(a->depends_on[d], a->name) == 0)
                continue; /* reported as a cycle below */
        }
    }

    if (inv->ninstances) {
        int *color = calloc(inv->ninstances, sizeof(int));
        size_t *stack = calloc(inv->ninstances, sizeof(size_t));
        char cycle[1024];
        for (size_t i = 0; color && stack && i < inv->ninstances; i++) {
            if (color[i] == 0 && find_cycle(inv, i, color, stack, 0, cycle, sizeof(cycle))) {
                const char *first = cycle;
                char name[NM_NAME_MAX + 1];
                size_t n = strcspn(first, " ");
                snprintf(name, sizeof(name), "%.*s", (int)n, first);
                add_error(ld, line_of(sc, "instance", name, "depends_on"),
                          "depends_on forms a cycle: %s", cycle);
                break;
            }
        }
        free(color);
        free(stack);
    }
}

static char *read_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0, cap = 0;

    if (!f) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return NULL;
    }
    for (;;) {
        size_t n;
        if (cap - len < 4096) {
            char *nb = realloc(buf, cap + 65536);
            if (!nb) {
                free(buf);
                fclose(f);
                snprintf(err, errlen, "out of memory");
                return NULL;
            }
            buf = nb;
            cap += 65536;
        }
        n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
    }
    buf[len] = '\0';
    if (ferror(f)) {
        snprintf(err, errlen, "read error: %s", strerror(errno));
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

inventory_t *inv_load(const char *path, inv_errors_t *errs)
{
    loader_t ld = { path, errs, 0 };
    scan_t sc = { 0 };
    cfg_opt_t *svc_opts = NULL, *inst_opts = NULL, *root_opts = NULL;
    cfg_t *cfg = NULL;
    inventory_t *inv = NULL;
    char err[512], *text;
    int rc, syntax_failed = 0;

    text = read_file(path, err, sizeof(err));
    if (!text) {
        add_error(&ld, 0, "%s", err);
        return NULL;
    }
    scan_text(&ld, text, &sc, &syntax_failed);
    free(text);
    if (syntax_failed)
        goto out;

    svc_opts = make_opts(SC_SERVICE, NULL, NULL);
    inst_opts = make_opts(SC_INSTANCE, NULL, NULL);
    root_opts = make_opts(SC_GLOBAL, svc_opts, inst_opts);
    if (!svc_opts || !inst_opts || !root_opts)
        goto out;
    /* Unknown keys were reported by the scanner, with every line; let libconfuse carry
     * on past them so the other errors are found too. */
    cfg = cfg_init(root_opts, CFGF_IGNORE_UNKNOWN);
    if (!cfg)
        goto out;
    cfg_set_error_function(cfg, confuse_error_cb);
    cur_loader = &ld;
    rc = cfg_parse(cfg, path);
    cur_loader = NULL;
    if (rc != CFG_SUCCESS) {
        if (rc == CFG_FILE_ERROR)
            add_error(&ld, 0, "cannot read the inventory");
        else if (ld.nerr == 0)
            add_error(&ld, 0, "syntax error");
        goto out;
    }

    inv = calloc(1, sizeof(*inv));
    if (!inv)
        goto out;
    inv->path = strdup(path);
    inv->dir = dir_of(path);
    /* -1 marks "did not parse", so that one bad value is not reported three times. */
    inv->health_interval_ms = inv->health_timeout_ms = -1;
    load_scalars(&ld, &sc, cfg, SC_GLOBAL, NULL, NULL, inv->dir, inv, NULL, NULL);
    inv->legacy_schemas = copy_list(cfg, "legacy_schemas", &inv->nlegacy);
    load_services(&ld, &sc, cfg, inv);
    load_instances(&ld, &sc, cfg, inv);
    check_across(&ld, &sc, inv);
    if (inv->log_level && log_parse_level(inv->log_level, &(log_level_t){ 0 }) < 0)
        add_error(&ld, line_of(&sc, NULL, NULL, "log_level"),
                  "log_level \"%s\" is not debug, info, warn or error", inv->log_level);
out:
    if (cfg)
        cfg_free(cfg);
    free(svc_opts);
    free(inst_opts);
    free(root_opts);
    scan_free(&sc);
    if (ld.nerr > 0) {
        inv_free(inv);
        inv = NULL;
        sort_errors(errs);
    }
    return inv;
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
    free(inv);
}

const inv_instance_t *inv_find_instance(const inventory_t *inv, const char *name)
{
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

static int policy_eq(const inv_policy_t *x, const inv_policy_t *y)
{
    for (size_t i = 0; i < NKEYS; i++) {
        const inv_key_t *k = &keys[i];
        const void *a = (const char *)x + k->offset, *b = (const char *)y + k->offset;
        if (k->target != TG_POLICY)
            continue;
        if (is_string(k->type) ? !str_eq(*(char *const *)a, *(char *const *)b)
                               : memcmp(a, b, field_size(k->type)) != 0)
            return 0;
    }
    return 1;
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
    return policy_eq(&x->policy, &y->policy);
}

static int env_add(char **v, size_t *n, const char *name, const char *value)
{
    if (!value)
        return 0;
    if (asprintf(&v[*n], "%s=%s", name, value) < 0) {
        v[*n] = NULL;
        return -1;
    }
    (*n)++;
    return 0;
}

char **inv_worker_env(const inventory_t *inv, const inv_instance_t *in, const char *path_env)
{
    size_t n = 0, cap = in->nenv + 24;
    char **v = calloc(cap, sizeof(char *));
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
            v[j] = strdup(in->env[i]);
            rc |= v[j] == NULL;
        } else {
            v[n] = strdup(in->env[i]);
            rc |= v[n++] == NULL;
        }
    }
    if (rc) {
        inv_strv_free(v);
        return NULL;
    }
    return v;
}
