/* admin_pricing.c - the admin API's customer-rate paths (lib/pricing.h):
 * groups, a user's group, and overrides per service, each quoted against
 * the current catalogue.  A write is applied here at once (the other
 * instances and processes see it within PANEL_CATALOG_CHECK_MS). */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "admin_api_int.h"
#include "catalog.h"
#include "panel.h"
#include "pricing.h"

static int
admin_group_row(const struct customer_group *g, void *arg)
{
	struct admin_rows *rows = arg;
	char pct[MONEY_BUFSZ];

	json_array_append_new(
	    rows->list,
	    json_pack("{s:I,s:s,s:s,s:I,s:o}", "id", (json_int_t)g->id, "name",
	              g->name, "percent", money_format(g->percent, 0, pct),
	              "members", (json_int_t)g->members, "created",
	              admin_time(g->created_at)));
	return 0;
}

void
admin_groups_list(struct admin_req *r)
{
	struct admin_rows rows = {json_array(), r->decimals};

	if (store_group_list(r->a->st, admin_group_row, &rows) < 0) {
		json_decref(rows.list);
		admin_fail(r, 500, "store error");
		return;
	}
	admin_send(r, 200, NULL, admin_list(rows.list));
}

/* A pricing write's reply: applied to this daemon's rates now. */
static void
admin_pricing_reply(struct admin_req *r, const struct ops_result *res,
                    json_t *data)
{
	if (res->status == OPS_OK)
		panel_pricing_check(r->a->panel, 0);
	else {
		json_decref(data);
		data = NULL;
	}
	admin_ops_reply(r, res, data);
}

static void
admin_groups_put(struct admin_req *r, int add)
{
	struct ops_result res;
	const char *name, *percent;

	if (admin_need(r, "name", 0, &name) != 0 ||
	    admin_need(r, "percent", 1, &percent) != 0)
		return;
	if (add)
		ops_group_add(&r->ops, name, percent, &res);
	else
		ops_group_set(&r->ops, name, percent, &res);
	admin_pricing_reply(r, &res, json_pack("{s:s}", "name", name));
}

void
admin_groups_add(struct admin_req *r)
{
	admin_groups_put(r, 1);
}

void
admin_groups_update(struct admin_req *r)
{
	admin_groups_put(r, 0);
}

void
admin_groups_remove(struct admin_req *r)
{
	struct ops_result res;
	const char *name;

	if (admin_need(r, "name", 0, &name) != 0)
		return;
	ops_group_remove(&r->ops, name, &res);
	admin_pricing_reply(r, &res, json_pack("{s:s}", "name", name));
}

void
admin_users_set_group(struct admin_req *r)
{
	struct ops_result res;
	const char *user, *group;

	if (admin_need(r, "username", 0, &user) != 0 ||
	    admin_text(r, "group", 0, &group) < 0)
		return;
	ops_user_set_group(&r->ops, user, group, &res);
	admin_pricing_reply(r, &res,
	                    json_pack("{s:s,s:o}", "username", user, "group",
	                              admin_text_or_null(group)));
}

/* SERVICE's quote for customer PC, money with DECIMALS. */
static json_t *
admin_quote(struct admin_req *r, const struct catalog_service *s,
            const struct pricing_customer *pc, const char *user)
{
	struct pricing_quote q;

	if (pricing_quote(r->a->panel->cfg, s, pc, &q) != 0)
		return NULL;
	return json_pack(
	    "{s:s?,s:I,s:s,s:o,s:o,s:o,s:b}", "user", user, "service_id",
	    (json_int_t)s->id, "from", pricing_source_name(q.source),
	    "list_rate", admin_money(q.list, 2), "rate", admin_money(q.rate, 2),
	    "floor", admin_money(q.floor, 2), "clamped", q.clamped);
}

struct admin_rates {
	struct admin_req *r;
	json_t *list;
};

