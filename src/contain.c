/* contain.c - containment: one cgroup per instance, wired into the supervisor.
 *
 * cgroup.c knows cgroups; this module applies them to the supervisor through its
 * public seams: it wraps the spawner (workers start inside their cgroup, signals reach
 * every process in it, pause freezes it), and registers hooks: a worker's exit is held
 * until its cgroup is empty (what remains is killed with cgroup.kill), a start waits
 * while leftovers of a previous run are being killed, removed instances' cgroups go
 * when empty, and each cgroup's accounting is copied into sup_instance_t.usage when a
 * view is about to show it.
 * Without a writable cgroup2 (or with `cgroups = false`) it falls back to the weaker
 * subreaper: orphans re-parented to the supervisor are killed when a worker exits. */
#include "config.h"

#include "contain.h"

#include <errno.h>
#include <fcntl.h>
#include <event2/event.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "detach.h"
#include "log.h"
#include "strmap.h"
#include "xalloc.h"

/* Accounting is read when someone is about to show it (supervisor_t.refresh_usage),
 * at most once per STATS_MIN_MS: an idle supervisor reads no cgroup file. */
#define STATS_MIN_MS 1000

/* One instance cgroup. `in` is NULL once the entry is gone (removed by a reload):
 * the cgroup then waits to be empty and is removed. */
typedef struct cinst {
    char *name;                /* the instance's name: by_name's key */
    cg_inst_t ci;
    sup_instance_t *in;
    int open;                  /* ci is open and watched */
    int held;                  /* its worker's exit waits for the cgroup to empty */
    int gated;                 /* leftovers of a previous run are being killed */
    int limits_warned;         /* a limit that cannot apply was logged */
    int killed;                /* cgroup.kill was written since it was made */
    long long oom_before;      /* memory.events oom_kill at the last start */
    long long last_cpu_usec;   /* the previous sample, for the CPU percentage */
    struct timespec last_sample;
} cinst_t;

struct contain {
    supervisor_t *sup;
    int on;                    /* cgroups in use; 0: the subreaper fallback */
    char why_off[512];
    cg_tree_t tree;
    sup_spawner_t inner;       /* the real spawner this one wraps */
    struct event *watch_ev;
    struct timespec last_round; /* of the last accounting round */
    cinst_t **v;
    size_t n;
    strmap_t by_name;          /* name -> its entry of v */
    strmap_t by_wd;            /* its inotify watch ("%d") -> the entry */
    detach_t orphans;          /* the fallback's bookkeeping */
};

/* ---- the table ---------------------------------------------------------------------- */

/* An instance's cgroup directory is opened only for as long as one operation needs it:
 * a supervisor of 5,000 instances keeps two descriptors per instance (its output pipe
 * and its log file), not three. */
