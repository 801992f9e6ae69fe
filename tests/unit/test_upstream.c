/* test_upstream.c - the libcurl-multi engine on a libevent loop against the
 * real fake panel (build/fakepanel, started here on a free loopback port):
 * every fault mode gives the right outcome class, non-idempotent calls are
 * never re-sent by libcurl, the circuit breaker opens and closes, and the
 * connection caps hold, reads and writes apart.  Through nginx as a TLS
 * terminator in front of the fake panel (skipped without nginx/openssl):
 * ca_file, a wrong CA not sent, TLS sessions resumed by fresh connections,
 * the http2 key.  The batcher's applies on a loop of three priorities: a
 * loop never idle still applies them. */
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>

#include "batch.h"
#include "buf.h"
#include "config.h"
#include "dialect.h"
#include "log.h"
#include "upstream.h"

/* The three outcomes of SPEC section 5, as order logic will see them. */
enum outcome { NOT_SENT, DEFINITE, AMBIGUOUS };
static const char *const outcome_names[] = {"not sent", "definite",
                                            "ambiguous"};

struct panel_proc {
	pid_t pid;
	int port;
	char url[192];
	char base[128];
};

static struct panel_proc fp;

static void
fakepanel_path(char *out, size_t size)
{
	char self[PATH_MAX];
	ssize_t n;

	if (getenv("FAKEPANEL") != NULL) {
		snprintf(out, size, "%s", getenv("FAKEPANEL"));
		return;
	}
	/* build/tests/test_upstream -> build/fakepanel */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		n = 0;
	self[n] = '\0';
	snprintf(out, size, "%s/../fakepanel", dirname(self));
}

