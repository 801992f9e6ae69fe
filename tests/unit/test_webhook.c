/* test_webhook.c - the pure parts of webhook deliveries: the body's exact
 * bytes per event type, the signature (against HMAC-SHA256 values computed
 * apart, with Python's hmac module), the backoff, and which destinations
 * an endpoint may have (lib/netaddr.h). */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "money.h"
#include "netaddr.h"
#include "store.h"
#include "webhook.h"

static void
want_body(const struct webhook_event *ev, const char *w)
{
	struct buf b;
	char *got;

	buf_init(&b, 1 << 16);
	webhook_body(&b, ev, "USD", 5);
	got = strndup(b.data, b.len);
	if (strcmp(got, w) != 0)
		fail_msg("got  %s\nwant %s", got, w);
	free(got);
	buf_free(&b);
}

static void
test_body(void **state)
{
	struct webhook_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.id = 7;
	ev.created_at = 1700000000;
	ev.type = WEBHOOK_EV_BALANCE;
	ev.balance = 450000000;   /* 4.5 */
	ev.threshold = 500000000; /* 5 */
	want_body(&ev, "{\"id\":\"evt_7\",\"type\":\"balance.low\",\"created\":"
	               "1700000000,\"data\":{\"balance\":\"4.50000\","
	               "\"threshold\":\"5.00000\",\"currency\":\"USD\"}}");

	/* an order as the status action shows it: the charge net of the
	 * refund, In progress for an active "Processing" */
	ev.type = WEBHOOK_EV_STATUS;
	ev.order.id = 42;
	ev.order.state = ORDER_ACTIVE;
	strcpy(ev.order.upstream_status, "Processing");
	ev.order.charge = 125000000; /* 1.25 */
	ev.order.start_count = 10;
	ev.order.remains = 300;
	ev.order.upstream_quantity = 1000;
	want_body(&ev,
	          "{\"id\":\"evt_7\",\"type\":\"order.status\",\"created\":"
	          "1700000000,\"data\":{\"order\":42,\"charge\":"
	          "\"1.25000\",\"start_count\":\"10\",\"status\":\"In "
	          "progress\",\"remains\":\"300\",\"currency\":\"USD\"}}");
	ev.order.state = ORDER_PARTIAL;
	ev.order.refunded = 37500000; /* 0.375 */
	want_body(&ev,
	          "{\"id\":\"evt_7\",\"type\":\"order.status\",\"created\":"
	          "1700000000,\"data\":{\"order\":42,\"charge\":"
	          "\"0.87500\",\"start_count\":\"10\",\"status\":"
	          "\"Partial\",\"remains\":\"300\",\"currency\":\"USD\"}}");
	ev.type = WEBHOOK_EV_ACCEPTED;
	ev.order.state = ORDER_ACTIVE;
	ev.order.refunded = 0;
	ev.order.upstream_status[0] = '\0';
	ev.order.start_count = -1;
	ev.order.remains = -1;
	want_body(&ev,
	          "{\"id\":\"evt_7\",\"type\":\"order.accepted\",\"created\":"
	          "1700000000,\"data\":{\"order\":42,\"charge\":\"1.25000\","
	          "\"start_count\":\"0\",\"status\":\"Pending\",\"remains\":"
	          "\"1000\",\"currency\":\"USD\"}}");
	/* a refill's status is the upstream's word: escaped */
	ev.type = WEBHOOK_EV_REFILL;
	ev.refill_id = 9;
	strcpy(ev.status, "Done \"ok\"\n");
	want_body(&ev,
	          "{\"id\":\"evt_7\",\"type\":\"refill.status\",\"created\":"
	          "1700000000,\"data\":{\"refill\":9,\"order\":42,"
	          "\"status\":\"Done \\\"ok\\\"\\n\"}}");
}

static void
test_signature(void **state)
{
	const char *body =
	    "{\"id\":\"evt_7\",\"type\":\"balance.low\",\"created\":1700000000,"
	    "\"data\":{\"balance\":\"4.50000\",\"threshold\":\"5.00000\","
	    "\"currency\":\"USD\"}}";
	char sig[WEBHOOK_SIG_MAX];

	/* python3: hmac.new(b"whsec_abc", b"1700000001." + body,
	 * hashlib.sha256).hexdigest() */
	webhook_signature(sig, "whsec_abc", NULL, 1700000001, body,
	                  strlen(body));
	assert_string_equal(sig, "t=1700000001,v1=b2220098c62c7078b8ac8d806e89"
	                         "157cb106f22a7e5fad904e06f29e45efb791");
	/* during a rotation's overlap, the old secret's too */
	webhook_signature(sig, "whsec_abc", "whsec_old", 1700000001, body,
	                  strlen(body));
	assert_string_equal(sig, "t=1700000001,v1=b2220098c62c7078b8ac8d806e89"
	                         "157cb106f22a7e5fad904e06f29e45efb791,v1="
	                         "772e957bf17604098d702c2e74c4b76cbb8ef1c96b93"
	                         "45f33dbba36b5aab97cf");
}

