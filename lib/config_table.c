/* config_table.c - the schema (SPEC section 3): one table per mapping, one
 * row per key with its type, bounds, default, where its value is stored and
 * the checks that run on it.  The whole option set is read here.
 */
#include <stddef.h>
#include <stdint.h>

#include "config_int.h"
#include "money.h"

/* The schema (SPEC section 3). */

static const struct cfg_key cfg_markup_keys[] = {
    {.name = "percent",
     .type = CFG_PERCENT,
     .off = offsetof(struct cfg_markup, percent),
     .min = 0,
     .max = INT64_MAX},
    {.name = "fixed",
     .type = CFG_MONEY,
     .off = offsetof(struct cfg_markup, fixed),
     .min = 0,
     .max = INT64_MAX},
    {.name = "min_rate",
     .type = CFG_MONEY,
     .off = offsetof(struct cfg_markup, min_rate),
     .min = 0,
     .max = INT64_MAX},
    {.name = NULL},
};
static const struct cfg_table cfg_markup_table = {cfg_markup_keys, NULL};

#define UP(f) offsetof(struct cfg_upstream, f)
static const struct cfg_key cfg_upstream_keys[] = {
    [UP_NAME] = {.name = "name",
                 .type = CFG_STRING,
                 .off = UP(name),
                 .flags = CFG_F_REQUIRED,
                 .valid = cfg_valid_upstream_name,
                 .check = cfg_check_upstream_name},
    [UP_URL] = {.name = "url",
                .type = CFG_STRING,
                .off = UP(url),
                .flags = CFG_F_REQUIRED | CFG_F_ENV,
                .valid = cfg_valid_url},
    [UP_KEY] = {.name = "key",
                .type = CFG_SECRET,
                .off = UP(key),
                .off2 = UP(key_literal),
                .flags = CFG_F_ENV | CFG_F_WIPE},
    [UP_KEY_FILE] = {.name = "key_file",
                     .type = CFG_KEYFILE,
                     .off = UP(key),
                     .off2 = UP(key_literal),
                     .flags = CFG_F_ENV | CFG_F_WIPE},
    /* default: the panel currency, set by cfg_finish() */
    [UP_CURRENCY] = {.name = "currency",
                     .type = CFG_STRING,
                     .off = UP(currency),
                     .valid = cfg_valid_currency,
                     .check = cfg_check_upstream_currency},
    [UP_TIMEOUT] = {.name = "timeout",
                    .type = CFG_DURATION,
                    .off = UP(timeout_ms),
                    .min = 100,
                    .max = 10 * MS_MINUTE,
                    .def = "15s"},
    [UP_MAX_BATCH] = {.name = "max_batch",
                      .type = CFG_INT,
                      .off = UP(max_batch),
                      .min = 1,
                      .max = 100,
                      .def = "100"},
    [UP_MAX_CONNECTIONS] = {.name = "max_connections",
                            .type = CFG_INT,
                            .off = UP(max_connections),
                            .min = 1,
                            .max = 256,
                            .def = "8"},
    /* not set: pricing.markup applies */
    [UP_MARKUP] = {.name = "markup",
                   .type = CFG_MARKUP,
                   .off = UP(markup),
                   .sub = &cfg_markup_table},
    [UP_SYNC_INTERVAL] = {.name = "sync_interval",
                          .type = CFG_DURATION,
                          .off = UP(sync_interval_ms),
                          .min = MS_SECOND,
                          .max = 30 * MS_DAY,
                          .def = "10m"},
    [UP_POLL_INTERVAL] = {.name = "poll_interval",
                          .type = CFG_DURATION,
                          .off = UP(poll_interval_ms),
                          .min = 100,
                          .max = MS_DAY,
                          .def = "60s"},
    [UP_NKEYS] = {.name = NULL},
};
static const struct cfg_table cfg_upstream_table = {cfg_upstream_keys,
                                                    cfg_check_upstream};

