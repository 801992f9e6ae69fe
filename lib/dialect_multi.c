/* dialect_multi.c - the one reader of multi replies (status, refill,
 * refill_status and cancel for a list of IDs): an object keyed by ID or an
 * array of items, items as objects or bare-string errors, each answer
 * matched to its requested ID and cross-checked, then read by the action's
 * item parser (dialect_orders.c), chosen from a small table. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dialect.h"
#include "dialect_int.h"
#include "xmalloc.h"

/* ---- multi replies --------------------------------------------------- */

/* Where each requested ID's answer is in a multi reply. */
struct dialect_match {
	json_t *root;       /* the document, owned */
	const char *idkey;  /* the member an answer names its ID in */
	json_t **found;     /* per requested ID: its element, or NULL */
	unsigned char *dup; /* per requested ID: answered twice */
	size_t nextra;
	int single; /* one ID, answered in the single-order form */
};

static int
dialect_ids_valid(const char *const *ids, size_t nids, char *msg)
{
	size_t i, len;

	if (ids == NULL || nids == 0 || nids > DIALECT_MAX_MULTI) {
		dialect_msg(msg, "%zu IDs requested, not 1..%d", nids,
		            DIALECT_MAX_MULTI);
		return -1;
	}
	for (i = 0; i < nids; i++) {
		if (ids[i] == NULL || (len = strlen(ids[i])) == 0 ||
		    len > DIALECT_ID_MAX) {
			dialect_msg(msg,
			            "requested ID %zu is empty or too "
			            "long",
			            i);
			return -1;
		}
	}
	return 0;
}

/* Match an array reply's items to IDS by their IDKEY member. */
static int
dialect_match_array(struct dialect_match *m, json_t *list, const char *idkey,
                    const char *const *ids, size_t nids, char *msg)
{
	char id[DIALECT_ID_SZ];
	size_t k, i, n = json_array_size(list);
	json_t *e, *idv;
	int matched;

	if (n > DIALECT_MAX_MULTI) {
		dialect_msg(msg, "%zu items in reply, over the %d limit", n,
		            DIALECT_MAX_MULTI);
		return -1;
	}
	json_array_foreach(list, k, e)
	{
		idv = json_is_object(e) ? json_object_get(e, idkey) : NULL;
		if (idv == NULL && n == 1 && nids == 1 && json_is_object(e)) {
			m->found[0] = e; /* [{"cancel":1}] for one ID */
			continue;
		}
		if (dialect_id(idv, 0, id) < 0) {
			m->nextra++;
			continue;
		}
		matched = 0;
		for (i = 0; i < nids; i++) {
			if (strcmp(ids[i], id) != 0)
				continue;
			if (m->found[i] != NULL)
				m->dup[i] = 1;
			else
				m->found[i] = e;
			matched = 1;
		}
		if (!matched)
			m->nextra++;
	}
	return 0;
}

/* The common part of the multi parsers: load, unwrap, and find each
 * requested ID's answer.  Returns DIALECT_OK with M filled; or the whole
 * reply's REJECTED / FAULT with the text in MSG.  STATUS_WORD as for
 * dialect_refused(). */
static enum dialect_result
dialect_match(int http, const char *body, size_t len, const char *idkey,
              int status_word, const char *const *ids, size_t nids,
              struct dialect_match *m, char *msg)
{
	json_t *list;
	size_t i, nfound = 0, nmatched = 0;

