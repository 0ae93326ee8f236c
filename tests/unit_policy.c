/* unit_policy.c - CUnit tests of the restart policy (src/policy.c), linked alone. */
#include "config.h"

#include <CUnit/Basic.h>

#include "cunit_run.h"
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "policy.h"

/* Wait statuses as waitpid() builds them. */
#define EXITED(c) (((c) & 0xff) << 8)
#define SIGNALED(s) ((s) & 0x7f)
#define CORE 0x80

static inv_policy_t defaults(void)
{
    inv_policy_t p;
    memset(&p, 0, sizeof(p));
    p.restart = INV_RESTART_ALWAYS;
    p.restart_delay_ms = 100;
    p.restart_delay_max_ms = 30000;
    p.stable_after_ms = 10000;
    p.start_limit_burst = 5;
    p.start_limit_interval_ms = 60000;
    return p;
}

static void test_table(void)
{
    static const struct {
        sup_state_t state;
        pol_event_t ev;
        pol_action_t action;
        sup_state_t next;
    } rows[] = {
        { SUP_STOPPED, PEV_START, PACT_SPAWN, SUP_STARTING },
        { SUP_STOPPED, PEV_DEPS_PENDING, PACT_WAIT, SUP_WAITING },
        { SUP_STOPPED, PEV_STOP, PACT_IGNORE, SUP_STOPPED },
        { SUP_WAITING, PEV_START, PACT_SPAWN, SUP_STARTING },
        { SUP_WAITING, PEV_STOP, PACT_CANCEL, SUP_STOPPED },
        { SUP_STARTING, PEV_READY, PACT_READY, SUP_RUNNING },
        { SUP_STARTING, PEV_EXIT, PACT_DECIDE, SUP_BACKOFF },
        { SUP_STARTING, PEV_STOP, PACT_TERM, SUP_STOPPING },
        { SUP_STARTING, PEV_START, PACT_IGNORE, SUP_STARTING },
        { SUP_RUNNING, PEV_EXIT, PACT_DECIDE, SUP_BACKOFF },
        { SUP_RUNNING, PEV_STOP, PACT_TERM, SUP_STOPPING },
        { SUP_RUNNING, PEV_READY, PACT_IGNORE, SUP_RUNNING },
        { SUP_STOPPING, PEV_EXIT, PACT_EXITED, SUP_STOPPED },
        { SUP_STOPPING, PEV_STOP_TIMEOUT, PACT_KILL, SUP_STOPPING },
        { SUP_STOPPING, PEV_STOP, PACT_IGNORE, SUP_STOPPING },
        { SUP_STOPPING, PEV_START, PACT_IGNORE, SUP_STOPPING },
        { SUP_BACKOFF, PEV_BACKOFF_DONE, PACT_RETRY, SUP_BACKOFF },
        { SUP_BACKOFF, PEV_STOP, PACT_CANCEL, SUP_STOPPED },
        { SUP_BACKOFF, PEV_START, PACT_SPAWN, SUP_STARTING },
        { SUP_FAILED, PEV_START, PACT_SPAWN, SUP_STARTING },
        { SUP_FAILED, PEV_BACKOFF_DONE, PACT_IGNORE, SUP_FAILED },
        { SUP_FAILED, PEV_EXIT, PACT_IGNORE, SUP_FAILED },
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        pol_transition_t t = pol_step(rows[i].state, rows[i].ev);
        CU_ASSERT_EQUAL(t.action, rows[i].action);
        CU_ASSERT_EQUAL(t.next, rows[i].next);
        if (t.action != rows[i].action || t.next != rows[i].next)
            printf("\n  row %zu: %s x %s -> %s/%s\n", i, sup_state_name(rows[i].state),
                   pol_event_name(rows[i].ev), pol_action_name(t.action),
                   sup_state_name(t.next));
    }
    /* Out of range never crashes. */
    CU_ASSERT_EQUAL(pol_step((sup_state_t)99, PEV_START).action, PACT_IGNORE);
    CU_ASSERT_EQUAL(pol_step(SUP_RUNNING, (pol_event_t)99).action, PACT_IGNORE);
}

