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
#include "log.h"
#include "money.h"
#include "rowcache.h"
#include "store.h"
#include "store_core.h"
#include "store_sqlite.h"
#include "xmalloc.h"

/* Statement names for the log: an operator reads what failed, never SQL. */
static const char *const sqlite_names[Q_COUNT] = {
    [Q_BEGIN] = "begin",
    [Q_COMMIT] = "commit",
    [Q_ROLLBACK] = "rollback",
    [Q_SAVEPOINT] = "savepoint",
    [Q_RELEASE] = "release",
    [Q_ROLLBACK_TO] = "rollback to savepoint",
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
    [Q_REFILL_GET] = "refill get",
    [Q_DATA_VERSION] = "data version",
};

static const char *const sqlite_sql[Q_COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_DATA_VERSION] = "PRAGMA data_version",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_SAVEPOINT] = "SAVEPOINT w",
    [Q_RELEASE] = "RELEASE w",
    [Q_ROLLBACK_TO] = "ROLLBACK TO w",
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
                    " created_at, updated_at, upstream_quantity, sent_at,"
                    " link_key, link_key_up)"
                    " VALUES (?1, ?2, ?3, ?16, ?4, ?5, ?6, ?7, ?8, ?9,"
                    " ?10, ?11, ?12, ?13, ?14, ?15, ?15, ?17,"
                    " CASE WHEN ?16 = 'sending' THEN ?15 ELSE 0 END, ?18, ?19)"
                    " ON CONFLICT DO NOTHING",
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
                        " updated_at = ?5, sent_at = CASE WHEN sent_at = 0"
                        " THEN ?5 ELSE sent_at END"
                        " WHERE id = ?1 AND state = ?6",
    [Q_ORDER_UNSENT] = "UPDATE orders SET state = 'queued', updated_at = ?2"
                       " WHERE id = ?1 AND state = 'sending'",
    [Q_ORDER_ACTIVE] = "UPDATE orders SET state = 'active',"
                       " upstream_order = ?2, cost = ?3, polled_at = ?4,"
                       " updated_at = ?5, accepted_at = ?5"
                       " WHERE id = ?1 AND state = 'sending'",
    /* A final state is written once: only an open order moves. */
    [Q_ORDER_FINAL] = "UPDATE orders SET state = ?2, upstream_status ="
                      " COALESCE(?3, upstream_status), updated_at = ?4,"
                      " settled_at = ?4, refunded = ?7"
                      " WHERE id = ?1 AND state IN (?5, ?6)",
    [Q_ORDER_FIELDS] = "UPDATE orders SET upstream_status ="
                       " COALESCE(?2, upstream_status),"
                       " start_count = COALESCE(?3, start_count),"
                       " remains = COALESCE(?4, remains),"
                       " cost = COALESCE(?5, cost), polled_at = ?6,"
                       " updated_at = ?7, progress_at = CASE WHEN"
                       " progress_at = 0 AND ?8 = 1 THEN ?7 ELSE progress_at"
                       " END WHERE id = ?1 AND state = 'active'",
    [Q_ORDER_GET_FIELDS] = "SELECT fields FROM orders WHERE id = ?1",
    [Q_ORDER_POLLED] = "UPDATE orders SET polled_at = ?2 WHERE id = ?1",
    [Q_ORDER_COUNTS] = "SELECT state, COUNT(*) FROM orders GROUP BY state",
    [Q_REFILL_ADD] = "INSERT INTO refills (order_id, customer_id, state,"
                     " upstream, created_at, updated_at)"
                     " VALUES (?1, ?2, 'sending', ?3, ?4, ?4)",
    [Q_REFILL_GET] = "SELECT id, order_id, customer_id, state, upstream,"
                     " upstream_refill, status, created_at, updated_at"
                     " FROM refills WHERE id = ?1",
    [Q_UPSTREAM_GET] = "SELECT name, balance, currency, balance_at, synced_at,"
                       " services, circuit, multi_ok, updated_at"
                       " FROM upstreams WHERE name = ?1",
};

static const struct store_ops sqlite_ops;

void
store_sqlite_log_error(struct store_sqlite *s, const char *what)
{
	log_warnx("store: %s: %s", what, sqlite3_errmsg(s->db));
}

