/* store_pg_orders.c - orders and refills on PostgreSQL: the group commit
 * (customers locked in ID order), the transitions (their start states from
 * the core's table), the claims (FOR UPDATE SKIP LOCKED), reads and lists,
 * and the driver's order primitives. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "clock.h"
#include "log.h"
#include "pgpool.h"
#include "store.h"
#include "store_core.h"
#include "store_pg.h"
#include "xmalloc.h"

/*
 * Orders.
 */

/* The order of O's request_id: STORE_EXISTS (*ID set) when it has O's
 * hash, STORE_CONFLICT when another, STORE_NOTFOUND, STORE_ERROR. */
enum store_result
store_pg_orders_by_request(store_tx *t, const struct order_new *o, int64_t *id)
{
	struct pgargs a = {0};
	enum store_result r = STORE_NOTFOUND;
	PGresult *res;

	store_pg_arg_int(&a, o->customer_id);
	store_pg_arg_str(&a, o->request_id);
	res = store_pg_exec(t, "order by request",
	                    "SELECT id, request_hash FROM orders"
	                    " WHERE customer_id = $1 AND request_id = $2",
	                    &a);
	if (res == NULL)
		return STORE_ERROR;
	if (PQntuples(res) == 1) {
		*id = store_pg_int(res, 0, 0, 0);
		r = store_pg_hash_equal(res, 0, 1, o->request_hash)
		        ? STORE_EXISTS
		        : STORE_CONFLICT;
	}
	PQclear(res);
	return r;
}

/* Debit CHARGE from customer ID if the balance covers it: 1, 0, -1. */
int
store_pg_orders_debit(store_tx *t, int64_t id, money_t charge)
{
	struct pgargs a = {0};
	int64_t n;

	store_pg_arg_int(&a, id);
	store_pg_arg_int(&a, charge);
	/* The debit primitive: rows affected tells whether it happened. */
	n = store_pg_cmd(t, "debit",
	                 "UPDATE customers SET balance = balance - $2::bigint"
	                 " WHERE id = $1 AND balance >= $2::bigint",
	                 &a);
	return n < 0 ? -1 : n == 1;
}
/* O's 19 parameters as the order's INSERT (and the group's) bind them. */
void
store_pg_orders_insert_args(struct pgargs *a, const struct order_new *o,
                            enum order_state state)
{
	store_pg_arg_int(a, o->customer_id);
	store_pg_arg_int(a, o->service_id);
	store_pg_arg_str(a, o->type);
	store_pg_arg_int(a, o->quantity);
	store_pg_arg_int(a, o->runs);
	store_pg_arg_int(a, o->interval);
	store_pg_arg_int(a, o->rate);
	store_pg_arg_int(a, o->charge);
	store_pg_arg_str(a, o->fields != NULL ? o->fields : "{}");
	store_pg_arg_str(a, o->upstream);
	store_pg_arg_int(a, o->upstream_service);
	store_pg_arg_int(a, o->route_idx);
	store_pg_arg_str(a, o->request_id);
	store_pg_arg_hash(a, o->request_id != NULL ? o->request_hash : NULL);
	store_pg_arg_int(a, pg_now());
	store_pg_arg_str(a, order_state_name(state));
	store_pg_arg_int(a, o->upstream_quantity);
	store_pg_arg_str(a, o->link_reroute ? NULL : o->link_key);
	store_pg_arg_str(a, o->link_reroute ? o->link_key : NULL);
}

/* Insert O in STATE inside T's transaction; STORE_EXISTS when another
 * transaction committed O's request since the lookup (it held the
 * balance's row lock meanwhile), STORE_LINK when an open order of the
 * service has O's link (the same-link guard's unique index; a transaction
 * inserting one waits for the other's outcome): then no row. */
enum store_result
store_pg_orders_insert(store_tx *tx, const struct order_new *o,
                       enum order_state state, int64_t *id)
{
	struct pgtx *t = tx;
	struct pgargs a = {0};
	PGresult *res;
	int64_t other;
	int n;

