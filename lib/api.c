/* api.c - action resolution, authentication and the actions themselves. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "auth.h"
#include "clock.h"
#include "catalog.h"
#include "config.h"
#include "log.h"
#include "money.h"
#include "orders.h"
#include "panel.h"
#include "ratelimit.h"
#include "params.h"
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
	buf_puts(out, "{\"error\":");
	buf_json_string(out, msg);
	buf_puts(out, "}");
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
 * bytes, holding a reference until they are sent. */
static void
api_services(struct api *api, struct api_reply *r)
{
	struct catalog *cat;

	if (api->panel == NULL || api->panel->cat == NULL) {
		buf_puts(&r->body, "[]");
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

int
api_handle(struct api *api, struct params *p, struct api_reply *r,
           enum api_action *action, api_done_cb done, void *arg)
{
	struct buf *out = &r->body;
	struct customer c;

	*action = api_action_resolve(p);
	if (api_authenticate(api, p, out, &c) != 0)
		return 1;
	r->key_ok = 1;
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
		api_services(api, r);
		return 1;
	case API_ADD:
		return orders_add(api->orders, &c, p, r, done, arg);
	case API_STATUS:
		return orders_status(api->orders, &c, p, r, done, arg);
	case API_REFILL:
		return orders_refill(api->orders, &c, p, r, done, arg);
	case API_REFILL_STATUS:
		return orders_refill_status(api->orders, &c, p, r, done, arg);
	case API_CANCEL:
		return orders_cancel(api->orders, &c, p, r, done, arg);
	default:
		api_error(out, API_ERR_REQUEST);
		return 1;
	}
}
