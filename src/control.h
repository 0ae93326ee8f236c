/* control.h - the control socket: instancectl's commands on a unix socket.
 *
 * Protocol: the client sends one line ("status", "status NAME", "start NAME",
 * "stop NAME", "restart NAME", "reload"); the supervisor answers one JSON object
 * followed by a newline and closes the connection:
 *   {"ok":true, ...}  or  {"ok":false,"error":"...", ...}
 * status adds "status" (combined or the instance's) and "instances" (an array of the
 * objects of GET /api/v1/instances); reload adds "message" (the summary) or
 * "errors" (every validation error of the rejected inventory). */
#ifndef INSTANCED_CONTROL_H
#define INSTANCED_CONTROL_H

#include <stddef.h>

#include "supervisor.h"

typedef struct control control_t;

/* Longest request line accepted. */
#define CONTROL_LINE_MAX 1024

/* Create the socket at path with mode 0660 (its directory with 0750 when missing).
 * A stale socket is replaced; one another process still answers on is an error.
 * NULL with a reason in err on failure. */
control_t *control_new(supervisor_t *sup, const char *path, char *err, size_t errlen);

const char *control_path(const control_t *c);

/* Close the listener and remove the socket file. Connections being served finish
 * on their own. */
void control_free(control_t *c);

/* Run one request line and return the answer (a new reference). Exposed for tests. */
struct json_t;
struct json_t *control_execute(supervisor_t *sup, const char *line);

#endif
