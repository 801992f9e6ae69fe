/* dialect.h - upstream panel replies -> one normalised shape (SPEC section 5).
 *
 * Pure functions: each takes the HTTP status and the reply body of one
 * upstream call and says what the panel answered, leniently, because panels
 * differ.  Every call ends in one of three results:
 *
 *   DIALECT_OK        a definite answer of the expected shape.
 *   DIALECT_REJECTED  a definite refusal: {"error":...} (untranslated keys such
 *                     as "neworder.error.not_enough_funds" included),
 *                     {"status":"error","message":...}, {"success":false,...}.
 *                     The panel's text is in the result's msg.
 *   DIALECT_FAULT     no usable answer: HTTP status outside 2xx, an empty,
 *                     oversized, HTML or non-JSON body, truncated JSON, JSON of
 *                     the wrong shape, an object carrying both an error and
 *                     the answer.  A short reason for the log is in msg.
 *                     The caller maps a fault on add, refill or cancel to
 *                     "ambiguous" (SPEC 5).
 *
 * Text kept from a reply (error texts, names, status words) is valid UTF-8
 * with control characters removed, trimmed, and cut at a character boundary
 * to the size of its buffer.  Upstream order and refill IDs are kept as
 * opaque strings (1..DIALECT_ID_MAX printable ASCII bytes, not all zeros):
 * the reply may carry them as JSON integers or strings.
 *
 * Every output struct is fully (re)initialised by its parse function,
 * whatever the result, so the matching _free function may always be called
 * afterwards; freeing a zeroed struct is a no-op.
 */
#ifndef PANELMUX_DIALECT_H
#define PANELMUX_DIALECT_H

#include <stddef.h>
#include <stdint.h>

#include "money.h"

/* Reply size caps.  The transport (lib/upstream.h) caps what it downloads
 * with these same constants, so a reply it delivers is never refused for its
 * size here, and one it refuses would have been.
 * - Every reply but services: the largest is a multi reply of
 *   DIALECT_MAX_MULTI items of a few hundred bytes each, well inside 1 MiB.
 * - The services list: DIALECT_MAX_SERVICES entries (the documented limit of
 *   one upstream's catalogue) of DIALECT_SERVICE_BYTES on average.  A std
 *   entry is about 200 bytes; the rest is room for descriptions and long
 *   names.  10,000 real services take about 2 MB; the cap (61 MiB) bounds
 *   what one misbehaving upstream can make the daemon hold (the body, then
 *   its JSON tree) while it is read. */
#define DIALECT_MAX_BODY ((size_t)1 << 20) /* reply bytes accepted */
#define DIALECT_MAX_SERVICES 100000        /* entries of a services list */
#define DIALECT_SERVICE_BYTES 640 /* average bytes per services entry */
#define DIALECT_MAX_SERVICES_BODY                                              \
	((size_t)DIALECT_MAX_SERVICES * DIALECT_SERVICE_BYTES)
#define DIALECT_MAX_DEPTH 16   /* nesting of JSON arrays/objects */
#define DIALECT_MAX_MULTI 1000 /* IDs per multi call / reply items */
#define DIALECT_MAX_SERVICE_ID INT64_C(999999999999)
#define DIALECT_ID_MAX 64 /* bytes of an upstream order/refill ID */
#define DIALECT_ID_SZ (DIALECT_ID_MAX + 1)
#define DIALECT_MSG_SZ 256    /* error text or fault reason, with NUL */
#define DIALECT_WORD_SZ 32    /* raw status word, with NUL */
#define DIALECT_CURRENCY_SZ 9 /* currency code, with NUL */
#define DIALECT_NAME_MAX 512  /* service name, category, type bytes */
#define DIALECT_DESC_MAX 8192 /* service description bytes */

enum dialect_result { DIALECT_OK, DIALECT_REJECTED, DIALECT_FAULT };

/* One item of a multi reply (status, refill, refill_status, cancel). */
enum dialect_item {
	DIALECT_ITEM_MISSING,  /* the reply does not mention this ID */
	DIALECT_ITEM_OK,       /* a definite answer for this ID */
	DIALECT_ITEM_REJECTED, /* a definite per-ID error; text in msg */
	DIALECT_ITEM_FAULT     /* mentioned but unreadable; reason in msg */
};

