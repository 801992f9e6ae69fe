/* admin_api.c - the admin API: routing, operator keys, input decoding and
 * the JSON envelope.  Every rule lives in lib/ops.c (the CLI's too); this
 * file only turns HTTP into operations and their results into replies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "admin_api.h"
#include "admin_match.h"
#include "auth.h"
#include "catalog.h"
#include "clock.h"
#include "config.h"
#include "conns.h"
#include "framing.h"
#include "jsonx.h"
#include "log.h"
#include "money.h"
#include "ops.h"
#include "orders.h"
#include "panel.h"
#include "params.h"
#include "ratelimit.h"
#include "store.h"
#include "xmalloc.h"

/* Failed authentications per client address: 10 a minute, 10 at once. */
#define ADMIN_AUTH_FAILS 10
#define ADMIN_AUTH_PER_MS 60000
#define ADMIN_PAGE_DEFAULT 100
#define ADMIN_JSON_DEPTH 4

struct admin_api {
	struct conns *conns;
	struct panel *panel;
	struct orders *orders;
	struct store *st;
	struct ratelimit *auth_fail;
};

/* One request being answered. */
struct admin_req {
	struct admin_api *a;
	struct evhttp_request *req;
	const char *rest; /* the path after /adminapi/v2/ */
	int64_t id;       /* users/{id}, orders/{id} */
	json_t *body;     /* a JSON body's object, or NULL */
	struct params *p; /* a form body's fields and the query's */
	struct ops ops;
	char key_name[STORE_NAME_MAX + 1]; /* the operator key's */
	int decimals;
	int status;    /* the reply's, once sent */
	char msg[256]; /* its error message */
};

typedef void (*admin_fn)(struct admin_req *r);

struct admin_route {
	const char *path; /* "users/#": # is a numeric ID */
	int post;         /* POST, else GET */
	int write;        /* refused to read-only keys */
	admin_fn fn;
};

/*
 * Replies.
 */

/* Send the envelope: STATUS 200 with DATA (taken), or STATUS with MSG. */
static void
admin_send(struct admin_req *r, int status, const char *msg, json_t *data)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
	json_t *env = json_object();
	char *text;

	json_object_set_new(env, "error_code",
	                    json_integer(status == 200 ? 0 : status));
	json_object_set_new(
	    env, "error_message",
	    json_string(status == 200 || msg == NULL ? "" : msg));
	json_object_set_new(env, "data",
	                    status == 200 && data != NULL ? data : json_null());
	if (status != 200)
		json_decref(data);
	text = json_dumps(env, JSON_COMPACT);
	json_decref(env);
	r->status = status;
	snprintf(r->msg, sizeof(r->msg), "%s", msg != NULL ? msg : "");
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	if (text != NULL)
		evbuffer_add(evhttp_request_get_output_buffer(r->req), text,
		             strlen(text));
	free(text);
	conns_request_answered(r->a->conns, r->req);
	evhttp_send_reply(r->req, status, status == 200 ? "OK" : "Error", NULL);
}

static void
admin_fail(struct admin_req *r, int status, const char *msg)
{
	admin_send(r, status, msg, NULL);
}

static void
admin_ops_reply(struct admin_req *r, const struct ops_result *res, json_t *data)
{
	if (res->status == OPS_OK)
		admin_send(r, 200, NULL, data);
	else
		admin_send(r, (int)res->status, res->msg, data);
}

static json_t *
admin_money(money_t v, int decimals)
{
	char buf[MONEY_BUFSZ];

	return json_string(money_format(v, decimals, buf));
}

static json_t *
admin_time(int64_t t)
{
	char buf[32];
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0)
		return json_null();
	gmtime_r(&tt, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
	return json_string(buf);
}

static json_t *
admin_text_or_null(const char *s)
{
	return s != NULL && *s != '\0' ? json_string(s) : json_null();
}

static json_t *
admin_user(const struct customer *c, int decimals)
{
	return json_pack("{s:I,s:s,s:o,s:s,s:o}", "id", (json_int_t)c->id,
	                 "username", c->name, "balance",
	                 admin_money(c->balance, decimals), "status",
	                 c->disabled ? "disabled" : "active", "created",
	                 admin_time(c->created_at));
}

static json_t *
admin_int_or_null(int64_t v)
{
	return v >= 0 ? json_integer(v) : json_null();
}

static json_t *
admin_order(const struct order *o, const char *user, int decimals)
{
	return json_pack(
	    "{s:I,s:s,s:I,s:I,s:s,s:s,s:I,s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:o}",
	    "id", (json_int_t)o->id, "user", user, "user_id",
	    (json_int_t)o->customer_id, "service_id", (json_int_t)o->service_id,
	    "type", o->type, "status", order_state_name(o->state), "quantity",
	    (json_int_t)o->quantity, "runs", (json_int_t)o->runs, "interval",
	    (json_int_t)o->interval, "charge", admin_money(o->charge, decimals),
	    "refunded", admin_money(o->refunded, decimals), "start_count",
	    admin_int_or_null(o->start_count), "remains",
	    admin_int_or_null(o->remains), "created", admin_time(o->created_at),
	    "last_update", admin_time(o->updated_at));
}

