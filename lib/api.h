/* api.h - the downstream v2 API: one function per action, pure logic on the
 * store and config interfaces (no sockets).  The front door decodes a request
 * into params, calls api_handle, and sends what it returns. */
#ifndef PANELMUX_API_H
#define PANELMUX_API_H

#include "buf.h"
#include "reply.h"

struct config;
struct orders;
struct panel;
struct ratelimit;
struct params;
struct store;

/* The exact error strings panels use (SPEC section 4): reply.h. */

#define API_MAX_IDS 100           /* IDs per status/refill/cancel request */
#define API_REPLY_MAX (64u << 20) /* largest reply we build */

enum api_action {
	API_BALANCE,
	API_SERVICES,
	API_ADD,
	API_STATUS,
	API_REFILL,
	API_REFILL_STATUS,
	API_CANCEL,
	API_UNKNOWN,
	API_ACTION_COUNT
};

struct api {
	const struct config *cfg;
	struct store *st;
	struct panel *panel;   /* upstreams and catalogue */
	struct orders *orders; /* the order engine */
	/* Per-key buckets, or NULL: writes (add, refill, cancel) take from
	 * PER_KEY (limits.rate_per_key), the other actions, cheap reads, from
	 * PER_KEY_READ (limits.read_rate_per_key). */
	struct ratelimit *per_key;
	struct ratelimit *per_key_read;
	struct reply_ctx reply; /* the status words last shown */
};

typedef void (*api_done_cb)(void *arg);

/* What api_handle answers: BODY, or borrowed bytes (REF, the pre-rendered
 * services list) that stay valid until REF_RELEASE(REF_ARG) is called once
 * they have been sent. */
struct api_reply {
	int status; /* HTTP status: 200 also for API errors, as panels do */
	struct buf body;
	const char *ref;
	size_t ref_len;
	void (*ref_release)(void *arg);
	void *ref_arg;
	int key_ok; /* the request's API key was valid (set by api_handle) */
	/* While an action waits on the engine: the reply renders with API's
	 * config, then DONE(DONE_ARG) is called (NULL: answered in time). */
	struct api *api;
	api_done_cb done;
	void *done_arg;
};

void api_reply_init(struct api_reply *r);
/* Release whatever R still holds (body, or the reference). */
void api_reply_clear(struct api_reply *r);

const char *api_action_name(enum api_action a);
/* The action a request asks for, with the widely copied PHP client's
 * omissions (no `action` for the refill family) resolved. */
enum api_action api_action_resolve(const struct params *p);

/* Answer one request into OUT (initialised by the caller).  *ACTION is set
 * to the resolved action for metrics and logs, OUT->key_ok once the key is
 * known (before any wait).  P may gain fields (an ID list given in the
 * single form, `order=1,2`, is copied to the list form's field).  Returns 1
 * when OUT is complete on return; 0 when DONE(ARG) will be called from the
 * event loop once it is (P is not used after the return). */
int api_handle(struct api *api, struct params *p, struct api_reply *out,
               enum api_action *action, api_done_cb done, void *arg);

/* {"error":MSG} into OUT. */
void api_error(struct buf *out, const char *msg);

#endif
