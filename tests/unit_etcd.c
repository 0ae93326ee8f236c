/* unit_etcd.c - CUnit tests of the etcd client's pure parts: base64 and range ends. */
#include "config.h"

#include <CUnit/Basic.h>

#include "cunit_run.h"
#include <stdlib.h>
#include <string.h>

#include "etcd.h"

static void test_b64(void)
{
    static const struct {
        const char *plain, *coded;
    } rows[] = {
        { "", "" },          { "f", "Zg==" },         { "fo", "Zm8=" },
        { "foo", "Zm9v" },   { "foob", "Zm9vYg==" },  { "fooba", "Zm9vYmE=" },
        { "foobar", "Zm9vYmFy" }, { "instanced/owners/w-1", "aW5zdGFuY2VkL293bmVycy93LTE=" },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char *e = etcd_b64_encode(rows[i].plain, strlen(rows[i].plain));
        size_t n = 99;
        char *d = etcd_b64_decode(rows[i].coded, strlen(rows[i].coded), &n);
        CU_ASSERT_STRING_EQUAL(e, rows[i].coded);
        CU_ASSERT_PTR_NOT_NULL_FATAL(d);
        CU_ASSERT_EQUAL(n, strlen(rows[i].plain));
        CU_ASSERT_STRING_EQUAL(d, rows[i].plain);
        free(e);
        free(d);
    }
    /* Binary bytes survive the round trip. */
    {
        unsigned char all[256];
        char *e, *d;
        size_t n;
        for (int i = 0; i < 256; i++)
            all[i] = (unsigned char)i;
        e = etcd_b64_encode(all, sizeof all);
        d = etcd_b64_decode(e, strlen(e), &n);
        CU_ASSERT_EQUAL(n, sizeof all);
        CU_ASSERT(d && memcmp(d, all, sizeof all) == 0);
        free(e);
        free(d);
    }
}

static void test_b64_rejects(void)
{
    static const char *const bad[] = { "Zm9v!", "Z", "Zm9=v", "Zg===", "Zh==" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n;
        char *d = etcd_b64_decode(bad[i], strlen(bad[i]), &n);
        CU_ASSERT_PTR_NULL(d);
        if (d)
            printf("\n  accepted %s\n", bad[i]);
        free(d);
    }
}

static void test_prefix_end(void)
{
    static const struct {
        const char *prefix;
        size_t len;
        const char *end;
        size_t end_len;
    } rows[] = {
        { "a/", 2, "a0", 2 },
        { "instanced/nodes/", 16, "instanced/nodes0", 16 },
        { "a\xff", 2, "b", 1 },
        { "\xff\xff", 2, "", 1 }, /* "\0": to the end of the keyspace */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        size_t n;
        char *e = etcd_prefix_end(rows[i].prefix, rows[i].len, &n);
        CU_ASSERT_EQUAL(n, rows[i].end_len);
        CU_ASSERT(memcmp(e, rows[i].end, n) == 0);
        free(e);
    }
}

static void test_bad_options(void)
{
    static const char *const not_url[] = { "127.0.0.1:2379" };
    etcd_options_t o;
    char err[256] = "";
    struct event_base *base = event_base_new();

    memset(&o, 0, sizeof o);
    CU_ASSERT_PTR_NULL(etcd_new(base, &o, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "no endpoint"));
    o.endpoints = not_url;
    o.n_endpoints = 1;
    CU_ASSERT_PTR_NULL(etcd_new(base, &o, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "127.0.0.1:2379"));
    event_base_free(base);
}

int main(void)
{
    CU_pSuite s;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    s = CU_add_suite("etcd", NULL, NULL);
    if (!s || !CU_add_test(s, "base64 round trips", test_b64) ||
        !CU_add_test(s, "base64 rejects junk", test_b64_rejects) ||
        !CU_add_test(s, "prefix range ends", test_prefix_end) ||
        !CU_add_test(s, "bad options refused", test_bad_options)) {
        CU_cleanup_registry();
        return 2;
    }
    return cu_run_all();
}
