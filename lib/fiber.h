/* fiber.h - cooperative fibers on the daemon's loop, for a store that waits
 * on a network (PostgreSQL).
 *
 * With fibers on, the daemon runs each callback that may reach the store on
 * its own fiber (its own stack).  A store call then sends its query and
 * parks the fiber; the loop goes on serving everything else, and the
 * connection's socket event resumes the fiber where it stopped.  Code reads
 * as straight-line calls, and the loop never waits on the database.  With
 * the embedded store (SQLite, a local file) fibers stay off and fiber_spawn
 * is a plain call.
 *
 * Only the loop's own stack resumes fibers; a fiber never switches to
 * another directly (fiber_wake from a fiber queues the wake-up).  One loop
 * per process.
 */
#ifndef PANELMUX_FIBER_H
#define PANELMUX_FIBER_H

#include <stddef.h>

struct event_base;
struct fiber;

typedef void (*fiber_fn)(void *a, void *b);

/* Turn fibers on for BASE's loop. */
void fiber_setup(struct event_base *base);
/* Park nothing any more; free the stack cache (fibers must have ended). */
void fiber_teardown(void);

/* Run FN(A, B) on a new fiber if fibers are on and the caller is on the
 * loop's stack; it returns when FN ends or first parks.  Otherwise FN is
 * simply called. */
void fiber_spawn(fiber_fn fn, void *a, void *b);

/* The running fiber, or NULL on the loop's stack or with fibers off. */
struct fiber *fiber_self(void);
/* Switch back to the loop until someone fiber_wakes this fiber. */
void fiber_park(void);
/* Make F run again: at once from the loop's stack, else from the loop's
 * next pass. */
void fiber_wake(struct fiber *f);

/* Fibers started and not ended (parked ones included). */
size_t fiber_count(void);

#endif
