/* fp_orders.c - orders, refills and the panel balance of the fake panel.
 *
 * Orders live in one array indexed by ID - first_order.  Progress is
 * computed when an order is looked at (no timers): manual orders stay
 * Pending, instant ones are Completed, timer:MS ones are Pending for the
 * first quarter of MS, then In progress with remains falling, then
 * Completed.  Setting an order through /control freezes it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fp.h"
#include "fp_catalog.h"
#include "fp_orders.h"
#include "xmalloc.h"

/* Fields an order type needs. */
#define F_LINK (1u << 0)
#define F_QUANTITY (1u << 1)
#define F_COMMENTS (1u << 2)
#define F_USERNAMES (1u << 3)
#define F_HASHTAGS (1u << 4)
#define F_HASHTAG (1u << 5)
#define F_USERNAME (1u << 6)
#define F_MEDIA (1u << 7)
#define F_ANSWER (1u << 8)
#define F_GROUPS (1u << 9)
#define F_SUBS (1u << 10) /* username, min, max, delay */

/* Where the quantity comes from. */
enum fp_qty { Q_PARAM, Q_COMMENTS, Q_USERNAMES, Q_ONE, Q_SUBS };

static const struct {
	unsigned need;
	enum fp_qty qty;
} fp_orders_rules[FP_T__COUNT] = {
    [FP_T_DEFAULT] = {F_LINK | F_QUANTITY, Q_PARAM},
    [FP_T_PACKAGE] = {F_LINK, Q_ONE},
    [FP_T_CUSTOM_COMMENTS] = {F_LINK | F_COMMENTS, Q_COMMENTS},
    [FP_T_CUSTOM_COMMENTS_PACKAGE] = {F_LINK | F_COMMENTS, Q_ONE},
    [FP_T_MENTIONS] = {F_LINK | F_QUANTITY | F_USERNAMES, Q_PARAM},
    [FP_T_MENTIONS_HASHTAGS] = {F_LINK | F_QUANTITY | F_USERNAMES | F_HASHTAGS,
                                Q_PARAM},
    [FP_T_MENTIONS_CUSTOM_LIST] = {F_LINK | F_USERNAMES, Q_USERNAMES},
    [FP_T_MENTIONS_HASHTAG] = {F_LINK | F_QUANTITY | F_HASHTAG, Q_PARAM},
    [FP_T_MENTIONS_USER_FOLLOWERS] = {F_LINK | F_QUANTITY | F_USERNAME,
                                      Q_PARAM},
    [FP_T_MENTIONS_MEDIA_LIKERS] = {F_LINK | F_QUANTITY | F_MEDIA, Q_PARAM},
    [FP_T_COMMENT_LIKES] = {F_LINK | F_QUANTITY | F_USERNAME, Q_PARAM},
    [FP_T_COMMENT_REPLIES] = {F_LINK | F_USERNAME | F_COMMENTS, Q_COMMENTS},
    [FP_T_POLL] = {F_LINK | F_QUANTITY | F_ANSWER, Q_PARAM},
    [FP_T_INVITES_FROM_GROUPS] = {F_LINK | F_QUANTITY | F_GROUPS, Q_PARAM},
    [FP_T_SUBSCRIPTIONS] = {F_SUBS, Q_SUBS},
};

/* Simple required text fields: bit, field name, error text. */
static const struct {
	unsigned bit;
	const char *field;
	const char *error;
} fp_orders_fields[] = {
    {F_LINK, "link", "Incorrect link"},
    {F_COMMENTS, "comments", "Incorrect comments"},
    {F_USERNAMES, "usernames", "Incorrect usernames"},
    {F_HASHTAGS, "hashtags", "Incorrect hashtags"},
    {F_HASHTAG, "hashtag", "Incorrect hashtag"},
    {F_USERNAME, "username", "Incorrect username"},
    {F_MEDIA, "media", "Incorrect media"},
    {F_ANSWER, "answer_number", "Incorrect answer number"},
    {F_GROUPS, "groups", "Incorrect groups"},
};

#define FP_RUNS_MAX 10000
#define FP_QTY_MAX INT64_C(1000000000000) /* keeps qty x runs in range */
#define FP_INTERVAL_MAX 100000            /* minutes */

