/* log.h - logfmt lines (time=... level=info msg="..." key=value) with secrets masked. */
#ifndef INSTANCED_LOG_H
#define INSTANCED_LOG_H

#include <stdarg.h>
#include <stddef.h>

typedef enum {
    LOG_LVL_DEBUG = 0,
    LOG_LVL_INFO,
    LOG_LVL_WARN,
    LOG_LVL_ERROR,
} log_level_t;

/* Messages below min are dropped. Lines go to fd (2 by default). */
void log_setup(log_level_t min, int fd);
log_level_t log_get_level(void);
int log_parse_level(const char *s, log_level_t *out); /* 0 ok, -1 unknown */
const char *log_level_name(log_level_t lvl);

/* Log msg with key/value string pairs, terminated by NULL:
 *   log_kv(LOG_LVL_INFO, "worker started", "instance", name, "pid", LOG_INT(pid), NULL);
 * A NULL value is written as an empty string. Message and values are masked with
 * mask_secrets(), quoted and escaped as logfmt requires. One write(2) per line, so
 * lines from concurrent processes do not interleave. */
void log_kv(log_level_t lvl, const char *msg, ...) __attribute__((sentinel));
void log_vkv(log_level_t lvl, const char *msg, va_list ap);

/* Format one line into buf (pure; used by log_kv and the tests). ts may be NULL to
 * leave out the time. Returns the length written, excluding the NUL; the line ends
 * in '\n' and is truncated to fit. */
size_t log_format(char *buf, size_t len, const char *ts, log_level_t lvl, const char *msg,
                  va_list ap);

/* Integer to string in caller storage, for use as a log_kv value. */
const char *log_itoa(char buf[24], long long v);
#define LOG_INT(v) log_itoa((char[24]){0}, (long long)(v))

#define log_debug(msg, ...) log_kv(LOG_LVL_DEBUG, msg, ##__VA_ARGS__, NULL)
#define log_info(msg, ...)  log_kv(LOG_LVL_INFO, msg, ##__VA_ARGS__, NULL)
#define log_warn(msg, ...)  log_kv(LOG_LVL_WARN, msg, ##__VA_ARGS__, NULL)
#define log_error(msg, ...) log_kv(LOG_LVL_ERROR, msg, ##__VA_ARGS__, NULL)

#endif
