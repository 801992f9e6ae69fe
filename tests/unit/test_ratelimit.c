/* test_ratelimit.c - token buckets against a hand-driven clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "ratelimit.h"

static int
take_n(struct ratelimit *rl, const char *key, int n, int64_t now)
{
	int ok = 0;

	for (int i = 0; i < n; i++)
		ok += ratelimit_take(rl, key, now);
	return ok;
}

static void
test_burst_and_refill(void **state)
{
	/* 50/s, burst 100 */
	struct ratelimit *rl = ratelimit_new(50, 1000, 100);

	assert_int_equal(take_n(rl, "a", 150, 0), 100);
	/* another key is unaffected */
	assert_int_equal(take_n(rl, "b", 100, 0), 100);
	/* 100 ms later: 5 tokens */
	assert_int_equal(take_n(rl, "a", 10, 100), 5);
	/* 1 s later: 50 */
	assert_int_equal(take_n(rl, "a", 100, 1100), 50);
	/* never more than the burst, however long it idles */
	assert_int_equal(take_n(rl, "a", 500, 1000000), 100);
	/* fractional refill accumulates: 20 ms = one token at 50/s */
	assert_int_equal(take_n(rl, "a", 5, 1000020), 1);
	ratelimit_free(rl);
}

static void
test_unlimited_and_slow_rates(void **state)
{
	struct ratelimit *rl = ratelimit_new(0, 1000, 0);

	assert_int_equal(take_n(rl, "x", 100000, 0), 100000);
	assert_int_equal(ratelimit_size(rl), 0);
	/* 3 per minute, burst 3 */
	ratelimit_set(rl, 3, 60000, 3);
	assert_int_equal(take_n(rl, "x", 10, 0), 3);
	assert_int_equal(take_n(rl, "x", 10, 19999), 0);
	assert_int_equal(take_n(rl, "x", 10, 20000), 1);
	ratelimit_free(rl);
}

static void
test_sweep_bounds_memory(void **state)
{
	struct ratelimit *rl = ratelimit_new(10, 1000, 20);
	char key[32];

	for (int i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "10.0.%d.%d", i / 256, i % 256);
		assert_int_equal(ratelimit_take(rl, key, 0), 1);
	}
	assert_int_equal(ratelimit_size(rl), 10000);
	/* once refilled, a sweep forgets them */
	assert_int_equal(ratelimit_take(rl, "other", 20000), 1);
	assert_int_equal(ratelimit_size(rl), 1);
	ratelimit_free(rl);
}

static void
test_peek(void **state)
{
	/* 1 a minute, burst 2: a limit on failures */
	struct ratelimit *rl = ratelimit_new(1, 60000, 2);

	/* peeking takes nothing and makes no bucket */
	for (int i = 0; i < 100; i++)
		assert_true(ratelimit_peek(rl, "ip", 0));
	assert_int_equal(ratelimit_size(rl), 0);
	assert_int_equal(take_n(rl, "ip", 2, 0), 2);
	assert_false(ratelimit_peek(rl, "ip", 0));
	assert_false(ratelimit_peek(rl, "ip", 59999));
	/* the refill is seen; peeking still takes nothing */
	assert_true(ratelimit_peek(rl, "ip", 60000));
	assert_true(ratelimit_peek(rl, "ip", 60000));
	assert_int_equal(take_n(rl, "ip", 5, 60000), 1);
	assert_true(ratelimit_peek(rl, "other", 0));
	ratelimit_set(rl, 0, 1000, 0);
	assert_true(ratelimit_peek(rl, "ip", 60000));
	ratelimit_free(rl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_burst_and_refill),
	    cmocka_unit_test(test_unlimited_and_slow_rates),
	    cmocka_unit_test(test_sweep_bounds_memory),
	    cmocka_unit_test(test_peek),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
