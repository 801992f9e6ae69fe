/* admin.h - /metrics and /healthz on listen.admin. */
#ifndef PANELMUX_ADMIN_H
#define PANELMUX_ADMIN_H

struct event_base;
struct front;
struct orders;
struct panel;
struct store;
struct admin;

/* What the admin listener reports on; borrowed, must outlive it. */
struct admin_sources {
	struct front *front;
	struct panel *panel;
	struct orders *orders;
	struct store *st;
	const int *ready; /* non-zero while the API listener accepts */
};

/* The admin listener's connection caps (an operator's tools and a proxy,
 * not the public). */
#define ADMIN_MAX_CONNECTIONS 256
#define ADMIN_MAX_CONNECTIONS_PER_IP 64

struct admin *admin_new(struct event_base *base, const char *listen,
                        const struct admin_sources *src);
void admin_free(struct admin *a); /* NULL ok */

#endif
