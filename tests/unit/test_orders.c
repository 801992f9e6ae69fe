/* test_orders.c - the pure rules of the order engine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dialect.h"
#include "money.h"
#include "orders.h"
#include "store.h"

/* Upstream refusals as real panels word them, and what the customer is
 * told: a standard v2 error, or a neutral sentence; the upstream's name
 * or address never. */
static void
test_refusal_text(void **state)
{
	static const struct {
		const char *upstream, *shown;
	} v[] = {
	    {"Quantity less than minimal 1000",
	     "Quantity less than minimal 1000"},
	    {"Quantity more than maximum 5000",
	     "Quantity more than maximum 5000"},
	    {"neworder.error.min_quantity: 100",
	     "Quantity less than minimal 100"},
	    {"Not enough funds on balance",
	     "This service is temporarily unavailable, please try again "
	     "later"},
	    {"neworder.error.not_enough_funds",
	     "This service is temporarily unavailable, please try again "
	     "later"},
	    {"Invalid API key",
	     "This service is temporarily unavailable, please try again "
	     "later"},
	    {"Incorrect service ID",
	     "This service is temporarily unavailable, please try again "
	     "later"},
	    {"You have active order with this link. Please wait until order "
	     "being completed.",
	     "You have active order with this link. Please wait until order "
	     "being completed."},
	    {"neworder.error.link_duplicate",
	     "You have active order with this link. Please wait until order "
	     "being completed."},
	    {"Incorrect link", "Incorrect link"},
	    {"neworder.error.link", "Incorrect link"},
	    {"Order refused by SuperSMM.example (upstream 127.0.0.1:8123)",
	     "The order was refused, please check it and try again"},
	    {"", "The order was refused, please check it and try again"},
	};
	char buf[96];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		const char *got = orders_refusal_text(v[i].upstream, buf,
		                                      sizeof(buf));

		if (strcmp(got, v[i].shown) != 0)
			fail_msg("\"%s\": got \"%s\", want \"%s\"",
			         v[i].upstream, got, v[i].shown);
	}
}

/* Settlement: what an upstream's status answer does to an order, for
 * every state the order can be in and every kind of answer.  The charge is
 * 10.00 for 1000 units (2 decimals): a Partial with 250 remains refunds
 * 2.50, one with 333 remains 3.33 (rounded down). */
