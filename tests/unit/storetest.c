/* storetest.c - see storetest.h: the helpers and the contract suite every
 * store backend passes (test_store.c: SQLite, test_store_pg.c: PostgreSQL). */
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

#include "auth.h"
#include "log.h"
#include "xmalloc.h"
#include "storetest.h"

money_t
M(const char *s)
{
	money_t v;

	if (money_parse(s, &v) != 0)
		fail_msg("bad money literal %s", s);
	return v;
}

int64_t
add_customer(struct store *st, const char *name, const char *funds)
{
	uint8_t h[AUTH_HASH_LEN];
	int64_t id;
	money_t bal;

	auth_key_hash(name, strlen(name), h);
	assert_int_equal(store_customer_add(st, name, h, &id), STORE_OK);
	if (funds != NULL)
		assert_int_equal(store_ledger_post(st, id, LEDGER_DEPOSIT,
		                                   M(funds), "test", &bal),
		                 STORE_OK);
	return id;
}

money_t
balance_of(struct store *st, const char *name)
{
	struct customer c;

	assert_int_equal(store_customer_by_name(st, name, &c), STORE_OK);
	return c.balance;
}

static void
count_violation(const char *what, void *arg)
{
	(*(int *)arg)++;
	print_message("# violation: %s\n", what);
}

int
violations(struct store *st)
{
	int n = 0;
	int rc = store_check(st, count_violation, &n);

	assert_int_equal(rc, n);
	return rc;
}

struct order_new
new_order(int64_t customer, const char *charge)
{
	struct order_new o;

	memset(&o, 0, sizeof(o));
	o.customer_id = customer;
	o.service_id = 1;
	o.type = "Default";
	o.quantity = 1000;
	o.upstream_quantity = 1000;
	o.rate = M(charge);
	o.charge = M(charge);
	o.fields = "{\"link\":\"https://example.com/x\"}";
	o.upstream = "alpha";
	o.upstream_service = 1448;
	return o;
}

/* One racing process: its tries, then (orders, sum) in one write, which
 * arrives whole (<= PIPE_BUF), never interleaved with another's. */
static void
race_child(struct store *(*open)(void *), void *arg, int64_t cid, int p, int fd)
{
	struct store *st = open(arg);
	int64_t n = 0, id;
	money_t sum = 0;
	unsigned seed = (unsigned)p * 7919u + 1;

	if (st == NULL)
		_exit(3);
	for (int i = 0; i < RACE_TRIES; i++) {
		/* charges from 0.00001 to about 1.5 */
		char amount[32];
		struct order_new o;
		enum store_result r;

		snprintf(amount, sizeof(amount), "%u.%05u", rand_r(&seed) % 2,
		         rand_r(&seed) % 50000 + 1);
		o = new_order(cid, amount);
		r = store_order_create(st, &o, &id);
		if (r == STORE_OK) {
			n++;
			sum += o.charge;
		} else if (r != STORE_NOFUNDS)
			_exit(4);
	}
	store_close(st);
	int64_t pair[2] = {n, sum};

	if (write(fd, pair, sizeof(pair)) != sizeof(pair))
		_exit(5);
	_exit(0);
}

int64_t
race_debit(struct store *(*open)(void *), void *arg, struct store *st,
           int64_t *orders, money_t *charged)
{
	int64_t cid = add_customer(st, "racer", "100");
	pid_t pids[RACE_PROCS];
	money_t bal;
	int fds[2];

	*orders = 0;
	*charged = 0;
	assert_int_equal(pipe(fds), 0);
	for (int p = 0; p < RACE_PROCS; p++) {
		pids[p] = fork();
		assert_true(pids[p] >= 0);
		if (pids[p] == 0) {
			close(fds[0]);
			race_child(open, arg, cid, p, fds[1]);
		}
	}
	close(fds[1]);
	for (int p = 0; p < RACE_PROCS; p++) {
		int64_t pair[2];
		int status;

		assert_int_equal(read(fds[0], pair, sizeof(pair)),
		                 sizeof(pair));
		*orders += pair[0];
		*charged += pair[1];
		assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	close(fds[0]);

	bal = balance_of(st, "racer");
	print_message("# %d processes x %d tries: %lld orders, %lld units "
	              "charged, balance %lld\n",
	              RACE_PROCS, RACE_TRIES, (long long)*orders,
	              (long long)*charged, (long long)bal);
	assert_true(bal >= 0);
	assert_int_equal(bal + *charged, M("100"));
	/* 1200 tries averaging ~0.75 ask for ~900: the funds ran out */
	assert_true(bal < M("1.5"));
	assert_true(*orders < RACE_PROCS * RACE_TRIES);
	return cid;
}

int
see_order(const struct order *o, void *arg)
{
	struct seen *s = arg;

	if (s->n < 128) {
		s->ids[s->n] = o->id;
		s->polled[s->n] = o->polled_at;
		s->n++;
	}
	return 0;
}

int
seen_has(const struct seen *s, int64_t id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->ids[i] == id)
			return 1;
	return 0;
}

int64_t
create_order(struct store *st, int64_t cid, const char *charge)
{
	struct order_new o = new_order(cid, charge);
	int64_t id;

	assert_int_equal(store_order_create(st, &o, &id), STORE_OK);
	return id;
}

