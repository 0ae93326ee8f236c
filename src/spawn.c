/* spawn.c - fork/exec with child hygiene, and what a child needs first: its volume
 * directories and its credentials.
 *
 * The child is made with clone(CLONE_VM | CLONE_VFORK), as glibc's posix_spawn does:
 * it runs on a stack of its own in the supervisor's memory, which is suspended until
 * the child has exec'd or exited. A plain fork() copied the supervisor's page tables
 * only for exec to throw them away: about 60 % of a restart, and more as the number of
 * instances grows (BENCHMARKS.md, finding 2). So the child may only make system calls
 * and touch its own stack: it allocates nothing and takes no lock.
 *
 * The child does not copy the supervisor's descriptor table either, where the kernel
 * allows it (close_range's CLOSE_RANGE_UNSHARE, Linux 5.9): with thousands of
 * instances the table holds thousands of pipes and log files, and copying it at each
 * clone, only for the child to close every copy, made a start's cost grow with the
 * number of instances. Instead the child is cloned sharing the table (CLONE_FILES),
 * and its first system call gives it a private copy of the lowest few descriptors
 * only (close_range(cut, ~0, CLOSE_RANGE_UNSHARE) copies [0, cut)). What the child
 * needs (its output, the report pipe, the cgroup to join) is placed by the parent in
 * slots below cut beforehand: descriptors reserved at the first spawn, /dev/null
 * while unused. See spawn_slots below. */
#include "config.h"

#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

int spawn_lookup_cred(const char *user, const char *group, spawn_cred_t *out, char *err,
                      size_t errlen)
{
    char buf[16384];
    struct passwd pw, *pwp = NULL;
    struct group gr, *grp = NULL;

    memset(out, 0, sizeof(*out));
    if (!user && !group)
        return 0;
    out->change = 1;
    out->uid = getuid();
    out->gid = getgid();
    if (user) {
        if (getpwnam_r(user, &pw, buf, sizeof(buf), &pwp) != 0 || !pwp) {
            snprintf(err, errlen, "user \"%s\" not found", user);
            return -1;
        }
        out->uid = pw.pw_uid;
        out->gid = pw.pw_gid;
    }
    if (group) {
        if (getgrnam_r(group, &gr, buf, sizeof(buf), &grp) != 0 || !grp) {
            snprintf(err, errlen, "group \"%s\" not found", group);
            return -1;
        }
        out->gid = gr.gr_gid;
    }
    out->ngroups = (int)(sizeof(out->groups) / sizeof(out->groups[0]));
    if (user) {
        if (getgrouplist(user, out->gid, out->groups, &out->ngroups) < 0) {
            snprintf(err, errlen, "user \"%s\" is in more than %zu groups", user,
                     sizeof(out->groups) / sizeof(out->groups[0]));
            return -1;
        }
    } else {
        out->groups[0] = out->gid;
        out->ngroups = 1;
    }
    return 0;
}

int spawn_resolve(const char *command, const char *path_env, char *out, size_t outlen,
                  char *err, size_t errlen)
{
    const char *p = path_env ? path_env : "/usr/local/bin:/usr/bin:/bin";

    if (strchr(command, '/')) {
        if ((size_t)snprintf(out, outlen, "%s", command) >= outlen) {
            snprintf(err, errlen, "command path too long");
            return -1;
        }
        return 0;
    }
    while (*p) {
        size_t n = strcspn(p, ":");
        if (n > 0 && (size_t)snprintf(out, outlen, "%.*s/%s", (int)n, p, command) < outlen &&
            access(out, X_OK) == 0)
            return 0;
        p += n;
        if (*p == ':')
            p++;
    }
    snprintf(err, errlen, "command \"%s\" not found in PATH", command);
    return -1;
}

static int mkdir_parents(char *path, char *err, size_t errlen)
{
    for (char *s = path + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(path, 0755) < 0 && errno != EEXIST) {
            snprintf(err, errlen, "mkdir %s: %s", path, strerror(errno));
            *s = '/';
            return -1;
        }
        *s = '/';
    }
    return 0;
}

