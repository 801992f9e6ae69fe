/* panel.h - the running panel: config, store, upstream engine, each
 * upstream's last known services list, the current catalogue, and the
 * periodic services/balance sync on the event loop. */
#ifndef PANELMUX_PANEL_H
#define PANELMUX_PANEL_H

#include <stddef.h>
#include <stdint.h>

#include "dialect.h"
#include "store.h"

struct event;
struct event_base;
struct config;
struct catalog;
struct up_engine;
struct upstream;
struct panel;

struct panel_upstream {
	struct panel *panel;
	size_t idx; /* index into config.upstreams */
	struct upstream *up;
	struct dialect_services list; /* last good services list */
	struct upstream_state state;  /* mirrored into the store */
	struct event *timer;          /* next sync */
	int syncing;
};

/* Called once a sync of one upstream ended; OK is 1 when a fresh list was
 * imported. */
typedef void (*panel_sync_cb)(struct panel *p, size_t idx, int ok,
                              const char *why, void *arg);

struct panel {
	struct event_base *base;
	const struct config *cfg;
	struct store *st;
	struct up_engine *eng;
	struct panel_upstream *ups; /* cfg->nupstreams */
	size_t nups;
	struct catalog *cat; /* the current snapshot (one reference) */
	panel_sync_cb on_sync;
	void *on_sync_arg;
};

/* Build the panel on BASE: one upstream per config entry, the stored lists
 * loaded and the catalogue built from them (so a restart with every
 * upstream down still serves the last known catalogue).  NULL on failure. */
struct panel *panel_new(struct event_base *base, const struct config *cfg,
                        struct store *st);
/* Sync every upstream now and then every sync_interval. */
void panel_start(struct panel *p);
/* Sync upstream IDX now (services, then balance); the panel's on_sync is
 * called when it ends. */
void panel_sync(struct panel *p, size_t idx);
/* End every upstream call (in flight: UP_LOST, queued: UP_NOT_SENT), their
 * callbacks running here; no call can be made after it. */
void panel_stop_engine(struct panel *p);
/* Take a reloaded config (same upstreams, in the same order): upstream
 * settings, sync intervals and the catalogue follow it. */
void panel_reload(struct panel *p, const struct config *cfg);
/* Index of the upstream named NAME, or -1. */
int panel_upstream_index(const struct panel *p, const char *name);
void panel_free(struct panel *p);

#endif