/* An order of CID charged CHARGE, sent and active as upstream UP. */
int64_t
create_active(struct store *st, int64_t cid, const char *charge, const char *up)
{
	int64_t id = create_order(st, cid, charge);

	assert_int_equal(store_order_sending(st, id, 0, "alpha", 1448, 0),
	                 STORE_OK);
	assert_int_equal(store_order_active(st, id, up, M("0.01")), STORE_OK);
	return id;
}

/*
 * The contract: every test below runs against each backend.
 */

/* What the backends' fixtures begin with. */
struct fixture {
	struct store *st;
};

static int
count_customer(const struct customer *c, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static void
test_customers(void **state)
{
	struct fixture *f = *state;
	uint8_t h1[AUTH_HASH_LEN], h2[AUTH_HASH_LEN];
	struct customer c;
	int64_t id, id2;

	auth_key_hash("k1", 2, h1);
	auth_key_hash("k2", 2, h2);
	assert_int_equal(store_customer_add(f->st, "alice", h1, &id), STORE_OK);
	assert_true(id > 0);
	assert_int_equal(store_customer_add(f->st, "alice", h2, NULL),
	                 STORE_EXISTS);
	assert_int_equal(store_customer_add(f->st, "bob", h1, NULL),
	                 STORE_EXISTS); /* a key hash belongs to one customer */
	assert_int_equal(store_customer_by_key(f->st, h1, &c), STORE_OK);
	assert_int_equal(c.id, id);
	assert_string_equal(c.name, "alice");
	assert_int_equal(c.balance, 0);
	assert_true(c.created_at > 1600000000);
	assert_int_equal(store_customer_by_key(f->st, h2, &c), STORE_NOTFOUND);
	assert_int_equal(store_customer_set_key(f->st, "alice", h2), STORE_OK);
	assert_int_equal(store_customer_by_key(f->st, h1, &c), STORE_NOTFOUND);
	assert_int_equal(store_customer_by_key(f->st, h2, &c), STORE_OK);
	assert_int_equal(store_customer_set_key(f->st, "nobody", h1),
	                 STORE_NOTFOUND);
	assert_int_equal(store_customer_add(f->st, "bob", h1, &id2), STORE_OK);
	assert_int_equal(store_customer_set_key(f->st, "bob", h2),
	                 STORE_EXISTS);
	assert_int_equal(store_customer_set_disabled(f->st, "alice", 1),
	                 STORE_OK);
	assert_int_equal(store_customer_by_name(f->st, "alice", &c), STORE_OK);
	assert_int_equal(c.disabled, 1);
	assert_int_equal(store_customer_set_disabled(f->st, "nobody", 1),
	                 STORE_NOTFOUND);
	assert_int_equal(store_customer_by_name(f->st, "nobody", &c),
	                 STORE_NOTFOUND);
	assert_true(store_name_valid("a.b-c_d@e"));
	assert_false(store_name_valid(""));
	assert_false(store_name_valid("with space"));
	assert_int_equal(violations(f->st), 0);
}

static void
test_ledger(void **state)
{
	struct fixture *f = *state;
	int64_t id = add_customer(f->st, "carol", "10");
	money_t bal, totals[4];
	int n = 0;

	assert_int_equal(store_ledger_post(f->st, id, LEDGER_ADJUSTMENT,
	                                   M("-10.00001"), NULL, &bal),
	                 STORE_NOFUNDS);
	assert_int_equal(store_ledger_post(f->st, id, LEDGER_ADJUSTMENT,
	                                   M("-4"), "withdrawal", &bal),
	                 STORE_OK);
	assert_int_equal(bal, M("6"));
	/* charges and refunds only move through orders */
	assert_int_equal(
	    store_ledger_post(f->st, id, LEDGER_CHARGE, M("-1"), NULL, &bal),
	    STORE_ERROR);
	assert_int_equal(
	    store_ledger_post(f->st, id, LEDGER_DEPOSIT, M("-1"), NULL, &bal),
	    STORE_ERROR);
	assert_int_equal(
	    store_ledger_post(f->st, 9999, LEDGER_DEPOSIT, M("1"), NULL, &bal),
	    STORE_NOTFOUND);
	/* past the largest balance: refused as such, never a wrap */
	assert_int_equal(store_ledger_post(f->st, id, LEDGER_DEPOSIT,
	                                   INT64_MAX - 5, NULL, &bal),
	                 STORE_LIMIT);
	assert_int_equal(store_ledger_post(f->st, id, LEDGER_DEPOSIT,
	                                   STORE_BALANCE_MAX - M("5"), NULL,
	                                   &bal),
	                 STORE_LIMIT);
	assert_int_equal(balance_of(f->st, "carol"), M("6"));
	assert_int_equal(store_ledger_totals(f->st, totals), STORE_OK);
	assert_int_equal(totals[LEDGER_DEPOSIT], M("10"));
	assert_int_equal(totals[LEDGER_ADJUSTMENT], M("-4"));
	assert_int_equal(totals[LEDGER_CHARGE], 0);
	add_customer(f->st, "dan", NULL);
	assert_int_equal(store_customer_list(f->st, count_customer, &n), 2);
	assert_int_equal(n, 2);
	assert_int_equal(violations(f->st), 0);
}

static void
test_order_create(void **state)
{
	struct fixture *f = *state;
	int64_t cid = add_customer(f->st, "dave", "1");
	struct order_new o = new_order(cid, "0.6");
	uint8_t h1[AUTH_HASH_LEN], h2[AUTH_HASH_LEN];
	struct order ord;
	int64_t id1, id2, other;
	char *json;

	assert_int_equal(store_order_create(f->st, &o, &id1), STORE_OK);
	assert_int_equal(store_order_get(f->st, id1, &ord), STORE_OK);
	assert_int_equal(ord.state, ORDER_QUEUED);
	assert_int_equal(ord.charge, M("0.6"));
	assert_int_equal(ord.rate, M("0.6"));
	assert_int_equal(ord.quantity, 1000);
	assert_int_equal(ord.refunded, 0);
	assert_string_equal(ord.type, "Default");
	assert_string_equal(ord.upstream, "alpha");
	assert_int_equal(ord.upstream_service, 1448);
	assert_string_equal(ord.upstream_order, "");
	assert_int_equal(ord.remains, -1);
	assert_int_equal(ord.start_count, -1);
	assert_int_equal(ord.polled_at, 0);
	assert_int_equal(store_order_fields(f->st, id1, &json), STORE_OK);
	assert_string_equal(json, "{\"link\":\"https://example.com/x\"}");
	free(json);
	assert_int_equal(store_order_fields(f->st, id1 + 100, &json),
	                 STORE_NOTFOUND);
	/* 0.4 left: a second 0.6 is refused and writes nothing */
	assert_int_equal(store_order_create(f->st, &o, &id2), STORE_NOFUNDS);
	assert_int_equal(balance_of(f->st, "dave"), M("0.4"));
	assert_int_equal(store_order_get(f->st, id1 + 1, &ord), STORE_NOTFOUND);
	/* never a free order */
	o.charge = 0;
	assert_int_equal(store_order_create(f->st, &o, &id2), STORE_CONFLICT);

	/* request_id: the same request returns the first order, once */
	auth_key_hash("req-a", 5, h1);
	auth_key_hash("req-b", 5, h2);
	o = new_order(cid, "0.1");
	o.request_id = "r-1";
	o.request_hash = h1;
	o.sending = 1;
	assert_int_equal(store_order_create(f->st, &o, &id1), STORE_OK);
	assert_int_equal(store_order_get(f->st, id1, &ord), STORE_OK);
	assert_int_equal(ord.state, ORDER_SENDING);
	assert_int_equal(store_order_create(f->st, &o, &id2), STORE_EXISTS);
	assert_int_equal(id1, id2);
	o.request_hash = h2;
	assert_int_equal(store_order_create(f->st, &o, &id2), STORE_CONFLICT);
	assert_int_equal(id2, id1);
	/* request IDs belong to their customer */
	other = add_customer(f->st, "dora", "1");
	o = new_order(other, "0.1");
	o.request_id = "r-1";
	o.request_hash = h2;
	assert_int_equal(store_order_create(f->st, &o, &id2), STORE_OK);
	assert_int_not_equal(id2, id1);
	assert_int_equal(balance_of(f->st, "dave"), M("0.3"));
	assert_int_equal(violations(f->st), 0);
}

static void
test_create_many(void **state)
{
	struct fixture *f = *state;
	int64_t cid = add_customer(f->st, "gina", "1");
	uint8_t h1[AUTH_HASH_LEN], h2[AUTH_HASH_LEN];
	struct order_new v[7];
	enum store_result res[7];
	int64_t ids[7], counts[ORDER_STATE_COUNT];

	auth_key_hash("req-a", 5, h1);
	auth_key_hash("req-b", 5, h2);
	v[0] = new_order(cid, "0.4");
	v[1] = new_order(cid, "0.7"); /* 0.6 left */
	v[2] = new_order(cid, "0.5");
	v[3] = new_order(cid, "0.05");
	v[3].request_id = "r-1";
	v[3].request_hash = h1;
	v[4] = v[3];
	v[5] = v[3];
	v[5].request_hash = h2;
	v[6] = new_order(cid, "0.01");
	v[6].quantity = 0;
	assert_int_equal(store_order_create_many(f->st, v, 7, res, ids),
	                 STORE_OK);
	assert_int_equal(res[0], STORE_OK);
	assert_int_equal(res[1], STORE_NOFUNDS);
	assert_int_equal(res[2], STORE_OK);
	assert_int_equal(res[3], STORE_OK);
	assert_int_equal(res[4], STORE_EXISTS);
	assert_int_equal(ids[4], ids[3]);
	assert_int_equal(res[5], STORE_CONFLICT);
	assert_int_equal(res[6], STORE_CONFLICT);
	assert_int_equal(balance_of(f->st, "gina"), M("0.05"));
	assert_int_equal(store_order_counts(f->st, counts), STORE_OK);
	assert_int_equal(counts[ORDER_QUEUED], 3);
	assert_int_equal(counts[ORDER_ACTIVE], 0);
	/* an empty group is fine */
	assert_int_equal(store_order_create_many(f->st, v, 0, res, ids),
	                 STORE_OK);
	assert_int_equal(violations(f->st), 0);
}

/* A group of two customers' adds, every one within its customer's funds:
 * request IDs committed before and repeated inside the group are answered
 * as one add each; the others are made in their order. */
static void
test_create_many_requests(void **state)
{
	struct fixture *f = *state;
	int64_t a = add_customer(f->st, "hana", "1");
	int64_t b = add_customer(f->st, "hugo", "1");
	uint8_t h1[AUTH_HASH_LEN], h2[AUTH_HASH_LEN];
	struct order_new o, v[6];
	enum store_result res[6];
	int64_t ids[6], old0, old2;
	struct order ord;

	auth_key_hash("req-a", 5, h1);
	auth_key_hash("req-b", 5, h2);
	o = new_order(a, "0.3");
	o.request_id = "r-0";
	o.request_hash = h1;
	assert_int_equal(store_order_create(f->st, &o, &old0), STORE_OK);
	o = new_order(a, "0.05");
	o.request_id = "r-2";
	o.request_hash = h1;
	assert_int_equal(store_order_create(f->st, &o, &old2), STORE_OK);
	v[0] = new_order(a, "0.1");
	v[0].request_id = "r-1";
	v[0].request_hash = h1;
	v[0].sending = 1;
	v[1] = new_order(b, "0.2");
	v[2] = v[0];                /* the same request again */
	v[3] = new_order(a, "0.3"); /* a request committed before */
	v[3].request_id = "r-0";
	v[3].request_hash = h1;
	v[4] = new_order(a, "0.05"); /* the same ID, another request */
	v[4].request_id = "r-2";
	v[4].request_hash = h2;
	v[5] = new_order(b, "0.2");
	assert_int_equal(store_order_create_many(f->st, v, 6, res, ids),
	                 STORE_OK);
	assert_int_equal(res[0], STORE_OK);
	assert_int_equal(res[1], STORE_OK);
	assert_int_equal(res[2], STORE_EXISTS);
	assert_int_equal(ids[2], ids[0]);
	assert_int_equal(res[3], STORE_EXISTS);
	assert_int_equal(ids[3], old0);
	assert_int_equal(res[4], STORE_CONFLICT);
	assert_int_equal(ids[4], old2);
	assert_int_equal(res[5], STORE_OK);
	assert_true(old2 < ids[0] && ids[0] < ids[1] && ids[1] < ids[5]);
	assert_int_equal(store_order_get(f->st, ids[0], &ord), STORE_OK);
	assert_int_equal(ord.state, ORDER_SENDING);
	assert_int_equal(ord.charge, M("0.1"));
	assert_int_equal(store_order_get(f->st, ids[5], &ord), STORE_OK);
	assert_int_equal(ord.state, ORDER_QUEUED);
	assert_int_equal(ord.customer_id, b);
	/* 1 - 0.3 - 0.05 - 0.1 and 1 - 0.2 - 0.2 */
	assert_int_equal(balance_of(f->st, "hana"), M("0.55"));
	assert_int_equal(balance_of(f->st, "hugo"), M("0.6"));
	assert_int_equal(violations(f->st), 0);
}

/* Adds whose charges sum past what an int64 holds, in one group: the first
 * takes the whole balance, the rest are refused, another customer's add in
 * the same group is made. */
static void
test_create_many_huge(void **state)
{
	struct fixture *f = *state;
	int64_t big = add_customer(f->st, "vast", "10000000000");
	int64_t small = add_customer(f->st, "tiny", "1");
	struct order_new v[11];
	enum store_result res[11];
	int64_t ids[11];

	for (int i = 0; i < 10; i++) {
		v[i] = new_order(big, "1");
		v[i].rate = v[i].charge = STORE_BALANCE_MAX;
	}
	v[10] = new_order(small, "0.5");
	assert_int_equal(store_order_create_many(f->st, v, 11, res, ids),
	                 STORE_OK);
	assert_int_equal(res[0], STORE_OK);
	for (int i = 1; i < 10; i++)
		assert_int_equal(res[i], STORE_NOFUNDS);
	assert_int_equal(res[10], STORE_OK);
	assert_int_equal(balance_of(f->st, "vast"), 0);
	assert_int_equal(balance_of(f->st, "tiny"), M("0.5"));
	assert_int_equal(violations(f->st), 0);
}

static void
test_sending_held(void **state)
{
	struct fixture *f = *state;
	int64_t cid = add_customer(f->st, "kate", "10");
	int64_t id = create_order(f->st, cid, "1");
	struct order o;

	/* held: only an order already marked sending */
	assert_int_equal(store_order_sending(f->st, id, 0, "alpha", 1448, 1),
	                 STORE_CONFLICT);
	assert_int_equal(store_order_sending(f->st, id, 0, "alpha", 1448, 0),
	                 STORE_OK);
	/* the claim from queued happens once */
	assert_int_equal(store_order_sending(f->st, id, 0, "alpha", 1448, 0),
	                 STORE_CONFLICT);
	/* its holder moves it to the next route */
	assert_int_equal(store_order_sending(f->st, id, 1, "beta", 77, 1),
	                 STORE_OK);
	assert_int_equal(store_order_get(f->st, id, &o), STORE_OK);
	assert_int_equal(o.state, ORDER_SENDING);
	assert_int_equal(o.route_idx, 1);
	assert_string_equal(o.upstream, "beta");
	assert_int_equal(o.upstream_service, 77);
	assert_int_equal(store_order_unsent(f->st, id), STORE_OK);
	assert_int_equal(store_order_unsent(f->st, id), STORE_CONFLICT);
	assert_int_equal(store_order_sending(f->st, id, 1, "beta", 77, 1),
	                 STORE_CONFLICT);
	assert_int_equal(store_order_get(f->st, id, &o), STORE_OK);
	assert_int_equal(o.state, ORDER_QUEUED);
	assert_int_equal(store_order_sending(f->st, id, 1, "beta", 77, 0),
	                 STORE_OK);
	assert_int_equal(store_order_active(f->st, id, "U-1", M("0.5")),
	                 STORE_OK);
	assert_int_equal(store_order_active(f->st, id, "U-2", M("0.5")),
	                 STORE_CONFLICT);
	assert_int_equal(store_order_sending(f->st, id, 1, "beta", 77, 1),
	                 STORE_CONFLICT);
	assert_int_equal(store_order_sending(f->st, id, 1, "beta", 77, 0),
	                 STORE_CONFLICT);
	assert_int_equal(store_order_get(f->st, id, &o), STORE_OK);
	assert_int_equal(o.state, ORDER_ACTIVE);
	assert_string_equal(o.upstream_order, "U-1");
	assert_int_equal(o.cost, M("0.5"));
	assert_true(o.polled_at > 0);
	assert_int_equal(store_order_sending(f->st, id + 50, 0, "a", 1, 0),
	                 STORE_CONFLICT);
	assert_int_equal(violations(f->st), 0);
}

static void
test_active_many(void **state)
{
	struct fixture *f = *state;
	int64_t cid = add_customer(f->st, "mona", "10");
	int64_t ids[4];
	const char *ups[4] = {"DUP", "DUP", "X-3", "X-4"};
	const char *odd[4] = {"a\"b\\c", "NULL", "{7, \"8\"}", "\xc3\xbc 1,2"};
	money_t costs[4] = {1, 2, 3, 4};
	enum store_result res[4];
	struct order o;

	for (int i = 0; i < 4; i++) {
		ids[i] = create_order(f->st, cid, "0.1");
		if (i != 2)
			assert_int_equal(store_order_sending(f->st, ids[i], 0,
			                                     "alpha", 1, 0),
			                 STORE_OK);
	}
	/* the second DUP is refused alone; the group still commits */
	assert_int_equal(
	    store_order_active_many(f->st, ids, ups, costs, 4, res), STORE_OK);
	assert_int_equal(res[0], STORE_OK);
	assert_int_equal(res[1], STORE_EXISTS);
	assert_int_equal(res[2], STORE_CONFLICT); /* never sent */
	assert_int_equal(res[3], STORE_OK);
	assert_int_equal(store_order_get(f->st, ids[1], &o), STORE_OK);
	assert_int_equal(o.state, ORDER_SENDING);
	assert_int_equal(store_order_get(f->st, ids[3], &o), STORE_OK);
	assert_int_equal(o.state, ORDER_ACTIVE);
	assert_int_equal(o.cost, 4);
	/* the same upstream order ID on another upstream is another order */
	assert_int_equal(store_order_sending(f->st, ids[1], 1, "beta", 1, 1),
	                 STORE_OK);
	assert_int_equal(store_order_active(f->st, ids[1], "DUP", 5), STORE_OK);
	/* upstream order IDs are the upstream's text, kept byte for byte
	 * however a store passes a group of them */
	for (int i = 0; i < 4; i++) {
		ids[i] = create_order(f->st, cid, "0.1");
		assert_int_equal(
		    store_order_sending(f->st, ids[i], 0, "alpha", 1, 0),
		    STORE_OK);
	}
	assert_int_equal(
	    store_order_active_many(f->st, ids, odd, costs, 4, res), STORE_OK);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(res[i], STORE_OK);
		assert_int_equal(store_order_get(f->st, ids[i], &o), STORE_OK);
		assert_int_equal(o.state, ORDER_ACTIVE);
		assert_string_equal(o.upstream_order, odd[i]);
		assert_int_equal(o.cost, costs[i]);
	}
	assert_int_equal(violations(f->st), 0);
}

