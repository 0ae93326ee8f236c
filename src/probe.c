/* probe.c - concurrent HTTP health probes with the libcurl multi interface on the
 * supervisor's event loop (no thread, no blocking call).
 *
 * The idiom is curl's docs/examples/multi-event.c, in curlev.c: libcurl tells which
 * sockets to watch and when to call it back; libevent tells libcurl when a socket is
 * ready or the timer is due. libcurl's API must not be re-entered from its own
 * callbacks (CURLM_RECURSIVE_API_CALL), so finished transfers are collected with
 * curl_multi_info_read only after curl_multi_socket_action has returned (drain, which
 * curlev calls), and everything that may call back into the supervisor happens there
 * too.
 *
 * Every health_interval a cycle starts one probe per instance that has a probe (see
 * probe_conf.h: json and http here, tcp in probe_tcp.c, exec in probe_exec.c) and a
 * process; every kind ends in probe_result(). An instance that was just started is also probed every
 * READY_POLL_MS until its first good answer, so that readiness (and the instances that
 * depend on it) does not wait for the next cycle. */
#include "config.h"

#include "probe.h"

#include "curlev.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "health.h"
#include "log.h"
#include "placeholder.h"
#include "probe_conf.h"
#include "probe_exec.h"
#include "probe_tcp.h"
#include "probe_verdict.h"
#include "xalloc.h"

#define READY_POLL_MS 100
/* Readiness polling stops this long after a start: a worker that is not ready by then
 * is left to the regular cycles (and is not hammered 10 times a second forever). */
#define READY_POLL_FOR_S 10.0
/* An exec probe is a process: readiness polls it every READY_EXEC_EVERY ticks (1 s),
 * so that hundreds of instances starting at once do not fork thousands a second. */
#define READY_EXEC_EVERY 10

/* One transfer in flight. Owned by the prober's list; freed in probe_done/cancel. */
typedef struct probe {
    struct probe *next;
    prober_t *owner;
    sup_instance_t *in;
    CURL *easy;              /* json and http; NULL for the kinds below */
    pexec_t *x;              /* exec */
    ptcp_t *t;               /* tcp */
    char *body;              /* up to HEALTH_BODY_MAX bytes, not NUL-terminated */
    size_t len, cap;
    int oversize;
    unsigned long cycle;     /* 0: a readiness probe, not part of a cycle */
    struct timespec t0;
    char *url;               /* whole, however long health_path is (owned) */
    char errbuf[CURL_ERROR_SIZE];
} probe_t;

struct prober {
    unsigned long max_in_flight; /* PROBE_MAX_IN_FLIGHT, or the environment's */
    supervisor_t *sup;
    curlev_t *cv;              /* libcurl's multi handle on the loop */
    CURLM *multi;              /* cv's */
    struct curl_slist *headers;
    struct event *cycle_timer; /* every health_interval */
    struct event *ready_timer; /* READY_POLL_MS while an instance waits for readiness */
    probe_t *probes;
    long interval_ms, timeout_ms;

    unsigned long ready_ticks;  /* ready_cb runs, for READY_EXEC_EVERY */
    unsigned long cycle;        /* id of the current cycle */
    size_t cycle_pending;       /* its probes still running */
    size_t cycle_next;          /* the next instance the cycle may start a probe for */
    int cycle_feeding;          /* instances of the cycle are still to be started */
    struct event *fill_ev;      /* starts more of them once probes have ended */
    struct timespec cycle_t0;
    metrics_stats_t st;
};

/* Probes in flight at once, of every kind. A cycle does not start one probe per
 * instance at once: 5,000 transfers in flight held 5,000 sockets (the descriptor
 * budget is two per instance) and 5,000 libcurl handles with their buffers (over
 * 100 MB). It starts up to this many and one more as each ends; a probe's timeout
 * counts from its own start, so none is judged by the time it waited. A tuning knob,
 * not an inventory key: INSTANCED_PROBE_MAX_IN_FLIGHT (1 to 65536) changes it. */
