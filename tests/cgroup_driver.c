/* cgroup_driver.c - drives src/cgroup.c and spawn_run_cg on real cgroups for
 * tests/it_cgroup.sh: one scenario per run, "ok ..." lines on success, "FAIL: ..." and
 * exit 1 otherwise, exit 77 only when this host has no writable cgroup2 at all.
 *
 * Usage: cgroup_driver SCENARIO [ARGS]; the subtree is $CG_ROOT (cgroup_root), except
 * for "auto", which lets the module choose with the tag $CG_TAG. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "spawn.h"

static _Noreturn void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void fail(const char *fmt, ...)
{
    va_list ap;

    fputs("FAIL: ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    exit(1);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static cg_tree_t tree;

static void open_tree(void)
{
    char err[1024];
    const char *root = getenv("CG_ROOT");

    if (cg_tree_open(&tree, root, getenv("CG_TAG") ? getenv("CG_TAG") : "driver", err,
                     sizeof(err)) < 0) {
        printf("%s\n", err);
        exit(strncmp(err, "no writable cgroup2", 19) == 0 ? 77 : 1);
    }
    if (getenv("CG_FALLBACK")) {
        /* Both second ways: signals instead of cgroup.kill, and the child's own write
         * to cgroup.procs instead of clone3. */
        tree.force_fallback = 1;
        spawn_force_procs_write(1);
    }
}

/* Start sh -c script in ci. Returns the pid. */
static pid_t start(cg_inst_t *ci, const char *script)
{
    static char sh[] = "sh", dash_c[] = "-c", path[] = "PATH=/usr/local/bin:/usr/bin:/bin";
    char *argv[] = { sh, dash_c, (char *)script, NULL };
    char *envp[] = { path, NULL };
    spawn_req_t r;
    char err[512];
    int rep, ok;
    pid_t pid;

    memset(&r, 0, sizeof(r));
    r.path = "/bin/sh";
    r.argv = argv;
    r.envp = envp;
    r.cwd = "/";
    r.out_fd = 2;
    r.cred = NULL;
    pid = spawn_run_cg(&r, ci ? ci->dir_fd : -1, &rep, err, sizeof(err));
    if (pid < 0)
        fail("spawn: %s", err);
    for (long long end = now_ms() + 10000; (ok = spawn_report(rep, err, sizeof(err), NULL)) < 0;) {
        struct pollfd p = { rep, POLLIN, 0 };
        if (now_ms() > end)
            fail("no exec report");
        poll(&p, 1, 100);
    }
    close(rep);
    if (ok != 1)
        fail("child failed before exec: %s", err);
    return pid;
}

/* Poll (with a deadline) until ci holds at least n processes. */
static void wait_nprocs(cg_inst_t *ci, int n)
{
    long long end = now_ms() + 10000;
    pid_t *pids;
    int have;

    while ((have = cg_inst_pids(ci, &pids)) < n) {
        free(pids);
        if (now_ms() > end)
            fail("%s: %d processes, expected %d", ci->path, have, n);
        usleep(10000);
    }
    free(pids);
}

/* Poll (with a deadline) until every process of ci runs comm. */
static void wait_comms(cg_inst_t *ci, const char *comm)
{
    long long end = now_ms() + 10000;

    for (;;) {
        pid_t *pids;
        int n = cg_inst_pids(ci, &pids), same = 0;
        for (int i = 0; i < n; i++) {
            char path[64], buf[64] = "";
            FILE *f;
            snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pids[i]);
            if ((f = fopen(path, "r"))) {
                if (fgets(buf, sizeof(buf), f))
                    buf[strcspn(buf, "\n")] = '\0';
                fclose(f);
            }
            same += strcmp(buf, comm) == 0;
        }
        free(pids);
        if (n > 0 && same == n)
            return;
        if (now_ms() > end)
            fail("%s: not all processes run %s", ci->path, comm);
        usleep(10000);
    }
}

/* Wait for "populated 0" through the tree's inotify descriptor: no polling of the
 * file, the kernel's notification wakes us. */
