/* batch.c - coalesce IDs per upstream and action into upstream requests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "batch.h"
#include "buf.h"
#include "clock.h"
#include "dialect.h"
#include "log.h"
#include "strmap.h"
#include "upstream.h"
#include "xmalloc.h"

#define BATCH_MAX 100
/* With a group hook (the poller's batchers), a reply's answers are applied
 * this many per slice, each slice one group: a cycle's replies,
 * arriving together from every upstream, no longer hold the loop for all
 * their applies at once while customers' requests wait. */
#define BATCH_APPLY_SLICE 20
/* ... and no more than about this long: on a store of millions of orders
 * an answer's rows are scattered over the file, and five of them could
 * take milliseconds. */
#define BATCH_APPLY_SLICE_US 1000
/* The slices of every batcher take turns, one per loop pass at most.
 * While customers are about (a request in the last BATCH_CUSTOMERS_US,
 * batch_customer_seen), the next slice waits as long as the last one took:
 * the applies have half the loop at most, the customers the rest.  (Paced
 * each on its own, five upstreams' cycles kept the loop busy nearly all
 * the time: add p99 +56 ms on the scale bench; back to back while
 * customers were about, their commits flushed the applies' pages: +1 s on
 * ten million orders.)  Otherwise the next slice runs in the next pass
 * with nothing else to do (an event of the loop's lowest priority): a
 * cycle across a WAN waited on its own applies when they paced an idle
 * loop (the 50 ms poll bench, 4.3 s against 3.5).  So that a loop never
 * idle still applies, a slice also runs at the default priority when none
 * ran for BATCH_APPLY_LATE_US. */
#define BATCH_CUSTOMERS_US 200000
#define BATCH_APPLY_LATE_US 20000

struct batcher;

/* The batchers with answers to apply, served a slice each in turn. */
static struct batch_drain {
	struct event_base *base;
	struct event *idle;  /* the lowest priority, made active */
	struct event *late;  /* a timer, at the default priority */
	int users;           /* batchers on BASE */
	int kicked;          /* IDLE active */
	int64_t customer_us; /* a customer's latest request (monotonic) */
	struct batcher *head, **tail;
} batch_drain;

struct batch_waiter {
	struct batch_waiter *next;
	batch_cb cb;
	void *arg;
};

/* One ID of one action: queued, then in flight, then answered. */
struct batch_item {
	struct batch_item *next; /* in its queue */
	char id[DIALECT_ID_SZ];
	int64_t local;
	struct batch_waiter *waiters, **tail;
};

struct batch_queue {
	struct batch_item *head, **tail;
	int n;
};

struct batch_call {
	struct batcher *b;
	enum batch_action a;
	struct batch_item *items[BATCH_MAX];
	int n;
};

/* A reply parsed, its answers still to apply (from NEXT on). */
struct batch_reply {
	struct batch_reply *next;
	struct batch_call *c;
	struct dialect_multi m;
	const char *ids[BATCH_MAX];
	int next_i;
	struct batch_faults_acc {
		int n;
		char id[DIALECT_ID_SZ];
		char msg[DIALECT_MSG_SZ];
	} faults;
};

struct batcher {
	struct event_base *base;
	struct upstream *up;
	int max_batch;
	int multi_ok;
	batch_apply_cb apply;
	batch_group_cb group;
	void *ctx;
	struct strmap *ids[BATCH_NACTIONS]; /* id -> item, queued or flying */
	struct batch_queue queue[BATCH_NACTIONS];
	struct event *flush;
	struct batch_reply *replies, **replies_tail; /* to apply, in order */
	struct batcher *drain_next; /* in batch_drain, when DRAINING */
	int draining;
	int calls_in_flight;
	int outstanding[BATCH_NACTIONS]; /* IDs not applied yet */
	int unapplied[BATCH_NACTIONS];   /* ... of them answered, in REPLIES */
	int freeing;
	struct batch_stats stats;
};

static const struct {
	const char *action;
	const char *one;  /* parameter for a single ID */
	const char *many; /* parameter for a list */
	int flags;
	enum dialect_multi_action multi; /* how its reply is read */
} batch_forms[BATCH_NACTIONS] = {
    [BATCH_STATUS] = {"status", "order", "orders", 0, DIALECT_MULTI_STATUS},
    [BATCH_REFILL] = {"refill", "order", "orders", UP_FRESH,
                      DIALECT_MULTI_REFILL},
    [BATCH_REFILL_STATUS] = {"refill_status", "refill", "refills", 0,
                             DIALECT_MULTI_REFILL_STATUS},
    /* v2's cancel takes `orders` even for one ID; `order` only where the
     * panel refused lists. */
    [BATCH_CANCEL] = {"cancel", "order", "orders", UP_FRESH,
                      DIALECT_MULTI_CANCEL},
};