/* A stopped instance never does anything on its own (no spontaneous restarts). */
static void test_table_no_surprises(void)
{
    for (int ev = 0; ev < PEV_COUNT; ev++) {
        pol_transition_t t = pol_step(SUP_FAILED, (pol_event_t)ev);
        if (ev != PEV_START && ev != PEV_DEPS_PENDING && ev != PEV_STOP)
            CU_ASSERT_EQUAL(t.action, PACT_IGNORE);
    }
    /* The stop deadline kills a stopping process, and means nothing in any other
     * state: each row is checked exactly, the stopping one included. */
    for (int st = 0; st <= SUP_FAILED; st++) {
        pol_transition_t t = pol_step((sup_state_t)st, PEV_STOP_TIMEOUT);
        if (st == SUP_STOPPING) {
            CU_ASSERT_EQUAL(t.action, PACT_KILL);
        } else {
            CU_ASSERT_EQUAL(t.action, PACT_IGNORE);
        }
        CU_ASSERT_EQUAL(t.next, (sup_state_t)st);
    }
    CU_ASSERT_STRING_EQUAL(pol_action_name(PACT_KILL), "kill");
    /* An ignored event never changes the state. */
    for (int st = 0; st <= SUP_FAILED; st++)
        for (int ev = 0; ev < PEV_COUNT; ev++) {
            pol_transition_t t = pol_step((sup_state_t)st, (pol_event_t)ev);
            if (t.action == PACT_IGNORE)
                CU_ASSERT_EQUAL(t.next, (sup_state_t)st);
        }
}

static void test_backoff_doubles_and_caps(void)
{
    inv_policy_t p = defaults();
    pol_track_t t;
    long want[] = { 100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000 };
    long long now = 1000;

    p.start_limit_burst = 1000;
    pol_track_reset(&t);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        pol_note_start(&t, &p, now);
        pol_decision_t d = pol_on_exit(&t, &p, EXITED(1), 0, 50, now + 50);
        CU_ASSERT_EQUAL(d.verdict, POL_RESTART);
        CU_ASSERT_EQUAL(d.delay_ms, want[i]);
        now += 50 + d.delay_ms;
    }
}

static void test_stable_run_restarts_at_once_and_resets(void)
{
    inv_policy_t p = defaults();
    pol_track_t t;
    pol_decision_t d;

    pol_track_reset(&t);
    for (int i = 0; i < 3; i++) {
        pol_note_start(&t, &p, i * 1000);
        d = pol_on_exit(&t, &p, EXITED(1), 0, 10, i * 1000 + 10);
    }
    CU_ASSERT_EQUAL(d.delay_ms, 400);
    pol_note_start(&t, &p, 5000);
    d = pol_on_exit(&t, &p, SIGNALED(9), 0, 3600000, 3605000);
    CU_ASSERT_EQUAL(d.verdict, POL_RESTART);
    CU_ASSERT_EQUAL(d.delay_ms, 0);
    pol_note_start(&t, &p, 3605000);
    d = pol_on_exit(&t, &p, EXITED(1), 0, 10, 3605010);
    CU_ASSERT_EQUAL(d.delay_ms, 100);
}

static void test_start_limit(void)
{
    inv_policy_t p = defaults();
    pol_track_t t;
    pol_decision_t d;
    long long now = 0;
    int starts = 0;

    pol_track_reset(&t);
    for (;;) {
        pol_note_start(&t, &p, now);
        starts++;
        d = pol_on_exit(&t, &p, EXITED(1), 0, 5, now + 5);
        if (d.verdict != POL_RESTART)
            break;
        now += 5 + d.delay_ms;
        CU_ASSERT_FATAL(starts < 100);
    }
    CU_ASSERT_EQUAL(d.verdict, POL_FAILED);
    CU_ASSERT_EQUAL(starts, 5);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.reason, "start limit"));

    /* Outside the interval the window starts over. */
    p.start_limit_interval_ms = 1000;
    pol_track_reset(&t);
    now = 0;
    for (int i = 0; i < 20; i++) {
        pol_note_start(&t, &p, now);
        d = pol_on_exit(&t, &p, EXITED(1), 0, 400, now + 400);
        CU_ASSERT_EQUAL(d.verdict, POL_RESTART);
        now += 400 + 100; /* two starts per second at most */
        p.restart_delay_max_ms = 100;
        p.restart_delay_ms = 100;
    }
}

