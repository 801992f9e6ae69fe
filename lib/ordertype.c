/* ordertype.c - validation of an `add` request and its exact charge. */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "catalog.h"
#include "log.h"
#include "money.h"
#include "ordertype.h"
#include "params.h"
#include "xmalloc.h"

/* The fields an order type can take. */
enum ordertype_field {
	OF_NONE, /* ends a rule's field list */
	OF_LINK,
	OF_QUANTITY,
	OF_COMMENTS,
	OF_USERNAMES,
	OF_HASHTAGS,
	OF_HASHTAG,
	OF_USERNAME,
	OF_MEDIA,
	OF_ANSWER,
	OF_GROUPS,
	OF_MIN,
	OF_MAX,
	OF_POSTS,
	OF_OLD_POSTS,
	OF_DELAY,
	OF_EXPIRY,
	OF__COUNT
};

/* How a field is read. */
enum ordertype_kind {
	OK_LINK,  /* required link */
	OK_QTY,   /* required number >= 0 (bounds checked later) */
	OK_POS,   /* required number >= 1 */
	OK_NUM,   /* optional number >= 0 */
	OK_TEXT,  /* required text, lines normalised */
	OK_DELAY, /* required, one of ordertype_delays */
	OK_DATE   /* optional d/m/Y */
};

static const struct {
	const char *name;
	enum ordertype_kind kind;
} ordertype_fields[OF__COUNT] = {
    [OF_LINK] = {"link", OK_LINK},
    [OF_QUANTITY] = {"quantity", OK_QTY},
    [OF_COMMENTS] = {"comments", OK_TEXT},
    [OF_USERNAMES] = {"usernames", OK_TEXT},
    [OF_HASHTAGS] = {"hashtags", OK_TEXT},
    [OF_HASHTAG] = {"hashtag", OK_TEXT},
    [OF_USERNAME] = {"username", OK_TEXT},
    [OF_MEDIA] = {"media", OK_TEXT},
    [OF_ANSWER] = {"answer_number", OK_POS},
    [OF_GROUPS] = {"groups", OK_TEXT},
    [OF_MIN] = {"min", OK_POS},
    [OF_MAX] = {"max", OK_POS},
    [OF_POSTS] = {"posts", OK_NUM},
    [OF_OLD_POSTS] = {"old_posts", OK_NUM},
    [OF_DELAY] = {"delay", OK_DELAY},
    [OF_EXPIRY] = {"expiry", OK_DATE},
};

/* Where the charged units come from. */
enum ordertype_qty {
	OQ_PARAM, /* the quantity field (x runs when drip-fed) */
	OQ_LINES, /* the line count of the rule's lines field */
	OQ_ONE,   /* one package: the charge is the rate */
	OQ_SUBS   /* max x (posts, else old_posts, else 1) */
};

#define ORDERTYPE_RULE_FIELDS 8

struct ordertype_rule {
	const char *name; /* canonical */
	enum ordertype_qty qty;
	enum ordertype_field lines; /* for OQ_LINES */
	int drip;                   /* takes runs + interval */
	enum ordertype_field fields[ORDERTYPE_RULE_FIELDS]; /* forward order */
};

