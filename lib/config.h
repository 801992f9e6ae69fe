/* config.h - the YAML configuration (SPEC section 3), loaded into plain
 * structs by a table-driven schema.  Every string is owned by the config and
 * freed by config_free(). */
#ifndef PANELMUX_CONFIG_H
#define PANELMUX_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "money.h"

#define CONFIG_MAX_FILE (1024 * 1024) /* bytes of YAML accepted */
#define CONFIG_MAX_DEPTH 16           /* nesting of mappings/sequences */
#define CONFIG_MAX_ERRORS 100         /* errors reported before giving up */

/* Where something was written: 1-based, as printed in errors. */
struct cfg_pos {
	int line;
	int col;
};

/* pricing.markup and its overrides: "25%" (percent), "0.10" (fixed add per
 * 1000), or {percent, fixed, min_rate}.  percent 25% is stored as 25.0
 * (money_t 2500000000). */
struct cfg_markup {
	int set;          /* 0: not given here, inherit */
	money_t percent;  /* added percent of the converted rate */
	money_t fixed;    /* added per 1000, panel currency */
	money_t min_rate; /* floor of the marked-up rate; 0 = none */
};

/* "50/s", "3000/m", "100/h": COUNT tokens per PER_MS milliseconds. */
struct cfg_rate {
	uint32_t count; /* 0 = unlimited */
	int64_t per_ms;
};

struct cfg_upstream {
	struct cfg_pos pos;
	char *name;         /* [A-Za-z0-9_-]{1,32}, unique */
	char *url;          /* http:// only for loopback hosts, else https:// */
	char *key;          /* the secret, after ${VAR} / key_file expansion */
	int key_literal;    /* 1 if the key was written literally in the file */
	/* CONFIG_LAZY_SECRETS: why KEY is NULL (the error that reading it
	 * gave, "FILE:LINE:COL: key: ..."), else NULL.  Owned. */
	char *key_error;
	char *currency;     /* default: the panel currency */
	int64_t timeout_ms; /* default 15s */
	int max_batch;      /* 1..100, default 100 */
	int max_connections;      /* reads (kept alive): 1..256, default 8 */
	/* calls on a fresh connection each (add, refill, cancel): 1..256,
	 * default 32 (DESIGN.md "Upstreams across a WAN") */
	int max_write_connections;
	int64_t connect_timeout_ms; /* TCP + TLS, default 10s */
	/* a PEM CA bundle for TLS verification (absolute once loaded);
	 * NULL: libcurl's default store */
	char *ca_file;
	int http2; /* reads may use HTTP/2 over TLS (ALPN); default true */
	struct cfg_markup markup; /* overrides pricing.markup when set */
	int64_t sync_interval_ms; /* default 10m */
	int64_t poll_interval_ms; /* default 60s */
	/* the balance is read this often besides each sync (default 1m) */
	int64_t balance_interval_ms;
	/* logged when this instance's estimate of the balance falls under it
	 * (panel currency); 0 = never */
	money_t low_balance;
	/* The share of its stored services a sync may drop, a percent; -1
	 * not set (pricing.max_drop).  A reply dropping more is refused. */
	money_t max_drop;
};

struct cfg_route {
	struct cfg_pos pos;
	size_t upstream; /* index into config.upstreams */
	int64_t service; /* the upstream's service ID */
};

enum cfg_service_kind { CFG_SERVICE_ROUTE, CFG_SERVICE_IMPORT };

struct cfg_service {
	struct cfg_pos pos;
	enum cfg_service_kind kind;
	/* CFG_SERVICE_ROUTE */
	int64_t id;               /* local service ID, > 0, unique */
	struct cfg_route *routes; /* at least one, tried in order */
	size_t nroutes;
	/* CFG_SERVICE_IMPORT */
	size_t import_upstream; /* index into config.upstreams */
	int64_t id_offset;      /* local id = offset + upstream id */
	char **categories;      /* fnmatch(3) globs; none = all */
	size_t ncategories;
	/* both kinds: optional overrides (NULL / 0 = not set) */
	struct cfg_markup markup;
	char *name;
	char *category;
	int64_t min, max;
	/* -1 not set, else 0/1: whether refill / cancel are offered, over
	 * what the upstreams list (a v1 upstream lists neither) */
	int refill, cancel;
	/* refill window after completion, ms; 0 not set (the upstream's
	 * refill_time, else orders.refill_window) */
	int64_t refill_window_ms;
	/* NULL: pricing.route_mode / pricing.same_link (route.h words) */
	char *route_mode;
	char *same_link;
};

struct cfg_currency {
	struct cfg_pos pos;
	char *code;    /* ISO-like code, 3..8 letters */
	money_t value; /* panel-currency value of one unit, > 0 */
};

struct config {
	int refs; /* config_ref / config_unref; 1 when loaded */
	char *path;

	/* listen */
	char *listen_api; /* "host:port", default "127.0.0.1:8080" */
	char **paths;     /* default {"/api/v2"}; each starts with '/' */
	size_t npaths;
	char *listen_admin; /* default "127.0.0.1:9090"; NULL if "" (off) */

	char *currency;     /* default "USD" */
	int money_decimals; /* 0..8, default 5 */

	/* store: exactly one of these; default sqlite "./var/panelmux.db" */
	char *store_sqlite;
	char *store_postgres;

