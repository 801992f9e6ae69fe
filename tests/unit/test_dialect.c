/* test_dialect.c - upstream reply parsing: the committed corpus of real
 * panel replies (tests/corpus/upstream-replies, read from the repository
 * root), classified as its README says and checked field by field, plus
 * hand-written edge cases. */
#include <dirent.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dialect.h"

#define CORPUS "tests/corpus/upstream-replies"
#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define M(units) ((money_t)(units)) /* money in 1e-8 units */

enum fn {
	FN_ADD,
	FN_BALANCE,
	FN_SERVICES,
	FN_STATUS,
	FN_STATUS_MULTI,
	FN_REFILL,
	FN_REFILL_MULTI,
	FN_REFILL_STATUS,
	FN_REFILL_STATUS_MULTI,
	FN_CANCEL,
	FN_COUNT
};

static const char *const fn_names[FN_COUNT] = {
    "add",          "balance",       "services",
    "status",       "status_multi",  "refill",
    "refill_multi", "refill_status", "refill_status_multi",
    "cancel"};

/* ---- helpers --------------------------------------------------------- */

/* The corpus file NAME in a buffer of exactly its size (so ASan sees any
 * read past the end). */
static char *
slurp(const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	long n;
	char *buf;

	snprintf(path, sizeof(path), "%s/%s", CORPUS, name);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s (run from the repository root)", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc(n > 0 ? (size_t)n : 1);
	assert_non_null(buf);
	if (n > 0)
		assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* A copy of the literal S without its NUL, for the same reason. */
static char *
dup_exact(const char *s, size_t *len)
{
	char *b;

	*len = strlen(s);
	b = malloc(*len > 0 ? *len : 1);
	assert_non_null(b);
	memcpy(b, s, *len);
	return b;
}

/* Split the comma list LIST into IDS (static storage). */
static size_t
split_ids(const char *list, const char **ids, size_t max)
{
	static char store[4096];
	char *p, *save = NULL;
	size_t n = 0;

	snprintf(store, sizeof(store), "%s", list);
	for (p = strtok_r(store, ",", &save); p != NULL && n < max;
	     p = strtok_r(NULL, ",", &save))
		ids[n++] = p;
	return n;
}

/* Run parse function FN on BODY and release what it made; the whole
 * result's message goes into MSG. */
static enum dialect_result
run_fn(enum fn fn, int http, const char *body, size_t len,
       const char *const *ids, size_t nids, char *msg)
{
	enum dialect_result r = DIALECT_FAULT;
	union {
		struct dialect_add add;
		struct dialect_balance bal;
		struct dialect_services sv;
		struct dialect_status_reply st;
		struct dialect_status_multi stm;
		struct dialect_refill rf;
		struct dialect_refill_multi rfm;
		struct dialect_refill_status_reply rs;
		struct dialect_refill_status_multi rsm;
		struct dialect_cancel cn;
	} u;
	size_t i;

#define RUN(call, field, freefn)                                               \
	do {                                                                   \
		r = call;                                                      \
		snprintf(msg, DIALECT_MSG_SZ, "%s", u.field.msg);              \
		freefn;                                                        \
	} while (0)

	switch (fn) {
	case FN_ADD:
		RUN(dialect_add(http, body, len, &u.add), add, (void)0);
		break;
	case FN_BALANCE:
		RUN(dialect_balance(http, body, len, &u.bal), bal, (void)0);
		break;
	case FN_SERVICES:
		RUN(dialect_services(http, body, len, &u.sv), sv,
		    dialect_services_free(&u.sv));
		break;
	case FN_STATUS:
		RUN(dialect_status(http, body, len, &u.st), st, (void)0);
		break;
	case FN_STATUS_MULTI:
		RUN(dialect_status_multi(http, body, len, ids, nids, &u.stm),
		    stm, (void)0);
		/* A whole-reply outcome is every item's outcome. */
		for (i = 0; r != DIALECT_OK && i < u.stm.n; i++)
			assert_int_equal(u.stm.items[i].item,
			                 r == DIALECT_REJECTED
			                     ? DIALECT_ITEM_REJECTED
			                     : DIALECT_ITEM_FAULT);
		dialect_status_multi_free(&u.stm);
		break;
	case FN_REFILL:
		RUN(dialect_refill(http, body, len, &u.rf), rf, (void)0);
		break;
	case FN_REFILL_MULTI:
		RUN(dialect_refill_multi(http, body, len, ids, nids, &u.rfm),
		    rfm, (void)0);
		for (i = 0; r != DIALECT_OK && i < u.rfm.n; i++)
			assert_int_equal(u.rfm.items[i].item,
			                 r == DIALECT_REJECTED
			                     ? DIALECT_ITEM_REJECTED
			                     : DIALECT_ITEM_FAULT);
		dialect_refill_multi_free(&u.rfm);
		break;
	case FN_REFILL_STATUS:
		RUN(dialect_refill_status(http, body, len, &u.rs), rs, (void)0);
		break;
	case FN_REFILL_STATUS_MULTI:
		RUN(dialect_refill_status_multi(http, body, len, ids, nids,
		                                &u.rsm),
		    rsm, (void)0);
		for (i = 0; r != DIALECT_OK && i < u.rsm.n; i++)
			assert_int_equal(u.rsm.items[i].item,
			                 r == DIALECT_REJECTED
			                     ? DIALECT_ITEM_REJECTED
			                     : DIALECT_ITEM_FAULT);
		dialect_refill_status_multi_free(&u.rsm);
		break;
	case FN_CANCEL:
		RUN(dialect_cancel(http, body, len, ids, nids, &u.cn), cn,
		    (void)0);
		for (i = 0; r != DIALECT_OK && i < u.cn.n; i++)
			assert_int_equal(u.cn.items[i].item,
			                 r == DIALECT_REJECTED
			                     ? DIALECT_ITEM_REJECTED
			                     : DIALECT_ITEM_FAULT);
		dialect_cancel_free(&u.cn);
		break;
	case FN_COUNT:
		break;
	}
#undef RUN
	return r;
}

/* Every parse function on BODY must give WANT (with one and with two
 * requested IDs for the multi forms); the message must equal MSG when
 * given. */
static void
expect_everywhere(const char *what, int http, const char *body, size_t len,
                  enum dialect_result want, const char *want_msg)
{
	static const char *const one[] = {"1"};
	static const char *const two[] = {"1", "2"};
	char msg[DIALECT_MSG_SZ];
	enum dialect_result r;
	int f, k;

	for (f = 0; f < FN_COUNT; f++) {
		for (k = 0; k < 2; k++) {
			r = run_fn((enum fn)f, http, body, len, k ? two : one,
			           k ? 2 : 1, msg);
			if (r != want)
				fail_msg("%s via %s (%d IDs): %s, want %s (%s)",
				         what, fn_names[f], k + 1,
				         dialect_result_name(r),
				         dialect_result_name(want), msg);
			assert_true(msg[0] != '\0');
			if (want_msg != NULL)
				assert_string_equal(msg, want_msg);
		}
	}
}

/* ---- corpus classification ------------------------------------------- */

/* Every std-, v1- and var- body that is a definite answer, with the
 * function it answers and the IDs it was asked for. */
static const struct {
	const char *file;
	enum fn fn;
	const char *ids;
} corpus_ok[] = {
    {"std-add-bom.json", FN_ADD, NULL},
    {"std-add.json", FN_ADD, NULL},
    {"std-balance.json", FN_BALANCE, NULL},
    {"std-cancel.json", FN_CANCEL, "9,2"},
    {"std-refill-multi.json", FN_REFILL_MULTI, "1,2,3"},
    {"std-refill-status-multi.json", FN_REFILL_STATUS_MULTI, "1,2,3"},
    {"std-refill-status.json", FN_REFILL_STATUS, NULL},
    {"std-refill.json", FN_REFILL, NULL},
    {"std-services-description.json", FN_SERVICES, NULL},
    {"std-services-int-limits.json", FN_SERVICES, NULL},
    {"std-services-pretty.json", FN_SERVICES, NULL},
    {"std-services.json", FN_SERVICES, NULL},
    {"std-status-multi.json", FN_STATUS_MULTI, "1,10,100"},
    {"std-status.json", FN_STATUS, NULL},
    {"v1-add-string-id.json", FN_ADD, NULL},
    {"v1-add.json", FN_ADD, NULL},
    {"v1-balance-number.json", FN_BALANCE, NULL},
    {"v1-balance.json", FN_BALANCE, NULL},
    {"v1-empty-catalog.json", FN_SERVICES, NULL},
    {"v1-services.json", FN_SERVICES, NULL},
    {"v1-status-multi.json", FN_STATUS_MULTI, "12,2,13"},
    {"v1-status.json", FN_STATUS, NULL},
    {"var-cancel-keyed.json", FN_CANCEL, "4218,4219"},
    {"var-cancel-single.json", FN_CANCEL, "77"},
    {"var-refill-multi-item-string-error.json", FN_REFILL_MULTI, "1"},
    {"var-refill-multi-keyed.json", FN_REFILL_MULTI, "1,3"},
    {"var-refill-status-lower.json", FN_REFILL_STATUS, NULL},
    {"var-refill-status-multi-keyed.json", FN_REFILL_STATUS_MULTI, "1,2,3"},
    {"var-refill-success-text.json", FN_REFILL, NULL},
    {"var-services-bool-variants.json", FN_SERVICES, NULL},
    {"var-status-canceled-lower.json", FN_STATUS, NULL},
    {"var-status-cancelled.json", FN_STATUS, NULL},
    {"var-status-error-word.json", FN_STATUS, NULL},
    {"var-status-fail.json", FN_STATUS, NULL},
    {"var-status-in-progress-title.json", FN_STATUS, NULL},
    {"var-status-in-progress-underscore.json", FN_STATUS, NULL},
    {"var-status-multi-array.json", FN_STATUS_MULTI, "1,10,100"},
    {"var-status-number-fields.json", FN_STATUS, NULL},
    {"var-status-remains-negative.json", FN_STATUS, NULL},
    {"var-status-remains-unknown.json", FN_STATUS, NULL},
};

/* Definite rejections, with the panel's text. */
static const struct {
	const char *file;
	const char *text;
} corpus_rejected[] = {
    {"std-error-active-link.json", "You have active order with this link. "
                                   "Please wait until order being completed."},
    {"std-error-funds.json", "Not enough funds on balance"},
    {"std-error-i18n-key.json", "neworder.error.not_enough_funds"},
    {"std-error-i18n-link.json", "neworder.error.link_duplicate"},
    {"std-error-key.json", "Invalid API key"},
    {"std-error-min.json", "Quantity less than minimal 1000"},
    {"v1-error-envelope.json", "Invalid Interval in minutes"},
    {"var-refill-not-eligible.json", "Order not eligible for refill."},
};

/* Every file of the corpus is classified here, and every entry exists. */
static void
test_corpus_complete(void **state)
{
	DIR *d;
	struct dirent *de;
	size_t i, nfiles = 0, known;
	int found;

	d = opendir(CORPUS);
	if (d == NULL)
		fail_msg("cannot open %s (run from the repository root)",
		         CORPUS);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		nfiles++;
		found = strncmp(de->d_name, "fault-", 6) == 0;
		for (i = 0; !found && i < NELEMS(corpus_ok); i++)
			found = strcmp(de->d_name, corpus_ok[i].file) == 0;
		for (i = 0; !found && i < NELEMS(corpus_rejected); i++)
			found =
			    strcmp(de->d_name, corpus_rejected[i].file) == 0;
		if (!found)
			fail_msg("corpus file %s is not classified in "
			         "test_dialect.c",
			         de->d_name);
	}
	closedir(d);
	known = NELEMS(corpus_ok) + NELEMS(corpus_rejected);
	assert_true(nfiles > known); /* plus the fault- files */
	for (i = 0; i < NELEMS(corpus_ok); i++) {
		size_t len;
		free(slurp(corpus_ok[i].file, &len));
	}
	for (i = 0; i < NELEMS(corpus_rejected); i++) {
		size_t len;
		free(slurp(corpus_rejected[i].file, &len));
	}
}

