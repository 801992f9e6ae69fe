/* upstream.h - HTTP calls to upstream panels: one libcurl multi handle on
 * the daemon's libevent loop, a connection cap and a circuit breaker per
 * upstream.
 *
 * Every call ends, exactly once and always from the event loop (never from
 * inside upstream_call), in one of three transport outcomes:
 *   UP_NOT_SENT  nothing reached the panel (DNS, connect, TLS, circuit open,
 *                shutting down): safe to retry or fail over;
 *   UP_REPLIED   the panel answered with an HTTP status and a body: the
 *                caller's dialect parser decides definite answer vs fault;
 *   UP_LOST      the request may have reached the panel but no reply came
 *                back (timeout after sending, connection closed, reply over
 *                the size cap): ambiguous, never retried for add, refill or
 *                cancel.
 */
#ifndef PANELMUX_UPSTREAM_H
#define PANELMUX_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "dialect.h"

struct event_base;
struct cfg_upstream;
struct buf;
struct up_engine;
struct upstream;

enum up_transport { UP_NOT_SENT, UP_REPLIED, UP_LOST };

enum up_circuit { UP_CIRCUIT_CLOSED, UP_CIRCUIT_OPEN, UP_CIRCUIT_HALF_OPEN };

/* Call flags. */
#define UP_FRESH                                                               \
	0x1          /* non-idempotent (add, refill, cancel): a new            \
	              * connection, never reused, so libcurl cannot silently   \
	              * re-send the POST when a kept-alive connection dies */
#define UP_LARGE 0x2 /* the reply may be large (services) */

/* Reply caps: the parser's own (lib/dialect.h, where the sizes are
 * reasoned), so every reply downloaded in full is one the parser reads, and
 * one it would refuse for its size is never downloaded past the cap. */
#define UP_REPLY_MAX DIALECT_MAX_BODY            /* ordinary calls */
#define UP_REPLY_LARGE DIALECT_MAX_SERVICES_BODY /* with UP_LARGE */

struct up_result {
	enum up_transport transport;
	long http_status; /* UP_REPLIED only */
	const char *body; /* UP_REPLIED: the reply, NUL-terminated; valid only
	                   * during the callback */
	size_t len;
	const char *reason; /* UP_NOT_SENT / UP_LOST: short text for logs */
	int64_t latency_ms;
};

typedef void (*up_cb)(const struct up_result *res, void *arg);

/* The engine: one per daemon, on BASE.  NULL on failure (logged). */
struct up_engine *up_engine_new(struct event_base *base);
/* Abort everything: queued calls end UP_NOT_SENT, calls in flight UP_LOST,
 * their callbacks run here (they must not call into the engine).  Frees
 * every upstream.  NULL is a no-op.  Call before event_base_free. */
void up_engine_free(struct up_engine *eng);
/* Calls queued or in flight, over all upstreams (for draining). */
size_t up_engine_pending(const struct up_engine *eng);

/* An upstream per config entry; the config must outlive it (the strings
 * are copied, so a reload may free the old config). */
struct upstream *upstream_new(struct up_engine *eng,
                              const struct cfg_upstream *cfg);
/* Take new settings (url, key, timeout, connection cap) for calls started
 * from now on. */
void upstream_update(struct upstream *u, const struct cfg_upstream *cfg);
const char *upstream_name(const struct upstream *u);

/* POST key + ACTION + FIELDS (an already form-encoded string, may be NULL
 * or "", see upstream_form_add) to the upstream; CB gets the outcome. */
void upstream_call(struct upstream *u, const char *action, const char *fields,
                   int flags, up_cb cb, void *arg);

/* A sender: an upstream with no panel behind it, that posts to URLs of
 * its own (webhook deliveries) under its own connection cap and timeout,
 * with no breaker.  Unless ALLOW_PRIVATE it speaks https only and connects
 * to public addresses only (checked on the address each connection is
 * about to use: lib/netaddr.h). */
struct upstream *upstream_new_sender(struct up_engine *eng, const char *name,
                                     int max_conn, int64_t timeout_ms,
                                     int allow_private);
void upstream_sender_update(struct upstream *u, int max_conn,
                            int64_t timeout_ms, int allow_private);
/* POST BODY (LEN bytes) to URL through sender U, with HEADERS (NHEADERS
 * "Name: value" lines); redirects are not followed.  The reply's first
 * MAX_REPLY bytes are kept, the rest read and dropped.  CB as for
 * upstream_call. */
void upstream_post(struct upstream *u, const char *url,
                   const char *const *headers, size_t nheaders,
                   const char *body, size_t len, size_t max_reply, up_cb cb,
                   void *arg);

/* Append "&NAME=VALUE" (form-encoded) to B. 0 or -1 (B's maximum). */
int upstream_form_add(struct buf *b, const char *name, const char *value);

/* Circuit breaker: opens after THRESHOLD consecutive failures, probes with
 * `balance` after COOLDOWN_MS (doubling up to MAX_COOLDOWN_MS while probes
 * fail), closes on a good probe. */
void upstream_set_breaker(struct upstream *u, int threshold,
                          int64_t cooldown_ms, int64_t max_cooldown_ms);
enum up_circuit upstream_circuit(const struct upstream *u);
const char *up_circuit_name(enum up_circuit c);
/* Tell the breaker that a reply the transport called UP_REPLIED was a
 * fault after all (HTML, garbage): counts as a failure. */
void upstream_note_fault(struct upstream *u);

/* Actions counted apart in the stats. */
enum up_action {
	UP_ACT_ADD,
	UP_ACT_STATUS,
	UP_ACT_REFILL,
	UP_ACT_REFILL_STATUS,
	UP_ACT_CANCEL,
	UP_ACT_BALANCE,
	UP_ACT_SERVICES,
	UP_ACT_OTHER,
	UP_ACT_COUNT
};
extern const char *const up_action_names[UP_ACT_COUNT];

struct up_stats {
	uint64_t by_action[UP_ACT_COUNT][3]; /* [action][enum up_transport] */
	uint64_t latency_ms_sum;
	uint64_t calls, not_sent, replied, lost;
	uint64_t inflight, queued; /* calls: reads and writes */
	/* of those, UP_FRESH calls (under max_write_connections) */
	uint64_t inflight_writes, queued_writes;
	uint64_t breaker_opens;
	int consecutive_failures;
};
void upstream_stats(const struct upstream *u, struct up_stats *out);

#endif