static int
admin_rate_row(const struct customer_rate *cr, void *arg)
{
	struct admin_rates *x = arg;
	struct panel *p = x->r->a->panel;
	const struct catalog_service *s = catalog_find(p->cat, cr->service_id);
	char v[MONEY_BUFSZ];
	json_t *q;

	q = s != NULL
	        ? admin_quote(x->r, s,
	                      pricing_customer(p->pricing, cr->customer_id),
	                      cr->customer)
	        : json_pack("{s:s,s:I}", "user", cr->customer, "service_id",
	                    (json_int_t)cr->service_id);
	if (q == NULL)
		return 0;
	json_object_set_new(q, "rule",
	                    json_pack("{s:s,s:s}", "kind",
	                              cr->fixed ? "rate" : "percent_off",
	                              "value", money_format(cr->value, 0, v)));
	json_array_append_new(x->list, q);
	return 0;
}

/* GET rates: every override, quoted; ?username=: that user's rate for
 * every service of the catalogue. */
void
admin_rates_list(struct admin_req *r)
{
	struct panel *p = r->a->panel;
	struct admin_rates x = {r, json_array()};
	int64_t cid = admin_user_filter(r, "username");

	if (cid < 0) {
		json_decref(x.list);
		return;
	}
	if (cid > 0) {
		const struct pricing_customer *pc =
		    pricing_customer(p->pricing, cid);
		const char *user = NULL;

		admin_text(r, "username", 0, &user);
		for (size_t i = 0; i < p->cat->n; i++) {
			json_t *q = admin_quote(r, &p->cat->v[i], pc, user);

			if (q != NULL)
				json_array_append_new(x.list, q);
		}
	} else if (store_rate_list(r->a->st, 0, admin_rate_row, &x) < 0) {
		json_decref(x.list);
		admin_fail(r, 500, "store error");
		return;
	}
	admin_send(r, 200, NULL, admin_list(x.list));
}

void
admin_rates_set(struct admin_req *r)
{
	struct ops_result res;
	const char *user, *rate, *off;
	char rule[48];
	int64_t sid;

	if (admin_need(r, "username", 0, &user) != 0 ||
	    admin_int(r, "service_id", 1, INT64_MAX, 0, &sid) != 0 ||
	    admin_text(r, "rate", 1, &rate) < 0 ||
	    admin_text(r, "percent_off", 1, &off) < 0)
		return;
	if ((rate == NULL) == (off == NULL) || sid == 0) {
		admin_fail(r, 400,
		           "give service_id and one of rate (per 1000) or "
		           "percent_off");
		return;
	}
	if ((off != NULL && (*off == '\0' || strlen(off) + 2 > sizeof(rule))) ||
	    (rate != NULL && strchr(rate, '%') != NULL)) {
		admin_fail(r, 400,
		           "rate is a decimal number per 1000, percent_off a "
		           "decimal number of percent");
		return;
	}
	/* the operations layer reads "10%" as a percent off */
	snprintf(rule, sizeof(rule), "%s%s", off != NULL ? off : rate,
	         off != NULL && off[strlen(off) - 1] != '%' ? "%" : "");
	ops_rate_set(&r->ops, user, sid, rule, &res);
	admin_pricing_reply(r, &res,
	                    json_pack("{s:s,s:I}", "username", user,
	                              "service_id", (json_int_t)sid));
}

void
admin_rates_remove(struct admin_req *r)
{
	struct ops_result res;
	const char *user;
	int64_t sid;

	if (admin_need(r, "username", 0, &user) != 0 ||
	    admin_int(r, "service_id", 1, INT64_MAX, 0, &sid) != 0)
		return;
	if (sid == 0) {
		admin_fail(r, 400, "service_id is missing");
		return;
	}
	ops_rate_remove(&r->ops, user, sid, &res);
	admin_pricing_reply(r, &res,
	                    json_pack("{s:s,s:I}", "username", user,
	                              "service_id", (json_int_t)sid));
}
