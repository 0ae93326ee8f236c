/* etcd_client_test.c - the etcd client (src/etcd.c) against a real etcd 3.4 cluster.
 *
 * Run by tests/it_etcd_client.sh: ETCD_ENDPOINTS lists the members' client URLs
 * (comma-separated) and ETCD_KILL_PID is the first member's process, killed by the
 * failover test. Every wait runs the one event loop: a 20 ms ticker counts loop turns,
 * proving the loop never blocks on a request. */
#include "config.h"

#include <CUnit/Basic.h>

#include "cunit_run.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "etcd.h"

static struct event_base *base;
static etcd_client_t *cli;
static char *eps[3];
static size_t n_eps;
static long ticks;

typedef struct {
    int done, ok, succeeded;
    int64_t ttl, lease_id, revision, leader, member_id, deleted;
    size_t n_kvs;
    char value[256];
    char error[512];
    char endpoint[128];
    char version[32];
} res_t;

static void on_res(const etcd_result_t *r, void *arg)
{
    res_t *o = arg;

    memset(o, 0, sizeof *o);
    o->done = 1;
    o->ok = r->ok;
    o->succeeded = r->succeeded;
    o->ttl = r->ttl;
    o->lease_id = r->lease_id;
    o->revision = r->revision;
    o->leader = r->leader;
    o->member_id = r->member_id;
    o->deleted = r->deleted;
    o->n_kvs = r->n_kvs;
    if (r->n_kvs)
        snprintf(o->value, sizeof o->value, "%s", r->kvs[0].value);
    snprintf(o->error, sizeof o->error, "%s", r->error ? r->error : "");
    snprintf(o->endpoint, sizeof o->endpoint, "%s", r->endpoint ? r->endpoint : "");
    snprintf(o->version, sizeof o->version, "%s", r->version ? r->version : "");
    if (!r->ok)
        printf("\n  etcd: %s\n", o->error);
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    ticks++;
}

/* Run the loop until *flag is set or ms have passed. 1 when set. */
static int run_until(const int *flag, long ms)
{
    long end = now_ms() + ms;

    while (!*flag && now_ms() < end)
        event_base_loop(base, EVLOOP_ONCE);
    return *flag;
}

/* Run the loop for ms (time passing is what some tests are about). */
static void run_for(long ms)
{
    int never = 0;
    run_until(&never, ms);
}

/* Wait for the answer to the request just made; ready for the next one after. */
#define WAIT(res)                                           \
    do {                                                    \
        CU_ASSERT_FATAL(run_until(&(res).done, 20000));     \
        (res).done = 0;                                     \
    } while (0)

static etcd_client_t *client(char *const *list, size_t n, long timeout_ms)
{
    etcd_options_t o;
    char err[256];
    etcd_client_t *c;

    memset(&o, 0, sizeof o);
    o.endpoints = (const char *const *)list;
    o.n_endpoints = n;
    o.request_timeout_ms = timeout_ms;
    c = etcd_new(base, &o, err, sizeof err);
    if (!c)
        printf("\n  %s\n", err);
    return c;
}

static void test_put_range(void)
{
    res_t r = { 0 };

    etcd_put(cli, "t/a", "one", 0, on_res, &r);
    WAIT(r);
    CU_ASSERT(r.ok);
    CU_ASSERT(r.revision > 0);
    etcd_range(cli, "t/a", 0, on_res, &r);
    WAIT(r);
    CU_ASSERT(r.ok);
    CU_ASSERT_EQUAL(r.n_kvs, 1);
    CU_ASSERT_STRING_EQUAL(r.value, "one");
    etcd_put(cli, "t/b", "two", 0, on_res, &r);
    WAIT(r);
    etcd_range(cli, "t/", ETCD_PREFIX, on_res, &r);
    WAIT(r);
    CU_ASSERT_EQUAL(r.n_kvs, 2);
    etcd_range(cli, "t/missing", 0, on_res, &r);
    WAIT(r);
    CU_ASSERT(r.ok);
    CU_ASSERT_EQUAL(r.n_kvs, 0);
    etcd_delete(cli, "t/", ETCD_PREFIX, on_res, &r);
    WAIT(r);
    CU_ASSERT(r.ok);
    CU_ASSERT_EQUAL(r.deleted, 2);
    /* The member status names a leader and the 3.4 version. */
    etcd_status(cli, 0, on_res, &r);
    WAIT(r);
    CU_ASSERT(r.ok);
    CU_ASSERT(r.leader != 0);
    CU_ASSERT_NSTRING_EQUAL(r.version, "3.4.", 4);
}

