/* store_admin.c - the operator's data, written once for every backend:
 * payments with their external references (exactly once), operator keys,
 * the audit trail, and pages of customers, orders and ledger entries.
 *
 * The statements are built here with the backend's placeholder style and
 * run through the driver's query and exec; rows are read through its
 * column accessors.  A backend adds nothing for any of it. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store.h"
#include "store_core.h"

#define LEDGER_COLS                                                            \
	"l.id, l.customer_id, l.kind, l.amount, l.order_id, l.note,"           \
	" l.method, l.external_id, l.actor, l.created_at, c.name"
#define LEDGER_FROM " FROM ledger l JOIN customers c ON c.id = l.customer_id"
#define AUDIT_COLS "id, created_at, actor, action, target, detail, result"
#define ADMIN_KEY_COLS "id, name, read_only, created_at, revoked_at, key_hash"

/*
 * Building statements.
 */

void
store_query_init(struct store_query *q, int dollar)
{
	q->len = 0;
	q->sql[0] = '\0';
	q->dollar = dollar;
	q->overflow = 0;
	q->n = 0;
}

void
store_query_sql(struct store_query *q, const char *sql)
{
	size_t n = strlen(sql);

	if (q->len + n >= sizeof(q->sql)) {
		q->overflow = 1;
		return;
	}
	memcpy(q->sql + q->len, sql, n + 1);
	q->len += n;
}

/* A placeholder for the next parameter, which is A. */
static void
store_query_arg(struct store_query *q, const struct store_qarg *a)
{
	char ph[16];

	if (q->n >= STORE_QUERY_ARGS) {
		q->overflow = 1;
		return;
	}
	q->a[q->n++] = *a;
	snprintf(ph, sizeof(ph), "%c%d", q->dollar ? '$' : '?', q->n);
	store_query_sql(q, ph);
}

void
store_query_int(struct store_query *q, int64_t v)
{
	struct store_qarg a = {STORE_QA_INT, v, NULL, NULL};

	store_query_arg(q, &a);
}

void
store_query_text(struct store_query *q, const char *s)
{
	struct store_qarg a = {s != NULL ? STORE_QA_TEXT : STORE_QA_NULL, 0, s,
	                       NULL};

	store_query_arg(q, &a);
}

void
store_query_hash(struct store_query *q, const uint8_t *h)
{
	struct store_qarg a = {STORE_QA_HASH, 0, NULL, h};

	store_query_arg(q, &a);
}

/* " LIMIT n OFFSET m" of a page, LIMIT clamped to 1..STORE_PAGE_MAX. */
static void
store_query_page(struct store_query *q, int64_t limit, int64_t offset)
{
	if (limit <= 0 || limit > STORE_PAGE_MAX)
		limit = STORE_PAGE_MAX;
	store_query_sql(q, " LIMIT ");
	store_query_int(q, limit);
	store_query_sql(q, " OFFSET ");
	store_query_int(q, offset > 0 ? offset : 0);
}

/*
 * Reading rows.
 */

void
store_core_read_customer(const struct store_driver *d, store_row *row,
                         struct customer *c)
{
	memset(c, 0, sizeof(*c));
	c->id = d->col_int(row, 0, 0);
	d->col_text(row, 1, c->name, sizeof(c->name));
	c->balance = d->col_int(row, 2, 0);
	c->disabled = (int)d->col_int(row, 3, 0);
	c->created_at = d->col_int(row, 4, 0);
}

void
store_core_read_order(const struct store_driver *d, store_row *row,
                      struct order *o)
{
	char state[16];
	int st;

