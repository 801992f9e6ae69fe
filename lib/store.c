/* store.c - backend selection, the names shared by every backend, and the
 * calls of store.h: the backend's entry or the core's rule. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "store.h"
#include "store_core.h"

static const char *const store_state_names[ORDER_STATE_COUNT] = {
    [ORDER_QUEUED] = "queued",     [ORDER_SENDING] = "sending",
    [ORDER_ACTIVE] = "active",     [ORDER_COMPLETED] = "completed",
    [ORDER_PARTIAL] = "partial",   [ORDER_CANCELED] = "canceled",
    [ORDER_REFUNDED] = "refunded", [ORDER_REJECTED] = "rejected",
};

const char *
order_state_name(enum order_state s)
{
	if ((unsigned)s >= ORDER_STATE_COUNT)
		return "unknown";
	return store_state_names[s];
}

int
order_state_parse(const char *s)
{
	for (int i = 0; i < ORDER_STATE_COUNT; i++)
		if (strcmp(s, store_state_names[i]) == 0)
			return i;
	return -1;
}

int
order_state_final(enum order_state s)
{
	return s >= ORDER_COMPLETED;
}

const char *
ledger_kind_name(enum ledger_kind k)
{
	switch (k) {
	case LEDGER_DEPOSIT:
		return "deposit";
	case LEDGER_CHARGE:
		return "charge";
	case LEDGER_REFUND:
		return "refund";
	case LEDGER_ADJUSTMENT:
		return "adjustment";
	}
	return "unknown";
}

int
store_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > STORE_NAME_MAX)
		return 0;
	return strspn(name, "abcdefghijklmnopqrstuvwxyz"
	                    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-") == n;
}

int
store_token_valid(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

struct store *
store_open(const struct config *cfg)
{
	struct store *st;

	if (cfg->store_postgres != NULL)
		st = store_pg_open(cfg->store_postgres, cfg->money_decimals,
		                   STORE_PG_POOL);
	else
		st = store_sqlite_open(cfg->store_sqlite, cfg->money_decimals);
	if (st != NULL)
		st->events = cfg->webhooks.enabled;
	return st;
}

void
store_order_group(struct store *st, const struct order_new *v, size_t n,
                  enum store_result *res, int64_t *ids, const int64_t *act_ids,
                  const char *const *upstream_orders, const money_t *costs,
                  size_t nact, enum store_result *act_res)
{
	if (n > 0 && nact > 0 && st->ops->order_group != NULL) {
		st->ops->order_group(st, v, n, res, ids, act_ids,
		                     upstream_orders, costs, nact, act_res);
		return;
	}
	if (n > 0)
		store_order_create_many(st, v, n, res, ids);
	if (nact > 0)
		store_order_active_many(st, act_ids, upstream_orders, costs,
		                        nact, act_res);
}

int
store_refund_for(int decimals, enum order_state final, money_t charge,
                 int64_t upstream_quantity, int64_t remains, money_t *refund)
{
	money_t v;

	switch (final) {
	case ORDER_COMPLETED:
		*refund = 0;
		return 0;
	case ORDER_CANCELED:
	case ORDER_REFUNDED:
	case ORDER_REJECTED:
		*refund = charge;
		return 0;
	case ORDER_PARTIAL:
		if (remains < 0 || upstream_quantity <= 0)
			return -1;
		if (remains > upstream_quantity)
			remains = upstream_quantity;
		if (money_mul_div(charge, remains, upstream_quantity,
		                  MONEY_ROUND_DOWN, &v) != 0 ||
		    money_round_dec(v, decimals, MONEY_ROUND_DOWN, refund) != 0)
			return -1;
		return 0;
	default:
		return -1;
	}
}

int
store_refund_expected(int decimals, const struct order *o, money_t *want)
{
	if (!order_state_final(o->state)) {
		*want = 0; /* open orders have no refund yet */
		return 0;
	}
	if (o->state == ORDER_PARTIAL &&
	    (o->remains < 0 || o->remains > o->upstream_quantity))
		return -1;
	return store_refund_for(
	    decimals, o->state, o->charge, o->upstream_quantity,
	    o->state == ORDER_PARTIAL ? o->remains : 0, want);
}

