/* supervisor.h - the master process: one worker per instance on one event loop.
 *
 * This header is the contract between the supervision side (supervisor.c and the
 * modules it uses: spawning, restart policy, log capture, systemd) and the
 * monitoring side (health probes, the status HTTP endpoint, metrics, the control
 * socket; see monitor.h). Both run on the same event_base, single-threaded. */
#ifndef INSTANCED_SUPERVISOR_H
#define INSTANCED_SUPERVISOR_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "inventory.h"

struct event_base;

/* Process state of an instance (docs/design.md, "States"). */
typedef enum {
    SUP_STOPPED = 0, /* not running and not wanted (or not yet started) */
    SUP_WAITING,     /* wanted, waiting for its depends_on to be ready */
    SUP_STARTING,    /* forked; not yet ready */
    SUP_RUNNING,     /* ready: first healthy probe, or ready_after without health_path */
    SUP_STOPPING,    /* SIGTERM sent, waiting for the exit (SIGKILL after stop_timeout) */
    SUP_BACKOFF,     /* exited; a restart is scheduled */
    SUP_FAILED,      /* start limit hit, exit 78, or restart policy says no */
} sup_state_t;

/* Health is a separate axis, kept by the monitoring side. */
typedef enum {
    HEALTH_UNKNOWN = 0,
    HEALTH_HEALTHY,
    HEALTH_DEGRADED,
    HEALTH_UNHEALTHY,
} health_status_t;

const char *sup_state_name(sup_state_t s);         /* "running", ... */
const char *health_status_name(health_status_t h); /* "healthy", ... */

/* Health of one instance, written only by the monitoring side. */
typedef struct sup_health {
    health_status_t status;
    char message[256];           /* why, for unhealthy/degraded ("connection refused") */
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
    char last_exit[192];         /* "exited with status 3", "killed by signal 9", and
                                  * "; port 8081 is held by another process (...)" */
    char waiting_for[128];       /* SUP_WAITING: the dependency it waits for */
    unsigned long log_dropped_bytes;
    dev_t exe_dev;               /* the program file of the last exec (stat at spawn): */
    ino_t exe_ino;               /* tells a detached copy of it apart (detach.c) */
    sup_health_t health;
    void *priv;                  /* the supervision side's private data */
    void *prov_cache;            /* provisioner.c's: its credentials, read once */
} sup_instance_t;

typedef struct supervisor {
    struct event_base *base;
    inventory_t *inv;            /* current inventory; replaced whole by a reload */
    sup_instance_t **inst;       /* array of pointers, in inventory order */
    size_t ninst;
    int foreground;
    int shutting_down;
    time_t started_at;           /* wall clock */
    unsigned long reloads;
    unsigned long reload_failures;
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
} supervisor_t;

/* Load config, start every instance and run until SIGTERM/SIGINT. Returns the
 * process exit code. */
int sup_main(const char *config, int foreground);

/* ---- for the monitoring side (control socket, health probes) ----------------- */

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

/* The monitoring side calls this after an instance's first healthy probe since its
 * start: it becomes SUP_RUNNING, and instances depending on it may start. */
void sup_instance_ready(supervisor_t *sup, sup_instance_t *in);

/* The user and group the instance runs as, resolved at the last inventory load (no
 * lookup now: nothing on the loop waits on a directory server). 0, or -1 with the
 * reason the lookup failed in err. */
struct spawn_cred;
int sup_instance_cred(const sup_instance_t *in, struct spawn_cred *out, char *err,
                      size_t errlen);

/* Try again to start every instance in SUP_WAITING (provisioning finished). */
void sup_wake_waiting(supervisor_t *sup);

#endif
