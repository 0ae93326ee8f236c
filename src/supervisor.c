/* supervisor.c - the master process: the instance table, its event loop, and reload. */
#include "config.h"

#include "supervisor.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "checkconf.h"
#include "detach.h"
#include "evglue.h"
#include "log.h"
#include "logcap.h"
#include "monitor.h"
#include "notify.h"
#include "placeholder.h"
#include "policy.h"
#include "portcheck.h"
#include "probe_conf.h"
#include "probe_exec.h"
#include "provisioner.h"
#include "spawn.h"
#include "xalloc.h"

/* Event priorities: signals and timers (restarts, stop deadlines) before log reads,
 * so a worker flooding its stdout cannot delay another instance's restart. */
#define PRIO_CONTROL 0
#define PRIO_LOGS    1

/* Private state of one entry (sup_instance_t.priv), owned by the entry. */
typedef struct inst_priv {
    supervisor_t *sup;
    sup_instance_t *in;
    struct event *restart_ev;   /* backoff delay */
    struct event *stop_ev;      /* stop_timeout after SIGTERM */
    struct event *ready_ev;     /* ready_after, for instances without health_path */
    struct event *exec_ev;      /* the exec report pipe of a process just forked */
    int exec_fd;                /* its read end, -1: no exec pending */
    char exec_err[200];         /* the child failed before exec: why */
    int exec_errno;             /* and its errno (0: unknown) */
    pol_track_t track;
    /* What a start deferred for want of the supervisor's resources gives back: the
     * start-limit window, the counters and the manual flag as they were before it. */
    pol_track_t track_before;
    unsigned long starts_before, restarts_before;
    unsigned manual_before : 1;
    unsigned plain_before : 1;
    unsigned res_short : 1;     /* starts are deferred: the supervisor is short of fds... */
    unsigned res_retries;       /* deferred starts in this episode */
    char port_note[112];        /* at the last start its port was held: by whom; "" */
    /* user/group resolved once per inventory load (resolve_creds), so that no start
     * waits on NSS (a remote directory may take seconds); cred_err: why not. */
    spawn_cred_t cred;
    char cred_err[160];
    logcap_t *log;
    long stop_timeout_ms;       /* of the config the process was started with */
    unsigned restart_after_stop : 1; /* restart / changed by reload: start once exited */
    unsigned retiring : 1;      /* removed by a reload: free once exited */
    unsigned manual_next : 1;   /* the next spawn is manual: not counted in the start limit */
    unsigned plain_next : 1;    /* the next spawn is `instancectl start`: not a restart */
    unsigned kept : 1;          /* scratch flag of sup_reload */
    unsigned dirs_ready : 1;    /* volume dirs made for the current config: a restart
                                 * does not redo their mkdir/lstat/chown */
} inst_priv_t;

/* Private state of the supervisor (supervisor_t.priv). */
typedef struct sup_priv {
    struct event *sigs[4];
    struct event *log_ev;       /* stderr writable: flush the log queue (log.h) */
    sup_instance_t **retiring;  /* removed by a reload, still stopping; owned */
    size_t nretiring;
    int killing;                /* a second SIGTERM/SIGINT: SIGKILL everything */
    long long log_rate;         /* per-instance output bytes/s before dropping */
    detach_t detach;            /* orphans killed, not yet reaped (detach.h) */
} sup_priv_t;

#define PRIV(in) ((inst_priv_t *)(in)->priv)
#define SPRIV(sup) ((sup_priv_t *)(sup)->priv)

static void dispatch(supervisor_t *sup, sup_instance_t *in, pol_event_t ev, int wait_status,
                     int spawn_failed);
static void try_start(supervisor_t *sup, sup_instance_t *in);
static void shutdown_step(supervisor_t *sup);

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long ts_ms(const struct timespec *ts)
{
    return (long long)ts->tv_sec * 1000 + ts->tv_nsec / 1000000;
}

static struct timeval ms_tv(long ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    return tv;
}

const char *sup_state_name(sup_state_t s)
{
    static const char *const names[] = { "stopped", "waiting", "starting", "running",
                                         "stopping", "backoff", "failed" };
    return (unsigned)s <= SUP_FAILED ? names[s] : "unknown";
}

const char *health_status_name(health_status_t h)
{
    static const char *const names[] = { "unknown", "healthy", "degraded", "unhealthy" };
    return (unsigned)h <= HEALTH_UNHEALTHY ? names[h] : "unknown";
}

sup_instance_t *sup_find(supervisor_t *sup, const char *name)
{
    for (size_t i = 0; i < sup->ninst; i++)
        if (strcmp(sup->inst[i]->name, name) == 0)
            return sup->inst[i];
    return NULL;
}

/* ---- status ----------------------------------------------------------------------- */

static void update_status(supervisor_t *sup)
{
    size_t n[SUP_FAILED + 1] = { 0 };
    char text[256]; /* 7 counters of at most 20 digits and their words fit */

    for (size_t i = 0; i < sup->ninst; i++)
        n[sup->inst[i]->state]++;
    snprintf(text, sizeof(text), "%zu running, %zu starting, %zu waiting, %zu backoff, "
             "%zu failed, %zu stopping, %zu stopped", n[SUP_RUNNING], n[SUP_STARTING],
             n[SUP_WAITING], n[SUP_BACKOFF], n[SUP_FAILED], n[SUP_STOPPING], n[SUP_STOPPED]);
    notify_status(text);
}

static void set_state(sup_instance_t *in, sup_state_t s)
{
    if (in->state == s)
        return;
    log_debug("state", "instance", in->name, "from", sup_state_name(in->state), "to",
              sup_state_name(s));
    in->state = s;
    update_status(PRIV(in)->sup);
}

/* ---- timers ----------------------------------------------------------------------- */

static void restart_cb(evutil_socket_t fd, short what, void *arg)
{
    inst_priv_t *p = arg;
    (void)fd, (void)what;
    dispatch(p->sup, p->in, PEV_BACKOFF_DONE, 0, 0);
}

static void stop_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    inst_priv_t *p = arg;
    (void)fd, (void)what;
    dispatch(p->sup, p->in, PEV_STOP_TIMEOUT, 0, 0);
}

static void ready_cb(evutil_socket_t fd, short what, void *arg)
{
    inst_priv_t *p = arg;
    (void)fd, (void)what;
    dispatch(p->sup, p->in, PEV_READY, 0, 0);
}

static void arm(struct event *ev, long ms)
{
    struct timeval tv = ms_tv(ms < 0 ? 0 : ms);
    event_add(ev, &tv);
}

