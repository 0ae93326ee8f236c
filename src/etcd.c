/* etcd.c - asynchronous etcd v3 client over the JSON gateway (libcurl multi on libevent).
 *
 * Longer than most files here on purpose: it is one protocol client (requests,
 * failover across endpoints, authentication, watches and their resumption), and its
 * parts share one request state machine that reads best in one place. */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcd.h"
#include "curlev.h"
#include "xalloc.h"

/* The flow: etcd_* calls build a JSON body and queue a request; a zero-time "kick"
 * event starts queued requests from the loop (so a callback may start requests
 * without a recursive libcurl call). libcurl runs on the loop through curlev.c;
 * finished transfers are collected after each of its steps (drain), where failover
 * and callbacks happen.
 * A watch's stream is appended to a buffer by the write callback and parsed, line by
 * line, from the kick event: no user code ever runs inside libcurl. */

#define ETCD_DEFAULT_TIMEOUT_MS 5000
#define ETCD_DEFAULT_CONNECT_MS 1000
#define ETCD_MAX_BODY (64u * 1024 * 1024) /* a range answer larger than this fails */
#define WATCH_BACKOFF_MIN_MS 100
#define WATCH_BACKOFF_MAX_MS 2000

typedef enum { R_QUEUED, R_AUTHWAIT, R_RUNNING } rstate_t;

struct etcd_req {
    etcd_client_t *c;
    etcd_req_t *prev, *next;  /* all live requests */
    etcd_req_t *qnext;        /* the start queue */
    char *path;
    char *body;               /* JSON text; owned; wiped when it holds a password */
    long timeout_ms;          /* 0: none (watch streams) */
    etcd_cb cb;
    void *arg;
    int fixed_ep;             /* ask this endpoint only (maintenance status) */
    size_t ep, tries;
    rstate_t state;
    int queued;
    int is_auth, auth_retried;
    etcd_watch_t *watch;      /* a watch's stream */
    CURL *easy;
    struct curl_slist *hdrs;
    char *buf;
    size_t len, cap;
    char errbuf[CURL_ERROR_SIZE];
};

struct etcd_watch {
    etcd_client_t *c;
    etcd_watch_t *prev, *next;
    char *key;
    size_t key_len;
    unsigned flags;
    int64_t next_rev;         /* resume here (0: from now) */
    etcd_watch_cb cb;
    void *arg;
    etcd_req_t *req;          /* the stream, NULL between attempts */
    struct event *retry;
    long backoff_ms;
    int in_cb, canceled, dirty, ended;
};

struct etcd_client {
    struct event_base *base;
    curlev_t *cv;          /* libcurl's multi handle on the loop */
    CURLM *multi;          /* cv's */
    struct event *kick;
    char **eps;
    size_t n_eps, cur;
    char *ca, *cert, *key, *user, *password;
    long timeout_ms, connect_ms;
    char *token;
    etcd_req_t *auth_req;
    etcd_req_t *reqs;
    etcd_req_t *qhead, *qtail;
    etcd_watch_t *watches;
};

static int curl_ready;

