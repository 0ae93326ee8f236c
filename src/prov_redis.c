/* prov_redis.c - Redis side of provisioning: one ACL user per instance.
 *
 * Redis prints ACL rules in its own canonical form (it drops rules that an earlier
 * category already covers, reorders selectors), so a user's state cannot be compared
 * with the rules we send. Instead the rules are applied to a disabled probe user and
 * the two ACL LIST lines are compared: password hashes included, since Redis stores
 * SHA-256 of each password. Arguments go through redisCommandArgv (binary-safe, one
 * argument each), so no name can split into several rules. */
#include "config.h"

#include "prov_redis.h"
#include "errbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "mask.h"
#include "provision.h"
#include "xalloc.h"

#define RULES_MAX 24

struct prov_redis {
    redisContext *c;
    int dry_run;
    char host[256];
    int port;
    int db;
    char probe[64];
};

/* Run argv; NULL with err when the connection fails. Error replies are returned. */
static redisReply *cmd(prov_redis_t *rd, int argc, const char **argv, char *err, size_t errlen)
{
    redisReply *r = redisCommandArgv(rd->c, argc, argv, NULL);
    if (!r)
        errbuf_set_masked(err, errlen, "Redis: %s", rd->c->errstr[0] ? rd->c->errstr : "no reply");
    return r;
}

