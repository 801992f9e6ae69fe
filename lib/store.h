/* store.h - the persistent state behind panelmux: customers, the ledger,
 * orders, refills, the service catalogue and upstream state.
 *
 * The store is an interface: a function table that a backend fills in
 * (store_sqlite.c, store_pg.c).  Callers use only the wrappers below.
 * Calls read as synchronous; every write is one durable transaction (SQLite:
 * WAL, synchronous=FULL; PostgreSQL: its commit) that has committed when the
 * call returns STORE_OK.  A backend that waits on a network (PostgreSQL) sets
 * store.async once attached to the daemon's loop: its calls made on a fiber
 * (lib/fiber.h) park that fiber while the database works, so the loop never
 * blocks; the daemon runs its store-touching callbacks on fibers then.
 *
 * Money is money_t (lib/money.h) everywhere.  Strings in result structs are
 * copied into fixed buffers, so results own nothing and need no freeing.
 */
#ifndef PANELMUX_STORE_H
#define PANELMUX_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "money.h"

struct config;

enum store_result {
	STORE_OK = 0,
	STORE_NOTFOUND, /* no such row */
	STORE_EXISTS,   /* unique name/request already there */
	STORE_NOFUNDS,  /* the debit would make a balance negative */
	STORE_CONFLICT, /* request_id reused with different parameters */
	STORE_LIMIT,    /* a deposit past STORE_BALANCE_MAX */
	STORE_LINK,     /* the same-link guard: an open order has the link */
	STORE_ERROR     /* I/O, corruption, busy past the timeout: logged */
};

/* The largest balance a deposit or adjustment may make: 10^10 units of the
 * panel's currency, far above any real balance and far below money_t's
 * limit, so refunds on top of it never overflow. */
#define STORE_BALANCE_MAX (INT64_C(10000000000) * MONEY_SCALE)

#define STORE_KEYHASH_LEN 32 /* SHA-256 of the API key */
#define STORE_NAME_MAX 64    /* customer names */
#define STORE_NOTE_MAX 256   /* ledger notes */
#define STORE_REQID_MAX 64   /* add request_id */
#define STORE_UPID_MAX 64    /* upstream order / refill IDs (opaque) */
#define STORE_UPNAME_MAX 32  /* upstream names */
#define STORE_PG_POOL 8      /* PostgreSQL connections per daemon */

/* Valid customer name: 1..64 of [A-Za-z0-9._@-]. */
int store_name_valid(const char *name);
/* Valid token (a request_id, a payment's reference): 1..MAX printable
 * ASCII bytes, no space. */
int store_token_valid(const char *s, size_t max);

struct customer {
	int64_t id;
	char name[STORE_NAME_MAX + 1];
	money_t balance;
	int disabled;
	int64_t created_at; /* unix seconds */
};

enum ledger_kind {
	LEDGER_DEPOSIT,   /* operator funding, amount > 0 */
	LEDGER_CHARGE,    /* order charge, amount < 0 */
	LEDGER_REFUND,    /* order refund, amount > 0 */
	LEDGER_ADJUSTMENT /* operator withdrawal or correction, either sign */
};
const char *ledger_kind_name(enum ledger_kind k);

enum order_state {
	ORDER_QUEUED,  /* charged, not yet sent */
	ORDER_SENDING, /* durably marked just before the request left */
	ORDER_ACTIVE,  /* upstream order ID known */
	ORDER_COMPLETED,
	ORDER_PARTIAL,
	ORDER_CANCELED,
	ORDER_REFUNDED,
	ORDER_REJECTED /* every route refused it definitely; refunded */
};
#define ORDER_STATE_COUNT 8
const char *order_state_name(enum order_state s);
int order_state_parse(const char *s); /* -1 if unknown */
int order_state_final(enum order_state s);

/* What order_create needs: the charge is debited and the order row created
 * in one transaction. */
struct order_new {
	int64_t customer_id;
	int64_t service_id;        /* local service ID */
	const char *type;          /* order type ("Default", "Package", ...) */
	int64_t quantity;          /* as charged (comment lines for comments) */
	int64_t upstream_quantity; /* what the upstream counts remains in */
	int64_t runs;              /* drip-feed runs, 0 if none */
	int64_t interval;          /* drip-feed interval minutes, 0 if none */
	money_t rate;              /* marked-up rate per 1000 applied */
	money_t charge;            /* > 0 */
	const char *fields; /* JSON object of the type's fields to forward */
	const char *request_id; /* NULL or the customer's idempotency token */
	const uint8_t
	    *request_hash;    /* STORE_KEYHASH_LEN bytes, with request_id */
	const char *upstream; /* first route entry */
	int64_t upstream_service;
	int route_idx;
	int sending; /* create it 'sending': its route is tried at once */
	/* The same-link guard (DESIGN.md): the normalised link, NULL for
	 * none.  LINK_REROUTE 0: refused (STORE_LINK, nothing debited) while
	 * an open order of the service has it; 1: created on the first of the
	 * NALT upstreams ALT_UPSTREAMS (with ALT_SERVICES, route order;
	 * UPSTREAM and UPSTREAM_SERVICE are the first) with no open order of
	 * the service for it, its index in *ALT_CHOSEN; STORE_LINK when none
	 * is free. */
	const char *link_key;
	int link_reroute;
	const char *const *alt_upstreams;
	const int64_t *alt_services;
	size_t nalt;
	int *alt_chosen;
};