/* ---- base64 ------------------------------------------------------------------ */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *etcd_b64_encode(const void *data, size_t len)
{
    const unsigned char *p = data;
    char *out = xmalloc((len + 2) / 3 * 4 + 1), *o = out;
    size_t i;

    for (i = 0; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = B64[v >> 18];
        *o++ = B64[(v >> 12) & 63];
        *o++ = B64[(v >> 6) & 63];
        *o++ = B64[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
        *o++ = B64[v >> 18];
        *o++ = B64[(v >> 12) & 63];
        *o++ = i + 1 < len ? B64[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o = '\0';
    return out;
}

static int b64_val(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+' || ch == '-')
        return 62;
    if (ch == '/' || ch == '_')
        return 63;
    return -1;
}

char *etcd_b64_decode(const char *text, size_t len, size_t *out_len)
{
    char *out = xmalloc(len / 4 * 3 + 4);
    size_t o = 0, pad = 0;
    uint32_t acc = 0;
    int bits = 0;

    for (size_t i = 0; i < len; i++) {
        int v;

        if (text[i] == '=') {
            pad++;
            continue;
        }
        if (pad || (v = b64_val((unsigned char)text[i])) < 0) {
            free(out);
            return NULL;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    /* Leftover bits must be zero padding of a 2- or 3-character tail. */
    if (pad > 2 || bits >= 6 || (acc & ((1u << bits) - 1)) != 0) {
        free(out);
        return NULL;
    }
    out[o] = '\0';
    if (out_len)
        *out_len = o;
    return out;
}

char *etcd_prefix_end(const char *prefix, size_t len, size_t *out_len)
{
    char *end = xmalloc(len + 1);

    memcpy(end, prefix, len);
    for (size_t i = len; i-- > 0;) {
        if ((unsigned char)end[i] < 0xff) {
            end[i]++;
            end[i + 1] = '\0';
            *out_len = i + 1;
            return end;
        }
    }
    end[0] = '\0';
    *out_len = 1;
    return end;
}

/* ---- JSON helpers ------------------------------------------------------------ */

static json_t *b64_json(const char *s, size_t len)
{
    char *b = etcd_b64_encode(s, len);
    json_t *j = json_string(b);
    free(b);
    return j;
}

static json_t *i64_json(int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return json_string(buf);
}

/* A 64-bit number as the gateway writes it (a string), or a JSON integer. proto3
 * leaves out zero values, so absent is 0. Names are tried in order (snake and camel
 * case both occur: kv fields are snake_case, maintenance status camelCase). */
static int64_t get_i64(const json_t *o, const char *name, const char *alt)
{
    const json_t *v = json_object_get(o, name);

    if (!v && alt)
        v = json_object_get(o, alt);
    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_string(v))
        return (int64_t)strtoll(json_string_value(v), NULL, 10);
    return 0;
}

static void key_range(json_t *o, const char *key, unsigned flags)
{
    size_t klen = strlen(key);

    json_object_set_new(o, "key", b64_json(klen ? key : "\0", klen ? klen : 1));
    if (flags & ETCD_PREFIX) {
        size_t elen;
        char *end = etcd_prefix_end(key, klen, &elen);
        if (klen == 0) /* every key: from "\0" to the end */
            json_object_set_new(o, "range_end", b64_json("\0", 1));
        else
            json_object_set_new(o, "range_end", b64_json(end, elen));
        free(end);
    }
}

static void kv_free(etcd_kv_t *kv)
{
    free(kv->key);
    free(kv->value);
}

static void kv_decode(const json_t *j, etcd_kv_t *kv)
{
    const char *k = json_string_value(json_object_get(j, "key"));
    const char *v = json_string_value(json_object_get(j, "value"));

    memset(kv, 0, sizeof *kv);
    kv->key = etcd_b64_decode(k ? k : "", k ? strlen(k) : 0, &kv->key_len);
    kv->value = etcd_b64_decode(v ? v : "", v ? strlen(v) : 0, &kv->value_len);
    if (!kv->key)
        kv->key = xstrdup(""), kv->key_len = 0;
    if (!kv->value)
        kv->value = xstrdup(""), kv->value_len = 0;
    kv->create_revision = get_i64(j, "create_revision", "createRevision");
    kv->mod_revision = get_i64(j, "mod_revision", "modRevision");
    kv->version = get_i64(j, "version", NULL);
    kv->lease = get_i64(j, "lease", NULL);
}

/* ---- requests ---------------------------------------------------------------- */

static void kick_later(etcd_client_t *c)
{
    event_active(c->kick, EV_TIMEOUT, 0);
}

static void queue_req(etcd_client_t *c, etcd_req_t *r)
{
    if (r->queued)
        return;
    r->state = R_QUEUED;
    r->queued = 1;
    r->qnext = NULL;
    if (c->qtail)
        c->qtail->qnext = r;
    else
        c->qhead = r;
    c->qtail = r;
    kick_later(c);
}

static void unqueue_req(etcd_client_t *c, etcd_req_t *r)
{
    etcd_req_t **pp = &c->qhead, *prev = NULL;

    if (!r->queued)
        return;
    while (*pp && *pp != r) {
        prev = *pp;
        pp = &(*pp)->qnext;
    }
    if (*pp)
        *pp = r->qnext;
    if (c->qtail == r)
        c->qtail = prev;
    r->queued = 0;
}

static void stop_transfer(etcd_req_t *r)
{
    if (r->easy) {
        curl_multi_remove_handle(r->c->multi, r->easy);
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
    }
    curl_slist_free_all(r->hdrs);
    r->hdrs = NULL;
    r->len = 0;
}

static void req_free(etcd_req_t *r)
{
    etcd_client_t *c = r->c;

    stop_transfer(r);
    unqueue_req(c, r);
    if (r->prev)
        r->prev->next = r->next;
    else
        c->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    if (c->auth_req == r)
        c->auth_req = NULL;
    if (r->is_auth && r->body)
        explicit_bzero(r->body, strlen(r->body));
    free(r->body);
    free(r->path);
    free(r->buf);
    free(r);
}

static etcd_req_t *req_new(etcd_client_t *c, const char *path, json_t *body, long timeout_ms,
                           etcd_cb cb, void *arg)
{
    etcd_req_t *r = xcalloc(1, sizeof *r);

    r->c = c;
    r->path = xstrdup(path);
    r->body = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!r->body)
        r->body = xstrdup("{}");
    r->timeout_ms = timeout_ms;
    r->cb = cb;
    r->arg = arg;
    r->ep = c->cur;
    r->next = c->reqs;
    if (c->reqs)
        c->reqs->prev = r;
    c->reqs = r;
    queue_req(c, r);
    return r;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
    etcd_req_t *r = userp;
    size_t n = size * nmemb;

    /* CURLOPT_MAXFILESIZE does not stop a chunked body: cap it here. */
    if (r->len + n > ETCD_MAX_BODY)
        return 0;
    if (r->len + n + 1 > r->cap) {
        r->cap = (r->len + n + 1) * 2;
        r->buf = xrealloc(r->buf, r->cap);
    }
    memcpy(r->buf + r->len, data, n);
    r->len += n;
    r->buf[r->len] = '\0';
    if (r->watch) {
        r->watch->dirty = 1;
        kick_later(r->c);
    }
    return n;
}

static void auth_done(const etcd_result_t *res, void *arg);

/* Start (or restart on r->ep) a queued request. 0, or -1 when libcurl refused. */
static int start_req(etcd_req_t *r)
{
    etcd_client_t *c = r->c;
    char *url, *hdr;

    if (c->user && !r->is_auth && !c->token) {
        etcd_req_t *a;
        json_t *body;

        r->state = R_AUTHWAIT;
        if (c->auth_req)
            return 0;
        body = json_pack("{s:s, s:s}", "name", c->user, "password", c->password);
        a = req_new(c, "/v3/auth/authenticate", body, c->timeout_ms, auth_done, c);
        a->is_auth = 1;
        c->auth_req = a;
        return 0;
    }
    stop_transfer(r);
    r->state = R_RUNNING;
    r->errbuf[0] = '\0';
    if (!(r->easy = curl_easy_init()))
        return -1;
    url = xasprintf("%s%s", c->eps[r->ep], r->path);
    curl_easy_setopt(r->easy, CURLOPT_URL, url); /* libcurl copies strings */
    free(url);
    r->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    r->hdrs = curl_slist_append(r->hdrs, "Expect:");
    if (r->watch) /* a member without a leader ends the stream instead of going silent */
        r->hdrs = curl_slist_append(r->hdrs, "Grpc-Metadata-hasleader: true");
    if (c->token && !r->is_auth) {
        hdr = xasprintf("Authorization: %s", c->token);
        r->hdrs = curl_slist_append(r->hdrs, hdr);
        free(hdr);
    }
    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->hdrs);
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(r->body));
    curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
    curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms);
    if (r->timeout_ms > 0)
        curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, r->timeout_ms);
    /* A watch stream can be idle for long: keepalive probes find a dead peer. */
    curl_easy_setopt(r->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(r->easy, CURLOPT_TCP_KEEPIDLE, 5L);
    curl_easy_setopt(r->easy, CURLOPT_TCP_KEEPINTVL, 2L);
    curl_easy_setopt(r->easy, CURLOPT_OPENSOCKETFUNCTION, curlev_open_cloexec);
    if (c->ca)
        curl_easy_setopt(r->easy, CURLOPT_CAINFO, c->ca);
    if (c->cert)
        curl_easy_setopt(r->easy, CURLOPT_SSLCERT, c->cert);
    if (c->key)
        curl_easy_setopt(r->easy, CURLOPT_SSLKEY, c->key);
    if (curl_multi_add_handle(c->multi, r->easy) != CURLM_OK) {
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
        return -1;
    }
    return 0;
}

