/* ops_webhooks.c - the operator's webhook operations (ops.h): register,
 * remove and rotate customers' endpoints, and put dead letters back. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "config.h"
#include "netaddr.h"
#include "ops.h"
#include "ops_int.h"
#include "store.h"
#include "webhook.h"

#define OPS_DEFAULT_OVERLAP_MS (24 * 3600 * 1000LL)

int
ops_webhook_events(const char *list, unsigned *out, struct ops_result *r)
{
	char buf[256], *save = NULL, *w;
	unsigned ev = 0, bit;

	if (list == NULL || *list == '\0')
		return ops_fail(r, OPS_BAD, "no events named");
	if (strlen(list) >= sizeof(buf))
		return ops_fail(r, OPS_BAD, "the event list is too long");
	snprintf(buf, sizeof(buf), "%s", list);
	for (w = strtok_r(buf, ", ", &save); w != NULL;
	     w = strtok_r(NULL, ", ", &save)) {
		if (strcmp(w, "all") == 0)
			bit = WEBHOOK_EV_ALL;
		else if ((bit = webhook_event_parse(w)) == 0)
			return ops_fail(
			    r, OPS_BAD,
			    "unknown event \"%.40s\" (order.accepted, "
			    "order.status, refill.status, "
			    "balance.low or all)",
			    w);
		ev |= bit;
	}
	if (ev == 0)
		return ops_fail(r, OPS_BAD, "no events named");
	*out = ev;
	return 0;
}

/* A new secret: the prefix and 64 hex digits of 32 random bytes. */
static int
ops_new_secret(char secret[STORE_SECRET_MAX + 1], struct ops_result *r)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[32];
	size_t off = sizeof(WEBHOOK_SECRET_PREFIX) - 1;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return ops_fail(r, OPS_ERROR, "no random source");
	memcpy(secret, WEBHOOK_SECRET_PREFIX, off);
	for (size_t i = 0; i < sizeof(raw); i++) {
		secret[off++] = hex[raw[i] >> 4];
		secret[off++] = hex[raw[i] & 15];
	}
	secret[off] = '\0';
	return 0;
}

/* The write refused when the config has webhooks off: events would never
 * be written for the endpoint. */
static int
ops_webhooks_on(const struct ops *o, struct ops_result *r)
{
	if (o->cfg == NULL || !o->cfg->webhooks.enabled)
		return ops_fail(r, OPS_CONFLICT,
		                "webhooks are off: set webhooks.enabled: true "
		                "in the configuration first");
	return 0;
}

static int
ops_webhook_check(struct ops *o, const struct ops_webhook_new *in,
                  struct webhook_endpoint *e, struct ops_result *r)
{
	struct customer c;
	char why[256];

	if (ops_webhooks_on(o, r) != 0)
		return -1;
	if (ops_user_get(o, in->user, &c, r) != 0)
		return -1;
	memset(e, 0, sizeof(*e));
	e->customer_id = c.id;
	snprintf(e->customer, sizeof(e->customer), "%s", c.name);
	if (in->url == NULL || *in->url == '\0')
		return ops_fail(r, OPS_BAD, "no URL given");
	if (in->url_refused != NULL)
		return ops_fail(r, OPS_BAD, "%s", in->url_refused);
	if (!in->url_checked &&
	    netaddr_check_url(in->url, o->cfg->webhooks.allow_private, why,
	                      sizeof(why)) != 0)
		return ops_fail(r, OPS_BAD, "%s", why);
	snprintf(e->url, sizeof(e->url), "%s", in->url);
	e->balance_below = -1;
	if (in->balance_below != NULL &&
	    ops_amount(o, in->balance_below, &e->balance_below, r) != 0)
		return -1;
	if (in->events != NULL)
		return ops_webhook_events(in->events, &e->events, r);
	e->events = WEBHOOK_EV_ACCEPTED | WEBHOOK_EV_STATUS | WEBHOOK_EV_REFILL;
	if (e->balance_below >= 0)
		e->events |= WEBHOOK_EV_BALANCE;
	return 0;
}

