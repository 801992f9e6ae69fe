/* dialect_services.c - the services list: entries read leniently, bad
 * ones skipped and counted, duplicates dropped, types canonical. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dialect.h"
#include "dialect_int.h"
#include "xmalloc.h"

/* SPEC section 4's order types, in their canonical spelling. */
static const char *const dialect_types[] = {
    "Default",
    "Package",
    "Custom Comments",
    "Custom Comments Package",
    "Mentions",
    "Mentions with Hashtags",
    "Mentions Custom List",
    "Mentions Hashtag",
    "Mentions User Followers",
    "Mentions Media Likers",
    "Comment Likes",
    "Comment Replies",
    "Poll",
    "Invites from Groups",
    "Subscriptions",
};

/* The canonical spelling of a known order type, or NULL. */
static const char *
dialect_type_name(const char *s, size_t len)
{
	char key[DIALECT_KEY_SZ], known[DIALECT_KEY_SZ];
	size_t i;

	if (dialect_key(s, len, key, sizeof(key)) < 0)
		return NULL;
	for (i = 0; i < DIALECT_NELEM(dialect_types); i++) {
		dialect_key(dialect_types[i], strlen(dialect_types[i]), known,
		            sizeof(known));
		if (strcmp(key, known) == 0)
			return dialect_types[i];
	}
	return NULL;
}

/* A service's min or max: an integer as dialect_int() reads it, except that
 * a non-negative one too large to read exactly (more than
 * DIALECT_INT_DIGITS digits, or a real of 2^53 or more) reads as INT64_MAX.
 * Panels write "unlimited" as int64's largest value, as a JSON number or a
 * string, and PHP turns what overflows into a float. */
static int
dialect_limit(const json_t *v, int64_t *out)
{
	const char *s;
	size_t len, i;

	if (dialect_int(v, out) == 0)
		return 0;
	if (json_is_real(v)) {
		if (!(json_real_value(v) >= DIALECT_REAL_INT)) /* NaN too */
			return -1;
		*out = INT64_MAX;
		return 0;
	}
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	len = json_string_length(v);
	dialect_trim(&s, &len);
	if (len > 0 && s[0] == '+') {
		s++;
		len--;
	}
	while (len > 1 && s[0] == '0') {
		s++;
		len--;
	}
	if (len <= DIALECT_INT_DIGITS)
		return -1; /* short enough, and still unreadable */
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return -1;
	*out = INT64_MAX;
	return 0;
}

/* ---- services -------------------------------------------------------- */

/* A copy of the string V, cleaned and cut to MAX bytes; NULL if V is no
 * string (or a number, for refill_time, written as text). */
static char *
dialect_strdup(const json_t *v, size_t max, int keep_lf)
{
	char *s;
	size_t len;

	if (!json_is_string(v))
		return NULL;
	len = json_string_length(v);
	s = xmalloc((len < max ? len : max) + 1);
	dialect_clean(s, (len < max ? len : max) + 1, json_string_value(v), len,
	              keep_lf);
	return s;
}

/* Read one services entry into SV, or say in WHY why it is skipped. */
static int
dialect_service(const json_t *e, struct dialect_service *sv, char *why)
{
	char name[DIALECT_NAME_MAX + 1], num[32];
	const json_t *v;
	const char *type = "Default";
	int64_t id;

	memset(sv, 0, sizeof(*sv));
	if (!json_is_object(e)) {
		dialect_msg(why, "not an object");
		return -1;
	}
	if (dialect_int(json_object_get(e, "service"), &id) < 0 || id < 1 ||
	    id > DIALECT_MAX_SERVICE_ID) {
		dialect_msg(why, "no usable service ID");
		return -1;
	}
	sv->id = id;
	if (dialect_text(json_object_get(e, "name"), name, sizeof(name)) < 0) {
		dialect_msg(why, "service %lld: no name", (long long)id);
		return -1;
	}
	if (dialect_money(json_object_get(e, "rate"), MONEY_ROUND_UP,
	                  &sv->rate) < 0) {
		dialect_msg(why, "service %lld: no usable rate", (long long)id);
		return -1;
	}
	if (sv->rate < 0) {
		dialect_msg(why, "service %lld: negative rate", (long long)id);
		return -1;
	}
	if (dialect_limit(json_object_get(e, "min"), &sv->min) < 0 ||
	    dialect_limit(json_object_get(e, "max"), &sv->max) < 0) {
		dialect_msg(why, "service %lld: no usable min/max",
		            (long long)id);
		return -1;
	}
	if (sv->min < 0 || sv->max < sv->min) {
		dialect_msg(why, "service %lld: bad min/max %lld/%lld",
		            (long long)id, (long long)sv->min,
		            (long long)sv->max);
		return -1;
	}
	/* Whether refill and cancel were said at all is kept: a panel that
	 * lists neither (the v1 family) has not said they are refused. */
	if (dialect_bool(json_object_get(e, "refill"), &sv->refill) < 0)
		sv->refill = DIALECT_FLAG_UNKNOWN;
	if (dialect_bool(json_object_get(e, "cancel"), &sv->cancel) < 0)
		sv->cancel = DIALECT_FLAG_UNKNOWN;
	if (dialect_bool(json_object_get(e, "dripfeed"), &sv->dripfeed) < 0)
		sv->dripfeed = 0;

	sv->name = xstrdup(name);
	v = json_object_get(e, "type");
	if (json_is_string(v) &&
	    (type = dialect_type_name(json_string_value(v),
	                              json_string_length(v))) == NULL) {
		sv->type = dialect_strdup(v, DIALECT_NAME_MAX, 0);
		if (sv->type[0] == '\0') {
			free(sv->type);
			sv->type = NULL;
			type = "Default";
		}
	}
	if (sv->type == NULL)
		sv->type = xstrdup(type);
	if ((sv->category = dialect_strdup(json_object_get(e, "category"),
	                                   DIALECT_NAME_MAX, 0)) == NULL)
		sv->category = xstrdup("");
	v = json_object_get(e, "description");
	if (!json_is_string(v))
		v = json_object_get(e, "desc");
	sv->description = dialect_strdup(v, DIALECT_DESC_MAX, 1);
	v = json_object_get(e, "refill_time");
	if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
		         json_integer_value(v));
		sv->refill_time = xstrdup(num);
	} else {
		sv->refill_time = dialect_strdup(v, DIALECT_NAME_MAX, 0);
	}
	return 0;
}