static void test_create_if_absent(void)
{
    res_t r = { 0 };

    etcd_delete(cli, "t/c", 0, on_res, &r);
    WAIT(r);
    etcd_create(cli, "t/c", "first", 0, on_res, &r);
    WAIT(r);
    CU_ASSERT(r.ok);
    CU_ASSERT(r.succeeded);
    etcd_create(cli, "t/c", "second", 0, on_res, &r);
    WAIT(r);
    CU_ASSERT(r.ok);
    CU_ASSERT_FALSE(r.succeeded);
    CU_ASSERT_EQUAL(r.n_kvs, 1);
    CU_ASSERT_STRING_EQUAL(r.value, "first");
}

static void test_lease(void)
{
    res_t r = { 0 };
    int64_t id;
    long end;

    etcd_lease_grant(cli, 2, on_res, &r);
    WAIT(r);
    CU_ASSERT_FATAL(r.ok && r.lease_id != 0);
    CU_ASSERT_EQUAL(r.ttl, 2);
    id = r.lease_id;
    etcd_put(cli, "t/l", "alive", id, on_res, &r);
    WAIT(r);
    CU_ASSERT(r.ok);
    /* Kept alive for twice the TTL, the key stays. */
    for (end = now_ms() + 4500; now_ms() < end;) {
        etcd_lease_keepalive(cli, id, on_res, &r);
        WAIT(r);
        CU_ASSERT(r.ok);
        CU_ASSERT(r.ttl > 0);
        run_for(500);
    }
    etcd_range(cli, "t/l", 0, on_res, &r);
    WAIT(r);
    CU_ASSERT_EQUAL(r.n_kvs, 1);
    /* Revoked, it is gone at once. */
    etcd_lease_revoke(cli, id, on_res, &r);
    WAIT(r);
    CU_ASSERT(r.ok);
    etcd_range(cli, "t/l", 0, on_res, &r);
    WAIT(r);
    CU_ASSERT_EQUAL(r.n_kvs, 0);
    etcd_lease_keepalive(cli, id, on_res, &r);
    WAIT(r);
    CU_ASSERT_EQUAL(r.ttl, 0); /* the lease is gone */

    /* Not kept alive, it expires and takes the key along. */
    etcd_lease_grant(cli, 1, on_res, &r);
    WAIT(r);
    id = r.lease_id;
    etcd_put(cli, "t/e", "short", id, on_res, &r);
    WAIT(r);
    CU_ASSERT(r.ok);
    for (end = now_ms() + 10000; now_ms() < end;) {
        etcd_range(cli, "t/e", 0, on_res, &r);
        WAIT(r);
        if (r.n_kvs == 0)
            break;
        run_for(100);
    }
    CU_ASSERT_EQUAL(r.n_kvs, 0);
    /* A put under a lease that is gone fails with etcd's message. */
    etcd_put(cli, "t/e", "late", id, on_res, &r);
    WAIT(r);
    CU_ASSERT_FALSE(r.ok);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.error, "lease not found"));
}

/* ---- watches ---------------------------------------------------------------- */

typedef struct {
    int created, broken, n;
    char ev[32][64]; /* "put KEY VALUE" / "del KEY" */
} wlog_t;

static void on_watch(const etcd_watch_update_t *u, void *arg)
{
    wlog_t *w = arg;

    if (u->kind == ETCD_WATCH_CREATED)
        w->created++;
    if (u->kind == ETCD_WATCH_BROKEN)
        w->broken++;
    for (size_t i = 0; i < u->n_events && w->n < 32; i++, w->n++)
        snprintf(w->ev[w->n], sizeof w->ev[w->n], "%s %s%s%s",
                 u->events[i].is_delete ? "del" : "put", u->events[i].kv.key,
                 u->events[i].is_delete ? "" : " ", u->events[i].is_delete ? "" : u->events[i].kv.value);
}

static int have_events(const wlog_t *w, int n)
{
    return w->n >= n;
}

static int run_until_events(const wlog_t *w, int n, long ms)
{
    long end = now_ms() + ms;
    while (!have_events(w, n) && now_ms() < end)
        event_base_loop(base, EVLOOP_ONCE);
    return have_events(w, n);
}

