/* ac_event.c - audit events from JSON: validation and the query-parameter form. Pure. */
#include "config.h"

#include "ac_event.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AC_TEXT_MAX 256   /* identifiers, names and types */

int ac_valid_uuid(const char *s)
{
    static const int dash[] = { 8, 13, 18, 23 };
    size_t d = 0;
    if (!s || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        if (d < 4 && i == dash[d]) {
            if (s[i] != '-')
                return 0;
            d++;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

int ac_valid_time(const char *s)
{
    static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int y, mo, d, h, mi, se, oh, om;

    if (!s || strlen(s) < 20)
        return 0;
    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &se))
        return 0;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
        se > 60)
        return 0;
    s += 19;
    if (*s == '.') {
        int n = 0;
        for (s++; isdigit((unsigned char)*s); s++)
            n++;
        if (n == 0 || n > 9)
            return 0;
    }
    if ((*s == 'Z' || *s == 'z') && s[1] == '\0')
        return 1;
    if ((*s == '+' || *s == '-') && strlen(s) == 6 && digits(s + 1, 2, &oh) && s[3] == ':' &&
        digits(s + 4, 2, &om) && oh <= 23 && om <= 59)
        return 1;
    return 0;
}

int ac_parse_cutoff(const char *s, long long now, char *out, size_t outlen)
{
    char *end;
    long long n, mult;
    time_t t;
    struct tm tm;

    if (!s || !*s)
        return 0;
    if (ac_valid_time(s)) {
        snprintf(out, outlen, "%s", s);
        return 1;
    }
    if (!isdigit((unsigned char)*s))
        return 0;
    n = strtoll(s, &end, 10);
    if (end[0] == '\0' || end[1] != '\0' || n < 0 || n > 100000000LL)
        return 0;
    switch (*end) {
    case 's': mult = 1; break;
    case 'm': mult = 60; break;
    case 'h': mult = 3600; break;
    case 'd': mult = 86400; break;
    default: return 0;
    }
    t = (time_t)(now - n * mult);
    /* A duration reaching before year 1000 (100000000d is accepted above) would
     * format a year that is not four digits, which the database rejects. */
    if (!gmtime_r(&t, &tm) || strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0 ||
        !ac_valid_time(out))
        return 0;
    return 1;
}

static int bad(const char **field, const char *name, char *err, size_t errlen, const char *msg)
{
    *field = name;
    snprintf(err, errlen, "%s: %s", name, msg);
    return -1;
}

/* A short text field: a JSON string, not empty, at most AC_TEXT_MAX bytes. */
static int text(json_t *v, const char *name, int required, const char **dst,
                const char **field, char *err, size_t errlen)
{
    if (!v || json_is_null(v)) {
        if (required)
            return bad(field, name, err, errlen, "is required");
        *dst = NULL;
        return 0;
    }
    if (!json_is_string(v))
        return bad(field, name, err, errlen, "must be a string");
    if (json_string_length(v) == 0)
        return bad(field, name, err, errlen, "must not be empty");
    if (json_string_length(v) > AC_TEXT_MAX || strlen(json_string_value(v)) !=
                                                   json_string_length(v))
        return bad(field, name, err, errlen, "is too long or contains NUL");
    *dst = json_string_value(v);
    return 0;
}

