/* panel.c - upstreams, catalogue snapshots and the periodic sync. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "catalog.h"
#include "clock.h"
#include "config.h"
#include "dialect.h"
#include "fiber.h"
#include "log.h"
#include "money.h"
#include "panel.h"
#include "route.h"
#include "pricing.h"
#include "prices.h"
#include "store.h"
#include "upstream.h"
#include "xmalloc.h"

/* The store keeps a services list as its own rows (store.h); these two
 * convert.  A save lends LIST's strings to the rows. */
static enum store_result
panel_save(struct store *st, const char *upstream,
           const struct dialect_services *list)
{
	struct store_service_rows rows;
	enum store_result r;

	rows.n = list->n;
	rows.v = xcalloc(list->n > 0 ? list->n : 1, sizeof(*rows.v));
	for (size_t i = 0; i < list->n; i++) {
		const struct dialect_service *u = &list->v[i];

		rows.v[i] = (struct store_service_row){
		    .id = u->id,
		    .name = u->name,
		    .type = u->type,
		    .category = u->category,
		    .description = u->description,
		    .refill_time = u->refill_time,
		    .rate = u->rate,
		    .min = u->min,
		    .max = u->max,
		    .refill = u->refill,
		    .cancel = u->cancel,
		    .dripfeed = u->dripfeed,
		};
	}
	r = store_catalog_replace(st, upstream, &rows);
	free(rows.v);
	return r;
}

/* A load takes the rows' strings over; OUT is empty on an error. */
static enum store_result
panel_load(struct store *st, const char *upstream, struct dialect_services *out)
{
	struct store_service_rows rows;
	enum store_result r;

	memset(out, 0, sizeof(*out));
	if ((r = store_catalog_load(st, upstream, &rows)) != STORE_OK)
		return r;
	out->n = rows.n;
	out->v = rows.n > 0 ? xcalloc(rows.n, sizeof(*out->v)) : NULL;
	for (size_t i = 0; i < rows.n; i++) {
		const struct store_service_row *w = &rows.v[i];

		out->v[i] = (struct dialect_service){
		    .id = w->id,
		    .name = w->name,
		    .type = w->type,
		    .category = w->category,
		    .description = w->description,
		    .refill_time = w->refill_time,
		    .rate = w->rate,
		    .min = w->min,
		    .max = w->max,
		    .refill = w->refill,
		    .cancel = w->cancel,
		    .dripfeed = w->dripfeed,
		};
	}
	free(rows.v);
	return STORE_OK;
}

/* Say when the floor raises customers' rules (pricing.h): once per
 * change of the counts, at a catalogue or rates change. */
static void
panel_pricing_report(struct panel *p)
{
	size_t over, groups;

	pricing_clamps(p->pricing, p->cat, p->cfg, &over, &groups);
	if (over == p->clamped_overrides && groups == p->clamped_groups)
		return;
	p->clamped_overrides = over;
	p->clamped_groups = groups;
	if (over > 0 || groups > 0)
		log_warnx("pricing: the floor (cheapest route's cost x (1 + "
		          "min_margin)) raises %zu customer overrides and %zu "
		          "group rates: `panelmux rate list` shows them",
		          over, groups);
}

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
	log_info("catalog: %zu services listed (%zu left out)", p->cat->n,
	         p->cat->skipped);
	/* Once, not at every sync: when the number changes. */
	if (p->cat->clamped > 0 &&
	    (old == NULL || old->clamped != p->cat->clamped))
		log_warnx("catalog: %zu upstream services list limits over "
		          "%lld, the largest quantity panelmux takes: clamped "
		          "to it",
		          p->cat->clamped, (long long)CATALOG_QTY_MAX);
	catalog_unref(old);
	panel_pricing_report(p);
}

/* The store's catalogue generation of PU's upstream into *GEN: 0, or -1
 * when the store keeps none or cannot say. */
static int
panel_generation(struct panel_upstream *pu, int64_t *gen)
{
	return store_catalog_generation(pu->panel->st, pu->state.name, gen) ==
	               STORE_OK
	           ? 0
	           : -1;
}

/* Install LIST (owned from now on) as PU's services list. */
static void
panel_set_list(struct panel_upstream *pu, struct dialect_services *list)
{
	dialect_services_free(&pu->list);
	pu->list = *list;
	pu->list_seq++;
	pu->state.services = (int64_t)pu->list.n;
}

