/* status_page.h - the HTML status page on GET / of the status endpoint. */
#ifndef INSTANCED_STATUS_PAGE_H
#define INSTANCED_STATUS_PAGE_H

#include <stddef.h>

struct evhttp_request;

typedef struct status_page status_page_t;


/* Prepare the page once: its gzip body, ETags and Content-Security-Policy. NULL with a
 * reason in err when out of memory or the page's inline code cannot be hashed. A page
 * whose compression fails is still served, uncompressed. */
status_page_t *status_page_new(char *err, size_t errlen);

void status_page_free(status_page_t *p);

/* Answer a GET or HEAD for the page: 200 (gzip when accepted), or 304 when
 * If-None-Match names the ETag of the representation that would be sent. */
void status_page_serve(const status_page_t *p, struct evhttp_request *req);

/* Pure helpers, exported for the unit tests and the status endpoint. */

/* len bytes at in, gzip-framed (windowBits 15 + 16) at zlib level `level`; malloc'd,
 * its size in *outlen. NULL when zlib fails. */
unsigned char *status_gzip(const void *in, size_t len, int level, size_t *outlen);

/* 1 when an Accept-Encoding value (may be NULL) accepts gzip: "gzip" or "x-gzip" with
 * q > 0, or else "*" with q > 0. */
int status_page_accepts_gzip(const char *accept_encoding);

/* 1 when an If-None-Match value (may be NULL) matches etag ("*", or one of its
 * comma-separated entity tags compared weakly: a W/ prefix is ignored). */
int status_page_etag_matches(const char *if_none_match, const char *etag);

/* Write into out the Content-Security-Policy for html: nothing but the page itself,
 * with every <script>...</script> and <style>...</style> element allowed by its
 * SHA-256 hash. 0, or -1 when html has no script or out is too small. */
int status_page_csp(const char *html, size_t len, char *out, size_t outlen);

#endif
