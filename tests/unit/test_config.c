/* test_config.c - lib/config: values, defaults, the reference config, and
 * one test per kind of broken file with its exact "FILE:LINE:COL: key:"
 * message.  Runs from the repository root (conf/panelmux.yaml). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"
#include "money.h"

#define M(units) ((money_t)(units))

static struct config *
load(const char *yaml, struct cfg_errors *e)
{
	return config_load_buffer("t.yaml", yaml, strlen(yaml), e);
}

static void
dump(const struct cfg_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		print_message("# got: %s\n", e->msgs[i]);
}

/* YAML fails with exactly the N messages WANT (each a prefix), in order. */
static void
expect_errors(const char *yaml, const char *const *want, size_t n)
{
	struct cfg_errors e = {NULL, 0};
	struct config *cfg = load(yaml, &e);
	int ok = cfg == NULL && e.n == n;

	for (size_t i = 0; ok && i < n; i++)
		ok = strncmp(e.msgs[i], want[i], strlen(want[i])) == 0;
	if (!ok) {
		dump(&e);
		for (size_t i = 0; i < n; i++)
			print_message("# want: %s\n", want[i]);
	}
	config_free(cfg);
	cfg_errors_clear(&e);
	assert_true(ok);
}

static void
expect_error(const char *yaml, const char *want)
{
	expect_errors(yaml, &want, 1);
}

static struct config *
expect_ok(const char *yaml)
{
	struct cfg_errors e = {NULL, 0};
	struct config *cfg = load(yaml, &e);

	if (cfg == NULL)
		dump(&e);
	assert_non_null(cfg);
	assert_int_equal(e.n, 0);
	return cfg;
}

/* An upstream at lines 1-4 that later lines can route to. */
#define ALPHA                                                                  \
	"upstreams:\n"                                                         \
	"  - name: alpha\n"                                                    \
	"    url: https://alpha.example/api/v2\n"                              \
	"    key: k1\n"

static const char full_yaml[] =
    "listen:\n"
    "  api: \"[::1]:8443\"\n"
    "  paths: [\"/api/v2\", \"/v2\"]\n"
    "  admin: \"\"\n"
    "currency: EUR\n"
    "money:\n"
    "  decimals: 2\n"
    "store:\n"
    "  postgres: \"host=db password=${CFGTEST_PG}\"\n"
    "limits:\n"
    "  max_body: 2MiB\n"
    "  max_headers: 32KiB\n"
    "  header_timeout: 5s\n"
    "  idle_timeout: 2m\n"
    "  max_connections: 500\n"
    "  max_connections_per_ip: 20\n"
    "  rate_per_key: 3000/m\n"
    "  rate_per_ip: 100/h\n"
    "pricing:\n"
    "  markup: {percent: \"12.5%\", fixed: \"0.01\", min_rate: 0.05}\n"
    "  round_to: 0.01\n"
    "orders:\n"
    "  reply_wait: 250ms\n"
    "log:\n"
    "  level: debug\n"
    "currencies:\n"
    "  USD: 0.92\n"
    "  GBP: \"1.17\"\n"
    "upstreams:\n"
    "  - name: alpha\n"
    "    url: \"https://alpha.example/api/v2\"\n"
    "    key: \"${CFGTEST_KEY}\"\n"
    "    currency: USD\n"
    "    timeout: 30s\n"
    "    max_batch: 50\n"
    "    max_connections: 4\n"
    "    markup: \"30%\"\n"
    "    sync_interval: 1h\n"
    "    poll_interval: 1d\n"
    "  - name: beta_2\n"
    "    url: \"http://localhost:18082/api/v2\"\n"
    "    key: \"pre-${CFGTEST_KEY}-post\"\n"
    "  - name: gamma\n"
    "    url: \"http://[::1]:1/x\"\n"
    "    key: literal-key\n"
    "    markup: \"0.10\"\n"
    "services:\n"
    "  - id: 7\n"
    "    route: [\"alpha:1448\", \"beta_2:77\"]\n"
    "    markup: \"40%\"\n"
    "    name: \"Instagram Followers\"\n"
    "    category: Instagram\n"
    "    min: 50\n"
    "    max: 10000\n"
    "  - import: gamma\n"
    "    id_offset: 100000\n"
    "    categories: [\"Instagram*\", \"TikTok*\"]\n"
    "  - id: 8\n"
    "    route: gamma:1\n";

static void
test_full(void **state)
{
	const struct cfg_upstream *u;
	const struct cfg_service *s;
	struct config *cfg;
	money_t v;

	setenv("CFGTEST_KEY", "s3cret", 1);
	setenv("CFGTEST_PG", "pw", 1);
	cfg = expect_ok(full_yaml);

	assert_string_equal(cfg->path, "t.yaml");
	assert_string_equal(cfg->listen_api, "[::1]:8443");
	assert_int_equal(cfg->npaths, 2);
	assert_string_equal(cfg->paths[0], "/api/v2");
	assert_string_equal(cfg->paths[1], "/v2");
	assert_null(cfg->listen_admin);
	assert_string_equal(cfg->currency, "EUR");
	assert_int_equal(cfg->money_decimals, 2);
	assert_null(cfg->store_sqlite);
	assert_string_equal(cfg->store_postgres, "host=db password=pw");
	assert_int_equal(cfg->max_body, 2 * 1024 * 1024);
	assert_int_equal(cfg->max_headers, 32 * 1024);
	assert_int_equal(cfg->header_timeout_ms, 5000);
	assert_int_equal(cfg->idle_timeout_ms, 120000);
	assert_int_equal(cfg->max_connections, 500);
	assert_int_equal(cfg->max_connections_per_ip, 20);
	assert_int_equal(cfg->rate_per_key.count, 3000);
	assert_int_equal(cfg->rate_per_key.per_ms, 60000);
	/* only rate_per_key given: reads keep its rate */
	assert_int_equal(cfg->read_rate_per_key.count, 3000);
	assert_int_equal(cfg->read_rate_per_key.per_ms, 60000);
	assert_int_equal(cfg->rate_per_ip.count, 100);
	assert_int_equal(cfg->rate_per_ip.per_ms, 3600000);
	assert_int_equal(cfg->markup.set, 1);
	assert_int_equal(cfg->markup.percent, M(1250000000));
	assert_int_equal(cfg->markup.fixed, M(1000000));
	assert_int_equal(cfg->markup.min_rate, M(5000000));
	assert_int_equal(cfg->round_to, M(1000000));
	assert_int_equal(cfg->reply_wait_ms, 250);
	assert_int_equal(cfg->log_level, LOG_LEVEL_DEBUG);

	assert_int_equal(cfg->ncurrencies, 2);
	assert_string_equal(cfg->currencies[0].code, "USD");
	assert_int_equal(cfg->currencies[0].value, M(92000000));
	assert_int_equal(cfg->currencies[0].pos.line, 27);
	assert_int_equal(cfg->currencies[0].pos.col, 3);
	assert_string_equal(cfg->currencies[1].code, "GBP");
	assert_int_equal(cfg->currencies[1].value, M(117000000));
	assert_int_equal(config_currency_value(cfg, "EUR", &v), 0);
	assert_int_equal(v, MONEY_SCALE);
	assert_int_equal(config_currency_value(cfg, "GBP", &v), 0);
	assert_int_equal(v, M(117000000));
	assert_int_equal(config_currency_value(cfg, "JPY", &v), -1);

	assert_int_equal(cfg->nupstreams, 3);
	u = &cfg->upstreams[0];
	assert_int_equal(u->pos.line, 30);
	assert_int_equal(u->pos.col, 5);
	assert_string_equal(u->name, "alpha");
	assert_string_equal(u->url, "https://alpha.example/api/v2");
	assert_string_equal(u->key, "s3cret");
	assert_int_equal(u->key_literal, 0);
	assert_string_equal(u->currency, "USD");
	assert_int_equal(u->timeout_ms, 30000);
	assert_int_equal(u->max_batch, 50);
	assert_int_equal(u->max_connections, 4);
	assert_int_equal(u->markup.set, 1);
	assert_int_equal(u->markup.percent, M(3000000000));
	assert_int_equal(u->markup.fixed, 0);
	assert_int_equal(u->sync_interval_ms, 3600000);
	assert_int_equal(u->poll_interval_ms, 86400000);
	u = &cfg->upstreams[1];
	assert_string_equal(u->name, "beta_2");
	assert_string_equal(u->key, "pre-s3cret-post");
	assert_int_equal(u->key_literal, 0);
	assert_string_equal(u->currency, "EUR"); /* the panel's */
	assert_int_equal(u->markup.set, 0);
	u = &cfg->upstreams[2];
	assert_string_equal(u->url, "http://[::1]:1/x");
	assert_string_equal(u->key, "literal-key");
	assert_int_equal(u->key_literal, 1);
	assert_int_equal(u->markup.set, 1);
	assert_int_equal(u->markup.percent, 0);
	assert_int_equal(u->markup.fixed, M(10000000));
	assert_ptr_equal(config_upstream(cfg, "gamma"), u);
	assert_null(config_upstream(cfg, "delta"));

	assert_int_equal(cfg->nservices, 3);
	s = &cfg->services[0];
	assert_int_equal(s->kind, CFG_SERVICE_ROUTE);
	assert_int_equal(s->pos.line, 48);
	assert_int_equal(s->id, 7);
	assert_int_equal(s->nroutes, 2);
	assert_int_equal(s->routes[0].upstream, 0);
	assert_int_equal(s->routes[0].service, 1448);
	assert_int_equal(s->routes[0].pos.line, 49);
	assert_int_equal(s->routes[0].pos.col, 13);
	assert_int_equal(s->routes[1].upstream, 1);
	assert_int_equal(s->routes[1].service, 77);
	assert_int_equal(s->markup.set, 1);
	assert_int_equal(s->markup.percent, M(4000000000));
	assert_string_equal(s->name, "Instagram Followers");
	assert_string_equal(s->category, "Instagram");
	assert_int_equal(s->min, 50);
	assert_int_equal(s->max, 10000);
	s = &cfg->services[1];
	assert_int_equal(s->kind, CFG_SERVICE_IMPORT);
	assert_int_equal(s->import_upstream, 2);
	assert_int_equal(s->id_offset, 100000);
	assert_int_equal(s->ncategories, 2);
	assert_string_equal(s->categories[0], "Instagram*");
	assert_string_equal(s->categories[1], "TikTok*");
	assert_int_equal(s->markup.set, 0);
	assert_null(s->name);
	s = &cfg->services[2];
	assert_int_equal(s->kind, CFG_SERVICE_ROUTE);
	assert_int_equal(s->id, 8);
	assert_int_equal(s->nroutes, 1);
	assert_int_equal(s->routes[0].upstream, 2);
	assert_int_equal(s->routes[0].service, 1);

	config_free(cfg);
	unsetenv("CFGTEST_KEY");
	unsetenv("CFGTEST_PG");
}