static void wait_empty(cg_inst_t *ci)
{
    char err[256];
    long long end = now_ms() + 15000;
    int wakeups = 0, checks = 0;

    if (cg_inst_watch(&tree, ci, err, sizeof(err)) < 0)
        fail("watch: %s", err);
    while (checks++, cg_inst_populated(ci) != 0) {
        struct pollfd p = { cg_watch_fd(&tree), POLLIN, 0 };
        long long left = end - now_ms();
        if (left <= 0)
            fail("%s still populated", ci->path);
        if (poll(&p, 1, (int)left) > 0)
            wakeups += cg_watch_drain(&tree, NULL, NULL) > 0;
    }
    /* Processes killed a moment ago may all be gone by the first check: then there
     * was nothing to be woken for. */
    if (checks == 1)
        printf("ok %s empty (already at the first check)\n", ci->name);
    else
        printf("ok %s empty (woken %d times by cgroup.events)\n", ci->name, wakeups);
}

/* Is pid gone (or a zombie nobody reaped yet)? */
static int gone(pid_t pid)
{
    char path[64], buf[512];
    FILE *f;
    int z = 0;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    if (!(f = fopen(path, "r")))
        return 1;
    if (fgets(buf, sizeof(buf), f)) {
        char *rp = strrchr(buf, ')');
        z = rp && (rp[2] == 'Z' || rp[2] == 'X');
    }
    fclose(f);
    return z;
}

static void reap(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
}

static void report_method(void)
{
    printf("ok started by %s\n",
           spawn_cgroup_method() == 2 ? "clone3-into-cgroup" : "cgroup.procs-write");
}

static void remove_inst(cg_inst_t *ci)
{
    char err[512];
    if (cg_inst_remove(&tree, ci, err, sizeof(err)) < 0)
        fail("remove: %s", err);
}

static void close_tree(void)
{
    char err[512];
    if (cg_tree_close(&tree, 1, err, sizeof(err)) < 0)
        fail("close: %s", err);
}

/* A worker whose child setsid()s and ignores SIGTERM: the worker's own stop leaves it;
 * the cgroup's kill does not. */
static int sc_setsid(void)
{
    cg_inst_t ci;
    char err[512];
    pid_t pid, *pids;
    int n, k;

    open_tree();
    if (cg_inst_open(&tree, "setsid", &ci, err, sizeof(err)) < 0)
        fail("open: %s", err);
    pid = start(&ci, "setsid sh -c 'trap \"\" TERM; exec sleep 1000' & exec sleep 1000");
    report_method();
    wait_nprocs(&ci, 2);
    wait_comms(&ci, "sleep"); /* the orphan's trap is set once it has exec'd sleep */
    kill(pid, SIGTERM);
    reap(pid);
    n = cg_inst_pids(&ci, &pids);
    if (n != 1)
        fail("after the worker's exit %d processes in the cgroup, expected its orphan", n);
    printf("ok the worker exited, its setsid child %ld survived SIGTERM\n", (long)pids[0]);
    kill(pids[0], SIGTERM);
    if ((k = cg_inst_kill(&tree, &ci, err, sizeof(err))) < 0)
        fail("kill: %s", err);
    printf("ok killed (%s, %d signalled)\n", tree.has_kill && !tree.force_fallback ?
           "cgroup.kill" : "signals", k);
    wait_empty(&ci);
    if (!gone(pids[0]))
        fail("pid %ld still there", (long)pids[0]);
    printf("ok orphan %ld gone\n", (long)pids[0]);
    free(pids);
    remove_inst(&ci);
    close_tree();
    return 0;
}

