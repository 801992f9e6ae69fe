/* fuzz_config.c - libFuzzer target for lib/config.c: config_load_buffer()
 * over arbitrary bytes.
 *
 * Besides not crashing or leaking, the load keeps its contract: a config or
 * errors, never both and never neither; at most CONFIG_MAX_ERRORS messages,
 * each "NAME:LINE:COL: ..." (1-based) or "NAME: ...", in file order,
 * without control characters; never the value of an environment variable
 * in a message (it may be a secret) unless the file holds it too or it is
 * part of a key_file path; and a config that loads holds what config.h
 * promises.
 * Seeds: tests/fuzz/corpus/config (conf/panelmux.yaml and small snippets,
 * broken ones too). */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "money.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The name messages carry; its directory does not exist, so relative
 * key_file paths fail the same way everywhere. */
#define FUZZ_NAME "fuzz-nodir/panelmux.yaml"
/* The value of every ${VAR} the seeds use: it must never be quoted. */
#define FUZZ_SECRET "fzsecret-5d1e"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const vars[] = {"ALPHA_KEY", "BETA_KEY",
	                                   "PGPASSWORD", "PMX_KEY"};

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		setenv(vars[i], FUZZ_SECRET, 1);
	unsetenv("CREDENTIALS_DIRECTORY");
	return 0;
}

/* Leading decimal digits of *S as a positive int, advancing *S; -1 if none
 * or more than INT_MAX. */
static int
fuzz_int(const char **s)
{
	long v = 0;

	if (**s < '0' || **s > '9')
		return -1;
	for (; **s >= '0' && **s <= '9'; (*s)++) {
		v = v * 10 + (**s - '0');
		if (v > INT_MAX)
			return -1;
	}
	return (int)v;
}

/* MSG's position into *LINE and *COL (INT_MAX for a whole-file message),
 * checking its shape.  SECRET_OK: the file itself holds the secret. */
static void
fuzz_error(const char *msg, int secret_ok, int *line, int *col)
{
	size_t n = strlen(FUZZ_NAME);
	const char *p;

	if (strncmp(msg, FUZZ_NAME, n) != 0 || msg[n] != ':')
		abort();
	p = msg + n + 1;
	if (*p == ' ') {
		*line = *col = INT_MAX;
	} else {
		if ((*line = fuzz_int(&p)) < 1 || *p++ != ':' ||
		    (*col = fuzz_int(&p)) < 1 || *p++ != ':' || *p != ' ')
			abort();
	}
	/* A key_file path is expanded too, and quoted on purpose: a path. */
	if (strstr(msg, "].key_file: ") != NULL)
		secret_ok = 1;
	if (p[1] == '\0' || (!secret_ok && strstr(msg, FUZZ_SECRET) != NULL))
		abort();
	/* Quoted values are made printable: messages reach terminals. */
	for (p = msg; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
}

/* The errors of loading BUF (SIZE bytes). */
static void
fuzz_errors(const struct cfg_errors *e, const char *buf, size_t size)
{
	/* The secret may be quoted where the file itself holds it. */
	int secret_ok =
	    memmem(buf, size, FUZZ_SECRET, strlen(FUZZ_SECRET)) != NULL;
	int line, col, pline = 0, pcol = 0;

	if (e->n > CONFIG_MAX_ERRORS)
		abort();
	for (size_t i = 0; i < e->n; i++) {
		fuzz_error(e->msgs[i], secret_ok, &line, &col);
		/* There cannot be more lines than bytes. */
		if ((line != INT_MAX && (size_t)line > size + 1) ||
		    line < pline || (line == pline && col < pcol))
			abort();
		pline = line;
		pcol = col;
	}
}

/* What config.h promises of a loaded config. */
static void
fuzz_config(const struct config *cfg)
{
	money_t one;
	size_t i, j;

	if (strcmp(cfg->path, FUZZ_NAME) != 0 || cfg->listen_api == NULL ||
	    cfg_parse_hostport(cfg->listen_api, NULL, NULL) != 0 ||
	    (cfg->listen_admin != NULL &&
	     cfg_parse_hostport(cfg->listen_admin, NULL, NULL) != 0) ||
	    cfg->npaths < 1 || cfg->currency == NULL ||
	    cfg->money_decimals < 0 || cfg->money_decimals > MONEY_DECIMALS ||
	    (cfg->store_sqlite == NULL) == (cfg->store_postgres == NULL) ||
	    cfg->round_to <= 0)
		abort();
	for (i = 0; i < cfg->npaths; i++)
		if (cfg->paths[i][0] != '/')
			abort();
	if (config_currency_value(cfg, cfg->currency, &one) != 0 ||
	    one != MONEY_SCALE)
		abort();
	for (i = 0; i < cfg->ncurrencies; i++)
		if (cfg->currencies[i].code == NULL ||
		    cfg->currencies[i].value <= 0)
			abort();
	for (i = 0; i < cfg->nupstreams; i++) {
		const struct cfg_upstream *u = &cfg->upstreams[i];

		if (u->name == NULL || u->url == NULL || u->currency == NULL ||
		    config_upstream(cfg, u->name) != u || u->max_batch < 1 ||
		    u->max_batch > 100 || u->max_connections < 1 ||
		    u->max_connections > 256 ||
		    config_currency_value(cfg, u->currency, &one) != 0)
			abort();
	}
	for (i = 0; i < cfg->nservices; i++) {
		const struct cfg_service *s = &cfg->services[i];

		if (s->kind == CFG_SERVICE_IMPORT) {
			if (s->import_upstream >= cfg->nupstreams)
				abort();
			continue;
		}
		if (s->kind != CFG_SERVICE_ROUTE || s->id <= 0 ||
		    s->nroutes < 1)
			abort();
		for (j = 0; j < s->nroutes; j++)
			if (s->routes[j].upstream >= cfg->nupstreams)
				abort();
		for (j = 0; j < i; j++)
			if (cfg->services[j].kind == CFG_SERVICE_ROUTE &&
			    cfg->services[j].id == s->id)
				abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg_errors errs = {NULL, 0};
	struct config *cfg;
	char *buf;
	int loaded;

	/* An exact-size copy, so any over-read is caught. */
	if ((buf = malloc(size > 0 ? size : 1)) == NULL)
		return 0;
	if (size > 0)
		memcpy(buf, data, size);

	cfg = config_load_buffer(FUZZ_NAME, buf, size, &errs);
	loaded = cfg != NULL;
	if (loaded != (errs.n == 0))
		abort();
	fuzz_errors(&errs, buf, size);
	if (cfg != NULL)
		fuzz_config(cfg);
	config_free(cfg);
	cfg_errors_clear(&errs);

	/* Errors discarded: the same verdict, nothing leaked. */
	cfg = config_load_buffer(FUZZ_NAME, buf, size, NULL);
	if ((cfg != NULL) != loaded)
		abort();
	config_free(cfg);
	free(buf);
	return 0;
}
