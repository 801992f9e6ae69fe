/* store_sqlite.h - what the files of the SQLite backend share (store_sqlite.c,
 * store_sqlite_schema.c, store_sqlite_cache.c, store_sqlite_orders.c,
 * store_sqlite_catalog.c, store_sqlite_check.c).  Private to them.
 */
#ifndef PANELMUX_STORE_SQLITE_H
#define PANELMUX_STORE_SQLITE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>
#include <time.h>

#include <sqlite3.h>

#include "store.h"
#include "store_core.h"

struct event_base;
struct rowcache;

/* The prepared statements (store_sqlite.c holds their SQL and names). */
enum sqlite_stmt {
	Q_BEGIN,
	Q_COMMIT,
	Q_ROLLBACK,
	Q_SAVEPOINT,
	Q_RELEASE,
	Q_ROLLBACK_TO,
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
	Q_REFILL_GET,
	Q_DATA_VERSION,
	Q_COUNT
};

#define SQLITE_BUILT_CACHE 32

struct sqlite_ckpt;
struct sqlite_sync;

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
	/* Statements built at run time, kept prepared by their text
	 * (store_sqlite_query.c). */
	struct sqlite_built {
		char *sql;
		sqlite3_stmt *st;
		int busy; /* stepping: a nested use prepares its own */
	} built[SQLITE_BUILT_CACHE];
	unsigned built_next; /* the slot the next new one takes */
	/* In a group (store_group_begin): one transaction is open, and each
	 * write's begin, commit and rollback is a savepoint's. */
	int group;
	struct sqlite_ckpt *ckpt; /* checkpoints on a thread (attached) */
	struct sqlite_sync *sync; /* order groups' syncs on a thread (attached) */
};

/* Finalize the built statements kept prepared (before closing). */
void store_sqlite_built_free(struct store_sqlite *s);

static inline struct store_sqlite *
sq(struct store *st)
{
	return (struct store_sqlite *)st;
}

static inline int64_t
sqlite_now(void)
{
	return (int64_t)time(NULL);
}

static inline void
sqlite_bind_text_or_null(sqlite3_stmt *q, int col, const char *s)
{
	if (s != NULL)
		sqlite3_bind_text(q, col, s, -1, SQLITE_STATIC);
}

static inline void
sqlite_bind_int_or_null(sqlite3_stmt *q, int col, int64_t v)
{
	if (v >= 0)
		sqlite3_bind_int64(q, col, v);
}

/* store_sqlite.c: statements, transactions, rows. */
extern const struct store_driver store_sqlite_driver;
void store_sqlite_log_error(struct store_sqlite *s, const char *what);
/* Statement WHICH, reset and with its bindings cleared. */
sqlite3_stmt *store_sqlite_stmt(struct store_sqlite *s, enum sqlite_stmt which);
/* Run statement WHICH that returns no rows; 0 or -1 (logged). */
int store_sqlite_exec(struct store_sqlite *s, enum sqlite_stmt which);
int store_sqlite_begin(struct store_sqlite *s);
int store_sqlite_commit(struct store_sqlite *s);
/* Run a PRAGMA synchronous=...; exits if SQLite refuses it. */
void store_sqlite_synchronous(struct store_sqlite *s, const char *sql);
void store_sqlite_rollback(struct store_sqlite *s);
void store_sqlite_copy_text(sqlite3_stmt *q, int col, char *dst, size_t size);
void store_sqlite_read_order(sqlite3_stmt *q, struct order *o);
/* Column COL as a new string (free it), NULL if it is NULL. */
char *store_sqlite_col_strdup(sqlite3_stmt *q, int col);

/* store_sqlite_query.c: statements built at run time (store_query). */
int64_t store_sqlite_query(struct store *st, store_tx *tx,
                           const struct store_query *q, store_row_fn fn,
                           void *arg);
int64_t store_sqlite_exec_query(store_tx *tx, const struct store_query *q,
                                int64_t *id);
int64_t store_sqlite_col_int(store_row *row, int col, int64_t null_value);
void store_sqlite_col_text(store_row *row, int col, char *dst, size_t size);
int store_sqlite_col_hash_equal(store_row *row, int col, const uint8_t *h);

/* store_sqlite_schema.c: durability, migrations, money.decimals. */
int store_sqlite_schema_durable(struct store_sqlite *s, const char *path);
int store_sqlite_schema_migrate(struct store_sqlite *s, const char *path);
int store_sqlite_schema_decimals(struct store_sqlite *s, const char *path,
                                 int decimals);

/* store_sqlite_cache.c: the daemon's read caches. */
int store_sqlite_cache_attach(struct store *st, struct event_base *base);
/* 1 if the caches may be read and filled now. */
int store_sqlite_cache_usable(struct store_sqlite *s);
const struct customer *store_sqlite_cache_customer_get(struct store_sqlite *s,
                                                       const uint8_t *key_hash);
