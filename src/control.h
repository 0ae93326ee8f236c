/* control.h - the control socket: instancectl's commands on a unix socket.
 *
 * Protocol: the client sends one line ("status", "status NAME", "start NAME",
 * "stop NAME", "restart NAME", "reload"); the supervisor answers one JSON object
 * followed by a newline and closes the connection:
 *   {"ok":true, ...}  or  {"ok":false,"error":"...", ...}
 * status adds "status" (combined or the instance's) and "instances" (an array of the
 * objects of GET /api/v1/instances); reload adds "message" (the summary) or
 * "errors" (every validation error of the rejected inventory).
 *
 * One request streams: "logs [-f] [-n N] [NAME...]" (no NAME: every instance). Its
 * answer is a sequence of JSON lines: first the usual object ({"ok":false,...} alone
 * for an unknown name, or {"ok":true,"instances":[{"name":...,"colour":1-6},...]}),
 * then one {"instance":NAME,"line":TEXT} per log line (the last N of each instance,
 * oldest first, per instance in turn), then {"end":true} and the close. With -f,
 * {"live":true} follows the history instead, then the instances' new lines as log
 * capture writes them, until the client closes. A follower that does not read what
 * it is sent gets {"end":true,"error":"..."} and is closed: the supervisor never
 * holds more than CONTROL_FOLLOW_MAX bytes for it. */
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

/* Close the listener, every open client and remove the socket file. The one client
 * whose request is running (a reload that moved the socket) gets its answer and is
 * closed then. */
void control_free(control_t *c);

typedef enum {
    CONTROL_STATUS,
    CONTROL_START,
    CONTROL_STOP,
    CONTROL_RESTART,
    CONTROL_RELOAD,
    CONTROL_LOGS,
    CONTROL_PAUSE,
    CONTROL_RESUME,
    CONTROL_CLUSTER, /* cluster status|drain NODE|undrain NODE|move NAME NODE|rebalance */
} control_verb_t;

/* Lines sent for "logs" without -n, as tail does. */
#define CONTROL_LOGS_DEFAULT 10
/* Bytes queued for one follower (unsent answer) before it is dropped. */
#define CONTROL_FOLLOW_MAX (1024 * 1024)

/* One parsed request. */
typedef struct {
    control_verb_t verb;
    int has_name;                      /* status NAME, and always for the mutations */
    char name[CONTROL_LINE_MAX + 1];   /* logs: the names, each followed by a NUL */
    size_t nnames;                     /* logs: how many (0: every instance) */
    long lines;                        /* logs -n (CONTROL_LOGS_DEFAULT) */
    int follow;                        /* logs -f */
} control_cmd_t;

/* Parse one request line of len bytes (without its newline; it may hold any byte).
 * Words are separated by blanks (space, tab, CR); NUL and other control bytes, a line
 * longer than CONTROL_LINE_MAX, an unknown command or a wrong number of words are
 * refused: -1 with the client's error message in err. Pure. */
int control_parse(const char *line, size_t len, control_cmd_t *out, char *err,
                  size_t errlen);

/* Run a parsed request against the supervisor and return the answer (a new
 * reference). A rejected reload logs every error, as SIGHUP's reload does. For logs,
 * the answer is the stream's first line (the names checked); the socket streams the
 * rest. */
struct json_t;
struct json_t *control_run(supervisor_t *sup, const control_cmd_t *cmd);

/* control_parse + control_run for a C string (an error answer if it does not parse).
 * Exposed for tests. */
struct json_t *control_execute(supervisor_t *sup, const char *line);

/* {"ok": false, "error": formatted}: the answer to a refused request. */
struct json_t *control_answer_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
