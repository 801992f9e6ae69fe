/* fp_catalog.c - the fake panel's services, sorted by ID. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "fp.h"
#include "fp_catalog.h"
#include "log.h"
#include "xmalloc.h"

static const struct {
	const char *name;
	const char *slug;
} fp_catalog_types[FP_T__COUNT] = {
    [FP_T_DEFAULT] = {"Default", "default"},
    [FP_T_PACKAGE] = {"Package", "package"},
    [FP_T_CUSTOM_COMMENTS] = {"Custom Comments", "custom_comments"},
    [FP_T_CUSTOM_COMMENTS_PACKAGE] = {"Custom Comments Package",
                                      "custom_comments_package"},
    [FP_T_MENTIONS] = {"Mentions", "mentions"},
    [FP_T_MENTIONS_HASHTAGS] = {"Mentions with Hashtags",
                                "mentions_with_hashtags"},
    [FP_T_MENTIONS_CUSTOM_LIST] = {"Mentions Custom List",
                                   "mentions_custom_list"},
    [FP_T_MENTIONS_HASHTAG] = {"Mentions Hashtag", "mentions_hashtag"},
    [FP_T_MENTIONS_USER_FOLLOWERS] = {"Mentions User Followers",
                                      "mentions_user_followers"},
    [FP_T_MENTIONS_MEDIA_LIKERS] = {"Mentions Media Likers",
                                    "mentions_media_likers"},
    [FP_T_COMMENT_LIKES] = {"Comment Likes", "comment_likes"},
    [FP_T_COMMENT_REPLIES] = {"Comment Replies", "comment_replies"},
    [FP_T_POLL] = {"Poll", "poll"},
    [FP_T_INVITES_FROM_GROUPS] = {"Invites from Groups", "invites_from_groups"},
    [FP_T_SUBSCRIPTIONS] = {"Subscriptions", "subscriptions"},
};

/* The first services of a generated catalogue: every order type, a
 * drip-feed service, rates with 0..4 decimals, a package. */
static const struct fp_catalog_seed {
	enum fp_type type;
	const char *name;
	const char *category;
	const char *rate;
	int64_t min, max;
	int refill, cancel, dripfeed, refill_time;
} fp_catalog_seeds[] = {
    {FP_T_DEFAULT, "Followers", "Instagram Followers", "0.90", 10, 100000, 1, 1,
     0, 30},
    {FP_T_CUSTOM_COMMENTS, "Comments", "Instagram Comments", "8", 10, 1500, 0,
     1, 0, 0},
    {FP_T_DEFAULT, "Likes [Drip-feed]", "Instagram Likes", "0.0045", 50, 500000,
     0, 1, 1, 0},
    {FP_T_DEFAULT, "Views [Refill]", "YouTube Views", "1.02", 100, 1000000, 1,
     0, 1, 365},
    {FP_T_PACKAGE, "Page Boost Package", "Facebook Packages", "12.50", 1, 1, 0,
     0, 0, 0},
    {FP_T_MENTIONS, "Mentions", "Instagram Mentions", "2.40", 100, 50000, 0, 0,
     0, 0},
    {FP_T_MENTIONS_HASHTAGS, "Mentions with Hashtags", "Instagram Mentions",
     "3.10", 100, 50000, 0, 0, 0, 0},
    {FP_T_MENTIONS_CUSTOM_LIST, "Mentions Custom List", "Instagram Mentions",
     "4", 10, 1000, 0, 0, 0, 0},
    {FP_T_MENTIONS_HASHTAG, "Mentions Hashtag", "Instagram Mentions", "2.75",
     100, 50000, 0, 0, 0, 0},
    {FP_T_MENTIONS_USER_FOLLOWERS, "Mentions User Followers",
     "Instagram Mentions", "2.95", 100, 50000, 0, 0, 0, 0},
    {FP_T_MENTIONS_MEDIA_LIKERS, "Mentions Media Likers", "Instagram Mentions",
     "3.05", 100, 50000, 0, 0, 0, 0},
    {FP_T_COMMENT_LIKES, "Comment Likes", "Instagram Comments", "1.80", 20,
     20000, 0, 1, 0, 0},
    {FP_T_COMMENT_REPLIES, "Comment Replies", "Instagram Comments", "9.5", 5,
     500, 0, 0, 0, 0},
    {FP_T_POLL, "Poll Votes", "Twitter Polls", "0.60", 100, 100000, 0, 1, 0, 0},
    {FP_T_INVITES_FROM_GROUPS, "Invites from Groups", "Telegram Members",
     "5.20", 100, 10000, 0, 0, 0, 0},
    {FP_T_SUBSCRIPTIONS, "Auto Likes Subscription", "Instagram Auto Likes",
     "0.75", 50, 10000, 0, 0, 0, 0},
    {FP_T_CUSTOM_COMMENTS_PACKAGE, "Custom Comments Package",
     "Instagram Comments", "15", 1, 1, 0, 0, 0, 0},
    {FP_T_DEFAULT, "Followers [Refill 30D]", "Instagram Followers", "1.10", 50,
     200000, 1, 1, 1, 30},
    {FP_T_DEFAULT, "Shorts Views", "YouTube Views", "0.0120", 10, 2147483647, 0,
     0, 1, 0},
    {FP_T_DEFAULT, "Channel Members", "Telegram Members", "0.456", 100, 50000,
     1, 1, 0, 60},
};
#define FP_CATALOG_NSEEDS                                                      \
	(sizeof(fp_catalog_seeds) / sizeof(fp_catalog_seeds[0]))

