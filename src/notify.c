/* notify.c - systemd readiness, status and watchdog (compiled away without libsystemd). */
#include "config.h"

#include "notify.h"

#ifdef HAVE_SYSTEMD

#include <event2/event.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

#include "log.h"

static struct event *watchdog_ev;
static char last_status[256];

/* sd_notify(0, ...): never unset NOTIFY_SOCKET (DEPENDENCY-NOTES); children get a
 * clean environment from inv_worker_env() instead. */
static void notify_send(const char *text)
{
    if (sd_notify(0, text) < 0)
        log_debug("sd_notify failed", "what", text);
}

static void watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    notify_send("WATCHDOG=1");
}

void notify_init(struct event_base *base)
{
    uint64_t usec = 0;

    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
        return;
    struct timeval tv = { (time_t)(usec / 2 / 1000000), (suseconds_t)(usec / 2 % 1000000) };
    watchdog_ev = event_new(base, -1, EV_PERSIST, watchdog_cb, NULL);
    if (watchdog_ev && event_add(watchdog_ev, &tv) == 0)
        log_info("systemd watchdog enabled", "interval_ms", LOG_INT(usec / 2000));
    notify_send("WATCHDOG=1");
}

void notify_ready(void) { notify_send("READY=1"); }
void notify_reloading(void) { notify_send("RELOADING=1"); }
void notify_stopping(void) { notify_send("STOPPING=1"); }

void notify_status(const char *text)
{
    char buf[300];

    if (strcmp(text, last_status) == 0)
        return;
    snprintf(last_status, sizeof(last_status), "%s", text);
    snprintf(buf, sizeof(buf), "STATUS=%s", text);
    notify_send(buf);
}

void notify_shutdown(void)
{
    if (watchdog_ev)
        event_free(watchdog_ev);
    watchdog_ev = NULL;
}

#else /* !HAVE_SYSTEMD */

void notify_init(struct event_base *base) { (void)base; }
void notify_ready(void) {}
void notify_reloading(void) {}
void notify_stopping(void) {}
void notify_status(const char *text) { (void)text; }
void notify_shutdown(void) {}

#endif
