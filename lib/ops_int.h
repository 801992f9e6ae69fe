/* ops_int.h - what the operations' files (ops.c, ops_webhooks.c) share. */
#ifndef PANELMUX_OPS_INT_H
#define PANELMUX_OPS_INT_H

#include <jansson.h>

#include "ops.h"

/* R is OPS_OK; returns 0. */
int ops_ok(struct ops_result *r);
/* The audit entry of ACTION on TARGET with DETAIL (taken, NULL: {}) and
 * R's outcome. */
void ops_record(struct ops *o, const char *action, const char *target,
                json_t *detail, const struct ops_result *r);
/* -1 (R OPS_DENIED, recorded) for a read-only key; else 0. */
int ops_writable(struct ops *o, const char *action, const char *target,
                 struct ops_result *r);

#endif