	/* limits */
	size_t max_body;            /* default 1MiB */
	size_t max_headers;         /* default 16KiB (header bytes) */
	int64_t header_timeout_ms;  /* default 10s */
	int64_t idle_timeout_ms;    /* keep-alive idle, default 60s */
	int max_connections;        /* default 10000 */
	int max_connections_per_ip; /* default 256 */
	/* Token buckets, burst = 2 x rate.  Per key: rate_per_key for writes
	 * (add, refill, cancel), default 50/s; read_rate_per_key for the
	 * other actions, default 1000/s, or rate_per_key when only that is
	 * given.  rate_per_ip: requests that do not authenticate, per client
	 * address, default 200/s. */
	struct cfg_rate rate_per_key;
	struct cfg_rate read_rate_per_key;
	struct cfg_rate rate_per_ip;

	/* pricing */
	struct cfg_markup markup; /* default 25% */
	money_t round_to;         /* default 0.0001 */
	/* The floor no customer rate, discount or failover goes under: a
	 * route's cost x (1 + min_margin / 100); a percent, default 0 */
	money_t min_margin;
	/* routing (route.h): the default route mode and same-link guard
	 * ("ordered", "off"), and the share (percent) of definite rejections
	 * or unsent adds among an upstream's last adds that makes it
	 * unhealthy for `cheapest` (default 50%) */
	char *route_mode;
	char *same_link;
	money_t route_health;
	/* The share of an upstream's stored services one sync may drop
	 * (percent, default 50): above it the old catalogue stays until the
	 * operator forces the sync */
	money_t max_drop;

	/* orders */
	int64_t reply_wait_ms; /* add reply waits this long, default 5s */
	/* refills: the window after completion where neither the service
	 * nor its upstream names one (0: none), and the least time between
	 * two refills of one order (0: none) */
	int64_t refill_window_ms, refill_cooldown_ms;

	/* log */
	int log_level; /* enum log_level, default info */

	/* webhooks (lib/webhook.h): events are written only when enabled */
	struct cfg_webhooks {
		int enabled;
		int allow_private; /* http:// and private addresses too */
		int max_connections;
		int max_per_endpoint; /* of those, to one endpoint */
		int64_t timeout_ms;
		int64_t retry_base_ms, retry_max_ms;
		int64_t max_age_ms; /* then dead-lettered */
		int64_t poll_ms;    /* the outbox scan when idle */
	} webhooks;

	struct cfg_currency *currencies;
	size_t ncurrencies;
	struct cfg_upstream *upstreams;
	size_t nupstreams;
	struct cfg_service *services;
	size_t nservices;
};

/* Errors are collected, not printed: "FILE:LINE:COL: key: message". */
struct cfg_errors {
	char **msgs;
	size_t n;
};

/* Load and validate PATH.  On success returns a new config (free with
 * config_free) and leaves ERRS empty.  On failure returns NULL and ERRS holds
 * every error found in one pass (up to CONFIG_MAX_ERRORS). */
/* ERRS must start zeroed (or hold earlier results): it is cleared first, its
 * messages are in file order, free them with cfg_errors_clear().  ERRS may be
 * NULL to discard them.  A file that cannot be read gives "FILE: message". */
struct config *config_load(const char *path, struct cfg_errors *errs);
/* The same, with FLAGS: CONFIG_LAZY_SECRETS leaves an upstream key that
 * cannot be read (an unset ${VAR}, a missing key_file) NULL, with the
 * reason in its key_error, instead of failing: for the operator CLI, whose
 * commands mostly never call an upstream. */
#define CONFIG_LAZY_SECRETS 0x1
struct config *config_load_flags(const char *path, int flags,
                                 struct cfg_errors *errs);
/* The same over an in-memory buffer; NAME is used in messages. */
struct config *config_load_buffer(const char *name, const char *buf, size_t len,
                                  struct cfg_errors *errs);
/* References.  A loaded config holds one, the loader's.  Whoever keeps using
 * a config across a call that may park its fiber (a store call, an upstream
 * call) or across a reload takes one with config_ref() and drops it with
 * config_unref(); the config is freed with the last.  config_free() is
 * config_unref(), kept for the holders of the only reference (the CLI,
 * tests).  The count is all that ever changes in a loaded config, so these
 * take the const pointers every holder reads it through.  NULL ok. */
const struct config *config_ref(const struct config *cfg);
void config_unref(const struct config *cfg);
void config_free(struct config *cfg);
void cfg_errors_clear(struct cfg_errors *errs);

/* What SIGHUP cannot change in a running daemon: the listen addresses, the
 * store, the panel currency and money.decimals, the list of upstreams (names
 * and order).  0 if NEW can replace OLD; else -1 and WHY (LEN bytes, may be
 * NULL) says what changed, e.g. "listen.api changed".  A pure function. */
int config_reload_check(const struct config *old, const struct config *new,
                        char *why, size_t len);

/* Lookups; NULL / -1 if absent. */
const struct cfg_upstream *config_upstream(const struct config *cfg,
                                           const char *name);
int config_currency_value(
    const struct config *cfg, const char *code,
    money_t *out); /* 1.0 for the panel currency; -1 if unknown */

/* Value parsers shared with the CLI (0 or -1). */
int cfg_parse_duration(const char *s,
                       int64_t *ms); /* "250ms" "10s" "10m" "1h" "1d" */
int cfg_parse_size(const char *s,
                   size_t *bytes); /* "512", "16KiB", "1MiB", "1GiB", "1KB"? no:
                                      only binary suffixes and plain bytes */
int cfg_parse_rate(const char *s, struct cfg_rate *r);
int cfg_parse_markup_string(const char *s,
                            struct cfg_markup *m); /* "25%" or "0.10" */
/* "127.0.0.1:8080", "[::1]:8080", "name:8080"; port 1..65535.  *HOST (the
 * caller frees it; brackets removed) and *PORT are set only on success and
 * may be NULL pointers to validate only. */
int cfg_parse_hostport(const char *s, char **host, int *port);

#endif