void
store_service_rows_free(struct store_service_rows *rows)
{
	if (rows == NULL)
		return;
	for (size_t i = 0; i < rows->n; i++) {
		free(rows->v[i].name);
		free(rows->v[i].type);
		free(rows->v[i].category);
		free(rows->v[i].description);
		free(rows->v[i].refill_time);
	}
	free(rows->v);
	memset(rows, 0, sizeof(*rows));
}

int
store_decimals_agree(const char *stored, int decimals)
{
	char want[16];

	snprintf(want, sizeof(want), "%d", decimals);
	if (strcmp(stored, want) == 0)
		return 0;
	log_warnx("store: its amounts were written with money.decimals %s, "
	          "the configuration says %d: refusing to use it (set "
	          "money.decimals back to %s; amounts are never converted)",
	          stored[0] != '\0' ? stored : "(unknown)", decimals,
	          stored[0] != '\0' ? stored : "(unknown)");
	return -1;
}

/*
 * The calls (store.h): the backend's entry, or the core's rule.
 */

enum store_result
store_customer_add(struct store *st, const char *name, const uint8_t *key_hash,
                   int64_t *id)
{
	return st->ops->customer_add(st, name, key_hash, id);
}

enum store_result
store_customer_set_key(struct store *st, const char *name,
                       const uint8_t *key_hash)
{
	return st->ops->customer_set_key(st, name, key_hash);
}

enum store_result
store_customer_by_key(struct store *st, const uint8_t *key_hash,
                      struct customer *out)
{
	return st->ops->customer_by_key(st, key_hash, out);
}

enum store_result
store_customer_by_name(struct store *st, const char *name, struct customer *out)
{
	return st->ops->customer_by_name(st, name, out);
}

enum store_result
store_customer_set_disabled(struct store *st, const char *name, int disabled)
{
	return st->ops->customer_set_disabled(st, name, disabled);
}

int
store_customer_list(struct store *st, store_customer_cb cb, void *arg)
{
	return st->ops->customer_list(st, cb, arg);
}

enum store_result
store_ledger_post(struct store *st, int64_t customer_id, enum ledger_kind kind,
                  money_t amount, const char *note, money_t *new_balance)
{
	return store_core_ledger_post(st, customer_id, kind, amount, note,
	                              new_balance);
}

enum store_result
store_order_create(struct store *st, const struct order_new *o, int64_t *id)
{
	enum store_result r;

	st->ops->order_create_many(st, o, 1, &r, id);
	return r;
}

enum store_result
store_order_create_many(struct store *st, const struct order_new *v, size_t n,
                        enum store_result *res, int64_t *ids)
{
	return st->ops->order_create_many(st, v, n, res, ids);
}

enum store_result
store_order_active_many(struct store *st, const int64_t *ids,
                        const char *const *upstream_orders,
                        const money_t *costs, size_t n, enum store_result *res)
{
	return st->ops->order_active_many(st, ids, upstream_orders, costs, n,
	                                  res);
}

enum store_result
store_order_get(struct store *st, int64_t id, struct order *out)
{
	return st->ops->order_get(st, id, out);
}

enum store_result
store_order_get_many(struct store *st, const int64_t *ids, size_t n,
                     struct order *out, int *found)
{
	return st->ops->order_get_many(st, ids, n, out, found);
}

enum store_result
store_order_sending(struct store *st, int64_t id, int route_idx,
                    const char *upstream, int64_t upstream_service, int held)
{
	return st->ops->order_sending(st, id, route_idx, upstream,
	                              upstream_service, held);
}

enum store_result
store_order_unsent(struct store *st, int64_t id)
{
	return st->ops->order_unsent(st, id);
}

