/* store_pg_query.c - statements built at run time (store_core.h's
 * store_query) on PostgreSQL: the driver's query, exec and column
 * accessors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "log.h"
#include "store.h"
#include "store_core.h"
#include "store_pg.h"
#include "xmalloc.h"

#define PG_QARG_LEN 72 /* an int64, or a hash as '\x' and hex */

/* Q's parameters as libpq's text values. */
struct pg_qargs {
	const char *v[STORE_QUERY_ARGS];
	char buf[STORE_QUERY_ARGS][PG_QARG_LEN];
};

static struct pg_qargs *
pg_qargs_new(const struct store_query *q)
{
	static const char hex[] = "0123456789abcdef";
	struct pg_qargs *a = xcalloc(1, sizeof(*a));

	for (int i = 0; i < q->n; i++) {
		const struct store_qarg *x = &q->a[i];
		char *p = a->buf[i];

		switch (x->type) {
		case STORE_QA_NULL:
			a->v[i] = NULL;
			break;
		case STORE_QA_INT:
			snprintf(p, PG_QARG_LEN, "%lld", (long long)x->i);
			a->v[i] = p;
			break;
		case STORE_QA_TEXT:
			a->v[i] = x->s;
			break;
		case STORE_QA_HASH:
			*p++ = '\\';
			*p++ = 'x';
			for (int k = 0; k < STORE_KEYHASH_LEN; k++) {
				*p++ = hex[x->h[k] >> 4];
				*p++ = hex[x->h[k] & 15];
			}
			*p = '\0';
			a->v[i] = a->buf[i];
			break;
		}
	}
	return a;
}

struct pg_query_run {
	const struct store_query *q;
	store_row_fn fn;
	void *arg;
	int64_t n;
};

static enum store_result
pg_query_body(struct pgtx *t, void *arg)
{
	struct pg_query_run *r = arg;
	struct pg_qargs *a = pg_qargs_new(r->q);
	PGresult *res;

	res = store_pg_exec_n(t, "query", r->q->sql, r->q->n, a->v, 0);
	free(a);
	if (res == NULL)
		return STORE_ERROR;
	r->n = 0;
	for (int i = 0; i < PQntuples(res); i++) {
		struct pg_row row = {res, i};

		r->n++;
		if (r->fn(&store_pg_driver, &row, r->arg) != 0)
			break;
	}
	PQclear(res);
	return STORE_OK;
}

int64_t
store_pg_query_rows(struct store *st, store_tx *tx, const struct store_query *q,
                    store_row_fn fn, void *arg)
{
	struct pg_query_run r = {q, fn, arg, 0};

	if (tx != NULL)
		return pg_query_body(tx, &r) == STORE_OK ? r.n : -1;
	return store_pg_run(spg(st), 0, pg_query_body, &r) == STORE_OK ? r.n
	                                                               : -1;
}

int64_t
store_pg_exec_query(store_tx *tx, const struct store_query *q, int64_t *id)
{
	struct pgtx *t = tx;
	struct pg_qargs *a = pg_qargs_new(q);
	char *sql = NULL;
	PGresult *res;
	int64_t n;

	if (id != NULL) {
		size_t len = q->len + sizeof(" RETURNING id");

		sql = xmalloc(len);
		snprintf(sql, len, "%s RETURNING id", q->sql);
	}
	res = store_pg_exec_n(t, "exec", sql != NULL ? sql : q->sql, q->n, a->v,
	                      PGX_UNIQUE_OK);
	free(a);
	free(sql);
	if (res == NULL)
		return t->err == PG_UNIQUE ? STORE_EXEC_UNIQUE : -1;
	if (PQresultStatus(res) == PGRES_TUPLES_OK) {
		n = PQntuples(res);
		if (id != NULL && n > 0)
			*id = store_pg_int(res, 0, 0, 0);
	} else
		n = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return n;
}

int64_t
store_pg_col_int(store_row *row, int col, int64_t null_value)
{
	const struct pg_row *r = row;

	return store_pg_int(r->res, r->row, col, null_value);
}

void
store_pg_col_text(store_row *row, int col, char *dst, size_t size)
{
	const struct pg_row *r = row;

	store_pg_text(r->res, r->row, col, dst, size);
}

int
store_pg_col_hash_equal(store_row *row, int col, const uint8_t *h)
{
	const struct pg_row *r = row;

	return store_pg_hash_equal(r->res, r->row, col, h);
}
