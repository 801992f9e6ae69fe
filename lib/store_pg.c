/* store_pg.c - the PostgreSQL backend of the store interface.
 *
 * Every call takes one connection from the pool (lib/pgpool.h), runs its
 * statements through pgpool_exec (which parks the calling fiber once the
 * pool is attached to the daemon's loop) and gives the connection back on
 * every path.  Writes of more than one statement run in one READ COMMITTED
 * transaction: the debit is one conditional UPDATE, exactly as in SQLite, so
 * nothing stronger is needed.  A transaction that fails on a serialization
 * failure or a deadlock is run again from the start.  Times are computed in
 * C, like store_sqlite.c does, so both backends write the same values.
 * Semantics, return codes and the schema follow store_sqlite.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "clock.h"
#include "fiber.h"
#include "log.h"
#include "money.h"
#include "pgpool.h"
#include "store.h"
#include "store_core.h"
#include "store_pg.h"
#include "xmalloc.h"

static const struct store_ops pg_ops;

static const char **
pg_slot(struct pgargs *a)
{
	if (a->n >= PG_MAXARGS)
		fatalx("store: postgres: too many statement parameters");
	return &a->v[a->n];
}

void
store_pg_arg_int(struct pgargs *a, int64_t v)
{
	const char **slot = pg_slot(a);

	snprintf(a->buf[a->n], sizeof(a->buf[0]), "%lld", (long long)v);
	*slot = a->buf[a->n++];
}

/* NULL is SQL NULL. */
void
store_pg_arg_str(struct pgargs *a, const char *s)
{
	*pg_slot(a) = s;
	a->n++;
}

/* A -1 (unknown) is SQL NULL, like sqlite_bind_int_or_null. */
void
store_pg_arg_int_or_null(struct pgargs *a, int64_t v)
{
	if (v >= 0)
		store_pg_arg_int(a, v);
	else
		store_pg_arg_str(a, NULL);
}

/* A STORE_KEYHASH_LEN-byte hash as bytea hex input; NULL is SQL NULL. */
void
store_pg_arg_hash(struct pgargs *a, const uint8_t *h)
{
	static const char hex[] = "0123456789abcdef";
	const char **slot = pg_slot(a);
	char *p = a->buf[a->n];

	if (h == NULL) {
		*slot = NULL;
		a->n++;
		return;
	}
	*p++ = '\\';
	*p++ = 'x';
	for (int i = 0; i < STORE_KEYHASH_LEN; i++) {
		*p++ = hex[h[i] >> 4];
		*p++ = hex[h[i] & 15];
	}
	*p = '\0';
	*slot = a->buf[a->n++];
}

/* IDS as a PostgreSQL array literal, "{1,2,3}" (free it). */
char *
store_pg_id_array(const int64_t *ids, size_t n)
{
	size_t size = n * 21 + 3, off = 0;
	char *s = xmalloc(size);

	s[off++] = '{';
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(s + off, size - off, "%s%lld",
		                        i > 0 ? "," : "", (long long)ids[i]);
	s[off++] = '}';
	s[off] = '\0';
	return s;
}

/* V as a PostgreSQL text array literal, each element quoted with its
 * quotes and backslashes escaped, a NULL pointer as NULL (free it). */
char *
store_pg_text_array(const char *const *v, size_t n)
{
	size_t size = 3, off = 0;
	char *s;

	for (size_t i = 0; i < n; i++)
		size += v[i] == NULL ? 5 : 2 * strlen(v[i]) + 3;
	s = xmalloc(size);
	s[off++] = '{';
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			s[off++] = ',';
		if (v[i] == NULL) {
			memcpy(s + off, "NULL", 4);
			off += 4;
			continue;
		}
		s[off++] = '"';
		for (const char *c = v[i]; *c != '\0'; c++) {
			if (*c == '"' || *c == '\\')
				s[off++] = '\\';
			s[off++] = *c;
		}
		s[off++] = '"';
	}
	s[off++] = '}';
	s[off] = '\0';
	return s;
}

static int
pg_sqlstate_is(const PGresult *res, const char *code)
{
	const char *s = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return s != NULL && strcmp(s, code) == 0;
}

/* Run one statement on T's connection.  The result (PQclear it) when it
 * succeeded; NULL with T->err saying why when it did not (logged, except a
 * retry and, with PGX_UNIQUE_OK, a unique violation). */
