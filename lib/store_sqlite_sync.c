/* store_sqlite_sync.c - the order group's WAL sync on a thread of its own
 * (DESIGN.md, "Syncs off the loop").
 *
 * A commit with synchronous=FULL writes its WAL frames and then waits in
 * fdatasync on the daemon's only thread: every customer waits with it, and
 * at a few connections most of an add's time was the loop idle in the
 * disk.  Once attached, the order group (the adds and acceptances of a loop
 * pass) commits with synchronous=NORMAL instead: its frames are written and
 * visible, not yet synced.  The caller then asks store_durable for a
 * callback, and this thread fdatasyncs the WAL; the callback runs on the
 * loop once a sync that began after the commit has returned.  Nobody is
 * answered and no add leaves for an upstream before that, so what anyone is
 * told rests on synced frames, as with FULL.  Meanwhile the loop serves
 * others and the next group commits; one sync covers every commit made
 * before it began.
 *
 * A process that dies keeps what was written (the page cache has it); only
 * a power loss can take unsynced frames, and with them only what nobody was
 * told: WAL recovery stops at the last valid commit.  A failed fdatasync
 * leaves nothing that can be promised: the daemon exits before answering
 * anyone, as after a failed COMMIT (store_sqlite.c).
 */
#include <sys/eventfd.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "store_sqlite.h"
#include "xmalloc.h"

struct sqlite_sync_waiter {
	uint64_t seq; /* synced once the thread's count reaches it */
	void (*done)(void *);
	void *arg;
	struct sqlite_sync_waiter *next;
};

struct sqlite_sync {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *path; /* the WAL file */
	int fd;     /* open on the WAL; reopened if the file was replaced */
	int efd;    /* eventfd: the thread's "synced" to the loop */
	struct event *ev;
	/* Under mu: syncs asked for and the last one done; err an errno. */
	uint64_t wanted, synced;
	int err, stop;
	/* The loop's: callbacks in the order they were asked. */
	struct sqlite_sync_waiter *head, **tail;
};

static void (*sqlite_sync_test_hook)(void);

void
store_sqlite_sync_set_test_hook(void (*fn)(void))
{
	sqlite_sync_test_hook = fn;
}

/* fdatasync the WAL, reopening it first if SQLite replaced the file (it
 * does only once every frame is in the database file and that is synced).
 * 0, or an errno. */
