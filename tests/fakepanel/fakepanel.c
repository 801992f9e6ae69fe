/* fakepanel.c - fakepanel: command line, HTTP server, fault delivery.
 *
 * A simulated upstream SMM panel (API v2) on one evhttp listener: the API on
 * --path (with or without a trailing slash), the control API on /control.
 * Every request is answered from memory on the loop; faults that delay or
 * withhold a reply park the request in a pending list and release it when
 * its timer fires or its connection closes, never blocking other requests.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "fp.h"
#include "fp_api.h"
#include "fp_calllog.h"
#include "fp_catalog.h"
#include "fp_control.h"
#include "fp_fault.h"
#include "fp_orders.h"
#include "fp_params.h"
#include "fp_reply.h"
#include "log.h"
#include "money.h"
#include "xmalloc.h"

#define FP_MAX_HEADERS 16384              /* request header bytes */
#define FP_MAX_BODY_DEFAULT (1024 * 1024) /* request body bytes */
#define FP_MAX_BODY_LIMIT (64 * 1024 * 1024)
#define FP_IDLE_TIMEOUT_S 120             /* evhttp read/write timeout */
#define FP_MAX_SINGLE_WRITE (1024 * 1024) /* bufferevent write chunk */
#define FP_CONN_BUCKETS 4096              /* connection table */
#define FP_MAX_KEYS 64
#define FP_MAX_FAULTS 64
#define FP_SERVICES_DEFAULT 20
#define FP_LOG_MAX_DEFAULT 100000
#define FP_SWEEP_MS 100 /* how often parked requests are checked */

/* One client connection, from its first request until it closes. */
struct fp_conn {
	struct evhttp_connection *evcon;
	uint64_t serial;
	uint64_t epoch; /* counted in the stats of this reset epoch */
	struct fp_conn *next;
};

enum fp_park { FP_PARK_HANG, FP_PARK_SLOW, FP_PARK_CLOSE };

/* A request whose reply is delayed or withheld. */
struct fp_pending {
	struct evhttp_request *req;
	struct fp_conn *conn;
	enum fp_park kind;
	struct event *timer;   /* NULL for hang */
	struct evbuffer *body; /* slow: the reply */
	struct fp_pending *prev, *next;
};

static struct {
	struct event_base *base;
	struct evhttp *http;
	char *path; /* --path, no trailing slash */
	size_t pathlen;
	size_t max_body;
	struct fp_params params;
	struct evbuffer *body; /* scratch reply buffer */
	struct fp_conn *conns[FP_CONN_BUCKETS];
	size_t nconns;
	uint64_t serials;
	uint64_t epoch;
	struct fp_pending *pending;
	size_t npending;
	struct event *sweep;
} fp;

static const char fp_page_502[] =
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

static const char fp_page_524[] =
    "<!DOCTYPE html><html><head><title>127.0.0.1 | 524: A timeout "
    "occurred</title></head><body><h1>A timeout occurred</h1><p>The origin "
    "web server timed out responding to this request.</p><p>Cloudflare Ray "
    "ID: 7d1f0c2b9e8a3f21</p></body></html>";

static const char fp_page_maintenance[] =
    "<!DOCTYPE html>\n<html><head><title>Maintenance</title></head><body>"
    "<h1>We&rsquo;ll be back soon!</h1></body></html>\n";

static const char fp_php_notice[] =
    "<br />\n<b>Warning</b>:  Undefined variable $x in "
    "<b>/var/www/api.php</b> on line <b>12</b><br />\n";

static void
fp_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: fakepanel [--listen HOST:PORT] [--path /api/v2] "
	    "[--key KEY]...\n"
	    "  [--dialect std|v1|var] [--currency USD] [--services N | "
	    "--services-file F.json]\n"
	    "  [--name-pad BYTES]"
	    " [--balance AMOUNT] [--progress manual|instant|timer:MS]\n"
	    "  [--fault ACTION=MODE[:ARG][,after=N][,count=N][,nocreate]]...\n"
	    "  [--log FILE] [--log-max N] [--ready-fd N] [--max-ids N] "
	    "[--max-body BYTES]\n"
	    "  [--first-order N] [--assume-orders N] [--pretty] [--bom] "
	    "[-v]\n");
}

