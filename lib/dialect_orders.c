/* dialect_orders.c - the replies about orders: add, balance, status,
 * refill and refill_status in their single forms, and each action's reading
 * of one ID's answer, which the multi reader (dialect_multi.c) uses. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dialect.h"
#include "dialect_int.h"

/* ---- order status ---------------------------------------------------- */

/* Read the fields of one order's status from O; -1 (reason in WHY) when
 * there is no status word. */
static int
dialect_order_status(const json_t *o, struct dialect_order_status *st,
                     char *why)
{
	const json_t *v;
	int64_t n;

	memset(st, 0, sizeof(*st));
	v = json_object_get(o, "status");
	if (!json_is_string(v)) {
		dialect_msg(why, v == NULL ? "no status in reply"
		                           : "status is not a string");
		return -1;
	}
	if (dialect_text(v, st->status_raw, sizeof(st->status_raw)) < 0) {
		dialect_msg(why, "empty status");
		return -1;
	}
	st->status = dialect_status_word(st->status_raw);

	if (dialect_money(json_object_get(o, "charge"), MONEY_ROUND_UP,
	                  &st->charge) == 0 &&
	    st->charge >= 0)
		st->has_charge = 1;
	else
		st->charge = 0;
	if (dialect_int(json_object_get(o, "start_count"), &n) == 0 && n >= 0) {
		st->has_start_count = 1;
		st->start_count = n;
	}
	v = json_object_get(o, "remains");
	if (dialect_int(v, &n) == 0) {
		st->has_remains = 1;
		st->remains = n;
	} else if (v != NULL) {
		st->remains_unknown = 1; /* "Unknown", null, "" */
	}
	if (dialect_currency(json_object_get(o, "currency"), st->currency) == 0)
		st->has_currency = 1;
	return 0;
}

/* Whether O carries a usable status word besides a refusal. */
static int
dialect_has_status_word(const json_t *o)
{
	const json_t *v = json_object_get(o, "status");
	char tmp[DIALECT_WORD_SZ];

	return dialect_text(v, tmp, sizeof(tmp)) == 0 &&
	       !dialect_word_in(v, dialect_fail_words);
}

/* ---- single-object replies ------------------------------------------- */

/* The outcome of a single reply O whose answer is the member KEY, which
 * HAS says was read: a refusal beside a usable answer is a fault, a refusal
 * alone a rejection, no usable answer a fault.  THE names the answer in
 * the fault texts ("an order ID"), WHAT without its article. */
static enum dialect_result
dialect_single(const json_t *o, int has, const char *key, const char *the,
               const char *what, char *msg)
{
	char err[DIALECT_MSG_SZ];

	if (dialect_refused(o, 0, err) != DIALECT_NOT_REFUSED) {
		if (!has) {
			memcpy(msg, err, sizeof(err));
			return DIALECT_REJECTED;
		}
		dialect_msg(msg, "reply has both %s and an error: %s", the,
		            err);
		return DIALECT_FAULT;
	}
	if (has)
		return DIALECT_OK;
	dialect_msg(msg, "%s %s in reply",
	            json_object_get(o, key) == NULL ? "no" : "unusable", what);
	return DIALECT_FAULT;
}

enum dialect_result
dialect_add(int http, const char *body, size_t len, struct dialect_add *out)
{
	enum dialect_result r;
	json_t *root, *o;
	int has;

	memset(out, 0, sizeof(*out));
	if ((root = dialect_load_object(http, body, len, &o, out->msg)) == NULL)
		return DIALECT_FAULT;
	has = dialect_id(json_object_get(o, "order"), 0, out->order) == 0;
	r = dialect_single(o, has, "order", "an order ID", "order ID",
	                   out->msg);
	if (r != DIALECT_OK)
		out->order[0] = '\0';
	json_decref(root);
	return r;
}

enum dialect_result
dialect_balance(int http, const char *body, size_t len,
                struct dialect_balance *out)
{
	enum dialect_result r;
	json_t *root, *o;
	int has;

	memset(out, 0, sizeof(*out));
	if ((root = dialect_load_object(http, body, len, &o, out->msg)) == NULL)
		return DIALECT_FAULT;
	has = dialect_money(json_object_get(o, "balance"), MONEY_ROUND_DOWN,
	                    &out->balance) == 0;
	r = dialect_single(o, has, "balance", "a balance", "balance", out->msg);
	if (r == DIALECT_OK)
		out->has_currency =
		    dialect_currency(json_object_get(o, "currency"),
		                     out->currency) == 0;
	else
		out->balance = 0;
	json_decref(root);
	return r;
}

enum dialect_result
dialect_status(int http, const char *body, size_t len,
               struct dialect_status_reply *out)
{
	enum dialect_result r;
	enum dialect_refusal ref;
	json_t *root, *o;
	char err[DIALECT_MSG_SZ];
	int has;