struct order {
	int64_t id;
	int64_t customer_id;
	int64_t service_id;
	char type[32];
	enum order_state state;
	int64_t quantity, runs, interval;
	/* The quantity as the upstream counts it: remains are reported, and
	 * a Partial is refunded, against it (ordertype.h, per type). */
	int64_t upstream_quantity;
	money_t rate, charge, refunded;
	char upstream[STORE_UPNAME_MAX + 1];
	int64_t upstream_service;
	int route_idx;
	char upstream_order[STORE_UPID_MAX + 1]; /* "" until known */
	money_t cost;        /* what the upstream charged, panel currency */
	int64_t start_count; /* -1 unknown */
	int64_t remains;     /* -1 unknown */
	char upstream_status[32];
	int64_t created_at, updated_at;
	int64_t polled_at; /* unix ms of the last status read, 0 never */
	/* The timeline (unix s, 0 not yet): first marked for sending,
	 * accepted upstream, first seen in progress, settled. */
	int64_t sent_at, accepted_at, progress_at, settled_at;
};

/* One service of an upstream's stored catalogue, as the store keeps it
 * whoever read the list (lib/panel.c converts an upstream's reply). */
struct store_service_row {
	int64_t id;
	char *name;        /* never NULL */
	char *type;        /* never NULL */
	char *category;    /* never NULL; "" if none */
	char *description; /* NULL if none */
	char *refill_time; /* NULL if none */
	money_t rate;      /* per 1000, upstream currency */
	int64_t min, max;
	int refill, cancel; /* 1, 0, or -1 unknown */
	int dripfeed;
};

/* A stored catalogue: N rows in the list's order.  Loaded rows own their
 * strings (store_service_rows_free); rows given to catalog_replace are
 * only read. */
struct store_service_rows {
	struct store_service_row *v;
	size_t n;
};
/* Free ROWS' strings and array; zeroes it (a second call is harmless). */
void store_service_rows_free(struct store_service_rows *rows);

/* What the daemon last knew of an upstream, for `panelmux upstream list`. */
struct upstream_state {
	char name[STORE_UPNAME_MAX + 1];
	int has_balance;
	money_t balance;
	char currency[16];
	int64_t balance_at; /* unix seconds, 0 never */
	int64_t synced_at;  /* last good services import, 0 never */
	int64_t services;   /* services in that import */
	char circuit[16];   /* "closed", "open", "half-open" */
	int multi_ok;       /* 0 once the panel refused multi calls */
	int64_t updated_at;
};

/* A status reply for one order, applied by order_status. */
struct order_update {
	const char *status;  /* the upstream's word, normalised; NULL keeps */
	int64_t start_count; /* -1 unknown */
	int64_t remains;     /* -1 unknown; else in [0, upstream_quantity] */
	money_t cost;        /* what the upstream charged, panel currency;
	                      * -1 unknown */
	int final_state;     /* ORDER_COMPLETED.. to settle, or -1 (open) */
	int notify;          /* what the customer sees changed: an order.status
	                      * event (a settlement always makes one) */
};

/* Filters for order_list; zero/NULL/-1 fields do not filter. */
struct order_filter {
	int state; /* enum order_state or -1 */
	int64_t customer_id;
	const char *upstream;
	int64_t polled_before; /* polled_at < this (unix ms) */
	int64_t limit;         /* 0: no limit */
};

/* A page of a poll cycle: F's orders (F->polled_before set) after
 * (AFTER_POLLED, AFTER_ID) in (polled_at, id) order. */
struct poll_page {
	struct order_filter f;
	int64_t after_polled, after_id;
};

struct refill {
	int64_t id;
	int64_t order_id;
	int64_t customer_id;
	char state[16]; /* queued, sending, active, final, rejected */
	char upstream[STORE_UPNAME_MAX + 1];
	char upstream_refill[STORE_UPID_MAX + 1];
	char status[32];
	int64_t created_at, updated_at;
};

/* One row of the operator's report. */
struct report_row {
	char upstream[STORE_UPNAME_MAX + 1];
	int64_t service_id;
	int64_t orders;
	money_t charged;  /* charges */
	money_t refunded; /* refunds */
	money_t cost;     /* upstream cost, where known */
};

/*
 * The operator's data (the admin API and the CLI, lib/ops.h): payments in
 * the ledger with their references, operator keys, the audit trail, and
 * pages of customers, orders and ledger entries.
 */
#define STORE_METHOD_MAX 64  /* a payment's method ("PayPal") */
#define STORE_REF_MAX 64     /* a payment's external reference */
#define STORE_ACTOR_MAX 80   /* "cli" or "admin:NAME" */
#define STORE_AUDIT_MAX 1024 /* an audit entry's detail and result */
#define STORE_PAGE_MAX 1000  /* rows of one page */
#define STORE_PAGE_IDS 100   /* services in an order page's filter */

/* One ledger entry.  Payments (operator deposits and adjustments) carry
 * METHOD, EXTERNAL_ID and ACTOR; order money carries ORDER_ID. */
struct ledger_entry {
	int64_t id;
	int64_t customer_id;
	char customer[STORE_NAME_MAX + 1]; /* pages only: the name */
	enum ledger_kind kind;
	money_t amount;
	int64_t order_id; /* 0: none */
	char note[STORE_NOTE_MAX + 1];
	char method[STORE_METHOD_MAX + 1];
	char external_id[STORE_REF_MAX + 1]; /* "" none */
	char actor[STORE_ACTOR_MAX + 1];     /* "" for order money */
	int64_t created_at;
};

