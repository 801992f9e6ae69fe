/* upstream_int.h - what upstream.c (the engine: queues, caps, breaker,
 * libcurl multi on the loop) and upstream_easy.c (one call's easy handle:
 * its options and how its end is classified) share; private to them.  The
 * API is upstream.h.
 */
#ifndef PANELMUX_UPSTREAM_INT_H
#define PANELMUX_UPSTREAM_INT_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "buf.h"
#include "upstream.h"

#define UP_CONNECT_TIMEOUT_MS 10000 /* senders; upstreams: connect_timeout */

struct event;
struct event_base;
struct up_call;
TAILQ_HEAD(up_callq, up_call);

struct up_engine {
	struct event_base *base;
	CURLM *multi;
	/* TLS sessions and DNS answers shared by every easy handle, so the
	 * fresh connection of each write resumes a TLS session instead of
	 * a full handshake.  One thread: no lock callbacks. */
	CURLSH *share;
	struct event *timer;
	TAILQ_HEAD(, upstream) upstreams;
	struct up_callq late; /* calls made while freeing */
	size_t pending;
	int freeing;
};

/* Calls are capped and queued in two lanes, so a burst of writes never
 * waits behind reads nor reads behind writes. */
enum up_lane_kind {
	UP_LANE_READ,  /* kept-alive connections: max_connections */
	UP_LANE_WRITE, /* UP_FRESH, a connection each: max_write_connections */
	UP_NLANES
};

struct up_lane {
	int max;
	int inflight;
	struct up_callq queue; /* waiting for a slot */
};

struct upstream {
	TAILQ_ENTRY(upstream) entry;
	struct up_engine *eng;
	char *name, *url, *key;
	char *ca_file;   /* NULL: libcurl's default CA bundle */
	int http_ok;     /* plain http allowed (loopback) */
	int http2;       /* reads may negotiate HTTP/2 (ALPN) */
	int sender;      /* posts to URLs of its own: no breaker */
	int public_only; /* a sender: connect to public addresses only */
	int64_t timeout_ms;
	int64_t connect_timeout_ms;
	struct up_lane lane[UP_NLANES];
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

/* upstream_easy.c */
/* A new easy handle for C (C->easy) with every option it needs, private
 * pointer C.  0, or -1 (C->easy may be set: up_call_free frees it). */
int up_easy_setup(struct up_call *c);
/* Set C->res's transport (and status or reason) from its ended transfer
 * CODE; C->easy still set. */
void up_easy_classify(struct up_call *c, CURLcode code);

#endif
