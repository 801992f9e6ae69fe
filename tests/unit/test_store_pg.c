/* test_store_pg.c - the PostgreSQL store: customers, the ledger, the debit
 * primitive (many processes racing on one balance and on one request_id),
 * claims that skip rows another transaction holds, settlement exactly once
 * between processes, and the invariant check; before them the contract
 * suite (storetest.c) every backend passes.
 *
 * PMX_PG is a libpq conninfo of a server where the test may create
 * databases ("host=127.0.0.1 port=55432 user=panelmux dbname=postgres");
 * without it every test is skipped.  Each test gets a fresh database. */
#include <sys/wait.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "auth.h"
#include "dialect.h"
#include "log.h"
#include "money.h"
#include "store.h"
#include "storetest.h"
#include "xmalloc.h"

static const char *pg_base; /* PMX_PG */
static int db_seq;

/* Begins with the store, as the contract suite wants (storetest.h). */
struct fixture {
	struct store *st;
	char dbname[64];
	char conninfo[1024];
};

static void
quiet_notice(void *arg, const char *message)
{
}

/* PMX_PG with its dbname replaced by DBNAME. */
static void
conninfo_for(const char *dbname, char *out, size_t size)
{
	PQconninfoOption *opts = PQconninfoParse(pg_base, NULL);
	size_t off = 0;

	assert_non_null(opts);
	out[0] = '\0';
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL || strcmp(o->keyword, "dbname") == 0)
			continue;
		off +=
		    (size_t)snprintf(out + off, size - off, "%s='", o->keyword);
		for (const char *p = o->val; *p != '\0' && off + 4 < size;
		     p++) {
			if (*p == '\'' || *p == '\\')
				out[off++] = '\\';
			out[off++] = *p;
		}
		off += (size_t)snprintf(out + off, size - off, "' ");
	}
	snprintf(out + off, size - off, "dbname='%s'", dbname);
	PQconninfoFree(opts);
}

static PGconn *
raw_connect(const char *conninfo)
{
	PGconn *c = PQconnectdb(conninfo);

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("connect: %s", PQerrorMessage(c));
	PQsetNoticeProcessor(c, quiet_notice, NULL);
	return c;
}

/* Run SQL; 0, or -1 if it failed. */
static int
raw_try(PGconn *c, const char *sql)
{
	PGresult *res = PQexec(c, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK ||
	         PQresultStatus(res) == PGRES_TUPLES_OK;

	PQclear(res);
	return ok ? 0 : -1;
}

static void
raw_exec(PGconn *c, const char *sql)
{
	if (raw_try(c, sql) != 0)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
}

/* The first column of the first row of SQL as an integer. */
static int64_t
raw_int(PGconn *c, const char *sql)
{
	PGresult *res = PQexec(c, sql);
	int64_t v;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return v;
}

static void
admin_exec(const char *sql)
{
	PGconn *c = raw_connect(pg_base);

	raw_exec(c, sql);
	PQfinish(c);
}

static void
db_create(const char *name)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)",
	         name);
	admin_exec(sql);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
	admin_exec(sql);
}

static void
db_drop(const char *name)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)",
	         name);
	admin_exec(sql);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dbname, sizeof(f->dbname), "pmx_unit_%ld_%d",
	         (long)getpid(), db_seq++);
	db_create(f->dbname);
	conninfo_for(f->dbname, f->conninfo, sizeof(f->conninfo));
	f->st = store_pg_open(f->conninfo, 5, 4);
	if (f->st == NULL)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->st);
	db_drop(f->dbname);
	free(f);
	return 0;
}

/* Many processes race order_create on one balance (storetest.c), each
 * with its own pool. */
static struct store *
open_conninfo(void *conninfo)
{
	return store_pg_open(conninfo, 5, 2);
}

/* Payments with the same references from many processes at once: each
 * credited once (storetest_admin.c). */
static void
test_concurrent_payments(void **state)
{
	struct fixture *f = *state;

	race_payments(open_conninfo, f->conninfo, f->st);
}

