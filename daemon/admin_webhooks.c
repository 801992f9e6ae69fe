/* admin_webhooks.c - the admin API's webhooks paths: customers' endpoints
 * (list, add, remove, rotate) and the outbox's dead letters (list, retry).
 *
 * Adding an endpoint resolves its host to refuse private destinations
 * (lib/netaddr.h); a resolution can take seconds, so it runs on a thread
 * (admin_job.h) and the request is answered when it is done.  A few at a
 * time: more answer 503. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "admin_api_int.h"
#include "admin_job.h"
#include "config.h"
#include "netaddr.h"
#include "panel.h"
#include "xmalloc.h"

#define ADMIN_URL_CHECKS 4 /* resolutions at once */

static json_t *
admin_webhook(const struct webhook_endpoint *e, int decimals)
{
	json_t *ev = json_array();

	for (unsigned bit = 1; bit <= WEBHOOK_EV_ALL; bit <<= 1)
		if ((e->events & bit) != 0)
			json_array_append_new(
			    ev, json_string(webhook_event_name(bit)));
	return json_pack(
	    "{s:I,s:s,s:I,s:s,s:o,s:o,s:o,s:I,s:I}", "id", (json_int_t)e->id,
	    "user", e->customer, "user_id", (json_int_t)e->customer_id, "url",
	    e->url, "events", ev, "balance_below",
	    e->balance_below >= 0 ? admin_money(e->balance_below, decimals)
	                          : json_null(),
	    "created", admin_time(e->created_at), "pending",
	    (json_int_t)e->pending, "dead", (json_int_t)e->dead);
}

static int
admin_webhook_row(const struct webhook_endpoint *e, void *arg)
{
	struct admin_rows *rows = arg;

	json_array_append_new(rows->list, admin_webhook(e, rows->decimals));
	return 0;
}

/* The customer field: "username" as everywhere in the API, or "user". */
static int64_t
admin_webhook_user(struct admin_req *r)
{
	const char *s;

	if (admin_text(r, "username", 0, &s) < 0)
		return -1;
	return admin_user_filter(r, s != NULL ? "username" : "user");
}

void
admin_webhooks_list(struct admin_req *r)
{
	struct admin_rows rows = {json_array(), r->decimals};
	int64_t cid, n;

	if ((cid = admin_webhook_user(r)) < 0) {
		json_decref(rows.list);
		return;
	}
	n = store_webhook_list(r->a->st, cid, admin_webhook_row, &rows);
	if (n < 0) {
		json_decref(rows.list);
		admin_fail(r, 500, "store error");
		return;
	}
	admin_send(r, 200, NULL, admin_list(rows.list));
}

/* An add waiting for its URL's check. */
struct admin_url_check {
	struct admin_req held;
	struct admin_job *job;
	char *user, *url, *events, *below;
	int allow_private;
	int refused;
	char why[256];
};

static struct admin_url_check *admin_url_checks[ADMIN_URL_CHECKS];

static void
admin_url_check_free(struct admin_url_check *c)
{
	for (size_t i = 0; i < ADMIN_URL_CHECKS; i++)
		if (admin_url_checks[i] == c)
			admin_url_checks[i] = NULL;
	admin_req_free(&c->held);
	free(c->user);
	free(c->url);
	free(c->events);
	free(c->below);
	free(c);
}

/* On its thread: the resolution, over the job's own copies. */
static void
admin_url_check_work(void *arg)
{
	struct admin_url_check *c = arg;

	c->refused = netaddr_check_url(c->url, c->allow_private, c->why,
	                               sizeof(c->why)) != 0;
}

/* On the loop: register it, or say why not. */
static void
admin_url_check_done(void *arg)
{
	struct admin_url_check *c = arg;
	struct admin_req *r = &c->held;
	struct ops_webhook_new in = {c->user,   c->url,
	                             c->events, c->below,
	                             1,         c->refused ? c->why : NULL};
	char secret[STORE_SECRET_MAX + 1];
	struct webhook_endpoint e;
	struct ops_result res;

	/* a reload may have replaced the config meanwhile */
	r->ops.cfg = r->a->panel->cfg;
	if (ops_webhook_add(&r->ops, &in, &e, secret, &res) == 0)
		admin_send(r, 200, NULL,
		           json_pack("{s:o,s:s}", "webhook",
		                     admin_webhook(&e, r->decimals), "secret",
		                     secret));
	else
		admin_ops_reply(r, &res, NULL);
	admin_url_check_free(c);
}

/* The events field: a list of names or one comma list; NULL if absent. */
static int
admin_webhook_events(struct admin_req *r, char **out)
{
	json_t *v = r->body != NULL ? json_object_get(r->body, "events") : NULL;
	const char *s;
	size_t i;
	json_t *x;
	char buf[256] = "";

	*out = NULL;
	if (v != NULL && json_is_array(v)) {
		json_array_foreach(v, i, x)
		{
			if (!json_is_string(x) ||
			    strlen(buf) + json_string_length(x) + 2 >=
			        sizeof(buf)) {
				admin_fail(r, 400,
				           "events must be a list of event "
				           "names");
				return -1;
			}
			if (buf[0] != '\0')
				strcat(buf, ",");
			strcat(buf, json_string_value(x));
		}
		*out = xstrdup(buf);
		return 0;
	}
	if (admin_text(r, "events", 0, &s) < 0)
		return -1;
	if (s != NULL)
		*out = xstrdup(s);
	return 0;
}

