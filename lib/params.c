/* params.c - request decoding into one flat set of fields; see params.h.
 *
 * Memory: one allocation per params holds the field table and a first
 * arena block; names and values are bump-allocated from the arena, which
 * grows by whole blocks only when a request needs more than the first one.
 * Everything the arena holds is bounded by the decoded input (array values
 * grow by doubling, so at most a small multiple of it); the caller caps the
 * body size.  A failed decode rolls the arena and the field table back. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <jansson.h>

#include "jsonx.h"
#include "params.h"
#include "params_int.h"
#include "xmalloc.h"

#define PARAMS_INLINE 1024 /* arena bytes inside struct params */
#define PARAMS_CHUNK 4096  /* minimum size of a further arena block */
#define PARAMS_REAL_MAX JSONX_REAL_MAX
#define PARAMS_MAX_BIG 16 /* integers beyond int64 read per JSON body */

struct params_chunk {
	struct params_chunk *next;
	char data[];
};

struct params_field {
	const char *name;
	char *value;
	size_t name_len;
	size_t len;   /* of value, without its NUL */
	size_t cap;   /* bytes available at value, NUL included */
	unsigned gen; /* the decode call that created the field */
	int array;    /* PHP array field: later items are appended */
};

struct params {
	size_t n;
	unsigned gen;
	struct params_chunk *chunks; /* extra arena blocks, newest first */
	char *top;                   /* free arena space ... */
	size_t avail;                /* ... and its size */
	struct params_field f[PARAMS_MAX_FIELDS];
	char inline_buf[PARAMS_INLINE];
};

/* One freed struct params kept for the next request: at ~4 KiB it is past
 * malloc's small-size caches, and allocating it sorted the heap's free
 * lists on every request (malloc_consolidate: ~3% of a balance request's
 * CPU, measured with perf).  Requests are decoded on the loop's thread
 * only. */
static struct params *params_spare;

/* The state a failed decode returns to. */
struct params_mark {
	size_t n;
	struct params_chunk *chunks;
	char *top;
	size_t avail;
};

#define PARAMS_STR2(x) #x
#define PARAMS_STR(x) PARAMS_STR2(x)

static const char params_why_escape[] =
    "The request contains a malformed %-escape.";
static const char params_why_nul[] = "A request field contains a NUL byte.";
const char params_why_long[] =
    "A field name is longer than " PARAMS_STR(PARAMS_MAX_NAME) " bytes.";
static const char params_why_many[] =
    "The request has more than " PARAMS_STR(PARAMS_MAX_FIELDS) " fields.";

struct params *
params_new(void)
{
	struct params *p;

	if ((p = params_spare) != NULL)
		params_spare = NULL;
	else
		p = xmalloc(sizeof *p);
	p->n = 0;
	p->gen = 0;
	p->chunks = NULL;
	p->top = p->inline_buf;
	p->avail = sizeof p->inline_buf;
	return p;
}

static void
params_free_chunks(struct params *p, struct params_chunk *keep)
{
	struct params_chunk *c;

	while ((c = p->chunks) != keep) {
		p->chunks = c->next;
		free(c);
	}
}

void
params_free(struct params *p)
{
	if (p == NULL)
		return;
	params_free_chunks(p, NULL);
	if (params_spare == NULL)
		params_spare = p;
	else
		free(p);
}

/* At least N contiguous free bytes of arena; params_commit takes them. */
static char *
params_reserve(struct params *p, size_t n)
{
	struct params_chunk *c;
	size_t size;

	if (n <= p->avail)
		return p->top;
	size = n > PARAMS_CHUNK ? n : PARAMS_CHUNK;
	if (size > SIZE_MAX - sizeof *c)
		size = SIZE_MAX; /* xmalloc fails and aborts */
	else
		size += sizeof *c;
	c = xmalloc(size);
	c->next = p->chunks;
	p->chunks = c;
	p->top = c->data;
	p->avail = size - sizeof *c;
	return p->top;
}

static void
params_commit(struct params *p, size_t n)
{
	p->top += n;
	p->avail -= n;
}

