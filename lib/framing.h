/* framing.h - whether an HTTP request's body framing is one that every
 * reader agrees on.  A proxy in front of panelmux that reads the framing
 * otherwise (the second of two lengths, a signed one, Transfer-Encoding
 * over Content-Length) would pass a request hidden in the body: request
 * smuggling.  Pure: no sockets; the headers are libevent's list. */
#ifndef PANELMUX_FRAMING_H
#define PANELMUX_FRAMING_H

struct evkeyvalq;

/* NULL if HEADERS frame the body soundly (RFC 9112 section 6: at most one
 * Content-Length, of plain decimal digits without a sign or a leading
 * zero; or Transfer-Encoding "chunked" alone; never both; no white space
 * in a field name), else the reason, an English sentence for a 400. */
const char *framing_check(const struct evkeyvalq *headers);

#endif
