/* fuzz_params.c - libFuzzer target for lib/params.c.
 *
 * The input is decoded as the body of each supported Content-Type, as a
 * query string and as an ID list.  If it holds a newline, the first line is
 * also used as the Content-Type of the rest, so the type and boundary
 * parsing are fuzzed too (seeds: "multipart/form-data; boundary=XyZ\n...").
 *
 *   clang -fsanitize=fuzzer,address,undefined -Ilib tests/fuzz/fuzz_params.c \
 *       lib/params.c lib/xmalloc.c lib/log.c \
 *       $(pkg-config --cflags --libs jansson libevent) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"
#include "xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fuzz_types[] = {
    NULL,
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=XyZ",
    "multipart/form-data; boundary=\"a b\"",
    "application/json",
    "text/plain",
};

/* Decode BODY by CTYPE and check what came out. */
static void
fuzz_one(const char *ctype, const char *body, size_t len, int query)
{
	struct params *p = params_new();
	const char *why = NULL, *name, *value;
	enum params_result r;
	size_t i, n;

	if (query)
		r = params_decode_query(p, body, len, &why);
	else
		r = params_decode_body(p, ctype, body, len, &why);
	n = params_count(p);
	if ((r == PARAMS_OK) != (why == NULL) || n > PARAMS_MAX_FIELDS ||
	    (r != PARAMS_OK && n != 0))
		abort();
	for (i = 0; i < n; i++) {
		if (params_at(p, i, &name, &value) != 0 || strlen(name) == 0 ||
		    strlen(name) > PARAMS_MAX_NAME ||
		    params_get(p, name) != value)
			abort();
		(void)strlen(value);
	}
	params_set_default(p, "key", "k");
	params_free(p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly SIZE bytes, so any over-read is caught. */
	char *body = xmalloc(size), *s, *ctype;
	const char *nl;
	int64_t ids[100];
	size_t i, n;

	memcpy(body, data, size);
	for (i = 0; i < sizeof fuzz_types / sizeof fuzz_types[0]; i++)
		fuzz_one(fuzz_types[i], body, size, 0);
	fuzz_one(NULL, body, size, 1);
	if ((nl = memchr(body, '\n', size)) != NULL) {
		ctype = xstrndup(body, nl - body);
		fuzz_one(ctype, nl + 1, size - (nl + 1 - body), 0);
		free(ctype);
	}
	s = xstrndup(body, size);
	if (idlist_parse(s, ids, 100, &n) == IDLIST_OK && (n == 0 || n > 100))
		abort();
	free(s);
	free(body);
	return 0;
}
