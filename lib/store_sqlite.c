/* store_sqlite.c - the embedded SQLite backend of the store interface.
 *
 * Durability is not negotiable: WAL, synchronous=FULL and a busy timeout are
 * set and read back at open, and the store refuses to run without them.
 * Writes use BEGIN IMMEDIATE so two processes (daemon and CLI) never
 * deadlock upgrading a read lock; every statement is prepared once.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <event2/event.h>
#include <sqlite3.h>

#include "clock.h"
#include "config.h"
#include "dialect.h"
#include "log.h"
#include "money.h"
#include "rowcache.h"
#include "store.h"
#include "store_core.h"
#include "xmalloc.h"

#define SQLITE_BUSY_MS 5000
/* The daemon's read caches (DESIGN.md, "Read caches"). */
#define SQLITE_CACHE_ORDERS 16384
#define SQLITE_CACHE_CUSTOMERS 4096

/* Each entry migrates the schema from version i to i + 1 (user_version). */
static const char *const sqlite_migrations[] = {
    /* 1: the whole product's schema. */
    "CREATE TABLE customers ("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " key_hash BLOB NOT NULL UNIQUE,"
    " balance INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0),"
    " disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),"
    " created_at INTEGER NOT NULL"
    ") STRICT;"
    "CREATE TABLE orders ("
    " id INTEGER PRIMARY KEY,"
    " customer_id INTEGER NOT NULL REFERENCES customers(id),"
    " service_id INTEGER NOT NULL,"
    " type TEXT NOT NULL,"
    " state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'active',"
    "  'completed', 'partial', 'canceled', 'refunded', 'rejected')),"
    " quantity INTEGER NOT NULL CHECK (quantity > 0),"
    " runs INTEGER NOT NULL DEFAULT 0,"
    " interval INTEGER NOT NULL DEFAULT 0,"
    " rate INTEGER NOT NULL CHECK (rate >= 0),"
    " charge INTEGER NOT NULL CHECK (charge > 0),"
    " fields TEXT NOT NULL,"
    " upstream TEXT NOT NULL,"
    " upstream_service INTEGER NOT NULL,"
    " route_idx INTEGER NOT NULL DEFAULT 0,"
    " upstream_order TEXT,"
    " cost INTEGER,"
    " start_count INTEGER,"
    " remains INTEGER,"
    " upstream_status TEXT,"
    " request_id TEXT,"
    " request_hash BLOB,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " polled_at INTEGER NOT NULL DEFAULT 0"
    ") STRICT;"
    "CREATE UNIQUE INDEX orders_request ON orders(customer_id, request_id)"
    " WHERE request_id IS NOT NULL;"
    "CREATE UNIQUE INDEX orders_upstream_order ON orders(upstream,"
    " upstream_order) WHERE upstream_order IS NOT NULL;"
    /* The poller's and the sweeper's queries, each on its own partial
     * index (an equality term SQLite can match). */
    "CREATE INDEX orders_poll ON orders(upstream, polled_at)"
    " WHERE state = 'active';"
    "CREATE INDEX orders_queued ON orders(id) WHERE state = 'queued';"
    "CREATE INDEX orders_sending ON orders(id) WHERE state = 'sending';"
    "CREATE INDEX orders_customer ON orders(customer_id, id);"
    "CREATE TABLE ledger ("
    " id INTEGER PRIMARY KEY,"
    " customer_id INTEGER NOT NULL REFERENCES customers(id),"
    " kind TEXT NOT NULL CHECK (kind IN ('deposit', 'charge', 'refund',"
    "  'adjustment')),"
    " amount INTEGER NOT NULL,"
    " order_id INTEGER REFERENCES orders(id),"
    " note TEXT,"
    " created_at INTEGER NOT NULL,"
    " CHECK ((kind = 'deposit' AND amount > 0 AND order_id IS NULL)"
    "  OR (kind = 'charge' AND amount < 0 AND order_id IS NOT NULL)"
    "  OR (kind = 'refund' AND amount > 0 AND order_id IS NOT NULL)"
    "  OR (kind = 'adjustment' AND amount <> 0))"
    ") STRICT;"
    /* One charge and at most one refund per order, whatever the code. */
    "CREATE UNIQUE INDEX ledger_one_charge ON ledger(order_id)"
    " WHERE kind = 'charge';"
    "CREATE UNIQUE INDEX ledger_one_refund ON ledger(order_id)"
    " WHERE kind = 'refund';"
    "CREATE INDEX ledger_customer ON ledger(customer_id);"
    "CREATE TABLE refills ("
    " id INTEGER PRIMARY KEY,"
    " order_id INTEGER NOT NULL REFERENCES orders(id),"
    " customer_id INTEGER NOT NULL REFERENCES customers(id),"
    " state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'active',"
    "  'final', 'rejected')),"
    " upstream TEXT NOT NULL,"
    " upstream_refill TEXT,"
    " status TEXT,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " polled_at INTEGER NOT NULL DEFAULT 0"
    ") STRICT;"
    "CREATE INDEX refills_order ON refills(order_id);"
    "CREATE INDEX refills_open ON refills(upstream, polled_at)"
    " WHERE state IN ('queued', 'sending', 'active');"
    "CREATE TABLE catalog ("
    " upstream TEXT NOT NULL,"
    " service INTEGER NOT NULL,"
    " name TEXT NOT NULL,"
    " type TEXT NOT NULL,"
    " category TEXT NOT NULL,"
    " rate INTEGER NOT NULL CHECK (rate >= 0),"
    " min INTEGER NOT NULL,"
    " max INTEGER NOT NULL,"
    " refill INTEGER NOT NULL,"
    " cancel INTEGER NOT NULL,"
    " dripfeed INTEGER NOT NULL,"
    " description TEXT,"
    " refill_time TEXT,"
    " synced_at INTEGER NOT NULL,"
    " PRIMARY KEY (upstream, service)"
    ") STRICT;"
    "CREATE TABLE upstreams ("
    " name TEXT PRIMARY KEY,"
    " balance INTEGER,"
    " currency TEXT,"
    " balance_at INTEGER NOT NULL DEFAULT 0,"
    " synced_at INTEGER NOT NULL DEFAULT 0,"
    " services INTEGER NOT NULL DEFAULT 0,"
    " circuit TEXT NOT NULL DEFAULT 'closed',"
    " multi_ok INTEGER NOT NULL DEFAULT 1,"
    " updated_at INTEGER NOT NULL DEFAULT 0"
    ") STRICT;",
    /* 2: the refund of an order kept on its row (written with the ledger
     * entry; check compares them), so reading orders needs no sum. */
    "ALTER TABLE orders ADD COLUMN refunded INTEGER NOT NULL DEFAULT 0;"
    "UPDATE orders SET refunded = COALESCE((SELECT SUM(amount) FROM ledger l"
    " WHERE l.order_id = orders.id AND l.kind = 'refund'), 0);",
    /* 3: the quantity as the upstream counts remains (ordertype.h):
     * quantity x runs for drip-feed, max for Subscriptions.  Settled
     * orders keep the unit they were settled in (their refunds are
     * history, and check verifies them as they were made); open ones get
     * the upstream's unit. */
    "ALTER TABLE orders ADD COLUMN upstream_quantity INTEGER NOT NULL"
    " DEFAULT 0;"
    "UPDATE orders SET upstream_quantity = quantity;"
    "UPDATE orders SET upstream_quantity = CASE"
    " WHEN type = 'Subscriptions' THEN COALESCE(CAST(json_extract(fields,"
    "  '$.max') AS INTEGER), quantity)"
    " WHEN runs > 0 THEN quantity * runs ELSE quantity END"
    " WHERE state IN ('queued', 'sending', 'active');"
    /* What the store's amounts mean: money.decimals is written once and
     * checked at every open (store_check_decimals). */
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;",
};
#define SQLITE_SCHEMA_VERSION                                                  \
	((int)(sizeof(sqlite_migrations) / sizeof(sqlite_migrations[0])))