/* SPEC section 4's types; the first is the fallback for unknown ones. */
static const struct ordertype_rule ordertype_rules[] = {
    {"Default", OQ_PARAM, OF_NONE, 1, {OF_LINK, OF_QUANTITY}},
    {"Package", OQ_ONE, OF_NONE, 0, {OF_LINK}},
    {"Custom Comments", OQ_LINES, OF_COMMENTS, 0, {OF_LINK, OF_COMMENTS}},
    {"Custom Comments Package", OQ_ONE, OF_NONE, 0, {OF_LINK, OF_COMMENTS}},
    {"Mentions", OQ_PARAM, OF_NONE, 0, {OF_LINK, OF_QUANTITY, OF_USERNAMES}},
    {"Mentions with Hashtags",
     OQ_PARAM,
     OF_NONE,
     0,
     {OF_LINK, OF_QUANTITY, OF_USERNAMES, OF_HASHTAGS}},
    {"Mentions Custom List",
     OQ_LINES,
     OF_USERNAMES,
     0,
     {OF_LINK, OF_USERNAMES}},
    {"Mentions Hashtag",
     OQ_PARAM,
     OF_NONE,
     0,
     {OF_LINK, OF_QUANTITY, OF_HASHTAG}},
    {"Mentions User Followers",
     OQ_PARAM,
     OF_NONE,
     0,
     {OF_LINK, OF_QUANTITY, OF_USERNAME}},
    {"Mentions Media Likers",
     OQ_PARAM,
     OF_NONE,
     0,
     {OF_LINK, OF_QUANTITY, OF_MEDIA}},
    {"Comment Likes",
     OQ_PARAM,
     OF_NONE,
     0,
     {OF_LINK, OF_QUANTITY, OF_USERNAME}},
    {"Comment Replies",
     OQ_LINES,
     OF_COMMENTS,
     0,
     {OF_LINK, OF_USERNAME, OF_COMMENTS}},
    {"Poll", OQ_PARAM, OF_NONE, 0, {OF_LINK, OF_QUANTITY, OF_ANSWER}},
    {"Invites from Groups",
     OQ_PARAM,
     OF_NONE,
     0,
     {OF_LINK, OF_QUANTITY, OF_GROUPS}},
    {"Subscriptions",
     OQ_SUBS,
     OF_NONE,
     0,
     {OF_USERNAME, OF_MIN, OF_MAX, OF_POSTS, OF_OLD_POSTS, OF_DELAY,
      OF_EXPIRY}},
};

#define ORDERTYPE_NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const int64_t ordertype_delays[] = {0, 5, 10, 15, 30, 60, 90};

/* Longest type key compared; longer type names are unknown. */
#define ORDERTYPE_KEY_SZ 48

/* Bytes of a canonical date, "dd/mm/YYYY" and NUL. */
#define ORDERTYPE_DATE_SZ 11

/* Digits of a canonical number (<= ORDERTYPE_NUM_MAX) and NUL. */
#define ORDERTYPE_NUM_SZ 24

/* The catalogue clamps listed limits to its own constant (catalog.h): the
 * same value, so it lists no quantity refused here. */
_Static_assert(CATALOG_QTY_MAX == ORDERTYPE_NUM_MAX,
               "the catalogue lists no quantity ordertype refuses");

static const char ordertype_hash_tag[] = "panelmux-order-v1";

/* Outcomes of reading a text field. */
enum ordertype_text_result {
	OT_OK,
	OT_MISSING,
	OT_TOO_LONG,
	OT_TOO_MANY,
	OT_BAD_UTF8,
	OT_CONTROL
};

/* S as a type key: ASCII lower case without spaces, tabs, '_' and '-'.
 * -1 if it does not fit KEYSZ bytes. */
static int
ordertype_key(const char *s, char *key, size_t keysz)
{
	size_t n = 0;

	for (; *s != '\0'; s++) {
		char c = *s;

		if (c == ' ' || c == '\t' || c == '_' || c == '-')
			continue;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (n + 1 >= keysz)
			return -1;
		key[n++] = c;
	}
	key[n] = '\0';
	return 0;
}

/* The rule for type name TYPE (NULL or unknown: Default). */
static const struct ordertype_rule *
ordertype_rule_find(const char *type)
{
	char key[ORDERTYPE_KEY_SZ], known[ORDERTYPE_KEY_SZ];
	size_t i;

	if (type == NULL || ordertype_key(type, key, sizeof(key)) < 0)
		return &ordertype_rules[0];
	for (i = 0; i < ORDERTYPE_NELEM(ordertype_rules); i++) {
		if (ordertype_key(ordertype_rules[i].name, known,
		                  sizeof(known)) == 0 &&
		    strcmp(key, known) == 0)
			return &ordertype_rules[i];
	}
	return &ordertype_rules[0];
}

static int
ordertype_is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Trim white space around *S (*LEN bytes). */
static void
ordertype_trim(const char **s, size_t *len)
{
	while (*len > 0 && ordertype_is_ws((*s)[0])) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && ordertype_is_ws((*s)[*len - 1]))
		(*len)--;
}

/* Whether byte C is a control character; tab, CR and LF pass when
 * ALLOW_LINES. */
static int
ordertype_is_control(unsigned char c, int allow_lines)
{
	if (allow_lines && (c == '\t' || c == '\r' || c == '\n'))
		return 0;
	return c < 0x20 || c == 0x7f;
}

