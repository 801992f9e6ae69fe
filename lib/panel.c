/* panel.c - upstreams, catalogue snapshots and the periodic sync. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "catalog.h"
#include "config.h"
#include "dialect.h"
#include "log.h"
#include "panel.h"
#include "store.h"
#include "upstream.h"
#include "xmalloc.h"

static void
panel_rebuild(struct panel *p)
{
	struct dialect_services *lists;
	struct catalog *old = p->cat;

	lists = xcalloc(p->nups != 0 ? p->nups : 1, sizeof(*lists));
	for (size_t i = 0; i < p->nups; i++)
		lists[i] = p->ups[i].list; /* shallow: the build copies */
	p->cat = catalog_build(p->cfg, lists);
	free(lists);
	catalog_unref(old);
	log_info("catalog: %zu services listed (%zu left out)", p->cat->n,
	         p->cat->skipped);
}

static void
panel_save_state(struct panel_upstream *pu)
{
	snprintf(pu->state.circuit, sizeof(pu->state.circuit), "%s",
	         up_circuit_name(upstream_circuit(pu->up)));
	if (store_upstream_state_put(pu->panel->st, &pu->state) != STORE_OK)
		log_warnx("upstream %s: cannot save its state", pu->state.name);
}

static void
panel_schedule(struct panel_upstream *pu)
{
	const struct cfg_upstream *cu = &pu->panel->cfg->upstreams[pu->idx];
	struct timeval tv;

	tv.tv_sec = cu->sync_interval_ms / 1000;
	tv.tv_usec = (cu->sync_interval_ms % 1000) * 1000;
	evtimer_add(pu->timer, &tv);
}

static void
panel_sync_end(struct panel_upstream *pu, int ok, const char *why)
{
	struct panel *p = pu->panel;

	pu->syncing = 0;
	panel_save_state(pu);
	if (p->on_sync != NULL)
		p->on_sync(p, pu->idx, ok, why, p->on_sync_arg);
}

static void
panel_balance_done(const struct up_result *res, void *arg)
{
	struct panel_upstream *pu = arg;
	struct dialect_balance b;

	if (res->transport == UP_REPLIED &&
	    dialect_balance((int)res->http_status, res->body, res->len, &b) ==
	        DIALECT_OK) {
		pu->state.has_balance = 1;
		pu->state.balance = b.balance;
		snprintf(pu->state.currency, sizeof(pu->state.currency), "%s",
		         b.has_currency ? b.currency : "");
		pu->state.balance_at = (int64_t)time(NULL);
	} else {
		log_warnx("upstream %s: balance: %s", pu->state.name,
		          res->transport == UP_REPLIED ? "unusable reply"
		                                       : res->reason);
	}
	panel_sync_end(pu, pu->state.synced_at != 0, NULL);
}

static void
panel_services_done(const struct up_result *res, void *arg)
{
	struct panel_upstream *pu = arg;
	struct panel *p = pu->panel;
	struct dialect_services list;
	enum dialect_result r;
	const char *why;

	if (res->transport != UP_REPLIED) {
		log_warnx("upstream %s: services: %s; keeping the last known "
		          "catalogue",
		          pu->state.name, res->reason);
		panel_sync_end(pu, 0, res->reason);
		return;
	}
	r = dialect_services((int)res->http_status, res->body, res->len, &list);
	if (r != DIALECT_OK) {
		if (r == DIALECT_FAULT)
			upstream_note_fault(pu->up);
		log_warnx("upstream %s: services: %s: %s; keeping the last "
		          "known catalogue",
		          pu->state.name, dialect_result_name(r), list.msg);
		dialect_services_free(&list);
		why = r == DIALECT_FAULT ? "unusable reply" : "rejected";
		panel_sync_end(pu, 0, why);
		return;
	}
	if (list.nskipped > 0)
		log_warnx("upstream %s: services: %zu malformed entries "
		          "skipped (%s)",
		          pu->state.name, list.nskipped, list.msg);
	if (store_catalog_replace(p->st, pu->state.name, &list) != STORE_OK) {
		dialect_services_free(&list);
		panel_sync_end(pu, 0, "store error");
		return;
	}
	dialect_services_free(&pu->list);
	pu->list = list;
	pu->state.synced_at = (int64_t)time(NULL);
	pu->state.services = (int64_t)list.n;
	log_info("upstream %s: %zu services imported", pu->state.name, list.n);
	panel_rebuild(p);
	upstream_call(pu->up, "balance", NULL, 0, panel_balance_done, pu);
}

