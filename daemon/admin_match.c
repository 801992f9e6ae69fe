/* admin_match.c - GET /adminapi/v2/services/match: the matcher (lib/match.h)
 * over the panel's lists of every upstream, or of those named. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_match.h"
#include "catalog.h"
#include "config.h"
#include "dialect.h"
#include "match.h"
#include "panel.h"
#include "xmalloc.h"

/* Pick the upstreams named in the comma list S into UPS (config indices),
 * each once; every name must be known.  0, or -1 with why in MSG. */
static int
admin_match_pick(const struct panel *p, const char *s, size_t *ups, size_t *n,
                 char *msg, size_t len)
{
	char *copy = xstrdup(s), *save = NULL, *tok;
	int rc = 0;

	*n = 0;
	for (tok = strtok_r(copy, ",", &save); tok != NULL && rc == 0;
	     tok = strtok_r(NULL, ",", &save)) {
		size_t k;

		while (*tok == ' ')
			tok++;
		for (k = 0; k < p->nups; k++)
			if (strcmp(p->cfg->upstreams[k].name, tok) == 0)
				break;
		if (k == p->nups) {
			snprintf(msg, len, "no upstream named %.64s", tok);
			rc = -1;
			break;
		}
		for (size_t j = 0; j < *n; j++)
			if (ups[j] == k)
				k = SIZE_MAX;
		if (k != SIZE_MAX)
			ups[(*n)++] = k;
	}
	free(copy);
	if (rc == 0 && *n == 0) {
		snprintf(msg, len, "upstreams names no upstream");
		rc = -1;
	}
	return rc;
}

json_t *
admin_match_groups(const struct panel *p, const char *upstreams,
                   const char *min_score, int *status, char *msg, size_t len)
{
	const struct config *cfg = p->cfg;
	size_t *ups = xcalloc(p->nups + 1, sizeof(*ups)), nups = 0, n = 0;
	const char **names = xcalloc(p->nups + 1, sizeof(*names));
	struct match_item *items = NULL;
	struct match_result r;
	double score = MATCH_DEFAULT_SCORE;
	json_t *out = NULL;

	*status = 400;
	if (min_score != NULL) {
		char *end;

		score = strtod(min_score, &end);
		if (end == min_score || *end != '\0' || !(score >= 0) ||
		    score > 1) {
			snprintf(msg, len,
			         "min_score must be a number from 0 "
			         "to 1");
			goto done;
		}
	}
	if (upstreams != NULL && upstreams[0] != '\0') {
		if (admin_match_pick(p, upstreams, ups, &nups, msg, len) != 0)
			goto done;
	} else {
		for (size_t k = 0; k < p->nups; k++)
			ups[nups++] = k;
	}
	for (size_t i = 0; i < nups; i++)
		n += p->ups[ups[i]].list.n;
	items = xcalloc(n + 1, sizeof(*items));
	n = 0;
	for (size_t i = 0; i < nups; i++) {
		const struct cfg_upstream *up = &cfg->upstreams[ups[i]];
		const struct dialect_services *l = &p->ups[ups[i]].list;

		names[i] = up->name;
		for (size_t k = 0; k < l->n; k++) {
			const struct dialect_service *s = &l->v[k];
			struct match_item *it = &items[n++];
			money_t rate;

			it->upstream = i;
			it->id = s->id;
			it->name = s->name;
			it->type = s->type;
			it->category = s->category;
			it->refill_time = s->refill_time;
			if (catalog_price(cfg, up, NULL, s->rate, &rate,
			                  &it->cost) != 0)
				it->cost = -1;
			it->min = s->min;
			it->max = s->max;
			it->refill = s->refill;
			it->dripfeed = s->dripfeed;
		}
	}
	if (match_run(items, n, nups, score, &r) != 0) {
		*status = 500;
		snprintf(msg, len, "too many services to match");
		goto done;
	}
	out = match_json(&r, items, names, cfg->money_decimals, score);
	match_result_free(&r);
	*status = 200;
done:
	free(items);
	free(names);
	free(ups);
	return out;
}