static int
stop_after_two(const struct order *o, void *arg)
{
	return ++*(int *)arg >= 2;
}

static int
see_report(const struct report_row *r, void *arg)
{
	struct report_row *rows = arg;

	for (int i = 0; i < 4; i++)
		if (rows[i].upstream[0] == '\0') {
			rows[i] = *r;
			break;
		}
	return 0;
}

static void
test_lists(void **state)
{
	struct fixture *f = *state;
	int64_t c1 = add_customer(f->st, "nina", "10");
	int64_t c2 = add_customer(f->st, "olaf", "10");
	int64_t ids[6], get[4], counts[ORDER_STATE_COUNT];
	struct order_filter flt = {-1, 0, NULL, 0, 0};
	struct report_row rows[4];
	struct order out[4];
	struct seen s = {0};
	int found[4], stop = 0;

	for (int i = 0; i < 6; i++)
		ids[i] = create_order(f->st, i < 4 ? c1 : c2, "1");
	assert_int_equal(store_order_sending(f->st, ids[1], 0, "beta", 2, 0),
	                 STORE_OK);
	assert_int_equal(store_order_active(f->st, ids[1], "B-1", M("0.3")),
	                 STORE_OK);
	assert_int_equal(store_order_reject(f->st, ids[5], "gone"), STORE_OK);

	assert_int_equal(store_order_list(f->st, &flt, see_order, &s), 6);
	flt.customer_id = c2;
	s.n = 0;
	assert_int_equal(store_order_list(f->st, &flt, see_order, &s), 2);
	assert_int_equal(s.ids[0], ids[4]);
	flt.customer_id = 0;
	flt.state = ORDER_QUEUED;
	flt.limit = 3;
	s.n = 0;
	assert_int_equal(store_order_list(f->st, &flt, see_order, &s), 3);
	assert_int_equal(s.ids[0], ids[0]);
	assert_int_equal(s.ids[1], ids[2]);
	flt.state = -1;
	flt.limit = 0;
	flt.upstream = "beta";
	s.n = 0;
	assert_int_equal(store_order_list(f->st, &flt, see_order, &s), 1);
	assert_int_equal(s.ids[0], ids[1]);
	/* oldest poll first */
	flt.upstream = NULL;
	assert_int_equal(store_order_polled(f->st, &ids[0], 1, 900), STORE_OK);
	assert_int_equal(store_order_polled(f->st, &ids[3], 1, 500), STORE_OK);
	flt.polled_before = 1000;
	flt.customer_id = c1;
	s.n = 0;
	assert_int_equal(store_order_list(f->st, &flt, see_order, &s), 3);
	assert_int_equal(s.ids[0], ids[2]); /* 0 */
	assert_int_equal(s.ids[1], ids[3]); /* 500 */
	assert_int_equal(s.ids[2], ids[0]); /* 900 */
	flt.polled_before = 0;
	assert_int_equal(store_order_list(f->st, &flt, stop_after_two, &stop),
	                 2);

	get[0] = ids[3];
	get[1] = 999999;
	get[2] = ids[0];
	get[3] = ids[3];
	assert_int_equal(store_order_get_many(f->st, get, 4, out, found),
	                 STORE_OK);
	assert_int_equal(found[0], 1);
	assert_int_equal(found[1], 0);
	assert_int_equal(found[2], 1);
	assert_int_equal(found[3], 1);
	assert_int_equal(out[0].id, ids[3]);
	assert_int_equal(out[2].id, ids[0]);
	assert_int_equal(out[0].polled_at, 500);
	assert_int_equal(store_order_get_many(f->st, get, 101, out, found),
	                 STORE_ERROR);

	assert_int_equal(store_order_counts(f->st, counts), STORE_OK);
	assert_int_equal(counts[ORDER_QUEUED], 4);
	assert_int_equal(counts[ORDER_ACTIVE], 1);
	assert_int_equal(counts[ORDER_REJECTED], 1);

	memset(rows, 0, sizeof(rows));
	assert_int_equal(store_report(f->st, see_report, rows), 2);
	assert_string_equal(rows[0].upstream, "alpha");
	assert_int_equal(rows[0].orders, 5);
	assert_int_equal(rows[0].charged, M("5"));
	assert_int_equal(rows[0].refunded, M("1"));
	assert_string_equal(rows[1].upstream, "beta");
	assert_int_equal(rows[1].orders, 1);
	assert_int_equal(rows[1].cost, M("0.3"));
	assert_int_equal(violations(f->st), 0);
}

