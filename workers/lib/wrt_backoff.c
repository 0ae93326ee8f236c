/* wrt_backoff.c - reconnect delays: doubling from a base up to a ceiling. */
#include "config.h"

#include "wrt_backoff.h"

long wbo_delay_ms(unsigned attempt)
{
    long d = WBO_BASE_MS;
    while (attempt-- > 0 && d < WBO_MAX_MS)
        d *= 2;
    return d < WBO_MAX_MS ? d : WBO_MAX_MS;
}