const int batch_size_bounds[BATCH_SIZE_BUCKETS] = {1, 10, 25, 50, 100};

static void batch_send(struct batcher *b, enum batch_action a);

/* Apply ANS for item IT, once; it is no longer pending. */
static void
batch_apply(struct batcher *b, enum batch_action a, struct batch_item *it,
            const struct batch_answer *ans)
{
	strmap_del(b->ids[a], it->id);
	b->outstanding[a]--;
	if (b->apply != NULL && !b->freeing)
		b->apply(b->ctx, a, it->local, it->id, ans);
}

/* ANS to every waiter of IT (applied already); free IT. */
static void
batch_answer_waiters(struct batch_item *it, const struct batch_answer *ans)
{
	struct batch_waiter *w, *next;

	for (w = it->waiters; w != NULL; w = next) {
		next = w->next;
		w->cb(it->id, ans, w->arg);
		free(w);
	}
	free(it);
}

/* Deliver ANS for item IT: apply once, then every waiter; free IT. */
static void
batch_deliver(struct batcher *b, enum batch_action a, struct batch_item *it,
              const struct batch_answer *ans)
{
	batch_apply(b, a, it, ans);
	batch_answer_waiters(it, ans);
}

static void
batch_fail_all(struct batcher *b, struct batch_call *c, enum up_transport t,
               const char *why)
{
	struct batch_answer ans;

	memset(&ans, 0, sizeof(ans));
	ans.transport = t;
	ans.item = DIALECT_ITEM_FAULT;
	ans.msg = why;
	for (int i = 0; i < c->n; i++)
		batch_deliver(b, c->a, c->items[i], &ans);
}

/* Put C's items back at the head of their queue, to go one at a time. */
static void
batch_requeue(struct batcher *b, struct batch_call *c)
{
	struct batch_queue *q = &b->queue[c->a];
	int was_empty = q->head == NULL;

	for (int i = c->n - 1; i >= 0; i--) {
		c->items[i]->next = q->head;
		q->head = c->items[i];
		q->n++;
	}
	if (was_empty)
		q->tail = &c->items[c->n - 1]->next;
	batch_send(b, c->a);
}

/* The answers of one request the dialect parser found unusable for their
 * ID (one naming another order, an unreadable item) are applied to
 * nothing, and logged once per request (batch_reply_free), since only the
 * operator can chase the panel. */

/* Apply answers FROM..TO-1 of reply RP (as one group when B has a hook),
 * then tell their requesters. */
static int
batch_apply_range(struct batcher *b, struct batch_reply *rp, int from, int to,
                  int64_t until_us)
{
	struct batch_call *c = rp->c;
	struct batch_answer ans;
	struct dialect_multi_answer d;
	int grouped = b->group != NULL && b->apply != NULL && !b->freeing;

	memset(&ans, 0, sizeof(ans));
	ans.transport = UP_REPLIED;
	/* Every answer applied (in one group), then the requesters told:
	 * none of them hears of a write before it is durable. */
	if (grouped)
		b->group(b->ctx, 1);
	for (int pass = 0; pass < 2; pass++) {
		for (int i = from; i < to; i++) {
			/* Past the slice's time, the rest waits for the
			 * next slice (at least one answer each). */
			if (pass == 0 && i > from && until_us > 0 &&
			    clock_mono_us() >= until_us) {
				to = i;
				break;
			}
			dialect_multi_get(&rp->m, (size_t)i, &d);
			ans.item = d.item;
			ans.msg = d.msg;
			ans.st = d.st;
			ans.refill = d.refill;
			ans.rstatus = d.rstatus;
			ans.rstatus_raw = d.rstatus_raw;
			if (pass == 0) {
				if (ans.item == DIALECT_ITEM_FAULT &&
				    rp->faults.n++ == 0) {
					snprintf(rp->faults.id,
					         sizeof(rp->faults.id), "%s",
					         rp->ids[i]);
					snprintf(rp->faults.msg,
					         sizeof(rp->faults.msg), "%s",
					         ans.msg != NULL ? ans.msg
					                         : "");
				}
				batch_apply(b, c->a, c->items[i], &ans);
			} else
				batch_answer_waiters(c->items[i], &ans);
		}
		if (pass == 0 && grouped)
			b->group(b->ctx, 0);
	}
	return to;
}

