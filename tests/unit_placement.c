/* unit_placement.c - CUnit tests of cluster placement (src/placement.c), linked alone. */
#include "config.h"

#include <CUnit/Basic.h>

#include "cunit_run.h"
#include <stdio.h>
#include <string.h>

#include "placement.h"

#define MAXI 64
#define MAXN 8

static const char *const NODE_NAMES[MAXN] = { "h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8" };

/* A scenario: instances w-00.. (their names live in names[]), nodes h1.. */
typedef struct {
    char names[MAXI][16];
    plc_instance_t in[MAXI];
    size_t n;
    plc_node_t nodes[MAXN];
    size_t n_nodes;
    const char *out[MAXI];
} scen_t;

static void scen_init(scen_t *s, size_t n, size_t n_nodes)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    s->n_nodes = n_nodes;
    for (size_t i = 0; i < n; i++) {
        snprintf(s->names[i], sizeof s->names[i], "w-%02zu", i);
        s->in[i].name = s->names[i];
        s->in[i].service = "w";
    }
    for (size_t k = 0; k < n_nodes; k++)
        s->nodes[k].name = NODE_NAMES[k];
}

static size_t run(scen_t *s)
{
    return plc_place(s->in, s->n, s->nodes, s->n_nodes, s->out);
}

static size_t count_on(const scen_t *s, const char *node)
{
    size_t c = 0;
    for (size_t i = 0; i < s->n; i++)
        c += s->out[i] && strcmp(s->out[i], node) == 0;
    return c;
}

/* Owners for the next round: what this round decided. */
static void adopt(scen_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        s->in[i].owner = s->out[i];
}

static void test_weight(void)
{
    CU_ASSERT_EQUAL(plc_weight("w-1", "h1"), plc_weight("w-1", "h1"));
    CU_ASSERT_NOT_EQUAL(plc_weight("w-1", "h1"), plc_weight("w-1", "h2"));
    /* The separator keeps the two names apart. */
    CU_ASSERT_NOT_EQUAL(plc_weight("ab", "c"), plc_weight("a", "bc"));
}

/* Any N over any L nodes, nothing constrained: counts differ by at most 1. */
static void test_balance_bound(void)
{
    for (size_t l = 1; l <= 6; l++)
        for (size_t n = 0; n <= 40; n++) {
            scen_t s;
            size_t lo = (size_t)-1, hi = 0;

            scen_init(&s, n, l);
            CU_ASSERT_EQUAL(run(&s), 0);
            for (size_t k = 0; k < l; k++) {
                size_t c = count_on(&s, NODE_NAMES[k]);
                lo = c < lo ? c : lo;
                hi = c > hi ? c : hi;
            }
            CU_ASSERT(hi - lo <= 1);
            if (hi - lo > 1)
                printf("\n  %zu over %zu: %zu..%zu\n", n, l, lo, hi);
        }
}

static void test_twelve_over_three(void)
{
    scen_t s;

    scen_init(&s, 12, 3);
    CU_ASSERT_EQUAL(run(&s), 0);
    for (size_t k = 0; k < 3; k++)
        CU_ASSERT_EQUAL(count_on(&s, NODE_NAMES[k]), 4);
}

/* The same sets in another order give the same owners. */
static void test_order_independent(void)
{
    scen_t a, b;

    scen_init(&a, 12, 3);
    a.in[3].spread = a.in[4].spread = a.in[5].spread = 1;
    a.in[3].service = a.in[4].service = a.in[5].service = "s";
    a.in[7].pin = "h2";
    run(&a);
    /* b: instances and nodes reversed. */
    scen_init(&b, 0, 0);
    b.n = a.n;
    b.n_nodes = a.n_nodes;
    for (size_t i = 0; i < a.n; i++)
        b.in[i] = a.in[a.n - 1 - i];
    for (size_t k = 0; k < a.n_nodes; k++)
        b.nodes[k] = a.nodes[a.n_nodes - 1 - k];
    run(&b);
    for (size_t i = 0; i < a.n; i++)
        CU_ASSERT_STRING_EQUAL(a.out[i], b.out[a.n - 1 - i]);
}