/* Connection table -------------------------------------------------------- */

static size_t
fp_conn_hash(const struct evhttp_connection *evcon)
{
	uintptr_t p = (uintptr_t)evcon;

	return (size_t)((p >> 4) ^ (p >> 16)) % FP_CONN_BUCKETS;
}

static void fp_pending_drop(struct fp_pending *pd, int free_req);

/* evhttp is about to free EVCON: release what is parked on it. */
static void
fp_conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct fp_conn *c = arg, **pp;
	struct fp_pending *pd, *next;

	for (pd = fp.pending; pd != NULL; pd = next) {
		next = pd->next;
		/* A request still on the connection is freed with it; one
		 * evhttp detached (the client went away) is ours to free. */
		if (pd->conn == c)
			fp_pending_drop(
			    pd, evhttp_request_get_connection(pd->req) == NULL);
	}
	for (pp = &fp.conns[fp_conn_hash(evcon)]; *pp != NULL;
	     pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	fp.nconns--;
	free(c);
}

/* The connection of REQ, registered on first sight.  *FRESH: first call
 * on it since the last reset. */
static struct fp_conn *
fp_conn_get(struct evhttp_request *req, int *fresh)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	size_t h = fp_conn_hash(evcon);
	struct fp_conn *c;
	int one = 1, fd;

	for (c = fp.conns[h]; c != NULL; c = c->next)
		if (c->evcon == evcon)
			break;
	if (c == NULL) {
		c = xcalloc(1, sizeof(*c));
		c->evcon = evcon;
		c->serial = ++fp.serials;
		c->epoch = fp.epoch - 1;
		c->next = fp.conns[h];
		fp.conns[h] = c;
		fp.nconns++;
		evhttp_connection_set_closecb(evcon, fp_conn_closed, c);
		/* Linux passes TCP_NODELAY on from the listener; make sure. */
		fd =
		    bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
		if (fd != -1)
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
			           sizeof(one));
	}
	*fresh = c->epoch != fp.epoch;
	c->epoch = fp.epoch;
	return c;
}

/* Parked requests --------------------------------------------------------- */

static void
fp_pending_unlink(struct fp_pending *pd)
{
	if (pd->prev != NULL)
		pd->prev->next = pd->next;
	else
		fp.pending = pd->next;
	if (pd->next != NULL)
		pd->next->prev = pd->prev;
	fp.npending--;
}

/* Forget PD; FREE_REQ: also free its (detached) request. */
static void
fp_pending_drop(struct fp_pending *pd, int free_req)
{
	fp_pending_unlink(pd);
	if (pd->timer != NULL)
		event_free(pd->timer);
	if (pd->body != NULL)
		evbuffer_free(pd->body);
	if (free_req)
		evhttp_request_free(pd->req);
	free(pd);
}

static void
fp_send(struct evhttp_request *req, int code, const char *reason,
        const char *ctype, struct evbuffer *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_send_reply(req, code, reason, body);
}

static void
fp_pending_fire(evutil_socket_t fd, short what, void *arg)
{
	struct fp_pending *pd = arg;
	struct evhttp_request *req = pd->req;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);

	if (pd->kind == FP_PARK_SLOW) {
		fp_send(req, 200, "OK", "application/json", pd->body);
		fp_pending_drop(pd, 0);
		return;
	}
	/* close: drop the connection without a byte of reply. */
	fp_pending_drop(pd, evcon == NULL);
	if (evcon != NULL)
		evhttp_connection_free(evcon);
}