static void
batch_reply_free(struct batcher *b, struct batch_reply *rp)
{
	if (rp->faults.n > 0)
		log_warnx("upstream %s: %s: %d of %d answers unusable, "
		          "nothing applied for them (%s: %s)",
		          upstream_name(b->up), batch_forms[rp->c->a].action,
		          rp->faults.n, rp->c->n, rp->faults.id,
		          rp->faults.msg);
	dialect_multi_free(&rp->m);
	free(rp->c);
	free(rp);
}

/* One slice of B's queued replies' answers; 1 if more are left. */
static int
batch_drain_slice(struct batcher *b)
{
	int budget = BATCH_APPLY_SLICE;
	int64_t t0 = clock_mono_us();

	while (budget > 0 && b->replies != NULL) {
		struct batch_reply *rp = b->replies;
		int to = rp->next_i + budget;

		if (to > rp->c->n)
			to = rp->c->n;
		to = batch_apply_range(b, rp, rp->next_i, to,
		                       t0 + BATCH_APPLY_SLICE_US);
		budget -= to - rp->next_i;
		b->unapplied[rp->c->a] -= to - rp->next_i;
		rp->next_i = to;
		if (clock_mono_us() >= t0 + BATCH_APPLY_SLICE_US)
			budget = 0;
		if (rp->next_i == rp->c->n) {
			b->replies = rp->next;
			if (b->replies == NULL)
				b->replies_tail = &b->replies;
			batch_reply_free(b, rp);
		}
	}
	return b->replies != NULL;
}

/* Another slice is due: after PAUSE_US, or (0) in the next pass the loop
 * has nothing else for and at the latest in BATCH_APPLY_LATE_US. */
static void
batch_drain_kick(int64_t pause_us)
{
	struct batch_drain *d = &batch_drain;
	struct timeval tv = {0, BATCH_APPLY_LATE_US};

	if (pause_us > 0) {
		if (d->kicked) {
			event_del(d->idle);
			d->kicked = 0;
		}
		tv.tv_usec = (suseconds_t)pause_us;
		evtimer_add(d->late, &tv);
		return;
	}
	if (!d->kicked) {
		d->kicked = 1;
		event_active(d->idle, EV_TIMEOUT, 1);
	}
	if (!evtimer_pending(d->late, NULL))
		evtimer_add(d->late, &tv);
}

static void
batch_drain_add(struct batcher *b)
{
	struct batch_drain *d = &batch_drain;

	if (b->draining)
		return;
	b->draining = 1;
	b->drain_next = NULL;
	*d->tail = b;
	d->tail = &b->drain_next;
}

static struct batcher *
batch_drain_pop(void)
{
	struct batch_drain *d = &batch_drain;
	struct batcher *b = d->head;

	if (b == NULL)
		return NULL;
	d->head = b->drain_next;
	if (d->head == NULL)
		d->tail = &d->head;
	b->draining = 0;
	return b;
}

/* One slice of the batcher whose turn it is (from either event). */
static void
batch_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct batch_drain *d = &batch_drain;
	struct batcher *b;
	int64_t t0 = clock_mono_us(), us;

	if (arg == d->idle)
		d->kicked = 0;
	evtimer_del(d->late); /* counted again from this slice */
	if ((b = batch_drain_pop()) != NULL && batch_drain_slice(b))
		batch_drain_add(b);
	us = clock_mono_us() - t0;
	if (us > BATCH_APPLY_LATE_US)
		us = BATCH_APPLY_LATE_US;
	if (d->head != NULL)
		batch_drain_kick(t0 - d->customer_us < BATCH_CUSTOMERS_US
		                     ? (us > 0 ? us : 1)
		                     : 0);
}

void
batch_customer_seen(void)
{
	batch_drain.customer_us = clock_mono_us();
}

static void
batch_drain_join(struct event_base *base)
{
	struct batch_drain *d = &batch_drain;
	int lowest = event_base_get_npriorities(base) - 1;

	if (d->users++ > 0) {
		if (d->base != base)
			fatalx("batch: batchers on two event bases");
		return;
	}
	d->base = base;
	d->tail = &d->head;
	d->idle = event_new(base, -1, 0, batch_drain_cb, event_self_cbarg());
	d->late = evtimer_new(base, batch_drain_cb, event_self_cbarg());
	if (d->idle == NULL || d->late == NULL)
		fatalx("batch: out of memory for an event");
	/* Without priorities on BASE (tests, tools) the slices run a
	 * pass each, among the others. */
	if (lowest > 0 && event_priority_set(d->idle, lowest) == -1)
		fatalx("batch: cannot lower a priority");
}

