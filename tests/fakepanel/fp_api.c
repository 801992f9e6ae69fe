/* fp_api.c - the panel's actions on top of fp_orders and fp_reply. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "fp.h"
#include "fp_api.h"
#include "fp_orders.h"
#include "fp_params.h"
#include "fp_reply.h"
#include "xmalloc.h"

static char **fp_api_keys;
static size_t fp_api_nkeys;
static int fp_api_max_ids = 100;
static int fp_api_multi_on = 1;
static struct fp_id fp_api_ids[FP_IDS_MAX];

void
fp_api_init(char *const *keys, size_t nkeys, int max_ids)
{
	fp_api_free();
	fp_api_keys = xcalloc(nkeys ? nkeys : 1, sizeof(*fp_api_keys));
	for (size_t i = 0; i < nkeys; i++)
		fp_api_keys[i] = xstrdup(keys[i]);
	fp_api_nkeys = nkeys;
	fp_api_max_ids = max_ids;
	fp_api_multi_on = 1;
}

void
fp_api_free(void)
{
	for (size_t i = 0; i < fp_api_nkeys; i++)
		free(fp_api_keys[i]);
	free(fp_api_keys);
	fp_api_keys = NULL;
	fp_api_nkeys = 0;
}

void
fp_api_set_multi(int enabled)
{
	fp_api_multi_on = enabled;
}

int
fp_api_multi(void)
{
	return fp_api_multi_on;
}

static int
fp_api_key_ok(const char *key)
{
	if (key == NULL || *key == '\0')
		return 0;
	if (fp_api_nkeys == 0)
		return 1;
	for (size_t i = 0; i < fp_api_nkeys; i++)
		if (strcmp(key, fp_api_keys[i]) == 0)
			return 1;
	return 0;
}

/* Parse the multi list LIST into fp_api_ids: the count, or -1 after
 * writing the error reply. */
static int
fp_api_list(const char *list, struct evbuffer *out, const char *none)
{
	char msg[64];
	int n;

	if (!fp_api_multi_on) {
		fp_reply_error(out, "Incorrect request");
		return -1;
	}
	n = fp_params_ids(list, fp_api_ids, FP_IDS_MAX);
	if (n < 0 || n > fp_api_max_ids) {
		snprintf(msg, sizeof(msg), "Maximum %d IDs per request",
		         fp_api_max_ids);
		fp_reply_error(out, msg);
		return -1;
	}
	if (n == 0) {
		fp_reply_error(out, none);
		return -1;
	}
	return n;
}

/* A single ID field: the ID, or 0 if it is not a positive integer. */
static int64_t
fp_api_one(const char *v)
{
	int64_t id;

	if (fp_parse_int(v, &id) == -1 || id <= 0)
		return 0;
	return id;
}

static void
fp_api_add(const struct fp_params *p, struct evbuffer *out,
           struct fp_api_result *res)
{
	char err[FP_TEXT_MAX];
	enum fp_err e;
	int64_t id;

	e = fp_orders_add(p, &id, err, sizeof(err));
	if (e != FP_OK) {
		fp_reply_error(out, fp_reply_errtext(e, err));
		return;
	}
	res->order = id;
	fp_reply_add(out, id);
}

static void
fp_api_status(const struct fp_params *p, struct evbuffer *out)
{
	const char *list = fp_params_get(p, "orders");
	const char *cur = fp_orders_currency();
	struct fp_order_view v;
	struct fp_order *o;
	struct fp_reply_multi m;
	int n;

	if (list == NULL) {
		o = fp_orders_get(fp_api_one(fp_params_get(p, "order")));
		if (o == NULL) {
			fp_reply_error(out, "Incorrect order ID");
			return;
		}
		fp_orders_view(o, &v);
		fp_reply_status(out, o->id, &v, cur);
		return;
	}
	if ((n = fp_api_list(list, out, "Incorrect order ID")) < 0)
		return;
	memset(&v, 0, sizeof(v));
	fp_reply_mstatus_begin(&m, out);
	for (int i = 0; i < n; i++) {
		o = fp_orders_get(fp_api_ids[i].id);
		if (o != NULL)
			fp_orders_view(o, &v);
		fp_reply_mstatus_add(&m, &fp_api_ids[i], &v, cur,
		                     o == NULL ? "Incorrect order ID" : NULL);
	}
	fp_reply_mstatus_end(&m);
}

