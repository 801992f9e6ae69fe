/* pricing.h - customers' own rates: customer groups with a discount or a
 * surcharge, and per-customer overrides per service (a percent off, or a
 * fixed rate), applied on top of the catalogue's rate so they follow every
 * catalogue change, and never below the floor: the cheapest route's cost x
 * (1 + pricing.min_margin) (DESIGN.md, "Customer rates").
 *
 * A struct pricing is a snapshot of every customer's rules, loaded from the
 * store (store_pricing_load) and swapped whole when the store's pricing
 * generation moves (as catalogues are); readers hold a reference.  The
 * quote is a pure function of the catalogue service, the rules and the
 * configuration. */
#ifndef PANELMUX_PRICING_H
#define PANELMUX_PRICING_H

#include <stddef.h>
#include <stdint.h>

#include "money.h"

struct catalog;
struct catalog_service;
struct config;
struct store;

/* One override: for SERVICE_ID a fixed rate per 1000 (FIXED), or VALUE
 * percent off the catalogue's rate. */
struct pricing_rule {
	int64_t service_id;
	int fixed;
	money_t value;
};

/* What a customer has: a group's percent (negative: a discount), and
 * overrides sorted by service. */
struct pricing_customer {
	int64_t customer_id;
	int has_group;
	money_t group_percent;
	struct pricing_rule *rules;
	size_t nrules, caprules;
};

struct pricing {
	int refs;
	struct pricing_customer *v; /* sorted by customer_id */
	size_t n, cap;
	int64_t gen; /* the store's pricing generation it was loaded at */
};

struct pricing *pricing_new(void);
struct pricing *pricing_ref(struct pricing *pr);
void pricing_unref(struct pricing *pr); /* NULL ok */
/* While loading: customer CID's group percent, or a rule of theirs. */
void pricing_add_group(struct pricing *pr, int64_t cid, money_t percent);
void pricing_add_rule(struct pricing *pr, int64_t cid,
                      const struct pricing_rule *r);
/* Sort what was added (before the first lookup). */
void pricing_finish(struct pricing *pr);
/* CID's rules, or NULL when they pay the catalogue's rates. */
const struct pricing_customer *pricing_customer(const struct pricing *pr,
                                                int64_t cid);

enum pricing_source {
	PRICING_LIST,    /* the catalogue's rate */
	PRICING_GROUP,   /* the group's percent on it */
	PRICING_PERCENT, /* the override's percent off it */
	PRICING_FIXED    /* the override's rate */
};
const char *pricing_source_name(enum pricing_source s);

struct pricing_quote {
	money_t list;  /* the catalogue's rate */
	money_t rate;  /* what the customer pays per 1000 */
	money_t floor; /* the cheapest route's cost x (1 + min_margin) */
	enum pricing_source source;
	int clamped; /* the rule asked for less than the floor */
};

/* Customer PC's (NULL: none) rate for S: the rule (an override wins over
 * the group), rounded up to pricing.round_to (a fixed rate is taken as
 * given), then raised to the floor.  0, or -1 on overflow. */
int pricing_quote(const struct config *cfg, const struct catalog_service *s,
                  const struct pricing_customer *pc, struct pricing_quote *q);

/* How many of PR's rules the floor raises over catalogue C: overrides
 * (customer, service) into *OVERRIDES, and (group percent, service) pairs
 * into *GROUPS (each distinct percent counted once). */
void pricing_clamps(const struct pricing *pr, const struct catalog *c,
                    const struct config *cfg, size_t *overrides,
                    size_t *groups);

/* The services reply of C with PC's rates (the catalogue's own rendering
 * with each rate replaced).  Free it; *LEN its length. */
char *pricing_services_json(const struct catalog *c, const struct config *cfg,
                            const struct pricing_customer *pc, size_t *len);

#endif
