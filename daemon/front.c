/* front.c - evhttp on listen.api: limits, decoding, and the hand-off to the
 * API layer.  Every request gets exactly one reply, sent from here. */
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "api.h"
#include "batch.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "conns.h"
#include "fiber.h"
#include "framing.h"
#include "front.h"
#include "log.h"
#include "params.h"
#include "ratelimit.h"
#include "xmalloc.h"

struct front {
	struct event_base *base;
	const struct config *cfg;
	struct api *api;
	struct evhttp *http;
	struct evhttp_bound_socket *sock;
	struct conns *conns;
	struct ratelimit *per_ip;   /* requests that do not authenticate */
	struct ratelimit *per_read; /* the API's read bucket, lent to it */
	size_t pending;             /* requests waiting on an upstream */
	struct front_metrics m;
};

/* A request being answered; its reply may come later (add, status of
 * stale orders...). */
struct front_pending {
	struct front *f;
	struct evhttp_request *req;
	struct api_reply *r;
	enum api_action action;
	int64_t start_ms;
};

const int64_t front_latency_bounds_ms[FRONT_LATENCY_BUCKETS] = {
    1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};

/* Count one answered request of ACTION by its result and latency. */
static void
front_count(struct front *f, enum api_action action, int status,
            const struct api_reply *r, int64_t start_ms)
{
	struct front_action_metrics *am = &f->m.actions[action];
	int64_t ms = clock_mono_ms() - start_ms;
	int b = 0;

	if (status == 429)
		am->limited++;
	else if (r->ref == NULL && r->body.len >= 9 &&
	         memcmp(r->body.data, "{\"error\":", 9) == 0)
		am->error++;
	else
		am->ok++;
	while (b < FRONT_LATENCY_BUCKETS && ms > front_latency_bounds_ms[b])
		b++;
	am->latency[b]++;
	am->latency_sum_ms += ms;
}

static int
front_path_ok(const struct front *f, const char *path)
{
	size_t n;

	if (path == NULL)
		return 0;
	n = strlen(path);
	/* "/api/v2" and "/api/v2/" both, never a redirect. */
	if (n > 1 && path[n - 1] == '/')
		n--;
	for (size_t i = 0; i < f->cfg->npaths; i++) {
		const char *want = f->cfg->paths[i];
		size_t wn = strlen(want);

		if (wn > 1 && want[wn - 1] == '/')
			wn--;
		if (wn == n && memcmp(want, path, n) == 0)
			return 1;
	}
	return 0;
}

static void
front_free_reply(const void *data, size_t len, void *arg)
{
	free((void *)data);
}

static void
front_release_ref(const void *data, size_t len, void *arg)
{
	struct api_reply *r = arg;

	api_reply_clear(r);
	free(r);
}

/* Send R (taking it over: it is freed here or once its bytes are out). */
static void
front_send(struct evhttp_request *req, struct api_reply *r)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	struct evkeyvalq *hdrs = evhttp_request_get_output_headers(req);
	int status = r->status;
	const char *reason;
	size_t len;
	char *data;

	evhttp_add_header(hdrs, "Content-Type", "application/json");
	if (r->ref != NULL) {
		if (evbuffer_add_reference(out, r->ref, r->ref_len,
		                           front_release_ref, r) != 0) {
			api_reply_clear(r);
			free(r);
		}
	} else {
		data = buf_release(&r->body, &len);
		if (evbuffer_add_reference(out, data, len, front_free_reply,
		                           NULL) != 0)
			free(data);
		api_reply_clear(r);
		free(r);
	}
	switch (status) {
	case 200:
		reason = "OK";
		break;
	case 400:
		reason = "Bad Request";
		break;
	case 404:
		reason = "Not Found";
		break;
	case 429:
		reason = "Too Many Requests";
		break;
	default:
		reason = "Error";
		break;
	}
	evhttp_send_reply(req, status, reason, NULL);
}

/* Send R on REQ and give its connection the next request's deadline. */
static void
front_answer(struct front *f, struct evhttp_request *req, struct api_reply *r)
{
	conns_request_answered(f->conns, req);
	front_send(req, r);
}

static struct api_reply *
front_reply_new(void)
{
	struct api_reply *r = xmalloc(sizeof(*r));

	api_reply_init(r);
	return r;
}

static void
front_send_error(struct front *f, struct evhttp_request *req, int status,
                 const char *msg)
{
	struct api_reply *r = front_reply_new();

	r->status = status;
	api_error(&r->body, msg);
	front_answer(f, req, r);
}

