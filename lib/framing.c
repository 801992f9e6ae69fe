/* framing.c - see framing.h. */
#include <sys/queue.h>

#include <string.h>
#include <strings.h>

#include <event2/keyvalq_struct.h>

#include "framing.h"

const char *
framing_check(const struct evkeyvalq *headers)
{
	static const char bad_length[] =
	    "The request's Content-Length is not one plain decimal number.";
	const char *cl = NULL, *te = NULL;
	const struct evkeyval *h;
	size_t n;

	TAILQ_FOREACH(h, headers, next)
	{
		if (strpbrk(h->key, " \t") != NULL)
			return "A request header name holds white space.";
		if (strcasecmp(h->key, "Content-Length") == 0) {
			if (cl != NULL)
				return bad_length;
			cl = h->value;
		} else if (strcasecmp(h->key, "Transfer-Encoding") == 0) {
			if (te != NULL || strcasecmp(h->value, "chunked") != 0)
				return "The only Transfer-Encoding accepted is "
				       "chunked.";
			te = h->value;
		}
	}
	if (cl != NULL && te != NULL)
		return "A request may not have both Content-Length and "
		       "Transfer-Encoding.";
	if (cl != NULL) {
		n = strspn(cl, "0123456789");
		if (n == 0 || cl[n] != '\0' || (cl[0] == '0' && n > 1))
			return bad_length;
	}
	return NULL;
}
