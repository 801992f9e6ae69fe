/* store_sqlite_orders.c - orders and refills on SQLite: the group commit,
 * the transitions (their start states from the core's table), reads,
 * lists and the driver's order primitives. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "rowcache.h"
#include "store.h"
#include "store_core.h"
#include "store_sqlite.h"

/* Group commit: N orders, each with its own conditional debit, in one
 * durable transaction. */
enum store_result
store_sqlite_orders_create_many(struct store *st, const struct order_new *v,
                                size_t n, enum store_result *res, int64_t *ids)
{
	return store_sqlite_orders_group(st, v, n, res, ids, NULL, NULL, NULL,
	                                 0, NULL);
}

enum store_result
store_sqlite_orders_get(struct store *st, int64_t id, struct order *out)
{
	struct store_sqlite *s = sq(st);
	int cached = store_sqlite_cache_usable(s);
	const struct order *o;
	sqlite3_stmt *q;
	enum store_result r = STORE_NOTFOUND;
	int rc;

	if (cached && (o = rowcache_get(s->orders, id)) != NULL) {
		*out = *o;
		return STORE_OK;
	}
	q = store_sqlite_stmt(s, Q_ORDER_GET);
	sqlite3_bind_int64(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		store_sqlite_read_order(q, out);
		r = STORE_OK;
		if (cached)
			rowcache_put(s->orders, id, out);
	} else if (rc != SQLITE_DONE) {
		store_sqlite_log_error(s, "order get");
		r = STORE_ERROR;
	}
	sqlite3_reset(q);
	return r;
}

/* Run a one-statement transition; STORE_CONFLICT if no row moved. */
static enum store_result
sqlite_transition(struct store_sqlite *s, enum sqlite_stmt which)
{
	if (store_sqlite_exec(s, which) != 0)
		return STORE_ERROR;
	return sqlite3_changes(s->db) == 1 ? STORE_OK : STORE_CONFLICT;
}

enum store_result
store_sqlite_orders_sending(struct store *st, int64_t id, int route_idx,
                            const char *upstream, int64_t upstream_service,
                            int held)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *q = store_sqlite_stmt(s, Q_ORDER_SENDING);
	const char *from, *same;

	/* The move from queued is the claim; HELD re-marks the holder's. */
	store_core_from(held ? STORE_MOVE_RESEND : STORE_MOVE_SEND, &from,
	                &same);
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int(q, 2, route_idx);
	sqlite3_bind_text(q, 3, upstream, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, upstream_service);
	sqlite3_bind_int64(q, 5, sqlite_now());
	sqlite3_bind_text(q, 6, from, -1, SQLITE_STATIC);
	return sqlite_transition(s, Q_ORDER_SENDING);
}

enum store_result
store_sqlite_orders_unsent(struct store *st, int64_t id)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *q = store_sqlite_stmt(s, Q_ORDER_UNSENT);

	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, sqlite_now());
	return sqlite_transition(s, Q_ORDER_UNSENT);
}

/* sending -> active for one order inside the caller's transaction. */
static enum store_result
sqlite_active_one(struct store_sqlite *s, int64_t id,
                  const char *upstream_order, money_t cost)
{
	sqlite3_stmt *q = store_sqlite_stmt(s, Q_ORDER_ACTIVE);
	int rc;

	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_text(q, 2, upstream_order, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, cost);
	sqlite3_bind_int64(q, 4, clock_wall_ms());
	sqlite3_bind_int64(q, 5, sqlite_now());
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	if (rc == SQLITE_CONSTRAINT) {
		/* The upstream gave an order ID another order already has. */
		log_warnx("store: order %lld: upstream order %s is already "
		          "mapped to another order",
		          (long long)id, upstream_order);
		return STORE_EXISTS;
	}
	if (rc != SQLITE_DONE) {
		store_sqlite_log_error(s, "order active");
		return STORE_ERROR;
	}
	return sqlite3_changes(s->db) == 1 ? STORE_OK : STORE_CONFLICT;
}

/* N acceptances in one transaction: a group without adds. */
enum store_result
store_sqlite_orders_active_many(struct store *st, const int64_t *ids,
                                const char *const *upstream_orders,
                                const money_t *costs, size_t n,
                                enum store_result *res)
{
	return store_sqlite_orders_group(st, NULL, 0, NULL, NULL, ids,
	                                 upstream_orders, costs, n, res);
}