static void
test_corpus_definite(void **state)
{
	const char *ids[DIALECT_MAX_MULTI];
	char msg[DIALECT_MSG_SZ], *body;
	enum dialect_result r;
	size_t i, len, nids;

	for (i = 0; i < NELEMS(corpus_ok); i++) {
		body = slurp(corpus_ok[i].file, &len);
		nids = corpus_ok[i].ids != NULL
		           ? split_ids(corpus_ok[i].ids, ids, NELEMS(ids))
		           : 0;
		r = run_fn(corpus_ok[i].fn, 200, body, len, ids, nids, msg);
		if (r != DIALECT_OK)
			fail_msg("%s via %s: %s (%s)", corpus_ok[i].file,
			         fn_names[corpus_ok[i].fn],
			         dialect_result_name(r), msg);
		/* The same body behind a 5xx is never an answer. */
		assert_int_equal(
		    run_fn(corpus_ok[i].fn, 502, body, len, ids, nids, msg),
		    DIALECT_FAULT);
		free(body);
	}
}

static void
test_corpus_rejected(void **state)
{
	char *body;
	size_t i, len;

	for (i = 0; i < NELEMS(corpus_rejected); i++) {
		body = slurp(corpus_rejected[i].file, &len);
		expect_everywhere(corpus_rejected[i].file, 200, body, len,
		                  DIALECT_REJECTED, corpus_rejected[i].text);
		expect_everywhere(corpus_rejected[i].file, 500, body, len,
		                  DIALECT_FAULT, "HTTP status 500");
		free(body);
	}
}

static void
test_corpus_faults(void **state)
{
	DIR *d;
	struct dirent *de;
	char *body;
	size_t len, n = 0;

	d = opendir(CORPUS);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "fault-", 6) != 0)
			continue;
		body = slurp(de->d_name, &len);
		expect_everywhere(de->d_name, 200, body, len, DIALECT_FAULT,
		                  NULL);
		free(body);
		n++;
	}
	closedir(d);
	assert_true(n >= 5);
}

/* ---- corpus field values --------------------------------------------- */

static void
test_corpus_add(void **state)
{
	static const struct {
		const char *file, *order;
	} cases[] = {
	    {"std-add.json", "23501"},
	    {"std-add-bom.json", "23501"},
	    {"v1-add.json", "32"},
	    {"v1-add-string-id.json", "32"},
	};
	struct dialect_add a;
	char *body;
	size_t i, len;

	for (i = 0; i < NELEMS(cases); i++) {
		body = slurp(cases[i].file, &len);
		assert_int_equal(dialect_add(200, body, len, &a), DIALECT_OK);
		assert_string_equal(a.order, cases[i].order);
		free(body);
	}
}

static void
test_corpus_balance(void **state)
{
	static const struct {
		const char *file;
		money_t balance;
	} cases[] = {
	    {"std-balance.json", M(10084292000)},
	    {"v1-balance.json", M(3000000)},
	    {"v1-balance-number.json", M(1230000000)},
	};
	struct dialect_balance b;
	char *body;
	size_t i, len;

	for (i = 0; i < NELEMS(cases); i++) {
		body = slurp(cases[i].file, &len);
		assert_int_equal(dialect_balance(200, body, len, &b),
		                 DIALECT_OK);
		assert_int_equal(b.balance, cases[i].balance);
		assert_true(b.has_currency);
		assert_string_equal(b.currency, "USD");
		free(body);
	}
}

static void
test_corpus_services(void **state)
{
	struct dialect_services s, p;
	const struct dialect_service *e;
	char *body;
	size_t len, i;

	body = slurp("std-services.json", &len);
	assert_int_equal(dialect_services(200, body, len, &s), DIALECT_OK);
	free(body);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.nskipped, 0);
	e = &s.v[0];
	assert_int_equal(e->id, 1);
	assert_string_equal(e->name, "Followers");
	assert_string_equal(e->type, "Default");
	assert_string_equal(e->category, "First Category");
	assert_int_equal(e->rate, M(90000000));
	assert_int_equal(e->min, 50);
	assert_int_equal(e->max, 10000);
	assert_true(e->refill);
	assert_true(e->cancel);
	assert_false(e->dripfeed);
	assert_null(e->description);
	assert_null(e->refill_time);
	e = &s.v[1];
	assert_int_equal(e->id, 2);
	assert_string_equal(e->type, "Custom Comments");
	assert_int_equal(e->rate, M(800000000));
	assert_false(e->refill);

	/* The pretty-printed list is the same list. */
	body = slurp("std-services-pretty.json", &len);
	assert_int_equal(dialect_services(200, body, len, &p), DIALECT_OK);
	free(body);
	assert_int_equal(p.n, s.n);
	for (i = 0; i < s.n; i++) {
		assert_int_equal(p.v[i].id, s.v[i].id);
		assert_string_equal(p.v[i].name, s.v[i].name);
		assert_int_equal(p.v[i].rate, s.v[i].rate);
		assert_int_equal(p.v[i].max, s.v[i].max);
	}
	dialect_services_free(&p);
	dialect_services_free(&s);
	dialect_services_free(&s); /* twice is harmless */

	body = slurp("std-services-description.json", &len);
	assert_int_equal(dialect_services(200, body, len, &s), DIALECT_OK);
	free(body);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.v[0].description, "example description");
	assert_string_equal(s.v[0].refill_time, "30");
	dialect_services_free(&s);

	body = slurp("std-services-int-limits.json", &len);
	assert_int_equal(dialect_services(200, body, len, &s), DIALECT_OK);
	free(body);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.v[0].min, 10);
	assert_int_equal(s.v[0].max, 2147483647);
	assert_int_equal(s.v[0].rate, M(1200000));
	assert_true(s.v[0].dripfeed);
	assert_false(s.v[0].refill);
	assert_false(s.v[0].cancel);
	assert_string_equal(s.v[0].category, "YouTube");
	dialect_services_free(&s);

	body = slurp("v1-services.json", &len);
	assert_int_equal(dialect_services(200, body, len, &s), DIALECT_OK);
	free(body);
	assert_int_equal(s.n, 1);
	e = &s.v[0];
	assert_int_equal(e->id, 5);
	assert_string_equal(e->name, "Instagram Followers [15K]");
	assert_string_equal(e->category,
	                    "Instagram - Followers "
	                    "[Guaranteed/Refill] - Less Drops \xe2\xad\x90");
	assert_string_equal(e->type, "Default");
	assert_string_equal(e->description, "usernames");
	assert_int_equal(e->rate, M(102000000));
	assert_int_equal(e->min, 500);
	assert_true(e->dripfeed);
	/* the v1 family lists no refill/cancel: unknown, not false */
	assert_int_equal(e->refill, DIALECT_FLAG_UNKNOWN);
	dialect_services_free(&s);

	body = slurp("v1-empty-catalog.json", &len);
	assert_int_equal(dialect_services(200, body, len, &s), DIALECT_OK);
	free(body);
	assert_int_equal(s.n, 0);
	dialect_services_free(&s);

	body = slurp("var-services-bool-variants.json", &len);
	assert_int_equal(dialect_services(200, body, len, &s), DIALECT_OK);
	free(body);
	assert_int_equal(s.n, 1);
	e = &s.v[0];
	assert_int_equal(e->id, 7);
	assert_int_equal(e->rate, M(10000000)); /* 0.1 as a JSON number */
	assert_int_equal(e->min, 10);
	assert_int_equal(e->max, 5000);
	assert_true(e->refill);
	assert_false(e->cancel);
	assert_false(e->dripfeed);
	assert_string_equal(e->type, "Default");
	dialect_services_free(&s);
}

static void
test_corpus_status(void **state)
{
	static const struct {
		const char *file;
		enum dialect_status status;
		const char *raw;
		money_t charge;
		int64_t start_count, remains;
	} cases[] = {
	    {"std-status.json", DIALECT_STATUS_PARTIAL, "Partial", M(27819000),
	     3572, 157},
	    {"v1-status.json", DIALECT_STATUS_PENDING, "pending", M(3600000), 0,
	     0},
	    /* 0.08011655652 has 11 decimals: a cost rounds up. */
	    {"var-status-cancelled.json", DIALECT_STATUS_CANCELED, "Cancelled",
	     M(8011656), 120, 500},
	    {"var-status-canceled-lower.json", DIALECT_STATUS_CANCELED,
	     "canceled", M(50000000), 0, 100},
	    {"var-status-fail.json", DIALECT_STATUS_FAIL, "Fail", M(0), 0,
	     1000},
	    {"var-status-error-word.json", DIALECT_STATUS_FAIL, "Error", M(0),
	     0, 1000},
	    {"var-status-in-progress-underscore.json",
	     DIALECT_STATUS_IN_PROGRESS, "in_progress", M(50000000), 0, 100},
	    {"var-status-in-progress-title.json", DIALECT_STATUS_IN_PROGRESS,
	     "In Progress", M(144219000), 234, 10},
	    {"var-status-remains-negative.json", DIALECT_STATUS_COMPLETED,
	     "Completed", M(120000000), 10, -2},
	    {"var-status-number-fields.json", DIALECT_STATUS_REFUNDED,
	     "Refunded", M(10000000), 120, 0},
	};
	struct dialect_status_reply s;
	char *body;
	size_t i, len;

	for (i = 0; i < NELEMS(cases); i++) {
		body = slurp(cases[i].file, &len);
		assert_int_equal(dialect_status(200, body, len, &s),
		                 DIALECT_OK);
		free(body);
		assert_int_equal(s.st.status, cases[i].status);
		assert_string_equal(s.st.status_raw, cases[i].raw);
		assert_true(s.st.has_charge);
		assert_int_equal(s.st.charge, cases[i].charge);
		assert_true(s.st.has_start_count);
		assert_int_equal(s.st.start_count, cases[i].start_count);
		assert_true(s.st.has_remains);
		assert_false(s.st.remains_unknown);
		assert_int_equal(s.st.remains, cases[i].remains);
	}

	body = slurp("var-status-remains-unknown.json", &len);
	assert_int_equal(dialect_status(200, body, len, &s), DIALECT_OK);
	free(body);
	assert_int_equal(s.st.status, DIALECT_STATUS_PROCESSING);
	assert_false(s.st.has_remains);
	assert_true(s.st.remains_unknown);
	assert_false(s.st.has_currency); /* v1 sends none */
	assert_int_equal(s.st.charge, M(50000000));

	body = slurp("std-status.json", &len);
	assert_int_equal(dialect_status(200, body, len, &s), DIALECT_OK);
	free(body);
	assert_true(s.st.has_currency);
	assert_string_equal(s.st.currency, "USD");
}

