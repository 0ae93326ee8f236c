/* status_http.h - the read-only status endpoint on status_listen (libevent evhttp). */
#ifndef INSTANCED_STATUS_HTTP_H
#define INSTANCED_STATUS_HTTP_H

#include <stddef.h>

#include "probe.h"
#include "supervisor.h"

typedef struct status_http status_http_t;

/* Bind listen ("HOST:PORT", "[V6]:PORT") on sup->base. stats may be NULL. NULL with a
 * reason in err when the address cannot be bound. */
status_http_t *status_http_new(supervisor_t *sup, const char *listen, prober_t *stats,
                               char *err, size_t errlen);

/* The address it was bound to, as given. */
const char *status_http_listen(const status_http_t *h);

/* Close the listener and every connection. */
void status_http_free(status_http_t *h);

#endif