/* Whether S (LEN bytes) is well-formed UTF-8 (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF). */
static int
ordertype_utf8_ok(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		unsigned char lo = 0x80, hi = 0xbf;
		size_t n, k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else {
			return 0;
		}
		if (len - i - 1 < n)
			return 0;
		/* Only the first continuation byte has a narrowed range. */
		if (s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (k = 2; k <= n; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return 0;
		i += n + 1;
	}
	return 1;
}

/* A number field: 0 when absent or blank, 1 with *OUT set, -1 when it is
 * not decimal digits, -2 when it is but exceeds ORDERTYPE_NUM_MAX. */
static int
ordertype_num(const char *v, int64_t *out)
{
	size_t len, i;
	int64_t n = 0;

	if (v == NULL)
		return 0;
	len = strlen(v);
	ordertype_trim(&v, &len);
	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (v[i] < '0' || v[i] > '9')
			return -1;
	for (i = 0; i < len; i++) {
		n = n * 10 + (v[i] - '0');
		if (n > ORDERTYPE_NUM_MAX)
			return -2;
	}
	*out = n;
	return 1;
}

/* Normalise text field RAW into *OUT (owned by the caller, NUL-terminated,
 * *OUTLEN bytes): its non-blank lines, trimmed, joined with "\n"; *LINES is
 * their number.  On any result but OT_OK nothing is allocated. */
static enum ordertype_text_result
ordertype_text(const char *raw, char **out, size_t *outlen, int64_t *lines)
{
	size_t len, i, start, end, brk, n = 0;
	int64_t count = 0;
	char *buf;

	if (raw == NULL)
		return OT_MISSING;
	len = strlen(raw);
	if (len > ORDERTYPE_TEXT_MAX)
		return OT_TOO_LONG;
	if (!ordertype_utf8_ok(raw, len))
		return OT_BAD_UTF8;
	for (i = 0; i < len; i++)
		if (ordertype_is_control((unsigned char)raw[i], 1))
			return OT_CONTROL;

	buf = xmalloc(len + 1);
	for (start = 0; start < len; start = brk + 1) {
		/* CRLF gives an empty line between CR and LF: dropped. */
		for (brk = start;
		     brk < len && raw[brk] != '\n' && raw[brk] != '\r'; brk++)
			;
		i = start;
		end = brk;
		while (i < end && (raw[i] == ' ' || raw[i] == '\t'))
			i++;
		while (end > i && (raw[end - 1] == ' ' || raw[end - 1] == '\t'))
			end--;
		if (i == end)
			continue;
		if (++count > ORDERTYPE_LINES_MAX) {
			free(buf);
			return OT_TOO_MANY;
		}
		if (n > 0)
			buf[n++] = '\n';
		memcpy(buf + n, raw + i, end - i);
		n += end - i;
	}
	if (count == 0) {
		free(buf);
		return OT_MISSING;
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	*lines = count;
	return OT_OK;
}

static int
ordertype_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Read 1..MAXD digits at *S into *OUT, advancing *S. */
static int
ordertype_digits(const char **s, const char *end, int mind, int maxd, int *out)
{
	int n = 0, v = 0;

	while (*s < end && **s >= '0' && **s <= '9' && n < maxd) {
		v = v * 10 + (**s - '0');
		(*s)++;
		n++;
	}
	if (n < mind)
		return -1;
	*out = v;
	return 0;
}

/* A d/m/Y date V of a real calendar day, years 1000..9999: 0 when absent
 * or blank, 1 with the canonical "dd/mm/YYYY" in OUT, -1 otherwise. */
static int
ordertype_date(const char *v, char *out)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30,
	                              31, 31, 30, 31, 30, 31};
	const char *end;
	size_t len;
	int d, m, y, dim;

	if (v == NULL)
		return 0;
	len = strlen(v);
	ordertype_trim(&v, &len);
	if (len == 0)
		return 0;
	end = v + len;
	if (ordertype_digits(&v, end, 1, 2, &d) < 0 || v >= end || *v++ != '/')
		return -1;
	if (ordertype_digits(&v, end, 1, 2, &m) < 0 || v >= end || *v++ != '/')
		return -1;
	if (ordertype_digits(&v, end, 4, 4, &y) < 0 || v != end)
		return -1;
	if (m < 1 || m > 12 || y < 1000)
		return -1;
	dim = mdays[m - 1] + (m == 2 && ordertype_leap(y));
	if (d < 1 || d > dim)
		return -1;
	/* "dd/mm/YYYY": every part is known to fit its digits. */
	out[0] = (char)('0' + d / 10);
	out[1] = (char)('0' + d % 10);
	out[2] = '/';
	out[3] = (char)('0' + m / 10);
	out[4] = (char)('0' + m % 10);
	out[5] = '/';
	out[6] = (char)('0' + y / 1000);
	out[7] = (char)('0' + y / 100 % 10);
	out[8] = (char)('0' + y / 10 % 10);
	out[9] = (char)('0' + y % 10);
	out[10] = '\0';
	return 1;
}

