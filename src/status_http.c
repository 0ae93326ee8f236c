/* status_http.c - the read-only status endpoint on status_listen (libevent evhttp).
 *
 * Every answer is built from the state in memory (never by probing on request), has
 * an explicit Content-Type, and only GET and HEAD are served: mutations live on the
 * control socket alone. GET / is the HTML status page (status_page.c), which reads
 * the same JSON API as any other client. Request headers, bodies and idle connections are bounded.
 *
 * Connections are bounded too, because evhttp bounds none of them: a client that
 * trickles one byte a second never trips evhttp's idle timeout, and enough of them
 * used to take every descriptor the supervisor has (then a worker could not even be
 * restarted). So every connection is tracked here from its accept on:
 *  - at most max_conns at once: at the cap the listener stops accepting (the kernel's
 *    backlog holds the rest) and resumes below it, as nginx does at worker_connections;
 *  - a whole request must arrive within STATUS_REQUEST_DEADLINE_S of the accept or of
 *    the previous answer, however slowly its bytes come, else the connection is shut
 *    down.
 * evhttp has no public way to cap or close its server connections, so the tracking
 * rides on public APIs only: evhttp_set_bevcb() lets us create each connection's
 * bufferevent, and we hold a reference to it (bufferevent_incref). libevent 2.1's
 * bufferevent_free() clears the callbacks and drops one reference, so a tracked
 * bufferevent whose event callback is NULL is one evhttp has let go; our reference is
 * dropped by a periodic sweep. The bufferevents are made BEV_OPT_CLOSE_ON_FREE: evhttp
 * then leaves the descriptor open (it only shuts down writing) until that last
 * reference goes, so a descriptor number can never be reused while a stale event of
 * ours still points at it. A connection past its deadline is never freed under
 * evhttp's feet: shutdown(SHUT_RDWR) makes evhttp see the end of the stream and free
 * it itself, like any client that goes away. */
#include "config.h"

#include "status_http.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "evglue.h"
#include "health.h"
#include "log.h"
#include "metrics.h"
#include "naming.h"
#include "report.h"
#include "xalloc.h"
#include "status_page.h"

#define MAX_HEADERS_SIZE 8192
#define MAX_BODY_SIZE 1024
#define CONN_TIMEOUT_S 10
/* How often tracked connections are checked for their deadline and for being done. */
#define SWEEP_MS 250
#define TRIM_AFTER_BYTES (256 * 1024) /* a view this large gives freed pages back */

#define CT_JSON "application/json"
#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"

/* One accepted connection. bev is evhttp's, plus the reference we hold on it. */
typedef struct {
    struct bufferevent *bev;
    struct timespec since; /* accept, or the last answer: the deadline counts from it */
    int shut;              /* shutdown() done; evhttp is to free it */
} conn_t;

/* A rendered document shared by the cache and the answers still being sent: the
 * answers reference its bytes (evbuffer_add_reference) instead of copying 130 KB
 * twice per request, so it lives until the last of them is written. refs: the cache's
 * one, plus one per answer in flight. */
typedef struct shared_doc {
    unsigned refs;
    size_t len;
    void *data; /* owned */
} shared_doc_t;

static shared_doc_t *doc_new(void *data, size_t len)
{
    shared_doc_t *d = xmalloc(sizeof(*d));
    d->refs = 1;
    d->len = len;
    d->data = data;
    return d;
}

static void doc_unref(shared_doc_t *d)
{
    if (d && --d->refs == 0) {
        free(d->data);
        free(d);
    }
}

/* evbuffer's cleanup of a reference: the answer holding it has been sent or dropped. */
static void doc_sent(const void *data, size_t len, void *arg)
{
    (void)data, (void)len;
    doc_unref(arg);
}

/* A JSON view kept between requests: rendered again only when the table changed
 * (supervisor_t.changes) or the second changed (the views carry timestamps and ages),
 * gzip-compressed at most once per render and only when a client asks for it. */