int ac_event_from_json(json_t *obj, int flags, ac_event_t *ev, const char **field,
                       char *err, size_t errlen)
{
    static const char *const known[] = { "id", "trace_id", "span_id", "correlation_id",
                                         "service_name", "event_type", "timestamp",
                                         "duration_ms", "status", "metadata", "tags",
                                         "created_at", "updated_at", NULL };
    const int required = !(flags & AC_EV_PARTIAL);
    const char *key;
    json_t *v;

    memset(ev, 0, sizeof(*ev));
    *field = NULL;
    if (!json_is_object(obj))
        return bad(field, "event", err, errlen, "must be a JSON object");
    json_object_foreach(obj, key, v) {
        int ok = 0;
        for (int i = 0; known[i]; i++)
            ok |= strcmp(key, known[i]) == 0;
        if (!ok) {
            /* The key is client input and borrowed from obj, like the values. */
            *field = key;
            snprintf(err, errlen, "unknown field \"%.64s\"", key);
            return -1;
        }
    }
    if (text(json_object_get(obj, "id"), "id", flags & AC_EV_REQUIRE_ID, &ev->p[AC_P_ID], field,
             err, errlen) < 0)
        return -1;
    if (ev->p[AC_P_ID]) {
        if (!ac_valid_uuid(ev->p[AC_P_ID]))
            return bad(field, "id", err, errlen, "must be a UUID");
        for (int i = 0; i < 37; i++)
            ev->id[i] = (char)tolower((unsigned char)ev->p[AC_P_ID][i]);
        ev->p[AC_P_ID] = ev->id;
    }
    if (text(json_object_get(obj, "trace_id"), "trace_id", 0, &ev->p[AC_P_TRACE], field, err,
             errlen) < 0 ||
        text(json_object_get(obj, "span_id"), "span_id", 0, &ev->p[AC_P_SPAN], field, err,
             errlen) < 0 ||
        text(json_object_get(obj, "correlation_id"), "correlation_id", 0,
             &ev->p[AC_P_CORRELATION], field, err, errlen) < 0 ||
        text(json_object_get(obj, "service_name"), "service_name", required,
             &ev->p[AC_P_SERVICE], field, err, errlen) < 0 ||
        text(json_object_get(obj, "event_type"), "event_type", required, &ev->p[AC_P_TYPE],
             field, err, errlen) < 0 ||
        text(json_object_get(obj, "timestamp"), "timestamp", 0, &ev->p[AC_P_TIMESTAMP], field,
             err, errlen) < 0 ||
        text(json_object_get(obj, "status"), "status", 0, &ev->p[AC_P_STATUS], field, err,
             errlen) < 0)
        return -1;
    if (ev->p[AC_P_TIMESTAMP] && !ac_valid_time(ev->p[AC_P_TIMESTAMP]))
        return bad(field, "timestamp", err, errlen, "must be an RFC 3339 time");
    v = json_object_get(obj, "duration_ms");
    if (v && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return bad(field, "duration_ms", err, errlen, "must be a non-negative integer");
        snprintf(ev->duration, sizeof(ev->duration), "%lld",
                 (long long)json_integer_value(v));
        ev->p[AC_P_DURATION] = ev->duration;
    }
    v = json_object_get(obj, "metadata");
    if (v && !json_is_null(v)) {
        if (!json_is_object(v))
            return bad(field, "metadata", err, errlen, "must be a JSON object");
        ev->metadata = json_dumps(v, JSON_COMPACT);
        if (!ev->metadata)
            return bad(field, "metadata", err, errlen, "cannot be encoded");
        ev->p[AC_P_METADATA] = ev->metadata;
    }
    v = json_object_get(obj, "tags");
    if (v && !json_is_null(v)) {
        size_t i;
        json_t *t;
        if (!json_is_array(v)) {
            ac_event_clear(ev);   /* metadata may be set: a rejected event owns nothing */
            return bad(field, "tags", err, errlen, "must be an array of strings");
        }
        json_array_foreach(v, i, t) {
            if (!json_is_string(t) || json_string_length(t) > AC_TEXT_MAX ||
                strlen(json_string_value(t)) != json_string_length(t)) {
                ac_event_clear(ev);
                return bad(field, "tags", err, errlen, "must be an array of strings");
            }
        }
        ev->tags = json_dumps(v, JSON_COMPACT);
        if (!ev->tags) {
            ac_event_clear(ev);
            return bad(field, "tags", err, errlen, "cannot be encoded");
        }
        ev->p[AC_P_TAGS] = ev->tags;
    }
    return 0;
}

void ac_event_clear(ac_event_t *ev)
{
    free(ev->metadata);
    free(ev->tags);
    memset(ev, 0, sizeof(*ev));
}
