/* supervisor.h - the supervision core: one worker per instance on one event loop.
 *
 * This header is the contract between the core (supervisor.c: the instance table and
 * its state machine; reload.c: reload as plan, then apply) and everything around it:
 * the spawner that starts processes (sup_spawn.c), and the modules that follow
 * instances through hooks (monitor.c: probes, status endpoint, control socket;
 * provisioner.c). All run on the same event_base, single-threaded; the core includes
 * none of them. docs/architecture.md draws the whole. */
#ifndef INSTANCED_SUPERVISOR_H
#define INSTANCED_SUPERVISOR_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "inventory.h"
#include "text.h"

struct event_base;
struct logcap;

/* Process state of an instance (docs/design.md, "States"). */
typedef enum {
    SUP_STOPPED = 0, /* not running and not wanted (or not yet started) */
    SUP_WAITING,     /* wanted, waiting for its depends_on to be ready */
    SUP_STARTING,    /* forked; not yet ready */
    SUP_RUNNING,     /* ready: first healthy probe, or ready_after without health_path */
    SUP_STOPPING,    /* SIGTERM sent, waiting for the exit (SIGKILL after stop_timeout) */
    SUP_BACKOFF,     /* exited; a restart is scheduled */
    SUP_FAILED,      /* start limit hit, exit 78, or restart policy says no */
    SUP_PAUSED,      /* frozen by instancectl pause (cgroup.freeze); not probed */
} sup_state_t;
#define SUP_NSTATES (SUP_PAUSED + 1)

/* Health is a separate axis, kept by the monitoring side. */
typedef enum {
    HEALTH_UNKNOWN = 0,
    HEALTH_HEALTHY,
    HEALTH_DEGRADED,
    HEALTH_UNHEALTHY,
} health_status_t;

/* Their names, as the status API, metrics and logs spell them (states.c). */
const char *sup_state_name(sup_state_t s);         /* "running", "backoff", ... */
const char *health_status_name(health_status_t h); /* "healthy", "degraded", ... */

/* Health of one instance, written only by the monitoring side. */
typedef struct sup_health {
    health_status_t status;
    text_t message;              /* why, for unhealthy/degraded ("connection refused") */
    time_t last_check;           /* wall clock of the last finished probe, 0: never */
    double latency_seconds;      /* duration of the last probe */
    unsigned consecutive_ok;
    unsigned consecutive_fail;
    unsigned long probes_total;
    unsigned long probe_failures_total;
} sup_health_t;

/* Runtime state of one instance. The supervision side owns every field but
 * `health`; the monitoring side reads them and must not write them. */
typedef struct sup_instance {
    char *name;                  /* owned; stable for the life of the entry */
    const inv_instance_t *cfg;   /* current config, points into sup->inv */
    sup_state_t state;
    pid_t pid;                   /* 0 when no process */
    int wanted;                  /* 1: should run (0 after instancectl stop) */
    int ready;                   /* reached readiness since its last start */
    unsigned long restarts;      /* restarts since the supervisor started (a counter) */
    unsigned long starts;
    time_t started_at;           /* wall clock of the last exec, 0: never */
    struct timespec started_mono;
    int last_exit_status;        /* wait status of the last exit, -1: none */
    text_t last_exit;            /* "exited with status 3", "killed by signal 9", and
                                  * "; port 8081 is held by another process (...)" */
    text_t waiting_for;          /* SUP_WAITING: the dependency it waits for */
    unsigned long log_dropped_bytes;
    /* Written by the spawner (sup_spawn.c) at each start: */
    dev_t exe_dev;               /* the program file of the last exec (stat at spawn): */
    ino_t exe_ino;               /* tells a detached copy of it apart (detach.c) */
    text_t port_note;            /* its port was held at the last start: by whom */
    int cgroup_fd;               /* the instance's cgroup (O_PATH) while the containment
                                  * module starts it; -1: none (contain.c) */
    int dirs_ready;              /* volume dirs made for the current config: a restart
                                  * does not redo their mkdir/lstat/chown (the core
                                  * clears it when the config changes or a start fails) */
    sup_health_t health;
    /* Resource use of everything the instance runs, written by the containment module
     * (cgroups) when there is one; have = 0 when nothing is known. */
    struct sup_usage {
        int have;
        double cpu_seconds;      /* cpu.stat usage_usec, all processes, since start */
        double cpu_percent;      /* over the last sampling interval (100: one core) */
        long long memory_bytes;  /* memory.current; -1 unknown */
        long long memory_peak;   /* memory.peak; -1 unknown */
        long long pids;          /* pids.current (or processes counted); -1 unknown */
        unsigned long oom_kills; /* memory.events oom_kill */
        double cpu_pressure;     /* "some avg10" of cpu.pressure, percent; -1 unknown */
        double memory_pressure;
        double io_pressure;
    } usage;
    void *priv;                  /* the supervision side's private data */
    void *prov_cache;            /* provisioner.c's: its credentials, read once */
} sup_instance_t;

