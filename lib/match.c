/* match.c - scoring pairs of upstream services and grouping them: blocks by
 * (platform, kind, sub-kind), hard rules that keep decoys apart, the
 * weighted score, complete-linkage groups of one service per upstream. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "match.h"
#include "match_int.h"
#include "strmap.h"
#include "xmalloc.h"

struct match_ctx {
	const struct match_item *items;
	size_t n;
	struct match_features *f;
	double *idf;  /* per token ID */
	double *norm; /* per item: the length of its weighted token vector */
	double min_score;
};

/* The parts of one pair's score, each in [0, 1]. */
struct match_parts {
	double name, refill, quality, cost, limits, drip, source;
	double total; /* -1: kept apart */
};

/*
 * Features and tokens.
 */

static uint32_t
match_intern(struct strmap *m, const char *w, size_t *ntok)
{
	void *v = strmap_get(m, w);

	if (v != NULL)
		return (uint32_t)((uintptr_t)v - 1);
	strmap_put(m, w, (void *)(uintptr_t)(*ntok + 1));
	return (uint32_t)(*ntok)++;
}

static int
match_u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Read every item's features; intern the plain tokens of its name. */
static size_t
match_prepare(struct match_ctx *x)
{
	struct strmap *m = strmap_new();
	size_t ntok = 0;
	size_t *df = NULL, dfcap = 0;

	for (size_t i = 0; i < x->n; i++) {
		const struct match_item *it = &x->items[i];
		struct match_features *f = &x->f[i];
		match_tok nt[MATCH_TOKENS_MAX], ct[MATCH_TOKENS_MAX];
		unsigned char plain[MATCH_TOKENS_MAX];
		size_t nn = match_canon(it->name, nt, MATCH_TOKENS_MAX);
		size_t nc = match_canon(it->category, ct, MATCH_TOKENS_MAX);
		size_t k = 0;

		match_read(it, nt, nn, ct, nc, f, plain);
		for (size_t j = 0; j < nn; j++)
			if (plain[j])
				f->tokens[k++] = match_intern(m, nt[j], &ntok);
		qsort(f->tokens, k, sizeof(f->tokens[0]), match_u32_cmp);
		f->ntokens = 0;
		for (size_t j = 0; j < k; j++)
			if (j == 0 || f->tokens[j] != f->tokens[j - 1])
				f->tokens[f->ntokens++] = f->tokens[j];
		if (ntok > dfcap) {
			size_t old = dfcap;

			dfcap = ntok * 2 + 64;
			df = xreallocarray(df, dfcap, sizeof(*df));
			memset(df + old, 0, (dfcap - old) * sizeof(*df));
		}
		for (size_t j = 0; j < f->ntokens; j++)
			df[f->tokens[j]]++;
	}
	strmap_free(m);
	/* Inverse document frequency: a word every name has says little. */
	x->idf = xcalloc(ntok + 1, sizeof(*x->idf));
	for (size_t t = 0; t < ntok; t++)
		x->idf[t] = log(1.0 + (double)x->n / (double)df[t]);
	free(df);
	for (size_t i = 0; i < x->n; i++) {
		double s = 0;

		for (size_t j = 0; j < x->f[i].ntokens; j++)
			s += x->idf[x->f[i].tokens[j]] *
			     x->idf[x->f[i].tokens[j]];
		x->norm[i] = sqrt(s);
	}
	return ntok;
}

/*
 * One pair.
 */

static double
match_name_sim(const struct match_ctx *x, size_t a, size_t b)
{
	const struct match_features *fa = &x->f[a], *fb = &x->f[b];
	size_t i = 0, j = 0;
	double dot = 0;

	if (fa->ntokens == 0 && fb->ntokens == 0)
		return 0.6;
	if (fa->ntokens == 0 || fb->ntokens == 0)
		return 0.3;
	while (i < fa->ntokens && j < fb->ntokens) {
		if (fa->tokens[i] < fb->tokens[j])
			i++;
		else if (fa->tokens[i] > fb->tokens[j])
			j++;
		else {
			dot += x->idf[fa->tokens[i]] * x->idf[fa->tokens[i]];
			i++;
			j++;
		}
	}
	return dot / (x->norm[a] * x->norm[b]);
}

