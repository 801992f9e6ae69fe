/* admin_views.c - the admin API's read-only views (services, upstreams,
 * report, check, audit, the key itself), an upstream's sync now, and
 * services/match on its thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "admin_api.h"
#include "admin_api_int.h"
#include "admin_match.h"
#include "auth.h"
#include "catalog.h"
#include "clock.h"
#include "config.h"
#include "conns.h"
#include "framing.h"
#include "jsonx.h"
#include "log.h"
#include "money.h"
#include "ops.h"
#include "orders.h"
#include "panel.h"
#include "params.h"
#include "ratelimit.h"
#include "route.h"
#include "store.h"
#include "upstream.h"
#include "xmalloc.h"

/*
 * Read-only views.
 */

void
admin_services(struct admin_req *r)
{
	struct panel *p = r->a->panel;
	struct catalog *cat = catalog_ref(p->cat);
	const struct config *cfg = p->cfg;
	json_t *list = json_array();

	for (size_t i = 0; i < cat->n; i++) {
		const struct catalog_service *s = &cat->v[i];
		json_t *routes = json_array();

		for (size_t k = 0; k < s->nroutes; k++) {
			const struct catalog_route *rt = &s->routes[k];

			json_array_append_new(
			    routes,
			    json_pack(
			        "{s:s,s:I,s:o,s:o,s:o}", "upstream",
			        cfg->upstreams[rt->upstream].name, "service",
			        (json_int_t)rt->service, "cost",
			        admin_money(rt->cost, r->decimals), "rate",
			        admin_money(rt->rate, r->decimals), "margin",
			        admin_money(rt->rate - rt->cost, r->decimals)));
		}
		json_array_append_new(
		    list, json_pack("{s:I,s:s,s:s,s:s,s:o,s:I,s:I,s:o}", "id",
		                    (json_int_t)s->id, "name", s->name, "type",
		                    s->type, "category", s->category, "rate",
		                    admin_money(s->rate, r->decimals), "min",
		                    (json_int_t)s->min, "max",
		                    (json_int_t)s->max, "routes", routes));
	}
	catalog_unref(cat);
	admin_send(r, 200, NULL, admin_list(list));
}

/* services/match?upstreams=a,b&min_score=S (daemon/admin_match.c): the
 * request waits for the matcher's thread. */
static void
admin_services_matched(void *arg, json_t *data)
{
	struct admin_req *held = arg;

	if (data == NULL)
		admin_fail(held, 500, "the match failed");
	else
		admin_send(held, 200, NULL, data);
	admin_req_free(held);
	free(held);
}

/* Shutting down: the request went with its listener. */
void
admin_services_drop(void *arg)
{
	admin_req_free(arg);
	free(arg);
}

void
admin_services_match(struct admin_req *r)
{
	struct admin_req *held;
	const char *ups, *score;
	char msg[128];
	int status;

	if (admin_text(r, "upstreams", 0, &ups) < 0 ||
	    admin_text(r, "min_score", 1, &score) < 0)
		return;
	held = xmalloc(sizeof(*held));
	*held = *r;
	if (admin_match_start(r->a->panel, ups, score, admin_services_matched,
	                      held, &status, msg, sizeof(msg)) != 0) {
		free(held);
		admin_fail(r, status, msg);
		return;
	}
	r->req = NULL; /* HELD answers it */
}

