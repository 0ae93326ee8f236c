/* logread.h - read the last lines of an instance's captured log, a chunk at a time. */
#ifndef INSTANCED_LOGREAD_H
#define INSTANCED_LOGREAD_H

#include <stddef.h>

typedef struct logread logread_t;

/* Most lines one request may ask for (instancectl logs -n). */
#define LOGREAD_MAX_LINES 10000
/* Bytes read per logread_step(): the loop is never held by a big file. */
#define LOGREAD_CHUNK (64 * 1024)

/* Prepare to read the last `nlines` lines (at most LOGREAD_MAX_LINES) of
 * <logs_dir>/<name>.log and, when it holds fewer, of its backups <name>.log.<N>
 * (the highest N the newest), oldest line first. The files are opened now and read
 * up to their size now: what log capture writes afterwards is not read (a follower
 * gets it from logtap). A missing directory or file reads as empty. Never NULL;
 * the caller owns the result. */
logread_t *logread_open(const char *logs_dir, const char *name, long nlines);

/* A line found: its bytes (timestamp included, no newline, not NUL-terminated). */
typedef void (*logread_line_fn)(void *arg, const char *line, size_t len);

/* Read at most LOGREAD_CHUNK bytes and hand every complete line to fn.
 * 1: call again; 0: done. */
int logread_step(logread_t *r, logread_line_fn fn, void *arg);

void logread_free(logread_t *r);

#endif
