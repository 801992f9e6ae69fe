/* dialect.c - lenient reading of upstream panel replies (SPEC section 5).
 *
 * The rules, in the order they are applied to a body:
 *   1. an HTTP status outside 2xx, an empty or oversized body, HTML, JSON
 *      nested deeper than DIALECT_MAX_DEPTH, anything jansson refuses
 *      (truncated, trailing bytes, duplicate keys, NUL in strings) and a
 *      top level other than an object or array are faults;
 *   2. {"status":"success","data":X} (only envelope keys beside "data") is
 *      read as X;
 *   3. an object with a real "error" member, {"status":"error",...} or
 *      {"success":false,...} is a rejection, unless it also carries a usable
 *      answer, which makes it a fault;
 *   4. the expected fields are read leniently (numbers or strings, see the
 *      value readers below); a missing or unusable answer field is a fault.
 * Amounts are never held in a double: JSON numbers are turned into their
 * shortest round-tripping decimal text and parsed exactly from that.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "dialect.h"
#include "jsonx.h"
#include "xmalloc.h"

#define DIALECT_NUM_MAX 128    /* bytes of a number's text, exponent expanded */
#define DIALECT_EXP_MAX 400    /* largest decimal exponent written out */
#define DIALECT_HTML_SCAN 4096 /* bytes of an HTML body searched for a hint */
#define DIALECT_KEY_SZ 48      /* normalised status word / type name */
#define DIALECT_INT_DIGITS 18  /* digits of an integer read from text */
#define DIALECT_REAL_INT 9007199254740992.0 /* 2^53: integral doubles exact */

enum dialect_refusal {
	DIALECT_NOT_REFUSED,
	DIALECT_REFUSED_ERROR,   /* a real "error" member */
	DIALECT_REFUSED_ENVELOPE /* "status":"error" or "success":false */
};

/* ---- text ------------------------------------------------------------ */

static int
dialect_isspace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
	       c == '\v';
}

/* Length of the valid UTF-8 sequence at P (AVAIL bytes), 0 if invalid. */
static size_t
dialect_seqlen(const unsigned char *p, size_t avail)
{
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (n > avail)
		return 0;
	for (i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0) ||
	    (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))
		return 0;
	return n;
}

/* Copy the text S (LEN bytes) into DST (SZ > 0 bytes, NUL-terminated):
 * invalid UTF-8, C0 and C1 control characters and DEL are dropped, except
 * that tab, CR and LF become one space (kept as they are with KEEP_LF);
 * white space is trimmed at both ends; the copy stops at a character
 * boundary when DST is full.  Returns the length written. */
static size_t
dialect_clean(char *dst, size_t sz, const char *s, size_t len, int keep_lf)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0, n, lead;
	unsigned char c;

	while (i < len) {
		c = p[i];
		if ((n = dialect_seqlen(p + i, len - i)) == 0) {
			i++;
			continue;
		}
		if (n == 2 && c == 0xc2 && p[i + 1] < 0xa0) {
			i += 2; /* C1 control */
			continue;
		}
		if (n == 1 && (c < 0x20 || c == 0x7f)) {
			i++;
			if (c != '\t' && c != '\n' && c != '\r')
				continue;
			if (!keep_lf) {
				if (o > 0 && dst[o - 1] == ' ')
					continue;
				c = ' ';
			}
			if (o + 1 >= sz)
				break;
			dst[o++] = (char)c;
			continue;
		}
		if (o + n >= sz)
			break;
		memcpy(dst + o, p + i, n);
		o += n;
		i += n;
	}
	while (o > 0 && dialect_isspace(dst[o - 1]))
		o--;
	for (lead = 0; lead < o && dialect_isspace(dst[lead]); lead++)
		;
	if (lead > 0)
		memmove(dst, dst + lead, o - lead);
	dst[o - lead] = '\0';
	return o - lead;
}

/* Format into MSG (DIALECT_MSG_SZ bytes), cleaned like any kept text. */
static void dialect_msg(char *msg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
dialect_msg(char *msg, const char *fmt, ...)
{
	char tmp[DIALECT_MSG_SZ * 2];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(tmp))
		n = sizeof(tmp) - 1;
	dialect_clean(msg, DIALECT_MSG_SZ, tmp, (size_t)n, 0);
}

