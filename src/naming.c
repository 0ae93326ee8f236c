/* naming.c - the derivation rules: schema, Redis namespace, discovery key, volume dirs.
 *
 * Pure functions: no I/O, no global state. The supervisor, instancectl, the workers
 * and the unit tests all link this one file, so a worker started by hand derives the
 * same names as the supervisor does. */
#include "config.h"

#include "naming.h"
#include "errbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

static int is_lower(int c) { return c >= 'a' && c <= 'z'; }
static int is_upper(int c) { return c >= 'A' && c <= 'Z'; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }

/* Hyphen-separated words: first char from `first`, then [a-z0-9] or mixed case
 * per `upper_ok`, no empty word, no leading or trailing hyphen. */
static int valid_words(const char *s, int upper_ok)
{
    size_t n = 0;
    int prev_hyphen = 1;

    if (s == NULL || !(is_lower(s[0]) || (upper_ok && is_upper(s[0]))))
        return 0;
    for (; *s; s++, n++) {
        int c = (unsigned char)*s;
        if (c == '-') {
            if (prev_hyphen)
                return 0;
            prev_hyphen = 1;
        } else if (is_lower(c) || is_digit(c) || (upper_ok && is_upper(c))) {
            prev_hyphen = 0;
        } else {
            return 0;
        }
    }
    return !prev_hyphen && n <= NM_NAME_MAX;
}

int nm_valid_service_name(const char *s) { return valid_words(s, 0); }
int nm_valid_instance_name(const char *s) { return valid_words(s, 1); }

int nm_check_schema(const char *schema, char *err, size_t errlen)
{
    size_t len = schema ? strlen(schema) : 0;

    if (len == 0)
        return errbuf_set(err, errlen, "schema is empty");
    if (len > NM_SCHEMA_MAX)
        return errbuf_set(err, errlen, "schema \"%.80s\" is %zu bytes long (at most %d: PostgreSQL "
                    "would truncate it silently)", schema, len, NM_SCHEMA_MAX);
    if (!(is_lower(schema[0]) || schema[0] == '_'))
        return errbuf_set(err, errlen, "schema \"%s\" must start with [a-z_]", schema);
    for (const char *p = schema; *p; p++)
        if (!(is_lower(*p) || is_digit(*p) || *p == '_'))
            return errbuf_set(err, errlen, "schema \"%s\" may contain only [a-z0-9_]", schema);
    if (strcmp(schema, "public") == 0 || strcmp(schema, "information_schema") == 0 ||
        strncmp(schema, "pg_", 3) == 0)
        return errbuf_set(err, errlen, "schema \"%s\" is reserved by PostgreSQL", schema);
    return 0;
}

int nm_check_namespace(const char *ns, char *err, size_t errlen)
{
    size_t len = ns ? strlen(ns) : 0;

    if (len == 0)
        return errbuf_set(err, errlen, "namespace is empty");
    if (len > NM_NAMESPACE_MAX)
        return errbuf_set(err, errlen, "namespace is %zu bytes long (at most %d)", len, NM_NAMESPACE_MAX);
    for (const char *p = ns; *p; p++) {
        int c = (unsigned char)*p;
        if (!(is_lower(c) || is_upper(c) || is_digit(c) || c == '_' || c == ':' || c == '-'))
            return errbuf_set(err, errlen, "namespace \"%.80s\" may contain only [A-Za-z0-9_:-] "
                        "(glob characters would widen Redis ACL patterns)", ns);
    }
    if (strcmp(ns, "services") == 0 || strncmp(ns, "services:", 9) == 0)
        return errbuf_set(err, errlen, "namespace \"%s\" is reserved for service discovery", ns);
    return 0;
}

int nm_namespaces_overlap(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    const char *shorter = la <= lb ? a : b, *longer = la <= lb ? b : a;
    size_t ls = la <= lb ? la : lb;

    if (strncmp(shorter, longer, ls) != 0)
        return 0;
    return longer[ls] == '\0' || longer[ls] == ':';
}

