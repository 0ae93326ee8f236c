/* unit_core.c - CUnit tests of the supervision core (supervisor.c, reload.c) with a
 * fake spawner and fake hooks: dispatch, restarts and the start limit, dependency
 * gating, a hook holding starts, stop and shutdown order, reload applied, and the
 * reload planner on a table of inventory changes. No process is started: the fake
 * spawner hands out made-up pids and the test reports their exits itself. */
#include "config.h"

#include <CUnit/Basic.h>

#include "cunit_run.h"
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "reload.h"
#include "supervisor.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define EXITED(c) (((c) & 0xff) << 8)

/* detach.c asks whether an exec probe owns a process; no probe runs here. */
int pexec_owns(pid_t pid);
int pexec_owns(pid_t pid)
{
    (void)pid;
    return 0;
}

/* ---- the fakes ---------------------------------------------------------------------- */

typedef struct fake {
    pid_t next_pid;
    int fail;             /* the next spawns fail: 1 the worker's fault, 2 a shortage */
    unsigned spawns;
    char spawned[64][64]; /* names, in spawn order */
    unsigned nsig;
    struct { char name[64]; int sig; } sigs[64];
    /* hooks */
    unsigned started, exited, removed, freed, reloaded;
    char gate[64];        /* may_start holds this instance ("" none) */
    int busy;
    int hold;             /* exit_hold holds every exit */
    int frozen;           /* freeze(1) - freeze(0) calls */
    int no_freeze;        /* freeze fails */
} fake_t;

static fake_t F;

static int fake_spawn(void *ctx, supervisor_t *sup, sup_instance_t *in, struct logcap *log,
                      pid_t *pid, int *report_fd, char *err, size_t errlen, int *resource)
{
    fake_t *f = ctx;

    (void)sup, (void)log;
    *resource = 0;
    if (f->fail) {
        snprintf(err, errlen, "fake failure");
        *resource = f->fail == 2;
        return -1;
    }
    if (f->spawns < NELEM(f->spawned))
        snprintf(f->spawned[f->spawns], sizeof(f->spawned[0]), "%s", in->name);
    f->spawns++;
    *pid = f->next_pid++;
    *report_fd = -1;
    return 0;
}

static void fake_signal(void *ctx, supervisor_t *sup, sup_instance_t *in, int sig)
{
    fake_t *f = ctx;

    (void)sup;
    if (f->nsig < NELEM(f->sigs)) {
        snprintf(f->sigs[f->nsig].name, sizeof(f->sigs[0].name), "%s", in->name);
        f->sigs[f->nsig].sig = sig;
    }
    f->nsig++;
}

static int fake_freeze(void *ctx, supervisor_t *sup, sup_instance_t *in, int on, char *err,
                       size_t errlen)
{
    fake_t *f = ctx;

    (void)sup, (void)in;
    if (f->no_freeze) {
        snprintf(err, errlen, "no freezer");
        return -1;
    }
    f->frozen += on ? 1 : -1;
    return 0;
}

static int h_exit_hold(void *ctx, supervisor_t *sup, sup_instance_t *in)
{
    (void)sup, (void)in;
    return ((fake_t *)ctx)->hold;
}

static void h_started(void *ctx, supervisor_t *sup, sup_instance_t *in)
{
    (void)sup, (void)in;
    ((fake_t *)ctx)->started++;
}

static void h_exited(void *ctx, supervisor_t *sup, sup_instance_t *in)
{
    (void)sup, (void)in;
    ((fake_t *)ctx)->exited++;
}

static void h_removed(void *ctx, supervisor_t *sup, sup_instance_t *in)
{
    (void)sup, (void)in;
    ((fake_t *)ctx)->removed++;
}

static void h_freed(void *ctx, supervisor_t *sup, sup_instance_t *in)
{
    (void)sup, (void)in;
    ((fake_t *)ctx)->freed++;
}

static void h_reloaded(void *ctx, supervisor_t *sup)
{
    (void)sup;
    ((fake_t *)ctx)->reloaded++;
}

static const char *h_may_start(void *ctx, supervisor_t *sup, sup_instance_t *in)
{
    (void)sup;
    return strcmp(((fake_t *)ctx)->gate, in->name) == 0 ? "provisioning" : NULL;
}

static int h_busy(void *ctx, supervisor_t *sup)
{
    (void)sup;
    return ((fake_t *)ctx)->busy;
}

