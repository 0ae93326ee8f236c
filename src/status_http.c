/* status_http.c - the read-only status endpoint on status_listen (libevent evhttp).
 *
 * Every answer is built from the state in memory (never by probing on request), has
 * an explicit Content-Type, and only GET and HEAD are served: mutations live on the
 * control socket alone. Request headers, bodies and idle connections are bounded. */
#include "config.h"

#include "status_http.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "evglue.h"
#include "health.h"
#include "log.h"
#include "metrics.h"
#include "report.h"

#define MAX_HEADERS_SIZE 8192
#define MAX_BODY_SIZE 1024
#define CONN_TIMEOUT_S 10

#define CT_JSON "application/json"
#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"

struct status_http {
    supervisor_t *sup;
    prober_t *prober;
    struct evhttp *http;
    struct evconnlistener *listener; /* evhttp's, guarded against running out of fds */
    char *listen;
};

static void reply(struct evhttp_request *req, int code, const char *reason, const char *ct,
                  const char *body, size_t len)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    struct evbuffer *out = evbuffer_new();

    evhttp_add_header(h, "Content-Type", ct);
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    if (out && body)
        evbuffer_add(out, body, len);
    evhttp_send_reply(req, code, reason, out);
    if (out)
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
        char *b = realloc(s, n + 2);
        if (b) {
            s = b;
            s[n++] = '\n';
            s[n] = '\0';
        }
        reply(req, code, reason, CT_JSON, s, n);
    }
    free(s);
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
    if (h->prober)
        probe_stats(h->prober, &st);
    rc = metrics_render(f, h->sup, h->prober ? &st : NULL, PACKAGE_VERSION);
    if (fclose(f) != 0 || rc < 0)
        reply_error(req, 500, "Internal Server Error", "cannot render metrics");
    else
        reply(req, 200, "OK", CT_METRICS, buf, len);
    free(buf);
}

static void request_cb(struct evhttp_request *req, void *arg)
{
    status_http_t *h = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    static const char inst_prefix[] = "/api/v1/instances/";
    time_t now = time(NULL);

    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
        reply_error(req, 405, "Method Not Allowed",
                    "the status endpoint is read-only; use instancectl on the control "
                    "socket to start, stop, restart or reload");
        return;
    }
    if (!path || !*path)
        path = "/";
    if (strcmp(path, "/api/v1/health") == 0) {
        json_t *v = report_health(h->sup, PACKAGE_VERSION, now);
        int bad = health_overall(h->sup->inst, h->sup->ninst) == HEALTH_UNHEALTHY;
        reply_json(req, bad ? 503 : 200, bad ? "Service Unavailable" : "OK", v);
    } else if (strcmp(path, "/api/v1/instances") == 0 ||
               strcmp(path, "/api/v1/instances/") == 0) {
        reply_json(req, 200, "OK", report_instances(h->sup, now));
    } else if (strncmp(path, inst_prefix, sizeof inst_prefix - 1) == 0) {
        char *name = evhttp_uridecode(path + sizeof inst_prefix - 1, 0, NULL);
        sup_instance_t *in = name && !strchr(name, '/') ? sup_find(h->sup, name) : NULL;

        if (in)
            reply_json(req, 200, "OK", report_instance(h->sup, in, now));
        else
            reply_error(req, 404, "Not Found", "no such instance");
        free(name);
    } else if (strcmp(path, "/metrics") == 0) {
        serve_metrics(h, req);
    } else if (strcmp(path, "/api/v1/prometheus/targets") == 0) {
        reply_json(req, 200, "OK", report_targets(h->sup));
    } else {
        reply_error(req, 404, "Not Found",
                    "unknown path; try /api/v1/health, /api/v1/instances, /metrics or "
                    "/api/v1/prometheus/targets");
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
                               char *err, size_t errlen)
{
    status_http_t *h = calloc(1, sizeof *h);
    struct evhttp_bound_socket *bound;
    char host[256];
    unsigned short port;
    int one = 1;

    if (!h || !(h->listen = strdup(listen))) {
        free(h);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->sup = sup;
    h->prober = stats;
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
    evglue_guard_listener(h->listener, "status endpoint");
    log_info("status endpoint listening", "listen", listen);
    return h;
}

const char *status_http_listen(const status_http_t *h)
{
    return h->listen;
}

void status_http_free(status_http_t *h)
{
    if (!h)
        return;
    evglue_unguard_listener(h->listener);
    if (h->http)
        evhttp_free(h->http);
    free(h->listen);
    free(h);
}
