/* front.h - the downstream HTTP front door (evhttp). */
#ifndef PANELMUX_FRONT_H
#define PANELMUX_FRONT_H

struct event_base;
struct config;
struct api;
struct front;

/* Bind listen.api and start answering on the configured paths.  NULL on
 * failure (logged). */
struct front *front_new(struct event_base *base, const struct config *cfg,
                        struct api *api);
/* Stop accepting new connections; requests in flight still get answers. */
void front_stop_accepting(struct front *f);
/* Requests still waiting for an answer. */
size_t front_pending(const struct front *f);
void front_free(struct front *f);

#endif