	store_pg_orders_insert_args(&a, o, state);
	res = store_pg_exec(
	    t, "order add",
	    "INSERT INTO orders (customer_id, service_id, type, state,"
	    " quantity, runs, interval, rate, charge, fields, upstream,"
	    " upstream_service, route_idx, request_id, request_hash,"
	    " created_at, updated_at, upstream_quantity, sent_at, link_key,"
	    " link_key_up)"
	    " VALUES ($1, $2, $3, $16, $4, $5, $6, $7, $8, $9,"
	    " $10, $11, $12, $13, $14, $15, $15, $17,"
	    " CASE WHEN $16 = 'sending' THEN $15::bigint ELSE 0 END, $18, $19)"
	    " ON CONFLICT DO NOTHING RETURNING id",
	    &a);
	if (res == NULL)
		return STORE_ERROR;
	n = PQntuples(res);
	if (n == 1)
		*id = store_pg_int(res, 0, 0, 0);
	PQclear(res);
	if (n == 1)
		return STORE_OK;
	if (o->link_key == NULL)
		return STORE_EXISTS;
	if (o->request_id == NULL)
		return STORE_LINK;
	/* Either unique index: the request's decides when it is there. */
	switch (store_pg_orders_by_request(t, o, &other)) {
	case STORE_NOTFOUND:
		return STORE_LINK;
	case STORE_ERROR:
		return STORE_ERROR;
	default:
		return STORE_EXISTS;
	}
}

/* Lock the balances of a group of several customers in the order of their
 * IDs, so that two groups never deadlock on each other's debits. */
int
store_pg_orders_lock(struct pgtx *t, const struct order_new *v, size_t n)
{
	struct pgargs a = {0};
	int64_t *ids;
	size_t i, k = 0;
	char *list;
	int64_t rows;

	for (i = 1; i < n && v[i].customer_id == v[0].customer_id; i++)
		;
	if (i >= n)
		return 0; /* one customer: its debit is the only lock */
	ids = xcalloc(n, sizeof(*ids));
	for (i = 0; i < n; i++)
		ids[k++] = v[i].customer_id;
	list = store_pg_id_array(ids, k);
	store_pg_arg_str(&a, list);
	rows =
	    store_pg_cmd(t, "lock customers",
	                 "SELECT id FROM customers WHERE id = ANY($1::bigint[])"
	                 " ORDER BY id FOR UPDATE",
	                 &a);
	free(list);
	free(ids);
	return rows < 0 ? -1 : 0;
}

/* Group commit: N orders, each with its own conditional debit, in one
 * transaction (store_pg_group.c). */
enum store_result
store_pg_orders_create_many(struct store *st, const struct order_new *v,
                            size_t n, enum store_result *res, int64_t *ids)
{
	return store_pg_group(st, v, n, res, ids, NULL, NULL, NULL, 0, NULL);
}

/* Read order ID inside T's transaction. */
enum store_result
store_pg_orders_read(store_tx *t, int64_t id, struct order *out)
{
	struct pgargs a = {0};
	enum store_result r = STORE_NOTFOUND;
	PGresult *res;

	store_pg_arg_int(&a, id);
	res = store_pg_exec(
	    t, "order get",
	    "SELECT " ORDER_COLS " FROM orders o WHERE o.id = $1", &a);
	if (res == NULL)
		return STORE_ERROR;
	if (PQntuples(res) == 1) {
		store_pg_read_order(res, 0, out);
		r = STORE_OK;
	}
	PQclear(res);
	return r;
}

struct pg_get {
	int64_t id;
	struct order *out;
};

static enum store_result
pg_get_body(struct pgtx *t, void *arg)
{
	struct pg_get *g = arg;

	return store_pg_orders_read(t, g->id, g->out);
}

enum store_result
store_pg_orders_get(struct store *st, int64_t id, struct order *out)
{
	struct pg_get g = {id, out};

	return store_pg_run(spg(st), 0, pg_get_body, &g);
}