struct audit_entry;

/* A payment: AMOUNT > 0 credits (a deposit), < 0 deducts (an adjustment,
 * never below zero).  EXTERNAL_ID, the gateway's reference (NULL: none),
 * is taken once in the whole store. */
struct payment_new {
	int64_t customer_id;
	money_t amount;
	const char *method;      /* NULL ok */
	const char *note;        /* NULL ok */
	const char *external_id; /* NULL ok */
	const char *actor;
	/* NULL, or the audit entry written in the same transaction when the
	 * payment is (not when it is refused or a duplicate). */
	const struct audit_entry *audit;
};

struct admin_key {
	int64_t id;
	char name[STORE_NAME_MAX + 1];
	int read_only;
	int64_t created_at;
	int64_t revoked_at; /* 0: active */
};

struct audit_entry {
	int64_t id;
	int64_t created_at;
	char actor[STORE_ACTOR_MAX + 1];
	char action[32];
	char target[STORE_NAME_MAX + 32];
	char detail[STORE_AUDIT_MAX + 1]; /* JSON text */
	char result[STORE_AUDIT_MAX + 1]; /* "ok" or the refusal */
};

/* Pages: LIMIT (1..STORE_PAGE_MAX) rows from OFFSET; zero/NULL/-1 fields
 * do not filter. */
struct customer_page {
	int64_t id;
	const char *name;
	int disabled; /* 0 active, 1 disabled, -1 any */
	int64_t limit, offset;
};
struct order_page {
	int state; /* enum order_state or -1 */
	int64_t customer_id;
	const int64_t *services; /* NSERVICES (<= STORE_PAGE_IDS) IDs */
	size_t nservices;
	const char *upstream;
	const char *link; /* the forwarded link contains it (bytes), or NULL */
	int64_t created_from, created_to; /* unix s, [from, to); 0 open */
	int ascending;                    /* oldest first; else newest */
	/* Keyset paging: only IDs below BEFORE_ID / above AFTER_ID (0: no
	 * bound).  A deep page costs what the first one does, where OFFSET
	 * walks every row it skips. */
	int64_t before_id, after_id;
	int64_t limit, offset;
};
struct ledger_page {
	int64_t customer_id;
	int64_t order_id;
	int payments; /* only deposits and adjustments */
	int64_t limit, offset;
};
struct audit_page {
	const char *actor;
	int64_t limit, offset;
};

typedef int (*store_page_order_cb)(const struct order *, const char *customer,
                                   void *arg);
typedef int (*store_ledger_cb)(const struct ledger_entry *, void *arg);
typedef int (*store_admin_key_cb)(const struct admin_key *, void *arg);
typedef int (*store_audit_cb)(const struct audit_entry *, void *arg);

typedef int (*store_order_cb)(const struct order *, void *arg);
typedef int (*store_report_row_cb)(const struct report_row *, void *arg);

struct store_ops;
struct store_driver;
struct event_base;
struct store {
	const struct store_ops *ops;
	const struct store_driver *drv; /* the core's primitives
	                                 * (store_core.h) */
	int decimals;                   /* money.decimals of its amounts */
	int async;  /* calls may park the calling fiber (see above) */
	int shared; /* several instances may use the data: claims mark rows */
	int events; /* write webhook events (webhooks.enabled) */
};

typedef int (*store_customer_cb)(const struct customer *, void *arg);
/* Called once per invariant violation found by check. */
typedef void (*store_report_cb)(const char *what, void *arg);

struct store_ops {
	const char *name;
	void (*close)(struct store *);

	enum store_result (*customer_add)(struct store *, const char *name,
	                                  const uint8_t *key_hash, int64_t *id);
	enum store_result (*customer_set_key)(struct store *, const char *name,
	                                      const uint8_t *key_hash);
	enum store_result (*customer_by_key)(struct store *,
	                                     const uint8_t *key_hash,
	                                     struct customer *out);
	enum store_result (*customer_by_name)(struct store *, const char *name,
	                                      struct customer *out);
	enum store_result (*customer_set_disabled)(struct store *,
	                                           const char *name,
	                                           int disabled);
	int (*customer_list)(struct store *, store_customer_cb cb, void *arg);

	/* Group commit: N order_create in one transaction; RES[i] and
	 * IDS[i] as order_create answers for V[i].  On an error nothing is
	 * written and every order that would have been created is
	 * STORE_ERROR. */
	enum store_result (*order_create_many)(struct store *,
	                                       const struct order_new *v,
	                                       size_t n, enum store_result *res,
	                                       int64_t *ids);
	/* N order_active in one transaction. */
	enum store_result (*order_active_many)(
	    struct store *, const int64_t *ids,
	    const char *const *upstream_orders, const money_t *costs, size_t n,
	    enum store_result *res);
	/* Both of a loop pass's groups in one transaction (one durable
	 * commit, not two), answering as order_create_many and
	 * order_active_many would; the acceptances never fail with the adds.
	 * NULL: store_order_group makes the two calls.  These three commit,
	 * but may be on disk only once store_durable says so: their caller
	 * answers nobody and sends nothing on their strength before. */
	enum store_result (*order_group)(struct store *,
	                                 const struct order_new *v, size_t n,
	                                 enum store_result *res, int64_t *ids,
	                                 const int64_t *act_ids,
	                                 const char *const *upstream_orders,
	                                 const money_t *costs, size_t nact,
	                                 enum store_result *act_res);
	enum store_result (*order_get)(struct store *, int64_t id,
	                               struct order *out);
	/* Up to 100 orders at once: FOUND[i] is 1 and OUT[i] filled when
	 * IDS[i] exists. */
	enum store_result (*order_get_many)(struct store *, const int64_t *ids,
	                                    size_t n, struct order *out,
	                                    int *found);

