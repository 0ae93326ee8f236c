/* fuzz_worker.c - libFuzzer target for the worker runtime's request and configuration
 * validation: audit events from JSON, "older_than" cutoffs, UUID and RFC 3339 checks,
 * the environment contract (wcfg_load) and redis:// URLs.
 *
 * The first input byte picks what is fuzzed, the rest is its input:
 *   0  a request body: one event object or an array, as the API parses it (rejecting
 *      duplicate keys), validated with flags from the second byte
 *   1  an "older_than" value (ac_parse_cutoff) and the two format checks
 *   2  an environment: NAME=VALUE lines for wcfg_load
 *   3  a REDIS_URL for wcfg_parse_redis_url
 * Besides memory safety and leaks, the promises callers rely on are checked: an
 * accepted event's id is a lower-case UUID and its timestamp valid, a rejection names
 * a field and a reason, an accepted cutoff is itself a valid RFC 3339 time. */
#include "config.h"

#include "ac_event.h"
#include "wrt_config.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NOW 1760000000LL   /* 2025-10-09, a fixed "now" keeps runs reproducible */
#define FUZZ_ENV_MAX 32

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_worker: %s: \"%s\"\n", what, detail ? detail : "(null)");
    abort();
}

static char *cstring(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

static void check_event(json_t *obj, int flags)
{
    ac_event_t ev;
    const char *field = NULL;
    char err[200];

    err[0] = '\0';
    if (ac_event_from_json(obj, flags, &ev, &field, err, sizeof(err)) < 0) {
        if (!field || !err[0])
            fail("rejected without a field or a reason", err);
        if (!memchr(err, '\0', sizeof(err)))
            fail("error not terminated", "");
        return;
    }
    if (ev.p[AC_P_ID]) {
        if (!ac_valid_uuid(ev.p[AC_P_ID]))
            fail("accepted id is not a UUID", ev.p[AC_P_ID]);
        for (const char *c = ev.p[AC_P_ID]; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                fail("accepted id is not lower case", ev.p[AC_P_ID]);
    } else if (flags & AC_EV_REQUIRE_ID) {
        fail("accepted an event without the required id", "");
    }
    if (ev.p[AC_P_TIMESTAMP] && !ac_valid_time(ev.p[AC_P_TIMESTAMP]))
        fail("accepted timestamp is not RFC 3339", ev.p[AC_P_TIMESTAMP]);
    if (!(flags & AC_EV_PARTIAL) && (!ev.p[AC_P_SERVICE] || !ev.p[AC_P_TYPE]))
        fail("accepted an event without service_name or event_type", "");
    ac_event_clear(&ev);
}

static void fuzz_events(const uint8_t *data, size_t size)
{
    static const int flag_sets[] = { AC_EV_CREATE, AC_EV_REQUIRE_ID | AC_EV_PARTIAL,
                                     AC_EV_PARTIAL, AC_EV_REQUIRE_ID };
    json_error_t jerr;
    json_t *j;
    int flags;

    if (size < 1)
        return;
    flags = flag_sets[data[0] % 4];
    j = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        return;
    if (json_is_array(j)) {
        size_t i;
        json_t *o;
        json_array_foreach(j, i, o) {
            if (i >= 100)
                break;
            check_event(o, flags);
        }
    } else {
        check_event(j, flags);
    }
    json_decref(j);
}

static void fuzz_cutoff(const uint8_t *data, size_t size)
{
    char *s = cstring(data, size);
    char out[64];   /* the size the API passes */

    memset(out, 'x', sizeof(out));
    if (ac_parse_cutoff(s, FUZZ_NOW, out, sizeof(out))) {
        if (!memchr(out, '\0', sizeof(out)))
            fail("cutoff not terminated", s);
        if (!ac_valid_time(out))
            fail("accepted cutoff is not an RFC 3339 time", out);
    }
    if (ac_valid_uuid(s) && strlen(s) != 36)
        fail("UUID of the wrong length accepted", s);
    (void)ac_valid_time(s);
    free(s);
}

typedef struct {
    char *name[FUZZ_ENV_MAX];
    char *value[FUZZ_ENV_MAX];
    int n;
} fenv_t;

static const char *fenv_get(const char *name, void *arg)
{
    const fenv_t *e = arg;
    for (int i = 0; i < e->n; i++)
        if (strcmp(e->name[i], name) == 0)
            return e->value[i];
    return NULL;
}

static void fuzz_env(const uint8_t *data, size_t size)
{
    char *text = cstring(data, size), *line, *save = NULL;
    fenv_t env = { .n = 0 };
    wcfg_t c;
    char err[256];

    for (line = strtok_r(text, "\n", &save); line && env.n < FUZZ_ENV_MAX;
         line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        env.name[env.n] = line;
        env.value[env.n++] = eq + 1;
    }
    err[0] = '\0';
    if (wcfg_load(&c, fenv_get, &env, err, sizeof(err)) == 0) {
        if (!c.service[0] || !c.instance[0] || !c.postgres_url || !c.redis_url)
            fail("accepted configuration lacks a name or a URL", c.service);
        if (c.http_port < 0 || c.http_port > 65535)
            fail("accepted an out-of-range port", c.service);
        wcfg_free(&c);
    } else if (!err[0]) {
        fail("rejected without a reason", "");
    }
    free(text);
}

static void fuzz_redis_url(const uint8_t *data, size_t size)
{
    char *url = cstring(data, size);
    wcfg_redis_url_t r;
    char err[256];

    if (wcfg_parse_redis_url(url, &r, err, sizeof(err)) == 0) {
        if (!memchr(r.host, '\0', sizeof(r.host)) || !memchr(r.user, '\0', sizeof(r.user)) ||
            !memchr(r.password, '\0', sizeof(r.password)))
            fail("parsed URL part not terminated", url);
        if (r.port < 1 || r.port > 65535 || r.db < 0)
            fail("accepted a bad port or database", url);
    }
    free(url);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 4) {
    case 0: fuzz_events(data + 1, size - 1); break;
    case 1: fuzz_cutoff(data + 1, size - 1); break;
    case 2: fuzz_env(data + 1, size - 1); break;
    default: fuzz_redis_url(data + 1, size - 1); break;
    }
    return 0;
}
