/* storetest_links.c - the same-link guard's contract (store.h, struct
 * order_new's link_key), for every backend: a second open order of a
 * service for one link is refused with nothing debited, or (reroute) made
 * on another upstream; a final order frees its link. */
#include <string.h>

#include "storetest.h"

struct fixture {
	struct store *st;
};

static struct order_new
link_order(int64_t cid, const char *key)
{
	struct order_new o = new_order(cid, "0.1");

	o.link_key = key;
	return o;
}

void
test_same_link(void **state)
{
	struct fixture *f = *state;
	int64_t a = add_customer(f->st, "lina", "1");
	int64_t b = add_customer(f->st, "linb", "1");
	struct order_new o = link_order(a, "example.com/x"), v[3];
	enum store_result res[3];
	int64_t id, first, ids[3];

	assert_int_equal(store_order_create(f->st, &o, &first), STORE_OK);
	/* another customer, the same link and service: refused, no debit */
	o = link_order(b, "example.com/x");
	assert_int_equal(store_order_create(f->st, &o, &id), STORE_LINK);
	assert_int_equal(balance_of(f->st, "linb"), M("1"));
	/* with a request_id too */
	o.request_id = "r-1";
	o.request_hash = (const uint8_t *)"0123456789abcdef0123456789abcdef";
	assert_int_equal(store_order_create(f->st, &o, &id), STORE_LINK);
	assert_int_equal(balance_of(f->st, "linb"), M("1"));
	/* another service, or another link: fine */
	o = link_order(b, "example.com/x");
	o.service_id = 2;
	assert_int_equal(store_order_create(f->st, &o, &id), STORE_OK);
	/* in one group: the refused one costs nothing, the other is made */
	v[0] = link_order(b, "example.com/x");
	v[1] = link_order(b, "example.com/y");
	v[2] = link_order(b, "example.com/y");
	assert_int_equal(store_order_create_many(f->st, v, 3, res, ids),
	                 STORE_OK);
	assert_int_equal(res[0], STORE_LINK);
	assert_int_equal(res[1], STORE_OK);
	assert_int_equal(res[2], STORE_LINK);
	assert_int_equal(balance_of(f->st, "linb"), M("0.8"));
	/* a final order frees its link */
	assert_int_equal(store_order_reject(f->st, first, "test"), STORE_OK);
	o = link_order(b, "example.com/x");
	assert_int_equal(store_order_create(f->st, &o, &id), STORE_OK);
	assert_int_equal(balance_of(f->st, "linb"), M("0.7"));
	assert_int_equal(balance_of(f->st, "lina"), M("1"));
	assert_int_equal(violations(f->st), 0);
}

void
test_same_link_reroute(void **state)
{
	struct fixture *f = *state;
	int64_t a = add_customer(f->st, "rera", "1");
	const char *ups[2] = {"alpha", "beta"};
	const int64_t svcs[2] = {1448, 7};
	struct order_new o;
	struct order ord;
	int64_t id;
	int chosen = -1;

	for (int i = 0; i < 2; i++) {
		o = link_order(a, "example.com/r");
		o.link_reroute = 1;
		o.alt_upstreams = ups;
		o.alt_services = svcs;
		o.nalt = 2;
		o.alt_chosen = &chosen;
		o.sending = 1;
		assert_int_equal(store_order_create(f->st, &o, &id), STORE_OK);
		assert_int_equal(chosen, i);
		assert_int_equal(store_order_get(f->st, id, &ord), STORE_OK);
		assert_string_equal(ord.upstream, ups[i]);
		assert_int_equal(ord.upstream_service, svcs[i]);
		assert_int_equal(ord.state, ORDER_SENDING);
	}
	/* both upstreams hold one: refused, nothing debited */
	assert_int_equal(store_order_create(f->st, &o, &id), STORE_LINK);
	assert_int_equal(balance_of(f->st, "rera"), M("0.8"));
	/* the refuse index is apart: a refuse-mode order is not blocked */
	o = link_order(a, "example.com/r");
	assert_int_equal(store_order_create(f->st, &o, &id), STORE_OK);
	assert_int_equal(violations(f->st), 0);
}
