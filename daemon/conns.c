/* conns.c - connection guard for evhttp (see conns.h). */
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "conns.h"
#include "log.h"
#include "strmap.h"
#include "xmalloc.h"

/* Large replies (the services list) go out in big writes, not 16 KiB ones. */
#define CONNS_MAX_SINGLE_WRITE (1024 * 1024)
#define CONNS_ACCEPT_BACKOFF_MS 200
#define CONNS_SWEEP_MS 250 /* look for sockets closed without a request */

enum conn_state {
	CONN_RECEIVING, /* a request is arriving: the deadline runs */
	CONN_HANDLED    /* the request is with the handler */
};

/* One accepted connection.  The bufferevent belongs to evhttp and is never
 * touched after the first loop pass; the socket is identified by its
 * descriptor and peer, checked again before acting on it. */
struct conn {
	struct conns *c;
	struct bufferevent *bev; /* only until conn_first_cb */
	evutil_socket_t fd;
	struct sockaddr_storage peer;
	socklen_t peerlen;
	struct event *deadline;
	struct event *first;
	enum conn_state state;
	int has_closecb;
	char ip[INET6_ADDRSTRLEN];
	char key[24]; /* the bufferevent's address, for the lookup */
};

struct conns {
	struct event_base *base;
	struct evconnlistener *listener;
	struct event *resume;
	struct event *sweep;
	struct strmap *by_bev; /* bufferevent address -> conn */
	struct strmap *per_ip; /* address -> open count (as a pointer) */
	int64_t deadline_ms;
	int max_total, max_per_ip;
	int paused;
	struct conns_stats stats;
};

/* The bufferevent's address as a map key, in hex (no printf on the hot
 * path: this runs twice per request). */
static void
conns_key(const struct bufferevent *bev, char *key, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	uintptr_t v = (uintptr_t)bev;
	size_t n = 0;

	do {
		key[n++] = hex[v & 0xf];
		v >>= 4;
	} while (v != 0 && n + 1 < size);
	key[n] = '\0';
}

static void
conns_pause(struct conns *c, int64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000),
	                     (suseconds_t)((ms % 1000) * 1000)};

	if (c->listener == NULL)
		return;
	if (!c->paused) {
		evconnlistener_disable(c->listener);
		c->paused = 1;
	}
	if (ms > 0)
		evtimer_add(c->resume, &tv);
}

static void
conns_maybe_resume(struct conns *c)
{
	if (c->paused && c->listener != NULL &&
	    (c->max_total <= 0 || c->stats.open < (uint64_t)c->max_total) &&
	    !evtimer_pending(c->resume, NULL)) {
		evconnlistener_enable(c->listener);
		c->paused = 0;
	}
}

static void
conns_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conns *c = arg;

	conns_maybe_resume(c);
}

static intptr_t
conns_ip_count(struct conns *c, const char *ip)
{
	return (intptr_t)strmap_get(c->per_ip, ip);
}

static void
conns_ip_set(struct conns *c, const char *ip, intptr_t n)
{
	if (n <= 0)
		strmap_del(c->per_ip, ip);
	else
		strmap_put(c->per_ip, ip, (void *)n);
}

/* The connection is gone (or will be): forget it. */
static void
conn_forget(struct conn *k)
{
	struct conns *c = k->c;

	if (k->ip[0] != '\0')
		conns_ip_set(c, k->ip, conns_ip_count(c, k->ip) - 1);
	if (strmap_get(c->by_bev, k->key) == k)
		strmap_del(c->by_bev, k->key);
	event_free(k->deadline);
	event_free(k->first);
	if (k->bev != NULL)
		bufferevent_decref(k->bev);
	free(k);
	c->stats.open--;
	conns_maybe_resume(c);
}

/* Is descriptor FD still the socket accepted for K? */
static int
conn_still_ours(const struct conn *k)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (k->fd < 0 || getpeername(k->fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	return len == k->peerlen && memcmp(&ss, &k->peer, len) == 0;
}

static void
conn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *k = arg;

	if (conn_still_ours(k)) {
		k->c->stats.deadline_closed++;
		log_debug("conns: %s: request not complete in %lld ms: closed",
		          k->ip, (long long)k->c->deadline_ms);
		/* evhttp sees the end of the stream and frees it. */
		shutdown(k->fd, SHUT_RDWR);
	}
	if (!k->has_closecb)
		conn_forget(k);
	/* else evhttp's close callback forgets it */
}

static void
conn_arm(struct conn *k)
{
	int64_t ms = k->c->deadline_ms;
	struct timeval tv = {(time_t)(ms / 1000),
	                     (suseconds_t)((ms % 1000) * 1000)};

	k->state = CONN_RECEIVING;
	if (ms > 0)
		evtimer_add(k->deadline, &tv);
}

/* First loop pass after the accept: evhttp has given the socket to the
 * bufferevent (held by our reference until now). */