/* Fill res from r's answer. Allocations go to *kvs (freed by the caller). */
static json_t *parse_answer(etcd_req_t *r, long status, etcd_result_t *res, etcd_kv_t **kvs)
{
    json_t *j = r->len ? json_loadb(r->buf, r->len, 0, NULL) : NULL;
    const json_t *o = j, *hdr, *arr = NULL;

    res->http_status = status;
    res->json = j;
    if (!json_is_object(j)) {
        res->error = status == 200 ? "unreadable answer from etcd" : NULL;
        return j;
    }
    if (json_is_object(json_object_get(j, "result"))) /* lease keepalive */
        o = json_object_get(j, "result");
    if (status != 200) {
        const char *e = json_string_value(json_object_get(j, "error"));
        if (!e)
            e = json_string_value(json_object_get(j, "message"));
        res->error = e;
        res->code = (int)get_i64(j, "code", NULL);
        return j;
    }
    hdr = json_object_get(o, "header");
    res->revision = get_i64(hdr, "revision", NULL);
    res->member_id = get_i64(hdr, "member_id", "memberId");
    res->raft_term = get_i64(hdr, "raft_term", "raftTerm");
    res->count = get_i64(o, "count", NULL);
    res->more = json_is_true(json_object_get(o, "more"));
    res->deleted = get_i64(o, "deleted", NULL);
    res->succeeded = json_is_true(json_object_get(o, "succeeded"));
    res->lease_id = get_i64(o, "ID", NULL);
    res->ttl = get_i64(o, "TTL", NULL);
    res->leader = get_i64(o, "leader", NULL);
    res->version = json_string_value(json_object_get(o, "version"));
    arr = json_object_get(o, "kvs");
    if (!arr) { /* a txn: the first range response's keys */
        size_t i;
        json_t *resp;
        json_array_foreach(json_object_get(o, "responses"), i, resp) {
            const json_t *rr = json_object_get(resp, "response_range");
            if (!rr)
                rr = json_object_get(resp, "responseRange");
            if (rr) {
                arr = json_object_get(rr, "kvs");
                res->count = get_i64(rr, "count", NULL);
                break;
            }
        }
    }
    if (json_is_array(arr) && json_array_size(arr)) {
        size_t i;
        json_t *kv;
        *kvs = xcalloc(json_array_size(arr), sizeof **kvs);
        json_array_foreach(arr, i, kv)
            kv_decode(kv, &(*kvs)[i]);
        res->kvs = *kvs;
        res->n_kvs = json_array_size(arr);
    }
    res->ok = 1;
    return j;
}

