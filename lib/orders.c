/* orders.c - the order engine: add and its dispatch state machine, the
 * sweeper, the poller, settlement, and the per-ID actions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include "clock.h"
#include "api.h"
#include "batch.h"
#include "buf.h"
#include "catalog.h"
#include "config.h"
#include "dialect.h"
#include "fiber.h"
#include "log.h"
#include "money.h"
#include "orders.h"
#include "ordertype.h"
#include "panel.h"
#include "params.h"
#include "store.h"
#include "strmap.h"
#include "upstream.h"
#include "xmalloc.h"

#define ORDERS_SWEEP_MS 2000   /* queued orders retried this often */
#define ORDERS_SWEEP_BATCH 200 /* queued orders looked at per sweep */
/* A queued order one sweep claimed is not claimed again (by any instance)
 * for this long. */
#define ORDERS_SWEEP_LEASE_MS (ORDERS_SWEEP_MS - 200)
#define ORDERS_POLL_CLAIM 1000  /* open orders claimed at once, 10 batches */
#define ORDERS_QUEUE_MAX_S 3600 /* unsent this long: refunded */
#define ORDERS_MAX_ROUTES 16
#define ORDERS_UNAVAILABLE                                                     \
	"This service is temporarily unavailable, please try again later"

#define ORDERS_GROUP_MAX 256 /* orders created or activated per commit */

struct pending_add;

struct add_job;

/* An upstream accepted an order: recorded with others in one commit, then
 * its job completes (the customer gets the ID once it is recorded). */
struct pending_active {
	struct add_job *job;
	int64_t id;
	char upstream_order[DIALECT_ID_SZ];
	money_t cost;
};

struct orders {
	struct panel *p;
	struct batcher **b;        /* one per upstream */
	struct event **poll_timer; /* one per upstream */
	struct event *sweep_timer;
	struct strmap *dispatching; /* order id -> job being sent */
	/* Group commit: adds and activations of one loop pass. */
	struct pending_add *adds[ORDERS_GROUP_MAX];
	size_t nadds;
	struct pending_active actives[ORDERS_GROUP_MAX];
	size_t nactives;
	struct event *group;
	int stopping;
	struct orders_stats stats;
	/* orders_active_word's last word and what it showed */
	char memo_word[sizeof(((struct order *)0)->upstream_status)];
	const char *memo_shown;
};

static void orders_group_schedule(struct orders *o);
static void orders_flush_actives(struct orders *o);

/*
 * Rendering.
 */

/* What a customer sees of an active order's upstream word.  The last word
 * is remembered: a status of 100 IDs mostly repeats one or two. */
static const char *
orders_active_word(struct orders *o, const char *word)
{
	enum dialect_status s;
	const char *shown;
	size_t n;

	if (o->memo_shown != NULL && strcmp(o->memo_word, word) == 0)
		return o->memo_shown;
	s = dialect_status_word(word);
	/* Customers see the standard v2 words only (DESIGN.md, "Orders"):
	 * v1 panels' "processing" is In progress. */
	shown =
	    s == DIALECT_STATUS_IN_PROGRESS || s == DIALECT_STATUS_PROCESSING
	        ? "In progress"
	        : "Pending";
	if ((n = strlen(word)) < sizeof(o->memo_word)) {
		memcpy(o->memo_word, word, n + 1);
		o->memo_shown = shown;
	}
	return shown;
}

/* What a customer sees of an order's state. */
static const char *
orders_status_word(struct orders *o, const struct order *ord)
{
	switch (ord->state) {
	case ORDER_QUEUED:
	case ORDER_SENDING:
		return "Pending";
	case ORDER_ACTIVE:
		return orders_active_word(o, ord->upstream_status);
	case ORDER_COMPLETED:
		return "Completed";
	case ORDER_PARTIAL:
		return "Partial";
	case ORDER_CANCELED:
	case ORDER_REJECTED:
	case ORDER_REFUNDED: /* not a v2 word: canceled with a full refund */
		return "Canceled";
	}
	return "Pending";
}

/* V in decimal into BUF (24 bytes); returns its length.  No printf: a
 * status of 100 IDs renders 300 numbers. */
static size_t
orders_itoa_len(int64_t v, char *buf)
{
	char tmp[24];
	uint64_t m = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	size_t n = 0, o = 0;

	do {
		tmp[n++] = (char)('0' + m % 10);
		m /= 10;
	} while (m != 0);
	if (v < 0)
		buf[o++] = '-';
	while (n > 0)
		buf[o++] = tmp[--n];
	buf[o] = '\0';
	return o;
}

static void
orders_put_int(struct buf *b, int64_t v)
{
	char num[24];

	buf_add(b, num, orders_itoa_len(v, num));
}

/* Append literal LIT at P, advancing it. */
#define ORDERS_LIT(p, lit)                                                     \
	do {                                                                   \
		memcpy((p), lit, sizeof(lit) - 1);                             \
		(p) += sizeof(lit) - 1;                                        \
	} while (0)

