/* linknorm.c - the same-link guard's link key (linknorm.h). */
#include <stddef.h>
#include <string.h>

#include "linknorm.h"

static int
linknorm_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
	       c == '\v';
}

static char
linknorm_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Whether S (LEN bytes) starts with PREFIX, ASCII case-insensitively. */
static int
linknorm_prefix(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	if (len < n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (linknorm_lower(s[i]) != prefix[i])
			return 0;
	return 1;
}

/* Whether query parameter NAME (LEN bytes) only tracks. */
static int
linknorm_tracking(const char *name, size_t len)
{
	static const char *const names[] = {"igshid",  "igsh",    "fbclid",
	                                    "gclid",   "si",      "ref",
	                                    "ref_src", "feature", "mibextid"};

	if (linknorm_prefix(name, len, "utm_"))
		return 1;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len &&
		    linknorm_prefix(name, len, names[i]))
			return 1;
	return 0;
}

/* Append S (LEN bytes) to OUT at *AT; -1 past SIZE - 1. */
static int
linknorm_put(char *out, size_t size, size_t *at, const char *s, size_t len)
{
	if (len >= size - *at)
		return -1;
	memcpy(out + *at, s, len);
	*at += len;
	return 0;
}

/* The host of an authority A (LEN bytes), lower-cased, into OUT. */
static int
linknorm_host(const char *a, size_t len, char *out, size_t size, size_t *at)
{
	size_t start = *at;

	for (size_t i = len; i > 0; i--) {
		if (a[i - 1] == '@') { /* user info: up to the last '@' */
			a += i;
			len -= i;
			break;
		}
	}
	while (len > 0 && linknorm_space(a[0])) {
		a++;
		len--;
	}
	while (len > 0 && linknorm_space(a[len - 1]))
		len--;
	if (len >= 3 && memcmp(a + len - 3, ":80", 3) == 0)
		len -= 3;
	else if (len >= 4 && memcmp(a + len - 4, ":443", 4) == 0)
		len -= 4;
	while (len > 0 && a[len - 1] == '.')
		len--;
	for (;;) {
		if (linknorm_prefix(a, len, "www.") && len > 4) {
			a += 4;
			len -= 4;
		} else if (linknorm_prefix(a, len, "m.") && len > 2) {
			a += 2;
			len -= 2;
		} else {
			break;
		}
	}
	if (linknorm_put(out, size, at, a, len) != 0)
		return -1;
	for (size_t i = start; i < *at; i++)
		out[i] = linknorm_lower(out[i]);
	return 0;
}

/* The query Q (LEN bytes, after '?') without tracking parameters. */
static int
linknorm_query(const char *q, size_t len, char *out, size_t size, size_t *at)
{
	int first = 1;

	while (len > 0) {
		const char *amp = memchr(q, '&', len);
		size_t plen = amp != NULL ? (size_t)(amp - q) : len;
		const char *eq = memchr(q, '=', plen);
		size_t nlen = eq != NULL ? (size_t)(eq - q) : plen;

		if (plen > 0 && !linknorm_tracking(q, nlen)) {
			if (linknorm_put(out, size, at, first ? "?" : "&", 1) !=
			        0 ||
			    linknorm_put(out, size, at, q, plen) != 0)
				return -1;
			first = 0;
		}
		if (amp == NULL)
			break;
		len -= plen + 1;
		q = amp + 1;
	}
	return 0;
}

/* Whether S (LEN bytes, no scheme) reads as a host and a path: no ':',
 * a '/' and a '.' before it ("instagram.com/p/x", not "@user"). */
static int
linknorm_bare_web(const char *s, size_t len)
{
	const char *slash = memchr(s, '/', len);

	return memchr(s, ':', len) == NULL && slash != NULL &&
	       memchr(s, '.', (size_t)(slash - s)) != NULL;
}

int
linknorm(const char *link, size_t len, char *out, size_t size)
{
	size_t at = 0, hlen, plen;
	const char *s = link, *hash, *qm, *slash;

	if (size == 0)
		return -1;
	len = strnlen(link, len); /* a C string's link ends at its NUL */
	while (len > 0 && linknorm_space(s[0])) {
		s++;
		len--;
	}
	while (len > 0 && linknorm_space(s[len - 1]))
		len--;
	out[0] = '\0';
	if (len == 0)
		return -1;
	if (linknorm_prefix(s, len, "https://") ||
	    linknorm_prefix(s, len, "http://")) {
		size_t n = linknorm_lower(s[4]) == 's' ? 8 : 7;

		s += n;
		len -= n;
		while (len > 0 && linknorm_space(s[0])) {
			s++;
			len--;
		}
	} else if (!linknorm_bare_web(s, len)) {
		/* Not a web link (a username, another scheme): as given. */
		if (linknorm_put(out, size, &at, s, len) != 0)
			return -1;
		out[at] = '\0';
		return (int)at;
	}
	if ((hash = memchr(s, '#', len)) != NULL)
		len = (size_t)(hash - s);
	qm = memchr(s, '?', len);
	slash = memchr(s, '/', qm != NULL ? (size_t)(qm - s) : len);
	hlen = slash != NULL ? (size_t)(slash - s)
	       : qm != NULL  ? (size_t)(qm - s)
	                     : len;
	if (linknorm_host(s, hlen, out, size, &at) != 0)
		return -1;
	plen = (qm != NULL ? (size_t)(qm - s) : len) - hlen;
	while (plen > 0 && s[hlen + plen - 1] == '/')
		plen--;
	if (linknorm_put(out, size, &at, s + hlen, plen) != 0)
		return -1;
	if (qm != NULL && linknorm_query(qm + 1, len - (size_t)(qm + 1 - s),
	                                 out, size, &at) != 0)
		return -1;
	out[at] = '\0';
	return at > 0 ? (int)at : -1;
}
