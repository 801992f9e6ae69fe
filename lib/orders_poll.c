/* orders_poll.c - the sweeper (queued orders sent, too old ones refunded),
 * the status poller, and settlement (the batchers' apply hook). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "batch.h"
#include "config.h"
#include "dialect.h"
#include "fiber.h"
#include "log.h"
#include "money.h"
#include "orders.h"
#include "orders_int.h"
#include "panel.h"
#include "store.h"
#include "strmap.h"

/*
 * The time rules.
 */

int
orders_queue_expired(int64_t created_s, int64_t now_s)
{
	return now_s - created_s > ORDERS_QUEUE_MAX_S;
}

int64_t
orders_poll_due_before(int64_t now_ms, int64_t interval_ms)
{
	return now_ms - interval_ms + interval_ms / 10;
}

int
orders_status_fresh(int64_t polled_ms, int64_t now_ms, int64_t interval_ms)
{
	return polled_ms > now_ms - interval_ms;
}

/*
 * The sweeper: queued orders (not sent yet, or not sent by a previous run
 * that crashed) are sent; too old ones are refunded.
 */

struct sweep_ctx {
	struct orders *o;
	int64_t ids[ORDERS_SWEEP_BATCH];
	int64_t created[ORDERS_SWEEP_BATCH];
	money_t charge[ORDERS_SWEEP_BATCH];
	int64_t service[ORDERS_SWEEP_BATCH];
	money_t rate[ORDERS_SWEEP_BATCH]; /* as charged */
	char upstream[ORDERS_SWEEP_BATCH][STORE_UPNAME_MAX + 1];
	int n;
};

static int
orders_sweep_collect(const struct order *ord, void *arg)
{
	struct sweep_ctx *sc = arg;

	sc->ids[sc->n] = ord->id;
	sc->created[sc->n] = ord->created_at;
	sc->charge[sc->n] = ord->charge;
	sc->service[sc->n] = ord->service_id;
	sc->rate[sc->n] = ord->rate;
	snprintf(sc->upstream[sc->n], sizeof(sc->upstream[0]), "%s",
	         ord->upstream);
	sc->n++;
	return sc->n == ORDERS_SWEEP_BATCH;
}

void
orders_sweep(struct orders *o)
{
	int64_t now_ms = o->clock.wall_ms();
	struct order_filter f = {ORDER_QUEUED, 0, NULL,
	                         now_ms - ORDERS_SWEEP_LEASE_MS,
	                         ORDERS_SWEEP_BATCH};
	struct sweep_ctx sc;
	int64_t now = now_ms / 1000;

	if (o->stopping)
		return;
	sc.o = o;
	sc.n = 0;
	/* Claimed, so that instances sharing a database sweep disjoint
	 * orders; sending stays a conditional move from queued. */
	if (store_order_claim(o->p->st, &f, now_ms, orders_sweep_collect, &sc) <
	    0)
		return;
	for (int i = 0; i < sc.n; i++) {
		char key[24], *fields = NULL;
		struct add_job *j;

		snprintf(key, sizeof(key), "%lld", (long long)sc.ids[i]);
		if (strmap_get(o->dispatching, key) != NULL)
			continue;
		if (orders_queue_expired(sc.created[i], now)) {
			if (store_order_reject(o->p->st, sc.ids[i],
			                       "not sent in time") == STORE_OK)
				log_warnx("order %lld: no upstream took it "
				          "within %d s: refunded",
				          (long long)sc.ids[i],
				          ORDERS_QUEUE_MAX_S);
			continue;
		}
		if (store_order_fields(o->p->st, sc.ids[i], &fields) !=
		    STORE_OK)
			continue;
		j = orders_job_new(o, sc.ids[i], sc.charge[i], fields);
		if (orders_job_routes(j, sc.service[i], sc.rate[i],
		                      sc.upstream[i]) != 0) {
			if (store_order_reject(o->p->st, j->id,
			                       "Incorrect service ID") ==
			    STORE_OK)
				log_warnx("order %lld: its service is gone: "
				          "refunded",
				          (long long)j->id);
			orders_job_free(j);
			continue;
		}
		orders_dispatch(j);
	}
}

static void
orders_sweep_run(void *a, void *b)
{
	orders_sweep(a);
}

