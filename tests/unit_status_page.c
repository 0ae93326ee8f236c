/* unit_status_page.c - the status page's pure parts: SHA-256 and base64 (the CSP
 * hashes), Accept-Encoding and If-None-Match parsing, the policy built from a page. */
#include "config.h"

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <string.h>

#include "cunit_run.h"
#include "sha256.h"
#include "status_page.h"

/* Known answers: FIPS 180-4 examples, and lengths around the padding edges (55, 56
 * and 64 bytes change the number of final blocks). */
static void test_sha256_vectors(void)
{
    static char a55[56], a56[57], a64[65], a1000[1001];
    static const struct {
        const char *in;
        const char *b64;
    } rows[] = {
        { "", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" },
        { "abc", "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=" },
        { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
          "JI1qYdIGOLjlwCaTDD5gOaM85Flk/yFn9uzt1BnbBsE=" },
        { a55, "n0OQ+NMMLdkuyfCVtl4rmumwqSWlJY4kHJ8ekQ9zQxg=" },
        { a56, "s1Q5pKxvCUi21vnjxq8PX1kM4g8b3nCQ73lwaG7Gc4o=" },
        { a64, "/+BU/nrgy23GXDr5th1SCfQ5hR20PQulmXM33xVGaOs=" },
        { a1000, "Qe3s5C1j6Nm/UVqbppMuHCDLyfWl0TRkWttdsblzfqM=" },
    };

    memset(a55, 'a', 55);
    memset(a56, 'a', 56);
    memset(a64, 'a', 64);
    memset(a1000, 'a', 1000);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        unsigned char d[SHA256_LEN];
        char b64[4 * ((SHA256_LEN + 2) / 3) + 1];

        sha256(rows[i].in, strlen(rows[i].in), d);
        CU_ASSERT_EQUAL(base64_encode(d, sizeof d, b64), 44);
        if (strcmp(b64, rows[i].b64) != 0)
            printf("\n  sha256 row %zu: got %s, want %s\n", i, b64, rows[i].b64);
        CU_ASSERT_STRING_EQUAL(b64, rows[i].b64);
    }
}

static void test_base64_padding(void)
{
    static const struct {
        const char *in, *out;
    } rows[] = { { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
                 { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" } };

    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char out[16];
        base64_encode((const unsigned char *)rows[i].in, strlen(rows[i].in), out);
        CU_ASSERT_STRING_EQUAL(out, rows[i].out);
    }
}

static void test_accepts_gzip(void)
{
    static const struct {
        const char *ae;
        int want;
    } rows[] = {
        { NULL, 0 },
        { "", 0 },
        { "gzip", 1 },
        { "GZIP", 1 },
        { "x-gzip", 1 },
        { "gzip, deflate, br", 1 },
        { "br;q=1.0, gzip;q=0.8, *;q=0.1", 1 },
        { "deflate, br", 0 },
        { "gzip;q=0", 0 },
        { "gzip ; q=0.000", 0 },
        { "gzip;q=0, *", 0 },     /* named gzip wins over the wildcard */
        { "*", 1 },
        { "*;q=0", 0 },
        { "identity", 0 },
        { "gzipx", 0 },
        { "notgzip, gzi", 0 },
        { "deflate;q=0.5,gzip;q=0.5", 1 },
    };

    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int got = status_page_accepts_gzip(rows[i].ae);
        if (got != rows[i].want)
            printf("\n  Accept-Encoding \"%s\": got %d\n", rows[i].ae ? rows[i].ae : "(null)",
                   got);
        CU_ASSERT_EQUAL(got, rows[i].want);
    }
}

static void test_etag_matches(void)
{
    static const struct {
        const char *inm;
        int want;
    } rows[] = {
        { NULL, 0 },
        { "", 0 },
        { "\"abc\"", 1 },
        { "W/\"abc\"", 1 },
        { "*", 1 },
        { " * ", 1 },
        { "*, \"x\"", 0 },         /* "*" is alone or not at all */
        { "\"abd\"", 0 },
        { "\"ab\"", 0 },
        { "\"abcd\"", 0 },
        { "\"x\", \"abc\"", 1 },
        { "\"x\",W/\"abc\"", 1 },
        { "\"x\" , \"y\"", 0 },
        { "abc", 0 },              /* unquoted: not an entity tag */
        { "\"abc", 0 },
        { "\"x\" \"abc\"", 0 },    /* no comma: malformed */
    };

    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        int got = status_page_etag_matches(rows[i].inm, "\"abc\"");
        if (got != rows[i].want)
            printf("\n  If-None-Match %s: got %d\n", rows[i].inm ? rows[i].inm : "(null)", got);
        CU_ASSERT_EQUAL(got, rows[i].want);
    }
}

static void test_csp(void)
{
    static const char page[] = "<html><style>p{}</style><script>var x = 1;</script></html>";
    static const char noscript[] = "<html><style>p{}</style></html>";
    char csp[512], tiny[40];

    CU_ASSERT_EQUAL(status_page_csp(page, strlen(page), csp, sizeof csp), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(csp, "default-src 'none'; "));
    CU_ASSERT_PTR_NOT_NULL(strstr(csp, "script-src 'sha256-9nfWt3DNT14o+tZCP3YilfLwTrhLI98eqbN689B7ajY='"));
    CU_ASSERT_PTR_NOT_NULL(strstr(csp, "style-src 'sha256-gG2yISYereRMiG2lMXrbiUgi0Ubw9p7QCeWcroOvy9Y='"));
    CU_ASSERT_PTR_NOT_NULL(strstr(csp, "connect-src 'self'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(csp, "frame-ancestors 'none'"));
    CU_ASSERT_PTR_NULL(strstr(csp, "unsafe"));
    /* A page without a script is a build mistake: refused, not served with a policy
     * that would block the script an edit forgot to close. */
    CU_ASSERT_EQUAL(status_page_csp(noscript, strlen(noscript), csp, sizeof csp), -1);
    CU_ASSERT_EQUAL(status_page_csp(page, strlen(page), tiny, sizeof tiny), -1);
}

int main(void)
{
    CU_pSuite s;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    s = CU_add_suite("status_page", NULL, NULL);
    if (!s || !CU_add_test(s, "sha256 known answers", test_sha256_vectors) ||
        !CU_add_test(s, "base64 padding", test_base64_padding) ||
        !CU_add_test(s, "Accept-Encoding: gzip or not", test_accepts_gzip) ||
        !CU_add_test(s, "If-None-Match against an ETag", test_etag_matches) ||
        !CU_add_test(s, "CSP from the page's script and style", test_csp)) {
        CU_cleanup_registry();
        return 2;
    }
    return cu_run_all();
}
