/* orders.h - orders end to end: add (charge, route, forward, the three
 * outcomes), the reply wait, the queued-order sweeper (which is also crash
 * recovery), the status poller with exactly-once settlement, and the
 * status, refill, refill_status and cancel actions, all batched per
 * upstream.
 *
 * The engine speaks no v2: it takes typed requests (a built order, a list
 * of IDs) and answers typed results through a callback; the API layer
 * (api.c) parses requests and renders the replies (reply.c). */
#ifndef PANELMUX_ORDERS_H
#define PANELMUX_ORDERS_H

#include <stddef.h>
#include <stdint.h>

#include "money.h"

struct dialect_order_status;
struct order;
struct order_spec;
struct panel;
struct orders;

struct orders_stats {
	/* ambiguous counts add outcomes (the order is then in doubt);
	 * unrouted, adds no route could take yet (they stay queued). */
	uint64_t added, rejected, ambiguous, unrouted, settled;
	uint64_t unknown_status;
};

struct orders *orders_new(struct panel *p);
/* Start the sweeper (queued orders are sent: after a crash too) and the
 * pollers; report orders left `sending` by a previous run: in doubt. */
void orders_start(struct orders *o);
/* The panel's config changed (a reload): batch sizes and poll intervals
 * follow it. */
void orders_reload(struct orders *o);
/* Stop starting new upstream calls (before the engine is freed). */
void orders_stop(struct orders *o);
/* Free; pending asks end as "not sent". NULL ok. */
void orders_free(struct orders *o);
void orders_stats(const struct orders *o, struct orders_stats *out);
struct batch_stats;
/* The batching stats of upstream IDX. */
void orders_batch_stats(const struct orders *o, size_t idx,
                        struct batch_stats *out);
/* Run one poll cycle of upstream IDX now (tests, the CLI). */
void orders_poll(struct orders *o, size_t idx);

/* What a customer is told of an upstream's refusal text MSG of an add:
 * the standard v2 error it matches, or a neutral sentence; never the
 * upstream's own words.  May write into BUF (LEN bytes); returns it or a
 * static string. */
const char *orders_refusal_text(const char *msg, char *buf, size_t len);

/*
 * The engine's clock: its rules read the time through it, so tests can set
 * it.  The default is lib/clock.c's.
 */
struct orders_clock {
	int64_t (*wall_ms)(void); /* milliseconds since the epoch */
};

/* Read the time through C (NULL: the default) from now on. */
void orders_set_clock(struct orders *o, const struct orders_clock *c);

/*
 * The engine's pure rules (orders_poll.c), for its own use and its tests.
 */

#define ORDERS_QUEUE_MAX_S 3600 /* unsent this long: refunded */

/* 1 if an order created at CREATED_S (unix seconds), still queued at NOW_S,
 * is refunded instead of sent: no upstream took it within
 * ORDERS_QUEUE_MAX_S. */
int orders_queue_expired(int64_t created_s, int64_t now_s);

/* Orders polled before this (unix ms) are due at NOW_MS for an upstream
 * polled every INTERVAL_MS: a tenth of an interval early, so answers spread
 * over a cycle stay in it. */
int64_t orders_poll_due_before(int64_t now_ms, int64_t interval_ms);

/* 1 if an order polled at POLLED_MS answers a status at NOW_MS from the
 * store: its copy is not older than the upstream's poll INTERVAL_MS. */
int orders_status_fresh(int64_t polled_ms, int64_t now_ms,
                        int64_t interval_ms);

/* What an upstream's status answer does to an order. */
enum orders_settle_do {
	ORDERS_SETTLE_IGNORE,  /* the order is not open: a flip or a replay
	                        * of a final answer changes nothing */
	ORDERS_SETTLE_RECORD,  /* an open status: the word is recorded */
	ORDERS_SETTLE_UNKNOWN, /* a word we cannot act on: recorded as sent,
	                        * no money moves */
	ORDERS_SETTLE_WAIT,    /* Partial without remains: not settled yet */
	ORDERS_SETTLE_FINAL    /* settled to FINAL_STATE, refunding REFUND */
};