static json_t *
admin_ledger(const struct ledger_entry *e, int decimals)
{
	json_t *j = json_pack(
	    "{s:I,s:s,s:s,s:o,s:o,s:o}", "id", (json_int_t)e->id, "user",
	    e->customer, "kind", ledger_kind_name(e->kind), "amount",
	    admin_money(e->amount, decimals), "note",
	    admin_text_or_null(e->note), "created", admin_time(e->created_at));

	if (e->order_id > 0)
		json_object_set_new(j, "order_id", json_integer(e->order_id));
	return j;
}

static json_t *
admin_payment(const struct ledger_entry *e, const char *user, int decimals)
{
	return json_pack(
	    "{s:I,s:s,s:o,s:o,s:o,s:o,s:o,s:o}", "id", (json_int_t)e->id,
	    "user", user, "amount", admin_money(e->amount, decimals), "method",
	    admin_text_or_null(e->method), "memo", admin_text_or_null(e->note),
	    "external_id", admin_text_or_null(e->external_id), "by",
	    admin_text_or_null(e->actor), "created", admin_time(e->created_at));
}

/* {"count": N, "list": LIST} */
static json_t *
admin_list(json_t *list)
{
	return json_pack("{s:I,s:o}", "count",
	                 (json_int_t)json_array_size(list), "list", list);
}

/* Send a page's LIST (taken), or 500 when reading it failed (N < 0). */
static void
admin_send_page(struct admin_req *r, int64_t n, json_t *list)
{
	if (n < 0) {
		json_decref(list);
		admin_fail(r, 500, "store error");
	} else
		admin_send(r, 200, NULL, admin_list(list));
}

/*
 * Input: a JSON object's typed fields, or a form's and the query's.
 */

/* Field NAME as text into *OUT: 1 present, 0 absent (or JSON null), -1 of
 * a wrong type (answered).  NUMBERS: a JSON number is read through its
 * shortest decimal text. */
static int
admin_text(struct admin_req *r, const char *name, int numbers, const char **out)
{
	json_t *v = r->body != NULL ? json_object_get(r->body, name) : NULL;
	char msg[128];

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		*out = params_get(r->p, name);
		return *out != NULL;
	}
	if (json_is_string(v)) {
		*out = json_string_value(v);
		if (strlen(*out) != json_string_length(v)) {
			snprintf(msg, sizeof(msg), "%s holds a NUL byte", name);
			admin_fail(r, 400, msg);
			return -1;
		}
		return 1;
	}
	if (numbers && (json_is_integer(v) || json_is_real(v))) {
		char num[JSONX_REAL_MAX];

		if (json_is_integer(v))
			snprintf(num, sizeof(num), "%lld",
			         (long long)json_integer_value(v));
		else if (jsonx_real(json_real_value(v), num) < 0)
			goto wrong;
		/* The number's text replaces it in the body: each field
		 * keeps its own text for the request's life. */
		json_object_set_new(r->body, name, json_string(num));
		*out = json_string_value(json_object_get(r->body, name));
		return 1;
	}
wrong:
	snprintf(msg, sizeof(msg), "%s must be a %s", name,
	         numbers ? "number or a string" : "string");
	admin_fail(r, 400, msg);
	return -1;
}

/* A required text field. */
static int
admin_need(struct admin_req *r, const char *name, int numbers, const char **out)
{
	char msg[96];
	int n = admin_text(r, name, numbers, out);

	if (n == 0) {
		snprintf(msg, sizeof(msg), "%s is missing", name);
		admin_fail(r, 400, msg);
	}
	return n == 1 ? 0 : -1;
}

/* Field NAME as a boolean: true/1/"1"/"true"/"yes". */
static int
admin_bool(struct admin_req *r, const char *name, int *out)
{
	json_t *v = r->body != NULL ? json_object_get(r->body, name) : NULL;
	const char *s;

	*out = 0;
	if (v != NULL && json_is_boolean(v)) {
		*out = json_is_true(v);
		return 0;
	}
	if (admin_text(r, name, 1, &s) < 0)
		return -1;
	*out =
	    s != NULL && (strcmp(s, "1") == 0 || strcasecmp(s, "true") == 0 ||
	                  strcasecmp(s, "yes") == 0);
	return 0;
}

/* A non-negative integer field in [LO, HI], DFLT when absent. */
static int
admin_int(struct admin_req *r, const char *name, int64_t lo, int64_t hi,
          int64_t dflt, int64_t *out)
{
	const char *s;
	char *end, msg[128];
	long long v;
	int n = admin_text(r, name, 1, &s);

	if (n < 0)
		return -1;
	if (n == 0) {
		*out = dflt;
		return 0;
	}
	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
		snprintf(msg, sizeof(msg),
		         "%s must be an integer from %lld to "
		         "%lld",
		         name, (long long)lo, (long long)hi);
		admin_fail(r, 400, msg);
		return -1;
	}
	*out = v;
	return 0;
}

static int
admin_page(struct admin_req *r, int64_t *limit, int64_t *offset)
{
	if (admin_int(r, "limit", 1, STORE_PAGE_MAX, ADMIN_PAGE_DEFAULT,
	              limit) != 0)
		return -1;
	return admin_int(r, "offset", 0, INT64_C(1000000000), 0, offset);
}

