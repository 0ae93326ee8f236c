/* detach.c - a worker that daemonized itself: found by its orphans, which the
 * supervisor adopts as child subreaper, and ended.
 *
 * A daemonizing program forks, its child calls setsid() and the first process exits 0.
 * The supervisor then sees a clean exit while the real program runs on outside the
 * worker's process group (which the supervisor kills at every exit) and outside its
 * control: it would restart the worker, whose copy fails on the taken port, in a loop.
 * As subreaper the supervisor adopts the orphan: a process whose parent is the
 * supervisor, that is not one of its workers or probes, and that leads a session which
 * is neither the supervisor's (helpers it forked itself) nor any live worker's or
 * probe's. No environment or title is trusted: programs like redis and nginx overwrite
 * both. */
#include "config.h"

#include "detach.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "probe_exec.h"

static int was_killed(const detach_t *d, pid_t pid)
{
    for (size_t i = 0; i < d->nkilled; i++)
        if (d->killed[i] == pid)
            return 1;
    return 0;
}

static void note_killed(detach_t *d, pid_t pid)
{
    d->killed[d->next] = pid;
    d->next = (d->next + 1) % DETACH_KILLED_MAX;
    if (d->nkilled < DETACH_KILLED_MAX)
        d->nkilled++;
}

void detach_forget(detach_t *d, pid_t pid)
{
    for (size_t i = 0; i < d->nkilled; i++)
        if (d->killed[i] == pid)
            d->killed[i] = 0;
}

void detach_init(detach_t *d)
{
    memset(d, 0, sizeof(*d));
    if (prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L) < 0)
        log_warn("cannot become child subreaper: workers that detach will not be found",
                 "error", strerror(errno));
}

/* Fields of /proc/PID/stat after the command: state, ppid, pgrp, session. */
static int read_stat(pid_t pid, char *state, pid_t *ppid, pid_t *pgrp, pid_t *sid,
                     char *comm, size_t commlen)
{
    char path[64], buf[1024], *open_, *close_;
    FILE *f;
    size_t n;
    int pp, pg, ss;

    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    if (!(f = fopen(path, "re")))
        return -1;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command may hold spaces and parentheses: it ends at the last ')'. */
    if (!(open_ = strchr(buf, '(')) || !(close_ = strrchr(buf, ')')))
        return -1;
    n = (size_t)(close_ - open_ - 1);
    if (n >= commlen)
        n = commlen - 1;
    memcpy(comm, open_ + 1, n);
    comm[n] = '\0';
    if (sscanf(close_ + 1, " %c %d %d %d", state, &pp, &pg, &ss) != 4)
        return -1;
    *ppid = pp;
    *pgrp = pg;
    *sid = ss;
    return 0;
}

/* 1 when pid or session sid belongs to a live worker other than the one that exited. */
static int owned(supervisor_t *sup, const sup_instance_t *gone, pid_t pid, pid_t sid)
{
    for (size_t i = 0; i < sup->ninst; i++) {
        const sup_instance_t *o = sup->inst[i];
        if (o == gone || o->pid <= 0)
            continue;
        if (o->pid == pid || o->pid == sid)
            return 1;
    }
    return pexec_owns(pid) || pexec_owns(sid);
}

/* 1 when pid is a zombie: exited, not yet reaped. */
static int is_zombie(pid_t pid)
{
    char state, comm[64];
    pid_t pp, pg, ss;

    return pid > 0 && read_stat(pid, &state, &pp, &pg, &ss, comm, sizeof comm) == 0 &&
           state == 'Z';
}

/* 1 when the program file of process pid is the one instance o last exec'd. */
static int runs_exe_of(pid_t pid, const sup_instance_t *o)
{
    char path[64];
    struct stat st;

    snprintf(path, sizeof path, "/proc/%ld/exe", (long)pid);
    return o->exe_ino != 0 && stat(path, &st) == 0 && st.st_dev == o->exe_dev &&
           st.st_ino == o->exe_ino;
}

/* Whose orphan is pid (session sid, group pgrp): in's, or another worker's that has
 * exited too and is not reaped yet (several workers may exit in one batch, and all
 * their orphans are the supervisor's children by now). A child that has not called
 * setsid() yet still carries its worker's session; after it, the program file
 * decides; failing both, the worker being reaped takes it. */
static int is_ours(supervisor_t *sup, const sup_instance_t *in, pid_t pid, pid_t pgrp,
                   pid_t sid)
{
    int others = 0, other_exe = 0;

    if (sid == in->pid || pgrp == in->pid)
        return 1;
    for (size_t i = 0; i < sup->ninst; i++) {
        const sup_instance_t *o = sup->inst[i];
        if (o == in || o->pid <= 0 || !is_zombie(o->pid))
            continue;
        if (sid == o->pid || pgrp == o->pid)
            return 0;
        others++;
        other_exe |= runs_exe_of(pid, o);
    }
    if (!others || runs_exe_of(pid, in))
        return 1;
    return !other_exe;
}

int detach_reap(detach_t *dt, supervisor_t *sup, const sup_instance_t *in)
{
    pid_t self = getpid(), mysid = getsid(0), mypgrp = getpgrp();
    struct dirent *e;
    DIR *d = opendir("/proc");
    int found = 0;

    if (!d)
        return 0;
    while ((e = readdir(d))) {
        pid_t pid, ppid, pgrp, sid;
        char state, comm[64];

        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        pid = (pid_t)strtol(e->d_name, NULL, 10);
        if (pid == in->pid || read_stat(pid, &state, &ppid, &pgrp, &sid, comm, sizeof comm) < 0)
            continue;
        if (ppid != self || state == 'Z' || sid == mysid || owned(sup, in, pid, sid) ||
            was_killed(dt, pid) || !is_ours(sup, in, pid, pgrp, sid))
            continue;
        found++;
        log_warn("killing a process the worker left in the background", "instance", in->name,
                 "pid", LOG_INT(pid), "command", comm);
        if (pgrp > 0 && pgrp != mypgrp)
            kill(-pgrp, SIGKILL);
        kill(pid, SIGKILL);
        note_killed(dt, pid);
    }
    closedir(d);
    return found;
}
