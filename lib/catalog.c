/* catalog.c - build, price and render the local service catalogue. */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "catalog.h"
#include "config.h"
#include "dialect.h"
#include "log.h"
#include "money.h"
#include "route.h"
#include "xmalloc.h"

/* 10^10: a percent stored as money (25% = 25 x 10^8) over 100. */
#define CATALOG_PERCENT_DEN (MONEY_SCALE * 100)

static const struct cfg_markup *
catalog_markup(const struct config *cfg, const struct cfg_upstream *up,
               const struct cfg_markup *svc)
{
	if (svc != NULL && svc->set)
		return svc;
	if (up->markup.set)
		return &up->markup;
	return &cfg->markup;
}

int
catalog_price(const struct config *cfg, const struct cfg_upstream *up,
              const struct cfg_markup *svc, money_t rate, money_t *out,
              money_t *cost)
{
	const struct cfg_markup *m = catalog_markup(cfg, up, svc);
	money_t factor, conv, pct, marked;

	if (config_currency_value(
	        cfg, up->currency != NULL ? up->currency : cfg->currency,
	        &factor) != 0)
		return -1;
	/* What the upstream will charge us, never understated. */
	if (money_mul(rate, factor, MONEY_ROUND_UP, &conv) != 0)
		return -1;
	if (money_mul_div(conv, m->percent, CATALOG_PERCENT_DEN, MONEY_ROUND_UP,
	                  &pct) != 0 ||
	    money_add(conv, pct, &marked) != 0 ||
	    money_add(marked, m->fixed, &marked) != 0)
		return -1;
	if (m->min_rate > 0 && marked < m->min_rate)
		marked = m->min_rate;
	if (money_round_to(marked, cfg->round_to, MONEY_ROUND_UP, out) != 0)
		return -1;
	if (cost != NULL)
		*cost = conv;
	return 0;
}

static const struct dialect_service *
catalog_upstream_service(const struct dialect_services *list, int64_t id)
{
	/* Lists arrive in the panel's order; a linear scan per routed entry
	 * is fine (imports walk the list instead). */
	for (size_t i = 0; i < list->n; i++)
		if (list->v[i].id == id)
			return &list->v[i];
	return NULL;
}

static char *
catalog_strdup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

struct catalog_builder {
	struct catalog *c;
	size_t cap;
	const struct config *cfg;
};

static struct catalog_service *
catalog_append(struct catalog_builder *b)
{
	struct catalog_service *s;

	if (b->c->n == b->cap) {
		b->cap = b->cap != 0 ? b->cap * 2 : 64;
		b->c->v = xreallocarray(b->c->v, b->cap, sizeof(*b->c->v));
	}
	s = &b->c->v[b->c->n++];
	memset(s, 0, sizeof(*s));
	return s;
}

static void
catalog_service_clear(struct catalog_service *s)
{
	free(s->name);
	free(s->type);
	free(s->category);
	free(s->description);
	free(s->refill_time);
	free(s->routes);
}

/* Fill S's descriptive fields from upstream service U and the overrides
 * of config entry E. */
static void
catalog_describe(struct catalog_service *s, const struct dialect_service *u,
                 const struct cfg_service *e)
{
	s->name = xstrdup(e->name != NULL ? e->name : u->name);
	s->type = xstrdup(u->type);
	s->category = xstrdup(e->category != NULL ? e->category : u->category);
	s->description = catalog_strdup_or_null(u->description);
	s->refill_time = catalog_strdup_or_null(u->refill_time);
	s->refill_flag = u->refill;
	s->cancel_flag = u->cancel;
	s->dripfeed = u->dripfeed;
}

/* One more route's flag F (1, 0 or unknown) into the service's *FLAG: a no
 * wins, then an unknown. */
static void
catalog_flag_and(int *flag, int f)
{
	if (*flag == 0 || f == 0)
		*flag = 0;
	else if (*flag == DIALECT_FLAG_UNKNOWN || f == DIALECT_FLAG_UNKNOWN)
		*flag = DIALECT_FLAG_UNKNOWN;
}

