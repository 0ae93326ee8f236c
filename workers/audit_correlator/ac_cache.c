/* ac_cache.c - the Redis cache of audit events under <namespace>:audit_event:<id>. */
#include "config.h"

#include "ac_cache.h"

#include "log.h"
#include "naming.h"

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

static int purge(ac_cache_t *c);

/* 1 when the cache may be used: Redis is up and no invalidation is pending. */
static int usable(ac_cache_t *c)
{
    if (!wrd_ok(c->rd))
        return 0;
    if (c->dirty && purge(c) < 0)
        return 0;
    return 1;
}

char *ac_cache_get(ac_cache_t *c, const char *id)
{
    char key[NM_NAMESPACE_MAX + 64];
    const char *argv[] = { "GET", key };
    redisReply *r;
    char *out = NULL;

    if (!usable(c) || event_key(c, id, key, sizeof(key)) < 0)
        return NULL;
    r = wrd_argv(c->rd, 2, argv, NULL);
    if (!r) {
        c->errors++;
        return NULL;
    }
    if (r->type == REDIS_REPLY_STRING) {
        out = strndup(r->str, r->len);
        c->hits++;
    } else {
        c->misses++;
    }
    freeReplyObject(r);
    return out;
}

/* The index: a sorted set <ns>:__keys of the cache's relative key names scored by
 * their expiry time. Provisioned instance users may not SCAN (the Redis ACL removes
 * it: SCAN would list every key name of every instance), so keys and stats fall back
 * to the index when SCAN is refused. */
static int index_key(ac_cache_t *c, char *out, size_t len)
{
    return wrd_key(c->ns, AC_CACHE_INDEX, out, len);
}

static void run(ac_cache_t *c, int argc, const char **argv)
{
    redisReply *r = wrd_argv(c->rd, argc, argv, NULL);
    if (r)
        freeReplyObject(r);
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
    run(c, 5, set);
    run(c, 4, zadd);
}

void ac_cache_invalidate(ac_cache_t *c, const char *id)
{
    char key[NM_NAMESPACE_MAX + 64], idx[NM_NAMESPACE_MAX + 16];
    const char *del[] = { "DEL", key };
    const char *zrem[] = { "ZREM", idx, key + strlen(c->ns) + 1 };
    redisReply *r;

    if (event_key(c, id, key, sizeof(key)) < 0 || index_key(c, idx, sizeof(idx)) < 0)
        return;
    if (!usable(c)) {
        c->dirty = 1;
        return;
    }
    r = wrd_argv(c->rd, 2, del, NULL);
    if (!r || r->type == REDIS_REPLY_ERROR)
        c->dirty = 1;
    if (r)
        freeReplyObject(r);
    run(c, 3, zrem);
}

const char *ac_cache_strip(const char *ns, const char *key)
{
    size_t n = strlen(ns);
    if (strncmp(key, ns, n) == 0 && key[n] == ':')
        return key + n + 1;
    return NULL;
}

/* SCAN the namespace with MATCH "<ns>:<pattern>"; calls fn for every key until it
 * returns nonzero or max keys were seen. Returns -1 when Redis failed, -2 when it
 * refused SCAN (an error reply, e.g. NOPERM from the ACL). The pattern
 * cannot reach outside the namespace: it is appended after a literal prefix, and
 * namespaces contain no glob characters (nm_check_namespace). */
