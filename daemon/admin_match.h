/* admin_match.h - the admin API's GET services/match (issue 22): likely-same
 * services across the upstreams' catalogues, read-only, never applied. */
#ifndef PANELMUX_ADMIN_MATCH_H
#define PANELMUX_ADMIN_MATCH_H

#include <stddef.h>

#include <jansson.h>

struct panel;

/* Called on the loop with the groups (a new reference), or NULL when the
 * match failed. */
typedef void (*admin_match_cb)(void *arg, json_t *data);

/* Start matching P's current lists (what the store last saved for each
 * upstream) on a thread; CB(ARG) gets what match_json renders.  UPSTREAMS:
 * NULL (every upstream) or a comma list of names; MIN_SCORE: NULL (the
 * default) or a number from 0 to 1.  0 started; -1 not, with *STATUS (400
 * bad input, 503 one is running, 500) and why in MSG (LEN bytes). */
int admin_match_start(const struct panel *p, const char *upstreams,
                      const char *min_score, admin_match_cb cb, void *arg,
                      int *status, char *msg, size_t len);
/* Wait for a running match and drop it, unanswered (shutdown): DROP(ARG)
 * releases what its callback would have. */
void admin_match_stop(void (*drop)(void *arg));

#endif