/* ---- entries ---------------------------------------------------------------------- */

/* A new entry for cfg (which must outlive it or be replaced by a reload). The entry
 * owns its name, its priv and everything in it. NULL on failure, logged. */
static sup_instance_t *entry_new(supervisor_t *sup, const inv_instance_t *cfg, size_t index)
{
    sup_instance_t *in = xcalloc(1, sizeof(*in));
    inst_priv_t *p = xcalloc(1, sizeof(*p));
    char err[256];
    const char *nc = getenv("NO_COLOR"); /* no-color.org: set and not empty */
    int colour = sup->foreground && isatty(1) && !(nc && *nc) ? (int)(index % 6) + 1 : 0;

    in->name = xstrdup(cfg->name);
    in->priv = p;
    in->cfg = cfg;
    in->last_exit_status = -1;
    p->sup = sup;
    p->in = in;
    p->exec_fd = -1;
    p->stop_timeout_ms = cfg->policy.stop_timeout_ms;
    p->restart_ev = evtimer_new(sup->base, restart_cb, p);
    p->stop_ev = evtimer_new(sup->base, stop_timeout_cb, p);
    p->ready_ev = evtimer_new(sup->base, ready_cb, p);
    if (!p->restart_ev || !p->stop_ev || !p->ready_ev)
        goto fail;
    event_priority_set(p->restart_ev, PRIO_CONTROL);
    event_priority_set(p->stop_ev, PRIO_CONTROL);
    event_priority_set(p->ready_ev, PRIO_CONTROL);
    p->log = logcap_new(sup->base, PRIO_LOGS, cfg->name, SPRIV(sup)->log_rate,
                        sup->foreground ? 1 : -1, colour, &in->log_dropped_bytes, err,
                        sizeof(err));
    if (!p->log) {
        log_error("cannot capture worker output", "instance", cfg->name, "error", err);
        goto fail;
    }
    return in;
fail:
    if (p->restart_ev)
        event_free(p->restart_ev);
    if (p->stop_ev)
        event_free(p->stop_ev);
    if (p->ready_ev)
        event_free(p->ready_ev);
    free(in->name);
    free(p);
    free(in);
    return NULL;
}

/* Free an entry with no process. Not from inside one of its own timer callbacks. */
static void entry_free(sup_instance_t *in)
{
    inst_priv_t *p;

    if (!in)
        return;
    p = PRIV(in);
    if (p->exec_ev)
        event_free(p->exec_ev);
    if (p->exec_fd >= 0)
        close(p->exec_fd);
    event_free(p->restart_ev);
    event_free(p->stop_ev);
    event_free(p->ready_ev);
    logcap_free(p->log);
    provisioner_forget(in);
    free(p);
    free(in->name);
    free(in);
}

/* The first dependency of in that is not ready, or NULL when all are. */
static const char *unready_dep(supervisor_t *sup, const sup_instance_t *in)
{
    for (size_t i = 0; i < in->cfg->ndeps; i++) {
        sup_instance_t *d = sup_find(sup, in->cfg->depends_on[i]);
        if (!d || d->state != SUP_RUNNING)
            return in->cfg->depends_on[i];
    }
    return NULL;
}

/* 1 when some other live process depends on in (shutdown stops dependents first). */
static int has_live_dependent(supervisor_t *sup, const sup_instance_t *in)
{
    for (size_t i = 0; i < sup->ninst; i++) {
        const sup_instance_t *o = sup->inst[i];
        if (o == in || o->pid == 0)
            continue;
        for (size_t k = 0; k < o->cfg->ndeps; k++)
            if (strcmp(o->cfg->depends_on[k], in->name) == 0)
                return 1;
    }
    return 0;
}

static void wake_waiting(supervisor_t *sup)
{
    for (size_t i = 0; i < sup->ninst; i++)
        if (sup->inst[i]->state == SUP_WAITING)
            try_start(sup, sup->inst[i]);
}

void sup_wake_waiting(supervisor_t *sup)
{
    wake_waiting(sup);
}

/* ---- spawning --------------------------------------------------------------------- */

/* Read the exec report of in's new process, if still pending (once the process has
 * exited the answer is always there). On a confirmed exec the start is logged and the
 * monitor told; on a failure the reason waits in exec_err for the reaper, which sees
 * the child's exit 127. The event is only deleted here (this may run inside its own
 * callback); do_spawn() and entry_free() free it. */
static void exec_settle(supervisor_t *sup, sup_instance_t *in)
{
    inst_priv_t *p = PRIV(in);
    int r;

    if (p->exec_fd < 0)
        return;
    r = spawn_report(p->exec_fd, p->exec_err, sizeof(p->exec_err), &p->exec_errno);
    if (r < 0)
        return;
    if (p->exec_ev)
        event_del(p->exec_ev);
    close(p->exec_fd);
    p->exec_fd = -1;
    if (r == 1) {
        p->exec_err[0] = '\0';
        log_info("worker started", "instance", in->name, "pid", LOG_INT(in->pid),
                 "restarts", LOG_INT(in->restarts));
        if (p->res_short)
            log_info("resources available again: start no longer deferred", "instance",
                     in->name, "deferred_starts", LOG_INT(p->res_retries));
        p->res_short = 0;
        p->res_retries = 0;
        if (!p->retiring)
            monitor_instance_started(sup, in);
    }
}

static void exec_cb(evutil_socket_t fd, short what, void *arg)
{
    inst_priv_t *p = arg;
    (void)fd, (void)what;
    exec_settle(p->sup, p->in);
}

/* Look every instance's user and group up, once per inventory load (start and each
 * reload, never per start): getpwnam_r/getgrnam_r may ask a directory server, which
 * must not stall restarts. A user added later is seen at the next reload. */
static void resolve_creds(supervisor_t *sup)
{
    for (size_t i = 0; i < sup->ninst; i++) {
        sup_instance_t *in = sup->inst[i];
        inst_priv_t *p = PRIV(in);

        p->cred_err[0] = '\0';
        if (spawn_lookup_cred(in->cfg->policy.user, in->cfg->policy.group, &p->cred,
                              p->cred_err, sizeof(p->cred_err)) < 0 && !p->cred_err[0])
            snprintf(p->cred_err, sizeof(p->cred_err), "user or group lookup failed");
    }
}

int sup_instance_cred(const sup_instance_t *in, spawn_cred_t *out, char *err, size_t errlen)
{
    const inst_priv_t *p = PRIV(in);

    if (p->cred_err[0]) {
        snprintf(err, errlen, "%s", p->cred_err);
        return -1;
    }
    *out = p->cred;
    return 0;
}