static void
params_begin(struct params *p, struct params_mark *m)
{
	p->gen++;
	m->n = p->n;
	m->chunks = p->chunks;
	m->top = p->top;
	m->avail = p->avail;
}

static void
params_rollback(struct params *p, const struct params_mark *m)
{
	params_free_chunks(p, m->chunks);
	p->n = m->n;
	p->top = m->top;
	p->avail = m->avail;
}

enum params_result
params_fail(const char **why, enum params_result r, const char *msg)
{
	*why = msg;
	return r;
}

static struct params_field *
params_find(const struct params *p, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (p->f[i].name_len == len &&
		    memcmp(p->f[i].name, name, len) == 0)
			return (struct params_field *)&p->f[i];
	return NULL;
}

static int
params_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Bytes that end a run of plain bytes in a form-urlencoded string. */
static const unsigned char params_special[256] = {
    ['\0'] = 1,
    ['%'] = 1,
    ['+'] = 1,
};

/* Decode LEN bytes at SRC into DST (NULL: only check them), at most CAP
 * output bytes.  Returns the decoded length, -1 for a malformed %-escape,
 * -2 for a NUL byte, -3 when the output would exceed CAP.  Runs of plain
 * bytes are copied whole: this is the hot path of every request. */
static ssize_t
params_unescape(char *dst, const char *src, size_t len, enum params_mode mode,
                size_t cap)
{
	size_t i, j, o;
	int hi, lo;
	unsigned char c;

	if (mode == PARAMS_RAW) {
		if (memchr(src, '\0', len) != NULL)
			return -2;
		if (len > cap)
			return -3;
		if (dst != NULL)
			memcpy(dst, src, len);
		return len;
	}
	for (i = o = 0;; i++, o++) {
		for (j = i; j < len && !params_special[(unsigned char)src[j]];
		     j++)
			;
		if (j - i > cap - o)
			return -3;
		if (dst != NULL)
			memcpy(dst + o, src + i, j - i);
		o += j - i;
		if ((i = j) == len)
			return o;
		c = src[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			if (len - i < 3 || (hi = params_hex(src[i + 1])) < 0 ||
			    (lo = params_hex(src[i + 2])) < 0)
				return -1;
			c = hi << 4 | lo;
			i += 2;
		}
		if (c == '\0')
			return -2;
		if (o == cap)
			return -3;
		if (dst != NULL)
			dst[o] = c;
	}
}

static enum params_result
params_unescape_fail(ssize_t r, const char **why)
{
	if (r == -1)
		return params_fail(why, PARAMS_BAD_ENCODING, params_why_escape);
	if (r == -2)
		return params_fail(why, PARAMS_BAD_ENCODING, params_why_nul);
	return params_fail(why, PARAMS_BAD_ENCODING, params_why_long);
}

/* PHP array syntax: "name[]" or "name[123]" is an array item of "name". */
int
params_array_name(const char *name, size_t len, size_t *bare)
{
	const char *lb, *q;

	*bare = len;
	if (len == 0 || name[len - 1] != ']' ||
	    (lb = memchr(name, '[', len)) == NULL)
		return 0;
	for (q = lb + 1; q < name + len - 1; q++)
		if (*q < '0' || *q > '9')
			return 0;
	*bare = lb - name;
	return 1;
}

/* Add field NAME (NLEN bytes, already decoded) with the value SRC decoded by
 * MODE, unless NAME is present; an ARRAY item is appended to the array field
 * of that name made by the same decode call.  Values of skipped fields are
 * still checked, so validity never depends on field order. */
