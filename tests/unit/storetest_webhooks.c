/* storetest_webhooks.c - the contract of customers' webhooks and their
 * outbox (store.h), run against every backend: which changes write which
 * events (and only with events on, only for customers with endpoints that
 * want them), and the claims, leases, acknowledgements, retries and dead
 * letters the deliveries live by. */
#include <string.h>

#include "clock.h"
#include "storetest.h"

struct fixture {
	struct store *st;
};

/* What a claim saw, in order. */
struct claimed {
	struct webhook_event v[16];
	size_t n;
};

static int
see_event(const struct webhook_event *ev, void *arg)
{
	struct claimed *c = arg;

	if (c->n < 16)
		c->v[c->n++] = *ev;
	return 0;
}

static struct claimed
claim(struct store *st, int64_t now_ms)
{
	struct claimed c;

	memset(&c, 0, sizeof(c));
	assert_true(store_webhook_claim(st, now_ms, 60000, 16, 16, NULL, 0,
	                                see_event, &c) >= 0);
	return c;
}

static int64_t
endpoint(struct store *st, int64_t cid, unsigned events, const char *below)
{
	struct webhook_endpoint e;
	int64_t id;

	memset(&e, 0, sizeof(e));
	e.customer_id = cid;
	strcpy(e.url, "https://hooks.example/in");
	strcpy(e.secret, "whsec_test");
	e.events = events;
	e.balance_below = below != NULL ? M(below) : -1;
	assert_int_equal(store_webhook_add(st, &e, &id), STORE_OK);
	return id;
}

static int64_t
pending(struct store *st)
{
	int64_t p, d, oldest;

	assert_int_equal(store_webhook_counts(st, &p, &d, &oldest), STORE_OK);
	return p;
}

