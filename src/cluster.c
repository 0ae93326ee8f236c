/* cluster.c - cluster mode: this node's lease and membership key, the claim of the
 * instances placement gives it, fencing when the lease cannot be renewed, the fleet
 * view. docs/cluster.md describes the keys and the guarantees.
 *
 * Everything runs on the supervisor's loop through the asynchronous etcd client. One
 * watch on the whole prefix keeps a copy of the nodes, owners, status and admin keys;
 * placement (placement.c) is computed again whenever they change. An instance that is
 * contested (cluster mode, not pinned) may start only while this node holds
 * <name>/owners/<instance> under its current lease and that lease is fresh: renewed
 * by a keepalive sent less than lease_ttl / 2 ago. When it is not fresh every
 * contested worker is fenced (stopped, still wanted), which the inventory's margin
 * check makes finish before the lease can expire on the server; only then can another
 * node see the owner key vanish and claim the instance.
 *
 * Longer than most files here, for now: membership, claims, fencing, credential
 * rotation and the fleet view share one copy of the etcd keys and one lease, and are
 * kept together until they settle; the etcd protocol (etcd.c) and placement
 * (placement.c) are already apart. */
#include "config.h"

#include "cluster.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "etcd.h"
#include "inv_cluster.h"
#include "log.h"
#include "placement.h"
#include "policy.h"
#include "provision.h"
#include "spawn.h"
#include "xalloc.h"

#define TICK_MS 100            /* renewals, fencing, releases, status */
#define RETRY_MS 1000          /* a failed grant or registration is tried again */
#define STATUS_MIN_MS 1000     /* status keys are written at most once a second */
#define JOIN_WAIT_MS 4000      /* cluster_start waits this long for a first answer */
#define ROTATE_RETRY_MIN_MS 1000  /* a failed rotation is tried again, doubling ... */
#define ROTATE_RETRY_MAX_MS 16000 /* ... up to this */
#define LOCK_RETRY_MS 500      /* the provisioning lock, held by another node */
/* At scale (thousands of instances) a burst of requests must not starve the lease
 * renewals that share the client: claims in flight and status writes per round are
 * capped (the rest go in the next rounds), and placement runs at most every
 * RECOMPUTE_MIN_MS however fast the watch delivers changes. */
#define CLAIM_BATCH 64        /* instances claimed in one transaction (etcd: 128 ops) */
#define CLAIMS_IN_FLIGHT 256   /* instances being claimed at once: 4 transactions */
#define STATUS_BATCH 100       /* status keys written in one transaction ... */
#define STATUS_PUTS_PER_ROUND 400 /* ... and at most this many a round (a second) */
#define RECOMPUTE_MIN_MS 250

/* A string map with a hash index (instances count in the thousands: placement looks
 * names up many times per run). Entries stay in an array (iteration, removal by
 * swapping the last in); ix holds entry index + 1 per slot, 0 for an empty slot. A
 * removal rebuilds the index, linear in the size, which is cheap next to a request. */
typedef struct { char *k, *v; long long lease; } kv_t;
typedef struct { kv_t *v; size_t n, cap; size_t *ix, ixcap; } smap_t;

static size_t sm_hash(const char *k)
{
    size_t h = 1469598103934665603ull;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211ull;
    return h;
}

static void sm_slot(smap_t *m, size_t i)
{
    size_t s = sm_hash(m->v[i].k) & (m->ixcap - 1);
    while (m->ix[s])
        s = (s + 1) & (m->ixcap - 1);
    m->ix[s] = i + 1;
}

static void sm_reindex(smap_t *m)
{
    size_t want = 32;
    while (want < 2 * (m->n + 1))
        want *= 2;
    if (want != m->ixcap) {
        free(m->ix);
        m->ix = xcalloc(want, sizeof(*m->ix));
        m->ixcap = want;
    } else {
        memset(m->ix, 0, m->ixcap * sizeof(*m->ix));
    }
    for (size_t i = 0; i < m->n; i++)
        sm_slot(m, i);
}

static kv_t *sm_find(const smap_t *m, const char *k)
{
    size_t s;

    if (!m->ixcap)
        return NULL;
    for (s = sm_hash(k) & (m->ixcap - 1); m->ix[s]; s = (s + 1) & (m->ixcap - 1))
        if (strcmp(m->v[m->ix[s] - 1].k, k) == 0)
            return &m->v[m->ix[s] - 1];
    return NULL;
}

static const char *sm_get(const smap_t *m, const char *k)
{
    kv_t *e = sm_find(m, k);
    return e ? e->v : NULL;
}

static void sm_set(smap_t *m, const char *k, const char *v, long long lease)
{
    kv_t *e = sm_find(m, k);

    if (!e) {
        if (m->n == m->cap) {
            m->cap = m->cap ? m->cap * 2 : 16;
            m->v = xreallocarray(m->v, m->cap, sizeof(*m->v));
        }
        e = &m->v[m->n++];
        e->k = xstrdup(k);
        e->v = NULL;
        if (2 * m->n > m->ixcap)
            sm_reindex(m);
        else
            sm_slot(m, m->n - 1);
    }
    free(e->v);
    e->v = xstrdup(v);
    e->lease = lease;
}

static void sm_del(smap_t *m, const char *k)
{
    kv_t *e = sm_find(m, k);

    if (!e)
        return;
    free(e->k);
    free(e->v);
    *e = m->v[--m->n];
    sm_reindex(m);
}

static void sm_clear(smap_t *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i].k);
        free(m->v[i].v);
    }
    m->n = 0;
    if (m->ix)
        memset(m->ix, 0, m->ixcap * sizeof(*m->ix));
}

static void sm_free(smap_t *m)
{
    sm_clear(m);
    free(m->v);
    free(m->ix);
    m->v = NULL;
    m->ix = NULL;
    m->cap = m->ixcap = 0;
}

typedef enum { PH_CONNECTING, PH_SETTLING, PH_READY, PH_REFUSED } phase_t;

struct cluster {
    supervisor_t *sup;
    etcd_client_t *etcd;
    char *name;                /* the cluster's name, as at the start */
    char *prefix;              /* "<name>/" */
    char *node;
    long ttl_ms;
    long settle_ms;
    char hash[17];
    phase_t phase;
    char conn[256];            /* "connected", "disconnected: why", ... */
    long long lease;           /* 0: none */
    int registered;            /* the node key exists under this lease */
    long long last_ok_ms;      /* send time of the last renewal (or grant) that held */
    long long ka_sent_ms;      /* send time of the last keepalive */
    etcd_req_t *reg;           /* grant or registration in flight */
    long long retry_at_ms;     /* next registration attempt */
    long long dup_deadline_ms; /* the node key is held: refuse past this */
    long long settle_until_ms;  /* settled once no node joined for settle_ms ... */
    long long settle_cap_ms;    /* ... or at the latest then */
    etcd_watch_t *watch;
    etcd_req_t *load;          /* the first range of the prefix */
    struct event *tick;
    struct event *recompute_ev;
    int fenced_logged;
    /* The copy of etcd's keys (names without the prefix part). */
    smap_t nodes;              /* node -> its JSON */
    smap_t gone;               /* node -> "" : seen, now gone */
    smap_t owners;             /* instance -> node (lease: the owner key's lease) */
    smap_t status;             /* instance -> JSON */
    smap_t drains;             /* node -> "" */
    smap_t moves;              /* instance -> node */
    smap_t lost;               /* instance -> the node that held it before it vanished */
    smap_t claiming;           /* instance -> "" : a claim is in flight */
    smap_t releasing;          /* instance -> target node: fenced, then let go */
    smap_t published;          /* instance -> the status JSON written last */
    long long last_publish_ms;
    long long recompute_ran_ms;  /* when placement last ran */
    long long last_recompute_ms; /* placement runs at least once a second: failed
                                  * claims are tried again */
    char reason[160];          /* may_start's answer (copied by the core at once) */
    /* New credentials at each claim (provision = true): instance -> "" waiting for a
     * run, "run" in the running one. Its start waits until the entry is gone. */
    smap_t rotating;
    pid_t rot_pid;             /* the rotation child, or 0 */
    int rot_fd;                /* read end of its error pipe, -1: none */
    long long rot_retry_at_ms;
    long rot_backoff_ms;
    char rot_err[200];         /* the last rotation's failure, for waiting_for */
    /* <name>/locks/provision for the provisioner's runs. */
    int lock_state;            /* 0 none, 1 wanted, 2 asked, 3 held */
    long long lock_lease;      /* the lease it is held under */
    long long lock_retry_at_ms;
    void (*lock_cb)(void *);
    void *lock_arg;
    /* metrics */
    unsigned long etcd_errors, failovers, rotations;
    double renew_latency_s;
    void **args;               /* claim arguments in flight, freed at the end */
    size_t nargs;
};