static int
match_refills(int d)
{
	return d == MATCH_REFILL_YES || d > 0;
}

static double
match_refill_sim(int a, int b)
{
	if (a == MATCH_REFILL_UNKNOWN && b == MATCH_REFILL_UNKNOWN)
		return 0.6;
	if (a == MATCH_REFILL_UNKNOWN || b == MATCH_REFILL_UNKNOWN)
		return 0.5;
	if (a == b)
		return 1.0;
	if (a == MATCH_REFILL_YES || b == MATCH_REFILL_YES)
		return 0.7;
	return a < b ? (double)a / b : (double)b / a;
}

static double
match_quality_sim(enum match_quality a, enum match_quality b)
{
	if (a == MATCH_Q_UNKNOWN && b == MATCH_Q_UNKNOWN)
		return 0.7;
	if (a == MATCH_Q_UNKNOWN || b == MATCH_Q_UNKNOWN)
		return 0.5;
	if (a == b)
		return 1.0;
	if ((a == MATCH_Q_REAL && b == MATCH_Q_HQ) ||
	    (a == MATCH_Q_HQ && b == MATCH_Q_REAL))
		return 0.6;
	if (a == MATCH_Q_MIXED || b == MATCH_Q_MIXED)
		return 0.35;
	return 0;
}

static double
match_cost_sim(money_t a, money_t b)
{
	double r;

	if (a <= 0 || b <= 0)
		return 0.5;
	r = a > b ? (double)a / (double)b : (double)b / (double)a;
	return r <= 1.5 ? 1.0 : r <= 3 ? 0.7 : r <= 6 ? 0.3 : 0.0;
}

static int
match_overlap(const struct match_item *a, const struct match_item *b)
{
	return a->min <= b->max && b->min <= a->max;
}

/* The score of items A and B (same block, other upstreams), or -1 when a
 * hard rule keeps them apart; its parts in P. */
static double
match_pair(const struct match_ctx *x, size_t a, size_t b, struct match_parts *p)
{
	const struct match_item *ia = &x->items[a], *ib = &x->items[b];
	const struct match_features *fa = &x->f[a], *fb = &x->f[b];

	p->total = -1;
	if (ia->upstream == ib->upstream ||
	    strcasecmp(ia->type, ib->type) != 0 || fa->geo != fb->geo)
		return -1;
	if ((fa->refill_days == MATCH_REFILL_NONE &&
	     match_refills(fb->refill_days)) ||
	    (fb->refill_days == MATCH_REFILL_NONE &&
	     match_refills(fa->refill_days)))
		return -1;
	if ((fa->quality == MATCH_Q_BOT &&
	     (fb->quality == MATCH_Q_REAL || fb->quality == MATCH_Q_HQ)) ||
	    (fb->quality == MATCH_Q_BOT &&
	     (fa->quality == MATCH_Q_REAL || fa->quality == MATCH_Q_HQ)))
		return -1;
	p->name = match_name_sim(x, a, b);
	p->refill = match_refill_sim(fa->refill_days, fb->refill_days);
	p->quality = match_quality_sim(fa->quality, fb->quality);
	p->cost = match_cost_sim(ia->cost, ib->cost);
	p->limits = match_overlap(ia, ib) ? 1.0 : 0.0;
	p->drip = ia->dripfeed == ib->dripfeed ? 1.0 : 0.0;
	p->source = (fa->in_name + fb->in_name) / 2.0;
	p->total = MATCH_W_NAME * p->name + MATCH_W_REFILL * p->refill +
	           MATCH_W_QUALITY * p->quality + MATCH_W_COST * p->cost +
	           MATCH_W_LIMITS * p->limits + MATCH_W_DRIP * p->drip +
	           MATCH_W_SOURCE * p->source;
	/* Rounded so that the same pair scores the same on every machine. */
	p->total = floor(p->total * 10000 + 0.5) / 10000;
	return p->total;
}

