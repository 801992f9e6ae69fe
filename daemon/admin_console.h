/* admin_console.h - the operator console's static files on listen.admin. */
#ifndef PANELMUX_ADMIN_CONSOLE_H
#define PANELMUX_ADMIN_CONSOLE_H

#include <stddef.h>

struct conns;
struct evhttp_request;

/* One file of console/, built into the binary by console/embed.py. */
struct admin_console_asset {
	const char *path; /* "/" or "/assets/NAME.HASH.EXT" */
	const char *type; /* Content-Type */
	const char *etag; /* quoted */
	const unsigned char *data;
	size_t len;
	const unsigned char *gz; /* gzip of data, or NULL when not smaller */
	size_t gzlen;
	int immutable; /* a hashed name: cached for a year */
};

/* The generated table (build/gen/admin_console_assets.c). */
extern const struct admin_console_asset admin_console_assets[];
extern const size_t admin_console_nassets;

/* Answer REQ if PATH is one of the console's files (telling CONNS, the
 * listener's connection guard, it was answered): 0 answered, -1 not the
 * console's (REQ untouched). */
int admin_console_handle(struct conns *conns, struct evhttp_request *req,
                         const char *path);

#endif