/* Add NAME = the LEN bytes at V (valid UTF-8) to object O. */
static void
ordertype_put(json_t *o, const char *name, const char *v, size_t len)
{
	json_t *s = json_stringn(v, len);

	if (s == NULL || json_object_set_new(o, name, s) < 0)
		fatalx("ordertype: cannot build the order fields");
}

static void
ordertype_put_num(json_t *o, const char *name, int64_t v)
{
	char buf[ORDERTYPE_NUM_SZ];
	int n = snprintf(buf, sizeof(buf), "%" PRId64, v);

	ordertype_put(o, name, buf, (size_t)n);
}

/* Always -1: the customer-facing error. */
static int ordertype_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
ordertype_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Q within the service's bounds (a quantity is at least 1 whatever the
 * service says: never a free order). */
static int
ordertype_bounds(const struct catalog_service *s, int64_t q, char *err,
                 size_t errlen)
{
	int64_t min = s->min > 1 ? s->min : 1;

	if (q < min)
		return ordertype_err(
		    err, errlen, "Quantity less than minimal %" PRId64, min);
	if (q > s->max)
		return ordertype_err(
		    err, errlen, "Quantity more than maximum %" PRId64, s->max);
	return 0;
}

/* Read field F of P into O (the forwarded fields); its number or line
 * count into VAL[F] (0 when an optional field is absent). */
static int
ordertype_field(const struct params *p, const struct catalog_service *s,
                enum ordertype_field f, json_t *o, int64_t *val, char *err,
                size_t errlen)
{
	const char *name = ordertype_fields[f].name;
	const char *v = params_get(p, name);
	char date[ORDERTYPE_DATE_SZ], *text;
	size_t len, i;
	int r;

	switch (ordertype_fields[f].kind) {
	case OK_LINK:
		if (v == NULL)
			return ordertype_err(err, errlen, "Missing link");
		len = strlen(v);
		ordertype_trim(&v, &len);
		if (len == 0)
			return ordertype_err(err, errlen, "Missing link");
		if (len > ORDERTYPE_LINK_MAX || !ordertype_utf8_ok(v, len))
			return ordertype_err(err, errlen, "Incorrect link");
		for (i = 0; i < len; i++)
			if (ordertype_is_control((unsigned char)v[i], 0))
				return ordertype_err(err, errlen,
				                     "Incorrect link");
		ordertype_put(o, name, v, len);
		return 0;
	case OK_QTY:
	case OK_POS:
	case OK_NUM:
	case OK_DELAY:
		r = ordertype_num(v, &val[f]);
		if (r == 0 && ordertype_fields[f].kind == OK_NUM)
			return 0;
		if (r == 0)
			return ordertype_err(err, errlen, "Missing %s", name);
		if (r == -2 && (f == OF_QUANTITY || f == OF_MIN || f == OF_MAX))
			return ordertype_err(
			    err, errlen, "Quantity more than maximum %" PRId64,
			    s->max < ORDERTYPE_NUM_MAX ? s->max
			                               : ORDERTYPE_NUM_MAX);
		if (r < 0 || (ordertype_fields[f].kind == OK_POS && val[f] < 1))
			return ordertype_err(err, errlen, "Incorrect %s", name);
		if (ordertype_fields[f].kind == OK_DELAY) {
			for (i = 0; i < ORDERTYPE_NELEM(ordertype_delays); i++)
				if (val[f] == ordertype_delays[i])
					break;
			if (i == ORDERTYPE_NELEM(ordertype_delays))
				return ordertype_err(
				    err, errlen,
				    "Incorrect delay: use 0, 5, 10, 15, 30, "
				    "60 or 90 (minutes)");
		}
		ordertype_put_num(o, name, val[f]);
		return 0;
	case OK_DATE:
		r = ordertype_date(v, date);
		if (r < 0)
			return ordertype_err(
			    err, errlen,
			    "Incorrect %s: use a real date as d/m/Y", name);
		if (r > 0)
			ordertype_put(o, name, date, strlen(date));
		return 0;
	case OK_TEXT:
		switch (ordertype_text(v, &text, &len, &val[f])) {
		case OT_OK:
			break;
		case OT_MISSING:
			return ordertype_err(err, errlen, "Missing %s", name);
		case OT_TOO_LONG:
			return ordertype_err(
			    err, errlen,
			    "The %s field is too long (at most %d bytes)", name,
			    ORDERTYPE_TEXT_MAX);
		case OT_TOO_MANY:
			return ordertype_err(
			    err, errlen,
			    "The %s field has too many lines (at most %d)",
			    name, ORDERTYPE_LINES_MAX);
		case OT_BAD_UTF8:
			return ordertype_err(
			    err, errlen, "Incorrect %s: not valid UTF-8", name);
		case OT_CONTROL:
			return ordertype_err(
			    err, errlen,
			    "Incorrect %s: control characters are not allowed",
			    name);
		}
		ordertype_put(o, name, text, len);
		free(text);
		return 0;
	}
	return ordertype_err(err, errlen, "Incorrect request");
}

