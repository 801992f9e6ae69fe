/* store_sqlite_catalog.c - stored catalogues, their generations, and what
 * the daemon last knew of each upstream, on SQLite. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"
#include "store_sqlite.h"
#include "xmalloc.h"

enum store_result
store_sqlite_catalog_replace(struct store *st, const char *upstream,
                             const struct store_service_rows *list)
{
	struct store_sqlite *s = sq(st);
	int64_t now = sqlite_now();
	sqlite3_stmt *q;

	if (store_sqlite_begin(s) != 0)
		return STORE_ERROR;
	q = store_sqlite_stmt(s, Q_CATALOG_DELETE);
	sqlite3_bind_text(q, 1, upstream, -1, SQLITE_STATIC);
	if (store_sqlite_exec(s, Q_CATALOG_DELETE) != 0)
		goto fail;
	for (size_t i = 0; i < list->n; i++) {
		const struct store_service_row *v = &list->v[i];

		q = store_sqlite_stmt(s, Q_CATALOG_ADD);
		sqlite3_bind_text(q, 1, upstream, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, v->id);
		sqlite3_bind_text(q, 3, v->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 4, v->type, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 5, v->category, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 6, v->rate);
		sqlite3_bind_int64(q, 7, v->min);
		sqlite3_bind_int64(q, 8, v->max);
		sqlite3_bind_int(q, 9, v->refill);
		sqlite3_bind_int(q, 10, v->cancel);
		sqlite3_bind_int(q, 11, v->dripfeed);
		sqlite_bind_text_or_null(q, 12, v->description);
		sqlite_bind_text_or_null(q, 13, v->refill_time);
		sqlite3_bind_int64(q, 14, now);
		if (store_sqlite_exec(s, Q_CATALOG_ADD) != 0)
			goto fail;
	}
	if (store_sqlite_commit(s) != 0)
		goto fail;
	return STORE_OK;
fail:
	store_sqlite_rollback(s);
	return STORE_ERROR;
}

enum store_result
store_sqlite_catalog_load(struct store *st, const char *upstream,
                          struct store_service_rows *out)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *q = store_sqlite_stmt(s, Q_CATALOG_LOAD);
	size_t cap = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	sqlite3_bind_text(q, 1, upstream, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_service_row *v;

		if (out->n == cap) {
			cap = cap != 0 ? cap * 2 : 64;
			out->v = xreallocarray(out->v, cap, sizeof(*out->v));
		}
		v = &out->v[out->n++];
		memset(v, 0, sizeof(*v));
		v->id = sqlite3_column_int64(q, 0);
		v->name = store_sqlite_col_strdup(q, 1);
		v->type = store_sqlite_col_strdup(q, 2);
		v->category = store_sqlite_col_strdup(q, 3);
		v->rate = sqlite3_column_int64(q, 4);
		v->min = sqlite3_column_int64(q, 5);
		v->max = sqlite3_column_int64(q, 6);
		v->refill = sqlite3_column_int(q, 7);
		v->cancel = sqlite3_column_int(q, 8);
		v->dripfeed = sqlite3_column_int(q, 9);
		v->description = store_sqlite_col_strdup(q, 10);
		v->refill_time = store_sqlite_col_strdup(q, 11);
		if (v->name == NULL || v->type == NULL || v->category == NULL) {
			rc = SQLITE_CORRUPT;
			break;
		}
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE) {
		store_sqlite_log_error(s, "catalog load");
		store_service_rows_free(out);
		return STORE_ERROR;
	}
	return STORE_OK;
}

enum store_result
store_sqlite_catalog_upstream_put(struct store *st,
                                  const struct upstream_state *u)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *q = store_sqlite_stmt(s, Q_UPSTREAM_PUT);

	sqlite3_bind_text(q, 1, u->name, -1, SQLITE_STATIC);
	if (u->has_balance)
		sqlite3_bind_int64(q, 2, u->balance);
	sqlite3_bind_text(q, 3, u->currency, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, u->balance_at);
	sqlite3_bind_int64(q, 5, u->synced_at);
	sqlite3_bind_int64(q, 6, u->services);
	sqlite3_bind_text(q, 7, u->circuit, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 8, u->multi_ok);
	sqlite3_bind_int64(q, 9, sqlite_now());
	return store_sqlite_exec(s, Q_UPSTREAM_PUT) == 0 ? STORE_OK
	                                                 : STORE_ERROR;
}

enum store_result
store_sqlite_catalog_upstream_get(struct store *st, const char *name,
                                  struct upstream_state *out)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *q = store_sqlite_stmt(s, Q_UPSTREAM_GET);
	enum store_result r = STORE_NOTFOUND;
	int rc;

	memset(out, 0, sizeof(*out));
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		store_sqlite_copy_text(q, 0, out->name, sizeof(out->name));
		out->has_balance = sqlite3_column_type(q, 1) != SQLITE_NULL;
		out->balance = sqlite3_column_int64(q, 1);
		store_sqlite_copy_text(q, 2, out->currency,
		                       sizeof(out->currency));
		out->balance_at = sqlite3_column_int64(q, 3);
		out->synced_at = sqlite3_column_int64(q, 4);
		out->services = sqlite3_column_int64(q, 5);
		store_sqlite_copy_text(q, 6, out->circuit,
		                       sizeof(out->circuit));
		out->multi_ok = sqlite3_column_int(q, 7);
		out->updated_at = sqlite3_column_int64(q, 8);
		r = STORE_OK;
	} else if (rc != SQLITE_DONE) {
		store_sqlite_log_error(s, "upstream state");
		r = STORE_ERROR;
	}
	sqlite3_reset(q);
	return r;
}

/*
 * Catalogue generations (store.h: catalog_generation, catalog_bump): one
 * counter per upstream in meta, key "catalog_gen:NAME", moved after every
 * catalogue save so running daemons see saves made elsewhere.
 */

