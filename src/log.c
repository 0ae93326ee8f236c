/* log.c - logfmt lines (time=... level=info msg="..." key=value) with secrets masked. */
#include "config.h"

#include "log.h"
#include "mask.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "xalloc.h"

#define LOG_LINE_MAX 4096

static log_level_t log_min = LOG_LVL_INFO;
static int log_fd = 2;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

/* Non-blocking mode (log_async_begin). The queue holds whole lines only. */
static struct {
    int on;
    int fd;                 /* where lines go: a non-blocking open of log_fd, or log_fd */
    int own_fd;             /* fd is ours to close */
    int sock;               /* log_fd is a socket: send(MSG_DONTWAIT) */
    char *q;                /* owned; LOG_QUEUE_BYTES */
    size_t qlen;
    unsigned long dropped;  /* lines lost, in all */
    unsigned long unsaid;   /* lines lost since the last warning about it */
    void (*wake)(void *);
    void *arg;
} as = { .fd = -1 };

void log_setup(log_level_t min, int fd)
{
    log_min = min;
    log_fd = fd;
}

log_level_t log_get_level(void) { return log_min; }

const char *log_level_name(log_level_t lvl)
{
    return (unsigned)lvl < 4 ? level_names[lvl] : "info";
}

int log_parse_level(const char *s, log_level_t *out)
{
    for (int i = 0; i < 4; i++) {
        if (s && strcasecmp(s, level_names[i]) == 0) {
            *out = (log_level_t)i;
            return 0;
        }
    }
    if (s && strcasecmp(s, "warning") == 0) {
        *out = LOG_LVL_WARN;
        return 0;
    }
    return -1;
}

const char *log_itoa(char buf[24], long long v)
{
    snprintf(buf, 24, "%lld", v);
    return buf;
}

typedef struct {
    char *p, *end; /* end points at the last byte, kept for '\n' */
} lbuf_t;

static void put_raw(lbuf_t *b, const char *s, size_t n)
{
    while (n-- && b->p < b->end)
        *b->p++ = *s++;
}

/* A logfmt value: bare when it has no space, quote, '=' or control character,
 * else quoted with \" \\ \n \t escaped. Secrets are masked first. */
static void put_value(lbuf_t *b, const char *v)
{
    char masked[LOG_LINE_MAX];
    int quote = 0;

    mask_secrets(v ? v : "", masked, sizeof(masked));
    if (masked[0] == '\0')
        quote = 1;
    for (const char *p = masked; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
            quote = 1;
    if (!quote) {
        put_raw(b, masked, strlen(masked));
        return;
    }
    put_raw(b, "\"", 1);
    for (const char *p = masked; *p; p++) {
        char esc[8];
        switch (*p) {
        case '"': put_raw(b, "\\\"", 2); break;
        case '\\': put_raw(b, "\\\\", 2); break;
        case '\n': put_raw(b, "\\n", 2); break;
        case '\t': put_raw(b, "\\t", 2); break;
        case '\r': put_raw(b, "\\r", 2); break;
        default:
            if ((unsigned char)*p < ' ' || *p == 0x7f) {
                snprintf(esc, sizeof(esc), "\\x%02x", (unsigned char)*p);
                put_raw(b, esc, strlen(esc));
            } else {
                put_raw(b, p, 1);
            }
        }
    }
    put_raw(b, "\"", 1);
}

/* Keys are programmer-chosen; anything outside [A-Za-z0-9_.-] becomes '_'. */
static void put_key(lbuf_t *b, const char *k)
{
    for (; *k; k++) {
        char c = *k;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '.' || c == '-';
        put_raw(b, ok ? &c : "_", 1);
    }
}

size_t log_format(char *buf, size_t len, const char *ts, log_level_t lvl, const char *msg,
                  va_list ap)
{
    lbuf_t b;
    const char *k;

    if (len < 2) {
        if (len)
            buf[0] = '\0';
        return 0;
    }
    b.p = buf;
    b.end = buf + len - 2;
    if (ts) {
        put_raw(&b, "time=", 5);
        put_raw(&b, ts, strlen(ts));
        put_raw(&b, " ", 1);
    }
    put_raw(&b, "level=", 6);
    put_raw(&b, log_level_name(lvl), strlen(log_level_name(lvl)));
    put_raw(&b, " msg=", 5);
    put_value(&b, msg);
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        put_raw(&b, " ", 1);
        put_key(&b, k);
        put_raw(&b, "=", 1);
        put_value(&b, v);
    }
    *b.p++ = '\n';
    *b.p = '\0';
    return (size_t)(b.p - buf);
}

static ssize_t out_write(const char *p, size_t n)
{
    ssize_t w;

    do
        w = as.sock ? send(as.fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL) : write(as.fd, p, n);
    while (w < 0 && errno == EINTR);
    return w;
}

