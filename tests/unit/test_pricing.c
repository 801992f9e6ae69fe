/* test_pricing.c - customers' own rates (lib/pricing.h): a table of
 * quotes worked by hand (groups, percent and fixed overrides, the floor of
 * the cheapest route, rounding to pricing.round_to), the snapshot's
 * lookups after loading rows in any order, and the per-customer services
 * reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "catalog.h"
#include "config.h"
#include "money.h"
#include "pricing.h"

static money_t
M(const char *s)
{
	money_t v;

	if (money_parse(s, &v) != 0)
		fail_msg("bad money %s", s);
	return v;
}

/* A service listed at LIST with routes costing COST1 and COST2 ("" none). */
static void
service(struct catalog_service *s, struct catalog_route *r, const char *list,
        const char *cost1, const char *cost2)
{
	memset(s, 0, sizeof(*s));
	s->id = 7;
	s->rate = M(list);
	s->routes = r;
	s->nroutes = 1;
	memset(r, 0, 2 * sizeof(*r));
	r[0].cost = M(cost1);
	if (*cost2 != '\0') {
		r[1].cost = M(cost2);
		s->nroutes = 2;
	}
}

static void
test_quotes(void **state)
{
	static const struct {
		const char *list, *cost1, *cost2, *margin, *round_to;
		int group;             /* has one */
		const char *group_pct; /* -10 = 10% off */
		int rule;              /* 0 none, 1 percent off, 2 fixed */
		const char *value;
		const char *want, *floor;
		enum pricing_source from;
		int clamped;
	} cases[] = {
	    /* no rules: the list rate */
	    {"1.25", "1", "", "0", "0.0001", 0, "", 0, "", "1.25", "1",
	     PRICING_LIST, 0},
	    /* a group's 10% off: 1.125 */
	    {"1.25", "1", "", "0", "0.0001", 1, "-10", 0, "", "1.125", "1",
	     PRICING_GROUP, 0},
	    /* a surcharge of 7.5%: 1.34375 rounds up to 1.3438 */
	    {"1.25", "1", "", "0", "0.0001", 1, "7.5", 0, "", "1.3438", "1",
	     PRICING_GROUP, 0},
	    /* the override wins over the group: 20% off = 1.00 */
	    {"1.25", "1", "", "0", "0.0001", 1, "-10", 1, "20", "1", "1",
	     PRICING_PERCENT, 0},
	    /* a fixed rate is taken as given */
	    {"1.25", "1", "", "0", "0.0001", 0, "", 2, "1.11111", "1.11111",
	     "1", PRICING_FIXED, 0},
	    /* under the floor: 1 x 1.05 = 1.05 */
	    {"1.25", "1", "", "5", "0.0001", 0, "", 2, "0.5", "1.05", "1.05",
	     PRICING_FIXED, 1},
	    {"1.25", "1", "", "5", "0.0001", 0, "", 1, "50", "1.05", "1.05",
	     PRICING_PERCENT, 1},
	    /* the floor is the cheapest route's: 0.8 x 1.1 = 0.88 */
	    {"1.25", "1", "0.8", "10", "0.0001", 1, "-40", 0, "", "0.88",
	     "0.88", PRICING_GROUP, 1},
	    /* a floor rounds up to the step: 0.333 x 1.1 = 0.3663 -> 0.37 */
	    {"1", "0.333", "", "10", "0.01", 0, "", 1, "90", "0.37", "0.37",
	     PRICING_PERCENT, 1},
	    /* 100% off a route of no cost: never free */
	    {"1", "0", "", "0", "0.01", 0, "", 1, "100", "0.01", "0",
	     PRICING_PERCENT, 1},
	    /* a discount over the floor stays: 3% off 2.00 = 1.94 */
	    {"2", "1.5", "", "25", "0.0001", 1, "-3", 0, "", "1.94", "1.875",
	     PRICING_GROUP, 0},
	};
	struct config cfg;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct catalog_service s;
		struct catalog_route r[2];
		struct pricing_customer pc;
		struct pricing_rule rule;
		struct pricing_quote q;
		char got[MONEY_BUFSZ], want[MONEY_BUFSZ];

		memset(&cfg, 0, sizeof(cfg));
		cfg.min_margin = M(cases[i].margin);
		cfg.round_to = M(cases[i].round_to);
		service(&s, r, cases[i].list, cases[i].cost1, cases[i].cost2);
		memset(&pc, 0, sizeof(pc));
		pc.has_group = cases[i].group;
		if (cases[i].group)
			pc.group_percent = M(cases[i].group_pct);
		if (cases[i].rule != 0) {
			rule.service_id = 7;
			rule.fixed = cases[i].rule == 2;
			rule.value = M(cases[i].value);
			pc.rules = &rule;
			pc.nrules = 1;
		}
		assert_int_equal(pricing_quote(&cfg, &s, &pc, &q), 0);
		if (q.rate != M(cases[i].want) ||
		    q.floor != M(cases[i].floor) || q.source != cases[i].from ||
		    q.clamped != cases[i].clamped)
			fail_msg(
			    "case %zu: rate %s (want %s) floor %lld source "
			    "%d clamped %d",
			    i, money_format(q.rate, 0, got),
			    money_format(M(cases[i].want), 0, want),
			    (long long)q.floor, q.source, q.clamped);
	}
}

static void
test_snapshot(void **state)
{
	struct pricing *pr = pricing_new();
	struct pricing_rule a = {5, 0, M("10")}, b = {2, 1, M("1.5")},
	                    c = {9, 1, M("3")};
	const struct pricing_customer *pc;

	/* groups first, then rules by customer: one customer's rows apart */
	pricing_add_group(pr, 40, M("-5"));
	pricing_add_group(pr, 3, M("2"));
	pricing_add_rule(pr, 3, &a);
	pricing_add_rule(pr, 40, &c);
	pricing_add_rule(pr, 3, &b);
	pricing_finish(pr);
	assert_int_equal(pr->n, 2);
	assert_null(pricing_customer(pr, 4));
	pc = pricing_customer(pr, 3);
	assert_non_null(pc);
	assert_true(pc->has_group);
	assert_int_equal(pc->group_percent, M("2"));
	assert_int_equal(pc->nrules, 2);
	assert_int_equal(pc->rules[0].service_id, 2);
	assert_int_equal(pc->rules[1].service_id, 5);
	pc = pricing_customer(pr, 40);
	assert_int_equal(pc->nrules, 1);
	assert_int_equal(pc->group_percent, M("-5"));
	assert_non_null(pricing_ref(pr));
	pricing_unref(pr);
	pricing_unref(pr);
	assert_null(pricing_customer(NULL, 3));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_quotes),
	    cmocka_unit_test(test_snapshot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
