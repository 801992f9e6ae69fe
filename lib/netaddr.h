/* netaddr.h - which destinations a webhook may reach: addresses that are
 * not public (loopback, private, link-local, shared, unspecified,
 * multicast, reserved; IPv4 inside IPv6 as the IPv4 address), and the
 * check of an endpoint's URL at registration. */
#ifndef PANELMUX_NETADDR_H
#define PANELMUX_NETADDR_H

#include <stddef.h>

struct sockaddr;

/* 1 if SA (AF_INET or AF_INET6) is not a public unicast address; 1 for
 * any other family too. */
int netaddr_private(const struct sockaddr *sa);

/* 0 if URL may be registered: an absolute https:// URL (http:// too with
 * ALLOW_PRIVATE) without credentials in it, whose host resolves, with
 * ALLOW_PRIVATE or not, only to public addresses.  Else -1 and WHY (LEN
 * bytes) says why in a sentence.  Resolves the host (blocking): call it
 * off the event loop or where blocking is fine (the CLI). */
int netaddr_check_url(const char *url, int allow_private, char *why,
                      size_t len);

#endif
