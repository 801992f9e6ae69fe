/* fp.h - fakepanel: shared enums and small helpers.
 *
 * fakepanel is a simulated upstream SMM panel (API v2) for the integration
 * tests, `make run` and the benchmarks.  One process, one libevent loop, all
 * state in memory.  See tests/fakepanel/README.md for the flags and the
 * control API.
 */
#ifndef FAKEPANEL_FP_H
#define FAKEPANEL_FP_H

#include <stddef.h>
#include <stdint.h>

/* Reply families (see README.md): only the shapes differ. */
enum fp_dialect { FP_DIALECT_STD, FP_DIALECT_V1, FP_DIALECT_VAR };

/* API actions; FP_ACT_UNKNOWN doubles as "all" in the fault table. */
enum fp_action {
	FP_ACT_UNKNOWN,
	FP_ACT_SERVICES,
	FP_ACT_ADD,
	FP_ACT_STATUS,
	FP_ACT_REFILL,
	FP_ACT_REFILL_STATUS,
	FP_ACT_CANCEL,
	FP_ACT_BALANCE,
	FP_ACT__COUNT
};

/* How orders move on their own. */
enum fp_progress { FP_PROGRESS_MANUAL, FP_PROGRESS_INSTANT, FP_PROGRESS_TIMER };

/* Order and refill states.  FP_ST_OTHER carries a verbatim status text set
 * through the control API (to test unknown statuses). */
enum fp_status {
	FP_ST_PENDING,
	FP_ST_IN_PROGRESS,
	FP_ST_PROCESSING,
	FP_ST_COMPLETED,
	FP_ST_PARTIAL,
	FP_ST_CANCELED,
	FP_ST_REFUNDED,
	FP_ST_FAIL,
	FP_ST_REJECTED,
	FP_ST_OTHER
};

/* Longest API key, error text and fault text kept. */
#define FP_TEXT_MAX 256

/* "add", ... ; "unknown" for FP_ACT_UNKNOWN. */
const char *fp_action_name(enum fp_action a);
/* The action named S (exact, lower case), FP_ACT_UNKNOWN if none. */
enum fp_action fp_action_parse(const char *s);
const char *fp_dialect_name(enum fp_dialect d);
/* 0 and *OUT, or -1 for an unknown name. */
int fp_dialect_parse(const char *s, enum fp_dialect *out);
/* "manual", "instant", "timer:MS": 0, or -1. */
int fp_progress_parse(const char *s, enum fp_progress *mode, int64_t *ms);
/* Status by name in any case and spelling ("in_progress", "Cancelled");
 * -1 if not a known status. */
int fp_status_parse(const char *s, enum fp_status *out);
/* The standard spelling: "In progress", "Canceled", ... */
const char *fp_status_name(enum fp_status st);
/* Monotonic milliseconds. */
int64_t fp_now_ms(void);
/* Strict decimal integer (optional spaces around, optional sign): 0 or -1. */
int fp_parse_int(const char *s, int64_t *out);

#endif