static void
test_concurrent_debit(void **state)
{
	struct fixture *f = *state;
	int64_t got_orders, cid;
	money_t got_charged;
	char sql[256];
	PGconn *c;

	cid = race_debit(open_conninfo, f->conninfo, f->st, &got_orders,
	                 &got_charged);

	/* the store agrees with what the clients saw */
	c = raw_connect(f->conninfo);
	snprintf(sql, sizeof(sql),
	         "SELECT COUNT(*) FROM orders WHERE customer_id = %lld",
	         (long long)cid);
	assert_int_equal(raw_int(c, sql), got_orders);
	snprintf(sql, sizeof(sql),
	         "SELECT SUM(charge) FROM orders WHERE customer_id = %lld",
	         (long long)cid);
	assert_int_equal(raw_int(c, sql), got_charged);
	PQfinish(c);
	assert_int_equal(violations(f->st), 0);
}

/* Processes send the same requests at once: each request is charged once
 * and every process learns the same order ID for it. */
#define REQ_PROCS 6
#define REQ_COUNT 30

static void
test_concurrent_request(void **state)
{
	struct fixture *f = *state;
	int64_t cid = add_customer(f->st, "hank", "100");
	int fds[2];
	pid_t pids[REQ_PROCS];
	int64_t oks = 0, idsum = -1;
	PGconn *c;

	assert_int_equal(pipe(fds), 0);
	for (int p = 0; p < REQ_PROCS; p++) {
		pids[p] = fork();
		assert_true(pids[p] >= 0);
		if (pids[p] == 0) {
			struct store *st = store_pg_open(f->conninfo, 5, 1);
			int64_t n = 0, sum = 0, id;
			uint8_t h[AUTH_HASH_LEN];

			close(fds[0]);
			if (st == NULL)
				_exit(3);
			auth_key_hash("same", 4, h);
			for (int i = 0; i < REQ_COUNT; i++) {
				char req[32];
				struct order_new o = new_order(cid, "0.1");
				enum store_result r;

				snprintf(req, sizeof(req), "r-%d", i);
				o.request_id = req;
				o.request_hash = h;
				r = store_order_create(st, &o, &id);
				if (r == STORE_OK)
					n++;
				else if (r != STORE_EXISTS)
					_exit(4);
				sum += id;
			}
			store_close(st);
			/* One write: the pair arrives whole (<= PIPE_BUF),
			 * never interleaved with another process's. */
			int64_t pair[2] = {n, sum};

			if (write(fds[1], pair, sizeof(pair)) != sizeof(pair))
				_exit(5);
			_exit(0);
		}
	}
	close(fds[1]);
	for (int p = 0; p < REQ_PROCS; p++) {
		int64_t n, sum;
		int status;
		int64_t pair[2];

		assert_int_equal(read(fds[0], pair, sizeof(pair)),
		                 sizeof(pair));
		n = pair[0];
		sum = pair[1];
		oks += n;
		if (idsum < 0)
			idsum = sum;
		assert_int_equal(sum, idsum); /* the same IDs everywhere */
		assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	close(fds[0]);
	assert_int_equal(oks, REQ_COUNT);
	assert_int_equal(balance_of(f->st, "hank"),
	                 M("100") - REQ_COUNT * M("0.1"));
	c = raw_connect(f->conninfo);
	assert_int_equal(raw_int(c, "SELECT COUNT(*) FROM orders"), REQ_COUNT);
	assert_int_equal(raw_int(c, "SELECT COALESCE(SUM(id), 0) FROM orders"),
	                 idsum);
	PQfinish(c);
	assert_int_equal(violations(f->st), 0);
}

/* Groups debiting two customers in opposite orders deadlock in the server;
 * the loser's transaction runs again and every order is still charged
 * exactly once. */
#define CROSS_PROCS 2
#define CROSS_ROUNDS 25

static void
test_cross_groups(void **state)
{
	struct fixture *f = *state;
	int64_t a = add_customer(f->st, "quin", "100");
	int64_t b = add_customer(f->st, "rosa", "100");
	pid_t pids[CROSS_PROCS];

	for (int p = 0; p < CROSS_PROCS; p++) {
		pids[p] = fork();
		assert_true(pids[p] >= 0);
		if (pids[p] == 0) {
			struct store *st = store_pg_open(f->conninfo, 5, 1);
			struct order_new v[2];
			enum store_result res[2];
			int64_t ids[2];

			if (st == NULL)
				_exit(3);
			v[p] = new_order(a, "0.5");
			v[1 - p] = new_order(b, "0.5");
			for (int i = 0; i < CROSS_ROUNDS; i++)
				if (store_order_create_many(st, v, 2, res,
				                            ids) != STORE_OK ||
				    res[0] != STORE_OK || res[1] != STORE_OK)
					_exit(4);
			store_close(st);
			_exit(0);
		}
	}
	for (int p = 0; p < CROSS_PROCS; p++) {
		int status;

		assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(balance_of(f->st, "quin"),
	                 M("100") - CROSS_PROCS * CROSS_ROUNDS * M("0.5"));
	assert_int_equal(balance_of(f->st, "rosa"),
	                 M("100") - CROSS_PROCS * CROSS_ROUNDS * M("0.5"));
	assert_int_equal(violations(f->st), 0);
}

static void
test_claim_skip_locked(void **state)
{
	struct fixture *f = *state;
	int64_t cid = add_customer(f->st, "ivan", "100");
	struct order_filter flt = {ORDER_QUEUED, 0, NULL, 1, 100};
	struct seen s = {0};
	int64_t ids[10];
	struct order o;
	char sql[256];
	PGconn *c;

	for (int i = 0; i < 10; i++)
		ids[i] = create_order(f->st, cid, "0.1");

	/* another instance holds two of them */
	c = raw_connect(f->conninfo);
	raw_exec(c, "BEGIN");
	snprintf(sql, sizeof(sql),
	         "SELECT id FROM orders WHERE id IN (%lld, %lld) FOR UPDATE",
	         (long long)ids[2], (long long)ids[5]);
	raw_exec(c, sql);

	assert_int_equal(store_order_claim(f->st, &flt, 5000, see_order, &s),
	                 8);
	assert_int_equal(s.n, 8);
	assert_false(seen_has(&s, ids[2]));
	assert_false(seen_has(&s, ids[5]));
	for (size_t i = 0; i < s.n; i++) {
		assert_int_equal(s.polled[i], 0); /* as it was, like SQLite */
		if (i > 0)
			assert_true(s.ids[i] > s.ids[i - 1]); /* oldest first */
	}
	assert_int_equal(store_order_get(f->st, ids[0], &o), STORE_OK);
	assert_int_equal(o.polled_at, 5000);
	assert_int_equal(store_order_get(f->st, ids[2], &o), STORE_OK);
	assert_int_equal(o.polled_at, 0);
	/* claimed ones are not due, held ones are still held */
	s.n = 0;
	assert_int_equal(store_order_claim(f->st, &flt, 6000, see_order, &s),
	                 0);
	raw_exec(c, "COMMIT");
	PQfinish(c);
	assert_int_equal(store_order_claim(f->st, &flt, 6000, see_order, &s),
	                 2);
	assert_int_equal(s.ids[0], ids[2]);
	assert_int_equal(s.ids[1], ids[5]);

	/* the limit, oldest poll first */
	assert_int_equal(store_order_polled(f->st, ids, 10, 0), STORE_OK);
	assert_int_equal(store_order_polled(f->st, &ids[0], 1, 70), STORE_OK);
	flt.polled_before = 100;
	flt.limit = 3;
	s.n = 0;
	assert_int_equal(store_order_claim(f->st, &flt, 7000, see_order, &s),
	                 3);
	assert_int_equal(s.ids[0], ids[1]);
	assert_int_equal(s.ids[1], ids[2]);
	assert_int_equal(s.ids[2], ids[3]);
	flt.limit = 10;
	s.n = 0;
	assert_int_equal(store_order_claim(f->st, &flt, 7000, see_order, &s),
	                 7);
	assert_int_equal(s.ids[6], ids[0]); /* polled at 70: the newest */
	assert_int_equal(s.polled[6], 70);
	/* filters */
	flt.polled_before = 8000;
	flt.upstream = "beta";
	assert_int_equal(store_order_claim(f->st, &flt, 9000, see_order, &s),
	                 0);
	flt.upstream = "alpha";
	flt.customer_id = cid + 1;
	assert_int_equal(store_order_claim(f->st, &flt, 9000, see_order, &s),
	                 0);
	flt.customer_id = cid;
	flt.state = ORDER_ACTIVE;
	assert_int_equal(store_order_claim(f->st, &flt, 9000, see_order, &s),
	                 0);
	flt.limit = 0;
	assert_int_equal(store_order_claim(f->st, &flt, 9000, see_order, &s),
	                 -1);
	assert_int_equal(violations(f->st), 0);
}

/* Processes claim from one pool of due orders at once: no order is
 * claimed twice and none is left. */
#define CLAIM_PROCS 4
#define CLAIM_ORDERS 60

static void
test_concurrent_claim(void **state)
{
	struct fixture *f = *state;
	int64_t cid = add_customer(f->st, "jane", "100");
	int fds[2];
	pid_t pids[CLAIM_PROCS];
	int64_t ids[CLAIM_ORDERS];
	int got[CLAIM_ORDERS] = {0};
	int64_t id;
	int total = 0;

	for (int i = 0; i < CLAIM_ORDERS; i++)
		ids[i] = create_order(f->st, cid, "0.1");
	assert_int_equal(pipe(fds), 0);
	for (int p = 0; p < CLAIM_PROCS; p++) {
		pids[p] = fork();
		assert_true(pids[p] >= 0);
		if (pids[p] == 0) {
			struct store *st = store_pg_open(f->conninfo, 5, 1);
			struct order_filter flt = {ORDER_QUEUED, 0, NULL, 1, 3};
			struct seen s;
			int64_t n;

			close(fds[0]);
			if (st == NULL)
				_exit(3);
			do {
				s.n = 0;
				n = store_order_claim(st, &flt, 1000, see_order,
				                      &s);
				if (n < 0)
					_exit(4);
				for (size_t i = 0; i < s.n; i++)
					if (write(fds[1], &s.ids[i],
					          sizeof(s.ids[i])) !=
					    sizeof(s.ids[i]))
						_exit(5);
			} while (n > 0);
			store_close(st);
			_exit(0);
		}
	}
	close(fds[1]);
	while (read(fds[0], &id, sizeof(id)) == sizeof(id)) {
		int k = -1;

		for (int i = 0; i < CLAIM_ORDERS; i++)
			if (ids[i] == id)
				k = i;
		assert_true(k >= 0);
		got[k]++;
		total++;
	}
	close(fds[0]);
	for (int p = 0; p < CLAIM_PROCS; p++) {
		int status;

		assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(total, CLAIM_ORDERS);
	for (int i = 0; i < CLAIM_ORDERS; i++)
		assert_int_equal(got[i], 1);
}

static void
test_status_settles_once(void **state)
{
	struct fixture *f = *state;
	int64_t cid = add_customer(f->st, "liam", "5");
	int64_t id = create_active(f->st, cid, "1", "U-1");
	struct order_update progress = {"In progress", 10, 500, -1, -1, 0};
	struct order_update partial = {"Partial", -1, 157, M("0.4"),
	                               ORDER_PARTIAL, 0};
	struct order_update cancel = {"Canceled", -1, -1, -1, ORDER_CANCELED,
	                              0};
	struct order_update nofinal = {"Partial", -1, -1, -1, ORDER_PARTIAL,
	                               0};
	pid_t pids[4];
	money_t totals[4];
	struct order o;
	int oks = 0;
	int64_t id2, id3;

	assert_int_equal(store_order_status(f->st, id, &progress), STORE_OK);
	assert_int_equal(store_order_get(f->st, id, &o), STORE_OK);
	assert_int_equal(o.state, ORDER_ACTIVE);
	assert_int_equal(o.start_count, 10);
	assert_int_equal(o.remains, 500);
	assert_int_equal(o.cost, M("0.01"));
	assert_string_equal(o.upstream_status, "In progress");
	assert_int_equal(store_order_status(f->st, id, &partial), STORE_OK);
	assert_int_equal(store_order_get(f->st, id, &o), STORE_OK);
	assert_int_equal(o.state, ORDER_PARTIAL);
	assert_int_equal(o.refunded, M("0.157"));
	assert_int_equal(o.start_count, 10);
	assert_int_equal(o.cost, M("0.4"));
	assert_string_equal(o.upstream_status, "Partial");
	assert_int_equal(balance_of(f->st, "liam"), M("4.157"));
	/* final: never changed again */
	assert_int_equal(store_order_status(f->st, id, &partial),
	                 STORE_CONFLICT);
	assert_int_equal(store_order_status(f->st, id, &cancel),
	                 STORE_CONFLICT);
	assert_int_equal(store_order_status(f->st, id, &progress),
	                 STORE_CONFLICT);
	assert_int_equal(balance_of(f->st, "liam"), M("4.157"));
	assert_int_equal(store_ledger_totals(f->st, totals), STORE_OK);
	assert_int_equal(totals[LEDGER_DEPOSIT], M("5"));
	assert_int_equal(totals[LEDGER_CHARGE], M("-1"));
	assert_int_equal(totals[LEDGER_REFUND], M("0.157"));

	/* a Partial without remains settles nothing */
	id2 = create_active(f->st, cid, "1", "U-2");
	assert_int_equal(store_order_status(f->st, id2, &nofinal), STORE_ERROR);
	assert_int_equal(store_order_get(f->st, id2, &o), STORE_OK);
	assert_int_equal(o.state, ORDER_ACTIVE);

	/* processes settle one order at once: one of them does */
	for (int p = 0; p < 4; p++) {
		pids[p] = fork();
		assert_true(pids[p] >= 0);
		if (pids[p] == 0) {
			struct store *st = store_pg_open(f->conninfo, 5, 1);
			enum store_result r;

			if (st == NULL)
				_exit(3);
			r = store_order_status(st, id2, &cancel);
			store_close(st);
			_exit(r == STORE_OK ? 0 : r == STORE_CONFLICT ? 1 : 2);
		}
	}
	for (int p = 0; p < 4; p++) {
		int status;

		assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
		assert_true(WIFEXITED(status));
		assert_true(WEXITSTATUS(status) <= 1);
		oks += WEXITSTATUS(status) == 0;
	}
	assert_int_equal(oks, 1);
	assert_int_equal(store_order_get(f->st, id2, &o), STORE_OK);
	assert_int_equal(o.state, ORDER_CANCELED);
	assert_int_equal(o.refunded, M("1"));
	assert_int_equal(balance_of(f->st, "liam"), M("4.157"));

	/* reject: queued or sending, refunded in full, once */
	id3 = create_order(f->st, cid, "0.5");
	assert_int_equal(store_order_reject(f->st, id3, "no route"), STORE_OK);
	assert_int_equal(store_order_reject(f->st, id3, "no route"),
	                 STORE_CONFLICT);
	assert_int_equal(store_order_reject(f->st, id3 + 50, "x"),
	                 STORE_NOTFOUND);
	assert_int_equal(store_order_get(f->st, id3, &o), STORE_OK);
	assert_int_equal(o.state, ORDER_REJECTED);
	assert_string_equal(o.upstream_status, "no route");
	assert_int_equal(o.refunded, M("0.5"));
	assert_int_equal(store_order_reject(f->st, id, "late"), STORE_CONFLICT);
	/* resolve: only a sending order */
	id3 = create_order(f->st, cid, "0.5");
	assert_int_equal(store_order_resolve(f->st, id3, NULL), STORE_CONFLICT);
	assert_int_equal(store_order_sending(f->st, id3, 0, "alpha", 1, 0),
	                 STORE_OK);
	assert_int_equal(store_order_resolve(f->st, id3, NULL), STORE_OK);
	assert_int_equal(store_order_get(f->st, id3, &o), STORE_OK);
	assert_int_equal(o.state, ORDER_REJECTED);
	assert_int_equal(o.refunded, M("0.5"));
	id3 = create_order(f->st, cid, "0.5");
	assert_int_equal(store_order_sending(f->st, id3, 0, "alpha", 1, 0),
	                 STORE_OK);
	assert_int_equal(store_order_resolve(f->st, id3, "U-9"), STORE_OK);
	assert_int_equal(store_order_get(f->st, id3, &o), STORE_OK);
	assert_int_equal(o.state, ORDER_ACTIVE);
	assert_string_equal(o.upstream_order, "U-9");
	assert_int_equal(balance_of(f->st, "liam"), M("3.657"));
	assert_int_equal(violations(f->st), 0);
}

/* check must see each kind of damage (a test that cannot fail is a
 * defect). */
static void
test_check_detects(void **state)
{
	struct fixture *f = *state;
	int64_t cid = add_customer(f->st, "fred", "5");
	int64_t id = create_order(f->st, cid, "1");
	PGconn *c;

	(void)id;
	assert_int_equal(violations(f->st), 0);
	c = raw_connect(f->conninfo);
	/* a final Canceled order without its refund */
	raw_exec(c, "UPDATE orders SET state = 'canceled'");
	assert_int_equal(violations(f->st), 1);
	/* a Partial order: refund must be floor(charge x remains / qty) */
	raw_exec(c, "UPDATE orders SET state = 'partial', remains = 157");
	assert_int_equal(violations(f->st), 1);
	/* the exact refund (1 x 157 / 1000 = 0.157) satisfies it */
	raw_exec(c, "INSERT INTO ledger (customer_id, kind, amount,"
	            " order_id, created_at)"
	            " SELECT customer_id, 'refund', 15700000, id, 0"
	            " FROM orders");
	raw_exec(c, "UPDATE orders SET refunded = 15700000");
	raw_exec(c, "UPDATE customers SET balance = balance + 15700000");
	assert_int_equal(violations(f->st), 0);
	/* a second refund is refused by the schema itself */
	assert_int_equal(raw_try(c, "INSERT INTO ledger (customer_id, kind,"
	                            " amount, order_id, created_at)"
	                            " SELECT customer_id, 'refund', 1, id, 0"
	                            " FROM orders"),
	                 -1);
	/* so is a negative balance */
	assert_int_equal(raw_try(c, "UPDATE customers SET balance = -1"), -1);
	/* a balance that disagrees with its ledger */
	raw_exec(c, "UPDATE customers SET balance = balance + 1");
	assert_int_equal(violations(f->st), 1);
	/* an order's refunded column that disagrees with the ledger */
	raw_exec(c, "UPDATE orders SET refunded = 15700001");
	assert_int_equal(violations(f->st), 3);
	PQfinish(c);
}

static void
test_open(void **state)
{
	struct fixture *f = *state;
	char name[80], conninfo[1024];
	pid_t pids[4];
	struct store *st;
	PGconn *c;

	/* opening again migrates nothing */
	st = store_pg_open(f->conninfo, 5, 2);
	assert_non_null(st);
	assert_string_equal(st->ops->name, "postgres");
	assert_int_equal(store_blocking_calls(st), 0);
	store_close(st);
	c = raw_connect(f->conninfo);
	assert_int_equal(raw_int(c, "SELECT COUNT(*) FROM schema_version"), 1);
	assert_int_equal(raw_int(c, "SELECT version FROM schema_version"), 7);
	/* a schema from a newer panelmux is refused */
	raw_exec(c, "UPDATE schema_version SET version = 99");
	assert_null(store_pg_open(f->conninfo, 5, 2));
	raw_exec(c, "UPDATE schema_version SET version = 7");
	PQfinish(c);

	/* instances starting together on an empty database migrate once */
	snprintf(name, sizeof(name), "%s_race", f->dbname);
	db_create(name);
	conninfo_for(name, conninfo, sizeof(conninfo));
	for (int p = 0; p < 4; p++) {
		pids[p] = fork();
		assert_true(pids[p] >= 0);
		if (pids[p] == 0) {
			st = store_pg_open(conninfo, 5, 1);
			if (st == NULL)
				_exit(3);
			store_close(st);
			_exit(0);
		}
	}
	for (int p = 0; p < 4; p++) {
		int status;

		assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	c = raw_connect(conninfo);
	assert_int_equal(raw_int(c, "SELECT COUNT(*) FROM schema_version"), 1);
	PQfinish(c);
	db_drop(name);

	/* no server, or no sense */
	assert_null(
	    store_pg_open("host=127.0.0.1 port=1 connect_timeout=2", 5, 1));
	assert_null(store_pg_open("this is not a conninfo", 5, 1));
}

static void
test_skipped(void **state)
{
	skip();
}

int
main(void)
{
	const struct CMUnitTest own[] = {
	    cmocka_unit_test_setup_teardown(test_concurrent_debit, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_payments, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_request, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_cross_groups, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_claim_skip_locked, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_claim, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_status_settles_once, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_check_detects, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_open, setup, teardown),
	};
	struct CMUnitTest tests[STORETEST_CONTRACT_MAX + 8];
	size_t n;
	const struct CMUnitTest skipped[] = {
	    cmocka_unit_test(test_skipped),
	};

	log_init("test_store_pg", LOG_LEVEL_ERROR);
	pg_base = getenv("PMX_PG");
	if (pg_base == NULL || pg_base[0] == '\0') {
		printf("# test_store_pg: PMX_PG is not set: skipped\n");
		return cmocka_run_group_tests(skipped, NULL, NULL);
	}
	n = storetest_contract(tests, STORETEST_CONTRACT_MAX, setup, teardown);
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		tests[n++] = own[i];
	return _cmocka_run_group_tests("test_store_pg", tests, n, NULL, NULL);
}
