/* store_core.c - the store's money and state rules over a backend's driver
 * (store_core.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"
#include "store_core.h"
#include "xmalloc.h"

#define F(s) STORE_FROM(s)

const struct store_transition store_transitions[STORE_MOVE_COUNT] = {
    [STORE_MOVE_SEND] = {F(ORDER_QUEUED), ORDER_SENDING},
    [STORE_MOVE_RESEND] = {F(ORDER_SENDING), ORDER_SENDING},
    [STORE_MOVE_UNSENT] = {F(ORDER_SENDING), ORDER_QUEUED},
    [STORE_MOVE_ACCEPT] = {F(ORDER_SENDING), ORDER_ACTIVE},
    [STORE_MOVE_REJECT] = {F(ORDER_QUEUED) | F(ORDER_SENDING), ORDER_REJECTED},
    [STORE_MOVE_DISOWN] = {F(ORDER_SENDING), ORDER_REJECTED},
    [STORE_MOVE_SETTLE] = {F(ORDER_ACTIVE), -1},
};

int
store_core_allowed(enum store_move move, enum order_state from,
                   enum order_state to)
{
	const struct store_transition *t;

	if ((unsigned)move >= STORE_MOVE_COUNT ||
	    (unsigned)from >= ORDER_STATE_COUNT)
		return 0;
	t = &store_transitions[move];
	if ((t->from & F(from)) == 0)
		return 0;
	if (t->to < 0)
		return order_state_final(to);
	return (int)to == t->to;
}

void
store_core_from(enum store_move move, const char **from1, const char **from2)
{
	unsigned from = store_transitions[move].from;
	int n = 0;

	*from1 = *from2 = NULL;
	for (int s = 0; s < ORDER_STATE_COUNT; s++) {
		if ((from & F(s)) == 0)
			continue;
		if (n++ == 0)
			*from1 = order_state_name((enum order_state)s);
		else
			*from2 = order_state_name((enum order_state)s);
	}
	if (*from2 == NULL)
		*from2 = *from1;
}

/* Insert O; with the same-link guard's reroute, on the first of its
 * upstreams without an open order for the link. */
static enum store_result
store_core_insert(const struct store_driver *d, store_tx *tx,
                  const struct order_new *o, int64_t *oid)
{
	enum order_state state = o->sending ? ORDER_SENDING : ORDER_QUEUED;
	struct order_new alt;
	enum store_result r;

	r = d->order_insert(tx, o, state, oid);
	if (o->alt_chosen != NULL)
		*o->alt_chosen = 0;
	if (r != STORE_LINK || !o->link_reroute)
		return r;
	alt = *o;
	for (size_t i = 1; i < o->nalt; i++) {
		alt.upstream = o->alt_upstreams[i];
		alt.upstream_service = o->alt_services[i];
		alt.route_idx = (int)i;
		r = d->order_insert(tx, &alt, state, oid);
		if (r != STORE_LINK) {
			if (r == STORE_OK && o->alt_chosen != NULL)
				*o->alt_chosen = (int)i;
			return r;
		}
	}
	return STORE_LINK;
}

enum store_result
store_core_create_one(struct store *st, store_tx *tx, const struct order_new *o,
                      int64_t *id)
{
	const struct store_driver *d = st->drv;
	enum store_result r;
	int64_t oid;

	if (o->charge <= 0 || o->quantity <= 0 || o->upstream_quantity <= 0)
		return STORE_CONFLICT; /* never a free order */
	if (o->request_id != NULL &&
	    (r = d->order_by_request(tx, o, id)) != STORE_NOTFOUND)
		return r;
	switch (d->debit(tx, o->customer_id, o->charge)) {
	case 1:
		break;
	case 0:
		return STORE_NOFUNDS;
	default:
		return STORE_ERROR;
	}
	r = store_core_insert(d, tx, o, &oid);
	if (r == STORE_LINK) {
		/* The same-link guard refused it: nothing of it stays. */
		if (d->balance_add(tx, o->customer_id, o->charge) != 1)
			return STORE_ERROR;
		return STORE_LINK;
	}
	if (r == STORE_EXISTS) {
		/* Another transaction committed the same request since the
		 * lookup: give the debit back, answer with its order. */
		if (d->balance_add(tx, o->customer_id, o->charge) != 1)
			return STORE_ERROR;
		r = d->order_by_request(tx, o, id);
		return r == STORE_NOTFOUND ? STORE_ERROR : r;
	}
	if (r != STORE_OK)
		return STORE_ERROR;
	if (d->ledger_insert(tx, o->customer_id, LEDGER_CHARGE, -o->charge, oid,
	                     NULL) != 0)
		return STORE_ERROR;
	if (st->events &&
	    store_core_event_balance(st, tx, o->customer_id, o->charge) != 0)
		return STORE_ERROR;
	*id = oid;
	return STORE_OK;
}

