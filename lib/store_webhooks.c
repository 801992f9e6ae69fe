/* store_webhooks.c - customers' webhooks and their outbox, written once for
 * every backend (statements built here, run through the driver).
 *
 * An event is a row per endpoint that wants it, inserted by the statement
 * that reads what it reports (INSERT ... SELECT from the order, refill or
 * customer and the customer's endpoints) inside the transaction of the
 * change: it commits with the change or not at all, and a customer without
 * endpoints costs one indexed lookup.  Deliveries claim due rows with a
 * lease (next_at moves past the delivery's timeout), so a crash in flight
 * only delays the retry; one order's events to one endpoint go one at a
 * time, by id.  An acknowledged event is deleted; a dead one stays for the
 * operator. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "store.h"
#include "store_core.h"

#define EVENT_COLS                                                             \
	"e.id, e.endpoint_id, e.customer_id, e.type, e.order_id,"              \
	" e.refill_id, e.state, e.status, e.charge, e.refunded,"               \
	" e.start_count, e.remains, e.upstream_quantity, e.balance,"           \
	" e.threshold, e.created_at, e.attempts, e.last_error"
#define ENDPOINT_COLS                                                          \
	"w.id, w.customer_id, c.name, w.url, w.events, w.secret,"              \
	" w.old_secret, w.old_until, w.balance_below, w.created_at"

static const char *const webhook_names[] = {"order.accepted", "order.status",
                                            "refill.status", "balance.low"};

const char *
webhook_event_name(unsigned type)
{
	for (unsigned i = 0; i < 4; i++)
		if (type == (1u << i))
			return webhook_names[i];
	return "unknown";
}

unsigned
webhook_event_parse(const char *name)
{
	for (unsigned i = 0; i < 4; i++)
		if (strcmp(name, webhook_names[i]) == 0)
			return 1u << i;
	return 0;
}

/*
 * Events, inside the change's transaction.
 */

/* The columns every event insert starts with, and their first values: the
 * type as a literal (ours), creation (s) and first due time (ms). */
static void
event_insert_head(struct store_query *q, const char *cols, unsigned type)
{
	int64_t now = clock_wall_ms();

	store_query_sql(q, "INSERT INTO webhook_events (endpoint_id,"
	                   " customer_id, type, created_at, next_at");
	store_query_sql(q, cols);
	store_query_sql(q, ") SELECT w.id, w.customer_id, '");
	store_query_sql(q, webhook_event_name(type));
	store_query_sql(q, "', CAST(");
	store_query_int(q, now / 1000);
	store_query_sql(q, " AS BIGINT), CAST(");
	store_query_int(q, now);
	store_query_sql(q, " AS BIGINT)");
}

/* " (w.events & TYPE) <> 0" */
static void
event_wanted(struct store_query *q, unsigned type)
{
	char lit[48];

	snprintf(lit, sizeof(lit), " AND (w.events & %u) <> 0", type);
	store_query_sql(q, lit);
}

static int
event_exec(struct store *st, store_tx *tx, const struct store_query *q)
{
	if (q->overflow)
		return -1;
	return st->drv->exec(tx, q, NULL) < 0 ? -1 : 0;
}

int
store_core_event_order(struct store *st, store_tx *tx, int64_t id,
                       unsigned type)
{
	struct store_query q;

	store_query_init(&q, st->drv->dollar);
	event_insert_head(&q,
	                  ", order_id, state, status, charge, refunded,"
	                  " start_count, remains, upstream_quantity",
	                  type);
	store_query_sql(&q, ", o.id, o.state, o.upstream_status, o.charge,"
	                    " o.refunded, o.start_count, o.remains,"
	                    " o.upstream_quantity FROM orders o JOIN webhooks w"
	                    " ON w.customer_id = o.customer_id WHERE o.id = ");
	store_query_int(&q, id);
	event_wanted(&q, type);
	return event_exec(st, tx, &q);
}