/* Undo the bookkeeping of a start that did not happen for want of the supervisor's
 * resources (see defer_start). */
static void uncount_start(sup_instance_t *in)
{
    inst_priv_t *p = PRIV(in);

    p->track = p->track_before;
    in->starts = p->starts_before;
    in->restarts = p->restarts_before;
    p->manual_next = p->manual_before;
    p->plain_next = p->plain_before;
}

/* The supervisor could not start in for want of its own resources (descriptors,
 * memory, processes: err): not the worker's failure. The start is retried after a
 * short delay that grows (policy.h), counts against no start limit and never makes
 * the instance failed; it is logged once per episode (again at debug level). */
static void defer_start(supervisor_t *sup, sup_instance_t *in, const char *err)
{
    inst_priv_t *p = PRIV(in);
    long ms = pol_resource_retry_ms(p->res_retries++);

    (void)sup;
    if (!p->res_short)
        log_warn("cannot start worker: the supervisor is short of resources; retrying, "
                 "not counted against the start limit", "instance", in->name, "error", err,
                 "retry_ms", LOG_INT(ms));
    else
        log_debug("start deferred again: short of resources", "instance", in->name,
                  "error", err, "retry_ms", LOG_INT(ms), "deferred_starts",
                  LOG_INT(p->res_retries));
    p->res_short = 1;
    in->pid = 0;
    in->ready = 0;
    event_del(p->ready_ev);
    snprintf(in->last_exit, sizeof(in->last_exit), "start deferred: %.70s", err);
    set_state(in, SUP_BACKOFF);
    arm(p->restart_ev, ms);
}

/* Before a start: is the instance's port already held by a listener, typically a
 * child of a worker of a previous supervisor that was killed without its workers? The
 * worker would then crash-loop on "Address already in use": say why, in the log (once
 * per holder) and, through port_note, in the exit message the status shows. Only
 * procfs is read (portcheck.c): nothing here blocks. */
static void check_port(sup_instance_t *in)
{
    inst_priv_t *p = PRIV(in);
    char note[sizeof(p->port_note)];
    int port = in->cfg->port;
    pid_t holder;

    if (port <= 0 || portcheck_listener("/proc", port, &holder) != 1) {
        p->port_note[0] = '\0';
        return;
    }
    if (holder > 0)
        snprintf(note, sizeof(note),
                 "port %d is held by another process (pid %ld, left from a previous run?)",
                 port, (long)holder);
    else
        snprintf(note, sizeof(note),
                 "port %d is held by another process (left from a previous run?)", port);
    if (strcmp(note, p->port_note) != 0)
        log_warn("the worker's port is already in use: it will likely fail to listen",
                 "instance", in->name, "port", LOG_INT(port), "holder_pid",
                 holder > 0 ? LOG_INT(holder) : "unknown", "message", note);
    memcpy(p->port_note, note, sizeof(note));
}

/* Build argv (owned by the caller, strings borrowed from cfg) and fork/exec.
 * 0 on success, -1 with the reason in err and *resource = 1 when the reason is the
 * supervisor's shortage of resources (the start is then not counted). */
static int do_spawn(supervisor_t *sup, sup_instance_t *in, char *err, size_t errlen,
                    int *resource)
{
    const inv_instance_t *cfg = in->cfg;
    inst_priv_t *p = PRIV(in);
    spawn_cred_t cred;
    spawn_req_t req;
    char path[4096], lerr[256];
    char **env = NULL, **argv = NULL;
    const char *path_env = NULL;
    pid_t pid;
    int report_fd;

    *resource = 0;
    p->track_before = p->track;
    p->starts_before = in->starts;
    p->restarts_before = in->restarts;
    p->manual_before = p->manual_next;
    if (!p->manual_next)
        pol_note_start(&p->track, &cfg->policy, mono_ms());
    p->manual_next = 0;
    /* restarts counts the automatic ones and `instancectl restart`; a start asked for
     * (after a stop, or of a failed instance) is a start. */
    p->plain_before = p->plain_next;
    if (in->starts++ > 0 && !p->plain_next)
        in->restarts++;
    p->plain_next = 0;
    p->stop_timeout_ms = cfg->policy.stop_timeout_ms;

    if (p->cred_err[0]) {
        snprintf(err, errlen, "%s", p->cred_err);
        return -1;
    }
    cred = p->cred;
    if (!p->dirs_ready &&
        spawn_prepare_dirs(cfg->data_dir, cfg->logs_dir, &cred, err, errlen) < 0) {
        if (pol_errno_is_resource(errno)) {
            *resource = 1;
            uncount_start(in);
        }
        return -1;
    }
    p->dirs_ready = 1;
    if (logcap_configure(p->log, cfg->logs_dir, cfg->policy.log_max_bytes,
                         cfg->policy.log_backups, lerr, sizeof(lerr)) < 0)
        log_warn("worker output will be dropped", "instance", in->name, "error", lerr);
    env = inv_worker_env(sup->inv, cfg, NULL);
    /* Placeholders (%i, %p, ...) in command, args and the inventory's env entries,
     * before the credentials join env (a password may hold a '%'). */
    errno = 0;
    if (ph_spawn_prepare(cfg, &argv, env, err, errlen) < 0 ||
        provisioner_worker_env(sup, in, env, err, errlen) < 0)
        goto fail;
    for (char **e = env; *e; e++)
        if (strncmp(*e, "PATH=", 5) == 0)
            path_env = *e + 5;
    if (spawn_resolve(argv[0], path_env, path, sizeof(path), err, errlen) < 0) {
        errno = 0; /* not found: the worker's configuration */
        goto fail;
    }
    check_port(in);
    {
        struct stat st;
        if (stat(path, &st) == 0) {
            in->exe_dev = st.st_dev;
            in->exe_ino = st.st_ino;
        } else {
            in->exe_dev = 0;
            in->exe_ino = 0;
        }
    }
    req.path = path;
    req.argv = argv;
    req.envp = env;
    req.cwd = cfg->data_dir;
    req.out_fd = logcap_child_fd(p->log);
    req.cred = &cred;
    pid = spawn_run(&req, &report_fd, err, errlen);
    if (pid < 0)
        goto fail;
    inv_strv_free(argv);
    inv_strv_free(env);

    /* The exec is confirmed (or refuted) by the report pipe, on the loop: a child slow
     * to be scheduled never stalls the supervisor. */
    p->exec_fd = report_fd;
    p->exec_err[0] = '\0';
    if (p->exec_ev)
        event_free(p->exec_ev); /* the previous start's, long settled */
    p->exec_ev = event_new(sup->base, report_fd, EV_READ | EV_PERSIST, exec_cb, p);
    if (!p->exec_ev || event_priority_set(p->exec_ev, PRIO_CONTROL) < 0 ||
        event_add(p->exec_ev, NULL) < 0)
        log_warn("cannot watch the exec of a worker", "instance", in->name);
    in->pid = pid;
    in->ready = 0;
    in->started_at = time(NULL);
    clock_gettime(CLOCK_MONOTONIC, &in->started_mono);
    in->waiting_for[0] = '\0';
    return 0;
fail:
    if (pol_errno_is_resource(errno)) {
        *resource = 1;
        uncount_start(in);
    }
    inv_strv_free(argv);
    inv_strv_free(env);
    return -1;
}