static int scan(ac_cache_t *c, const char *pattern, size_t max,
                int (*fn)(ac_cache_t *c, const char *key, size_t len, void *arg), void *arg)
{
    char match[NM_NAMESPACE_MAX + 512], cursor[32] = "0";
    size_t seen = 0;

    if (snprintf(match, sizeof(match), "%s:%s", c->ns, pattern) >= (int)sizeof(match))
        return -1;
    do {
        const char *argv[] = { "SCAN", cursor, "MATCH", match, "COUNT", SCAN_COUNT };
        redisReply *r = wrd_argv(c->rd, 6, argv, NULL);
        if (!r)
            return -1;
        if (r->type == REDIS_REPLY_ERROR) {
            freeReplyObject(r);
            return -2;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING ||
            r->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            return -1;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements && seen < max; i++) {
            redisReply *k = r->element[1]->element[i];
            if (k->type != REDIS_REPLY_STRING)
                continue;
            seen++;
            if (fn(c, k->str, k->len, arg)) {
                freeReplyObject(r);
                return 0;
            }
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0 && seen < max);
    return 0;
}

/* The same walk over the index: expired entries are pruned first, then every member
 * matching pattern (Redis glob rules, which fnmatch follows closely) is passed to fn
 * with its full key name. */
static int walk_index(ac_cache_t *c, const char *pattern, size_t max,
                      int (*fn)(ac_cache_t *c, const char *key, size_t len, void *arg),
                      void *arg)
{
    char idx[NM_NAMESPACE_MAX + 16], now[32], full[NM_NAMESPACE_MAX + 512];
    const char *prune[] = { "ZREMRANGEBYSCORE", idx, "-inf", now };
    const char *range[] = { "ZRANGE", idx, "0", "-1" };
    redisReply *r;
    size_t seen = 0;

    if (index_key(c, idx, sizeof(idx)) < 0)
        return -1;
    snprintf(now, sizeof(now), "(%lld", (long long)time(NULL));
    run(c, 4, prune);
    r = wrd_argv(c->rd, 4, range, NULL);
    if (!r)
        return -1;
    if (r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return -1;
    }
    for (size_t i = 0; i < r->elements && seen < max; i++) {
        redisReply *m = r->element[i];
        if (m->type != REDIS_REPLY_STRING || fnmatch(pattern, m->str, 0) != 0)
            continue;
        if (wrd_key(c->ns, m->str, full, sizeof(full)) < 0)
            continue;
        seen++;
        if (fn(c, full, strlen(full), arg))
            break;
    }
    freeReplyObject(r);
    return 0;
}

/* SCAN when allowed, else the index. */
static int each_key(ac_cache_t *c, const char *pattern, size_t max,
                    int (*fn)(ac_cache_t *c, const char *key, size_t len, void *arg), void *arg,
                    int *via_index)
{
    int rc = scan(c, pattern, max, fn, arg);
    *via_index = rc == -2;
    return rc == -2 ? walk_index(c, pattern, max, fn, arg) : rc;
}

static int del_key(ac_cache_t *c, const char *key, size_t len, void *arg)
{
    const char *argv[] = { "DEL", key };
    size_t lens[] = { 3, len };
    redisReply *r = wrd_argv(c->rd, 2, argv, lens);
    int *failed = arg;
    if (!r || r->type == REDIS_REPLY_ERROR)
        *failed = 1;
    if (r)
        freeReplyObject(r);
    return *failed;
}

/* Drop every cached event of the namespace (and the index). */
static int purge(ac_cache_t *c)
{
    char idx[NM_NAMESPACE_MAX + 16];
    const char *del[] = { "DEL", idx };
    int failed = 0, via_index;

    if (index_key(c, idx, sizeof(idx)) < 0)
        return -1;
    if (each_key(c, "audit_event:*", (size_t)-1, del_key, &failed, &via_index) < 0 || failed)
        return -1;
    run(c, 2, del);
    if (!wrd_ok(c->rd))
        return -1;
    c->dirty = 0;
    log_info("audit cache purged after Redis was unreachable", "namespace", c->ns);
    return 0;
}

static int add_key(ac_cache_t *c, const char *key, size_t len, void *arg)
{
    const char *rel = ac_cache_strip(c->ns, key);
    (void)len;
    if (rel && strcmp(rel, AC_CACHE_INDEX) != 0)
        json_array_append_new(arg, json_string(rel));
    return 0;
}

json_t *ac_cache_keys(ac_cache_t *c, const char *pattern, size_t max)
{
    json_t *a;
    int via_index;
    if (!wrd_ok(c->rd))
        return NULL;
    a = json_array();
    if (a && each_key(c, pattern, max, add_key, a, &via_index) < 0) {
        json_decref(a);
        return NULL;
    }
    return a;
}

typedef struct stats_acc {
    long long keys, bytes;
} stats_acc_t;

static int add_stat(ac_cache_t *c, const char *key, size_t len, void *arg)
{
    stats_acc_t *s = arg;
    const char *argv[] = { "MEMORY", "USAGE", key };
    size_t lens[] = { 6, 5, len };
    const char *rel = ac_cache_strip(c->ns, key);
    redisReply *r;

    if (rel && strcmp(rel, AC_CACHE_INDEX) == 0)
        return 0;
    s->keys++;
    r = wrd_argv(c->rd, 3, argv, lens);
    if (!r)
        return 1;
    if (r->type == REDIS_REPLY_INTEGER)
        s->bytes += r->integer;
    freeReplyObject(r);
    return 0;
}

json_t *ac_cache_stats(ac_cache_t *c)
{
    stats_acc_t s = { 0, 0 };
    int via_index;
    if (!wrd_ok(c->rd) || each_key(c, "*", STATS_MAX_KEYS, add_stat, &s, &via_index) < 0 ||
        !wrd_ok(c->rd))
        return NULL;
    return json_pack("{s:s, s:I, s:I, s:I, s:I, s:s}", "namespace", c->ns, "hits",
                     (json_int_t)c->hits, "misses", (json_int_t)c->misses, "keys",
                     (json_int_t)s.keys, "memory_bytes", (json_int_t)s.bytes, "source",
                     via_index ? "index" : "scan");
}