void
panel_sync(struct panel *p, size_t idx)
{
	struct panel_upstream *pu = &p->ups[idx];

	if (pu->syncing)
		return;
	pu->syncing = 1;
	upstream_call(pu->up, "services", NULL, UP_LARGE, panel_services_done,
	              pu);
}

static void
panel_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct panel_upstream *pu = arg;

	panel_sync(pu->panel, pu->idx);
	panel_schedule(pu);
}

void
panel_start(struct panel *p)
{
	for (size_t i = 0; i < p->nups; i++) {
		panel_sync(p, i);
		panel_schedule(&p->ups[i]);
	}
}

void
panel_reload(struct panel *p, const struct config *cfg)
{
	p->cfg = cfg;
	for (size_t i = 0; i < p->nups && p->eng != NULL; i++)
		upstream_update(p->ups[i].up, &cfg->upstreams[i]);
	panel_rebuild(p);
}

int
panel_upstream_index(const struct panel *p, const char *name)
{
	for (size_t i = 0; i < p->nups; i++)
		if (strcmp(p->cfg->upstreams[i].name, name) == 0)
			return (int)i;
	return -1;
}

struct panel *
panel_new(struct event_base *base, const struct config *cfg, struct store *st)
{
	struct panel *p = xcalloc(1, sizeof(*p));

	p->base = base;
	p->cfg = cfg;
	p->st = st;
	if ((p->eng = up_engine_new(base)) == NULL) {
		free(p);
		return NULL;
	}
	p->nups = cfg->nupstreams;
	p->ups = xcalloc(p->nups != 0 ? p->nups : 1, sizeof(*p->ups));
	for (size_t i = 0; i < p->nups; i++) {
		struct panel_upstream *pu = &p->ups[i];
		const struct cfg_upstream *cu = &cfg->upstreams[i];

		pu->panel = p;
		pu->idx = i;
		pu->up = upstream_new(p->eng, cu);
		pu->timer = evtimer_new(base, panel_timer_cb, pu);
		if (pu->timer == NULL)
			fatalx("panel: out of memory for a timer");
		if (store_upstream_state_get(st, cu->name, &pu->state) ==
		    STORE_ERROR)
			log_warnx("upstream %s: stored state unreadable",
			          cu->name);
		snprintf(pu->state.name, sizeof(pu->state.name), "%s",
		         cu->name);
		if (pu->state.updated_at == 0)
			pu->state.multi_ok = 1;
		if (store_catalog_load(st, cu->name, &pu->list) != STORE_OK)
			log_warnx("upstream %s: stored catalogue unreadable",
			          cu->name);
		else if (pu->list.n > 0)
			log_info("upstream %s: %zu services from the store",
			         cu->name, pu->list.n);
	}
	panel_rebuild(p);
	return p;
}

void
panel_stop_engine(struct panel *p)
{
	if (p == NULL || p->eng == NULL)
		return;
	/* The engine ends calls in flight; their callbacks still see the
	 * upstreams, so those go after it. */
	p->on_sync = NULL;
	up_engine_free(p->eng);
	p->eng = NULL;
}

void
panel_free(struct panel *p)
{
	if (p == NULL)
		return;
	panel_stop_engine(p);
	for (size_t i = 0; i < p->nups; i++) {
		if (p->ups[i].timer != NULL)
			event_free(p->ups[i].timer);
		dialect_services_free(&p->ups[i].list);
	}
	free(p->ups);
	catalog_unref(p->cat);
	free(p);
}