static int
start_fakepanel(void **state)
{
	char path[PATH_MAX], line[256];
	int pipefd[2];
	FILE *f;

	fakepanel_path(path, sizeof(path));
	if (pipe(pipefd) != 0)
		return -1;
	fp.pid = fork();
	if (fp.pid < 0)
		return -1;
	if (fp.pid == 0) {
		dup2(pipefd[1], 1);
		close(pipefd[0]);
		execl(path, path, "--listen", "127.0.0.1:0", "--key", "upkey",
		      "--services", "20", (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	f = fdopen(pipefd[0], "r");
	while (fgets(line, sizeof(line), f) != NULL) {
		const char *p = strstr(line, "listening on 127.0.0.1:");

		if (p != NULL) {
			fp.port = atoi(p + strlen("listening on 127.0.0.1:"));
			break;
		}
	}
	fclose(f);
	if (fp.port <= 0) {
		print_message("# fakepanel at %s did not start\n", path);
		return -1;
	}
	snprintf(fp.base, sizeof(fp.base), "http://127.0.0.1:%d", fp.port);
	snprintf(fp.url, sizeof(fp.url), "%s/api/v2", fp.base);
	return 0;
}

static int
stop_fakepanel(void **state)
{
	int status;

	if (fp.pid > 0) {
		kill(fp.pid, SIGTERM);
		waitpid(fp.pid, &status, 0);
	}
	return 0;
}

/* Synchronous helper requests to the fake panel's control endpoint. */
static size_t
collect(char *p, size_t size, size_t n, void *arg)
{
	buf_add(arg, p, size * n);
	return size * n;
}

static json_t *
control(const char *method, const char *path, const char *body)
{
	CURL *e = curl_easy_init();
	char url[256];
	struct buf b;
	json_t *j;

	buf_init(&b, 1 << 24);
	snprintf(url, sizeof(url), "%s%s", fp.base, path);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	if (strcmp(method, "POST") == 0)
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	assert_int_equal(curl_easy_perform(e), CURLE_OK);
	curl_easy_cleanup(e);
	j = json_loadb(b.data != NULL ? b.data : "", b.len, 0, NULL);
	buf_free(&b);
	return j;
}

static void
set_fault(const char *action, const char *mode)
{
	char body[256];
	json_t *j;

	snprintf(body, sizeof(body),
	         "{\"op\":\"fault\",\"action\":\"%s\",\"mode\":\"%s\"}", action,
	         mode);
	j = control("POST", "/control", body);
	json_decref(j);
}

static void
reset_panel(void)
{
	json_decref(control("POST", "/control", "{\"op\":\"reset\"}"));
}

/* How many calls of ACTION the fake panel logged. */
static int
count_calls(const char *action)
{
	json_t *log = control("GET", "/control/log", NULL), *e;
	size_t i;
	int n = 0;

	assert_non_null(log);
	assert_true(json_is_array(log));
	json_array_foreach(log, i, e)
	{
		const char *a = json_string_value(json_object_get(e, "action"));

		if (a != NULL && strcmp(a, action) == 0)
			n++;
	}
	json_decref(log);
	return n;
}

struct call_state {
	struct event_base *base;
	int done;
	enum up_transport transport;
	enum outcome outcome;
	char action[32];
	char reason[256];
	long http;
	int64_t latency_ms;
};

static const char *const one_id[] = {"1"};

/* Classify a result the way order logic does: the dialect parser decides
 * whether a reply is a definite answer. */
static enum outcome
classify(const char *action, const struct up_result *r)
{
	enum dialect_result d = DIALECT_FAULT;

	if (r->transport == UP_NOT_SENT)
		return NOT_SENT;
	if (r->transport == UP_LOST)
		return AMBIGUOUS;
	if (strcmp(action, "add") == 0) {
		struct dialect_add a;
		d = dialect_add((int)r->http_status, r->body, r->len, &a);
	} else if (strcmp(action, "status") == 0) {
		struct dialect_status_reply s;
		d = dialect_status((int)r->http_status, r->body, r->len, &s);
	} else if (strcmp(action, "refill") == 0) {
		struct dialect_refill s;
		d = dialect_refill((int)r->http_status, r->body, r->len, &s);
	} else if (strcmp(action, "cancel") == 0) {
		struct dialect_cancel s;
		d = dialect_cancel((int)r->http_status, r->body, r->len, one_id,
		                   1, &s);
		dialect_cancel_free(&s);
	} else if (strcmp(action, "balance") == 0) {
		struct dialect_balance s;
		d = dialect_balance((int)r->http_status, r->body, r->len, &s);
	} else if (strcmp(action, "services") == 0) {
		struct dialect_services s;
		d = dialect_services((int)r->http_status, r->body, r->len, &s);
		dialect_services_free(&s);
	}
	return d == DIALECT_FAULT ? AMBIGUOUS : DEFINITE;
}

static void
call_done(const struct up_result *r, void *arg)
{
	struct call_state *cs = arg;

	cs->done = 1;
	cs->transport = r->transport;
	cs->http = r->http_status;
	cs->latency_ms = r->latency_ms;
	cs->outcome = classify(cs->action, r);
	snprintf(cs->reason, sizeof(cs->reason), "%s",
	         r->reason != NULL ? r->reason
	                           : (r->body != NULL ? r->body : ""));
	event_base_loopbreak(cs->base);
}

struct env {
	struct event_base *base;
	struct up_engine *eng;
	struct upstream *up;
	struct cfg_upstream cu;
};

static void
env_init(struct env *e, const char *url, int64_t timeout_ms, int max_conn)
{
	memset(e, 0, sizeof(*e));
	e->base = event_base_new();
	e->eng = up_engine_new(e->base);
	assert_non_null(e->eng);
	e->cu.name = (char *)"fake";
	e->cu.url = (char *)url;
	e->cu.key = (char *)"upkey";
	e->cu.timeout_ms = timeout_ms;
	e->cu.max_connections = max_conn;
	e->up = upstream_new(e->eng, &e->cu);
}

static void
env_free(struct env *e)
{
	up_engine_free(e->eng);
	event_base_free(e->base);
}

static void
params_for(const char *action, struct buf *b)
{
	if (strcmp(action, "add") == 0) {
		upstream_form_add(b, "service", "1");
		upstream_form_add(b, "link", "https://example.com/p");
		upstream_form_add(b, "quantity", "100");
	} else if (strcmp(action, "status") == 0 ||
	           strcmp(action, "refill") == 0) {
		upstream_form_add(b, "order", "1");
	} else if (strcmp(action, "cancel") == 0) {
		upstream_form_add(b, "orders", "1");
	}
}

static int
is_write(const char *action)
{
	return strcmp(action, "add") == 0 || strcmp(action, "refill") == 0 ||
	       strcmp(action, "cancel") == 0;
}

static struct call_state
run_call(struct env *e, const char *action, int flags)
{
	struct call_state cs;
	struct buf b;

	memset(&cs, 0, sizeof(cs));
	cs.base = e->base;
	snprintf(cs.action, sizeof(cs.action), "%s", action);
	buf_init(&b, 1 << 20);
	params_for(action, &b);
	upstream_call(e->up, action, b.data, flags, call_done, &cs);
	buf_free(&b);
	assert_false(cs.done); /* never inline */
	while (!cs.done)
		event_base_dispatch(e->base);
	return cs;
}

struct fault_case {
	const char *mode;
	enum outcome want;
};

static void
test_fault_outcomes(void **state)
{
	static const char *const actions[] = {"add",    "status",  "refill",
	                                      "cancel", "balance", "services"};
	static const struct fault_case cases[] = {
	    {"none", DEFINITE},
	    {"hang", AMBIGUOUS},
	    {"close", AMBIGUOUS},
	    {"502", AMBIGUOUS},
	    {"524", AMBIGUOUS},
	    {"garbage", AMBIGUOUS},
	    {"empty", AMBIGUOUS},
	    {"error:Not enough funds on balance", DEFINITE},
	    {"slow:100", DEFINITE},
	};
	struct env e;

	env_init(&e, fp.url, 400, 8);
	upstream_set_breaker(e.up, 1000, 1000, 1000);
	/* an order exists for status/refill/cancel to talk about */
	reset_panel();
	{
		struct call_state cs = run_call(&e, "add", UP_FRESH);
		assert_int_equal(cs.outcome, DEFINITE);
	}
	for (size_t a = 0; a < sizeof(actions) / sizeof(actions[0]); a++)
		for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
			const char *action = actions[a];
			struct call_state cs;

			set_fault(action, cases[k].mode);
			cs = run_call(&e, action,
			              is_write(action) ? UP_FRESH : 0);
			set_fault(action, "none");
			if (cs.outcome != cases[k].want)
				fail_msg("%s with fault %s: got %s (%s), want "
				         "%s",
				         action, cases[k].mode,
				         outcome_names[cs.outcome], cs.reason,
				         outcome_names[cases[k].want]);
		}
	env_free(&e);

	/* nothing listening: not sent */
	{
		char url[128];
		int port = fp.port + 1;

		snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v2", port);
		env_init(&e, url, 400, 8);
		struct call_state cs = run_call(&e, "add", UP_FRESH);
		assert_int_equal(cs.outcome, NOT_SENT);
		env_free(&e);
	}
}

/* libcurl re-sends a POST when a reused keep-alive connection dies before
 * any reply byte; UP_FRESH must prevent it. The control case shows the
 * hazard is real, so the test can fail. */
static void
test_add_never_resent(void **state)
{
	struct env e;
	struct call_state cs;
	int adds;

	env_init(&e, fp.url, 2000, 1);
	reset_panel();
	/* warm a keep-alive connection, then add on a fresh one */
	cs = run_call(&e, "status", 0);
	assert_int_equal(cs.transport, UP_REPLIED);
	set_fault("add", "close");
	cs = run_call(&e, "add", UP_FRESH);
	assert_int_equal(cs.outcome, AMBIGUOUS);
	adds = count_calls("add");
	assert_int_equal(adds, 1);

	/* the same without UP_FRESH over the warm connection */
	cs = run_call(&e, "status", 0);
	assert_int_equal(cs.transport, UP_REPLIED);
	cs = run_call(&e, "add", 0);
	set_fault("add", "none");
	print_message("# without a fresh connection the panel saw %d adds "
	              "(libcurl retried a dead reused connection)\n",
	              count_calls("add") - adds);
	assert_int_equal(count_calls("add") - adds, 2);
	env_free(&e);
}

static void
test_circuit_breaker(void **state)
{
	struct env e;
	struct call_state cs;
	struct up_stats st;

	env_init(&e, fp.url, 1000, 4);
	upstream_set_breaker(e.up, 3, 200, 400);
	reset_panel();
	set_fault("status", "502");
	set_fault("balance", "502");
	for (int i = 0; i < 3; i++) {
		cs = run_call(&e, "status", 0);
		assert_int_equal(cs.outcome, AMBIGUOUS);
	}
	assert_int_equal(upstream_circuit(e.up), UP_CIRCUIT_OPEN);
	cs = run_call(&e, "status", 0);
	assert_int_equal(cs.transport, UP_NOT_SENT);
	assert_string_equal(cs.reason, "circuit open");
	/* a failing probe keeps it open */
	{
		struct timeval tv = {0, 300000};
		event_base_loopexit(e.base, &tv);
		event_base_dispatch(e.base);
	}
	assert_int_not_equal(upstream_circuit(e.up), UP_CIRCUIT_CLOSED);
	/* the panel recovers: the next probe (balance) closes it */
	set_fault("status", "none");
	set_fault("balance", "none");
	for (int i = 0; i < 20 && upstream_circuit(e.up) != UP_CIRCUIT_CLOSED;
	     i++) {
		struct timeval tv = {0, 100000};
		event_base_loopexit(e.base, &tv);
		event_base_dispatch(e.base);
	}
	assert_int_equal(upstream_circuit(e.up), UP_CIRCUIT_CLOSED);
	cs = run_call(&e, "status", 0);
	assert_int_equal(cs.outcome, DEFINITE);
	upstream_stats(e.up, &st);
	assert_int_equal(st.breaker_opens, 1);
	env_free(&e);
}

/* max_connections: calls beyond the cap wait their turn, none is lost. */
struct many {
	int done, ok;
	struct event_base *base;
};

static void
many_done(const struct up_result *r, void *arg)
{
	struct many *m = arg;

	m->done++;
	if (r->transport == UP_REPLIED && r->http_status == 200)
		m->ok++;
	if (m->done == 50)
		event_base_loopbreak(m->base);
}

static void
test_connection_cap(void **state)
{
	struct env e;
	struct many m = {0, 0, NULL};
	struct up_stats st;
	json_t *stats;

	env_init(&e, fp.url, 5000, 2);
	m.base = e.base;
	reset_panel();
	set_fault("balance", "slow:20");
	for (int i = 0; i < 50; i++)
		upstream_call(e.up, "balance", NULL, 0, many_done, &m);
	upstream_stats(e.up, &st);
	assert_int_equal(st.inflight, 2);
	assert_int_equal(st.queued, 48);
	while (m.done < 50)
		event_base_dispatch(e.base);
	set_fault("balance", "none");
	assert_int_equal(m.ok, 50);
	stats = control("GET", "/control/stats", NULL);
	assert_non_null(stats);
	json_decref(stats);
	env_free(&e);
}

/* Reads and writes are capped and queued apart: a burst of slow adds fills
 * the write lane and queues behind it, and a status call still goes at
 * once; neither lane ever has more in flight than its cap. */
struct lanes {
	struct upstream *up;
	struct event_base *base;
	int done, ok, want;
	uint64_t max_reads, max_writes;
};

static void
lanes_sample(struct lanes *l)
{
	struct up_stats st;

	upstream_stats(l->up, &st);
	if (st.inflight - st.inflight_writes > l->max_reads)
		l->max_reads = st.inflight - st.inflight_writes;
	if (st.inflight_writes > l->max_writes)
		l->max_writes = st.inflight_writes;
}

static void
lanes_done(const struct up_result *r, void *arg)
{
	struct lanes *l = arg;

	lanes_sample(l);
	l->done++;
	if (r->transport == UP_REPLIED && r->http_status == 200)
		l->ok++;
	if (l->done == l->want)
		event_base_loopbreak(l->base);
}

static void
test_lanes_independent(void **state)
{
	struct env e;
	struct lanes adds = {0}, reads = {0};
	struct call_state cs;
	struct up_stats st;

	env_init(&e, fp.url, 5000, 2);
	e.cu.max_write_connections = 3;
	upstream_update(e.up, &e.cu);
	reset_panel();
	set_fault("add", "slow:400");
	adds.up = reads.up = e.up;
	adds.base = reads.base = e.base;
	adds.want = 10;
	for (int i = 0; i < 10; i++) {
		struct buf b;

		buf_init(&b, 1 << 16);
		params_for("add", &b);
		upstream_call(e.up, "add", b.data, UP_FRESH, lanes_done, &adds);
		buf_free(&b);
		lanes_sample(&adds);
	}
	upstream_stats(e.up, &st);
	assert_int_equal(st.inflight, 3);
	assert_int_equal(st.inflight_writes, 3);
	assert_int_equal(st.queued, 7);
	assert_int_equal(st.queued_writes, 7);
	/* the write lane is full and queued: a read goes now */
	cs = run_call(&e, "status", 0);
	assert_int_equal(cs.outcome, DEFINITE);
	assert_int_equal(adds.done, 0);
	/* and a burst of slow reads queues in its own lane */
	set_fault("status", "slow:200");
	reads.want = 6;
	for (int i = 0; i < 6; i++) {
		upstream_call(e.up, "status", "order=1", 0, lanes_done, &reads);
		lanes_sample(&reads);
	}
	upstream_stats(e.up, &st);
	assert_int_equal(st.inflight - st.inflight_writes, 2);
	assert_int_equal(st.queued - st.queued_writes, 4);
	while (reads.done < 6 || adds.done < 10)
		event_base_dispatch(e.base);
	set_fault("add", "none");
	set_fault("status", "none");
	print_message("# most in flight: %llu reads (cap 2), %llu writes "
	              "(cap 3)\n",
	              (unsigned long long)(reads.max_reads > adds.max_reads
	                                       ? reads.max_reads
	                                       : adds.max_reads),
	              (unsigned long long)(reads.max_writes > adds.max_writes
	                                       ? reads.max_writes
	                                       : adds.max_writes));
	assert_int_equal(adds.ok, 10);
	assert_int_equal(reads.ok, 6);
	assert_true(adds.max_writes <= 3 && reads.max_writes <= 3);
	assert_true(adds.max_reads <= 2 && reads.max_reads <= 2);
	assert_int_equal(count_calls("add"), 10);
	upstream_stats(e.up, &st);
	assert_int_equal(st.inflight + st.queued, 0);
	env_free(&e);
}

/* A probe that finds its lane full waits at the head of the queue and
 * goes when a slot frees, rather than being failed as "circuit open". */
static void
test_probe_queued(void **state)
{
	struct env e;
	struct call_state slow, cs;
	struct up_stats st;

	env_init(&e, fp.url, 3000, 1);
	upstream_set_breaker(e.up, 1, 100, 100);
	reset_panel();
	set_fault("services", "slow:600");
	memset(&slow, 0, sizeof(slow));
	slow.base = e.base;
	snprintf(slow.action, sizeof(slow.action), "services");
	upstream_call(e.up, "services", NULL, UP_LARGE, call_done, &slow);
	/* a write fails and opens the circuit; the probe finds the read
	 * lane taken by the slow services call */
	set_fault("add", "502");
	cs = run_call(&e, "add", UP_FRESH);
	assert_int_equal(cs.outcome, AMBIGUOUS);
	assert_int_equal(upstream_circuit(e.up), UP_CIRCUIT_OPEN);
	while (!slow.done)
		event_base_dispatch(e.base);
	for (int i = 0; i < 20 && upstream_circuit(e.up) != UP_CIRCUIT_CLOSED;
	     i++) {
		struct timeval tv = {0, 50000};

		event_base_loopexit(e.base, &tv);
		event_base_dispatch(e.base);
	}
	set_fault("services", "none");
	set_fault("add", "none");
	assert_int_equal(upstream_circuit(e.up), UP_CIRCUIT_CLOSED);
	upstream_stats(e.up, &st);
	assert_int_equal(st.by_action[UP_ACT_BALANCE][UP_NOT_SENT], 0);
	assert_int_equal(st.by_action[UP_ACT_BALANCE][UP_REPLIED], 1);
	env_free(&e);
}

/* A loopback port nobody listens on now (for a child to bind). */
static int
free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* A listening loopback socket; its port in *PORT. */
static int
listen_any(int *port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 16), 0);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void
accept_close_cb(evutil_socket_t fd, short kind, void *arg)
{
	int c = accept(fd, NULL, NULL);

	if (c >= 0)
		close(c); /* a reset in the middle of the handshake */
}

/* A handshake that stalls (the server never answers the ClientHello) ends
 * at connect_timeout, not at the call's timeout, and was not sent; one
 * the server breaks off was not sent either. */
static void
test_connect_timeout(void **state)
{
	struct env e;
	struct call_state cs;
	struct event *ev;
	char url[128];
	int port, fd;

	fd = listen_any(&port);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/api/v2", port);
	env_init(&e, url, 20000, 2);
	e.cu.connect_timeout_ms = 300;
	upstream_update(e.up, &e.cu);
	upstream_set_breaker(e.up, 1000, 1000, 1000);
	cs = run_call(&e, "add", UP_FRESH);
	print_message("# stalled handshake: %s after %lld ms (%s)\n",
	              outcome_names[cs.outcome], (long long)cs.latency_ms,
	              cs.reason);
	assert_int_equal(cs.transport, UP_NOT_SENT);
	/* well under the call's 20 s, whatever loading the CA store costs
	 * (seconds under valgrind) */
	assert_true(cs.latency_ms >= 250 && cs.latency_ms < 10000);
	cs = run_call(&e, "status", 0);
	assert_int_equal(cs.transport, UP_NOT_SENT);

	ev = event_new(e.base, fd, EV_READ | EV_PERSIST, accept_close_cb,
	               NULL);
	event_add(ev, NULL);
	cs = run_call(&e, "add", UP_FRESH);
	print_message("# reset handshake: %s (%s)\n",
	              outcome_names[cs.outcome], cs.reason);
	assert_int_equal(cs.transport, UP_NOT_SENT);
	event_free(ev);
	env_free(&e);
	close(fd);
}

/*
 * TLS: nginx in front of the fake panel, a throw-away CA.
 */

struct tls_proc {
	int tried, ok;
	pid_t pid;
	int port, port12; /* TLS 1.3, and 1.2 only */
	char dir[64];
	char ca[128], other_ca[128], log[128];
	char url[128], url12[128];
};

static struct tls_proc tls;

static int
tls_sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static int
tls_write_conf(void)
{
	char path[192];
	FILE *f;

	snprintf(path, sizeof(path), "%s/nginx.conf", tls.dir);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f,
	        "worker_processes 1;\n"
	        "pid nginx.pid;\n"
	        "events { worker_connections 256; }\n"
	        "http {\n"
	        "  log_format tls '$ssl_session_reused $server_protocol "
	        "$request_method';\n"
	        "  client_body_temp_path tmp; proxy_temp_path tmp;\n"
	        "  fastcgi_temp_path tmp; uwsgi_temp_path tmp; "
	        "scgi_temp_path tmp;\n"
	        "  ssl_certificate srv.pem; ssl_certificate_key srv.key;\n"
	        /* nginx 1.22 resumes nothing without it */
	        "  ssl_session_cache shared:tls:1m;\n"
	        "  access_log access.log tls;\n"
	        "  server {\n"
	        "    listen 127.0.0.1:%d ssl http2;\n"
	        "    ssl_protocols TLSv1.2 TLSv1.3;\n"
	        "    location / { proxy_pass http://127.0.0.1:%d; }\n"
	        "  }\n"
	        "  server {\n"
	        "    listen 127.0.0.1:%d ssl http2;\n"
	        "    ssl_protocols TLSv1.2;\n"
	        "    location / { proxy_pass http://127.0.0.1:%d; }\n"
	        "  }\n"
	        "}\n",
	        tls.port, fp.port, tls.port12, fp.port);
	return fclose(f);
}

