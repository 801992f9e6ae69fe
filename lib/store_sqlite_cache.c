/* store_sqlite_cache.c - the daemon's read caches over SQLite (DESIGN.md,
 * "Read caches"): rows forgotten by the update hook, emptied when
 * data_version says another connection committed. */
#include <string.h>

#include <openssl/crypto.h>
#include <event2/event.h>

#include "rowcache.h"
#include "store.h"
#include "store_sqlite.h"

/* The daemon's read caches (DESIGN.md, "Read caches"). */
#define SQLITE_CACHE_ORDERS 16384
#define SQLITE_CACHE_CUSTOMERS 4096

struct store_sqlite_cache_customer_get {
	uint8_t key_hash[STORE_KEYHASH_LEN];
	struct customer c;
};

struct sqlite_key {
	uint8_t key_hash[STORE_KEYHASH_LEN];
	int64_t id;
};

/*
 * Read caches (DESIGN.md, "Read caches").  Once attached to the daemon's
 * loop the store answers customer and order reads from memory while nothing
 * has written those rows: every row this connection changes is forgotten by
 * the update hook as it changes, and a commit by any other connection (the
 * CLI) changes data_version, read at the first cached read of each loop
 * iteration, which empties the caches.  Iterations are told apart by the
 * loop's cached time, which the daemon keeps in microseconds
 * (EVENT_BASE_FLAG_PRECISE_TIMER; the default coarse clock ticks every 4 ms
 * and hid commits, test_cache.py): the check itself takes longer than a
 * microsecond, so a later iteration cannot carry the same time.  Inside a
 * transaction the caches are neither read nor filled: what the connection
 * sees there may yet be rolled back.
 */

static void
sqlite_cache_clear(struct store_sqlite *s)
{
	rowcache_clear(s->orders);
	rowcache_clear(s->customers);
	rowcache_clear(s->keys);
}

static void
sqlite_row_changed(void *arg, int op, const char *db, const char *table,
                   sqlite3_int64 rowid)
{
	struct store_sqlite *s = arg;

	if (strcmp(table, "orders") == 0)
		rowcache_forget(s->orders, rowid);
	else if (strcmp(table, "customers") == 0)
		rowcache_forget(s->customers, rowid);
}

/* 1 if the caches may be read and filled now. */
int
store_sqlite_cache_usable(struct store_sqlite *s)
{
	struct timeval now;
	sqlite3_stmt *q;
	int64_t v;

	if (s->loop == NULL || !sqlite3_get_autocommit(s->db) ||
	    event_base_gettimeofday_cached(s->loop, &now) != 0)
		return 0;
	if (now.tv_sec == s->checked.tv_sec &&
	    now.tv_usec == s->checked.tv_usec)
		return 1; /* checked in this loop iteration */
	q = store_sqlite_stmt(s, Q_DATA_VERSION);
	if (sqlite3_step(q) != SQLITE_ROW) {
		sqlite3_reset(q);
		sqlite_cache_clear(s);
		timerclear(&s->checked);
		return 0;
	}
	v = sqlite3_column_int64(q, 0);
	sqlite3_reset(q);
	if (v != s->data_version) {
		sqlite_cache_clear(s);
		s->data_version = v;
	}
	s->checked = now;
	return 1;
}

static int64_t
sqlite_key_slot(const uint8_t *key_hash)
{
	int64_t k;

	memcpy(&k, key_hash, sizeof(k));
	return k;
}

/* The cached customer of KEY_HASH, or NULL. */
const struct customer *
store_sqlite_cache_customer_get(struct store_sqlite *s, const uint8_t *key_hash)
{
	const struct sqlite_key *k =
	    rowcache_get(s->keys, sqlite_key_slot(key_hash));
	const struct store_sqlite_cache_customer_get *cc;

	if (k == NULL ||
	    CRYPTO_memcmp(k->key_hash, key_hash, STORE_KEYHASH_LEN) != 0 ||
	    (cc = rowcache_get(s->customers, k->id)) == NULL ||
	    CRYPTO_memcmp(cc->key_hash, key_hash, STORE_KEYHASH_LEN) != 0)
		return NULL;
	return &cc->c;
}

void
store_sqlite_cache_customer_put(struct store_sqlite *s, const uint8_t *key_hash,
                                const struct customer *c)
{
	struct store_sqlite_cache_customer_get cc;
	struct sqlite_key k;

	memset(&k, 0, sizeof(k));
	memcpy(k.key_hash, key_hash, STORE_KEYHASH_LEN);
	k.id = c->id;
	rowcache_put(s->keys, sqlite_key_slot(key_hash), &k);
	memset(&cc, 0, sizeof(cc));
	memcpy(cc.key_hash, key_hash, STORE_KEYHASH_LEN);
	cc.c = *c;
	rowcache_put(s->customers, c->id, &cc);
}

int
store_sqlite_cache_attach(struct store *st, struct event_base *base)
{
	struct store_sqlite *s = sq(st);

	s->orders = rowcache_new(sizeof(struct order), SQLITE_CACHE_ORDERS);
	s->customers =
	    rowcache_new(sizeof(struct store_sqlite_cache_customer_get),
	                 SQLITE_CACHE_CUSTOMERS);
	s->keys =
	    rowcache_new(sizeof(struct sqlite_key), SQLITE_CACHE_CUSTOMERS);
	sqlite3_update_hook(s->db, sqlite_row_changed, s);
	s->loop = base;
	/* Failing, checkpoints stay where they were (logged). */
	(void)store_sqlite_ckpt_start(s);
	/* Failing, the order group's commits stay FULL (logged). */
	(void)store_sqlite_sync_start(s, base);
	return 0;
}