static char *
orders_put_str(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

/* One order's status object, built in place and appended at once: a status
 * of 100 IDs renders 100 of them. */
static void
orders_render_one(struct orders *o, struct buf *b, const struct order *ord)
{
	const struct config *cfg = o->p->cfg;
	/* 5 keys, 2 numbers, an amount, a status word, a currency code */
	char out[256], *p = out;
	int64_t remains;

	/* In the upstream's unit (quantity x runs for drip-feed, max for
	 * Subscriptions), as the upstream reported it. */
	if (ord->state == ORDER_COMPLETED)
		remains = 0;
	else if (ord->state == ORDER_REJECTED)
		remains = ord->upstream_quantity; /* nothing was delivered */
	else
		remains = ord->remains >= 0 ? ord->remains
		                            : ord->upstream_quantity;
	/* The charge net of refunds, as panels show it.  The currency is a
	 * validated code of 3 to 8 capital letters and the status words are
	 * ours: nothing here needs escaping. */
	ORDERS_LIT(p, "{\"charge\":\"");
	money_format(ord->charge - ord->refunded, cfg->money_decimals, p);
	p += strlen(p);
	ORDERS_LIT(p, "\",\"start_count\":\"");
	p += orders_itoa_len(ord->start_count >= 0 ? ord->start_count : 0, p);
	ORDERS_LIT(p, "\",\"status\":\"");
	p = orders_put_str(p, orders_status_word(o, ord));
	ORDERS_LIT(p, "\",\"remains\":\"");
	p += orders_itoa_len(remains, p);
	ORDERS_LIT(p, "\",\"currency\":\"");
	p = orders_put_str(p, cfg->currency);
	ORDERS_LIT(p, "\"}");
	buf_add(b, out, (size_t)(p - out));
}

static void
orders_reply_error(struct api_reply *r, const char *msg)
{
	buf_reset(&r->body);
	api_error(&r->body, msg);
}

/* Fetch order ID: 1 if it belongs to CUSTOMER, 0 if not (or no such
 * order), -1 if the store cannot tell (an outage is not "no such order"). */
static int
orders_get_own(struct orders *o, int64_t customer, int64_t id,
               struct order *out)
{
	switch (store_order_get(o->p->st, id, out)) {
	case STORE_OK:
		return out->customer_id == customer;
	case STORE_NOTFOUND:
		return 0;
	default:
		return -1;
	}
}

/*
 * add: dispatch state machine.
 */

struct add_route {
	size_t upstream;
	int64_t service;
	money_t cost;
};

struct add_wait;

struct add_job {
	struct orders *o;
	int64_t id;
	money_t charge, rate;
	char *fields;
	struct add_route routes[ORDERS_MAX_ROUTES];
	int nroutes;
	int route;
	int marked; /* the route the order is 'sending' on for this job,
	             * -1 while it is queued */
	struct add_wait *wait;
	char key[24];
};

struct add_wait {
	struct api_reply *r;
	orders_done_cb done;
	void *arg;
	struct event *timer;
	struct add_job *job;
	int64_t id;
};

static void orders_dispatch(struct add_job *j);

/* An add's answer: ERR, or the order ID. */
static void
orders_answer(struct api_reply *r, const char *err, int64_t id)
{
	if (err != NULL)
		orders_reply_error(r, err);
	else
		buf_printf(&r->body, "{\"order\":%lld}", (long long)id);
}

/* Answer the customer waiting on J, if any: the order ID, or ERR. */
static void
orders_wake(struct add_job *j, const char *err)
{
	struct add_wait *w = j->wait;

	if (w == NULL)
		return;
	j->wait = NULL;
	orders_answer(w->r, err, w->id);
	event_free(w->timer);
	w->done(w->arg);
	free(w);
}

static void
orders_wait_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct add_wait *w = arg;

	/* The outcome is still open: the customer gets the order ID now,
	 * the dispatch goes on without them. */
	orders_wake(w->job, NULL);
}

static void
orders_job_free(struct add_job *j)
{
	orders_wake(j, NULL);
	strmap_del(j->o->dispatching, j->key);
	free(j->fields);
	free(j);
}

/* Copy service S's routes (at most ORDERS_MAX_ROUTES) into ROUTES; the
 * count. */
static int
orders_routes_of(const struct catalog_service *s, struct add_route *routes)
{
	int n = 0;

	for (size_t i = 0; i < s->nroutes && n < ORDERS_MAX_ROUTES; i++, n++) {
		routes[n].upstream = s->routes[i].upstream;
		routes[n].service = s->routes[i].service;
		routes[n].cost = s->routes[i].cost;
	}
	return n;
}

/* Build J's routes from the current catalogue. -1 if the service is gone. */
static int
orders_job_routes(struct add_job *j, int64_t service_id)
{
	const struct catalog_service *s =
	    catalog_find(j->o->p->cat, service_id);

	if (s == NULL)
		return -1;
	j->rate = s->rate;
	j->nroutes = orders_routes_of(s, j->routes);
	return 0;
}

static struct add_job *
orders_job_new(struct orders *o, int64_t id, money_t charge, char *fields)
{
	struct add_job *j = xcalloc(1, sizeof(*j));

	j->o = o;
	j->id = id;
	j->charge = charge;
	j->fields = fields;
	j->marked = -1;
	snprintf(j->key, sizeof(j->key), "%lld", (long long)id);
	strmap_put(o->dispatching, j->key, j);
	return j;
}

/* Fields JSON + the upstream's service ID, form-encoded. */
static int
orders_add_form(const struct add_job *j, const struct add_route *rt,
                struct buf *form)
{
	json_t *obj = json_loads(j->fields, 0, NULL);
	const char *k;
	json_t *v;
	char sid[24];

	if (obj == NULL || !json_is_object(obj)) {
		json_decref(obj);
		return -1;
	}
	snprintf(sid, sizeof(sid), "%lld", (long long)rt->service);
	upstream_form_add(form, "service", sid);
	json_object_foreach(obj, k, v)
	{
		if (json_is_string(v))
			upstream_form_add(form, k, json_string_value(v));
	}
	json_decref(obj);
	return 0;
}

static void
orders_ambiguous(struct add_job *j, const char *upstream, const char *why)
{
	j->o->stats.ambiguous++;
	log_warnx("order %lld: no usable answer from %s to add (%s): it stays "
	          "'sending' with its funds reserved; see `panelmux order "
	          "resolve %lld`",
	          (long long)j->id, upstream, why, (long long)j->id);
	orders_job_free(j);
}

/* The number after WORD in MSG ("minimal 1000"), or -1. */
static long long
orders_number_after(const char *msg, const char *word)
{
	const char *p = strcasestr(msg, word);
	long long n = 0;
	int digits = 0;

	if (p == NULL)
		return -1;
	for (p += strlen(word); *p == ' ' || *p == ':'; p++)
		;
	for (; *p >= '0' && *p <= '9' && digits < 13; p++, digits++)
		n = n * 10 + (*p - '0');
	return digits > 0 && digits < 13 ? n : -1;
}

/* What a customer is told of an upstream's definite refusal of an add
 * (SPEC section 6): the standard v2 error it matches, or a neutral
 * sentence, written into BUF.  The upstream's own text can name it (its
 * host, its brand) and goes only to the log and the order record.  Funds,
 * key and service problems are the operator's account, not the
 * customer's. */