static int at(cinst_t *x)
{
    if (x->ci.dir_fd < 0)
        x->ci.dir_fd = open(x->ci.path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    return x->ci.dir_fd;
}

static void done(cinst_t *x)
{
    if (x->ci.dir_fd >= 0) {
        close(x->ci.dir_fd);
        x->ci.dir_fd = -1;
    }
}

/* memory.events' oom_kill of the open cgroup: 0 when there is none (no memory
 * controller). Read at each start and exit, so kept to one small file. */
static long long oom_kills(const cinst_t *x)
{
    char buf[512];
    const char *p;
    ssize_t n;
    int fd = openat(x->ci.dir_fd, "memory.events", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    for (p = buf; (p = strstr(p, "oom_kill ")); p++)
        if (p == buf || p[-1] == '\n')
            return strtoll(p + 9, NULL, 10);
    return 0;
}

static int populated(cinst_t *x)
{
    int r = at(x) >= 0 ? cg_inst_populated(&x->ci) : -1;
    done(x);
    return r;
}

static int kill_cg(contain_t *c, cinst_t *x, char *err, size_t errlen)
{
    int r = at(x) >= 0 ? cg_inst_kill(&c->tree, &x->ci, err, errlen) : -1;

    x->killed = 1;

    if (x->ci.dir_fd < 0)
        snprintf(err, errlen, "%s: %s", x->ci.path, strerror(errno));
    done(x);
    return r;
}

static void wd_key(int wd, char key[16])
{
    snprintf(key, 16, "%d", wd);
}

/* Before ci's watch goes (cg_inst_close, cg_inst_remove). */
static void unwatch(contain_t *c, cinst_t *x)
{
    char key[16];

    if (x->ci.wd < 0)
        return;
    wd_key(x->ci.wd, key);
    if (strmap_get(&c->by_wd, key) == x)
        strmap_del(&c->by_wd, key);
}

static cinst_t *find_name(contain_t *c, const char *name)
{
    return strmap_get(&c->by_name, name);
}

static cinst_t *find_in(contain_t *c, const sup_instance_t *in)
{
    cinst_t *x = find_name(c, in->name);
    return x && x->in == in ? x : NULL;
}

static void drop(contain_t *c, cinst_t *x)
{
    char err[256];

    for (size_t i = 0; i < c->n; i++) {
        if (c->v[i] != x)
            continue;
        c->v[i] = c->v[--c->n];
        break;
    }
    unwatch(c, x);
    if (x->open && cg_inst_remove(&c->tree, &x->ci, err, sizeof(err)) < 0)
        log_debug("cannot remove an instance cgroup", "cgroup", x->ci.path ? x->ci.path : "",
                  "error", err);
    cg_inst_close(&c->tree, &x->ci);
    strmap_del(&c->by_name, x->name);
    free(x->name);
    free(x);
}

/* The cgroup of name, opened and watched (created when missing). NULL with err. */
static cinst_t *open_cg(contain_t *c, const char *name, sup_instance_t *in, char *err,
                        size_t errlen)
{
    cinst_t *x = find_name(c, name);

    if (x && x->open)
        return x;
    if (!x) {
        x = xcalloc(1, sizeof(*x));
        x->name = xstrdup(name);
        strmap_set(&c->by_name, name, x);
        x->ci.dir_fd = -1;
        x->ci.wd = -1;
        x->in = in;
        c->v = xreallocarray(c->v, c->n + 1, sizeof(*c->v));
        c->v[c->n++] = x;
    }
    if (cg_inst_open(&c->tree, name, &x->ci, err, errlen) < 0 ||
        cg_inst_watch(&c->tree, &x->ci, err, errlen) < 0) {
        unwatch(c, x);
        cg_inst_close(&c->tree, &x->ci);
        return NULL;
    }
    {
        char key[16];
        wd_key(x->ci.wd, key);
        strmap_set(&c->by_wd, key, x);
    }
    done(x);
    x->open = 1;
    return x;
}

/* ---- limits ------------------------------------------------------------------------- */

/* The inventory's value of key as the cgroup file wants it; 0 when the key is unset. */
static int limit_text(const inv_policy_t *p, cg_limit_key_t key, char *out, size_t len)
{
    long long v = 0;

    switch (key) {
    case CG_MEMORY_MAX: v = p->memory_max; break;
    case CG_MEMORY_HIGH: v = p->memory_high; break;
    case CG_PIDS_MAX: v = p->pids_max; break;
    case CG_CPU_WEIGHT:
        if (!p->cpu_weight)
            return 0;
        snprintf(out, len, "%ld", p->cpu_weight);
        return 1;
    case CG_IO_WEIGHT:
        if (!p->io_weight)
            return 0;
        snprintf(out, len, "default %ld", p->io_weight);
        return 1;
    case CG_CPU_MAX:
        if (!p->cpu_max.quota_us)
            return 0;
        if (p->cpu_max.quota_us == INV_LIMIT_MAX)
            snprintf(out, len, "max %lld", p->cpu_max.period_us);
        else
            snprintf(out, len, "%lld %lld", p->cpu_max.quota_us, p->cpu_max.period_us);
        return 1;
    case CG_LIMIT_COUNT:
        return 0;
    }
    if (!v)
        return 0;
    if (v == INV_LIMIT_MAX)
        snprintf(out, len, "max");
    else
        snprintf(out, len, "%lld", v);
    return 1;
}

/* Write the instance's limits before its worker starts; a key that cannot apply here
 * is logged (once per instance and config) with the reason. */
static void apply_limits(contain_t *c, cinst_t *x, const inv_policy_t *p)
{
    for (int k = 0; k < CG_LIMIT_COUNT; k++) {
        char value[64], why[512];

        if (!limit_text(p, (cg_limit_key_t)k, value, sizeof(value)))
            continue;
        if (cg_limit_available(&c->tree, (cg_limit_key_t)k, why, sizeof(why)) == 1 &&
            cg_inst_set_limit(&c->tree, &x->ci, (cg_limit_key_t)k, value, why,
                              sizeof(why)) == 0)
            continue;
        if (!x->limits_warned)
            log_warn("a limit cannot apply: the worker starts without it", "instance",
                     x->in->name, "key", cg_limit_name((cg_limit_key_t)k), "reason", why);
    }
    x->limits_warned = 1;
}

/* ---- the spawner ---------------------------------------------------------------------- */

static int c_spawn(void *ctx, supervisor_t *sup, sup_instance_t *in, struct logcap *log,
                   pid_t *pid, int *report_fd, char *err, size_t errlen, int *resource)
{
    contain_t *c = ctx;
    char cerr[256];
    cinst_t *x = find_in(c, in);
    int rc;

    if (x && x->open && x->killed) {
        /* A cgroup that was once killed through cgroup.kill also kills, on some
         * kernels (seen with 6.18), every process later created in it with clone3:
         * the worker starts in a fresh one. The old one is empty (the start waited
         * for that), so removing it costs an rmdir and a mkdir. */
        unwatch(c, x);
        if (cg_inst_remove(&c->tree, &x->ci, cerr, sizeof(cerr)) < 0)
            log_debug("cannot remove a killed cgroup before a start", "instance", in->name,
                      "error", cerr);
        x->open = 0;
        x->killed = 0;
    }
    x = open_cg(c, in->name, in, cerr, sizeof(cerr));
    if (!x) {
        /* Never run a worker uncontained behind the operator's back. */
        snprintf(err, errlen, "cannot create its cgroup: %.200s", cerr);
        *resource = errno == EMFILE || errno == ENFILE || errno == ENOMEM;
        return -1;
    }
    x->in = in;
    if (at(x) < 0) {
        snprintf(err, errlen, "cannot open its cgroup %.150s: %s", x->ci.path, strerror(errno));
        *resource = errno == EMFILE || errno == ENFILE || errno == ENOMEM;
        return -1;
    }
    apply_limits(c, x, &in->cfg->policy);
    x->oom_before = oom_kills(x);
    in->cgroup_fd = x->ci.dir_fd;
    rc = c->inner.spawn(c->inner.ctx, sup, in, log, pid, report_fd, err, errlen, resource);
    in->cgroup_fd = -1;
    done(x);
    return rc;
}

/* sig to every process in the cgroup but those of the worker's own process group,
 * which the real spawner's group signal reached already (a second SIGTERM is, to many
 * programs, "stop now"). */
static void signal_all(const cinst_t *x, pid_t group, int sig)
{
    pid_t *pids = NULL;
    int n = cg_inst_pids(&x->ci, &pids);

    for (int i = 0; i < n; i++)
        if (group <= 0 || getpgid(pids[i]) != group)
            kill(pids[i], sig);
    free(pids);
}

static void c_signal(void *ctx, supervisor_t *sup, sup_instance_t *in, int sig)
{
    contain_t *c = ctx;
    cinst_t *x = find_in(c, in);
    char err[256];

    if (in->pid > 0)
        c->inner.signal(c->inner.ctx, sup, in, sig);
    if (!x || !x->open)
        return;
    /* Everything in the cgroup, whatever session it moved to, gets the signal; SIGKILL
     * through cgroup.kill, which a fork racing it cannot escape. */
    if (sig == SIGKILL) {
        if (kill_cg(c, x, err, sizeof(err)) < 0)
            log_warn("cannot kill the instance's cgroup", "instance", in->name, "error", err);
    } else {
        signal_all(x, in->pid, sig);
    }
}

static int c_freeze(void *ctx, supervisor_t *sup, sup_instance_t *in, int on, char *err,
                    size_t errlen)
{
    contain_t *c = ctx;
    cinst_t *x = find_in(c, in);

    (void)sup;
    int r;

    if (!x || !x->open) {
        snprintf(err, errlen, "%s has no cgroup", in->name);
        return -1;
    }
    if (at(x) < 0) {
        snprintf(err, errlen, "%s: %s", x->ci.path, strerror(errno));
        return -1;
    }
    r = cg_inst_freeze(&x->ci, on, err, errlen);
    done(x);
    return r;
}

/* ---- hooks ---------------------------------------------------------------------------- */

/* The worker is gone: was it the OOM killer? Anything left is killed, and the exit
 * counts once the cgroup is empty. */
static int h_exit_hold(void *ctx, supervisor_t *sup, sup_instance_t *in)
{
    contain_t *c = ctx;
    cinst_t *x = find_in(c, in);
    long long oom;
    int pop;
    char err[256];

    (void)sup;
    if (!x || !x->open)
        return 0;
    if (at(x) >= 0 && (oom = oom_kills(x)) > x->oom_before) {
        char max[32] = "";
        char cause[TEXT_MAX];

        if (in->cfg->policy.memory_max && in->cfg->policy.memory_max != INV_LIMIT_MAX)
            cg_format_size(in->cfg->policy.memory_max, max, sizeof(max));
        if (cg_oom_cause(x->oom_before, oom, max[0] ? max : NULL, cause,
                         sizeof(cause)) > 0) {
            log_warn("worker killed by the OOM killer", "instance", in->name, "cause", cause);
            text_set(&in->last_exit, "%s", cause);
        }
        in->usage.oom_kills = (unsigned long)oom;
        x->oom_before = oom;
    }
    pop = x->ci.dir_fd >= 0 ? cg_inst_populated(&x->ci) : -1;
    done(x);
    if (pop != 1)
        return 0;
    log_info("killing what the worker left in its cgroup", "instance", in->name);
    if (kill_cg(c, x, err, sizeof(err)) < 0)
        log_warn("cannot kill the instance's cgroup", "instance", in->name, "error", err);
    x->held = 1;
    return 1;
}

static const char *h_may_start(void *ctx, supervisor_t *sup, sup_instance_t *in)
{
    contain_t *c = ctx;
    cinst_t *x = find_in(c, in);

    (void)sup;
    if (!x)
        x = find_name(c, in->name); /* a removed namesake's cgroup, still emptying */
    if (x && x->open && (x->gated || x->held || !x->in) && populated(x) == 1)
        return "its cgroup to empty";
    if (x)
        x->gated = 0;
    return NULL;
}

/* The entry goes (removed by a reload, or the supervisor ends): its cgroup is killed
 * if anything is left and removed once empty. */
static void h_freed(void *ctx, supervisor_t *sup, sup_instance_t *in)
{
    contain_t *c = ctx;
    cinst_t *x = find_in(c, in);
    char err[256];

    (void)sup;
    if (!x)
        return;
    x->in = NULL;
    x->held = 0;
    if (x->open && populated(x) == 1) {
        if (kill_cg(c, x, err, sizeof(err)) < 0)
            log_warn("cannot kill a removed instance's cgroup", "cgroup", x->ci.path,
                     "error", err);
        return; /* removed by watch_cb once empty */
    }
    drop(c, x);
}

static void h_stopping(void *ctx, supervisor_t *sup, int sig)
{
    contain_t *c = ctx;
    char err[256];

    (void)sup;
    if (sig != SIGKILL)
        return;
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i]->open && kill_cg(c, c->v[i], err, sizeof(err)) < 0)
            log_warn("cannot kill an instance's cgroup", "cgroup", c->v[i]->ci.path, "error",
                     err);
}

