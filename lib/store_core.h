/* store_core.h - the store's rules, shared by every backend.
 *
 * The core (store_core.c) owns the money and state rules: the ledger-post
 * policy, creating an order (the free-order guard, request_id reuse, the
 * conditional debit and its charge entry), settling an order (the move to a
 * final state and its refund, exactly once) and the table of allowed state
 * transitions.  A backend owns the SQL: it fills in a struct store_driver
 * of small primitives that each run one statement inside the transaction
 * its runner opened, and never decides what a state or an amount may be.
 *
 * Private to the store: only store.c and the backends include it.
 */
#ifndef PANELMUX_STORE_CORE_H
#define PANELMUX_STORE_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "money.h"
#include "store.h"

/* The columns both backends read a customer and an order (as "o") by, in
 * the order their row readers take them. */
#define CUSTOMER_COLS "id, name, balance, disabled, created_at"
#define ORDER_COLS                                                             \
	"o.id, o.customer_id, o.service_id, o.type, o.state, o.quantity,"      \
	" o.runs, o.interval, o.rate, o.charge, o.upstream,"                   \
	" o.upstream_service, o.route_idx, o.upstream_order, o.cost,"          \
	" o.start_count, o.remains, o.upstream_status, o.created_at,"          \
	" o.updated_at, o.polled_at, o.refunded, o.upstream_quantity,"        \
	" o.sent_at, o.accepted_at, o.progress_at, o.settled_at"

/* The moves an order makes, each with the states it may start from. */
enum store_move {
	STORE_MOVE_SEND,   /* queued -> sending: the claim */
	STORE_MOVE_RESEND, /* sending -> sending: the holder re-marks */
	STORE_MOVE_UNSENT, /* sending -> queued: provably never left */
	STORE_MOVE_ACCEPT, /* sending -> active: the upstream's ID known */
	STORE_MOVE_REJECT, /* queued or sending -> rejected, refunded */
	STORE_MOVE_DISOWN, /* sending -> rejected: the operator refunds */
	STORE_MOVE_SETTLE, /* active -> a final state read upstream */
	STORE_MOVE_COUNT
};

/* Bit (1u << s) of each order_state s the move starts from. */
#define STORE_FROM(s) (1u << (s))

struct store_transition {
	unsigned from; /* STORE_FROM() bits */
	int to;        /* the state it ends in, or -1: a final state given */
};

/* The transition table (store_core.c). */
extern const struct store_transition store_transitions[STORE_MOVE_COUNT];

/* 1 if MOVE may take an order from FROM to TO. */
int store_core_allowed(enum store_move move, enum order_state from,
                       enum order_state to);

/* The names of the (one or two) states MOVE starts from, for a statement's
 * `state IN (?, ?)`: with one, both are that one. */
void store_core_from(enum store_move move, const char **from1,
                     const char **from2);

/* A transaction's handle, as the backend's runner hands it to a body. */
typedef void store_tx;
typedef enum store_result (*store_core_body)(store_tx *tx, void *arg);

/*
 * A statement built at run time (the pages' filters), with its parameters
 * in the backend's placeholder style: ?N (SQLite) or $N (PostgreSQL).
 * Built by the core (store_admin.c), run by the driver's query and exec.
 */
#define STORE_QUERY_ARGS (STORE_PAGE_IDS + 16)
#define STORE_QUERY_SQL 4096

enum store_qarg_type {
	STORE_QA_NULL,
	STORE_QA_INT,
	STORE_QA_TEXT,
	STORE_QA_HASH
};

struct store_qarg {
	enum store_qarg_type type;
	int64_t i;
	const char *s;    /* borrowed */
	const uint8_t *h; /* STORE_KEYHASH_LEN bytes, borrowed */
};

struct store_query {
	char sql[STORE_QUERY_SQL];
	size_t len;
	int dollar;   /* $N placeholders, else ?N */
	int overflow; /* too long or too many parameters: never run */
	int n;
	struct store_qarg a[STORE_QUERY_ARGS];
};

struct store_driver;

/* A row of a query's result, read through the driver's accessors. */
typedef const void store_row;
/* Called once per row; non-zero stops. */
typedef int (*store_row_fn)(const struct store_driver *d, store_row *row,
                            void *arg);

#define STORE_EXEC_UNIQUE (-2) /* exec: a unique constraint refused it */

