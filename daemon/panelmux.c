/* panelmux.c - the operator CLI, working on the same store as the daemon.
 * Exit status: 0 done, 1 failed, 2 usage or configuration error. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <event2/event.h>

#include "auth.h"
#include "catalog.h"
#include "cli.h"
#include "config.h"
#include "log.h"
#include "match.h"
#include "money.h"
#include "ops.h"
#include "panel.h"
#include "store.h"
#include "upstream.h"
#include "xmalloc.h"

static void cli_usage(void) __attribute__((noreturn));

/* Report an operation's outcome: the exit status (2 for bad input, as a
 * usage error; 1 for any other refusal). */
int
cli_ops(const struct ops_result *r)
{
	if (r->status == OPS_OK)
		return 0;
	fprintf(stderr, "panelmux: %s\n", r->msg);
	return r->status == OPS_BAD ? 2 : 1;
}

int64_t
cli_id(const char *s, const char *what)
{
	char *end;
	long long v = strtoll(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v <= 0) {
		fprintf(stderr, "panelmux: \"%s\" is not %s\n", s, what);
		return 0;
	}
	return (int64_t)v;
}

/* Generate a key, store its hash, print the key alone. */
static int
cli_new_key(struct cli *c, const char *name, int rotate)
{
	char key[AUTH_KEY_LEN + 1];
	struct ops_result r;
	struct customer cu;

	if (rotate)
		ops_user_rotate_key(&c->ops, name, &cu, key, &r);
	else
		ops_user_add(&c->ops, name, &cu, key, &r);
	if (r.status == OPS_OK)
		printf("%s\n", key);
	return cli_ops(&r);
}

static int
cli_customer_add(struct cli *c, int argc, char **argv)
{
	return cli_new_key(c, argv[0], 0);
}

static int
cli_customer_key(struct cli *c, int argc, char **argv)
{
	return cli_new_key(c, argv[0], 1);
}

/* customer fund NAME AMOUNT [--note TEXT] [--method TEXT] [--ref ID]: a
 * negative AMOUNT is a deduction. */
static int
cli_customer_fund(struct cli *c, int argc, char **argv)
{
	struct ops_payment in = {argv[0], argv[1], 0, "cli", NULL, NULL};
	struct ledger_entry e;
	struct ops_result r;
	struct customer cu;
	char bal[MONEY_BUFSZ];
	int dup;

	for (int i = 2; i < argc; i += 2) {
		const char **dst =
		    strcmp(argv[i], "--note") == 0     ? &in.memo
		    : strcmp(argv[i], "--method") == 0 ? &in.method
		    : strcmp(argv[i], "--ref") == 0    ? &in.external_id
		                                       : NULL;

		if (dst == NULL || i + 1 >= argc) {
			fprintf(
			    stderr,
			    "usage: customer fund NAME AMOUNT [--note TEXT] "
			    "[--method TEXT] [--ref ID]\n");
			return 2;
		}
		*dst = argv[i + 1];
	}
	if (in.amount[0] == '-') {
		in.amount++;
		in.deduct = 1;
	}
	if (ops_payment(&c->ops, &in, &e, &cu, &dup, &r) != 0)
		return cli_ops(&r);
	if (dup)
		fprintf(stderr,
		        "panelmux: reference %s was credited before (payment "
		        "%lld): nothing done\n",
		        in.external_id, (long long)e.id);
	printf("%s %s\n", money_format(cu.balance, c->cfg->money_decimals, bal),
	       c->cfg->currency);
	return 0;
}

static int
cli_print_customer(const struct customer *cu, void *arg)
{
	struct cli *c = arg;
	char bal[MONEY_BUFSZ];

	printf("%-24s %16s %s%s\n", cu->name,
	       money_format(cu->balance, c->cfg->money_decimals, bal),
	       c->cfg->currency, cu->disabled ? "  disabled" : "");
	return 0;
}

static int
cli_customer_list(struct cli *c, int argc, char **argv)
{
	return store_customer_list(c->st, cli_print_customer, c) < 0 ? 1 : 0;
}