struct orders_settlement {
	enum orders_settle_do what;
	int final_state; /* FINAL: ORDER_COMPLETED.., else -1 */
	int64_t remains; /* the answer's remains clamped to [0, the order's
	                  * upstream_quantity], -1 unknown */
	money_t refund;  /* FINAL: store_refund_for's refund (the store
	                  * settles with the same rule), -1 if it cannot be
	                  * computed; else 0 */
};

/* Decide what status ST does to order ORD (money in DECIMALS). */
void orders_settle_decide(const struct order *ord,
                          const struct dialect_order_status *st, int decimals,
                          struct orders_settlement *out);

/* Why an add or an item of a per-ID action failed. */
enum orders_err {
	ORDERS_ERR_NONE,
	ORDERS_ERR_NOTFOUND,   /* no such order (refill) of the customer's */
	ORDERS_ERR_INTERNAL,   /* the store could not tell or write */
	ORDERS_ERR_FUNDS,      /* add: not enough funds on balance */
	ORDERS_ERR_REQUEST_ID, /* add: request_id used for another order */
	ORDERS_ERR_TEXT        /* the engine's sentence (TEXT) */
};

/* An add's outcome: the order ID, or WHY (and TEXT) it was refused.  TEXT
 * is valid during the call only. */
typedef void (*orders_add_cb)(void *arg, int64_t id, enum orders_err why,
                              const char *text);

/* Add an order of SERVICE_ID for CUSTOMER as built in SPEC (its fields are
 * taken, SPEC is cleared), with REQUEST_ID (NULL: none; copied).  0: CB(ARG)
 * is called from the event loop with the outcome; -1: no such service
 * (SPEC cleared, CB never called). */
int orders_add(struct orders *o, int64_t customer, int64_t service_id,
               struct order_spec *spec, const char *request_id,
               orders_add_cb cb, void *arg);

/* One ID of a per-ID action, as answered. */
struct orders_item {
	int64_t id;              /* the customer's order or refill ID */
	const struct order *row; /* status: the order now, NULL if not theirs */
	int ok;                  /* refill_status: found; cancel: canceled */
	int64_t refill;          /* refill: the new refill ID, 0 if none */
	char status[32];         /* refill_status: the refill's word */
	enum orders_err why;     /* otherwise why not */
	const char *text;        /* ORDERS_ERR_TEXT: the sentence */
	char note[160];          /* a sentence made for this item (text) */
};

/* A per-ID action's result: N items in the order asked; MULTI: the list
 * form was asked for. */
struct orders_ids {
	int multi;
	size_t n;
	const struct orders_item *items;
};

/* RES is valid during the call only. */
typedef void (*orders_ids_cb)(void *arg, const struct orders_ids *res);

/* The per-ID actions over IDS (N of them, at most ORDERS_MAX_IDS) of
 * CUSTOMER; MULTI: the list form was used.  1: CB(ARG) was called before
 * the return; 0: it will be called from the event loop; -1: the store
 * failed (CB is never called). */
#define ORDERS_MAX_IDS 100
/* As CUSTOMER: the operator's call (the admin API), over anyone's orders. */
#define ORDERS_ANY_CUSTOMER 0
int orders_status(struct orders *o, int64_t customer, const int64_t *ids,
                  size_t n, int multi, orders_ids_cb cb, void *arg);
int orders_refill(struct orders *o, int64_t customer, const int64_t *ids,
                  size_t n, int multi, orders_ids_cb cb, void *arg);
int orders_refill_status(struct orders *o, int64_t customer,
                         const int64_t *ids, size_t n, int multi,
                         orders_ids_cb cb, void *arg);
int orders_cancel(struct orders *o, int64_t customer, const int64_t *ids,
                  size_t n, int multi, orders_ids_cb cb, void *arg);

#endif
