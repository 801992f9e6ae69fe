/* orders.h - orders end to end: add (charge, route, forward, the three
 * outcomes), the reply wait, the queued-order sweeper (which is also crash
 * recovery), the status poller with exactly-once settlement, and the
 * status, refill, refill_status and cancel actions, all batched per
 * upstream.
 *
 * The actions answer into an api_reply.  Each returns 1 when the reply is
 * complete on return, or 0 when DONE(ARG) will be called later (from the
 * event loop) once it is. */
#ifndef PANELMUX_ORDERS_H
#define PANELMUX_ORDERS_H

#include <stdint.h>

struct api_reply;
struct customer;
struct panel;
struct params;
struct orders;

typedef void (*orders_done_cb)(void *arg);

struct orders_stats {
	uint64_t added, rejected, ambiguous, parked, settled;
	uint64_t unknown_status;
};

struct orders *orders_new(struct panel *p);
/* Start the sweeper (queued orders are sent: after a crash too) and the
 * pollers; report orders left `sending` by a previous run as ambiguous. */
void orders_start(struct orders *o);
/* The panel's config changed (a reload): batch sizes and poll intervals
 * follow it. */
void orders_reload(struct orders *o);
/* Stop starting new upstream calls (before the engine is freed). */
void orders_stop(struct orders *o);
/* Free; pending asks end as "not sent". NULL ok. */
void orders_free(struct orders *o);
void orders_stats(const struct orders *o, struct orders_stats *out);
struct batch_stats;
/* The batching stats of upstream IDX. */
void orders_batch_stats(const struct orders *o, size_t idx,
                        struct batch_stats *out);
/* Run one poll cycle of upstream IDX now (tests, the CLI). */
void orders_poll(struct orders *o, size_t idx);

/* What a customer is told of an upstream's refusal text MSG of an add:
 * the standard v2 error it matches, or a neutral sentence; never the
 * upstream's own words.  May write into BUF (LEN bytes); returns it or a
 * static string. */
const char *orders_refusal_text(const char *msg, char *buf, size_t len);

int orders_add(struct orders *o, const struct customer *c,
               const struct params *p, struct api_reply *r, orders_done_cb done,
               void *arg);
int orders_status(struct orders *o, const struct customer *c,
                  const struct params *p, struct api_reply *r,
                  orders_done_cb done, void *arg);
int orders_refill(struct orders *o, const struct customer *c,
                  const struct params *p, struct api_reply *r,
                  orders_done_cb done, void *arg);
int orders_refill_status(struct orders *o, const struct customer *c,
                         const struct params *p, struct api_reply *r,
                         orders_done_cb done, void *arg);
int orders_cancel(struct orders *o, const struct customer *c,
                  const struct params *p, struct api_reply *r,
                  orders_done_cb done, void *arg);

#endif
