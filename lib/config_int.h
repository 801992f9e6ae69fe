/* config_int.h - what the files of the configuration share (config.c,
 * config_yaml.c, config_value.c, config_secret.c, config_table.c,
 * config_check.c); private to them.  The API is config.h.
 *
 * The schema is one table per mapping (config_table.c), each row a key with
 * its type, bounds, default and where its value is stored.  config_yaml.c
 * walks libyaml's events against those tables and collects every error with
 * its position; config_value.c parses and stores one scalar; config_secret.c
 * expands ${VAR}, reads key files and implements CONFIG_LAZY_SECRETS;
 * config_check.c holds the checks of rows and tables and the whole-file
 * checks after the walk (cfg_finish) and between two configs (reload).
 */
#ifndef PANELMUX_CONFIG_INT_H
#define PANELMUX_CONFIG_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include "config.h"

#define CFG_MAX_KEYS 20        /* rows in one schema table */
#define CFG_MAX_UPSTREAMS 256  /* entries of upstreams */
#define CFG_MAX_CURRENCIES 256 /* entries of currencies */
#define CFG_MAX_KEY_FILE 65536 /* bytes of one key_file */
#define CFG_VAR_MAX 128        /* length of a ${VAR} name */
#define CFG_PATH_MAX 256       /* "services[3].route[1]" in messages */
#define CFG_QUOTE_MAX 48       /* bytes of a bad value quoted in messages */
/* IDs stay exact in every JSON client (2^53 - 1). */
#define CFG_MAX_ID INT64_C(9007199254740991)
#define CFG_DEFAULT_SQLITE "./var/panelmux.db"

#define MS_SECOND INT64_C(1000)
#define MS_MINUTE (60 * MS_SECOND)
#define MS_HOUR (60 * MS_MINUTE)
#define MS_DAY (24 * MS_HOUR)
#define KIB INT64_C(1024)
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)

enum cfg_type {
	CFG_STRING,   /* char * */
	CFG_SECRET,   /* char *, ${VAR} expanded; int key_literal at off2 */
	CFG_KEYFILE,  /* char * read from the named file; key_literal at off2 */
	CFG_HOSTPORT, /* char * "host:port" */
	CFG_INT,      /* int */
	CFG_INT64,    /* int64_t */
	CFG_DURATION, /* int64_t milliseconds */
	CFG_SIZE,     /* size_t bytes */
	CFG_MONEY,    /* money_t */
	CFG_PERCENT,  /* money_t, "25" or "25%" */
	CFG_MARKUP,   /* struct cfg_markup, a string or a mapping (sub) */
	CFG_RATE,     /* struct cfg_rate */
	CFG_LOGLEVEL, /* int, enum log_level */
	CFG_UPSTREAM, /* an upstream name, resolved to a size_t index */
	CFG_STRLIST,  /* char ** at off, size_t count at off2 */
	CFG_ROUTES,   /* struct cfg_route * at off, size_t count at off2 */
	CFG_TABLE,    /* nested mapping (sub) over base + off */
	CFG_SEQ,      /* sequence of mappings (sub): array at off, count at
	                 off2, items of elsize bytes starting with their pos */
	CFG_CURRENCIES, /* CODE: value mapping into struct config */
	CFG_BOOL,       /* int 0/1: true or false */
};

#define CFG_F_REQUIRED 0x1 /* a missing key is an error */
#define CFG_F_ENV 0x2      /* ${VAR} is expanded from the environment */
#define CFG_F_NULL 0x4     /* null or "" stores NULL (off) */
#define CFG_F_WIPE 0x8     /* a secret: zeroed before it is freed */

struct cfg_parser;

/* One schema row.  Numbers, durations (ms), sizes and amounts must lie in
 * [min, max]; lists need at least min items; sequences hold at most max
 * items (0: any). */
struct cfg_key {
	const char *name;
	enum cfg_type type;
	size_t off;
	size_t off2;
	int64_t min, max;
	const char *def; /* default, parsed like a YAML scalar; NULL: none */
	unsigned flags;
	const struct cfg_table *sub;
	size_t elsize;
	/* strings and list items: NULL if fine, else why not */
	const char *(*valid)(const char *s);
	/* after a value was stored: checks needing the parser's context */
	void (*check)(struct cfg_parser *p, void *base, struct cfg_pos pos);
};

struct cfg_table {
	const struct cfg_key *keys; /* ends with a row whose name is NULL */
	/* at the end of the mapping; SEEN[i] is where row i was given */
	void (*check)(struct cfg_parser *p, void *base,
	              const struct cfg_pos *seen, struct cfg_pos pos);
};

enum cfg_defer_kind { CFG_DEFER_ROUTE, CFG_DEFER_IMPORT, CFG_DEFER_CURRENCY };

/* A check that needs the whole file, recorded during the walk. */
struct cfg_defer {
	enum cfg_defer_kind kind;
	size_t item; /* services[item] or upstreams[item] */
	size_t sub;  /* routes[sub] */
	char *name;  /* the upstream named (route, import) */
	char *path;
	struct cfg_pos pos;
};

struct cfg_idpos {
	int64_t id;
	size_t item;
	struct cfg_pos pos;
};

struct cfg_parser {
	yaml_parser_t yp;
	yaml_event_t ev; /* the current event */
	const char *name;
	const char *buf;
	size_t len;
	char *dir; /* of the config file: relative key_file paths */
	struct config *cfg;
	struct cfg_errors *errs;
	struct cfg_pos errpos[CONFIG_MAX_ERRORS];
	int stop; /* syntax error, too deep or too many errors */
	int depth;
	size_t item; /* index of the sequence item being walked */
	char path[CFG_PATH_MAX];
	size_t pathlen;
	struct cfg_defer *defer;
	size_t ndefer;
	struct cfg_idpos *ids;
	size_t nids;
	int flags; /* CONFIG_LAZY_SECRETS */
};