	memset(o, 0, sizeof(*o));
	o->id = d->col_int(row, 0, 0);
	o->customer_id = d->col_int(row, 1, 0);
	o->service_id = d->col_int(row, 2, 0);
	d->col_text(row, 3, o->type, sizeof(o->type));
	d->col_text(row, 4, state, sizeof(state));
	st = order_state_parse(state);
	o->state = st < 0 ? ORDER_SENDING : (enum order_state)st;
	o->quantity = d->col_int(row, 5, 0);
	o->runs = d->col_int(row, 6, 0);
	o->interval = d->col_int(row, 7, 0);
	o->rate = d->col_int(row, 8, 0);
	o->charge = d->col_int(row, 9, 0);
	d->col_text(row, 10, o->upstream, sizeof(o->upstream));
	o->upstream_service = d->col_int(row, 11, 0);
	o->route_idx = (int)d->col_int(row, 12, 0);
	d->col_text(row, 13, o->upstream_order, sizeof(o->upstream_order));
	o->cost = d->col_int(row, 14, 0);
	o->start_count = d->col_int(row, 15, -1);
	o->remains = d->col_int(row, 16, -1);
	d->col_text(row, 17, o->upstream_status, sizeof(o->upstream_status));
	o->created_at = d->col_int(row, 18, 0);
	o->updated_at = d->col_int(row, 19, 0);
	o->polled_at = d->col_int(row, 20, 0);
	o->refunded = d->col_int(row, 21, 0);
	o->upstream_quantity = d->col_int(row, 22, 0);
	o->sent_at = d->col_int(row, 23, 0);
	o->accepted_at = d->col_int(row, 24, 0);
	o->progress_at = d->col_int(row, 25, 0);
	o->settled_at = d->col_int(row, 26, 0);
}

static enum ledger_kind
store_ledger_kind(const char *s)
{
	for (int k = LEDGER_DEPOSIT; k <= LEDGER_ADJUSTMENT; k++)
		if (strcmp(s, ledger_kind_name((enum ledger_kind)k)) == 0)
			return (enum ledger_kind)k;
	return LEDGER_ADJUSTMENT;
}

static void
store_read_ledger(const struct store_driver *d, store_row *row,
                  struct ledger_entry *e)
{
	char kind[16];

	memset(e, 0, sizeof(*e));
	e->id = d->col_int(row, 0, 0);
	e->customer_id = d->col_int(row, 1, 0);
	d->col_text(row, 2, kind, sizeof(kind));
	e->kind = store_ledger_kind(kind);
	e->amount = d->col_int(row, 3, 0);
	e->order_id = d->col_int(row, 4, 0);
	d->col_text(row, 5, e->note, sizeof(e->note));
	d->col_text(row, 6, e->method, sizeof(e->method));
	d->col_text(row, 7, e->external_id, sizeof(e->external_id));
	d->col_text(row, 8, e->actor, sizeof(e->actor));
	e->created_at = d->col_int(row, 9, 0);
	d->col_text(row, 10, e->customer, sizeof(e->customer));
}

/* A page's rows, each read into a struct of the caller's and passed on. */
struct store_page {
	const void *cb;
	void *arg;
	const uint8_t *hash; /* admin_key_by_hash: the one to match */
	void *out;           /* a single row's destination */
	int found;
};

static int
store_page_customer(const struct store_driver *d, store_row *row, void *arg)
{
	struct store_page *p = arg;
	struct customer c;

	store_core_read_customer(d, row, &c);
	return ((store_customer_cb)p->cb)(&c, p->arg);
}

static int
store_page_order(const struct store_driver *d, store_row *row, void *arg)
{
	struct store_page *p = arg;
	char name[STORE_NAME_MAX + 1];
	struct order o;

	store_core_read_order(d, row, &o);
	d->col_text(row, 27, name, sizeof(name));
	return ((store_page_order_cb)p->cb)(&o, name, p->arg);
}

static int
store_page_ledger(const struct store_driver *d, store_row *row, void *arg)
{
	struct store_page *p = arg;
	struct ledger_entry e;

	store_read_ledger(d, row, &e);
	if (p->cb == NULL) {
		*(struct ledger_entry *)p->out = e;
		p->found = 1;
		return 1;
	}
	return ((store_ledger_cb)p->cb)(&e, p->arg);
}

