/* admin.c - the admin listener: /metrics (Prometheus text format),
 * /healthz, the admin API and the console's files handed on.  Never public
 * by default (listen.admin is loopback). */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "admin.h"
#include "admin_api.h"
#include "admin_console.h"
#include "api.h"
#include "batch.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "conns.h"
#include "fiber.h"
#include "front.h"
#include "log.h"
#include "money.h"
#include "orders.h"
#include "panel.h"
#include "prices.h"
#include "store.h"
#include "upstream.h"
#include "webhook.h"
#include "xmalloc.h"

struct admin {
	struct admin_sources src;
	struct admin_api *api;
	struct conns *conns; /* deadlines and caps, as on listen.api */
	struct evhttp *http;
	time_t started;
};

static const char *const admin_results[3] = {"ok", "error", "limited"};
static const char *const admin_transports[3] = {"not_sent", "replied", "lost"};
static const char *const admin_batch_actions[BATCH_NACTIONS] = {
    "status", "refill", "refill_status", "cancel"};

/* Money as a Prometheus float: its exact decimal text. */
static const char *
admin_money(money_t v, char *buf)
{
	return money_format(v, 0, buf);
}

static void
admin_help(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A Prometheus histogram NAME{LABELS,le=...}: N finite BOUNDS (scaled by
 * SCALE), N + 1 per-bucket COUNTS (the last is +Inf), and SUM. */
static void
admin_histogram(struct buf *b, const char *name, const char *labels,
                const int64_t *bounds, double scale, const uint64_t *counts,
                int n, double sum)
{
	uint64_t cum = 0;

	for (int k = 0; k <= n; k++) {
		cum += counts[k];
		if (k < n)
			buf_printf(b, "%s_bucket{%s,le=\"%g\"} %llu\n", name,
			           labels, bounds[k] * scale,
			           (unsigned long long)cum);
		else
			buf_printf(b, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name,
			           labels, (unsigned long long)cum);
	}
	buf_printf(b, "%s_sum{%s} %g\n%s_count{%s} %llu\n", name, labels, sum,
	           name, labels, (unsigned long long)cum);
}

static void
admin_requests(struct admin *a, struct buf *b)
{
	const struct front_metrics *m = front_metrics(a->src.front);
	struct conns_stats cs;

	admin_help(b, "panelmux_requests_total", "counter",
	           "Downstream API requests by action and result.");
	for (int i = 0; i < API_ACTION_COUNT; i++) {
		const struct front_action_metrics *am = &m->actions[i];
		const uint64_t v[3] = {am->ok, am->error, am->limited};

		for (int r = 0; r < 3; r++)
			buf_printf(b,
			           "panelmux_requests_total{action=\"%s\","
			           "result=\"%s\"} %llu\n",
			           api_action_name((enum api_action)i),
			           admin_results[r], (unsigned long long)v[r]);
	}
	admin_help(b, "panelmux_request_duration_seconds", "histogram",
	           "Time to answer a downstream request.");
	for (int i = 0; i < API_ACTION_COUNT; i++) {
		const struct front_action_metrics *am = &m->actions[i];
		char labels[64];

		snprintf(labels, sizeof(labels), "action=\"%s\"",
		         api_action_name((enum api_action)i));
		admin_histogram(b, "panelmux_request_duration_seconds", labels,
		                front_latency_bounds_ms, 0.001, am->latency,
		                FRONT_LATENCY_BUCKETS,
		                am->latency_sum_ms / 1000.0);
	}
	admin_help(b, "panelmux_requests_ip_limited_total", "counter",
	           "Requests refused by the per-address limit.");
	buf_printf(b, "panelmux_requests_ip_limited_total %llu\n",
	           (unsigned long long)m->ip_limited);

	front_conns_stats(a->src.front, &cs);
	admin_help(b, "panelmux_connections_open", "gauge",
	           "Open downstream connections.");
	buf_printf(b, "panelmux_connections_open %llu\n",
	           (unsigned long long)cs.open);
	admin_help(b, "panelmux_connections_total", "counter",
	           "Downstream connections by what became of them.");
	buf_printf(
	    b,
	    "panelmux_connections_total{event=\"accepted\"} %llu\n"
	    "panelmux_connections_total{event=\"request_deadline\"} %llu\n"
	    "panelmux_connections_total{event=\"per_ip_refused\"} %llu\n"
	    "panelmux_connections_total{event=\"paused_at_cap\"} %llu\n"
	    "panelmux_connections_total{event=\"accept_error\"} %llu\n",
	    (unsigned long long)cs.accepted,
	    (unsigned long long)cs.deadline_closed,
	    (unsigned long long)cs.per_ip_refused,
	    (unsigned long long)cs.total_paused,
	    (unsigned long long)cs.accept_errors);
}

static void
admin_batches(struct admin *a, struct buf *b)
{
	struct panel *p = a->src.panel;
	struct batch_stats bs[p->nups > 0 ? p->nups : 1];
	int64_t bounds[BATCH_SIZE_BUCKETS];

	for (size_t i = 0; i < p->nups; i++)
		orders_batch_stats(a->src.orders, i, &bs[i]);
	admin_help(b, "panelmux_batch_requests_total", "counter",
	           "Coalesced upstream requests by upstream and action.");
	for (size_t i = 0; i < p->nups; i++)
		for (int k = 0; k < BATCH_NACTIONS; k++)
			buf_printf(
			    b,
			    "panelmux_batch_requests_total{upstream=\"%s\","
			    "action=\"%s\"} %llu\n",
			    p->ups[i].state.name, admin_batch_actions[k],
			    (unsigned long long)bs[i].requests[k]);
	admin_help(b, "panelmux_batch_ids_total", "counter",
	           "IDs carried by those requests.");
	for (size_t i = 0; i < p->nups; i++)
		for (int k = 0; k < BATCH_NACTIONS; k++)
			buf_printf(b,
			           "panelmux_batch_ids_total{upstream=\"%s\","
			           "action=\"%s\"} %llu\n",
			           p->ups[i].state.name, admin_batch_actions[k],
			           (unsigned long long)bs[i].ids[k]);
	admin_help(b, "panelmux_batch_ids_per_request", "histogram",
	           "IDs per coalesced upstream request.");
	for (int k = 0; k < BATCH_SIZE_BUCKETS; k++)
		bounds[k] = batch_size_bounds[k];
	for (size_t i = 0; i < p->nups; i++) {
		uint64_t ids = 0;
		char labels[64];

		for (int k = 0; k < BATCH_NACTIONS; k++)
			ids += bs[i].ids[k];
		snprintf(labels, sizeof(labels), "upstream=\"%s\"",
		         p->ups[i].state.name);
		admin_histogram(b, "panelmux_batch_ids_per_request", labels,
		                bounds, 1, bs[i].sizes, BATCH_SIZE_BUCKETS,
		                (double)ids);
	}
}

static void
admin_upstreams(struct admin *a, struct buf *b)
{
	struct panel *p = a->src.panel;
	struct up_stats st[p->nups > 0 ? p->nups : 1];
	char m[MONEY_BUFSZ];

	if (p->eng == NULL)
		return;
	for (size_t i = 0; i < p->nups; i++)
		upstream_stats(p->ups[i].up, &st[i]);
	/* The text format wants each family's samples together: one loop per
	 * family. */
	admin_help(b, "panelmux_upstream_calls_total", "counter",
	           "Upstream calls by upstream, action and outcome.");
	for (size_t i = 0; i < p->nups; i++)
		for (int k = 0; k < UP_ACT_COUNT; k++)
			for (int t = 0; t < 3; t++)
				if (st[i].by_action[k][t] > 0)
					buf_printf(
					    b,
					    "panelmux_upstream_calls_total{"
					    "upstream=\"%s\",action=\"%s\","
					    "outcome=\"%s\"} %llu\n",
					    p->ups[i].state.name,
					    up_action_names[k],
					    admin_transports[t],
					    (unsigned long long)st[i]
					        .by_action[k][t]);
	admin_help(b, "panelmux_upstream_latency_seconds_total", "counter",
	           "Total time spent in upstream calls.");
	for (size_t i = 0; i < p->nups; i++)
		buf_printf(b,
		           "panelmux_upstream_latency_seconds_total{upstream="
		           "\"%s\"} %.3f\n",
		           p->ups[i].state.name, st[i].latency_ms_sum / 1000.0);
	admin_help(b, "panelmux_upstream_inflight", "gauge",
	           "Upstream calls in flight and queued for a connection.");
	for (size_t i = 0; i < p->nups; i++)
		buf_printf(
		    b,
		    "panelmux_upstream_inflight{upstream=\"%s\","
		    "state=\"flying\"} %llu\n"
		    "panelmux_upstream_inflight{upstream=\"%s\","
		    "state=\"queued\"} %llu\n",
		    p->ups[i].state.name, (unsigned long long)st[i].inflight,
		    p->ups[i].state.name, (unsigned long long)st[i].queued);
	admin_help(b, "panelmux_upstream_write_inflight", "gauge",
	           "Of those, calls on a fresh connection each (add, refill, "
	           "cancel: max_write_connections).");
	for (size_t i = 0; i < p->nups; i++)
		buf_printf(b,
		           "panelmux_upstream_write_inflight{upstream=\"%s\","
		           "state=\"flying\"} %llu\n"
		           "panelmux_upstream_write_inflight{upstream=\"%s\","
		           "state=\"queued\"} %llu\n",
		           p->ups[i].state.name,
		           (unsigned long long)st[i].inflight_writes,
		           p->ups[i].state.name,
		           (unsigned long long)st[i].queued_writes);
	admin_help(b, "panelmux_upstream_circuit_open", "gauge",
	           "1 when the upstream's circuit breaker is not closed.");
	for (size_t i = 0; i < p->nups; i++) {
		enum up_circuit c = upstream_circuit(p->ups[i].up);

		buf_printf(b,
		           "panelmux_upstream_circuit_open{upstream=\"%s\","
		           "state=\"%s\"} %d\n",
		           p->ups[i].state.name, up_circuit_name(c),
		           c != UP_CIRCUIT_CLOSED);
	}
	admin_help(b, "panelmux_upstream_balance", "gauge",
	           "The upstream account's last known balance.");
	for (size_t i = 0; i < p->nups; i++)
		if (p->ups[i].state.has_balance)
			buf_printf(b,
			           "panelmux_upstream_balance{upstream=\"%s\","
			           "currency=\"%s\"} %s\n",
			           p->ups[i].state.name,
			           p->ups[i].state.currency,
			           admin_money(p->ups[i].state.balance, m));
	admin_help(b, "panelmux_upstream_balance_estimate", "gauge",
	           "This instance's estimate of the upstream's balance in the "
	           "panel currency: the last read less the orders sent since.");
	for (size_t i = 0; i < p->nups; i++)
		if (p->ups[i].bal.known)
			buf_printf(
			    b,
			    "panelmux_upstream_balance_estimate{upstream="
			    "\"%s\"} %s\n",
			    p->ups[i].state.name,
			    admin_money(p->ups[i].bal.estimate, m));
	admin_help(b, "panelmux_upstream_balance_low", "gauge",
	           "1 when the balance estimate is under the upstream's "
	           "low_balance.");
	for (size_t i = 0; i < p->nups; i++)
		buf_printf(
		    b, "panelmux_upstream_balance_low{upstream=\"%s\"} %d\n",
		    p->ups[i].state.name, p->ups[i].bal.low);
	if (a->src.orders != NULL)
		admin_batches(a, b);
}

/* What the syncs changed since start, and the services replies the
 * bad-sync guard refused (lib/prices.h). */
static void
admin_prices(struct admin *a, struct buf *b)
{
	struct panel *p = a->src.panel;

	admin_help(b, "panelmux_price_changes_total", "counter",
	           "Price-change log rows recorded by syncs, by upstream and "
	           "kind.");
	for (size_t i = 0; i < p->nups; i++)
		for (int k = 0; k < PRICE_NKINDS; k++)
			buf_printf(
			    b,
			    "panelmux_price_changes_total{upstream=\"%s\","
			    "kind=\"%s\"} %llu\n",
			    p->ups[i].state.name, price_kind_name(k),
			    (unsigned long long)p->ups[i].changes[k]);
	admin_help(b, "panelmux_catalog_syncs_refused_total", "counter",
	           "Services replies not applied: they dropped more than "
	           "max_drop of the stored services.");
	for (size_t i = 0; i < p->nups; i++)
		buf_printf(
		    b,
		    "panelmux_catalog_syncs_refused_total{upstream=\"%s\"}"
		    " %llu\n",
		    p->ups[i].state.name,
		    (unsigned long long)p->ups[i].refused);
}

/* The usage rows of the configured upstreams (the others, from an older
 * config, are left out: their series would never end). */
struct admin_usage {
	struct panel *p;
	struct upstream_usage *v; /* p->nups, zero where no orders */
};

static int
admin_usage_row(const struct upstream_usage *u, void *arg)
{
	struct admin_usage *au = arg;
	int i = panel_upstream_index(au->p, u->upstream);

	if (i >= 0)
		au->v[i] = *u;
	return 0;
}

/* How far behind the poller is and what each upstream cost, per upstream:
 * the alert on open orders that are not updated and the dashboard's
 * margin read these. */
static void
admin_usage(struct admin *a, struct buf *b)
{
	struct panel *p = a->src.panel;
	struct admin_usage au = {p, xcalloc(p->nups + 1, sizeof(*au.v))};
	int64_t now = clock_wall_ms();
	char m[MONEY_BUFSZ];

	if (store_upstream_usage(a->src.st, admin_usage_row, &au) < 0) {
		free(au.v);
		return;
	}
	admin_help(b, "panelmux_orders_active", "gauge",
	           "Active orders (sent, not final) per upstream.");
	for (size_t i = 0; i < p->nups; i++)
		buf_printf(b, "panelmux_orders_active{upstream=\"%s\"} %lld\n",
		           p->ups[i].state.name, (long long)au.v[i].active);
	admin_help(b, "panelmux_orders_oldest_poll_age_seconds", "gauge",
	           "Seconds since the least recently polled active order of "
	           "the upstream was polled (0 without active orders).");
	for (size_t i = 0; i < p->nups; i++) {
		int64_t t = au.v[i].oldest_poll_ms;

		buf_printf(b,
		           "panelmux_orders_oldest_poll_age_seconds{upstream="
		           "\"%s\"} %lld\n",
		           p->ups[i].state.name,
		           (long long)(au.v[i].active > 0 && t < now
		                           ? (now - t) / 1000
		                           : 0));
	}
	admin_help(b, "panelmux_upstream_cost", "gauge",
	           "What the upstream charged for panelmux's orders, where "
	           "known, panel currency.");
	for (size_t i = 0; i < p->nups; i++)
		buf_printf(b, "panelmux_upstream_cost{upstream=\"%s\"} %s\n",
		           p->ups[i].state.name, admin_money(au.v[i].cost, m));
	free(au.v);
}

/* The outbox and the deliveries: the dead-letter alert and the
 * dashboard's webhook panels read these. */
static void
admin_webhooks(struct admin *a, struct buf *b)
{
	int64_t pending, dead, oldest, now = clock_wall_ms() / 1000;
	struct webhooks_stats ws = {0, 0, 0, 0};

	if (a->src.hooks != NULL)
		webhooks_stats(a->src.hooks, &ws);
	admin_help(b, "panelmux_webhook_deliveries_total", "counter",
	           "Webhook delivery tries by outcome since start (dead: the "
	           "last try of an event past webhooks.max_age).");
	buf_printf(b,
	           "panelmux_webhook_deliveries_total{outcome=\"ok\"} %llu\n"
	           "panelmux_webhook_deliveries_total{outcome=\"failed\"} "
	           "%llu\n"
	           "panelmux_webhook_deliveries_total{outcome=\"dead\"} "
	           "%llu\n",
	           (unsigned long long)ws.ok, (unsigned long long)ws.failed,
	           (unsigned long long)ws.dead);
	admin_help(b, "panelmux_webhook_inflight", "gauge",
	           "Webhook deliveries in flight.");
	buf_printf(b, "panelmux_webhook_inflight %llu\n",
	           (unsigned long long)ws.inflight);
	if (store_webhook_counts(a->src.st, &pending, &dead, &oldest) !=
	    STORE_OK)
		return;
	admin_help(b, "panelmux_webhook_outbox_events", "gauge",
	           "Webhook events in the outbox: pending (not yet "
	           "acknowledged) and dead (given up, for the operator).");
	buf_printf(b,
	           "panelmux_webhook_outbox_events{state=\"pending\"} %lld\n"
	           "panelmux_webhook_outbox_events{state=\"dead\"} %lld\n",
	           (long long)pending, (long long)dead);
	admin_help(b, "panelmux_webhook_oldest_pending_seconds", "gauge",
	           "Age of the oldest pending webhook event (0 without one).");
	buf_printf(b, "panelmux_webhook_oldest_pending_seconds %lld\n",
	           (long long)(pending > 0 && oldest < now ? now - oldest : 0));
}

static void
admin_money_state(struct admin *a, struct buf *b)
{
	int64_t counts[ORDER_STATE_COUNT];
	money_t totals[4];
	struct orders_stats os;
	char m[MONEY_BUFSZ];

	int store_up = store_order_counts(a->src.st, counts) == STORE_OK;

	admin_help(b, "panelmux_store_up", "gauge",
	           "1 when the store answered this scrape.");
	buf_printf(b, "panelmux_store_up %d\n", store_up);
	if (store_up) {
		admin_help(b, "panelmux_orders", "gauge", "Orders by state.");
		for (int i = 0; i < ORDER_STATE_COUNT; i++)
			buf_printf(b, "panelmux_orders{state=\"%s\"} %lld\n",
			           order_state_name((enum order_state)i),
			           (long long)counts[i]);
		admin_help(b, "panelmux_orders_in_doubt", "gauge",
		           "Orders whose add had no usable answer ('sending'): "
		           "the operator resolves them.");
		buf_printf(b, "panelmux_orders_in_doubt %lld\n",
		           (long long)counts[ORDER_SENDING]);
	}
	admin_usage(a, b);
	admin_webhooks(a, b);
	admin_help(b, "panelmux_pricing_clamped", "gauge",
	           "Customer rates the floor (the cheapest route's cost x (1 + "
	           "pricing.min_margin)) raises: overrides, and (group, "
	           "service) pairs.");
	buf_printf(b,
	           "panelmux_pricing_clamped{kind=\"override\"} %zu\n"
	           "panelmux_pricing_clamped{kind=\"group\"} %zu\n",
	           a->src.panel->clamped_overrides,
	           a->src.panel->clamped_groups);
	if (store_ledger_totals(a->src.st, totals) == STORE_OK) {
		admin_help(b, "panelmux_ledger_balance", "gauge",
		           "Sum of ledger entries by kind, panel currency.");
		for (int k = 0; k < 4; k++)
			buf_printf(b,
			           "panelmux_ledger_balance{kind=\"%s\"} %s\n",
			           ledger_kind_name((enum ledger_kind)k),
			           admin_money(totals[k], m));
	}
	admin_help(b, "panelmux_store_blocking_calls_total", "counter",
	           "Store calls that blocked the loop (PostgreSQL calls made "
	           "off a fiber): 0 by design.");
	buf_printf(b, "panelmux_store_blocking_calls_total %llu\n",
	           (unsigned long long)store_blocking_calls(a->src.st));
	admin_help(b, "panelmux_fibers", "gauge",
	           "Fibers started and not ended (parked on the store).");
	buf_printf(b, "panelmux_fibers %zu\n", fiber_count());
	if (a->src.orders != NULL) {
		orders_stats(a->src.orders, &os);
		admin_help(b, "panelmux_order_events_total", "counter",
		           "Order events since start.");
		buf_printf(
		    b,
		    "panelmux_order_events_total{event=\"added\"} %llu\n"
		    "panelmux_order_events_total{event=\"rejected\"} %llu\n"
		    "panelmux_order_events_total{event=\"ambiguous\"} %llu\n"
		    "panelmux_order_events_total{event=\"unrouted\"} %llu\n"
		    "panelmux_order_events_total{event=\"settled\"} %llu\n"
		    "panelmux_order_events_total{event=\"unknown_status\"} "
		    "%llu\n",
		    (unsigned long long)os.added,
		    (unsigned long long)os.rejected,
		    (unsigned long long)os.ambiguous,
		    (unsigned long long)os.unrouted,
		    (unsigned long long)os.settled,
		    (unsigned long long)os.unknown_status);
	}
}

static void
admin_send(struct admin *a, struct evhttp_request *req, int status,
           const char *ctype, struct buf *b)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);

	evhttp_add_header(evhttp_request_get_output_headers(req),
	                  "Content-Type", ctype);
	evbuffer_add(out, b->data != NULL ? b->data : "", b->len);
	conns_request_answered(a->conns, req);
	evhttp_send_reply(req, status, status == 200 ? "OK" : "Error", NULL);
	buf_free(b);
}