static void
test_refills_catalog_upstreams(void **state)
{
	struct fixture *f = *state;
	int64_t cid = add_customer(f->st, "pete", "10");
	int64_t oid = create_order(f->st, cid, "1"), rid;
	struct store_service_rows list, out;
	struct upstream_state u, got;
	struct refill r;

	assert_int_equal(store_refill_add(f->st, oid, cid, "alpha", &rid),
	                 STORE_OK);
	assert_int_equal(store_refill_get(f->st, rid, &r), STORE_OK);
	assert_string_equal(r.state, "sending");
	assert_string_equal(r.upstream, "alpha");
	assert_string_equal(r.upstream_refill, "");
	assert_int_equal(r.order_id, oid);
	assert_int_equal(
	    store_refill_update(f->st, rid, "active", "RF-1", "Pending"),
	    STORE_OK);
	assert_int_equal(store_refill_update(f->st, rid, "final", NULL, NULL),
	                 STORE_OK);
	assert_int_equal(store_refill_get(f->st, rid, &r), STORE_OK);
	assert_string_equal(r.state, "final");
	assert_string_equal(r.upstream_refill, "RF-1");
	assert_string_equal(r.status, "Pending");
	assert_int_equal(
	    store_refill_update(f->st, rid + 9, "final", NULL, NULL),
	    STORE_CONFLICT);
	assert_int_equal(store_refill_get(f->st, rid + 9, &r), STORE_NOTFOUND);
	assert_int_equal(store_refill_update(f->st, rid, "bogus", NULL, NULL),
	                 STORE_ERROR);

	/* the catalogue keeps the list's order, across chunks too */
	memset(&list, 0, sizeof(list));
	list.n = 1200;
	list.v = xcalloc(list.n, sizeof(*list.v));
	for (size_t i = 0; i < list.n; i++) {
		char name[32];

		snprintf(name, sizeof(name), "svc '%zu'", i);
		list.v[i].id = (int64_t)(list.n - i) * 7;
		list.v[i].name = xstrdup(name);
		list.v[i].type = xstrdup("Default");
		list.v[i].category = xstrdup(i % 2 ? "Likes" : "");
		list.v[i].description = i % 3 ? xstrdup("d\\x") : NULL;
		list.v[i].refill_time = i == 5 ? xstrdup("30") : NULL;
		list.v[i].rate = (money_t)i * 1000 + 1;
		list.v[i].min = 10;
		list.v[i].max = 1000 + (int64_t)i;
		list.v[i].refill = i == 5;
		list.v[i].dripfeed = i == 6;
		list.v[i].cancel = i == 7;
	}
	assert_int_equal(store_catalog_replace(f->st, "alpha", &list),
	                 STORE_OK);
	assert_int_equal(store_catalog_replace(f->st, "alpha", &list),
	                 STORE_OK);
	assert_int_equal(store_catalog_load(f->st, "alpha", &out), STORE_OK);
	assert_int_equal(out.n, list.n);
	for (size_t i = 0; i < list.n; i++) {
		assert_int_equal(out.v[i].id, list.v[i].id);
		assert_string_equal(out.v[i].name, list.v[i].name);
		assert_string_equal(out.v[i].category, list.v[i].category);
		assert_int_equal(out.v[i].rate, list.v[i].rate);
		assert_int_equal(out.v[i].max, list.v[i].max);
		assert_int_equal(out.v[i].refill, list.v[i].refill);
		assert_int_equal(out.v[i].dripfeed, list.v[i].dripfeed);
		assert_int_equal(out.v[i].cancel, list.v[i].cancel);
		if (list.v[i].description == NULL)
			assert_null(out.v[i].description);
		else
			assert_string_equal(out.v[i].description, "d\\x");
		if (i == 5)
			assert_string_equal(out.v[i].refill_time, "30");
		else
			assert_null(out.v[i].refill_time);
	}
	store_service_rows_free(&out);
	list.n = 2;
	assert_int_equal(store_catalog_replace(f->st, "alpha", &list),
	                 STORE_OK);
	list.n = 1200;
	assert_int_equal(store_catalog_load(f->st, "alpha", &out), STORE_OK);
	assert_int_equal(out.n, 2);
	store_service_rows_free(&out);
	assert_int_equal(store_catalog_load(f->st, "beta", &out), STORE_OK);
	assert_int_equal(out.n, 0);
	store_service_rows_free(&out);
	store_service_rows_free(&list);

	memset(&u, 0, sizeof(u));
	snprintf(u.name, sizeof(u.name), "alpha");
	snprintf(u.currency, sizeof(u.currency), "USD");
	snprintf(u.circuit, sizeof(u.circuit), "closed");
	u.has_balance = 1;
	u.balance = M("12.5");
	u.balance_at = 100;
	u.synced_at = 200;
	u.services = 1200;
	u.multi_ok = 1;
	assert_int_equal(store_upstream_state_put(f->st, &u), STORE_OK);
	u.has_balance = 0;
	u.multi_ok = 0;
	snprintf(u.circuit, sizeof(u.circuit), "open");
	assert_int_equal(store_upstream_state_put(f->st, &u), STORE_OK);
	assert_int_equal(store_upstream_state_get(f->st, "alpha", &got),
	                 STORE_OK);
	assert_string_equal(got.name, "alpha");
	assert_int_equal(got.has_balance, 0);
	assert_string_equal(got.currency, "USD");
	assert_string_equal(got.circuit, "open");
	assert_int_equal(got.multi_ok, 0);
	assert_int_equal(got.services, 1200);
	assert_int_equal(got.synced_at, 200);
	assert_true(got.updated_at > 0);
	assert_int_equal(store_upstream_state_get(f->st, "beta", &got),
	                 STORE_NOTFOUND);
}

