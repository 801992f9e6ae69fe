/* route.c - route modes, upstream health and balance estimates, the
 * failover floor (route.h). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "money.h"
#include "route.h"

int
route_mode_parse(const char *s)
{
	if (s == NULL)
		return -1;
	if (strcmp(s, "ordered") == 0)
		return ROUTE_ORDERED;
	if (strcmp(s, "cheapest") == 0)
		return ROUTE_CHEAPEST;
	return -1;
}

int
route_same_link_parse(const char *s)
{
	if (s == NULL)
		return -1;
	if (strcmp(s, "off") == 0)
		return ROUTE_LINK_OFF;
	if (strcmp(s, "refuse") == 0)
		return ROUTE_LINK_REFUSE;
	if (strcmp(s, "reroute") == 0)
		return ROUTE_LINK_REROUTE;
	return -1;
}

void
route_health_note(struct route_health *h, enum route_outcome o, int64_t now_ms)
{
	h->ring[h->next] = (uint8_t)o;
	h->at[h->next] = now_ms;
	h->next = (h->next + 1) % ROUTE_HEALTH_WINDOW;
	if (h->n < ROUTE_HEALTH_WINDOW)
		h->n++;
}

void
route_health_counts(const struct route_health *h, int64_t now_ms, int *n,
                    int *rejected, int *unsent)
{
	*n = *rejected = *unsent = 0;
	for (int i = 0; i < h->n; i++) {
		if (now_ms - h->at[i] > ROUTE_HEALTH_AGE_MS)
			continue;
		(*n)++;
		*rejected += h->ring[i] == ROUTE_REJECTED;
		*unsent += h->ring[i] == ROUTE_NOT_SENT;
	}
}

int
route_health_ok(const struct route_health *h, money_t threshold, int64_t now_ms)
{
	int rejected, unsent, n;

	route_health_counts(h, now_ms, &n, &rejected, &unsent);
	if (n < ROUTE_HEALTH_MIN)
		return 1;
	/* share >= threshold: count x 100 >= threshold x n */
	return (money_t)rejected * 100 * MONEY_SCALE < threshold * (money_t)n &&
	       (money_t)unsent * 100 * MONEY_SCALE < threshold * (money_t)n;
}

void
route_balance_set(struct route_balance *b, money_t balance)
{
	b->known = 1;
	b->estimate = balance;
}

int
route_balance_can_pay(const struct route_balance *b, money_t cost)
{
	return !b->known || b->estimate >= cost;
}

void
route_balance_move(struct route_balance *b, money_t cost, int sign)
{
	money_t v;

	if (!b->known)
		return;
	if ((sign < 0 ? money_sub(b->estimate, cost, &v)
	              : money_add(b->estimate, cost, &v)) == 0)
		b->estimate = v;
}

int
route_balance_low(struct route_balance *b, money_t low)
{
	if (!b->known || low <= 0)
		return 0;
	if (b->estimate >= low) {
		b->low = 0;
		return 0;
	}
	if (b->low)
		return 0;
	b->low = 1;
	return 1;
}

int
route_floor_ok(money_t cost, money_t rate, money_t min_margin)
{
	money_t extra, floor;

	if (money_mul_div(cost, min_margin, 100 * MONEY_SCALE, MONEY_ROUND_UP,
	                  &extra) != 0 ||
	    money_add(cost, extra, &floor) != 0)
		return 0;
	return floor <= rate;
}

int
route_order_cost(money_t charge, money_t cost, money_t rate, money_t *out)
{
	if (rate <= 0)
		return -1;
	return money_mul_div(charge, cost, rate, MONEY_ROUND_UP, out);
}

/* Whether A goes before B in CHEAPEST order. */
static int
route_before(const struct route_cand *a, const struct route_cand *b)
{
	if (a->healthy != b->healthy)
		return a->healthy;
	return a->cost < b->cost;
}

size_t
route_order(enum route_mode mode, struct route_cand *v, size_t n, money_t rate,
            money_t min_margin)
{
	size_t kept = 0;

	for (size_t i = 0; i < n; i++)
		if (route_floor_ok(v[i].cost, rate, min_margin))
			v[kept++] = v[i];
	if (mode != ROUTE_CHEAPEST)
		return kept;
	/* Insertion sort: stable, and N <= a service's few routes. */
	for (size_t i = 1; i < kept; i++) {
		struct route_cand c = v[i];
		size_t k = i;

		for (; k > 0 && route_before(&c, &v[k - 1]); k--)
			v[k] = v[k - 1];
		v[k] = c;
	}
	return kept;
}
