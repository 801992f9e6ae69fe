/* params.h - request decoding without sockets: the request encodings
 * (form-urlencoded, multipart/form-data and JSON bodies, query strings) into
 * one flat set of NAME=VALUE fields, and comma-separated ID lists.
 *
 * Names are case-sensitive byte strings of 1..PARAMS_MAX_NAME bytes; a field
 * with an empty name is ignored.  Values are NUL-terminated byte strings (no
 * transcoding, whatever the charset).  The first field of a name wins; PHP
 * array fields (name[] or name[N]) in one form or multipart body are joined
 * with commas under the bare name, in order of appearance.  All strings live
 * in one arena owned by the params, so they stay valid until params_free. */
#ifndef PANELMUX_PARAMS_H
#define PANELMUX_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#define PARAMS_MAX_FIELDS 64    /* distinct fields accepted */
#define PARAMS_MAX_NAME 64      /* bytes of a field name */
#define PARAMS_MAX_JSON_DEPTH 4 /* body nesting accepted */
#define PARAMS_MAX_BOUNDARY 70  /* bytes of a multipart boundary (RFC 2046) */

struct params;

enum params_result {
	PARAMS_OK,
	PARAMS_BAD_ENCODING,
	PARAMS_TOO_MANY,
	PARAMS_UNSUPPORTED_TYPE
};

/* A new, empty parameter set; the caller owns it (params_free).  One
 * allocation; a typical small request is decoded without another. */
struct params *params_new(void);
/* Free P and every string it handed out.  NULL is a no-op. */
void params_free(struct params *p);

/* Decode BODY (LEN bytes, not NUL-terminated, may contain NULs) by its
 * Content-Type header value CTYPE (may be NULL; matched case-insensitively;
 * the boundary parameter is honoured, charset is accepted and ignored):
 * application/x-www-form-urlencoded, multipart/form-data, application/json,
 * text/json and any +json type.  An empty body gives no fields whatever the
 * type.  With a NULL or empty CTYPE the body is form data; with another
 * multipart type the result is PARAMS_UNSUPPORTED_TYPE; with any other
 * unknown type the body is tried as form data, and PARAMS_UNSUPPORTED_TYPE
 * replaces PARAMS_BAD_ENCODING if it is not.  Multipart parts with a filename
 * are ignored (PHP puts them in $_FILES, not among the parameters).  JSON
 * objects with duplicate keys are rejected.  Fields already present in P are
 * kept. On error P is left as it was and *WHY (if WHY is not NULL) is a static
 * English sentence saying what was wrong. */
enum params_result params_decode_body(struct params *p, const char *ctype,
                                      const char *body, size_t len,
                                      const char **why);

/* Decode a URL query string (without the '?') by the form-urlencoded rules.
 * Call it after params_decode_body: fields already present (from the body)
 * are kept.  Errors as for params_decode_body. */
enum params_result params_decode_query(struct params *p, const char *query,
                                       size_t len, const char **why);

/* Set NAME to a copy of VALUE unless NAME is present (used for the X-Api-Key
 * header -> "key").  Returns 0 when NAME is set or was already present, -1
 * when the name is empty or too long or the field table is full. */
int params_set_default(struct params *p, const char *name, const char *value);

/* The value of NAME, or NULL if absent.  Owned by P. */
const char *params_get(const struct params *p, const char *name);
/* Number of distinct fields. */
size_t params_count(const struct params *p);
/* The I-th field (0 <= I < params_count, in order of first appearance) in
 * *NAME and *VALUE, owned by P; -1 if I is out of range. */
int params_at(const struct params *p, size_t i, const char **name,
              const char **value);

enum idlist_result { IDLIST_OK, IDLIST_EMPTY, IDLIST_BAD, IDLIST_TOO_MANY };

/* Parse a comma-separated ID list S ("1,2,3", "1, 2 ,3"; spaces, tabs, CR
 * and LF around items are trimmed; empty items are skipped) into IDS, which
 * has room for MAX entries; *N is the number stored.  Each ID is a positive
 * decimal integer <= INT64_MAX, digits only.  Duplicates are dropped keeping
 * the first occurrence.  The first problem met from left to right decides
 * the result: an item that is not an ID -> IDLIST_BAD, the (MAX+1)-th
 * distinct ID -> IDLIST_TOO_MANY; no IDs at all (or S NULL) -> IDLIST_EMPTY.
 * IDS and *N are meaningful only on IDLIST_OK.  O(items x MAX). */
enum idlist_result idlist_parse(const char *s, int64_t *ids, size_t max,
                                size_t *n);

#endif
