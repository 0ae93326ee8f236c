/* ac_api.h - audit-correlator's HTTP API over the repository and the cache. */
#ifndef AC_API_H
#define AC_API_H

#include "ac_cache.h"
#include "ac_repo.h"
#include "wrt_http.h"

#define AC_BATCH_MAX 1000   /* events in one POST or PUT */
#define AC_LIST_MAX  1000   /* limit of one list query */

struct ac_pending;

typedef struct ac_api {
    ac_repo_t *repo;
    ac_cache_t *cache;
    int *pg_ready;            /* set by the worker once the schema is in place */
    unsigned long created;    /* events acknowledged with 201 */
    unsigned long rejected;   /* requests answered 4xx */
    unsigned long unavailable;/* requests answered 503 */
    /* Group commit: single-event creates that arrive while a group's transaction is
     * under way wait here and are committed together in the next one. */
    struct ac_pending **waiting;
    size_t nwaiting, capwaiting;
    int group_busy;
    unsigned long groups;     /* group transactions committed */
} ac_api_t;

int ac_api_routes(ac_api_t *api, whttp_t *http);

#endif
