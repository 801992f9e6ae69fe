/* store.c - backend selection and the names shared by every backend. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "store.h"

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

struct store *
store_open(const struct config *cfg)
{
	if (cfg->store_postgres != NULL)
		return store_pg_open(cfg->store_postgres, cfg->money_decimals,
		                     STORE_PG_POOL);
	return store_sqlite_open(cfg->store_sqlite, cfg->money_decimals);
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
	return store_refund_for(decimals, o->state, o->charge,
	                        o->upstream_quantity,
	                        o->state == ORDER_PARTIAL ? o->remains : 0,
	                        want);
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