void
admin_upstreams(struct admin_req *r)
{
	struct panel *p = r->a->panel;
	json_t *list = json_array();

	for (size_t i = 0; i < p->nups; i++) {
		const struct upstream_state *s = &p->ups[i].state;
		const struct panel_upstream *pu = &p->ups[i];
		int64_t now = clock_wall_ms();
		int n, rej, unsent;
		struct up_stats us;

		upstream_stats(pu->up, &us);
		/* the recent adds routing judges health by (route.h), on
		 * the orders' clock */
		route_health_counts(&pu->health, now, &n, &rej, &unsent);
		json_array_append_new(
		    list,
		    json_pack("{s:s,s:s,s:o,s:s,s:I,s:o,s:I,s:I,s:{s:i,s:i,s:i},"
		              "s:o}",
		              "name", s->name, "circuit", s->circuit, "balance",
		              s->has_balance ? admin_money(s->balance, r->decimals)
		                             : json_null(),
		              "currency", s->currency, "services",
		              (json_int_t)s->services, "last_sync",
		              admin_time(s->synced_at), "calls",
		              (json_int_t)us.calls, "failed",
		              (json_int_t)(us.not_sent + us.lost), "recent_adds",
		              "count", n, "rejected", rej, "not_sent", unsent,
		              "balance_estimate",
		              pu->bal.known
		                  ? admin_money(pu->bal.estimate, r->decimals)
		                  : json_null()));
	}
	admin_send(r, 200, NULL, admin_list(list));
}

struct admin_report {
	json_t *list;
	int decimals;
	money_t revenue, cost;
};

static int
admin_report_row(const struct report_row *row, void *arg)
{
	struct admin_report *ar = arg;
	money_t revenue = row->charged - row->refunded;

	json_array_append_new(
	    ar->list,
	    json_pack("{s:s,s:I,s:I,s:o,s:o,s:o}", "upstream", row->upstream,
	              "service_id", (json_int_t)row->service_id, "orders",
	              (json_int_t)row->orders, "revenue",
	              admin_money(revenue, ar->decimals), "cost",
	              admin_money(row->cost, ar->decimals), "margin",
	              admin_money(revenue - row->cost, ar->decimals)));
	ar->revenue += revenue;
	ar->cost += row->cost;
	return 0;
}

void
admin_report(struct admin_req *r)
{
	struct admin_report ar = {json_array(), r->decimals, 0, 0};

	if (store_report(r->a->st, admin_report_row, &ar) < 0) {
		json_decref(ar.list);
		admin_fail(r, 500, "store error");
		return;
	}
	admin_send(r, 200, NULL,
	           json_pack("{s:o,s:{s:o,s:o,s:o}}", "list", ar.list, "total",
	                     "revenue", admin_money(ar.revenue, r->decimals),
	                     "cost", admin_money(ar.cost, r->decimals),
	                     "margin",
	                     admin_money(ar.revenue - ar.cost, r->decimals)));
}

static void
admin_violation(const char *what, void *arg)
{
	json_array_append_new(arg, json_string(what));
}

void
admin_check(struct admin_req *r)
{
	json_t *v = json_array();
	int n = store_check(r->a->st, admin_violation, v);

	if (n < 0) {
		json_decref(v);
		admin_fail(r, 500, "check could not run");
		return;
	}
	admin_send(r, 200, NULL,
	           json_pack("{s:b,s:o}", "ok", n == 0, "violations", v));
}

static int
admin_audit_row(const struct audit_entry *e, void *arg)
{
	json_t *detail = json_loads(e->detail, 0, NULL);

	json_array_append_new(
	    arg,
	    json_pack("{s:I,s:o,s:s,s:s,s:s,s:o,s:s}", "id", (json_int_t)e->id,
	              "created", admin_time(e->created_at), "actor", e->actor,
	              "action", e->action, "target", e->target, "detail",
	              detail != NULL ? detail : json_string(e->detail),
	              "result", e->result));
	return 0;
}

void
admin_audit(struct admin_req *r)
{
	struct audit_page f = {NULL, 0, 0};
	json_t *list = json_array();

	if (admin_text(r, "actor", 0, &f.actor) < 0 ||
	    admin_page(r, &f.limit, &f.offset) != 0) {
		json_decref(list);
		return;
	}
	admin_send_page(
	    r, store_audit_page(r->a->st, &f, admin_audit_row, list), list);
}

/* Sync an upstream's services and balance now, as its timer would: the
 * reply says it started (or was already running); its end shows in
 * upstreams' last_sync.  force: true applies a services reply the
 * bad-sync guard (max_drop) would refuse. */
