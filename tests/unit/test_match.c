/* test_match.c - the service matcher (lib/match.h): the normaliser's pieces
 * (case, emoji, brackets, platform spellings, units, refill words, the
 * seeds' languages), the hard rules (type, refill vs none, bot vs real,
 * geo), one service per upstream, determinism, the renderers, and the
 * pairwise precision and recall on the labelled set tests/unit/
 * match_set.json (written by match_set.py) at the default score. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "match.h"
#include "money.h"

static const char *set_path = "tests/unit/match_set.json";

static void
norm_is(const char *in, const char *want)
{
	char out[MATCH_NORM_MAX];

	match_norm(in, out, sizeof(out));
	if (strcmp(out, want) != 0)
		fail_msg("match_norm(\"%s\") = \"%s\", want \"%s\"", in, out,
		         want);
}

static void
test_norm_case_emoji_brackets(void **state)
{
	norm_is("Instagram Followers [Real] HQ ♻️ R30",
	        "instagram followers real hq refill30");
	norm_is("🔥🔥 INSTAGRAM   followers!!! (REAL)",
	        "instagram followers real");
	norm_is("⭐ TikTok Likes {HQ} ⚡", "tiktok likes hq");
	norm_is("", "");
	norm_is("[]()-|/ ♻️", "");
}

static void
test_norm_platforms(void **state)
{
	norm_is("IG Followers", "instagram followers");
	norm_is("Insta Likes", "instagram likes");
	norm_is("TT Views", "tiktok views");
	norm_is("Tik Tok Views", "tiktok views");
	norm_is("YT Subs", "youtube subscribers");
	norm_is("You Tube Views", "youtube views");
	norm_is("FB Page Likes", "facebook page likes");
	norm_is("X Followers", "twitter followers");
	norm_is("Twitter/X Followers", "twitter followers");
	norm_is("TG Members", "telegram members");
	norm_is("Imeslayen n Faysbuk", "comments facebook");
}

static void
test_norm_units(void **state)
{
	norm_is("Instagram 1K Followers", "instagram 1000 followers");
	norm_is("Followers 1.5k", "followers 1500");
	norm_is("Followers 10,000", "followers 10000");
	norm_is("Views 2M", "views 2000000");
	norm_is("Followers Max 350K", "followers 350000");
}

static void
test_norm_refill(void **state)
{
	norm_is("Followers R30", "followers refill30");
	norm_is("Followers 30D Refill", "followers refill30");
	norm_is("Followers Refill 30 Days", "followers refill30");
	norm_is("Followers (30 days auto refill)", "followers refill30");
	norm_is("Followers ♻️ Lifetime", "followers refilllife");
	norm_is("Followers Lifetime Refill", "followers refilllife");
	norm_is("Followers - No Refill", "followers norefill");
	norm_is("Followers Non-Refill", "followers norefill");
	norm_is("Followers NoRefill", "followers norefill");
	norm_is("Followers Refill 1 Month", "followers refill30");
	norm_is("Followers 30 Gün Garantili", "followers refill30");
	norm_is("Takipçi Garantisiz", "followers norefill");
	norm_is("Beğeni Refill Yok", "likes norefill");
	norm_is("Follower Ricarica 30 Giorni", "followers refill30");
	norm_is("Follower Senza Ricarica", "followers norefill");
	norm_is("Follower Ricarica a Vita", "followers refilllife");
}

static void
test_norm_quality(void **state)
{
	norm_is("Followers High Quality", "followers hq");
	norm_is("Followers Low Quality", "followers bot");
	norm_is("Followers Premium", "followers hq");
	norm_is("Gerçek Takipçi", "real followers");
	norm_is("Follower Reali", "followers real");
	norm_is("Follower Alta Qualità", "followers hq");
}

static void
test_norm_languages(void **state)
{
	/* The seeds' own examples (/work/shared/seeds). */
	norm_is("Imḍebbaren n Instagram", "followers instagram");
	norm_is("Follower di Instagram", "followers instagram");
	norm_is("Commenti di Facebook", "comments facebook");
	/* Turkish: dotted/dotless i, cedilla, breve. */
	norm_is("İnstagram Türk Takipçi Beğeni İzlenme",
	        "instagram turkey followers likes views");
	norm_is("YouTube Abone", "youtube subscribers");
	/* Arabic: alef forms, taa marbuta, the article, tashkeel. */
	norm_is("متابعين انستقرام حقيقي ضمان 30 يوم",
	        "followers instagram real refill30");
	norm_is("لايكات تيك توك بدون ضمان", "likes tiktok norefill");
	norm_is("مُشاهَدات يوتيوب", "views youtube");
	norm_is("أعضاء تيليجرام", "members telegram");
	norm_is("ضمان مدى الحياة", "refilllife");
	/* Italian. */
	norm_is("Mi Piace di Instagram", "likes instagram");
	norm_is("Visualizzazioni Storie Instagram", "views story instagram");
}

