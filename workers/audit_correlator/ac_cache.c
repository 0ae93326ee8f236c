/* ac_cache.c - the Redis cache of audit events under <namespace>:audit_event:<id>. */
#include "config.h"

#include "ac_cache.h"

#include "log.h"
#include "naming.h"
#include "xalloc.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCAN_COUNT "500"
#define STATS_MAX_KEYS 100000  /* bound the work of one stats request */

static int event_key(ac_cache_t *c, const char *id, char *out, size_t len)
{
    char sub[64];
    snprintf(sub, sizeof(sub), "audit_event:%s", id);
    return wrd_key(c->ns, sub, out, len);
}

/* The index: a sorted set <ns>:__keys of the cache's relative key names scored by
 * their expiry time. Provisioned instance users may not SCAN (the Redis ACL removes
 * it: SCAN would list every key name of every instance), so keys and stats fall back
 * to the index when SCAN is refused. */
static int index_key(ac_cache_t *c, char *out, size_t len)
{
    return wrd_key(c->ns, AC_CACHE_INDEX, out, len);
}

static void start_purge(ac_cache_t *c);

/* 1 when the cache may be used: Redis is up and no invalidation is pending (a
 * pending one starts the purge; the cache is skipped until it is done). */
static int usable(ac_cache_t *c)
{
    if (!wrd_ok(c->rd))
        return 0;
    if (c->dirty) {
        if (!c->purging)
            start_purge(c);
        return 0;
    }
    return 1;
}

typedef struct {
    ac_cache_t *c;
    ac_cache_get_cb cb;
    void *arg;
} get_t;

static void got(wrd_t *rd, redisReply *r, void *arg)
{
    get_t *g = arg;
    (void)rd;
    if (!r) {
        g->c->errors++;
        g->cb(NULL, 0, g->arg);
    } else if (r->type == REDIS_REPLY_STRING) {
        g->c->hits++;
        g->cb(r->str, r->len, g->arg);
    } else {
        g->c->misses++;
        g->cb(NULL, 0, g->arg);
    }
    free(g);
}

void ac_cache_get(ac_cache_t *c, const char *id, ac_cache_get_cb cb, void *arg)
{
    char key[NM_NAMESPACE_MAX + 64];
    const char *argv[] = { "GET", key };
    get_t *g;

    if (!usable(c) || event_key(c, id, key, sizeof(key)) < 0) {
        cb(NULL, 0, arg);
        return;
    }
    g = xmalloc(sizeof(*g));
    g->c = c;
    g->cb = cb;
    g->arg = arg;
    if (wrd_send(c->rd, 2, argv, NULL, got, g) < 0) {
        free(g);
        c->errors++;
        cb(NULL, 0, arg);
    }
}

void ac_cache_put(ac_cache_t *c, const char *id, const char *json)
{
    char key[NM_NAMESPACE_MAX + 64], idx[NM_NAMESPACE_MAX + 16], score[32];
    const char *set[] = { "SET", key, json, "EX", AC_CACHE_TTL };
    const char *zadd[] = { "ZADD", idx, score, key + strlen(c->ns) + 1 };

    if (!usable(c) || event_key(c, id, key, sizeof(key)) < 0 ||
        index_key(c, idx, sizeof(idx)) < 0)
        return;
    snprintf(score, sizeof(score), "%lld", (long long)time(NULL) + atoll(AC_CACHE_TTL));
    wrd_send(c->rd, 5, set, NULL, NULL, NULL);
    wrd_send(c->rd, 4, zadd, NULL, NULL, NULL);
}

static void invalidated(wrd_t *rd, redisReply *r, void *arg)
{
    ac_cache_t *c = arg;
    (void)rd;
    if (!r || r->type == REDIS_REPLY_ERROR)
        c->dirty = 1;
}

void ac_cache_invalidate(ac_cache_t *c, const char *id)
{
    char key[NM_NAMESPACE_MAX + 64], idx[NM_NAMESPACE_MAX + 16];
    const char *del[] = { "DEL", key };
    const char *zrem[] = { "ZREM", idx, key + strlen(c->ns) + 1 };

    if (event_key(c, id, key, sizeof(key)) < 0 || index_key(c, idx, sizeof(idx)) < 0)
        return;
    if (!usable(c) || wrd_send(c->rd, 2, del, NULL, invalidated, c) < 0) {
        c->dirty = 1;
        return;
    }
    wrd_send(c->rd, 3, zrem, NULL, NULL, NULL);
}

