/* admin_job.h - work the admin API cannot do on the event loop (a match
 * over every catalogue, a name resolution), run on a thread of its own
 * and finished on the loop. */
#ifndef PANELMUX_ADMIN_JOB_H
#define PANELMUX_ADMIN_JOB_H

struct event_base;
struct admin_job;

/* Run WORK(ARG) on a new thread; when it returns, DONE(ARG) runs on BASE's
 * loop (on a fiber of its own, so it may call the store) and the job is
 * freed.  WORK touches nothing the loop does.  NULL
 * if the job could not start (nothing runs). */
struct admin_job *admin_job_start(struct event_base *base,
                                  void (*work)(void *arg),
                                  void (*done)(void *arg), void *arg);
/* Shutting down: wait for J's thread and free J; DONE never runs. */
void admin_job_abandon(struct admin_job *j);

#endif
