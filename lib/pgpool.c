/* pgpool.c - PostgreSQL connections for the store: synchronous until
 * attached, then libpq's asynchronous API on fibers (see pgpool.h). */
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "clock.h"
#include "fiber.h"
#include "log.h"
#include "pgpool.h"
#include "xmalloc.h"

/* A query or connection attempt taking longer than this is given up: the
 * connection is closed and the call fails (its transaction, if any, is rolled
 * back by the server). */
#define PGPOOL_TIMEOUT_S 30
#define PGPOOL_LOG_EVERY_MS 5000
/* Statements prepared per connection: the store's statements are a fixed
 * set of texts, well under this; past it, statements run unprepared. */
#define PGPOOL_PREPARED 192

struct pgwaiter {
	struct fiber *f;
	struct pgconn *got;
	TAILQ_ENTRY(pgwaiter) entry;
};

/* A statement prepared on a connection as "pN", N its slot. */
struct pgstmt {
	uint64_t hash;
	char *sql;
};

struct pgconn {
	PGconn *pg;
	struct pgstmt *stmts; /* PGPOOL_PREPARED slots, filled in order */
	int nstmts;
	struct pgpool *pool;
	struct event *ev;
	struct fiber *waiter;
	short what; /* the event that woke the waiter */
	int busy;   /* handed out */
	int broken; /* a query was lost on it: closed when put back */
	int begin;  /* BEGIN goes with the next statement (pgpool_begin) */
};

struct pgpool {
	char *conninfo;
	int size;
	struct pgconn *conns; /* SIZE slots; pg == NULL: not open */
	TAILQ_HEAD(, pgwaiter) waiters;
	struct event_base *base;
	uint64_t blocking;
	int64_t logged_ms;
};

static void
pgpool_complain(struct pgpool *p, const char *what, PGconn *pg)
{
	int64_t now = clock_mono_ms();
	const char *msg = pg != NULL ? PQerrorMessage(pg) : "out of memory";
	size_t n = strlen(msg);

	if (p->logged_ms != 0 && now - p->logged_ms < PGPOOL_LOG_EVERY_MS)
		return;
	p->logged_ms = now;
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		n--;
	log_warnx("store: postgres: %s: %.*s", what, (int)n, msg);
}

struct pgpool *
pgpool_new(const char *conninfo, int size)
{
	struct pgpool *p;
	PQconninfoOption *opts;
	char *err = NULL;

	if ((opts = PQconninfoParse(conninfo, &err)) == NULL) {
		log_warnx("store: postgres: bad connection string: %s",
		          err != NULL ? err : "out of memory");
		PQfreemem(err);
		return NULL;
	}
	PQconninfoFree(opts);
	p = xcalloc(1, sizeof(*p));
	p->conninfo = xstrdup(conninfo);
	p->size = size > 0 ? size : 1;
	p->conns = xcalloc((size_t)p->size, sizeof(*p->conns));
	for (int i = 0; i < p->size; i++)
		p->conns[i].pool = p;
	TAILQ_INIT(&p->waiters);
	return p;
}

static void
pgpool_close(struct pgconn *pc)
{
	if (pc->ev != NULL) {
		event_free(pc->ev);
		pc->ev = NULL;
	}
	PQfinish(pc->pg);
	pc->pg = NULL;
	pc->broken = 0;
	/* Prepared statements die with their session. */
	for (int i = 0; i < pc->nstmts; i++)
		free(pc->stmts[i].sql);
	free(pc->stmts);
	pc->stmts = NULL;
	pc->nstmts = 0;
}

void
pgpool_free(struct pgpool *p)
{
	if (p == NULL)
		return;
	for (int i = 0; i < p->size; i++)
		pgpool_close(&p->conns[i]);
	free(p->conns);
	free(p->conninfo);
	free(p);
}

int
pgpool_attach(struct pgpool *p, struct event_base *base)
{
	p->base = base;
	return 0;
}

static int
pgpool_async(const struct pgpool *p)
{
	return p->base != NULL && fiber_self() != NULL;
}

static void
pgpool_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pgconn *pc = arg;
	struct fiber *f = pc->waiter;

	pc->what = what;
	pc->waiter = NULL;
	if (f != NULL)
		fiber_wake(f);
}

