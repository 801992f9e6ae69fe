/* fp_calllog.c - what the fake panel was asked, for the tests to read.
 *
 * Each call is kept as one compact record (its fields packed, the key never
 * stored) in a ring of the last --log-max calls, so a long benchmark cannot
 * grow the process without bound; records become JSON only when
 * /control/log is read.  With --log FILE every call is rendered at once and
 * appended as one line with a single write(2).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "fp.h"
#include "fp_calllog.h"
#include "fp_params.h"
#include "log.h"
#include "xmalloc.h"

/* One call: the fixed fields, then in DATA the action (if HAS_ACTION), the
 * fault (if HAS_FAULT), each NUL-terminated, then the packed fields. */
struct fp_entry {
	uint64_t seq;
	uint64_t conn;
	int64_t ms;
	int64_t order;
	const char *method; /* a static string */
	unsigned has_action : 1, has_fault : 1, key_ok : 1;
	size_t len;
	char data[];
};

static struct fp_entry **fp_calllog_ring;
static size_t fp_calllog_max, fp_calllog_head, fp_calllog_n;
static int fp_calllog_fd = -1;
static uint64_t fp_calllog_seq;
static int64_t fp_calllog_t0;

static struct {
	uint64_t requests;
	uint64_t actions[FP_ACT__COUNT];
	uint64_t ids;
	uint64_t max_ids;
	uint64_t connections;
	uint64_t faults;
	uint64_t bad_key;
} fp_calllog_st;

int
fp_calllog_init(size_t max, const char *path)
{
	fp_calllog_max = max;
	if (max > 0)
		fp_calllog_ring = xcalloc(max, sizeof(*fp_calllog_ring));
	if (path != NULL) {
		fp_calllog_fd =
		    open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (fp_calllog_fd == -1)
			return -1;
	}
	fp_calllog_t0 = fp_now_ms();
	return 0;
}

void
fp_calllog_reset(void)
{
	for (size_t i = 0; i < fp_calllog_n; i++) {
		size_t k = (fp_calllog_head + i) % fp_calllog_max;

		free(fp_calllog_ring[k]);
		fp_calllog_ring[k] = NULL;
	}
	fp_calllog_head = fp_calllog_n = 0;
	fp_calllog_seq = 0;
	memset(&fp_calllog_st, 0, sizeof(fp_calllog_st));
}

void
fp_calllog_free(void)
{
	fp_calllog_reset();
	free(fp_calllog_ring);
	fp_calllog_ring = NULL;
	if (fp_calllog_fd != -1)
		close(fp_calllog_fd);
	fp_calllog_fd = -1;
}

/* The IDs named in the request (order, orders, refill, refills). */
static int
fp_calllog_ids(const struct fp_params *p, struct fp_id *ids, int max)
{
	static const char *const keys[] = {"order", "orders", "refill",
	                                   "refills"};
	int n = 0;

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		const char *v = fp_params_get(p, keys[k]);
		int got;

		if (v == NULL)
			continue;
		got = fp_params_ids(v, ids + n, max - n);
		if (got < 0)
			got = 0;
		n += got;
	}
	return n;
}

