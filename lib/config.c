/* config.c - the YAML configuration (SPEC section 3).
 *
 * libyaml's event stream is walked against schema tables: one row per key
 * with its type, bounds, default and where the value is stored.  No document
 * tree is built, aliases and anchors are refused, and every error is
 * collected with its position so that one run reports all of them.  Checks
 * that need the whole file (route targets, currencies, duplicate service IDs)
 * run after the walk, from records kept during it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "config.h"
#include "log.h"
#include "money.h"
#include "xmalloc.h"

#define CFG_MAX_KEYS 16        /* rows in one schema table */
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

static const char *const cfg_type_names[] = {
    [CFG_STRING] = "a string",
    [CFG_SECRET] = "a string",
    [CFG_KEYFILE] = "a file name",
    [CFG_HOSTPORT] = "host:port",
    [CFG_INT] = "an integer",
    [CFG_INT64] = "an integer",
    [CFG_DURATION] = "a duration",
    [CFG_SIZE] = "a size",
    [CFG_MONEY] = "an amount",
    [CFG_PERCENT] = "a percentage",
    [CFG_MARKUP] = "a markup",
    [CFG_RATE] = "a rate",
    [CFG_LOGLEVEL] = "a log level",
    [CFG_UPSTREAM] = "an upstream name",
    [CFG_STRLIST] = "a list of strings",
    [CFG_ROUTES] = "a list of routes",
    [CFG_TABLE] = "a mapping",
    [CFG_SEQ] = "a sequence",
    [CFG_CURRENCIES] = "a mapping",
    [CFG_BOOL] = "true or false",
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

static int cfg_table(struct cfg_parser *, const struct cfg_table *, void *);
static void cfg_free_table(const struct cfg_table *, void *);

/* Errors. */

static void
cfg_errors_push(struct cfg_errors *e, char *msg)
{
	e->msgs = xreallocarray(e->msgs, e->n + 1, sizeof(*e->msgs));
	e->msgs[e->n++] = msg;
}

void
cfg_errors_clear(struct cfg_errors *errs)
{
	if (errs == NULL)
		return;
	for (size_t i = 0; i < errs->n; i++)
		free(errs->msgs[i]);
	free(errs->msgs);
	errs->msgs = NULL;
	errs->n = 0;
}

/* Printable, shortened copy of S for a message. */
static const char *
cfg_quote(const char *s, char *buf, size_t size)
{
	size_t i, j = 0;

	for (i = 0; s[i] != '\0' && j + 4 < size; i++) {
		unsigned char c = (unsigned char)s[i];
		buf[j++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (s[i] != '\0') {
		memcpy(buf + j, "...", 3);
		j += 3;
	}
	buf[j] = '\0';
	return buf;
}

static void cfg_verr(struct cfg_parser *, const char *, struct cfg_pos,
                     const char *, va_list)
    __attribute__((format(printf, 4, 0)));

static void
cfg_verr(struct cfg_parser *p, const char *path, struct cfg_pos pos,
         const char *fmt, va_list ap)
{
	struct cfg_errors *e = p->errs;
	char *text, *msg;

	if (e->n >= CONFIG_MAX_ERRORS) {
		p->stop = 1;
		return;
	}
	if (e->n == CONFIG_MAX_ERRORS - 1) {
		xasprintf(&msg, "%s: too many errors, stopping after %d",
		          p->name, CONFIG_MAX_ERRORS - 1);
		pos.line = pos.col = INT_MAX; /* stays last when sorted */
		p->stop = 1;
	} else {
		if (vasprintf(&text, fmt, ap) < 0)
			fatalx("config: out of memory");
		if (path[0] != '\0')
			xasprintf(&msg, "%s:%d:%d: %s: %s", p->name, pos.line,
			          pos.col, path, text);
		else
			xasprintf(&msg, "%s:%d:%d: %s", p->name, pos.line,
			          pos.col, text);
		free(text);
	}
	p->errpos[e->n] = pos;
	cfg_errors_push(e, msg);
}

static void cfg_err(struct cfg_parser *, struct cfg_pos, const char *, ...)
    __attribute__((format(printf, 3, 4)));
static void cfg_err_path(struct cfg_parser *, const char *, struct cfg_pos,
                         const char *, ...)
    __attribute__((format(printf, 4, 5)));
static void cfg_err_key(struct cfg_parser *, const char *, struct cfg_pos,
                        const char *, ...)
    __attribute__((format(printf, 4, 5)));

/* At POS, about the key being walked. */
static void
cfg_err(struct cfg_parser *p, struct cfg_pos pos, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cfg_verr(p, p->path, pos, fmt, ap);
	va_end(ap);
}

/* At POS, about PATH. */
static void
cfg_err_path(struct cfg_parser *p, const char *path, struct cfg_pos pos,
             const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cfg_verr(p, path, pos, fmt, ap);
	va_end(ap);
}

/* At POS, about KEY of the mapping being walked. */
static void
cfg_err_key(struct cfg_parser *p, const char *key, struct cfg_pos pos,
            const char *fmt, ...)
{
	char *path;
	va_list ap;

	xasprintf(&path, "%s%s%s", p->path, p->pathlen > 0 ? "." : "", key);
	va_start(ap, fmt);
	cfg_verr(p, path, pos, fmt, ap);
	va_end(ap);
	free(path);
}

/* Messages in file order; equal positions keep their order. */
static void
cfg_errors_sort(struct cfg_parser *p)
{
	struct cfg_errors *e = p->errs;

	for (size_t i = 1; i < e->n; i++) {
		struct cfg_pos pos = p->errpos[i];
		char *msg = e->msgs[i];
		size_t j = i;

		while (j > 0 && (p->errpos[j - 1].line > pos.line ||
		                 (p->errpos[j - 1].line == pos.line &&
		                  p->errpos[j - 1].col > pos.col))) {
			p->errpos[j] = p->errpos[j - 1];
			e->msgs[j] = e->msgs[j - 1];
			j--;
		}
		p->errpos[j] = pos;
		e->msgs[j] = msg;
	}
}

/* The key path of messages: "upstreams[1].url". */

static size_t cfg_path_push(struct cfg_parser *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static size_t
cfg_path_push(struct cfg_parser *p, const char *fmt, ...)
{
	size_t old = p->pathlen;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(p->path + old, sizeof(p->path) - old, fmt, ap);
	va_end(ap);
	if (n > 0)
		p->pathlen = old + (size_t)n < sizeof(p->path)
		                 ? old + (size_t)n
		                 : sizeof(p->path) - 1;
	return old;
}

static size_t
cfg_path_key(struct cfg_parser *p, const char *key)
{
	char q[CFG_QUOTE_MAX];

	cfg_quote(key, q, sizeof(q));
	return p->pathlen > 0 ? cfg_path_push(p, ".%s", q)
	                      : cfg_path_push(p, "%s", q);
}

static void
cfg_path_pop(struct cfg_parser *p, size_t old)
{
	p->pathlen = old;
	p->path[old] = '\0';
}

/* Events. */

static struct cfg_pos
cfg_mark(yaml_mark_t m)
{
	struct cfg_pos pos = {(int)m.line + 1, (int)m.column + 1};

	return pos;
}

#define CFG_EVPOS(p) cfg_mark((p)->ev.start_mark)

/* Reader errors come with a byte offset only. */
static struct cfg_pos
cfg_offset_pos(const struct cfg_parser *p, size_t off)
{
	struct cfg_pos pos = {1, 1};

	for (size_t i = 0; i < off && i < p->len; i++) {
		if (p->buf[i] == '\n') {
			pos.line++;
			pos.col = 1;
		} else if (((unsigned char)p->buf[i] & 0xc0) != 0x80)
			pos.col++;
	}
	return pos;
}

static void
cfg_syntax_error(struct cfg_parser *p)
{
	const yaml_parser_t *yp = &p->yp;
	const char *problem = yp->problem != NULL ? yp->problem : "error";

	switch (yp->error) {
	case YAML_MEMORY_ERROR:
		fatalx("config: out of memory");
	case YAML_READER_ERROR:
		cfg_err_path(p, "", cfg_offset_pos(p, yp->problem_offset),
		             "invalid input: %s", problem);
		return;
	default:
		break;
	}
	if (yp->context != NULL)
		cfg_err_path(p, "", cfg_mark(yp->problem_mark),
		             "syntax error: %s (%s at line %d)", problem,
		             yp->context, cfg_mark(yp->context_mark).line);
	else
		cfg_err_path(p, "", cfg_mark(yp->problem_mark),
		             "syntax error: %s", problem);
}

/* Make the next event current: 0, or -1 to stop walking (syntax error,
 * nesting too deep, too many errors).  Aliases and anchors are reported
 * here, wherever they appear. */
static int
cfg_next(struct cfg_parser *p)
{
	const yaml_char_t *anchor = NULL;

	yaml_event_delete(&p->ev);
	if (p->stop)
		return -1;
	if (!yaml_parser_parse(&p->yp, &p->ev)) {
		cfg_syntax_error(p);
		p->stop = 1;
		return -1;
	}
	switch (p->ev.type) {
	case YAML_MAPPING_START_EVENT:
		anchor = p->ev.data.mapping_start.anchor;
		p->depth++;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = p->ev.data.sequence_start.anchor;
		p->depth++;
		break;
	case YAML_MAPPING_END_EVENT:
	case YAML_SEQUENCE_END_EVENT:
		p->depth--;
		break;
	case YAML_SCALAR_EVENT:
		anchor = p->ev.data.scalar.anchor;
		break;
	case YAML_ALIAS_EVENT:
		cfg_err(p, CFG_EVPOS(p), "YAML aliases are not supported");
		break;
	default:
		break;
	}
	if (anchor != NULL)
		cfg_err(p, CFG_EVPOS(p), "YAML anchors are not supported");
	if (p->depth > CONFIG_MAX_DEPTH) {
		cfg_err(p, CFG_EVPOS(p), "nested too deeply (max %d levels)",
		        CONFIG_MAX_DEPTH);
		p->stop = 1;
	}
	return p->stop ? -1 : 0;
}

/* Consume the node that starts with the current event. */
static int
cfg_skip(struct cfg_parser *p)
{
	int level = 0;

	for (;;) {
		switch (p->ev.type) {
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			level++;
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			level--;
			break;
		default:
			break;
		}
		if (level <= 0)
			return 0;
		if (cfg_next(p) == -1)
			return -1;
	}
}

static const char *
cfg_text(const struct cfg_parser *p)
{
	return (const char *)p->ev.data.scalar.value;
}

/* A scalar without an embedded NUL ("\0" in a double-quoted string). */
static int
cfg_scalar_clean(const struct cfg_parser *p)
{
	return p->ev.type == YAML_SCALAR_EVENT &&
	       strlen(cfg_text(p)) == p->ev.data.scalar.length;
}

static int
cfg_is_null(const struct cfg_parser *p)
{
	const char *s;

	if (p->ev.type != YAML_SCALAR_EVENT ||
	    p->ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	s = cfg_text(p);
	return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	       strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

static const char *
cfg_event_name(const struct cfg_parser *p)
{
	switch (p->ev.type) {
	case YAML_MAPPING_START_EVENT:
		return "a mapping";
	case YAML_SEQUENCE_START_EVENT:
		return "a sequence";
	default:
		return "a scalar";
	}
}

/* The current node has the wrong shape for K: report and skip it. */
static int
cfg_wrong(struct cfg_parser *p, const struct cfg_key *k)
{
	if (p->ev.type != YAML_ALIAS_EVENT)
		cfg_err(p, CFG_EVPOS(p), "expected %s, got %s",
		        cfg_type_names[k->type], cfg_event_name(p));
	return cfg_skip(p);
}

/* Value parsers. */

/* Leading decimal digits of *SP into *V; -1 if none or past INT64_MAX. */
static int
cfg_uint(const char **sp, int64_t *v)
{
	const char *s = *sp;
	int64_t n = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (n > (INT64_MAX - (*s - '0')) / 10)
			return -1;
		n = n * 10 + (*s - '0');
	}
	*sp = s;
	*v = n;
	return 0;
}

/* Optional '-', decimal digits: 0, -1 on bad syntax, -2 out of int64. */
static int
cfg_parse_int(const char *s, int64_t *v)
{
	int neg = 0;
	const char *d;

	if (*s == '-') {
		neg = 1;
		s++;
	}
	if (strspn(s, "0123456789") != strlen(s) || *s == '\0')
		return -1;
	d = s;
	if (cfg_uint(&d, v) == -1)
		return -2;
	if (neg)
		*v = -*v;
	return 0;
}

struct cfg_unit {
	const char *name;
	int64_t mult;
};

static const struct cfg_unit cfg_duration_units[] = {
    {"ms", 1},      {"s", MS_SECOND}, {"m", MS_MINUTE},
    {"h", MS_HOUR}, {"d", MS_DAY},    {NULL, 0},
};

static const struct cfg_unit cfg_size_units[] = {
    {"", 1}, {"KiB", KIB}, {"MiB", MIB}, {"GiB", GIB}, {NULL, 0},
};

static const struct cfg_unit cfg_rate_units[] = {
    {"s", MS_SECOND}, {"m", MS_MINUTE}, {"h", MS_HOUR},
    {"d", MS_DAY},    {NULL, 0},
};

static int
cfg_parse_unit(const char *s, const struct cfg_unit *units, int64_t *out)
{
	int64_t n;

	if (cfg_uint(&s, &n) == -1)
		return -1;
	for (const struct cfg_unit *u = units; u->name != NULL; u++) {
		if (strcmp(s, u->name) != 0)
			continue;
		if (n > INT64_MAX / u->mult)
			return -1;
		*out = n * u->mult;
		return 0;
	}
	return -1;
}

/* V in the largest unit that divides it: "10m", "16KiB". */
static const char *
cfg_unit_format(int64_t v, const struct cfg_unit *units, char *buf, size_t size)
{
	const struct cfg_unit *best = units;

	for (const struct cfg_unit *u = units; u->name != NULL; u++)
		if (v % u->mult == 0)
			best = u;
	if (v == 0)
		snprintf(buf, size, "0");
	else
		snprintf(buf, size, "%" PRId64 "%s", v / best->mult,
		         best->name);
	return buf;
}

int
cfg_parse_duration(const char *s, int64_t *ms)
{
	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	return cfg_parse_unit(s, cfg_duration_units, ms);
}

int
cfg_parse_size(const char *s, size_t *bytes)
{
	int64_t v;

	if (cfg_parse_unit(s, cfg_size_units, &v) == -1)
		return -1;
#if SIZE_MAX < INT64_MAX
	if ((uint64_t)v > SIZE_MAX)
		return -1;
#endif
	*bytes = (size_t)v;
	return 0;
}

int
cfg_parse_rate(const char *s, struct cfg_rate *r)
{
	int64_t n;

	if (cfg_uint(&s, &n) == -1 || n > UINT32_MAX || *s++ != '/')
		return -1;
	for (const struct cfg_unit *u = cfg_rate_units; u->name != NULL; u++) {
		if (strcmp(s, u->name) == 0) {
			r->count = (uint32_t)n;
			r->per_ms = u->mult;
			return 0;
		}
	}
	return -1;
}

int
cfg_parse_markup_string(const char *s, struct cfg_markup *m)
{
	struct cfg_markup r = {.set = 1};
	size_t len = strlen(s);
	money_t v;

	if (len > 1 && s[len - 1] == '%') {
		if (money_parse_n(s, len - 1, MONEY_ROUND_EXACT, &v) == -1 ||
		    v < 0)
			return -1;
		r.percent = v;
	} else {
		if (money_parse(s, &v) == -1 || v < 0)
			return -1;
		r.fixed = v;
	}
	*m = r;
	return 0;
}

static int
cfg_is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* A hostname, an IPv4 address, or (V6) the inside of [IPv6]. */
static int
cfg_host_ok(const char *h, size_t len, int v6)
{
	char buf[256];
	unsigned char addr[sizeof(struct in6_addr)];
	size_t label = 0;
	int digits = 1;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, h, len);
	buf[len] = '\0';
	if (v6)
		return inet_pton(AF_INET6, buf, addr) == 1 ? 0 : -1;
	for (size_t i = 0; i < len; i++) {
		char c = buf[i];

		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
			continue;
		}
		if (!cfg_is_alnum(c) && c != '-' && c != '_')
			return -1;
		if (c < '0' || c > '9')
			digits = 0;
		if (++label > 63)
			return -1;
	}
	if (label == 0)
		return -1;
	if (digits) /* all digits and dots: must be an IPv4 address */
		return inet_pton(AF_INET, buf, addr) == 1 ? 0 : -1;
	return 0;
}

static int
cfg_is_loopback(const char *h, size_t len, int v6)
{
	char buf[256];
	struct in6_addr a6;
	struct in_addr a4;

	if (len >= sizeof(buf))
		return 0;
	memcpy(buf, h, len);
	buf[len] = '\0';
	if (v6)
		return inet_pton(AF_INET6, buf, &a6) == 1 &&
		       IN6_IS_ADDR_LOOPBACK(&a6);
	if (inet_pton(AF_INET, buf, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return strcasecmp(buf, "localhost") == 0;
}

/* "1".."65535" in [S, END). */
static int
cfg_port_ok(const char *s, const char *end)
{
	int port = 0;

	if (s == end || end - s > 5)
		return -1;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		port = port * 10 + (*s - '0');
	}
	return port >= 1 && port <= 65535 ? port : -1;
}

int
cfg_parse_hostport(const char *s, char **host, int *port)
{
	const char *h, *colon;
	size_t hlen;
	int v6 = 0, n;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
		v6 = 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return -1;
		h = s;
		hlen = (size_t)(colon - s);
		if (memchr(h, ':', hlen) != NULL) /* IPv6 needs brackets */
			return -1;
	}
	if (cfg_host_ok(h, hlen, v6) == -1 ||
	    (n = cfg_port_ok(colon + 1, colon + 1 + strlen(colon + 1))) == -1)
		return -1;
	if (host != NULL)
		*host = xstrndup(h, hlen);
	if (port != NULL)
		*port = n;
	return 0;
}

/* Validators of strings (schema rows' valid). */

static const char *
cfg_valid_upstream_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 32 ||
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	              "0123456789_-") != n)
		return "must be 1 to 32 of A-Z a-z 0-9 _ -";
	return NULL;
}

