/* panelmuxd.c - the daemon: config, store, event loop, signals, sd_notify. */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "clock.h"
#include "admin.h"
#include "api.h"
#include "auth.h"
#include "config.h"
#include "fiber.h"
#include "front.h"
#include "log.h"
#include "notify.h"
#include "orders.h"
#include "panel.h"
#include "upstream.h"
#include "ratelimit.h"
#include "store.h"
#include "webhook.h"

struct daemon_state {
	struct event_base *base;
	struct config *cfg;
	struct store *st;
	struct panel *panel;
	struct orders *orders;
	struct webhooks *hooks;
	struct admin *admin;
	struct ratelimit *per_key;
	int ready;
	struct api api;
	struct front *front;
	struct event *ev_term, *ev_int, *ev_hup, *ev_watchdog, *ev_drain;
	int64_t drain_deadline_ms;
	int drain_quiet; /* consecutive ticks with nothing left to do */
};

/* Longest a clean stop waits for upstream calls in flight. */
#define DAEMON_DRAIN_MAX_MS 60000
#define DAEMON_DRAIN_QUIET_TICKS 5 /* of 20 ms */

static void
usage(void)
{
	fprintf(stderr, "usage: panelmuxd -c FILE [--check] [-d]\n");
	exit(2);
}

/* Load FILE, printing every error; NULL on failure. */
static struct config *
daemon_load_config(const char *path)
{
	struct cfg_errors errs = {NULL, 0};
	struct config *cfg = config_load(path, &errs);

	for (size_t i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.msgs[i]);
	cfg_errors_clear(&errs);
	return cfg;
}

/* A config that holds a literal upstream key must not be readable by group
 * or others (SPEC section 3). */
static int
daemon_check_secrets(const struct config *cfg, const char *path)
{
	struct stat sb;
	int literal = 0;

	for (size_t i = 0; i < cfg->nupstreams; i++)
		literal |= cfg->upstreams[i].key_literal;
	if (!literal)
		return 0;
	if (stat(path, &sb) != 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if ((sb.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		fprintf(
		    stderr,
		    "%s: holds a literal upstream key but is readable by group "
		    "or others (mode %04o): chmod 600 it, or use key: "
		    "\"${VAR}\" or key_file\n",
		    path, (unsigned)(sb.st_mode & 07777));
		return -1;
	}
	return 0;
}

/* While draining: exit once no upstream call is in flight and no request
 * waits, or at the deadline. */
static void
daemon_on_drain(evutil_socket_t fd, short what, void *arg)
{
	struct daemon_state *d = arg;
	size_t calls = up_engine_pending(d->panel->eng);

	/* Quiet for a few ticks: the last replies queued are written out
	 * before the loop ends and the connections close. */
	if (calls == 0 && front_pending(d->front) == 0 && fiber_count() == 0)
		d->drain_quiet++;
	else
		d->drain_quiet = 0;
	if (d->drain_quiet >= DAEMON_DRAIN_QUIET_TICKS ||
	    clock_mono_ms() >= d->drain_deadline_ms) {
		if (calls > 0)
			log_warnx("drain: %zu upstream calls still open at the "
			          "deadline",
			          calls);
		event_base_loopexit(d->base, NULL);
	}
}

static void
daemon_on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct daemon_state *d = arg;
	struct timeval tv = {0, 20000};
	int64_t wait = 0;

	if (d->ev_drain != NULL)
		return; /* already draining */
	log_info("signal %d: draining, then shutting down", (int)sig);
	notify_send("STOPPING=1");
	d->ready = 0;
	front_stop_accepting(d->front);
	orders_stop(d->orders);
	panel_stop(d->panel); /* no new syncs or catalogue checks */
	webhooks_drain(d->hooks); /* no new deliveries; those in flight end */
	for (size_t i = 0; i < d->cfg->nupstreams; i++)
		if (d->cfg->upstreams[i].timeout_ms > wait)
			wait = d->cfg->upstreams[i].timeout_ms;
	wait += 1000;
	if (wait > DAEMON_DRAIN_MAX_MS)
		wait = DAEMON_DRAIN_MAX_MS;
	d->drain_deadline_ms = clock_mono_ms() + wait;
	d->ev_drain = event_new(d->base, -1, EV_PERSIST, daemon_on_drain, d);
	if (d->ev_drain == NULL) {
		event_base_loopexit(d->base, NULL);
		return;
	}
	event_add(d->ev_drain, &tv);
}

static void
daemon_apply_limits(struct daemon_state *d)
{
	const struct cfg_rate *r = &d->cfg->rate_per_key;

	ratelimit_set(d->per_key, r->count, r->per_ms, r->count * 2);
}

static void
daemon_on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct daemon_state *d = arg;
	struct config *cfg, *old = d->cfg;
	char why[128];

	notify_send("RELOADING=1");
	cfg = daemon_load_config(old->path);
	if (cfg == NULL || daemon_check_secrets(cfg, old->path) != 0) {
		log_warnx("SIGHUP: %s has errors (above); the running "
		          "configuration stays in force",
		          old->path);
		config_free(cfg);
		notify_send("READY=1");
		return;
	}
	if (config_reload_check(old, cfg, why, sizeof(why)) == -1) {
		log_warnx("SIGHUP: %s: %s, which needs a restart; the running "
		          "configuration stays in force",
		          old->path, why);
		config_free(cfg);
		notify_send("READY=1");
		return;
	}
	/* The daemon's reference moves to the new config; the panel takes
	 * its own.  The old one is freed with its last holder: at once, or
	 * when a fiber holding it ends its store or upstream call. */
	d->cfg = cfg;
	d->api.cfg = cfg;
	log_set_level((enum log_level)cfg->log_level);
	front_set_limits(d->front, cfg);
	daemon_apply_limits(d);
	panel_reload(d->panel, cfg);
	orders_reload(d->orders);
	webhooks_reload(d->hooks);
	log_info("SIGHUP: configuration reloaded from %s", cfg->path);
	config_unref(old);
	notify_send("READY=1");
}

