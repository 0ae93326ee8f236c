/* probe_verdict.c - verdicts of http and exec probes. */
#include "config.h"

#include "probe_verdict.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

/* memmem without _GNU_SOURCE assumptions about the body (it may hold NULs). */
static int contains(const char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);

    if (n == 0)
        return 1;
    for (size_t i = 0; hay && i + n <= len; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return 1;
    return 0;
}

health_status_t pv_judge_http(long code, const char *body, size_t len, long expect_status,
                              const char *expect_body, char *msg, size_t msglen)
{
    msg[0] = '\0';
    if (expect_status ? code != expect_status : (code < 200 || code > 399)) {
        if (expect_status)
            snprintf(msg, msglen, "HTTP %ld, expected %ld", code, expect_status);
        else
            snprintf(msg, msglen, "HTTP %ld", code);
        return HEALTH_UNHEALTHY;
    }
    if (expect_body && !contains(body, len, expect_body)) {
        snprintf(msg, msglen, "HTTP %ld, the answer does not contain \"%.80s\"", code,
                 expect_body);
        return HEALTH_UNHEALTHY;
    }
    return HEALTH_HEALTHY;
}

/* The first line of out, printable, at most PV_OUTPUT_MAX bytes, into line. */
static size_t first_line(const char *out, size_t len, char *line, size_t cap)
{
    size_t n = 0;

    for (size_t i = 0; out && i < len && out[i] != '\n' && n + 1 < cap && n < PV_OUTPUT_MAX;
         i++)
        line[n++] = (unsigned char)out[i] < ' ' || out[i] == 0x7f ? ' ' : out[i];
    while (n > 0 && line[n - 1] == ' ')
        n--;
    line[n] = '\0';
    return n;
}

health_status_t pv_judge_exit(int wait_status, int timed_out, long timeout_ms, const char *out,
                              size_t len, char *msg, size_t msglen)
{
    char line[PV_OUTPUT_MAX + 1];
    size_t n = first_line(out, len, line, sizeof line);
    health_status_t h = HEALTH_UNHEALTHY;

    if (timed_out) {
        snprintf(msg, msglen, "health command killed after %ld ms%s%s", timeout_ms,
                 n ? ": " : "", line);
        return HEALTH_UNHEALTHY;
    }
    if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0)
        h = HEALTH_HEALTHY;
    else if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 1)
        h = HEALTH_DEGRADED;
    if (n)
        snprintf(msg, msglen, "%s", line);
    else if (h == HEALTH_HEALTHY)
        msg[0] = '\0';
    else if (WIFEXITED(wait_status))
        snprintf(msg, msglen, "health command exited with status %d", WEXITSTATUS(wait_status));
    else if (WIFSIGNALED(wait_status))
        snprintf(msg, msglen, "health command killed by signal %d", WTERMSIG(wait_status));
    else
        snprintf(msg, msglen, "health command ended");
    return h;
}
