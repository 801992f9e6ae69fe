/* fuzz_match.c - libFuzzer target for the service matcher (lib/match*.c):
 * upstream service names are untrusted bytes.
 *
 * The input, cut at newlines, is up to 8 service names (any bytes; a NUL
 * ends a name).  Each name goes through match_norm, whose output must be
 * valid UTF-8, shorter than MATCH_NORM_MAX, without leading, trailing or
 * doubled spaces, with as many tokens as it says, and the same a second
 * time.  Then the names are matched as services of 3 upstreams (name i on
 * upstream i % 3, the types and refill flags taken from the input's first
 * byte): every group has 2 or more members, one per upstream at most,
 * valid indices, a score from the minimum to 1, cheapest first; and the
 * text, YAML and JSON renderers run over it.  Seeds: tests/fuzz/corpus/match. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "match.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NAMES 8

static void
fuzz_check_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t k = *p < 0x80             ? 1
		           : (*p & 0xe0) == 0xc0 ? 2
		           : (*p & 0xf0) == 0xe0 ? 3
		           : (*p & 0xf8) == 0xf0 ? 4
		                                 : 0;

		if (k == 0)
			abort();
		for (size_t i = 1; i < k; i++)
			if ((p[i] & 0xc0) != 0x80)
				abort();
		p += k;
	}
}

static void
fuzz_check_norm(const char *name)
{
	char out[MATCH_NORM_MAX], again[MATCH_NORM_MAX];
	size_t n = match_norm(name, out, sizeof(out)), spaces = 0, len;

	len = strlen(out);
	if (len >= MATCH_NORM_MAX)
		abort();
	fuzz_check_utf8(out);
	if (len > 0 && (out[0] == ' ' || out[len - 1] == ' '))
		abort();
	if (strstr(out, "  ") != NULL)
		abort();
	for (size_t i = 0; i < len; i++)
		spaces += out[i] == ' ';
	if ((len == 0 && n != 0) || (len > 0 && n != spaces + 1))
		abort();
	if (match_norm(name, again, sizeof(again)) != n ||
	    strcmp(out, again) != 0)
		abort();
	/* A short buffer is never overrun and always terminated. */
	match_norm(name, again, 8);
	if (strlen(again) >= 8)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const types[] = {"Default", "Package",
	                                    "Custom Comments"};
	static const char *const names[] = {"alpha", "beta", "gamma"};
	char *copy = malloc(size + 1), *p, *end;
	struct match_item items[FUZZ_NAMES];
	struct match_result r;
	unsigned flags = size > 0 ? data[0] : 0;
	size_t n = 0;
	char *buf = NULL;
	size_t blen = 0;
	FILE *f;
	json_t *j;

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (p = copy; n < FUZZ_NAMES && p <= copy + size; p = end + 1) {
		struct match_item *it = &items[n];

		end = strchr(p, '\n');
		if (end == NULL)
			end = p + strlen(p);
		*end = '\0';
		fuzz_check_norm(p);
		memset(it, 0, sizeof(*it));
		it->upstream = n % 3;
		it->id = (int64_t)n + 1;
		it->name = p;
		it->type = types[((flags >> (n % 4)) & 3) % 3];
		it->category = n % 2 ? p : "";
		it->refill_time = n == 3 ? p : NULL;
		it->cost = (money_t)((n * 7919 + flags) % 5000) - 10;
		it->min = (int64_t)(n * 10);
		it->max = (int64_t)(n * 1000 + flags);
		it->refill = (int)((flags >> n) & 1) - (n == 5);
		it->dripfeed = (flags >> 7) & 1;
		n++;
		if (end >= copy + size)
			break;
	}
	for (int pass = 0; pass < 2; pass++) {
		double min = pass == 0 ? 0.0 : MATCH_DEFAULT_SCORE;

		if (match_run(items, n, 3, min, &r) != 0)
			abort();
		for (size_t g = 0; g < r.n; g++) {
			int seen[3] = {0, 0, 0};

			if (r.v[g].n < 2 || r.v[g].score < min ||
			    r.v[g].score > 1.0)
				abort();
			for (size_t k = 0; k < r.v[g].n; k++) {
				size_t m = r.v[g].members[k];

				if (m >= n || seen[items[m].upstream]++)
					abort();
				if (k > 0 &&
				    items[r.v[g].members[k - 1]].cost >= 0 &&
				    items[m].cost >= 0 &&
				    items[r.v[g].members[k - 1]].cost >
				        items[m].cost)
					abort();
			}
		}
		f = open_memstream(&buf, &blen);
		if (f != NULL) {
			match_print_text(f, &r, items, names, 5);
			match_print_yaml(f, &r, items, names, 1000);
			fclose(f);
			free(buf);
			buf = NULL;
		}
		j = match_json(&r, items, names, 5, min);
		if (j == NULL)
			abort();
		json_decref(j);
		match_result_free(&r);
	}
	free(copy);
	return 0;
}
