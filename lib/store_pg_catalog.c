/* store_pg_catalog.c - stored catalogues, their generations, and what the
 * daemon last knew of each upstream, on PostgreSQL. */
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

struct pg_catalog {
	const char *upstream;
	const struct store_service_rows *list;
};

#define PG_CATALOG_COLS 15

/* Insert services FROM..TO of the list in one statement. */
static int
pg_catalog_chunk(struct pgtx *t, const struct pg_catalog *c, size_t from,
                 size_t to, int64_t now)
{
	size_t rows = to - from, nparams = rows * PG_CATALOG_COLS;
	size_t size = 256 + rows * PG_CATALOG_COLS * 12, off = 0;
	const char **v = xcalloc(nparams, sizeof(*v));
	char(*num)[24] = xcalloc(nparams, sizeof(*num));
	char *sql = xmalloc(size);
	PGresult *res;
	size_t p = 0;

	off += (size_t)snprintf(sql, size,
	                        "INSERT INTO catalog (upstream, service,"
	                        " name, type, category, rate, min, max,"
	                        " refill, cancel, dripfeed, description,"
	                        " refill_time, synced_at, pos) VALUES ");
	for (size_t i = from; i < to; i++) {
		const struct store_service_row *s = &c->list->v[i];
		int64_t ints[] = {s->id,       s->rate,   s->min,
		                  s->max,      s->refill, s->cancel,
		                  s->dripfeed, now,       (int64_t)i};
		const char *texts[] = {c->upstream,    s->name,
		                       s->type,        s->category,
		                       s->description, s->refill_time};
		/* Where each column's value is, in the INSERT's column
		 * order: k >= 0 is ints[k], k < 0 is texts[-k - 1]. */
		const int kind[PG_CATALOG_COLS] = {-1, 0, -2, -3, -4, 1, 2, 3,
		                                   4,  5, 6,  -5, -6, 7, 8};

		off += (size_t)snprintf(sql + off, size - off, "%s(",
		                        i > from ? "," : "");
		for (int k = 0; k < PG_CATALOG_COLS; k++, p++) {
			if (kind[k] >= 0) {
				snprintf(num[p], sizeof(num[p]), "%lld",
				         (long long)ints[kind[k]]);
				v[p] = num[p];
			} else {
				v[p] = texts[-kind[k] - 1];
			}
			off += (size_t)snprintf(sql + off, size - off, "%s$%zu",
			                        k > 0 ? ", " : "", p + 1);
		}
		off += (size_t)snprintf(sql + off, size - off, ")");
	}
	res = store_pg_exec_n(t, "catalog add", sql, (int)nparams, v, 0);
	free(sql);
	free(num);
	free(v);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

static enum store_result
pg_catalog_body(struct pgtx *t, void *arg)
{
	struct pg_catalog *c = arg;
	struct pgargs a = {0};
	int64_t now = pg_now();

	store_pg_arg_str(&a, c->upstream);
	/* Instances sharing the database sync the same upstreams: one
	 * replacement of a list at a time, or the second one's inserts
	 * would meet the first one's rows. */
	if (store_pg_cmd(
	        t, "catalog lock",
	        "SELECT pg_advisory_xact_lock(hashtext('catalog:' || $1))",
	        &a) < 0 ||
	    store_pg_cmd(t, "catalog delete",
	                 "DELETE FROM catalog WHERE upstream = $1", &a) < 0)
		return STORE_ERROR;
	for (size_t i = 0; i < c->list->n; i += PG_CATALOG_ROWS) {
		size_t to = i + PG_CATALOG_ROWS;

		if (to > c->list->n)
			to = c->list->n;
		if (pg_catalog_chunk(t, c, i, to, now) != 0)
			return STORE_ERROR;
	}
	return STORE_OK;
}

enum store_result
store_pg_catalog_replace(struct store *st, const char *upstream,
                         const struct store_service_rows *list)
{
	struct pg_catalog c = {upstream, list};

	return store_pg_run(spg(st), 1, pg_catalog_body, &c);
}

enum store_result
store_pg_catalog_load(struct store *st, const char *upstream,
                      struct store_service_rows *out)
{
	struct pgargs a = {0};
	PGresult *res;
	int n;

	memset(out, 0, sizeof(*out));
	store_pg_arg_str(&a, upstream);
	res = store_pg_query(
	    spg(st), "catalog load",
	    "SELECT service, name, type, category, rate, min, max,"
	    " refill, cancel, dripfeed, description, refill_time"
	    " FROM catalog WHERE upstream = $1 ORDER BY pos, service",
	    &a);
	if (res == NULL)
		return STORE_ERROR;
	n = PQntuples(res);
	if (n > 0)
		out->v = xcalloc((size_t)n, sizeof(*out->v));
	for (int i = 0; i < n; i++) {
		struct store_service_row *v = &out->v[out->n++];

		v->id = store_pg_int(res, i, 0, 0);
		v->name = store_pg_strdup(res, i, 1);
		v->type = store_pg_strdup(res, i, 2);
		v->category = store_pg_strdup(res, i, 3);
		v->rate = store_pg_int(res, i, 4, 0);
		v->min = store_pg_int(res, i, 5, 0);
		v->max = store_pg_int(res, i, 6, 0);
		v->refill = (int)store_pg_int(res, i, 7, 0);
		v->cancel = (int)store_pg_int(res, i, 8, 0);
		v->dripfeed = (int)store_pg_int(res, i, 9, 0);
		v->description = store_pg_strdup(res, i, 10);
		v->refill_time = store_pg_strdup(res, i, 11);
	}
	PQclear(res);
	return STORE_OK;
}

enum store_result
store_pg_catalog_upstream_put(struct store *st, const struct upstream_state *u)
{
	struct pgargs a = {0};

	store_pg_arg_str(&a, u->name);
	if (u->has_balance)
		store_pg_arg_int(&a, u->balance);
	else
		store_pg_arg_str(&a, NULL);
	store_pg_arg_str(&a, u->currency);
	store_pg_arg_int(&a, u->balance_at);
	store_pg_arg_int(&a, u->synced_at);
	store_pg_arg_int(&a, u->services);
	store_pg_arg_str(&a, u->circuit);
	store_pg_arg_int(&a, u->multi_ok);
	store_pg_arg_int(&a, pg_now());
	return store_pg_write(
	           spg(st), "upstream state",
	           "INSERT INTO upstreams (name, balance, currency,"
	           " balance_at, synced_at, services, circuit, multi_ok,"
	           " updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
	           " $9) ON CONFLICT (name) DO UPDATE SET"
	           " balance = EXCLUDED.balance,"
	           " currency = EXCLUDED.currency,"
	           " balance_at = EXCLUDED.balance_at,"
	           " synced_at = EXCLUDED.synced_at,"
	           " services = EXCLUDED.services,"
	           " circuit = EXCLUDED.circuit,"
	           " multi_ok = EXCLUDED.multi_ok,"
	           " updated_at = EXCLUDED.updated_at",
	           &a, 0, NULL) < 0
	           ? STORE_ERROR
	           : STORE_OK;
}

enum store_result
store_pg_catalog_upstream_get(struct store *st, const char *name,
                              struct upstream_state *out)
{
	struct pgargs a = {0};
	enum store_result r = STORE_NOTFOUND;
	PGresult *res;

	memset(out, 0, sizeof(*out));
	store_pg_arg_str(&a, name);
	res = store_pg_query(
	    spg(st), "upstream state",
	    "SELECT name, balance, currency, balance_at, synced_at,"
	    " services, circuit, multi_ok, updated_at"
	    " FROM upstreams WHERE name = $1",
	    &a);
	if (res == NULL)
		return STORE_ERROR;
	if (PQntuples(res) == 1) {
		store_pg_text(res, 0, 0, out->name, sizeof(out->name));
		out->has_balance = !PQgetisnull(res, 0, 1);
		out->balance = store_pg_int(res, 0, 1, 0);
		store_pg_text(res, 0, 2, out->currency, sizeof(out->currency));
		out->balance_at = store_pg_int(res, 0, 3, 0);
		out->synced_at = store_pg_int(res, 0, 4, 0);
		out->services = store_pg_int(res, 0, 5, 0);
		store_pg_text(res, 0, 6, out->circuit, sizeof(out->circuit));
		out->multi_ok = (int)store_pg_int(res, 0, 7, 0);
		out->updated_at = store_pg_int(res, 0, 8, 0);
		r = STORE_OK;
	}
	PQclear(res);
	return r;
}

/*
 * Catalogue generations (store.h: catalog_generation, catalog_bump): one
 * counter per upstream in meta, key "catalog_gen:NAME", moved after every
 * catalogue save so running instances see saves made elsewhere.
 */

#define PG_GEN_KEY "catalog_gen:"

/* One statement with the meta key of UPSTREAM as $1, returning at most one
 * integer: *GEN, or 0 with no row. */
static enum store_result
pg_catalog_gen_run(struct store *st, const char *what, const char *sql,
                   const char *upstream, int64_t *gen)
{
	char key[sizeof(PG_GEN_KEY) + STORE_UPNAME_MAX];
	struct pgargs a = {0};
	struct store_pg_one o = {what, sql, &a, 0, 1, NULL, 0, PG_OK};

	snprintf(key, sizeof(key), "%s%s", PG_GEN_KEY, upstream);
	store_pg_arg_str(&a, key);
	if (store_pg_one(spg(st), &o) != STORE_OK)
		return STORE_ERROR;
	*gen = PQntuples(o.res) == 1 ? store_pg_int(o.res, 0, 0, 0) : 0;
	PQclear(o.res);
	return STORE_OK;
}

enum store_result
store_pg_catalog_generation(struct store *st, const char *upstream,
                            int64_t *gen)
{
	return pg_catalog_gen_run(
	    st, "catalog generation",
	    "SELECT value::bigint FROM meta WHERE key = $1", upstream, gen);
}

enum store_result
store_pg_catalog_bump(struct store *st, const char *upstream, int64_t *gen)
{
	return pg_catalog_gen_run(
	    st, "catalog bump",
	    "INSERT INTO meta (key, value) VALUES ($1, '1')"
	    " ON CONFLICT (key) DO UPDATE"
	    " SET value = (meta.value::bigint + 1)::text"
	    " RETURNING value::bigint",
	    upstream, gen);
}