/* Reset and clear a cached statement before use. */
sqlite3_stmt *
store_sqlite_stmt(struct store_sqlite *s, enum sqlite_stmt which)
{
	sqlite3_stmt *q = s->q[which];

	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return q;
}

/* Run a statement that returns no rows; 0 or -1 (logged). */
int
store_sqlite_exec(struct store_sqlite *s, enum sqlite_stmt which)
{
	sqlite3_stmt *q = s->q[which];
	int rc = sqlite3_step(q);

	sqlite3_reset(q);
	if (rc != SQLITE_DONE) {
		store_sqlite_log_error(s, sqlite_names[which]);
		return -1;
	}
	return 0;
}

int
store_sqlite_begin(struct store_sqlite *s)
{
	if (s->group) {
		store_sqlite_stmt(s, Q_SAVEPOINT);
		return store_sqlite_exec(s, Q_SAVEPOINT);
	}
	/* BEGIN IMMEDIATE may wait (up to the busy timeout) for the CLI's
	 * write lock within one loop iteration: the first cached read after
	 * this transaction checks data_version again. */
	timerclear(&s->checked);
	store_sqlite_stmt(s, Q_BEGIN);
	return store_sqlite_exec(s, Q_BEGIN);
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

int
store_sqlite_commit(struct store_sqlite *s)
{
	if (s->group) {
		/* Durable at the group's end (store_sqlite_group_end). */
		store_sqlite_stmt(s, Q_RELEASE);
		if (store_sqlite_exec(s, Q_RELEASE) != 0) {
			store_sqlite_rollback(s);
			return -1;
		}
		return 0;
	}
	store_sqlite_stmt(s, Q_COMMIT);
	if (store_sqlite_exec(s, Q_COMMIT) != 0) {
		/* A failed COMMIT may leave the transaction open. */
		if (!sqlite3_get_autocommit(s->db))
			store_sqlite_exec(s, Q_ROLLBACK);
		sqlite_discard_failed_commit(s);
		return -1;
	}
	return 0;
}

void
store_sqlite_rollback(struct store_sqlite *s)
{
	if (s->group) {
		/* This write's savepoint only: the group's others stay. */
		if (!sqlite3_get_autocommit(s->db)) {
			store_sqlite_stmt(s, Q_ROLLBACK_TO);
			store_sqlite_exec(s, Q_ROLLBACK_TO);
			store_sqlite_stmt(s, Q_RELEASE);
			store_sqlite_exec(s, Q_RELEASE);
		}
		return;
	}
	if (!sqlite3_get_autocommit(s->db)) {
		store_sqlite_stmt(s, Q_ROLLBACK);
		store_sqlite_exec(s, Q_ROLLBACK);
	}
}

void
store_sqlite_copy_text(sqlite3_stmt *q, int col, char *dst, size_t size)
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
	store_core_read_customer(&store_sqlite_driver, q, c);
}

/* The core's reader over Q's current row. */
void
store_sqlite_read_order(sqlite3_stmt *q, struct order *o)
{
	store_core_read_order(&store_sqlite_driver, q, o);
}

char *
store_sqlite_col_strdup(sqlite3_stmt *q, int col)
{
	const unsigned char *t = sqlite3_column_text(q, col);

	return t != NULL ? xstrdup((const char *)t) : NULL;
}