static void
conn_first_cb(evutil_socket_t unused, short what, void *arg)
{
	struct conn *k = arg;
	struct conns *c = k->c;
	intptr_t n;

	k->fd = bufferevent_getfd(k->bev);
	bufferevent_decref(k->bev);
	k->bev = NULL;
	k->peerlen = sizeof(k->peer);
	if (k->fd < 0 ||
	    getpeername(k->fd, (struct sockaddr *)&k->peer, &k->peerlen) != 0) {
		k->fd = -1;
		conn_arm(k);
		return;
	}
	if (k->peer.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&k->peer)->sin_addr,
		          k->ip, sizeof(k->ip));
	else if (k->peer.ss_family == AF_INET6)
		inet_ntop(AF_INET6,
		          &((struct sockaddr_in6 *)&k->peer)->sin6_addr, k->ip,
		          sizeof(k->ip));
	if (k->ip[0] != '\0') {
		n = conns_ip_count(c, k->ip) + 1;
		conns_ip_set(c, k->ip, n);
		if (c->max_per_ip > 0 && n > c->max_per_ip) {
			c->stats.per_ip_refused++;
			log_debug("conns: %s: over %d connections: closed",
			          k->ip, c->max_per_ip);
			shutdown(k->fd, SHUT_RDWR);
		}
	}
	if (k->state == CONN_RECEIVING)
		conn_arm(k);
}

struct bufferevent *
conns_bevcb(struct event_base *base, void *arg)
{
	static const struct timeval zero = {0, 0};
	struct conns *c = arg;
	struct conn *k;

	k = xcalloc(1, sizeof(*k));
	k->c = c;
	k->fd = -1;
	k->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (k->bev == NULL) {
		free(k);
		return NULL;
	}
	bufferevent_set_max_single_write(k->bev, CONNS_MAX_SINGLE_WRITE);
	/* Kept alive until the first pass reads its socket. */
	bufferevent_incref(k->bev);
	k->deadline = evtimer_new(base, conn_deadline_cb, k);
	k->first = evtimer_new(base, conn_first_cb, k);
	if (k->deadline == NULL || k->first == NULL)
		fatalx("conns: out of memory for a timer");
	conns_key(k->bev, k->key, sizeof(k->key));
	/* A record under this address belongs to a connection evhttp freed
	 * before it ever had a request (the allocator reused the address). */
	{
		struct conn *stale = strmap_get(c->by_bev, k->key);

		if (stale != NULL)
			conn_forget(stale);
	}
	strmap_put(c->by_bev, k->key, k);
	k->state = CONN_RECEIVING;
	c->stats.accepted++;
	c->stats.open++;
	evtimer_add(k->first, &zero);
	if (c->max_total > 0 && c->stats.open >= (uint64_t)c->max_total) {
		c->stats.total_paused++;
		conns_pause(c, 0);
	}
	return k->bev;
}

static void
conn_closed_cb(struct evhttp_connection *evcon, void *arg)
{
	conn_forget(arg);
}

/* The guard's record of REQ's connection, or NULL. */
static struct conn *
conns_lookup(struct conns *c, struct evhttp_request *req,
             struct evhttp_connection **evconp)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev;
	char key[24];

	if (evcon == NULL ||
	    (bev = evhttp_connection_get_bufferevent(evcon)) == NULL)
		return NULL;
	conns_key(bev, key, sizeof(key));
	*evconp = evcon;
	return strmap_get(c->by_bev, key);
}

void
conns_request_arrived(struct conns *c, struct evhttp_request *req)
{
	struct evhttp_connection *evcon;
	struct conn *k;

	if ((k = conns_lookup(c, req, &evcon)) == NULL)
		return;
	if (!k->has_closecb) {
		evhttp_connection_set_closecb(evcon, conn_closed_cb, k);
		k->has_closecb = 1;
	}
	k->state = CONN_HANDLED;
	evtimer_del(k->deadline);
}

void
conns_request_answered(struct conns *c, struct evhttp_request *req)
{
	struct evhttp_connection *evcon;
	struct conn *k;

	if ((k = conns_lookup(c, req, &evcon)) == NULL)
		return;
	/* The next request has the deadline too; before the first pass the
	 * socket is not known yet, and conn_first_cb arms it. */
	k->state = CONN_RECEIVING;
	if (k->fd >= 0)
		conn_arm(k);
}

/* evconnlistener hands its error callback the accept callback's argument,
 * which belongs to evhttp: the guard of each listener (listen.api's and
 * listen.admin's) is found here by the listener. */
#define CONNS_LISTENERS 4
static struct {
	struct evconnlistener *l;
	struct conns *c;
} conns_listening[CONNS_LISTENERS];

static struct conns *
conns_of(struct evconnlistener *l)
{
	for (int i = 0; i < CONNS_LISTENERS; i++)
		if (conns_listening[i].l == l)
			return conns_listening[i].c;
	return NULL;
}