	/* Order transitions, each one durable transaction.  STORE_CONFLICT:
	 * the order is not in a state the transition starts from. */
	/* Mark on ROUTE before the request leaves: queued -> sending, or
	 * with HELD (the caller marked it already and still holds it)
	 * sending -> sending.  The conditional move from queued is the claim
	 * that makes one instance, one job, the order's only sender. */
	enum store_result (*order_sending)(struct store *, int64_t id,
	                                   int route_idx, const char *upstream,
	                                   int64_t upstream_service, int held);
	/* sending -> queued: the request provably never left. */
	enum store_result (*order_unsent)(struct store *, int64_t id);
	/* The forwarded fields of order ID (a JSON object); free(*json). */
	enum store_result (*order_fields)(struct store *, int64_t id,
	                                  char **json);
	/* Mark orders as just polled (NOW in unix ms). */
	enum store_result (*order_polled)(struct store *, const int64_t *ids,
	                                  size_t n, int64_t now_ms);
	/* Optional (NULL: every write commits on its own).  See
	 * store_group_begin. */
	int (*group_begin)(struct store *);
	int (*group_end)(struct store *);
	/* Optional: see store_order_poll_page. */
	int64_t (*order_poll_page)(struct store *, const struct poll_page *p,
	                      store_order_cb cb, void *arg);
	/* Orders matching F, oldest poll first for F->polled_before, else by
	 * id; CB returning non-zero stops.  Count, or -1. */
	int64_t (*order_list)(struct store *, const struct order_filter *f,
	                      store_order_cb cb, void *arg);
	/* Claim up to F->limit (> 0) orders in F->state whose polled_at is
	 * before F->polled_before (optionally of F->upstream), oldest first:
	 * their polled_at becomes NOW_MS in the same transaction, rows
	 * another instance is claiming are skipped (PostgreSQL: FOR UPDATE
	 * SKIP LOCKED), and CB sees each claimed order.  Count, or -1.
	 * A backend only one instance uses (store.shared == 0: SQLite) has
	 * nothing to claim against: it lists and marks nothing. */
	int64_t (*order_claim)(struct store *, const struct order_filter *f,
	                       int64_t now_ms, store_order_cb cb, void *arg);
	/* Orders per state (ORDER_STATE_COUNT counters). */
	enum store_result (*order_counts)(struct store *, int64_t *counts);

	enum store_result (*refill_add)(struct store *, int64_t order_id,
	                                int64_t customer_id,
	                                const char *upstream, int64_t *id);
	enum store_result (*refill_get)(struct store *, int64_t id,
	                                struct refill *out);

	/* Sums of the ledger by kind (LEDGER_* order, 4 values). */
	enum store_result (*ledger_totals)(struct store *, money_t *totals);
	/* Revenue, refunds and upstream cost per upstream and service. */
	int (*report)(struct store *, store_report_row_cb cb, void *arg);

	/* Replace UPSTREAM's stored services list with LIST in one
	 * transaction (the last known catalogue survives restarts). */
	enum store_result (*catalog_replace)(
	    struct store *, const char *upstream,
	    const struct store_service_rows *list);
	/* Load UPSTREAM's stored list into OUT (store_service_rows_free it);
	 * an empty list when none is stored. */
	enum store_result (*catalog_load)(struct store *, const char *upstream,
	                                  struct store_service_rows *out);
	enum store_result (*upstream_state_put)(struct store *,
	                                        const struct upstream_state *s);
	enum store_result (*upstream_state_get)(struct store *,
	                                        const char *name,
	                                        struct upstream_state *out);

	/* Verify SPEC section 6's invariants; REPORT is called once per
	 * violation.  Returns the number of violations, or -1 on error. */
	int (*check)(struct store *, store_report_cb report, void *arg);

	/* Optional: from now on work on BASE's loop (store.async).  */
	int (*attach)(struct store *, struct event_base *base);
	/* Optional (NULL: every commit is durable when it returns): call
	 * DONE(ARG) on the loop once every commit made so far is on disk
	 * (SQLite attached: the order group's WAL sync, on a thread); and,
	 * off the loop, make them so now and run the callbacks waiting. */
	void (*durable)(struct store *, void (*done)(void *), void *arg);
	void (*durable_now)(struct store *);
	/* Optional: calls that had to block the loop since start (made
	 * off a fiber while attached): 0 is the design. */
	uint64_t (*blocking_calls)(struct store *);
	/* UPSTREAM's catalogue generation (0 before the first bump): a
	 * counter whoever saves a list with catalog_replace moves with
	 * catalog_bump once the save committed, and a running daemon
	 * compares with the one its list came with, to see saves by the CLI
	 * or another instance.  catalog_bump returns the new value.  Both
	 * optional (NULL: no generations kept; a save elsewhere shows at the
	 * daemon's own next sync). */
	enum store_result (*catalog_generation)(struct store *,
	                                        const char *upstream,
	                                        int64_t *gen);
	enum store_result (*catalog_bump)(struct store *, const char *upstream,
	                                  int64_t *gen);
};

