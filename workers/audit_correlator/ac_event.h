/* ac_event.h - audit events from JSON: validation and the query-parameter form. Pure. */
#ifndef AC_EVENT_H
#define AC_EVENT_H

#include <jansson.h>
#include <stddef.h>

/* Positional parameters of one event, in the order the repository's INSERT and
 * UPDATE statements use ($1..$11). NULL means "not given". */
enum {
    AC_P_ID = 0, AC_P_TRACE, AC_P_SPAN, AC_P_CORRELATION, AC_P_SERVICE, AC_P_TYPE,
    AC_P_TIMESTAMP, AC_P_DURATION, AC_P_STATUS, AC_P_METADATA, AC_P_TAGS, AC_P_COUNT
};

typedef struct ac_event {
    const char *p[AC_P_COUNT];  /* borrowed from the JSON object or from owned below */
    char id[37];                /* the id, lower-cased (cache keys use this form) */
    char duration[24];
    char *metadata;             /* owned (JSON text) */
    char *tags;                 /* owned (JSON array text) */
} ac_event_t;

/* Validate one event object and fill ev. flags: AC_EV_*. On error returns -1 with
 * the offending field name in *field (a static string, or an unknown key borrowed
 * from obj) and a message in err. ev borrows strings from obj: keep obj alive, then
 * ac_event_clear(ev). */
#define AC_EV_CREATE   0  /* service_name and event_type required */
#define AC_EV_REQUIRE_ID 1 /* "id" required (batch update) */
#define AC_EV_PARTIAL  2  /* update: every field optional */
int ac_event_from_json(json_t *obj, int flags, ac_event_t *ev, const char **field,
                       char *err, size_t errlen);
void ac_event_clear(ac_event_t *ev);

/* Format checks. Return 1 when valid. */
int ac_valid_uuid(const char *s);
int ac_valid_time(const char *s);      /* RFC 3339: 2025-10-07T12:34:56(.123)?(Z|+hh:mm) */

/* "older_than": an RFC 3339 time, or a duration ("90s", "15m", "24h", "30d") before
 * now. Writes an RFC 3339 UTC time into out. now is seconds since the epoch. */
int ac_parse_cutoff(const char *s, long long now, char *out, size_t outlen);

#endif
