/* ops.c - the operator's operations (ops.h): validation, the store calls
 * and the audit trail, shared by the CLI and the admin API. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "auth.h"
#include "config.h"
#include "log.h"
#include "money.h"
#include "ops.h"
#include "ops_int.h"
#include "store.h"
#include "xmalloc.h"

void
ops_init(struct ops *o, struct store *st, const struct config *cfg,
         const char *actor, int read_only)
{
	o->st = st;
	o->cfg = cfg;
	snprintf(o->actor, sizeof(o->actor), "%s", actor);
	o->read_only = read_only;
	o->recorded = 0;
}

void
ops_actor_admin(char *dst, size_t size, const char *name)
{
	snprintf(dst, size, "admin:%s", name);
}

int
ops_fail(struct ops_result *r, enum ops_status status, const char *fmt, ...)
{
	va_list ap;

	r->status = status;
	r->msg[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
		va_end(ap);
	}
	return status == OPS_OK ? 0 : -1;
}

int
ops_ok(struct ops_result *r)
{
	return ops_fail(r, OPS_OK, NULL);
}

/* 1 if S is valid UTF-8 without control characters. */
static int
ops_text_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		int n;

		if (*p < 0x20 || *p == 0x7f)
			return 0;
		if (*p < 0x80) {
			p++;
			continue;
		}
		if ((*p & 0xe0) == 0xc0 && *p >= 0xc2)
			n = 1;
		else if ((*p & 0xf0) == 0xe0)
			n = 2;
		else if ((*p & 0xf8) == 0xf0 && *p <= 0xf4)
			n = 3;
		else
			return 0;
		for (int i = 1; i <= n; i++)
			if ((p[i] & 0xc0) != 0x80)
				return 0;
		/* overlong 3-byte forms, surrogates, past U+10FFFF */
		if ((p[0] == 0xe0 && p[1] < 0xa0) ||
		    (p[0] == 0xed && p[1] >= 0xa0) ||
		    (p[0] == 0xf0 && p[1] < 0x90) ||
		    (p[0] == 0xf4 && p[1] >= 0x90))
			return 0;
		p += n + 1;
	}
	return 1;
}

/*
 * The audit trail.
 */

/* Fill audit entry E of ACTION on TARGET with DETAIL (taken) and R's
 * outcome, by O's actor. */
static void
ops_entry(struct ops *o, const char *action, const char *target, json_t *detail,
          const struct ops_result *r, struct audit_entry *e)
{
	char *text = NULL;

	memset(e, 0, sizeof(*e));
	snprintf(e->actor, sizeof(e->actor), "%s", o->actor);
	snprintf(e->action, sizeof(e->action), "%s", action);
	/* A target is the request's own text until validated: kept only
	 * when it is text a column can hold. */
	snprintf(e->target, sizeof(e->target), "%s",
	         target != NULL && ops_text_ok(target) &&
	                 strlen(target) < sizeof(e->target)
	             ? target
	             : "");
	if (detail != NULL)
		text = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS |
		                              JSON_ENSURE_ASCII);
	snprintf(e->detail, sizeof(e->detail), "%s",
	         text != NULL ? text : "{}");
	free(text);
	json_decref(detail);
	snprintf(e->result, sizeof(e->result), "%s",
	         r->status == OPS_OK ? "ok" : r->msg);
}

void
ops_record(struct ops *o, const char *action, const char *target,
           json_t *detail, const struct ops_result *r)
{
	struct audit_entry e;

	ops_entry(o, action, target, detail, r, &e);
	o->recorded++;
	if (store_audit_add(o->st, &e) != STORE_OK)
		log_warnx("ops: %s %s by %s: the audit entry was not written",
		          action, e.target, o->actor);
}

void
ops_audit(struct ops *o, const char *action, const char *target,
          const char *detail, const struct ops_result *r)
{
	json_t *d = detail != NULL ? json_loads(detail, 0, NULL) : NULL;

	ops_record(o, action, target, d, r);
}

/* Refuse a write by a read-only key (recorded: a refused write is a
 * write that was tried). */
int
ops_writable(struct ops *o, const char *action, const char *target,
             struct ops_result *r)
{
	if (!o->read_only)
		return 0;
	ops_fail(r, OPS_DENIED, "this key is read-only");
	ops_record(o, action, target, NULL, r);
	return -1;
}

