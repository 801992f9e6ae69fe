/* api.c - action resolution, authentication and the actions themselves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "auth.h"
#include "catalog.h"
#include "clock.h"
#include "config.h"
#include "money.h"
#include "orders.h"
#include "ordertype.h"
#include "panel.h"
#include "params.h"
#include "pricing.h"
#include "ratelimit.h"
#include "reply.h"
#include "store.h"

static const char *const api_names[API_ACTION_COUNT] = {
    [API_BALANCE] = "balance", [API_SERVICES] = "services",
    [API_ADD] = "add",         [API_STATUS] = "status",
    [API_REFILL] = "refill",   [API_REFILL_STATUS] = "refill_status",
    [API_CANCEL] = "cancel",   [API_UNKNOWN] = "unknown",
};

const char *
api_action_name(enum api_action a)
{
	if ((unsigned)a >= API_ACTION_COUNT)
		return "unknown";
	return api_names[a];
}

enum api_action
api_action_resolve(const struct params *p)
{
	const char *action = params_get(p, "action");

	if (action == NULL || *action == '\0') {
		/* The PHP client's multiRefillStatus/refillStatus send no
		 * action; its refill/multiRefill send only order(s). */
		if (params_get(p, "refills") != NULL ||
		    params_get(p, "refill") != NULL)
			return API_REFILL_STATUS;
		if ((params_get(p, "orders") != NULL ||
		     params_get(p, "order") != NULL) &&
		    params_get(p, "service") == NULL)
			return API_REFILL;
		return API_UNKNOWN;
	}
	for (int i = 0; i < API_UNKNOWN; i++)
		if (strcasecmp(action, api_names[i]) == 0)
			return (enum api_action)i;
	return API_UNKNOWN;
}

void
api_error(struct buf *out, const char *msg)
{
	reply_error(out, msg);
}

/* Look the key up; 0 with *C filled, or -1 with the error reply written. */
static int
api_authenticate(struct api *api, const struct params *p, struct buf *out,
                 struct customer *c)
{
	const char *key = params_get(p, "key");
	uint8_t hash[AUTH_HASH_LEN];
	size_t len;

	if (key == NULL || (len = strlen(key)) == 0 || len > AUTH_KEY_MAX) {
		api_error(out, API_ERR_KEY);
		return -1;
	}
	auth_key_hash(key, len, hash);
	switch (store_customer_by_key(api->st, hash, c)) {
	case STORE_OK:
		if (!c->disabled)
			return 0;
		/* A disabled account's key simply stops working. */
		api_error(out, API_ERR_KEY);
		return -1;
	case STORE_NOTFOUND:
		api_error(out, API_ERR_KEY);
		return -1;
	default:
		api_error(out, API_ERR_INTERNAL);
		return -1;
	}
}

void
api_reply_init(struct api_reply *r)
{
	memset(r, 0, sizeof(*r));
	r->status = 200;
	buf_init(&r->body, API_REPLY_MAX);
}

void
api_reply_clear(struct api_reply *r)
{
	buf_free(&r->body);
	if (r->ref_release != NULL)
		r->ref_release(r->ref_arg);
	r->ref = NULL;
	r->ref_release = NULL;
}

static void
api_balance(struct api *api, const struct customer *c, struct buf *out)
{
	char amount[MONEY_BUFSZ];

	/* The currency is a validated code of capital letters: no escaping
	 * is needed, and this is the hottest reply. */
	money_format(c->balance, api->cfg->money_decimals, amount);
	buf_puts(out, "{\"balance\":\"");
	buf_puts(out, amount);
	buf_puts(out, "\",\"currency\":\"");
	buf_puts(out, api->cfg->currency);
	buf_puts(out, "\"}");
}

static void
api_catalog_release(void *arg)
{
	catalog_unref(arg);
}

/* The services list was rendered when the catalogue changed: lend its
 * bytes, holding a reference until they are sent; a customer with rates
 * of their own gets it rendered with them. */
static void
api_services(struct api *api, const struct customer *c, struct api_reply *r)
{
	const struct pricing_customer *pc;
	struct catalog *cat;
	size_t len;
	char *own;

	if (api->panel == NULL || api->panel->cat == NULL) {
		buf_puts(&r->body, "[]");
		return;
	}
	if ((pc = pricing_customer(api->panel->pricing, c->id)) != NULL) {
		own = pricing_services_json(api->panel->cat, api->panel->cfg, pc,
		                            &len);
		buf_add(&r->body, own, len);
		free(own);
		return;
	}
	cat = catalog_ref(api->panel->cat);
	r->ref = cat->json;
	r->ref_len = cat->json_len;
	r->ref_release = api_catalog_release;
	r->ref_arg = cat;
}