/* One process has one supervisor, hence at most one cluster: the status endpoint and
 * the control socket reach it through this. */
static cluster_t *the_cluster;

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int lease_fresh(const cluster_t *cl)
{
    return cl->lease && mono_ms() - cl->last_ok_ms < cl->ttl_ms / 2;
}

static int owned(const cluster_t *cl, const char *inst)
{
    kv_t *e = sm_find(&cl->owners, inst);
    return e && strcmp(e->v, cl->node) == 0 && e->lease == cl->lease && cl->lease;
}

static void note_error(cluster_t *cl, const char *what, const char *why)
{
    cl->etcd_errors++;
    if (strncmp(cl->conn, "disconnected", 12) != 0)
        log_warn("cluster: etcd unreachable", "during", what, "error", why);
    snprintf(cl->conn, sizeof(cl->conn), "disconnected: %s: %.200s", what, why);
}

static void schedule_recompute(cluster_t *cl)
{
    long long wait = cl->recompute_ran_ms + RECOMPUTE_MIN_MS - mono_ms();

    if (evtimer_pending(cl->recompute_ev, NULL))
        return;
    if (wait <= 0) {
        event_active(cl->recompute_ev, EV_TIMEOUT, 1);
    } else {
        struct timeval tv = { wait / 1000, (wait % 1000) * 1000 };
        evtimer_add(cl->recompute_ev, &tv);
    }
}

/* ---- the copy of etcd's keys ------------------------------------------------------ */

/* Apply one key (put: value; delete: value NULL) to the copy. */
static void apply_key(cluster_t *cl, const char *key, const char *value, long long lease)
{
    size_t plen = strlen(cl->prefix);
    const char *k;

    if (strncmp(key, cl->prefix, plen) != 0)
        return;
    k = key + plen;
    if (strncmp(k, "nodes/", 6) == 0) {
        if (value) {
            if (!sm_get(&cl->nodes, k + 6) && cl->phase == PH_SETTLING) {
                /* A node joined: membership has not settled yet. */
                long long until = mono_ms() + cl->settle_ms;
                cl->settle_until_ms = until < cl->settle_cap_ms ? until : cl->settle_cap_ms;
            }
            sm_set(&cl->nodes, k + 6, value, lease);
            sm_del(&cl->gone, k + 6);
        } else {
            sm_del(&cl->nodes, k + 6);
            sm_set(&cl->gone, k + 6, "", 0);
        }
    } else if (strncmp(k, "owners/", 7) == 0) {
        const char *old = sm_get(&cl->owners, k + 7);
        if (value) {
            sm_set(&cl->owners, k + 7, value, lease);
        } else {
            if (old)
                sm_set(&cl->lost, k + 7, old, 0);
            sm_del(&cl->owners, k + 7);
        }
    } else if (strncmp(k, "status/", 7) == 0) {
        if (value)
            sm_set(&cl->status, k + 7, value, lease);
        else
            sm_del(&cl->status, k + 7);
    } else if (strncmp(k, "admin/drain/", 12) == 0) {
        if (value)
            sm_set(&cl->drains, k + 12, "", 0);
        else
            sm_del(&cl->drains, k + 12);
    } else if (strncmp(k, "admin/move/", 11) == 0) {
        if (value)
            sm_set(&cl->moves, k + 11, value, 0);
        else
            sm_del(&cl->moves, k + 11);
    }
}

static void watch_cb(const etcd_watch_update_t *u, void *arg);
static void start_watch(cluster_t *cl, long long rev);

static void load_cb(const etcd_result_t *r, void *arg)
{
    cluster_t *cl = arg;

    cl->load = NULL;
    if (!r->ok) {
        note_error(cl, "reading the cluster keys", r->error);
        cl->retry_at_ms = mono_ms() + RETRY_MS; /* the tick loads again */
        return;
    }
    sm_clear(&cl->nodes);
    sm_clear(&cl->owners);
    sm_clear(&cl->status);
    sm_clear(&cl->drains);
    sm_clear(&cl->moves);
    for (size_t i = 0; i < r->n_kvs; i++)
        apply_key(cl, r->kvs[i].key, r->kvs[i].value, r->kvs[i].lease);
    start_watch(cl, r->revision + 1);
    schedule_recompute(cl);
}

static void load_all(cluster_t *cl)
{
    if (cl->load || cl->watch)
        return;
    cl->load = etcd_range(cl->etcd, cl->prefix, ETCD_PREFIX, load_cb, cl);
}

static void start_watch(cluster_t *cl, long long rev)
{
    if (cl->watch)
        etcd_watch_cancel(cl->watch);
    cl->watch = etcd_watch(cl->etcd, cl->prefix, ETCD_PREFIX | ETCD_PREV_KV, rev, watch_cb, cl);
}

static void watch_cb(const etcd_watch_update_t *u, void *arg)
{
    cluster_t *cl = arg;

    switch (u->kind) {
    case ETCD_WATCH_CREATED:
        break;
    case ETCD_WATCH_EVENTS:
        for (size_t i = 0; i < u->n_events; i++) {
            const etcd_event_t *e = &u->events[i];
            apply_key(cl, e->kv.key, e->is_delete ? NULL : e->kv.value, e->kv.lease);
        }
        schedule_recompute(cl);
        break;
    case ETCD_WATCH_BROKEN:
        cl->etcd_errors++;
        break;
    case ETCD_WATCH_COMPACTED:
    case ETCD_WATCH_CANCELED:
        /* It has ended: read everything again and watch anew. */
        cl->watch = NULL;
        load_all(cl);
        break;
    }
}

/* ---- membership ----------------------------------------------------------------- */

