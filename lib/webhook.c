/* webhook.c - deliveries from the outbox (webhook.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "fiber.h"
#include "log.h"
#include "money.h"
#include "panel.h"
#include "reply.h"
#include "store.h"
#include "upstream.h"
#include "webhook.h"
#include "xmalloc.h"

/* Past a delivery's timeout, the claim is someone else's to take. */
#define WEBHOOK_LEASE_EXTRA_MS 10000

struct webhooks {
	struct panel *p;
	struct upstream *sender;
	struct event *tick; /* the scan, every poll_ms */
	struct event *kick; /* a scan at once */
	int scanning;       /* a scan runs (it may park on a fiber) */
	int draining;       /* no new claims */
	int stopped;        /* nor store writes */
	int64_t poll_ms;
	struct webhooks_stats stats;
	/* deliveries in flight per endpoint (at most max_connections) */
	struct webhook_busy busy[256];
	size_t nbusy;
	/* Tries ended and not yet recorded: written together, one
	 * transaction per loop pass (a delivery counts as in flight until
	 * its outcome is written, so there are at most max_connections). */
	struct webhook_outcome out[256];
	int64_t out_endpoint[256];
	size_t nout;
	struct event *record; /* the write, at once */
	int recording;        /* it runs (it may park on a fiber) */
};

struct delivery {
	struct webhooks *w;
	int64_t id;
	int64_t endpoint;
	int64_t attempts;
	int64_t created_at;
	char url[STORE_URL_MAX + 1];
};

/*
 * The pure parts.
 */

void
webhook_body(struct buf *out, const struct webhook_event *ev,
             const char *currency, int decimals)
{
	char amount[MONEY_BUFSZ];
	struct buf obj;

	buf_printf(out,
	           "{\"id\":\"evt_%" PRId64 "\",\"type\":\"%s\","
	           "\"created\":%" PRId64 ",\"data\":{",
	           ev->id, webhook_event_name(ev->type), ev->created_at);
	switch (ev->type) {
	case WEBHOOK_EV_ACCEPTED:
	case WEBHOOK_EV_STATUS:
		/* the order's v2 status object, its ID first */
		buf_init(&obj, 1024);
		reply_order_object(&obj, currency, decimals, &ev->order);
		buf_printf(out, "\"order\":%" PRId64 ",", ev->order.id);
		if (obj.len > 2)
			buf_add(out, obj.data + 1, obj.len - 2);
		buf_free(&obj);
		break;
	case WEBHOOK_EV_REFILL:
		buf_printf(out,
		           "\"refill\":%" PRId64 ",\"order\":%" PRId64
		           ",\"status\":",
		           ev->refill_id, ev->order.id);
		buf_json_string(out, ev->status);
		break;
	case WEBHOOK_EV_BALANCE:
		BUF_LIT(out, "\"balance\":\"");
		buf_puts(out, money_format(ev->balance, decimals, amount));
		BUF_LIT(out, "\",\"threshold\":\"");
		buf_puts(out, money_format(ev->threshold, decimals, amount));
		buf_printf(out, "\",\"currency\":\"%s\"", currency);
		break;
	}
	BUF_LIT(out, "}}");
}

/* HEX (65 bytes) of HMAC-SHA256(SECRET, "T.BODY"). */
static void
webhook_hmac(char hex[65], const char *secret, const char *prefix, size_t plen,
             const char *body, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	HMAC_CTX *ctx;

	hex[0] = '\0';
	/* the one-shot HMAC() would need the prefix and body copied into one
	 * buffer; the context takes them as they are */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	if ((ctx = HMAC_CTX_new()) == NULL)
		fatalx("webhook: out of memory for an HMAC");
	if (HMAC_Init_ex(ctx, secret, (int)strlen(secret), EVP_sha256(),
	                 NULL) != 1 ||
	    HMAC_Update(ctx, (const unsigned char *)prefix, plen) != 1 ||
	    HMAC_Update(ctx, (const unsigned char *)body, len) != 1 ||
	    HMAC_Final(ctx, mac, &n) != 1 || n != 32)
		fatalx("webhook: HMAC-SHA256 failed");
	HMAC_CTX_free(ctx);
#pragma GCC diagnostic pop
	for (unsigned int i = 0; i < n; i++) {
		hex[2 * i] = digits[mac[i] >> 4];
		hex[2 * i + 1] = digits[mac[i] & 15];
	}
	hex[2 * n] = '\0';
}

