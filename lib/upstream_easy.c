/* upstream_easy.c - one call's libcurl easy handle: its options (TLS,
 * HTTP version, timeouts, fresh connection for writes, the shared TLS
 * session and DNS caches), its reply cap, the public-address check of
 * senders, and how its end is classified (not sent, replied, lost).
 */
#include <sys/socket.h>

#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "netaddr.h"
#include "upstream_int.h"

#define UP_USER_AGENT "panelmux/0.1"

static size_t
up_write_fn(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct up_call *c = arg;
	size_t n = size * nmemb;

	if (c->up->sender) {
		/* Only the status matters: the reply's head is kept, the
		 * rest read and dropped (the call's timeout bounds it). */
		if (c->reply.len < c->max_reply)
			buf_add(&c->reply, ptr,
			        n < c->max_reply - c->reply.len
			            ? n
			            : c->max_reply - c->reply.len);
		return n;
	}
	if (c->reply.len + n > c->max_reply ||
	    buf_add(&c->reply, ptr, n) != 0) {
		c->too_big = 1;
		return 0; /* CURLE_WRITE_ERROR ends the transfer */
	}
	return n;
}

/* CURLOPT_OPENSOCKETFUNCTION of a sender that may reach public addresses
 * only: the address libcurl is about to connect to, after every
 * resolution (a name that resolves to a private address now is refused
 * now, whatever it resolved to when it was registered). */
static curl_socket_t
up_open_public(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct up_call *c = arg;

	if (purpose != CURLSOCKTYPE_IPCXN || netaddr_private(&a->addr)) {
		snprintf(c->errbuf, sizeof(c->errbuf),
		         "refused: a private, loopback or link-local "
		         "address");
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype, a->protocol);
}

int
up_easy_setup(struct up_call *c)
{
	struct upstream *u = c->up;
	CURL *e;

	if ((e = c->easy = curl_easy_init()) == NULL)
		return -1;
	if (c->headers == NULL) {
		c->headers = curl_slist_append(NULL, "Expect:");
		c->headers = curl_slist_append(
		    c->headers,
		    "Content-Type: application/x-www-form-urlencoded");
	}
	if (c->headers == NULL)
		return -1;
	if (curl_easy_setopt(e, CURLOPT_URL,
	                     c->url != NULL ? c->url : u->url) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR,
	                     u->http_ok ? "http,https" : "https") != CURLE_OK)
		return -1;
	if (u->public_only) {
		curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, up_open_public);
		curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, c);
	}
	curl_easy_setopt(e, CURLOPT_PRIVATE, c);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
	                 (curl_off_t)c->body_len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, up_write_fn);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)u->timeout_ms);
	/* TCP and TLS: a stalled handshake holds a slot this long, and
	 * ends UP_NOT_SENT (up_easy_classify). */
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	                 (long)(u->timeout_ms < u->connect_timeout_ms
	                            ? u->timeout_ms
	                            : u->connect_timeout_ms));
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_PROXY, ""); /* ignore *_proxy variables */
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	/* The CA bundle file, never the CA directory: with a CApath (Debian
	 * builds libcurl with /etc/ssl/certs) libcurl 7.88 does not cache the
	 * store in the multi handle and parses the whole bundle for each new
	 * connection, ~25 ms of CPU per add; without it one store is kept
	 * (CURLOPT_CA_CACHE_TIMEOUT, 24 h).  With ca_file, it alone is
	 * trusted. */
	if (curl_easy_setopt(e, CURLOPT_CAPATH, NULL) != CURLE_OK ||
	    (u->ca_file != NULL &&
	     curl_easy_setopt(e, CURLOPT_CAINFO, u->ca_file) != CURLE_OK))
		return -1;
	/* Resumed TLS sessions for fresh connections (up_engine.share). */
	curl_easy_setopt(e, CURLOPT_SHARE, u->eng->share);
	/* A fresh connection carries one request: HTTP/2 has nothing to
	 * multiplex there, and with it libcurl 7.88's sessions were not
	 * resumed by nginx (DESIGN.md "Upstreams across a WAN"). */
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
	                 u->http2 && !(c->flags & UP_FRESH)
	                     ? (long)CURL_HTTP_VERSION_2TLS
	                     : (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_USERAGENT, UP_USER_AGENT);
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	if (c->flags & UP_FRESH) {
		curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	} else {
		/* Probes only for connections that outlive their call (three
		 * setsockopt calls each): a fresh one lives for one request,
		 * bounded by the call's timeout. */
		curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	}
	return 0;
}

void
up_easy_classify(struct up_call *c, CURLcode code)
{
	curl_off_t pretransfer = 0;

	if (code == CURLE_OK) {
		c->res.transport = UP_REPLIED;
		curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE,
		                  &c->res.http_status);
		return;
	}
	if (c->too_big) {
		c->res.transport = UP_LOST;
		c->res.reason = "reply over the size cap";
		return;
	}
	/* Nothing was sent unless the transfer got past connect and TLS. */
	curl_easy_getinfo(c->easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
	switch (code) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
	/* An unknown CA, a wrong name: CURLE_SSL_CACERT is this same code
	 * since libcurl 7.62 (an alias in curl.h). */
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		c->res.transport = UP_NOT_SENT;
		break;
	default:
		c->res.transport = pretransfer == 0 ? UP_NOT_SENT : UP_LOST;
		break;
	}
	c->res.reason =
	    c->errbuf[0] != '\0' ? c->errbuf : curl_easy_strerror(code);
}