static char *node_value(cluster_t *cl)
{
    json_t *o = json_object();
    char *s;

    json_object_set_new(o, "version", json_string(PACKAGE_VERSION));
    json_object_set_new(o, "inventory_hash", json_string(cl->hash));
    json_object_set_new(o, "status", json_string(cl->sup->inv->status_listen
                                                     ? cl->sup->inv->status_listen : ""));
    json_object_set_new(o, "pid", json_integer(getpid()));
    s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static void grant(cluster_t *cl);

static void register_cb(const etcd_result_t *r, void *arg)
{
    cluster_t *cl = arg;
    long long now = mono_ms();

    cl->reg = NULL;
    if (!r->ok) {
        note_error(cl, "registering the node", r->error);
        cl->retry_at_ms = now + RETRY_MS;
        return;
    }
    if (!r->succeeded && !(r->n_kvs == 1 && r->kvs[0].lease == cl->lease)) {
        /* Held: by a live process with our name, or by our own predecessor whose lease
         * has not run out yet. Wait out one lease before refusing. */
        if (!cl->dup_deadline_ms)
            cl->dup_deadline_ms = now + cl->ttl_ms + 1000;
        if (now >= cl->dup_deadline_ms) {
            cl->phase = PH_REFUSED;
            snprintf(cl->conn, sizeof(cl->conn), "refused: node name \"%s\" is held by "
                     "another live instanced in cluster \"%s\"", cl->node, cl->name);
            log_error("cluster: another live instanced holds this node name: stopping",
                      "node", cl->node, "cluster", cl->name);
            return;
        }
        snprintf(cl->conn, sizeof(cl->conn), "joining: node name \"%s\" still held, "
                 "waiting for its lease to run out", cl->node);
        cl->retry_at_ms = now + 500;
        return;
    }
    cl->dup_deadline_ms = 0;
    cl->registered = 1;
    snprintf(cl->conn, sizeof(cl->conn), "connected");
    log_info("cluster: joined", "cluster", cl->name, "node", cl->node, "lease",
             LOG_INT(cl->lease), "endpoint", r->endpoint ? r->endpoint : "");
    if (cl->phase == PH_CONNECTING) {
        cl->phase = PH_SETTLING;
        cl->settle_until_ms = now + cl->settle_ms;
        cl->settle_cap_ms = now + 10 * cl->settle_ms;
    }
    load_all(cl);
}

static void do_register(cluster_t *cl)
{
    char *key = xasprintf("%snodes/%s", cl->prefix, cl->node), *val = node_value(cl);

    cl->reg = etcd_create(cl->etcd, key, val, cl->lease, register_cb, cl);
    free(key);
    free(val);
}

static void grant_cb(const etcd_result_t *r, void *arg)
{
    cluster_t *cl = arg;

    cl->reg = NULL;
    if (!r->ok || r->lease_id == 0) {
        note_error(cl, "granting the lease", r->ok ? "no lease in the answer" : r->error);
        cl->retry_at_ms = mono_ms() + RETRY_MS;
        return;
    }
    cl->lease = r->lease_id;
    /* last_ok_ms was set when the grant was sent. */
    do_register(cl);
}

static void grant(cluster_t *cl)
{
    cl->last_ok_ms = mono_ms();
    cl->lease = 0;
    cl->registered = 0;
    cl->reg = etcd_lease_grant(cl->etcd, cl->ttl_ms / 1000, grant_cb, cl);
}

typedef struct ka_arg { cluster_t *cl; long long sent_ms, lease; } ka_arg_t;

static void forget_arg(cluster_t *cl, void *a);

static void keepalive_cb(const etcd_result_t *r, void *arg)
{
    ka_arg_t *ka = arg;
    cluster_t *cl = ka->cl;
    long long sent = ka->sent_ms, lease = ka->lease;

    forget_arg(cl, ka);
    if (lease != cl->lease)
        return; /* a renewal of a lease given up since */
    if (!r->ok) {
        note_error(cl, "renewing the lease", r->error);
        return;
    }
    if (r->ttl <= 0) {
        /* Expired on the server: everything under it is gone. Fence, start over. */
        log_error("cluster: lease expired: fencing contested instances and joining again",
                  "lease", LOG_INT(cl->lease));
        cl->lease = 0;
        cl->registered = 0;
        snprintf(cl->conn, sizeof(cl->conn), "disconnected: the lease expired");
        cl->retry_at_ms = mono_ms();
        return;
    }
    cl->renew_latency_s = (double)(mono_ms() - sent) / 1000.0;
    if (sent > cl->last_ok_ms)
        cl->last_ok_ms = sent;
    if (strncmp(cl->conn, "connected", 9) != 0 && cl->phase != PH_REFUSED) {
        log_info("cluster: etcd reachable again");
        snprintf(cl->conn, sizeof(cl->conn), "connected");
    }
    if (!cl->watch && !cl->load)
        load_all(cl);
}

/* ---- ownership ------------------------------------------------------------------ */

typedef struct claim { cluster_t *cl; char name[]; } claim_t;
typedef struct claims { cluster_t *cl; size_t n; char *names[]; } claims_t;

static void forget_arg(cluster_t *cl, void *a)
{
    for (size_t i = 0; i < cl->nargs; i++)
        if (cl->args[i] == a) {
            cl->args[i] = cl->args[--cl->nargs];
            break;
        }
    free(a);
}

static void keep_arg(cluster_t *cl, void *a)
{
    cl->args = xreallocarray(cl->args, cl->nargs + 1, sizeof(void *));
    cl->args[cl->nargs++] = a;
}

/* name's owner key is ours now. */
static void claimed(cluster_t *cl, const char *name)
{
    const char *before = sm_get(&cl->lost, name);

    /* A failover when its node is gone (its lease expired or was revoked: the node key
     * went with the owner key); a drain or move is no failover. */
    if (before && strcmp(before, cl->node) != 0 && !sm_get(&cl->nodes, before)) {
        cl->failovers++;
        log_warn("cluster: failover: instance taken over", "instance", name, "from", before,
                 "node", cl->node);
    } else {
        log_info("cluster: instance claimed", "instance", name, "node", cl->node);
    }
    sm_del(&cl->lost, name);
    sm_set(&cl->owners, name, cl->node, cl->lease);
    /* Whoever ran it before (a node gone, partitioned, or draining) knows its
     * passwords: set new ones before it starts here. */
    if (cl->sup->inv->provision)
        sm_set(&cl->rotating, name, "", 0);
    /* A move that brought it here is done. */
    if (sm_get(&cl->moves, name) && strcmp(sm_get(&cl->moves, name), cl->node) == 0) {
        char *k = xasprintf("%sadmin/move/%s", cl->prefix, name);
        etcd_delete(cl->etcd, k, 0, NULL, NULL);
        free(k);
    }
}

static void claim_cb(const etcd_result_t *r, void *arg)
{
    claim_t *c = arg;
    cluster_t *cl = c->cl;

    sm_del(&cl->claiming, c->name);
    schedule_recompute(cl); /* claims wait their turn (CLAIMS_IN_FLIGHT) */
    if (!r->ok) {
        note_error(cl, "claiming an instance", r->error);
    } else if (r->succeeded || (r->n_kvs == 1 && r->kvs[0].lease == cl->lease)) {
        claimed(cl, c->name);
        sup_wake_waiting(cl->sup);
    }
    forget_arg(cl, c);
}

/* Claim one instance: create its owner key if absent, under this node's lease (a
 * retried request that finds the key under this lease has it too). */
static void claim(cluster_t *cl, const char *name)
{
    claim_t *c = xmalloc(sizeof(*c) + strlen(name) + 1);
    char *key = xasprintf("%sowners/%s", cl->prefix, name);

    c->cl = cl;
    strcpy(c->name, name);
    keep_arg(cl, c);
    sm_set(&cl->claiming, name, "", 0);
    if (!etcd_create(cl->etcd, key, cl->node, cl->lease, claim_cb, c)) {
        sm_del(&cl->claiming, name);
        forget_arg(cl, c);
    }
    free(key);
}

static void claims_cb(const etcd_result_t *r, void *arg)
{
    claims_t *c = arg;
    cluster_t *cl = c->cl;

    for (size_t i = 0; i < c->n; i++)
        sm_del(&cl->claiming, c->names[i]);
    schedule_recompute(cl);
    if (!r->ok) {
        note_error(cl, "claiming instances", r->error);
    } else if (r->succeeded) {
        for (size_t i = 0; i < c->n; i++)
            claimed(cl, c->names[i]);
        sup_wake_waiting(cl->sup);
    } else {
        /* Some key existed (another node was faster, or a retry of this very
         * transaction had gone through): each on its own, which tells which. */
        for (size_t i = 0; i < c->n; i++)
            claim(cl, c->names[i]);
    }
    forget_arg(cl, c);
}

/* Claim names[0..n) in one transaction: all owner keys created if none exists. */
static void claim_many(cluster_t *cl, const char *const *names, size_t n)
{
    claims_t *c;
    etcd_compare_t *cmp;
    etcd_op_t *put;

    if (n == 1) {
        claim(cl, names[0]);
        return;
    }
    size_t text = 0;
    char *at;

    for (size_t i = 0; i < n; i++)
        text += strlen(names[i]) + 1;
    /* One block: the pointers, then the names they point to. */
    c = xmalloc(sizeof(*c) + n * sizeof(char *) + text);
    at = (char *)&c->names[n];
    cmp = xcalloc(n, sizeof(*cmp));
    put = xcalloc(n, sizeof(*put));
    c->cl = cl;
    c->n = n;
    for (size_t i = 0; i < n; i++) {
        c->names[i] = strcpy(at, names[i]);
        at += strlen(at) + 1;
        sm_set(&cl->claiming, names[i], "", 0);
        cmp[i] = (etcd_compare_t){ xasprintf("%sowners/%s", cl->prefix, names[i]), ETCD_EQUAL,
                                   ETCD_TARGET_CREATE, 0, NULL };
        put[i] = (etcd_op_t){ ETCD_OP_PUT, cmp[i].key, cl->node, cl->lease, 0 };
    }
    keep_arg(cl, c);
    if (!etcd_txn(cl->etcd, cmp, n, put, n, NULL, 0, claims_cb, c)) {
        for (size_t i = 0; i < n; i++)
            sm_del(&cl->claiming, c->names[i]);
        forget_arg(cl, c);
    }
    for (size_t i = 0; i < n; i++)
        free((char *)cmp[i].key);
    free(cmp);
    free(put);
}

/* Let go of an instance being released once its worker is gone: delete the owner key
 * if it is still ours (under our lease). */
static void release_done(cluster_t *cl, const char *name)
{
    char *key = xasprintf("%sowners/%s", cl->prefix, name);
    etcd_compare_t cmp = { key, ETCD_EQUAL, ETCD_TARGET_LEASE, cl->lease, NULL };
    etcd_op_t del = { ETCD_OP_DELETE, key, NULL, 0, 0 };

    log_info("cluster: instance released", "instance", name, "to",
             sm_get(&cl->releasing, name) ? sm_get(&cl->releasing, name) : "");
    etcd_txn(cl->etcd, &cmp, 1, &del, 1, NULL, 0, NULL, NULL);
    sm_del(&cl->owners, name); /* no start here meanwhile */
    sm_del(&cl->releasing, name);
    free(key);
}

/* 1 while a worker of this node that depends on name is alive and leaves too
 * (drain, move, rebalance): dependents stop first, as at shutdown. */
static int leaving_dependent(cluster_t *cl, const char *name)
{
    supervisor_t *sup = cl->sup;

    for (size_t i = 0; i < sup->ninst; i++) {
        const sup_instance_t *o = sup->inst[i];
        if (o->pid <= 0 || !sm_get(&cl->releasing, o->name))
            continue;
        for (size_t k = 0; k < o->cfg->ndeps; k++)
            if (strcmp(o->cfg->depends_on[k], name) == 0)
                return 1;
    }
    return 0;
}

/* Stop the workers being released, each once no dependent leaving with it runs. */
static void release_fence(cluster_t *cl)
{
    for (size_t i = 0; i < cl->releasing.n; i++) {
        sup_instance_t *in = sup_find(cl->sup, cl->releasing.v[i].k);
        if (in && in->pid > 0 && in->state != SUP_STOPPING &&
            !leaving_dependent(cl, in->name))
            sup_fence(cl->sup, in, "cluster: moving to another node");
    }
}

/* Whether a node's key (its JSON) names the inventory hash this node has. */
static int same_inventory(const cluster_t *cl, const char *node_json)
{
    json_t *v = node_json ? json_loads(node_json, 0, NULL) : NULL;
    const char *h = v ? json_string_value(json_object_get(v, "inventory_hash")) : NULL;
    int same = h && strcmp(h, cl->hash) == 0;

    json_decref(v);
    return same;
}

static void recompute(cluster_t *cl)
{
    supervisor_t *sup = cl->sup;
    const inventory_t *inv = sup->inv;
    plc_instance_t *pi;
    plc_node_t *pn;
    const char **out;
    sup_instance_t **ins; /* pi[k]'s entry: no name lookup per instance */
    const char **batch;   /* instances to claim in the next transaction */
    size_t n = 0, nn = cl->nodes.n, nbatch = 0;

    if (cl->phase != PH_READY || !lease_fresh(cl)) {
        /* Another node's instance may have become ready (status keys): dependents
         * here look again. */
        sup_wake_waiting(sup);
        return;
    }
    pi = xcalloc(sup->ninst + 1, sizeof(*pi));
    ins = xcalloc(sup->ninst + 1, sizeof(*ins));
    out = xcalloc(sup->ninst + 1, sizeof(*out));
    pn = xcalloc(nn + 1, sizeof(*pn));
    for (size_t i = 0, k = 0; i < nn; i++) {
        /* A node whose inventory differs from this one's may lack an instance this
         * one has (and would never claim it): placement here counts only the nodes
         * with the same inventory. Owned instances stay where they are; an unowned
         * one goes to whichever node claims it first. */
        if (strcmp(cl->nodes.v[i].k, cl->node) != 0 && !same_inventory(cl, cl->nodes.v[i].v))
            continue;
        pn[k].name = cl->nodes.v[i].k;
        pn[k].drained = sm_get(&cl->drains, pn[k].name) != NULL;
        k++;
    }
    for (size_t i = 0; i < sup->ninst; i++) {
        const inv_instance_t *ic = sup->inst[i]->cfg;
        const inv_place_t *p = invc_place(inv, ic);
        const char *owner = sm_get(&cl->owners, ic->name);
        const char *move = sm_get(&cl->moves, ic->name);

        if (p->pin)
            continue;
        pi[n].name = ic->name;
        pi[n].service = ic->service ? ic->service->name : NULL;
        pi[n].allowed = (const char *const *)p->nodes;
        pi[n].n_allowed = p->nnodes;
        pi[n].spread = p->spread;
        pi[n].owner = owner && sm_get(&cl->nodes, owner) ? owner : NULL;
        /* A move is a pin until the target has it (then the admin key goes). */
        pi[n].pin = move && sm_get(&cl->nodes, move) ? move : NULL;
        ins[n] = sup->inst[i];
        n++;
    }
    plc_place(pi, n, pn, nn, out);
    batch = xcalloc(CLAIM_BATCH, sizeof(*batch));
    for (size_t i = 0; i < n; i++) {
        const char *name = pi[i].name, *owner = sm_get(&cl->owners, name);
        sup_instance_t *in = ins[i];

        if (owned(cl, name)) {
            if (out[i] && strcmp(out[i], cl->node) != 0 && !sm_get(&cl->releasing, name)) {
                /* Fenced by release_fence, after the dependents leaving with it. */
                log_info("cluster: moving instance", "instance", name, "to", out[i]);
                sm_set(&cl->releasing, name, out[i], 0);
            } else if (!out[i] || strcmp(out[i], cl->node) == 0) {
                sm_del(&cl->releasing, name);
            }
        } else if (!owner && out[i] && strcmp(out[i], cl->node) == 0 &&
                   cl->claiming.n + nbatch < CLAIMS_IN_FLIGHT && !sm_get(&cl->claiming, name)) {
            batch[nbatch++] = name;
            if (nbatch == CLAIM_BATCH) {
                claim_many(cl, batch, nbatch);
                nbatch = 0;
            }
        }
        if (in && in->pid > 0 && !owned(cl, name))
            sup_fence(sup, in, "cluster: owned by another node");
    }
    if (nbatch)
        claim_many(cl, batch, nbatch);
    free(batch);
    free(pi);
    free(ins);
    free(pn);
    free(out);
    release_fence(cl);
    sup_wake_waiting(sup);
}

static void recompute_cb(evutil_socket_t fd, short what, void *arg)
{
    cluster_t *cl = arg;

    (void)fd, (void)what;
    cl->recompute_ran_ms = mono_ms();
    recompute(cl);
}

/* ---- the fleet view's keys ------------------------------------------------------ */

static int runs_here(const cluster_t *cl, const sup_instance_t *in)
{
    const inv_place_t *p = invc_place(cl->sup->inv, in->cfg);
    return p->pin ? strcmp(p->pin, cl->node) == 0 : owned(cl, in->name);
}

/* Write ops[0..*n) in one transaction (no compare: it always applies) and free them. */
static void publish_flush(cluster_t *cl, etcd_op_t *ops, size_t *n)
{
    if (*n == 1)
        etcd_put(cl->etcd, ops[0].key, ops[0].value, cl->lease, NULL, NULL);
    else if (*n > 1)
        etcd_txn(cl->etcd, NULL, 0, ops, *n, NULL, 0, NULL, NULL);
    for (size_t i = 0; i < *n; i++)
        free((char *)ops[i].key);
    *n = 0;
}

/* Status keys of the instances that run here and changed since they were last
 * written, STATUS_BATCH to a transaction, at most STATUS_PUTS_PER_ROUND a round. */
static void publish(cluster_t *cl, long long now)
{
    supervisor_t *sup = cl->sup;
    size_t puts = 0, n = 0;
    etcd_op_t ops[STATUS_BATCH];

    if (now - cl->last_publish_ms < STATUS_MIN_MS || !lease_fresh(cl) || cl->phase != PH_READY)
        return;
    cl->last_publish_ms = now;
    for (size_t i = 0; i < sup->ninst && puts < STATUS_PUTS_PER_ROUND; i++) {
        sup_instance_t *in = sup->inst[i];
        const char *old = sm_get(&cl->published, in->name);
        char *v;
        json_t *o;

        if (!runs_here(cl, in))
            continue;
        o = json_pack("{s:s, s:s, s:s, s:I}", "node", cl->node, "state",
                      sup_state_name(in->state), "health", health_status_name(in->health.status),
                      "pid", (json_int_t)in->pid);
        v = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(o);
        if (!old || strcmp(old, v) != 0) {
            sm_set(&cl->published, in->name, v, 0);
            ops[n++] = (etcd_op_t){ ETCD_OP_PUT, xasprintf("%sstatus/%s", cl->prefix, in->name),
                                    sm_get(&cl->published, in->name), cl->lease, 0 };
            puts++;
            if (n == STATUS_BATCH)
                publish_flush(cl, ops, &n);
        }
        free(v);
    }
    publish_flush(cl, ops, &n);
}

/* ---- new credentials at each claim ---------------------------------------------- *
 *
 * With provision = true, an instance claimed here gets fresh passwords for its
 * PostgreSQL role and Redis ACL user, and the role's other sessions and the user's
 * clients are ended, before it may start: a copy left running on a node cut off from
 * etcd loses its database access. The work is blocking (libpq, hiredis), so it runs
 * in a child process, one at a time for every instance claimed meanwhile, and writes
 * this node's credential files (the passwords never leave the node, etcd sees none).
 * The child is reaped through the reaped hook. */

static void rotation_start(cluster_t *cl, long long now)
{
    const char **names;
    size_t n = 0;
    int fds[2];
    pid_t pid;

    if (cl->rot_pid || now < cl->rot_retry_at_ms || cl->sup->shutting_down)
        return;
    names = xcalloc(cl->rotating.n + 1, sizeof(*names));
    for (size_t i = 0; i < cl->rotating.n;) {
        kv_t *e = &cl->rotating.v[i];
        if (!owned(cl, e->k)) {
            sm_del(&cl->rotating, e->k); /* lost meanwhile: its next claim asks again */
            continue;
        }
        free(e->v);
        e->v = xstrdup("run");
        names[n++] = e->k;
        i++;
    }
    if (n == 0 || pipe2(fds, O_CLOEXEC) < 0) {
        free(names);
        return;
    }
    pid = spawn_helper(fds[1]); /* it closes every other descriptor */
    if (pid == 0) {
        char err[512] = "";
        close(fds[0]);
        if (prov_apply_only(cl->sup->inv, PROV_ROTATE | PROV_END_SESSIONS | PROV_CLUSTER, names,
                            err, sizeof(err)) == 0)
            _exit(0);
        if (write(fds[1], err, strlen(err)) < 0)
            _exit(2);
        _exit(1);
    }
    close(fds[1]);
    free(names);
    if (pid < 0) {
        close(fds[0]);
        for (size_t i = 0; i < cl->rotating.n; i++) {
            free(cl->rotating.v[i].v);
            cl->rotating.v[i].v = xstrdup("");
        }
        cl->rot_retry_at_ms = now + ROTATE_RETRY_MIN_MS;
        return;
    }
    cl->rot_pid = pid;
    cl->rot_fd = fds[0];
    log_info("cluster: setting new credentials", "instances", LOG_INT(n), "pid", LOG_INT(pid));
}

static int reaped(void *ctx, supervisor_t *sup, pid_t pid, int status)
{
    cluster_t *cl = ctx;
    char err[200];
    ssize_t got;
    size_t done = 0;

    if (!cl->rot_pid || pid != cl->rot_pid)
        return 0;
    got = read(cl->rot_fd, err, sizeof(err) - 1);
    err[got > 0 ? got : 0] = '\0';
    close(cl->rot_fd);
    cl->rot_fd = -1;
    cl->rot_pid = 0;
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) && !err[0])
        pol_describe_exit(status, err, sizeof(err));
    for (size_t i = 0; i < cl->rotating.n;) {
        kv_t *e = &cl->rotating.v[i];
        if (strcmp(e->v, "run") != 0) {
            i++;
        } else if (!err[0]) {
            sm_del(&cl->rotating, e->k);
            done++;
        } else {
            free(e->v);
            e->v = xstrdup(""); /* the whole batch again: a rotation can be repeated */
            i++;
        }
    }
    if (!err[0]) {
        cl->rotations += done;
        cl->rot_backoff_ms = 0;
        cl->rot_err[0] = '\0';
        log_info("cluster: new credentials set", "instances", LOG_INT(done));
    } else {
        cl->rot_backoff_ms = cl->rot_backoff_ms ? cl->rot_backoff_ms * 2 : ROTATE_RETRY_MIN_MS;
        if (cl->rot_backoff_ms > ROTATE_RETRY_MAX_MS)
            cl->rot_backoff_ms = ROTATE_RETRY_MAX_MS;
        cl->rot_retry_at_ms = mono_ms() + cl->rot_backoff_ms;
        snprintf(cl->rot_err, sizeof(cl->rot_err), "%s", err);
        log_error("cluster: setting new credentials failed, will retry", "error", err,
                  "retry_in_ms", LOG_INT(cl->rot_backoff_ms));
    }
    sup_wake_waiting(sup);
    return 1;
}

