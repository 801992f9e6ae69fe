/* catalog.h - the local service catalogue: config `services` entries
 * (routes and imports) applied to each upstream's last known services list,
 * converted to the panel currency, marked up, and rendered once as the v2
 * `services` reply.
 *
 * A catalog is an immutable snapshot with a reference count: a sync builds a
 * new one and swaps it in, while requests still holding the old one finish
 * with it. */
#ifndef PANELMUX_CATALOG_H
#define PANELMUX_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "money.h"

/* The largest quantity panelmux takes, and so the largest min/max a
 * service is listed with: ordertype's ORDERTYPE_NUM_MAX (checked in
 * ordertype.c).  Panels list "unlimited" maxima as int64's largest value;
 * such limits are clamped to this, and the service kept. */
#define CATALOG_QTY_MAX INT64_C(1000000000000)

/* What a customer is told when a service does not offer refill / cancel
 * (catalog_service_allows), answered without calling the upstream. */
#define CATALOG_NO_REFILL "Refill is not available for this service"
#define CATALOG_NO_CANCEL "Cancel is not available for this service"

enum catalog_action { CATALOG_REFILL, CATALOG_CANCEL };

struct config;
struct cfg_markup;
struct cfg_upstream;
struct dialect_services;

struct catalog_route {
	size_t upstream;  /* index into config.upstreams */
	int64_t service;  /* the upstream's service ID */
	money_t cost;     /* upstream rate per 1000 in the panel currency */
	money_t rate;     /* this entry's marked-up rate per 1000 */
	int64_t min, max; /* the upstream's own limits, <= CATALOG_QTY_MAX */
};

struct catalog_service {
	int64_t id; /* local service ID */
	char *name, *type, *category;
	char *description, *refill_time; /* NULL when unknown */
	money_t rate;     /* listed rate per 1000: the highest route rate */
	int64_t min, max; /* <= CATALOG_QTY_MAX */
	/* As the routes' upstreams list them: 1 when every one says yes, 0
	 * when one says no, else DIALECT_FLAG_UNKNOWN (one does not say). */
	int refill_flag, cancel_flag;
	/* Offered, listed as such, and forwarded: the config's refill /
	 * cancel when set, else the flag is 1.  0/1. */
	int refill, cancel;
	/* How long after completion a refill may be asked, ms; 0 no limit
	 * (catalog_offers: the config's, the upstream's, the default) */
	int64_t refill_window_ms;
	/* enum route_mode and enum route_same_link (route.h): the config
	 * entry's, else pricing's */
	int route_mode, same_link;
	int dripfeed;
	struct catalog_route *routes; /* in route order, present ones only */
	size_t nroutes;
	size_t seq; /* build order, for precedence on id collisions */
};

struct catalog {
	int refs;
	struct catalog_service *v; /* sorted by id */
	size_t n;
	size_t skipped; /* entries left out (logged): collisions, no price */
	size_t clamped; /* routes whose limits were over CATALOG_QTY_MAX */
	char *json;     /* the rendered services reply */
	size_t json_len;
};

/* The days a refill_time names ("30 days", "30D", "30"), or 0 when it
 * names none ("Lifetime", "No refill", NULL, other units). */
int64_t catalog_refill_days(const char *text);

/* Build from CFG and LISTS (cfg->nupstreams entries, in config order; an
 * empty list means nothing is known of that upstream yet).  Never NULL. The
 * result has one reference. */
struct catalog *catalog_build(const struct config *cfg,
                              const struct dialect_services *lists);
struct catalog *catalog_ref(struct catalog *c);
void catalog_unref(struct catalog *c); /* NULL ok */

const struct catalog_service *catalog_find(const struct catalog *c, int64_t id);

/* C's services reply, with RATES[i] as service i's rate (NULL: its own);
 * free it; *LEN its length. */
char *catalog_render_json(const struct catalog *c, const money_t *rates,
                          size_t *len);

/* Whether local service ID offers A (refill or cancel): 1, or 0 when it
 * does not (the routes' upstreams do not all list it and the config does
 * not say so), is not listed (any more), or C is NULL.  A refused request
 * is answered CATALOG_NO_REFILL / CATALOG_NO_CANCEL and never reaches an
 * upstream. */
int catalog_service_allows(const struct catalog *c, int64_t id,
                           enum catalog_action a);

/* The marked-up panel-currency rate for an upstream rate RATE (per 1000, in
 * UP's currency), with markup SVC (service level, may be NULL or unset)
 * over UP's over the global one: convert (rounded up), add percent and
 * fixed, floor at min_rate, round UP to pricing.round_to.  0, or -1 on
 * overflow or an unknown currency. */
int catalog_price(const struct config *cfg, const struct cfg_upstream *up,
                  const struct cfg_markup *svc, money_t rate, money_t *out,
                  money_t *cost);

#endif