/*
 * Blocks, candidate pairs, clusters.
 */

struct match_edge {
	size_t a, b;
	double score;
};

struct match_vec {
	struct match_edge *v;
	size_t n, cap;
};

static int
match_block_key(const struct match_features *f)
{
	return (f->platform * 64 + f->kind) * 8 + f->sub;
}

static int
match_block_cmp(const void *pa, const void *pb, void *arg)
{
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	const struct match_ctx *x = arg;
	int ka = match_block_key(&x->f[a]), kb = match_block_key(&x->f[b]);

	if (ka != kb)
		return ka < kb ? -1 : 1;
	return a < b ? -1 : a > b;
}

static int
match_item_order(const struct match_item *items, size_t a, size_t b)
{
	if (items[a].upstream != items[b].upstream)
		return items[a].upstream < items[b].upstream ? -1 : 1;
	if (items[a].id != items[b].id)
		return items[a].id < items[b].id ? -1 : 1;
	return a < b ? -1 : a > b;
}

static int
match_edge_cmp(const void *pa, const void *pb, void *arg)
{
	const struct match_edge *a = pa, *b = pb;
	const struct match_ctx *x = arg;
	int c;

	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	if ((c = match_item_order(x->items, a->a, b->a)) != 0)
		return c;
	return match_item_order(x->items, a->b, b->b);
}

static void
match_push(struct match_vec *v, size_t a, size_t b, double s)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 1024;
		v->v = xreallocarray(v->v, v->cap, sizeof(*v->v));
	}
	v->v[v->n].a = a;
	v->v[v->n].b = b;
	v->v[v->n].score = s;
	v->n++;
}

struct match_cluster {
	size_t *m; /* members, at most one per upstream */
	size_t n;
	double score; /* the lowest pair score inside */
	int dead;     /* merged into another */
};

/* Merge clusters CA and CB when their upstreams are disjoint and every pair
 * across scores at least the minimum. */
static int
match_merge(const struct match_ctx *x, struct match_cluster *ca,
            struct match_cluster *cb)
{
	struct match_parts p;
	double low = ca->score < cb->score ? ca->score : cb->score;

	for (size_t i = 0; i < ca->n; i++) {
		for (size_t j = 0; j < cb->n; j++) {
			double s;

			if (x->items[ca->m[i]].upstream ==
			    x->items[cb->m[j]].upstream)
				return 0;
			s = match_pair(x, ca->m[i], cb->m[j], &p);
			if (s < x->min_score)
				return 0;
			if (s < low)
				low = s;
		}
	}
	ca->m = xreallocarray(ca->m, ca->n + cb->n, sizeof(*ca->m));
	memcpy(ca->m + ca->n, cb->m, cb->n * sizeof(*cb->m));
	ca->n += cb->n;
	ca->score = low;
	cb->dead = 1;
	free(cb->m);
	cb->m = NULL;
	cb->n = 0;
	return 1;
}

/*
 * Groups.
 */

static int
match_member_cmp(const void *pa, const void *pb, void *arg)
{
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
	const struct match_item *items = ((const struct match_ctx *)arg)->items;
	money_t ca = items[a].cost, cb = items[b].cost;

	if ((ca < 0) != (cb < 0))
		return ca < 0 ? 1 : -1;
	if (ca != cb)
		return ca < cb ? -1 : 1;
	return match_item_order(items, a, b);
}

static int
match_group_cmp(const void *pa, const void *pb, void *arg)
{
	const struct match_group *a = pa, *b = pb;
	const struct match_ctx *x = arg;

	if (a->platform != b->platform)
		return a->platform < b->platform ? -1 : 1;
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if (a->sub != b->sub)
		return a->sub < b->sub ? -1 : 1;
	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	return match_item_order(x->items, a->members[0], b->members[0]);
}