typedef struct view_cache {
    int valid;
    unsigned long changes;
    time_t sec;
    int code;
    shared_doc_t *body;  /* one reference ours; the JSON with its trailing newline */
    shared_doc_t *gz;    /* one reference ours; NULL until a client accepts gzip */
    unsigned long long renders, hits;
} view_cache_t;

struct status_http {
    supervisor_t *sup;
    prober_t *prober;
    struct evhttp *http;
    struct evconnlistener *listener; /* evhttp's, guarded against running out of fds */
    int guarded;                     /* evglue knows the listener */
    int held;                        /* not accepting: at the cap */
    char *listen;
    status_page_t *page;             /* GET / (owned) */
    conn_t *conns;                   /* nslots slots, nconns used (owned) */
    int max_conns, nconns, nslots;
    struct event *sweep;             /* every SWEEP_MS while there are connections */
    unsigned long long cut;          /* connections shut down at their deadline */
    unsigned long long holds;        /* times the cap was reached */
    time_t hold_logged;
    view_cache_t health, instances; /* GET /api/v1/health, /api/v1/instances */
};

static double since_s(const struct timespec *t0)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

int status_http_default_max_conns(void)
{
    struct rlimit rl;
    rlim_t n;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
        return STATUS_MAX_CONNS_CEILING;
    /* Three quarters of the descriptors stay for the workers' pipes, the probes and
     * the control socket. */
    n = rl.rlim_cur / 4;
    if (n < STATUS_MAX_CONNS_FLOOR)
        return STATUS_MAX_CONNS_FLOOR;
    return n > STATUS_MAX_CONNS_CEILING ? STATUS_MAX_CONNS_CEILING : (int)n;
}

/* Stop or resume accepting. Through evglue when it guards the listener, so that the
 * end of an out-of-descriptors pause does not resume a listener held at the cap. */
static void hold(status_http_t *h, int on)
{
    if (h->held == on)
        return;
    h->held = on;
    if (h->guarded)
        evglue_hold_listener(h->listener, on);
    else if (on)
        evconnlistener_disable(h->listener);
    else
        evconnlistener_enable(h->listener);
    if (on) {
        /* One line a minute at most: at the cap, every connection that ends and the
         * next one accepted hold the listener again. */
        time_t now = time(NULL);
        h->holds++;
        if (h->holds == 1 || now - h->hold_logged >= 60) {
            h->hold_logged = now;
            log_warn("status endpoint at its connection cap: not accepting until one ends",
                     "max_connections", LOG_INT(h->max_conns), "holds", LOG_INT(h->holds),
                     "deadline_cuts", LOG_INT(h->cut));
        }
    }
}

/* Drop the connections evhttp has freed; shut down those past their deadline. */
static void sweep(status_http_t *h)
{
    int i = 0;

    while (i < h->nconns) {
        conn_t *c = &h->conns[i];
        bufferevent_event_cb ecb = NULL;
        evutil_socket_t fd;

        bufferevent_getcb(c->bev, NULL, NULL, &ecb, NULL);
        if (!ecb) {
            /* evhttp freed it: our reference is the last, dropping it closes the fd. */
            bufferevent_decref(c->bev);
            h->conns[i] = h->conns[--h->nconns];
            continue;
        }
        fd = bufferevent_getfd(c->bev);
        if (!c->shut && fd >= 0 && since_s(&c->since) >= STATUS_REQUEST_DEADLINE_S) {
            c->shut = 1;
            h->cut++;
            shutdown(fd, SHUT_RDWR);
            log_debug("status connection shut down: no complete request in time",
                      "deadline_s", LOG_INT(STATUS_REQUEST_DEADLINE_S));
        }
        i++;
    }
    if (h->held && h->nconns < h->max_conns)
        hold(h, 0);
    if (h->nconns == 0)
        evtimer_del(h->sweep);
}

static void sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    sweep(arg);
}