enum sqlite_stmt {
	Q_BEGIN,
	Q_COMMIT,
	Q_ROLLBACK,
	Q_CUSTOMER_ADD,
	Q_CUSTOMER_SET_KEY,
	Q_CUSTOMER_BY_KEY,
	Q_CUSTOMER_BY_NAME,
	Q_CUSTOMER_BY_ID,
	Q_CUSTOMER_SET_DISABLED,
	Q_CUSTOMER_LIST,
	Q_BALANCE_ADD,
	Q_BALANCE_DEBIT,
	Q_BALANCE_POST,
	Q_LEDGER_ADD,
	Q_ORDER_BY_REQUEST,
	Q_ORDER_ADD,
	Q_ORDER_GET,
	Q_ORDER_GET_MANY,
	Q_CATALOG_DELETE,
	Q_CATALOG_ADD,
	Q_CATALOG_LOAD,
	Q_UPSTREAM_PUT,
	Q_UPSTREAM_GET,
	Q_ORDER_SENDING,
	Q_ORDER_UNSENT,
	Q_ORDER_ACTIVE,
	Q_ORDER_FINAL,
	Q_ORDER_FIELDS,
	Q_ORDER_POLLED,
	Q_ORDER_GET_FIELDS,
	Q_ORDER_COUNTS,
	Q_REFILL_ADD,
	Q_REFILL_UPDATE,
	Q_REFILL_GET,
	Q_DATA_VERSION,
	Q_COUNT
};

/* Statement names for the log: an operator reads what failed, never SQL. */
static const char *const sqlite_names[Q_COUNT] = {
    [Q_BEGIN] = "begin",
    [Q_COMMIT] = "commit",
    [Q_ROLLBACK] = "rollback",
    [Q_CUSTOMER_ADD] = "customer add",
    [Q_CUSTOMER_SET_KEY] = "customer set key",
    [Q_CUSTOMER_BY_KEY] = "customer by key",
    [Q_CUSTOMER_BY_NAME] = "customer by name",
    [Q_CUSTOMER_BY_ID] = "customer by id",
    [Q_CUSTOMER_SET_DISABLED] = "customer set disabled",
    [Q_CUSTOMER_LIST] = "customer list",
    [Q_BALANCE_ADD] = "balance add",
    [Q_BALANCE_DEBIT] = "balance debit",
    [Q_BALANCE_POST] = "balance post",
    [Q_LEDGER_ADD] = "ledger add",
    [Q_ORDER_BY_REQUEST] = "order by request",
    [Q_ORDER_ADD] = "order add",
    [Q_ORDER_GET] = "order get",
    [Q_ORDER_GET_MANY] = "order get many",
    [Q_CATALOG_DELETE] = "catalog delete",
    [Q_CATALOG_ADD] = "catalog add",
    [Q_CATALOG_LOAD] = "catalog load",
    [Q_UPSTREAM_PUT] = "upstream put",
    [Q_UPSTREAM_GET] = "upstream get",
    [Q_ORDER_SENDING] = "order sending",
    [Q_ORDER_UNSENT] = "order unsent",
    [Q_ORDER_ACTIVE] = "order active",
    [Q_ORDER_FINAL] = "order final",
    [Q_ORDER_FIELDS] = "order fields",
    [Q_ORDER_POLLED] = "order polled",
    [Q_ORDER_GET_FIELDS] = "order get fields",
    [Q_ORDER_COUNTS] = "order counts",
    [Q_REFILL_ADD] = "refill add",
    [Q_REFILL_UPDATE] = "refill update",
    [Q_REFILL_GET] = "refill get",
    [Q_DATA_VERSION] = "data version",
};

#define CUSTOMER_COLS "id, name, balance, disabled, created_at"
#define ORDER_COLS                                                             \
	"o.id, o.customer_id, o.service_id, o.type, o.state, o.quantity,"      \
	" o.runs, o.interval, o.rate, o.charge, o.upstream,"                   \
	" o.upstream_service, o.route_idx, o.upstream_order, o.cost,"          \
	" o.start_count, o.remains, o.upstream_status, o.created_at,"          \
	" o.updated_at, o.polled_at, o.refunded, o.upstream_quantity"

static const char *const sqlite_sql[Q_COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_DATA_VERSION] = "PRAGMA data_version",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_CUSTOMER_ADD] = "INSERT INTO customers (name, key_hash, created_at)"
                       " VALUES (?1, ?2, ?3)",
    [Q_CUSTOMER_SET_KEY] = "UPDATE customers SET key_hash = ?2 WHERE name = ?1",
    [Q_CUSTOMER_BY_KEY] = "SELECT " CUSTOMER_COLS ", key_hash FROM customers"
                          " WHERE key_hash = ?1",
    [Q_CUSTOMER_BY_NAME] = "SELECT " CUSTOMER_COLS " FROM customers"
                           " WHERE name = ?1",
    [Q_CUSTOMER_BY_ID] = "SELECT " CUSTOMER_COLS " FROM customers"
                         " WHERE id = ?1",
    [Q_CUSTOMER_SET_DISABLED] = "UPDATE customers SET disabled = ?2"
                                " WHERE name = ?1",
    [Q_CUSTOMER_LIST] = "SELECT " CUSTOMER_COLS " FROM customers ORDER BY id",
    [Q_BALANCE_ADD] = "UPDATE customers SET balance = balance + ?2"
                      " WHERE id = ?1 AND balance + ?2 >= 0",
    /* The debit primitive: rows affected tells whether it happened. */
    [Q_BALANCE_DEBIT] = "UPDATE customers SET balance = balance - ?2"
                        " WHERE id = ?1 AND balance >= ?2",
    /* An operator's deposit or adjustment: never negative, never past
     * STORE_BALANCE_MAX (?3; ?3 - ?2 cannot overflow, both are >= 0). */
    [Q_BALANCE_POST] = "UPDATE customers SET balance = balance + ?2"
                       " WHERE id = ?1 AND balance + ?2 >= 0"
                       " AND (?2 < 0 OR balance <= ?3 - ?2)",
    [Q_LEDGER_ADD] = "INSERT INTO ledger (customer_id, kind, amount,"
                     " order_id, note, created_at)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [Q_ORDER_BY_REQUEST] = "SELECT id, request_hash FROM orders"
                           " WHERE customer_id = ?1 AND request_id = ?2",
    [Q_ORDER_ADD] = "INSERT INTO orders (customer_id, service_id, type, state,"
                    " quantity, runs, interval, rate, charge, fields, upstream,"
                    " upstream_service, route_idx, request_id, request_hash,"
                    " created_at, updated_at, upstream_quantity)"
                    " VALUES (?1, ?2, ?3, ?16, ?4, ?5, ?6, ?7, ?8, ?9,"
                    " ?10, ?11, ?12, ?13, ?14, ?15, ?15, ?17)",
    [Q_ORDER_GET] = "SELECT " ORDER_COLS " FROM orders o WHERE o.id = ?1",
    /* One statement for a list of IDs, passed as a JSON array. */
    [Q_ORDER_GET_MANY] = "SELECT " ORDER_COLS " FROM orders o"
                         " WHERE o.id IN (SELECT value FROM json_each(?1))",
    [Q_CATALOG_DELETE] = "DELETE FROM catalog WHERE upstream = ?1",
    [Q_CATALOG_ADD] = "INSERT INTO catalog (upstream, service, name, type,"
                      " category, rate, min, max, refill, cancel, dripfeed,"
                      " description, refill_time, synced_at)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,"
                      " ?12, ?13, ?14)",
    [Q_CATALOG_LOAD] = "SELECT service, name, type, category, rate, min, max,"
                       " refill, cancel, dripfeed, description, refill_time"
                       " FROM catalog WHERE upstream = ?1 ORDER BY rowid",
    [Q_UPSTREAM_PUT] =
        "INSERT INTO upstreams (name, balance, currency,"
        " balance_at, synced_at, services, circuit, multi_ok,"
        " updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        " ON CONFLICT (name) DO UPDATE SET balance = ?2,"
        " currency = ?3, balance_at = ?4, synced_at = ?5,"
        " services = ?6, circuit = ?7, multi_ok = ?8,"
        " updated_at = ?9",
    [Q_ORDER_SENDING] = "UPDATE orders SET state = 'sending', route_idx = ?2,"
                        " upstream = ?3, upstream_service = ?4,"
                        " updated_at = ?5"
                        " WHERE id = ?1 AND state = ?6",
    [Q_ORDER_UNSENT] = "UPDATE orders SET state = 'queued', updated_at = ?2"
                       " WHERE id = ?1 AND state = 'sending'",
    [Q_ORDER_ACTIVE] = "UPDATE orders SET state = 'active',"
                       " upstream_order = ?2, cost = ?3, polled_at = ?4,"
                       " updated_at = ?5"
                       " WHERE id = ?1 AND state = 'sending'",
    /* A final state is written once: only an open order moves. */
    [Q_ORDER_FINAL] = "UPDATE orders SET state = ?2, upstream_status ="
                      " COALESCE(?3, upstream_status), updated_at = ?4,"
                      " refunded = ?7 WHERE id = ?1 AND state IN (?5, ?6)",
    [Q_ORDER_FIELDS] = "UPDATE orders SET upstream_status ="
                       " COALESCE(?2, upstream_status),"
                       " start_count = COALESCE(?3, start_count),"
                       " remains = COALESCE(?4, remains),"
                       " cost = COALESCE(?5, cost), polled_at = ?6,"
                       " updated_at = ?7 WHERE id = ?1 AND state = 'active'",
    [Q_ORDER_GET_FIELDS] = "SELECT fields FROM orders WHERE id = ?1",
    [Q_ORDER_POLLED] = "UPDATE orders SET polled_at = ?2 WHERE id = ?1",
    [Q_ORDER_COUNTS] = "SELECT state, COUNT(*) FROM orders GROUP BY state",
    [Q_REFILL_ADD] = "INSERT INTO refills (order_id, customer_id, state,"
                     " upstream, created_at, updated_at)"
                     " VALUES (?1, ?2, 'sending', ?3, ?4, ?4)",
    [Q_REFILL_UPDATE] = "UPDATE refills SET state = ?2,"
                        " upstream_refill = COALESCE(?3, upstream_refill),"
                        " status = COALESCE(?4, status), updated_at = ?5"
                        " WHERE id = ?1",
    [Q_REFILL_GET] = "SELECT id, order_id, customer_id, state, upstream,"
                     " upstream_refill, status, created_at, updated_at"
                     " FROM refills WHERE id = ?1",
    [Q_UPSTREAM_GET] = "SELECT name, balance, currency, balance_at, synced_at,"
                       " services, circuit, multi_ok, updated_at"
                       " FROM upstreams WHERE name = ?1",
};