void
admin_upstreams_sync(struct admin_req *r)
{
	struct panel *p = r->a->panel;
	struct ops_result res;
	const char *name;
	int idx, running, force;

	if (admin_need(r, "upstream", 0, &name) != 0 ||
	    admin_bool(r, "force", &force) != 0)
		return;
	if ((idx = panel_upstream_index(p, name)) < 0) {
		ops_fail(&res, OPS_NOTFOUND, "no such upstream");
	} else if (p->eng == NULL) {
		ops_fail(&res, OPS_CONFLICT, "the upstream client is stopped");
	} else {
		running = p->ups[idx].syncing;
		if (force)
			panel_sync_force(p, (size_t)idx);
		else
			panel_sync(p, (size_t)idx);
		ops_fail(&res, OPS_OK, NULL);
		ops_audit(&r->ops, "upstreams/sync", name,
		          force ? "{\"force\":true}" : NULL, &res);
		admin_send(r, 200, NULL,
		           json_pack("{s:s,s:b,s:b}", "upstream", name,
		                     "already_running", running != 0, "force",
		                     force != 0));
		return;
	}
	ops_audit(&r->ops, "upstreams/sync", name, NULL, &res);
	admin_ops_reply(r, &res, NULL);
}

/* The key's own name and access: the console hides what it may not do. */
void
admin_me(struct admin_req *r)
{
	admin_send(r, 200, NULL,
	           json_pack("{s:s,s:b}", "name", r->key_name, "read_only",
	                     r->ops.read_only != 0));
}

struct admin_stats {
	json_t *list;
	int decimals;
	int days;
	struct order_bucket today;
	int64_t today_start;
};

static int
admin_stats_hour(const struct order_bucket *b, void *arg)
{
	struct admin_stats *as = arg;

	json_array_append_new(as->list,
	                      json_pack("[I,I]", (json_int_t)b->start,
	                                (json_int_t)b->orders));
	return 0;
}

static int
admin_stats_day(const struct order_bucket *b, void *arg)
{
	struct admin_stats *as = arg;
	char day[16];
	time_t t = (time_t)b->start;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	json_array_append_new(
	    as->list,
	    json_pack("{s:s,s:I,s:o,s:o,s:o}", "day", day, "orders",
	              (json_int_t)b->orders, "revenue",
	              admin_money(b->revenue, as->decimals), "cost",
	              admin_money(b->cost, as->decimals), "margin",
	              admin_money(b->revenue - b->cost, as->decimals)));
	if (b->start == as->today_start)
		as->today = *b;
	return 0;
}

/* GET stats?days=N: orders per hour, and per UTC day, over the last N
 * days (1..90, 30) with revenue (charges net of
 * refunds), upstream cost where known and margin, by the orders' creation
 * day; today's figures apart. */
void
admin_stats(struct admin_req *r)
{
	struct admin_stats hours = {json_array(), r->decimals, 0, {0}, 0};
	struct admin_stats days = {json_array(), r->decimals, 0, {0}, 0};
	int64_t n, now = (int64_t)time(NULL), today;

	if (admin_int(r, "days", 1, 90, 30, &n) != 0)
		goto fail;
	today = now / 86400 * 86400;
	days.today_start = today;
	if (store_order_buckets(r->a->st, now / 3600 * 3600 - n * 86400, 3600,
	                        admin_stats_hour, &hours) < 0 ||
	    store_order_buckets(r->a->st, today - (n - 1) * 86400, 86400,
	                        admin_stats_day, &days) < 0) {
		admin_fail(r, 500, "store error");
		goto fail;
	}
	admin_send(
	    r, 200, NULL,
	    json_pack("{s:o,s:o,s:{s:I,s:o,s:o,s:o}}", "hours", hours.list,
	              "days", days.list, "today", "orders",
	              (json_int_t)days.today.orders, "revenue",
	              admin_money(days.today.revenue, r->decimals), "cost",
	              admin_money(days.today.cost, r->decimals), "margin",
	              admin_money(days.today.revenue - days.today.cost,
	                          r->decimals)));
	return;
fail:
	json_decref(hours.list);
	json_decref(days.list);
}
