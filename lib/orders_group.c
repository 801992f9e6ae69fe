/* orders_group.c - the group commit: the adds and the accepted orders of
 * one loop pass recorded in one durable transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "config.h"
#include "fiber.h"
#include "log.h"
#include "orders.h"
#include "orders_int.h"
#include "panel.h"
#include "store.h"
#include "xmalloc.h"

/* Record J's acceptance as UPID with the group's next commit; the customer
 * gets the order's ID once it is recorded, so what they do next (status,
 * cancel, refill) finds the order active with its upstream ID. */
void
orders_activate(struct orders *o, struct add_job *j, const char *upid,
                money_t cost)
{
	struct pending_active *pa;

	/* A full group goes first: those answers are all earlier ones.  A
	 * loop: on a fiber the flush parks, and others may fill the queue
	 * again meanwhile. */
	while (o->nactives >= ORDERS_GROUP_MAX)
		orders_flush_actives(o);
	pa = &o->actives[o->nactives++];
	pa->job = j;
	pa->id = j->id;
	snprintf(pa->upstream_order, sizeof(pa->upstream_order), "%s", upid);
	pa->cost = cost;
	orders_group_schedule(o);
}

/* A loop pass's group, taken out of the shared queues. */
struct orders_group {
	struct orders *o;
	struct pending_add *adds[ORDERS_GROUP_MAX];
	struct order_new on[ORDERS_GROUP_MAX];
	enum store_result res[ORDERS_GROUP_MAX];
	int64_t ids[ORDERS_GROUP_MAX];
	size_t nadds;
	struct pending_active acts[ORDERS_GROUP_MAX];
	enum store_result act_res[ORDERS_GROUP_MAX];
	const char *upids[ORDERS_GROUP_MAX];
	int64_t act_ids[ORDERS_GROUP_MAX];
	money_t costs[ORDERS_GROUP_MAX];
	size_t nacts;
};

/* Answer or dispatch each add of G. */
static void
orders_group_adds_done(struct orders *o, struct orders_group *g)
{
	for (size_t i = 0; i < g->nadds; i++) {
		struct pending_add *pa = g->adds[i];

		pa->on.sending = g->on[i].sending;
		switch (g->res[i]) {
		case STORE_OK:
			orders_pending_start(o, pa, g->ids[i]);
			break;
		case STORE_NOFUNDS:
			orders_pending_answer(pa, ORDERS_ERR_FUNDS, NULL, 0);
			break;
		case STORE_LINK: /* the same-link guard: nothing charged */
			orders_pending_answer(pa, ORDERS_ERR_TEXT,
			                      ORDERS_LINK_OPEN, 0);
			break;
		case STORE_EXISTS: /* the same request again: the same order */
			orders_pending_answer(pa, ORDERS_ERR_NONE, NULL,
			                      g->ids[i]);
			break;
		case STORE_CONFLICT:
			orders_pending_answer(pa,
			                      pa->request_id != NULL
			                          ? ORDERS_ERR_REQUEST_ID
			                          : ORDERS_ERR_INTERNAL,
			                      NULL, 0);
			break;
		default:
			orders_pending_answer(pa, ORDERS_ERR_INTERNAL, NULL, 0);
			break;
		}
		orders_pending_free(pa);
	}
}

/* Complete each accepted add's job: recorded, or ambiguous. */
static void
orders_group_acts_done(struct orders *o, struct orders_group *g)
{
	for (size_t i = 0; i < g->nacts; i++) {
		struct add_job *j = g->acts[i].job;
		const char *up =
		    j->cfg->upstreams[j->routes[j->route].upstream].name;

		if (g->act_res[i] != STORE_OK) {
			orders_ambiguous(j, up,
			                 "its order ID could not be recorded");
			continue;
		}
		log_info("order %lld: sent to %s as %s",
		         (long long)g->act_ids[i], up, g->upids[i]);
		orders_job_free(j);
	}
}

