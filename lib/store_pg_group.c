/* store_pg_group.c - the group commit on PostgreSQL: a loop pass's adds and
 * acceptances in one transaction, their statements sent in one pipeline
 * (DESIGN.md, "PostgreSQL at speed").
 *
 * Statement by statement an add is a debit, an INSERT and a ledger row,
 * each a round trip whose answer decides the next.  Here all the group's
 * adds are one statement (each customer debited the sum of its adds, the
 * orders inserted from the debits, the ledger rows from the orders), and
 * all its acceptances another, so the whole group (the balances' locks,
 * the adds, the acceptances) goes to the server in one round trip as three
 * statements whatever its size.  Whatever the adds' statement could not
 * settle (no funds for the sum, a request_id seen before, the same-link
 * guard) leaves nothing behind but a debit it gives back, and the core
 * then decides that add statement by statement as before: the answers are
 * the core's.
 */
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "clock.h"
#include "log.h"
#include "pgpool.h"
#include "store.h"
#include "store_core.h"
#include "store_pg.h"
#include "xmalloc.h"

/* The group's adds in one statement: debits, orders, ledger rows.  $1-$19
 * are arrays, one element per add, of store_pg_orders_insert_args's
 * parameters in its order; $20 the ledger's kind.  An add whose request_id
 * a committed order already has is left out; each customer is debited the
 * sum of the rest at once or not at all; the orders of those debited are
 * inserted with IDs taken in the adds' order, and each inserted order gets
 * its ledger row.  Answers one row per add debited: its ordinal and its
 * order's ID (NULL: not inserted, its charge is to be given back). */
static const char pg_add_many_sql[] =
    "WITH a AS (SELECT * FROM unnest($1::bigint[], $2::bigint[],"
    " $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[],"
    " $8::bigint[], $9::text[], $10::text[], $11::bigint[], $12::bigint[],"
    " $13::text[], $14::bytea[], $15::bigint[], $16::text[],"
    " $17::bigint[], $18::text[], $19::text[]) WITH ORDINALITY"
    " AS a(cid, sid, type, qty, runs, iv, rate, charge, fields, up, ups,"
    " route, rid, rhash, at, state, upqty, lk, lku, k)),"
    " e AS (SELECT * FROM a WHERE rid IS NULL OR NOT EXISTS (SELECT 1"
    " FROM orders WHERE customer_id = a.cid AND request_id = a.rid)),"
    " d AS (UPDATE customers c SET balance = c.balance - s.total"
    " FROM (SELECT cid, sum(charge) AS total FROM e GROUP BY cid) s"
    " WHERE c.id = s.cid AND c.balance >= s.total RETURNING c.id),"
    " r AS (SELECT e.*, nextval((SELECT pg_get_serial_sequence('orders',"
    " 'id'))::regclass) AS oid FROM e WHERE cid IN (SELECT id FROM d)"
    " ORDER BY k),"
    " o AS (INSERT INTO orders (id, customer_id, service_id, type, state,"
    " quantity, runs, interval, rate, charge, fields, upstream,"
    " upstream_service, route_idx, request_id, request_hash, created_at,"
    " updated_at, upstream_quantity, sent_at, link_key, link_key_up)"
    " SELECT oid, cid, sid, type, state, qty, runs, iv, rate, charge,"
    " fields, up, ups, route, rid, rhash, at, at, upqty,"
    " CASE WHEN state = 'sending' THEN at ELSE 0 END, lk, lku FROM r"
    " ON CONFLICT DO NOTHING"
    " RETURNING id, customer_id, charge, created_at),"
    " l AS (INSERT INTO ledger (customer_id, kind, amount, order_id, note,"
    " created_at) SELECT customer_id, $20::text, -charge, id, NULL,"
    " created_at FROM o)"
    " SELECT r.k, o.id FROM r LEFT JOIN o ON o.id = r.oid";