/* An ID list field: a JSON array of integers, or a comma list. */
static int
admin_ids(struct admin_req *r, const char *name, int64_t *ids, size_t max,
          size_t *n)
{
	json_t *v = r->body != NULL ? json_object_get(r->body, name) : NULL;
	const char *s;
	char msg[128];

	*n = 0;
	if (v != NULL && json_is_array(v)) {
		size_t i;
		json_t *x;

		json_array_foreach(v, i, x)
		{
			if (!json_is_integer(x) || json_integer_value(x) <= 0 ||
			    *n >= max)
				goto bad;
			ids[(*n)++] = json_integer_value(x);
		}
		if (*n > 0)
			return 0;
		goto bad;
	}
	if (admin_text(r, name, 1, &s) < 0)
		return -1;
	if (s != NULL && idlist_parse(s, ids, max, n) == IDLIST_OK)
		return 0;
bad:
	snprintf(msg, sizeof(msg), "%s must be 1 to %zu order IDs", name, max);
	admin_fail(r, 400, msg);
	return -1;
}

/*
 * Users.
 */

struct admin_rows {
	json_t *list;
	int decimals;
};

static int
admin_user_row(const struct customer *c, void *arg)
{
	struct admin_rows *rows = arg;

	json_array_append_new(rows->list, admin_user(c, rows->decimals));
	return 0;
}

static void
admin_users_list(struct admin_req *r)
{
	struct customer_page f = {0, NULL, -1, 0, 0};
	struct admin_rows rows = {json_array(), r->decimals};
	const char *status;

	if (admin_text(r, "username", 0, &f.name) < 0 ||
	    admin_text(r, "status", 0, &status) < 0 ||
	    admin_page(r, &f.limit, &f.offset) != 0)
		goto done;
	if (status != NULL) {
		if (strcmp(status, "active") == 0)
			f.disabled = 0;
		else if (strcmp(status, "disabled") == 0)
			f.disabled = 1;
		else {
			admin_fail(r, 400, "status must be active or disabled");
			goto done;
		}
	}
	admin_send_page(
	    r, store_customer_page(r->a->st, &f, admin_user_row, &rows),
	    rows.list);
	return;
done:
	json_decref(rows.list);
}

static void
admin_users_get(struct admin_req *r)
{
	struct customer_page f = {r->id, NULL, -1, 1, 0};
	struct admin_rows rows = {json_array(), r->decimals};

	if (store_customer_page(r->a->st, &f, admin_user_row, &rows) < 0)
		admin_fail(r, 500, "store error");
	else if (json_array_size(rows.list) == 0)
		admin_fail(r, 404, "no such user");
	else {
		admin_send(r, 200, NULL,
		           json_incref(json_array_get(rows.list, 0)));
	}
	json_decref(rows.list);
}

/* users/add and users/rotate-key: the user and its new key. */
static void
admin_users_key(struct admin_req *r, int rotate)
{
	char key[AUTH_KEY_LEN + 1];
	struct ops_result res;
	struct customer c;
	const char *name;

	if (admin_need(r, "username", 0, &name) != 0)
		return;
	if (rotate)
		ops_user_rotate_key(&r->ops, name, &c, key, &res);
	else
		ops_user_add(&r->ops, name, &c, key, &res);
	admin_ops_reply(r, &res,
	                res.status == OPS_OK
	                    ? json_pack("{s:o,s:s}", "user",
	                                admin_user(&c, r->decimals), "api_key",
	                                key)
	                    : NULL);
}

static void
admin_users_add(struct admin_req *r)
{
	admin_users_key(r, 0);
}

static void
admin_users_rotate(struct admin_req *r)
{
	admin_users_key(r, 1);
}

static void
admin_users_disabled(struct admin_req *r, int disabled)
{
	struct ops_result res;
	struct customer c;
	const char *name;

	if (admin_need(r, "username", 0, &name) != 0)
		return;
	ops_user_set_disabled(&r->ops, name, disabled, &c, &res);
	admin_ops_reply(
	    r, &res, res.status == OPS_OK ? admin_user(&c, r->decimals) : NULL);
}

static void
admin_users_disable(struct admin_req *r)
{
	admin_users_disabled(r, 1);
}

static void
admin_users_enable(struct admin_req *r)
{
	admin_users_disabled(r, 0);
}

/*
 * Payments.
 */

static void
admin_payments_do(struct admin_req *r, int deduct)
{
	struct ops_payment in = {NULL, NULL, deduct, NULL, NULL, NULL};
	const char *header = evhttp_find_header(
	    evhttp_request_get_input_headers(r->req), "Idempotency-Key");
	struct ledger_entry e;
	struct ops_result res;
	struct customer c;
	int dup, ignored;

	if (admin_need(r, "username", 0, &in.user) != 0 ||
	    admin_need(r, "amount", 1, &in.amount) != 0 ||
	    admin_text(r, "method", 0, &in.method) < 0 ||
	    admin_text(r, "memo", 0, &in.memo) < 0 ||
	    admin_text(r, "external_id", 0, &in.external_id) < 0 ||
	    admin_bool(r, "affiliate_commission", &ignored) != 0)
		return;
	if (header != NULL) {
		if (in.external_id != NULL &&
		    strcmp(in.external_id, header) != 0) {
			admin_fail(r, 400,
			           "the Idempotency-Key header and external_id "
			           "differ");
			return;
		}
		in.external_id = header;
	}
	if (ops_payment(&r->ops, &in, &e, &c, &dup, &res) != 0) {
		admin_ops_reply(r, &res, NULL);
		return;
	}
	admin_send(r, 200, NULL,
	           json_pack("{s:I,s:o,s:b}", "payment_id", (json_int_t)e.id,
	                     "user", admin_user(&c, r->decimals), "duplicate",
	                     dup));
}

