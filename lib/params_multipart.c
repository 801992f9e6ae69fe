/* params_multipart.c - the bounded multipart/form-data splitter (RFC
 * 7578): the boundary from the Content-Type parameters, each part's
 * Content-Disposition, and its content added as a field by params_add(). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif

#include <string.h>
#include <sys/types.h>

#include "params.h"
#include "params_int.h"

static int
params_is_ws(char c)
{
	return c == ' ' || c == '\t';
}

static const char *
params_skip_ws(const char *s, const char *e)
{
	while (s < e && params_is_ws(*s))
		s++;
	return s;
}

/* Read a header parameter value at *SP, before E: a quoted string (a
 * backslash escapes the next byte) or a token.  Up to OUTSZ - 1 bytes of it
 * go to OUT, NUL-terminated.  Returns its full length, or -1 if it is
 * malformed or holds a NUL byte. */
static ssize_t
params_read_value(const char **sp, const char *e, char *out, size_t outsz)
{
	const char *s = *sp;
	size_t n = 0;
	int quoted;

	if ((quoted = s < e && *s == '"'))
		s++;
	for (;; s++) {
		if (s == e) {
			if (quoted)
				return -1;
			break;
		}
		if (quoted && *s == '"') {
			s++;
			break;
		}
		if (!quoted && (params_is_ws(*s) || *s == ';'))
			break;
		if (quoted && *s == '\\' && ++s == e)
			return -1;
		if (*s == '\0')
			return -1;
		if (n + 1 < outsz)
			out[n] = *s;
		n++;
	}
	out[n + 1 < outsz ? n : outsz - 1] = '\0';
	*sp = s;
	return n;
}

/* The next "; name=value" parameter at *SP, before E: its name in *PN and
 * *PL, its value as params_read_value.  Returns 1, 0 at the end, -1 if
 * malformed. */
static int
params_next_param(const char **sp, const char *e, const char **pn, size_t *pl,
                  char *out, size_t outsz, ssize_t *vl)
{
	const char *s = *sp;

	for (;;) {
		s = params_skip_ws(s, e);
		if (s == e)
			return 0;
		if (*s != ';')
			return -1;
		s = params_skip_ws(s + 1, e);
		if (s < e && *s != ';')
			break;
	}
	*pn = s;
	while (s < e && !params_is_ws(*s) && *s != '=' && *s != ';')
		s++;
	*pl = s - *pn;
	s = params_skip_ws(s, e);
	if (*pl == 0 || s == e || *s != '=')
		return -1;
	s = params_skip_ws(s + 1, e);
	if ((*vl = params_read_value(&s, e, out, outsz)) < 0)
		return -1;
	*sp = s;
	return 1;
}

/* The boundary parameter among the Content-Type parameters S..E. */
static ssize_t
params_boundary(const char *s, const char *e, char *out)
{
	const char *pn;
	size_t pl;
	ssize_t vl, i;

	while (params_next_param(&s, e, &pn, &pl, out, PARAMS_MAX_BOUNDARY + 1,
	                         &vl) == 1) {
		if (!params_ieq(pn, pl, "boundary"))
			continue;
		if (vl < 1 || vl > PARAMS_MAX_BOUNDARY)
			return -1;
		for (i = 0; i < vl; i++)
			if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
				return -1;
		return vl;
	}
	return -1;
}

/* What the headers of one multipart part say. */
struct params_part {
	int seen;     /* Content-Disposition */
	int file;     /* it has a filename */
	ssize_t nlen; /* -1: no name */
	char name[PARAMS_MAX_NAME + 1];
};

/* One part header line S..E.  Returns 0, -1 if malformed, -2 if the field
 * name is too long. */