static void
panel_save_state(struct panel_upstream *pu)
{
	snprintf(pu->state.circuit, sizeof(pu->state.circuit), "%s",
	         up_circuit_name(upstream_circuit(pu->up)));
	if (store_upstream_state_put(pu->panel->st, &pu->state) != STORE_OK)
		log_warnx("upstream %s: cannot save its state", pu->state.name);
}

/* Arm PU's next sync DELAY_MS from now. */
static void
panel_schedule_in(struct panel_upstream *pu, int64_t delay_ms)
{
	struct timeval tv;

	if (delay_ms < 0)
		delay_ms = 0;
	tv.tv_sec = (time_t)(delay_ms / 1000);
	tv.tv_usec = (suseconds_t)((delay_ms % 1000) * 1000);
	evtimer_add(pu->timer, &tv);
}

static void
panel_schedule(struct panel_upstream *pu)
{
	panel_schedule_in(pu,
	                  pu->panel->cfg->upstreams[pu->idx].sync_interval_ms);
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

/* Take a balance reply: the state and the estimate (in the panel
 * currency) follow it.  1 when it was a balance. */
static int
panel_balance_apply(struct panel_upstream *pu, const struct up_result *res)
{
	const struct config *cfg = pu->panel->cfg;
	struct dialect_balance b;
	money_t unit, v;

	if (res->transport != UP_REPLIED ||
	    dialect_balance((int)res->http_status, res->body, res->len, &b) !=
	        DIALECT_OK) {
		log_warnx("upstream %s: balance: %s", pu->state.name,
		          res->transport == UP_REPLIED ? "unusable reply"
		                                       : res->reason);
		return 0;
	}
	pu->state.has_balance = 1;
	pu->state.balance = b.balance;
	snprintf(pu->state.currency, sizeof(pu->state.currency), "%s",
	         b.has_currency ? b.currency : "");
	pu->state.balance_at = (int64_t)time(NULL);
	/* Converted as the upstream's rates are (its configured currency). */
	if (config_currency_value(cfg, cfg->upstreams[pu->idx].currency,
	                          &unit) != 0 ||
	    money_mul(b.balance, unit, MONEY_ROUND_DOWN, &v) != 0)
		return 1;
	route_balance_set(&pu->bal, v);
	if (route_balance_low(&pu->bal, cfg->upstreams[pu->idx].low_balance)) {
		char buf[MONEY_BUFSZ];

		log_warnx("upstream %s: balance %s %s is under its low_balance",
		          pu->state.name, money_format(v, 2, buf),
		          cfg->currency);
	}
	return 1;
}

static void
panel_balance_done(const struct up_result *res, void *arg)
{
	struct panel_upstream *pu = arg;

	panel_balance_apply(pu, res);
	panel_sync_end(pu, pu->state.synced_at != 0, NULL);
}

/* What LIST changes against PU's stored list, into *DIFF: 0, or -1 when
 * the bad-sync guard refuses LIST (not FORCE, and it drops more than the
 * upstream's max_drop of the stored services: logged and counted, nothing
 * in *DIFF).  PU's own copy is the stored list while the store's
 * generation is the one PU holds; after a save by another process (the
 * CLI, another instance) the list is read from the store, so that save is
 * what LIST is compared with.  When it cannot be read, PU's copy stands
 * in. */
static int
panel_changes(struct panel_upstream *pu, const struct dialect_services *list,
              int force, struct price_diff *diff)
{
	struct panel *p = pu->panel;
	const struct config *cfg = config_ref(p->cfg);
	const struct cfg_upstream *cu = &cfg->upstreams[pu->idx];
	struct dialect_services stored;
	const struct dialect_services *old = &stored;
	money_t max_drop = price_max_drop(cfg, cu);
	char pct[MONEY_BUFSZ];
	int rc = 0;

	uint64_t seq = pu->list_seq;
	int64_t gen;

	memset(&stored, 0, sizeof(stored));
	if (panel_generation(pu, &gen) == 0 && gen == pu->gen &&
	    pu->list_seq == seq) {
		old = &pu->list; /* the store's, already in memory */
	} else if (panel_load(p->st, pu->state.name, &stored) != STORE_OK) {
		log_warnx("upstream %s: stored catalogue unreadable: changes "
		          "are reckoned against the one in memory",
		          pu->state.name);
		old = &pu->list;
	}
	price_diff(cfg, cu, old, list, diff);
	if (price_drop_refused(diff->stored, diff->count[PRICE_DROPPED],
	                       max_drop)) {
		if (force) {
			log_warnx("upstream %s: services: %zu of %zu stored "
			          "services dropped, over max_drop %s%%: "
			          "applied, as forced",
			          pu->state.name, diff->count[PRICE_DROPPED],
			          diff->stored, money_format(max_drop, 2, pct));
		} else {
			log_warnx("upstream %s: services: the reply lists %zu "
			          "services and drops %zu of the %zu stored, "
			          "over max_drop %s%%: not applied, the stored "
			          "catalogue is kept (panelmux services sync "
			          "--force %s applies it)",
			          pu->state.name, list->n,
			          diff->count[PRICE_DROPPED], diff->stored,
			          money_format(max_drop, 2, pct),
			          pu->state.name);
			pu->refused++;
			price_diff_free(diff);
			rc = -1;
		}
	}
	if (old == &stored)
		dialect_services_free(&stored);
	config_unref(cfg);
	return rc;
}

/* Log DIFF's rows after the catalogue they describe was saved, and count
 * them.  A failure loses the rows, never the catalogue. */
static void
panel_record(struct panel_upstream *pu, const struct price_diff *diff)
{
	if (diff->n == 0)
		return;
	if (store_price_record(pu->panel->st, pu->state.name, diff->v,
	                       diff->n) != STORE_OK) {
		log_warnx("upstream %s: %zu price changes could not be "
		          "recorded",
		          pu->state.name, diff->n);
		return;
	}
	for (int k = 0; k < PRICE_NKINDS; k++)
		pu->changes[k] += diff->count[k];
	log_info("upstream %s: price changes: %zu changed, %zu appeared, "
	         "%zu dropped",
	         pu->state.name, diff->count[PRICE_CHANGED],
	         diff->count[PRICE_APPEARED], diff->count[PRICE_DROPPED]);
}

static void
panel_balance_read_done(const struct up_result *res, void *arg)
{
	struct panel_upstream *pu = arg;

	pu->balance_reading = 0;
	if (panel_balance_apply(pu, res))
		panel_save_state(pu);
}

void
panel_balance_read(struct panel *p, size_t idx)
{
	struct panel_upstream *pu = &p->ups[idx];

	/* An open circuit probes with balance calls of its own. */
	if (pu->balance_reading || pu->syncing || p->stopped ||
	    p->eng == NULL || upstream_circuit(pu->up) != UP_CIRCUIT_CLOSED)
		return;
	pu->balance_reading = 1;
	upstream_call(pu->up, "balance", NULL, 0, panel_balance_read_done, pu);
}

static void
panel_balance_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct panel_upstream *pu = arg;

	panel_balance_read(pu->panel, pu->idx);
}