/* Rows of cfg_limits_keys that cfg_check_limits looks at. */
enum {
	LIM_MAX_BODY,
	LIM_MAX_HEADERS,
	LIM_HEADER_TIMEOUT,
	LIM_IDLE_TIMEOUT,
	LIM_MAX_CONNECTIONS,
	LIM_MAX_CONNECTIONS_PER_IP,
	LIM_RATE_PER_KEY,
	LIM_READ_RATE_PER_KEY
};

/* Rows of the schema tables that their checks look at. */
enum {
	UP_NAME,
	UP_URL,
	UP_KEY,
	UP_KEY_FILE,
	UP_CURRENCY,
	UP_TIMEOUT,
	UP_MAX_BATCH,
	UP_MAX_CONNECTIONS,
	UP_MARKUP,
	UP_SYNC_INTERVAL,
	UP_POLL_INTERVAL,
	UP_BALANCE_INTERVAL,
	UP_LOW_BALANCE,
	UP_MAX_DROP,
	UP_MAX_WRITE_CONNECTIONS,
	UP_CONNECT_TIMEOUT,
	UP_CA_FILE,
	UP_HTTP2,
	UP_NKEYS
};

enum {
	SVC_ID,
	SVC_ROUTE,
	SVC_IMPORT,
	SVC_ID_OFFSET,
	SVC_CATEGORIES,
	SVC_MARKUP,
	SVC_NAME,
	SVC_CATEGORY,
	SVC_MIN,
	SVC_MAX,
	SVC_REFILL,
	SVC_CANCEL,
	SVC_REFILL_WINDOW,
	SVC_ROUTE_MODE,
	SVC_SAME_LINK,
	SVC_NKEYS
};

enum { ST_SQLITE, ST_POSTGRES, ST_NKEYS };

/* config_yaml.c: errors, the key path, events, walking the schema. */
void cfg_errors_push(struct cfg_errors *, char *);
const char *cfg_quote(const char *, char *, size_t);
void cfg_err(struct cfg_parser *, struct cfg_pos, const char *, ...)
    __attribute__((format(printf, 3, 4)));
void cfg_err_path(struct cfg_parser *, const char *, struct cfg_pos,
                  const char *, ...) __attribute__((format(printf, 4, 5)));
void cfg_err_key(struct cfg_parser *, const char *, struct cfg_pos,
                 const char *, ...) __attribute__((format(printf, 4, 5)));
void cfg_errors_sort(struct cfg_parser *);
void cfg_defaults(struct cfg_parser *, const struct cfg_table *, void *);
int cfg_document(struct cfg_parser *);

/* config_value.c: value parsers, validators, storing values. */
int cfg_parse_int(const char *, int64_t *);
const char *cfg_valid_upstream_name(const char *);
const char *cfg_valid_currency(const char *);
const char *cfg_valid_path(const char *);
const char *cfg_valid_url(const char *);
const char *cfg_valid_route_mode(const char *);
const char *cfg_valid_same_link(const char *);
void *cfg_field(void *, size_t);
void *cfg_ptr_get(void *, size_t);
void cfg_ptr_set(void *, size_t, void *);
void cfg_set_str(const struct cfg_key *, void *, char *);
void cfg_list_clear(const struct cfg_key *, void *);
void cfg_defer(struct cfg_parser *, enum cfg_defer_kind, size_t, char *,
               struct cfg_pos);
int cfg_route_add(struct cfg_parser *, const struct cfg_key *, void *,
                  const char *, struct cfg_pos);
int cfg_strlist_add(struct cfg_parser *, const struct cfg_key *, void *,
                    const char *, struct cfg_pos);
int cfg_put_string(struct cfg_parser *, const struct cfg_key *, void *,
                   const char *, int, struct cfg_pos);
int cfg_put(struct cfg_parser *, const struct cfg_key *, void *, const char *,
            int, struct cfg_pos);

/* config_secret.c: files, the environment, lazy secrets. */
int cfg_slurp(const char *, size_t, char **, size_t *, char *, size_t);
void cfg_wipe_free(char *);
char *cfg_expand(struct cfg_parser *, const char *, struct cfg_pos);
char *cfg_read_key_file(struct cfg_parser *, const char *, struct cfg_pos);
int cfg_put_secret_lazy(struct cfg_parser *, const struct cfg_key *, void *,
                        const char *, struct cfg_pos);

/* config_table.c: the schema. */
extern const struct cfg_table cfg_top_table;
extern const struct cfg_key cfg_currency_value_key;

/* config_check.c: checks of rows and tables, whole-file checks. */
void cfg_check_upstream_name(struct cfg_parser *, void *, struct cfg_pos);
void cfg_check_upstream_currency(struct cfg_parser *, void *, struct cfg_pos);
void cfg_check_upstream_ca_file(struct cfg_parser *, void *, struct cfg_pos);
void cfg_check_service_id(struct cfg_parser *, void *, struct cfg_pos);
void cfg_check_upstream(struct cfg_parser *, void *, const struct cfg_pos *,
                        struct cfg_pos);
void cfg_check_service(struct cfg_parser *, void *, const struct cfg_pos *,
                       struct cfg_pos);
void cfg_check_store(struct cfg_parser *, void *, const struct cfg_pos *,
                     struct cfg_pos);
void cfg_check_limits(struct cfg_parser *, void *, const struct cfg_pos *,
                      struct cfg_pos);
int cfg_upstream_index(const struct config *, const char *);
void cfg_finish(struct cfg_parser *);

#endif
