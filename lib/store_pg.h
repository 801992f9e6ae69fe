/* store_pg.h - what the files of the PostgreSQL backend share (store_pg.c,
 * store_pg_schema.c, store_pg_orders.c, store_pg_catalog.c, store_pg_check.c).
 * Private to them.
 */
#ifndef PANELMUX_STORE_PG_H
#define PANELMUX_STORE_PG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <libpq-fe.h>

#include "store.h"
#include "store_core.h"

#define PG_TRIES 5          /* runs of a transaction that keeps conflicting */
#define PG_MAXARGS 24       /* parameters of a fixed statement */
#define PG_CATALOG_ROWS 500 /* rows per catalogue INSERT (15 params each) */

#define ORDER_NCOLS 27

struct pg_keys;

struct store_pg {
	struct store base; /* first: a struct store * is a struct store_pg * */
	struct pgpool *pool;
	int decimals;
	struct event_base *loop; /* the daemon's loop, once attached */
	struct pg_keys *keys;    /* customers by key, batched (attached) */
};

/* What the last failed statement of a transaction was. */
enum pg_err {
	PG_OK,
	PG_RETRY,  /* serialization failure or deadlock: run it again */
	PG_UNIQUE, /* unique violation */
	PG_FAIL    /* anything else, logged */
};

/* One call's connection and the fate of its last statement. */
struct pgtx {
	struct store_pg *s;
	PGconn *c;
	enum pg_err err;
};

/* The text parameters of one statement; numbers are formatted in place. */
struct pgargs {
	int n;
	const char *v[PG_MAXARGS];
	char buf[PG_MAXARGS][72]; /* an int64, or a hash as '\x' and hex */
};

#define PGX_UNIQUE_OK 1 /* a unique violation is the caller's answer */

typedef enum store_result (*pg_body)(struct pgtx *t, void *arg);

/* One statement outside a transaction.  With KEEP its result is left in
 * RES (PQclear it) for the caller to read with the connection given back;
 * ROWS is the rows affected or returned; ERR the statement's failure. */
struct store_pg_one {
	const char *what;
	const char *sql;
	const struct pgargs *a;
	int flags;
	int keep;
	PGresult *res;
	int64_t rows;
	enum pg_err err;
};

static inline struct store_pg *
spg(struct store *st)
{
	return (struct store_pg *)st;
}

static inline int64_t
pg_now(void)
{
	return (int64_t)time(NULL);
}

/* store_pg.c: parameters, statements, transactions, rows. */
extern const struct store_driver store_pg_driver;
void store_pg_arg_int(struct pgargs *a, int64_t v);
void store_pg_arg_str(struct pgargs *a, const char *s);
void store_pg_arg_int_or_null(struct pgargs *a, int64_t v);
void store_pg_arg_hash(struct pgargs *a, const uint8_t *h);
char *store_pg_id_array(const int64_t *ids, size_t n);
char *store_pg_text_array(const char *const *v, size_t n);
PGresult *store_pg_checked(struct pgtx *t, const char *what, PGresult *res,
                           int flags);
PGresult *store_pg_exec_n(struct pgtx *t, const char *what, const char *sql,
                          int n, const char *const *params, int flags);
PGresult *store_pg_exec(struct pgtx *t, const char *what, const char *sql,
                        const struct pgargs *a);
int64_t store_pg_cmd_f(struct pgtx *t, const char *what, const char *sql,
                       const struct pgargs *a, int flags);
int64_t store_pg_cmd(struct pgtx *t, const char *what, const char *sql,
                     const struct pgargs *a);
int64_t store_pg_int(const PGresult *res, int row, int col, int64_t dflt);
void store_pg_text(const PGresult *res, int row, int col, char *dst,
                   size_t size);
char *store_pg_strdup(const PGresult *res, int row, int col);
int store_pg_hash_equal(const PGresult *res, int row, int col,
                        const uint8_t *h);
void store_pg_read_order(const PGresult *res, int row, struct order *o);
void store_pg_read_customer(const PGresult *res, int row, struct customer *c);

/* store_pg_orders.c: what the group commit (store_pg_group.c) shares. */
struct pg_active {
	const int64_t *ids;
	const char *const *upstream_orders;
	const money_t *costs;
	size_t n;
	enum store_result *res;
	int savepoints; /* a duplicate upstream order was met: isolate each */
};

#define PG_SQL_ORDER_ACTIVE                                                 \
	"UPDATE orders SET state = 'active', upstream_order = $2, cost = $3," \
	" polled_at = $4, updated_at = $5, accepted_at = $5"                   \
	" WHERE id = $1 AND state = 'sending'"

void store_pg_orders_insert_args(struct pgargs *a, const struct order_new *o,
                                 enum order_state state);
int store_pg_orders_lock(struct pgtx *t, const struct order_new *v, size_t n);
void store_pg_orders_active_args(struct pgargs *a, const struct pg_active *v,
                                 size_t i);
enum store_result store_pg_orders_active_one(struct pgtx *t,
                                             struct pg_active *v, size_t i);

/* store_pg_group.c */
enum store_result store_pg_group(struct store *st, const struct order_new *v,
                                 size_t n, enum store_result *res,
                                 int64_t *ids, const int64_t *act_ids,
                                 const char *const *upstream_orders,
                                 const money_t *costs, size_t nact,
                                 enum store_result *act_res);