struct store_sqlite {
	struct store
	    base; /* first: a struct store * is a struct store_sqlite * */
	sqlite3 *db;
	sqlite3_stmt *q[Q_COUNT];
	int decimals;
	/* Read caches, on once attached to the daemon's loop. */
	struct event_base *loop;
	struct rowcache *orders;    /* id -> struct order */
	struct rowcache *customers; /* id -> struct sqlite_cached_customer */
	struct rowcache *keys;      /* key hash prefix -> struct sqlite_key */
	struct timeval checked;     /* loop time of the last data_version */
	int64_t data_version;
};

struct sqlite_cached_customer {
	uint8_t key_hash[STORE_KEYHASH_LEN];
	struct customer c;
};

struct sqlite_key {
	uint8_t key_hash[STORE_KEYHASH_LEN];
	int64_t id;
};

static const struct store_ops sqlite_ops;
static const struct store_driver sqlite_driver;
static char *sqlite_col_strdup(sqlite3_stmt *q, int col);

static struct store_sqlite *
sq(struct store *st)
{
	return (struct store_sqlite *)st;
}

static int64_t
sqlite_now(void)
{
	return (int64_t)time(NULL);
}

static void
sqlite_log_error(struct store_sqlite *s, const char *what)
{
	log_warnx("store: %s: %s", what, sqlite3_errmsg(s->db));
}

/* Reset and clear a cached statement before use. */
static sqlite3_stmt *
sqlite_stmt(struct store_sqlite *s, enum sqlite_stmt which)
{
	sqlite3_stmt *q = s->q[which];

	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return q;
}

/* Run a statement that returns no rows; 0 or -1 (logged). */
static int
sqlite_exec_stmt(struct store_sqlite *s, enum sqlite_stmt which)
{
	sqlite3_stmt *q = s->q[which];
	int rc = sqlite3_step(q);

	sqlite3_reset(q);
	if (rc != SQLITE_DONE) {
		sqlite_log_error(s, sqlite_names[which]);
		return -1;
	}
	return 0;
}

static int
sqlite_begin(struct store_sqlite *s)
{
	/* BEGIN IMMEDIATE may wait (up to the busy timeout) for the CLI's
	 * write lock within one loop iteration: the first cached read after
	 * this transaction checks data_version again. */
	timerclear(&s->checked);
	sqlite_stmt(s, Q_BEGIN);
	return sqlite_exec_stmt(s, Q_BEGIN);
}

/* A COMMIT failed (an I/O error in write or fsync).  Its frames may
 * already sit in the WAL file with valid checksums, beyond the last commit
 * the WAL index knows: recovery after a crash would replay them, and an
 * add the customer was told had failed would come back charged.  A TRUNCATE
 * checkpoint copies only what was committed and empties the WAL, discarding
 * them.  If even that fails, nothing can be promised about this store any
 * more: exit before answering anyone, and let recovery decide. */
static void
sqlite_discard_failed_commit(struct store_sqlite *s)
{
	sqlite3_stmt *q;
	int rc, busy = 1;

	for (int tries = 0; tries < 50 && busy; tries++) {
		if (sqlite3_prepare_v2(s->db, "PRAGMA wal_checkpoint(TRUNCATE)",
		                       -1, &q, NULL) != SQLITE_OK)
			break;
		rc = sqlite3_step(q);
		busy = rc != SQLITE_ROW || sqlite3_column_int(q, 0) != 0;
		sqlite3_finalize(q);
		if (busy)
			sqlite3_sleep(10);
	}
	if (busy)
		fatalx("store: a commit failed and its writes could not be "
		       "discarded (%s): exiting so that recovery decides",
		       sqlite3_errmsg(s->db));
	log_warnx("store: a commit failed; its writes were discarded");
}

static int
sqlite_commit(struct store_sqlite *s)
{
	sqlite_stmt(s, Q_COMMIT);
	if (sqlite_exec_stmt(s, Q_COMMIT) != 0) {
		/* A failed COMMIT may leave the transaction open. */
		if (!sqlite3_get_autocommit(s->db))
			sqlite_exec_stmt(s, Q_ROLLBACK);
		sqlite_discard_failed_commit(s);
		return -1;
	}
	return 0;
}

static void
sqlite_rollback(struct store_sqlite *s)
{
	if (!sqlite3_get_autocommit(s->db)) {
		sqlite_stmt(s, Q_ROLLBACK);
		sqlite_exec_stmt(s, Q_ROLLBACK);
	}
}

static void
sqlite_copy_text(sqlite3_stmt *q, int col, char *dst, size_t size)
{
	const unsigned char *t = sqlite3_column_text(q, col);
	size_t n;

	if (t == NULL) {
		dst[0] = '\0';
		return;
	}
	n = (size_t)sqlite3_column_bytes(q, col);
	if (n >= size)
		n = size - 1;
	memcpy(dst, t, n);
	dst[n] = '\0';
}

static void
sqlite_read_customer(sqlite3_stmt *q, struct customer *c)
{
	c->id = sqlite3_column_int64(q, 0);
	sqlite_copy_text(q, 1, c->name, sizeof(c->name));
	c->balance = sqlite3_column_int64(q, 2);
	c->disabled = sqlite3_column_int(q, 3);
	c->created_at = sqlite3_column_int64(q, 4);
}

static int64_t
sqlite_col_int_or(sqlite3_stmt *q, int col, int64_t dflt)
{
	if (sqlite3_column_type(q, col) == SQLITE_NULL)
		return dflt;
	return sqlite3_column_int64(q, col);
}

static void
sqlite_read_order(sqlite3_stmt *q, struct order *o)
{
	char state[16];
	int st;

	memset(o, 0, sizeof(*o));
	o->id = sqlite3_column_int64(q, 0);
	o->customer_id = sqlite3_column_int64(q, 1);
	o->service_id = sqlite3_column_int64(q, 2);
	sqlite_copy_text(q, 3, o->type, sizeof(o->type));
	sqlite_copy_text(q, 4, state, sizeof(state));
	st = order_state_parse(state);
	o->state = st < 0 ? ORDER_SENDING : (enum order_state)st;
	o->quantity = sqlite3_column_int64(q, 5);
	o->runs = sqlite3_column_int64(q, 6);
	o->interval = sqlite3_column_int64(q, 7);
	o->rate = sqlite3_column_int64(q, 8);
	o->charge = sqlite3_column_int64(q, 9);
	sqlite_copy_text(q, 10, o->upstream, sizeof(o->upstream));
	o->upstream_service = sqlite3_column_int64(q, 11);
	o->route_idx = sqlite3_column_int(q, 12);
	sqlite_copy_text(q, 13, o->upstream_order, sizeof(o->upstream_order));
	o->cost = sqlite_col_int_or(q, 14, 0);
	o->start_count = sqlite_col_int_or(q, 15, -1);
	o->remains = sqlite_col_int_or(q, 16, -1);
	sqlite_copy_text(q, 17, o->upstream_status, sizeof(o->upstream_status));
	o->created_at = sqlite3_column_int64(q, 18);
	o->updated_at = sqlite3_column_int64(q, 19);
	o->polled_at = sqlite3_column_int64(q, 20);
	o->refunded = sqlite3_column_int64(q, 21);
	o->upstream_quantity = sqlite3_column_int64(q, 22);
}

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
static int
sqlite_cache_usable(struct store_sqlite *s)
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
	q = sqlite_stmt(s, Q_DATA_VERSION);
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
static const struct customer *
sqlite_cached_customer(struct store_sqlite *s, const uint8_t *key_hash)
{
	const struct sqlite_key *k =
	    rowcache_get(s->keys, sqlite_key_slot(key_hash));
	const struct sqlite_cached_customer *cc;

	if (k == NULL ||
	    CRYPTO_memcmp(k->key_hash, key_hash, STORE_KEYHASH_LEN) != 0 ||
	    (cc = rowcache_get(s->customers, k->id)) == NULL ||
	    CRYPTO_memcmp(cc->key_hash, key_hash, STORE_KEYHASH_LEN) != 0)
		return NULL;
	return &cc->c;
}

