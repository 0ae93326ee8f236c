/* inv_value.c - inventory values: durations, sizes, booleans, paths, ${VAR} checks, and
 * the policy fields they land in. */
#include "config.h"

#include "inv_private.h"
#include "xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- ${VAR} ---------------------------------------------------------------------- */

/* Report ${VAR} without a default when VAR is unset: libconfuse would silently expand
 * it to an empty string. "${VAR:-default}" is fine. */
void inv_check_vars(loader_t *ld, const char *s, int line)
{
    for (const char *p = s; (p = strstr(p, "${")) != NULL; p += 2) {
        const char *end = strchr(p + 2, '}');
        char name[256];
        size_t n;
        if (!end)
            return;
        n = strcspn(p + 2, ":}");
        if (n == 0 || n >= sizeof(name))
            continue;
        memcpy(name, p + 2, n);
        name[n] = '\0';
        if (p[2 + n] == ':' && p[3 + n] == '-')
            continue;
        if (getenv(name) == NULL)
            inv_add_error(ld, line, "environment variable %s is not set (use ${%s:-default} "
                          "for a default)", name, name);
    }
}

/* ---- conversions ------------------------------------------------------------------ */

int inv_parse_duration(const char *s, long *ms)
{
    char *end;
    double v;

    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || v < 0)
        return -1;
    while (*end == ' ')
        end++;
    if (*end == '\0' || strcmp(end, "s") == 0 || strcmp(end, "sec") == 0)
        v *= 1000;
    else if (strcmp(end, "ms") == 0)
        ;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        v *= 60000;
    else if (strcmp(end, "h") == 0)
        v *= 3600000;
    else
        return -1;
    if (v > (double)LONG_MAX / 2)
        return -1;
    *ms = (long)(v + 0.5);
    return 0;
}

int inv_parse_size(const char *s, long long *bytes)
{
    static const struct { const char *suffix; long long mul; } units[] = {
        { "", 1 }, { "B", 1 }, { "k", 1024 }, { "K", 1024 }, { "KiB", 1024 },
        { "KB", 1000 }, { "M", 1048576 }, { "MiB", 1048576 }, { "MB", 1000000 },
        { "G", 1073741824 }, { "GiB", 1073741824 }, { "GB", 1000000000 },
    };
    char *end;
    long long v;

    if (!s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno)
        return -1;
    while (*end == ' ')
        end++;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(end, units[i].suffix) == 0) {
            if (v > LLONG_MAX / units[i].mul)
                return -1;
            *bytes = v * units[i].mul;
            return 0;
        }
    return -1;
}

static int parse_bool(const char *s, int *out)
{
    static const char *yes[] = { "true", "yes", "on", "1" }, *no[] = { "false", "no", "off", "0" };
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return *out = 1, 0;
        if (strcasecmp(s, no[i]) == 0)
            return *out = 0, 0;
    }
    return -1;
}

const char *inv_restart_name(inv_restart_t r)
{
    return r == INV_RESTART_ON_FAILURE ? "on-failure" : r == INV_RESTART_NEVER ? "never" : "always";
}

/* A cgroup limit: "max" (INV_LIMIT_MAX), or a number above 0, a size with its unit
 * when sizes is set (memory_max = 512MiB). 0, or -1. */
static int parse_limit(const char *s, int sizes, long long *out)
{
    long long v;
    char *end;

    if (strcmp(s, "max") == 0)
        return *out = INV_LIMIT_MAX, 0;
    if (sizes) {
        if (inv_parse_size(s, &v) < 0)
            return -1;
    } else {
        if (!isdigit((unsigned char)*s))
            return -1;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || *end)
            return -1;
    }
    if (v <= 0 || v == INV_LIMIT_MAX)
        return -1;
    *out = v;
    return 0;
}

/* cgroup v2's bounds for cpu.max: a period of 1 ms to 1 s, a quota of at least 1 ms. */
#define CPU_PERIOD_MIN 1000LL
#define CPU_PERIOD_MAX 1000000LL
#define CPU_PERIOD_DEFAULT 100000LL
#define CPU_QUOTA_MAX (1LL << 40) /* about 12 days per period: any real machine */