/* Map a store result about user NAME into R. */
static int
ops_user_result(enum store_result sr, const char *name, struct ops_result *r)
{
	char max[MONEY_BUFSZ];

	switch (sr) {
	case STORE_OK:
		return ops_ok(r);
	case STORE_EXISTS:
		return ops_fail(r, OPS_CONFLICT,
		                "a user named %s already exists", name);
	case STORE_NOTFOUND:
		return ops_fail(r, OPS_NOTFOUND, "no user named %s", name);
	case STORE_NOFUNDS:
		return ops_fail(r, OPS_CONFLICT,
		                "refused: the balance of %s would become "
		                "negative",
		                name);
	case STORE_LIMIT:
		return ops_fail(
		    r, OPS_CONFLICT,
		    "refused: the balance of %s would exceed %s, the "
		    "largest balance panelmux keeps",
		    name, money_format(STORE_BALANCE_MAX, 0, max));
	default:
		return ops_fail(r, OPS_ERROR, "store error");
	}
}

int
ops_amount(const struct ops *o, const char *text, money_t *out,
           struct ops_result *r)
{
	int d = o->cfg->money_decimals;
	money_t v, check;

	if (text == NULL || *text == '\0')
		return ops_fail(r, OPS_BAD, "amount is missing");
	if (money_parse(text, &v) != 0 || v <= 0)
		return ops_fail(r, OPS_BAD,
		                "amount must be a positive decimal number");
	if (money_round_dec(v, d, MONEY_ROUND_EXACT, &check) != 0)
		return ops_fail(r, OPS_BAD, "amount has more than %d decimals",
		                d);
	if (v > STORE_BALANCE_MAX) {
		char max[MONEY_BUFSZ];

		/* No balance can take or give it: bad input, not a state. */
		return ops_fail(
		    r, OPS_BAD,
		    "amount %s would exceed %s, the largest balance "
		    "panelmux keeps",
		    text, money_format(STORE_BALANCE_MAX, 0, max));
	}
	*out = v;
	return ops_ok(r);
}

int
ops_user_get(struct ops *o, const char *name, struct customer *out,
             struct ops_result *r)
{
	if (name == NULL || !store_name_valid(name))
		return ops_fail(r, OPS_BAD,
		                "a user name is 1 to %d of A-Z a-z 0-9 . _ @ -",
		                STORE_NAME_MAX);
	return ops_user_result(store_customer_by_name(o->st, name, out), name,
	                       r);
}

/* A new key into KEY and its hash into HASH. */
static int
ops_new_key(char key[AUTH_KEY_LEN + 1], uint8_t hash[AUTH_HASH_LEN],
            struct ops_result *r)
{
	if (auth_key_generate(key) != 0)
		return ops_fail(r, OPS_ERROR, "no random source");
	auth_key_hash(key, strlen(key), hash);
	return 0;
}

static int
ops_user_key(struct ops *o, const char *action, const char *name, int rotate,
             struct customer *out, char key[AUTH_KEY_LEN + 1],
             struct ops_result *r)
{
	uint8_t hash[AUTH_HASH_LEN];
	enum store_result sr;

	key[0] = '\0';
	if (ops_writable(o, action, name, r) != 0)
		return -1;
	if (name == NULL || !store_name_valid(name)) {
		ops_user_get(o, name, out, r);
		ops_record(o, action, name, NULL, r);
		return -1;
	}
	if (ops_new_key(key, hash, r) != 0) {
		ops_record(o, action, name, NULL, r);
		return -1;
	}
	sr = rotate ? store_customer_set_key(o->st, name, hash)
	            : store_customer_add(o->st, name, hash, NULL);
	if (sr == STORE_OK)
		sr = store_customer_by_name(o->st, name, out);
	ops_user_result(sr, name, r);
	ops_record(o, action, name, NULL, r);
	if (r->status != OPS_OK) {
		key[0] = '\0';
		return -1;
	}
	return 0;
}

int
ops_user_add(struct ops *o, const char *name, struct customer *out,
             char key[AUTH_KEY_LEN + 1], struct ops_result *r)
{
	return ops_user_key(o, "users/add", name, 0, out, key, r);
}

int
ops_user_rotate_key(struct ops *o, const char *name, struct customer *out,
                    char key[AUTH_KEY_LEN + 1], struct ops_result *r)
{
	return ops_user_key(o, "users/rotate-key", name, 1, out, key, r);
}