/* Certificates, then nginx on a free port; 0 when it answers. */
static int
tls_start(void)
{
	char conf[192];

	tls.tried = 1;
	if (tls_sh("command -v nginx >/dev/null && "
	           "command -v openssl >/dev/null") != 0)
		return -1;
	snprintf(tls.dir, sizeof(tls.dir), "/tmp/test_upstream.XXXXXX");
	if (mkdtemp(tls.dir) == NULL)
		return -1;
	if (tls_sh("cd %s && exec >/dev/null 2>&1 && mkdir tmp && "
	           "openssl req -x509 -newkey ec -pkeyopt "
	           "ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=test-ca "
	           "-keyout ca.key -out ca.pem && "
	           "openssl req -x509 -newkey ec -pkeyopt "
	           "ec_paramgen_curve:P-256 -nodes -days 2 "
	           "-subj /CN=other-ca -keyout other.key -out other.pem && "
	           "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	           "-nodes -subj /CN=localhost -keyout srv.key -out srv.csr && "
	           "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' "
	           ">ext.cnf && "
	           "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key "
	           "-CAcreateserial -days 2 -extfile ext.cnf -out srv.pem",
	           tls.dir) != 0) {
		print_message("# openssl could not make the certificates\n");
		return -1;
	}
	snprintf(tls.ca, sizeof(tls.ca), "%s/ca.pem", tls.dir);
	snprintf(tls.other_ca, sizeof(tls.other_ca), "%s/other.pem", tls.dir);
	snprintf(tls.log, sizeof(tls.log), "%s/access.log", tls.dir);
	snprintf(conf, sizeof(conf), "%s/nginx.conf", tls.dir);
	for (int tries = 0; tries < 3; tries++) {
		char elog[192];
		int status;

		tls.port = free_port();
		while ((tls.port12 = free_port()) == tls.port)
			;
		if (tls_write_conf() != 0)
			return -1;
		snprintf(elog, sizeof(elog), "%s/error.log", tls.dir);
		if ((tls.pid = fork()) < 0)
			return -1;
		if (tls.pid == 0) {
			execlp("nginx", "nginx", "-p", tls.dir, "-c", conf, "-e",
			       elog, "-g", "daemon off;", (char *)NULL);
			_exit(127);
		}
		for (int i = 0; i < 50; i++) {
			struct sockaddr_in sa;
			int fd = socket(AF_INET, SOCK_STREAM, 0), rc;

			memset(&sa, 0, sizeof(sa));
			sa.sin_family = AF_INET;
			sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			sa.sin_port = htons((uint16_t)tls.port);
			rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
			close(fd);
			if (rc == 0) {
				snprintf(tls.url, sizeof(tls.url),
				         "https://127.0.0.1:%d/api/v2", tls.port);
				snprintf(tls.url12, sizeof(tls.url12),
				         "https://127.0.0.1:%d/api/v2",
				         tls.port12);
				tls.ok = 1;
				return 0;
			}
			if (waitpid(tls.pid, &status, WNOHANG) == tls.pid)
				break; /* the port was taken meanwhile? */
			usleep(100000);
		}
		kill(tls.pid, SIGTERM);
		waitpid(tls.pid, &status, 0);
		tls.pid = 0;
	}
	return -1;
}

