/* batch.h - coalescing of per-ID upstream calls.
 *
 * For one upstream and each action (status, refill, refill_status, cancel)
 * the IDs asked for by every customer request and by the poller are merged
 * into upstream requests of at most max_batch IDs, deduplicated: an ID
 * already waiting joins its queue entry, an ID already in flight joins that
 * request.  A queue is sent when it is full, or at the end of the current
 * event-loop pass.  Answers are applied once per ID (the APPLY hook, e.g.
 * writing a status to the store) and then fanned out to every waiter.
 *
 * An upstream that refuses multi calls (a definite rejection of a request
 * carrying several IDs) is remembered and asked one ID at a time.
 */
#ifndef PANELMUX_BATCH_H
#define PANELMUX_BATCH_H

#include <stdint.h>

#include "dialect.h"
#include "upstream.h"

struct event_base;
struct batcher;

enum batch_action {
	BATCH_STATUS,
	BATCH_REFILL,
	BATCH_REFILL_STATUS,
	BATCH_CANCEL,
	BATCH_NACTIONS
};

/* The answer for one ID, valid only during the callback. */
struct batch_answer {
	enum up_transport transport;           /* UP_REPLIED: see item */
	enum dialect_item item;                /* with UP_REPLIED */
	const char *msg;                       /* error text or fault reason */
	const struct dialect_order_status *st; /* BATCH_STATUS, ITEM_OK */
	const char *refill;                    /* BATCH_REFILL, ITEM_OK */
	enum dialect_refill_status rstatus;    /* BATCH_REFILL_STATUS */
	const char *rstatus_raw;
};

/* Called once per answered ID; LOCAL is what the first requester passed. */
typedef void (*batch_apply_cb)(void *ctx, enum batch_action a, int64_t local,
                               const char *id, const struct batch_answer *ans);
/* Called with BEGIN 1 before the answers of one upstream reply are
 * applied and with 0 after them, before any requester's callback runs
 * (the poller makes one store transaction of them). */
typedef void (*batch_group_cb)(void *ctx, int begin);
/* Called once per request of the ID. */
typedef void (*batch_cb)(const char *id, const struct batch_answer *ans,
                         void *arg);

#define BATCH_SIZE_BUCKETS 5
/* Upper bounds of the IDs-per-request histogram (a last bucket is +Inf). */
extern const int batch_size_bounds[BATCH_SIZE_BUCKETS];

struct batch_stats {
	uint64_t sizes[BATCH_SIZE_BUCKETS + 1]; /* requests by IDs carried */
	uint64_t requests[BATCH_NACTIONS];      /* upstream requests sent */
	uint64_t ids[BATCH_NACTIONS];           /* IDs in them */
	uint64_t joined;                        /* asks that joined another */
};

/* A batcher for upstream UP on BASE.  MULTI_OK: start out using multi
 * calls.  APPLY (may be NULL) gets every answer first. */
struct batcher *batcher_new(struct event_base *base, struct upstream *up,
                            int max_batch, int multi_ok, batch_apply_cb apply,
                            void *ctx);
/* Queued asks end with UP_NOT_SENT; NULL ok.  Free the upstream engine
 * first: it ends the requests in flight, whose answers still need B. */
void batcher_free(struct batcher *b);
void batcher_set_max(struct batcher *b, int max_batch);
/* A's IDs not applied yet: queued, in flight, or (with a group hook)
 * answered and waiting for their slice. */
int batcher_outstanding(const struct batcher *b, enum batch_action a);
/* ... of them, those queued or in flight (not answered yet). */
int batcher_unanswered(const struct batcher *b, enum batch_action a);
/* GROUP (NULL: none) brackets the applies of each reply, with APPLY's ctx. */
void batcher_set_group(struct batcher *b, batch_group_cb group);
/* The loop took a customer's request: for a while the applies leave it
 * half the loop at least (lib/batch.c). */
void batch_customer_seen(void);
int batcher_multi_ok(const struct batcher *b);
void batcher_stats(const struct batcher *b, struct batch_stats *out);
/* IDs waiting or in flight for action A. */
int batcher_pending(const struct batcher *b, enum batch_action a,
                    const char *id);

/* Ask for ID (an upstream order or refill ID) under action A. CB is called
 * exactly once, from the loop, never from inside this call. */
void batch_ask(struct batcher *b, enum batch_action a, const char *id,
               int64_t local, batch_cb cb, void *arg);

#endif
