/* store_pg_keys.c - customers by API key on PostgreSQL: the lookups of many
 * requests in one statement (DESIGN.md, "PostgreSQL at speed").
 *
 * Every v2 request starts with its key's customer.  On SQLite that is a
 * read cache; on PostgreSQL several instances write the same rows, so a
 * cache would need telling when another instance wrote.  Instead the
 * lookups are batched the way adds are committed: the first request of a
 * loop pass leads, waits for the pass to end so the pass's other requests
 * can join, and reads all of their keys in one statement; requests that
 * arrive while that statement runs form the next batch, led by the first
 * of them.  Each batch reads the rows as committed when it runs, after
 * every one of its requests arrived: nothing older than a finished write
 * is ever answered, and money (debits, refunds) never reads this at all.
 */
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>

#include "buf.h"
#include "fiber.h"
#include "store.h"
#include "store_core.h"
#include "store_pg.h"

#define PG_KEYS_MAX 256 /* keys per statement */

struct pg_keywait {
	uint8_t key_hash[STORE_KEYHASH_LEN];
	struct customer *out;
	enum store_result r;
	struct fiber *f;
	int done;
	TAILQ_ENTRY(pg_keywait) entry;
};

struct pg_keys {
	TAILQ_HEAD(, pg_keywait) q;
	int busy; /* a batch is gathering or running */
};

struct pg_keys *
store_pg_keys_new(void)
{
	struct pg_keys *k = calloc(1, sizeof(*k));

	if (k != NULL)
		TAILQ_INIT(&k->q);
	return k;
}

void
store_pg_keys_free(struct pg_keys *k)
{
	free(k);
}

static void
pg_keys_wake(evutil_socket_t fd, short what, void *arg)
{
	fiber_wake(arg);
}

/* '{hex,hex,...}' of the first N waiters' keys. */
static char *
pg_keys_array(struct pg_keywait **w, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	struct buf b;

	buf_init(&b, SIZE_MAX / 2);
	buf_puts(&b, "{");
	for (size_t i = 0; i < n; i++) {
		char h[STORE_KEYHASH_LEN * 2 + 2], *p = h;

		if (i > 0)
			*p++ = ',';
		for (int j = 0; j < STORE_KEYHASH_LEN; j++) {
			*p++ = hex[w[i]->key_hash[j] >> 4];
			*p++ = hex[w[i]->key_hash[j] & 15];
		}
		*p = '\0';
		buf_puts(&b, h);
	}
	buf_puts(&b, "}");
	return buf_release(&b, NULL);
}

/* Answer the batch at the queue's head (its leader, the calling fiber,
 * first) with one statement, then hand the lead to the next waiter. */
static void
pg_keys_batch(struct store_pg *s)
{
	struct pg_keys *k = s->keys;
	struct pg_keywait *w[PG_KEYS_MAX], *next;
	struct pgargs a = {0};
	PGresult *res;
	size_t n = 0;
	char *list;

	while (n < PG_KEYS_MAX && (next = TAILQ_FIRST(&k->q)) != NULL) {
		TAILQ_REMOVE(&k->q, next, entry);
		w[n++] = next;
	}
	list = pg_keys_array(w, n);
	store_pg_arg_str(&a, list);
	res = store_pg_query(
	    s, "customers by key",
	    "SELECT " CUSTOMER_COLS ", key_hash"
	    " FROM customers WHERE key_hash = ANY(ARRAY("
	    "SELECT decode(h, 'hex') FROM unnest($1::text[]) h))",
	    &a);
	free(list);
	for (size_t i = 0; i < n; i++) {
		w[i]->r = res != NULL ? STORE_NOTFOUND : STORE_ERROR;
		for (int row = 0; res != NULL && row < PQntuples(res); row++) {
			/* The index found it; compare in constant time anyway.
			 */
			if (!store_pg_hash_equal(res, row, 5, w[i]->key_hash))
				continue;
			store_pg_read_customer(res, row, w[i]->out);
			w[i]->r = STORE_OK;
			break;
		}
		w[i]->done = 1;
		if (i > 0)
			fiber_wake(w[i]->f);
	}
	PQclear(res);
	if ((next = TAILQ_FIRST(&k->q)) != NULL) {
		fiber_wake(next->f);
	} else
		k->busy = 0;
}

/* KEY_HASH's customer, read with the other lookups of the moment. */
enum store_result
store_pg_keys_lookup(struct store_pg *s, const uint8_t *key_hash,
                     struct customer *out)
{
	static const struct timeval zero = {0, 0};
	struct pg_keys *k = s->keys;
	struct pg_keywait w;

	memset(&w, 0, sizeof(w));
	memcpy(w.key_hash, key_hash, sizeof(w.key_hash));
	w.out = out;
	w.r = STORE_ERROR;
	w.f = fiber_self();
	TAILQ_INSERT_TAIL(&k->q, &w, entry);
	if (!k->busy) {
		/* Lead: let this loop pass's other requests join first. */
		k->busy = 1;
		if (event_base_once(s->loop, -1, EV_TIMEOUT, pg_keys_wake, w.f,
		                    &zero) != 0) {
			TAILQ_REMOVE(&k->q, &w, entry);
			k->busy = 0;
			return STORE_ERROR;
		}
	}
	fiber_park();
	if (!w.done)
		pg_keys_batch(s); /* woken to lead: W is at the head */
	return w.r;
}