static void
sqlite_cache_customer(struct store_sqlite *s, const uint8_t *key_hash,
                      const struct customer *c)
{
	struct sqlite_cached_customer cc;
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

static int
sqlite_attach(struct store *st, struct event_base *base)
{
	struct store_sqlite *s = sq(st);

	s->orders = rowcache_new(sizeof(struct order), SQLITE_CACHE_ORDERS);
	s->customers = rowcache_new(sizeof(struct sqlite_cached_customer),
	                            SQLITE_CACHE_CUSTOMERS);
	s->keys =
	    rowcache_new(sizeof(struct sqlite_key), SQLITE_CACHE_CUSTOMERS);
	sqlite3_update_hook(s->db, sqlite_row_changed, s);
	s->loop = base;
	return 0;
}

static enum store_result
sqlite_customer_add(struct store *st, const char *name, const uint8_t *key_hash,
                    int64_t *id)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *q = sqlite_stmt(s, Q_CUSTOMER_ADD);
	int rc;

	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(q, 2, key_hash, STORE_KEYHASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, sqlite_now());
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	if (rc == SQLITE_CONSTRAINT)
		return STORE_EXISTS;
	if (rc != SQLITE_DONE) {
		sqlite_log_error(s, "customer add");
		return STORE_ERROR;
	}
	if (id != NULL)
		*id = sqlite3_last_insert_rowid(s->db);
	return STORE_OK;
}

static enum store_result
sqlite_customer_set_key(struct store *st, const char *name,
                        const uint8_t *key_hash)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *q = sqlite_stmt(s, Q_CUSTOMER_SET_KEY);
	int rc;

	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(q, 2, key_hash, STORE_KEYHASH_LEN, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	if (rc == SQLITE_CONSTRAINT)
		return STORE_EXISTS;
	if (rc != SQLITE_DONE) {
		sqlite_log_error(s, "customer key");
		return STORE_ERROR;
	}
	return sqlite3_changes(s->db) == 1 ? STORE_OK : STORE_NOTFOUND;
}

static enum store_result
sqlite_customer_by_key(struct store *st, const uint8_t *key_hash,
                       struct customer *out)
{
	struct store_sqlite *s = sq(st);
	int cached = sqlite_cache_usable(s);
	const struct customer *c;
	sqlite3_stmt *q;
	enum store_result r = STORE_NOTFOUND;
	int rc;

	if (cached && (c = sqlite_cached_customer(s, key_hash)) != NULL) {
		*out = *c;
		return STORE_OK;
	}
	q = sqlite_stmt(s, Q_CUSTOMER_BY_KEY);

	sqlite3_bind_blob(q, 1, key_hash, STORE_KEYHASH_LEN, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		const void *h = sqlite3_column_blob(q, 5);

		/* The index found it; compare in constant time anyway. */
		if (h != NULL &&
		    sqlite3_column_bytes(q, 5) == STORE_KEYHASH_LEN &&
		    CRYPTO_memcmp(h, key_hash, STORE_KEYHASH_LEN) == 0) {
			sqlite_read_customer(q, out);
			r = STORE_OK;
			if (cached)
				sqlite_cache_customer(s, key_hash, out);
		}
	} else if (rc != SQLITE_DONE) {
		sqlite_log_error(s, "customer by key");
		r = STORE_ERROR;
	}
	sqlite3_reset(q);
	return r;
}

static enum store_result
sqlite_customer_get(struct store_sqlite *s, enum sqlite_stmt which,
                    sqlite3_stmt *q, struct customer *out)
{
	enum store_result r = STORE_NOTFOUND;
	int rc = sqlite3_step(q);

	if (rc == SQLITE_ROW) {
		sqlite_read_customer(q, out);
		r = STORE_OK;
	} else if (rc != SQLITE_DONE) {
		sqlite_log_error(s, sqlite_names[which]);
		r = STORE_ERROR;
	}
	sqlite3_reset(q);
	return r;
}

static enum store_result
sqlite_customer_by_name(struct store *st, const char *name,
                        struct customer *out)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *q = sqlite_stmt(s, Q_CUSTOMER_BY_NAME);

	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	return sqlite_customer_get(s, Q_CUSTOMER_BY_NAME, q, out);
}

static enum store_result
sqlite_customer_set_disabled(struct store *st, const char *name, int disabled)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *q = sqlite_stmt(s, Q_CUSTOMER_SET_DISABLED);

	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 2, disabled ? 1 : 0);
	if (sqlite_exec_stmt(s, Q_CUSTOMER_SET_DISABLED) != 0)
		return STORE_ERROR;
	return sqlite3_changes(s->db) == 1 ? STORE_OK : STORE_NOTFOUND;
}

static int
sqlite_customer_list(struct store *st, store_customer_cb cb, void *arg)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *q = sqlite_stmt(s, Q_CUSTOMER_LIST);
	struct customer c;
	int rc, n = 0;

	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		sqlite_read_customer(q, &c);
		n++;
		if (cb(&c, arg) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sqlite_log_error(s, "customer list");
		n = -1;
	}
	sqlite3_reset(q);
	return n;
}

/* Insert one ledger row inside the caller's transaction. */
static int
sqlite_ledger_insert(store_tx *tx, int64_t customer_id, enum ledger_kind kind,
                     money_t amount, int64_t order_id, const char *note)
{
	struct store_sqlite *s = tx;
	sqlite3_stmt *q = sqlite_stmt(s, Q_LEDGER_ADD);

	sqlite3_bind_int64(q, 1, customer_id);
	sqlite3_bind_text(q, 2, ledger_kind_name(kind), -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, amount);
	if (order_id > 0)
		sqlite3_bind_int64(q, 4, order_id);
	if (note != NULL)
		sqlite3_bind_text(q, 5, note, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 6, sqlite_now());
	return sqlite_exec_stmt(s, Q_LEDGER_ADD);
}
/* The driver's transaction runner: BEGIN IMMEDIATE ... COMMIT. */
static enum store_result
sqlite_run(struct store *st, store_core_body body, void *arg)
{
	struct store_sqlite *s = sq(st);
	enum store_result r;

	if (sqlite_begin(s) != 0)
		return STORE_ERROR;
	r = body(s, arg);
	if (r == STORE_OK && sqlite_commit(s) != 0)
		r = STORE_ERROR;
	if (r != STORE_OK)
		sqlite_rollback(s);
	return r;
}

/* Run balance statement WHICH (bound): 1 a row changed, 0 none, -1. */
static int
sqlite_balance_run(struct store_sqlite *s, enum sqlite_stmt which)
{
	if (sqlite_exec_stmt(s, which) != 0)
		return -1;
	return sqlite3_changes(s->db) == 1;
}

static int
sqlite_debit(store_tx *tx, int64_t customer_id, money_t charge)
{
	struct store_sqlite *s = tx;
	sqlite3_stmt *q = sqlite_stmt(s, Q_BALANCE_DEBIT);

	sqlite3_bind_int64(q, 1, customer_id);
	sqlite3_bind_int64(q, 2, charge);
	return sqlite_balance_run(s, Q_BALANCE_DEBIT);
}

static int
sqlite_balance_add(store_tx *tx, int64_t customer_id, money_t amount)
{
	struct store_sqlite *s = tx;
	sqlite3_stmt *q = sqlite_stmt(s, Q_BALANCE_ADD);

	sqlite3_bind_int64(q, 1, customer_id);
	sqlite3_bind_int64(q, 2, amount);
	return sqlite_balance_run(s, Q_BALANCE_ADD);
}

