/* admin_api_int.h - what the admin API's files share (admin_api.c: the
 * request, its input and replies, routing and keys; admin_users.c: users
 * and payments; admin_orders.c: orders; admin_views.c: the read-only
 * views, sync and match; admin_webhooks.c: customers' webhooks;
 * admin_pricing.c: customers' own rates; admin_prices.c: the price-change
 * log).
 * Private to them. */
#ifndef PANELMUX_ADMIN_API_INT_H
#define PANELMUX_ADMIN_API_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "money.h"
#include "ops.h"
#include "store.h"

struct conns;
struct evhttp_request;
struct orders;
struct panel;
struct params;
struct ratelimit;

struct admin_api {
	struct conns *conns;
	struct panel *panel;
	struct orders *orders;
	struct store *st;
	struct ratelimit *auth_fail;
};

/* One request being answered. */
struct admin_req {
	struct admin_api *a;
	struct evhttp_request *req;
	const char *rest; /* the path after /adminapi/v2/ */
	int64_t id;       /* users/{id}, orders/{id} */
	json_t *body;     /* a JSON body's object, or NULL */
	struct params *p; /* a form body's fields and the query's */
	struct ops ops;
	char key_name[STORE_NAME_MAX + 1]; /* the operator key's */
	int decimals;
	int status;    /* the reply's, once sent */
	char msg[256]; /* its error message */
};

/* A page's rows as JSON, money with DECIMALS. */
struct admin_rows {
	json_t *list;
	int decimals;
};

/* Replies and input (admin_api.c). */
int admin_bool(struct admin_req *r, const char *name, int *out);
void admin_fail(struct admin_req *r, int status, const char *msg);
int admin_ids(struct admin_req *r, const char *name, int64_t *ids, size_t max,
              size_t *n);
int admin_int(struct admin_req *r, const char *name, int64_t lo, int64_t hi,
              int64_t dflt, int64_t *out);
json_t *admin_int_or_null(int64_t v);
json_t *admin_ledger(const struct ledger_entry *e, int decimals);
json_t *admin_list(json_t *list);
json_t *admin_money(money_t v, int decimals);
int admin_need(struct admin_req *r, const char *name, int numbers,
               const char **out);
void admin_ops_reply(struct admin_req *r, const struct ops_result *res,
                     json_t *data);
json_t *admin_order(const struct order *o, const char *user, int decimals);
int admin_page(struct admin_req *r, int64_t *limit, int64_t *offset);
json_t *admin_payment(const struct ledger_entry *e, const char *user,
                      int decimals);
void admin_send(struct admin_req *r, int status, const char *msg, json_t *data);
void admin_send_page(struct admin_req *r, int64_t n, json_t *list);
int admin_text(struct admin_req *r, const char *name, int numbers,
               const char **out);
json_t *admin_text_or_null(const char *s);
json_t *admin_time(int64_t t);
json_t *admin_user(const struct customer *c, int decimals);

/* The users' and payments' paths (admin_users.c), orders' (admin_orders.c),
 * the views' (admin_views.c). */
void admin_audit(struct admin_req *r);
void admin_check(struct admin_req *r);
void admin_me(struct admin_req *r);
void admin_orders_cancel(struct admin_req *r);
void admin_orders_get(struct admin_req *r);
void admin_orders_list(struct admin_req *r);
void admin_orders_resolve(struct admin_req *r);
void admin_payments_add(struct admin_req *r);
void admin_payments_deduct(struct admin_req *r);
void admin_payments_list(struct admin_req *r);
void admin_report(struct admin_req *r);
void admin_services(struct admin_req *r);
void admin_stats(struct admin_req *r);
void admin_services_match(struct admin_req *r);
void admin_services_changes(struct admin_req *r); /* admin_prices.c */
void admin_upstreams(struct admin_req *r);
void admin_upstreams_sync(struct admin_req *r);
void admin_users_add(struct admin_req *r);
void admin_users_disable(struct admin_req *r);
void admin_users_enable(struct admin_req *r);
void admin_users_get(struct admin_req *r);
void admin_users_list(struct admin_req *r);
void admin_users_rotate(struct admin_req *r);

/* Customers' own rates (admin_pricing.c). */
void admin_groups_add(struct admin_req *r);
void admin_groups_list(struct admin_req *r);
void admin_groups_remove(struct admin_req *r);
void admin_groups_update(struct admin_req *r);
void admin_rates_list(struct admin_req *r);
void admin_rates_remove(struct admin_req *r);
void admin_rates_set(struct admin_req *r);
void admin_users_set_group(struct admin_req *r);
/* Webhooks (admin_webhooks.c). */
void admin_webhooks_add(struct admin_req *r);
void admin_webhooks_dead(struct admin_req *r);
void admin_webhooks_list(struct admin_req *r);
void admin_webhooks_remove(struct admin_req *r);
void admin_webhooks_retry(struct admin_req *r);
void admin_webhooks_rotate(struct admin_req *r);
void admin_webhooks_stop(void);
/* Shared among them. */
void admin_req_free(struct admin_req *r);
void admin_services_drop(void *arg);
int64_t admin_user_filter(struct admin_req *r, const char *field);
int admin_user_row(const struct customer *c, void *arg);

#endif