enum store_result
store_order_active(struct store *st, int64_t id, const char *upstream_order,
                   money_t cost)
{
	enum store_result r;

	st->ops->order_active_many(st, &id, &upstream_order, &cost, 1, &r);
	return r;
}

enum store_result
store_order_reject(struct store *st, int64_t id, const char *why)
{
	return store_core_order_reject(st, id, why);
}

enum store_result
store_order_status(struct store *st, int64_t id, const struct order_update *u)
{
	return store_core_order_status(st, id, u);
}

enum store_result
store_order_resolve(struct store *st, int64_t id, const char *upstream_order)
{
	return store_core_order_resolve(st, id, upstream_order);
}

enum store_result
store_order_fields(struct store *st, int64_t id, char **json)
{
	return st->ops->order_fields(st, id, json);
}

enum store_result
store_order_polled(struct store *st, const int64_t *ids, size_t n,
                   int64_t now_ms)
{
	return st->ops->order_polled(st, ids, n, now_ms);
}

int
store_group_begin(struct store *st)
{
	return st->ops->group_begin != NULL ? st->ops->group_begin(st) : -1;
}

int
store_group_end(struct store *st)
{
	return st->ops->group_end != NULL ? st->ops->group_end(st) : -1;
}

int
store_has_groups(const struct store *st)
{
	return st->ops->group_begin != NULL;
}

int
store_has_poll_pages(const struct store *st)
{
	return !st->shared && st->ops->order_poll_page != NULL;
}

int64_t
store_order_poll_page(struct store *st, const struct poll_page *p,
                      store_order_cb cb, void *arg)
{
	return st->ops->order_poll_page != NULL
	           ? st->ops->order_poll_page(st, p, cb, arg)
	           : -2;
}

int64_t
store_order_list(struct store *st, const struct order_filter *f,
                 store_order_cb cb, void *arg)
{
	return st->ops->order_list(st, f, cb, arg);
}

int64_t
store_order_claim(struct store *st, const struct order_filter *f,
                  int64_t now_ms, store_order_cb cb, void *arg)
{
	return st->ops->order_claim(st, f, now_ms, cb, arg);
}

enum store_result
store_order_counts(struct store *st, int64_t *counts)
{
	return st->ops->order_counts(st, counts);
}

enum store_result
store_refill_add(struct store *st, int64_t order_id, int64_t customer_id,
                 const char *upstream, int64_t *id)
{
	return st->ops->refill_add(st, order_id, customer_id, upstream, id);
}

enum store_result
store_refill_update(struct store *st, int64_t id, const char *state,
                    const char *upstream_refill, const char *status)
{
	return store_core_refill_update(st, id, state, upstream_refill,
	                                status);
}

enum store_result
store_refill_get(struct store *st, int64_t id, struct refill *out)
{
	return st->ops->refill_get(st, id, out);
}

enum store_result
store_ledger_totals(struct store *st, money_t *totals)
{
	return st->ops->ledger_totals(st, totals);
}

int
store_report(struct store *st, store_report_row_cb cb, void *arg)
{
	return st->ops->report(st, cb, arg);
}

enum store_result
store_catalog_replace(struct store *st, const char *upstream,
                      const struct store_service_rows *list)
{
	return st->ops->catalog_replace(st, upstream, list);
}

enum store_result
store_catalog_load(struct store *st, const char *upstream,
                   struct store_service_rows *out)
{
	return st->ops->catalog_load(st, upstream, out);
}

enum store_result
store_upstream_state_put(struct store *st, const struct upstream_state *s)
{
	return st->ops->upstream_state_put(st, s);
}

enum store_result
store_upstream_state_get(struct store *st, const char *name,
                         struct upstream_state *out)
{
	return st->ops->upstream_state_get(st, name, out);
}

int
store_check(struct store *st, store_report_cb report, void *arg)
{
	return st->ops->check(st, report, arg);
}