/* Park the calling fiber until PC's socket is ready for WHAT; -1 on the
 * timeout or when the socket is gone. */
static int
pgpool_wait(struct pgconn *pc, short what)
{
	struct timeval tv = {PGPOOL_TIMEOUT_S, 0};
	int fd = PQsocket(pc->pg);

	if (fd < 0)
		return -1;
	if (pc->ev != NULL)
		event_free(pc->ev);
	pc->ev = event_new(pc->pool->base, fd, what, pgpool_io_cb, pc);
	if (pc->ev == NULL || event_add(pc->ev, &tv) != 0)
		return -1;
	pc->waiter = fiber_self();
	pc->what = 0;
	fiber_park();
	return (pc->what & what) != 0 ? 0 : -1;
}

/* Open PC's connection: blocking off a fiber, polled on one. */
static int
pgpool_connect(struct pgpool *p, struct pgconn *pc)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	if (!pgpool_async(p)) {
		if (p->base != NULL)
			p->blocking++;
		pc->pg = PQconnectdb(p->conninfo);
		if (PQstatus(pc->pg) != CONNECTION_OK) {
			pgpool_complain(p, "connect", pc->pg);
			pgpool_close(pc);
			return -1;
		}
		return 0;
	}
	pc->pg = PQconnectStart(p->conninfo);
	if (pc->pg == NULL || PQstatus(pc->pg) == CONNECTION_BAD) {
		pgpool_complain(p, "connect", pc->pg);
		pgpool_close(pc);
		return -1;
	}
	for (;;) {
		if (st == PGRES_POLLING_OK)
			break;
		if (st == PGRES_POLLING_FAILED ||
		    pgpool_wait(pc, st == PGRES_POLLING_READING
		                        ? EV_READ
		                        : EV_WRITE) != 0) {
			pgpool_complain(p, "connect", pc->pg);
			pgpool_close(pc);
			return -1;
		}
		st = PQconnectPoll(pc->pg);
	}
	if (PQsetnonblocking(pc->pg, 1) != 0) {
		pgpool_complain(p, "connect", pc->pg);
		pgpool_close(pc);
		return -1;
	}
	return 0;
}

static struct pgconn *
pgpool_slot(struct pgpool *p, PGconn *pg)
{
	for (int i = 0; i < p->size; i++)
		if (p->conns[i].pg == pg && p->conns[i].busy)
			return &p->conns[i];
	return NULL;
}

PGconn *
pgpool_get(struct pgpool *p)
{
	struct pgconn *pc = NULL;

	/* An idle connection first, then a closed slot to open. */
	for (int i = 0; i < p->size && pc == NULL; i++)
		if (!p->conns[i].busy && p->conns[i].pg != NULL)
			pc = &p->conns[i];
	for (int i = 0; i < p->size && pc == NULL; i++)
		if (!p->conns[i].busy)
			pc = &p->conns[i];
	if (pc == NULL) {
		struct pgwaiter w = {0};

		if (!pgpool_async(p)) {
			log_warnx("store: postgres: every connection is busy");
			return NULL;
		}
		/* All busy: wait for pgpool_put to hand one over. */
		w.f = fiber_self();
		TAILQ_INSERT_TAIL(&p->waiters, &w, entry);
		fiber_park();
		pc = w.got;
		if (pc == NULL)
			return NULL;
	}
	pc->busy = 1;
	/* A server restart leaves idle connections dead: reading what is
	 * there (never blocking) tells. */
	if (pc->pg != NULL &&
	    (!PQconsumeInput(pc->pg) || PQstatus(pc->pg) != CONNECTION_OK))
		pgpool_close(pc);
	if (pc->pg == NULL && pgpool_connect(p, pc) != 0) {
		pc->busy = 0;
		return NULL;
	}
	return pc->pg;
}

void
pgpool_put(struct pgpool *p, PGconn *pg)
{
	struct pgconn *pc;
	struct pgwaiter *w;

	if (pg == NULL || (pc = pgpool_slot(p, pg)) == NULL)
		return;
	pc->begin = 0;
	if (pc->broken || PQstatus(pg) != CONNECTION_OK ||
	    PQtransactionStatus(pg) != PQTRANS_IDLE)
		pgpool_close(pc);
	pc->busy = 0;
	if ((w = TAILQ_FIRST(&p->waiters)) != NULL) {
		TAILQ_REMOVE(&p->waiters, w, entry);
		w->got = pc;
		pc->busy = 1; /* reserved for W */
		fiber_wake(w->f);
	}
}