/* One loop pass's adds and acceptances in one transaction; an add that
 * fails takes the other adds with it (nothing of them exists) but never the
 * acceptances, which are real upstream. */
static void
test_order_group(void **state)
{
	struct fixture *f = *state;
	int64_t cid = add_customer(f->st, "erin", "1");
	struct order_new o = new_order(cid, "0.3"), v[2];
	enum store_result res[2], act_res[1];
	int64_t ids[2], sent[2];
	const char *upids[1] = {"up-1"};
	money_t costs[1] = {M("0.2")};
	struct customer c;
	struct order ord;

	for (int i = 0; i < 2; i++) {
		o.sending = 1;
		assert_int_equal(store_order_create(f->st, &o, &sent[i]),
		                 STORE_OK);
	}
	/* two adds (the second beyond the funds) and one acceptance */
	v[0] = new_order(cid, "0.1");
	v[1] = new_order(cid, "0.5");
	store_order_group(f->st, v, 2, res, ids, &sent[0], upids, costs, 1,
	                  act_res);
	assert_int_equal(res[0], STORE_OK);
	assert_int_equal(res[1], STORE_NOFUNDS);
	assert_int_equal(act_res[0], STORE_OK);
	assert_int_equal(store_order_get(f->st, ids[0], &ord), STORE_OK);
	assert_int_equal(ord.charge, M("0.1"));
	assert_int_equal(store_order_get(f->st, sent[0], &ord), STORE_OK);
	assert_int_equal(ord.state, ORDER_ACTIVE);
	assert_string_equal(ord.upstream_order, "up-1");
	assert_int_equal(store_customer_by_name(f->st, "erin", &c), STORE_OK);
	assert_int_equal(c.balance, M("0.3"));

	/* an add that cannot be written (no type: NOT NULL) */
	v[0] = new_order(cid, "0.1");
	v[1] = new_order(cid, "0.1");
	v[1].type = NULL;
	upids[0] = "up-2";
	store_order_group(f->st, v, 2, res, ids, &sent[1], upids, costs, 1,
	                  act_res);
	assert_int_equal(res[0], STORE_ERROR);
	assert_int_equal(res[1], STORE_ERROR);
	assert_int_equal(act_res[0], STORE_OK);
	assert_int_equal(store_order_get(f->st, sent[1], &ord), STORE_OK);
	assert_int_equal(ord.state, ORDER_ACTIVE);
	assert_string_equal(ord.upstream_order, "up-2");
	assert_int_equal(store_order_get(f->st, sent[1] + 2, &ord),
	                 STORE_NOTFOUND);
	assert_int_equal(store_customer_by_name(f->st, "erin", &c), STORE_OK);
	assert_int_equal(c.balance, M("0.3"));
	assert_int_equal(violations(f->st), 0);
}