enum params_result
params_add(struct params *p, const char *name, size_t nlen, int array,
           const char *src, size_t slen, enum params_mode mode,
           const char **why)
{
	struct params_field *f;
	char *dst;
	size_t need;
	ssize_t r;

	f = nlen == 0 ? NULL : params_find(p, name, nlen);
	if (f != NULL && array && f->array && f->gen == p->gen) {
		need = f->len + 1 + slen + 1;
		if (need > f->cap) {
			dst = params_reserve(p, 2 * need);
			memcpy(dst, f->value, f->len);
			params_commit(p, 2 * need);
			f->value = dst;
			f->cap = 2 * need;
		}
		r = params_unescape(f->value + f->len + 1, src, slen, mode,
		                    SIZE_MAX);
		if (r < 0)
			return params_unescape_fail(r, why);
		f->value[f->len] = ',';
		f->len += 1 + r;
		f->value[f->len] = '\0';
		return PARAMS_OK;
	}
	if (f != NULL || nlen == 0) {
		r = params_unescape(NULL, src, slen, mode, SIZE_MAX);
		return r < 0 ? params_unescape_fail(r, why) : PARAMS_OK;
	}
	if (p->n == PARAMS_MAX_FIELDS)
		return params_fail(why, PARAMS_TOO_MANY, params_why_many);
	dst = params_reserve(p, slen + 1);
	if ((r = params_unescape(dst, src, slen, mode, SIZE_MAX)) < 0)
		return params_unescape_fail(r, why);
	dst[r] = '\0';
	params_commit(p, r + 1);
	f = &p->f[p->n++];
	f->value = dst;
	f->len = r;
	f->cap = r + 1;
	f->gen = p->gen;
	f->array = array;
	dst = params_reserve(p, nlen + 1);
	memcpy(dst, name, nlen);
	dst[nlen] = '\0';
	params_commit(p, nlen + 1);
	f->name = dst;
	f->name_len = nlen;
	return PARAMS_OK;
}

/* application/x-www-form-urlencoded, for bodies and query strings. */
static enum params_result
params_form(struct params *p, const char *s, size_t len, const char **why)
{
	char name[PARAMS_MAX_NAME];
	const char *amp, *eq;
	size_t i, pe, ne, bare;
	ssize_t nl;
	enum params_result r;
	int array;

	for (i = 0; i < len; i = pe + 1) {
		amp = memchr(s + i, '&', len - i);
		pe = amp != NULL ? (size_t)(amp - s) : len;
		if (pe == i)
			continue;
		eq = memchr(s + i, '=', pe - i);
		ne = eq != NULL ? (size_t)(eq - s) : pe;
		nl = params_unescape(name, s + i, ne - i, PARAMS_URL,
		                     sizeof name);
		if (nl < 0)
			return params_unescape_fail(nl, why);
		array = params_array_name(name, nl, &bare);
		if (eq == NULL)
			r = params_add(p, name, bare, array, "", 0, PARAMS_RAW,
			               why);
		else
			r = params_add(p, name, bare, array, eq + 1,
			               pe - ne - 1, PARAMS_URL, why);
		if (r != PARAMS_OK)
			return r;
	}
	return PARAMS_OK;
}

/* S (LEN bytes) equals the lower-case ASCII string LC, ignoring case. */
int
params_ieq(const char *s, size_t len, const char *lc)
{
	size_t i;
	char c;

	if (strlen(lc) != len)
		return 0;
	if (memcmp(s, lc, len) == 0)
		return 1; /* the usual spelling, quickly */
	for (i = 0; i < len; i++) {
		c = s[i];
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (c != lc[i])
			return 0;
	}
	return 1;
}

/* A JSON scalar as a field value: *S (LEN bytes), rendered into BUF
 * (PARAMS_REAL_MAX bytes) unless it is a string.  -1 if not a scalar. */
static int
params_json_scalar(json_t *v, char *buf, const char **s, size_t *len)
{
	*s = buf;
	switch (json_typeof(v)) {
	case JSON_STRING:
		*s = json_string_value(v);
		*len = json_string_length(v);
		return 0;
	case JSON_INTEGER:
		*len = snprintf(buf, PARAMS_REAL_MAX, "%" JSON_INTEGER_FORMAT,
		                json_integer_value(v));
		return 0;
	case JSON_REAL:
		if (jsonx_real(json_real_value(v), buf) < 0)
			return -1;
		*len = strlen(buf);
		return 0;
	case JSON_TRUE:
	case JSON_FALSE:
		*s = json_is_true(v) ? "1" : "0";
		*len = 1;
		return 0;
	case JSON_NULL:
		*s = "";
		*len = 0;
		return 0;
	default:
		return -1;
	}
}

