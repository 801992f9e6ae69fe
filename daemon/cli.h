/* cli.h - what the operator CLI's files (panelmux.c, cli_*.c) share. */
#ifndef PANELMUX_CLI_H
#define PANELMUX_CLI_H

#include "config.h"
#include "ops.h"
#include "store.h"

struct cli {
	struct config *cfg;
	struct store *st;
	struct ops ops; /* every write goes through it, as "cli" */
};

struct cli_cmd {
	const char *group;
	const char *name;
	int min_args, max_args;
	int (*fn)(struct cli *, int argc, char **argv);
	const char *usage;
};

/* Report an operation's outcome on stderr: the exit status (2 for bad
 * input, as a usage error; 1 for any other refusal). */
int cli_ops(const struct ops_result *r);
/* S as a positive ID (WHAT names it in the message), or 0 with a usage
 * error printed. */
int64_t cli_id(const char *s, const char *what);

struct event_base;
/* A panel (catalogue, rates) on a private loop BASE; panel_free and
 * event_base_free them.  NULL on failure. */
struct panel *cli_panel(struct cli *c, struct event_base **base);

/* cli_pricing.c */
int cli_group_add(struct cli *c, int argc, char **argv);
int cli_group_set(struct cli *c, int argc, char **argv);
int cli_group_remove(struct cli *c, int argc, char **argv);
int cli_group_list(struct cli *c, int argc, char **argv);
int cli_customer_group(struct cli *c, int argc, char **argv);
int cli_rate_set(struct cli *c, int argc, char **argv);
int cli_rate_remove(struct cli *c, int argc, char **argv);
int cli_rate_list(struct cli *c, int argc, char **argv);

/* cli_webhook.c */
int cli_webhook_add(struct cli *c, int argc, char **argv);
int cli_webhook_list(struct cli *c, int argc, char **argv);
int cli_webhook_remove(struct cli *c, int argc, char **argv);
int cli_webhook_rotate(struct cli *c, int argc, char **argv);
int cli_webhook_dead(struct cli *c, int argc, char **argv);
int cli_webhook_retry(struct cli *c, int argc, char **argv);

/* cli_services.c */
int cli_services_changes(struct cli *c, int argc, char **argv);

#endif