/* 200 children, then the worker exits: all gone after the kill. */
static int sc_forkbomb(void)
{
    cg_inst_t ci;
    char err[512];
    pid_t pid, *pids;
    int n;

    open_tree();
    if (cg_inst_open(&tree, "bomb", &ci, err, sizeof(err)) < 0)
        fail("open: %s", err);
    pid = start(&ci, "i=0; while [ $i -lt 200 ]; do sleep 1000 & i=$((i+1)); done; exit 0");
    reap(pid);
    n = cg_inst_pids(&ci, &pids);
    free(pids);
    if (n != 200)
        fail("%d processes after the worker's exit, expected 200", n);
    printf("ok 200 orphans in the cgroup\n");
    if (cg_inst_kill(&tree, &ci, err, sizeof(err)) < 0)
        fail("kill: %s", err);
    wait_empty(&ci);
    n = cg_inst_pids(&ci, &pids);
    free(pids);
    if (n != 0)
        fail("%d left", n);
    printf("ok none left\n");
    remove_inst(&ci);
    close_tree();
    return 0;
}

/* The state letter of /proc/PID/status. */
static char proc_state(pid_t pid)
{
    char path[64], line[256];
    FILE *f;
    char st = '?';

    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    if (!(f = fopen(path, "r")))
        return '?';
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "State:", 6) == 0) {
            sscanf(line + 6, " %c", &st);
            break;
        }
    fclose(f);
    return st;
}

static void wait_frozen(cg_inst_t *ci, int want)
{
    long long end = now_ms() + 10000;

    while (cg_inst_frozen(ci) != want) {
        struct pollfd p = { cg_watch_fd(&tree), POLLIN, 0 };
        long long left = end - now_ms();
        if (left <= 0)
            fail("frozen never became %d", want);
        if (poll(&p, 1, (int)left) > 0)
            cg_watch_drain(&tree, NULL, NULL);
    }
}

static int sc_freeze(void)
{
    cg_inst_t ci;
    cg_stats_t st;
    char err[512];
    pid_t pid;

    open_tree();
    if (cg_inst_open(&tree, "freeze", &ci, err, sizeof(err)) < 0 ||
        cg_inst_watch(&tree, &ci, err, sizeof(err)) < 0)
        fail("open: %s", err);
    /* Busy: a frozen busy loop cannot be mistaken for one asleep on its own. */
    pid = start(&ci, "while :; do :; done");
    if (cg_inst_frozen(&ci) != 0)
        fail("frozen before freezing");
    if (cg_inst_freeze(&ci, 1, err, sizeof(err)) < 0)
        fail("freeze: %s", err);
    wait_frozen(&ci, 1);
    if (cg_inst_stats(&ci, &st) < 0 || st.frozen != 1 || st.populated != 1)
        fail("stats say frozen %d populated %d", st.frozen, st.populated);
    if (proc_state(pid) == 'R')
        fail("pid %ld still running while frozen", (long)pid);
    printf("ok frozen (cgroup.events frozen 1, State %c)\n", proc_state(pid));
    if (cg_inst_freeze(&ci, 0, err, sizeof(err)) < 0)
        fail("thaw: %s", err);
    wait_frozen(&ci, 0);
    printf("ok thawed\n");
    if (cg_inst_kill(&tree, &ci, err, sizeof(err)) < 0)
        fail("kill: %s", err);
    reap(pid);
    wait_empty(&ci);
    remove_inst(&ci);
    close_tree();
    return 0;
}

/* Burn 2 s of CPU (thread CPU time, not wall time: the machine may be busy). */
static int burn(void)
{
    struct timespec ts;
    volatile unsigned long x = 0;

    do {
        for (int i = 0; i < 100000; i++)
            x += (unsigned long)i;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    } while (ts.tv_sec < 2);
    return x == 1; /* 0: x is a large sum */
}

static int sc_cpu(const char *self)
{
    cg_inst_t ci;
    cg_stats_t st;
    char err[512], script[4200];
    pid_t pid;
    double s;

    open_tree();
    if (cg_inst_open(&tree, "cpu", &ci, err, sizeof(err)) < 0)
        fail("open: %s", err);
    snprintf(script, sizeof(script), "exec '%s' burn", self);
    pid = start(&ci, script);
    reap(pid);
    if (cg_inst_stats(&ci, &st) < 0)
        fail("stats");
    s = (double)st.cpu_usec / 1e6;
    printf("ok cpu.stat usage %.3f s (user %.3f, system %.3f), memory %lld, pids %lld, "
           "cpu pressure %.2f\n",
           s, (double)st.user_usec / 1e6, (double)st.system_usec / 1e6, st.mem_current,
           st.pids_current, st.cpu_some10);
    if (s < 1.6 || s > 2.4)
        fail("CPU accounting %.3f s, expected 1.6-2.4", s);
    if (st.populated != 0 || st.nprocs != 0)
        fail("populated %d nprocs %lld after exit", st.populated, st.nprocs);
    remove_inst(&ci);
    close_tree();
    return 0;
}

