/* test_rowcache.c - the bounded row cache: get, put and overwrite, forget
 * inside probe runs that wrap around the table's end, O(1) clears whose old
 * values never come back, the bound, extreme keys, and a long random run
 * against a model that mirrors the clear-when-full rule exactly.
 *
 * Values are 47-byte rows, every byte derived from (key, version), so a
 * short, misplaced or stale copy shows.  The random run's seed is printed as
 * a TAP comment; ROWCACHE_SEED=N reruns it with seed N.  ROWCACHE_WRAP=1
 * also runs 2^32 clears through the generation number's wrap (~10 s).
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "rowcache.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define SEED_DEFAULT UINT64_C(20260301)

static uint64_t test_seed;

struct row {
	int64_t key;
	uint64_t version;
	int32_t flags;
	char name[27];
};

/* The bytes the cache holds: up to the end of name, not the padding. */
#define ROW_SIZE (offsetof(struct row, name) + sizeof(((struct row *)0)->name))

static uint64_t
splitmix(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static void
row_make(struct row *r, int64_t key, uint64_t version)
{
	uint64_t s = (uint64_t)key * 31 + version;

	memset(r, 0, sizeof(*r));
	r->key = key;
	r->version = version;
	r->flags = (int32_t)splitmix(&s);
	for (size_t i = 0; i < sizeof(r->name); i++)
		r->name[i] = (char)splitmix(&s);
}

static void
put_row(struct rowcache *c, int64_t key, uint64_t version)
{
	struct row r;

	row_make(&r, key, version);
	rowcache_put(c, key, &r);
}

/* 1 when KEY is there with exactly VERSION's bytes. */
static int
has_row(const struct rowcache *c, int64_t key, uint64_t version)
{
	const void *p = rowcache_get(c, key);
	struct row want, got;

	if (p == NULL)
		return 0;
	row_make(&want, key, version);
	memset(&got, 0, sizeof(got));
	memcpy(&got, p, ROW_SIZE);
	return memcmp(&want, &got, ROW_SIZE) == 0;
}

static void
expect_row(const struct rowcache *c, int64_t key, uint64_t version)
{
	const void *p = rowcache_get(c, key);
	struct row got;

	if (p == NULL)
		fail_msg("key %" PRId64 ": missing (want version %" PRIu64 ")",
		         key, version);
	if (!has_row(c, key, version)) {
		memcpy(&got, p, ROW_SIZE);
		fail_msg("key %" PRId64 ": holds key %" PRId64
		         " version %" PRIu64 ", want version %" PRIu64,
		         key, got.key, got.version, version);
	}
}

static void
expect_none(const struct rowcache *c, int64_t key)
{
	const void *p = rowcache_get(c, key);
	struct row got;

	if (p != NULL) {
		memcpy(&got, p, ROW_SIZE);
		fail_msg("key %" PRId64 ": should be absent, holds key %" PRId64
		         " version %" PRIu64,
		         key, got.key, got.version);
	}
}

/* The slot count rowcache.c gives MAX entries, and the slot its hash picks
 * for KEY in a table of SLOTS, mirrored here only to choose keys that collide
 * and runs that wrap around the table's end; the assertions do not depend on
 * them (with another hash these keys merely collide less). */
static size_t
slots_for(size_t max)
{
	size_t n = 16;

	while (n < max * 2)
		n *= 2;
	return n;
}

static size_t
home_in(int64_t key, size_t slots)
{
	uint64_t h = (uint64_t)key * UINT64_C(0x9E3779B97F4A7C15);
	int bits = 0;

	while (((size_t)1 << bits) < slots)
		bits++;
	return (size_t)(h >> (64 - bits));
}

/* The first key >= FROM whose home in a table of SLOTS is HOME. */
static int64_t
key_at(size_t home, size_t slots, int64_t from)
{
	while (home_in(from, slots) != home)
		from++;
	return from;
}

static void
test_get_put_overwrite(void **state)
{
	struct rowcache *c = rowcache_new(ROW_SIZE, 100);
	struct row r;
	const void *p;

	assert_int_equal(rowcache_count(c), 0);
	/* a fresh (zeroed) table holds no key, 0 included */
	expect_none(c, 0);
	expect_none(c, 1);
	expect_none(c, -1);
	for (int64_t k = 1; k <= 50; k++)
		put_row(c, k, 1);
	assert_int_equal(rowcache_count(c), 50);
	for (int64_t k = 1; k <= 50; k++)
		expect_row(c, k, 1);
	for (int64_t k = 51; k <= 60; k++)
		expect_none(c, k);
	expect_none(c, 0);
	/* overwriting changes the value, not the count */
	for (int64_t k = 2; k <= 50; k += 2)
		put_row(c, k, 2);
	assert_int_equal(rowcache_count(c), 50);
	for (int64_t k = 1; k <= 50; k++)
		expect_row(c, k, k % 2 == 0 ? 2 : 1);
	/* the cache keeps a copy */
	row_make(&r, 7, 3);
	rowcache_put(c, 7, &r);
	memset(&r, 0xa5, sizeof(r));
	expect_row(c, 7, 3);
	/* the value is aligned for any member */
	p = rowcache_get(c, 7);
	assert_non_null(p);
	assert_int_equal((uintptr_t)p % alignof(max_align_t), 0);
	/* forgetting a key that is not there changes nothing */
	rowcache_forget(c, 1000);
	rowcache_forget(c, 0);
	assert_int_equal(rowcache_count(c), 50);
	rowcache_forget(c, 7);
	rowcache_forget(c, 7);
	assert_int_equal(rowcache_count(c), 49);
	expect_none(c, 7);
	put_row(c, 7, 4);
	expect_row(c, 7, 4);
	assert_int_equal(rowcache_count(c), 50);
	rowcache_free(c);
	rowcache_free(NULL);
}

/* Values of other sizes: each copied whole and kept apart from its
 * neighbours' (slot strides rounded up around them). */
static void
test_value_sizes(void **state)
{
	static const size_t sizes[] = {1, 3, 8, 15, 16, 17, 31, 200};
	unsigned char want[200], got[200];

	for (size_t s = 0; s < NELEMS(sizes); s++) {
		size_t vs = sizes[s];
		struct rowcache *c = rowcache_new(vs, 40);

		for (int64_t k = 0; k < 40; k++) {
			memset(want, (int)(k * 7 + 1), vs);
			want[vs - 1] = (unsigned char)(0xf0 ^ k);
			rowcache_put(c, k, want);
		}
		for (int64_t k = 39; k >= 0; k -= 3)
			rowcache_forget(c, k);
		for (int64_t k = 0; k < 40; k++) {
			const void *p = rowcache_get(c, k);

			if ((39 - k) % 3 == 0) {
				assert_null(p);
				continue;
			}
			assert_non_null(p);
			memset(want, (int)(k * 7 + 1), vs);
			want[vs - 1] = (unsigned char)(0xf0 ^ k);
			memcpy(got, p, vs);
			assert_memory_equal(got, want, vs);
		}
		rowcache_free(c);
	}
}

/* Six keys in a table of 16 whose run starts at slot 14 and wraps past the
 * end: homes 14, 15, 15, 14, 0, 1 fill slots 14, 15, 0, 1, 2, 3 when put in
 * that order.  Every insertion order, each with a different forget order,
 * and after each forget every other key must still be there. */
static void
test_forget_in_wrapping_runs(void **state)
{
	static const size_t homes[6] = {14, 15, 15, 14, 0, 1};
	int64_t keys[6], from = 1000;
	int perm[720][6], n = 0, p[6] = {0, 1, 2, 3, 4, 5};
	struct rowcache *c = rowcache_new(ROW_SIZE, 8);

	for (int i = 0; i < 6; i++) {
		keys[i] = key_at(homes[i], 16, from);
		from = keys[i] + 1;
	}
	/* all 720 permutations (Heap's algorithm, iteratively) */
	{
		int cnt[6] = {0};
		int i = 0;

		memcpy(perm[n++], p, sizeof(p));
		while (i < 6) {
			if (cnt[i] < i) {
				int j = i % 2 == 0 ? 0 : cnt[i], t = p[j];

				p[j] = p[i];
				p[i] = t;
				memcpy(perm[n++], p, sizeof(p));
				cnt[i]++;
				i = 0;
			} else {
				cnt[i++] = 0;
			}
		}
	}
	assert_int_equal(n, 720);
	for (int a = 0; a < 720; a++) {
		const int *ins = perm[a], *del = perm[(a * 263 + 17) % 720];
		int gone[6] = {0};

		rowcache_clear(c);
		for (int i = 0; i < 6; i++)
			put_row(c, keys[ins[i]], (uint64_t)a);
		assert_int_equal(rowcache_count(c), 6);
		for (int d = 0; d < 6; d++) {
			gone[del[d]] = 1;
			rowcache_forget(c, keys[del[d]]);
			assert_int_equal(rowcache_count(c), 5 - d);
			for (int i = 0; i < 6; i++) {
				if (gone[i])
					expect_none(c, keys[i]);
				else
					expect_row(c, keys[i], (uint64_t)a);
			}
			/* a key that was never there is not found either */
			expect_none(c, key_at(homes[d], 16, from));
		}
		/* forget some, then put them back: the run re-forms */
		for (int i = 0; i < 6; i++)
			put_row(c, keys[ins[i]], (uint64_t)a + 1);
		rowcache_forget(c, keys[ins[1]]);
		rowcache_forget(c, keys[ins[3]]);
		put_row(c, keys[ins[3]], 9999);
		for (int i = 0; i < 6; i++) {
			if (i == 1)
				expect_none(c, keys[ins[i]]);
			else
				expect_row(c, keys[ins[i]],
				           i == 3 ? 9999 : (uint64_t)a + 1);
		}
	}
	rowcache_free(c);
}

/* Keys whose low 48 bits are zero (INT64_MIN and 0 among them) all share a
 * home in any table up to 2^16 slots under the current hash: one long run. */
static void
test_extreme_keys(void **state)
{
	static const int64_t keys[] = {
	    INT64_MIN,
	    INT64_MIN + 1,
	    INT64_MAX,
	    INT64_MAX - 1,
	    0,
	    -1,
	    1,
	    -2,
	    (int64_t)1 << 32,
	    -((int64_t)1 << 32),
	    (int64_t)1 << 48,
	    -((int64_t)1 << 48),
	    (int64_t)3 << 48,
	    INT64_MIN + ((int64_t)1 << 48),
	    (int64_t)0x7fff << 48,
	    (int64_t)1 << 62,
	    INT32_MAX,
	    INT32_MIN,
	    (int64_t)UINT32_MAX,
	};
	struct rowcache *c = rowcache_new(ROW_SIZE, NELEMS(keys));

	for (size_t i = 0; i < NELEMS(keys); i++) {
		put_row(c, keys[i], i);
		for (size_t j = 0; j < NELEMS(keys); j++) {
			if (j <= i)
				expect_row(c, keys[j], j);
			else
				expect_none(c, keys[j]);
		}
	}
	assert_int_equal(rowcache_count(c), NELEMS(keys));
	/* forget each in turn (from the front of the run), then put it back */
	for (size_t i = 0; i < NELEMS(keys); i++) {
		rowcache_forget(c, keys[i]);
		assert_int_equal(rowcache_count(c), NELEMS(keys) - 1);
		for (size_t j = 0; j < NELEMS(keys); j++) {
			if (j == i)
				expect_none(c, keys[j]);
			else
				expect_row(c, keys[j], j);
		}
		put_row(c, keys[i], i);
	}
	/* forget all from the back */
	for (size_t i = NELEMS(keys); i-- > 0;) {
		rowcache_forget(c, keys[i]);
		for (size_t j = 0; j < NELEMS(keys); j++) {
			if (j >= i)
				expect_none(c, keys[j]);
			else
				expect_row(c, keys[j], j);
		}
	}
	assert_int_equal(rowcache_count(c), 0);
	rowcache_free(c);
}

static void
test_clear(void **state)
{
	struct rowcache *c = rowcache_new(ROW_SIZE, 200);

	for (int64_t k = 1; k <= 100; k++)
		put_row(c, k, 1);
	rowcache_clear(c);
	assert_int_equal(rowcache_count(c), 0);
	for (int64_t k = 0; k <= 101; k++)
		expect_none(c, k);
	/* some of the old keys again, with new values: only those come back,
	 * and with the new values */
	for (int64_t k = 50; k <= 60; k++)
		put_row(c, k, 2);
	assert_int_equal(rowcache_count(c), 11);
	for (int64_t k = 0; k <= 101; k++) {
		if (k >= 50 && k <= 60)
			expect_row(c, k, 2);
		else
			expect_none(c, k);
	}
	/* forgetting after a clear must not resurrect a stale neighbour
	 * (the old values are still in the table's memory) */
	for (int64_t k = 50; k <= 60; k += 2)
		rowcache_forget(c, k);
	for (int64_t k = 0; k <= 101; k++) {
		if (k >= 51 && k <= 59 && k % 2 == 1)
			expect_row(c, k, 2);
		else
			expect_none(c, k);
	}
	/* many clears in a row, each emptying */
	for (int i = 0; i < 1000; i++) {
		put_row(c, i % 7, (uint64_t)i);
		expect_row(c, i % 7, (uint64_t)i);
		rowcache_clear(c);
		expect_none(c, i % 7);
		assert_int_equal(rowcache_count(c), 0);
	}
	rowcache_clear(c); /* clearing an empty cache */
	assert_int_equal(rowcache_count(c), 0);
	rowcache_free(c);
}

/* A clear costs the same however big the table: 200,000 clears of a
 * full table of 2^17 64-byte slots (8 MiB) take well under a second; if a
 * clear touched every slot they would take minutes. */
/* Clearing a full table many times over: each clear leaves exactly what was
 * put after it.  (That a clear is O(1) is a matter of speed, not checked
 * here: the generation number is.) */
static void
test_clear_many(void **state)
{
	const size_t max = (size_t)1 << 16;
	struct rowcache *c = rowcache_new(ROW_SIZE, max);

	for (int64_t k = 0; k < (int64_t)max; k++)
		put_row(c, k, 1);
	assert_int_equal(rowcache_count(c), max);
	for (int64_t i = 0; i < 20000; i++) {
		rowcache_clear(c);
		put_row(c, i, 2);
		if (rowcache_get(c, i - 1) != NULL || rowcache_count(c) != 1)
			fail_msg("clear %" PRId64 " left something", i);
	}
	for (int64_t k = 0; k < 1000; k++)
		expect_none(c, k);
	expect_row(c, 19999, 2);
	rowcache_free(c);
}

static void
test_bound(void **state)
{
	struct rowcache *c = rowcache_new(ROW_SIZE, 10);

	for (int64_t k = 0; k < 10; k++)
		put_row(c, k, 1);
	assert_int_equal(rowcache_count(c), 10);
	/* full: overwriting an existing key does not empty it */
	put_row(c, 5, 2);
	assert_int_equal(rowcache_count(c), 10);
	for (int64_t k = 0; k < 10; k++)
		expect_row(c, k, k == 5 ? 2 : 1);
	/* a forget makes room for one new key without emptying */
	rowcache_forget(c, 3);
	put_row(c, 100, 1);
	assert_int_equal(rowcache_count(c), 10);
	for (int64_t k = 0; k < 10; k++) {
		if (k == 3)
			expect_none(c, k);
		else
			expect_row(c, k, k == 5 ? 2 : 1);
	}
	expect_row(c, 100, 1);
	/* full again: the next new key empties it first */
	put_row(c, 101, 1);
	assert_int_equal(rowcache_count(c), 1);
	expect_row(c, 101, 1);
	for (int64_t k = 0; k < 10; k++)
		expect_none(c, k);
	expect_none(c, 100);
	rowcache_free(c);

	/* MAX 0 is taken as 1; MAX 1 holds one key */
	for (size_t max = 0; max <= 1; max++) {
		c = rowcache_new(ROW_SIZE, max);
		put_row(c, 1, 1);
		put_row(c, 1, 2);
		assert_int_equal(rowcache_count(c), 1);
		expect_row(c, 1, 2);
		put_row(c, 2, 1);
		assert_int_equal(rowcache_count(c), 1);
		expect_none(c, 1);
		expect_row(c, 2, 1);
		rowcache_free(c);
	}

	/* a stream of new keys through a cache of 64: it empties exactly when
	 * a 65th would go in, and never holds more than 64 */
	c = rowcache_new(ROW_SIZE, 64);
	for (int64_t i = 0; i < 10000; i++) {
		put_row(c, i * 13 - 5000, (uint64_t)i);
		assert_int_equal(rowcache_count(c), i % 64 + 1);
		if (i % 97 == 0) {
			int64_t first = i - i % 64;

			for (int64_t j = i > 200 ? i - 200 : 0; j <= i; j++) {
				if (j >= first)
					expect_row(c, j * 13 - 5000,
					           (uint64_t)j);
				else
					expect_none(c, j * 13 - 5000);
			}
		}
	}
	rowcache_free(c);
}

/* The model: for each of NKEYS keys, whether it is held and its version;
 * a put of a key not held while COUNT == MAX empties it first, as the cache
 * does. */
struct model {
	size_t max, nkeys, count;
	int64_t *keys;
	unsigned char *held;
	uint64_t *version;
};

static void
model_check(const struct model *m, const struct rowcache *c, long op)
{
	if (rowcache_count(c) != m->count || m->count > m->max)
		fail_msg("seed %" PRIu64
		         " max %zu op %ld: count %zu, model %zu",
		         test_seed, m->max, op, rowcache_count(c), m->count);
	for (size_t i = 0; i < m->nkeys; i++) {
		int ok = m->held[i] ? has_row(c, m->keys[i], m->version[i])
		                    : rowcache_get(c, m->keys[i]) == NULL;

		if (!ok)
			fail_msg("seed %" PRIu64 " max %zu op %ld: key %" PRId64
			         " should be %s (version %" PRIu64 ")",
			         test_seed, m->max, op, m->keys[i],
			         m->held[i] ? "held" : "absent", m->version[i]);
	}
}

/* NKEYS distinct keys for a cache of MAX: extremes and keys that share a
 * home, three whose runs wrap around the table's end, then random 64-bit
 * keys and small positive and negative ones. */
static void
pool_keys(int64_t *keys, size_t nkeys, size_t max)
{
	static const int64_t special[] = {
	    INT64_MIN, INT64_MAX, 0, -1, (int64_t)1 << 48, -((int64_t)1 << 48),
	};
	size_t slots = slots_for(max), n = 0;
	uint64_t s = nkeys * 1000 + max;

	for (size_t i = 0; i < NELEMS(special) && n < nkeys; i++)
		keys[n++] = special[i];
	if (n < nkeys)
		keys[n++] = key_at(slots - 1, slots, 1000000);
	if (n < nkeys) {
		keys[n] = key_at(slots - 1, slots, keys[n - 1] + 1);
		n++;
	}
	if (n < nkeys)
		keys[n++] = key_at(slots - 2, slots, 2000000);
	for (size_t i = 2; n < nkeys; i++) {
		int64_t k = i % 3 == 0   ? (int64_t)splitmix(&s)
		            : i % 3 == 1 ? (int64_t)i
		                         : -(int64_t)i;
		int dup = 0;

		for (size_t j = 0; j < n; j++)
			dup |= keys[j] == k;
		if (!dup)
			keys[n++] = k;
	}
}

static void
differential(size_t max, size_t nkeys, long ops, uint64_t *rng)
{
	struct rowcache *c = rowcache_new(ROW_SIZE, max);
	struct model m = {.max = max, .nkeys = nkeys};
	uint64_t next_version = 1;
	long clears = 0, fullclears = 0, forgets = 0;

	m.keys = calloc(nkeys, sizeof(*m.keys));
	m.held = calloc(nkeys, 1);
	m.version = calloc(nkeys, sizeof(*m.version));
	assert_non_null(m.keys);
	assert_non_null(m.held);
	assert_non_null(m.version);
	pool_keys(m.keys, nkeys, max);
	for (long op = 0; op < ops; op++) {
		uint64_t r = splitmix(rng);
		size_t i = (size_t)((r >> 8) % nkeys);
		int kind = (int)(r % 200);

		if (kind < 90) { /* put */
			if (!m.held[i] && m.count == m.max) {
				memset(m.held, 0, nkeys);
				m.count = 0;
				fullclears++;
			}
			if (!m.held[i])
				m.count++;
			m.held[i] = 1;
			m.version[i] = next_version++;
			put_row(c, m.keys[i], m.version[i]);
		} else if (kind < 145) { /* forget */
			if (m.held[i]) {
				m.count--;
				forgets++;
			}
			m.held[i] = 0;
			rowcache_forget(c, m.keys[i]);
		} else if (kind < 198) { /* get */
			int ok = m.held[i] ? has_row(c, m.keys[i], m.version[i])
			                   : rowcache_get(c, m.keys[i]) == NULL;

			if (!ok)
				fail_msg("seed %" PRIu64 " max %zu op %ld: get "
				         "%" PRId64 " wrong (model: %s)",
				         test_seed, max, op, m.keys[i],
				         m.held[i] ? "held" : "absent");
		} else { /* clear */
			memset(m.held, 0, nkeys);
			m.count = 0;
			clears++;
			rowcache_clear(c);
		}
		if (rowcache_count(c) != m.count)
			fail_msg("seed %" PRIu64 " max %zu op %ld: count %zu, "
			         "model %zu",
			         test_seed, max, op, rowcache_count(c),
			         m.count);
		if (op % 8 == 7)
			model_check(&m, c, op);
	}
	model_check(&m, c, ops);
	printf("# max %zu, %zu keys: %ld ops, %ld forgets, %ld clears, %ld "
	       "emptied when full\n",
	       max, nkeys, ops, forgets, clears, fullclears);
	/* the run must have exercised the bound */
	assert_true(fullclears > 0 || nkeys <= max);
	free(m.keys);
	free(m.held);
	free(m.version);
	rowcache_free(c);
}

static void
test_random_against_model(void **state)
{
	uint64_t rng = test_seed;

	/* 200,000 operations in all; small caches so that runs are long and
	 * wrap, and the bound is hit often */
	differential(8, 20, 60000, &rng);
	differential(8, 10, 30000, &rng); /* mostly near full: long runs */
	differential(5, 9, 30000, &rng);
	differential(1, 4, 10000, &rng);
	differential(48, 120, 60000, &rng);
	differential(16, 16, 10000, &rng); /* never full: never emptied */
}

/* 2^32 clears wrap the generation number: stale slots must not come back
 * and never-used slots must stay free.  Run only with ROWCACHE_WRAP=1
 * (a separate group: cmocka's TAP prints a skip as "not ok"). */
static void
test_generation_wrap(void **state)
{
	const uint64_t n = (uint64_t)1 << 32;
	struct rowcache *c;

	c = rowcache_new(ROW_SIZE, 8);
	put_row(c, 1, 1);
	put_row(c, 2, 1);
	for (uint64_t i = 1; i <= n + 2; i++) {
		rowcache_clear(c);
		if (i >= n - 2) {
			assert_int_equal(rowcache_count(c), 0);
			expect_none(c, 0);
			expect_none(c, 1);
			expect_none(c, 2);
		}
	}
	put_row(c, 3, 1);
	expect_row(c, 3, 1);
	expect_none(c, 0);
	expect_none(c, 1);
	rowcache_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_get_put_overwrite),
	    cmocka_unit_test(test_value_sizes),
	    cmocka_unit_test(test_forget_in_wrapping_runs),
	    cmocka_unit_test(test_extreme_keys),
	    cmocka_unit_test(test_clear),
	    cmocka_unit_test(test_clear_many),
	    cmocka_unit_test(test_bound),
	    cmocka_unit_test(test_random_against_model),
	};
	const struct CMUnitTest wrap_tests[] = {
	    cmocka_unit_test(test_generation_wrap),
	};
	int failed;
	const char *env = getenv("ROWCACHE_SEED");
	char *end;

	test_seed = SEED_DEFAULT;
	if (env != NULL && *env != '\0') {
		test_seed = strtoull(env, &end, 0);
		if (*end != '\0') {
			fprintf(stderr, "ROWCACHE_SEED: not a number: %s\n",
			        env);
			return 2;
		}
	}
	printf("# rowcache: ROWCACHE_SEED=%" PRIu64 "\n", test_seed);
	fflush(stdout);
	failed = cmocka_run_group_tests_name("rowcache", tests, NULL, NULL);
	if (getenv("ROWCACHE_WRAP") != NULL)
		failed += cmocka_run_group_tests_name("rowcache_wrap",
		                                      wrap_tests, NULL, NULL);
	return failed;
}
