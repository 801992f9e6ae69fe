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
#include "netaddr.h"
#include "upstream.h"
#include "xmalloc.h"

#define UP_CONNECT_TIMEOUT_MS 10000
#define UP_DEFAULT_THRESHOLD 5
#define UP_DEFAULT_COOLDOWN_MS 2000
#define UP_DEFAULT_MAX_COOLDOWN_MS 60000
#define UP_USER_AGENT "panelmux/0.1"

struct up_call;
TAILQ_HEAD(up_callq, up_call);

struct up_engine {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	TAILQ_HEAD(, upstream) upstreams;
	struct up_callq late; /* calls made while freeing */
	size_t pending;
	int freeing;
};

struct upstream {
	TAILQ_ENTRY(upstream) entry;
	struct up_engine *eng;
	char *name, *url, *key;
	int http_ok; /* plain http allowed (loopback) */
	int sender;  /* posts to URLs of its own (upstream_post): no breaker */
	int public_only; /* a sender: connect to public addresses only */
	int64_t timeout_ms;
	int max_conn;
	int inflight;
	struct up_callq queue;    /* waiting for a connection slot */
	struct up_callq active;   /* in the multi handle */
	struct up_callq deferred; /* ended before starting, delivered soon */

	enum up_circuit circuit;
	int failures;
	int undo_failures; /* failures before the last success */
	int last_ok;       /* the last call counted was a success */
	int threshold;
	int64_t cooldown_ms, base_cooldown_ms, max_cooldown_ms;
	struct event *probe_timer;
	struct up_stats stats;
};

const char *const up_action_names[UP_ACT_COUNT] = {
    "add",    "status",  "refill",   "refill_status",
    "cancel", "balance", "services", "other"};

struct up_call {
	TAILQ_ENTRY(up_call) entry;
	struct upstream *up;
	CURL *easy;
	struct curl_slist *headers;
	char *action;
	char *body;
	size_t body_len;
	char *url; /* upstream_post: its own URL */
	int flags;
	enum up_action act;
	int probe; /* the breaker's own balance call */
	size_t max_reply;
	struct buf reply;
	int too_big;
	char errbuf[CURL_ERROR_SIZE];
	int64_t started_ms;
	up_cb cb;
	void *arg;
	struct event *defer; /* immediate failures are delivered from here */
	struct up_result res;
};

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

static size_t
up_write_fn(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct up_call *c = arg;
	size_t n = size * nmemb;

	if (c->up->sender) {
		/* Only the status matters: the reply's head is kept, the
		 * rest read and dropped (the call's timeout bounds it). */
		if (c->reply.len < c->max_reply)
			buf_add(&c->reply, ptr,
			        n < c->max_reply - c->reply.len
			            ? n
			            : c->max_reply - c->reply.len);
		return n;
	}
	if (c->reply.len + n > c->max_reply ||
	    buf_add(&c->reply, ptr, n) != 0) {
		c->too_big = 1;
		return 0; /* CURLE_WRITE_ERROR ends the transfer */
	}
	return n;
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

/* Start queued calls while there are connection slots. */
static void
up_drain_queue(struct upstream *u)
{
	struct up_call *c;

	while (u->inflight < u->max_conn &&
	       (c = TAILQ_FIRST(&u->queue)) != NULL) {
		TAILQ_REMOVE(&u->queue, c, entry);
		u->stats.queued--;
		if (u->circuit != UP_CIRCUIT_CLOSED) {
			up_fail_later(c, "circuit open");
			continue;
		}
		up_start(c);
	}
}

/* Classify a finished transfer. */
static void
up_classify(struct up_call *c, CURLcode code)
{
	curl_off_t pretransfer = 0;

	if (code == CURLE_OK) {
		c->res.transport = UP_REPLIED;
		curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE,
		                  &c->res.http_status);
		return;
	}
	if (c->too_big) {
		c->res.transport = UP_LOST;
		c->res.reason = "reply over the size cap";
		return;
	}
	/* Nothing was sent unless the transfer got past connect and TLS. */
	curl_easy_getinfo(c->easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
	switch (code) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		c->res.transport = UP_NOT_SENT;
		break;
	default:
		c->res.transport = pretransfer == 0 ? UP_NOT_SENT : UP_LOST;
		break;
	}
	c->res.reason =
	    c->errbuf[0] != '\0' ? c->errbuf : curl_easy_strerror(code);
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
		u->inflight--;
		u->stats.inflight--;
		up_classify(c, msg->data.result);
		up_finish(c);
		up_drain_queue(u);
	}
}

