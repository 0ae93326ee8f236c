/* fuzz_health.c - libFuzzer target: the verdict on a worker's health answer
 * (health_judge) for any HTTP code and any body.
 *
 * Input: the first 2 bytes are the HTTP code (big-endian, so 0..65535 covers the
 * valid codes and nonsense alike; fewer than 2 bytes means 200); the rest is the body,
 * not NUL-terminated, as libcurl hands it over. Checked beyond "no crash": a verdict
 * is one of the three a probe can give, the message is NUL-terminated within its
 * buffer, an unhealthy verdict says why, a healthy or degraded one comes only with a
 * 2xx code, and a small message buffer changes nothing but the message. The same
 * bytes, as a health_path with the code as port, make a probe URL that ends in the
 * whole path (health_probe_url). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long code = 200;
    char *body;
    char msg[256];
    char small[8];
    health_status_t h, h2;

    if (size >= 2) {
        code = ((long)data[0] << 8) | data[1];
        data += 2;
        size -= 2;
    }
    /* An exact-size copy, so that ASan sees a read past the body. */
    body = malloc(size ? size : 1);
    if (!body)
        return 0;
    if (size)
        memcpy(body, data, size);
    memset(msg, 'x', sizeof msg);
    h = health_judge(code, size ? body : NULL, size, msg, sizeof msg);
    if (h != HEALTH_HEALTHY && h != HEALTH_DEGRADED && h != HEALTH_UNHEALTHY)
        abort();
    if (!memchr(msg, '\0', sizeof msg))
        abort();
    if (h != HEALTH_UNHEALTHY && (code < 200 || code > 299))
        abort();
    if (h == HEALTH_UNHEALTHY && msg[0] == '\0')
        abort(); /* an unhealthy verdict always says why */
    /* A small message buffer gives the same verdict, cut but terminated. */
    h2 = health_judge(code, size ? body : NULL, size, small, sizeof small);
    if (h2 != h || !memchr(small, '\0', sizeof small))
        abort();
    free(body);

    /* The probe URL for the same bytes as health_path: whole, the path at its end. */
    if ((body = malloc(size + 1))) {
        char *url;
        memcpy(body, data, size);
        body[size] = '\0';
        url = health_probe_url((int)code, body);
        if ((code >= 1) != (url != NULL))
            abort();
        if (url) {
            size_t u = strlen(url), p = strlen(body);
            if (u < p || strcmp(url + u - p, body) != 0 ||
                strncmp(url, "http://127.0.0.1:", 17) != 0)
                abort();
        }
        free(url);
        free(body);
    }
    return 0;
}