static const char *
cfg_valid_currency(const char *s)
{
	size_t n = strlen(s);

	if (n < 3 || n > 8 || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != n)
		return "a currency code is 3 to 8 capital letters";
	return NULL;
}

static const char *
cfg_valid_path(const char *s)
{
	if (s[0] != '/' || strlen(s) > 256)
		return "a path starts with / (at most 256 bytes)";
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f || *s == '?' ||
		    *s == '#')
			return "a path holds no spaces, control characters, "
			       "? or #";
	return NULL;
}

/* https://host[:port]/...; http:// only for loopback hosts (SPEC 5). */
static const char *
cfg_valid_url(const char *s)
{
	const char *a, *end, *h, *hend, *ps;
	size_t alen;
	int tls, v6 = 0;

	for (const char *c = s; *c != '\0'; c++)
		if ((unsigned char)*c <= 0x20 || *c == 0x7f)
			return "must not contain spaces or control characters";
	if (strncasecmp(s, "https://", 8) == 0) {
		tls = 1;
		a = s + 8;
	} else if (strncasecmp(s, "http://", 7) == 0) {
		tls = 0;
		a = s + 7;
	} else
		return "must start with https:// (http:// only for loopback "
		       "hosts)";
	alen = strcspn(a, "/?#");
	end = a + alen;
	if (memchr(a, '@', alen) != NULL)
		return "must not hold user:password@ (give the key with key or "
		       "key_file)";
	if (a[0] == '[') {
		if ((hend = memchr(a, ']', alen)) == NULL)
			return "has a bad host";
		h = a + 1;
		ps = hend + 1;
		v6 = 1;
	} else {
		h = a;
		if ((hend = memchr(a, ':', alen)) == NULL)
			hend = end;
		ps = hend;
	}
	if (cfg_host_ok(h, (size_t)(hend - h), v6) == -1)
		return "has a bad host";
	if (ps < end && (*ps != ':' || cfg_port_ok(ps + 1, end) == -1))
		return "has a bad port (1-65535)";
	if (!tls && !cfg_is_loopback(h, (size_t)(hend - h), v6))
		return "http:// is only allowed for loopback hosts "
		       "(127.0.0.0/8, "
		       "::1, localhost); use https://";
	return NULL;
}

