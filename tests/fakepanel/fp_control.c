/* fp_control.c - the test-facing control API of the fake panel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "fp.h"
#include "fp_api.h"
#include "fp_calllog.h"
#include "fp_catalog.h"
#include "fp_control.h"
#include "fp_fault.h"
#include "fp_orders.h"
#include "fp_reply.h"

#define FP_CONTROL_ERRSZ 512

static struct fp_control_hooks fp_control_h;
static enum fp_dialect fp_control_dialect0;

void
fp_control_init(const struct fp_control_hooks *hooks, enum fp_dialect dialect)
{
	fp_control_h = *hooks;
	fp_control_dialect0 = dialect;
}

static void
fp_control_put(struct evbuffer *out, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	if (s != NULL) {
		evbuffer_add(out, s, strlen(s));
		evbuffer_add(out, "\n", 1);
		free(s);
	}
	json_decref(j);
}

/* An integer from a JSON integer or numeric string: 0, or -1. */
static int
fp_control_int(json_t *v, int64_t *out)
{
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_string(v))
		return fp_parse_int(json_string_value(v), out);
	return -1;
}

/* An amount from a JSON string or number: 0, or -1. */
static int
fp_control_money(json_t *v, money_t *out)
{
	char buf[64];

	if (json_is_string(v))
		return money_parse_n(json_string_value(v),
		                     json_string_length(v), MONEY_ROUND_DOWN,
		                     out);
	if (json_is_integer(v))
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
		         json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, sizeof(buf), "%.8f", json_real_value(v));
	else
		return -1;
	return money_parse_n(buf, strlen(buf), MONEY_ROUND_DOWN, out);
}

static int
fp_control_set(json_t *req, char *err, size_t errlen)
{
	struct fp_order_set s;
	json_t *v;
	int64_t id;

	if ((v = json_object_get(req, "refill")) != NULL) {
		if (fp_control_int(v, &id) == -1) {
			snprintf(err, errlen, "bad refill");
			return -1;
		}
		return fp_orders_refill_set(
		    id, json_string_value(json_object_get(req, "status")), err,
		    errlen);
	}
	if (fp_control_int(json_object_get(req, "order"), &id) == -1) {
		snprintf(err, errlen, "set needs \"order\" or \"refill\"");
		return -1;
	}
	memset(&s, 0, sizeof(s));
	if ((v = json_object_get(req, "status")) != NULL) {
		if (!json_is_string(v)) {
			snprintf(err, errlen, "bad status");
			return -1;
		}
		s.status = json_string_value(v);
	}
	if ((v = json_object_get(req, "remains")) != NULL) {
		s.has_remains = 1;
		if (json_is_null(v) ||
		    (json_is_string(v) &&
		     fp_parse_int(json_string_value(v), &s.remains) == -1))
			s.remains_unknown = 1;
		else if (fp_control_int(v, &s.remains) == -1) {
			snprintf(err, errlen, "bad remains");
			return -1;
		}
	}
	if ((v = json_object_get(req, "start_count")) != NULL) {
		s.has_start_count = 1;
		if (fp_control_int(v, &s.start_count) == -1) {
			snprintf(err, errlen, "bad start_count");
			return -1;
		}
	}
	if ((v = json_object_get(req, "charge")) != NULL) {
		s.has_charge = 1;
		if (fp_control_money(v, &s.charge) == -1) {
			snprintf(err, errlen, "bad charge");
			return -1;
		}
	}
	return fp_orders_set(id, &s, err, errlen);
}

