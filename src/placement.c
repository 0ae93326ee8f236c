/* placement.c - rendezvous placement of instances on live cluster nodes (pure). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "placement.h"
#include "xalloc.h"

/* FNV-1a over both names (with a separator, so "ab"+"c" differs from "a"+"bc"), then
 * splitmix64's finalizer: FNV alone spreads similar names ("w-1", "w-2") poorly in
 * the high bits that decide the comparison. */
uint64_t plc_weight(const char *instance, const char *node)
{
    uint64_t h = 1469598103934665603ULL;
    const unsigned char *p;

    for (p = (const unsigned char *)instance; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    h = (h ^ 0xffu) * 1099511628211ULL;
    for (p = (const unsigned char *)node; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

typedef struct {
    const char *name; /* borrowed from the caller's first entry of that name */
    int drained;
    size_t load;
} pnode_t;

typedef struct {
    const plc_instance_t *inst;
    pnode_t *nodes;
    size_t n_nodes;
    const char **out;
    size_t *order; /* instance indices in name order */
    size_t n;
    size_t *svc;   /* per instance: its service's number, SIZE_MAX without one */
    size_t *held;  /* [service * n_nodes + node]: instances of it placed there so far */
} pctx_t;

static const plc_instance_t *g_sort_inst; /* qsort has no argument; single-threaded */

static int cmp_inst(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcmp(g_sort_inst[x].name, g_sort_inst[y].name);
    return c ? c : (x > y) - (x < y);
}

static int cmp_node(const void *a, const void *b)
{
    return strcmp(((const pnode_t *)a)->name, ((const pnode_t *)b)->name);
}

static int allowed_on(const plc_instance_t *in, const char *node)
{
    if (in->pin)
        return strcmp(in->pin, node) == 0;
    if (in->n_allowed == 0)
        return 1;
    for (size_t i = 0; i < in->n_allowed; i++)
        if (in->allowed[i] && strcmp(in->allowed[i], node) == 0)
            return 1;
    return 0;
}

static pnode_t *find_node(pctx_t *c, const char *name)
{
    pnode_t key = { .name = name };
    return name ? bsearch(&key, c->nodes, c->n_nodes, sizeof key, cmp_node) : NULL;
}

static int usable(const pnode_t *nd)
{
    return nd && !nd->drained;
}

/* Does node hold an instance of inst[i]'s service already (placed so far)? */
static int holds_service(const pctx_t *c, size_t i, const pnode_t *nd)
{
    return c->svc[i] != SIZE_MAX && c->held[c->svc[i] * c->n_nodes + (size_t)(nd - c->nodes)];
}

static int cmp_service(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return strcmp(g_sort_inst[x].service, g_sort_inst[y].service);
}

/* Number the services (c->svc) and make their per-node counts (c->held). */
static void number_services(pctx_t *c)
{
    size_t *by = xcalloc(c->n ? c->n : 1, sizeof *by), m = 0, nsvc = 0;

    c->svc = xcalloc(c->n ? c->n : 1, sizeof *c->svc);
    for (size_t i = 0; i < c->n; i++) {
        c->svc[i] = SIZE_MAX;
        if (c->inst[i].service)
            by[m++] = i;
    }
    g_sort_inst = c->inst;
    qsort(by, m, sizeof *by, cmp_service);
    for (size_t j = 0; j < m; j++) {
        if (j && strcmp(c->inst[by[j]].service, c->inst[by[j - 1]].service) != 0)
            nsvc++;
        c->svc[by[j]] = nsvc;
    }
    nsvc += m > 0;
    c->held = xcalloc(nsvc * c->n_nodes + 1, sizeof *c->held);
    free(by);
}

/* Is there a usable allowed node at all? */
static int placeable(pctx_t *c, const plc_instance_t *in)
{
    for (size_t k = 0; k < c->n_nodes; k++)
        if (usable(&c->nodes[k]) && allowed_on(in, c->nodes[k].name))
            return 1;
    return 0;
}

static void assign(pctx_t *c, size_t i, pnode_t *nd)
{
    c->out[i] = nd->name;
    nd->load++;
    if (c->svc[i] != SIZE_MAX)
        c->held[c->svc[i] * c->n_nodes + (size_t)(nd - c->nodes)]++;
}

/* Choose a node for inst[i] by the share rule (see placement.h). */
static void place_one(pctx_t *c, size_t i, size_t floor_share, size_t extra)
{
    const plc_instance_t *in = &c->inst[i];
    int want_distinct = 0;
    size_t at_ceil = 0;
    pnode_t *best = NULL, *least = NULL;
    uint64_t best_w = 0, least_w = 0;

    /* Spread: restrict to nodes without the service while any such node exists. */
    if (in->spread && in->service)
        for (size_t k = 0; k < c->n_nodes && !want_distinct; k++)
            if (usable(&c->nodes[k]) && allowed_on(in, c->nodes[k].name) &&
                !holds_service(c, i, &c->nodes[k]))
                want_distinct = 1;
    for (size_t k = 0; k < c->n_nodes; k++)
        if (usable(&c->nodes[k]) && extra && c->nodes[k].load > floor_share)
            at_ceil++;
    for (size_t k = 0; k < c->n_nodes; k++) {
        pnode_t *nd = &c->nodes[k];
        uint64_t w;
        int room;

        if (!usable(nd) || !allowed_on(in, nd->name))
            continue;
        if (want_distinct && holds_service(c, i, nd))
            continue;
        w = plc_weight(in->name, nd->name);
        room = nd->load < floor_share || (nd->load == floor_share && at_ceil < extra);
        if (room && (!best || w > best_w)) {
            best = nd;
            best_w = w;
        }
        if (!least || nd->load < least->load || (nd->load == least->load && w > least_w)) {
            least = nd;
            least_w = w;
        }
    }
    if (best)
        assign(c, i, best);
    else if (least)
        assign(c, i, least);
}

size_t plc_place(const plc_instance_t *inst, size_t n, const plc_node_t *nodes, size_t n_nodes,
                 const char **out)
{
    pctx_t c = { .inst = inst, .out = out, .n = n };
    size_t usable_nodes = 0, to_run = 0, left = 0, floor_share = 0, extra = 0, m = 0;

    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    /* Nodes sorted by name, duplicates merged (drained if any copy says so). */
    c.nodes = xcalloc(n_nodes ? n_nodes : 1, sizeof *c.nodes);
    for (size_t k = 0; k < n_nodes; k++) {
        if (!nodes[k].name)
            continue;
        c.nodes[m].name = nodes[k].name;
        c.nodes[m].drained = nodes[k].drained != 0;
        m++;
    }
    qsort(c.nodes, m, sizeof *c.nodes, cmp_node);
    c.n_nodes = 0;
    for (size_t k = 0; k < m; k++) {
        if (c.n_nodes && strcmp(c.nodes[c.n_nodes - 1].name, c.nodes[k].name) == 0) {
            c.nodes[c.n_nodes - 1].drained |= c.nodes[k].drained;
            continue;
        }
        c.nodes[c.n_nodes++] = c.nodes[k];
    }
    for (size_t k = 0; k < c.n_nodes; k++)
        usable_nodes += !c.nodes[k].drained;

    number_services(&c);
    c.order = xcalloc(n ? n : 1, sizeof *c.order);
    for (size_t i = 0; i < n; i++)
        c.order[i] = i;
    g_sort_inst = inst;
    qsort(c.order, n, sizeof *c.order, cmp_inst);

    for (size_t i = 0; i < n; i++)
        to_run += placeable(&c, &inst[i]);
    if (usable_nodes) {
        floor_share = to_run / usable_nodes;
        extra = to_run % usable_nodes;
    }

    /* 1. pinned, 2. sticky. */
    for (size_t j = 0; j < n; j++) {
        size_t i = c.order[j];
        pnode_t *nd;

        if (inst[i].pin) {
            nd = find_node(&c, inst[i].pin);
            if (usable(nd))
                assign(&c, i, nd);
            continue;
        }
        nd = find_node(&c, inst[i].owner);
        if (usable(nd) && allowed_on(&inst[i], nd->name))
            assign(&c, i, nd);
    }
    /* 3. spread instances, then the others. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t j = 0; j < n; j++) {
            size_t i = c.order[j];
            int spread = inst[i].spread && inst[i].service;

            if (out[i] || inst[i].pin || spread != (pass == 0))
                continue;
            place_one(&c, i, floor_share, extra);
        }
    for (size_t i = 0; i < n; i++)
        left += !out[i];
    free(c.order);
    free(c.svc);
    free(c.held);
    free(c.nodes);
    return left;
}