void
orders_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	fiber_spawn(orders_sweep_run, arg, NULL);
}

/*
 * Status: the poller, settlement (the batcher's apply hook), and the
 * action.
 */

/* The state an upstream status settles to, or -1 while it is open. */
static int
orders_final_state(enum dialect_status s)
{
	switch (s) {
	case DIALECT_STATUS_COMPLETED:
		return ORDER_COMPLETED;
	case DIALECT_STATUS_PARTIAL:
		return ORDER_PARTIAL;
	case DIALECT_STATUS_CANCELED:
		return ORDER_CANCELED;
	case DIALECT_STATUS_REFUNDED:
		return ORDER_REFUNDED;
	default:
		return -1;
	}
}

void
orders_settle_decide(const struct order *ord,
                     const struct dialect_order_status *st, int decimals,
                     struct orders_settlement *out)
{
	int final;

	out->final_state = -1;
	out->refund = 0;
	out->remains = -1;
	if (st->has_remains) /* clamp: panels send negatives and more */
		out->remains = st->remains < 0 ? 0
		               : st->remains > ord->upstream_quantity
		                   ? ord->upstream_quantity
		                   : st->remains;
	if (ord->state != ORDER_ACTIVE) {
		/* Final already (settled exactly once), or not sent yet. */
		out->what = ORDERS_SETTLE_IGNORE;
		return;
	}
	if (st->status == DIALECT_STATUS_UNKNOWN ||
	    st->status == DIALECT_STATUS_FAIL) {
		out->what = ORDERS_SETTLE_UNKNOWN;
		return;
	}
	if ((final = orders_final_state(st->status)) < 0) {
		out->what = ORDERS_SETTLE_RECORD;
		return;
	}
	if (final == ORDER_PARTIAL && out->remains < 0) {
		/* How much to refund is unknown: a later answer settles. */
		out->what = ORDERS_SETTLE_WAIT;
		return;
	}
	out->what = ORDERS_SETTLE_FINAL;
	out->final_state = final;
	if (store_refund_for(decimals, (enum order_state) final, ord->charge,
	                     ord->upstream_quantity, out->remains,
	                     &out->refund) != 0)
		out->refund = -1;
}

static void
orders_apply_status(struct orders *o, const struct config *cfg, size_t upi,
                    int64_t local, const char *id,
                    const struct batch_answer *ans)
{
	const struct cfg_upstream *cu = &cfg->upstreams[upi];
	const struct dialect_order_status *st = ans->st;
	char word[sizeof(((struct order *)0)->upstream_status)];
	struct order_update u;
	struct order ord;
	struct orders_settlement sd;
	enum store_result r;
	money_t factor;

	if (ans->transport != UP_REPLIED || ans->item != DIALECT_ITEM_OK) {
		if (ans->transport == UP_REPLIED &&
		    ans->item == DIALECT_ITEM_REJECTED) {
			log_warnx("order %lld: %s says of its order %s: %s",
			          (long long)local, cu->name, id, ans->msg);
			store_order_polled(o->p->st, &local, 1,
			                   o->clock.wall_ms());
		}
		return;
	}
	if (store_order_get(o->p->st, local, &ord) != STORE_OK)
		return;
	orders_settle_decide(&ord, st, cfg->money_decimals, &sd);
	if (sd.what == ORDERS_SETTLE_IGNORE)
		return;
	memset(&u, 0, sizeof(u));
	u.status = dialect_status_name(st->status);
	u.start_count = st->has_start_count ? st->start_count : -1;
	u.remains = sd.remains;
	u.cost = -1;
	if (st->has_charge &&
	    config_currency_value(
	        cfg, cu->currency != NULL ? cu->currency : cfg->currency,
	        &factor) == 0 &&
	    money_mul(st->charge, factor, MONEY_ROUND_UP, &u.cost) != 0)
		u.cost = -1;
	u.final_state = sd.final_state;
	if (sd.what == ORDERS_SETTLE_UNKNOWN) {
		/* A word we cannot act on moves no money.  It is recorded as
		 * the upstream's word (the operator sees it in `order show`),
		 * and logged and counted once per change, not at every poll. */
		snprintf(word, sizeof(word), "%s", st->status_raw);
		if (strcmp(word, ord.upstream_status) != 0) {
			o->stats.unknown_status++;
			log_warnx("order %lld: %s reports status \"%s\": no "
			          "money moves until it reports a known one",
			          (long long)local, cu->name, word);
		}
		u.status = word;
	}
	if (sd.what == ORDERS_SETTLE_WAIT) {
		log_warnx("order %lld: Partial without remains: not settled "
		          "yet",
		          (long long)local);
		u.status = NULL;
	}
	/* An order.status event when what the customer sees of the open
	 * order moves (Pending -> In progress); a settlement always makes
	 * one. */
	if (u.final_state < 0 && u.status != NULL)
		u.notify = strcmp(dialect_status_shown(ord.upstream_status),
		                  dialect_status_shown(u.status)) != 0;
	r = store_order_status(o->p->st, local, &u);
	if (r == STORE_OK && u.final_state >= 0) {
		o->stats.settled++;
		log_info("order %lld: %s", (long long)local,
		         dialect_status_name(st->status));
	} else if (r == STORE_ERROR)
		log_warnx("order %lld: status not recorded", (long long)local);
}