/* A deposit past STORE_BALANCE_MAX is refused as such (never a store
 * error); a withdrawal below zero is NOFUNDS; nothing is written. */
static void
test_deposit_limit(void **state)
{
	struct fixture *f = *state;
	int64_t cid = add_customer(f->st, "rich", "9999999999");
	money_t bal;

	assert_int_equal(store_ledger_post(f->st, cid, LEDGER_DEPOSIT,
	                                   M("1.00000001"), NULL, &bal),
	                 STORE_LIMIT);
	assert_int_equal(store_ledger_post(f->st, cid, LEDGER_DEPOSIT,
	                                   INT64_MAX, NULL, &bal),
	                 STORE_LIMIT);
	assert_int_equal(
	    store_ledger_post(f->st, cid, LEDGER_DEPOSIT, M("1"), NULL, &bal),
	    STORE_OK);
	assert_int_equal(bal, STORE_BALANCE_MAX);
	assert_int_equal(store_ledger_post(f->st, cid, LEDGER_ADJUSTMENT,
	                                   -STORE_BALANCE_MAX - 1, NULL, &bal),
	                 STORE_NOFUNDS);
	assert_int_equal(balance_of(f->st, "rich"), STORE_BALANCE_MAX);
	assert_int_equal(violations(f->st), 0);
}