static void
fp_api_refill(const struct fp_params *p, struct evbuffer *out)
{
	const char *list = fp_params_get(p, "orders");
	enum fp_err e;
	int64_t rid = 0;
	json_t *m;
	int n;

	if (list == NULL) {
		e = fp_orders_refill(fp_api_one(fp_params_get(p, "order")),
		                     &rid);
		if (e != FP_OK)
			fp_reply_error(out, fp_reply_errtext(e, NULL));
		else
			fp_reply_refill(out, rid);
		return;
	}
	if ((n = fp_api_list(list, out, "Incorrect order ID")) < 0)
		return;
	m = fp_reply_multi_refill();
	for (int i = 0; i < n; i++) {
		e = fp_orders_refill(fp_api_ids[i].id, &rid);
		fp_reply_multi_refill_add(
		    m, &fp_api_ids[i], rid,
		    e == FP_OK ? NULL : fp_reply_errtext(e, NULL));
	}
	fp_reply_dump(out, m);
}

static void
fp_api_refill_status(const struct fp_params *p, struct evbuffer *out)
{
	const char *list = fp_params_get(p, "refills");
	enum fp_status st = FP_ST_PENDING;
	enum fp_err e;
	json_t *m;
	int n;

	if (list == NULL) {
		e = fp_orders_refill_status(
		    fp_api_one(fp_params_get(p, "refill")), &st);
		if (e != FP_OK)
			fp_reply_error(out, fp_reply_errtext(e, NULL));
		else
			fp_reply_refill_status(out, st);
		return;
	}
	if ((n = fp_api_list(list, out, "Refill not found")) < 0)
		return;
	m = fp_reply_multi_refill_status();
	for (int i = 0; i < n; i++) {
		e = fp_orders_refill_status(fp_api_ids[i].id, &st);
		fp_reply_multi_refill_status_add(
		    m, &fp_api_ids[i], st,
		    e == FP_OK ? NULL : fp_reply_errtext(e, NULL));
	}
	fp_reply_dump(out, m);
}

static void
fp_api_cancel(const struct fp_params *p, struct evbuffer *out)
{
	const char *list = fp_params_get(p, "orders");
	enum fp_err e;
	json_t *m;
	int n;

	if (list == NULL) {
		e = fp_orders_cancel(fp_api_one(fp_params_get(p, "order")));
		fp_reply_cancel(out,
		                e == FP_OK ? NULL : fp_reply_errtext(e, NULL));
		return;
	}
	if ((n = fp_api_list(list, out, "Incorrect order ID")) < 0)
		return;
	m = fp_reply_multi_cancel();
	for (int i = 0; i < n; i++) {
		e = fp_orders_cancel(fp_api_ids[i].id);
		fp_reply_multi_cancel_add(
		    m, &fp_api_ids[i],
		    e == FP_OK ? NULL : fp_reply_errtext(e, NULL));
	}
	fp_reply_dump(out, m);
}

void
fp_api_handle(const struct fp_params *p, enum fp_action act, int effects,
              struct evbuffer *out, struct fp_api_result *res)
{
	res->order = 0;
	res->key_ok = fp_api_key_ok(fp_params_get(p, "key"));
	if (!res->key_ok) {
		fp_reply_error(out, "Invalid API key");
		return;
	}
	if (!effects && (act == FP_ACT_ADD || act == FP_ACT_REFILL ||
	                 act == FP_ACT_CANCEL)) {
		/* Never shown: the fault replaces it. */
		fp_reply_error(out, "Service temporarily unavailable");
		return;
	}
	switch (act) {
	case FP_ACT_SERVICES:
		fp_reply_services(out);
		break;
	case FP_ACT_BALANCE:
		fp_reply_balance(out, fp_orders_balance(),
		                 fp_orders_currency());
		break;
	case FP_ACT_ADD:
		fp_api_add(p, out, res);
		break;
	case FP_ACT_STATUS:
		fp_api_status(p, out);
		break;
	case FP_ACT_REFILL:
		fp_api_refill(p, out);
		break;
	case FP_ACT_REFILL_STATUS:
		fp_api_refill_status(p, out);
		break;
	case FP_ACT_CANCEL:
		fp_api_cancel(p, out);
		break;
	default:
		fp_reply_error(out, "Incorrect request");
		break;
	}
}