static void
batch_drain_leave(struct batcher *b)
{
	struct batch_drain *d = &batch_drain;
	struct batcher **pp;

	if (b->draining) {
		for (pp = &d->head; *pp != b; pp = &(*pp)->drain_next)
			;
		*pp = b->drain_next;
		if (d->tail == &b->drain_next)
			d->tail = pp;
		b->draining = 0;
	}
	if (--d->users > 0)
		return;
	event_free(d->idle);
	event_free(d->late);
	memset(d, 0, sizeof(*d));
}

/* The reply to call C: its answers applied now, or (with a group hook)
 * queued to be applied a slice per loop pass.  1 if C was kept. */
static int
batch_answer_items(struct batcher *b, struct batch_call *c,
                   const struct up_result *r)
{
	struct batch_reply *rp = xcalloc(1, sizeof(*rp));
	enum dialect_result whole;
	int n = c->n;

	rp->c = c;
	for (int i = 0; i < n; i++)
		rp->ids[i] = c->items[i]->id;
	whole = dialect_multi(batch_forms[c->a].multi, (int)r->http_status,
	                      r->body, r->len, rp->ids, (size_t)n, &rp->m);
	if (whole == DIALECT_REJECTED && n > 1) {
		/* A definite refusal of the whole multi request: nothing was
		 * done upstream, so asking again one by one is safe. */
		dialect_multi_free(&rp->m);
		free(rp);
		log_warnx("upstream %s: refused a %s request with %d IDs; "
		          "asking one ID at a time from now on",
		          upstream_name(b->up), batch_forms[c->a].action, n);
		b->multi_ok = 0;
		batch_requeue(b, c);
		return 0;
	}
	if (whole == DIALECT_FAULT)
		upstream_note_fault(b->up);
	if (b->group != NULL && !b->freeing) {
		*b->replies_tail = rp;
		b->replies_tail = &rp->next;
		b->unapplied[c->a] += n;
		batch_drain_add(b);
		if (!batch_drain.kicked &&
		    !evtimer_pending(batch_drain.late, NULL))
			batch_drain_kick(0);
		return 1;
	}
	batch_apply_range(b, rp, 0, n, 0);
	batch_reply_free(b, rp);
	return 1;
}

static void
batch_done(const struct up_result *r, void *arg)
{
	struct batch_call *c = arg;
	struct batcher *b = c->b;

	b->calls_in_flight--;
	if (r->transport == UP_REPLIED) {
		if (batch_answer_items(b, c, r))
			return; /* C is the reply's now */
	} else
		batch_fail_all(b, c, r->transport, r->reason);
	free(c);
}

/* Send up to max_batch (or 1) IDs from A's queue as one request. */
static void
batch_send_one(struct batcher *b, enum batch_action a)
{
	struct batch_queue *q = &b->queue[a];
	struct batch_call *c = xcalloc(1, sizeof(*c));
	int max = b->multi_ok ? b->max_batch : 1;
	struct buf form;

	c->b = b;
	c->a = a;
	while (c->n < max && q->head != NULL) {
		struct batch_item *it = q->head;

		q->head = it->next;
		if (q->head == NULL)
			q->tail = &q->head;
		q->n--;
		it->next = NULL;
		c->items[c->n++] = it;
	}
	buf_init(&form, 64 * 1024);
	if (c->n == 1 && (a != BATCH_CANCEL || !b->multi_ok))
		upstream_form_add(&form, batch_forms[a].one, c->items[0]->id);
	else {
		buf_printf(&form, "&%s=", batch_forms[a].many);
		for (int i = 0; i < c->n; i++)
			buf_printf(&form, "%s%s", i > 0 ? "," : "",
			           c->items[i]->id);
	}
	b->stats.requests[a]++;
	b->stats.ids[a] += (uint64_t)c->n;
	{
		int k = 0;

		while (k < BATCH_SIZE_BUCKETS && c->n > batch_size_bounds[k])
			k++;
		b->stats.sizes[k]++;
	}
	b->calls_in_flight++;
	upstream_call(b->up, batch_forms[a].action, form.data,
	              batch_forms[a].flags, batch_done, c);
	buf_free(&form);
}