typedef struct supervisor supervisor_t;

struct supervisor {
    struct event_base *base;
    inventory_t *inv;            /* current inventory; replaced whole by a reload */
    sup_instance_t **inst;       /* array of pointers, in inventory order */
    size_t ninst;
    int foreground;
    int shutting_down;
    time_t started_at;           /* wall clock */
    unsigned long reloads;
    unsigned long reload_failures;
    /* Bumped by every writer of what the status shows (the core at each state change
     * and reload, the monitoring side at each probe result, the provisioner at each
     * run's end): views rendered from the table may be kept while it is unchanged. */
    unsigned long changes;
    /* Set by the containment module: bring sup_instance_t.usage up to date (it reads
     * the cgroups at most once a second). Called by whoever is about to show usage (the
     * status API, /metrics, instancectl status), so that an idle supervisor reads
     * nothing. NULL: no accounting. */
    void (*refresh_usage)(supervisor_t *sup);
    void *usage_ctx;
    struct {                     /* provisioning runs (provision = true), provisioner.c */
        unsigned long runs;      /* ended runs */
        unsigned long failures;  /* ended runs that failed */
        time_t last_success;     /* wall clock of the last successful end; 0: none */
        time_t last_failure;     /* wall clock of the last failed end; 0: none */
        char last_error[256];    /* why it failed (secrets masked); "" after a success */
        int running;             /* a run is in progress */
    } prov;
    void *monitor;               /* the monitoring side's private data */
    void *priv;                  /* the supervision side's private data */
};

/* ---- hooks: what the other modules learn and say -------------------------------
 *
 * The core (this module) knows nothing of probes, listeners, provisioning or any
 * other module: they register a table of hooks, and the core calls every table in the
 * order they were added. Any member may be NULL. ctx is the registrant's own. */