	memset(out, 0, sizeof(*out));
	if ((root = dialect_load_object(http, body, len, &o, out->msg)) == NULL)
		return DIALECT_FAULT;
	ref = dialect_refused(o, 1, err);
	has = dialect_order_status(o, &out->st, out->msg) == 0;
	if (ref != DIALECT_NOT_REFUSED) {
		if (ref == DIALECT_REFUSED_ERROR &&
		    dialect_has_status_word(o)) {
			dialect_msg(out->msg,
			            "reply has both a status and "
			            "an error: %s",
			            err);
			r = DIALECT_FAULT;
		} else {
			memcpy(out->msg, err, sizeof(err));
			r = DIALECT_REJECTED;
		}
	} else {
		r = has ? DIALECT_OK : DIALECT_FAULT;
	}
	if (r != DIALECT_OK)
		memset(&out->st, 0, sizeof(out->st));
	json_decref(root);
	return r;
}

/* The value of a "refill" member: a refill ID, an error object or a bare
 * error string. */
static enum dialect_item
dialect_refill_value(const json_t *v, char refill[DIALECT_ID_SZ], char *msg)
{
	if (v == NULL || json_is_null(v)) {
		dialect_msg(msg, "no refill ID in reply");
		return DIALECT_ITEM_FAULT;
	}
	if (dialect_id(v, 1, refill) == 0)
		return DIALECT_ITEM_OK;
	refill[0] = '\0';
	if (json_is_object(v)) {
		if (dialect_error_value(json_object_get(v, "error"), v, msg))
			return DIALECT_ITEM_REJECTED;
	} else if (json_is_string(v) &&
	           dialect_text(v, msg, DIALECT_MSG_SZ) == 0) {
		return DIALECT_ITEM_REJECTED;
	}
	dialect_msg(msg, "unusable refill ID in reply");
	return DIALECT_ITEM_FAULT;
}

/* One refill answer: an object with "refill" (or a refusal), or the bare
 * value of a keyed reply. */
enum dialect_item
dialect_refill_elem(const json_t *e, char refill[DIALECT_ID_SZ], char *msg)
{
	char err[DIALECT_MSG_SZ];
	const json_t *v;

	if (!json_is_object(e))
		return dialect_refill_value(e, refill, msg);
	v = json_object_get(e, "refill");
	if (dialect_refused(e, 0, err) != DIALECT_NOT_REFUSED) {
		if (dialect_id(v, 1, refill) == 0) {
			refill[0] = '\0';
			dialect_msg(msg,
			            "reply has both a refill ID and an "
			            "error: %s",
			            err);
			return DIALECT_ITEM_FAULT;
		}
		memcpy(msg, err, sizeof(err));
		return DIALECT_ITEM_REJECTED;
	}
	return dialect_refill_value(v, refill, msg);
}

enum dialect_result
dialect_item_result(enum dialect_item it)
{
	switch (it) {
	case DIALECT_ITEM_OK:
		return DIALECT_OK;
	case DIALECT_ITEM_REJECTED:
		return DIALECT_REJECTED;
	default:
		return DIALECT_FAULT;
	}
}

enum dialect_result
dialect_refill(int http, const char *body, size_t len,
               struct dialect_refill *out)
{
	enum dialect_result r;
	json_t *root, *o;

	memset(out, 0, sizeof(*out));
	if ((root = dialect_load_object(http, body, len, &o, out->msg)) == NULL)
		return DIALECT_FAULT;
	r = dialect_item_result(dialect_refill_elem(o, out->refill, out->msg));
	json_decref(root);
	return r;
}

/* One refill status answer: {"status":S} (S a word or an error object), a
 * refusal, or the bare word of a keyed reply. */
enum dialect_item
dialect_refill_status_elem(const json_t *e, enum dialect_refill_status *st,
                           char raw[DIALECT_WORD_SZ], char *msg)
{
	char err[DIALECT_MSG_SZ];
	enum dialect_refusal ref;
	const json_t *v = e;

	*st = DIALECT_REFILL_UNKNOWN;
	raw[0] = '\0';
	if (json_is_object(e)) {
		ref = dialect_refused(e, 1, err);
		if (ref != DIALECT_NOT_REFUSED) {
			if (ref == DIALECT_REFUSED_ERROR &&
			    dialect_has_status_word(e)) {
				dialect_msg(msg,
				            "reply has both a status and "
				            "an error: %s",
				            err);
				return DIALECT_ITEM_FAULT;
			}
			memcpy(msg, err, sizeof(err));
			return DIALECT_ITEM_REJECTED;
		}
		v = json_object_get(e, "status");
	}
	if (json_is_string(v)) {
		if (dialect_text(v, raw, DIALECT_WORD_SZ) < 0) {
			dialect_msg(msg, "empty status");
			return DIALECT_ITEM_FAULT;
		}
		*st = dialect_refill_status_word(raw);
		return DIALECT_ITEM_OK;
	}
	if (json_is_object(v) &&
	    dialect_error_value(json_object_get(v, "error"), v, msg))
		return DIALECT_ITEM_REJECTED;
	dialect_msg(msg, v == NULL ? "no status in reply"
	                           : "unusable status in reply");
	return DIALECT_ITEM_FAULT;
}