static void match_reason(struct match_group *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
match_reason(struct match_group *g, const char *fmt, ...)
{
	va_list ap;

	if (g->nreasons >= MATCH_REASONS_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(g->reasons[g->nreasons++], MATCH_REASON_SZ, fmt, ap);
	va_end(ap);
}

static void
match_refill_text(int d, char *buf, size_t len)
{
	if (d == MATCH_REFILL_UNKNOWN)
		snprintf(buf, len, "unknown");
	else if (d == MATCH_REFILL_NONE)
		snprintf(buf, len, "none");
	else if (d == MATCH_REFILL_YES)
		snprintf(buf, len, "yes");
	else if (d == MATCH_REFILL_LIFE)
		snprintf(buf, len, "lifetime");
	else
		snprintf(buf, len, "%dd", d);
}

/* Fill G's limits and reasons from its members. */
static void
match_describe(const struct match_ctx *x, struct match_group *g)
{
	const struct match_features *f0 = &x->f[g->members[0]];
	const struct match_item *i0 = &x->items[g->members[0]];
	int same_refill = 1, same_quality = 1, drip_all = 1, drip_none = 1;
	size_t in_names = 0;
	double name_low = 1, ratio = 0;
	money_t lo_cost = -1, hi_cost = -1;
	char buf[MATCH_REASON_SZ] = "", one[16];
	size_t off = 0;

	g->platform = f0->platform;
	g->kind = f0->kind;
	g->sub = f0->sub;
	g->min = 0;
	g->max = INT64_MAX;
	for (size_t i = 0; i < g->n; i++) {
		const struct match_item *it = &x->items[g->members[i]];
		const struct match_features *f = &x->f[g->members[i]];

		if (it->min > g->min)
			g->min = it->min;
		if (it->max < g->max)
			g->max = it->max;
		same_refill &= f->refill_days == f0->refill_days;
		same_quality &= f->quality == f0->quality;
		drip_all &= it->dripfeed != 0;
		drip_none &= it->dripfeed == 0;
		if (it->cost > 0 && (lo_cost < 0 || it->cost < lo_cost))
			lo_cost = it->cost;
		if (it->cost > 0 && it->cost > hi_cost)
			hi_cost = it->cost;
		for (size_t j = i + 1; j < g->n; j++) {
			double s =
			    match_name_sim(x, g->members[i], g->members[j]);

			if (s < name_low)
				name_low = s;
		}
	}
	g->limits_overlap = g->min <= g->max;
	if (!g->limits_overlap) { /* listed as the first route's */
		g->min = i0->min;
		g->max = i0->max;
	}
	for (size_t i = 0; i < g->n; i++)
		in_names += x->f[g->members[i]].in_name;
	match_reason(g, "%s %s%s%s (%s)", match_platform_name(g->platform),
	             g->sub ? match_sub_name(g->sub) : "", g->sub ? " " : "",
	             match_kind_name(g->kind),
	             in_names == g->n ? "names"
	             : in_names == 0  ? "categories"
	                              : "names and categories");
	match_reason(g, "type %.40s", i0->type);
	if (f0->geo)
		match_reason(g, "geo %s", match_geo_name(f0->geo));
	if (same_refill) {
		match_refill_text(f0->refill_days, one, sizeof(one));
		match_reason(g, "refill %s", one);
	} else {
		for (size_t i = 0; i < g->n && off < sizeof(buf); i++) {
			match_refill_text(x->f[g->members[i]].refill_days, one,
			                  sizeof(one));
			off += (size_t)snprintf(buf + off, sizeof(buf) - off,
			                        "%s%s", i ? "/" : "", one);
		}
		match_reason(g, "refill differs: %s", buf);
	}
	if (same_quality)
		match_reason(g, "quality %s",
		             f0->quality ? match_quality_name(f0->quality)
		                         : "not said");
	else
		match_reason(g, "quality differs");
	match_reason(g, "name similarity %.2f", name_low);
	if (g->limits_overlap)
		match_reason(g, "limits overlap %lld..%lld", (long long)g->min,
		             (long long)g->max);
	else
		match_reason(g, "limits do not overlap");
	if (drip_all)
		match_reason(g, "drip-feed on every route");
	else if (!drip_none)
		match_reason(g, "drip-feed not on every route");
	if (lo_cost > 0 && hi_cost > 0) {
		ratio = (double)hi_cost / (double)lo_cost;
		match_reason(g, "cost ratio %.2f", ratio);
	}
}

int
match_run(const struct match_item *items, size_t n, size_t nupstreams,
          double min_score, struct match_result *out)
{
	struct match_ctx x = {items, n, NULL, NULL, NULL, min_score};
	struct match_vec edges = {NULL, 0, 0};
	struct match_cluster *cl = NULL;
	size_t *order = NULL, *home = NULL;
	uint64_t npairs = 0;

	memset(out, 0, sizeof(*out));
	if (n > MATCH_ITEMS_MAX)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (items[i].upstream >= nupstreams)
			return -1;
	out->nitems = n;
	if (n == 0)
		return 0;
	x.f = xcalloc(n, sizeof(*x.f));
	x.norm = xcalloc(n, sizeof(*x.norm));
	match_prepare(&x);

	/* Blocks: items sorted by (platform, kind, sub); those without a
	 * platform or kind are not matched. */
	order = xcalloc(n, sizeof(*order));
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof(*order), match_block_cmp, &x);
	for (size_t s = 0, e; s < n; s = e) {
		int key = match_block_key(&x.f[order[s]]);

		for (e = s + 1; e < n && match_block_key(&x.f[order[e]]) == key;
		     e++)
			;
		if (x.f[order[s]].platform == 0 || x.f[order[s]].kind == 0) {
			out->nunread += e - s;
			continue;
		}
		for (size_t i = s; i < e; i++) {
			for (size_t j = i + 1; j < e; j++) {
				struct match_parts p;
				double sc;

				if (items[order[i]].upstream ==
				    items[order[j]].upstream)
					continue;
				npairs++;
				sc = match_pair(&x, order[i], order[j], &p);
				if (sc >= min_score)
					match_push(&edges, order[i], order[j],
					           sc);
			}
		}
	}
	out->npairs = npairs;

	/* Best pairs first; each joins two clusters when it can. */
	if (edges.n > 0)
		qsort_r(edges.v, edges.n, sizeof(*edges.v), match_edge_cmp, &x);
	cl = xcalloc(n, sizeof(*cl));
	home = xcalloc(n, sizeof(*home));
	for (size_t i = 0; i < n; i++) {
		home[i] = i;
		cl[i].score = 1.0;
	}
	for (size_t k = 0; k < edges.n; k++) {
		struct match_cluster *ca, *cb;
		size_t ha = home[edges.v[k].a], hb = home[edges.v[k].b];

		if (ha == hb)
			continue;
		ca = &cl[ha];
		cb = &cl[hb];
		if (ca->n == 0) {
			ca->m = xmalloc(sizeof(*ca->m));
			ca->m[ca->n++] = edges.v[k].a;
		}
		if (cb->n == 0) {
			cb->m = xmalloc(sizeof(*cb->m));
			cb->m[cb->n++] = edges.v[k].b;
		}
		if (match_merge(&x, ca, cb))
			for (size_t i = 0; i < ca->n; i++)
				home[ca->m[i]] = ha;
	}

	for (size_t i = 0; i < n; i++) {
		struct match_group *g;

		if (cl[i].dead || cl[i].n < 2) {
			free(cl[i].m);
			continue;
		}
		out->v = xreallocarray(out->v, out->n + 1, sizeof(*out->v));
		g = &out->v[out->n++];
		memset(g, 0, sizeof(*g));
		g->members = cl[i].m;
		g->n = cl[i].n;
		g->score = cl[i].score;
		qsort_r(g->members, g->n, sizeof(*g->members), match_member_cmp,
		        &x);
		match_describe(&x, g);
	}
	if (out->n > 0)
		qsort_r(out->v, out->n, sizeof(*out->v), match_group_cmp, &x);

	free(cl);
	free(home);
	free(order);
	free(edges.v);
	free(x.f);
	free(x.norm);
	free(x.idf);
	return 0;
}

void
match_result_free(struct match_result *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].members);
	free(r->v);
	memset(r, 0, sizeof(*r));
}