/* ops->order_group, or order_create_many then order_active_many. */
void store_order_group(struct store *st, const struct order_new *v, size_t n,
                       enum store_result *res, int64_t *ids,
                       const int64_t *act_ids,
                       const char *const *upstream_orders, const money_t *costs,
                       size_t nact, enum store_result *act_res);

/* For backends: the refund a final state owes (SPEC section 6): none for
 * Completed, the charge for Canceled/Refunded/Rejected, and for Partial
 * floor(charge x remains / upstream_quantity) rounded down to DECIMALS,
 * REMAINS clamped to [0, UPSTREAM_QUANTITY] (the unit the upstream reports
 * remains in: ordertype.h).  -1 if it cannot be computed. */
int store_refund_for(int decimals, enum order_state final, money_t charge,
                     int64_t upstream_quantity, int64_t remains,
                     money_t *refund);

/* For backends: 0 if STORED, the money.decimals recorded in the store, is
 * DECIMALS; else -1 with the reason logged.  Balances and charges are
 * multiples of 10^-decimals: another value would strand them and make
 * check report false violations, so a store is never used with another
 * one (converting is not offered). */
int store_decimals_agree(const char *stored, int decimals);

/* For check: the refund order O must have received by its state (0 for an
 * open order).  -1 for a Partial whose remains are unknown or outside
 * [0, O->upstream_quantity]. */
int store_refund_expected(int decimals, const struct order *o, money_t *want);

/* Open the backend CFG names, create or migrate its schema, and verify it is
 * durable.  NULL on failure, with the reason logged. */
struct store *store_open(const struct config *cfg);
/* SQLite at PATH directly (tests, tools); DECIMALS as money.decimals. */
struct store *store_sqlite_open(const char *path, int decimals);
/* PostgreSQL by libpq CONNINFO, up to POOL connections (daemon); tools and
 * tests use it as a synchronous client until store_attach. */
struct store *store_pg_open(const char *conninfo, int decimals, int pool);

static inline int
store_attach(struct store *st, struct event_base *base)
{
	return st->ops->attach != NULL ? st->ops->attach(st, base) : 0;
}

static inline void
store_durable(struct store *st, void (*done)(void *), void *arg)
{
	if (st->ops->durable != NULL)
		st->ops->durable(st, done, arg);
	else
		done(arg);
}

static inline void
store_durable_now(struct store *st)
{
	if (st->ops->durable_now != NULL)
		st->ops->durable_now(st);
}

static inline uint64_t
store_blocking_calls(struct store *st)
{
	return st->ops->blocking_calls != NULL ? st->ops->blocking_calls(st)
	                                       : 0;
}

/* ops->catalog_generation / catalog_bump, or STORE_ERROR when the backend
 * keeps no generations. */
static inline enum store_result
store_catalog_generation(struct store *st, const char *upstream, int64_t *gen)
{
	return st->ops->catalog_generation != NULL
	           ? st->ops->catalog_generation(st, upstream, gen)
	           : STORE_ERROR;
}

static inline enum store_result
store_catalog_bump(struct store *st, const char *upstream, int64_t *gen)
{
	return st->ops->catalog_bump != NULL
	           ? st->ops->catalog_bump(st, upstream, gen)
	           : STORE_ERROR;
}

static inline void
store_close(struct store *st)
{
	if (st != NULL)
		st->ops->close(st);
}

/*
 * The calls.  Each answers as the store_ops entry of the same name
 * describes; the ones below without an entry are the core's rules
 * (store_core.c) over the backend's driver.
 */
enum store_result store_customer_add(struct store *st, const char *name,
                                     const uint8_t *key_hash, int64_t *id);
enum store_result store_customer_set_key(struct store *st, const char *name,
                                         const uint8_t *key_hash);
enum store_result store_customer_by_key(struct store *st,
                                        const uint8_t *key_hash,
                                        struct customer *out);
enum store_result store_customer_by_name(struct store *st, const char *name,
                                         struct customer *out);
enum store_result store_customer_set_disabled(struct store *st,
                                              const char *name, int disabled);
int store_customer_list(struct store *st, store_customer_cb cb, void *arg);

/* A balance change by the operator: DEPOSIT (> 0) or ADJUSTMENT.
 * STORE_NOFUNDS if it would take the balance below zero, STORE_LIMIT past
 * STORE_BALANCE_MAX; STORE_ERROR for order money (charges and refunds move
 * through orders) or a zero amount. */
enum store_result store_ledger_post(struct store *st, int64_t customer_id,
                                    enum ledger_kind kind, money_t amount,
                                    const char *note, money_t *new_balance);

/* The debit primitive: one conditional write (balance >= charge) inside
 * the transaction that creates the order as ORDER_QUEUED (ORDER_SENDING
 * with O->sending) and its CHARGE ledger entry.  STORE_NOFUNDS: nothing
 * written; STORE_CONFLICT for a free order.  With a request_id already used
 * by this customer: STORE_EXISTS and *id is the first order (same hash), or
 * STORE_CONFLICT (other hash).  order_create_many of one. */
enum store_result store_order_create(struct store *st,
                                     const struct order_new *o, int64_t *id);
enum store_result store_order_create_many(struct store *st,
                                          const struct order_new *v, size_t n,
                                          enum store_result *res, int64_t *ids);
enum store_result store_order_active_many(struct store *st, const int64_t *ids,
                                          const char *const *upstream_orders,
                                          const money_t *costs, size_t n,
                                          enum store_result *res);
