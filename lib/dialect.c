/* dialect.c - lenient reading of upstream panel replies (SPEC section 5):
 * what every reply shares.  Text cleaning, status words, the value readers,
 * error shapes and loading live here; the per-action readers are in
 * dialect_orders.c (add, balance, status, refill, refill_status, and the
 * per-ID answers), dialect_multi.c (the one multi-item reader) and
 * dialect_services.c (the services list).
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
#include "dialect_int.h"
#include "jsonx.h"
#include "xmalloc.h"

#define DIALECT_NUM_MAX 128    /* bytes of a number's text, exponent expanded */
#define DIALECT_EXP_MAX 400    /* largest decimal exponent written out */
#define DIALECT_HTML_SCAN 4096 /* bytes of an HTML body searched for a hint */

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
size_t
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

void
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

void
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
int
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
int
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

const char *const dialect_fail_words[] = {"error", "fail", "failed", "failure",
                                          NULL};
const char *const dialect_ok_words[] = {"success", "ok", NULL};
const char *const dialect_no_words[] = {"0", "false", "no", NULL};
static const char *const dialect_envelope_keys[] = {
    "status", "success", "message", "msg", "code", "data", NULL};

/* ---- status words ---------------------------------------------------- */

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

const char *
dialect_status_shown(const char *word)
{
	enum dialect_status s = dialect_status_word(word);

	/* v1 panels' "processing" is In progress (DESIGN.md, "Orders") */
	return s == DIALECT_STATUS_IN_PROGRESS || s == DIALECT_STATUS_PROCESSING
	           ? "In progress"
	           : "Pending";
}

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
int
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
int
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
int
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
int
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
int
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
int
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
int
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
enum dialect_refusal
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
json_t *
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
json_t *
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
json_t *
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
