/* inv_scan.c - the inventory scanner: refuses hostile bytes, maps sections and keys with
 * their lines, reports unknown and duplicate keys and the first syntax error before
 * libconfuse sees the text. */
#include "config.h"

#include "inv_private.h"
#include "xalloc.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the pre-scan: bytes no parser should see ----------------------------------------- */

/* NUL and control bytes other than tab, LF and CR have no place in an inventory (one
 * NUL used to make the scanner and libconfuse read different texts), and a line
 * longer than INV_MAX_LINE costs libconfuse quadratic time. Reports each with its
 * line; returns 0 when the text is clean. Bytes of 0x80 and above (UTF-8) pass. */
int inv_prescan(loader_t *ld, const char *buf, size_t len)
{
    int line = 1, bad = 0, bad_line = 0;
    size_t line_start = 0;

    for (size_t i = 0; i <= len; i++) {
        unsigned char c = i < len ? (unsigned char)buf[i] : '\n';
        if (c == '\n') {
            if (i - line_start > INV_MAX_LINE) {
                inv_add_error(ld, line, "line is %zu bytes long, more than the %d allowed",
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
                inv_add_error(ld, line, "NUL byte at column %zu: the inventory must be text",
                              i - line_start + 1);
            else if (bad_line != line)
                inv_add_error(ld, line, "control character 0x%02x at column %zu: the inventory "
                              "must be text", c, i - line_start + 1);
            bad = bad_line = line;
        }
        if (ld->nerr >= INV_MAX_ERRORS)
            break;
    }
    return bad ? -1 : 0;
}

/* ---- the scanner: where things are ------------------------------------------------ */

/* The lexer is shared with inv_cluster.c (inv_private.h). */
typedef inv_tok_t tok_t;
typedef inv_lexer_t lexer_t;
#define TK_EOF INV_TK_EOF
#define TK_WORD INV_TK_WORD
#define TK_STRING INV_TK_STRING
#define TK_PUNCT INV_TK_PUNCT

/* The '}' closing "${" at p on the same line, or NULL: never a search through the
 * rest of the file for each "${". */
static const char *var_end(const char *p)
{
    for (p += 2; *p && *p != '\n'; p++)
        if (*p == '}')
            return p;
    return NULL;
}

void inv_lex_next(inv_lexer_t *lx, inv_tok_t *t)
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
    t->end = (size_t)(p - lx->base);
    lx->p = p;
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

void inv_scan_free(scan_t *sc)
{
    for (size_t i = 0; i < sc->nsecs; i++) {
        free(sc->secs[i].kind);
        free(sc->secs[i].title);
        free(sc->secs[i].kl);
    }
    free(sc->secs);
    free(sc->items);
    inv_hm_free(&sc->sec_map);
}

unsigned inv_kind_scope(const char *kind)
{
    if (strcmp(kind, "service") == 0)
        return SC_SERVICE;
    if (strcmp(kind, "instance") == 0)
        return SC_INSTANCE;
    return 0;
}

/* first_line: per key of inv_keys[], the line of its first setting in the current
 * section (or at the top level), 0 if none yet. */
static void scan_add_key(loader_t *ld, scan_t *sc, int cur, const tok_t *k, int append,
                         int *first_line)
{
    unsigned scope = cur < 0 ? SC_GLOBAL : inv_kind_scope(sc->secs[cur].kind);
    const inv_key_t *key = scope ? inv_find_key(k->text, scope) : NULL;
    size_t ki;

    if (!scope)
        return; /* in a section of an unknown kind, reported already */
    if (!key) {
        if (cur < 0)
            inv_add_error(ld, k->line, "unknown key \"%s\" at the top level", k->text);
        else
            inv_add_error(ld, k->line, "unknown key \"%s\" in %s \"%s\"", k->text,
                          sc->secs[cur].kind, sc->secs[cur].title);
        return;
    }
    ki = (size_t)(key - inv_keys);
    if (first_line[ki] && !append)
        inv_add_error(ld, k->line, "duplicate key \"%s\" (first set at line %d)", k->text,
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
    if (!inv_kind_scope(kind->text)) {
        inv_add_error(ld, kind->line, "unknown section \"%s\" (expected service or instance)",
                      kind->text);
        sc->secs[i].skip = 1;
        return (int)i;
    }
    first = inv_hm_put_first(&sc->sec_map, inv_kind_scope(kind->text), sc->secs[i].title,
                             strlen(title->text), i);
    if (first != NONE) {
        inv_add_error(ld, kind->line, "duplicate %s \"%s\" (first defined at line %d)",
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
    int sec_line[INV_NKEYS]; /* first lines of keys in the current section (scan_add_key) */
} parser_t;

static void p_syntax(parser_t *p, const char *what);

static void p_next(parser_t *p)
{
    free(p->t.text);
    p->prev_end = (size_t)(p->lx.p - p->lx.base);
    inv_lex_next(&p->lx, &p->t);
    /* A quoted string may span lines: bound it as a line is bounded. */
    if ((p->t.kind == TK_STRING || p->t.kind == TK_WORD) && strlen(p->t.text) > INV_MAX_LINE &&
        !p->failed) {
        inv_add_error(p->ld, p->t.line, "a value longer than %d bytes", INV_MAX_LINE);
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
        inv_add_error(p->ld, p->t.line, "syntax error: %s, found the end of the file", what);
    } else if (p->t.kind == TK_PUNCT) {
        inv_add_error(p->ld, p->t.line, "syntax error: %s, found '%s'", what,
                      p->t.punct == '+' ? "+=" : (char[2]){ p->t.punct, 0 });
    } else if (p->t.kind == TK_STRING) {
        /* A quoted string may be a password or an env entry: never echo it. */
        inv_add_error(p->ld, p->t.line, "syntax error: %s, found a quoted string", what);
    } else if (inv_key_index(p->t.text) != NONE || inv_kind_scope(p->t.text)) {
        inv_add_error(p->ld, p->t.line, "syntax error: %s, found \"%s\"", what, p->t.text);
    } else {
        /* Any other word may be a secret written without its quotes or its key. */
        inv_add_error(p->ld, p->t.line, "syntax error: %s, found an unquoted value", what);
    }
}

static void p_check_atom(parser_t *p)
{
    if (p->t.kind == TK_WORD || p->t.dquoted)
        inv_check_vars(p->ld, p->t.text, p->t.line);
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
            for (size_t k = 0; k < INV_NKEYS; k++)
                s->nkl += p->sec_line[k] != 0;
            s->kl = xcalloc(s->nkl ? s->nkl : 1, sizeof(*s->kl));
            s->nkl = 0;
            for (size_t k = 0; k < INV_NKEYS; k++)
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
            inv_add_error(p->ld, name.line, "section \"%s\" needs a name", name.text);
            p->failed = 1;
        } else {
            p_syntax(p, "expected '=' after a key");
        }
        free(name.text);
    }
}

void inv_scan_text(loader_t *ld, const char *text, scan_t *sc, int *syntax_failed)
{
    parser_t p = { ld, sc, { text, text, 1 }, { 0 }, 0, 0, { 0 } };

    inv_lex_next(&p.lx, &p.t);
    p_body(&p, -1);
    free(p.t.text);
    *syntax_failed = p.failed;
}

/* Line of key `name` in section sec (-1: the top level), or of the section, or 0. */
int inv_sec_line(const scan_t *sc, long sec, const char *name)
{
    size_t k = name ? inv_key_index(name) : NONE;

    if (sec < 0)
        return k == NONE ? 0 : sc->top_line[k];
    for (size_t i = 0; k != NONE && i < sc->secs[sec].nkl; i++)
        if (sc->secs[sec].kl[i].key == k)
            return sc->secs[sec].kl[i].line;
    return sc->secs[sec].line;
}

/* Line of key `name` in section (kind, title), or of the section, or 0. */
int inv_line_of(const scan_t *sc, const char *kind, const char *title, const char *name)
{
    size_t sec = NONE;

    if (kind &&
        (sec = inv_hm_get(&sc->sec_map, inv_kind_scope(kind), title, strlen(title))) == NONE)
        return 0;
    return inv_sec_line(sc, kind ? (long)sec : -1, name);
}