/* ---- the state machine driver ----------------------------------------------------- */

static void apply_exit_decision(supervisor_t *sup, sup_instance_t *in, int wait_status,
                                int spawn_failed)
{
    inst_priv_t *p = PRIV(in);
    long long now = mono_ms();
    long long up = spawn_failed ? 0 : now - ts_ms(&in->started_mono);
    pol_decision_t d;

    event_del(p->ready_ev);
    in->ready = 0;
    if (!in->wanted || sup->shutting_down || p->retiring) {
        set_state(in, SUP_STOPPED);
        return;
    }
    d = pol_on_exit(&p->track, &in->cfg->policy, wait_status, spawn_failed, up, now);
    switch (d.verdict) {
    case POL_RESTART:
        log_info("restart scheduled", "instance", in->name, "delay_ms", LOG_INT(d.delay_ms),
                 "restarts", LOG_INT(in->restarts), "reason", d.reason);
        set_state(in, SUP_BACKOFF);
        arm(p->restart_ev, d.delay_ms);
        break;
    case POL_STOPPED:
        log_info("worker not restarted", "instance", in->name, "reason", d.reason);
        set_state(in, SUP_STOPPED);
        break;
    case POL_FAILED:
        log_error("instance failed", "instance", in->name, "reason", d.reason,
                  "restarts", LOG_INT(in->restarts));
        set_state(in, SUP_FAILED);
        break;
    }
}

static void signal_group(sup_instance_t *in, int sig)
{
    /* The worker leads its own process group (setsid): signal everything it forked. */
    if (in->pid > 0 && kill(-in->pid, sig) < 0 && errno == ESRCH)
        kill(in->pid, sig);
}

static void dispatch(supervisor_t *sup, sup_instance_t *in, pol_event_t ev, int wait_status,
                     int spawn_failed)
{
    inst_priv_t *p = PRIV(in);
    pol_transition_t t = pol_step(in->state, ev);
    char err[512];
    int resource;

    switch (t.action) {
    case PACT_IGNORE:
        return;
    case PACT_SPAWN:
        event_del(p->restart_ev);
        if (do_spawn(sup, in, err, sizeof(err), &resource) == 0) {
            set_state(in, SUP_STARTING);
            if (!pc_probed(in->cfg))
                arm(p->ready_ev, in->cfg->policy.ready_after_ms);
        } else if (resource) {
            defer_start(sup, in, err);
        } else {
            log_error("worker failed to start", "instance", in->name, "error", err);
            snprintf(in->last_exit, sizeof(in->last_exit), "failed to start: %.70s", err);
            in->last_exit_status = -1;
            logcap_note(p->log, "[instanced] failed to start");
            apply_exit_decision(sup, in, 0, 1);
        }
        break;
    case PACT_WAIT:
        set_state(in, SUP_WAITING);
        break;
    case PACT_READY:
        event_del(p->ready_ev);
        in->ready = 1;
        set_state(in, SUP_RUNNING);
        log_info("worker ready", "instance", in->name, "pid", LOG_INT(in->pid));
        wake_waiting(sup);
        break;
    case PACT_DECIDE:
        apply_exit_decision(sup, in, wait_status, spawn_failed);
        break;
    case PACT_EXITED:
        event_del(p->stop_ev);
        event_del(p->ready_ev);
        in->ready = 0;
        set_state(in, SUP_STOPPED);
        if (p->restart_after_stop && !p->retiring && !sup->shutting_down) {
            p->restart_after_stop = 0;
            try_start(sup, in);
        }
        break;
    case PACT_TERM:
        event_del(p->ready_ev);
        log_info("stopping worker", "instance", in->name, "pid", LOG_INT(in->pid),
                 "timeout_ms", LOG_INT(p->stop_timeout_ms));
        set_state(in, SUP_STOPPING);
        if (SPRIV(sup)->killing) {
            signal_group(in, SIGKILL);
        } else {
            signal_group(in, SIGTERM);
            arm(p->stop_ev, p->stop_timeout_ms);
        }
        break;
    case PACT_KILL:
        log_warn("stop timeout: killing worker", "instance", in->name, "pid", LOG_INT(in->pid));
        signal_group(in, SIGKILL);
        break;
    case PACT_CANCEL:
        event_del(p->restart_ev);
        in->waiting_for[0] = '\0';
        set_state(in, SUP_STOPPED);
        break;
    case PACT_RETRY:
        try_start(sup, in);
        break;
    }
}

/* 1 when a process of an entry removed by a reload and re-added since is still
 * stopping: the new one waits for it (same data dir, same port). */
static int old_self_stopping(supervisor_t *sup, const sup_instance_t *in)
{
    sup_priv_t *sp = SPRIV(sup);

    for (size_t i = 0; i < sp->nretiring; i++)
        if (strcmp(sp->retiring[i]->name, in->name) == 0)
            return 1;
    return 0;
}

static void try_start(supervisor_t *sup, sup_instance_t *in)
{
    const char *dep;
    int creds;

    if (!in->wanted || sup->shutting_down || PRIV(in)->retiring)
        return;
    if (old_self_stopping(sup, in)) {
        log_info("waiting for the removed process of the same name to exit", "instance",
                 in->name);
        return;
    }
    /* With provision = true a worker gets its own credentials or does not start. */
    creds = !provisioner_instance_ready(sup, in);
    dep = creds ? "provisioning" : unready_dep(sup, in);
    if (dep) {
        if (strcmp(in->waiting_for, dep) != 0) {
            if (creds)
                log_info("waiting for its credentials from provisioning", "instance", in->name);
            else
                log_info("waiting for dependency", "instance", in->name, "depends_on", dep);
        }
        snprintf(in->waiting_for, sizeof(in->waiting_for), "%s", dep);
        dispatch(sup, in, PEV_DEPS_PENDING, 0, 0);
    } else {
        in->waiting_for[0] = '\0';
        dispatch(sup, in, PEV_START, 0, 0);
    }
}