static void
panel_balance_schedule(struct panel_upstream *pu)
{
	int64_t ms = pu->panel->cfg->upstreams[pu->idx].balance_interval_ms;
	struct timeval tv = {(time_t)(ms / 1000),
	                     (suseconds_t)((ms % 1000) * 1000)};

	evtimer_add(pu->balance_timer, &tv);
}

static void
panel_services_done(const struct up_result *res, void *arg)
{
	struct panel_upstream *pu = arg;
	struct panel *p = pu->panel;
	struct dialect_services list;
	enum dialect_result r;
	struct price_diff diff;
	const char *why;
	uint64_t seq;
	int64_t gen;
	int force = pu->force;

	pu->force = 0; /* one reply, whatever it is */
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
	seq = pu->list_seq;
	if (panel_changes(pu, &list, force, &diff) != 0) {
		dialect_services_free(&list);
		panel_sync_end(pu, 0, "refused: it drops too many services");
		return;
	}
	if (panel_save(p->st, pu->state.name, &list) != STORE_OK) {
		price_diff_free(&diff);
		dialect_services_free(&list);
		panel_sync_end(pu, 0, "store error");
		return;
	}
	panel_record(pu, &diff);
	price_diff_free(&diff);
	/* Tell every other process (the daemon after `panelmux services
	 * sync`, the other instances) that the list changed.  The new
	 * generation is the one held here, unless another process saved too
	 * since our last look (or a check loaded its save while the calls
	 * above parked this fiber): then the next check loads whatever the
	 * store holds last. */
	if (store_catalog_bump(p->st, pu->state.name, &gen) == STORE_OK) {
		if (gen == pu->gen + 1 && pu->list_seq == seq)
			pu->gen = gen;
	} else if (p->st->ops->catalog_bump != NULL) {
		log_warnx("upstream %s: catalogue saved, but its generation "
		          "could not be moved: other processes see it at "
		          "their own next sync",
		          pu->state.name);
	}
	panel_set_list(pu, &list);
	pu->state.synced_at = (int64_t)time(NULL);
	log_info("upstream %s: %zu services imported", pu->state.name,
	         pu->list.n);
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

void
panel_sync_force(struct panel *p, size_t idx)
{
	/* A sync in flight applies its reply too. */
	p->ups[idx].force = 1;
	panel_sync(p, idx);
}

static void
panel_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct panel_upstream *pu = arg;

	pu->sync_started_ms = clock_mono_ms();
	panel_sync(pu->panel, pu->idx);
	panel_schedule(pu);
}