static int finish_watch_stream(etcd_watch_t *w, const char *why);

/* A request ended: fail over, re-authenticate, or hand the answer over. */
static void req_done(etcd_req_t *r, CURLcode rc)
{
    etcd_client_t *c = r->c;
    long status = 0;
    etcd_result_t res;
    etcd_kv_t *kvs = NULL;
    json_t *j;
    char why[CURL_ERROR_SIZE + 256];

    if (rc == CURLE_OK)
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status >= 500) {
        if (rc != CURLE_OK)
            snprintf(why, sizeof why, "%s: %s", c->eps[r->ep],
                     r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
        else
            snprintf(why, sizeof why, "%s: HTTP %ld", c->eps[r->ep], status);
        if (!r->watch && !r->fixed_ep && ++r->tries < c->n_eps) {
            r->ep = (r->ep + 1) % c->n_eps;
            queue_req(c, r);
            return;
        }
        if (r->watch) {
            finish_watch_stream(r->watch, why);
            return;
        }
        memset(&res, 0, sizeof res);
        if (status >= 500) {
            j = parse_answer(r, status, &res, &kvs);
            if (!res.error)
                res.error = why;
        } else {
            j = NULL;
            res.error = why;
        }
        res.ok = 0;
        res.endpoint = c->eps[r->ep];
        if (r->cb)
            r->cb(&res, r->arg);
        json_decref(j);
        req_free(r);
        return;
    }
    if (!r->fixed_ep)
        c->cur = r->ep;
    /* A token expires when unused for a while: authenticate again, once. */
    if (status == 401 && c->user && !r->is_auth && !r->auth_retried) {
        r->auth_retried = 1;
        free(c->token);
        c->token = NULL;
        stop_transfer(r);
        r->tries = 0;
        queue_req(c, r);
        return;
    }
    if (r->watch) {
        /* A stream that ended (the member closed it) or was refused. */
        snprintf(why, sizeof why, "%s: watch stream ended (HTTP %ld)", c->eps[r->ep], status);
        finish_watch_stream(r->watch, why);
        return;
    }
    memset(&res, 0, sizeof res);
    j = parse_answer(r, status, &res, &kvs);
    if (!res.ok && !res.error) {
        snprintf(why, sizeof why, "%s: HTTP %ld", c->eps[r->ep], status);
        res.error = why;
    }
    res.endpoint = c->eps[r->ep];
    if (r->cb)
        r->cb(&res, r->arg);
    for (size_t i = 0; i < res.n_kvs; i++)
        kv_free(&kvs[i]);
    free(kvs);
    json_decref(j);
    req_free(r);
}

/* The authentication answer: release or fail the requests waiting for a token. */
static void auth_done(const etcd_result_t *res, void *arg)
{
    etcd_client_t *c = arg;
    const char *tok = res->ok ? json_string_value(json_object_get(res->json, "token")) : NULL;
    char why[512];

    free(c->token);
    c->token = tok ? xstrdup(tok) : NULL;
    c->auth_req = NULL;
    snprintf(why, sizeof why, "etcd authentication failed: %s",
             res->error ? res->error : "no token in the answer");
    for (;;) {
        etcd_req_t *r;
        for (r = c->reqs; r && r->state != R_AUTHWAIT; r = r->next)
            ;
        if (!r)
            break;
        if (c->token) {
            queue_req(c, r);
            continue;
        }
        if (r->watch) {
            finish_watch_stream(r->watch, why);
            continue;
        }
        {
            etcd_result_t fail;
            memset(&fail, 0, sizeof fail);
            fail.error = why;
            fail.http_status = res->http_status;
            fail.code = res->code;
            fail.endpoint = res->endpoint;
            if (r->cb)
                r->cb(&fail, r->arg);
            req_free(r);
        }
    }
}