/* Flush what was sent on PC and collect the command's last result; NULL
 * and PC marked broken when the connection was lost. */
static PGresult *
pgpool_result(struct pgpool *p, struct pgconn *pc)
{
	PGconn *pg = pc->pg;
	PGresult *last = NULL, *res;
	int r;

	while ((r = PQflush(pg)) == 1)
		if (pgpool_wait(pc, EV_WRITE) != 0)
			goto lost;
	if (r != 0)
		goto lost;
	for (;;) {
		while (PQisBusy(pg)) {
			if (pgpool_wait(pc, EV_READ) != 0 ||
			    !PQconsumeInput(pg))
				goto lost;
		}
		if ((res = PQgetResult(pg)) == NULL)
			break;
		PQclear(last);
		last = res;
	}
	return last;
lost:
	/* The connection is unusable now: pgpool_put closes it. */
	PQclear(last);
	pgpool_complain(p, "query", pg);
	pc->broken = 1;
	return NULL;
}

static uint64_t
pgpool_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL; /* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* The slot SQL is prepared in on PC, preparing it first if there is room;
 * -1 to run it unprepared.  A statement is parsed and planned once per
 * connection instead of once per call: the server's CPU per add and per
 * balance is mostly that (DESIGN.md, "PostgreSQL at speed"). */
static int
pgpool_prepared(struct pgpool *p, struct pgconn *pc, const char *sql, int n)
{
	uint64_t h = pgpool_hash(sql);
	char name[16];
	PGresult *res;
	int i, ok;

	for (i = 0; i < pc->nstmts; i++)
		if (pc->stmts[i].hash == h && strcmp(pc->stmts[i].sql, sql) == 0)
			return i;
	if (pc->nstmts >= PGPOOL_PREPARED)
		return -1;
	snprintf(name, sizeof(name), "p%d", i);
	if (!PQsendPrepare(pc->pg, name, sql, n, NULL) ||
	    (res = pgpool_result(p, pc)) == NULL)
		return -1;
	/* Refused (a transaction already failed, a bad statement): run it
	 * unprepared, which reports the error as it stands. */
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	if (!ok)
		return -1;
	if (pc->stmts == NULL)
		pc->stmts = xcalloc(PGPOOL_PREPARED, sizeof(*pc->stmts));
	pc->stmts[i].hash = h;
	pc->stmts[i].sql = xstrdup(sql);
	pc->nstmts++;
	return i;
}

PGresult *
pgpool_exec(struct pgpool *p, PGconn *pg, const char *sql, int n,
            const char *const *params)
{
	struct pgconn *pc;
	char name[16];
	int i;

	if ((pc = pgpool_slot(p, pg)) != NULL && pc->broken)
		return NULL;
	if (!pgpool_async(p) || pc == NULL) {
		if (p->base != NULL)
			p->blocking++;
		return PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
	}
	if (pc->begin) {
		struct pgpool_call call = {sql, n, params};
		PGresult *res = NULL;

		pgpool_pipeline(p, pg, 1, &call, &res);
		return res;
	}
	i = pgpool_prepared(p, pc, sql, n);
	if (pc->broken)
		return NULL;
	if (i >= 0) {
		snprintf(name, sizeof(name), "p%d", i);
		if (!PQsendQueryPrepared(pg, name, n, params, NULL, NULL, 0))
			return NULL;
	} else if (!PQsendQueryParams(pg, sql, n, NULL, params, NULL, NULL,
	                              0))
		return NULL;
	return pgpool_result(p, pc);
}

/* The results of a pipeline's N statements, then its sync point: 0, or
 * -1 when the connection was lost (PC marked broken). */