static int
cli_customer_show(struct cli *c, int argc, char **argv)
{
	struct customer cu;
	char bal[MONEY_BUFSZ], when[32];
	time_t t;

	struct ops_result r;

	if (ops_user_get(&c->ops, argv[0], &cu, &r) != 0)
		return cli_ops(&r);
	t = (time_t)cu.created_at;
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
	printf("name:     %s\nid:       %lld\nbalance:  %s %s\nstate:    %s\n"
	       "created:  %s\n",
	       cu.name, (long long)cu.id,
	       money_format(cu.balance, c->cfg->money_decimals, bal),
	       c->cfg->currency, cu.disabled ? "disabled" : "active", when);
	return 0;
}

static int
cli_set_disabled(struct cli *c, const char *name, int disabled)
{
	struct ops_result r;
	struct customer cu;

	ops_user_set_disabled(&c->ops, name, disabled, &cu, &r);
	return cli_ops(&r);
}

static int
cli_customer_disable(struct cli *c, int argc, char **argv)
{
	return cli_set_disabled(c, argv[0], 1);
}

static int
cli_customer_enable(struct cli *c, int argc, char **argv)
{
	return cli_set_disabled(c, argv[0], 0);
}

static void
cli_violation(const char *what, void *arg)
{
	printf("VIOLATION: %s\n", what);
}

static int
cli_check(struct cli *c, int argc, char **argv)
{
	int n = store_check(c->st, cli_violation, NULL);

	if (n < 0) {
		fprintf(stderr, "panelmux: check could not run\n");
		return 1;
	}
	if (n > 0) {
		printf("check: %d violation%s\n", n, n == 1 ? "" : "s");
		return 1;
	}
	printf("check: ok\n");
	return 0;
}

struct cli_sync {
	struct ops *ops;
	int pending;
	int failed;
};

static void
cli_sync_done(struct panel *p, size_t idx, int ok, const char *why, void *arg)
{
	struct cli_sync *cs = arg;
	const struct panel_upstream *pu = &p->ups[idx];

	struct ops_result r;
	char detail[64];

	if (ok) {
		printf("%s: %lld services imported\n", pu->state.name,
		       (long long)pu->state.services);
		ops_fail(&r, OPS_OK, NULL);
	} else {
		printf("%s: sync failed (%s); the stored catalogue is kept\n",
		       pu->state.name, why != NULL ? why : "no usable reply");
		ops_fail(&r, OPS_ERROR, "sync failed (%s)",
		         why != NULL ? why : "no usable reply");
		cs->failed++;
	}
	snprintf(detail, sizeof(detail), "{\"services\":%lld}",
	         (long long)(ok ? pu->state.services : 0));
	ops_audit(cs->ops, "services/sync", pu->state.name, detail, &r);
	if (--cs->pending == 0)
		event_base_loopbreak(p->base);
}

/* A panel on a private loop, for the commands that talk to upstreams. */
struct panel *
cli_panel(struct cli *c, struct event_base **base)
{
	struct panel *p;

	if ((*base = event_base_new()) == NULL)
		return NULL;
	if ((p = panel_new(*base, c->cfg, c->st)) == NULL) {
		event_base_free(*base);
		return NULL;
	}
	return p;
}

static int
cli_services_sync(struct cli *c, int argc, char **argv)
{
	struct cli_sync cs = {&c->ops, 0, 0};
	struct event_base *base;
	struct panel *p;
	const char *name = NULL;
	int idx = -1, force = 0;

	/* --force: apply what the bad-sync guard (max_drop) would refuse */
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0 && !force)
			force = 1;
		else if (argv[i][0] != '-' && name == NULL)
			name = argv[i];
		else {
			fprintf(stderr, "usage: panelmux -c FILE services sync "
			                "[--force] [UPSTREAM]\n");
			return 2;
		}
	}
	if ((p = cli_panel(c, &base)) == NULL)
		return 1;
	if (name != NULL && (idx = panel_upstream_index(p, name)) < 0) {
		fprintf(stderr, "panelmux: no upstream named %s\n", name);
		panel_free(p);
		event_base_free(base);
		return 2;
	}
	p->on_sync = cli_sync_done;
	p->on_sync_arg = &cs;
	for (size_t i = 0; i < p->nups; i++) {
		const struct cfg_upstream *cu = &c->cfg->upstreams[i];

		if (idx >= 0 && (size_t)idx != i)
			continue;
		if (cu->key == NULL) {
			/* Loaded with CONFIG_LAZY_SECRETS: say why here,
			 * where the key is needed. */
			fprintf(
			    stderr, "panelmux: %s: cannot sync: %s\n", cu->name,
			    cu->key_error != NULL ? cu->key_error : "no key");
			cs.failed++;
			continue;
		}
		cs.pending++;
		if (force)
			panel_sync_force(p, i);
		else
			panel_sync(p, i);
	}
	if (cs.pending > 0)
		event_base_dispatch(base);
	panel_free(p);
	event_base_free(base);
	return cs.failed > 0 ? 1 : 0;
}

