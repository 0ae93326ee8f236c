/* log.c - logfmt lines (time=... level=info msg="..." key=value) with secrets masked. */
#include "config.h"

#include "log.h"
#include "mask.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

static log_level_t log_min = LOG_LVL_INFO;
static int log_fd = 2;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

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

void log_vkv(log_level_t lvl, const char *msg, va_list ap)
{
    char line[LOG_LINE_MAX], ts[64];
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
    /* Logging is best effort: a full pipe or closed stderr must not stop the daemon. */
    if (write(log_fd, line, n) < 0) {
        /* nothing useful to do */
    }
    errno = saved;
}

void log_kv(log_level_t lvl, const char *msg, ...)
{
    va_list ap;
    va_start(ap, msg);
    log_vkv(lvl, msg, ap);
    va_end(ap);
}