static int h_busy(void *ctx, supervisor_t *sup)
{
    contain_t *c = ctx;
    int n = 0;

    (void)sup;
    /* Removed instances' cgroups still emptying: shutdown waits for them too. */
    for (size_t i = 0; i < c->n; i++)
        n += !c->v[i]->in && c->v[i]->open && populated(c->v[i]) == 1;
    return n;
}

/* The fallback: no cgroup, but the supervisor is the subreaper; what a worker leaves
 * re-parented to it in a session of its own is killed when the worker is stopped
 * (instancectl stop, a restart, a reload, shutdown). */
static int h_fallback_exit(void *ctx, supervisor_t *sup, sup_instance_t *in)
{
    contain_t *c = ctx;
    int n;

    if (in->state != SUP_STOPPING)
        return 0;
    n = detach_reap(&c->orphans, sup, in);

    if (n > 0)
        log_warn("killed processes the worker left behind", "instance", in->name,
                 "processes", LOG_INT(n));
    return 0;
}

/* ---- events --------------------------------------------------------------------------- */

/* A cgroup.events of ours changed. Every start and exit changes one (populated 1, 0):
 * the entry is found by its watch, and its file is read only when something waits
 * for that cgroup to empty. */
static void watched(int wd, void *arg)
{
    contain_t *c = arg;
    char key[16];
    cinst_t *x;

    wd_key(wd, key);
    x = strmap_get(&c->by_wd, key);
    if (!x || x->ci.wd != wd)
        return; /* IN_IGNORED of a watch already removed */
    if (x->in && !x->held && !x->gated)
        return;
    if (populated(x) == 1)
        return;
    if (!x->in) {
        drop(c, x);
        sup_recount(c->sup);      /* shutdown may be waiting for it */
        sup_wake_waiting(c->sup); /* a namesake added back may start */
        return;
    }
    if (x->held) {
        x->held = 0;
        sup_exit_released(c->sup, x->in);
    }
    if (x->gated) {
        x->gated = 0;
        sup_wake_waiting(c->sup);
    }
}