static void
tls_stop(void)
{
	int status;

	if (tls.pid > 0) {
		kill(tls.pid, SIGTERM);
		waitpid(tls.pid, &status, 0);
	}
	if (tls.dir[0] != '\0')
		tls_sh("rm -rf %s", tls.dir);
}

static void
tls_need(void)
{
	if (!tls.tried)
		tls_start();
	if (!tls.ok) {
		print_message("# no nginx/openssl: TLS test skipped\n");
		skip();
	}
}

/* Access log lines so far, and of those with a resumed session. */
static void
tls_log_read(int *lines, int *resumed, char *last_proto, size_t size)
{
	char line[256];
	FILE *f = fopen(tls.log, "r");

	*lines = *resumed = 0;
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char reused[8], proto[32];

		if (sscanf(line, "%7s %31s", reused, proto) != 2)
			continue;
		(*lines)++;
		if (strcmp(reused, "r") == 0)
			(*resumed)++;
		if (last_proto != NULL)
			snprintf(last_proto, size, "%s", proto);
	}
	fclose(f);
}

/* The same once it holds WANT lines (nginx logs a request after its
 * reply went out: the client may read the log first), up to a second. */
static void
tls_log_count(int want, int *lines, int *resumed, char *last_proto,
              size_t size)
{
	for (int i = 0; i < 100; i++) {
		tls_log_read(lines, resumed, last_proto, size);
		if (*lines >= want)
			return;
		usleep(10000);
	}
}