const char *ac_cache_strip(const char *ns, const char *key)
{
    size_t n = strlen(ns);
    if (strncmp(key, ns, n) == 0 && key[n] == ':')
        return key + n + 1;
    return NULL;
}

/* A walk over the namespace's keys: SCAN with MATCH "<ns>:<pattern>" page by page,
 * or, when the Redis user may not SCAN (an error reply, e.g. NOPERM from the ACL),
 * the index. Every key found is visited (listed, measured, or deleted); the walk
 * ends when the pages are done and every command it sent has its answer. The
 * pattern cannot reach outside the namespace: it is appended after a literal
 * prefix, and namespaces contain no glob characters (nm_check_namespace). */
typedef enum { WALK_KEYS, WALK_STATS, WALK_PURGE } walk_kind_t;

typedef struct walk {
    ac_cache_t *c;
    walk_kind_t kind;
    char pattern[512];
    char match[NM_NAMESPACE_MAX + 512];
    char cursor[32];
    size_t max, seen;
    int via_index, pages_done, failed, outstanding;
    json_t *keys;              /* WALK_KEYS */
    long long nkeys, bytes;    /* WALK_STATS */
    ac_cache_json_cb cb;
    void *arg;
} walk_t;

static void walk_page(walk_t *w);

static void walk_end(walk_t *w)
{
    ac_cache_t *c = w->c;
    json_t *res = NULL;

    if (w->outstanding > 0 || !(w->pages_done || w->failed))
        return;
    switch (w->kind) {
    case WALK_KEYS:
        if (!w->failed) {
            res = w->keys;
            w->keys = NULL;
        }
        break;
    case WALK_STATS:
        if (!w->failed)
            res = json_pack("{s:s, s:I, s:I, s:I, s:I, s:s}", "namespace", c->ns, "hits",
                            (json_int_t)c->hits, "misses", (json_int_t)c->misses, "keys",
                            (json_int_t)w->nkeys, "memory_bytes", (json_int_t)w->bytes,
                            "source", w->via_index ? "index" : "scan");
        break;
    case WALK_PURGE: {
        char idx[NM_NAMESPACE_MAX + 16];
        const char *del[] = { "DEL", idx };
        c->purging = 0;
        if (!w->failed && index_key(c, idx, sizeof(idx)) == 0 &&
            wrd_send(c->rd, 2, del, NULL, NULL, NULL) == 0) {
            c->dirty = 0;
            log_info("audit cache purged after Redis was unreachable", "namespace", c->ns);
        }
        break;
    }
    }
    if (w->cb)
        w->cb(res, w->arg);
    json_decref(w->keys);
    free(w);
}

static void walk_fail(walk_t *w)
{
    w->failed = 1;
    walk_end(w);
}

static void visited(wrd_t *rd, redisReply *r, void *arg)
{
    walk_t *w = arg;
    (void)rd;
    w->outstanding--;
    if (!r || (w->kind == WALK_PURGE && r->type == REDIS_REPLY_ERROR))
        w->failed = 1;
    else if (w->kind == WALK_STATS && r->type == REDIS_REPLY_INTEGER)
        w->bytes += r->integer;
    walk_end(w);
}

/* One key of the namespace (full name). */
static void visit(walk_t *w, const char *key, size_t len)
{
    const char *rel = ac_cache_strip(w->c->ns, key);
    int is_index = rel && strcmp(rel, AC_CACHE_INDEX) == 0;

    switch (w->kind) {
    case WALK_KEYS:
        if (rel && !is_index)
            json_array_append_new(w->keys, json_stringn(rel, len - (size_t)(rel - key)));
        break;
    case WALK_STATS: {
        const char *argv[] = { "MEMORY", "USAGE", key };
        size_t lens[] = { 6, 5, len };
        if (is_index)
            break;
        w->nkeys++;
        w->outstanding++;
        if (wrd_send(w->c->rd, 3, argv, lens, visited, w) < 0) {
            w->outstanding--;
            w->failed = 1;
        }
        break;
    }
    case WALK_PURGE: {
        const char *argv[] = { "DEL", key };
        size_t lens[] = { 3, len };
        w->outstanding++;
        if (wrd_send(w->c->rd, 2, argv, lens, visited, w) < 0) {
            w->outstanding--;
            w->failed = 1;
        }
        break;
    }
    }
}

