/* inv_cluster.c - the inventory's cluster keys: parsed from the text before the rest of
 * the loader runs, then blanked out, so the main loader needs no knowledge of them.
 *
 * The grammar is the inventory's (inventory.c): top-level keys, `kind "title" { }`
 * sections with `key = value` or `key = { a, b }` statements, comments with #, // and
 * slash-star. This module adds one untitled section, `cluster { ... }`, and three keys
 * inside service and instance sections: nodes, node, spread. On anything it does not
 * understand it stops looking and leaves the text to the main loader, which reports
 * the syntax error with its line. */
#include "config.h"

#include "inv_cluster.h"

#include "inv_private.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "naming.h"
#include "xalloc.h"

/* One nodes/node/spread statement found in a service or instance section. */
typedef struct invc_rec {
    int is_service;
    char *title;
    char *key;
    char **list;  /* nodes */
    size_t n;
    char *value;  /* node, spread */
    int line;
} invc_rec_t;

/* ---- lexing (the inventory's token rules) ----------------------------------------- */

typedef inv_tok_t tok_t;
#define K_EOF INV_TK_EOF
#define K_WORD INV_TK_WORD
#define K_STRING INV_TK_STRING
#define K_PUNCT INV_TK_PUNCT

typedef struct {
    const char *base, *p;
    int line;
    tok_t t;
    size_t prev_end; /* where the token before t ended */
} lex_t;

/* The next token, by the inventory's own lexer (inv_scan.c). */
static void lex(lex_t *lx)
{
    inv_lexer_t sub = { lx->base, lx->p, lx->line };

    lx->prev_end = lx->t.end;
    free(lx->t.text);
    inv_lex_next(&sub, &lx->t);
    lx->p = sub.p;
    lx->line = sub.line;
}

static int is_punct(const tok_t *t, char c) { return t->kind == K_PUNCT && t->punct == c; }
static int is_atom(const tok_t *t) { return t->kind == K_WORD || t->kind == K_STRING; }

/* Spaces over text[from, to), newlines kept. */
static void blank(char *text, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if (text[i] != '\n')
            text[i] = ' ';
}

/* A value after "=": an atom or a list. Fills list and n, or atom. 0, or -1 on a
 * syntax error (left to the main loader). */
static int read_value(lex_t *lx, char ***list, size_t *n, char **atom)
{
    if (is_atom(&lx->t)) {
        *atom = xstrdup(lx->t.text);
        lex(lx);
        return 0;
    }
    if (!is_punct(&lx->t, '{'))
        return -1;
    *list = xcalloc(1, sizeof(char *));
    *n = 0;
    lex(lx);
    if (is_punct(&lx->t, '}')) {
        lex(lx);
        return 0;
    }
    for (;;) {
        if (!is_atom(&lx->t))
            return -1;
        *list = xreallocarray(*list, *n + 2, sizeof(char *));
        (*list)[(*n)++] = xstrdup(lx->t.text);
        (*list)[*n] = NULL;
        lex(lx);
        if (is_punct(&lx->t, ',')) {
            lex(lx);
            continue;
        }
        if (is_punct(&lx->t, '}')) {
            lex(lx);
            return 0;
        }
        return -1;
    }
}

static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static void reportf(invc_report_fn report, void *ctx, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void reportf(invc_report_fn report, void *ctx, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    report(ctx, line, msg);
}

/* Node names: what a host name may be (letters, digits, '-', '.', '_'), 1..63. */
static int valid_node(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 63)
        return 0;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("-._", *p))
            return 0;
    return 1;
}

static char *resolve(const char *dir, const char *p)
{
    if (p[0] == '/' || !dir)
        return xstrdup(p);
    return xasprintf("%s/%s", dir, p);
}

/* The body of `cluster { }`, at the token after '{'. 0 at its '}', -1 on a syntax
 * error. */