enum dialect_result
dialect_refill_status(int http, const char *body, size_t len,
                      struct dialect_refill_status_reply *out)
{
	enum dialect_result r;
	json_t *root, *o;

	memset(out, 0, sizeof(*out));
	if ((root = dialect_load_object(http, body, len, &o, out->msg)) == NULL)
		return DIALECT_FAULT;
	r = dialect_item_result(dialect_refill_status_elem(
	    o, &out->status, out->status_raw, out->msg));
	if (r != DIALECT_OK) {
		out->status = DIALECT_REFILL_UNKNOWN;
		out->status_raw[0] = '\0';
	}
	json_decref(root);
	return r;
}

/* ---- per-ID answers of the multi forms ---------------------------- */

/* One order's answer in a status multi reply. */
enum dialect_item
dialect_status_elem(const json_t *e, struct dialect_order_status *st, char *msg)
{
	char err[DIALECT_MSG_SZ];
	enum dialect_refusal ref;

	memset(st, 0, sizeof(*st));
	if (json_is_string(e)) {
		if (dialect_text(e, msg, DIALECT_MSG_SZ) < 0)
			dialect_msg(msg, "error");
		return DIALECT_ITEM_REJECTED;
	}
	if (!json_is_object(e)) {
		dialect_msg(msg, "unusable item in reply");
		return DIALECT_ITEM_FAULT;
	}
	ref = dialect_refused(e, 1, err);
	if (ref != DIALECT_NOT_REFUSED) {
		if (ref == DIALECT_REFUSED_ERROR &&
		    dialect_has_status_word(e)) {
			dialect_msg(msg,
			            "reply has both a status and an "
			            "error: %s",
			            err);
			return DIALECT_ITEM_FAULT;
		}
		memcpy(msg, err, sizeof(err));
		return DIALECT_ITEM_REJECTED;
	}
	if (dialect_order_status(e, st, msg) < 0) {
		memset(st, 0, sizeof(*st));
		return DIALECT_ITEM_FAULT;
	}
	return DIALECT_ITEM_OK;
}

/* The value of a "cancel" member, or the bare value of a keyed reply. */
static enum dialect_item
dialect_cancel_value(const json_t *v, char *msg)
{
	static const char *const accepted[] = {
	    "1",        "true",       "yes",       "ok",
	    "success",  "successful", "requested", "accepted",
	    "canceled", "cancelled",  NULL};
	int b;

	if (v == NULL || json_is_null(v)) {
		dialect_msg(msg, "no cancel answer in reply");
		return DIALECT_ITEM_FAULT;
	}
	if (dialect_word_in(v, accepted))
		return DIALECT_ITEM_OK;
	if (!json_is_string(v) && dialect_bool(v, &b) == 0) {
		if (b)
			return DIALECT_ITEM_OK;
		dialect_msg(msg, "cancel refused");
		return DIALECT_ITEM_REJECTED;
	}
	if (json_is_string(v)) {
		if (dialect_word_in(v, dialect_no_words) ||
		    dialect_text(v, msg, DIALECT_MSG_SZ) < 0)
			dialect_msg(msg, "cancel refused");
		return DIALECT_ITEM_REJECTED;
	}
	if (json_is_object(v) &&
	    dialect_error_value(json_object_get(v, "error"), v, msg))
		return DIALECT_ITEM_REJECTED;
	dialect_msg(msg, "unusable cancel answer in reply");
	return DIALECT_ITEM_FAULT;
}

enum dialect_item
dialect_cancel_elem(const json_t *e, char *msg)
{
	char err[DIALECT_MSG_SZ];
	const json_t *v;

	if (!json_is_object(e))
		return dialect_cancel_value(e, msg);
	v = json_object_get(e, "cancel");
	if (dialect_refused(e, 0, err) != DIALECT_NOT_REFUSED) {
		if (v != NULL &&
		    dialect_cancel_value(v, msg) == DIALECT_ITEM_OK) {
			dialect_msg(msg,
			            "reply both accepts the cancel and "
			            "has an error: %s",
			            err);
			return DIALECT_ITEM_FAULT;
		}
		memcpy(msg, err, sizeof(err));
		return DIALECT_ITEM_REJECTED;
	}
	if (v == NULL &&
	    (dialect_word_in(json_object_get(e, "status"), dialect_ok_words)))
		return DIALECT_ITEM_OK; /* {"status":"success"} */
	return dialect_cancel_value(v, msg);
}