/* Each limit key: applied and read back where the controller is delegated, else the
 * explanation. */
static int sc_limits(void)
{
    /* In the files' own syntax, as contain.c writes them from the inventory's limits
     * (256MiB, 512MiB, 200, 50%, 64, 300). */
    static const char *const values[CG_LIMIT_COUNT] = { "268435456", "536870912", "200",
                                                        "50000 100000", "64", "default 300" };
    cg_inst_t ci;
    char err[512];

    open_tree();
    if (cg_inst_open(&tree, "limits", &ci, err, sizeof(err)) < 0)
        fail("open: %s", err);
    for (int k = 0; k < CG_LIMIT_COUNT; k++) {
        char why[1024] = "", back[256] = "";
        const char *name = cg_limit_name((cg_limit_key_t)k), *val = values[k];

        if (cg_inst_set_limit(&tree, &ci, (cg_limit_key_t)k, val, why, sizeof(why)) == 0) {
            char path[4200];
            FILE *f;
            snprintf(path, sizeof(path), "%s/%s", ci.path, cg_limit_file((cg_limit_key_t)k));
            if (!(f = fopen(path, "r")) || !fgets(back, sizeof(back), f))
                fail("read back %s", path);
            fclose(f);
            back[strcspn(back, "\n")] = '\0';
            /* io.weight reads back as "default N" */
            if (!strstr(back, strchr(val, ' ') && k == CG_IO_WEIGHT ? strchr(val, ' ') + 1 : val))
                fail("%s: wrote \"%s\", reads \"%s\"", name, val, back);
            printf("ok applied %s = %s\n", name, back);
        } else {
            char expect[64];
            snprintf(expect, sizeof(expect), "%s cannot apply: ", name);
            if (strncmp(why, expect, strlen(expect)) != 0 ||
                !strstr(why, cg_limit_controller((cg_limit_key_t)k)))
                fail("%s: explanation \"%s\"", name, why);
            if (cg_limit_available(&tree, (cg_limit_key_t)k, err, sizeof(err)) != 0)
                fail("%s: cannot be set yet says available", name);
            printf("ok explained %s\n", why);
        }
    }
    remove_inst(&ci);
    close_tree();
    return 0;
}

/* The previous run: an instance with a setsid'd descendant, then this process just
 * exits (as a SIGKILLed supervisor would: no cleanup). Prints the orphan's pid. */
static int sc_leftover_make(void)
{
    cg_inst_t ci;
    char err[512];
    pid_t *pids, pid;
    int n;

    open_tree();
    if (cg_inst_open(&tree, "old", &ci, err, sizeof(err)) < 0)
        fail("open: %s", err);
    pid = start(&ci, "setsid sleep 1000 & setsid sh -c 'sleep 1000 & exec sleep 1001' & "
                     "exec sleep 1002");
    wait_nprocs(&ci, 4);
    wait_comms(&ci, "sleep");
    n = cg_inst_pids(&ci, &pids);
    for (int i = 0; i < n; i++)
        printf("%s %ld\n", pids[i] == pid ? "worker" : "orphan", (long)pids[i]);
    fflush(stdout);
    _exit(0); /* the direct child dies of PR_SET_PDEATHSIG; the setsid ones stay */
}

