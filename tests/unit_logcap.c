/* unit_logcap.c - CUnit tests of log rotation (logcap.c), table-driven: which backup
 * files exist after N rotations, what they hold, and how many renames and unlinks a
 * rotation costs (counted by wrapping renameat and unlinkat below). */
#include "config.h"

#include <CUnit/Basic.h>

#include "cunit_run.h"
#include <dirent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "logcap.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- counting renameat and unlinkat ----------------------------------------------- */

/* These definitions take the place of libc's for the calls logcap.c makes (it is
 * linked into this program): each is counted, then done by the system call itself. */
static long nrename, nunlink;

int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
    nrename++;
#ifdef SYS_renameat
    return (int)syscall(SYS_renameat, olddirfd, oldpath, newdirfd, newpath);
#else
    return (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, 0);
#endif
}

int unlinkat(int dirfd, const char *path, int flags)
{
    nunlink++;
    return (int)syscall(SYS_unlinkat, dirfd, path, flags);
}

/* ---- helpers ---------------------------------------------------------------------- */

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/unit-logcap-XXXXXX");
    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
}

static void remove_dir(void)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[600];

    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

static void touch(const char *name)
{
    char path[600];
    int fd;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    CU_ASSERT(fd >= 0 && write(fd, name, strlen(name)) == (ssize_t)strlen(name));
    if (fd >= 0)
        close(fd);
}

