/* test_store.c - the SQLite store: the contract suite (storetest.c), then
 * what is SQLite's own: durability refused, migrations, money.decimals
 * recorded, many processes racing on one file, the invariant check on
 * tampered rows. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>
#include <sqlite3.h>
#include <unistd.h>

#include "auth.h"
#include "log.h"
#include "money.h"
#include "store.h"
#include "store_sqlite.h"
#include "storetest.h"

/* test_sqlite_durable's pipe that holds the sync thread's fdatasync. */
static int hold_rd = -1, hold_wr = -1;

/* Begins with the store, as the contract suite wants (storetest.h). */
struct fixture {
	struct store *st;
	char dir[64];
	char path[128];
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/pmx-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/test.db", f->dir);
	f->st = store_sqlite_open(f->path, 5);
	if (f->st == NULL)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[256];

	/* test_sqlite_durable failed with its sync held: let it go. */
	if (hold_wr >= 0) {
		hold_rd = -1;
		if (write(hold_wr, "x", 1) != 1)
			return -1;
	}
	store_close(f->st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* Many processes race order_create on one balance (storetest.c), each
 * with its own connection to the file. */
static struct store *
open_path(void *path)
{
	return store_sqlite_open(path, 5);
}

/* Payments with the same references from many processes at once: each
 * credited once (storetest_admin.c). */
static void
test_concurrent_payments(void **state)
{
	struct fixture *f = *state;

	race_payments(open_path, f->path, f->st);
}

static void
test_concurrent_debit(void **state)
{
	struct fixture *f = *state;
	int64_t got_orders, cid;
	money_t got_charged;
	sqlite3 *db;
	sqlite3_stmt *q;

	cid = race_debit(open_path, f->path, f->st, &got_orders, &got_charged);

	/* the store agrees with what the clients saw */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_prepare_v2(db,
	                       "SELECT COUNT(*), SUM(charge) FROM orders"
	                       " WHERE customer_id = ?1",
	                       -1, &q, NULL),
	    SQLITE_OK);
	sqlite3_bind_int64(q, 1, cid);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int64(q, 0), got_orders);
	assert_int_equal(sqlite3_column_int64(q, 1), got_charged);
	sqlite3_finalize(q);
	sqlite3_close(db);
	assert_int_equal(violations(f->st), 0);
}

/* check must see each kind of damage (a test that cannot fail is a
 * defect). */
