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
	struct webhooks *hooks; /* NULL: none */
	const int *ready; /* non-zero while the API listener accepts */
};

struct admin *admin_new(struct event_base *base, const char *listen,
                        const struct admin_sources *src);
void admin_free(struct admin *a); /* NULL ok */

#endif
