/* logcap.c - capture a worker's stdout and stderr into its rotated log file. */
#include "config.h"

#include "logcap.h"
#include "log.h"
#include "logtap.h"
#include "xalloc.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 4000        /* a longer line is split; keeps a line < 4 KiB */
#define READ_CHUNK     (64 * 1024) /* per callback: one flooding worker cannot hog the loop */
#define TS_LEN         25          /* "2026-01-02T03:04:05.678Z " */
#define SLOW_WRITE_MS  200         /* a write this slow means a stalled disk: drop for 1 s */

/* The read end of one start's pipe, kept until end of file: until every process that
 * holds the write end (the worker, and whatever it left behind) has closed it. */
typedef struct lc_pipe {
    logcap_t *lc;
    int rfd;
    struct event *ev;
} lc_pipe_t;

struct logcap {
    char *name;              /* the instance */
    char *file;              /* <name>.log */
    struct event_base *base;
    int prio;
    /* Descriptors: in steady state the read end of the running worker's pipe and the
     * log file, nothing else. Each start gets a new pipe (logcap_child_fd); the
     * supervisor's copy of its write end is closed once the child has it (close_ev),
     * so end of file on a read end says that no writer is left, and the read end is
     * closed then. A read end whose writers outlive their worker (a leftover
     * grandchild) stays in pipes[] until they are gone: their output still lands in
     * the file. */
    lc_pipe_t **pipes;
    size_t npipes;
    int wfd;                 /* the newest start's write end until close_ev runs */
    struct event *close_ev;  /* closes wfd when the loop next runs */
    char *logs_dir;          /* opened (O_NOFOLLOW) only to open, rotate and scan */
    int dir_ok;              /* logs_dir could be opened at the last configure */
    int fd;                  /* current <name>.log, -1: closed */
    long long size;          /* its size */
    long long max_bytes;
    long backups;
    /* Backups are <name>.log.<N>, N growing by one per rotation (the highest is the
     * newest), so a rotation is one rename and at most one unlink whatever `backups`
     * is. bk holds the N of every backup on disk, oldest first: a ring of bk_cap
     * (>= backups) starting at bk_head; it is filled by one directory scan when the
     * directory is opened. bk_next is the N of the next backup. */
    long long *bk;
    long bk_cap, bk_head, bk_n;
    long long bk_next;
    int mirror_fd, colour;
    char *line;              /* a partial line; allocated at the first output */
    size_t linelen;
    char *out;               /* the caller's batch (batch_begin), NULL between calls */
    size_t outlen, outcap;
    long long window_ms;     /* start of the current 1 s rate window */
    long long window_bytes;
    long long rate_bytes;
    long long stalled_until_ms;
    unsigned long episode_dropped; /* dropped since the last note */
    unsigned long *dropped;
};

/* Formatted lines are batched into one write, in a buffer on the stack of the call
 * that fills it (read_cb, logcap_note, logcap_free; see batch_begin): every such call
 * empties it before it returns, so no capture keeps a buffer between callbacks (500
 * silent workers cost no 130 KiB each) and no buffer is shared between captures. */
#define BATCH_BYTES (2 * READ_CHUNK + 64 * TS_LEN)

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void timestamp(char buf[TS_LEN + 1])
{
    struct timespec now;
    struct tm tm;
    char tmp[64];
    int ms;

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    /* Years 1000-9999 give exactly 19 characters; anything else is not a real clock. */
    if (strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm) != 19)
        memcpy(tmp, "0000-00-00T00:00:00", 19);
    ms = (int)((now.tv_nsec / 1000000) % 1000);
    memcpy(buf, tmp, 19);
    buf[19] = '.';
    buf[20] = (char)('0' + ms / 100);
    buf[21] = (char)('0' + ms / 10 % 10);
    buf[22] = (char)('0' + ms % 10);
    buf[23] = 'Z';
    buf[24] = ' ';
    buf[TS_LEN] = '\0';
}

static void drop(logcap_t *lc, size_t n)
{
    lc->episode_dropped += n;
    *lc->dropped += n;
}

/* logs_dir, opened for one operation (the caller closes it): every file is reached
 * through it, and a symbolic link in its place is refused. -1 when not configured. */
