/* store_prices.c - the price-change log (store.h), on every backend: the
 * statements are built here and run through the driver (store_core.h). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "prices.h"
#include "store.h"
#include "store_core.h"

/* Rows per INSERT: 9 parameters each, within STORE_QUERY_ARGS. */
#define PRICE_ROWS_PER_INSERT 12

#define PRICE_COLS                                                             \
	"id, created_at, upstream, service, kind, cost_before, cost_after,"    \
	" price_before, price_after"

struct price_record {
	struct store *st;
	const char *upstream;
	const struct price_change *v;
	size_t n;
	int64_t now;
};

static void
price_money(struct store_query *q, money_t m)
{
	if (m == PRICE_NONE)
		store_query_text(q, NULL);
	else
		store_query_int(q, m);
}

static enum store_result
price_record_body(store_tx *tx, void *arg)
{
	struct price_record *pr = arg;
	const struct store_driver *d = pr->st->drv;

	for (size_t i = 0; i < pr->n; i += PRICE_ROWS_PER_INSERT) {
		size_t end = i + PRICE_ROWS_PER_INSERT;
		struct store_query q;
		int64_t rows;

		if (end > pr->n)
			end = pr->n;
		store_query_init(&q, d->dollar);
		store_query_sql(&q, "INSERT INTO price_changes (created_at,"
		                    " upstream, service, kind, cost_before,"
		                    " cost_after, price_before, price_after)"
		                    " VALUES ");
		for (size_t k = i; k < end; k++) {
			const struct price_change *c = &pr->v[k];

			store_query_sql(&q, k > i ? ", (" : "(");
			store_query_int(&q, pr->now);
			store_query_sql(&q, ", ");
			store_query_text(&q, pr->upstream);
			store_query_sql(&q, ", ");
			store_query_int(&q, c->service);
			store_query_sql(&q, ", ");
			store_query_text(&q, price_kind_name(c->kind));
			store_query_sql(&q, ", ");
			price_money(&q, c->cost_before);
			store_query_sql(&q, ", ");
			price_money(&q, c->cost_after);
			store_query_sql(&q, ", ");
			price_money(&q, c->price_before);
			store_query_sql(&q, ", ");
			price_money(&q, c->price_after);
			store_query_sql(&q, ")");
		}
		if (q.overflow)
			return STORE_ERROR;
		rows = d->exec(tx, &q, NULL);
		if (rows != (int64_t)(end - i))
			return STORE_ERROR;
	}
	return STORE_OK;
}

enum store_result
store_price_record(struct store *st, const char *upstream,
                   const struct price_change *v, size_t n)
{
	struct price_record pr = {st, upstream, v, n, (int64_t)time(NULL)};

	if (n == 0)
		return STORE_OK;
	return st->drv->run(st, price_record_body, &pr);
}

struct price_rows {
	store_price_cb cb;
	void *arg;
};

static int
price_row(const struct store_driver *d, store_row *row, void *arg)
{
	struct price_rows *pr = arg;
	struct price_entry e;

	memset(&e, 0, sizeof(e));
	e.id = d->col_int(row, 0, 0);
	e.created_at = d->col_int(row, 1, 0);
	d->col_text(row, 2, e.upstream, sizeof(e.upstream));
	e.service = d->col_int(row, 3, 0);
	d->col_text(row, 4, e.kind, sizeof(e.kind));
	e.cost_before = d->col_int(row, 5, PRICE_NONE);
	e.cost_after = d->col_int(row, 6, PRICE_NONE);
	e.price_before = d->col_int(row, 7, PRICE_NONE);
	e.price_after = d->col_int(row, 8, PRICE_NONE);
	return pr->cb(&e, pr->arg);
}

int64_t
store_price_page(struct store *st, const struct price_page *f,
                 store_price_cb cb, void *arg)
{
	struct price_rows pr = {cb, arg};
	struct store_query q;
	int64_t limit = f->limit;

	if (limit <= 0 || limit > STORE_PAGE_MAX)
		limit = STORE_PAGE_MAX;
	store_query_init(&q, st->drv->dollar);
	store_query_sql(&q, "SELECT " PRICE_COLS " FROM price_changes");
	store_query_sql(&q, " WHERE 1 = 1");
	if (f->upstream != NULL) {
		store_query_sql(&q, " AND upstream = ");
		store_query_text(&q, f->upstream);
	}
	if (f->kind != NULL) {
		store_query_sql(&q, " AND kind = ");
		store_query_text(&q, f->kind);
	}
	store_query_sql(&q, " ORDER BY id DESC LIMIT ");
	store_query_int(&q, limit);
	store_query_sql(&q, " OFFSET ");
	store_query_int(&q, f->offset > 0 ? f->offset : 0);
	return store_query_run(st, NULL, &q, price_row, &pr);
}