int64_t
catalog_refill_days(const char *text)
{
	const char *p = text;
	int64_t days = 0;

	if (p == NULL)
		return 0;
	while (*p == ' ')
		p++;
	if (*p < '0' || *p > '9')
		return 0; /* "Lifetime", "No refill", "": no window named */
	for (; *p >= '0' && *p <= '9'; p++) {
		if (days > 3650)
			return 0;
		days = days * 10 + (*p - '0');
	}
	while (*p == ' ')
		p++;
	/* "30", "30 days", "30 Days", "30d", "30-day": days; other units
	 * ("12 hours", "1 year") are left to the config */
	if (*p != '\0' && *p != 'd' && *p != 'D' && *p != '-')
		return 0;
	return days > 0 && days <= 3650 ? days : 0;
}

/* What is offered: the config's word when it has one, else a yes from
 * every route's upstream; and the refill window: the service's in the
 * config, else the upstream's refill_time in days, else the default. */
static void
catalog_offers(const struct catalog_builder *b, struct catalog_service *s,
               const struct cfg_service *e)
{
	int64_t days = catalog_refill_days(s->refill_time);

	s->refill = e->refill >= 0 ? e->refill : s->refill_flag == 1;
	s->cancel = e->cancel >= 0 ? e->cancel : s->cancel_flag == 1;
	s->refill_window_ms = e->refill_window_ms > 0 ? e->refill_window_ms
	                      : days > 0              ? days * 86400 * 1000
	                                 : b->cfg->refill_window_ms;
	s->route_mode = route_mode_parse(
	    e->route_mode != NULL ? e->route_mode : b->cfg->route_mode);
	s->same_link = route_same_link_parse(
	    e->same_link != NULL ? e->same_link : b->cfg->same_link);
	if (s->route_mode < 0) /* a config built by hand (tests) */
		s->route_mode = ROUTE_ORDERED;
	if (s->same_link < 0)
		s->same_link = ROUTE_LINK_OFF;
}

static int64_t
catalog_qty(int64_t v)
{
	return v < CATALOG_QTY_MAX ? v : CATALOG_QTY_MAX;
}

/* Limits: every route's limits must allow the quantity, so failover never
 * meets a quantity the next panel refuses; then the config's overrides. */
static void
catalog_limits(struct catalog_service *s, const struct cfg_service *e)
{
	int64_t lo = 0, hi = INT64_MAX;

	for (size_t i = 0; i < s->nroutes; i++) {
		if (s->routes[i].min > lo)
			lo = s->routes[i].min;
		if (s->routes[i].max < hi)
			hi = s->routes[i].max;
	}
	if (lo > hi) { /* disjoint: the first route decides */
		lo = s->routes[0].min;
		hi = s->routes[0].max;
	}
	s->min = catalog_qty(e->min > 0 ? e->min : lo);
	s->max = catalog_qty(e->max > 0 ? e->max : hi);
}

static int
catalog_add_route(struct catalog_builder *b, struct catalog_service *s,
                  const struct cfg_service *e, size_t upi,
                  const struct dialect_service *u)
{
	const struct cfg_upstream *up = &b->cfg->upstreams[upi];
	struct catalog_route *r;
	money_t rate, cost;

	if (catalog_price(b->cfg, up, &e->markup, u->rate, &rate, &cost) != 0) {
		log_warnx("catalog: %s service %lld: price out of range",
		          up->name, (long long)u->id);
		return -1;
	}
	s->routes =
	    xreallocarray(s->routes, s->nroutes + 1, sizeof(*s->routes));
	r = &s->routes[s->nroutes++];
	r->upstream = upi;
	r->service = u->id;
	r->cost = cost;
	r->rate = rate;
	/* "Unlimited" (int64's largest) is listed as the most panelmux
	 * takes; the service is kept. */
	r->min = catalog_qty(u->min);
	r->max = catalog_qty(u->max);
	if (r->min != u->min || r->max != u->max) {
		if (b->c->clamped++ == 0)
			log_debug("catalog: %s service %lld: limits %lld/%lld "
			          "clamped to %lld",
			          up->name, (long long)u->id, (long long)u->min,
			          (long long)u->max,
			          (long long)CATALOG_QTY_MAX);
	}
	if (rate > s->rate)
		s->rate = rate;
	return 0;
}

