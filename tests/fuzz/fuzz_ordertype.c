/* fuzz_ordertype.c - libFuzzer target for lib/ordertype.c: an `add`
 * request, decoded from the input (JSON if it starts with '{', else form
 * data), validated and priced against hand-built services of every order
 * type at several money.decimals.
 *
 * On success the charge is > 0, a multiple of the decimals' step, never
 * below the exact price and less than one step above it; the type is the
 * service's; the forwarded fields are a JSON object of strings without
 * key/action/service/request_id; building again gives the same order and
 * hash.  On failure there is an error text and a zeroed spec.
 * Seeds: tests/fuzz/corpus/ordertype. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "catalog.h"
#include "money.h"
#include "ordertype.h"
#include "params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char t_default[] = "Default", t_package[] = "Package",
            t_cc[] = "custom_comments", t_ccp[] = "Custom Comments Package",
            t_mentions[] = "mentions", t_mwh[] = "Mentions with Hashtags",
            t_mcl[] = "MENTIONS-CUSTOM-LIST", t_mh[] = "Mentions Hashtag",
            t_muf[] = "Mentions User Followers",
            t_mml[] = "Mentions Media Likers", t_cl[] = "Comment Likes",
            t_cr[] = "Comment Replies", t_poll[] = "Poll",
            t_ifg[] = "Invites from Groups", t_subs[] = "Subscriptions",
            t_new[] = "Something New";

/* Rates are per 1000 (per package for packages), in units of 10^-8. */
static const struct {
	struct catalog_service s;
	const char *canon; /* the type ordertype_build reports */
} fuzz_services[] = {
    {{.id = 1,
      .type = t_default,
      .rate = 90000000,
      .min = 10,
      .max = 100000,
      .dripfeed = 1},
     "Default"},
    {{.id = 2, .type = t_package, .rate = 1250000000, .min = 1, .max = 1},
     "Package"},
    {{.id = 3, .type = t_cc, .rate = 123456789, .min = 1, .max = 1000},
     "Custom Comments"},
    {{.id = 4, .type = t_ccp, .rate = 500000001, .min = 0, .max = 0},
     "Custom Comments Package"},
    /* the smallest rate: every charge rounds up to one step */
    {{.id = 5, .type = t_mentions, .rate = 1, .min = 0, .max = 1000000000},
     "Mentions"},
    {{.id = 6, .type = t_mwh, .rate = 777, .min = 5, .max = 5000},
     "Mentions with Hashtags"},
    {{.id = 7, .type = t_mcl, .rate = 300000000, .min = 2, .max = 10000},
     "Mentions Custom List"},
    {{.id = 8, .type = t_mh, .rate = 99999999, .min = 1, .max = 500},
     "Mentions Hashtag"},
    {{.id = 9, .type = t_muf, .rate = 12345, .min = 100, .max = 100000},
     "Mentions User Followers"},
    {{.id = 10, .type = t_mml, .rate = 50000000, .min = 1, .max = 99},
     "Mentions Media Likers"},
    {{.id = 11, .type = t_cl, .rate = 10, .min = 1, .max = 1000000},
     "Comment Likes"},
    {{.id = 12, .type = t_cr, .rate = 250000000, .min = 1, .max = 300},
     "Comment Replies"},
    {{.id = 13,
      .type = t_poll,
      .rate = 3,
      .min = 1,
      .max = 1000000000,
      .dripfeed = 1},
     "Poll"},
    {{.id = 14, .type = t_ifg, .rate = 42000000, .min = 10, .max = 10000},
     "Invites from Groups"},
    {{.id = 15, .type = t_subs, .rate = 5000000, .min = 100, .max = 10000},
     "Subscriptions"},
    /* near the top of the range: large orders overflow */
    {{.id = 16,
      .type = NULL,
      .rate = INT64_MAX / 3,
      .min = 1,
      .max = INT64_MAX,
      .dripfeed = 1},
     "Default"},
    {{.id = 17, .type = t_new, .rate = 0, .min = 1, .max = 1000}, NULL},
    {{.id = 18, .type = t_default, .rate = -5, .min = 1, .max = 1000}, NULL},
};
#define FUZZ_NSERVICES (sizeof(fuzz_services) / sizeof(fuzz_services[0]))

