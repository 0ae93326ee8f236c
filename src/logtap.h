/* logtap.h - one hook on the captured log lines, for `instancectl logs -f`. */
#ifndef INSTANCED_LOGTAP_H
#define INSTANCED_LOGTAP_H

#include <stddef.h>

/* Called for every line log capture writes (the file's line, timestamp included,
 * without its newline; not NUL-terminated) with the instance's name. It runs inside
 * the capture's write path, so it must not block and must not free a capture. */
typedef void (*logtap_fn)(void *arg, const char *name, const char *line, size_t len);

/* Install the hook (NULL removes it). One at a time: the control socket's. */
void logtap_set(logtap_fn fn, void *arg);

/* The hook's argument now, to remove only one's own hook. */
void *logtap_arg(void);

/* Hand a line to the hook, if any. */
void logtap_publish(const char *name, const char *line, size_t len);

#endif