static void
dialect_service_free(struct dialect_service *sv)
{
	free(sv->name);
	free(sv->type);
	free(sv->category);
	free(sv->description);
	free(sv->refill_time);
	memset(sv, 0, sizeof(*sv));
}

struct dialect_idpos {
	int64_t id;
	size_t pos;
};

static int
dialect_idpos_cmp(const void *a, const void *b)
{
	const struct dialect_idpos *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Drop every later entry whose id an earlier one has. */
static void
dialect_services_dedup(struct dialect_services *out, char *first_why)
{
	struct dialect_idpos *ix;
	unsigned char *dup;
	size_t i, o;

	if (out->n < 2)
		return;
	ix = xreallocarray(NULL, out->n, sizeof(*ix));
	dup = xcalloc(out->n, 1);
	for (i = 0; i < out->n; i++) {
		ix[i].id = out->v[i].id;
		ix[i].pos = i;
	}
	qsort(ix, out->n, sizeof(*ix), dialect_idpos_cmp);
	for (i = 1; i < out->n; i++)
		if (ix[i].id == ix[i - 1].id)
			dup[ix[i].pos] = 1;
	for (i = o = 0; i < out->n; i++) {
		if (dup[i]) {
			if (first_why[0] == '\0')
				dialect_msg(first_why,
				            "service %lld: "
				            "duplicate ID",
				            (long long)out->v[i].id);
			dialect_service_free(&out->v[i]);
			out->nskipped++;
			continue;
		}
		if (o != i)
			out->v[o] = out->v[i];
		o++;
	}
	out->n = o;
	free(dup);
	free(ix);
}

/* A success envelope holding no list at all: {"status":"success","data":
 * "Empty Data"}.  Any array or object member makes it an unknown shape, so
 * a catalogue is never read as empty by mistake. */
static int
dialect_empty_envelope(json_t *o)
{
	const char *key;
	json_t *v;

	if (!dialect_word_in(json_object_get(o, "status"), dialect_ok_words))
		return 0;
	json_object_foreach(o, key, v) if (json_is_object(v) ||
	                                   json_is_array(v)) return 0;
	return 1;
}

enum dialect_result
dialect_services(int http, const char *body, size_t len,
                 struct dialect_services *out)
{
	char why[DIALECT_MSG_SZ], first[DIALECT_MSG_SZ] = "";
	enum dialect_result r = DIALECT_OK;
	json_t *root, *list, *e;
	size_t i, n;

	memset(out, 0, sizeof(*out));
	if ((root = dialect_load(http, body, len, DIALECT_MAX_SERVICES_BODY,
	                         out->msg)) == NULL)
		return DIALECT_FAULT;
	list = dialect_unwrap(root);
	if (json_is_object(list)) {
		if (dialect_refused(list, 0, out->msg) != DIALECT_NOT_REFUSED) {
			r = DIALECT_REJECTED;
		} else if (dialect_empty_envelope(list)) {
			/* {"status":"success","data":"Empty Data"} */
			dialect_msg(out->msg, "no service list in a success "
			                      "reply: empty catalogue");
		} else {
			dialect_msg(out->msg, "JSON object where a service "
			                      "list was expected");
			r = DIALECT_FAULT;
		}
		goto done;
	}
	n = json_array_size(list);
	if (n > DIALECT_MAX_SERVICES) {
		dialect_msg(out->msg, "%zu services, over the %d limit", n,
		            DIALECT_MAX_SERVICES);
		r = DIALECT_FAULT;
		goto done;
	}
	if (n > 0)
		out->v = xreallocarray(NULL, n, sizeof(*out->v));
	json_array_foreach(list, i, e)
	{
		if (dialect_service(e, &out->v[out->n], why) == 0) {
			out->n++;
			continue;
		}
		if (first[0] == '\0')
			dialect_msg(first, "entry %zu: %s", i, why);
		out->nskipped++;
	}
	dialect_services_dedup(out, first);
	if (n > 0 && out->n == 0) {
		dialect_msg(out->msg, "no usable service among %zu: %s", n,
		            first);
		r = DIALECT_FAULT;
	} else if (out->nskipped > 0) {
		dialect_msg(out->msg, "%zu of %zu entries skipped; first: %s",
		            out->nskipped, n, first);
	}
done:
	if (r != DIALECT_OK) {
		char keep[DIALECT_MSG_SZ];

		memcpy(keep, out->msg, sizeof(keep));
		dialect_services_free(out);
		memcpy(out->msg, keep, sizeof(keep));
	}
	json_decref(root);
	return r;
}

void
dialect_services_free(struct dialect_services *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n; i++)
		dialect_service_free(&s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}