static const int fuzz_decimals[] = {0, 2, 5, 8};

static int
fuzz_is_package(const char *type)
{
	return strcmp(type, "Package") == 0 ||
	       strcmp(type, "Custom Comments Package") == 0;
}

/* The forwarded fields: a JSON object of strings, none of the request's
 * own fields. */
static void
fuzz_fields(const char *fields)
{
	static const char *const never[] = {"key", "action", "service",
	                                    "request_id"};
	json_t *o = json_loads(fields, 0, NULL), *v;
	const char *k;
	size_t i;

	if (o == NULL || !json_is_object(o))
		abort();
	for (i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		if (json_object_get(o, never[i]) != NULL)
			abort();
	json_object_foreach(o, k, v)
	{
		if (!json_is_string(v))
			abort();
	}
	json_decref(o);
}

static void
fuzz_build(const struct params *p, const struct catalog_service *s,
           const char *canon, int dec)
{
	struct order_spec o, again;
	uint8_t h1[ORDERTYPE_HASH_LEN], h2[ORDERTYPE_HASH_LEN];
	char err[256];
	money_t step = 1;
	__int128 exact, units;
	int i, r;

	for (i = dec; i < MONEY_DECIMALS; i++)
		step *= 10;
	err[0] = '\0';
	r = ordertype_build(p, s, dec, &o, err, sizeof(err));
	if (r != 0) {
		if (r != -1 || err[0] == '\0' || o.fields != NULL ||
		    o.charge != 0 || o.quantity != 0 || o.type[0] != '\0')
			abort();
		return;
	}
	if (canon == NULL || strcmp(o.type, canon) != 0 || o.fields == NULL)
		abort();
	fuzz_fields(o.fields);

	/* The charge: the exact price rounded up to the step. */
	if (o.charge <= 0 || o.charge % step != 0 || o.quantity < 1)
		abort();
	if ((o.runs == 0) != (o.interval == 0) || o.runs < 0 ||
	    o.interval < 0 || (o.runs > 0 && !s->dripfeed))
		abort();
	if (fuzz_is_package(o.type)) {
		if (o.quantity != 1 || o.runs != 0)
			abort();
		exact = (__int128)s->rate * 1000;
	} else {
		units = (__int128)o.quantity * (o.runs > 0 ? o.runs : 1);
		exact = (__int128)s->rate * units;
		if (strcmp(o.type, "Subscriptions") != 0 &&
		    (o.quantity < (s->min > 1 ? s->min : 1) ||
		     o.quantity > s->max))
			abort();
	}
	/* exact / 1000 <= charge < exact / 1000 + step */
	if ((__int128)o.charge * 1000 < exact ||
	    ((__int128)o.charge - step) * 1000 >= exact)
		abort();

	/* The same request is the same order. */
	if (ordertype_build(p, s, dec, &again, err, sizeof(err)) != 0 ||
	    strcmp(again.fields, o.fields) != 0 || again.charge != o.charge ||
	    again.quantity != o.quantity)
		abort();
	ordertype_hash(s->id, &o, h1);
	ordertype_hash(s->id, &again, h2);
	if (memcmp(h1, h2, sizeof(h1)) != 0)
		abort();
	order_spec_clear(&again);
	order_spec_clear(&o);
	if (o.fields != NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct params *p = params_new();
	char *body;
	size_t i, d;

	/* An exact-size copy, so any over-read is caught. */
	if ((body = malloc(size > 0 ? size : 1)) == NULL)
		return 0;
	if (size > 0)
		memcpy(body, data, size);
	if (params_decode_body(
	        p, size > 0 && body[0] == '{' ? "application/json" : NULL, body,
	        size, NULL) == PARAMS_OK) {
		for (i = 0; i < FUZZ_NSERVICES; i++)
			for (d = 0; d < sizeof(fuzz_decimals) /
			                    sizeof(fuzz_decimals[0]);
			     d++)
				fuzz_build(p, &fuzz_services[i].s,
				           fuzz_services[i].canon,
				           fuzz_decimals[d]);
	}
	params_free(p);
	free(body);
	return 0;
}
