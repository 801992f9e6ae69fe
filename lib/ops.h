/* ops.h - the operator's operations: one layer under both the CLI
 * (daemon/panelmux.c) and the admin API (daemon/admin_api.c), so that no
 * rule is written twice.  Each operation validates its input, does its
 * store calls, and records itself in the audit trail with its actor and
 * its result, refused or done.
 *
 * An operation answers with an ops_result: a status (the admin API sends
 * it as the HTTP status and error_code, the CLI turns it into an exit
 * status) and a sentence for the operator.  Never a key, never SQL. */
#ifndef PANELMUX_OPS_H
#define PANELMUX_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "money.h"
#include "store.h"

struct config;

enum ops_status {
	OPS_OK = 200,
	OPS_BAD = 400,      /* the input is wrong */
	OPS_DENIED = 403,   /* a read-only key writing */
	OPS_NOTFOUND = 404, /* no such user, order or key */
	OPS_CONFLICT = 409, /* taken, not allowed in this state */
	OPS_ERROR = 500     /* the store failed (logged) */
};

struct ops_result {
	enum ops_status status;
	char msg[256]; /* "" when OPS_OK */
};

/* Who acts, on which store: "cli", or "admin:NAME" for an admin key. */
struct ops {
	struct store *st;
	const struct config *cfg;
	char actor[STORE_ACTOR_MAX + 1];
	int read_only; /* every write is OPS_DENIED */
	int recorded;  /* audit entries written through it */
};

void ops_init(struct ops *o, struct store *st, const struct config *cfg,
              const char *actor, int read_only);

/* The name an actor carries for admin key NAME. */
void ops_actor_admin(char *dst, size_t size, const char *name);

/* Set R to STATUS with the sentence FMT; returns -1 unless OPS_OK (0). */
int ops_fail(struct ops_result *r, enum ops_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parse a positive amount TEXT with at most the configured money.decimals
 * into *OUT; -1 with R set (OPS_BAD) if it is not one. */
int ops_amount(const struct ops *o, const char *text, money_t *out,
               struct ops_result *r);

/* Users (customers).  KEY receives a new customer API key, shown once. */
int ops_user_add(struct ops *o, const char *name, struct customer *out,
                 char key[AUTH_KEY_LEN + 1], struct ops_result *r);
int ops_user_rotate_key(struct ops *o, const char *name, struct customer *out,
                        char key[AUTH_KEY_LEN + 1], struct ops_result *r);
int ops_user_set_disabled(struct ops *o, const char *name, int disabled,
                          struct customer *out, struct ops_result *r);
/* Read-only: the user NAME, or OPS_NOTFOUND. */
int ops_user_get(struct ops *o, const char *name, struct customer *out,
                 struct ops_result *r);

/* A payment to or from a user's balance. */
struct ops_payment {
	const char *user;
	const char *amount; /* decimal text, > 0 */
	int deduct;         /* take AMOUNT off (never below zero) */
	const char *method, *memo;
	const char *external_id; /* NULL: none; credits at most once */
};
/* *OUT the payment, *USER the user as it is after it.  *DUPLICATE 1 when
 * the reference had already been credited (OUT is that first payment). */
int ops_payment(struct ops *o, const struct ops_payment *in,
                struct ledger_entry *out, struct customer *user, int *duplicate,
                struct ops_result *r);

/* An order in doubt settled by the operator: with UPSTREAM_ORDER it is
 * active, with NULL refunded.  *OUT the order after it. */
int ops_order_resolve(struct ops *o, int64_t id, const char *upstream_order,
                      struct order *out, struct ops_result *r);

/* Operator keys: KEY receives the new key, shown once. */
int ops_key_add(struct ops *o, const char *name, int read_only,
                char key[AUTH_KEY_LEN + 1], struct ops_result *r);
int ops_key_revoke(struct ops *o, const char *name, struct ops_result *r);

/* Customers' webhooks (lib/webhook.h).  The URL is checked by
 * netaddr_check_url, which resolves its host: a caller on the event loop
 * checks it on a thread of its own first and passes the outcome
 * (URL_CHECKED, and URL_REFUSED the reason or NULL). */
struct ops_webhook_new {
	const char *user;
	const char *url;
	const char *events;        /* comma list, NULL: the default set */
	const char *balance_below; /* decimal text, NULL: no threshold */
	int url_checked;
	const char *url_refused;
};
/* SECRET receives the endpoint's secret, shown once; *OUT the endpoint. */
int ops_webhook_add(struct ops *o, const struct ops_webhook_new *in,
                    struct webhook_endpoint *out,
                    char secret[STORE_SECRET_MAX + 1], struct ops_result *r);
int ops_webhook_remove(struct ops *o, int64_t id, struct ops_result *r);
/* A new secret into SECRET; the old one signs too for OVERLAP (a duration,
 * NULL: 24h). */
int ops_webhook_rotate(struct ops *o, int64_t id, const char *overlap,
                       char secret[STORE_SECRET_MAX + 1], struct ops_result *r);
/* Dead letter ID (0: all) pending again; *N how many. */
int ops_webhook_retry(struct ops *o, int64_t id, int64_t *n,
                      struct ops_result *r);
/* LIST ("order.status,refill.status", "all") as WEBHOOK_EV_* bits. */
int ops_webhook_events(const char *list, unsigned *out, struct ops_result *r);

/* Customers' own rates (lib/pricing.h).  A group's PERCENT is "-10%" (a
 * discount) or "5%" (a surcharge); an override's RULE is a rate per 1000
 * ("1.25") or a percent off ("10%"). */
int ops_group_add(struct ops *o, const char *name, const char *percent,
                  struct ops_result *r);
int ops_group_set(struct ops *o, const char *name, const char *percent,
                  struct ops_result *r);
int ops_group_remove(struct ops *o, const char *name, struct ops_result *r);
/* USER into GROUP (NULL or "": out of any). */
int ops_user_set_group(struct ops *o, const char *user, const char *group,
                       struct ops_result *r);
int ops_rate_set(struct ops *o, const char *user, int64_t service_id,
                 const char *rule, struct ops_result *r);
int ops_rate_remove(struct ops *o, const char *user, int64_t service_id,
                    struct ops_result *r);
/* TEXT ("10%", "-7.5") as a percent in money units: SIGNED_OK a group's
 * (-100% < p <= 1000%), else a percent off (0..100%). */
int ops_percent(const char *text, int signed_ok, money_t *out,
                struct ops_result *r);

/* Record a write done elsewhere (the order engine's cancels, the CLI's syncs):
 * ACTION on TARGET with DETAIL (JSON text, NULL: {}) and R's outcome. */
void ops_audit(struct ops *o, const char *action, const char *target,
               const char *detail, const struct ops_result *r);

#endif