enum store_result
store_pg_orders_get_many(struct store *st, const int64_t *ids, size_t n,
                         struct order *out, int *found)
{
	struct pgargs a = {0};
	PGresult *res;
	struct order o;
	char *list;

	if (n > 100)
		return STORE_ERROR;
	for (size_t i = 0; i < n; i++)
		found[i] = 0;
	list = store_pg_id_array(ids, n);
	store_pg_arg_str(&a, list);
	res = store_pg_query(spg(st), "order get many",
	                     "SELECT " ORDER_COLS " FROM orders o"
	                     " WHERE o.id = ANY($1::bigint[])",
	                     &a);
	free(list);
	if (res == NULL)
		return STORE_ERROR;
	for (int r = 0; r < PQntuples(res); r++) {
		store_pg_read_order(res, r, &o);
		for (size_t i = 0; i < n; i++)
			if (ids[i] == o.id) {
				out[i] = o;
				found[i] = 1;
			}
	}
	PQclear(res);
	return STORE_OK;
}

enum store_result
store_pg_orders_sending(struct store *st, int64_t id, int route_idx,
                        const char *upstream, int64_t upstream_service,
                        int held)
{
	struct pgargs a = {0};
	const char *from, *same;

	store_pg_arg_int(&a, id);
	store_pg_arg_int(&a, route_idx);
	store_pg_arg_str(&a, upstream);
	store_pg_arg_int(&a, upstream_service);
	store_pg_arg_int(&a, pg_now());
	/* The move from queued is the claim; HELD re-marks the holder's. */
	store_core_from(held ? STORE_MOVE_RESEND : STORE_MOVE_SEND, &from,
	                &same);
	store_pg_arg_str(&a, from);
	return store_pg_transition(spg(st), "order sending",
	                           "UPDATE orders SET state = 'sending',"
	                           " route_idx = $2, upstream = $3,"
	                           " upstream_service = $4, updated_at = $5,"
	                           " sent_at = CASE WHEN sent_at = 0 THEN"
	                           " $5::bigint ELSE sent_at END"
	                           " WHERE id = $1 AND state = $6",
	                           &a);
}

enum store_result
store_pg_orders_unsent(struct store *st, int64_t id)
{
	struct pgargs a = {0};

	store_pg_arg_int(&a, id);
	store_pg_arg_int(&a, pg_now());
	return store_pg_transition(
	    spg(st), "order unsent",
	    "UPDATE orders SET state = 'queued', updated_at = $2"
	    " WHERE id = $1 AND state = 'sending'",
	    &a);
}

/* The parameters of PG_SQL_ORDER_ACTIVE for V's order I. */
void
store_pg_orders_active_args(struct pgargs *a, const struct pg_active *v,
                            size_t i)
{
	store_pg_arg_int(a, v->ids[i]);
	store_pg_arg_str(a, v->upstream_orders[i]);
	store_pg_arg_int(a, v->costs[i]);
	store_pg_arg_int(a, clock_wall_ms());
	store_pg_arg_int(a, pg_now());
}

/* sending -> active for one order inside T's transaction. */
enum store_result
store_pg_orders_active_one(struct pgtx *t, struct pg_active *v, size_t i)
{
	struct pgargs a = {0};
	int64_t n;

	store_pg_orders_active_args(&a, v, i);
	if (v->savepoints && store_pg_simple(t, "SAVEPOINT active_one") != 0)
		return STORE_ERROR;
	n = store_pg_cmd_f(t, "order active", PG_SQL_ORDER_ACTIVE, &a,
	                   PGX_UNIQUE_OK);
	if (n < 0 && t->err == PG_UNIQUE) {
		/* The upstream gave an order ID another order already has:
		 * that aborts a PostgreSQL transaction, so the group runs
		 * again with a savepoint around each order. */
		if (!v->savepoints) {
			v->savepoints = 1;
			t->err = PG_RETRY;
			return STORE_ERROR;
		}
		if (store_pg_simple(t, "ROLLBACK TO SAVEPOINT active_one") != 0)
			return STORE_ERROR;
		log_warnx("store: order %lld: upstream order %s is already "
		          "mapped to another order",
		          (long long)v->ids[i], v->upstream_orders[i]);
		return STORE_EXISTS;
	}
	if (n < 0)
		return STORE_ERROR;
	if (n == 1 && t->s->base.events &&
	    store_core_event_order(&t->s->base, t, v->ids[i],
	                           WEBHOOK_EV_ACCEPTED) != 0)
		return STORE_ERROR;
	if (v->savepoints &&
	    store_pg_simple(t, "RELEASE SAVEPOINT active_one") != 0)
		return STORE_ERROR;
	return n == 1 ? STORE_OK : STORE_CONFLICT;
}

