/* test_catalog.c - pricing (currency, markup chain, min_rate, round_to) on a
 * table of cases computed by hand, and catalogue building: routes, imports,
 * category globs, collisions, dropped services, the rendered reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "catalog.h"
#include "config.h"
#include "dialect.h"
#include "log.h"
#include "money.h"

static const char base_cfg[] =
    "store:\n  sqlite: /tmp/unused.db\n"
    "pricing:\n  markup: \"25%\"\n  round_to: \"0.0001\"\n"
    "currencies:\n  EUR: \"1.08\"\n"
    "upstreams:\n"
    "  - name: alpha\n    url: \"https://alpha.example/api/v2\"\n"
    "    key: k1\n"
    "  - name: beta\n    url: \"https://beta.example/api/v2\"\n"
    "    key: k2\n    currency: EUR\n    markup: \"30%\"\n"
    "  - name: gamma\n    url: \"https://gamma.example/api/v2\"\n"
    "    key: k3\n    markup: {percent: 10, fixed: \"0.05\", min_rate: 2}\n"
    "  - name: delta\n    url: \"https://delta.example/api/v2\"\n"
    "    key: k4\n    markup: \"0.10\"\n";

static struct config *
load(const char *services)
{
	struct cfg_errors errs = {NULL, 0};
	char *text;
	struct config *cfg;

	if (asprintf(&text, "%s%s", base_cfg, services) < 0)
		fail();
	cfg = config_load_buffer("test.yaml", text, strlen(text), &errs);
	for (size_t i = 0; i < errs.n; i++)
		print_message("# %s\n", errs.msgs[i]);
	cfg_errors_clear(&errs);
	free(text);
	assert_non_null(cfg);
	return cfg;
}

static money_t
M(const char *s)
{
	money_t v;

	if (money_parse(s, &v) != 0)
		fail_msg("bad literal %s", s);
	return v;
}

struct price_case {
	const char *upstream;
	const char *svc_markup; /* NULL: none */
	const char *rate;       /* upstream rate, upstream currency */
	const char *want;       /* marked-up panel rate, by hand */
	const char *want_cost;  /* converted cost, by hand */
};

static void
test_price_table(void **state)
{
	/* Each line computed by hand:
	 * alpha USD, global 25%: 0.90 x 1.25 = 1.125
	 * 0.0045 x 1.25 = 0.005625 -> up to 0.0001 = 0.0057
	 * 0.00001 x 1.25 = 0.0000125 -> 0.0001 (never rounds to free)
	 * 8 x 1.25 = 10
	 * beta EUR x 1.08, 30%: 1.00 -> 1.08 x 1.3 = 1.404
	 * 0.33333333 EUR -> 0.3599999964 -> up 0.36 -> x 1.3 = 0.468
	 * gamma 10% + 0.05, floor 2: 0.9 -> 0.99 + 0.05 = 1.04 -> 2
	 *   and 3 -> 3.3 + 0.05 = 3.35
	 * delta fixed 0.10: 0.90 -> 1.00
	 * service 40% beats upstream 30% and global: beta 1.00 -> 1.08 x 1.4
	 *   = 1.512
	 * service fixed 0.5 on alpha: 0.9 + 0.5 = 1.4
	 * 0.12345 x 1.25 = 0.1543125 -> 0.1544 */
	static const struct price_case cases[] = {
	    {"alpha", NULL, "0.90", "1.125", "0.9"},
	    {"alpha", NULL, "0.0045", "0.0057", "0.0045"},
	    {"alpha", NULL, "0.00001", "0.0001", "0.00001"},
	    {"alpha", NULL, "8", "10", "8"},
	    {"alpha", NULL, "0", "0", "0"},
	    {"beta", NULL, "1.00", "1.404", "1.08"},
	    {"beta", NULL, "0.33333333", "0.468", "0.36"},
	    {"gamma", NULL, "0.9", "2", "0.9"},
	    {"gamma", NULL, "3", "3.35", "3"},
	    {"delta", NULL, "0.90", "1", "0.9"},
	    {"beta", "40%", "1.00", "1.512", "1.08"},
	    {"alpha", "0.5", "0.9", "1.4", "0.9"},
	    {"alpha", NULL, "0.12345", "0.1544", "0.12345"},
	};
	struct config *cfg = load("");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct price_case *k = &cases[i];
		const struct cfg_upstream *up =
		    config_upstream(cfg, k->upstream);
		struct cfg_markup sm = {0, 0, 0, 0};
		money_t got, cost;
		char a[MONEY_BUFSZ], b[MONEY_BUFSZ];

		assert_non_null(up);
		if (k->svc_markup != NULL)
			assert_int_equal(
			    cfg_parse_markup_string(k->svc_markup, &sm), 0);
		assert_int_equal(
		    catalog_price(cfg, up, &sm, M(k->rate), &got, &cost), 0);
		if (got != M(k->want) || cost != M(k->want_cost))
			fail_msg(
			    "case %zu: %s %s: got %s cost %s, want %s "
			    "cost %s",
			    i, k->upstream, k->rate, money_format(got, 0, a),
			    money_format(cost, 0, b), k->want, k->want_cost);
	}
	config_free(cfg);
}

