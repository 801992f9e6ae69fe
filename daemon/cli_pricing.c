/* cli_pricing.c - `panelmux group ...`, `customer group`, `rate ...`:
 * customers' own rates (lib/pricing.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "catalog.h"
#include "cli.h"
#include "money.h"
#include "panel.h"
#include "pricing.h"
#include "store.h"

int
cli_group_add(struct cli *c, int argc, char **argv)
{
	struct ops_result r;

	ops_group_add(&c->ops, argv[0], argv[1], &r);
	return cli_ops(&r);
}

int
cli_group_set(struct cli *c, int argc, char **argv)
{
	struct ops_result r;

	ops_group_set(&c->ops, argv[0], argv[1], &r);
	return cli_ops(&r);
}

int
cli_group_remove(struct cli *c, int argc, char **argv)
{
	struct ops_result r;

	ops_group_remove(&c->ops, argv[0], &r);
	return cli_ops(&r);
}

static int
cli_print_group(const struct customer_group *g, void *arg)
{
	char pct[MONEY_BUFSZ];

	printf("%-24s %9s%% %8lld\n", g->name, money_format(g->percent, 0, pct),
	       (long long)g->members);
	return 0;
}

int
cli_group_list(struct cli *c, int argc, char **argv)
{
	printf("%-24s %10s %8s\n", "group", "percent", "members");
	return store_group_list(c->st, cli_print_group, NULL) < 0 ? 1 : 0;
}

/* customer group NAME GROUP|--none */
int
cli_customer_group(struct cli *c, int argc, char **argv)
{
	struct ops_result r;

	ops_user_set_group(&c->ops, argv[0],
	                   strcmp(argv[1], "--none") == 0 ? NULL : argv[1], &r);
	return cli_ops(&r);
}

/* rate set CUSTOMER SERVICE RATE|PERCENT% */
int
cli_rate_set(struct cli *c, int argc, char **argv)
{
	struct ops_result r;
	int64_t sid = cli_id(argv[1], "a service ID");

	if (sid == 0)
		return 2;
	ops_rate_set(&c->ops, argv[0], sid, argv[2], &r);
	return cli_ops(&r);
}

int
cli_rate_remove(struct cli *c, int argc, char **argv)
{
	struct ops_result r;
	int64_t sid = cli_id(argv[1], "a service ID");

	if (sid == 0)
		return 2;
	ops_rate_remove(&c->ops, argv[0], sid, &r);
	return cli_ops(&r);
}

/* One quote line: who, the service, where the rate comes from, the list
 * rate, theirs, the floor, and whether the floor raised it. */
static void
cli_print_quote(struct cli *c, const char *who, const struct catalog_service *s,
                const struct pricing_customer *pc)
{
	char a[MONEY_BUFSZ], b[MONEY_BUFSZ], f[MONEY_BUFSZ];
	struct pricing_quote q;

	if (pricing_quote(c->cfg, s, pc, &q) != 0) {
		printf("%-16s %-10lld (out of range)\n", who, (long long)s->id);
		return;
	}
	printf("%-16s %-10lld %-8s %12s %12s %12s %s\n", who, (long long)s->id,
	       pricing_source_name(q.source), money_format(q.list, 2, a),
	       money_format(q.rate, 2, b), money_format(q.floor, 2, f),
	       q.clamped ? "clamped to the floor" : "");
}

struct cli_rates {
	struct cli *c;
	struct panel *p;
};

static int
cli_rate_row(const struct customer_rate *cr, void *arg)
{
	struct cli_rates *x = arg;
	const struct catalog_service *s =
	    catalog_find(x->p->cat, cr->service_id);

	if (s == NULL) {
		printf("%-16s %-10lld (not in the catalogue)\n", cr->customer,
		       (long long)cr->service_id);
		return 0;
	}
	cli_print_quote(x->c, cr->customer, s,
	                pricing_customer(x->p->pricing, cr->customer_id));
	return 0;
}

/* rate list: every override, quoted; rate list CUSTOMER: that customer's
 * rate for every service. */
int
cli_rate_list(struct cli *c, int argc, char **argv)
{
	struct event_base *base;
	struct customer cu;
	struct panel *p;
	int rc = 0;

	if (argc == 1 &&
	    store_customer_by_name(c->st, argv[0], &cu) != STORE_OK) {
		fprintf(stderr, "panelmux: no customer named %s\n", argv[0]);
		return 1;
	}
	if ((p = cli_panel(c, &base)) == NULL)
		return 1;
	printf("%-16s %-10s %-8s %12s %12s %12s\n", "customer", "service",
	       "from", "list rate", "rate", "floor");
	if (argc == 1) {
		const struct pricing_customer *pc =
		    pricing_customer(p->pricing, cu.id);

		for (size_t i = 0; i < p->cat->n; i++)
			cli_print_quote(c, cu.name, &p->cat->v[i], pc);
	} else {
		struct cli_rates x = {c, p};

		rc = store_rate_list(c->st, 0, cli_rate_row, &x) < 0 ? 1 : 0;
	}
	printf("(per 1000, %s; floor: the cheapest route's cost x (1 + "
	       "pricing.min_margin))\n",
	       c->cfg->currency);
	panel_free(p);
	event_base_free(base);
	return rc;
}