int
ops_user_set_disabled(struct ops *o, const char *name, int disabled,
                      struct customer *out, struct ops_result *r)
{
	const char *action = disabled ? "users/disable" : "users/enable";
	enum store_result sr;

	if (ops_writable(o, action, name, r) != 0)
		return -1;
	if (ops_user_get(o, name, out, r) == 0) {
		sr = store_customer_set_disabled(o->st, name, disabled);
		if (sr == STORE_OK)
			sr = store_customer_by_name(o->st, name, out);
		ops_user_result(sr, name, r);
	}
	ops_record(o, action, name, NULL, r);
	return r->status == OPS_OK ? 0 : -1;
}

/*
 * Payments.
 */

static int
ops_payment_check(struct ops *o, const struct ops_payment *in, money_t *amount,
                  struct customer *user, struct ops_result *r)
{
	if (in->user == NULL || *in->user == '\0')
		return ops_fail(r, OPS_BAD, "username is missing");
	if (ops_amount(o, in->amount, amount, r) != 0)
		return -1;
	if (in->method != NULL &&
	    (strlen(in->method) > STORE_METHOD_MAX || !ops_text_ok(in->method)))
		return ops_fail(r, OPS_BAD,
		                "method must be text of at most %d bytes",
		                STORE_METHOD_MAX);
	if (in->memo != NULL &&
	    (strlen(in->memo) > STORE_NOTE_MAX || !ops_text_ok(in->memo)))
		return ops_fail(r, OPS_BAD,
		                "memo must be text of at most %d bytes",
		                STORE_NOTE_MAX);
	if (in->external_id != NULL &&
	    !store_token_valid(in->external_id, STORE_REF_MAX))
		return ops_fail(r, OPS_BAD,
		                "external_id must be 1 to %d printable ASCII "
		                "characters without spaces",
		                STORE_REF_MAX);
	return ops_user_get(o, in->user, user, r);
}

static json_t *
ops_payment_detail(const struct ops_payment *in)
{
	json_t *d = json_object();

	if (in->amount != NULL)
		json_object_set_new(d, "amount", json_string(in->amount));
	if (in->method != NULL)
		json_object_set_new(d, "method", json_string(in->method));
	if (in->memo != NULL)
		json_object_set_new(d, "memo", json_string(in->memo));
	if (in->external_id != NULL)
		json_object_set_new(d, "external_id",
		                    json_string(in->external_id));
	return d;
}

int
ops_payment(struct ops *o, const struct ops_payment *in,
            struct ledger_entry *out, struct customer *user, int *duplicate,
            struct ops_result *r)
{
	const char *action = in->deduct ? "payments/deduct" : "payments/add";
	struct audit_entry *audit;
	struct payment_new p;
	enum store_result sr;
	money_t amount;
	int written;

	*duplicate = 0;
	if (ops_writable(o, action, in->user, r) != 0)
		return -1;
	if (ops_payment_check(o, in, &amount, user, r) != 0) {
		ops_record(o, action, in->user, ops_payment_detail(in), r);
		return -1;
	}
	memset(&p, 0, sizeof(p));
	p.customer_id = user->id;
	p.amount = in->deduct ? -amount : amount;
	p.method = in->method;
	p.note = in->memo;
	p.external_id = in->external_id;
	p.actor = o->actor;
	/* Written with the payment, in its transaction: one commit. */
	p.audit = audit = xmalloc(sizeof(*audit));
	ops_entry(o, action, in->user, ops_payment_detail(in), r, audit);
	sr = store_payment_add(o->st, &p, out, NULL);
	free(audit);
	if (sr == STORE_EXISTS) {
		*duplicate = 1;
		sr = STORE_OK;
	} else if (sr == STORE_CONFLICT) {
		ops_fail(r, OPS_CONFLICT,
		         "external_id %s was already used for another payment "
		         "(payment %lld)",
		         in->external_id, (long long)out->id);
		ops_record(o, action, in->user, ops_payment_detail(in), r);
		return -1;
	}
	written = sr == STORE_OK && !*duplicate;
	if (written)
		o->recorded++; /* its entry went with it */
	if (sr == STORE_OK)
		sr = store_customer_by_name(o->st, in->user, user);
	ops_user_result(sr, in->user, r);
	if (written)
		return r->status == OPS_OK ? 0 : -1;
	if (*duplicate && r->status == OPS_OK) {
		/* Recorded as what it was: nothing written. */
		struct ops_result dup;

		ops_fail(&dup, OPS_CONFLICT, "duplicate of payment %lld",
		         (long long)out->id);
		ops_record(o, action, in->user, ops_payment_detail(in), &dup);
	} else
		ops_record(o, action, in->user, ops_payment_detail(in), r);
	return r->status == OPS_OK ? 0 : -1;
}