static int
params_part_header(const char *s, const char *e, struct params_part *part)
{
	char val[PARAMS_MAX_NAME + 1];
	const char *colon, *hn, *pn;
	size_t pl;
	ssize_t vl;
	int rc;

	if (params_is_ws(*s) || (colon = memchr(s, ':', e - s)) == NULL)
		return -1; /* folded lines are not supported */
	for (hn = colon; hn > s && params_is_ws(hn[-1]); hn--)
		;
	if (hn == s)
		return -1;
	if (!params_ieq(s, hn - s, "content-disposition"))
		return 0;
	if (part->seen++)
		return -1;
	s = params_skip_ws(colon + 1, e);
	for (hn = s; hn < e && !params_is_ws(*hn) && *hn != ';'; hn++)
		;
	if (!params_ieq(s, hn - s, "form-data"))
		return -1;
	while ((rc = params_next_param(&hn, e, &pn, &pl, val, sizeof val,
	                               &vl)) == 1) {
		if (params_ieq(pn, pl, "filename") ||
		    params_ieq(pn, pl, "filename*"))
			part->file = 1;
		if (!params_ieq(pn, pl, "name"))
			continue;
		if (vl > PARAMS_MAX_NAME)
			return -2;
		memcpy(part->name, val, vl + 1);
		part->nlen = vl;
	}
	return rc;
}

/* multipart/form-data (RFC 7578).  CPARAMS..CEND are the Content-Type
 * parameters.  A delimiter is "--boundary" at the start of the body or right
 * after an LF; a part is its header lines, an empty line, and the content up
 * to the CRLF (or LF) before the next delimiter. */
enum params_result
params_multipart(struct params *p, const char *cparams, const char *cend,
                 const char *body, size_t len, const char **why)
{
	static const char bad_boundary[] =
	    "The multipart boundary is missing or invalid.";
	static const char no_close[] =
	    "The multipart body has no closing boundary.";
	static const char bad_part[] = "A multipart part is malformed.";
	static const char no_name[] = "A multipart part has no field name.";
	char delim[3 + PARAMS_MAX_BOUNDARY + 1] = "\n--";
	struct params_part part;
	const char *end = body + len, *cur, *lf, *le, *c, *ce, *next;
	size_t dlen, bare;
	ssize_t blen;
	enum params_result r;
	int array, rc;

	if ((blen = params_boundary(cparams, cend, delim + 3)) < 0)
		return params_fail(why, PARAMS_BAD_ENCODING, bad_boundary);
	dlen = 3 + blen;
	if (len >= dlen - 1 && memcmp(body, delim + 1, dlen - 1) == 0)
		cur = body + dlen - 1;
	else if ((next = memmem(body, len, delim, dlen)) != NULL)
		cur = next + dlen;
	else
		return params_fail(why, PARAMS_BAD_ENCODING, no_close);
	for (;;) {
		/* CUR is just past a delimiter. */
		if (end - cur >= 2 && cur[0] == '-' && cur[1] == '-')
			return PARAMS_OK; /* the epilogue is ignored */
		cur = params_skip_ws(cur, end);
		if (cur < end && *cur == '\r')
			cur++;
		if (cur == end)
			return params_fail(why, PARAMS_BAD_ENCODING, no_close);
		if (*cur++ != '\n')
			return params_fail(why, PARAMS_BAD_ENCODING, bad_part);
		part.seen = part.file = 0;
		part.nlen = -1;
		for (;;) {
			if ((lf = memchr(cur, '\n', end - cur)) == NULL)
				return params_fail(why, PARAMS_BAD_ENCODING,
				                   no_close);
			le = lf > cur && lf[-1] == '\r' ? lf - 1 : lf;
			if (le == cur)
				break;
			if ((rc = params_part_header(cur, le, &part)) < 0)
				return params_fail(why, PARAMS_BAD_ENCODING,
				                   rc == -2 ? params_why_long
				                            : bad_part);
			cur = lf + 1;
		}
		/* Content starts after LF; an empty content may share the
		 * LF of the blank line with the next delimiter. */
		c = lf + 1;
		if ((next = memmem(lf, end - lf, delim, dlen)) == NULL)
			return params_fail(why, PARAMS_BAD_ENCODING, no_close);
		ce = next < c ? c : next;
		if (ce > c && ce[-1] == '\r')
			ce--;
		if (part.nlen < 0)
			return params_fail(why, PARAMS_BAD_ENCODING, no_name);
		if (!part.file) {
			array = params_array_name(part.name, part.nlen, &bare);
			r = params_add(p, part.name, bare, array, c, ce - c,
			               PARAMS_RAW, why);
			if (r != PARAMS_OK)
				return r;
		}
		cur = next + dlen;
	}
}