static int parse_cluster(lex_t *lx, inv_cluster_t *cl, const char *dir, invc_report_fn report,
                         void *ctx)
{
    static const char *const known[] = { "etcd_endpoints", "name", "node", "lease_ttl",
                                         "settle", "etcd_ca", "etcd_cert", "etcd_key",
                                         "etcd_user", "etcd_password_file", NULL };
    int seen[16] = { 0 };

    while (!is_punct(&lx->t, '}')) {
        char *key, *atom = NULL, **list = NULL;
        size_t n = 0, k;
        int line;

        if (lx->t.kind != K_WORD)
            return -1;
        key = xstrdup(lx->t.text);
        line = lx->t.line;
        lex(lx);
        if (!is_punct(&lx->t, '=')) {
            free(key);
            return -1;
        }
        lex(lx);
        if (read_value(lx, &list, &n, &atom) < 0) {
            free(key);
            strv_free(list);
            free(atom);
            return -1;
        }
        for (k = 0; known[k] && strcmp(known[k], key) != 0; k++)
            ;
        if (!known[k]) {
            reportf(report, ctx, line, "unknown key \"%.60s\" in the cluster section", key);
        } else if (seen[k]) {
            reportf(report, ctx, line, "duplicate key \"%s\" (first set at line %d)", key,
                    seen[k]);
        } else if ((k == 0) != (list != NULL)) {
            reportf(report, ctx, line, k == 0 ? "etcd_endpoints is a list: { \"http://...\" }"
                                              : "%s takes one value, not a list", key);
        } else {
            seen[k] = line;
            switch (k) {
            case 0:
                for (size_t i = 0; i < n; i++)
                    if (strncmp(list[i], "http://", 7) != 0 &&
                        strncmp(list[i], "https://", 8) != 0)
                        reportf(report, ctx, line, "etcd endpoint \"%.100s\" is not an "
                                "http:// or https:// URL", list[i]);
                if (n == 0)
                    reportf(report, ctx, line, "etcd_endpoints is empty");
                cl->endpoints = list;
                cl->nendpoints = n;
                list = NULL;
                break;
            case 1:
                if (!nm_valid_service_name(atom))
                    reportf(report, ctx, line, "cluster name \"%.60s\" must match "
                            "[a-z][a-z0-9]*(-[a-z0-9]+)*", atom);
                free(cl->name);
                cl->name = atom;
                atom = NULL;
                break;
            case 2:
                if (!valid_node(atom))
                    reportf(report, ctx, line, "node name \"%.60s\" must be 1 to 63 letters, "
                            "digits, '-', '.' or '_'", atom);
                free(cl->node);
                cl->node = atom;
                atom = NULL;
                break;
            case 3:
            case 4: {
                long ms;
                if (inv_parse_duration(atom, &ms) < 0) {
                    reportf(report, ctx, line, "%s \"%.40s\" is not a duration", key, atom);
                } else if (k == 3 && (ms < 2000 || ms % 1000 != 0 || ms > 3600000)) {
                    reportf(report, ctx, line, "lease_ttl must be whole seconds between 2s "
                            "and 1h (etcd counts leases in seconds and grants no less than "
                            "about 2s)");
                } else if (k == 3) {
                    cl->lease_ttl_ms = ms;
                } else {
                    cl->settle_ms = ms;
                }
                break;
            }
            case 5: cl->etcd_ca = resolve(dir, atom); break;
            case 6: cl->etcd_cert = resolve(dir, atom); break;
            case 7: cl->etcd_key = resolve(dir, atom); break;
            case 8: cl->etcd_user = atom; atom = NULL; break;
            case 9: cl->etcd_password_file = resolve(dir, atom); break;
            }
        }
        free(key);
        free(atom);
        strv_free(list);
    }
    if (!seen[0])
        reportf(report, ctx, cl->line, "the cluster section needs etcd_endpoints");
    if ((cl->etcd_cert != NULL) != (cl->etcd_key != NULL))
        reportf(report, ctx, cl->line, "etcd_cert and etcd_key go together");
    if ((cl->etcd_user != NULL) != (cl->etcd_password_file != NULL))
        reportf(report, ctx, cl->line, "etcd_user needs etcd_password_file (the password "
                "is read from that file, never written in the inventory)");
    return 0;
}