/* The directory's entries, sorted, joined by spaces (for comparing with a table). */
static char *listing(void)
{
    static char out[16384], names[128][256];
    size_t n = 0, len = 0;
    DIR *d = opendir(dir);
    struct dirent *de;

    while (d && (de = readdir(d)) && n < NELEM(names)) {
        if (de->d_name[0] != '.')
            snprintf(names[n++], sizeof names[0], "%s", de->d_name);
    }
    if (d)
        closedir(d);
    qsort(names, n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    out[0] = '\0';
    for (size_t i = 0; i < n && len < sizeof out - 300; i++)
        len += (size_t)snprintf(out + len, sizeof out - len, "%s%s", i ? " " : "", names[i]);
    return out;
}

/* "w.log.<a> ... w.log.<b>" in listing() order, plus "w.log": the expected set. */
static char *expect(long long a, long long b, const char *extra)
{
    static char out[16384];
    char (*names)[64] = calloc(300, sizeof *names);
    size_t n = 0, len = 0;

    for (long long k = a; k <= b && n < 298; k++)
        snprintf(names[n++], 64, "w.log.%lld", k);
    snprintf(names[n++], 64, "w.log");
    if (extra)
        snprintf(names[n++], 64, "%s", extra);
    qsort(names, n, 64, (int (*)(const void *, const void *))strcmp);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(out + len, sizeof out - len, "%s%s", i ? " " : "", names[i]);
    free(names);
    return out;
}

/* The first line of dir/name without its timestamp, in buf. */
static const char *first_line(const char *name, char *buf, size_t len)
{
    char path[600], line[128];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    buf[0] = '\0';
    if (!(f = fopen(path, "r")))
        return buf;
    if (fgets(line, sizeof line, f) && strlen(line) > 25) {
        line[strcspn(line, "\n")] = '\0';
        snprintf(buf, len, "%s", line + 25);
    }
    fclose(f);
    return buf;
}

/* Lines of 60 characters plus a 25-byte timestamp and a newline: 86 bytes, so with
 * max_bytes 100 every line after the first rotates once. */
static void note(logcap_t *lc, int k)
{
    char text[80];

    snprintf(text, sizeof text, "line %06d %-48s", k % 1000000, "x");
    logcap_note(lc, text);
}

/* ---- rotation --------------------------------------------------------------------- */

static void test_rotation(void)
{
    static const struct {
        long backups;
        int lines;       /* each after the first is one rotation */
        long long lo, hi; /* backups expected afterwards: w.log.lo .. w.log.hi */
    } cases[] = {
        { 3, 1, 1, 0 },
        { 3, 2, 1, 1 },
        { 3, 11, 8, 10 },
        { 1, 6, 5, 5 },
        { 0, 6, 1, 0 },
        { 100, 251, 151, 250 },
    };

    for (size_t i = 0; i < NELEM(cases); i++) {
        struct event_base *base = event_base_new();
        unsigned long dropped = 0;
        char err[256] = "", want[64], got[256];
        logcap_t *lc;
        long rotations = cases[i].lines - 1;

        make_dir();
        lc = logcap_new(base, 0, "w", 0, -1, 0, &dropped, err, sizeof err);
        CU_ASSERT_FATAL(lc != NULL);
        CU_ASSERT(logcap_configure(lc, dir, 100, cases[i].backups, err, sizeof err) == 0);
        nrename = nunlink = 0;
        for (int k = 1; k <= cases[i].lines; k++)
            note(lc, k);
        /* One rename per rotation (none without backups); one unlink at most. */
        CU_ASSERT_EQUAL(nrename, cases[i].backups > 0 ? rotations : 0);
        CU_ASSERT(nunlink <= rotations);
        if (strcmp(listing(), expect(cases[i].lo, cases[i].hi, NULL)) != 0)
            fprintf(stderr, "\n  backups %ld, %d lines: got \"%s\"", cases[i].backups,
                    cases[i].lines, listing());
        CU_ASSERT_STRING_EQUAL(listing(), expect(cases[i].lo, cases[i].hi, NULL));
        /* The highest backup holds the line before the last, the file the last one. */
        snprintf(want, sizeof want, "line %06d", cases[i].lines);
        CU_ASSERT(strncmp(first_line("w.log", got, sizeof got), want, 11) == 0);
        if (cases[i].hi >= cases[i].lo) {
            char name[32];
            snprintf(name, sizeof name, "w.log.%lld", cases[i].hi);
            snprintf(want, sizeof want, "line %06d", cases[i].lines - 1);
            CU_ASSERT(strncmp(first_line(name, got, sizeof got), want, 11) == 0);
        }
        CU_ASSERT_EQUAL(dropped, 0);
        logcap_free(lc);
        event_base_free(base);
        remove_dir();
    }
}

/* Backups already on disk: one scan at configure keeps the newest `backups` of them,
 * numbering goes on after the highest; names not written by us are left alone. A
 * lower `backups` on a reload removes the oldest extra ones at once. */
static void test_existing_backups(void)
{
    struct event_base *base = event_base_new();
    unsigned long dropped = 0;
    char err[256] = "";
    logcap_t *lc;

    make_dir();
    touch("w.log.1");
    touch("w.log.2");
    touch("w.log.7");
    touch("w.log.50");
    touch("w.log.01");  /* not a name we write */
    touch("w.log.x");
    touch("w.log.51x");
    touch("other.log.3");
    lc = logcap_new(base, 0, "w", 0, -1, 0, &dropped, err, sizeof err);
    CU_ASSERT_FATAL(lc != NULL);
    nrename = nunlink = 0;
    CU_ASSERT(logcap_configure(lc, dir, 100, 3, err, sizeof err) == 0);
    CU_ASSERT_EQUAL(nunlink, 1); /* .1: four backups, three kept */
    CU_ASSERT_STRING_EQUAL(listing(), "other.log.3 w.log w.log.01 w.log.2 w.log.50 w.log.51x "
                                      "w.log.7 w.log.x");
    note(lc, 1);
    note(lc, 2); /* rotation: .51 added, .2 removed */
    CU_ASSERT_STRING_EQUAL(listing(), "other.log.3 w.log w.log.01 w.log.50 w.log.51 "
                                      "w.log.51x w.log.7 w.log.x");
    /* A reload with one backup: the two oldest go now, the next rotation is .52. */
    CU_ASSERT(logcap_configure(lc, dir, 100, 1, err, sizeof err) == 0);
    CU_ASSERT_STRING_EQUAL(listing(), "other.log.3 w.log w.log.01 w.log.51 w.log.51x w.log.x");
    note(lc, 3);
    CU_ASSERT_STRING_EQUAL(listing(), "other.log.3 w.log w.log.01 w.log.51x w.log.52 w.log.x");
    /* And more again: nothing is removed, the ring grows. */
    CU_ASSERT(logcap_configure(lc, dir, 100, 4, err, sizeof err) == 0);
    note(lc, 4);
    note(lc, 5);
    CU_ASSERT_STRING_EQUAL(listing(), "other.log.3 w.log w.log.01 w.log.51x w.log.52 "
                                      "w.log.53 w.log.54 w.log.x");
    logcap_free(lc);
    event_base_free(base);
    remove_dir();
}

/* ---- descriptors ------------------------------------------------------------------ */

static int nfds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    int n = 0;

    while (d && (de = readdir(d)))
        n += de->d_name[0] != '.';
    if (d)
        closedir(d);
    return n - 1; /* the directory stream's own */
}