static void
test_corpus_status_multi(void **state)
{
	static const char *const std_ids[] = {"1", "10", "100", "555"};
	static const char *const v1_ids[] = {"12", "2", "13"};
	struct dialect_status_multi m;
	char *body;
	size_t len;

	body = slurp("std-status-multi.json", &len);
	assert_int_equal(dialect_status_multi(200, body, len, std_ids, 4, &m),
	                 DIALECT_OK);
	free(body);
	assert_int_equal(m.n, 4);
	assert_string_equal(m.items[0].order, "1");
	assert_int_equal(m.items[0].item, DIALECT_ITEM_OK);
	assert_int_equal(m.items[0].st.status, DIALECT_STATUS_PARTIAL);
	assert_int_equal(m.items[0].st.charge, M(27819000));
	assert_int_equal(m.items[0].st.remains, 157);
	assert_int_equal(m.items[1].item, DIALECT_ITEM_REJECTED);
	assert_string_equal(m.items[1].msg, "Incorrect order ID");
	assert_int_equal(m.items[2].item, DIALECT_ITEM_OK);
	assert_int_equal(m.items[2].st.status, DIALECT_STATUS_IN_PROGRESS);
	assert_int_equal(m.items[2].st.start_count, 234);
	assert_int_equal(m.items[3].item, DIALECT_ITEM_MISSING);
	assert_int_equal(m.nextra, 0);
	dialect_status_multi_free(&m);

	/* v1: bare-string errors, lower-case words, string IDs. */
	body = slurp("v1-status-multi.json", &len);
	assert_int_equal(dialect_status_multi(200, body, len, v1_ids, 3, &m),
	                 DIALECT_OK);
	free(body);
	assert_int_equal(m.items[0].item, DIALECT_ITEM_OK);
	assert_int_equal(m.items[0].st.status, DIALECT_STATUS_PROCESSING);
	assert_int_equal(m.items[0].st.charge, M(126000000));
	assert_int_equal(m.items[1].item, DIALECT_ITEM_REJECTED);
	assert_string_equal(m.items[1].msg, "Incorrect order ID");
	assert_int_equal(m.items[2].item, DIALECT_ITEM_OK);
	assert_int_equal(m.items[2].st.status, DIALECT_STATUS_PENDING);
	assert_int_equal(m.items[2].st.charge, M(63000000));
	dialect_status_multi_free(&m);

	/* The array form, IDs as numbers and strings. */
	body = slurp("var-status-multi-array.json", &len);
	assert_int_equal(dialect_status_multi(200, body, len, std_ids, 3, &m),
	                 DIALECT_OK);
	free(body);
	assert_int_equal(m.items[0].item, DIALECT_ITEM_OK);
	assert_int_equal(m.items[0].st.status, DIALECT_STATUS_PARTIAL);
	assert_int_equal(m.items[1].item, DIALECT_ITEM_REJECTED);
	assert_string_equal(m.items[1].msg, "Incorrect order ID");
	assert_int_equal(m.items[2].item, DIALECT_ITEM_OK);
	assert_int_equal(m.items[2].st.status, DIALECT_STATUS_COMPLETED);
	assert_int_equal(m.items[2].st.remains, 0);
	dialect_status_multi_free(&m);
}

static void
test_corpus_refill(void **state)
{
	static const char *const ids3[] = {"1", "2", "3"};
	static const char *const ids1[] = {"1"};
	static const char *const keyed[] = {"1", "3"};
	struct dialect_refill r;
	struct dialect_refill_multi m;
	char *body;
	size_t len;

	body = slurp("std-refill.json", &len);
	assert_int_equal(dialect_refill(200, body, len, &r), DIALECT_OK);
	free(body);
	assert_string_equal(r.refill, "1");

	body = slurp("var-refill-success-text.json", &len);
	assert_int_equal(dialect_refill(200, body, len, &r), DIALECT_OK);
	free(body);
	assert_string_equal(r.refill, "12345");

	body = slurp("std-refill-multi.json", &len);
	assert_int_equal(dialect_refill_multi(200, body, len, ids3, 3, &m),
	                 DIALECT_OK);
	free(body);
	assert_int_equal(m.items[0].item, DIALECT_ITEM_OK);
	assert_string_equal(m.items[0].refill, "1");
	assert_int_equal(m.items[1].item, DIALECT_ITEM_OK);
	assert_string_equal(m.items[1].refill, "2");
	assert_int_equal(m.items[2].item, DIALECT_ITEM_REJECTED);
	assert_string_equal(m.items[2].msg, "Incorrect order ID");
	assert_string_equal(m.items[2].refill, "");
	dialect_refill_multi_free(&m);

	body = slurp("var-refill-multi-item-string-error.json", &len);
	assert_int_equal(dialect_refill_multi(200, body, len, ids1, 1, &m),
	                 DIALECT_OK);
	free(body);
	assert_int_equal(m.items[0].item, DIALECT_ITEM_REJECTED);
	assert_string_equal(m.items[0].msg, "Invalid Request");
	dialect_refill_multi_free(&m);

	body = slurp("var-refill-multi-keyed.json", &len);
	assert_int_equal(dialect_refill_multi(200, body, len, keyed, 2, &m),
	                 DIALECT_OK);
	free(body);
	assert_int_equal(m.items[0].item, DIALECT_ITEM_OK);
	assert_string_equal(m.items[0].refill, "21");
	assert_int_equal(m.items[1].item, DIALECT_ITEM_REJECTED);
	dialect_refill_multi_free(&m);
}

static void
test_corpus_refill_status(void **state)
{
	static const char *const ids[] = {"1", "2", "3"};
	struct dialect_refill_status_reply s;
	struct dialect_refill_status_multi m;
	char *body;
	size_t len;

	body = slurp("std-refill-status.json", &len);
	assert_int_equal(dialect_refill_status(200, body, len, &s), DIALECT_OK);
	free(body);
	assert_int_equal(s.status, DIALECT_REFILL_COMPLETED);
	assert_string_equal(s.status_raw, "Completed");

	body = slurp("var-refill-status-lower.json", &len);
	assert_int_equal(dialect_refill_status(200, body, len, &s), DIALECT_OK);
	free(body);
	assert_int_equal(s.status, DIALECT_REFILL_PENDING);

	body = slurp("std-refill-status-multi.json", &len);
	assert_int_equal(
	    dialect_refill_status_multi(200, body, len, ids, 3, &m),
	    DIALECT_OK);
	free(body);
	assert_string_equal(m.items[0].refill, "1");
	assert_int_equal(m.items[0].item, DIALECT_ITEM_OK);
	assert_int_equal(m.items[0].status, DIALECT_REFILL_COMPLETED);
	assert_int_equal(m.items[1].item, DIALECT_ITEM_OK);
	assert_int_equal(m.items[1].status, DIALECT_REFILL_REJECTED);
	assert_int_equal(m.items[2].item, DIALECT_ITEM_REJECTED);
	assert_string_equal(m.items[2].msg, "Refill not found");
	dialect_refill_status_multi_free(&m);

	body = slurp("var-refill-status-multi-keyed.json", &len);
	assert_int_equal(
	    dialect_refill_status_multi(200, body, len, ids, 3, &m),
	    DIALECT_OK);
	free(body);
	assert_int_equal(m.items[0].status, DIALECT_REFILL_COMPLETED);
	assert_int_equal(m.items[1].item, DIALECT_ITEM_OK);
	assert_int_equal(m.items[1].status, DIALECT_REFILL_IN_PROGRESS);
	assert_string_equal(m.items[1].status_raw, "in_progress");
	assert_int_equal(m.items[2].item, DIALECT_ITEM_REJECTED);
	assert_string_equal(m.items[2].msg, "Refill not found");
	dialect_refill_status_multi_free(&m);
}

static void
test_corpus_cancel(void **state)
{
	static const char *const std_ids[] = {"9", "2"};
	static const char *const keyed_ids[] = {"4218", "4219", "4220"};
	static const char *const one[] = {"77"};
	struct dialect_cancel c;
	char *body;
	size_t len;

	body = slurp("std-cancel.json", &len);
	assert_int_equal(dialect_cancel(200, body, len, std_ids, 2, &c),
	                 DIALECT_OK);
	free(body);
	assert_string_equal(c.items[0].order, "9");
	assert_int_equal(c.items[0].item, DIALECT_ITEM_REJECTED);
	assert_string_equal(c.items[0].msg, "Incorrect order ID");
	assert_int_equal(c.items[1].item, DIALECT_ITEM_OK);
	dialect_cancel_free(&c);

	body = slurp("var-cancel-keyed.json", &len);
	assert_int_equal(dialect_cancel(200, body, len, keyed_ids, 3, &c),
	                 DIALECT_OK);
	free(body);
	assert_int_equal(c.items[0].item, DIALECT_ITEM_OK);
	assert_int_equal(c.items[1].item, DIALECT_ITEM_REJECTED);
	assert_string_equal(c.items[1].msg, "Cannot cancel");
	assert_int_equal(c.items[2].item, DIALECT_ITEM_MISSING);
	dialect_cancel_free(&c);

	body = slurp("var-cancel-single.json", &len);
	assert_int_equal(dialect_cancel(200, body, len, one, 1, &c),
	                 DIALECT_OK);
	free(body);
	assert_int_equal(c.items[0].item, DIALECT_ITEM_OK);
	dialect_cancel_free(&c);
}

/* ---- hand-written edge cases ----------------------------------------- */

/* The balance of the literal JSON, asserting the result. */
static money_t
balance_of(const char *json, enum dialect_result want)
{
	struct dialect_balance b;
	enum dialect_result r;
	size_t len;
	char *body = dup_exact(json, &len);

	r = dialect_balance(200, body, len, &b);
	free(body);
	if (r != want)
		fail_msg("%s: %s, want %s (%s)", json, dialect_result_name(r),
		         dialect_result_name(want), b.msg);
	return b.balance;
}

static void
test_numbers(void **state)
{
	/* Strings are exact; JSON numbers go through their shortest text. */
	assert_int_equal(balance_of("{\"balance\":\"0.1\"}", DIALECT_OK),
	                 M(10000000));
	assert_int_equal(balance_of("{\"balance\":0.1}", DIALECT_OK),
	                 M(10000000));
	assert_int_equal(balance_of("{\"balance\":1e-05}", DIALECT_OK),
	                 M(1000));
	assert_int_equal(balance_of("{\"balance\":1E-5}", DIALECT_OK), M(1000));
	assert_int_equal(balance_of("{\"balance\":\"1.0E-5\"}", DIALECT_OK),
	                 M(1000));
	assert_int_equal(balance_of("{\"balance\":2.5e3}", DIALECT_OK),
	                 M(250000000000));
	assert_int_equal(balance_of("{\"balance\":100}", DIALECT_OK),
	                 M(10000000000));
	assert_int_equal(balance_of("{\"balance\":-3.25}", DIALECT_OK),
	                 M(-325000000));
	assert_int_equal(
	    balance_of("{\"balance\":0.30000000000000004}", DIALECT_OK),
	    M(30000000));
	assert_int_equal(
	    balance_of("{\"balance\":123456789.123456789}", DIALECT_OK),
	    M(12345678912345679));
	/* A balance is rounded down past 8 decimals. */
	assert_int_equal(
	    balance_of("{\"balance\":\"0.123456789\"}", DIALECT_OK),
	    M(12345678));
	assert_int_equal(balance_of("{\"balance\":\" 12.5 \"}", DIALECT_OK),
	                 M(1250000000));
	assert_int_equal(balance_of("{\"balance\":1e-300}", DIALECT_FAULT), 0);

	/* Huge numbers are faults, never wrapped. */
	balance_of("{\"balance\":1e30}", DIALECT_FAULT);
	balance_of("{\"balance\":\"1e30\"}", DIALECT_FAULT);
	balance_of("{\"balance\":1e400}", DIALECT_FAULT);
	balance_of("{\"balance\":99999999999999999999}", DIALECT_FAULT);
	balance_of("{\"balance\":\"92233720368.54775808\"}", DIALECT_FAULT);
	balance_of("{\"balance\":\"1e99999\"}", DIALECT_FAULT);
	balance_of("{\"balance\":\"1,000.50\"}", DIALECT_FAULT);
	balance_of("{\"balance\":\"abc\"}", DIALECT_FAULT);
	balance_of("{\"balance\":true}", DIALECT_FAULT);
	balance_of("{\"balance\":null}", DIALECT_FAULT);
	balance_of("{\"currency\":\"USD\"}", DIALECT_FAULT);
	assert_int_equal(balance_of("{\"balance\":92233720368}", DIALECT_OK),
	                 INT64_C(9223372036800000000));
}