/* Services past the seeds cycle through these. */
static const char *const fp_catalog_rates[] = {
    "0.90",  "8",  "1.02",   "0.0045", "0.12", "3.5",
    "0.456", "15", "0.0100", "2.2",    "0.33", "1"};
static const char *const fp_catalog_platforms[] = {
    "Instagram", "TikTok",   "YouTube", "Telegram",
    "Twitter",   "Facebook", "Spotify"};
static const char *const fp_catalog_kinds[] = {"Followers", "Likes",  "Views",
                                               "Comments",  "Shares", "Saves"};

static struct fp_service *fp_catalog_svcs;
static size_t fp_catalog_n, fp_catalog_cap;
static uint64_t fp_catalog_gen;
static int fp_catalog_start_n;
static size_t fp_catalog_name_pad;
static char *fp_catalog_start_path;

const char *
fp_catalog_type_name(enum fp_type t)
{
	return fp_catalog_types[t].name;
}

const char *
fp_catalog_type_slug(enum fp_type t)
{
	return fp_catalog_types[t].slug;
}

/* Lower case without spaces, '_' and '-'. */
static void
fp_catalog_norm(const char *s, char *out, size_t len)
{
	size_t n = 0;

	for (; *s != '\0' && n + 1 < len; s++)
		if (*s != ' ' && *s != '_' && *s != '-')
			out[n++] = (char)tolower((unsigned char)*s);
	out[n] = '\0';
}

int
fp_catalog_type_parse(const char *s, enum fp_type *out)
{
	char a[64], b[64];

	fp_catalog_norm(s, a, sizeof(a));
	for (int t = 0; t < FP_T__COUNT; t++) {
		fp_catalog_norm(fp_catalog_types[t].name, b, sizeof(b));
		if (strcmp(a, b) == 0) {
			*out = (enum fp_type)t;
			return 0;
		}
	}
	return -1;
}

static void
fp_catalog_svc_free(struct fp_service *s)
{
	free(s->name);
	free(s->category);
	free(s->type_name);
	free(s->rate_text);
	free(s->description);
}

static void
fp_catalog_clear(void)
{
	for (size_t i = 0; i < fp_catalog_n; i++)
		fp_catalog_svc_free(&fp_catalog_svcs[i]);
	fp_catalog_n = 0;
	fp_catalog_gen++;
}

void
fp_catalog_free(void)
{
	fp_catalog_clear();
	free(fp_catalog_svcs);
	fp_catalog_svcs = NULL;
	fp_catalog_cap = 0;
	free(fp_catalog_start_path);
	fp_catalog_start_path = NULL;
}