enum store_result store_order_get(struct store *st, int64_t id,
                                  struct order *out);
enum store_result store_order_get_many(struct store *st, const int64_t *ids,
                                       size_t n, struct order *out, int *found);
enum store_result store_order_sending(struct store *st, int64_t id,
                                      int route_idx, const char *upstream,
                                      int64_t upstream_service, int held);
enum store_result store_order_unsent(struct store *st, int64_t id);
/* sending -> active with the upstream's order ID: order_active_many of
 * one. */
enum store_result store_order_active(struct store *st, int64_t id,
                                     const char *upstream_order, money_t cost);
/* queued or sending -> rejected, with the full refund. */
enum store_result store_order_reject(struct store *st, int64_t id,
                                     const char *why);
/* Apply a status read from the upstream to an open order; a final state
 * settles the money (its refund) in the same transaction, exactly once: a
 * final order is never changed again. */
enum store_result store_order_status(struct store *st, int64_t id,
                                     const struct order_update *u);
/* The operator settles an order in doubt (left sending): with UPSTREAM_ORDER it
 * becomes active, with NULL it is refunded. */
enum store_result store_order_resolve(struct store *st, int64_t id,
                                      const char *upstream_order);
enum store_result store_order_fields(struct store *st, int64_t id, char **json);
enum store_result store_order_polled(struct store *st, const int64_t *ids,
                                     size_t n, int64_t now_ms);
/* A group of writes with one commit: until store_group_end, each write is
 * all-or-nothing on its own but made durable only by the group's end (on
 * SQLite one WAL fsync for the lot; a backend without groups commits each
 * write as always).  The caller must not yield to the loop in between nor
 * answer anyone on the strength of a write before store_group_end (the
 * poller's answers: a batch of 100 statuses).  0, or -1 (no group: the
 * writes commit one by one).  store_group_end: 0 committed, -1 lost (the
 * writes are not in the store). */
int store_group_begin(struct store *st);
int store_group_end(struct store *st);
/* 1 if ST has groups (its calls never park a fiber: SQLite), else 0. */
int store_has_groups(const struct store *st);
/* The orders of page P, as order_list would list them (count, or -1);
 * -2 if the store has none (a shared store: its claims mark rows). */
int64_t store_order_poll_page(struct store *st, const struct poll_page *p,
                              store_order_cb cb, void *arg);
/* 1 if ST's poll cycles can go in pages (store_order_poll_page): it has
 * them and one instance owns it (not shared). */
int store_has_poll_pages(const struct store *st);
int64_t store_order_list(struct store *st, const struct order_filter *f,
                         store_order_cb cb, void *arg);
int64_t store_order_claim(struct store *st, const struct order_filter *f,
                          int64_t now_ms, store_order_cb cb, void *arg);
enum store_result store_order_counts(struct store *st, int64_t *counts);

enum store_result store_refill_add(struct store *st, int64_t order_id,
                                   int64_t customer_id, const char *upstream,
                                   int64_t *id);
enum store_result store_refill_update(struct store *st, int64_t id,
                                      const char *state,
                                      const char *upstream_refill,
                                      const char *status);
enum store_result store_refill_get(struct store *st, int64_t id,
                                   struct refill *out);
/* When the last refill of order ORDER_ID that its upstream did not refuse
 * was asked (unix s; 0 none). */
enum store_result store_refill_last(struct store *st, int64_t order_id,
                                    int64_t *created_at);

enum store_result store_ledger_totals(struct store *st, money_t *totals);
int store_report(struct store *st, store_report_row_cb cb, void *arg);

enum store_result store_catalog_replace(struct store *st, const char *upstream,
                                        const struct store_service_rows *list);
enum store_result store_catalog_load(struct store *st, const char *upstream,
                                     struct store_service_rows *out);
enum store_result store_upstream_state_put(struct store *st,
                                           const struct upstream_state *s);
enum store_result store_upstream_state_get(struct store *st, const char *name,
                                           struct upstream_state *out);
int store_check(struct store *st, store_report_cb report, void *arg);

/* A payment (struct payment_new) in one transaction: the balance, its
 * ledger entry and the reference.  STORE_OK: *OUT is the new entry and
 * *BALANCE the balance after it.  With a reference already taken: the
 * first payment in *OUT and the customer's balance now, and STORE_EXISTS
 * when it was for the same customer and amount, STORE_CONFLICT when not;
 * nothing written either way, whoever raced whom.  STORE_NOTFOUND (no such
 * customer), STORE_NOFUNDS, STORE_LIMIT as store_ledger_post. */
enum store_result store_payment_add(struct store *st,
                                    const struct payment_new *p,
                                    struct ledger_entry *out, money_t *balance);
/* Pages: the rows' count, or -1.  Customers by id; orders newest first
 * unless F->ascending; ledger entries and audit entries newest first.  CB
 * returning non-zero stops. */
int64_t store_customer_page(struct store *st, const struct customer_page *f,
                            store_customer_cb cb, void *arg);
int64_t store_order_page(struct store *st, const struct order_page *f,
                         store_page_order_cb cb, void *arg);
int64_t store_ledger_page(struct store *st, const struct ledger_page *f,
                          store_ledger_cb cb, void *arg);
/* Operator keys: NAME is unique among active keys (STORE_EXISTS); a
 * revoked key is never found again (STORE_NOTFOUND). */
enum store_result store_admin_key_add(struct store *st, const char *name,
                                      const uint8_t *key_hash, int read_only);
