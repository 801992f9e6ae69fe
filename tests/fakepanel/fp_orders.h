/* fp_orders.h - fakepanel state: the panel's own balance, orders, refills
 * and how they progress (--progress manual | instant | timer:MS). */
#ifndef FAKEPANEL_FP_ORDERS_H
#define FAKEPANEL_FP_ORDERS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "fp.h"
#include "fp_catalog.h"
#include "fp_params.h"
#include "money.h"

/* Outcomes the reply layer turns into each dialect's error text. */
enum fp_err {
	FP_OK,
	FP_E_TEXT,          /* the text is in the caller's buffer */
	FP_E_SERVICE,       /* Incorrect service ID */
	FP_E_FUNDS,         /* Not enough funds on balance */
	FP_E_ORDER,         /* Incorrect order ID */
	FP_E_REFILL_DENIED, /* the order cannot be refilled */
	FP_E_REFILL_NONE,   /* Refill not found */
	FP_E_CANCEL_DENIED  /* the order cannot be canceled */
};

struct fp_orders_conf {
	money_t balance;
	const char *currency; /* copied */
	int64_t first_order;  /* ID of the first order (then +1 each) */
	/* Orders first_order .. first_order + assume - 1 exist from the
	 * start (and after a reset), as if added: service 1 (else the first
	 * service), quantity 1000, Pending under manual progress, no
	 * recorded fields, the panel's balance not charged.  Benchmarks use
	 * them for stores of many open orders (tests/bench/bench_scale.py). */
	int64_t assume;
	enum fp_progress progress;
	int64_t progress_ms;
};

struct fp_order {
	int64_t id;
	int64_t service;
	enum fp_type type;
	int64_t quantity; /* per run for drip-feed */
	int64_t runs;     /* 0 = not drip-feed */
	int64_t interval;
	money_t charge;
	int64_t created_ms;
	char *params; /* every field received except key, packed */
	size_t params_len;
	/* Set through /control or by cancel: the progress mode no longer
	 * moves the order. */
	int manual;
	enum fp_status status;
	char *status_text; /* FP_ST_OTHER only */
	int64_t start_count;
	int64_t remains;
	int remains_unknown;
	int refunded; /* the panel's balance got this order's refund */
};

/* What a status reply shows, with progress applied. */
struct fp_order_view {
	enum fp_status status;
	const char *status_text; /* FP_ST_OTHER only */
	money_t charge;
	int64_t start_count;
	int64_t remains;
	int remains_unknown;
};

struct fp_refill {
	int64_t id;
	int64_t order;
	int64_t created_ms;
	int manual;
	enum fp_status status;
};

/* Control-API changes to one order; a zero HAS_ flag leaves a field. */
struct fp_order_set {
	const char *status; /* a status name, or any text (verbatim) */
	int has_remains, remains_unknown;
	int64_t remains;
	int has_start_count;
	int64_t start_count;
	int has_charge;
	money_t charge;
};

void fp_orders_init(const struct fp_orders_conf *conf);
/* Forget every order and refill; balance and progress back to the
 * start-up values. */
void fp_orders_reset(void);
void fp_orders_free(void);

money_t fp_orders_balance(void);
void fp_orders_set_balance(money_t v);
const char *fp_orders_currency(void);
void fp_orders_set_progress(enum fp_progress mode, int64_t ms);
size_t fp_orders_count(void);
size_t fp_orders_refill_count(void);

/* Validate and place an order from the request fields P (recorded with
 * it), charging the panel balance.  FP_OK and *ID, or an error
 * (FP_E_TEXT: the text is in ERR). */
enum fp_err fp_orders_add(const struct fp_params *p, int64_t *id, char *err,
                          size_t errlen);
/* NULL if there is no such order. */
struct fp_order *fp_orders_get(int64_t id);
void fp_orders_view(const struct fp_order *o, struct fp_order_view *v);
/* FP_OK and *REFILL_ID, FP_E_ORDER or FP_E_REFILL_DENIED. */
enum fp_err fp_orders_refill(int64_t order, int64_t *refill_id);
/* FP_OK and *ST, or FP_E_REFILL_NONE. */
enum fp_err fp_orders_refill_status(int64_t refill, enum fp_status *st);
/* FP_OK, FP_E_ORDER or FP_E_CANCEL_DENIED.  A canceled order refunds the
 * panel balance. */
enum fp_err fp_orders_cancel(int64_t order);

/* Control API.  0, or -1 with ERR set. */
int fp_orders_set(int64_t id, const struct fp_order_set *s, char *err,
                  size_t errlen);
int fp_orders_refill_set(int64_t id, const char *status, char *err,
                         size_t errlen);
/* A new JSON object describing order O (the control API's view). */
json_t *fp_orders_json(const struct fp_order *o);
/* Call FN for every order, in ID order. */
void fp_orders_foreach(void (*fn)(const struct fp_order *, void *), void *arg);

#endif