static int
cli_services_list(struct cli *c, int argc, char **argv)
{
	struct event_base *base;
	struct panel *p;
	char rate[MONEY_BUFSZ];

	if ((p = cli_panel(c, &base)) == NULL)
		return 1;
	printf("%-10s %-12s %8s %8s %-24s %s\n", "service", "rate", "min",
	       "max", "routes", "name");
	for (size_t i = 0; i < p->cat->n; i++) {
		const struct catalog_service *s = &p->cat->v[i];
		char routes[256] = "";
		size_t off = 0;

		for (size_t r = 0; r < s->nroutes && off < sizeof(routes);
		     r++) {
			int n = snprintf(
			    routes + off, sizeof(routes) - off, "%s%s:%lld",
			    r > 0 ? "," : "",
			    c->cfg->upstreams[s->routes[r].upstream].name,
			    (long long)s->routes[r].service);
			if (n < 0)
				break;
			off += (size_t)n;
		}
		printf("%-10lld %-12s %8lld %8lld %-24s %s\n", (long long)s->id,
		       money_format(s->rate, 2, rate), (long long)s->min,
		       (long long)s->max, routes, s->name);
	}
	panel_free(p);
	event_base_free(base);
	return 0;
}

/* services match [UPSTREAM...] [--min-score S] [--format text|yaml|json]:
 * likely-same services across the stored catalogues, never applied. */
struct cli_match {
	size_t *ups; /* config indices of the upstreams compared */
	const char **names;
	size_t nups;
	struct store_service_rows *rows; /* per compared upstream */
	struct match_item *items;
	size_t nitems;
};

static void
cli_match_free(struct cli_match *m)
{
	for (size_t i = 0; m->rows != NULL && i < m->nups; i++)
		store_service_rows_free(&m->rows[i]);
	free(m->rows);
	free(m->items);
	free(m->ups);
	free(m->names);
}

/* The first local ID above every one the config gives out now (routes and
 * imports over the stored lists), rounded up to the next thousand. */
static int64_t
cli_match_first_id(struct cli *c)
{
	int64_t top = 0;

	for (size_t i = 0; i < c->cfg->nservices; i++) {
		const struct cfg_service *e = &c->cfg->services[i];
		struct store_service_rows rows;

		if (e->kind == CFG_SERVICE_ROUTE) {
			if (e->id > top)
				top = e->id;
			continue;
		}
		if (store_catalog_load(
		        c->st, c->cfg->upstreams[e->import_upstream].name,
		        &rows) != STORE_OK)
			continue;
		for (size_t k = 0; k < rows.n; k++)
			if (e->id_offset + rows.v[k].id > top)
				top = e->id_offset + rows.v[k].id;
		store_service_rows_free(&rows);
	}
	return (top / 1000 + 1) * 1000;
}