static int
sqlite_balance_post(store_tx *tx, int64_t customer_id, money_t amount,
                    money_t max, money_t *balance)
{
	struct store_sqlite *s = tx;
	sqlite3_stmt *q = sqlite_stmt(s, Q_BALANCE_POST);
	struct customer c;
	int n;

	sqlite3_bind_int64(q, 1, customer_id);
	sqlite3_bind_int64(q, 2, amount);
	sqlite3_bind_int64(q, 3, max);
	if ((n = sqlite_balance_run(s, Q_BALANCE_POST)) != 1)
		return n;
	q = sqlite_stmt(s, Q_CUSTOMER_BY_ID);
	sqlite3_bind_int64(q, 1, customer_id);
	if (sqlite_customer_get(s, Q_CUSTOMER_BY_ID, q, &c) != STORE_OK)
		return -1;
	*balance = c.balance;
	return 1;
}

static enum store_result
sqlite_customer_exists(store_tx *tx, int64_t id)
{
	struct store_sqlite *s = tx;
	sqlite3_stmt *q = sqlite_stmt(s, Q_CUSTOMER_BY_ID);
	struct customer c;

	sqlite3_bind_int64(q, 1, id);
	return sqlite_customer_get(s, Q_CUSTOMER_BY_ID, q, &c);
}

static enum store_result
sqlite_order_by_request(store_tx *tx, const struct order_new *o, int64_t *id)
{
	struct store_sqlite *s = tx;
	sqlite3_stmt *q = sqlite_stmt(s, Q_ORDER_BY_REQUEST);
	enum store_result r = STORE_NOTFOUND;
	int rc;

	sqlite3_bind_int64(q, 1, o->customer_id);
	sqlite3_bind_text(q, 2, o->request_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		const void *h = sqlite3_column_blob(q, 1);

		*id = sqlite3_column_int64(q, 0);
		if (h != NULL && o->request_hash != NULL &&
		    sqlite3_column_bytes(q, 1) == STORE_KEYHASH_LEN &&
		    memcmp(h, o->request_hash, STORE_KEYHASH_LEN) == 0)
			r = STORE_EXISTS;
		else
			r = STORE_CONFLICT;
	} else if (rc != SQLITE_DONE) {
		sqlite_log_error(s, "order by request");
		r = STORE_ERROR;
	}
	sqlite3_reset(q);
	return r;
}
/* Insert O in STATE inside the caller's transaction.  Never STORE_EXISTS:
 * the request's lookup ran under this transaction's write lock. */
static enum store_result
sqlite_order_insert(store_tx *tx, const struct order_new *o,
                    enum order_state state, int64_t *id)
{
	struct store_sqlite *s = tx;
	sqlite3_stmt *q = sqlite_stmt(s, Q_ORDER_ADD);

	sqlite3_bind_int64(q, 1, o->customer_id);
	sqlite3_bind_int64(q, 2, o->service_id);
	sqlite3_bind_text(q, 3, o->type, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, o->quantity);
	sqlite3_bind_int64(q, 5, o->runs);
	sqlite3_bind_int64(q, 6, o->interval);
	sqlite3_bind_int64(q, 7, o->rate);
	sqlite3_bind_int64(q, 8, o->charge);
	sqlite3_bind_text(q, 9, o->fields != NULL ? o->fields : "{}", -1,
	                  SQLITE_STATIC);
	sqlite3_bind_text(q, 10, o->upstream, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 11, o->upstream_service);
	sqlite3_bind_int(q, 12, o->route_idx);
	if (o->request_id != NULL) {
		sqlite3_bind_text(q, 13, o->request_id, -1, SQLITE_STATIC);
		if (o->request_hash != NULL)
			sqlite3_bind_blob(q, 14, o->request_hash,
			                  STORE_KEYHASH_LEN, SQLITE_STATIC);
	}
	sqlite3_bind_int64(q, 15, sqlite_now());
	sqlite3_bind_text(q, 16, order_state_name(state), -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 17, o->upstream_quantity);
	if (sqlite_exec_stmt(s, Q_ORDER_ADD) != 0)
		return STORE_ERROR;
	*id = sqlite3_last_insert_rowid(s->db);
	return STORE_OK;
}

static enum store_result
sqlite_order_group(struct store *st, const struct order_new *v, size_t n,
                   enum store_result *res, int64_t *ids, const int64_t *act_ids,
                   const char *const *upstream_orders, const money_t *costs,
                   size_t nact, enum store_result *act_res);

/* Group commit: N orders, each with its own conditional debit, in one
 * durable transaction. */
static enum store_result
sqlite_order_create_many(struct store *st, const struct order_new *v, size_t n,
                         enum store_result *res, int64_t *ids)
{
	return sqlite_order_group(st, v, n, res, ids, NULL, NULL, NULL, 0,
	                          NULL);
}

static enum store_result
sqlite_order_get(struct store *st, int64_t id, struct order *out)
{
	struct store_sqlite *s = sq(st);
	int cached = sqlite_cache_usable(s);
	const struct order *o;
	sqlite3_stmt *q;
	enum store_result r = STORE_NOTFOUND;
	int rc;

	if (cached && (o = rowcache_get(s->orders, id)) != NULL) {
		*out = *o;
		return STORE_OK;
	}
	q = sqlite_stmt(s, Q_ORDER_GET);
	sqlite3_bind_int64(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		sqlite_read_order(q, out);
		r = STORE_OK;
		if (cached)
			rowcache_put(s->orders, id, out);
	} else if (rc != SQLITE_DONE) {
		sqlite_log_error(s, "order get");
		r = STORE_ERROR;
	}
	sqlite3_reset(q);
	return r;
}

static void
sqlite_bind_text_or_null(sqlite3_stmt *q, int col, const char *s)
{
	if (s != NULL)
		sqlite3_bind_text(q, col, s, -1, SQLITE_STATIC);
}

/* Run a one-statement transition; STORE_CONFLICT if no row moved. */
static enum store_result
sqlite_transition(struct store_sqlite *s, enum sqlite_stmt which)
{
	if (sqlite_exec_stmt(s, which) != 0)
		return STORE_ERROR;
	return sqlite3_changes(s->db) == 1 ? STORE_OK : STORE_CONFLICT;
}

static enum store_result
sqlite_order_sending(struct store *st, int64_t id, int route_idx,
                     const char *upstream, int64_t upstream_service, int held)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *q = sqlite_stmt(s, Q_ORDER_SENDING);
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

static enum store_result
sqlite_order_unsent(struct store *st, int64_t id)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *q = sqlite_stmt(s, Q_ORDER_UNSENT);

	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, sqlite_now());
	return sqlite_transition(s, Q_ORDER_UNSENT);
}

/* sending -> active for one order inside the caller's transaction. */
static enum store_result
sqlite_active_one(struct store_sqlite *s, int64_t id,
                  const char *upstream_order, money_t cost)
{
	sqlite3_stmt *q = sqlite_stmt(s, Q_ORDER_ACTIVE);
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
		sqlite_log_error(s, "order active");
		return STORE_ERROR;
	}
	return sqlite3_changes(s->db) == 1 ? STORE_OK : STORE_CONFLICT;
}

/* N acceptances in one transaction: a group without adds. */
static enum store_result
sqlite_order_active_many(struct store *st, const int64_t *ids,
                         const char *const *upstream_orders,
                         const money_t *costs, size_t n, enum store_result *res)
{
	return sqlite_order_group(st, NULL, 0, NULL, NULL, ids, upstream_orders,
	                          costs, n, res);
}