/* Whether PU's list is behind the store's (saved by the CLI or another
 * instance): then load it.  1 when PU's list changed. */
static int
panel_check_one(struct panel_upstream *pu)
{
	struct panel *p = pu->panel;
	struct dialect_services list;
	struct upstream_state us;
	uint64_t seq = pu->list_seq;
	int64_t gen;

	/* Generation first, then the list: a save between the two makes a
	 * needless reload at the next look, never a missed one. */
	if (panel_generation(pu, &gen) != 0 || gen == pu->gen)
		return 0;
	if (panel_load(p->st, pu->state.name, &list) != STORE_OK) {
		log_warnx("upstream %s: stored catalogue unreadable",
		          pu->state.name);
		return 0;
	}
	memset(&us, 0, sizeof(us));
	if (store_upstream_state_get(p->st, pu->state.name, &us) == STORE_ERROR)
		us.synced_at = 0;
	/* The calls above may have parked this fiber: a sync of our own that
	 * ended meanwhile holds the newer list. */
	if (pu->list_seq != seq || p->stopped) {
		dialect_services_free(&list);
		return 0;
	}
	panel_set_list(pu, &list);
	pu->gen = gen;
	if (us.synced_at > pu->state.synced_at)
		pu->state.synced_at = us.synced_at;
	log_info("upstream %s: catalogue changed in the store (generation "
	         "%lld, saved by another process): %zu services",
	         pu->state.name, (long long)gen, pu->list.n);
	return 1;
}

void
panel_pricing_check(struct panel *p, int force)
{
	struct pricing *pr;
	int64_t gen;

	if (!force && p->pricing != NULL &&
	    (store_pricing_generation(p->st, &gen) != STORE_OK ||
	     gen == p->pricing->gen))
		return;
	pr = pricing_new();
	if (store_pricing_load(p->st, pr) != STORE_OK) {
		log_warnx("customer rates unreadable: the last known stay");
		pricing_unref(pr);
		return;
	}
	/* a load that parked this fiber may have been passed by another */
	if (p->pricing != NULL && p->pricing->gen > pr->gen) {
		pricing_unref(pr);
		return;
	}
	if (p->pricing != NULL)
		log_info("customer rates reloaded (generation %lld): %zu "
		         "customers with their own",
		         (long long)pr->gen, pr->n);
	pricing_unref(p->pricing);
	p->pricing = pr;
	panel_pricing_report(p);
}

static void
panel_check_run(void *a, void *b)
{
	struct panel *p = a;
	int changed = 0;

	for (size_t i = 0; i < p->nups && !p->stopped; i++)
		changed |= panel_check_one(&p->ups[i]);
	if (changed && !p->stopped)
		panel_rebuild(p);
	if (!p->stopped)
		panel_pricing_check(p, 0);
	p->checking = 0;
}

static void
panel_check_cb(evutil_socket_t fd, short what, void *arg)
{
	struct panel *p = arg;

	if (p->checking || p->stopped)
		return;
	p->checking = 1;
	/* On its own fiber when the store may park it (fiber.h). */
	fiber_spawn(panel_check_run, p, NULL);
}

