/* store_pg_group.c - the group commit on PostgreSQL: a loop pass's adds and
 * acceptances in one transaction, their statements sent in one pipeline
 * (DESIGN.md, "PostgreSQL at speed").
 *
 * Statement by statement an add is a debit, an INSERT and a ledger row,
 * each a round trip whose answer decides the next.  Here each add is one
 * statement doing all three (the INSERT reads the debit's row, the ledger
 * the INSERT's), so the adds no longer wait on each other and the whole
 * group (the balances' locks, every add, every acceptance) goes to the
 * server in one round trip.  Whatever that statement could not settle (no
 * funds, a request_id seen before, the same-link guard) leaves nothing
 * behind but a debit it gives back, and the core then decides that add
 * statement by statement as before: the answers are the core's.
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

/* One add: debit, order, ledger.  $1-$19 as store_pg_orders_insert_args,
 * $20 the ledger's kind.  Answers the rows debited (0 or 1) and the new
 * order's ID (NULL: not inserted). */
static const char pg_add_sql[] =
    "WITH d AS (UPDATE customers SET balance = balance - $8::bigint"
    " WHERE id = $1::bigint AND balance >= $8::bigint"
    " AND ($13::text IS NULL OR NOT EXISTS (SELECT 1 FROM orders"
    " WHERE customer_id = $1::bigint AND request_id = $13::text))"
    " RETURNING id),"
    " o AS (INSERT INTO orders (customer_id, service_id, type, state,"
    " quantity, runs, interval, rate, charge, fields, upstream,"
    " upstream_service, route_idx, request_id, request_hash, created_at,"
    " updated_at, upstream_quantity, sent_at, link_key, link_key_up)"
    " SELECT $1::bigint, $2::bigint, $3::text, $16::text, $4::bigint,"
    " $5::bigint, $6::bigint, $7::bigint, $8::bigint, $9::text,"
    " $10::text, $11::bigint, $12::bigint, $13::text, $14::bytea,"
    " $15::bigint, $15::bigint, $17::bigint,"
    " CASE WHEN $16::text = 'sending' THEN $15::bigint ELSE 0 END,"
    " $18::text, $19::text FROM d ON CONFLICT DO NOTHING RETURNING id),"
    " l AS (INSERT INTO ledger (customer_id, kind, amount, order_id,"
    " note, created_at) SELECT $1::bigint, $20::text, -$8::bigint, o.id,"
    " NULL, $15::bigint FROM o)"
    " SELECT (SELECT count(*) FROM d), (SELECT id FROM o)";

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

/* The outcome of add I from its statement's row. */
static enum store_result
pg_group_add_done(struct pgtx *t, struct pg_group *g, size_t i,
                  const PGresult *res)
{
	const struct order_new *o = &g->v[i];
	int64_t debited = store_pg_int(res, 0, 0, 0);
	int64_t id = store_pg_int(res, 0, 1, 0);

	if (debited == 1 && id > 0) {
		if (o->alt_chosen != NULL)
			*o->alt_chosen = 0;
		g->ids[i] = id;
		return STORE_OK;
	}
	/* Refused somewhere: give back what was debited, and let the core
	 * find out why (nothing else of this add was written). */
	if (debited == 1 &&
	    t->s->base.drv->balance_add(t, o->customer_id, o->charge) != 1)
		return STORE_ERROR;
	return store_core_create_one(&t->s->base, t, o, &g->ids[i]);
}

/* Send the group in one pipeline; NCALLS statements in CALLS. */
static enum store_result
pg_group_pipeline(struct pgtx *t, struct pg_group *g, struct pgpool_call *calls,
                  struct pgargs *args, PGresult **res)
{
	enum store_result r = STORE_OK;
	size_t i, k = 0, nadd = 0, ncalls;
	char *list = NULL;
	int64_t *cids;

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
		    o->upstream_quantity <= 0) {
			g->res[i] = STORE_CONFLICT; /* never a free order */
			continue;
		}
		store_pg_orders_insert_args(
		    &args[k], o, o->sending ? ORDER_SENDING : ORDER_QUEUED);
		store_pg_arg_str(&args[k], ledger_kind_name(LEDGER_CHARGE));
		calls[k] =
		    (struct pgpool_call){pg_add_sql, args[k].n, args[k].v};
		k++;
		nadd++;
	}
	for (i = 0; i < g->act.n; i++) {
		store_pg_orders_active_args(&args[k], &g->act, i);
		calls[k] = (struct pgpool_call){PG_SQL_ORDER_ACTIVE, args[k].n,
		                                args[k].v};
		k++;
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
	k = ncalls - g->act.n - nadd;
	for (i = 0; i < g->n; i++) {
		if (g->res[i] == STORE_CONFLICT)
			continue;
		if ((g->res[i] = pg_group_add_done(t, g, i, res[k++])) ==
		    STORE_ERROR) {
			r = STORE_ERROR;
			goto out;
		}
	}
	for (i = 0; i < g->act.n; i++, k++)
		g->act.res[i] = strtoll(PQcmdTuples(res[k]), NULL, 10) == 1
		                    ? STORE_OK
		                    : STORE_CONFLICT;
out:
	for (i = 0; i < ncalls; i++)
		PQclear(res[i]);
	return r;
}

static enum store_result
pg_group_body(struct pgtx *t, void *arg)
{
	struct pg_group *g = arg;
	size_t i, max = g->n + g->act.n + 1;
	struct pgpool_call *calls;
	struct pgargs *args;
	PGresult **res;
	enum store_result r;

	for (i = 0; i < g->n; i++)
		g->res[i] = STORE_ERROR;
	for (i = 0; i < g->act.n; i++)
		g->act.res[i] = STORE_ERROR;
	/* Events are decided on each debit's and acceptance's own row:
	 * webhooks on, the group goes statement by statement. */
	if (g->slow || t->s->base.events)
		return pg_group_slow(t, g);
	calls = xcalloc(max, sizeof(*calls));
	args = xcalloc(max, sizeof(*args));
	res = xcalloc(max, sizeof(*res));
	r = pg_group_pipeline(t, g, calls, args, res);
	free(res);
	free(args);
	free(calls);
	return r;
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
