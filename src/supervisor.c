/* supervisor.c - the supervision core: the instance table and its state machine.
 *
 * Every event about an instance (a start asked for, an exec confirmed, an exit, a
 * timer, a probe's verdict, a reload's plan) goes through dispatch(), which asks the
 * restart policy (policy.c, pure) what to do and does it. Processes are started and
 * signalled through a spawner (sup_spawn.c; a fake in tests/unit_core.c); everything
 * else that follows an instance (probes, listeners, provisioning) registers hooks
 * (supervisor.h) and is never called by name from here.
 *
 * Longer than the project's other files on purpose: every transition of an instance,
 * its timers and its process's end are in this one file, so that what happens to an
 * instance reads in one place (docs/architecture.md: "where are restarts decided"). */
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

#include "detach.h"
#include "log.h"
#include "logcap.h"
#include "notify.h"
#include "policy.h"
#include "probe_conf.h"
#include "reload.h"
#include "sup_hooks.h"
#include "spawn.h"
#include "xalloc.h"

/* Event priorities: signals and timers (restarts, stop deadlines) before log reads,
 * so a worker flooding its stdout cannot delay another instance's restart. */
#define PRIO_CONTROL 0
#define PRIO_LOGS    1

/* Starts asked for at once (the whole fleet at start, everything a gate released) are
 * made in batches, one batch per turn of the loop: with thousands of instances the
 * loop still answers probes, the status endpoint, the control socket and lease
 * renewals between batches. A batch ends when it has spent PASS_BUDGET: a start costs
 * START_COST (at most 64 starts a batch), a start a hook or a dependency holds costs 1
 * (so a pass over thousands of instances held by another node moves on quickly). */
#define START_COST  16
#define PASS_BUDGET (64 * START_COST)

/* Private state of one entry (sup_instance_t.priv), owned by the entry. */
typedef struct inst_priv {
    supervisor_t *sup;
    sup_instance_t *in;
    struct event *restart_ev;   /* backoff delay */
    struct event *stop_ev;      /* stop_timeout after SIGTERM */
    struct event *ready_ev;     /* ready_after, for instances without health_path */
    struct event *exec_ev;      /* the exec report pipe of a process just forked */
    int exec_fd;                /* its read end, -1: no exec pending */
    text_t exec_err;            /* the child failed before exec: why */
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
    sup_state_t paused_from;    /* SUP_PAUSED: the state to resume to */
    int held;                   /* reaped, its leftovers not gone yet (exit_hold) */
    int held_status;            /* and the wait status to go on with */
    /* user/group resolved once per inventory load (resolve_creds), so that no start
     * waits on NSS (a remote directory may take seconds); cred_err: why not. */
    spawn_cred_t cred;
    text_t cred_err;
    logcap_t *log;
    long stop_timeout_ms;       /* of the config the process was started with */
    unsigned restart_after_stop : 1; /* restart / changed by reload: start once exited */
    unsigned retiring : 1;      /* removed by a reload: free once exited */
    unsigned manual_next : 1;   /* the next spawn is manual: not counted in the start limit */
    unsigned plain_next : 1;    /* the next spawn is `instancectl start`: not a restart */
    unsigned kept : 1;          /* scratch flag of sup_apply_reload */
} inst_priv_t;