/* An upstream through nginx at URL with CA_FILE (NULL: the system
 * store). */
static void
tls_env_at(struct env *e, const char *url, const char *ca_file, int http2)
{
	env_init(e, url, 3000, 4);
	e->cu.ca_file = (char *)ca_file;
	e->cu.http2 = http2;
	upstream_update(e->up, &e->cu);
	upstream_set_breaker(e->up, 1000, 1000, 1000);
}

static void
tls_env(struct env *e, const char *ca_file, int http2)
{
	tls_env_at(e, tls.url, ca_file, http2);
}

static void
test_tls_ca_file(void **state)
{
	const char *bad[] = {NULL, tls.other_ca};
	struct env e;
	struct call_state cs;
	int adds;

	tls_need();
	reset_panel();
	tls_env(&e, tls.ca, 1);
	cs = run_call(&e, "status", 0);
	assert_int_equal(cs.outcome, DEFINITE);
	cs = run_call(&e, "add", UP_FRESH);
	assert_int_equal(cs.outcome, DEFINITE);
	env_free(&e);
	adds = count_calls("add");
	assert_int_equal(adds, 1);
	/* the system store, and another CA: verification fails, nothing
	 * reaches the panel, and the call says so */
	for (size_t i = 0; i < 2; i++) {
		tls_env(&e, bad[i], 1);
		cs = run_call(&e, "add", UP_FRESH);
		print_message("# ca_file %s: %s (%s)\n",
		              bad[i] != NULL ? "of another CA" : "not set",
		              outcome_names[cs.outcome], cs.reason);
		assert_int_equal(cs.transport, UP_NOT_SENT);
		cs = run_call(&e, "status", 0);
		assert_int_equal(cs.transport, UP_NOT_SENT);
		env_free(&e);
	}
	assert_int_equal(count_calls("add"), adds);
}

