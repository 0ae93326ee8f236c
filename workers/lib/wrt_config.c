/* wrt_config.c - a worker's configuration, read from the environment contract (the
 * variables' names and meanings are in src/workerenv.h, shared with the supervisor). */
#include "config.h"

#include "wrt_config.h"
#include "errbuf.h"
#include "workerenv.h"

#include "log.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_POSTGRES_URL "postgresql://postgres@localhost:5432/trading_ecosystem"
#define DEFAULT_REDIS_URL    "redis://127.0.0.1:6379/0"

const char *wcfg_environ(const char *name, void *arg)
{
    (void)arg;
    return getenv(name);
}

static const char *get_or(wcfg_getenv_fn get, void *arg, const char *name, const char *def)
{
    const char *v = get(name, arg);
    return v && *v ? v : def;
}

static int copy(char *dst, size_t n, const char *src)
{
    return snprintf(dst, n, "%s", src) < (int)n ? 0 : -1;
}

int wcfg_load(wcfg_t *c, wcfg_getenv_fn get, void *arg, char *err, size_t errlen)
{
    const char *service = get_or(get, arg, WENV_SERVICE_NAME, NULL);
    const char *instance, *port;
    nm_input_t in = { 0 };
    nm_derived_t d;
    char *end;
    long p;

    memset(c, 0, sizeof(*c));
    if (!service)
        return errbuf_set(err, errlen, "SERVICE_NAME is not set");
    instance = get_or(get, arg, WENV_SERVICE_INSTANCE_NAME, service);
    in.service = service;
    in.instance = instance;
    in.schema = get_or(get, arg, WENV_SCHEMA_NAME, NULL);
    in.namespace = get_or(get, arg, WENV_REDIS_NAMESPACE, NULL);
    if (nm_derive(&in, &d, err, errlen) < 0)
        return -1;
    copy(c->service, sizeof(c->service), service);
    copy(c->instance, sizeof(c->instance), instance);
    copy(c->schema, sizeof(c->schema), d.schema);
    copy(c->namespace, sizeof(c->namespace), d.namespace);
    copy(c->discovery_key, sizeof(c->discovery_key), d.discovery_key);
    copy(c->service_type, sizeof(c->service_type), d.service_type);
    if (copy(c->version, sizeof(c->version), get_or(get, arg, WENV_SERVICE_VERSION, "1.0.0")) < 0)
        return errbuf_set(err, errlen, "SERVICE_VERSION is too long");
    if (copy(c->entity_type, sizeof(c->entity_type), get_or(get, arg, WENV_ENTITY_TYPE, "")) < 0)
        return errbuf_set(err, errlen, "ENTITY_TYPE is too long");
    if (copy(c->environment, sizeof(c->environment),
             get_or(get, arg, WENV_ENVIRONMENT, "development")) < 0)
        return errbuf_set(err, errlen, "ENVIRONMENT is too long");
    if (copy(c->log_level, sizeof(c->log_level), get_or(get, arg, WENV_LOG_LEVEL, "info")) < 0)
        return errbuf_set(err, errlen, "LOG_LEVEL is too long");
    if (copy(c->http_bind, sizeof(c->http_bind), get_or(get, arg, WENV_HTTP_BIND, "127.0.0.1")) < 0)
        return errbuf_set(err, errlen, "HTTP_BIND is too long");
    port = get_or(get, arg, WENV_HTTP_PORT, "8080");
    p = strtol(port, &end, 10);
    if (*end != '\0' || p < 1 || p > 65535)
        return errbuf_set(err, errlen, "HTTP_PORT \"%.20s\" is not a port number (1-65535)", port);
    c->http_port = (int)p;
    c->postgres_url = strdup(get_or(get, arg, WENV_POSTGRES_URL, DEFAULT_POSTGRES_URL));
    c->redis_url = strdup(get_or(get, arg, WENV_REDIS_URL, DEFAULT_REDIS_URL));
    c->data_dir = strdup(get_or(get, arg, WENV_DATA_DIR, ""));
    c->logs_dir = strdup(get_or(get, arg, WENV_LOGS_DIR, ""));
    if (!c->postgres_url || !c->redis_url || !c->data_dir || !c->logs_dir) {
        wcfg_free(c);
        return errbuf_set(err, errlen, "out of memory");
    }
    if (wcfg_parse_redis_url(c->redis_url, &c->redis, err, errlen) < 0) {
        wcfg_free(c);
        return -1;
    }
    return 0;
}

void wcfg_free(wcfg_t *c)
{
    free(c->postgres_url);
    free(c->redis_url);
    free(c->data_dir);
    free(c->logs_dir);
    c->postgres_url = c->redis_url = c->data_dir = c->logs_dir = NULL;
}

void wcfg_log(const wcfg_t *c)
{
    log_info("Data adapter configuration loaded", "service_name", c->service,
             "instance_name", c->instance, "schema", c->schema, "redis_namespace", c->namespace,
             "environment", c->environment, "service_type", c->service_type,
             "postgres_url", c->postgres_url, "redis_url", c->redis_url);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode s in place (userinfo of a URL); -1 on a bad escape or a NUL. */
static int pct_decode(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (*s == '%') {
            int hi = hexval(s[1]), lo = hi < 0 ? -1 : hexval(s[2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return -1;
            *o++ = (char)(hi * 16 + lo);
            s += 2;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return 0;
}

int wcfg_parse_redis_url(const char *url, wcfg_redis_url_t *out, char *err, size_t errlen)
{
    const char *p, *at, *hostend, *slash;
    size_t n;

    memset(out, 0, sizeof(*out));
    out->port = 6379;
    if (strncmp(url, "redis://", 8) != 0)
        return errbuf_set(err, errlen, "REDIS_URL must start with redis://");
    p = url + 8;
    slash = strchr(p, '/');
    at = strchr(p, '@');
    if (at && (!slash || at < slash)) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon) {
            n = (size_t)(colon - p);
            if (n >= sizeof(out->user) || (size_t)(at - colon - 1) >= sizeof(out->password))
                return errbuf_set(err, errlen, "REDIS_URL credentials are too long");
            memcpy(out->user, p, n);
            memcpy(out->password, colon + 1, (size_t)(at - colon - 1));
        } else {
            n = (size_t)(at - p);
            if (n >= sizeof(out->password))
                return errbuf_set(err, errlen, "REDIS_URL password is too long");
            memcpy(out->password, p, n);
        }
        if (pct_decode(out->user) < 0 || pct_decode(out->password) < 0)
            return errbuf_set(err, errlen, "REDIS_URL credentials have a bad %%-escape");
        p = at + 1;
    }
    hostend = p;
    while (*hostend && *hostend != ':' && *hostend != '/')
        hostend++;
    n = (size_t)(hostend - p);
    if (n == 0)
        memcpy(out->host, "127.0.0.1", 10);
    else if (n >= sizeof(out->host))
        return errbuf_set(err, errlen, "REDIS_URL host is too long");
    else
        memcpy(out->host, p, n);
    p = hostend;
    if (*p == ':') {
        char *end;
        long v = strtol(p + 1, &end, 10);
        if (end == p + 1 || v < 1 || v > 65535 || (*end && *end != '/'))
            return errbuf_set(err, errlen, "REDIS_URL has a bad port");
        out->port = (int)v;
        p = end;
    }
    if (*p == '/' && p[1]) {
        char *end;
        long v = strtol(p + 1, &end, 10);
        if (end == p + 1 || *end || v < 0 || v > 1000)
            return errbuf_set(err, errlen, "REDIS_URL has a bad database number");
        out->db = (int)v;
    }
    return 0;
}