static void
test_transport_faults(void **state)
{
	static const char *const bodies[] = {
	    "",
	    " \r\n\t ",
	    "\xef\xbb\xbf",
	    "\xef\xbb\xbf  ",
	    "<html><body>Bad gateway</body></html>",
	    "{\"order\":",
	    "{\"order\":1",
	    "[{\"order\":1,\"cancel\":1}",
	    "{\"order\":1}}",
	    "{\"order\":1} trailing",
	    "{\"order\":1}\n{\"order\":2}",
	    "\"Incorrect request\"",
	    "12345",
	    "true",
	    "null",
	    "Warning: something went wrong",
	    "{\"order\":1,\"order\":2}",
	    "{\"error\":\"bad\",\"error\":\"worse\"}",
	    "{'order': 1}",
	    "{\"order\":\"a\\u0000b\"}",
	    "{\"balance\":\"\xff\xfe\"}",
	    "[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]",
	    "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
	    "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":1}}}}}}}}"
	    "}}}}}}}}}",
	};
	static const char json[] = "{\"order\":23501}";
	char *body;
	size_t i, len;
	int codes[] = {0, 100, 199, 301, 400, 404, 429, 500, 502, 503, 524};

	for (i = 0; i < NELEMS(bodies); i++) {
		body = dup_exact(bodies[i], &len);
		expect_everywhere(bodies[i], 200, body, len, DIALECT_FAULT,
		                  NULL);
		free(body);
	}
	/* NULL with length 0 is an empty body. */
	expect_everywhere("NULL", 200, NULL, 0, DIALECT_FAULT, "empty reply");
	/* A valid answer behind a non-2xx status is no answer. */
	body = dup_exact(json, &len);
	for (i = 0; i < NELEMS(codes); i++)
		expect_everywhere(json, codes[i], body, len, DIALECT_FAULT,
		                  NULL);
	free(body);
}

