/* rowcache.h - a bounded cache of fixed-size values by 64-bit key.
 *
 * Open addressing with linear probing and backward-shift deletion over
 * keys; the values live in a dense array beside it.  Emptying it is O(1)
 * (a generation number), so the store can drop everything whenever another
 * process may have written.
 * When it holds its maximum it is emptied before the next insert: a cache
 * that forgets is correct, one that grows is not bounded. */
#ifndef PANELMUX_ROWCACHE_H
#define PANELMUX_ROWCACHE_H

#include <stddef.h>
#include <stdint.h>

struct rowcache;

/* MAX entries (the table has at least twice as many slots) of VALUE_SIZE
 * bytes.  The values' memory is touched only as entries are used. */
struct rowcache *rowcache_new(size_t value_size, size_t max);
void rowcache_free(struct rowcache *c); /* NULL ok */
/* KEY's value, or NULL; valid until the next change to the cache. */
const void *rowcache_get(const struct rowcache *c, int64_t key);
/* Set KEY's value (a copy of VALUE_SIZE bytes at VALUE). */
void rowcache_put(struct rowcache *c, int64_t key, const void *value);
void rowcache_forget(struct rowcache *c, int64_t key);
void rowcache_clear(struct rowcache *c);
size_t rowcache_count(const struct rowcache *c);

#endif