static void
fp_pending_add(struct evhttp_request *req, struct fp_conn *c, enum fp_park kind,
               int64_t ms, struct evbuffer *body)
{
	struct fp_pending *pd = xcalloc(1, sizeof(*pd));
	struct timeval tv;

	pd->req = req;
	pd->conn = c;
	pd->kind = kind;
	if (kind != FP_PARK_HANG) {
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		pd->timer = evtimer_new(fp.base, fp_pending_fire, pd);
		if (pd->timer == NULL)
			fatalx("evtimer_new");
		evtimer_add(pd->timer, &tv);
	}
	if (kind == FP_PARK_SLOW) {
		pd->body = evbuffer_new();
		evbuffer_add_buffer(pd->body, body);
	}
	pd->next = fp.pending;
	if (fp.pending != NULL)
		fp.pending->prev = pd;
	fp.pending = pd;
	fp.npending++;
	if (!evtimer_pending(fp.sweep, NULL)) {
		struct timeval sweep_tv = {0, FP_SWEEP_MS * 1000};

		evtimer_add(fp.sweep, &sweep_tv);
	}
}

/* Whether the client of EVCON has gone: evhttp 2.1 does not read while a
 * request waits for its reply, so it never sees the EOF itself. */
static int
fp_conn_dead(struct evhttp_connection *evcon)
{
	evutil_socket_t fd;
	ssize_t n;
	char b;

	fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
	if (fd == -1)
		return 1;
	n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
	                  errno != EINTR);
}

/* Every FP_SWEEP_MS while requests are parked: free those whose client
 * went away (freeing the connection drops every request parked on it). */
static void
fp_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct fp_pending *pd;
	int again = 1;

	while (again) {
		again = 0;
		for (pd = fp.pending; pd != NULL; pd = pd->next) {
			struct evhttp_connection *evcon =
			    evhttp_request_get_connection(pd->req);

			if (evcon == NULL) {
				fp_pending_drop(pd, 1);
			} else if (fp_conn_dead(evcon)) {
				fp_pending_drop(pd, 0);
				evhttp_connection_free(evcon);
			} else {
				continue;
			}
			/* The list changed under us: start over. */
			again = 1;
			break;
		}
	}
	if (fp.pending == NULL)
		evtimer_del(fp.sweep);
}

/* Deliver the reply BODY of REQ as fault F (NULL: normally). */
static void
fp_deliver(struct evhttp_request *req, struct fp_conn *c,
           const struct fp_fault *f, struct evbuffer *body)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	size_t len;

	switch (f != NULL ? f->mode : FP_FAULT_NONE) {
	case FP_FAULT_HANG:
		evbuffer_drain(body, evbuffer_get_length(body));
		fp_pending_add(req, c, FP_PARK_HANG, 0, NULL);
		return;
	case FP_FAULT_CLOSE:
		evbuffer_drain(body, evbuffer_get_length(body));
		fp_pending_add(req, c, FP_PARK_CLOSE, 0, NULL);
		return;
	case FP_FAULT_SLOW:
		fp_pending_add(req, c, FP_PARK_SLOW, f->ms, body);
		return;
	case FP_FAULT_502:
		evbuffer_drain(body, evbuffer_get_length(body));
		evbuffer_add_reference(out, fp_page_502,
		                       sizeof(fp_page_502) - 1, NULL, NULL);
		fp_send(req, 502, "Bad Gateway", "text/html", NULL);
		return;
	case FP_FAULT_524:
		evbuffer_drain(body, evbuffer_get_length(body));
		evbuffer_add_reference(out, fp_page_524,
		                       sizeof(fp_page_524) - 1, NULL, NULL);
		fp_send(req, 524, "A Timeout Occurred",
		        "text/html; charset=UTF-8", NULL);
		return;
	case FP_FAULT_EMPTY:
		evbuffer_drain(body, evbuffer_get_length(body));
		fp_send(req, 200, "OK", "text/html; charset=UTF-8", NULL);
		return;
	case FP_FAULT_GARBAGE:
		switch (f->garbage) {
		case FP_GARBAGE_PHP:
			evbuffer_add_reference(out, fp_php_notice,
			                       sizeof(fp_php_notice) - 1, NULL,
			                       NULL);
			evbuffer_add_buffer(out, body);
			break;
		case FP_GARBAGE_TRUNCATED:
			/* Cut inside the JSON: never a complete document. */
			len = evbuffer_get_length(body);
			evbuffer_remove_buffer(body, out,
			                       len > 1 ? len / 2 : 1);
			evbuffer_drain(body, evbuffer_get_length(body));
			break;
		case FP_GARBAGE_HTML:
			evbuffer_drain(body, evbuffer_get_length(body));
			evbuffer_add_reference(out, fp_page_maintenance,
			                       sizeof(fp_page_maintenance) - 1,
			                       NULL, NULL);
			break;
		}
		fp_send(req, 200, "OK", "text/html; charset=UTF-8", NULL);
		return;
	default:
		evbuffer_add_buffer(out, body);
		fp_send(req, 200, "OK", "application/json", NULL);
		return;
	}
}