/* Private state of the supervisor (supervisor_t.priv). */
typedef struct sup_priv {
    sup_instance_t **retiring;  /* removed by a reload, still stopping; owned */
    size_t nretiring;
    int killing;                /* a second SIGTERM/SIGINT: SIGKILL everything */
    int done;                   /* shut down: nothing left running */
    long long log_rate;         /* per-instance output bytes/s before dropping */
    sup_spawner_t spawner;
    sup_hookset_t hooks;        /* the registered tables (sup_hooks.c) */
    struct event *pass_ev;      /* the next batch of a start pass */
    struct event *status_ev;    /* the coalesced STATUS= of state changes */
    size_t pass_from;           /* where the pass goes on */
    int pass_all;               /* the pass starts every instance, not only waiting ones */
    int pass_on;                /* a pass is under way (its next batch is queued) */
    int pass_again;             /* asked for again meanwhile: once at the end, over again */
    int pass_again_all;         /* ... and then for every instance */
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

sup_instance_t *sup_find(supervisor_t *sup, const char *name)
{
    /* The table follows the inventory's order: its name index finds the entry (a
     * linear search only while a reload swaps the two). */
    const inv_instance_t *c = sup->inv ? inv_find_instance(sup->inv, name) : NULL;

    if (c) {
        size_t i = (size_t)(c - sup->inv->instances);
        if (i < sup->ninst && sup->inst[i]->cfg == c)
            return sup->inst[i];
    }
    for (size_t i = 0; i < sup->ninst; i++)
        if (strcmp(sup->inst[i]->name, name) == 0)
            return sup->inst[i];
    return NULL;
}

/* ---- status ----------------------------------------------------------------------- */

/* STATUS= for systemd: the count of instances in each state. Sent at once at the
 * start and after a reload; state changes only mark it due, and it goes out at most
 * every STATUS_COALESCE_MS: counting is a pass over every instance, and 5,000
 * instances starting change state 10,000 times. */
#define STATUS_COALESCE_MS 100

static void status_now(supervisor_t *sup)
{
    size_t n[SUP_NSTATES] = { 0 };
    char paused[40] = "";
    char text[320]; /* 8 counters of at most 20 digits and their words fit */

    if (SPRIV(sup)->status_ev)
        event_del(SPRIV(sup)->status_ev);
    for (size_t i = 0; i < sup->ninst; i++)
        n[sup->inst[i]->state]++;
    if (n[SUP_PAUSED])
        snprintf(paused, sizeof(paused), ", %zu paused", n[SUP_PAUSED]);
    snprintf(text, sizeof(text), "%zu running, %zu starting, %zu waiting, %zu backoff, "
             "%zu failed, %zu stopping, %zu stopped%s", n[SUP_RUNNING], n[SUP_STARTING],
             n[SUP_WAITING], n[SUP_BACKOFF], n[SUP_FAILED], n[SUP_STOPPING], n[SUP_STOPPED],
             paused);
    notify_status(text);
}

static void status_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    status_now(arg);
}

static void update_status(supervisor_t *sup)
{
    struct event *ev = SPRIV(sup)->status_ev;
    struct timeval tv = { 0, STATUS_COALESCE_MS * 1000 };

    if (ev && !evtimer_pending(ev, NULL))
        evtimer_add(ev, &tv);
}

static void set_state(sup_instance_t *in, sup_state_t s)
{
    if (in->state == s)
        return;
    log_debug("state", "instance", in->name, "from", sup_state_name(in->state), "to",
              sup_state_name(s));
    in->state = s;
    PRIV(in)->sup->changes++;
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
    in->cgroup_fd = -1;
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
    hookset_freed(&SPRIV(p->sup)->hooks, p->sup, in);
    text_clear(&p->exec_err);
    text_clear(&p->cred_err);
    text_clear(&in->last_exit);
    text_clear(&in->waiting_for);
    text_clear(&in->port_note);
    text_clear(&in->health.message);
    free(p);
    free(in->name);
    free(in);
}

