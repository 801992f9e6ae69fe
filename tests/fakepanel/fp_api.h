/* fp_api.h - fakepanel API v2 actions: authentication, single and multi
 * forms, and the reply body of each call. */
#ifndef FAKEPANEL_FP_API_H
#define FAKEPANEL_FP_API_H

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>

#include "fp.h"
#include "fp_params.h"

/* KEYS (copied): the accepted API keys; none = any non-empty key.
 * MAX_IDS: the most IDs one multi call may carry. */
void fp_api_init(char *const *keys, size_t nkeys, int max_ids);
void fp_api_free(void);
/* Multi calls (orders=, refills=) allowed or answered "Incorrect request". */
void fp_api_set_multi(int enabled);
int fp_api_multi(void);

struct fp_api_result {
	int key_ok;
	int64_t order; /* created by add, else 0 */
};

/* Answer one call of ACT with fields P into OUT.  EFFECTS 0: the call
 * changes nothing (a fault "lost" it before the panel saw it). */
void fp_api_handle(const struct fp_params *p, enum fp_action act, int effects,
                   struct evbuffer *out, struct fp_api_result *res);

#endif