/* ---- reaping ---------------------------------------------------------------------- */

static sup_instance_t *find_pid(supervisor_t *sup, pid_t pid, size_t *retiring_index)
{
    sup_priv_t *sp = SPRIV(sup);

    for (size_t i = 0; i < sup->ninst; i++)
        if (sup->inst[i]->pid == pid)
            return sup->inst[i];
    for (size_t i = 0; i < sp->nretiring; i++) {
        if (sp->retiring[i]->pid == pid) {
            *retiring_index = i;
            return sp->retiring[i];
        }
    }
    return NULL;
}

/* reaped(): group_killed is 1 when the caller SIGKILLed pid's process group while pid
 * was still an unreaped zombie (see signal_cb). */
static void reaped(supervisor_t *sup, pid_t pid, int status, int group_killed, int detached)
{
    sup_priv_t *sp = SPRIV(sup);
    size_t ri = (size_t)-1;
    sup_instance_t *in = find_pid(sup, pid, &ri);
    char cause[96], up[48];

    if (provisioner_reaped(sup, pid, status) || pexec_reaped(pid, status))
        return;
    if (!in) {
        detach_forget(&sp->detach, pid);
        log_debug("reaped an unknown child", "pid", LOG_INT(pid));
        return;
    }
    exec_settle(sup, in);
    if (PRIV(in)->exec_err[0] && ri == (size_t)-1 &&
        pol_errno_is_resource(PRIV(in)->exec_errno)) {
        /* The child ran out of the supervisor's resources before exec (its /dev/null,
         * its memory): not the worker's failure either. */
        uncount_start(in);
        PRIV(in)->dirs_ready = 0;
        defer_start(sup, in, PRIV(in)->exec_err);
        PRIV(in)->exec_err[0] = '\0';
        return;
    }
    if (PRIV(in)->exec_err[0] && ri == (size_t)-1) {
        /* It never ran: a failed start, not an exit. Its directories are checked
         * again before the next try (one may have been removed: chdir failed). */
        in->pid = 0;
        PRIV(in)->dirs_ready = 0;
        in->last_exit_status = -1;
        log_error("worker failed to start", "instance", in->name, "error", PRIV(in)->exec_err,
                  "command", in->cfg->service->command);
        snprintf(in->last_exit, sizeof(in->last_exit), "failed to start: %.70s",
                 PRIV(in)->exec_err);
        logcap_note(PRIV(in)->log, "[instanced] failed to start");
        PRIV(in)->exec_err[0] = '\0';
        dispatch(sup, in, PEV_EXIT, status, 1);
        return;
    }
    /* Whatever the worker left behind in its process group (helpers, a half-dead
     * child) would hold its port and data dir against the next start: the group went
     * with its leader, killed in signal_cb before the leader was reaped. Whether anyone
     * was left decides only this log line: signal 0 sends nothing, so even a number
     * reused since cannot be harmed by the check. */
    if (group_killed && kill(-pid, 0) == 0)
        log_warn("killed processes left in the worker's process group", "instance", in->name,
                 "pgid", LOG_INT(pid));
    pol_describe_exit(status, cause, sizeof(cause));
    {
        long long up_ms = mono_ms() - ts_ms(&in->started_mono);
        snprintf(up, sizeof(up), "%lld.%03lld", up_ms / 1000, up_ms % 1000);
    }
    in->pid = 0;
    in->last_exit_status = status;
    if (PRIV(in)->port_note[0] && ri == (size_t)-1)
        snprintf(in->last_exit, sizeof(in->last_exit), "%.70s; %.110s", cause,
                 PRIV(in)->port_note);
    else
        snprintf(in->last_exit, sizeof(in->last_exit), "%s", cause);
    log_kv(in->state == SUP_STOPPING || (WIFEXITED(status) && WEXITSTATUS(status) == 0)
               ? LOG_LVL_INFO : LOG_LVL_WARN,
           "worker exited", "instance", in->name, "pid", LOG_INT(pid), "cause", cause,
           "uptime_seconds", up, NULL);
    if (ri != (size_t)-1) {
        /* Removed by a reload: the monitor forgot it already. An instance of the same
         * name added back since may start now. */
        sup_instance_t *again = sup_find(sup, in->name);
        sp->retiring[ri] = sp->retiring[--sp->nretiring];
        entry_free(in);
        if (again && again->state == SUP_STOPPED && again->pid == 0)
            try_start(sup, again);
        return;
    }
    if (detached) {
        snprintf(in->last_exit, sizeof(in->last_exit), "%s", DETACH_MESSAGE);
        log_error("instance failed", "instance", in->name, "reason", DETACH_MESSAGE);
        logcap_note(PRIV(in)->log, "[instanced] " DETACH_MESSAGE);
        event_del(PRIV(in)->ready_ev);
        in->ready = 0;
        monitor_instance_exited(sup, in);
        set_state(in, SUP_FAILED);
        return;
    }
    monitor_instance_exited(sup, in);
    dispatch(sup, in, PEV_EXIT, status, 0);
}

/* ---- shutdown --------------------------------------------------------------------- */

static int live_processes(supervisor_t *sup)
{
    int n = (int)SPRIV(sup)->nretiring + sup->prov.running;
    for (size_t i = 0; i < sup->ninst; i++)
        n += sup->inst[i]->pid > 0;
    return n;
}

/* Stop, concurrently, every instance no live process depends on; the rest follow as
 * their dependents exit. Ends the loop when nothing is left. */
static void shutdown_step(supervisor_t *sup)
{
    for (size_t i = 0; i < sup->ninst; i++) {
        sup_instance_t *in = sup->inst[i];
        if (in->state == SUP_STOPPING || in->pid == 0)
            continue;
        if (!has_live_dependent(sup, in))
            dispatch(sup, in, PEV_STOP, 0, 0);
    }
    if (live_processes(sup) == 0) {
        log_info("all workers stopped");
        event_base_loopbreak(sup->base);
    }
}