int
store_core_event_refill(struct store *st, store_tx *tx, int64_t id)
{
	struct store_query q;

	store_query_init(&q, st->drv->dollar);
	event_insert_head(&q, ", order_id, refill_id, status",
	                  WEBHOOK_EV_REFILL);
	store_query_sql(&q, ", r.order_id, r.id, r.status FROM refills r"
	                    " JOIN webhooks w ON w.customer_id = r.customer_id"
	                    " WHERE r.status IS NOT NULL AND r.id = ");
	store_query_int(&q, id);
	event_wanted(&q, WEBHOOK_EV_REFILL);
	return event_exec(st, tx, &q);
}

int
store_core_event_balance(struct store *st, store_tx *tx, int64_t customer_id,
                         money_t debited)
{
	struct store_query q;

	store_query_init(&q, st->drv->dollar);
	event_insert_head(&q, ", balance, threshold", WEBHOOK_EV_BALANCE);
	store_query_sql(&q, ", c.balance, w.balance_below FROM customers c"
	                    " JOIN webhooks w ON w.customer_id = c.id"
	                    " WHERE c.id = ");
	store_query_int(&q, customer_id);
	event_wanted(&q, WEBHOOK_EV_BALANCE);
	store_query_sql(&q, " AND w.balance_below IS NOT NULL"
	                    " AND c.balance < w.balance_below"
	                    " AND c.balance + ");
	store_query_int(&q, debited);
	store_query_sql(&q, " >= w.balance_below");
	return event_exec(st, tx, &q);
}

/*
 * Endpoints.
 */

struct endpoint_add {
	struct store *st;
	const struct webhook_endpoint *e;
	int64_t id;
};

static enum store_result
endpoint_add_body(store_tx *tx, void *arg)
{
	struct endpoint_add *a = arg;
	const struct webhook_endpoint *e = a->e;
	const struct store_driver *d = a->st->drv;
	struct store_query q;
	enum store_result r;

	if ((r = d->customer_exists(tx, e->customer_id)) != STORE_OK)
		return r;
	store_query_init(&q, d->dollar);
	store_query_sql(&q, "INSERT INTO webhooks (customer_id, url, events,"
	                    " secret, balance_below, created_at) VALUES (");
	store_query_int(&q, e->customer_id);
	store_query_sql(&q, ", ");
	store_query_text(&q, e->url);
	store_query_sql(&q, ", ");
	store_query_int(&q, e->events);
	store_query_sql(&q, ", ");
	store_query_text(&q, e->secret);
	store_query_sql(&q, ", ");
	if (e->balance_below >= 0)
		store_query_int(&q, e->balance_below);
	else
		store_query_text(&q, NULL);
	store_query_sql(&q, ", ");
	store_query_int(&q, (int64_t)time(NULL));
	store_query_sql(&q, ")");
	if (q.overflow || d->exec(tx, &q, &a->id) != 1)
		return STORE_ERROR;
	return STORE_OK;
}

enum store_result
store_webhook_add(struct store *st, const struct webhook_endpoint *e,
                  int64_t *id)
{
	struct endpoint_add a = {st, e, 0};
	enum store_result r = st->drv->run(st, endpoint_add_body, &a);

	if (r == STORE_OK)
		*id = a.id;
	return r;
}

struct endpoint_rows {
	store_webhook_cb cb;
	void *arg;
	struct webhook_endpoint *one;
};

static int
endpoint_row(const struct store_driver *d, store_row *row, void *arg)
{
	struct endpoint_rows *er = arg;
	struct webhook_endpoint e;

	memset(&e, 0, sizeof(e));
	e.id = d->col_int(row, 0, 0);
	e.customer_id = d->col_int(row, 1, 0);
	d->col_text(row, 2, e.customer, sizeof(e.customer));
	d->col_text(row, 3, e.url, sizeof(e.url));
	e.events = (unsigned)d->col_int(row, 4, 0);
	d->col_text(row, 5, e.secret, sizeof(e.secret));
	d->col_text(row, 6, e.old_secret, sizeof(e.old_secret));
	e.old_until = d->col_int(row, 7, 0);
	e.balance_below = d->col_int(row, 8, -1);
	e.created_at = d->col_int(row, 9, 0);
	e.pending = d->col_int(row, 10, 0);
	e.dead = d->col_int(row, 11, 0);
	if (er->one != NULL) {
		*er->one = e;
		return 1;
	}
	return er->cb(&e, er->arg);
}