static enum store_result
sqlite_customer_add(struct store *st, const char *name, const uint8_t *key_hash,
                    int64_t *id)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *q = store_sqlite_stmt(s, Q_CUSTOMER_ADD);
	int rc;

	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(q, 2, key_hash, STORE_KEYHASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, sqlite_now());
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	if (rc == SQLITE_CONSTRAINT)
		return STORE_EXISTS;
	if (rc != SQLITE_DONE) {
		store_sqlite_log_error(s, "customer add");
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
	sqlite3_stmt *q = store_sqlite_stmt(s, Q_CUSTOMER_SET_KEY);
	int rc;

	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(q, 2, key_hash, STORE_KEYHASH_LEN, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	if (rc == SQLITE_CONSTRAINT)
		return STORE_EXISTS;
	if (rc != SQLITE_DONE) {
		store_sqlite_log_error(s, "customer key");
		return STORE_ERROR;
	}
	return sqlite3_changes(s->db) == 1 ? STORE_OK : STORE_NOTFOUND;
}

static enum store_result
sqlite_customer_by_key(struct store *st, const uint8_t *key_hash,
                       struct customer *out)
{
	struct store_sqlite *s = sq(st);
	int cached = store_sqlite_cache_usable(s);
	const struct customer *c;
	sqlite3_stmt *q;
	enum store_result r = STORE_NOTFOUND;
	int rc;

	if (cached &&
	    (c = store_sqlite_cache_customer_get(s, key_hash)) != NULL) {
		*out = *c;
		return STORE_OK;
	}
	q = store_sqlite_stmt(s, Q_CUSTOMER_BY_KEY);

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
				store_sqlite_cache_customer_put(s, key_hash,
				                                out);
		}
	} else if (rc != SQLITE_DONE) {
		store_sqlite_log_error(s, "customer by key");
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
		store_sqlite_log_error(s, sqlite_names[which]);
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
	sqlite3_stmt *q = store_sqlite_stmt(s, Q_CUSTOMER_BY_NAME);

	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	return sqlite_customer_get(s, Q_CUSTOMER_BY_NAME, q, out);
}

static enum store_result
sqlite_customer_set_disabled(struct store *st, const char *name, int disabled)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *q = store_sqlite_stmt(s, Q_CUSTOMER_SET_DISABLED);

	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 2, disabled ? 1 : 0);
	if (store_sqlite_exec(s, Q_CUSTOMER_SET_DISABLED) != 0)
		return STORE_ERROR;
	return sqlite3_changes(s->db) == 1 ? STORE_OK : STORE_NOTFOUND;
}

static int
sqlite_customer_list(struct store *st, store_customer_cb cb, void *arg)
{
	struct store_sqlite *s = sq(st);
	sqlite3_stmt *q = store_sqlite_stmt(s, Q_CUSTOMER_LIST);
	struct customer c;
	int rc, n = 0;

	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		sqlite_read_customer(q, &c);
		n++;
		if (cb(&c, arg) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_sqlite_log_error(s, "customer list");
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
	sqlite3_stmt *q = store_sqlite_stmt(s, Q_LEDGER_ADD);

	sqlite3_bind_int64(q, 1, customer_id);
	sqlite3_bind_text(q, 2, ledger_kind_name(kind), -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, amount);
	if (order_id > 0)
		sqlite3_bind_int64(q, 4, order_id);
	if (note != NULL)
		sqlite3_bind_text(q, 5, note, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 6, sqlite_now());
	return store_sqlite_exec(s, Q_LEDGER_ADD);
}
/* A group: the writes until store_sqlite_group_end share one transaction
 * and one commit; each write is still all-or-nothing on its own, as a
 * savepoint.  The caller runs nothing else on the loop in between (SQLite
 * calls never park a fiber), and answers nobody on the strength of a write
 * before the group's end.
 *
 * A group commits with synchronous=NORMAL: no WAL fsync of its own (the
 * poller's groups, what the upstream said of open orders, which it says
 * again if a power loss takes them; the store stays consistent).  Every
 * other commit is FULL, and its fsync makes the WAL durable up to it,
 * groups included: nothing acknowledged to anyone rests on a group's
 * writes alone once anything after them was acknowledged.  An fsync per
 * group held the loop for the disk at every poll reply. */
void
store_sqlite_synchronous(struct store_sqlite *s, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &err) != SQLITE_OK)
		fatalx("store: %s: %s", sql, err != NULL ? err : "failed");
}

static int
store_sqlite_group_begin(struct store *st)
{
	struct store_sqlite *s = sq(st);

	if (s->group || !sqlite3_get_autocommit(s->db))
		return -1;
	store_sqlite_synchronous(s, "PRAGMA synchronous=NORMAL");
	if (store_sqlite_begin(s) != 0) {
		store_sqlite_synchronous(s, "PRAGMA synchronous=FULL");
		return -1;
	}
	s->group = 1;
	return 0;
}