/* Decode body, query string and X-Api-Key into P; NULL or the reason. */
static const char *
front_decode(struct evhttp_request *req, struct params *p)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	struct evkeyvalq *in_hdrs = evhttp_request_get_input_headers(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const char *query, *key, *why = NULL;

	if (len > 0) {
		const char *body = (const char *)evbuffer_pullup(in, -1);
		const char *ctype = evhttp_find_header(in_hdrs, "Content-Type");

		if (body == NULL)
			return "The request body could not be read";
		if (params_decode_body(p, ctype, body, len, &why) != PARAMS_OK)
			return why;
	}
	query = evhttp_uri_get_query(uri);
	if (query != NULL &&
	    params_decode_query(p, query, strlen(query), &why) != PARAMS_OK)
		return why;
	key = evhttp_find_header(in_hdrs, "X-Api-Key");
	if (key != NULL)
		params_set_default(p, "key", key);
	return NULL;
}

static void
front_done(void *arg)
{
	struct front_pending *fp = arg;

	log_debug("front: %s -> %d (after waiting)",
	          api_action_name(fp->action), fp->r->status);
	fp->f->pending--;
	front_count(fp->f, fp->action, fp->r->status, fp->r, fp->start_ms);
	front_answer(fp->f, fp->req, fp->r);
	free(fp);
}

/* Per client address, before anything else: whether the address's bucket
 * has a token, with the address into IP (IPSZ bytes, "" when the limit is
 * off; the connection may be gone when the request is answered).  Only
 * requests that do not authenticate take one (front_ip_failed), so a status
 * cron from one address is limited by its key's bucket alone, and good keys
 * are not refused while many lookups are in flight (on PostgreSQL they
 * park).  0 when the bucket is empty. */
static int
front_ip_peek(struct front *f, struct evhttp_request *req, char *ip,
              size_t ipsz)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	char *addr = NULL;
	ev_uint16_t port;

	ip[0] = '\0';
	if (evcon == NULL || !ratelimit_enabled(f->per_ip))
		return 1;
	evhttp_connection_get_peer(evcon, &addr, &port);
	if (addr == NULL)
		return 1;
	snprintf(ip, ipsz, "%s", addr);
	return ratelimit_peek(f->per_ip, ip, clock_mono_ms());
}

/* The request from IP did not authenticate: it counts. */
static void
front_ip_failed(struct front *f, const char *ip)
{
	if (ip[0] != '\0')
		ratelimit_take(f->per_ip, ip, clock_mono_ms());
}

size_t
front_pending(const struct front *f)
{
	return f != NULL ? f->pending : 0;
}

static void
front_request_run(void *a, void *b)
{
	struct evhttp_request *req = a;
	struct front *f = b;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	struct front_pending *fp;
	struct api_reply *r;
	struct params *p;
	const char *why;
	char ip[64];
	int64_t start = clock_mono_ms();
	int ip_ok, done;

	conns_request_arrived(f->conns, req);
	ip_ok = front_ip_peek(f, req, ip, sizeof(ip));
	/* evhttp 2.1 has no hook between an incoming request's headers and
	 * its body: it has read the body (by the first Content-Length, or
	 * chunked) when this runs; the 400 closes the connection, so
	 * nothing after that body is ever read as a request. */
	why = framing_check(evhttp_request_get_input_headers(req));
	if (why != NULL) {
		log_debug("front: refused framing: %s", why);
		evhttp_add_header(evhttp_request_get_output_headers(req),
		                  "Connection", "close");
		front_ip_failed(f, ip);
		front_send_error(f, req, 400, why);
		return;
	}
	if (!ip_ok) {
		f->m.ip_limited++;
		front_send_error(f, req, 429, API_ERR_RATE);
		return;
	}
	if (!front_path_ok(f, evhttp_uri_get_path(uri))) {
		front_ip_failed(f, ip);
		front_send_error(f, req, 404, "Not found");
		return;
	}
	p = params_new();
	if ((why = front_decode(req, p)) != NULL) {
		log_debug("front: undecodable request: %s", why);
		front_ip_failed(f, ip);
		front_send_error(f, req, 200, why);
		params_free(p);
		return;
	}
	r = front_reply_new();
	fp = xmalloc(sizeof(*fp));
	fp->f = f;
	fp->req = req;
	fp->r = r;
	fp->start_ms = start;
	done = api_handle(f->api, p, r, &fp->action, front_done, fp);
	if (!r->key_ok)
		front_ip_failed(f, ip);
	if (done) {
		log_debug("front: %s -> %d", api_action_name(fp->action),
		          r->status);
		front_count(f, fp->action, r->status, r, start);
		front_answer(f, req, r);
		free(fp);
	} else
		f->pending++;
	params_free(p);
}