static struct match_item
item(size_t up, int64_t id, const char *name, const char *type,
     const char *rate, int64_t min, int64_t max, int refill)
{
	struct match_item it;

	memset(&it, 0, sizeof(it));
	it.upstream = up;
	it.id = id;
	it.name = name;
	it.type = type;
	it.category = "";
	it.refill = refill;
	it.min = min;
	it.max = max;
	if (money_parse(rate, &it.cost) != 0)
		it.cost = -1;
	return it;
}

/* Whether R groups items A and B together. */
static int
together(const struct match_result *r, size_t a, size_t b)
{
	for (size_t g = 0; g < r->n; g++) {
		int ia = 0, ib = 0;

		for (size_t k = 0; k < r->v[g].n; k++) {
			ia |= r->v[g].members[k] == a;
			ib |= r->v[g].members[k] == b;
		}
		if (ia || ib)
			return ia && ib;
	}
	return 0;
}

static void
test_issue_example(void **state)
{
	struct match_item v[] = {
	    item(0, 1448, "Instagram Followers [Real] HQ", "Default", "0.90",
	         50, 10000, 1),
	    item(1, 77, "IG Followers - Real - Refill 30D", "Default", "0.85",
	         100, 20000, 1),
	    item(0, 1449, "Instagram Likes [Real] HQ", "Default", "0.30", 50,
	         10000, 1),
	};
	struct match_result r;

	assert_int_equal(match_run(v, 3, 2, MATCH_DEFAULT_SCORE, &r), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.v[0].n, 2);
	/* cheapest first: beta's 0.85 before alpha's 0.90 */
	assert_int_equal(r.v[0].members[0], 1);
	assert_int_equal(r.v[0].members[1], 0);
	assert_true(r.v[0].limits_overlap);
	assert_int_equal(r.v[0].min, 100);
	assert_int_equal(r.v[0].max, 10000);
	assert_string_equal(match_platform_name(r.v[0].platform), "instagram");
	assert_string_equal(match_kind_name(r.v[0].kind), "followers");
	match_result_free(&r);
	match_result_free(NULL);
}

static void
test_hard_rules(void **state)
{
	struct match_item v[] = {
	    /* 0, 1: another type */
	    item(0, 1, "Instagram Followers 1000", "Default", "1", 100, 1000,
	         -1),
	    item(1, 1, "Instagram Followers 1000", "Package", "1", 1, 1, -1),
	    /* 2, 3: refill vs no refill */
	    item(0, 2, "TikTok Likes Real R30", "Default", "1", 10, 1000, 1),
	    item(1, 2, "TikTok Likes Real No Refill", "Default", "1", 10, 1000,
	         0),
	    /* 4, 5: real vs bot */
	    item(0, 3, "YouTube Views Real", "Default", "1", 10, 1000, -1),
	    item(1, 3, "YouTube Views Bot", "Default", "1", 10, 1000, -1),
	    /* 6, 7: geo */
	    item(0, 4, "Instagram Turkish Likes", "Default", "1", 10, 1000, -1),
	    item(1, 4, "Instagram Likes", "Default", "1", 10, 1000, -1),
	    /* 8, 9: story views vs views */
	    item(0, 5, "Instagram Story Views", "Default", "1", 10, 1000, -1),
	    item(1, 5, "Instagram Views", "Default", "1", 10, 1000, -1),
	    /* 10, 11: likes vs followers */
	    item(0, 6, "Twitter Likes HQ", "Default", "1", 10, 1000, -1),
	    item(1, 6, "Twitter Followers HQ", "Default", "1", 10, 1000, -1),
	};
	struct match_result r;

	assert_int_equal(match_run(v, 12, 2, 0.0, &r), 0);
	for (size_t i = 0; i < 12; i += 2)
		if (together(&r, i, i + 1))
			fail_msg("items %zu and %zu grouped", i, i + 1);
	match_result_free(&r);
}