static int
store_sqlite_group_end(struct store *st)
{
	struct store_sqlite *s = sq(st);
	int r;

	if (!s->group)
		return -1;
	s->group = 0;
	if (sqlite3_get_autocommit(s->db))
		r = -1; /* an error rolled the whole transaction back */
	else
		r = store_sqlite_commit(s);
	store_sqlite_synchronous(s, "PRAGMA synchronous=FULL");
	return r;
}

/* The driver's transaction runner: BEGIN IMMEDIATE ... COMMIT. */
static enum store_result
sqlite_run(struct store *st, store_core_body body, void *arg)
{
	struct store_sqlite *s = sq(st);
	enum store_result r;

	if (store_sqlite_begin(s) != 0)
		return STORE_ERROR;
	r = body(s, arg);
	if (r == STORE_OK && store_sqlite_commit(s) != 0)
		r = STORE_ERROR;
	if (r != STORE_OK)
		store_sqlite_rollback(s);
	return r;
}

/* Run balance statement WHICH (bound): 1 a row changed, 0 none, -1. */
static int
sqlite_balance_run(struct store_sqlite *s, enum sqlite_stmt which)
{
	if (store_sqlite_exec(s, which) != 0)
		return -1;
	return sqlite3_changes(s->db) == 1;
}

static int
sqlite_debit(store_tx *tx, int64_t customer_id, money_t charge)
{
	struct store_sqlite *s = tx;
	sqlite3_stmt *q = store_sqlite_stmt(s, Q_BALANCE_DEBIT);

	sqlite3_bind_int64(q, 1, customer_id);
	sqlite3_bind_int64(q, 2, charge);
	return sqlite_balance_run(s, Q_BALANCE_DEBIT);
}

static int
sqlite_balance_add(store_tx *tx, int64_t customer_id, money_t amount)
{
	struct store_sqlite *s = tx;
	sqlite3_stmt *q = store_sqlite_stmt(s, Q_BALANCE_ADD);

	sqlite3_bind_int64(q, 1, customer_id);
	sqlite3_bind_int64(q, 2, amount);
	return sqlite_balance_run(s, Q_BALANCE_ADD);
}

static int
sqlite_balance_post(store_tx *tx, int64_t customer_id, money_t amount,
                    money_t max, money_t *balance)
{
	struct store_sqlite *s = tx;
	sqlite3_stmt *q = store_sqlite_stmt(s, Q_BALANCE_POST);
	struct customer c;
	int n;

	sqlite3_bind_int64(q, 1, customer_id);
	sqlite3_bind_int64(q, 2, amount);
	sqlite3_bind_int64(q, 3, max);
	if ((n = sqlite_balance_run(s, Q_BALANCE_POST)) != 1)
		return n;
	q = store_sqlite_stmt(s, Q_CUSTOMER_BY_ID);
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
	sqlite3_stmt *q = store_sqlite_stmt(s, Q_CUSTOMER_BY_ID);
	struct customer c;

	sqlite3_bind_int64(q, 1, id);
	return sqlite_customer_get(s, Q_CUSTOMER_BY_ID, q, &c);
}

static enum store_result
sqlite_order_by_request(store_tx *tx, const struct order_new *o, int64_t *id)
{
	struct store_sqlite *s = tx;
	sqlite3_stmt *q = store_sqlite_stmt(s, Q_ORDER_BY_REQUEST);
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
		store_sqlite_log_error(s, "order by request");
		r = STORE_ERROR;
	}
	sqlite3_reset(q);
	return r;
}
/* Insert O in STATE inside the caller's transaction.  Never STORE_EXISTS:
 * the request's lookup ran under this transaction's write lock; so a
 * conflict is the same-link guard's index: STORE_LINK, no row. */
static enum store_result
sqlite_order_insert(store_tx *tx, const struct order_new *o,
                    enum order_state state, int64_t *id)
{
	struct store_sqlite *s = tx;
	sqlite3_stmt *q = store_sqlite_stmt(s, Q_ORDER_ADD);

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
	if (o->link_key != NULL)
		sqlite3_bind_text(q, o->link_reroute ? 19 : 18, o->link_key, -1,
		                  SQLITE_STATIC);
	if (store_sqlite_exec(s, Q_ORDER_ADD) != 0)
		return STORE_ERROR;
	if (sqlite3_changes(s->db) == 0)
		return o->link_key != NULL ? STORE_LINK : STORE_ERROR;
	*id = sqlite3_last_insert_rowid(s->db);
	return STORE_OK;
}