/* The primitives a backend provides.  Each runs inside the transaction
 * TX and answers as described; none decides a rule. */
struct store_driver {
	/* Run BODY in one write transaction: STORE_OK commits (its
	 * failure is STORE_ERROR), anything else rolls back.  A backend may
	 * run BODY again from a clean state (a serialization failure). */
	enum store_result (*run)(struct store *, store_core_body body,
	                         void *arg);
	/* Debit CHARGE if the balance covers it: 1 done, 0 not, -1 error. */
	int (*debit)(store_tx *, int64_t customer_id, money_t charge);
	/* Add AMOUNT (> 0) to a balance: 1 done, 0 no such row, -1 error. */
	int (*balance_add)(store_tx *, int64_t customer_id, money_t amount);
	/* Add AMOUNT unless the balance would go below zero or past MAX:
	 * 1 done (*BALANCE the new one), 0 not, -1 error. */
	int (*balance_post)(store_tx *, int64_t customer_id, money_t amount,
	                    money_t max, money_t *balance);
	/* STORE_OK, STORE_NOTFOUND or STORE_ERROR. */
	enum store_result (*customer_exists)(store_tx *, int64_t id);
	/* One ledger row (ORDER_ID 0: none); 0 or -1. */
	int (*ledger_insert)(store_tx *, int64_t customer_id,
	                     enum ledger_kind kind, money_t amount,
	                     int64_t order_id, const char *note);
	/* The order of O's request_id: STORE_EXISTS (*ID set) with O's
	 * hash, STORE_CONFLICT (*ID set) with another, STORE_NOTFOUND,
	 * STORE_ERROR. */
	enum store_result (*order_by_request)(store_tx *,
	                                      const struct order_new *o,
	                                      int64_t *id);
	/* Insert O in STATE: STORE_OK (*ID set); STORE_EXISTS when another
	 * transaction committed O's request_id since the lookup (nothing
	 * written); STORE_ERROR. */
	enum store_result (*order_insert)(store_tx *, const struct order_new *o,
	                                  enum order_state state, int64_t *id);
	/* Order ID as this transaction sees it. */
	enum store_result (*order_read)(store_tx *, int64_t id,
	                                struct order *out);
	/* Move order ID from a state of MOVE to TO, keeping STATUS (NULL
	 * keeps the stored one) and REFUNDED: STORE_OK, STORE_CONFLICT (no
	 * row in such a state), STORE_ERROR. */
	enum store_result (*order_final)(store_tx *, int64_t id,
	                                 enum store_move move,
	                                 enum order_state to,
	                                 const char *status, money_t refunded);
	/* Write a status reply's fields on active order ID (its polled_at
	 * now): STORE_OK, STORE_CONFLICT (not active), STORE_ERROR. */
	enum store_result (*order_observe)(store_tx *, int64_t id,
	                                   const struct order_update *u);

	/* Statements built at run time.  query runs Q (a SELECT) inside TX,
	 * or outside any transaction with TX NULL, calling FN per row: the
	 * row count, or -1.  exec runs Q (a write) inside TX: the rows it
	 * changed, STORE_EXEC_UNIQUE, or -1; *ID (NULL ok) is the new row's
	 * id of an INSERT (PostgreSQL: its RETURNING id). */
	int64_t (*query)(struct store *, store_tx *tx,
	                 const struct store_query *q, store_row_fn fn,
	                 void *arg);
	int64_t (*exec)(store_tx *, const struct store_query *q, int64_t *id);
	/* A row's column: an integer (NULL_VALUE if NULL), text copied into
	 * DST (SIZE bytes, "" if NULL, cut to fit), or whether it is the
	 * STORE_KEYHASH_LEN bytes of H (constant time). */
	int64_t (*col_int)(store_row *row, int col, int64_t null_value);
	void (*col_text)(store_row *row, int col, char *dst, size_t size);
	int (*col_hash_equal)(store_row *row, int col, const uint8_t *h);
	int dollar; /* placeholders are $N */
	/* Words of the backend's SQL the built statements use: the order's
	 * forwarded link out of o.fields, and the substring position
	 * function FIND(haystack, needle), 0 when absent. */
	const char *sql_link;
	const char *sql_find;
};

/* One order inside TX (create_many's step): STORE_ERROR means the
 * transaction must be rolled back; every other result wrote nothing but
 * the order. */