	memset(m, 0, sizeof(*m));
	m->idkey = idkey;
	if ((m->root = dialect_load(http, body, len, DIALECT_MAX_BODY, msg)) ==
	    NULL)
		return DIALECT_FAULT;
	m->found = xcalloc(nids, sizeof(*m->found));
	m->dup = xcalloc(nids, 1);
	list = dialect_unwrap(m->root);
	if (json_is_array(list)) {
		if (dialect_match_array(m, list, idkey, ids, nids, msg) < 0)
			return DIALECT_FAULT;
	} else {
		for (i = 0; i < nids; i++)
			if ((m->found[i] = json_object_get(list, ids[i])) !=
			    NULL)
				nmatched++;
		if (nmatched == 0 && nids == 1) {
			/* The single-order form; the item parser reads
			 * refusals itself. */
			m->found[0] = list;
			m->single = 1;
			return DIALECT_OK;
		}
		if (dialect_refused(list, status_word, msg) !=
		    DIALECT_NOT_REFUSED) {
			if (nmatched == 0)
				return DIALECT_REJECTED;
			dialect_msg(msg, "reply has both answers and an error");
			return DIALECT_FAULT;
		}
		if (json_object_size(list) > nmatched)
			m->nextra = json_object_size(list) - nmatched;
	}
	for (i = 0; i < nids; i++)
		if (m->found[i] != NULL)
			nfound++;
	if (nfound == 0) {
		dialect_msg(msg, "reply answers none of the %zu IDs", nids);
		return DIALECT_FAULT;
	}
	return DIALECT_OK;
}

static void
dialect_match_free(struct dialect_match *m)
{
	json_decref(m->root);
	free(m->found);
	free(m->dup);
	memset(m, 0, sizeof(*m));
}

/* Whether E, the answer found for ID, names another ID in its IDKEY member
 * (the single form's {"order":"6",...} asked for order 5, or an item keyed
 * "5" holding "order":"6"); the reason goes into MSG.  An absent or
 * unreadable member names nothing. */
static int
dialect_names_other(const json_t *e, const char *idkey, const char *id,
                    char *msg)
{
	char named[DIALECT_ID_SZ];

	if (!json_is_object(e) ||
	    dialect_id(json_object_get(e, idkey), 0, named) < 0 ||
	    strcmp(named, id) == 0)
		return 0;
	dialect_msg(msg, "answer names %s %s, not %s", idkey, named, id);
	return 1;
}

/* The outcome for item I (asked as ID) before its element is read:
 * missing, answered twice, answered for another ID, or the whole reply's
 * outcome.  Returns 1 when that settles it. */
static int
dialect_item_settled(enum dialect_result whole, const struct dialect_match *m,
                     size_t i, const char *id, const char *wholemsg,
                     enum dialect_item *it, char *msg)
{
	if (whole != DIALECT_OK) {
		*it = whole == DIALECT_REJECTED ? DIALECT_ITEM_REJECTED
		                                : DIALECT_ITEM_FAULT;
		memcpy(msg, wholemsg, DIALECT_MSG_SZ);
		return 1;
	}
	if (m->found[i] == NULL) {
		*it = DIALECT_ITEM_MISSING;
		dialect_msg(msg, "not in reply");
		return 1;
	}
	if (m->dup[i]) {
		*it = DIALECT_ITEM_FAULT;
		dialect_msg(msg, "answered more than once");
		return 1;
	}
	if (dialect_names_other(m->found[i], m->idkey, id, msg)) {
		*it = DIALECT_ITEM_FAULT;
		return 1;
	}
	return 0;
}

/* The whole result of a single-form reply is its one item's. */
static enum dialect_result
dialect_single_result(enum dialect_result whole, const struct dialect_match *m,
                      enum dialect_item it, const char *itemmsg, char *msg)
{
	if (whole != DIALECT_OK || !m->single)
		return whole;
	if (it != DIALECT_ITEM_OK)
		memcpy(msg, itemmsg, DIALECT_MSG_SZ);
	return dialect_item_result(it);
}

/* The item parsers of the four actions: read element E, the answer found
 * for one requested ID, into ITEM (the action's item struct). */
static enum dialect_item
dialect_status_parse(const json_t *e, void *item, char *msg)
{
	struct dialect_status_item *it = item;

	return dialect_status_elem(e, &it->st, msg);
}

static enum dialect_item
dialect_refill_parse(const json_t *e, void *item, char *msg)
{
	struct dialect_refill_item *it = item;

	return dialect_refill_elem(e, it->refill, msg);
}

static enum dialect_item
dialect_refill_status_parse(const json_t *e, void *item, char *msg)
{
	struct dialect_refill_status_item *it = item;

	return dialect_refill_status_elem(e, &it->status, it->status_raw, msg);
}