static enum store_result
sqlite_order_group(struct store *st, const struct order_new *v, size_t n,
                   enum store_result *res, int64_t *ids, const int64_t *act_ids,
                   const char *const *upstream_orders, const money_t *costs,
                   size_t nact, enum store_result *act_res)
{
	struct store_sqlite *s = sq(st);
	size_t i;

	for (i = 0; i < n; i++)
		res[i] = STORE_ERROR;
	for (i = 0; i < nact; i++)
		act_res[i] = STORE_ERROR;
	if (sqlite_begin(s) != 0)
		goto alone;
	for (i = 0; i < n; i++)
		if ((res[i] = store_core_create_one(&sqlite_driver, s, &v[i],
		                                    &ids[i])) == STORE_ERROR)
			goto fail;
	for (i = 0; i < nact; i++)
		if ((act_res[i] =
		         sqlite_active_one(s, act_ids[i], upstream_orders[i],
		                           costs[i])) == STORE_ERROR)
			goto fail;
	if (sqlite_commit(s) != 0)
		goto fail;
	return STORE_OK;
fail:
	sqlite_rollback(s);
	/* Nothing of this transaction exists: only refusals stay true. */
	for (i = 0; i < n; i++)
		if (res[i] == STORE_OK || res[i] == STORE_EXISTS)
			res[i] = STORE_ERROR;
alone:
	/* The acceptances are real whatever happened to the adds: a
	 * transaction of their own (once; without adds they failed alone). */
	if (n > 0 && nact > 0)
		sqlite_order_group(st, NULL, 0, NULL, NULL, act_ids,
		                   upstream_orders, costs, nact, act_res);
	else
		for (i = 0; i < nact; i++)
			act_res[i] = STORE_ERROR;
	return STORE_ERROR;
}
/* Inside a transaction: move order ID by MOVE to TO (the core's settle). */
static enum store_result
sqlite_order_final(store_tx *tx, int64_t id, enum store_move move,
                   enum order_state to, const char *status, money_t refunded)
{
	struct store_sqlite *s = tx;
	sqlite3_stmt *q = sqlite_stmt(s, Q_ORDER_FINAL);
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
static enum store_result
sqlite_order_read(store_tx *tx, int64_t id, struct order *o)
{
	struct store_sqlite *s = tx;

	return sqlite_order_get(&s->base, id, o);
}

static void
sqlite_bind_int_or_null(sqlite3_stmt *q, int col, int64_t v)
{
	if (v >= 0)
		sqlite3_bind_int64(q, col, v);
}
/* A status reply's fields on an active order, inside a transaction. */
static enum store_result
sqlite_order_observe(store_tx *tx, int64_t id, const struct order_update *u)
{
	struct store_sqlite *s = tx;
	sqlite3_stmt *q = sqlite_stmt(s, Q_ORDER_FIELDS);

	sqlite3_bind_int64(q, 1, id);
	sqlite_bind_text_or_null(q, 2, u->status);
	sqlite_bind_int_or_null(q, 3, u->start_count);
	sqlite_bind_int_or_null(q, 4, u->remains);
	sqlite_bind_int_or_null(q, 5, u->cost);
	sqlite3_bind_int64(q, 6, clock_wall_ms());
	sqlite3_bind_int64(q, 7, sqlite_now());
	return sqlite_transition(s, Q_ORDER_FIELDS);
}

static enum store_result
sqlite_order_fields(struct store *st, int64_t id, char **json)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *q = sqlite_stmt(s, Q_ORDER_GET_FIELDS);
	enum store_result r = STORE_NOTFOUND;
	int rc;

	*json = NULL;
	sqlite3_bind_int64(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*json = sqlite_col_strdup(q, 0);
		r = *json != NULL ? STORE_OK : STORE_ERROR;
	} else if (rc != SQLITE_DONE) {
		sqlite_log_error(s, "order fields");
		r = STORE_ERROR;
	}
	sqlite3_reset(q);
	return r;
}

static enum store_result
sqlite_order_polled(struct store *st, const int64_t *ids, size_t n,
                    int64_t now_ms)
{
	struct store_sqlite *s = sq(st);

	if (sqlite_begin(s) != 0)
		return STORE_ERROR;
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *q = sqlite_stmt(s, Q_ORDER_POLLED);

		sqlite3_bind_int64(q, 1, ids[i]);
		sqlite3_bind_int64(q, 2, now_ms);
		if (sqlite_exec_stmt(s, Q_ORDER_POLLED) != 0) {
			sqlite_rollback(s);
			return STORE_ERROR;
		}
	}
	if (sqlite_commit(s) != 0)
		return STORE_ERROR;
	return STORE_OK;
}

static int64_t
sqlite_order_list(struct store *st, const struct order_filter *f,
                  store_order_cb cb, void *arg)
{
	struct store_sqlite *s = sq(st);
	char sql[1024];
	sqlite3_stmt *q;
	struct order o;
	int64_t n = 0;
	int rc;

	snprintf(sql, sizeof(sql),
	         "SELECT " ORDER_COLS " FROM orders o WHERE 1%s%s%s%s"
	         " ORDER BY %s LIMIT ?%d",
	         f->state >= 0 ? " AND o.state = ?1" : "",
	         f->customer_id > 0 ? " AND o.customer_id = ?2" : "",
	         f->upstream != NULL ? " AND o.upstream = ?3" : "",
	         f->polled_before > 0 ? " AND o.polled_at < ?4" : "",
	         f->polled_before > 0 ? "o.polled_at, o.id" : "o.id", 5);
	if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK) {
		sqlite_log_error(s, "order list");
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
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		sqlite_read_order(q, &o);
		n++;
		if (cb(&o, arg) != 0)
			break;
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sqlite_log_error(s, "order list");
		return -1;
	}
	return n;
}

/* One instance owns a SQLite file, so nothing else can hold a row: a claim
 * is the list, and the rows' polled_at is written when their answers are
 * recorded, as it always was (no write per claimed row). */
static int64_t
sqlite_order_claim(struct store *st, const struct order_filter *f,
                   int64_t now_ms, store_order_cb cb, void *arg)
{
	if (f->limit <= 0)
		return -1;
	return sqlite_order_list(st, f, cb, arg);
}

static enum store_result
sqlite_order_counts(struct store *st, int64_t *counts)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *q = sqlite_stmt(s, Q_ORDER_COUNTS);
	char state[16];
	int rc, k;

	memset(counts, 0, sizeof(*counts) * ORDER_STATE_COUNT);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		sqlite_copy_text(q, 0, state, sizeof(state));
		if ((k = order_state_parse(state)) >= 0)
			counts[k] = sqlite3_column_int64(q, 1);
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE) {
		sqlite_log_error(s, "order counts");
		return STORE_ERROR;
	}
	return STORE_OK;
}

static enum store_result
sqlite_refill_add(struct store *st, int64_t order_id, int64_t customer_id,
                  const char *upstream, int64_t *id)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *q = sqlite_stmt(s, Q_REFILL_ADD);

	sqlite3_bind_int64(q, 1, order_id);
	sqlite3_bind_int64(q, 2, customer_id);
	sqlite3_bind_text(q, 3, upstream, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, sqlite_now());
	if (sqlite_exec_stmt(s, Q_REFILL_ADD) != 0)
		return STORE_ERROR;
	*id = sqlite3_last_insert_rowid(s->db);
	return STORE_OK;
}

static enum store_result
sqlite_refill_update(struct store *st, int64_t id, const char *state,
                     const char *upstream_refill, const char *status)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *q = sqlite_stmt(s, Q_REFILL_UPDATE);

	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_text(q, 2, state, -1, SQLITE_STATIC);
	sqlite_bind_text_or_null(q, 3, upstream_refill);
	sqlite_bind_text_or_null(q, 4, status);
	sqlite3_bind_int64(q, 5, sqlite_now());
	return sqlite_transition(s, Q_REFILL_UPDATE);
}

static enum store_result
sqlite_refill_get(struct store *st, int64_t id, struct refill *out)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *q = sqlite_stmt(s, Q_REFILL_GET);
	enum store_result r = STORE_NOTFOUND;
	int rc;

	sqlite3_bind_int64(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		memset(out, 0, sizeof(*out));
		out->id = sqlite3_column_int64(q, 0);
		out->order_id = sqlite3_column_int64(q, 1);
		out->customer_id = sqlite3_column_int64(q, 2);
		sqlite_copy_text(q, 3, out->state, sizeof(out->state));
		sqlite_copy_text(q, 4, out->upstream, sizeof(out->upstream));
		sqlite_copy_text(q, 5, out->upstream_refill,
		                 sizeof(out->upstream_refill));
		sqlite_copy_text(q, 6, out->status, sizeof(out->status));
		out->created_at = sqlite3_column_int64(q, 7);
		out->updated_at = sqlite3_column_int64(q, 8);
		r = STORE_OK;
	} else if (rc != SQLITE_DONE) {
		sqlite_log_error(s, "refill get");
		r = STORE_ERROR;
	}
	sqlite3_reset(q);
	return r;
}

static enum store_result
sqlite_ledger_totals(struct store *st, money_t *totals)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *q;
	char kind[16];
	int rc;

	memset(totals, 0, 4 * sizeof(*totals));
	if (sqlite3_prepare_v2(
	        s->db, "SELECT kind, SUM(amount) FROM ledger GROUP BY kind", -1,
	        &q, NULL) != SQLITE_OK) {
		sqlite_log_error(s, "ledger totals");
		return STORE_ERROR;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		sqlite_copy_text(q, 0, kind, sizeof(kind));
		for (int k = LEDGER_DEPOSIT; k <= LEDGER_ADJUSTMENT; k++)
			if (strcmp(kind,
			           ledger_kind_name((enum ledger_kind)k)) == 0)
				totals[k] = sqlite3_column_int64(q, 1);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? STORE_OK : STORE_ERROR;
}

