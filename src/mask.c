/* mask.c - hide passwords in URLs, DSNs and key=value text before it is logged.
 *
 * The logger passes every message and value through mask_secrets(), so this is the
 * one place where secrets are recognised; callers need not remember to mask. */
#include "config.h"

#include "mask.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

typedef struct {
    char *p;
    size_t left; /* bytes left, excluding the terminating NUL */
} outbuf_t;

static void emit(outbuf_t *o, const char *s, size_t n)
{
    if (n > o->left)
        n = o->left;
    memcpy(o->p, s, n);
    o->p += n;
    o->left -= n;
    *o->p = '\0';
}

static int is_key_char(int c)
{
    return isalnum(c) || c == '_' || c == '-' || c == '.';
}

/* Does the key [start, end) name a secret? */
static int secret_key(const char *start, const char *end)
{
    static const char *suffixes[] = { "password", "passwd", "pwd", "secret", "token", "pass" };
    size_t len = (size_t)(end - start);

    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        size_t sl = strlen(suffixes[i]);
        if (len >= sl && strncasecmp(end - sl, suffixes[i], sl) == 0) {
            /* "pass" only as the whole key or after a separator, so "bypass" stays. */
            if (sl == 4 && len > sl && is_key_char((unsigned char)end[-5]) &&
                end[-5] != '_' && end[-5] != '-' && end[-5] != '.')
                continue;
            return 1;
        }
    }
    return 0;
}

/* The value starting at v: quoted ('...' or "...", with backslash escapes) or bare up
 * to whitespace, '&', ';', ',' or a closing bracket. Returns the end of the value. */
static const char *value_end(const char *v)
{
    if (*v == '\'' || *v == '"') {
        char q = *v++;
        while (*v && *v != q) {
            if (*v == '\\' && v[1])
                v++;
            v++;
        }
        return *v ? v + 1 : v;
    }
    while (*v && !isspace((unsigned char)*v) && !strchr("&;,)}]", *v))
        v++;
    return v;
}

/* At s (just past "://"), the authority runs to '/', '?', '#', whitespace or a quote.
 * If it holds "user:password@", return pointers to the password. */
static int url_password(const char *s, const char **pw, const char **pw_end)
{
    const char *end = s, *at = NULL, *colon = NULL;

    while (*end && !isspace((unsigned char)*end) && !strchr("/?#\"'", *end))
        end++;
    for (const char *p = s; p < end; p++)
        if (*p == '@')
            at = p;
    if (!at)
        return 0;
    colon = memchr(s, ':', (size_t)(at - s));
    if (!colon)
        return 0;
    *pw = colon + 1;
    *pw_end = at;
    return 1;
}

char *mask_secrets(const char *in, char *out, size_t outlen)
{
    outbuf_t o = { out, outlen ? outlen - 1 : 0 };
    const char *p = in, *copied = in;

    if (outlen == 0)
        return out;
    *out = '\0';
    if (in == NULL)
        return out;

    while (*p) {
        const char *pw, *pw_end;

        if (p[0] == ':' && p[1] == '/' && p[2] == '/' && url_password(p + 3, &pw, &pw_end)) {
            emit(&o, copied, (size_t)(pw - copied));
            emit(&o, MASK_TEXT, strlen(MASK_TEXT));
            p = copied = pw_end;
            continue;
        }
        if ((*p == '=' || *p == ':') && p > in) {
            const char *ke = p, *k;
            while (ke > in && ke[-1] == ' ')
                ke--;
            k = ke;
            while (k > in && is_key_char((unsigned char)k[-1]))
                k--;
            if (k < ke && secret_key(k, ke)) {
                const char *v = p + 1, *ve;
                while (*v == ' ')
                    v++;
                ve = value_end(v);
                if (ve > v) {
                    emit(&o, copied, (size_t)(v - copied));
                    emit(&o, MASK_TEXT, strlen(MASK_TEXT));
                    p = copied = ve;
                    continue;
                }
            }
        }
        p++;
    }
    emit(&o, copied, (size_t)(p - copied));
    return out;
}
