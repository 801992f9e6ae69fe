/* config_value.c - one scalar parsed and stored through its schema row:
 * integers, sizes, durations, rates, markups, amounts, bools, log levels,
 * host:port, URLs and the other validated strings, routes and lists.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_int.h"
#include "log.h"
#include "money.h"
#include "route.h"
#include "xmalloc.h"

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
int
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

const char *
cfg_valid_upstream_name(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 32 ||
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	              "0123456789_-") != n)
		return "must be 1 to 32 of A-Z a-z 0-9 _ -";
	return NULL;
}

const char *
cfg_valid_route_mode(const char *s)
{
	return route_mode_parse(s) < 0 ? "must be ordered or cheapest" : NULL;
}

const char *
cfg_valid_same_link(const char *s)
{
	return route_same_link_parse(s) < 0 ? "must be off, refuse or reroute"
	                                    : NULL;
}

const char *
cfg_valid_currency(const char *s)
{
	size_t n = strlen(s);

	if (n < 3 || n > 8 || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != n)
		return "a currency code is 3 to 8 capital letters";
	return NULL;
}

const char *
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
const char *
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

/* Storing values. */

void *
cfg_field(void *base, size_t off)
{
	return (char *)base + off;
}

/* Pointers in fields of differing types are moved with memcpy. */
void *
cfg_ptr_get(void *base, size_t off)
{
	void *v;

	memcpy(&v, cfg_field(base, off), sizeof(v));
	return v;
}

void
cfg_ptr_set(void *base, size_t off, void *v)
{
	memcpy(cfg_field(base, off), &v, sizeof(v));
}

void
cfg_set_str(const struct cfg_key *k, void *base, char *s)
{
	char **dst = cfg_field(base, k->off);

	if (k->flags & CFG_F_WIPE)
		cfg_wipe_free(*dst);
	else
		free(*dst);
	*dst = s;
}

void
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

void
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
int
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

int
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

int
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
int
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
