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

/* Non-blocking mode, for a process with an event loop (the supervisor): a stderr pipe
 * or terminal nobody reads must not stop the loop. Lines are then written without
 * blocking (through a second, non-blocking open of the same pipe or terminal, so
 * that other holders of stderr keep their blocking one; MSG_DONTWAIT on a socket);
 * what cannot be written at once waits, whole lines in order, in a queue of at most
 * LOG_QUEUE_BYTES; a line that does not fit is dropped and counted, and once the
 * queue has drained a warning says how many were lost. wake(arg) is called (from a
 * log call) whenever lines start waiting: the caller then watches the returned
 * descriptor for writability and calls log_flush(). Returns that descriptor, or -1
 * when writes cannot block (a regular file) or the mode cannot be had: lines are then
 * written directly, as before. */
#define LOG_QUEUE_BYTES (256 * 1024)
int log_async_begin(void (*wake)(void *), void *arg);
/* Write what waits without blocking. 1 when lines still wait, else 0. */
int log_flush(void);
/* Leave non-blocking mode: one last try to write what waits, the rest is dropped
 * (counted). */
void log_async_end(void);
/* In a forked child that logs on its own (the provisioning helper): forget the
 * parent's queue and write directly again. */
void log_after_fork(void);
/* Lines dropped so far because the queue was full or the descriptor failed. */
unsigned long log_dropped_lines(void);

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