static void
test_settle_table(void **state)
{
#define M(x) ((money_t)((x) * 100) * (MONEY_SCALE / 100))
	static const struct {
		int line;
		enum order_state state;
		enum dialect_status status;
		int has_remains;
		int64_t remains;
		/* what happens */
		enum orders_settle_do what;
		int final_state;
		int64_t remains_out;
		money_t refund;
	} v[] = {
	    /* open words are recorded */
	    {__LINE__, ORDER_ACTIVE, DIALECT_STATUS_PENDING, 0, 0,
	     ORDERS_SETTLE_RECORD, -1, -1, 0},
	    {__LINE__, ORDER_ACTIVE, DIALECT_STATUS_IN_PROGRESS, 1, 400,
	     ORDERS_SETTLE_RECORD, -1, 400, 0},
	    {__LINE__, ORDER_ACTIVE, DIALECT_STATUS_PROCESSING, 1, -5,
	     ORDERS_SETTLE_RECORD, -1, 0, 0},
	    /* a word we cannot act on moves no money */
	    {__LINE__, ORDER_ACTIVE, DIALECT_STATUS_UNKNOWN, 1, 10,
	     ORDERS_SETTLE_UNKNOWN, -1, 10, 0},
	    {__LINE__, ORDER_ACTIVE, DIALECT_STATUS_FAIL, 0, 0,
	     ORDERS_SETTLE_UNKNOWN, -1, -1, 0},
	    /* final words settle, with store_refund_for's refund */
	    {__LINE__, ORDER_ACTIVE, DIALECT_STATUS_COMPLETED, 0, 0,
	     ORDERS_SETTLE_FINAL, ORDER_COMPLETED, -1, 0},
	    {__LINE__, ORDER_ACTIVE, DIALECT_STATUS_COMPLETED, 1, 300,
	     ORDERS_SETTLE_FINAL, ORDER_COMPLETED, 300, 0},
	    {__LINE__, ORDER_ACTIVE, DIALECT_STATUS_CANCELED, 0, 0,
	     ORDERS_SETTLE_FINAL, ORDER_CANCELED, -1, M(10)},
	    {__LINE__, ORDER_ACTIVE, DIALECT_STATUS_REFUNDED, 1, 0,
	     ORDERS_SETTLE_FINAL, ORDER_REFUNDED, 0, M(10)},
	    {__LINE__, ORDER_ACTIVE, DIALECT_STATUS_PARTIAL, 1, 250,
	     ORDERS_SETTLE_FINAL, ORDER_PARTIAL, 250, M(2.5)},
	    {__LINE__, ORDER_ACTIVE, DIALECT_STATUS_PARTIAL, 1, 333,
	     ORDERS_SETTLE_FINAL, ORDER_PARTIAL, 333, M(3.33)},
	    /* remains are clamped to the order's upstream quantity */
	    {__LINE__, ORDER_ACTIVE, DIALECT_STATUS_PARTIAL, 1, 5000,
	     ORDERS_SETTLE_FINAL, ORDER_PARTIAL, 1000, M(10)},
	    {__LINE__, ORDER_ACTIVE, DIALECT_STATUS_PARTIAL, 1, -7,
	     ORDERS_SETTLE_FINAL, ORDER_PARTIAL, 0, 0},
	    /* Partial without remains waits for an answer with them */
	    {__LINE__, ORDER_ACTIVE, DIALECT_STATUS_PARTIAL, 0, 0,
	     ORDERS_SETTLE_WAIT, -1, -1, 0},
	    /* a final order never changes: a flip or a replay is ignored */
	    {__LINE__, ORDER_COMPLETED, DIALECT_STATUS_CANCELED, 0, 0,
	     ORDERS_SETTLE_IGNORE, -1, -1, 0},
	    {__LINE__, ORDER_COMPLETED, DIALECT_STATUS_COMPLETED, 0, 0,
	     ORDERS_SETTLE_IGNORE, -1, -1, 0},
	    {__LINE__, ORDER_PARTIAL, DIALECT_STATUS_PARTIAL, 1, 100,
	     ORDERS_SETTLE_IGNORE, -1, 100, 0},
	    {__LINE__, ORDER_CANCELED, DIALECT_STATUS_IN_PROGRESS, 0, 0,
	     ORDERS_SETTLE_IGNORE, -1, -1, 0},
	    {__LINE__, ORDER_REFUNDED, DIALECT_STATUS_COMPLETED, 0, 0,
	     ORDERS_SETTLE_IGNORE, -1, -1, 0},
	    {__LINE__, ORDER_REJECTED, DIALECT_STATUS_COMPLETED, 0, 0,
	     ORDERS_SETTLE_IGNORE, -1, -1, 0},
	    /* not sent (yet): nothing to settle */
	    {__LINE__, ORDER_QUEUED, DIALECT_STATUS_COMPLETED, 0, 0,
	     ORDERS_SETTLE_IGNORE, -1, -1, 0},
	    {__LINE__, ORDER_SENDING, DIALECT_STATUS_CANCELED, 0, 0,
	     ORDERS_SETTLE_IGNORE, -1, -1, 0},
	};
#undef M

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct dialect_order_status st;
		struct orders_settlement sd;
		struct order ord;

		memset(&ord, 0, sizeof(ord));
		memset(&st, 0, sizeof(st));
		ord.state = v[i].state;
		ord.charge = 10 * MONEY_SCALE;
		ord.quantity = 1000;
		ord.upstream_quantity = 1000;
		st.status = v[i].status;
		st.has_remains = v[i].has_remains;
		st.remains = v[i].remains;
		orders_settle_decide(&ord, &st, 2, &sd);
		if (sd.what != v[i].what || sd.final_state != v[i].final_state ||
		    sd.remains != v[i].remains_out || sd.refund != v[i].refund)
			fail_msg("line %d: got %d/%d/%lld/%lld, want "
			         "%d/%d/%lld/%lld",
			         v[i].line, (int)sd.what, sd.final_state,
			         (long long)sd.remains, (long long)sd.refund,
			         (int)v[i].what, v[i].final_state,
			         (long long)v[i].remains_out,
			         (long long)v[i].refund);
	}
}

/* An unsent queued order is refunded once it has waited more than
 * ORDERS_QUEUE_MAX_S (an hour), not at the second itself. */
static void
test_queue_expiry(void **state)
{
	const int64_t t0 = 1700000000;

	assert_int_equal(ORDERS_QUEUE_MAX_S, 3600);
	assert_false(orders_queue_expired(t0, t0));
	assert_false(orders_queue_expired(t0, t0 + 1));
	assert_false(orders_queue_expired(t0, t0 + 3599));
	assert_false(orders_queue_expired(t0, t0 + 3600));
	assert_true(orders_queue_expired(t0, t0 + 3601));
	assert_true(orders_queue_expired(t0, t0 + 86400));
	/* a clock stepped back: not expired */
	assert_false(orders_queue_expired(t0, t0 - 7200));
}

/* Poll due times: orders polled up to an interval ago, less a tenth of it
 * (the early window), are due. */
static void
test_poll_due(void **state)
{
	const int64_t now = INT64_C(1700000000000);

	assert_int_equal(orders_poll_due_before(now, 60000), now - 54000);
	assert_int_equal(orders_poll_due_before(now, 10000), now - 9000);
	assert_int_equal(orders_poll_due_before(now, 1000), now - 900);
	/* the tenth rounds down */
	assert_int_equal(orders_poll_due_before(now, 1005), now - 905);
	assert_int_equal(orders_poll_due_before(now, 0), now);
}

/* A status is answered from the store unless its copy is older than the
 * upstream's poll interval. */
static void
test_status_fresh(void **state)
{
	const int64_t now = INT64_C(1700000000000);

	assert_true(orders_status_fresh(now, now, 60000));
	assert_true(orders_status_fresh(now - 59999, now, 60000));
	assert_false(orders_status_fresh(now - 60000, now, 60000));
	assert_false(orders_status_fresh(now - 600000, now, 60000));
	assert_false(orders_status_fresh(0, now, 60000)); /* never polled */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refusal_text),
	    cmocka_unit_test(test_settle_table),
	    cmocka_unit_test(test_queue_expiry),
	    cmocka_unit_test(test_poll_due),
	    cmocka_unit_test(test_status_fresh),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