enum store_result
store_pg_orders_active_many(struct store *st, const int64_t *ids,
                            const char *const *upstream_orders,
                            const money_t *costs, size_t n,
                            enum store_result *res)
{
	return store_pg_group(st, NULL, 0, NULL, NULL, ids, upstream_orders,
	                      costs, n, res);
}
/* Inside a transaction: move order ID by MOVE to TO (the core's settle).
 * The state condition makes it happen once: a concurrent settlement waits
 * on the row and then finds it final. */
enum store_result
store_pg_orders_final(store_tx *tx, int64_t id, enum store_move move,
                      enum order_state to, const char *status, money_t refunded)
{
	struct pgargs a = {0};
	const char *from1, *from2;
	int64_t n;

	store_core_from(move, &from1, &from2);
	store_pg_arg_int(&a, id);
	store_pg_arg_str(&a, order_state_name(to));
	store_pg_arg_str(&a, status);
	store_pg_arg_int(&a, pg_now());
	store_pg_arg_str(&a, from1);
	store_pg_arg_str(&a, from2);
	store_pg_arg_int(&a, refunded);
	n = store_pg_cmd(tx, "order final",
	                 "UPDATE orders SET state = $2, upstream_status ="
	                 " COALESCE($3, upstream_status), updated_at = $4,"
	                 " settled_at = $4, refunded = $7"
	                 " WHERE id = $1 AND state IN ($5, $6)",
	                 &a);
	if (n < 0)
		return STORE_ERROR;
	return n == 1 ? STORE_OK : STORE_CONFLICT;
}
/* A status reply's fields on an active order, inside a transaction. */
enum store_result
store_pg_orders_observe(store_tx *tx, int64_t id, const struct order_update *u)
{
	struct pgargs a = {0};
	int64_t n;

	store_pg_arg_int(&a, id);
	store_pg_arg_str(&a, u->status);
	store_pg_arg_int_or_null(&a, u->start_count);
	store_pg_arg_int_or_null(&a, u->remains);
	store_pg_arg_int_or_null(&a, u->cost);
	store_pg_arg_int(&a, clock_wall_ms());
	store_pg_arg_int(&a, pg_now());
	store_pg_arg_int(&a, u->notify != 0);
	n = store_pg_cmd(tx, "order fields",
	                 "UPDATE orders SET upstream_status ="
	                 " COALESCE($2, upstream_status),"
	                 " start_count = COALESCE($3, start_count),"
	                 " remains = COALESCE($4, remains),"
	                 " cost = COALESCE($5, cost), polled_at = $6,"
	                 " updated_at = $7, progress_at = CASE WHEN"
	                 " progress_at = 0 AND $8 = 1 THEN $7::bigint ELSE"
	                 " progress_at END WHERE id = $1 AND state = 'active'",
	                 &a);
	if (n < 0)
		return STORE_ERROR;
	return n == 1 ? STORE_OK : STORE_CONFLICT;
}

enum store_result
store_pg_orders_fields(struct store *st, int64_t id, char **json)
{
	struct pgargs a = {0};
	enum store_result r = STORE_NOTFOUND;
	PGresult *res;

	*json = NULL;
	store_pg_arg_int(&a, id);
	res = store_pg_query(spg(st), "order fields",
	                     "SELECT fields FROM orders WHERE id = $1", &a);
	if (res == NULL)
		return STORE_ERROR;
	if (PQntuples(res) == 1) {
		*json = store_pg_strdup(res, 0, 0);
		r = *json != NULL ? STORE_OK : STORE_ERROR;
	}
	PQclear(res);
	return r;
}