static enum store_result
sqlite_orders_group(struct store *st, const struct order_new *v, size_t n,
                    enum store_result *res, int64_t *ids,
                    const int64_t *act_ids, const char *const *upstream_orders,
                    const money_t *costs, size_t nact,
                    enum store_result *act_res)
{
	struct store_sqlite *s = sq(st);
	size_t i;

	for (i = 0; i < n; i++)
		res[i] = STORE_ERROR;
	for (i = 0; i < nact; i++)
		act_res[i] = STORE_ERROR;
	if (store_sqlite_begin(s) != 0)
		goto alone;
	for (i = 0; i < n; i++)
		if ((res[i] = store_core_create_one(st, s, &v[i], &ids[i])) ==
		    STORE_ERROR)
			goto fail;
	for (i = 0; i < nact; i++) {
		if ((act_res[i] =
		         sqlite_active_one(s, act_ids[i], upstream_orders[i],
		                           costs[i])) == STORE_ERROR)
			goto fail;
		if (act_res[i] == STORE_OK && st->events &&
		    store_core_event_order(st, s, act_ids[i],
		                           WEBHOOK_EV_ACCEPTED) != 0)
			goto fail;
	}
	if (store_sqlite_commit(s) != 0)
		goto fail;
	return STORE_OK;
fail:
	store_sqlite_rollback(s);
	/* Nothing of this transaction exists: only refusals stay true. */
	for (i = 0; i < n; i++)
		if (res[i] == STORE_OK || res[i] == STORE_EXISTS)
			res[i] = STORE_ERROR;
alone:
	/* The acceptances are real whatever happened to the adds: a
	 * transaction of their own (once; without adds they failed alone). */
	if (n > 0 && nact > 0)
		sqlite_orders_group(st, NULL, 0, NULL, NULL, act_ids,
		                    upstream_orders, costs, nact, act_res);
	else
		for (i = 0; i < nact; i++)
			act_res[i] = STORE_ERROR;
	return STORE_ERROR;
}
/* The order group.  With the sync thread (attached) it commits with
 * synchronous=NORMAL and the caller waits for store_durable
 * (store_sqlite_sync.c); otherwise FULL, as every other commit. */
enum store_result
store_sqlite_orders_group(struct store *st, const struct order_new *v, size_t n,
                          enum store_result *res, int64_t *ids,
                          const int64_t *act_ids,
                          const char *const *upstream_orders,
                          const money_t *costs, size_t nact,
                          enum store_result *act_res)
{
	struct store_sqlite *s = sq(st);
	int later = s->sync != NULL && !s->group;
	enum store_result r;

	if (later)
		store_sqlite_synchronous(s, "PRAGMA synchronous=NORMAL");
	r = sqlite_orders_group(st, v, n, res, ids, act_ids, upstream_orders,
	                        costs, nact, act_res);
	if (later)
		store_sqlite_synchronous(s, "PRAGMA synchronous=FULL");
	return r;
}
/* Inside a transaction: move order ID by MOVE to TO (the core's settle). */
enum store_result
store_sqlite_orders_final(store_tx *tx, int64_t id, enum store_move move,
                          enum order_state to, const char *status,
                          money_t refunded)
{
	struct store_sqlite *s = tx;
	sqlite3_stmt *q = store_sqlite_stmt(s, Q_ORDER_FINAL);
	const char *from1, *from2;

	store_core_from(move, &from1, &from2);
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_text(q, 2, order_state_name(to), -1, SQLITE_STATIC);
	if (status != NULL)
		sqlite3_bind_text(q, 3, status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, sqlite_now());
	sqlite3_bind_text(q, 5, from1, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 6, from2, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 7, refunded);
	return sqlite_transition(s, Q_ORDER_FINAL);
}
/* Read order ID inside the current transaction. */
enum store_result
store_sqlite_orders_read(store_tx *tx, int64_t id, struct order *o)
{
	struct store_sqlite *s = tx;

	return store_sqlite_orders_get(&s->base, id, o);
}

/* A status reply's fields on an active order, inside a transaction. */
enum store_result
store_sqlite_orders_observe(store_tx *tx, int64_t id,
                            const struct order_update *u)
{
	struct store_sqlite *s = tx;
	sqlite3_stmt *q = store_sqlite_stmt(s, Q_ORDER_FIELDS);

	sqlite3_bind_int64(q, 1, id);
	sqlite_bind_text_or_null(q, 2, u->status);
	sqlite_bind_int_or_null(q, 3, u->start_count);
	sqlite_bind_int_or_null(q, 4, u->remains);
	sqlite_bind_int_or_null(q, 5, u->cost);
	sqlite3_bind_int64(q, 6, clock_wall_ms());
	sqlite3_bind_int64(q, 7, sqlite_now());
	sqlite3_bind_int64(q, 8, u->notify != 0);
	return sqlite_transition(s, Q_ORDER_FIELDS);
}