static int
sqlite_sync_wal(struct sqlite_sync *c)
{
	struct stat a, b;

	if (c->fd >= 0 && (fstat(c->fd, &a) != 0 || stat(c->path, &b) != 0 ||
	                   a.st_ino != b.st_ino || a.st_dev != b.st_dev)) {
		close(c->fd);
		c->fd = -1;
	}
	if (c->fd < 0 && (c->fd = open(c->path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno;
	if (sqlite_sync_test_hook != NULL)
		sqlite_sync_test_hook();
	return fdatasync(c->fd) != 0 ? errno : 0;
}

static void *
sqlite_sync_main(void *arg)
{
	struct sqlite_sync *c = arg;
	const uint64_t one = 1;
	uint64_t target;
	int err;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (c->synced == c->wanted && !c->stop && c->err == 0)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->err != 0 || (c->stop && c->synced == c->wanted))
			break;
		target = c->wanted; /* every commit before this is written */
		pthread_mutex_unlock(&c->mu);
		err = sqlite_sync_wal(c);
		pthread_mutex_lock(&c->mu);
		if (err != 0)
			c->err = err;
		else if (target > c->synced)
			c->synced = target;
		pthread_cond_broadcast(&c->cv); /* store_sqlite_durable_now */
		/* An eventfd write fails only on a full counter: never. */
		if (write(c->efd, &one, sizeof(one)) < 0 && c->err == 0)
			c->err = errno;
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* Run, in order, the callbacks the syncs up to SYNCED cover; with ERR (a
 * sync failed) exit instead, before anyone is answered. */
static void
sqlite_sync_run(struct sqlite_sync *c, uint64_t synced, int err)
{
	struct sqlite_sync_waiter *w;

	if (err != 0)
		fatalx("store: syncing %s failed (%s): exiting before anyone "
		       "is answered, so that recovery decides",
		       c->path, strerror(err));
	while ((w = c->head) != NULL && w->seq <= synced) {
		if ((c->head = w->next) == NULL)
			c->tail = &c->head;
		w->done(w->arg);
		free(w);
	}
}

static void
sqlite_sync_ready(evutil_socket_t fd, short what, void *arg)
{
	struct sqlite_sync *c = arg;
	uint64_t n, synced;
	int err;

	if (read(c->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		fatal("store: sync notice");
	pthread_mutex_lock(&c->mu);
	synced = c->synced;
	err = c->err;
	pthread_mutex_unlock(&c->mu);
	sqlite_sync_run(c, synced, err);
}

/* Sync S's WAL on a thread from now on, with callbacks on BASE's loop;
 * -1 (the order group stays FULL, logged) if that cannot be had. */
int
store_sqlite_sync_start(struct store_sqlite *s, struct event_base *base)
{
	struct sqlite_sync *c = xcalloc(1, sizeof(*c));
	const char *wal =
	    sqlite3_filename_wal(sqlite3_db_filename(s->db, "main"));

	c->fd = c->efd = -1;
	c->tail = &c->head;
	if (wal == NULL || *wal == '\0')
		goto fail;
	c->path = xstrdup(wal);
	if ((c->fd = open(c->path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    (c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
	    (c->ev = event_new(base, c->efd, EV_READ | EV_PERSIST,
	                       sqlite_sync_ready, c)) == NULL ||
	    event_add(c->ev, NULL) != 0)
		goto fail;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	if (pthread_create(&c->thread, NULL, sqlite_sync_main, c) != 0) {
		pthread_cond_destroy(&c->cv);
		pthread_mutex_destroy(&c->mu);
		goto fail;
	}
	s->sync = c;
	return 0;
fail:
	log_warnx("store: order groups sync on the loop: %s",
	          c->path != NULL ? c->path : "no WAL file name");
	if (c->ev != NULL)
		event_free(c->ev);
	if (c->efd >= 0)
		close(c->efd);
	if (c->fd >= 0)
		close(c->fd);
	free(c->path);
	free(c);
	return -1;
}

/* The store's durable op: DONE(ARG) on the loop once every commit made so
 * far is synced; at once without the thread (every commit is FULL). */
void
store_sqlite_durable(struct store *st, void (*done)(void *), void *arg)
{
	struct sqlite_sync *c = sq(st)->sync;
	struct sqlite_sync_waiter *w;

	if (c == NULL) {
		done(arg);
		return;
	}
	w = xcalloc(1, sizeof(*w));
	w->done = done;
	w->arg = arg;
	pthread_mutex_lock(&c->mu);
	w->seq = ++c->wanted;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	*c->tail = w;
	c->tail = &w->next;
}

/* The store's durable_now op, off the loop (shutting down): wait for the
 * thread's sync of every commit so far, and run every callback waiting. */
void
store_sqlite_durable_now(struct store *st)
{
	struct sqlite_sync *c = sq(st)->sync;
	uint64_t target;
	int err;

	if (c == NULL || c->head == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	target = c->wanted;
	while (c->synced < target && c->err == 0)
		pthread_cond_wait(&c->cv, &c->mu);
	err = c->err;
	pthread_mutex_unlock(&c->mu);
	sqlite_sync_run(c, target, err);
}

/* Stop the thread once it synced every commit asked for; order groups
 * commit FULL again. */
void
store_sqlite_sync_stop(struct store_sqlite *s)
{
	struct sqlite_sync *c = s->sync;
	struct sqlite_sync_waiter *w;
	size_t dropped = 0;

	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = 1;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	/* Whoever asked is gone by now: nothing is called any more. */
	for (; (w = c->head) != NULL; dropped++) {
		c->head = w->next;
		free(w);
	}
	if (dropped > 0)
		log_warnx("store: %zu sync callbacks never ran", dropped);
	event_free(c->ev);
	close(c->efd);
	if (c->fd >= 0)
		close(c->fd);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c->path);
	free(c);
	s->sync = NULL;
}
