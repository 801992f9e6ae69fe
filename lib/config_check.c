/* config_check.c - checks beyond one value: of rows and tables as they are
 * walked, and of the whole file after the walk (route targets, currencies,
 * duplicate service IDs, defaults that depend on other keys).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_int.h"
#include "xmalloc.h"

/* Checks of rows and tables. */

void
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

void
cfg_check_upstream_currency(struct cfg_parser *p, void *base,
                            struct cfg_pos pos)
{
	cfg_defer(p, CFG_DEFER_CURRENCY, 0, NULL, pos);
}

/* A CA bundle the daemon cannot read would fail every call to this
 * upstream as "not sent", each with a TLS error far from its cause: say
 * so at load, where the key is.  A relative path is the config file's
 * directory's, and is stored absolute so a reload from elsewhere reads
 * the same file.  Whether it holds PEM is libcurl's to judge. */
void
cfg_check_upstream_ca_file(struct cfg_parser *p, void *base,
                           struct cfg_pos pos)
{
	struct cfg_upstream *u = base;
	char shown[256], *path;
	const char *why = NULL;
	struct stat st;
	int fd;

	if (u->ca_file == NULL)
		return;
	if (u->ca_file[0] == '/')
		path = xstrdup(u->ca_file);
	else
		xasprintf(&path, "%s/%s", p->dir, u->ca_file);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		why = strerror(errno);
	else if (fstat(fd, &st) == -1)
		why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	if (fd != -1)
		close(fd);
	if (why != NULL) {
		cfg_err(p, pos, "%s: %s", cfg_quote(path, shown, sizeof(shown)),
		        why);
		free(path);
		return;
	}
	free(u->ca_file);
	u->ca_file = path;
}

void
cfg_check_service_id(struct cfg_parser *p, void *base, struct cfg_pos pos)
{
	const struct cfg_service *s = base;

	p->ids = xreallocarray(p->ids, p->nids + 1, sizeof(*p->ids));
	p->ids[p->nids].id = s->id;
	p->ids[p->nids].item = p->item;
	p->ids[p->nids].pos = pos;
	p->nids++;
}

void
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
	if (seen[UP_MAX_DROP].line == 0)
		((struct cfg_upstream *)base)->max_drop = -1;
}

void
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

void
cfg_check_store(struct cfg_parser *p, void *base, const struct cfg_pos *seen,
                struct cfg_pos pos)
{
	if (seen[ST_SQLITE].line > 0 && seen[ST_POSTGRES].line > 0)
		cfg_err_key(p, "postgres", seen[ST_POSTGRES],
		            "give either sqlite or postgres, not both");
}

/* A config written before reads had their own bucket limited every
 * request of a key by rate_per_key: it keeps doing so. */
void
cfg_check_limits(struct cfg_parser *p, void *base, const struct cfg_pos *seen,
                 struct cfg_pos pos)
{
	struct config *cfg = base;

	if (seen[LIM_RATE_PER_KEY].line > 0 &&
	    seen[LIM_READ_RATE_PER_KEY].line == 0)
		cfg->read_rate_per_key = cfg->rate_per_key;
}

/* Whole-file checks. */

int
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

void
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

/* Reloading. */

/* Whether an optional string setting differs between two configs. */
static int
cfg_str_changed(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

static int
cfg_reload_refuse(char *why, size_t len, const char *what)
{
	if (why != NULL && len > 0)
		snprintf(why, len, "%s", what);
	return -1;
}

int
config_reload_check(const struct config *old, const struct config *new,
                    char *why, size_t len)
{
	if (cfg_str_changed(old->listen_api, new->listen_api))
		return cfg_reload_refuse(why, len, "listen.api changed");
	if (cfg_str_changed(old->listen_admin, new->listen_admin))
		return cfg_reload_refuse(why, len, "listen.admin changed");
	if (cfg_str_changed(old->currency, new->currency))
		return cfg_reload_refuse(why, len,
		                         "the panel currency changed");
	if (old->money_decimals != new->money_decimals)
		return cfg_reload_refuse(why, len, "money.decimals changed");
	if (cfg_str_changed(old->store_sqlite, new->store_sqlite) ||
	    cfg_str_changed(old->store_postgres, new->store_postgres))
		return cfg_reload_refuse(why, len, "the store changed");
	if (old->nupstreams != new->nupstreams)
		return cfg_reload_refuse(why, len,
		                         "upstreams were added or removed");
	for (size_t i = 0; i < old->nupstreams; i++)
		if (strcmp(old->upstreams[i].name, new->upstreams[i].name) != 0)
			return cfg_reload_refuse(
			    why, len, "upstreams were renamed or reordered");
	return 0;
}