#define PG_ADD_NCOLS 19 /* the parameters of store_pg_orders_insert_args */

/* Every acceptance of a group in one statement: sending -> active, as
 * PG_SQL_ORDER_ACTIVE, for the orders $1 with their upstream order IDs $2
 * and costs $3 (the element at the order's first place in $1).  Answers
 * the IDs it moved.  One statement per group, not per order: PostgreSQL
 * prepares a statement's CHECK constraints and its executor once per
 * execution, which was most of an acceptance's cost.  `id = ANY` keeps the
 * plan an index scan of those IDs: a join with unnest() was planned (over
 * 100,000 orders) as a hash of every entry of orders_sending, dead ones
 * included, which grow until the next vacuum. */
static const char pg_active_many_sql[] =
    "UPDATE orders SET state = 'active',"
    " upstream_order = ($2::text[])[array_position($1::bigint[], id)],"
    " cost = ($3::bigint[])[array_position($1::bigint[], id)],"
    " polled_at = $4, updated_at = $5, accepted_at = $5"
    " WHERE id = ANY($1::bigint[]) AND state = 'sending' RETURNING id";

struct pg_group {
	const struct order_new *v;
	size_t n;
	enum store_result *res;
	int64_t *ids;
	struct pg_active act;
	int slow; /* statement by statement */
};

/* The group as the core writes it, one statement after another. */
static enum store_result
pg_group_slow(struct pgtx *t, struct pg_group *g)
{
	size_t i;

	if (g->n > 0 && store_pg_orders_lock(t, g->v, g->n) != 0)
		return STORE_ERROR;
	for (i = 0; i < g->n; i++)
		if ((g->res[i] = store_core_create_one(
		         &t->s->base, t, &g->v[i], &g->ids[i])) == STORE_ERROR)
			return STORE_ERROR;
	for (i = 0; i < g->act.n; i++)
		if ((g->act.res[i] = store_pg_orders_active_one(
		         t, &g->act, i)) == STORE_ERROR)
			return STORE_ERROR;
	return STORE_OK;
}

/* The outcome of add I: DEBITED when pg_add_many_sql debited it, ID its
 * order (0: not inserted). */
static enum store_result
pg_group_add_done(struct pgtx *t, struct pg_group *g, size_t i, int debited,
                  int64_t id)
{
	const struct order_new *o = &g->v[i];

	if (debited && id > 0) {
		if (o->alt_chosen != NULL)
			*o->alt_chosen = 0;
		g->ids[i] = id;
		return STORE_OK;
	}
	/* Refused somewhere: give back what was debited, and let the core
	 * find out why (nothing else of this add was written). */
	if (debited &&
	    t->s->base.drv->balance_add(t, o->customer_id, o->charge) != 1)
		return STORE_ERROR;
	return store_core_create_one(&t->s->base, t, o, &g->ids[i]);
}

/* The adds' outcomes from pg_add_many_sql's rows: BATCH[k - 1] is the add
 * of ordinal K. */
static enum store_result
pg_group_adds_done(struct pgtx *t, struct pg_group *g, const size_t *batch,
                   size_t nb, const PGresult *res)
{
	int row, rows = PQntuples(res);
	int64_t *ids = xcalloc(nb, sizeof(*ids));
	char *debited = xcalloc(nb, 1);
	enum store_result r = STORE_OK;
	size_t j;

	for (row = 0; row < rows; row++) {
		int64_t k = store_pg_int(res, row, 0, 0);

		if (k < 1 || (size_t)k > nb)
			fatalx("store: order group: ordinal %lld of %zu",
			       (long long)k, nb);
		debited[k - 1] = 1;
		ids[k - 1] = store_pg_int(res, row, 1, 0);
	}
	for (j = 0; j < nb && r == STORE_OK; j++)
		if ((g->res[batch[j]] = pg_group_add_done(
		         t, g, batch[j], debited[j], ids[j])) == STORE_ERROR)
			r = STORE_ERROR;
	free(debited);
	free(ids);
	return r;
}

