/* ratelimit.h - token buckets keyed by a string (API key hash, client
 * address).  Pure: the caller passes the time, so it is tested without a
 * clock. */
#ifndef PANELMUX_RATELIMIT_H
#define PANELMUX_RATELIMIT_H

#include <stdint.h>

struct ratelimit;

/* COUNT tokens per PER_MS milliseconds, bursts up to BURST tokens.
 * COUNT 0 means unlimited.  Buckets idle for a while are forgotten. */
struct ratelimit *ratelimit_new(uint32_t count, int64_t per_ms, uint32_t burst);
void ratelimit_free(struct ratelimit *rl); /* NULL ok */
/* Change the rate (a reload); existing buckets keep their tokens. */
void ratelimit_set(struct ratelimit *rl, uint32_t count, int64_t per_ms,
                   uint32_t burst);
/* Take one token for KEY at NOW_MS: 1 allowed, 0 refused. */
int ratelimit_take(struct ratelimit *rl, const char *key, int64_t now_ms);
/* Whether a ratelimit_take of KEY at NOW_MS would be allowed; takes
 * nothing (for a limit on failures: peek first, take when one happens). */
int ratelimit_peek(struct ratelimit *rl, const char *key, int64_t now_ms);
/* 0 when the rate is unlimited (nothing to take). */
int ratelimit_enabled(const struct ratelimit *rl);
/* Buckets held (for tests and metrics). */
unsigned long ratelimit_size(const struct ratelimit *rl);

#endif
