/* storetest_pricing.c - the contract of customers' own rates in the store
 * (store.h), run against every backend: groups, membership, overrides,
 * the snapshot the daemons load, and the generation every write moves. */
#include <string.h>

#include "pricing.h"
#include "storetest.h"

struct fixture {
	struct store *st;
};

static int64_t
generation(struct store *st)
{
	int64_t g;

	assert_int_equal(store_pricing_generation(st, &g), STORE_OK);
	return g;
}

static int
count_group(const struct customer_group *g, void *arg)
{
	struct customer_group *last = arg;

	*last = *g;
	return 0;
}

static int
count_rate(const struct customer_rate *r, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

void
test_pricing_store(void **state)
{
	struct fixture *f = *state;
	struct store *st = f->st;
	int64_t a = add_customer(st, "priced", NULL);
	int64_t b = add_customer(st, "other", NULL);
	int64_t g0 = generation(st);
	struct customer_group g;
	struct pricing *pr;
	const struct pricing_customer *pc;
	int n = 0;

	assert_int_equal(store_group_add(st, "vip", M("-10")), STORE_OK);
	assert_int_equal(store_group_add(st, "vip", M("-5")), STORE_EXISTS);
	assert_int_equal(store_group_set(st, "vip", M("-12.5")), STORE_OK);
	assert_int_equal(store_group_set(st, "none", M("1")), STORE_NOTFOUND);
	assert_int_equal(store_customer_set_group(st, a, "vip"), STORE_OK);
	assert_int_equal(store_customer_set_group(st, b, "nope"),
	                 STORE_NOTFOUND);
	assert_int_equal(store_group_list(st, count_group, &g), 1);
	assert_string_equal(g.name, "vip");
	assert_int_equal(g.percent, M("-12.5"));
	assert_int_equal(g.members, 1);
	assert_int_equal(store_group_remove(st, "vip"), STORE_CONFLICT);
	assert_int_equal(store_customer_group(st, a, &g), STORE_OK);
	assert_string_equal(g.name, "vip");
	assert_int_equal(store_customer_group(st, b, &g), STORE_OK);
	assert_int_equal(g.id, 0);

	assert_int_equal(store_rate_set(st, a, 5, 0, M("20")), STORE_OK);
	assert_int_equal(store_rate_set(st, a, 5, 1, M("1.5")), STORE_OK);
	assert_int_equal(store_rate_set(st, b, 2, 0, M("3")), STORE_OK);
	assert_int_equal(store_rate_set(st, b + 100, 2, 0, M("3")),
	                 STORE_NOTFOUND);
	assert_int_equal(store_rate_list(st, a, count_rate, &n), 1);
	assert_int_equal(store_rate_list(st, 0, count_rate, &n), 2);
	assert_true(generation(st) > g0);

	pr = pricing_new();
	assert_int_equal(store_pricing_load(st, pr), STORE_OK);
	assert_int_equal(pr->gen, generation(st));
	pc = pricing_customer(pr, a);
	assert_non_null(pc);
	assert_true(pc->has_group);
	assert_int_equal(pc->group_percent, M("-12.5"));
	assert_int_equal(pc->nrules, 1);
	assert_int_equal(pc->rules[0].service_id, 5);
	assert_true(pc->rules[0].fixed);
	assert_int_equal(pc->rules[0].value, M("1.5"));
	pc = pricing_customer(pr, b);
	assert_false(pc->has_group);
	assert_int_equal(pc->nrules, 1);
	pricing_unref(pr);

	/* a write that changes nothing moves nothing */
	g0 = generation(st);
	assert_int_equal(store_rate_remove(st, a, 99), STORE_NOTFOUND);
	assert_int_equal(generation(st), g0);
	assert_int_equal(store_rate_remove(st, a, 5), STORE_OK);
	assert_int_equal(store_customer_set_group(st, a, NULL), STORE_OK);
	assert_int_equal(store_customer_set_group(st, a, NULL), STORE_OK);
	assert_int_equal(store_group_remove(st, "vip"), STORE_OK);
	assert_int_equal(store_group_remove(st, "vip"), STORE_NOTFOUND);
	assert_true(generation(st) > g0);
	assert_int_equal(violations(st), 0);
}