static void
admin_payments_add(struct admin_req *r)
{
	admin_payments_do(r, 0);
}

static void
admin_payments_deduct(struct admin_req *r)
{
	admin_payments_do(r, 1);
}

static int
admin_payment_row(const struct ledger_entry *e, void *arg)
{
	struct admin_rows *rows = arg;

	json_array_append_new(rows->list,
	                      admin_payment(e, e->customer, rows->decimals));
	return 0;
}

/* A "username"/"user" filter: the customer's ID, 0 when absent, -1 when
 * answered (unknown or bad). */
static int64_t
admin_user_filter(struct admin_req *r, const char *field)
{
	struct ops_result res;
	struct customer c;
	const char *name;
	int n = admin_text(r, field, 0, &name);

	if (n <= 0)
		return n;
	if (ops_user_get(&r->ops, name, &c, &res) != 0) {
		admin_ops_reply(r, &res, NULL);
		return -1;
	}
	return c.id;
}

static void
admin_payments_list(struct admin_req *r)
{
	struct ledger_page f = {0, 0, 1, 0, 0};
	struct admin_rows rows = {json_array(), r->decimals};

	if ((f.customer_id = admin_user_filter(r, "username")) < 0 ||
	    admin_page(r, &f.limit, &f.offset) != 0)
		goto done;
	admin_send_page(
	    r, store_ledger_page(r->a->st, &f, admin_payment_row, &rows),
	    rows.list);
	return;
done:
	json_decref(rows.list);
}

/*
 * Orders.
 */

static int
admin_order_row(const struct order *o, const char *user, void *arg)
{
	struct admin_rows *rows = arg;

	json_array_append_new(rows->list, admin_order(o, user, rows->decimals));
	return 0;
}

static void
admin_orders_list(struct admin_req *r)
{
	int64_t services[STORE_PAGE_IDS];
	struct order_page f;
	struct admin_rows rows = {json_array(), r->decimals};
	const char *state, *sort, *svc;

	memset(&f, 0, sizeof(f));
	f.state = -1;
	if ((f.customer_id = admin_user_filter(r, "user")) < 0 ||
	    admin_text(r, "order_status", 0, &state) < 0 ||
	    admin_text(r, "service_ids", 1, &svc) < 0 ||
	    admin_text(r, "upstream", 0, &f.upstream) < 0 ||
	    admin_text(r, "link", 0, &f.link) < 0 ||
	    admin_text(r, "sort", 0, &sort) < 0 ||
	    admin_int(r, "created_from", 0, INT64_C(1) << 40, 0,
	              &f.created_from) != 0 ||
	    admin_int(r, "created_to", 0, INT64_C(1) << 40, 0, &f.created_to) !=
	        0 ||
	    admin_int(r, "before_id", 0, INT64_MAX, 0, &f.before_id) != 0 ||
	    admin_int(r, "after_id", 0, INT64_MAX, 0, &f.after_id) != 0 ||
	    admin_page(r, &f.limit, &f.offset) != 0)
		goto done;
	if (state != NULL && (f.state = order_state_parse(state)) < 0) {
		admin_fail(r, 400,
		           "order_status must be one of queued, sending, "
		           "active, completed, partial, canceled, "
		           "refunded, rejected");
		goto done;
	}
	if (svc != NULL) {
		if (idlist_parse(svc, services, STORE_PAGE_IDS, &f.nservices) !=
		    IDLIST_OK) {
			admin_fail(r, 400,
			           "service_ids must be 1 to 100 "
			           "service IDs");
			goto done;
		}
		f.services = services;
	}
	if (sort != NULL && strcmp(sort, "date-asc") != 0 &&
	    strcmp(sort, "date-desc") != 0) {
		admin_fail(r, 400, "sort must be date-desc or date-asc");
		goto done;
	}
	f.ascending = sort != NULL && strcmp(sort, "date-asc") == 0;
	admin_send_page(r,
	                store_order_page(r->a->st, &f, admin_order_row, &rows),
	                rows.list);
	return;
done:
	json_decref(rows.list);
}

static int
admin_ledger_row(const struct ledger_entry *e, void *arg)
{
	struct admin_rows *rows = arg;

	json_array_append_new(rows->list, admin_ledger(e, rows->decimals));
	return 0;
}

/* Order R->id with its fields, ledger entries and, with PROVIDER, its
 * upstream; NULL (answered) if none. */
