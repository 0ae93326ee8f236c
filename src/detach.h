/* detach.h - find and end what a worker left running when it detached itself into the
 * background (daemonized: forked, called setsid and let its first process exit 0). */
#ifndef INSTANCED_DETACH_H
#define INSTANCED_DETACH_H

#include "supervisor.h"

/* What the log and the instance's status say. */
#define DETACH_MESSAGE "the program detached into the background; run it in the foreground"

/* Orphans already sent SIGKILL and not yet reaped. Until the supervisor reaps one, its
 * number cannot be reused, so a later scan (another worker exiting in the same batch)
 * skips it instead of blaming that worker for it. Bounded: a full table forgets the
 * oldest entry, which at worst blames a second worker for an orphan being killed.
 * Owned by the supervisor (one per supervisor); zeroed by detach_init(). */
#define DETACH_KILLED_MAX 256
typedef struct detach {
    pid_t killed[DETACH_KILLED_MAX];
    size_t nkilled, next;
} detach_t;

/* Empty d, and become the child subreaper (prctl PR_SET_CHILD_SUBREAPER) so that a
 * worker's orphaned descendants are re-parented to the supervisor rather than to
 * init, where they could not be told apart. Once, before the first spawn. */
void detach_init(detach_t *d);

/* in's worker just exited with status 0 (not reaped of its pid yet by the caller's
 * bookkeeping: in->pid is the dead worker). Look for processes re-parented to the
 * supervisor in a session of their own that no live instance or probe owns: the
 * worker's detached copy. Kill each with its process group, note it in d, and return
 * how many were found (0: the worker simply ended). */
int detach_reap(detach_t *d, supervisor_t *sup, const sup_instance_t *in);

/* The supervisor reaped pid, a child it did not start itself (an adopted orphan). */
void detach_forget(detach_t *d, pid_t pid);

#endif
