/* reply.c - the exact v2 JSON shapes: errors, {"order":N}, the status
 * object of an order, and the single and list forms of the per-ID
 * actions' replies. */
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "dialect.h"
#include "money.h"
#include "orders.h"
#include "reply.h"
#include "store.h"

void
reply_error(struct buf *out, const char *msg)
{
	buf_puts(out, "{\"error\":");
	buf_json_string(out, msg);
	buf_puts(out, "}");
}

const char *
reply_err_text(enum orders_err why, const char *text, const char *notfound)
{
	switch (why) {
	case ORDERS_ERR_NONE:
	case ORDERS_ERR_NOTFOUND:
		break;
	case ORDERS_ERR_INTERNAL:
		return API_ERR_INTERNAL;
	case ORDERS_ERR_FUNDS:
		return API_ERR_FUNDS;
	case ORDERS_ERR_REQUEST_ID:
		return API_ERR_REQUEST_ID;
	case ORDERS_ERR_TEXT:
		return text;
	}
	return notfound;
}

void
reply_add(struct buf *out, int64_t id, enum orders_err why, const char *text)
{
	if (why != ORDERS_ERR_NONE) {
		buf_reset(out);
		reply_error(out, reply_err_text(why, text, API_ERR_INTERNAL));
	} else
		buf_printf(out, "{\"order\":%lld}", (long long)id);
}

/* What a customer sees of an active order's upstream word.  The last word
 * is remembered: a status of 100 IDs mostly repeats one or two. */
static const char *
reply_active_word(struct reply_ctx *rc, const char *word)
{
	const char *shown;
	size_t n;

	if (rc->memo_shown != NULL && strcmp(rc->memo_word, word) == 0)
		return rc->memo_shown;
	/* Customers see the standard v2 words only (DESIGN.md, "Orders") */
	shown = dialect_status_shown(word);
	if ((n = strlen(word)) < sizeof(rc->memo_word)) {
		memcpy(rc->memo_word, word, n + 1);
		rc->memo_shown = shown;
	}
	return shown;
}

/* What a customer sees of an order's state. */
static const char *
reply_status_word(struct reply_ctx *rc, const struct order *ord)
{
	switch (ord->state) {
	case ORDER_QUEUED:
	case ORDER_SENDING:
		return "Pending";
	case ORDER_ACTIVE:
		return reply_active_word(rc, ord->upstream_status);
	case ORDER_COMPLETED:
		return "Completed";
	case ORDER_PARTIAL:
		return "Partial";
	case ORDER_CANCELED:
	case ORDER_REJECTED:
	case ORDER_REFUNDED: /* not a v2 word: canceled with a full refund */
		return "Canceled";
	}
	return "Pending";
}

/* V in decimal into BUF (24 bytes); returns its length.  No printf: a
 * status of 100 IDs renders 300 numbers. */
static size_t
reply_itoa_len(int64_t v, char *buf)
{
	char tmp[24];
	uint64_t m = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	size_t n = 0, o = 0;

	do {
		tmp[n++] = (char)('0' + m % 10);
		m /= 10;
	} while (m != 0);
	if (v < 0)
		buf[o++] = '-';
	while (n > 0)
		buf[o++] = tmp[--n];
	buf[o] = '\0';
	return o;
}

static void
reply_put_int(struct buf *b, int64_t v)
{
	char num[24];

	buf_add(b, num, reply_itoa_len(v, num));
}

/* Append literal LIT at P, advancing it. */
#define REPLY_LIT(p, lit)                                                      \
	do {                                                                   \
		memcpy((p), lit, sizeof(lit) - 1);                             \
		(p) += sizeof(lit) - 1;                                        \
	} while (0)