/* A signal sent to name since the fake was reset, 0 when none. */
static int last_sig(const char *name)
{
    int sig = 0;

    for (unsigned i = 0; i < F.nsig && i < NELEM(F.sigs); i++)
        if (strcmp(F.sigs[i].name, name) == 0)
            sig = F.sigs[i].sig;
    return sig;
}

/* ---- fixtures ----------------------------------------------------------------------- */

static char dir[] = "/tmp/unit-core-XXXXXX";
static char path[256];

/* db (a singleton), svc-A depending on db, svc-B; fast backoff, no readiness by
 * timer (the test says when an instance is ready), a start limit of 3. */
static const char base_conf[] =
    "volumes_root = \"%s/volumes\"\nlog_level = \"error\"\n"
    "service \"db\" {\n command = \"/bin/true\"\n singleton = true\n ready_after = 1h\n"
    " restart_delay = 1ms\n restart_delay_max = 1ms\n stop_timeout = 1h\n}\n"
    "service \"svc\" {\n command = \"/bin/true\"\n ready_after = 1h\n restart_delay = 1ms\n"
    " restart_delay_max = 1ms\n start_limit_burst = 3\n start_limit_interval = 1h\n"
    " stop_timeout = 1h\n}\n"
    "instance \"db\" {\n service = \"db\"\n}\n"
    "instance \"svc-A\" {\n service = \"svc\"\n depends_on = {\"db\"}\n port = 9001\n}\n"
    "instance \"svc-B\" {\n service = \"svc\"\n port = %d\n}\n%s";

static void write_conf(int port, const char *extra)
{
    FILE *f = fopen(path, "w");

    CU_ASSERT_FATAL(f != NULL);
    fprintf(f, base_conf, dir, port, extra);
    fclose(f);
}

static struct event_base *base;

static supervisor_t *make_sup(const char *extra)
{
    static const sup_hooks_t hooks = {
        .started = h_started, .exited = h_exited, .removed = h_removed, .freed = h_freed,
        .reloaded = h_reloaded, .may_start = h_may_start, .busy = h_busy,
        .exit_hold = h_exit_hold,
    };
    sup_spawner_t sp = { fake_spawn, fake_signal, fake_freeze, &F };
    inv_errors_t errs;
    inventory_t *inv;
    supervisor_t *sup;
    char err[256];

    memset(&F, 0, sizeof(F));
    F.next_pid = 4000000; /* above any pid_max: never a real process */
    write_conf(9002, extra);
    inv_errors_init(&errs);
    inv = inv_load(path, &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.v[i].text);
    inv_errors_free(&errs);
    CU_ASSERT_FATAL(inv != NULL);
    base = event_base_new();
    CU_ASSERT_FATAL(base && event_base_priority_init(base, 2) == 0);
    sup = sup_new(base, inv, 0, 1 << 20, &sp, err, sizeof(err));
    CU_ASSERT_FATAL(sup != NULL);
    CU_ASSERT_FATAL(sup_add_hooks(sup, &hooks, &F) == 0);
    return sup;
}

static void end_sup(supervisor_t *sup)
{
    /* Every fake process exits, then the table goes. */
    for (size_t i = 0; i < sup->ninst; i++)
        if (sup->inst[i]->pid > 0)
            sup_child_exited(sup, sup->inst[i]->pid, EXITED(0), 0, 0);
    sup_free(sup);
    event_base_free(base);
    base = NULL;
}

static sup_instance_t *I(supervisor_t *sup, const char *name)
{
    sup_instance_t *in = sup_find(sup, name);
    CU_ASSERT_FATAL(in != NULL);
    return in;
}

/* Run the loop until the next timer has fired (a deferred start: 250 ms). */
static void run_once(void)
{
    event_base_loop(base, EVLOOP_ONCE);
}

/* Run the loop until the timers due within a few milliseconds have fired. */
static void run_timers(void)
{
    struct timeval tv = { 0, 20000 };
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
}

/* ---- dispatch ----------------------------------------------------------------------- */