/* FNV-1a of the text, before anything is blanked: nodes compare inventories. */
static void text_hash(const char *text, size_t len, char out[17])
{
    uint64_t h = 1469598103934665603ULL;

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)text[i];
        h *= 1099511628211ULL;
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

inv_cluster_t *invc_extract(char *text, size_t len, const char *dir, invc_report_fn report,
                            void *ctx)
{
    inv_cluster_t *cl = xcalloc(1, sizeof(*cl));
    lex_t lx = { text, text, 1, { 0 }, 0 };

    cl->name = xstrdup("instanced");
    cl->lease_ttl_ms = 10000;
    cl->settle_ms = 2000;
    text_hash(text, len, cl->hash);
    lex(&lx);
    while (lx.t.kind != K_EOF) {
        char *kind, *title;
        size_t start = lx.t.off;
        int line = lx.t.line;

        if (lx.t.kind != K_WORD)
            break;
        kind = xstrdup(lx.t.text);
        lex(&lx);
        if (is_punct(&lx.t, '=') || is_punct(&lx.t, '+')) { /* a top-level key */
            char **l = NULL, *a = NULL;
            size_t n;
            int rc;
            lex(&lx);
            rc = read_value(&lx, &l, &n, &a);
            strv_free(l);
            free(a);
            free(kind);
            if (rc < 0)
                break;
            continue;
        }
        if (strcmp(kind, "cluster") == 0 && is_punct(&lx.t, '{')) {
            free(kind);
            if (cl->enabled)
                reportf(report, ctx, line, "duplicate cluster section (first at line %d)",
                        cl->line);
            cl->enabled = 1;
            cl->line = line;
            lex(&lx);
            if (parse_cluster(&lx, cl, dir, report, ctx) < 0)
                break;
            blank(text, start, lx.t.end);
            lex(&lx);
            continue;
        }
        if (!is_atom(&lx.t)) {
            free(kind);
            break;
        }
        title = xstrdup(lx.t.text);
        lex(&lx);
        if (!is_punct(&lx.t, '{')) {
            free(kind);
            free(title);
            break;
        }
        lex(&lx);
        /* A section's statements: ours are recorded and blanked. */
        while (lx.t.kind == K_WORD) {
            size_t kstart = lx.t.off;
            int kline = lx.t.line;
            char *key = xstrdup(lx.t.text), **l = NULL, *a = NULL;
            size_t n = 0;
            int rc;

            lex(&lx);
            if (!is_punct(&lx.t, '=') && !is_punct(&lx.t, '+')) {
                free(key);
                break;
            }
            lex(&lx);
            rc = read_value(&lx, &l, &n, &a);
            if (rc == 0 && (strcmp(kind, "service") == 0 || strcmp(kind, "instance") == 0) &&
                (strcmp(key, "nodes") == 0 || strcmp(key, "node") == 0 ||
                 strcmp(key, "spread") == 0)) {
                invc_rec_t *r;
                cl->recs = xreallocarray(cl->recs, cl->nrecs + 1, sizeof(*cl->recs));
                r = &cl->recs[cl->nrecs++];
                *r = (invc_rec_t){ strcmp(kind, "service") == 0, xstrdup(title), key, l, n,
                                   a, kline };
                blank(text, kstart, lx.prev_end);
                continue;
            }
            free(key);
            strv_free(l);
            free(a);
            if (rc < 0)
                break;
        }
        free(kind);
        free(title);
        if (!is_punct(&lx.t, '}'))
            break;
        lex(&lx);
    }
    free(lx.t.text);
    return cl;
}