static struct fp_order *fp_orders;
static size_t fp_orders_n, fp_orders_cap;
static void fp_orders_assume(void);
static struct fp_refill *fp_refills;
static size_t fp_refills_n, fp_refills_cap;
static struct fp_orders_conf fp_orders_start;
static char *fp_orders_cur;
static money_t fp_orders_bal;
static enum fp_progress fp_orders_mode;
static int64_t fp_orders_ms;

void
fp_orders_init(const struct fp_orders_conf *conf)
{
	fp_orders_start = *conf;
	free(fp_orders_cur);
	fp_orders_cur = xstrdup(conf->currency);
	fp_orders_start.currency = fp_orders_cur;
	fp_orders_reset();
}

void
fp_orders_reset(void)
{
	for (size_t i = 0; i < fp_orders_n; i++) {
		free(fp_orders[i].params);
		free(fp_orders[i].status_text);
	}
	fp_orders_n = 0;
	fp_refills_n = 0;
	fp_orders_bal = fp_orders_start.balance;
	fp_orders_mode = fp_orders_start.progress;
	fp_orders_ms = fp_orders_start.progress_ms;
	fp_orders_assume();
}

void
fp_orders_free(void)
{
	fp_orders_reset();
	free(fp_orders);
	free(fp_refills);
	free(fp_orders_cur);
	fp_orders = NULL;
	fp_refills = NULL;
	fp_orders_cur = NULL;
	fp_orders_cap = fp_refills_cap = 0;
}

money_t
fp_orders_balance(void)
{
	return fp_orders_bal;
}

void
fp_orders_set_balance(money_t v)
{
	fp_orders_bal = v;
}

const char *
fp_orders_currency(void)
{
	return fp_orders_cur;
}

void
fp_orders_set_progress(enum fp_progress mode, int64_t ms)
{
	fp_orders_mode = mode;
	fp_orders_ms = ms;
}

size_t
fp_orders_count(void)
{
	return fp_orders_n;
}

size_t
fp_orders_refill_count(void)
{
	return fp_refills_n;
}

/* Non-empty lines of S ("\n" or "\r\n" separated). */
static int64_t
fp_orders_lines(const char *s)
{
	int64_t n = 0;
	int blank = 1;

	for (; *s != '\0'; s++) {
		if (*s == '\n') {
			n += !blank;
			blank = 1;
		} else if (*s != '\r' && *s != ' ' && *s != '\t') {
			blank = 0;
		}
	}
	return n + !blank;
}

/* An integer field: 1 if present and valid (*OUT set), 0 if absent or
 * blank, -1 if present but not an integer in [LO, HI]. */
static int
fp_orders_int(const struct fp_params *p, const char *key, int64_t lo,
              int64_t hi, int64_t *out)
{
	const char *v = fp_params_nonempty(p, key);

	if (v == NULL)
		return 0;
	if (fp_parse_int(v, out) == -1 || *out < lo || *out > hi)
		return -1;
	return 1;
}

/* d/m/Y, as the v1 documents describe "expiry". */
static int
fp_orders_date_ok(const char *s)
{
	int d, m, y, n = 0;

	if (sscanf(s, "%2d/%2d/%4d%n", &d, &m, &y, &n) != 3 || s[n] != '\0')
		return 0;
	return d >= 1 && d <= 31 && m >= 1 && m <= 12 && y >= 2000;
}

static enum fp_err
fp_orders_errf(char *err, size_t errlen, const char *text)
{
	snprintf(err, errlen, "%s", text);
	return FP_E_TEXT;
}

/* The quantity bounds check, in the panels' words. */
static enum fp_err
fp_orders_bounds(const struct fp_service *svc, int64_t q, char *err,
                 size_t errlen)
{
	if (q < svc->min) {
		snprintf(err, errlen, "Quantity less than minimal %lld",
		         (long long)svc->min);
		return FP_E_TEXT;
	}
	if (q > svc->max) {
		snprintf(err, errlen, "Quantity more than maximum %lld",
		         (long long)svc->max);
		return FP_E_TEXT;
	}
	return FP_OK;
}