static enum dialect_item
dialect_cancel_parse(const json_t *e, void *item, char *msg)
{
	(void)item;
	return dialect_cancel_elem(e, msg);
}

#define DIALECT_NONE ((size_t)-1) /* an item struct without that field */

/* How each action's multi reply is read: the member an answer names its ID
 * in, STATUS_WORD as for dialect_refused(), the item parser, and where the
 * fields lie in the action's item struct. */
static const struct dialect_multi_form {
	const char *idkey;
	int status_word;
	enum dialect_item (*parse)(const json_t *e, void *item, char *msg);
	size_t size;                     /* of one item struct */
	size_t id, item, msg;            /* requested ID, outcome, text */
	size_t st, refill, rstatus, raw; /* the answer, or DIALECT_NONE */
} dialect_multi_forms[DIALECT_MULTI_NACTIONS] = {
    [DIALECT_MULTI_STATUS] = {"order", 1, dialect_status_parse,
                              sizeof(struct dialect_status_item),
                              offsetof(struct dialect_status_item, order),
                              offsetof(struct dialect_status_item, item),
                              offsetof(struct dialect_status_item, msg),
                              offsetof(struct dialect_status_item, st),
                              DIALECT_NONE, DIALECT_NONE, DIALECT_NONE},
    [DIALECT_MULTI_REFILL] = {"order", 0, dialect_refill_parse,
                              sizeof(struct dialect_refill_item),
                              offsetof(struct dialect_refill_item, order),
                              offsetof(struct dialect_refill_item, item),
                              offsetof(struct dialect_refill_item, msg),
                              DIALECT_NONE,
                              offsetof(struct dialect_refill_item, refill),
                              DIALECT_NONE, DIALECT_NONE},
    [DIALECT_MULTI_REFILL_STATUS] =
        {"refill", 1, dialect_refill_status_parse,
         sizeof(struct dialect_refill_status_item),
         offsetof(struct dialect_refill_status_item, refill),
         offsetof(struct dialect_refill_status_item, item),
         offsetof(struct dialect_refill_status_item, msg), DIALECT_NONE,
         DIALECT_NONE, offsetof(struct dialect_refill_status_item, status),
         offsetof(struct dialect_refill_status_item, status_raw)},
    [DIALECT_MULTI_CANCEL] = {"order", 0, dialect_cancel_parse,
                              sizeof(struct dialect_cancel_item),
                              offsetof(struct dialect_cancel_item, order),
                              offsetof(struct dialect_cancel_item, item),
                              offsetof(struct dialect_cancel_item, msg),
                              DIALECT_NONE, DIALECT_NONE, DIALECT_NONE,
                              DIALECT_NONE},
};

/* The one multi reader: match each requested ID's answer, settle or parse
 * it into the action's item struct, and derive the whole result.  Returns
 * the items (NULL when the IDS are unusable), with *N, *NEXTRA, MSG and
 * *WHOLE set. */
static void *
dialect_multi_read(enum dialect_multi_action a, int http, const char *body,
                   size_t len, const char *const *ids, size_t nids, size_t *n,
                   size_t *nextra, char *msg, enum dialect_result *whole)
{
	const struct dialect_multi_form *f = &dialect_multi_forms[a];
	struct dialect_match m;
	enum dialect_item *it;
	unsigned char *items, *p;
	char *itmsg;
	size_t i;

	*n = 0;
	*nextra = 0;
	memset(msg, 0, DIALECT_MSG_SZ);
	if (dialect_ids_valid(ids, nids, msg) < 0) {
		*whole = DIALECT_FAULT;
		return NULL;
	}
	items = xcalloc(nids, f->size);
	*n = nids;
	*whole = dialect_match(http, body, len, f->idkey, f->status_word, ids,
	                       nids, &m, msg);
	for (i = 0; i < nids; i++) {
		p = items + i * f->size;
		it = (enum dialect_item *)(void *)(p + f->item);
		itmsg = (char *)p + f->msg;
		memcpy(p + f->id, ids[i], strlen(ids[i]) + 1);
		if (!dialect_item_settled(*whole, &m, i, ids[i], msg, it,
		                          itmsg))
			*it = f->parse(m.found[i], p, itmsg);
	}
	it = (enum dialect_item *)(void *)(items + f->item);
	*whole =
	    dialect_single_result(*whole, &m, *it, (char *)items + f->msg, msg);
	*nextra = m.nextra;
	dialect_match_free(&m);
	return items;
}