static json_t *
admin_order_full(struct admin_req *r, int provider)
{
	struct ledger_page lf = {0, r->id, 0, STORE_PAGE_MAX, 0};
	struct admin_rows rows = {json_array(), r->decimals};
	struct order o;
	char *fields = NULL;
	json_t *j, *fj;
	enum store_result sr = store_order_get(r->a->st, r->id, &o);
	struct customer_page cf = {0, NULL, -1, 1, 0};
	struct admin_rows users = {json_array(), r->decimals};
	const char *user = "";

	if (sr != STORE_OK) {
		admin_fail(r, sr == STORE_NOTFOUND ? 404 : 500,
		           sr == STORE_NOTFOUND ? "no such order"
		                                : "store error");
		json_decref(rows.list);
		json_decref(users.list);
		return NULL;
	}
	cf.id = o.customer_id;
	if (store_customer_page(r->a->st, &cf, admin_user_row, &users) == 1)
		user = json_string_value(
		    json_object_get(json_array_get(users.list, 0), "username"));
	j = admin_order(&o, user != NULL ? user : "", r->decimals);
	json_decref(users.list);
	if (store_order_fields(r->a->st, o.id, &fields) == STORE_OK &&
	    (fj = json_loads(fields, 0, NULL)) != NULL)
		json_object_set_new(j, "fields", fj);
	free(fields);
	store_ledger_page(r->a->st, &lf, admin_ledger_row, &rows);
	json_object_set_new(j, "ledger", rows.list);
	if (provider)
		json_object_set_new(
		    j, "provider",
		    json_pack("{s:s,s:I,s:o,s:o,s:o}", "upstream", o.upstream,
		              "service", (json_int_t)o.upstream_service,
		              "order", admin_text_or_null(o.upstream_order),
		              "status", admin_text_or_null(o.upstream_status),
		              "cost",
		              o.state >= ORDER_ACTIVE && o.upstream_order[0]
		                  ? admin_money(o.cost, r->decimals)
		                  : json_null()));
	return j;
}

static void
admin_orders_get(struct admin_req *r)
{
	const char *inc;
	json_t *j;

	if (admin_text(r, "include", 0, &inc) < 0)
		return;
	if ((j = admin_order_full(r, inc != NULL && strstr(inc, "provider") !=
	                                                NULL)) != NULL)
		admin_send(r, 200, NULL, j);
}

static void
admin_orders_resolve(struct admin_req *r)
{
	struct ops_result res;
	struct order o;
	const char *up;
	int refund;

	if (admin_int(r, "id", 1, INT64_MAX, 0, &r->id) != 0 ||
	    admin_text(r, "upstream_order", 1, &up) < 0 ||
	    admin_bool(r, "refund", &refund) != 0)
		return;
	if (r->id == 0 || (up == NULL) == (refund == 0)) {
		admin_fail(r, 400,
		           "give id and either upstream_order or "
		           "refund=true");
		return;
	}
	if (ops_order_resolve(&r->ops, r->id, up, &o, &res) != 0) {
		admin_ops_reply(r, &res, NULL);
		return;
	}
	admin_send(r, 200, NULL, admin_order_full(r, 1));
}

/* A cancel waits on its upstreams: the request lives on here. */
struct admin_cancel {
	struct admin_req r;
	char detail[STORE_AUDIT_MAX];
};

static void admin_req_free(struct admin_req *r);

static void
admin_cancel_done(void *arg, const struct orders_ids *res)
{
	struct admin_cancel *c = arg;
	json_t *list = json_array();
	struct ops_result or ;
	size_t ok = 0;

	for (size_t i = 0; i < res->n; i++) {
		const struct orders_item *it = &res->items[i];
		json_t *row = json_pack("{s:I}", "id", (json_int_t)it->id);
		struct order o;

		if (it->ok) {
			int done = store_order_get(c->r.a->st, it->id, &o) ==
			               STORE_OK &&
			           order_state_final(o.state);

			json_object_set_new(
			    row, "result",
			    json_string(done ? "canceled" : "requested"));
			ok++;
		} else {
			json_object_set_new(row, "result",
			                    json_string("error"));
			json_object_set_new(
			    row, "error",
			    json_string(
			        it->why == ORDERS_ERR_NOTFOUND ? "no such order"
			        : it->why == ORDERS_ERR_TEXT && it->text != NULL
			            ? it->text
			            : "the cancel could not be done"));
		}
		json_array_append_new(list, row);
	}
	if (ok == res->n)
		ops_fail(& or, OPS_OK, NULL);
	else
		ops_fail(& or, OPS_CONFLICT, "%zu of %zu not canceled",
		         res->n - ok, res->n);
	ops_audit(&c->r.ops, "orders/cancel", "", c->detail, & or);
	admin_send(&c->r, 200, NULL, json_pack("{s:o}", "list", list));
	admin_req_free(&c->r);
	free(c);
}

static void
admin_orders_cancel(struct admin_req *r)
{
	int64_t ids[ORDERS_MAX_IDS];
	struct admin_cancel *c;
	json_t *d, *a;
	char *text;
	size_t n;
	int rc;

	if (admin_ids(r, "ids", ids, ORDERS_MAX_IDS, &n) != 0)
		return;
	c = xcalloc(1, sizeof(*c));
	c->r = *r;
	a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_integer(ids[i]));
	d = json_pack("{s:o}", "ids", a);
	text = json_dumps(d, JSON_COMPACT);
	snprintf(c->detail, sizeof(c->detail), "%s",
	         text != NULL ? text : "{}");
	free(text);
	json_decref(d);
	/* The request is the cancel's now: the caller must not free it. */
	r->req = NULL;
	rc = orders_cancel(c->r.a->orders, ORDERS_ANY_CUSTOMER, ids, n, 1,
	                   admin_cancel_done, c);
	if (rc < 0) {
		struct ops_result or ;

		ops_fail(& or, OPS_ERROR, "store error");
		ops_audit(&c->r.ops, "orders/cancel", "", c->detail, & or);
		admin_fail(&c->r, 500, "store error");
		admin_req_free(&c->r);
		free(c);
	}
}

/*
 * Read-only views.
 */

