/* curlev.h - libcurl's multi interface driven by a libevent loop.
 *
 * libcurl says which sockets to watch and when to wake; libevent says when a socket
 * is ready or the time has come. After every such step the owner's `after` callback
 * runs, from the loop (never inside libcurl), to collect finished transfers with
 * curl_multi_info_read(). The health prober and the etcd client share it. */
#ifndef INSTANCED_CURLEV_H
#define INSTANCED_CURLEV_H

#include <curl/curl.h>

struct event_base;
typedef struct curlev curlev_t;

/* A multi handle on base; after(arg) follows every socket action. NULL when libcurl
 * or libevent refuse a handle. */
curlev_t *curlev_new(struct event_base *base, void (*after)(void *arg), void *arg);

/* The multi handle, for curl_multi_add_handle() and curl_multi_info_read(). */
CURLM *curlev_multi(curlev_t *cv);

/* The next finished transfer: 1 with its CURLOPT_PRIVATE pointer in *priv and its
 * result in *rc (transfers without a private pointer are skipped), 0 when none is
 * left. Call it from `after` only (libcurl must not be re-entered). */
int curlev_done(curlev_t *cv, void **priv, CURLcode *rc);

/* A CURLOPT_OPENSOCKETFUNCTION that opens every socket libcurl asks for close-on-exec
 * (SOCK_CLOEXEC, no fcntl afterwards: two system calls less per probe): workers and
 * helpers the supervisor spawns inherit no descriptor but 0, 1 and 2. */
curl_socket_t curlev_open_cloexec(void *arg, curlsocktype purpose, struct curl_sockaddr *addr);

/* Clean the multi handle up (remove every easy handle first) and free the events. */
void curlev_free(curlev_t *cv);

#endif
