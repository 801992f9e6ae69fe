/* store_pricing.c - customers' own rates in the store, written once for
 * every backend (statements built here, run through the driver): groups,
 * membership, overrides per service, and the pricing generation each
 * write moves in its own transaction so every daemon reloads the rules
 * (lib/pricing.h). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pricing.h"
#include "store.h"
#include "store_core.h"

/* One pricing write: STMT (built by the caller), then the generation, in
 * one transaction.  ROWS: what STMT changed. */
struct pricing_write {
	struct store *st;
	const struct store_query *q;
	int64_t rows;
};

static enum store_result
pricing_write_body(store_tx *tx, void *arg)
{
	struct pricing_write *w = arg;
	const struct store_driver *d = w->st->drv;
	struct store_query g;
	int64_t n;

	if ((n = d->exec(tx, w->q, NULL)) == STORE_EXEC_UNIQUE)
		return STORE_EXISTS;
	if (n < 0)
		return STORE_ERROR;
	w->rows = n;
	if (n == 0)
		return STORE_NOTFOUND; /* nothing changed: no new generation */
	store_query_init(&g, d->dollar);
	store_query_sql(&g, "UPDATE generations SET value = value + 1"
	                    " WHERE name = 'pricing'");
	return d->exec(tx, &g, NULL) == 1 ? STORE_OK : STORE_ERROR;
}

static enum store_result
pricing_write(struct store *st, const struct store_query *q)
{
	struct pricing_write w = {st, q, 0};

	if (q->overflow)
		return STORE_ERROR;
	return st->drv->run(st, pricing_write_body, &w);
}

enum store_result
store_group_add(struct store *st, const char *name, money_t percent)
{
	struct store_query q;

	store_query_init(&q, st->drv->dollar);
	store_query_sql(&q, "INSERT INTO customer_groups (name, percent,"
	                    " created_at) VALUES (");
	store_query_text(&q, name);
	store_query_sql(&q, ", ");
	store_query_int(&q, percent);
	store_query_sql(&q, ", ");
	store_query_int(&q, (int64_t)time(NULL));
	store_query_sql(&q, ")");
	return pricing_write(st, &q);
}

enum store_result
store_group_set(struct store *st, const char *name, money_t percent)
{
	struct store_query q;

	store_query_init(&q, st->drv->dollar);
	store_query_sql(&q, "UPDATE customer_groups SET percent = ");
	store_query_int(&q, percent);
	store_query_sql(&q, " WHERE name = ");
	store_query_text(&q, name);
	return pricing_write(st, &q);
}

static int
count_row(const struct store_driver *d, store_row *row, void *arg)
{
	*(int64_t *)arg = d->col_int(row, 0, 0);
	return 1;
}

enum store_result
store_group_remove(struct store *st, const char *name)
{
	struct store_query q;
	int64_t members = -1;

	/* a group with members stays: they would silently lose their
	 * rates (the store's references refuse it anyway) */
	store_query_init(&q, st->drv->dollar);
	store_query_sql(&q, "SELECT COUNT(m.customer_id) FROM customer_groups g"
	                    " LEFT JOIN group_members m ON m.group_id = g.id"
	                    " WHERE g.name = ");
	store_query_text(&q, name);
	store_query_sql(&q, " GROUP BY g.id");
	if (store_query_run(st, NULL, &q, count_row, &members) < 0)
		return STORE_ERROR;
	if (members < 0)
		return STORE_NOTFOUND;
	if (members > 0)
		return STORE_CONFLICT;
	store_query_init(&q, st->drv->dollar);
	store_query_sql(&q, "DELETE FROM customer_groups WHERE name = ");
	store_query_text(&q, name);
	store_query_sql(&q, " AND NOT EXISTS (SELECT 1 FROM group_members m"
	                    " WHERE m.group_id = customer_groups.id)");
	return pricing_write(st, &q);
}