static void
admin_services(struct admin_req *r)
{
	struct panel *p = r->a->panel;
	struct catalog *cat = catalog_ref(p->cat);
	const struct config *cfg = p->cfg;
	json_t *list = json_array();

	for (size_t i = 0; i < cat->n; i++) {
		const struct catalog_service *s = &cat->v[i];
		json_t *routes = json_array();

		for (size_t k = 0; k < s->nroutes; k++) {
			const struct catalog_route *rt = &s->routes[k];

			json_array_append_new(
			    routes,
			    json_pack(
			        "{s:s,s:I,s:o,s:o,s:o}", "upstream",
			        cfg->upstreams[rt->upstream].name, "service",
			        (json_int_t)rt->service, "cost",
			        admin_money(rt->cost, r->decimals), "rate",
			        admin_money(rt->rate, r->decimals), "margin",
			        admin_money(rt->rate - rt->cost, r->decimals)));
		}
		json_array_append_new(
		    list, json_pack("{s:I,s:s,s:s,s:s,s:o,s:I,s:I,s:o}", "id",
		                    (json_int_t)s->id, "name", s->name, "type",
		                    s->type, "category", s->category, "rate",
		                    admin_money(s->rate, r->decimals), "min",
		                    (json_int_t)s->min, "max",
		                    (json_int_t)s->max, "routes", routes));
	}
	catalog_unref(cat);
	admin_send(r, 200, NULL, admin_list(list));
}

/* services/match?upstreams=a,b&min_score=S (daemon/admin_match.c): the
 * request waits for the matcher's thread. */
static void
admin_services_matched(void *arg, json_t *data)
{
	struct admin_req *held = arg;

	if (data == NULL)
		admin_fail(held, 500, "the match failed");
	else
		admin_send(held, 200, NULL, data);
	admin_req_free(held);
	free(held);
}

/* Shutting down: the request went with its listener. */
static void
admin_services_drop(void *arg)
{
	admin_req_free(arg);
	free(arg);
}

static void
admin_services_match(struct admin_req *r)
{
	struct admin_req *held;
	const char *ups, *score;
	char msg[128];
	int status;

	if (admin_text(r, "upstreams", 0, &ups) < 0 ||
	    admin_text(r, "min_score", 1, &score) < 0)
		return;
	held = xmalloc(sizeof(*held));
	*held = *r;
	if (admin_match_start(r->a->panel, ups, score, admin_services_matched,
	                      held, &status, msg, sizeof(msg)) != 0) {
		free(held);
		admin_fail(r, status, msg);
		return;
	}
	r->req = NULL; /* HELD answers it */
}

static void
admin_upstreams(struct admin_req *r)
{
	struct panel *p = r->a->panel;
	json_t *list = json_array();

	for (size_t i = 0; i < p->nups; i++) {
		const struct upstream_state *s = &p->ups[i].state;

		json_array_append_new(
		    list, json_pack("{s:s,s:s,s:o,s:s,s:I,s:o}", "name",
		                    s->name, "circuit", s->circuit, "balance",
		                    s->has_balance
		                        ? admin_money(s->balance, r->decimals)
		                        : json_null(),
		                    "currency", s->currency, "services",
		                    (json_int_t)s->services, "last_sync",
		                    admin_time(s->synced_at)));
	}
	admin_send(r, 200, NULL, admin_list(list));
}

struct admin_report {
	json_t *list;
	int decimals;
	money_t revenue, cost;
};

static int
admin_report_row(const struct report_row *row, void *arg)
{
	struct admin_report *ar = arg;
	money_t revenue = row->charged - row->refunded;

	json_array_append_new(
	    ar->list,
	    json_pack("{s:s,s:I,s:I,s:o,s:o,s:o}", "upstream", row->upstream,
	              "service_id", (json_int_t)row->service_id, "orders",
	              (json_int_t)row->orders, "revenue",
	              admin_money(revenue, ar->decimals), "cost",
	              admin_money(row->cost, ar->decimals), "margin",
	              admin_money(revenue - row->cost, ar->decimals)));
	ar->revenue += revenue;
	ar->cost += row->cost;
	return 0;
}

static void
admin_report(struct admin_req *r)
{
	struct admin_report ar = {json_array(), r->decimals, 0, 0};

	if (store_report(r->a->st, admin_report_row, &ar) < 0) {
		json_decref(ar.list);
		admin_fail(r, 500, "store error");
		return;
	}
	admin_send(r, 200, NULL,
	           json_pack("{s:o,s:{s:o,s:o,s:o}}", "list", ar.list, "total",
	                     "revenue", admin_money(ar.revenue, r->decimals),
	                     "cost", admin_money(ar.cost, r->decimals),
	                     "margin",
	                     admin_money(ar.revenue - ar.cost, r->decimals)));
}

static void
admin_violation(const char *what, void *arg)
{
	json_array_append_new(arg, json_string(what));
}

static void
admin_check(struct admin_req *r)
{
	json_t *v = json_array();
	int n = store_check(r->a->st, admin_violation, v);

	if (n < 0) {
		json_decref(v);
		admin_fail(r, 500, "check could not run");
		return;
	}
	admin_send(r, 200, NULL,
	           json_pack("{s:b,s:o}", "ok", n == 0, "violations", v));
}

static int
admin_audit_row(const struct audit_entry *e, void *arg)
{
	json_t *detail = json_loads(e->detail, 0, NULL);

	json_array_append_new(
	    arg,
	    json_pack("{s:I,s:o,s:s,s:s,s:s,s:o,s:s}", "id", (json_int_t)e->id,
	              "created", admin_time(e->created_at), "actor", e->actor,
	              "action", e->action, "target", e->target, "detail",
	              detail != NULL ? detail : json_string(e->detail),
	              "result", e->result));
	return 0;
}