enum store_result
store_pg_orders_polled(struct store *st, const int64_t *ids, size_t n,
                       int64_t now_ms)
{
	struct pgargs a = {0};
	char *list;
	int64_t rows;

	if (n == 0)
		return STORE_OK;
	list = store_pg_id_array(ids, n);
	store_pg_arg_str(&a, list);
	store_pg_arg_int(&a, now_ms);
	/* One statement: all of them or none, like SQLite's transaction. */
	rows = store_pg_write(spg(st), "order polled",
	                      "UPDATE orders SET polled_at = $2"
	                      " WHERE id = ANY($1::bigint[])",
	                      &a, 0, NULL);
	free(list);
	return rows < 0 ? STORE_ERROR : STORE_OK;
}

/* The WHERE terms of F into SQL (after "WHERE TRUE") with their parameters
 * numbered from $1 in A; returns the ORDER BY terms. */
static const char *
pg_filter(const struct order_filter *f, struct pgargs *a, char *sql,
          size_t size)
{
	size_t off = 0;

	sql[0] = '\0';
	if (f->state >= 0) {
		store_pg_arg_str(a,
		                 order_state_name((enum order_state)f->state));
		off += (size_t)snprintf(sql + off, size - off,
		                        " AND state = $%d", a->n);
	}
	if (f->customer_id > 0) {
		store_pg_arg_int(a, f->customer_id);
		off += (size_t)snprintf(sql + off, size - off,
		                        " AND customer_id = $%d", a->n);
	}
	if (f->upstream != NULL) {
		store_pg_arg_str(a, f->upstream);
		off += (size_t)snprintf(sql + off, size - off,
		                        " AND upstream = $%d", a->n);
	}
	if (f->polled_before > 0) {
		store_pg_arg_int(a, f->polled_before);
		snprintf(sql + off, size - off, " AND polled_at < $%d", a->n);
	}
	return f->polled_before > 0 ? "polled_at, id" : "id";
}

int64_t
store_pg_orders_list(struct store *st, const struct order_filter *f,
                     store_order_cb cb, void *arg)
{
	struct pgargs a = {0};
	char where[256], sql[1024], limit[32] = "";
	const char *order;
	PGresult *res;
	struct order o;
	int64_t n = 0;

	order = pg_filter(f, &a, where, sizeof(where));
	if (f->limit > 0) {
		store_pg_arg_int(&a, f->limit);
		snprintf(limit, sizeof(limit), " LIMIT $%d", a.n);
	}
	snprintf(sql, sizeof(sql),
	         "SELECT " ORDER_COLS " FROM orders o WHERE TRUE%s"
	         " ORDER BY %s%s",
	         where, order, limit);
	if ((res = store_pg_query(spg(st), "order list", sql, &a)) == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		store_pg_read_order(res, i, &o);
		n++;
		if (cb(&o, arg) != 0)
			break;
	}
	PQclear(res);
	return n;
}

/* One statement claims the rows: those another transaction holds (another
 * instance's claim) are skipped, the rest get polled_at = NOW_MS.  CB sees
 * each order as it was before the claim (its previous polled_at), as in
 * SQLite, in the list's order. */
