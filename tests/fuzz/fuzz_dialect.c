/* fuzz_dialect.c - libFuzzer target: every dialect parse function on the
 * same bytes.  Seed corpus: tests/corpus/upstream-replies (the upstream reply
 * corpus).
 *
 *   clang -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
 *       -Ilib tests/fuzz/fuzz_dialect.c lib/dialect.c lib/money.c \
 *       lib/xmalloc.c lib/log.c $(pkg-config --cflags --libs jansson libevent)
 * \ -o fuzz_dialect
 *   ./fuzz_dialect -max_total_time=10 tests/corpus/upstream-replies
 *
 * Besides not crashing, each call must keep its contract: results are one
 * of the three, texts are NUL-terminated within their buffers, every
 * requested ID gets one item, and a whole-reply outcome is every item's.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dialect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* IDs the corpus replies answer, a few that nothing answers, and one that
 * looks like a JSON key panels use. */
static const char *const fuzz_ids[] = {"1",    "2",    "3",     "9",
                                       "10",   "12",   "13",    "100",
                                       "4218", "4219", "23501", "error"};
#define FUZZ_NIDS (sizeof(fuzz_ids) / sizeof(fuzz_ids[0]))

static void
fuzz_text(const char *s, size_t sz)
{
	if (memchr(s, '\0', sz) == NULL)
		abort();
}

static void
fuzz_item(enum dialect_result whole, enum dialect_item it, const char *msg)
{
	fuzz_text(msg, DIALECT_MSG_SZ);
	if (whole == DIALECT_REJECTED && it != DIALECT_ITEM_REJECTED)
		abort();
	if (whole == DIALECT_FAULT && it != DIALECT_ITEM_FAULT)
		abort();
	if (it != DIALECT_ITEM_MISSING && it != DIALECT_ITEM_OK &&
	    it != DIALECT_ITEM_REJECTED && it != DIALECT_ITEM_FAULT)
		abort();
}

static void
fuzz_result(enum dialect_result r)
{
	if (r != DIALECT_OK && r != DIALECT_REJECTED && r != DIALECT_FAULT)
		abort();
}

static void
fuzz_one(const char *body, size_t len, size_t nids)
{
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
	enum dialect_result r;
	size_t i;

	r = dialect_add(200, body, len, &add);
	fuzz_result(r);
	fuzz_text(add.msg, sizeof(add.msg));
	if (r == DIALECT_OK && add.order[0] == '\0')
		abort();

	fuzz_result(dialect_balance(200, body, len, &bal));
	fuzz_text(bal.msg, sizeof(bal.msg));

	r = dialect_services(200, body, len, &sv);
	fuzz_result(r);
	if (r != DIALECT_OK && sv.n != 0)
		abort();
	for (i = 0; i < sv.n; i++)
		if (sv.v[i].name == NULL || sv.v[i].type == NULL ||
		    sv.v[i].category == NULL || sv.v[i].rate < 0 ||
		    sv.v[i].min > sv.v[i].max || sv.v[i].name[0] == '\0')
			abort();
	dialect_services_free(&sv);

	fuzz_result(dialect_status(200, body, len, &st));
	fuzz_text(st.msg, sizeof(st.msg));

	r = dialect_status_multi(200, body, len, fuzz_ids, nids, &stm);
	fuzz_result(r);
	if (stm.n != nids)
		abort();
	for (i = 0; i < stm.n; i++) {
		fuzz_item(r, stm.items[i].item, stm.items[i].msg);
		if (strcmp(stm.items[i].order, fuzz_ids[i]) != 0)
			abort();
	}
	dialect_status_multi_free(&stm);

	fuzz_result(dialect_refill(200, body, len, &rf));
	fuzz_text(rf.refill, sizeof(rf.refill));

	r = dialect_refill_multi(200, body, len, fuzz_ids, nids, &rfm);
	fuzz_result(r);
	for (i = 0; i < rfm.n; i++)
		fuzz_item(r, rfm.items[i].item, rfm.items[i].msg);
	dialect_refill_multi_free(&rfm);

	fuzz_result(dialect_refill_status(200, body, len, &rs));
	fuzz_text(rs.status_raw, sizeof(rs.status_raw));

	r = dialect_refill_status_multi(200, body, len, fuzz_ids, nids, &rsm);
	fuzz_result(r);
	for (i = 0; i < rsm.n; i++)
		fuzz_item(r, rsm.items[i].item, rsm.items[i].msg);
	dialect_refill_status_multi_free(&rsm);

	r = dialect_cancel(200, body, len, fuzz_ids, nids, &cn);
	fuzz_result(r);
	for (i = 0; i < cn.n; i++)
		fuzz_item(r, cn.items[i].item, cn.items[i].msg);
	dialect_cancel_free(&cn);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body;

	/* An exact-size copy, so any read past the end is caught. */
	body = malloc(size > 0 ? size : 1);
	if (body == NULL)
		return 0;
	if (size > 0)
		memcpy(body, data, size);
	fuzz_one(body, size, FUZZ_NIDS); /* the multi forms */
	fuzz_one(body, size, 1);         /* and the single-order forms */
	free(body);
	return 0;
}
