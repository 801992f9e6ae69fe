/* admin_match.h - the admin API's GET services/match (issue 22): likely-same
 * services across the upstreams' catalogues, read-only, never applied. */
#ifndef PANELMUX_ADMIN_MATCH_H
#define PANELMUX_ADMIN_MATCH_H

#include <stddef.h>

#include <jansson.h>

struct panel;

/* The groups over P's current lists (what the store last saved for each
 * upstream) as match_json renders them.  UPSTREAMS: NULL (every
 * upstream) or a comma list of names; MIN_SCORE: NULL (the default) or a
 * number from 0 to 1.  A new reference, or NULL with *STATUS 400 and why
 * in MSG (LEN bytes) for bad input. */
json_t *admin_match_groups(const struct panel *p, const char *upstreams,
                           const char *min_score, int *status, char *msg,
                           size_t len);

#endif