/* Order status words, normalised case-insensitively, ignoring spaces,
 * '_' and '-': "In progress", "in_progress", "In Progress", "inprogress"
 * are all DIALECT_STATUS_IN_PROGRESS. */
enum dialect_status {
	DIALECT_STATUS_UNKNOWN,     /* a word we do not know: move no money */
	DIALECT_STATUS_PENDING,     /* Pending */
	DIALECT_STATUS_IN_PROGRESS, /* In progress */
	DIALECT_STATUS_PROCESSING,  /* Processing */
	DIALECT_STATUS_COMPLETED,   /* Completed, Complete */
	DIALECT_STATUS_PARTIAL,     /* Partial */
	DIALECT_STATUS_CANCELED,    /* Canceled, Cancelled */
	DIALECT_STATUS_REFUNDED,    /* Refunded */
	DIALECT_STATUS_FAIL         /* Fail, Failed, Error */
};

enum dialect_refill_status {
	DIALECT_REFILL_UNKNOWN,     /* a word we do not know */
	DIALECT_REFILL_PENDING,     /* Pending */
	DIALECT_REFILL_IN_PROGRESS, /* In progress, Processing */
	DIALECT_REFILL_COMPLETED,   /* Completed, Complete */
	DIALECT_REFILL_REJECTED,    /* Rejected */
	DIALECT_REFILL_ERROR        /* Error, Fail, Failed */
};

/* action=add */
struct dialect_add {
	char order[DIALECT_ID_SZ]; /* OK: the upstream order ID */
	char msg[DIALECT_MSG_SZ];  /* REJECTED: the panel's error; FAULT: why */
};

/* action=balance */
struct dialect_balance {
	money_t balance; /* OK: may be negative; >8 decimals rounded down */
	int has_currency;
	char currency[DIALECT_CURRENCY_SZ];
	char msg[DIALECT_MSG_SZ];
};

/* One entry of action=services.  Strings are owned by the list. */
struct dialect_service {
	int64_t id;         /* 1..DIALECT_MAX_SERVICE_ID */
	char *name;         /* never NULL, never empty */
	char *type;         /* never NULL; known types in their canonical
	                     * spelling ("default" -> "Default"); "Default" if
	                     * absent */
	char *category;     /* never NULL; "" if absent */
	char *description;  /* "description" or "desc"; NULL if absent */
	char *refill_time;  /* as sent ("30"); NULL if absent */
	money_t rate;       /* per 1000, upstream currency, >= 0; >8 decimals
	                     * rounded up (a cost is never understated) */
	int64_t min, max;   /* 0 <= min <= max; a number too large to read
	                     * exactly (over 18 digits, or a real of 2^53 or
	                     * more: panels write "unlimited" as int64's
	                     * largest, often as a string) reads as INT64_MAX,
	                     * which the catalogue clamps */
	int refill, cancel; /* 1, 0, or DIALECT_FLAG_UNKNOWN when absent or
	                     * unreadable (the v1 family lists neither) */
	int dripfeed;       /* 0/1; absent or unreadable = 0 */
};
#define DIALECT_FLAG_UNKNOWN (-1)

/* action=services.  Malformed entries (no usable id, name, rate, min/max;
 * negative rate; min > max; duplicate id) are skipped and counted; the first
 * skip reason is in msg even when the result is OK. */
struct dialect_services {
	struct dialect_service *v; /* owned; n entries in reply order */
	size_t n;
	size_t nskipped;
	char msg[DIALECT_MSG_SZ];
};

/* The fields of one order's status.  has_* say whether a field was present
 * and readable. */
struct dialect_order_status {
	enum dialect_status status;
	char status_raw[DIALECT_WORD_SZ]; /* the word as sent (cleaned) */
	int has_charge;
	money_t charge; /* >= 0; >8 decimals rounded up */
	int has_start_count;
	int64_t start_count; /* >= 0 */
	int has_remains;     /* remains holds the raw signed value: the */
	int64_t remains;     /* caller clamps to [0, quantity] */
	int remains_unknown; /* present but not a number ("Unknown", null) */
	int has_currency;
	char currency[DIALECT_CURRENCY_SZ];
};

/* action=status, one order. */
struct dialect_status_reply {
	struct dialect_order_status st; /* OK */
	char msg[DIALECT_MSG_SZ];
};

struct dialect_status_item {
	char order[DIALECT_ID_SZ]; /* the requested ID */
	enum dialect_item item;
	struct dialect_order_status st; /* DIALECT_ITEM_OK */
	char msg[DIALECT_MSG_SZ];       /* REJECTED: error text; FAULT: why */
};