enum store_result store_admin_key_by_hash(struct store *st,
                                          const uint8_t *key_hash,
                                          struct admin_key *out);
enum store_result store_admin_key_revoke(struct store *st, const char *name);
int64_t store_admin_key_list(struct store *st, store_admin_key_cb cb,
                             void *arg);
/* Per upstream, for monitoring: its active orders, the oldest poll among
 * them (unix ms; 0 if one was never polled), and the upstream cost of all
 * its orders (where known).  Rows, or -1. */
struct upstream_usage {
	char upstream[STORE_UPNAME_MAX + 1];
	int64_t active;
	int64_t oldest_poll_ms;
	money_t cost;
};
typedef int (*store_usage_cb)(const struct upstream_usage *, void *arg);
int64_t store_upstream_usage(struct store *st, store_usage_cb cb, void *arg);
/* Orders created from FROM (unix s) in buckets of BUCKET seconds (3600:
 * hours, 86400: UTC days), oldest first: their count, charges net of
 * refunds, and upstream cost where known.  Rows, or -1. */
struct order_bucket {
	int64_t start; /* unix s */
	int64_t orders;
	money_t revenue, cost;
};
typedef int (*store_bucket_cb)(const struct order_bucket *, void *arg);
int64_t store_order_buckets(struct store *st, int64_t from, int64_t bucket,
                            store_bucket_cb cb, void *arg);
enum store_result store_audit_add(struct store *st,
                                  const struct audit_entry *e);
int64_t store_audit_page(struct store *st, const struct audit_page *f,
                         store_audit_cb cb, void *arg);

/*
 * Customers' webhooks (lib/webhook.h) and their outbox.  An event is one
 * row per endpoint that wants it, written in the transaction of the change
 * it reports (store.events), carrying what the customer sees of the order
 * then; deliveries claim due rows, and acknowledge, retry or dead-letter
 * them.
 */
#define WEBHOOK_EV_ACCEPTED 0x1u /* order.accepted */
#define WEBHOOK_EV_STATUS 0x2u   /* order.status */
#define WEBHOOK_EV_REFILL 0x4u   /* refill.status */
#define WEBHOOK_EV_BALANCE 0x8u  /* balance.low */
#define WEBHOOK_EV_ALL 0xfu
#define STORE_URL_MAX 1024
#define STORE_SECRET_MAX 80

struct webhook_endpoint {
	int64_t id;
	int64_t customer_id;
	char customer[STORE_NAME_MAX + 1]; /* lists only */
	char url[STORE_URL_MAX + 1];
	unsigned events; /* WEBHOOK_EV_* bits */
	char secret[STORE_SECRET_MAX + 1];
	char old_secret[STORE_SECRET_MAX + 1]; /* "" none */
	int64_t old_until;                     /* unix s the old one signs to */
	money_t balance_below;                 /* -1: no threshold */
	int64_t created_at;
	int64_t pending, dead; /* lists only: its events */
};

struct webhook_event {
	int64_t id;
	int64_t endpoint_id;
	int64_t customer_id;
	unsigned type; /* one WEBHOOK_EV_* bit */
	/* order.*: the order as it was (id, state, upstream_status, charge,
	 * refunded, start_count, remains, upstream_quantity); refill.status:
	 * REFILL_ID and STATUS of refill ID, of order ORDER.ID. */
	struct order order;
	int64_t refill_id;
	char status[32];
	money_t balance, threshold; /* balance.low */
	int64_t created_at;         /* unix s */
	int64_t attempts;           /* tries started, this one included */
	char last_error[160];
	/* Claims only: where it goes and how it is signed. */
	char url[STORE_URL_MAX + 1];
	char secret[STORE_SECRET_MAX + 1];
	char old_secret[STORE_SECRET_MAX + 1];
	int64_t old_until;
};

typedef int (*store_webhook_cb)(const struct webhook_endpoint *, void *arg);
typedef int (*store_event_cb)(const struct webhook_event *, void *arg);

/* Register E (its customer_id, url, events, secret, balance_below):
 * STORE_OK with *ID, STORE_NOTFOUND without such a customer. */
enum store_result store_webhook_add(struct store *st,
                                    const struct webhook_endpoint *e,
                                    int64_t *id);
enum store_result store_webhook_get(struct store *st, int64_t id,
                                    struct webhook_endpoint *out);
/* The endpoint and every event of it go. */
enum store_result store_webhook_remove(struct store *st, int64_t id);
/* SECRET signs from now on, the current one too until OLD_UNTIL. */
enum store_result store_webhook_rotate(struct store *st, int64_t id,
                                       const char *secret, int64_t old_until);
/* Endpoints (of CUSTOMER_ID, or all with 0) by id: their count, or -1. */
int64_t store_webhook_list(struct store *st, int64_t customer_id,
                           store_webhook_cb cb, void *arg);
/* An endpoint's deliveries in flight, for a claim. */
struct webhook_busy {
	int64_t endpoint;
	int inflight;
};
/* Claim up to LIMIT (1..100) due events, oldest due first, each the
 * earliest pending one of its order to its endpoint, and no more of one
 * endpoint than make EACH in flight with those BUSY (NBUSY entries) says
 * it has: their next_at becomes NOW_MS + LEASE_MS and attempts grows by
 * one in the same transaction (PostgreSQL: rows another instance holds
 * are skipped), so an event in flight is claimed again only once its
 * lease ran out.  CB sees each.  The count, or -1. */
