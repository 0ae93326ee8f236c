/* cgroup.h - containment: one cgroup v2 per instance (where the subtree goes, create,
 * kill, wait for empty, freeze, limits, accounting, leftovers of a previous run) and the
 * parsers of the limit keys. */
#ifndef INSTANCED_CGROUP_H
#define INSTANCED_CGROUP_H

#include <stddef.h>
#include <sys/types.h>

/* ---- limit keys: names, files, controllers (the inventory parses the values) --- */

typedef enum cg_limit_key {
    CG_MEMORY_MAX,  /* memory.max, a size or max */
    CG_MEMORY_HIGH, /* memory.high, a size or max */
    CG_CPU_WEIGHT,  /* cpu.weight, 1..10000 */
    CG_CPU_MAX,     /* cpu.max: "max PERIOD" or "QUOTA PERIOD" (microseconds) */
    CG_PIDS_MAX,    /* pids.max, a count or max */
    CG_IO_WEIGHT,   /* io.weight, 1..10000 */
    CG_LIMIT_COUNT
} cg_limit_key_t;

/* The inventory key ("memory_max"), the cgroup file ("memory.max") and the controller
 * it needs ("memory") of key; NULL when key is out of range. */
const char *cg_limit_name(cg_limit_key_t key);
const char *cg_limit_file(cg_limit_key_t key);
const char *cg_limit_controller(cg_limit_key_t key);

/* The key named name ("memory_max"), or -1. */
int cg_limit_lookup(const char *name);

/* bytes as a person reads it: "256MiB", "1.5GiB", "512B". */
void cg_format_size(long long bytes, char *out, size_t outlen);

/* ---- where the subtree goes: pure, for the tests ------------------------------ */

/* The mount point of the first read-write cgroup2 mount in mountinfo (the text of
 * /proc/self/mountinfo), its octal escapes decoded, and that mount's root inside the
 * hierarchy ("/" unless a container bind-mounted a subtree). 0, or -1 when none. */
int cg_find_mount(const char *mountinfo, char *mnt, size_t mntlen, char *root, size_t rootlen);

/* The cgroup v2 path from the text of /proc/self/cgroup (its "0::/path" line). 0 or -1. */
int cg_find_own(const char *proc_cgroup, char *out, size_t outlen);

typedef enum cg_mode {
    CG_MODE_CONFIG = 1, /* cgroup_root from the inventory: instances in <root>/<name> */
    CG_MODE_SYSTEMD,    /* a systemd unit's cgroup: <unit>/supervisor + <unit>/instances/ */
    CG_MODE_PLAIN       /* <own cgroup>/instanced-<tag>/<name>, the supervisor stays put */
} cg_mode_t;

/* A layout: every path absolute in the file system, malloc'd (cg_plan_free). */
typedef struct cg_plan {
    cg_mode_t mode;
    char *mnt;       /* the cgroup2 mount point (the hierarchy's top as seen here) */
    char *own;       /* the supervisor's cgroup directory; in systemd mode its unit's */
    char *base;      /* the instances' parent: <base>/<name> */
    char *self_leaf; /* systemd mode: the leaf the supervisor moves into; else NULL */
    char *subtree;   /* what shutdown removes (= base); NULL for cgroup_root, which
                      * shutdown only empties of the instances' cgroups */
} cg_plan_t;

/* 1 when own (a cgroup path) is a systemd unit's cgroup to treat as delegated: its
 * last component ends in ".service", or in ".scope" while invocation_id (the
 * INVOCATION_ID variable, may be NULL) is set. A cgroup named "supervisor" right
 * under such a unit counts as that unit (the supervisor re-executed itself). */
int cg_is_unit_cgroup(const char *own, const char *invocation_id);

/* Choose the layout: mnt and mnt_root from cg_find_mount, own from cg_find_own,
 * cgroup_root from the inventory (NULL: none; a path under mnt is used as is, any
 * other absolute path is taken inside the hierarchy: "/instanced" ->
 * <mnt>/instanced), tag unique per supervisor (cg_tag_from_path). 0, or -1 with err. */
int cg_plan_make(const char *mnt, const char *mnt_root, const char *own, const char *cgroup_root,
                 const char *invocation_id, const char *tag, cg_plan_t *out, char *err,
                 size_t errlen);
void cg_plan_free(cg_plan_t *p);