static void
test_one_per_upstream(void **state)
{
	struct match_item v[] = {
	    item(0, 1, "Instagram Followers Real R30", "Default", "1", 10, 1000,
	         1),
	    item(0, 2, "Instagram Followers Real R30 Fast", "Default", "1", 10,
	         1000, 1),
	    item(1, 1, "IG Followers Real 30D Refill", "Default", "1", 10, 1000,
	         1),
	    item(2, 1, "Instagram Gerçek Takipçi 30 Gün Garantili", "Default",
	         "1", 10, 1000, 1),
	};
	struct match_result r;

	assert_int_equal(match_run(v, 4, 3, MATCH_DEFAULT_SCORE, &r), 0);
	for (size_t g = 0; g < r.n; g++) {
		int seen[3] = {0, 0, 0};

		for (size_t k = 0; k < r.v[g].n; k++)
			assert_int_equal(seen[v[r.v[g].members[k]].upstream]++,
			                 0);
	}
	assert_true(together(&r, 2, 3));
	match_result_free(&r);
	/* An upstream index out of range is refused. */
	assert_int_equal(match_run(v, 4, 2, MATCH_DEFAULT_SCORE, &r), -1);
	assert_int_equal(r.n, 0);
}

static void
test_limits_flag_and_yaml(void **state)
{
	struct match_item v[] = {
	    item(0, 10, "Instagram Followers Real R30", "Default", "1.00", 10,
	         1000, 1),
	    item(1, 20, "IG Followers \"Real\" 30D Refill", "Default", "1.10",
	         5000, 100000, 1),
	};
	const char *names[] = {"alpha", "beta"};
	struct match_result r;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	json_t *j;

	assert_int_equal(match_run(v, 2, 2, 0.3, &r), 0);
	assert_int_equal(r.n, 1);
	assert_false(r.v[0].limits_overlap);
	assert_int_equal(r.v[0].min, 10); /* the first route's */
	f = open_memstream(&buf, &len);
	match_print_yaml(f, &r, v, names, 900);
	fclose(f);
	assert_non_null(strstr(buf, "# WARNING: limits do not overlap"));
	assert_non_null(strstr(buf, "beta:20 5000..100000 (outside)"));
	assert_non_null(strstr(buf, "  - id: 900\n    route: [\"alpha:10\", "
	                            "\"beta:20\"]\n"));
	free(buf);
	j = match_json(&r, v, names, 5, 0.3);
	assert_non_null(j);
	assert_true(json_is_true(json_object_get(
	    json_array_get(
	        json_object_get(json_array_get(json_object_get(j, "groups"), 0),
	                        "routes"),
	        1),
	    "limits_outside")));
	json_decref(j);
	match_result_free(&r);
}

/*
 * The labelled set.
 */

struct set {
	json_t *root;
	struct match_item *items;
	const char **groups;
	size_t n;
};

static int
set_load(struct set *s)
{
	json_error_t err;
	json_t *ups, *svc;
	size_t cap = 0;

	memset(s, 0, sizeof(*s));
	if ((s->root = json_load_file(set_path, 0, &err)) == NULL) {
		print_error("%s: %s\n", set_path, err.text);
		return -1;
	}
	ups = json_object_get(s->root, "upstreams");
	svc = json_object_get(s->root, "services");
	for (size_t u = 0; u < json_array_size(ups); u++)
		cap += json_array_size(json_object_get(
		    svc, json_string_value(json_array_get(ups, u))));
	s->items = calloc(cap, sizeof(*s->items));
	s->groups = calloc(cap, sizeof(*s->groups));
	for (size_t u = 0; u < json_array_size(ups); u++) {
		json_t *list = json_object_get(
		    svc, json_string_value(json_array_get(ups, u)));

		for (size_t i = 0; i < json_array_size(list); i++) {
			json_t *o = json_array_get(list, i), *rf;
			struct match_item *it = &s->items[s->n];

			it->upstream = u;
			it->id =
			    json_integer_value(json_object_get(o, "service"));
			it->name =
			    json_string_value(json_object_get(o, "name"));
			it->type =
			    json_string_value(json_object_get(o, "type"));
			it->category =
			    json_string_value(json_object_get(o, "category"));
			it->refill_time = json_string_value(
			    json_object_get(o, "refill_time"));
			it->min =
			    atoll(json_string_value(json_object_get(o, "min")));
			it->max =
			    atoll(json_string_value(json_object_get(o, "max")));
			rf = json_object_get(o, "refill");
			it->refill = rf == NULL ? -1 : json_is_true(rf);
			it->dripfeed =
			    json_is_true(json_object_get(o, "dripfeed"));
			if (money_parse(
			        json_string_value(json_object_get(o, "rate")),
			        &it->cost) != 0)
				it->cost = -1;
			s->groups[s->n] =
			    json_string_value(json_object_get(o, "group"));
			s->n++;
		}
	}
	return 0;
}

