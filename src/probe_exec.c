/* probe_exec.c - exec health probes, spawned and reaped like workers, on the loop.
 *
 * A probe is one entry in a module-wide list: the supervisor's SIGCHLD loop reaps every
 * child and hands pids it does not know to pexec_reaped(), which finds the entry here.
 * The result is delivered from a zero timer of the entry, so the prober's callback
 * (which may restart the instance) never runs inside the waitpid loop. At the timeout
 * the probe's process group (it leads its own session) is killed; at its end whatever
 * it left in that group is killed too, so no probe process outlives its verdict. */
#include "config.h"

#include "probe_exec.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "placeholder.h"
#include "probe_verdict.h"
#include "sup_spawn.h"
#include "spawn.h"
#include "xalloc.h"

/* Output kept per probe: the first line is the message, the rest is read and dropped
 * so that a chatty command never blocks on a full pipe. */
#define OUT_KEEP 1024

struct pexec {
    struct pexec *next;
    pid_t pid;                 /* 0 once reaped */
    int status;
    int out_fd, report_fd;     /* -1 when closed */
    struct event *out_ev;
    struct event *timer;       /* the timeout, then the zero timer that delivers */
    int timed_out, reaped, cancelled;
    long timeout_ms;
    pexec_done_fn done;
    void *arg;
    char out[OUT_KEEP];
    size_t len;
};

static pexec_t *all; /* every entry whose process is not reaped yet, or not delivered */
static size_t nrunning;

static void unlink_entry(pexec_t *x)
{
    for (pexec_t **pp = &all; *pp; pp = &(*pp)->next)
        if (*pp == x) {
            *pp = x->next;
            return;
        }
}

static void close_out(pexec_t *x)
{
    if (x->out_ev) {
        event_free(x->out_ev);
        x->out_ev = NULL;
    }
    if (x->out_fd >= 0) {
        close(x->out_fd);
        x->out_fd = -1;
    }
}

static void entry_free(pexec_t *x)
{
    unlink_entry(x);
    close_out(x);
    if (x->timer)
        event_free(x->timer);
    if (x->report_fd >= 0)
        close(x->report_fd);
    free(x);
}

static void read_out(pexec_t *x)
{
    char buf[4096];
    ssize_t n;

    while (x->out_fd >= 0) {
        n = read(x->out_fd, buf, sizeof buf);
        if (n > 0) {
            size_t k = (size_t)n < OUT_KEEP - x->len ? (size_t)n : OUT_KEEP - x->len;
            memcpy(x->out + x->len, buf, k);
            x->len += k;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 || errno != EAGAIN) /* EWOULDBLOCK is EAGAIN on Linux */
            close_out(x);
        return;
    }
}

static void out_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    read_out(arg);
}

static void kill_group(pid_t pid)
{
    if (pid > 0 && kill(-pid, SIGKILL) < 0 && errno == ESRCH)
        kill(pid, SIGKILL);
}

/* The timeout (not reaped yet), or the delivery (reaped). */
static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    pexec_t *x = arg;
    char msg[256], err[200] = "";
    health_status_t h;

    (void)fd, (void)what;
    if (!x->reaped) {
        x->timed_out = 1;
        kill_group(x->pid);
        return;
    }
    if (!x->cancelled && x->done) {
        read_out(x);
        if (x->report_fd >= 0 && spawn_report(x->report_fd, err, sizeof err, NULL) == 0) {
            snprintf(msg, sizeof msg, "cannot run the health command: %.200s", err);
            h = HEALTH_UNHEALTHY;
        } else {
            h = pv_judge_exit(x->status, x->timed_out, x->timeout_ms, x->out, x->len, msg,
                              sizeof msg);
        }
        x->done(x->arg, h, msg);
    }
    entry_free(x);
}

int pexec_reaped(pid_t pid, int status)
{
    struct timeval now = { 0, 0 };

    for (pexec_t *x = all; x; x = x->next) {
        if (x->pid != pid || x->reaped)
            continue;
        /* Whatever it forked goes with it, before the number can be reused. */
        kill(-pid, SIGKILL);
        x->reaped = 1;
        x->status = status;
        nrunning--;
        evtimer_del(x->timer);
        evtimer_add(x->timer, &now);
        return 1;
    }
    return 0;
}

void pexec_cancel(pexec_t *x)
{
    if (!x)
        return;
    x->cancelled = 1;
    x->done = NULL;
    close_out(x);
    if (!x->reaped) {
        kill_group(x->pid);
        evtimer_del(x->timer); /* the reap will arm it again, to free the entry */
    }
}

int pexec_owns(pid_t pid)
{
    for (pexec_t *x = all; x; x = x->next)
        if (pid > 0 && x->pid == pid && !x->reaped)
            return 1;
    return 0;
}

size_t pexec_running(void)
{
    return nrunning;
}

pexec_t *pexec_start(supervisor_t *sup, sup_instance_t *in, long timeout_ms,
                     pexec_done_fn done, void *arg, char *err, size_t errlen)
{
    const inv_instance_t *cfg = in->cfg;
    pexec_t *x;
    char **env = NULL, **argv = NULL, path[4096];
    const char *path_env = NULL;
    spawn_cred_t cred;
    spawn_req_t req;
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    ph_values_t v;
    int fds[2] = { -1, -1 };

    if (!cfg || !cfg->policy.health_command || !cfg->policy.health_command[0]) {
        snprintf(err, errlen, "no health_command");
        return NULL;
    }
    /* Resolved at the inventory's load: a probe never waits on a directory server. */
    if (sup_instance_cred(in, &cred, err, errlen) < 0)
        return NULL;
    ph_values_of(cfg, &v);
    if (!(argv = ph_expand_strv(NULL, cfg->policy.health_command, &v, err, errlen)))
        return NULL;
    x = xcalloc(1, sizeof *x);
    x->out_fd = x->report_fd = -1;
    /* The worker's own environment, its placeholders and credentials included. */
    if (!(env = sup_spawn_env(sup, in, NULL, err, errlen)))
        goto fail;
    for (char **e = env; *e; e++)
        if (strncmp(*e, "PATH=", 5) == 0)
            path_env = *e + 5;
    if (spawn_resolve(argv[0], path_env, path, sizeof path, err, errlen) < 0)
        goto fail;
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto fail;
    }
    x->timer = evtimer_new(sup->base, timer_cb, x);
    x->out_ev = event_new(sup->base, fds[0], EV_READ | EV_PERSIST, out_cb, x);
    if (!x->timer || !x->out_ev) {
        snprintf(err, errlen, "cannot create the probe's events");
        goto fail;
    }
    x->out_fd = fds[0];
    fds[0] = -1;
    req.path = path;
    req.argv = argv;
    req.envp = env;
    req.cwd = cfg->data_dir;
    req.out_fd = fds[1];
    req.cred = &cred;
    x->pid = spawn_run(&req, &x->report_fd, err, errlen);
    close(fds[1]);
    fds[1] = -1;
    if (x->pid < 0) {
        x->pid = 0;
        goto fail;
    }
    x->timeout_ms = timeout_ms;
    x->done = done;
    x->arg = arg;
    x->next = all;
    all = x;
    nrunning++;
    event_add(x->out_ev, NULL);
    evtimer_add(x->timer, &tv);
    inv_strv_free(argv);
    inv_strv_free(env);
    return x;
fail:
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    entry_free(x);
    inv_strv_free(argv);
    inv_strv_free(env);
    return NULL;
}