#define PROBE_MAX_IN_FLIGHT 256

static double elapsed(const struct timespec *t0)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static struct timeval ms_tv(long ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    return tv;
}

static int probed(const sup_instance_t *in)
{
    return in->cfg && pc_probed(in->cfg) && in->pid > 0 &&
           (in->state == SUP_STARTING || in->state == SUP_RUNNING);
}

static probe_t *find_probe(prober_t *p, const sup_instance_t *in)
{
    for (probe_t *q = p->probes; q; q = q->next)
        if (q->in == in)
            return q;
    return NULL;
}

static void unlink_probe(prober_t *p, probe_t *q)
{
    for (probe_t **pp = &p->probes; *pp; pp = &(*pp)->next)
        if (*pp == q) {
            *pp = q->next;
            break;
        }
    if (p->st.in_flight)
        p->st.in_flight--;
}

static void cycle_probe_ended(prober_t *p, const probe_t *q)
{
    double d;

    if (p->cycle_feeding) {
        /* A slot is free (whichever probe this was): start the next ones, on the
         * loop, never inside a probe's callback. */
        static const struct timeval now = { 0, 0 };
        evtimer_add(p->fill_ev, &now);
    }
    if (q->cycle != p->cycle || p->cycle_pending == 0)
        return;
    if (--p->cycle_pending > 0 || p->cycle_feeding)
        return;
    d = elapsed(&p->cycle_t0);
    p->st.cycle_seconds = d;
    if (d > p->st.cycle_max_seconds)
        p->st.cycle_max_seconds = d;
    p->st.cycles_total++;
}

/* Remove a probe from libcurl and free it. Never from inside a libcurl callback. */
static void destroy_probe(prober_t *p, probe_t *q)
{
    unlink_probe(p, q);
    if (q->easy) {
        curl_multi_remove_handle(p->multi, q->easy);
        curl_easy_cleanup(q->easy);
    }
    pexec_cancel(q->x);
    ptcp_cancel(q->t);
    free(q->body);
    free(q->url);
    free(q);
}

/* ---- libcurl callbacks: no multi API call in here ---------------------------- */

static size_t write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
    probe_t *q = arg;
    size_t n = size * nmemb;

    /* CURLOPT_MAXFILESIZE does not stop a chunked body: cap it here. Returning a
     * short count makes libcurl fail the transfer with CURLE_WRITE_ERROR. */
    if (n > HEALTH_BODY_MAX - q->len) {
        q->oversize = 1;
        return 0;
    }
    if (q->len + n > q->cap) {
        size_t cap = q->cap ? q->cap : 1024;
        while (cap < q->len + n)
            cap *= 2;
        if (cap > HEALTH_BODY_MAX)
            cap = HEALTH_BODY_MAX;
        q->body = xrealloc(q->body, cap);
        q->cap = cap;
    }
    memcpy(q->body + q->len, data, n);
    q->len += n;
    return n;
}

/* ---- results ---------------------------------------------------------------- */

static void describe_failure(const probe_t *q, CURLcode rc, long os_errno, long timeout_ms,
                             char *msg, size_t len)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        snprintf(msg, len, "no answer within %ld ms", timeout_ms);
        return;
    case CURLE_COULDNT_CONNECT:
        if (os_errno == ECONNREFUSED)
            snprintf(msg, len, "connection refused");
        else
            snprintf(msg, len, "cannot connect: %s", os_errno ? strerror((int)os_errno)
                                                             : curl_easy_strerror(rc));
        return;
    case CURLE_WRITE_ERROR:
        if (q->oversize) {
            snprintf(msg, len, "health answer larger than %d KiB", HEALTH_BODY_MAX / 1024);
            return;
        }
        break;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
        if (os_errno == ECONNRESET) {
            snprintf(msg, len, "connection reset by the worker");
            return;
        }
        break;
    case CURLE_GOT_NOTHING:
        snprintf(msg, len, "connection closed without an answer");
        return;
    default:
        break;
    }
    snprintf(msg, len, "probe failed: %.200s", q->errbuf[0] ? q->errbuf : curl_easy_strerror(rc));
    /* libcurl's error buffer ends in a newline sometimes. */
    msg[strcspn(msg, "\n")] = '\0';
}

