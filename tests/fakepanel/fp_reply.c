/* fp_reply.c - reply shapes of the three dialects.
 *
 * std: the Perfect Panel template (numeric IDs, amounts as strings, "In
 *      progress", errors {"error":...}), compact, slashes escaped as PHP
 *      does.
 * v1:  the smmmix / SmartPanel family: {"status":"success",...} wrappers,
 *      string IDs, lower-case statuses, bare-string errors in multi-status,
 *      services with "desc" and "dripfeed":1, {"status":"error","message"}.
 * var: one panel's deviations: "Cancelled", "in_progress", charge and
 *      balance as JSON numbers, remains "Unknown" while unknown, cancel keyed
 *      by order ID, refill replies with text, pretty-printed.
 *
 * The hot small replies (balance, add, status) of compact std and v1 are
 * written by hand, which costs a tenth of building and dumping jansson
 * values; they hold only numbers, fixed words and the currency (checked to
 * be alphanumeric at start-up).  Any other text goes through jansson.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "fp.h"
#include "fp_catalog.h"
#include "fp_reply.h"
#include "xmalloc.h"

#define FP_REPLY_BUFSZ 65536 /* replies up to this size need no malloc */

/* A rendered body shared by the buffers that still send it. */
struct fp_blob {
	int refs;
	size_t len;
	char data[];
};

static enum fp_dialect fp_reply_d = FP_DIALECT_STD;
static int fp_reply_pretty, fp_reply_bom;
static int64_t fp_reply_shift;       /* the wrongid fault's N, or 0 */
static struct fp_blob *fp_reply_svc; /* cached services list */
static uint64_t fp_reply_svc_gen;    /* catalogue generation of it */
static char fp_reply_buf[FP_REPLY_BUFSZ];

static const char fp_reply_bom_bytes[] = "\xef\xbb\xbf";

static void
fp_reply_blob_unref(struct fp_blob *b)
{
	if (b != NULL && --b->refs == 0)
		free(b);
}

static void
fp_reply_blob_cleanup(const void *data, size_t len, void *arg)
{
	fp_reply_blob_unref(arg);
}

static void
fp_reply_drop_cache(void)
{
	fp_reply_blob_unref(fp_reply_svc);
	fp_reply_svc = NULL;
}

void
fp_reply_set_dialect(enum fp_dialect d)
{
	fp_reply_d = d;
	fp_reply_drop_cache();
}

enum fp_dialect
fp_reply_dialect(void)
{
	return fp_reply_d;
}

void
fp_reply_set_format(int pretty, int bom)
{
	fp_reply_pretty = pretty;
	fp_reply_bom = bom;
	fp_reply_drop_cache();
}

void
fp_reply_set_id_shift(int64_t shift)
{
	fp_reply_shift = shift;
}

void
fp_reply_free(void)
{
	fp_reply_drop_cache();
}

static size_t
fp_reply_flags(void)
{
	size_t f = JSON_REAL_PRECISION(15);

	if (fp_reply_pretty || fp_reply_d == FP_DIALECT_VAR)
		f |= JSON_INDENT(4);
	else
		f |= JSON_COMPACT;
	if (fp_reply_d != FP_DIALECT_VAR)
		f |= JSON_ESCAPE_SLASH;
	if (fp_reply_d == FP_DIALECT_V1)
		f |= JSON_ENSURE_ASCII;
	return f;
}

void
fp_reply_dump(struct evbuffer *out, json_t *j)
{
	size_t n;
	char *s;

	if (j == NULL) /* only on out-of-memory inside jansson */
		j = json_object();
	if (fp_reply_bom)
		evbuffer_add(out, fp_reply_bom_bytes, 3);
	n = json_dumpb(j, fp_reply_buf, sizeof(fp_reply_buf), fp_reply_flags());
	if (n <= sizeof(fp_reply_buf)) {
		evbuffer_add(out, fp_reply_buf, n);
	} else if ((s = json_dumps(j, fp_reply_flags())) != NULL) {
		evbuffer_add(out, s, strlen(s));
		free(s);
	}
	json_decref(j);
}

/* An ID as the dialect writes it: a number, or a string in v1 (and for a
 * token that is not a number). */