/* One volume directory: created 0750 if missing; an existing one must be a real
 * directory (O_NOFOLLOW: a symlink could point the worker's data anywhere), and is
 * brought to 0750 and to its owner through the open descriptor, so that a rename
 * between check and change cannot redirect them. Every start comes here: a directory
 * that is already right costs an open, an fstat and a close. */
static int volume_dir(const char *path, const spawn_cred_t *cred, char *err, size_t errlen)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0 && errno == ENOENT) {
        if (mkdir(path, 0750) < 0 && errno != EEXIST) {
            snprintf(err, errlen, "mkdir %s: %s", path, strerror(errno));
            return -1;
        }
        fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
        if (errno == ELOOP || (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)))
            snprintf(err, errlen, "%s is a symlink: refusing it as a volume directory", path);
        else
            snprintf(err, errlen, "open %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0) {
        snprintf(err, errlen, "stat %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if ((st.st_mode & 07777) != 0750 && fchmod(fd, 0750) < 0) {
        snprintf(err, errlen, "chmod %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (cred && cred->change && geteuid() == 0 &&
        (st.st_uid != cred->uid || st.st_gid != cred->gid) &&
        fchown(fd, cred->uid, cred->gid) < 0) {
        snprintf(err, errlen, "chown %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

int spawn_prepare_dirs(const char *data_dir, const char *logs_dir, const spawn_cred_t *cred,
                       char *err, size_t errlen)
{
    char top[PATH_MAX];
    char *slash;

    if (!data_dir || data_dir[0] != '/' || strlen(data_dir) >= sizeof(top)) {
        snprintf(err, errlen, "data dir \"%s\" is not an absolute path", data_dir ? data_dir : "");
        return -1;
    }
    strcpy(top, data_dir);
    slash = strrchr(top, '/');
    if (slash == top) {
        snprintf(err, errlen, "data dir \"%s\" has no instance directory", data_dir);
        return -1;
    }
    *slash = '\0'; /* top = <volumes_root>/<instance> */
    /* The parents (volumes_root and above) only when the instance's own is missing. */
    if ((access(top, F_OK) < 0 && mkdir_parents(top, err, errlen) < 0) ||
        volume_dir(top, cred, err, errlen) < 0 ||
        volume_dir(data_dir, cred, err, errlen) < 0 ||
        (logs_dir && volume_dir(logs_dir, cred, err, errlen) < 0))
        return -1;
    return 0;
}

/* ---- the open-file limit ------------------------------------------------------- */

/* The limit the supervisor was started with, which every worker gets back. */
static struct rlimit child_nofile;
static int child_nofile_set;

rlim_t spawn_raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 0;
    if (!child_nofile_set) {
        child_nofile = rl;
        child_nofile_set = 1;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur;
}

/* ---- the child ------------------------------------------------------------------ */

enum { STEP_SIGNALS = 1, STEP_SETSID, STEP_STDIO, STEP_FDS, STEP_RLIMIT, STEP_SETGROUPS,
       STEP_SETGID, STEP_SETUID, STEP_PDEATHSIG, STEP_PARENT_GONE, STEP_CHDIR, STEP_EXEC,
       STEP_CGROUP };

static const char *step_name(int step)
{
    static const char *const names[] = { "?", "signal reset", "setsid", "stdio", "closing fds",
                                         "open-file limit", "setgroups", "setgid", "setuid",
                                         "PR_SET_PDEATHSIG", "parent check", "chdir", "exec",
                                         "cgroup" };
    return step > 0 && step <= STEP_CGROUP ? names[step] : "?";
}

struct child_report {
    int step;
    int err;
};

static _Noreturn void child_fail(int fd, int step)
{
    struct child_report rep = { step, errno };
    ssize_t n = write(fd, &rep, sizeof(rep));
    (void)n;
    _exit(127);
}

/* Everything above fd 2 except the report pipe (close-on-exec already) must go. */
static int close_other_fds(int keep)
{
#ifdef SYS_close_range
    if (keep < 3) {
        if (syscall(SYS_close_range, 3, ~0U, 0) == 0)
            return 0;
    } else if ((keep == 3 || syscall(SYS_close_range, 3, keep - 1, 0) == 0) &&
               syscall(SYS_close_range, keep + 1, ~0U, 0) == 0) {
        return 0;
    }
#endif
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536)
        max = 65536;
    for (long fd = 3; fd < max; fd++)
        if (fd != keep)
            close((int)fd);
    return 0;
}

/* glibc refuses sigaction() for the real-time signals it reserves for itself (32 and
 * 33), yet a SIG_IGN on them is inherited across exec like any other: a supervisor
 * started by a parent that ignored them would pass that on. The kernel call takes a
 * handler, flags, a restorer and the mask, in that order on the architectures where
 * rt_sigaction has no arch-specific layout. */
static void reset_reserved(int sig)
{
#if defined(__linux__) && defined(SYS_rt_sigaction) && \
    (defined(__x86_64__) || defined(__i386__) || defined(__aarch64__) || defined(__arm__) || \
     defined(__riscv) || defined(__powerpc__) || defined(__s390__))
    struct {
        void (*handler)(int);
        unsigned long flags;
        void (*restorer)(void);
        unsigned long mask[2];
    } ksa;
    memset(&ksa, 0, sizeof(ksa));
    ksa.handler = SIG_DFL;
    syscall(SYS_rt_sigaction, sig, &ksa, NULL, (size_t)8);
#else
    (void)sig;
#endif
}

/* Every disposition but keep's back to SIG_DFL. Async-signal-safe. */
static void default_signals(int keep)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP && sig != keep && sigaction(sig, &sa, NULL) < 0)
            reset_reserved(sig);
}

/* The signals whose disposition is not SIG_DFL in the supervisor (handlers and SIG_IGN),
 * found by the parent at its first spawn: the child resets those only, a handful of
 * calls where resetting every signal costs over sixty system calls per start. Signals
 * glibc reserves cannot be asked about and are always reset. spawn_signals_changed()
 * makes the next spawn look again. */
static unsigned char sig_nondefault[NSIG];
static int sig_known;

void spawn_signals_changed(void)
{
    sig_known = 0;
}

static void signals_scan(void)
{
    struct sigaction sa;

    if (sig_known)
        return;
    for (int sig = 1; sig < NSIG; sig++)
        sig_nondefault[sig] = sig != SIGKILL && sig != SIGSTOP &&
                              (sigaction(sig, NULL, &sa) < 0 || sa.sa_handler != SIG_DFL);
    sig_known = 1;
}

/* The child's reset, after signals_scan in the parent. Async-signal-safe. */
static void default_signals_known(void)
{
    struct sigaction sa;

    if (!sig_known) {
        default_signals(0);
        return;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        if (sig_nondefault[sig] && sigaction(sig, &sa, NULL) < 0)
            reset_reserved(sig);
}

/* The 32-bit-id variants where an architecture has both (i386, arm); the plain ones
 * elsewhere. Real, effective and saved ids all change: no way back. */
#if defined(SYS_setgroups32)
#define SPAWN_SYS_SETGROUPS SYS_setgroups32
#define SPAWN_SYS_SETRESGID SYS_setresgid32
#define SPAWN_SYS_SETRESUID SYS_setresuid32
#else
#define SPAWN_SYS_SETGROUPS SYS_setgroups
#define SPAWN_SYS_SETRESGID SYS_setresgid
#define SPAWN_SYS_SETRESUID SYS_setresuid
#endif

static int raw_setgroups(int n, const gid_t *groups)
{
    return (int)syscall(SPAWN_SYS_SETGROUPS, (long)n, groups);
}

static int raw_setresgid(gid_t gid)
{
    return (int)syscall(SPAWN_SYS_SETRESGID, (long)gid, (long)gid, (long)gid);
}

static int raw_setresuid(uid_t uid)
{
    return (int)syscall(SPAWN_SYS_SETRESUID, (long)uid, (long)uid, (long)uid);
}

/* Move the calling process into the cgroup cgfd ("0" in cgroup.procs is the writer
 * itself: nothing to format). Only system calls: this runs in the CLONE_VM child. */
static int join_cgroup(int cgfd)
{
    int fd = openat(cgfd, "cgroup.procs", O_WRONLY | O_CLOEXEC), saved;
    ssize_t n;

    if (fd < 0)
        return -1;
    n = write(fd, "0", 1);
    saved = errno;
    close(fd);
    errno = saved;
    return n == 1 ? 0 : -1;
}

/* join_fd: the cgroup to join first (-1: clone3 already put the child there, or none).
 * out_fd: the descriptor to make stdout and stderr (r->out_fd, or its slot). unshare_at:
 * when > 0 the child shares the supervisor's descriptor table and must, before
 * anything else, take its own copy of [0, unshare_at) (the slots, below it, hold
 * out_fd, rep and join_fd). Until then it must not open, close or dup anything. */
static _Noreturn void child(const spawn_req_t *r, int rep, pid_t parent, int join_fd,
                            int out_fd, int unshare_at)
{
    sigset_t none;
    int null;

#ifdef SYS_close_range
    if (unshare_at > 0 && syscall(SYS_close_range, (unsigned)unshare_at, ~0U,
                                  CLOSE_RANGE_UNSHARE) < 0)
        child_fail(rep, STEP_FDS); /* writes only: the shared table is untouched */
#else
    (void)unshare_at;
#endif
    /* First of all, before any step that could let the worker's code run (none before
     * exec does) and while the supervisor's credentials still allow the move. */
    if (join_fd >= 0 && join_cgroup(join_fd) < 0)
        child_fail(rep, STEP_CGROUP);

    /* Dispositions first, while every signal is still blocked (the parent blocked
     * them around fork): libevent's handlers would write into the supervisor's
     * signal pipe. */
    default_signals_known();
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
        child_fail(rep, STEP_SIGNALS);
    if (setsid() < 0)
        child_fail(rep, STEP_SETSID);
    null = open("/dev/null", O_RDONLY);
    if (null < 0 || dup2(null, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
        child_fail(rep, STEP_STDIO);
    if (close_other_fds(rep) < 0)
        child_fail(rep, STEP_FDS);
    if (child_nofile_set && setrlimit(RLIMIT_NOFILE, &child_nofile) < 0)
        child_fail(rep, STEP_RLIMIT);
    umask(027);
    if (r->cred && r->cred->change) {
        /* Groups, then gid, then uid: after setuid the others are no longer allowed.
         * Raw system calls, as posix_spawn makes them: glibc's wrappers broadcast the
         * change to every thread of the process (setxid), and this child shares the
         * supervisor's memory and thread list; with a second thread in the supervisor
         * (a library's, a resolver's) the broadcast would touch threads that are not
         * the child's and could deadlock or change the supervisor's credentials. The
         * kernel calls act on the calling task only. */
        if (raw_setgroups(r->cred->ngroups, r->cred->groups) < 0)
            child_fail(rep, STEP_SETGROUPS);
        if (raw_setresgid(r->cred->gid) < 0)
            child_fail(rep, STEP_SETGID);
        if (raw_setresuid(r->cred->uid) < 0)
            child_fail(rep, STEP_SETUID);
    }
    /* After the credential change: the kernel clears the death signal on it. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        child_fail(rep, STEP_PDEATHSIG);
    if (getppid() != parent) {
        errno = ESRCH;
        child_fail(rep, STEP_PARENT_GONE);
    }
    if (chdir(r->cwd) < 0)
        child_fail(rep, STEP_CHDIR);
    execve(r->path, r->argv, r->envp);
    child_fail(rep, STEP_EXEC);
}

struct child_args {
    const spawn_req_t *r;
    int rep;
    pid_t parent;
    int join_fd;
    int out_fd;
    int unshare_at;
};

static int child_entry(void *arg)
{
    const struct child_args *a = arg;
    child(a->r, a->rep, a->parent, a->join_fd, a->out_fd, a->unshare_at);
}

/* ---- descriptor slots for a child that shares the table --------------------------- */

#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1U << 1)
#endif
#if defined(SYS_close_range) && !defined(__SANITIZE_ADDRESS__)
#define SPAWN_HAVE_UNSHARE 1
#endif

enum { SLOT_OUT, SLOT_REP, SLOT_CG, SLOT_NULL, NSLOTS };
/* slot[]: reserved descriptors (close-on-exec), each on /dev/null while no spawn uses
 * it; slot_cut: one above the highest. 0: not set up yet; -1: not available (kernel
 * without CLOSE_RANGE_UNSHARE, or no descriptor to reserve), the table is copied. */
static int slot[NSLOTS];
static int slot_cut;

#ifdef SPAWN_HAVE_UNSHARE
/* Does this kernel know CLOSE_RANGE_UNSHARE? Asked once, in a forked child (the
 * supervisor's own table must stay shared with its threads). Signals blocked across
 * the fork as in spawn_helper: a handler in the child would write to the parent's
 * signal pipe. */
static int unshare_supported(void)
{
    sigset_t all, old;
    int st = 0;
    pid_t pid;

    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    pid = fork();
    if (pid == 0)
        _exit(syscall(SYS_close_range, ~0U, ~0U, CLOSE_RANGE_UNSHARE) == 0 ? 0 : 1);
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (pid < 0)
        return 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}
#endif

#ifdef SPAWN_HAVE_UNSHARE
/* Reserve the slots at the first spawn, while the low descriptors are few: they land
 * on the lowest free numbers, so the child's private copy is a handful of entries. */
static void slots_setup(void)
{
    if (slot_cut != 0)
        return;
    slot_cut = -1;
    if (!unshare_supported())
        return;
    for (int i = 0; i < NSLOTS; i++) {
        slot[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (slot[i] < 0) {
            while (--i >= 0)
                close(slot[i]);
            return;
        }
    }
    slot_cut = 0;
    for (int i = 0; i < NSLOTS; i++)
        if (slot[i] >= slot_cut)
            slot_cut = slot[i] + 1;
}

/* fd into slot i (close-on-exec there, as rep must be); -1 on failure. */
static int slot_put(int i, int fd)
{
    return dup3(fd, slot[i], O_CLOEXEC) < 0 ? -1 : slot[i];
}

/* Back to /dev/null: the parent must not keep the pipes' ends the child owns. */
static void slots_clear(void)
{
    for (int i = 0; i < SLOT_NULL; i++)
        (void)dup3(slot[SLOT_NULL], slot[i], O_CLOEXEC);
}
#endif

/* ---- clone3 into a cgroup ------------------------------------------------------- */

/* clone3() returns in the child on the new stack, so it cannot be called through
 * syscall(): the child would return through the parent's frames. A few instructions
 * of assembly do what glibc's clone() does for clone: the child calls fn(arg) on its
 * stack and exits with its result. x86-64 only; elsewhere the child writes
 * cgroup.procs itself. Not under AddressSanitizer (which forks, see spawn_run). */
#if defined(__x86_64__) && defined(__linux__) && defined(SYS_clone3) && \
    !defined(__SANITIZE_ADDRESS__)
#include <linux/sched.h>
#endif
#if defined(__x86_64__) && defined(__linux__) && defined(SYS_clone3) && \
    !defined(__SANITIZE_ADDRESS__) && defined(CLONE_INTO_CGROUP) /* headers of 5.7 on */
#define SPAWN_HAVE_CLONE3 1
#define SPAWN_STR2(x) #x
#define SPAWN_STR(x) SPAWN_STR2(x)
/* long instanced_clone3(struct clone_args *args, size_t size, int (*fn)(void *), void *arg):
 * the child's pid, or -errno. fn and arg ride in r8/r9, which the syscall keeps. */
__attribute__((visibility("hidden"))) long instanced_clone3(struct clone_args *args, size_t size,
                                                             int (*fn)(void *), void *arg);
__asm__(".text\n"
        ".globl instanced_clone3\n"
        ".hidden instanced_clone3\n"
        ".type instanced_clone3, @function\n"
        "instanced_clone3:\n"
        "  .cfi_startproc\n"
        "  mov %rdx, %r8\n"
        "  mov %rcx, %r9\n"
        "  mov $" SPAWN_STR(SYS_clone3) ", %eax\n"
        "  syscall\n"
        "  test %rax, %rax\n"
        "  jz 1f\n"
        "  ret\n"
        "1:\n"
        "  .cfi_undefined rip\n"
        "  xor %ebp, %ebp\n"
        "  mov %r9, %rdi\n"
        "  call *%r8\n"
        "  mov %eax, %edi\n"
        "  mov $" SPAWN_STR(SYS_exit) ", %eax\n"
        "  syscall\n"
        "  hlt\n"
        "  .cfi_endproc\n"
        ".size instanced_clone3, .-instanced_clone3\n");
#endif

#ifdef SPAWN_HAVE_CLONE3
static int clone3_broken; /* ENOSYS / E2BIG / EINVAL once: the kernel lacks it */
#endif
static int force_procs_write;
static int last_cgroup_method;

void spawn_force_procs_write(int on)
{
    force_procs_write = on;
}

int spawn_cgroup_method(void)
{
    return last_cgroup_method;
}

/* The child's stack. One is enough and can be reused: CLONE_VFORK keeps the parent
 * (the only one who spawns) suspended while a child runs on it. Generous, so that a
 * sanitizer build's larger frames fit too. */
#define CHILD_STACK_BYTES (256 * 1024)
static void *child_stack;

pid_t spawn_run(const spawn_req_t *r, int *report_fd, char *err, size_t errlen)
{
    return spawn_run_cg(r, -1, report_fd, err, errlen);
}

pid_t spawn_run_cg(const spawn_req_t *r, int cgroup_fd, int *report_fd, char *err,
                   size_t errlen)
{
    struct child_args args;
    sigset_t all, old;
    pid_t pid = -1;
    int p[2], saved, via_clone3 = 0, share = 0;

    *report_fd = -1;
    if (!child_stack) {
        void *st = mmap(NULL, CHILD_STACK_BYTES, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (st == MAP_FAILED) {
            snprintf(err, errlen, "mmap of the spawn stack: %s", strerror(errno));
            return -1;
        }
        child_stack = st;
    }
    if (pipe2(p, O_CLOEXEC) < 0) {
        saved = errno;
        snprintf(err, errlen, "pipe: %s", strerror(saved));
        errno = saved;
        return -1;
    }
    args.r = r;
    args.rep = p[1];
    args.parent = getpid();
    args.join_fd = cgroup_fd;
    args.out_fd = r->out_fd;
    args.unshare_at = 0;
#ifdef SPAWN_HAVE_UNSHARE
    slots_setup();
    if (slot_cut > 0) {
        int o = slot_put(SLOT_OUT, r->out_fd), w = slot_put(SLOT_REP, p[1]);
        int c = cgroup_fd >= 0 ? slot_put(SLOT_CG, cgroup_fd) : -1;
        if (o >= 0 && w >= 0 && (cgroup_fd < 0 || c >= 0)) {
            args.out_fd = o;
            args.rep = w;
            args.join_fd = c;
            args.unshare_at = slot_cut;
        } else {
            slots_clear(); /* a copied table then, as before */
        }
    }
    share = args.unshare_at > 0 ? CLONE_FILES : 0;
#endif
    /* Every signal blocked until the child has reset its dispositions: a handler of
     * the supervisor's running in the child would write into the supervisor's signal
     * pipe, and here even into its memory. */
    signals_scan();
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
#if defined(__SANITIZE_ADDRESS__)
    /* AddressSanitizer cannot follow a child that runs on a stack of our own and never
     * returns from it (google/sanitizers#189): sanitizer builds fork, with the same
     * child code. */
    pid = fork();
    if (pid == 0)
        child_entry(&args);
#else
#ifdef SPAWN_HAVE_CLONE3
    if (cgroup_fd >= 0 && !clone3_broken && !force_procs_write) {
        struct clone_args ca;
        long rc;

        memset(&ca, 0, sizeof(ca));
        ca.flags = CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP | (unsigned)share;
        ca.exit_signal = SIGCHLD;
        ca.stack = (unsigned long long)(uintptr_t)child_stack;
        ca.stack_size = CHILD_STACK_BYTES;
        ca.cgroup = (unsigned long long)cgroup_fd;
        {
            int join = args.join_fd;
            args.join_fd = -1; /* born there */
            rc = instanced_clone3(&ca, sizeof(ca), child_entry, &args);
            if (rc < 0)
                args.join_fd = join;
        }
        if (rc >= 0) {
            pid = (pid_t)rc;
            via_clone3 = 1;
        } else if (rc == -ENOSYS || rc == -E2BIG || rc == -EINVAL) {
            clone3_broken = 1; /* before 5.7: the child joins by itself */
        } else {
            errno = (int)-rc;
            via_clone3 = -1; /* a real error: no second try */
        }
    }
    if (via_clone3 == 0)
#endif
        pid = clone(child_entry, (char *)child_stack + CHILD_STACK_BYTES,
                    CLONE_VM | CLONE_VFORK | share | SIGCHLD, &args);
#endif
    saved = errno;
#ifdef SPAWN_HAVE_UNSHARE
    if (args.unshare_at > 0)
        slots_clear();
#endif
    (void)share;
    if (pid >= 0 && cgroup_fd >= 0)
        last_cgroup_method = via_clone3 == 1 ? 2 : 1;
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        snprintf(err, errlen, "%s: %s", via_clone3 ? "clone3 into the cgroup" : "clone",
                 strerror(saved));
        errno = saved;
        return -1;
    }
    /* The child has exec'd or failed by now: the report is already in the pipe. */
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    *report_fd = p[0];
    return pid;
}

int spawn_report(int fd, char *err, size_t errlen, int *child_errno)
{
    struct child_report rep;
    int unused;
    ssize_t n;

    if (!child_errno)
        child_errno = &unused;
    *child_errno = 0;
    do
        n = read(fd, &rep, sizeof(rep));
    while (n < 0 && errno == EINTR);
    if (n == 0)
        return 1; /* closed by exec */
    if (n < 0 && errno == EAGAIN)
        return -1;
    if (n == (ssize_t)sizeof(rep)) {
        snprintf(err, errlen, "%s: %s", step_name(rep.step), strerror(rep.err));
        *child_errno = rep.err;
    } else
        snprintf(err, errlen, "child died before exec");
    return 0;
}

pid_t spawn_helper(int keep_fd)
{
    sigset_t all, old;
    pid_t parent = getpid(), pid;

    /* Blocked across fork until the child has dropped the supervisor's handlers (see
     * child() above); SIGPIPE stays ignored: a peer closing its socket is an error. */
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    pid = fork();
    if (pid == 0) {
        default_signals(SIGPIPE);
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
            _exit(1);
        log_after_fork(); /* its lines go straight to stderr; the queue is the parent's */
        /* The supervisor's listeners, log files and clients' sockets are not the
         * helper's: a client waiting for EOF on its answer (instancectl reload) would
         * otherwise wait for the whole run of a helper that merely holds a copy. */
        close_other_fds(keep_fd > 2 ? keep_fd : -1);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    return pid;
}
