/* fiber.c - cooperative fibers on the loop (see fiber.h): stacks with a
 * guard page, a small stack cache, and the AddressSanitizer and valgrind
 * annotations that let both follow stack switches.
 *
 * A stack is entered once through ucontext (makecontext gives it its
 * entry); from then on every switch is _setjmp/_longjmp, which keep the
 * signal mask alone.  swapcontext saves and restores the mask with a
 * system call each way, and a fiber switches two to four times per
 * request: on this machine's virtualised kernel that was a sixth of the
 * daemon's CPU serving balance on PostgreSQL.  A stack whose function has
 * ended stays inside fiber_entry's loop, parked, so a cached stack runs its
 * next function without being made again.
 *
 * _FORTIFY_SOURCE turns longjmp into a check that refuses a jump to a
 * lower stack pointer unless it is on the signal stack, which is what a
 * switch from the loop's stack to a fiber's is: off for this file. */
#undef _FORTIFY_SOURCE
#include <sys/mman.h>
#include <sys/queue.h>

#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include <event2/event.h>
#include <valgrind/valgrind.h>

#include "fiber.h"
#include "log.h"
#include "xmalloc.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define FIBER_ASAN 1
#else
#define FIBER_ASAN 0
#endif

/* Big enough for the deepest store path (a group of 256 adds is built on
 * the stack) with room for libcurl and printf; untouched pages cost no
 * memory. */
#define FIBER_STACK (512 * 1024)
#define FIBER_CACHE 64 /* stacks kept for reuse */

struct fiber {
	jmp_buf jb;  /* where this fiber parked */
	int started; /* its stack is inside fiber_entry */
	char *map;   /* guard page + stack */
	size_t maplen;
	unsigned vg_id;
	fiber_fn fn;
	void *a, *b;
	int done;
	int queued;
	void *asan_fake;
	TAILQ_ENTRY(fiber) entry;
};
TAILQ_HEAD(fiber_list, fiber);

static struct {
	struct event_base *base;
	struct event *runq_ev;
	struct fiber_list runq;
	struct fiber *cur;
	jmp_buf loop_jb;     /* where the loop's stack switched to a fiber */
	ucontext_t entry_uc; /* a new stack's entry, used once */
	const void *loop_bottom; /* AddressSanitizer's view of the loop stack */
	size_t loop_size;
	struct fiber *cache[FIBER_CACHE];
	size_t ncache;
	size_t live;
	long page;
} fib;

static char *
fiber_stack_base(struct fiber *f)
{
	return f->map + fib.page;
}

