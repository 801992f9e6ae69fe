/* store_sqlite_ckpt.c - the daemon's WAL checkpoints on a thread of their
 * own (DESIGN.md, "Checkpoints off the loop").
 *
 * SQLite checkpoints the WAL from the connection whose commit takes it past
 * 1,000 pages: that commit then copies the pages into the database file
 * and syncs it, on the daemon's only thread, while every client waits.  On
 * a store of millions of orders those pages are scattered over the file and
 * a checkpoint is thousands of writes.  Once attached to the loop the
 * store's connection stops checkpointing; its WAL hook wakes this thread
 * instead, which checkpoints on its own connection in PASSIVE mode: it
 * copies what no reader still needs and never holds the writer back.  The
 * writer restarts the WAL from its start once a checkpoint copied all of
 * it.  Durability does not depend on checkpoints: a commit is durable once
 * its WAL frames are synced.
 */
#include <pthread.h>
#include <stdlib.h>

#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "store_sqlite.h"
#include "xmalloc.h"

#define SQLITE_CKPT_PAGES 1000 /* SQLite's own automatic threshold */

struct sqlite_ckpt {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	sqlite3 *db; /* the thread's own connection */
	int due, stop;
};

/* After each commit of the store's connection (the loop's thread). */
static int
sqlite_ckpt_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct sqlite_ckpt *c = arg;

	if (pages < SQLITE_CKPT_PAGES)
		return SQLITE_OK;
	pthread_mutex_lock(&c->mu);
	if (!c->due) {
		c->due = 1;
		pthread_cond_signal(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	return SQLITE_OK;
}

static void *
sqlite_ckpt_main(void *arg)
{
	struct sqlite_ckpt *c = arg;
	int rc, logged = 0;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->due && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->stop)
			break;
		c->due = 0;
		pthread_mutex_unlock(&c->mu);
		rc = sqlite3_wal_checkpoint_v2(
		    c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		if (rc != SQLITE_OK && rc != SQLITE_BUSY && !logged) {
			log_warnx("store: checkpoint: %s",
			          sqlite3_errmsg(c->db));
			logged = 1;
		}
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* Checkpoint S's WAL on a thread from now on; -1 (S checkpoints as
 * before) if the thread or its connection cannot be had. */
int
store_sqlite_ckpt_start(struct store_sqlite *s)
{
	struct sqlite_ckpt *c = xcalloc(1, sizeof(*c));
	const char *path = sqlite3_db_filename(s->db, "main");

	if (path == NULL || *path == '\0' ||
	    sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE, NULL) !=
	        SQLITE_OK) {
		log_warnx("store: checkpoints stay on the loop: cannot open %s",
		          path != NULL ? path : "the store");
		sqlite3_close(c->db);
		free(c);
		return -1;
	}
	sqlite3_busy_timeout(c->db, 1000);
	/* A connection finds the WAL when it first reads the file. */
	if (sqlite3_exec(c->db, "SELECT count(*) FROM sqlite_master", NULL,
	                 NULL, NULL) != SQLITE_OK) {
		log_warnx("store: checkpoints stay on the loop: %s",
		          sqlite3_errmsg(c->db));
		sqlite3_close(c->db);
		free(c);
		return -1;
	}
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	if (pthread_create(&c->thread, NULL, sqlite_ckpt_main, c) != 0) {
		log_warnx("store: checkpoints stay on the loop: no thread");
		pthread_cond_destroy(&c->cv);
		pthread_mutex_destroy(&c->mu);
		sqlite3_close(c->db);
		free(c);
		return -1;
	}
	/* Replaces the automatic checkpoints (a WAL hook of their own). */
	sqlite3_wal_hook(s->db, sqlite_ckpt_hook, c);
	s->ckpt = c;
	return 0;
}

/* Stop the thread; S checkpoints by itself again (and on close). */
void
store_sqlite_ckpt_stop(struct store_sqlite *s)
{
	struct sqlite_ckpt *c = s->ckpt;

	if (c == NULL)
		return;
	sqlite3_wal_autocheckpoint(s->db, SQLITE_CKPT_PAGES);
	pthread_mutex_lock(&c->mu);
	c->stop = 1;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	sqlite3_close(c->db);
	free(c);
	s->ckpt = NULL;
}
