/* admin_users.c - the admin API's users and payments: list, show, add,
 * disable, enable, rotate a key; credit and deduct, exactly once by reference.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "admin_api.h"
#include "admin_api_int.h"
#include "admin_match.h"
#include "auth.h"
#include "catalog.h"
#include "clock.h"
#include "config.h"
#include "conns.h"
#include "framing.h"
#include "jsonx.h"
#include "log.h"
#include "money.h"
#include "ops.h"
#include "orders.h"
#include "panel.h"
#include "params.h"
#include "ratelimit.h"
#include "store.h"
#include "xmalloc.h"

/*
 * Users.
 */

int
admin_user_row(const struct customer *c, void *arg)
{
	struct admin_rows *rows = arg;

	json_array_append_new(rows->list, admin_user(c, rows->decimals));
	return 0;
}

void
admin_users_list(struct admin_req *r)
{
	struct customer_page f = {0, NULL, -1, 0, 0};
	struct admin_rows rows = {json_array(), r->decimals};
	const char *status;

	if (admin_text(r, "username", 0, &f.name) < 0 ||
	    admin_text(r, "status", 0, &status) < 0 ||
	    admin_page(r, &f.limit, &f.offset) != 0)
		goto done;
	if (status != NULL) {
		if (strcmp(status, "active") == 0)
			f.disabled = 0;
		else if (strcmp(status, "disabled") == 0)
			f.disabled = 1;
		else {
			admin_fail(r, 400, "status must be active or disabled");
			goto done;
		}
	}
	admin_send_page(
	    r, store_customer_page(r->a->st, &f, admin_user_row, &rows),
	    rows.list);
	return;
done:
	json_decref(rows.list);
}

void
admin_users_get(struct admin_req *r)
{
	struct customer_page f = {r->id, NULL, -1, 1, 0};
	struct admin_rows rows = {json_array(), r->decimals};

	if (store_customer_page(r->a->st, &f, admin_user_row, &rows) < 0)
		admin_fail(r, 500, "store error");
	else if (json_array_size(rows.list) == 0)
		admin_fail(r, 404, "no such user");
	else {
		admin_send(r, 200, NULL,
		           json_incref(json_array_get(rows.list, 0)));
	}
	json_decref(rows.list);
}

/* users/add and users/rotate-key: the user and its new key. */
static void
admin_users_key(struct admin_req *r, int rotate)
{
	char key[AUTH_KEY_LEN + 1];
	struct ops_result res;
	struct customer c;
	const char *name;

	if (admin_need(r, "username", 0, &name) != 0)
		return;
	if (rotate)
		ops_user_rotate_key(&r->ops, name, &c, key, &res);
	else
		ops_user_add(&r->ops, name, &c, key, &res);
	admin_ops_reply(r, &res,
	                res.status == OPS_OK
	                    ? json_pack("{s:o,s:s}", "user",
	                                admin_user(&c, r->decimals), "api_key",
	                                key)
	                    : NULL);
}

void
admin_users_add(struct admin_req *r)
{
	admin_users_key(r, 0);
}

void
admin_users_rotate(struct admin_req *r)
{
	admin_users_key(r, 1);
}

static void
admin_users_disabled(struct admin_req *r, int disabled)
{
	struct ops_result res;
	struct customer c;
	const char *name;

	if (admin_need(r, "username", 0, &name) != 0)
		return;
	ops_user_set_disabled(&r->ops, name, disabled, &c, &res);
	admin_ops_reply(
	    r, &res, res.status == OPS_OK ? admin_user(&c, r->decimals) : NULL);
}

void
admin_users_disable(struct admin_req *r)
{
	admin_users_disabled(r, 1);
}

void
admin_users_enable(struct admin_req *r)
{
	admin_users_disabled(r, 0);
}

/*
 * Payments.
 */

static void
admin_payments_do(struct admin_req *r, int deduct)
{
	struct ops_payment in = {NULL, NULL, deduct, NULL, NULL, NULL};
	const char *header = evhttp_find_header(
	    evhttp_request_get_input_headers(r->req), "Idempotency-Key");
	struct ledger_entry e;
	struct ops_result res;
	struct customer c;
	int dup, ignored;

	if (admin_need(r, "username", 0, &in.user) != 0 ||
	    admin_need(r, "amount", 1, &in.amount) != 0 ||
	    admin_text(r, "method", 0, &in.method) < 0 ||
	    admin_text(r, "memo", 0, &in.memo) < 0 ||
	    admin_text(r, "external_id", 0, &in.external_id) < 0 ||
	    admin_bool(r, "affiliate_commission", &ignored) != 0)
		return;
	if (header != NULL) {
		if (in.external_id != NULL &&
		    strcmp(in.external_id, header) != 0) {
			admin_fail(r, 400,
			           "the Idempotency-Key header and external_id "
			           "differ");
			return;
		}
		in.external_id = header;
	}
	if (ops_payment(&r->ops, &in, &e, &c, &dup, &res) != 0) {
		admin_ops_reply(r, &res, NULL);
		return;
	}
	admin_send(r, 200, NULL,
	           json_pack("{s:I,s:o,s:b}", "payment_id", (json_int_t)e.id,
	                     "user", admin_user(&c, r->decimals), "duplicate",
	                     dup));
}

void
admin_payments_add(struct admin_req *r)
{
	admin_payments_do(r, 0);
}

void
admin_payments_deduct(struct admin_req *r)
{
	admin_payments_do(r, 1);
}

static int
admin_payment_row(const struct ledger_entry *e, void *arg)
{
	struct admin_rows *rows = arg;

	json_array_append_new(rows->list,
	                      admin_payment(e, e->customer, rows->decimals));
	return 0;
}

/* A "username"/"user" filter: the customer's ID, 0 when absent, -1 when
 * answered (unknown or bad). */
int64_t
admin_user_filter(struct admin_req *r, const char *field)
{
	struct ops_result res;
	struct customer c;
	const char *name;
	int n = admin_text(r, field, 0, &name);

	if (n <= 0)
		return n;
	if (ops_user_get(&r->ops, name, &c, &res) != 0) {
		admin_ops_reply(r, &res, NULL);
		return -1;
	}
	return c.id;
}

void
admin_payments_list(struct admin_req *r)
{
	struct ledger_page f = {0, 0, 1, 0, 0};
	struct admin_rows rows = {json_array(), r->decimals};

	if ((f.customer_id = admin_user_filter(r, "username")) < 0 ||
	    admin_page(r, &f.limit, &f.offset) != 0)
		goto done;
	admin_send_page(
	    r, store_ledger_page(r->a->st, &f, admin_payment_row, &rows),
	    rows.list);
	return;
done:
	json_decref(rows.list);
}
