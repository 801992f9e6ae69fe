/* test_upstream.c - the libcurl-multi engine on a libevent loop against the
 * real fake panel (build/fakepanel, started here on a free loopback port):
 * every fault mode gives the right outcome class, non-idempotent calls are
 * never re-sent by libcurl, the circuit breaker opens and closes, and the
 * connection cap holds. */
#include <sys/types.h>
#include <sys/wait.h>

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fault_outcomes),
	    cmocka_unit_test(test_add_never_resent),
	    cmocka_unit_test(test_circuit_breaker),
	    cmocka_unit_test(test_connection_cap),
	};
	int rc;

	log_init("test_upstream", LOG_LEVEL_ERROR);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, start_fakepanel, stop_fakepanel);
	curl_global_cleanup();
	libevent_global_shutdown();
	return rc;
}
