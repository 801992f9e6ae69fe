/* config.c - the YAML configuration (SPEC section 3): loading, reference
 * counting and lookups.  The schema is in config_table.c, the walk in
 * config_yaml.c, the values in config_value.c, secrets in config_secret.c and
 * the checks in config_check.c; config_int.h is what they share.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config_int.h"
#include "log.h"
#include "money.h"
#include "xmalloc.h"

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
	cfg->refs = 1;
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

const struct config *
config_ref(const struct config *cfg)
{
	struct config *c = (struct config *)cfg; /* the count only */

	if (c != NULL) {
		if (c->refs < 1 || c->refs == INT_MAX)
			fatalx("config: reference count %d", c->refs);
		c->refs++;
	}
	return cfg;
}

void
config_unref(const struct config *cfg)
{
	struct config *c = (struct config *)cfg; /* its last holder frees it */

	if (c == NULL)
		return;
	if (c->refs < 1)
		fatalx("config: reference count %d", c->refs);
	if (--c->refs > 0)
		return;
	for (size_t i = 0; i < c->nupstreams; i++)
		free(c->upstreams[i].key_error);
	cfg_free_table(&cfg_top_table, c);
	free(c->path);
	free(c);
}

void
config_free(struct config *cfg)
{
	config_unref(cfg);
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
