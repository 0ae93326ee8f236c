/* policy.c - the restart policy as data: state x event -> action, backoff, start limit. */
#include "config.h"

#include "policy.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#define T(a, s) { PACT_##a, SUP_##s }
#define NO(s)   { PACT_IGNORE, SUP_##s }

/* Rows: the current state; columns: the event, in pol_event_t order:
 *   START, DEPS_PENDING, READY, EXIT, STOP, STOP_TIMEOUT, BACKOFF_DONE
 * A PACT_DECIDE row entry's state is a placeholder: pol_on_exit() picks it. */
static const pol_transition_t table[SUP_NSTATES][PEV_COUNT] = {
    [SUP_STOPPED] = { T(SPAWN, STARTING), T(WAIT, WAITING), NO(STOPPED), NO(STOPPED),
                      NO(STOPPED), NO(STOPPED), NO(STOPPED) },
    [SUP_WAITING] = { T(SPAWN, STARTING), NO(WAITING), NO(WAITING), NO(WAITING),
                      T(CANCEL, STOPPED), NO(WAITING), NO(WAITING) },
    [SUP_STARTING] = { NO(STARTING), NO(STARTING), T(READY, RUNNING), T(DECIDE, BACKOFF),
                       T(TERM, STOPPING), NO(STARTING), NO(STARTING) },
    [SUP_RUNNING] = { NO(RUNNING), NO(RUNNING), NO(RUNNING), T(DECIDE, BACKOFF),
                      T(TERM, STOPPING), NO(RUNNING), NO(RUNNING) },
    [SUP_STOPPING] = { NO(STOPPING), NO(STOPPING), NO(STOPPING), T(EXITED, STOPPED),
                       NO(STOPPING), T(KILL, STOPPING), NO(STOPPING) },
    [SUP_BACKOFF] = { T(SPAWN, STARTING), T(WAIT, WAITING), NO(BACKOFF), NO(BACKOFF),
                      T(CANCEL, STOPPED), NO(BACKOFF), T(RETRY, BACKOFF) },
    [SUP_FAILED] = { T(SPAWN, STARTING), T(WAIT, WAITING), NO(FAILED), NO(FAILED),
                     T(CANCEL, STOPPED), NO(FAILED), NO(FAILED) },
    /* Frozen: it can still die (killed from outside, OOM) and be stopped (thawed by
     * the driver first, so that it can take its SIGTERM). */
    [SUP_PAUSED] = { NO(PAUSED), NO(PAUSED), NO(PAUSED), T(DECIDE, BACKOFF),
                     T(TERM, STOPPING), NO(PAUSED), NO(PAUSED) },
};

pol_transition_t pol_step(sup_state_t state, pol_event_t ev)
{
    if ((unsigned)state >= SUP_NSTATES || (unsigned)ev >= PEV_COUNT) {
        pol_transition_t none = { PACT_IGNORE, state };
        return none;
    }
    return table[state][ev];
}

const char *pol_event_name(pol_event_t ev)
{
    static const char *const names[PEV_COUNT] = {
        "start", "deps-pending", "ready", "exit", "stop", "stop-timeout", "backoff-done",
    };
    return (unsigned)ev < PEV_COUNT ? names[ev] : "?";
}

const char *pol_action_name(pol_action_t a)
{
    static const char *const names[] = {
        "ignore", "spawn", "wait", "ready", "decide", "exited", "term", "kill", "cancel", "retry",
    };
    return (unsigned)a <= PACT_RETRY ? names[a] : "?";
}

void pol_track_reset(pol_track_t *t) { memset(t, 0, sizeof(*t)); }

void pol_note_start(pol_track_t *t, const inv_policy_t *p, long long now_ms)
{
    if (t->window_starts == 0 || now_ms - t->window_start_ms > p->start_limit_interval_ms) {
        t->window_start_ms = now_ms;
        t->window_starts = 1;
    } else {
        t->window_starts++;
    }
}

static int exit_is_clean(int wait_status, int spawn_failed)
{
    return !spawn_failed && WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;
}

pol_decision_t pol_on_exit(pol_track_t *t, const inv_policy_t *p, int wait_status,
                           int spawn_failed, long long up_ms, long long now_ms)
{
    pol_decision_t d;
    int clean = exit_is_clean(wait_status, spawn_failed);

    memset(&d, 0, sizeof(d));
    if (!spawn_failed && WIFEXITED(wait_status) &&
        WEXITSTATUS(wait_status) == POL_EXIT_NO_RESTART) {
        d.verdict = POL_FAILED;
        snprintf(d.reason, sizeof(d.reason),
                 "exit status %d (configuration error): not restarted", POL_EXIT_NO_RESTART);
        return d;
    }
    if (p->restart == INV_RESTART_NEVER || (p->restart == INV_RESTART_ON_FAILURE && clean)) {
        d.verdict = clean ? POL_STOPPED : POL_FAILED;
        snprintf(d.reason, sizeof(d.reason), "restart=%s: not restarted",
                 p->restart == INV_RESTART_NEVER ? "never" : "on-failure");
        return d;
    }
    if (t->window_starts >= p->start_limit_burst &&
        now_ms - t->window_start_ms <= p->start_limit_interval_ms) {
        d.verdict = POL_FAILED;
        snprintf(d.reason, sizeof(d.reason), "start limit hit (%ld starts in %ld ms)",
                 t->window_starts, p->start_limit_interval_ms);
        return d;
    }
    d.verdict = POL_RESTART;
    if (!spawn_failed && up_ms >= p->stable_after_ms) {
        /* A long healthy run earns an immediate restart and a fresh backoff. */
        d.delay_ms = 0;
        t->next_delay_ms = p->restart_delay_ms;
        snprintf(d.reason, sizeof(d.reason), "ran %lld ms: restart at once", up_ms);
    } else {
        d.delay_ms = t->next_delay_ms > 0 ? t->next_delay_ms : p->restart_delay_ms;
        t->next_delay_ms = d.delay_ms > p->restart_delay_max_ms / 2 ? p->restart_delay_max_ms
                                                                     : d.delay_ms * 2;
        if (d.delay_ms > p->restart_delay_max_ms)
            d.delay_ms = p->restart_delay_max_ms;
        snprintf(d.reason, sizeof(d.reason), "backoff %ld ms", d.delay_ms);
    }
    return d;
}

int pol_errno_is_resource(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOMEM || err == EAGAIN;
}

long pol_resource_retry_ms(unsigned n)
{
    long ms = POL_RESOURCE_RETRY_MIN_MS;

    while (n-- > 0 && ms < POL_RESOURCE_RETRY_MAX_MS)
        ms *= 2;
    return ms > POL_RESOURCE_RETRY_MAX_MS ? POL_RESOURCE_RETRY_MAX_MS : ms;
}

void pol_describe_exit(int wait_status, char *buf, size_t len)
{
    if (WIFEXITED(wait_status)) {
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(wait_status));
    } else if (WIFSIGNALED(wait_status)) {
        snprintf(buf, len, "killed by signal %d%s", WTERMSIG(wait_status),
                 WCOREDUMP(wait_status) ? " (core dumped)" : "");
    } else {
        snprintf(buf, len, "stopped with wait status 0x%x", (unsigned)wait_status);
    }
}