/* The group's adds are on disk: answer and dispatch each. */
static void
orders_group_durable(void *arg)
{
	struct orders_group *g = arg;

	orders_group_adds_done(g->o, g);
	free(g);
}

/* Create the waiting adds (with ADDS) and record the accepted ones (with
 * ACTS) in one transaction.  The acceptances complete once it committed:
 * their customers learn order IDs that were on disk before the orders
 * were sent, and a power loss that took the acceptance leaves the order
 * 'sending', as a crash before the commit would.  The adds are answered
 * and dispatched once it is durable (store_durable): an order goes
 * upstream only once it exists on disk.  Both queues are taken out first:
 * on a fiber the commit parks, and the next group gathers meanwhile; on
 * SQLite the next group commits while this one's sync runs. */
static void
orders_flush(struct orders *o, int adds, int acts)
{
	struct orders_group *g = xmalloc(sizeof(*g));
	struct pending_add *refused[ORDERS_GROUP_MAX];
	size_t nrefused = 0, n = adds ? o->nadds : 0;

	g->o = o;
	g->nadds = 0;
	g->nacts = acts ? o->nactives : 0;
	if (n == 0 && g->nacts == 0) {
		free(g);
		return;
	}
	/* Adds no route may take are answered without an order. */
	for (size_t i = 0; i < n; i++) {
		if (o->adds[i]->refuse != NULL)
			refused[nrefused++] = o->adds[i];
		else
			g->adds[g->nadds++] = o->adds[i];
	}
	memcpy(g->acts, o->actives, g->nacts * sizeof(g->acts[0]));
	if (adds)
		o->nadds = 0;
	if (acts)
		o->nactives = 0;
	for (size_t i = 0; i < nrefused; i++) {
		orders_pending_answer(refused[i], ORDERS_ERR_TEXT,
		                      refused[i]->refuse, 0);
		orders_pending_free(refused[i]);
	}
	if (g->nadds == 0 && g->nacts == 0) {
		free(g);
		return;
	}
	for (size_t i = 0; i < g->nadds; i++) {
		g->on[i] = g->adds[i]->on;
		if (o->stopping)
			g->on[i].sending = 0; /* nothing leaves now: queued */
	}
	for (size_t i = 0; i < g->nacts; i++) {
		g->act_ids[i] = g->acts[i].id;
		g->upids[i] = g->acts[i].upstream_order;
		g->costs[i] = g->acts[i].cost;
	}
	store_order_group(o->p->st, g->on, g->nadds, g->res, g->ids, g->act_ids,
	                  g->upids, g->costs, g->nacts, g->act_res);
	orders_group_acts_done(o, g);
	if (g->nadds > 0)
		store_durable(o->p->st, orders_group_durable, g);
	else
		free(g);
}

void
orders_flush_adds(struct orders *o)
{
	orders_flush(o, 1, 0);
}

void
orders_flush_actives(struct orders *o)
{
	orders_flush(o, 0, 1);
}

/* One group's transaction at a time: on a store that parks (PostgreSQL)
 * the next group gathers while this one commits, so a slow commit makes
 * the next group larger instead of making more transactions wait on the
 * same balances' row locks, each with its own flush to disk.  (SQLite's
 * commit does not park: the flag is never seen set there.) */
void
orders_group_run(void *a, void *b)
{
	struct orders *o = a;

	o->flushing = 1;
	orders_flush(o, 1, 1);
	o->flushing = 0;
	if (o->nadds > 0 || o->nactives > 0)
		orders_group_schedule(o);
}

void
orders_group_cb(evutil_socket_t fd, short what, void *arg)
{
	struct orders *o = arg;

	if (o->flushing)
		return; /* the running group schedules the next */
	fiber_spawn(orders_group_run, o, NULL);
}

void
orders_group_schedule(struct orders *o)
{
	static const struct timeval zero = {0, 0};

	if (!evtimer_pending(o->group, NULL))
		evtimer_add(o->group, &zero);
}
