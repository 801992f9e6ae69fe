/* orders_add.c - add: validation, the dispatch state machine over an
 * order's routes, the reply wait, and the refusal texts customers see. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "buf.h"
#include "catalog.h"
#include "config.h"
#include "dialect.h"
#include "linknorm.h"
#include "log.h"
#include "money.h"
#include "orders.h"
#include "orders_int.h"
#include "ordertype.h"
#include "panel.h"
#include "route.h"
#include "store.h"
#include "strmap.h"
#include "upstream.h"
#include "xmalloc.h"

/*
 * add: dispatch state machine.
 */

/* Answer the customer waiting on J, if any: the order ID, or the refusal
 * TEXT. */
static void
orders_wake(struct add_job *j, const char *text)
{
	struct add_wait *w = j->wait;

	if (w == NULL)
		return;
	j->wait = NULL;
	event_free(w->timer);
	w->cb(w->arg, w->id, text != NULL ? ORDERS_ERR_TEXT : ORDERS_ERR_NONE,
	      text);
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

void
orders_job_free(struct add_job *j)
{
	orders_wake(j, NULL);
	strmap_del(j->o->dispatching, j->key);
	config_unref(j->cfg);
	free(j->fields);
	free(j);
}

/* Service S's routes for an order charged RATE, in the order its route
 * mode tries them, without those under the failover floor (route.h), into
 * ROUTES (at most ORDERS_MAX_ROUTES); with UPSTREAM (not NULL) only that
 * upstream's.  The count. */
static int
orders_routes_of(const struct orders *o, const struct catalog_service *s,
                 money_t rate, const char *upstream, struct add_route *routes)
{
	const struct config *cfg = o->p->cfg;
	struct route_cand c[ORDERS_MAX_ROUTES];
	size_t n = 0, kept;

	for (size_t i = 0; i < s->nroutes && n < ORDERS_MAX_ROUTES; i++) {
		size_t up = s->routes[i].upstream;

		if (upstream != NULL &&
		    strcmp(cfg->upstreams[up].name, upstream) != 0)
			continue;
		c[n].upstream = up;
		c[n].service = s->routes[i].service;
		c[n].cost = s->routes[i].cost;
		c[n].healthy =
		    route_health_ok(&o->p->ups[up].health, cfg->route_health,
		                    o->clock.wall_ms());
		n++;
	}
	kept = route_order((enum route_mode)s->route_mode, c, n, rate,
	                   cfg->min_margin);
	for (size_t i = 0; i < kept; i++) {
		routes[i].upstream = c[i].upstream;
		routes[i].service = c[i].service;
		routes[i].cost = c[i].cost;
	}
	return (int)kept;
}

/* Build J's routes from the current catalogue for its order charged RATE
 * (0: the service's rate now); with same_link reroute, only those of
 * UPSTREAM, the one the order was created on.  -1 if the service is
 * gone. */
int
orders_job_routes(struct add_job *j, int64_t service_id, money_t rate,
                  const char *upstream)
{
	const struct catalog_service *s =
	    catalog_find(j->o->p->cat, service_id);

	if (s == NULL)
		return -1;
	j->rate = rate > 0 ? rate : s->rate;
	j->nroutes = orders_routes_of(
	    j->o, s, j->rate,
	    s->same_link == ROUTE_LINK_REROUTE ? upstream : NULL, j->routes);
	return 0;
}

struct add_job *
orders_job_new(struct orders *o, int64_t id, money_t charge, char *fields)
{
	struct add_job *j = xcalloc(1, sizeof(*j));

	j->o = o;
	j->id = id;
	j->charge = charge;
	j->fields = fields;
	j->marked = -1;
	j->cfg = config_ref(o->p->cfg);
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

void
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
	    "fund", "balance", "api key",  "apikey",      "api_key",
	    "key",  "service", "disabled", "unavailable", "maintenance"};
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
/* Note the add's outcome on its route's upstream: its health, and its
 * balance estimate given back the order's cost when nothing was bought
 * (an add with no usable answer keeps it taken); a refusal naming funds
 * or balance reads the balance again. */
static void
orders_route_outcome(struct add_job *j, const struct up_result *res)
{
	struct panel *p = j->o->p;
	const struct add_route *rt = &j->routes[j->route];
	struct panel_upstream *pu = &p->ups[rt->upstream];
	struct dialect_add d;
	enum route_outcome out;

	if (res->transport == UP_NOT_SENT) {
		out = ROUTE_NOT_SENT;
	} else {
		switch (dialect_add((int)res->http_status, res->body, res->len,
		                    &d)) {
		case DIALECT_OK:
			out = ROUTE_ACCEPTED;
			break;
		case DIALECT_REJECTED:
			out = ROUTE_REJECTED;
			if (strcasestr(d.msg, "fund") != NULL ||
			    strcasestr(d.msg, "balance") != NULL)
				panel_balance_read(p, rt->upstream);
			break;
		default:
			return;
		}
	}
	route_health_note(&pu->health, out, j->o->clock.wall_ms());
	if (out != ROUTE_ACCEPTED)
		route_balance_move(&pu->bal, j->taken, 1);
	j->taken = 0;
}

static void
orders_add_done(const struct up_result *res, void *arg)
{
	struct add_job *j = arg;
	struct orders *o = j->o;
	const struct add_route *rt = &j->routes[j->route];
	/* The job holds its configuration across the store calls below. */
	const char *up = j->cfg->upstreams[rt->upstream].name;
	char shown[96];
	struct dialect_add d;
	money_t cost = 0;

	if (res->transport == UP_NOT_SENT || res->transport == UP_REPLIED)
		orders_route_outcome(j, res);
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
		orders_wake(j,
		            orders_refusal_text(d.msg, shown, sizeof(shown)));
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
void
orders_dispatch(struct add_job *j)
{
	struct orders *o = j->o;
	struct buf form;

	for (; j->route < j->nroutes; j->route++) {
		const struct add_route *rt = &j->routes[j->route];
		struct panel_upstream *pu = &o->p->ups[rt->upstream];

		enum store_result mr = STORE_OK;
		money_t cost;

		if (o->stopping)
			break;
		if (upstream_circuit(pu->up) != UP_CIRCUIT_CLOSED)
			continue;
		/* Its balance, as this instance knows it, cannot pay: skipped
		 * like an open circuit rather than sent and refused. */
		if (route_order_cost(j->charge, rt->cost, j->rate, &cost) != 0)
			cost = 0;
		if (!route_balance_can_pay(&pu->bal, cost)) {
			log_debug(
			    "order %lld: skipping %s: its balance estimate "
			    "cannot pay it",
			    (long long)j->id, pu->state.name);
			continue;
		}
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
		j->taken = cost;
		route_balance_move(&pu->bal, cost, -1);
		if (route_balance_low(
		        &pu->bal,
		        j->cfg->upstreams[rt->upstream].low_balance)) {
			char buf[MONEY_BUFSZ];

			log_warnx(
			    "upstream %s: balance estimate %s %s is under "
			    "its low_balance",
			    pu->state.name,
			    money_format(pu->bal.estimate, 2, buf),
			    j->cfg->currency);
		}
		upstream_call(pu->up, "add", form.data, UP_FRESH,
		              orders_add_done, j);
		buf_free(&form);
		return;
	}
	/* No route could take it now: it stays queued (charged, not sent). */
	if (j->marked >= 0)
		store_order_unsent(o->p->st, j->id);
	o->stats.unrouted++;
	orders_job_free(j);
}

void
orders_pending_free(struct pending_add *pa)
{
	order_spec_clear(&pa->spec);
	free(pa->request_id);
	free(pa->link_key);
	free(pa);
}

/* Answer PA's customer now (a refusal, or an order that exists already). */
void
orders_pending_answer(struct pending_add *pa, enum orders_err why,
                      const char *text, int64_t id)
{
	pa->cb(pa->arg, id, why, text);
}

/* Start dispatching an order just created for PA; the customer waits up
 * to orders.reply_wait for the outcome. */
void
orders_pending_start(struct orders *o, struct pending_add *pa, int64_t id)
{
	struct add_job *j;
	struct add_wait *w;
	struct timeval tv;

	o->stats.added++;
	j = orders_job_new(o, id, pa->on.charge, pa->spec.fields);
	pa->spec.fields = NULL;
	j->rate = pa->rate;
	if (pa->on.link_reroute) {
		/* Bound to the upstream the guard gave it: failing over to
		 * another could meet an open order for the link there. */
		const char *up = pa->alt_names[pa->alt_chosen];

		for (int i = 0; i < pa->nroutes; i++)
			if (strcmp(o->p->cfg->upstreams[pa->routes[i].upstream]
			               .name,
			           up) == 0)
				j->routes[j->nroutes++] = pa->routes[i];
	} else {
		memcpy(j->routes, pa->routes, sizeof(j->routes));
		j->nroutes = pa->nroutes;
	}
	j->marked = pa->on.sending ? 0 : -1;
	w = xcalloc(1, sizeof(*w));
	w->cb = pa->cb;
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

/* The same-link guard's key of PA's link into PA (linknorm.h), for
 * service S when its guard is on and the order has a link. */
static void
orders_link_key(const struct orders *o, const struct catalog_service *s,
                struct pending_add *pa)
{
	json_t *obj, *link;
	const char *v;
	size_t len;

	if (s->same_link == ROUTE_LINK_OFF || pa->spec.fields == NULL)
		return;
	obj = json_loads(pa->spec.fields, 0, NULL);
	link = json_is_object(obj) ? json_object_get(obj, "link") : NULL;
	if (json_is_string(link)) {
		v = json_string_value(link);
		len = json_string_length(link);
		pa->link_key = xmalloc(len + 1);
		if (linknorm(v, len, pa->link_key, len + 1) < 0) {
			free(pa->link_key);
			pa->link_key = NULL;
		}
	}
	json_decref(obj);
	if (pa->link_key == NULL)
		return;
	pa->on.link_key = pa->link_key;
	pa->on.link_reroute = s->same_link == ROUTE_LINK_REROUTE;
	if (!pa->on.link_reroute)
		return;
	/* The upstreams it may go to, each once, in route order. */
	for (int i = 0; i < pa->nroutes; i++) {
		const char *name =
		    o->p->cfg->upstreams[pa->routes[i].upstream].name;
		size_t k;

		for (k = 0; k < pa->nalt; k++)
			if (strcmp(pa->alt_names[k], name) == 0)
				break;
		if (k < pa->nalt)
			continue;
		snprintf(pa->alt_names[k], sizeof(pa->alt_names[k]), "%s",
		         name);
		pa->alt_upstreams[k] = pa->alt_names[k];
		pa->alt_services[k] = pa->routes[i].service;
		pa->nalt++;
	}
	pa->on.alt_upstreams = pa->alt_upstreams;
	pa->on.alt_services = pa->alt_services;
	pa->on.nalt = pa->nalt;
	pa->on.alt_chosen = &pa->alt_chosen;
}

int
orders_add(struct orders *o, int64_t customer, int64_t sid,
           struct order_spec *spec, const char *reqid, orders_add_cb cb,
           void *arg)
{
	const struct catalog_service *svc = catalog_find(o->p->cat, sid);
	const struct add_route *first;
	struct pending_add *pa;

	if (svc == NULL) {
		order_spec_clear(spec);
		return -1;
	}
	pa = xcalloc(1, sizeof(*pa));
	pa->spec = *spec;
	memset(spec, 0, sizeof(*spec));
	pa->cb = cb;
	pa->arg = arg;
	/* the customer's own rate when they have one (lib/pricing.h): what
	 * the charge was computed from */
	pa->rate = pa->spec.rate > 0 ? pa->spec.rate : svc->rate;
	pa->on.customer_id = customer;
	pa->on.service_id = sid;
	pa->on.type = pa->spec.type;
	pa->on.quantity = pa->spec.quantity;
	pa->on.upstream_quantity = pa->spec.upstream_quantity;
	pa->on.runs = pa->spec.runs;
	pa->on.interval = pa->spec.interval;
	pa->on.rate = pa->rate;
	pa->on.charge = pa->spec.charge;
	pa->on.fields = pa->spec.fields;
	/* The routes for the rate this order is charged at: none may sell it
	 * under its cost x (1 + min_margin). */
	pa->rate = pa->on.rate;
	pa->nroutes = orders_routes_of(o, svc, pa->rate, NULL, pa->routes);
	if (pa->nroutes == 0) {
		log_info("service %lld: no route can take an order at rate "
		         "%lld without selling under its cost: refused",
		         (long long)sid, (long long)pa->rate);
		pa->refuse = ORDERS_UNAVAILABLE;
		pa->routes[0].upstream = svc->routes[0].upstream;
		pa->routes[0].service = svc->routes[0].service;
	}
	first = &pa->routes[0];
	snprintf(pa->upstream, sizeof(pa->upstream), "%s",
	         o->p->cfg->upstreams[first->upstream].name);
	pa->on.upstream = pa->upstream;
	pa->on.upstream_service = first->service;
	/* The first route is tried as soon as the order exists: create it
	 * marked, unless that route's circuit is open or its balance
	 * estimate cannot pay. */
	{
		money_t cost;

		if (route_order_cost(pa->on.charge, first->cost, pa->rate,
		                     &cost) != 0)
			cost = 0;
		pa->on.sending =
		    !o->stopping &&
		    upstream_circuit(o->p->ups[first->upstream].up) ==
		        UP_CIRCUIT_CLOSED &&
		    route_balance_can_pay(&o->p->ups[first->upstream].bal,
		                          cost);
	}
	orders_link_key(o, svc, pa);
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