static void
admin_audit(struct admin_req *r)
{
	struct audit_page f = {NULL, 0, 0};
	json_t *list = json_array();

	if (admin_text(r, "actor", 0, &f.actor) < 0 ||
	    admin_page(r, &f.limit, &f.offset) != 0) {
		json_decref(list);
		return;
	}
	admin_send_page(
	    r, store_audit_page(r->a->st, &f, admin_audit_row, list), list);
}

/* Sync an upstream's services and balance now, as its timer would: the
 * reply says it started (or was already running); its end shows in
 * upstreams' last_sync. */
static void
admin_upstreams_sync(struct admin_req *r)
{
	struct panel *p = r->a->panel;
	struct ops_result res;
	const char *name;
	int idx, running;

	if (admin_need(r, "upstream", 0, &name) != 0)
		return;
	if ((idx = panel_upstream_index(p, name)) < 0) {
		ops_fail(&res, OPS_NOTFOUND, "no such upstream");
	} else if (p->eng == NULL) {
		ops_fail(&res, OPS_CONFLICT, "the upstream client is stopped");
	} else {
		running = p->ups[idx].syncing;
		panel_sync(p, (size_t)idx);
		ops_fail(&res, OPS_OK, NULL);
		ops_audit(&r->ops, "upstreams/sync", name, NULL, &res);
		admin_send(r, 200, NULL,
		           json_pack("{s:s,s:b}", "upstream", name,
		                     "already_running", running != 0));
		return;
	}
	ops_audit(&r->ops, "upstreams/sync", name, NULL, &res);
	admin_ops_reply(r, &res, NULL);
}

/* The key's own name and access: the console hides what it may not do. */
static void
admin_me(struct admin_req *r)
{
	admin_send(r, 200, NULL,
	           json_pack("{s:s,s:b}", "name", r->key_name, "read_only",
	                     r->ops.read_only != 0));
}

static const struct admin_route admin_routes[] = {
    {"me", 0, 0, admin_me},
    {"users", 0, 0, admin_users_list},
    {"users/#", 0, 0, admin_users_get},
    {"users/add", 1, 1, admin_users_add},
    {"users/disable", 1, 1, admin_users_disable},
    {"users/enable", 1, 1, admin_users_enable},
    {"users/rotate-key", 1, 1, admin_users_rotate},
    {"payments", 0, 0, admin_payments_list},
    {"payments/add", 1, 1, admin_payments_add},
    {"payments/deduct", 1, 1, admin_payments_deduct},
    {"orders", 0, 0, admin_orders_list},
    {"orders/#", 0, 0, admin_orders_get},
    {"orders/cancel", 1, 1, admin_orders_cancel},
    {"orders/resolve", 1, 1, admin_orders_resolve},
    {"services", 0, 0, admin_services},
    {"services/match", 0, 0, admin_services_match},
    {"upstreams", 0, 0, admin_upstreams},
    {"upstreams/sync", 1, 1, admin_upstreams_sync},
    {"report", 0, 0, admin_report},
    {"check", 0, 0, admin_check},
    {"audit", 0, 0, admin_audit},
};
#define ADMIN_NROUTES (sizeof(admin_routes) / sizeof(admin_routes[0]))

/* Whether REST matches PATTERN ("#" a positive decimal ID into *ID). */
static int
admin_match(const char *pattern, const char *rest, int64_t *id)
{
	const char *hash = strchr(pattern, '#');
	size_t n = hash != NULL ? (size_t)(hash - pattern) : strlen(pattern);
	char *end;
	long long v;

	if (hash == NULL)
		return strcmp(pattern, rest) == 0;
	if (strncmp(pattern, rest, n) != 0 || rest[n] < '1' || rest[n] > '9')
		return 0;
	v = strtoll(rest + n, &end, 10);
	if (*end != '\0' || v <= 0)
		return 0;
	*id = v;
	return 1;
}

/*
 * The request.
 */

static void
admin_req_free(struct admin_req *r)
{
	json_decref(r->body);
	params_free(r->p);
}

/* Decode the query and, for POST, the body: 0, or -1 answered. */
static int
admin_decode(struct admin_req *r, int post)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(r->req);
	const char *query = evhttp_uri_get_query(uri);
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(in);
	const char *ctype = evhttp_find_header(
	    evhttp_request_get_input_headers(r->req), "Content-Type");
	const char *why = NULL;
	json_error_t err;
	char *body;

	if (post && len > 0) {
		body = (char *)evbuffer_pullup(in, -1);
		if (ctype != NULL &&
		    (strncasecmp(ctype, "application/json", 16) == 0 ||
		     strncasecmp(ctype, "text/json", 9) == 0)) {
			if (jsonx_too_deep(body, len, ADMIN_JSON_DEPTH)) {
				admin_fail(r, 400,
				           "the JSON body nests too "
				           "deep");
				return -1;
			}
			r->body =
			    json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
			if (r->body == NULL || !json_is_object(r->body)) {
				admin_fail(r, 400,
				           "the body is not a JSON "
				           "object");
				return -1;
			}
		} else if (params_decode_body(r->p, ctype, body, len, &why) !=
		           PARAMS_OK) {
			admin_fail(r, 400, why != NULL ? why : "bad body");
			return -1;
		}
	}
	if (query != NULL && params_decode_query(r->p, query, strlen(query),
	                                         &why) != PARAMS_OK) {
		admin_fail(r, 400, why != NULL ? why : "bad query");
		return -1;
	}
	return 0;
}