static void test_exit_78_and_restart_modes(void)
{
    static const struct {
        inv_restart_t mode;
        int status, spawn_failed;
        pol_verdict_t want;
    } rows[] = {
        { INV_RESTART_ALWAYS, EXITED(78), 0, POL_FAILED },
        { INV_RESTART_ON_FAILURE, EXITED(78), 0, POL_FAILED },
        { INV_RESTART_ALWAYS, EXITED(0), 0, POL_RESTART },
        { INV_RESTART_ALWAYS, EXITED(3), 0, POL_RESTART },
        { INV_RESTART_ON_FAILURE, EXITED(0), 0, POL_STOPPED },
        { INV_RESTART_ON_FAILURE, EXITED(3), 0, POL_RESTART },
        { INV_RESTART_ON_FAILURE, SIGNALED(9), 0, POL_RESTART },
        { INV_RESTART_ON_FAILURE, EXITED(0), 1, POL_RESTART },
        { INV_RESTART_NEVER, EXITED(0), 0, POL_STOPPED },
        { INV_RESTART_NEVER, EXITED(1), 0, POL_FAILED },
        { INV_RESTART_NEVER, SIGNALED(15), 0, POL_FAILED },
        { INV_RESTART_ALWAYS, EXITED(0), 1, POL_RESTART },
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        inv_policy_t p = defaults();
        pol_track_t t;
        p.restart = rows[i].mode;
        pol_track_reset(&t);
        pol_note_start(&t, &p, 0);
        pol_decision_t d = pol_on_exit(&t, &p, rows[i].status, rows[i].spawn_failed, 20, 20);
        CU_ASSERT_EQUAL(d.verdict, rows[i].want);
        if (d.verdict != rows[i].want)
            printf("\n  row %zu: verdict %d (%s)\n", i, (int)d.verdict, d.reason);
    }
}

static void test_spawn_failure_never_counts_as_stable(void)
{
    inv_policy_t p = defaults();
    pol_track_t t;
    pol_track_reset(&t);
    pol_note_start(&t, &p, 0);
    pol_decision_t d = pol_on_exit(&t, &p, 0, 1, 999999, 999999);
    CU_ASSERT_EQUAL(d.verdict, POL_RESTART);
    CU_ASSERT_EQUAL(d.delay_ms, 100);
}

/* The supervisor's own shortages are told apart from the worker's failures. */
static void test_resource_errors(void)
{
    static const struct {
        int err;
        int resource;
    } rows[] = {
        { EMFILE, 1 }, { ENFILE, 1 }, { ENOMEM, 1 }, { EAGAIN, 1 },
        { ENOENT, 0 }, { EACCES, 0 }, { EPERM, 0 }, { ENOEXEC, 0 }, { 0, 0 },
    };
    static const long delays[] = { 250, 500, 1000, 2000, 4000, 5000, 5000 };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        CU_ASSERT_EQUAL(pol_errno_is_resource(rows[i].err), rows[i].resource);
    for (unsigned n = 0; n < sizeof(delays) / sizeof(delays[0]); n++)
        CU_ASSERT_EQUAL(pol_resource_retry_ms(n), delays[n]);
    CU_ASSERT_EQUAL(pol_resource_retry_ms(1000), POL_RESOURCE_RETRY_MAX_MS);
}

static void test_describe_exit(void)
{
    static const struct {
        int status;
        const char *want;
    } rows[] = {
        { EXITED(0), "exited with status 0" },
        { EXITED(3), "exited with status 3" },
        { EXITED(78), "exited with status 78" },
        { SIGNALED(9), "killed by signal 9" },
        { SIGNALED(6) | CORE, "killed by signal 6 (core dumped)" },
        { SIGNALED(15), "killed by signal 15" },
    };
    char buf[96];
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        pol_describe_exit(rows[i].status, buf, sizeof(buf));
        CU_ASSERT_STRING_EQUAL(buf, rows[i].want);
    }
}

/* sup_state_name lives in supervisor.c; the test only needs names for messages. */
int main(void)
{
    CU_pSuite s;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    s = CU_add_suite("policy", NULL, NULL);
    if (!s || !CU_add_test(s, "transition table", test_table) ||
        !CU_add_test(s, "failed and stop-timeout rows", test_table_no_surprises) ||
        !CU_add_test(s, "backoff doubles up to the max", test_backoff_doubles_and_caps) ||
        !CU_add_test(s, "stable run: immediate restart, backoff reset",
                     test_stable_run_restarts_at_once_and_resets) ||
        !CU_add_test(s, "start limit burst/interval", test_start_limit) ||
        !CU_add_test(s, "exit 78 and restart modes", test_exit_78_and_restart_modes) ||
        !CU_add_test(s, "spawn failure is never stable",
                     test_spawn_failure_never_counts_as_stable) ||
        !CU_add_test(s, "resource shortages are the supervisor's", test_resource_errors) ||
        !CU_add_test(s, "exit causes decoded", test_describe_exit)) {
        CU_cleanup_registry();
        return 2;
    }
    return cu_run_all();
}