/* Inside TX: move open order O to FINAL by MOVE and write its refund.  The
 * state condition makes it happen once: a concurrent settlement finds the
 * order final. */
static enum store_result
store_core_settle(const struct store_driver *d, store_tx *tx, int decimals,
                  const struct order *o, enum store_move move,
                  enum order_state final, const char *status)
{
	enum store_result r;
	money_t refund;

	if (!store_core_allowed(move, o->state, final) &&
	    (store_transitions[move].from & F(o->state)) != 0)
		return STORE_ERROR; /* a final state the move cannot reach */
	if (store_refund_for(decimals, final, o->charge, o->upstream_quantity,
	                     o->remains, &refund) != 0)
		return STORE_ERROR;
	if ((r = d->order_final(tx, o->id, move, final, status, refund)) !=
	    STORE_OK)
		return r;
	if (refund == 0)
		return STORE_OK;
	if (d->balance_add(tx, o->customer_id, refund) != 1)
		return STORE_ERROR;
	if (d->ledger_insert(tx, o->customer_id, LEDGER_REFUND, refund, o->id,
	                     NULL) != 0)
		return STORE_ERROR;
	return STORE_OK;
}

struct store_core_post {
	struct store *st;
	const struct store_driver *d;
	int64_t customer_id;
	enum ledger_kind kind;
	money_t amount;
	const char *note;
	money_t balance;
};

static enum store_result
store_core_post_body(store_tx *tx, void *arg)
{
	struct store_core_post *p = arg;
	enum store_result r;

	switch (p->d->balance_post(tx, p->customer_id, p->amount,
	                           STORE_BALANCE_MAX, &p->balance)) {
	case 1:
		break;
	case 0:
		r = p->d->customer_exists(tx, p->customer_id);
		return r != STORE_OK   ? r
		       : p->amount > 0 ? STORE_LIMIT
		                       : STORE_NOFUNDS;
	default:
		return STORE_ERROR;
	}
	if (p->d->ledger_insert(tx, p->customer_id, p->kind, p->amount, 0,
	                        p->note) != 0)
		return STORE_ERROR;
	if (p->amount < 0 && p->st->events &&
	    store_core_event_balance(p->st, tx, p->customer_id, -p->amount) !=
	        0)
		return STORE_ERROR;
	return STORE_OK;
}

enum store_result
store_core_ledger_post(struct store *st, int64_t customer_id,
                       enum ledger_kind kind, money_t amount, const char *note,
                       money_t *new_balance)
{
	struct store_core_post p = {st,   st->drv, customer_id, kind, amount,
	                            note, 0};
	enum store_result r;

	if (amount == 0 || (kind == LEDGER_DEPOSIT && amount < 0) ||
	    kind == LEDGER_CHARGE || kind == LEDGER_REFUND)
		return STORE_ERROR; /* order money moves through orders */
	r = st->drv->run(st, store_core_post_body, &p);
	if (r == STORE_OK && new_balance != NULL)
		*new_balance = p.balance;
	return r;
}

struct store_core_reject {
	struct store *st;
	int64_t id;
	const char *why;
	enum store_move move;
};

static enum store_result
store_core_reject_body(store_tx *tx, void *arg)
{
	struct store_core_reject *j = arg;
	const struct store_driver *d = j->st->drv;
	enum store_result r;
	struct order o;

	if ((r = d->order_read(tx, j->id, &o)) != STORE_OK)
		return r;
	if ((r = store_core_settle(d, tx, j->st->decimals, &o, j->move,
	                           ORDER_REJECTED, j->why)) != STORE_OK)
		return r;
	if (j->st->events &&
	    store_core_event_order(j->st, tx, j->id, WEBHOOK_EV_STATUS) != 0)
		return STORE_ERROR;
	return STORE_OK;
}

enum store_result
store_core_order_reject(struct store *st, int64_t id, const char *why)
{
	struct store_core_reject j = {st, id, why, STORE_MOVE_REJECT};

	return st->drv->run(st, store_core_reject_body, &j);
}

struct store_core_status {
	struct store *st;
	int64_t id;
	const struct order_update *u;
};