void
orders_apply(void *ctx, enum batch_action a, int64_t local, const char *id,
             const struct batch_answer *ans)
{
	struct orders_apply_ctx *ac = ctx;
	const struct config *cfg;

	if (a != BATCH_STATUS)
		return;
	/* One snapshot for the answer, held across its store calls (each
	 * may park this fiber while a reload drops the daemon's
	 * reference). */
	cfg = config_ref(ac->o->p->cfg);
	orders_apply_status(ac->o, cfg, ac->upi, local, id, ans);
	config_unref(cfg);
}

/* The answers of one upstream reply go to the store in one transaction:
 * one commit (one WAL fsync on SQLite) for up to 100 orders instead of one
 * each, which bounded a poll cycle at the disk's commit rate (~2,500
 * orders/s here) and held the loop for a reply's 100 fsyncs at a time. */
void
orders_apply_group(void *ctx, int begin)
{
	struct orders_apply_ctx *ac = ctx;
	struct store *st = ac->o->p->st;

	if (begin) {
		ac->grouped = store_group_begin(st) == 0;
		return;
	}
	if (ac->grouped && store_group_end(st) != 0)
		log_warnx("upstream %s: the statuses of one reply were not "
		          "recorded; they are asked again next poll",
		          ac->o->p->cfg->upstreams[ac->upi].name);
	ac->grouped = 0;
}

void
orders_ignore(const char *id, const struct batch_answer *ans, void *arg)
{
}

struct poll_ctx {
	struct orders *o;
	size_t upi;
	int64_t asked;
	struct orders_apply_ctx *pg; /* a paged cycle, else NULL */
};

static int
orders_poll_one(const struct order *ord, void *arg)
{
	struct poll_ctx *pc = arg;
	struct orders_apply_ctx *pg = pc->pg;

	if (pg != NULL) {
		pg->after_polled = ord->polled_at;
		pg->after_id = ord->id;
	}
	if (ord->upstream_order[0] == '\0')
		return 0;
	batch_ask(pc->o->b[pc->upi], BATCH_STATUS, ord->upstream_order, ord->id,
	          orders_ignore, NULL);
	pc->asked++;
	return 0;
}

static struct orders_apply_ctx *
orders_poll_ctx(struct orders *o, size_t idx)
{
	struct orders_apply_ctx *ac = NULL;

	event_get_assignment(o->poll_timer[idx], NULL, NULL, NULL, NULL,
	                     (void **)&ac);
	return ac;
}

/* The IDs of a page of upstream UPI's cycle (ORDERS_POLL_PAGE). */
static int64_t
orders_poll_page_size(const struct config *cfg, size_t upi)
{
	int64_t n = (int64_t)cfg->upstreams[upi].max_connections * 100;

	return n > ORDERS_POLL_PAGE ? n : ORDERS_POLL_PAGE;
}

/* A read of a cycle (SQLite): the next ORDERS_POLL_READ due orders after
 * the last one asked, in (polled_at, id) order (a keyset: the rows asked
 * already, answered or not, are not read again); the next read in the
 * next loop pass, if the batcher has room (orders_poll_page_run).  The
 * cycle ends at the last due order. */