static void begin_shutdown(supervisor_t *sup, const char *why)
{
    sup_priv_t *sp = SPRIV(sup);

    if (sup->shutting_down) {
        if (sp->killing)
            return;
        sp->killing = 1;
        log_warn("second stop signal: killing every worker now", "signal", why);
        for (size_t i = 0; i < sup->ninst; i++)
            signal_group(sup->inst[i], SIGKILL);
        for (size_t i = 0; i < sp->nretiring; i++)
            signal_group(sp->retiring[i], SIGKILL);
        provisioner_stop(SIGKILL);
        return;
    }
    sup->shutting_down = 1;
    notify_stopping();
    provisioner_stop(SIGTERM); /* its open transactions roll back */
    log_info("shutting down", "signal", why, "workers", LOG_INT(live_processes(sup)));
    /* Nothing waits or backs off any more. */
    for (size_t i = 0; i < sup->ninst; i++)
        if (sup->inst[i]->pid == 0)
            dispatch(sup, sup->inst[i], PEV_STOP, 0, 0);
    shutdown_step(sup);
}

/* ---- signals ---------------------------------------------------------------------- */

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    supervisor_t *sup = arg;
    (void)what;

    switch (sig) {
    case SIGCHLD: {
        siginfo_t si;
        sup_instance_t *w;
        size_t ri;
        pid_t r;
        int status, killed, detached;
        /* Signals coalesce: one SIGCHLD may stand for many exits. Each exited child is
         * looked at first without being reaped (WNOWAIT): while a worker is an unreaped
         * zombie its number cannot be reused, so its process group can be SIGKILLed
         * without any risk of hitting an unrelated group that took the number. Once
         * reaped, kill(-pid) could. (pidfd_send_signal would not help: it signals one
         * process, not a group.) signal_group() is safe for the same reason: it only
         * signals in->pid, which is cleared when that process is reaped. */
        for (;;) {
            memset(&si, 0, sizeof(si));
            if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
                break;
            ri = (size_t)-1; /* find_pid sets it only for a retiring entry */
            w = find_pid(sup, si.si_pid, &ri);
            /* A clean exit while processes it started live on: the program daemonized.
             * It fails with that message instead of a restart loop (its copy would hold
             * the port against every restart); the copy is killed. Looked for before
             * the group kill, which would take a child that has not yet left the
             * group with setsid() and hide the detach. */
            detached = w && ri == (size_t)-1 && w->state != SUP_STOPPING &&
                       si.si_code == CLD_EXITED && si.si_status == 0 &&
                       detach_reap(&SPRIV(sup)->detach, sup, w) > 0;
            killed = w && kill(-si.si_pid, SIGKILL) == 0;
            /* A zombie: this returns at once (retried only if a signal interrupts). */
            while ((r = waitpid(si.si_pid, &status, 0)) < 0 && errno == EINTR)
                ;
            if (r != si.si_pid)
                break;
            reaped(sup, si.si_pid, status, killed, detached);
        }
        if (sup->shutting_down)
            shutdown_step(sup);
        break;
    }
    case SIGTERM:
    case SIGINT:
        begin_shutdown(sup, sig == SIGTERM ? "SIGTERM" : "SIGINT");
        break;
    case SIGHUP: {
        inv_errors_t errs;
        char summary[512];

        if (sup->shutting_down) {
            log_warn("SIGHUP ignored: shutting down");
            break;
        }
        log_info("reloading", "path", sup->inv->path);
        inv_errors_init(&errs);
        if (sup_reload(sup, &errs, summary, sizeof(summary)) < 0) {
            for (size_t i = 0; i < errs.n; i++)
                log_error("reload rejected", "error", errs.v[i].text);
            log_error("reload failed: still running the previous inventory",
                      "errors", LOG_INT(errs.n), "reason", summary);
        }
        inv_errors_free(&errs);
        break;
    }
    }
}

/* ---- the open-file budget --------------------------------------------------------- */

/* Descriptors the supervisor keeps per instance (spawn.h: four, plus one for a probe
 * in flight), and for everything else: listeners, control clients, scrapers. */
#define FDS_PER_INSTANCE 5
#define FDS_BASE 256

/* Say so when the limit is too low for n instances: the starts past it would fail with
 * "Too many open files", one by one, long after the cause was knowable. */
static void check_fd_budget(size_t n)
{
    unsigned long long need = (unsigned long long)n * FDS_PER_INSTANCE + FDS_BASE;
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        need > rl.rlim_cur)
        log_warn("the open-file limit is too low for this many instances: raise it "
                 "(LimitNOFILE= in the unit, ulimit -n in a shell)",
                 "limit", LOG_INT((long long)rl.rlim_cur), "needed", LOG_INT((long long)need),
                 "instances", LOG_INT(n));
}

/* ---- the monitoring side's entry points ------------------------------------------- */

/* A start by request; `restart` says whether it counts as a restart. */
static int start_requested(supervisor_t *sup, sup_instance_t *in, int restart, char *err,
                           size_t errlen)
{
    inst_priv_t *p = PRIV(in);

    if (sup->shutting_down) {
        snprintf(err, errlen, "shutting down");
        return -1;
    }
    in->wanted = 1;
    switch (in->state) {
    case SUP_STARTING:
    case SUP_RUNNING:
        snprintf(err, errlen, "%s is already %s", in->name, sup_state_name(in->state));
        return -1;
    case SUP_STOPPING:
        p->restart_after_stop = 1;
        p->manual_next = 1;
        p->plain_next = !restart;
        return 0;
    default:
        /* A manual start forgives: fresh backoff and start-limit window. */
        pol_track_reset(&p->track);
        p->manual_next = 1;
        p->plain_next = !restart;
        event_del(p->restart_ev);
        log_info("start requested", "instance", in->name);
        try_start(sup, in);
        return 0;
    }
}

int sup_start(supervisor_t *sup, sup_instance_t *in, char *err, size_t errlen)
{
    return start_requested(sup, in, 0, err, errlen);
}

int sup_stop(supervisor_t *sup, sup_instance_t *in, char *err, size_t errlen)
{
    inst_priv_t *p = PRIV(in);

    (void)err, (void)errlen;
    in->wanted = 0;
    p->restart_after_stop = 0;
    p->plain_next = 0;
    log_info("stop requested", "instance", in->name);
    dispatch(sup, in, PEV_STOP, 0, 0);
    return 0;
}

int sup_restart(supervisor_t *sup, sup_instance_t *in, const char *why, char *err,
                size_t errlen)
{
    inst_priv_t *p = PRIV(in);

    if (sup->shutting_down) {
        snprintf(err, errlen, "shutting down");
        return -1;
    }
    log_info("restart requested", "instance", in->name, "reason", why ? why : "");
    if (in->pid == 0)
        return start_requested(sup, in, 1, err, errlen);
    in->wanted = 1;
    p->restart_after_stop = 1;
    p->manual_next = why && strcmp(why, SUP_WHY_MANUAL) == 0;
    p->plain_next = 0;
    dispatch(sup, in, PEV_STOP, 0, 0);
    return 0;
}