static int busy(void *ctx, supervisor_t *sup)
{
    (void)sup;
    return ((cluster_t *)ctx)->rot_pid != 0;
}

/* ---- the provisioning lock -------------------------------------------------------- *
 *
 * <name>/locks/provision: created if absent under the holder's lease, so a node that
 * dies lets it go with its lease. The provisioner asks for it before each run. */

static void lock_cb(const etcd_result_t *r, void *arg)
{
    cluster_t *cl = arg;
    long long lease = cl->lock_lease;

    if (cl->lock_state != 2)
        return; /* given up meanwhile */
    if (r->ok && (r->succeeded || (r->n_kvs == 1 && r->kvs[0].lease == lease)) &&
        lease == cl->lease) {
        void (*cb)(void *) = cl->lock_cb;
        cl->lock_state = 3;
        log_info("cluster: provisioning lock taken", "node", cl->node);
        if (cb)
            cb(cl->lock_arg);
        return;
    }
    if (!r->ok)
        note_error(cl, "taking the provisioning lock", r->error);
    else if (r->n_kvs == 1)
        log_info("cluster: provisioning lock held by another node, waiting", "holder",
                 r->kvs[0].value ? r->kvs[0].value : "");
    cl->lock_state = 1;
    cl->lock_retry_at_ms = mono_ms() + LOCK_RETRY_MS;
}