int64_t
store_pg_orders_claim(struct store *st, const struct order_filter *f,
                      int64_t now_ms, store_order_cb cb, void *arg)
{
	struct pgargs a = {0};
	char where[256], sql[1536];
	const char *order;
	PGresult *res;
	struct order o;
	int64_t n = 0;
	int pl, pn;

	if (f->limit <= 0)
		return -1;
	order = pg_filter(f, &a, where, sizeof(where));
	store_pg_arg_int(&a, f->limit);
	pl = a.n;
	store_pg_arg_int(&a, now_ms);
	pn = a.n;
	snprintf(sql, sizeof(sql),
	         "WITH c AS (SELECT id, polled_at FROM orders WHERE TRUE%s"
	         " ORDER BY %s LIMIT $%d FOR UPDATE SKIP LOCKED),"
	         " u AS (UPDATE orders o SET polled_at = $%d FROM c"
	         " WHERE o.id = c.id RETURNING " ORDER_COLS ","
	         " c.polled_at AS was)"
	         " SELECT * FROM u ORDER BY %s",
	         where, order, pl, pn, f->polled_before > 0 ? "was, id" : "id");
	if ((res = store_pg_query(spg(st), "order claim", sql, &a)) == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		store_pg_read_order(res, i, &o);
		o.polled_at = store_pg_int(res, i, ORDER_NCOLS, 0);
		n++;
		if (cb(&o, arg) != 0)
			break;
	}
	PQclear(res);
	return n;
}

enum store_result
store_pg_orders_counts(struct store *st, int64_t *counts)
{
	PGresult *res;
	char state[16];
	int k;

	memset(counts, 0, sizeof(*counts) * ORDER_STATE_COUNT);
	res = store_pg_query(
	    spg(st), "order counts",
	    "SELECT state, COUNT(*) FROM orders GROUP BY state", NULL);
	if (res == NULL)
		return STORE_ERROR;
	for (int i = 0; i < PQntuples(res); i++) {
		store_pg_text(res, i, 0, state, sizeof(state));
		if ((k = order_state_parse(state)) >= 0)
			counts[k] = store_pg_int(res, i, 1, 0);
	}
	PQclear(res);
	return STORE_OK;
}

/*
 * Refills, totals, the report, the catalogue and upstream state.
 */

enum store_result
store_pg_orders_refill_add(struct store *st, int64_t order_id,
                           int64_t customer_id, const char *upstream,
                           int64_t *id)
{
	struct pgargs a = {0};
	PGresult *res;

	store_pg_arg_int(&a, order_id);
	store_pg_arg_int(&a, customer_id);
	store_pg_arg_str(&a, upstream);
	store_pg_arg_int(&a, pg_now());
	res = store_pg_query(
	    spg(st), "refill add",
	    "INSERT INTO refills (order_id, customer_id, state,"
	    " upstream, created_at, updated_at)"
	    " VALUES ($1, $2, 'sending', $3, $4, $4) RETURNING id",
	    &a);
	if (res == NULL)
		return STORE_ERROR;
	*id = PQntuples(res) == 1 ? store_pg_int(res, 0, 0, 0) : 0;
	PQclear(res);
	return STORE_OK;
}

enum store_result
store_pg_orders_refill_get(struct store *st, int64_t id, struct refill *out)
{
	struct pgargs a = {0};
	enum store_result r = STORE_NOTFOUND;
	PGresult *res;

	store_pg_arg_int(&a, id);
	res =
	    store_pg_query(spg(st), "refill get",
	                   "SELECT id, order_id, customer_id, state, upstream,"
	                   " upstream_refill, status, created_at, updated_at"
	                   " FROM refills WHERE id = $1",
	                   &a);
	if (res == NULL)
		return STORE_ERROR;
	if (PQntuples(res) == 1) {
		memset(out, 0, sizeof(*out));
		out->id = store_pg_int(res, 0, 0, 0);
		out->order_id = store_pg_int(res, 0, 1, 0);
		out->customer_id = store_pg_int(res, 0, 2, 0);
		store_pg_text(res, 0, 3, out->state, sizeof(out->state));
		store_pg_text(res, 0, 4, out->upstream, sizeof(out->upstream));
		store_pg_text(res, 0, 5, out->upstream_refill,
		              sizeof(out->upstream_refill));
		store_pg_text(res, 0, 6, out->status, sizeof(out->status));
		out->created_at = store_pg_int(res, 0, 7, 0);
		out->updated_at = store_pg_int(res, 0, 8, 0);
		r = STORE_OK;
	}
	PQclear(res);
	return r;
}
