/* rowcache.c - see rowcache.h.
 *
 * The table holds keys and entry numbers only (16 bytes a slot, twice as
 * many slots as entries); the values sit in a dense array filled from the
 * front, so the memory a cache touches follows how full it is, not how
 * large it may grow.  Both are anonymous mappings of their own: their pages
 * are zero and not resident until written, whatever the heap holds. */
#include <sys/mman.h>

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rowcache.h"
#include "xmalloc.h"

/* A slot is in use when its generation is the cache's. */
struct rowcache_slot {
	int64_t key;
	uint32_t gen;
	uint32_t entry; /* index into values */
};

struct rowcache {
	struct rowcache_slot *slots;
	size_t mask; /* slots - 1, a power of two minus one */
	int shift;   /* 64 - log2(slots): the hash's top bits pick a slot */
	unsigned char *values;
	size_t value_size;
	size_t stride; /* value_size rounded up: each value is aligned */
	size_t max, count;
	uint32_t *free; /* entries given back by rowcache_forget */
	size_t nfree;
	size_t next;  /* entries below this have been handed out */
	uint32_t gen; /* never 0: calloc'ed slots are free */
};

static size_t
rowcache_home(const struct rowcache *c, int64_t key)
{
	/* Fibonacci hashing: the product's top bits depend on every bit of
	 * the key. */
	return (size_t)(((uint64_t)key * UINT64_C(0x9E3779B97F4A7C15)) >>
	                c->shift);
}

static int
rowcache_used(const struct rowcache *c, const struct rowcache_slot *s)
{
	return s->gen == c->gen;
}

static void *
rowcache_value(const struct rowcache *c, uint32_t entry)
{
	return c->values + (size_t)entry * c->stride;
}

static void *
rowcache_map(size_t n, size_t size)
{
	void *p;

	if (size != 0 && n > SIZE_MAX / size)
		fatalx("rowcache: %zu x %zu bytes is too large", n, size);
	p = mmap(NULL, n * size, PROT_READ | PROT_WRITE,
	         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		fatalx("rowcache: cannot map %zu bytes", n * size);
	return p;
}

struct rowcache *
rowcache_new(size_t value_size, size_t max)
{
	struct rowcache *c = xcalloc(1, sizeof(*c));
	size_t n = 16;

	if (max < 1)
		max = 1;
	if (max > UINT32_MAX / 2)
		max = UINT32_MAX / 2;
	c->shift = 64 - 4;
	while (n < max * 2) {
		n *= 2;
		c->shift--;
	}
	c->slots = rowcache_map(n, sizeof(*c->slots));
	c->mask = n - 1;
	c->stride = (value_size + 15) & ~(size_t)15;
	c->values = rowcache_map(max, c->stride != 0 ? c->stride : 16);
	c->value_size = value_size;
	c->free = xreallocarray(NULL, max, sizeof(*c->free));
	c->max = max;
	c->gen = 1;
	return c;
}

void
rowcache_free(struct rowcache *c)
{
	if (c == NULL)
		return;
	munmap(c->slots, (c->mask + 1) * sizeof(*c->slots));
	munmap(c->values, c->max * (c->stride != 0 ? c->stride : 16));
	free(c->free);
	free(c);
}

/* KEY's slot index, or the free slot where it would go. */
static size_t
rowcache_find(const struct rowcache *c, int64_t key, int *found)
{
	size_t i = rowcache_home(c, key);

	for (;; i = (i + 1) & c->mask) {
		const struct rowcache_slot *s = &c->slots[i];

		if (!rowcache_used(c, s)) {
			*found = 0;
			return i;
		}
		if (s->key == key) {
			*found = 1;
			return i;
		}
	}
}

const void *
rowcache_get(const struct rowcache *c, int64_t key)
{
	int found;
	size_t i = rowcache_find(c, key, &found);

	return found ? rowcache_value(c, c->slots[i].entry) : NULL;
}

void
rowcache_put(struct rowcache *c, int64_t key, const void *value)
{
	struct rowcache_slot *s;
	int found;
	size_t i = rowcache_find(c, key, &found);

	if (!found && c->count >= c->max) {
		rowcache_clear(c);
		i = rowcache_find(c, key, &found);
	}
	s = &c->slots[i];
	if (!found) {
		s->key = key;
		s->gen = c->gen;
		s->entry =
		    c->nfree > 0 ? c->free[--c->nfree] : (uint32_t)c->next++;
		c->count++;
	}
	/* memmove: VALUE may be this entry (a put of what get returned) */
	memmove(rowcache_value(c, s->entry), value, c->value_size);
}

void
rowcache_forget(struct rowcache *c, int64_t key)
{
	int found;
	size_t i = rowcache_find(c, key, &found), j;

	if (!found)
		return;
	c->free[c->nfree++] = c->slots[i].entry;
	/* Backward shift: move later members of the run into the hole when
	 * their home is not between the hole and them (cyclically). */
	for (j = (i + 1) & c->mask;; j = (j + 1) & c->mask) {
		struct rowcache_slot *sj = &c->slots[j];
		size_t home;

		if (!rowcache_used(c, sj))
			break;
		home = rowcache_home(c, sj->key);
		if (((j - home) & c->mask) >= ((j - i) & c->mask)) {
			c->slots[i] = *sj;
			i = j;
		}
	}
	c->slots[i].gen = 0;
	c->count--;
}

void
rowcache_clear(struct rowcache *c)
{
	c->count = 0;
	c->nfree = 0;
	c->next = 0;
	if (++c->gen == 0) { /* after 2^32 clears: really empty it */
		memset(c->slots, 0, (c->mask + 1) * sizeof(*c->slots));
		c->gen = 1;
	}
}

size_t
rowcache_count(const struct rowcache *c)
{
	return c->count;
}
