/* storetest_admin.c - the contract suite's part for the operator's data
 * (store_admin.c): payments and their references, pages, operator keys,
 * the audit trail; and the payment race both backends run. */
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

struct fixture {
	struct store *st;
};

static enum store_result
pay(struct store *st, int64_t cid, const char *amount, const char *ref,
    struct ledger_entry *e)
{
	struct payment_new p = {cid,          0,   "PayPal", "memo", ref,
	                        "admin:shop", NULL};
	money_t bal;

	p.amount = amount[0] == '-' ? -M(amount + 1) : M(amount);
	return store_payment_add(st, &p, e, &bal);
}

static int
count_audit(const struct audit_entry *e, void *arg)
{
	(*(int64_t *)arg)++;
	return 0;
}

void
test_payments(void **state)
{
	struct fixture *f = *state;
	int64_t a = add_customer(f->st, "alice", NULL);
	int64_t b = add_customer(f->st, "bob", NULL);
	struct ledger_entry e, first;
	struct payment_new p = {a, 0, NULL, NULL, NULL, "cli", NULL};
	money_t bal;

	/* without a reference every call credits */
	assert_int_equal(pay(f->st, a, "10", NULL, &e), STORE_OK);
	assert_int_equal(pay(f->st, a, "10", NULL, &e), STORE_OK);
	assert_int_equal(balance_of(f->st, "alice"), M("20"));
	/* the new balance comes back */
	p.amount = M("0.5");
	assert_int_equal(store_payment_add(f->st, &p, &e, &bal), STORE_OK);
	assert_int_equal(bal, M("20.5"));
	assert_int_equal(e.kind, LEDGER_DEPOSIT);
	/* a reference credits once; the same call again answers the first */
	assert_int_equal(pay(f->st, a, "2.5", "tx-1", &first), STORE_OK);
	assert_true(first.id > 0);
	assert_string_equal(first.external_id, "tx-1");
	assert_int_equal(pay(f->st, a, "2.5", "tx-1", &e), STORE_EXISTS);
	assert_int_equal(e.id, first.id);
	assert_int_equal(e.amount, M("2.5"));
	assert_string_equal(e.actor, "admin:shop");
	assert_string_equal(e.method, "PayPal");
	assert_int_equal(balance_of(f->st, "alice"), M("23"));
	/* with another amount, user or direction: a conflict, nothing
	 * written */
	assert_int_equal(pay(f->st, a, "2.6", "tx-1", &e), STORE_CONFLICT);
	assert_int_equal(e.id, first.id);
	assert_int_equal(pay(f->st, b, "2.5", "tx-1", &e), STORE_CONFLICT);
	assert_int_equal(pay(f->st, a, "-2.5", "tx-1", &e), STORE_CONFLICT);
	assert_int_equal(balance_of(f->st, "alice"), M("23"));
	assert_int_equal(balance_of(f->st, "bob"), 0);
	/* deductions: never below zero; a refused one keeps its reference
	 * free */
	assert_int_equal(pay(f->st, a, "-23.00001", "tx-2", &e), STORE_NOFUNDS);
	assert_int_equal(pay(f->st, a, "-3", "tx-2", &e), STORE_OK);
	assert_int_equal(e.kind, LEDGER_ADJUSTMENT);
	assert_int_equal(e.amount, -M("3"));
	assert_int_equal(balance_of(f->st, "alice"), M("20"));
	/* the audit entry goes with the payment, in its transaction: written
	 * when it is, not when it is refused or a duplicate */
	{
		struct audit_entry ae;
		struct audit_page ap = {"admin:t", 10, 0};
		int64_t seen = 0;

		memset(&ae, 0, sizeof(ae));
		snprintf(ae.actor, sizeof(ae.actor), "admin:t");
		snprintf(ae.action, sizeof(ae.action), "payments/add");
		snprintf(ae.detail, sizeof(ae.detail), "{}");
		snprintf(ae.result, sizeof(ae.result), "ok");
		p.audit = &ae;
		p.amount = -M("1000");
		assert_int_equal(store_payment_add(f->st, &p, &e, &bal),
		                 STORE_NOFUNDS);
		p.amount = M("1");
		p.external_id = "tx-audit";
		assert_int_equal(store_payment_add(f->st, &p, &e, &bal),
		                 STORE_OK);
		assert_int_equal(store_payment_add(f->st, &p, &e, &bal),
		                 STORE_EXISTS);
		assert_int_equal(
		    store_audit_page(f->st, &ap, count_audit, &seen), 1);
		p.audit = NULL;
		p.external_id = NULL;
		assert_int_equal(pay(f->st, a, "-1", NULL, &e), STORE_OK);
	}
	/* limits and unknown customers */
	assert_int_equal(pay(f->st, a, "10000000000", NULL, &e), STORE_LIMIT);
	assert_int_equal(pay(f->st, 999999, "1", "tx-3", &e), STORE_NOTFOUND);
	assert_int_equal(pay(f->st, a, "1", "tx-3", &e), STORE_OK);
	assert_int_equal(balance_of(f->st, "alice"), M("21"));
	assert_int_equal(violations(f->st), 0);
}