/* action=status with orders=...; accepts an object keyed by order ID
 * (errors as {"error":...} or bare strings), an array of {"order":ID,...}
 * items, and with one requested ID the single-order form. */
struct dialect_status_multi {
	struct dialect_status_item *items; /* owned; one per requested ID, in
	                                    * request order */
	size_t n;
	size_t nextra; /* reply items that answer no requested ID */
	char msg[DIALECT_MSG_SZ];
};

/* action=refill, one order. */
struct dialect_refill {
	char refill[DIALECT_ID_SZ]; /* OK: the refill ID (digits) */
	char msg[DIALECT_MSG_SZ];
};

struct dialect_refill_item {
	char order[DIALECT_ID_SZ]; /* the requested order ID */
	enum dialect_item item;
	char refill[DIALECT_ID_SZ]; /* DIALECT_ITEM_OK: the refill ID */
	char msg[DIALECT_MSG_SZ];
};

/* action=refill with orders=...: [{"order":ID,"refill":R}], R a refill ID,
 * {"error":...} or a bare error string; also keyed by order ID, and with one
 * requested ID the single-order form. */
struct dialect_refill_multi {
	struct dialect_refill_item *items; /* owned; one per requested ID */
	size_t n;
	size_t nextra;
	char msg[DIALECT_MSG_SZ];
};

/* action=refill_status, one refill. */
struct dialect_refill_status_reply {
	enum dialect_refill_status status; /* OK */
	char status_raw[DIALECT_WORD_SZ];
	char msg[DIALECT_MSG_SZ];
};

struct dialect_refill_status_item {
	char refill[DIALECT_ID_SZ]; /* the requested refill ID */
	enum dialect_item item;
	enum dialect_refill_status status; /* DIALECT_ITEM_OK */
	char status_raw[DIALECT_WORD_SZ];
	char msg[DIALECT_MSG_SZ];
};

/* action=refill_status with refills=...: [{"refill":ID,"status":S}], S a
 * word or {"error":...}; also keyed by refill ID. */
struct dialect_refill_status_multi {
	struct dialect_refill_status_item *items; /* owned; one per ID */
	size_t n;
	size_t nextra;
	char msg[DIALECT_MSG_SZ];
};

struct dialect_cancel_item {
	char order[DIALECT_ID_SZ]; /* the requested order ID */
	enum dialect_item item;    /* OK: the panel accepted the cancel */
	char msg[DIALECT_MSG_SZ];
};

/* action=cancel: [{"order":ID,"cancel":C}], keyed {"ID":{"cancel":C}} or
 * {"ID":C}, and with one requested ID {"cancel":C}.  C is 1, true, "1",
 * "ok", "success", "requested", ... for accepted; {"error":...}, a bare
 * string, 0 or false for refused. */
struct dialect_cancel {
	struct dialect_cancel_item *items; /* owned; one per requested ID */
	size_t n;
	size_t nextra;
	char msg[DIALECT_MSG_SZ];
};

/* The four multi actions, for a caller that treats them alike: one reader
 * serves them all, with the action's item parser. */
enum dialect_multi_action {
	DIALECT_MULTI_STATUS,        /* items: struct dialect_status_item */
	DIALECT_MULTI_REFILL,        /* struct dialect_refill_item */
	DIALECT_MULTI_REFILL_STATUS, /* struct dialect_refill_status_item */
	DIALECT_MULTI_CANCEL,        /* struct dialect_cancel_item */
	DIALECT_MULTI_NACTIONS
};

/* Any multi reply: the same as the action's own result, with the items
 * untyped; read them with dialect_multi_get(). */
struct dialect_multi {
	enum dialect_multi_action action;
	void *items; /* owned; n of the action's item struct */
	size_t n;
	size_t nextra;
	char msg[DIALECT_MSG_SZ];
};

/* One item of a dialect_multi, pointing into it: the fields the action's
 * item has; NULL (DIALECT_REFILL_UNKNOWN) for those it has not. */
struct dialect_multi_answer {
	const char *id; /* the requested ID */
	enum dialect_item item;
	const char *msg;
	const struct dialect_order_status *st; /* STATUS */
	const char *refill;                    /* REFILL: the refill ID */
	enum dialect_refill_status rstatus;    /* REFILL_STATUS */
	const char *rstatus_raw;               /* REFILL_STATUS */
};

