/* xmalloc.h - internal allocations abort on failure (the OOM policy).
 * Anything sized by the network goes through a bounded buffer instead. */
#ifndef PANELMUX_XMALLOC_H
#define PANELMUX_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xreallocarray(void *ptr, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
int xasprintf(char **ret, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