/*
 * Orders.
 */

int
ops_order_resolve(struct ops *o, int64_t id, const char *upstream_order,
                  struct order *out, struct ops_result *r)
{
	char target[32];
	json_t *d;
	enum store_result sr;

	snprintf(target, sizeof(target), "%lld", (long long)id);
	d = upstream_order != NULL
	        ? json_pack("{s:s}", "upstream_order", upstream_order)
	        : json_pack("{s:b}", "refund", 1);
	if (ops_writable(o, "orders/resolve", target, r) != 0) {
		json_decref(d);
		return -1;
	}
	if (upstream_order != NULL &&
	    (*upstream_order == '\0' ||
	     strlen(upstream_order) > STORE_UPID_MAX ||
	     !ops_text_ok(upstream_order))) {
		ops_fail(r, OPS_BAD, "upstream_order must be 1 to %d bytes",
		         STORE_UPID_MAX);
		ops_record(o, "orders/resolve", target, d, r);
		return -1;
	}
	sr = store_order_resolve(o->st, id, upstream_order);
	if (sr == STORE_CONFLICT || sr == STORE_NOTFOUND) {
		if (store_order_get(o->st, id, out) == STORE_OK)
			ops_fail(r, OPS_CONFLICT,
			         "order %lld is %s, not sending: nothing to "
			         "resolve",
			         (long long)id, order_state_name(out->state));
		else
			ops_fail(r, OPS_NOTFOUND, "no order %lld",
			         (long long)id);
	} else if (sr == STORE_EXISTS)
		ops_fail(r, OPS_CONFLICT,
		         "upstream order %s already belongs to another order",
		         upstream_order);
	else if (sr != STORE_OK || store_order_get(o->st, id, out) != STORE_OK)
		ops_fail(r, OPS_ERROR, "store error");
	else
		ops_ok(r);
	ops_record(o, "orders/resolve", target, d, r);
	return r->status == OPS_OK ? 0 : -1;
}

/*
 * Operator keys.
 */

int
ops_key_add(struct ops *o, const char *name, int read_only,
            char key[AUTH_KEY_LEN + 1], struct ops_result *r)
{
	uint8_t hash[AUTH_HASH_LEN];
	json_t *d = json_pack("{s:b}", "read_only", read_only != 0);
	enum store_result sr;

	key[0] = '\0';
	if (ops_writable(o, "keys/add", name, r) != 0) {
		json_decref(d);
		return -1;
	}
	if (name == NULL || !store_name_valid(name))
		ops_fail(r, OPS_BAD,
		         "a key name is 1 to %d of A-Z a-z 0-9 . _ @ -",
		         STORE_NAME_MAX);
	else if (ops_new_key(key, hash, r) == 0) {
		sr = store_admin_key_add(o->st, name, hash, read_only);
		if (sr == STORE_OK)
			ops_ok(r);
		else if (sr == STORE_EXISTS)
			ops_fail(r, OPS_CONFLICT,
			         "an active key named %s already exists", name);
		else
			ops_fail(r, OPS_ERROR, "store error");
	}
	ops_record(o, "keys/add", name, d, r);
	if (r->status != OPS_OK) {
		key[0] = '\0';
		return -1;
	}
	return 0;
}

int
ops_key_revoke(struct ops *o, const char *name, struct ops_result *r)
{
	enum store_result sr;

	if (ops_writable(o, "keys/revoke", name, r) != 0)
		return -1;
	sr = store_admin_key_revoke(o->st, name);
	if (sr == STORE_OK)
		ops_ok(r);
	else if (sr == STORE_NOTFOUND)
		ops_fail(r, OPS_NOTFOUND, "no active key named %s", name);
	else
		ops_fail(r, OPS_ERROR, "store error");
	ops_record(o, "keys/revoke", name, NULL, r);
	return r->status == OPS_OK ? 0 : -1;
}