static int
cli_services_match(struct cli *c, int argc, char **argv)
{
	struct cli_match m;
	struct match_result r;
	const char *format = "text";
	double min_score = MATCH_DEFAULT_SCORE;
	int rc = 1;

	memset(&m, 0, sizeof(m));
	m.ups = xcalloc(c->cfg->nupstreams + 1, sizeof(*m.ups));
	m.names = xcalloc(c->cfg->nupstreams + 1, sizeof(*m.names));
	for (int i = 0; i < argc; i++) {
		char *end;

		if (strcmp(argv[i], "--min-score") == 0 && i + 1 < argc) {
			min_score = strtod(argv[++i], &end);
			if (*end != '\0' || end == argv[i] || !(min_score >= 0) ||
			    min_score > 1) {
				fprintf(stderr, "panelmux: --min-score: a number "
				                "from 0 to 1\n");
				rc = 2;
				goto done;
			}
		} else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc) {
			format = argv[++i];
			if (strcmp(format, "text") != 0 &&
			    strcmp(format, "yaml") != 0 &&
			    strcmp(format, "json") != 0) {
				fprintf(stderr, "panelmux: --format: text, yaml "
				                "or json\n");
				rc = 2;
				goto done;
			}
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "usage: panelmux -c FILE services match "
			                "[UPSTREAM...] [--min-score S] [--format "
			                "text|yaml|json]\n");
			rc = 2;
			goto done;
		} else {
			size_t k;

			for (k = 0; k < c->cfg->nupstreams; k++)
				if (strcmp(c->cfg->upstreams[k].name, argv[i]) ==
				    0)
					break;
			if (k == c->cfg->nupstreams) {
				fprintf(stderr, "panelmux: no upstream named %s\n",
				        argv[i]);
				rc = 2;
				goto done;
			}
			for (size_t j = 0; j < m.nups; j++)
				if (m.ups[j] == k)
					k = SIZE_MAX;
			if (k != SIZE_MAX)
				m.ups[m.nups++] = k;
		}
	}
	if (m.nups == 0)
		for (size_t k = 0; k < c->cfg->nupstreams; k++)
			m.ups[m.nups++] = k;
	m.rows = xcalloc(m.nups + 1, sizeof(*m.rows));
	for (size_t i = 0; i < m.nups; i++) {
		const struct cfg_upstream *up = &c->cfg->upstreams[m.ups[i]];
		enum store_result sr;

		m.names[i] = up->name;
		sr = store_catalog_load(c->st, up->name, &m.rows[i]);
		if (sr != STORE_OK && sr != STORE_NOTFOUND)
			goto done;
		if (m.rows[i].n == 0)
			fprintf(stderr,
			        "panelmux: %s: no stored catalogue (run "
			        "`services sync %s`)\n",
			        up->name, up->name);
		m.nitems += m.rows[i].n;
	}
	m.items = xcalloc(m.nitems + 1, sizeof(*m.items));
	m.nitems = 0;
	for (size_t i = 0; i < m.nups; i++) {
		const struct cfg_upstream *up = &c->cfg->upstreams[m.ups[i]];

		for (size_t k = 0; k < m.rows[i].n; k++) {
			const struct store_service_row *row = &m.rows[i].v[k];
			struct match_item *it = &m.items[m.nitems++];
			money_t rate;

			it->upstream = i;
			it->id = row->id;
			it->name = row->name;
			it->type = row->type;
			it->category = row->category;
			it->refill_time = row->refill_time;
			if (catalog_price(c->cfg, up, NULL, row->rate, &rate,
			                  &it->cost) != 0)
				it->cost = -1;
			it->min = row->min;
			it->max = row->max;
			it->refill = row->refill;
			it->dripfeed = row->dripfeed;
		}
	}
	if (match_run(m.items, m.nitems, m.nups, min_score, &r) != 0) {
		fprintf(stderr, "panelmux: too many services to match\n");
		goto done;
	}
	if (strcmp(format, "yaml") == 0)
		match_print_yaml(stdout, &r, m.items, m.names,
		                 cli_match_first_id(c));
	else if (strcmp(format, "json") == 0) {
		json_t *j = match_json(&r, m.items, m.names,
		                       c->cfg->money_decimals, min_score);

		json_dumpf(j, stdout, JSON_INDENT(1));
		fputc('\n', stdout);
		json_decref(j);
	} else
		match_print_text(stdout, &r, m.items, m.names,
		                 c->cfg->money_decimals);
	match_result_free(&r);
	rc = 0;
done:
	cli_match_free(&m);
	return rc;
}