/* CURLOPT_OPENSOCKETFUNCTION of a sender that may reach public addresses
 * only: the address libcurl is about to connect to, after every
 * resolution (a name that resolves to a private address now is refused
 * now, whatever it resolved to when it was registered). */
static curl_socket_t
up_open_public(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct up_call *c = arg;

	if (purpose != CURLSOCKTYPE_IPCXN || netaddr_private(&a->addr)) {
		snprintf(c->errbuf, sizeof(c->errbuf),
		         "refused: a private, loopback or link-local "
		         "address");
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype, a->protocol);
}

static int
up_setup_easy(struct up_call *c)
{
	struct upstream *u = c->up;
	CURL *e;

	if ((e = c->easy = curl_easy_init()) == NULL)
		return -1;
	if (c->headers == NULL) {
		c->headers = curl_slist_append(NULL, "Expect:");
		c->headers = curl_slist_append(
		    c->headers,
		    "Content-Type: application/x-www-form-urlencoded");
	}
	if (c->headers == NULL)
		return -1;
	if (curl_easy_setopt(e, CURLOPT_URL,
	                     c->url != NULL ? c->url : u->url) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR,
	                     u->http_ok ? "http,https" : "https") != CURLE_OK)
		return -1;
	if (u->public_only) {
		curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, up_open_public);
		curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, c);
	}
	curl_easy_setopt(e, CURLOPT_PRIVATE, c);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
	                 (curl_off_t)c->body_len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, up_write_fn);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)u->timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	                 (long)(u->timeout_ms < UP_CONNECT_TIMEOUT_MS
	                            ? u->timeout_ms
	                            : UP_CONNECT_TIMEOUT_MS));
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_PROXY, ""); /* ignore *_proxy variables */
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, UP_USER_AGENT);
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	if (c->flags & UP_FRESH) {
		curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	} else {
		/* Probes only for connections that outlive their call (three
		 * setsockopt calls each): a fresh one lives for one request,
		 * bounded by the call's timeout. */
		curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	}
	return 0;
}

static void
up_start(struct up_call *c)
{
	struct upstream *u = c->up;

	if (up_setup_easy(c) != 0) {
		up_fail_later(c, "cannot set up the transfer");
		return;
	}
	if (curl_multi_add_handle(u->eng->multi, c->easy) != CURLM_OK) {
		up_fail_later(c, "cannot add the transfer");
		return;
	}
	TAILQ_INSERT_TAIL(&u->active, c, entry);
	u->inflight++;
	u->stats.inflight++;
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
	if (u->inflight >= u->max_conn) {
		TAILQ_INSERT_TAIL(&u->queue, c, entry);
		u->stats.queued++;
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
	if (u->inflight >= u->max_conn) {
		/* Probes jump the queue: they decide its fate. */
		TAILQ_INSERT_HEAD(&u->queue, c, entry);
		u->stats.queued++;
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
	u->max_conn = cfg->max_connections > 0 ? cfg->max_connections : 8;
	up_drain_queue(u);
}

void
upstream_sender_update(struct upstream *u, int max_conn, int64_t timeout_ms,
                       int allow_private)
{
	u->http_ok = allow_private;
	u->public_only = !allow_private;
	u->timeout_ms = timeout_ms;
	u->max_conn = max_conn;
	up_drain_queue(u);
}

/* A new upstream of ENG with empty queues, closed, and its probe timer;
 * the caller sets the rest and links it. */
static struct upstream *
up_alloc(struct up_engine *eng)
{
	struct upstream *u = xcalloc(1, sizeof(*u));

	u->eng = eng;
	TAILQ_INIT(&u->queue);
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
	if ((eng->multi = curl_multi_init()) == NULL) {
		log_warnx("upstream: curl_multi_init failed");
		free(eng);
		return NULL;
	}
	eng->timer = evtimer_new(base, up_timer_cb, eng);
	if (eng->timer == NULL) {
		curl_multi_cleanup(eng->multi);
		free(eng);
		return NULL;
	}
	curl_multi_setopt(eng->multi, CURLMOPT_SOCKETFUNCTION, up_socket_fn);
	curl_multi_setopt(eng->multi, CURLMOPT_SOCKETDATA, eng);
	curl_multi_setopt(eng->multi, CURLMOPT_TIMERFUNCTION, up_timer_fn);
	curl_multi_setopt(eng->multi, CURLMOPT_TIMERDATA, eng);
	return eng;
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

	while ((c = TAILQ_FIRST(&u->queue)) != NULL) {
		TAILQ_REMOVE(&u->queue, c, entry);
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
	event_free(eng->timer);
	free(eng);
}