static enum store_result
store_core_status_body(store_tx *tx, void *arg)
{
	struct store_core_status *p = arg;
	const struct store_driver *d = p->st->drv;
	const struct order_update *u = p->u;
	enum store_result r;
	struct order o;

	if ((r = d->order_observe(tx, p->id, u)) != STORE_OK)
		return r; /* not active: final already, or never sent */
	if (u->final_state >= ORDER_COMPLETED) {
		/* The update holds the row: this read is what settles. */
		if ((r = d->order_read(tx, p->id, &o)) != STORE_OK)
			return r;
		if ((r = store_core_settle(d, tx, p->st->decimals, &o,
		                           STORE_MOVE_SETTLE,
		                           (enum order_state)u->final_state,
		                           u->status)) != STORE_OK)
			return r;
	}
	if (p->st->events && (u->notify || u->final_state >= ORDER_COMPLETED) &&
	    store_core_event_order(p->st, tx, p->id, WEBHOOK_EV_STATUS) != 0)
		return STORE_ERROR;
	return STORE_OK;
}

enum store_result
store_core_order_status(struct store *st, int64_t id,
                        const struct order_update *u)
{
	struct store_core_status p = {st, id, u};

	return st->drv->run(st, store_core_status_body, &p);
}

enum store_result
store_core_order_resolve(struct store *st, int64_t id,
                         const char *upstream_order)
{
	struct store_core_reject j = {st, id, "resolved: refunded",
	                              STORE_MOVE_DISOWN};
	enum store_result r;
	money_t cost = 0;

	if (upstream_order == NULL)
		return st->drv->run(st, store_core_reject_body, &j);
	st->ops->order_active_many(st, &id, &upstream_order, &cost, 1, &r);
	return r;
}

static int
store_core_last_row(const struct store_driver *d, store_row *row, void *arg)
{
	*(int64_t *)arg = d->col_int(row, 0, 0);
	return 1;
}

enum store_result
store_refill_last(struct store *st, int64_t order_id, int64_t *created_at)
{
	struct store_query q;

	*created_at = 0;
	store_query_init(&q, st->drv->dollar);
	store_query_sql(&q, "SELECT MAX(created_at) FROM refills"
	                    " WHERE state <> 'rejected' AND order_id = ");
	store_query_int(&q, order_id);
	return store_query_run(st, NULL, &q, store_core_last_row, created_at) <
	               0
	           ? STORE_ERROR
	           : STORE_OK;
}

/*
 * Refills: a status, and with events on its refill.status event, in one
 * transaction.
 */

struct refill_update {
	struct store *st;
	int64_t id;
	const char *state, *upstream_refill, *status;
	char was[32];
};

static int
refill_was_row(const struct store_driver *d, store_row *row, void *arg)
{
	struct refill_update *u = arg;

	d->col_text(row, 0, u->was, sizeof(u->was));
	return 1;
}

static enum store_result
refill_update_body(store_tx *tx, void *arg)
{
	struct refill_update *u = arg;
	const struct store_driver *d = u->st->drv;
	struct store_query q;
	int64_t n;

	u->was[0] = '\0';
	/* the status before, for the event (events on only) */
	store_query_init(&q, d->dollar);
	store_query_sql(&q, "SELECT status FROM refills WHERE id = ");
	store_query_int(&q, u->id);
	if (u->st->events &&
	    store_query_run(u->st, tx, &q, refill_was_row, u) < 0)
		return STORE_ERROR;
	store_query_init(&q, d->dollar);
	store_query_sql(&q, "UPDATE refills SET state = ");
	store_query_text(&q, u->state);
	store_query_sql(&q, ", upstream_refill = COALESCE(");
	store_query_text(&q, u->upstream_refill);
	store_query_sql(&q, ", upstream_refill), status = COALESCE(");
	store_query_text(&q, u->status);
	store_query_sql(&q, ", status), updated_at = ");
	store_query_int(&q, (int64_t)time(NULL));
	store_query_sql(&q, " WHERE id = ");
	store_query_int(&q, u->id);
	if (q.overflow || (n = d->exec(tx, &q, NULL)) < 0)
		return STORE_ERROR;
	if (n != 1)
		return STORE_CONFLICT;
	if (u->st->events && u->status != NULL &&
	    strcmp(u->status, u->was) != 0 &&
	    store_core_event_refill(u->st, tx, u->id) != 0)
		return STORE_ERROR;
	return STORE_OK;
}

enum store_result
store_core_refill_update(struct store *st, int64_t id, const char *state,
                         const char *upstream_refill, const char *status)
{
	struct refill_update u = {st, id, state, upstream_refill, status, ""};

	return st->drv->run(st, refill_update_body, &u);
}