/* store_pg_keys.c */
struct pg_keys *store_pg_keys_new(void);
void store_pg_keys_free(struct pg_keys *);
enum store_result store_pg_keys_lookup(struct store_pg *s,
                                       const uint8_t *key_hash,
                                       struct customer *out);
int store_pg_simple(struct pgtx *t, const char *sql);
void store_pg_rollback(struct pgtx *t);
enum store_result store_pg_commit(struct pgtx *t);
enum store_result store_pg_run(struct store_pg *s, int txn, pg_body body,
                               void *arg);
enum store_result store_pg_one(struct store_pg *s, struct store_pg_one *o);
PGresult *store_pg_query(struct store_pg *s, const char *what, const char *sql,
                         const struct pgargs *a);
int64_t store_pg_write(struct store_pg *s, const char *what, const char *sql,
                       const struct pgargs *a, int flags, enum pg_err *err);
enum store_result store_pg_transition(struct store_pg *s, const char *what,
                                      const char *sql, const struct pgargs *a);

/* A row of a result: what the driver's column accessors read. */
struct pg_row {
	const PGresult *res;
	int row;
};

/* store_pg_query.c: statements built at run time (store_query). */
int64_t store_pg_query_rows(struct store *st, store_tx *tx,
                            const struct store_query *q, store_row_fn fn,
                            void *arg);
int64_t store_pg_exec_query(store_tx *tx, const struct store_query *q,
                            int64_t *id);
int64_t store_pg_col_int(store_row *row, int col, int64_t null_value);
void store_pg_col_text(store_row *row, int col, char *dst, size_t size);
int store_pg_col_hash_equal(store_row *row, int col, const uint8_t *h);

/* store_pg_schema.c: migrations and money.decimals. */
int store_pg_schema_migrate(struct pgtx *t);
void store_pg_schema_setting(struct pgtx *t, const char *name, char *buf,
                             size_t size);
int store_pg_schema_decimals(struct pgtx *t, int decimals);

/* store_pg_orders.c: orders and refills. */
enum store_result
store_pg_orders_by_request(store_tx *t, const struct order_new *o, int64_t *id);
int store_pg_orders_debit(store_tx *t, int64_t id, money_t charge);
enum store_result store_pg_orders_insert(store_tx *tx,
                                         const struct order_new *o,
                                         enum order_state state, int64_t *id);
enum store_result store_pg_orders_create_many(struct store *st,
                                              const struct order_new *v,
                                              size_t n, enum store_result *res,
                                              int64_t *ids);
enum store_result store_pg_orders_read(store_tx *t, int64_t id,
                                       struct order *out);
enum store_result store_pg_orders_get(struct store *st, int64_t id,
                                      struct order *out);
enum store_result store_pg_orders_get_many(struct store *st, const int64_t *ids,
                                           size_t n, struct order *out,
                                           int *found);
enum store_result store_pg_orders_sending(struct store *st, int64_t id,
                                          int route_idx, const char *upstream,
                                          int64_t upstream_service, int held);
enum store_result store_pg_orders_unsent(struct store *st, int64_t id);
enum store_result store_pg_orders_active_many(
    struct store *st, const int64_t *ids, const char *const *upstream_orders,
    const money_t *costs, size_t n, enum store_result *res);
enum store_result store_pg_orders_final(store_tx *tx, int64_t id,
                                        enum store_move move,
                                        enum order_state to, const char *status,
                                        money_t refunded);
enum store_result store_pg_orders_observe(store_tx *tx, int64_t id,
                                          const struct order_update *u);
enum store_result store_pg_orders_fields(struct store *st, int64_t id,
                                         char **json);
enum store_result store_pg_orders_polled(struct store *st, const int64_t *ids,
                                         size_t n, int64_t now_ms);
int64_t store_pg_orders_list(struct store *st, const struct order_filter *f,
                             store_order_cb cb, void *arg);
int64_t store_pg_orders_claim(struct store *st, const struct order_filter *f,
                              int64_t now_ms, store_order_cb cb, void *arg);
enum store_result store_pg_orders_counts(struct store *st, int64_t *counts);
enum store_result store_pg_orders_refill_add(struct store *st, int64_t order_id,
                                             int64_t customer_id,
                                             const char *upstream, int64_t *id);
enum store_result store_pg_orders_refill_get(struct store *st, int64_t id,
                                             struct refill *out);

/* store_pg_catalog.c: catalogues, generations, upstream state. */
enum store_result
store_pg_catalog_replace(struct store *st, const char *upstream,
                         const struct store_service_rows *list);
enum store_result store_pg_catalog_load(struct store *st, const char *upstream,
                                        struct store_service_rows *out);
enum store_result store_pg_catalog_upstream_put(struct store *st,
                                                const struct upstream_state *u);
enum store_result store_pg_catalog_upstream_get(struct store *st,
                                                const char *name,
                                                struct upstream_state *out);
enum store_result store_pg_catalog_generation(struct store *st,
                                              const char *upstream,
                                              int64_t *gen);
enum store_result store_pg_catalog_bump(struct store *st, const char *upstream,
                                        int64_t *gen);

/* store_pg_check.c: check, ledger totals, the report. */
enum store_result store_pg_check_totals(struct store *st, money_t *totals);
int store_pg_check_report(struct store *st, store_report_row_cb cb, void *arg);
int store_pg_check_run(struct store *st, store_report_cb report, void *arg);

#endif
