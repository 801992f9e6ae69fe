/* match.h - find the same service across upstream catalogues (issue 22).
 *
 * Pure: the caller hands in every upstream's services as match_item rows
 * (strings borrowed for the call), gets groups back, and decides what to do
 * with them.  Nothing is ever applied: the CLI (`panelmux services match`)
 * and the admin API (`GET services/match`) only print the groups.
 *
 * The method (DESIGN.md, "Service matching"):
 *  1. Each name is normalised into canonical tokens (match_norm): case and
 *     accents folded, emoji and punctuation dropped, brackets opened,
 *     synonyms mapped to one spelling across the languages seen in real
 *     catalogues (IG/Insta/Instagram/انستقرام -> instagram; takipçi,
 *     متابعين, imḍebbaren, follower -> followers; 1K -> 1000; R30,
 *     "30D refill", "30 days auto refill" -> refill30; lifetime ->
 *     refilllife; "no refill", "refill yok" -> norefill ...).
 *  2. Features are read from the tokens and the row (match_features):
 *     platform, kind, sub-kind (story, live, comment likes, auto), geo
 *     target, quality class, refill window.
 *  3. Services are blocked by (platform, kind, sub-kind); only pairs inside
 *     a block, from different upstreams, are scored.  Some differences
 *     keep a pair apart whatever else agrees (match_score returns -1):
 *     another type (Default vs Package), refill vs no refill, real or HQ vs
 *     bot, another geo target.
 *  4. The score is a weighted sum in [0, 1] (MATCH_W_*): name similarity
 *     (IDF-weighted cosine of the tokens that are not features), refill
 *     window, quality, cost ratio, min/max overlap, drip-feed, where the
 *     platform and kind were read.
 *  5. Groups: pairs at or above the minimum score, best first, join
 *     clusters whose upstreams are disjoint when every pair across the two
 *     clusters scores at least the minimum (complete linkage), so a group
 *     holds at most one service per upstream.
 */
#ifndef PANELMUX_MATCH_H
#define PANELMUX_MATCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "money.h"

#define MATCH_DEFAULT_SCORE 0.60
#define MATCH_NORM_MAX 1024  /* bytes of match_norm's output */
#define MATCH_TOKENS_MAX 48  /* tokens of a name taken into account */
#define MATCH_REASONS_MAX 12 /* reasons per group */
#define MATCH_REASON_SZ 64
#define MATCH_ITEMS_MAX 2000000 /* services given to one match_run */

/* Refill windows (match_features.refill_days). */
#define MATCH_REFILL_UNKNOWN (-1) /* neither name nor row says */
#define MATCH_REFILL_NONE 0       /* "no refill", or the row says no */
#define MATCH_REFILL_YES (-2)     /* refill, window not said */
#define MATCH_REFILL_LIFE 36500   /* "lifetime" */

/* Weights of the score's parts; they add up to 1. */
#define MATCH_W_NAME 0.30
#define MATCH_W_REFILL 0.20
#define MATCH_W_QUALITY 0.15
#define MATCH_W_COST 0.10
#define MATCH_W_LIMITS 0.10
#define MATCH_W_DRIP 0.05
#define MATCH_W_SOURCE 0.10

/* One upstream service, as the caller read it from a stored catalogue. */
struct match_item {
	size_t upstream;         /* the caller's upstream index, < nupstreams */
	int64_t id;              /* the upstream's service ID */
	const char *name;        /* never NULL */
	const char *type;        /* never NULL ("Default", "Package", ...) */
	const char *category;    /* never NULL, may be "" */
	const char *refill_time; /* days as the panel sent it, or NULL */
	money_t cost; /* per 1000 in the panel currency; < 0 unknown */
	int64_t min, max;
	int refill; /* 1, 0, or -1 unknown (the row's flag) */
	int dripfeed;
};

enum match_quality {
	MATCH_Q_UNKNOWN,
	MATCH_Q_BOT, /* bot, fake, low quality */
	MATCH_Q_MIXED,
	MATCH_Q_HQ,  /* HQ, high quality, premium */
	MATCH_Q_REAL /* real, active, organic */
};

/* What the matcher read from one item. */
struct match_features {
	int platform; /* index into match_platform_name; 0 unknown */
	int kind;     /* index into match_kind_name; 0 unknown */
	int sub;      /* 0 none, else match_sub_name */
	int geo;      /* 0 none, else match_geo_name */
	enum match_quality quality;
	int refill_days; /* MATCH_REFILL_* or a window in days */
	int in_name;     /* platform and kind both read from the name */
	uint32_t tokens[MATCH_TOKENS_MAX]; /* interned, sorted, unique */
	size_t ntokens;
};

struct match_group {
	size_t *members; /* indices into the items, cheapest first */
	size_t n;        /* >= 2, at most one per upstream */
	double score;    /* the lowest score of a pair in the group */
	int platform, kind, sub;
	int limits_overlap; /* 0: some member's min/max miss the others' */
	int64_t min, max;   /* the members' common limits when they overlap */
	char reasons[MATCH_REASONS_MAX][MATCH_REASON_SZ];
	size_t nreasons;
};

struct match_result {
	struct match_group *v; /* by platform, kind, score (best first) */
	size_t n;
	size_t nitems;   /* items looked at */
	size_t nunread;  /* items without a platform or kind */
	uint64_t npairs; /* pairs scored */
};

/* Normalise NAME into canonical tokens separated by single spaces, at most
 * MATCH_NORM_MAX - 1 bytes (cut at a token), into OUT.  Returns the number
 * of tokens.  "Instagram Followers [Real] HQ ♻️ R30" ->
 * "instagram followers real hq refill30". */
size_t match_norm(const char *name, char *out, size_t outlen);

/* The canonical names of features: "instagram", "followers", "story",
 * "turkey", ...; "" for 0. */
const char *match_platform_name(int p);
const char *match_kind_name(int k);
const char *match_sub_name(int s);
const char *match_geo_name(int g);
const char *match_quality_name(enum match_quality q);

/* Group ITEMS (N of them, over NUPSTREAMS upstreams) into likely-same
 * services scoring at least MIN_SCORE (0..1).  Deterministic: the same
 * input in the same order gives the same groups.  0, or -1 on bad input
 * (an upstream index out of range, N over MATCH_ITEMS_MAX).  OUT is
 * overwritten; release it with match_result_free. */
int match_run(const struct match_item *items, size_t n, size_t nupstreams,
              double min_score, struct match_result *out);
void match_result_free(struct match_result *r); /* NULL ok */

/* Render R over ITEMS: NAMES are the upstreams' names, DECIMALS the money
 * decimals.  match_print_text: one block per group.  match_print_yaml:
 * `services:` entries ready to paste (local IDs from FIRST_ID up), a
 * comment line per group with its score and reasons, and a warning comment
 * when limits do not overlap. */
void match_print_text(FILE *f, const struct match_result *r,
                      const struct match_item *items, const char *const *names,
                      int decimals);
void match_print_yaml(FILE *f, const struct match_result *r,
                      const struct match_item *items, const char *const *names,
                      int64_t first_id);

/* The same as JSON (a new reference; scores as strings of two decimals,
 * "0.88"): {min_score, services, unread,
 * pairs_scored, count, groups: [{score, platform, kind, sub,
 * limits_overlap, min, max, reasons: [...], routes: [{upstream, service,
 * name, type, category, cost, min, max, dripfeed, limits_outside}]}]}. */
struct json_t *match_json(const struct match_result *r,
                          const struct match_item *items,
                          const char *const *names, int decimals,
                          double min_score);

#endif
