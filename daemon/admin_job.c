/* admin_job.c - a thread per job, handing back through a pipe the loop
 * watches (admin_job.h). */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "admin_job.h"
#include "fiber.h"
#include "xmalloc.h"

struct admin_job {
	void (*work)(void *arg);
	void (*done)(void *arg);
	void *arg;
	int fds[2]; /* the thread writes a byte to [1] when done */
	pthread_t thread;
	struct event *ev;
};

static void
admin_job_free(struct admin_job *j)
{
	if (j->ev != NULL)
		event_free(j->ev);
	if (j->fds[0] >= 0)
		close(j->fds[0]);
	if (j->fds[1] >= 0)
		close(j->fds[1]);
	free(j);
}

static void *
admin_job_thread(void *arg)
{
	struct admin_job *j = arg;
	char one = 1;

	j->work(j->arg);
	while (write(j->fds[1], &one, 1) < 0)
		; /* EINTR: the loop must hear of it */
	return NULL;
}

struct admin_job_end {
	void (*done)(void *arg);
	void *arg;
};

/* On a fiber of its own: DONE may call the store, which may park it. */
static void
admin_job_end(void *a, void *b)
{
	struct admin_job_end *e = a;

	e->done(e->arg);
	free(e);
}

/* On the loop: the thread is done. */
static void
admin_job_finished(evutil_socket_t fd, short what, void *arg)
{
	struct admin_job *j = arg;
	struct admin_job_end *e;
	char byte;

	if (read(fd, &byte, 1) != 1)
		return;
	pthread_join(j->thread, NULL);
	e = xmalloc(sizeof(*e));
	e->done = j->done;
	e->arg = j->arg;
	admin_job_free(j);
	fiber_spawn(admin_job_end, e, NULL);
}

struct admin_job *
admin_job_start(struct event_base *base, void (*work)(void *arg),
                void (*done)(void *arg), void *arg)
{
	struct admin_job *j = xcalloc(1, sizeof(*j));

	j->work = work;
	j->done = done;
	j->arg = arg;
	j->fds[0] = j->fds[1] = -1;
	if (pipe(j->fds) != 0 ||
	    (j->ev = event_new(base, j->fds[0], EV_READ | EV_PERSIST,
	                       admin_job_finished, j)) == NULL ||
	    event_add(j->ev, NULL) != 0 ||
	    pthread_create(&j->thread, NULL, admin_job_thread, j) != 0) {
		admin_job_free(j);
		return NULL;
	}
	return j;
}

void
admin_job_abandon(struct admin_job *j)
{
	if (j == NULL)
		return;
	pthread_join(j->thread, NULL);
	admin_job_free(j);
}