/* Index of ID, or of where it would go (*FOUND = 0). */
static size_t
fp_catalog_find(int64_t id, int *found)
{
	size_t lo = 0, hi = fp_catalog_n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (fp_catalog_svcs[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < fp_catalog_n && fp_catalog_svcs[lo].id == id;
	return lo;
}

/* Insert S (ownership taken), replacing a service with the same ID. */
static void
fp_catalog_put(struct fp_service *s)
{
	int found;
	size_t i = fp_catalog_find(s->id, &found);

	if (found) {
		fp_catalog_svc_free(&fp_catalog_svcs[i]);
		fp_catalog_svcs[i] = *s;
		fp_catalog_gen++;
		return;
	}
	if (fp_catalog_n == fp_catalog_cap) {
		fp_catalog_cap = fp_catalog_cap ? fp_catalog_cap * 2 : 64;
		fp_catalog_svcs = xreallocarray(fp_catalog_svcs, fp_catalog_cap,
		                                sizeof(*fp_catalog_svcs));
	}
	memmove(&fp_catalog_svcs[i + 1], &fp_catalog_svcs[i],
	        (fp_catalog_n - i) * sizeof(*fp_catalog_svcs));
	fp_catalog_svcs[i] = *s;
	fp_catalog_n++;
	fp_catalog_gen++;
}

/* Pad the generated name *NAME with " ~~~~..." to fp_catalog_name_pad
 * bytes. */
static void
fp_catalog_pad_name(char **name)
{
	size_t len = strlen(*name);
	char *s;

	if (len >= fp_catalog_name_pad)
		return;
	s = xmalloc(fp_catalog_name_pad + 1);
	memcpy(s, *name, len);
	s[len] = ' ';
	memset(s + len + 1, '~', fp_catalog_name_pad - len - 1);
	s[fp_catalog_name_pad] = '\0';
	free(*name);
	*name = s;
}

static void
fp_catalog_generate(int n)
{
	for (int i = 0; i < n; i++) {
		struct fp_service s;
		int64_t id = i + 1;

		memset(&s, 0, sizeof(s));
		s.id = id;
		if ((size_t)i < FP_CATALOG_NSEEDS) {
			const struct fp_catalog_seed *d = &fp_catalog_seeds[i];

			s.type = d->type;
			s.name = xstrdup(d->name);
			s.category = xstrdup(d->category);
			s.rate_text = xstrdup(d->rate);
			s.min = d->min;
			s.max = d->max;
			s.refill = d->refill;
			s.cancel = d->cancel;
			s.dripfeed = d->dripfeed;
			s.refill_time = d->refill_time;
		} else {
			const char *plat = fp_catalog_platforms
			    [i % (sizeof(fp_catalog_platforms) /
			          sizeof(fp_catalog_platforms[0]))];
			const char *kind =
			    fp_catalog_kinds[(i / 7) %
			                     (sizeof(fp_catalog_kinds) /
			                      sizeof(fp_catalog_kinds[0]))];

			s.type = FP_T_DEFAULT;
			xasprintf(&s.name, "%s %s #%lld", plat, kind,
			          (long long)id);
			xasprintf(&s.category, "%s - %s", plat, kind);
			s.rate_text = xstrdup(
			    fp_catalog_rates[i %
			                     (sizeof(fp_catalog_rates) /
			                      sizeof(fp_catalog_rates[0]))]);
			s.min = (i % 3 == 0) ? 10 : (i % 3 == 1) ? 50 : 100;
			s.max = (i % 4 == 0)   ? 10000
			        : (i % 4 == 1) ? 100000
			        : (i % 4 == 2) ? 1000000
			                       : 5000;
			s.refill = i % 2 == 0;
			s.cancel = i % 3 != 2;
			s.dripfeed = i % 5 == 0;
			s.refill_time = s.refill ? 30 : 0;
		}
		fp_catalog_pad_name(&s.name);
		s.type_name = xstrdup(fp_catalog_types[s.type].name);
		if (money_parse(s.rate_text, &s.rate) == -1)
			fatalx("bad seed rate %s", s.rate_text);
		xasprintf(&s.description,
		          "%s. Start 0-1h, speed up to %lld/day.", s.name,
		          (long long)(s.max < 100000 ? s.max : 100000));
		fp_catalog_put(&s);
	}
}

/* An integer from a JSON integer or a numeric string: 0, or -1. */
static int
fp_catalog_json_int(json_t *v, int64_t *out)
{
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_string(v))
		return fp_parse_int(json_string_value(v), out);
	return -1;
}

/* true/false, 0/1, "0"/"1", "true"/"false"; absent = DEF. */
static int
fp_catalog_json_bool(json_t *v, int def)
{
	const char *s;

	if (v == NULL || json_is_null(v))
		return def;
	if (json_is_boolean(v))
		return json_is_true(v);
	if (json_is_integer(v))
		return json_integer_value(v) != 0;
	if (json_is_string(v)) {
		s = json_string_value(v);
		return strcmp(s, "1") == 0 || strcasecmp(s, "true") == 0;
	}
	return def;
}

static char *
fp_catalog_json_str(json_t *v, const char *def)
{
	char num[64];

	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
		         json_integer_value(v));
		return xstrdup(num);
	}
	if (json_is_real(v)) {
		snprintf(num, sizeof(num), "%.10g", json_real_value(v));
		return xstrdup(num);
	}
	return def != NULL ? xstrdup(def) : NULL;
}