/* Subscriptions: username, min, max, delay; posts, old_posts, expiry
 * optional.  Sets the quantity (max) and the billed units (max x posts). */
static enum fp_err
fp_orders_subs(const struct fp_params *p, const struct fp_service *svc,
               int64_t *qty, int64_t *units, char *err, size_t errlen)
{
	static const int64_t delays[] = {0, 5, 10, 15, 30, 60, 90};
	int64_t min, max, delay, posts = 0, old_posts = 0;
	const char *expiry;
	enum fp_err e;
	int ok = 0;

	if (fp_params_nonempty(p, "username") == NULL)
		return fp_orders_errf(err, errlen, "Incorrect username");
	if (fp_orders_int(p, "min", 0, FP_QTY_MAX, &min) != 1)
		return fp_orders_errf(err, errlen, "Incorrect min");
	if (fp_orders_int(p, "max", 0, FP_QTY_MAX, &max) != 1)
		return fp_orders_errf(err, errlen, "Incorrect max");
	if (min > max)
		return fp_orders_errf(err, errlen,
		                      "Min quantity more than max quantity");
	if ((e = fp_orders_bounds(svc, min, err, errlen)) != FP_OK ||
	    (e = fp_orders_bounds(svc, max, err, errlen)) != FP_OK)
		return e;
	if (fp_orders_int(p, "delay", 0, 1000000, &delay) != 1)
		return fp_orders_errf(err, errlen, "Incorrect delay");
	for (size_t i = 0; i < sizeof(delays) / sizeof(delays[0]); i++)
		ok |= delays[i] == delay;
	if (!ok)
		return fp_orders_errf(err, errlen, "Incorrect delay");
	if (fp_orders_int(p, "posts", 0, 1000000, &posts) == -1)
		return fp_orders_errf(err, errlen, "Incorrect posts");
	if (fp_orders_int(p, "old_posts", 0, 1000000, &old_posts) == -1)
		return fp_orders_errf(err, errlen, "Incorrect old posts");
	expiry = fp_params_nonempty(p, "expiry");
	if (expiry != NULL && !fp_orders_date_ok(expiry))
		return fp_orders_errf(err, errlen, "Incorrect expiry date");
	*qty = max;
	*units = max * (posts > 0 ? posts : old_posts > 0 ? old_posts : 1);
	return FP_OK;
}

static struct fp_order *
fp_orders_new(void)
{
	struct fp_order *o;

	if (fp_orders_n == fp_orders_cap) {
		fp_orders_cap = fp_orders_cap ? fp_orders_cap * 2 : 1024;
		fp_orders =
		    xreallocarray(fp_orders, fp_orders_cap, sizeof(*fp_orders));
	}
	o = &fp_orders[fp_orders_n];
	memset(o, 0, sizeof(*o));
	o->id = fp_orders_start.first_order + (int64_t)fp_orders_n;
	fp_orders_n++;
	return o;
}

/* --assume-orders: the start-up orders, in one allocation. */
static void
fp_orders_assume(void)
{
	const struct fp_service *svc = fp_catalog_get(1);
	int64_t now = fp_now_ms();
	money_t charge = 0;
	size_t n = (size_t)fp_orders_start.assume;

	if (n == 0)
		return;
	if (svc == NULL && fp_catalog_count() > 0)
		svc = fp_catalog_at(0);
	if (svc != NULL &&
	    money_mul_div(svc->rate, 1000, 1000, MONEY_ROUND_UP, &charge) == -1)
		charge = 0;
	if (fp_orders_cap < n) {
		fp_orders_cap = n;
		fp_orders =
		    xreallocarray(fp_orders, fp_orders_cap, sizeof(*fp_orders));
	}
	memset(fp_orders, 0, n * sizeof(*fp_orders));
	for (size_t i = 0; i < n; i++) {
		struct fp_order *o = &fp_orders[i];

		o->id = fp_orders_start.first_order + (int64_t)i;
		o->service = svc != NULL ? svc->id : 1;
		o->type = svc != NULL ? svc->type : FP_T_DEFAULT;
		o->quantity = 1000;
		o->charge = charge;
		o->created_ms = now;
		o->status = FP_ST_PENDING;
		o->remains = 1000;
	}
	fp_orders_n = n;
}