/* accept() failed (EMFILE, ENFILE, ENOBUFS...): a level-triggered listener
 * would spin on it, so stop accepting for a moment. */
static void
conns_accept_error(struct evconnlistener *l, void *arg)
{
	struct conns *c = conns_of(l);
	int err = EVUTIL_SOCKET_ERROR();

	if (c == NULL) {
		/* Not ours (cannot happen): never spin on it. */
		evconnlistener_disable(l);
		return;
	}
	c->stats.accept_errors++;
	if (c->stats.accept_errors < 10 || c->stats.accept_errors % 1000 == 0)
		log_warnx("conns: accept: %s; pausing %d ms",
		          evutil_socket_error_to_string(err),
		          CONNS_ACCEPT_BACKOFF_MS);
	conns_pause(c, CONNS_ACCEPT_BACKOFF_MS);
}

/* Forget C's listener in the table. */
static void
conns_unlisten(struct conns *c)
{
	for (int i = 0; i < CONNS_LISTENERS; i++) {
		if (conns_listening[i].c == c) {
			conns_listening[i].l = NULL;
			conns_listening[i].c = NULL;
		}
	}
}

void
conns_set_listener(struct conns *c, struct evconnlistener *l)
{
	conns_unlisten(c);
	c->listener = l;
	if (l == NULL)
		return;
	for (int i = 0; i < CONNS_LISTENERS; i++)
		if (conns_listening[i].c == NULL) {
			conns_listening[i].l = l;
			conns_listening[i].c = c;
			evconnlistener_set_error_cb(l, conns_accept_error);
			return;
		}
	fatalx("conns: more than %d listeners", CONNS_LISTENERS);
}

struct conns_sweep_ctx {
	struct conn *gone[1024];
	size_t n;
};

static void
conns_sweep_one(const char *key, void *value, void *arg)
{
	struct conns_sweep_ctx *sc = arg;
	struct conn *k = value;

	/* Only connections without evhttp's close callback need looking at:
	 * the others are forgotten when evhttp frees them. */
	if (k->has_closecb || k->bev != NULL || sc->n == 1024)
		return;
	if (!conn_still_ours(k))
		sc->gone[sc->n++] = k;
}

/* evhttp says nothing about a connection closed before its first complete
 * request: find those whose socket is gone, so they stop counting against
 * the caps. */
static void
conns_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conns *c = arg;
	struct conns_sweep_ctx sc;

	sc.n = 0;
	strmap_foreach(c->by_bev, conns_sweep_one, &sc);
	for (size_t i = 0; i < sc.n; i++)
		conn_forget(sc.gone[i]);
}

struct conns *
conns_new(struct event_base *base)
{
	struct conns *c = xcalloc(1, sizeof(*c));

	c->base = base;
	c->by_bev = strmap_new();
	c->per_ip = strmap_new();
	c->resume = evtimer_new(base, conns_resume_cb, c);
	c->sweep = event_new(base, -1, EV_PERSIST, conns_sweep_cb, c);
	if (c->resume == NULL || c->sweep == NULL)
		fatalx("conns: out of memory for a timer");
	{
		struct timeval tv = {0, CONNS_SWEEP_MS * 1000};

		event_add(c->sweep, &tv);
	}
	return c;
}

void
conns_set_limits(struct conns *c, int64_t request_deadline_ms, int max_total,
                 int max_per_ip)
{
	c->deadline_ms = request_deadline_ms;
	c->max_total = max_total;
	c->max_per_ip = max_per_ip;
}

void
conns_stats(const struct conns *c, struct conns_stats *out)
{
	*out = c->stats;
}

struct conns_collect_ctx {
	struct conn **all;
	size_t n, cap;
};

static void
conns_collect(const char *key, void *value, void *arg)
{
	struct conns_collect_ctx *cc = arg;

	if (cc->n < cc->cap)
		cc->all[cc->n++] = value;
}

static void
conns_forget_all(struct conns *c)
{
	struct conns_collect_ctx cc = {NULL, 0, strmap_count(c->by_bev)};

	if (cc.cap == 0)
		return;
	/* Collect first: conn_forget edits the map. */
	cc.all = xcalloc(cc.cap, sizeof(*cc.all));
	strmap_foreach(c->by_bev, conns_collect, &cc);
	for (size_t i = 0; i < cc.n; i++)
		conn_forget(cc.all[i]);
	free(cc.all);
}

void
conns_free(struct conns *c)
{
	if (c == NULL)
		return;
	/* Call after evhttp_free, whose close callbacks forget connections
	 * that had requests; the rest are forgotten here. */
	conns_unlisten(c);
	conns_forget_all(c);
	event_free(c->resume);
	event_free(c->sweep);
	strmap_free(c->by_bev);
	strmap_free(c->per_ip);
	free(c);
}