static int
params_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The bounds of the integer token jansson refused with a numeric overflow,
 * which ends at byte END of S: *START.  0, or -1 when the token there is not
 * an integer (a real such as 1e400 overflows too). */
static int
params_big_integer(const char *s, size_t end, size_t *start)
{
	size_t b = end;

	while (b > 0 && params_is_digit(s[b - 1]))
		b--;
	if (b == end)
		return -1;
	if (b > 0 && s[b - 1] == '-')
		b--;
	if (b > 0 &&
	    (s[b - 1] == '\0' || strchr(" \t\r\n:[,", s[b - 1]) == NULL))
		return -1; /* the digits of an exponent or a fraction */
	*start = b;
	return 0;
}

/* json_loadb of BODY (LEN bytes) with integers beyond int64 read as strings
 * of their digits.  jansson refuses such an integer with
 * json_error_numeric_overflow and its end as the error position: the token
 * is put in quotes in a copy of the body and the copy decoded again, for at
 * most PARAMS_MAX_BIG of them.  The digits are the customer's own (a
 * quantity above the maximum is answered as such, not as invalid JSON);
 * nothing is converted to binary floating point.  NULL with *WHY set. */
static json_t *
params_json_load(const char *body, size_t len, const char **why)
{
	static const char big[] = "A number in the JSON body is out of range.";
	char *copy = NULL;
	const char *cur = body;
	json_error_t err;
	json_t *root;
	size_t n = len, start, end;
	int quoted = 0;

	for (;;) {
		root = json_loadb(cur, n, JSON_REJECT_DUPLICATES, &err);
		if (root != NULL)
			break;
		if (json_error_code(&err) != json_error_numeric_overflow) {
			*why = "The body is not valid JSON.";
			break;
		}
		end = err.position > 0 ? (size_t)err.position : 0;
		if (quoted == PARAMS_MAX_BIG || end > n ||
		    params_big_integer(cur, end, &start) == -1) {
			*why = big;
			break;
		}
		if (copy == NULL) {
			copy = xmalloc(len + 2 * PARAMS_MAX_BIG);
			memcpy(copy, body, len);
			cur = copy;
		}
		memmove(copy + end + 2, copy + end, n - end);
		memmove(copy + start + 1, copy + start, end - start);
		copy[start] = '"';
		copy[end + 1] = '"';
		n += 2;
		quoted++;
	}
	free(copy);
	return root;
}

/* application/json: a top-level object of scalars and arrays of scalars.
 * Duplicate keys are rejected (parsers disagree on which one wins). */
static enum params_result
params_json(struct params *p, const char *body, size_t len, const char **why)
{
	static const char nested[] =
	    "The JSON body may hold only values and arrays of values.";
	char buf[PARAMS_REAL_MAX];
	json_t *root, *v, *item;
	const char *key, *s;
	size_t klen, slen, i;
	enum params_result r = PARAMS_OK;

	if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0) {
		body += 3;
		len -= 3;
	}
	if (jsonx_too_deep(body, len, PARAMS_MAX_JSON_DEPTH))
		return params_fail(why, PARAMS_BAD_ENCODING,
		                   "The JSON body is nested too deeply.");
	if ((root = params_json_load(body, len, why)) == NULL)
		return PARAMS_BAD_ENCODING;
	if (!json_is_object(root)) {
		json_decref(root);
		return params_fail(why, PARAMS_BAD_ENCODING,
		                   "The JSON body is not an object.");
	}
	json_object_foreach(root, key, v)
	{
		if ((klen = strlen(key)) > PARAMS_MAX_NAME) {
			r = params_fail(why, PARAMS_BAD_ENCODING,
			                params_why_long);
			break;
		}
		if (json_is_null(v))
			continue;
		if (json_is_array(v) && json_array_size(v) == 0) {
			r = params_add(p, key, klen, 0, "", 0, PARAMS_RAW, why);
		} else if (json_is_array(v)) {
			json_array_foreach(v, i, item)
			{
				if (params_json_scalar(item, buf, &s, &slen) ==
				    -1) {
					r = params_fail(
					    why, PARAMS_BAD_ENCODING, nested);
					break;
				}
				r = params_add(p, key, klen, 1, s, slen,
				               PARAMS_RAW, why);
				if (r != PARAMS_OK)
					break;
			}
		} else if (params_json_scalar(v, buf, &s, &slen) == 0) {
			r = params_add(p, key, klen, 0, s, slen, PARAMS_RAW,
			               why);
		} else {
			r = params_fail(why, PARAMS_BAD_ENCODING, nested);
		}
		if (r != PARAMS_OK)
			break;
	}
	json_decref(root);
	return r;
}