static void ranged(wrd_t *rd, redisReply *r, void *arg)
{
    walk_t *w = arg;
    char full[NM_NAMESPACE_MAX + 512];
    (void)rd;
    w->outstanding--;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        walk_fail(w);
        return;
    }
    for (size_t i = 0; i < r->elements && w->seen < w->max && !w->failed; i++) {
        redisReply *m = r->element[i];
        /* Redis glob rules, which fnmatch follows closely. */
        if (m->type != REDIS_REPLY_STRING || fnmatch(w->pattern, m->str, 0) != 0)
            continue;
        if (wrd_key(w->c->ns, m->str, full, sizeof(full)) < 0)
            continue;
        w->seen++;
        visit(w, full, strlen(full));
    }
    w->pages_done = 1;
    walk_end(w);
}

/* SCAN refused: the index, expired entries pruned first. */
static void walk_index(walk_t *w)
{
    char idx[NM_NAMESPACE_MAX + 16], now[32];
    const char *prune[] = { "ZREMRANGEBYSCORE", idx, "-inf", now };
    const char *range[] = { "ZRANGE", idx, "0", "-1" };

    w->via_index = 1;
    if (index_key(w->c, idx, sizeof(idx)) < 0) {
        walk_fail(w);
        return;
    }
    snprintf(now, sizeof(now), "(%lld", (long long)time(NULL));
    wrd_send(w->c->rd, 4, prune, NULL, NULL, NULL);
    w->outstanding++;
    if (wrd_send(w->c->rd, 4, range, NULL, ranged, w) < 0) {
        w->outstanding--;
        walk_fail(w);
    }
}

static void scanned(wrd_t *rd, redisReply *r, void *arg)
{
    walk_t *w = arg;
    (void)rd;
    w->outstanding--;
    if (!r) {
        walk_fail(w);
        return;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        walk_index(w);
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY) {
        walk_fail(w);
        return;
    }
    snprintf(w->cursor, sizeof(w->cursor), "%s", r->element[0]->str);
    for (size_t i = 0; i < r->element[1]->elements && w->seen < w->max && !w->failed; i++) {
        redisReply *k = r->element[1]->element[i];
        if (k->type != REDIS_REPLY_STRING)
            continue;
        w->seen++;
        visit(w, k->str, k->len);
    }
    if (!w->failed && strcmp(w->cursor, "0") != 0 && w->seen < w->max) {
        walk_page(w);
        return;
    }
    w->pages_done = 1;
    walk_end(w);
}

static void walk_page(walk_t *w)
{
    const char *argv[] = { "SCAN", w->cursor, "MATCH", w->match, "COUNT", SCAN_COUNT };
    w->outstanding++;
    if (wrd_send(w->c->rd, 6, argv, NULL, scanned, w) < 0) {
        w->outstanding--;
        walk_fail(w);
    }
}

static void walk(ac_cache_t *c, walk_kind_t kind, const char *pattern, size_t max,
                 ac_cache_json_cb cb, void *arg)
{
    walk_t *w = xcalloc(1, sizeof(*w));
    w->c = c;
    w->kind = kind;
    w->max = max;
    w->cb = cb;
    w->arg = arg;
    snprintf(w->cursor, sizeof(w->cursor), "0");
    if (kind == WALK_KEYS)
        w->keys = json_array();
    if (!wrd_ok(c->rd) || (kind == WALK_KEYS && !w->keys) ||
        snprintf(w->pattern, sizeof(w->pattern), "%s", pattern) >= (int)sizeof(w->pattern) ||
        snprintf(w->match, sizeof(w->match), "%s:%s", c->ns, pattern) >= (int)sizeof(w->match)) {
        walk_fail(w);
        return;
    }
    walk_page(w);
}

/* Drop every cached event of the namespace (and the index). */
static void start_purge(ac_cache_t *c)
{
    c->purging = 1;
    walk(c, WALK_PURGE, "audit_event:*", (size_t)-1, NULL, NULL);
}

void ac_cache_keys(ac_cache_t *c, const char *pattern, size_t max, ac_cache_json_cb cb,
                   void *arg)
{
    walk(c, WALK_KEYS, pattern, max, cb, arg);
}

void ac_cache_stats(ac_cache_t *c, ac_cache_json_cb cb, void *arg)
{
    walk(c, WALK_STATS, "*", STATS_MAX_KEYS, cb, arg);
}