/* Requests ---------------------------------------------------------------- */

static const char *
fp_method(struct evhttp_request *req)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	default:
		return "OTHER";
	}
}

static void
fp_api_request(struct evhttp_request *req, struct fp_conn *c, int fresh,
               const char *query)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct fp_params *p = &fp.params;
	struct fp_api_result res = {1, 0};
	struct fp_fault f;
	struct fp_call call;
	const char *ctype, *action;
	char faultbuf[FP_TEXT_MAX + 16];
	size_t len;
	enum fp_action act;
	int faulty;

	fp_params_clear(p);
	if (query != NULL)
		fp_params_add_form(p, query, strlen(query));
	len = evbuffer_get_length(in);
	if (len > 0) {
		const char *body = (const char *)evbuffer_pullup(in, -1);

		ctype = evhttp_find_header(
		    evhttp_request_get_input_headers(req), "Content-Type");
		if ((ctype != NULL && strstr(ctype, "json") != NULL) ||
		    ((ctype == NULL || strstr(ctype, "form") == NULL) &&
		     body[0] == '{'))
			fp_params_add_json(p, body, len);
		else
			fp_params_add_form(p, body, len);
	}
	action = fp_params_get(p, "action");
	act = fp_action_parse(action);
	faulty = fp_fault_take(act, &f);

	if (faulty && f.mode == FP_FAULT_ERROR) {
		fp_reply_error(fp.body, f.text);
		res.key_ok = fp_params_get(p, "key") != NULL;
	} else {
		if (faulty && f.mode == FP_FAULT_WRONGID)
			fp_reply_set_id_shift(f.shift);
		fp_api_handle(p, act, faulty ? f.effects : 1, fp.body, &res);
		fp_reply_set_id_shift(0);
	}

	memset(&call, 0, sizeof(call));
	call.method = fp_method(req);
	call.action = action;
	call.act = act;
	call.params = p;
	call.conn = c->serial;
	call.new_conn = fresh;
	call.fault =
	    faulty ? fp_fault_describe(&f, faultbuf, sizeof(faultbuf)) : NULL;
	call.key_ok = res.key_ok;
	call.order = res.order;
	fp_calllog_add(&call);
	log_debug("%s %s conn=%llu fault=%s order=%lld", call.method,
	          fp_action_name(act), (unsigned long long)c->serial,
	          call.fault != NULL ? call.fault : "-", (long long)res.order);

	fp_deliver(req, c, faulty ? &f : NULL, fp.body);
}