/* evhttp asks for the bufferevent of a connection it has just accepted. */
static struct bufferevent *bev_cb(struct event_base *base, void *arg)
{
    status_http_t *h = arg;
    struct bufferevent *bev;
    conn_t *c;

    if (h->nconns >= h->max_conns)
        sweep(h);
    if (h->nconns >= h->max_conns) {
        /* Not reached while the listener is held; evhttp makes its own then. */
        hold(h, 1);
        return NULL;
    }
    if (!(bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE)))
        return NULL;
    bufferevent_incref(bev);
    c = &h->conns[h->nconns++];
    c->bev = bev;
    c->shut = 0;
    clock_gettime(CLOCK_MONOTONIC, &c->since);
    if (!evtimer_pending(h->sweep, NULL)) {
        struct timeval tv = { 0, SWEEP_MS * 1000 };
        evtimer_add(h->sweep, &tv);
    }
    if (h->nconns >= h->max_conns)
        hold(h, 1);
    return bev;
}

/* A request arrived whole: its connection's deadline starts again. */
static void restart_deadline(status_http_t *h, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;

    for (int i = 0; bev && i < h->nconns; i++)
        if (h->conns[i].bev == bev) {
            clock_gettime(CLOCK_MONOTONIC, &h->conns[i].since);
            return;
        }
}

/* After the answer to a CONNECT: evhttp 2.1 never closes a CONNECT connection (not
 * even with "Connection: close"), so end it here; evhttp sees the end of the stream
 * and frees the connection itself. */
static void close_after_cb(struct evhttp_request *req, void *arg)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;

    (void)arg;
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
}

static void reply(struct evhttp_request *req, int code, const char *reason, const char *ct,
                  const char *body, size_t len)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    struct evbuffer *out = NULL;
    char clen[32];

    evhttp_add_header(h, "Content-Type", ct);
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    /* evhttp 2.1 sends the body of an answer to HEAD (and to CONNECT without a
     * Content-Length): a client that pipelines would read it as the next answer. HEAD
     * gets the length a GET would have, and no body at all. */
    snprintf(clen, sizeof clen, "%zu", body ? len : (size_t)0);
    if (cmd == EVHTTP_REQ_HEAD || cmd == EVHTTP_REQ_CONNECT)
        evhttp_add_header(h, "Content-Length", clen);
    if (cmd == EVHTTP_REQ_CONNECT) {
        evhttp_add_header(h, "Connection", "close");
        evhttp_request_set_on_complete_cb(req, close_after_cb, NULL);
    }
    if (body && cmd != EVHTTP_REQ_HEAD && (out = evbuffer_new()))
        evbuffer_add(out, body, len);
    evhttp_send_reply(req, code, reason, out);
    if (out)
        evbuffer_free(out);
}

/* reply() for a shared document: its bytes are referenced, not copied (evhttp moves
 * the reference into the connection's output; doc_sent drops it once written). */
static void reply_doc(struct evhttp_request *req, int code, const char *reason, const char *ct,
                      shared_doc_t *d)
{
    struct evbuffer *out;

    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET || !(out = evbuffer_new())) {
        reply(req, code, reason, ct, d->data, d->len);
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ct);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
    evhttp_add_header(evhttp_request_get_output_headers(req), "X-Content-Type-Options",
                      "nosniff");
    d->refs++;
    if (evbuffer_add_reference(out, d->data, d->len, doc_sent, d) < 0) {
        d->refs--;
        evbuffer_add(out, d->data, d->len);
    }
    evhttp_send_reply(req, code, reason, out);
    evbuffer_free(out);
}

/* Send a JSON value (stolen) with a trailing newline. */
static void reply_json(struct evhttp_request *req, int code, const char *reason, json_t *v)
{
    size_t flags = JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(6);
    char *s = v ? json_dumps(v, flags) : NULL;

    json_decref(v);
    if (!s) {
        reply(req, 500, "Internal Server Error", CT_JSON,
              "{\"error\":\"out of memory\"}\n", 26);
        return;
    }
    {
        size_t n = strlen(s);

        s = xrealloc(s, n + 2);
        s[n++] = '\n';
        s[n] = '\0';
        reply(req, code, reason, CT_JSON, s, n);
    }
    free(s);
}