/* Run the loop until nothing is pending (reads, end of file, the deferred close). */
static void settle(struct event_base *base)
{
    for (int i = 0; i < 20; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
}

static int file_has(const char *name, const char *needle)
{
    char path[600], buf[4096];
    ssize_t n;
    int fd;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    if ((fd = open(path, O_RDONLY)) < 0)
        return 0;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return strstr(buf, needle) != NULL;
}

/* A capture holds the log file, plus the running worker's read end: no directory, no
 * write end of its own. Each start has its pipe; a writer left behind by an earlier
 * start (a grandchild) keeps its read end, and its output lands in the file, until it
 * closes; end of file closes that read end. */
static void test_descriptors(void)
{
    struct event_base *base = event_base_new();
    unsigned long dropped = 0;
    char err[256] = "";
    int before, w1, w2, child1, child2, grandchild;
    logcap_t *lc;

    make_dir();
    before = nfds();
    lc = logcap_new(base, 0, "w", 0, -1, 0, &dropped, err, sizeof err);
    CU_ASSERT_FATAL(lc != NULL);
    CU_ASSERT(logcap_configure(lc, dir, 1 << 20, 3, err, sizeof err) == 0);
    CU_ASSERT_EQUAL(nfds(), before + 1); /* the log file */

    /* A start: the child takes the write end (here: a dup), ours goes at the loop. */
    w1 = logcap_child_fd(lc);
    CU_ASSERT_FATAL(w1 >= 0);
    child1 = dup(w1);
    grandchild = dup(w1);
    settle(base);
    CU_ASSERT_EQUAL(nfds(), before + 1 + 1 + 2); /* + read end; + the two "processes" */
    CU_ASSERT(write(child1, "first start\n", 12) == 12);
    close(child1); /* the worker exits; its grandchild still holds the pipe */
    settle(base);
    CU_ASSERT(file_has("w.log", "first start"));
    CU_ASSERT_EQUAL(nfds(), before + 1 + 1 + 1);

    /* The next start gets its own pipe; the grandchild still writes into the file. */
    w2 = logcap_child_fd(lc);
    CU_ASSERT_FATAL(w2 >= 0);
    child2 = dup(w2);
    settle(base);
    CU_ASSERT(write(w2, "x", 1) == -1); /* the supervisor's copy is closed */
    CU_ASSERT(write(grandchild, "left behind\n", 12) == 12);
    CU_ASSERT(write(child2, "second start\n", 13) == 13);
    settle(base);
    CU_ASSERT(file_has("w.log", "left behind"));
    CU_ASSERT(file_has("w.log", "second start"));
    CU_ASSERT_EQUAL(nfds(), before + 1 + 2 + 2); /* two read ends while both live */
    close(grandchild);
    settle(base);
    CU_ASSERT_EQUAL(nfds(), before + 1 + 1 + 1); /* its end of file closed its read end */
    close(child2);
    settle(base);
    CU_ASSERT_EQUAL(nfds(), before + 1); /* a stopped instance: the log file alone */

    /* logcap_child_spawned closes the supervisor's copy at once, without the loop. */
    w1 = logcap_child_fd(lc);
    CU_ASSERT_FATAL(w1 >= 0);
    child1 = dup(w1);
    logcap_child_spawned(lc);
    CU_ASSERT(write(w1, "x", 1) == -1);
    CU_ASSERT_EQUAL(nfds(), before + 1 + 1 + 1);
    close(child1);
    settle(base);
    CU_ASSERT_EQUAL(nfds(), before + 1);
    CU_ASSERT_EQUAL(dropped, 0);

    logcap_free(lc);
    CU_ASSERT_EQUAL(nfds(), before);
    event_base_free(base);
    remove_dir();
}

int main(void)
{
    CU_pSuite s;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("logcap", NULL, NULL);
    CU_add_test(s, "rotation: files and renames per rotation", test_rotation);
    CU_add_test(s, "backups already on disk, backups changed", test_existing_backups);
    CU_add_test(s, "descriptors: the log file and live read ends only", test_descriptors);
    return cu_run_all();
}