static int dir_open(const logcap_t *lc)
{
    if (!lc->logs_dir || !lc->dir_ok)
        return -1;
    return open(lc->logs_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static void dir_close(int dirfd)
{
    if (dirfd >= 0)
        close(dirfd);
}

static int open_current_at(logcap_t *lc, int dirfd)
{
    struct stat st;

    if (dirfd < 0)
        return -1;
    lc->fd = openat(dirfd, lc->file, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC
                    | O_NONBLOCK, 0640);
    if (lc->fd < 0)
        return -1;
    lc->size = fstat(lc->fd, &st) == 0 ? st.st_size : 0;
    return 0;
}

static int open_current(logcap_t *lc)
{
    int dirfd = dir_open(lc), rc = open_current_at(lc, dirfd);

    dir_close(dirfd);
    return rc;
}

/* <name>.log.<n> into buf: 0, or -1 if it does not fit. */
static int backup_name(const logcap_t *lc, long long n, char *buf, size_t len)
{
    int m = snprintf(buf, len, "%s.%lld", lc->file, n);

    return m < 0 || (size_t)m >= len ? -1 : 0;
}

static void unlink_backup(const logcap_t *lc, int dirfd, long long n)
{
    char name[512];

    if (dirfd >= 0 && backup_name(lc, n, name, sizeof(name)) == 0)
        unlinkat(dirfd, name, 0);
}

/* Remove the oldest backup (the ring must not be empty) through dirfd. */
static void drop_oldest(logcap_t *lc, int dirfd)
{
    unlink_backup(lc, dirfd, lc->bk[lc->bk_head]);
    lc->bk_head = (lc->bk_head + 1) % lc->bk_cap;
    lc->bk_n--;
}

/* Record a new newest backup (the ring must have room). */
static void push_newest(logcap_t *lc, long long n)
{
    lc->bk[(lc->bk_head + lc->bk_n) % lc->bk_cap] = n;
    lc->bk_n++;
}

/* Make the ring hold `backups` entries: the oldest backups beyond it are removed. */
static void resize_ring(logcap_t *lc, long backups)
{
    long cap = backups > 0 ? backups : 1;
    long long *v;

    if (lc->bk_n > (backups > 0 ? backups : 0)) {
        int dirfd = dir_open(lc);
        while (lc->bk_n > (backups > 0 ? backups : 0))
            drop_oldest(lc, dirfd);
        dir_close(dirfd);
    }
    if (cap == lc->bk_cap)
        return;
    v = xcalloc((size_t)cap, sizeof(*v));
    for (long i = 0; i < lc->bk_n; i++)
        v[i] = lc->bk[(lc->bk_head + i) % lc->bk_cap];
    free(lc->bk);
    lc->bk = v;
    lc->bk_cap = cap;
    lc->bk_head = 0;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* N when name is <file>.<N> written as we write it (digits, no leading zero), else 0. */
static long long backup_number(const logcap_t *lc, const char *name)
{
    size_t fl = strlen(lc->file);
    const char *d;
    long long n = 0;

    if (strncmp(name, lc->file, fl) != 0 || name[fl] != '.')
        return 0;
    d = name + fl + 1;
    if (*d < '1' || *d > '9')
        return 0;
    for (; *d; d++) {
        if (*d < '0' || *d > '9' || n > (1LL << 52))
            return 0;
        n = n * 10 + (*d - '0');
    }
    return n;
}

/* The one directory scan: find the backups on disk, keep the newest `backups` of them
 * (the others are removed) and continue numbering after the highest. Backups of the
 * older scheme (.1 the newest) are taken as they are numbered: they age out first. */
static void scan_backups(logcap_t *lc, int dirfd)
{
    long long *found = NULL, n;
    size_t nfound = 0, cap = 0;
    struct dirent *de;
    DIR *d;
    int fd;

    lc->bk_n = lc->bk_head = 0;
    lc->bk_next = 1;
    if (dirfd < 0 || (fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return;
    if (!(d = fdopendir(fd))) {
        close(fd);
        return;
    }
    while ((de = readdir(d))) {
        if (!(n = backup_number(lc, de->d_name)))
            continue;
        if (nfound == cap)
            found = xreallocarray(found, cap = cap ? cap * 2 : 16, sizeof(*found));
        found[nfound++] = n;
    }
    closedir(d);
    if (nfound)
        qsort(found, nfound, sizeof(*found), cmp_ll);
    for (size_t i = 0; i < nfound; i++) {
        if (nfound - i > (size_t)(lc->backups > 0 ? lc->backups : 0))
            unlink_backup(lc, dirfd, found[i]);
        else
            push_newest(lc, found[i]);
    }
    if (nfound)
        lc->bk_next = found[nfound - 1] + 1;
    free(found);
}

/* <name>.log -> <name>.log.<next>, the oldest backup beyond `backups` removed, reopen:
 * one rename and (once `backups` are there) one unlink. With no backups the file is
 * removed. Names are relative to the directory, opened for the rotation: no path is
 * followed. */
static void rotate(logcap_t *lc)
{
    char to[512];
    int dirfd;

    if (lc->fd >= 0)
        close(lc->fd);
    lc->fd = -1;
    if ((dirfd = dir_open(lc)) < 0)
        return;
    if (lc->backups <= 0 || !lc->bk) {
        while (lc->bk_n > 0)
            drop_oldest(lc, dirfd);
        unlinkat(dirfd, lc->file, 0);
    } else {
        if (lc->bk_n >= lc->backups)
            drop_oldest(lc, dirfd);
        if (backup_name(lc, lc->bk_next, to, sizeof(to)) == 0 &&
            renameat(dirfd, lc->file, dirfd, to) == 0)
            push_newest(lc, lc->bk_next++);
        else
            unlinkat(dirfd, lc->file, 0); /* cannot keep it: never grow past max */
    }
    open_current_at(lc, dirfd);
    dir_close(dirfd);
}

static void flush_out(logcap_t *lc)
{
    long long t0;
    ssize_t n;

    if (lc->outlen == 0)
        return;
    if (lc->fd < 0 && open_current(lc) < 0) {
        drop(lc, lc->outlen);
        lc->outlen = 0;
        return;
    }
    t0 = mono_ms();
    n = write(lc->fd, lc->out, lc->outlen);
    if (n < 0) {
        drop(lc, lc->outlen); /* ENOSPC, EIO: drop, count, try again with the next batch */
    } else {
        lc->size += n;
        if ((size_t)n < lc->outlen)
            drop(lc, lc->outlen - (size_t)n);
    }
    if (mono_ms() - t0 > SLOW_WRITE_MS)
        lc->stalled_until_ms = mono_ms() + 1000;
    lc->outlen = 0;
}

/* Lines emitted from here on are batched in buf (the caller's, on its stack) until
 * batch_end(), which writes them and forgets buf. */
static void batch_begin(logcap_t *lc, char *buf, size_t len)
{
    lc->out = buf;
    lc->outcap = len;
    lc->outlen = 0;
}

static void batch_end(logcap_t *lc)
{
    flush_out(lc);
    lc->out = NULL;
    lc->outcap = 0;
}

/* Append one finished line (without '\n') to the batch, rotating first when it would
 * not fit: no file ever exceeds max_bytes. */
static void emit(logcap_t *lc, const char *s, size_t len)
{
    char ts[TS_LEN + 1];
    size_t need = TS_LEN + len + 1;

    if (lc->size + (long long)(lc->outlen + need) > lc->max_bytes) {
        flush_out(lc);
        rotate(lc);
    }
    if (lc->outlen + need > lc->outcap) {
        flush_out(lc);
        if (need > lc->outcap) {
            drop(lc, len);
            return;
        }
    }
    timestamp(ts);
    memcpy(lc->out + lc->outlen, ts, TS_LEN);
    memcpy(lc->out + lc->outlen + TS_LEN, s, len);
    lc->out[lc->outlen + need - 1] = '\n';
    /* Followers (instancectl logs -f) get the line as the file does, as it is written:
     * no reading back, so a rotation cannot lose or repeat a line for them. */
    logtap_publish(lc->name, lc->out + lc->outlen, need - 1);
    lc->outlen += need;
    if (lc->mirror_fd >= 0) {
        char pre[160];
        int m = lc->colour ? snprintf(pre, sizeof(pre), "\033[3%dm%-16s |\033[0m ", lc->colour,
                                      lc->name)
                           : snprintf(pre, sizeof(pre), "%-16s | ", lc->name);
        /* The terminal is best effort: a stopped one (^S, a full pipe) loses lines and
         * never stalls the loop. */
        char buf[sizeof(pre) + LINE_MAX_BYTES + 1];
        size_t plen = (size_t)m < sizeof(pre) ? (size_t)m : sizeof(pre) - 1;
        memcpy(buf, pre, plen);
        memcpy(buf + plen, s, len);
        buf[plen + len] = '\n';
        struct pollfd pfd = { lc->mirror_fd, POLLOUT, 0 };
        if (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLOUT) &&
            write(lc->mirror_fd, buf, plen + len + 1) < 0) {
            /* ignored */
        }
    }
}

static void note_resumed(logcap_t *lc)
{
    char msg[160];

    if (lc->episode_dropped == 0)
        return;
    snprintf(msg, sizeof(msg), "[instanced] dropped %lu bytes of output (flood over %lld bytes/s "
             "or a stalled disk)", lc->episode_dropped, lc->rate_bytes);
    log_warn("worker output dropped", "instance", lc->name,
             "bytes", LOG_INT(lc->episode_dropped), "total", LOG_INT(*lc->dropped));
    lc->episode_dropped = 0;
    emit(lc, msg, strlen(msg));
}

static void consume(logcap_t *lc, const char *buf, size_t n)
{
    if (!lc->line)
        lc->line = xmalloc(LINE_MAX_BYTES);
    while (n > 0) {
        const char *nl = memchr(buf, '\n', n);
        size_t take = nl ? (size_t)(nl - buf) : n;
        size_t room = LINE_MAX_BYTES - lc->linelen;

        if (take > room)
            take = room;
        memcpy(lc->line + lc->linelen, buf, take);
        lc->linelen += take;
        buf += take;
        n -= take;
        if (n > 0 && *buf == '\n') {
            buf++;
            n--;
            emit(lc, lc->line, lc->linelen);
            lc->linelen = 0;
        } else if (lc->linelen == LINE_MAX_BYTES) {
            emit(lc, lc->line, lc->linelen);
            lc->linelen = 0;
        }
    }
}

static void pipe_close(logcap_t *lc, lc_pipe_t *pp);

/* One read of a pipe into the file (lc's batch begun). End of file: no process holds
 * the write end any more (the supervisor closed its own), so the read end goes. */
static void read_some(logcap_t *lc, lc_pipe_t *pp)
{
    char buf[READ_CHUNK];
    ssize_t n = read(pp->rfd, buf, sizeof(buf));
    long long now;

    if (n == 0) {
        pipe_close(lc, pp);
        return;
    }
    if (n < 0)
        return; /* EAGAIN, EINTR */
    now = mono_ms();
    if (now - lc->window_ms >= 1000) {
        lc->window_ms = now;
        lc->window_bytes = 0;
    }
    lc->window_bytes += n;
    if (lc->window_bytes > lc->rate_bytes || now < lc->stalled_until_ms) {
        if (lc->episode_dropped == 0 && lc->linelen > 0) {
            /* Keep what came before the gap as its own line, not glued to what follows. */
            emit(lc, lc->line, lc->linelen);
            lc->linelen = 0;
            flush_out(lc);
        }
        drop(lc, (size_t)n);
        return;
    }
    note_resumed(lc);
    consume(lc, buf, (size_t)n);
    flush_out(lc);
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
    lc_pipe_t *pp = arg;
    logcap_t *lc = pp->lc;
    char batch[BATCH_BYTES];

    (void)fd;
    (void)what;
    batch_begin(lc, batch, sizeof(batch));
    read_some(lc, pp);
    batch_end(lc);
}

/* Forget one read end: its event, its descriptor, its slot (order does not matter). */
static void pipe_close(logcap_t *lc, lc_pipe_t *pp)
{
    for (size_t i = 0; i < lc->npipes; i++)
        if (lc->pipes[i] == pp) {
            lc->pipes[i] = lc->pipes[--lc->npipes];
            break;
        }
    if (pp->ev)
        event_free(pp->ev);
    if (pp->rfd >= 0)
        close(pp->rfd);
    free(pp);
}

static void close_wfd(logcap_t *lc)
{
    if (lc->wfd >= 0)
        close(lc->wfd);
    lc->wfd = -1;
}

/* The child has its copy of the write end by now (the spawn that took it returned
 * before the loop ran again): ours would keep end of file from ever coming. */
static void close_wfd_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    close_wfd(arg);
}

logcap_t *logcap_new(struct event_base *base, int prio, const char *name, long long rate_bytes,
                     int mirror_fd, int colour, unsigned long *dropped, char *err,
                     size_t errlen)
{
    logcap_t *lc = xcalloc(1, sizeof(*lc));

    lc->name = xstrdup(name);
    lc->file = xasprintf("%s.log", name);
    lc->base = base;
    lc->prio = prio;
    lc->wfd = lc->fd = -1;
    lc->mirror_fd = mirror_fd;
    lc->colour = colour;
    lc->dropped = dropped;
    lc->rate_bytes = rate_bytes > 0 ? rate_bytes : LOGCAP_RATE_BYTES;
    lc->max_bytes = 10LL << 20;
    lc->backups = 5;
    lc->close_ev = evtimer_new(base, close_wfd_cb, lc);
    if (!lc->close_ev || event_priority_set(lc->close_ev, prio) < 0) {
        snprintf(err, errlen, "log pipe event failed");
        logcap_free(lc);
        return NULL;
    }
    return lc;
}

int logcap_configure(logcap_t *lc, const char *logs_dir, long long max_bytes, long backups,
                     char *err, size_t errlen)
{
    int same_dir = lc->logs_dir && strcmp(lc->logs_dir, logs_dir) == 0 && lc->dir_ok;
    int dirfd, rc = 0;

    lc->max_bytes = max_bytes;
    lc->backups = backups;
    if (!same_dir)
        lc->bk_n = 0; /* another directory: the old one's backups are left alone */
    resize_ring(lc, backups);
    if (same_dir)
        return 0;
    flush_out(lc);
    if (lc->fd >= 0)
        close(lc->fd);
    lc->fd = -1;
    free(lc->logs_dir);
    lc->logs_dir = xstrdup(logs_dir);
    lc->dir_ok = 1;
    if ((dirfd = dir_open(lc)) < 0) {
        snprintf(err, errlen, "open %s: %s", logs_dir, strerror(errno));
        lc->dir_ok = 0;
        return -1;
    }
    scan_backups(lc, dirfd);
    if (open_current_at(lc, dirfd) < 0) {
        snprintf(err, errlen, "open %s/%s: %s", logs_dir, lc->file, strerror(errno));
        rc = -1;
    }
    dir_close(dirfd);
    return rc;
}

int logcap_child_fd(logcap_t *lc)
{
    static const struct timeval now = { 0, 0 };
    lc_pipe_t *pp;
    int p[2];

    close_wfd(lc); /* a start whose spawn never returned to the loop */
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    /* Only our end is non-blocking: a worker writing to a full pipe waits, as it
     * would on a terminal; we never do. */
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    pp = xcalloc(1, sizeof(*pp));
    pp->lc = lc;
    pp->rfd = p[0];
    pp->ev = event_new(lc->base, pp->rfd, EV_READ | EV_PERSIST, read_cb, pp);
    if (!pp->ev || event_priority_set(pp->ev, lc->prio) < 0 || event_add(pp->ev, NULL) < 0 ||
        event_add(lc->close_ev, &now) < 0) {
        if (pp->ev)
            event_free(pp->ev);
        close(p[0]);
        close(p[1]);
        free(pp);
        errno = ENOMEM;
        return -1;
    }
    lc->pipes = xreallocarray(lc->pipes, lc->npipes + 1, sizeof(*lc->pipes));
    lc->pipes[lc->npipes++] = pp;
    lc->wfd = p[1];
    return lc->wfd;
}

void logcap_child_spawned(logcap_t *lc)
{
    event_del(lc->close_ev);
    close_wfd(lc);
}

void logcap_note(logcap_t *lc, const char *text)
{
    char batch[BATCH_BYTES];

    batch_begin(lc, batch, sizeof(batch));
    emit(lc, text, strlen(text));
    batch_end(lc);
}

void logcap_free(logcap_t *lc)
{
    char batch[BATCH_BYTES];

    if (!lc)
        return;
    if (lc->close_ev)
        event_free(lc->close_ev);
    close_wfd(lc);
    batch_begin(lc, batch, sizeof(batch));
    /* What is readable now, from every pipe; then the partial line. */
    for (size_t i = 0; i < lc->npipes; i++) {
        char buf[READ_CHUNK];
        ssize_t n = read(lc->pipes[i]->rfd, buf, sizeof(buf));
        if (n > 0)
            consume(lc, buf, (size_t)n);
    }
    if (lc->linelen)
        emit(lc, lc->line, lc->linelen);
    batch_end(lc);
    while (lc->npipes > 0)
        pipe_close(lc, lc->pipes[0]);
    free(lc->pipes);
    if (lc->fd >= 0)
        close(lc->fd);
    free(lc->logs_dir);
    free(lc->bk);
    free(lc->line);
    free(lc->name);
    free(lc->file);
    free(lc);
}
