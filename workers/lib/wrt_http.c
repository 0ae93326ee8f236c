/* wrt_http.c - the worker's HTTP server: bounded evhttp, a route table, JSON replies. */
#include "config.h"

#include "wrt_http.h"

#include "evglue.h"
#include "log.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <sys/queue.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROUTES 32

typedef struct route {
    char *pattern;
    size_t len;
    int prefix;
    int methods;
    whttp_handler_cb cb;
    void *arg;
} route_t;

struct whttp {
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    route_t routes[MAX_ROUTES];
    int nroutes;
};

static unsigned long replies[6];
static unsigned long requests;

unsigned long whttp_replies(int klass) { return klass >= 1 && klass <= 5 ? replies[klass] : 0; }
unsigned long whttp_requests(void) { return requests; }

static const char *method_name(int m);

/* Counted for /metrics; one debug line per request (the URI is client input, which
 * log_kv quotes and escapes). */
static void count(struct evhttp_request *req, int code)
{
    const char *m = method_name((int)evhttp_request_get_command(req));
    if (code >= 100 && code < 600)
        replies[code / 100]++;
    if (log_get_level() <= LOG_LVL_DEBUG)
        log_debug("http request", "method", m ? m : "other", "uri",
                  evhttp_request_get_uri(req), "status", LOG_INT(code));
}

static const char *reason(int code)
{
    switch (code) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

void whttp_text(struct evhttp_request *req, int code, const char *ctype, const char *body,
                size_t len)
{
    struct evbuffer *out = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);

    evhttp_add_header(h, "Content-Type", ctype);
    evhttp_add_header(h, "Cache-Control", "no-store");
    if (out && body)
        evbuffer_add(out, body, len);
    count(req, code);
    evhttp_send_reply(req, code, reason(code), out);
    if (out)
        evbuffer_free(out);
}

void whttp_json(struct evhttp_request *req, int code, json_t *body)
{
    char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (!s) {
        static const char oom[] = "{\"error\":\"out of memory\"}\n";
        json_decref(body);
        whttp_text(req, 500, "application/json", oom, sizeof(oom) - 1);
        return;
    }
    json_decref(body);
    {
        size_t n = strlen(s);
        char *t = realloc(s, n + 2);
        if (t) {
            s = t;
            s[n++] = '\n';
            s[n] = '\0';
        }
        whttp_text(req, code, "application/json", s, n);
    }
    free(s);
}

void whttp_error(struct evhttp_request *req, int code, const char *msg, const char *field)
{
    json_t *o = json_pack("{s:s}", "error", msg);
    if (o && field)
        json_object_set_new(o, "field", json_string(field));
    whttp_json(req, code, o);
}

void whttp_no_content(struct evhttp_request *req)
{
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "application/json");
    count(req, 204);
    evhttp_send_reply(req, 204, "No Content", NULL);
}

char *whttp_body(struct evhttp_request *req, size_t *len, int *too_large)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    char *s;

    *too_large = 0;
    if (n > WHTTP_MAX_BODY) {
        *too_large = 1;
        return NULL;
    }
    s = malloc(n + 1);
    if (!s)
        return NULL;
    evbuffer_copyout(in, s, n);
    s[n] = '\0';
    if (len)
        *len = n;
    return s;
}

char *whttp_query(struct evhttp_request *req, const char *name)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
    struct evkeyvalq kv;
    const char *v;
    char *out = NULL;

    if (!q)
        return NULL;
    TAILQ_INIT(&kv);
    if (evhttp_parse_query_str(q, &kv) == 0) {
        v = evhttp_find_header(&kv, name);
        if (v)
            out = strdup(v);
    }
    evhttp_clear_headers(&kv);
    return out;
}

static const char *method_name(int m)
{
    switch (m) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    default: return NULL;
    }
}

static void allow_header(struct evhttp_request *req, int methods)
{
    char allow[64] = "";
    static const int all[] = { EVHTTP_REQ_GET, EVHTTP_REQ_POST, EVHTTP_REQ_PUT,
                               EVHTTP_REQ_DELETE };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (methods & all[i]) {
            if (allow[0])
                strcat(allow, ", ");
            strcat(allow, method_name(all[i]));
        }
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
}

static void gen_cb(struct evhttp_request *req, void *arg)
{
    whttp_t *h = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    int m = (int)evhttp_request_get_command(req);

    requests++;
    if (!path || !*path)
        path = "/";
    for (int i = 0; i < h->nroutes; i++) {
        route_t *r = &h->routes[i];
        int match = r->prefix ? strncmp(path, r->pattern, r->len) == 0
                              : strcmp(path, r->pattern) == 0;
        if (!match)
            continue;
        if (!(r->methods & m)) {
            allow_header(req, r->methods);
            whttp_error(req, 405, "method not allowed", NULL);
            return;
        }
        r->cb(req, path, r->prefix ? path + r->len : "", r->arg);
        return;
    }
    whttp_error(req, 404, "not found", NULL);
}

whttp_t *whttp_new(struct event_base *base, const char *bind, int port, char *err,
                   size_t errlen)
{
    whttp_t *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->http = evhttp_new(base);
    if (!h->http) {
        snprintf(err, errlen, "evhttp_new failed");
        free(h);
        return NULL;
    }
    /* Bodies up to twice the API limit are read so that the handler can answer 413
     * in JSON; beyond that evhttp itself refuses the request. */
    evhttp_set_max_body_size(h->http, 2 * WHTTP_MAX_BODY + 1);
    evhttp_set_max_headers_size(h->http, WHTTP_MAX_HEADERS);
    evhttp_set_timeout(h->http, WHTTP_TIMEOUT_S);
    /* Every method reaches the router, which answers 405 with Allow (evhttp would
     * answer 501 to the ones it was not told about). */
    evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                        EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD |
                                        EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH |
                                        EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT);
    evhttp_set_default_content_type(h->http, "application/json");
    /* Read the rest of an oversized request so the client sees evhttp's 413. */
    evhttp_set_flags(h->http, EVHTTP_SERVER_LINGERING_CLOSE);
    evhttp_set_gencb(h->http, gen_cb, h);
    h->sock = evhttp_bind_socket_with_handle(h->http, bind, (ev_uint16_t)port);
    if (!h->sock) {
        snprintf(err, errlen, "cannot listen on %s:%d", bind, port);
        evhttp_free(h->http);
        free(h);
        return NULL;
    }
    evglue_guard_listener(evhttp_bound_socket_get_listener(h->sock), "http");
    return h;
}

void whttp_stop_accepting(whttp_t *h)
{
    if (h && h->sock) {
        evglue_unguard_listener(evhttp_bound_socket_get_listener(h->sock));
        evhttp_del_accept_socket(h->http, h->sock);
        h->sock = NULL;
    }
}

void whttp_free(whttp_t *h)
{
    if (!h)
        return;
    if (h->sock)
        evglue_unguard_listener(evhttp_bound_socket_get_listener(h->sock));
    evhttp_free(h->http);
    for (int i = 0; i < h->nroutes; i++)
        free(h->routes[i].pattern);
    free(h);
}

int whttp_route(whttp_t *h, const char *pattern, int methods, whttp_handler_cb cb, void *arg)
{
    route_t *r;
    if (h->nroutes >= MAX_ROUTES)
        return -1;
    r = &h->routes[h->nroutes];
    r->pattern = strdup(pattern);
    if (!r->pattern)
        return -1;
    r->len = strlen(pattern);
    r->prefix = r->len > 1 && pattern[r->len - 1] == '/';
    r->methods = methods;
    r->cb = cb;
    r->arg = arg;
    h->nroutes++;
    return 0;
}