/* A services list as a dialect parse would give it. */
static void
svc(struct dialect_services *l, int64_t id, const char *name,
    const char *category, const char *rate, int64_t min, int64_t max,
    int refill)
{
	struct dialect_service *s;

	l->v = realloc(l->v, (l->n + 1) * sizeof(*l->v));
	s = &l->v[l->n++];
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->name = strdup(name);
	s->type = strdup("Default");
	s->category = strdup(category);
	s->rate = M(rate);
	s->min = min;
	s->max = max;
	s->refill = refill;
	s->cancel = 1;
}

static void
test_build(void **state)
{
	struct config *cfg =
	    load("services:\n"
	         "  - id: 1\n    route: [\"alpha:1\", \"beta:77\"]\n"
	         "  - id: 2\n    route: [\"alpha:2\"]\n    name: \"Renamed\"\n"
	         "    min: 100\n    markup: \"40%\"\n"
	         "  - id: 3\n    route: [\"alpha:999\"]\n"    /* dropped */
	         "  - id: 100001\n    route: [\"beta:77\"]\n" /* collides */
	         "  - import: alpha\n    id_offset: 100000\n"
	         "    categories: [\"Instagram*\"]\n");
	struct dialect_services lists[4];
	const struct catalog_service *s;
	struct catalog *c;
	json_t *j, *o;

	memset(lists, 0, sizeof(lists));
	svc(&lists[0], 1, "IG Followers", "Instagram Followers", "0.90", 50,
	    10000, 1);
	svc(&lists[0], 2, "TT Likes", "TikTok", "2", 10, 5000, 0);
	svc(&lists[0], 5, "IG Likes", "Instagram Likes", "0.0045", 10, 1000, 0);
	svc(&lists[1], 77, "Followers EU", "Instagram", "1.00", 100, 5000, 0);
	c = catalog_build(cfg, lists);

	/* routed over two upstreams: the higher rate, the narrower limits,
	 * refill only if every route has it */
	s = catalog_find(c, 1);
	assert_non_null(s);
	assert_int_equal(s->rate, M("1.404"));
	assert_int_equal(s->nroutes, 2);
	assert_int_equal(s->routes[0].rate, M("1.125"));
	assert_int_equal(s->routes[1].cost, M("1.08"));
	assert_int_equal(s->min, 100);
	assert_int_equal(s->max, 5000);
	assert_int_equal(s->refill, 0);
	assert_string_equal(s->name, "IG Followers");
	/* overrides */
	s = catalog_find(c, 2);
	assert_non_null(s);
	assert_string_equal(s->name, "Renamed");
	assert_int_equal(s->min, 100);
	assert_int_equal(s->max, 5000);
	assert_int_equal(s->rate, M("2.8"));
	/* a route to a service the upstream does not offer: not listed */
	assert_null(catalog_find(c, 3));
	/* the explicit 100001 wins over the import's 100001 */
	s = catalog_find(c, 100001);
	assert_non_null(s);
	assert_int_equal(s->routes[0].upstream, 1);
	assert_int_equal(c->skipped, 1);
	/* import with the category glob: 100005 yes, 100002 (TikTok) no */
	s = catalog_find(c, 100005);
	assert_non_null(s);
	assert_int_equal(s->rate, M("0.0057"));
	assert_null(catalog_find(c, 100002));
	assert_int_equal(c->n, 4);

	/* the rendered reply: SPEC section 4's shape, sorted by id */
	j = json_loads(c->json, 0, NULL);
	assert_non_null(j);
	assert_true(json_is_array(j));
	assert_int_equal(json_array_size(j), 4);
	o = json_array_get(j, 0);
	assert_int_equal(json_integer_value(json_object_get(o, "service")), 1);
	assert_string_equal(json_string_value(json_object_get(o, "rate")),
	                    "1.404");
	assert_string_equal(json_string_value(json_object_get(o, "min")),
	                    "100");
	assert_string_equal(json_string_value(json_object_get(o, "max")),
	                    "5000");
	assert_string_equal(json_string_value(json_object_get(o, "type")),
	                    "Default");
	assert_true(json_is_false(json_object_get(o, "refill")));
	assert_true(json_is_true(json_object_get(o, "cancel")));
	assert_true(json_is_false(json_object_get(o, "dripfeed")));
	o = json_array_get(j, 3);
	assert_int_equal(json_integer_value(json_object_get(o, "service")),
	                 100005);
	assert_string_equal(json_string_value(json_object_get(o, "rate")),
	                    "0.0057");
	json_decref(j);

	/* the upstream drops service 1: the routed service falls back to its
	 * second entry; a rate change applies to the new snapshot only */
	free(lists[0].v[0].name);
	free(lists[0].v[0].type);
	free(lists[0].v[0].category);
	lists[0].v[0] = lists[0].v[2];
	lists[0].n = 2;
	lists[1].v[0].rate = M("2");
	{
		struct catalog *c2 = catalog_build(cfg, lists);

		s = catalog_find(c2, 1);
		assert_non_null(s);
		assert_int_equal(s->nroutes, 1);
		assert_int_equal(s->rate, M("2.808"));
		assert_int_equal(catalog_find(c, 1)->rate, M("1.404"));
		catalog_unref(c2);
	}
	catalog_unref(c);
	for (int i = 0; i < 4; i++)
		dialect_services_free(&lists[i]);
	config_free(cfg);
}

