/* ops_pricing.c - the operator's customer-rate operations (ops.h): groups
 * with a percent, a customer's group, and overrides per service. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "money.h"
#include "ops.h"
#include "ops_int.h"
#include "store.h"

#define OPS_PERCENT_MAX (1000 * MONEY_SCALE)

int
ops_percent(const char *text, int signed_ok, money_t *out, struct ops_result *r)
{
	size_t len = text != NULL ? strlen(text) : 0;
	money_t v;

	if (len > 0 && text[len - 1] == '%')
		len--;
	if (len == 0 || money_parse_n(text, len, MONEY_ROUND_EXACT, &v) != 0)
		return ops_fail(r, OPS_BAD,
		                "a percent is a decimal number, e.g. 10%% "
		                "or -7.5%%");
	if (!signed_ok && (v < 0 || v > 100 * MONEY_SCALE))
		return ops_fail(r, OPS_BAD,
		                "a percent off is from 0%% to 100%%");
	if (signed_ok && (v <= -100 * MONEY_SCALE || v > OPS_PERCENT_MAX))
		return ops_fail(r, OPS_BAD,
		                "a group's percent is above -100%% (a "
		                "discount) and at most 1000%% (a surcharge)");
	*out = v;
	return 0;
}

static int
ops_group_result(enum store_result sr, const char *name, struct ops_result *r)
{
	switch (sr) {
	case STORE_OK:
		return ops_ok(r);
	case STORE_EXISTS:
		return ops_fail(r, OPS_CONFLICT, "a group named %s exists",
		                name);
	case STORE_NOTFOUND:
		return ops_fail(r, OPS_NOTFOUND, "no group named %s", name);
	case STORE_CONFLICT:
		return ops_fail(r, OPS_CONFLICT,
		                "group %s has customers: move them out first",
		                name);
	default:
		return ops_fail(r, OPS_ERROR, "store error");
	}
}

/* ACTION (groups/add, groups/update) of group NAME to PERCENT. */
static int
ops_group_put(struct ops *o, const char *action, const char *name,
              const char *percent, struct ops_result *r)
{
	json_t *d = json_pack("{s:s?}", "percent", percent);
	money_t pct;

	if (ops_writable(o, action, name, r) != 0) {
		json_decref(d);
		return -1;
	}
	if (name == NULL || !store_name_valid(name))
		ops_fail(r, OPS_BAD,
		         "a group name is 1 to %d of A-Z a-z 0-9 . _ @ -",
		         STORE_NAME_MAX);
	else if (ops_percent(percent, 1, &pct, r) == 0)
		ops_group_result(strcmp(action, "groups/add") == 0
		                     ? store_group_add(o->st, name, pct)
		                     : store_group_set(o->st, name, pct),
		                 name, r);
	ops_record(o, action, name, d, r);
	return r->status == OPS_OK ? 0 : -1;
}

int
ops_group_add(struct ops *o, const char *name, const char *percent,
              struct ops_result *r)
{
	return ops_group_put(o, "groups/add", name, percent, r);
}

int
ops_group_set(struct ops *o, const char *name, const char *percent,
              struct ops_result *r)
{
	return ops_group_put(o, "groups/update", name, percent, r);
}

int
ops_group_remove(struct ops *o, const char *name, struct ops_result *r)
{
	if (ops_writable(o, "groups/remove", name, r) != 0)
		return -1;
	if (name == NULL || !store_name_valid(name))
		ops_fail(r, OPS_NOTFOUND, "no group named %.64s",
		         name != NULL ? name : "");
	else
		ops_group_result(store_group_remove(o->st, name), name, r);
	ops_record(o, "groups/remove", name, NULL, r);
	return r->status == OPS_OK ? 0 : -1;
}

int
ops_user_set_group(struct ops *o, const char *user, const char *group,
                   struct ops_result *r)
{
	json_t *d = json_pack("{s:s?}", "group", group);
	struct customer c;

	if (ops_writable(o, "users/set-group", user, r) != 0) {
		json_decref(d);
		return -1;
	}
	if (ops_user_get(o, user, &c, r) == 0) {
		if (group != NULL && *group == '\0')
			group = NULL;
		if (group != NULL && !store_name_valid(group))
			ops_fail(r, OPS_NOTFOUND, "no group named %.64s",
			         group);
		else
			ops_group_result(
			    store_customer_set_group(o->st, c.id, group),
			    group != NULL ? group : "", r);
	}
	ops_record(o, "users/set-group", user, d, r);
	return r->status == OPS_OK ? 0 : -1;
}

int
ops_rate_set(struct ops *o, const char *user, int64_t service_id,
             const char *rule, struct ops_result *r)
{
	json_t *d = json_pack("{s:I,s:s?}", "service_id",
	                      (json_int_t)service_id, "rule", rule);
	struct customer c;
	size_t len = rule != NULL ? strlen(rule) : 0;
	int fixed = len > 0 && rule[len - 1] != '%';
	money_t v = 0;

	if (ops_writable(o, "rates/set", user, r) != 0) {
		json_decref(d);
		return -1;
	}
	if (ops_user_get(o, user, &c, r) != 0)
		goto done;
	if (service_id <= 0) {
		ops_fail(r, OPS_BAD, "service_id is a positive integer");
		goto done;
	}
	if (len == 0) {
		ops_fail(r, OPS_BAD,
		         "give a rate per 1000 (1.25) or a percent off (10%%)");
		goto done;
	}
	if (fixed ? ops_amount(o, rule, &v, r) != 0
	          : ops_percent(rule, 0, &v, r) != 0)
		goto done;
	ops_group_result(store_rate_set(o->st, c.id, service_id, fixed, v), "",
	                 r);
done:
	ops_record(o, "rates/set", user, d, r);
	return r->status == OPS_OK ? 0 : -1;
}

int
ops_rate_remove(struct ops *o, const char *user, int64_t service_id,
                struct ops_result *r)
{
	json_t *d = json_pack("{s:I}", "service_id", (json_int_t)service_id);
	struct customer c;
	enum store_result sr;

	if (ops_writable(o, "rates/remove", user, r) != 0) {
		json_decref(d);
		return -1;
	}
	if (ops_user_get(o, user, &c, r) == 0) {
		sr = store_rate_remove(o->st, c.id, service_id);
		if (sr == STORE_NOTFOUND)
			ops_fail(r, OPS_NOTFOUND,
			         "%s has no rate of their own for service %lld",
			         c.name, (long long)service_id);
		else
			ops_group_result(sr, "", r);
	}
	ops_record(o, "rates/remove", user, d, r);
	return r->status == OPS_OK ? 0 : -1;
}