etcd_req_t *etcd_call(etcd_client_t *c, const char *path, json_t *body, long timeout_ms,
                      etcd_cb cb, void *arg)
{
    if (!c || !path) {
        json_decref(body);
        return NULL;
    }
    return req_new(c, path, body ? body : json_object(), timeout_ms > 0 ? timeout_ms : c->timeout_ms,
                   cb, arg);
}

void etcd_cancel(etcd_req_t *r)
{
    if (r)
        req_free(r);
}

etcd_req_t *etcd_range(etcd_client_t *c, const char *key, unsigned flags, etcd_cb cb, void *arg)
{
    json_t *b;

    if (!c || !key)
        return NULL;
    b = json_object();
    key_range(b, key, flags);
    if (flags & ETCD_KEYS_ONLY)
        json_object_set_new(b, "keys_only", json_true());
    return etcd_call(c, "/v3/kv/range", b, 0, cb, arg);
}

static json_t *put_body(const char *key, const char *value, int64_t lease)
{
    json_t *b = json_object();

    json_object_set_new(b, "key", b64_json(key, strlen(key)));
    json_object_set_new(b, "value", b64_json(value ? value : "", value ? strlen(value) : 0));
    if (lease)
        json_object_set_new(b, "lease", i64_json(lease));
    return b;
}

etcd_req_t *etcd_put(etcd_client_t *c, const char *key, const char *value, int64_t lease,
                     etcd_cb cb, void *arg)
{
    if (!c || !key)
        return NULL;
    return etcd_call(c, "/v3/kv/put", put_body(key, value, lease), 0, cb, arg);
}

etcd_req_t *etcd_delete(etcd_client_t *c, const char *key, unsigned flags, etcd_cb cb,
                        void *arg)
{
    json_t *b;

    if (!c || !key)
        return NULL;
    b = json_object();
    key_range(b, key, flags);
    return etcd_call(c, "/v3/kv/deleterange", b, 0, cb, arg);
}

static json_t *op_json(const etcd_op_t *op)
{
    json_t *o = json_object(), *inner;

    switch (op->kind) {
    case ETCD_OP_PUT:
        json_object_set_new(o, "request_put", put_body(op->key, op->value, op->lease));
        break;
    case ETCD_OP_DELETE:
        inner = json_object();
        key_range(inner, op->key, op->flags);
        json_object_set_new(o, "request_delete_range", inner);
        break;
    case ETCD_OP_RANGE:
    default:
        inner = json_object();
        key_range(inner, op->key, op->flags);
        if (op->flags & ETCD_KEYS_ONLY)
            json_object_set_new(inner, "keys_only", json_true());
        json_object_set_new(o, "request_range", inner);
        break;
    }
    return o;
}

etcd_req_t *etcd_txn(etcd_client_t *c, const etcd_compare_t *cmp, size_t n_cmp,
                     const etcd_op_t *success, size_t n_success, const etcd_op_t *failure,
                     size_t n_failure, etcd_cb cb, void *arg)
{
    static const char *const results[] = { "EQUAL", "NOT_EQUAL", "GREATER", "LESS" };
    static const char *const targets[] = { "VERSION", "CREATE", "MOD", "VALUE", "LEASE" };
    static const char *const fields[] = { "version", "create_revision", "mod_revision",
                                          "value", "lease" };
    json_t *b, *arr;

    if (!c)
        return NULL;
    for (size_t i = 0; i < n_cmp; i++)
        if (!cmp[i].key || (unsigned)cmp[i].op > ETCD_LESS ||
            (unsigned)cmp[i].target > ETCD_TARGET_LEASE)
            return NULL;
    for (size_t i = 0; i < n_success; i++)
        if (!success[i].key)
            return NULL;
    for (size_t i = 0; i < n_failure; i++)
        if (!failure[i].key)
            return NULL;
    b = json_object();
    arr = json_array();
    for (size_t i = 0; i < n_cmp; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "key", b64_json(cmp[i].key, strlen(cmp[i].key)));
        json_object_set_new(o, "result", json_string(results[cmp[i].op]));
        json_object_set_new(o, "target", json_string(targets[cmp[i].target]));
        if (cmp[i].target == ETCD_TARGET_VALUE)
            json_object_set_new(o, "value", b64_json(cmp[i].value ? cmp[i].value : "",
                                                     cmp[i].value ? strlen(cmp[i].value) : 0));
        else
            json_object_set_new(o, fields[cmp[i].target], i64_json(cmp[i].number));
        json_array_append_new(arr, o);
    }
    json_object_set_new(b, "compare", arr);
    arr = json_array();
    for (size_t i = 0; i < n_success; i++)
        json_array_append_new(arr, op_json(&success[i]));
    json_object_set_new(b, "success", arr);
    arr = json_array();
    for (size_t i = 0; i < n_failure; i++)
        json_array_append_new(arr, op_json(&failure[i]));
    json_object_set_new(b, "failure", arr);
    return etcd_call(c, "/v3/kv/txn", b, 0, cb, arg);
}