/* Files and the environment. */

/* Read the regular file PATH, at most MAX bytes, into *OUT (NUL-terminated,
 * free it) and *OUTLEN; on failure WHY says why. */
static int
cfg_slurp(const char *path, size_t max, char **out, size_t *outlen, char *why,
          size_t whysize)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) ==
	    -1) {
		snprintf(why, whysize, "%s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(why, whysize, "%s", strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whysize, "not a regular file");
		goto fail;
	}
	if ((uint64_t)st.st_size > max)
		goto toolarge;
	buf = xmalloc(max + 2);
	while (len <= max) {
		n = read(fd, buf + len, max + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(why, whysize, "%s", strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > max)
		goto toolarge;
	close(fd);
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
toolarge:
	snprintf(why, whysize, "file too large (max %zu bytes)", max);
fail:
	if (buf != NULL)
		explicit_bzero(buf, len);
	free(buf);
	close(fd);
	return -1;
}

static void
cfg_append(char **out, size_t *len, const char *s, size_t n)
{
	*out = xreallocarray(*out, *len + n + 1, 1);
	memcpy(*out + *len, s, n);
	*len += n;
	(*out)[*len] = '\0';
}

static void
cfg_wipe_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* S with every ${VAR} replaced from the environment; NULL after reporting
 * an error (which never quotes S: it may hold a secret). */
static char *
cfg_expand(struct cfg_parser *p, const char *s, struct cfg_pos pos)
{
	char name[CFG_VAR_MAX + 1];
	const char *d, *end, *val;
	char *out = NULL;
	size_t len = 0, n;

	cfg_append(&out, &len, "", 0);
	while ((d = strstr(s, "${")) != NULL) {
		cfg_append(&out, &len, s, (size_t)(d - s));
		if ((end = strchr(d + 2, '}')) == NULL) {
			cfg_err(p, pos, "unterminated ${ (write ${VAR})");
			goto fail;
		}
		n = (size_t)(end - (d + 2));
		if (n == 0 || n > CFG_VAR_MAX || (d[2] >= '0' && d[2] <= '9') ||
		    strspn(d + 2, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqr"
		                  "stuvwxyz0123456789_") != n) {
			cfg_err(p, pos,
			        "bad variable name in ${...} (letters, "
			        "digits and _)");
			goto fail;
		}
		memcpy(name, d + 2, n);
		name[n] = '\0';
		if ((val = getenv(name)) == NULL) {
			cfg_err(p, pos, "environment variable %s is not set",
			        name);
			goto fail;
		}
		cfg_append(&out, &len, val, strlen(val));
		s = end + 1;
	}
	cfg_append(&out, &len, s, strlen(s));
	return out;
fail:
	cfg_wipe_free(out);
	return NULL;
}

/* The key in NAME: relative to $CREDENTIALS_DIRECTORY (systemd
 * LoadCredential=) when set, else to the config file's directory. */
static char *
cfg_read_key_file(struct cfg_parser *p, const char *name, struct cfg_pos pos)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char why[128], shown[256], *path, *buf, *key = NULL;
	size_t len;

	if (name[0] == '/')
		path = xstrdup(name);
	else
		xasprintf(&path, "%s/%s",
		          dir != NULL && *dir != '\0' ? dir : p->dir, name);
	if (cfg_slurp(path, CFG_MAX_KEY_FILE, &buf, &len, why, sizeof(why)) ==
	    -1) {
		/* The path is the operator's, but bytes from the file go
		 * through cfg_quote like every quoted value. */
		cfg_err(p, pos, "%s: %s", cfg_quote(path, shown, sizeof(shown)),
		        why);
		free(path);
		return NULL;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	if (memchr(buf, '\0', len) != NULL)
		cfg_err(p, pos, "%s: the key holds a NUL byte",
		        cfg_quote(path, shown, sizeof(shown)));
	else if (len == 0)
		cfg_err(p, pos, "%s: the key file is empty",
		        cfg_quote(path, shown, sizeof(shown)));
	else
		key = xstrndup(buf, len);
	explicit_bzero(buf, len);
	free(buf);
	free(path);
	return key;
}

/* Storing values. */

static void *
cfg_field(void *base, size_t off)
{
	return (char *)base + off;
}

/* Pointers in fields of differing types are moved with memcpy. */
static void *
cfg_ptr_get(void *base, size_t off)
{
	void *v;

	memcpy(&v, cfg_field(base, off), sizeof(v));
	return v;
}

static void
cfg_ptr_set(void *base, size_t off, void *v)
{
	memcpy(cfg_field(base, off), &v, sizeof(v));
}

static void
cfg_set_str(const struct cfg_key *k, void *base, char *s)
{
	char **dst = cfg_field(base, k->off);

	if (k->flags & CFG_F_WIPE)
		cfg_wipe_free(*dst);
	else
		free(*dst);
	*dst = s;
}

static void
cfg_list_clear(const struct cfg_key *k, void *base)
{
	size_t *n = cfg_field(base, k->off2);

	if (k->type == CFG_STRLIST) {
		char **v = cfg_ptr_get(base, k->off);

		for (size_t i = 0; i < *n; i++)
			free(v[i]);
	}
	free(cfg_ptr_get(base, k->off));
	cfg_ptr_set(base, k->off, NULL);
	*n = 0;
}

static void
cfg_defer(struct cfg_parser *p, enum cfg_defer_kind kind, size_t sub,
          char *name, struct cfg_pos pos)
{
	struct cfg_defer *d;

	p->defer = xreallocarray(p->defer, p->ndefer + 1, sizeof(*p->defer));
	d = &p->defer[p->ndefer++];
	d->kind = kind;
	d->item = p->item;
	d->sub = sub;
	d->name = name;
	d->path = xstrdup(p->path);
	d->pos = pos;
}

/* "upstream:serviceid" appended to K's routes. */
static int
cfg_route_add(struct cfg_parser *p, const struct cfg_key *k, void *base,
              const char *text, struct cfg_pos pos)
{
	const char *colon = strrchr(text, ':');
	size_t *n = cfg_field(base, k->off2);
	struct cfg_route *r;
	char q[CFG_QUOTE_MAX], *name;
	int64_t id;

	if (colon == NULL || colon == text)
		goto bad;
	name = xstrndup(text, (size_t)(colon - text));
	if (cfg_valid_upstream_name(name) != NULL ||
	    cfg_parse_int(colon + 1, &id) != 0 || id < 1 || id > CFG_MAX_ID) {
		free(name);
		goto bad;
	}
	r = xreallocarray(cfg_ptr_get(base, k->off), *n + 1, sizeof(*r));
	cfg_ptr_set(base, k->off, r);
	r[*n].pos = pos;
	r[*n].upstream = 0;
	r[*n].service = id;
	cfg_defer(p, CFG_DEFER_ROUTE, (*n)++, name, pos);
	return 0;
bad:
	cfg_err(p, pos, "bad route \"%s\" (write upstream:serviceid)",
	        cfg_quote(text, q, sizeof(q)));
	return -1;
}

static int
cfg_strlist_add(struct cfg_parser *p, const struct cfg_key *k, void *base,
                const char *text, struct cfg_pos pos)
{
	size_t *n = cfg_field(base, k->off2);
	const char *why;
	char **v;

	why = text[0] == '\0'    ? "must not be empty"
	      : k->valid != NULL ? k->valid(text)
	                         : NULL;
	if (why != NULL) {
		cfg_err(p, pos, "%s", why);
		return -1;
	}
	v = xreallocarray(cfg_ptr_get(base, k->off), *n + 1, sizeof(*v));
	cfg_ptr_set(base, k->off, v);
	v[(*n)++] = xstrdup(text);
	return 0;
}

static int cfg_put_string(struct cfg_parser *, const struct cfg_key *, void *,
                          const char *, int, struct cfg_pos);

/* CONFIG_LAZY_SECRETS: a secret that cannot be read (an unset variable,
 * a missing key file) is no error; the key stays NULL and the message
 * that would have been reported is kept in the upstream's key_error, for
 * the commands that do call it.  Everything else is checked as usual. */
static int
cfg_put_secret_lazy(struct cfg_parser *p, const struct cfg_key *k, void *base,
                    const char *text, struct cfg_pos pos)
{
	struct cfg_upstream *u = base;
	size_t n = p->errs->n;
	int rc;

	p->flags &= ~CONFIG_LAZY_SECRETS;
	rc = cfg_put_string(p, k, base, text, 0, pos);
	p->flags |= CONFIG_LAZY_SECRETS;
	if (rc == 0 || p->errs->n != n + 1 || p->stop)
		return rc;
	free(u->key_error);
	u->key_error = p->errs->msgs[--p->errs->n];
	return 0;
}

static int
cfg_put_string(struct cfg_parser *p, const struct cfg_key *k, void *base,
               const char *text, int null, struct cfg_pos pos)
{
	char q[CFG_QUOTE_MAX], *s;
	const char *why;

	if (null) {
		cfg_set_str(k, base, NULL);
		return 0;
	}
	if ((k->type == CFG_SECRET || k->type == CFG_KEYFILE) &&
	    (p->flags & CONFIG_LAZY_SECRETS))
		return cfg_put_secret_lazy(p, k, base, text, pos);
	s = (k->flags & CFG_F_ENV) ? cfg_expand(p, text, pos) : xstrdup(text);
	if (s == NULL)
		return -1;
	if (s[0] == '\0' && (k->flags & CFG_F_NULL)) {
		free(s);
		cfg_set_str(k, base, NULL);
		return 0;
	}
	if (k->type == CFG_KEYFILE && s[0] != '\0') {
		char *key = cfg_read_key_file(p, s, pos);

		free(s);
		if (key == NULL)
			return -1;
		cfg_set_str(k, base, key);
		*(int *)cfg_field(base, k->off2) = 0;
		return 0;
	}
	if (s[0] == '\0')
		why = "must not be empty";
	else if (k->type == CFG_HOSTPORT &&
	         cfg_parse_hostport(s, NULL, NULL) == -1) {
		cfg_err(p, pos,
		        "bad address \"%s\" (write host:port or "
		        "[IPv6]:port, port 1-65535)",
		        cfg_quote(s, q, sizeof(q)));
		free(s);
		return -1;
	} else
		why = k->valid != NULL ? k->valid(s) : NULL;
	if (why != NULL) {
		cfg_err(p, pos, "%s", why);
		if (k->flags & CFG_F_WIPE)
			cfg_wipe_free(s);
		else
			free(s);
		return -1;
	}
	cfg_set_str(k, base, s);
	if (k->type == CFG_SECRET)
		*(int *)cfg_field(base, k->off2) = strstr(text, "${") == NULL;
	return 0;
}

/* Store scalar TEXT (NULL: a YAML null) for row K into BASE.  0, or -1
 * after reporting the error at POS. */
static int
cfg_put(struct cfg_parser *p, const struct cfg_key *k, void *base,
        const char *text, int null, struct cfg_pos pos)
{
	void *dst = cfg_field(base, k->off);
	char q[CFG_QUOTE_MAX], lo[32], hi[32];
	money_t m;
	int64_t v;
	int rc;

	switch (k->type) {
	case CFG_STRING:
	case CFG_SECRET:
	case CFG_KEYFILE:
	case CFG_HOSTPORT: /* secrets among them are never quoted */
		return cfg_put_string(p, k, base, text, null, pos);
	default:
		break;
	}
	cfg_quote(text, q, sizeof(q));
	switch (k->type) {
	case CFG_INT:
	case CFG_INT64:
		if ((rc = cfg_parse_int(text, &v)) == -1) {
			cfg_err(p, pos, "expected an integer, not \"%s\"", q);
			return -1;
		}
		if (rc == -2 || v < k->min || v > k->max) {
			cfg_err(p, pos,
			        "%s is out of range (%" PRId64 "..%" PRId64 ")",
			        q, k->min, k->max);
			return -1;
		}
		if (k->type == CFG_INT)
			*(int *)dst = (int)v;
		else
			*(int64_t *)dst = v;
		return 0;
	case CFG_DURATION:
	case CFG_SIZE: {
		const struct cfg_unit *units =
		    k->type == CFG_SIZE ? cfg_size_units : cfg_duration_units;
		size_t sz = 0;

		if (k->type == CFG_SIZE ? cfg_parse_size(text, &sz) == -1
		                        : cfg_parse_duration(text, &v) == -1) {
			if (k->type == CFG_SIZE)
				cfg_err(p, pos,
				        "bad size \"%s\" (write e.g. "
				        "512, 16KiB, 1MiB, 1GiB)",
				        q);
			else
				cfg_err(p, pos,
				        "bad duration \"%s\" (write "
				        "e.g. 250ms, 10s, 10m, 1h, 1d)",
				        q);
			return -1;
		}
		if (k->type == CFG_SIZE)
			v = (int64_t)sz;
		if (v < k->min || v > k->max) {
			cfg_err(p, pos, "%s is out of range (%s..%s)", q,
			        cfg_unit_format(k->min, units, lo, sizeof(lo)),
			        cfg_unit_format(k->max, units, hi, sizeof(hi)));
			return -1;
		}
		if (k->type == CFG_SIZE)
			*(size_t *)dst = sz;
		else
			*(int64_t *)dst = v;
		return 0;
	}
	case CFG_MONEY:
	case CFG_PERCENT: {
		size_t len = strlen(text);

		if (k->type == CFG_PERCENT && len > 1 && text[len - 1] == '%')
			len--;
		if (money_parse_n(text, len, MONEY_ROUND_EXACT, &m) == -1) {
			cfg_err(p, pos,
			        "bad %s \"%s\" (a decimal number with "
			        "at most 8 decimals)",
			        k->type == CFG_MONEY ? "amount" : "percentage",
			        q);
			return -1;
		}
		if (m < k->min || m > k->max) {
			cfg_err(p, pos, "%s",
			        k->min > 0 ? "must be greater than 0"
			                   : "must not be negative");
			return -1;
		}
		*(money_t *)dst = m;
		return 0;
	}
	case CFG_MARKUP:
		if (cfg_parse_markup_string(text, dst) == -1) {
			cfg_err(p, pos,
			        "bad markup \"%s\" (write \"25%%\", "
			        "\"0.10\" or {percent, fixed, min_rate})",
			        q);
			return -1;
		}
		return 0;
	case CFG_RATE:
		if (cfg_parse_rate(text, dst) == -1) {
			cfg_err(p, pos,
			        "bad rate \"%s\" (write e.g. 50/s, "
			        "3000/m, 100/h)",
			        q);
			return -1;
		}
		return 0;
	case CFG_BOOL:
		if (strcasecmp(text, "true") == 0 ||
		    strcasecmp(text, "yes") == 0)
			*(int *)dst = 1;
		else if (strcasecmp(text, "false") == 0 ||
		         strcasecmp(text, "no") == 0)
			*(int *)dst = 0;
		else {
			cfg_err(p, pos, "expected true or false, not \"%s\"",
			        q);
			return -1;
		}
		return 0;
	case CFG_LOGLEVEL:
		if ((rc = log_level_parse(text)) == -1) {
			cfg_err(p, pos,
			        "bad log level \"%s\" (error, warn, "
			        "info or debug)",
			        q);
			return -1;
		}
		*(int *)dst = rc;
		return 0;
	case CFG_UPSTREAM:
		if (cfg_valid_upstream_name(text) != NULL) {
			cfg_err(p, pos, "bad upstream name \"%s\"", q);
			return -1;
		}
		cfg_defer(p, CFG_DEFER_IMPORT, 0, xstrdup(text), pos);
		return 0;
	case CFG_STRLIST:
		cfg_list_clear(k, base);
		return cfg_strlist_add(p, k, base, text, pos);
	case CFG_ROUTES:
		cfg_list_clear(k, base);
		return cfg_route_add(p, k, base, text, pos);
	default: /* CFG_TABLE, CFG_SEQ, CFG_CURRENCIES */
		break;
	}
	fatalx("config: %s: no scalar form", k->name);
}

/* Walking the schema. */

static void
cfg_defaults(struct cfg_parser *p, const struct cfg_table *t, void *base)
{
	struct cfg_pos none = {0, 0};

	for (const struct cfg_key *k = t->keys; k->name != NULL; k++) {
		if (k->type == CFG_TABLE)
			cfg_defaults(p, k->sub, cfg_field(base, k->off));
		else if (k->def != NULL &&
		         cfg_put(p, k, base, k->def, 0, none) == -1)
			fatalx("config: bad default for %s", k->name);
	}
}

/* A sequence of scalars (STRLIST, ROUTES). */
static int
cfg_list(struct cfg_parser *p, const struct cfg_key *k, void *base)
{
	struct cfg_pos lpos = CFG_EVPOS(p);
	size_t old, i;

	cfg_list_clear(k, base);
	for (i = 0;; i++) {
		if (cfg_next(p) == -1)
			return -1;
		if (p->ev.type == YAML_SEQUENCE_END_EVENT)
			break;
		old = cfg_path_push(p, "[%zu]", i);
		if (p->ev.type != YAML_SCALAR_EVENT || cfg_is_null(p)) {
			if (p->ev.type != YAML_ALIAS_EVENT)
				cfg_err(p, CFG_EVPOS(p),
				        "expected a string, "
				        "got %s",
				        cfg_is_null(p) ? "null"
				                       : cfg_event_name(p));
			if (cfg_skip(p) == -1)
				return -1;
		} else if (!cfg_scalar_clean(p))
			cfg_err(p, CFG_EVPOS(p), "must not contain a NUL byte");
		else if (k->type == CFG_ROUTES)
			cfg_route_add(p, k, base, cfg_text(p), CFG_EVPOS(p));
		else
			cfg_strlist_add(p, k, base, cfg_text(p), CFG_EVPOS(p));
		cfg_path_pop(p, old);
	}
	if (i < (size_t)k->min)
		cfg_err(p, lpos, "needs at least %" PRId64 " entr%s", k->min,
		        k->min == 1 ? "y" : "ies");
	return 0;
}

/* A sequence of mappings (upstreams, services). */
static int
cfg_seq(struct cfg_parser *p, const struct cfg_key *k, void *base)
{
	size_t *n = cfg_field(base, k->off2);
	size_t old, saved = p->item;
	struct cfg_pos *item;
	int rc, over = 0;
	char *arr;

	if (cfg_is_null(p))
		return 0;
	if (p->ev.type != YAML_SEQUENCE_START_EVENT)
		return cfg_wrong(p, k);
	for (;;) {
		if (cfg_next(p) == -1)
			return -1;
		if (p->ev.type == YAML_SEQUENCE_END_EVENT)
			return 0;
		old = cfg_path_push(p, "[%zu]", *n);
		if (p->ev.type != YAML_MAPPING_START_EVENT) {
			if (p->ev.type != YAML_ALIAS_EVENT)
				cfg_err(p, CFG_EVPOS(p),
				        "expected a mapping, "
				        "got %s",
				        cfg_event_name(p));
			rc = cfg_skip(p);
		} else if (k->max > 0 && *n >= (size_t)k->max) {
			if (!over++)
				cfg_err(p, CFG_EVPOS(p),
				        "too many entries (max "
				        "%" PRId64 ")",
				        k->max);
			rc = cfg_skip(p);
		} else {
			arr = xreallocarray(cfg_ptr_get(base, k->off), *n + 1,
			                    k->elsize);
			cfg_ptr_set(base, k->off, arr);
			item = (struct cfg_pos *)(arr + *n * k->elsize);
			memset(item, 0, k->elsize);
			*item = CFG_EVPOS(p);
			p->item = (*n)++;
			cfg_defaults(p, k->sub, item);
			rc = cfg_table(p, k->sub, item);
			p->item = saved;
		}
		cfg_path_pop(p, old);
		if (rc == -1)
			return -1;
	}
}

/* currencies: {CODE: value}; the value is read through this row. */
static const struct cfg_key cfg_currency_value_key = {
    .name = "value",
    .type = CFG_MONEY,
    .off = offsetof(struct cfg_currency, value),
    .min = 1,
    .max = INT64_MAX,
};

static int cfg_value(struct cfg_parser *, const struct cfg_key *, void *);

static int
cfg_currencies(struct cfg_parser *p, const struct cfg_key *k, void *base)
{
	struct config *cfg = base;
	struct cfg_currency cur;
	const char *why;
	size_t old, i;
	int rc, skip;

	if (cfg_is_null(p))
		return 0;
	if (p->ev.type != YAML_MAPPING_START_EVENT)
		return cfg_wrong(p, k);
	for (;;) {
		if (cfg_next(p) == -1)
			return -1;
		if (p->ev.type == YAML_MAPPING_END_EVENT)
			return 0;
		memset(&cur, 0, sizeof(cur));
		cur.pos = CFG_EVPOS(p);
		if (!cfg_scalar_clean(p)) {
			if (p->ev.type != YAML_ALIAS_EVENT)
				cfg_err(p, cur.pos, "expected a currency code");
			if (cfg_skip(p) == -1 || cfg_next(p) == -1 ||
			    cfg_skip(p) == -1)
				return -1;
			continue;
		}
		cur.code = xstrdup(cfg_text(p));
		old = cfg_path_key(p, cur.code);
		for (i = 0; i < cfg->ncurrencies; i++)
			if (strcmp(cfg->currencies[i].code, cur.code) == 0)
				break;
		skip = 1;
		if ((why = cfg_valid_currency(cur.code)) != NULL)
			cfg_err(p, cur.pos, "%s", why);
		else if (i < cfg->ncurrencies)
			cfg_err(p, cur.pos, "duplicate key (first at line %d)",
			        cfg->currencies[i].pos.line);
		else if (cfg->ncurrencies >= CFG_MAX_CURRENCIES)
			cfg_err(p, cur.pos, "too many currencies (max %d)",
			        CFG_MAX_CURRENCIES);
		else
			skip = 0;
		if (cfg_next(p) == -1) {
			free(cur.code);
			return -1;
		}
		if (skip)
			rc = cfg_skip(p);
		else
			rc = cfg_value(p, &cfg_currency_value_key, &cur);
		if (cur.value > 0) {
			cfg->currencies =
			    xreallocarray(cfg->currencies, cfg->ncurrencies + 1,
			                  sizeof(*cfg->currencies));
			cfg->currencies[cfg->ncurrencies++] = cur;
		} else
			free(cur.code);
		cfg_path_pop(p, old);
		if (rc == -1)
			return -1;
	}
}

/* The value of row K, starting at the current event. */
static int
cfg_value(struct cfg_parser *p, const struct cfg_key *k, void *base)
{
	struct cfg_pos pos = CFG_EVPOS(p);
	yaml_event_type_t t = p->ev.type;
	int null;

	if (t == YAML_ALIAS_EVENT)
		return 0; /* reported by cfg_next */
	switch (k->type) {
	case CFG_TABLE:
		if (t == YAML_MAPPING_START_EVENT)
			return cfg_table(p, k->sub, cfg_field(base, k->off));
		if (cfg_is_null(p))
			return 0; /* every key commented out */
		return cfg_wrong(p, k);
	case CFG_SEQ:
		return cfg_seq(p, k, base);
	case CFG_CURRENCIES:
		return cfg_currencies(p, k, base);
	case CFG_MARKUP:
		if (t == YAML_MAPPING_START_EVENT) {
			struct cfg_markup *m = cfg_field(base, k->off);

			memset(m, 0, sizeof(*m));
			m->set = 1;
			return cfg_table(p, k->sub, m);
		}
		break;
	case CFG_STRLIST:
	case CFG_ROUTES:
		if (t == YAML_SEQUENCE_START_EVENT)
			return cfg_list(p, k, base);
		break; /* a single scalar is a list of one */
	default:
		break;
	}
	if (t != YAML_SCALAR_EVENT)
		return cfg_wrong(p, k);
	if (!cfg_scalar_clean(p)) {
		cfg_err(p, pos, "must not contain a NUL byte");
		return 0;
	}
	null = cfg_is_null(p);
	if (null && !(k->flags & CFG_F_NULL)) {
		cfg_err(p, pos, "missing value");
		return 0;
	}
	if (cfg_put(p, k, base, cfg_text(p), null, pos) == 0 &&
	    k->check != NULL)
		k->check(p, base, pos);
	return 0;
}

/* One key of a mapping walked by table T (the current event is the key). */
static int
cfg_key_event(struct cfg_parser *p, const struct cfg_table *t, void *base,
              struct cfg_pos *seen)
{
	struct cfg_pos kpos = CFG_EVPOS(p);
	const struct cfg_key *k = NULL;
	size_t old;
	int rc;

	if (!cfg_scalar_clean(p)) {
		if (p->ev.type != YAML_ALIAS_EVENT)
			cfg_err(p, kpos, "a key must be a plain string");
		if (cfg_skip(p) == -1 || cfg_next(p) == -1)
			return -1;
		return cfg_skip(p);
	}
	for (k = t->keys; k->name != NULL; k++)
		if (strcmp(k->name, cfg_text(p)) == 0)
			break;
	old = cfg_path_key(p, cfg_text(p));
	if (k->name == NULL) {
		cfg_err(p, kpos, "unknown key");
		k = NULL;
	} else if (seen[k - t->keys].line > 0) {
		cfg_err(p, kpos, "duplicate key (first at line %d)",
		        seen[k - t->keys].line);
		k = NULL;
	} else
		seen[k - t->keys] = kpos;
	rc = cfg_next(p);
	if (rc == 0)
		rc = k != NULL ? cfg_value(p, k, base) : cfg_skip(p);
	cfg_path_pop(p, old);
	return rc;
}

/* A mapping walked by table T into BASE (the current event starts it). */
static int
cfg_table(struct cfg_parser *p, const struct cfg_table *t, void *base)
{
	struct cfg_pos seen[CFG_MAX_KEYS], pos = CFG_EVPOS(p);

	memset(seen, 0, sizeof(seen));
	for (;;) {
		if (cfg_next(p) == -1)
			return -1;
		if (p->ev.type == YAML_MAPPING_END_EVENT)
			break;
		if (cfg_key_event(p, t, base, seen) == -1)
			return -1;
	}
	for (const struct cfg_key *k = t->keys; k->name != NULL; k++)
		if ((k->flags & CFG_F_REQUIRED) && seen[k - t->keys].line == 0)
			cfg_err(p, pos, "missing required key \"%s\"", k->name);
	if (t->check != NULL)
		t->check(p, base, seen, pos);
	return p->stop ? -1 : 0;
}

/* Checks of rows and tables. */

static void
cfg_check_upstream_name(struct cfg_parser *p, void *base, struct cfg_pos pos)
{
	const struct cfg_upstream *u = base;
	const struct config *cfg = p->cfg;

	for (size_t i = 0; i < p->item; i++) {
		if (cfg->upstreams[i].name != NULL &&
		    strcmp(cfg->upstreams[i].name, u->name) == 0) {
			cfg_err(p, pos,
			        "duplicate upstream name \"%s\" (first "
			        "at line %d)",
			        u->name, cfg->upstreams[i].pos.line);
			return;
		}
	}
}

static void
cfg_check_upstream_currency(struct cfg_parser *p, void *base,
                            struct cfg_pos pos)
{
	cfg_defer(p, CFG_DEFER_CURRENCY, 0, NULL, pos);
}

static void
cfg_check_service_id(struct cfg_parser *p, void *base, struct cfg_pos pos)
{
	const struct cfg_service *s = base;

	p->ids = xreallocarray(p->ids, p->nids + 1, sizeof(*p->ids));
	p->ids[p->nids].id = s->id;
	p->ids[p->nids].item = p->item;
	p->ids[p->nids].pos = pos;
	p->nids++;
}

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
	UP_NKEYS
};

static void
cfg_check_upstream(struct cfg_parser *p, void *base, const struct cfg_pos *seen,
                   struct cfg_pos pos)
{
	if (seen[UP_KEY].line > 0 && seen[UP_KEY_FILE].line > 0)
		cfg_err_key(p, "key_file", seen[UP_KEY_FILE],
		            "give either key or key_file, not both");
	else if (seen[UP_KEY].line == 0 && seen[UP_KEY_FILE].line == 0)
		cfg_err(p, pos,
		        "missing required key \"key\" (or "
		        "\"key_file\")");
}

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
	SVC_NKEYS
};