/* The acceptances' outcomes from the IDs pg_active_many_sql moved: each
 * ID moved once answers its first acceptance; every other one found its
 * order no longer sending. */
static void
pg_group_active_done(struct pg_active *act, const PGresult *res)
{
	int row, rows = PQntuples(res);
	size_t i;

	for (i = 0; i < act->n; i++)
		act->res[i] = STORE_CONFLICT;
	for (row = 0; row < rows; row++) {
		int64_t id = store_pg_int(res, row, 0, 0);

		for (i = 0; i < act->n; i++)
			if (act->ids[i] == id && act->res[i] != STORE_OK) {
				act->res[i] = STORE_OK;
				break;
			}
	}
}

/* pg_add_many_sql's parameters for the NB adds of BATCH in A: column by
 * column, each an array literal in COLS (free them). */
static void
pg_group_add_args(struct pgargs *a, char **cols, const struct pg_group *g,
                  const size_t *batch, size_t nb)
{
	struct pgargs *each = xreallocarray(NULL, nb, sizeof(*each));
	const char **col = xreallocarray(NULL, nb, sizeof(*col));
	size_t j;
	int c;

	for (j = 0; j < nb; j++) {
		const struct order_new *o = &g->v[batch[j]];

		each[j].n = 0;
		store_pg_orders_insert_args(
		    &each[j], o, o->sending ? ORDER_SENDING : ORDER_QUEUED);
	}
	for (c = 0; c < PG_ADD_NCOLS; c++) {
		for (j = 0; j < nb; j++)
			col[j] = each[j].v[c];
		cols[c] = store_pg_text_array(col, nb);
		store_pg_arg_str(a, cols[c]);
	}
	store_pg_arg_str(a, ledger_kind_name(LEDGER_CHARGE));
	free(col);
	free(each);
}

/* Send the group in one pipeline: the acceptances, the balances' locks,
 * the adds, a statement each. */