/* A command that must answer +OK. */
static int cmd_ok(prov_redis_t *rd, int argc, const char **argv, const char *shown, char *err,
                  size_t errlen)
{
    redisReply *r = cmd(rd, argc, argv, err, errlen);
    int ok;
    if (!r)
        return -1;
    ok = r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0;
    if (!ok)
        errbuf_set_masked(err, errlen, "Redis: %s: %s", shown, r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    freeReplyObject(r);
    return ok ? 0 : -1;
}

/* redis://[user[:password]@]host[:port][/db]; a userinfo without ':' is a password. */
static int parse_url(const char *url, prov_redis_t *rd, char *user, char *pass, size_t len,
                     char *err, size_t errlen)
{
    const char *p, *at, *slash, *hostend, *colon;

    *user = *pass = '\0';
    rd->port = 6379;
    rd->db = 0;
    if (strncmp(url, "redis://", 8) != 0)
        return errbuf_set_masked(err, errlen, "Redis: redis_url must start with redis://");
    p = url + 8;
    slash = strchr(p, '/');
    at = strchr(p, '@');
    if (at && (!slash || at < slash)) {
        colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p;
        if ((colon && (size_t)(colon - p) >= len) || (size_t)(at - pw) >= len)
            return errbuf_set_masked(err, errlen, "Redis: redis_url credentials are too long");
        if (colon) {
            memcpy(user, p, (size_t)(colon - p));
            user[colon - p] = '\0';
        }
        memcpy(pass, pw, (size_t)(at - pw));
        pass[at - pw] = '\0';
        p = at + 1;
    }
    hostend = p + strcspn(p, ":/");
    if ((size_t)(hostend - p) >= sizeof(rd->host))
        return errbuf_set_masked(err, errlen, "Redis: redis_url host is too long");
    if (hostend == p)
        strcpy(rd->host, "127.0.0.1");
    else {
        memcpy(rd->host, p, (size_t)(hostend - p));
        rd->host[hostend - p] = '\0';
    }
    p = hostend;
    if (*p == ':') {
        char *end;
        long v = strtol(p + 1, &end, 10);
        if (end == p + 1 || v <= 0 || v > 65535 || (*end && *end != '/'))
            return errbuf_set_masked(err, errlen, "Redis: redis_url has a bad port");
        rd->port = (int)v;
        p = end;
    }
    if (*p == '/' && p[1]) {
        char *end;
        long v = strtol(p + 1, &end, 10);
        if (end == p + 1 || v < 0 || v > 1000000 || *end)
            return errbuf_set_masked(err, errlen, "Redis: redis_url has a bad database number");
        rd->db = (int)v;
    }
    return 0;
}

prov_redis_t *prd_connect(const char *url, int dry_run, char *err, size_t errlen)
{
    prov_redis_t *rd = xcalloc(1, sizeof(*rd));
    char user[256], pass[512];
    struct timeval tv = { 10, 0 };

    rd->dry_run = dry_run;
    snprintf(rd->probe, sizeof(rd->probe), "instanced-probe-%ld", (long)getpid());
    if (parse_url(url, rd, user, pass, sizeof(user), err, errlen) < 0)
        goto bad;
    rd->c = redisConnectWithTimeout(rd->host, rd->port, tv);
    if (!rd->c || rd->c->err) {
        errbuf_set_masked(err, errlen, "Redis: cannot connect to %s:%d: %s", rd->host, rd->port,
             rd->c ? rd->c->errstr : "out of memory");
        goto bad;
    }
    redisSetTimeout(rd->c, tv);
    if (*pass) {
        const char *a3[] = { "AUTH", user, pass }, *a2[] = { "AUTH", pass };
        int rc = *user ? cmd_ok(rd, 3, a3, "AUTH", err, errlen) : cmd_ok(rd, 2, a2, "AUTH", err, errlen);
        explicit_bzero(pass, sizeof(pass));
        if (rc < 0)
            goto bad;
    }
    const char *who[] = { "ACL", "WHOAMI" };
    redisReply *r = cmd(rd, 2, who, err, errlen);
    if (!r)
        goto bad;
    if (r->type == REDIS_REPLY_ERROR) {
        errbuf_set_masked(err, errlen, "Redis: ACL not available (Redis 7 is required): %s", r->str);
        freeReplyObject(r);
        goto bad;
    }
    freeReplyObject(r);
    return rd;
bad:
    explicit_bzero(pass, sizeof(pass));
    prd_close(rd);
    return NULL;
}

void prd_close(prov_redis_t *rd)
{
    if (!rd)
        return;
    if (rd->c)
        redisFree(rd->c);
    free(rd);
}

char *prd_worker_url(prov_redis_t *rd, const char *user, const char *password)
{
    return xasprintf("redis://%s:%s@%s:%d/%d", user, password, rd->host, rd->port, rd->db);
}

/* Storage for one rule list; strings point into buf. */
typedef struct rules {
    const char *argv[RULES_MAX];
    int argc;
    char buf[2048];
    size_t used;
} rules_t;

static const char *rule(rules_t *r, const char *a, const char *b)
{
    char *p = r->buf + r->used;
    int n = snprintf(p, sizeof(r->buf) - r->used, "%s%s", a, b);
    if (n < 0 || (size_t)n >= sizeof(r->buf) - r->used)
        return NULL;
    r->used += (size_t)n + 1;
    return p;
}

/* ACL SETUSER user reset on|off >password ~ns:* &ns:* %RW~key %R~services:* +@all
 * -@dangerous and the commands it leaves (scan, keys, flush*, swapdb, config). */
static int build_rules(rules_t *r, const char *user, const char *onoff, const prd_spec_t *sp,
                       const char *password)
{
    static const char *const tail[] = { "%R~services:*", "+@all", "-@dangerous", "-scan",
                                        "-keys", "-flushall", "-flushdb", "-swapdb", "-config" };
    const char **a = r->argv;
    char pattern[512];
    int n = 0;

    r->used = 0;
    a[n++] = "ACL";
    a[n++] = "SETUSER";
    a[n++] = user;
    a[n++] = "reset";
    a[n++] = onoff;
    a[n++] = rule(r, ">", password);
    if (snprintf(pattern, sizeof(pattern), "%s:*", sp->namespace) >= (int)sizeof(pattern))
        return -1;
    a[n++] = rule(r, "~", pattern);
    a[n++] = rule(r, "&", pattern);
    a[n++] = rule(r, "%RW~", sp->discovery_key);
    for (size_t i = 0; i < sizeof(tail) / sizeof(tail[0]); i++)
        a[n++] = tail[i];
    r->argc = n;
    for (int i = 0; i < n; i++)
        if (!a[i])
            return -1;
    return 0;
}

/* The rules as text, with the password shown as ***. */
static void show_rules(const rules_t *r, char *out, size_t len)
{
    size_t off = 0;

    if (len == 0)
        return;
    /* Copied by hand: a long rule list is cut at len - 1 bytes, which is fine for a
     * log line, and nothing past out + len is ever written. */
    for (int i = 0; i < r->argc; i++) {
        const char *a = r->argv[i][0] == '>' ? ">***" : r->argv[i];
        if (i && off < len - 1)
            out[off++] = ' ';
        for (; *a && off < len - 1; a++)
            out[off++] = *a;
    }
    out[off] = '\0';
}

/* The ACL LIST line of user (after "user NAME "), newly allocated, or NULL when
 * there is no such user (*found = 0). -1 on error. */
static int acl_line(prov_redis_t *rd, const char *user, char **line, char *err, size_t errlen)
{
    const char *argv[] = { "ACL", "LIST" };
    redisReply *r = cmd(rd, 2, argv, err, errlen);
    size_t ul = strlen(user);

    *line = NULL;
    if (!r)
        return -1;
    if (r->type != REDIS_REPLY_ARRAY) {
        errbuf_set_masked(err, errlen, "Redis: ACL LIST: %s", r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
        freeReplyObject(r);
        return -1;
    }
    for (size_t i = 0; i < r->elements; i++) {
        const char *l = r->element[i]->str;
        if (l && strncmp(l, "user ", 5) == 0 && strncmp(l + 5, user, ul) == 0 && l[5 + ul] == ' ') {
            *line = xstrdup(l + 6 + ul);
            break;
        }
    }
    freeReplyObject(r);
    return 0;
}

static int deluser(prov_redis_t *rd, const char *user, char *err, size_t errlen)
{
    const char *argv[] = { "ACL", "DELUSER", user };
    redisReply *r = cmd(rd, 3, argv, err, errlen);
    if (!r)
        return -1;
    freeReplyObject(r);
    return 0;
}

/* What the user's ACL LIST line should be: the rules applied to a disabled probe
 * user, read back, and the probe deleted. */
static int expected_line(prov_redis_t *rd, const prd_spec_t *sp, char **line, char *err,
                         size_t errlen)
{
    rules_t r;
    int rc;
    char *on;

    *line = NULL;
    if (build_rules(&r, rd->probe, "off", sp, sp->password) < 0)
        return errbuf_set_masked(err, errlen, "Redis: ACL rules too long for %s", sp->user);
    rc = cmd_ok(rd, r.argc, r.argv, "ACL SETUSER (probe)", err, errlen);
    explicit_bzero(r.buf, sizeof(r.buf));
    if (rc == 0)
        rc = acl_line(rd, rd->probe, line, err, errlen);
    if (deluser(rd, rd->probe, err, errlen) < 0)
        rc = -1;
    if (rc == 0 && !*line)
        rc = errbuf_set_masked(err, errlen, "Redis: the probe user vanished");
    if (rc < 0) {
        free(*line);
        *line = NULL;
        return -1;
    }
    /* The probe is "off"; the real user is "on". */
    on = strstr(*line, "off");
    if (on == *line && (on[3] == ' ' || on[3] == '\0'))
        memmove(on + 2, on + 3, strlen(on + 3) + 1), on[0] = 'o', on[1] = 'n';
    return 0;
}

/* Is argv allowed for user? 1 yes, 0 no, -1 error. */
static int dryrun(prov_redis_t *rd, const char *user, int argc, const char **cmdv, char *err,
                  size_t errlen)
{
    const char *argv[8] = { "ACL", "DRYRUN", user };
    redisReply *r;
    int v;

    for (int i = 0; i < argc && i < 5; i++)
        argv[3 + i] = cmdv[i];
    r = cmd(rd, 3 + argc, argv, err, errlen);
    if (!r)
        return -1;
    if (r->type == REDIS_REPLY_ERROR) {
        errbuf_set_masked(err, errlen, "Redis: ACL DRYRUN: %s", r->str);
        freeReplyObject(r);
        return -1;
    }
    v = r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0;
    freeReplyObject(r);
    return v;
}

/* Prove the walls with ACL DRYRUN: what must be denied is, what must work does. */
static int check_user(prov_redis_t *rd, const prd_spec_t *sp, char *err, size_t errlen)
{
    char own[512], other[] = "services:instanced-check:other";
    struct { int argc; const char *argv[4]; int allowed; } checks[] = {
        { 2, { "GET", own }, 1 },
        { 3, { "SET", own, "x" }, 1 },
        { 3, { "SET", sp->discovery_key, "x" }, 1 },
        { 2, { "GET", other }, 1 },
        { 3, { "SET", other, "x" }, 0 },
        { 2, { "SCAN", "0" }, 0 },
        { 2, { "KEYS", "*" }, 0 },
        { 1, { "FLUSHALL" }, 0 },
        { 1, { "FLUSHDB" }, 0 },
        { 3, { "SWAPDB", "0", "1" }, 0 },
        { 3, { "CONFIG", "GET", "*" }, 0 },
    };

    snprintf(own, sizeof(own), "%s:instanced-check", sp->namespace);
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
        int v = dryrun(rd, sp->user, checks[i].argc, checks[i].argv, err, errlen);
        if (v < 0)
            return -1;
        if (v != checks[i].allowed)
            return errbuf_set_masked(err, errlen, "Redis: ACL check failed for %s: %s %s is %s", sp->user,
                        checks[i].argv[0], checks[i].argc > 1 ? checks[i].argv[1] : "",
                        v ? "allowed" : "denied");
    }
    return 0;
}

/* No glob, escape, space or control character, nothing empty. */
static int pattern_safe(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f || strchr("*?[]\\^!{}", *s))
            return 0;
    return 1;
}