/* The endpoints' SELECT with their pending and dead counts. */
static void
endpoint_select(struct store_query *q)
{
	store_query_sql(q, "SELECT " ENDPOINT_COLS ","
	                   " (SELECT COUNT(*) FROM webhook_events e WHERE"
	                   " e.endpoint_id = w.id AND e.delivery = 'pending'),"
	                   " (SELECT COUNT(*) FROM webhook_events e WHERE"
	                   " e.endpoint_id = w.id AND e.delivery = 'dead')"
	                   " FROM webhooks w JOIN customers c"
	                   " ON c.id = w.customer_id");
}

enum store_result
store_webhook_get(struct store *st, int64_t id, struct webhook_endpoint *out)
{
	struct endpoint_rows er = {NULL, NULL, out};
	struct store_query q;
	int64_t n;

	store_query_init(&q, st->drv->dollar);
	endpoint_select(&q);
	store_query_sql(&q, " WHERE w.id = ");
	store_query_int(&q, id);
	if ((n = store_query_run(st, NULL, &q, endpoint_row, &er)) < 0)
		return STORE_ERROR;
	return n == 0 ? STORE_NOTFOUND : STORE_OK;
}

int64_t
store_webhook_list(struct store *st, int64_t customer_id, store_webhook_cb cb,
                   void *arg)
{
	struct endpoint_rows er = {cb, arg, NULL};
	struct store_query q;

	store_query_init(&q, st->drv->dollar);
	endpoint_select(&q);
	if (customer_id > 0) {
		store_query_sql(&q, " WHERE w.customer_id = ");
		store_query_int(&q, customer_id);
	}
	store_query_sql(&q, " ORDER BY w.id");
	return store_query_run(st, NULL, &q, endpoint_row, &er);
}

struct endpoint_remove {
	struct store *st;
	int64_t id;
};

static enum store_result
endpoint_remove_body(store_tx *tx, void *arg)
{
	struct endpoint_remove *r = arg;
	const struct store_driver *d = r->st->drv;
	struct store_query q;
	int64_t n;

	store_query_init(&q, d->dollar);
	store_query_sql(&q, "DELETE FROM webhook_events WHERE endpoint_id = ");
	store_query_int(&q, r->id);
	if (d->exec(tx, &q, NULL) < 0)
		return STORE_ERROR;
	store_query_init(&q, d->dollar);
	store_query_sql(&q, "DELETE FROM webhooks WHERE id = ");
	store_query_int(&q, r->id);
	if ((n = d->exec(tx, &q, NULL)) < 0)
		return STORE_ERROR;
	return n == 1 ? STORE_OK : STORE_NOTFOUND;
}

enum store_result
store_webhook_remove(struct store *st, int64_t id)
{
	struct endpoint_remove r = {st, id};

	return st->drv->run(st, endpoint_remove_body, &r);
}

/* A write that must change one row: STORE_NOTFOUND when it changed none. */
static enum store_result
write_one(struct store *st, const struct store_query *q)
{
	enum store_result r;
	int64_t rows = 0;

	if ((r = store_query_write(st, q, &rows)) != STORE_OK)
		return r;
	return rows == 1 ? STORE_OK : STORE_NOTFOUND;
}

enum store_result
store_webhook_rotate(struct store *st, int64_t id, const char *secret,
                     int64_t old_until)
{
	struct store_query q;

	store_query_init(&q, st->drv->dollar);
	store_query_sql(&q, "UPDATE webhooks SET old_secret = secret,"
	                    " old_until = ");
	store_query_int(&q, old_until);
	store_query_sql(&q, ", secret = ");
	store_query_text(&q, secret);
	store_query_sql(&q, " WHERE id = ");
	store_query_int(&q, id);
	return write_one(st, &q);
}

