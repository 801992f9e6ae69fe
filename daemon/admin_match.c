/* admin_match.c - GET /adminapi/v2/services/match: the matcher (lib/match.h)
 * over the panel's lists of every upstream, or of those named.
 *
 * Matching 3 x 5,000 services takes 0.4 to 1 s of CPU: on the event loop
 * that would stall every customer for as long.  The lists are copied (a
 * sync may replace them meanwhile) and matched on a thread of its own,
 * which hands the rendered reply back through a pipe the loop watches.
 * One match at a time; the thread touches nothing but its copy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "admin_job.h"
#include "admin_match.h"
#include "catalog.h"
#include "config.h"
#include "dialect.h"
#include "match.h"
#include "panel.h"
#include "log.h"
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

/* A match running on its thread. */
struct admin_match_job {
	struct match_item *items; /* the copy: its strings are owned */
	size_t n;
	char **names; /* NUPS upstream names, owned */
	size_t nups;
	double score;
	int decimals;
	char *text; /* the thread's result: the JSON text, or NULL */
	struct admin_job *job;
	admin_match_cb cb;
	void *arg;
};

static struct admin_match_job *admin_match_running;

static char *
admin_match_strdup(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static void
admin_match_job_free(struct admin_match_job *j)
{
	for (size_t i = 0; i < j->n; i++) {
		free((char *)j->items[i].name);
		free((char *)j->items[i].type);
		free((char *)j->items[i].category);
		free((char *)j->items[i].refill_time);
	}
	for (size_t i = 0; i < j->nups; i++)
		free(j->names[i]);
	free(j->items);
	free(j->names);
	free(j->text);
	free(j);
}

/* The thread: pure work over the copy. */
static void
admin_match_thread(void *arg)
{
	struct admin_match_job *j = arg;
	struct match_result r;
	json_t *out;

	if (match_run(j->items, j->n, j->nups, j->score, &r) == 0) {
		out = match_json(&r, j->items, (const char *const *)j->names,
		                 j->decimals, j->score);
		match_result_free(&r);
		if (out != NULL)
			j->text = json_dumps(out, JSON_COMPACT);
		json_decref(out);
	}
}

/* On the loop: the thread is done. */
static void
admin_match_done(void *arg)
{
	struct admin_match_job *j = arg;
	json_t *data = NULL;

	admin_match_running = NULL;
	if (j->text != NULL)
		data = json_loads(j->text, 0, NULL);
	j->cb(j->arg, data);
	admin_match_job_free(j);
}

int
admin_match_start(const struct panel *p, const char *upstreams,
                  const char *min_score, admin_match_cb cb, void *arg,
                  int *status, char *msg, size_t len)
{
	const struct config *cfg = p->cfg;
	size_t *ups = xcalloc(p->nups + 1, sizeof(*ups)), nups = 0, n = 0;
	struct admin_match_job *j = NULL;
	double score = MATCH_DEFAULT_SCORE;

	*status = 400;
	if (min_score != NULL) {
		char *end;

		score = strtod(min_score, &end);
		if (end == min_score || *end != '\0' || !(score >= 0) ||
		    score > 1) {
			snprintf(msg, len,
			         "min_score must be a number from 0 to 1");
			goto fail;
		}
	}
	if (upstreams != NULL && upstreams[0] != '\0') {
		if (admin_match_pick(p, upstreams, ups, &nups, msg, len) != 0)
			goto fail;
	} else {
		for (size_t k = 0; k < p->nups; k++)
			ups[nups++] = k;
	}
	if (admin_match_running != NULL) {
		*status = 503;
		snprintf(msg, len, "a match is running; try again shortly");
		goto fail;
	}
	for (size_t i = 0; i < nups; i++)
		n += p->ups[ups[i]].list.n;
	if (n > MATCH_ITEMS_MAX) {
		*status = 500;
		snprintf(msg, len, "too many services to match");
		goto fail;
	}
	j = xcalloc(1, sizeof(*j));
	j->items = xcalloc(n + 1, sizeof(*j->items));
	j->names = xcalloc(nups + 1, sizeof(*j->names));
	j->nups = nups;
	j->score = score;
	j->decimals = cfg->money_decimals;
	j->cb = cb;
	j->arg = arg;
	for (size_t i = 0; i < nups; i++) {
		const struct cfg_upstream *up = &cfg->upstreams[ups[i]];
		const struct dialect_services *l = &p->ups[ups[i]].list;

		j->names[i] = xstrdup(up->name);
		for (size_t k = 0; k < l->n; k++) {
			const struct dialect_service *s = &l->v[k];
			struct match_item *it = &j->items[j->n++];
			money_t rate;

			it->upstream = i;
			it->id = s->id;
			it->name = xstrdup(s->name);
			it->type = xstrdup(s->type);
			it->category = xstrdup(s->category);
			it->refill_time = admin_match_strdup(s->refill_time);
			if (catalog_price(cfg, up, NULL, s->rate, &rate,
			                  &it->cost) != 0)
				it->cost = -1;
			it->min = s->min;
			it->max = s->max;
			it->refill = s->refill;
			it->dripfeed = s->dripfeed;
		}
	}
	*status = 500;
	j->job = admin_job_start(p->base, admin_match_thread, admin_match_done,
	                         j);
	if (j->job == NULL) {
		snprintf(msg, len, "the match could not start");
		goto fail;
	}
	admin_match_running = j;
	free(ups);
	return 0;
fail:
	if (j != NULL)
		admin_match_job_free(j);
	free(ups);
	return -1;
}

void
admin_match_stop(void (*drop)(void *arg))
{
	struct admin_match_job *j = admin_match_running;

	/* Shutting down: the match ends in a second; its request is gone
	 * with its listener, so nobody is answered. */
	if (j == NULL)
		return;
	admin_job_abandon(j->job);
	admin_match_running = NULL;
	if (drop != NULL)
		drop(j->arg);
	admin_match_job_free(j);
}