struct group_rows {
	store_group_cb cb;
	void *arg;
	struct customer_group *one;
};

static int
group_row(const struct store_driver *d, store_row *row, void *arg)
{
	struct group_rows *gr = arg;
	struct customer_group g;

	memset(&g, 0, sizeof(g));
	g.id = d->col_int(row, 0, 0);
	d->col_text(row, 1, g.name, sizeof(g.name));
	g.percent = d->col_int(row, 2, 0);
	g.members = d->col_int(row, 3, 0);
	g.created_at = d->col_int(row, 4, 0);
	if (gr->one != NULL) {
		*gr->one = g;
		return 1;
	}
	return gr->cb(&g, gr->arg);
}

#define GROUP_SELECT                                                           \
	"SELECT g.id, g.name, g.percent, (SELECT COUNT(*) FROM"                \
	" group_members m WHERE m.group_id = g.id), g.created_at"              \
	" FROM customer_groups g"

int64_t
store_group_list(struct store *st, store_group_cb cb, void *arg)
{
	struct group_rows gr = {cb, arg, NULL};
	struct store_query q;

	store_query_init(&q, st->drv->dollar);
	store_query_sql(&q, GROUP_SELECT " ORDER BY g.name");
	return store_query_run(st, NULL, &q, group_row, &gr);
}

enum store_result
store_customer_group(struct store *st, int64_t cid, struct customer_group *out)
{
	struct group_rows gr = {NULL, NULL, out};
	struct store_query q;

	memset(out, 0, sizeof(*out));
	store_query_init(&q, st->drv->dollar);
	store_query_sql(&q, GROUP_SELECT " JOIN group_members gm"
	                                 " ON gm.group_id = g.id"
	                                 " WHERE gm.customer_id = ");
	store_query_int(&q, cid);
	return store_query_run(st, NULL, &q, group_row, &gr) < 0 ? STORE_ERROR
	                                                         : STORE_OK;
}

enum store_result
store_customer_set_group(struct store *st, int64_t cid, const char *name)
{
	struct store_query q;
	enum store_result r;

	store_query_init(&q, st->drv->dollar);
	if (name == NULL) {
		store_query_sql(&q, "DELETE FROM group_members"
		                    " WHERE customer_id = ");
		store_query_int(&q, cid);
		r = pricing_write(st, &q);
		return r == STORE_NOTFOUND ? STORE_OK : r; /* in none already */
	}
	store_query_sql(&q, "INSERT INTO group_members (customer_id, group_id)"
	                    " SELECT c.id, g.id FROM customers c,"
	                    " customer_groups g WHERE c.id = ");
	store_query_int(&q, cid);
	store_query_sql(&q, " AND g.name = ");
	store_query_text(&q, name);
	store_query_sql(&q, " ON CONFLICT (customer_id) DO UPDATE"
	                    " SET group_id = excluded.group_id");
	return pricing_write(st, &q);
}

enum store_result
store_rate_set(struct store *st, int64_t cid, int64_t service_id, int fixed,
               money_t value)
{
	struct store_query q;

	store_query_init(&q, st->drv->dollar);
	store_query_sql(&q, "INSERT INTO customer_rates (customer_id,"
	                    " service_id, fixed, value, created_at)"
	                    " SELECT id, ");
	store_query_int(&q, service_id);
	store_query_sql(&q, ", ");
	store_query_int(&q, fixed != 0);
	store_query_sql(&q, ", ");
	store_query_int(&q, value);
	store_query_sql(&q, ", ");
	store_query_int(&q, (int64_t)time(NULL));
	store_query_sql(&q, " FROM customers WHERE id = ");
	store_query_int(&q, cid);
	store_query_sql(&q, " ON CONFLICT (customer_id, service_id) DO UPDATE"
	                    " SET fixed = excluded.fixed,"
	                    " value = excluded.value,"
	                    " created_at = excluded.created_at");
	return pricing_write(st, &q);
}

