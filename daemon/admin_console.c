/* admin_console.c - the operator console's files, built into the binary,
 * served from / on listen.admin.  The page reads and writes only through
 * the admin API (DESIGN.md "Console"); this file only serves bytes, with
 * the headers that keep them to this origin. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "admin_console.h"
#include "conns.h"

/* No script, style, frame or form target but this origin's files; images
 * only from here or data: URIs (the stylesheet's icons). */
#define ADMIN_CONSOLE_CSP                                                      \
	"default-src 'none'; script-src 'self'; style-src 'self'; "            \
	"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "   \
	"base-uri 'none'; form-action 'self'"
#define ADMIN_CONSOLE_HEADER_MAX 1024 /* bytes of Accept-Encoding looked at */

/* Whether an Accept-Encoding value accepts gzip (a "gzip" or "*" coding
 * without q=0). */
static int
admin_console_gzip_ok(const char *ae)
{
	char buf[ADMIN_CONSOLE_HEADER_MAX];
	char *save = NULL, *tok;

	if (ae == NULL || strlen(ae) >= sizeof(buf))
		return 0;
	memcpy(buf, ae, strlen(ae) + 1);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		char *q = strchr(tok, ';');
		size_t n;

		while (*tok == ' ' || *tok == '\t')
			tok++;
		n = q != NULL ? (size_t)(q - tok) : strlen(tok);
		while (n > 0 && (tok[n - 1] == ' ' || tok[n - 1] == '\t'))
			n--;
		if (!((n == 4 && strncasecmp(tok, "gzip", 4) == 0) ||
		      (n == 1 && tok[0] == '*')))
			continue;
		if (q != NULL) {
			const char *v = strstr(q, "q=");

			if (v != NULL && strtod(v + 2, NULL) <= 0.0)
				return 0;
		}
		return 1;
	}
	return 0;
}

static const struct admin_console_asset *
admin_console_find(const char *path)
{
	if (strcmp(path, "/index.html") == 0)
		path = "/";
	for (size_t i = 0; i < admin_console_nassets; i++)
		if (strcmp(admin_console_assets[i].path, path) == 0)
			return &admin_console_assets[i];
	return NULL;
}

/* Send REQ's reply, telling the connection guard it was answered. */
static void
admin_console_send(struct conns *conns, struct evhttp_request *req, int status,
                   const char *reason)
{
	conns_request_answered(conns, req);
	evhttp_send_reply(req, status, reason, NULL);
}

int
admin_console_handle(struct conns *conns, struct evhttp_request *req,
                     const char *path)
{
	const struct admin_console_asset *a =
	    path != NULL ? admin_console_find(path) : NULL;
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	const char *inm = evhttp_find_header(in, "If-None-Match");
	int gz;

	if (a == NULL)
		return -1;
	evhttp_add_header(out, "Content-Security-Policy", ADMIN_CONSOLE_CSP);
	evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(out, "Referrer-Policy", "no-referrer");
	evhttp_add_header(out, "X-Frame-Options", "DENY");
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		evhttp_add_header(out, "Allow", "GET");
		evhttp_add_header(out, "Content-Type", "text/plain");
		evbuffer_add(evhttp_request_get_output_buffer(req),
		             "method not allowed\n", 19);
		admin_console_send(conns, req, 405, "Method Not Allowed");
		return 0;
	}
	/* The page itself is revalidated on each load (its ETag), so a new
	 * binary's page and the hashed names it points at arrive together;
	 * those never change under one name. */
	evhttp_add_header(out, "Cache-Control",
	                  a->immutable ? "public, max-age=31536000, immutable"
	                               : "no-cache");
	evhttp_add_header(out, "ETag", a->etag);
	evhttp_add_header(out, "Vary", "Accept-Encoding");
	if (inm != NULL &&
	    (strstr(inm, a->etag) != NULL || strcmp(inm, "*") == 0)) {
		admin_console_send(conns, req, 304, "Not Modified");
		return 0;
	}
	gz = a->gz != NULL &&
	     admin_console_gzip_ok(evhttp_find_header(in, "Accept-Encoding"));
	evhttp_add_header(out, "Content-Type", a->type);
	if (gz)
		evhttp_add_header(out, "Content-Encoding", "gzip");
	/* The bytes live as long as the program: no copy. */
	evbuffer_add_reference(evhttp_request_get_output_buffer(req),
	                       gz ? a->gz : a->data, gz ? a->gzlen : a->len,
	                       NULL, NULL);
	admin_console_send(conns, req, 200, "OK");
	return 0;
}