static void
dialect_trim(const char **s, size_t *len)
{
	while (*len > 0 && dialect_isspace(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && dialect_isspace((*s)[*len - 1]))
		(*len)--;
}

/* Lower-case S without spaces, '_' and '-' into KEY.  -1 if too long. */
static int
dialect_key(const char *s, size_t len, char *key, size_t sz)
{
	size_t i, o = 0;
	char c;

	for (i = 0; i < len; i++) {
		c = s[i];
		if (c == ' ' || c == '_' || c == '-' || c == '\t')
			continue;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (o + 1 >= sz)
			return -1;
		key[o++] = c;
	}
	key[o] = '\0';
	return 0;
}

/* Whether the string V normalises to one of the NULL-terminated WORDS. */
static int
dialect_word_in(const json_t *v, const char *const *words)
{
	char key[DIALECT_KEY_SZ];

	if (!json_is_string(v) ||
	    dialect_key(json_string_value(v), json_string_length(v), key,
	                sizeof(key)) < 0)
		return 0;
	for (; *words != NULL; words++)
		if (strcmp(key, *words) == 0)
			return 1;
	return 0;
}

static const char *const dialect_fail_words[] = {"error", "fail", "failed",
                                                 "failure", NULL};
static const char *const dialect_ok_words[] = {"success", "ok", NULL};
static const char *const dialect_no_words[] = {"0", "false", "no", NULL};
static const char *const dialect_envelope_keys[] = {
    "status", "success", "message", "msg", "code", "data", NULL};

/* ---- status words and service types ---------------------------------- */

static const struct {
	const char *key;
	enum dialect_status st;
} dialect_status_words[] = {
    {"pending", DIALECT_STATUS_PENDING},
    {"inprogress", DIALECT_STATUS_IN_PROGRESS},
    {"processing", DIALECT_STATUS_PROCESSING},
    {"completed", DIALECT_STATUS_COMPLETED},
    {"complete", DIALECT_STATUS_COMPLETED},
    {"partial", DIALECT_STATUS_PARTIAL},
    {"canceled", DIALECT_STATUS_CANCELED},
    {"cancelled", DIALECT_STATUS_CANCELED},
    {"refunded", DIALECT_STATUS_REFUNDED},
    {"fail", DIALECT_STATUS_FAIL},
    {"failed", DIALECT_STATUS_FAIL},
    {"error", DIALECT_STATUS_FAIL},
};

static const struct {
	const char *key;
	enum dialect_refill_status st;
} dialect_refill_words[] = {
    {"pending", DIALECT_REFILL_PENDING},
    {"inprogress", DIALECT_REFILL_IN_PROGRESS},
    {"processing", DIALECT_REFILL_IN_PROGRESS},
    {"completed", DIALECT_REFILL_COMPLETED},
    {"complete", DIALECT_REFILL_COMPLETED},
    {"rejected", DIALECT_REFILL_REJECTED},
    {"error", DIALECT_REFILL_ERROR},
    {"fail", DIALECT_REFILL_ERROR},
    {"failed", DIALECT_REFILL_ERROR},
};

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

#define DIALECT_NELEM(a) (sizeof(a) / sizeof((a)[0]))

enum dialect_status
dialect_status_word(const char *word)
{
	char key[DIALECT_KEY_SZ];
	size_t i;

	if (word == NULL ||
	    dialect_key(word, strlen(word), key, sizeof(key)) < 0)
		return DIALECT_STATUS_UNKNOWN;
	for (i = 0; i < DIALECT_NELEM(dialect_status_words); i++)
		if (strcmp(key, dialect_status_words[i].key) == 0)
			return dialect_status_words[i].st;
	return DIALECT_STATUS_UNKNOWN;
}

enum dialect_refill_status
dialect_refill_status_word(const char *word)
{
	char key[DIALECT_KEY_SZ];
	size_t i;

	if (word == NULL ||
	    dialect_key(word, strlen(word), key, sizeof(key)) < 0)
		return DIALECT_REFILL_UNKNOWN;
	for (i = 0; i < DIALECT_NELEM(dialect_refill_words); i++)
		if (strcmp(key, dialect_refill_words[i].key) == 0)
			return dialect_refill_words[i].st;
	return DIALECT_REFILL_UNKNOWN;
}

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

/* ---- value readers --------------------------------------------------- */

/* An integer from text: optional sign, 1..18 digits, optionally ".000". */
static int
dialect_int_text(const char *s, size_t len, int64_t *out)
{
	int64_t v = 0;
	size_t i = 0, nd = 0;
	int neg = 0;

	dialect_trim(&s, &len);
	if (i < len && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		if (++nd > DIALECT_INT_DIGITS)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (nd == 0)
		return -1;
	if (i < len && s[i] == '.')
		for (i++; i < len && s[i] == '0'; i++)
			;
	if (i != len)
		return -1;
	*out = neg ? -v : v;
	return 0;
}

/* An integer from a JSON integer, an integral real up to 2^53, or text. */
static int
dialect_int(const json_t *v, int64_t *out)
{
	double d;

	if (v == NULL)
		return -1;
	switch (json_typeof(v)) {
	case JSON_INTEGER:
		*out = (int64_t)json_integer_value(v);
		return 0;
	case JSON_REAL:
		d = json_real_value(v);
		if (!(d >= -DIALECT_REAL_INT && d <= DIALECT_REAL_INT) ||
		    d != (double)(int64_t)d)
			return -1;
		*out = (int64_t)d;
		return 0;
	case JSON_STRING:
		return dialect_int_text(json_string_value(v),
		                        json_string_length(v), out);
	default:
		return -1;
	}
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

/* Write a decimal with an exponent ("1.5e-3", "1.0E-5") out in plain form
 * ("0.0015") into BUF, exactly, by moving the point in the digit text. */
static int
dialect_expand(const char *s, size_t len, char *buf, size_t sz)
{
	char digits[DIALECT_NUM_MAX];
	size_t i = 0, nd = 0, intd = 0, o = 0;
	long e = 0, point, k;
	int neg = 0, eneg = 0, seen_point = 0;

#define DIALECT_PUT(ch)                                                        \
	do {                                                                   \
		if (o + 1 >= sz)                                               \
			return -1;                                             \
		buf[o++] = (ch);                                               \
	} while (0)

	if (i < len && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	for (; i < len; i++) {
		if (s[i] >= '0' && s[i] <= '9') {
			if (nd >= sizeof(digits))
				return -1;
			digits[nd++] = s[i];
			if (!seen_point)
				intd++;
		} else if (s[i] == '.' && !seen_point) {
			seen_point = 1;
		} else {
			break;
		}
	}
	if (nd == 0 || i >= len || (s[i] != 'e' && s[i] != 'E'))
		return -1;
	i++;
	if (i < len && (s[i] == '-' || s[i] == '+'))
		eneg = s[i++] == '-';
	if (i >= len)
		return -1;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		e = e * 10 + (s[i] - '0');
		if (e > DIALECT_EXP_MAX)
			return -1;
	}
	point = (long)intd + (eneg ? -e : e);
	if (neg)
		DIALECT_PUT('-');
	if (point <= 0) {
		DIALECT_PUT('0');
		DIALECT_PUT('.');
		for (k = 0; k < -point; k++)
			DIALECT_PUT('0');
		for (k = 0; k < (long)nd; k++)
			DIALECT_PUT(digits[k]);
	} else if ((size_t)point >= nd) {
		for (k = 0; k < (long)nd; k++)
			DIALECT_PUT(digits[k]);
		for (; k < point; k++)
			DIALECT_PUT('0');
	} else {
		for (k = 0; k < point; k++)
			DIALECT_PUT(digits[k]);
		DIALECT_PUT('.');
		for (; k < (long)nd; k++)
			DIALECT_PUT(digits[k]);
	}
	buf[o] = '\0';
	return 0;
#undef DIALECT_PUT
}

/* Money from decimal text, an exponent allowed ("1.0E-5" is what PHP makes
 * of 0.00001). */
static int
dialect_money_text(const char *s, size_t len, enum money_round mode,
                   money_t *out)
{
	char buf[DIALECT_NUM_MAX];

	dialect_trim(&s, &len);
	if (len == 0 || len >= sizeof(buf))
		return -1;
	if (memchr(s, 'e', len) != NULL || memchr(s, 'E', len) != NULL) {
		if (dialect_expand(s, len, buf, sizeof(buf)) < 0)
			return -1;
		s = buf;
		len = strlen(buf);
	}
	return money_parse_n(s, len, mode, out);
}

/* Money from a JSON string or number; MODE rounds past 8 decimals. */
static int
dialect_money(const json_t *v, enum money_round mode, money_t *out)
{
	char buf[DIALECT_NUM_MAX], real[JSONX_REAL_MAX];
	int n;

	if (v == NULL)
		return -1;
	switch (json_typeof(v)) {
	case JSON_STRING:
		return dialect_money_text(json_string_value(v),
		                          json_string_length(v), mode, out);
	case JSON_INTEGER:
		n = snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
		             json_integer_value(v));
		if (n < 0 || (size_t)n >= sizeof(buf))
			return -1;
		return money_parse_n(buf, (size_t)n, mode, out);
	case JSON_REAL:
		if ((n = jsonx_real(json_real_value(v), real)) < 0)
			return -1;
		return money_parse_n(real, (size_t)n, mode, out);
	default:
		return -1;
	}
}

/* true/false, 0/1, "0"/"1", "true"/"false", "yes"/"no". */
static int
dialect_bool(const json_t *v, int *out)
{
	static const char *const yes[] = {"1", "true", "yes", NULL};

	if (v == NULL)
		return -1;
	switch (json_typeof(v)) {
	case JSON_TRUE:
		*out = 1;
		return 0;
	case JSON_FALSE:
		*out = 0;
		return 0;
	case JSON_INTEGER:
		if (json_integer_value(v) != 0 && json_integer_value(v) != 1)
			return -1;
		*out = json_integer_value(v) == 1;
		return 0;
	case JSON_STRING:
		if (dialect_word_in(v, yes))
			*out = 1;
		else if (dialect_word_in(v, dialect_no_words))
			*out = 0;
		else
			return -1;
		return 0;
	default:
		return -1;
	}
}

/* An upstream ID: a positive JSON integer (or integral real), or a string
 * of 1..DIALECT_ID_MAX printable ASCII bytes, not all zeros; only digits
 * when DIGITS. */
static int
dialect_id(const json_t *v, int digits, char out[DIALECT_ID_SZ])
{
	char buf[32];
	const char *s;
	size_t len, i, nzero = 0;
	int64_t n;
	unsigned char c;

	if (v == NULL)
		return -1;
	if (json_is_integer(v) || json_is_real(v)) {
		if (dialect_int(v, &n) < 0 || n <= 0)
			return -1;
		snprintf(buf, sizeof(buf), "%lld", (long long)n);
		s = buf;
		len = strlen(buf);
	} else if (json_is_string(v)) {
		s = json_string_value(v);
		len = json_string_length(v);
		dialect_trim(&s, &len);
	} else {
		return -1;
	}
	if (len == 0 || len > DIALECT_ID_MAX)
		return -1;
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c < 0x21 || c > 0x7e)
			return -1;
		if (digits && (c < '0' || c > '9'))
			return -1;
		if (c == '0')
			nzero++;
	}
	if (nzero == len)
		return -1;
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

/* A short currency code: 1..8 printable ASCII bytes. */
static int
dialect_currency(const json_t *v, char out[DIALECT_CURRENCY_SZ])
{
	const char *s;
	size_t len, i;

	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	len = json_string_length(v);
	dialect_trim(&s, &len);
	if (len == 0 || len >= DIALECT_CURRENCY_SZ)
		return -1;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return -1;
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

/* Cleaned text of the string V into DST; -1 if V is no string or cleans
 * to nothing. */
static int
dialect_text(const json_t *v, char *dst, size_t sz)
{
	if (!json_is_string(v))
		return -1;
	return dialect_clean(dst, sz, json_string_value(v),
	                     json_string_length(v), 0) > 0
	           ? 0
	           : -1;
}

/* ---- errors ---------------------------------------------------------- */

/* The text of a "message"-like member of O, into MSG; -1 if none. */
static int
dialect_message(const json_t *o, char *msg)
{
	static const char *const keys[] = {"message",     "msg",  "error",
	                                   "description", "text", NULL};
	const char *const *k;

	if (!json_is_object(o))
		return -1;
	for (k = keys; *k != NULL; k++)
		if (dialect_text(json_object_get(o, *k), msg, DIALECT_MSG_SZ) ==
		    0)
			return 0;
	return -1;
}

/* Whether V, the value of an "error" member of PARENT (or a per-item error
 * object), reports an error: null, false, 0, "", "0", "false" and [] do
 * not.  The text goes into MSG: V itself, else PARENT's message, else
 * "error". */
static int
dialect_error_value(const json_t *v, const json_t *parent, char *msg)
{
	static const char *const none[] = {"", "0", "false", "none", NULL};

	if (v == NULL)
		return 0;
	switch (json_typeof(v)) {
	case JSON_NULL:
	case JSON_FALSE:
		return 0;
	case JSON_INTEGER:
		if (json_integer_value(v) == 0)
			return 0;
		break;
	case JSON_REAL:
		if (json_real_value(v) == 0.0)
			return 0;
		break;
	case JSON_STRING:
		if (dialect_word_in(v, none))
			return 0;
		if (dialect_text(v, msg, DIALECT_MSG_SZ) == 0)
			return 1;
		break;
	case JSON_ARRAY:
		if (json_array_size(v) == 0)
			return 0;
		if (dialect_text(json_array_get(v, 0), msg, DIALECT_MSG_SZ) ==
		    0)
			return 1;
		break;
	case JSON_OBJECT:
		if (dialect_message(v, msg) == 0)
			return 1;
		break;
	case JSON_TRUE:
		break;
	}
	if (dialect_message(parent, msg) < 0)
		dialect_msg(msg, "error");
	return 1;
}

/* Whether the object O refuses the request; the text goes into MSG.  With
 * STATUS_WORD the action's own "status" member is an order or refill
 * status, so {"status":"error"} is an envelope only when it carries a
 * message and no order fields. */
static enum dialect_refusal
dialect_refused(const json_t *o, int status_word, char *msg)
{
	static const char *const env_error[] = {"error", NULL};
	const json_t *v;
	int b;

	if (!json_is_object(o))
		return DIALECT_NOT_REFUSED;
	if (dialect_error_value(json_object_get(o, "error"), o, msg))
		return DIALECT_REFUSED_ERROR;
	v = json_object_get(o, "status");
	if (status_word) {
		if (dialect_word_in(v, env_error) &&
		    json_object_get(o, "charge") == NULL &&
		    json_object_get(o, "remains") == NULL &&
		    json_object_get(o, "start_count") == NULL &&
		    dialect_message(o, msg) == 0)
			return DIALECT_REFUSED_ENVELOPE;
	} else if (dialect_word_in(v, dialect_fail_words)) {
		if (dialect_message(o, msg) < 0)
			dialect_msg(msg, "error");
		return DIALECT_REFUSED_ENVELOPE;
	}
	v = json_object_get(o, "success");
	if (dialect_bool(v, &b) == 0 && b == 0) {
		if (dialect_message(o, msg) < 0)
			dialect_msg(msg, "request failed");
		return DIALECT_REFUSED_ENVELOPE;
	}
	return DIALECT_NOT_REFUSED;
}

/* ---- loading --------------------------------------------------------- */

/* A fault reason for an HTML body: its <title>, or its first text. */
static void
dialect_html_reason(const char *s, size_t len, char *msg)
{
	char text[DIALECT_MSG_SZ], clean[DIALECT_MSG_SZ];
	size_t n = len < DIALECT_HTML_SCAN ? len : DIALECT_HTML_SCAN, i, j;
	size_t o = 0;
	int in_tag = 0;

	for (i = 0; i + 7 <= n; i++) {
		if (strncasecmp(s + i, "<title>", 7) != 0)
			continue;
		for (j = i + 7; j < n && s[j] != '<'; j++)
			;
		if (dialect_clean(clean, sizeof(clean), s + i + 7, j - i - 7,
		                  0) > 0) {
			dialect_msg(msg, "HTML page, not JSON: %s", clean);
			return;
		}
		break;
	}
	for (i = 0; i < n && o + 1 < sizeof(text); i++) {
		if (s[i] == '<')
			in_tag = 1;
		else if (s[i] == '>')
			in_tag = 0;
		else if (!in_tag)
			text[o++] = s[i];
	}
	if (dialect_clean(clean, sizeof(clean), text, o, 0) > 0)
		dialect_msg(msg, "HTML, not JSON: %s", clean);
	else
		dialect_msg(msg, "HTML, not JSON");
}

/* Check the transport facts and parse BODY (at most MAX bytes).  Returns
 * the document (an object or array; the caller json_decref()s it), or NULL
 * with the reason in MSG. */
static json_t *
dialect_load(int http, const char *body, size_t len, size_t max, char *msg)
{
	json_error_t err;
	json_t *root;

	if (http < 200 || http > 299) {
		dialect_msg(msg, "HTTP status %d", http);
		return NULL;
	}
	if (len > max) {
		dialect_msg(msg, "reply of %zu bytes is over the %zu limit",
		            len, max);
		return NULL;
	}
	if (body == NULL)
		len = 0;
	if (len >= 3 && memcmp(body, "\xef\xbb\xbf", 3) == 0) {
		body += 3;
		len -= 3;
	}
	if (len > 0)
		dialect_trim(&body, &len);
	if (len == 0) {
		dialect_msg(msg, "empty reply");
		return NULL;
	}
	if (body[0] == '<') {
		dialect_html_reason(body, len, msg);
		return NULL;
	}
	if (jsonx_too_deep(body, len, DIALECT_MAX_DEPTH)) {
		dialect_msg(msg, "JSON nested deeper than %d",
		            DIALECT_MAX_DEPTH);
		return NULL;
	}
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
	                  &err);
	if (root == NULL) {
		dialect_msg(msg, "not JSON: %s at byte %d", err.text,
		            err.position);
		return NULL;
	}
	if (!json_is_object(root) && !json_is_array(root)) {
		dialect_msg(msg,
		            "JSON %s where an object or array was expected",
		            json_is_string(root) ? "string" : "scalar");
		json_decref(root);
		return NULL;
	}
	return root;
}

/* {"status":"success","data":X} -> X when every other key is an envelope
 * key; otherwise O itself.  Borrowed. */
static json_t *
dialect_unwrap(json_t *o)
{
	const char *key;
	const char *const *k;
	json_t *data, *v;

	if (!json_is_object(o))
		return o;
	data = json_object_get(o, "data");
	if (!json_is_object(data) && !json_is_array(data))
		return o;
	json_object_foreach(o, key, v)
	{
		for (k = dialect_envelope_keys; *k != NULL; k++)
			if (strcmp(key, *k) == 0)
				break;
		if (*k == NULL)
			return o;
	}
	return data;
}

/* Load, unwrap, and insist on an object. */
static json_t *
dialect_load_object(int http, const char *body, size_t len, json_t **o,
                    char *msg)
{
	json_t *root;

	if ((root = dialect_load(http, body, len, DIALECT_MAX_BODY, msg)) ==
	    NULL)
		return NULL;
	*o = dialect_unwrap(root);
	if (!json_is_object(*o)) {
		dialect_msg(msg, "JSON array where an object was expected");
		json_decref(root);
		return NULL;
	}
	return root;
}

/* ---- order status ---------------------------------------------------- */

/* Read the fields of one order's status from O; -1 (reason in WHY) when
 * there is no status word. */
static int
dialect_order_status(const json_t *o, struct dialect_order_status *st,
                     char *why)
{
	const json_t *v;
	int64_t n;

	memset(st, 0, sizeof(*st));
	v = json_object_get(o, "status");
	if (!json_is_string(v)) {
		dialect_msg(why, v == NULL ? "no status in reply"
		                           : "status is not a string");
		return -1;
	}
	if (dialect_text(v, st->status_raw, sizeof(st->status_raw)) < 0) {
		dialect_msg(why, "empty status");
		return -1;
	}
	st->status = dialect_status_word(st->status_raw);

	if (dialect_money(json_object_get(o, "charge"), MONEY_ROUND_UP,
	                  &st->charge) == 0 &&
	    st->charge >= 0)
		st->has_charge = 1;
	else
		st->charge = 0;
	if (dialect_int(json_object_get(o, "start_count"), &n) == 0 && n >= 0) {
		st->has_start_count = 1;
		st->start_count = n;
	}
	v = json_object_get(o, "remains");
	if (dialect_int(v, &n) == 0) {
		st->has_remains = 1;
		st->remains = n;
	} else if (v != NULL) {
		st->remains_unknown = 1; /* "Unknown", null, "" */
	}
	if (dialect_currency(json_object_get(o, "currency"), st->currency) == 0)
		st->has_currency = 1;
	return 0;
}

/* Whether O carries a usable status word besides a refusal. */
static int
dialect_has_status_word(const json_t *o)
{
	const json_t *v = json_object_get(o, "status");
	char tmp[DIALECT_WORD_SZ];

	return dialect_text(v, tmp, sizeof(tmp)) == 0 &&
	       !dialect_word_in(v, dialect_fail_words);
}

/* ---- single-object replies ------------------------------------------- */

enum dialect_result
dialect_add(int http, const char *body, size_t len, struct dialect_add *out)
{
	enum dialect_result r;
	json_t *root, *o;
	char err[DIALECT_MSG_SZ];
	int has;

	memset(out, 0, sizeof(*out));
	if ((root = dialect_load_object(http, body, len, &o, out->msg)) == NULL)
		return DIALECT_FAULT;
	has = dialect_id(json_object_get(o, "order"), 0, out->order) == 0;
	if (dialect_refused(o, 0, err) != DIALECT_NOT_REFUSED) {
		if (has) {
			dialect_msg(out->msg,
			            "reply has both an order ID and "
			            "an error: %s",
			            err);
			out->order[0] = '\0';
			r = DIALECT_FAULT;
		} else {
			memcpy(out->msg, err, sizeof(err));
			r = DIALECT_REJECTED;
		}
	} else if (has) {
		r = DIALECT_OK;
	} else {
		dialect_msg(out->msg, json_object_get(o, "order") == NULL
		                          ? "no order ID in reply"
		                          : "unusable order ID in reply");
		r = DIALECT_FAULT;
	}
	json_decref(root);
	return r;
}

enum dialect_result
dialect_balance(int http, const char *body, size_t len,
                struct dialect_balance *out)
{
	enum dialect_result r;
	json_t *root, *o;
	char err[DIALECT_MSG_SZ];
	int has;

	memset(out, 0, sizeof(*out));
	if ((root = dialect_load_object(http, body, len, &o, out->msg)) == NULL)
		return DIALECT_FAULT;
	has = dialect_money(json_object_get(o, "balance"), MONEY_ROUND_DOWN,
	                    &out->balance) == 0;
	if (dialect_refused(o, 0, err) != DIALECT_NOT_REFUSED) {
		if (has) {
			dialect_msg(out->msg,
			            "reply has both a balance and "
			            "an error: %s",
			            err);
			r = DIALECT_FAULT;
		} else {
			memcpy(out->msg, err, sizeof(err));
			r = DIALECT_REJECTED;
		}
	} else if (has) {
		out->has_currency =
		    dialect_currency(json_object_get(o, "currency"),
		                     out->currency) == 0;
		r = DIALECT_OK;
	} else {
		dialect_msg(out->msg, json_object_get(o, "balance") == NULL
		                          ? "no balance in reply"
		                          : "unusable balance in reply");
		r = DIALECT_FAULT;
	}
	if (r != DIALECT_OK)
		out->balance = 0;
	json_decref(root);
	return r;
}

enum dialect_result
dialect_status(int http, const char *body, size_t len,
               struct dialect_status_reply *out)
{
	enum dialect_result r;
	enum dialect_refusal ref;
	json_t *root, *o;
	char err[DIALECT_MSG_SZ];
	int has;

	memset(out, 0, sizeof(*out));
	if ((root = dialect_load_object(http, body, len, &o, out->msg)) == NULL)
		return DIALECT_FAULT;
	ref = dialect_refused(o, 1, err);
	has = dialect_order_status(o, &out->st, out->msg) == 0;
	if (ref != DIALECT_NOT_REFUSED) {
		if (ref == DIALECT_REFUSED_ERROR &&
		    dialect_has_status_word(o)) {
			dialect_msg(out->msg,
			            "reply has both a status and "
			            "an error: %s",
			            err);
			r = DIALECT_FAULT;
		} else {
			memcpy(out->msg, err, sizeof(err));
			r = DIALECT_REJECTED;
		}
	} else {
		r = has ? DIALECT_OK : DIALECT_FAULT;
	}
	if (r != DIALECT_OK)
		memset(&out->st, 0, sizeof(out->st));
	json_decref(root);
	return r;
}

/* The value of a "refill" member: a refill ID, an error object or a bare
 * error string. */
static enum dialect_item
dialect_refill_value(const json_t *v, char refill[DIALECT_ID_SZ], char *msg)
{
	if (v == NULL || json_is_null(v)) {
		dialect_msg(msg, "no refill ID in reply");
		return DIALECT_ITEM_FAULT;
	}
	if (dialect_id(v, 1, refill) == 0)
		return DIALECT_ITEM_OK;
	refill[0] = '\0';
	if (json_is_object(v)) {
		if (dialect_error_value(json_object_get(v, "error"), v, msg))
			return DIALECT_ITEM_REJECTED;
	} else if (json_is_string(v) &&
	           dialect_text(v, msg, DIALECT_MSG_SZ) == 0) {
		return DIALECT_ITEM_REJECTED;
	}
	dialect_msg(msg, "unusable refill ID in reply");
	return DIALECT_ITEM_FAULT;
}

/* One refill answer: an object with "refill" (or a refusal), or the bare
 * value of a keyed reply. */
static enum dialect_item
dialect_refill_elem(const json_t *e, char refill[DIALECT_ID_SZ], char *msg)
{
	char err[DIALECT_MSG_SZ];
	const json_t *v;

	if (!json_is_object(e))
		return dialect_refill_value(e, refill, msg);
	v = json_object_get(e, "refill");
	if (dialect_refused(e, 0, err) != DIALECT_NOT_REFUSED) {
		if (dialect_id(v, 1, refill) == 0) {
			refill[0] = '\0';
			dialect_msg(msg,
			            "reply has both a refill ID and an "
			            "error: %s",
			            err);
			return DIALECT_ITEM_FAULT;
		}
		memcpy(msg, err, sizeof(err));
		return DIALECT_ITEM_REJECTED;
	}
	return dialect_refill_value(v, refill, msg);
}

static enum dialect_result
dialect_item_result(enum dialect_item it)
{
	switch (it) {
	case DIALECT_ITEM_OK:
		return DIALECT_OK;
	case DIALECT_ITEM_REJECTED:
		return DIALECT_REJECTED;
	default:
		return DIALECT_FAULT;
	}
}

enum dialect_result
dialect_refill(int http, const char *body, size_t len,
               struct dialect_refill *out)
{
	enum dialect_result r;
	json_t *root, *o;

	memset(out, 0, sizeof(*out));
	if ((root = dialect_load_object(http, body, len, &o, out->msg)) == NULL)
		return DIALECT_FAULT;
	r = dialect_item_result(dialect_refill_elem(o, out->refill, out->msg));
	json_decref(root);
	return r;
}

/* One refill status answer: {"status":S} (S a word or an error object), a
 * refusal, or the bare word of a keyed reply. */
static enum dialect_item
dialect_refill_status_elem(const json_t *e, enum dialect_refill_status *st,
                           char raw[DIALECT_WORD_SZ], char *msg)
{
	char err[DIALECT_MSG_SZ];
	enum dialect_refusal ref;
	const json_t *v = e;

	*st = DIALECT_REFILL_UNKNOWN;
	raw[0] = '\0';
	if (json_is_object(e)) {
		ref = dialect_refused(e, 1, err);
		if (ref != DIALECT_NOT_REFUSED) {
			if (ref == DIALECT_REFUSED_ERROR &&
			    dialect_has_status_word(e)) {
				dialect_msg(msg,
				            "reply has both a status and "
				            "an error: %s",
				            err);
				return DIALECT_ITEM_FAULT;
			}
			memcpy(msg, err, sizeof(err));
			return DIALECT_ITEM_REJECTED;
		}
		v = json_object_get(e, "status");
	}
	if (json_is_string(v)) {
		if (dialect_text(v, raw, DIALECT_WORD_SZ) < 0) {
			dialect_msg(msg, "empty status");
			return DIALECT_ITEM_FAULT;
		}
		*st = dialect_refill_status_word(raw);
		return DIALECT_ITEM_OK;
	}
	if (json_is_object(v) &&
	    dialect_error_value(json_object_get(v, "error"), v, msg))
		return DIALECT_ITEM_REJECTED;
	dialect_msg(msg, v == NULL ? "no status in reply"
	                           : "unusable status in reply");
	return DIALECT_ITEM_FAULT;
}

enum dialect_result
dialect_refill_status(int http, const char *body, size_t len,
                      struct dialect_refill_status_reply *out)
{
	enum dialect_result r;
	json_t *root, *o;

	memset(out, 0, sizeof(*out));
	if ((root = dialect_load_object(http, body, len, &o, out->msg)) == NULL)
		return DIALECT_FAULT;
	r = dialect_item_result(dialect_refill_status_elem(
	    o, &out->status, out->status_raw, out->msg));
	if (r != DIALECT_OK) {
		out->status = DIALECT_REFILL_UNKNOWN;
		out->status_raw[0] = '\0';
	}
	json_decref(root);
	return r;
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

/* ---- multi replies --------------------------------------------------- */

/* Where each requested ID's answer is in a multi reply. */
struct dialect_match {
	json_t *root;       /* the document, owned */
	const char *idkey;  /* the member an answer names its ID in */
	json_t **found;     /* per requested ID: its element, or NULL */
	unsigned char *dup; /* per requested ID: answered twice */
	size_t nextra;
	int single; /* one ID, answered in the single-order form */
};

static int
dialect_ids_valid(const char *const *ids, size_t nids, char *msg)
{
	size_t i, len;

	if (ids == NULL || nids == 0 || nids > DIALECT_MAX_MULTI) {
		dialect_msg(msg, "%zu IDs requested, not 1..%d", nids,
		            DIALECT_MAX_MULTI);
		return -1;
	}
	for (i = 0; i < nids; i++) {
		if (ids[i] == NULL || (len = strlen(ids[i])) == 0 ||
		    len > DIALECT_ID_MAX) {
			dialect_msg(msg,
			            "requested ID %zu is empty or too "
			            "long",
			            i);
			return -1;
		}
	}
	return 0;
}

/* Match an array reply's items to IDS by their IDKEY member. */
static int
dialect_match_array(struct dialect_match *m, json_t *list, const char *idkey,
                    const char *const *ids, size_t nids, char *msg)
{
	char id[DIALECT_ID_SZ];
	size_t k, i, n = json_array_size(list);
	json_t *e, *idv;
	int matched;

	if (n > DIALECT_MAX_MULTI) {
		dialect_msg(msg, "%zu items in reply, over the %d limit", n,
		            DIALECT_MAX_MULTI);
		return -1;
	}
	json_array_foreach(list, k, e)
	{
		idv = json_is_object(e) ? json_object_get(e, idkey) : NULL;
		if (idv == NULL && n == 1 && nids == 1 && json_is_object(e)) {
			m->found[0] = e; /* [{"cancel":1}] for one ID */
			continue;
		}
		if (dialect_id(idv, 0, id) < 0) {
			m->nextra++;
			continue;
		}
		matched = 0;
		for (i = 0; i < nids; i++) {
			if (strcmp(ids[i], id) != 0)
				continue;
			if (m->found[i] != NULL)
				m->dup[i] = 1;
			else
				m->found[i] = e;
			matched = 1;
		}
		if (!matched)
			m->nextra++;
	}
	return 0;
}

/* The common part of the multi parsers: load, unwrap, and find each
 * requested ID's answer.  Returns DIALECT_OK with M filled; or the whole
 * reply's REJECTED / FAULT with the text in MSG.  STATUS_WORD as for
 * dialect_refused(). */
static enum dialect_result
dialect_match(int http, const char *body, size_t len, const char *idkey,
              int status_word, const char *const *ids, size_t nids,
              struct dialect_match *m, char *msg)
{
	json_t *list;
	size_t i, nfound = 0, nmatched = 0;

	memset(m, 0, sizeof(*m));
	m->idkey = idkey;
	if ((m->root = dialect_load(http, body, len, DIALECT_MAX_BODY, msg)) ==
	    NULL)
		return DIALECT_FAULT;
	m->found = xcalloc(nids, sizeof(*m->found));
	m->dup = xcalloc(nids, 1);
	list = dialect_unwrap(m->root);
	if (json_is_array(list)) {
		if (dialect_match_array(m, list, idkey, ids, nids, msg) < 0)
			return DIALECT_FAULT;
	} else {
		for (i = 0; i < nids; i++)
			if ((m->found[i] = json_object_get(list, ids[i])) !=
			    NULL)
				nmatched++;
		if (nmatched == 0 && nids == 1) {
			/* The single-order form; the item parser reads
			 * refusals itself. */
			m->found[0] = list;
			m->single = 1;
			return DIALECT_OK;
		}
		if (dialect_refused(list, status_word, msg) !=
		    DIALECT_NOT_REFUSED) {
			if (nmatched == 0)
				return DIALECT_REJECTED;
			dialect_msg(msg, "reply has both answers and an error");
			return DIALECT_FAULT;
		}
		if (json_object_size(list) > nmatched)
			m->nextra = json_object_size(list) - nmatched;
	}
	for (i = 0; i < nids; i++)
		if (m->found[i] != NULL)
			nfound++;
	if (nfound == 0) {
		dialect_msg(msg, "reply answers none of the %zu IDs", nids);
		return DIALECT_FAULT;
	}
	return DIALECT_OK;
}

static void
dialect_match_free(struct dialect_match *m)
{
	json_decref(m->root);
	free(m->found);
	free(m->dup);
	memset(m, 0, sizeof(*m));
}

/* Whether E, the answer found for ID, names another ID in its IDKEY member
 * (the single form's {"order":"6",...} asked for order 5, or an item keyed
 * "5" holding "order":"6"); the reason goes into MSG.  An absent or
 * unreadable member names nothing. */
static int
dialect_names_other(const json_t *e, const char *idkey, const char *id,
                    char *msg)
{
	char named[DIALECT_ID_SZ];

	if (!json_is_object(e) ||
	    dialect_id(json_object_get(e, idkey), 0, named) < 0 ||
	    strcmp(named, id) == 0)
		return 0;
	dialect_msg(msg, "answer names %s %s, not %s", idkey, named, id);
	return 1;
}

/* The outcome for item I (asked as ID) before its element is read:
 * missing, answered twice, answered for another ID, or the whole reply's
 * outcome.  Returns 1 when that settles it. */
static int
dialect_item_settled(enum dialect_result whole, const struct dialect_match *m,
                     size_t i, const char *id, const char *wholemsg,
                     enum dialect_item *it, char *msg)
{
	if (whole != DIALECT_OK) {
		*it = whole == DIALECT_REJECTED ? DIALECT_ITEM_REJECTED
		                                : DIALECT_ITEM_FAULT;
		memcpy(msg, wholemsg, DIALECT_MSG_SZ);
		return 1;
	}
	if (m->found[i] == NULL) {
		*it = DIALECT_ITEM_MISSING;
		dialect_msg(msg, "not in reply");
		return 1;
	}
	if (m->dup[i]) {
		*it = DIALECT_ITEM_FAULT;
		dialect_msg(msg, "answered more than once");
		return 1;
	}
	if (dialect_names_other(m->found[i], m->idkey, id, msg)) {
		*it = DIALECT_ITEM_FAULT;
		return 1;
	}
	return 0;
}

/* The whole result of a single-form reply is its one item's. */
static enum dialect_result
dialect_single_result(enum dialect_result whole, const struct dialect_match *m,
                      enum dialect_item it, const char *itemmsg, char *msg)
{
	if (whole != DIALECT_OK || !m->single)
		return whole;
	if (it != DIALECT_ITEM_OK)
		memcpy(msg, itemmsg, DIALECT_MSG_SZ);
	return dialect_item_result(it);
}

/* One order's answer in a status multi reply. */
static enum dialect_item
dialect_status_elem(const json_t *e, struct dialect_order_status *st, char *msg)
{
	char err[DIALECT_MSG_SZ];
	enum dialect_refusal ref;

	memset(st, 0, sizeof(*st));
	if (json_is_string(e)) {
		if (dialect_text(e, msg, DIALECT_MSG_SZ) < 0)
			dialect_msg(msg, "error");
		return DIALECT_ITEM_REJECTED;
	}
	if (!json_is_object(e)) {
		dialect_msg(msg, "unusable item in reply");
		return DIALECT_ITEM_FAULT;
	}
	ref = dialect_refused(e, 1, err);
	if (ref != DIALECT_NOT_REFUSED) {
		if (ref == DIALECT_REFUSED_ERROR &&
		    dialect_has_status_word(e)) {
			dialect_msg(msg,
			            "reply has both a status and an "
			            "error: %s",
			            err);
			return DIALECT_ITEM_FAULT;
		}
		memcpy(msg, err, sizeof(err));
		return DIALECT_ITEM_REJECTED;
	}
	if (dialect_order_status(e, st, msg) < 0) {
		memset(st, 0, sizeof(*st));
		return DIALECT_ITEM_FAULT;
	}
	return DIALECT_ITEM_OK;
}

/* The value of a "cancel" member, or the bare value of a keyed reply. */
static enum dialect_item
dialect_cancel_value(const json_t *v, char *msg)
{
	static const char *const accepted[] = {
	    "1",        "true",       "yes",       "ok",
	    "success",  "successful", "requested", "accepted",
	    "canceled", "cancelled",  NULL};
	int b;

	if (v == NULL || json_is_null(v)) {
		dialect_msg(msg, "no cancel answer in reply");
		return DIALECT_ITEM_FAULT;
	}
	if (dialect_word_in(v, accepted))
		return DIALECT_ITEM_OK;
	if (!json_is_string(v) && dialect_bool(v, &b) == 0) {
		if (b)
			return DIALECT_ITEM_OK;
		dialect_msg(msg, "cancel refused");
		return DIALECT_ITEM_REJECTED;
	}
	if (json_is_string(v)) {
		if (dialect_word_in(v, dialect_no_words) ||
		    dialect_text(v, msg, DIALECT_MSG_SZ) < 0)
			dialect_msg(msg, "cancel refused");
		return DIALECT_ITEM_REJECTED;
	}
	if (json_is_object(v) &&
	    dialect_error_value(json_object_get(v, "error"), v, msg))
		return DIALECT_ITEM_REJECTED;
	dialect_msg(msg, "unusable cancel answer in reply");
	return DIALECT_ITEM_FAULT;
}

static enum dialect_item
dialect_cancel_elem(const json_t *e, char *msg)
{
	char err[DIALECT_MSG_SZ];
	const json_t *v;

	if (!json_is_object(e))
		return dialect_cancel_value(e, msg);
	v = json_object_get(e, "cancel");
	if (dialect_refused(e, 0, err) != DIALECT_NOT_REFUSED) {
		if (v != NULL &&
		    dialect_cancel_value(v, msg) == DIALECT_ITEM_OK) {
			dialect_msg(msg,
			            "reply both accepts the cancel and "
			            "has an error: %s",
			            err);
			return DIALECT_ITEM_FAULT;
		}
		memcpy(msg, err, sizeof(err));
		return DIALECT_ITEM_REJECTED;
	}
	if (v == NULL &&
	    (dialect_word_in(json_object_get(e, "status"), dialect_ok_words)))
		return DIALECT_ITEM_OK; /* {"status":"success"} */
	return dialect_cancel_value(v, msg);
}

/* The item parsers of the four actions: read element E, the answer found
 * for one requested ID, into ITEM (the action's item struct). */
static enum dialect_item
dialect_status_parse(const json_t *e, void *item, char *msg)
{
	struct dialect_status_item *it = item;

	return dialect_status_elem(e, &it->st, msg);
}

static enum dialect_item
dialect_refill_parse(const json_t *e, void *item, char *msg)
{
	struct dialect_refill_item *it = item;

	return dialect_refill_elem(e, it->refill, msg);
}

static enum dialect_item
dialect_refill_status_parse(const json_t *e, void *item, char *msg)
{
	struct dialect_refill_status_item *it = item;

	return dialect_refill_status_elem(e, &it->status, it->status_raw, msg);
}

static enum dialect_item
dialect_cancel_parse(const json_t *e, void *item, char *msg)
{
	(void)item;
	return dialect_cancel_elem(e, msg);
}

#define DIALECT_NONE ((size_t)-1) /* an item struct without that field */

/* How each action's multi reply is read: the member an answer names its ID
 * in, STATUS_WORD as for dialect_refused(), the item parser, and where the
 * fields lie in the action's item struct. */
static const struct dialect_multi_form {
	const char *idkey;
	int status_word;
	enum dialect_item (*parse)(const json_t *e, void *item, char *msg);
	size_t size;                     /* of one item struct */
	size_t id, item, msg;            /* requested ID, outcome, text */
	size_t st, refill, rstatus, raw; /* the answer, or DIALECT_NONE */
} dialect_multi_forms[DIALECT_MULTI_NACTIONS] = {
    [DIALECT_MULTI_STATUS] = {"order", 1, dialect_status_parse,
                              sizeof(struct dialect_status_item),
                              offsetof(struct dialect_status_item, order),
                              offsetof(struct dialect_status_item, item),
                              offsetof(struct dialect_status_item, msg),
                              offsetof(struct dialect_status_item, st),
                              DIALECT_NONE, DIALECT_NONE, DIALECT_NONE},
    [DIALECT_MULTI_REFILL] = {"order", 0, dialect_refill_parse,
                              sizeof(struct dialect_refill_item),
                              offsetof(struct dialect_refill_item, order),
                              offsetof(struct dialect_refill_item, item),
                              offsetof(struct dialect_refill_item, msg),
                              DIALECT_NONE,
                              offsetof(struct dialect_refill_item, refill),
                              DIALECT_NONE, DIALECT_NONE},
    [DIALECT_MULTI_REFILL_STATUS] =
        {"refill", 1, dialect_refill_status_parse,
         sizeof(struct dialect_refill_status_item),
         offsetof(struct dialect_refill_status_item, refill),
         offsetof(struct dialect_refill_status_item, item),
         offsetof(struct dialect_refill_status_item, msg), DIALECT_NONE,
         DIALECT_NONE, offsetof(struct dialect_refill_status_item, status),
         offsetof(struct dialect_refill_status_item, status_raw)},
    [DIALECT_MULTI_CANCEL] = {"order", 0, dialect_cancel_parse,
                              sizeof(struct dialect_cancel_item),
                              offsetof(struct dialect_cancel_item, order),
                              offsetof(struct dialect_cancel_item, item),
                              offsetof(struct dialect_cancel_item, msg),
                              DIALECT_NONE, DIALECT_NONE, DIALECT_NONE,
                              DIALECT_NONE},
};

/* The one multi reader: match each requested ID's answer, settle or parse
 * it into the action's item struct, and derive the whole result.  Returns
 * the items (NULL when the IDS are unusable), with *N, *NEXTRA, MSG and
 * *WHOLE set. */
static void *
dialect_multi_read(enum dialect_multi_action a, int http, const char *body,
                   size_t len, const char *const *ids, size_t nids, size_t *n,
                   size_t *nextra, char *msg, enum dialect_result *whole)
{
	const struct dialect_multi_form *f = &dialect_multi_forms[a];
	struct dialect_match m;
	enum dialect_item *it;
	unsigned char *items, *p;
	char *itmsg;
	size_t i;

	*n = 0;
	*nextra = 0;
	memset(msg, 0, DIALECT_MSG_SZ);
	if (dialect_ids_valid(ids, nids, msg) < 0) {
		*whole = DIALECT_FAULT;
		return NULL;
	}
	items = xcalloc(nids, f->size);
	*n = nids;
	*whole = dialect_match(http, body, len, f->idkey, f->status_word, ids,
	                       nids, &m, msg);
	for (i = 0; i < nids; i++) {
		p = items + i * f->size;
		it = (enum dialect_item *)(void *)(p + f->item);
		itmsg = (char *)p + f->msg;
		memcpy(p + f->id, ids[i], strlen(ids[i]) + 1);
		if (!dialect_item_settled(*whole, &m, i, ids[i], msg, it,
		                          itmsg))
			*it = f->parse(m.found[i], p, itmsg);
	}
	it = (enum dialect_item *)(void *)(items + f->item);
	*whole =
	    dialect_single_result(*whole, &m, *it, (char *)items + f->msg, msg);
	*nextra = m.nextra;
	dialect_match_free(&m);
	return items;
}

enum dialect_result
dialect_multi(enum dialect_multi_action a, int http, const char *body,
              size_t len, const char *const *ids, size_t nids,
              struct dialect_multi *out)
{
	enum dialect_result r;

	memset(out, 0, sizeof(*out));
	out->action = a;
	if ((unsigned)a >= DIALECT_MULTI_NACTIONS) {
		dialect_msg(out->msg, "unknown multi action %d", (int)a);
		return DIALECT_FAULT;
	}
	out->items = dialect_multi_read(a, http, body, len, ids, nids, &out->n,
	                                &out->nextra, out->msg, &r);
	return r;
}

/* The field at OFF of item P, or NULL where its struct has none. */
static const void *
dialect_multi_field(const unsigned char *p, size_t off)
{
	return off == DIALECT_NONE ? NULL : p + off;
}

void
dialect_multi_get(const struct dialect_multi *m, size_t i,
                  struct dialect_multi_answer *ans)
{
	const struct dialect_multi_form *f = &dialect_multi_forms[m->action];
	const unsigned char *p = (const unsigned char *)m->items + i * f->size;
	const enum dialect_refill_status *rs;

	memset(ans, 0, sizeof(*ans));
	ans->id = (const char *)p + f->id;
	ans->item = *(const enum dialect_item *)(const void *)(p + f->item);
	ans->msg = (const char *)p + f->msg;
	ans->st = dialect_multi_field(p, f->st);
	ans->refill = dialect_multi_field(p, f->refill);
	if ((rs = dialect_multi_field(p, f->rstatus)) != NULL)
		ans->rstatus = *rs;
	ans->rstatus_raw = dialect_multi_field(p, f->raw);
}

/* Free ITEMS and zero the SZ bytes of the result M that held them. */
static void
dialect_multi_release(void *items, void *m, size_t sz)
{
	free(items);
	memset(m, 0, sz);
}

void
dialect_multi_free(struct dialect_multi *m)
{
	if (m != NULL)
		dialect_multi_release(m->items, m, sizeof(*m));
}

/* The typed entry points and their frees, one pair per action, all the
 * one reader above: dialect_status_multi(), dialect_refill_multi(),
 * dialect_refill_status_multi(), dialect_cancel() and their _free. */
#define DIALECT_MULTI_TYPED(fn, freefn, type, action)                          \
	enum dialect_result fn(int http, const char *body, size_t len,         \
	                       const char *const *ids, size_t nids, type *out) \
	{                                                                      \
		enum dialect_result r;                                         \
                                                                               \
		out->items =                                                   \
		    dialect_multi_read(action, http, body, len, ids, nids,     \
		                       &out->n, &out->nextra, out->msg, &r);   \
		return r;                                                      \
	}                                                                      \
	void freefn(type *m)                                                   \
	{                                                                      \
		if (m != NULL)                                                 \
			dialect_multi_release(m->items, m, sizeof(*m));        \
	}

DIALECT_MULTI_TYPED(dialect_status_multi, dialect_status_multi_free,
                    struct dialect_status_multi, DIALECT_MULTI_STATUS)
DIALECT_MULTI_TYPED(dialect_refill_multi, dialect_refill_multi_free,
                    struct dialect_refill_multi, DIALECT_MULTI_REFILL)
DIALECT_MULTI_TYPED(dialect_refill_status_multi,
                    dialect_refill_status_multi_free,
                    struct dialect_refill_status_multi,
                    DIALECT_MULTI_REFILL_STATUS)
DIALECT_MULTI_TYPED(dialect_cancel, dialect_cancel_free, struct dialect_cancel,
                    DIALECT_MULTI_CANCEL)

/* ---- names ----------------------------------------------------------- */

const char *
dialect_result_name(enum dialect_result r)
{
	switch (r) {
	case DIALECT_OK:
		return "ok";
	case DIALECT_REJECTED:
		return "rejected";
	case DIALECT_FAULT:
		return "fault";
	}
	return "?";
}

const char *
dialect_item_name(enum dialect_item i)
{
	switch (i) {
	case DIALECT_ITEM_MISSING:
		return "missing";
	case DIALECT_ITEM_OK:
		return "ok";
	case DIALECT_ITEM_REJECTED:
		return "rejected";
	case DIALECT_ITEM_FAULT:
		return "fault";
	}
	return "?";
}

const char *
dialect_status_name(enum dialect_status s)
{
	switch (s) {
	case DIALECT_STATUS_UNKNOWN:
		return "Unknown";
	case DIALECT_STATUS_PENDING:
		return "Pending";
	case DIALECT_STATUS_IN_PROGRESS:
		return "In progress";
	case DIALECT_STATUS_PROCESSING:
		return "Processing";
	case DIALECT_STATUS_COMPLETED:
		return "Completed";
	case DIALECT_STATUS_PARTIAL:
		return "Partial";
	case DIALECT_STATUS_CANCELED:
		return "Canceled";
	case DIALECT_STATUS_REFUNDED:
		return "Refunded";
	case DIALECT_STATUS_FAIL:
		return "Fail";
	}
	return "Unknown";
}

const char *
dialect_refill_status_name(enum dialect_refill_status s)
{
	switch (s) {
	case DIALECT_REFILL_UNKNOWN:
		return "Unknown";
	case DIALECT_REFILL_PENDING:
		return "Pending";
	case DIALECT_REFILL_IN_PROGRESS:
		return "In progress";
	case DIALECT_REFILL_COMPLETED:
		return "Completed";
	case DIALECT_REFILL_REJECTED:
		return "Rejected";
	case DIALECT_REFILL_ERROR:
		return "Error";
	}
	return "Unknown";
}
