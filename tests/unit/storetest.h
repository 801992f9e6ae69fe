/* storetest.h - what the store's unit tests share, whichever backend they
 * open (test_store.c: SQLite, test_store_pg.c: PostgreSQL).  The helpers
 * fail the running cmocka test on a store error. */
#ifndef PANELMUX_STORETEST_H
#define PANELMUX_STORETEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "money.h"
#include "store.h"

/* A money literal ("0.6"). */
money_t M(const char *s);
/* Customer NAME (its API key is its name), funded with FUNDS unless NULL. */
int64_t add_customer(struct store *st, const char *name, const char *funds);
money_t balance_of(struct store *st, const char *name);
/* check's violations, each printed. */
int violations(struct store *st);
/* A plain order of CUSTOMER charged CHARGE, on upstream alpha. */
struct order_new new_order(int64_t customer, const char *charge);

/* The debit race: a customer "racer" funded with 100 (made through ST;
 * its ID is returned), then RACE_PROCS processes, each with its own store
 * from OPEN(ARG), try RACE_TRIES orders of random charges (up to about 1.5)
 * on it at once.  Asserts that no process failed, that the balance never
 * went negative and that balance + what the processes were granted is
 * exactly 100; *ORDERS and *CHARGED are what they were granted, for the
 * caller to compare with its store's rows. */
#define RACE_PROCS 8
#define RACE_TRIES 150
int64_t race_debit(struct store *(*open)(void *), void *arg, struct store *st,
                   int64_t *orders, money_t *charged);

/* An order of CID charged CHARGE (queued); its ID. */
int64_t create_order(struct store *st, int64_t cid, const char *charge);
/* An order of CID charged CHARGE, sent and active as upstream order UP. */
int64_t create_active(struct store *st, int64_t cid, const char *charge,
                      const char *up);

/* What a list or claim callback saw: see_order records each order. */
struct seen {
	int64_t ids[128];
	int64_t polled[128];
	size_t n;
};
int see_order(const struct order *o, void *arg);
int seen_has(const struct seen *s, int64_t id);

/* The payment race (storetest_admin.c): a customer "payee", then
 * RACE_PROCS processes, each with its own store from OPEN(ARG), pay
 * PAY_RACE_REFS payments with references "race-0".. (the same references
 * and amounts in every process) at once.  Asserts that every process was
 * told the same payment for a reference, that each was credited exactly
 * once and that check holds.  The customer's ID. */
#define PAY_RACE_REFS 20
int64_t race_payments(struct store *(*open)(void *), void *arg,
                      struct store *st);

/* The contract tests of the operator's data (storetest_admin.c). */
void test_payments(void **state);
void test_pages(void **state);
void test_admin_keys(void **state);
void test_audit(void **state);

/* The contract tests of webhooks and their outbox (storetest_webhooks.c). */
void test_webhook_events(void **state);
void test_webhook_balance(void **state);
void test_webhook_outbox(void **state);

/* The same-link guard's contract (storetest_links.c). */
void test_same_link(void **state);
void test_same_link_reroute(void **state);
/* The contract test of customers' own rates (storetest_pricing.c). */
void test_pricing_store(void **state);

/* The contract suite: the store tests that hold for every backend, written
 * against store.h alone.  Fills OUT (room for MAX) with them, each run
 * between SETUP and TEARDOWN, whose fixture (the cmocka state) must begin
 * with the open struct store *; returns how many. */
#define STORETEST_CONTRACT_MAX 32
size_t storetest_contract(struct CMUnitTest *out, size_t max,
                          CMFixtureFunction setup, CMFixtureFunction teardown);

#endif
