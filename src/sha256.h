/* sha256.h - SHA-256 (FIPS 180-4) of a buffer, for the status page's CSP hashes. */
#ifndef INSTANCED_SHA256_H
#define INSTANCED_SHA256_H

#include <stddef.h>

#define SHA256_LEN 32

/* The digest of len bytes at data into out. */
void sha256(const void *data, size_t len, unsigned char out[SHA256_LEN]);

/* Standard base64 (with padding) of len bytes into out, which must hold
 * 4 * ((len + 2) / 3) + 1 bytes. Returns the length written (without the NUL). */
size_t base64_encode(const unsigned char *in, size_t len, char *out);

#endif
