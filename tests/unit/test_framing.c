/* test_framing.c - request framing that two HTTP readers could read
 * differently is refused (lib/framing.c). */
#include <sys/queue.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <event2/keyvalq_struct.h>

#include "framing.h"

/* The verdict on FIELDS ("Name", "value" pairs, NULL-terminated): 1 sound,
 * 0 refused. */
static int
sound(const char *const *fields)
{
	struct evkeyval kv[8];
	struct evkeyvalq h;
	size_t n = 0;

	TAILQ_INIT(&h);
	for (; fields[0] != NULL && n < 8; fields += 2, n++) {
		kv[n].key = (char *)fields[0];
		kv[n].value = (char *)fields[1];
		TAILQ_INSERT_TAIL(&h, &kv[n], next);
	}
	return framing_check(&h) == NULL;
}

static void
test_framing(void **state)
{
	static const struct {
		const char *fields[9];
		int sound;
	} v[] = {
	    {{"Host", "x", "Content-Length", "51", NULL}, 1},
	    {{"content-length", "0", NULL}, 1},
	    {{"Transfer-Encoding", "chunked", NULL}, 1},
	    {{"Transfer-Encoding", "CHUNKED", NULL}, 1},
	    {{"Host", "x", NULL}, 1},
	    /* smuggling material */
	    {{"Content-Length", "51", "Content-Length", "0", NULL}, 0},
	    {{"Content-Length", "5", "content-length", "5", NULL}, 0},
	    {{"Content-Length", "+51", NULL}, 0},
	    {{"Content-Length", "-1", NULL}, 0},
	    {{"Content-Length", "051", NULL}, 0},
	    {{"Content-Length", "5 ", NULL}, 0},
	    {{"Content-Length", "", NULL}, 0},
	    {{"Content-Length", "0x10", NULL}, 0},
	    {{"Transfer-Encoding", "chunked", "Content-Length", "4", NULL}, 0},
	    {{"Transfer-Encoding", "gzip, chunked", NULL}, 0},
	    {{"Transfer-Encoding", "chunked", "Transfer-Encoding", "chunked",
	      NULL},
	     0},
	    {{"Content-Length ", "5", NULL}, 0},
	    {{"Transfer-Encoding\t", "chunked", NULL}, 0},
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (sound(v[i].fields) != v[i].sound)
			fail_msg("case %zu (%s: %s ...): want %s", i,
			         v[i].fields[0], v[i].fields[1],
			         v[i].sound ? "sound" : "refused");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_framing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