/*
 * Deliveries.
 */

static void
event_read(const struct store_driver *d, store_row *row,
           struct webhook_event *ev)
{
	char type[24], state[16];
	int s;

	memset(ev, 0, sizeof(*ev));
	ev->id = d->col_int(row, 0, 0);
	ev->endpoint_id = d->col_int(row, 1, 0);
	ev->customer_id = d->col_int(row, 2, 0);
	d->col_text(row, 3, type, sizeof(type));
	ev->type = webhook_event_parse(type);
	ev->order.id = d->col_int(row, 4, 0);
	ev->order.customer_id = ev->customer_id;
	ev->refill_id = d->col_int(row, 5, 0);
	d->col_text(row, 6, state, sizeof(state));
	s = order_state_parse(state);
	ev->order.state = s < 0 ? ORDER_QUEUED : (enum order_state)s;
	d->col_text(row, 7, ev->status, sizeof(ev->status));
	memcpy(ev->order.upstream_status, ev->status,
	       sizeof(ev->order.upstream_status));
	ev->order.upstream_status[sizeof(ev->order.upstream_status) - 1] = '\0';
	ev->order.charge = d->col_int(row, 8, 0);
	ev->order.refunded = d->col_int(row, 9, 0);
	ev->order.start_count = d->col_int(row, 10, -1);
	ev->order.remains = d->col_int(row, 11, -1);
	ev->order.upstream_quantity = d->col_int(row, 12, 0);
	ev->balance = d->col_int(row, 13, 0);
	ev->threshold = d->col_int(row, 14, 0);
	ev->created_at = d->col_int(row, 15, 0);
	ev->attempts = d->col_int(row, 16, 0);
	d->col_text(row, 17, ev->last_error, sizeof(ev->last_error));
}

#define CLAIM_MAX 100

struct claim {
	struct store *st;
	int64_t now_ms, lease_ms, limit;
	int each;
	const struct webhook_busy *busy;
	size_t nbusy;
	struct webhook_event *v;
	size_t n;
};

/* Deliveries of ENDPOINT in flight, and claimed so far by C. */
static int
claim_load(const struct claim *c, int64_t endpoint)
{
	int n = 0;

	for (size_t i = 0; i < c->nbusy; i++)
		if (c->busy[i].endpoint == endpoint)
			n += c->busy[i].inflight;
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].endpoint_id == endpoint)
			n++;
	return n;
}

static int
claim_row(const struct store_driver *d, store_row *row, void *arg)
{
	struct claim *c = arg;
	struct webhook_event *ev = &c->v[c->n];

	event_read(d, row, ev);
	if (claim_load(c, ev->endpoint_id) >= c->each)
		return 0; /* its endpoint is at its cap: left unclaimed */
	ev->attempts++;
	d->col_text(row, 18, ev->url, sizeof(ev->url));
	d->col_text(row, 19, ev->secret, sizeof(ev->secret));
	d->col_text(row, 20, ev->old_secret, sizeof(ev->old_secret));
	ev->old_until = d->col_int(row, 21, 0);
	c->n++;
	return (int64_t)c->n == c->limit;
}