static void
store_read_audit(const struct store_driver *d, store_row *row,
                 struct audit_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->id = d->col_int(row, 0, 0);
	e->created_at = d->col_int(row, 1, 0);
	d->col_text(row, 2, e->actor, sizeof(e->actor));
	d->col_text(row, 3, e->action, sizeof(e->action));
	d->col_text(row, 4, e->target, sizeof(e->target));
	d->col_text(row, 5, e->detail, sizeof(e->detail));
	d->col_text(row, 6, e->result, sizeof(e->result));
}

static int
store_page_audit(const struct store_driver *d, store_row *row, void *arg)
{
	struct store_page *p = arg;
	struct audit_entry e;

	store_read_audit(d, row, &e);
	return ((store_audit_cb)p->cb)(&e, p->arg);
}

static void
store_read_admin_key(const struct store_driver *d, store_row *row,
                     struct admin_key *k)
{
	memset(k, 0, sizeof(*k));
	k->id = d->col_int(row, 0, 0);
	d->col_text(row, 1, k->name, sizeof(k->name));
	k->read_only = d->col_int(row, 2, 0) != 0;
	k->created_at = d->col_int(row, 3, 0);
	k->revoked_at = d->col_int(row, 4, 0);
}

static int
store_page_admin_key(const struct store_driver *d, store_row *row, void *arg)
{
	struct store_page *p = arg;
	struct admin_key k;

	store_read_admin_key(d, row, &k);
	if (p->hash != NULL) {
		/* The index found the row; the hashes are compared in
		 * constant time all the same. */
		if (d->col_hash_equal(row, 5, p->hash)) {
			*(struct admin_key *)p->out = k;
			p->found = 1;
		}
		return 1;
	}
	return ((store_admin_key_cb)p->cb)(&k, p->arg);
}

int64_t
store_query_run(struct store *st, store_tx *tx, const struct store_query *q,
                store_row_fn fn, void *arg)
{
	if (q->overflow)
		return -1;
	return st->drv->query(st, tx, q, fn, arg);
}

static void store_audit_query(struct store_query *q, int dollar,
                              const struct audit_entry *e);

/*
 * Payments.
 */

struct store_pay {
	struct store *st;
	const struct payment_new *p;
	struct ledger_entry *out;
	money_t balance;
	int raced; /* the reference was committed by another meanwhile */
};

/* The payment holding reference REF as TX sees it: STORE_OK, NOTFOUND or
 * ERROR. */
static enum store_result
store_payment_by_ref(struct store *st, store_tx *tx, const char *ref,
                     struct ledger_entry *out)
{
	struct store_page pg = {NULL, NULL, NULL, out, 0};
	struct store_query q;

	store_query_init(&q, st->drv->dollar);
	store_query_sql(&q, "SELECT " LEDGER_COLS LEDGER_FROM
	                    " WHERE l.external_id = ");
	store_query_text(&q, ref);
	if (store_query_run(st, tx, &q, store_page_ledger, &pg) < 0)
		return STORE_ERROR;
	return pg.found ? STORE_OK : STORE_NOTFOUND;
}

