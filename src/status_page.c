/* status_page.c - the HTML status page on GET / of the status endpoint: served from
 * memory, gzip-compressed once at start, revalidated by ETag, locked down by CSP.
 *
 * The page's source is src/status_page.html; the build turns it into the array
 * status_page_html (status_page_html.c, generated). Its script polls the JSON API of
 * the same endpoint, so the page itself never changes while instanced runs: both
 * bodies, their ETags and the policy are computed once here and shared by every
 * answer. Cache-Control is "no-cache", not "no-store": a browser keeps the page and
 * asks again with If-None-Match, and an upgraded instanced (another page, another
 * ETag) is picked up by the next load.
 *
 * The Content-Security-Policy allows nothing but this page: no other host, no
 * framing, no plugin, fetch() to the same origin only, and the inline script and
 * style by their SHA-256 hashes rather than by 'unsafe-inline'. Should markup from a
 * worker's message ever reach the DOM as HTML, an injected script or handler would
 * not run. */
#include "config.h"

#include "status_page.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "sha256.h"
#include "xalloc.h"

/* Generated from status_page.html by the build (see src/monitor.mk). */
extern const unsigned char status_page_html[];
extern const size_t status_page_html_len;

struct status_page {
    unsigned char *gz; /* gzip body (owned), NULL when compression failed */
    size_t gzlen;
    char etag[40], etag_gz[48];
    char csp[1024];
};

unsigned char *status_gzip(const void *in, size_t len, int level, size_t *outlen)
{
    z_stream z;
    unsigned char *out;
    uLong cap;

    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    cap = deflateBound(&z, (uLong)len);
    out = xmalloc(cap);
    z.next_in = (Bytef *)(uintptr_t)in; /* zlib's API is not const; it does not write */
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
        deflateEnd(&z);
        free(out);
        return NULL;
    }
    *outlen = z.total_out;
    deflateEnd(&z);
    return out;
}

/* Append " 'sha256-...'" for the content of every element <tag>...</tag> to out.
 * Returns how many were found, or -1 when out is too small. */
static int hash_elements(const char *html, size_t len, const char *tag, char *out,
                         size_t outlen)
{
    char open[16], close[16];
    const char *p = html, *end = html + len;
    int n = 0;

    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    for (;;) {
        const char *a = memmem(p, (size_t)(end - p), open, strlen(open)), *b;
        unsigned char dig[SHA256_LEN];
        char b64[4 * ((SHA256_LEN + 2) / 3) + 1];
        size_t used = strlen(out);
        int w;

        if (!a)
            return n;
        a += strlen(open);
        if (!(b = memmem(a, (size_t)(end - a), close, strlen(close))))
            return n;
        sha256(a, (size_t)(b - a), dig);
        base64_encode(dig, sizeof dig, b64);
        w = snprintf(out + used, outlen - used, " 'sha256-%s'", b64);
        if (w < 0 || (size_t)w >= outlen - used)
            return -1;
        n++;
        p = b + strlen(close);
    }
}

int status_page_csp(const char *html, size_t len, char *out, size_t outlen)
{
    int n;

    if (snprintf(out, outlen, "default-src 'none'; script-src") >= (int)outlen)
        return -1;
    if ((n = hash_elements(html, len, "script", out, outlen)) < 1)
        return -1;
    if (strlen(out) + 16 >= outlen)
        return -1;
    strcat(out, "; style-src");
    if ((n = hash_elements(html, len, "style", out, outlen)) < 0)
        return -1;
    if (n == 0)
        strcat(out, " 'none'");
    /* img-src data: for the empty favicon, which spares a request for /favicon.ico. */
    static const char rest[] = "; connect-src 'self'; img-src data:; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'";
    if (strlen(out) + sizeof rest > outlen)
        return -1;
    strcat(out, rest);
    return 0;
}

status_page_t *status_page_new(char *err, size_t errlen)
{
    status_page_t *p = xcalloc(1, sizeof *p);
    unsigned char dig[SHA256_LEN];
    char hex[2 * 8 + 1];

    if (status_page_csp((const char *)status_page_html, status_page_html_len, p->csp,
                        sizeof p->csp) < 0) {
        snprintf(err, errlen, "%s:%d: cannot build the status page's security policy",
                 __FILE__, __LINE__);
        free(p);
        return NULL;
    }
    /* The ETag names the page's content (the first 64 bits of its hash): a new page
     * in a new build gets a new one. Each encoding is its own representation. */
    sha256(status_page_html, status_page_html_len, dig);
    for (int i = 0; i < 8; i++)
        snprintf(hex + 2 * i, 3, "%02x", dig[i]);
    snprintf(p->etag, sizeof p->etag, "\"%s\"", hex);
    snprintf(p->etag_gz, sizeof p->etag_gz, "\"%s-gzip\"", hex);
    /* The best level: done once, size matters more. */
    p->gz = status_gzip(status_page_html, status_page_html_len, Z_BEST_COMPRESSION, &p->gzlen);
    return p;
}