/* A cgroup name unique per supervisor from its control socket's path: the socket's
 * base name without its extension, '-', and 8 hex digits of a hash of the whole
 * path ("instanced-1a2b3c4d"); characters outside [A-Za-z0-9_.-] become '_'. */
void cg_tag_from_path(const char *socket_path, char *out, size_t outlen);

/* The layout cg_tree_open would choose, from /proc/self and INVOCATION_ID, without
 * creating or moving anything: 0, or -1 with err starting "no writable cgroup2: " when
 * there is no cgroup2 mount or the nearest existing directory of base is not
 * writable. */
int cg_plan_probe(const char *cgroup_root, const char *tag, cg_plan_t *out, char *err,
                  size_t errlen);

/* ---- the subtree ---------------------------------------------------------------- */

typedef struct cg_tree {
    cg_plan_t plan;
    int has_kill;       /* cgroup.kill exists (Linux 5.14) */
    int force_fallback; /* tests: kill by signals even when cgroup.kill exists */
    int watch_fd;       /* inotify, see cg_watch_fd; -1 until asked for */
} cg_tree_t;

/* Find the writable cgroup2 and set the subtree up: read /proc/self/mountinfo and
 * /proc/self/cgroup, choose with cg_plan_make, create base (0755), and in systemd
 * mode move this process into <unit>/supervisor first. Call it early, before the
 * supervisor forks anything: in systemd mode only the supervisor itself is moved.
 * 0, or -1 with err starting "no writable cgroup2: " and why: the caller then falls
 * back to PR_SET_CHILD_SUBREAPER (detach.h). */
int cg_tree_open(cg_tree_t *t, const char *cgroup_root, const char *tag, char *err,
                 size_t errlen);

/* The same from given texts instead of /proc (the tests and --check-config). */
int cg_tree_open_from(cg_tree_t *t, const char *mountinfo, const char *proc_cgroup,
                      const char *cgroup_root, const char *invocation_id, const char *tag,
                      char *err, size_t errlen);

/* remove: remove the subtree (a configured cgroup_root stays, emptied of the
 * instances' cgroups). Every instance cgroup must be empty (cg_inst_kill and wait
 * first); one still populated stays and is named in err. Then free t. In systemd mode
 * the supervisor's leaf stays: it is still in it. 0, or -1 with err. */
int cg_tree_close(cg_tree_t *t, int remove, char *err, size_t errlen);

/* ---- one instance ------------------------------------------------------------- */

typedef struct cg_inst {
    char *name;
    char *path;  /* <base>/<name>, malloc'd */
    int dir_fd;  /* O_PATH | O_DIRECTORY: spawn_run_cg's cgroup_fd */
    int wd;      /* its watch in the tree's inotify descriptor; -1 none */
} cg_inst_t;

/* Create (or reuse) <base>/<name> with mode 0755 and open it. 0, or -1 with err. */
int cg_inst_open(cg_tree_t *t, const char *name, cg_inst_t *ci, char *err, size_t errlen);

/* Close ci's descriptors and its watch; the cgroup itself stays (cg_inst_remove). */
void cg_inst_close(cg_tree_t *t, cg_inst_t *ci);

/* Kill everything in the cgroup and its descendants: "1" into cgroup.kill; without
 * it, freeze, SIGKILL every pid of cgroup.procs until none is left that was not
 * signalled yet, thaw. Does not wait: populated goes to 0 when the last one is gone
 * (cg_inst_populated, cg_watch_fd). Returns how many processes were signalled by the
 * fallback (0 with cgroup.kill), or -1 with err. */
int cg_inst_kill(cg_tree_t *t, cg_inst_t *ci, char *err, size_t errlen);

/* "populated" / "frozen" of cgroup.events: 1, 0, or -1 when unreadable. */
int cg_inst_populated(const cg_inst_t *ci);
int cg_inst_frozen(const cg_inst_t *ci);

/* Write cgroup.freeze (1 freeze, 0 thaw). The kernel freezes asynchronously:
 * cg_inst_frozen says 1 once every process is stopped (the watch fires). 0 or -1. */
int cg_inst_freeze(cg_inst_t *ci, int freeze, char *err, size_t errlen);

/* The pids in the cgroup (not its descendants), malloc'd into *pids (caller frees);
 * returns their number, or -1. */
int cg_inst_pids(const cg_inst_t *ci, pid_t **pids);

/* Remove the cgroup (and any empty child cgroups a worker made); close ci. EBUSY
 * (still populated) gives -1 with err; a cgroup already gone is 0. */