static enum store_result
store_pay_body(store_tx *tx, void *arg)
{
	struct store_pay *y = arg;
	const struct store_driver *d = y->st->drv;
	const struct payment_new *p = y->p;
	enum ledger_kind kind =
	    p->amount > 0 ? LEDGER_DEPOSIT : LEDGER_ADJUSTMENT;
	struct store_query q;
	enum store_result r;
	int64_t id, n;

	y->raced = 0;
	if (p->external_id != NULL) {
		r = store_payment_by_ref(y->st, tx, p->external_id, y->out);
		if (r == STORE_OK)
			return y->out->customer_id == p->customer_id &&
			               y->out->amount == p->amount
			           ? STORE_EXISTS
			           : STORE_CONFLICT;
		if (r != STORE_NOTFOUND)
			return r;
	}
	switch (d->balance_post(tx, p->customer_id, p->amount,
	                        STORE_BALANCE_MAX, &y->balance)) {
	case 1:
		break;
	case 0:
		r = d->customer_exists(tx, p->customer_id);
		return r != STORE_OK   ? r
		       : p->amount > 0 ? STORE_LIMIT
		                       : STORE_NOFUNDS;
	default:
		return STORE_ERROR;
	}
	store_query_init(&q, d->dollar);
	store_query_sql(&q, "INSERT INTO ledger (customer_id, kind, amount,"
	                    " note, method, external_id, actor, created_at)"
	                    " VALUES (");
	store_query_int(&q, p->customer_id);
	store_query_sql(&q, ", ");
	store_query_text(&q, ledger_kind_name(kind));
	store_query_sql(&q, ", ");
	store_query_int(&q, p->amount);
	store_query_sql(&q, ", ");
	store_query_text(&q, p->note);
	store_query_sql(&q, ", ");
	store_query_text(&q, p->method);
	store_query_sql(&q, ", ");
	store_query_text(&q, p->external_id);
	store_query_sql(&q, ", ");
	store_query_text(&q, p->actor);
	store_query_sql(&q, ", ");
	store_query_int(&q, (int64_t)time(NULL));
	store_query_sql(&q, ")");
	if (q.overflow)
		return STORE_ERROR;
	n = d->exec(tx, &q, &id);
	if (n == STORE_EXEC_UNIQUE) {
		/* Another transaction committed the reference after the
		 * lookup: this one writes nothing; the caller looks again. */
		y->raced = 1;
		return STORE_EXISTS;
	}
	if (n != 1)
		return STORE_ERROR;
	if (p->audit != NULL) {
		store_audit_query(&q, d->dollar, p->audit);
		if (q.overflow || d->exec(tx, &q, NULL) != 1)
			return STORE_ERROR;
	}
	if (p->amount < 0 && y->st->events &&
	    store_core_event_balance(y->st, tx, p->customer_id, -p->amount) !=
	        0)
		return STORE_ERROR;
	memset(y->out, 0, sizeof(*y->out));
	y->out->id = id;
	y->out->customer_id = p->customer_id;
	y->out->kind = kind;
	y->out->amount = p->amount;
	snprintf(y->out->note, sizeof(y->out->note), "%s",
	         p->note != NULL ? p->note : "");
	snprintf(y->out->method, sizeof(y->out->method), "%s",
	         p->method != NULL ? p->method : "");
	snprintf(y->out->external_id, sizeof(y->out->external_id), "%s",
	         p->external_id != NULL ? p->external_id : "");
	snprintf(y->out->actor, sizeof(y->out->actor), "%s",
	         p->actor != NULL ? p->actor : "");
	y->out->created_at = (int64_t)time(NULL);
	return STORE_OK;
}

enum store_result
store_payment_add(struct store *st, const struct payment_new *p,
                  struct ledger_entry *out, money_t *balance)
{
	struct store_pay y = {st, p, out, 0, 0};
	enum store_result r;

	if (p->amount == 0)
		return STORE_ERROR;
	/* A race lost on the reference is looked up again; the second run
	 * finds the winner's payment (or, had the winner rolled back,
	 * writes this one). */
	for (int tries = 0;; tries++) {
		r = st->drv->run(st, store_pay_body, &y);
		if (!(r == STORE_EXISTS && y.raced) || tries == 3)
			break;
	}
	if (r == STORE_EXISTS && y.raced)
		return STORE_ERROR;
	if (r == STORE_OK && balance != NULL)
		*balance = y.balance;
	return r;
}

/*
 * Pages.
 */

int64_t
store_customer_page(struct store *st, const struct customer_page *f,
                    store_customer_cb cb, void *arg)
{
	struct store_page pg = {(const void *)cb, arg, NULL, NULL, 0};
	struct store_query q;

	store_query_init(&q, st->drv->dollar);
	store_query_sql(&q, "SELECT " CUSTOMER_COLS " FROM customers"
	                    " WHERE 1 = 1");
	if (f->id > 0) {
		store_query_sql(&q, " AND id = ");
		store_query_int(&q, f->id);
	}
	if (f->name != NULL) {
		store_query_sql(&q, " AND name = ");
		store_query_text(&q, f->name);
	}
	if (f->disabled >= 0) {
		store_query_sql(&q, " AND disabled = ");
		store_query_int(&q, f->disabled != 0);
	}
	store_query_sql(&q, " ORDER BY id");
	store_query_page(&q, f->limit, f->offset);
	return store_query_run(st, NULL, &q, store_page_customer, &pg);
}