#define SVC(f) offsetof(struct cfg_service, f)
static const struct cfg_key cfg_service_keys[] = {
    [SVC_ID] = {.name = "id",
                .type = CFG_INT64,
                .off = SVC(id),
                .min = 1,
                .max = CFG_MAX_ID,
                .check = cfg_check_service_id},
    [SVC_ROUTE] = {.name = "route",
                   .type = CFG_ROUTES,
                   .off = SVC(routes),
                   .off2 = SVC(nroutes),
                   .min = 1},
    [SVC_IMPORT] = {.name = "import",
                    .type = CFG_UPSTREAM,
                    .off = SVC(import_upstream)},
    [SVC_ID_OFFSET] = {.name = "id_offset",
                       .type = CFG_INT64,
                       .off = SVC(id_offset),
                       .min = 0,
                       .max = CFG_MAX_ID},
    [SVC_CATEGORIES] = {.name = "categories",
                        .type = CFG_STRLIST,
                        .off = SVC(categories),
                        .off2 = SVC(ncategories),
                        .min = 0},
    [SVC_MARKUP] = {.name = "markup",
                    .type = CFG_MARKUP,
                    .off = SVC(markup),
                    .sub = &cfg_markup_table},
    [SVC_NAME] = {.name = "name", .type = CFG_STRING, .off = SVC(name)},
    [SVC_CATEGORY] = {.name = "category",
                      .type = CFG_STRING,
                      .off = SVC(category)},
    [SVC_MIN] = {.name = "min",
                 .type = CFG_INT64,
                 .off = SVC(min),
                 .min = 1,
                 .max = CFG_MAX_ID},
    [SVC_MAX] = {.name = "max",
                 .type = CFG_INT64,
                 .off = SVC(max),
                 .min = 1,
                 .max = CFG_MAX_ID},
    /* Over what the upstreams list: a v1 upstream lists neither flag. */
    [SVC_REFILL] = {.name = "refill", .type = CFG_BOOL, .off = SVC(refill)},
    [SVC_CANCEL] = {.name = "cancel", .type = CFG_BOOL, .off = SVC(cancel)},
    [SVC_REFILL_WINDOW] = {.name = "refill_window",
                           .type = CFG_DURATION,
                           .off = SVC(refill_window_ms),
                           .min = MS_SECOND,
                           .max = 3650 * MS_DAY},
    [SVC_NKEYS] = {.name = NULL},
};
static const struct cfg_table cfg_service_table = {cfg_service_keys,
                                                   cfg_check_service};

#define CF(f) offsetof(struct config, f)
static const struct cfg_key cfg_listen_keys[] = {
    {.name = "api",
     .type = CFG_HOSTPORT,
     .off = CF(listen_api),
     .def = "127.0.0.1:8080"},
    {.name = "paths",
     .type = CFG_STRLIST,
     .off = CF(paths),
     .off2 = CF(npaths),
     .min = 1,
     .def = "/api/v2",
     .valid = cfg_valid_path},
    /* null or "" turns the admin listener off */
    {.name = "admin",
     .type = CFG_HOSTPORT,
     .off = CF(listen_admin),
     .flags = CFG_F_NULL,
     .def = "127.0.0.1:9090"},
    {.name = NULL},
};
static const struct cfg_table cfg_listen_table = {cfg_listen_keys, NULL};

static const struct cfg_key cfg_money_keys[] = {
    {.name = "decimals",
     .type = CFG_INT,
     .off = CF(money_decimals),
     .min = 0,
     .max = MONEY_DECIMALS,
     .def = "5"},
    {.name = NULL},
};
static const struct cfg_table cfg_money_table = {cfg_money_keys, NULL};

/* No default rows: sqlite ./var/panelmux.db applies when neither is given
 * (cfg_finish). */
static const struct cfg_key cfg_store_keys[] = {
    [ST_SQLITE] = {.name = "sqlite",
                   .type = CFG_STRING,
                   .off = CF(store_sqlite)},
    [ST_POSTGRES] = {.name = "postgres",
                     .type = CFG_STRING,
                     .off = CF(store_postgres),
                     .flags = CFG_F_ENV | CFG_F_WIPE},
    [ST_NKEYS] = {.name = NULL},
};
static const struct cfg_table cfg_store_table = {cfg_store_keys,
                                                 cfg_check_store};

