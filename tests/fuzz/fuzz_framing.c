/* fuzz_framing.c - libFuzzer target for lib/framing.c.
 *
 * The input is a request's header block: one field a line ("Name: value",
 * CR LF or LF), cut at the first colon as evhttp stores them (the value's
 * leading blanks dropped; a line without a colon is a name with an empty
 * value).  framing_check must answer every list without crashing, and its
 * verdict must agree with what it promises: a sound list has at most one
 * Content-Length, of plain digits, never with a Transfer-Encoding.  This
 * cutting is the harness's, not a parser panelmux uses: evhttp parses the
 * real requests.
 *
 *   clang -fsanitize=fuzzer,address,undefined -Ilib tests/fuzz/fuzz_framing.c \
 *       lib/framing.c $(pkg-config --cflags --libs libevent) */
#include <sys/queue.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/keyvalq_struct.h>

#include "framing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_FIELDS 64

/* Sound by the rules framing.h states, checked independently. */
static int
fuzz_sound(const struct evkeyvalq *h)
{
	const struct evkeyval *kv;
	int cl = 0, te = 0;

	TAILQ_FOREACH(kv, h, next)
	{
		if (strcasecmp(kv->key, "Content-Length") == 0) {
			size_t n = strlen(kv->value);

			if (++cl > 1 || n == 0 ||
			    strspn(kv->value, "0123456789") != n ||
			    (kv->value[0] == '0' && n > 1))
				return 0;
		} else if (strcasecmp(kv->key, "Transfer-Encoding") == 0 &&
		           (++te > 1 || strcasecmp(kv->value, "chunked") != 0))
			return 0;
	}
	return !(cl && te);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evkeyval kv[FUZZ_FIELDS];
	struct evkeyvalq h;
	char *buf, *line, *next, *colon;
	size_t n = 0;
	const char *why;

	if ((buf = malloc(size + 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	TAILQ_INIT(&h);
	for (line = buf; line != NULL && n < FUZZ_FIELDS; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line[strcspn(line, "\r")] = '\0';
		if (*line == '\0')
			continue;
		kv[n].key = line;
		kv[n].value = (char *)"";
		if ((colon = strchr(line, ':')) != NULL) {
			*colon = '\0';
			kv[n].value = colon + 1 + strspn(colon + 1, " \t");
		}
		TAILQ_INSERT_TAIL(&h, &kv[n], next);
		n++;
	}
	why = framing_check(&h);
	/* Refusing more (white space in a name) is allowed; passing an
	 * unsound framing is not. */
	if (why == NULL && !fuzz_sound(&h))
		abort();
	if (why != NULL && strlen(why) == 0)
		abort();
	free(buf);
	return 0;
}