enum store_result
store_rate_remove(struct store *st, int64_t cid, int64_t service_id)
{
	struct store_query q;

	store_query_init(&q, st->drv->dollar);
	store_query_sql(&q, "DELETE FROM customer_rates WHERE customer_id = ");
	store_query_int(&q, cid);
	store_query_sql(&q, " AND service_id = ");
	store_query_int(&q, service_id);
	return pricing_write(st, &q);
}

struct rate_rows {
	store_rate_cb cb;
	void *arg;
};

static int
rate_row(const struct store_driver *d, store_row *row, void *arg)
{
	struct rate_rows *rr = arg;
	struct customer_rate r;

	memset(&r, 0, sizeof(r));
	r.customer_id = d->col_int(row, 0, 0);
	d->col_text(row, 1, r.customer, sizeof(r.customer));
	r.service_id = d->col_int(row, 2, 0);
	r.fixed = (int)d->col_int(row, 3, 0);
	r.value = d->col_int(row, 4, 0);
	r.created_at = d->col_int(row, 5, 0);
	return rr->cb(&r, rr->arg);
}

int64_t
store_rate_list(struct store *st, int64_t cid, store_rate_cb cb, void *arg)
{
	struct rate_rows rr = {cb, arg};
	struct store_query q;

	store_query_init(&q, st->drv->dollar);
	store_query_sql(&q, "SELECT r.customer_id, c.name, r.service_id,"
	                    " r.fixed, r.value, r.created_at"
	                    " FROM customer_rates r JOIN customers c"
	                    " ON c.id = r.customer_id");
	if (cid > 0) {
		store_query_sql(&q, " WHERE r.customer_id = ");
		store_query_int(&q, cid);
	}
	store_query_sql(&q, " ORDER BY r.customer_id, r.service_id");
	return store_query_run(st, NULL, &q, rate_row, &rr);
}

enum store_result
store_pricing_generation(struct store *st, int64_t *gen)
{
	struct store_query q;

	*gen = 0;
	store_query_init(&q, st->drv->dollar);
	store_query_sql(&q, "SELECT value FROM generations"
	                    " WHERE name = 'pricing'");
	return store_query_run(st, NULL, &q, count_row, gen) == 1 ? STORE_OK
	                                                          : STORE_ERROR;
}

static int
load_group_row(const struct store_driver *d, store_row *row, void *arg)
{
	pricing_add_group(arg, d->col_int(row, 0, 0), d->col_int(row, 1, 0));
	return 0;
}

static int
load_rule_row(const struct store_driver *d, store_row *row, void *arg)
{
	struct pricing_rule r = {d->col_int(row, 1, 0),
	                         (int)d->col_int(row, 2, 0),
	                         d->col_int(row, 3, 0)};

	pricing_add_rule(arg, d->col_int(row, 0, 0), &r);
	return 0;
}

enum store_result
store_pricing_load(struct store *st, struct pricing *pr)
{
	struct store_query q;

	/* The generation first: a write after it makes a needless reload at
	 * the next look, never a missed one. */
	if (store_pricing_generation(st, &pr->gen) != STORE_OK)
		return STORE_ERROR;
	store_query_init(&q, st->drv->dollar);
	store_query_sql(&q, "SELECT m.customer_id, g.percent FROM"
	                    " group_members m JOIN customer_groups g"
	                    " ON g.id = m.group_id ORDER BY m.customer_id");
	if (store_query_run(st, NULL, &q, load_group_row, pr) < 0)
		return STORE_ERROR;
	store_query_init(&q, st->drv->dollar);
	store_query_sql(&q, "SELECT customer_id, service_id, fixed, value"
	                    " FROM customer_rates ORDER BY customer_id");
	if (store_query_run(st, NULL, &q, load_rule_row, pr) < 0)
		return STORE_ERROR;
	pricing_finish(pr);
	return STORE_OK;
}