enum params_kind {
	PARAMS_KIND_NONE, /* no media type: form data, or a JSON object */
	PARAMS_KIND_FORM,
	PARAMS_KIND_MULTIPART,
	PARAMS_KIND_JSON,
	PARAMS_KIND_UNSUPPORTED,
	PARAMS_KIND_UNKNOWN /* text/plain and the rest */
};

/* The media type of CTYPE; *PARAMS is where its parameters start. */
static enum params_kind
params_kind(const char *ctype, const char **params)
{
	const char *t, *e;
	size_t len;

	*params = ctype;
	if (ctype == NULL)
		return PARAMS_KIND_NONE;
	t = ctype + strspn(ctype, " \t");
	e = t + strcspn(t, " \t;");
	*params = e;
	len = e - t;
	if (len == 0)
		return PARAMS_KIND_NONE;
	if (params_ieq(t, len, "application/x-www-form-urlencoded"))
		return PARAMS_KIND_FORM;
	if (params_ieq(t, len, "multipart/form-data"))
		return PARAMS_KIND_MULTIPART;
	if (params_ieq(t, len, "application/json") ||
	    params_ieq(t, len, "text/json") ||
	    (len > 5 && memchr(t, '/', len) != NULL &&
	     params_ieq(e - 5, 5, "+json")))
		return PARAMS_KIND_JSON;
	if (len > 10 && params_ieq(t, 10, "multipart/"))
		return PARAMS_KIND_UNSUPPORTED;
	return PARAMS_KIND_UNKNOWN;
}

/* A body sent without a JSON type that is a JSON object all the same: its
 * first byte after a byte-order mark and blanks is '{' (form data never
 * starts so; fetch() sends a string body as text/plain). */
static int
params_looks_json(const char *body, size_t len)
{
	size_t i = 0;

	if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0)
		i = 3;
	while (i < len && (body[i] == ' ' || body[i] == '\t' ||
	                   body[i] == '\r' || body[i] == '\n'))
		i++;
	return i < len && body[i] == '{';
}

/* Every non-empty '&'-separated pair of BODY has a '=': form data, as
 * opposed to free text, when the type does not say. */
static int
params_form_shaped(const char *body, size_t len)
{
	const char *s = body, *e = body + len, *amp;

	for (; s < e; s = amp + 1) {
		if ((amp = memchr(s, '&', e - s)) == NULL)
			amp = e;
		if (amp > s && memchr(s, '=', amp - s) == NULL)
			return 0;
	}
	return 1;
}

enum params_result
params_decode_body(struct params *p, const char *ctype, const char *body,
                   size_t len, const char **why)
{
	static const char unsupported[] =
	    "The request Content-Type is not supported: send "
	    "application/x-www-form-urlencoded, multipart/form-data or "
	    "application/json (a JSON object).";
	struct params_mark m;
	enum params_result r;
	const char *cparams, *dummy;

	if (why == NULL)
		why = &dummy;
	if (len == 0)
		return PARAMS_OK;
	params_begin(p, &m);
	switch (params_kind(ctype, &cparams)) {
	case PARAMS_KIND_NONE:
		if (params_looks_json(body, len))
			r = params_json(p, body, len, why);
		else
			r = params_form(p, body, len, why);
		break;
	case PARAMS_KIND_FORM:
		r = params_form(p, body, len, why);
		break;
	case PARAMS_KIND_MULTIPART:
		r = params_multipart(p, cparams, cparams + strlen(cparams),
		                     body, len, why);
		break;
	case PARAMS_KIND_JSON:
		r = params_json(p, body, len, why);
		break;
	case PARAMS_KIND_UNKNOWN:
		if (params_looks_json(body, len)) {
			r = params_json(p, body, len, why);
			break;
		}
		if (!params_form_shaped(body, len))
			r = PARAMS_BAD_ENCODING;
		else
			r = params_form(p, body, len, why);
		if (r == PARAMS_BAD_ENCODING)
			r = params_fail(why, PARAMS_UNSUPPORTED_TYPE,
			                unsupported);
		break;
	default:
		r = params_fail(why, PARAMS_UNSUPPORTED_TYPE, unsupported);
		break;
	}
	if (r != PARAMS_OK)
		params_rollback(p, &m);
	return r;
}

