/* unit_strmap.c - CUnit tests of the string map (src/strmap.c), linked alone. */
#include "config.h"

#include <CUnit/Basic.h>

#include "cunit_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

static void test_basic(void)
{
    strmap_t m = STRMAP_INIT;
    int a = 1, b = 2;

    CU_ASSERT_PTR_NULL(strmap_get(&m, "x"));
    strmap_del(&m, "x"); /* on an empty table */
    strmap_set(&m, "exchange-OKX", &a);
    strmap_set(&m, "exchange-OKX2", &b);
    CU_ASSERT_PTR_EQUAL(strmap_get(&m, "exchange-OKX"), &a);
    CU_ASSERT_PTR_EQUAL(strmap_get(&m, "exchange-OKX2"), &b);
    strmap_set(&m, "exchange-OKX", &b); /* replaced, not added */
    CU_ASSERT_EQUAL(m.n, 2);
    CU_ASSERT_PTR_EQUAL(strmap_get(&m, "exchange-OKX"), &b);
    strmap_del(&m, "exchange-OKX");
    CU_ASSERT_PTR_NULL(strmap_get(&m, "exchange-OKX"));
    CU_ASSERT_PTR_EQUAL(strmap_get(&m, "exchange-OKX2"), &b);
    CU_ASSERT_EQUAL(m.n, 1);
    strmap_free(&m);
    CU_ASSERT_EQUAL(m.n, 0);
}

/* Random sets and removals over a small key space (long probe runs, removals inside
 * them, growth), checked against a plain array after every step. */
static void test_against_reference(void)
{
    enum { KEYS = 600, STEPS = 40000 };
    static int vals[KEYS];
    static void *ref[KEYS];
    strmap_t m = STRMAP_INIT;
    char key[32];
    size_t live = 0;
    int bad = 0;

    srand(7);
    for (int step = 0; step < STEPS && !bad; step++) {
        int k = rand() % KEYS;
        snprintf(key, sizeof key, "w-%d", k);
        if (rand() % 3) {
            live += !ref[k];
            ref[k] = &vals[k];
            strmap_set(&m, key, &vals[k]);
        } else {
            live -= ref[k] != NULL;
            ref[k] = NULL;
            strmap_del(&m, key);
        }
        if (step % 97 == 0 || step == STEPS - 1)
            for (int j = 0; j < KEYS; j++) {
                snprintf(key, sizeof key, "w-%d", j);
                bad |= strmap_get(&m, key) != ref[j];
            }
        bad |= m.n != live;
    }
    CU_ASSERT_FALSE(bad);
    strmap_free(&m);
}

int main(void)
{
    CU_pSuite s;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    s = CU_add_suite("strmap", NULL, NULL);
    if (!s || !CU_add_test(s, "set, get, replace, remove", test_basic) ||
        !CU_add_test(s, "random steps against a reference", test_against_reference)) {
        CU_cleanup_registry();
        return 2;
    }
    return cu_run_all();
}