PGresult *
store_pg_exec_n(struct pgtx *t, const char *what, const char *sql, int n,
                const char *const *params, int flags)
{
	return store_pg_checked(t, what,
	                        pgpool_exec(t->s->pool, t->c, sql, n, params),
	                        flags);
}

/* RES, a statement's result on T, when it succeeded; else NULL (RES
 * cleared) with T->err saying why, as store_pg_exec_n. */
PGresult *
store_pg_checked(struct pgtx *t, const char *what, PGresult *res, int flags)
{
	const char *msg;

	if (res == NULL) {
		t->err = PG_FAIL;
		log_warnx("store: postgres: %s: %s", what,
		          PQerrorMessage(t->c));
		return NULL;
	}
	switch (PQresultStatus(res)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
		return res;
	default:
		break;
	}
	msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if (msg == NULL)
		msg = PQerrorMessage(t->c);
	if (pg_sqlstate_is(res, "40001") || pg_sqlstate_is(res, "40P01")) {
		t->err = PG_RETRY;
		log_debug("store: postgres: %s: %s (will retry)", what, msg);
	} else if (pg_sqlstate_is(res, "23505")) {
		t->err = PG_UNIQUE;
		if (!(flags & PGX_UNIQUE_OK))
			log_warnx("store: postgres: %s: %s", what, msg);
	} else {
		const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		t->err = PG_FAIL;
		log_warnx("store: postgres: %s: %s%s%s%s", what, msg,
		          code != NULL ? " (SQLSTATE " : "",
		          code != NULL ? code : "", code != NULL ? ")" : "");
	}
	PQclear(res);
	return NULL;
}

static PGresult *
pg_exec_f(struct pgtx *t, const char *what, const char *sql,
          const struct pgargs *a, int flags)
{
	return store_pg_exec_n(t, what, sql, a != NULL ? a->n : 0,
	                       a != NULL ? a->v : NULL, flags);
}

PGresult *
store_pg_exec(struct pgtx *t, const char *what, const char *sql,
              const struct pgargs *a)
{
	return pg_exec_f(t, what, sql, a, 0);
}

static int64_t
pg_affected(PGresult *res)
{
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		return PQntuples(res);
	return strtoll(PQcmdTuples(res), NULL, 10);
}

/* Run a statement for its row count: rows affected (or returned), or -1. */
int64_t
store_pg_cmd_f(struct pgtx *t, const char *what, const char *sql,
               const struct pgargs *a, int flags)
{
	PGresult *res = pg_exec_f(t, what, sql, a, flags);
	int64_t n;

	if (res == NULL)
		return -1;
	n = pg_affected(res);
	PQclear(res);
	return n;
}

int64_t
store_pg_cmd(struct pgtx *t, const char *what, const char *sql,
             const struct pgargs *a)
{
	return store_pg_cmd_f(t, what, sql, a, 0);
}

int64_t
store_pg_int(const PGresult *res, int row, int col, int64_t dflt)
{
	if (PQgetisnull(res, row, col))
		return dflt;
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

void
store_pg_text(const PGresult *res, int row, int col, char *dst, size_t size)
{
	size_t n;

	if (PQgetisnull(res, row, col)) {
		dst[0] = '\0';
		return;
	}
	n = (size_t)PQgetlength(res, row, col);
	if (n >= size)
		n = size - 1;
	memcpy(dst, PQgetvalue(res, row, col), n);
	dst[n] = '\0';
}

char *
store_pg_strdup(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	return xstrdup(PQgetvalue(res, row, col));
}

/* Whether the bytea at ROW, COL is exactly the STORE_KEYHASH_LEN bytes of
 * H, compared in constant time. */
int
store_pg_hash_equal(const PGresult *res, int row, int col, const uint8_t *h)
{
	unsigned char *b;
	size_t len = 0;
	int eq;

	if (h == NULL || PQgetisnull(res, row, col))
		return 0;
	b = PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, col),
	                    &len);
	if (b == NULL)
		return 0;
	eq = len == STORE_KEYHASH_LEN &&
	     CRYPTO_memcmp(b, h, STORE_KEYHASH_LEN) == 0;
	PQfreemem(b);
	return eq;
}

void
store_pg_read_customer(const PGresult *res, int row, struct customer *c)
{
	struct pg_row r = {res, row};

	store_core_read_customer(&store_pg_driver, &r, c);
}

/* The core's reader over one row of RES. */
void
store_pg_read_order(const PGresult *res, int row, struct order *o)
{
	struct pg_row r = {res, row};

	store_core_read_order(&store_pg_driver, &r, o);
}

