/* pricing.c - customers' own rates (pricing.h). */
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "config.h"
#include "pricing.h"
#include "xmalloc.h"

#define PRICING_PERCENT_DEN (MONEY_SCALE * 100)

struct pricing *
pricing_new(void)
{
	struct pricing *pr = xcalloc(1, sizeof(*pr));

	pr->refs = 1;
	return pr;
}

struct pricing *
pricing_ref(struct pricing *pr)
{
	pr->refs++;
	return pr;
}

void
pricing_unref(struct pricing *pr)
{
	if (pr == NULL || --pr->refs > 0)
		return;
	for (size_t i = 0; i < pr->n; i++)
		free(pr->v[i].rules);
	free(pr->v);
	free(pr);
}

/* CID's entry, made when absent (loading: the last one made is usually
 * it, the rows coming by customer). */
static struct pricing_customer *
pricing_entry(struct pricing *pr, int64_t cid)
{
	struct pricing_customer *pc;

	/* the same customer's rows come together; entries made twice for
	 * one (a group, later rules) are merged by pricing_finish */
	if (pr->n > 0 && pr->v[pr->n - 1].customer_id == cid)
		return &pr->v[pr->n - 1];
	if (pr->n == pr->cap) {
		pr->cap = pr->cap != 0 ? pr->cap * 2 : 64;
		pr->v = xreallocarray(pr->v, pr->cap, sizeof(*pr->v));
	}
	pc = &pr->v[pr->n++];
	memset(pc, 0, sizeof(*pc));
	pc->customer_id = cid;
	return pc;
}

void
pricing_add_group(struct pricing *pr, int64_t cid, money_t percent)
{
	struct pricing_customer *pc = pricing_entry(pr, cid);

	pc->has_group = 1;
	pc->group_percent = percent;
}

static void
pricing_add_rule_to(struct pricing_customer *pc, const struct pricing_rule *r)
{
	if (pc->nrules == pc->caprules) {
		pc->caprules = pc->caprules != 0 ? pc->caprules * 2 : 8;
		pc->rules =
		    xreallocarray(pc->rules, pc->caprules, sizeof(*pc->rules));
	}
	pc->rules[pc->nrules++] = *r;
}

void
pricing_add_rule(struct pricing *pr, int64_t cid, const struct pricing_rule *r)
{
	pricing_add_rule_to(pricing_entry(pr, cid), r);
}

static int
pricing_cmp_customer(const void *a, const void *b)
{
	const struct pricing_customer *x = a, *y = b;

	return (x->customer_id > y->customer_id) -
	       (x->customer_id < y->customer_id);
}

static int
pricing_cmp_rule(const void *a, const void *b)
{
	const struct pricing_rule *x = a, *y = b;

	return (x->service_id > y->service_id) -
	       (x->service_id < y->service_id);
}

void
pricing_finish(struct pricing *pr)
{
	size_t out = 0;

	if (pr->n == 0)
		return; /* qsort wants an array, even of none */
	qsort(pr->v, pr->n, sizeof(*pr->v), pricing_cmp_customer);
	for (size_t i = 0; i < pr->n; i++) {
		struct pricing_customer *pc = &pr->v[i], *to;

		if (out == 0 || pr->v[out - 1].customer_id != pc->customer_id) {
			pr->v[out++] = *pc;
			continue;
		}
		to = &pr->v[out - 1];
		if (pc->has_group) {
			to->has_group = 1;
			to->group_percent = pc->group_percent;
		}
		for (size_t k = 0; k < pc->nrules; k++)
			pricing_add_rule_to(to, &pc->rules[k]);
		free(pc->rules);
	}
	pr->n = out;
	for (size_t i = 0; i < pr->n; i++)
		if (pr->v[i].nrules > 1)
			qsort(pr->v[i].rules, pr->v[i].nrules,
			      sizeof(*pr->v[i].rules), pricing_cmp_rule);
}

const struct pricing_customer *
pricing_customer(const struct pricing *pr, int64_t cid)
{
	struct pricing_customer key;

	if (pr == NULL || pr->n == 0)
		return NULL;
	key.customer_id = cid;
	return bsearch(&key, pr->v, pr->n, sizeof(*pr->v),
	               pricing_cmp_customer);
}

const char *
pricing_source_name(enum pricing_source s)
{
	switch (s) {
	case PRICING_LIST:
		return "list";
	case PRICING_GROUP:
		return "group";
	case PRICING_PERCENT:
		return "percent";
	case PRICING_FIXED:
		return "fixed";
	}
	return "list";
}

