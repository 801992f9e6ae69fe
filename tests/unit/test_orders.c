/* test_orders.c - the pure rules of the order engine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "orders.h"

/* Upstream refusals as real panels word them, and what the customer is
 * told: a standard v2 error, or a neutral sentence; the upstream's name
 * or address never. */
static void
test_refusal_text(void **state)
{
	static const struct {
		const char *upstream, *shown;
	} v[] = {
	    {"Quantity less than minimal 1000",
	     "Quantity less than minimal 1000"},
	    {"Quantity more than maximum 5000",
	     "Quantity more than maximum 5000"},
	    {"neworder.error.min_quantity: 100",
	     "Quantity less than minimal 100"},
	    {"Not enough funds on balance",
	     "This service is temporarily unavailable, please try again "
	     "later"},
	    {"neworder.error.not_enough_funds",
	     "This service is temporarily unavailable, please try again "
	     "later"},
	    {"Invalid API key",
	     "This service is temporarily unavailable, please try again "
	     "later"},
	    {"Incorrect service ID",
	     "This service is temporarily unavailable, please try again "
	     "later"},
	    {"You have active order with this link. Please wait until order "
	     "being completed.",
	     "You have active order with this link. Please wait until order "
	     "being completed."},
	    {"neworder.error.link_duplicate",
	     "You have active order with this link. Please wait until order "
	     "being completed."},
	    {"Incorrect link", "Incorrect link"},
	    {"neworder.error.link", "Incorrect link"},
	    {"Order refused by SuperSMM.example (upstream 127.0.0.1:8123)",
	     "The order was refused, please check it and try again"},
	    {"", "The order was refused, please check it and try again"},
	};
	char buf[96];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		const char *got = orders_refusal_text(v[i].upstream, buf,
		                                      sizeof(buf));

		if (strcmp(got, v[i].shown) != 0)
			fail_msg("\"%s\": got \"%s\", want \"%s\"",
			         v[i].upstream, got, v[i].shown);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refusal_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
