/* admin_orders.c - the admin API's orders: pages with filters, one order
 * with its fields, ledger and upstream, resolve, and cancel through the engine.
 */
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
#include "store.h"
#include "xmalloc.h"

/*
 * Orders.
 */

static int
admin_order_row(const struct order *o, const char *user, void *arg)
{
	struct admin_rows *rows = arg;

	json_array_append_new(rows->list, admin_order(o, user, rows->decimals));
	return 0;
}

void
admin_orders_list(struct admin_req *r)
{
	int64_t services[STORE_PAGE_IDS];
	struct order_page f;
	struct admin_rows rows = {json_array(), r->decimals};
	const char *state, *sort, *svc;

	memset(&f, 0, sizeof(f));
	f.state = -1;
	if ((f.customer_id = admin_user_filter(r, "user")) < 0 ||
	    admin_text(r, "order_status", 0, &state) < 0 ||
	    admin_text(r, "service_ids", 1, &svc) < 0 ||
	    admin_text(r, "upstream", 0, &f.upstream) < 0 ||
	    admin_text(r, "link", 0, &f.link) < 0 ||
	    admin_text(r, "sort", 0, &sort) < 0 ||
	    admin_int(r, "created_from", 0, INT64_C(1) << 40, 0,
	              &f.created_from) != 0 ||
	    admin_int(r, "created_to", 0, INT64_C(1) << 40, 0, &f.created_to) !=
	        0 ||
	    admin_int(r, "before_id", 0, INT64_MAX, 0, &f.before_id) != 0 ||
	    admin_int(r, "after_id", 0, INT64_MAX, 0, &f.after_id) != 0 ||
	    admin_page(r, &f.limit, &f.offset) != 0)
		goto done;
	if (state != NULL && (f.state = order_state_parse(state)) < 0) {
		admin_fail(r, 400,
		           "order_status must be one of queued, sending, "
		           "active, completed, partial, canceled, "
		           "refunded, rejected");
		goto done;
	}
	if (svc != NULL) {
		if (idlist_parse(svc, services, STORE_PAGE_IDS, &f.nservices) !=
		    IDLIST_OK) {
			admin_fail(r, 400,
			           "service_ids must be 1 to 100 "
			           "service IDs");
			goto done;
		}
		f.services = services;
	}
	if (sort != NULL && strcmp(sort, "date-asc") != 0 &&
	    strcmp(sort, "date-desc") != 0) {
		admin_fail(r, 400, "sort must be date-desc or date-asc");
		goto done;
	}
	f.ascending = sort != NULL && strcmp(sort, "date-asc") == 0;
	admin_send_page(r,
	                store_order_page(r->a->st, &f, admin_order_row, &rows),
	                rows.list);
	return;
done:
	json_decref(rows.list);
}

static int
admin_ledger_row(const struct ledger_entry *e, void *arg)
{
	struct admin_rows *rows = arg;

	json_array_append_new(rows->list, admin_ledger(e, rows->decimals));
	return 0;
}

/* What happened to O, oldest first: created, sent, accepted, in
 * progress, settled (its final state), each once with its time; the
 * money is in its ledger entries. */
static json_t *
admin_timeline(const struct order *o)
{
	const struct {
		const char *event;
		int64_t at;
	} ev[] = {
	    {"created", o->created_at},       {"sent", o->sent_at},
	    {"accepted", o->accepted_at},     {"in progress", o->progress_at},
	    {order_state_name(o->state), o->settled_at},
	};
	json_t *list = json_array();

	for (size_t i = 0; i < sizeof(ev) / sizeof(ev[0]); i++)
		if (ev[i].at > 0)
			json_array_append_new(
			    list, json_pack("{s:s,s:o}", "event", ev[i].event,
			                    "at", admin_time(ev[i].at)));
	return list;
}

/* Order R->id with its fields, ledger entries and, with PROVIDER, its
 * upstream; NULL (answered) if none. */
static json_t *
admin_order_full(struct admin_req *r, int provider)
{
	struct ledger_page lf = {0, r->id, 0, STORE_PAGE_MAX, 0};
	struct admin_rows rows = {json_array(), r->decimals};
	struct order o;
	char *fields = NULL;
	json_t *j, *fj;
	enum store_result sr = store_order_get(r->a->st, r->id, &o);
	struct customer_page cf = {0, NULL, -1, 1, 0};
	struct admin_rows users = {json_array(), r->decimals};
	const char *user = "";

	if (sr != STORE_OK) {
		admin_fail(r, sr == STORE_NOTFOUND ? 404 : 500,
		           sr == STORE_NOTFOUND ? "no such order"
		                                : "store error");
		json_decref(rows.list);
		json_decref(users.list);
		return NULL;
	}
	cf.id = o.customer_id;
	if (store_customer_page(r->a->st, &cf, admin_user_row, &users) == 1)
		user = json_string_value(
		    json_object_get(json_array_get(users.list, 0), "username"));
	j = admin_order(&o, user != NULL ? user : "", r->decimals);
	json_decref(users.list);
	if (store_order_fields(r->a->st, o.id, &fields) == STORE_OK &&
	    (fj = json_loads(fields, 0, NULL)) != NULL)
		json_object_set_new(j, "fields", fj);
	free(fields);
	store_ledger_page(r->a->st, &lf, admin_ledger_row, &rows);
	json_object_set_new(j, "ledger", rows.list);
	json_object_set_new(j, "timeline", admin_timeline(&o));
	if (provider)
		json_object_set_new(
		    j, "provider",
		    json_pack("{s:s,s:I,s:o,s:o,s:o}", "upstream", o.upstream,
		              "service", (json_int_t)o.upstream_service,
		              "order", admin_text_or_null(o.upstream_order),
		              "status", admin_text_or_null(o.upstream_status),
		              "cost",
		              o.state >= ORDER_ACTIVE && o.upstream_order[0]
		                  ? admin_money(o.cost, r->decimals)
		                  : json_null()));
	return j;
}