static void lock_tick(cluster_t *cl, long long now)
{
    char *key;

    if (cl->lock_state != 1 || now < cl->lock_retry_at_ms || !cl->registered ||
        !lease_fresh(cl))
        return;
    key = xasprintf("%slocks/provision", cl->prefix);
    cl->lock_state = 2;
    cl->lock_lease = cl->lease;
    if (!etcd_create(cl->etcd, key, cl->node, cl->lease, lock_cb, cl)) {
        cl->lock_state = 1;
        cl->lock_retry_at_ms = now + LOCK_RETRY_MS;
    }
    free(key);
}

int cluster_lock_provision(void (*cb)(void *arg), void *arg)
{
    cluster_t *cl = the_cluster;

    if (!cl)
        return 0;
    cl->lock_cb = cb;
    cl->lock_arg = arg;
    if (cl->lock_state == 0) {
        cl->lock_state = 1;
        cl->lock_retry_at_ms = 0;
    }
    lock_tick(cl, mono_ms());
    return 1;
}

void cluster_unlock_provision(void)
{
    cluster_t *cl = the_cluster;
    char *key;

    if (!cl)
        return;
    cl->lock_cb = NULL;
    cl->lock_arg = NULL;
    if (cl->lock_state >= 2 && cl->lock_lease) {
        /* Only while it is still ours: a create in flight may land after this. */
        etcd_compare_t cmp;
        etcd_op_t del;
        key = xasprintf("%slocks/provision", cl->prefix);
        cmp = (etcd_compare_t){ key, ETCD_EQUAL, ETCD_TARGET_LEASE, cl->lock_lease, NULL };
        del = (etcd_op_t){ ETCD_OP_DELETE, key, NULL, 0, 0 };
        etcd_txn(cl->etcd, &cmp, 1, &del, 1, NULL, 0, NULL, NULL);
        free(key);
        if (cl->lock_state == 3)
            log_info("cluster: provisioning lock released", "node", cl->node);
    }
    cl->lock_state = 0;
}

