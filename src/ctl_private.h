/* ctl_private.h - what instancectl's modules share: exit codes, limits, and the
 * client side of one control-socket exchange (ctl.c). */
#ifndef INSTANCED_CTL_PRIVATE_H
#define INSTANCED_CTL_PRIVATE_H

#include <jansson.h>

#define DEFAULT_SOCKET "/run/instanced/control.sock"
#define ANSWER_MAX (16 * 1024 * 1024)
#define DEFAULT_TIMEOUT_S 10.0
#define MAX_TIMEOUT_S 86400.0

enum {
    EXIT_OK = 0,
    EXIT_DEGRADED = 1,
    EXIT_REFUSED = 1,
    EXIT_UNHEALTHY = 2,
    EXIT_UNREACHABLE = 3,
    EXIT_NOT_FOUND = 4,
    EXIT_TIMEOUT = 5,
    EXIT_USAGE = 64,
};

/* CLOCK_MONOTONIC in seconds. */
double ctl_mono_s(void);
/* poll() fd for events until the monotonic deadline: 1 ready, 0 timed out, -1 error. */
int ctl_wait_fd(int fd, short events, double deadline);
/* "no answer from PATH within N s" on stderr. */
void ctl_no_answer(const char *path, double timeout);
/* Connect to path and send line; the connected descriptor, or -1 with *rc set (and the
 * reason printed). */
int ctl_send_request(const char *path, const char *line, double timeout, double deadline,
                     int *rc);
/* Send one line and read the whole answer, all within timeout seconds (malloc'd,
 * NUL-terminated). NULL (with a message on stderr and *rc set to the exit code) when
 * the supervisor cannot be reached or does not answer in time. */
char *ctl_request(const char *path, const char *line, double timeout, int *rc);
/* The string member key of o, "" when there is none. */
const char *ctl_jstr(json_t *o, const char *key);

/* instancectl logs (ctl_logs.c). */
int ctl_logs(const char *sock, double timeout, int json, int argc, char **argv);

#endif
