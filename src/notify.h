/* notify.h - systemd readiness, status and watchdog (compiled away without libsystemd). */
#ifndef INSTANCED_NOTIFY_H
#define INSTANCED_NOTIFY_H

struct event_base;

/* Arm the watchdog timer (WATCHDOG=1 at half of WatchdogSec) when systemd asked for
 * one. The timer is freed by notify_shutdown(). */
void notify_init(struct event_base *base);
void notify_ready(void);
void notify_reloading(void);
void notify_stopping(void);
/* STATUS=... ; sent only when the text changed since the last call. */
void notify_status(const char *text);
void notify_shutdown(void);

#endif