static enum store_result
pg_group_pipeline(struct pgtx *t, struct pg_group *g)
{
	enum store_result r = STORE_OK;
	struct pgpool_call calls[3];
	struct pgargs args[3];
	PGresult *res[3] = {NULL, NULL, NULL};
	char *list = NULL, *acts[3] = {NULL, NULL, NULL};
	char *cols[PG_ADD_NCOLS] = {NULL};
	size_t i, k = 0, nb = 0, ncalls, add_call = 0, act_call = 0;
	size_t *batch = xreallocarray(NULL, g->n + 1, sizeof(*batch));
	int64_t *cids;

	memset(args, 0, sizeof(args));
	/* The acceptances first: they lock no balance, so the customers'
	 * rows are held from the adds to the commit only (another instance's
	 * adds for the same customer wait that long). */
	if (g->act.n > 0) {
		acts[0] = store_pg_id_array(g->act.ids, g->act.n);
		acts[1] = store_pg_text_array(g->act.upstream_orders, g->act.n);
		acts[2] = store_pg_id_array(g->act.costs, g->act.n);
		for (i = 0; i < 3; i++)
			store_pg_arg_str(&args[k], acts[i]);
		store_pg_arg_int(&args[k], clock_wall_ms());
		store_pg_arg_int(&args[k], pg_now());
		calls[k] = (struct pgpool_call){pg_active_many_sql, args[k].n,
		                                args[k].v};
		act_call = k++;
	}
	/* The balances' row locks in ID order, as store_pg_orders_lock. */
	for (i = 1; i < g->n && g->v[i].customer_id == g->v[0].customer_id; i++)
		;
	if (i < g->n) {
		cids = xcalloc(g->n, sizeof(*cids));
		for (i = 0; i < g->n; i++)
			cids[i] = g->v[i].customer_id;
		list = store_pg_id_array(cids, g->n);
		free(cids);
		store_pg_arg_str(&args[k], list);
		calls[k] = (struct pgpool_call){
		    "SELECT id FROM customers WHERE id = ANY($1::bigint[])"
		    " ORDER BY id FOR UPDATE",
		    1, args[k].v};
		k++;
	}
	for (i = 0; i < g->n; i++) {
		const struct order_new *o = &g->v[i];

		if (o->charge <= 0 || o->quantity <= 0 ||
		    o->upstream_quantity <= 0)
			g->res[i] = STORE_CONFLICT; /* never a free order */
		else
			batch[nb++] = i;
	}
	if (nb > 0) {
		pg_group_add_args(&args[k], cols, g, batch, nb);
		calls[k] =
		    (struct pgpool_call){pg_add_many_sql, args[k].n, args[k].v};
		add_call = k++;
	}
	ncalls = k;
	if (pgpool_pipeline(t->s->pool, t->c, ncalls, calls, res) != 0)
		r = STORE_ERROR;
	for (i = 0; i < ncalls; i++) {
		if (res[i] == NULL && r == STORE_OK)
			r = STORE_ERROR;
		if (res[i] != NULL && r == STORE_OK &&
		    (res[i] = store_pg_checked(t, "order group", res[i],
		                               PGX_UNIQUE_OK)) == NULL)
			r = STORE_ERROR;
	}
	free(list);
	for (i = 0; i < 3; i++)
		free(acts[i]);
	for (i = 0; i < PG_ADD_NCOLS; i++)
		free(cols[i]);
	if (r != STORE_OK) {
		if (t->err == PG_UNIQUE) {
			/* An acceptance met a duplicate upstream order: again,
			 * statement by statement with savepoints. */
			g->slow = 1;
			g->act.savepoints = 1;
			t->err = PG_RETRY;
		}
		goto out;
	}
	if (nb > 0 && (r = pg_group_adds_done(t, g, batch, nb,
	                                      res[add_call])) != STORE_OK)
		goto out;
	if (g->act.n > 0)
		pg_group_active_done(&g->act, res[act_call]);
out:
	for (i = 0; i < ncalls; i++)
		PQclear(res[i]);
	free(batch);
	return r;
}

static enum store_result
pg_group_body(struct pgtx *t, void *arg)
{
	struct pg_group *g = arg;
	size_t i;

	for (i = 0; i < g->n; i++)
		g->res[i] = STORE_ERROR;
	for (i = 0; i < g->act.n; i++)
		g->act.res[i] = STORE_ERROR;
	/* Events are decided on each debit's and acceptance's own row:
	 * webhooks on, the group goes statement by statement. */
	if (g->slow || t->s->base.events)
		return pg_group_slow(t, g);
	return pg_group_pipeline(t, g);
}

/* The store's order_group: N adds and NACT acceptances, one commit. */
enum store_result
store_pg_group(struct store *st, const struct order_new *v, size_t n,
               enum store_result *res, int64_t *ids, const int64_t *act_ids,
               const char *const *upstream_orders, const money_t *costs,
               size_t nact, enum store_result *act_res)
{
	struct pg_group g = {
	    v, n, res, ids, {act_ids, upstream_orders, costs, nact, act_res, 0},
	    0};
	size_t i;

	if (store_pg_run(spg(st), 1, pg_group_body, &g) == STORE_OK)
		return STORE_OK;
	/* Nothing of this transaction exists: only refusals stay true. */
	for (i = 0; i < n; i++)
		if (res[i] == STORE_OK || res[i] == STORE_EXISTS)
			res[i] = STORE_ERROR;
	/* The acceptances are real whatever happened to the adds: a
	 * transaction of their own (once; without adds they failed alone). */
	if (n > 0 && nact > 0)
		return store_pg_group(st, NULL, 0, NULL, NULL, act_ids,
		                      upstream_orders, costs, nact, act_res);
	for (i = 0; i < nact; i++)
		act_res[i] = STORE_ERROR;
	return STORE_ERROR;
}