/* Whether a runs or interval value V says "no drip-feed": absent, blank,
 * "undefined" or "null" (what JavaScript and PHP clients send for an unset
 * field), or, with ONES, 0 or 1 (one run is a plain order). */
static int
ordertype_unset(const char *v, int ones)
{
	size_t len;

	if (v == NULL)
		return 1;
	len = strlen(v);
	ordertype_trim(&v, &len);
	if (len == 0 || (len == 9 && strncasecmp(v, "undefined", 9) == 0) ||
	    (len == 4 && strncasecmp(v, "null", 4) == 0))
		return 1;
	if (!ones)
		return 0;
	while (len > 1 && *v == '0') { /* "00", "01" */
		v++;
		len--;
	}
	return len == 1 && (*v == '0' || *v == '1');
}

/* Drip-feed: runs and interval on Default services that allow it; added to
 * O.  *RUNS and *INTERVAL stay 0 when not drip-fed, which is the case
 * whenever runs is unset, 0 or 1 (ordertype.h). */
static int
ordertype_drip(const struct params *p, const struct catalog_service *s,
               const struct ordertype_rule *rule, json_t *o, int64_t *runs,
               int64_t *interval, char *err, size_t errlen)
{
	int has_interval = !ordertype_unset(params_get(p, "interval"), 0);

	if (ordertype_unset(params_get(p, "runs"), 1))
		return 0;
	if (!rule->drip || !s->dripfeed)
		return ordertype_err(err, errlen,
		                     "Drip-feed is not available for this "
		                     "service");
	if (!has_interval)
		return ordertype_err(err, errlen,
		                     "Drip-feed needs both runs and interval");
	if (ordertype_num(params_get(p, "runs"), runs) != 1 || *runs < 1)
		return ordertype_err(err, errlen, "Incorrect runs");
	if (ordertype_num(params_get(p, "interval"), interval) != 1 ||
	    *interval < 1)
		return ordertype_err(err, errlen, "Incorrect interval");
	ordertype_put_num(o, "runs", *runs);
	ordertype_put_num(o, "interval", *interval);
	return 0;
}

/* The subscription's quantity: both limits within the service's, in
 * order. */
static int
ordertype_subs(const struct catalog_service *s, const int64_t *val,
               int64_t *units, char *err, size_t errlen)
{
	int64_t n;

	if (ordertype_bounds(s, val[OF_MIN], err, errlen) < 0 ||
	    ordertype_bounds(s, val[OF_MAX], err, errlen) < 0)
		return -1;
	if (val[OF_MIN] > val[OF_MAX])
		return ordertype_err(err, errlen,
		                     "Incorrect min: more than max");
	n = val[OF_POSTS] > 0       ? val[OF_POSTS]
	    : val[OF_OLD_POSTS] > 0 ? val[OF_OLD_POSTS]
	                            : 1;
	if (__builtin_mul_overflow(val[OF_MAX], n, units))
		return ordertype_err(err, errlen, "Quantity too large");
	return 0;
}