int inv_parse_cpu_max(const char *s, inv_cpu_max_t *out)
{
    inv_cpu_max_t v = { 0, CPU_PERIOD_DEFAULT };
    const char *p = s;
    char *end;

    if (!s || !*s)
        return -1;
    if (strncmp(p, "max", 3) == 0 && (p[3] == '\0' || p[3] == ' ')) {
        v.quota_us = INV_LIMIT_MAX;
        p += 3;
    } else if (isdigit((unsigned char)*p)) {
        double pct;
        errno = 0;
        if (strchr(p, '%')) {
            pct = strtod(p, &end);
            if (errno || end == p || strcmp(end, "%") != 0 || !(pct > 0) ||
                pct * 1000 > (double)CPU_QUOTA_MAX)
                return -1;
            /* N% of one CPU: N ms of CPU time per 100 ms. */
            v.quota_us = (long long)(pct * (CPU_PERIOD_DEFAULT / 100) + 0.5);
            if (v.quota_us < CPU_PERIOD_MIN)
                return -1;
            *out = v;
            return 0;
        }
        v.quota_us = strtoll(p, &end, 10);
        if (errno || end == p || v.quota_us < CPU_PERIOD_MIN || v.quota_us > CPU_QUOTA_MAX ||
            *end != ' ')
            return -1;
        p = end;
    } else {
        return -1;
    }
    if (*p == ' ') {
        while (*p == ' ')
            p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        errno = 0;
        v.period_us = strtoll(p, &end, 10);
        if (errno || *end || v.period_us < CPU_PERIOD_MIN || v.period_us > CPU_PERIOD_MAX)
            return -1;
    }
    *out = v;
    return 0;
}

/* Absolute paths stay; relative ones are taken from the inventory's directory. */
static char *resolve_path(const char *dir, const char *p)
{
    if (p[0] == '/' || !dir)
        return xstrdup(p);
    return xasprintf("%s/%s", dir, p);
}

/* Convert text for key k into the field at base + k->offset. 0, or -1 with err set. */
int inv_set_value(const inv_key_t *k, const char *text, const char *dir, void *base,
                  char *err, size_t errlen)
{
    void *f = (char *)base + k->offset;
    long n;
    char *end;

    switch (k->type) {
    case T_STR:
        /* Values are never echoed here: a URL or an env value may hold a secret. */
        if (strlen(text) > INV_MAX_VALUE)
            return snprintf(err, errlen, "%s is longer than %d bytes", k->name,
                            INV_MAX_VALUE), -1;
        free(*(char **)f);
        *(char **)f = xstrdup(text);
        return 0;
    case T_PATH: {
        char *path;
        if (*text == '\0')
            return snprintf(err, errlen, "%s must not be empty", k->name), -1;
        path = resolve_path(dir, text);
        if (strlen(path) >= PATH_MAX) {
            free(path);
            return snprintf(err, errlen, "%s is longer than %d bytes (PATH_MAX)", k->name,
                            PATH_MAX - 1), -1;
        }
        free(*(char **)f);
        *(char **)f = path;
        return 0;
    }
    case T_INT:
    case T_PORT:
        errno = 0;
        n = strtol(text, &end, 10);
        if (errno || end == text || *end || n < 0 || n > INT_MAX ||
            (k->type == T_PORT && (n < 1 || n > 65535)))
            return snprintf(err, errlen, "%s: \"%s\" is not %s", k->name, text,
                            k->type == T_PORT ? "a port (1-65535)" : "a non-negative integer"), -1;
        if (k->type == T_PORT)
            *(int *)f = (int)n;
        else
            *(long *)f = n;
        return 0;
    case T_DURATION:
        if (inv_parse_duration(text, (long *)f) < 0)
            return snprintf(err, errlen, "%s: \"%s\" is not a duration (e.g. 500ms, 10s, 2m)",
                            k->name, text), -1;
        return 0;
    case T_SIZE:
        if (inv_parse_size(text, (long long *)f) < 0)
            return snprintf(err, errlen, "%s: \"%s\" is not a size (e.g. 10MiB)", k->name,
                            text), -1;
        return 0;
    case T_BOOL:
        if (parse_bool(text, (int *)f) < 0)
            return snprintf(err, errlen, "%s: \"%s\" is not a boolean (true or false)", k->name,
                            text), -1;
        return 0;
    case T_RESTART:
        if (strcmp(text, "always") == 0)
            *(inv_restart_t *)f = INV_RESTART_ALWAYS;
        else if (strcmp(text, "on-failure") == 0)
            *(inv_restart_t *)f = INV_RESTART_ON_FAILURE;
        else if (strcmp(text, "never") == 0)
            *(inv_restart_t *)f = INV_RESTART_NEVER;
        else
            return snprintf(err, errlen, "restart: \"%s\" is not always, on-failure or never",
                            text), -1;
        return 0;
    case T_LIMIT:
    case T_COUNT:
        if (parse_limit(text, k->type == T_LIMIT, (long long *)f) < 0)
            return snprintf(err, errlen, "%s: \"%s\" is not %s or max", k->name, text,
                            k->type == T_LIMIT ? "a size above 0 (e.g. 512MiB)"
                                               : "a number above 0"), -1;
        return 0;
    case T_WEIGHT:
        errno = 0;
        n = strtol(text, &end, 10);
        if (errno || end == text || *end || n < 1 || n > 10000)
            return snprintf(err, errlen, "%s: \"%s\" is not a weight (1-10000)", k->name,
                            text), -1;
        *(long *)f = n;
        return 0;
    case T_CPU_MAX:
        if (inv_parse_cpu_max(text, (inv_cpu_max_t *)f) < 0)
            return snprintf(err, errlen, "%s: \"%s\" is not max, a share of one CPU (50%%, "
                            "200%%) or QUOTA PERIOD in microseconds (50000 100000; a period "
                            "of 1000 to 1000000, a quota of at least 1000)", k->name, text), -1;
        return 0;
    case T_ABSPATH:
        if (text[0] != '/')
            return snprintf(err, errlen, "%s must be an absolute path", k->name), -1;
        if (strlen(text) >= PATH_MAX)
            return snprintf(err, errlen, "%s is longer than %d bytes (PATH_MAX)", k->name,
                            PATH_MAX - 1), -1;
        free(*(char **)f);
        *(char **)f = xstrdup(text);
        return 0;
    case T_LIST:
        break;
    }
    return 0;
}