static void probe_result(prober_t *p, probe_t *q, health_status_t seen, const char *msg);

/* A transfer ended (already unlinked from libcurl): judge it and tell the supervisor. */
static void probe_done(prober_t *p, probe_t *q, CURLcode rc)
{
    const inv_policy_t *pol = &q->in->cfg->policy;
    health_status_t seen;
    char msg[256];
    long code = 0, os_errno = 0;

    curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(q->easy, CURLINFO_OS_ERRNO, &os_errno);
    if (rc == CURLE_OK && pol->health_kind == INV_HEALTH_HTTP) {
        seen = pv_judge_http(code, q->body, q->len, pol->health_expect_status,
                             pol->health_expect_body, msg, sizeof msg);
    } else if (rc == CURLE_OK) {
        seen = health_judge(code, q->body, q->len, msg, sizeof msg);
    } else {
        seen = HEALTH_UNHEALTHY;
        describe_failure(q, rc, os_errno, p->timeout_ms, msg, sizeof msg);
    }
    probe_result(p, q, seen, msg);
}

/* An exec or tcp probe ended: the same verdict path, then the entry goes. */
static void other_done(void *arg, health_status_t seen, const char *msg)
{
    probe_t *q = arg;
    prober_t *p = q->owner;

    unlink_probe(p, q);
    q->x = NULL; /* freed by their modules once this returns */
    q->t = NULL;
    probe_result(p, q, seen, msg);
    free(q);
}

/* Every kind's verdict: health, flapping control, readiness, restart_on_unhealthy. */
static void probe_result(prober_t *p, probe_t *q, health_status_t seen, const char *msg)
{
    supervisor_t *sup = p->sup;
    sup_instance_t *in = q->in;
    const inv_policy_t *pol = &in->cfg->policy;
    double latency = elapsed(&q->t0);
    health_status_t before;
    int restart;

    cycle_probe_ended(p, q);
    in->health.last_check = time(NULL);
    in->health.latency_seconds = latency;

    if (q->cycle == 0 && seen == HEALTH_UNHEALTHY) {
        /* A readiness probe of a worker still starting: not a failure yet (cycles
         * count those), but say why it is not ready. */
        if (text_set(&in->health.message, "starting: %.240s", msg))
            sup->changes++;
        return;
    }
    before = in->health.status;
    {
        /* The status views are kept while sup->changes stands still (status_http.c)
         * and rendered again at least once a second, so only what a probe changes
         * beyond its timestamp, latency and counters is a change here: the status,
         * the message, the failure count. A steady fleet then keeps its views
         * cached between seconds instead of invalidating them at every probe result
         * (100 a second with 500 instances probed every 5 s); last_check, latency
         * and the counters in a view are at most a second old. */
        unsigned fails = in->health.consecutive_fail;
        char was[TEXT_MAX + 1];

        snprintf(was, sizeof was, "%s", text_get(&in->health.message));
        restart = health_apply(&in->health, seen, msg, pol->failures_before_unhealthy,
                               pol->successes_before_healthy, pol->restart_on_unhealthy);
        if (in->health.status != before || in->health.consecutive_fail != fails ||
            strcmp(was, text_get(&in->health.message)) != 0)
            sup->changes++;
    }
    /* unknown -> healthy after a start is the "instance ready" line below. */
    if (in->health.status != before &&
        !(before == HEALTH_UNKNOWN && in->health.status == HEALTH_HEALTHY))
        log_kv(in->health.status == HEALTH_UNHEALTHY ? LOG_LVL_WARN : LOG_LVL_INFO,
               "health changed", "instance", in->name, "from", health_status_name(before), "to",
               health_status_name(in->health.status), "reason", msg, NULL);
    else if (seen == HEALTH_UNHEALTHY)
        log_debug("health probe failed", "instance", in->name, "reason", msg, "consecutive",
                  LOG_INT(in->health.consecutive_fail));
    if (seen != HEALTH_UNHEALTHY && in->state == SUP_STARTING && !in->ready) {
        log_info("instance ready", "instance", in->name, "health", health_status_name(seen));
        sup_instance_ready(sup, in);
    }
    if (restart && in->pid > 0 && in->state != SUP_STOPPING && in->state != SUP_PAUSED) {
        char why[320], err[256] = "";
        snprintf(why, sizeof why, "unhealthy: %u consecutive failed health probes: %s",
                 in->health.consecutive_fail, msg);
        in->health.consecutive_fail = 0;
        log_warn("restarting unhealthy instance", "instance", in->name, "reason", why);
        if (sup_restart(sup, in, why, err, sizeof err) < 0)
            log_error("restart failed", "instance", in->name, "error", err);
    }
}