int
ordertype_build(const struct params *p, const struct catalog_service *s,
                int decimals, struct order_spec *out, char *err, size_t errlen)
{
	const struct ordertype_rule *rule;
	int64_t val[OF__COUNT] = {0}, units = 0, runs = 0, interval = 0;
	int64_t upq;
	money_t charge;
	json_t *o = NULL;
	size_t i;
	int ret = -1;

	assert(decimals >= 0 && decimals <= MONEY_DECIMALS);
	memset(out, 0, sizeof(*out));
	if (s->rate <= 0)
		return ordertype_err(err, errlen,
		                     "This service cannot be ordered");
	rule = ordertype_rule_find(s->type);

	o = json_object();
	if (o == NULL)
		fatalx("ordertype: cannot build the order fields");
	for (i = 0; i < ORDERTYPE_RULE_FIELDS && rule->fields[i] != OF_NONE;
	     i++)
		if (ordertype_field(p, s, rule->fields[i], o, val, err,
		                    errlen) < 0)
			goto out;

	switch (rule->qty) {
	case OQ_PARAM:
		units = val[OF_QUANTITY];
		if (ordertype_bounds(s, units, err, errlen) < 0)
			goto out;
		break;
	case OQ_LINES:
		units = val[rule->lines];
		if (ordertype_bounds(s, units, err, errlen) < 0)
			goto out;
		break;
	case OQ_ONE:
		units = 1;
		break;
	case OQ_SUBS:
		if (ordertype_subs(s, val, &units, err, errlen) < 0)
			goto out;
		break;
	}
	if (ordertype_drip(p, s, rule, o, &runs, &interval, err, errlen) < 0)
		goto out;

	/* What the upstream delivers and counts remains against
	 * (ordertype.h); the charged units are the same but for
	 * Subscriptions, charged for max x posts. */
	switch (rule->qty) {
	case OQ_ONE:
		upq = 1;
		break;
	case OQ_SUBS:
		upq = val[OF_MAX];
		break;
	default:
		if (__builtin_mul_overflow(units, runs > 0 ? runs : 1, &upq)) {
			ordertype_err(err, errlen, "Quantity too large");
			goto out;
		}
		break;
	}
	if (rule->qty == OQ_ONE) {
		charge = s->rate;
	} else if (money_mul_div(s->rate, rule->qty == OQ_SUBS ? units : upq,
	                         1000, MONEY_ROUND_UP, &charge) < 0) {
		ordertype_err(err, errlen, "Quantity too large");
		goto out;
	}
	if (money_round_dec(charge, decimals, MONEY_ROUND_UP, &charge) < 0) {
		ordertype_err(err, errlen, "Quantity too large");
		goto out;
	}
	if (charge <= 0) {
		/* Unreachable from a positive rate, but never a free order. */
		ordertype_err(err, errlen, "This service cannot be ordered");
		goto out;
	}

	out->fields = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (out->fields == NULL)
		fatalx("ordertype: cannot render the order fields");
	snprintf(out->type, sizeof(out->type), "%s", rule->name);
	out->quantity = units;
	out->upstream_quantity = upq;
	out->runs = runs;
	out->interval = interval;
	out->charge = charge;
	out->rate = s->rate;
	ret = 0;
out:
	json_decref(o);
	return ret;
}

void
order_spec_clear(struct order_spec *o)
{
	if (o == NULL)
		return;
	free(o->fields);
	memset(o, 0, sizeof(*o));
}

void
ordertype_hash(int64_t service_id, const struct order_spec *o, uint8_t *hash)
{
	char id[ORDERTYPE_NUM_SZ];
	const char *fields = o->fields != NULL ? o->fields : "";
	unsigned int n = ORDERTYPE_HASH_LEN;
	EVP_MD_CTX *ctx;
	int idlen;

	/* tag NUL id NUL fields: the id's digits cannot run into the JSON. */
	idlen = snprintf(id, sizeof(id), "%" PRId64, service_id);
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, ordertype_hash_tag,
	                     sizeof(ordertype_hash_tag)) != 1 ||
	    EVP_DigestUpdate(ctx, id, (size_t)idlen + 1) != 1 ||
	    EVP_DigestUpdate(ctx, fields, strlen(fields)) != 1 ||
	    EVP_DigestFinal_ex(ctx, hash, &n) != 1)
		fatalx("ordertype: SHA-256 unavailable");
	EVP_MD_CTX_free(ctx);
}