static int sc_leftover_scan(void)
{
    cg_leftover_t *lo;
    char err[512];
    int n, seen = 0;

    open_tree();
    n = cg_leftovers(&tree, &lo, err, sizeof(err));
    if (n < 0)
        fail("leftovers: %s", err);
    for (int i = 0; i < n; i++) {
        printf("killed leftover pid %ld (%s) of instance %s\n", (long)lo[i].pid, lo[i].comm,
               lo[i].instance);
        seen += strcmp(lo[i].instance, "old") == 0 && strcmp(lo[i].comm, "sleep") == 0;
    }
    if (seen < 3)
        fail("%d leftover sleeps of instance old found, expected 3", seen);
    for (int i = 0; i < n; i++)
        if (i == 0 || strcmp(lo[i].instance, lo[i - 1].instance) != 0) {
            cg_inst_t ci;
            if (cg_inst_open(&tree, lo[i].instance, &ci, err, sizeof(err)) < 0 ||
                cg_inst_kill(&tree, &ci, err, sizeof(err)) < 0)
                fail("kill leftovers: %s", err);
            wait_empty(&ci);
            remove_inst(&ci);
        }
    free(lo);
    n = cg_leftovers(&tree, &lo, err, sizeof(err));
    free(lo);
    if (n != 0)
        fail("%d leftovers after the kill", n);
    printf("ok no leftovers\n");
    close_tree();
    return 0;
}

/* Where the worker's very first instruction runs: its /proc/self/cgroup, read by the
 * program it execs, names the instance's cgroup. */