enum params_result
params_decode_query(struct params *p, const char *query, size_t len,
                    const char **why)
{
	struct params_mark m;
	enum params_result r;
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	if (len == 0)
		return PARAMS_OK;
	params_begin(p, &m);
	if ((r = params_form(p, query, len, why)) != PARAMS_OK)
		params_rollback(p, &m);
	return r;
}

int
params_set_default(struct params *p, const char *name, const char *value)
{
	size_t nlen = strlen(name);
	const char *dummy;

	if (nlen == 0 || nlen > PARAMS_MAX_NAME)
		return -1;
	if (params_find(p, name, nlen) != NULL)
		return 0;
	/* A fresh generation: never appended to by a later decode. */
	p->gen++;
	if (params_add(p, name, nlen, 0, value, strlen(value), PARAMS_RAW,
	               &dummy) != PARAMS_OK)
		return -1;
	return 0;
}

const char *
params_get(const struct params *p, const char *name)
{
	const struct params_field *f;

	f = params_find(p, name, strlen(name));
	return f != NULL ? f->value : NULL;
}

size_t
params_count(const struct params *p)
{
	return p->n;
}

int
params_at(const struct params *p, size_t i, const char **name,
          const char **value)
{
	if (i >= p->n)
		return -1;
	*name = p->f[i].name;
	*value = p->f[i].value;
	return 0;
}

static int
idlist_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Duplicates are looked up in a small open-addressing set (IDs are never 0,
 * which marks a free slot) when MAX fits it, else by a scan. */
#define IDLIST_SET_BITS 9
#define IDLIST_SET (1 << IDLIST_SET_BITS)

/* 1 if V was already in SET (of IDLIST_SET slots), else adds it. */
static int
idlist_seen(int64_t *set, int64_t v)
{
	size_t i = (size_t)(((uint64_t)v * UINT64_C(0x9E3779B97F4A7C15)) >>
	                    (64 - IDLIST_SET_BITS));

	for (;; i = (i + 1) % IDLIST_SET) {
		if (set[i] == v)
			return 1;
		if (set[i] == 0) {
			set[i] = v;
			return 0;
		}
	}
}

enum idlist_result
idlist_parse(const char *s, int64_t *ids, size_t max, size_t *n)
{
	int64_t set[IDLIST_SET];
	int hashed = max <= IDLIST_SET / 2;
	const char *b;
	int64_t v;
	size_t count = 0, i;
	int d, digits;

	*n = 0;
	if (s == NULL)
		return IDLIST_EMPTY;
	if (hashed)
		memset(set, 0, sizeof(set));
	for (;;) {
		while (idlist_is_space(*s))
			s++;
		for (b = s, v = 0; *s >= '0' && *s <= '9'; s++) {
			d = *s - '0';
			if (v > (INT64_MAX - d) / 10)
				return IDLIST_BAD;
			v = v * 10 + d;
		}
		if ((digits = s > b) && v == 0)
			return IDLIST_BAD;
		while (idlist_is_space(*s))
			s++;
		if (*s != ',' && *s != '\0')
			return IDLIST_BAD;
		if (digits) {
			if (hashed)
				i = idlist_seen(set, v) ? 0 : count;
			else
				for (i = 0; i < count && ids[i] != v; i++)
					;
			if (i == count) {
				if (count == max)
					return IDLIST_TOO_MANY;
				ids[count++] = v;
			}
		}
		if (*s++ == '\0')
			break;
	}
	*n = count;
	return count > 0 ? IDLIST_OK : IDLIST_EMPTY;
}