static void watch_cb(evutil_socket_t fd, short what, void *arg)
{
    contain_t *c = arg;

    (void)fd, (void)what;
    cg_watch_drain(&c->tree, watched, c);
}

static double since(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void sample(contain_t *c)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    for (size_t i = 0; i < c->n; i++) {
        cinst_t *x = c->v[i];
        struct sup_usage *u;
        cg_stats_t st;

        if (!x->in || !x->open)
            continue;
        if (at(x) < 0 || cg_inst_stats(&x->ci, &st) < 0) {
            done(x);
            continue;
        }
        done(x);
        u = &x->in->usage;
        u->have = 1;
        u->cpu_seconds = st.cpu_usec >= 0 ? (double)st.cpu_usec / 1e6 : 0;
        if (x->last_sample.tv_sec && st.cpu_usec >= x->last_cpu_usec &&
            since(&x->last_sample, &now) > 0.1)
            u->cpu_percent = (double)(st.cpu_usec - x->last_cpu_usec) / 1e4 /
                             since(&x->last_sample, &now);
        x->last_cpu_usec = st.cpu_usec;
        x->last_sample = now;
        u->memory_bytes = st.mem_current;
        u->memory_peak = st.mem_peak;
        u->pids = st.pids_current >= 0 ? st.pids_current : st.nprocs;
        if (st.oom_kills > 0)
            u->oom_kills = (unsigned long)st.oom_kills;
        u->cpu_pressure = st.cpu_some10;
        u->memory_pressure = st.mem_some10;
        u->io_pressure = st.io_some10;
    }
}