static void
test_empty(void **state)
{
	struct config *cfg =
	    load("services:\n  - id: 1\n    route: [\"alpha:1\"]\n");
	struct dialect_services lists[4];
	struct catalog *c;

	memset(lists, 0, sizeof(lists));
	c = catalog_build(cfg, lists);
	assert_int_equal(c->n, 0);
	assert_string_equal(c->json, "[]");
	assert_null(catalog_find(c, 1));
	catalog_unref(c);
	config_free(cfg);

	/* an import of an upstream not synced yet: nothing at all */
	cfg = load("services:\n  - import: alpha\n");
	c = catalog_build(cfg, lists);
	assert_int_equal(c->n, 0);
	assert_string_equal(c->json, "[]");
	catalog_unref(c);
	config_free(cfg);
}

/* Issue 15: an upstream's "unlimited" maximum (int64's largest) keeps the
 * service; its limits are clamped to the largest quantity panelmux takes,
 * and the clamping is counted for the log. */
static void
test_qty_clamp(void **state)
{
	struct config *cfg =
	    load("services:\n"
	         "  - id: 1\n    route: [\"alpha:1\"]\n"
	         "  - id: 2\n    route: [\"alpha:2\"]\n"
	         "  - id: 3\n    route: [\"alpha:3\", \"gamma:3\"]\n"
	         "  - id: 4\n    route: [\"alpha:1\"]\n    max: 5000\n");
	struct dialect_services lists[4];
	const struct catalog_service *s;
	struct catalog *c;
	json_t *j;

	memset(lists, 0, sizeof(lists));
	svc(&lists[0], 1, "Unlimited", "X", "0.90", 10, INT64_MAX, 1);
	svc(&lists[0], 2, "Huge min", "X", "0.90", INT64_MAX, INT64_MAX, 1);
	svc(&lists[0], 3, "Routed", "X", "0.90", 10, INT64_MAX, 1);
	svc(&lists[2], 3, "Routed", "X", "0.90", 20, 7000, 1);
	c = catalog_build(cfg, lists);

	s = catalog_find(c, 1);
	assert_non_null(s);
	assert_int_equal(s->min, 10);
	assert_int_equal(s->max, CATALOG_QTY_MAX);
	assert_int_equal(s->routes[0].max, CATALOG_QTY_MAX);
	s = catalog_find(c, 2);
	assert_non_null(s);
	assert_int_equal(s->min, CATALOG_QTY_MAX);
	assert_int_equal(s->max, CATALOG_QTY_MAX);
	s = catalog_find(c, 3); /* the other route's limits still narrow */
	assert_non_null(s);
	assert_int_equal(s->min, 20);
	assert_int_equal(s->max, 7000);
	s = catalog_find(c, 4); /* the config's override wins */
	assert_non_null(s);
	assert_int_equal(s->max, 5000);
	assert_int_equal(c->n, 4);
	assert_int_equal(c->skipped, 0);
	/* routes clamped: 1, 2, 3's first, 4 */
	assert_int_equal(c->clamped, 4);

	j = json_loads(c->json, 0, NULL);
	assert_non_null(j);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(j, 0), "max")),
	    "1000000000000");
	json_decref(j);
	catalog_unref(c);
	for (int i = 0; i < 4; i++)
		dialect_services_free(&lists[i]);
	config_free(cfg);
}