static void test_watch(void)
{
    wlog_t log;
    etcd_watch_t *w;
    res_t r = { 0 };

    memset(&log, 0, sizeof log);
    w = etcd_watch(cli, "w/", ETCD_PREFIX, 0, on_watch, &log);
    CU_ASSERT_FATAL(w != NULL);
    CU_ASSERT_FATAL(run_until(&log.created, 20000));
    etcd_put(cli, "w/1", "a", 0, on_res, &r);
    WAIT(r);
    etcd_put(cli, "w/2", "b", 0, on_res, &r);
    WAIT(r);
    etcd_put(cli, "x/3", "not watched", 0, on_res, &r);
    WAIT(r);
    etcd_delete(cli, "w/1", 0, on_res, &r);
    WAIT(r);
    CU_ASSERT_FATAL(run_until_events(&log, 3, 20000));
    CU_ASSERT_STRING_EQUAL(log.ev[0], "put w/1 a");
    CU_ASSERT_STRING_EQUAL(log.ev[1], "put w/2 b");
    CU_ASSERT_STRING_EQUAL(log.ev[2], "del w/1");
    run_for(200);
    CU_ASSERT_EQUAL(log.n, 3);
    etcd_watch_cancel(w);
}

/* A member that accepts connections and never answers: the loop keeps turning, the
 * request times out there and goes to the next endpoint. */
static void test_slow_endpoint(void)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char hole[64];
    char *list[2];
    etcd_client_t *c;
    res_t r = { 0 };
    long before;

    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(fd, 8) == 0);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    snprintf(hole, sizeof hole, "http://127.0.0.1:%d", ntohs(sa.sin_port));
    list[0] = hole;
    list[1] = eps[n_eps - 1];
    c = client(list, 2, 1500);
    CU_ASSERT_FATAL(c != NULL);
    before = ticks;
    etcd_put(c, "t/slow", "v", 0, on_res, &r);
    WAIT(r);
    CU_ASSERT(r.ok);
    CU_ASSERT_STRING_EQUAL(r.endpoint, eps[n_eps - 1]);
    CU_ASSERT_STRING_EQUAL(etcd_current_endpoint(c), eps[n_eps - 1]);
    /* 1.5 s stalled on the silent member: the 20 ms ticker ran all along. */
    printf("\n  ticks during the stalled request: %ld\n", ticks - before);
    CU_ASSERT(ticks - before >= 10);
    etcd_free(c);
    close(fd);
}

/* Kill the first member: requests and a watch move to the others; the watch resumes
 * where it stopped, losing nothing. */
static void test_failover(void)
{
    const char *pid_s = getenv("ETCD_KILL_PID");
    pid_t pid = pid_s ? (pid_t)atoi(pid_s) : 0;
    wlog_t log;
    etcd_watch_t *w;
    res_t r = { 0 };
    char path[64];
    long end;

    CU_ASSERT_FATAL(pid > 0);
    CU_ASSERT_STRING_EQUAL(etcd_current_endpoint(cli), eps[0]);
    memset(&log, 0, sizeof log);
    w = etcd_watch(cli, "f/", ETCD_PREFIX, 0, on_watch, &log);
    CU_ASSERT_FATAL(run_until(&log.created, 20000));
    etcd_put(cli, "f/before", "1", 0, on_res, &r);
    WAIT(r);
    CU_ASSERT_FATAL(run_until_events(&log, 1, 20000));

    CU_ASSERT_FATAL(kill(pid, SIGKILL) == 0);
    /* Gone (or a zombie of the shell, whose sockets are closed too). */
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    for (end = now_ms() + 10000; now_ms() < end;) {
        FILE *f = fopen(path, "r");
        char st = 'Z';
        if (f) {
            if (fscanf(f, "%*d %*s %c", &st) != 1)
                st = 'Z';
            fclose(f);
        }
        if (st == 'Z')
            break;
        run_for(20);
    }
    etcd_put(cli, "f/after", "2", 0, on_res, &r);
    WAIT(r);
    CU_ASSERT(r.ok);
    CU_ASSERT_STRING_NOT_EQUAL(r.endpoint, eps[0]);
    etcd_range(cli, "f/", ETCD_PREFIX, on_res, &r);
    WAIT(r);
    CU_ASSERT(r.ok);
    CU_ASSERT_EQUAL(r.n_kvs, 2);
    /* The watch broke, came back on another member and delivered the put made
     * while it was down, once. */
    CU_ASSERT_FATAL(run_until_events(&log, 2, 20000));
    CU_ASSERT(log.broken >= 1);
    CU_ASSERT(log.created >= 2);
    CU_ASSERT_STRING_EQUAL(log.ev[1], "put f/after 2");
    run_for(300);
    CU_ASSERT_EQUAL(log.n, 2);
    etcd_watch_cancel(w);
}

