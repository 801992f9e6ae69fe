/* cli_webhook.c - `panelmux webhook ...`: customers' endpoints and the
 * outbox's dead letters (lib/webhook.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "money.h"
#include "store.h"

/* webhook add CUSTOMER URL [--events LIST] [--balance-below AMOUNT]:
 * the secret alone on stdout. */
int
cli_webhook_add(struct cli *c, int argc, char **argv)
{
	struct ops_webhook_new in = {argv[0], argv[1], NULL, NULL, 0, NULL};
	char secret[STORE_SECRET_MAX + 1];
	struct webhook_endpoint e;
	struct ops_result r;

	for (int i = 2; i < argc; i += 2) {
		const char **dst = strcmp(argv[i], "--events") == 0 ? &in.events
		                   : strcmp(argv[i], "--balance-below") == 0
		                       ? &in.balance_below
		                       : NULL;

		if (dst == NULL || i + 1 >= argc) {
			fprintf(stderr, "usage: webhook add CUSTOMER URL "
			                "[--events LIST] [--balance-below "
			                "AMOUNT]\n");
			return 2;
		}
		*dst = argv[i + 1];
	}
	if (ops_webhook_add(&c->ops, &in, &e, secret, &r) != 0)
		return cli_ops(&r);
	printf("%s\n", secret);
	fprintf(stderr, "webhook %lld for %s: %s\n", (long long)e.id,
	        e.customer, e.url);
	return 0;
}

/* "order.accepted,order.status" of EVENTS into BUF. */
static const char *
cli_events(unsigned events, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned bit = 1; bit <= WEBHOOK_EV_ALL; bit <<= 1)
		if ((events & bit) != 0 && off < len)
			off += (size_t)snprintf(buf + off, len - off, "%s%s",
			                        off > 0 ? "," : "",
			                        webhook_event_name(bit));
	return buf;
}

static int
cli_print_webhook(const struct webhook_endpoint *e, void *arg)
{
	struct cli *c = arg;
	char ev[128], below[MONEY_BUFSZ];

	printf(
	    "%-6lld %-16s %-40s %-48s %10s %8lld %6lld\n", (long long)e->id,
	    e->customer, e->url, cli_events(e->events, ev, sizeof(ev)),
	    e->balance_below >= 0
	        ? money_format(e->balance_below, c->cfg->money_decimals, below)
	        : "-",
	    (long long)e->pending, (long long)e->dead);
	return 0;
}

int
cli_webhook_list(struct cli *c, int argc, char **argv)
{
	struct customer cu;
	int64_t cid = 0;

	if (argc == 1) {
		if (store_customer_by_name(c->st, argv[0], &cu) != STORE_OK) {
			fprintf(stderr, "panelmux: no customer named %s\n",
			        argv[0]);
			return 1;
		}
		cid = cu.id;
	}
	printf("%-6s %-16s %-40s %-48s %10s %8s %6s\n", "id", "customer", "url",
	       "events", "below", "pending", "dead");
	return store_webhook_list(c->st, cid, cli_print_webhook, c) < 0 ? 1 : 0;
}

int
cli_webhook_remove(struct cli *c, int argc, char **argv)
{
	struct ops_result r;
	int64_t id = cli_id(argv[0], "an ID");

	if (id == 0)
		return 2;
	ops_webhook_remove(&c->ops, id, &r);
	return cli_ops(&r);
}

/* webhook rotate ID [--overlap DURATION]: the new secret alone. */
int
cli_webhook_rotate(struct cli *c, int argc, char **argv)
{
	char secret[STORE_SECRET_MAX + 1];
	const char *overlap = NULL;
	struct ops_result r;
	int64_t id = cli_id(argv[0], "an ID");

	if (id == 0)
		return 2;
	if (argc == 3 && strcmp(argv[1], "--overlap") == 0)
		overlap = argv[2];
	else if (argc != 1) {
		fprintf(stderr,
		        "usage: webhook rotate ID [--overlap DURATION]\n");
		return 2;
	}
	if (ops_webhook_rotate(&c->ops, id, overlap, secret, &r) != 0)
		return cli_ops(&r);
	printf("%s\n", secret);
	return 0;
}

static int
cli_print_dead(const struct webhook_event *ev, void *arg)
{
	char when[32];
	time_t t = (time_t)ev->created_at;

	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", gmtime(&t));
	printf("evt_%-8lld %-6lld %-16s %-8lld %s %4lld  %-40s %s\n",
	       (long long)ev->id, (long long)ev->endpoint_id,
	       webhook_event_name(ev->type), (long long)ev->order.id, when,
	       (long long)ev->attempts, ev->url, ev->last_error);
	return 0;
}

int
cli_webhook_dead(struct cli *c, int argc, char **argv)
{
	int64_t limit = 50;

	if (argc == 2 && strcmp(argv[0], "--limit") == 0) {
		char *end;

		limit = strtoll(argv[1], &end, 10);
		if (*end != '\0' || limit < 1 || limit > STORE_PAGE_MAX) {
			fprintf(stderr, "panelmux: --limit is 1 to %d\n",
			        STORE_PAGE_MAX);
			return 2;
		}
	} else if (argc != 0) {
		fprintf(stderr, "usage: webhook dead [--limit N]\n");
		return 2;
	}
	printf("%-12s %-6s %-16s %-8s %-19s %5s  %-40s %s\n", "event", "hook",
	       "type", "order", "created", "tries", "url", "last error");
	return store_webhook_dead(c->st, limit, cli_print_dead, NULL) < 0 ? 1
	                                                                  : 0;
}

/* webhook retry ID|--all: dead letters pending again. */
int
cli_webhook_retry(struct cli *c, int argc, char **argv)
{
	struct ops_result r;
	int64_t id = 0, n;

	if (strcmp(argv[0], "--all") != 0) {
		/* evt_N as printed, or N */
		const char *s =
		    strncmp(argv[0], "evt_", 4) == 0 ? argv[0] + 4 : argv[0];

		if ((id = cli_id(s, "an ID")) == 0)
			return 2;
	}
	if (ops_webhook_retry(&c->ops, id, &n, &r) != 0)
		return cli_ops(&r);
	printf("%lld dead letters pending again\n", (long long)n);
	return 0;
}