static int
fp_control_fault(json_t *req, char *err, size_t errlen)
{
	const char *action = json_string_value(json_object_get(req, "action"));
	const char *mode = json_string_value(json_object_get(req, "mode"));
	json_t *v;
	struct fp_fault f;
	char spec[FP_TEXT_MAX + 32];
	int64_t n;

	if (action == NULL)
		action = "all";
	if (mode == NULL) {
		snprintf(err, errlen, "fault needs \"mode\"");
		return -1;
	}
	/* {"mode":"error","text":...} and {"mode":"slow","ms":...} too. */
	if (strcmp(mode, "error") == 0 &&
	    json_is_string(v = json_object_get(req, "text")))
		snprintf(spec, sizeof(spec), "error:%s", json_string_value(v));
	else if (strcmp(mode, "slow") == 0 &&
	         fp_control_int(json_object_get(req, "ms"), &n) == 0)
		snprintf(spec, sizeof(spec), "slow:%lld", (long long)n);
	else
		snprintf(spec, sizeof(spec), "%s", mode);
	if (fp_fault_parse(spec, &f, err, errlen) == -1)
		return -1;
	if ((v = json_object_get(req, "after")) != NULL &&
	    (fp_control_int(v, &f.after) == -1 || f.after < 0)) {
		snprintf(err, errlen, "bad after");
		return -1;
	}
	if ((v = json_object_get(req, "count")) != NULL &&
	    (fp_control_int(v, &f.count) == -1 || f.count < 0)) {
		snprintf(err, errlen, "bad count");
		return -1;
	}
	if ((v = json_object_get(req, "create")) != NULL)
		f.effects = json_is_true(v);
	if (fp_fault_set(action, &f) == -1) {
		snprintf(err, errlen, "unknown action \"%s\"", action);
		return -1;
	}
	return 0;
}

static int
fp_control_services(json_t *req, char *err, size_t errlen)
{
	json_t *v, *x;
	const char *key;
	size_t i;
	int64_t id;

	if ((v = json_object_get(req, "add")) != NULL &&
	    fp_catalog_put_json(v, err, errlen) == -1)
		return -1;
	json_array_foreach(json_object_get(req, "remove"), i, x)
	{
		if (fp_control_int(x, &id) == -1 ||
		    fp_catalog_remove(id) == -1) {
			snprintf(err, errlen, "remove: no service %s",
			         json_is_integer(x) || json_is_string(x) ? "ID"
			                                                 : "?");
			return -1;
		}
	}
	json_object_foreach(json_object_get(req, "rate"), key, x)
	{
		if (fp_parse_int(key, &id) == -1 || !json_is_string(x) ||
		    fp_catalog_set_rate(id, json_string_value(x)) == -1) {
			snprintf(err, errlen, "rate: bad entry for %s", key);
			return -1;
		}
	}
	return 0;
}

static void
fp_control_reset(void)
{
	fp_catalog_reset(); /* first: --assume-orders reads service 1 */
	fp_orders_reset();
	fp_fault_clear_all();
	fp_calllog_reset();
	fp_api_set_multi(1);
	fp_reply_set_dialect(fp_control_dialect0);
	if (fp_control_h.reset != NULL)
		fp_control_h.reset();
}