static const struct pricing_rule *
pricing_rule_of(const struct pricing_customer *pc, int64_t sid)
{
	struct pricing_rule key;

	if (pc == NULL || pc->nrules == 0)
		return NULL;
	key.service_id = sid;
	return bsearch(&key, pc->rules, pc->nrules, sizeof(*pc->rules),
	               pricing_cmp_rule);
}

/* V x (100 + PCT) / 100, PCT a percent in money units (-10 = 10% off),
 * rounded up to the config's step. */
static int
pricing_scale(const struct config *cfg, money_t v, money_t pct, money_t *out)
{
	money_t r;

	if (pct < -PRICING_PERCENT_DEN)
		return -1;
	if (money_mul_div(v, PRICING_PERCENT_DEN + pct, PRICING_PERCENT_DEN,
	                  MONEY_ROUND_UP, &r) != 0)
		return -1;
	return money_round_to(r, cfg->round_to, MONEY_ROUND_UP, out);
}

int
pricing_quote(const struct config *cfg, const struct catalog_service *s,
              const struct pricing_customer *pc, struct pricing_quote *q)
{
	const struct pricing_rule *r = pricing_rule_of(pc, s->id);
	money_t floor = -1, f;

	memset(q, 0, sizeof(*q));
	q->list = q->rate = s->rate;
	q->source = PRICING_LIST;
	/* The floor: the cheapest route's cost with the least margin, so at
	 * least that route sells; dearer routes the rate does not cover are
	 * skipped at dispatch. */
	for (size_t i = 0; i < s->nroutes; i++) {
		if (pricing_scale(cfg, s->routes[i].cost, cfg->min_margin,
		                  &f) != 0)
			return -1;
		if (floor < 0 || f < floor)
			floor = f;
	}
	q->floor = floor > 0 ? floor : 0;
	if (r != NULL && r->fixed) {
		q->rate = r->value;
		q->source = PRICING_FIXED;
	} else if (r != NULL) {
		if (pricing_scale(cfg, s->rate, -r->value, &q->rate) != 0)
			return -1;
		q->source = PRICING_PERCENT;
	} else if (pc != NULL && pc->has_group) {
		if (pricing_scale(cfg, s->rate, pc->group_percent, &q->rate) !=
		    0)
			return -1;
		q->source = PRICING_GROUP;
	}
	if (q->rate < q->floor) {
		q->rate = q->floor;
		q->clamped = 1;
	}
	/* never free: a rule of 100% off a route of no cost still costs the
	 * smallest step */
	if (q->rate <= 0) {
		q->rate = cfg->round_to;
		q->clamped = 1;
	}
	return 0;
}

void
pricing_clamps(const struct pricing *pr, const struct catalog *c,
               const struct config *cfg, size_t *overrides, size_t *groups)
{
	money_t seen[64];
	size_t nseen = 0;
	struct pricing_quote q;

	*overrides = *groups = 0;
	if (pr == NULL || c == NULL)
		return;
	for (size_t i = 0; i < pr->n; i++) {
		const struct pricing_customer *pc = &pr->v[i];
		struct pricing_customer only = *pc;
		size_t k;

		for (k = 0; k < pc->nrules; k++) {
			const struct catalog_service *s =
			    catalog_find(c, pc->rules[k].service_id);

			if (s != NULL && pricing_quote(cfg, s, pc, &q) == 0 &&
			    q.clamped)
				(*overrides)++;
		}
		if (!pc->has_group)
			continue;
		for (k = 0; k < nseen; k++)
			if (seen[k] == pc->group_percent)
				break;
		if (k < nseen || nseen == sizeof(seen) / sizeof(seen[0]))
			continue;
		seen[nseen++] = pc->group_percent;
		only.nrules = 0; /* the group alone */
		for (size_t j = 0; j < c->n; j++)
			if (pricing_quote(cfg, &c->v[j], &only, &q) == 0 &&
			    q.clamped && q.source == PRICING_GROUP)
				(*groups)++;
	}
}

char *
pricing_services_json(const struct catalog *c, const struct config *cfg,
                      const struct pricing_customer *pc, size_t *len)
{
	money_t *rates = xcalloc(c->n + 1, sizeof(*rates));
	struct pricing_quote q;
	char *out;

	for (size_t i = 0; i < c->n; i++)
		rates[i] = pricing_quote(cfg, &c->v[i], pc, &q) == 0
		               ? q.rate
		               : c->v[i].rate;
	out = catalog_render_json(c, rates, len);
	free(rates);
	return out;
}