/* ---- authentication (run after the shell enabled it) ---------------------- */

static etcd_client_t *auth_client(const char *user, const char *password)
{
    etcd_options_t o;
    char err[256];

    memset(&o, 0, sizeof o);
    o.endpoints = (const char *const *)eps;
    o.n_endpoints = n_eps;
    o.user = user;
    o.password = password;
    return etcd_new(base, &o, err, sizeof err);
}

static void test_auth(void)
{
    const char *user = getenv("ETCD_AUTH_USER"), *pw = getenv("ETCD_AUTH_PASSWORD");
    etcd_client_t *c;
    res_t r = { 0 };
    wlog_t log;
    etcd_watch_t *w;

    CU_ASSERT_FATAL(user && pw);
    /* No credentials: etcd refuses, the client says why. */
    etcd_put(cli, "a/x", "v", 0, on_res, &r);
    WAIT(r);
    CU_ASSERT_FALSE(r.ok);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.error, "user name is empty"));
    /* The right password: a token, then requests and a watch with it. */
    c = auth_client(user, pw);
    CU_ASSERT_FATAL(c != NULL);
    memset(&log, 0, sizeof log);
    w = etcd_watch(c, "a/", ETCD_PREFIX, 0, on_watch, &log);
    etcd_put(c, "a/x", "v", 0, on_res, &r);
    WAIT(r);
    CU_ASSERT(r.ok);
    etcd_range(c, "a/x", 0, on_res, &r);
    WAIT(r);
    CU_ASSERT_STRING_EQUAL(r.value, "v");
    CU_ASSERT(run_until(&log.created, 20000));
    etcd_put(c, "a/y", "w", 0, on_res, &r);
    WAIT(r);
    CU_ASSERT(run_until_events(&log, 1, 20000));
    /* Outside the role's keys: permission denied, not a crash or a retry loop. */
    etcd_put(c, "b/x", "v", 0, on_res, &r);
    WAIT(r);
    CU_ASSERT_FALSE(r.ok);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.error, "permission denied"));
    etcd_watch_cancel(w);
    etcd_free(c);
    /* A wrong password: every waiting request fails, and the password is in no
     * message. */
    c = auth_client(user, "not-the-password-xyz");
    etcd_put(c, "a/x", "v", 0, on_res, &r);
    WAIT(r);
    CU_ASSERT_FALSE(r.ok);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.error, "authentication failed"));
    CU_ASSERT_PTR_NULL(strstr(r.error, "not-the-password-xyz"));
    etcd_free(c);
}

int main(void)
{
    const char *env = getenv("ETCD_ENDPOINTS");
    char *list, *tok, *save = NULL;
    struct event *tick;
    struct timeval tv = { 0, 20000 };
    CU_pSuite s;
    int rc;

    if (!env || !*env) {
        fprintf(stderr, "etcd_client_test: set ETCD_ENDPOINTS (tests/it_etcd_client.sh does)\n");
        return 2;
    }
    list = strdup(env);
    for (tok = strtok_r(list, ",", &save); tok && n_eps < 3; tok = strtok_r(NULL, ",", &save))
        eps[n_eps++] = tok;
    base = event_base_new();
    tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
    event_add(tick, &tv);
    cli = client(eps, n_eps, 3000);
    if (!cli)
        return 2;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    s = CU_add_suite("etcd client", NULL, NULL);
    if (getenv("ETCD_AUTH_USER")) { /* second run, authentication enabled */
        if (!s || !CU_add_test(s, "user and password", test_auth)) {
            CU_cleanup_registry();
            return 2;
        }
    } else if (!s || !CU_add_test(s, "put and range", test_put_range) ||
        !CU_add_test(s, "txn create-if-absent", test_create_if_absent) ||
        !CU_add_test(s, "lease keepalive, revoke, expiry", test_lease) ||
        !CU_add_test(s, "watch streams puts and deletes", test_watch) ||
        !CU_add_test(s, "silent member: loop turns, next endpoint", test_slow_endpoint) ||
        !CU_add_test(s, "first member killed: failover", test_failover)) {
        CU_cleanup_registry();
        return 2;
    }
    rc = cu_run_all();
    etcd_free(cli);
    event_free(tick);
    event_base_free(base);
    free(list);
    return rc;
}
