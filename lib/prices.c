/* prices.c - the per-service differences a services sync makes, and the
 * bad-sync guard (prices.h). */
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "config.h"
#include "dialect.h"
#include "prices.h"
#include "xmalloc.h"

#define PRICE_PERCENT_DEN (MONEY_SCALE * 100)

static const char *const price_kind_names[PRICE_NKINDS] = {
    [PRICE_APPEARED] = "appeared",
    [PRICE_DROPPED] = "dropped",
    [PRICE_CHANGED] = "changed",
};

const char *
price_kind_name(enum price_kind k)
{
	return k < PRICE_NKINDS ? price_kind_names[k] : "?";
}

int
price_kind_parse(const char *name)
{
	for (int k = 0; k < PRICE_NKINDS; k++)
		if (strcmp(price_kind_names[k], name) == 0)
			return k;
	return -1;
}

/* RATE's cost and price under CFG and UP's markup, PRICE_NONE when they
 * cannot be computed. */
static void
price_of(const struct config *cfg, const struct cfg_upstream *up, money_t rate,
         money_t *cost, money_t *price)
{
	if (catalog_price(cfg, up, NULL, rate, price, cost) != 0)
		*cost = *price = PRICE_NONE;
}

static int
price_cmp(const void *a, const void *b)
{
	const struct dialect_service *x =
	    *(const struct dialect_service *const *)a;
	const struct dialect_service *y =
	    *(const struct dialect_service *const *)b;

	return (x->id > y->id) - (x->id < y->id);
}

/* LIST's entries sorted by ID (pointers into LIST); NULL when empty. */
static const struct dialect_service **
price_sorted(const struct dialect_services *list)
{
	const struct dialect_service **v;

	if (list->n == 0)
		return NULL;
	v = xcalloc(list->n, sizeof(*v));
	for (size_t i = 0; i < list->n; i++)
		v[i] = &list->v[i];
	qsort(v, list->n, sizeof(*v), price_cmp);
	return v;
}

static struct price_change *
price_add(struct price_diff *d, size_t *cap, int64_t id, enum price_kind k)
{
	struct price_change *c;

	if (d->n == *cap) {
		*cap = *cap != 0 ? *cap * 2 : 16;
		d->v = xreallocarray(d->v, *cap, sizeof(*d->v));
	}
	c = &d->v[d->n++];
	c->service = id;
	c->kind = k;
	c->cost_before = c->cost_after = PRICE_NONE;
	c->price_before = c->price_after = PRICE_NONE;
	d->count[k]++;
	return c;
}

void
price_diff(const struct config *cfg, const struct cfg_upstream *up,
           const struct dialect_services *old,
           const struct dialect_services *new_list, struct price_diff *out)
{
	const struct dialect_service **a, **b;
	size_t i = 0, j = 0, cap = 0;

	memset(out, 0, sizeof(*out));
	out->stored = old->n;
	if (old->n == 0)
		return; /* a first sync: nothing was known before */
	a = price_sorted(old);
	b = price_sorted(new_list);
	while (i < old->n || j < new_list->n) {
		struct price_change *c;
		money_t cb, pb, ca, pa;

		/* IDs are unique in a list (dialect.h); a repeat is skipped
		 * all the same rather than reported twice. */
		if (i > 0 && i < old->n && a[i]->id == a[i - 1]->id) {
			i++;
			continue;
		}
		if (j > 0 && j < new_list->n && b[j]->id == b[j - 1]->id) {
			j++;
			continue;
		}
		if (j == new_list->n || (i < old->n && a[i]->id < b[j]->id)) {
			c = price_add(out, &cap, a[i]->id, PRICE_DROPPED);
			price_of(cfg, up, a[i]->rate, &c->cost_before,
			         &c->price_before);
			i++;
		} else if (i == old->n || b[j]->id < a[i]->id) {
			c = price_add(out, &cap, b[j]->id, PRICE_APPEARED);
			price_of(cfg, up, b[j]->rate, &c->cost_after,
			         &c->price_after);
			j++;
		} else {
			price_of(cfg, up, a[i]->rate, &cb, &pb);
			price_of(cfg, up, b[j]->rate, &ca, &pa);
			if (cb != ca || pb != pa) {
				c = price_add(out, &cap, a[i]->id,
				              PRICE_CHANGED);
				c->cost_before = cb;
				c->cost_after = ca;
				c->price_before = pb;
				c->price_after = pa;
			}
			i++;
			j++;
		}
	}
	free(a);
	free(b);
}

void
price_diff_free(struct price_diff *d)
{
	if (d == NULL)
		return;
	free(d->v);
	memset(d, 0, sizeof(*d));
}

money_t
price_max_drop(const struct config *cfg, const struct cfg_upstream *up)
{
	return up->max_drop >= 0 ? up->max_drop : cfg->max_drop;
}

int
price_drop_refused(size_t stored, size_t dropped, money_t max_drop)
{
	/* dropped / stored > max_drop / 100, in integers: the percent has
	 * 8 decimals, a list at most millions of entries. */
	__int128 lhs = (__int128)dropped * PRICE_PERCENT_DEN;
	__int128 rhs = (__int128)stored * max_drop;

	if (stored == 0 || dropped == 0)
		return 0;
	return lhs > rhs;
}
