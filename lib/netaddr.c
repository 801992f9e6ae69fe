/* netaddr.c - public and non-public destinations (netaddr.h).  The ranges
 * are IANA's special-purpose registries (RFC 6890 and its updates): what
 * a webhook receiver on the Internet never has. */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "netaddr.h"

/* Is IPv4 address A (host order) outside the public unicast space? */
static int
netaddr_v4_private(uint32_t a)
{
	static const struct {
		uint32_t net;
		int bits;
	} ranges[] = {
	    {0x00000000, 8},  /* 0/8 "this network" */
	    {0x0a000000, 8},  /* 10/8 private */
	    {0x64400000, 10}, /* 100.64/10 shared (CGNAT) */
	    {0x7f000000, 8},  /* 127/8 loopback */
	    {0xa9fe0000, 16}, /* 169.254/16 link-local (cloud metadata) */
	    {0xac100000, 12}, /* 172.16/12 private */
	    {0xc0000000, 24}, /* 192.0.0/24 protocol assignments */
	    {0xc0000200, 24}, /* 192.0.2/24 documentation */
	    {0xc0a80000, 16}, /* 192.168/16 private */
	    {0xc6120000, 15}, /* 198.18/15 benchmarking */
	    {0xc6336400, 24}, /* 198.51.100/24 documentation */
	    {0xcb007100, 24}, /* 203.0.113/24 documentation */
	    {0xe0000000, 4},  /* 224/4 multicast */
	    {0xf0000000, 4},  /* 240/4 reserved, broadcast */
	};

	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		uint32_t mask = 0xffffffffu << (32 - ranges[i].bits);

		if ((a & mask) == ranges[i].net)
			return 1;
	}
	return 0;
}

static int
netaddr_v6_private(const struct in6_addr *a)
{
	const uint8_t *b = a->s6_addr;
	static const uint8_t zero[16];

	if (IN6_IS_ADDR_V4MAPPED(a) || IN6_IS_ADDR_V4COMPAT(a) ||
	    (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b))
		/* ::ffff:a.b.c.d, ::a.b.c.d, 64:ff9b::a.b.c.d (NAT64) */
		return netaddr_v4_private((uint32_t)b[12] << 24 |
		                          (uint32_t)b[13] << 16 |
		                          (uint32_t)b[14] << 8 | b[15]);
	if (memcmp(b, zero, 15) == 0 && (b[15] == 0 || b[15] == 1))
		return 1; /* :: and ::1 */
	if ((b[0] & 0xfe) == 0xfc)
		return 1; /* fc00::/7 unique local */
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return 1; /* fe80::/10 link-local */
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
		return 1; /* fec0::/10 site-local (deprecated) */
	if (b[0] == 0xff)
		return 1; /* multicast */
	if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
		return 1; /* 2001:db8::/32 documentation */
	if (b[0] == 0x20 && b[1] == 0x02)
		return 1; /* 2002::/16 6to4: it embeds any IPv4 address */
	return (b[0] & 0xe0) != 0x20; /* outside 2000::/3 global unicast */
}

int
netaddr_private(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return netaddr_v4_private(
		    ntohl(((const struct sockaddr_in *)(const void *)sa)
		              ->sin_addr.s_addr));
	if (sa->sa_family == AF_INET6)
		return netaddr_v6_private(
		    &((const struct sockaddr_in6 *)(const void *)sa)
		         ->sin6_addr);
	return 1;
}

/* The URL's scheme, host and whether it carries credentials, into the
 * buffers: 0, or -1 with WHY. */
static int
netaddr_parse(const char *url, char *scheme, size_t slen, char *host,
              size_t hlen, char *why, size_t len)
{
	CURLU *u = curl_url();
	char *sc = NULL, *h = NULL, *user = NULL;
	int rc = -1;

	if (u == NULL) {
		snprintf(why, len, "out of memory");
		return -1;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &sc, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK)
		snprintf(why, len, "not an absolute URL: %s", url);
	else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK)
		snprintf(why, len,
		         "the URL carries credentials: deliveries are "
		         "signed, put no secret in the URL");
	else {
		snprintf(scheme, slen, "%s", sc);
		/* an IPv6 literal comes bracketed */
		if (h[0] == '[') {
			size_t n = strlen(h);

			snprintf(host, hlen, "%.*s", (int)(n > 2 ? n - 2 : 0),
			         h + 1);
		} else
			snprintf(host, hlen, "%s", h);
		rc = 0;
	}
	curl_free(sc);
	curl_free(h);
	curl_free(user);
	curl_url_cleanup(u);
	return rc;
}

int
netaddr_check_url(const char *url, int allow_private, char *why, size_t len)
{
	char scheme[16], host[256];
	struct addrinfo hints, *res = NULL, *ai;
	int rc;

	if (strlen(url) > 1024) {
		snprintf(why, len, "the URL is longer than 1024 bytes");
		return -1;
	}
	if (netaddr_parse(url, scheme, sizeof(scheme), host, sizeof(host), why,
	                  len) != 0)
		return -1;
	if (strcmp(scheme, "https") != 0 &&
	    !(allow_private && strcmp(scheme, "http") == 0)) {
		snprintf(why, len,
		         "the URL must be https:// (plain http only with "
		         "webhooks.allow_private)");
		return -1;
	}
	if (allow_private)
		return 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, NULL, &hints, &res)) != 0) {
		snprintf(why, len, "cannot resolve %s: %s", host,
		         gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next)
		if (netaddr_private(ai->ai_addr)) {
			snprintf(why, len,
			         "%s is a private, loopback or link-local "
			         "address: refused (webhooks.allow_private "
			         "allows it)",
			         host);
			freeaddrinfo(res);
			return -1;
		}
	freeaddrinfo(res);
	return 0;
}