static int
sqlite_report(struct store *st, store_report_row_cb cb, void *arg)
{
	struct store_sqlite *s = sq(st);
	struct report_row row;
	sqlite3_stmt *q;
	int rc, n = 0;

	if (sqlite3_prepare_v2(
	        s->db,
	        "SELECT o.upstream, o.service_id, COUNT(*), SUM(o.charge),"
	        " SUM(COALESCE((SELECT amount FROM ledger l"
	        "  WHERE l.order_id = o.id AND l.kind = 'refund'), 0)),"
	        " SUM(CASE WHEN o.state IN ('rejected', 'canceled',"
	        "  'refunded') THEN 0 ELSE COALESCE(o.cost, 0) END)"
	        " FROM orders o GROUP BY o.upstream, o.service_id"
	        " ORDER BY o.upstream, o.service_id",
	        -1, &q, NULL) != SQLITE_OK) {
		sqlite_log_error(s, "report");
		return -1;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		memset(&row, 0, sizeof(row));
		sqlite_copy_text(q, 0, row.upstream, sizeof(row.upstream));
		row.service_id = sqlite3_column_int64(q, 1);
		row.orders = sqlite3_column_int64(q, 2);
		row.charged = sqlite3_column_int64(q, 3);
		row.refunded = sqlite3_column_int64(q, 4);
		row.cost = sqlite3_column_int64(q, 5);
		n++;
		if (cb(&row, arg) != 0)
			break;
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sqlite_log_error(s, "report");
		return -1;
	}
	return n;
}

static enum store_result
sqlite_catalog_replace(struct store *st, const char *upstream,
                       const struct dialect_services *list)
{
	struct store_sqlite *s = sq(st);
	int64_t now = sqlite_now();
	sqlite3_stmt *q;

	if (sqlite_begin(s) != 0)
		return STORE_ERROR;
	q = sqlite_stmt(s, Q_CATALOG_DELETE);
	sqlite3_bind_text(q, 1, upstream, -1, SQLITE_STATIC);
	if (sqlite_exec_stmt(s, Q_CATALOG_DELETE) != 0)
		goto fail;
	for (size_t i = 0; i < list->n; i++) {
		const struct dialect_service *v = &list->v[i];

		q = sqlite_stmt(s, Q_CATALOG_ADD);
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
		if (sqlite_exec_stmt(s, Q_CATALOG_ADD) != 0)
			goto fail;
	}
	if (sqlite_commit(s) != 0)
		goto fail;
	return STORE_OK;
fail:
	sqlite_rollback(s);
	return STORE_ERROR;
}

static char *
sqlite_col_strdup(sqlite3_stmt *q, int col)
{
	const unsigned char *t = sqlite3_column_text(q, col);

	return t != NULL ? xstrdup((const char *)t) : NULL;
}

static enum store_result
sqlite_catalog_load(struct store *st, const char *upstream,
                    struct dialect_services *out)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *q = sqlite_stmt(s, Q_CATALOG_LOAD);
	size_t cap = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	sqlite3_bind_text(q, 1, upstream, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct dialect_service *v;

		if (out->n == cap) {
			cap = cap != 0 ? cap * 2 : 64;
			out->v = xreallocarray(out->v, cap, sizeof(*out->v));
		}
		v = &out->v[out->n++];
		memset(v, 0, sizeof(*v));
		v->id = sqlite3_column_int64(q, 0);
		v->name = sqlite_col_strdup(q, 1);
		v->type = sqlite_col_strdup(q, 2);
		v->category = sqlite_col_strdup(q, 3);
		v->rate = sqlite3_column_int64(q, 4);
		v->min = sqlite3_column_int64(q, 5);
		v->max = sqlite3_column_int64(q, 6);
		v->refill = sqlite3_column_int(q, 7);
		v->cancel = sqlite3_column_int(q, 8);
		v->dripfeed = sqlite3_column_int(q, 9);
		v->description = sqlite_col_strdup(q, 10);
		v->refill_time = sqlite_col_strdup(q, 11);
		if (v->name == NULL || v->type == NULL || v->category == NULL) {
			rc = SQLITE_CORRUPT;
			break;
		}
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE) {
		sqlite_log_error(s, "catalog load");
		dialect_services_free(out);
		return STORE_ERROR;
	}
	return STORE_OK;
}

static enum store_result
sqlite_upstream_state_put(struct store *st, const struct upstream_state *u)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *q = sqlite_stmt(s, Q_UPSTREAM_PUT);

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
	return sqlite_exec_stmt(s, Q_UPSTREAM_PUT) == 0 ? STORE_OK
	                                                : STORE_ERROR;
}

static enum store_result
sqlite_upstream_state_get(struct store *st, const char *name,
                          struct upstream_state *out)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *q = sqlite_stmt(s, Q_UPSTREAM_GET);
	enum store_result r = STORE_NOTFOUND;
	int rc;

	memset(out, 0, sizeof(*out));
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		sqlite_copy_text(q, 0, out->name, sizeof(out->name));
		out->has_balance = sqlite3_column_type(q, 1) != SQLITE_NULL;
		out->balance = sqlite3_column_int64(q, 1);
		sqlite_copy_text(q, 2, out->currency, sizeof(out->currency));
		out->balance_at = sqlite3_column_int64(q, 3);
		out->synced_at = sqlite3_column_int64(q, 4);
		out->services = sqlite3_column_int64(q, 5);
		sqlite_copy_text(q, 6, out->circuit, sizeof(out->circuit));
		out->multi_ok = sqlite3_column_int(q, 7);
		out->updated_at = sqlite3_column_int64(q, 8);
		r = STORE_OK;
	} else if (rc != SQLITE_DONE) {
		sqlite_log_error(s, "upstream state");
		r = STORE_ERROR;
	}
	sqlite3_reset(q);
	return r;
}

static enum store_result
sqlite_order_get_many(struct store *st, const int64_t *ids, size_t n,
                      struct order *out, int *found)
{
	struct store_sqlite *s = sq(st);
	int cached = sqlite_cache_usable(s);
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
	q = sqlite_stmt(s, Q_ORDER_GET_MANY);
	sqlite3_bind_text(q, 1, list, (int)off, SQLITE_STATIC);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		sqlite_read_order(q, &o);
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
		sqlite_log_error(s, "order get many");
		return STORE_ERROR;
	}
	return STORE_OK;
}

/*
 * check: SPEC section 6's invariants, each violation reported in words.
 */
/* Run invariant INV's query and record its rows. */
static int
sqlite_check_rows(struct store_sqlite *s, struct store_core_check *c,
                  const struct store_invariant *inv)
{
	const char *names[8];
	int64_t vals[8];
	sqlite3_stmt *q;
	int rc, n;

	if (sqlite3_prepare_v2(s->db, inv->sql, -1, &q, NULL) != SQLITE_OK) {
		sqlite_log_error(s, "check prepare");
		return -1;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		n = 0;
		for (int i = 1; i < sqlite3_column_count(q) && n < 8; i++) {
			names[n] = sqlite3_column_name(q, i);
			vals[n++] = sqlite3_column_int64(q, i);
		}
		store_core_check_row(c, inv, sqlite3_column_int64(q, 0), n,
		                     names, vals);
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		sqlite_log_error(s, "check");
		return -1;
	}
	return 0;
}

/* The core's invariants, the refunds of every order, integrity_check. */
static int
sqlite_check_all(struct store_sqlite *s, struct store_core_check *c)
{
	sqlite3_stmt *q;
	struct order o;
	int rc;

	for (int i = 0; i < STORE_INVARIANT_COUNT; i++)
		if (sqlite_check_rows(s, c, &store_invariants[i]) != 0)
			return -1;
	if (sqlite3_prepare_v2(s->db, "SELECT " ORDER_COLS " FROM orders o", -1,
	                       &q, NULL) != SQLITE_OK) {
		sqlite_log_error(s, "check prepare");
		return -1;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		sqlite_read_order(q, &o);
		store_core_check_order(c, s->decimals, &o);
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		sqlite_log_error(s, "check orders");
		return -1;
	}

	if (sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &q, NULL) !=
	    SQLITE_OK) {
		sqlite_log_error(s, "check prepare");
		return -1;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(q, 0);

		if (t == NULL || strcmp(t, "ok") != 0)
			store_core_check_add(c, "integrity_check: %s",
			                     t != NULL ? t : "(null)");
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE) {
		sqlite_log_error(s, "integrity_check");
		return -1;
	}
	return 0;
}

static int
sqlite_check(struct store *st, store_report_cb report, void *arg)
{
	struct store_core_check c = {NULL, 0, 0};
	int failed = sqlite_check_all(sq(st), &c) != 0;

	return store_core_check_done(&c, failed, report, arg);
}

