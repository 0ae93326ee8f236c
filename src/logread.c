/* logread.c - read the last lines of an instance's captured log, a chunk at a time.
 *
 * Two passes over descriptors opened at once (a rotation meanwhile renames the files,
 * not what we read): backwards, counting newlines only, to find where the last N
 * lines start (in the current file or a backup); then forwards from there, handing
 * out whole lines. Memory is one chunk whatever N is; each step reads one chunk. */
#include "config.h"

#include "logread.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xalloc.h"

/* The current file and up to this many backups, the newest first. */
#define MAX_FILES 64
/* A line longer than this (log capture writes < 4 KiB) is handed out in pieces. */
#define LINE_CAP 8192

struct logread {
    int fd[MAX_FILES];        /* [0] <name>.log, then backups newest first; -1: none */
    long long size[MAX_FILES];
    int nfiles;
    int forward;              /* 0: looking for the start, 1: handing out lines */
    int k;                    /* file being read */
    long long pos;            /* backwards: end of what is left; forwards: next byte */
    long want;                /* lines asked for */
    long seen;                /* newlines met going backwards */
    char *buf;                /* LOGREAD_CHUNK + LINE_CAP: a partial line, then a chunk */
    size_t carry;
};

/* N when name is <file>.<N> as log capture writes it (digits, no leading zero), else 0. */
static long long backup_number(const char *file, const char *name)
{
    size_t fl = strlen(file);
    long long n = 0;

    if (strncmp(name, file, fl) != 0 || name[fl] != '.' || name[fl + 1] < '1' ||
        name[fl + 1] > '9')
        return 0;
    for (const char *d = name + fl + 1; *d; d++) {
        if (*d < '0' || *d > '9' || n > (1LL << 52))
            return 0;
        n = n * 10 + (*d - '0');
    }
    return n;
}

static int cmp_desc(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x < y) - (x > y);
}

static void add_file(logread_t *r, int dirfd, const char *name)
{
    struct stat st;
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

    if (fd < 0)
        return;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return;
    }
    r->fd[r->nfiles] = fd;
    r->size[r->nfiles++] = st.st_size;
}

/* The backups' numbers, the newest first (at most MAX_FILES - 1 of them): into v. */
static size_t list_backups(int dirfd, const char *file, long long *v)
{
    long long *all = NULL, n;
    size_t nall = 0, cap = 0;
    struct dirent *de;
    DIR *d;
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0)
        return 0;
    if (!(d = fdopendir(fd))) {
        close(fd);
        return 0;
    }
    while ((de = readdir(d))) {
        if (!(n = backup_number(file, de->d_name)))
            continue;
        if (nall == cap)
            all = xreallocarray(all, cap = cap ? cap * 2 : 16, sizeof(*all));
        all[nall++] = n;
    }
    closedir(d);
    if (nall)
        qsort(all, nall, sizeof(*all), cmp_desc);
    if (nall > MAX_FILES - 1)
        nall = MAX_FILES - 1;
    if (nall)
        memcpy(v, all, nall * sizeof(*v));
    free(all);
    return nall;
}

logread_t *logread_open(const char *logs_dir, const char *name, long nlines)
{
    logread_t *r = xcalloc(1, sizeof(*r));
    long long nums[MAX_FILES];
    char file[512], bk[600];
    size_t nb;
    int dirfd;

    r->buf = xmalloc(LOGREAD_CHUNK + LINE_CAP);
    r->want = nlines < 0 ? 0 : nlines > LOGREAD_MAX_LINES ? LOGREAD_MAX_LINES : nlines;
    if (r->want == 0 || (size_t)snprintf(file, sizeof(file), "%s.log", name) >= sizeof(file))
        return r; /* nothing to read */
    dirfd = open(logs_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dirfd < 0)
        return r;
    add_file(r, dirfd, file);
    if (r->nfiles == 0) {
        /* No current file: the backups still hold the last lines. A placeholder
         * keeps [0] the current file. */
        r->fd[0] = -1;
        r->size[0] = 0;
        r->nfiles = 1;
    }
    nb = list_backups(dirfd, file, nums);
    for (size_t i = 0; i < nb && r->nfiles < MAX_FILES; i++) {
        snprintf(bk, sizeof(bk), "%s.%lld", file, nums[i]);
        add_file(r, dirfd, bk);
    }
    close(dirfd);
    r->k = 0;
    r->pos = r->size[0];
    return r;
}

/* One chunk backwards: 1 to go on, 0 when the start is found (forward mode set). */
static int step_back(logread_t *r)
{
    long long lo;
    ssize_t n;

    while (r->pos == 0) {
        if (r->k + 1 >= r->nfiles) {
            r->pos = 0; /* the oldest file's start: fewer lines than asked */
            r->forward = 1;
            return 1;
        }
        r->k++;
        r->pos = r->size[r->k];
    }
    lo = r->pos > LOGREAD_CHUNK ? r->pos - LOGREAD_CHUNK : 0;
    n = r->fd[r->k] >= 0 ? pread(r->fd[r->k], r->buf, (size_t)(r->pos - lo), lo) : 0;
    if (n != r->pos - lo) {
        /* Shortened under us (not by log capture, which only appends): take what is
         * there from here on. */
        r->forward = 1;
        return 1;
    }
    for (long long i = n - 1; i >= 0; i--) {
        if (r->buf[i] != '\n')
            continue;
        /* The (want + 1)-th newline from the end closes the line before the ones
         * asked for. */
        if (++r->seen == r->want + 1) {
            r->pos = lo + i + 1;
            r->forward = 1;
            return 1;
        }
    }
    r->pos = lo;
    return 1;
}

/* Hand out the complete lines in buf[0, len); keep the partial tail as the carry. */
static void hand_out(logread_t *r, size_t len, logread_line_fn fn, void *arg)
{
    size_t start = 0;

    for (size_t i = 0; i < len; i++) {
        if (r->buf[i] == '\n') {
            fn(arg, r->buf + start, i - start);
            start = i + 1;
        }
    }
    r->carry = len - start;
    if (r->carry >= LINE_CAP) {
        fn(arg, r->buf + start, r->carry);
        r->carry = 0;
    } else if (r->carry && start) {
        memmove(r->buf, r->buf + start, r->carry);
    }
}

int logread_step(logread_t *r, logread_line_fn fn, void *arg)
{
    ssize_t n;
    size_t room;

    if (r->nfiles == 0)
        return 0;
    if (!r->forward)
        return step_back(r);
    if (r->k < 0)
        return 0;
    if (r->pos >= r->size[r->k] || r->fd[r->k] < 0) {
        /* The end of this file: a line without its newline ends with it. */
        if (r->carry) {
            fn(arg, r->buf, r->carry);
            r->carry = 0;
        }
        r->k--;
        r->pos = 0;
        return r->k >= 0;
    }
    room = LOGREAD_CHUNK;
    if ((long long)room > r->size[r->k] - r->pos)
        room = (size_t)(r->size[r->k] - r->pos);
    n = pread(r->fd[r->k], r->buf + r->carry, room, r->pos);
    if (n <= 0) {
        r->pos = r->size[r->k]; /* shortened under us: this file is done */
        return 1;
    }
    r->pos += n;
    hand_out(r, r->carry + (size_t)n, fn, arg);
    return 1;
}

void logread_free(logread_t *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->nfiles; i++)
        if (r->fd[i] >= 0)
            close(r->fd[i]);
    free(r->buf);
    free(r);
}
