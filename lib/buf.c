/* buf.c - bounded growable buffer. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "xmalloc.h"

void
buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->max = max;
}

static int
buf_reserve(struct buf *b, size_t extra)
{
	size_t want, cap;

	if (extra > b->max || b->len > b->max - extra)
		return -1;
	want = b->len + extra + 1;
	if (want <= b->cap)
		return 0;
	cap = b->cap != 0 ? b->cap : 256;
	while (cap < want)
		cap *= 2;
	b->data = xreallocarray(b->data, cap, 1);
	b->cap = cap;
	return 0;
}

int
buf_add(struct buf *b, const void *p, size_t len)
{
	if (buf_reserve(b, len) != 0)
		return -1;
	if (len != 0)
		memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int
buf_puts(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n) != 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

static int
buf_dump_cb(const char *p, size_t len, void *arg)
{
	return buf_add(arg, p, len);
}

int
buf_json_string(struct buf *b, const char *s)
{
	json_t *j = json_string(s);
	int rc;

	if (j == NULL) /* not UTF-8: say so rather than pass bytes through */
		j = json_string("(invalid UTF-8)");
	rc = json_dump_callback(j, buf_dump_cb, b, JSON_ENCODE_ANY);
	json_decref(j);
	return rc == 0 ? 0 : -1;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

char *
buf_release(struct buf *b, size_t *len)
{
	char *p = b->data;

	if (p == NULL)
		p = xstrdup("");
	if (len != NULL)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