/* Collect finished transfers. Called only after curl_multi_socket_action returned. */
static void drain(prober_t *p)
{
    void *priv;
    CURLcode rc;

    while (curlev_done(p->cv, &priv, &rc)) {
        probe_t *q = priv;

        curl_multi_remove_handle(p->multi, q->easy);
        unlink_probe(p, q);
        probe_done(p, q, rc);
        curl_easy_cleanup(q->easy);
        free(q->body);
        free(q->url);
        free(q);
    }
}

static void drain_cb(void *arg)
{
    drain(arg);
}

/* ---- starting probes --------------------------------------------------------- */

/* An exec or tcp probe: started in its module, ended in other_done(). */
static int start_other(prober_t *p, sup_instance_t *in, probe_t *q)
{
    char err[256];

    clock_gettime(CLOCK_MONOTONIC, &q->t0);
    if (in->cfg->policy.health_kind == INV_HEALTH_EXEC)
        q->x = pexec_start(p->sup, in, p->timeout_ms, other_done, q, err, sizeof err);
    else
        q->t = ptcp_start(p->sup->base, pc_probe_port(in->cfg), p->timeout_ms, other_done, q,
                          err, sizeof err);
    if (!q->x && !q->t) {
        /* Not started is a failed probe (a health_command that is not there), judged
         * now and not counted in the cycle (-1: the caller does not wait for it). */
        log_warn("cannot start health probe", "instance", in->name, "error", err);
        if (q->cycle)
            q->cycle = p->cycle + 1;
        probe_result(p, q, HEALTH_UNHEALTHY, err);
        free(q);
        return -1;
    }
    q->next = p->probes;
    p->probes = q;
    p->st.in_flight++;
    return 0;
}