static void
orders_poll_page(struct orders_apply_ctx *pg)
{
	struct orders *o = pg->o;
	const struct config *cfg = config_ref(o->p->cfg);
	const struct cfg_upstream *cu = &cfg->upstreams[pg->upi];
	int64_t limit = ORDERS_POLL_READ;
	struct poll_page page = {
	    {ORDER_ACTIVE, 0, cu->name, pg->due, limit},
	    pg->after_polled,
	    pg->after_id,
	};
	struct poll_ctx pc = {o, pg->upi, 0, pg};
	struct timeval next = {0, 0};
	int64_t n = -1;

	if (!o->stopping)
		n = store_order_poll_page(o->p->st, &page, orders_poll_one,
		                          &pc);
	if (pc.asked > 0)
		log_debug("poll %s: %lld open orders asked", cu->name,
		          (long long)pc.asked);
	if (n < limit)
		pg->cycling = 0;
	else
		evtimer_add(pg->page_timer, &next);
	config_unref(cfg);
}

static void
orders_poll_page_run(void *a, void *b)
{
	struct orders_apply_ctx *pg = a;
	struct timeval tv = {0, ORDERS_POLL_WAIT_MS * 1000};
	const struct config *cfg;
	int64_t page;

	if (pg->o->stopping) {
		pg->cycling = 0;
		return;
	}
	cfg = config_ref(pg->o->p->cfg);
	page = orders_poll_page_size(cfg, pg->upi);
	config_unref(cfg);
	/* More while the read lane has less than a page to send after the
	 * one in flight, so that a call leaves as soon as one is answered;
	 * and while fewer than three pages are held in all (answers waiting
	 * for their slice included), so that the batcher stays bounded when
	 * the applies are slower than the upstream. */
	if (batcher_unanswered(pg->o->b[pg->upi], BATCH_STATUS) >= 2 * page ||
	    batcher_outstanding(pg->o->b[pg->upi], BATCH_STATUS) >= 3 * page) {
		evtimer_add(pg->page_timer, &tv);
		return;
	}
	orders_poll_page(pg);
}

void
orders_poll_page_cb(evutil_socket_t fd, short what, void *arg)
{
	fiber_spawn(orders_poll_page_run, arg, NULL);
}

void
orders_poll(struct orders *o, size_t idx)
{
	/* Held across the claims, each of which may park this fiber while
	 * a reload drops the daemon's reference (valgrind once caught the
	 * filter reading a freed name). */
	const struct config *cfg = config_ref(o->p->cfg);
	const struct cfg_upstream *cu = &cfg->upstreams[idx];
	int64_t due =
	    orders_poll_due_before(o->clock.wall_ms(), cu->poll_interval_ms);
	struct order_filter f = {ORDER_ACTIVE, 0, cu->name, due,
	                         o->p->st->shared ? ORDERS_POLL_CLAIM
	                                          : INT64_MAX};
	struct poll_ctx pc = {o, idx, 0, NULL};
	struct orders_apply_ctx *pg;
	int64_t n;

	if (o->stopping) {
		config_unref(cfg);
		return;
	}
	if (store_has_poll_pages(o->p->st)) {
		/* One instance owns the store: the cycle goes in pages
		 * (orders_poll_page), one cycle at a time per upstream. */
		pg = orders_poll_ctx(o, idx);
		if (!pg->cycling) {
			pg->cycling = 1;
			pg->due = due;
			pg->after_polled = INT64_MIN;
			pg->after_id = INT64_MIN;
			orders_poll_page(pg);
		}
		config_unref(cfg);
		return;
	}
	/* Claimed in whole batches: instances sharing a database poll
	 * disjoint orders and each batch stays full. */
	do
		n = store_order_claim(o->p->st, &f, o->clock.wall_ms(),
		                      orders_poll_one, &pc);
	while (o->p->st->shared && n == ORDERS_POLL_CLAIM && !o->stopping);
	if (pc.asked > 0)
		log_debug("poll %s: %lld open orders asked", cu->name,
		          (long long)pc.asked);
	config_unref(cfg);
}

static void
orders_poll_run(void *a, void *b)
{
	struct orders_apply_ctx *ac = a;

	orders_poll(ac->o, ac->upi);
}

void
orders_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	fiber_spawn(orders_poll_run, arg, NULL);
}