size_t
storetest_contract(struct CMUnitTest *out, size_t max, CMFixtureFunction setup,
                   CMFixtureFunction teardown)
{
	static const struct {
		const char *name;
		CMUnitTestFunction fn;
	} contract[] = {
	    {"test_customers", test_customers},
	    {"test_ledger", test_ledger},
	    {"test_order_create", test_order_create},
	    {"test_create_many", test_create_many},
	    {"test_create_many_requests", test_create_many_requests},
	    {"test_create_many_huge", test_create_many_huge},
	    {"test_order_group", test_order_group},
	    {"test_deposit_limit", test_deposit_limit},
	    {"test_sending_held", test_sending_held},
	    {"test_active_many", test_active_many},
	    {"test_lists", test_lists},
	    {"test_refills_catalog_upstreams", test_refills_catalog_upstreams},
	    {"test_payments", test_payments},
	    {"test_pages", test_pages},
	    {"test_admin_keys", test_admin_keys},
	    {"test_audit", test_audit},
	    {"test_webhook_events", test_webhook_events},
	    {"test_webhook_balance", test_webhook_balance},
	    {"test_webhook_outbox", test_webhook_outbox},
	    {"test_same_link", test_same_link},
	    {"test_same_link_reroute", test_same_link_reroute},
	    {"test_pricing_store", test_pricing_store},
	};
	size_t n = sizeof(contract) / sizeof(contract[0]);

	if (n > max)
		fail_msg("storetest_contract: room for %zu tests, not %zu", max,
		         n);
	for (size_t i = 0; i < n; i++) {
		out[i].name = contract[i].name;
		out[i].test_func = contract[i].fn;
		out[i].setup_func = setup;
		out[i].teardown_func = teardown;
		out[i].initial_state = NULL;
	}
	return n;
}