/* Which changes write which events. */
void
test_webhook_events(void **state)
{
	struct fixture *f = *state;
	struct store *st = f->st;
	int64_t a = add_customer(st, "hooked", "10");
	int64_t b = add_customer(st, "plain", "10");
	int64_t now = clock_wall_ms() + 1000, o1, o2, o3, refill, hook;
	struct order_new big = new_order(a, "100");
	struct order_update progress = {"In progress", 5, 800, -1, -1, 1};
	struct order_update same = {"In progress", 5, 700, -1, -1, 0};
	struct order_update partial = {"Partial", 5, 500, -1, ORDER_PARTIAL, 0};
	struct webhook_endpoint e;
	struct claimed c;

	/* events off: nothing is written, whatever the endpoints */
	st->events = 0;
	hook = endpoint(st, a, WEBHOOK_EV_ALL, "9.5");
	o1 = create_active(st, a, "1", "W-1");
	assert_int_equal(pending(st), 0);

	st->events = 1;
	/* another customer's changes write none of A's events */
	create_active(st, b, "1", "W-2");
	assert_int_equal(pending(st), 0);
	/* the charge takes A from 9 to 8.5 (no crossing: 9 < 9.5 already) */
	o2 = create_active(st, a, "0.5", "W-3");
	assert_int_equal(pending(st), 1); /* its acceptance */
	assert_int_equal(store_order_status(st, o2, &progress), STORE_OK);
	assert_int_equal(store_order_status(st, o2, &same), STORE_OK);
	assert_int_equal(store_order_status(st, o2, &partial), STORE_OK);
	assert_int_equal(pending(st), 3);
	/* the order's timeline, kept whether events are on or not */
	{
		struct order ord;

		assert_int_equal(store_order_get(st, o2, &ord), STORE_OK);
		assert_true(ord.sent_at >= ord.created_at && ord.sent_at > 0);
		assert_true(ord.accepted_at >= ord.sent_at);
		assert_true(ord.progress_at >= ord.accepted_at);
		assert_true(ord.settled_at >= ord.progress_at);
		assert_int_equal(store_order_get(st, o1, &ord), STORE_OK);
		assert_true(ord.accepted_at > 0);
		assert_int_equal(ord.progress_at, 0);
		assert_int_equal(ord.settled_at, 0);
	}
	/* a refill's status, when it changes */
	assert_int_equal(store_refill_add(st, o1, a, "alpha", &refill),
	                 STORE_OK);
	assert_int_equal(store_refill_update(st, refill, "active", "R-1", NULL),
	                 STORE_OK);
	assert_int_equal(
	    store_refill_update(st, refill, "active", NULL, "Pending"),
	    STORE_OK);
	assert_int_equal(
	    store_refill_update(st, refill, "active", NULL, "Pending"),
	    STORE_OK);
	assert_int_equal(pending(st), 4);
	/* a refusal writes nothing: no funds, and no transition */
	assert_int_equal(store_order_create(st, &big, &o3), STORE_NOFUNDS);
	assert_int_equal(pending(st), 4);

	/* the claim: each order's first pending event only, by due time */
	c = claim(st, now);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.v[0].type, WEBHOOK_EV_ACCEPTED);
	assert_int_equal(c.v[0].order.id, o2);
	assert_int_equal(c.v[0].order.state, ORDER_ACTIVE);
	assert_int_equal(c.v[0].order.charge, M("0.5"));
	assert_int_equal(c.v[0].attempts, 1);
	assert_string_equal(c.v[0].url, "https://hooks.example/in");
	assert_string_equal(c.v[0].secret, "whsec_test");
	assert_int_equal(c.v[1].type, WEBHOOK_EV_REFILL);
	assert_int_equal(c.v[1].refill_id, refill);
	assert_int_equal(c.v[1].order.id, o1);
	assert_string_equal(c.v[1].status, "Pending");
	/* leased: not claimed again until the lease ran out */
	assert_int_equal(claim(st, now + 1000).n, 0);
	assert_int_equal(store_webhook_delivered(st, c.v[0].id), STORE_OK);
	assert_int_equal(store_webhook_delivered(st, c.v[0].id),
	                 STORE_NOTFOUND);
	c = claim(st, now + 1000);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.v[0].type, WEBHOOK_EV_STATUS);
	assert_string_equal(c.v[0].status, "In progress");
	assert_int_equal(c.v[0].order.remains, 800);
	assert_int_equal(c.v[0].order.start_count, 5);
	assert_int_equal(store_webhook_delivered(st, c.v[0].id), STORE_OK);
	c = claim(st, now + 1000);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.v[0].order.state, ORDER_PARTIAL);
	assert_int_equal(c.v[0].order.refunded, M("0.25"));
	assert_int_equal(c.v[0].order.upstream_quantity, 1000);
	assert_int_equal(store_webhook_delivered(st, c.v[0].id), STORE_OK);
	/* the refill's lease runs out: claimed again, a second try */
	c = claim(st, now + 61000);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.v[0].type, WEBHOOK_EV_REFILL);
	assert_int_equal(c.v[0].attempts, 2);
	assert_int_equal(store_webhook_get(st, hook, &e), STORE_OK);
	assert_int_equal(e.pending, 1);
	assert_int_equal(violations(st), 0);
}

/* balance.low when a debit crosses the threshold, once per crossing. */
void
test_webhook_balance(void **state)
{
	struct fixture *f = *state;
	struct store *st = f->st;
	int64_t a = add_customer(st, "low", "10");
	struct payment_new pay = {a, M("-2"), NULL, NULL, NULL, "test", NULL};
	struct ledger_entry le;
	money_t bal;
	struct claimed c;

	st->events = 1;
	endpoint(st, a, WEBHOOK_EV_BALANCE, "6");
	create_order(st, a, "3"); /* 10 -> 7 */
	assert_int_equal(pending(st), 0);
	create_order(st, a, "1.5"); /* 7 -> 5.5: crossed */
	assert_int_equal(pending(st), 1);
	create_order(st, a, "1"); /* 5.5 -> 4.5: below already */
	assert_int_equal(pending(st), 1);
	assert_int_equal(
	    store_ledger_post(st, a, LEDGER_DEPOSIT, M("10"), NULL, &bal),
	    STORE_OK); /* 14.5 */
	assert_int_equal(store_payment_add(st, &pay, &le, &bal), STORE_OK);
	assert_int_equal(pending(st), 1); /* 12.5 */
	pay.amount = M("-7");
	assert_int_equal(store_payment_add(st, &pay, &le, &bal), STORE_OK);
	assert_int_equal(pending(st), 2); /* 5.5: crossed again */
	c = claim(st, clock_wall_ms() + 1000);
	/* one chain (no order): the first only */
	assert_int_equal(c.n, 1);
	assert_int_equal(c.v[0].type, WEBHOOK_EV_BALANCE);
	assert_int_equal(c.v[0].balance, M("5.5"));
	assert_int_equal(c.v[0].threshold, M("6"));
	assert_int_equal(violations(st), 0);
}