static void
fp_control_request(struct evhttp_request *req, const char *sub,
                   const char *query)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct evbuffer *out = evhttp_request_get_output_buffer(req);
	int code;

	if (evhttp_request_get_command(req) == EVHTTP_REQ_POST &&
	    *sub == '\0') {
		size_t len = evbuffer_get_length(in);
		const char *body =
		    len > 0 ? (const char *)evbuffer_pullup(in, -1) : "";

		code = fp_control_post(body, len, out);
	} else {
		code = fp_control_get(sub, query, out);
	}
	fp_send(req, code,
	        code == 200   ? "OK"
	        : code == 404 ? "Not Found"
	                      : "Bad Request",
	        "application/json", NULL);
}

static void
fp_request(struct evhttp_request *req, void *arg)
{
	const char *uri = evhttp_request_get_uri(req);
	size_t plen = strcspn(uri, "?");
	const char *query = uri[plen] == '?' ? uri + plen + 1 : NULL;
	char path[512];
	struct fp_conn *c;
	int fresh;

	if (plen >= sizeof(path)) {
		evhttp_send_error(req, 414, NULL);
		return;
	}
	memcpy(path, uri, plen);
	path[plen] = '\0';

	if (strcmp(path, "/control") == 0 || strcmp(path, "/control/") == 0) {
		fp_control_request(req, "", query);
		return;
	}
	if (strncmp(path, "/control/", 9) == 0) {
		fp_control_request(req, path + 9, query);
		return;
	}
	if (plen >= fp.pathlen && memcmp(path, fp.path, fp.pathlen) == 0 &&
	    (plen == fp.pathlen ||
	     (plen == fp.pathlen + 1 && path[plen - 1] == '/'))) {
		c = fp_conn_get(req, &fresh);
		fp_api_request(req, c, fresh, query);
		return;
	}
	evbuffer_add_printf(evhttp_request_get_output_buffer(req),
	                    "{\"error\":\"Not found\"}");
	fp_send(req, 404, "Not Found", "application/json", NULL);
}

/* evhttp makes a bufferevent per accepted connection: big single writes. */
static struct bufferevent *
fp_bevcb(struct event_base *base, void *arg)
{
	struct bufferevent *bev;

	bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev != NULL)
		bufferevent_set_max_single_write(bev, FP_MAX_SINGLE_WRITE);
	return bev;
}

/* Control hooks ----------------------------------------------------------- */

static void
fp_on_reset(void)
{
	fp.epoch++;
}

static void
fp_on_stats(json_t *j)
{
	size_t hung = 0;

	for (struct fp_pending *pd = fp.pending; pd != NULL; pd = pd->next)
		hung += pd->kind == FP_PARK_HANG;
	json_object_set_new(j, "open_connections",
	                    json_integer((json_int_t)fp.nconns));
	json_object_set_new(j, "pending",
	                    json_integer((json_int_t)fp.npending));
	json_object_set_new(j, "hung", json_integer((json_int_t)hung));
}

/* Start-up ---------------------------------------------------------------- */

static void
fp_on_signal(evutil_socket_t sig, short what, void *arg)
{
	log_info("signal %d: exiting", (int)sig);
	event_base_loopbreak(fp.base);
}

/* Split "HOST:PORT" / "[V6]:PORT".  0, or -1. */
static int
fp_split_listen(const char *s, char *host, size_t hostlen, int *port)
{
	const char *colon = strrchr(s, ':');
	const char *h = s;
	size_t n;
	int64_t p;

	if (colon == NULL || fp_parse_int(colon + 1, &p) == -1 || p < 0 ||
	    p > 65535)
		return -1;
	n = (size_t)(colon - s);
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		h = s + 1;
		n -= 2;
	}
	if (n == 0 || n >= hostlen)
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	*port = (int)p;
	return 0;
}

