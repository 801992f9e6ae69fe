/* orders_ids.c - the per-ID actions: status, refill, refill_status and
 * cancel over a list of IDs, batched per upstream.  Each item's outcome is
 * answered typed (orders.h); the API layer renders it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "catalog.h"
#include "config.h"
#include "dialect.h"
#include "log.h"
#include "orders.h"
#include "orders_int.h"
#include "panel.h"
#include "store.h"
#include "strmap.h"
#include "upstream.h"
#include "xmalloc.h"

/* A request over a list of IDs (status, refill, refill_status, cancel). */
struct multi_item {
	struct multi_req *req;
	struct orders_item *res; /* its answer */
	/* The ask to make once every item's store work is done. */
	int upi; /* -1: none */
	char upid[STORE_UPID_MAX + 1];
	int64_t local;
	int reread; /* status: read again once the batch answered */
};

struct multi_req {
	struct orders *o;
	int64_t customer;
	struct order *orders; /* status: the rows read up front */
	int *found;           /* and whether each exists and is theirs */
	struct orders_ids res;
	struct orders_item *answers; /* n of them */
	orders_ids_cb cb;
	void *arg;
	int pending;
	size_t n;
	struct multi_item items[]; /* n of them */
};

/* Fetch order ID: 1 if it belongs to CUSTOMER, 0 if not (or no such
 * order), -1 if the store cannot tell (an outage is not "no such order"). */
static int
orders_get_own(struct orders *o, int64_t customer, int64_t id,
               struct order *out)
{
	switch (store_order_get(o->p->st, id, out)) {
	case STORE_OK:
		return customer == ORDERS_ANY_CUSTOMER ||
		       out->customer_id == customer;
	case STORE_NOTFOUND:
		return 0;
	default:
		return -1;
	}
}

/* The items of IDS (N of them); each not found until told otherwise. */
static struct multi_req *
orders_multi_new(struct orders *o, int64_t customer, const int64_t *ids,
                 size_t n, int multi, orders_ids_cb cb, void *arg)
{
	struct multi_req *m;

	m = xcalloc(1, sizeof(*m) + n * sizeof(m->items[0]));
	m->answers = xcalloc(n != 0 ? n : 1, sizeof(*m->answers));
	m->o = o;
	m->customer = customer;
	m->cb = cb;
	m->arg = arg;
	m->n = n;
	m->res.multi = multi;
	m->res.n = n;
	m->res.items = m->answers;
	for (size_t i = 0; i < n; i++) {
		m->items[i].req = m;
		m->items[i].res = &m->answers[i];
		m->items[i].upi = -1;
		m->answers[i].id = ids[i];
		m->answers[i].why = ORDERS_ERR_NOTFOUND;
	}
	return m;
}

/* Item IT fails for WHY (TEXT for ORDERS_ERR_TEXT). */
static void
orders_item_fail(struct multi_item *it, enum orders_err why, const char *text)
{
	it->res->why = why;
	it->res->text = text;
}

/* Item IT's ask, made by orders_multi_ask. */
static void
orders_multi_want(struct multi_item *it, int upi, const char *upid,
                  int64_t local)
{
	it->upi = upi;
	snprintf(it->upid, sizeof(it->upid), "%s", upid);
	it->local = local;
	it->req->pending++;
}

/* Every ask at once, after the items' store work: a store call may park
 * the fiber (fiber.h), and asks made on both sides of a park would leave in
 * separate batches. */
static void
orders_multi_ask(struct multi_req *m, enum batch_action a, batch_cb cb)
{
	for (size_t i = 0; i < m->n; i++) {
		struct multi_item *it = &m->items[i];

		if (it->upi >= 0)
			batch_ask(m->o->b[it->upi], a, it->upid, it->local, cb,
			          it);
	}
}

static void
orders_multi_free(struct multi_req *m)
{
	free(m->orders);
	free(m->found);
	free(m->answers);
	free(m);
}

/* Status: each order's row as it is now, the one read up front, or read
 * again if a batch answer may have changed it. */
static void
orders_status_rows(struct multi_req *m)
{
	struct order tmp;

	if (m->orders == NULL)
		return;
	for (size_t i = 0; i < m->n; i++) {
		struct orders_item *r = &m->answers[i];

		r->row = NULL;
		if (!m->found[i])
			continue;
		r->row = &m->orders[i];
		if (!m->items[i].reread)
			continue;
		switch (orders_get_own(m->o, m->customer, r->id, &tmp)) {
		case 1:
			m->orders[i] = tmp;
			break;
		case 0:
			r->row = NULL;
			break;
		default:
			break; /* unreadable now: as read before */
		}
	}
}

