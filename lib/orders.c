/* orders.c - the order engine's life cycle: its timers (sweeper, pollers,
 * group commit), reload and stop, and its stats. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <event2/event.h>

#include "batch.h"
#include "clock.h"
#include "config.h"
#include "fiber.h"
#include "log.h"
#include "orders.h"
#include "orders_int.h"
#include "panel.h"
#include "store.h"
#include "strmap.h"
#include "xmalloc.h"

/*
 * Life cycle.
 */

struct orders *
orders_new(struct panel *p)
{
	struct orders *o = xcalloc(1, sizeof(*o));

	o->p = p;
	orders_set_clock(o, NULL);
	o->dispatching = strmap_new();
	o->b = xcalloc(p->nups != 0 ? p->nups : 1, sizeof(*o->b));
	o->poll_timer =
	    xcalloc(p->nups != 0 ? p->nups : 1, sizeof(*o->poll_timer));
	for (size_t i = 0; i < p->nups; i++) {
		struct orders_apply_ctx *ac = xcalloc(1, sizeof(*ac));

		ac->o = o;
		ac->upi = i;
		o->b[i] = batcher_new(
		    p->base, p->ups[i].up, p->cfg->upstreams[i].max_batch,
		    p->ups[i].state.multi_ok, orders_apply, ac);
		/* Answers applied in paced groups where the store has
		 * groups (SQLite: its calls never park, so the drain's
		 * timer may make them); elsewhere at once, on the reply's
		 * fiber (PostgreSQL: no store call off a fiber). */
		if (store_has_groups(p->st))
			batcher_set_group(o->b[i], orders_apply_group);
		ac->page_timer = evtimer_new(p->base, orders_poll_page_cb, ac);
		o->poll_timer[i] =
		    event_new(p->base, -1, EV_PERSIST, orders_poll_cb, ac);
		if (o->poll_timer[i] == NULL || ac->page_timer == NULL)
			fatalx("orders: out of memory for a timer");
	}
	o->sweep_timer = event_new(p->base, -1, EV_PERSIST, orders_sweep_cb, o);
	o->group = evtimer_new(p->base, orders_group_cb, o);
	if (o->sweep_timer == NULL || o->group == NULL)
		fatalx("orders: out of memory for a timer");
	return o;
}

static int
orders_count_one(const struct order *ord, void *arg)
{
	return 0;
}

static void
orders_start_polls(struct orders *o)
{
	for (size_t i = 0; i < o->p->nups; i++) {
		int64_t ms = o->p->cfg->upstreams[i].poll_interval_ms;
		struct timeval pt = {(time_t)(ms / 1000),
		                     (suseconds_t)((ms % 1000) * 1000)};

		evtimer_add(o->poll_timer[i], &pt);
	}
}

void
orders_start(struct orders *o)
{
	struct order_filter f = {ORDER_SENDING, 0, NULL, 0, 0};
	struct timeval tv = {ORDERS_SWEEP_MS / 1000,
	                     (ORDERS_SWEEP_MS % 1000) * 1000};
	int64_t n;

	n = store_order_list(o->p->st, &f, orders_count_one, NULL);
	if (n > 0)
		log_warnx(
		    "%lld orders are 'sending' from an earlier run: their "
		    "outcome is unknown, funds stay reserved; list them "
		    "with `panelmux order list --state sending`",
		    (long long)n);
	evtimer_add(o->sweep_timer, &tv);
	orders_start_polls(o);
	orders_sweep(o); /* queued orders of a previous run go now */
}

void
orders_reload(struct orders *o)
{
	for (size_t i = 0; i < o->p->nups; i++)
		batcher_set_max(o->b[i], o->p->cfg->upstreams[i].max_batch);
	if (!o->stopping)
		orders_start_polls(o);
}

void
orders_stop(struct orders *o)
{
	if (o == NULL)
		return;
	o->stopping = 1;
	evtimer_del(o->sweep_timer);
	for (size_t i = 0; i < o->p->nups; i++) {
		struct orders_apply_ctx *ac = NULL;

		evtimer_del(o->poll_timer[i]);
		event_get_assignment(o->poll_timer[i], NULL, NULL, NULL, NULL,
		                     (void **)&ac);
		evtimer_del(ac->page_timer);
	}
	/* Adds still waiting become queued orders (sent after a restart);
	 * accepted orders are recorded now. */
	fiber_spawn(orders_group_run, o, NULL);
}

void
orders_free(struct orders *o)
{
	if (o == NULL)
		return;
	o->stopping = 1;
	for (size_t i = 0; i < o->p->nups; i++) {
		struct orders_apply_ctx *ac = NULL;

		event_get_assignment(o->poll_timer[i], NULL, NULL, NULL, NULL,
		                     (void **)&ac);
		batcher_free(o->b[i]);
		event_free(o->poll_timer[i]);
		event_free(ac->page_timer);
		free(ac);
	}
	orders_flush_adds(o);
	orders_flush_actives(o); /* from calls the engine ended */
	store_durable_now(o->p->st); /* their answers, and orders_stop's */
	free(o->b);
	free(o->poll_timer);
	event_free(o->sweep_timer);
	event_free(o->group);
	strmap_free(o->dispatching);
	free(o);
}

void
orders_set_clock(struct orders *o, const struct orders_clock *c)
{
	static const struct orders_clock dflt = {clock_wall_ms};

	o->clock = c != NULL ? *c : dflt;
}

void
orders_stats(const struct orders *o, struct orders_stats *out)
{
	*out = o->stats;
}

void
orders_batch_stats(const struct orders *o, size_t idx, struct batch_stats *out)
{
	batcher_stats(o->b[idx], out);
}