/* Print where we listen, on stdout and on READY_FD if >= 0. */
static void
fp_announce(evutil_socket_t fd, int ready_fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char addr[INET6_ADDRSTRLEN], line[128];
	int port = 0, n;

	addr[0] = '\0';
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
			port = ntohs(s6->sin6_port);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
			port = ntohs(s4->sin_port);
		}
	}
	if (ss.ss_family == AF_INET6)
		n = snprintf(line, sizeof(line), "listening on [%s]:%d\n", addr,
		             port);
	else
		n = snprintf(line, sizeof(line), "listening on %s:%d\n", addr,
		             port);
	fputs(line, stdout);
	fflush(stdout);
	if (ready_fd >= 0) {
		if (write(ready_fd, line, (size_t)n) != n)
			log_warn("--ready-fd %d", ready_fd);
		close(ready_fd);
	}
}

static int64_t
fp_opt_int(const char *name, const char *v, int64_t lo, int64_t hi)
{
	int64_t n;

	if (fp_parse_int(v, &n) == -1 || n < lo || n > hi)
		fatalx("%s: expected an integer in [%lld, %lld], got \"%s\"",
		       name, (long long)lo, (long long)hi, v);
	return n;
}

enum {
	OPT_LISTEN = 256,
	OPT_PATH,
	OPT_KEY,
	OPT_DIALECT,
	OPT_CURRENCY,
	OPT_SERVICES,
	OPT_SERVICES_FILE,
	OPT_NAME_PAD,
	OPT_BALANCE,
	OPT_PROGRESS,
	OPT_FAULT,
	OPT_LOG,
	OPT_LOG_MAX,
	OPT_READY_FD,
	OPT_MAX_IDS,
	OPT_MAX_BODY,
	OPT_FIRST_ORDER,
	OPT_ASSUME_ORDERS,
	OPT_PRETTY,
	OPT_BOM
};

static const struct option fp_options[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"path", required_argument, NULL, OPT_PATH},
    {"key", required_argument, NULL, OPT_KEY},
    {"dialect", required_argument, NULL, OPT_DIALECT},
    {"currency", required_argument, NULL, OPT_CURRENCY},
    {"services", required_argument, NULL, OPT_SERVICES},
    {"services-file", required_argument, NULL, OPT_SERVICES_FILE},
    {"name-pad", required_argument, NULL, OPT_NAME_PAD},
    {"balance", required_argument, NULL, OPT_BALANCE},
    {"progress", required_argument, NULL, OPT_PROGRESS},
    {"fault", required_argument, NULL, OPT_FAULT},
    {"log", required_argument, NULL, OPT_LOG},
    {"log-max", required_argument, NULL, OPT_LOG_MAX},
    {"ready-fd", required_argument, NULL, OPT_READY_FD},
    {"max-ids", required_argument, NULL, OPT_MAX_IDS},
    {"max-body", required_argument, NULL, OPT_MAX_BODY},
    {"first-order", required_argument, NULL, OPT_FIRST_ORDER},
    {"assume-orders", required_argument, NULL, OPT_ASSUME_ORDERS},
    {"pretty", no_argument, NULL, OPT_PRETTY},
    {"bom", no_argument, NULL, OPT_BOM},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int