static int
cli_upstream_list(struct cli *c, int argc, char **argv)
{
	printf("%-16s %-9s %-20s %-10s %s\n", "upstream", "circuit", "balance",
	       "services", "last sync");
	for (size_t i = 0; i < c->cfg->nupstreams; i++) {
		const char *name = c->cfg->upstreams[i].name;
		struct upstream_state us;
		char bal[MONEY_BUFSZ + 16] = "-", when[32] = "never";

		if (store_upstream_state_get(c->st, name, &us) != STORE_OK) {
			printf("%-16s %-9s %-20s %-10s %s\n", name, "-", "-",
			       "-", "never");
			continue;
		}
		if (us.has_balance) {
			char amount[MONEY_BUFSZ];

			snprintf(bal, sizeof(bal), "%s %s",
			         money_format(us.balance, 2, amount),
			         us.currency);
		}
		if (us.synced_at != 0) {
			time_t t = (time_t)us.synced_at;

			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC",
			         gmtime(&t));
		}
		printf("%-16s %-9s %-20s %-10lld %s\n", name, us.circuit, bal,
		       (long long)us.services, when);
	}
	return 0;
}

static void
cli_print_order(struct cli *c, const struct order *o)
{
	char charge[MONEY_BUFSZ], refunded[MONEY_BUFSZ], cost[MONEY_BUFSZ];
	time_t t = (time_t)o->created_at;
	char when[32];

	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
	printf("order:            %lld\n"
	       "customer id:      %lld\n"
	       "service:          %lld (%s)\n"
	       "state:            %s\n"
	       "quantity:         %lld%s\n"
	       "charge:           %s %s\n"
	       "refunded:         %s %s\n"
	       "upstream:         %s service %lld (route %d)\n"
	       "upstream order:   %s\n"
	       "upstream status:  %s\n"
	       "upstream cost:    %s %s\n"
	       "start count:      %lld\n"
	       "remains:          %lld\n"
	       "created:          %s\n",
	       (long long)o->id, (long long)o->customer_id,
	       (long long)o->service_id, o->type, order_state_name(o->state),
	       (long long)o->quantity, o->runs > 0 ? " (per run)" : "",
	       money_format(o->charge, c->cfg->money_decimals, charge),
	       c->cfg->currency,
	       money_format(o->refunded, c->cfg->money_decimals, refunded),
	       c->cfg->currency, o->upstream, (long long)o->upstream_service,
	       o->route_idx,
	       o->upstream_order[0] != '\0' ? o->upstream_order : "-",
	       o->upstream_status[0] != '\0' ? o->upstream_status : "-",
	       money_format(o->cost, 2, cost), c->cfg->currency,
	       (long long)o->start_count, (long long)o->remains, when);
}

static int
cli_parse_order_id(const char *s, int64_t *id)
{
	char *end;
	long long v = strtoll(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v <= 0) {
		fprintf(stderr, "panelmux: %s is not an order ID\n", s);
		return -1;
	}
	*id = v;
	return 0;
}

static int
cli_order_show(struct cli *c, int argc, char **argv)
{
	struct order o;
	int64_t id;

	if (cli_parse_order_id(argv[0], &id) != 0)
		return 2;
	if (store_order_get(c->st, id, &o) != STORE_OK) {
		fprintf(stderr, "panelmux: no order %s\n", argv[0]);
		return 1;
	}
	cli_print_order(c, &o);
	return 0;
}

static int
cli_order_row(const struct order *o, void *arg)
{
	struct cli *c = arg;
	char charge[MONEY_BUFSZ];

	printf("%-10lld %-10lld %-10s %-8lld %-14s %-12s %s\n",
	       (long long)o->id, (long long)o->customer_id,
	       order_state_name(o->state), (long long)o->service_id,
	       money_format(o->charge, c->cfg->money_decimals, charge),
	       o->upstream,
	       o->upstream_order[0] != '\0' ? o->upstream_order : "-");
	return 0;
}

