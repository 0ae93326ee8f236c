/* credentials.h - generated passwords and the per-instance credential files. */
#ifndef INSTANCED_CREDENTIALS_H
#define INSTANCED_CREDENTIALS_H

#include <stddef.h>
#include <sys/types.h>

/* Length of a generated password: 32 characters of [A-Za-z0-9], about 190 bits. They
 * need no escaping in URLs, SQL literals or ACL rules. */
#define CRED_PASSWORD_LEN 32
#define CRED_FILE_MODE    0600

/* What a credential file holds. Strings owned by the struct; NULL when absent. */
typedef struct cred {
    char *pg_url;
    char *redis_url;
} cred_t;

/* A new random password (getrandom(2)) in out[CRED_PASSWORD_LEN + 1]. 0 or -1. */
int cred_generate(char out[CRED_PASSWORD_LEN + 1]);

/* Read the KEY=value lines POSTGRES_URL and REDIS_URL of the file at path. Returns 0,
 * or -1 with errno set (ENOENT when there is no file). Free with cred_free(). */
int cred_load(const char *path, cred_t *c);
void cred_free(cred_t *c);

/* The password of url's userinfo ("scheme://user:password@...") into out when the
 * user part equals user; 0, or -1 when absent, for another user or too long. Pure. */
int cred_url_password(const char *url, const char *user, char *out, size_t outlen);

/* postgresql://user:password@host:port/db?query, with a socket directory host (or one
 * with ',' or ':') moved into the query string, percent-encoded. query holds further
 * "key=value&..." parameters already encoded, or NULL. Newly allocated. */
char *cred_pg_url(const char *host, const char *port, const char *db, const char *user,
                  const char *password, const char *query);
/* Append "key=value" (value percent-encoded) to the query *q (NULL: an empty one),
 * reallocating it. */
void cred_query_add(char **q, const char *key, const char *value);
/* redis://user:password@host:port/db. Newly allocated. */
char *cred_redis_url(const char *host, int port, int db, const char *user,
                     const char *password);

/* The whole file: a comment line, then POSTGRES_URL= and REDIS_URL= for the non-NULL
 * ones. Newly allocated. */
char *cred_format(const char *instance, const char *pg_url, const char *redis_url);

/* uid and gid of the file: user and group (names or numbers) when set, else ours.
 * 0, or -1 with a reason in err. */
int cred_owner(const char *user, const char *group, uid_t *uid, gid_t *gid, char *err,
               size_t errlen);

/* Make dir (and missing parents) with mode, owned by us; fix a different mode. Sets
 * *changed when it did anything (nothing at all when dry_run). 0 or -1 with err. */
int cred_ensure_dir(const char *dir, mode_t mode, int dry_run, int *changed, char *err,
                    size_t errlen);

/* 1 when the file at path holds exactly content with mode 0600 and owner uid:gid. */
int cred_file_same(const char *path, const char *content, uid_t uid, gid_t gid);

/* Write content to "<path>.new" (mode 0600, owner uid:gid, synced), then later move it
 * over path with cred_commit_new() or remove it with cred_discard_new(). Keeping the
 * two steps apart lets the caller commit the file only once the database has the
 * password in it. 0 or -1 with err. */
int cred_write_new(const char *path, const char *content, uid_t uid, gid_t gid, char *err,
                   size_t errlen);
int cred_commit_new(const char *path, char *err, size_t errlen);
void cred_discard_new(const char *path);

#endif
