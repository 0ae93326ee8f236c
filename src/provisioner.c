/* provisioner.c - provisioning from inside the supervisor: at start, on reload,
 * retried with backoff, and each worker's own credentials in its environment.
 *
 * prov_apply() is blocking (libpq and hiredis synchronous APIs with 10 s connect and
 * command timeouts), so it never runs on the supervisor's loop: each run is a child
 * process forked for it, which writes the credential files, reports its first error
 * through a pipe and exits 0 or 1. The loop goes on probing, restarting and answering
 * meanwhile; the child is reaped by the supervisor's waitpid loop, which hands it to
 * provisioner_reaped(). Starts wait while a run is in progress (it may be rewriting
 * the credential files); after it, the per-instance gate is the credential file: an
 * instance provisioned by an earlier run starts even while the servers are down.
 *
 * In cluster mode each run first takes the etcd lock <name>/locks/provision (one node
 * provisions at a time) and covers only the instances this node runs (pinned here or
 * owned); a role another node holds keeps its password (PROV_CLUSTER). A claimed
 * instance gets its own new passwords from cluster.c before it starts. */
#include "config.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "log.h"
#include "policy.h"
#include "provision.h"
#include "provisioner.h"
#include "spawn.h"
#include "xalloc.h"

#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 60000

/* The provisioner of one supervisor (provisioner_new); the supervisor's `prov`
 * counters are written only here. */
struct provisioner {
    supervisor_t *sup;
    struct event *retry_ev;
    long retry_ms;
    pid_t run_pid;      /* the provisioning child, or 0 */
    int run_fd;         /* read end of its error pipe, -1: none */
    int run_again;      /* a reload came while it ran: run once more after it */
    int locking;        /* waiting for the cluster's provisioning lock */
    unsigned cache_gen; /* bumped when a run starts or ends: cached files stale */
};

/* An instance's credentials as last read (sup_instance_t.prov_cache); owns the URLs. */
typedef struct prov_cache {
    unsigned gen;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    int rc;       /* prov_worker_urls()'s result, and its errno when -1 */
    int err;
    char *pg, *redis;
} prov_cache_t;

static void cache_clear(prov_cache_t *c)
{
    if (c->pg) {
        explicit_bzero(c->pg, strlen(c->pg));
        free(c->pg);
    }
    if (c->redis) {
        explicit_bzero(c->redis, strlen(c->redis));
        free(c->redis);
    }
    c->pg = c->redis = NULL;
}

static void forget(void *ctx, supervisor_t *sup, sup_instance_t *in)
{
    (void)ctx, (void)sup;
    if (in->prov_cache) {
        cache_clear(in->prov_cache);
        free(in->prov_cache);
        in->prov_cache = NULL;
    }
}

/* in's credentials: from memory while the file is the one read last, else read now. */
static const prov_cache_t *cached_urls(provisioner_t *pv, sup_instance_t *in)
{
    supervisor_t *sup = pv->sup;
    prov_cache_t *c = in->prov_cache;
    char *path;
    struct stat st;
    int st_rc, st_err;

    if (!c)
        c = in->prov_cache = xcalloc(1, sizeof(*c));
    path = prov_credentials_path(sup->inv, in->name);
    if (path) {
        st_rc = stat(path, &st);
        st_err = errno;
        free(path);
    } else {
        st_rc = -1; /* no state_dir: no credential file either */
        st_err = ENOENT;
    }
    if (st_rc < 0) {
        /* No file (yet): nothing to keep; the next start looks again. */
        cache_clear(c);
        c->gen = 0;
        c->rc = -1;
        c->err = st_err;
        return c;
    }
    if (c->gen == pv->cache_gen && c->dev == st.st_dev && c->ino == st.st_ino &&
        c->size == st.st_size && c->mtime.tv_sec == st.st_mtim.tv_sec &&
        c->mtime.tv_nsec == st.st_mtim.tv_nsec)
        return c;
    cache_clear(c);
    c->rc = prov_worker_urls(sup->inv, in->cfg, &c->pg, &c->redis);
    c->err = c->rc < 0 ? errno : 0;
    /* Only an answer the file itself gives is kept: a failure to read it (EMFILE,
     * ENOMEM, EIO) is tried again at the next start. */
    c->gen = c->rc == 0 || c->err == ESTALE ? pv->cache_gen : 0;
    c->dev = st.st_dev;
    c->ino = st.st_ino;
    c->size = st.st_size;
    c->mtime = st.st_mtim;
    return c;
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    provisioner_run(arg);
}