static const struct cfg_key cfg_limits_keys[] = {
    {.name = "max_body",
     .type = CFG_SIZE,
     .off = CF(max_body),
     .min = KIB,
     .max = GIB,
     .def = "1MiB"},
    {.name = "max_headers",
     .type = CFG_SIZE,
     .off = CF(max_headers),
     .min = KIB,
     .max = MIB,
     .def = "16KiB"},
    {.name = "header_timeout",
     .type = CFG_DURATION,
     .off = CF(header_timeout_ms),
     .min = 100,
     .max = 10 * MS_MINUTE,
     .def = "10s"},
    {.name = "idle_timeout",
     .type = CFG_DURATION,
     .off = CF(idle_timeout_ms),
     .min = MS_SECOND,
     .max = MS_DAY,
     .def = "60s"},
    {.name = "max_connections",
     .type = CFG_INT,
     .off = CF(max_connections),
     .min = 1,
     .max = 1000000,
     .def = "10000"},
    {.name = "max_connections_per_ip",
     .type = CFG_INT,
     .off = CF(max_connections_per_ip),
     .min = 1,
     .max = 1000000,
     .def = "256"},
    [LIM_RATE_PER_KEY] = {.name = "rate_per_key",
                          .type = CFG_RATE,
                          .off = CF(rate_per_key),
                          .def = "50/s"},
    [LIM_READ_RATE_PER_KEY] = {.name = "read_rate_per_key",
                               .type = CFG_RATE,
                               .off = CF(read_rate_per_key),
                               .def = "1000/s"},
    {.name = "rate_per_ip",
     .type = CFG_RATE,
     .off = CF(rate_per_ip),
     .def = "200/s"},
    {.name = NULL},
};
static const struct cfg_table cfg_limits_table = {cfg_limits_keys,
                                                  cfg_check_limits};

static const struct cfg_key cfg_pricing_keys[] = {
    {.name = "markup",
     .type = CFG_MARKUP,
     .off = CF(markup),
     .sub = &cfg_markup_table,
     .def = "25%"},
    {.name = "round_to",
     .type = CFG_MONEY,
     .off = CF(round_to),
     .min = 1,
     .max = INT64_MAX,
     .def = "0.0001"},
    {.name = NULL},
};
static const struct cfg_table cfg_pricing_table = {cfg_pricing_keys, NULL};

static const struct cfg_key cfg_orders_keys[] = {
    {.name = "reply_wait",
     .type = CFG_DURATION,
     .off = CF(reply_wait_ms),
     .min = 0,
     .max = 10 * MS_MINUTE,
     .def = "5s"},
    {.name = "refill_window",
     .type = CFG_DURATION,
     .off = CF(refill_window_ms),
     .min = 0,
     .max = 3650 * MS_DAY,
     .def = "0s"},
    {.name = "refill_cooldown",
     .type = CFG_DURATION,
     .off = CF(refill_cooldown_ms),
     .min = 0,
     .max = 30 * MS_DAY,
     .def = "24h"},
    {.name = NULL},
};
static const struct cfg_table cfg_orders_table = {cfg_orders_keys, NULL};

static const struct cfg_key cfg_log_keys[] = {
    {.name = "level",
     .type = CFG_LOGLEVEL,
     .off = CF(log_level),
     .def = "info"},
    {.name = NULL},
};
static const struct cfg_table cfg_log_table = {cfg_log_keys, NULL};

