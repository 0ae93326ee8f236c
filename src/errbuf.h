/* errbuf.h - error messages handed back to the caller in its own buffer. */
#ifndef INSTANCED_ERRBUF_H
#define INSTANCED_ERRBUF_H

#include <stddef.h>

/* Format a message into err (errlen bytes, always NUL-terminated; err may be NULL or
 * errlen 0 when the caller does not want it). Returns -1, so that an error path can
 * end in `return errbuf_set(err, errlen, "...", ...);`. */
int errbuf_set(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The same for messages that may quote a server's reply or a URL: only the first line
 * is kept and secrets are masked (mask_secrets). Returns -1. */
int errbuf_set_masked(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