static void
test_fault_reasons(void **state)
{
	struct dialect_add a;
	char *body;
	size_t len;

	body = slurp("fault-cloudflare-524.html", &len);
	assert_int_equal(dialect_add(200, body, len, &a), DIALECT_FAULT);
	free(body);
	assert_string_equal(a.msg, "HTML page, not JSON: example.com | 524: "
	                           "A timeout occurred");
	assert_string_equal(a.order, "");

	body = slurp("fault-php-notice.txt", &len);
	assert_int_equal(dialect_add(200, body, len, &a), DIALECT_FAULT);
	free(body);
	assert_non_null(strstr(a.msg, "Warning"));

	assert_int_equal(dialect_add(502, "{}", 2, &a), DIALECT_FAULT);
	assert_string_equal(a.msg, "HTTP status 502");
	assert_int_equal(dialect_add(200, "", 0, &a), DIALECT_FAULT);
	assert_string_equal(a.msg, "empty reply");
	assert_int_equal(dialect_add(200, "[]", 2, &a), DIALECT_FAULT);
	assert_int_equal(dialect_add(200, "{\"order\":", 9, &a), DIALECT_FAULT);
	assert_non_null(strstr(a.msg, "not JSON"));
	/* Nesting: a good answer with a deep extra member, at the limit and
	 * one past it. */
	{
		char deep[128];
		int d;

		for (d = DIALECT_MAX_DEPTH - 1; d <= DIALECT_MAX_DEPTH; d++) {
			snprintf(deep, sizeof(deep),
			         "{\"order\":1,\"x\":%.*s%.*s}", d,
			         "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", d,
			         "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
			assert_int_equal(
			    dialect_add(200, deep, strlen(deep), &a),
			    d < DIALECT_MAX_DEPTH ? DIALECT_OK : DIALECT_FAULT);
		}
		assert_non_null(strstr(a.msg, "nested"));
	}

	body = malloc(DIALECT_MAX_BODY + 1);
	assert_non_null(body);
	memset(body, ' ', DIALECT_MAX_BODY + 1);
	memcpy(body, "{\"order\":1}", 11);
	assert_int_equal(dialect_add(200, body, DIALECT_MAX_BODY + 1, &a),
	                 DIALECT_FAULT);
	assert_non_null(strstr(a.msg, "limit"));
	assert_int_equal(dialect_add(200, body, DIALECT_MAX_BODY, &a),
	                 DIALECT_OK);
	free(body);
}

/* The add result of the literal JSON. */
static enum dialect_result
add_of(const char *json, struct dialect_add *a)
{
	enum dialect_result r;
	size_t len;
	char *body = dup_exact(json, &len);

	r = dialect_add(200, body, len, a);
	free(body);
	return r;
}

static void
test_add_shapes(void **state)
{
	char id64[80], json[160];
	struct dialect_add a;

	assert_int_equal(add_of("{\"order\":\" 77 \"}", &a), DIALECT_OK);
	assert_string_equal(a.order, "77");
	assert_int_equal(add_of("{\"order\":77.0}", &a), DIALECT_OK);
	assert_string_equal(a.order, "77");
	assert_int_equal(add_of("{\"order\":\"AB-12_x\"}", &a), DIALECT_OK);
	assert_string_equal(a.order, "AB-12_x"); /* opaque */
	assert_int_equal(add_of("{\"status\":\"success\",\"data\":"
	                        "{\"order\":5}}",
	                        &a),
	                 DIALECT_OK);
	assert_string_equal(a.order, "5");
	assert_int_equal(add_of("{\"order\":9,\"error\":null}", &a),
	                 DIALECT_OK);
	assert_int_equal(add_of("{\"order\":9,\"error\":false}", &a),
	                 DIALECT_OK);
	assert_int_equal(add_of("{\"order\":9,\"error\":\"\"}", &a),
	                 DIALECT_OK);
	assert_int_equal(add_of("{\"order\":9,\"status\":\"success\","
	                        "\"extra\":[1,2,{\"x\":1}]}",
	                        &a),
	                 DIALECT_OK);
	memset(id64, '7', 64);
	id64[64] = '\0';
	snprintf(json, sizeof(json), "{\"order\":\"%s\"}", id64);
	assert_int_equal(add_of(json, &a), DIALECT_OK);
	assert_string_equal(a.order, id64);

	/* Not an order ID: no answer, so ambiguous for the caller. */
	snprintf(json, sizeof(json), "{\"order\":\"%s7\"}", id64);
	assert_int_equal(add_of(json, &a), DIALECT_FAULT);
	assert_int_equal(add_of("{\"order\":0}", &a), DIALECT_FAULT);
	assert_int_equal(add_of("{\"order\":\"000\"}", &a), DIALECT_FAULT);
	assert_int_equal(add_of("{\"order\":-5}", &a), DIALECT_FAULT);
	assert_int_equal(add_of("{\"order\":1.5}", &a), DIALECT_FAULT);
	assert_int_equal(add_of("{\"order\":\"\"}", &a), DIALECT_FAULT);
	assert_int_equal(add_of("{\"order\":\"12 34\"}", &a), DIALECT_FAULT);
	assert_int_equal(add_of("{\"order\":null}", &a), DIALECT_FAULT);
	assert_int_equal(add_of("{\"order\":[1]}", &a), DIALECT_FAULT);
	assert_int_equal(add_of("{\"status\":\"success\"}", &a), DIALECT_FAULT);
	assert_int_equal(add_of("{}", &a), DIALECT_FAULT);
	assert_int_equal(add_of("[{\"order\":1}]", &a), DIALECT_FAULT);

	/* Both an order and an error: do not guess. */
	assert_int_equal(
	    add_of("{\"order\":9,\"error\":\"Not enough funds\"}", &a),
	    DIALECT_FAULT);
	assert_string_equal(a.order, "");
	assert_int_equal(add_of("{\"status\":\"error\",\"order\":9}", &a),
	                 DIALECT_FAULT);

	/* Refusals in their several shapes. */
	assert_int_equal(
	    add_of("{\"order\":0,\"error\":\"Not enough funds\"}", &a),
	    DIALECT_REJECTED);
	assert_string_equal(a.msg, "Not enough funds");
	assert_int_equal(add_of("{\"status\":\"error\",\"message\":\"Bad "
	                        "link\"}",
	                        &a),
	                 DIALECT_REJECTED);
	assert_string_equal(a.msg, "Bad link");
	assert_int_equal(add_of("{\"status\":\"fail\"}", &a), DIALECT_REJECTED);
	assert_string_equal(a.msg, "error");
	assert_int_equal(add_of("{\"success\":false,\"message\":\"Service "
	                        "disabled\"}",
	                        &a),
	                 DIALECT_REJECTED);
	assert_string_equal(a.msg, "Service disabled");
	assert_int_equal(add_of("{\"error\":{\"message\":\"Nested\"}}", &a),
	                 DIALECT_REJECTED);
	assert_string_equal(a.msg, "Nested");
	assert_int_equal(add_of("{\"error\":1,\"msg\":\"Link invalid\"}", &a),
	                 DIALECT_REJECTED);
	assert_string_equal(a.msg, "Link invalid");
	assert_int_equal(add_of("{\"error\":true}", &a), DIALECT_REJECTED);
	assert_string_equal(a.msg, "error");
	assert_int_equal(add_of("{\"errors\":\"x\",\"error\":[\"First\","
	                        "\"Second\"]}",
	                        &a),
	                 DIALECT_REJECTED);
	assert_string_equal(a.msg, "First");
}

static void
test_error_text_cleaned(void **state)
{
	char json[4096], *p;
	struct dialect_add a;
	size_t i;

	assert_int_equal(add_of("{\"error\":\"  bad\\u0001\\u0007 thing"
	                        "\\r\\n\\tnext\\u0085\\u007f  \"}",
	                        &a),
	                 DIALECT_REJECTED);
	assert_string_equal(a.msg, "bad thing next");
	/* Long texts are cut at a character boundary. */
	p = json + snprintf(json, sizeof(json), "{\"error\":\"");
	for (i = 0; i < 1000; i++) {
		memcpy(p, "\xc3\xa9", 2); /* é */
		p += 2;
	}
	snprintf(p, sizeof(json) - (size_t)(p - json), "\"}");
	assert_int_equal(add_of(json, &a), DIALECT_REJECTED);
	assert_true(strlen(a.msg) < DIALECT_MSG_SZ);
	assert_int_equal(strlen(a.msg) % 2, 0);
	assert_true(strlen(a.msg) >= DIALECT_MSG_SZ - 2);
	for (i = 0; a.msg[i] != '\0'; i += 2)
		assert_memory_equal(a.msg + i, "\xc3\xa9", 2);
	/* An error of only control characters still reads as an error. */
	assert_int_equal(add_of("{\"error\":\"\\u0001\\u0002\"}", &a),
	                 DIALECT_REJECTED);
	assert_string_equal(a.msg, "error");
}

static void
test_status_words(void **state)
{
	static const struct {
		const char *word;
		enum dialect_status st;
	} words[] = {
	    {"Pending", DIALECT_STATUS_PENDING},
	    {"pending", DIALECT_STATUS_PENDING},
	    {"PENDING", DIALECT_STATUS_PENDING},
	    {"In progress", DIALECT_STATUS_IN_PROGRESS},
	    {"In Progress", DIALECT_STATUS_IN_PROGRESS},
	    {"in_progress", DIALECT_STATUS_IN_PROGRESS},
	    {"inprogress", DIALECT_STATUS_IN_PROGRESS},
	    {"in-progress", DIALECT_STATUS_IN_PROGRESS},
	    {"Processing", DIALECT_STATUS_PROCESSING},
	    {"processing", DIALECT_STATUS_PROCESSING},
	    {"Completed", DIALECT_STATUS_COMPLETED},
	    {"complete", DIALECT_STATUS_COMPLETED},
	    {"COMPLETED", DIALECT_STATUS_COMPLETED},
	    {"Partial", DIALECT_STATUS_PARTIAL},
	    {"partial", DIALECT_STATUS_PARTIAL},
	    {"Canceled", DIALECT_STATUS_CANCELED},
	    {"Cancelled", DIALECT_STATUS_CANCELED},
	    {"canceled", DIALECT_STATUS_CANCELED},
	    {"Refunded", DIALECT_STATUS_REFUNDED},
	    {"Fail", DIALECT_STATUS_FAIL},
	    {"Failed", DIALECT_STATUS_FAIL},
	    {"Error", DIALECT_STATUS_FAIL},
	    {"Awaiting", DIALECT_STATUS_UNKNOWN},
	    {"Partially completed", DIALECT_STATUS_UNKNOWN},
	    {"", DIALECT_STATUS_UNKNOWN},
	    {"in progress in progress in progress in progress",
	     DIALECT_STATUS_UNKNOWN},
	};
	static const struct {
		const char *word;
		enum dialect_refill_status st;
	} refill_words[] = {
	    {"Pending", DIALECT_REFILL_PENDING},
	    {"In progress", DIALECT_REFILL_IN_PROGRESS},
	    {"processing", DIALECT_REFILL_IN_PROGRESS},
	    {"Completed", DIALECT_REFILL_COMPLETED},
	    {"Rejected", DIALECT_REFILL_REJECTED},
	    {"Error", DIALECT_REFILL_ERROR},
	    {"failed", DIALECT_REFILL_ERROR},
	    {"Canceled", DIALECT_REFILL_UNKNOWN},
	};
	struct dialect_status_reply s;
	char json[256];
	size_t i;

	for (i = 0; i < NELEMS(words); i++) {
		assert_int_equal(dialect_status_word(words[i].word),
		                 words[i].st);
		snprintf(json, sizeof(json),
		         "{\"status\":\"%s\","
		         "\"remains\":\"5\"}",
		         words[i].word);
		if (words[i].word[0] == '\0') {
			/* An empty word is not a status at all. */
			assert_int_equal(
			    dialect_status(200, json, strlen(json), &s),
			    DIALECT_FAULT);
			continue;
		}
		assert_int_equal(dialect_status(200, json, strlen(json), &s),
		                 DIALECT_OK);
		assert_int_equal(s.st.status, words[i].st);
	}
	/* The unknown word is kept for the log. */
	snprintf(json, sizeof(json), "{\"status\":\"Awaiting\"}");
	assert_int_equal(dialect_status(200, json, strlen(json), &s),
	                 DIALECT_OK);
	assert_string_equal(s.st.status_raw, "Awaiting");
	assert_false(s.st.has_charge);
	assert_false(s.st.has_remains);
	assert_false(s.st.remains_unknown);
	assert_false(s.st.has_currency);
	for (i = 0; i < NELEMS(refill_words); i++)
		assert_int_equal(
		    dialect_refill_status_word(refill_words[i].word),
		    refill_words[i].st);
	assert_int_equal(dialect_status_word(NULL), DIALECT_STATUS_UNKNOWN);
	assert_string_equal(dialect_status_name(DIALECT_STATUS_IN_PROGRESS),
	                    "In progress");
	assert_string_equal(dialect_status_name(DIALECT_STATUS_CANCELED),
	                    "Canceled");
	assert_string_equal(dialect_refill_status_name(DIALECT_REFILL_REJECTED),
	                    "Rejected");
	assert_string_equal(dialect_result_name(DIALECT_FAULT), "fault");
	assert_string_equal(dialect_item_name(DIALECT_ITEM_MISSING), "missing");
}

/* The status of the literal JSON. */
static enum dialect_result
status_of(const char *json, struct dialect_status_reply *s)
{
	enum dialect_result r;
	size_t len;
	char *body = dup_exact(json, &len);

	r = dialect_status(200, body, len, s);
	free(body);
	return r;
}

static void
test_status_shapes(void **state)
{
	struct dialect_status_reply s;

	/* An order whose status is Error is not a refusal... */
	assert_int_equal(
	    status_of("{\"status\":\"Error\",\"charge\":\"1\"}", &s),
	    DIALECT_OK);
	assert_int_equal(s.st.status, DIALECT_STATUS_FAIL);
	assert_int_equal(status_of("{\"status\":\"error\"}", &s), DIALECT_OK);
	assert_int_equal(s.st.status, DIALECT_STATUS_FAIL);
	/* ... but the v1 envelope with a message is. */
	assert_int_equal(status_of("{\"status\":\"error\",\"message\":"
	                           "\"Incorrect order ID\"}",
	                           &s),
	                 DIALECT_REJECTED);
	assert_string_equal(s.msg, "Incorrect order ID");
	assert_int_equal(status_of("{\"status\":\"error\",\"error\":"
	                           "\"Incorrect order ID\"}",
	                           &s),
	                 DIALECT_REJECTED);
	assert_int_equal(status_of("{\"error\":\"Incorrect order ID\"}", &s),
	                 DIALECT_REJECTED);
	assert_int_equal(s.st.status, DIALECT_STATUS_UNKNOWN);
	/* Both a status and an error. */
	assert_int_equal(
	    status_of("{\"status\":\"Pending\",\"error\":\"x\"}", &s),
	    DIALECT_FAULT);
	/* No readable status. */
	assert_int_equal(status_of("{\"charge\":\"1\"}", &s), DIALECT_FAULT);
	assert_int_equal(status_of("{\"status\":5}", &s), DIALECT_FAULT);
	assert_int_equal(status_of("{\"status\":\" \"}", &s), DIALECT_FAULT);
	assert_int_equal(status_of("[]", &s), DIALECT_FAULT);

	/* Lenient fields: unusable ones are absent, never a guess. */
	assert_int_equal(
	    status_of("{\"status\":\"Partial\",\"charge\":\"-1\","
	              "\"start_count\":\"\",\"remains\":null,\"currency\":"
	              "\"US DOLLARS\"}",
	              &s),
	    DIALECT_OK);
	assert_false(s.st.has_charge);
	assert_false(s.st.has_start_count);
	assert_false(s.st.has_remains);
	assert_true(s.st.remains_unknown);
	assert_false(s.st.has_currency);
	assert_int_equal(status_of("{\"status\":\"Partial\",\"charge\":"
	                           "\"0.27819\",\"remains\":\"UNKNOWN\"}",
	                           &s),
	                 DIALECT_OK);
	assert_true(s.st.remains_unknown);
	assert_int_equal(status_of("{\"status\":\"Partial\",\"remains\":"
	                           "\"-25\",\"start_count\":\"12.00\"}",
	                           &s),
	                 DIALECT_OK);
	assert_true(s.st.has_remains);
	assert_int_equal(s.st.remains, -25);
	assert_int_equal(s.st.start_count, 12);
	assert_int_equal(status_of("{\"status\":\"Partial\",\"remains\":"
	                           "99999999999999999999.0}",
	                           &s),
	                 DIALECT_OK);
	assert_false(s.st.has_remains);
	assert_true(s.st.remains_unknown);
	assert_int_equal(status_of("{\"status\":\"success\",\"data\":"
	                           "{\"status\":\"Completed\",\"remains\":0}}",
	                           &s),
	                 DIALECT_OK);
	assert_int_equal(s.st.status, DIALECT_STATUS_COMPLETED);
}

/* The services list of the literal JSON. */
static enum dialect_result
services_of(const char *json, struct dialect_services *s)
{
	enum dialect_result r;
	size_t len;
	char *body = dup_exact(json, &len);

	r = dialect_services(200, body, len, s);
	free(body);
	return r;
}

#define SVC(id, rate, min, max)                                                \
	"{\"service\":" id ",\"name\":\"N" id "\",\"rate\":" rate              \
	",\"min\":" min ",\"max\":" max "}"

static void
test_services_entries(void **state)
{
	struct dialect_services s;

	/* Bad entries are skipped and counted, good ones kept in order. */
	assert_int_equal(
	    services_of(
	        "[" SVC("1", "\"-0.5\"", "1", "2") "," SVC("2", "\"0.5\"", "1", "2") "," SVC(
	            "3", "\"x\"", "1",
	            "2") "," SVC("4", "1", "10",
	                         "5") "," SVC("0", "1", "1",
	                                      "2") ","
	                                           "{\"service\":\"abc\","
	                                           "\"name\":\"x\",\"rate\":1,"
	                                           "\"min\":1,"
	                                           "\"max\":2}," SVC("5", "1", "-1", "2") "," SVC(
	                                               "6", "1e30", "1",
	                                               "2") "," SVC("7", "0",
	                                                            "0",
	                                                            "0") "," SVC("2",
	                                                                         "\"9\"",
	                                                                         "1",
	                                                                         "2") ","
	                                                                              "{\"service\":8,\"rate\":1,\"min\":1,\"max\":2},"
	                                                                              "{\"service\":9,\"name\":\"x\",\"rate\":1,\"max\":2},"
	                                                                              "17,\"str\",null,[]"
	                                                                              "]",
	        &s),
	    DIALECT_OK);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.v[0].id, 2);
	assert_int_equal(s.v[0].rate, M(50000000));
	assert_int_equal(s.v[1].id, 7);
	assert_int_equal(s.v[1].rate, 0);
	assert_int_equal(s.nskipped, 14);
	assert_non_null(strstr(s.msg, "negative rate"));
	dialect_services_free(&s);

	/* An entirely unusable list is a fault. */
	assert_int_equal(services_of("[" SVC("1", "\"-0.5\"", "1", "2") ","
	                                                                "1]",
	                             &s),
	                 DIALECT_FAULT);
	assert_int_equal(s.n, 0);
	assert_null(s.v);
	assert_non_null(strstr(s.msg, "no usable service"));
	dialect_services_free(&s);

	/* An empty list is an empty catalogue. */
	assert_int_equal(services_of("[]", &s), DIALECT_OK);
	assert_int_equal(s.n, 0);
	dialect_services_free(&s);

	/* The wrong top level. */
	assert_int_equal(services_of("{\"service\":1}", &s), DIALECT_FAULT);
	assert_int_equal(services_of("{\"1\":" SVC("1", "1", "1", "2") "}", &s),
	                 DIALECT_FAULT);
	assert_int_equal(services_of("{\"status\":\"success\",\"services\":"
	                             "[" SVC("1", "1", "1", "2") "]}",
	                             &s),
	                 DIALECT_FAULT);
	assert_int_equal(services_of("{\"status\":\"success\",\"data\":"
	                             "{\"1\":" SVC("1", "1", "1", "2") "}}",
	                             &s),
	                 DIALECT_FAULT);
	assert_int_equal(services_of("{\"status\":\"success\",\"data\":"
	                             "null}",
	                             &s),
	                 DIALECT_OK);
	assert_int_equal(s.n, 0);
	assert_int_equal(services_of("{\"error\":\"Invalid API key\"}", &s),
	                 DIALECT_REJECTED);
	assert_string_equal(s.msg, "Invalid API key");
	assert_int_equal(services_of("{\"status\":\"success\",\"data\":[" SVC(
	                                 "3", "\"1.5\"", "1", "2") "]}",
	                             &s),
	                 DIALECT_OK);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.v[0].rate, M(150000000));
	dialect_services_free(&s);
}

