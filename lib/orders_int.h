/* orders_int.h - what the order engine's files share: the engine's state,
 * an add's dispatch job, and the calls between the add path, the group
 * commit, sweep and poll, and the life cycle.  Not for use outside
 * lib/orders*.c. */
#ifndef PANELMUX_ORDERS_INT_H
#define PANELMUX_ORDERS_INT_H

#include <stddef.h>
#include <stdint.h>

#include <event2/util.h>

#include "batch.h"
#include "dialect.h"
#include "money.h"
#include "orders.h"
#include "ordertype.h"
#include "store.h"

#define ORDERS_SWEEP_MS 2000   /* queued orders retried this often */
#define ORDERS_SWEEP_BATCH 200 /* queued orders looked at per sweep */
/* A queued order one sweep claimed is not claimed again (by any instance)
 * for this long. */
#define ORDERS_SWEEP_LEASE_MS (ORDERS_SWEEP_MS - 200)
#define ORDERS_POLL_CLAIM 1000  /* open orders claimed at once, 10 batches */
/* SQLite: a poll cycle reads its due orders ORDERS_POLL_READ at a time (one
 * status call's IDs, by a keyset on (polled_at, id)), a read per loop pass
 * while fewer than two pages of IDs are unanswered and fewer than three are
 * unapplied (else again in ORDERS_POLL_WAIT_MS).  A page is a status call
 * for each of the upstream's read connections (max_connections x 100 IDs,
 * ORDERS_POLL_PAGE at least): one page in flight and the next queued behind
 * it, so the read lane stays full across a WAN and never waits for a read,
 * and the batcher holds three pages at most, not every open order of the
 * upstream.  A read of 1,000 rows scattered over ten million orders held
 * the loop 10 ms (47 at worst) on the scale bench; one of 100, about 1.
 * Adds have a lane of their own (max_write_connections). */
#define ORDERS_POLL_PAGE 600
#define ORDERS_POLL_READ 100
#define ORDERS_POLL_WAIT_MS 5
#define ORDERS_MAX_ROUTES 16
#define ORDERS_UNAVAILABLE                                                     \
	"This service is temporarily unavailable, please try again later"

/* An add refused by the same-link guard (DESIGN.md, "Same-link guard"):
 * the sentence SMM panels answer with for a link that has an open order. */
#define ORDERS_LINK_OPEN                                                       \
	"You have active order with this link. Please wait until order being "  \
	"completed."

#define ORDERS_GROUP_MAX 256 /* orders created or activated per commit */

struct pending_add;

struct add_job;

/* An upstream accepted an order: recorded with others in one commit, then
 * its job completes (the customer gets the ID once it is recorded). */
struct pending_active {
	struct add_job *job;
	int64_t id;
	char upstream_order[DIALECT_ID_SZ];
	money_t cost;
};

struct orders {
	struct panel *p;
	struct batcher **b;        /* one per upstream */
	struct event **poll_timer; /* one per upstream */
	struct event *sweep_timer;
	struct strmap *dispatching; /* order id -> job being sent */
	/* Group commit: adds and activations of one loop pass. */
	struct pending_add *adds[ORDERS_GROUP_MAX];
	size_t nadds;
	struct pending_active actives[ORDERS_GROUP_MAX];
	size_t nactives;
	struct event *group;
	int flushing; /* a group's transaction is open (parked, on a fiber) */
	int stopping;
	struct orders_stats stats;
	struct orders_clock clock;
};

struct add_route {
	size_t upstream;
	int64_t service;
	money_t cost;
};

/* What the route being tried took off its upstream's balance estimate
 * (route.h), given back when the add was not sent or was refused. */

struct add_wait;

struct add_job {
	struct orders *o;
	int64_t id;
	money_t charge, rate;
	char *fields;
	struct add_route routes[ORDERS_MAX_ROUTES];
	int nroutes;
	int route;
	int marked; /* the route the order is 'sending' on for this job,
	             * -1 while it is queued */
	money_t taken; /* from the current route's balance estimate */
	struct add_wait *wait;
	char key[24];
	/* The configuration the job was made under, held (config_ref) for
	 * its life: its calls park the fiber while a reload may drop the
	 * daemon's own reference.  Upstreams keep their names and places
	 * across reloads, so route indices and names read here stay true. */
	const struct config *cfg;
};

struct add_wait {
	orders_add_cb cb;
	void *arg;
	struct event *timer;
	struct add_job *job;
	int64_t id;
};

/* An add validated and waiting for its loop pass's group commit. */
struct pending_add {
	struct order_new on;
	struct order_spec spec;              /* owns the fields */
	char upstream[STORE_UPNAME_MAX + 1]; /* a reload may free the config */
	char *request_id;
	uint8_t hash[ORDERTYPE_HASH_LEN];
	struct add_route routes[ORDERS_MAX_ROUTES];
	int nroutes;
	money_t rate;
	/* Answered with this sentence, never created (no route may take it
	 * at its rate); NULL: created */
	const char *refuse;
	char *link_key; /* the normalised link (linknorm.h), NULL: unguarded */
	int link_mode;  /* enum route_same_link */
	/* reroute: the upstreams it may be created on, in route order */
	char alt_names[ORDERS_MAX_ROUTES][STORE_UPNAME_MAX + 1];
	const char *alt_upstreams[ORDERS_MAX_ROUTES];
	int64_t alt_services[ORDERS_MAX_ROUTES];
	size_t nalt;
	int alt_chosen; /* the store's pick among them */
	orders_add_cb cb;
	void *arg;
};

/* orders_group.c */
void orders_group_schedule(struct orders *o);
void orders_flush_adds(struct orders *o);
void orders_flush_actives(struct orders *o);
void orders_group_run(void *a, void *b);
void orders_group_cb(evutil_socket_t fd, short what, void *arg);
void orders_activate(struct orders *o, struct add_job *j, const char *upid,
                     money_t cost);

/* orders_add.c */
void orders_dispatch(struct add_job *j);
struct add_job *orders_job_new(struct orders *o, int64_t id, money_t charge,
                               char *fields);
void orders_job_free(struct add_job *j);
int orders_job_routes(struct add_job *j, int64_t service_id, money_t rate,
                      const char *upstream);
void orders_ambiguous(struct add_job *j, const char *upstream,
                      const char *why);
void orders_pending_free(struct pending_add *pa);
void orders_pending_answer(struct pending_add *pa, enum orders_err why,
                           const char *text, int64_t id);
void orders_pending_start(struct orders *o, struct pending_add *pa,
                          int64_t id);

/* orders_poll.c */
struct orders_apply_ctx {
	struct orders *o;
	size_t upi;
	int grouped; /* a store group is open for a reply's answers */
	/* The poll cycle in pages (a store without claims, SQLite): the
	 * last order asked, by (polled_at, id). */
	struct event *page_timer;
	int cycling;
	int64_t due, after_polled, after_id;
};

void orders_sweep(struct orders *o);
void orders_sweep_cb(evutil_socket_t fd, short what, void *arg);
void orders_poll_cb(evutil_socket_t fd, short what, void *arg);
void orders_poll_page_cb(evutil_socket_t fd, short what, void *arg);
void orders_apply(void *ctx, enum batch_action a, int64_t local,
                  const char *id, const struct batch_answer *ans);
void orders_apply_group(void *ctx, int begin);
void orders_ignore(const char *id, const struct batch_answer *ans, void *arg);

#endif