/* Take a token of customer C's bucket for action A: writes (they charge,
 * or call an upstream at once) and reads have one each. */
static int
api_rate_ok(struct api *api, enum api_action a, const struct customer *c)
{
	struct ratelimit *rl;
	char id[24];

	if (a == API_ADD || a == API_REFILL || a == API_CANCEL)
		rl = api->per_key;
	else
		rl = api->per_key_read;
	if (rl == NULL || !ratelimit_enabled(rl))
		return 1;
	snprintf(id, sizeof(id), "%lld", (long long)c->id);
	return ratelimit_take(rl, id, clock_mono_ms());
}

/* A comma in the single form's field (`order=187,999999`, as a Node SDK
 * sends a multi-status) asks for the list form: the list field gets the
 * value unless it was given. */
static void
api_list_alias(struct params *p, enum api_action a)
{
	const char *one = "order", *many = "orders", *v;

	switch (a) {
	case API_STATUS:
	case API_REFILL:
	case API_CANCEL:
		break;
	case API_REFILL_STATUS:
		one = "refill";
		many = "refills";
		break;
	default:
		return;
	}
	if ((v = params_get(p, one)) != NULL && strchr(v, ',') != NULL)
		(void)params_set_default(p, many, v);
}

/* R's reply is replaced by the error MSG. */
static void
api_reply_error(struct api_reply *r, const char *msg)
{
	buf_reset(&r->body);
	api_error(&r->body, msg);
}

/* The order's service ID (digits only). */
static int
api_parse_id(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	v = strtoll(s, &end, 10);
	while (*end == ' ')
		end++;
	if (*end != '\0' || v <= 0)
		return -1;
	*out = v;
	return 0;
}

/* The engine's answer to an add R waited for. */
static void
api_add_done(void *arg, int64_t id, enum orders_err why, const char *text)
{
	struct api_reply *r = arg;

	reply_add(&r->body, id, why, text);
	if (r->done != NULL)
		r->done(r->done_arg);
}

/* An add: the service, the request_id and the order's fields decoded and
 * checked here, the order then handed to the engine. */
static int
api_add(struct api *api, const struct customer *c, const struct params *p,
        struct api_reply *r)
{
	const struct catalog_service *svc;
	const char *reqid = params_get(p, "request_id");
	struct catalog_service own;
	struct pricing_quote q;
	struct order_spec spec;
	char err[256];
	int64_t sid;

	if (api_parse_id(params_get(p, "service"), &sid) != 0 ||
	    (svc = catalog_find(api->panel->cat, sid)) == NULL) {
		api_reply_error(r, API_ERR_SERVICE);
		return 1;
	}
	if (reqid != NULL && !store_token_valid(reqid, STORE_REQID_MAX)) {
		api_reply_error(r, "request_id must be 1 to 64 printable "
		                   "characters");
		return 1;
	}
	/* The customer's own rate (their group, an override, the floor):
	 * the charge is computed from it, and the order keeps it. */
	if (pricing_quote(api->panel->cfg, svc,
	                  pricing_customer(api->panel->pricing, c->id),
	                  &q) != 0) {
		api_reply_error(r, API_ERR_INTERNAL);
		return 1;
	}
	own = *svc;
	own.rate = q.rate;
	memset(&spec, 0, sizeof(spec));
	if (ordertype_build(p, &own, api->panel->cfg->money_decimals, &spec,
	                    err, sizeof(err)) != 0) {
		api_reply_error(r, err);
		return 1;
	}
	if (orders_add(api->orders, c->id, sid, &spec, reqid, api_add_done,
	               r) != 0) {
		api_reply_error(r, API_ERR_SERVICE);
		return 1;
	}
	return 0;
}

/* The ID list of a per-ID action from ONE (single form) or MANY (list
 * form) into IDS (at most API_MAX_IDS); 0, or -1 with the error (BAD for a
 * malformed list) written into R. */
static int
api_ids(const struct params *p, const char *one, const char *many,
        const char *bad, int64_t *ids, size_t *n, int *multi,
        struct api_reply *r)
{
	const char *s = params_get(p, many);