static void view_clear(view_cache_t *v)
{
    doc_unref(v->body);
    doc_unref(v->gz);
    v->body = NULL;
    v->gz = NULL;
    v->valid = 0;
}

/* Serve a cached view: rendered by render() when stale (code from status(), 200 if
 * NULL), gzip-compressed when the client accepts it. */
static void serve_view(status_http_t *h, struct evhttp_request *req, view_cache_t *v,
                       json_t *(*render)(status_http_t *, time_t), int (*status)(status_http_t *))
{
    size_t flags = JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(6);
    time_t now = time(NULL);
    const char *ae = evhttp_find_header(evhttp_request_get_input_headers(req),
                                        "Accept-Encoding");
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);

    if (!v->valid || v->changes != h->sup->changes || v->sec != now) {
        json_t *j = render(h, now);
        char *s = j ? json_dumps(j, flags) : NULL;

        json_decref(j);
        if (!s) {
            reply(req, 500, "Internal Server Error", CT_JSON, "{\"error\":\"out of memory\"}\n",
                  26);
            return;
        }
        view_clear(v);
        {
            size_t n = strlen(s);
            s = xrealloc(s, n + 2);
            s[n++] = '\n';
            s[n] = '\0';
            v->body = doc_new(s, n);
        }
        /* The tree a large view is rendered from is thousands of small blocks, freed
         * at once while longer-lived ones were allocated among them: give the pages
         * they leave free back now, or the heap keeps the size of its busiest second
         * (tens of megabytes with 5,000 instances, for ~1 ms per render). */
        if (v->body->len >= TRIM_AFTER_BYTES)
            malloc_trim(0);
        v->code = status ? status(h) : 200;
        v->changes = h->sup->changes;
        v->sec = now;
        v->valid = 1;
        v->renders++;
    } else {
        v->hits++;
    }
    evhttp_add_header(out, "Vary", "Accept-Encoding");
    if (status_page_accepts_gzip(ae)) {
        /* A fast level: this runs once per render, not once per request. */
        if (!v->gz) {
            size_t gzlen = 0;
            unsigned char *gz = status_gzip(v->body->data, v->body->len, 1, &gzlen);
            if (gz)
                v->gz = doc_new(gz, gzlen);
        }
        if (v->gz) {
            evhttp_add_header(out, "Content-Encoding", "gzip");
            reply_doc(req, v->code, v->code == 200 ? "OK" : "Service Unavailable", CT_JSON,
                      v->gz);
            return;
        }
    }
    reply_doc(req, v->code, v->code == 200 ? "OK" : "Service Unavailable", CT_JSON, v->body);
}

static json_t *render_health(status_http_t *h, time_t now)
{
    return report_health(h->sup, PACKAGE_VERSION, now);
}

static int health_code(status_http_t *h)
{
    return health_overall(h->sup->inst, h->sup->ninst) == HEALTH_UNHEALTHY ? 503 : 200;
}

static json_t *render_instances(status_http_t *h, time_t now)
{
    if (h->sup->refresh_usage)
        h->sup->refresh_usage(h->sup);
    return report_instances(h->sup, now);
}

static void reply_error(struct evhttp_request *req, int code, const char *reason,
                        const char *message)
{
    json_t *o = json_object();

    json_object_set_new(o, "error", json_string(reason));
    json_object_set_new(o, "message", json_string(message));
    reply_json(req, code, reason, o);
}

