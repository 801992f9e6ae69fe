/* prices.h - what a services sync changes: the per-service differences
 * between an upstream's stored list and a new one (cost and price before
 * and after, appeared, dropped), and the bad-sync guard that refuses a
 * list dropping too much of the stored one.
 *
 * Pure: no store, no clock.  The price is catalog_price's with the
 * upstream's (else the global) markup; a services: entry's own markup
 * override is not applied (the log reports what the upstream changed, per
 * upstream service, whatever local services route to it). */
#ifndef PANELMUX_PRICES_H
#define PANELMUX_PRICES_H

#include <stddef.h>
#include <stdint.h>

#include "money.h"

struct config;
struct cfg_upstream;
struct dialect_services;

enum price_kind { PRICE_APPEARED, PRICE_DROPPED, PRICE_CHANGED, PRICE_NKINDS };

/* A cost or price that does not apply (before an appearance, after a
 * drop) or could not be computed (an unknown currency, an overflow). */
#define PRICE_NONE INT64_MIN

struct price_change {
	int64_t service; /* the upstream's service ID */
	enum price_kind kind;
	money_t cost_before, cost_after;   /* panel currency, or PRICE_NONE */
	money_t price_before, price_after; /* marked up, or PRICE_NONE */
};

struct price_diff {
	struct price_change *v; /* owned; by service ID */
	size_t n;
	size_t count[PRICE_NKINDS];
	size_t stored; /* services in the old list */
};

/* "appeared", "dropped", "changed"; and back (-1 if unknown). */
const char *price_kind_name(enum price_kind k);
int price_kind_parse(const char *name);

/* The differences from OLD to NEW (UP's lists, in any order, IDs unique)
 * into OUT, priced under CFG now.  A service is "changed" when its cost or
 * its price differs.  An empty OLD (a first sync) gives no rows: nothing
 * was known before.  OUT is freed with price_diff_free. */
void price_diff(const struct config *cfg, const struct cfg_upstream *up,
                const struct dialect_services *old,
                const struct dialect_services *new_list,
                struct price_diff *out);
void price_diff_free(struct price_diff *d); /* NULL ok */

/* UP's max_drop, else pricing.max_drop: a percent (MONEY_SCALE units). */
money_t price_max_drop(const struct config *cfg, const struct cfg_upstream *up);
/* Whether a sync dropping DROPPED of STORED services drops more than
 * MAX_DROP percent of them: 1 refuse, 0 apply. */
int price_drop_refused(size_t stored, size_t dropped, money_t max_drop);

#endif