static int
pgpool_pipeline_results(struct pgpool *p, struct pgconn *pc, size_t n,
                        PGresult **res)
{
	PGconn *pg = pc->pg;
	PGresult *r;
	size_t i = 0;
	int st;

	while ((st = PQflush(pg)) == 1)
		if (pgpool_wait(pc, EV_WRITE) != 0)
			goto lost;
	if (st != 0)
		goto lost;
	for (;;) {
		while (PQisBusy(pg))
			if (pgpool_wait(pc, EV_READ) != 0 || !PQconsumeInput(pg))
				goto lost;
		if ((r = PQgetResult(pg)) == NULL)
			continue; /* the end of one statement's results */
		if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			return i == n ? 0 : -1;
		}
		if (i < n)
			res[i++] = r;
		else
			PQclear(r);
	}
lost:
	pgpool_complain(p, "pipeline", pg);
	pc->broken = 1;
	return -1;
}

static int
pgpool_pipeline_send(struct pgpool *p, PGconn *pg, size_t n,
                     const struct pgpool_call *calls, PGresult **res)
{
	struct pgconn *pc = pgpool_slot(p, pg);
	char name[16];
	size_t i;
	int k, rc;

	for (i = 0; i < n; i++)
		res[i] = NULL;
	if (pc != NULL && pc->broken)
		return -1;
	if (!pgpool_async(p) || pc == NULL) {
		/* Off the loop: one statement after another. */
		for (i = 0; i < n; i++)
			if ((res[i] = pgpool_exec(p, pg, calls[i].sql,
			                          calls[i].n,
			                          calls[i].params)) == NULL)
				return -1;
		return 0;
	}
	/* Prepared first, outside the pipeline: a refusal there is plain. */
	for (i = 0; i < n; i++)
		if (pgpool_prepared(p, pc, calls[i].sql, calls[i].n) < 0 &&
		    pc->broken)
			return -1;
	if (!PQenterPipelineMode(pg))
		return -1;
	for (i = 0; i < n; i++) {
		k = pgpool_prepared(p, pc, calls[i].sql, calls[i].n);
		snprintf(name, sizeof(name), "p%d", k);
		if (!(k >= 0 ? PQsendQueryPrepared(pg, name, calls[i].n,
		                                   calls[i].params, NULL, NULL,
		                                   0)
		             : PQsendQueryParams(pg, calls[i].sql, calls[i].n,
		                                 NULL, calls[i].params, NULL,
		                                 NULL, 0)))
			break;
	}
	if (i < n || !PQpipelineSync(pg)) {
		pgpool_complain(p, "pipeline", pg);
		pc->broken = 1;
		return -1;
	}
	rc = pgpool_pipeline_results(p, pc, n, res);
	if (!pc->broken && !PQexitPipelineMode(pg)) {
		pgpool_complain(p, "pipeline", pg);
		pc->broken = 1;
		rc = -1;
	}
	return rc;
}

int
pgpool_pipeline(struct pgpool *p, PGconn *pg, size_t n,
                const struct pgpool_call *calls, PGresult **res)
{
	struct pgconn *pc = pgpool_slot(p, pg);
	struct pgpool_call *all;
	PGresult **got;
	int rc, ok;

	if (pc == NULL || !pc->begin || !pgpool_async(p))
		return pgpool_pipeline_send(p, pg, n, calls, res);
	/* The transaction's BEGIN, in the same round trip. */
	pc->begin = 0;
	all = xcalloc(n + 1, sizeof(*all));
	got = xcalloc(n + 1, sizeof(*got));
	all[0] = (struct pgpool_call){"BEGIN", 0, NULL};
	memcpy(all + 1, calls, n * sizeof(*calls));
	rc = pgpool_pipeline_send(p, pg, n + 1, all, got);
	ok = got[0] != NULL && PQresultStatus(got[0]) == PGRES_COMMAND_OK;
	PQclear(got[0]);
	memcpy(res, got + 1, n * sizeof(*res));
	free(got);
	free(all);
	if (!ok && rc == 0) {
		/* The statements after it were not run: say why. */
		pgpool_complain(p, "BEGIN", pg);
		rc = -1;
	}
	return rc;
}

void
pgpool_begin(struct pgpool *p, PGconn *pg)
{
	struct pgconn *pc = pgpool_slot(p, pg);

	if (pc != NULL && pgpool_async(p))
		pc->begin = 1;
	else
		PQclear(pgpool_exec(p, pg, "BEGIN", 0, NULL));
}

uint64_t
pgpool_blocking(const struct pgpool *p)
{
	return p->blocking;
}