static void
check_defaults(const struct config *cfg)
{
	assert_string_equal(cfg->listen_api, "127.0.0.1:8080");
	assert_int_equal(cfg->npaths, 1);
	assert_string_equal(cfg->paths[0], "/api/v2");
	assert_string_equal(cfg->listen_admin, "127.0.0.1:9090");
	assert_string_equal(cfg->currency, "USD");
	assert_int_equal(cfg->money_decimals, 5);
	assert_string_equal(cfg->store_sqlite, "./var/panelmux.db");
	assert_null(cfg->store_postgres);
	assert_int_equal(cfg->max_body, 1024 * 1024);
	assert_int_equal(cfg->max_headers, 16 * 1024);
	assert_int_equal(cfg->header_timeout_ms, 10000);
	assert_int_equal(cfg->idle_timeout_ms, 60000);
	assert_int_equal(cfg->max_connections, 10000);
	assert_int_equal(cfg->max_connections_per_ip, 256);
	assert_int_equal(cfg->rate_per_key.count, 50);
	assert_int_equal(cfg->rate_per_key.per_ms, 1000);
	assert_int_equal(cfg->read_rate_per_key.count, 1000);
	assert_int_equal(cfg->read_rate_per_key.per_ms, 1000);
	assert_int_equal(cfg->rate_per_ip.count, 200);
	assert_int_equal(cfg->rate_per_ip.per_ms, 1000);
	assert_int_equal(cfg->markup.set, 1);
	assert_int_equal(cfg->markup.percent, M(2500000000));
	assert_int_equal(cfg->markup.fixed, 0);
	assert_int_equal(cfg->markup.min_rate, 0);
	assert_int_equal(cfg->round_to, M(10000));
	assert_int_equal(cfg->reply_wait_ms, 5000);
	assert_int_equal(cfg->log_level, LOG_LEVEL_INFO);
}

static void
test_defaults(void **state)
{
	static const char *const empties[] = {
	    "", "---\n", "{}\n",
	    "# nothing\nlisten:\nlimits: ~\nupstreams: []\nservices:\n"};
	const struct cfg_upstream *u;
	struct config *cfg;

	for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
		cfg = expect_ok(empties[i]);
		check_defaults(cfg);
		assert_int_equal(cfg->ncurrencies, 0);
		assert_int_equal(cfg->nupstreams, 0);
		assert_int_equal(cfg->nservices, 0);
		config_free(cfg);
	}

	cfg = expect_ok(ALPHA);
	check_defaults(cfg);
	u = &cfg->upstreams[0];
	assert_int_equal(u->key_literal, 1);
	assert_string_equal(u->currency, "USD");
	assert_int_equal(u->timeout_ms, 15000);
	assert_int_equal(u->max_batch, 100);
	assert_int_equal(u->max_connections, 8);
	assert_int_equal(u->max_write_connections, 32);
	assert_int_equal(u->connect_timeout_ms, 10000);
	assert_null(u->ca_file);
	assert_int_equal(u->http2, 1);
	assert_int_equal(u->markup.set, 0);
	assert_int_equal(u->sync_interval_ms, 600000);
	assert_int_equal(u->poll_interval_ms, 60000);
	assert_int_equal(u->balance_interval_ms, 60000);
	assert_int_equal(u->low_balance, 0);
	assert_string_equal(cfg->route_mode, "ordered");
	assert_string_equal(cfg->same_link, "off");
	assert_int_equal(cfg->route_health, 50 * MONEY_SCALE);
	config_free(cfg);

	/* routing: per service over pricing's; unset is NULL */
	cfg = expect_ok(ALPHA "    low_balance: \"2.5\"\n"
	                      "    balance_interval: 30s\n"
	                      "pricing:\n  route_mode: cheapest\n"
	                      "  same_link: refuse\n  route_health: 40%\n"
	                      "services:\n  - id: 1\n    route: [\"alpha:1\"]\n"
	                      "    route_mode: ordered\n    same_link: off\n"
	                      "  - import: alpha\n    id_offset: 100\n");
	assert_int_equal(cfg->upstreams[0].low_balance, 250000000);
	assert_int_equal(cfg->upstreams[0].balance_interval_ms, 30000);
	assert_string_equal(cfg->route_mode, "cheapest");
	assert_string_equal(cfg->same_link, "refuse");
	assert_int_equal(cfg->route_health, 40 * MONEY_SCALE);
	assert_string_equal(cfg->services[0].route_mode, "ordered");
	assert_string_equal(cfg->services[0].same_link, "off");
	assert_null(cfg->services[1].route_mode);
	assert_null(cfg->services[1].same_link);
	config_free(cfg);
	expect_error(ALPHA "services:\n  - import: alpha\n"
	                   "    same_link: always\n",
	             "t.yaml:7:16: services[0].same_link: must be off, "
	             "refuse or reroute");
	expect_error("pricing:\n  route_mode: fast\n",
	             "t.yaml:2:15: pricing.route_mode: must be ordered or "
	             "cheapest");

	/* an import without id_offset starts at 0; admin: null is off */
	cfg = expect_ok(ALPHA "services:\n  - import: alpha\n"
	                      "listen:\n  admin:\n");
	assert_int_equal(cfg->services[0].id_offset, 0);
	assert_int_equal(cfg->services[0].ncategories, 0);
	assert_null(cfg->listen_admin);
	config_free(cfg);

	config_free(NULL);
	cfg_errors_clear(NULL);
}