static json_t *
fp_reply_id(int64_t id)
{
	char num[32];

	if (fp_reply_d == FP_DIALECT_V1) {
		snprintf(num, sizeof(num), "%lld", (long long)id);
		return json_string(num);
	}
	return json_integer(id);
}

static json_t *
fp_reply_token(const struct fp_id *id)
{
	if (id->id > 0)
		return fp_reply_id(id->id);
	return json_stringn(id->raw, id->rawlen) ?: json_string("?");
}

/* The token as an object key, NUL-terminated in BUF. */
static const char *
fp_reply_key(const struct fp_id *id, char *buf, size_t len)
{
	if (id->id > 0)
		snprintf(buf, len, "%lld", (long long)id->id);
	else
		snprintf(buf, len, "%.*s", (int)id->rawlen, id->raw);
	return buf;
}

/* An amount: a string with MIN_DEC decimals, or a JSON number in var. */
static json_t *
fp_reply_money(money_t v, int min_dec)
{
	char buf[MONEY_BUFSZ];

	money_format(v, min_dec, buf);
	if (fp_reply_d == FP_DIALECT_VAR)
		return json_real(strtod(buf, NULL));
	return json_string(buf);
}

static json_t *
fp_reply_num_string(int64_t v)
{
	char num[32];

	snprintf(num, sizeof(num), "%lld", (long long)v);
	return json_string(num);
}

static const char *
fp_reply_status_word(enum fp_status st)
{
	switch (fp_reply_d) {
	case FP_DIALECT_V1:
		switch (st) {
		case FP_ST_PENDING:
			return "pending";
		case FP_ST_IN_PROGRESS:
		case FP_ST_PROCESSING:
			return "processing";
		case FP_ST_COMPLETED:
			return "completed";
		case FP_ST_PARTIAL:
			return "partial";
		case FP_ST_CANCELED:
			return "canceled";
		case FP_ST_REFUNDED:
			return "refunded";
		case FP_ST_FAIL:
			return "fail";
		case FP_ST_REJECTED:
			return "rejected";
		default:
			break;
		}
		break;
	case FP_DIALECT_VAR:
		if (st == FP_ST_IN_PROGRESS)
			return "in_progress";
		if (st == FP_ST_CANCELED)
			return "Cancelled";
		break;
	default:
		break;
	}
	return fp_status_name(st);
}

const char *
fp_reply_errtext(enum fp_err e, const char *text)
{
	int var = fp_reply_d == FP_DIALECT_VAR;

	switch (e) {
	case FP_E_TEXT:
		return text;
	case FP_E_SERVICE:
		return "Incorrect service ID";
	case FP_E_FUNDS:
		return var ? "neworder.error.not_enough_funds"
		           : "Not enough funds on balance";
	case FP_E_ORDER:
		return "Incorrect order ID";
	case FP_E_REFILL_DENIED:
		return var ? "Order not eligible for refill."
		           : "Refill is disabled for this order";
	case FP_E_REFILL_NONE:
		return "Refill not found";
	case FP_E_CANCEL_DENIED:
		return var ? "Cannot cancel" : "Order cannot be canceled";
	default:
		return "Incorrect request";
	}
}

static json_t *
fp_reply_error_json(const char *text)
{
	json_t *t = json_string(text) ?: json_string("Error");

	if (fp_reply_d == FP_DIALECT_V1)
		return json_pack("{ss so}", "status", "error", "message", t);
	return json_pack("{so}", "error", t);
}

/* Hand-written replies ---------------------------------------------------- */

static int
fp_reply_fast(void)
{
	return !fp_reply_pretty && fp_reply_d != FP_DIALECT_VAR &&
	       fp_reply_shift == 0;
}

static char *
fp_reply_put(char *d, const char *s)
{
	size_t n = strlen(s);

	memcpy(d, s, n);
	return d + n;
}

static char *
fp_reply_put_int(char *d, int64_t v)
{
	char tmp[24];
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
	int n = 0;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*d++ = '-';
	while (n > 0)
		*d++ = tmp[--n];
	return d;
}

static char *
fp_reply_put_money(char *d, money_t v, int min_dec)
{
	char buf[MONEY_BUFSZ];

	return fp_reply_put(d, money_format(v, min_dec, buf));
}

