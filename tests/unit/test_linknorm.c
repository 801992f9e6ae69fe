/* test_linknorm.c - the same-link guard's link key (lib/linknorm.c) against
 * a table of links and the keys they must give. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "linknorm.h"

struct linknorm_case {
	const char *link;
	const char *key; /* NULL: no key (-1) */
};

static const struct linknorm_case cases[] = {
    {"https://instagram.com/p/ABC", "instagram.com/p/ABC"},
    {"http://instagram.com/p/ABC", "instagram.com/p/ABC"},
    {"HTTPS://WWW.Instagram.COM/p/ABC/", "instagram.com/p/ABC"},
    {"  https://www.instagram.com/p/ABC//  ", "instagram.com/p/ABC"},
    {"https://m.facebook.com/page", "facebook.com/page"},
    {"https://instagram.com/p/ABC?utm_source=x&igshid=y",
     "instagram.com/p/ABC"},
    {"https://instagram.com/p/ABC?igsh=1#frag", "instagram.com/p/ABC"},
    {"https://youtube.com/watch?v=XyZ&feature=share&si=abc",
     "youtube.com/watch?v=XyZ"},
    {"https://youtube.com/watch?si=abc&v=XyZ", "youtube.com/watch?v=XyZ"},
    {"https://youtube.com/watch?v=XyZ&t=10", "youtube.com/watch?v=XyZ&t=10"},
    {"https://x.com/u/status/1?ref_src=twsrc&s=20", "x.com/u/status/1?s=20"},
    {"https://t.me/chan?fbclid=1&gclid=2&mibextid=3&ref=4", "t.me/chan"},
    {"https://user:pw@Example.com:443/a", "example.com/a"},
    {"http://example.com:80/a", "example.com/a"},
    {"http://example.com:8080/a", "example.com:8080/a"},
    {"https://example.com./a", "example.com/a"},
    {"https://example.com/A/b", "example.com/A/b"},
    {"https://example.com/a#x?utm_source=1", "example.com/a"},
    {"https://example.com/a?", "example.com/a"},
    {"https://example.com/a?&&x=1&", "example.com/a?x=1"},
    {"https://example.com", "example.com"},
    {"https://www.", "www"},
    {"www.instagram.com/p/ABC/", "instagram.com/p/ABC"},
    {"instagram.com/p/ABC", "instagram.com/p/ABC"},
    {"@SomeUser", "@SomeUser"},
    {"  someuser ", "someuser"},
    {"tg://resolve?domain=x", "tg://resolve?domain=x"},
    {"https://", NULL},
    {"   ", NULL},
    {"", NULL},
};

static void
test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = strlen(cases[i].link);
		char out[256];
		int n = linknorm(cases[i].link, len, out, len + 1);

		if (cases[i].key == NULL) {
			if (n != -1)
				fail_msg("%s: got key %s", cases[i].link, out);
			continue;
		}
		if (n < 0 || strcmp(out, cases[i].key) != 0 ||
		    (size_t)n != strlen(out))
			fail_msg("%s: got %s (%d), want %s", cases[i].link, out,
			         n, cases[i].key);
	}
}

/* The key is a fixed point: normalising it again gives itself. */
static void
test_idempotent(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char a[256], b[256];
		size_t len = strlen(cases[i].link);

		if (linknorm(cases[i].link, len, a, sizeof(a)) < 0)
			continue;
		if (strchr(a, '/') == NULL || strchr(a, ':') != NULL)
			continue; /* bare names stay as given anyway */
		assert_true(linknorm(a, strlen(a), b, sizeof(b)) >= 0);
		assert_string_equal(a, b);
	}
}

static void
test_small_buffer(void **state)
{
	char out[8];

	(void)state;
	assert_int_equal(linknorm("https://example.com/a", 21, out, 8), -1);
	assert_int_equal(linknorm("x", 1, out, 0), -1);
	assert_int_equal(linknorm("ab", 2, out, 3), 2);
	assert_string_equal(out, "ab");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_idempotent),
	    cmocka_unit_test(test_small_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