static int sc_where(void)
{
    cg_inst_t ci;
    char err[512], out[4200] = "", want[4200];
    int fd, rep, ok;
    pid_t pid;
    spawn_req_t r;
    static char cat[] = "cat", file[] = "/proc/self/cgroup";
    char *argv[] = { cat, file, NULL }, *envp[] = { NULL };

    open_tree();
    if (cg_inst_open(&tree, "where", &ci, err, sizeof(err)) < 0)
        fail("open: %s", err);
    fd = open("where.out", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        fail("where.out: %s", strerror(errno));
    memset(&r, 0, sizeof(r));
    r.path = "/bin/cat";
    r.argv = argv;
    r.envp = envp;
    r.cwd = "/";
    r.out_fd = fd;
    pid = spawn_run_cg(&r, ci.dir_fd, &rep, err, sizeof(err));
    if (pid < 0)
        fail("spawn: %s", err);
    reap(pid);
    ok = spawn_report(rep, err, sizeof(err), NULL);
    close(rep);
    close(fd);
    if (ok != 1)
        fail("cat did not exec: %s", err);
    report_method();
    {
        FILE *f = fopen("where.out", "r");
        char line[sizeof(out)];
        while (f && fgets(line, sizeof(line), f))
            if (strncmp(line, "0::", 3) == 0)
                memmove(out, line + 3, strlen(line + 3) + 1);
        if (f)
            fclose(f);
    }
    out[strcspn(out, "\n")] = '\0';
    if (strlen(ci.path + strlen(tree.plan.mnt)) >= sizeof(want))
        fail("path too long");
    strcpy(want, ci.path + strlen(tree.plan.mnt));
    if (strcmp(out, want) != 0)
        fail("the worker ran in \"%s\", not \"%s\"", out, want);
    printf("ok the worker ran in %s\n", out);
    remove_inst(&ci);
    close_tree();
    return 0;
}

/* A cgroup descriptor that is no cgroup: the child never execs, and says why. */
static int sc_badfd(void)
{
    char err[512] = "";
    int dir = open("/tmp", O_PATH | O_DIRECTORY | O_CLOEXEC), rep, ok;
    pid_t pid;
    spawn_req_t r;
    static char tru[] = "true";
    char *argv[] = { tru, NULL }, *envp[] = { NULL };

    if (getenv("CG_FALLBACK"))
        spawn_force_procs_write(1);
    memset(&r, 0, sizeof(r));
    r.path = "/bin/true";
    r.argv = argv;
    r.envp = envp;
    r.cwd = "/";
    r.out_fd = 2;
    pid = spawn_run_cg(&r, dir, &rep, err, sizeof(err));
    if (pid < 0) {
        printf("ok refused by clone3: %s\n", err);
        return 0;
    }
    reap(pid);
    ok = spawn_report(rep, err, sizeof(err), NULL);
    if (ok != 0)
        fail("the child exec'd outside any cgroup of ours (report %d)", ok);
    printf("ok the child failed before exec: %s\n", err);
    return 0;
}

/* --check-config's view: the plan and each key's verdict, nothing created. */
static int sc_check(void)
{
    cg_plan_t plan;
    char err[1024];

    if (cg_plan_probe(getenv("CG_ROOT"), "driver", &plan, err, sizeof(err)) < 0) {
        printf("%s\n", err);
        return strncmp(err, "no writable cgroup2", 19) == 0 ? 77 : 1;
    }
    for (int k = 0; k < CG_LIMIT_COUNT; k++) {
        char why[1024] = "";
        if (cg_limit_check(&plan, (cg_limit_key_t)k, why, sizeof(why)))
            printf("ok would apply %s\n", cg_limit_name((cg_limit_key_t)k));
        else
            printf("ok explained %s\n", why);
    }
    if (access(plan.base, F_OK) == 0)
        fail("the probe made %s", plan.base);
    cg_plan_free(&plan);
    return 0;
}

/* The module's own choice of the subtree (no cgroup_root). */
static int sc_auto(void)
{
    cg_inst_t ci;
    char err[512];
    pid_t pid;

    unsetenv("CG_ROOT");
    open_tree();
    {
        FILE *f = fopen("/proc/self/cgroup", "r");
        char line[4200] = "";
        while (f && fgets(line, sizeof(line), f) && strncmp(line, "0::", 3) != 0)
            ;
        if (f)
            fclose(f);
        line[strcspn(line, "\n")] = '\0';
        printf("ok mode %s, subtree %s, supervisor in %s\n",
               tree.plan.mode == CG_MODE_SYSTEMD ? "systemd"
               : tree.plan.mode == CG_MODE_PLAIN ? "plain" : "config",
               tree.plan.base, line);
    }
    if (strncmp(tree.plan.base, tree.plan.mnt, strlen(tree.plan.mnt)) != 0)
        fail("subtree %s outside the mount %s", tree.plan.base, tree.plan.mnt);
    if (cg_inst_open(&tree, "auto", &ci, err, sizeof(err)) < 0)
        fail("open: %s", err);
    pid = start(&ci, "exec sleep 1000");
    wait_nprocs(&ci, 1);
    if (cg_inst_kill(&tree, &ci, err, sizeof(err)) < 0)
        fail("kill: %s", err);
    reap(pid);
    wait_empty(&ci);
    remove_inst(&ci);
    {
        char *base = strdup(tree.plan.base);
        close_tree();
        if (base && access(base, F_OK) == 0)
            fail("subtree %s left", base);
        free(base);
    }
    printf("ok subtree removed\n");
    return 0;
}

int main(int argc, char **argv)
{
    const char *sc = argc > 1 ? argv[1] : "";

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (strcmp(sc, "burn") == 0)
        return burn();
    if (strcmp(sc, "setsid") == 0)
        return sc_setsid();
    if (strcmp(sc, "forkbomb") == 0)
        return sc_forkbomb();
    if (strcmp(sc, "freeze") == 0)
        return sc_freeze();
    if (strcmp(sc, "cpu") == 0)
        return sc_cpu(argv[0][0] == '/' ? argv[0] : realpath(argv[0], NULL));
    if (strcmp(sc, "limits") == 0)
        return sc_limits();
    if (strcmp(sc, "leftover-make") == 0)
        return sc_leftover_make();
    if (strcmp(sc, "leftover-scan") == 0)
        return sc_leftover_scan();
    if (strcmp(sc, "auto") == 0)
        return sc_auto();
    if (strcmp(sc, "check") == 0)
        return sc_check();
    if (strcmp(sc, "where") == 0)
        return sc_where();
    if (strcmp(sc, "badfd") == 0)
        return sc_badfd();
    fprintf(stderr, "usage: cgroup_driver setsid|forkbomb|freeze|cpu|limits|leftover-make|"
                    "leftover-scan|auto|where|badfd|check\n");
    return 2;
}