/* IN_OPEN events on inotify FD since the last call (read after each
 * open that counts: the kernel merges identical unread events). */
static int
opens_since(int fd)
{
	char buf[4096] __attribute__((aligned(8)));
	ssize_t n;
	int count = 0;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;

			if (ev->mask & IN_OPEN)
				count++;
			p += sizeof(*ev) + ev->len;
		}
	return count;
}

/* Each add has a fresh connection; with the engine's share object all but
 * the first resume the TLS session (nginx's $ssl_session_reused), over
 * TLS 1.3 and 1.2.  And the CA file is read once per engine, not once
 * per connection (inotify's IN_OPEN on it). */
static void
test_tls_resumption(void **state)
{
	struct env e;
	struct call_state cs;
	int lines0, resumed0, lines, resumed, ino, opens;

	tls_need();
	reset_panel();
	ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	assert_true(ino >= 0);
	assert_true(inotify_add_watch(ino, tls.ca, IN_OPEN) >= 0);
	for (int v = 0; v < 2; v++) {
		tls_log_read(&lines0, &resumed0, NULL, 0);
		opens_since(ino);
		opens = 0;
		tls_env_at(&e, v == 0 ? tls.url : tls.url12, tls.ca, 1);
		for (int i = 0; i < 8; i++) {
			cs = run_call(&e, "add", UP_FRESH);
			assert_int_equal(cs.outcome, DEFINITE);
			opens += opens_since(ino);
		}
		env_free(&e);
		tls_log_count(lines0 + 8, &lines, &resumed, NULL, 0);
		print_message("# TLS 1.%d: 8 adds, 8 connections, %d TLS "
		              "sessions resumed, the CA file read %d times\n",
		              v == 0 ? 3 : 2, resumed - resumed0, opens);
		assert_int_equal(lines - lines0, 8);
		assert_int_equal(resumed - resumed0, 7);
		assert_int_equal(opens, 1);
	}
	close(ino);
}

