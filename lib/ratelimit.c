/* ratelimit.c - token buckets refilled lazily on use, in exact integers:
 * each millisecond adds COUNT units of credit and a token costs PER_MS
 * units, so no fraction of a token is ever lost.
 * Buckets that have been full for a while are swept out so an address
 * flood cannot grow the table without bound. */
#include <stdlib.h>

#include "ratelimit.h"
#include "strmap.h"
#include "xmalloc.h"

#define RATELIMIT_SWEEP_MS 10000 /* sweep full buckets this often */

struct bucket {
	int64_t credit; /* tokens x per_ms */
	int64_t at_ms;  /* last refill */
	char *key;
};

struct ratelimit {
	uint32_t count, burst;
	int64_t per_ms;
	struct strmap *buckets;
	struct bucket **all; /* for the sweep */
	size_t n, cap;
	int64_t swept_ms;
};

struct ratelimit *
ratelimit_new(uint32_t count, int64_t per_ms, uint32_t burst)
{
	struct ratelimit *rl = xcalloc(1, sizeof(*rl));

	rl->buckets = strmap_new();
	ratelimit_set(rl, count, per_ms, burst);
	return rl;
}

void
ratelimit_set(struct ratelimit *rl, uint32_t count, int64_t per_ms,
              uint32_t burst)
{
	rl->count = count;
	rl->per_ms = per_ms > 0 ? per_ms : 1000;
	rl->burst = burst > 0 ? burst : (count > 0 ? count : 1);
}

static void
ratelimit_refill(const struct ratelimit *rl, struct bucket *b, int64_t now)
{
	int64_t dt = now - b->at_ms, max = (int64_t)rl->burst * rl->per_ms;

	if (dt <= 0)
		return;
	b->credit += dt * (int64_t)rl->count;
	if (b->credit > max)
		b->credit = max;
	b->at_ms = now;
}

/* Forget buckets that are full again: they hold nothing a fresh one
 * would not. */
static void
ratelimit_sweep(struct ratelimit *rl, int64_t now)
{
	size_t out = 0;

	rl->swept_ms = now;
	for (size_t i = 0; i < rl->n; i++) {
		struct bucket *b = rl->all[i];

		ratelimit_refill(rl, b, now);
		if (b->credit >= (int64_t)rl->burst * rl->per_ms) {
			strmap_del(rl->buckets, b->key);
			free(b->key);
			free(b);
			continue;
		}
		rl->all[out++] = b;
	}
	rl->n = out;
}

int
ratelimit_take(struct ratelimit *rl, const char *key, int64_t now_ms)
{
	struct bucket *b;

	if (rl->count == 0)
		return 1;
	if (now_ms - rl->swept_ms >= RATELIMIT_SWEEP_MS)
		ratelimit_sweep(rl, now_ms);
	if ((b = strmap_get(rl->buckets, key)) == NULL) {
		b = xcalloc(1, sizeof(*b));
		b->key = xstrdup(key);
		b->credit = (int64_t)rl->burst * rl->per_ms;
		b->at_ms = now_ms;
		strmap_put(rl->buckets, b->key, b);
		if (rl->n == rl->cap) {
			rl->cap = rl->cap != 0 ? rl->cap * 2 : 64;
			rl->all =
			    xreallocarray(rl->all, rl->cap, sizeof(*rl->all));
		}
		rl->all[rl->n++] = b;
	} else
		ratelimit_refill(rl, b, now_ms);
	if (b->credit < rl->per_ms)
		return 0;
	b->credit -= rl->per_ms;
	return 1;
}

int
ratelimit_peek(struct ratelimit *rl, const char *key, int64_t now_ms)
{
	struct bucket *b;

	if (rl->count == 0 || (b = strmap_get(rl->buckets, key)) == NULL)
		return 1; /* a new bucket is full */
	ratelimit_refill(rl, b, now_ms);
	return b->credit >= rl->per_ms;
}

int
ratelimit_enabled(const struct ratelimit *rl)
{
	return rl->count != 0;
}

unsigned long
ratelimit_size(const struct ratelimit *rl)
{
	return (unsigned long)rl->n;
}

void
ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	for (size_t i = 0; i < rl->n; i++) {
		free(rl->all[i]->key);
		free(rl->all[i]);
	}
	free(rl->all);
	strmap_free(rl->buckets);
	free(rl);
}
