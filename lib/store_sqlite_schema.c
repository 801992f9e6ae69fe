/* store_sqlite_schema.c - the SQLite schema: its migrations, the durability
 * settings read back at open, and money.decimals recorded in meta. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store.h"
#include "store_sqlite.h"
#include "xmalloc.h"

#define SQLITE_BUSY_MS 5000

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
    /* 4: the operator's data (the admin API).  Payments are ledger
     * entries with their method, the gateway's reference (taken once in
     * the whole store: exactly-once credits) and who made them; operator
     * keys (a name is reused only once revoked); the audit trail; and
     * the indexes the order pages filter on. */
    "ALTER TABLE ledger ADD COLUMN method TEXT;"
    "ALTER TABLE ledger ADD COLUMN external_id TEXT;"
    "ALTER TABLE ledger ADD COLUMN actor TEXT;"
    "CREATE UNIQUE INDEX ledger_external ON ledger(external_id)"
    " WHERE external_id IS NOT NULL;"
    "CREATE INDEX ledger_order ON ledger(order_id)"
    " WHERE order_id IS NOT NULL;"
    "CREATE INDEX orders_service ON orders(service_id, id);"
    "CREATE INDEX orders_created ON orders(created_at);"
    "CREATE TABLE admin_keys ("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " key_hash BLOB NOT NULL UNIQUE,"
    " read_only INTEGER NOT NULL CHECK (read_only IN (0, 1)),"
    " created_at INTEGER NOT NULL,"
    " revoked_at INTEGER NOT NULL DEFAULT 0"
    ") STRICT;"
    "CREATE UNIQUE INDEX admin_keys_active ON admin_keys(name)"
    " WHERE revoked_at = 0;"
    "CREATE TABLE audit ("
    " id INTEGER PRIMARY KEY,"
    " created_at INTEGER NOT NULL,"
    " actor TEXT NOT NULL,"
    " action TEXT NOT NULL,"
    " target TEXT NOT NULL,"
    " detail TEXT NOT NULL,"
    " result TEXT NOT NULL"
    ") STRICT;",
    /* 5: customers' webhooks and their outbox (store_webhooks.c).  An
     * event is a row per endpoint, written in the transaction of the
     * change it reports, with the order's v2 status fields as they were
     * then; due rows are scanned by next_at, and one order's rows to one
     * endpoint go out one at a time, by id. */
    "CREATE TABLE webhooks ("
    " id INTEGER PRIMARY KEY,"
    " customer_id INTEGER NOT NULL REFERENCES customers(id),"
    " url TEXT NOT NULL,"
    " events INTEGER NOT NULL,"
    " secret TEXT NOT NULL,"
    " old_secret TEXT,"
    " old_until INTEGER NOT NULL DEFAULT 0,"
    " balance_below INTEGER,"
    " created_at INTEGER NOT NULL"
    ") STRICT;"
    "CREATE INDEX webhooks_customer ON webhooks(customer_id);"
    "CREATE TABLE webhook_events ("
    /* never reused: the ID is the event's, and acknowledged rows go */
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " endpoint_id INTEGER NOT NULL,"
    " customer_id INTEGER NOT NULL,"
    " type TEXT NOT NULL,"
    " order_id INTEGER NOT NULL DEFAULT 0,"
    " refill_id INTEGER NOT NULL DEFAULT 0,"
    " state TEXT,"
    " status TEXT,"
    " charge INTEGER NOT NULL DEFAULT 0,"
    " refunded INTEGER NOT NULL DEFAULT 0,"
    " start_count INTEGER,"
    " remains INTEGER,"
    " upstream_quantity INTEGER NOT NULL DEFAULT 0,"
    " balance INTEGER NOT NULL DEFAULT 0,"
    " threshold INTEGER NOT NULL DEFAULT 0,"
    " created_at INTEGER NOT NULL,"
    " delivery TEXT NOT NULL DEFAULT 'pending' CHECK (delivery IN"
    "  ('pending', 'delivered', 'dead')),"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " next_at INTEGER NOT NULL,"
    " last_error TEXT,"
    " done_at INTEGER NOT NULL DEFAULT 0"
    ") STRICT;"
    "CREATE INDEX webhook_events_due ON webhook_events(next_at, id)"
    " WHERE delivery = 'pending';"
    "CREATE INDEX webhook_events_chain ON webhook_events(endpoint_id,"
    " order_id, id) WHERE delivery = 'pending';"
    "CREATE INDEX webhook_events_dead ON webhook_events(id)"
    " WHERE delivery = 'dead';",
    /* 6: customers' own rates (lib/pricing.h): groups with a percent,
     * membership, overrides per service, and the generation every
     * pricing write moves (the daemons reload on it). */
    "CREATE TABLE customer_groups ("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " percent INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL"
    ") STRICT;"
    "CREATE TABLE group_members ("
    " customer_id INTEGER PRIMARY KEY REFERENCES customers(id),"
    " group_id INTEGER NOT NULL REFERENCES customer_groups(id)"
    ") STRICT;"
    "CREATE INDEX group_members_group ON group_members(group_id);"
    "CREATE TABLE customer_rates ("
    " customer_id INTEGER NOT NULL REFERENCES customers(id),"
    " service_id INTEGER NOT NULL,"
    " fixed INTEGER NOT NULL CHECK (fixed IN (0, 1)),"
    " value INTEGER NOT NULL CHECK (value >= 0),"
    " created_at INTEGER NOT NULL,"
    " PRIMARY KEY (customer_id, service_id)"
    ") STRICT;"
    "CREATE TABLE generations (name TEXT PRIMARY KEY,"
    " value INTEGER NOT NULL) STRICT;"
    "INSERT INTO generations (name, value) VALUES ('pricing', 0);"
    /* an order's timeline (unix s, 0 not yet): marked for sending,
     * accepted, first seen in progress, settled */
    "ALTER TABLE orders ADD COLUMN sent_at INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE orders ADD COLUMN accepted_at INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE orders ADD COLUMN progress_at INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE orders ADD COLUMN settled_at INTEGER NOT NULL DEFAULT 0;",
    /* 7: the price-change log (store_prices.c): what each catalogue
     * sync changed per upstream service, read newest first. */
    "CREATE TABLE price_changes ("
    " id INTEGER PRIMARY KEY,"
    " created_at INTEGER NOT NULL,"
    " upstream TEXT NOT NULL,"
    " service INTEGER NOT NULL,"
    " kind TEXT NOT NULL CHECK (kind IN ('appeared', 'dropped',"
    "  'changed')),"
    " cost_before INTEGER,"
    " cost_after INTEGER,"
    " price_before INTEGER,"
    " price_after INTEGER"
    ") STRICT;"
    "CREATE INDEX price_changes_upstream ON price_changes(upstream, id);",
    /* 8: the same-link guard (DESIGN.md): an open order's normalised link,
     * unique per service (link_key, same_link: refuse) or per service and
     * upstream (link_key_up, same_link: reroute) among open orders.  The
     * index decides, under any concurrency and across instances. */
    "ALTER TABLE orders ADD COLUMN link_key TEXT;"
    "ALTER TABLE orders ADD COLUMN link_key_up TEXT;"
    "CREATE UNIQUE INDEX orders_open_link ON orders(service_id, link_key)"
    " WHERE link_key IS NOT NULL"
    " AND state IN ('queued', 'sending', 'active');"
    "CREATE UNIQUE INDEX orders_open_link_up ON orders(service_id,"
    " link_key_up, upstream) WHERE link_key_up IS NOT NULL"
    " AND state IN ('queued', 'sending', 'active')",
};
#define SQLITE_SCHEMA_VERSION                                                  \
	((int)(sizeof(sqlite_migrations) / sizeof(sqlite_migrations[0])))

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
		store_sqlite_copy_text(q, 0, text, size);
	sqlite3_finalize(q);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* Set and read back the settings durability depends on. */