typedef struct sup_hooks {
    /* in's process was exec'd (state SUP_STARTING). */
    void (*started)(void *ctx, supervisor_t *sup, sup_instance_t *in);
    /* in's process is gone (reaped), before the restart decision. */
    void (*exited)(void *ctx, supervisor_t *sup, sup_instance_t *in);
    /* in was removed by a reload: drop every reference to it (its process may still
     * be stopping; the entry is freed once it is gone). */
    void (*removed)(void *ctx, supervisor_t *sup, sup_instance_t *in);
    /* in's entry is about to be freed (removed, or the supervisor ends). */
    void (*freed)(void *ctx, supervisor_t *sup, sup_instance_t *in);
    /* A reload put a new inventory in place (the table has its new entries). */
    void (*reloaded)(void *ctx, supervisor_t *sup);
    /* May in start now? NULL: yes; else what it waits for ("provisioning"), and the
     * registrant calls sup_wake_waiting() when that changes. */
    const char *(*may_start)(void *ctx, supervisor_t *sup, sup_instance_t *in);
    /* Add to or change the worker's environment (a NULL-terminated array of malloc'd
     * "K=V", enough room for no more entries: replace only). 0, or -1 with err: the
     * worker must then not start. */
    int (*worker_env)(void *ctx, supervisor_t *sup, sup_instance_t *in, char **env,
                      char *err, size_t errlen);
    /* A child the core did not start was reaped: 1 when it was the registrant's. */
    int (*reaped)(void *ctx, supervisor_t *sup, pid_t pid, int status);
    /* Processes of the registrant's still running: shutdown waits for them too. */
    int (*busy)(void *ctx, supervisor_t *sup);
    /* Shutdown began (SIGTERM) or was hurried (SIGKILL): stop what you run. */
    void (*stopping)(void *ctx, supervisor_t *sup, int sig);
    /* in's worker was reaped: 1 when processes it started remain (a cgroup still
     * populated) and the registrant will call sup_exit_released() once they are gone;
     * until then the instance does not count as stopped and cannot start again. */
    int (*exit_hold)(void *ctx, supervisor_t *sup, sup_instance_t *in);
    /* Is dependency dep ready, when it runs elsewhere (cluster mode: another node)?
     * 1 or 0; -1 when it runs here and its own state says. */
    int (*dep_ready)(void *ctx, supervisor_t *sup, const sup_instance_t *dep);
} sup_hooks_t;

/* Add a hooks table (copied). At most SUP_MAX_HOOKS tables: -1 past that. */
#define SUP_MAX_HOOKS 8
int sup_add_hooks(supervisor_t *sup, const sup_hooks_t *hooks, void *ctx);
/* What an exit_hold hook promised: the worker's leftovers are gone. */
void sup_exit_released(supervisor_t *sup, sup_instance_t *in);
/* A busy hook's count went down: shutdown counts again what is still running. */
void sup_recount(supervisor_t *sup);
/* Remove every table registered with ctx (its owner is going away). */
void sup_remove_hooks(supervisor_t *sup, void *ctx);
/* The worker_env hooks, in order, on env (for the spawner). 0, or -1 with err. */
int sup_worker_env(supervisor_t *sup, sup_instance_t *in, char **env, char *err,
                   size_t errlen);

/* How the core starts and signals processes: the real one is sup_spawn.c's; tests
 * give a fake. spawn() starts in's worker with its output to the capture log (after
 * pointing it at the instance's logs directory) and fills *pid,
 * and *report_fd (the exec report pipe, spawn.h; -1: the exec is confirmed already).
 * It returns 0, or -1 with err, and sets *resource = 1 when the reason is the
 * supervisor's own shortage (descriptors, memory): the start is then deferred, not
 * counted. signal() sends sig to everything in's process started. */
typedef struct sup_spawner {
    int (*spawn)(void *ctx, supervisor_t *sup, sup_instance_t *in, struct logcap *log,
                 pid_t *pid, int *report_fd, char *err, size_t errlen, int *resource);
    void (*signal)(void *ctx, supervisor_t *sup, sup_instance_t *in, int sig);
    /* Freeze (on = 1) or thaw everything in runs. NULL, or -1 with err: not
     * supported here (pause needs cgroup containment). */
    int (*freeze)(void *ctx, supervisor_t *sup, sup_instance_t *in, int on, char *err,
                  size_t errlen);
    void *ctx;
} sup_spawner_t;
/* Replace the spawner (the containment module wraps the real one at start). */
void sup_set_spawner(supervisor_t *sup, const sup_spawner_t *spawner);
const sup_spawner_t *sup_get_spawner(const supervisor_t *sup);

/* ---- life of the supervisor (instanced.c drives it) ------------------------------ */

/* A supervisor for inv (owned from now on) on base: every instance wanted, none
 * started. foreground mirrors worker output to stdout; log_rate caps each instance's
 * output in bytes per second. NULL with err on failure (inv is then freed). */