/* Copy the part of s before the first hyphen (or all of s) into out. */
static void first_part(const char *s, char *out, size_t outlen)
{
    size_t n = strcspn(s, "-");
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

static int put(char *dst, size_t dstlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int put(char *dst, size_t dstlen, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(dst, dstlen, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= dstlen ? -1 : 0;
}

int nm_derive(const nm_input_t *in, nm_derived_t *out, char *err, size_t errlen)
{
    const char *S = in->service, *I = in->instance ? in->instance : in->service;
    char buf[NM_NAME_MAX + 1];

    memset(out, 0, sizeof(*out));
    if (!nm_valid_service_name(S))
        return errbuf_set(err, errlen, "invalid service name \"%.80s\": must match "
                    "[a-z][a-z0-9]*(-[a-z0-9]+)*", S ? S : "");
    if (!nm_valid_instance_name(I))
        return errbuf_set(err, errlen, "invalid instance name \"%.80s\": must match "
                    "[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)*", I);

    out->singleton = strcmp(S, I) == 0;
    out->service_type = out->singleton ? "singleton" : "multi-instance";

    if (out->singleton) {
        first_part(S, buf, sizeof(buf));
        if (in->schema) {
            if (put(out->schema, sizeof(out->schema), "%s", in->schema) < 0)
                return errbuf_set(err, errlen, "schema \"%.80s\" is longer than %d bytes",
                            in->schema, NM_SCHEMA_MAX);
        } else {
            put(out->schema, sizeof(out->schema), "%s", buf);
        }
        if (put(out->namespace, sizeof(out->namespace), "%s",
                in->namespace ? in->namespace
                : in->namespace_prefix ? in->namespace_prefix : buf) < 0)
            return errbuf_set(err, errlen, "namespace is longer than %d bytes", NM_NAMESPACE_MAX);
    } else {
        char prefix[NM_NAME_MAX + 1];
        const char *label;
        size_t plen;

        if (in->instance_prefix)
            snprintf(prefix, sizeof(prefix), "%s", in->instance_prefix);
        else
            first_part(I, prefix, sizeof(prefix));
        plen = strlen(prefix);
        if (strncmp(I, prefix, plen) != 0 || I[plen] != '-' || I[plen + 1] == '\0')
            return errbuf_set(err, errlen, "instance \"%s\" of service \"%s\" must be named "
                        "\"%s-LABEL\"%s", I, S, prefix,
                        in->instance_prefix ? " (the service's instance_prefix)" : "");
        label = I + plen + 1;

        if (in->schema) {
            if (put(out->schema, sizeof(out->schema), "%s", in->schema) < 0)
                return errbuf_set(err, errlen, "schema \"%.80s\" is %zu bytes long (at most %d: "
                            "PostgreSQL would truncate it silently)", in->schema,
                            strlen(in->schema), NM_SCHEMA_MAX);
        } else {
            size_t n = strlen(I);
            if (n > NM_SCHEMA_MAX)
                return errbuf_set(err, errlen, "derived schema for \"%.80s\" is %zu bytes long (at "
                            "most %d: PostgreSQL would truncate it silently); set schema",
                            I, n, NM_SCHEMA_MAX);
            for (size_t i = 0; i <= n; i++) {
                char c = I[i];
                out->schema[i] = c == '-' ? '_' : is_upper(c) ? (char)(c - 'A' + 'a') : c;
            }
        }
        if (in->namespace) {
            if (put(out->namespace, sizeof(out->namespace), "%s", in->namespace) < 0)
                return errbuf_set(err, errlen, "namespace is longer than %d bytes", NM_NAMESPACE_MAX);
        } else if (put(out->namespace, sizeof(out->namespace), "%s:%s",
                       in->namespace_prefix ? in->namespace_prefix : prefix, label) < 0) {
            return errbuf_set(err, errlen, "namespace is longer than %d bytes", NM_NAMESPACE_MAX);
        }
    }

    if (nm_check_schema(out->schema, err, errlen) < 0)
        return -1;
    if (nm_check_namespace(out->namespace, err, errlen) < 0)
        return -1;
    put(out->discovery_key, sizeof(out->discovery_key), "services:%s:%s", S, I);
    return 0;
}

char *nm_volume_dir(const char *root, const char *instance, const char *leaf)
{
    size_t n = strlen(root) + strlen(instance) + strlen(leaf) + 3;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s/%s", root, instance, leaf);
    return p;
}