/* http2: reads over HTTP/2 (ALPN) or HTTP/1.1 as the key says; writes
 * over HTTP/1.1 either way. */
static void
test_tls_http2(void **state)
{
	static const struct {
		int http2;
		const char *action;
		const char *want;
	} cases[] = {
	    {1, "status", "HTTP/2.0"},
	    {1, "add", "HTTP/1.1"},
	    {0, "status", "HTTP/1.1"},
	};
	struct env e;
	struct call_state cs;
	char proto[32];
	int lines, resumed;

	tls_need();
	reset_panel();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tls_log_read(&lines, &resumed, NULL, 0);
		tls_env(&e, tls.ca, cases[i].http2);
		cs = run_call(&e, cases[i].action,
		              is_write(cases[i].action) ? UP_FRESH : 0);
		assert_int_equal(cs.outcome, DEFINITE);
		env_free(&e);
		proto[0] = '\0';
		tls_log_count(lines + 1, &lines, &resumed, proto,
		              sizeof(proto));
		if (strcmp(proto, cases[i].want) != 0)
			fail_msg("http2 %d, %s: %s, want %s", cases[i].http2,
			         cases[i].action, proto, cases[i].want);
	}
}

/* The batcher's applies on the daemon's loop (three priorities, the
 * applies' event on the lowest): HOG, a timer of the default priority due
 * at once again after each run, keeps an event ready in every pass, as a
 * loop full of customers would.  (Made active again from its own
 * callback it would run again in the same pass, forever.) */