int
ops_webhook_add(struct ops *o, const struct ops_webhook_new *in,
                struct webhook_endpoint *out, char secret[STORE_SECRET_MAX + 1],
                struct ops_result *r)
{
	json_t *d = json_pack("{s:s?}", "url", in->url);
	enum store_result sr;

	secret[0] = '\0';
	if (ops_writable(o, "webhooks/add", in->user, r) != 0) {
		json_decref(d);
		return -1;
	}
	if (ops_webhook_check(o, in, out, r) == 0 &&
	    ops_new_secret(out->secret, r) == 0) {
		json_object_set_new(d, "events", json_integer(out->events));
		sr = store_webhook_add(o->st, out, &out->id);
		if (sr == STORE_OK) {
			snprintf(secret, STORE_SECRET_MAX + 1, "%s",
			         out->secret);
			out->created_at = (int64_t)time(NULL);
			ops_ok(r);
		} else if (sr == STORE_NOTFOUND)
			ops_fail(r, OPS_NOTFOUND, "no user named %s", in->user);
		else
			ops_fail(r, OPS_ERROR, "store error");
	}
	ops_record(o, "webhooks/add", in->user, d, r);
	if (r->status != OPS_OK) {
		secret[0] = '\0';
		return -1;
	}
	return 0;
}

static int
ops_webhook_result(enum store_result sr, int64_t id, struct ops_result *r)
{
	if (sr == STORE_OK)
		return ops_ok(r);
	if (sr == STORE_NOTFOUND)
		return ops_fail(r, OPS_NOTFOUND, "no webhook %lld",
		                (long long)id);
	return ops_fail(r, OPS_ERROR, "store error");
}

int
ops_webhook_remove(struct ops *o, int64_t id, struct ops_result *r)
{
	char target[32];

	snprintf(target, sizeof(target), "%lld", (long long)id);
	if (ops_writable(o, "webhooks/remove", target, r) != 0)
		return -1;
	ops_webhook_result(store_webhook_remove(o->st, id), id, r);
	ops_record(o, "webhooks/remove", target, NULL, r);
	return r->status == OPS_OK ? 0 : -1;
}

int
ops_webhook_rotate(struct ops *o, int64_t id, const char *overlap,
                   char secret[STORE_SECRET_MAX + 1], struct ops_result *r)
{
	int64_t ms = OPS_DEFAULT_OVERLAP_MS;
	char target[32];
	json_t *d = json_pack("{s:s?}", "overlap", overlap);

	secret[0] = '\0';
	snprintf(target, sizeof(target), "%lld", (long long)id);
	if (ops_writable(o, "webhooks/rotate", target, r) != 0) {
		json_decref(d);
		return -1;
	}
	if (overlap != NULL && (cfg_parse_duration(overlap, &ms) != 0 ||
	                        ms < 0 || ms > 30LL * 24 * 3600 * 1000))
		ops_fail(r, OPS_BAD,
		         "the overlap is a duration up to 30d (e.g. 1h, 24h)");
	else if (ops_new_secret(secret, r) == 0)
		ops_webhook_result(
		    store_webhook_rotate(o->st, id, secret,
		                         (int64_t)time(NULL) + ms / 1000),
		    id, r);
	ops_record(o, "webhooks/rotate", target, d, r);
	if (r->status != OPS_OK) {
		secret[0] = '\0';
		return -1;
	}
	return 0;
}

int
ops_webhook_retry(struct ops *o, int64_t id, int64_t *n, struct ops_result *r)
{
	char target[32];

	snprintf(target, sizeof(target), id > 0 ? "%lld" : "all",
	         (long long)id);
	*n = 0;
	if (ops_writable(o, "webhooks/retry", target, r) != 0)
		return -1;
	*n = store_webhook_retry(o->st, id, (int64_t)time(NULL) * 1000);
	if (*n < 0)
		ops_fail(r, OPS_ERROR, "store error");
	else if (*n == 0 && id > 0)
		ops_fail(r, OPS_NOTFOUND, "no dead letter %lld", (long long)id);
	else
		ops_ok(r);
	ops_record(o, "webhooks/retry", target, NULL, r);
	return r->status == OPS_OK ? 0 : -1;
}