static void
batch_send(struct batcher *b, enum batch_action a)
{
	while (b->queue[a].n > 0)
		batch_send_one(b, a);
}

static void
batch_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct batcher *b = arg;

	for (int a = 0; a < BATCH_NACTIONS; a++)
		batch_send(b, (enum batch_action)a);
}

void
batch_ask(struct batcher *b, enum batch_action a, const char *id, int64_t local,
          batch_cb cb, void *arg)
{
	struct batch_waiter *w = xcalloc(1, sizeof(*w));
	struct batch_item *it;
	struct batch_queue *q = &b->queue[a];

	w->cb = cb;
	w->arg = arg;
	if ((it = strmap_get(b->ids[a], id)) != NULL) {
		/* Waiting or in flight already: join it. */
		*it->tail = w;
		it->tail = &w->next;
		b->stats.joined++;
		return;
	}
	it = xcalloc(1, sizeof(*it));
	snprintf(it->id, sizeof(it->id), "%s", id);
	it->local = local;
	it->waiters = w;
	it->tail = &w->next;
	strmap_put(b->ids[a], it->id, it);
	b->outstanding[a]++;
	*q->tail = it;
	q->tail = &it->next;
	q->n++;
	if (b->multi_ok && q->n >= b->max_batch) {
		batch_send_one(b, a); /* a full batch goes now */
		return;
	}
	/* Otherwise at the end of this loop pass, with whatever else came. */
	if (!evtimer_pending(b->flush, NULL)) {
		static const struct timeval zero = {0, 0};
		evtimer_add(b->flush, &zero);
	}
}

int
batcher_pending(const struct batcher *b, enum batch_action a, const char *id)
{
	return strmap_get(b->ids[a], id) != NULL;
}

struct batcher *
batcher_new(struct event_base *base, struct upstream *up, int max_batch,
            int multi_ok, batch_apply_cb apply, void *ctx)
{
	struct batcher *b = xcalloc(1, sizeof(*b));

	b->base = base;
	b->up = up;
	b->multi_ok = multi_ok;
	b->apply = apply;
	b->ctx = ctx;
	batcher_set_max(b, max_batch);
	for (int a = 0; a < BATCH_NACTIONS; a++) {
		b->ids[a] = strmap_new();
		b->queue[a].tail = &b->queue[a].head;
	}
	b->replies_tail = &b->replies;
	if ((b->flush = evtimer_new(base, batch_flush_cb, b)) == NULL)
		fatalx("batch: out of memory for a timer");
	batch_drain_join(base);
	return b;
}

void
batcher_set_max(struct batcher *b, int max_batch)
{
	if (max_batch < 1)
		max_batch = 1;
	if (max_batch > BATCH_MAX)
		max_batch = BATCH_MAX;
	b->max_batch = max_batch;
}

int
batcher_outstanding(const struct batcher *b, enum batch_action a)
{
	return b->outstanding[a];
}

int
batcher_unanswered(const struct batcher *b, enum batch_action a)
{
	return b->outstanding[a] - b->unapplied[a];
}

void
batcher_set_group(struct batcher *b, batch_group_cb group)
{
	b->group = group;
}

int
batcher_multi_ok(const struct batcher *b)
{
	return b->multi_ok;
}

void
batcher_stats(const struct batcher *b, struct batch_stats *out)
{
	*out = b->stats;
}

void
batcher_free(struct batcher *b)
{
	struct batch_answer ans;

	if (b == NULL)
		return;
	b->freeing = 1;
	/* Replies not applied yet: their requesters still hear them. */
	while (b->replies != NULL) {
		struct batch_reply *rp = b->replies;

		b->replies = rp->next;
		batch_apply_range(b, rp, rp->next_i, rp->c->n, 0);
		batch_reply_free(b, rp);
	}
	memset(&ans, 0, sizeof(ans));
	ans.transport = UP_NOT_SENT;
	ans.item = DIALECT_ITEM_FAULT;
	ans.msg = "shutting down";
	for (int a = 0; a < BATCH_NACTIONS; a++) {
		struct batch_item *it, *next;

		for (it = b->queue[a].head; it != NULL; it = next) {
			next = it->next;
			batch_deliver(b, (enum batch_action)a, it, &ans);
		}
		strmap_free(b->ids[a]);
	}
	event_free(b->flush);
	batch_drain_leave(b);
	free(b);
}
