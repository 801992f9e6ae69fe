/* store_pg_check.c - the operator's reading on PostgreSQL: check (the
 * core's invariants, read in one REPEATABLE READ snapshot), ledger totals,
 * the report. */
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

enum store_result
store_pg_check_totals(struct store *st, money_t *totals)
{
	PGresult *res;
	char kind[16];

	memset(totals, 0, 4 * sizeof(*totals));
	res = store_pg_query(spg(st), "ledger totals",
	                     "SELECT kind, SUM(amount)::bigint FROM ledger"
	                     " GROUP BY kind",
	                     NULL);
	if (res == NULL)
		return STORE_ERROR;
	for (int i = 0; i < PQntuples(res); i++) {
		store_pg_text(res, i, 0, kind, sizeof(kind));
		for (int k = LEDGER_DEPOSIT; k <= LEDGER_ADJUSTMENT; k++)
			if (strcmp(kind,
			           ledger_kind_name((enum ledger_kind)k)) == 0)
				totals[k] = store_pg_int(res, i, 1, 0);
	}
	PQclear(res);
	return STORE_OK;
}

int
store_pg_check_report(struct store *st, store_report_row_cb cb, void *arg)
{
	struct report_row row;
	PGresult *res;
	int n = 0;

	res = store_pg_query(
	    spg(st), "report",
	    "SELECT o.upstream, o.service_id, COUNT(*), SUM(o.charge)::bigint,"
	    " SUM(COALESCE((SELECT amount FROM ledger l"
	    "  WHERE l.order_id = o.id AND l.kind = 'refund'), 0))::bigint,"
	    " SUM(CASE WHEN o.state IN ('rejected', 'canceled',"
	    "  'refunded') THEN 0 ELSE COALESCE(o.cost, 0) END)::bigint"
	    " FROM orders o GROUP BY o.upstream, o.service_id"
	    " ORDER BY o.upstream, o.service_id",
	    NULL);
	if (res == NULL)
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		memset(&row, 0, sizeof(row));
		store_pg_text(res, i, 0, row.upstream, sizeof(row.upstream));
		row.service_id = store_pg_int(res, i, 1, 0);
		row.orders = store_pg_int(res, i, 2, 0);
		row.charged = store_pg_int(res, i, 3, 0);
		row.refunded = store_pg_int(res, i, 4, 0);
		row.cost = store_pg_int(res, i, 5, 0);
		n++;
		if (cb(&row, arg) != 0)
			break;
	}
	PQclear(res);
	return n;
}

/*
 * check: SPEC section 6's invariants, each violation reported in words.
 * It reads one snapshot (REPEATABLE READ) and collects the violations,
 * reporting them once the connection is back in the pool.
 */
struct store_pg_check_run {
	struct store_pg *s;
	struct store_core_check c;
};

/* Run invariant INV's query and record its rows. */
static int
pg_check_rows(struct pgtx *t, struct store_core_check *c,
              const struct store_invariant *inv)
{
	PGresult *res = store_pg_exec(t, "check", inv->sql, NULL);
	const char *names[8];
	int64_t vals[8];
	int n;

	if (res == NULL)
		return -1;
	for (int r = 0; r < PQntuples(res); r++) {
		n = 0;
		for (int i = 1; i < PQnfields(res) && n < 8; i++) {
			names[n] = PQfname(res, i);
			vals[n++] = store_pg_int(res, r, i, 0);
		}
		store_core_check_row(c, inv, store_pg_int(res, r, 0, 0), n,
		                     names, vals);
	}
	PQclear(res);
	return 0;
}

/* The refunds of every order, read a page at a time. */
static int
pg_check_refunds(struct pgtx *t, struct store_pg_check_run *c)
{
	int64_t after = 0;
	struct order o;

	for (;;) {
		struct pgargs a = {0};
		PGresult *res;
		int n;

		store_pg_arg_int(&a, after);
		res =
		    store_pg_exec(t, "check orders",
		                  "SELECT " ORDER_COLS " FROM orders o"
		                  " WHERE o.id > $1 ORDER BY o.id LIMIT 10000",
		                  &a);
		if (res == NULL)
			return -1;
		n = PQntuples(res);
		for (int i = 0; i < n; i++) {
			store_pg_read_order(res, i, &o);
			after = o.id;
			store_core_check_order(&c->c, c->s->decimals, &o);
		}
		PQclear(res);
		if (n < 10000)
			return 0;
	}
}

static enum store_result
pg_check_body(struct pgtx *t, void *arg)
{
	struct store_pg_check_run *c = arg;

	store_core_check_clear(&c->c);
	if (store_pg_simple(t,
	                    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ,"
	                    " READ ONLY") != 0)
		return STORE_ERROR;
	for (int i = 0; i < STORE_INVARIANT_COUNT; i++)
		if (pg_check_rows(t, &c->c, &store_invariants[i]) != 0)
			return STORE_ERROR;
	if (pg_check_refunds(t, c) != 0)
		return STORE_ERROR;
	/* PostgreSQL has no integrity_check: its checksums are its own. */
	return STORE_OK;
}

int
store_pg_check_run(struct store *st, store_report_cb report, void *arg)
{
	struct store_pg_check_run c = {spg(st), {NULL, 0, 0}};
	int failed = store_pg_run(spg(st), 1, pg_check_body, &c) != STORE_OK;

	return store_core_check_done(&c.c, failed, report, arg);
}