static int start_probe(prober_t *p, sup_instance_t *in, unsigned long cycle)
{
    const char *path = in->cfg->policy.health_path ? in->cfg->policy.health_path : "/";
    probe_t *q = xcalloc(1, sizeof *q);
    ph_values_t v;
    char err[200], *xpath;
    CURLMcode mc;

    q->owner = p;
    q->in = in;
    q->cycle = cycle;
    if (in->cfg->policy.health_kind == INV_HEALTH_EXEC ||
        in->cfg->policy.health_kind == INV_HEALTH_TCP)
        return start_other(p, in, q);
    ph_values_of(in->cfg, &v);
    if (!(xpath = ph_expand(path, &v, err, sizeof err))) {
        log_error("cannot start health probe", "instance", in->name, "error", err);
        free(q);
        return -1;
    }
    q->url = health_probe_url(pc_probe_port(in->cfg), xpath);
    free(xpath);
    if (!q->url) {
        log_error("cannot start health probe", "instance", in->name, "error",
                  "cannot build the probe URL: port out of range");
        free(q);
        return -1;
    }
    if (!(q->easy = curl_easy_init())) {
        free(q->url);
        free(q);
        return -1;
    }
    curl_easy_setopt(q->easy, CURLOPT_URL, q->url);
    curl_easy_setopt(q->easy, CURLOPT_PRIVATE, q);
    curl_easy_setopt(q->easy, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(q->easy, CURLOPT_WRITEDATA, q);
    curl_easy_setopt(q->easy, CURLOPT_ERRORBUFFER, q->errbuf);
    curl_easy_setopt(q->easy, CURLOPT_TIMEOUT_MS, p->timeout_ms);
    curl_easy_setopt(q->easy, CURLOPT_CONNECTTIMEOUT_MS, p->timeout_ms);
    curl_easy_setopt(q->easy, CURLOPT_NOSIGNAL, 1L);
    /* Health answers are small (at most HEALTH_BODY_MAX): a 4 KiB receive buffer
     * instead of libcurl's 16 KiB, for each of up to PROBE_MAX_IN_FLIGHT transfers. */
    curl_easy_setopt(q->easy, CURLOPT_BUFFERSIZE, 4096L);
    curl_easy_setopt(q->easy, CURLOPT_OPENSOCKETFUNCTION, curlev_open_cloexec);
    /* A fresh connection per probe: no idle connections kept per worker, and a probe
     * never rides on a half-dead connection of the previous one. */
    curl_easy_setopt(q->easy, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(q->easy, CURLOPT_FRESH_CONNECT, 1L);
    /* The request goes out in one send on a fresh connection, which Nagle never holds
     * back (nothing is unacknowledged yet): no TCP_NODELAY setsockopt per probe. */
    curl_easy_setopt(q->easy, CURLOPT_TCP_NODELAY, 0L);
    /* No DNS cache: the URL's host is a literal address, and libcurl keys its cache by
     * host and port, so each worker's port would add an entry, and every probe would
     * prune the whole cache (with 5,000 workers, most of the probe cycle's CPU). */
    curl_easy_setopt(q->easy, CURLOPT_DNS_CACHE_TIMEOUT, 0L);
    /* Never through a proxy from the environment (http_proxy would see every probe). */
    curl_easy_setopt(q->easy, CURLOPT_PROXY, "");
    curl_easy_setopt(q->easy, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(q->easy, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(q->easy, CURLOPT_PROTOCOLS_STR, "http");
#else
    curl_easy_setopt(q->easy, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTP);
#endif
    curl_easy_setopt(q->easy, CURLOPT_HTTPHEADER, p->headers);
    curl_easy_setopt(q->easy, CURLOPT_USERAGENT, "instanced/" PACKAGE_VERSION);
    clock_gettime(CLOCK_MONOTONIC, &q->t0);
    q->next = p->probes;
    p->probes = q;
    p->st.in_flight++;
    if ((mc = curl_multi_add_handle(p->multi, q->easy)) != CURLM_OK) {
        log_error("cannot start health probe", "instance", in->name, "error",
                  curl_multi_strerror(mc));
        unlink_probe(p, q);
        curl_easy_cleanup(q->easy);
        free(q->url);
        free(q);
        return -1;
    }
    return 0;
}

/* Health of an instance without a probe follows its process. */
static void follow_process(sup_instance_t *in)
{
    health_status_t h = in->state == SUP_RUNNING ? HEALTH_HEALTHY : HEALTH_UNKNOWN;

    if (in->health.status != h) {
        in->health.status = h;
        text_clear(&in->health.message);
    }
}

/* How many of the instances a cycle may have reached by now: its probes are started
 * at a steady pace over the first PACE_SHARE-th of the interval (500 instances every
 * 5 s: one every 1.25 ms), not all at once, so that hundreds of workers do not wake in
 * the same millisecond and take both cores from everything else (the status endpoint's
 * answers waited up to 90 ms behind such a burst). PACE_BURST may go at once. */
#define PACE_SHARE   8
#define PACE_BURST   8
#define PACE_TICK_MS 10

static size_t cycle_allowed(const prober_t *p)
{
    double spread_ms = (double)p->interval_ms / PACE_SHARE;
    double ms = elapsed(&p->cycle_t0) * 1000.0;

    if (spread_ms < 1 || ms >= spread_ms)
        return (size_t)-1;
    return PACE_BURST + (size_t)((double)p->sup->ninst * ms / spread_ms);
}

/* Start the cycle's probes from cycle_next on, at the cycle's pace and while fewer
 * than PROBE_MAX_IN_FLIGHT are in flight; the cycle ends when every instance has had
 * its turn and its last probe has ended. */
static void cycle_fill(prober_t *p)
{
    supervisor_t *sup = p->sup;
    size_t allowed = cycle_allowed(p);
    probe_t *q;

    while (p->cycle_feeding && p->cycle_next < sup->ninst) {
        sup_instance_t *in;

        if (p->st.in_flight >= p->max_in_flight)
            return;
        if (p->cycle_next >= allowed) {
            struct timeval tick = { 0, PACE_TICK_MS * 1000 };
            if (!evtimer_pending(p->fill_ev, NULL))
                evtimer_add(p->fill_ev, &tick);
            return;
        }
        in = sup->inst[p->cycle_next++];
        if (!in->cfg || !pc_probed(in->cfg)) {
            follow_process(in);
            continue;
        }
        if (!probed(in))
            continue;
        if ((q = find_probe(p, in))) {
            /* A readiness probe in flight becomes this cycle's probe: otherwise a worker
             * that never gets ready would be probed only by readiness probes, whose
             * failures do not count, and would never turn unhealthy. */
            if (q->cycle == 0) {
                q->cycle = p->cycle;
                p->cycle_pending++;
            }
            continue;
        }
        if (start_probe(p, in, p->cycle) == 0)
            p->cycle_pending++;
    }
    if (!p->cycle_feeding)
        return;
    p->cycle_feeding = 0;
    if (p->cycle_pending == 0) {
        double d = elapsed(&p->cycle_t0);
        p->st.cycle_seconds = d;
        if (d > p->st.cycle_max_seconds)
            p->st.cycle_max_seconds = d;
        p->st.cycles_total++;
    }
}

static void fill_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    cycle_fill(arg);
}

static void cycle_cb(evutil_socket_t fd, short what, void *arg)
{
    prober_t *p = arg;

    (void)fd, (void)what;
    if (p->cycle_pending > 0 || p->cycle_feeding) {
        p->st.cycle_overruns_total++;
        log_warn("health probe cycle overran the interval", "pending",
                 LOG_INT(p->cycle_pending), "interval_ms", LOG_INT(p->interval_ms));
    }
    p->cycle++;
    p->cycle_pending = 0;
    p->cycle_next = 0;
    p->cycle_feeding = 1;
    clock_gettime(CLOCK_MONOTONIC, &p->cycle_t0);
    cycle_fill(p);
}

static void ready_cb(evutil_socket_t fd, short what, void *arg)
{
    prober_t *p = arg;
    supervisor_t *sup = p->sup;
    int waiting = 0;

    (void)fd, (void)what;
    p->ready_ticks++;
    for (size_t i = 0; i < sup->ninst; i++) {
        sup_instance_t *in = sup->inst[i];
        if (!probed(in) || in->state != SUP_STARTING || in->ready ||
            elapsed(&in->started_mono) > READY_POLL_FOR_S)
            continue;
        waiting = 1;
        if (in->cfg->policy.health_kind == INV_HEALTH_EXEC &&
            p->ready_ticks % READY_EXEC_EVERY != 0)
            continue;
        if (p->st.in_flight < p->max_in_flight && !find_probe(p, in))
            start_probe(p, in, 0); /* the others at a later tick */
    }
    if (!waiting)
        evtimer_del(p->ready_timer);
}

/* ---- public ----------------------------------------------------------------- */

prober_t *probe_new(supervisor_t *sup, char *err, size_t errlen)
{
    static int curl_ready;
    prober_t *p;

    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            snprintf(err, errlen, "cannot initialize libcurl");
            return NULL;
        }
        curl_ready = 1;
    }
    p = xcalloc(1, sizeof *p);
    p->max_in_flight = PROBE_MAX_IN_FLIGHT;
    {
        const char *v = getenv("INSTANCED_PROBE_MAX_IN_FLIGHT");
        char *end;
        long n = v ? strtol(v, &end, 10) : 0;

        if (v && *v && !*end && n >= 1 && n <= 65536)
            p->max_in_flight = (unsigned long)n;
        else if (v && *v)
            log_warn("INSTANCED_PROBE_MAX_IN_FLIGHT ignored: not a number from 1 to 65536",
                     "value", v);
    }
    p->sup = sup;
    p->cv = curlev_new(sup->base, drain_cb, p);
    p->multi = p->cv ? curlev_multi(p->cv) : NULL;
    p->headers = curl_slist_append(NULL, "Accept: application/json");
    p->cycle_timer = event_new(sup->base, -1, EV_PERSIST, cycle_cb, p);
    p->ready_timer = event_new(sup->base, -1, EV_PERSIST, ready_cb, p);
    p->fill_ev = evtimer_new(sup->base, fill_cb, p);
    if (!p->multi || !p->headers || !p->cycle_timer || !p->ready_timer || !p->fill_ev) {
        snprintf(err, errlen, "cannot set up health probes: libcurl or libevent refused a handle");
        probe_free(p);
        return NULL;
    }
    probe_reconfigure(p);
    return p;
}

void probe_reconfigure(prober_t *p)
{
    const inventory_t *inv = p->sup->inv;
    long interval = inv && inv->health_interval_ms > 0 ? inv->health_interval_ms : 5000;
    long timeout = inv && inv->health_timeout_ms > 0 ? inv->health_timeout_ms : 2000;
    struct timeval tv;

    p->timeout_ms = timeout;
    p->st.interval_seconds = (double)interval / 1000.0;
    if (interval == p->interval_ms && event_pending(p->cycle_timer, EV_TIMEOUT, NULL))
        return;
    p->interval_ms = interval;
    tv = ms_tv(interval);
    event_del(p->cycle_timer);
    event_add(p->cycle_timer, &tv);
}

void probe_free(prober_t *p)
{
    if (!p)
        return;
    while (p->probes)
        destroy_probe(p, p->probes);
    curlev_free(p->cv); /* after the handles: it may close sockets */
    if (p->cycle_timer)
        event_free(p->cycle_timer);
    if (p->ready_timer)
        event_free(p->ready_timer);
    if (p->fill_ev)
        event_free(p->fill_ev);
    curl_slist_free_all(p->headers);
    free(p);
}

static void cancel(prober_t *p, sup_instance_t *in)
{
    probe_t *q;

    while ((q = find_probe(p, in))) {
        cycle_probe_ended(p, q);
        destroy_probe(p, q);
    }
}

void probe_instance_started(prober_t *p, sup_instance_t *in)
{
    struct timeval tv = ms_tv(READY_POLL_MS);

    cancel(p, in);
    in->health.status = HEALTH_UNKNOWN;
    in->health.consecutive_ok = in->health.consecutive_fail = 0;
    text_set(&in->health.message, "starting");
    /* Not probed(in): the hook may run before the state says "starting". */
    if (in->cfg && pc_probed(in->cfg) &&
        !event_pending(p->ready_timer, EV_TIMEOUT, NULL))
        event_add(p->ready_timer, &tv);
}

void probe_instance_exited(prober_t *p, sup_instance_t *in)
{
    cancel(p, in);
    in->health.consecutive_ok = in->health.consecutive_fail = 0;
    if (in->wanted) {
        in->health.status = HEALTH_UNHEALTHY;
        text_set(&in->health.message, "process %s",
                 in->last_exit.s ? text_get(&in->last_exit) : "exited");
    } else {
        in->health.status = HEALTH_UNKNOWN;
        text_set(&in->health.message, "stopped");
    }
}

void probe_instance_removed(prober_t *p, sup_instance_t *in)
{
    cancel(p, in);
}

void probe_stats(const prober_t *p, metrics_stats_t *st)
{
    *st = p->st;
}
