/* strmap.h - a small string-keyed hash map (chained, grows by doubling).
 * Keys are copied; values are borrowed pointers. */
#ifndef PANELMUX_STRMAP_H
#define PANELMUX_STRMAP_H

#include <stddef.h>

struct strmap;

struct strmap *strmap_new(void);
void strmap_free(struct strmap *m); /* NULL ok; values are not freed */
void *strmap_get(const struct strmap *m, const char *key);
/* Set KEY to VALUE (replacing any previous value). */
void strmap_put(struct strmap *m, const char *key, void *value);
/* Remove KEY; its value, or NULL. */
void *strmap_del(struct strmap *m, const char *key);
size_t strmap_count(const struct strmap *m);
/* Call CB for each entry; CB must not change the map. */
void strmap_foreach(const struct strmap *m,
                    void (*cb)(const char *key, void *value, void *arg),
                    void *arg);

#endif
