/* ordertype.h - validation of an `add` request against the service it
 * names, and its exact charge.  Pure: no I/O, no clock, no globals.
 *
 * The order types are SPEC section 4's.  A service's type is matched
 * case-insensitively ignoring spaces, '_' and '-' ("custom_comments" is
 * Custom Comments); an unknown or missing type is validated as Default.
 *
 * Every field that is forwarded is normalised first, so two requests that
 * mean the same order forward the same bytes and hash alike:
 * - numbers: surrounding white space (space, tab, CR, LF) trimmed, decimal
 *   digits only, no sign, <= 10^9, forwarded as canonical digits ("0100 "
 *   -> "100");
 * - link: surrounding white space trimmed, 1..ORDERTYPE_LINK_MAX bytes of
 *   valid UTF-8 without control characters (< 0x20, 0x7f); no scheme is
 *   required (services take usernames as links);
 * - text fields (comments, usernames, hashtags, groups, hashtag, username,
 *   media): at most ORDERTYPE_TEXT_MAX bytes as received, valid UTF-8, no
 *   control characters but tab, CR and LF; split into lines at LF (CRLF
 *   and lone CR too), each line trimmed of spaces and tabs, blank lines
 *   dropped, the rest (at most ORDERTYPE_LINES_MAX) joined with "\n";
 * - expiry: d/m/Y of a real calendar date (years 1000..9999), forwarded as
 *   "dd/mm/YYYY".
 * An absent field and one that is blank after normalisation are both
 * missing.
 *
 * Quantity, charge and forwarded fields per type:
 * - Default (and unknown types): link, quantity; runs + interval (both or
 *   neither, each >= 1) only when the service allows drip-feed.  The
 *   quantity is per run and is what min/max bound; charge = rate x
 *   quantity x runs / 1000.  Runs that are absent, blank, "undefined",
 *   "null", 0 or 1 make a plain order whatever interval says (published
 *   client libraries send `runs=undefined&interval=undefined`, or
 *   `runs=1&interval=0`, for every order).
 * - Package, Custom Comments Package: link (+ comments); quantity 1, no
 *   min/max check, charge = rate.
 * - Custom Comments, Mentions Custom List, Comment Replies: the quantity is
 *   the number of lines of comments (usernames); a `quantity` sent along is
 *   ignored and none is forwarded (the upstream counts the same lines).
 * - Subscriptions: username, min, max (>= 1, min <= max, both within the
 *   service's min..max), delay (0, 5, 10, 15, 30, 60 or 90), optional posts
 *   and old_posts (>= 0) and expiry; quantity = max x n and charge =
 *   rate x max x n / 1000, n = posts if > 0, else old_posts if > 0, else 1.
 * - The other types: link, quantity and their listed fields.
 * A quantity of more digits than ORDERTYPE_NUM_MAX allows answers
 * "Quantity more than maximum N" like any quantity above the service's max.
 *
 * The upstream quantity: what the upstream counts `remains` against, so
 * what a Partial is refunded in (upstream panels report remains of a
 * drip-feed order against its whole delivery, and of a subscription
 * against its own quantity, the max per post):
 * - Default: quantity, x runs when drip-fed;
 * - Package, Custom Comments Package: 1;
 * - the line-counted types: the number of lines;
 * - Subscriptions: max;
 * - the other types: quantity.
 * runs/interval on a type other than Default is refused like drip-feed on a
 * service without it: never silently dropped. */
#ifndef PANELMUX_ORDERTYPE_H
#define PANELMUX_ORDERTYPE_H

#include <stddef.h>
#include <stdint.h>

#include "money.h"

#define ORDERTYPE_LINK_MAX 2048      /* bytes of a link */
#define ORDERTYPE_TEXT_MAX 65536     /* bytes of comments/usernames/... */
#define ORDERTYPE_LINES_MAX 10000    /* lines of a list field */
/* Any number field: quantities up to 10^12 (panels list "unlimited" maxima
 * as int64's largest; the catalogue clamps them to this), so quantity x
 * runs is checked for overflow, not assumed to fit. */
#define ORDERTYPE_NUM_MAX INT64_C(1000000000000)
#define ORDERTYPE_HASH_LEN 32        /* bytes of ordertype_hash */

struct params;
struct catalog_service;

struct order_spec {
	char type[40]; /* canonical type name, e.g. "Custom Comments" */
	/* The charged units: the quantity (per run when drip-fed), the
	 * number of comment/username lines, 1 for packages, max x posts for
	 * Subscriptions. */
	int64_t quantity;
	int64_t upstream_quantity; /* what remains are counted against */
	int64_t runs, interval;    /* drip-feed; 0 when not drip-fed */
	money_t charge;         /* > 0, rounded UP to DECIMALS places */
	money_t rate; /* the rate per 1000 it was computed from (S->rate) */
	/* Owned: a compact JSON object of exactly the fields to forward
	 * upstream (never key, action, service, request_id), values as
	 * strings, in the type's documented order. */
	char *fields;
};

/* Validate request P for catalogue service S and compute the charge
 * (S->rate is per 1000 or per package, S->min/max bound the quantity,
 * S->dripfeed allows runs/interval, S->type selects the rules), rounded up
 * to DECIMALS (0..8) places.  Returns 0 with *OUT filled (the caller owns
 * it: order_spec_clear), or -1 with *OUT zeroed and ERR (ERRLEN bytes)
 * holding the customer-facing error: the panels' own strings for the
 * quantity bounds ("Quantity less than minimal N"), a clear sentence
 * otherwise.  A service whose rate is not positive cannot be ordered. */
int ordertype_build(const struct params *p, const struct catalog_service *s,
                    int decimals, struct order_spec *out, char *err,
                    size_t errlen);

/* Free O's fields and zero O.  NULL is a no-op. */
void order_spec_clear(struct order_spec *o);

/* SHA-256 (ORDERTYPE_HASH_LEN bytes into HASH) over SERVICE_ID and O's
 * forwarded fields: two requests with equal hashes are the same order (for
 * request_id idempotency).  The charge is not hashed: a rate change does
 * not make a retry a different order. */
void ordertype_hash(int64_t service_id, const struct order_spec *o,
                    uint8_t *hash);

#endif
