/* config_yaml.c - walking libyaml's event stream against the schema tables.
 *
 * No document tree is built: each mapping is walked by its table, each
 * value stored through its row (config_value.c).  Aliases and anchors are
 * refused, and every error is collected with its position ("FILE:LINE:COL:
 * key.path: message", sorted into file order) so that one run reports all
 * of them.
 */
#include <limits.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config_int.h"
#include "log.h"
#include "xmalloc.h"

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

static int cfg_table(struct cfg_parser *, const struct cfg_table *, void *);

/* Errors. */

void
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
const char *
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

/* At POS, about the key being walked. */
void
cfg_err(struct cfg_parser *p, struct cfg_pos pos, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cfg_verr(p, p->path, pos, fmt, ap);
	va_end(ap);
}

/* At POS, about PATH. */
void
cfg_err_path(struct cfg_parser *p, const char *path, struct cfg_pos pos,
             const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cfg_verr(p, path, pos, fmt, ap);
	va_end(ap);
}

/* At POS, about KEY of the mapping being walked. */
void
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
void
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

/* Walking the schema. */

void
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

int
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
