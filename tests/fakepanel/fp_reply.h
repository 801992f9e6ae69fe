/* fp_reply.h - fakepanel reply bodies in the current dialect (std, v1,
 * var), shaped like the corpus in shared/corpus/upstream-replies/. */
#ifndef FAKEPANEL_FP_REPLY_H
#define FAKEPANEL_FP_REPLY_H

#include <stdint.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "fp.h"
#include "fp_orders.h"
#include "fp_params.h"

void fp_reply_set_dialect(enum fp_dialect d);
enum fp_dialect fp_reply_dialect(void);
/* PRETTY: indent 4 in every dialect; BOM: prefix every body with a UTF-8
 * byte-order mark. */
void fp_reply_set_format(int pretty, int bom);
/* From now on status replies (single and multi) name order ID+SHIFT in an
 * "order" member instead of the ID asked, as a panel mixing up its orders
 * would (the wrongid fault); 0 turns it off. */
void fp_reply_set_id_shift(int64_t shift);
/* Drop the cached services lists. */
void fp_reply_free(void);

/* Whole replies, appended to OUT. */
void fp_reply_error(struct evbuffer *out, const char *text);
/* The dialect's text for E (FP_E_TEXT: TEXT). */
const char *fp_reply_errtext(enum fp_err e, const char *text);
void fp_reply_balance(struct evbuffer *out, money_t bal, const char *cur);
void fp_reply_add(struct evbuffer *out, int64_t order);
/* The services list, rendered once per catalogue change. */
void fp_reply_services(struct evbuffer *out);
void fp_reply_status(struct evbuffer *out, int64_t id,
                     const struct fp_order_view *v, const char *cur);
void fp_reply_refill(struct evbuffer *out, int64_t refill);
void fp_reply_refill_status(struct evbuffer *out, enum fp_status st);
/* cancel with a single `order`: {"cancel":1} or the error. */
void fp_reply_cancel(struct evbuffer *out, const char *err);

/* A multi-status reply, streamed: begin, one add per ID (ERR NULL for
 * success), end. */
struct fp_reply_multi {
	struct evbuffer *out;
	json_t *j; /* NULL when written by hand */
	int n;
};
void fp_reply_mstatus_begin(struct fp_reply_multi *m, struct evbuffer *out);
void fp_reply_mstatus_add(struct fp_reply_multi *m, const struct fp_id *id,
                          const struct fp_order_view *v, const char *cur,
                          const char *err);
void fp_reply_mstatus_end(struct fp_reply_multi *m);

/* The other multi replies: make the container, add one item per ID (ERR
 * NULL for success), then fp_reply_dump() it. */
json_t *fp_reply_multi_refill(void);
void fp_reply_multi_refill_add(json_t *m, const struct fp_id *id,
                               int64_t refill, const char *err);
json_t *fp_reply_multi_refill_status(void);
void fp_reply_multi_refill_status_add(json_t *m, const struct fp_id *id,
                                      enum fp_status st, const char *err);
json_t *fp_reply_multi_cancel(void);
void fp_reply_multi_cancel_add(json_t *m, const struct fp_id *id,
                               const char *err);

/* Serialise J (reference stolen) in the dialect's formatting. */
void fp_reply_dump(struct evbuffer *out, json_t *j);

#endif