struct drain_ctx {
	struct event_base *base;
	struct event *hog;
	int applied, answered, groups, open, stop, deadline_hit;
	int64_t hog_passes;
	struct timeval deadline;
};

static void
drain_apply(void *arg, enum batch_action a, int64_t local, const char *id,
            const struct batch_answer *ans)
{
	struct drain_ctx *d = arg;

	assert_int_equal(d->open, 1); /* inside a group */
	d->applied++;
}

static void
drain_group(void *arg, int begin)
{
	struct drain_ctx *d = arg;

	d->open = begin;
	if (!begin)
		d->groups++;
}

static void
drain_answered(const char *id, const struct batch_answer *ans, void *arg)
{
	struct drain_ctx *d = arg;

	if (++d->answered == 100) {
		d->stop = 1;
		event_base_loopbreak(d->base);
	}
}

static void
drain_hog(evutil_socket_t fd, short what, void *arg)
{
	struct drain_ctx *d = arg;
	struct timeval now;

	static const struct timeval zero = {0, 0};

	d->hog_passes++;
	gettimeofday(&now, NULL);
	if (evutil_timercmp(&now, &d->deadline, >)) {
		d->deadline_hit = 1;
		return; /* the loop may go idle now */
	}
	if (!d->stop)
		evtimer_add(d->hog, &zero);
}

static void
drain_run(int hog, int customers)
{
	struct drain_ctx d;
	struct env e;
	struct batcher *b;
	struct timeval limit = {10, 0}, zero = {0, 0};
	char id[16];
	int outstanding;

	reset_panel();
	memset(&d, 0, sizeof(d));
	memset(&e, 0, sizeof(e));
	e.base = d.base = event_base_new();
	assert_int_equal(event_base_priority_init(e.base, 3), 0);
	e.eng = up_engine_new(e.base);
	e.cu.name = (char *)"fake";
	e.cu.url = fp.url;
	e.cu.key = (char *)"upkey";
	e.cu.timeout_ms = 5000;
	e.cu.max_connections = 4;
	e.up = upstream_new(e.eng, &e.cu);
	b = batcher_new(e.base, e.up, 100, 1, drain_apply, &d);
	batcher_set_group(b, drain_group);
	d.hog = evtimer_new(e.base, drain_hog, &d);
	gettimeofday(&d.deadline, NULL);
	evutil_timeradd(&d.deadline, &limit, &d.deadline);
	if (hog)
		evtimer_add(d.hog, &zero);
	if (customers)
		batch_customer_seen();
	for (int i = 1; i <= 100; i++) {
		snprintf(id, sizeof(id), "%d", i);
		batch_ask(b, BATCH_STATUS, id, i, drain_answered, &d);
	}
	while (!d.stop && !d.deadline_hit)
		event_base_loop(e.base, EVLOOP_ONCE);
	/* Freed before asserting: a failure leaves nothing behind. */
	outstanding = batcher_outstanding(b, BATCH_STATUS);
	event_free(d.hog);
	batcher_free(b);
	env_free(&e);
	assert_int_equal(d.applied, 100);
	assert_int_equal(d.answered, 100);
	/* 20 answers a slice at most, each slice one group */
	assert_true(d.groups >= 5);
	if (hog) {
		/* applied while the loop was never idle */
		assert_false(d.deadline_hit);
		assert_true(d.hog_passes > 0);
	}
	assert_int_equal(outstanding, 0);
}

static void
test_drain_idle(void **state)
{
	drain_run(0, 0);
}

static void
test_drain_busy_loop(void **state)
{
	drain_run(1, 0);
}

static void
test_drain_paced(void **state)
{
	drain_run(1, 1);
}

static int
stop_all(void **state)
{
	tls_stop();
	return stop_fakepanel(state);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fault_outcomes),
	    cmocka_unit_test(test_add_never_resent),
	    cmocka_unit_test(test_circuit_breaker),
	    cmocka_unit_test(test_connection_cap),
	    cmocka_unit_test(test_lanes_independent),
	    cmocka_unit_test(test_probe_queued),
	    cmocka_unit_test(test_connect_timeout),
	    cmocka_unit_test(test_tls_ca_file),
	    cmocka_unit_test(test_tls_resumption),
	    cmocka_unit_test(test_tls_http2),
	    cmocka_unit_test(test_drain_idle),
	    cmocka_unit_test(test_drain_busy_loop),
	    cmocka_unit_test(test_drain_paced),
	};
	int rc;

	log_init("test_upstream", LOG_LEVEL_ERROR);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, start_fakepanel, stop_all);
	curl_global_cleanup();
	libevent_global_shutdown();
	return rc;
}