static void
test_services_fields(void **state)
{
	struct dialect_services s;

	assert_int_equal(
	    services_of(
	        "[{\"service\":12,\"name\":\"  Big  "
	        "\\n name\",\"type\":\"custom_comments\",\"category\":7,"
	        "\"rate\":\"0.123456789\",\"min\":\"100\",\"max\":1e3,"
	        "\"refill\":\"true\",\"cancel\":\"yes\",\"dripfeed\":1,"
	        "\"description\":\"line 1\\nline 2\\u0001\",\"desc\":\"no\","
	        "\"refill_time\":30,\"platform\":{\"x\":[1,2]}},"
	        "{\"service\":\"13\",\"name\":\"n\",\"type\":\"Drip Magic\","
	        "\"rate\":\"1\",\"min\":1,\"max\":1,\"refill\":2,"
	        "\"cancel\":\"maybe\",\"refill_time\":\"Lifetime\"},"
	        "{\"service\":14,\"name\":\"m\",\"type\":\"\",\"rate\":\"1\","
	        "\"min\":1,\"max\":1,\"desc\":\"short\"}]",
	        &s),
	    DIALECT_OK);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.v[0].name, "Big   name");
	assert_string_equal(s.v[0].type, "Custom Comments");
	assert_string_equal(s.v[0].category, "");
	/* A rate is a cost: rounded up past 8 decimals. */
	assert_int_equal(s.v[0].rate, M(12345679));
	assert_int_equal(s.v[0].min, 100);
	assert_int_equal(s.v[0].max, 1000);
	assert_true(s.v[0].refill);
	assert_true(s.v[0].cancel);
	assert_true(s.v[0].dripfeed);
	assert_string_equal(s.v[0].description, "line 1\nline 2");
	assert_string_equal(s.v[0].refill_time, "30");
	assert_string_equal(s.v[1].type, "Drip Magic");
	/* 2 and "maybe" say nothing readable */
	assert_int_equal(s.v[1].refill, DIALECT_FLAG_UNKNOWN);
	assert_int_equal(s.v[1].cancel, DIALECT_FLAG_UNKNOWN);
	assert_null(s.v[1].description);
	assert_string_equal(s.v[1].refill_time, "Lifetime");
	assert_string_equal(s.v[2].type, "Default");
	assert_string_equal(s.v[2].description, "short");
	dialect_services_free(&s);
}

static void
test_services_limits(void **state)
{
	struct dialect_services s;
	size_t n = DIALECT_MAX_SERVICES + 1, i, len, cap;
	char *body, *p;
	static const char entry[] = "{\"service\":1}";

	/* Over the list limit: a fault, before any entry is read. */
	cap = n * (sizeof(entry)) + 2;
	body = malloc(cap);
	assert_non_null(body);
	p = body;
	*p++ = '[';
	for (i = 0; i < n; i++) {
		memcpy(p, entry, sizeof(entry) - 1);
		p += sizeof(entry) - 1;
		*p++ = i + 1 < n ? ',' : ']';
	}
	len = (size_t)(p - body);
	assert_int_equal(dialect_services(200, body, len, &s), DIALECT_FAULT);
	assert_non_null(strstr(s.msg, "limit"));
	free(body);

	/* A long name or description is cut, not refused. */
	cap = 3 * DIALECT_DESC_MAX;
	body = malloc(cap + 200);
	assert_non_null(body);
	p = body + sprintf(body, "[{\"service\":1,\"rate\":1,\"min\":1,"
	                         "\"max\":2,\"name\":\"");
	memset(p, 'n', DIALECT_NAME_MAX * 2);
	p += DIALECT_NAME_MAX * 2;
	p += sprintf(p, "\",\"description\":\"");
	memset(p, 'd', DIALECT_DESC_MAX * 2);
	p += DIALECT_DESC_MAX * 2;
	p += sprintf(p, "\"}]");
	assert_int_equal(dialect_services(200, body, (size_t)(p - body), &s),
	                 DIALECT_OK);
	assert_int_equal(strlen(s.v[0].name), DIALECT_NAME_MAX);
	assert_int_equal(strlen(s.v[0].description), DIALECT_DESC_MAX);
	dialect_services_free(&s);
	free(body);
}

static void
test_multi_shapes(void **state)
{
	static const char *const ids[] = {"1", "2", "3"};
	static const char *const one[] = {"5"};
	struct dialect_status_multi m;
	struct dialect_refill_multi rm;
	struct dialect_cancel c;
	const char *b;

	/* Answered twice in an array: that item is unreadable. */
	b = "[{\"order\":1,\"status\":\"Completed\"},{\"order\":\"1\","
	    "\"status\":\"Canceled\"},{\"order\":2,\"status\":\"Pending\"},"
	    "{\"order\":99,\"status\":\"Pending\"},{\"status\":\"x\"},7]";
	assert_int_equal(dialect_status_multi(200, b, strlen(b), ids, 3, &m),
	                 DIALECT_OK);
	assert_int_equal(m.items[0].item, DIALECT_ITEM_FAULT);
	assert_int_equal(m.items[1].item, DIALECT_ITEM_OK);
	assert_int_equal(m.items[2].item, DIALECT_ITEM_MISSING);
	assert_int_equal(m.nextra, 3);
	dialect_status_multi_free(&m);

	/* Unreadable items beside good ones. */
	b = "{\"1\":7,\"2\":{\"charge\":\"1\"},\"3\":{\"status\":\"Pending\","
	    "\"error\":\"x\"},\"4\":{}}";
	assert_int_equal(dialect_status_multi(200, b, strlen(b), ids, 3, &m),
	                 DIALECT_OK);
	assert_int_equal(m.items[0].item, DIALECT_ITEM_FAULT);
	assert_int_equal(m.items[1].item, DIALECT_ITEM_FAULT);
	assert_int_equal(m.items[2].item, DIALECT_ITEM_FAULT);
	assert_int_equal(m.nextra, 1);
	dialect_status_multi_free(&m);

	/* A reply that answers none of the IDs. */
	b = "{\"7\":{\"status\":\"Pending\"}}";
	assert_int_equal(dialect_status_multi(200, b, strlen(b), ids, 3, &m),
	                 DIALECT_FAULT);
	assert_int_equal(m.n, 3);
	assert_int_equal(m.items[2].item, DIALECT_ITEM_FAULT);
	assert_string_equal(m.items[2].order, "3");
	dialect_status_multi_free(&m);
	assert_int_equal(dialect_status_multi(200, "[]", 2, ids, 3, &m),
	                 DIALECT_FAULT);
	dialect_status_multi_free(&m);

	/* A whole-reply refusal beside answers is not believed. */
	b = "{\"1\":{\"status\":\"Pending\"},\"error\":\"x\"}";
	assert_int_equal(dialect_status_multi(200, b, strlen(b), ids, 3, &m),
	                 DIALECT_FAULT);
	dialect_status_multi_free(&m);

	/* One ID: the single-order form. */
	b = "{\"charge\":\"1\",\"status\":\"Completed\",\"remains\":\"0\"}";
	assert_int_equal(dialect_status_multi(200, b, strlen(b), one, 1, &m),
	                 DIALECT_OK);
	assert_int_equal(m.items[0].item, DIALECT_ITEM_OK);
	assert_int_equal(m.items[0].st.status, DIALECT_STATUS_COMPLETED);
	dialect_status_multi_free(&m);
	b = "{\"5\":\"Incorrect order ID\"}";
	assert_int_equal(dialect_status_multi(200, b, strlen(b), one, 1, &m),
	                 DIALECT_OK);
	assert_int_equal(m.items[0].item, DIALECT_ITEM_REJECTED);
	dialect_status_multi_free(&m);

	/* Bad requests of IDs. */
	assert_int_equal(dialect_status_multi(200, "{}", 2, ids, 0, &m),
	                 DIALECT_FAULT);
	assert_int_equal(m.n, 0);
	dialect_status_multi_free(&m);
	assert_int_equal(dialect_status_multi(200, "{}", 2, NULL, 1, &m),
	                 DIALECT_FAULT);
	dialect_status_multi_free(&m);
	assert_int_equal(
	    dialect_status_multi(200, "{}", 2, (const char *[]){""}, 1, &m),
	    DIALECT_FAULT);
	dialect_status_multi_free(&m);

	/* Refill values: IDs are digits; other text is an error. */
	b = "[{\"order\":1,\"refill\":\"R-1\"},{\"order\":2,\"refill\":0},"
	    "{\"order\":3,\"refill\":{\"id\":4}}]";
	assert_int_equal(dialect_refill_multi(200, b, strlen(b), ids, 3, &rm),
	                 DIALECT_OK);
	assert_int_equal(rm.items[0].item, DIALECT_ITEM_REJECTED);
	assert_string_equal(rm.items[0].msg, "R-1");
	assert_int_equal(rm.items[1].item, DIALECT_ITEM_FAULT);
	assert_int_equal(rm.items[2].item, DIALECT_ITEM_FAULT);
	dialect_refill_multi_free(&rm);
	b = "[{\"order\":1,\"refill\":5,\"error\":\"x\"}]";
	assert_int_equal(dialect_refill_multi(200, b, strlen(b), ids, 1, &rm),
	                 DIALECT_OK);
	assert_int_equal(rm.items[0].item, DIALECT_ITEM_FAULT);
	dialect_refill_multi_free(&rm);
	b = "{\"refill\":\"8\"}";
	assert_int_equal(dialect_refill_multi(200, b, strlen(b), one, 1, &rm),
	                 DIALECT_OK);
	assert_string_equal(rm.items[0].refill, "8");
	dialect_refill_multi_free(&rm);

	/* Cancel: the accepted words, refusals, and the single forms. */
	b = "[{\"order\":1,\"cancel\":true},{\"order\":2,\"cancel\":\"ok\"},"
	    "{\"order\":3,\"cancel\":0}]";
	assert_int_equal(dialect_cancel(200, b, strlen(b), ids, 3, &c),
	                 DIALECT_OK);
	assert_int_equal(c.items[0].item, DIALECT_ITEM_OK);
	assert_int_equal(c.items[1].item, DIALECT_ITEM_OK);
	assert_int_equal(c.items[2].item, DIALECT_ITEM_REJECTED);
	dialect_cancel_free(&c);
	b = "{\"1\":1,\"2\":\"Order is completed\",\"3\":{\"cancel\":[]}}";
	assert_int_equal(dialect_cancel(200, b, strlen(b), ids, 3, &c),
	                 DIALECT_OK);
	assert_int_equal(c.items[0].item, DIALECT_ITEM_OK);
	assert_int_equal(c.items[1].item, DIALECT_ITEM_REJECTED);
	assert_string_equal(c.items[1].msg, "Order is completed");
	assert_int_equal(c.items[2].item, DIALECT_ITEM_FAULT);
	dialect_cancel_free(&c);
	b = "{\"status\":\"success\"}";
	assert_int_equal(dialect_cancel(200, b, strlen(b), one, 1, &c),
	                 DIALECT_OK);
	dialect_cancel_free(&c);
	b = "{\"cancel\":{\"error\":\"Incorrect order ID\"}}";
	assert_int_equal(dialect_cancel(200, b, strlen(b), one, 1, &c),
	                 DIALECT_REJECTED);
	assert_string_equal(c.msg, "Incorrect order ID");
	assert_int_equal(c.items[0].item, DIALECT_ITEM_REJECTED);
	dialect_cancel_free(&c);
	b = "{\"foo\":1}";
	assert_int_equal(dialect_cancel(200, b, strlen(b), one, 1, &c),
	                 DIALECT_FAULT);
	assert_int_equal(c.items[0].item, DIALECT_ITEM_FAULT);
	dialect_cancel_free(&c);
	b = "{\"foo\":1,\"bar\":2}";
	assert_int_equal(dialect_cancel(200, b, strlen(b), ids, 2, &c),
	                 DIALECT_FAULT);
	dialect_cancel_free(&c);
}