int64_t
store_order_page(struct store *st, const struct order_page *f,
                 store_page_order_cb cb, void *arg)
{
	struct store_page pg = {(const void *)cb, arg, NULL, NULL, 0};
	struct store_query q;

	store_query_init(&q, st->drv->dollar);
	store_query_sql(&q, "SELECT " ORDER_COLS ", c.name FROM orders o"
	                    " JOIN customers c ON c.id = o.customer_id"
	                    " WHERE 1 = 1");
	if (f->state >= 0 && f->state < ORDER_STATE_COUNT) {
		store_query_sql(&q, " AND o.state = ");
		store_query_text(&q,
		                 order_state_name((enum order_state)f->state));
	}
	if (f->customer_id > 0) {
		store_query_sql(&q, " AND o.customer_id = ");
		store_query_int(&q, f->customer_id);
	}
	if (f->nservices > 0) {
		if (f->nservices > STORE_PAGE_IDS)
			return -1;
		store_query_sql(&q, " AND o.service_id IN (");
		for (size_t i = 0; i < f->nservices; i++) {
			if (i > 0)
				store_query_sql(&q, ", ");
			store_query_int(&q, f->services[i]);
		}
		store_query_sql(&q, ")");
	}
	if (f->upstream != NULL) {
		store_query_sql(&q, " AND o.upstream = ");
		store_query_text(&q, f->upstream);
	}
	if (f->link != NULL) {
		/* The link's text out of the forwarded fields (JSON), found
		 * as a substring: no pattern syntax.  The two expressions are
		 * the backend's words (its driver's). */
		store_query_sql(&q, " AND ");
		store_query_sql(&q, st->drv->sql_find);
		store_query_sql(&q, "(");
		store_query_sql(&q, st->drv->sql_link);
		store_query_sql(&q, ", ");
		store_query_text(&q, f->link);
		store_query_sql(&q, ") > 0");
	}
	if (f->before_id > 0) {
		store_query_sql(&q, " AND o.id < ");
		store_query_int(&q, f->before_id);
	}
	if (f->after_id > 0) {
		store_query_sql(&q, " AND o.id > ");
		store_query_int(&q, f->after_id);
	}
	if (f->created_from > 0) {
		store_query_sql(&q, " AND o.created_at >= ");
		store_query_int(&q, f->created_from);
	}
	if (f->created_to > 0) {
		store_query_sql(&q, " AND o.created_at < ");
		store_query_int(&q, f->created_to);
	}
	store_query_sql(&q, f->ascending ? " ORDER BY o.id"
	                                 : " ORDER BY o.id DESC");
	store_query_page(&q, f->limit, f->offset);
	return store_query_run(st, NULL, &q, store_page_order, &pg);
}

int64_t
store_ledger_page(struct store *st, const struct ledger_page *f,
                  store_ledger_cb cb, void *arg)
{
	struct store_page pg = {(const void *)cb, arg, NULL, NULL, 0};
	struct store_query q;

	if (cb == NULL)
		return -1;
	store_query_init(&q, st->drv->dollar);
	store_query_sql(&q, "SELECT " LEDGER_COLS LEDGER_FROM " WHERE 1 = 1");
	if (f->customer_id > 0) {
		store_query_sql(&q, " AND l.customer_id = ");
		store_query_int(&q, f->customer_id);
	}
	if (f->order_id > 0) {
		store_query_sql(&q, " AND l.order_id = ");
		store_query_int(&q, f->order_id);
	}
	if (f->payments)
		store_query_sql(&q, " AND l.order_id IS NULL");
	store_query_sql(&q, " ORDER BY l.id DESC");
	store_query_page(&q, f->limit, f->offset);
	return store_query_run(st, NULL, &q, store_page_ledger, &pg);
}

/*
 * Operator keys and the audit trail: one statement each, in a
 * transaction of its own.
 */

