/* front.h - the downstream HTTP front door (evhttp). */
#ifndef PANELMUX_FRONT_H
#define PANELMUX_FRONT_H

#include <stddef.h>
#include <stdint.h>

#include "api.h"

struct event_base;
struct config;
struct conns_stats;
struct front;

#define FRONT_LATENCY_BUCKETS 12
/* Upper bounds of the latency histogram, ms (a last bucket is +Inf). */
extern const int64_t front_latency_bounds_ms[FRONT_LATENCY_BUCKETS];

struct front_action_metrics {
	uint64_t ok, error, limited;
	uint64_t latency[FRONT_LATENCY_BUCKETS + 1];
	int64_t latency_sum_ms;
};

struct front_metrics {
	struct front_action_metrics actions[API_ACTION_COUNT];
	uint64_t ip_limited; /* refused before authentication */
};

/* Bind listen.api and start answering on the configured paths.  NULL on
 * failure (logged). */
struct front *front_new(struct event_base *base, const struct config *cfg,
                        struct api *api);
/* Stop accepting new connections; requests in flight still get answers. */
void front_stop_accepting(struct front *f);
/* Take limits from CFG (at start and on reload). */
void front_set_limits(struct front *f, const struct config *cfg);
const struct front_metrics *front_metrics(const struct front *f);
void front_conns_stats(const struct front *f, struct conns_stats *out);
/* Requests still waiting for an answer. */
size_t front_pending(const struct front *f);
void front_free(struct front *f);

#endif
