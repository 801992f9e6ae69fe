/* fp_params.c - decode request fields into a flat key/value list. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fp.h"
#include "fp_params.h"
#include "xmalloc.h"

void
fp_params_init(struct fp_params *p, size_t cap)
{
	memset(p, 0, sizeof(*p));
	p->buf = xmalloc(cap);
	p->cap = cap;
}

void
fp_params_free(struct fp_params *p)
{
	free(p->buf);
	memset(p, 0, sizeof(*p));
}

void
fp_params_clear(struct fp_params *p)
{
	p->len = 0;
	p->n = 0;
	p->overflow = 0;
}

/* Reserve N bytes of string space; NULL (and overflow) when full. */
static char *
fp_params_reserve(struct fp_params *p, size_t n)
{
	char *s;

	if (n > p->cap - p->len) {
		p->overflow = 1;
		return NULL;
	}
	s = p->buf + p->len;
	p->len += n;
	return s;
}

static void
fp_params_push(struct fp_params *p, const char *key, const char *val)
{
	if (p->n >= FP_PARAMS_MAX) {
		p->overflow = 1;
		return;
	}
	p->kv[p->n].key = key;
	p->kv[p->n].val = val;
	p->n++;
}

static int
fp_params_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* URL-decode LEN bytes of S ('+' is a space) into new string space. */
static char *
fp_params_urldecode(struct fp_params *p, const char *s, size_t len)
{
	char *out, *o;

	if ((out = fp_params_reserve(p, len + 1)) == NULL)
		return NULL;
	o = out;
	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (s[i] == '+') {
			*o++ = ' ';
		} else if (s[i] == '%' && i + 2 < len &&
		           (hi = fp_params_hex((unsigned char)s[i + 1])) >= 0 &&
		           (lo = fp_params_hex((unsigned char)s[i + 2])) >= 0) {
			*o++ = (char)(hi << 4 | lo);
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	/* Give back what decoding saved.  A %00 cuts the value short: the
	 * rest is simply not seen. */
	p->len -= len - (size_t)(o - out);
	return out;
}

void
fp_params_add_form(struct fp_params *p, const char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t start = i, eq = (size_t)-1;
		char *key, *val;

		while (i < len && s[i] != '&') {
			if (s[i] == '=' && eq == (size_t)-1)
				eq = i;
			i++;
		}
		if (i > start) {
			if (eq == (size_t)-1)
				eq = i;
			key = fp_params_urldecode(p, s + start, eq - start);
			val = fp_params_urldecode(p, s + eq + (eq < i ? 1 : 0),
			                          eq < i ? i - eq - 1 : 0);
			if (key != NULL && val != NULL && *key != '\0')
				fp_params_push(p, key, val);
		}
		i++; /* the '&' */
	}
}

static char *
fp_params_copy(struct fp_params *p, const char *s, size_t len)
{
	char *out;

	if ((out = fp_params_reserve(p, len + 1)) == NULL)
		return NULL;
	memcpy(out, s, len);
	out[len] = '\0';
	return out;
}

/* Render scalar V into new string space; NULL if not a scalar or full. */
static char *
fp_params_scalar(struct fp_params *p, json_t *v)
{
	char num[64];
	int n;

	switch (json_typeof(v)) {
	case JSON_STRING:
		return fp_params_copy(p, json_string_value(v),
		                      json_string_length(v));
	case JSON_INTEGER:
		n = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
		             json_integer_value(v));
		return fp_params_copy(p, num, (size_t)n);
	case JSON_REAL:
		n = snprintf(num, sizeof(num), "%.15g", json_real_value(v));
		return fp_params_copy(p, num, (size_t)n);
	case JSON_TRUE:
		return fp_params_copy(p, "1", 1);
	case JSON_FALSE:
		return fp_params_copy(p, "0", 1);
	default:
		return NULL;
	}
}

/* Join the scalars of array A with SEP into new string space. */
static char *
fp_params_join(struct fp_params *p, json_t *a, char sep)
{
	char *start = p->buf + p->len;
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v)
	{
		char *s = fp_params_scalar(p, v);

		if (s == NULL)
			return NULL;
		/* Each scalar ended in a NUL: turn the previous one into SEP.
		 */
		if (i > 0)
			s[-1] = sep;
	}
	if (json_array_size(a) == 0)
		return fp_params_copy(p, "", 0);
	return start;
}

