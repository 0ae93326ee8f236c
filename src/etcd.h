/* etcd.h - asynchronous etcd v3 client over etcd's JSON gateway, on a libevent loop. */
#ifndef INSTANCED_ETCD_H
#define INSTANCED_ETCD_H

#include <event2/event.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Every call returns at once; results come back through callbacks run from the loop
 * (never from inside libcurl), so a callback may start or cancel any request. No
 * thread, no blocking call: libcurl's multi interface is driven by the event_base.
 *
 * Endpoints are tried in order, starting with the last one that answered: a request
 * moves to the next endpoint when it cannot connect, times out, or gets a 5xx (etcd's
 * "no leader", "request timed out"), at most once around the list. A write retried
 * after a timeout may have been applied already by the first member: callers make
 * writes idempotent or check with a compare (a create-if-absent that failed on
 * retry finds its own value). */

typedef struct etcd_client etcd_client_t;
typedef struct etcd_req etcd_req_t;
typedef struct etcd_watch etcd_watch_t;

typedef struct {
    const char *const *endpoints; /* "http://127.0.0.1:2379", "https://h2:2379", ... */
    size_t n_endpoints;
    const char *ca_file;   /* TLS: CA bundle to verify the members (NULL: system's) */
    const char *cert_file; /* TLS client certificate and its key (NULL: none) */
    const char *key_file;
    const char *user;      /* etcd user, NULL: no authentication */
    const char *password;  /* its password, read from a file by the caller; copied,
                            * wiped on free, never logged nor put in an error text */
    long request_timeout_ms; /* per attempt on one endpoint; 0: 5000 */
    long connect_timeout_ms; /* 0: 1000 */
} etcd_options_t;

/* One key-value as etcd returns it; key and value are decoded and NUL-terminated
 * (lengths exclude the NUL; values may hold NUL bytes). */
typedef struct {
    char *key;
    size_t key_len;
    char *value;
    size_t value_len;
    int64_t create_revision, mod_revision, version, lease;
} etcd_kv_t;

/* What a request gave. Everything is owned by the client and valid only during the
 * callback (copy what you keep). Absent fields of etcd's answer are 0/NULL. */
typedef struct {
    int ok;               /* etcd answered 200 */
    const char *error;    /* when !ok: why (etcd's message, or the transport's) */
    long http_status;     /* 0 when no endpoint answered */
    int code;             /* etcd's gRPC code on an error answer (5 not found, ...) */
    const char *endpoint; /* the endpoint that answered last */
    int64_t revision;     /* header.revision */
    int64_t member_id;    /* header.member_id: the member that answered */
    int64_t raft_term;
    /* range (and the first range response of a txn) */
    const etcd_kv_t *kvs;
    size_t n_kvs;
    int64_t count;
    int more;
    int64_t deleted;      /* deleterange */
    int succeeded;        /* txn: the compares held */
    int64_t lease_id;     /* lease grant, keepalive */
    int64_t ttl;          /* lease grant, keepalive: 0 from keepalive = lease gone */
    int64_t leader;       /* maintenance status: the leader's member id */
    const char *version;  /* maintenance status: the server's version */
    json_t *json;         /* the whole decoded answer (borrowed), for anything else */
} etcd_result_t;

typedef void (*etcd_cb)(const etcd_result_t *r, void *arg);

/* A client on base. NULL with err filled on bad options (no endpoint, an endpoint not
 * http(s)://, libcurl refusing to start). Options are copied. */
etcd_client_t *etcd_new(struct event_base *base, const etcd_options_t *opt, char *err,
                        size_t errlen);
/* Cancel everything (no callback runs) and free. NULL is fine. */
void etcd_free(etcd_client_t *c);
/* The endpoint requests go to first now (the last that answered). */
const char *etcd_current_endpoint(const etcd_client_t *c);

/* Flags for ranges, deletes and watches. */
#define ETCD_PREFIX 1u     /* every key starting with key */
#define ETCD_KEYS_ONLY 2u  /* range: no values */
#define ETCD_PREV_KV 4u    /* watch: events carry the previous value */

/* Requests. Each returns a handle for etcd_cancel, valid until its callback has
 * returned, or NULL when c or key is NULL (no callback then). Every queued request
 * gets exactly one callback unless cancelled. cb may be NULL (fire and forget). */
etcd_req_t *etcd_range(etcd_client_t *c, const char *key, unsigned flags, etcd_cb cb,
                       void *arg);
etcd_req_t *etcd_put(etcd_client_t *c, const char *key, const char *value, int64_t lease,
                     etcd_cb cb, void *arg);
etcd_req_t *etcd_delete(etcd_client_t *c, const char *key, unsigned flags, etcd_cb cb,
                        void *arg);
/* Create key only if it does not exist (one transaction); r->succeeded says whether
 * it was created, else r->kvs holds the key as it is. */
etcd_req_t *etcd_create(etcd_client_t *c, const char *key, const char *value, int64_t lease,
                        etcd_cb cb, void *arg);

/* A general transaction: if every compare holds, the success ops run, else the
 * failure ops. */