void inv_policy_free(inv_policy_t *p)
{
    free(p->health_path);
    free(p->user);
    free(p->group);
    p->health_path = p->user = p->group = NULL;
    free(p->health_check);
    free(p->health_expect_body);
    inv_strv_free(p->health_command);
    p->health_check = p->health_expect_body = NULL;
    p->health_command = NULL;
}

/* Bytes of a scalar field of this type (0 for strings and lists, handled apart). */
size_t inv_field_size(key_type_t t)
{
    switch (t) {
    case T_INT:
    case T_DURATION:
    case T_WEIGHT:
        return sizeof(long);
    case T_SIZE:
    case T_LIMIT:
    case T_COUNT:
        return sizeof(long long);
    case T_CPU_MAX:
        return sizeof(inv_cpu_max_t);
    case T_BOOL:
    case T_PORT:
        return sizeof(int);
    case T_RESTART:
        return sizeof(inv_restart_t);
    default:
        return 0;
    }
}

int inv_is_string(key_type_t t) { return t == T_STR || t == T_PATH || t == T_ABSPATH; }

/* Copy one policy key's value from src to dst, duplicating strings. */
void inv_policy_copy_key(const inv_key_t *k, inv_policy_t *dst, const inv_policy_t *src)
{
    void *d = (char *)dst + k->offset;
    const void *s = (const char *)src + k->offset;

    if (inv_is_string(k->type)) {
        free(*(char **)d);
        *(char **)d = *(char *const *)s ? xstrdup(*(char *const *)s) : NULL;
    } else {
        memcpy(d, s, inv_field_size(k->type));
    }
}

void inv_default_policy(inv_policy_t *p)
{
    char err[256];
    memset(p, 0, sizeof(*p));
    for (size_t i = 0; i < INV_NKEYS; i++)
        if (inv_keys[i].target == TG_POLICY && inv_keys[i].def)
            inv_set_value(&inv_keys[i], inv_keys[i].def, NULL, p, err, sizeof(err));
}

char *inv_dir_of(const char *path)
{
    char buf[PATH_MAX];
    const char *slash = strrchr(path, '/');

    if (path[0] != '/') {
        /* Relative paths in the file must not change meaning when the supervisor later
         * chdirs, so anchor the directory to the current one now. */
        if (!getcwd(buf, sizeof(buf)))
            return NULL;
        if (slash)
            return xasprintf("%s/%.*s", buf, (int)(slash - path), path);
        return xstrdup(buf);
    }
    if (slash == path)
        return xstrdup("/");
    return xstrndup(path, (size_t)(slash - path));
}
