/* errbuf.c - error messages handed back to the caller in its own buffer. */
#include "config.h"

#include "errbuf.h"
#include "mask.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int errbuf_set(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int errbuf_set_masked(char *err, size_t errlen, const char *fmt, ...)
{
    char raw[1024];
    va_list ap;

    if (!err || !errlen)
        return -1;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    raw[strcspn(raw, "\n")] = '\0';
    mask_secrets(raw, err, errlen);
    return -1;
}