/* Tries, dead letters, retries, rotation and removal. */
void
test_webhook_outbox(void **state)
{
	struct fixture *f = *state;
	struct store *st = f->st;
	int64_t a = add_customer(st, "dead", "10"), hook, o, now, p, d, old;
	char secret[] = "whsec_new";
	struct webhook_endpoint e;
	struct claimed c;

	st->events = 1;
	hook = endpoint(st, a, WEBHOOK_EV_ACCEPTED, NULL);
	o = create_active(st, a, "1", "D-1");
	now = clock_wall_ms() + 1000;
	c = claim(st, now);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.v[0].order.id, o);
	/* a failed try: due again at the given time, not before */
	assert_int_equal(
	    store_webhook_failed(st, c.v[0].id, now + 5000, "HTTP 500", 0),
	    STORE_OK);
	assert_int_equal(claim(st, now + 4999).n, 0);
	c = claim(st, now + 5000);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.v[0].attempts, 2);
	assert_string_equal(c.v[0].last_error, "HTTP 500");
	/* dead: out of the claims, in the dead letters */
	assert_int_equal(store_webhook_failed(st, c.v[0].id, 0, "timed out", 1),
	                 STORE_OK);
	assert_int_equal(claim(st, now + 999999999).n, 0);
	assert_int_equal(store_webhook_counts(st, &p, &d, &old), STORE_OK);
	assert_int_equal(p, 0);
	assert_int_equal(d, 1);
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_webhook_dead(st, 10, see_event, &c), 1);
	assert_string_equal(c.v[0].last_error, "timed out");
	assert_string_equal(c.v[0].url, "https://hooks.example/in");
	/* retried by the operator: pending and due */
	assert_int_equal(store_webhook_retry(st, 0, now), 1);
	assert_int_equal(store_webhook_retry(st, 0, now), 0);
	assert_int_equal(claim(st, now).n, 1);
	/* rotation keeps the old secret until the overlap ends */
	assert_int_equal(store_webhook_rotate(st, hook, secret, 4242),
	                 STORE_OK);
	assert_int_equal(store_webhook_get(st, hook, &e), STORE_OK);
	assert_string_equal(e.secret, "whsec_new");
	assert_string_equal(e.old_secret, "whsec_test");
	assert_int_equal(e.old_until, 4242);
	assert_int_equal(store_webhook_rotate(st, hook + 100, secret, 1),
	                 STORE_NOTFOUND);
	/* removal takes its events */
	assert_int_equal(store_webhook_remove(st, hook), STORE_OK);
	assert_int_equal(store_webhook_remove(st, hook), STORE_NOTFOUND);
	assert_int_equal(store_webhook_counts(st, &p, &d, &old), STORE_OK);
	assert_int_equal(p + d, 0);
	/* no more of one endpoint in flight than its cap */
	hook = endpoint(st, a, WEBHOOK_EV_ACCEPTED, NULL);
	for (int i = 0; i < 3; i++)
		create_active(st, a, "0.1",
		              i == 0   ? "C-1"
		              : i == 1 ? "C-2"
		                       : "C-3");
	{
		struct webhook_busy busy = {hook, 1};

		memset(&c, 0, sizeof(c));
		assert_int_equal(store_webhook_claim(st, now, 60000, 16, 2,
		                                     &busy, 1, see_event, &c),
		                 1);
		busy.inflight = 2;
		assert_int_equal(store_webhook_claim(st, now, 60000, 16, 2,
		                                     &busy, 1, see_event, &c),
		                 0);
		assert_int_equal(store_webhook_claim(st, now, 60000, 16, 2,
		                                     NULL, 0, see_event, &c),
		                 2);
	}
	/* an unknown customer has no endpoint */
	memset(&e, 0, sizeof(e));
	e.customer_id = a + 1000;
	e.balance_below = -1;
	assert_int_equal(store_webhook_add(st, &e, &hook), STORE_NOTFOUND);
	assert_int_equal(violations(st), 0);
}