void sup_instance_ready(supervisor_t *sup, sup_instance_t *in)
{
    dispatch(sup, in, PEV_READY, 0, 0);
}

/* ---- reload ----------------------------------------------------------------------- */

static void retire(supervisor_t *sup, sup_instance_t *in)
{
    sup_priv_t *sp = SPRIV(sup);
    inst_priv_t *p = PRIV(in);

    monitor_instance_removed(sup, in);
    p->retiring = 1;
    in->cfg = NULL; /* its inventory is about to be freed */
    if (in->pid == 0) {
        entry_free(in);
        return;
    }
    sp->retiring = xreallocarray(sp->retiring, sp->nretiring + 1, sizeof(*sp->retiring));
    sp->retiring[sp->nretiring++] = in;
    /* The stop path reads only pid, name and priv: no cfg needed. */
    log_info("stopping worker", "instance", in->name, "pid", LOG_INT(in->pid),
             "timeout_ms", LOG_INT(p->stop_timeout_ms), "reason", "removed");
    in->state = SUP_STOPPING;
    signal_group(in, SIGTERM);
    arm(p->stop_ev, p->stop_timeout_ms);
}

static int same_str(const char *a, const char *b)
{
    return (!a || !*a) ? (!b || !*b) : (b && strcmp(a, b) == 0);
}

/* A reload never moves the control socket or the status endpoint: the client that
 * asked for the reload, and every script and scraper, talk to the running ones, and
 * a move that half fails would leave the supervisor deaf. When the new inventory
 * changes key, the running value is put back into it (nfield is owned by ninv: freed
 * and replaced) and the change is reported in note, to be applied by a restart. */
static void keep_listener(char **nfield, const char *ofield, const char *key, char *note,
                          size_t notelen)
{
    size_t used = strlen(note);

    if (same_str(*nfield, ofield))
        return;
    log_warn("reload does not move this listener: restart instanced to apply the change",
             "key", key, "running", ofield ? ofield : "", "configured",
             *nfield ? *nfield : "");
    if (used + 2 + strlen(key) < notelen) {
        if (used) {
            memcpy(note + used, ", ", 2);
            used += 2;
        }
        memcpy(note + used, key, strlen(key) + 1);
    }
    free(*nfield);
    *nfield = ofield ? xstrdup(ofield) : NULL;
}

int sup_reload(supervisor_t *sup, inv_errors_t *errs, char *summary, size_t len)
{
    char restart_note[64] = "";
    inventory_t *ninv, *oinv = sup->inv;
    sup_instance_t **nt;
    size_t added = 0, removed = 0, changed = 0, same = 0;
    unsigned char *is_changed;

    if (sup->shutting_down) {
        snprintf(summary, len, "shutting down");
        return -1;
    }
    notify_reloading();
    ninv = inv_load(oinv->path, errs);
    if (!ninv) {
        sup->reload_failures++;
        snprintf(summary, len, "%zu error%s in %s", errs->n, errs->n == 1 ? "" : "s",
                 oinv->path);
        notify_ready();
        return -1;
    }
    keep_listener(&ninv->control_socket, oinv->control_socket, "control_socket",
                  restart_note, sizeof(restart_note));
    keep_listener(&ninv->status_listen, oinv->status_listen, "status_listen", restart_note,
                  sizeof(restart_note));
    /* xcalloc returns a unique pointer for an empty inventory too. */
    nt = xcalloc(ninv->ninstances, sizeof(*nt));
    is_changed = xcalloc(ninv->ninstances, 1);
    for (size_t i = 0; i < sup->ninst; i++)
        PRIV(sup->inst[i])->kept = 0;
    /* Build the new table; entries for unchanged and changed instances are the same
     * objects (same pointers for the monitor, same PIDs). */
    for (size_t i = 0; i < ninv->ninstances; i++) {
        const inv_instance_t *ncfg = &ninv->instances[i];
        sup_instance_t *old = sup_find(sup, ncfg->name);

        if (old) {
            PRIV(old)->kept = 1;
            if (!inv_instance_same(oinv, old->cfg, ninv, ncfg)) {
                is_changed[i] = 1;
                changed++;
                PRIV(old)->dirs_ready = 0;
            } else {
                same++;
            }
            old->cfg = ncfg;
            nt[i] = old;
        } else {
            nt[i] = entry_new(sup, ncfg, i);
            if (!nt[i]) {
                /* Roll back: the old table and inventory stay. */
                for (size_t k = 0; k < i; k++) {
                    if (!PRIV(nt[k])->kept)
                        entry_free(nt[k]);
                }
                for (size_t k = 0; k < sup->ninst; k++)
                    sup->inst[k]->cfg = inv_find_instance(oinv, sup->inst[k]->name);
                free(nt);
                free(is_changed);
                inv_free(ninv);
                sup->reload_failures++;
                snprintf(summary, len, "cannot create an entry for %s", ncfg->name);
                notify_ready();
                return -1;
            }
            nt[i]->wanted = 1;
            added++;
        }
    }
    for (size_t i = 0; i < sup->ninst; i++) {
        if (!PRIV(sup->inst[i])->kept) {
            removed++;
            retire(sup, sup->inst[i]);
        }
    }
    free(sup->inst);
    sup->inst = nt;
    sup->ninst = ninv->ninstances;
    sup->inv = ninv;
    check_fd_budget(sup->ninst);
    resolve_creds(sup);
    inv_free(oinv);
    sup->reloads++;
    {
        log_level_t lvl;
        if (ninv->log_level && log_parse_level(ninv->log_level, &lvl) == 0)
            log_setup(lvl, 2);
    }
    monitor_reloaded(sup);
    /* New and changed instances need their credentials before they start. */
    provisioner_run(sup);

    for (size_t i = 0; i < sup->ninst; i++) {
        sup_instance_t *in = sup->inst[i];
        inst_priv_t *p = PRIV(in);

        if (!is_changed[i])
            continue;
        log_info("instance changed: restarting", "instance", in->name,
                 "state", sup_state_name(in->state));
        pol_track_reset(&p->track); /* a changed instance gets a fresh start, even failed */
        if (in->state == SUP_FAILED)
            in->wanted = 1;
        if (!in->wanted)
            continue;
        if (in->pid > 0) {
            p->restart_after_stop = 1;
            dispatch(sup, in, PEV_STOP, 0, 0);
        } else {
            event_del(p->restart_ev);
            try_start(sup, in);
        }
    }
    for (size_t i = 0; i < sup->ninst; i++)
        if (sup->inst[i]->state == SUP_STOPPED && sup->inst[i]->starts == 0)
            try_start(sup, sup->inst[i]);
    wake_waiting(sup);
    free(is_changed);
    snprintf(summary, len, "%zu added, %zu removed, %zu changed, %zu unchanged%s%s%s", added,
             removed, changed, same, restart_note[0] ? "; needs a restart to change: " : "",
             restart_note, restart_note[0] ? " (still the running one)" : "");
    log_info("reloaded", "summary", summary);
    update_status(sup);
    notify_ready();
    return 0;
}