static void test_start_waits_for_dependency(void)
{
    supervisor_t *sup = make_sup("");

    sup_start_all(sup);
    CU_ASSERT_EQUAL(F.spawns, 2); /* db and svc-B; svc-A waits for db */
    CU_ASSERT_EQUAL(I(sup, "db")->state, SUP_STARTING);
    CU_ASSERT_EQUAL(I(sup, "svc-B")->state, SUP_STARTING);
    CU_ASSERT_EQUAL(I(sup, "svc-A")->state, SUP_WAITING);
    CU_ASSERT_STRING_EQUAL(text_get(&I(sup, "svc-A")->waiting_for), "db");
    CU_ASSERT_EQUAL(F.started, 2);
    /* db is ready: its dependent starts at once. */
    sup_instance_ready(sup, I(sup, "db"));
    CU_ASSERT_EQUAL(I(sup, "db")->state, SUP_RUNNING);
    CU_ASSERT_EQUAL(I(sup, "svc-A")->state, SUP_STARTING);
    CU_ASSERT_STRING_EQUAL(text_get(&I(sup, "svc-A")->waiting_for), "");
    CU_ASSERT_EQUAL(F.spawns, 3);
    CU_ASSERT_STRING_EQUAL(F.spawned[2], "svc-A");
    /* db exits: svc-A is not stopped, but a restart of svc-A would wait again. */
    sup_child_exited(sup, I(sup, "db")->pid, EXITED(1), 0, 0);
    CU_ASSERT_EQUAL(I(sup, "db")->state, SUP_BACKOFF);
    CU_ASSERT_EQUAL(I(sup, "svc-A")->state, SUP_STARTING);
    sup_child_exited(sup, I(sup, "svc-A")->pid, EXITED(1), 0, 0);
    run_timers();
    CU_ASSERT_EQUAL(I(sup, "db")->state, SUP_STARTING);
    CU_ASSERT_EQUAL(I(sup, "svc-A")->state, SUP_WAITING);
    end_sup(sup);
}

static void test_exit_restarts_after_backoff(void)
{
    supervisor_t *sup = make_sup("");
    sup_instance_t *b;

    sup_start_all(sup);
    b = I(sup, "svc-B");
    sup_child_exited(sup, b->pid, EXITED(3), 0, 0);
    CU_ASSERT_EQUAL(F.exited, 1);
    CU_ASSERT_EQUAL(b->state, SUP_BACKOFF);
    CU_ASSERT_EQUAL(b->pid, 0);
    CU_ASSERT_STRING_EQUAL(text_get(&b->last_exit), "exited with status 3");
    run_timers();
    CU_ASSERT_EQUAL(b->state, SUP_STARTING);
    CU_ASSERT(b->pid > 0);
    CU_ASSERT_EQUAL(b->restarts, 1);
    CU_ASSERT_EQUAL(b->starts, 2);
    end_sup(sup);
}

static void test_start_limit_fails(void)
{
    supervisor_t *sup = make_sup("");
    sup_instance_t *b;
    int rounds = 0;

    sup_start_all(sup);
    b = I(sup, "svc-B");
    while (b->state != SUP_FAILED && rounds++ < 10) {
        sup_child_exited(sup, b->pid, EXITED(1), 0, 0);
        run_timers();
    }
    CU_ASSERT_EQUAL(b->state, SUP_FAILED);
    CU_ASSERT_EQUAL(b->starts, 3); /* start_limit_burst = 3 */
    /* A start asked for forgives: a fresh window, and it is a start, not a restart. */
    CU_ASSERT_EQUAL(sup_start(sup, b, (char[64]){ 0 }, 64), 0);
    CU_ASSERT_EQUAL(b->state, SUP_STARTING);
    CU_ASSERT_EQUAL(b->restarts, 2);
    end_sup(sup);
}