/* evhttp keeps REQ until it is answered, even if its client goes: the
 * fiber may park on the store meanwhile. */
static void
front_request(struct evhttp_request *req, void *arg)
{
	batch_customer_seen();
	fiber_spawn(front_request_run, req, arg);
}

void
front_set_limits(struct front *f, const struct config *cfg)
{
	const struct cfg_rate *r = &cfg->rate_per_ip;
	const struct cfg_rate *rr = &cfg->read_rate_per_key;
	struct timeval tv;

	f->cfg = cfg;
	/* evhttp's own limits are unlimited by default. */
	evhttp_set_max_headers_size(f->http, (ev_ssize_t)cfg->max_headers);
	evhttp_set_max_body_size(f->http, (ev_ssize_t)cfg->max_body);
	/* evhttp's timeout is an idle timeout (a trickle resets it): the
	 * request deadline is the guard's. */
	tv.tv_sec = cfg->idle_timeout_ms / 1000;
	tv.tv_usec = (cfg->idle_timeout_ms % 1000) * 1000;
	evhttp_set_timeout_tv(f->http, &tv);
	conns_set_limits(f->conns, cfg->header_timeout_ms, cfg->max_connections,
	                 cfg->max_connections_per_ip);
	ratelimit_set(f->per_ip, r->count, r->per_ms, r->count * 2);
	ratelimit_set(f->per_read, rr->count, rr->per_ms, rr->count * 2);
}

const struct front_metrics *
front_metrics(const struct front *f)
{
	return &f->m;
}

void
front_conns_stats(const struct front *f, struct conns_stats *out)
{
	conns_stats(f->conns, out);
}

struct front *
front_new(struct event_base *base, const struct config *cfg, struct api *api)
{
	struct front *f = xcalloc(1, sizeof(*f));
	char *host = NULL;
	int port, one = 1;
	evutil_socket_t fd;

	f->base = base;
	f->cfg = cfg;
	f->api = api;
	if (cfg_parse_hostport(cfg->listen_api, &host, &port) != 0) {
		log_warnx("front: bad listen address %s", cfg->listen_api);
		goto fail;
	}
	if ((f->http = evhttp_new(base)) == NULL) {
		log_warnx("front: evhttp_new failed");
		goto fail;
	}
	f->conns = conns_new(base);
	f->per_ip = ratelimit_new(0, 1000, 0);
	/* The read bucket is applied with the front's other limits, on
	 * reload too; the API takes from it after authentication. */
	f->per_read = ratelimit_new(0, 1000, 0);
	api->per_key_read = f->per_read;
	front_set_limits(f, cfg);
	evhttp_set_allowed_methods(f->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_default_content_type(f->http, "application/json");
	evhttp_set_bevcb(f->http, conns_bevcb, f->conns);
	evhttp_set_gencb(f->http, front_request, f);

	f->sock =
	    evhttp_bind_socket_with_handle(f->http, host, (ev_uint16_t)port);
	if (f->sock == NULL) {
		log_warn("front: cannot listen on %s", cfg->listen_api);
		goto fail;
	}
	/* evhttp never sets TCP_NODELAY; accepted sockets inherit it from
	 * the listener on Linux. */
	fd = evhttp_bound_socket_get_fd(f->sock);
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
		log_warn("front: TCP_NODELAY");
	conns_set_listener(f->conns, evhttp_bound_socket_get_listener(f->sock));
	free(host);
	return f;
fail:
	free(host);
	front_free(f);
	return NULL;
}

void
front_stop_accepting(struct front *f)
{
	if (f != NULL && f->sock != NULL) {
		evhttp_del_accept_socket(f->http, f->sock);
		f->sock = NULL;
	}
}

void
front_free(struct front *f)
{
	if (f == NULL)
		return;
	if (f->http != NULL)
		evhttp_free(f->http); /* closes connections: conns sees it */
	conns_free(f->conns);
	ratelimit_free(f->per_ip);
	if (f->per_read != NULL && f->api->per_key_read == f->per_read)
		f->api->per_key_read = NULL;
	ratelimit_free(f->per_read);
	free(f);
}
