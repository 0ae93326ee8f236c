/* mask.h - hide passwords in URLs, DSNs and key=value text before it is logged. */
#ifndef INSTANCED_MASK_H
#define INSTANCED_MASK_H

#include <stddef.h>

#define MASK_TEXT "***"

/* Copy in to out (outlen bytes, always NUL-terminated, truncated if short) with every
 * secret replaced by MASK_TEXT: the password of a URL's userinfo
 * ("postgresql://u:secret@h/db", "redis://:secret@h"), and the value of any key=value
 * or key: value whose key ends in password, passwd, pwd, secret or token (libpq's
 * "password=secret", "password='a b'", query strings, environment entries).
 * Returns out. Pure. */
char *mask_secrets(const char *in, char *out, size_t outlen);

#endif