static void
cfg_check_service(struct cfg_parser *p, void *base, const struct cfg_pos *seen,
                  struct cfg_pos pos)
{
	static const struct {
		int row;
		const char *name;
	} route_keys[] = {{SVC_ID, "id"}, {SVC_ROUTE, "route"}},
	  import_keys[] = {{SVC_ID_OFFSET, "id_offset"},
	                   {SVC_CATEGORIES, "categories"}};
	struct cfg_service *s = base;

	if (seen[SVC_IMPORT].line > 0) {
		s->kind = CFG_SERVICE_IMPORT;
		for (size_t i = 0; i < 2; i++)
			if (seen[route_keys[i].row].line > 0)
				cfg_err_key(
				    p, route_keys[i].name,
				    seen[route_keys[i].row],
				    "not allowed with import (a service has "
				    "id and route, or import)");
	} else {
		s->kind = CFG_SERVICE_ROUTE;
		for (size_t i = 0; i < 2; i++)
			if (seen[import_keys[i].row].line > 0)
				cfg_err_key(p, import_keys[i].name,
				            seen[import_keys[i].row],
				            "only allowed with import");
		if (seen[SVC_ID].line == 0 && seen[SVC_ROUTE].line == 0)
			cfg_err(p, pos,
			        "a service needs id and route, or "
			        "import");
		else if (seen[SVC_ID].line == 0)
			cfg_err(p, pos, "missing required key \"id\"");
		else if (seen[SVC_ROUTE].line == 0)
			cfg_err(p, pos, "missing required key \"route\"");
	}
	if (s->min > 0 && s->max > 0 && s->min > s->max)
		cfg_err_key(p, "max", seen[SVC_MAX], "is less than min");
	if (seen[SVC_REFILL].line == 0)
		s->refill = -1;
	if (seen[SVC_CANCEL].line == 0)
		s->cancel = -1;
}

