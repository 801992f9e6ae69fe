/* panel.h - the running panel: config, store, upstream engine, each
 * upstream's last known services list, the current catalogue, and the
 * periodic services/balance sync on the event loop.
 *
 * Every catalogue save (a sync here, `panelmux services sync`, another
 * instance on the same PostgreSQL database) moves the upstream's
 * catalogue generation in the store.  A running daemon reads the
 * generations every PANEL_CATALOG_CHECK_MS and, when one moved past what it
 * holds, reloads that list from the store and rebuilds its catalogue: a
 * sync made anywhere is served everywhere within a second or so. */
#ifndef PANELMUX_PANEL_H
#define PANELMUX_PANEL_H

#include <stddef.h>
#include <stdint.h>

#include "dialect.h"
#include "route.h"
#include "prices.h"
#include "store.h"

struct event;
struct event_base;
struct config;
struct catalog;
struct up_engine;
struct upstream;
struct panel;

/* How often a daemon looks for catalogue saves made by other processes:
 * one indexed read per upstream. */
#define PANEL_CATALOG_CHECK_MS 1000

struct panel_upstream {
	struct panel *panel;
	size_t idx; /* index into config.upstreams */
	struct upstream *up;
	struct dialect_services list; /* last good services list */
	uint64_t list_seq;            /* moves whenever list is replaced */
	int64_t gen;                  /* the store's catalogue generation that
	                               * list is (store_catalog_generation) */
	struct upstream_state state;  /* mirrored into the store */
	struct event *timer;          /* next sync */
	int64_t sync_started_ms;      /* monotonic: the timer's last sync */
	int syncing;
	/* Routing (route.h): this instance's view of the upstream's recent
	 * adds and of its balance, read with each sync, every
	 * balance_interval, and after an add refused for want of funds. */
	struct route_health health;
	struct route_balance bal;
	struct event *balance_timer;
	int balance_reading;
	int force; /* apply the next services reply even if the bad-sync
	            * guard would refuse it (panel_sync_force) */
	/* Since start (metrics): price-change rows recorded, by kind
	 * (prices.h), and services replies the guard refused. */
	uint64_t changes[PRICE_NKINDS];
	uint64_t refused;
};

/* Called once a sync of one upstream ended; OK is 1 when a fresh list was
 * imported. */
typedef void (*panel_sync_cb)(struct panel *p, size_t idx, int ok,
                              const char *why, void *arg);

struct panel {
	struct event_base *base;
	/* The current config (one reference): read it here at call time.  A
	 * fiber that keeps using it across a store or upstream call takes a
	 * reference of its own (config_ref). */
	const struct config *cfg;
	struct store *st;
	struct up_engine *eng;
	struct panel_upstream *ups; /* cfg->nupstreams */
	size_t nups;
	struct catalog *cat; /* the current snapshot (one reference) */
	/* customers' own rates: the current snapshot (one reference),
	 * reloaded when the store's pricing generation moves */
	struct pricing *pricing;
	size_t clamped_overrides, clamped_groups; /* the floor raises them */
	panel_sync_cb on_sync;
	void *on_sync_arg;
	struct event *check; /* catalogue generations, once started */
	int checking;        /* a check runs (it may park on a fiber) */
	int stopped;
};

/* Load the customers' rates again if the store's pricing generation
 * moved (a write here, by the CLI or by another instance); FORCE: load
 * them whatever it says.  May park the calling fiber. */
void panel_pricing_check(struct panel *p, int force);

/* Build the panel on BASE: one upstream per config entry, the stored lists
 * loaded and the catalogue built from them (so a restart with every
 * upstream down still serves the last known catalogue).  The panel holds a
 * reference to CFG.  NULL on failure. */
struct panel *panel_new(struct event_base *base, const struct config *cfg,
                        struct store *st);
/* Sync every upstream now and then every sync_interval; look for
 * catalogue saves by other processes every PANEL_CATALOG_CHECK_MS. */
void panel_start(struct panel *p);
/* No more syncs or checks (a clean stop). */
void panel_stop(struct panel *p);
/* Sync upstream IDX now (services, then balance); the panel's on_sync is
 * called when it ends. */
void panel_sync(struct panel *p, size_t idx);
/* Read upstream IDX's balance now (unless a read is under way): the
 * balance estimate starts again from it. */
void panel_balance_read(struct panel *p, size_t idx);
/* The same, applying the services reply even when it drops more than
 * the upstream's max_drop of its stored services (the guard's override:
 * `panelmux services sync --force`). */
void panel_sync_force(struct panel *p, size_t idx);
/* End every upstream call (in flight: UP_LOST, queued: UP_NOT_SENT), their
 * callbacks running here; no call can be made after it. */
void panel_stop_engine(struct panel *p);
/* Take a reloaded config (same upstreams, in the same order): upstream
 * settings, sync intervals and the catalogue follow it.  A changed
 * sync_interval applies to the sync in wait too: it comes the new interval
 * after the last one, at once if that time has passed.  The panel takes a
 * reference to CFG and drops its reference to the old config. */
void panel_reload(struct panel *p, const struct config *cfg);
/* Index of the upstream named NAME, or -1. */
int panel_upstream_index(const struct panel *p, const char *name);
void panel_free(struct panel *p);

#endif