static void
sqlite_close(struct store *st)
{
	struct store_sqlite *s = sq(st);

	if (s == NULL)
		return;
	store_sqlite_sync_stop(s);
	store_sqlite_ckpt_stop(s);
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(s->q[i]);
	store_sqlite_built_free(s);
	sqlite3_close(s->db);
	rowcache_free(s->orders);
	rowcache_free(s->customers);
	rowcache_free(s->keys);
	free(s);
}

struct store *
store_sqlite_open(const char *path, int decimals)
{
	struct store_sqlite *s = xcalloc(1, sizeof(*s));
	int flags =
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;

	s->base.ops = &sqlite_ops;
	s->base.drv = &store_sqlite_driver;
	s->base.decimals = decimals;
	s->decimals = decimals;
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		log_warnx("store: %s: %s", path,
		          s->db != NULL ? sqlite3_errmsg(s->db)
		                        : "cannot open");
		goto fail;
	}
	sqlite3_extended_result_codes(s->db, 0);
	if (store_sqlite_schema_durable(s, path) != 0 ||
	    store_sqlite_schema_migrate(s, path) != 0)
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
	if (store_sqlite_schema_decimals(s, path, decimals) != 0)
		goto fail;
	return &s->base;
fail:
	sqlite_close(&s->base);
	return NULL;
}

const struct store_driver store_sqlite_driver = {
    .run = sqlite_run,
    .debit = sqlite_debit,
    .balance_add = sqlite_balance_add,
    .balance_post = sqlite_balance_post,
    .customer_exists = sqlite_customer_exists,
    .ledger_insert = sqlite_ledger_insert,
    .order_by_request = sqlite_order_by_request,
    .order_insert = sqlite_order_insert,
    .order_read = store_sqlite_orders_read,
    .order_final = store_sqlite_orders_final,
    .order_observe = store_sqlite_orders_observe,
    .query = store_sqlite_query,
    .exec = store_sqlite_exec_query,
    .col_int = store_sqlite_col_int,
    .col_text = store_sqlite_col_text,
    .col_hash_equal = store_sqlite_col_hash_equal,
    .dollar = 0,
    .sql_link = "json_extract(o.fields, '$.link')",
    .sql_find = "instr",
};

static const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sqlite_close,
    .attach = store_sqlite_cache_attach,
    .durable = store_sqlite_durable,
    .durable_now = store_sqlite_durable_now,
    .customer_add = sqlite_customer_add,
    .customer_set_key = sqlite_customer_set_key,
    .customer_by_key = sqlite_customer_by_key,
    .customer_by_name = sqlite_customer_by_name,
    .customer_set_disabled = sqlite_customer_set_disabled,
    .customer_list = sqlite_customer_list,
    .order_create_many = store_sqlite_orders_create_many,
    .order_group = store_sqlite_orders_group,
    .order_active_many = store_sqlite_orders_active_many,
    .order_get = store_sqlite_orders_get,
    .order_get_many = store_sqlite_orders_get_many,
    .order_sending = store_sqlite_orders_sending,
    .order_unsent = store_sqlite_orders_unsent,
    .order_fields = store_sqlite_orders_fields,
    .order_polled = store_sqlite_orders_polled,
    .group_begin = store_sqlite_group_begin,
    .group_end = store_sqlite_group_end,
    .order_poll_page = store_sqlite_orders_poll_page,
    .order_list = store_sqlite_orders_list,
    .order_claim = store_sqlite_orders_claim,
    .order_counts = store_sqlite_orders_counts,
    .refill_add = store_sqlite_orders_refill_add,
    .refill_get = store_sqlite_orders_refill_get,
    .ledger_totals = store_sqlite_check_totals,
    .report = store_sqlite_check_report,
    .catalog_replace = store_sqlite_catalog_replace,
    .catalog_load = store_sqlite_catalog_load,
    .upstream_state_put = store_sqlite_catalog_upstream_put,
    .upstream_state_get = store_sqlite_catalog_upstream_get,
    .check = store_sqlite_check_run,
    .catalog_generation = store_sqlite_catalog_generation,
    .catalog_bump = store_sqlite_catalog_bump,
};