static void
admin_request_run(void *x, void *y)
{
	struct evhttp_request *req = x;
	struct admin *a = y;
	const char *path =
	    evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	struct buf b;

	conns_request_arrived(a->conns, req);
	if (path != NULL && strncmp(path, "/adminapi/", 10) == 0) {
		admin_api_handle(a->api, req, path);
		return;
	}
	if (admin_console_handle(a->conns, req, path) == 0)
		return;
	buf_init(&b, 16u << 20);
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		buf_puts(&b, "method not allowed\n");
		admin_send(a, req, 405, "text/plain", &b);
		return;
	}
	if (path != NULL && strcmp(path, "/metrics") == 0) {
		buf_printf(&b,
		           "# HELP panelmux_start_time_seconds Start time.\n"
		           "# TYPE panelmux_start_time_seconds gauge\n"
		           "panelmux_start_time_seconds %lld\n",
		           (long long)a->started);
		admin_requests(a, &b);
		admin_upstreams(a, &b);
		admin_prices(a, &b);
		admin_money_state(a, &b);
		admin_send(a, req, 200, "text/plain; version=0.0.4", &b);
		return;
	}
	if (path != NULL && strcmp(path, "/healthz") == 0) {
		/* Ready: the store answers and the API listener is up. */
		int64_t counts[ORDER_STATE_COUNT];
		int ok = a->src.ready != NULL && *a->src.ready &&
		         store_order_counts(a->src.st, counts) == STORE_OK;

		buf_puts(&b, ok ? "ok\n" : "not ready\n");
		admin_send(a, req, ok ? 200 : 503, "text/plain", &b);
		return;
	}
	buf_puts(&b, "not found\n");
	admin_send(a, req, 404, "text/plain", &b);
}

