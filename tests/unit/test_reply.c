/* test_reply.c - the exact v2 bytes reply.c renders from the order
 * engine's typed results. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "money.h"
#include "orders.h"
#include "reply.h"
#include "store.h"

/* B's bytes are WANT; B is emptied. */
static void
want(struct buf *b, const char *w)
{
	char *got = strndup(b->data != NULL ? b->data : "", b->len);

	if (strcmp(got, w) != 0)
		fail_msg("got  %s\nwant %s", got, w);
	free(got);
	buf_reset(b);
}

static void
order_of(struct order *o, enum order_state s, const char *word)
{
	memset(o, 0, sizeof(*o));
	o->state = s;
	o->charge = 12 * MONEY_SCALE + MONEY_SCALE / 2; /* 12.50 */
	o->refunded = 0;
	o->start_count = -1;
	o->remains = -1;
	o->upstream_quantity = 1000;
	snprintf(o->upstream_status, sizeof(o->upstream_status), "%s", word);
}

static void
test_status_shapes(void **state)
{
	struct reply_ctx rc = {"USD", 2, "", NULL};
	struct orders_item it[3];
	struct orders_ids res = {0, 1, it};
	struct order a, b;
	struct buf out;

	buf_init(&out, 1 << 20);
	memset(it, 0, sizeof(it));
	order_of(&a, ORDER_ACTIVE, "Processing");
	a.start_count = 42;
	a.remains = 300;
	order_of(&b, ORDER_PARTIAL, "Partial");
	b.refunded = 5 * MONEY_SCALE;
	b.remains = 400;
	it[0].id = 7;
	it[0].row = &a;
	reply_status(&out, &rc, &res);
	want(&out, "{\"charge\":\"12.50\",\"start_count\":\"42\",\"status\":"
	           "\"In progress\",\"remains\":\"300\",\"currency\":\"USD\"}");
	/* the remembered word answers again */
	reply_status(&out, &rc, &res);
	want(&out, "{\"charge\":\"12.50\",\"start_count\":\"42\",\"status\":"
	           "\"In progress\",\"remains\":\"300\",\"currency\":\"USD\"}");
	it[0].row = NULL;
	reply_status(&out, &rc, &res);
	want(&out, "{\"error\":\"Incorrect order ID\"}");
	res.multi = 1;
	res.n = 3;
	it[0].row = &a;
	it[1].id = 8;
	it[1].row = NULL;
	it[2].id = 9;
	it[2].row = &b;
	reply_status(&out, &rc, &res);
	want(&out, "{\"7\":{\"charge\":\"12.50\",\"start_count\":\"42\","
	           "\"status\":\"In progress\",\"remains\":\"300\","
	           "\"currency\":\"USD\"},\"8\":{\"error\":\"Incorrect order "
	           "ID\"},\"9\":{\"charge\":\"7.50\",\"start_count\":\"0\","
	           "\"status\":\"Partial\",\"remains\":\"400\",\"currency\":"
	           "\"USD\"}}");
	/* Completed shows no remains, rejected all of them, an unsent one
	 * Pending */
	res.multi = 0;
	res.n = 1;
	order_of(&a, ORDER_COMPLETED, "Completed");
	a.remains = 10;
	reply_status(&out, &rc, &res);
	want(&out, "{\"charge\":\"12.50\",\"start_count\":\"0\",\"status\":"
	           "\"Completed\",\"remains\":\"0\",\"currency\":\"USD\"}");
	order_of(&a, ORDER_REJECTED, "");
	a.refunded = a.charge;
	reply_status(&out, &rc, &res);
	want(&out, "{\"charge\":\"0.00\",\"start_count\":\"0\",\"status\":"
	           "\"Canceled\",\"remains\":\"1000\",\"currency\":\"USD\"}");
	order_of(&a, ORDER_QUEUED, "");
	reply_status(&out, &rc, &res);
	want(&out, "{\"charge\":\"12.50\",\"start_count\":\"0\",\"status\":"
	           "\"Pending\",\"remains\":\"1000\",\"currency\":\"USD\"}");
	buf_free(&out);
}

static void
test_refill_cancel_shapes(void **state)
{
	struct orders_item it[2];
	struct orders_ids res = {0, 1, it};
	struct buf out;

	buf_init(&out, 1 << 20);
	memset(it, 0, sizeof(it));
	it[0].id = 5;
	it[0].refill = 77;
	reply_refill(&out, &res);
	want(&out, "{\"refill\":\"77\"}");
	it[0].refill = 0;
	it[0].why = ORDERS_ERR_NOTFOUND;
	reply_refill(&out, &res);
	want(&out, "{\"error\":\"Incorrect order ID\"}");
	res.multi = 1;
	res.n = 2;
	it[0].refill = 77;
	it[1].id = 6;
	it[1].why = ORDERS_ERR_TEXT;
	it[1].text = "This order is not eligible for refill";
	reply_refill(&out, &res);
	want(&out, "[{\"order\":5,\"refill\":77},{\"order\":6,\"refill\":"
	           "{\"error\":\"This order is not eligible for refill\"}}]");

	memset(it, 0, sizeof(it));
	res.multi = 0;
	res.n = 1;
	it[0].id = 77;
	it[0].ok = 1;
	snprintf(it[0].status, sizeof(it[0].status), "Completed");
	reply_refill_status(&out, &res);
	want(&out, "{\"status\":\"Completed\"}");
	it[0].ok = 0;
	it[0].why = ORDERS_ERR_NOTFOUND;
	reply_refill_status(&out, &res);
	want(&out, "{\"error\":\"Refill not found\"}");
	res.multi = 1;
	res.n = 2;
	it[1].id = 78;
	it[1].ok = 1;
	snprintf(it[1].status, sizeof(it[1].status), "Pending");
	it[0].why = ORDERS_ERR_INTERNAL;
	reply_refill_status(&out, &res);
	want(&out, "[{\"refill\":77,\"status\":{\"error\":\"Internal error, "
	           "please try again later\"}},{\"refill\":78,\"status\":"
	           "\"Pending\"}]");

	/* cancel answers the list form, asked for or not */
	memset(it, 0, sizeof(it));
	res.multi = 0;
	res.n = 2;
	it[0].id = 5;
	it[0].ok = 1;
	it[1].id = 6;
	it[1].why = ORDERS_ERR_NOTFOUND;
	reply_cancel(&out, &res);
	want(&out, "[{\"order\":5,\"cancel\":1},{\"order\":6,\"cancel\":"
	           "{\"error\":\"Incorrect order ID\"}}]");
	buf_free(&out);
}

static void
test_add_shapes(void **state)
{
	struct buf out;

	buf_init(&out, 1 << 20);
	reply_add(&out, 123, ORDERS_ERR_NONE, NULL);
	want(&out, "{\"order\":123}");
	reply_add(&out, 0, ORDERS_ERR_FUNDS, NULL);
	want(&out, "{\"error\":\"Not enough funds on balance\"}");
	reply_add(&out, 0, ORDERS_ERR_REQUEST_ID, NULL);
	want(&out, "{\"error\":\"This request_id was already used for a "
	           "different order\"}");
	reply_add(&out, 0, ORDERS_ERR_INTERNAL, NULL);
	want(&out, "{\"error\":\"Internal error, please try again later\"}");
	reply_add(&out, 0, ORDERS_ERR_TEXT, "Incorrect link");
	want(&out, "{\"error\":\"Incorrect link\"}");
	buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_status_shapes),
	    cmocka_unit_test(test_refill_cancel_shapes),
	    cmocka_unit_test(test_add_shapes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