static void
test_reference_config(void **state)
{
	struct cfg_errors e = {NULL, 0};
	struct config *cfg;

	setenv("ALPHA_KEY", "alpha-secret", 1);
	setenv("BETA_KEY", "beta-secret", 1);
	cfg = config_load("conf/panelmux.yaml", &e);
	if (cfg == NULL)
		dump(&e);
	assert_non_null(cfg);
	check_defaults(cfg);
	assert_int_equal(cfg->ncurrencies, 1);
	assert_string_equal(cfg->currencies[0].code, "EUR");
	assert_int_equal(cfg->currencies[0].value, M(108000000));
	assert_int_equal(cfg->nupstreams, 2);
	assert_string_equal(cfg->upstreams[0].name, "alpha");
	assert_string_equal(cfg->upstreams[0].url,
	                    "http://127.0.0.1:18081/api/v2");
	assert_string_equal(cfg->upstreams[0].key, "alpha-secret");
	assert_int_equal(cfg->upstreams[0].key_literal, 0);
	assert_string_equal(cfg->upstreams[0].currency, "USD");
	assert_string_equal(cfg->upstreams[1].name, "beta");
	assert_string_equal(cfg->upstreams[1].url,
	                    "http://127.0.0.1:18082/api/v2");
	assert_string_equal(cfg->upstreams[1].key, "beta-secret");
	assert_string_equal(cfg->upstreams[1].currency, "EUR");
	assert_int_equal(cfg->nservices, 2);
	assert_int_equal(cfg->services[0].kind, CFG_SERVICE_ROUTE);
	assert_int_equal(cfg->services[0].id, 1);
	assert_int_equal(cfg->services[0].nroutes, 2);
	assert_int_equal(cfg->services[0].routes[0].upstream, 0);
	assert_int_equal(cfg->services[0].routes[0].service, 1);
	assert_int_equal(cfg->services[0].routes[1].upstream, 1);
	assert_int_equal(cfg->services[0].routes[1].service, 1);
	assert_int_equal(cfg->services[1].kind, CFG_SERVICE_IMPORT);
	assert_int_equal(cfg->services[1].import_upstream, 0);
	assert_int_equal(cfg->services[1].id_offset, 100000);
	config_free(cfg);

	/* without the keys in the environment it says which are missing */
	unsetenv("ALPHA_KEY");
	unsetenv("BETA_KEY");
	assert_null(config_load("conf/panelmux.yaml", &e));
	assert_int_equal(e.n, 2);
	assert_true(strstr(e.msgs[0], ": upstreams[0].key: environment "
	                              "variable ALPHA_KEY is not set") != NULL);
	assert_true(strstr(e.msgs[1], "BETA_KEY") != NULL);
	cfg_errors_clear(&e);
}

/* Broken files, one kind each. */

static void
test_unknown_key(void **state)
{
	expect_error("currency: USD\nbogus: 1\n",
	             "t.yaml:2:1: bogus: unknown key");
	expect_error("limits:\n  max_body: 1MiB\n  max_bodies: 2\n",
	             "t.yaml:3:3: limits.max_bodies: unknown key");
	expect_error(ALPHA "    extra: {a: [1, 2]}\n",
	             "t.yaml:5:5: upstreams[0].extra: unknown key");
	expect_error("pricing:\n  markup: {percent: 5, bonus: 1}\n",
	             "t.yaml:2:24: pricing.markup.bonus: unknown key");
	expect_error("? [a]\n: 1\n",
	             "t.yaml:1:3: a key must be a plain string");
}

static void
test_wrong_type(void **state)
{
	expect_error("limits: 5\n",
	             "t.yaml:1:9: limits: expected a mapping, got a scalar");
	expect_error(
	    "upstreams: {name: a}\n",
	    "t.yaml:1:12: upstreams: expected a sequence, got a mapping");
	expect_error(
	    ALPHA "    max_batch: [1]\n",
	    "t.yaml:5:16: upstreams[0].max_batch: expected an integer, got a "
	    "sequence");
	expect_error(
	    ALPHA "    max_batch: ten\n",
	    "t.yaml:5:16: upstreams[0].max_batch: expected an integer, not "
	    "\"ten\"");
	expect_error("currency: {a: 1}\n",
	             "t.yaml:1:11: currency: expected a string, got a mapping");
	expect_error(
	    "services:\n  - 5\n",
	    "t.yaml:2:5: services[0]: expected a mapping, got a scalar");
	expect_error(
	    "listen:\n  paths: [\"/a\", [\"/b\"]]\n",
	    "t.yaml:2:17: listen.paths[1]: expected a string, got a sequence");
	expect_error(
	    "- 1\n",
	    "t.yaml:1:1: expected a mapping at the top level, got a sequence");
	expect_error("currency:\n", "t.yaml:1:10: currency: missing value");
	expect_error("currency: \"US\\0D\"\n",
	             "t.yaml:1:11: currency: must not contain a NUL byte");
	expect_error("currency: usd\n", "t.yaml:1:11: currency: a currency "
	                                "code is 3 to 8 capital letters");
	expect_error("log:\n  level: loud\n", "t.yaml:2:10: log.level: bad log "
	                                      "level \"loud\"");
	expect_error("listen:\n  paths: []\n",
	             "t.yaml:2:10: listen.paths: needs at least 1 entry");
	expect_error("listen:\n  paths: api\n", "t.yaml:2:10: listen.paths: a "
	                                        "path starts with /");
}

static void
test_out_of_range(void **state)
{
	expect_error("money:\n  decimals: 9\n",
	             "t.yaml:2:13: money.decimals: 9 is out of range (0..8)");
	expect_error(ALPHA "    max_batch: 101\n",
	             "t.yaml:5:16: upstreams[0].max_batch: 101 is out of range "
	             "(1..100)");
	expect_error(
	    ALPHA "    max_connections: 0\n",
	    "t.yaml:5:22: upstreams[0].max_connections: 0 is out of range "
	    "(1..256)");
	expect_error(
	    ALPHA "    max_write_connections: 257\n",
	    "t.yaml:5:28: upstreams[0].max_write_connections: 257 is out of "
	    "range (1..256)");
	expect_error(
	    ALPHA "    max_write_connections: 0\n",
	    "t.yaml:5:28: upstreams[0].max_write_connections: 0 is out of "
	    "range (1..256)");
	expect_error(ALPHA "    connect_timeout: 50ms\n",
	             "t.yaml:5:22: upstreams[0].connect_timeout: 50ms is out of "
	             "range (100ms..10m)");
	expect_error(ALPHA "    http2: maybe\n",
	             "t.yaml:5:12: upstreams[0].http2: ");
	expect_error(
	    "limits:\n  max_body: 2GiB\n",
	    "t.yaml:2:13: limits.max_body: 2GiB is out of range (1KiB..1GiB)");
	expect_error("limits:\n  header_timeout: 1h\n",
	             "t.yaml:2:19: limits.header_timeout: 1h is out of range "
	             "(100ms..10m)");
	expect_error(
	    "limits:\n  max_connections: 99999999999999999999\n",
	    "t.yaml:2:20: limits.max_connections: 99999999999999999999 is out "
	    "of range (1..1000000)");
	expect_error("pricing:\n  round_to: 0\n",
	             "t.yaml:2:13: pricing.round_to: must be greater than 0");
	expect_error(
	    "pricing:\n  markup: {min_rate: -1}\n",
	    "t.yaml:2:22: pricing.markup.min_rate: must not be negative");
	expect_error("currencies:\n  EUR: 0\n",
	             "t.yaml:2:8: currencies.EUR: must be greater than 0");
	expect_error(ALPHA "services:\n  - id: 0\n    route: alpha:1\n",
	             "t.yaml:6:9: services[0].id: 0 is out of range "
	             "(1..9007199254740991)");
	expect_error(ALPHA "services:\n  - id: 1\n    route: alpha:1\n"
	                   "    min: 10\n    max: 5\n",
	             "t.yaml:9:5: services[0].max: is less than min");
}