/* Answer M and free it. */
static void
orders_multi_answer(struct multi_req *m)
{
	orders_status_rows(m);
	m->cb(m->arg, &m->res);
	orders_multi_free(m);
}

/* One ask answered; the last one answers the request. */
static void
orders_multi_step(struct multi_req *m)
{
	if (--m->pending > 0)
		return;
	orders_multi_answer(m);
}

/* After the synchronous part: 1 if answered now. */
static int
orders_multi_finish(struct multi_req *m)
{
	if (m->pending == 0) {
		orders_multi_answer(m);
		return 1;
	}
	/* The asks complete from the loop, never before this returns. */
	return 0;
}

static void
orders_status_joined(const char *id, const struct batch_answer *ans, void *arg)
{
	orders_multi_step(arg);
}

int
orders_status(struct orders *o, int64_t customer, const int64_t *ids, size_t n,
              int multi, orders_ids_cb cb, void *arg)
{
	struct multi_req *m;
	int64_t now = o->clock.wall_ms();

	m = orders_multi_new(o, customer, ids, n, multi, cb, arg);
	m->orders = xreallocarray(NULL, m->n, sizeof(*m->orders));
	m->found = xcalloc(m->n, sizeof(*m->found));
	if (store_order_get_many(o->p->st, ids, m->n, m->orders, m->found) !=
	    STORE_OK) {
		orders_multi_free(m);
		return -1;
	}
	for (size_t i = 0; i < m->n; i++) {
		const struct order *ord = &m->orders[i];
		const struct cfg_upstream *cu;
		int upi;

		if (m->found[i] && ord->customer_id != customer)
			m->found[i] = 0; /* another customer's: not theirs */
		if (!m->found[i] || ord->state != ORDER_ACTIVE || o->stopping)
			continue;
		upi = panel_upstream_index(o->p, ord->upstream);
		if (upi < 0)
			continue;
		cu = &o->p->cfg->upstreams[upi];
		/* The stored copy serves unless it is older than a poll. */
		if (orders_status_fresh(ord->polled_at, now,
		                        cu->poll_interval_ms))
			continue;
		m->items[i].reread = 1;
		m->pending++;
		batch_ask(o->b[upi], BATCH_STATUS, ord->upstream_order, ord->id,
		          orders_status_joined, m);
	}
	return orders_multi_finish(m);
}

/*
 * refill, refill_status, cancel.
 */

static void
orders_refill_answer(const char *id, const struct batch_answer *ans, void *arg)
{
	struct multi_item *it = arg;
	struct orders *o = it->req->o;

	if (ans->transport == UP_REPLIED && ans->item == DIALECT_ITEM_OK) {
		store_refill_update(o->p->st, it->res->refill, "active",
		                    ans->refill, "Pending");
	} else {
		store_refill_update(o->p->st, it->res->refill, "rejected", NULL,
		                    "Rejected");
		/* Never the upstream's own words (they can name it). */
		if (ans->transport == UP_REPLIED &&
		    ans->item == DIALECT_ITEM_REJECTED)
			log_info("refill %lld: refused upstream: %s",
			         (long long)it->res->refill, ans->msg);
		orders_item_fail(it, ORDERS_ERR_TEXT,
		                 ans->transport == UP_REPLIED &&
		                         ans->item == DIALECT_ITEM_REJECTED
		                     ? "This order is not eligible for refill"
		                     : "The refill request failed, please try "
		                       "again later");
		it->res->refill = 0;
	}
	orders_multi_step(it->req);
}

/* "2026-12-07 11:40 UTC" of unix seconds T into BUF (32 bytes). */
static const char *
orders_when(int64_t t, char *buf)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, 32, "%Y-%m-%d %H:%M UTC", &tm);
	return buf;
}

/* Whether the customer's own order ORD may be refilled now: 0, or -1 with
 * the sentence that says why not in IT (DESIGN.md, "Refills"): never
 * sent, canceled, past its service's window, or inside the cooldown since
 * its last refill.  Nothing refused here reaches the upstream. */
static int
orders_refillable(struct orders *o, const struct order *ord,
                  struct multi_item *it)
{
	const struct config *cfg = o->p->cfg;
	const struct catalog_service *cs;
	char a[32], b[32];
	int64_t now = o->clock.wall_ms() / 1000, last;

