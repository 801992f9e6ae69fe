/* fp.c - fakepanel: names of actions, dialects, statuses; small parsers. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fp.h"

static const char *const fp_action_names[FP_ACT__COUNT] = {
    [FP_ACT_UNKNOWN] = "unknown", [FP_ACT_SERVICES] = "services",
    [FP_ACT_ADD] = "add",         [FP_ACT_STATUS] = "status",
    [FP_ACT_REFILL] = "refill",   [FP_ACT_REFILL_STATUS] = "refill_status",
    [FP_ACT_CANCEL] = "cancel",   [FP_ACT_BALANCE] = "balance",
};

const char *
fp_action_name(enum fp_action a)
{
	if ((unsigned)a >= FP_ACT__COUNT)
		return "unknown";
	return fp_action_names[a];
}

enum fp_action
fp_action_parse(const char *s)
{
	if (s == NULL)
		return FP_ACT_UNKNOWN;
	for (int i = 1; i < FP_ACT__COUNT; i++)
		if (strcmp(s, fp_action_names[i]) == 0)
			return (enum fp_action)i;
	return FP_ACT_UNKNOWN;
}

const char *
fp_dialect_name(enum fp_dialect d)
{
	switch (d) {
	case FP_DIALECT_V1:
		return "v1";
	case FP_DIALECT_VAR:
		return "var";
	default:
		return "std";
	}
}

int
fp_dialect_parse(const char *s, enum fp_dialect *out)
{
	if (strcmp(s, "std") == 0)
		*out = FP_DIALECT_STD;
	else if (strcmp(s, "v1") == 0)
		*out = FP_DIALECT_V1;
	else if (strcmp(s, "var") == 0)
		*out = FP_DIALECT_VAR;
	else
		return -1;
	return 0;
}

int
fp_progress_parse(const char *s, enum fp_progress *mode, int64_t *ms)
{
	*ms = 0;
	if (strcmp(s, "manual") == 0) {
		*mode = FP_PROGRESS_MANUAL;
		return 0;
	}
	if (strcmp(s, "instant") == 0) {
		*mode = FP_PROGRESS_INSTANT;
		return 0;
	}
	if (strncmp(s, "timer:", 6) == 0) {
		if (fp_parse_int(s + 6, ms) == -1 || *ms < 1 || *ms > 86400000)
			return -1;
		*mode = FP_PROGRESS_TIMER;
		return 0;
	}
	return -1;
}

static const struct {
	const char *name; /* compared without case, spaces and '_' */
	enum fp_status st;
} fp_status_words[] = {
    {"pending", FP_ST_PENDING},
    {"inprogress", FP_ST_IN_PROGRESS},
    {"processing", FP_ST_PROCESSING},
    {"completed", FP_ST_COMPLETED},
    {"partial", FP_ST_PARTIAL},
    {"canceled", FP_ST_CANCELED},
    {"cancelled", FP_ST_CANCELED},
    {"refunded", FP_ST_REFUNDED},
    {"fail", FP_ST_FAIL},
    {"failed", FP_ST_FAIL},
    {"rejected", FP_ST_REJECTED},
};

int
fp_status_parse(const char *s, enum fp_status *out)
{
	char norm[32];
	size_t n = 0;

	for (; *s != '\0'; s++) {
		if (*s == ' ' || *s == '_' || *s == '-')
			continue;
		if (n + 1 >= sizeof(norm))
			return -1;
		norm[n++] = (char)tolower((unsigned char)*s);
	}
	norm[n] = '\0';
	for (size_t i = 0;
	     i < sizeof(fp_status_words) / sizeof(fp_status_words[0]); i++) {
		if (strcmp(norm, fp_status_words[i].name) == 0) {
			*out = fp_status_words[i].st;
			return 0;
		}
	}
	return -1;
}

const char *
fp_status_name(enum fp_status st)
{
	switch (st) {
	case FP_ST_PENDING:
		return "Pending";
	case FP_ST_IN_PROGRESS:
		return "In progress";
	case FP_ST_PROCESSING:
		return "Processing";
	case FP_ST_COMPLETED:
		return "Completed";
	case FP_ST_PARTIAL:
		return "Partial";
	case FP_ST_CANCELED:
		return "Canceled";
	case FP_ST_REFUNDED:
		return "Refunded";
	case FP_ST_FAIL:
		return "Fail";
	case FP_ST_REJECTED:
		return "Rejected";
	default:
		return "Unknown";
	}
}

int64_t
fp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
fp_parse_int(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL)
		return -1;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0' ||
	    (!isdigit((unsigned char)*s) && *s != '-' && *s != '+'))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s)
		return -1;
	while (*end == ' ' || *end == '\t')
		end++;
	if (*end != '\0')
		return -1;
	*out = v;
	return 0;
}