/* Append any text as a JSON string. */
static void
fp_reply_put_jstr(struct evbuffer *out, const char *s, size_t len)
{
	json_t *j = json_stringn(s, len);
	char buf[512];
	size_t n;

	if (j == NULL) {
		evbuffer_add(out, "\"?\"", 3);
		return;
	}
	n = json_dumpb(j, buf, sizeof(buf), JSON_ENCODE_ANY | fp_reply_flags());
	if (n <= sizeof(buf)) {
		evbuffer_add(out, buf, n);
	} else {
		char *t = json_dumps(j, JSON_ENCODE_ANY | fp_reply_flags());

		if (t != NULL)
			evbuffer_add(out, t, strlen(t));
		free(t);
	}
	json_decref(j);
}

static void
fp_reply_start(struct evbuffer *out)
{
	if (fp_reply_bom)
		evbuffer_add(out, fp_reply_bom_bytes, 3);
}

/* Errors ------------------------------------------------------------------ */

void
fp_reply_error(struct evbuffer *out, const char *text)
{
	fp_reply_dump(out, fp_reply_error_json(text));
}

void
fp_reply_balance(struct evbuffer *out, money_t bal, const char *cur)
{
	json_t *j;
	char b[128], *d = b;

	if (fp_reply_fast()) {
		fp_reply_start(out);
		if (fp_reply_d == FP_DIALECT_V1) {
			d = fp_reply_put(
			    d, "{\"status\":\"success\",\"balance\":\"");
			d = fp_reply_put_money(d, bal, 2);
		} else {
			d = fp_reply_put(d, "{\"balance\":\"");
			d = fp_reply_put_money(d, bal, 5);
		}
		d = fp_reply_put(d, "\",\"currency\":\"");
		d = fp_reply_put(d, cur);
		d = fp_reply_put(d, "\"}");
		evbuffer_add(out, b, (size_t)(d - b));
		return;
	}
	j = json_object();

	if (fp_reply_d == FP_DIALECT_V1)
		json_object_set_new(j, "status", json_string("success"));
	json_object_set_new(
	    j, "balance",
	    fp_reply_money(bal, fp_reply_d == FP_DIALECT_V1 ? 2 : 5));
	json_object_set_new(j, "currency", json_string(cur));
	fp_reply_dump(out, j);
}

void
fp_reply_add(struct evbuffer *out, int64_t order)
{
	char b[96], *d = b;

	if (fp_reply_fast()) {
		fp_reply_start(out);
		if (fp_reply_d == FP_DIALECT_V1) {
			d = fp_reply_put(
			    d, "{\"status\":\"success\",\"order\":\"");
			d = fp_reply_put_int(d, order);
			d = fp_reply_put(d, "\"}");
		} else {
			d = fp_reply_put(d, "{\"order\":");
			d = fp_reply_put_int(d, order);
			d = fp_reply_put(d, "}");
		}
		evbuffer_add(out, b, (size_t)(d - b));
		return;
	}
	if (fp_reply_d == FP_DIALECT_V1)
		fp_reply_dump(out, json_pack("{ss so}", "status", "success",
		                             "order", fp_reply_id(order)));
	else
		fp_reply_dump(out,
		              json_pack("{sI}", "order", (json_int_t)order));
}