static void
test_backoff(void **state)
{
	/* 10 s doubled per try, at most an hour; the jitter scales it */
	assert_int_equal(webhook_backoff(1, 10000, 3600000, 1000), 10000);
	assert_int_equal(webhook_backoff(2, 10000, 3600000, 1000), 20000);
	assert_int_equal(webhook_backoff(5, 10000, 3600000, 1000), 160000);
	assert_int_equal(webhook_backoff(9, 10000, 3600000, 1000), 2560000);
	assert_int_equal(webhook_backoff(10, 10000, 3600000, 1000), 3600000);
	assert_int_equal(webhook_backoff(1000000, 10000, 3600000, 1000),
	                 3600000);
	assert_int_equal(webhook_backoff(1, 10000, 3600000, 800), 8000);
	assert_int_equal(webhook_backoff(1, 10000, 3600000, 1200), 12000);
	assert_int_equal(webhook_backoff(1, 150, 3600000, 1200), 180);
}

static int
is_private(const char *addr)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr) ==
	    1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, addr,
	                   &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	else
		fail_msg("not an address: %s", addr);
	return netaddr_private((struct sockaddr *)&ss);
}

static void
test_private(void **state)
{
	static const char *const priv[] = {"127.0.0.1",
	                                   "127.255.0.9",
	                                   "10.0.0.1",
	                                   "172.16.0.1",
	                                   "172.31.255.255",
	                                   "192.168.1.1",
	                                   "169.254.169.254",
	                                   "100.64.0.1",
	                                   "0.0.0.0",
	                                   "255.255.255.255",
	                                   "224.0.0.1",
	                                   "198.18.0.1",
	                                   "::1",
	                                   "::",
	                                   "fe80::1",
	                                   "fc00::1",
	                                   "fd12:3456::1",
	                                   "::ffff:127.0.0.1",
	                                   "::ffff:10.1.2.3",
	                                   "64:ff9b::a01:203",
	                                   "2001:db8::1",
	                                   "2002:a00:1::",
	                                   "ff02::1"};
	static const char *const pub[] = {
	    "1.1.1.1",      "8.8.8.8",
	    "172.32.0.1",   "192.169.0.1",
	    "100.128.0.1",  "2606:4700::1111",
	    "2a00:1450::1", "::ffff:93.184.216.34"};

	for (size_t i = 0; i < sizeof(priv) / sizeof(priv[0]); i++)
		if (!is_private(priv[i]))
			fail_msg("%s is not public", priv[i]);
	for (size_t i = 0; i < sizeof(pub) / sizeof(pub[0]); i++)
		if (is_private(pub[i]))
			fail_msg("%s is public", pub[i]);
}

static void
test_check_url(void **state)
{
	char why[256];

	assert_int_equal(
	    netaddr_check_url("https://10.1.2.3/x", 0, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "private"));
	assert_int_equal(
	    netaddr_check_url("https://[::1]:8443/x", 0, why, sizeof(why)), -1);
	assert_int_equal(
	    netaddr_check_url("https://localhost/", 0, why, sizeof(why)), -1);
	assert_int_equal(
	    netaddr_check_url("http://1.1.1.1/", 0, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "https://"));
	assert_int_equal(
	    netaddr_check_url("https://u:p@1.1.1.1/", 0, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "credentials"));
	assert_int_equal(netaddr_check_url("not a url", 0, why, sizeof(why)),
	                 -1);
	assert_int_equal(
	    netaddr_check_url("gopher://1.1.1.1/", 1, why, sizeof(why)), -1);
	/* public literals pass without a resolver; allow_private passes the
	 * rest */
	assert_int_equal(
	    netaddr_check_url("https://1.1.1.1/hook", 0, why, sizeof(why)), 0);
	assert_int_equal(
	    netaddr_check_url("http://127.0.0.1:9/x", 1, why, sizeof(why)), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_body),      cmocka_unit_test(test_signature),
	    cmocka_unit_test(test_backoff),   cmocka_unit_test(test_private),
	    cmocka_unit_test(test_check_url),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
