/* reply.h - the exact v2 JSON shapes customers get: errors, an add's
 * {"order":N}, an order's status object, and the single and list replies
 * of status, refill, refill_status and cancel, rendered from the order
 * engine's typed results (orders.h). */
#ifndef PANELMUX_REPLY_H
#define PANELMUX_REPLY_H

#include <stdint.h>

#include "orders.h"
#include "store.h"

struct buf;

/* The exact error strings panels use (SPEC section 4). */
#define API_ERR_KEY "Invalid API key"
#define API_ERR_REQUEST "Incorrect request"
#define API_ERR_SERVICE "Incorrect service ID"
#define API_ERR_ORDER "Incorrect order ID"
#define API_ERR_REFILL "Refill not found"
#define API_ERR_FUNDS "Not enough funds on balance"
#define API_ERR_RATE "Too many requests"
#define API_ERR_MAX_IDS "Maximum 100 IDs per request"
#define API_ERR_INTERNAL "Internal error, please try again later"
#define API_ERR_REQUEST_ID                                                     \
	"This request_id was already used for a different order"

/* What an order's status shows: the currency and decimals of the config,
 * and the last upstream word shown (a status of 100 IDs mostly repeats one
 * or two). */
struct reply_ctx {
	const char *currency;
	int decimals;
	char memo_word[sizeof(((struct order *)0)->upstream_status)];
	const char *memo_shown;
};

/* {"error":MSG} into OUT. */
void reply_error(struct buf *out, const char *msg);
/* The sentence of an engine error WHY (TEXT for ORDERS_ERR_TEXT);
 * NOTFOUND is the action's own "no such ID" error. */
const char *reply_err_text(enum orders_err why, const char *text,
                           const char *notfound);
/* An add's answer: {"order":ID}, or the error. */
void reply_add(struct buf *out, int64_t id, enum orders_err why,
               const char *text);
/* ORD's status object, as the status action shows it, appended to B. */
void reply_order_object(struct buf *b, const char *currency, int decimals,
                        const struct order *ord);
/* The replies of the per-ID actions. */
void reply_status(struct buf *out, struct reply_ctx *rc,
                  const struct orders_ids *res);
void reply_refill(struct buf *out, const struct orders_ids *res);
void reply_refill_status(struct buf *out, const struct orders_ids *res);
void reply_cancel(struct buf *out, const struct orders_ids *res);

#endif
