/* buf.h - a growable byte buffer with an explicit maximum, for replies and
 * anything else sized by the network. */
#ifndef PANELMUX_BUF_H
#define PANELMUX_BUF_H

#include <stddef.h>

struct buf {
	char *data; /* NUL-terminated while len < cap */
	size_t len;
	size_t cap;
	size_t max; /* buf_add past this fails */
};

void buf_init(struct buf *b, size_t max);
/* Append; 0, or -1 if it would exceed max (nothing appended). */
int buf_add(struct buf *b, const void *p, size_t len);
int buf_puts(struct buf *b, const char *s);
/* Append a string literal (its length known when compiling). */
#define BUF_LIT(b, lit) buf_add((b), "" lit, sizeof(lit) - 1)
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Append S as a JSON string literal, quotes included. */
int buf_json_string(struct buf *b, const char *s);
void buf_reset(struct buf *b);
/* Hand the storage to the caller (free() it); B is left empty. */
char *buf_release(struct buf *b, size_t *len);
void buf_free(struct buf *b);

#endif