static void
test_bad_duration(void **state)
{
	expect_error(ALPHA "    timeout: 15\n",
	             "t.yaml:5:14: upstreams[0].timeout: bad duration \"15\" "
	             "(write e.g. "
	             "250ms, 10s, 10m, 1h, 1d)");
	expect_error(
	    ALPHA "    timeout: 1.5s\n",
	    "t.yaml:5:14: upstreams[0].timeout: bad duration \"1.5s\"");
	expect_error("orders:\n  reply_wait: -1s\n",
	             "t.yaml:2:15: orders.reply_wait: bad duration \"-1s\"");
}

static void
test_bad_size(void **state)
{
	expect_error(
	    "limits:\n  max_body: 1MB\n",
	    "t.yaml:2:13: limits.max_body: bad size \"1MB\" (write e.g. 512, "
	    "16KiB, 1MiB, 1GiB)");
	expect_error("limits:\n  max_headers: 1 KiB\n",
	             "t.yaml:2:16: limits.max_headers: bad size \"1 KiB\"");
}

static void
test_bad_rate(void **state)
{
	expect_error(
	    "limits:\n  rate_per_key: 50/w\n",
	    "t.yaml:2:17: limits.rate_per_key: bad rate \"50/w\" (write e.g. "
	    "50/s, 3000/m, 100/h)");
	expect_error("limits:\n  rate_per_ip: 50\n",
	             "t.yaml:2:16: limits.rate_per_ip: bad rate \"50\"");
	expect_error(
	    "limits:\n  read_rate_per_key: fast\n",
	    "t.yaml:2:22: limits.read_rate_per_key: bad rate \"fast\"");
}

/* Reads and writes have a bucket each; a config that gives only
 * rate_per_key (written before the split) limits reads by it too. */
static void
test_read_rate(void **state)
{
	struct config *cfg;

	cfg = expect_ok("limits:\n  read_rate_per_key: 10/s\n");
	assert_int_equal(cfg->read_rate_per_key.count, 10);
	assert_int_equal(cfg->rate_per_key.count, 50);
	config_free(cfg);
	cfg = expect_ok("limits:\n  read_rate_per_key: 600/m\n"
	                "  rate_per_key: 5/s\n");
	assert_int_equal(cfg->read_rate_per_key.count, 600);
	assert_int_equal(cfg->read_rate_per_key.per_ms, 60000);
	assert_int_equal(cfg->rate_per_key.count, 5);
	assert_int_equal(cfg->rate_per_key.per_ms, 1000);
	config_free(cfg);
	cfg = expect_ok("limits:\n  rate_per_key: 20/s\n");
	assert_int_equal(cfg->read_rate_per_key.count, 20);
	assert_int_equal(cfg->read_rate_per_key.per_ms, 1000);
	config_free(cfg);
	cfg = expect_ok("limits:\n  rate_per_key: 0/s\n");
	assert_int_equal(cfg->read_rate_per_key.count, 0);
	assert_int_equal(cfg->rate_per_key.count, 0);
	config_free(cfg);
	cfg = expect_ok("limits:\n  rate_per_key: 0/s\n"
	                "  read_rate_per_key: 0/s\n"
	                "  rate_per_ip: 0/s\n");
	assert_int_equal(cfg->read_rate_per_key.count, 0);
	config_free(cfg);
	/* another limits key does not count as giving rate_per_key */
	cfg = expect_ok("limits:\n  max_connections: 5\n");
	assert_int_equal(cfg->read_rate_per_key.count, 1000);
	config_free(cfg);
}

static void
test_bad_money(void **state)
{
	expect_error("currencies:\n  EUR: 1.0x\n",
	             "t.yaml:2:8: currencies.EUR: bad amount \"1.0x\"");
	expect_error("currencies:\n  EUR: 1e3\n",
	             "t.yaml:2:8: currencies.EUR: bad amount \"1e3\"");
	expect_error(
	    "pricing:\n  round_to: 0.000000001\n",
	    "t.yaml:2:13: pricing.round_to: bad amount \"0.000000001\" (a "
	    "decimal number with at most 8 decimals)");
}

static void
test_bad_markup(void **state)
{
	expect_error(
	    "pricing:\n  markup: 25 percent\n",
	    "t.yaml:2:11: pricing.markup: bad markup \"25 percent\" (write "
	    "\"25%\", \"0.10\" or {percent, fixed, min_rate})");
	expect_error("pricing:\n  markup: \"-5%\"\n",
	             "t.yaml:2:11: pricing.markup: bad markup \"-5%\"");
	expect_error(
	    "pricing:\n  markup: [25%]\n",
	    "t.yaml:2:11: pricing.markup: expected a markup, got a sequence");
	expect_error(
	    "pricing:\n  markup: {percent: 25x}\n",
	    "t.yaml:2:21: pricing.markup.percent: bad percentage \"25x\"");
}

static void
test_bad_hostport(void **state)
{
	static const char *const bad[] = {
	    "127.0.0.1",    "127.0.0.1:0", "127.0.0.1:65536", "::1:80",
	    "[::1]80",      "[::g]:80",    "host name:80",    ":80",
	    "256.1.1.1:80", "a..b:80",     "127.0.0.1:8o"};
	char yaml[128], want[160];

	expect_error("listen:\n  api: localhost\n",
	             "t.yaml:2:8: listen.api: bad address \"localhost\" (write "
	             "host:port or [IPv6]:port, port 1-65535)");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(yaml, sizeof(yaml), "listen:\n  admin: \"%s\"\n",
		         bad[i]);
		snprintf(want, sizeof(want),
		         "t.yaml:2:10: listen.admin: bad address \"%s\"",
		         bad[i]);
		expect_error(yaml, want);
	}
}

static void
test_duplicate_key(void **state)
{
	expect_error("currency: USD\nmoney: {}\ncurrency: EUR\n",
	             "t.yaml:3:1: currency: duplicate key (first at line 1)");
	expect_error(
	    ALPHA "    url: https://b.example/\n",
	    "t.yaml:5:5: upstreams[0].url: duplicate key (first at line 3)");
	expect_error(
	    "currencies:\n  EUR: 1\n  GBP: 2\n  EUR: 1\n",
	    "t.yaml:4:3: currencies.EUR: duplicate key (first at line 2)");
}

static void
test_duplicate_upstream(void **state)
{
	expect_error(
	    ALPHA "  - name: alpha\n    url: https://x.example/\n"
	          "    key: k2\n",
	    "t.yaml:5:11: upstreams[1].name: duplicate upstream name \"alpha\" "
	    "(first at line 2)");
}

static void
test_duplicate_service_id(void **state)
{
	expect_error(
	    ALPHA "services:\n"
	          "  - id: 3\n    route: alpha:1\n"
	          "  - import: alpha\n    id_offset: 3\n"
	          "  - id: 3\n    route: alpha:2\n",
	    "t.yaml:10:9: services[2].id: duplicate service id 3 (first at "
	    "line 6)");
}

static void
test_unknown_route_upstream(void **state)
{
	/* services before upstreams: resolved after the whole file */
	static const char yaml[] = "services:\n"
	                           "  - id: 1\n"
	                           "    route: [\"alpha:1\", \"gamma:2\"]\n"
	                           "  - import: delta\n" ALPHA;

	expect_errors(
	    yaml,
	    (const char *const[]){
	        "t.yaml:3:24: services[0].route[1]: unknown upstream \"gamma\"",
	        "t.yaml:4:13: services[1].import: unknown upstream \"delta\"",
	    },
	    2);
}

static void
test_bad_route(void **state)
{
	static const char *const bad[] = {"alpha",      "alpha:",  ":1",
	                                  "alpha:x",    "alpha:0", "al pha:1",
	                                  "alpha:1:2x", "alpha:-1"};
	char yaml[256], want[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(yaml, sizeof(yaml),
		         ALPHA "services:\n  - id: 1\n    route: \"%s\"\n",
		         bad[i]);
		snprintf(
		    want, sizeof(want),
		    "t.yaml:7:12: services[0].route: bad route \"%s\" (write "
		    "upstream:serviceid)",
		    bad[i]);
		expect_error(yaml, want);
	}
	expect_error(ALPHA "services:\n  - id: 1\n    route: []\n",
	             "t.yaml:7:12: services[0].route: needs at least 1 entry");
}