supervisor_t *sup_new(struct event_base *base, inventory_t *inv, int foreground,
                      long long log_rate, const sup_spawner_t *spawner, char *err,
                      size_t errlen);
/* Start (or queue behind dependencies) every wanted instance. */
void sup_start_all(supervisor_t *sup);
/* SIGCHLD: reap every exited child, each handed to the hook that owns it or to its
 * instance. */
void sup_reap_children(supervisor_t *sup);
/* One child was reaped (sup_reap_children, or a test): pid, its wait status;
 * group_killed: its process group was SIGKILLed while it was a zombie; detached: it
 * exited 0 leaving a copy of itself behind (detach.h). */
void sup_child_exited(supervisor_t *sup, pid_t pid, int status, int group_killed,
                      int detached);
/* SIGTERM/SIGINT (why names it): stop everything, dependents first; a second call
 * kills. The loop ends when nothing is left (sup_done() is then 1). */
void sup_begin_shutdown(supervisor_t *sup, const char *why);
int sup_done(const supervisor_t *sup);
/* Free everything (processes must be gone). Does not free the event base. */
void sup_free(supervisor_t *sup);

/* ---- requests (control socket, health probes) ----------------------------------- */

sup_instance_t *sup_find(supervisor_t *sup, const char *name);

/* instancectl start NAME: wanted = 1; clears `failed`; starts it (or waits for its
 * dependencies). 0, or -1 with a reason in err. */
int sup_start(supervisor_t *sup, sup_instance_t *in, char *err, size_t errlen);
/* instancectl stop NAME: wanted = 0, stop; it stays down until started. */
int sup_stop(supervisor_t *sup, sup_instance_t *in, char *err, size_t errlen);
/* instancectl restart NAME, and restart_on_unhealthy. Not counted against the
 * start limit when manual: pass why = SUP_WHY_MANUAL for instancectl; any other
 * reason ("unhealthy: ...") counts like an automatic restart. */
#define SUP_WHY_MANUAL "manual"
int sup_restart(supervisor_t *sup, sup_instance_t *in, const char *why, char *err,
                size_t errlen);
/* Reload the inventory from its path (SIGHUP and instancectl reload). On an invalid
 * inventory returns -1, fills errs and changes nothing. On success returns 0 and
 * writes a one-line summary ("2 added, 1 removed, 1 changed, 4 unchanged"). */
int sup_reload(supervisor_t *sup, inv_errors_t *errs, char *summary, size_t len);

/* instancectl pause NAME: freeze a starting or running instance (state paused, no
 * probes); resume: thaw it back to the state it had. 0, or -1 with err. */
int sup_pause(supervisor_t *sup, sup_instance_t *in, char *err, size_t errlen);
int sup_resume(supervisor_t *sup, sup_instance_t *in, char *err, size_t errlen);

/* The monitoring side calls this after an instance's first healthy probe since its
 * start: it becomes SUP_RUNNING, and instances depending on it may start. */
void sup_instance_ready(supervisor_t *sup, sup_instance_t *in);

/* The user and group the instance runs as, resolved at the last inventory load (no
 * lookup now: nothing on the loop waits on a directory server). 0, or -1 with the
 * reason the lookup failed in err. */
struct spawn_cred;
int sup_instance_cred(const sup_instance_t *in, struct spawn_cred *out, char *err,
                      size_t errlen);

/* Stop in for a reason outside it (cluster mode: another node may own it now) without
 * making it unwanted: once its process is gone it waits in SUP_WAITING on the
 * may_start hooks, and starts when they let it (sup_wake_waiting). */
void sup_fence(supervisor_t *sup, sup_instance_t *in, const char *why);

/* Try again to start every instance in SUP_WAITING (a may_start hook's reason went). */
void sup_wake_waiting(supervisor_t *sup);

#endif