int
fp_control_post(const char *body, size_t len, struct evbuffer *out)
{
	char err[FP_CONTROL_ERRSZ] = "";
	json_error_t jerr;
	json_t *req, *v;
	const char *op;
	int rc = 0;

	req = json_loadb(body, len, 0, &jerr);
	if (req == NULL || !json_is_object(req)) {
		snprintf(err, sizeof(err), "body: not a JSON object: %s",
		         req == NULL ? jerr.text : "");
		json_decref(req);
		fp_control_put(out,
		               json_pack("{sb ss}", "ok", 0, "error", err));
		return 400;
	}
	op = json_string_value(json_object_get(req, "op"));
	if (op == NULL) {
		snprintf(err, sizeof(err), "missing \"op\"");
		rc = -1;
	} else if (strcmp(op, "set") == 0) {
		rc = fp_control_set(req, err, sizeof(err));
	} else if (strcmp(op, "fault") == 0) {
		rc = fp_control_fault(req, err, sizeof(err));
	} else if (strcmp(op, "reset") == 0) {
		fp_control_reset();
	} else if (strcmp(op, "services") == 0) {
		rc = fp_control_services(req, err, sizeof(err));
	} else if (strcmp(op, "multi") == 0) {
		fp_api_set_multi(json_is_true(json_object_get(req, "enabled")));
	} else if (strcmp(op, "balance") == 0) {
		money_t m;

		v = json_object_get(req, "set");
		if ((rc = fp_control_money(v, &m)) == -1)
			snprintf(err, sizeof(err), "balance needs \"set\"");
		else
			fp_orders_set_balance(m);
	} else if (strcmp(op, "dialect") == 0) {
		enum fp_dialect d;
		const char *name =
		    json_string_value(json_object_get(req, "dialect"));

		if (name == NULL || fp_dialect_parse(name, &d) == -1) {
			snprintf(err, sizeof(err), "dialect: std, v1 or var");
			rc = -1;
		} else {
			fp_reply_set_dialect(d);
		}
	} else if (strcmp(op, "progress") == 0) {
		enum fp_progress mode;
		int64_t ms;
		const char *name =
		    json_string_value(json_object_get(req, "mode"));

		if (name == NULL || fp_progress_parse(name, &mode, &ms) == -1) {
			snprintf(err, sizeof(err),
			         "progress: manual, instant or timer:MS");
			rc = -1;
		} else {
			fp_orders_set_progress(mode, ms);
		}
	} else {
		snprintf(err, sizeof(err), "unknown op \"%s\"", op);
		rc = -1;
	}
	json_decref(req);
	if (rc == -1) {
		fp_control_put(out,
		               json_pack("{sb ss}", "ok", 0, "error", err));
		return 400;
	}
	fp_control_put(out, json_pack("{sb}", "ok", 1));
	return 200;
}

static void
fp_control_order_cb(const struct fp_order *o, void *arg)
{
	json_array_append_new(arg, fp_orders_json(o));
}

int
fp_control_get(const char *path, const char *query, struct evbuffer *out)
{
	char buf[MONEY_BUFSZ];
	int64_t id;
	json_t *j;

	if (strcmp(path, "log") == 0) {
		int64_t since = 0;

		if (query != NULL && strncmp(query, "since=", 6) == 0 &&
		    fp_parse_int(query + 6, &since) == -1)
			since = 0;
		fp_calllog_dump(out, since > 0 ? (uint64_t)since : 0);
		return 200;
	}
	if (strcmp(path, "stats") == 0) {
		j = fp_calllog_stats();
		json_object_set_new(
		    j, "orders", json_integer((json_int_t)fp_orders_count()));
		json_object_set_new(
		    j, "refills",
		    json_integer((json_int_t)fp_orders_refill_count()));
		json_object_set_new(
		    j, "services",
		    json_integer((json_int_t)fp_catalog_count()));
		json_object_set_new(
		    j, "balance",
		    json_string(money_format(fp_orders_balance(), 2, buf)));
		json_object_set_new(j, "currency",
		                    json_string(fp_orders_currency()));
		json_object_set_new(
		    j, "dialect",
		    json_string(fp_dialect_name(fp_reply_dialect())));
		json_object_set_new(j, "multi", json_boolean(fp_api_multi()));
		if (fp_control_h.stats != NULL)
			fp_control_h.stats(j);
		fp_control_put(out, j);
		return 200;
	}
	if (strcmp(path, "orders") == 0) {
		j = json_array();
		fp_orders_foreach(fp_control_order_cb, j);
		fp_control_put(out, j);
		return 200;
	}
	if (strncmp(path, "orders/", 7) == 0 &&
	    fp_parse_int(path + 7, &id) == 0) {
		const struct fp_order *o = fp_orders_get(id);

		if (o != NULL) {
			fp_control_put(out, fp_orders_json(o));
			return 200;
		}
		fp_control_put(out, json_pack("{sb ss}", "ok", 0, "error",
		                              "no such order"));
		return 404;
	}
	fp_control_put(out, json_pack("{sb ss}", "ok", 0, "error",
	                              "unknown control path"));
	return 404;
}