static void
test_service_shape(void **state)
{
	expect_error(
	    ALPHA "services:\n  - name: x\n",
	    "t.yaml:6:5: services[0]: a service needs id and route, or import");
	expect_error(ALPHA "services:\n  - id: 1\n",
	             "t.yaml:6:5: services[0]: missing required key \"route\"");
	expect_error(ALPHA "services:\n  - route: alpha:1\n",
	             "t.yaml:6:5: services[0]: missing required key \"id\"");
	expect_errors(
	    ALPHA "services:\n  - import: alpha\n    id: 1\n"
	          "    route: alpha:1\n",
	    (const char *const[]){
	        "t.yaml:7:5: services[0].id: not allowed with import",
	        "t.yaml:8:5: services[0].route: not allowed with import",
	    },
	    2);
	expect_error(
	    ALPHA "services:\n  - id: 1\n    route: alpha:1\n"
	          "    id_offset: 5\n",
	    "t.yaml:8:5: services[0].id_offset: only allowed with import");
}

static void
test_upstream_shape(void **state)
{
	expect_errors(
	    "upstreams:\n  - timeout: 1s\n",
	    (const char *const[]){
	        "t.yaml:2:5: upstreams[0]: missing required key \"name\"",
	        "t.yaml:2:5: upstreams[0]: missing required key \"url\"",
	        "t.yaml:2:5: upstreams[0]: missing required key \"key\" (or "
	        "\"key_file\")",
	    },
	    3);
	expect_errors(
	    ALPHA "    key_file: /dev/null\n",
	    (const char *const[]){
	        "t.yaml:5:5: upstreams[0].key_file: give either key or "
	        "key_file, not both",
	        "t.yaml:5:15: upstreams[0].key_file: /dev/null: not a regular "
	        "file",
	    },
	    2);
	expect_error("upstreams:\n  - name: \"al/pha\"\n    url: https://a/\n"
	             "    key: k\n",
	             "t.yaml:2:11: upstreams[0].name: must be 1 to 32 of A-Z "
	             "a-z 0-9 _ -");
}

static void
test_alias_anchor(void **state)
{
	expect_error(
	    "money: {decimals: 2}\nlimits:\n  max_connections: &n 5\n",
	    "t.yaml:3:20: limits.max_connections: YAML anchors are not "
	    "supported");
	expect_error("limits: &l\n  max_connections: 5\n",
	             "t.yaml:1:9: limits: YAML anchors are not supported");
	expect_errors(
	    "limits:\n  max_connections: 5\n  max_body: *n\n",
	    (const char *const[]){
	        "t.yaml:3:13: limits.max_body: YAML aliases are not supported",
	    },
	    1);
}

static void
test_syntax_error(void **state)
{
	expect_error(
	    "limits:\n\tmax_body: 1MiB\n",
	    "t.yaml:2:1: syntax error: found character that cannot start any "
	    "token (while scanning for the next token at line 2)");
	expect_error(
	    "limits:\n  max_body: 1MiB\n max_headers: 2KiB\n",
	    "t.yaml:3:2: syntax error: did not find expected key (while "
	    "parsing a block mapping at line 1)");
	/* what was read before the error is reported too */
	expect_errors(
	    "currency: USD\nlisten: api: x\n",
	    (const char *const[]){
	        "t.yaml:2:9: listen: expected a mapping, got a scalar",
	        "t.yaml:2:12: syntax error: mapping values are not allowed in "
	        "this context",
	    },
	    2);
	expect_error(
	    "listen:\n  api: \"127.0.0.1:1\n",
	    "t.yaml:3:1: syntax error: found unexpected end of stream (while "
	    "scanning a quoted scalar at line 2)");
	expect_error("currency: \xff\n",
	             "t.yaml:1:11: invalid input: invalid leading UTF-8 octet");
	expect_error("currency: USD\n---\ncurrency: EUR\n",
	             "t.yaml:2:1: only one YAML document is allowed");
}

static void
test_env(void **state)
{
	struct config *cfg;

	unsetenv("CFGTEST_UNSET");
	expect_error(
	    "upstreams:\n  - name: a\n    url: https://a.example/\n"
	    "    key: \"${CFGTEST_UNSET}\"\n",
	    "t.yaml:4:10: upstreams[0].key: environment variable CFGTEST_UNSET "
	    "is not set");
	expect_error(
	    "store:\n  postgres: \"password=${CFGTEST_UNSET}\"\n",
	    "t.yaml:2:13: store.postgres: environment variable CFGTEST_UNSET "
	    "is not set");
	expect_error(
	    "upstreams:\n  - name: a\n    url: \"${CFGTEST_UNSET}\"\n"
	    "    key: k\n",
	    "t.yaml:3:10: upstreams[0].url: environment variable CFGTEST_UNSET "
	    "is not set");
	expect_error("upstreams:\n  - name: a\n    url: https://a.example/\n"
	             "    key: \"${CFGTEST_UNSET\"\n",
	             "t.yaml:4:10: upstreams[0].key: unterminated ${");
	expect_error(
	    "upstreams:\n  - name: a\n    url: https://a.example/\n"
	    "    key: \"${9X}\"\n",
	    "t.yaml:4:10: upstreams[0].key: bad variable name in ${...}");

	setenv("CFGTEST_HOST", "h.example", 1);
	setenv("CFGTEST_EMPTY", "", 1);
	cfg = expect_ok("upstreams:\n  - name: a\n"
	                "    url: \"https://${CFGTEST_HOST}/api/v2\"\n"
	                "    key: \"$x${CFGTEST_HOST}${CFGTEST_HOST}$\"\n");
	assert_string_equal(cfg->upstreams[0].url, "https://h.example/api/v2");
	assert_string_equal(cfg->upstreams[0].key, "$xh.exampleh.example$");
	assert_int_equal(cfg->upstreams[0].key_literal, 0);
	config_free(cfg);
	expect_error("upstreams:\n  - name: a\n    url: https://a.example/\n"
	             "    key: \"${CFGTEST_EMPTY}\"\n",
	             "t.yaml:4:10: upstreams[0].key: must not be empty");
	unsetenv("CFGTEST_HOST");
	unsetenv("CFGTEST_EMPTY");
}

static void
test_url_scheme(void **state)
{
	static const char *const ok[] = {"https://a.example",
	                                 "HTTPS://a:443/x",
	                                 "http://127.0.0.1:18081/api/v2",
	                                 "http://127.200.0.1/",
	                                 "http://localhost:1/",
	                                 "http://LOCALHOST/",
	                                 "http://[::1]:8080/v2",
	                                 "https://[2001:db8::1]/api"};
	static const char *const bad[][2] = {
	    {"ftp://a.example/", "must start with https://"},
	    {"a.example/api", "must start with https://"},
	    {"https://", "has a bad host"},
	    {"https://u:p@a.example/", "must not hold user:password@"},
	    {"https://a.example:0/", "has a bad port"},
	    {"https://a.example:99999/", "has a bad port"},
	    {"https://a .example/", "must not contain spaces"},
	    {"https://[::1/", "has a bad host"},
	    {"http://10.0.0.1/api/v2", "http:// is only allowed for loopback "
	                               "hosts (127.0.0.0/8, ::1, localhost); "
	                               "use https://"},
	    {"http://alpha.example/", "http:// is only allowed"},
	    {"http://128.0.0.1/", "http:// is only allowed"},
	    {"http://[::2]/", "http:// is only allowed"},
	    {"http://localhost.example/", "http:// is only allowed"},
	};
	char yaml[256], want[256];
	struct config *cfg;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(
		    yaml, sizeof(yaml),
		    "upstreams:\n  - name: a\n    url: \"%s\"\n    key: k\n",
		    ok[i]);
		cfg = expect_ok(yaml);
		assert_string_equal(cfg->upstreams[0].url, ok[i]);
		config_free(cfg);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(
		    yaml, sizeof(yaml),
		    "upstreams:\n  - name: a\n    url: \"%s\"\n    key: k\n",
		    bad[i][0]);
		snprintf(want, sizeof(want),
		         "t.yaml:3:10: upstreams[0].url: %s", bad[i][1]);
		expect_error(yaml, want);
	}
}