enum store_result
store_sqlite_orders_fields(struct store *st, int64_t id, char **json)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *q = store_sqlite_stmt(s, Q_ORDER_GET_FIELDS);
	enum store_result r = STORE_NOTFOUND;
	int rc;

	*json = NULL;
	sqlite3_bind_int64(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*json = store_sqlite_col_strdup(q, 0);
		r = *json != NULL ? STORE_OK : STORE_ERROR;
	} else if (rc != SQLITE_DONE) {
		store_sqlite_log_error(s, "order fields");
		r = STORE_ERROR;
	}
	sqlite3_reset(q);
	return r;
}

enum store_result
store_sqlite_orders_polled(struct store *st, const int64_t *ids, size_t n,
                           int64_t now_ms)
{
	struct store_sqlite *s = sq(st);

	if (store_sqlite_begin(s) != 0)
		return STORE_ERROR;
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *q = store_sqlite_stmt(s, Q_ORDER_POLLED);

		sqlite3_bind_int64(q, 1, ids[i]);
		sqlite3_bind_int64(q, 2, now_ms);
		if (store_sqlite_exec(s, Q_ORDER_POLLED) != 0) {
			store_sqlite_rollback(s);
			return STORE_ERROR;
		}
	}
	if (store_sqlite_commit(s) != 0)
		return STORE_ERROR;
	return STORE_OK;
}

/* F's orders; with PG, only those after its keyset (a poll page). */
static int64_t
sqlite_orders_list(struct store *st, const struct order_filter *f,
                   const struct poll_page *pg, store_order_cb cb, void *arg)
{
	struct store_sqlite *s = sq(st);
	char sql[1024];
	sqlite3_stmt *q;
	struct order o;
	int64_t n = 0;
	int rc;

	/* The keyset is read from the poll index's own entries (polled_at,
	 * and the rowid): rows before it cost no table read. */
	snprintf(sql, sizeof(sql),
	         "SELECT " ORDER_COLS " FROM orders o WHERE 1%s%s%s%s%s"
	         " ORDER BY %s LIMIT ?%d",
	         f->state >= 0 ? " AND o.state = ?1" : "",
	         f->customer_id > 0 ? " AND o.customer_id = ?2" : "",
	         f->upstream != NULL ? " AND o.upstream = ?3" : "",
	         f->polled_before > 0 ? " AND o.polled_at < ?4" : "",
	         f->polled_before > 0 && pg != NULL
	             ? " AND (o.polled_at > ?6 OR (o.polled_at = ?6"
	               " AND o.id > ?7))"
	             : "",
	         f->polled_before > 0 ? "o.polled_at, o.id" : "o.id", 5);
	if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK) {
		store_sqlite_log_error(s, "order list");
		return -1;
	}
	if (f->state >= 0)
		sqlite3_bind_text(q, 1, order_state_name(f->state), -1,
		                  SQLITE_STATIC);
	if (f->customer_id > 0)
		sqlite3_bind_int64(q, 2, f->customer_id);
	if (f->upstream != NULL)
		sqlite3_bind_text(q, 3, f->upstream, -1, SQLITE_STATIC);
	if (f->polled_before > 0)
		sqlite3_bind_int64(q, 4, f->polled_before);
	sqlite3_bind_int64(q, 5, f->limit > 0 ? f->limit : -1);
	if (f->polled_before > 0 && pg != NULL) {
		sqlite3_bind_int64(q, 6, pg->after_polled);
		sqlite3_bind_int64(q, 7, pg->after_id);
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		store_sqlite_read_order(q, &o);
		n++;
		if (cb(&o, arg) != 0)
			break;
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_sqlite_log_error(s, "order list");
		return -1;
	}
	return n;
}

int64_t
store_sqlite_orders_list(struct store *st, const struct order_filter *f,
                         store_order_cb cb, void *arg)
{
	return sqlite_orders_list(st, f, NULL, cb, arg);
}

int64_t
store_sqlite_orders_poll_page(struct store *st, const struct poll_page *p,
                              store_order_cb cb, void *arg)
{
	if (p->f.polled_before <= 0)
		return -1;
	return sqlite_orders_list(st, &p->f, p, cb, arg);
}