static int
count_entry(const struct ledger_entry *e, void *arg)
{
	int64_t *v = arg;

	v[0]++;
	v[1] += e->amount;
	if (v[2] == 0)
		v[2] = e->id; /* the first seen: the newest */
	return 0;
}

static int
see_page_order(const struct order *o, const char *user, void *arg)
{
	struct seen *s = arg;

	assert_true(strcmp(user, "pat") == 0 || strcmp(user, "quinn") == 0);
	return see_order(o, s);
}

static int
count_customer_row(const struct customer *c, void *arg)
{
	(*(int64_t *)arg)++;
	return 0;
}

void
test_pages(void **state)
{
	struct fixture *f = *state;
	int64_t pat = add_customer(f->st, "pat", "100");
	int64_t quinn = add_customer(f->st, "quinn", "100");
	int64_t ids[6], services[2] = {7, 9}, v[3] = {0, 0, 0}, n = 0;
	struct customer_page cf = {0, NULL, -1, 10, 0};
	struct order_page of;
	struct ledger_page lf = {0, 0, 0, 100, 0};
	struct seen s;

	for (int i = 0; i < 6; i++) {
		struct order_new o = new_order(i < 4 ? pat : quinn, "1");

		o.service_id = i % 2 == 0 ? 7 : 8;
		if (i == 5) /* another field holds the others' link */
			o.fields = "{\"link\":\"https://b.example/\\\"q\\\"\","
			           "\"comments\":\"https://example.com/x\"}";
		assert_int_equal(store_order_create(f->st, &o, &ids[i]),
		                 STORE_OK);
	}
	assert_int_equal(store_order_reject(f->st, ids[1], "test"), STORE_OK);

	/* customers: all, by name, by id, active only, paged */
	assert_int_equal(
	    store_customer_page(f->st, &cf, count_customer_row, &n), 2);
	cf.name = "quinn";
	assert_int_equal(
	    store_customer_page(f->st, &cf, count_customer_row, &n), 1);
	cf.name = NULL;
	cf.id = pat;
	assert_int_equal(
	    store_customer_page(f->st, &cf, count_customer_row, &n), 1);
	cf.id = 0;
	cf.disabled = 1;
	assert_int_equal(
	    store_customer_page(f->st, &cf, count_customer_row, &n), 0);
	cf.disabled = -1;
	cf.limit = 1;
	cf.offset = 1;
	assert_int_equal(
	    store_customer_page(f->st, &cf, count_customer_row, &n), 1);

	/* orders: newest first, filters, pages */
	memset(&of, 0, sizeof(of));
	of.state = -1;
	of.limit = 100;
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_order_page(f->st, &of, see_page_order, &s), 6);
	assert_int_equal(s.ids[0], ids[5]);
	assert_int_equal(s.ids[5], ids[0]);
	of.ascending = 1;
	of.limit = 2;
	of.offset = 1;
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_order_page(f->st, &of, see_page_order, &s), 2);
	assert_int_equal(s.ids[0], ids[1]);
	assert_int_equal(s.ids[1], ids[2]);
	memset(&of, 0, sizeof(of));
	of.state = ORDER_REJECTED;
	of.limit = 100;
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_order_page(f->st, &of, see_page_order, &s), 1);
	assert_int_equal(s.ids[0], ids[1]);
	of.state = -1;
	of.customer_id = quinn;
	assert_int_equal(store_order_page(f->st, &of, see_page_order, &s), 2);
	of.customer_id = 0;
	of.services = services;
	of.nservices = 2;
	assert_int_equal(store_order_page(f->st, &of, see_page_order, &s), 3);
	of.services = NULL;
	of.nservices = 0;
	of.upstream = "alpha";
	assert_int_equal(store_order_page(f->st, &of, see_page_order, &s), 6);
	of.upstream = "beta";
	assert_int_equal(store_order_page(f->st, &of, see_page_order, &s), 0);
	of.upstream = NULL;
	/* link: a substring of the link only (not of another field), its
	 * text unescaped from the JSON, no pattern syntax */
	of.link = "example.com/x";
	assert_int_equal(store_order_page(f->st, &of, see_page_order, &s), 5);
	of.link = "/\"q\"";
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_order_page(f->st, &of, see_page_order, &s), 1);
	assert_int_equal(s.ids[0], ids[5]);
	of.link = "%";
	assert_int_equal(store_order_page(f->st, &of, see_page_order, &s), 0);
	of.link = "EXAMPLE.COM"; /* bytes, as given */
	assert_int_equal(store_order_page(f->st, &of, see_page_order, &s), 0);
	of.link = NULL;
	of.created_from = 1;
	of.created_to = INT64_C(1) << 40;
	assert_int_equal(store_order_page(f->st, &of, see_page_order, &s), 6);
	of.created_to = 2;
	assert_int_equal(store_order_page(f->st, &of, see_page_order, &s), 0);
	of.created_from = of.created_to = 0;
	/* keyset pages: newest first below an ID, oldest first above one,
	 * with the other filters */
	of.before_id = ids[4];
	of.limit = 2;
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_order_page(f->st, &of, see_page_order, &s), 2);
	assert_int_equal(s.ids[0], ids[3]);
	assert_int_equal(s.ids[1], ids[2]);
	of.before_id = 0;
	of.after_id = ids[3];
	of.ascending = 1;
	of.limit = 100;
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_order_page(f->st, &of, see_page_order, &s), 2);
	assert_int_equal(s.ids[0], ids[4]);
	of.after_id = 0;
	of.ascending = 0;
	of.before_id = ids[2];
	of.customer_id = quinn;
	assert_int_equal(store_order_page(f->st, &of, see_page_order, &s), 0);
	of.customer_id = pat;
	memset(&s, 0, sizeof(s));
	assert_int_equal(store_order_page(f->st, &of, see_page_order, &s), 2);
	assert_int_equal(s.ids[0], ids[1]);
	of.customer_id = 0;
	of.before_id = 0;

	/* ledger: an order's entries (charge and refund), payments only */
	lf.order_id = ids[1];
	assert_int_equal(store_ledger_page(f->st, &lf, count_entry, v), 2);
	assert_int_equal(v[1], 0); /* charged and refunded */
	lf.order_id = 0;
	lf.customer_id = pat;
	lf.payments = 1;
	memset(v, 0, sizeof(v));
	assert_int_equal(store_ledger_page(f->st, &lf, count_entry, v), 1);
	assert_int_equal(v[1], M("100"));
}

