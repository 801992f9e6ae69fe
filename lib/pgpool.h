/* pgpool.h - the PostgreSQL connections behind the store (store_pg.c).
 *
 * A small pool of libpq connections.  Until pgpool_attach the pool is a
 * plain synchronous client (the CLI, tests, the daemon's start-up).  Once
 * attached to the daemon's loop, a call made on a fiber (lib/fiber.h) uses
 * libpq's asynchronous API: the query is sent, the fiber parks, the loop
 * runs, and the connection's socket event resumes the fiber with the result.
 * A call made off a fiber while attached still works but blocks the loop:
 * it is counted (pgpool_blocking) and the daemon's tests require zero.
 */
#ifndef PANELMUX_PGPOOL_H
#define PANELMUX_PGPOOL_H

#include <stdint.h>

#include <libpq-fe.h>

struct event_base;
struct pgpool;

/* SIZE connections at most (opened on demand).  NULL if CONNINFO does not
 * parse; the server need not be up yet. */
struct pgpool *pgpool_new(const char *conninfo, int size);
void pgpool_free(struct pgpool *);
int pgpool_attach(struct pgpool *, struct event_base *base);

/* A connection for one store call, connected and idle; NULL when the server
 * cannot be reached (logged, rate-limited).  On a fiber this may park until
 * a connection is free. */
PGconn *pgpool_get(struct pgpool *);
/* Give C back.  A broken connection, or one left inside a transaction, is
 * closed (a fresh one is opened when next needed). */
void pgpool_put(struct pgpool *, PGconn *c);

/* Run SQL (one statement) with N text parameters (NULL: SQL NULL) on C and
 * return its result for PQresultStatus/PQgetvalue (PQclear it).  NULL only
 * when no result could be had at all (connection lost).  Results are text. */
PGresult *pgpool_exec(struct pgpool *, PGconn *c, const char *sql, int n,
                      const char *const *params);

/* One statement of a pipeline. */
struct pgpool_call {
	const char *sql;
	int n;
	const char *const *params;
};

/* Run N statements on C in one round trip (libpq's pipeline mode), in the
 * caller's transaction if one is open: RES[i] gets statement i's result
 * (PQclear each; PGRES_PIPELINE_ABORTED for those after a failed one).
 * -1 when the connection was lost (the results had are kept).  Off the
 * loop the statements run one after another. */
int pgpool_pipeline(struct pgpool *, PGconn *c, size_t n,
                    const struct pgpool_call *calls, PGresult **res);

/* Open a transaction on C: on the loop its BEGIN is sent with the next
 * statement (one round trip fewer per transaction); off it, at once. */
void pgpool_begin(struct pgpool *, PGconn *c);

/* Calls that blocked the attached loop (made off a fiber). */
uint64_t pgpool_blocking(const struct pgpool *);

#endif