static json_t *
fp_reply_service_json(const struct fp_service *s)
{
	json_t *o = json_object();
	int known = strcmp(s->type_name, fp_catalog_type_name(s->type)) == 0;

	switch (fp_reply_d) {
	case FP_DIALECT_V1:
		json_object_set_new(o, "service", fp_reply_num_string(s->id));
		json_object_set_new(o, "name", json_string(s->name));
		json_object_set_new(o, "category", json_string(s->category));
		json_object_set_new(o, "rate", json_string(s->rate_text));
		json_object_set_new(o, "min", fp_reply_num_string(s->min));
		json_object_set_new(o, "max", fp_reply_num_string(s->max));
		json_object_set_new(
		    o, "type",
		    json_string(known ? fp_catalog_type_slug(s->type)
		                      : s->type_name));
		json_object_set_new(
		    o, "desc",
		    json_string(s->description ? s->description : ""));
		json_object_set_new(o, "dripfeed", json_integer(s->dripfeed));
		break;
	case FP_DIALECT_VAR:
		json_object_set_new(o, "service", json_integer(s->id));
		json_object_set_new(o, "name", json_string(s->name));
		json_object_set_new(o, "type", json_string(s->type_name));
		json_object_set_new(o, "category", json_string(s->category));
		json_object_set_new(o, "rate", json_string(s->rate_text));
		json_object_set_new(o, "min", json_integer(s->min));
		json_object_set_new(o, "max", json_integer(s->max));
		json_object_set_new(o, "refill", json_boolean(s->refill));
		json_object_set_new(o, "cancel", json_boolean(s->cancel));
		json_object_set_new(o, "dripfeed", json_boolean(s->dripfeed));
		if (s->description != NULL)
			json_object_set_new(o, "description",
			                    json_string(s->description));
		if (s->refill_time > 0)
			json_object_set_new(
			    o, "refill_time",
			    fp_reply_num_string(s->refill_time));
		break;
	default:
		json_object_set_new(o, "service", json_integer(s->id));
		json_object_set_new(o, "name", json_string(s->name));
		json_object_set_new(o, "type", json_string(s->type_name));
		json_object_set_new(o, "category", json_string(s->category));
		json_object_set_new(o, "rate", json_string(s->rate_text));
		json_object_set_new(o, "min", fp_reply_num_string(s->min));
		json_object_set_new(o, "max", fp_reply_num_string(s->max));
		json_object_set_new(o, "refill", json_boolean(s->refill));
		json_object_set_new(o, "cancel", json_boolean(s->cancel));
		json_object_set_new(o, "dripfeed", json_boolean(s->dripfeed));
		break;
	}
	return o;
}

/* Render the services list into a new blob. */
static struct fp_blob *
fp_reply_services_render(void)
{
	struct fp_blob *b;
	size_t n = fp_catalog_count(), len, off = 0;
	json_t *j;
	char *s;

	if (n == 0 && fp_reply_d == FP_DIALECT_V1) {
		j = json_pack("{ss ss}", "status", "success", "data",
		              "Empty Data");
	} else {
		j = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(
			    j, fp_reply_service_json(fp_catalog_at(i)));
	}
	s = json_dumps(j, fp_reply_flags());
	json_decref(j);
	if (s == NULL)
		s = xstrdup("[]");
	len = strlen(s);
	b = xmalloc(sizeof(*b) + len + 3);
	if (fp_reply_bom) {
		memcpy(b->data, fp_reply_bom_bytes, 3);
		off = 3;
	}
	memcpy(b->data + off, s, len);
	b->len = off + len;
	b->refs = 1;
	free(s);
	return b;
}

void
fp_reply_services(struct evbuffer *out)
{
	if (fp_reply_svc == NULL ||
	    fp_reply_svc_gen != fp_catalog_generation()) {
		fp_reply_drop_cache();
		fp_reply_svc = fp_reply_services_render();
		fp_reply_svc_gen = fp_catalog_generation();
	}
	fp_reply_svc->refs++;
	if (evbuffer_add_reference(out, fp_reply_svc->data, fp_reply_svc->len,
	                           fp_reply_blob_cleanup, fp_reply_svc) == -1)
		fp_reply_svc->refs--;
}

/* One order's status object. */
static json_t *
fp_reply_status_json(int64_t id, const struct fp_order_view *v, const char *cur)
{
	json_t *o = json_object(), *remains;
	const char *word = v->status == FP_ST_OTHER
	                       ? v->status_text
	                       : fp_reply_status_word(v->status);

	if (v->remains_unknown ||
	    (fp_reply_d == FP_DIALECT_VAR && v->status == FP_ST_PENDING))
		remains = json_string("Unknown");
	else
		remains = fp_reply_num_string(v->remains);
	if (fp_reply_d == FP_DIALECT_V1) {
		json_object_set_new(o, "order",
		                    fp_reply_id(id + fp_reply_shift));
		json_object_set_new(o, "status", json_string(word));
		json_object_set_new(o, "charge", fp_reply_money(v->charge, 4));
		json_object_set_new(o, "start_count",
		                    fp_reply_num_string(v->start_count));
		json_object_set_new(o, "remains", remains);
		return o;
	}
	if (fp_reply_shift != 0)
		json_object_set_new(o, "order",
		                    fp_reply_id(id + fp_reply_shift));
	json_object_set_new(o, "charge", fp_reply_money(v->charge, 5));
	json_object_set_new(o, "start_count",
	                    fp_reply_num_string(v->start_count));
	json_object_set_new(o, "status", json_string(word));
	json_object_set_new(o, "remains", remains);
	json_object_set_new(o, "currency", json_string(cur));
	return o;
}

