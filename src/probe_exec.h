/* probe_exec.h - exec health probes: health_command spawned like a worker (the
 * instance's environment, user, data directory; its own session), its output read and
 * its exit reaped on the supervisor's loop, killed at the timeout. Nothing blocks. */
#ifndef INSTANCED_PROBE_EXEC_H
#define INSTANCED_PROBE_EXEC_H

#include <stddef.h>
#include <sys/types.h>

#include "supervisor.h"

typedef struct pexec pexec_t;

/* The probe ended: its verdict and message (probe_verdict.h). Called from the loop,
 * never from inside pexec_reaped(); the handle is freed right after it returns. */
typedef void (*pexec_done_fn)(void *arg, health_status_t h, const char *msg);

/* Run in's health_command (placeholders expanded) with timeout_ms. Returns a handle,
 * or NULL with a reason in err (nothing was started). */
pexec_t *pexec_start(supervisor_t *sup, sup_instance_t *in, long timeout_ms,
                     pexec_done_fn done, void *arg, char *err, size_t errlen);

/* Forget the probe: its process group is killed, done is never called. The entry
 * lives on, silently, until its process is reaped. */
void pexec_cancel(pexec_t *x);

/* The supervisor reaped pid: 1 when it was an exec probe (its result is delivered
 * from the loop), 0 when not ours. */
int pexec_reaped(pid_t pid, int status);

/* 1 when pid is a running exec probe (or leads the session of one). */
int pexec_owns(pid_t pid);

/* Exec probes whose process has not been reaped yet (for /metrics and tests). */
size_t pexec_running(void);

#endif