static enum store_result
claim_body(store_tx *tx, void *arg)
{
	struct claim *c = arg;
	const struct store_driver *d = c->st->drv;
	struct store_query q;
	size_t k = 0;

	c->n = 0;
	store_query_init(&q, d->dollar);
	store_query_sql(&q, "SELECT " EVENT_COLS ", w.url, w.secret,"
	                    " w.old_secret, w.old_until FROM webhook_events e"
	                    " JOIN webhooks w ON w.id = e.endpoint_id"
	                    " WHERE e.delivery = 'pending' AND e.next_at <= ");
	store_query_int(&q, c->now_ms);
	/* the endpoints at their cap, as literals (our own integers, up to
	 * max_connections of them) */
	for (size_t i = 0; i < c->nbusy; i++) {
		char id[40];

		if (c->busy[i].inflight < c->each)
			continue;
		snprintf(id, sizeof(id), "%s%lld",
		         k++ == 0 ? " AND e.endpoint_id NOT IN (" : ", ",
		         (long long)c->busy[i].endpoint);
		store_query_sql(&q, id);
	}
	if (k > 0)
		store_query_sql(&q, ")");
	store_query_sql(&q, " AND NOT EXISTS (SELECT 1 FROM webhook_events p"
	                    " WHERE p.endpoint_id = e.endpoint_id"
	                    " AND p.order_id = e.order_id"
	                    " AND p.delivery = 'pending' AND p.id < e.id)"
	                    " ORDER BY e.next_at, e.id LIMIT ");
	/* room for rows of endpoints at their cap met on the way */
	store_query_int(&q, CLAIM_MAX);
	if (c->st->shared)
		store_query_sql(&q, " FOR UPDATE OF e SKIP LOCKED");
	if (store_query_run(c->st, tx, &q, claim_row, c) < 0)
		return STORE_ERROR;
	if (c->n == 0)
		return STORE_OK;
	store_query_init(&q, d->dollar);
	store_query_sql(&q, "UPDATE webhook_events SET attempts = attempts + 1,"
	                    " next_at = ");
	store_query_int(&q, c->now_ms + c->lease_ms);
	store_query_sql(&q, " WHERE id IN (");
	for (size_t i = 0; i < c->n; i++) {
		if (i > 0)
			store_query_sql(&q, ", ");
		store_query_int(&q, c->v[i].id);
	}
	store_query_sql(&q, ")");
	if (q.overflow || d->exec(tx, &q, NULL) != (int64_t)c->n)
		return STORE_ERROR;
	return STORE_OK;
}

int64_t
store_webhook_claim(struct store *st, int64_t now_ms, int64_t lease_ms,
                    int64_t limit, int each, const struct webhook_busy *busy,
                    size_t nbusy, store_event_cb cb, void *arg)
{
	struct webhook_event v[CLAIM_MAX];
	struct claim c = {st, now_ms, lease_ms, limit, each, busy, nbusy, v, 0};

	if (limit <= 0 || each <= 0)
		return 0;
	if (c.limit > CLAIM_MAX)
		c.limit = CLAIM_MAX;
	if (st->drv->run(st, claim_body, &c) != STORE_OK)
		return -1;
	for (size_t i = 0; i < c.n; i++)
		if (cb(&v[i], arg) != 0)
			break;
	return (int64_t)c.n;
}

/* The statement recording outcome O. */
static void
outcome_query(struct store_query *q, int dollar,
              const struct webhook_outcome *o)
{
	store_query_init(q, dollar);
	if (o->delivered) {
		store_query_sql(q, "DELETE FROM webhook_events WHERE id = ");
		store_query_int(q, o->id);
		return;
	}
	store_query_sql(q, "UPDATE webhook_events SET last_error = ");
	store_query_text(q, o->why);
	if (o->dead) {
		store_query_sql(q, ", delivery = 'dead', done_at = ");
		store_query_int(q, (int64_t)time(NULL));
	} else {
		store_query_sql(q, ", next_at = ");
		store_query_int(q, o->next_ms);
	}
	store_query_sql(q, " WHERE delivery = 'pending' AND id = ");
	store_query_int(q, o->id);
}

struct settle {
	struct store *st;
	const struct webhook_outcome *v;
	size_t n;
};

static enum store_result
settle_body(store_tx *tx, void *arg)
{
	struct settle *se = arg;
	const struct store_driver *d = se->st->drv;
	struct store_query q;

	for (size_t i = 0; i < se->n; i++) {
		outcome_query(&q, d->dollar, &se->v[i]);
		if (q.overflow || d->exec(tx, &q, NULL) < 0)
			return STORE_ERROR;
	}
	return STORE_OK;
}