void store_sqlite_cache_customer_put(struct store_sqlite *s,
                                     const uint8_t *key_hash,
                                     const struct customer *c);

/* store_sqlite_orders.c: orders and refills (store_ops entries and the
 * driver's order primitives). */
enum store_result
store_sqlite_orders_create_many(struct store *st, const struct order_new *v,
                                size_t n, enum store_result *res, int64_t *ids);
enum store_result store_sqlite_orders_group(
    struct store *st, const struct order_new *v, size_t n,
    enum store_result *res, int64_t *ids, const int64_t *act_ids,
    const char *const *upstream_orders, const money_t *costs, size_t nact,
    enum store_result *act_res);
enum store_result store_sqlite_orders_active_many(
    struct store *st, const int64_t *ids, const char *const *upstream_orders,
    const money_t *costs, size_t n, enum store_result *res);
enum store_result store_sqlite_orders_get(struct store *st, int64_t id,
                                          struct order *out);
enum store_result store_sqlite_orders_get_many(struct store *st,
                                               const int64_t *ids, size_t n,
                                               struct order *out, int *found);
enum store_result store_sqlite_orders_sending(struct store *st, int64_t id,
                                              int route_idx,
                                              const char *upstream,
                                              int64_t upstream_service,
                                              int held);
enum store_result store_sqlite_orders_unsent(struct store *st, int64_t id);
enum store_result store_sqlite_orders_fields(struct store *st, int64_t id,
                                             char **json);
enum store_result store_sqlite_orders_polled(struct store *st,
                                             const int64_t *ids, size_t n,
                                             int64_t now_ms);
int64_t store_sqlite_orders_poll_page(struct store *st,
                                      const struct poll_page *p,
                                      store_order_cb cb, void *arg);
int64_t store_sqlite_orders_list(struct store *st, const struct order_filter *f,
                                 store_order_cb cb, void *arg);
int64_t store_sqlite_orders_claim(struct store *st,
                                  const struct order_filter *f, int64_t now_ms,
                                  store_order_cb cb, void *arg);
enum store_result store_sqlite_orders_counts(struct store *st, int64_t *counts);
enum store_result store_sqlite_orders_refill_add(struct store *st,
                                                 int64_t order_id,
                                                 int64_t customer_id,
                                                 const char *upstream,
                                                 int64_t *id);
enum store_result store_sqlite_orders_refill_get(struct store *st, int64_t id,
                                                 struct refill *out);
enum store_result store_sqlite_orders_final(store_tx *tx, int64_t id,
                                            enum store_move move,
                                            enum order_state to,
                                            const char *status,
                                            money_t refunded);
enum store_result store_sqlite_orders_read(store_tx *tx, int64_t id,
                                           struct order *o);
enum store_result store_sqlite_orders_observe(store_tx *tx, int64_t id,
                                              const struct order_update *u);

/* store_sqlite_catalog.c: catalogues, their generations, upstream state. */
enum store_result
store_sqlite_catalog_replace(struct store *st, const char *upstream,
                             const struct store_service_rows *list);
enum store_result store_sqlite_catalog_load(struct store *st,
                                            const char *upstream,
                                            struct store_service_rows *out);
enum store_result store_sqlite_catalog_generation(struct store *st,
                                                  const char *upstream,
                                                  int64_t *gen);
enum store_result store_sqlite_catalog_bump(struct store *st,
                                            const char *upstream, int64_t *gen);
enum store_result
store_sqlite_catalog_upstream_put(struct store *st,
                                  const struct upstream_state *u);
enum store_result store_sqlite_catalog_upstream_get(struct store *st,
                                                    const char *name,
                                                    struct upstream_state *out);

/* store_sqlite_check.c: the operator's reading (check, totals, report). */
int store_sqlite_check_run(struct store *st, store_report_cb report, void *arg);
enum store_result store_sqlite_check_totals(struct store *st, money_t *totals);
int store_sqlite_check_report(struct store *st, store_report_row_cb cb,
                              void *arg);

/* store_sqlite_ckpt.c */
int store_sqlite_ckpt_start(struct store_sqlite *s);
void store_sqlite_ckpt_stop(struct store_sqlite *s);

/* store_sqlite_sync.c */
int store_sqlite_sync_start(struct store_sqlite *s, struct event_base *base);
void store_sqlite_sync_stop(struct store_sqlite *s);
void store_sqlite_durable(struct store *st, void (*done)(void *), void *arg);
void store_sqlite_durable_now(struct store *st);
/* Tests: FN runs on the sync thread before each fdatasync. */
void store_sqlite_sync_set_test_hook(void (*fn)(void));

#endif