static int
see_key(const struct admin_key *k, void *arg)
{
	int64_t *v = arg;

	v[0]++;
	if (k->revoked_at != 0)
		v[1]++;
	if (k->read_only)
		v[2]++;
	return 0;
}

void
test_admin_keys(void **state)
{
	struct fixture *f = *state;
	uint8_t h1[AUTH_HASH_LEN], h2[AUTH_HASH_LEN], h3[AUTH_HASH_LEN];
	struct admin_key k;
	int64_t v[3] = {0, 0, 0};

	auth_key_hash("key-1", 5, h1);
	auth_key_hash("key-2", 5, h2);
	auth_key_hash("key-3", 5, h3);
	assert_int_equal(store_admin_key_add(f->st, "shop", h1, 0), STORE_OK);
	assert_int_equal(store_admin_key_add(f->st, "shop", h2, 1),
	                 STORE_EXISTS);
	assert_int_equal(store_admin_key_add(f->st, "support", h2, 1),
	                 STORE_OK);
	assert_int_equal(store_admin_key_by_hash(f->st, h1, &k), STORE_OK);
	assert_string_equal(k.name, "shop");
	assert_false(k.read_only);
	assert_int_equal(store_admin_key_by_hash(f->st, h2, &k), STORE_OK);
	assert_true(k.read_only);
	assert_int_equal(store_admin_key_by_hash(f->st, h3, &k),
	                 STORE_NOTFOUND);
	/* revoked: never found again; the name may be given anew */
	assert_int_equal(store_admin_key_revoke(f->st, "shop"), STORE_OK);
	assert_int_equal(store_admin_key_revoke(f->st, "shop"), STORE_NOTFOUND);
	assert_int_equal(store_admin_key_by_hash(f->st, h1, &k),
	                 STORE_NOTFOUND);
	assert_int_equal(store_admin_key_add(f->st, "shop", h3, 0), STORE_OK);
	assert_int_equal(store_admin_key_by_hash(f->st, h3, &k), STORE_OK);
	/* a hash is never taken twice, even from a revoked key */
	assert_int_equal(store_admin_key_add(f->st, "other", h1, 0),
	                 STORE_EXISTS);
	assert_int_equal(store_admin_key_list(f->st, see_key, v), 3);
	assert_int_equal(v[1], 1);
	assert_int_equal(v[2], 1);
}

