/* test_route.c - lib/route.c: the route order of both modes, the failover
 * floor, upstream health and the balance estimate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "money.h"
#include "route.h"

#define M(units) ((money_t)(units)*MONEY_SCALE / 100) /* cents */
#define PCT(p) ((money_t)(p)*MONEY_SCALE)

static void
test_parse(void **state)
{
	(void)state;
	assert_int_equal(route_mode_parse("ordered"), ROUTE_ORDERED);
	assert_int_equal(route_mode_parse("cheapest"), ROUTE_CHEAPEST);
	assert_int_equal(route_mode_parse("Cheapest"), -1);
	assert_int_equal(route_mode_parse(NULL), -1);
	assert_int_equal(route_same_link_parse("off"), ROUTE_LINK_OFF);
	assert_int_equal(route_same_link_parse("refuse"), ROUTE_LINK_REFUSE);
	assert_int_equal(route_same_link_parse("reroute"), ROUTE_LINK_REROUTE);
	assert_int_equal(route_same_link_parse("on"), -1);
}

static void
test_floor(void **state)
{
	(void)state;
	assert_true(route_floor_ok(M(100), M(100), 0));
	assert_false(route_floor_ok(M(101), M(100), 0));
	/* 10%: cost 1.00 needs a rate of at least 1.10 */
	assert_true(route_floor_ok(M(100), M(110), PCT(10)));
	assert_false(route_floor_ok(M(100), M(110) - 1, PCT(10)));
	/* the margin rounds up: never a unit under */
	assert_false(route_floor_ok(3, 3, PCT(10)));
	assert_true(route_floor_ok(3, 4, PCT(10)));
	assert_false(route_floor_ok(INT64_MAX, INT64_MAX, PCT(10)));
}

static void
test_order_cheapest(void **state)
{
	struct route_cand v[] = {
	    {0, 10, M(300), 1}, {1, 11, M(100), 1}, {2, 12, M(200), 1},
	    {3, 13, M(50), 0},  {4, 14, M(900), 1}, {5, 15, M(100), 1},
	};
	size_t n;

	(void)state;
	/* rate 5.00, margin 0: route 4 (9.00) is under the floor */
	n = route_order(ROUTE_CHEAPEST, v, 6, M(500), 0);
	assert_int_equal(n, 5);
	assert_int_equal(v[0].upstream, 1); /* 1.00, first of the equal */
	assert_int_equal(v[1].upstream, 5);
	assert_int_equal(v[2].upstream, 2);
	assert_int_equal(v[3].upstream, 0);
	assert_int_equal(v[4].upstream, 3); /* unhealthy: last */
}

static void
test_order_ordered(void **state)
{
	struct route_cand v[] = {
	    {0, 10, M(300), 1},
	    {1, 11, M(100), 0},
	    {2, 12, M(200), 1},
	};
	size_t n;

	(void)state;
	/* rate 2.50, margin 20%: 3.00 (3.60) and 2.00 (2.40 <= 2.50) */
	n = route_order(ROUTE_ORDERED, v, 3, M(250), PCT(20));
	assert_int_equal(n, 2);
	assert_int_equal(v[0].upstream, 1);
	assert_int_equal(v[1].upstream, 2);
	n = route_order(ROUTE_ORDERED, v, 2, M(100), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].upstream, 1);
	assert_int_equal(route_order(ROUTE_CHEAPEST, v, 1, M(99), 0), 0);
}

static void
test_health(void **state)
{
	struct route_health h = {0};

	(void)state;
	for (int i = 0; i < ROUTE_HEALTH_MIN - 1; i++)
		route_health_note(&h, ROUTE_REJECTED, 1000);
	assert_true(route_health_ok(&h, PCT(50), 3000)); /* too few to judge */
	route_health_note(&h, ROUTE_REJECTED, 1000);
	assert_false(route_health_ok(&h, PCT(50), 3000));
	for (int i = 0; i < ROUTE_HEALTH_WINDOW; i++)
		route_health_note(&h, ROUTE_ACCEPTED, 1000);
	assert_true(route_health_ok(&h, PCT(50), 3000));
	/* 10 of 20 not sent: at the threshold is unhealthy */
	for (int i = 0; i < ROUTE_HEALTH_WINDOW / 2; i++)
		route_health_note(&h, ROUTE_NOT_SENT, 2000);
	assert_int_equal(h.n, ROUTE_HEALTH_WINDOW);
	assert_false(route_health_ok(&h, PCT(50), 3000));
	assert_true(route_health_ok(&h, PCT(51), 3000));
	/* 100% never judges unhealthy short of every add failing */
	assert_true(route_health_ok(&h, PCT(100), 3000));
	/* old outcomes stop counting: the accepted ones first */
	assert_false(
	    route_health_ok(&h, PCT(50), 1000 + ROUTE_HEALTH_AGE_MS + 1));
	assert_true(
	    route_health_ok(&h, PCT(50), 2000 + ROUTE_HEALTH_AGE_MS + 1));
}

static void
test_balance(void **state)
{
	struct route_balance b = {0};
	money_t c;

	(void)state;
	assert_true(route_balance_can_pay(&b, M(1000000))); /* unknown */
	route_balance_move(&b, M(5), -1);
	assert_false(b.known);
	route_balance_set(&b, M(1000));
	assert_true(route_balance_can_pay(&b, M(1000)));
	assert_false(route_balance_can_pay(&b, M(1001)));
	route_balance_move(&b, M(600), -1);
	assert_int_equal(b.estimate, M(400));
	assert_false(route_balance_can_pay(&b, M(401)));
	assert_int_equal(route_balance_low(&b, M(500)), 1);
	assert_int_equal(route_balance_low(&b, M(500)), 0); /* once */
	route_balance_move(&b, M(600), 1);
	assert_int_equal(route_balance_low(&b, M(500)), 0);
	route_balance_move(&b, M(600), -1);
	assert_int_equal(route_balance_low(&b, M(500)), 1); /* re-armed */
	assert_int_equal(route_balance_low(&b, 0), 0);
	assert_int_equal(route_order_cost(M(250), M(80), M(100), &c), 0);
	assert_int_equal(c, M(200));
	assert_int_equal(route_order_cost(1, 1, 3, &c), 0);
	assert_int_equal(c, 1); /* rounded up */
	assert_int_equal(route_order_cost(1, 1, 0, &c), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_floor),
	    cmocka_unit_test(test_order_cheapest),
	    cmocka_unit_test(test_order_ordered),
	    cmocka_unit_test(test_health),
	    cmocka_unit_test(test_balance),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