/* On a fiber: the store may park it (fiber.h). */
static void
admin_request(struct evhttp_request *req, void *arg)
{
	fiber_spawn(admin_request_run, req, arg);
}

struct admin *
admin_new(struct event_base *base, const char *listen,
          const struct admin_sources *src)
{
	struct admin *a = xcalloc(1, sizeof(*a));
	struct evhttp_bound_socket *sock;
	char *host = NULL;
	int port, one = 1;

	a->src = *src;
	a->started = time(NULL);
	if (cfg_parse_hostport(listen, &host, &port) != 0 ||
	    (a->http = evhttp_new(base)) == NULL) {
		log_warnx("admin: bad listen address %s", listen);
		goto fail;
	}
	evhttp_set_max_headers_size(a->http, 8192);
	evhttp_set_max_body_size(a->http, ADMIN_API_BODY_MAX);
	evhttp_set_timeout(a->http, 10);
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	/* The front door's guard with its limits: a deadline for each
	 * complete request (slow clients), and the connection caps; fixed
	 * at start. */
	a->conns = conns_new(base);
	conns_set_limits(a->conns, src->panel->cfg->header_timeout_ms,
	                 src->panel->cfg->max_connections,
	                 src->panel->cfg->max_connections_per_ip);
	evhttp_set_bevcb(a->http, conns_bevcb, a->conns);
	a->api = admin_api_new(src->panel, src->orders, src->st, a->conns);
	evhttp_set_gencb(a->http, admin_request, a);
	if ((sock = evhttp_bind_socket_with_handle(
	         a->http, host, (ev_uint16_t)port)) == NULL) {
		log_warn("admin: cannot listen on %s", listen);
		goto fail;
	}
	conns_set_listener(a->conns, evhttp_bound_socket_get_listener(sock));
	/* As on listen.api: accepted sockets inherit it, and a reply
	 * written in two pieces is not held back 40 ms by Nagle. */
	if (setsockopt(evhttp_bound_socket_get_fd(sock), IPPROTO_TCP,
	               TCP_NODELAY, &one, sizeof(one)) != 0)
		log_warn("admin: TCP_NODELAY");
	free(host);
	return a;
fail:
	free(host);
	admin_free(a);
	return NULL;
}

void
admin_free(struct admin *a)
{
	if (a == NULL)
		return;
	if (a->http != NULL)
		evhttp_free(a->http); /* closes connections: conns sees it */
	conns_free(a->conns);
	admin_api_free(a->api);
	free(a);
}