const char *
orders_refusal_text(const char *upstream_msg, char *buf, size_t len)
{
	static const char *const operator_words[] = {
	    "fund", "balance", "api key", "apikey", "api_key", "key",
	    "service", "disabled", "unavailable", "maintenance"};
	long long n;

	if ((n = orders_number_after(upstream_msg, "minimal")) >= 0 ||
	    (n = orders_number_after(upstream_msg, "min_quantity")) >= 0) {
		snprintf(buf, len, "Quantity less than minimal %lld", n);
		return buf;
	}
	if ((n = orders_number_after(upstream_msg, "maximum")) >= 0 ||
	    (n = orders_number_after(upstream_msg, "max_quantity")) >= 0) {
		snprintf(buf, len, "Quantity more than maximum %lld", n);
		return buf;
	}
	if (strcasestr(upstream_msg, "active order") != NULL ||
	    strcasestr(upstream_msg, "duplicate") != NULL)
		return "You have active order with this link. Please wait "
		       "until order being completed.";
	for (size_t i = 0;
	     i < sizeof(operator_words) / sizeof(operator_words[0]); i++)
		if (strcasestr(upstream_msg, operator_words[i]) != NULL)
			return ORDERS_UNAVAILABLE;
	if (strcasestr(upstream_msg, "link") != NULL ||
	    strcasestr(upstream_msg, "url") != NULL ||
	    strcasestr(upstream_msg, "username") != NULL)
		return "Incorrect link";
	if (strcasestr(upstream_msg, "quantity") != NULL)
		return "Incorrect quantity";
	return "The order was refused, please check it and try again";
}

/* Record J's acceptance as UPID with the group's next commit; the customer
 * gets the order's ID once it is recorded, so what they do next (status,
 * cancel, refill) finds the order active with its upstream ID. */
static void
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

static void
orders_add_done(const struct up_result *res, void *arg)
{
	struct add_job *j = arg;
	struct orders *o = j->o;
	const struct add_route *rt = &j->routes[j->route];
	/* A copy: a store call may park this fiber while a reload frees the
	 * configuration. */
	char up[STORE_UPNAME_MAX + 1], shown[96];
	struct dialect_add d;
	money_t cost = 0;

	snprintf(up, sizeof(up), "%s", o->p->cfg->upstreams[rt->upstream].name);

	if (res->transport == UP_NOT_SENT) {
		/* Provably not sent: back to queued, then the next route. */
		if (store_order_unsent(o->p->st, j->id) != STORE_OK) {
			orders_ambiguous(j, up, "store error");
			return;
		}
		j->marked = -1;
		log_info("order %lld: not sent to %s (%s)", (long long)j->id,
		         up, res->reason);
		j->route++;
		orders_dispatch(j);
		return;
	}
	if (res->transport == UP_LOST) {
		orders_ambiguous(j, up, res->reason);
		return;
	}
	switch (dialect_add((int)res->http_status, res->body, res->len, &d)) {
	case DIALECT_OK:
		if (money_mul_div(j->charge, rt->cost, j->rate, MONEY_ROUND_UP,
		                  &cost) != 0)
			cost = 0;
		orders_activate(o, j, d.order, cost);
		return;
	case DIALECT_REJECTED:
		log_info("order %lld: %s refused it: %s", (long long)j->id, up,
		         d.msg);
		if (j->route + 1 < j->nroutes) {
			j->route++;
			orders_dispatch(j);
			return;
		}
		if (store_order_reject(o->p->st, j->id, d.msg) != STORE_OK) {
			orders_ambiguous(j, up,
			                 "the refund could not be written");
			return;
		}
		o->stats.rejected++;
		orders_wake(j, orders_refusal_text(d.msg, shown, sizeof(shown)));
		orders_job_free(j);
		return;
	case DIALECT_FAULT:
		upstream_note_fault(o->p->ups[rt->upstream].up);
		orders_ambiguous(j, up, d.msg);
		return;
	}
}

/* Send J on its current route, skipping routes whose circuit is open; with
 * none left the order stays queued for the sweeper. */
static void
orders_dispatch(struct add_job *j)
{
	struct orders *o = j->o;
	struct buf form;

	for (; j->route < j->nroutes; j->route++) {
		const struct add_route *rt = &j->routes[j->route];
		struct panel_upstream *pu = &o->p->ups[rt->upstream];

		enum store_result mr = STORE_OK;

		if (o->stopping)
			break;
		if (upstream_circuit(pu->up) != UP_CIRCUIT_CLOSED)
			continue;
		/* Already marked for this route (created so): no write. */
		if (j->marked != j->route)
			mr = store_order_sending(o->p->st, j->id, j->route,
			                         pu->state.name, rt->service,
			                         j->marked >= 0);
		switch (mr) {
		case STORE_OK:
			j->marked = j->route;
			break;
		case STORE_CONFLICT:
			/* Settled meanwhile (operator), or another instance
			 * claimed it first: not ours to send. */
			orders_job_free(j);
			return;
		default:
			/* Still queued: the sweeper tries again. */
			orders_job_free(j);
			return;
		}
		buf_init(&form, 1 << 20);
		if (orders_add_form(j, rt, &form) != 0) {
			buf_free(&form);
			store_order_unsent(o->p->st, j->id);
			log_warnx("order %lld: stored fields unreadable",
			          (long long)j->id);
			orders_job_free(j);
			return;
		}
		upstream_call(pu->up, "add", form.data, UP_FRESH,
		              orders_add_done, j);
		buf_free(&form);
		return;
	}
	/* No route could take it now: it stays queued (charged, not sent). */
	if (j->marked >= 0)
		store_order_unsent(o->p->st, j->id);
	o->stats.parked++;
	orders_job_free(j);
}

/* The order's service ID (digits only). */
static int
orders_parse_id(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	v = strtoll(s, &end, 10);
	while (*end == ' ')
		end++;
	if (*end != '\0' || v <= 0)
		return -1;
	*out = v;
	return 0;
}