static void
test_check_detects(void **state)
{
	struct fixture *f = *state;
	int64_t cid = add_customer(f->st, "fred", "5");
	struct order_new o = new_order(cid, "1");
	sqlite3 *db;
	int64_t id;

	assert_int_equal(store_order_create(f->st, &o, &id), STORE_OK);
	assert_int_equal(violations(f->st), 0);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	/* a final Canceled order without its refund */
	assert_int_equal(sqlite3_exec(db,
	                              "UPDATE orders SET state = 'canceled'",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	assert_int_equal(violations(f->st), 1);
	/* a Partial order: refund must be floor(charge x remains / qty) */
	assert_int_equal(sqlite3_exec(db,
	                              "UPDATE orders SET state = 'partial',"
	                              " remains = 157",
	                              NULL, NULL, NULL),
	                 SQLITE_OK);
	assert_int_equal(violations(f->st), 1);
	/* the exact refund (1 x 157 / 1000 = 0.157) satisfies it */
	assert_int_equal(
	    sqlite3_exec(db,
	                 "INSERT INTO ledger (customer_id, kind, amount,"
	                 " order_id, created_at)"
	                 " SELECT customer_id, 'refund', 15700000, id, 0"
	                 " FROM orders;"
	                 "UPDATE orders SET refunded = 15700000;"
	                 "UPDATE customers SET balance = balance + 15700000",
	                 NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(violations(f->st), 0);
	/* a second refund is refused by the schema itself */
	assert_int_not_equal(
	    sqlite3_exec(db,
	                 "INSERT INTO ledger (customer_id, kind,"
	                 " amount, order_id, created_at)"
	                 " SELECT customer_id, 'refund', 1, id, 0"
	                 " FROM orders",
	                 NULL, NULL, NULL),
	    SQLITE_OK);
	/* a balance that disagrees with its ledger */
	assert_int_equal(
	    sqlite3_exec(db, "UPDATE customers SET balance = balance + 1", NULL,
	                 NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(violations(f->st), 1);
	sqlite3_close(db);
}

static void
test_refuses_non_durable(void **state)
{
	struct fixture *f = *state;
	char path[160];
	struct store *st;

	/* :memory: cannot be WAL: the store refuses it */
	st = store_sqlite_open(":memory:", 5);
	assert_null(st);
	/* a path in a missing directory */
	snprintf(path, sizeof(path), "%s/missing/x.db", f->dir);
	assert_null(store_sqlite_open(path, 5));
}

/* The refund rule in the upstream's unit (values worked out by hand). */
static void
test_refund_rule(void **state)
{
	static const struct {
		int final;
		const char *charge;
		int64_t upq, remains;
		const char *want;
		int rc;
	} v[] = {
	    /* drip-feed 500000 x 10 runs: 2,500,000 of 5,000,000 left */
	    {ORDER_PARTIAL, "6250", 5000000, 2500000, "3125", 0},
	    /* Subscriptions max 100, charged for 10 posts: 50 left */
	    {ORDER_PARTIAL, "2.5", 100, 50, "1.25", 0},
	    /* floor(0.27819 x 157 / 1000) = 0.04367583 -> 0.04367 */
	    {ORDER_PARTIAL, "0.27819", 1000, 157, "0.04367", 0},
	    {ORDER_PARTIAL, "1", 3, 1, "0.33333", 0},
	    {ORDER_PARTIAL, "1", 3, 9, "1", 0},        /* clamped */
	    {ORDER_PARTIAL, "1", 3, 0, "0", 0},
	    {ORDER_PARTIAL, "1", 3, -1, "0", -1},      /* unknown */
	    {ORDER_PARTIAL, "1", 0, 1, "0", -1},       /* no unit */
	    {ORDER_COMPLETED, "1", 3, 2, "0", 0},
	    {ORDER_CANCELED, "0.7", 3, 2, "0.7", 0},
	    {ORDER_REFUNDED, "0.7", 3, 2, "0.7", 0},
	    {ORDER_REJECTED, "0.7", 3, 2, "0.7", 0},
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		money_t got = 0;

		assert_int_equal(store_refund_for(5, v[i].final, M(v[i].charge),
		                                  v[i].upq, v[i].remains, &got),
		                 v[i].rc);
		if (v[i].rc == 0 && got != M(v[i].want))
			fail_msg("case %zu: refund %lld, want %s", i,
			         (long long)got, v[i].want);
	}
}

/* Schema 2 -> 3: open orders get the upstream's unit (drip-feed quantity x
 * runs, Subscriptions max), settled ones keep the unit they were settled
 * in, so check holds before and after. */
static void
test_migrate_upstream_quantity(void **state)
{
	struct fixture *f = *state;
	int64_t cid = add_customer(f->st, "mig", "100");
	struct order_new v[3];
	enum store_result res[3];
	int64_t ids[3];
	struct order o;
	char *err = NULL;
	sqlite3 *db;
	int rc;

	v[0] = new_order(cid, "1");
	v[0].quantity = 500;
	v[0].runs = 10;
	v[0].upstream_quantity = 5000;
	v[1] = new_order(cid, "1");
	v[1].type = "Subscriptions";
	v[1].quantity = 1000;
	v[1].upstream_quantity = 100;
	v[1].fields = "{\"username\":\"u\",\"min\":\"50\",\"max\":\"100\","
	              "\"posts\":\"10\",\"delay\":\"0\"}";
	v[2] = v[0];
	v[2].sending = 1;
	assert_int_equal(store_order_create_many(f->st, v, 3, res, ids),
	                 STORE_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(res[i], STORE_OK);
	/* the third settled Partial the old way (against quantity 500) */
	assert_int_equal(store_order_active(f->st, ids[2], "u3", 0), STORE_OK);
	store_close(f->st);

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	rc = sqlite3_exec(db,
	                 "UPDATE orders SET state = 'partial', remains = 250,"
	                 " refunded = 50000000 WHERE upstream_order = 'u3';"
	                 "INSERT INTO ledger (customer_id, kind, amount,"
	                 " order_id, created_at) SELECT customer_id, 'refund',"
	                 " 50000000, id, 0 FROM orders WHERE upstream_order ="
	                 " 'u3';"
	                 "UPDATE customers SET balance = balance + 50000000;"
	                 "ALTER TABLE orders DROP COLUMN upstream_quantity;"
	                 "DROP TABLE meta;"
	                 /* and what version 4 added */
	                 "DROP TABLE admin_keys; DROP TABLE audit;"
	                 "DROP INDEX ledger_external; DROP INDEX ledger_order;"
	                 "DROP INDEX orders_service; DROP INDEX orders_created;"
	                 "ALTER TABLE ledger DROP COLUMN method;"
	                 "ALTER TABLE ledger DROP COLUMN external_id;"
	                 "ALTER TABLE ledger DROP COLUMN actor;"
	                 /* and version 5 */
	                 "DROP TABLE webhook_events; DROP TABLE webhooks;"
	                 /* and version 8 (the same-link guard) */
	                 "DROP INDEX orders_open_link;"
	                 "DROP INDEX orders_open_link_up;"
	                 "ALTER TABLE orders DROP COLUMN link_key;"
	                 "ALTER TABLE orders DROP COLUMN link_key_up;"
	                 /* and version 6 */
	                 "DROP TABLE customer_rates; DROP TABLE group_members;"
	                 "DROP TABLE customer_groups; DROP TABLE generations;"
	                 "ALTER TABLE orders DROP COLUMN sent_at;"
	                 "ALTER TABLE orders DROP COLUMN accepted_at;"
	                 "ALTER TABLE orders DROP COLUMN progress_at;"
	                 "ALTER TABLE orders DROP COLUMN settled_at;"
	                 /* and version 7 */
	                 "DROP TABLE price_changes;"
	                 "PRAGMA user_version = 2;",
	                 NULL, NULL, &err);
	if (rc != SQLITE_OK)
		fail_msg("downgrade: %s", err);
	sqlite3_close(db);

	f->st = store_sqlite_open(f->path, 5);
	assert_non_null(f->st);
	assert_int_equal(store_order_get(f->st, ids[0], &o), STORE_OK);
	assert_int_equal(o.upstream_quantity, 5000);
	assert_int_equal(store_order_get(f->st, ids[1], &o), STORE_OK);
	assert_int_equal(o.upstream_quantity, 100);
	assert_int_equal(store_order_get(f->st, ids[2], &o), STORE_OK);
	assert_int_equal(o.upstream_quantity, 500);
	assert_int_equal(violations(f->st), 0);
}

static void
state_of(const char *path, int64_t id, char *out, size_t size)
{
	sqlite3 *db;
	sqlite3_stmt *q;

	out[0] = '\0';
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
	                                    "SELECT state || '/' ||"
	                                    " COALESCE(upstream_status, '')"
	                                    " FROM orders WHERE id = ?",
	                                    -1, &q, NULL),
	                 SQLITE_OK);
	sqlite3_bind_int64(q, 1, id);
	if (sqlite3_step(q) == SQLITE_ROW)
		snprintf(out, size, "%s", (const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	sqlite3_close(db);
}

/* A group (the poller's answers of one reply): the writes are one
 * transaction, invisible to another connection until the group's end; a
 * write that fails inside is undone alone; writes after the group commit
 * on their own again. */
static void
test_sqlite_group(void **state)
{
	struct fixture *f = *state;
	int64_t c = add_customer(f->st, "gina", "10");
	int64_t a = create_active(f->st, c, "1", "G-1");
	int64_t b = create_active(f->st, c, "1", "G-2");
	int64_t d = create_active(f->st, c, "1", "G-3");
	struct order_update done = {"Completed", 10, 0, -1, ORDER_COMPLETED, 0};
	struct order_update going = {"In progress", 10, 50, -1, -1, 1};
	char st[64];

	assert_int_equal(store_group_begin(f->st), 0);
	assert_int_equal(store_group_begin(f->st), -1); /* not nested */
	assert_int_equal(store_order_status(f->st, a, &done), STORE_OK);
	assert_int_equal(store_order_status(f->st, b, &going), STORE_OK);
	/* settled already: refused, and the group goes on */
	assert_int_not_equal(store_order_status(f->st, a, &done), STORE_OK);
	assert_int_not_equal(store_order_status(f->st, 999999, &going),
	                     STORE_OK);
	state_of(f->path, a, st, sizeof(st));
	assert_string_equal(st, "active/"); /* not yet */
	assert_int_equal(store_group_end(f->st), 0);
	assert_int_equal(store_group_end(f->st), -1);
	state_of(f->path, a, st, sizeof(st));
	assert_string_equal(st, "completed/Completed");
	state_of(f->path, b, st, sizeof(st));
	assert_string_equal(st, "active/In progress");
	/* on its own again: visible at once */
	assert_int_equal(store_order_status(f->st, d, &done), STORE_OK);
	state_of(f->path, d, st, sizeof(st));
	assert_string_equal(st, "completed/Completed");
	assert_int_equal(violations(f->st), 0);
}

/* The sync thread's test hook: counts syncs, and each waits for a byte
 * on hold_rd while the test holds the disk. */
static int syncs;

static void
held_sync(void)
{
	char b;

	__atomic_add_fetch(&syncs, 1, __ATOMIC_SEQ_CST);
	if (hold_rd >= 0 && read(hold_rd, &b, 1) != 1)
		abort();
}

static void
note_done(void *arg)
{
	static int order;

	*(int *)arg = ++order;
}

/* Attached to a loop, the order group's commit is synced on a thread: its
 * callbacks wait for that sync (held here) while the loop goes on, run in
 * the order they were asked, and one sync may cover several; off the loop,
 * durable_now syncs and runs them at once. */
static void
test_sqlite_durable(void **state)
{
	struct fixture *f = *state;
	struct event_base *base = event_base_new();
	int64_t c = add_customer(f->st, "hana", "10");
	struct order_new o[2] = {new_order(c, "1"), new_order(c, "2")};
	enum store_result res[2];
	int64_t ids[2];
	int p[2], first = 0, second = 0, third = 0, spins;
	char st[64];

	assert_int_equal(pipe(p), 0);
	hold_rd = p[0];
	hold_wr = p[1]; /* teardown lets a failed test's sync go */
	store_sqlite_sync_set_test_hook(held_sync);
	assert_int_equal(store_attach(f->st, base), 0);
	store_order_create_many(f->st, o, 2, res, ids);
	assert_int_equal(res[0], STORE_OK);
	assert_int_equal(res[1], STORE_OK);
	store_durable(f->st, note_done, &first);
	store_durable(f->st, note_done, &second);
	/* Once the thread is inside its sync, the loop turns and nobody is
	 * told. */
	for (spins = 0; __atomic_load_n(&syncs, __ATOMIC_SEQ_CST) == 0 &&
	                spins < 10000;
	     spins++)
		usleep(1000);
	assert_int_equal(__atomic_load_n(&syncs, __ATOMIC_SEQ_CST), 1);
	for (int i = 0; i < 50; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(first, 0);
	assert_int_equal(second, 0);
	/* Committed all the same: visible to another connection. */
	state_of(f->path, ids[1], st, sizeof(st));
	assert_string_equal(st, "queued/");
	/* The disk answers (as often as asked): both, in order. */
	assert_int_equal(write(p[1], "xxxx", 4), 4);
	for (spins = 0; second == 0 && spins < 1000; spins++)
		event_base_loop(base, EVLOOP_ONCE);
	assert_true(first > 0);
	assert_int_equal(second, first + 1);
	/* Off the loop (shutting down): synced and called at once. */
	hold_rd = -1;
	store_durable(f->st, note_done, &third);
	assert_int_equal(third, 0);
	store_durable_now(f->st);
	assert_int_equal(third, second + 1);
	assert_int_equal(violations(f->st), 0);
	store_close(f->st);
	f->st = NULL;
	store_sqlite_sync_set_test_hook(NULL);
	event_base_free(base);
	hold_wr = -1;
	close(p[0]);
	close(p[1]);
}

/* money.decimals is recorded at the first open: another value is refused
 * (balances are multiples of 10^-decimals), the same one opens again. */
static void
test_decimals_recorded(void **state)
{
	struct fixture *f = *state;

	store_close(f->st);
	f->st = store_sqlite_open(f->path, 2);
	assert_null(f->st);
	f->st = store_sqlite_open(f->path, 8);
	assert_null(f->st);
	f->st = store_sqlite_open(f->path, 5);
	assert_non_null(f->st);
}

int
main(void)
{
	const struct CMUnitTest own[] = {
	    cmocka_unit_test(test_refund_rule),
	    cmocka_unit_test_setup_teardown(test_decimals_recorded, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_migrate_upstream_quantity,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_debit, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_payments, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_check_detects, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_refuses_non_durable, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_sqlite_group, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sqlite_durable, setup,
	                                    teardown),
	};
	struct CMUnitTest tests[STORETEST_CONTRACT_MAX + 8];
	size_t n;

	n = storetest_contract(tests, STORETEST_CONTRACT_MAX, setup, teardown);
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		tests[n++] = own[i];
	log_init("test_store", LOG_LEVEL_ERROR);
	return _cmocka_run_group_tests("test_store", tests, n, NULL, NULL);
}