enum fp_err
fp_orders_add(const struct fp_params *p, int64_t *id, char *err, size_t errlen)
{
	const struct fp_service *svc;
	int64_t sid, qty = 0, units, runs = 0, interval = 0;
	unsigned need;
	money_t charge;
	struct fp_order *o;
	enum fp_err e;
	int r;

	if (fp_parse_int(fp_params_get(p, "service"), &sid) == -1 ||
	    (svc = fp_catalog_get(sid)) == NULL)
		return FP_E_SERVICE;
	need = fp_orders_rules[svc->type].need;
	for (size_t i = 0;
	     i < sizeof(fp_orders_fields) / sizeof(fp_orders_fields[0]); i++)
		if ((need & fp_orders_fields[i].bit) &&
		    fp_params_nonempty(p, fp_orders_fields[i].field) == NULL)
			return fp_orders_errf(err, errlen,
			                      fp_orders_fields[i].error);

	switch (fp_orders_rules[svc->type].qty) {
	case Q_PARAM:
		if (fp_orders_int(p, "quantity", 0, FP_QTY_MAX, &qty) != 1)
			return fp_orders_errf(err, errlen,
			                      "Incorrect quantity");
		break;
	case Q_COMMENTS:
		qty = fp_orders_lines(fp_params_get(p, "comments"));
		break;
	case Q_USERNAMES:
		qty = fp_orders_lines(fp_params_get(p, "usernames"));
		break;
	case Q_ONE:
		qty = 1;
		break;
	case Q_SUBS:
		break;
	}
	units = qty;
	if (svc->type == FP_T_SUBSCRIPTIONS) {
		if ((e = fp_orders_subs(p, svc, &qty, &units, err, errlen)) !=
		    FP_OK)
			return e;
	} else if (fp_orders_rules[svc->type].qty != Q_ONE &&
	           (e = fp_orders_bounds(svc, qty, err, errlen)) != FP_OK) {
		return e;
	}

	/* Drip-feed: runs and interval together, on services that allow it;
	 * the quantity is per run. */
	if (svc->type == FP_T_DEFAULT &&
	    (fp_params_nonempty(p, "runs") != NULL ||
	     fp_params_nonempty(p, "interval") != NULL)) {
		if (!svc->dripfeed)
			return fp_orders_errf(
			    err, errlen,
			    "Drip-feed is not available for this service");
		if ((r = fp_orders_int(p, "runs", 1, FP_RUNS_MAX, &runs)) != 1)
			return fp_orders_errf(err, errlen, "Incorrect runs");
		if ((r = fp_orders_int(p, "interval", 1, FP_INTERVAL_MAX,
		                       &interval)) != 1)
			return fp_orders_errf(err, errlen,
			                      "Incorrect interval");
		units = qty * runs;
	}

	if (fp_orders_rules[svc->type].qty == Q_ONE)
		charge = svc->rate;
	else if (money_mul_div(svc->rate, units, 1000, MONEY_ROUND_UP,
	                       &charge) == -1)
		return fp_orders_errf(err, errlen, "Incorrect quantity");
	if (charge > fp_orders_bal)
		return FP_E_FUNDS;
	fp_orders_bal -= charge;

	o = fp_orders_new();
	o->service = svc->id;
	o->type = svc->type;
	o->quantity = qty;
	o->runs = runs;
	o->interval = interval;
	o->charge = charge;
	o->created_ms = fp_now_ms();
	o->params = fp_params_pack(p, &o->params_len);
	o->status = FP_ST_PENDING;
	o->remains = qty;
	*id = o->id;
	return FP_OK;
}

struct fp_order *
fp_orders_get(int64_t id)
{
	int64_t i = id - fp_orders_start.first_order;

	if (id <= 0 || i < 0 || (uint64_t)i >= fp_orders_n)
		return NULL;
	return &fp_orders[i];
}

/* A believable start count, the same for the same order. */
static int64_t
fp_orders_start_count(int64_t id)
{
	return 100 + (id * 7919) % 9900;
}

