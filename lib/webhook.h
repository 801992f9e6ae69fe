/* webhook.h - customers' webhooks: deliveries from the store's outbox
 * (store.h, "Customers' webhooks") to their endpoints, signed, on the
 * daemon's loop.
 *
 * A timer scans the outbox every webhooks.poll_interval (and at once again
 * while a scan finds a full batch); each due event is claimed with a lease,
 * posted through a sender (upstream.h: its own connection cap and timeout,
 * no redirects, public addresses only unless webhooks.allow_private) and
 * then deleted on a 2xx, or tried again with exponential backoff and
 * jitter, or dead-lettered once older than webhooks.max_age.  Memory holds
 * only the deliveries in flight (at most webhooks.max_connections), however
 * many wait in the store.
 */
#ifndef PANELMUX_WEBHOOK_H
#define PANELMUX_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct config;
struct panel;
struct webhook_event;
struct webhooks;

#define WEBHOOK_SECRET_PREFIX "whsec_"
#define WEBHOOK_REPLY_MAX 4096 /* reply bytes kept (for the log) */

/* The engine over P's loop, store, upstream engine and config; it starts
 * scanning at once when the config's webhooks.enabled.  Never NULL. */
struct webhooks *webhooks_new(struct panel *p);
/* Take the current config of the panel (a SIGHUP). */
void webhooks_reload(struct webhooks *w);
/* Draining: claim nothing more; deliveries in flight end and are recorded
 * as usual. */
void webhooks_drain(struct webhooks *w);
/* Stop: deliveries still in flight (the engine is ending them) end
 * without touching the store (their leases run out and they are tried
 * again after a restart). */
void webhooks_stop(struct webhooks *w);
void webhooks_free(struct webhooks *w);

struct webhooks_stats {
	uint64_t ok, failed, dead; /* tries by outcome */
	uint64_t inflight;
};
void webhooks_stats(const struct webhooks *w, struct webhooks_stats *out);

/* Pure parts, for tests. */
/* The delivery's JSON body for EV into OUT. */
void webhook_body(struct buf *out, const struct webhook_event *ev,
                  const char *currency, int decimals);
/* "t=T,v1=HEX" (and ",v1=HEX" of OLD_SECRET when not NULL) into SIG (at
 * least WEBHOOK_SIG_MAX bytes): HMAC-SHA256 of "T.BODY" with each secret
 * as the key. */
#define WEBHOOK_SIG_MAX 192
void webhook_signature(char *sig, const char *secret, const char *old_secret,
                       int64_t t, const char *body, size_t len);
/* The wait before try ATTEMPTS + 1 (ATTEMPTS >= 1 made): BASE_MS doubled
 * per try made, at most MAX_MS, times JITTER_PERMILLE / 1000. */
int64_t webhook_backoff(int64_t attempts, int64_t base_ms, int64_t max_ms,
                        int jitter_permille);

#endif