static void
test_multi_limits(void **state)
{
	static const char *ids[DIALECT_MAX_MULTI + 1];
	static char store[DIALECT_MAX_MULTI + 1][8];
	struct dialect_status_multi m;
	char *body, *p;
	size_t i, n;

	for (i = 0; i <= DIALECT_MAX_MULTI; i++) {
		snprintf(store[i], sizeof(store[i]), "%zu", i + 1);
		ids[i] = store[i];
	}
	/* Too many IDs asked. */
	assert_int_equal(
	    dialect_status_multi(200, "{}", 2, ids, DIALECT_MAX_MULTI + 1, &m),
	    DIALECT_FAULT);
	dialect_status_multi_free(&m);

	/* A full keyed reply of the most IDs. */
	body = malloc(64 * (DIALECT_MAX_MULTI + 2));
	assert_non_null(body);
	p = body;
	*p++ = '{';
	for (i = 0; i < DIALECT_MAX_MULTI; i++)
		p += sprintf(p, "%s\"%zu\":{\"status\":\"Pending\"}",
		             i ? "," : "", i + 1);
	*p++ = '}';
	assert_int_equal(dialect_status_multi(200, body, (size_t)(p - body),
	                                      ids, DIALECT_MAX_MULTI, &m),
	                 DIALECT_OK);
	for (i = 0; i < DIALECT_MAX_MULTI; i++)
		assert_int_equal(m.items[i].item, DIALECT_ITEM_OK);
	dialect_status_multi_free(&m);

	/* An array reply longer than the limit. */
	p = body;
	*p++ = '[';
	for (i = 0, n = DIALECT_MAX_MULTI + 1; i < n; i++)
		p += sprintf(p, "%s{\"order\":%zu,\"status\":\"Pending\"}",
		             i ? "," : "", i + 1);
	*p++ = ']';
	assert_int_equal(
	    dialect_status_multi(200, body, (size_t)(p - body), ids, 10, &m),
	    DIALECT_FAULT);
	dialect_status_multi_free(&m);
	free(body);
}

static void
test_refill_status_shapes(void **state)
{
	struct dialect_refill_status_reply s;
	const char *b;

	b = "{\"status\":\"error\",\"message\":\"Refill not found\"}";
	assert_int_equal(dialect_refill_status(200, b, strlen(b), &s),
	                 DIALECT_REJECTED);
	assert_string_equal(s.msg, "Refill not found");
	b = "{\"status\":\"Error\"}";
	assert_int_equal(dialect_refill_status(200, b, strlen(b), &s),
	                 DIALECT_OK);
	assert_int_equal(s.status, DIALECT_REFILL_ERROR);
	b = "{\"status\":{\"error\":\"Refill not found\"}}";
	assert_int_equal(dialect_refill_status(200, b, strlen(b), &s),
	                 DIALECT_REJECTED);
	b = "{\"status\":\"Queued for review\"}";
	assert_int_equal(dialect_refill_status(200, b, strlen(b), &s),
	                 DIALECT_OK);
	assert_int_equal(s.status, DIALECT_REFILL_UNKNOWN);
	assert_string_equal(s.status_raw, "Queued for review");
	b = "{\"refill\":\"1\"}";
	assert_int_equal(dialect_refill_status(200, b, strlen(b), &s),
	                 DIALECT_FAULT);
	b = "{\"status\":[\"Completed\"]}";
	assert_int_equal(dialect_refill_status(200, b, strlen(b), &s),
	                 DIALECT_FAULT);

	{
		struct dialect_refill r;

		b = "{\"refill\":\"Invalid Request\"}";
		assert_int_equal(dialect_refill(200, b, strlen(b), &r),
		                 DIALECT_REJECTED);
		assert_string_equal(r.msg, "Invalid Request");
		b = "{\"refill\":{\"error\":\"Order not found\"}}";
		assert_int_equal(dialect_refill(200, b, strlen(b), &r),
		                 DIALECT_REJECTED);
		assert_string_equal(r.msg, "Order not found");
		b = "{\"refill\":5,\"error\":\"x\"}";
		assert_int_equal(dialect_refill(200, b, strlen(b), &r),
		                 DIALECT_FAULT);
		b = "{\"refill\":true}";
		assert_int_equal(dialect_refill(200, b, strlen(b), &r),
		                 DIALECT_FAULT);
		b = "{\"success\":\"queued\"}";
		assert_int_equal(dialect_refill(200, b, strlen(b), &r),
		                 DIALECT_FAULT);
	}
}

/* Issue 15: a services list over the old 8 MiB parser cap (the download
 * cap was 64 MiB, the list limit 100,000 services) is read; the caps of the
 * services reply agree; what is over them is a fault. */
static void
test_services_large_reply(void **state)
{
	struct dialect_services s;
	size_t n = 20000, i, cap, len;
	char *body, *p, pad[401];

	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	cap = n * (sizeof(pad) + 200) + 16;
	body = malloc(cap);
	assert_non_null(body);
	p = body;
	*p++ = '[';
	for (i = 0; i < n; i++)
		p +=
		    sprintf(p,
		            "%s{\"service\":%zu,\"name\":\"Service %zu %s\","
		            "\"type\":\"Default\",\"category\":\"Big\","
		            "\"rate\":\"0.90\",\"min\":\"10\",\"max\":\"1000\","
		            "\"refill\":true,\"cancel\":false}",
		            i > 0 ? "," : "", i + 1, i + 1, pad);
	*p++ = ']';
	len = (size_t)(p - body);
	assert_true(len > ((size_t)8 << 20)); /* the old cap */
	assert_int_equal(dialect_services(200, body, len, &s), DIALECT_OK);
	assert_int_equal(s.n, n);
	assert_int_equal(s.nskipped, 0);
	assert_int_equal(s.v[n - 1].id, (int64_t)n);
	dialect_services_free(&s);
	free(body);

	/* The parser takes what the transport may deliver for a services
	 * call, and the cap is room for the list limit's entries. */
	assert_true(DIALECT_MAX_SERVICES_BODY >=
	            (size_t)DIALECT_MAX_SERVICES * 512);
	body = malloc(DIALECT_MAX_SERVICES_BODY + 1);
	assert_non_null(body);
	memset(body, ' ', DIALECT_MAX_SERVICES_BODY + 1);
	memcpy(body, "[]", 2);
	assert_int_equal(
	    dialect_services(200, body, DIALECT_MAX_SERVICES_BODY, &s),
	    DIALECT_OK);
	assert_int_equal(
	    dialect_services(200, body, DIALECT_MAX_SERVICES_BODY + 1, &s),
	    DIALECT_FAULT);
	assert_non_null(strstr(s.msg, "limit"));
	/* Other replies keep the ordinary cap. */
	{
		struct dialect_add a;

		memcpy(body, "{\"order\":1}", 11);
		assert_int_equal(
		    dialect_add(200, body, DIALECT_MAX_BODY + 1, &a),
		    DIALECT_FAULT);
	}
	free(body);
}

/* Issue 15: panels write "unlimited" as int64's largest value, often as a
 * string; the service is kept, its limits read as INT64_MAX (the catalogue
 * clamps them), whatever the number of digits. */
static void
test_services_unlimited_max(void **state)
{
	struct dialect_services s;

	assert_int_equal(
	    services_of(
	        "[" SVC("1", "\"0.90\"", "\"10\"", "\"9223372036854775807\"") "," SVC("2", "1", "10", "9223372036854775807") "," SVC(
	            "3", "1", "\"5\"",
	            "\"99999999999999999999\"") "," SVC("4", "1",
	                                                "\"9223372036854775807"
	                                                "\"",
	                                                "\"9223372036854775807"
	                                                "\"") "," SVC("5", "1",
	                                                              "1",
	                                                              "1e300") "," SVC("6",
	                                                                               "1",
	                                                                               "\"-99999999999999999999\"",
	                                                                               "2") "]",
	        &s),
	    DIALECT_OK);
	assert_int_equal(s.n, 5);
	assert_int_equal(s.v[0].id, 1);
	assert_int_equal(s.v[0].min, 10);
	assert_int_equal(s.v[0].max, INT64_MAX);
	assert_int_equal(s.v[1].id, 2);
	assert_int_equal(s.v[1].max, INT64_MAX);
	assert_int_equal(s.v[2].id, 3);
	assert_int_equal(s.v[2].min, 5);
	assert_int_equal(s.v[2].max, INT64_MAX);
	assert_int_equal(s.v[3].id, 4);
	assert_int_equal(s.v[3].min, INT64_MAX);
	assert_int_equal(s.v[3].max, INT64_MAX);
	assert_int_equal(s.v[4].id, 5);
	assert_int_equal(s.v[4].max, INT64_MAX);
	/* a negative minimum is still refused */
	assert_int_equal(s.nskipped, 1);
	dialect_services_free(&s);
}

/* Issue 15: a refill or cancel flag the panel does not list (the v1
 * family lists none) is recorded as unknown, not as false. */
static void
test_services_flags_unknown(void **state)
{
	struct dialect_services s;
	char *body;
	size_t len;

	body = slurp("v1-services.json", &len);
	assert_int_equal(dialect_services(200, body, len, &s), DIALECT_OK);
	free(body);
	assert_int_equal(s.v[0].refill, DIALECT_FLAG_UNKNOWN);
	assert_int_equal(s.v[0].cancel, DIALECT_FLAG_UNKNOWN);
	assert_int_equal(s.v[0].dripfeed, 1);
	dialect_services_free(&s);

	assert_int_equal(
	    services_of("[{\"service\":1,\"name\":\"a\",\"rate\":1,\"min\":1,"
	                "\"max\":2,\"refill\":false,\"cancel\":true},"
	                "{\"service\":2,\"name\":\"b\",\"rate\":1,\"min\":1,"
	                "\"max\":2,\"refill\":null,\"cancel\":\"maybe\"},"
	                "{\"service\":3,\"name\":\"c\",\"rate\":1,\"min\":1,"
	                "\"max\":2}]",
	                &s),
	    DIALECT_OK);
	assert_int_equal(s.v[0].refill, 0);
	assert_int_equal(s.v[0].cancel, 1);
	assert_int_equal(s.v[1].refill, DIALECT_FLAG_UNKNOWN);
	assert_int_equal(s.v[1].cancel, DIALECT_FLAG_UNKNOWN);
	assert_int_equal(s.v[2].refill, DIALECT_FLAG_UNKNOWN);
	assert_int_equal(s.v[2].cancel, DIALECT_FLAG_UNKNOWN);
	assert_int_equal(s.v[2].dripfeed, 0); /* dripfeed stays 0/1 */
	dialect_services_free(&s);
}

/* Issue 15: an answer that names another order (or refill) than the one it
 * is filed under is a fault for that ID: never applied to the ID asked. */
