/* linknorm.h - the same-link guard's link key: an order's link reduced so
 * that two ways of writing one target compare equal (DESIGN.md, "Same-link
 * guard").  A pure function: no allocation, no locale. */
#ifndef PANELMUX_LINKNORM_H
#define PANELMUX_LINKNORM_H

#include <stddef.h>

/* Normalise LINK (LEN bytes, any bytes) into OUT (SIZE bytes, NUL
 * terminated).  The key is never longer than LINK, so SIZE = LEN + 1
 * always suffices.  The rule, for http(s) links and bare host/path links:
 * surrounding white space trimmed; "http://" / "https://" dropped (the
 * scheme does not matter); the host lower-cased, without user info, a
 * trailing dot, the default port (:80, :443) and leading "www." and
 * "m."; the path kept as written (paths are case-sensitive) without
 * trailing slashes; the fragment dropped; query parameters that only
 * track (utm_*, igshid, igsh, fbclid, gclid, si, ref, ref_src, feature,
 * mibextid) dropped, the others kept in their order.  Anything else (a
 * username, another scheme) is only trimmed.  The length of the key, or
 * -1 when it is empty (no link) or SIZE is too small. */
int linknorm(const char *link, size_t len, char *out, size_t size);

#endif