main(int argc, char **argv)
{
	const char *listen_arg = "127.0.0.1:0", *path = "/api/v2";
	const char *currency = "USD", *services_file = NULL, *logfile = NULL;
	const char *faults[FP_MAX_FAULTS];
	char *keys[FP_MAX_KEYS];
	size_t nkeys = 0, nfaults = 0;
	int64_t services = FP_SERVICES_DEFAULT, log_max = FP_LOG_MAX_DEFAULT;
	int64_t max_ids = 100, first_order = 1, ready_fd = -1, assume = 0;
	int64_t max_body = FP_MAX_BODY_DEFAULT, name_pad = 0;
	money_t balance = 1000000 * MONEY_SCALE;
	enum fp_dialect dialect = FP_DIALECT_STD;
	struct fp_orders_conf oc;
	struct fp_control_hooks hooks = {fp_on_reset, fp_on_stats};
	struct evhttp_bound_socket *bound;
	struct event *sigterm, *sigint;
	char host[256], err[512];
	int port, ch, pretty = 0, bom = 0, one = 1;
	evutil_socket_t lfd;

	log_init("fakepanel", LOG_LEVEL_INFO);
	memset(&oc, 0, sizeof(oc));
	oc.progress = FP_PROGRESS_MANUAL;

	while ((ch = getopt_long(argc, argv, "vh", fp_options, NULL)) != -1) {
		switch (ch) {
		case OPT_LISTEN:
			listen_arg = optarg;
			break;
		case OPT_PATH:
			path = optarg;
			break;
		case OPT_KEY:
			if (nkeys == FP_MAX_KEYS)
				fatalx("too many --key");
			if (*optarg == '\0' || strlen(optarg) >= FP_TEXT_MAX)
				fatalx("--key: empty or too long");
			keys[nkeys++] = optarg;
			break;
		case OPT_DIALECT:
			if (fp_dialect_parse(optarg, &dialect) == -1)
				fatalx("--dialect: std, v1 or var");
			break;
		case OPT_CURRENCY:
			if (*optarg == '\0' || strlen(optarg) > 8 ||
			    strspn(optarg, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			                   "abcdefghijklmnopqrstuvwxyz"
			                   "0123456789") != strlen(optarg))
				fatalx("--currency: 1 to 8 letters or digits");
			currency = optarg;
			break;
		case OPT_SERVICES:
			services =
			    fp_opt_int("--services", optarg, 0, FP_CATALOG_MAX);
			break;
		case OPT_SERVICES_FILE:
			services_file = optarg;
			break;
		case OPT_NAME_PAD:
			name_pad = fp_opt_int("--name-pad", optarg, 0,
			                      FP_CATALOG_NAME_PAD_MAX);
			break;
		case OPT_BALANCE:
			if (money_parse(optarg, &balance) == -1)
				fatalx("--balance: bad amount \"%s\"", optarg);
			break;
		case OPT_PROGRESS:
			if (fp_progress_parse(optarg, &oc.progress,
			                      &oc.progress_ms) == -1)
				fatalx("--progress: manual, instant or "
				       "timer:MS");
			break;
		case OPT_FAULT:
			if (nfaults == FP_MAX_FAULTS)
				fatalx("too many --fault");
			faults[nfaults++] = optarg;
			break;
		case OPT_LOG:
			logfile = optarg;
			break;
		case OPT_LOG_MAX:
			log_max = fp_opt_int("--log-max", optarg, 0, 100000000);
			break;
		case OPT_READY_FD:
			ready_fd = fp_opt_int("--ready-fd", optarg, 0, 65535);
			break;
		case OPT_MAX_IDS:
			max_ids =
			    fp_opt_int("--max-ids", optarg, 1, FP_IDS_MAX);
			break;
		case OPT_MAX_BODY:
			max_body = fp_opt_int("--max-body", optarg, 1024,
			                      FP_MAX_BODY_LIMIT);
			break;
		case OPT_FIRST_ORDER:
			first_order = fp_opt_int("--first-order", optarg, 1,
			                         INT64_C(1000000000000));
			break;
		case OPT_ASSUME_ORDERS:
			assume = fp_opt_int("--assume-orders", optarg, 0,
			                    INT64_C(100000000));
			break;
		case OPT_PRETTY:
			pretty = 1;
			break;
		case OPT_BOM:
			bom = 1;
			break;
		case 'v':
			log_set_level(LOG_LEVEL_DEBUG);
			break;
		case 'h':
			fp_usage(stdout);
			return 0;
		default:
			fp_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fp_usage(stderr);
		return 2;
	}
	if (path[0] != '/' || strlen(path) >= 256)
		fatalx("--path must start with '/'");
	if (fp_split_listen(listen_arg, host, sizeof(host), &port) == -1)
		fatalx("--listen: expected HOST:PORT, got \"%s\"", listen_arg);

	signal(SIGPIPE, SIG_IGN);
	log_route_libevent();

	fp.path = xstrdup(path);
	fp.pathlen = strlen(fp.path);
	while (fp.pathlen > 1 && fp.path[fp.pathlen - 1] == '/')
		fp.path[--fp.pathlen] = '\0';
	fp.max_body = (size_t)max_body;
	fp.epoch = 1;
	/* Decoded text never outgrows what came in: the query, the body, and
	 * the NULs and joined JSON numbers around them. */
	fp_params_init(&fp.params, 2 * fp.max_body + 3 * FP_MAX_HEADERS);
	fp.body = evbuffer_new();

	if (fp_catalog_init((int)services, (size_t)name_pad, services_file, err,
	                    sizeof(err)) == -1)
		fatalx("%s", err);
	oc.balance = balance;
	oc.currency = currency;
	oc.first_order = first_order;
	oc.assume = assume;
	fp_orders_init(&oc);
	fp_api_init(keys, nkeys, (int)max_ids);
	fp_reply_set_dialect(dialect);
	fp_reply_set_format(pretty, bom);
	fp_control_init(&hooks, dialect);
	for (size_t i = 0; i < nfaults; i++)
		if (fp_fault_parse_cli(faults[i], err, sizeof(err)) == -1)
			fatalx("%s", err);
	if (fp_calllog_init((size_t)log_max, logfile) == -1)
		fatal("--log %s", logfile);

	if ((fp.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	if ((fp.http = evhttp_new(fp.base)) == NULL)
		fatalx("evhttp_new");
	evhttp_set_max_headers_size(fp.http, FP_MAX_HEADERS);
	evhttp_set_max_body_size(fp.http, (ev_ssize_t)fp.max_body);
	evhttp_set_timeout(fp.http, FP_IDLE_TIMEOUT_S);
	evhttp_set_allowed_methods(fp.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_bevcb(fp.http, fp_bevcb, NULL);
	evhttp_set_gencb(fp.http, fp_request, NULL);
	bound = evhttp_bind_socket_with_handle(fp.http, host, (uint16_t)port);
	if (bound == NULL)
		fatalx("cannot listen on %s", listen_arg);
	lfd = evhttp_bound_socket_get_fd(bound);
	/* Accepted sockets inherit TCP_NODELAY on Linux: no Nagle delay on
	 * large replies. */
	if (setsockopt(lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1)
		log_warn("TCP_NODELAY");

	sigterm = evsignal_new(fp.base, SIGTERM, fp_on_signal, NULL);
	sigint = evsignal_new(fp.base, SIGINT, fp_on_signal, NULL);
	fp.sweep = event_new(fp.base, -1, EV_PERSIST, fp_sweep, NULL);
	if (sigterm == NULL || sigint == NULL || fp.sweep == NULL)
		fatalx("event_new");
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);

	fp_announce(lfd, (int)ready_fd);
	log_info("%s dialect, %zu services, balance %s %s, path %s",
	         fp_dialect_name(dialect), fp_catalog_count(),
	         money_format(balance, 2, err), currency, fp.path);

	event_base_dispatch(fp.base);

	/* Parked requests still on a connection go with evhttp_free(); the
	 * detached ones are ours. */
	while (fp.pending != NULL)
		fp_pending_drop(fp.pending, evhttp_request_get_connection(
		                                fp.pending->req) == NULL);
	evhttp_free(fp.http);
	for (size_t i = 0; i < FP_CONN_BUCKETS; i++) {
		while (fp.conns[i] != NULL) {
			struct fp_conn *c = fp.conns[i];

			fp.conns[i] = c->next;
			free(c);
		}
	}
	event_free(fp.sweep);
	event_free(sigterm);
	event_free(sigint);
	evbuffer_free(fp.body);
	event_base_free(fp.base);
	libevent_global_shutdown();

	fp_calllog_free();
	fp_reply_free();
	fp_api_free();
	fp_orders_free();
	fp_catalog_free();
	fp_params_free(&fp.params);
	free(fp.path);
	return 0;
}