static const invc_rec_t *find_rec(const inv_cluster_t *cl, int is_service, const char *title,
                                  const char *key)
{
    for (size_t i = 0; i < cl->nrecs; i++)
        if (cl->recs[i].is_service == is_service && strcmp(cl->recs[i].title, title) == 0 &&
            strcmp(cl->recs[i].key, key) == 0)
            return &cl->recs[i];
    return NULL;
}

static char **strv_dup(char **v, size_t n)
{
    char **o = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        o[i] = xstrdup(v[i]);
    return o;
}

void invc_attach(inv_cluster_t *cl, const inventory_t *inv, invc_report_fn report, void *ctx)
{
    char host[256];

    /* Each record checked once, where it was written. */
    for (size_t i = 0; i < cl->nrecs; i++) {
        invc_rec_t *r = &cl->recs[i];

        for (size_t k = 0; k < i; k++)
            if (cl->recs[k].is_service == r->is_service &&
                strcmp(cl->recs[k].title, r->title) == 0 && strcmp(cl->recs[k].key, r->key) == 0)
                reportf(report, ctx, r->line, "duplicate key \"%s\" (first set at line %d)",
                        r->key, cl->recs[k].line);
        if (strcmp(r->key, "nodes") == 0) {
            if (!r->list)
                reportf(report, ctx, r->line, "nodes is a list: nodes = { \"h1\", \"h2\" }");
            for (size_t k = 0; k < r->n; k++)
                if (!valid_node(r->list[k]))
                    reportf(report, ctx, r->line, "node name \"%.60s\" must be 1 to 63 "
                            "letters, digits, '-', '.' or '_'", r->list[k]);
        } else if (strcmp(r->key, "node") == 0) {
            if (!r->value || !valid_node(r->value))
                reportf(report, ctx, r->line, "node must be one node name (1 to 63 letters, "
                        "digits, '-', '.' or '_')");
        } else {
            if (!r->is_service)
                reportf(report, ctx, r->line, "spread is a service key (its instances on "
                        "distinct nodes), not an instance's");
            else if (!r->value || (strcmp(r->value, "true") && strcmp(r->value, "false")))
                reportf(report, ctx, r->line, "spread must be true or false");
        }
    }
    if (!cl->node) {
        if (gethostname(host, sizeof(host)) < 0)
            snprintf(host, sizeof(host), "localhost");
        host[sizeof(host) - 1] = '\0';
        host[strcspn(host, ".")] = '\0'; /* the short name, as hostname(1) shows it */
        cl->node = xstrdup(host);
    }
    /* instanced --node NAME sets it; the environment carries it to every load (a
     * reload too) without a hidden global here. */
    if (getenv("INSTANCED_NODE") && *getenv("INSTANCED_NODE")) {
        free(cl->node);
        cl->node = xstrdup(getenv("INSTANCED_NODE"));
    }
    cl->nplace = inv->ninstances;
    cl->place = xcalloc(cl->nplace ? cl->nplace : 1, sizeof(*cl->place));
    for (size_t i = 0; i < inv->ninstances; i++) {
        const inv_instance_t *in = &inv->instances[i];
        const char *svc = in->service ? in->service->name : "";
        inv_place_t *p = &cl->place[i];
        const invc_rec_t *r;

        r = find_rec(cl, 0, in->name, "nodes");
        if (!r || !r->list)
            r = find_rec(cl, 1, svc, "nodes");
        if (r && r->list) {
            p->nodes = strv_dup(r->list, r->n);
            p->nnodes = r->n;
        }
        r = find_rec(cl, 0, in->name, "node");
        if (!r || !r->value)
            r = find_rec(cl, 1, svc, "node");
        if (r && r->value)
            p->pin = xstrdup(r->value);
        r = find_rec(cl, 1, svc, "spread");
        p->spread = r && r->value && strcmp(r->value, "true") == 0;
        if (p->pin && p->nnodes) {
            int ok = 0;
            for (size_t k = 0; k < p->nnodes; k++)
                ok |= strcmp(p->nodes[k], p->pin) == 0;
            if (!ok)
                reportf(report, ctx, in->line, "instance \"%s\" is pinned to node \"%s\", "
                        "which its nodes list does not allow", in->name, p->pin);
        }
        /* The margin (docs/cluster.md, "Margins"): fencing begins at lease_ttl / 2
         * without a renewal and must be over before lease_ttl. */
        if (cl->enabled && !p->pin &&
            in->policy.stop_timeout_ms + INVC_STOP_SLACK_MS > cl->lease_ttl_ms / 2)
            reportf(report, ctx, in->line, "instance \"%s\": stop_timeout %ldms is too long "
                    "for the cluster's lease_ttl %lds: a node cut off from etcd must have "
                    "stopped it before its lease can expire (stop_timeout + %ds <= lease_ttl "
                    "/ 2); lower stop_timeout or raise lease_ttl", in->name,
                    in->policy.stop_timeout_ms, cl->lease_ttl_ms / 1000,
                    INVC_STOP_SLACK_MS / 1000);
    }
    for (size_t i = 0; i < cl->nrecs; i++) {
        invc_rec_t *r = &cl->recs[i];
        free(r->title);
        free(r->key);
        strv_free(r->list);
        free(r->value);
    }
    free(cl->recs);
    cl->recs = NULL;
    cl->nrecs = 0;
}

