/* match_render.c - the matcher's groups as text, as ready-to-paste
 * `services:` YAML entries, and as JSON (the CLI's --format json and the
 * admin API's services/match share it). */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "match.h"
#include "money.h"

/* Whether route I of G misses the limits G is listed with (when the
 * members' limits do not overlap, the first route's). */
static int
match_route_outside(const struct match_group *g, const struct match_item *it)
{
	return it->max < g->min || it->min > g->max;
}

static void
match_yaml_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void
match_reasons_line(FILE *f, const struct match_group *g)
{
	for (size_t k = 0; k < g->nreasons; k++)
		fprintf(f, "%s%s", k ? "; " : "", g->reasons[k]);
}

void
match_print_text(FILE *f, const struct match_result *r,
                 const struct match_item *items, const char *const *names,
                 int decimals)
{
	char cost[MONEY_BUFSZ];

	for (size_t i = 0; i < r->n; i++) {
		const struct match_group *g = &r->v[i];

		fprintf(f, "group %zu  score %.2f  ", i + 1, g->score);
		match_reasons_line(f, g);
		fputc('\n', f);
		for (size_t k = 0; k < g->n; k++) {
			const struct match_item *it = &items[g->members[k]];
			char route[64];

			snprintf(route, sizeof(route), "%s:%lld",
			         names[it->upstream], (long long)it->id);
			fprintf(f, "  %-20s %12s %8lld..%-10lld %s%s\n", route,
			        it->cost >= 0
			            ? money_format(it->cost, decimals, cost)
			            : "?",
			        (long long)it->min, (long long)it->max,
			        it->name,
			        match_route_outside(g, it)
			            ? "  [limits do not overlap]"
			            : "");
		}
	}
	fprintf(f,
	        "%zu groups from %zu services (%zu without a platform or "
	        "kind), %llu pairs scored\n",
	        r->n, r->nitems, r->nunread, (unsigned long long)r->npairs);
}

void
match_print_yaml(FILE *f, const struct match_result *r,
                 const struct match_item *items, const char *const *names,
                 int64_t first_id)
{
	fprintf(f,
	        "# panelmux services match: %zu groups; paste under "
	        "services:, review each one\n",
	        r->n);
	for (size_t i = 0; i < r->n; i++) {
		const struct match_group *g = &r->v[i];
		const struct match_item *first = &items[g->members[0]];

		fprintf(f, "  # score %.2f: ", g->score);
		match_reasons_line(f, g);
		fputc('\n', f);
		if (!g->limits_overlap) {
			fprintf(f, "  # WARNING: limits do not overlap:");
			for (size_t k = 0; k < g->n; k++) {
				const struct match_item *it =
				    &items[g->members[k]];

				fprintf(f, " %s:%lld %lld..%lld%s",
				        names[it->upstream], (long long)it->id,
				        (long long)it->min, (long long)it->max,
				        match_route_outside(g, it)
				            ? " (outside)"
				            : "");
			}
			fputc('\n', f);
		}
		fprintf(f, "  - id: %lld\n    route: [",
		        (long long)(first_id + (int64_t)i));
		for (size_t k = 0; k < g->n; k++) {
			const struct match_item *it = &items[g->members[k]];

			fprintf(f, "%s\"%s:%lld\"", k ? ", " : "",
			        names[it->upstream], (long long)it->id);
		}
		fprintf(f, "]\n    name: ");
		match_yaml_string(f, first->name);
		fprintf(f, "\n    category: ");
		match_yaml_string(f, first->category[0] != '\0'
		                         ? first->category
		                         : match_platform_name(g->platform));
		fputc('\n', f);
	}
}

static json_t *
match_money(money_t v, int decimals)
{
	char buf[MONEY_BUFSZ];

	return v >= 0 ? json_string(money_format(v, decimals, buf))
	              : json_null();
}

/* A score as a decimal string of two places ("0.88"), as money is: a JSON
 * real would print as 0.95499999999999996. */
static json_t *
match_score_text(double score)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%.2f", score);
	return json_string(buf);
}

/* S as a JSON string; text that is not UTF-8 (never from the dialect or
 * the store, which keep only UTF-8) is shown as such rather than lost. */
static json_t *
match_text(const char *s)
{
	json_t *v = json_string(s);

	return v != NULL ? v : json_string("(not UTF-8)");
}

json_t *
match_json(const struct match_result *r, const struct match_item *items,
           const char *const *names, int decimals, double min_score)
{
	json_t *groups = json_array();

	for (size_t i = 0; i < r->n; i++) {
		const struct match_group *g = &r->v[i];
		json_t *routes = json_array(), *reasons = json_array();

		for (size_t k = 0; k < g->nreasons; k++)
			json_array_append_new(reasons,
			                      json_string(g->reasons[k]));
		for (size_t k = 0; k < g->n; k++) {
			const struct match_item *it = &items[g->members[k]];

			json_array_append_new(
			    routes,
			    json_pack(
			        "{s:s,s:I,s:o,s:o,s:o,s:o,s:I,s:I,s:b,s:b}",
			        "upstream", names[it->upstream], "service",
			        (json_int_t)it->id, "name", match_text(it->name),
			        "type", match_text(it->type), "category",
			        match_text(it->category), "cost",
			        match_money(it->cost, decimals), "min",
			        (json_int_t)it->min, "max", (json_int_t)it->max,
			        "dripfeed", it->dripfeed != 0, "limits_outside",
			        match_route_outside(g, it)));
		}
		json_array_append_new(
		    groups,
		    json_pack("{s:o,s:s,s:s,s:s,s:b,s:I,s:I,s:o,s:o}", "score",
		              match_score_text(g->score), "platform",
		              match_platform_name(g->platform), "kind",
		              match_kind_name(g->kind), "sub",
		              match_sub_name(g->sub), "limits_overlap",
		              g->limits_overlap, "min", (json_int_t)g->min,
		              "max", (json_int_t)g->max, "reasons", reasons,
		              "routes", routes));
	}
	return json_pack(
	    "{s:o,s:I,s:I,s:I,s:I,s:o}", "min_score",
	    match_score_text(min_score), "services", (json_int_t)r->nitems,
	    "unread", (json_int_t)r->nunread, "pairs_scored",
	    (json_int_t)r->npairs, "count", (json_int_t)r->n, "groups", groups);
}