enum store_result store_core_create_one(struct store *st, store_tx *tx,
                                        const struct order_new *o, int64_t *id);

/* The rules behind store.h's calls of the same names. */
enum store_result store_core_ledger_post(struct store *st, int64_t customer_id,
                                         enum ledger_kind kind, money_t amount,
                                         const char *note,
                                         money_t *new_balance);
enum store_result store_core_order_reject(struct store *st, int64_t id,
                                          const char *why);
enum store_result store_core_order_status(struct store *st, int64_t id,
                                          const struct order_update *u);
enum store_result store_core_order_resolve(struct store *st, int64_t id,
                                           const char *upstream_order);

/* Building a store_query (store_admin.c). */
void store_query_init(struct store_query *q, int dollar);
void store_query_sql(struct store_query *q, const char *sql);
void store_query_int(struct store_query *q, int64_t v);
void store_query_text(struct store_query *q, const char *s); /* NULL: NULL */
void store_query_hash(struct store_query *q, const uint8_t *h);

/* Run Q (a SELECT) inside TX, or alone with TX NULL: the rows, or -1
 * (an overflowed Q is never run). */
int64_t store_query_run(struct store *st, store_tx *tx,
                        const struct store_query *q, store_row_fn fn,
                        void *arg);
/* Q (a write) in a transaction of its own: STORE_OK (*ROWS, NULL ok, the
 * rows it changed), STORE_EXISTS (a unique constraint), STORE_ERROR. */
enum store_result store_query_write(struct store *st,
                                    const struct store_query *q, int64_t *rows);

/*
 * Webhook events (store_webhooks.c), written inside the transaction of the
 * change they report when the store's events are on (store.events): one
 * row per endpoint of the customer that wants the event, none otherwise.
 * Each returns 0, or -1 (the transaction must roll back).
 */
/* Order ID as it now is, as event TYPE (WEBHOOK_EV_ACCEPTED or
 * WEBHOOK_EV_STATUS). */
int store_core_event_order(struct store *st, store_tx *tx, int64_t id,
                           unsigned type);
/* Refill ID's status as it now is. */
int store_core_event_refill(struct store *st, store_tx *tx, int64_t id);
/* CUSTOMER_ID's balance, just lowered by DEBITED (> 0), if it crossed an
 * endpoint's threshold. */
int store_core_event_balance(struct store *st, store_tx *tx,
                             int64_t customer_id, money_t debited);

/* store_refill_update, for every backend: the status, and with events on
 * its refill.status event, in one transaction. */
enum store_result store_core_refill_update(struct store *st, int64_t id,
                                           const char *state,
                                           const char *upstream_refill,
                                           const char *status);

/* An order row of ORDER_COLS from column 0, through D's accessors. */
void store_core_read_order(const struct store_driver *d, store_row *row,
                           struct order *o);
/* A customer row of CUSTOMER_COLS from column 0. */
void store_core_read_customer(const struct store_driver *d, store_row *row,
                              struct customer *c);

/*
 * check (SPEC section 6): the invariants are the core's, as queries both
 * backends run and messages both report; a backend adds only what is its
 * own (SQLite's integrity_check).
 */

/* A query whose rows each are a violation: column 0 an id, the rest
 * integers reported by their column names after MSG. */
struct store_invariant {
	const char *sql;
	const char *msg;
};
#define STORE_INVARIANT_COUNT 6
extern const struct store_invariant store_invariants[STORE_INVARIANT_COUNT];

/* The violations found so far, reported once the reading is over (a
 * PostgreSQL check may run again after a serialization failure). */
struct store_core_check {
	char **msgs;
	size_t n, cap;
};

void store_core_check_add(struct store_core_check *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A row of invariant INV: ID, then N columns NAMES[i]=VALS[i]. */
void store_core_check_row(struct store_core_check *c,
                          const struct store_invariant *inv, int64_t id, int n,
                          const char *const *names, const int64_t *vals);
/* The refund rules on one order: never above the charge, and what its
 * final state says. */
void store_core_check_order(struct store_core_check *c, int decimals,
                            const struct order *o);
/* Forget the violations found (a check starting again). */
void store_core_check_clear(struct store_core_check *c);
/* Report the violations to REPORT and free them: their number, or -1 (and
 * nothing reported) when FAILED. */
int store_core_check_done(struct store_core_check *c, int failed,
                          store_report_cb report, void *arg);

#endif