static int
cli_order_list(struct cli *c, int argc, char **argv)
{
	struct order_filter f = {-1, 0, NULL, 0, 0};
	struct customer cu;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--state") == 0 && i + 1 < argc) {
			if ((f.state = order_state_parse(argv[++i])) < 0) {
				fprintf(stderr, "panelmux: unknown state %s\n",
				        argv[i]);
				return 2;
			}
		} else if (strcmp(argv[i], "--customer") == 0 && i + 1 < argc) {
			struct ops_result r;

			if (ops_user_get(&c->ops, argv[++i], &cu, &r) != 0)
				return cli_ops(&r);
			f.customer_id = cu.id;
		} else {
			fprintf(stderr, "usage: order list [--state S] "
			                "[--customer NAME]\n");
			return 2;
		}
	}
	printf("%-10s %-10s %-10s %-8s %-14s %-12s %s\n", "order", "customer",
	       "state", "service", "charge", "upstream", "upstream order");
	return store_order_list(c->st, &f, cli_order_row, c) < 0 ? 1 : 0;
}

/* An order in doubt is settled by the operator, who asked the upstream
 * panel what became of it. */
static int
cli_order_resolve(struct cli *c, int argc, char **argv)
{
	const char *upstream_order = NULL;
	struct ops_result r;
	struct order o;
	int64_t id;

	if (argc == 3 && strcmp(argv[1], "--upstream-order") == 0)
		upstream_order = argv[2];
	else if (!(argc == 2 && strcmp(argv[1], "--refund") == 0)) {
		fprintf(stderr, "usage: order resolve ID --upstream-order N | "
		                "--refund\n");
		return 2;
	}
	if (cli_parse_order_id(argv[0], &id) != 0)
		return 2;
	if (ops_order_resolve(&c->ops, id, upstream_order, &o, &r) != 0)
		return cli_ops(&r);
	printf("order %lld: %s\n", (long long)id,
	       upstream_order != NULL ? "active" : "refunded");
	return 0;
}

static int
cli_print_admin_key(const struct admin_key *k, void *arg)
{
	char when[32];
	time_t t = (time_t)k->created_at;

	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
	printf("%-24s %-10s %-8s %s\n", k->name,
	       k->read_only ? "read-only" : "read-write",
	       k->revoked_at != 0 ? "revoked" : "active", when);
	return 0;
}

/* admin key add NAME [--read-only] | admin key list | admin key revoke
 * NAME */
static int
cli_admin_key(struct cli *c, int argc, char **argv)
{
	char key[AUTH_KEY_LEN + 1];
	struct ops_result r;

	if (argc == 1 && strcmp(argv[0], "list") == 0) {
		printf("%-24s %-10s %-8s %s\n", "key", "access", "state",
		       "created");
		return store_admin_key_list(c->st, cli_print_admin_key, NULL) <
		               0
		           ? 1
		           : 0;
	}
	if ((argc == 2 || argc == 3) && strcmp(argv[0], "add") == 0) {
		int ro = argc == 3 && strcmp(argv[2], "--read-only") == 0;

		if (argc == 3 && !ro)
			goto usage;
		if (ops_key_add(&c->ops, argv[1], ro, key, &r) != 0)
			return cli_ops(&r);
		printf("%s\n", key);
		return 0;
	}
	if (argc == 2 && strcmp(argv[0], "revoke") == 0) {
		ops_key_revoke(&c->ops, argv[1], &r);
		return cli_ops(&r);
	}
usage:
	fprintf(stderr, "usage: admin key add NAME [--read-only] | admin key "
	                "list | admin key revoke NAME\n");
	return 2;
}

static int
cli_print_audit(const struct audit_entry *e, void *arg)
{
	char when[32];
	time_t t = (time_t)e->created_at;

	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", gmtime(&t));
	printf("%-8lld %s  %-20s %-18s %-20s %s %s\n", (long long)e->id, when,
	       e->actor, e->action, e->target, e->result, e->detail);
	return 0;
}

