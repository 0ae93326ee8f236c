/* credentials.c - generated passwords and the per-instance credential files. */
#include "config.h"

#include "credentials.h"
#include "errbuf.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xalloc.h"

int cred_generate(char out[CRED_PASSWORD_LEN + 1])
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char buf[64];
    size_t n = 0;

    while (n < CRED_PASSWORD_LEN) {
        ssize_t got = getrandom(buf, sizeof(buf), 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        /* Rejection sampling: 248 = 4 * 62 keeps every character equally likely. */
        for (ssize_t i = 0; i < got && n < CRED_PASSWORD_LEN; i++)
            if (buf[i] < 248)
                out[n++] = alphabet[buf[i] % 62];
    }
    out[n] = '\0';
    explicit_bzero(buf, sizeof(buf));
    return 0;
}

void cred_free(cred_t *c)
{
    if (c->pg_url) {
        explicit_bzero(c->pg_url, strlen(c->pg_url));
        free(c->pg_url);
    }
    if (c->redis_url) {
        explicit_bzero(c->redis_url, strlen(c->redis_url));
        free(c->redis_url);
    }
    c->pg_url = c->redis_url = NULL;
}

int cred_load(const char *path, cred_t *c)
{
    char line[4096];
    FILE *f;

    c->pg_url = c->redis_url = NULL;
    f = fopen(path, "re");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        char **slot = NULL;
        size_t n = strcspn(line, "\r\n");
        line[n] = '\0';
        if (strncmp(line, "POSTGRES_URL=", 13) == 0)
            slot = &c->pg_url;
        else if (strncmp(line, "REDIS_URL=", 10) == 0)
            slot = &c->redis_url;
        if (slot) {
            free(*slot);
            *slot = xstrdup(strchr(line, '=') + 1);
        }
    }
    explicit_bzero(line, sizeof(line));
    fclose(f);
    return 0;
}

int cred_url_password(const char *url, const char *user, char *out, size_t outlen)
{
    const char *p = url ? strstr(url, "://") : NULL, *at, *colon, *end;

    if (!p)
        return -1;
    p += 3;
    end = p + strcspn(p, "/?#");
    at = memchr(p, '@', (size_t)(end - p));
    if (!at)
        return -1;
    colon = memchr(p, ':', (size_t)(at - p));
    if (!colon || (size_t)(colon - p) != strlen(user) || strncmp(p, user, strlen(user)) != 0)
        return -1;
    if ((size_t)(at - colon - 1) >= outlen || at == colon + 1)
        return -1;
    memcpy(out, colon + 1, (size_t)(at - colon - 1));
    out[at - colon - 1] = '\0';
    return 0;
}

/* Append s percent-encoded (everything but RFC 3986 unreserved characters). */
static size_t pct(char *dst, const char *s)
{
    size_t n = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || strchr("-._~", c)) {
            if (dst)
                dst[n] = (char)c;
            n++;
        } else {
            if (dst)
                sprintf(dst + n, "%%%02X", c);
            n += 3;
        }
    }
    return n;
}

static char *pct_dup(const char *s)
{
    char *d = xmalloc(pct(NULL, s) + 1);
    d[pct(d, s)] = '\0';
    return d;
}

char *cred_pg_url(const char *host, const char *port, const char *db, const char *user,
                  const char *password, const char *query)
{
    const char *q = query ? query : "";
    char *h, *d = pct_dup(db ? db : ""), *url;

    if (host && *host && strpbrk(host, "/,:") != NULL) {
        /* Host and port go first in the query, the rest after them. */
        h = NULL;
        cred_query_add(&h, "host", host);
        if (port && *port)
            cred_query_add(&h, "port", port);
        url = xasprintf("postgresql://%s:%s@/%s?%s%s%s", user, password, d, h, *q ? "&" : "",
                        q);
    } else {
        char *p = pct_dup(port ? port : "");

        h = pct_dup(host ? host : "");
        url = xasprintf("postgresql://%s:%s@%s%s%s/%s%s%s", user, password, h, *p ? ":" : "",
                        p, d, *q ? "?" : "", q);
        free(p);
    }
    free(h);
    free(d);
    return url;
}

void cred_query_add(char **q, const char *key, const char *value)
{
    char *v = pct_dup(value);
    char *n = *q ? xasprintf("%s&%s=%s", *q, key, v) : xasprintf("%s=%s", key, v);

    free(v);
    free(*q);
    *q = n;
}

char *cred_redis_url(const char *host, int port, int db, const char *user,
                     const char *password)
{
    return xasprintf("redis://%s:%s@%s:%d/%d", user, password, host, port, db);
}

char *cred_format(const char *instance, const char *pg_url, const char *redis_url)
{
    return xasprintf("# credentials of instance %s, written by instancectl provision; "
                     "do not edit (--rotate makes new ones)\n%s%s%s%s%s%s",
                     instance, pg_url ? "POSTGRES_URL=" : "", pg_url ? pg_url : "",
                     pg_url ? "\n" : "", redis_url ? "REDIS_URL=" : "",
                     redis_url ? redis_url : "", redis_url ? "\n" : "");
}