enum { ST_SQLITE, ST_POSTGRES, ST_NKEYS };

static void
cfg_check_store(struct cfg_parser *p, void *base, const struct cfg_pos *seen,
                struct cfg_pos pos)
{
	if (seen[ST_SQLITE].line > 0 && seen[ST_POSTGRES].line > 0)
		cfg_err_key(p, "postgres", seen[ST_POSTGRES],
		            "give either sqlite or postgres, not both");
}

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

/* A config written before reads had their own bucket limited every
 * request of a key by rate_per_key: it keeps doing so. */
static void
cfg_check_limits(struct cfg_parser *p, void *base, const struct cfg_pos *seen,
                 struct cfg_pos pos)
{
	struct config *cfg = base;

	if (seen[LIM_RATE_PER_KEY].line > 0 &&
	    seen[LIM_READ_RATE_PER_KEY].line == 0)
		cfg->read_rate_per_key = cfg->rate_per_key;
}

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
    {.name = NULL},
};
static const struct cfg_table cfg_top_table = {cfg_top_keys, NULL};

#define CFG_ROWS(a) (sizeof(a) / sizeof((a)[0]) - 1)
_Static_assert(CFG_ROWS(cfg_top_keys) <= CFG_MAX_KEYS, "top");
_Static_assert(CFG_ROWS(cfg_upstream_keys) <= CFG_MAX_KEYS, "upstream");
_Static_assert(CFG_ROWS(cfg_service_keys) <= CFG_MAX_KEYS, "service");
_Static_assert(CFG_ROWS(cfg_limits_keys) <= CFG_MAX_KEYS, "limits");
_Static_assert(CFG_ROWS(cfg_listen_keys) <= CFG_MAX_KEYS, "listen");
/* Items of a CFG_SEQ start with their position. */
_Static_assert(offsetof(struct cfg_upstream, pos) == 0, "upstream pos");
_Static_assert(offsetof(struct cfg_service, pos) == 0, "service pos");

