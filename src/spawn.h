/* spawn.h - fork/exec with child hygiene, and what a child needs first: its volume
 * directories and its credentials. */
#ifndef INSTANCED_SPAWN_H
#define INSTANCED_SPAWN_H

#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

/* Credentials a child switches to; resolved in the parent (NSS lookups are not
 * async-signal-safe). */
typedef struct spawn_cred {
    int change;          /* 0: keep the supervisor's credentials */
    uid_t uid;
    gid_t gid;
    gid_t groups[64];    /* supplementary groups, as initgroups() would set them */
    int ngroups;
} spawn_cred_t;

typedef struct spawn_req {
    const char *path;    /* resolved executable (spawn_resolve) */
    char *const *argv;   /* NULL-terminated; argv[0] is the command as configured */
    char *const *envp;   /* NULL-terminated: the whole environment, nothing inherited */
    const char *cwd;     /* the data dir */
    int out_fd;          /* becomes the child's 1 and 2; stdin is /dev/null */
    const spawn_cred_t *cred;
} spawn_req_t;

/* Look user/group up (either may be NULL). Returns 0, or -1 with a reason in err. */
int spawn_lookup_cred(const char *user, const char *group, spawn_cred_t *out, char *err,
                      size_t errlen);

/* Find command: as is when it holds a '/', else in the colon list path_env. Writes
 * the path to out. Returns 0, or -1 with a reason in err. */
int spawn_resolve(const char *command, const char *path_env, char *out, size_t outlen,
                  char *err, size_t errlen);

/* Create (if needed) the instance directory and its data and logs directories with
 * mode 0750, refuse any of them that is a symlink, and when running as root chown them
 * to cred. The volumes root is created 0755 if missing. 0, or -1 with err. */
int spawn_prepare_dirs(const char *data_dir, const char *logs_dir, const spawn_cred_t *cred,
                       char *err, size_t errlen);

/* Start r (clone with CLONE_VM | CLONE_VFORK, then exec). The child gets fds 0-2
 * only, the open-file limit the supervisor was started with (spawn_raise_nofile),
 * an empty signal mask, default dispositions, its own session and process group, umask
 * 027, credentials dropped in the order groups, gid, uid, PR_SET_PDEATHSIG(SIGKILL),
 * cwd = r->cwd. Returns the pid and in *report_fd the read end (non-blocking,
 * close-on-exec; the caller closes it) of a pipe that reaches EOF when the child has
 * exec'd, or carries the step and errno that failed before exec (the child then exits
 * with 127). -1 with err (and errno) when the pipe or the clone itself failed. */
pid_t spawn_run(const spawn_req_t *r, int *report_fd, char *err, size_t errlen);

/* spawn_run, with the child born inside a cgroup: cgroup_fd is a descriptor of the
 * cgroup's directory (cg_inst_t.dir_fd; O_PATH is enough), -1 for where the supervisor
 * is (spawn_run's behaviour). clone3(CLONE_INTO_CGROUP) where the kernel (5.7) and the
 * architecture allow it; otherwise the child moves itself by writing to the cgroup's
 * cgroup.procs as its very first step, before anything of the worker runs and while it
 * still has the supervisor's credentials. A child that cannot get in fails with the
 * step "cgroup" through the report pipe and never execs. */
pid_t spawn_run_cg(const spawn_req_t *r, int cgroup_fd, int *report_fd, char *err,
                   size_t errlen);

/* How the last spawn_run_cg with a cgroup got the child in: 2 clone3 with
 * CLONE_INTO_CGROUP, 1 the child wrote cgroup.procs, 0 none yet. For the tests and the
 * start log. */
int spawn_cgroup_method(void);

/* Tests: 1 makes spawn_run_cg skip clone3 and use the cgroup.procs write. */
void spawn_force_procs_write(int on);

/* Raise this process's soft RLIMIT_NOFILE to its hard limit (once, at start) and
 * return the new soft limit (0 when unknown). The supervisor holds two descriptors
 * per instance (the read end of the running worker's output pipe and its log file,
 * logcap.h) and polls with epoll, so no select() bound applies to it; the soft limit it was started with,
 * often 1024, is remembered and given back to every worker before exec: programs that
 * use select() must not see descriptors above 1023. */
rlim_t spawn_raise_nofile(void);

/* Call after changing a signal's disposition once workers may have been spawned: each
 * child resets the dispositions the parent had at its first spawn (spawn.c). */
void spawn_signals_changed(void);

/* fork() a helper process that runs the supervisor's own code instead of exec'ing:
 * every signal disposition back to its default (SIGPIPE ignored), the signal mask as
 * the caller had it, PR_SET_PDEATHSIG(SIGKILL), and every descriptor above 2 closed
 * but keep_fd (its result pipe; -1: none). Like fork(): 0 in the child, which must
 * leave with _exit() and not touch the event loop; -1 with errno. */
pid_t spawn_helper(int keep_fd);

/* Read report_fd: 1 the child exec'd; 0 it failed before exec ("exec: Permission
 * denied" in err, the errno in *child_errno unless it is NULL, 0 when unknown); -1 not known yet. Once
 * the child has exited it is never -1. */
int spawn_report(int report_fd, char *err, size_t errlen, int *child_errno);

#endif
