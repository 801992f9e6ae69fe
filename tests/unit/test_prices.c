/* test_prices.c - the price-change diff (appeared, dropped, changed, with
 * cost and price before and after, computed by hand) and the bad-sync
 * guard's arithmetic, including the per-upstream max_drop over the global
 * one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "dialect.h"
#include "money.h"
#include "prices.h"

static const char cfg_text[] =
    "store:\n  sqlite: /tmp/unused.db\n"
    "pricing:\n  markup: \"25%\"\n  round_to: \"0.0001\"\n"
    "  max_drop: \"40%\"\n"
    "currencies:\n  EUR: \"1.08\"\n"
    "upstreams:\n"
    "  - name: alpha\n    url: \"https://alpha.example/api/v2\"\n"
    "    key: k1\n"
    "  - name: beta\n    url: \"https://beta.example/api/v2\"\n"
    "    key: k2\n    currency: EUR\n    markup: \"30%\"\n"
    "    max_drop: \"90%\"\n"
    "services:\n  - import: alpha\n    id_offset: 0\n";

static struct config *
load(void)
{
	struct cfg_errors errs = {NULL, 0};
	struct config *cfg =
	    config_load_buffer("test.yaml", cfg_text, strlen(cfg_text), &errs);

	for (size_t i = 0; i < errs.n; i++)
		print_message("# %s\n", errs.msgs[i]);
	cfg_errors_clear(&errs);
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

/* A list of N services: IDS[i] at RATES[i] (the other fields unused). */
static void
list_of(struct dialect_services *l, const int64_t *ids,
        const char *const *rates, size_t n)
{
	memset(l, 0, sizeof(*l));
	l->n = n;
	l->v = calloc(n > 0 ? n : 1, sizeof(*l->v));
	assert_non_null(l->v);
	for (size_t i = 0; i < n; i++) {
		l->v[i].id = ids[i];
		l->v[i].rate = M(rates[i]);
	}
}

static const struct price_change *
find(const struct price_diff *d, int64_t id)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].service == id)
			return &d->v[i];
	return NULL;
}

static void
test_diff(void **state)
{
	struct config *cfg = load();
	static const int64_t old_ids[] = {3, 1, 2, 7};
	static const char *const old_rates[] = {"0.0045", "0.90", "8", "1"};
	/* 1 rate up, 2 dropped, 3 unchanged, 7 same rate, 9 appeared; the
	 * new list in another order */
	static const int64_t new_ids[] = {9, 7, 3, 1};
	static const char *const new_rates[] = {"2.50", "1", "0.0045", "1.10"};
	struct dialect_services a, b;
	struct price_diff d;
	const struct price_change *c;

	list_of(&a, old_ids, old_rates, 4);
	list_of(&b, new_ids, new_rates, 4);
	/* alpha: USD, 25% */
	price_diff(cfg, &cfg->upstreams[0], &a, &b, &d);
	assert_int_equal(d.stored, 4);
	assert_int_equal(d.n, 3);
	assert_int_equal(d.count[PRICE_CHANGED], 1);
	assert_int_equal(d.count[PRICE_DROPPED], 1);
	assert_int_equal(d.count[PRICE_APPEARED], 1);
	/* by service ID */
	assert_int_equal(d.v[0].service, 1);
	assert_int_equal(d.v[1].service, 2);
	assert_int_equal(d.v[2].service, 9);
	c = find(&d, 1);
	assert_int_equal(c->kind, PRICE_CHANGED);
	assert_int_equal(c->cost_before, M("0.90"));
	assert_int_equal(c->cost_after, M("1.10"));
	assert_int_equal(c->price_before, M("1.125"));
	assert_int_equal(c->price_after, M("1.375"));
	c = find(&d, 2);
	assert_int_equal(c->kind, PRICE_DROPPED);
	assert_int_equal(c->cost_before, M("8"));
	assert_int_equal(c->price_before, M("10"));
	assert_true(c->cost_after == PRICE_NONE &&
	            c->price_after == PRICE_NONE);
	c = find(&d, 9);
	assert_int_equal(c->kind, PRICE_APPEARED);
	assert_true(c->cost_before == PRICE_NONE &&
	            c->price_before == PRICE_NONE);
	assert_int_equal(c->cost_after, M("2.50"));
	assert_int_equal(c->price_after, M("3.125"));
	price_diff_free(&d);

	/* beta: EUR x 1.08, its own 30%: 0.0045 EUR = 0.00486, x 1.3 =
	 * 0.006318 -> 0.0064; 1.10 EUR = 1.188 -> 1.5444 */
	price_diff(cfg, &cfg->upstreams[1], &a, &b, &d);
	c = find(&d, 1);
	assert_non_null(c);
	assert_int_equal(c->cost_before, M("0.972"));
	assert_int_equal(c->price_before, M("1.2636"));
	assert_int_equal(c->cost_after, M("1.188"));
	assert_int_equal(c->price_after, M("1.5444"));
	assert_null(find(&d, 3));
	price_diff_free(&d);

	/* a first sync (nothing stored) records nothing */
	dialect_services_free(&a);
	list_of(&a, NULL, NULL, 0);
	price_diff(cfg, &cfg->upstreams[0], &a, &b, &d);
	assert_int_equal(d.n, 0);
	assert_int_equal(d.stored, 0);
	price_diff_free(&d);
	price_diff_free(NULL);

	/* everything dropped: an empty reply */
	price_diff(cfg, &cfg->upstreams[0], &b, &a, &d);
	assert_int_equal(d.count[PRICE_DROPPED], 4);
	assert_int_equal(d.stored, 4);
	price_diff_free(&d);
	dialect_services_free(&a);
	dialect_services_free(&b);
	config_free(cfg);
}

static void
test_guard(void **state)
{
	struct config *cfg = load();

	/* the global 40% for alpha, beta's own 90% */
	assert_int_equal(price_max_drop(cfg, &cfg->upstreams[0]), M("40"));
	assert_int_equal(price_max_drop(cfg, &cfg->upstreams[1]), M("90"));
	/* more than the share refuses; exactly the share applies */
	assert_false(price_drop_refused(10, 4, M("40")));
	assert_true(price_drop_refused(10, 5, M("40")));
	assert_false(price_drop_refused(20, 10, M("50")));
	assert_true(price_drop_refused(20, 11, M("50")));
	assert_true(price_drop_refused(20, 18, M("50"))); /* 10% left */
	assert_true(price_drop_refused(20, 20, M("50"))); /* an empty list */
	assert_false(price_drop_refused(20, 20, M("100")));
	assert_true(price_drop_refused(3, 1, M("0")));
	/* nothing stored, nothing dropped: never refused */
	assert_false(price_drop_refused(0, 0, M("0")));
	assert_false(price_drop_refused(5, 0, M("0")));
	/* a fraction of a percent counts */
	assert_true(price_drop_refused(1000000, 500001, M("50")));
	assert_false(price_drop_refused(1000000, 500000, M("50")));
	assert_string_equal(price_kind_name(PRICE_DROPPED), "dropped");
	assert_int_equal(price_kind_parse("appeared"), PRICE_APPEARED);
	assert_int_equal(price_kind_parse("other"), -1);
	config_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_diff),
	    cmocka_unit_test(test_guard),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