	*multi = 1;
	if (s == NULL) {
		s = params_get(p, one);
		*multi = 0;
	}
	switch (idlist_parse(s != NULL ? s : "", ids, API_MAX_IDS, n)) {
	case IDLIST_OK:
		break;
	case IDLIST_TOO_MANY:
		api_reply_error(r, API_ERR_MAX_IDS);
		return -1;
	default:
		api_reply_error(r, bad);
		return -1;
	}
	if (!*multi && *n != 1) {
		api_reply_error(r, bad);
		return -1;
	}
	return 0;
}

/* The engine's answers to the per-ID actions R waited for. */
static void
api_ids_done(struct api_reply *r)
{
	if (r->done != NULL)
		r->done(r->done_arg);
}

static void
api_status_done(void *arg, const struct orders_ids *res)
{
	struct api_reply *r = arg;
	struct reply_ctx *rc = &r->api->reply;

	rc->currency = r->api->panel->cfg->currency;
	rc->decimals = r->api->panel->cfg->money_decimals;
	reply_status(&r->body, rc, res);
	api_ids_done(r);
}

static void
api_refill_done(void *arg, const struct orders_ids *res)
{
	reply_refill(&((struct api_reply *)arg)->body, res);
	api_ids_done(arg);
}

static void
api_refill_status_done(void *arg, const struct orders_ids *res)
{
	reply_refill_status(&((struct api_reply *)arg)->body, res);
	api_ids_done(arg);
}

static void
api_cancel_done(void *arg, const struct orders_ids *res)
{
	reply_cancel(&((struct api_reply *)arg)->body, res);
	api_ids_done(arg);
}

/* A per-ID action A: the IDs parsed here, the engine's result rendered
 * when it comes. */
static int
api_per_id(struct api *api, enum api_action a, const struct customer *c,
           const struct params *p, struct api_reply *r)
{
	int64_t ids[API_MAX_IDS];
	size_t n;
	int multi, rv;

	if (a == API_REFILL_STATUS) {
		if (api_ids(p, "refill", "refills", API_ERR_REFILL, ids, &n,
		            &multi, r) != 0)
			return 1;
	} else if (api_ids(p, "order", "orders", API_ERR_ORDER, ids, &n, &multi,
	                   r) != 0)
		return 1;
	switch (a) {
	case API_STATUS:
		rv = orders_status(api->orders, c->id, ids, n, multi,
		                   api_status_done, r);
		break;
	case API_REFILL:
		rv = orders_refill(api->orders, c->id, ids, n, multi,
		                   api_refill_done, r);
		break;
	case API_REFILL_STATUS:
		rv = orders_refill_status(api->orders, c->id, ids, n, multi,
		                          api_refill_status_done, r);
		break;
	default:
		rv = orders_cancel(api->orders, c->id, ids, n, multi,
		                   api_cancel_done, r);
		break;
	}
	if (rv < 0)
		api_reply_error(r, API_ERR_INTERNAL);
	return rv != 0;
}

int
api_handle(struct api *api, struct params *p, struct api_reply *r,
           enum api_action *action, api_done_cb done, void *arg)
{
	struct buf *out = &r->body;
	struct customer c;
	int done_now;

	*action = api_action_resolve(p);
	if (api_authenticate(api, p, out, &c) != 0)
		return 1;
	r->key_ok = 1;
	r->api = api;
	r->done = NULL;
	if (!api_rate_ok(api, *action, &c)) {
		r->status = 429;
		api_error(out, API_ERR_RATE);
		return 1;
	}
	api_list_alias(p, *action);
	switch (*action) {
	case API_BALANCE:
		api_balance(api, &c, out);
		return 1;
	case API_SERVICES:
		api_services(api, &c, r);
		return 1;
	case API_ADD:
		done_now = api_add(api, &c, p, r);
		break;
	case API_STATUS:
	case API_REFILL:
	case API_REFILL_STATUS:
	case API_CANCEL:
		done_now = api_per_id(api, *action, &c, p, r);
		break;
	default:
		api_error(out, API_ERR_REQUEST);
		return 1;
	}
	if (done_now)
		return 1;
	/* The engine answers from the event loop, never before this
	 * returns. */
	r->done = done;
	r->done_arg = arg;
	return 0;
}
