/* conns.h - the guard around evhttp's connections: a deadline for each
 * complete request, per-client-address and total connection caps, and
 * backing off when accept() fails (out of file descriptors).
 *
 * evhttp in libevent 2.1 offers no hook on accepted connections and its
 * timeout is an idle timeout that a client trickling bytes resets forever
 * (slowloris).  Every connection's bufferevent is created here
 * (evhttp_set_bevcb); one loop pass later its socket and peer are known,
 * the caps are applied and a deadline for the complete request starts.
 * (A pass-through filter bufferevent would see every byte, but evhttp
 * 2.1.12 stalls and crashes on connections built on one: measured.) */
#ifndef PANELMUX_CONNS_H
#define PANELMUX_CONNS_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evconnlistener;
struct evhttp_request;
struct bufferevent;
struct conns;

struct conns_stats {
	uint64_t accepted;
	uint64_t open;
	uint64_t deadline_closed; /* requests not complete in time */
	uint64_t per_ip_refused;  /* over limits.max_connections_per_ip */
	uint64_t total_paused;    /* times accepting paused at the cap */
	uint64_t accept_errors;
};

struct conns *conns_new(struct event_base *base);
void conns_free(struct conns *c); /* NULL ok */
/* Limits, taken again on reload. */
void conns_set_limits(struct conns *c, int64_t request_deadline_ms,
                      int max_total, int max_per_ip);
/* The listener whose accepting pauses at the total cap and on errors. */
void conns_set_listener(struct conns *c, struct evconnlistener *l);
/* evhttp_set_bevcb's callback (ARG is the struct conns). */
struct bufferevent *conns_bevcb(struct event_base *base, void *arg);
/* A complete request arrived on REQ's connection: stop its deadline. */
void conns_request_arrived(struct conns *c, struct evhttp_request *req);
/* REQ was answered: the next request on its connection has the deadline. */
void conns_request_answered(struct conns *c, struct evhttp_request *req);
void conns_stats(const struct conns *c, struct conns_stats *out);

#endif
