/* admin_api.h - the admin API (SPEC section 10) under /adminapi/v2/ on
 * listen.admin: Perfect Panel's admin API v2 shape over the operations
 * layer (lib/ops.h).  README "Admin API" documents every path. */
#ifndef PANELMUX_ADMIN_API_H
#define PANELMUX_ADMIN_API_H

struct evhttp_request;
struct orders;
struct panel;
struct store;
struct admin_api;

#define ADMIN_API_PREFIX "/adminapi/v2/"
#define ADMIN_API_BODY_MAX (64 * 1024) /* bytes of a request body */

/* The API over ST, reading the configuration and catalogue of P and
 * cancelling through O (all borrowed; they outlive it). */
struct conns;
/* ... and telling CONNS (the listener's guard) of each answer. */
struct admin_api *admin_api_new(struct panel *p, struct orders *o,
                                struct store *st, struct conns *conns);
void admin_api_free(struct admin_api *a); /* NULL ok */

/* Answer REQ, whose path starts with /adminapi/ (PATH): every reply is the
 * JSON envelope.  Runs on a fiber (the store may park it); the reply may be
 * sent later (a cancel waits on its upstreams). */
void admin_api_handle(struct admin_api *a, struct evhttp_request *req,
                      const char *path);

#endif