/* The first dependency of in that is not ready, or NULL when all are. */
static const char *unready_dep(supervisor_t *sup, const sup_instance_t *in)
{
    for (size_t i = 0; i < in->cfg->ndeps; i++) {
        sup_instance_t *d = sup_find(sup, in->cfg->depends_on[i]);
        /* A dependency another node runs (cluster mode) is asked of the hooks. */
        int remote = d ? hookset_dep_ready(&SPRIV(sup)->hooks, sup, d) : -1;
        if (remote == 0 || (remote < 0 && (!d || d->state != SUP_RUNNING)))
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

/* One batch of the start pass: try to start the instances (every one with pass_all,
 * else those waiting) until the batch's budget is spent, then let the loop turn if
 * more are left. A pass asked for again meanwhile runs once more from the first
 * instance when this one ends: every instance is reached, however often wakes come. */
static void start_batch(supervisor_t *sup)
{
    sup_priv_t *sp = SPRIV(sup);
    size_t spent = 0;

    for (;;) {
        sup_instance_t *in;
        pid_t before;

        if (sp->pass_from >= sup->ninst) {
            if (!sp->pass_again) {
                sp->pass_on = 0;
                sp->pass_all = 0;
                return;
            }
            sp->pass_from = 0;
            sp->pass_all = sp->pass_again_all;
            sp->pass_again = sp->pass_again_all = 0;
        }
        if (spent >= PASS_BUDGET) {
            /* A timer of 0, not event_active: the loop polls its descriptors first. */
            struct timeval now = { 0, 0 };
            evtimer_add(sp->pass_ev, &now);
            return;
        }
        in = sup->inst[sp->pass_from++];
        if (!sp->pass_all && in->state != SUP_WAITING)
            continue;
        before = in->pid;
        try_start(sup, in);
        spent += in->pid != before ? START_COST : 1;
    }
}

static void pass_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    start_batch(arg);
}

/* Start a pass from the first instance; while one is under way (or from inside it: a
 * start's hooks may wake waiting instances), ask it to run once more at its end. */
static void start_pass(supervisor_t *sup, int all)
{
    sup_priv_t *sp = SPRIV(sup);

    if (sp->pass_on) {
        sp->pass_again = 1;
        sp->pass_again_all |= all;
        return;
    }
    sp->pass_on = 1;
    sp->pass_from = 0;
    sp->pass_all = all;
    start_batch(sup);
}

static void wake_waiting(supervisor_t *sup)
{
    start_pass(sup, 0);
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
    char why[TEXT_MAX];
    int r;

    if (p->exec_fd < 0)
        return;
    r = spawn_report(p->exec_fd, why, sizeof(why), &p->exec_errno);
    if (r < 0)
        return;
    text_set(&p->exec_err, "%s", r == 1 ? "" : why);
    if (p->exec_ev)
        event_del(p->exec_ev);
    close(p->exec_fd);
    p->exec_fd = -1;
    if (r == 1) {
        log_info("worker started", "instance", in->name, "pid", LOG_INT(in->pid),
                 "restarts", LOG_INT(in->restarts));
        if (p->res_short)
            log_info("resources available again: start no longer deferred", "instance",
                     in->name, "deferred_starts", LOG_INT(p->res_retries));
        p->res_short = 0;
        p->res_retries = 0;
        if (!p->retiring)
            hookset_started(&SPRIV(sup)->hooks, sup, in);
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

        char why[TEXT_MAX] = "";

        if (spawn_lookup_cred(in->cfg->policy.user, in->cfg->policy.group, &p->cred, why,
                              sizeof(why)) < 0 && !why[0])
            snprintf(why, sizeof(why), "user or group lookup failed");
        text_set(&p->cred_err, "%s", why);
    }
}

int sup_instance_cred(const sup_instance_t *in, spawn_cred_t *out, char *err, size_t errlen)
{
    const inst_priv_t *p = PRIV(in);

    if (p->cred_err.s) {
        snprintf(err, errlen, "%s", text_get(&p->cred_err));
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
    text_set(&in->last_exit, "start deferred: %.70s", err);
    set_state(in, SUP_BACKOFF);
    arm(p->restart_ev, ms);
}

/* Start in's process through the spawner, with the bookkeeping of a start: the
 * start-limit window, the counters (undone when the start is deferred for want of
 * the supervisor's resources). 0, or -1 with the reason in err and *resource = 1 when
 * the reason is such a shortage. */
static int do_spawn(supervisor_t *sup, sup_instance_t *in, char *err, size_t errlen,
                    int *resource)
{
    const inv_instance_t *cfg = in->cfg;
    inst_priv_t *p = PRIV(in);
    sup_spawner_t *sw = &SPRIV(sup)->spawner;
    pid_t pid = -1;
    int report_fd = -1;

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

    if (p->cred_err.s) {
        snprintf(err, errlen, "%s", text_get(&p->cred_err));
        return -1;
    }
    if (sw->spawn(sw->ctx, sup, in, p->log, &pid, &report_fd, err, errlen,
                  resource) < 0) {
        if (*resource)
            uncount_start(in);
        return -1;
    }
    in->pid = pid;
    in->ready = 0;
    in->started_at = time(NULL);
    clock_gettime(CLOCK_MONOTONIC, &in->started_mono);
    text_clear(&in->waiting_for);
    text_clear(&p->exec_err);
    if (p->exec_ev) {
        event_free(p->exec_ev); /* the previous start's, long settled */
        p->exec_ev = NULL;
    }
    if (report_fd < 0) {
        /* The spawner vouches for the exec itself. */
        log_info("worker started", "instance", in->name, "pid", LOG_INT(in->pid),
                 "restarts", LOG_INT(in->restarts));
        p->res_short = 0;
        p->res_retries = 0;
        hookset_started(&SPRIV(sup)->hooks, sup, in);
        return 0;
    }
    /* The exec is confirmed (or refuted) by the report pipe, on the loop: a child slow
     * to be scheduled never stalls the supervisor. */
    p->exec_fd = report_fd;
    p->exec_ev = event_new(sup->base, report_fd, EV_READ | EV_PERSIST, exec_cb, p);
    if (!p->exec_ev || event_priority_set(p->exec_ev, PRIO_CONTROL) < 0 ||
        event_add(p->exec_ev, NULL) < 0)
        log_warn("cannot watch the exec of a worker", "instance", in->name);
    return 0;
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

static void signal_group(supervisor_t *sup, sup_instance_t *in, int sig)
{
    sup_spawner_t *sw = &SPRIV(sup)->spawner;

    /* A held exit has no pid any more, but its leftovers are still there. */
    if (in->pid > 0 || PRIV(in)->held)
        sw->signal(sw->ctx, sup, in, sig);
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
            text_set(&in->last_exit, "failed to start: %.70s", err);
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
        if (in->state == SUP_PAUSED && SPRIV(sup)->spawner.freeze &&
            SPRIV(sup)->spawner.freeze(SPRIV(sup)->spawner.ctx, sup, in, 0, err,
                                       sizeof(err)) < 0)
            log_warn("cannot thaw the paused worker before stopping it", "instance",
                     in->name, "error", err);
        log_info("stopping worker", "instance", in->name, "pid", LOG_INT(in->pid),
                 "timeout_ms", LOG_INT(p->stop_timeout_ms));
        set_state(in, SUP_STOPPING);
        if (SPRIV(sup)->killing) {
            signal_group(sup, in, SIGKILL);
        } else {
            signal_group(sup, in, SIGTERM);
            arm(p->stop_ev, p->stop_timeout_ms);
        }
        break;
    case PACT_KILL:
        log_warn("stop timeout: killing worker", "instance", in->name, "pid", LOG_INT(in->pid));
        signal_group(sup, in, SIGKILL);
        break;
    case PACT_CANCEL:
        event_del(p->restart_ev);
        text_clear(&in->waiting_for);
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
    const char *dep, *gate;

    if (!in->wanted || sup->shutting_down || PRIV(in)->retiring)
        return;
    if (old_self_stopping(sup, in)) {
        log_info("waiting for the removed process of the same name to exit", "instance",
                 in->name);
        return;
    }
    /* A hook may hold the start (provisioning: a worker gets its own credentials or
     * does not start), then the dependencies. */
    gate = hookset_may_start(&SPRIV(sup)->hooks, sup, in);
    dep = gate ? gate : unready_dep(sup, in);
    if (dep) {
        if (strcmp(text_get(&in->waiting_for), dep) != 0) {
            if (gate)
                log_info("waiting before its start", "instance", in->name, "for", gate);
            else
                log_info("waiting for dependency", "instance", in->name, "depends_on", dep);
        }
        text_set(&in->waiting_for, "%s", dep);
        dispatch(sup, in, PEV_DEPS_PENDING, 0, 0);
    } else {
        text_clear(&in->waiting_for);
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

/* One child was reaped: the hook's that owns it, or an instance's (see
 * sup_child_exited). */
static void reaped(supervisor_t *sup, pid_t pid, int status, int group_killed, int detached)
{
    sup_priv_t *sp = SPRIV(sup);
    size_t ri = (size_t)-1;
    sup_instance_t *in = find_pid(sup, pid, &ri);
    char cause[96], up[48];

    if (hookset_reaped(&SPRIV(sup)->hooks, sup, pid, status))
        return;
    if (!in) {
        detach_forget(&sp->detach, pid);
        log_debug("reaped an unknown child", "pid", LOG_INT(pid));
        return;
    }
    exec_settle(sup, in);
    if (PRIV(in)->exec_err.s && ri == (size_t)-1 &&
        pol_errno_is_resource(PRIV(in)->exec_errno)) {
        /* The child ran out of the supervisor's resources before exec (its /dev/null,
         * its memory): not the worker's failure either. */
        uncount_start(in);
        in->dirs_ready = 0;
        defer_start(sup, in, text_get(&PRIV(in)->exec_err));
        text_clear(&PRIV(in)->exec_err);
        return;
    }
    if (PRIV(in)->exec_err.s && ri == (size_t)-1) {
        /* It never ran: a failed start, not an exit. Its directories are checked
         * again before the next try (one may have been removed: chdir failed). */
        in->pid = 0;
        in->dirs_ready = 0;
        in->last_exit_status = -1;
        log_error("worker failed to start", "instance", in->name, "error",
                  text_get(&PRIV(in)->exec_err),
                  "command", in->cfg->service->command);
        text_set(&in->last_exit, "failed to start: %.70s", text_get(&PRIV(in)->exec_err));
        logcap_note(PRIV(in)->log, "[instanced] failed to start");
        text_clear(&PRIV(in)->exec_err);
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
    if (in->port_note.s && ri == (size_t)-1)
        text_set(&in->last_exit, "%.70s; %.110s", cause, text_get(&in->port_note));
    else
        text_set(&in->last_exit, "%s", cause);
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
        text_set(&in->last_exit, "%s", DETACH_MESSAGE);
        log_error("instance failed", "instance", in->name, "reason", DETACH_MESSAGE);
        logcap_note(PRIV(in)->log, "[instanced] " DETACH_MESSAGE);
        event_del(PRIV(in)->ready_ev);
        in->ready = 0;
        hookset_exited(&SPRIV(sup)->hooks, sup, in);
        set_state(in, SUP_FAILED);
        return;
    }
    hookset_exited(&SPRIV(sup)->hooks, sup, in);
    if (hookset_exit_hold(&SPRIV(sup)->hooks, sup, in)) {
        /* Processes it started are still there (its cgroup): it has not stopped until
         * they are gone, and nothing may start in its place. */
        log_debug("waiting for the worker's leftovers to go", "instance", in->name);
        PRIV(in)->held = 1;
        PRIV(in)->held_status = status;
        return;
    }
    dispatch(sup, in, PEV_EXIT, status, 0);
}

void sup_recount(supervisor_t *sup)
{
    if (sup->shutting_down)
        shutdown_step(sup);
}

void sup_exit_released(supervisor_t *sup, sup_instance_t *in)
{
    inst_priv_t *p = PRIV(in);

    if (!p->held)
        return;
    p->held = 0;
    dispatch(sup, in, PEV_EXIT, p->held_status, 0);
    if (sup->shutting_down)
        shutdown_step(sup);
}

/* ---- shutdown --------------------------------------------------------------------- */

static int live_processes(supervisor_t *sup)
{
    int n = (int)SPRIV(sup)->nretiring + hookset_busy(&SPRIV(sup)->hooks, sup);
    for (size_t i = 0; i < sup->ninst; i++)
        n += sup->inst[i]->pid > 0 || PRIV(sup->inst[i])->held;
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
    if (live_processes(sup) == 0 && !SPRIV(sup)->done) {
        log_info("all workers stopped");
        SPRIV(sup)->done = 1;
        event_base_loopbreak(sup->base);
    }
}

int sup_done(const supervisor_t *sup)
{
    return SPRIV(sup)->done;
}

void sup_begin_shutdown(supervisor_t *sup, const char *why)
{
    sup_priv_t *sp = SPRIV(sup);

    if (sup->shutting_down) {
        if (sp->killing)
            return;
        sp->killing = 1;
        log_warn("second stop signal: killing every worker now", "signal", why);
        for (size_t i = 0; i < sup->ninst; i++)
            signal_group(sup, sup->inst[i], SIGKILL);
        for (size_t i = 0; i < sp->nretiring; i++)
            signal_group(sup, sp->retiring[i], SIGKILL);
        hookset_stopping(&SPRIV(sup)->hooks, sup, SIGKILL);
        return;
    }
    sup->shutting_down = 1;
    notify_stopping();
    hookset_stopping(&SPRIV(sup)->hooks, sup, SIGTERM);
    log_info("shutting down", "signal", why, "workers", LOG_INT(live_processes(sup)));
    /* Nothing waits or backs off any more. */
    for (size_t i = 0; i < sup->ninst; i++)
        if (sup->inst[i]->pid == 0)
            dispatch(sup, sup->inst[i], PEV_STOP, 0, 0);
    shutdown_step(sup);
}

/* ---- reaping ---------------------------------------------------------------------- */

void sup_reap_children(supervisor_t *sup)
{
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
}

void sup_child_exited(supervisor_t *sup, pid_t pid, int status, int group_killed,
                      int detached)
{
    reaped(sup, pid, status, group_killed, detached);
    if (sup->shutting_down)
        shutdown_step(sup);
}

/* ---- the open-file budget --------------------------------------------------------- */

/* Descriptors the supervisor keeps per instance (logcap.h: the running worker's
 * output pipe and its log file), and for everything else: listeners, control
 * clients, scrapers, up to 256 probes in flight (probe.c), a start under way. */
#define FDS_PER_INSTANCE 2
#define FDS_BASE 512

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

void sup_fence(supervisor_t *sup, sup_instance_t *in, const char *why)
{
    inst_priv_t *p = PRIV(in);

    if (sup->shutting_down || !in->wanted)
        return;
    if (in->pid > 0) {
        if (in->state != SUP_STOPPING)
            log_info("fencing worker", "instance", in->name, "reason", why);
        p->restart_after_stop = 1; /* then try_start: held by the hook that fenced it */
        dispatch(sup, in, PEV_STOP, 0, 0);
    } else if (in->state == SUP_BACKOFF) {
        dispatch(sup, in, PEV_STOP, 0, 0); /* cancels the restart */
        try_start(sup, in);
    }
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

int sup_pause(supervisor_t *sup, sup_instance_t *in, char *err, size_t errlen)
{
    sup_spawner_t *sw = &SPRIV(sup)->spawner;
    inst_priv_t *p = PRIV(in);

    if (in->state != SUP_RUNNING && in->state != SUP_STARTING) {
        snprintf(err, errlen, "%s is %s: only a starting or running instance can be paused",
                 in->name, sup_state_name(in->state));
        return -1;
    }
    if (!sw->freeze) {
        snprintf(err, errlen, "pause needs cgroup containment, which is off here");
        return -1;
    }
    if (sw->freeze(sw->ctx, sup, in, 1, err, errlen) < 0)
        return -1;
    event_del(p->ready_ev);
    p->paused_from = in->state;
    log_info("worker paused", "instance", in->name, "pid", LOG_INT(in->pid));
    set_state(in, SUP_PAUSED);
    return 0;
}

int sup_resume(supervisor_t *sup, sup_instance_t *in, char *err, size_t errlen)
{
    sup_spawner_t *sw = &SPRIV(sup)->spawner;
    inst_priv_t *p = PRIV(in);

    if (in->state != SUP_PAUSED) {
        snprintf(err, errlen, "%s is %s, not paused", in->name, sup_state_name(in->state));
        return -1;
    }
    if (sw->freeze(sw->ctx, sup, in, 0, err, errlen) < 0)
        return -1;
    log_info("worker resumed", "instance", in->name, "pid", LOG_INT(in->pid));
    set_state(in, p->paused_from);
    if (in->state == SUP_STARTING && !pc_probed(in->cfg))
        arm(p->ready_ev, in->cfg->policy.ready_after_ms);
    return 0;
}

void sup_set_spawner(supervisor_t *sup, const sup_spawner_t *spawner)
{
    SPRIV(sup)->spawner = *spawner;
}

const sup_spawner_t *sup_get_spawner(const supervisor_t *sup)
{
    return &SPRIV(sup)->spawner;
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

    hookset_removed(&SPRIV(sup)->hooks, sup, in);
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
    signal_group(sup, in, SIGTERM);
    arm(p->stop_ev, p->stop_timeout_ms);
}

/* The inventory a reload brought, applied as plan says (reload.c made it). Entries of
 * unchanged and changed instances are the same objects (same pointers for the hooks,
 * same PIDs); only new instances get new entries. */
int sup_apply_reload(supervisor_t *sup, inventory_t *ninv, const reload_plan_t *plan,
                     char *summary, size_t len)
{
    inventory_t *oinv = sup->inv;
    sup_instance_t **nt;

    /* xcalloc returns a unique pointer for an empty inventory too. */
    nt = xcalloc(ninv->ninstances, sizeof(*nt));
    for (size_t i = 0; i < sup->ninst; i++)
        PRIV(sup->inst[i])->kept = 0;
    for (size_t k = 0; k < plan->n; k++) {
        const rp_item_t *it = &plan->v[k];
        const inv_instance_t *ncfg;
        sup_instance_t *old;

        if (it->action == RP_REMOVE)
            continue;
        ncfg = &ninv->instances[it->new_index];
        old = it->action == RP_ADD ? NULL : sup_find(sup, ncfg->name);
        if (old) {
            PRIV(old)->kept = 1;
            if (it->action != RP_KEEP)
                old->dirs_ready = 0;
            old->cfg = ncfg;
            nt[it->new_index] = old;
            continue;
        }
        nt[it->new_index] = entry_new(sup, ncfg, it->new_index);
        if (!nt[it->new_index]) {
            /* Roll back: the old table and inventory stay. */
            for (size_t i = 0; i < ninv->ninstances; i++)
                if (nt[i] && !PRIV(nt[i])->kept)
                    entry_free(nt[i]);
            for (size_t i = 0; i < sup->ninst; i++)
                sup->inst[i]->cfg = inv_find_instance(oinv, sup->inst[i]->name);
            free(nt);
            inv_free(ninv);
            snprintf(summary, len, "cannot create an entry for %s", ncfg->name);
            return -1;
        }
        nt[it->new_index]->wanted = 1;
    }
    for (size_t i = 0; i < sup->ninst; i++)
        if (!PRIV(sup->inst[i])->kept)
            retire(sup, sup->inst[i]);
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
    sup->changes++;
    hookset_reloaded(&SPRIV(sup)->hooks, sup);

    for (size_t k = 0; k < plan->n; k++) {
        const rp_item_t *it = &plan->v[k];
        sup_instance_t *in;
        inst_priv_t *p;

        if (it->action != RP_RESTART && it->action != RP_START && it->action != RP_UPDATE)
            continue;
        in = sup->inst[it->new_index];
        p = PRIV(in);
        log_info("instance changed: restarting", "instance", in->name,
                 "state", sup_state_name(in->state), "changed", it->reason);
        pol_track_reset(&p->track); /* a changed instance gets a fresh start, even failed */
        if (it->action == RP_RESTART) {
            p->restart_after_stop = 1;
            dispatch(sup, in, PEV_STOP, 0, 0);
        } else if (it->action == RP_START) {
            in->wanted = 1;
            event_del(p->restart_ev);
            try_start(sup, in);
        }
    }
    for (size_t i = 0; i < sup->ninst; i++)
        if (sup->inst[i]->state == SUP_STOPPED && sup->inst[i]->starts == 0)
            try_start(sup, sup->inst[i]);
    wake_waiting(sup);
    status_now(sup);
    return 0;
}

/* ---- life ------------------------------------------------------------------------- */

void sup_free(supervisor_t *sup)
{
    sup_priv_t *sp;

    if (!sup)
        return;
    sp = SPRIV(sup);
    for (size_t i = 0; i < sp->nretiring; i++)
        entry_free(sp->retiring[i]);
    free(sp->retiring);
    for (size_t i = 0; i < sup->ninst; i++)
        entry_free(sup->inst[i]);
    free(sup->inst);
    if (sp->pass_ev)
        event_free(sp->pass_ev);
    if (sp->status_ev)
        event_free(sp->status_ev);
    free(sp);
    inv_free(sup->inv);
    free(sup);
}

supervisor_t *sup_new(struct event_base *base, inventory_t *inv, int foreground,
                      long long log_rate, const sup_spawner_t *spawner, char *err,
                      size_t errlen)
{
    supervisor_t *sup = xcalloc(1, sizeof(*sup));
    sup_priv_t *sp = xcalloc(1, sizeof(*sp));

    sup->base = base;
    sup->inv = inv;
    sup->foreground = foreground;
    sup->started_at = time(NULL);
    sup->priv = sp;
    sp->log_rate = log_rate;
    sp->spawner = *spawner;
    sp->pass_ev = event_new(base, -1, 0, pass_cb, sup);
    sp->status_ev = evtimer_new(base, status_cb, sup);
    if (!sp->pass_ev || !sp->status_ev || event_priority_set(sp->pass_ev, PRIO_LOGS) < 0) {
        snprintf(err, errlen, "cannot set up the event loop");
        if (sp->pass_ev)
            event_free(sp->pass_ev);
        if (sp->status_ev)
            event_free(sp->status_ev);
        free(sp);
        free(sup);
        inv_free(inv);
        return NULL;
    }
    /* The subreaper, before the first spawn: orphans come back here (detach.h). */
    detach_init(&sp->detach);
    sup->inst = xcalloc(inv->ninstances, sizeof(*sup->inst));
    for (size_t i = 0; i < inv->ninstances; i++) {
        sup->inst[i] = entry_new(sup, &inv->instances[i], i);
        if (!sup->inst[i]) {
            snprintf(err, errlen, "cannot create an entry for %s", inv->instances[i].name);
            sup_free(sup);
            return NULL;
        }
        sup->inst[i]->wanted = 1;
        sup->ninst++;
    }
    check_fd_budget(sup->ninst);
    resolve_creds(sup);
    return sup;
}

void sup_start_all(supervisor_t *sup)
{
    start_pass(sup, 1);
    status_now(sup);
}

/* ---- hooks ------------------------------------------------------------------------ */

int sup_add_hooks(supervisor_t *sup, const sup_hooks_t *hooks, void *ctx)
{
    return hookset_add(&SPRIV(sup)->hooks, hooks, ctx);
}

void sup_remove_hooks(supervisor_t *sup, void *ctx)
{
    hookset_remove(&SPRIV(sup)->hooks, ctx);
}

int sup_worker_env(supervisor_t *sup, sup_instance_t *in, char **env, char *err,
                   size_t errlen)
{
    return hookset_worker_env(&SPRIV(sup)->hooks, sup, in, env, err, errlen);
}
