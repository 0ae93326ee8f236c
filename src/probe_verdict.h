/* probe_verdict.h - verdicts of the probe kinds besides the JSON contract: an HTTP
 * answer judged by its code (and optionally its body), an exec probe by its exit.
 *
 * Pure: no I/O, no global state (unit_probe links it alone). */
#ifndef INSTANCED_PROBE_VERDICT_H
#define INSTANCED_PROBE_VERDICT_H

#include <stddef.h>

#include "supervisor.h"

/* Longest message taken from an exec probe's output (its first line). */
#define PV_OUTPUT_MAX 200

/* An "http" probe's answer: healthy when the code is expect_status (or, with 0, any
 * 2xx or 3xx: redirects are not followed) and, when expect_body is not NULL, the body
 * (len bytes, not NUL-terminated) holds it. Else unhealthy, with why in msg. */
health_status_t pv_judge_http(long code, const char *body, size_t len, long expect_status,
                              const char *expect_body, char *msg, size_t msglen);

/* An "exec" probe's end: wait_status as from waitpid(); timed_out when it was killed
 * at the timeout (timeout_ms, for the message). Exit 0 healthy, 1 degraded (the
 * Nagios convention), anything else unhealthy. msg gets the first line of out (len
 * bytes, not NUL-terminated, control characters replaced), at most PV_OUTPUT_MAX bytes,
 * or a description of the exit when the output is empty. */
health_status_t pv_judge_exit(int wait_status, int timed_out, long timeout_ms, const char *out,
                              size_t len, char *msg, size_t msglen);

#endif