/* Whole-file checks. */

static int
cfg_upstream_index(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nupstreams; i++)
		if (cfg->upstreams[i].name != NULL &&
		    strcmp(cfg->upstreams[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int
cfg_idpos_cmp(const void *a, const void *b)
{
	const struct cfg_idpos *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->item < y->item ? -1 : x->item > y->item;
}

static void
cfg_finish(struct cfg_parser *p)
{
	struct config *cfg = p->cfg;
	char path[CFG_PATH_MAX];
	size_t i, n, first;
	money_t v;
	int idx;

	if (cfg->store_sqlite == NULL && cfg->store_postgres == NULL)
		cfg->store_sqlite = xstrdup(CFG_DEFAULT_SQLITE);
	for (i = 0; i < cfg->ncurrencies; i++) {
		if (strcmp(cfg->currencies[i].code, cfg->currency) != 0)
			continue;
		snprintf(path, sizeof(path), "currencies.%s",
		         cfg->currencies[i].code);
		cfg_err_path(p, path, cfg->currencies[i].pos,
		             "is the panel currency (worth 1 by definition)");
	}
	for (i = 0; i < cfg->nupstreams; i++)
		if (cfg->upstreams[i].currency == NULL)
			cfg->upstreams[i].currency = xstrdup(cfg->currency);

	for (i = 0; i < p->ndefer; i++) {
		const struct cfg_defer *d = &p->defer[i];

		switch (d->kind) {
		case CFG_DEFER_ROUTE:
		case CFG_DEFER_IMPORT:
			if ((idx = cfg_upstream_index(cfg, d->name)) == -1) {
				cfg_err_path(p, d->path, d->pos,
				             "unknown upstream \"%s\"",
				             d->name);
				break;
			}
			if (d->kind == CFG_DEFER_ROUTE)
				cfg->services[d->item].routes[d->sub].upstream =
				    (size_t)idx;
			else
				cfg->services[d->item].import_upstream =
				    (size_t)idx;
			break;
		case CFG_DEFER_CURRENCY:
			if (config_currency_value(
			        cfg, cfg->upstreams[d->item].currency, &v) ==
			    -1)
				cfg_err_path(
				    p, d->path, d->pos,
				    "unknown currency \"%s\" (neither the "
				    "panel currency %s nor listed in "
				    "currencies)",
				    cfg->upstreams[d->item].currency,
				    cfg->currency);
			break;
		}
	}

	/* Local service IDs of routed services are unique. */
	for (i = n = 0; i < p->nids; i++)
		if (cfg->services[p->ids[i].item].kind == CFG_SERVICE_ROUTE)
			p->ids[n++] = p->ids[i];
	if (n > 1)
		qsort(p->ids, n, sizeof(*p->ids), cfg_idpos_cmp);
	for (i = 1, first = 0; i < n; i++) {
		if (p->ids[i].id != p->ids[first].id) {
			first = i;
			continue;
		}
		snprintf(path, sizeof(path), "services[%zu].id",
		         p->ids[i].item);
		cfg_err_path(p, path, p->ids[i].pos,
		             "duplicate service id %" PRId64
		             " (first at line %d)",
		             p->ids[i].id, p->ids[first].pos.line);
	}
}

static int
cfg_document(struct cfg_parser *p)
{
	if (cfg_next(p) == -1 || cfg_next(p) == -1) /* stream, document */
		return -1;
	if (p->ev.type == YAML_STREAM_END_EVENT)
		return 0; /* empty file: every default */
	if (cfg_next(p) == -1)
		return -1;
	if (p->ev.type == YAML_MAPPING_START_EVENT) {
		if (cfg_table(p, &cfg_top_table, p->cfg) == -1)
			return -1;
	} else if (!cfg_is_null(p)) {
		if (p->ev.type != YAML_ALIAS_EVENT)
			cfg_err(p, CFG_EVPOS(p),
			        "expected a mapping at the "
			        "top level, got %s",
			        cfg_event_name(p));
		if (cfg_skip(p) == -1)
			return -1;
	}
	if (cfg_next(p) == -1 || cfg_next(p) == -1) /* document, stream end */
		return -1;
	if (p->ev.type == YAML_DOCUMENT_START_EVENT) {
		cfg_err(p, CFG_EVPOS(p), "only one YAML document is allowed");
		return -1;
	}
	return 0;
}

/* Public interface. */

static char *
cfg_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

static struct config *cfg_load(const char *, const char *, size_t, int,
                               struct cfg_errors *);

struct config *
config_load_buffer(const char *name, const char *buf, size_t len,
                   struct cfg_errors *errs)
{
	return cfg_load(name, buf, len, 0, errs);
}

static struct config *
cfg_load(const char *name, const char *buf, size_t len, int flags,
         struct cfg_errors *errs)
{
	struct cfg_errors local = {NULL, 0};
	struct cfg_parser *p;
	struct config *cfg;
	char *msg;

	if (errs == NULL)
		errs = &local;
	cfg_errors_clear(errs);
	if (len > CONFIG_MAX_FILE) {
		xasprintf(&msg, "%s: file too large (max %d bytes)", name,
		          CONFIG_MAX_FILE);
		cfg_errors_push(errs, msg);
		cfg_errors_clear(&local);
		return NULL;
	}

	p = xcalloc(1, sizeof(*p));
	p->name = name;
	p->buf = buf != NULL ? buf : "";
	p->len = len;
	p->dir = cfg_dirname(name);
	p->errs = errs;
	p->flags = flags;
	p->item = SIZE_MAX;
	p->cfg = cfg = xcalloc(1, sizeof(*cfg));
	cfg->path = xstrdup(name);
	if (!yaml_parser_initialize(&p->yp))
		fatalx("config: out of memory");
	yaml_parser_set_input_string(&p->yp, (const unsigned char *)p->buf,
	                             len);

	cfg_defaults(p, &cfg_top_table, cfg);
	if (cfg_document(p) == 0)
		cfg_finish(p);
	cfg_errors_sort(p);

	yaml_event_delete(&p->ev);
	yaml_parser_delete(&p->yp);
	for (size_t i = 0; i < p->ndefer; i++) {
		free(p->defer[i].name);
		free(p->defer[i].path);
	}
	free(p->defer);
	free(p->ids);
	free(p->dir);
	free(p);
	if (errs->n > 0) {
		config_free(cfg);
		cfg = NULL;
	}
	cfg_errors_clear(&local);
	return cfg;
}

struct config *
config_load(const char *path, struct cfg_errors *errs)
{
	return config_load_flags(path, 0, errs);
}

struct config *
config_load_flags(const char *path, int flags, struct cfg_errors *errs)
{
	struct cfg_errors local = {NULL, 0};
	struct config *cfg;
	char why[128], *buf, *msg;
	size_t len;

	if (errs == NULL)
		errs = &local;
	cfg_errors_clear(errs);
	if (cfg_slurp(path, CONFIG_MAX_FILE, &buf, &len, why, sizeof(why)) ==
	    -1) {
		xasprintf(&msg, "%s: %s", path, why);
		cfg_errors_push(errs, msg);
		cfg_errors_clear(&local);
		return NULL;
	}
	cfg = cfg_load(path, buf, len, flags, errs);
	explicit_bzero(buf, len); /* may hold literal keys */
	free(buf);
	cfg_errors_clear(&local);
	return cfg;
}

/* Frees what the schema rows of T stored into BASE. */
static void
cfg_free_table(const struct cfg_table *t, void *base)
{
	for (const struct cfg_key *k = t->keys; k->name != NULL; k++) {
		switch (k->type) {
		case CFG_STRING:
		case CFG_SECRET:
		case CFG_HOSTPORT:
			cfg_set_str(k, base, NULL);
			break;
		case CFG_STRLIST:
		case CFG_ROUTES:
			cfg_list_clear(k, base);
			break;
		case CFG_TABLE:
			cfg_free_table(k->sub, cfg_field(base, k->off));
			break;
		case CFG_SEQ: {
			char *arr = cfg_ptr_get(base, k->off);
			size_t *n = cfg_field(base, k->off2);

			for (size_t i = 0; i < *n; i++)
				cfg_free_table(k->sub, arr + i * k->elsize);
			free(arr);
			cfg_ptr_set(base, k->off, NULL);
			*n = 0;
			break;
		}
		case CFG_CURRENCIES: {
			struct config *cfg = base;

			for (size_t i = 0; i < cfg->ncurrencies; i++)
				free(cfg->currencies[i].code);
			free(cfg->currencies);
			cfg->currencies = NULL;
			cfg->ncurrencies = 0;
			break;
		}
		default: /* CFG_KEYFILE shares the key with CFG_SECRET */
			break;
		}
	}
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->nupstreams; i++)
		free(cfg->upstreams[i].key_error);
	cfg_free_table(&cfg_top_table, cfg);
	free(cfg->path);
	free(cfg);
}

const struct cfg_upstream *
config_upstream(const struct config *cfg, const char *name)
{
	int i = cfg_upstream_index(cfg, name);

	return i == -1 ? NULL : &cfg->upstreams[i];
}

int
config_currency_value(const struct config *cfg, const char *code, money_t *out)
{
	if (strcmp(code, cfg->currency) == 0) {
		*out = MONEY_SCALE;
		return 0;
	}
	for (size_t i = 0; i < cfg->ncurrencies; i++) {
		if (strcmp(cfg->currencies[i].code, code) == 0) {
			*out = cfg->currencies[i].value;
			return 0;
		}
	}
	return -1;
}