void
fp_orders_view(const struct fp_order *o, struct fp_order_view *v)
{
	int64_t total = o->quantity * (o->runs > 0 ? o->runs : 1);
	int64_t el, quarter;

	memset(v, 0, sizeof(*v));
	v->charge = o->charge;
	if (o->manual) {
		v->status = o->status;
		v->status_text = o->status_text;
		v->start_count = o->start_count;
		v->remains = o->remains;
		v->remains_unknown = o->remains_unknown;
		return;
	}
	switch (fp_orders_mode) {
	case FP_PROGRESS_MANUAL:
		v->status = FP_ST_PENDING;
		v->remains = total;
		return;
	case FP_PROGRESS_INSTANT:
		v->status = FP_ST_COMPLETED;
		v->start_count = fp_orders_start_count(o->id);
		return;
	case FP_PROGRESS_TIMER:
		el = fp_now_ms() - o->created_ms;
		quarter = fp_orders_ms / 4;
		if (el < quarter) {
			v->status = FP_ST_PENDING;
			v->remains = total;
		} else if (el < fp_orders_ms) {
			v->status = FP_ST_IN_PROGRESS;
			v->start_count = fp_orders_start_count(o->id);
			v->remains =
			    total - (int64_t)((__int128)total * (el - quarter) /
			                      (fp_orders_ms - quarter));
		} else {
			v->status = FP_ST_COMPLETED;
			v->start_count = fp_orders_start_count(o->id);
		}
		return;
	}
}

static struct fp_refill *
fp_orders_refill_get(int64_t id)
{
	if (id <= 0 || (uint64_t)id > fp_refills_n)
		return NULL;
	return &fp_refills[id - 1];
}

enum fp_err
fp_orders_refill(int64_t order, int64_t *refill_id)
{
	struct fp_order *o = fp_orders_get(order);
	const struct fp_service *svc;
	struct fp_order_view v;
	struct fp_refill *r;

	if (o == NULL)
		return FP_E_ORDER;
	svc = fp_catalog_get(o->service);
	fp_orders_view(o, &v);
	if (svc == NULL || !svc->refill ||
	    (v.status != FP_ST_COMPLETED && v.status != FP_ST_PARTIAL))
		return FP_E_REFILL_DENIED;
	if (fp_refills_n == fp_refills_cap) {
		fp_refills_cap = fp_refills_cap ? fp_refills_cap * 2 : 256;
		fp_refills = xreallocarray(fp_refills, fp_refills_cap,
		                           sizeof(*fp_refills));
	}
	r = &fp_refills[fp_refills_n++];
	memset(r, 0, sizeof(*r));
	r->id = (int64_t)fp_refills_n;
	r->order = order;
	r->created_ms = fp_now_ms();
	r->status = FP_ST_PENDING;
	*refill_id = r->id;
	return FP_OK;
}

enum fp_err
fp_orders_refill_status(int64_t refill, enum fp_status *st)
{
	struct fp_refill *r = fp_orders_refill_get(refill);
	int64_t el;

	if (r == NULL)
		return FP_E_REFILL_NONE;
	if (r->manual) {
		*st = r->status;
		return FP_OK;
	}
	switch (fp_orders_mode) {
	case FP_PROGRESS_MANUAL:
		*st = FP_ST_PENDING;
		break;
	case FP_PROGRESS_INSTANT:
		*st = FP_ST_COMPLETED;
		break;
	case FP_PROGRESS_TIMER:
		el = fp_now_ms() - r->created_ms;
		*st = el < fp_orders_ms / 4 ? FP_ST_PENDING
		      : el < fp_orders_ms   ? FP_ST_IN_PROGRESS
		                            : FP_ST_COMPLETED;
		break;
	}
	return FP_OK;
}

/* Give the panel balance back what a final status refunds, once. */
static void
fp_orders_settle(struct fp_order *o)
{
	int64_t total = o->quantity * (o->runs > 0 ? o->runs : 1);
	money_t back = 0;

	if (o->refunded)
		return;
	switch (o->status) {
	case FP_ST_CANCELED:
	case FP_ST_REFUNDED:
	case FP_ST_FAIL:
		back = o->charge;
		break;
	case FP_ST_PARTIAL:
		if (o->remains_unknown || total <= 0)
			return;
		if (money_mul_div(o->charge,
		                  o->remains < 0       ? 0
		                  : o->remains > total ? total
		                                       : o->remains,
		                  total, MONEY_ROUND_DOWN, &back) == -1)
			return;
		break;
	default:
		return;
	}
	o->refunded = 1;
	fp_orders_bal += back;
}