static void
test_upstream_currency(void **state)
{
	struct config *cfg;

	expect_error(
	    "currencies:\n  EUR: 1.08\n" ALPHA "    currency: GBP\n",
	    "t.yaml:7:15: upstreams[0].currency: unknown currency \"GBP\" "
	    "(neither the panel currency USD nor listed in currencies)");
	/* the panel currency and listed ones are fine, in any order */
	cfg = expect_ok(ALPHA "    currency: EUR\ncurrencies:\n  EUR: 1.08\n"
	                      "currency: GBP\n");
	assert_string_equal(cfg->upstreams[0].currency, "EUR");
	config_free(cfg);
	expect_error("currencies:\n  USD: 1\n",
	             "t.yaml:2:3: currencies.USD: is the panel currency");
	expect_error(
	    "currencies:\n  EURO1: 1\n",
	    "t.yaml:2:3: currencies.EURO1: a currency code is 3 to 8 capital "
	    "letters");
}

static void
test_both_stores(void **state)
{
	struct config *cfg;

	expect_error(
	    "store:\n  sqlite: ./x.db\n  postgres: \"dbname=x\"\n",
	    "t.yaml:3:3: store.postgres: give either sqlite or postgres, not "
	    "both");
	cfg = expect_ok("store:\n  postgres: \"dbname=x\"\n");
	assert_null(cfg->store_sqlite);
	assert_string_equal(cfg->store_postgres, "dbname=x");
	config_free(cfg);
	expect_error("store:\n  sqlite: \"\"\n",
	             "t.yaml:2:11: store.sqlite: must not be empty");
}

static void
test_too_deep(void **state)
{
	char yaml[128];
	size_t n = 0;

	n += (size_t)snprintf(yaml + n, sizeof(yaml) - n, "x: ");
	for (int i = 0; i < 20; i++)
		yaml[n++] = '[';
	for (int i = 0; i < 20; i++)
		yaml[n++] = ']';
	yaml[n++] = '\n';
	yaml[n] = '\0';
	/* the top mapping is level 1: the 16th '[' is level 17 */
	expect_errors(yaml,
	              (const char *const[]){
	                  "t.yaml:1:1: x: unknown key",
	                  "t.yaml:1:19: x: nested too deeply (max 16 levels)"},
	              2);
}

static void
test_too_big(void **state)
{
	size_t len = CONFIG_MAX_FILE;
	char *buf = malloc(len + 2);
	struct cfg_errors e = {NULL, 0};
	struct config *cfg;

	assert_non_null(buf);
	memset(buf, '#', len + 1);
	for (size_t i = 79; i < len; i += 80)
		buf[i] = '\n';
	buf[len - 1] = '\n';
	/* exactly the limit is fine */
	cfg = config_load_buffer("t.yaml", buf, len, &e);
	assert_non_null(cfg);
	config_free(cfg);
	/* one byte more is not */
	assert_null(config_load_buffer("t.yaml", buf, len + 1, &e));
	assert_int_equal(e.n, 1);
	assert_string_equal(e.msgs[0],
	                    "t.yaml: file too large (max 1048576 bytes)");
	cfg_errors_clear(&e);
	free(buf);
}

static void
test_several_errors(void **state)
{
	static const char yaml[] = "listen:\n"
	                           "  api: nowhere\n"
	                           "  bogus: 1\n"
	                           "limits:\n"
	                           "  max_body: 10x\n"
	                           "  max_body: 1MiB\n"
	                           "upstreams:\n"
	                           "  - name: alpha\n"
	                           "    url: http://10.0.0.1/\n"
	                           "    key: k\n"
	                           "services:\n"
	                           "  - id: 1\n"
	                           "    route: [\"alpha:1\", \"beta:1\"]\n"
	                           "store: {sqlite: a.db, postgres: b}\n";

	expect_errors(
	    yaml,
	    (const char *const[]){
	        "t.yaml:2:8: listen.api: bad address \"nowhere\"",
	        "t.yaml:3:3: listen.bogus: unknown key",
	        "t.yaml:5:13: limits.max_body: bad size \"10x\"",
	        "t.yaml:6:3: limits.max_body: duplicate key (first at line 5)",
	        "t.yaml:9:10: upstreams[0].url: http:// is only allowed",
	        "t.yaml:13:24: services[0].route[1]: unknown upstream \"beta\"",
	        "t.yaml:14:23: store.postgres: give either sqlite or postgres",
	    },
	    7);
}

static void
test_error_cap(void **state)
{
	struct cfg_errors e = {NULL, 0};
	char *yaml = malloc(200 * 16);
	size_t n = 0;

	assert_non_null(yaml);
	for (int i = 0; i < 200; i++)
		n += (size_t)sprintf(yaml + n, "bogus%d: 1\n", i);
	assert_null(config_load_buffer("t.yaml", yaml, n, &e));
	assert_int_equal(e.n, CONFIG_MAX_ERRORS);
	assert_string_equal(e.msgs[0], "t.yaml:1:1: bogus0: unknown key");
	assert_string_equal(e.msgs[CONFIG_MAX_ERRORS - 2],
	                    "t.yaml:99:1: bogus98: unknown key");
	assert_string_equal(e.msgs[CONFIG_MAX_ERRORS - 1],
	                    "t.yaml: too many errors, stopping after 99");
	/* a NULL errs only discards them */
	assert_null(config_load_buffer("t.yaml", yaml, n, NULL));
	cfg_errors_clear(&e);
	free(yaml);
}

/* Real files in a temporary directory. */

static char tmpdir[64];