/*
 * Parse functions.  HTTP is the reply's HTTP status, BODY/LEN its bytes
 * (BODY may be NULL when LEN is 0; it need not be NUL-terminated and is only
 * read during the call).  OUT is overwritten.
 *
 * The multi forms take the IDS (NIDS of them, 1..DIALECT_MAX_MULTI, each
 * 1..DIALECT_ID_MAX bytes) that were sent and answer one item per ID, in
 * that order.  When the whole reply is REJECTED or a FAULT, every item
 * carries the same outcome (ITEM_REJECTED / ITEM_FAULT with the same msg),
 * so a caller may walk the items alone.  A reply that answers none of the
 * IDs is a FAULT.  An answer that names another ID than the one it answers
 * for (the single form's "order" member, or the inner "order" / "refill" of
 * an item keyed by ID) is an ITEM_FAULT for that ID: a panel that mixes its
 * orders up must not have one order's answer applied to another.  Results
 * with arrays are released with their _free.
 */
enum dialect_result dialect_add(int http, const char *body, size_t len,
                                struct dialect_add *out);
enum dialect_result dialect_balance(int http, const char *body, size_t len,
                                    struct dialect_balance *out);
enum dialect_result dialect_services(int http, const char *body, size_t len,
                                     struct dialect_services *out);
enum dialect_result dialect_status(int http, const char *body, size_t len,
                                   struct dialect_status_reply *out);
enum dialect_result dialect_status_multi(int http, const char *body, size_t len,
                                         const char *const *ids, size_t nids,
                                         struct dialect_status_multi *out);
enum dialect_result dialect_refill(int http, const char *body, size_t len,
                                   struct dialect_refill *out);
enum dialect_result dialect_refill_multi(int http, const char *body, size_t len,
                                         const char *const *ids, size_t nids,
                                         struct dialect_refill_multi *out);
enum dialect_result
dialect_refill_status(int http, const char *body, size_t len,
                      struct dialect_refill_status_reply *out);
enum dialect_result
dialect_refill_status_multi(int http, const char *body, size_t len,
                            const char *const *ids, size_t nids,
                            struct dialect_refill_status_multi *out);
enum dialect_result dialect_cancel(int http, const char *body, size_t len,
                                   const char *const *ids, size_t nids,
                                   struct dialect_cancel *out);

/* The multi reply of action A: the same outcome and items as
 * dialect_status_multi(), dialect_refill_multi(),
 * dialect_refill_status_multi() or dialect_cancel().  An unknown A is a
 * FAULT with no items. */
enum dialect_result dialect_multi(enum dialect_multi_action a, int http,
                                  const char *body, size_t len,
                                  const char *const *ids, size_t nids,
                                  struct dialect_multi *out);
/* Item I (< M->n) of M. */
void dialect_multi_get(const struct dialect_multi *m, size_t i,
                       struct dialect_multi_answer *ans);

/* Release what a result owns and zero it.  NULL is a no-op. */
void dialect_services_free(struct dialect_services *s);
void dialect_multi_free(struct dialect_multi *m);
void dialect_status_multi_free(struct dialect_status_multi *m);
void dialect_refill_multi_free(struct dialect_refill_multi *m);
void dialect_refill_status_multi_free(struct dialect_refill_status_multi *m);
void dialect_cancel_free(struct dialect_cancel *c);

/* Static names: "ok"/"rejected"/"fault"; "missing"/"ok"/"rejected"/"fault";
 * the v2 spellings "Pending", "In progress", "Processing", "Completed",
 * "Partial", "Canceled", "Refunded", "Fail" ("Unknown" for UNKNOWN); and
 * "Pending", "In progress", "Completed", "Rejected", "Error" ("Unknown"). */
const char *dialect_result_name(enum dialect_result r);
const char *dialect_item_name(enum dialect_item i);
const char *dialect_status_name(enum dialect_status s);
const char *dialect_refill_status_name(enum dialect_refill_status s);

/* The order status or refill status of a word as a panel spells it. */
enum dialect_status dialect_status_word(const char *word);
enum dialect_refill_status dialect_refill_status_word(const char *word);
/* What customers see of an open order whose upstream says WORD: "In
 * progress" (in progress or processing) or "Pending" (anything else). */
const char *dialect_status_shown(const char *word);

#endif