etcd_req_t *etcd_create(etcd_client_t *c, const char *key, const char *value, int64_t lease,
                        etcd_cb cb, void *arg)
{
    etcd_compare_t cmp = { .key = key, .op = ETCD_EQUAL, .target = ETCD_TARGET_CREATE };
    etcd_op_t put = { .kind = ETCD_OP_PUT, .key = key, .value = value, .lease = lease };
    etcd_op_t get = { .kind = ETCD_OP_RANGE, .key = key };

    if (!key)
        return NULL;
    return etcd_txn(c, &cmp, 1, &put, 1, &get, 1, cb, arg);
}

etcd_req_t *etcd_lease_grant(etcd_client_t *c, int64_t ttl_s, etcd_cb cb, void *arg)
{
    if (!c)
        return NULL;
    return etcd_call(c, "/v3/lease/grant", json_pack("{s:o}", "TTL", i64_json(ttl_s)), 0, cb,
                     arg);
}

etcd_req_t *etcd_lease_keepalive(etcd_client_t *c, int64_t id, etcd_cb cb, void *arg)
{
    if (!c)
        return NULL;
    return etcd_call(c, "/v3/lease/keepalive", json_pack("{s:o}", "ID", i64_json(id)), 0, cb,
                     arg);
}

etcd_req_t *etcd_lease_revoke(etcd_client_t *c, int64_t id, etcd_cb cb, void *arg)
{
    if (!c)
        return NULL;
    return etcd_call(c, "/v3/lease/revoke", json_pack("{s:o}", "ID", i64_json(id)), 0, cb, arg);
}

etcd_req_t *etcd_status(etcd_client_t *c, size_t ep, etcd_cb cb, void *arg)
{
    etcd_req_t *r;

    if (!c || ep >= c->n_eps)
        return NULL;
    r = etcd_call(c, "/v3/maintenance/status", json_object(), 0, cb, arg);
    r->fixed_ep = 1;
    r->ep = ep;
    return r;
}

/* ---- watches ----------------------------------------------------------------- */

static void watch_start(etcd_watch_t *w)
{
    etcd_client_t *c = w->c;
    json_t *cr = json_object();

    key_range(cr, w->key, w->flags);
    if (w->next_rev)
        json_object_set_new(cr, "start_revision", i64_json(w->next_rev));
    if (w->flags & ETCD_PREV_KV)
        json_object_set_new(cr, "prev_kv", json_true());
    w->req = req_new(c, "/v3/watch", json_pack("{s:o}", "create_request", cr), 0, NULL, NULL);
    w->req->watch = w;
}

static void watch_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    etcd_watch_t *w = arg;

    (void)fd, (void)what;
    if (!w->req && !w->ended && !w->canceled)
        watch_start(w);
}

static void watch_free(etcd_watch_t *w)
{
    etcd_client_t *c = w->c;

    if (w->req)
        req_free(w->req);
    event_free(w->retry);
    if (w->prev)
        w->prev->next = w->next;
    else
        c->watches = w->next;
    if (w->next)
        w->next->prev = w->prev;
    free(w->key);
    free(w);
}

/* Run the user's callback; 1 when the watch was cancelled inside it (and is gone). */
static int watch_deliver(etcd_watch_t *w, const etcd_watch_update_t *u)
{
    w->in_cb = 1;
    w->cb(u, w->arg);
    w->in_cb = 0;
    if (w->canceled) {
        watch_free(w);
        return 1;
    }
    return 0;
}

/* The stream broke: say so and come back after the backoff, on the next endpoint
 * (a new request, so that it resumes at next_rev). 1 when the watch is gone. */
static int finish_watch_stream(etcd_watch_t *w, const char *why)
{
    etcd_watch_update_t u = { .kind = ETCD_WATCH_BROKEN, .error = why };
    etcd_client_t *c = w->c;
    struct timeval tv;

    if (w->req) {
        if (c->cur == w->req->ep)
            c->cur = (c->cur + 1) % c->n_eps;
        req_free(w->req);
        w->req = NULL;
    }
    if (w->ended)
        return 0;
    tv.tv_sec = w->backoff_ms / 1000;
    tv.tv_usec = (w->backoff_ms % 1000) * 1000;
    evtimer_add(w->retry, &tv);
    w->backoff_ms = w->backoff_ms * 2 > WATCH_BACKOFF_MAX_MS ? WATCH_BACKOFF_MAX_MS
                                                             : w->backoff_ms * 2;
    return watch_deliver(w, &u);
}