int cg_inst_remove(cg_tree_t *t, cg_inst_t *ci, char *err, size_t errlen);

/* ---- notification for the event loop ------------------------------------------ */

/* One inotify descriptor (non-blocking, close-on-exec) for the whole tree, created on
 * first use; every cg_inst_watch adds IN_MODIFY on that instance's cgroup.events,
 * whose "populated" and "frozen" lines the kernel changes. Give it to the loop as
 * EV_READ | EV_PERSIST; on readiness call cg_watch_drain and re-read the state of each
 * instance it names. -1 with errno when inotify is not available. */
int cg_watch_fd(cg_tree_t *t);
int cg_inst_watch(cg_tree_t *t, cg_inst_t *ci, char *err, size_t errlen);

/* Read every pending event; fn(wd, arg) once per event (an instance may come twice).
 * Returns the number of events. */
int cg_watch_drain(cg_tree_t *t, void (*fn)(int wd, void *arg), void *arg);

/* ---- limits ------------------------------------------------------------------- */

/* Can key apply to instances of t? Enables the controller in base's
 * cgroup.subtree_control (and in its parent's when it is the supervisor's own unit
 * or needs it there first) when cgroup.controllers offers it. 1 it can; 0 it cannot,
 * with an explanation in why ("memory_max cannot apply: the memory controller is not
 * delegated to /sys/fs/cgroup/unified: enable it with Delegate=yes (systemd) or
 * +memory in the parent's cgroup.subtree_control"). */
int cg_limit_available(cg_tree_t *t, cg_limit_key_t key, char *why, size_t whylen);

/* The same question without changing anything (--check-config, or before the
 * subtree exists): judged from the cgroup files as they are now, seen from the
 * calling process (its cgroup may not be the one the supervisor will run in). */
int cg_limit_check(const cg_plan_t *p, cg_limit_key_t key, char *why, size_t whylen);

/* Write value, in the file's own syntax ("268435456", "max", "50000 100000",
 * "default 300"; contain.c makes it from the inventory's parsed limits), into ci's
 * file for key, before the worker starts. 0; -1 with why (cg_limit_available's
 * explanation or the write's error). */
int cg_inst_set_limit(cg_tree_t *t, cg_inst_t *ci, cg_limit_key_t key, const char *value,
                      char *why, size_t whylen);

/* ---- accounting --------------------------------------------------------------- */

/* -1 (or -1.0) for what this kernel or delegation does not provide. */
typedef struct cg_stats {
    long long cpu_usec;    /* cpu.stat usage_usec (there even without the cpu controller) */
    long long user_usec, system_usec;
    long long mem_current; /* memory.current, memory.peak (Linux 5.19), bytes */
    long long mem_peak;
    long long oom_kills;   /* memory.events oom_kill */
    long long pids_current;
    long long nprocs;      /* lines of cgroup.procs (always there) */
    double cpu_some10, mem_some10, io_some10; /* *.pressure "some avg10", percent */
    int populated, frozen;
} cg_stats_t;

/* Read them all; 0, or -1 when the cgroup is gone. */
int cg_inst_stats(const cg_inst_t *ci, cg_stats_t *st);

/* The exit cause of a worker the OOM killer took, when memory.events' oom_kill grew
 * from oom_before (cg_stats_t.oom_kills at the start) to oom_after (at the exit):
 * "killed by the OOM killer (memory_max 256MiB)", or without the parenthesis when
 * memory_max (memory.max's text: "268435456", "max", NULL) sets no limit. 1 when it
 * did (out written), else 0. */
int cg_oom_cause(long long oom_before, long long oom_after, const char *memory_max, char *out,
                 size_t outlen);

/* ---- leftovers of a previous run ---------------------------------------------- */

typedef struct cg_leftover {
    char instance[256]; /* the instance cgroup's name under base */
    pid_t pid;
    char comm[32];      /* /proc/PID/comm, "?" when it is already gone */
} cg_leftover_t;

/* Every process in the instance cgroups under base (and their descendants), so that
 * the caller can log "killed leftover pid N (comm) of instance X" before killing them
 * (cg_inst_open + cg_inst_kill, then wait for populated 0). *out is malloc'd (the
 * caller frees it, also when the count is 0); returns the count, or -1 with err (and
 * *out NULL). */
int cg_leftovers(const cg_tree_t *t, cg_leftover_t **out, char *err, size_t errlen);

#endif