/*
 * Transactions.
 */

int
store_pg_simple(struct pgtx *t, const char *sql)
{
	PGresult *res = store_pg_exec(t, sql, sql, NULL);

	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

void
store_pg_rollback(struct pgtx *t)
{
	PGresult *res;

	if (PQstatus(t->c) != CONNECTION_OK ||
	    PQtransactionStatus(t->c) == PQTRANS_IDLE)
		return;
	/* Failing, it leaves the connection in a transaction: pgpool_put
	 * closes it then. */
	res = pgpool_exec(t->s->pool, t->c, "ROLLBACK", 0, NULL);
	PQclear(res);
}

enum store_result
store_pg_commit(struct pgtx *t)
{
	PGresult *res = store_pg_exec(t, "COMMIT", "COMMIT", NULL);
	int ok;

	if (res == NULL) {
		if (t->err == PG_FAIL && PQstatus(t->c) != CONNECTION_OK)
			log_warnx("store: postgres: the connection was lost "
			          "during COMMIT: its outcome is unknown");
		store_pg_rollback(t);
		return STORE_ERROR;
	}
	/* COMMIT of a failed transaction answers ROLLBACK, not an error. */
	ok = strcmp(PQcmdStatus(res), "COMMIT") == 0;
	PQclear(res);
	if (!ok) {
		t->err = PG_FAIL;
		log_warnx("store: postgres: COMMIT rolled back");
		return STORE_ERROR;
	}
	return STORE_OK;
}

/* Run BODY on a pooled connection, inside BEGIN ... COMMIT when TXN.  A
 * result other than STORE_OK rolls the transaction back.  BODY runs again
 * (from a clean state: it must reset its outputs) when it failed on a
 * serialization failure or a deadlock. */
enum store_result
store_pg_run(struct store_pg *s, int txn, pg_body body, void *arg)
{
	struct pgtx t = {s, NULL, PG_OK};
	enum store_result r = STORE_ERROR;

	if ((t.c = pgpool_get(s->pool)) == NULL)
		return STORE_ERROR;
	for (int tries = 1;; tries++) {
		t.err = PG_OK;
		/* Sent with the body's first statement (pgpool_begin). */
		if (txn)
			pgpool_begin(s->pool, t.c);
		r = body(&t, arg);
		if (txn && r == STORE_OK)
			r = store_pg_commit(&t);
		else if (txn)
			store_pg_rollback(&t);
		if (r != STORE_ERROR || t.err != PG_RETRY)
			break;
		if (tries >= PG_TRIES) {
			log_warnx("store: postgres: still conflicting after "
			          "%d tries",
			          tries);
			break;
		}
	}
	pgpool_put(s->pool, t.c);
	return r;
}

/* The driver's transaction runner: store_pg_run in a transaction. */
struct pg_core {
	store_core_body body;
	void *arg;
};

static enum store_result
pg_core_body(struct pgtx *t, void *arg)
{
	struct pg_core *c = arg;

	return c->body(t, c->arg);
}

static enum store_result
pg_txn(struct store *st, store_core_body body, void *arg)
{
	struct pg_core c = {body, arg};

	return store_pg_run(spg(st), 1, pg_core_body, &c);
}

static enum store_result
pg_one_body(struct pgtx *t, void *arg)
{
	struct store_pg_one *o = arg;
	PGresult *res = pg_exec_f(t, o->what, o->sql, o->a, o->flags);

	o->err = t->err;
	if (res == NULL)
		return STORE_ERROR;
	o->rows = pg_affected(res);
	if (o->keep)
		o->res = res;
	else
		PQclear(res);
	return STORE_OK;
}

enum store_result
store_pg_one(struct store_pg *s, struct store_pg_one *o)
{
	o->res = NULL;
	o->rows = 0;
	o->err = PG_OK;
	return store_pg_run(s, 0, pg_one_body, o);
}

/* A statement's result for reading, or NULL (logged). */
PGresult *
store_pg_query(struct store_pg *s, const char *what, const char *sql,
               const struct pgargs *a)
{
	struct store_pg_one o = {what, sql, a, 0, 1, NULL, 0, PG_OK};

	if (store_pg_one(s, &o) != STORE_OK)
		return NULL;
	return o.res;
}

/* Rows a write statement affected, or -1; *ERR tells a unique violation
 * when FLAGS allow it. */
int64_t
store_pg_write(struct store_pg *s, const char *what, const char *sql,
               const struct pgargs *a, int flags, enum pg_err *err)
{
	struct store_pg_one o = {what, sql, a, flags, 0, NULL, 0, PG_OK};
	enum store_result r = store_pg_one(s, &o);

	if (err != NULL)
		*err = o.err;
	return r == STORE_OK ? o.rows : -1;
}

/* A one-statement transition: STORE_CONFLICT if no row moved. */
enum store_result
store_pg_transition(struct store_pg *s, const char *what, const char *sql,
                    const struct pgargs *a)
{
	int64_t n = store_pg_write(s, what, sql, a, 0, NULL);

	if (n < 0)
		return STORE_ERROR;
	return n == 1 ? STORE_OK : STORE_CONFLICT;
}

/*
 * Customers and the ledger.
 */

static enum store_result
pg_customer_add(struct store *st, const char *name, const uint8_t *key_hash,
                int64_t *id)
{
	struct pgargs a = {0};
	struct store_pg_one o = {
	    "customer add",
	    "INSERT INTO customers (name, key_hash, created_at)"
	    " VALUES ($1, $2, $3) RETURNING id",
	    &a,
	    PGX_UNIQUE_OK,
	    1,
	    NULL,
	    0,
	    PG_OK};

	store_pg_arg_str(&a, name);
	store_pg_arg_hash(&a, key_hash);
	store_pg_arg_int(&a, pg_now());
	if (store_pg_one(spg(st), &o) != STORE_OK)
		return o.err == PG_UNIQUE ? STORE_EXISTS : STORE_ERROR;
	if (id != NULL)
		*id = PQntuples(o.res) == 1 ? store_pg_int(o.res, 0, 0, 0) : 0;
	PQclear(o.res);
	return STORE_OK;
}

static enum store_result
pg_customer_set_key(struct store *st, const char *name, const uint8_t *key_hash)
{
	struct pgargs a = {0};
	enum pg_err err;
	int64_t n;

	store_pg_arg_str(&a, name);
	store_pg_arg_hash(&a, key_hash);
	n = store_pg_write(spg(st), "customer key",
	                   "UPDATE customers SET key_hash = $2 WHERE name = $1",
	                   &a, PGX_UNIQUE_OK, &err);
	if (n < 0)
		return err == PG_UNIQUE ? STORE_EXISTS : STORE_ERROR;
	return n == 1 ? STORE_OK : STORE_NOTFOUND;
}

static enum store_result
pg_customer_by_key(struct store *st, const uint8_t *key_hash,
                   struct customer *out)
{
	struct pgargs a = {0};
	enum store_result r = STORE_NOTFOUND;
	PGresult *res;

	/* On the daemon's loop, with the other lookups of the moment. */
	if (spg(st)->keys != NULL && fiber_self() != NULL)
		return store_pg_keys_lookup(spg(st), key_hash, out);
	store_pg_arg_hash(&a, key_hash);
	res = store_pg_query(spg(st), "customer by key",
	                     "SELECT " CUSTOMER_COLS ", key_hash FROM customers"
	                     " WHERE key_hash = $1",
	                     &a);
	if (res == NULL)
		return STORE_ERROR;
	/* The index found it; compare in constant time anyway. */
	if (PQntuples(res) == 1 && store_pg_hash_equal(res, 0, 5, key_hash)) {
		store_pg_read_customer(res, 0, out);
		r = STORE_OK;
	}
	PQclear(res);
	return r;
}

static enum store_result
pg_customer_get(struct store_pg *s, const char *sql, const struct pgargs *a,
                struct customer *out)
{
	enum store_result r = STORE_NOTFOUND;
	PGresult *res = store_pg_query(s, "customer get", sql, a);

	if (res == NULL)
		return STORE_ERROR;
	if (PQntuples(res) == 1) {
		store_pg_read_customer(res, 0, out);
		r = STORE_OK;
	}
	PQclear(res);
	return r;
}

static enum store_result
pg_customer_by_name(struct store *st, const char *name, struct customer *out)
{
	struct pgargs a = {0};

	store_pg_arg_str(&a, name);
	return pg_customer_get(spg(st),
	                       "SELECT " CUSTOMER_COLS " FROM customers"
	                       " WHERE name = $1",
	                       &a, out);
}

static enum store_result
pg_customer_set_disabled(struct store *st, const char *name, int disabled)
{
	struct pgargs a = {0};
	int64_t n;

	store_pg_arg_str(&a, name);
	store_pg_arg_int(&a, disabled ? 1 : 0);
	n = store_pg_write(spg(st), "customer disable",
	                   "UPDATE customers SET disabled = $2 WHERE name = $1",
	                   &a, 0, NULL);
	if (n < 0)
		return STORE_ERROR;
	return n == 1 ? STORE_OK : STORE_NOTFOUND;
}

static int
pg_customer_list(struct store *st, store_customer_cb cb, void *arg)
{
	PGresult *res;
	struct customer c;
	int n = 0;

	res = store_pg_query(
	    spg(st), "customer list",
	    "SELECT " CUSTOMER_COLS " FROM customers ORDER BY id", NULL);
	if (res == NULL)
		return -1;
	/* The connection is back in the pool: CB may use the store. */
	for (int i = 0; i < PQntuples(res); i++) {
		store_pg_read_customer(res, i, &c);
		n++;
		if (cb(&c, arg) != 0)
			break;
	}
	PQclear(res);
	return n;
}

/* Insert one ledger row inside T's transaction; 0 or -1. */
static int
pg_ledger_insert(store_tx *tx, int64_t customer_id, enum ledger_kind kind,
                 money_t amount, int64_t order_id, const char *note)
{
	struct pgtx *t = tx;
	struct pgargs a = {0};

	store_pg_arg_int(&a, customer_id);
	store_pg_arg_str(&a, ledger_kind_name(kind));
	store_pg_arg_int(&a, amount);
	if (order_id > 0)
		store_pg_arg_int(&a, order_id);
	else
		store_pg_arg_str(&a, NULL);
	store_pg_arg_str(&a, note);
	store_pg_arg_int(&a, pg_now());
	return store_pg_cmd(t, "ledger add",
	                    "INSERT INTO ledger (customer_id, kind, amount,"
	                    " order_id, note, created_at)"
	                    " VALUES ($1, $2, $3, $4, $5, $6)",
	                    &a) == 1
	           ? 0
	           : -1;
}
/* Add AMOUNT to a balance unless it would go below zero: 1 done, 0 not,
 * -1 error (an overflow included). */
static int
pg_balance_add(store_tx *tx, int64_t customer_id, money_t amount)
{
	struct pgargs a = {0};
	int64_t n;

	store_pg_arg_int(&a, customer_id);
	store_pg_arg_int(&a, amount);
	n = store_pg_cmd(tx, "balance add",
	                 "UPDATE customers SET balance = balance + $2::bigint"
	                 " WHERE id = $1 AND balance + $2::bigint >= 0",
	                 &a);
	return n < 0 ? -1 : n == 1;
}

/* Whether customer ID exists: STORE_OK, STORE_NOTFOUND or STORE_ERROR. */
static enum store_result
pg_customer_exists(store_tx *t, int64_t id)
{
	struct pgargs a = {0};
	int64_t n;

	store_pg_arg_int(&a, id);
	n = store_pg_cmd(t, "customer by id",
	                 "SELECT 1 FROM customers WHERE id = $1", &a);
	if (n < 0)
		return STORE_ERROR;
	return n == 1 ? STORE_OK : STORE_NOTFOUND;
}
/* An operator's deposit or adjustment: never negative, never past MAX
 * ($3 - $2 cannot overflow: both are >= 0 there). */
static int
pg_balance_post(store_tx *tx, int64_t customer_id, money_t amount, money_t max,
                money_t *balance)
{
	struct pgargs a = {0};
	PGresult *res;
	int n;

	store_pg_arg_int(&a, customer_id);
	store_pg_arg_int(&a, amount);
	store_pg_arg_int(&a, max);
	res = store_pg_exec(
	    tx, "balance post",
	    "UPDATE customers SET balance = balance + $2::bigint"
	    " WHERE id = $1 AND balance + $2::bigint >= 0"
	    " AND ($2::bigint < 0 OR balance <= $3::bigint - $2::bigint)"
	    " RETURNING balance",
	    &a);
	if (res == NULL)
		return -1;
	n = PQntuples(res);
	if (n == 1)
		*balance = store_pg_int(res, 0, 0, 0);
	PQclear(res);
	return n == 1;
}

/*
 * Opening, migrations, the loop.
 */

static void
pg_close(struct store *st)
{
	struct store_pg *s = spg(st);

	if (s == NULL)
		return;
	pgpool_free(s->pool);
	store_pg_keys_free(s->keys);
	free(s);
}

static int
pg_attach(struct store *st, struct event_base *base)
{
	struct store_pg *s = spg(st);

	if (pgpool_attach(s->pool, base) != 0 ||
	    (s->keys == NULL && (s->keys = store_pg_keys_new()) == NULL))
		return -1;
	s->loop = base;
	st->async = 1;
	return 0;
}

static uint64_t
pg_blocking_calls(struct store *st)
{
	return pgpool_blocking(spg(st)->pool);
}

struct store *
store_pg_open(const char *conninfo, int decimals, int pool)
{
	struct store_pg *s = xcalloc(1, sizeof(*s));
	struct pgtx t = {s, NULL, PG_OK};
	char fs[16], commit[16];
	int rc;

	s->base.ops = &pg_ops;
	s->base.drv = &store_pg_driver;
	s->base.decimals = decimals;
	s->base.shared = 1; /* several instances may share the database */
	s->decimals = decimals;
	if ((s->pool = pgpool_new(conninfo, pool)) == NULL)
		goto fail;
	if ((t.c = pgpool_get(s->pool)) == NULL) {
		log_warnx("store: postgres: cannot reach the server");
		goto fail;
	}
	/* Commits are what the store promises: say so when the server
	 * does not make them durable (tests run such servers on purpose). */
	store_pg_schema_setting(&t, "fsync", fs, sizeof(fs));
	store_pg_schema_setting(&t, "synchronous_commit", commit,
	                        sizeof(commit));
	if (strcmp(fs, "off") == 0 || strcmp(commit, "off") == 0)
		log_warnx("store: postgres: the server runs with fsync=%s, "
		          "synchronous_commit=%s: commits are not durable",
		          fs, commit);
	rc = store_pg_schema_migrate(&t);
	if (rc == 0)
		rc = store_pg_schema_decimals(&t, decimals);
	pgpool_put(s->pool, t.c);
	if (rc != 0)
		goto fail;
	return &s->base;
fail:
	pg_close(&s->base);
	return NULL;
}

const struct store_driver store_pg_driver = {
    .run = pg_txn,
    .debit = store_pg_orders_debit,
    .balance_add = pg_balance_add,
    .balance_post = pg_balance_post,
    .customer_exists = pg_customer_exists,
    .ledger_insert = pg_ledger_insert,
    .order_by_request = store_pg_orders_by_request,
    .order_insert = store_pg_orders_insert,
    .order_read = store_pg_orders_read,
    .order_final = store_pg_orders_final,
    .order_observe = store_pg_orders_observe,
    .query = store_pg_query_rows,
    .exec = store_pg_exec_query,
    .col_int = store_pg_col_int,
    .col_text = store_pg_col_text,
    .col_hash_equal = store_pg_col_hash_equal,
    .dollar = 1,
    .sql_link = "(o.fields::jsonb->>'link')",
    .sql_find = "strpos",
};

static const struct store_ops pg_ops = {
    .name = "postgres",
    .close = pg_close,
    .customer_add = pg_customer_add,
    .customer_set_key = pg_customer_set_key,
    .customer_by_key = pg_customer_by_key,
    .customer_by_name = pg_customer_by_name,
    .customer_set_disabled = pg_customer_set_disabled,
    .customer_list = pg_customer_list,
    .order_create_many = store_pg_orders_create_many,
    .order_active_many = store_pg_orders_active_many,
    .order_get = store_pg_orders_get,
    .order_get_many = store_pg_orders_get_many,
    .order_sending = store_pg_orders_sending,
    .order_unsent = store_pg_orders_unsent,
    .order_fields = store_pg_orders_fields,
    .order_polled = store_pg_orders_polled,
    .order_list = store_pg_orders_list,
    .order_claim = store_pg_orders_claim,
    .order_counts = store_pg_orders_counts,
    .refill_add = store_pg_orders_refill_add,
    .refill_get = store_pg_orders_refill_get,
    .ledger_totals = store_pg_check_totals,
    .report = store_pg_check_report,
    .catalog_replace = store_pg_catalog_replace,
    .catalog_load = store_pg_catalog_load,
    .upstream_state_put = store_pg_catalog_upstream_put,
    .upstream_state_get = store_pg_catalog_upstream_get,
    .check = store_pg_check_run,
    .attach = pg_attach,
    .blocking_calls = pg_blocking_calls,
    .catalog_generation = store_pg_catalog_generation,
    .catalog_bump = store_pg_catalog_bump,
};