static void test_stop_and_restart_requests(void)
{
    supervisor_t *sup = make_sup("");
    sup_instance_t *b;
    char err[128];
    pid_t old;

    sup_start_all(sup);
    b = I(sup, "svc-B");
    CU_ASSERT_EQUAL(sup_stop(sup, b, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(b->state, SUP_STOPPING);
    CU_ASSERT_EQUAL(last_sig("svc-B"), SIGTERM);
    sup_child_exited(sup, b->pid, EXITED(0), 0, 0);
    run_timers();
    CU_ASSERT_EQUAL(b->state, SUP_STOPPED); /* stopped on purpose: no restart */
    CU_ASSERT_EQUAL(b->pid, 0);
    CU_ASSERT_EQUAL(sup_start(sup, b, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(b->state, SUP_STARTING);
    CU_ASSERT_EQUAL(sup_start(sup, b, err, sizeof(err)), -1); /* already starting */
    /* A manual restart: SIGTERM, then a start once it is gone; not in the limit. */
    old = b->pid;
    CU_ASSERT_EQUAL(sup_restart(sup, b, SUP_WHY_MANUAL, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(b->state, SUP_STOPPING);
    sup_child_exited(sup, old, SIGTERM, 0, 0);
    CU_ASSERT_EQUAL(b->state, SUP_STARTING);
    CU_ASSERT(b->pid != old && b->pid > 0);
    end_sup(sup);
}

static void test_hook_holds_start(void)
{
    supervisor_t *sup;

    sup = make_sup("");
    snprintf(F.gate, sizeof(F.gate), "svc-B");
    sup_start_all(sup);
    CU_ASSERT_EQUAL(I(sup, "svc-B")->state, SUP_WAITING);
    CU_ASSERT_STRING_EQUAL(text_get(&I(sup, "svc-B")->waiting_for), "provisioning");
    F.gate[0] = '\0';
    sup_wake_waiting(sup);
    CU_ASSERT_EQUAL(I(sup, "svc-B")->state, SUP_STARTING);
    end_sup(sup);
}

static void test_spawn_failures(void)
{
    supervisor_t *sup = make_sup("");
    sup_instance_t *b;

    /* The supervisor's own shortage: deferred, not counted, never failed. */
    F.fail = 2;
    sup_start_all(sup);
    b = I(sup, "svc-B");
    CU_ASSERT_EQUAL(b->state, SUP_BACKOFF);
    CU_ASSERT_EQUAL(b->starts, 0);
    CU_ASSERT(strncmp(text_get(&b->last_exit), "start deferred", 14) == 0);
    F.fail = 0;
    run_once();
    CU_ASSERT_EQUAL(b->state, SUP_STARTING);
    CU_ASSERT_EQUAL(b->starts, 1);
    CU_ASSERT_EQUAL(b->restarts, 0);
    /* The worker's fault: counted, and the start limit ends it. */
    sup_child_exited(sup, b->pid, EXITED(1), 0, 0);
    F.fail = 1;
    for (int i = 0; i < 10 && b->state != SUP_FAILED; i++)
        run_timers();
    CU_ASSERT_EQUAL(b->state, SUP_FAILED);
    CU_ASSERT(strncmp(text_get(&b->last_exit), "failed to start", 15) == 0);
    F.fail = 0;
    end_sup(sup);
}

static void test_shutdown_stops_dependents_first(void)
{
    supervisor_t *sup = make_sup("");

    sup_start_all(sup);
    sup_instance_ready(sup, I(sup, "db"));
    F.busy = 1; /* a hook's process (a provisioning run) still going */
    sup_begin_shutdown(sup, "SIGTERM");
    CU_ASSERT_EQUAL(last_sig("svc-A"), SIGTERM);
    CU_ASSERT_EQUAL(last_sig("svc-B"), SIGTERM);
    CU_ASSERT_EQUAL(last_sig("db"), 0); /* svc-A depends on it and still runs */
    sup_child_exited(sup, I(sup, "svc-A")->pid, SIGTERM, 0, 0);
    CU_ASSERT_EQUAL(last_sig("db"), SIGTERM);
    sup_child_exited(sup, I(sup, "svc-B")->pid, SIGTERM, 0, 0);
    sup_child_exited(sup, I(sup, "db")->pid, SIGTERM, 0, 0);
    CU_ASSERT_EQUAL(I(sup, "svc-B")->state, SUP_STOPPED);
    CU_ASSERT(!sup_done(sup)); /* the hook's process */
    F.busy = 0;
    sup_child_exited(sup, 12345678, 0, 0, 0); /* any reap re-checks */
    CU_ASSERT(sup_done(sup));
    /* A second signal kills whatever is left. */
    sup_begin_shutdown(sup, "SIGTERM");
    end_sup(sup);
}

static void test_reload_applies_plan(void)
{
    supervisor_t *sup = make_sup("");
    inv_errors_t errs;
    char summary[256];
    sup_instance_t *b, *db;
    pid_t bpid, dbpid;

    sup_start_all(sup);
    sup_instance_ready(sup, I(sup, "db"));
    b = I(sup, "svc-B");
    db = I(sup, "db");
    bpid = b->pid;
    dbpid = db->pid;
    /* svc-B gets another port; svc-C is new; svc-A is unchanged. */
    write_conf(9003, "instance \"svc-C\" {\n service = \"svc\"\n}\n");
    inv_errors_init(&errs);
    CU_ASSERT_EQUAL_FATAL(sup_reload(sup, &errs, summary, sizeof(summary)), 0);
    inv_errors_free(&errs);
    CU_ASSERT_STRING_EQUAL(summary, "1 added, 0 removed, 1 changed, 2 unchanged");
    CU_ASSERT_EQUAL(F.reloaded, 1);
    CU_ASSERT_EQUAL(sup->ninst, 4);
    CU_ASSERT(I(sup, "svc-B") == b); /* the same entry */
    CU_ASSERT_EQUAL(b->cfg->port, 9003);
    CU_ASSERT_EQUAL(b->state, SUP_STOPPING);
    CU_ASSERT_EQUAL(last_sig("svc-B"), SIGTERM);
    CU_ASSERT_EQUAL(db->pid, dbpid); /* unchanged: untouched */
    CU_ASSERT_EQUAL(I(sup, "svc-C")->state, SUP_STARTING);
    sup_child_exited(sup, bpid, SIGTERM, 0, 0);
    CU_ASSERT_EQUAL(b->state, SUP_STARTING); /* started again with its new config */
    CU_ASSERT(b->pid != bpid);

    /* db goes (svc-A's dependency with it): removed, stopped, freed once gone. */
    {
        FILE *f = fopen(path, "w");
        CU_ASSERT_FATAL(f != NULL);
        fprintf(f, "volumes_root = \"%s/volumes\"\nlog_level = \"error\"\n"
                   "service \"svc\" {\n command = \"/bin/true\"\n ready_after = 1h\n"
                   " restart_delay = 1ms\n restart_delay_max = 1ms\n start_limit_burst = 3\n"
                   " start_limit_interval = 1h\n stop_timeout = 1h\n}\n"
                   "instance \"svc-A\" {\n service = \"svc\"\n port = 9001\n}\n"
                   "instance \"svc-B\" {\n service = \"svc\"\n port = 9003\n}\n", dir);
        fclose(f);
    }
    F.removed = F.freed = 0;
    inv_errors_init(&errs);
    CU_ASSERT_EQUAL_FATAL(sup_reload(sup, &errs, summary, sizeof(summary)), 0);
    inv_errors_free(&errs);
    CU_ASSERT_STRING_EQUAL(summary, "0 added, 2 removed, 1 changed, 1 unchanged");
    CU_ASSERT_EQUAL(F.removed, 2);
    CU_ASSERT(sup_find(sup, "db") == NULL);
    CU_ASSERT_EQUAL(last_sig("db"), SIGTERM);
    CU_ASSERT_EQUAL(F.freed, 0); /* db and svc-C still stopping */
    sup_child_exited(sup, dbpid, SIGTERM, 0, 0);
    CU_ASSERT_EQUAL(F.freed, 1);

    /* A bad inventory changes nothing. */
    {
        FILE *f = fopen(path, "w");
        CU_ASSERT_FATAL(f != NULL);
        fputs("service \"svc\" {\n command = \n}\n", f);
        fclose(f);
    }
    inv_errors_init(&errs);
    CU_ASSERT_EQUAL(sup_reload(sup, &errs, summary, sizeof(summary)), -1);
    CU_ASSERT(errs.n > 0);
    inv_errors_free(&errs);
    CU_ASSERT_EQUAL(sup->ninst, 2);
    CU_ASSERT_EQUAL(sup->reload_failures, 1);
    end_sup(sup);
}

static void test_pause_and_resume(void)
{
    supervisor_t *sup = make_sup("");
    sup_instance_t *b;
    char err[256];

    sup_start_all(sup);
    b = I(sup, "svc-B");
    sup_instance_ready(sup, b);
    CU_ASSERT_EQUAL(sup_pause(sup, b, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(b->state, SUP_PAUSED);
    CU_ASSERT_EQUAL(F.frozen, 1);
    CU_ASSERT_EQUAL(sup_pause(sup, b, err, sizeof(err)), -1); /* already */
    CU_ASSERT_EQUAL(sup_resume(sup, b, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(b->state, SUP_RUNNING);
    CU_ASSERT_EQUAL(F.frozen, 0);
    CU_ASSERT_EQUAL(sup_resume(sup, b, err, sizeof(err)), -1); /* not paused */
    /* A stop of a paused instance thaws it first, so it can take its SIGTERM. */
    CU_ASSERT_EQUAL(sup_pause(sup, b, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(sup_stop(sup, b, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(F.frozen, 0);
    CU_ASSERT_EQUAL(b->state, SUP_STOPPING);
    CU_ASSERT_EQUAL(last_sig("svc-B"), SIGTERM);
    sup_child_exited(sup, b->pid, SIGTERM, 0, 0);
    CU_ASSERT_EQUAL(sup_pause(sup, b, err, sizeof(err)), -1); /* stopped */
    /* Without a freezer: a clear refusal. */
    CU_ASSERT_EQUAL(sup_start(sup, b, err, sizeof(err)), 0);
    F.no_freeze = 1;
    CU_ASSERT_EQUAL(sup_pause(sup, b, err, sizeof(err)), -1);
    CU_ASSERT_STRING_EQUAL(err, "no freezer");
    CU_ASSERT_EQUAL(b->state, SUP_STARTING);
    end_sup(sup);
}

static void test_exit_held_until_leftovers_go(void)
{
    supervisor_t *sup = make_sup("");
    sup_instance_t *b;
    char err[256];

    sup_start_all(sup);
    b = I(sup, "svc-B");
    F.hold = 1;
    CU_ASSERT_EQUAL(sup_stop(sup, b, err, sizeof(err)), 0);
    sup_child_exited(sup, b->pid, SIGTERM, 0, 0);
    CU_ASSERT_EQUAL(b->pid, 0);
    CU_ASSERT_EQUAL(b->state, SUP_STOPPING); /* not stopped while leftovers live */
    sup_exit_released(sup, b);
    CU_ASSERT_EQUAL(b->state, SUP_STOPPED);
    /* A crash with leftovers: no restart before they are gone. */
    CU_ASSERT_EQUAL(sup_start(sup, b, err, sizeof(err)), 0);
    sup_child_exited(sup, b->pid, EXITED(1), 0, 0);
    run_timers();
    CU_ASSERT_EQUAL(b->state, SUP_STARTING); /* still the old state: no decision yet */
    CU_ASSERT_EQUAL(b->pid, 0);
    CU_ASSERT_EQUAL(F.spawns, 3); /* db, svc-B, svc-B again: nothing more */
    /* Shutdown waits for them too. */
    sup_instance_ready(sup, I(sup, "db"));
    sup_begin_shutdown(sup, "SIGTERM");
    sup_child_exited(sup, I(sup, "svc-A")->pid, SIGTERM, 0, 0);
    sup_child_exited(sup, I(sup, "db")->pid, SIGTERM, 0, 0);
    CU_ASSERT(!sup_done(sup));
    F.hold = 0;
    sup_exit_released(sup, I(sup, "svc-A"));
    sup_exit_released(sup, I(sup, "db"));
    CU_ASSERT(!sup_done(sup));
    sup_exit_released(sup, b);
    CU_ASSERT(sup_done(sup));
    end_sup(sup);
}

static void test_start_in_batches(void)
{
    char extra[16384];
    size_t used = 0;
    supervisor_t *sup;

    /* 150 more instances: the first 64 of the pass start at once, the rest in later
     * turns of the loop, which stays free for everything else in between. A wake in
     * between (a claim, a dependency ready) does not send the pass back to the first
     * instance: it runs once more at the end, so every instance is reached. */
    for (int i = 0; i < 150; i++)
        used += (size_t)snprintf(extra + used, sizeof(extra) - used,
                                 "instance \"svc-N%d\" {\n service = \"svc\"\n}\n", i);
    sup = make_sup(extra);
    CU_ASSERT_EQUAL_FATAL(sup->ninst, 153);
    sup_start_all(sup);
    CU_ASSERT_EQUAL(F.spawns, 64); /* svc-A, held by its dependency, costs little */
    sup_wake_waiting(sup);
    CU_ASSERT_EQUAL(F.spawns, 64); /* the pass goes on where it was, at its turn */
    event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    CU_ASSERT_EQUAL(F.spawns, 128);
    sup_wake_waiting(sup);
    event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    CU_ASSERT_EQUAL(F.spawns, 152);
    CU_ASSERT_EQUAL(I(sup, "svc-N149")->state, SUP_STARTING);
    CU_ASSERT_EQUAL(I(sup, "svc-A")->state, SUP_WAITING);
    end_sup(sup);
}

/* ---- the planner -------------------------------------------------------------------- */

static const char plan_base[] =
    "%s\n"
    "service \"exchange-simulator\" {\n command = \"/bin/sleep\"\n%s\n}\n"
    "service \"audit\" {\n command = \"/bin/sleep\"\n singleton = true\n}\n"
    "instance \"exchange-A\" {\n service = \"exchange-simulator\"\n port = 9001\n%s\n}\n"
    "instance \"exchange-B\" {\n service = \"exchange-simulator\"\n port = 9002\n}\n"
    "instance \"audit\" {\n service = \"audit\"\n}\n";

static inventory_t *plan_inv(const char *global, const char *svc, const char *inst)
{
    char text[2048];
    inv_errors_t errs;
    inventory_t *inv;

    snprintf(text, sizeof(text), plan_base, global, svc, inst);
    inv_errors_init(&errs);
    inv = inv_load_buf("plan.conf", text, strlen(text), &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "\n  %s", errs.v[i].text);
    inv_errors_free(&errs);
    return inv;
}

static const rp_item_t *item(const reload_plan_t *p, const char *name)
{
    static const rp_item_t none = { RP_KEEP, "(none)", (size_t)-1, "(not in the plan)" };

    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->v[i].name, name) == 0)
            return &p->v[i];
    CU_FAIL("instance missing from the plan");
    return &none;
}

static void test_planner_table(void)
{
    static const struct {
        const char *what;
        const char *global, *svc, *inst; /* the new inventory's additions */
        rp_action_t a;                   /* for exchange-A, running and wanted */
        const char *reason;
    } cases[] = {
        { "nothing changed", "", "", "", RP_KEEP, NULL },
        { "a comment", "# hello", "", "", RP_KEEP, NULL },
        { "probe interval (global, not the worker's)", "health_interval = 7s", "", "",
          RP_KEEP, NULL },
        { "status listener (never moved by a reload)", "status_listen = \"127.0.0.1:9\"",
          "", "", RP_KEEP, NULL },
        { "command's args", "", "args = {\"61\"}", "", RP_RESTART, "args" },
        { "environment name", "environment = \"prod\"", "", "", RP_RESTART, "environment" },
        { "log_level reaches the worker", "log_level = \"debug\"", "", "", RP_RESTART,
          "log_level" },
        { "provision toggled", "provision = true", "", "", RP_RESTART, "provision" },
        { "state_dir moved", "state_dir = \"/tmp/elsewhere\"", "", "", RP_RESTART,
          "state_dir" },
        { "volumes_root moved", "volumes_root = \"/tmp/v2\"", "", "", RP_RESTART,
          "volumes_root" },
        { "env entry", "", "", "env = {\"A=1\"}", RP_RESTART, "env" },
        { "service env entry", "", "env = {\"A=1\"}", "", RP_RESTART, "env" },
        { "dependency added", "", "", "depends_on = {\"audit\"}", RP_RESTART, "depends_on" },
        { "restart policy", "", "", "restart = \"on-failure\"", RP_RESTART, "restart" },
        { "stop_timeout", "", "stop_timeout = 3s", "", RP_RESTART, "stop_timeout" },
        { "health_path", "", "", "health_path = \"/h\"", RP_RESTART, "health_path" },
        { "postgres_url", "postgres_url = \"postgresql://x@127.0.0.1/db\"", "", "",
          RP_RESTART, "postgres_url" },
    };
    inventory_t *old = plan_inv("", "", "");
    rp_running_t run[3] = {
        { "exchange-A", SUP_RUNNING, 1, 1 },
        { "exchange-B", SUP_RUNNING, 1, 1 },
        { "audit", SUP_RUNNING, 1, 1 },
    };

    CU_ASSERT_FATAL(old != NULL);
    for (size_t i = 0; i < NELEM(cases); i++) {
        inventory_t *nu = plan_inv(cases[i].global, cases[i].svc, cases[i].inst);
        reload_plan_t p;
        const rp_item_t *a;

        CU_ASSERT_FATAL(nu != NULL);
        reload_plan_make(old, nu, run, NELEM(run), &p);
        a = item(&p, "exchange-A");
        if (a->action != cases[i].a ||
            !(a->reason == cases[i].reason ||
              (a->reason && cases[i].reason && strcmp(a->reason, cases[i].reason) == 0)))
            fprintf(stderr, "\n  %s: %s (%s), want %s (%s)", cases[i].what,
                    reload_action_name(a->action), a->reason ? a->reason : "-",
                    reload_action_name(cases[i].a), cases[i].reason ? cases[i].reason : "-");
        CU_ASSERT_EQUAL(a->action, cases[i].a);
        CU_ASSERT(a->reason == cases[i].reason ||
                  (a->reason && cases[i].reason && strcmp(a->reason, cases[i].reason) == 0));
        /* The audit singleton changes only with what is global. */
        CU_ASSERT_EQUAL(item(&p, "audit")->action,
                        cases[i].global[0] && cases[i].a != RP_KEEP ? RP_RESTART : RP_KEEP);
        CU_ASSERT_EQUAL(p.added + p.removed, 0);
        CU_ASSERT_EQUAL(p.n, 3);
        reload_plan_free(&p);
        inv_free(nu);
    }
    inv_free(old);
}

static void test_planner_states_and_membership(void)
{
    inventory_t *old = plan_inv("", "", ""), *nu;
    reload_plan_t p;
    char text[2048];
    inv_errors_t errs;
    rp_running_t run[3] = {
        { "exchange-A", SUP_FAILED, 1, 0 },
        { "exchange-B", SUP_STOPPED, 0, 0 },
        { "audit", SUP_RUNNING, 1, 1 },
    };

    CU_ASSERT_FATAL(old != NULL);
    /* Every instance changed (args): a failed one starts again, one stopped on purpose
     * only takes the new config; a running one restarts. */
    nu = plan_inv("environment = \"e2\"", "", "");
    reload_plan_make(old, nu, run, NELEM(run), &p);
    CU_ASSERT_EQUAL(item(&p, "exchange-A")->action, RP_START);
    CU_ASSERT_EQUAL(item(&p, "exchange-B")->action, RP_UPDATE);
    CU_ASSERT_EQUAL(item(&p, "audit")->action, RP_RESTART);
    CU_ASSERT_EQUAL(p.changed, 3);
    reload_plan_free(&p);
    inv_free(nu);

    /* Membership: exchange-B removed, exchange-C added, audit from singleton to a
     * multi-instance service's member: a different instance, since the name changes
     * with it (an instance named as its service is the singleton). */
    snprintf(text, sizeof(text),
             "service \"exchange-simulator\" {\n command = \"/bin/sleep\"\n\n}\n"
             "service \"audit\" {\n command = \"/bin/sleep\"\n}\n"
             "instance \"exchange-A\" {\n service = \"exchange-simulator\"\n port = 9001\n}\n"
             "instance \"exchange-C\" {\n service = \"exchange-simulator\"\n port = 9003\n}\n"
             "instance \"audit-X\" {\n service = \"audit\"\n}\n"
             "status_listen = \"127.0.0.1:7\"\ncontrol_socket = \"/tmp/c.sock\"\n");
    inv_errors_init(&errs);
    nu = inv_load_buf("plan.conf", text, strlen(text), &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "\n  %s", errs.v[i].text);
    inv_errors_free(&errs);
    CU_ASSERT_FATAL(nu != NULL);
    reload_plan_make(old, nu, run, NELEM(run), &p);
    CU_ASSERT_EQUAL(item(&p, "exchange-A")->action, RP_KEEP);
    CU_ASSERT_EQUAL(item(&p, "exchange-C")->action, RP_ADD);
    CU_ASSERT_EQUAL(item(&p, "audit-X")->action, RP_ADD);
    CU_ASSERT_EQUAL(item(&p, "exchange-B")->action, RP_REMOVE);
    CU_ASSERT_EQUAL(item(&p, "audit")->action, RP_REMOVE);
    CU_ASSERT_EQUAL(p.added, 2);
    CU_ASSERT_EQUAL(p.removed, 2);
    CU_ASSERT_STRING_EQUAL(p.needs_restart, "control_socket, status_listen");
    reload_plan_free(&p);
    inv_free(nu);

    inv_free(old);
}

int main(void)
{
    CU_pSuite s;
    int rc;

    log_setup((log_level_t)(LOG_LVL_ERROR + 1), 2); /* quiet */
    if (!mkdtemp(dir))
        return 2;
    snprintf(path, sizeof(path), "%s/inventory.conf", dir);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    s = CU_add_suite("core", NULL, NULL);
    if (!s || !CU_add_test(s, "dependency gating", test_start_waits_for_dependency) ||
        !CU_add_test(s, "exit, backoff, restart", test_exit_restarts_after_backoff) ||
        !CU_add_test(s, "start limit", test_start_limit_fails) ||
        !CU_add_test(s, "stop, start, restart requests", test_stop_and_restart_requests) ||
        !CU_add_test(s, "a hook holds a start", test_hook_holds_start) ||
        !CU_add_test(s, "spawn failures", test_spawn_failures) ||
        !CU_add_test(s, "shutdown order", test_shutdown_stops_dependents_first) ||
        !CU_add_test(s, "reload applied", test_reload_applies_plan) ||
        !CU_add_test(s, "pause and resume", test_pause_and_resume) ||
        !CU_add_test(s, "starts in batches", test_start_in_batches) ||
        !CU_add_test(s, "exit held until leftovers go", test_exit_held_until_leftovers_go) ||
        !CU_add_test(s, "planner: what restarts", test_planner_table) ||
        !CU_add_test(s, "planner: states and membership",
                     test_planner_states_and_membership)) {
        CU_cleanup_registry();
        return 2;
    }
    rc = cu_run_all();
    unlink(path);
    {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            rc = rc ? rc : 1;
    }
    return rc;
}