static void
test_multi_names_other_id(void **state)
{
	static const char *const five[] = {"5"};
	static const char *const two[] = {"5", "6"};
	static const char *const refills[] = {"10", "11"};
	struct dialect_status_multi m;
	struct dialect_refill_multi rm;
	struct dialect_refill_status_multi sm;
	struct dialect_cancel c;
	const char *b;

	/* the single-order form naming another order */
	b = "{\"order\":\"6\",\"status\":\"Completed\",\"charge\":\"1\","
	    "\"remains\":\"0\"}";
	assert_int_equal(dialect_status_multi(200, b, strlen(b), five, 1, &m),
	                 DIALECT_FAULT);
	assert_int_equal(m.items[0].item, DIALECT_ITEM_FAULT);
	assert_int_equal(m.items[0].st.status, DIALECT_STATUS_UNKNOWN);
	assert_non_null(strstr(m.items[0].msg, "6"));
	assert_non_null(strstr(m.msg, "6"));
	dialect_status_multi_free(&m);
	/* as a number, and the v1 envelope */
	b = "{\"order\":6,\"status\":\"Canceled\"}";
	assert_int_equal(dialect_status_multi(200, b, strlen(b), five, 1, &m),
	                 DIALECT_FAULT);
	dialect_status_multi_free(&m);
	b = "{\"status\":\"success\",\"data\":{\"order\":\"7\","
	    "\"status\":\"completed\"}}";
	assert_int_equal(dialect_status_multi(200, b, strlen(b), five, 1, &m),
	                 DIALECT_FAULT);
	dialect_status_multi_free(&m);
	/* naming the order asked is fine (the v1 family always does) */
	b = "{\"order\":\"5\",\"status\":\"completed\",\"remains\":\"0\"}";
	assert_int_equal(dialect_status_multi(200, b, strlen(b), five, 1, &m),
	                 DIALECT_OK);
	assert_int_equal(m.items[0].st.status, DIALECT_STATUS_COMPLETED);
	dialect_status_multi_free(&m);
	b = "{\"order\":5,\"status\":\"Completed\"}";
	assert_int_equal(dialect_status_multi(200, b, strlen(b), five, 1, &m),
	                 DIALECT_OK);
	dialect_status_multi_free(&m);

	/* keyed by ID: the item under "5" names 6; "6" is its own */
	b = "{\"5\":{\"order\":\"6\",\"status\":\"Completed\"},"
	    "\"6\":{\"order\":6,\"status\":\"Pending\"}}";
	assert_int_equal(dialect_status_multi(200, b, strlen(b), two, 2, &m),
	                 DIALECT_OK);
	assert_int_equal(m.items[0].item, DIALECT_ITEM_FAULT);
	assert_non_null(strstr(m.items[0].msg, "6"));
	assert_int_equal(m.items[1].item, DIALECT_ITEM_OK);
	assert_int_equal(m.items[1].st.status, DIALECT_STATUS_PENDING);
	dialect_status_multi_free(&m);

	/* refill and cancel, keyed and single */
	b = "{\"5\":{\"order\":\"7\",\"refill\":\"1\"},\"6\":{\"refill\":2}}";
	assert_int_equal(dialect_refill_multi(200, b, strlen(b), two, 2, &rm),
	                 DIALECT_OK);
	assert_int_equal(rm.items[0].item, DIALECT_ITEM_FAULT);
	assert_string_equal(rm.items[0].refill, "");
	assert_int_equal(rm.items[1].item, DIALECT_ITEM_OK);
	dialect_refill_multi_free(&rm);
	b = "{\"order\":\"7\",\"refill\":\"1\"}";
	assert_int_equal(dialect_refill_multi(200, b, strlen(b), five, 1, &rm),
	                 DIALECT_FAULT);
	dialect_refill_multi_free(&rm);
	b = "{\"order\":\"7\",\"cancel\":1}";
	assert_int_equal(dialect_cancel(200, b, strlen(b), five, 1, &c),
	                 DIALECT_FAULT);
	assert_int_equal(c.items[0].item, DIALECT_ITEM_FAULT);
	dialect_cancel_free(&c);
	b = "{\"5\":{\"order\":9,\"cancel\":1},\"6\":{\"cancel\":1}}";
	assert_int_equal(dialect_cancel(200, b, strlen(b), two, 2, &c),
	                 DIALECT_OK);
	assert_int_equal(c.items[0].item, DIALECT_ITEM_FAULT);
	assert_int_equal(c.items[1].item, DIALECT_ITEM_OK);
	dialect_cancel_free(&c);
	/* refill_status items are keyed by refill ID */
	b = "{\"10\":{\"refill\":\"12\",\"status\":\"Completed\"},"
	    "\"11\":{\"refill\":11,\"status\":\"Pending\"}}";
	assert_int_equal(
	    dialect_refill_status_multi(200, b, strlen(b), refills, 2, &sm),
	    DIALECT_OK);
	assert_int_equal(sm.items[0].item, DIALECT_ITEM_FAULT);
	assert_int_equal(sm.items[1].item, DIALECT_ITEM_OK);
	dialect_refill_status_multi_free(&sm);
}

/* The generic reader agrees with each action's typed function, item by
 * item, and its view has exactly the fields of the action. */
static void
multi_agrees(enum dialect_multi_action a, const char *b,
             const char *const *ids, size_t nids)
{
	struct dialect_multi g;
	struct dialect_multi_answer d;
	struct dialect_status_multi sm;
	struct dialect_refill_multi rm;
	struct dialect_refill_status_multi rsm;
	struct dialect_cancel cm;
	enum dialect_result want = DIALECT_FAULT, got;
	const char *id, *msg, *wmsg = NULL;
	enum dialect_item item;
	size_t i, n = 0, nextra = 0;

	got = dialect_multi(a, 200, b, strlen(b), ids, nids, &g);
	memset(&sm, 0, sizeof(sm));
	memset(&rm, 0, sizeof(rm));
	memset(&rsm, 0, sizeof(rsm));
	memset(&cm, 0, sizeof(cm));
	switch (a) {
	case DIALECT_MULTI_STATUS:
		want = dialect_status_multi(200, b, strlen(b), ids, nids, &sm);
		n = sm.n, nextra = sm.nextra, wmsg = sm.msg;
		break;
	case DIALECT_MULTI_REFILL:
		want = dialect_refill_multi(200, b, strlen(b), ids, nids, &rm);
		n = rm.n, nextra = rm.nextra, wmsg = rm.msg;
		break;
	case DIALECT_MULTI_REFILL_STATUS:
		want = dialect_refill_status_multi(200, b, strlen(b), ids, nids,
		                                   &rsm);
		n = rsm.n, nextra = rsm.nextra, wmsg = rsm.msg;
		break;
	default:
		want = dialect_cancel(200, b, strlen(b), ids, nids, &cm);
		n = cm.n, nextra = cm.nextra, wmsg = cm.msg;
		break;
	}
	if (got != want)
		fail_msg("action %d on %s: %s, want %s", (int)a, b,
		         dialect_result_name(got), dialect_result_name(want));
	assert_int_equal(g.action, a);
	assert_int_equal(g.n, n);
	assert_int_equal(g.nextra, nextra);
	assert_string_equal(g.msg, wmsg);
	for (i = 0; i < n; i++) {
		dialect_multi_get(&g, i, &d);
		switch (a) {
		case DIALECT_MULTI_STATUS:
			id = sm.items[i].order, item = sm.items[i].item;
			msg = sm.items[i].msg;
			assert_non_null(d.st);
			assert_memory_equal(d.st, &sm.items[i].st,
			                    sizeof(*d.st));
			assert_null(d.refill);
			assert_null(d.rstatus_raw);
			break;
		case DIALECT_MULTI_REFILL:
			id = rm.items[i].order, item = rm.items[i].item;
			msg = rm.items[i].msg;
			assert_null(d.st);
			assert_string_equal(d.refill, rm.items[i].refill);
			assert_null(d.rstatus_raw);
			break;
		case DIALECT_MULTI_REFILL_STATUS:
			id = rsm.items[i].refill, item = rsm.items[i].item;
			msg = rsm.items[i].msg;
			assert_null(d.st);
			assert_null(d.refill);
			assert_int_equal(d.rstatus, rsm.items[i].status);
			assert_string_equal(d.rstatus_raw,
			                    rsm.items[i].status_raw);
			break;
		default:
			id = cm.items[i].order, item = cm.items[i].item;
			msg = cm.items[i].msg;
			assert_null(d.st);
			assert_null(d.refill);
			assert_null(d.rstatus_raw);
			break;
		}
		assert_string_equal(d.id, id);
		assert_string_equal(d.id, ids[i]);
		assert_int_equal(d.item, item);
		assert_string_equal(d.msg, msg);
		if (a != DIALECT_MULTI_REFILL_STATUS)
			assert_int_equal(d.rstatus, DIALECT_REFILL_UNKNOWN);
	}
	dialect_multi_free(&g);
	assert_null(g.items);
	assert_int_equal(g.n, 0);
	dialect_status_multi_free(&sm);
	dialect_refill_multi_free(&rm);
	dialect_refill_status_multi_free(&rsm);
	dialect_cancel_free(&cm);
}

static void
test_multi_generic(void **state)
{
	static const char *const one[] = {"5"};
	static const char *const two[] = {"5", "6"};
	static const char *const three[] = {"5", "6", "7"};
	static const char *const bodies[] = {
	    /* keyed: objects, bare strings, errors, another ID named */
	    "{\"5\":{\"status\":\"Completed\",\"charge\":\"1.5\","
	    "\"remains\":\"0\",\"refill\":\"44\",\"cancel\":1},"
	    "\"6\":\"Incorrect order ID\"}",
	    "{\"5\":{\"error\":\"nope\"},\"6\":{\"order\":\"9\","
	    "\"refill\":\"9\",\"status\":\"Pending\",\"cancel\":1},"
	    "\"8\":1}",
	    /* arrays, with a duplicate and an extra */
	    "[{\"order\":5,\"refill\":5,\"status\":\"In progress\","
	    "\"cancel\":{\"error\":\"late\"}},{\"order\":\"6\","
	    "\"refill\":\"6\",\"status\":\"partial\",\"cancel\":0},"
	    "{\"order\":6,\"refill\":6,\"status\":\"x\"},{\"order\":1}]",
	    "[{\"status\":\"Completed\",\"refill\":3,\"cancel\":1}]",
	    /* the single form, whole refusals and faults */
	    "{\"order\":5,\"status\":\"Canceled\",\"refill\":7,"
	    "\"cancel\":\"ok\"}",
	    "{\"error\":\"Incorrect request\"}",
	    "{\"status\":\"error\",\"message\":\"down\"}",
	    "{\"5\":{\"status\":\"Pending\"},\"error\":\"both\"}",
	    "{}",
	    "[]",
	    "[1,2,3]",
	    "\"text\"",
	    "<html>",
	};
	struct dialect_multi g;
	int a;
	size_t k;

	for (a = 0; a < DIALECT_MULTI_NACTIONS; a++) {
		for (k = 0; k < NELEMS(bodies); k++) {
			multi_agrees((enum dialect_multi_action)a, bodies[k],
			             one, 1);
			multi_agrees((enum dialect_multi_action)a, bodies[k],
			             two, 2);
			multi_agrees((enum dialect_multi_action)a, bodies[k],
			             three, 3);
		}
	}

	/* no usable IDs: a fault with no items */
	assert_int_equal(
	    dialect_multi(DIALECT_MULTI_CANCEL, 200, "{}", 2, one, 0, &g),
	    DIALECT_FAULT);
	assert_null(g.items);
	assert_int_equal(g.n, 0);
	assert_true(g.msg[0] != '\0');
	dialect_multi_free(&g);
	/* an action out of range: a fault with no items */
	assert_int_equal(dialect_multi(DIALECT_MULTI_NACTIONS, 200, "{}", 2,
	                               one, 1, &g),
	                 DIALECT_FAULT);
	assert_null(g.items);
	assert_int_equal(g.n, 0);
	assert_non_null(strstr(g.msg, "unknown"));
	dialect_multi_free(&g);
	dialect_multi_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_corpus_complete),
	    cmocka_unit_test(test_corpus_definite),
	    cmocka_unit_test(test_corpus_rejected),
	    cmocka_unit_test(test_corpus_faults),
	    cmocka_unit_test(test_corpus_add),
	    cmocka_unit_test(test_corpus_balance),
	    cmocka_unit_test(test_corpus_services),
	    cmocka_unit_test(test_corpus_status),
	    cmocka_unit_test(test_corpus_status_multi),
	    cmocka_unit_test(test_corpus_refill),
	    cmocka_unit_test(test_corpus_refill_status),
	    cmocka_unit_test(test_corpus_cancel),
	    cmocka_unit_test(test_numbers),
	    cmocka_unit_test(test_transport_faults),
	    cmocka_unit_test(test_fault_reasons),
	    cmocka_unit_test(test_add_shapes),
	    cmocka_unit_test(test_error_text_cleaned),
	    cmocka_unit_test(test_status_words),
	    cmocka_unit_test(test_status_shapes),
	    cmocka_unit_test(test_services_entries),
	    cmocka_unit_test(test_services_fields),
	    cmocka_unit_test(test_services_limits),
	    cmocka_unit_test(test_multi_shapes),
	    cmocka_unit_test(test_multi_limits),
	    cmocka_unit_test(test_refill_status_shapes),
	    cmocka_unit_test(test_services_large_reply),
	    cmocka_unit_test(test_services_unlimited_max),
	    cmocka_unit_test(test_services_flags_unknown),
	    cmocka_unit_test(test_multi_names_other_id),
	    cmocka_unit_test(test_multi_generic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