static void serve_metrics(status_http_t *h, struct evhttp_request *req)
{
    metrics_stats_t st;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int rc;

    if (!f) {
        reply_error(req, 500, "Internal Server Error", "out of memory");
        return;
    }
    if (h->sup->refresh_usage)
        h->sup->refresh_usage(h->sup);
    if (h->prober)
        probe_stats(h->prober, &st);
    rc = metrics_render(f, h->sup, h->prober ? &st : NULL, PACKAGE_VERSION);
    if (fclose(f) != 0 || rc < 0)
        reply_error(req, 500, "Internal Server Error", "cannot render metrics");
    else
        reply(req, 200, "OK", CT_METRICS, buf, len);
    free(buf);
}

/* The fleet view (cluster.c, linked into instanced only). */
json_t *cluster_report_json(void) __attribute__((weak));

static void request_cb(struct evhttp_request *req, void *arg)
{
    status_http_t *h = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    static const char inst_prefix[] = "/api/v1/instances/";
    time_t now = time(NULL);

    restart_deadline(h, req);
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
        reply_error(req, 405, "Method Not Allowed",
                    "the status endpoint is read-only; use instancectl on the control "
                    "socket to start, stop, restart or reload");
        return;
    }
    if (!path || !*path)
        path = "/";
    if (strcmp(path, "/") == 0) {
        status_page_serve(h->page, req);
    } else if (strcmp(path, "/api/v1/health") == 0) {
        serve_view(h, req, &h->health, render_health, health_code);
    } else if (strcmp(path, "/api/v1/instances") == 0 ||
               strcmp(path, "/api/v1/instances/") == 0) {
        serve_view(h, req, &h->instances, render_instances, NULL);
    } else if (strncmp(path, inst_prefix, sizeof inst_prefix - 1) == 0) {
        size_t n = 0;
        char *name = evhttp_uridecode(path + sizeof inst_prefix - 1, 0, &n);
        /* Only a whole valid name is looked up: "tw-A%00x" decodes to a string that C
         * would read as "tw-A". */
        sup_instance_t *in = name && n == strlen(name) && nm_valid_instance_name(name)
                                 ? sup_find(h->sup, name)
                                 : NULL;

        if (in && h->sup->refresh_usage)
            h->sup->refresh_usage(h->sup);
        if (in)
            reply_json(req, 200, "OK", report_instance(h->sup, in, now));
        else
            reply_error(req, 404, "Not Found", "no such instance");
        free(name);
    } else if (strcmp(path, "/metrics") == 0) {
        serve_metrics(h, req);
    } else if (strcmp(path, "/api/v1/prometheus/targets") == 0) {
        reply_json(req, 200, "OK", report_targets(h->sup));
    } else if (strcmp(path, "/api/v1/cluster") == 0) {
        json_t *v = cluster_report_json ? cluster_report_json() : NULL;
        if (v)
            reply_json(req, 200, "OK", v);
        else
            reply_error(req, 404, "Not Found", "not in cluster mode (no cluster section)");
    } else {
        reply_error(req, 404, "Not Found",
                    "unknown path; try / (the status page), /api/v1/health, "
                    "/api/v1/instances, /metrics or /api/v1/prometheus/targets");
    }
}

/* Split "HOST:PORT" / "[V6]:PORT" into host and port. */
static int split_listen(const char *s, char *host, size_t hlen, unsigned short *port)
{
    const char *colon = strrchr(s, ':');
    const char *h = s;
    size_t n;
    char *end;
    long p;

    if (!colon)
        return -1;
    n = (size_t)(colon - s);
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']')
        h = s + 1, n -= 2;
    if (n == 0 || n >= hlen)
        return -1;
    memcpy(host, h, n);
    host[n] = '\0';
    p = strtol(colon + 1, &end, 10);
    if (*end || p < 1 || p > 65535)
        return -1;
    *port = (unsigned short)p;
    return 0;
}