/* Read one service object leniently into S.  0, or -1 with ERR set. */
static int
fp_catalog_from_json(json_t *o, size_t idx, struct fp_service *s, char *err,
                     size_t errlen)
{
	json_t *desc;

	memset(s, 0, sizeof(*s));
	if (!json_is_object(o)) {
		snprintf(err, errlen, "services[%zu]: not an object", idx);
		return -1;
	}
	if (fp_catalog_json_int(json_object_get(o, "service"), &s->id) == -1 ||
	    s->id <= 0) {
		snprintf(err, errlen, "services[%zu]: bad \"service\"", idx);
		return -1;
	}
	s->rate_text = fp_catalog_json_str(json_object_get(o, "rate"), NULL);
	if (s->rate_text == NULL ||
	    money_parse_n(s->rate_text, strlen(s->rate_text), MONEY_ROUND_UP,
	                  &s->rate) == -1 ||
	    s->rate < 0) {
		snprintf(err, errlen, "services[%zu]: bad \"rate\"", idx);
		goto fail;
	}
	if (fp_catalog_json_int(json_object_get(o, "min"), &s->min) == -1 ||
	    fp_catalog_json_int(json_object_get(o, "max"), &s->max) == -1 ||
	    s->min < 0 || s->max < s->min) {
		snprintf(err, errlen, "services[%zu]: bad \"min\"/\"max\"",
		         idx);
		goto fail;
	}
	s->name = fp_catalog_json_str(json_object_get(o, "name"), "Service");
	s->category =
	    fp_catalog_json_str(json_object_get(o, "category"), "Other");
	s->type_name =
	    fp_catalog_json_str(json_object_get(o, "type"), "Default");
	if (fp_catalog_type_parse(s->type_name, &s->type) == -1)
		s->type = FP_T_DEFAULT;
	else {
		free(s->type_name);
		s->type_name = xstrdup(fp_catalog_types[s->type].name);
	}
	s->refill = fp_catalog_json_bool(json_object_get(o, "refill"), 0);
	s->cancel = fp_catalog_json_bool(json_object_get(o, "cancel"), 0);
	s->dripfeed = fp_catalog_json_bool(json_object_get(o, "dripfeed"), 0);
	desc = json_object_get(o, "description");
	if (desc == NULL)
		desc = json_object_get(o, "desc");
	s->description = fp_catalog_json_str(desc, NULL);
	{
		int64_t days;

		if (fp_catalog_json_int(json_object_get(o, "refill_time"),
		                        &days) == 0 &&
		    days > 0 && days < 100000)
			s->refill_time = (int)days;
	}
	return 0;
fail:
	fp_catalog_svc_free(s);
	return -1;
}