/* A run ended: err is empty on success, else the reason. */
static void finish(provisioner_t *pv, const char *err)
{
    supervisor_t *sup = pv->sup;
    struct timeval tv;

    cluster_unlock_provision(); /* nothing outside cluster mode */
    sup->prov.running = 0;
    sup->prov.runs++;
    sup->changes++;
    pv->cache_gen++; /* the run may have rewritten any credential file */
    snprintf(sup->prov.last_error, sizeof(sup->prov.last_error), "%s", err);
    if (err[0]) {
        sup->prov.failures++;
        sup->prov.last_failure = time(NULL);
    } else {
        sup->prov.last_success = time(NULL);
        pv->retry_ms = RETRY_MIN_MS;
        log_info("provisioning done", "instances", LOG_INT(sup->inv->ninstances));
    }
    if (sup->shutting_down)
        return;
    if (pv->run_again) {
        pv->run_again = 0;
        provisioner_run(pv);
    } else if (err[0]) {
        log_error("provisioning failed, will retry", "error", err, "retry_in_ms",
                  LOG_INT(pv->retry_ms));
        if (!pv->retry_ev)
            pv->retry_ev = evtimer_new(sup->base, retry_cb, pv);
        tv.tv_sec = pv->retry_ms / 1000;
        tv.tv_usec = (pv->retry_ms % 1000) * 1000;
        if (pv->retry_ev)
            evtimer_add(pv->retry_ev, &tv);
        pv->retry_ms = pv->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : pv->retry_ms * 2;
    }
    /* Instances waiting for their credentials; after a failure, those provisioned by
     * an earlier run. */
    sup_wake_waiting(sup);
}

static void fork_run(provisioner_t *pv);

/* The cluster's provisioning lock is ours now. */
static void locked(void *arg)
{
    provisioner_t *pv = arg;

    pv->locking = 0;
    if (pv->sup->shutting_down || !pv->sup->inv->provision) {
        cluster_unlock_provision();
        pv->sup->prov.running = 0;
        return;
    }
    fork_run(pv);
}

void provisioner_run(provisioner_t *pv)
{
    supervisor_t *sup = pv->sup;

    if (!sup->inv->provision || sup->shutting_down)
        return;
    if (pv->run_pid) {
        pv->run_again = 1; /* it works from the inventory it was forked with */
        return;
    }
    if (pv->locking)
        return; /* the run forks once the lock comes, with the inventory of then */
    if (pv->retry_ev)
        event_del(pv->retry_ev);
    if (cluster_lock_provision(locked, pv)) {
        pv->locking = 1;
        sup->prov.running = 1; /* starts that need a run's files wait as for one */
        sup->changes++;
        return;
    }
    fork_run(pv);
}

/* The instances this run covers: NULL (every one) outside cluster mode, else those
 * this node runs, NULL-terminated; names borrowed from sup's table. */
static const char **run_list(supervisor_t *sup)
{
    const char **only;
    size_t n = 0;

    if (!cluster_mode())
        return NULL;
    only = xcalloc(sup->ninst + 1, sizeof(*only));
    for (size_t i = 0; i < sup->ninst; i++)
        if (cluster_runs_here(sup, sup->inst[i]))
            only[n++] = sup->inst[i]->name;
    return only;
}

static void fork_run(provisioner_t *pv)
{
    supervisor_t *sup = pv->sup;
    char err[512];
    int fds[2];
    pid_t pid;
    const char **only;

    pv->cache_gen++; /* a new inventory: roles, paths may differ */
    if (pipe2(fds, O_CLOEXEC) < 0) {
        snprintf(err, sizeof(err), "cannot start a provisioning process: %s", strerror(errno));
        finish(pv, err);
        return;
    }
    only = run_list(sup);
    pid = spawn_helper(fds[1]); /* it closes every other descriptor, fds[0] too */
    if (pid == 0) {
        err[0] = '\0';
        close(fds[0]);
        if (prov_apply_only(sup->inv, only ? PROV_CLUSTER : 0, only, err, sizeof(err)) == 0)
            _exit(0);
        if (write(fds[1], err, strlen(err)) < 0)
            _exit(2);
        _exit(1);
    }
    close(fds[1]);
    free(only);
    if (pid < 0) {
        snprintf(err, sizeof(err), "cannot start a provisioning process: %s", strerror(errno));
        close(fds[0]);
        finish(pv, err);
        return;
    }
    pv->run_pid = pid;
    pv->run_fd = fds[0];
    sup->prov.running = 1;
    sup->changes++;
    log_info("provisioning started", "pid", LOG_INT(pid), "instances",
             LOG_INT(sup->inv->ninstances));
}