/* The longest prefix of the queue made of whole lines and at most PIPE_BUF (4096)
 * bytes, so that a pipe takes it at once or not at all, never splitting a line from
 * another writer's (a line is at most LOG_LINE_MAX = 4096). */
static size_t chunk_len(void)
{
    size_t lim = as.qlen < 4096 ? as.qlen : 4096, n = 0;

    for (size_t i = 0; i < lim; i++)
        if (as.q[i] == '\n')
            n = i + 1;
    return n ? n : lim;
}

static void queue_drop_all(void)
{
    for (size_t i = 0; i < as.qlen; i++)
        if (as.q[i] == '\n') {
            as.dropped++;
            as.unsaid++;
        }
    as.qlen = 0;
}

/* After the queue drained: say how many lines were lost, in order with the rest. */
static void say_dropped(void)
{
    unsigned long n = as.unsaid;

    if (!n || as.qlen)
        return;
    as.unsaid = 0;
    log_kv(LOG_LVL_WARN, "log lines dropped: stderr was not read fast enough", "dropped",
           LOG_INT(n), "dropped_total", LOG_INT(as.dropped), NULL);
}

int log_flush(void)
{
    if (!as.on)
        return 0;
    while (as.qlen) {
        size_t n = chunk_len();
        ssize_t w = out_write(as.q, n);
        if (w < 0) {
            if (errno == EAGAIN) /* EWOULDBLOCK is the same number on Linux */
                return 1;
            queue_drop_all(); /* the reader is gone (EPIPE) or the fd broke */
            break;
        }
        memmove(as.q, as.q + w, as.qlen - (size_t)w);
        as.qlen -= (size_t)w;
    }
    say_dropped();
    return as.qlen > 0;
}

static void emit_line(const char *line, size_t n)
{
    if (!as.on) {
        /* Logging is best effort: a full pipe or closed stderr must not stop the
         * daemon (in blocking mode a full pipe does: see log_async_begin). */
        if (write(log_fd, line, n) < 0) {
            /* nothing useful to do */
        }
        return;
    }
    if (as.qlen == 0) {
        ssize_t w = out_write(line, n);
        if (w == (ssize_t)n)
            return;
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            as.dropped++;
            as.unsaid++;
            return;
        }
        if (w > 0) { /* a socket took part of it: the rest waits, first in line */
            line += w;
            n -= (size_t)w;
        }
    }
    if (as.qlen + n > LOG_QUEUE_BYTES) {
        as.dropped++;
        as.unsaid++;
        return;
    }
    memcpy(as.q + as.qlen, line, n);
    as.qlen += n;
    if (as.qlen == n && as.wake)
        as.wake(as.arg);
}

int log_async_begin(void (*wake)(void *), void *arg)
{
    struct stat st;
    char path[64];
    int fd;

    if (as.on)
        return as.fd;
    if (fstat(log_fd, &st) < 0 || S_ISREG(st.st_mode))
        return -1;
    as.q = xmalloc(LOG_QUEUE_BYTES);
    as.sock = S_ISSOCK(st.st_mode);
    if (as.sock) {
        fd = log_fd;
    } else {
        /* A second open file description of the same pipe or terminal: O_NONBLOCK on
         * it leaves stderr itself, shared with whoever started us, blocking. */
        snprintf(path, sizeof(path), "/proc/self/fd/%d", log_fd);
        fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
            free(as.q);
            as.q = NULL;
            return -1;
        }
    }
    as.fd = fd;
    as.own_fd = !as.sock;
    as.qlen = 0;
    as.wake = wake;
    as.arg = arg;
    as.on = 1;
    return fd;
}

static void async_off(void)
{
    if (as.own_fd && as.fd >= 0)
        close(as.fd);
    free(as.q);
    as.q = NULL;
    as.qlen = 0;
    as.fd = -1;
    as.own_fd = 0;
    as.on = 0;
    as.wake = NULL;
}

void log_async_end(void)
{
    if (!as.on)
        return;
    log_flush();
    queue_drop_all();
    async_off();
}

void log_after_fork(void)
{
    if (!as.on)
        return;
    as.qlen = 0; /* the parent's lines, the parent's to write */
    async_off();
}

unsigned long log_dropped_lines(void) { return as.dropped; }

void log_vkv(log_level_t lvl, const char *msg, va_list ap)
{
    char line[LOG_LINE_MAX], ts[80];
    struct timespec now;
    struct tm tm;
    size_t n;
    int saved = errno;

    if (lvl < log_min)
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (long)(now.tv_nsec / 1000000) % 1000);
    n = log_format(line, sizeof(line), ts, lvl, msg, ap);
    emit_line(line, n);
    errno = saved;
}

void log_kv(log_level_t lvl, const char *msg, ...)
{
    va_list ap;
    va_start(ap, msg);
    log_vkv(lvl, msg, ap);
    va_end(ap);
}