	switch (ord->state) {
	case ORDER_QUEUED:
	case ORDER_SENDING:
		orders_item_fail(it, ORDERS_ERR_TEXT,
		                 "This order has not been sent to the provider "
		                 "yet: it cannot be refilled");
		return -1;
	case ORDER_CANCELED:
	case ORDER_REFUNDED:
	case ORDER_REJECTED:
		orders_item_fail(it, ORDERS_ERR_TEXT,
		                 "This order was canceled and refunded: it "
		                 "cannot be refilled");
		return -1;
	case ORDER_ACTIVE:
	case ORDER_COMPLETED:
	case ORDER_PARTIAL:
		break;
	}
	if (ord->upstream_order[0] == '\0')
		return -1;
	cs = catalog_find(o->p->cat, ord->service_id);
	if (ord->state != ORDER_ACTIVE && cs != NULL &&
	    cs->refill_window_ms > 0 &&
	    now > ord->updated_at + cs->refill_window_ms / 1000) {
		int64_t w = cs->refill_window_ms / 1000;
		const char *unit = w % 86400 == 0  ? "days"
		                   : w % 3600 == 0 ? "hours"
		                   : w % 60 == 0   ? "minutes"
		                                   : "seconds";
		int64_t n = w % 86400 == 0  ? w / 86400
		            : w % 3600 == 0 ? w / 3600
		            : w % 60 == 0   ? w / 60
		                            : w;

		snprintf(it->res->note, sizeof(it->res->note),
		         "The refill period of this order ended at %s (%lld "
		         "%s after completion)",
		         orders_when(ord->updated_at + w, a), (long long)n,
		         unit);
		orders_item_fail(it, ORDERS_ERR_TEXT, it->res->note);
		return -1;
	}
	if (cfg->refill_cooldown_ms <= 0)
		return 0;
	if (store_refill_last(o->p->st, ord->id, &last) != STORE_OK) {
		orders_item_fail(it, ORDERS_ERR_INTERNAL, NULL);
		return -1;
	}
	if (last > 0 && now < last + cfg->refill_cooldown_ms / 1000) {
		snprintf(it->res->note, sizeof(it->res->note),
		         "A refill of this order was requested at %s: the next "
		         "one can be requested from %s",
		         orders_when(last, a),
		         orders_when(last + cfg->refill_cooldown_ms / 1000, b));
		orders_item_fail(it, ORDERS_ERR_TEXT, it->res->note);
		return -1;
	}
	return 0;
}

int
orders_refill(struct orders *o, int64_t customer, const int64_t *ids, size_t n,
              int multi, orders_ids_cb cb, void *arg)
{
	struct multi_req *m;
	struct order ord;

	m = orders_multi_new(o, customer, ids, n, multi, cb, arg);
	for (size_t i = 0; i < m->n; i++) {
		struct multi_item *it = &m->items[i];
		int upi, own;

		if ((own = orders_get_own(o, customer, it->res->id, &ord)) < 0)
			orders_item_fail(it, ORDERS_ERR_INTERNAL, NULL);
		if (own > 0 && !catalog_service_allows(
		                   o->p->cat, ord.service_id, CATALOG_REFILL)) {
			orders_item_fail(it, ORDERS_ERR_TEXT,
			                 CATALOG_NO_REFILL);
			continue;
		}
		if (own <= 0 || orders_refillable(o, &ord, it) != 0 ||
		    (upi = panel_upstream_index(o->p, ord.upstream)) < 0)
			continue;
		if (o->stopping) {
			orders_item_fail(it, ORDERS_ERR_TEXT,
			                 ORDERS_UNAVAILABLE);
			continue;
		}
		if (store_refill_add(o->p->st, ord.id, customer, ord.upstream,
		                     &it->res->refill) != STORE_OK) {
			orders_item_fail(it, ORDERS_ERR_INTERNAL, NULL);
			continue;
		}
		orders_multi_want(it, upi, ord.upstream_order, it->res->refill);
	}
	orders_multi_ask(m, BATCH_REFILL, orders_refill_answer);
	return orders_multi_finish(m);
}

static const char *
orders_refill_word(const struct refill *rf)
{
	if (strcmp(rf->state, "rejected") == 0)
		return "Rejected";
	return rf->status[0] != '\0' ? rf->status : "Pending";
}

static void
orders_refill_status_answer(const char *id, const struct batch_answer *ans,
                            void *arg)
{
	struct multi_item *it = arg;
	struct orders *o = it->req->o;

	if (ans->transport == UP_REPLIED && ans->item == DIALECT_ITEM_OK &&
	    ans->rstatus != DIALECT_REFILL_UNKNOWN) {
		const char *w = dialect_refill_status_name(ans->rstatus);
		int final = ans->rstatus == DIALECT_REFILL_COMPLETED ||
		            ans->rstatus == DIALECT_REFILL_REJECTED ||
		            ans->rstatus == DIALECT_REFILL_ERROR;

		snprintf(it->res->status, sizeof(it->res->status), "%s", w);
		store_refill_update(o->p->st, it->res->id,
		                    final ? "final" : "active", NULL, w);
	}
	orders_multi_step(it->req);
}