static int
orders_request_id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > STORE_REQID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

/* An add validated and waiting for its loop pass's group commit. */
struct pending_add {
	struct order_new on;
	struct order_spec spec;              /* owns the fields */
	char upstream[STORE_UPNAME_MAX + 1]; /* a reload may free the config */
	char *request_id;
	uint8_t hash[ORDERTYPE_HASH_LEN];
	struct add_route routes[ORDERS_MAX_ROUTES];
	int nroutes;
	money_t rate;
	struct api_reply *r;
	orders_done_cb done;
	void *arg;
};

static void
orders_pending_free(struct pending_add *pa)
{
	order_spec_clear(&pa->spec);
	free(pa->request_id);
	free(pa);
}

/* Answer PA's customer now (a refusal, or an order that exists already). */
static void
orders_pending_answer(struct pending_add *pa, const char *err, int64_t id)
{
	orders_answer(pa->r, err, id);
	pa->done(pa->arg);
}

/* Start dispatching an order just created for PA; the customer waits up
 * to orders.reply_wait for the outcome. */
static void
orders_pending_start(struct orders *o, struct pending_add *pa, int64_t id)
{
	struct add_job *j;
	struct add_wait *w;
	struct timeval tv;

	o->stats.added++;
	j = orders_job_new(o, id, pa->on.charge, pa->spec.fields);
	pa->spec.fields = NULL;
	memcpy(j->routes, pa->routes, sizeof(j->routes));
	j->nroutes = pa->nroutes;
	j->rate = pa->rate;
	j->marked = pa->on.sending ? 0 : -1;
	w = xcalloc(1, sizeof(*w));
	w->r = pa->r;
	w->done = pa->done;
	w->arg = pa->arg;
	w->job = j;
	w->id = id;
	w->timer = evtimer_new(o->p->base, orders_wait_timeout, w);
	if (w->timer == NULL)
		fatalx("orders: out of memory for a timer");
	tv.tv_sec = o->p->cfg->reply_wait_ms / 1000;
	tv.tv_usec = (o->p->cfg->reply_wait_ms % 1000) * 1000;
	evtimer_add(w->timer, &tv);
	j->wait = w;
	orders_dispatch(j);
}

/* A loop pass's group, taken out of the shared queues. */
struct orders_group {
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
			orders_pending_answer(pa, API_ERR_FUNDS, 0);
			break;
		case STORE_EXISTS: /* the same request again: the same order */
			orders_pending_answer(pa, NULL, g->ids[i]);
			break;
		case STORE_CONFLICT:
			orders_pending_answer(
			    pa,
			    pa->request_id != NULL
			        ? "This request_id was already "
			          "used for a different order"
			        : API_ERR_INTERNAL,
			    0);
			break;
		default:
			orders_pending_answer(pa, API_ERR_INTERNAL, 0);
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
		    o->p->cfg->upstreams[j->routes[j->route].upstream].name;

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

/* Create the waiting adds (with ADDS) and record the accepted ones (with
 * ACTS) in one durable transaction, then answer, dispatch and complete
 * each.  Both queues are taken out first: on a fiber the commit parks, and
 * the next group gathers meanwhile. */
static void
orders_flush(struct orders *o, int adds, int acts)
{
	struct orders_group *g = xmalloc(sizeof(*g));

	g->nadds = adds ? o->nadds : 0;
	g->nacts = acts ? o->nactives : 0;
	if (g->nadds == 0 && g->nacts == 0) {
		free(g);
		return;
	}
	memcpy(g->adds, o->adds, g->nadds * sizeof(g->adds[0]));
	memcpy(g->acts, o->actives, g->nacts * sizeof(g->acts[0]));
	if (adds)
		o->nadds = 0;
	if (acts)
		o->nactives = 0;
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
	orders_group_adds_done(o, g);
	orders_group_acts_done(o, g);
	free(g);
}

static void
orders_flush_adds(struct orders *o)
{
	orders_flush(o, 1, 0);
}

static void
orders_flush_actives(struct orders *o)
{
	orders_flush(o, 0, 1);
}

static void
orders_group_run(void *a, void *b)
{
	orders_flush(a, 1, 1);
}

static void
orders_group_cb(evutil_socket_t fd, short what, void *arg)
{
	fiber_spawn(orders_group_run, arg, NULL);
}

static void
orders_group_schedule(struct orders *o)
{
	static const struct timeval zero = {0, 0};

	if (!evtimer_pending(o->group, NULL))
		evtimer_add(o->group, &zero);
}

int
orders_add(struct orders *o, const struct customer *c, const struct params *p,
           struct api_reply *r, orders_done_cb done, void *arg)
{
	const struct catalog_service *svc;
	const char *reqid = params_get(p, "request_id");
	struct pending_add *pa;
	char err[256];
	int64_t sid;

