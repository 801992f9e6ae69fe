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
#include "admin_api_int.h"
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
void
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

void
admin_fail(struct admin_req *r, int status, const char *msg)
{
	admin_send(r, status, msg, NULL);
}

void
admin_ops_reply(struct admin_req *r, const struct ops_result *res, json_t *data)
{
	if (res->status == OPS_OK)
		admin_send(r, 200, NULL, data);
	else
		admin_send(r, (int)res->status, res->msg, data);
}

json_t *
admin_money(money_t v, int decimals)
{
	char buf[MONEY_BUFSZ];

	return json_string(money_format(v, decimals, buf));
}

json_t *
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

json_t *
admin_text_or_null(const char *s)
{
	return s != NULL && *s != '\0' ? json_string(s) : json_null();
}

json_t *
admin_user(const struct customer *c, int decimals)
{
	return json_pack("{s:I,s:s,s:o,s:s,s:o}", "id", (json_int_t)c->id,
	                 "username", c->name, "balance",
	                 admin_money(c->balance, decimals), "status",
	                 c->disabled ? "disabled" : "active", "created",
	                 admin_time(c->created_at));
}

json_t *
admin_int_or_null(int64_t v)
{
	return v >= 0 ? json_integer(v) : json_null();
}

json_t *
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

json_t *
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

json_t *
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
json_t *
admin_list(json_t *list)
{
	return json_pack("{s:I,s:o}", "count",
	                 (json_int_t)json_array_size(list), "list", list);
}

/* Send a page's LIST (taken), or 500 when reading it failed (N < 0). */
void
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
int
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
int
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
int
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
int
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

int
admin_page(struct admin_req *r, int64_t *limit, int64_t *offset)
{
	if (admin_int(r, "limit", 1, STORE_PAGE_MAX, ADMIN_PAGE_DEFAULT,
	              limit) != 0)
		return -1;
	return admin_int(r, "offset", 0, INT64_C(1000000000), 0, offset);
}

/* An ID list field: a JSON array of integers, or a comma list. */
int
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
    {"services/changes", 0, 0, admin_services_changes},
    {"upstreams", 0, 0, admin_upstreams},
    {"upstreams/sync", 1, 1, admin_upstreams_sync},
    {"report", 0, 0, admin_report},
    {"stats", 0, 0, admin_stats},
    {"check", 0, 0, admin_check},
    {"audit", 0, 0, admin_audit},
    {"groups", 0, 0, admin_groups_list},
    {"groups/add", 1, 1, admin_groups_add},
    {"groups/update", 1, 1, admin_groups_update},
    {"groups/remove", 1, 1, admin_groups_remove},
    {"users/set-group", 1, 1, admin_users_set_group},
    {"rates", 0, 0, admin_rates_list},
    {"rates/set", 1, 1, admin_rates_set},
    {"rates/remove", 1, 1, admin_rates_remove},
    {"webhooks", 0, 0, admin_webhooks_list},
    {"webhooks/add", 1, 1, admin_webhooks_add},
    {"webhooks/remove", 1, 1, admin_webhooks_remove},
    {"webhooks/rotate", 1, 1, admin_webhooks_rotate},
    {"webhooks/dead", 0, 0, admin_webhooks_dead},
    {"webhooks/retry", 1, 1, admin_webhooks_retry},
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

void
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
	admin_webhooks_stop();
	ratelimit_free(a->auth_fail);
	free(a);
}
