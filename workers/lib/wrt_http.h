/* wrt_http.h - the worker's HTTP server: bounded evhttp, a route table, JSON replies. */
#ifndef WRT_HTTP_H
#define WRT_HTTP_H

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <stddef.h>

#define WHTTP_MAX_BODY      (1024 * 1024)    /* a larger request body gets 413 */
#define WHTTP_MAX_HEADERS   (16 * 1024)
#define WHTTP_TIMEOUT_S     10

/* Method bits, as evhttp's enum evhttp_cmd_type. */
#define WHTTP_GET    EVHTTP_REQ_GET
#define WHTTP_POST   EVHTTP_REQ_POST
#define WHTTP_PUT    EVHTTP_REQ_PUT
#define WHTTP_DELETE EVHTTP_REQ_DELETE

typedef struct whttp whttp_t;

/* path is the request's decoded-free path (no query string); rest is what follows a
 * prefix route ("" for exact routes). Handlers must reply exactly once. */
typedef void (*whttp_handler_cb)(struct evhttp_request *req, const char *path,
                                 const char *rest, void *arg);

whttp_t *whttp_new(struct event_base *base, const char *bind, int port, char *err,
                   size_t errlen);
void whttp_free(whttp_t *h);
void whttp_stop_accepting(whttp_t *h);

/* pattern ending in '/' is a prefix route, else exact. methods is a mask of
 * WHTTP_*; a matching path with another method gets 405 and an Allow header. */
int whttp_route(whttp_t *h, const char *pattern, int methods, whttp_handler_cb cb, void *arg);

/* Replies (Content-Type is always set). whttp_json steals the reference. */
void whttp_json(struct evhttp_request *req, int code, json_t *body);
void whttp_error(struct evhttp_request *req, int code, const char *msg, const char *field);
void whttp_text(struct evhttp_request *req, int code, const char *ctype, const char *body,
                size_t len);
void whttp_no_content(struct evhttp_request *req);

/* The request body as a NUL-terminated string the caller frees, or NULL when it is
 * larger than WHTTP_MAX_BODY (*too_large = 1) or memory ran out. */
char *whttp_body(struct evhttp_request *req, size_t *len, int *too_large);

/* Query parameter value of the request, decoded, in a new string (free()), or NULL. */
char *whttp_query(struct evhttp_request *req, const char *name);

/* Counters for /metrics: replies by status class (index code/100, 1..5). */
unsigned long whttp_replies(int klass);
unsigned long whttp_requests(void);

#endif