/* The listed refill/cancel flag of local service ID in C's reply. */
static int
listed(const struct catalog *c, int64_t id, const char *flag)
{
	json_t *j = json_loads(c->json, 0, NULL), *o;
	size_t i;
	int v = -1;

	assert_non_null(j);
	json_array_foreach(j, i, o)
	{
		if (json_integer_value(json_object_get(o, "service")) != id)
			continue;
		assert_true(json_is_boolean(json_object_get(o, flag)));
		v = json_is_true(json_object_get(o, flag));
	}
	json_decref(j);
	return v;
}

/* Issue 15: refill and cancel are allowed only when every route's upstream
 * lists the flag true, or the config says so; a flag an upstream does not
 * list (the v1 family) is unknown and neither listed nor allowed. */
static void
test_flags(void **state)
{
	struct config *cfg =
	    load("services:\n"
	         "  - id: 1\n    route: [\"alpha:1\"]\n"
	         "  - id: 2\n    route: [\"alpha:2\"]\n"
	         "  - id: 3\n    route: [\"alpha:2\"]\n"
	         "    refill: true\n    cancel: true\n"
	         "  - id: 4\n    route: [\"beta:4\", \"alpha:2\"]\n"
	         "  - id: 5\n    route: [\"beta:4\", \"gamma:5\"]\n"
	         "  - id: 6\n    route: [\"beta:4\"]\n    cancel: false\n"
	         "  - import: alpha\n    id_offset: 100\n"
	         "    refill: true\n");
	struct dialect_services lists[4];
	const struct catalog_service *s;
	struct catalog *c;

	memset(lists, 0, sizeof(lists));
	svc(&lists[0], 1, "listed", "X", "1", 1, 10, 1);
	svc(&lists[0], 2, "v1", "X", "1", 1, 10, DIALECT_FLAG_UNKNOWN);
	lists[0].v[1].cancel = DIALECT_FLAG_UNKNOWN;
	svc(&lists[1], 4, "both", "X", "1", 1, 10, 1);
	svc(&lists[2], 5, "no refill", "X", "1", 1, 10, 0);
	c = catalog_build(cfg, lists);

	/* listed true by the upstream */
	assert_int_equal(catalog_service_allows(c, 1, CATALOG_REFILL), 1);
	assert_int_equal(catalog_service_allows(c, 1, CATALOG_CANCEL), 1);
	assert_int_equal(listed(c, 1, "refill"), 1);
	s = catalog_find(c, 1);
	assert_int_equal(s->refill_flag, 1);
	/* not listed: unknown, shown false, refused */
	s = catalog_find(c, 2);
	assert_non_null(s);
	assert_int_equal(s->refill_flag, DIALECT_FLAG_UNKNOWN);
	assert_int_equal(s->cancel_flag, DIALECT_FLAG_UNKNOWN);
	assert_int_equal(catalog_service_allows(c, 2, CATALOG_REFILL), 0);
	assert_int_equal(catalog_service_allows(c, 2, CATALOG_CANCEL), 0);
	assert_int_equal(listed(c, 2, "refill"), 0);
	assert_int_equal(listed(c, 2, "cancel"), 0);
	/* the config's override for a v1 upstream whose services do */
	assert_int_equal(catalog_service_allows(c, 3, CATALOG_REFILL), 1);
	assert_int_equal(catalog_service_allows(c, 3, CATALOG_CANCEL), 1);
	assert_int_equal(listed(c, 3, "refill"), 1);
	assert_int_equal(listed(c, 3, "cancel"), 1);
	assert_int_equal(catalog_find(c, 3)->refill_flag, DIALECT_FLAG_UNKNOWN);
	/* two routes: one unknown makes it unknown, one false makes it
	 * false */
	assert_int_equal(catalog_find(c, 4)->refill_flag, DIALECT_FLAG_UNKNOWN);
	assert_int_equal(catalog_service_allows(c, 4, CATALOG_REFILL), 0);
	assert_int_equal(catalog_find(c, 5)->refill_flag, 0);
	assert_int_equal(catalog_service_allows(c, 5, CATALOG_REFILL), 0);
	assert_int_equal(catalog_service_allows(c, 5, CATALOG_CANCEL), 1);
	/* an override may also take a flag away */
	assert_int_equal(catalog_service_allows(c, 6, CATALOG_REFILL), 1);
	assert_int_equal(catalog_service_allows(c, 6, CATALOG_CANCEL), 0);
	assert_int_equal(listed(c, 6, "cancel"), 0);
	/* an import's override covers each imported service */
	assert_int_equal(catalog_service_allows(c, 102, CATALOG_REFILL), 1);
	assert_int_equal(catalog_service_allows(c, 102, CATALOG_CANCEL), 0);
	assert_int_equal(listed(c, 102, "refill"), 1);
	/* no such service */
	assert_int_equal(catalog_service_allows(c, 999, CATALOG_REFILL), 0);
	assert_int_equal(catalog_service_allows(NULL, 1, CATALOG_REFILL), 0);

	catalog_unref(c);
	for (int i = 0; i < 4; i++)
		dialect_services_free(&lists[i]);
	config_free(cfg);
}

/* The days an upstream's refill_time names: a refill window after
 * completion, or none. */
static void
test_refill_days(void **state)
{
	assert_int_equal(catalog_refill_days("30"), 30);
	assert_int_equal(catalog_refill_days("30 days"), 30);
	assert_int_equal(catalog_refill_days("365 Days"), 365);
	assert_int_equal(catalog_refill_days(" 7D"), 7);
	assert_int_equal(catalog_refill_days("60-day refill"), 60);
	assert_int_equal(catalog_refill_days("Lifetime"), 0);
	assert_int_equal(catalog_refill_days("No refill"), 0);
	assert_int_equal(catalog_refill_days("12 hours"), 0);
	assert_int_equal(catalog_refill_days("0"), 0);
	assert_int_equal(catalog_refill_days("99999999999999999999"), 0);
	assert_int_equal(catalog_refill_days(""), 0);
	assert_int_equal(catalog_refill_days(NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_price_table),
	    cmocka_unit_test(test_refill_days),
	    cmocka_unit_test(test_build),
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_qty_clamp),
	    cmocka_unit_test(test_flags),
	};

	log_init("test_catalog", LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
