/* cli_services.c - `panelmux services changes`: the price-change log the
 * syncs write (lib/prices.h, store_price_page). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "money.h"
#include "prices.h"
#include "store.h"

/* Rows shown when --limit is not given. */
#define CLI_CHANGES_LIMIT 50

static const char *
cli_price(money_t m, char *buf)
{
	return m == PRICE_NONE ? "-" : money_format(m, 2, buf);
}

static int
cli_change_row(const struct price_entry *e, void *arg)
{
	char when[32], cb[MONEY_BUFSZ], ca[MONEY_BUFSZ], pb[MONEY_BUFSZ],
	    pa[MONEY_BUFSZ];
	time_t t = (time_t)e->created_at;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(when, sizeof(when), "%lld", (long long)e->created_at);
	printf("%-8lld %-20s %-16s %-10lld %-8s %12s %12s %12s %12s\n",
	       (long long)e->id, when, e->upstream, (long long)e->service,
	       e->kind, cli_price(e->cost_before, cb),
	       cli_price(e->cost_after, ca), cli_price(e->price_before, pb),
	       cli_price(e->price_after, pa));
	return 0;
}

/* services changes [--upstream NAME] [--limit N]: newest first. */
int
cli_services_changes(struct cli *c, int argc, char **argv)
{
	struct price_page f = {NULL, CLI_CHANGES_LIMIT, 0, NULL};

	for (int i = 0; i < argc; i += 2) {
		char *end = NULL;

		if (i + 1 >= argc)
			goto usage;
		if (strcmp(argv[i], "--upstream") == 0) {
			f.upstream = argv[i + 1];
		} else if (strcmp(argv[i], "--limit") == 0) {
			long long n = strtoll(argv[i + 1], &end, 10);

			if (*argv[i + 1] == '\0' || *end != '\0' || n <= 0 ||
			    n > STORE_PAGE_MAX) {
				fprintf(stderr,
				        "panelmux: --limit must be 1 to %d\n",
				        STORE_PAGE_MAX);
				return 2;
			}
			f.limit = n;
		} else {
			goto usage;
		}
	}
	printf("%-8s %-20s %-16s %-10s %-8s %12s %12s %12s %12s\n", "id",
	       "time", "upstream", "service", "kind", "cost_before",
	       "cost_after", "price_before", "price_after");
	if (store_price_page(c->st, &f, cli_change_row, NULL) < 0) {
		fprintf(stderr, "panelmux: store error\n");
		return 1;
	}
	return 0;
usage:
	fprintf(stderr, "usage: panelmux -c FILE services changes [--upstream "
	                "NAME] [--limit N]\n");
	return 2;
}
