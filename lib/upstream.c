/* upstream.c - libcurl multi driven by libevent, as curl documents it: a
 * socket callback keeps one event per socket (curl_multi_assign), a timer
 * callback keeps one non-repeating timer, and finished transfers are drained
 * with curl_multi_info_read after every curl_multi_socket_action.  No call
 * into libcurl ever happens from inside one of its callbacks: user callbacks
 * run from check_done, after socket_action has returned.
 */
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "clock.h"
#include "buf.h"
#include "config.h"
#include "fiber.h"
#include "log.h"
#include "upstream_int.h"
#include "xmalloc.h"

#define UP_DEFAULT_THRESHOLD 5
#define UP_DEFAULT_COOLDOWN_MS 2000
#define UP_DEFAULT_MAX_COOLDOWN_MS 60000

const char *const up_action_names[UP_ACT_COUNT] = {
    "add",    "status",  "refill",   "refill_status",
    "cancel", "balance", "services", "other"};

/* Per-socket state, attached with curl_multi_assign. */
struct up_sock {
	struct event *ev;
	struct up_engine *eng;
};

static void up_check_done(struct up_engine *eng);
static void up_start(struct up_call *c);
static void up_probe(struct upstream *u);

/*
 * libcurl <-> libevent glue.
 */

static void
up_event_cb(evutil_socket_t fd, short kind, void *arg)
{
	struct up_engine *eng = arg;
	int action = 0, running;

	if (kind & EV_READ)
		action |= CURL_CSELECT_IN;
	if (kind & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curl_multi_socket_action(eng->multi, fd, action, &running);
	/* The timer is libcurl's to manage (up_timer_fn): a callback run by
	 * check_done may just have added a transfer that needs it. */
	up_check_done(eng);
}

static void
up_timer_cb(evutil_socket_t fd, short kind, void *arg)
{
	struct up_engine *eng = arg;
	int running;

	curl_multi_socket_action(eng->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	up_check_done(eng);
}

/* CURLMOPT_TIMERFUNCTION: one non-repeating timer; -1 deletes it. */
static int
up_timer_fn(CURLM *multi, long timeout_ms, void *arg)
{
	struct up_engine *eng = arg;
	struct timeval tv;

	if (timeout_ms < 0) {
		evtimer_del(eng->timer);
		return 0;
	}
	/* 0 means "as soon as possible": from the loop, not from here. */
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(eng->timer, &tv);
	return 0;
}

/* CURLMOPT_SOCKETFUNCTION: keep one event per socket in step with what
 * libcurl wants to wait for. */
static int
up_socket_fn(CURL *easy, curl_socket_t s, int what, void *arg, void *sockp)
{
	struct up_engine *eng = arg;
	struct up_sock *us = sockp;
	short kind;

	if (what == CURL_POLL_REMOVE) {
		if (us != NULL) {
			event_free(us->ev);
			free(us);
			curl_multi_assign(eng->multi, s, NULL);
		}
		return 0;
	}
	kind = EV_PERSIST;
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (us == NULL) {
		us = xcalloc(1, sizeof(*us));
		us->eng = eng;
		us->ev = event_new(eng->base, s, kind, up_event_cb, eng);
		if (us->ev == NULL) {
			free(us);
			return -1;
		}
		curl_multi_assign(eng->multi, s, us);
	} else {
		event_del(us->ev);
		event_assign(us->ev, eng->base, s, kind, up_event_cb, eng);
	}
	event_add(us->ev, NULL);
	return 0;
}

/*
 * Calls.
 */

static void
up_call_free(struct up_call *c)
{
	if (c->easy != NULL)
		curl_easy_cleanup(c->easy);
	curl_slist_free_all(c->headers);
	if (c->defer != NULL)
		event_free(c->defer);
	buf_free(&c->reply);
	free(c->action);
	free(c->body);
	free(c->url);
	free(c);
}

/* The breaker's view of an ended call. */
static void
up_breaker_note(struct upstream *u, int ok)
{
	u->last_ok = ok;
	if (ok) {
		u->undo_failures = u->failures;
		u->failures = 0;
		return;
	}
	if (++u->failures >= u->threshold && u->circuit == UP_CIRCUIT_CLOSED) {
		struct timeval tv = {
		    (time_t)(u->cooldown_ms / 1000),
		    (suseconds_t)((u->cooldown_ms % 1000) * 1000)};

		u->circuit = UP_CIRCUIT_OPEN;
		u->stats.breaker_opens++;
		log_warnx("upstream %s: circuit open after %d consecutive "
		          "failures; probing in %lld ms",
		          u->name, u->failures, (long long)u->cooldown_ms);
		evtimer_add(u->probe_timer, &tv);
	}
}

/* A reply looks usable to the breaker when it is 2xx and starts like JSON;
 * the dialect parser has the final word (upstream_note_fault). */
static int
up_reply_looks_ok(const struct up_call *c)
{
	const unsigned char *p = (const unsigned char *)c->reply.data;
	size_t i = 0, n = c->reply.len;

	if (c->res.http_status < 200 || c->res.http_status > 299 || p == NULL)
		return 0;
	if (n >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
		i = 3;
	while (i < n &&
	       (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	return i < n && (p[i] == '{' || p[i] == '[');
}

/* Deliver C's result, then free it.  Callers have unlinked C. */
/* The caller's callback, then C is done. */
static void
up_deliver(void *a, void *b)
{
	struct up_call *c = a;

	if (c->cb != NULL)
		c->cb(&c->res, c->arg);
	up_call_free(c);
}

static void
up_finish(struct up_call *c)
{
	struct upstream *u = c->up;
	struct up_engine *eng = u->eng;
	int ok;

	c->res.latency_ms = clock_mono_ms() - c->started_ms;
	/* Out of the multi handle, classified: its easy handle goes now, so
	 * none outlives the share object whenever the callback runs. */
	if (c->easy != NULL) {
		curl_easy_cleanup(c->easy);
		c->easy = NULL;
	}
	u->stats.by_action[c->act][c->res.transport]++;
	u->stats.latency_ms_sum += (uint64_t)c->res.latency_ms;
	switch (c->res.transport) {
	case UP_NOT_SENT:
		u->stats.not_sent++;
		break;
	case UP_REPLIED:
		u->stats.replied++;
		c->res.body = c->reply.data != NULL ? c->reply.data : "";
		c->res.len = c->reply.len;
		break;
	case UP_LOST:
		u->stats.lost++;
		break;
	}
	ok = c->res.transport == UP_REPLIED && up_reply_looks_ok(c);
	if (c->probe) {
		if (ok) {
			log_info("upstream %s: probe answered; circuit closed",
			         u->name);
			u->circuit = UP_CIRCUIT_CLOSED;
			u->failures = 0;
			u->cooldown_ms = u->base_cooldown_ms;
		} else if (!eng->freeing) {
			struct timeval tv;

			u->cooldown_ms *= 2;
			if (u->cooldown_ms > u->max_cooldown_ms)
				u->cooldown_ms = u->max_cooldown_ms;
			tv.tv_sec = (time_t)(u->cooldown_ms / 1000);
			tv.tv_usec =
			    (suseconds_t)((u->cooldown_ms % 1000) * 1000);
			u->circuit = UP_CIRCUIT_OPEN;
			log_warnx("upstream %s: probe failed (%s); next in "
			          "%lld ms",
			          u->name,
			          c->res.reason != NULL ? c->res.reason
			                                : "bad reply",
			          (long long)u->cooldown_ms);
			evtimer_add(u->probe_timer, &tv);
		}
	} else if (!u->sender && (c->res.transport != UP_NOT_SENT ||
	                          u->circuit == UP_CIRCUIT_CLOSED)) {
		/* Calls refused by an open circuit do not count again. */
		up_breaker_note(u, ok);
	}
	eng->pending--;
	/* On its own fiber when the store may park it (fiber.h). */
	fiber_spawn(up_deliver, c, NULL);
}

static void
up_defer_cb(evutil_socket_t fd, short kind, void *arg)
{
	struct up_call *c = arg;

	TAILQ_REMOVE(&c->up->deferred, c, entry);
	up_finish(c);
}

/* End C as not sent, from the loop (never inside upstream_call). */
static void
up_fail_later(struct up_call *c, const char *reason)
{
	static const struct timeval zero = {0, 0};

	c->res.transport = UP_NOT_SENT;
	c->res.reason = reason;
	c->defer = evtimer_new(c->up->eng->base, up_defer_cb, c);
	if (c->defer == NULL)
		fatalx("upstream: out of memory for an event");
	TAILQ_INSERT_TAIL(&c->up->deferred, c, entry);
	evtimer_add(c->defer, &zero);
}

static int
up_is_write(const struct up_call *c)
{
	return (c->flags & UP_FRESH) != 0;
}

/* C's lane: writes on fresh connections and reads are capped apart. */
static struct up_lane *
up_lane_of(struct up_call *c)
{
	return &c->up->lane[up_is_write(c) ? UP_LANE_WRITE : UP_LANE_READ];
}

/* Count C in (DELTA 1) or out of (-1) the calls in flight. */
static void
up_count_flying(struct up_call *c, int delta)
{
	struct upstream *u = c->up;

	up_lane_of(c)->inflight += delta;
	u->stats.inflight += (uint64_t)(int64_t)delta;
	if (up_is_write(c))
		u->stats.inflight_writes += (uint64_t)(int64_t)delta;
}

/* Queue C behind its lane's cap; at the HEAD for a probe. */
static void
up_enqueue(struct up_call *c, int head)
{
	struct up_lane *l = up_lane_of(c);

	if (head)
		TAILQ_INSERT_HEAD(&l->queue, c, entry);
	else
		TAILQ_INSERT_TAIL(&l->queue, c, entry);
	c->up->stats.queued++;
	if (up_is_write(c))
		c->up->stats.queued_writes++;
}

static void
up_dequeue(struct up_call *c)
{
	TAILQ_REMOVE(&up_lane_of(c)->queue, c, entry);
	c->up->stats.queued--;
	if (up_is_write(c))
		c->up->stats.queued_writes--;
}

/* Start queued calls while there are connection slots, in each lane. */
static void
up_drain_queue(struct upstream *u)
{
	struct up_call *c;

	for (int i = 0; i < UP_NLANES; i++) {
		struct up_lane *l = &u->lane[i];

		while (l->inflight < l->max &&
		       (c = TAILQ_FIRST(&l->queue)) != NULL) {
			up_dequeue(c);
			/* A probe queued while half-open is the one call
			 * that must go. */
			if (u->circuit != UP_CIRCUIT_CLOSED && !c->probe) {
				up_fail_later(c, "circuit open");
				continue;
			}
			up_start(c);
		}
	}
}

static void
up_check_done(struct up_engine *eng)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(eng->multi, &left)) != NULL) {
		struct up_call *c = NULL;
		struct upstream *u;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &c);
		curl_multi_remove_handle(eng->multi, msg->easy_handle);
		u = c->up;
		TAILQ_REMOVE(&u->active, c, entry);
		up_count_flying(c, -1);
		up_easy_classify(c, msg->data.result);
		up_finish(c);
		up_drain_queue(u);
	}
}

static void
up_start(struct up_call *c)
{
	struct upstream *u = c->up;

	if (up_easy_setup(c) != 0) {
		up_fail_later(c, "cannot set up the transfer");
		return;
	}
	if (curl_multi_add_handle(u->eng->multi, c->easy) != CURLM_OK) {
		up_fail_later(c, "cannot add the transfer");
		return;
	}
	TAILQ_INSERT_TAIL(&u->active, c, entry);
	up_count_flying(c, 1);
}

static struct up_call *
up_call_new(struct upstream *u, const char *action, const char *fields,
            int flags, up_cb cb, void *arg)
{
	struct up_call *c = xcalloc(1, sizeof(*c));
	struct buf body;

	c->up = u;
	c->action = xstrdup(action);
	c->act = UP_ACT_OTHER;
	for (int i = 0; i < UP_ACT_OTHER; i++)
		if (strcmp(action, up_action_names[i]) == 0)
			c->act = (enum up_action)i;
	c->flags = flags;
	c->cb = cb;
	c->arg = arg;
	c->max_reply = (flags & UP_LARGE) ? UP_REPLY_LARGE : UP_REPLY_MAX;
	buf_init(&c->reply, c->max_reply);
	buf_init(&body, SIZE_MAX / 2);
	upstream_form_add(&body, "key", u->key);
	upstream_form_add(&body, "action", action);
	if (fields != NULL && *fields != '\0') {
		if (*fields != '&')
			buf_puts(&body, "&");
		buf_puts(&body, fields);
	}
	c->body = buf_release(&body, NULL);
	/* The leading '&' of the first field is not wanted. */
	if (c->body[0] == '&')
		memmove(c->body, c->body + 1, strlen(c->body));
	c->body_len = strlen(c->body);
	c->started_ms = clock_mono_ms();
	u->stats.calls++;
	u->eng->pending++;
	return c;
}

/* Start C, or queue it behind U's connection cap. */
static void
up_submit(struct upstream *u, struct up_call *c)
{
	if (u->eng->freeing) {
		/* Ended by up_engine_free once the current wave is done. */
		c->res.transport = UP_NOT_SENT;
		c->res.reason = "shutting down";
		TAILQ_INSERT_TAIL(&u->eng->late, c, entry);
		return;
	}
	if (u->circuit != UP_CIRCUIT_CLOSED) {
		up_fail_later(c, "circuit open");
		return;
	}
	if (up_lane_of(c)->inflight >= up_lane_of(c)->max) {
		up_enqueue(c, 0);
		return;
	}
	up_start(c);
}

void
upstream_call(struct upstream *u, const char *action, const char *fields,
              int flags, up_cb cb, void *arg)
{
	up_submit(u, up_call_new(u, action, fields, flags, cb, arg));
}

void
upstream_post(struct upstream *u, const char *url, const char *const *headers,
              size_t nheaders, const char *body, size_t len, size_t max_reply,
              up_cb cb, void *arg)
{
	struct up_call *c = xcalloc(1, sizeof(*c));

	c->up = u;
	c->action = xstrdup("post");
	c->act = UP_ACT_OTHER;
	c->cb = cb;
	c->arg = arg;
	c->max_reply = max_reply;
	buf_init(&c->reply, max_reply + 1);
	c->url = xstrdup(url);
	c->body = xmalloc(len + 1);
	memcpy(c->body, body, len);
	c->body[len] = '\0';
	c->body_len = len;
	c->headers = curl_slist_append(NULL, "Expect:");
	for (size_t i = 0; i < nheaders && c->headers != NULL; i++)
		c->headers = curl_slist_append(c->headers, headers[i]);
	if (c->headers == NULL)
		fatalx("upstream: out of memory for headers");
	c->started_ms = clock_mono_ms();
	u->stats.calls++;
	u->eng->pending++;
	up_submit(u, c);
}

static void
up_probe_cb(evutil_socket_t fd, short kind, void *arg)
{
	up_probe(arg);
}

static void
up_probe(struct upstream *u)
{
	struct up_call *c;

	u->circuit = UP_CIRCUIT_HALF_OPEN;
	c = up_call_new(u, "balance", NULL, 0, NULL, NULL);
	c->probe = 1;
	if (up_lane_of(c)->inflight >= up_lane_of(c)->max) {
		/* Probes jump the queue: they decide its fate. */
		up_enqueue(c, 1);
		return;
	}
	up_start(c);
}

int
upstream_form_add(struct buf *b, const char *name, const char *value)
{
	char *n, *v;
	int rc;

	n = curl_easy_escape(NULL, name, 0);
	v = curl_easy_escape(NULL, value != NULL ? value : "", 0);
	if (n == NULL || v == NULL)
		fatalx("upstream: out of memory escaping a form field");
	rc = buf_printf(b, "&%s=%s", n, v);
	curl_free(n);
	curl_free(v);
	return rc;
}

/*
 * Upstreams and the engine.
 */

static int
up_host_is_loopback(const char *url)
{
	CURLU *h = curl_url();
	char *host = NULL;
	int loop = 0;

	if (h == NULL)
		return 0;
	if (curl_url_set(h, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		loop = strcmp(host, "localhost") == 0 ||
		       strncmp(host, "127.", 4) == 0 ||
		       strcmp(host, "[::1]") == 0;
		curl_free(host);
	}
	curl_url_cleanup(h);
	return loop;
}

void
upstream_update(struct upstream *u, const struct cfg_upstream *cfg)
{
	free(u->name);
	free(u->url);
	if (u->key != NULL)
		explicit_bzero(u->key, strlen(u->key));
	free(u->key);
	u->name = xstrdup(cfg->name);
	u->url = xstrdup(cfg->url);
	u->key = xstrdup(cfg->key != NULL ? cfg->key : "");
	u->http_ok = up_host_is_loopback(cfg->url);
	u->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 15000;
	u->lane[UP_LANE_READ].max =
	    cfg->max_connections > 0 ? cfg->max_connections : 8;
	u->lane[UP_LANE_WRITE].max =
	    cfg->max_write_connections > 0 ? cfg->max_write_connections : 32;
	u->connect_timeout_ms = cfg->connect_timeout_ms > 0
	                            ? cfg->connect_timeout_ms
	                            : UP_CONNECT_TIMEOUT_MS;
	free(u->ca_file);
	u->ca_file = cfg->ca_file != NULL ? xstrdup(cfg->ca_file) : NULL;
	u->http2 = cfg->http2;
	up_drain_queue(u);
}

void
upstream_sender_update(struct upstream *u, int max_conn, int64_t timeout_ms,
                       int allow_private)
{
	u->http_ok = allow_private;
	u->public_only = !allow_private;
	u->timeout_ms = timeout_ms;
	/* Deliveries are not UP_FRESH; both caps are the sender's. */
	u->lane[UP_LANE_READ].max = max_conn;
	u->lane[UP_LANE_WRITE].max = max_conn;
	up_drain_queue(u);
}

/* A new upstream of ENG with empty queues, closed, and its probe timer;
 * the caller sets the rest and links it. */
static struct upstream *
up_alloc(struct up_engine *eng)
{
	struct upstream *u = xcalloc(1, sizeof(*u));

	u->eng = eng;
	for (int i = 0; i < UP_NLANES; i++)
		TAILQ_INIT(&u->lane[i].queue);
	u->http2 = 1;
	u->connect_timeout_ms = UP_CONNECT_TIMEOUT_MS;
	TAILQ_INIT(&u->active);
	TAILQ_INIT(&u->deferred);
	u->circuit = UP_CIRCUIT_CLOSED;
	u->probe_timer = evtimer_new(eng->base, up_probe_cb, u);
	if (u->probe_timer == NULL)
		fatalx("upstream: out of memory for a timer");
	return u;
}

struct upstream *
upstream_new_sender(struct up_engine *eng, const char *name, int max_conn,
                    int64_t timeout_ms, int allow_private)
{
	struct upstream *u = up_alloc(eng);

	u->sender = 1;
	u->name = xstrdup(name);
	u->url = xstrdup("");
	u->key = xstrdup("");
	upstream_sender_update(u, max_conn, timeout_ms, allow_private);
	TAILQ_INSERT_TAIL(&eng->upstreams, u, entry);
	return u;
}

struct upstream *
upstream_new(struct up_engine *eng, const struct cfg_upstream *cfg)
{
	struct upstream *u = up_alloc(eng);

	u->threshold = UP_DEFAULT_THRESHOLD;
	u->cooldown_ms = u->base_cooldown_ms = UP_DEFAULT_COOLDOWN_MS;
	u->max_cooldown_ms = UP_DEFAULT_MAX_COOLDOWN_MS;
	upstream_update(u, cfg);
	TAILQ_INSERT_TAIL(&eng->upstreams, u, entry);
	return u;
}

const char *
upstream_name(const struct upstream *u)
{
	return u->name;
}

void
upstream_set_breaker(struct upstream *u, int threshold, int64_t cooldown_ms,
                     int64_t max_cooldown_ms)
{
	u->threshold = threshold > 0 ? threshold : 1;
	u->cooldown_ms = u->base_cooldown_ms =
	    cooldown_ms > 0 ? cooldown_ms : 1;
	u->max_cooldown_ms = max_cooldown_ms >= u->base_cooldown_ms
	                         ? max_cooldown_ms
	                         : u->base_cooldown_ms;
}

enum up_circuit
upstream_circuit(const struct upstream *u)
{
	return u->circuit;
}

const char *
up_circuit_name(enum up_circuit c)
{
	switch (c) {
	case UP_CIRCUIT_CLOSED:
		return "closed";
	case UP_CIRCUIT_OPEN:
		return "open";
	case UP_CIRCUIT_HALF_OPEN:
		return "half-open";
	}
	return "unknown";
}

void
upstream_note_fault(struct upstream *u)
{
	/* When the transport counted the reply as a success, undo that and
	 * count it as the failure it was; a failure is already counted. */
	if (!u->last_ok)
		return;
	u->failures = u->undo_failures;
	up_breaker_note(u, 0);
}

void
upstream_stats(const struct upstream *u, struct up_stats *out)
{
	*out = u->stats;
	out->consecutive_failures = u->failures;
}

struct up_engine *
up_engine_new(struct event_base *base)
{
	struct up_engine *eng = xcalloc(1, sizeof(*eng));

	eng->base = base;
	TAILQ_INIT(&eng->upstreams);
	TAILQ_INIT(&eng->late);
	if ((eng->multi = curl_multi_init()) == NULL ||
	    (eng->share = curl_share_init()) == NULL) {
		log_warnx("upstream: cannot set up libcurl");
		goto fail;
	}
	/* One thread uses them all: no lock functions.  The multi handle
	 * caches DNS for its easy handles already; sharing it here too keeps
	 * one cache whatever handles a later libcurl groups. */
	if (curl_share_setopt(eng->share, CURLSHOPT_SHARE,
	                      CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK ||
	    curl_share_setopt(eng->share, CURLSHOPT_SHARE,
	                      CURL_LOCK_DATA_DNS) != CURLSHE_OK) {
		log_warnx("upstream: libcurl cannot share TLS sessions");
		goto fail;
	}
	if ((eng->timer = evtimer_new(base, up_timer_cb, eng)) == NULL)
		goto fail;
	curl_multi_setopt(eng->multi, CURLMOPT_SOCKETFUNCTION, up_socket_fn);
	curl_multi_setopt(eng->multi, CURLMOPT_SOCKETDATA, eng);
	curl_multi_setopt(eng->multi, CURLMOPT_TIMERFUNCTION, up_timer_fn);
	curl_multi_setopt(eng->multi, CURLMOPT_TIMERDATA, eng);
	return eng;

fail:
	if (eng->share != NULL)
		curl_share_cleanup(eng->share);
	if (eng->multi != NULL)
		curl_multi_cleanup(eng->multi);
	free(eng);
	return NULL;
}

size_t
up_engine_pending(const struct up_engine *eng)
{
	return eng->pending;
}

/* End every call of U; callbacks may start new calls (they go late). */
static void
up_end_calls(struct upstream *u)
{
	struct up_call *c;

	for (int i = 0; i < UP_NLANES; i++)
		while ((c = TAILQ_FIRST(&u->lane[i].queue)) != NULL) {
			up_dequeue(c);
			c->res.transport = UP_NOT_SENT;
			c->res.reason = "shutting down";
			up_finish(c);
		}
	while ((c = TAILQ_FIRST(&u->active)) != NULL) {
		TAILQ_REMOVE(&u->active, c, entry);
		curl_multi_remove_handle(u->eng->multi, c->easy);
		c->res.transport = UP_LOST;
		c->res.reason = "shutting down";
		up_finish(c);
	}
	while ((c = TAILQ_FIRST(&u->deferred)) != NULL) {
		TAILQ_REMOVE(&u->deferred, c, entry);
		up_finish(c); /* already UP_NOT_SENT */
	}
}

static void
up_free_one(struct upstream *u)
{
	event_free(u->probe_timer);
	free(u->name);
	free(u->url);
	free(u->ca_file);
	if (u->key != NULL)
		explicit_bzero(u->key, strlen(u->key));
	free(u->key);
	free(u);
}

void
up_engine_free(struct up_engine *eng)
{
	struct upstream *u;
	struct up_call *c;

	if (eng == NULL)
		return;
	eng->freeing = 1;
	/* Every upstream stays allocated until every callback has run. */
	TAILQ_FOREACH(u, &eng->upstreams, entry)
	up_end_calls(u);
	while ((c = TAILQ_FIRST(&eng->late)) != NULL) {
		TAILQ_REMOVE(&eng->late, c, entry);
		up_finish(c);
	}
	while ((u = TAILQ_FIRST(&eng->upstreams)) != NULL) {
		TAILQ_REMOVE(&eng->upstreams, u, entry);
		up_free_one(u);
	}
	curl_multi_cleanup(eng->multi);
	/* Last: every easy handle that used it is gone (up_finish). */
	if (curl_share_cleanup(eng->share) != CURLSHE_OK)
		log_warnx("upstream: the share object is still in use");
	event_free(eng->timer);
	free(eng);
}