int prd_instance(prov_redis_t *rd, prov_report_t *rep, const prd_spec_t *sp, char *err,
                 size_t errlen)
{
    char *have = NULL, *want = NULL, shown[2048];
    rules_t r;
    int rc = -1;

    /* The loader already refuses these; a pattern must still never widen. */
    if (!pattern_safe(sp->user) || !pattern_safe(sp->namespace) ||
        !pattern_safe(sp->discovery_key))
        return errbuf_set_masked(err, errlen, "Redis: refusing unsafe ACL names for %s", sp->user);
    if (acl_line(rd, sp->user, &have, err, errlen) < 0 ||
        expected_line(rd, sp, &want, err, errlen) < 0)
        goto out;
    if (have && strcmp(have, want) == 0) {
        rc = rd->dry_run ? 0 : check_user(rd, sp, err, errlen);
        goto out;
    }
    if (build_rules(&r, sp->user, "on", sp, sp->password) < 0) {
        errbuf_set_masked(err, errlen, "Redis: ACL rules too long for %s", sp->user);
        goto out;
    }
    show_rules(&r, shown, sizeof(shown));
    rep_change(rep, "acl", shown);
    if (rd->dry_run) {
        rc = 0;
    } else {
        rc = cmd_ok(rd, r.argc, r.argv, shown, err, errlen);
        if (rc == 0)
            rc = check_user(rd, sp, err, errlen);
    }
    explicit_bzero(r.buf, sizeof(r.buf));
out:
    free(have);
    free(want);
    return rc;
}