enum store_result
store_webhook_settle(struct store *st, const struct webhook_outcome *v,
                     size_t n)
{
	struct settle se = {st, v, n};

	return n == 0 ? STORE_OK : st->drv->run(st, settle_body, &se);
}

enum store_result
store_webhook_delivered(struct store *st, int64_t id)
{
	struct webhook_outcome o = {id, 1, 0, 0, ""};
	struct store_query q;

	outcome_query(&q, st->drv->dollar, &o);
	return write_one(st, &q);
}

enum store_result
store_webhook_failed(struct store *st, int64_t id, int64_t next_ms,
                     const char *why, int dead)
{
	struct webhook_outcome o = {id, 0, dead, next_ms, ""};
	struct store_query q;

	snprintf(o.why, sizeof(o.why), "%s", why != NULL ? why : "");
	outcome_query(&q, st->drv->dollar, &o);
	return write_one(st, &q);
}

struct dead_rows {
	store_event_cb cb;
	void *arg;
};

static int
dead_row(const struct store_driver *d, store_row *row, void *arg)
{
	struct dead_rows *dr = arg;
	struct webhook_event ev;

	event_read(d, row, &ev);
	d->col_text(row, 18, ev.url, sizeof(ev.url));
	return dr->cb(&ev, dr->arg);
}

int64_t
store_webhook_dead(struct store *st, int64_t limit, store_event_cb cb,
                   void *arg)
{
	struct dead_rows dr = {cb, arg};
	struct store_query q;

	if (limit <= 0 || limit > STORE_PAGE_MAX)
		limit = STORE_PAGE_MAX;
	store_query_init(&q, st->drv->dollar);
	store_query_sql(&q, "SELECT " EVENT_COLS ", w.url FROM webhook_events e"
	                    " JOIN webhooks w ON w.id = e.endpoint_id"
	                    " WHERE e.delivery = 'dead' ORDER BY e.id DESC"
	                    " LIMIT ");
	store_query_int(&q, limit);
	return store_query_run(st, NULL, &q, dead_row, &dr);
}

int64_t
store_webhook_retry(struct store *st, int64_t id, int64_t now_ms)
{
	struct store_query q;
	int64_t rows = 0;

	store_query_init(&q, st->drv->dollar);
	store_query_sql(&q, "UPDATE webhook_events SET delivery = 'pending',"
	                    " done_at = 0, next_at = ");
	store_query_int(&q, now_ms);
	/* a fresh max_age: the operator's retry is a new start */
	store_query_sql(&q, ", created_at = ");
	store_query_int(&q, now_ms / 1000);
	store_query_sql(&q, " WHERE delivery = 'dead'");
	if (id > 0) {
		store_query_sql(&q, " AND id = ");
		store_query_int(&q, id);
	}
	if (store_query_write(st, &q, &rows) != STORE_OK)
		return -1;
	return rows;
}

struct counts {
	int64_t pending, dead, oldest;
};

static int
counts_row(const struct store_driver *d, store_row *row, void *arg)
{
	struct counts *c = arg;
	char state[16];

	d->col_text(row, 0, state, sizeof(state));
	if (strcmp(state, "pending") == 0) {
		c->pending = d->col_int(row, 1, 0);
		c->oldest = d->col_int(row, 2, 0);
	} else if (strcmp(state, "dead") == 0)
		c->dead = d->col_int(row, 1, 0);
	return 0;
}

enum store_result
store_webhook_counts(struct store *st, int64_t *pending, int64_t *dead,
                     int64_t *oldest)
{
	struct counts c = {0, 0, 0};
	struct store_query q;

	store_query_init(&q, st->drv->dollar);
	store_query_sql(&q, "SELECT delivery, COUNT(*), MIN(created_at)"
	                    " FROM webhook_events GROUP BY delivery");
	if (store_query_run(st, NULL, &q, counts_row, &c) < 0)
		return STORE_ERROR;
	*pending = c.pending;
	*dead = c.dead;
	*oldest = c.oldest;
	return STORE_OK;
}