static struct fiber *
fiber_alloc(void)
{
	struct fiber *f;

	if (fib.ncache > 0) {
		f = fib.cache[--fib.ncache];
#if FIBER_ASAN
		ASAN_UNPOISON_MEMORY_REGION(fiber_stack_base(f), FIBER_STACK);
#endif
		return f;
	}
	f = xcalloc(1, sizeof(*f));
	f->maplen = FIBER_STACK + (size_t)fib.page;
	f->map = mmap(NULL, f->maplen, PROT_READ | PROT_WRITE,
	              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (f->map == MAP_FAILED)
		fatal("fiber: mmap of a %d KiB stack", FIBER_STACK / 1024);
	/* The stack grows down onto this page: an overflow faults. */
	if (mprotect(f->map, (size_t)fib.page, PROT_NONE) != 0)
		fatal("fiber: mprotect");
	f->vg_id = VALGRIND_STACK_REGISTER(fiber_stack_base(f),
	                                   fiber_stack_base(f) + FIBER_STACK);
	return f;
}

static void
fiber_release(struct fiber *f)
{
	if (fib.ncache < FIBER_CACHE) {
		fib.cache[fib.ncache++] = f;
		return;
	}
	VALGRIND_STACK_DEREGISTER(f->vg_id);
	munmap(f->map, f->maplen);
	free(f);
}

/* Back to the loop's stack from F's; returns when F is resumed. */
static void
fiber_to_loop(struct fiber *f)
{
	if (_setjmp(f->jb) == 0)
		_longjmp(fib.loop_jb, 1);
}

/* The first entry of a stack, from fiber_resume's setcontext: run each
 * function given to this stack in turn, parked between them. */
static void
fiber_entry(void)
{
	struct fiber *f = fib.cur;

	for (;;) {
#if FIBER_ASAN
		__sanitizer_finish_switch_fiber(NULL, &fib.loop_bottom,
		                                &fib.loop_size);
#endif
		f->fn(f->a, f->b);
		f->done = 1;
#if FIBER_ASAN
		/* NULL: this function is finished, its fake frames can go. */
		__sanitizer_start_switch_fiber(NULL, fib.loop_bottom,
		                               fib.loop_size);
#endif
		fiber_to_loop(f);
	}
}

/* A new stack's first context, for fiber_resume to enter (once per
 * stack; getcontext returns twice, so it is kept in a function of its
 * own). */
static __attribute__((noinline)) void
fiber_prepare(struct fiber *f)
{
	if (getcontext(&fib.entry_uc) != 0)
		fatal("fiber: getcontext");
	fib.entry_uc.uc_stack.ss_sp = fiber_stack_base(f);
	fib.entry_uc.uc_stack.ss_size = FIBER_STACK;
	fib.entry_uc.uc_link = NULL;
	makecontext(&fib.entry_uc, fiber_entry, 0);
}

/* From the loop's stack: run F until it parks or ends. */
static void
fiber_resume(struct fiber *f)
{
	void *fake = NULL;

	if (fib.cur != NULL)
		fatalx("fiber: resume from a fiber");
	fib.cur = f;
#if FIBER_ASAN
	__sanitizer_start_switch_fiber(&fake, fiber_stack_base(f), FIBER_STACK);
#endif
	if (_setjmp(fib.loop_jb) == 0) {
		if (f->started)
			_longjmp(f->jb, 1);
		f->started = 1;
		fiber_prepare(f);
		setcontext(&fib.entry_uc);
		fatal("fiber: setcontext");
	}
#if FIBER_ASAN
	__sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
	(void)fake;
	fib.cur = NULL;
	if (f->done) {
		fib.live--;
		fiber_release(f);
	}
}

static void
fiber_runq_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fiber *f;

	while ((f = TAILQ_FIRST(&fib.runq)) != NULL) {
		TAILQ_REMOVE(&fib.runq, f, entry);
		f->queued = 0;
		fiber_resume(f);
	}
}

void
fiber_setup(struct event_base *base)
{
	fib.base = base;
	fib.page = sysconf(_SC_PAGESIZE);
	TAILQ_INIT(&fib.runq);
	fib.runq_ev = event_new(base, -1, 0, fiber_runq_cb, NULL);
	if (fib.runq_ev == NULL)
		fatalx("fiber: out of memory for an event");
}

void
fiber_teardown(void)
{
	if (fib.base == NULL)
		return;
	if (fib.live != 0)
		log_warnx("fiber: %zu fibers still parked at exit", fib.live);
	while (fib.ncache > 0) {
		struct fiber *f = fib.cache[--fib.ncache];

		VALGRIND_STACK_DEREGISTER(f->vg_id);
		munmap(f->map, f->maplen);
		free(f);
	}
	event_free(fib.runq_ev);
	fib.runq_ev = NULL;
	fib.base = NULL;
}

void
fiber_spawn(fiber_fn fn, void *a, void *b)
{
	struct fiber *f;

	if (fib.base == NULL || fib.cur != NULL) {
		fn(a, b);
		return;
	}
	f = fiber_alloc();
	f->fn = fn;
	f->a = a;
	f->b = b;
	f->done = 0;
	f->queued = 0;
	fib.live++;
	fiber_resume(f);
}

struct fiber *
fiber_self(void)
{
	return fib.cur;
}

void
fiber_park(void)
{
	struct fiber *f = fib.cur;

	if (f == NULL)
		fatalx("fiber: park off a fiber");
#if FIBER_ASAN
	__sanitizer_start_switch_fiber(&f->asan_fake, fib.loop_bottom,
	                               fib.loop_size);
#endif
	fiber_to_loop(f);
#if FIBER_ASAN
	__sanitizer_finish_switch_fiber(f->asan_fake, &fib.loop_bottom,
	                                &fib.loop_size);
#endif
}

void
fiber_wake(struct fiber *f)
{
	if (fib.cur == NULL) {
		fiber_resume(f);
		return;
	}
	if (f->queued)
		return;
	f->queued = 1;
	TAILQ_INSERT_TAIL(&fib.runq, f, entry);
	event_active(fib.runq_ev, 0, 0);
}

size_t
fiber_count(void)
{
	return fib.live;
}
