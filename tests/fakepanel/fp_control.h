/* fp_control.h - fakepanel control API: POST /control {"op":...} changes
 * the panel's state, GET /control/{log,stats,orders[/ID]} reads it. */
#ifndef FAKEPANEL_FP_CONTROL_H
#define FAKEPANEL_FP_CONTROL_H

#include <event2/buffer.h>
#include <jansson.h>

#include "fp.h"

struct fp_control_hooks {
	/* After {"op":"reset"}: the HTTP layer forgets its connections. */
	void (*reset)(void);
	/* Adds the HTTP layer's own figures to the stats object. */
	void (*stats)(json_t *stats);
};

/* Start-up values that {"op":"reset"} restores. */
void fp_control_init(const struct fp_control_hooks *hooks,
                     enum fp_dialect dialect);
/* Handle a POST body; the reply JSON goes to OUT.  Returns the HTTP code. */
int fp_control_post(const char *body, size_t len, struct evbuffer *out);
/* Handle GET of PATH (below /control) with QUERY (may be NULL). */
int fp_control_get(const char *path, const char *query, struct evbuffer *out);

#endif