/* The status object by hand (compact std or v1, a known status word). */
static void
fp_reply_status_fast(struct evbuffer *out, int64_t id,
                     const struct fp_order_view *v, const char *cur)
{
	char b[320], *d = b;

	if (fp_reply_d == FP_DIALECT_V1) {
		d = fp_reply_put(d, "{\"order\":\"");
		d = fp_reply_put_int(d, id);
		d = fp_reply_put(d, "\",\"status\":\"");
		d = fp_reply_put(d, fp_reply_status_word(v->status));
		d = fp_reply_put(d, "\",\"charge\":\"");
		d = fp_reply_put_money(d, v->charge, 4);
		d = fp_reply_put(d, "\",\"start_count\":\"");
		d = fp_reply_put_int(d, v->start_count);
		d = fp_reply_put(d, "\",\"remains\":\"");
	} else {
		d = fp_reply_put(d, "{\"charge\":\"");
		d = fp_reply_put_money(d, v->charge, 5);
		d = fp_reply_put(d, "\",\"start_count\":\"");
		d = fp_reply_put_int(d, v->start_count);
		d = fp_reply_put(d, "\",\"status\":\"");
		d = fp_reply_put(d, fp_reply_status_word(v->status));
		d = fp_reply_put(d, "\",\"remains\":\"");
	}
	if (v->remains_unknown)
		d = fp_reply_put(d, "Unknown");
	else
		d = fp_reply_put_int(d, v->remains);
	if (fp_reply_d == FP_DIALECT_V1) {
		d = fp_reply_put(d, "\"}");
	} else {
		d = fp_reply_put(d, "\",\"currency\":\"");
		d = fp_reply_put(d, cur);
		d = fp_reply_put(d, "\"}");
	}
	evbuffer_add(out, b, (size_t)(d - b));
}

void
fp_reply_status(struct evbuffer *out, int64_t id, const struct fp_order_view *v,
                const char *cur)
{
	if (fp_reply_fast() && v->status != FP_ST_OTHER) {
		fp_reply_start(out);
		fp_reply_status_fast(out, id, v, cur);
		return;
	}
	fp_reply_dump(out, fp_reply_status_json(id, v, cur));
}

void
fp_reply_mstatus_begin(struct fp_reply_multi *m, struct evbuffer *out)
{
	m->out = out;
	m->n = 0;
	m->j = NULL;
	if (fp_reply_fast()) {
		fp_reply_start(out);
		evbuffer_add(out, "{", 1);
	} else {
		m->j = json_object();
	}
}

void
fp_reply_mstatus_add(struct fp_reply_multi *m, const struct fp_id *id,
                     const struct fp_order_view *v, const char *cur,
                     const char *err)
{
	char key[64];
	json_t *item;
	size_t n;

	if (m->j == NULL) {
		if (m->n++ > 0)
			evbuffer_add(m->out, ",", 1);
		if (id->id > 0) {
			char *d = key;

			*d++ = '"';
			d = fp_reply_put_int(d, id->id);
			d = fp_reply_put(d, "\":");
			evbuffer_add(m->out, key, (size_t)(d - key));
		} else {
			fp_reply_put_jstr(m->out, id->raw, id->rawlen);
			evbuffer_add(m->out, ":", 1);
		}
		if (err == NULL && v->status != FP_ST_OTHER) {
			fp_reply_status_fast(m->out, id->id, v, cur);
			return;
		}
		if (err != NULL && fp_reply_d == FP_DIALECT_V1) {
			fp_reply_put_jstr(m->out, err, strlen(err));
			return;
		}
		item = err == NULL ? fp_reply_status_json(id->id, v, cur)
		                   : json_pack("{ss}", "error", err);
		n = json_dumpb(item, fp_reply_buf, sizeof(fp_reply_buf),
		               fp_reply_flags());
		if (n <= sizeof(fp_reply_buf))
			evbuffer_add(m->out, fp_reply_buf, n);
		json_decref(item);
		return;
	}
	if (err == NULL)
		item = fp_reply_status_json(id->id, v, cur);
	else if (fp_reply_d == FP_DIALECT_V1)
		item = json_string(err);
	else
		item = json_pack("{ss}", "error", err);
	json_object_set_new(m->j, fp_reply_key(id, key, sizeof(key)), item);
}