#define SQLITE_GEN_KEY "catalog_gen:"

/* Run SQL (one statement whose one row, if any, is an integer) with the
 * meta key of UPSTREAM bound to ?1; *GEN is that integer, or 0 with no
 * row. */
static enum store_result
sqlite_catalog_gen_run(struct store_sqlite *s, const char *what,
                       const char *sql, const char *upstream, int64_t *gen)
{
	char key[sizeof(SQLITE_GEN_KEY) + STORE_UPNAME_MAX];
	sqlite3_stmt *q;
	int rc;

	snprintf(key, sizeof(key), "%s%s", SQLITE_GEN_KEY, upstream);
	if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK) {
		store_sqlite_log_error(s, what);
		return STORE_ERROR;
	}
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	*gen = 0;
	if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		*gen = sqlite3_column_int64(q, 0);
		rc = sqlite3_step(q);
	}
	if (rc != SQLITE_DONE) {
		store_sqlite_log_error(s, what);
		sqlite3_finalize(q);
		return STORE_ERROR;
	}
	sqlite3_finalize(q);
	return STORE_OK;
}

enum store_result
store_sqlite_catalog_generation(struct store *st, const char *upstream,
                                int64_t *gen)
{
	return sqlite_catalog_gen_run(
	    sq(st), "catalog generation",
	    "SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?1", upstream,
	    gen);
}

/* One statement, so its own durable transaction. */
enum store_result
store_sqlite_catalog_bump(struct store *st, const char *upstream, int64_t *gen)
{
	return sqlite_catalog_gen_run(
	    sq(st), "catalog bump",
	    "INSERT INTO meta (key, value) VALUES (?1, '1')"
	    " ON CONFLICT (key) DO UPDATE"
	    " SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)"
	    " RETURNING CAST(value AS INTEGER)",
	    upstream, gen);
}