static int
catalog_cmp(const void *a, const void *b)
{
	const struct catalog_service *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

/* A service whose price came out as zero would sell for nothing. */
static int
catalog_keep(struct catalog_builder *b, struct catalog_service *s)
{
	if (s->nroutes == 0)
		return 0;
	if (s->rate <= 0) {
		log_warnx("catalog: service %lld has a zero rate: not listed",
		          (long long)s->id);
		b->c->skipped++;
		return 0;
	}
	return 1;
}

static void
catalog_build_route(struct catalog_builder *b, const struct cfg_service *e,
                    const struct dialect_services *lists)
{
	struct catalog_service *s = catalog_append(b);

	s->id = e->id;
	for (size_t i = 0; i < e->nroutes; i++) {
		const struct cfg_route *rt = &e->routes[i];
		const struct dialect_service *u;

		u = catalog_upstream_service(&lists[rt->upstream], rt->service);
		if (u == NULL)
			continue; /* not offered (now): skip this entry */
		if (s->name == NULL)
			catalog_describe(s, u, e);
		else {
			catalog_flag_and(&s->refill_flag, u->refill);
			catalog_flag_and(&s->cancel_flag, u->cancel);
			s->dripfeed &= u->dripfeed;
		}
		catalog_add_route(b, s, e, rt->upstream, u);
	}
	if (!catalog_keep(b, s)) {
		catalog_service_clear(s);
		b->c->n--;
		return;
	}
	catalog_limits(s, e);
	catalog_offers(b, s, e);
}

static int
catalog_category_ok(const struct cfg_service *e, const char *category)
{
	if (e->ncategories == 0)
		return 1;
	for (size_t i = 0; i < e->ncategories; i++)
		if (fnmatch(e->categories[i], category, 0) == 0)
			return 1;
	return 0;
}

static void
catalog_build_import(struct catalog_builder *b, const struct cfg_service *e,
                     const struct dialect_services *lists)
{
	const struct dialect_services *list = &lists[e->import_upstream];

	for (size_t i = 0; i < list->n; i++) {
		const struct dialect_service *u = &list->v[i];
		struct catalog_service *s;

		if (!catalog_category_ok(e, u->category))
			continue;
		if (u->id > INT64_MAX - e->id_offset) {
			b->c->skipped++;
			continue;
		}
		s = catalog_append(b);
		s->id = e->id_offset + u->id;
		catalog_describe(s, u, e);
		catalog_add_route(b, s, e, e->import_upstream, u);
		if (!catalog_keep(b, s)) {
			catalog_service_clear(s);
			b->c->n--;
			continue;
		}
		catalog_limits(s, e);
		catalog_offers(b, s, e);
	}
}

static int
catalog_cmp_seq(const void *a, const void *b)
{
	const struct catalog_service *x = a, *y = b;

	if (x->id != y->id)
		return (x->id > y->id) - (x->id < y->id);
	return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Sort by id; on a collision the entry built first wins: explicit routes
 * are built before imports, imports in config order. */
static void
catalog_dedup(struct catalog *c)
{
	size_t out = 0;

	if (c->n == 0)
		return;
	for (size_t i = 0; i < c->n; i++)
		c->v[i].seq = i;
	qsort(c->v, c->n, sizeof(*c->v), catalog_cmp_seq);
	for (size_t i = 0; i < c->n; i++) {
		if (out > 0 && c->v[out - 1].id == c->v[i].id) {
			log_warnx("catalog: service id %lld is defined twice; "
			          "the first definition is kept",
			          (long long)c->v[i].id);
			catalog_service_clear(&c->v[i]);
			c->skipped++;
			continue;
		}
		c->v[out++] = c->v[i];
	}
	c->n = out;
}

static json_t *
catalog_str(const char *s)
{
	json_t *j = json_string(s);

	return j != NULL ? j : json_string("");
}

char *
catalog_render_json(const struct catalog *c, const money_t *rates,
                    size_t *len)
{
	json_t *arr = json_array();
	char rate[MONEY_BUFSZ], num[24], *out;

	for (size_t i = 0; i < c->n; i++) {
		const struct catalog_service *s = &c->v[i];
		json_t *o = json_object();

		json_object_set_new(o, "service", json_integer(s->id));
		json_object_set_new(o, "name", catalog_str(s->name));
		json_object_set_new(o, "type", catalog_str(s->type));
		json_object_set_new(o, "category", catalog_str(s->category));
		json_object_set_new(
		    o, "rate",
		    json_string(money_format(rates != NULL ? rates[i] : s->rate,
		                             2, rate)));
		snprintf(num, sizeof(num), "%lld", (long long)s->min);
		json_object_set_new(o, "min", json_string(num));
		snprintf(num, sizeof(num), "%lld", (long long)s->max);
		json_object_set_new(o, "max", json_string(num));
		json_object_set_new(o, "refill", json_boolean(s->refill));
		json_object_set_new(o, "cancel", json_boolean(s->cancel));
		json_object_set_new(o, "dripfeed", json_boolean(s->dripfeed));
		if (s->description != NULL)
			json_object_set_new(o, "description",
			                    catalog_str(s->description));
		if (s->refill_time != NULL)
			json_object_set_new(o, "refill_time",
			                    catalog_str(s->refill_time));
		json_array_append_new(arr, o);
	}
	out = json_dumps(arr, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(arr);
	if (out == NULL)
		fatalx("catalog: cannot render the services reply");
	*len = strlen(out);
	return out;
}

static void
catalog_render(struct catalog *c, const struct config *cfg)
{
	c->json = catalog_render_json(c, NULL, &c->json_len);
	(void)cfg;
}

struct catalog *
catalog_build(const struct config *cfg, const struct dialect_services *lists)
{
	struct catalog_builder b = {xcalloc(1, sizeof(struct catalog)), 0, cfg};

	b.c->refs = 1;
	for (size_t i = 0; i < cfg->nservices; i++)
		if (cfg->services[i].kind == CFG_SERVICE_ROUTE)
			catalog_build_route(&b, &cfg->services[i], lists);
	for (size_t i = 0; i < cfg->nservices; i++)
		if (cfg->services[i].kind == CFG_SERVICE_IMPORT)
			catalog_build_import(&b, &cfg->services[i], lists);
	catalog_dedup(b.c);
	catalog_render(b.c, cfg);
	return b.c;
}

struct catalog *
catalog_ref(struct catalog *c)
{
	c->refs++;
	return c;
}

void
catalog_unref(struct catalog *c)
{
	if (c == NULL || --c->refs > 0)
		return;
	for (size_t i = 0; i < c->n; i++)
		catalog_service_clear(&c->v[i]);
	free(c->v);
	free(c->json);
	free(c);
}

const struct catalog_service *
catalog_find(const struct catalog *c, int64_t id)
{
	struct catalog_service key;

	key.id = id;
	if (c == NULL || c->n == 0)
		return NULL;
	return bsearch(&key, c->v, c->n, sizeof(*c->v), catalog_cmp);
}

int
catalog_service_allows(const struct catalog *c, int64_t id,
                       enum catalog_action a)
{
	const struct catalog_service *s = catalog_find(c, id);

	if (s == NULL)
		return 0;
	return a == CATALOG_REFILL ? s->refill : s->cancel;
}