/* A JSON string of S, '?' for bytes that are not UTF-8. */
static json_t *
fp_calllog_str(const char *s)
{
	json_t *j = json_string(s);
	char *copy;

	if (j != NULL)
		return j;
	copy = xstrdup(s);
	for (char *c = copy; *c != '\0'; c++)
		if ((unsigned char)*c >= 0x80)
			*c = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

/* The JSON object of entry E. */
static json_t *
fp_calllog_render(const struct fp_entry *e)
{
	static struct fp_id ids[FP_IDS_MAX];
	const char *s = e->data, *action = NULL, *fault = NULL;
	struct fp_params p;
	json_t *j, *jids;
	int nids;

	if (e->has_action) {
		action = s;
		s += strlen(s) + 1;
	}
	if (e->has_fault) {
		fault = s;
		s += strlen(s) + 1;
	}
	fp_params_unpack(&p, s, e->len - (size_t)(s - e->data));
	nids = fp_calllog_ids(&p, ids, FP_IDS_MAX);
	jids = json_array();
	for (int i = 0; i < nids; i++)
		if (ids[i].id > 0)
			json_array_append_new(jids, json_integer(ids[i].id));
	j = json_pack("{sI sI ss so so so sI so sb}", "seq", (json_int_t)e->seq,
	              "ms", (json_int_t)e->ms, "method", e->method, "action",
	              action != NULL ? fp_calllog_str(action) : json_null(),
	              "ids", jids, "params", fp_params_json(&p), "conn",
	              (json_int_t)e->conn, "fault",
	              fault != NULL ? fp_calllog_str(fault) : json_null(),
	              "key_ok", (int)e->key_ok);
	if (j != NULL && e->order > 0)
		json_object_set_new(j, "order", json_integer(e->order));
	return j;
}

static void
fp_calllog_write(const struct fp_entry *e)
{
	struct iovec iov[2];
	json_t *j = fp_calllog_render(e);
	char *text;

	if (j == NULL)
		return;
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (text == NULL)
		return;
	iov[0].iov_base = text;
	iov[0].iov_len = strlen(text);
	iov[1].iov_base = (char *)"\n";
	iov[1].iov_len = 1;
	if (writev(fp_calllog_fd, iov, 2) == -1)
		log_warn("call log write");
	free(text);
}

void
fp_calllog_add(const struct fp_call *c)
{
	static struct fp_id ids[FP_IDS_MAX];
	int nids = fp_calllog_ids(c->params, ids, FP_IDS_MAX);
	size_t alen, flen, plen;
	struct fp_entry *e;
	char *packed, *d;

	fp_calllog_st.requests++;
	fp_calllog_st.actions[c->act]++;
	fp_calllog_st.ids += (uint64_t)nids;
	if ((uint64_t)nids > fp_calllog_st.max_ids)
		fp_calllog_st.max_ids = (uint64_t)nids;
	fp_calllog_st.connections += c->new_conn != 0;
	fp_calllog_st.faults += c->fault != NULL;
	fp_calllog_st.bad_key += !c->key_ok;
	fp_calllog_seq++;
	if (fp_calllog_max == 0 && fp_calllog_fd == -1)
		return;

	alen = c->action != NULL ? strlen(c->action) + 1 : 0;
	flen = c->fault != NULL ? strlen(c->fault) + 1 : 0;
	packed = fp_params_pack(c->params, &plen);
	e = xmalloc(sizeof(*e) + alen + flen + plen);
	e->seq = fp_calllog_seq;
	e->conn = c->conn;
	e->ms = fp_now_ms() - fp_calllog_t0;
	e->order = c->order;
	e->method = c->method;
	e->has_action = c->action != NULL;
	e->has_fault = c->fault != NULL;
	e->key_ok = c->key_ok != 0;
	e->len = alen + flen + plen;
	d = e->data;
	memcpy(d, c->action != NULL ? c->action : "", alen);
	memcpy(d + alen, c->fault != NULL ? c->fault : "", flen);
	memcpy(d + alen + flen, packed, plen);
	free(packed);

	if (fp_calllog_fd != -1)
		fp_calllog_write(e);
	if (fp_calllog_max == 0) {
		free(e);
		return;
	}
	if (fp_calllog_n == fp_calllog_max) {
		free(fp_calllog_ring[fp_calllog_head]);
		fp_calllog_head = (fp_calllog_head + 1) % fp_calllog_max;
		fp_calllog_n--;
	}
	fp_calllog_ring[(fp_calllog_head + fp_calllog_n) % fp_calllog_max] = e;
	fp_calllog_n++;
}

void
fp_calllog_dump(struct evbuffer *out, uint64_t since)
{
	int first = 1;

	evbuffer_add(out, "[", 1);
	for (size_t i = 0; i < fp_calllog_n; i++) {
		const struct fp_entry *e =
		    fp_calllog_ring[(fp_calllog_head + i) % fp_calllog_max];
		json_t *j;
		char *text;

		if (e->seq <= since || (j = fp_calllog_render(e)) == NULL)
			continue;
		text = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		if (text == NULL)
			continue;
		if (!first)
			evbuffer_add(out, ",\n", 2);
		evbuffer_add(out, text, strlen(text));
		free(text);
		first = 0;
	}
	evbuffer_add(out, "]\n", 2);
}

json_t *
fp_calllog_stats(void)
{
	json_t *acts = json_object();

	for (int a = 0; a < FP_ACT__COUNT; a++)
		json_object_set_new(
		    acts, fp_action_name((enum fp_action)a),
		    json_integer((json_int_t)fp_calllog_st.actions[a]));
	return json_pack("{sI sI sI sI sI sI so}", "requests",
	                 (json_int_t)fp_calllog_st.requests, "ids",
	                 (json_int_t)fp_calllog_st.ids, "max_ids",
	                 (json_int_t)fp_calllog_st.max_ids, "connections",
	                 (json_int_t)fp_calllog_st.connections, "faults",
	                 (json_int_t)fp_calllog_st.faults, "bad_key",
	                 (json_int_t)fp_calllog_st.bad_key, "actions", acts);
}