int
fp_params_add_json(struct fp_params *p, const char *s, size_t len)
{
	json_t *root, *v;
	const char *key;
	json_error_t err;

	root = json_loadb(s, len, JSON_DECODE_ANY, &err);
	if (root == NULL)
		return -1;
	if (!json_is_object(root)) {
		json_decref(root);
		return -1;
	}
	json_object_foreach(root, key, v)
	{
		char *k, *val;
		int ids;

		if ((k = fp_params_copy(p, key, strlen(key))) == NULL)
			break;
		if (json_is_array(v)) {
			ids = strcmp(key, "orders") == 0 ||
			      strcmp(key, "refills") == 0;
			val = fp_params_join(p, v, ids ? ',' : '\n');
		} else {
			val = fp_params_scalar(p, v);
		}
		if (val != NULL)
			fp_params_push(p, k, val);
	}
	json_decref(root);
	return 0;
}

char *
fp_params_pack(const struct fp_params *p, size_t *len)
{
	size_t n = 0;
	char *buf, *d;

	for (int i = 0; i < p->n; i++)
		if (strcmp(p->kv[i].key, "key") != 0)
			n += strlen(p->kv[i].key) + strlen(p->kv[i].val) + 2;
	d = buf = xmalloc(n ? n : 1);
	for (int i = 0; i < p->n; i++) {
		size_t kl, vl;

		if (strcmp(p->kv[i].key, "key") == 0)
			continue;
		kl = strlen(p->kv[i].key) + 1;
		vl = strlen(p->kv[i].val) + 1;
		memcpy(d, p->kv[i].key, kl);
		memcpy(d + kl, p->kv[i].val, vl);
		d += kl + vl;
	}
	*len = n;
	return buf;
}

void
fp_params_unpack(struct fp_params *p, const char *buf, size_t len)
{
	const char *s = buf, *end = buf + len;

	memset(p, 0, sizeof(*p));
	while (s < end && p->n < FP_PARAMS_MAX) {
		const char *k = s, *v = s + strlen(s) + 1;

		if (v >= end)
			break;
		p->kv[p->n].key = k;
		p->kv[p->n].val = v;
		p->n++;
		s = v + strlen(v) + 1;
	}
}

/* A JSON string of S; bytes that are not UTF-8 become '?'. */
static json_t *
fp_params_jstr(const char *s)
{
	json_t *j;
	char *copy;

	if ((j = json_string(s)) != NULL)
		return j;
	copy = xstrdup(s);
	for (char *c = copy; *c != '\0'; c++)
		if ((unsigned char)*c >= 0x80)
			*c = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

json_t *
fp_params_json(const struct fp_params *p)
{
	json_t *o = json_object();

	for (int i = 0; i < p->n; i++) {
		char *k;

		if (strcmp(p->kv[i].key, "key") == 0)
			continue;
		if (json_object_set_new(o, p->kv[i].key,
		                        fp_params_jstr(p->kv[i].val)) == 0)
			continue;
		/* The key was not UTF-8. */
		k = xstrdup(p->kv[i].key);
		for (char *c = k; *c != '\0'; c++)
			if ((unsigned char)*c >= 0x80)
				*c = '?';
		json_object_set_new(o, k, fp_params_jstr(p->kv[i].val));
		free(k);
	}
	return o;
}

const char *
fp_params_get(const struct fp_params *p, const char *key)
{
	for (int i = p->n - 1; i >= 0; i--)
		if (strcmp(p->kv[i].key, key) == 0)
			return p->kv[i].val;
	return NULL;
}

const char *
fp_params_nonempty(const struct fp_params *p, const char *key)
{
	const char *v = fp_params_get(p, key);

	if (v == NULL)
		return NULL;
	for (const char *s = v; *s != '\0'; s++)
		if (!isspace((unsigned char)*s))
			return v;
	return NULL;
}

int
fp_params_ids(const char *list, struct fp_id *out, int max)
{
	int n = 0;
	const char *s = list;

	while (*s != '\0') {
		const char *tok, *end;
		size_t len;
		int64_t id = 0;
		int dup = 0;

		while (*s == ' ' || *s == '\t')
			s++;
		tok = s;
		while (*s != '\0' && *s != ',')
			s++;
		end = s;
		while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (*s == ',')
			s++;
		len = (size_t)(end - tok);
		if (len == 0)
			continue;
		if (len <= 18) {
			size_t i;

			for (i = 0; i < len && isdigit((unsigned char)tok[i]);
			     i++)
				id = id * 10 + (tok[i] - '0');
			if (i < len)
				id = 0;
		}
		for (int j = 0; j < n && !dup; j++)
			dup = id > 0 ? out[j].id == id
			             : out[j].rawlen == len &&
			                   memcmp(out[j].raw, tok, len) == 0;
		if (dup)
			continue;
		if (n >= max)
			return -1;
		out[n].id = id;
		out[n].raw = tok;
		out[n].rawlen = len;
		n++;
	}
	return n;
}