/* audit [--limit N] [--actor A]: newest first. */
static int
cli_audit(struct cli *c, int argc, char **argv)
{
	struct audit_page f = {NULL, 50, 0};

	for (int i = 0; i + 1 < argc; i += 2) {
		char *end;

		if (strcmp(argv[i], "--limit") == 0) {
			f.limit = strtoll(argv[i + 1], &end, 10);
			if (*end != '\0' || f.limit < 1 ||
			    f.limit > STORE_PAGE_MAX) {
				fprintf(stderr,
				        "panelmux: --limit is 1 to %d\n",
				        STORE_PAGE_MAX);
				return 2;
			}
		} else if (strcmp(argv[i], "--actor") == 0)
			f.actor = argv[i + 1];
		else
			argc = -1;
	}
	if (argc % 2 != 0) {
		fprintf(stderr, "usage: audit [--limit N] [--actor A]\n");
		return 2;
	}
	return store_audit_page(c->st, &f, cli_print_audit, NULL) < 0 ? 1 : 0;
}

struct cli_report {
	struct cli *c;
	money_t revenue, cost;
};

static int
cli_report_row(const struct report_row *row, void *arg)
{
	struct cli_report *cr = arg;
	int d = cr->c->cfg->money_decimals;
	char a[MONEY_BUFSZ], b[MONEY_BUFSZ], m[MONEY_BUFSZ];
	money_t revenue = row->charged - row->refunded;

	printf("%-16s %-10lld %8lld %16s %16s %16s\n", row->upstream,
	       (long long)row->service_id, (long long)row->orders,
	       money_format(revenue, d, a), money_format(row->cost, d, b),
	       money_format(revenue - row->cost, d, m));
	cr->revenue += revenue;
	cr->cost += row->cost;
	return 0;
}

static int
cli_report(struct cli *c, int argc, char **argv)
{
	struct cli_report cr = {c, 0, 0};
	int d = c->cfg->money_decimals;
	char a[MONEY_BUFSZ], b[MONEY_BUFSZ], m[MONEY_BUFSZ];

	printf("%-16s %-10s %8s %16s %16s %16s\n", "upstream", "service",
	       "orders", "revenue", "upstream cost", "margin");
	if (store_report(c->st, cli_report_row, &cr) < 0)
		return 1;
	printf("%-16s %-10s %8s %16s %16s %16s\n", "total", "", "",
	       money_format(cr.revenue, d, a), money_format(cr.cost, d, b),
	       money_format(cr.revenue - cr.cost, d, m));
	printf("(amounts in %s; revenue is charges less refunds)\n",
	       c->cfg->currency);
	return 0;
}

static const struct cli_cmd cli_cmds[] = {
    {"customer", "add", 1, 1, cli_customer_add, "customer add NAME"},
    {"customer", "key", 1, 1, cli_customer_key, "customer key NAME"},
    {"customer", "fund", 2, 8, cli_customer_fund,
     "customer fund NAME AMOUNT [--note TEXT] [--method TEXT] [--ref ID]"},
    {"customer", "list", 0, 0, cli_customer_list, "customer list"},
    {"customer", "show", 1, 1, cli_customer_show, "customer show NAME"},
    {"customer", "disable", 1, 1, cli_customer_disable,
     "customer disable NAME"},
    {"customer", "enable", 1, 1, cli_customer_enable, "customer enable NAME"},
    {"order", "show", 1, 1, cli_order_show, "order show ID"},
    {"order", "list", 0, 4, cli_order_list,
     "order list [--state S] [--customer NAME]"},
    {"order", "resolve", 2, 3, cli_order_resolve,
     "order resolve ID --upstream-order N | --refund"},
    {"report", NULL, 0, 0, cli_report, "report"},
    {"services", "sync", 0, 2, cli_services_sync,
     "services sync [--force] [UPSTREAM]"},
    {"services", "changes", 0, 4, cli_services_changes,
     "services changes [--upstream NAME] [--limit N]"},
    {"services", "list", 0, 0, cli_services_list, "services list"},
    {"services", "match", 0, 64, cli_services_match,
     "services match [UPSTREAM...] [--min-score S] [--format "
     "text|yaml|json]"},
    {"upstream", "list", 0, 0, cli_upstream_list, "upstream list"},
    {"check", NULL, 0, 0, cli_check, "check"},
    {"admin", "key", 1, 3, cli_admin_key,
     "admin key add NAME [--read-only] | admin key list | admin key revoke "
     "NAME"},
    {"audit", NULL, 0, 4, cli_audit, "audit [--limit N] [--actor A]"},
    {"group", "add", 2, 2, cli_group_add, "group add NAME PERCENT"},
    {"group", "set", 2, 2, cli_group_set, "group set NAME PERCENT"},
    {"group", "remove", 1, 1, cli_group_remove, "group remove NAME"},
    {"group", "list", 0, 0, cli_group_list, "group list"},
    {"customer", "group", 2, 2, cli_customer_group,
     "customer group NAME GROUP|--none"},
    {"rate", "set", 3, 3, cli_rate_set,
     "rate set CUSTOMER SERVICE RATE|PERCENT%"},
    {"rate", "remove", 2, 2, cli_rate_remove, "rate remove CUSTOMER SERVICE"},
    {"rate", "list", 0, 1, cli_rate_list, "rate list [CUSTOMER]"},
    {"webhook", "add", 2, 6, cli_webhook_add,
     "webhook add CUSTOMER URL [--events LIST] [--balance-below AMOUNT]"},
    {"webhook", "list", 0, 1, cli_webhook_list, "webhook list [CUSTOMER]"},
    {"webhook", "remove", 1, 1, cli_webhook_remove, "webhook remove ID"},
    {"webhook", "rotate", 1, 3, cli_webhook_rotate,
     "webhook rotate ID [--overlap DURATION]"},
    {"webhook", "dead", 0, 2, cli_webhook_dead, "webhook dead [--limit N]"},
    {"webhook", "retry", 1, 1, cli_webhook_retry, "webhook retry ID|--all"},
};
#define CLI_NCMDS (sizeof(cli_cmds) / sizeof(cli_cmds[0]))