static void
set_free(struct set *s)
{
	free(s->items);
	free(s->groups);
	json_decref(s->root);
}

/* The group R puts each item in (-1: none). */
static void
assigned(const struct match_result *r, size_t n, long *g)
{
	for (size_t i = 0; i < n; i++)
		g[i] = -1;
	for (size_t k = 0; k < r->n; k++)
		for (size_t m = 0; m < r->v[k].n; m++)
			g[r->v[k].members[m]] = (long)k;
}

struct counts {
	size_t tp, fp, fn;
};

/* Pairs of services from different upstreams: grouped and truly together
 * (TP), grouped but not (FP), together but not grouped (FN). */
static void
count_pairs(const struct set *s, const struct match_result *r, struct counts *c)
{
	long *g = calloc(s->n, sizeof(*g));

	assigned(r, s->n, g);
	for (size_t a = 0; a < s->n; a++)
		for (size_t b = a + 1; b < s->n; b++) {
			int truth, said;

			if (s->items[a].upstream == s->items[b].upstream)
				continue;
			truth = strcmp(s->groups[a], s->groups[b]) == 0;
			said = g[a] >= 0 && g[a] == g[b];
			c->tp += truth && said;
			c->fp += !truth && said;
			c->fn += truth && !said;
		}
	free(g);
}

static void
test_labelled_set(void **state)
{
	struct set s;
	struct match_result r;
	long *g;
	size_t tp = 0, fp = 0, fn = 0;
	double precision, recall;

	assert_int_equal(set_load(&s), 0);
	assert_true(s.n >= 300);
	assert_int_equal(match_run(s.items, s.n, 3, MATCH_DEFAULT_SCORE, &r),
	                 0);
	g = calloc(s.n, sizeof(*g));
	assigned(&r, s.n, g);
	for (size_t a = 0; a < s.n; a++) {
		for (size_t b = a + 1; b < s.n; b++) {
			int truth, said;

			if (s.items[a].upstream == s.items[b].upstream)
				continue;
			truth = strcmp(s.groups[a], s.groups[b]) == 0;
			said = g[a] >= 0 && g[a] == g[b];
			tp += truth && said;
			fp += !truth && said;
			fn += truth && !said;
			if (getenv("MATCH_VERBOSE") != NULL && truth != said)
				printf("# %s: %s [%s] / %s [%s]\n",
				       said ? "FALSE PAIR" : "MISSED",
				       s.items[a].name, s.groups[a],
				       s.items[b].name, s.groups[b]);
		}
	}
	precision = tp + fp > 0 ? (double)tp / (double)(tp + fp) : 0;
	recall = tp + fn > 0 ? (double)tp / (double)(tp + fn) : 0;
	printf("# labelled set: %zu services, %zu groups proposed at score "
	       ">= %.2f; pairs: %zu right, %zu wrong, %zu missed; precision "
	       "%.3f, recall %.3f\n",
	       s.n, r.n, MATCH_DEFAULT_SCORE, tp, fp, fn, precision, recall);
	assert_true(precision >= 0.95);
	assert_true(recall >= 0.80);
	free(g);
	match_result_free(&r);
	/* The same at other minimum scores, for the reader (not checked). */
	for (double t = 0.40; t < 0.91; t += 0.10) {
		struct counts c = {0, 0, 0};

		assert_int_equal(match_run(s.items, s.n, 3, t, &r), 0);
		count_pairs(&s, &r, &c);
		printf(
		    "#   at %.2f: precision %.3f, recall %.3f (%zu groups)\n",
		    t, c.tp + c.fp ? (double)c.tp / (double)(c.tp + c.fp) : 0,
		    c.tp + c.fn ? (double)c.tp / (double)(c.tp + c.fn) : 0,
		    r.n);
		match_result_free(&r);
	}
	set_free(&s);
}

