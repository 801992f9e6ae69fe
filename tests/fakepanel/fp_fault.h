/* fp_fault.h - fakepanel fault injection: per action (or for all), what
 * happens to the next calls instead of a normal reply. */
#ifndef FAKEPANEL_FP_FAULT_H
#define FAKEPANEL_FP_FAULT_H

#include <stddef.h>
#include <stdint.h>

#include "fp.h"

enum fp_fault_mode {
	FP_FAULT_NONE,
	FP_FAULT_HANG,    /* never answer; freed when the client goes */
	FP_FAULT_CLOSE,   /* close the connection without a reply */
	FP_FAULT_502,     /* nginx-style 502 page */
	FP_FAULT_524,     /* Cloudflare-style 524 page */
	FP_FAULT_GARBAGE, /* 200 with a body that is not JSON */
	FP_FAULT_EMPTY,   /* 200 with an empty body */
	FP_FAULT_SLOW,    /* the normal reply after MS milliseconds */
	FP_FAULT_ERROR,   /* {"error": TEXT}, nothing done */
	FP_FAULT_WRONGID  /* status answers name order ID+N, not the ID asked */
};

enum fp_garbage { FP_GARBAGE_PHP, FP_GARBAGE_TRUNCATED, FP_GARBAGE_HTML };

struct fp_fault {
	enum fp_fault_mode mode;
	int64_t ms;              /* slow */
	int64_t shift;           /* wrongid: N, default 1 */
	enum fp_garbage garbage; /* garbage */
	char text[FP_TEXT_MAX];  /* error */
	int effects;   /* the call still takes effect (order created, ...) */
	int64_t after; /* good calls to let through first */
	int64_t count; /* faulty calls before the fault clears; 0 = forever */
};

/* Parse "MODE[:ARG][,after=N][,count=N][,nocreate]" or "after:N:MODE..."
 * (error:TEXT takes the rest of the string as TEXT).  0, or -1 with ERR. */
int fp_fault_parse(const char *spec, struct fp_fault *out, char *err,
                   size_t errlen);
/* "ACTION=SPEC" as given to --fault.  0, or -1 with ERR. */
int fp_fault_parse_cli(const char *arg, char *err, size_t errlen);
/* Install F for the action named NAME ("all" or "*" for every action;
 * mode none clears).  0, or -1 for an unknown action name. */
int fp_fault_set(const char *name, const struct fp_fault *f);
void fp_fault_clear_all(void);
/* The fault that applies to this call of ACT, if any: 1 and *OUT, or 0.
 * Counts the call against after= and count=. */
int fp_fault_take(enum fp_action act, struct fp_fault *out);
/* "close", "slow:200", "error:Text", ... in BUF. */
const char *fp_fault_describe(const struct fp_fault *f, char *buf, size_t len);

#endif
