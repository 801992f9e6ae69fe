/* jsonx.h - small helpers around jansson shared by every parser of
 * untrusted JSON (request bodies, upstream replies). */
#ifndef PANELMUX_JSONX_H
#define PANELMUX_JSONX_H

#include <stddef.h>

/* Bytes a double needs in plain decimal (1e308 has 309 digits), with NUL. */
#define JSONX_REAL_MAX 400

/* Whether the JSON text S (LEN bytes) nests arrays/objects deeper than MAX.
 * A pre-scan, so a hostile document is refused before jansson builds it. */
int jsonx_too_deep(const char *s, size_t len, int max);

/* D as the shortest plain decimal (no exponent) that reads back as D: the
 * number the sender most likely wrote.  0.1 -> "0.1", 1e-7 ->
 * "0.0000001", 100.0 -> "100", -0.0 -> "0".  OUT has JSONX_REAL_MAX bytes.
 * Returns the length, or -1 (OUT = "") if D is not finite.  No arithmetic
 * is done on D: money parses the text. */
int jsonx_real(double d, char *out);

#endif