int cluster_mode(void)
{
    return the_cluster != NULL;
}

/* ---- the tick: renewals, fencing, releases -------------------------------------- */

static void fence_all(cluster_t *cl, const char *why)
{
    supervisor_t *sup = cl->sup;

    for (size_t i = 0; i < sup->ninst; i++) {
        sup_instance_t *in = sup->inst[i];
        if (!invc_place(sup->inv, in->cfg)->pin && in->pid > 0)
            sup_fence(sup, in, why);
    }
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    cluster_t *cl = arg;
    long long now = mono_ms();

    (void)fd, (void)what;
    if (cl->phase == PH_REFUSED) {
        fence_all(cl, "cluster: node name held by another process");
        if (!cl->sup->shutting_down)
            sup_begin_shutdown(cl->sup, "cluster: node name held by another process");
        return;
    }
    if (cl->sup->shutting_down)
        return;
    /* The margin: not renewed for lease_ttl / 2 -> every contested worker goes. */
    if (!lease_fresh(cl)) {
        if (!cl->fenced_logged) {
            log_error("cluster: lease not renewed in time: fencing contested instances",
                      "ttl_ms", LOG_INT(cl->ttl_ms), "reason", cl->conn);
            cl->fenced_logged = 1;
        }
        fence_all(cl, "cluster: lease not renewed");
        sm_clear(&cl->releasing);
    } else if (cl->fenced_logged) {
        cl->fenced_logged = 0;
        schedule_recompute(cl);
    }
    if (!cl->lease && !cl->reg && now >= cl->retry_at_ms) {
        if (cl->watch) {
            etcd_watch_cancel(cl->watch);
            cl->watch = NULL;
        }
        grant(cl);
    } else if (cl->lease && !cl->registered && !cl->reg && now >= cl->retry_at_ms) {
        do_register(cl); /* a failed registration, or the name still held */
    }
    /* Renewals every lease_ttl / 6, each on its own: a slow or lost one does not hold
     * the next, so two or three get a chance before the lease_ttl / 2 deadline. */
    if (cl->lease && cl->registered && now - cl->ka_sent_ms >= cl->ttl_ms / 6) {
        ka_arg_t *ka = xmalloc(sizeof(*ka));
        *ka = (ka_arg_t){ cl, now, cl->lease };
        keep_arg(cl, ka);
        cl->ka_sent_ms = now;
        if (!etcd_lease_keepalive(cl->etcd, cl->lease, keepalive_cb, ka))
            forget_arg(cl, ka);
    }
    if (cl->lease && cl->registered && !cl->watch && !cl->load && now >= cl->retry_at_ms)
        load_all(cl);
    if (cl->phase == PH_SETTLING && now >= cl->settle_until_ms) {
        cl->phase = PH_READY;
        log_info("cluster: membership settled", "nodes", LOG_INT(cl->nodes.n));
        schedule_recompute(cl);
    }
    release_fence(cl);
    for (size_t i = 0; i < cl->releasing.n;) {
        sup_instance_t *in = sup_find(cl->sup, cl->releasing.v[i].k);
        if (!in || in->pid == 0) {
            release_done(cl, cl->releasing.v[i].k); /* removes entry i */
            continue;
        }
        i++;
    }
    if (cl->rotating.n)
        rotation_start(cl, now);
    lock_tick(cl, now);
    if (cl->phase == PH_READY && now - cl->last_recompute_ms >= 1000) {
        cl->last_recompute_ms = now;
        schedule_recompute(cl);
    }
    publish(cl, now);
}

/* ---- hooks ---------------------------------------------------------------------- */

static const char *may_start(void *ctx, supervisor_t *sup, sup_instance_t *in)
{
    cluster_t *cl = ctx;
    const inv_place_t *p;
    const char *owner;

    /* Even if a reload took the cluster section away, contested stays contested
     * until a restart (no instance may suddenly run on every node). */
    p = invc_place(sup->inv, in->cfg);
    if (p->pin) {
        if (strcmp(p->pin, cl->node) == 0)
            return NULL;
        snprintf(cl->reason, sizeof(cl->reason), "cluster: pinned to node %.60s", p->pin);
        return cl->reason;
    }
    if (p->nnodes) {
        int ok = 0;
        for (size_t k = 0; k < p->nnodes; k++)
            ok |= strcmp(p->nodes[k], cl->node) == 0;
        if (!ok)
            return "cluster: not allowed on this node";
    }
    if (cl->phase == PH_REFUSED)
        return "cluster: refused";
    if (!lease_fresh(cl))
        return "cluster: disconnected";
    if (sm_get(&cl->releasing, in->name))
        return "cluster: moving to another node";
    if (owned(cl, in->name)) {
        if (!sm_get(&cl->rotating, in->name))
            return NULL;
        if (cl->rot_err[0]) {
            snprintf(cl->reason, sizeof(cl->reason), "cluster: setting new credentials: %.120s",
                     cl->rot_err);
            return cl->reason;
        }
        return "cluster: setting new credentials";
    }
    owner = sm_get(&cl->owners, in->name);
    if (owner) {
        snprintf(cl->reason, sizeof(cl->reason), "cluster: owned by node %.60s", owner);
        return cl->reason;
    }
    return cl->phase == PH_READY ? "cluster: placed on another node"
                                 : "cluster: settling membership";
}

static void reloaded(void *ctx, supervisor_t *sup)
{
    cluster_t *cl = ctx;
    const inv_cluster_t *c = sup->inv->cluster;

    /* The connection, the prefix and the node name stay those of the start. */
    if (!c || !c->enabled || strcmp(c->node, cl->node) != 0 ||
        strcmp(cl->name, c->name) != 0)
        log_warn("cluster: the cluster section changed: restart instanced to apply it");
    if (c && strcmp(c->hash, cl->hash) != 0) {
        char *key = xasprintf("%snodes/%s", cl->prefix, cl->node), *val;
        memcpy(cl->hash, c->hash, sizeof(cl->hash));
        val = node_value(cl);
        if (cl->lease)
            etcd_put(cl->etcd, key, val, cl->lease, NULL, NULL);
        free(key);
        free(val);
    }
    schedule_recompute(cl);
}

static void stopping(void *ctx, supervisor_t *sup, int sig)
{
    cluster_t *cl = ctx;

    (void)sup;
    sm_clear(&cl->releasing);
    if (cl->rot_pid)
        kill(cl->rot_pid, sig); /* on SIGTERM its open transaction rolls back */
}

/* ---- life ----------------------------------------------------------------------- */

static char *read_password(const char *path, char *err, size_t errlen)
{
    char buf[1024];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0) {
        snprintf(err, errlen, "cluster: cannot read etcd_password_file %s: %s", path,
                 strerror(errno));
        return NULL;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0) {
        snprintf(err, errlen, "cluster: cannot read etcd_password_file %s", path);
        return NULL;
    }
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    {
        char *s = xstrdup(buf);
        explicit_bzero(buf, sizeof(buf));
        return s;
    }
}