	if (orders_parse_id(params_get(p, "service"), &sid) != 0 ||
	    (svc = catalog_find(o->p->cat, sid)) == NULL) {
		orders_reply_error(r, API_ERR_SERVICE);
		return 1;
	}
	if (reqid != NULL && !orders_request_id_ok(reqid)) {
		orders_reply_error(r, "request_id must be 1 to 64 printable "
		                      "characters");
		return 1;
	}
	pa = xcalloc(1, sizeof(*pa));
	if (ordertype_build(p, svc, o->p->cfg->money_decimals, &pa->spec, err,
	                    sizeof(err)) != 0) {
		free(pa);
		orders_reply_error(r, err);
		return 1;
	}
	pa->r = r;
	pa->done = done;
	pa->arg = arg;
	pa->rate = svc->rate;
	pa->nroutes = orders_routes_of(svc, pa->routes);
	pa->on.customer_id = c->id;
	pa->on.service_id = sid;
	pa->on.type = pa->spec.type;
	pa->on.quantity = pa->spec.quantity;
	pa->on.upstream_quantity = pa->spec.upstream_quantity;
	pa->on.runs = pa->spec.runs;
	pa->on.interval = pa->spec.interval;
	pa->on.rate = svc->rate;
	pa->on.charge = pa->spec.charge;
	pa->on.fields = pa->spec.fields;
	snprintf(pa->upstream, sizeof(pa->upstream), "%s",
	         o->p->cfg->upstreams[svc->routes[0].upstream].name);
	pa->on.upstream = pa->upstream;
	pa->on.upstream_service = svc->routes[0].service;
	/* The first route is tried as soon as the order exists: create it
	 * marked, unless that route's circuit is open. */
	pa->on.sending =
	    !o->stopping &&
	    upstream_circuit(o->p->ups[svc->routes[0].upstream].up) ==
	        UP_CIRCUIT_CLOSED;
	if (reqid != NULL) {
		ordertype_hash(sid, &pa->spec, pa->hash);
		pa->request_id = xstrdup(reqid);
		pa->on.request_id = pa->request_id;
		pa->on.request_hash = pa->hash;
	}
	/* A full group goes first: those requests are all earlier ones (a
	 * loop, as in orders_activate). */
	while (o->nadds >= ORDERS_GROUP_MAX)
		orders_flush_adds(o);
	o->adds[o->nadds++] = pa;
	orders_group_schedule(o);
	return 0;
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
	sc->n++;
	return sc->n == ORDERS_SWEEP_BATCH;
}

static void
orders_sweep(struct orders *o)
{
	int64_t now_ms = clock_wall_ms();
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
		if (now - sc.created[i] > ORDERS_QUEUE_MAX_S) {
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
		if (orders_job_routes(j, sc.service[i]) != 0) {
			if (store_order_reject(o->p->st, j->id,
			                       API_ERR_SERVICE) == STORE_OK)
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

static void
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

static void
orders_apply_status(struct orders *o, size_t upi, int64_t local, const char *id,
                    const struct batch_answer *ans)
{
	const struct cfg_upstream *cu = &o->p->cfg->upstreams[upi];
	const struct dialect_order_status *st = ans->st;
	char word[sizeof(((struct order *)0)->upstream_status)];
	struct order_update u;
	struct order ord;
	enum store_result r;
	money_t factor;

	if (ans->transport != UP_REPLIED || ans->item != DIALECT_ITEM_OK) {
		if (ans->transport == UP_REPLIED &&
		    ans->item == DIALECT_ITEM_REJECTED) {
			log_warnx("order %lld: %s says of its order %s: %s",
			          (long long)local, cu->name, id, ans->msg);
			store_order_polled(o->p->st, &local, 1,
			                   clock_wall_ms());
		}
		return;
	}
	if (store_order_get(o->p->st, local, &ord) != STORE_OK ||
	    ord.state != ORDER_ACTIVE)
		return;
	/* Again: the call may have parked while a reload replaced it. */
	cu = &o->p->cfg->upstreams[upi];
	memset(&u, 0, sizeof(u));
	u.status = dialect_status_name(st->status);
	u.start_count = st->has_start_count ? st->start_count : -1;
	u.remains = -1;
	if (st->has_remains) /* clamp: panels send negatives and more */
		u.remains = st->remains < 0 ? 0
		            : st->remains > ord.upstream_quantity
		                ? ord.upstream_quantity
		                : st->remains;
	u.cost = -1;
	if (st->has_charge &&
	    config_currency_value(o->p->cfg,
	                          cu->currency != NULL ? cu->currency
	                                               : o->p->cfg->currency,
	                          &factor) == 0 &&
	    money_mul(st->charge, factor, MONEY_ROUND_UP, &u.cost) != 0)
		u.cost = -1;
	u.final_state = orders_final_state(st->status);
	if (st->status == DIALECT_STATUS_UNKNOWN ||
	    st->status == DIALECT_STATUS_FAIL) {
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
		u.final_state = -1;
	}
	if (u.final_state == ORDER_PARTIAL && u.remains < 0) {
		log_warnx("order %lld: Partial without remains: not settled "
		          "yet",
		          (long long)local);
		u.final_state = -1;
		u.status = NULL;
	}
	r = store_order_status(o->p->st, local, &u);
	if (r == STORE_OK && u.final_state >= 0) {
		o->stats.settled++;
		log_info("order %lld: %s", (long long)local,
		         dialect_status_name(st->status));
	} else if (r == STORE_ERROR)
		log_warnx("order %lld: status not recorded", (long long)local);
}

struct orders_apply_ctx {
	struct orders *o;
	size_t upi;
};

static void
orders_apply(void *ctx, enum batch_action a, int64_t local, const char *id,
             const struct batch_answer *ans)
{
	struct orders_apply_ctx *ac = ctx;

	if (a == BATCH_STATUS)
		orders_apply_status(ac->o, ac->upi, local, id, ans);
}

static void
orders_ignore(const char *id, const struct batch_answer *ans, void *arg)
{
}

struct poll_ctx {
	struct orders *o;
	size_t upi;
	int64_t asked;
};

static int
orders_poll_one(const struct order *ord, void *arg)
{
	struct poll_ctx *pc = arg;

	if (ord->upstream_order[0] == '\0')
		return 0;
	batch_ask(pc->o->b[pc->upi], BATCH_STATUS, ord->upstream_order, ord->id,
	          orders_ignore, NULL);
	pc->asked++;
	return 0;
}

void
orders_poll(struct orders *o, size_t idx)
{
	const struct cfg_upstream *cu = &o->p->cfg->upstreams[idx];
	/* Due a little early, so answers spread over a cycle stay in it. */
	int64_t due =
	    clock_wall_ms() - cu->poll_interval_ms + cu->poll_interval_ms / 10;
	/* A copy: each claim may park this fiber while a reload frees the
	 * configuration (valgrind caught the filter reading a freed name). */
	char name[STORE_UPNAME_MAX + 1];
	struct order_filter f = {ORDER_ACTIVE, 0, name, due,
	                         o->p->st->shared ? ORDERS_POLL_CLAIM
	                                          : INT64_MAX};
	struct poll_ctx pc = {o, idx, 0};
	int64_t n;

	snprintf(name, sizeof(name), "%s", cu->name);
	cu = NULL;
	if (o->stopping)
		return;
	/* Claimed in whole batches: instances sharing a database poll
	 * disjoint orders and each batch stays full. */
	do
		n = store_order_claim(o->p->st, &f, clock_wall_ms(),
		                      orders_poll_one, &pc);
	while (o->p->st->shared && n == ORDERS_POLL_CLAIM && !o->stopping);
	if (pc.asked > 0)
		log_debug("poll %s: %lld open orders asked", name,
		          (long long)pc.asked);
}

static void
orders_poll_run(void *a, void *b)
{
	struct orders_apply_ctx *ac = a;

	orders_poll(ac->o, ac->upi);
}

static void
orders_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	fiber_spawn(orders_poll_run, arg, NULL);
}

/* A request over a list of IDs (status, refill, refill_status, cancel). */
struct multi_item {
	struct multi_req *req;
	int64_t id;      /* the customer's order or refill ID */
	int ok;          /* found and owned */
	int64_t refill;  /* refill: the new local refill ID */
	char status[32]; /* refill_status */
	char err[DIALECT_MSG_SZ];
	/* The ask to make once every item's store work is done. */
	int upi; /* -1: none */
	char upid[STORE_UPID_MAX + 1];
	int64_t local;
};

struct multi_req {
	struct orders *o;
	int64_t customer;
	struct order *orders; /* status: the rows read up front */
	int *found;           /* and whether each exists and is theirs */
	int multi;            /* the list form was used */
	struct api_reply *r;
	orders_done_cb done;
	void *arg;
	int pending;
	size_t n;
	void (*render)(struct multi_req *);
	struct multi_item items[]; /* n of them */
};

/* Parse the ID list from ONE (single form) or MANY (list form). */
static struct multi_req *
orders_multi_new(struct orders *o, const struct customer *c,
                 const struct params *p, const char *one, const char *many,
                 struct api_reply *r, const char *bad)
{
	const char *s = params_get(p, many);
	int64_t ids[API_MAX_IDS];
	struct multi_req *m;
	size_t n;
	int multi = 1;

	if (s == NULL) {
		s = params_get(p, one);
		multi = 0;
	}
	switch (idlist_parse(s != NULL ? s : "", ids, API_MAX_IDS, &n)) {
	case IDLIST_OK:
		break;
	case IDLIST_TOO_MANY:
		orders_reply_error(r, API_ERR_MAX_IDS);
		return NULL;
	default:
		orders_reply_error(r, bad);
		return NULL;
	}
	if (!multi && n != 1) {
		orders_reply_error(r, bad);
		return NULL;
	}
	m = xcalloc(1, sizeof(*m) + n * sizeof(m->items[0]));
	m->o = o;
	m->customer = c->id;
	m->multi = multi;
	m->r = r;
	m->n = n;
	for (size_t i = 0; i < n; i++) {
		m->items[i].req = m;
		m->items[i].id = ids[i];
		m->items[i].upi = -1;
	}
	return m;
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
	free(m);
}

/* One ask answered; the last one renders and completes the request. */
static void
orders_multi_step(struct multi_req *m)
{
	if (--m->pending > 0)
		return;
	m->render(m);
	m->done(m->arg);
	orders_multi_free(m);
}

/* After the synchronous part: 1 if complete now. */
static int
orders_multi_finish(struct multi_req *m, orders_done_cb done, void *arg)
{
	if (m->pending == 0) {
		m->render(m);
		orders_multi_free(m);
		return 1;
	}
	/* The asks complete from the loop, never before this returns. */
	m->done = done;
	m->arg = arg;
	return 0;
}

/* Order I of M as it is now: the row read up front, or read again if a
 * batch answer may have changed it. */
static const struct order *
orders_status_row(struct multi_req *m, size_t i, struct order *tmp)
{
	if (!m->found[i])
		return NULL;
	if (!m->items[i].ok)
		return &m->orders[i];
	switch (orders_get_own(m->o, m->customer, m->items[i].id, tmp)) {
	case 1:
		return tmp;
	case 0:
		return NULL;
	default:
		return &m->orders[i]; /* unreadable now: as read before */
	}
}

static void
orders_status_render(struct multi_req *m)
{
	struct buf *b = &m->r->body;
	const struct order *ord;
	struct order tmp;

	if (!m->multi) {
		if ((ord = orders_status_row(m, 0, &tmp)) != NULL)
			orders_render_one(m->o, b, ord);
		else
			api_error(b, API_ERR_ORDER);
		return;
	}
	BUF_LIT(b, "{");
	for (size_t i = 0; i < m->n; i++) {
		if (i > 0)
			BUF_LIT(b, ",");
		BUF_LIT(b, "\"");
		orders_put_int(b, m->items[i].id);
		BUF_LIT(b, "\":");
		if ((ord = orders_status_row(m, i, &tmp)) != NULL)
			orders_render_one(m->o, b, ord);
		else
			api_error(b, API_ERR_ORDER);
	}
	buf_puts(b, "}");
}

static void
orders_status_joined(const char *id, const struct batch_answer *ans, void *arg)
{
	orders_multi_step(arg);
}

int
orders_status(struct orders *o, const struct customer *c,
              const struct params *p, struct api_reply *r, orders_done_cb done,
              void *arg)
{
	struct multi_req *m;
	int64_t stale_before = clock_wall_ms();
	int64_t ids[API_MAX_IDS];

	if ((m = orders_multi_new(o, c, p, "order", "orders", r,
	                          API_ERR_ORDER)) == NULL)
		return 1;
	m->render = orders_status_render;
	m->orders = xreallocarray(NULL, m->n, sizeof(*m->orders));
	m->found = xcalloc(m->n, sizeof(*m->found));
	for (size_t i = 0; i < m->n; i++)
		ids[i] = m->items[i].id;
	if (store_order_get_many(o->p->st, ids, m->n, m->orders, m->found) !=
	    STORE_OK) {
		orders_multi_free(m);
		orders_reply_error(r, API_ERR_INTERNAL);
		return 1;
	}
	for (size_t i = 0; i < m->n; i++) {
		const struct order *ord = &m->orders[i];
		const struct cfg_upstream *cu;
		int upi;

		if (m->found[i] && ord->customer_id != c->id)
			m->found[i] = 0; /* another customer's: not theirs */
		if (!m->found[i] || ord->state != ORDER_ACTIVE || o->stopping)
			continue;
		upi = panel_upstream_index(o->p, ord->upstream);
		if (upi < 0)
			continue;
		cu = &o->p->cfg->upstreams[upi];
		/* The stored copy serves unless it is older than a poll. */
		if (ord->polled_at > stale_before - cu->poll_interval_ms)
			continue;
		m->items[i].ok = 1; /* read again once the batch answered */
		m->pending++;
		batch_ask(o->b[upi], BATCH_STATUS, ord->upstream_order, ord->id,
		          orders_status_joined, m);
	}
	return orders_multi_finish(m, done, arg);
}

/*
 * refill, refill_status, cancel.
 */

static void
orders_refill_render(struct multi_req *m)
{
	struct buf *b = &m->r->body;

	if (!m->multi) {
		if (m->items[0].refill > 0)
			buf_printf(b, "{\"refill\":\"%lld\"}",
			           (long long)m->items[0].refill);
		else
			api_error(b, m->items[0].err);
		return;
	}
	buf_puts(b, "[");
	for (size_t i = 0; i < m->n; i++) {
		const struct multi_item *it = &m->items[i];

		buf_printf(b, "%s{\"order\":%lld,\"refill\":", i > 0 ? "," : "",
		           (long long)it->id);
		if (it->refill > 0)
			buf_printf(b, "%lld}", (long long)it->refill);
		else {
			api_error(b, it->err);
			buf_puts(b, "}");
		}
	}
	buf_puts(b, "]");
}

static void
orders_refill_answer(const char *id, const struct batch_answer *ans, void *arg)
{
	struct multi_item *it = arg;
	struct orders *o = it->req->o;

	if (ans->transport == UP_REPLIED && ans->item == DIALECT_ITEM_OK) {
		store_refill_update(o->p->st, it->refill, "active", ans->refill,
		                    "Pending");
	} else {
		store_refill_update(o->p->st, it->refill, "rejected", NULL,
		                    "Rejected");
		/* Never the upstream's own words (they can name it). */
		if (ans->transport == UP_REPLIED &&
		    ans->item == DIALECT_ITEM_REJECTED)
			log_info("refill %lld: refused upstream: %s",
			         (long long)it->refill, ans->msg);
		snprintf(it->err, sizeof(it->err), "%s",
		         ans->transport == UP_REPLIED &&
		                 ans->item == DIALECT_ITEM_REJECTED
		             ? "This order is not eligible for refill"
		             : "The refill request failed, please try again "
		               "later");
		it->refill = 0;
	}
	orders_multi_step(it->req);
}

static int
orders_refillable(const struct order *ord)
{
	return ord->upstream_order[0] != '\0' &&
	       (ord->state == ORDER_ACTIVE || ord->state == ORDER_COMPLETED ||
	        ord->state == ORDER_PARTIAL);
}

int
orders_refill(struct orders *o, const struct customer *c,
              const struct params *p, struct api_reply *r, orders_done_cb done,
              void *arg)
{
	struct multi_req *m;
	struct order ord;

	if ((m = orders_multi_new(o, c, p, "order", "orders", r,
	                          API_ERR_ORDER)) == NULL)
		return 1;
	m->render = orders_refill_render;
	for (size_t i = 0; i < m->n; i++) {
		struct multi_item *it = &m->items[i];
		int upi, own;

		snprintf(it->err, sizeof(it->err), "%s", API_ERR_ORDER);
		if ((own = orders_get_own(o, c->id, it->id, &ord)) < 0)
			snprintf(it->err, sizeof(it->err), "%s",
			         API_ERR_INTERNAL);
		if (own > 0 && !catalog_service_allows(o->p->cat, ord.service_id,
		                                       CATALOG_REFILL)) {
			snprintf(it->err, sizeof(it->err), "%s",
			         CATALOG_NO_REFILL);
			continue;
		}
		if (own <= 0 || !orders_refillable(&ord) ||
		    (upi = panel_upstream_index(o->p, ord.upstream)) < 0)
			continue;
		if (o->stopping) {
			snprintf(it->err, sizeof(it->err), "%s",
			         ORDERS_UNAVAILABLE);
			continue;
		}
		if (store_refill_add(o->p->st, ord.id, c->id, ord.upstream,
		                     &it->refill) != STORE_OK) {
			snprintf(it->err, sizeof(it->err), "%s",
			         API_ERR_INTERNAL);
			continue;
		}
		orders_multi_want(it, upi, ord.upstream_order, it->refill);
	}
	orders_multi_ask(m, BATCH_REFILL, orders_refill_answer);
	return orders_multi_finish(m, done, arg);
}

static const char *
orders_refill_word(const struct refill *rf)
{
	if (strcmp(rf->state, "rejected") == 0)
		return "Rejected";
	return rf->status[0] != '\0' ? rf->status : "Pending";
}

static void
orders_refill_status_render(struct multi_req *m)
{
	struct buf *b = &m->r->body;

	if (!m->multi) {
		if (m->items[0].ok)
			buf_printf(b, "{\"status\":\"%s\"}",
			           m->items[0].status);
		else
			api_error(b, m->items[0].err);
		return;
	}
	buf_puts(b, "[");
	for (size_t i = 0; i < m->n; i++) {
		const struct multi_item *it = &m->items[i];

		buf_printf(b,
		           "%s{\"refill\":%lld,\"status\":", i > 0 ? "," : "",
		           (long long)it->id);
		if (it->ok)
			buf_printf(b, "\"%s\"}", it->status);
		else {
			api_error(b, it->err);
			buf_puts(b, "}");
		}
	}
	buf_puts(b, "]");
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

		snprintf(it->status, sizeof(it->status), "%s", w);
		store_refill_update(o->p->st, it->id,
		                    final ? "final" : "active", NULL, w);
	}
	orders_multi_step(it->req);
}

int
orders_refill_status(struct orders *o, const struct customer *c,
                     const struct params *p, struct api_reply *r,
                     orders_done_cb done, void *arg)
{
	struct multi_req *m;
	struct refill rf;

	if ((m = orders_multi_new(o, c, p, "refill", "refills", r,
	                          API_ERR_REFILL)) == NULL)
		return 1;
	m->render = orders_refill_status_render;
	for (size_t i = 0; i < m->n; i++) {
		struct multi_item *it = &m->items[i];
		int upi;

		snprintf(it->err, sizeof(it->err), "%s", API_ERR_REFILL);
		switch (store_refill_get(o->p->st, it->id, &rf)) {
		case STORE_OK:
			break;
		case STORE_NOTFOUND:
			continue;
		default: /* an outage is not "no such refill" */
			snprintf(it->err, sizeof(it->err), "%s",
			         API_ERR_INTERNAL);
			continue;
		}
		if (rf.customer_id != c->id)
			continue;
		it->ok = 1;
		snprintf(it->status, sizeof(it->status), "%s",
		         orders_refill_word(&rf));
		if (strcmp(rf.state, "active") != 0 || o->stopping ||
		    (upi = panel_upstream_index(o->p, rf.upstream)) < 0)
			continue;
		orders_multi_want(it, upi, rf.upstream_refill, rf.id);
	}
	orders_multi_ask(m, BATCH_REFILL_STATUS, orders_refill_status_answer);
	return orders_multi_finish(m, done, arg);
}

static void
orders_cancel_render(struct multi_req *m)
{
	struct buf *b = &m->r->body;

	buf_puts(b, "[");
	for (size_t i = 0; i < m->n; i++) {
		const struct multi_item *it = &m->items[i];

		buf_printf(b, "%s{\"order\":%lld,\"cancel\":", i > 0 ? "," : "",
		           (long long)it->id);
		if (it->ok)
			buf_puts(b, "1}");
		else {
			api_error(b, it->err);
			buf_puts(b, "}");
		}
	}
	buf_puts(b, "]");
}

static void
orders_cancel_answer(const char *id, const struct batch_answer *ans, void *arg)
{
	struct multi_item *it = arg;
	struct orders *o = it->req->o;
	struct order ord;
	int upi;

	if (ans->transport == UP_REPLIED && ans->item == DIALECT_ITEM_OK) {
		it->ok = 1;
		/* The refund follows the status: ask for it now. */
		if (!o->stopping &&
		    store_order_get(o->p->st, it->id, &ord) == STORE_OK &&
		    (upi = panel_upstream_index(o->p, ord.upstream)) >= 0)
			batch_ask(o->b[upi], BATCH_STATUS, id, it->id,
			          orders_ignore, NULL);
	} else {
		if (ans->transport == UP_REPLIED &&
		    ans->item == DIALECT_ITEM_REJECTED)
			log_info("order %lld: cancel refused upstream: %s",
			         (long long)it->id, ans->msg);
		snprintf(it->err, sizeof(it->err), "%s",
		         ans->transport == UP_REPLIED &&
		                 ans->item == DIALECT_ITEM_REJECTED
		             ? "This order cannot be canceled"
		             : "The cancel request failed, please try again "
		               "later");
	}
	orders_multi_step(it->req);
}

int
orders_cancel(struct orders *o, const struct customer *c,
              const struct params *p, struct api_reply *r, orders_done_cb done,
              void *arg)
{
	struct multi_req *m;
	struct order ord;
	char key[24];

	if ((m = orders_multi_new(o, c, p, "order", "orders", r,
	                          API_ERR_ORDER)) == NULL)
		return 1;
	m->render = orders_cancel_render;
	m->multi = 1; /* cancel always answers the list form */
	for (size_t i = 0; i < m->n; i++) {
		struct multi_item *it = &m->items[i];
		int upi, own;

		snprintf(it->err, sizeof(it->err), "%s", API_ERR_ORDER);
		if ((own = orders_get_own(o, c->id, it->id, &ord)) < 0)
			snprintf(it->err, sizeof(it->err), "%s",
			         API_ERR_INTERNAL);
		if (own <= 0)
			continue;
		if (!catalog_service_allows(o->p->cat, ord.service_id,
		                            CATALOG_CANCEL)) {
			snprintf(it->err, sizeof(it->err), "%s",
			         CATALOG_NO_CANCEL);
			continue;
		}
		snprintf(key, sizeof(key), "%lld", (long long)ord.id);
		if (ord.state == ORDER_QUEUED &&
		    strmap_get(o->dispatching, key) == NULL) {
			/* Never sent: canceled here, refunded in full. */
			if (store_order_reject(o->p->st, ord.id,
			                       "canceled before sending") ==
			    STORE_OK)
				it->ok = 1;
			continue;
		}
		if (ord.state != ORDER_ACTIVE ||
		    (upi = panel_upstream_index(o->p, ord.upstream)) < 0) {
			snprintf(it->err, sizeof(it->err), "%s",
			         ord.state == ORDER_SENDING ||
			                 ord.state == ORDER_QUEUED
			             ? "The order is being sent, please try "
			               "again shortly"
			             : "This order cannot be canceled");
			continue;
		}
		if (o->stopping) {
			snprintf(it->err, sizeof(it->err), "%s",
			         ORDERS_UNAVAILABLE);
			continue;
		}
		orders_multi_want(it, upi, ord.upstream_order, ord.id);
	}
	orders_multi_ask(m, BATCH_CANCEL, orders_cancel_answer);
	return orders_multi_finish(m, done, arg);
}

/*
 * Life cycle.
 */

struct orders *
orders_new(struct panel *p)
{
	struct orders *o = xcalloc(1, sizeof(*o));

	o->p = p;
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
		o->poll_timer[i] =
		    event_new(p->base, -1, EV_PERSIST, orders_poll_cb, ac);
		if (o->poll_timer[i] == NULL)
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
	for (size_t i = 0; i < o->p->nups; i++)
		evtimer_del(o->poll_timer[i]);
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
		free(ac);
	}
	orders_flush_adds(o);
	orders_flush_actives(o); /* from calls the engine ended */
	free(o->b);
	free(o->poll_timer);
	event_free(o->sweep_timer);
	event_free(o->group);
	strmap_free(o->dispatching);
	free(o);
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