static void refresh(supervisor_t *sup)
{
    contain_t *c = sup->usage_ctx;
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    if (c->last_round.tv_sec &&
        since(&c->last_round, &now) * 1000 < STATS_MIN_MS)
        return;
    c->last_round = now;
    sample(c);
}

/* ---- life ------------------------------------------------------------------------------- */

/* Leftovers of a previous run of this supervisor (it was SIGKILLed, OOM-killed, lost by
 * systemd): logged, killed, and their instances start only once their cgroup is empty.
 * Cgroups of instances no longer in the inventory are killed and removed. */
static void reap_leftovers(contain_t *c)
{
    cg_leftover_t *lo = NULL;
    char err[256];
    int n = cg_leftovers(&c->tree, &lo, err, sizeof(err));

    if (n < 0) {
        log_warn("cannot look for leftovers of a previous run", "error", err);
        return;
    }
    for (int i = 0; i < n; i++) {
        sup_instance_t *in = sup_find(c->sup, lo[i].instance);
        cinst_t *x;

        log_warn("killing a leftover process of a previous run", "instance", lo[i].instance,
                 "pid", LOG_INT(lo[i].pid), "comm", lo[i].comm);
        x = open_cg(c, lo[i].instance, in, err, sizeof(err));
        if (!x) {
            log_warn("cannot open a leftover cgroup", "instance", lo[i].instance, "error", err);
            continue;
        }
        x->gated = 1;
        if (kill_cg(c, x, err, sizeof(err)) < 0)
            log_warn("cannot kill a leftover cgroup", "instance", lo[i].instance, "error", err);
    }
    free(lo);
}

