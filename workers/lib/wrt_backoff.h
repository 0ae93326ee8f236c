/* wrt_backoff.h - reconnect delays: doubling from a base up to a ceiling. */
#ifndef WRT_BACKOFF_H
#define WRT_BACKOFF_H

#define WBO_BASE_MS 250
#define WBO_MAX_MS  3000

/* Delay before attempt number `attempt` (0 for the first retry). Pure. */
long wbo_delay_ms(unsigned attempt);

#endif