static void
write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int
setup_tmp(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_config.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown_tmp(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_key_file(void **state)
{
	struct cfg_errors e = {NULL, 0};
	char path[256], want[512];
	struct config *cfg;

	unsetenv("CREDENTIALS_DIRECTORY");
	write_file("alpha.key", "file-secret\r\n\n");
	snprintf(path, sizeof(path), "%s/creds", tmpdir);
	assert_int_equal(mkdir(path, 0700), 0);
	write_file("creds/alpha.key", "cred-secret\n");
	write_file("empty.key", "\n");
	write_file("p.yaml", "upstreams:\n  - name: alpha\n"
	                     "    url: https://a.example/\n"
	                     "    key_file: alpha.key\n");

	/* relative to the config file's directory */
	snprintf(path, sizeof(path), "%s/p.yaml", tmpdir);
	cfg = config_load(path, &e);
	assert_non_null(cfg);
	assert_string_equal(cfg->path, path);
	assert_string_equal(cfg->upstreams[0].key, "file-secret");
	assert_int_equal(cfg->upstreams[0].key_literal, 0);
	config_free(cfg);

	/* relative to $CREDENTIALS_DIRECTORY (systemd LoadCredential=) */
	snprintf(path, sizeof(path), "%s/creds", tmpdir);
	setenv("CREDENTIALS_DIRECTORY", path, 1);
	snprintf(path, sizeof(path), "%s/p.yaml", tmpdir);
	cfg = config_load(path, &e);
	assert_non_null(cfg);
	assert_string_equal(cfg->upstreams[0].key, "cred-secret");
	config_free(cfg);
	unsetenv("CREDENTIALS_DIRECTORY");

	/* absolute, missing, empty, not a regular file */
	snprintf(path, sizeof(path),
	         "upstreams:\n  - name: alpha\n    url: https://a.example/\n"
	         "    key_file: %s/creds/alpha.key\n",
	         tmpdir);
	cfg = expect_ok(path);
	assert_string_equal(cfg->upstreams[0].key, "cred-secret");
	config_free(cfg);
	write_file("q.yaml", "upstreams:\n  - name: alpha\n"
	                     "    url: https://a.example/\n"
	                     "    key_file: missing.key\n"
	                     "  - name: beta\n"
	                     "    url: https://b.example/\n"
	                     "    key_file: empty.key\n"
	                     "  - name: gamma\n"
	                     "    url: https://c.example/\n"
	                     "    key_file: creds\n");
	snprintf(path, sizeof(path), "%s/q.yaml", tmpdir);
	assert_null(config_load(path, &e));
	assert_int_equal(e.n, 3);
	snprintf(want, sizeof(want),
	         "%s:4:15: upstreams[0].key_file: "
	         "%s/missing.key: No such file or directory",
	         path, tmpdir);
	assert_string_equal(e.msgs[0], want);
	snprintf(want, sizeof(want),
	         "%s:7:15: upstreams[1].key_file: "
	         "%s/empty.key: the key file is empty",
	         path, tmpdir);
	assert_string_equal(e.msgs[1], want);
	snprintf(want, sizeof(want),
	         "%s:10:15: upstreams[2].key_file: "
	         "%s/creds: not a regular file",
	         path, tmpdir);
	assert_string_equal(e.msgs[2], want);
	cfg_errors_clear(&e);
}

/* ca_file: relative to the config file's directory, stored absolute;
 * a path that cannot be read is an error at the key, with the path. */
static void
test_ca_file(void **state)
{
	struct cfg_errors e = {NULL, 0};
	char path[256], want[512];
	struct config *cfg;

	write_file("ca.pem", "-----BEGIN CERTIFICATE-----\n");
	write_file("p.yaml", "upstreams:\n  - name: alpha\n"
	                     "    url: https://a.example/\n"
	                     "    key: k\n"
	                     "    ca_file: ca.pem\n"
	                     "    max_write_connections: 64\n"
	                     "    connect_timeout: 2s\n"
	                     "    http2: false\n");
	snprintf(path, sizeof(path), "%s/p.yaml", tmpdir);
	cfg = config_load(path, &e);
	assert_non_null(cfg);
	snprintf(want, sizeof(want), "%s/ca.pem", tmpdir);
	assert_string_equal(cfg->upstreams[0].ca_file, want);
	assert_int_equal(cfg->upstreams[0].max_write_connections, 64);
	assert_int_equal(cfg->upstreams[0].connect_timeout_ms, 2000);
	assert_int_equal(cfg->upstreams[0].http2, 0);
	config_free(cfg);

	/* absolute */
	snprintf(path, sizeof(path),
	         "upstreams:\n  - name: alpha\n    url: https://a.example/\n"
	         "    key: k\n    ca_file: %s/ca.pem\n",
	         tmpdir);
	cfg = expect_ok(path);
	assert_string_equal(cfg->upstreams[0].ca_file, want);
	config_free(cfg);

	/* missing, a directory */
	snprintf(path, sizeof(path), "%s/cas", tmpdir);
	assert_int_equal(mkdir(path, 0700), 0);
	write_file("q.yaml", "upstreams:\n  - name: alpha\n"
	                     "    url: https://a.example/\n"
	                     "    key: k\n"
	                     "    ca_file: missing.pem\n"
	                     "  - name: beta\n"
	                     "    url: https://b.example/\n"
	                     "    key: k\n"
	                     "    ca_file: cas\n");
	snprintf(path, sizeof(path), "%s/q.yaml", tmpdir);
	assert_null(config_load(path, &e));
	assert_int_equal(e.n, 2);
	snprintf(want, sizeof(want),
	         "%s:5:14: upstreams[0].ca_file: "
	         "%s/missing.pem: No such file or directory",
	         path, tmpdir);
	assert_string_equal(e.msgs[0], want);
	snprintf(want, sizeof(want),
	         "%s:9:14: upstreams[1].ca_file: %s/cas: not a regular file",
	         path, tmpdir);
	assert_string_equal(e.msgs[1], want);
	cfg_errors_clear(&e);
	if (geteuid() != 0) { /* root reads it anyway */
		snprintf(path, sizeof(path), "%s/ca.pem", tmpdir);
		assert_int_equal(chmod(path, 0), 0);
		snprintf(path, sizeof(path), "%s/p.yaml", tmpdir);
		assert_null(config_load(path, &e));
		assert_int_equal(e.n, 1);
		snprintf(want, sizeof(want),
		         "%s:5:14: upstreams[0].ca_file: %s/ca.pem: "
		         "Permission denied",
		         path, tmpdir);
		assert_string_equal(e.msgs[0], want);
		cfg_errors_clear(&e);
	}
}

static void
test_load_file_errors(void **state)
{
	struct cfg_errors e = {NULL, 0};
	char path[256], want[512];
	char *big;

	snprintf(path, sizeof(path), "%s/none.yaml", tmpdir);
	assert_null(config_load(path, &e));
	assert_int_equal(e.n, 1);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	assert_string_equal(e.msgs[0], want);

	assert_null(config_load(tmpdir, &e));
	assert_int_equal(e.n, 1);
	snprintf(want, sizeof(want), "%s: not a regular file", tmpdir);
	assert_string_equal(e.msgs[0], want);

	big = malloc(CONFIG_MAX_FILE + 2);
	assert_non_null(big);
	memset(big, '#', CONFIG_MAX_FILE + 1);
	big[CONFIG_MAX_FILE + 1] = '\0';
	write_file("big.yaml", big);
	free(big);
	snprintf(path, sizeof(path), "%s/big.yaml", tmpdir);
	assert_null(config_load(path, &e));
	assert_int_equal(e.n, 1);
	snprintf(want, sizeof(want), "%s: file too large (max 1048576 bytes)",
	         path);
	assert_string_equal(e.msgs[0], want);

	/* errors from a file carry its path */
	write_file("bad.yaml", "money:\n  decimals: 10\n");
	snprintf(path, sizeof(path), "%s/bad.yaml", tmpdir);
	assert_null(config_load(path, &e));
	assert_int_equal(e.n, 1);
	snprintf(want, sizeof(want),
	         "%s:2:13: money.decimals: 10 is out of "
	         "range (0..8)",
	         path);
	assert_string_equal(e.msgs[0], want);
	cfg_errors_clear(&e);
}

/* The value parsers shared with the CLI. */

static void
test_parsers(void **state)
{
	struct cfg_markup m;
	struct cfg_rate r;
	int64_t ms;
	size_t sz;
	char *host;
	int port;

	assert_int_equal(cfg_parse_duration("250ms", &ms), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(cfg_parse_duration("10m", &ms), 0);
	assert_int_equal(ms, 600000);
	assert_int_equal(cfg_parse_duration("1d", &ms), 0);
	assert_int_equal(ms, 86400000);
	assert_int_equal(cfg_parse_duration("0", &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(cfg_parse_duration("10", &ms), -1);
	assert_int_equal(cfg_parse_duration("s", &ms), -1);
	assert_int_equal(cfg_parse_duration("99999999999999999d", &ms), -1);

	assert_int_equal(cfg_parse_size("512", &sz), 0);
	assert_int_equal(sz, 512);
	assert_int_equal(cfg_parse_size("16KiB", &sz), 0);
	assert_int_equal(sz, 16384);
	assert_int_equal(cfg_parse_size("1GiB", &sz), 0);
	assert_int_equal(sz, 1073741824);
	assert_int_equal(cfg_parse_size("1KB", &sz), -1);
	assert_int_equal(cfg_parse_size("-1", &sz), -1);

	assert_int_equal(cfg_parse_rate("50/s", &r), 0);
	assert_int_equal(r.count, 50);
	assert_int_equal(r.per_ms, 1000);
	assert_int_equal(cfg_parse_rate("100/h", &r), 0);
	assert_int_equal(r.per_ms, 3600000);
	assert_int_equal(cfg_parse_rate("0/s", &r), 0);
	assert_int_equal(r.count, 0);
	assert_int_equal(cfg_parse_rate("4294967296/s", &r), -1);
	assert_int_equal(cfg_parse_rate("5/", &r), -1);

	assert_int_equal(cfg_parse_markup_string("25%", &m), 0);
	assert_int_equal(m.set, 1);
	assert_int_equal(m.percent, M(2500000000));
	assert_int_equal(m.fixed, 0);
	assert_int_equal(cfg_parse_markup_string("0.10", &m), 0);
	assert_int_equal(m.percent, 0);
	assert_int_equal(m.fixed, M(10000000));
	assert_int_equal(cfg_parse_markup_string("%", &m), -1);
	assert_int_equal(cfg_parse_markup_string("25%%", &m), -1);

	assert_int_equal(cfg_parse_hostport("[::1]:8080", &host, &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 8080);
	free(host);
	assert_int_equal(cfg_parse_hostport("db-1.example:5432", &host, &port),
	                 0);
	assert_string_equal(host, "db-1.example");
	assert_int_equal(port, 5432);
	free(host);
	assert_int_equal(cfg_parse_hostport("0.0.0.0:65535", NULL, NULL), 0);
	assert_int_equal(cfg_parse_hostport("[::]:1", NULL, NULL), 0);
	assert_int_equal(cfg_parse_hostport("x:123456", NULL, NULL), -1);
}

/* config_reload_check: the base config, then one change per rule. */
#define RELOAD_UP(name)                                                        \
	"  - name: " name "\n"                                                 \
	"    url: https://" name ".example/api/v2\n"                           \
	"    key: k\n"
#define RELOAD_BASE                                                            \
	"listen:\n"                                                            \
	"  api: 127.0.0.1:8080\n"                                              \
	"  admin: 127.0.0.1:9090\n"                                            \
	"currency: USD\n"                                                      \
	"money:\n"                                                             \
	"  decimals: 5\n"                                                      \
	"store:\n"                                                             \
	"  sqlite: ./var/a.db\n"

/* 0 and no message if NEW may replace OLD, else -1 and WANT. */
static void
expect_reload(const char *old, const char *new, const char *want)
{
	struct config *a = expect_ok(old), *b = expect_ok(new);
	char why[128] = "";
	int rc = config_reload_check(a, b, why, sizeof(why));

	if (want == NULL) {
		assert_int_equal(rc, 0);
		assert_string_equal(why, "");
	} else {
		assert_int_equal(rc, -1);
		assert_string_equal(why, want);
		/* WHY is optional. */
		assert_int_equal(config_reload_check(a, b, NULL, 0), -1);
	}
	config_free(a);
	config_free(b);
}

static void
test_reload_allowed(void **state)
{
	const char *base = RELOAD_BASE "upstreams:\n" RELOAD_UP("alpha");

	expect_reload(base, base, NULL);
	/* What a reload applies: pricing, limits, upstream settings,
	 * services, log level. */
	expect_reload(base,
	              RELOAD_BASE "pricing:\n"
	                          "  markup: 40%\n"
	                          "limits:\n"
	                          "  rate_per_key: 5/s\n"
	                          "log:\n"
	                          "  level: debug\n"
	                          "upstreams:\n"
	                          "  - name: alpha\n"
	                          "    url: https://other.example/api/v2\n"
	                          "    key: k2\n"
	                          "    timeout: 30s\n"
	                          "services:\n"
	                          "  - id: 1\n"
	                          "    route: alpha:7\n",
	              NULL);
	/* Empty files: every default on both sides. */
	expect_reload("", "", NULL);
}

static void
test_reload_listen(void **state)
{
	expect_reload(RELOAD_BASE,
	              "listen:\n"
	              "  api: 127.0.0.1:8081\n"
	              "  admin: 127.0.0.1:9090\n"
	              "store:\n"
	              "  sqlite: ./var/a.db\n",
	              "listen.api changed");
	expect_reload(RELOAD_BASE,
	              "listen:\n"
	              "  api: 127.0.0.1:8080\n"
	              "  admin: 127.0.0.1:9091\n"
	              "store:\n"
	              "  sqlite: ./var/a.db\n",
	              "listen.admin changed");
	/* Turning the admin listener off, or on, is a change too. */
	expect_reload(RELOAD_BASE,
	              "listen:\n"
	              "  admin: \"\"\n"
	              "store:\n"
	              "  sqlite: ./var/a.db\n",
	              "listen.admin changed");
	expect_reload("listen:\n"
	              "  admin: null\n"
	              "store:\n"
	              "  sqlite: ./var/a.db\n",
	              RELOAD_BASE, "listen.admin changed");
}

static void
test_reload_money(void **state)
{
	expect_reload(RELOAD_BASE, RELOAD_BASE "currencies:\n  EUR: 1.1\n",
	              NULL);
	expect_reload("currency: USD\n", "currency: EUR\n",
	              "the panel currency changed");
	expect_reload("money:\n  decimals: 5\n", "money:\n  decimals: 4\n",
	              "money.decimals changed");
	expect_reload("", "money:\n  decimals: 2\n", "money.decimals changed");
}

static void
test_reload_store(void **state)
{
	expect_reload("store:\n  sqlite: ./var/a.db\n",
	              "store:\n  sqlite: ./var/b.db\n", "the store changed");
	/* The default is ./var/panelmux.db. */
	expect_reload("", "store:\n  sqlite: ./var/panelmux.db\n", NULL);
	expect_reload("store:\n  sqlite: ./var/a.db\n",
	              "store:\n  postgres: postgresql://localhost/pmx\n",
	              "the store changed");
	expect_reload("store:\n  postgres: postgresql://localhost/pmx\n",
	              "store:\n  postgres: postgresql://localhost/other\n",
	              "the store changed");
}

static void
test_reload_upstreams(void **state)
{
	const char *one = "upstreams:\n" RELOAD_UP("alpha");
	const char *two = "upstreams:\n" RELOAD_UP("alpha") RELOAD_UP("beta");

	expect_reload(one, two, "upstreams were added or removed");
	expect_reload(two, one, "upstreams were added or removed");
	expect_reload(one, "", "upstreams were added or removed");
	expect_reload(one, "upstreams:\n" RELOAD_UP("gamma"),
	              "upstreams were renamed or reordered");
	expect_reload(two, "upstreams:\n" RELOAD_UP("beta") RELOAD_UP("alpha"),
	              "upstreams were renamed or reordered");
}

/* A loaded config holds one reference; it is freed with the last (ASan and
 * valgrind see a double free or a leak). */
static void
test_refs(void **state)
{
	struct config *cfg = expect_ok(ALPHA);
	const struct config *held;

	assert_int_equal(cfg->refs, 1);
	held = config_ref(cfg);
	assert_ptr_equal(held, cfg);
	assert_int_equal(cfg->refs, 2);
	config_free(cfg); /* the loader's reference */
	assert_int_equal(held->refs, 1);
	assert_string_equal(held->upstreams[0].name, "alpha");
	config_ref(held);
	config_unref(held);
	config_unref(held); /* the last: freed */
	config_unref(NULL);
	assert_null(config_ref(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full),
	    cmocka_unit_test(test_refs),
	    cmocka_unit_test(test_reload_allowed),
	    cmocka_unit_test(test_reload_listen),
	    cmocka_unit_test(test_reload_money),
	    cmocka_unit_test(test_reload_store),
	    cmocka_unit_test(test_reload_upstreams),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_reference_config),
	    cmocka_unit_test(test_unknown_key),
	    cmocka_unit_test(test_wrong_type),
	    cmocka_unit_test(test_out_of_range),
	    cmocka_unit_test(test_bad_duration),
	    cmocka_unit_test(test_bad_size),
	    cmocka_unit_test(test_bad_rate),
	    cmocka_unit_test(test_read_rate),
	    cmocka_unit_test(test_bad_money),
	    cmocka_unit_test(test_bad_markup),
	    cmocka_unit_test(test_bad_hostport),
	    cmocka_unit_test(test_duplicate_key),
	    cmocka_unit_test(test_duplicate_upstream),
	    cmocka_unit_test(test_duplicate_service_id),
	    cmocka_unit_test(test_unknown_route_upstream),
	    cmocka_unit_test(test_bad_route),
	    cmocka_unit_test(test_service_shape),
	    cmocka_unit_test(test_upstream_shape),
	    cmocka_unit_test(test_alias_anchor),
	    cmocka_unit_test(test_syntax_error),
	    cmocka_unit_test(test_env),
	    cmocka_unit_test(test_url_scheme),
	    cmocka_unit_test(test_upstream_currency),
	    cmocka_unit_test(test_both_stores),
	    cmocka_unit_test(test_too_deep),
	    cmocka_unit_test(test_too_big),
	    cmocka_unit_test(test_several_errors),
	    cmocka_unit_test(test_error_cap),
	    cmocka_unit_test_setup_teardown(test_key_file, setup_tmp,
	                                    teardown_tmp),
	    cmocka_unit_test_setup_teardown(test_ca_file, setup_tmp,
	                                    teardown_tmp),
	    cmocka_unit_test_setup_teardown(test_load_file_errors, setup_tmp,
	                                    teardown_tmp),
	    cmocka_unit_test(test_parsers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