/* One message of the stream. 1 when the watch is gone. */
static int watch_message(etcd_watch_t *w, json_t *j)
{
    const json_t *res = json_object_get(j, "result");
    const json_t *evs;
    etcd_watch_update_t u;
    etcd_event_t *ev = NULL;
    size_t n = 0, i;
    json_t *e;
    int gone;

    memset(&u, 0, sizeof u);
    if (!json_is_object(res)) {
        const json_t *err = json_object_get(j, "error");
        const char *msg = json_string_value(json_object_get(err, "message"));
        if (!msg)
            msg = json_string_value(json_object_get(err, "error"));
        return finish_watch_stream(w, msg ? msg : "error on the watch stream");
    }
    u.revision = get_i64(json_object_get(res, "header"), "revision", NULL);
    if (get_i64(res, "compact_revision", "compactRevision")) {
        w->ended = 1;
        u.kind = ETCD_WATCH_COMPACTED;
        u.error = "the watched revision has been compacted";
        if (w->req) {
            req_free(w->req);
            w->req = NULL;
        }
        return watch_deliver(w, &u);
    }
    if (json_is_true(json_object_get(res, "canceled"))) {
        w->ended = 1;
        u.kind = ETCD_WATCH_CANCELED;
        u.error = json_string_value(json_object_get(res, "cancel_reason"));
        if (!u.error)
            u.error = "etcd cancelled the watch";
        if (w->req) {
            req_free(w->req);
            w->req = NULL;
        }
        return watch_deliver(w, &u);
    }
    if (json_is_true(json_object_get(res, "created"))) {
        w->backoff_ms = WATCH_BACKOFF_MIN_MS;
        if (!w->next_rev)
            w->next_rev = u.revision + 1;
        u.kind = ETCD_WATCH_CREATED;
        return watch_deliver(w, &u);
    }
    evs = json_object_get(res, "events");
    if (json_is_array(evs) && (n = json_array_size(evs)))
        ev = xcalloc(n, sizeof *ev);
    json_array_foreach(evs, i, e) {
        const json_t *type = json_object_get(e, "type");
        ev[i].is_delete = json_is_string(type) && strcmp(json_string_value(type), "DELETE") == 0;
        kv_decode(json_object_get(e, "kv"), &ev[i].kv);
        if (json_is_object(json_object_get(e, "prev_kv"))) {
            ev[i].has_prev = 1;
            kv_decode(json_object_get(e, "prev_kv"), &ev[i].prev);
        }
        if (ev[i].kv.mod_revision >= w->next_rev)
            w->next_rev = ev[i].kv.mod_revision + 1;
    }
    if (!n) { /* progress notification: nothing happened up to this revision */
        if (u.revision >= w->next_rev)
            w->next_rev = u.revision + 1;
        return 0;
    }
    u.kind = ETCD_WATCH_EVENTS;
    u.events = ev;
    u.n_events = n;
    gone = watch_deliver(w, &u);
    for (i = 0; i < n; i++) {
        kv_free(&ev[i].kv);
        if (ev[i].has_prev)
            kv_free(&ev[i].prev);
    }
    free(ev);
    return gone;
}

/* Parse the complete lines received on w's stream. 1 when the watch is gone. */
static int watch_parse(etcd_watch_t *w)
{
    while (w->req && w->req->len) {
        etcd_req_t *r = w->req;
        char *nl = memchr(r->buf, '\n', r->len);
        size_t line;
        json_t *j;

        if (!nl)
            break;
        line = (size_t)(nl - r->buf) + 1;
        j = json_loadb(r->buf, line, 0, NULL);
        memmove(r->buf, r->buf + line, r->len - line);
        r->len -= line;
        if (!j)
            continue;
        if (watch_message(w, j)) {
            json_decref(j);
            return 1;
        }
        json_decref(j);
    }
    return 0;
}

etcd_watch_t *etcd_watch(etcd_client_t *c, const char *key, unsigned flags,
                         int64_t start_revision, etcd_watch_cb cb, void *arg)
{
    etcd_watch_t *w;

    if (!c || !key || !cb)
        return NULL;
    w = xcalloc(1, sizeof *w);
    w->c = c;
    w->key = xstrdup(key);
    w->key_len = strlen(key);
    w->flags = flags;
    w->next_rev = start_revision;
    w->cb = cb;
    w->arg = arg;
    w->backoff_ms = WATCH_BACKOFF_MIN_MS;
    if (!(w->retry = evtimer_new(c->base, watch_retry_cb, w)))
        abort(); /* libevent allocates only; out of memory is fatal as in xalloc */
    w->next = c->watches;
    if (c->watches)
        c->watches->prev = w;
    c->watches = w;
    watch_start(w);
    return w;
}

void etcd_watch_cancel(etcd_watch_t *w)
{
    if (!w)
        return;
    if (w->in_cb) {
        w->canceled = 1;
        return;
    }
    watch_free(w);
}

/* ---- the loop ---------------------------------------------------------------- */

static void drain(etcd_client_t *c)
{
    void *priv;
    CURLcode rc;

    while (curlev_done(c->cv, &priv, &rc)) {
        etcd_req_t *r = priv;

        /* Lines received before the end are delivered first. */
        if (r->watch && r->watch->dirty) {
            etcd_watch_t *w = r->watch;
            w->dirty = 0;
            if (watch_parse(w) || w->req != r)
                continue;
        }
        req_done(r, rc);
    }
}

