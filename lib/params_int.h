/* params_int.h - what params.c and params_multipart.c share; not for other
 * modules. */
#ifndef PANELMUX_PARAMS_INT_H
#define PANELMUX_PARAMS_INT_H

#include <stddef.h>

#include "params.h"

/* How params_add decodes a value. */
enum params_mode { PARAMS_RAW, PARAMS_URL };

/* "A field name is longer than PARAMS_MAX_NAME bytes." */
extern const char params_why_long[];

/* Set *WHY to MSG and return R. */
enum params_result params_fail(const char **why, enum params_result r,
                               const char *msg);
/* S (LEN bytes) equals the lower-case ASCII string LC, ignoring case. */
int params_ieq(const char *s, size_t len, const char *lc);
/* PHP array syntax: "name[]" or "name[123]" is an array item of "name"
 * (1, with *BARE the length of "name"); 0 otherwise. */
int params_array_name(const char *name, size_t len, size_t *bare);
/* Add field NAME (NLEN bytes) with the value SRC (SLEN bytes) decoded by
 * MODE, unless NAME is present; see params.c. */
enum params_result params_add(struct params *p, const char *name, size_t nlen,
                              int array, const char *src, size_t slen,
                              enum params_mode mode, const char **why);

/* params_multipart.c: decode a multipart/form-data BODY into P.
 * CPARAMS..CEND are the Content-Type parameters (the boundary). */
enum params_result params_multipart(struct params *p, const char *cparams,
                                    const char *cend, const char *body,
                                    size_t len, const char **why);

#endif