contain_t *contain_new(supervisor_t *sup)
{
    static const sup_hooks_t hooks = {
        .exit_hold = h_exit_hold, .may_start = h_may_start, .freed = h_freed,
        .stopping = h_stopping, .busy = h_busy,
    };
    static const sup_hooks_t fallback = { .exit_hold = h_fallback_exit };
    contain_t *c = xcalloc(1, sizeof(*c));
    const inventory_t *inv = sup->inv;
    char tag[128], err[512];
    sup_spawner_t sw;

    c->sup = sup;
    c->tree.watch_fd = -1;
    detach_init(&c->orphans); /* the subreaper: in both modes */
    if (!inv->cgroups) {
        snprintf(c->why_off, sizeof(c->why_off), "cgroups = false in the inventory");
    } else {
        cg_tag_from_path(inv->control_socket && *inv->control_socket ? inv->control_socket
                                                                     : inv->path,
                         tag, sizeof(tag));
        if (cg_tree_open(&c->tree, inv->cgroup_root, tag, err, sizeof(err)) == 0)
            c->on = 1;
        else
            snprintf(c->why_off, sizeof(c->why_off), "%s", err);
    }
    if (!c->on) {
        log_warn("containment: no cgroup per instance; orphans are killed when their worker "
                 "exits, but nothing survives a supervisor crash guarantee",
                 "reason", c->why_off);
        if (sup_add_hooks(sup, &fallback, c) < 0) {
            free(c);
            return NULL;
        }
        return c;
    }
    c->watch_ev = event_new(sup->base, cg_watch_fd(&c->tree), EV_READ | EV_PERSIST, watch_cb, c);
    if (!c->watch_ev || event_add(c->watch_ev, NULL) < 0 ||
        sup_add_hooks(sup, &hooks, c) < 0) {
        log_error("containment: cannot watch the cgroups");
        contain_free(c);
        return NULL;
    }
    c->inner = *sup_get_spawner(sup);
    sup->refresh_usage = refresh;
    sup->usage_ctx = c;
    sw.spawn = c_spawn;
    sw.signal = c_signal;
    sw.freeze = c_freeze;
    sw.ctx = c;
    sup_set_spawner(sup, &sw);
    log_info("containment: a cgroup per instance", "cgroups", c->tree.plan.base, "mode",
             c->tree.plan.mode == CG_MODE_SYSTEMD ? "systemd"
             : c->tree.plan.mode == CG_MODE_CONFIG ? "cgroup_root" : "plain");
    reap_leftovers(c);
    return c;
}

int contain_active(const contain_t *c)
{
    return c && c->on;
}

void contain_free(contain_t *c)
{
    char err[256];

    if (!c)
        return;
    if (c->watch_ev)
        event_free(c->watch_ev);
    if (c->sup->usage_ctx == c) {
        c->sup->refresh_usage = NULL;
        c->sup->usage_ctx = NULL;
    }
    while (c->n)
        drop(c, c->v[0]);
    free(c->v);
    strmap_free(&c->by_name);
    strmap_free(&c->by_wd);
    if (c->on && cg_tree_close(&c->tree, 1, err, sizeof(err)) < 0)
        log_debug("cannot remove the cgroup subtree", "error", err);
    free(c);
}