static int
see_audit(const struct audit_entry *e, void *arg)
{
	struct audit_entry *out = arg;
	int n = (int)out[0].id;

	if (n < 3)
		out[1 + n] = *e;
	out[0].id++;
	return 0;
}

void
test_audit(void **state)
{
	struct fixture *f = *state;
	struct audit_entry e, *seen = calloc(4, sizeof(*seen));
	struct audit_page ap = {NULL, 10, 0};

	memset(&e, 0, sizeof(e));
	snprintf(e.actor, sizeof(e.actor), "cli");
	snprintf(e.action, sizeof(e.action), "users/add");
	snprintf(e.target, sizeof(e.target), "alice");
	snprintf(e.detail, sizeof(e.detail), "{}");
	snprintf(e.result, sizeof(e.result), "ok");
	assert_int_equal(store_audit_add(f->st, &e), STORE_OK);
	snprintf(e.actor, sizeof(e.actor), "admin:shop");
	snprintf(e.action, sizeof(e.action), "payments/add");
	snprintf(e.detail, sizeof(e.detail), "{\"amount\":\"1\"}");
	assert_int_equal(store_audit_add(f->st, &e), STORE_OK);
	assert_int_equal(store_audit_page(f->st, &ap, see_audit, seen), 2);
	assert_string_equal(seen[1].action, "payments/add"); /* newest */
	assert_string_equal(seen[1].detail, "{\"amount\":\"1\"}");
	assert_string_equal(seen[2].actor, "cli");
	assert_true(seen[2].created_at > 0);
	ap.actor = "cli";
	memset(seen, 0, 4 * sizeof(*seen));
	assert_int_equal(store_audit_page(f->st, &ap, see_audit, seen), 1);
	assert_string_equal(seen[1].target, "alice");
	free(seen);
}

/*
 * The payment race.
 */

static const char *
race_amount(int ref, char *buf, size_t size)
{
	snprintf(buf, size, "%d.%05d", ref + 1, ref * 37 + 1);
	return buf;
}

static void
race_pay_child(struct store *(*open)(void *), void *arg, int64_t cid, int p,
               int fd)
{
	struct store *st = open(arg);
	int64_t got[PAY_RACE_REFS];

	if (st == NULL)
		_exit(3);
	for (int k = 0; k < PAY_RACE_REFS; k++) {
		/* each process goes round the references from another
		 * start, so every reference is raced from the first */
		int ref = (k + p) % PAY_RACE_REFS;
		char amount[32], id[32];
		struct payment_new pn = {cid, 0, NULL, NULL, id, "test", NULL};
		struct ledger_entry e;
		enum store_result r;

		snprintf(id, sizeof(id), "race-%d", ref);
		pn.amount = M(race_amount(ref, amount, sizeof(amount)));
		r = store_payment_add(st, &pn, &e, NULL);
		if (r != STORE_OK && r != STORE_EXISTS)
			_exit(4);
		got[ref] = e.id;
	}
	store_close(st);
	if (write(fd, got, sizeof(got)) != sizeof(got))
		_exit(5);
	_exit(0);
}

int64_t
race_payments(struct store *(*open)(void *), void *arg, struct store *st)
{
	int64_t cid = add_customer(st, "payee", NULL);
	int64_t first[PAY_RACE_REFS];
	pid_t pids[RACE_PROCS];
	money_t want = 0;
	char amount[32];
	int fds[2];

	assert_int_equal(pipe(fds), 0);
	for (int p = 0; p < RACE_PROCS; p++) {
		pids[p] = fork();
		assert_true(pids[p] >= 0);
		if (pids[p] == 0) {
			close(fds[0]);
			race_pay_child(open, arg, cid, p, fds[1]);
		}
	}
	close(fds[1]);
	for (int p = 0; p < RACE_PROCS; p++) {
		int64_t got[PAY_RACE_REFS];
		int status;

		assert_int_equal(read(fds[0], got, sizeof(got)), sizeof(got));
		for (int k = 0; k < PAY_RACE_REFS; k++) {
			assert_true(got[k] > 0);
			if (p == 0)
				first[k] = got[k];
			else /* every process was told the same payment */
				assert_int_equal(got[k], first[k]);
		}
		assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	close(fds[0]);
	for (int k = 0; k < PAY_RACE_REFS; k++)
		want += M(race_amount(k, amount, sizeof(amount)));
	/* each reference credited exactly once */
	assert_int_equal(balance_of(st, "payee"), want);
	assert_int_equal(violations(st), 0);
	return cid;
}