static void
sqlite_close(struct store *st)
{
	struct store_sqlite *s = sq(st);

	if (s == NULL)
		return;
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(s->q[i]);
	sqlite3_close(s->db);
	rowcache_free(s->orders);
	rowcache_free(s->customers);
	rowcache_free(s->keys);
	free(s);
}

/* Run PRAGMA SQL and return its first column as an integer or text. */
static int
sqlite_pragma(struct store_sqlite *s, const char *sql, char *text, size_t size)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW && text != NULL)
		sqlite_copy_text(q, 0, text, size);
	sqlite3_finalize(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* Set and read back the settings durability depends on. */
static int
sqlite_make_durable(struct store_sqlite *s, const char *path)
{
	char mode[16] = "", sync[16] = "", fk[16] = "";

	sqlite3_busy_timeout(s->db, SQLITE_BUSY_MS);
	if (sqlite_pragma(s, "PRAGMA journal_mode=WAL", mode, sizeof(mode)) !=
	        0 ||
	    sqlite_pragma(s, "PRAGMA synchronous=FULL", NULL, 0) != 0 ||
	    sqlite_pragma(s, "PRAGMA foreign_keys=ON", NULL, 0) != 0 ||
	    sqlite_pragma(s, "PRAGMA synchronous", sync, sizeof(sync)) != 0 ||
	    sqlite_pragma(s, "PRAGMA foreign_keys", fk, sizeof(fk)) != 0) {
		log_warnx("store: %s: %s", path, sqlite3_errmsg(s->db));
		return -1;
	}
	if (strcmp(mode, "wal") != 0) {
		log_warnx("store: %s: journal_mode is %s, not wal: refusing a "
		          "store that is not durable",
		          path, mode);
		return -1;
	}
	if (atoi(sync) < 2) {
		log_warnx("store: %s: synchronous=%s, not FULL: refusing a "
		          "store that is not durable",
		          path, sync);
		return -1;
	}
	if (strcmp(fk, "1") != 0) {
		log_warnx("store: %s: foreign keys unavailable", path);
		return -1;
	}
	return 0;
}

static int
sqlite_migrate(struct store_sqlite *s, const char *path)
{
	char v[16] = "";
	int version;
	char *err = NULL;

	if (sqlite_pragma(s, "PRAGMA user_version", v, sizeof(v)) != 0)
		return -1;
	version = atoi(v);
	if (version > SQLITE_SCHEMA_VERSION) {
		log_warnx("store: %s: schema version %d is newer than this "
		          "panelmux (%d)",
		          path, version, SQLITE_SCHEMA_VERSION);
		return -1;
	}
	while (version < SQLITE_SCHEMA_VERSION) {
		char *sql;
		int rc;

		xasprintf(&sql,
		          "BEGIN IMMEDIATE; %s; PRAGMA user_version = %d;"
		          " COMMIT;",
		          sqlite_migrations[version], version + 1);
		rc = sqlite3_exec(s->db, sql, NULL, NULL, &err);
		free(sql);
		if (rc != SQLITE_OK) {
			/* Another process may have migrated first. */
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			if (sqlite_pragma(s, "PRAGMA user_version", v,
			                  sizeof(v)) == 0 &&
			    atoi(v) > version) {
				sqlite3_free(err);
				err = NULL;
				version = atoi(v);
				continue;
			}
			log_warnx("store: %s: migration to version %d: %s",
			          path, version + 1,
			          err != NULL ? err : "failed");
			sqlite3_free(err);
			return -1;
		}
		version++;
		log_info("store: %s: schema migrated to version %d", path,
		         version);
	}
	return 0;
}

/* Record money.decimals at the first open; refuse another value later
 * (store_decimals_agree). */
static int
sqlite_decimals(struct store_sqlite *s, const char *path, int decimals)
{
	char sql[128], stored[16] = "";

	snprintf(sql, sizeof(sql),
	         "INSERT OR IGNORE INTO meta (key, value)"
	         " VALUES ('money_decimals', '%d')",
	         decimals);
	if (sqlite_pragma(s, sql, NULL, 0) != 0 ||
	    sqlite_pragma(s,
	                  "SELECT value FROM meta WHERE key = 'money_decimals'",
	                  stored, sizeof(stored)) != 0) {
		log_warnx("store: %s: cannot read money.decimals: %s", path,
		          sqlite3_errmsg(s->db));
		return -1;
	}
	return store_decimals_agree(stored, decimals);
}

struct store *
store_sqlite_open(const char *path, int decimals)
{
	struct store_sqlite *s = xcalloc(1, sizeof(*s));
	int flags =
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;

	s->base.ops = &sqlite_ops;
	s->base.drv = &sqlite_driver;
	s->base.decimals = decimals;
	s->decimals = decimals;
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		log_warnx("store: %s: %s", path,
		          s->db != NULL ? sqlite3_errmsg(s->db)
		                        : "cannot open");
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 0);
	if (sqlite_make_durable(s, path) != 0 || sqlite_migrate(s, path) != 0)
		goto fail;
	for (int i = 0; i < Q_COUNT; i++) {
		if (sqlite3_prepare_v3(s->db, sqlite_sql[i], -1,
		                       SQLITE_PREPARE_PERSISTENT, &s->q[i],
		                       NULL) != SQLITE_OK) {
			log_warnx("store: %s: prepare %s: %s", path,
			          sqlite_names[i], sqlite3_errmsg(s->db));
			goto fail;
		}
	}
	if (sqlite_decimals(s, path, decimals) != 0)
		goto fail;
	return &s->base;
fail:
	sqlite_close(&s->base);
	return NULL;
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
		sqlite_log_error(s, what);
		return STORE_ERROR;
	}
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	*gen = 0;
	if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		*gen = sqlite3_column_int64(q, 0);
		rc = sqlite3_step(q);
	}
	if (rc != SQLITE_DONE) {
		sqlite_log_error(s, what);
		sqlite3_finalize(q);
		return STORE_ERROR;
	}
	sqlite3_finalize(q);
	return STORE_OK;
}

static enum store_result
sqlite_catalog_generation(struct store *st, const char *upstream, int64_t *gen)
{
	return sqlite_catalog_gen_run(
	    sq(st), "catalog generation",
	    "SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?1", upstream,
	    gen);
}

/* One statement, so its own durable transaction. */
static enum store_result
sqlite_catalog_bump(struct store *st, const char *upstream, int64_t *gen)
{
	return sqlite_catalog_gen_run(
	    sq(st), "catalog bump",
	    "INSERT INTO meta (key, value) VALUES (?1, '1')"
	    " ON CONFLICT (key) DO UPDATE"
	    " SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)"
	    " RETURNING CAST(value AS INTEGER)",
	    upstream, gen);
}

static const struct store_driver sqlite_driver = {
    .run = sqlite_run,
    .debit = sqlite_debit,
    .balance_add = sqlite_balance_add,
    .balance_post = sqlite_balance_post,
    .customer_exists = sqlite_customer_exists,
    .ledger_insert = sqlite_ledger_insert,
    .order_by_request = sqlite_order_by_request,
    .order_insert = sqlite_order_insert,
    .order_read = sqlite_order_read,
    .order_final = sqlite_order_final,
    .order_observe = sqlite_order_observe,
};

static const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sqlite_close,
    .attach = sqlite_attach,
    .customer_add = sqlite_customer_add,
    .customer_set_key = sqlite_customer_set_key,
    .customer_by_key = sqlite_customer_by_key,
    .customer_by_name = sqlite_customer_by_name,
    .customer_set_disabled = sqlite_customer_set_disabled,
    .customer_list = sqlite_customer_list,
    .order_create_many = sqlite_order_create_many,
    .order_group = sqlite_order_group,
    .order_active_many = sqlite_order_active_many,
    .order_get = sqlite_order_get,
    .order_get_many = sqlite_order_get_many,
    .order_sending = sqlite_order_sending,
    .order_unsent = sqlite_order_unsent,
    .order_fields = sqlite_order_fields,
    .order_polled = sqlite_order_polled,
    .order_list = sqlite_order_list,
    .order_claim = sqlite_order_claim,
    .order_counts = sqlite_order_counts,
    .refill_add = sqlite_refill_add,
    .refill_update = sqlite_refill_update,
    .refill_get = sqlite_refill_get,
    .ledger_totals = sqlite_ledger_totals,
    .report = sqlite_report,
    .catalog_replace = sqlite_catalog_replace,
    .catalog_load = sqlite_catalog_load,
    .upstream_state_put = sqlite_upstream_state_put,
    .upstream_state_get = sqlite_upstream_state_get,
    .check = sqlite_check,
    .catalog_generation = sqlite_catalog_generation,
    .catalog_bump = sqlite_catalog_bump,
};