static void test_spread(void)
{
    static const struct {
        size_t n_spread, n_other, n_nodes;
        size_t want_distinct; /* nodes the spread service must cover */
    } rows[] = {
        { 3, 9, 3, 3 },  /* 12 over 3, a service of 3 on all three */
        { 3, 0, 3, 3 },
        { 2, 10, 3, 2 },
        { 4, 8, 3, 3 },  /* more instances than nodes: every node has one */
        { 3, 9, 2, 2 },  /* fewer nodes alive than instances: still all run */
        { 5, 0, 5, 5 },
        { 3, 30, 4, 3 }, /* busy others do not push the spread ones together */
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        scen_t s;
        size_t covered = 0;

        scen_init(&s, rows[r].n_spread + rows[r].n_other, rows[r].n_nodes);
        /* The spread service's instances are the last ones, so name order alone
         * would not keep them apart. */
        for (size_t i = rows[r].n_other; i < s.n; i++) {
            s.in[i].service = "s";
            s.in[i].spread = 1;
        }
        CU_ASSERT_EQUAL(run(&s), 0);
        for (size_t k = 0; k < rows[r].n_nodes; k++) {
            size_t c = 0;
            for (size_t i = rows[r].n_other; i < s.n; i++)
                c += strcmp(s.out[i], NODE_NAMES[k]) == 0;
            covered += c > 0;
        }
        CU_ASSERT_EQUAL(covered, rows[r].want_distinct);
        if (covered != rows[r].want_distinct)
            printf("\n  row %zu: spread over %zu nodes\n", r, covered);
    }
}

static void test_pin_and_allowed(void)
{
    static const char *const only_h3[] = { "h3" };
    static const char *const h2_or_h9[] = { "h9", "h2" };
    static const char *const absent[] = { "h9" };
    static const struct {
        const char *pin;
        const char *const *allowed;
        size_t n_allowed;
        int drain_h1;
        const char *want; /* NULL: no node */
    } rows[] = {
        { "h1", NULL, 0, 0, "h1" },
        { "h3", NULL, 0, 0, "h3" },
        { "h9", NULL, 0, 0, NULL },       /* pinned node absent */
        { "h1", NULL, 0, 1, NULL },       /* pinned node drained */
        { "h1", only_h3, 1, 0, "h1" },    /* pin wins over allowed */
        { NULL, only_h3, 1, 0, "h3" },
        { NULL, h2_or_h9, 2, 0, "h2" },   /* unknown node names are allowed */
        { NULL, absent, 1, 0, NULL },
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        scen_t s;
        size_t left;

        scen_init(&s, 12, 3);
        s.in[5].pin = rows[r].pin;
        s.in[5].allowed = rows[r].allowed;
        s.in[5].n_allowed = rows[r].n_allowed;
        s.nodes[0].drained = rows[r].drain_h1;
        left = run(&s);
        if (rows[r].want) {
            CU_ASSERT_PTR_NOT_NULL_FATAL(s.out[5]);
            CU_ASSERT_STRING_EQUAL(s.out[5], rows[r].want);
            CU_ASSERT_EQUAL(left, 0);
        } else {
            CU_ASSERT_PTR_NULL(s.out[5]);
            CU_ASSERT_EQUAL(left, 1);
        }
    }
}

/* A node joins: nothing moves, the newcomer gets nothing until a rebalance. */
static void test_sticky_on_join(void)
{
    scen_t s;
    const char *before[MAXI];

    scen_init(&s, 12, 2);
    run(&s);
    memcpy(before, s.out, sizeof before);
    adopt(&s);
    s.nodes[2].name = "h3";
    s.n_nodes = 3;
    CU_ASSERT_EQUAL(run(&s), 0);
    for (size_t i = 0; i < s.n; i++)
        CU_ASSERT_STRING_EQUAL(s.out[i], before[i]);
    CU_ASSERT_EQUAL(count_on(&s, "h3"), 0);
    /* Rebalance: forget the owners, the counts are even again. */
    for (size_t i = 0; i < s.n; i++)
        s.in[i].owner = NULL;
    run(&s);
    for (size_t k = 0; k < 3; k++)
        CU_ASSERT_EQUAL(count_on(&s, NODE_NAMES[k]), 4);
}