static void
daemon_on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	notify_send("WATCHDOG=1");
}

static void
daemon_free(struct daemon_state *d)
{
	if (d->ev_term != NULL)
		event_free(d->ev_term);
	if (d->ev_int != NULL)
		event_free(d->ev_int);
	if (d->ev_hup != NULL)
		event_free(d->ev_hup);
	if (d->ev_watchdog != NULL)
		event_free(d->ev_watchdog);
	if (d->ev_drain != NULL)
		event_free(d->ev_drain);
	/* Order matters: calls still in flight end first (their answers
	 * reach the batchers and waiting requests), then queued asks, then
	 * the upstreams, and the HTTP side last, so every waiting request
	 * still has its connection to answer on. */
	webhooks_stop(d->hooks);
	orders_stop(d->orders);
	panel_stop_engine(d->panel);
	webhooks_free(d->hooks);
	orders_free(d->orders);
	admin_free(d->admin);
	panel_free(d->panel);
	front_free(d->front);
	ratelimit_free(d->per_key);
	store_close(d->st);
	if (d->base != NULL)
		event_base_free(d->base);
	config_free(d->cfg);
}

/* The loop.  epoll's change list folds the read/write interest flips of a
 * keep-alive request (read off, write on, write off, read on) into at most
 * one epoll_ctl per iteration; its one hazard, descriptors that are dup()s
 * of each other, does not arise here.  The precise timer makes the loop's
 * cached time CLOCK_MONOTONIC in microseconds instead of the coarse clock's
 * 4 ms ticks: the SQLite store tells loop iterations apart by it (its read
 * caches' coherence check, DESIGN.md). */
