/* logtap.c - one hook on the captured log lines, for `instancectl logs -f`.
 *
 * Log capture (logcap.c) publishes, the control socket (control.c) subscribes: neither
 * has to link the other, so each is tested alone. Single-threaded, like the loop. */
#include "config.h"

#include "logtap.h"

static logtap_fn tap_fn;
static void *tap_arg;

void logtap_set(logtap_fn fn, void *arg)
{
    tap_fn = fn;
    tap_arg = fn ? arg : NULL;
}

void *logtap_arg(void)
{
    return tap_arg;
}

void logtap_publish(const char *name, const char *line, size_t len)
{
    if (tap_fn)
        tap_fn(tap_arg, name, line, len);
}
