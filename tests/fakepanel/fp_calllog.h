/* fp_calllog.h - fakepanel call log (kept in memory for GET /control/log,
 * appended to --log FILE one JSON line per call) and counters for
 * GET /control/stats. */
#ifndef FAKEPANEL_FP_CALLLOG_H
#define FAKEPANEL_FP_CALLLOG_H

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "fp.h"
#include "fp_params.h"

/* Keep the last MAX entries in memory (0: none); append to PATH if not
 * NULL.  0, or -1 if PATH cannot be opened (errno set). */
int fp_calllog_init(size_t max, const char *path);
void fp_calllog_free(void);
/* Forget entries and counters (not the file). */
void fp_calllog_reset(void);

struct fp_call {
	const char *method;
	const char *action; /* as received; NULL if none */
	enum fp_action act;
	const struct fp_params *params;
	uint64_t conn;
	int new_conn;      /* first call on this connection since reset */
	const char *fault; /* NULL: none */
	int key_ok;
	int64_t order; /* order created by add; 0 if none */
};

/* Count C and, if enabled, log it. */
void fp_calllog_add(const struct fp_call *c);
/* Entries with seq > SINCE as a JSON array. */
void fp_calllog_dump(struct evbuffer *out, uint64_t since);
/* The counters as a new JSON object. */
json_t *fp_calllog_stats(void);

#endif