void
fp_reply_mstatus_end(struct fp_reply_multi *m)
{
	if (m->j == NULL)
		evbuffer_add(m->out, "}", 1);
	else
		fp_reply_dump(m->out, m->j);
	m->j = NULL;
}

void
fp_reply_refill(struct evbuffer *out, int64_t refill)
{
	switch (fp_reply_d) {
	case FP_DIALECT_V1:
		fp_reply_dump(out,
		              json_pack("{ss so}", "status", "success",
		                        "refill", fp_reply_num_string(refill)));
		break;
	case FP_DIALECT_VAR:
		fp_reply_dump(out, json_pack("{ss sI}", "success",
		                             "Your order will be refill asap. "
		                             "Thank you for patience",
		                             "refill", (json_int_t)refill));
		break;
	default:
		fp_reply_dump(out, json_pack("{so}", "refill",
		                             fp_reply_num_string(refill)));
		break;
	}
}

json_t *
fp_reply_multi_refill(void)
{
	return json_array();
}

void
fp_reply_multi_refill_add(json_t *m, const struct fp_id *id, int64_t refill,
                          const char *err)
{
	json_t *r;

	if (err == NULL)
		r = fp_reply_id(refill);
	else if (fp_reply_d == FP_DIALECT_VAR)
		r = json_string(err);
	else
		r = json_pack("{ss}", "error", err);
	json_array_append_new(
	    m, json_pack("{so so}", "order", fp_reply_token(id), "refill", r));
}

void
fp_reply_refill_status(struct evbuffer *out, enum fp_status st)
{
	fp_reply_dump(out,
	              json_pack("{ss}", "status", fp_reply_status_word(st)));
}

json_t *
fp_reply_multi_refill_status(void)
{
	return json_array();
}

void
fp_reply_multi_refill_status_add(json_t *m, const struct fp_id *id,
                                 enum fp_status st, const char *err)
{
	json_t *s;

	if (err == NULL)
		s = json_string(fp_reply_status_word(st));
	else
		s = json_pack("{ss}", "error", err);
	json_array_append_new(
	    m, json_pack("{so so}", "refill", fp_reply_token(id), "status", s));
}

void
fp_reply_cancel(struct evbuffer *out, const char *err)
{
	if (err != NULL)
		fp_reply_error(out, err);
	else if (fp_reply_d == FP_DIALECT_V1)
		fp_reply_dump(out, json_pack("{ss si}", "status", "success",
		                             "cancel", 1));
	else if (fp_reply_d == FP_DIALECT_VAR)
		fp_reply_dump(out, json_pack("{ss}", "cancel", "requested"));
	else
		fp_reply_dump(out, json_pack("{si}", "cancel", 1));
}

json_t *
fp_reply_multi_cancel(void)
{
	return fp_reply_d == FP_DIALECT_VAR ? json_object() : json_array();
}

void
fp_reply_multi_cancel_add(json_t *m, const struct fp_id *id, const char *err)
{
	char key[64];
	json_t *c;

	if (fp_reply_d == FP_DIALECT_VAR) {
		json_object_set_new(
		    m, fp_reply_key(id, key, sizeof(key)),
		    err == NULL ? json_pack("{ss}", "cancel", "requested")
		                : json_pack("{ss}", "error", err));
		return;
	}
	c = err == NULL ? json_integer(1) : json_pack("{ss}", "error", err);
	json_array_append_new(
	    m, json_pack("{so so}", "order", fp_reply_token(id), "cancel", c));
}
