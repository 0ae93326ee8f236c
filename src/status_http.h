/* status_http.h - the read-only status endpoint on status_listen (libevent evhttp). */
#ifndef INSTANCED_STATUS_HTTP_H
#define INSTANCED_STATUS_HTTP_H

#include <stddef.h>

#include "probe.h"
#include "supervisor.h"

typedef struct status_http status_http_t;

/* A connection must deliver a whole request within this many seconds of its accept
 * or of its previous answer, however slowly its bytes trickle in; else it is closed. */
#define STATUS_REQUEST_DEADLINE_S 10

/* Bounds of the default connection cap (status_http_default_max_conns). */
#define STATUS_MAX_CONNS_FLOOR 4
#define STATUS_MAX_CONNS_CEILING 256

/* The default cap on concurrent status connections: a quarter of the soft open-file
 * limit (the rest stays for workers, probes and the control socket), at least
 * STATUS_MAX_CONNS_FLOOR and at most STATUS_MAX_CONNS_CEILING. */
int status_http_default_max_conns(void);

/* Bind listen ("HOST:PORT", "[V6]:PORT") on sup->base. stats may be NULL. At most
 * max_conns connections are served at once (0: status_http_default_max_conns());
 * at the cap the endpoint stops accepting until one ends. NULL with a reason in err
 * when the address cannot be bound. */
status_http_t *status_http_new(supervisor_t *sup, const char *listen, prober_t *stats,
                               int max_conns, char *err, size_t errlen);

/* Change the cap (0: the default) without rebinding, e.g. after a reload. A lower cap
 * takes effect as connections end. 0, or -1 when out of memory (the old cap stays). */
int status_http_set_max_conns(status_http_t *h, int max_conns);

/* The address it was bound to, as given. */
const char *status_http_listen(const status_http_t *h);

/* Close the listener and every connection. */
void status_http_free(status_http_t *h);

#endif