/* The operator key of REQ: 0 with the actor set, or -1 answered. */
static int
admin_auth(struct admin_req *r, const char *ip)
{
	const char *key = evhttp_find_header(
	    evhttp_request_get_input_headers(r->req), "X-Api-Key");
	uint8_t hash[AUTH_HASH_LEN];
	char actor[STORE_ACTOR_MAX + 1];
	struct admin_key k;
	enum store_result sr;

	/* An address whose bucket of failures is empty is refused before
	 * its key is looked at; each failure takes a token.  (Taking first
	 * and giving back on success would refuse good keys while lookups
	 * are in flight: on PostgreSQL they park.) */
	if (!ratelimit_peek(r->a->auth_fail, ip, clock_mono_ms())) {
		admin_fail(r, 429,
		           "too many failed authentications; try again later");
		return -1;
	}
	sr = STORE_NOTFOUND;
	if (key != NULL && *key != '\0' && strlen(key) <= AUTH_KEY_MAX) {
		auth_key_hash(key, strlen(key), hash);
		sr = store_admin_key_by_hash(r->a->st, hash, &k);
	}
	if (sr == STORE_ERROR) {
		admin_fail(r, 500, "store error");
		return -1;
	}
	if (sr != STORE_OK) {
		ratelimit_take(r->a->auth_fail, ip, clock_mono_ms());
		log_info("admin: refused a missing, unknown or revoked key "
		         "from %s",
		         ip);
		admin_fail(r, 401, "missing or invalid X-Api-Key");
		return -1;
	}
	snprintf(r->key_name, sizeof(r->key_name), "%s", k.name);
	ops_actor_admin(actor, sizeof(actor), k.name);
	ops_init(&r->ops, r->a->st, r->a->panel->cfg, actor, k.read_only);
	return 0;
}

void
admin_api_handle(struct admin_api *a, struct evhttp_request *req,
                 const char *path)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const struct admin_route *rt = NULL;
	struct admin_req r;
	char *addr = NULL;
	char ip[64] = "?";
	ev_uint16_t port;
	int wrong_method = 0;
	const char *why;

	memset(&r, 0, sizeof(r));
	r.a = a;
	r.req = req;
	r.p = params_new();
	r.decimals = a->panel->cfg->money_decimals;
	if (evcon != NULL) {
		evhttp_connection_get_peer(evcon, &addr, &port);
		if (addr != NULL)
			snprintf(ip, sizeof(ip), "%s", addr);
	}
	if ((why = framing_check(evhttp_request_get_input_headers(req))) !=
	    NULL) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		                  "Connection", "close");
		admin_fail(&r, 400, why);
		goto done;
	}
	if (strncmp(path, ADMIN_API_PREFIX, strlen(ADMIN_API_PREFIX)) != 0) {
		admin_fail(&r, 404, "no such path");
		goto done;
	}
	r.rest = path + strlen(ADMIN_API_PREFIX);
	for (size_t i = 0; i < ADMIN_NROUTES && rt == NULL; i++) {
		if (!admin_match(admin_routes[i].path, r.rest, &r.id))
			continue;
		if ((cmd == EVHTTP_REQ_POST) == (admin_routes[i].post != 0))
			rt = &admin_routes[i];
		else
			wrong_method = 1;
	}
	if (admin_auth(&r, ip) != 0)
		goto done;
	if (rt == NULL) {
		admin_fail(&r, wrong_method ? 405 : 404,
		           wrong_method ? "wrong method for this path"
		                        : "no such path");
		goto done;
	}
	if (rt->write && r.ops.read_only) {
		struct ops_result res;

		ops_fail(&res, OPS_DENIED, "this key is read-only");
		ops_audit(&r.ops, rt->path, "", NULL, &res);
		admin_fail(&r, 403, res.msg);
		goto done;
	}
	if (admin_decode(&r, rt->post) == 0) {
		rt->fn(&r);
		if (r.req == NULL)
			return; /* a cancel holds it */
	}
	/* A write refused here, before the operations layer saw it (an
	 * undecodable body, a missing or mistyped field), is audited too. */
	if (rt->write && r.ops.recorded == 0 && r.status != 200) {
		struct ops_result res;

		ops_fail(&res, (enum ops_status)r.status, "%s", r.msg);
		ops_audit(&r.ops, rt->path, "", NULL, &res);
	}
done:
	admin_req_free(&r);
}

struct admin_api *
admin_api_new(struct panel *p, struct orders *o, struct store *st,
              struct conns *conns)
{
	struct admin_api *a = xcalloc(1, sizeof(*a));

	a->conns = conns;
	a->panel = p;
	a->orders = o;
	a->st = st;
	a->auth_fail = ratelimit_new(ADMIN_AUTH_FAILS, ADMIN_AUTH_PER_MS,
	                             ADMIN_AUTH_FAILS);
	return a;
}

void
admin_api_free(struct admin_api *a)
{
	if (a == NULL)
		return;
	admin_match_stop(admin_services_drop);
	ratelimit_free(a->auth_fail);
	free(a);
}
