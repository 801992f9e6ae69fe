/* dialect_int.h - what the dialect_*.c files share; not for other modules.
 *
 * dialect.c: text cleaning, messages, status words, the lenient value
 * readers, error shapes and loading.  dialect_orders.c: the per-ID answer
 * readers the multi reader (dialect_multi.c) uses.
 */
#ifndef PANELMUX_DIALECT_INT_H
#define PANELMUX_DIALECT_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "dialect.h"
#include "money.h"

#define DIALECT_KEY_SZ 48     /* normalised status word / type name */
#define DIALECT_INT_DIGITS 18 /* digits of an integer read from text */
#define DIALECT_REAL_INT 9007199254740992.0 /* 2^53: integral doubles exact */
#define DIALECT_NELEM(a) (sizeof(a) / sizeof((a)[0]))

enum dialect_refusal {
	DIALECT_NOT_REFUSED,
	DIALECT_REFUSED_ERROR,   /* a real "error" member */
	DIALECT_REFUSED_ENVELOPE /* "status":"error" or "success":false */
};

/* Words, normalised as dialect_key() does, NULL-terminated. */
extern const char *const dialect_fail_words[]; /* a failed/error status */
extern const char *const dialect_ok_words[];   /* "success", "ok" */
extern const char *const dialect_no_words[];   /* "0", "false", "no" */

/* ---- dialect.c: text ---- */

/* The text S (LEN bytes) into DST (SZ bytes) as kept text: valid UTF-8,
 * no control characters, trimmed (see dialect.c).  Returns its length. */
size_t dialect_clean(char *dst, size_t sz, const char *s, size_t len,
                     int keep_lf);
/* Format into MSG (DIALECT_MSG_SZ bytes), cleaned like any kept text. */
void dialect_msg(char *msg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Trim white space from both ends of the text at S, LEN bytes. */
void dialect_trim(const char **s, size_t *len);
/* Lower-case S without spaces, '_' and '-' into KEY.  -1 if too long. */
int dialect_key(const char *s, size_t len, char *key, size_t sz);
/* Whether the string V normalises to one of the NULL-terminated WORDS. */
int dialect_word_in(const json_t *v, const char *const *words);

/* ---- dialect.c: value readers (0, or -1 when unusable) ---- */
int dialect_int(const json_t *v, int64_t *out);
int dialect_money(const json_t *v, enum money_round mode, money_t *out);
int dialect_bool(const json_t *v, int *out);
int dialect_id(const json_t *v, int digits, char out[DIALECT_ID_SZ]);
int dialect_currency(const json_t *v, char out[DIALECT_CURRENCY_SZ]);
int dialect_text(const json_t *v, char *dst, size_t sz);

/* ---- dialect.c: errors and loading (the rules in dialect.c's head) ---- */
int dialect_error_value(const json_t *v, const json_t *parent, char *msg);
enum dialect_refusal dialect_refused(const json_t *o, int status_word,
                                     char *msg);
json_t *dialect_load(int http, const char *body, size_t len, size_t max,
                     char *msg);
json_t *dialect_unwrap(json_t *o);
json_t *dialect_load_object(int http, const char *body, size_t len, json_t **o,
                            char *msg);

/* ---- dialect_orders.c: one ID's answer in a multi reply ---- */
enum dialect_item dialect_status_elem(const json_t *e,
                                      struct dialect_order_status *st,
                                      char *msg);
enum dialect_item dialect_refill_elem(const json_t *e,
                                      char refill[DIALECT_ID_SZ], char *msg);
enum dialect_item dialect_refill_status_elem(const json_t *e,
                                             enum dialect_refill_status *st,
                                             char raw[DIALECT_WORD_SZ],
                                             char *msg);
enum dialect_item dialect_cancel_elem(const json_t *e, char *msg);
/* The whole result that one item's outcome stands for. */
enum dialect_result dialect_item_result(enum dialect_item it);

#endif