/* The same input gives the same groups, whatever ran before. */
static void
test_deterministic(void **state)
{
	struct set s;
	struct match_result a, b;

	assert_int_equal(set_load(&s), 0);
	assert_int_equal(match_run(s.items, s.n, 3, 0.5, &a), 0);
	assert_int_equal(match_run(s.items, s.n, 3, 0.5, &b), 0);
	assert_int_equal(a.n, b.n);
	for (size_t k = 0; k < a.n; k++) {
		assert_int_equal(a.v[k].n, b.v[k].n);
		assert_true(a.v[k].score == b.v[k].score);
		assert_memory_equal(a.v[k].members, b.v[k].members,
		                    a.v[k].n * sizeof(size_t));
	}
	match_result_free(&a);
	match_result_free(&b);
	set_free(&s);
}

/* The matcher alone over about 3 x 5,000 services: the labelled set 42
 * times over (other IDs), so the blocks are 42 times as large as the set's
 * and every name has 41 twins in its own upstream. */
static void
test_scale(void **state)
{
	struct set s;
	struct match_result r;
	struct match_item *big;
#if defined(__SANITIZE_ADDRESS__)
	/* Under ASan the full size takes about a minute (its allocator):
	 * check the code path on a sixth of it, time nothing. */
	size_t copies = 7, n;
	int timed = 0;
#else
	size_t copies = 42, n;
	int timed = getenv("MATCH_NO_TIMING") == NULL;
#endif
	struct timespec t0, t1, c0, c1;
	double secs, cpu;

	assert_int_equal(set_load(&s), 0);
	n = s.n * copies;
	big = calloc(n, sizeof(*big));
	for (size_t c = 0; c < copies; c++)
		for (size_t i = 0; i < s.n; i++) {
			big[c * s.n + i] = s.items[i];
			big[c * s.n + i].id += (int64_t)c * 100000;
		}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	assert_int_equal(match_run(big, n, 3, MATCH_DEFAULT_SCORE, &r), 0);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	cpu = (double)(c1.tv_sec - c0.tv_sec) +
	      (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
	printf("# match_run over %zu services (3 upstreams): %.3f s (%.3f s of "
	       "CPU), %llu pairs scored, %zu groups\n",
	       n, secs, cpu, (unsigned long long)r.npairs, r.n);
	/* CPU time, not wall time: the machines are shared. */
	if (timed)
		assert_true(cpu < 2.0);
	match_result_free(&r);
	free(big);
	set_free(&s);
}

int
main(int argc, char **argv)
{
	static char path[4096];
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_norm_case_emoji_brackets),
	    cmocka_unit_test(test_norm_platforms),
	    cmocka_unit_test(test_norm_units),
	    cmocka_unit_test(test_norm_refill),
	    cmocka_unit_test(test_norm_quality),
	    cmocka_unit_test(test_norm_languages),
	    cmocka_unit_test(test_issue_example),
	    cmocka_unit_test(test_hard_rules),
	    cmocka_unit_test(test_one_per_upstream),
	    cmocka_unit_test(test_limits_flag_and_yaml),
	    cmocka_unit_test(test_labelled_set),
	    cmocka_unit_test(test_deterministic),
	    cmocka_unit_test(test_scale),
	};
	FILE *f;

	/* Run from the tree (tests/run.sh) or as build/tests/test_match. */
	if (getenv("MATCH_SET") != NULL)
		set_path = getenv("MATCH_SET");
	else if ((f = fopen(set_path, "r")) != NULL)
		fclose(f);
	else if (argc > 0 && strrchr(argv[0], '/') != NULL) {
		snprintf(path, sizeof(path),
		         "%.*s/../../tests/unit/match_set.json",
		         (int)(strrchr(argv[0], '/') - argv[0]), argv[0]);
		set_path = path;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