static int reaped(void *ctx, supervisor_t *sup, pid_t pid, int status)
{
    provisioner_t *pv = ctx;
    char err[512];
    ssize_t n;

    (void)sup;
    if (pv->run_pid == 0 || pid != pv->run_pid)
        return 0;
    /* The child has exited: whatever it wrote is in the pipe. */
    n = read(pv->run_fd, err, sizeof(err) - 1);
    err[n > 0 ? n : 0] = '\0';
    close(pv->run_fd);
    pv->run_fd = -1;
    pv->run_pid = 0;
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) && !err[0])
        pol_describe_exit(status, err, sizeof(err));
    finish(pv, err);
    return 1;
}

static void stopping(void *ctx, supervisor_t *sup, int sig)
{
    provisioner_t *pv = ctx;

    (void)sup;
    if (pv->run_pid)
        kill(pv->run_pid, sig); /* on SIGTERM its open transactions roll back */
}

static int busy(void *ctx, supervisor_t *sup)
{
    (void)sup;
    return ((provisioner_t *)ctx)->run_pid != 0;
}

static void reloaded(void *ctx, supervisor_t *sup)
{
    (void)sup;
    provisioner_run(ctx); /* new and changed instances need their credentials */
}

/* NULL when in may start as far as provisioning goes: provisioning is off, or no run
 * is in progress and its credential file is there and names its current role. */
static const char *may_start(void *ctx, supervisor_t *sup, sup_instance_t *in)
{
    provisioner_t *pv = ctx;
    const prov_cache_t *c;

    if (!sup->inv->provision)
        return NULL;
    /* A run in progress may be rewriting this instance's file (new role, new server
     * address after a reload): start from what it leaves, as the old synchronous order
     * did. Only starts wait; the loop goes on. */
    if (pv->run_pid)
        return "provisioning";
    c = cached_urls(pv, in);
    return c->rc == 0 ? NULL : "provisioning";
}

static void replace(char **env, const char *name, const char *value)
{
    size_t n = strlen(name);
    for (char **e = env; *e; e++) {
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') {
            char *s = xasprintf("%s=%s", name, value);
            /* The old value is the admin URL: do not leave it lying in freed memory. */
            explicit_bzero(*e, strlen(*e));
            free(*e);
            *e = s;
        }
    }
}

/* With provisioning on, POSTGRES_URL and REDIS_URL become the instance's own; a
 * worker without them must not start (the admin URLs would break the walls). */
static int worker_env(void *ctx, supervisor_t *sup, sup_instance_t *in, char **env,
                      char *err, size_t errlen)
{
    const prov_cache_t *c;

    if (!sup->inv->provision)
        return 0;
    c = cached_urls(ctx, in);
    if (c->rc < 0) {
        snprintf(err, errlen, "not provisioned yet (%s)",
                 c->err == ESTALE ? "credentials are for another role" : strerror(c->err));
        errno = c->err;
        return -1;
    }
    if (c->pg)
        replace(env, "POSTGRES_URL", c->pg);
    if (c->redis)
        replace(env, "REDIS_URL", c->redis);
    return 0;
}

provisioner_t *provisioner_new(supervisor_t *sup)
{
    static const sup_hooks_t hooks = {
        .freed = forget, .reloaded = reloaded, .may_start = may_start,
        .worker_env = worker_env, .reaped = reaped, .busy = busy, .stopping = stopping,
    };
    provisioner_t *pv = xcalloc(1, sizeof(*pv));

    pv->sup = sup;
    pv->retry_ms = RETRY_MIN_MS;
    pv->run_fd = -1;
    pv->cache_gen = 1;
    if (sup_add_hooks(sup, &hooks, pv) < 0) {
        free(pv);
        return NULL;
    }
    return pv;
}

void provisioner_free(provisioner_t *pv)
{
    if (!pv)
        return;
    /* The cached credentials of every entry: the table outlives this provisioner
     * (its freed hook is gone with it). */
    for (size_t i = 0; i < pv->sup->ninst; i++)
        forget(pv, pv->sup, pv->sup->inst[i]);
    if (pv->run_pid) {
        int status;
        kill(pv->run_pid, SIGKILL);
        while (waitpid(pv->run_pid, &status, 0) < 0 && errno == EINTR)
            ;
        pv->run_pid = 0;
    }
    if (pv->locking)
        cluster_unlock_provision();
    if (pv->run_fd >= 0)
        close(pv->run_fd);
    if (pv->retry_ev)
        event_free(pv->retry_ev);
    free(pv);
}
