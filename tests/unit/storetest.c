/* storetest.c - see storetest.h. */
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