enum dialect_result
dialect_multi(enum dialect_multi_action a, int http, const char *body,
              size_t len, const char *const *ids, size_t nids,
              struct dialect_multi *out)
{
	enum dialect_result r;

	memset(out, 0, sizeof(*out));
	out->action = a;
	if ((unsigned)a >= DIALECT_MULTI_NACTIONS) {
		dialect_msg(out->msg, "unknown multi action %d", (int)a);
		return DIALECT_FAULT;
	}
	out->items = dialect_multi_read(a, http, body, len, ids, nids, &out->n,
	                                &out->nextra, out->msg, &r);
	return r;
}

/* The field at OFF of item P, or NULL where its struct has none. */
static const void *
dialect_multi_field(const unsigned char *p, size_t off)
{
	return off == DIALECT_NONE ? NULL : p + off;
}

void
dialect_multi_get(const struct dialect_multi *m, size_t i,
                  struct dialect_multi_answer *ans)
{
	const struct dialect_multi_form *f = &dialect_multi_forms[m->action];
	const unsigned char *p = (const unsigned char *)m->items + i * f->size;
	const enum dialect_refill_status *rs;

	memset(ans, 0, sizeof(*ans));
	ans->id = (const char *)p + f->id;
	ans->item = *(const enum dialect_item *)(const void *)(p + f->item);
	ans->msg = (const char *)p + f->msg;
	ans->st = dialect_multi_field(p, f->st);
	ans->refill = dialect_multi_field(p, f->refill);
	if ((rs = dialect_multi_field(p, f->rstatus)) != NULL)
		ans->rstatus = *rs;
	ans->rstatus_raw = dialect_multi_field(p, f->raw);
}

/* Free ITEMS and zero the SZ bytes of the result M that held them. */
static void
dialect_multi_release(void *items, void *m, size_t sz)
{
	free(items);
	memset(m, 0, sz);
}

void
dialect_multi_free(struct dialect_multi *m)
{
	if (m != NULL)
		dialect_multi_release(m->items, m, sizeof(*m));
}

/* The typed entry points and their frees, one pair per action, all the
 * one reader above: dialect_status_multi(), dialect_refill_multi(),
 * dialect_refill_status_multi(), dialect_cancel() and their _free. */
#define DIALECT_MULTI_TYPED(fn, freefn, type, action)                          \
	enum dialect_result fn(int http, const char *body, size_t len,         \
	                       const char *const *ids, size_t nids, type *out) \
	{                                                                      \
		enum dialect_result r;                                         \
                                                                               \
		out->items =                                                   \
		    dialect_multi_read(action, http, body, len, ids, nids,     \
		                       &out->n, &out->nextra, out->msg, &r);   \
		return r;                                                      \
	}                                                                      \
	void freefn(type *m)                                                   \
	{                                                                      \
		if (m != NULL)                                                 \
			dialect_multi_release(m->items, m, sizeof(*m));        \
	}

DIALECT_MULTI_TYPED(dialect_status_multi, dialect_status_multi_free,
                    struct dialect_status_multi, DIALECT_MULTI_STATUS)
DIALECT_MULTI_TYPED(dialect_refill_multi, dialect_refill_multi_free,
                    struct dialect_refill_multi, DIALECT_MULTI_REFILL)
DIALECT_MULTI_TYPED(dialect_refill_status_multi,
                    dialect_refill_status_multi_free,
                    struct dialect_refill_status_multi,
                    DIALECT_MULTI_REFILL_STATUS)
DIALECT_MULTI_TYPED(dialect_cancel, dialect_cancel_free, struct dialect_cancel,
                    DIALECT_MULTI_CANCEL)