static int dep_ready(void *ctx, supervisor_t *sup, const sup_instance_t *dep);

int cluster_start(supervisor_t *sup, cluster_t **out, char *err, size_t errlen)
{
    static const sup_hooks_t hooks = {
        .may_start = may_start, .reloaded = reloaded, .stopping = stopping,
        .reaped = reaped, .busy = busy, .dep_ready = dep_ready,
    };
    const inv_cluster_t *c = sup->inv->cluster;
    etcd_options_t opt = { 0 };
    cluster_t *cl;
    char *password = NULL;
    struct timeval tv = { 0, TICK_MS * 1000 };
    long long deadline;

    *out = NULL;
    if (!c || !c->enabled)
        return 0;
    if (c->etcd_password_file && !(password = read_password(c->etcd_password_file, err, errlen)))
        return -1;
    cl = xcalloc(1, sizeof(*cl));
    cl->sup = sup;
    cl->name = xstrdup(c->name);
    cl->prefix = xasprintf("%s/", c->name);
    cl->node = xstrdup(c->node);
    cl->ttl_ms = c->lease_ttl_ms;
    cl->settle_ms = c->settle_ms;
    cl->rot_fd = -1;
    memcpy(cl->hash, c->hash, sizeof(cl->hash));
    snprintf(cl->conn, sizeof(cl->conn), "connecting");
    opt.endpoints = (const char *const *)c->endpoints;
    opt.n_endpoints = c->nendpoints;
    opt.ca_file = c->etcd_ca;
    opt.cert_file = c->etcd_cert;
    opt.key_file = c->etcd_key;
    opt.user = c->etcd_user;
    opt.password = password;
    /* A request must not outlast the margin: lease_ttl / 4 per member, between 1 s
     * and 5 s (renewals go out every lease_ttl / 6 regardless). */
    opt.request_timeout_ms = cl->ttl_ms / 4 > 5000 ? 5000 : cl->ttl_ms / 4 < 1000 ? 1000
                                                                           : cl->ttl_ms / 4;
    cl->etcd = etcd_new(sup->base, &opt, err, errlen);
    if (password) {
        explicit_bzero(password, strlen(password));
        free(password);
    }
    if (!cl->etcd) {
        free(cl->name);
        free(cl->prefix);
        free(cl->node);
        free(cl);
        return -1;
    }
    cl->tick = event_new(sup->base, -1, EV_PERSIST, tick_cb, cl);
    cl->recompute_ev = event_new(sup->base, -1, 0, recompute_cb, cl);
    if (sup_add_hooks(sup, &hooks, cl) < 0) {
        snprintf(err, errlen, "cluster: too many hook tables");
        cluster_free(cl);
        return -1;
    }
    the_cluster = cl;
    grant(cl);
    /* Join before anything starts, for a bounded time: a duplicate node name is
     * refused here, before any worker runs. */
    deadline = mono_ms() + JOIN_WAIT_MS + cl->ttl_ms + 1000;
    while (cl->phase == PH_CONNECTING && mono_ms() < deadline) {
        if (!cl->reg && !cl->dup_deadline_ms && cl->lease == 0 && cl->etcd_errors)
            break; /* etcd unreachable: start disconnected, keep trying */
        if (!cl->reg && mono_ms() >= cl->retry_at_ms) {
            if (!cl->lease)
                grant(cl);
            else
                do_register(cl);
        }
        {
            struct timeval step = { 0, TICK_MS * 1000 };
            event_base_loopexit(sup->base, &step); /* retries are due on time */
            event_base_loop(sup->base, 0);
        }
    }
    if (cl->phase == PH_REFUSED) {
        snprintf(err, errlen, "%s", cl->conn);
        sup_remove_hooks(sup, cl);
        cl->lease = 0; /* the lease is ours, the key is not: revoke nothing we share */
        cluster_free(cl);
        return -1;
    }
    if (cl->phase == PH_CONNECTING)
        log_warn("cluster: starting disconnected: pinned instances start, contested ones "
                 "wait for etcd", "reason", cl->conn);
    evtimer_add(cl->tick, &tv);
    *out = cl;
    return 0;
}

static void revoke_cb(const etcd_result_t *r, void *arg)
{
    (void)r;
    *(int *)arg = 1;
}