static void
cli_usage(void)
{
	fprintf(stderr, "usage: panelmux -c FILE COMMAND\ncommands:\n");
	for (size_t i = 0; i < CLI_NCMDS; i++)
		fprintf(stderr, "  %s\n", cli_cmds[i].usage);
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {NULL, 0, NULL, 0},
	};
	struct cfg_errors errs = {NULL, 0};
	const struct cli_cmd *cmd = NULL;
	struct cli c;
	const char *path = NULL;
	int ch, rc, nargs;
	char **args;

	memset(&c, 0, sizeof(c));
	log_init("panelmux", LOG_LEVEL_WARN);
	/* Options stop at the command, so "--note" belongs to it. */
	while ((ch = getopt_long(argc, argv, "+c:", longopts, NULL)) != -1) {
		if (ch != 'c')
			cli_usage();
		path = optarg;
	}
	if (path == NULL || optind >= argc)
		cli_usage();
	for (size_t i = 0; i < CLI_NCMDS && cmd == NULL; i++) {
		const struct cli_cmd *k = &cli_cmds[i];

		if (strcmp(argv[optind], k->group) != 0)
			continue;
		if (k->name == NULL)
			cmd = k;
		else if (optind + 1 < argc &&
		         strcmp(argv[optind + 1], k->name) == 0)
			cmd = k;
	}
	if (cmd == NULL)
		cli_usage();
	args = argv + optind + (cmd->name != NULL ? 2 : 1);
	nargs = argc - (int)(args - argv);
	if (nargs < cmd->min_args || nargs > cmd->max_args) {
		fprintf(stderr, "usage: panelmux -c FILE %s\n", cmd->usage);
		return 2;
	}

	/* Upstream keys are read only by the commands that call upstreams:
	 * the others work in a shell without the upstreams' secrets. */
	c.cfg = config_load_flags(path, CONFIG_LAZY_SECRETS, &errs);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.msgs[i]);
	cfg_errors_clear(&errs);
	if (c.cfg == NULL)
		return 2;
	if ((c.st = store_open(c.cfg)) == NULL) {
		config_free(c.cfg);
		return 1;
	}
	ops_init(&c.ops, c.st, c.cfg, "cli", 0);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmd->fn(&c, nargs, args);
	curl_global_cleanup();
	store_close(c.st);
	config_free(c.cfg);
	return rc;
}