void invc_free(inv_cluster_t *cl)
{
    if (!cl)
        return;
    for (size_t i = 0; i < cl->nrecs; i++) {
        free(cl->recs[i].title);
        free(cl->recs[i].key);
        strv_free(cl->recs[i].list);
        free(cl->recs[i].value);
    }
    free(cl->recs);
    for (size_t i = 0; i < cl->nplace; i++) {
        strv_free(cl->place[i].nodes);
        free(cl->place[i].pin);
    }
    free(cl->place);
    strv_free(cl->endpoints);
    free(cl->name);
    free(cl->node);
    free(cl->etcd_ca);
    free(cl->etcd_cert);
    free(cl->etcd_key);
    free(cl->etcd_user);
    free(cl->etcd_password_file);
    free(cl);
}

const inv_place_t *invc_place(const inventory_t *inv, const inv_instance_t *in)
{
    static const inv_place_t none;
    size_t i;

    if (!inv->cluster || !inv->cluster->place || in < inv->instances)
        return &none;
    i = (size_t)(in - inv->instances);
    return i < inv->cluster->nplace ? &inv->cluster->place[i] : &none;
}

int invc_contested(const inventory_t *inv, const inv_instance_t *in)
{
    return inv->cluster && inv->cluster->enabled && !invc_place(inv, in)->pin;
}

void invc_print(FILE *out, const inventory_t *inv)
{
    const inv_cluster_t *cl = inv->cluster;

    if (!cl || !cl->enabled)
        return;
    fprintf(out, "\ncluster %s: node %s, lease_ttl %lds, settle %ldms, etcd", cl->name,
            cl->node, cl->lease_ttl_ms / 1000, cl->settle_ms);
    for (size_t i = 0; i < cl->nendpoints; i++)
        fprintf(out, " %s", cl->endpoints[i]);
    fprintf(out, "%s\n", cl->etcd_user ? " (with a user)" : "");
    for (size_t i = 0; i < inv->ninstances; i++) {
        const inv_place_t *p = invc_place(inv, &inv->instances[i]);
        fprintf(out, "  %s: %s", inv->instances[i].name, p->pin ? "pinned to " : "contested");
        if (p->pin)
            fputs(p->pin, out);
        if (p->nnodes) {
            fputs(", nodes", out);
            for (size_t k = 0; k < p->nnodes; k++)
                fprintf(out, " %s", p->nodes[k]);
        }
        fprintf(out, "%s\n", p->spread ? ", spread" : "");
    }
}
