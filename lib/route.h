/* route.h - how an add picks its routes (DESIGN.md, "Routing"): the route
 * modes, an upstream's health over its recent adds, its balance estimate,
 * the failover floor, and the same-link guard's modes.  Pure functions over
 * plain structs: the add dispatch (orders_add.c) and the panel's balance
 * reads (panel.c) hold the state. */
#ifndef PANELMUX_ROUTE_H
#define PANELMUX_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "money.h"

enum route_mode {
	ROUTE_ORDERED,  /* the configured order */
	ROUTE_CHEAPEST, /* healthy routes by cost, then the others by cost */
};

enum route_same_link {
	ROUTE_LINK_OFF,
	ROUTE_LINK_REFUSE,  /* a second open order for the link is refused */
	ROUTE_LINK_REROUTE, /* ... goes to an upstream without one */
};

/* Parse "ordered" / "cheapest", "off" / "refuse" / "reroute": the value,
 * or -1. */
int route_mode_parse(const char *s);
int route_same_link_parse(const char *s);

/* An upstream's health: the outcomes of its last ROUTE_HEALTH_WINDOW adds
 * within ROUTE_HEALTH_AGE_MS.  It is unhealthy when, over at least
 * ROUTE_HEALTH_MIN of them, the share of definite rejections or the share
 * of adds not sent reaches the threshold (pricing.route_health, a
 * percent).  The age limit lets an upstream that `cheapest` stopped trying
 * first (and so hears little from) come back. */
#define ROUTE_HEALTH_WINDOW 20
#define ROUTE_HEALTH_MIN 5
#define ROUTE_HEALTH_AGE_MS (5 * 60 * 1000)

enum route_outcome { ROUTE_ACCEPTED, ROUTE_REJECTED, ROUTE_NOT_SENT };

struct route_health {
	uint8_t ring[ROUTE_HEALTH_WINDOW]; /* enum route_outcome */
	int64_t at[ROUTE_HEALTH_WINDOW];   /* ms (the orders clock) */
	int n, next;
};

/* Outcome O of an add at NOW_MS. */
void route_health_note(struct route_health *h, enum route_outcome o,
                       int64_t now_ms);
/* 1 healthy, 0 not, at NOW_MS.  THRESHOLD is a percent (money_t, 50% =
 * 50.0). */
int route_health_ok(const struct route_health *h, money_t threshold,
                    int64_t now_ms);
/* The adds in H's window at NOW_MS (*N), and of those the definite
 * rejections and the not-sent. */
void route_health_counts(const struct route_health *h, int64_t now_ms, int *n,
                         int *rejected, int *unsent);

/* What this instance knows of an upstream's balance, in the panel
 * currency: the last balance read, lowered by the cost of each order sent
 * since (and raised again by one that was not sent or was refused).  Per
 * instance: other instances' sends show at the next read. */
struct route_balance {
	int known; /* 0: no read yet (or the panel has no balance call) */
	money_t estimate;
	int low; /* under the upstream's low_balance (logged once) */
};

/* A read: the estimate becomes BALANCE. */
void route_balance_set(struct route_balance *b, money_t balance);
/* Whether the estimate can pay COST: 1 yes (or unknown), 0 no. */
int route_balance_can_pay(const struct route_balance *b, money_t cost);
/* Lower (SIGN -1) or raise (+1) the estimate by COST, if known. */
void route_balance_move(struct route_balance *b, money_t cost, int sign);
/* Whether the estimate just fell under LOW (> 0): 1 once per fall (the
 * caller logs it), 0 otherwise; back at or over LOW re-arms it. */
int route_balance_low(struct route_balance *b, money_t low);

/* The failover floor: whether a route of cost COST may serve an order
 * charged RATE (both per 1000, panel currency): COST x (1 + MIN_MARGIN /
 * 100) <= RATE.  MIN_MARGIN is a percent (money_t).  0 on overflow. */
int route_floor_ok(money_t cost, money_t rate, money_t min_margin);

/* An order's cost on a route: CHARGE x COST / RATE rounded up (the cost
 * orders_add_done records).  0, or -1 on overflow or RATE <= 0. */
int route_order_cost(money_t charge, money_t cost, money_t rate, money_t *out);

struct route_cand {
	size_t upstream; /* index into config.upstreams */
	int64_t service;
	money_t cost;
	int healthy; /* route_health_ok of its upstream */
};

/* Order the N candidates V (given in the configured order) for MODE,
 * dropping those under the floor for RATE and MIN_MARGIN: ORDERED keeps
 * the configured order; CHEAPEST puts the healthy ones first by cost, then
 * the others by cost, equal costs in the configured order.  The number
 * kept (the first ones of V). */
size_t route_order(enum route_mode mode, struct route_cand *v, size_t n,
                   money_t rate, money_t min_margin);

#endif