void
admin_orders_get(struct admin_req *r)
{
	const char *inc;
	json_t *j;

	if (admin_text(r, "include", 0, &inc) < 0)
		return;
	if ((j = admin_order_full(r, inc != NULL && strstr(inc, "provider") !=
	                                                NULL)) != NULL)
		admin_send(r, 200, NULL, j);
}

void
admin_orders_resolve(struct admin_req *r)
{
	struct ops_result res;
	struct order o;
	const char *up;
	int refund;

	if (admin_int(r, "id", 1, INT64_MAX, 0, &r->id) != 0 ||
	    admin_text(r, "upstream_order", 1, &up) < 0 ||
	    admin_bool(r, "refund", &refund) != 0)
		return;
	if (r->id == 0 || (up == NULL) == (refund == 0)) {
		admin_fail(r, 400,
		           "give id and either upstream_order or "
		           "refund=true");
		return;
	}
	if (ops_order_resolve(&r->ops, r->id, up, &o, &res) != 0) {
		admin_ops_reply(r, &res, NULL);
		return;
	}
	admin_send(r, 200, NULL, admin_order_full(r, 1));
}

/* A cancel waits on its upstreams: the request lives on here. */
struct admin_cancel {
	struct admin_req r;
	char detail[STORE_AUDIT_MAX];
};

static void
admin_cancel_done(void *arg, const struct orders_ids *res)
{
	struct admin_cancel *c = arg;
	json_t *list = json_array();
	struct ops_result or ;
	size_t ok = 0;

	for (size_t i = 0; i < res->n; i++) {
		const struct orders_item *it = &res->items[i];
		json_t *row = json_pack("{s:I}", "id", (json_int_t)it->id);
		struct order o;

		if (it->ok) {
			int done = store_order_get(c->r.a->st, it->id, &o) ==
			               STORE_OK &&
			           order_state_final(o.state);

			json_object_set_new(
			    row, "result",
			    json_string(done ? "canceled" : "requested"));
			ok++;
		} else {
			json_object_set_new(row, "result",
			                    json_string("error"));
			json_object_set_new(
			    row, "error",
			    json_string(
			        it->why == ORDERS_ERR_NOTFOUND ? "no such order"
			        : it->why == ORDERS_ERR_TEXT && it->text != NULL
			            ? it->text
			            : "the cancel could not be done"));
		}
		json_array_append_new(list, row);
	}
	if (ok == res->n)
		ops_fail(& or, OPS_OK, NULL);
	else
		ops_fail(& or, OPS_CONFLICT, "%zu of %zu not canceled",
		         res->n - ok, res->n);
	ops_audit(&c->r.ops, "orders/cancel", "", c->detail, & or);
	admin_send(&c->r, 200, NULL, json_pack("{s:o}", "list", list));
	admin_req_free(&c->r);
	free(c);
}

void
admin_orders_cancel(struct admin_req *r)
{
	int64_t ids[ORDERS_MAX_IDS];
	struct admin_cancel *c;
	json_t *d, *a;
	char *text;
	size_t n;
	int rc;

	if (admin_ids(r, "ids", ids, ORDERS_MAX_IDS, &n) != 0)
		return;
	c = xcalloc(1, sizeof(*c));
	c->r = *r;
	a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_integer(ids[i]));
	d = json_pack("{s:o}", "ids", a);
	text = json_dumps(d, JSON_COMPACT);
	snprintf(c->detail, sizeof(c->detail), "%s",
	         text != NULL ? text : "{}");
	free(text);
	json_decref(d);
	/* The request is the cancel's now: the caller must not free it. */
	r->req = NULL;
	rc = orders_cancel(c->r.a->orders, ORDERS_ANY_CUSTOMER, ids, n, 1,
	                   admin_cancel_done, c);
	if (rc < 0) {
		struct ops_result or ;

		ops_fail(& or, OPS_ERROR, "store error");
		ops_audit(&c->r.ops, "orders/cancel", "", c->detail, & or);
		admin_fail(&c->r, 500, "store error");
		admin_req_free(&c->r);
		free(c);
	}
}
