/* ac_api.h - audit-correlator's HTTP API over the repository and the cache. */
#ifndef AC_API_H
#define AC_API_H

#include "ac_cache.h"
#include "ac_repo.h"
#include "wrt_http.h"

#define AC_BATCH_MAX 1000   /* events in one POST or PUT */
#define AC_LIST_MAX  1000   /* limit of one list query */

struct ac_pending;

/* Group transactions under way at once: one on the worker's connection, one on the
 * second connection when it is up, so that one group's commit (a WAL flush) overlaps
 * the next group's statements on the other. */
#define AC_GROUP_SLOTS 2

typedef struct ac_api {
    ac_repo_t *repo;
    ac_cache_t *cache;
    int *pg_ready;            /* set by the worker once the schema is in place */
    /* The second connection's repository, used for group commits only while
     * *repo2_ready; NULL when the worker has none. */
    ac_repo_t *repo2;
    int *repo2_ready;
    unsigned long created;    /* events acknowledged with 201 */
    unsigned long rejected;   /* requests answered 4xx */
    unsigned long unavailable;/* requests answered 503 */
    /* Group commit: single-event creates that arrive while a group's transaction is
     * under way wait here and are committed together in the next one. */
    struct ac_pending **waiting;
    size_t nwaiting, capwaiting;
    int group_busy[AC_GROUP_SLOTS];
    unsigned long groups;     /* group transactions committed */
} ac_api_t;

int ac_api_routes(ac_api_t *api, whttp_t *http);

#endif
