/* fp_catalog.h - fakepanel service catalogue: generated deterministically
 * (--services N) or loaded from a JSON array in the standard shape
 * (--services-file), changed at run time through /control. */
#ifndef FAKEPANEL_FP_CATALOG_H
#define FAKEPANEL_FP_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "money.h"

/* Order types of SPEC section 4. */
enum fp_type {
	FP_T_DEFAULT,
	FP_T_PACKAGE,
	FP_T_CUSTOM_COMMENTS,
	FP_T_CUSTOM_COMMENTS_PACKAGE,
	FP_T_MENTIONS,
	FP_T_MENTIONS_HASHTAGS,
	FP_T_MENTIONS_CUSTOM_LIST,
	FP_T_MENTIONS_HASHTAG,
	FP_T_MENTIONS_USER_FOLLOWERS,
	FP_T_MENTIONS_MEDIA_LIKERS,
	FP_T_COMMENT_LIKES,
	FP_T_COMMENT_REPLIES,
	FP_T_POLL,
	FP_T_INVITES_FROM_GROUPS,
	FP_T_SUBSCRIPTIONS,
	FP_T__COUNT
};

#define FP_CATALOG_MAX 1000000       /* services kept */
#define FP_CATALOG_NAME_PAD_MAX 4096 /* bytes a generated name is padded to */

struct fp_service {
	int64_t id;
	char *name;
	char *category;
	char *type_name; /* as listed: the standard name, or the file's text */
	enum fp_type type; /* semantics; an unknown type name acts as Default */
	char *rate_text;   /* as listed, e.g. "0.90" */
	money_t rate;      /* per 1000 (per package for packages) */
	int64_t min, max;
	int refill, cancel, dripfeed;
	char *description; /* may be NULL */
	int refill_time;   /* days; 0 = not listed */
};

/* "Default", "Custom Comments", ... */
const char *fp_catalog_type_name(enum fp_type t);
/* "default", "custom_comments", ... (the v1 family's spelling). */
const char *fp_catalog_type_slug(enum fp_type t);
/* Any case, spaces, '_' or '-': 0 and *OUT, or -1. */
int fp_catalog_type_parse(const char *s, enum fp_type *out);

/* Set the start-up catalogue: N generated services, each name padded to
 * NAME_PAD bytes (0: not padded; at most FP_CATALOG_NAME_PAD_MAX) so a
 * catalogue reaches a chosen size, or the JSON array in PATH (PATH wins
 * when not NULL).  0, or -1 with a message in ERR. */
int fp_catalog_init(int n, size_t name_pad, const char *path, char *err,
                    size_t errlen);
/* Back to the start-up catalogue. */
void fp_catalog_reset(void);
void fp_catalog_free(void);

/* Add or replace each service of the JSON array A (the std shape, read
 * leniently).  0, or -1 with ERR set (nothing changed then). */
int fp_catalog_put_json(json_t *a, char *err, size_t errlen);
/* 0, or -1 if there is no such service. */
int fp_catalog_remove(int64_t id);
/* New rate text for service ID: 0, or -1 (no service or a bad rate). */
int fp_catalog_set_rate(int64_t id, const char *rate);

/* NULL if absent.  Valid until the catalogue next changes. */
const struct fp_service *fp_catalog_get(int64_t id);
size_t fp_catalog_count(void);
/* I-th service in ID order, I < fp_catalog_count(). */
const struct fp_service *fp_catalog_at(size_t i);
/* Changes on every modification (cache key of rendered lists). */
uint64_t fp_catalog_generation(void);

#endif