/*
 * check.  The queries are written once for both SQL dialects: no column
 * alias in HAVING (PostgreSQL has none there), ORDER BY for a stable report.
 */
const struct store_invariant store_invariants[STORE_INVARIANT_COUNT] = {
    {"SELECT c.id, c.balance, COALESCE(SUM(l.amount), 0) AS ledger"
     " FROM customers c LEFT JOIN ledger l ON l.customer_id = c.id"
     " GROUP BY c.id HAVING c.balance <> COALESCE(SUM(l.amount), 0)"
     " ORDER BY c.id",
     "balance differs from its ledger: customer"},
    {"SELECT id, balance FROM customers WHERE balance < 0 ORDER BY id",
     "negative balance: customer"},
    {"SELECT o.id, o.charge, COUNT(l.id) AS charges,"
     " COALESCE(-SUM(l.amount), 0) AS charged"
     " FROM orders o LEFT JOIN ledger l"
     " ON l.order_id = o.id AND l.kind = 'charge'"
     " GROUP BY o.id HAVING COUNT(l.id) <> 1"
     " OR COALESCE(-SUM(l.amount), 0) <> o.charge ORDER BY o.id",
     "order without exactly one matching charge: order"},
    {"SELECT l.id, l.customer_id, o.customer_id AS owner"
     " FROM ledger l JOIN orders o ON o.id = l.order_id"
     " WHERE l.customer_id <> o.customer_id ORDER BY l.id",
     "ledger entry for another customer's order: entry"},
    {"SELECT o.id, o.refunded, COALESCE(SUM(l.amount), 0) AS ledger"
     " FROM orders o LEFT JOIN ledger l"
     " ON l.order_id = o.id AND l.kind = 'refund'"
     " GROUP BY o.id HAVING o.refunded <> COALESCE(SUM(l.amount), 0)"
     " ORDER BY o.id",
     "order's refund differs from its ledger: order"},
    {"SELECT l.id, l.order_id FROM ledger l"
     " LEFT JOIN orders o ON o.id = l.order_id"
     " WHERE l.order_id IS NOT NULL AND o.id IS NULL ORDER BY l.id",
     "ledger entry for a missing order: entry"},
};

void
store_core_check_add(struct store_core_check *c, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (c->n == c->cap) {
		c->cap = c->cap != 0 ? c->cap * 2 : 16;
		c->msgs = xreallocarray(c->msgs, c->cap, sizeof(*c->msgs));
	}
	c->msgs[c->n++] = xstrdup(buf);
}

void
store_core_check_row(struct store_core_check *c,
                     const struct store_invariant *inv, int64_t id, int n,
                     const char *const *names, const int64_t *vals)
{
	char extra[256] = "";
	size_t off = 0;

	for (int i = 0; i < n && off < sizeof(extra) - 1; i++) {
		int k = snprintf(extra + off, sizeof(extra) - off, " %s=%lld",
		                 names[i], (long long)vals[i]);
		if (k < 0)
			break;
		off += (size_t)k;
	}
	store_core_check_add(c, "%s %lld:%s", inv->msg, (long long)id, extra);
}

void
store_core_check_order(struct store_core_check *c, int decimals,
                       const struct order *o)
{
	money_t want;

	if (o->refunded > o->charge)
		store_core_check_add(c,
		                     "refund above charge: order %lld "
		                     "refunded=%lld charge=%lld",
		                     (long long)o->id, (long long)o->refunded,
		                     (long long)o->charge);
	else if (store_refund_expected(decimals, o, &want) != 0)
		store_core_check_add(c,
		                     "partial order without valid remains: "
		                     "order %lld remains=%lld "
		                     "upstream_quantity=%lld",
		                     (long long)o->id, (long long)o->remains,
		                     (long long)o->upstream_quantity);
	else if (o->refunded != want)
		store_core_check_add(c,
		                     "refund does not match final status: "
		                     "order %lld state=%s refunded=%lld "
		                     "expected=%lld",
		                     (long long)o->id,
		                     order_state_name(o->state),
		                     (long long)o->refunded, (long long)want);
}

void
store_core_check_clear(struct store_core_check *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->msgs[i]);
	c->n = 0;
}

int
store_core_check_done(struct store_core_check *c, int failed,
                      store_report_cb report, void *arg)
{
	int n = failed ? -1 : (int)c->n;

	if (!failed)
		for (size_t i = 0; i < c->n; i++)
			report(c->msgs[i], arg);
	store_core_check_clear(c);
	free(c->msgs);
	c->msgs = NULL;
	c->cap = 0;
	return n;
}
