/* fp_params.h - fakepanel request parameters: a query string, a
 * form-urlencoded body or a JSON object body decoded into one flat list of
 * NUL-terminated key/value strings, without an allocation per request. */
#ifndef FAKEPANEL_FP_PARAMS_H
#define FAKEPANEL_FP_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define FP_PARAMS_MAX 64 /* fields kept per request; the rest is dropped */
#define FP_IDS_MAX 1000  /* IDs parsed from one comma list */

struct fp_kv {
	const char *key;
	const char *val;
};

struct fp_params {
	char *buf; /* decoded strings; owned */
	size_t len;
	size_t cap;
	struct fp_kv kv[FP_PARAMS_MAX];
	int n;
	int overflow; /* fields or bytes were dropped */
};

/* One entry of a comma-separated ID list.  ID is 0 when the token is not a
 * positive integer; RAW is the trimmed token (not NUL-terminated). */
struct fp_id {
	int64_t id;
	const char *raw;
	size_t rawlen;
};

/* Room for CAP bytes of decoded text. */
void fp_params_init(struct fp_params *p, size_t cap);
void fp_params_free(struct fp_params *p);
void fp_params_clear(struct fp_params *p);
/* Append the fields of "a=1&b=x%20y" (LEN bytes). */
void fp_params_add_form(struct fp_params *p, const char *s, size_t len);
/* Append the members of a JSON object: strings as they are, numbers in
 * decimal, booleans as 1/0, arrays of scalars joined by commas (IDs) or by
 * newlines (anything else).  -1 if the body is not a JSON object. */
int fp_params_add_json(struct fp_params *p, const char *s, size_t len);
/* The last value given for KEY, or NULL. */
const char *fp_params_get(const struct fp_params *p, const char *key);
/* The value of KEY if present and not blank, else NULL. */
const char *fp_params_nonempty(const struct fp_params *p, const char *key);
/* Every field except "key", packed as "k\0v\0k\0v\0..." into a new
 * buffer (free with free()); *LEN is its size. */
char *fp_params_pack(const struct fp_params *p, size_t *len);
/* Point P's fields into packed BUF of LEN bytes (nothing copied: P is
 * valid while BUF is, and must not be given to fp_params_free()). */
void fp_params_unpack(struct fp_params *p, const char *buf, size_t len);
/* A new JSON object of every field except "key"; bytes that are not UTF-8
 * become '?'. */
json_t *fp_params_json(const struct fp_params *p);
/* Split LIST at commas, trim spaces, skip empty tokens, drop duplicates
 * (first occurrence kept).  Returns the count, or -1 if there are more than
 * MAX distinct tokens. */
int fp_params_ids(const char *list, struct fp_id *out, int max);

#endif