/* Run Q, one write, in a transaction of its own: STORE_OK with *ROWS
 * changed, STORE_EXISTS on a unique constraint, STORE_ERROR. */
struct store_write_run {
	struct store *st;
	const struct store_query *q;
	int64_t rows;
};

static enum store_result
store_write_run_body(store_tx *tx, void *arg)
{
	struct store_write_run *w = arg;
	int64_t n = w->st->drv->exec(tx, w->q, NULL);

	if (n == STORE_EXEC_UNIQUE)
		return STORE_EXISTS;
	if (n < 0)
		return STORE_ERROR;
	w->rows = n;
	return STORE_OK;
}

enum store_result
store_query_write(struct store *st, const struct store_query *q, int64_t *rows)
{
	struct store_write_run w = {st, q, 0};
	enum store_result r;

	if (q->overflow)
		return STORE_ERROR;
	r = st->drv->run(st, store_write_run_body, &w);
	if (rows != NULL)
		*rows = w.rows;
	return r;
}

enum store_result
store_admin_key_add(struct store *st, const char *name, const uint8_t *key_hash,
                    int read_only)
{
	struct store_query q;

	store_query_init(&q, st->drv->dollar);
	store_query_sql(&q, "INSERT INTO admin_keys (name, key_hash, read_only,"
	                    " created_at) VALUES (");
	store_query_text(&q, name);
	store_query_sql(&q, ", ");
	store_query_hash(&q, key_hash);
	store_query_sql(&q, ", ");
	store_query_int(&q, read_only != 0);
	store_query_sql(&q, ", ");
	store_query_int(&q, (int64_t)time(NULL));
	store_query_sql(&q, ")");
	return store_query_write(st, &q, NULL);
}

enum store_result
store_admin_key_by_hash(struct store *st, const uint8_t *key_hash,
                        struct admin_key *out)
{
	struct store_page pg = {NULL, NULL, key_hash, out, 0};
	struct store_query q;

	store_query_init(&q, st->drv->dollar);
	store_query_sql(&q, "SELECT " ADMIN_KEY_COLS " FROM admin_keys"
	                    " WHERE revoked_at = 0 AND key_hash = ");
	store_query_hash(&q, key_hash);
	if (store_query_run(st, NULL, &q, store_page_admin_key, &pg) < 0)
		return STORE_ERROR;
	return pg.found ? STORE_OK : STORE_NOTFOUND;
}

enum store_result
store_admin_key_revoke(struct store *st, const char *name)
{
	struct store_query q;
	enum store_result r;
	int64_t rows = 0;

	store_query_init(&q, st->drv->dollar);
	store_query_sql(&q, "UPDATE admin_keys SET revoked_at = ");
	store_query_int(&q, (int64_t)time(NULL));
	store_query_sql(&q, " WHERE revoked_at = 0 AND name = ");
	store_query_text(&q, name);
	r = store_query_write(st, &q, &rows);
	if (r == STORE_OK && rows == 0)
		return STORE_NOTFOUND;
	return r;
}

int64_t
store_admin_key_list(struct store *st, store_admin_key_cb cb, void *arg)
{
	struct store_page pg = {(const void *)cb, arg, NULL, NULL, 0};
	struct store_query q;

	store_query_init(&q, st->drv->dollar);
	store_query_sql(&q, "SELECT " ADMIN_KEY_COLS " FROM admin_keys"
	                    " ORDER BY id");
	return store_query_run(st, NULL, &q, store_page_admin_key, &pg);
}

enum store_result
store_audit_add(struct store *st, const struct audit_entry *e)
{
	struct store_query q;

	store_audit_query(&q, st->drv->dollar, e);
	return store_query_write(st, &q, NULL);
}