int
fp_catalog_put_json(json_t *a, char *err, size_t errlen)
{
	struct fp_service *tmp;
	size_t n, i;
	json_t *o;

	if (!json_is_array(a)) {
		snprintf(err, errlen, "services: not a JSON array");
		return -1;
	}
	n = json_array_size(a);
	if (n > FP_CATALOG_MAX) {
		snprintf(err, errlen, "services: more than %d", FP_CATALOG_MAX);
		return -1;
	}
	/* Read all first, so a bad entry changes nothing. */
	tmp = xcalloc(n ? n : 1, sizeof(*tmp));
	json_array_foreach(a, i, o)
	{
		if (fp_catalog_from_json(o, i, &tmp[i], err, errlen) == -1) {
			for (size_t j = 0; j < i; j++)
				fp_catalog_svc_free(&tmp[j]);
			free(tmp);
			return -1;
		}
	}
	for (i = 0; i < n; i++)
		fp_catalog_put(&tmp[i]);
	free(tmp);
	return 0;
}

static int
fp_catalog_load(const char *path, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *a;
	int rc;

	if ((a = json_load_file(path, 0, &jerr)) == NULL) {
		snprintf(err, errlen, "%s:%d:%d: %s", path, jerr.line,
		         jerr.column, jerr.text);
		return -1;
	}
	rc = fp_catalog_put_json(a, err, errlen);
	json_decref(a);
	return rc;
}

int
fp_catalog_init(int n, size_t name_pad, const char *path, char *err,
                size_t errlen)
{
	fp_catalog_clear();
	fp_catalog_name_pad = name_pad < FP_CATALOG_NAME_PAD_MAX
	                          ? name_pad
	                          : FP_CATALOG_NAME_PAD_MAX;
	free(fp_catalog_start_path);
	fp_catalog_start_path = path != NULL ? xstrdup(path) : NULL;
	fp_catalog_start_n = n;
	if (path != NULL)
		return fp_catalog_load(path, err, errlen);
	fp_catalog_generate(n);
	return 0;
}

void
fp_catalog_reset(void)
{
	char err[256];

	fp_catalog_clear();
	if (fp_catalog_start_path == NULL)
		fp_catalog_generate(fp_catalog_start_n);
	else if (fp_catalog_load(fp_catalog_start_path, err, sizeof(err)) == -1)
		log_warnx("reset: %s", err);
}

int
fp_catalog_remove(int64_t id)
{
	int found;
	size_t i = fp_catalog_find(id, &found);

	if (!found)
		return -1;
	fp_catalog_svc_free(&fp_catalog_svcs[i]);
	memmove(&fp_catalog_svcs[i], &fp_catalog_svcs[i + 1],
	        (fp_catalog_n - i - 1) * sizeof(*fp_catalog_svcs));
	fp_catalog_n--;
	fp_catalog_gen++;
	return 0;
}

int
fp_catalog_set_rate(int64_t id, const char *rate)
{
	int found;
	size_t i = fp_catalog_find(id, &found);
	money_t v;

	if (!found ||
	    money_parse_n(rate, strlen(rate), MONEY_ROUND_UP, &v) == -1 ||
	    v < 0)
		return -1;
	free(fp_catalog_svcs[i].rate_text);
	fp_catalog_svcs[i].rate_text = xstrdup(rate);
	fp_catalog_svcs[i].rate = v;
	fp_catalog_gen++;
	return 0;
}

const struct fp_service *
fp_catalog_get(int64_t id)
{
	int found;
	size_t i;

	/* Generated catalogues are dense: try the direct slot first. */
	if (id >= 1 && (uint64_t)id <= fp_catalog_n &&
	    fp_catalog_svcs[id - 1].id == id)
		return &fp_catalog_svcs[id - 1];
	i = fp_catalog_find(id, &found);
	return found ? &fp_catalog_svcs[i] : NULL;
}

size_t
fp_catalog_count(void)
{
	return fp_catalog_n;
}

const struct fp_service *
fp_catalog_at(size_t i)
{
	return &fp_catalog_svcs[i];
}

uint64_t
fp_catalog_generation(void)
{
	return fp_catalog_gen;
}