void
admin_webhooks_add(struct admin_req *r)
{
	const struct config *cfg = r->a->panel->cfg;
	struct admin_url_check *c;
	const char *user, *url, *below;
	char *events;
	size_t slot;

	if ((admin_text(r, "username", 0, &user) < 0) ||
	    (user == NULL && admin_need(r, "user", 0, &user) != 0) ||
	    admin_need(r, "url", 0, &url) != 0 ||
	    admin_text(r, "balance_below", 1, &below) < 0 ||
	    admin_webhook_events(r, &events) != 0)
		return;
	for (slot = 0; slot < ADMIN_URL_CHECKS; slot++)
		if (admin_url_checks[slot] == NULL)
			break;
	if (slot == ADMIN_URL_CHECKS) {
		free(events);
		admin_fail(r, 503,
		           "too many endpoints being checked; try "
		           "again shortly");
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->user = xstrdup(user);
	c->url = xstrdup(url);
	c->events = events;
	c->below = below != NULL ? xstrdup(below) : NULL;
	c->allow_private = cfg->webhooks.allow_private;
	c->held = *r;
	c->job = admin_job_start(r->a->panel->base, admin_url_check_work,
	                         admin_url_check_done, c);
	if (c->job == NULL) {
		/* R still answers, and owns its body */
		c->held.body = NULL;
		c->held.p = NULL;
		admin_url_check_free(c);
		admin_fail(r, 500, "the check could not start");
		return;
	}
	admin_url_checks[slot] = c;
	r->req = NULL; /* the check answers it, and owns its body */
}

/* Shutting down: wait for the checks; their requests went with their
 * listener, so nobody is answered. */
void
admin_webhooks_stop(void)
{
	for (size_t i = 0; i < ADMIN_URL_CHECKS; i++) {
		struct admin_url_check *c = admin_url_checks[i];

		if (c == NULL)
			continue;
		admin_job_abandon(c->job);
		admin_url_check_free(c);
	}
}

static int
admin_webhook_id(struct admin_req *r, int64_t *id)
{
	return admin_int(r, "id", 1, INT64_MAX, 0, id) != 0 ? -1
	       : *id == 0 ? (admin_fail(r, 400, "id is missing"), -1)
	                  : 0;
}

void
admin_webhooks_remove(struct admin_req *r)
{
	struct ops_result res;
	int64_t id;

	if (admin_webhook_id(r, &id) != 0)
		return;
	ops_webhook_remove(&r->ops, id, &res);
	admin_ops_reply(r, &res,
	                res.status == OPS_OK
	                    ? json_pack("{s:I}", "id", (json_int_t)id)
	                    : NULL);
}

void
admin_webhooks_rotate(struct admin_req *r)
{
	char secret[STORE_SECRET_MAX + 1];
	struct ops_result res;
	const char *overlap;
	int64_t id;

	if (admin_webhook_id(r, &id) != 0 ||
	    admin_text(r, "overlap", 0, &overlap) < 0)
		return;
	ops_webhook_rotate(&r->ops, id, overlap, secret, &res);
	admin_ops_reply(
	    r, &res,
	    res.status == OPS_OK
	        ? json_pack("{s:I,s:s}", "id", (json_int_t)id, "secret", secret)
	        : NULL);
}

static int
admin_dead_row(const struct webhook_event *ev, void *arg)
{
	json_t *list = arg;
	char id[32];

	snprintf(id, sizeof(id), "evt_%lld", (long long)ev->id);
	json_array_append_new(
	    list, json_pack("{s:s,s:I,s:I,s:s,s:o,s:I,s:s,s:o,s:s?}", "id", id,
	                    "webhook_id", (json_int_t)ev->endpoint_id,
	                    "user_id", (json_int_t)ev->customer_id, "type",
	                    webhook_event_name(ev->type), "order",
	                    ev->order.id > 0 ? json_integer(ev->order.id)
	                                     : json_null(),
	                    "attempts", (json_int_t)ev->attempts, "url",
	                    ev->url, "created", admin_time(ev->created_at),
	                    "last_error", ev->last_error));
	return 0;
}

void
admin_webhooks_dead(struct admin_req *r)
{
	json_t *list = json_array();
	int64_t limit;

	if (admin_int(r, "limit", 1, STORE_PAGE_MAX, 100, &limit) != 0) {
		json_decref(list);
		return;
	}
	if (store_webhook_dead(r->a->st, limit, admin_dead_row, list) < 0) {
		json_decref(list);
		admin_fail(r, 500, "store error");
		return;
	}
	admin_send(r, 200, NULL, admin_list(list));
}

void
admin_webhooks_retry(struct admin_req *r)
{
	struct ops_result res;
	const char *s;
	int64_t id = 0, n = 0;
	int all;

	if (admin_bool(r, "all", &all) != 0 || admin_text(r, "id", 1, &s) < 0)
		return;
	if (s != NULL && strncmp(s, "evt_", 4) == 0)
		id = strtoll(s + 4, NULL, 10);
	else if (s != NULL && admin_int(r, "id", 1, INT64_MAX, 0, &id) != 0)
		return;
	if (id <= 0 && !all) {
		admin_fail(r, 400, "give the dead letter's id, or all: true");
		return;
	}
	ops_webhook_retry(&r->ops, all ? 0 : id, &n, &res);
	admin_ops_reply(r, &res,
	                res.status == OPS_OK
	                    ? json_pack("{s:I}", "retried", (json_int_t)n)
	                    : NULL);
}