void status_page_free(status_page_t *p)
{
    if (!p)
        return;
    free(p->gz);
    free(p);
}

/* Skip spaces and tabs. */
static const char *ows(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

int status_page_accepts_gzip(const char *ae)
{
    int gzip_q = -1, star_q = -1; /* -1: not named; else 1 when q > 0 */

    while (ae && *ae) {
        const char *tok = ows(ae), *e = tok;
        size_t tlen;
        int q = 1;

        while (*e && *e != ',' && *e != ';' && *e != ' ' && *e != '\t')
            e++;
        tlen = (size_t)(e - tok);
        /* Parameters up to the next comma: only q matters. */
        while (*e && *e != ',') {
            const char *s = ows(e);
            if (*s == ';') {
                s = ows(s + 1);
                if ((s[0] == 'q' || s[0] == 'Q') && *ows(s + 1) == '=')
                    q = strtod(ows(s + 1) + 1, NULL) > 0;
                e = s;
            }
            while (*e && *e != ',' && *e != ';')
                e++;
        }
        if ((tlen == 4 && strncasecmp(tok, "gzip", 4) == 0) ||
            (tlen == 6 && strncasecmp(tok, "x-gzip", 6) == 0))
            gzip_q = q;
        else if (tlen == 1 && *tok == '*')
            star_q = q;
        ae = *e ? e + 1 : e;
    }
    return gzip_q >= 0 ? gzip_q : star_q > 0;
}

int status_page_etag_matches(const char *inm, const char *etag)
{
    size_t elen = strlen(etag);

    if (!inm)
        return 0;
    inm = ows(inm);
    if (*inm == '*' && *ows(inm + 1) == '\0')
        return 1;
    while (*inm) {
        const char *t = ows(inm), *e;

        if (strncmp(t, "W/", 2) == 0)
            t += 2;
        if (*t != '"')
            return 0; /* not an entity-tag list */
        if (!(e = strchr(t + 1, '"')))
            return 0;
        e++;
        if ((size_t)(e - t) == elen && memcmp(t, etag, elen) == 0)
            return 1;
        e = ows(e);
        if (*e != ',')
            return 0;
        inm = e + 1;
    }
    return 0;
}

void status_page_serve(const status_page_t *p, struct evhttp_request *req)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    int head = evhttp_request_get_command(req) == EVHTTP_REQ_HEAD;
    int gz = p->gz && status_page_accepts_gzip(evhttp_find_header(in, "Accept-Encoding"));
    const void *body = gz ? (const void *)p->gz : (const void *)status_page_html;
    size_t len = gz ? p->gzlen : status_page_html_len;
    const char *etag = gz ? p->etag_gz : p->etag;
    struct evbuffer *out;
    char clen[32];

    /* Sent with the 304 as well: they describe the representation being revalidated. */
    evhttp_add_header(h, "Cache-Control", "no-cache");
    evhttp_add_header(h, "Vary", "Accept-Encoding");
    evhttp_add_header(h, "ETag", etag);
    if (status_page_etag_matches(evhttp_find_header(in, "If-None-Match"), etag)) {
        evhttp_send_reply(req, 304, "Not Modified", NULL);
        return;
    }
    evhttp_add_header(h, "Content-Type", "text/html; charset=utf-8");
    if (gz)
        evhttp_add_header(h, "Content-Encoding", "gzip");
    evhttp_add_header(h, "Content-Security-Policy", p->csp);
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "X-Frame-Options", "DENY");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
    /* HEAD: the length a GET would get, and no body (see reply() in status_http.c). */
    snprintf(clen, sizeof clen, "%zu", len);
    evhttp_add_header(h, "Content-Length", clen);
    if (head) {
        evhttp_send_reply(req, 200, "OK", NULL);
        return;
    }
    if (!(out = evbuffer_new())) {
        evhttp_remove_header(h, "Content-Length");
        evhttp_send_reply(req, 500, "Internal Server Error", NULL);
        return;
    }
    /* The bodies live as long as the page: no copy. */
    evbuffer_add_reference(out, body, len, NULL, NULL);
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
}
