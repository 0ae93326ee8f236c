/* policy.h - the restart policy as data: state x event -> action, backoff, start limit.
 *
 * Pure: no I/O, no clock, no global state. The caller passes the current monotonic
 * time in milliseconds and carries a pol_track_t per instance. */
#ifndef INSTANCED_POLICY_H
#define INSTANCED_POLICY_H

#include "inventory.h"
#include "supervisor.h"

/* Exit code meaning "configuration error, do not respawn" (sysexits.h EX_CONFIG). */
#define POL_EXIT_NO_RESTART 78

typedef enum {
    PEV_START = 0,     /* wanted, and every dependency is ready */
    PEV_DEPS_PENDING,  /* wanted, but a dependency is not ready yet */
    PEV_READY,         /* first healthy probe, or ready_after elapsed */
    PEV_EXIT,          /* the process exited (or its exec failed) */
    PEV_STOP,          /* stop requested (instancectl stop, shutdown, reload) */
    PEV_STOP_TIMEOUT,  /* stop_timeout elapsed after SIGTERM */
    PEV_BACKOFF_DONE,  /* the restart delay elapsed */
    PEV_COUNT
} pol_event_t;

typedef enum {
    PACT_IGNORE = 0,   /* nothing to do, state unchanged */
    PACT_SPAWN,        /* fork/exec now */
    PACT_WAIT,         /* wait for dependencies */
    PACT_READY,        /* mark ready, wake dependents */
    PACT_DECIDE,       /* an unplanned exit: ask pol_on_exit() what comes next */
    PACT_EXITED,       /* a planned exit (stopping): now stopped */
    PACT_TERM,         /* SIGTERM the process group, arm stop_timeout */
    PACT_KILL,         /* SIGKILL the process group */
    PACT_CANCEL,       /* drop a pending restart or wait: stopped */
    PACT_RETRY,        /* backoff over: start again (deps are re-checked) */
} pol_action_t;

typedef struct pol_transition {
    pol_action_t action;
    sup_state_t next;  /* the state after the action (PACT_DECIDE: decided later) */
} pol_transition_t;

/* The table lookup. Never fails: unknown pairs are PACT_IGNORE. */
pol_transition_t pol_step(sup_state_t state, pol_event_t ev);
const char *pol_event_name(pol_event_t ev);
const char *pol_action_name(pol_action_t a);

/* Per-instance memory of the policy: backoff and the start-limit window. */
typedef struct pol_track {
    long next_delay_ms;        /* delay of the next quick restart; 0: restart_delay */
    long long window_start_ms; /* start of the current start-limit window */
    long window_starts;        /* starts counted in that window */
} pol_track_t;

void pol_track_reset(pol_track_t *t);

/* Count one start (initial or automatic) at now_ms in the start-limit window. */
void pol_note_start(pol_track_t *t, const inv_policy_t *p, long long now_ms);

typedef enum {
    POL_RESTART = 0, /* go to backoff, restart after delay_ms (may be 0) */
    POL_STOPPED,     /* clean exit and the policy does not restart: stopped */
    POL_FAILED,      /* failed: no restart until a manual start or a changing reload */
} pol_verdict_t;

typedef struct pol_decision {
    pol_verdict_t verdict;
    long delay_ms;
    char reason[96];  /* for the log: "start limit hit (5 starts in 60000 ms)" */
} pol_decision_t;

/* An unplanned exit. wait_status is as from waitpid(); spawn_failed is 1 when the
 * process never ran (exec or setup failure: always a failure). up_ms is how long it
 * ran. */
pol_decision_t pol_on_exit(pol_track_t *t, const inv_policy_t *p, int wait_status,
                           int spawn_failed, long long up_ms, long long now_ms);

/* A start that failed for want of the supervisor's own resources (descriptors,
 * memory, processes: EMFILE, ENFILE, ENOMEM, EAGAIN) is not the worker's failure: it is
 * not counted in the start limit, never makes the instance `failed`, and is retried
 * after pol_resource_retry_ms(). 1 for such an errno. */
int pol_errno_is_resource(int err);

/* Delay of the n-th (0-based) retry of a start deferred for want of resources:
 * POL_RESOURCE_RETRY_MIN_MS doubling up to POL_RESOURCE_RETRY_MAX_MS. */
#define POL_RESOURCE_RETRY_MIN_MS 250
#define POL_RESOURCE_RETRY_MAX_MS 5000
long pol_resource_retry_ms(unsigned n);

/* "exited with status 3", "killed by signal 9 (core dumped)". */
void pol_describe_exit(int wait_status, char *buf, size_t len);

#endif
