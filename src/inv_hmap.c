/* inv_hmap.c - open-addressing hash tables for the inventory loader (names, titles,
 * error texts). */
#include "config.h"

#include "inv_private.h"
#include "xalloc.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
void inv_hm_reserve(hmap_t *m, size_t n)
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
size_t inv_hm_get(const hmap_t *m, long tag, const char *a, size_t alen)
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
size_t inv_hm_put_first(hmap_t *m, long tag, const char *a, size_t alen, size_t val)
{
    uint32_t h;
    hent_t *e;

    inv_hm_reserve(m, m->n + 1);
    h = hm_hash(m, tag, a, alen);
    e = hm_slot(m, h, tag, a, alen);
    if (e->a)
        return e->val;
    *e = (hent_t){ a, (uint32_t)alen, (uint32_t)val, (int32_t)tag, h };
    m->n++;
    return (size_t)-1;
}

void inv_hm_free(hmap_t *m)
{
    free(m->v);
    memset(m, 0, sizeof(*m));
}