status_http_t *status_http_new(supervisor_t *sup, const char *listen, prober_t *stats,
                               int max_conns, char *err, size_t errlen)
{
    status_http_t *h = xcalloc(1, sizeof *h);
    struct evhttp_bound_socket *bound;
    char host[256];
    unsigned short port;
    int one = 1;

    h->listen = xstrdup(listen);
    h->sup = sup;
    h->prober = stats;
    h->max_conns = max_conns > 0 ? max_conns : status_http_default_max_conns();
    h->nslots = h->max_conns;
    if (!(h->page = status_page_new(err, errlen))) {
        status_http_free(h);
        return NULL;
    }
    h->conns = xcalloc((size_t)h->nslots, sizeof *h->conns);
    if (!(h->sweep = event_new(sup->base, -1, EV_PERSIST, sweep_cb, h))) {
        snprintf(err, errlen, "cannot create the connection sweep timer");
        status_http_free(h);
        return NULL;
    }
    if (split_listen(listen, host, sizeof host, &port) < 0) {
        snprintf(err, errlen, "status_listen \"%s\" is not HOST:PORT", listen);
        status_http_free(h);
        return NULL;
    }
    if (!(h->http = evhttp_new(sup->base))) {
        snprintf(err, errlen, "cannot create the status endpoint");
        status_http_free(h);
        return NULL;
    }
    evhttp_set_max_headers_size(h->http, MAX_HEADERS_SIZE);
    evhttp_set_max_body_size(h->http, MAX_BODY_SIZE);
    evhttp_set_timeout(h->http, CONN_TIMEOUT_S);
    /* Every method reaches request_cb, which answers 405 itself (evhttp would say 501). */
    evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                            EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(h->http, request_cb, h);
    evhttp_set_bevcb(h->http, bev_cb, h);
    errno = 0;
    if (!(bound = evhttp_bind_socket_with_handle(h->http, host, port))) {
        snprintf(err, errlen, "cannot listen on %s (status_listen): %s", listen,
                 errno ? strerror(errno) : "address not available");
        status_http_free(h);
        return NULL;
    }
    /* A reply larger than one write ends in a short segment that Nagle holds back
     * until the client's delayed ACK: 40 ms per response for every scraper that keeps
     * its connection (BENCHMARKS.md, finding 1). Accepted sockets inherit the option. */
    if (setsockopt(evhttp_bound_socket_get_fd(bound), IPPROTO_TCP, TCP_NODELAY, &one,
                   sizeof(one)) < 0)
        log_warn("cannot set TCP_NODELAY on the status endpoint", "error", strerror(errno));
    h->listener = evhttp_bound_socket_get_listener(bound);
    h->guarded = evglue_guard_listener(h->listener, "status endpoint") == 0;
    log_info("status endpoint listening", "listen", listen, "max_connections",
             LOG_INT(h->max_conns), "request_deadline_s", LOG_INT(STATUS_REQUEST_DEADLINE_S));
    return h;
}

int status_http_set_max_conns(status_http_t *h, int max_conns)
{
    int n = max_conns > 0 ? max_conns : status_http_default_max_conns();

    if (n > h->nslots) {
        h->conns = xreallocarray(h->conns, (size_t)n, sizeof *h->conns);
        h->nslots = n;
    }
    if (n != h->max_conns)
        log_info("status endpoint connection cap changed", "from", LOG_INT(h->max_conns),
                 "to", LOG_INT(n));
    /* A lower cap takes effect as connections end: none is cut for it. */
    h->max_conns = n;
    hold(h, h->nconns >= n);
    return 0;
}

const char *status_http_listen(const status_http_t *h)
{
    return h->listen;
}

void status_http_free(status_http_t *h)
{
    if (!h)
        return;
    if (h->guarded)
        evglue_unguard_listener(h->listener);
    if (h->http)
        evhttp_free(h->http); /* frees every connection: only our references remain */
    for (int i = 0; i < h->nconns; i++)
        bufferevent_decref(h->conns[i].bev);
    if (h->sweep)
        event_free(h->sweep);
    free(h->conns);
    status_page_free(h->page);
    view_clear(&h->health);
    view_clear(&h->instances);
    free(h->listen);
    free(h);
}