#define WH(f) CF(webhooks.f)
static const struct cfg_key cfg_webhooks_keys[] = {
    {.name = "enabled", .type = CFG_BOOL, .off = WH(enabled), .def = "false"},
    {.name = "allow_private",
     .type = CFG_BOOL,
     .off = WH(allow_private),
     .def = "false"},
    {.name = "max_connections",
     .type = CFG_INT,
     .off = WH(max_connections),
     .min = 1,
     .max = 256,
     .def = "16"},
    {.name = "max_per_endpoint",
     .type = CFG_INT,
     .off = WH(max_per_endpoint),
     .min = 1,
     .max = 256,
     .def = "4"},
    {.name = "timeout",
     .type = CFG_DURATION,
     .off = WH(timeout_ms),
     .min = 100,
     .max = 10 * MS_MINUTE,
     .def = "10s"},
    {.name = "retry_base",
     .type = CFG_DURATION,
     .off = WH(retry_base_ms),
     .min = 10,
     .max = MS_HOUR,
     .def = "10s"},
    {.name = "retry_max",
     .type = CFG_DURATION,
     .off = WH(retry_max_ms),
     .min = 10,
     .max = MS_DAY,
     .def = "1h"},
    {.name = "max_age",
     .type = CFG_DURATION,
     .off = WH(max_age_ms),
     .min = MS_SECOND,
     .max = 30 * MS_DAY,
     .def = "24h"},
    {.name = "poll_interval",
     .type = CFG_DURATION,
     .off = WH(poll_ms),
     .min = 10,
     .max = MS_MINUTE,
     .def = "250ms"},
    {.name = NULL},
};
static const struct cfg_table cfg_webhooks_table = {cfg_webhooks_keys, NULL};

static const struct cfg_key cfg_top_keys[] = {
    {.name = "listen", .type = CFG_TABLE, .sub = &cfg_listen_table},
    {.name = "currency",
     .type = CFG_STRING,
     .off = CF(currency),
     .def = "USD",
     .valid = cfg_valid_currency},
    {.name = "money", .type = CFG_TABLE, .sub = &cfg_money_table},
    {.name = "store", .type = CFG_TABLE, .sub = &cfg_store_table},
    {.name = "limits", .type = CFG_TABLE, .sub = &cfg_limits_table},
    {.name = "pricing", .type = CFG_TABLE, .sub = &cfg_pricing_table},
    {.name = "currencies",
     .type = CFG_CURRENCIES,
     .off = CF(currencies),
     .off2 = CF(ncurrencies)},
    {.name = "upstreams",
     .type = CFG_SEQ,
     .off = CF(upstreams),
     .off2 = CF(nupstreams),
     .max = CFG_MAX_UPSTREAMS,
     .sub = &cfg_upstream_table,
     .elsize = sizeof(struct cfg_upstream)},
    {.name = "services",
     .type = CFG_SEQ,
     .off = CF(services),
     .off2 = CF(nservices),
     .sub = &cfg_service_table,
     .elsize = sizeof(struct cfg_service)},
    {.name = "orders", .type = CFG_TABLE, .sub = &cfg_orders_table},
    {.name = "log", .type = CFG_TABLE, .sub = &cfg_log_table},
    {.name = "webhooks", .type = CFG_TABLE, .sub = &cfg_webhooks_table},
    {.name = NULL},
};
const struct cfg_table cfg_top_table = {cfg_top_keys, NULL};

#define CFG_ROWS(a) (sizeof(a) / sizeof((a)[0]) - 1)
_Static_assert(CFG_ROWS(cfg_top_keys) <= CFG_MAX_KEYS, "top");
_Static_assert(CFG_ROWS(cfg_upstream_keys) <= CFG_MAX_KEYS, "upstream");
_Static_assert(CFG_ROWS(cfg_service_keys) <= CFG_MAX_KEYS, "service");
_Static_assert(CFG_ROWS(cfg_limits_keys) <= CFG_MAX_KEYS, "limits");
_Static_assert(CFG_ROWS(cfg_listen_keys) <= CFG_MAX_KEYS, "listen");
/* Items of a CFG_SEQ start with their position. */
_Static_assert(offsetof(struct cfg_upstream, pos) == 0, "upstream pos");
_Static_assert(offsetof(struct cfg_service, pos) == 0, "service pos");

/* currencies: {CODE: value}; the value is read through this row. */
const struct cfg_key cfg_currency_value_key = {
    .name = "value",
    .type = CFG_MONEY,
    .off = offsetof(struct cfg_currency, value),
    .min = 1,
    .max = INT64_MAX,
};