void
panel_start(struct panel *p)
{
	struct timeval tv = {PANEL_CATALOG_CHECK_MS / 1000,
	                     (PANEL_CATALOG_CHECK_MS % 1000) * 1000};

	for (size_t i = 0; i < p->nups; i++) {
		p->ups[i].sync_started_ms = clock_mono_ms();
		panel_sync(p, i);
		panel_schedule(&p->ups[i]);
		panel_balance_schedule(&p->ups[i]);
	}
	if (p->st->ops->catalog_generation == NULL)
		return; /* the store keeps no generations */
	p->check = event_new(p->base, -1, EV_PERSIST, panel_check_cb, p);
	if (p->check == NULL)
		fatalx("panel: out of memory for a timer");
	evtimer_add(p->check, &tv);
}

void
panel_stop(struct panel *p)
{
	if (p == NULL)
		return;
	p->stopped = 1;
	for (size_t i = 0; i < p->nups; i++) {
		evtimer_del(p->ups[i].timer);
		evtimer_del(p->ups[i].balance_timer);
	}
	if (p->check != NULL)
		evtimer_del(p->check);
}

void
panel_reload(struct panel *p, const struct config *cfg)
{
	const struct config *old = p->cfg;

	p->cfg = config_ref(cfg);
	for (size_t i = 0; i < p->nups && p->eng != NULL; i++)
		upstream_update(p->ups[i].up, &cfg->upstreams[i]);
	/* A waiting sync follows a changed interval at once, counted from
	 * the last sync: an hour's wait does not outlast a change to 1s. */
	for (size_t i = 0; i < p->nups; i++) {
		struct panel_upstream *pu = &p->ups[i];
		int64_t ms = cfg->upstreams[i].sync_interval_ms;

		if (cfg->upstreams[i].balance_interval_ms !=
		        old->upstreams[i].balance_interval_ms &&
		    !p->stopped && evtimer_pending(pu->balance_timer, NULL))
			panel_balance_schedule(pu);
		if (ms == old->upstreams[i].sync_interval_ms || p->stopped ||
		    !evtimer_pending(pu->timer, NULL))
			continue;
		log_info("upstream %s: sync_interval is now %lld ms",
		         pu->state.name, (long long)ms);
		panel_schedule_in(pu,
		                  pu->sync_started_ms + ms - clock_mono_ms());
	}
	panel_rebuild(p);
	config_unref(old);
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
	p->st = st;
	if ((p->eng = up_engine_new(base)) == NULL) {
		free(p);
		return NULL;
	}
	p->cfg = config_ref(cfg);
	p->nups = cfg->nupstreams;
	p->ups = xcalloc(p->nups != 0 ? p->nups : 1, sizeof(*p->ups));
	for (size_t i = 0; i < p->nups; i++) {
		struct panel_upstream *pu = &p->ups[i];
		const struct cfg_upstream *cu = &cfg->upstreams[i];

		pu->panel = p;
		pu->idx = i;
		pu->up = upstream_new(p->eng, cu);
		pu->timer = evtimer_new(base, panel_timer_cb, pu);
		pu->balance_timer =
		    event_new(base, -1, EV_PERSIST, panel_balance_timer_cb, pu);
		if (pu->timer == NULL || pu->balance_timer == NULL)
			fatalx("panel: out of memory for a timer");
		if (store_upstream_state_get(st, cu->name, &pu->state) ==
		    STORE_ERROR)
			log_warnx("upstream %s: stored state unreadable",
			          cu->name);
		snprintf(pu->state.name, sizeof(pu->state.name), "%s",
		         cu->name);
		if (pu->state.updated_at == 0)
			pu->state.multi_ok = 1;
		/* The generation before the list: see panel_check_one. */
		if (panel_generation(pu, &pu->gen) != 0)
			pu->gen = 0;
		if (panel_load(st, cu->name, &pu->list) != STORE_OK)
			log_warnx("upstream %s: stored catalogue unreadable",
			          cu->name);
		else if (pu->list.n > 0)
			log_info("upstream %s: %zu services from the store",
			         cu->name, pu->list.n);
	}
	panel_rebuild(p);
	panel_pricing_check(p, 1);
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
		if (p->ups[i].balance_timer != NULL)
			event_free(p->ups[i].balance_timer);
		dialect_services_free(&p->ups[i].list);
	}
	if (p->check != NULL)
		event_free(p->check);
	free(p->ups);
	catalog_unref(p->cat);
	pricing_unref(p->pricing);
	config_unref(p->cfg);
	free(p);
}
