/* test_fiber.c - the fibers under the daemon's PostgreSQL calls (fiber.h):
 * a fiber runs until it parks and goes on where it parked; what it keeps on
 * its stack survives every switch; stacks come back from the cache (and
 * beyond it) for function after function; a wake-up from a fiber waits for
 * the loop's next pass; a spawn from a fiber is a plain call.  Run under
 * AddressSanitizer in make test and under valgrind in make valgrind, which
 * check the stack switches themselves.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "fiber.h"

#define NFIB 200 /* more than the stack cache holds */
#define FILL 4096

struct job {
	int id;
	int phase; /* 0 not run, 1 parked once, 2 parked twice, 3 done */
	int bad;   /* its stack's bytes were not what it left */
	struct fiber *self;
};

static struct event_base *base;

static int
setup(void **state)
{
	base = event_base_new();
	assert_non_null(base);
	fiber_setup(base);
	return 0;
}

static int
teardown(void **state)
{
	fiber_teardown();
	event_base_free(base);
	base = NULL;
	return 0;
}

static unsigned char
pattern(int id, int i)
{
	return (unsigned char)(id * 31 + i * 7 + (i >> 8));
}

static void
check_fill(struct job *j, const volatile unsigned char *buf)
{
	for (int i = 0; i < FILL; i++)
		if (buf[i] != pattern(j->id, i))
			j->bad = 1;
}

/* Fills a page of its stack, parks twice, checks it after each. */
static void
job_run(void *a, void *b)
{
	struct job *j = a;
	volatile unsigned char buf[FILL];

	(void)b;
	j->self = fiber_self();
	for (int i = 0; i < FILL; i++)
		buf[i] = pattern(j->id, i);
	for (int k = 1; k <= 2; k++) {
		j->phase = k;
		fiber_park();
		check_fill(j, buf);
		assert_ptr_equal(fiber_self(), j->self);
	}
	j->phase = 3;
}

/* NFIB fibers parked at once, woken from the loop's stack in an order
 * that is neither the spawn order nor its reverse; three rounds, so that
 * later rounds run on stacks the earlier ones left in the cache. */
static void
test_many_parked(void **state)
{
	static struct job jobs[NFIB];

	for (int round = 0; round < 3; round++) {
		memset(jobs, 0, sizeof(jobs));
		for (int i = 0; i < NFIB; i++) {
			jobs[i].id = i + round * NFIB;
			fiber_spawn(job_run, &jobs[i], NULL);
			assert_int_equal(jobs[i].phase, 1);
		}
		assert_int_equal(fiber_count(), NFIB);
		for (int k = 2; k <= 3; k++)
			for (int s = 0; s < NFIB; s++) {
				struct job *j = &jobs[(s * 73 + k) % NFIB];

				assert_int_equal(j->phase, k - 1);
				fiber_wake(j->self);
				assert_int_equal(j->phase, k);
			}
		for (int i = 0; i < NFIB; i++) {
			assert_int_equal(jobs[i].phase, 3);
			assert_int_equal(jobs[i].bad, 0);
		}
		assert_int_equal(fiber_count(), 0);
	}
}

struct pingpong {
	struct fiber *f[2];
	int turns[2];
	int last; /* who ran last */
	int order_bad;
};

static struct pingpong pp;

/* Each side wakes the other and parks, ROUNDS times: a wake from a fiber
 * is queued, so the sides alternate strictly. */
#define ROUNDS 500

static void
side_run(void *a, void *b)
{
	int me = (int)(intptr_t)a;

	(void)b;
	pp.f[me] = fiber_self();
	fiber_park(); /* until both exist */
	while (pp.turns[me] < ROUNDS) {
		if (pp.last == me)
			pp.order_bad = 1;
		pp.last = me;
		pp.turns[me]++;
		if (pp.turns[1 - me] < ROUNDS) /* never wake a finished one */
			fiber_wake(pp.f[1 - me]);
		if (pp.turns[me] < ROUNDS)
			fiber_park();
	}
}

static void
test_wake_from_fiber(void **state)
{
	memset(&pp, 0, sizeof(pp));
	pp.last = -1;
	fiber_spawn(side_run, (void *)(intptr_t)0, NULL);
	fiber_spawn(side_run, (void *)(intptr_t)1, NULL);
	assert_int_equal(fiber_count(), 2);
	fiber_wake(pp.f[0]);
	/* side 0 ran a turn and queued side 1: the loop's passes do the rest */
	for (int pass = 0; pass < 4 * ROUNDS && fiber_count() > 0; pass++)
		assert_true(event_base_loop(base, EVLOOP_NONBLOCK) >= 0);
	assert_int_equal(fiber_count(), 0);
	assert_int_equal(pp.turns[0], ROUNDS);
	assert_int_equal(pp.turns[1], ROUNDS);
	assert_int_equal(pp.order_bad, 0);
}

static int inner_ran;
static struct fiber *inner_self;

static void
inner_run(void *a, void *b)
{
	(void)a;
	(void)b;
	inner_ran++;
	inner_self = fiber_self();
}

static void
outer_run(void *a, void *b)
{
	struct fiber **outer = a;

	(void)b;
	*outer = fiber_self();
	fiber_spawn(inner_run, NULL, NULL); /* a plain call, here and now */
	assert_int_equal(inner_ran, 1);
	fiber_park();
}

static void
test_spawn_inside(void **state)
{
	struct fiber *outer = NULL;

	inner_ran = 0;
	fiber_spawn(outer_run, &outer, NULL);
	assert_non_null(outer);
	assert_ptr_equal(inner_self, outer);
	assert_int_equal(fiber_count(), 1);
	fiber_wake(outer);
	assert_int_equal(fiber_count(), 0);
	/* off the loop's fibers, a spawn is a call too */
	assert_null(fiber_self());
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_many_parked, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wake_from_fiber, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_spawn_inside, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