static int parse_id(const char *s, unsigned long *id)
{
    char *end;
    if (!*s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    *id = strtoul(s, &end, 10);
    return errno || *end ? -1 : 0;
}

int cred_owner(const char *user, const char *group, uid_t *uid, gid_t *gid, char *err,
               size_t errlen)
{
    unsigned long id;

    *uid = geteuid();
    *gid = getegid();
    if (user) {
        struct passwd *pw = getpwnam(user);
        if (pw) {
            *uid = pw->pw_uid;
            *gid = pw->pw_gid;
        } else if (parse_id(user, &id) == 0) {
            *uid = (uid_t)id;
        } else {
            return errbuf_set(err, errlen, "user %s does not exist", user);
        }
    }
    if (group) {
        struct group *gr = getgrnam(group);
        if (gr)
            *gid = gr->gr_gid;
        else if (parse_id(group, &id) == 0)
            *gid = (gid_t)id;
        else
            return errbuf_set(err, errlen, "group %s does not exist", group);
    }
    return 0;
}

int cred_ensure_dir(const char *dir, mode_t mode, int dry_run, int *changed, char *err,
                    size_t errlen)
{
    struct stat st;
    char path[PATH_MAX];

    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return errbuf_set(err, errlen, "%s is not a directory", dir);
        if ((st.st_mode & 07777) != mode) {
            *changed = 1;
            if (!dry_run && chmod(dir, mode) < 0)
                return errbuf_set(err, errlen, "chmod %s: %s", dir, strerror(errno));
        }
        return 0;
    }
    if (errno != ENOENT)
        return errbuf_set(err, errlen, "%s: %s", dir, strerror(errno));
    *changed = 1;
    if (dry_run)
        return 0;
    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
        return errbuf_set(err, errlen, "%s: path too long", dir);
    /* Parents get 0755 (they are the state directory and above, which other modules
     * share); only the leaf gets the restrictive mode. */
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            return errbuf_set(err, errlen, "mkdir %s: %s", path, strerror(errno));
        *p = '/';
    }
    if (mkdir(path, mode) < 0 && errno != EEXIST)
        return errbuf_set(err, errlen, "mkdir %s: %s", path, strerror(errno));
    if (chmod(path, mode) < 0) /* mkdir applies the umask */
        return errbuf_set(err, errlen, "chmod %s: %s", path, strerror(errno));
    return 0;
}

int cred_file_same(const char *path, const char *content, uid_t uid, gid_t gid)
{
    struct stat st;
    size_t len = strlen(content);
    char *buf;
    int fd, same = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == CRED_FILE_MODE &&
        st.st_uid == uid && st.st_gid == gid && (size_t)st.st_size == len) {
        buf = xmalloc(len + 1);
        if (read(fd, buf, len + 1) == (ssize_t)len && memcmp(buf, content, len) == 0)
            same = 1;
        explicit_bzero(buf, len + 1);
        free(buf);
    }
    close(fd);
    return same;
}

static int new_path(char *out, size_t len, const char *path)
{
    return snprintf(out, len, "%s.new", path) < (int)len ? 0 : -1;
}

int cred_write_new(const char *path, const char *content, uid_t uid, gid_t gid, char *err,
                   size_t errlen)
{
    char tmp[PATH_MAX];
    size_t len = strlen(content), off = 0;
    int fd;

    if (new_path(tmp, sizeof(tmp), path) < 0)
        return errbuf_set(err, errlen, "%s: path too long", path);
    unlink(tmp); /* a leftover of an interrupted run holds nothing committed */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, CRED_FILE_MODE);
    if (fd < 0)
        return errbuf_set(err, errlen, "create %s: %s", tmp, strerror(errno));
    /* Owner and mode before any secret is written. */
    if (fchown(fd, uid, gid) < 0 || fchmod(fd, CRED_FILE_MODE) < 0) {
        errbuf_set(err, errlen, "chown %s to %ld:%ld: %s", tmp, (long)uid, (long)gid,
             strerror(errno));
        goto bad;
    }
    while (off < len) {
        ssize_t n = write(fd, content + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            errbuf_set(err, errlen, "write %s: %s", tmp, strerror(errno));
            goto bad;
        }
        off += (size_t)n;
    }
    if (fsync(fd) < 0) {
        errbuf_set(err, errlen, "fsync %s: %s", tmp, strerror(errno));
        goto bad;
    }
    close(fd);
    return 0;
bad:
    close(fd);
    unlink(tmp);
    return -1;
}

int cred_commit_new(const char *path, char *err, size_t errlen)
{
    char tmp[PATH_MAX];

    if (new_path(tmp, sizeof(tmp), path) < 0)
        return errbuf_set(err, errlen, "%s: path too long", path);
    if (rename(tmp, path) < 0)
        return errbuf_set(err, errlen, "rename %s: %s", tmp, strerror(errno));
    return 0;
}

void cred_discard_new(const char *path)
{
    char tmp[PATH_MAX];

    if (new_path(tmp, sizeof(tmp), path) == 0)
        unlink(tmp);
}