void cluster_free(cluster_t *cl)
{
    if (!cl)
        return;
    if (cl->tick)
        event_free(cl->tick);
    if (cl->recompute_ev)
        event_free(cl->recompute_ev);
    if (cl->watch)
        etcd_watch_cancel(cl->watch);
    if (cl->rot_pid) {
        int status;
        kill(cl->rot_pid, SIGKILL);
        while (waitpid(cl->rot_pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    if (cl->rot_fd >= 0)
        close(cl->rot_fd);
    if (cl->lease) {
        /* Every worker is gone: let the other nodes take over now, not at expiry. */
        int done = 0;
        long long deadline = mono_ms() + 1000;
        etcd_lease_revoke(cl->etcd, cl->lease, revoke_cb, &done);
        while (!done && mono_ms() < deadline)
            event_base_loop(cl->sup->base, EVLOOP_ONCE);
    }
    etcd_free(cl->etcd);
    for (size_t i = 0; i < cl->nargs; i++)
        free(cl->args[i]);
    free(cl->args);
    sm_free(&cl->nodes);
    sm_free(&cl->gone);
    sm_free(&cl->owners);
    sm_free(&cl->status);
    sm_free(&cl->drains);
    sm_free(&cl->moves);
    sm_free(&cl->lost);
    sm_free(&cl->claiming);
    sm_free(&cl->releasing);
    sm_free(&cl->published);
    sm_free(&cl->rotating);
    free(cl->name);
    free(cl->prefix);
    free(cl->node);
    if (the_cluster == cl)
        the_cluster = NULL;
    free(cl);
}

/* ---- the fleet view ------------------------------------------------------------- */

int cluster_runs_here(const supervisor_t *sup, const sup_instance_t *in)
{
    (void)sup;
    return the_cluster ? runs_here(the_cluster, in) : 1;
}

static int dep_ready(void *ctx, supervisor_t *sup, const sup_instance_t *dep)
{
    cluster_t *cl = ctx;
    const inv_place_t *p;
    const char *node, *st;
    json_t *v;
    int ready;

    if (!cl || cl->sup != sup || runs_here(cl, dep))
        return -1;
    p = invc_place(sup->inv, dep->cfg);
    node = p->pin ? p->pin : sm_get(&cl->owners, dep->name);
    if (!node || !sm_get(&cl->nodes, node) || !(st = sm_get(&cl->status, dep->name)))
        return 0;
    v = json_loads(st, 0, NULL);
    ready = v && strcmp(json_string_value(json_object_get(v, "node")) ?: "", node) == 0 &&
            strcmp(json_string_value(json_object_get(v, "state")) ?: "", "running") == 0;
    json_decref(v);
    return ready;
}

json_t *cluster_report_json(void)
{
    cluster_t *cl = the_cluster;
    supervisor_t *sup;
    json_t *root, *nodes, *insts;
    int unhealthy = 0, degraded = 0;

    if (!cl)
        return NULL;
    sup = cl->sup;
    root = json_object();
    nodes = json_array();
    insts = json_array();
    json_object_set_new(root, "cluster", json_string(cl->name));
    json_object_set_new(root, "node", json_string(cl->node));
    json_object_set_new(root, "connection", json_string(cl->conn));
    json_object_set_new(root, "lease_fresh", json_boolean(lease_fresh(cl)));
    json_object_set_new(root, "lease_ttl_seconds", json_integer(cl->ttl_ms / 1000));
    for (size_t i = 0; i < cl->nodes.n; i++) {
        json_t *v = json_loads(cl->nodes.v[i].v, 0, NULL), *o = json_object();
        const char *h = v ? json_string_value(json_object_get(v, "inventory_hash")) : NULL;
        json_object_set_new(o, "name", json_string(cl->nodes.v[i].k));
        json_object_set_new(o, "alive", json_true());
        json_object_set_new(o, "drained", json_boolean(sm_get(&cl->drains, cl->nodes.v[i].k) != NULL));
        if (v) {
            json_object_set(o, "version", json_object_get(v, "version"));
            json_object_set(o, "status_address", json_object_get(v, "status"));
        }
        json_object_set_new(o, "inventory_hash", json_string(h ? h : ""));
        json_object_set_new(o, "inventory_matches", json_boolean(h && strcmp(h, cl->hash) == 0));
        degraded |= !(h && strcmp(h, cl->hash) == 0);
        json_array_append_new(nodes, o);
        json_decref(v);
    }
    for (size_t i = 0; i < cl->gone.n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(cl->gone.v[i].k));
        json_object_set_new(o, "alive", json_false());
        json_array_append_new(nodes, o);
    }
    for (size_t i = 0; i < sup->ninst; i++) {
        sup_instance_t *in = sup->inst[i];
        const inv_place_t *p = invc_place(sup->inv, in->cfg);
        const char *node = p->pin ? p->pin : sm_get(&cl->owners, in->name);
        const char *st = sm_get(&cl->status, in->name);
        json_t *o = json_object(), *sv = st ? json_loads(st, 0, NULL) : NULL;
        const char *state = "unknown", *health = "unknown";

        if (runs_here(cl, in)) {
            state = sup_state_name(in->state);
            health = health_status_name(in->health.status);
        } else if (sv && node &&
                   strcmp(json_string_value(json_object_get(sv, "node")) ?: "", node) == 0) {
            state = json_string_value(json_object_get(sv, "state")) ?: "unknown";
            health = json_string_value(json_object_get(sv, "health")) ?: "unknown";
        }
        json_object_set_new(o, "name", json_string(in->name));
        json_object_set_new(o, "node", node ? json_string(node) : json_null());
        json_object_set_new(o, "pinned", json_boolean(p->pin != NULL));
        if (p->pin && !sm_get(&cl->nodes, p->pin))
            json_object_set_new(o, "problem", json_string("its pinned node is not alive"));
        json_object_set_new(o, "state", json_string(state));
        json_object_set_new(o, "health", json_string(health));
        if (in->cfg->policy.critical) {
            unhealthy |= !node || strcmp(health, "unhealthy") == 0;
            degraded |= strcmp(health, "degraded") == 0 || strcmp(state, "running") != 0;
        }
        json_array_append_new(insts, o);
        json_decref(sv);
    }
    json_object_set_new(root, "nodes", nodes);
    json_object_set_new(root, "instances", insts);
    json_object_set_new(root, "status", json_string(unhealthy ? "unhealthy"
                                                    : degraded ? "degraded" : "healthy"));
    return root;
}

void cluster_metrics(FILE *out)
{
    cluster_t *cl = the_cluster;
    size_t owned_n = 0;

    if (!cl)
        return;
    for (size_t i = 0; i < cl->sup->ninst; i++)
        owned_n += owned(cl, cl->sup->inst[i]->name);
    fprintf(out, "# HELP instanced_cluster_nodes_alive Nodes whose lease is alive, as this "
                 "node sees them.\n# TYPE instanced_cluster_nodes_alive gauge\n"
                 "instanced_cluster_nodes_alive %zu\n", cl->nodes.n);
    fprintf(out, "# HELP instanced_cluster_owned_instances Contested instances this node "
                 "owns.\n# TYPE instanced_cluster_owned_instances gauge\n"
                 "instanced_cluster_owned_instances %zu\n", owned_n);
    fprintf(out, "# HELP instanced_cluster_connected 1 while the lease is fresh.\n"
                 "# TYPE instanced_cluster_connected gauge\ninstanced_cluster_connected %d\n",
            lease_fresh(cl));
    fprintf(out, "# HELP instanced_cluster_lease_renewal_seconds Duration of the last "
                 "lease renewal.\n# TYPE instanced_cluster_lease_renewal_seconds gauge\n"
                 "instanced_cluster_lease_renewal_seconds %.3f\n", cl->renew_latency_s);
    fprintf(out, "# HELP instanced_cluster_etcd_errors_total Failed etcd requests and "
                 "broken watches.\n# TYPE instanced_cluster_etcd_errors_total counter\n"
                 "instanced_cluster_etcd_errors_total %lu\n", cl->etcd_errors);
    fprintf(out, "# HELP instanced_cluster_failovers_total Instances this node took over "
                 "from a node that had lost them.\n"
                 "# TYPE instanced_cluster_failovers_total counter\n"
                 "instanced_cluster_failovers_total %lu\n", cl->failovers);
    fprintf(out, "# HELP instanced_cluster_credential_rotations_total Instances given new "
                 "passwords at their claim here.\n"
                 "# TYPE instanced_cluster_credential_rotations_total counter\n"
                 "instanced_cluster_credential_rotations_total %lu\n", cl->rotations);
}

/* ---- administration ------------------------------------------------------------- */

int cluster_admin(const char *verb, const char *a, const char *b, char *err, size_t errlen)
{
    cluster_t *cl = the_cluster;
    char *key = NULL;

    if (!cl) {
        snprintf(err, errlen, "not in cluster mode (no cluster section)");
        return -1;
    }
    if (!lease_fresh(cl)) {
        snprintf(err, errlen, "etcd is not reachable: %s", cl->conn);
        return -1;
    }
    if (strcmp(verb, "drain") == 0 && a) {
        key = xasprintf("%sadmin/drain/%s", cl->prefix, a);
        etcd_put(cl->etcd, key, "1", 0, NULL, NULL);
    } else if (strcmp(verb, "undrain") == 0 && a) {
        key = xasprintf("%sadmin/drain/%s", cl->prefix, a);
        etcd_delete(cl->etcd, key, 0, NULL, NULL);
    } else if (strcmp(verb, "move") == 0 && a && b) {
        if (!sup_find(cl->sup, a)) {
            snprintf(err, errlen, "no instance %s", a);
            return -1;
        }
        key = xasprintf("%sadmin/move/%s", cl->prefix, a);
        etcd_put(cl->etcd, key, b, 0, NULL, NULL);
    } else if (strcmp(verb, "rebalance") == 0) {
        /* Placement without stickiness, turned into moves. */
        supervisor_t *sup = cl->sup;
        plc_instance_t *pi = xcalloc(sup->ninst + 1, sizeof(*pi));
        plc_node_t *pn = xcalloc(cl->nodes.n + 1, sizeof(*pn));
        const char **out = xcalloc(sup->ninst + 1, sizeof(*out));
        size_t n = 0;

        for (size_t i = 0; i < cl->nodes.n; i++) {
            pn[i].name = cl->nodes.v[i].k;
            pn[i].drained = sm_get(&cl->drains, pn[i].name) != NULL;
        }
        for (size_t i = 0; i < sup->ninst; i++) {
            const inv_place_t *p = invc_place(sup->inv, sup->inst[i]->cfg);
            if (p->pin)
                continue;
            pi[n].name = sup->inst[i]->name;
            pi[n].service = sup->inst[i]->cfg->service ? sup->inst[i]->cfg->service->name : NULL;
            pi[n].allowed = (const char *const *)p->nodes;
            pi[n].n_allowed = p->nnodes;
            pi[n].spread = p->spread;
            n++;
        }
        plc_place(pi, n, pn, cl->nodes.n, out);
        for (size_t i = 0; i < n; i++) {
            const char *owner = sm_get(&cl->owners, pi[i].name);
            if (out[i] && owner && strcmp(owner, out[i]) != 0) {
                char *k = xasprintf("%sadmin/move/%s", cl->prefix, pi[i].name);
                etcd_put(cl->etcd, k, out[i], 0, NULL, NULL);
                free(k);
            }
        }
        free(pi);
        free(pn);
        free(out);
        return 0;
    } else {
        snprintf(err, errlen, "usage: cluster status | drain NODE | undrain NODE | "
                 "move INSTANCE NODE | rebalance");
        return -1;
    }
    free(key);
    return 0;
}