int64_t store_webhook_claim(struct store *st, int64_t now_ms, int64_t lease_ms,
                            int64_t limit, int each,
                            const struct webhook_busy *busy, size_t nbusy,
                            store_event_cb cb, void *arg);
/* What became of a try, for store_webhook_settle. */
struct webhook_outcome {
	int64_t id;
	int delivered;   /* acknowledged: the event goes */
	int dead;        /* else: dead-lettered, or tried again at NEXT_MS */
	int64_t next_ms;
	char why[160];
};
/* The outcomes of N tries in one transaction (a loop's worth of
 * deliveries, one commit).  An event no longer pending (removed with
 * its endpoint) is passed over. */
enum store_result store_webhook_settle(struct store *st,
                                       const struct webhook_outcome *v,
                                       size_t n);
/* Event ID was acknowledged: it goes. */
enum store_result store_webhook_delivered(struct store *st, int64_t id);
/* Event ID's try failed with WHY: tried again at NEXT_MS, or with DEAD
 * dead-lettered. */
enum store_result store_webhook_failed(struct store *st, int64_t id,
                                       int64_t next_ms, const char *why,
                                       int dead);
/* Dead letters, newest first (LIMIT 1..STORE_PAGE_MAX). */
int64_t store_webhook_dead(struct store *st, int64_t limit, store_event_cb cb,
                           void *arg);
/* Dead letter ID (0: every one) pending again, due at NOW_MS: the count. */
int64_t store_webhook_retry(struct store *st, int64_t id, int64_t now_ms);
/* Outbox gauges: pending and dead events, and the oldest pending event's
 * creation (unix s, 0 none). */
enum store_result store_webhook_counts(struct store *st, int64_t *pending,
                                       int64_t *dead, int64_t *oldest);

/* Event type names ("order.accepted", ...) and back (0 if unknown). */
const char *webhook_event_name(unsigned type);
unsigned webhook_event_parse(const char *name);

/*
 * Customers' own rates (lib/pricing.h): groups, membership, overrides.
 * Every write moves the pricing generation in its transaction.
 */
struct customer_group {
	int64_t id;
	char name[STORE_NAME_MAX + 1];
	money_t percent; /* negative: a discount */
	int64_t members;
	int64_t created_at;
};
struct customer_rate {
	int64_t customer_id;
	char customer[STORE_NAME_MAX + 1];
	int64_t service_id;
	int fixed;     /* VALUE is the rate per 1000 */
	money_t value; /* else VALUE percent off */
	int64_t created_at;
};
struct pricing;
typedef int (*store_group_cb)(const struct customer_group *, void *arg);
typedef int (*store_rate_cb)(const struct customer_rate *, void *arg);

/* STORE_EXISTS: the name is taken. */
enum store_result store_group_add(struct store *st, const char *name,
                                  money_t percent);
enum store_result store_group_set(struct store *st, const char *name,
                                  money_t percent);
/* STORE_CONFLICT while it has members. */
enum store_result store_group_remove(struct store *st, const char *name);
int64_t store_group_list(struct store *st, store_group_cb cb, void *arg);
/* Customer CID into group NAME (NULL: out of any).  STORE_NOTFOUND: no
 * such group. */
enum store_result store_customer_set_group(struct store *st, int64_t cid,
                                           const char *name);
/* CID's group (*OUT.id 0: none). */
enum store_result store_customer_group(struct store *st, int64_t cid,
                                       struct customer_group *out);
/* Set (insert or replace) or remove CID's override of SERVICE_ID. */
enum store_result store_rate_set(struct store *st, int64_t cid,
                                 int64_t service_id, int fixed, money_t value);
enum store_result store_rate_remove(struct store *st, int64_t cid,
                                    int64_t service_id);
/* Overrides of CID (0: everyone's), by customer and service. */
int64_t store_rate_list(struct store *st, int64_t cid, store_rate_cb cb,
                        void *arg);
/* Every customer's rules into PR (made with pricing_new), and the
 * generation they were read at into PR->gen, in one snapshot. */
enum store_result store_pricing_load(struct store *st, struct pricing *pr);
enum store_result store_pricing_generation(struct store *st, int64_t *gen);

/*
 * The price-change log (store_prices.c): what each catalogue sync changed
 * per upstream service (lib/prices.h), written after the catalogue save.
 */
struct price_change;

/* One row of the log; cost and price fields PRICE_NONE (prices.h) where
 * they do not apply. */
struct price_entry {
	int64_t id;
	int64_t created_at; /* unix seconds */
	char upstream[STORE_UPNAME_MAX + 1];
	int64_t service;
	char kind[16]; /* "appeared", "dropped", "changed" */
	money_t cost_before, cost_after, price_before, price_after;
};
struct price_page {
	const char *upstream; /* NULL: every upstream */
	int64_t limit, offset;
	const char *kind; /* NULL: every kind; "changed", "appeared", "dropped" */
};
typedef int (*store_price_cb)(const struct price_entry *, void *arg);

/* Record UPSTREAM's N changes V in one transaction: STORE_OK (nothing
 * written when N is 0) or STORE_ERROR (nothing written). */
enum store_result store_price_record(struct store *st, const char *upstream,
                                     const struct price_change *v, size_t n);
/* The log newest first, filtered and paged by F (LIMIT 1..STORE_PAGE_MAX):
 * CB sees each row; the count, or -1. */
int64_t store_price_page(struct store *st, const struct price_page *f,
                         store_price_cb cb, void *arg);

#endif