typedef enum { ETCD_EQUAL, ETCD_NOT_EQUAL, ETCD_GREATER, ETCD_LESS } etcd_cmp_op_t;
typedef enum {
    ETCD_TARGET_VERSION,
    ETCD_TARGET_CREATE,
    ETCD_TARGET_MOD,
    ETCD_TARGET_VALUE,
    ETCD_TARGET_LEASE
} etcd_cmp_target_t;
typedef struct {
    const char *key;
    etcd_cmp_op_t op;
    etcd_cmp_target_t target;
    int64_t number;    /* version, create/mod revision or lease */
    const char *value; /* ETCD_TARGET_VALUE */
} etcd_compare_t;
typedef enum { ETCD_OP_RANGE, ETCD_OP_PUT, ETCD_OP_DELETE } etcd_op_kind_t;
typedef struct {
    etcd_op_kind_t kind;
    const char *key;
    const char *value; /* put */
    int64_t lease;     /* put */
    unsigned flags;    /* range, delete: ETCD_PREFIX, ETCD_KEYS_ONLY */
} etcd_op_t;
etcd_req_t *etcd_txn(etcd_client_t *c, const etcd_compare_t *cmp, size_t n_cmp,
                     const etcd_op_t *success, size_t n_success, const etcd_op_t *failure,
                     size_t n_failure, etcd_cb cb, void *arg);

/* Leases: r->lease_id and r->ttl. A keepalive renews once (call it every ttl/3);
 * its r->ttl is 0 when the lease is gone (expired or revoked). */
etcd_req_t *etcd_lease_grant(etcd_client_t *c, int64_t ttl_s, etcd_cb cb, void *arg);
etcd_req_t *etcd_lease_keepalive(etcd_client_t *c, int64_t id, etcd_cb cb, void *arg);
etcd_req_t *etcd_lease_revoke(etcd_client_t *c, int64_t id, etcd_cb cb, void *arg);

/* The status of the member at endpoint index ep (not failing over: one member is
 * asked), e.g. to find the leader: r->leader, r->member_id, r->version. */
etcd_req_t *etcd_status(etcd_client_t *c, size_t ep, etcd_cb cb, void *arg);

/* Any other gateway call: POST body (stolen) to path ("/v3/lock/lock"), with the
 * endpoint failover and authentication above. timeout_ms 0: the client's. */
etcd_req_t *etcd_call(etcd_client_t *c, const char *path, json_t *body, long timeout_ms,
                      etcd_cb cb, void *arg);

/* Forget a request: its callback will not run. */
void etcd_cancel(etcd_req_t *r);

/* Watches: one streaming response per watch, read as it arrives (no polling). When
 * the stream breaks (member gone, network), the watch reports ETCD_WATCH_BROKEN and
 * comes back by itself on the next endpoint after a short backoff, resuming after
 * the last revision it delivered, so no event is lost or repeated. It ends only
 * when etcd has compacted that revision away (ETCD_WATCH_COMPACTED: range again and
 * watch anew) or cancels it, or with etcd_watch_cancel. */
typedef enum {
    ETCD_WATCH_CREATED,   /* the stream is up (again); events follow */
    ETCD_WATCH_EVENTS,    /* events[0..n_events) in revision order */
    ETCD_WATCH_BROKEN,    /* the stream broke (error says why); it will resume */
    ETCD_WATCH_COMPACTED, /* history gone: the watch has ended */
    ETCD_WATCH_CANCELED,  /* etcd ended the watch (error says why): it has ended */
} etcd_watch_kind_t;
typedef struct {
    int is_delete;   /* else a put */
    etcd_kv_t kv;    /* for a delete, the key and its mod_revision */
    etcd_kv_t prev;  /* with ETCD_PREV_KV, when there was one */
    int has_prev;
} etcd_event_t;
typedef struct {
    etcd_watch_kind_t kind;
    const etcd_event_t *events;
    size_t n_events;
    int64_t revision;  /* header.revision of the message */
    const char *error;
} etcd_watch_update_t;
typedef void (*etcd_watch_cb)(const etcd_watch_update_t *u, void *arg);

/* Watch key (or its prefix) from start_revision (0: from now). */
etcd_watch_t *etcd_watch(etcd_client_t *c, const char *key, unsigned flags,
                         int64_t start_revision, etcd_watch_cb cb, void *arg);
/* End a watch; its callback will not run again. Safe from inside its callback. */
void etcd_watch_cancel(etcd_watch_t *w);

/* Base64 as the gateway writes it (standard alphabet, padded). Both return a
 * malloc'd NUL-terminated string the caller frees; decode returns NULL on input
 * that is not base64 and sets *out_len (excluding the NUL). */
char *etcd_b64_encode(const void *data, size_t len);
char *etcd_b64_decode(const char *text, size_t len, size_t *out_len);
/* The end of the range of keys starting with prefix (its last byte below 0xff plus
 * one, later bytes dropped; "\0" when every byte is 0xff, meaning "to the end").
 * Writes *out_len; malloc'd. */
char *etcd_prefix_end(const char *prefix, size_t len, size_t *out_len);

#endif