void
webhook_signature(char *sig, const char *secret, const char *old_secret,
                  int64_t t, const char *body, size_t len)
{
	char prefix[32], hex[65];
	int plen = snprintf(prefix, sizeof(prefix), "%" PRId64 ".", t);
	int off;

	webhook_hmac(hex, secret, prefix, (size_t)plen, body, len);
	off = snprintf(sig, WEBHOOK_SIG_MAX, "t=%" PRId64 ",v1=%s", t, hex);
	if (old_secret != NULL) {
		webhook_hmac(hex, old_secret, prefix, (size_t)plen, body, len);
		snprintf(sig + off, WEBHOOK_SIG_MAX - (size_t)off, ",v1=%s",
		         hex);
	}
}

int64_t
webhook_backoff(int64_t attempts, int64_t base_ms, int64_t max_ms,
                int jitter_permille)
{
	int64_t d = base_ms;

	for (int64_t i = 1; i < attempts && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	return d / 1000 * jitter_permille + d % 1000 * jitter_permille / 1000;
}

/*
 * Deliveries.
 */

static void webhooks_scan_soon(struct webhooks *w);

/* One more (DELTA 1) or one fewer (-1) delivery in flight to ENDPOINT. */
static void
webhooks_busy(struct webhooks *w, int64_t endpoint, int delta)
{
	size_t i;

	for (i = 0; i < w->nbusy; i++)
		if (w->busy[i].endpoint == endpoint)
			break;
	if (i == w->nbusy) {
		if (delta < 0 ||
		    w->nbusy == sizeof(w->busy) / sizeof(w->busy[0]))
			return;
		w->busy[w->nbusy].endpoint = endpoint;
		w->busy[w->nbusy++].inflight = 0;
	}
	w->busy[i].inflight += delta;
	if (w->busy[i].inflight <= 0)
		w->busy[i] = w->busy[--w->nbusy];
}

/* 800..1200: a +-20% jitter, so receivers that come back are not met by
 * every retry at once. */
static int
webhook_jitter(void)
{
	unsigned char r[2];

	if (RAND_bytes(r, sizeof(r)) != 1)
		return 1000;
	return 800 + (int)(((unsigned)r[0] << 8 | r[1]) % 401);
}

static void
webhook_done(const struct up_result *res, void *arg)
{
	struct delivery *dl = arg;
	struct webhooks *w = dl->w;
	const struct config *cfg;
	struct webhook_outcome *o;
	char why[160];
	int64_t now_ms, next_ms;
	int dead;

	/* (a full queue cannot be: it holds at most what is in flight) */
	if (w->stopped || w->nout == sizeof(w->out) / sizeof(w->out[0])) {
		w->stats.inflight--;
		webhooks_busy(w, dl->endpoint, -1);
		free(dl);
		return; /* the lease runs out; tried again after a restart */
	}
	cfg = config_ref(w->p->cfg);
	o = &w->out[w->nout];
	memset(o, 0, sizeof(*o));
	o->id = dl->id;
	w->out_endpoint[w->nout++] = dl->endpoint;
	event_active(w->record, 0, 0);
	if (res->transport == UP_REPLIED && res->http_status >= 200 &&
	    res->http_status <= 299) {
		w->stats.ok++;
		o->delivered = 1;
		goto out;
	}
	if (res->transport == UP_REPLIED)
		snprintf(why, sizeof(why), "HTTP %ld", res->http_status);
	else
		snprintf(why, sizeof(why), "%s",
		         res->reason != NULL ? res->reason : "no reply");
	now_ms = clock_wall_ms();
	dead = now_ms - dl->created_at * 1000 >= cfg->webhooks.max_age_ms;
	next_ms = now_ms +
	          webhook_backoff(dl->attempts, cfg->webhooks.retry_base_ms,
	                          cfg->webhooks.retry_max_ms, webhook_jitter());
	if (dead) {
		w->stats.dead++;
		log_warnx("webhook: event %" PRId64 " to %s dead after %" PRId64
		          " tries: %s",
		          dl->id, dl->url, dl->attempts, why);
	} else {
		w->stats.failed++;
		log_info("webhook: event %" PRId64 " to %s: %s; try %" PRId64
		         " in %" PRId64 " ms",
		         dl->id, dl->url, why, dl->attempts + 1,
		         next_ms - now_ms);
	}
	o->dead = dead;
	o->next_ms = next_ms;
	snprintf(o->why, sizeof(o->why), "%s", why);
out:
	config_unref(cfg);
	free(dl);
}

/* Write the outcomes gathered, in one transaction; then their slots are
 * free, and the next due events (of those orders, or of endpoints that
 * were at their cap) go at once, not at the next tick. */
static void
webhooks_record_run(void *a, void *b)
{
	struct webhooks *w = a;
	struct webhook_outcome v[256];
	int64_t ep[256];
	size_t n = w->nout;

	memcpy(v, w->out, n * sizeof(*v));
	memcpy(ep, w->out_endpoint, n * sizeof(*ep));
	w->nout = 0;
	if (store_webhook_settle(w->p->st, v, n) == STORE_ERROR)
		log_warnx("webhook: %zu tries not recorded: they are tried "
		          "again once their leases run out",
		          n);
	for (size_t i = 0; i < n; i++) {
		w->stats.inflight--;
		webhooks_busy(w, ep[i], -1);
	}
	w->recording = 0;
	if (w->nout > 0)
		event_active(w->record, 0, 0);
	webhooks_scan_soon(w);
}

static void
webhooks_record(evutil_socket_t fd, short what, void *arg)
{
	struct webhooks *w = arg;

	if (w->recording || w->nout == 0)
		return;
	if (w->stopped) {
		/* the engine is ending: leases run out instead */
		for (size_t i = 0; i < w->nout; i++) {
			w->stats.inflight--;
			webhooks_busy(w, w->out_endpoint[i], -1);
		}
		w->nout = 0;
		return;
	}
	w->recording = 1;
	fiber_spawn(webhooks_record_run, w, NULL);
}

struct scan {
	struct webhooks *w;
	const struct config *cfg;
	struct buf body;
};

static int
webhook_send(const struct webhook_event *ev, void *arg)
{
	struct scan *sc = arg;
	struct webhooks *w = sc->w;
	struct delivery *dl = xcalloc(1, sizeof(*dl));
	char sig[WEBHOOK_SIG_MAX], h_sig[WEBHOOK_SIG_MAX + 32], h_type[64],
	    h_id[64];
	const char *headers[4];
	int64_t t = clock_wall_ms() / 1000;

	dl->w = w;
	dl->id = ev->id;
	dl->endpoint = ev->endpoint_id;
	dl->attempts = ev->attempts;
	dl->created_at = ev->created_at;
	snprintf(dl->url, sizeof(dl->url), "%s", ev->url);
	buf_reset(&sc->body);
	webhook_body(&sc->body, ev, sc->cfg->currency, sc->cfg->money_decimals);
	webhook_signature(sig, ev->secret,
	                  ev->old_secret[0] != '\0' && t < ev->old_until
	                      ? ev->old_secret
	                      : NULL,
	                  t, sc->body.data, sc->body.len);
	snprintf(h_sig, sizeof(h_sig), "X-Panelmux-Signature: %s", sig);
	snprintf(h_type, sizeof(h_type), "X-Panelmux-Event: %s",
	         webhook_event_name(ev->type));
	snprintf(h_id, sizeof(h_id), "X-Panelmux-Delivery: evt_%" PRId64,
	         ev->id);
	headers[0] = "Content-Type: application/json";
	headers[1] = h_type;
	headers[2] = h_id;
	headers[3] = h_sig;
	w->stats.inflight++;
	webhooks_busy(w, ev->endpoint_id, 1);
	upstream_post(w->sender, ev->url, headers, 4, sc->body.data,
	              sc->body.len, WEBHOOK_REPLY_MAX, webhook_done, dl);
	return 0;
}

static void
webhooks_scan(void *a, void *b)
{
	struct webhooks *w = a;
	struct scan sc = {w, NULL, {0}};
	int64_t room, n;

	sc.cfg = config_ref(w->p->cfg);
	room = sc.cfg->webhooks.max_connections - (int64_t)w->stats.inflight;
	if (room > 0 && !w->draining && !w->stopped) {
		buf_init(&sc.body, SIZE_MAX / 2);
		n = store_webhook_claim(w->p->st, clock_wall_ms(),
		                        sc.cfg->webhooks.timeout_ms +
		                            WEBHOOK_LEASE_EXTRA_MS,
		                        room, sc.cfg->webhooks.max_per_endpoint,
		                        w->busy, w->nbusy, webhook_send, &sc);
		buf_free(&sc.body);
		/* a full batch: more may be due (the kick runs from the loop,
		 * after this scan has ended) */
		if (n == room)
			webhooks_scan_soon(w);
	}
	config_unref(sc.cfg);
	w->scanning = 0;
}

static void
webhooks_tick(evutil_socket_t fd, short what, void *arg)
{
	struct webhooks *w = arg;

	if (w->scanning || w->draining || w->stopped)
		return;
	w->scanning = 1;
	fiber_spawn(webhooks_scan, w, NULL);
}

static void
webhooks_scan_soon(struct webhooks *w)
{
	if (!w->draining && !w->stopped)
		event_active(w->kick, 0, 0);
}

/* The scan timer at the config's interval, on or off. */
static void
webhooks_arm(struct webhooks *w)
{
	const struct config *cfg = w->p->cfg;
	struct timeval tv;

	if (!cfg->webhooks.enabled || w->draining || w->stopped) {
		evtimer_del(w->tick);
		return;
	}
	if (w->poll_ms == cfg->webhooks.poll_ms &&
	    evtimer_pending(w->tick, NULL))
		return;
	w->poll_ms = cfg->webhooks.poll_ms;
	tv.tv_sec = (time_t)(w->poll_ms / 1000);
	tv.tv_usec = (suseconds_t)((w->poll_ms % 1000) * 1000);
	evtimer_del(w->tick);
	event_add(w->tick, &tv);
}

struct webhooks *
webhooks_new(struct panel *p)
{
	struct webhooks *w = xcalloc(1, sizeof(*w));
	const struct cfg_webhooks *c = &p->cfg->webhooks;

	w->p = p;
	w->sender = upstream_new_sender(p->eng, "webhooks", c->max_connections,
	                                c->timeout_ms, c->allow_private);
	w->tick = event_new(p->base, -1, EV_PERSIST, webhooks_tick, w);
	w->kick = event_new(p->base, -1, 0, webhooks_tick, w);
	w->record = event_new(p->base, -1, 0, webhooks_record, w);
	if (w->tick == NULL || w->kick == NULL || w->record == NULL)
		fatalx("webhook: out of memory for an event");
	webhooks_arm(w);
	return w;
}

void
webhooks_reload(struct webhooks *w)
{
	const struct cfg_webhooks *c = &w->p->cfg->webhooks;

	w->p->st->events = c->enabled;
	upstream_sender_update(w->sender, c->max_connections, c->timeout_ms,
	                       c->allow_private);
	webhooks_arm(w);
}

void
webhooks_drain(struct webhooks *w)
{
	if (w == NULL)
		return;
	w->draining = 1;
	evtimer_del(w->tick);
	event_del(w->kick);
}

void
webhooks_stop(struct webhooks *w)
{
	if (w == NULL)
		return;
	webhooks_drain(w);
	w->stopped = 1;
}

void
webhooks_free(struct webhooks *w)
{
	if (w == NULL)
		return;
	event_free(w->tick);
	event_free(w->kick);
	event_free(w->record);
	free(w);
}

void
webhooks_stats(const struct webhooks *w, struct webhooks_stats *out)
{
	*out = w->stats;
}
