/* rowcache.c - see rowcache.h. */
#include <stdlib.h>
#include <string.h>

#include "rowcache.h"
#include "xmalloc.h"

/* A slot is in use when its generation is the cache's. */
struct rowcache_slot {
	int64_t key;
	uint32_t gen;
	uint32_t pad;
	/* the value follows, aligned for any of its members */
};

struct rowcache {
	unsigned char *slots;
	size_t stride; /* bytes per slot */
	size_t mask;   /* slots - 1, a power of two minus one */
	size_t value_size;
	size_t max, count;
	uint32_t gen; /* never 0: calloc'ed slots are free */
};

static size_t
rowcache_home(const struct rowcache *c, int64_t key)
{
	uint64_t h = (uint64_t)key * UINT64_C(0x9E3779B97F4A7C15);

	return (size_t)(h >> 32) & c->mask;
}

static struct rowcache_slot *
rowcache_slot(const struct rowcache *c, size_t i)
{
	return (struct rowcache_slot *)(c->slots + i * c->stride);
}

static int
rowcache_used(const struct rowcache *c, const struct rowcache_slot *s)
{
	return s->gen == c->gen;
}

struct rowcache *
rowcache_new(size_t value_size, size_t max)
{
	struct rowcache *c = xcalloc(1, sizeof(*c));
	size_t n = 16;

	if (max < 1)
		max = 1;
	while (n < max * 2)
		n *= 2;
	c->value_size = value_size;
	c->stride =
	    (sizeof(struct rowcache_slot) + value_size + 15) & ~(size_t)15;
	c->slots = xcalloc(n, c->stride);
	c->mask = n - 1;
	c->max = max;
	c->gen = 1;
	return c;
}

void
rowcache_free(struct rowcache *c)
{
	if (c == NULL)
		return;
	free(c->slots);
	free(c);
}

/* KEY's slot index, or the free slot where it would go. */
static size_t
rowcache_find(const struct rowcache *c, int64_t key, int *found)
{
	size_t i = rowcache_home(c, key);

	for (;; i = (i + 1) & c->mask) {
		const struct rowcache_slot *s = rowcache_slot(c, i);

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

	return found ? (const void *)(rowcache_slot(c, i) + 1) : NULL;
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
	s = rowcache_slot(c, i);
	if (!found) {
		s->key = key;
		s->gen = c->gen;
		c->count++;
	}
	memcpy(s + 1, value, c->value_size);
}

void
rowcache_forget(struct rowcache *c, int64_t key)
{
	int found;
	size_t i = rowcache_find(c, key, &found), j;

	if (!found)
		return;
	/* Backward shift: move later members of the run into the hole when
	 * their home is not between the hole and them (cyclically). */
	for (j = (i + 1) & c->mask;; j = (j + 1) & c->mask) {
		struct rowcache_slot *sj = rowcache_slot(c, j);
		size_t home;

		if (!rowcache_used(c, sj))
			break;
		home = rowcache_home(c, sj->key);
		if (((j - home) & c->mask) >= ((j - i) & c->mask)) {
			memcpy(rowcache_slot(c, i), sj, c->stride);
			i = j;
		}
	}
	rowcache_slot(c, i)->gen = 0;
	c->count--;
}

void
rowcache_clear(struct rowcache *c)
{
	c->count = 0;
	if (++c->gen == 0) { /* after 2^32 clears: really empty it */
		memset(c->slots, 0, (c->mask + 1) * c->stride);
		c->gen = 1;
	}
}

size_t
rowcache_count(const struct rowcache *c)
{
	return c->count;
}