/* One instance owns a SQLite file, so nothing else can hold a row: a claim
 * is the list, and the rows' polled_at is written when their answers are
 * recorded, as it always was (no write per claimed row). */
int64_t
store_sqlite_orders_claim(struct store *st, const struct order_filter *f,
                          int64_t now_ms, store_order_cb cb, void *arg)
{
	if (f->limit <= 0)
		return -1;
	return store_sqlite_orders_list(st, f, cb, arg);
}

enum store_result
store_sqlite_orders_counts(struct store *st, int64_t *counts)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *q = store_sqlite_stmt(s, Q_ORDER_COUNTS);
	char state[16];
	int rc, k;

	memset(counts, 0, sizeof(*counts) * ORDER_STATE_COUNT);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		store_sqlite_copy_text(q, 0, state, sizeof(state));
		if ((k = order_state_parse(state)) >= 0)
			counts[k] = sqlite3_column_int64(q, 1);
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE) {
		store_sqlite_log_error(s, "order counts");
		return STORE_ERROR;
	}
	return STORE_OK;
}

enum store_result
store_sqlite_orders_refill_add(struct store *st, int64_t order_id,
                               int64_t customer_id, const char *upstream,
                               int64_t *id)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *q = store_sqlite_stmt(s, Q_REFILL_ADD);

	sqlite3_bind_int64(q, 1, order_id);
	sqlite3_bind_int64(q, 2, customer_id);
	sqlite3_bind_text(q, 3, upstream, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, sqlite_now());
	if (store_sqlite_exec(s, Q_REFILL_ADD) != 0)
		return STORE_ERROR;
	*id = sqlite3_last_insert_rowid(s->db);
	return STORE_OK;
}

enum store_result
store_sqlite_orders_refill_get(struct store *st, int64_t id, struct refill *out)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *q = store_sqlite_stmt(s, Q_REFILL_GET);
	enum store_result r = STORE_NOTFOUND;
	int rc;

	sqlite3_bind_int64(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		memset(out, 0, sizeof(*out));
		out->id = sqlite3_column_int64(q, 0);
		out->order_id = sqlite3_column_int64(q, 1);
		out->customer_id = sqlite3_column_int64(q, 2);
		store_sqlite_copy_text(q, 3, out->state, sizeof(out->state));
		store_sqlite_copy_text(q, 4, out->upstream,
		                       sizeof(out->upstream));
		store_sqlite_copy_text(q, 5, out->upstream_refill,
		                       sizeof(out->upstream_refill));
		store_sqlite_copy_text(q, 6, out->status, sizeof(out->status));
		out->created_at = sqlite3_column_int64(q, 7);
		out->updated_at = sqlite3_column_int64(q, 8);
		r = STORE_OK;
	} else if (rc != SQLITE_DONE) {
		store_sqlite_log_error(s, "refill get");
		r = STORE_ERROR;
	}
	sqlite3_reset(q);
	return r;
}

enum store_result
store_sqlite_orders_get_many(struct store *st, const int64_t *ids, size_t n,
                             struct order *out, int *found)
{
	struct store_sqlite *s = sq(st);
	int cached = store_sqlite_cache_usable(s);
	sqlite3_stmt *q;
	char list[100 * 21 + 3];
	size_t off = 0, missing = 0;
	struct order o;
	int rc;

	if (n > 100)
		return STORE_ERROR;
	list[off++] = '[';
	for (size_t i = 0; i < n; i++) {
		const struct order *c;

		if (cached && (c = rowcache_get(s->orders, ids[i])) != NULL) {
			out[i] = *c;
			found[i] = 1;
			continue;
		}
		found[i] = 0;
		off +=
		    (size_t)snprintf(list + off, sizeof(list) - off, "%s%lld",
		                     missing > 0 ? "," : "", (long long)ids[i]);
		missing++;
	}
	if (missing == 0)
		return STORE_OK;
	list[off++] = ']';
	list[off] = '\0';
	q = store_sqlite_stmt(s, Q_ORDER_GET_MANY);
	sqlite3_bind_text(q, 1, list, (int)off, SQLITE_STATIC);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		store_sqlite_read_order(q, &o);
		for (size_t i = 0; i < n; i++)
			if (ids[i] == o.id && !found[i]) {
				out[i] = o;
				found[i] = 1;
			}
		if (cached)
			rowcache_put(s->orders, o.id, &o);
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE) {
		store_sqlite_log_error(s, "order get many");
		return STORE_ERROR;
	}
	return STORE_OK;
}