int
store_sqlite_schema_durable(struct store_sqlite *s, const char *path)
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

int
store_sqlite_schema_migrate(struct store_sqlite *s, const char *path)
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
 * (store_decimals_agree).  Read first: only the first open writes, so a
 * CLI command that only reads never waits for the write lock a busy
 * daemon holds (it did, and timed out, while the daemon applied a poll
 * cycle of 10,000 orders). */
int
store_sqlite_schema_decimals(struct store_sqlite *s, const char *path,
                             int decimals)
{
	static const char read_sql[] =
	    "SELECT value FROM meta WHERE key = 'money_decimals'";
	char sql[128], stored[16] = "";

	snprintf(sql, sizeof(sql),
	         "INSERT OR IGNORE INTO meta (key, value)"
	         " VALUES ('money_decimals', '%d')",
	         decimals);
	if (sqlite_pragma(s, read_sql, stored, sizeof(stored)) != 0 ||
	    (stored[0] == '\0' &&
	     (sqlite_pragma(s, sql, NULL, 0) != 0 ||
	      sqlite_pragma(s, read_sql, stored, sizeof(stored)) != 0))) {
		log_warnx("store: %s: cannot read money.decimals: %s", path,
		          sqlite3_errmsg(s->db));
		return -1;
	}
	return store_decimals_agree(stored, decimals);
}