static struct event_base *
daemon_base_new(void)
{
	struct event_config *ec = event_config_new();
	struct event_base *base;

	if (ec == NULL)
		return NULL;
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	/* Three priorities, so that events get the middle one (libevent's
	 * default, n / 2) and the poller's applies one below every other
	 * event (lib/batch.c): they run when the loop has nothing else. */
	if (base != NULL && event_base_priority_init(base, 3) == -1) {
		event_base_free(base);
		return NULL;
	}
	return base;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check", no_argument, NULL, 'n'},
	    {"debug", no_argument, NULL, 'd'},
	    {NULL, 0, NULL, 0},
	};
	struct daemon_state d;
	const char *path = NULL;
	int ch, check_only = 0, debug = 0, rc = 1;
	uint64_t wd_usec;

	memset(&d, 0, sizeof(d));
	log_init("panelmuxd", LOG_LEVEL_INFO);
	while ((ch = getopt_long(argc, argv, "c:nd", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'n':
			check_only = 1;
			break;
		case 'd':
			debug = 1;
			break;
		default:
			usage();
		}
	}
	if (path == NULL || optind != argc)
		usage();

	if ((d.cfg = daemon_load_config(path)) == NULL)
		return 2;
	if (daemon_check_secrets(d.cfg, path) != 0) {
		config_free(d.cfg);
		return 2;
	}
	if (check_only) {
		printf("%s: configuration OK\n", path);
		config_free(d.cfg);
		return 0;
	}
	log_set_level(debug ? LOG_LEVEL_DEBUG
	                    : (enum log_level)d.cfg->log_level);
	log_route_libevent();
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_warnx("curl_global_init failed");
		config_free(d.cfg);
		return 1;
	}

	if ((d.st = store_open(d.cfg)) == NULL)
		goto out;
	if ((d.base = daemon_base_new()) == NULL) {
		log_warnx("event_base_new failed");
		goto out;
	}
	if ((d.panel = panel_new(d.base, d.cfg, d.st)) == NULL)
		goto out;
	d.api.cfg = d.cfg;
	d.api.st = d.st;
	d.orders = orders_new(d.panel);
	d.hooks = webhooks_new(d.panel);
	d.per_key = ratelimit_new(0, 1000, 0);
	daemon_apply_limits(&d);
	d.api.panel = d.panel;
	d.api.orders = d.orders;
	d.api.per_key = d.per_key;
	if ((d.front = front_new(d.base, d.cfg, &d.api)) == NULL)
		goto out;
	if (d.cfg->listen_admin != NULL) {
		struct admin_sources src = {d.front, d.panel, d.orders,
		                            d.st,    d.hooks, &d.ready};

		if ((d.admin = admin_new(d.base, d.cfg->listen_admin, &src)) ==
		    NULL)
			goto out;
	}

	d.ev_term = evsignal_new(d.base, SIGTERM, daemon_on_stop, &d);
	d.ev_int = evsignal_new(d.base, SIGINT, daemon_on_stop, &d);
	d.ev_hup = evsignal_new(d.base, SIGHUP, daemon_on_hup, &d);
	if (d.ev_term == NULL || d.ev_int == NULL || d.ev_hup == NULL ||
	    evsignal_add(d.ev_term, NULL) != 0 ||
	    evsignal_add(d.ev_int, NULL) != 0 ||
	    evsignal_add(d.ev_hup, NULL) != 0) {
		log_warnx("cannot install signal handlers");
		goto out;
	}
	if ((wd_usec = notify_watchdog_usec()) != 0) {
		struct timeval tv = {(time_t)(wd_usec / 2000000),
		                     (suseconds_t)((wd_usec / 2) % 1000000)};

		d.ev_watchdog =
		    event_new(d.base, -1, EV_PERSIST, daemon_on_watchdog, &d);
		if (d.ev_watchdog != NULL)
			event_add(d.ev_watchdog, &tv);
	}

	log_info("listening on %s (store %s, %zu upstreams, %zu services)",
	         d.cfg->listen_api, d.st->ops->name, d.cfg->nupstreams,
	         d.cfg->nservices);
	panel_start(d.panel);
	orders_start(d.orders);
	/* From here a networked store works on the loop, on fibers. */
	if (store_attach(d.st, d.base) != 0)
		goto out;
	if (d.st->async)
		fiber_setup(d.base);
	d.ready = 1;
	notify_send("READY=1");
	if (event_base_dispatch(d.base) < 0) {
		log_warnx("event loop failed");
		goto out;
	}
	if (store_blocking_calls(d.st) > 0)
		log_warnx("store: %llu calls blocked the event loop (made off "
		          "a fiber)",
		          (unsigned long long)store_blocking_calls(d.st));
	log_info("stopped");
	rc = 0;
out:
	/* No loop runs any more: what remains is called directly. */
	fiber_teardown();
	daemon_free(&d);
	auth_cleanup();
	curl_global_cleanup();
	libevent_global_shutdown();
	return rc;
}
