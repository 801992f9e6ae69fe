/* strmap.c - chained hash map over FNV-1a. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"
#include "xmalloc.h"

struct strmap_ent {
	struct strmap_ent *next;
	uint64_t hash;
	void *value;
	char key[]; /* NUL-terminated copy */
};

struct strmap {
	struct strmap_ent **slots;
	size_t nslots; /* a power of two */
	size_t count;
};

static uint64_t
strmap_hash(const char *s)
{
	uint64_t h = UINT64_C(1469598103934665603);

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= UINT64_C(1099511628211);
	}
	return h;
}

struct strmap *
strmap_new(void)
{
	struct strmap *m = xcalloc(1, sizeof(*m));

	m->nslots = 64;
	m->slots = xcalloc(m->nslots, sizeof(*m->slots));
	return m;
}

void
strmap_free(struct strmap *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nslots; i++) {
		struct strmap_ent *e = m->slots[i], *next;

		for (; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(m->slots);
	free(m);
}

static struct strmap_ent **
strmap_find(const struct strmap *m, const char *key, uint64_t h)
{
	struct strmap_ent **pe = &m->slots[h & (m->nslots - 1)];

	for (; *pe != NULL; pe = &(*pe)->next)
		if ((*pe)->hash == h && strcmp((*pe)->key, key) == 0)
			break;
	return pe;
}

static void
strmap_grow(struct strmap *m)
{
	size_t n = m->nslots * 2;
	struct strmap_ent **slots = xcalloc(n, sizeof(*slots));

	for (size_t i = 0; i < m->nslots; i++) {
		struct strmap_ent *e = m->slots[i], *next;

		for (; e != NULL; e = next) {
			next = e->next;
			e->next = slots[e->hash & (n - 1)];
			slots[e->hash & (n - 1)] = e;
		}
	}
	free(m->slots);
	m->slots = slots;
	m->nslots = n;
}

void *
strmap_get(const struct strmap *m, const char *key)
{
	struct strmap_ent *e = *strmap_find(m, key, strmap_hash(key));

	return e != NULL ? e->value : NULL;
}

void
strmap_put(struct strmap *m, const char *key, void *value)
{
	uint64_t h = strmap_hash(key);
	struct strmap_ent **pe = strmap_find(m, key, h), *e;
	size_t len;

	if (*pe != NULL) {
		(*pe)->value = value;
		return;
	}
	len = strlen(key);
	e = xmalloc(sizeof(*e) + len + 1);
	memcpy(e->key, key, len + 1);
	e->hash = h;
	e->value = value;
	e->next = NULL;
	*pe = e;
	if (++m->count > m->nslots)
		strmap_grow(m);
}

void *
strmap_del(struct strmap *m, const char *key)
{
	struct strmap_ent **pe = strmap_find(m, key, strmap_hash(key)), *e;
	void *v;

	if ((e = *pe) == NULL)
		return NULL;
	*pe = e->next;
	v = e->value;
	free(e);
	m->count--;
	return v;
}

size_t
strmap_count(const struct strmap *m)
{
	return m->count;
}

void
strmap_foreach(const struct strmap *m,
               void (*cb)(const char *key, void *value, void *arg), void *arg)
{
	for (size_t i = 0; i < m->nslots; i++)
		for (struct strmap_ent *e = m->slots[i]; e != NULL; e = e->next)
			cb(e->key, e->value, arg);
}