static void drain_cb(void *arg)
{
    drain(arg);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
    etcd_client_t *c = arg;
    etcd_watch_t *w;

    (void)fd, (void)what;
    while (c->qhead) {
        etcd_req_t *r = c->qhead;

        unqueue_req(c, r);
        if (start_req(r) < 0) {
            char why[256];
            snprintf(why, sizeof why, "%s: libcurl refused the request", c->eps[r->ep]);
            if (r->watch) {
                finish_watch_stream(r->watch, why);
            } else {
                etcd_result_t res;
                memset(&res, 0, sizeof res);
                res.error = why;
                if (r->cb)
                    r->cb(&res, r->arg);
                req_free(r);
            }
        }
    }
    /* Callbacks may cancel other watches: start over after each one. */
    for (w = c->watches; w;) {
        if (!w->dirty) {
            w = w->next;
            continue;
        }
        w->dirty = 0;
        watch_parse(w);
        w = c->watches;
    }
}

etcd_client_t *etcd_new(struct event_base *base, const etcd_options_t *opt, char *err,
                        size_t errlen)
{
    etcd_client_t *c;

    if (!base || !opt || !opt->endpoints || opt->n_endpoints == 0) {
        snprintf(err, errlen, "etcd: no endpoint given");
        return NULL;
    }
    for (size_t i = 0; i < opt->n_endpoints; i++) {
        const char *e = opt->endpoints[i];
        if (!e || (strncmp(e, "http://", 7) != 0 && strncmp(e, "https://", 8) != 0)) {
            snprintf(err, errlen, "etcd: endpoint %zu (%s) is not an http:// or https:// URL",
                     i + 1, e ? e : "(null)");
            return NULL;
        }
    }
    if (opt->user && !opt->password) {
        snprintf(err, errlen, "etcd: user %s has no password", opt->user);
        return NULL;
    }
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            snprintf(err, errlen, "etcd: cannot initialize libcurl");
            return NULL;
        }
        curl_ready = 1;
    }
    /* With CURLOPT_NOSIGNAL libcurl leaves SIGPIPE alone: a peer closing a socket
     * must not kill the process. */
    signal(SIGPIPE, SIG_IGN);
    c = xcalloc(1, sizeof *c);
    c->base = base;
    c->eps = xcalloc(opt->n_endpoints, sizeof *c->eps);
    for (size_t i = 0; i < opt->n_endpoints; i++) {
        size_t l = strlen(opt->endpoints[i]);
        c->eps[i] = xstrdup(opt->endpoints[i]);
        while (l > 0 && c->eps[i][l - 1] == '/') /* paths start with '/' */
            c->eps[i][--l] = '\0';
    }
    c->n_eps = opt->n_endpoints;
    c->ca = opt->ca_file ? xstrdup(opt->ca_file) : NULL;
    c->cert = opt->cert_file ? xstrdup(opt->cert_file) : NULL;
    c->key = opt->key_file ? xstrdup(opt->key_file) : NULL;
    c->user = opt->user ? xstrdup(opt->user) : NULL;
    c->password = opt->password ? xstrdup(opt->password) : NULL;
    c->timeout_ms = opt->request_timeout_ms > 0 ? opt->request_timeout_ms
                                                : ETCD_DEFAULT_TIMEOUT_MS;
    c->connect_ms = opt->connect_timeout_ms > 0 ? opt->connect_timeout_ms
                                                : ETCD_DEFAULT_CONNECT_MS;
    c->cv = curlev_new(base, drain_cb, c);
    c->multi = c->cv ? curlev_multi(c->cv) : NULL;
    c->kick = event_new(base, -1, 0, kick_cb, c);
    if (!c->multi || !c->kick) {
        snprintf(err, errlen, "etcd: libcurl or libevent refused a handle");
        etcd_free(c);
        return NULL;
    }
    return c;
}

const char *etcd_current_endpoint(const etcd_client_t *c)
{
    return c ? c->eps[c->cur] : NULL;
}

void etcd_free(etcd_client_t *c)
{
    if (!c)
        return;
    while (c->watches)
        watch_free(c->watches);
    while (c->reqs)
        req_free(c->reqs);
    curlev_free(c->cv); /* after the handles: it may close sockets */
    if (c->kick)
        event_free(c->kick);
    for (size_t i = 0; i < c->n_eps; i++)
        free(c->eps[i]);
    free(c->eps);
    free(c->ca);
    free(c->cert);
    free(c->key);
    free(c->user);
    if (c->password)
        explicit_bzero(c->password, strlen(c->password));
    free(c->password);
    if (c->token)
        explicit_bzero(c->token, strlen(c->token));
    free(c->token);
    free(c);
}