/* The INSERT of audit entry E. */
static void
store_audit_query(struct store_query *q, int dollar,
                  const struct audit_entry *e)
{
	store_query_init(q, dollar);
	store_query_sql(q, "INSERT INTO audit (created_at, actor, action,"
	                   " target, detail, result) VALUES (");
	store_query_int(q, e->created_at > 0 ? e->created_at
	                                     : (int64_t)time(NULL));
	store_query_sql(q, ", ");
	store_query_text(q, e->actor);
	store_query_sql(q, ", ");
	store_query_text(q, e->action);
	store_query_sql(q, ", ");
	store_query_text(q, e->target);
	store_query_sql(q, ", ");
	store_query_text(q, e->detail);
	store_query_sql(q, ", ");
	store_query_text(q, e->result);
	store_query_sql(q, ")");
}

int64_t
store_audit_page(struct store *st, const struct audit_page *f,
                 store_audit_cb cb, void *arg)
{
	struct store_page pg = {(const void *)cb, arg, NULL, NULL, 0};
	struct store_query q;

	store_query_init(&q, st->drv->dollar);
	store_query_sql(&q, "SELECT " AUDIT_COLS " FROM audit WHERE 1 = 1");
	if (f->actor != NULL) {
		store_query_sql(&q, " AND actor = ");
		store_query_text(&q, f->actor);
	}
	store_query_sql(&q, " ORDER BY id DESC");
	store_query_page(&q, f->limit, f->offset);
	return store_query_run(st, NULL, &q, store_page_audit, &pg);
}

/*
 * Monitoring.
 */

struct store_usage {
	store_usage_cb cb;
	void *arg;
};

static int
store_page_usage(const struct store_driver *d, store_row *row, void *arg)
{
	struct store_usage *su = arg;
	struct upstream_usage u;

	memset(&u, 0, sizeof(u));
	d->col_text(row, 0, u.upstream, sizeof(u.upstream));
	u.active = d->col_int(row, 1, 0);
	u.oldest_poll_ms = d->col_int(row, 2, 0);
	u.cost = d->col_int(row, 3, 0);
	return su->cb(&u, su->arg);
}

int64_t
store_upstream_usage(struct store *st, store_usage_cb cb, void *arg)
{
	struct store_usage su = {cb, arg};
	struct store_query q;

	/* One pass over the orders, as the ledger totals make: a scrape
	 * every 15 s is far from the store's load. */
	store_query_init(&q, st->drv->dollar);
	store_query_sql(&q,
	                "SELECT upstream,"
	                " SUM(CASE WHEN state = 'active' THEN 1 ELSE 0 END),"
	                " MIN(CASE WHEN state = 'active' THEN polled_at END),"
	                " SUM(COALESCE(cost, 0))"
	                " FROM orders GROUP BY upstream ORDER BY upstream");
	return store_query_run(st, NULL, &q, store_page_usage, &su);
}

struct store_buckets {
	store_bucket_cb cb;
	void *arg;
	int64_t bucket;
};

static int
store_bucket_row(const struct store_driver *d, store_row *row, void *arg)
{
	struct store_buckets *sb = arg;
	struct order_bucket b = {d->col_int(row, 0, 0) * sb->bucket,
	                         d->col_int(row, 1, 0), d->col_int(row, 2, 0),
	                         d->col_int(row, 3, 0)};

	return sb->cb(&b, sb->arg);
}

int64_t
store_order_buckets(struct store *st, int64_t from, int64_t bucket,
                    store_bucket_cb cb, void *arg)
{
	struct store_buckets sb = {cb, arg, bucket};
	struct store_query q;
	char sql[256];

	if (bucket <= 0)
		return -1;
	/* integer division in both dialects (the columns are integers); the
	 * bucket is our own number, a literal */
	snprintf(sql, sizeof(sql),
	         "SELECT created_at / %lld, COUNT(*), SUM(charge - refunded),"
	         " SUM(COALESCE(cost, 0)) FROM orders WHERE created_at >= ",
	         (long long)bucket);
	store_query_init(&q, st->drv->dollar);
	store_query_sql(&q, sql);
	store_query_int(&q, from);
	snprintf(sql, sizeof(sql), " GROUP BY created_at / %lld ORDER BY 1",
	         (long long)bucket);
	store_query_sql(&q, sql);
	return store_query_run(st, NULL, &q, store_bucket_row, &sb);
}
