/* admin_prices.c - the admin API's price-change log (GET services/changes):
 * what each catalogue sync changed per upstream service, newest first. */
#include <string.h>

#include <jansson.h>

#include "admin_api_int.h"
#include "money.h"
#include "prices.h"
#include "store.h"

static json_t *
admin_price(money_t m, int decimals)
{
	return m == PRICE_NONE ? json_null() : admin_money(m, decimals);
}

static int
admin_price_row(const struct price_entry *e, void *arg)
{
	struct admin_rows *ar = arg;

	json_array_append_new(
	    ar->list,
	    json_pack("{s:I,s:o,s:s,s:I,s:s,s:o,s:o,s:o,s:o}", "id",
	              (json_int_t)e->id, "created", admin_time(e->created_at),
	              "upstream", e->upstream, "service",
	              (json_int_t)e->service, "kind", e->kind, "cost_before",
	              admin_price(e->cost_before, ar->decimals), "cost_after",
	              admin_price(e->cost_after, ar->decimals), "price_before",
	              admin_price(e->price_before, ar->decimals), "price_after",
	              admin_price(e->price_after, ar->decimals)));
	return 0;
}

/* GET services/changes?upstream=&kind=&limit=&offset= */
void
admin_services_changes(struct admin_req *r)
{
	struct price_page f = {NULL, 0, 0, NULL};
	struct admin_rows ar = {json_array(), r->decimals};

	if (admin_text(r, "upstream", 0, &f.upstream) < 0 ||
	    admin_text(r, "kind", 0, &f.kind) < 0 ||
	    admin_page(r, &f.limit, &f.offset) != 0) {
		json_decref(ar.list);
		return;
	}
	if (f.kind != NULL && strcmp(f.kind, "changed") != 0 &&
	    strcmp(f.kind, "appeared") != 0 && strcmp(f.kind, "dropped") != 0) {
		json_decref(ar.list);
		admin_fail(r, 400, "kind is changed, appeared or dropped");
		return;
	}
	admin_send_page(r, store_price_page(r->a->st, &f, admin_price_row, &ar),
	                ar.list);
}
