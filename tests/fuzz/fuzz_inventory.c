/* fuzz_inventory.c - libFuzzer target: the inventory loader on arbitrary bytes.
 *
 * Each input goes through inv_load_buf under a fixed name; whatever is returned (an
 * inventory or a list of errors) is walked and freed, so that ASan and LSan see every
 * path. A valid inventory also has its worker environments built. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inventory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    inv_errors_t errs;
    inventory_t *inv;

    inv_errors_init(&errs);
    inv = inv_load_buf("fuzz/instanced.conf", (const char *)data, size, &errs);
    if (inv) {
        for (size_t i = 0; i < inv->ninstances; i++) {
            char **env = inv_worker_env(inv, &inv->instances[i], NULL);
            if (inv_find_instance(inv, inv->instances[i].name) != &inv->instances[i])
                abort();
            inv_strv_free(env);
        }
        inv_free(inv);
    } else {
        /* Every error is "NAME:LINE: ..." with its own line above 0, or "NAME: ..." for
         * the whole file (line 0, or the count of errors not shown). */
        for (size_t i = 0; i < errs.n; i++) {
            const char *t = errs.v[i].text;
            char *end;
            long line;
            if (strncmp(t, "fuzz/instanced.conf:", 20) != 0)
                abort();
            t += 20;
            if (*t == ' ') {
                if (errs.v[i].line != 0 && i + 1 != errs.n)
                    abort();
                continue;
            }
            line = strtol(t, &end, 10);
            if (end == t || *end != ':' || line < 1 || line != errs.v[i].line)
                abort();
        }
    }
    inv_errors_free(&errs);
    return 0;
}
