/* fuzz_mask.c - libFuzzer target for mask_secrets(): memory safety and its promises.
 *
 * The first input byte picks the output size; the rest is the text. Checked for
 * every input:
 *   - the output is NUL-terminated inside outlen (the buffer is exactly outlen
 *     bytes, so ASan reports any write past it);
 *   - a truncated output is a prefix of the untruncated one;
 *   - text without '=' or ':' comes back unchanged;
 *   - the password of "postgres://u:PASS@h/db" placed between two halves of the
 *     input never appears in the output. */
#include "config.h"

#include "mask.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PASS "S3cr3tPw"
#define URL " postgres://u:" PASS "@h/db"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *in, const char *out)
{
    fprintf(stderr, "fuzz_mask: %s\n  in:  \"%s\"\n  out: \"%s\"\n", what, in, out);
    abort();
}

/* mask_secrets into a buffer of exactly outlen bytes; the caller frees it. */
static char *mask_into(const char *in, size_t outlen)
{
    char *out = malloc(outlen ? outlen : 1);

    if (!out)
        abort();
    if (outlen == 0) {
        *out = 'x';  /* must be left alone */
        if (mask_secrets(in, out, 0) != out || *out != 'x')
            fail("outlen 0 wrote to the buffer", in, "");
        return out;
    }
    if (mask_secrets(in, out, outlen) != out)
        fail("did not return out", in, "");
    if (!memchr(out, '\0', outlen))
        fail("output not NUL-terminated within outlen", in, "");
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t small, full, len, half;
    char *in, *composed, *out_full, *out_small;

    if (size < 1)
        return 0;
    small = data[0] % 48;          /* 0..47: truncation, down to nothing */
    data++, size--;

    in = malloc(size + 1);
    if (!in)
        abort();
    memcpy(in, data, size);
    in[size] = '\0';
    len = strlen(in);
    /* Each secret becomes "***": at most three bytes for each byte of input. */
    full = 3 * len + sizeof(MASK_TEXT) + 1;

    out_full = mask_into(in, full);
    if (strlen(out_full) >= full - 1)
        fail("untruncated output filled the buffer", in, out_full);
    if (!strpbrk(in, "=:") && strcmp(in, out_full) != 0)
        fail("text without '=' or ':' changed", in, out_full);
    out_small = mask_into(in, small);
    if (small > 0 && strncmp(out_small, out_full, small - 1) != 0)
        fail("truncated output is not a prefix of the full one", in, out_small);
    free(out_small);
    free(out_full);

    /* The URL between the two halves; NULs become spaces so the URL is read. */
    for (size_t i = 0; i < size; i++)
        if (in[i] == '\0')
            in[i] = ' ';
    half = size / 2;
    composed = malloc(size + sizeof(URL));
    if (!composed)
        abort();
    memcpy(composed, in, half);
    memcpy(composed + half, URL, sizeof(URL) - 1);
    memcpy(composed + half + sizeof(URL) - 1, in + half, size - half);
    composed[size + sizeof(URL) - 1] = '\0';
    if (!strstr(in, PASS)) {
        size_t clen = strlen(composed);
        out_full = mask_into(composed, 3 * clen + sizeof(MASK_TEXT) + 1);
        if (strstr(out_full, PASS))
            fail("the URL's password leaked", composed, out_full);
        free(out_full);
    }
    free(composed);
    free(in);
    return 0;
}
