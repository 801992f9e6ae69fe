/* store_sqlite_query.c - statements built at run time (store_core.h's
 * store_query) on SQLite: the driver's query, exec and column accessors. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "store_core.h"
#include "store_sqlite.h"
#include "xmalloc.h"

/* Q's statement: kept prepared by its text (a cache of
 * SQLITE_BUILT_CACHE, the oldest entry making room), or prepared for this
 * use alone while the cached one is stepping.  NULL (logged) on failure. */
static sqlite3_stmt *
sqlite_built_get(struct store_sqlite *s, const struct store_query *q,
                 struct sqlite_built **slot)
{
	struct sqlite_built *b = NULL;
	sqlite3_stmt *st = NULL;
	int own = 0;

	*slot = NULL;
	for (int i = 0; i < SQLITE_BUILT_CACHE; i++)
		if (s->built[i].sql != NULL &&
		    strcmp(s->built[i].sql, q->sql) == 0) {
			b = &s->built[i];
			break;
		}
	if (b != NULL && !b->busy) {
		b->busy = 1;
		*slot = b;
		return b->st;
	}
	if (b == NULL) {
		b = &s->built[s->built_next++ % SQLITE_BUILT_CACHE];
		if (b->busy)
			own = 1; /* the slot is stepping: prepare alone */
	} else
		own = 1;
	if (sqlite3_prepare_v3(s->db, q->sql, (int)q->len + 1,
	                       own ? 0 : SQLITE_PREPARE_PERSISTENT, &st,
	                       NULL) != SQLITE_OK) {
		store_sqlite_log_error(s, "query prepare");
		sqlite3_finalize(st);
		return NULL;
	}
	if (own)
		return st;
	sqlite3_finalize(b->st);
	free(b->sql);
	b->sql = xstrdup(q->sql);
	b->st = st;
	b->busy = 1;
	*slot = b;
	return st;
}

/* Done with ST (from sqlite_query_prepare's SLOT). */
static void
sqlite_built_put(sqlite3_stmt *st, struct sqlite_built *slot)
{
	if (slot == NULL) {
		sqlite3_finalize(st);
		return;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	slot->busy = 0;
}

void
store_sqlite_built_free(struct store_sqlite *s)
{
	for (int i = 0; i < SQLITE_BUILT_CACHE; i++) {
		sqlite3_finalize(s->built[i].st);
		free(s->built[i].sql);
		s->built[i].st = NULL;
		s->built[i].sql = NULL;
	}
}

/* Q's statement with its parameters bound, or NULL (logged); give it back
 * with sqlite_built_put(st, *SLOT). */
static sqlite3_stmt *
sqlite_query_prepare(struct store_sqlite *s, const struct store_query *q,
                     struct sqlite_built **slot)
{
	sqlite3_stmt *st = sqlite_built_get(s, q, slot);

	if (st == NULL)
		return NULL;
	for (int i = 0; i < q->n; i++) {
		const struct store_qarg *a = &q->a[i];

		switch (a->type) {
		case STORE_QA_NULL:
			break;
		case STORE_QA_INT:
			sqlite3_bind_int64(st, i + 1, a->i);
			break;
		case STORE_QA_TEXT:
			sqlite3_bind_text(st, i + 1, a->s, -1, SQLITE_STATIC);
			break;
		case STORE_QA_HASH:
			sqlite3_bind_blob(st, i + 1, a->h, STORE_KEYHASH_LEN,
			                  SQLITE_STATIC);
			break;
		}
	}
	return st;
}

int64_t
store_sqlite_query(struct store *sto, store_tx *tx, const struct store_query *q,
                   store_row_fn fn, void *arg)
{
	struct store_sqlite *s = sq(sto);
	struct sqlite_built *slot;
	sqlite3_stmt *st;
	int64_t n = 0;
	int rc;

	(void)tx; /* one connection: inside or outside, the same */
	if ((st = sqlite_query_prepare(s, q, &slot)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		n++;
		if (fn(&store_sqlite_driver, st, arg) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_sqlite_log_error(s, "query");
		n = -1;
	}
	sqlite_built_put(st, slot);
	return n;
}

int64_t
store_sqlite_exec_query(store_tx *tx, const struct store_query *q, int64_t *id)
{
	struct store_sqlite *s = tx;
	struct sqlite_built *slot;
	sqlite3_stmt *st;
	int64_t n;
	int rc;

	if ((st = sqlite_query_prepare(s, q, &slot)) == NULL)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		n = sqlite3_changes(s->db);
		if (id != NULL)
			*id = sqlite3_last_insert_rowid(s->db);
	} else if (sqlite3_extended_errcode(s->db) ==
	               SQLITE_CONSTRAINT_UNIQUE ||
	           sqlite3_extended_errcode(s->db) ==
	               SQLITE_CONSTRAINT_PRIMARYKEY) {
		n = STORE_EXEC_UNIQUE;
	} else {
		store_sqlite_log_error(s, "exec");
		n = -1;
	}
	sqlite_built_put(st, slot);
	return n;
}

int64_t
store_sqlite_col_int(store_row *row, int col, int64_t null_value)
{
	sqlite3_stmt *st = (sqlite3_stmt *)row;

	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return null_value;
	return sqlite3_column_int64(st, col);
}

void
store_sqlite_col_text(store_row *row, int col, char *dst, size_t size)
{
	store_sqlite_copy_text((sqlite3_stmt *)row, col, dst, size);
}

int
store_sqlite_col_hash_equal(store_row *row, int col, const uint8_t *h)
{
	sqlite3_stmt *st = (sqlite3_stmt *)row;
	const void *b = sqlite3_column_blob(st, col);

	return b != NULL &&
	       sqlite3_column_bytes(st, col) == STORE_KEYHASH_LEN &&
	       CRYPTO_memcmp(b, h, STORE_KEYHASH_LEN) == 0;
}
