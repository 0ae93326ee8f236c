/* probe_tcp.h - tcp health probes: a non-blocking connect to 127.0.0.1:port on the
 * supervisor's loop, healthy when it completes within the timeout. */
#ifndef INSTANCED_PROBE_TCP_H
#define INSTANCED_PROBE_TCP_H

#include <stddef.h>

#include "supervisor.h"

struct event_base;
typedef struct ptcp ptcp_t;

/* The connect ended; the handle is freed right after this returns (do not cancel it). */
typedef void (*ptcp_done_fn)(void *arg, health_status_t h, const char *msg);

/* Start a connect; the result always comes later, from the loop. NULL with err when
 * no socket could be made. */
ptcp_t *ptcp_start(struct event_base *base, int port, long timeout_ms, ptcp_done_fn done,
                   void *arg, char *err, size_t errlen);

/* Abandon and free a connect in flight; done is not called. */
void ptcp_cancel(ptcp_t *t);

#endif