/* Freeze O at what it shows now, so later changes start from there. */
static void
fp_orders_freeze(struct fp_order *o)
{
	struct fp_order_view v;

	if (o->manual)
		return;
	fp_orders_view(o, &v);
	o->manual = 1;
	o->status = v.status;
	o->start_count = v.start_count;
	o->remains = v.remains;
	o->remains_unknown = v.remains_unknown;
}

enum fp_err
fp_orders_cancel(int64_t order)
{
	struct fp_order *o = fp_orders_get(order);
	const struct fp_service *svc;
	struct fp_order_view v;

	if (o == NULL)
		return FP_E_ORDER;
	svc = fp_catalog_get(o->service);
	fp_orders_view(o, &v);
	if (svc == NULL || !svc->cancel ||
	    (v.status != FP_ST_PENDING && v.status != FP_ST_IN_PROGRESS &&
	     v.status != FP_ST_PROCESSING))
		return FP_E_CANCEL_DENIED;
	fp_orders_freeze(o);
	o->status = FP_ST_CANCELED;
	o->remains = o->quantity * (o->runs > 0 ? o->runs : 1);
	o->remains_unknown = 0;
	fp_orders_settle(o);
	return FP_OK;
}

int
fp_orders_set(int64_t id, const struct fp_order_set *s, char *err,
              size_t errlen)
{
	struct fp_order *o = fp_orders_get(id);
	enum fp_status st;

	if (o == NULL) {
		snprintf(err, errlen, "no order %lld", (long long)id);
		return -1;
	}
	fp_orders_freeze(o);
	if (s->status != NULL) {
		free(o->status_text);
		o->status_text = NULL;
		if (fp_status_parse(s->status, &st) == 0) {
			o->status = st;
		} else {
			o->status = FP_ST_OTHER;
			o->status_text = xstrdup(s->status);
		}
	}
	if (s->has_remains) {
		o->remains = s->remains;
		o->remains_unknown = s->remains_unknown;
	}
	if (s->has_start_count)
		o->start_count = s->start_count;
	if (s->has_charge)
		o->charge = s->charge;
	fp_orders_settle(o);
	return 0;
}

int
fp_orders_refill_set(int64_t id, const char *status, char *err, size_t errlen)
{
	struct fp_refill *r = fp_orders_refill_get(id);
	enum fp_status st;

	if (r == NULL) {
		snprintf(err, errlen, "no refill %lld", (long long)id);
		return -1;
	}
	if (status == NULL || fp_status_parse(status, &st) == -1) {
		snprintf(err, errlen, "bad refill status");
		return -1;
	}
	r->manual = 1;
	r->status = st;
	return 0;
}

json_t *
fp_orders_json(const struct fp_order *o)
{
	char buf[MONEY_BUFSZ];
	struct fp_order_view v;
	struct fp_params p;
	json_t *j;

	fp_orders_view(o, &v);
	fp_params_unpack(&p, o->params, o->params_len);
	j = json_pack(
	    "{sI sI ss sI sI sI ss ss sI sb so}", "order", (json_int_t)o->id,
	    "service", (json_int_t)o->service, "type",
	    fp_catalog_type_name(o->type), "quantity", (json_int_t)o->quantity,
	    "runs", (json_int_t)o->runs, "interval", (json_int_t)o->interval,
	    "charge", money_format(v.charge, 2, buf), "status",
	    v.status == FP_ST_OTHER ? v.status_text : fp_status_name(v.status),
	    "start_count", (json_int_t)v.start_count, "manual", o->manual,
	    "params", fp_params_json(&p));
	if (v.remains_unknown)
		json_object_set_new(j, "remains", json_string("Unknown"));
	else
		json_object_set_new(j, "remains", json_integer(v.remains));
	return j;
}

void
fp_orders_foreach(void (*fn)(const struct fp_order *, void *), void *arg)
{
	for (size_t i = 0; i < fp_orders_n; i++)
		fn(&fp_orders[i], arg);
}