static char *
reply_put_str(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

/* One order's status object, built in place and appended at once: a status
 * of 100 IDs renders 100 of them. */
static void
reply_order(struct reply_ctx *rc, struct buf *b, const struct order *ord)
{
	/* 5 keys, 2 numbers, an amount, a status word, a currency code */
	char out[256], *p = out;
	int64_t remains;

	/* In the upstream's unit (quantity x runs for drip-feed, max for
	 * Subscriptions), as the upstream reported it. */
	if (ord->state == ORDER_COMPLETED)
		remains = 0;
	else if (ord->state == ORDER_REJECTED)
		remains = ord->upstream_quantity; /* nothing was delivered */
	else
		remains = ord->remains >= 0 ? ord->remains
		                            : ord->upstream_quantity;
	/* The charge net of refunds, as panels show it.  The currency is a
	 * validated code of 3 to 8 capital letters and the status words are
	 * ours: nothing here needs escaping. */
	REPLY_LIT(p, "{\"charge\":\"");
	money_format(ord->charge - ord->refunded, rc->decimals, p);
	p += strlen(p);
	REPLY_LIT(p, "\",\"start_count\":\"");
	p += reply_itoa_len(ord->start_count >= 0 ? ord->start_count : 0, p);
	REPLY_LIT(p, "\",\"status\":\"");
	p = reply_put_str(p, reply_status_word(rc, ord));
	REPLY_LIT(p, "\",\"remains\":\"");
	p += reply_itoa_len(remains, p);
	REPLY_LIT(p, "\",\"currency\":\"");
	p = reply_put_str(p, rc->currency);
	REPLY_LIT(p, "\"}");
	buf_add(b, out, (size_t)(p - out));
}

void
reply_order_object(struct buf *b, const char *currency, int decimals,
                   const struct order *ord)
{
	struct reply_ctx rc = {currency, decimals, "", NULL};

	reply_order(&rc, b, ord);
}

/* Item IT's error object, NOTFOUND its "no such ID". */
static void
reply_item_error(struct buf *b, const struct orders_item *it,
                 const char *notfound)
{
	reply_error(b, reply_err_text(it->why, it->text, notfound));
}

void
reply_status(struct buf *b, struct reply_ctx *rc, const struct orders_ids *res)
{
	if (!res->multi) {
		if (res->items[0].row != NULL)
			reply_order(rc, b, res->items[0].row);
		else
			reply_error(b, API_ERR_ORDER);
		return;
	}
	BUF_LIT(b, "{");
	for (size_t i = 0; i < res->n; i++) {
		if (i > 0)
			BUF_LIT(b, ",");
		BUF_LIT(b, "\"");
		reply_put_int(b, res->items[i].id);
		BUF_LIT(b, "\":");
		if (res->items[i].row != NULL)
			reply_order(rc, b, res->items[i].row);
		else
			reply_error(b, API_ERR_ORDER);
	}
	buf_puts(b, "}");
}

void
reply_refill(struct buf *b, const struct orders_ids *res)
{
	if (!res->multi) {
		if (res->items[0].refill > 0)
			buf_printf(b, "{\"refill\":\"%lld\"}",
			           (long long)res->items[0].refill);
		else
			reply_item_error(b, &res->items[0], API_ERR_ORDER);
		return;
	}
	buf_puts(b, "[");
	for (size_t i = 0; i < res->n; i++) {
		const struct orders_item *it = &res->items[i];

		buf_printf(b, "%s{\"order\":%lld,\"refill\":", i > 0 ? "," : "",
		           (long long)it->id);
		if (it->refill > 0)
			buf_printf(b, "%lld}", (long long)it->refill);
		else {
			reply_item_error(b, it, API_ERR_ORDER);
			buf_puts(b, "}");
		}
	}
	buf_puts(b, "]");
}

void
reply_refill_status(struct buf *b, const struct orders_ids *res)
{
	if (!res->multi) {
		if (res->items[0].ok)
			buf_printf(b, "{\"status\":\"%s\"}",
			           res->items[0].status);
		else
			reply_item_error(b, &res->items[0], API_ERR_REFILL);
		return;
	}
	buf_puts(b, "[");
	for (size_t i = 0; i < res->n; i++) {
		const struct orders_item *it = &res->items[i];

		buf_printf(b,
		           "%s{\"refill\":%lld,\"status\":", i > 0 ? "," : "",
		           (long long)it->id);
		if (it->ok)
			buf_printf(b, "\"%s\"}", it->status);
		else {
			reply_item_error(b, it, API_ERR_REFILL);
			buf_puts(b, "}");
		}
	}
	buf_puts(b, "]");
}

/* Cancel always answers the list form. */
void
reply_cancel(struct buf *b, const struct orders_ids *res)
{
	buf_puts(b, "[");
	for (size_t i = 0; i < res->n; i++) {
		const struct orders_item *it = &res->items[i];

		buf_printf(b, "%s{\"order\":%lld,\"cancel\":", i > 0 ? "," : "",
		           (long long)it->id);
		if (it->ok)
			buf_puts(b, "1}");
		else {
			reply_item_error(b, it, API_ERR_ORDER);
			buf_puts(b, "}");
		}
	}
	buf_puts(b, "]");
}