int
orders_refill_status(struct orders *o, int64_t customer, const int64_t *ids,
                     size_t n, int multi, orders_ids_cb cb, void *arg)
{
	struct multi_req *m;
	struct refill rf;

	m = orders_multi_new(o, customer, ids, n, multi, cb, arg);
	for (size_t i = 0; i < m->n; i++) {
		struct multi_item *it = &m->items[i];
		int upi;

		switch (store_refill_get(o->p->st, it->res->id, &rf)) {
		case STORE_OK:
			break;
		case STORE_NOTFOUND:
			continue;
		default: /* an outage is not "no such refill" */
			orders_item_fail(it, ORDERS_ERR_INTERNAL, NULL);
			continue;
		}
		if (rf.customer_id != customer)
			continue;
		it->res->ok = 1;
		it->res->why = ORDERS_ERR_NONE;
		snprintf(it->res->status, sizeof(it->res->status), "%s",
		         orders_refill_word(&rf));
		if (strcmp(rf.state, "active") != 0 || o->stopping ||
		    (upi = panel_upstream_index(o->p, rf.upstream)) < 0)
			continue;
		orders_multi_want(it, upi, rf.upstream_refill, rf.id);
	}
	orders_multi_ask(m, BATCH_REFILL_STATUS, orders_refill_status_answer);
	return orders_multi_finish(m);
}

static void
orders_cancel_answer(const char *id, const struct batch_answer *ans, void *arg)
{
	struct multi_item *it = arg;
	struct orders *o = it->req->o;
	struct order ord;
	int upi;

	if (ans->transport == UP_REPLIED && ans->item == DIALECT_ITEM_OK) {
		it->res->ok = 1;
		it->res->why = ORDERS_ERR_NONE;
		/* The refund follows the status: ask for it now. */
		if (!o->stopping &&
		    store_order_get(o->p->st, it->res->id, &ord) == STORE_OK &&
		    (upi = panel_upstream_index(o->p, ord.upstream)) >= 0)
			batch_ask(o->b[upi], BATCH_STATUS, id, it->res->id,
			          orders_ignore, NULL);
	} else {
		if (ans->transport == UP_REPLIED &&
		    ans->item == DIALECT_ITEM_REJECTED)
			log_info("order %lld: cancel refused upstream: %s",
			         (long long)it->res->id, ans->msg);
		orders_item_fail(it, ORDERS_ERR_TEXT,
		                 ans->transport == UP_REPLIED &&
		                         ans->item == DIALECT_ITEM_REJECTED
		                     ? "This order cannot be canceled"
		                     : "The cancel request failed, please try "
		                       "again later");
	}
	orders_multi_step(it->req);
}

int
orders_cancel(struct orders *o, int64_t customer, const int64_t *ids, size_t n,
              int multi, orders_ids_cb cb, void *arg)
{
	struct multi_req *m;
	struct order ord;
	char key[24];

	m = orders_multi_new(o, customer, ids, n, multi, cb, arg);
	for (size_t i = 0; i < m->n; i++) {
		struct multi_item *it = &m->items[i];
		int upi, own;

		if ((own = orders_get_own(o, customer, it->res->id, &ord)) < 0)
			orders_item_fail(it, ORDERS_ERR_INTERNAL, NULL);
		if (own <= 0)
			continue;
		if (!catalog_service_allows(o->p->cat, ord.service_id,
		                            CATALOG_CANCEL)) {
			orders_item_fail(it, ORDERS_ERR_TEXT,
			                 CATALOG_NO_CANCEL);
			continue;
		}
		snprintf(key, sizeof(key), "%lld", (long long)ord.id);
		if (ord.state == ORDER_QUEUED &&
		    strmap_get(o->dispatching, key) == NULL) {
			/* Never sent: canceled here, refunded in full. */
			if (store_order_reject(o->p->st, ord.id,
			                       "canceled before sending") ==
			    STORE_OK) {
				it->res->ok = 1;
				it->res->why = ORDERS_ERR_NONE;
			}
			continue;
		}
		if (ord.state != ORDER_ACTIVE ||
		    (upi = panel_upstream_index(o->p, ord.upstream)) < 0) {
			orders_item_fail(
			    it, ORDERS_ERR_TEXT,
			    ord.state == ORDER_SENDING ||
			            ord.state == ORDER_QUEUED
			        ? "The order is being sent, please "
			          "try again shortly"
			        : "This order cannot be canceled");
			continue;
		}
		if (o->stopping) {
			orders_item_fail(it, ORDERS_ERR_TEXT,
			                 ORDERS_UNAVAILABLE);
			continue;
		}
		orders_multi_want(it, upi, ord.upstream_order, ord.id);
	}
	orders_multi_ask(m, BATCH_CANCEL, orders_cancel_answer);
	return orders_multi_finish(m);
}