/* A node dies: only its instances move, and they spread over the survivors. */
static void test_node_loss_moves_only_its_instances(void)
{
    for (size_t dead = 0; dead < 3; dead++) {
        scen_t s;
        const char *before[MAXI];
        size_t moved = 0;

        scen_init(&s, 12, 3);
        s.in[0].service = s.in[1].service = s.in[2].service = "s";
        s.in[0].spread = s.in[1].spread = s.in[2].spread = 1;
        run(&s);
        memcpy(before, s.out, sizeof before);
        adopt(&s);
        s.nodes[dead] = s.nodes[2]; /* remove node `dead` */
        s.n_nodes = 2;
        CU_ASSERT_EQUAL(run(&s), 0);
        for (size_t i = 0; i < s.n; i++) {
            if (strcmp(before[i], NODE_NAMES[dead]) == 0) {
                moved++;
                CU_ASSERT_STRING_NOT_EQUAL(s.out[i], NODE_NAMES[dead]);
            } else {
                CU_ASSERT_STRING_EQUAL(s.out[i], before[i]);
            }
        }
        CU_ASSERT_EQUAL(moved, 4);
        CU_ASSERT_EQUAL(count_on(&s, s.nodes[0].name), 6);
        CU_ASSERT_EQUAL(count_on(&s, s.nodes[1].name), 6);
    }
}

/* A drained node gets nothing; its instances go, the others stay. */
static void test_drain(void)
{
    scen_t s;
    const char *before[MAXI];

    scen_init(&s, 12, 3);
    s.in[4].pin = "h1";
    run(&s);
    memcpy(before, s.out, sizeof before);
    adopt(&s);
    s.nodes[1].drained = 1;
    CU_ASSERT_EQUAL(run(&s), 0);
    CU_ASSERT_EQUAL(count_on(&s, "h2"), 0);
    for (size_t i = 0; i < s.n; i++)
        if (strcmp(before[i], "h2") != 0)
            CU_ASSERT_STRING_EQUAL(s.out[i], before[i]);
    CU_ASSERT_STRING_EQUAL(s.out[4], "h1");
    /* Undrain: sticky, nothing comes back by itself. */
    adopt(&s);
    s.nodes[1].drained = 0;
    run(&s);
    CU_ASSERT_EQUAL(count_on(&s, "h2"), 0);
    /* Every node drained: nothing runs. */
    for (size_t k = 0; k < 3; k++)
        s.nodes[k].drained = 1;
    CU_ASSERT_EQUAL(run(&s), 12);
}

/* Duplicate node entries and no nodes at all. */
static void test_degenerate(void)
{
    scen_t s;

    scen_init(&s, 4, 2);
    s.nodes[1].name = "h1";
    CU_ASSERT_EQUAL(run(&s), 0);
    CU_ASSERT_EQUAL(count_on(&s, "h1"), 4);
    scen_init(&s, 4, 0);
    CU_ASSERT_EQUAL(run(&s), 4);
    scen_init(&s, 0, 3);
    CU_ASSERT_EQUAL(run(&s), 0);
}

int main(void)
{
    CU_pSuite s;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    s = CU_add_suite("placement", NULL, NULL);
    if (!s || !CU_add_test(s, "rendezvous weight", test_weight) ||
        !CU_add_test(s, "balance bound: counts within 1", test_balance_bound) ||
        !CU_add_test(s, "12 instances over 3 nodes: 4 each", test_twelve_over_three) ||
        !CU_add_test(s, "independent of input order", test_order_independent) ||
        !CU_add_test(s, "spread on distinct nodes", test_spread) ||
        !CU_add_test(s, "pinned and allowed nodes", test_pin_and_allowed) ||
        !CU_add_test(s, "sticky when a node joins", test_sticky_on_join) ||
        !CU_add_test(s, "node loss moves only its instances",
                     test_node_loss_moves_only_its_instances) ||
        !CU_add_test(s, "drain and undrain", test_drain) ||
        !CU_add_test(s, "duplicate and missing nodes", test_degenerate)) {
        CU_cleanup_registry();
        return 2;
    }
    return cu_run_all();
}