static int in_list(const char *const *v, const char *s)
{
    for (; v && *v; v++)
        if (strcmp(*v, s) == 0)
            return 1;
    return 0;
}

int prd_removed(prov_redis_t *rd, prov_report_t *rep, const char *const *keep, int prune,
                char *err, size_t errlen)
{
    const char *argv[] = { "ACL", "USERS" };
    redisReply *r = cmd(rd, 2, argv, err, errlen);
    int failures = 0;
    size_t pl = strlen(PROV_ROLE_PREFIX);

    if (!r)
        return -1;
    if (r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return errbuf_set_masked(err, errlen, "Redis: ACL USERS: bad reply");
    }
    for (size_t i = 0; i < r->elements; i++) {
        const char *u = r->element[i]->str;
        char shown[256];
        if (!u || strncmp(u, PROV_ROLE_PREFIX, pl) != 0 || in_list(keep, u))
            continue;
        rep_begin(rep, u);
        if (!prune) {
            rep_note(rep, "Redis ACL user %s has no instance in the inventory: kept "
                          "(--prune deletes it)", u);
            continue;
        }
        snprintf(shown, sizeof(shown), "ACL DELUSER %s", u);
        rep_change(rep, "acl", shown);
        if (!rd->dry_run && deluser(rd, u, err, errlen) < 0) {
            rep_error(rep, "%s", err);
            failures++;
        }
        rep_end(rep);
    }
    freeReplyObject(r);
    return failures;
}

int prd_finish(prov_redis_t *rd, prov_report_t *rep, int changed, char *err, size_t errlen)
{
    char *line = NULL;
    const char *cfg[] = { "CONFIG", "GET", "aclfile" };
    redisReply *r;

    rep_begin(rep, "redis");
    if (acl_line(rd, "default", &line, err, errlen) < 0)
        return -1;
    if (line && strncmp(line, "on ", 3) == 0 && strstr(line, " nopass"))
        rep_warn(rep, "the Redis user \"default\" is enabled and needs no password, so any process "
                      "that connects without credentials bypasses the instance ACL users");
    free(line);
    if (!changed || rd->dry_run)
        return 0;
    r = cmd(rd, 3, cfg, err, errlen);
    if (!r)
        return -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->str &&
        r->element[1]->str[0]) {
        const char *save[] = { "ACL", "SAVE" };
        freeReplyObject(r);
        return cmd_ok(rd, 2, save, "ACL SAVE", err, errlen);
    }
    freeReplyObject(r);
    rep_note(rep, "Redis has no aclfile: the ACL users live until Redis restarts "
                  "(instanced provisions again at start and reload)");
    return 0;
}

int prd_kill_user(prov_redis_t *rd, const char *user, long long *killed, char *err,
                  size_t errlen)
{
    const char *argv[] = { "CLIENT", "KILL", "USER", user };
    redisReply *r;
    int ok;

    *killed = 0;
    if (rd->dry_run)
        return 0;
    if (!(r = cmd(rd, 4, argv, err, errlen)))
        return -1;
    ok = r->type == REDIS_REPLY_INTEGER;
    if (ok)
        *killed = r->integer;
    else
        errbuf_set_masked(err, errlen, "Redis: CLIENT KILL USER %s: %s", user,
                          r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    freeReplyObject(r);
    return ok ? 0 : -1;
}

int prd_user_exists(prov_redis_t *rd, const char *user, char *err, size_t errlen)
{
    char *line = NULL;

    if (acl_line(rd, user, &line, err, errlen) < 0)
        return -1;
    free(line);
    return line != NULL;
}