/* ---- main ------------------------------------------------------------------------- */

/* The supervisor's own log never blocks the loop (log_async_begin): lines that stderr
 * does not take at once wait in log.c's queue, written when it becomes writable. */
static void log_wake(void *arg)
{
    supervisor_t *sup = arg;
    struct event *ev = sup->priv ? SPRIV(sup)->log_ev : NULL;

    if (ev && !event_pending(ev, EV_WRITE, NULL))
        event_add(ev, NULL);
}

static void log_write_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    if (log_flush())
        log_wake(arg);
}

static void log_async_setup(supervisor_t *sup)
{
    sup_priv_t *sp = SPRIV(sup);
    int fd = log_async_begin(log_wake, sup);

    if (fd < 0)
        return;
    sp->log_ev = event_new(sup->base, fd, EV_WRITE, log_write_cb, sup);
    if (!sp->log_ev) {
        log_async_end();
        return;
    }
    event_priority_set(sp->log_ev, PRIO_CONTROL);
    if (log_flush())
        log_wake(sup);
}

static void sup_free(supervisor_t *sup)
{
    sup_priv_t *sp = SPRIV(sup);

    if (sp->log_ev) {
        log_async_end();
        event_free(sp->log_ev);
        sp->log_ev = NULL;
    }
    for (size_t i = 0; i < 4; i++)
        if (sp->sigs[i])
            event_free(sp->sigs[i]);
    for (size_t i = 0; i < sp->nretiring; i++)
        entry_free(sp->retiring[i]);
    free(sp->retiring);
    free(sp);
    for (size_t i = 0; i < sup->ninst; i++)
        entry_free(sup->inst[i]);
    free(sup->inst);
    notify_shutdown();
    inv_free(sup->inv);
    if (sup->base)
        event_base_free(sup->base);
    free(sup);
}

int sup_main(const char *config, int foreground)
{
    static const int sigs[4] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP };
    supervisor_t *sup;
    inv_errors_t errs;
    inventory_t *inv;
    log_level_t lvl;
    char err[512];
    int rc;

    inv_errors_init(&errs);
    inv = inv_load(config, &errs);
    if (!inv) {
        checkconf_print_errors(stderr, &errs);
        fprintf(stderr, "instanced: %s: %zu error%s, not starting\n", config, errs.n,
                errs.n == 1 ? "" : "s");
        inv_errors_free(&errs);
        return 1;
    }
    inv_errors_free(&errs);
    if (inv->log_level && log_parse_level(inv->log_level, &lvl) == 0)
        log_setup(lvl, 2);
    /* Writes to a closed pipe or socket must fail with EPIPE, not kill the supervisor;
     * children get SIG_DFL back in spawn.c. */
    signal(SIGPIPE, SIG_IGN);

    sup = xcalloc(1, sizeof(*sup));
    sup->inv = inv;
    sup->foreground = foreground;
    sup->started_at = time(NULL);
    sup->priv = xcalloc(1, sizeof(sup_priv_t));
    evglue_log_to_logfmt();
    sup->base = event_base_new();
    if (!sup->base || event_base_priority_init(sup->base, 2) < 0) {
        fprintf(stderr, "instanced: cannot set up the event loop\n");
        sup_free(sup);
        return 1;
    }
    /* A tuning knob, not an inventory key: how much output per second and instance is
     * written before the rest is dropped ("4MiB", "512k", ...). */
    SPRIV(sup)->log_rate = LOGCAP_RATE_BYTES;
    if (getenv("INSTANCED_LOG_RATE") &&
        inv_parse_size(getenv("INSTANCED_LOG_RATE"), &SPRIV(sup)->log_rate) < 0) {
        fprintf(stderr, "instanced: INSTANCED_LOG_RATE=%s is not a size\n",
                getenv("INSTANCED_LOG_RATE"));
        sup_free(sup);
        return 1;
    }
    log_async_setup(sup);
    sup->inst = xcalloc(inv->ninstances, sizeof(*sup->inst));
    for (size_t i = 0; i < inv->ninstances; i++) {
        sup->inst[i] = entry_new(sup, &inv->instances[i], i);
        if (!sup->inst[i]) {
            sup_free(sup);
            return 1;
        }
        sup->inst[i]->wanted = 1;
        sup->ninst++;
    }
    for (size_t i = 0; i < 4; i++) {
        SPRIV(sup)->sigs[i] = evsignal_new(sup->base, sigs[i], signal_cb, sup);
        if (!SPRIV(sup)->sigs[i] || event_priority_set(SPRIV(sup)->sigs[i], PRIO_CONTROL) < 0 ||
            event_add(SPRIV(sup)->sigs[i], NULL) < 0) {
            fprintf(stderr, "instanced: cannot watch signals\n");
            sup_free(sup);
            return 1;
        }
    }
    if (monitor_init(sup, err, sizeof(err)) < 0) {
        log_error("cannot start monitoring", "error", err);
        fprintf(stderr, "instanced: %s\n", err);
        sup_free(sup);
        return 1;
    }
    notify_init(sup->base);
    detach_init(&SPRIV(sup)->detach);
    spawn_raise_nofile();
    check_fd_budget(sup->ninst);
    resolve_creds(sup);
    provisioner_run(sup);
    log_info("instanced started", "version", PACKAGE_VERSION, "config", config,
             "instances", LOG_INT(sup->ninst), "pid", LOG_INT(getpid()));
    for (size_t i = 0; i < sup->ninst; i++)
        try_start(sup, sup->inst[i]);
    update_status(sup);
    notify_ready();

    rc = event_base_dispatch(sup->base);
    if (rc < 0)
        log_error("event loop failed");
    monitor_shutdown(sup);
    provisioner_free(sup);
    log_info("instanced stopped");
    sup_free(sup);
    return rc < 0 ? 1 : 0;
}
