/* test_params.c - request decoding: form, multipart, JSON, query, ID lists. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "params.h"

#define FORM "application/x-www-form-urlencoded"
#define JSON "application/json"
#define MP "multipart/form-data; boundary="

/* Decode the NUL-terminated BODY by CTYPE into a fresh *P. */
static enum params_result
decode(struct params **p, const char *ctype, const char *body)
{
	const char *why = NULL;
	enum params_result r;

	*p = params_new();
	r = params_decode_body(*p, ctype, body, strlen(body), &why);
	if (r == PARAMS_OK)
		assert_null(why);
	else
		assert_non_null(why);
	return r;
}

/* The result of decoding BODY by CTYPE alone. */
static enum params_result
result(const char *ctype, const char *body)
{
	struct params *p;
	enum params_result r;

	r = decode(&p, ctype, body);
	if (r != PARAMS_OK)
		assert_int_equal(params_count(p), 0);
	params_free(p);
	return r;
}

static void
test_form_basic(void **state)
{
	struct params *p;

	assert_int_equal(decode(&p, FORM, "key=abc123&action=balance"),
	                 PARAMS_OK);
	assert_int_equal(params_count(p), 2);
	assert_string_equal(params_get(p, "key"), "abc123");
	assert_string_equal(params_get(p, "action"), "balance");
	assert_null(params_get(p, "Key"));
	assert_null(params_get(p, "missing"));
	params_free(p);
	params_free(NULL);
}

static void
test_form_escapes(void **state)
{
	struct params *p;

	assert_int_equal(decode(&p, FORM,
	                        "link=https%3A%2F%2Fx.com%2fp%3Fa%3D1%26b"
	                        "&comments=a+b%0Ac%2B&n%61me=v"),
	                 PARAMS_OK);
	assert_string_equal(params_get(p, "link"), "https://x.com/p?a=1&b");
	assert_string_equal(params_get(p, "comments"), "a b\nc+");
	assert_string_equal(params_get(p, "name"), "v");
	params_free(p);
	assert_int_equal(decode(&p, FORM, "a=%C3%A9%ff"), PARAMS_OK);
	assert_string_equal(params_get(p, "a"), "\xc3\xa9\xff");
	params_free(p);
}

static void
test_form_bad_escapes(void **state)
{
	assert_int_equal(result(FORM, "a=%"), PARAMS_BAD_ENCODING);
	assert_int_equal(result(FORM, "a=%4"), PARAMS_BAD_ENCODING);
	assert_int_equal(result(FORM, "a=%zz&b=1"), PARAMS_BAD_ENCODING);
	assert_int_equal(result(FORM, "a%=1"), PARAMS_BAD_ENCODING);
	assert_int_equal(result(FORM, "a=1&a=%g0"), PARAMS_BAD_ENCODING);
	assert_int_equal(result(FORM, "a=100%"), PARAMS_BAD_ENCODING);
}

static void
test_form_empty_pairs(void **state)
{
	struct params *p;

	assert_int_equal(decode(&p, FORM, "&&a=1&&b&=x&c=&"), PARAMS_OK);
	assert_int_equal(params_count(p), 3);
	assert_string_equal(params_get(p, "a"), "1");
	assert_string_equal(params_get(p, "b"), "");
	assert_string_equal(params_get(p, "c"), "");
	params_free(p);
	assert_int_equal(decode(&p, FORM, "&"), PARAMS_OK);
	assert_int_equal(params_count(p), 0);
	params_free(p);
}

static void
test_form_arrays(void **state)
{
	struct params *p;

	assert_int_equal(
	    decode(&p, FORM, "orders[]=1&orders[]=2&key=k&orders[]=3"),
	    PARAMS_OK);
	assert_int_equal(params_count(p), 2);
	assert_string_equal(params_get(p, "orders"), "1,2,3");
	assert_null(params_get(p, "orders[]"));
	params_free(p);
	/* http_build_query escapes the brackets and numbers the items */
	assert_int_equal(
	    decode(&p, FORM, "orders%5B0%5D=4&orders%5B1%5D=5&orders[10]=6"),
	    PARAMS_OK);
	assert_string_equal(params_get(p, "orders"), "4,5,6");
	params_free(p);
	/* not an array item: a literal name; no bare name: ignored */
	assert_int_equal(decode(&p, FORM, "o[x]=1&o[1][2]=2&[]=3&[0]=4"),
	                 PARAMS_OK);
	assert_int_equal(params_count(p), 2);
	assert_string_equal(params_get(p, "o[x]"), "1");
	assert_string_equal(params_get(p, "o[1][2]"), "2");
	params_free(p);
	assert_int_equal(decode(&p, FORM, "orders[]=&orders[]=2"), PARAMS_OK);
	assert_string_equal(params_get(p, "orders"), ",2");
	params_free(p);
}

static void
test_form_array_growth(void **state)
{
	struct params *p;
	char *body, *want, *b, *w;
	int i;

	/* items interleaved with other fields, past the first arena block */
	body = malloc(64 * 1000);
	want = malloc(16 * 1000);
	assert_non_null(body);
	assert_non_null(want);
	b = body;
	w = want;
	for (i = 0; i < 1000; i++) {
		b += sprintf(b, "orders[]=%d&f%d=v&", i + 1, i % 50);
		w += sprintf(w, "%s%d", i ? "," : "", i + 1);
	}
	assert_int_equal(decode(&p, FORM, body), PARAMS_OK);
	assert_int_equal(params_count(p), 51);
	assert_string_equal(params_get(p, "orders"), want);
	params_free(p);
	free(body);
	free(want);
}

static void
test_form_repeated(void **state)
{
	struct params *p;

	assert_int_equal(decode(&p, FORM, "a=1&a=2&b=x&a=3"), PARAMS_OK);
	assert_int_equal(params_count(p), 2);
	assert_string_equal(params_get(p, "a"), "1");
	params_free(p);
	assert_int_equal(decode(&p, FORM, "orders=9&orders[]=1"), PARAMS_OK);
	assert_string_equal(params_get(p, "orders"), "9");
	params_free(p);
	assert_int_equal(decode(&p, FORM, "orders[]=1&orders=9&orders[]=2"),
	                 PARAMS_OK);
	assert_string_equal(params_get(p, "orders"), "1,2");
	params_free(p);
}

static void
test_form_nul(void **state)
{
	static const char raw[] = "a=x\0y&b=1";
	struct params *p = params_new();
	const char *why = NULL;

	assert_int_equal(params_decode_body(p, FORM, raw, sizeof raw - 1, &why),
	                 PARAMS_BAD_ENCODING);
	assert_non_null(why);
	assert_int_equal(params_count(p), 0);
	params_free(p);
	assert_int_equal(result(FORM, "a=%00"), PARAMS_BAD_ENCODING);
	assert_int_equal(result(FORM, "a%00b=1"), PARAMS_BAD_ENCODING);
	/* also in a value that is skipped as a repeat */
	assert_int_equal(result(FORM, "a=1&a=%00"), PARAMS_BAD_ENCODING);
}

/* "f0=0&f1=1&..." with N fields */
static char *
many_fields(int n)
{
	char *s = malloc(16 * n + 1), *q = s;
	int i;

	assert_non_null(s);
	*q = '\0';
	for (i = 0; i < n; i++)
		q += sprintf(q, "%sf%d=%d", i ? "&" : "", i, i);
	return s;
}

static void
test_form_too_many(void **state)
{
	struct params *p;
	char *s;

	s = many_fields(PARAMS_MAX_FIELDS);
	assert_int_equal(decode(&p, FORM, s), PARAMS_OK);
	assert_int_equal(params_count(p), PARAMS_MAX_FIELDS);
	assert_string_equal(params_get(p, "f63"), "63");
	/* repeats of present names are fine even when full */
	assert_int_equal(params_decode_query(p, "f1=x&f2=y", 9, NULL),
	                 PARAMS_OK);
	assert_int_equal(params_decode_query(p, "new=1", 5, NULL),
	                 PARAMS_TOO_MANY);
	assert_int_equal(params_set_default(p, "key", "k"), -1);
	assert_int_equal(params_set_default(p, "f0", "k"), 0);
	assert_string_equal(params_get(p, "f0"), "0");
	params_free(p);
	free(s);
	s = many_fields(PARAMS_MAX_FIELDS + 1);
	assert_int_equal(result(FORM, s), PARAMS_TOO_MANY);
	assert_int_equal(result("text/plain", s), PARAMS_TOO_MANY);
	free(s);
}

static void
test_form_name_length(void **state)
{
	char body[256], name[PARAMS_MAX_NAME + 2];
	struct params *p;

	memset(name, 'n', sizeof name - 1);
	name[PARAMS_MAX_NAME] = '\0';
	snprintf(body, sizeof body, "%s=1", name);
	assert_int_equal(decode(&p, FORM, body), PARAMS_OK);
	assert_string_equal(params_get(p, name), "1");
	params_free(p);
	/* the limit is on the decoded name */
	snprintf(body, sizeof body, "%%6e%s=1", name + 1);
	assert_int_equal(decode(&p, FORM, body), PARAMS_OK);
	assert_string_equal(params_get(p, name), "1");
	params_free(p);
	name[PARAMS_MAX_NAME] = 'n';
	name[PARAMS_MAX_NAME + 1] = '\0';
	snprintf(body, sizeof body, "%s=1", name);
	assert_int_equal(result(FORM, body), PARAMS_BAD_ENCODING);
	snprintf(body, sizeof body,
	         "--B\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n"
	         "1\r\n--B--",
	         name);
	assert_int_equal(result(MP "B", body), PARAMS_BAD_ENCODING);
	snprintf(body, sizeof body, "%s", name);
	assert_int_equal(result(FORM, body), PARAMS_BAD_ENCODING);
	assert_int_equal(result(JSON, "{\"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
	                              "nnnnnnnnnnnnnnnnnnnnnnnnnnnnn\":1}"),
	                 PARAMS_BAD_ENCODING);
}

static void
test_content_types(void **state)
{
	struct params *p;

	/* no type, or unknown: form data */
	assert_int_equal(decode(&p, NULL, "key=k&action=balance"), PARAMS_OK);
	assert_string_equal(params_get(p, "action"), "balance");
	params_free(p);
	assert_int_equal(decode(&p, "", "a=1"), PARAMS_OK);
	assert_string_equal(params_get(p, "a"), "1");
	params_free(p);
	assert_int_equal(decode(&p, "text/plain", "a=1"), PARAMS_OK);
	assert_string_equal(params_get(p, "a"), "1");
	params_free(p);
	assert_int_equal(result("text/plain", "a=%zz"),
	                 PARAMS_UNSUPPORTED_TYPE);
	assert_int_equal(result(NULL, "a=%zz"), PARAMS_BAD_ENCODING);
	assert_int_equal(result("multipart/mixed; boundary=x", "--x--"),
	                 PARAMS_UNSUPPORTED_TYPE);
	/* case and parameters; other charsets pass bytes through */
	assert_int_equal(decode(&p,
	                        "  APPLICATION/X-WWW-Form-URLencoded ;"
	                        " charset=ISO-8859-1",
	                        "a=caf\xe9&b=%E9"),
	                 PARAMS_OK);
	assert_string_equal(params_get(p, "a"), "caf\xe9");
	assert_string_equal(params_get(p, "b"), "\xe9");
	params_free(p);
	/* an empty body is no fields whatever the type */
	assert_int_equal(decode(&p, JSON, ""), PARAMS_OK);
	assert_int_equal(params_count(p), 0);
	params_free(p);
	assert_int_equal(result("multipart/form-data", ""), PARAMS_OK);
}

static void
test_multipart_quoted(void **state)
{
	struct params *p;

	assert_int_equal(
	    decode(&p, "Multipart/Form-Data; charset=utf-8; boundary=\"a b:c\"",
	           "preamble\r\n"
	           "--a b:c\r\n"
	           "Content-Disposition: form-data; name=\"key\"\r\n"
	           "\r\n"
	           "k123\r\n"
	           "--a b:c\r\n"
	           "content-DISPOSITION : Form-Data ; name=\"action\"\r\n"
	           "Content-Type: text/plain\r\n"
	           "\r\n"
	           "balance\r\n"
	           "--a b:c\r\n"
	           "Content-Disposition: form-data; name=comments\r\n"
	           "\r\n"
	           "line1\r\nline2\r\n-- not a delimiter\r\n"
	           "--a b:c--\r\n"
	           "epilogue --a b:c garbage"),
	    PARAMS_OK);
	assert_int_equal(params_count(p), 3);
	assert_string_equal(params_get(p, "key"), "k123");
	assert_string_equal(params_get(p, "action"), "balance");
	assert_string_equal(params_get(p, "comments"),
	                    "line1\r\nline2\r\n-- not a delimiter");
	params_free(p);
}

static void
test_multipart_lf(void **state)
{
	struct params *p;

	assert_int_equal(decode(&p, MP "XyZ",
	                        "--XyZ\n"
	                        "Content-Disposition: form-data; name=\"a\"\n"
	                        "\n"
	                        "1\n"
	                        "--XyZ  \n"
	                        "Content-Disposition: form-data; name=\"e\"\n"
	                        "\n"
	                        "\n"
	                        "--XyZ\n"
	                        "Content-Disposition: form-data; name=\"f\"\n"
	                        "\n"
	                        "--XyZ--"),
	                 PARAMS_OK);
	assert_int_equal(params_count(p), 3);
	assert_string_equal(params_get(p, "a"), "1");
	assert_string_equal(params_get(p, "e"), "");
	assert_string_equal(params_get(p, "f"), "");
	params_free(p);
	assert_int_equal(decode(&p, MP "XyZ", "--XyZ--"), PARAMS_OK);
	assert_int_equal(params_count(p), 0);
	params_free(p);
}

static void
test_multipart_fields(void **state)
{
	static const char body[] =
	    "--B\r\n"
	    "Content-Disposition: form-data; name=\"up\"; "
	    "filename=\"x.bin\"\r\n"
	    "\r\n"
	    "\0\1\2\r\n"
	    "--B\r\n"
	    "Content-Disposition: form-data; name=\"orders[]\"\r\n"
	    "\r\n"
	    "1\r\n"
	    "--B\r\n"
	    "Content-Disposition: form-data; name=\"orders[]\"\r\n"
	    "\r\n"
	    "2\r\n"
	    "--B\r\n"
	    "Content-Disposition: form-data; name=\"q\\\"t\"\r\n"
	    "\r\n"
	    "v\r\n"
	    "--B--\r\n";
	struct params *p = params_new();

	assert_int_equal(
	    params_decode_body(p, MP "B", body, sizeof body - 1, NULL),
	    PARAMS_OK);
	assert_int_equal(params_count(p), 2);
	assert_null(params_get(p, "up"));
	assert_string_equal(params_get(p, "orders"), "1,2");
	assert_string_equal(params_get(p, "q\"t"), "v");
	params_free(p);
}

static void
test_multipart_malformed(void **state)
{
	static const char nul[] = "--B\r\n"
	                          "Content-Disposition: form-data; name=a\r\n"
	                          "\r\n"
	                          "x\0y\r\n"
	                          "--B--";
	struct params *p = params_new();

	assert_int_equal(
	    params_decode_body(p, MP "B", nul, sizeof nul - 1, NULL),
	    PARAMS_BAD_ENCODING);
	params_free(p);
	/* missing closing boundary */
	assert_int_equal(result(MP "B", "--B\r\n"
	                                "Content-Disposition: form-data; "
	                                "name=a\r\n\r\n1\r\n"),
	                 PARAMS_BAD_ENCODING);
	assert_int_equal(result(MP "B", "--B\r\n"
	                                "Content-Disposition: form-data; "
	                                "name=a\r\n\r\n1\r\n--B"),
	                 PARAMS_BAD_ENCODING);
	assert_int_equal(result(MP "B", "--B\r\n"
	                                "Content-Disposition: form-data; "
	                                "name=a\r\n"),
	                 PARAMS_BAD_ENCODING);
	assert_int_equal(result(MP "B", "--B"), PARAMS_BAD_ENCODING);
	assert_int_equal(result(MP "B", "no delimiter at all"),
	                 PARAMS_BAD_ENCODING);
	/* missing name, missing or wrong disposition, duplicate */
	assert_int_equal(result(MP "B", "--B\r\n"
	                                "Content-Disposition: form-data\r\n"
	                                "\r\n1\r\n--B--"),
	                 PARAMS_BAD_ENCODING);
	assert_int_equal(result(MP "B", "--B\r\n"
	                                "Content-Type: text/plain\r\n"
	                                "\r\n1\r\n--B--"),
	                 PARAMS_BAD_ENCODING);
	assert_int_equal(result(MP "B", "--B\r\n"
	                                "Content-Disposition: inline; "
	                                "name=a\r\n\r\n1\r\n--B--"),
	                 PARAMS_BAD_ENCODING);
	assert_int_equal(result(MP "B", "--B\r\n"
	                                "Content-Disposition: form-data; "
	                                "name=a\r\n"
	                                "Content-Disposition: form-data; "
	                                "name=b\r\n\r\n1\r\n--B--"),
	                 PARAMS_BAD_ENCODING);
	assert_int_equal(result(MP "B", "--B\r\n"
	                                "Content-Disposition: form-data; "
	                                "name=\"a\r\n\r\n1\r\n--B--"),
	                 PARAMS_BAD_ENCODING);
	/* no blank line after the headers */
	assert_int_equal(result(MP "B", "--B\r\n"
	                                "Content-Disposition: form-data; "
	                                "name=a\r\n1\r\n--B--"),
	                 PARAMS_BAD_ENCODING);
	/* a boundary-prefixed line inside content, junk after delimiter */
	assert_int_equal(result(MP "B", "--B\r\n"
	                                "Content-Disposition: form-data; "
	                                "name=a\r\n\r\n1\r\n--Bx\r\n--B--"),
	                 PARAMS_BAD_ENCODING);
	assert_int_equal(result(MP "B", "--Bjunk\r\n"
	                                "Content-Disposition: form-data; "
	                                "name=a\r\n\r\n1\r\n--B--"),
	                 PARAMS_BAD_ENCODING);
}

static void
test_multipart_boundary(void **state)
{
	char ctype[128], body[512];
	char b[PARAMS_MAX_BOUNDARY + 2];

	assert_int_equal(result("multipart/form-data", "--B--"),
	                 PARAMS_BAD_ENCODING);
	assert_int_equal(result(MP, "----"), PARAMS_BAD_ENCODING);
	assert_int_equal(result(MP "\"\"", "----"), PARAMS_BAD_ENCODING);
	assert_int_equal(result(MP "\"unterminated", "--unterminated--"),
	                 PARAMS_BAD_ENCODING);
	assert_int_equal(result("multipart/form-data; boundary", "--B--"),
	                 PARAMS_BAD_ENCODING);
	memset(b, 'b', sizeof b - 1);
	b[PARAMS_MAX_BOUNDARY] = '\0';
	snprintf(ctype, sizeof ctype, MP "%s", b);
	snprintf(body, sizeof body,
	         "--%s\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
	         "--%s--\r\n",
	         b, b);
	assert_int_equal(result(ctype, body), PARAMS_OK);
	b[PARAMS_MAX_BOUNDARY] = 'b';
	b[PARAMS_MAX_BOUNDARY + 1] = '\0';
	snprintf(ctype, sizeof ctype, MP "\"%s\"", b);
	snprintf(body, sizeof body,
	         "--%s\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
	         "--%s--\r\n",
	         b, b);
	assert_int_equal(result(ctype, body), PARAMS_BAD_ENCODING);
}

static void
test_json_numbers(void **state)
{
	struct params *p;

	assert_int_equal(
	    decode(&p, JSON,
	           "{\"service\":1,\"quantity\":\"100\",\"neg\":-5,"
	           "\"max\":9223372036854775807,\"a\":0.1,"
	           "\"b\":1e-7,\"c\":100.0,\"d\":1.5e3,"
	           "\"e\":-2.25,\"f\":1e21,"
	           "\"g\":0.30000000000000004,\"h\":-0.0,"
	           "\"i\":123456.789,\"j\":5e-324}"),
	    PARAMS_OK);
	assert_string_equal(params_get(p, "service"), "1");
	assert_string_equal(params_get(p, "quantity"), "100");
	assert_string_equal(params_get(p, "neg"), "-5");
	assert_string_equal(params_get(p, "max"), "9223372036854775807");
	assert_string_equal(params_get(p, "a"), "0.1");
	assert_string_equal(params_get(p, "b"), "0.0000001");
	assert_string_equal(params_get(p, "c"), "100");
	assert_string_equal(params_get(p, "d"), "1500");
	assert_string_equal(params_get(p, "e"), "-2.25");
	assert_string_equal(params_get(p, "f"), "1000000000000000000000");
	assert_string_equal(params_get(p, "g"), "0.30000000000000004");
	assert_string_equal(params_get(p, "h"), "0");
	assert_string_equal(params_get(p, "i"), "123456.789");
	assert_int_equal(strlen(params_get(p, "j")), 2 + 323 + 1);
	assert_true(strtod(params_get(p, "j"), NULL) == 5e-324);
	params_free(p);
}

/* The value of NAME after decoding BODY by CTYPE (which must succeed), in
 * BUF. */
static const char *
value_of(const char *ctype, const char *body, const char *name, char *buf,
         size_t size)
{
	struct params *p;
	const char *v;

	assert_int_equal(decode(&p, ctype, body), PARAMS_OK);
	v = params_get(p, name);
	assert_non_null(v);
	snprintf(buf, size, "%s", v);
	params_free(p);
	return buf;
}

/* Why decoding BODY by CTYPE fails with R. */
static const char *
why_of(const char *ctype, const char *body, enum params_result r)
{
	struct params *p = params_new();
	const char *why = NULL;

	assert_int_equal(params_decode_body(p, ctype, body, strlen(body), &why),
	                 r);
	assert_int_equal(params_count(p), 0);
	params_free(p);
	assert_non_null(why);
	return why;
}

static void
test_json_big_integers(void **state)
{
	static const char range[] =
	    "A number in the JSON body is out of range.";
	char buf[256], *s, *q;
	struct params *p;
	int i;

	/* beyond int64: the digits as sent, not "invalid JSON" */
	assert_string_equal(value_of(JSON,
	                             "{\"key\":\"k\",\"quantity\":"
	                             "99999999999999999999999,\"service\":1}",
	                             "quantity", buf, sizeof buf),
	                    "99999999999999999999999");
	assert_string_equal(
	    value_of(JSON, "{\"a\":9223372036854775808}", "a", buf, sizeof buf),
	    "9223372036854775808");
	assert_string_equal(value_of(JSON, "{\"a\" : -9223372036854775809 }",
	                             "a", buf, sizeof buf),
	                    "-9223372036854775809");
	assert_string_equal(value_of(JSON, "{\"a\":\n99999999999999999999\n}",
	                             "a", buf, sizeof buf),
	                    "99999999999999999999");
	/* in arrays, beside ordinary numbers, after a byte-order mark */
	assert_int_equal(
	    decode(&p, JSON,
	           "\xef\xbb\xbf{\"orders\":[1,99999999999999999999,"
	           "3,-99999999999999999999],\"n\":"
	           "9223372036854775807,\"r\":1.5}"),
	    PARAMS_OK);
	assert_string_equal(params_get(p, "orders"),
	                    "1,99999999999999999999,3,-99999999999999999999");
	assert_string_equal(params_get(p, "n"), "9223372036854775807");
	assert_string_equal(params_get(p, "r"), "1.5");
	params_free(p);
	/* the rest of the rules still hold */
	assert_int_equal(result(JSON, "{\"a\":99999999999999999999,\"a\":1}"),
	                 PARAMS_BAD_ENCODING);
	assert_int_equal(result(JSON, "[99999999999999999999]"),
	                 PARAMS_BAD_ENCODING);
	assert_string_equal(
	    why_of(JSON, "{\"a\":99999999999999999999,}", PARAMS_BAD_ENCODING),
	    "The body is not valid JSON.");
	/* reals out of range, and too many big integers */
	assert_string_equal(why_of(JSON, "{\"a\":1e400}", PARAMS_BAD_ENCODING),
	                    range);
	assert_string_equal(
	    why_of(JSON, "{\"a\":-1.5E+99999}", PARAMS_BAD_ENCODING), range);
	s = malloc(40 * 20);
	assert_non_null(s);
	q = s + sprintf(s, "{\"a\":[");
	for (i = 0; i < 16; i++)
		q += sprintf(q, "%s99999999999999999999%d", i ? "," : "",
		             i % 10);
	strcpy(q, "]}");
	assert_int_equal(result(JSON, s), PARAMS_OK);
	strcpy(q, ",99999999999999999999]}");
	assert_string_equal(why_of(JSON, s, PARAMS_BAD_ENCODING), range);
	free(s);
}

static void
test_json_without_json_type(void **state)
{
	static const char body[] =
	    "{\"key\":\"0123456789abcdef0123456789abcdef\","
	    "\"action\":\"balance\"}";
	static const char *const types[] = {NULL, "", "text/plain",
	                                    "text/plain;charset=UTF-8",
	                                    "application/octet-stream"};
	char buf[64];
	const char *why;

	/* fetch() sends a string body as text/plain; some send no type */
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		assert_string_equal(
		    value_of(types[i], body, "action", buf, sizeof buf),
		    "balance");
		assert_string_equal(value_of(types[i], " \r\n\t{\"a\":1}", "a",
		                             buf, sizeof buf),
		                    "1");
	}
	assert_string_equal(value_of("text/plain", "\xef\xbb\xbf{\"a\":2}", "a",
	                             buf, sizeof buf),
	                    "2");
	/* meant as JSON: JSON's own errors */
	assert_string_equal(
	    why_of("text/plain", "{\"key\":", PARAMS_BAD_ENCODING),
	    "The body is not valid JSON.");
	assert_int_equal(result(NULL, "{\"a\":{\"b\":1}}"),
	                 PARAMS_BAD_ENCODING);
	/* form data as text/plain still works; free text is refused with
	 * the types that work */
	assert_string_equal(value_of("text/plain", "key=k&action=balance",
	                             "action", buf, sizeof buf),
	                    "balance");
	why = why_of("text/plain", "hello", PARAMS_UNSUPPORTED_TYPE);
	assert_non_null(strstr(why, "application/x-www-form-urlencoded"));
	assert_non_null(strstr(why, "multipart/form-data"));
	assert_non_null(strstr(why, "application/json"));
	assert_int_equal(result("text/plain", "[1,2]"),
	                 PARAMS_UNSUPPORTED_TYPE);
	assert_int_equal(result("text/plain", "a=1&b"),
	                 PARAMS_UNSUPPORTED_TYPE);
	assert_int_equal(result("text/plain", "a=1&&b=2&"), PARAMS_OK);
	assert_int_equal(
	    result("text/plain", "0123456789abcdef0123456789abcdef"),
	    PARAMS_UNSUPPORTED_TYPE);
	/* no type: form data as before */
	assert_string_equal(value_of(NULL, "hello", "hello", buf, sizeof buf),
	                    "");
}

static void
test_json_bools_null(void **state)
{
	struct params *p;

	assert_int_equal(decode(&p, JSON,
	                        "{\"refill\":true,\"cancel\":false,"
	                        "\"x\":null,\"s\":\"\\u00e9\\n\"}"),
	                 PARAMS_OK);
	assert_int_equal(params_count(p), 3);
	assert_string_equal(params_get(p, "refill"), "1");
	assert_string_equal(params_get(p, "cancel"), "0");
	assert_null(params_get(p, "x"));
	assert_string_equal(params_get(p, "s"), "\xc3\xa9\n");
	params_free(p);
}

static void
test_json_arrays(void **state)
{
	struct params *p;

	assert_int_equal(decode(&p, JSON,
	                        "{\"orders\":[1,2,\"3\"],\"e\":[],"
	                        "\"n\":[1,null,2],\"m\":[true,1.5,\"a,b\"]}"),
	                 PARAMS_OK);
	assert_string_equal(params_get(p, "orders"), "1,2,3");
	assert_string_equal(params_get(p, "e"), "");
	assert_string_equal(params_get(p, "n"), "1,,2");
	assert_string_equal(params_get(p, "m"), "1,1.5,a,b");
	params_free(p);
}

static void
test_json_rejected(void **state)
{
	/* nesting */
	assert_int_equal(result(JSON, "{\"a\":{\"b\":1}}"),
	                 PARAMS_BAD_ENCODING);
	assert_int_equal(result(JSON, "{\"a\":[[1]]}"), PARAMS_BAD_ENCODING);
	assert_int_equal(result(JSON, "{\"a\":[{}]}"), PARAMS_BAD_ENCODING);
	assert_int_equal(result(JSON, "{\"a\":[[[[[1]]]]]}"),
	                 PARAMS_BAD_ENCODING);
	assert_int_equal(result(JSON, "{\"a\":\"[[[[[[\"}"), PARAMS_OK);
	/* top level */
	assert_int_equal(result(JSON, "[1,2]"), PARAMS_BAD_ENCODING);
	assert_int_equal(result(JSON, "\"key\""), PARAMS_BAD_ENCODING);
	assert_int_equal(result(JSON, "1"), PARAMS_BAD_ENCODING);
	assert_int_equal(result(JSON, "null"), PARAMS_BAD_ENCODING);
	/* invalid */
	assert_int_equal(result(JSON, "{"), PARAMS_BAD_ENCODING);
	assert_int_equal(result(JSON, "{\"a\":1}x"), PARAMS_BAD_ENCODING);
	assert_int_equal(result(JSON, "key=k&action=balance"),
	                 PARAMS_BAD_ENCODING);
	assert_int_equal(result(JSON, "{\"a\":1,\"a\":2}"),
	                 PARAMS_BAD_ENCODING);
	assert_int_equal(result(JSON, "{\"a\":\"x\\u0000y\"}"),
	                 PARAMS_BAD_ENCODING);
	assert_int_equal(result(JSON, "{\"a\\u0000\":1}"), PARAMS_BAD_ENCODING);
}

static void
test_json_types(void **state)
{
	struct params *p;
	char *s, *q;
	int i;

	assert_int_equal(result("text/json", "{\"a\":1}"), PARAMS_OK);
	assert_int_equal(result("application/vnd.api+json", "{\"a\":1}"),
	                 PARAMS_OK);
	assert_int_equal(result("application/vnd.api+json", "a=1"),
	                 PARAMS_BAD_ENCODING);
	assert_int_equal(decode(&p, "Application/JSON; charset=UTF-8",
	                        "\xef\xbb\xbf {\"key\":\"k\",\"\":1}"),
	                 PARAMS_OK);
	assert_int_equal(params_count(p), 1);
	assert_string_equal(params_get(p, "key"), "k");
	params_free(p);
	/* too many fields; nulls do not count */
	s = malloc(32 * (PARAMS_MAX_FIELDS + 2));
	assert_non_null(s);
	q = s + sprintf(s, "{\"z\":null");
	for (i = 0; i < PARAMS_MAX_FIELDS; i++)
		q += sprintf(q, ",\"f%d\":%d", i, i);
	strcpy(q, "}");
	assert_int_equal(result(JSON, s), PARAMS_OK);
	strcpy(q, ",\"x\":1}");
	assert_int_equal(result(JSON, s), PARAMS_TOO_MANY);
	free(s);
}

static void
test_query_precedence(void **state)
{
	struct params *p;
	const char *why = NULL;

	assert_int_equal(
	    decode(&p, FORM, "key=body&action=status&orders[]=1&orders[]=2"),
	    PARAMS_OK);
	assert_int_equal(
	    params_decode_query(p, "key=query&extra=1&orders[]=3", 28, &why),
	    PARAMS_OK);
	assert_string_equal(params_get(p, "key"), "body");
	assert_string_equal(params_get(p, "extra"), "1");
	assert_string_equal(params_get(p, "orders"), "1,2");
	assert_int_equal(params_count(p), 4);
	/* a bad query leaves the body fields alone */
	assert_int_equal(params_decode_query(p, "new=1&x=%", 9, &why),
	                 PARAMS_BAD_ENCODING);
	assert_non_null(why);
	assert_null(params_get(p, "new"));
	assert_int_equal(params_count(p), 4);
	assert_int_equal(params_decode_query(p, NULL, 0, NULL), PARAMS_OK);
	params_free(p);
	/* GET: the query alone; only LEN bytes are read */
	p = params_new();
	assert_int_equal(
	    params_decode_query(p, "key=k&action=balance&junk=%", 20, NULL),
	    PARAMS_OK);
	assert_string_equal(params_get(p, "action"), "balance");
	params_free(p);
}

static void
test_set_default(void **state)
{
	struct params *p;
	const char *name, *value;
	char longname[PARAMS_MAX_NAME + 2];

	assert_int_equal(decode(&p, FORM, "key=fromBody&action=balance"),
	                 PARAMS_OK);
	assert_int_equal(params_set_default(p, "key", "fromHeader"), 0);
	assert_string_equal(params_get(p, "key"), "fromBody");
	params_free(p);
	assert_int_equal(decode(&p, FORM, "action=balance"), PARAMS_OK);
	assert_int_equal(params_set_default(p, "key", "fromHeader"), 0);
	assert_string_equal(params_get(p, "key"), "fromHeader");
	assert_int_equal(params_set_default(p, "", "x"), -1);
	memset(longname, 'k', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	assert_int_equal(params_set_default(p, longname, "x"), -1);
	/* iteration in order of first appearance */
	assert_int_equal(params_count(p), 2);
	assert_int_equal(params_at(p, 0, &name, &value), 0);
	assert_string_equal(name, "action");
	assert_string_equal(value, "balance");
	assert_int_equal(params_at(p, 1, &name, &value), 0);
	assert_string_equal(name, "key");
	assert_int_equal(params_at(p, 2, &name, &value), -1);
	params_free(p);
}

static void
test_rollback_large(void **state)
{
	struct params *p = params_new();
	size_t n = 100000, i;
	char *body = malloc(n + 16);
	const char *first;

	assert_non_null(body);
	assert_int_equal(params_decode_body(p, FORM, "a=1", 3, NULL),
	                 PARAMS_OK);
	first = params_get(p, "a");
	/* big values spill into further arena blocks, then fail */
	memcpy(body, "big=", 4);
	for (i = 4; i < n; i++)
		body[i] = 'x';
	memcpy(body + n, "&bad=%q", 7);
	assert_int_equal(params_decode_body(p, FORM, body, n + 7, NULL),
	                 PARAMS_BAD_ENCODING);
	assert_int_equal(params_count(p), 1);
	assert_ptr_equal(params_get(p, "a"), first);
	assert_null(params_get(p, "big"));
	/* and succeed */
	assert_int_equal(params_decode_body(p, FORM, body, n, NULL), PARAMS_OK);
	assert_int_equal(strlen(params_get(p, "big")), n - 4);
	assert_string_equal(params_get(p, "a"), "1");
	params_free(p);
	free(body);
}

static void
test_idlist_basic(void **state)
{
	int64_t ids[8];
	size_t n;

	assert_int_equal(idlist_parse("1,2,3", ids, 8, &n), IDLIST_OK);
	assert_int_equal(n, 3);
	assert_int_equal(ids[0], 1);
	assert_int_equal(ids[2], 3);
	assert_int_equal(idlist_parse(" 1, 2 ,3 ,", ids, 8, &n), IDLIST_OK);
	assert_int_equal(n, 3);
	assert_int_equal(ids[1], 2);
	assert_int_equal(idlist_parse("1,,2", ids, 8, &n), IDLIST_OK);
	assert_int_equal(n, 2);
	assert_int_equal(idlist_parse(",\t7\r\n,", ids, 8, &n), IDLIST_OK);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], 7);
	assert_int_equal(idlist_parse("5,5,3,5,3", ids, 8, &n), IDLIST_OK);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], 5);
	assert_int_equal(ids[1], 3);
	assert_int_equal(idlist_parse("007", ids, 8, &n), IDLIST_OK);
	assert_int_equal(ids[0], 7);
	assert_int_equal(idlist_parse("9223372036854775807", ids, 8, &n),
	                 IDLIST_OK);
	assert_true(ids[0] == INT64_MAX);
}

static void
test_idlist_bad(void **state)
{
	static const char *const bad[] = {
	    "1,a",
	    "a",
	    "-1",
	    "+1",
	    "0",
	    "00",
	    "1,0",
	    "1 2",
	    "1.5",
	    "0x10",
	    "99999999999999999999",
	    "9223372036854775808",
	    "1;2",
	    "1,2x",
	};
	int64_t ids[8];
	size_t n, i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(idlist_parse(bad[i], ids, 8, &n), IDLIST_BAD);
	assert_int_equal(idlist_parse("", ids, 8, &n), IDLIST_EMPTY);
	assert_int_equal(idlist_parse(" , ,", ids, 8, &n), IDLIST_EMPTY);
	assert_int_equal(idlist_parse(NULL, ids, 8, &n), IDLIST_EMPTY);
	assert_int_equal(n, 0);
}

static void
test_idlist_limit(void **state)
{
	int64_t ids[100];
	char s[1024], *q = s;
	size_t n;
	int i;

	for (i = 1; i <= 100; i++)
		q += sprintf(q, "%d,", i);
	assert_int_equal(idlist_parse(s, ids, 100, &n), IDLIST_OK);
	assert_int_equal(n, 100);
	assert_int_equal(ids[99], 100);
	/* duplicates do not count against the limit */
	sprintf(q, "1,50,100");
	assert_int_equal(idlist_parse(s, ids, 100, &n), IDLIST_OK);
	assert_int_equal(n, 100);
	sprintf(q, "101");
	assert_int_equal(idlist_parse(s, ids, 100, &n), IDLIST_TOO_MANY);
	assert_int_equal(idlist_parse("1", NULL, 0, &n), IDLIST_TOO_MANY);
}

/* The set that finds duplicates (lists of up to 256) and the scan (longer
 * lists) agree: the first occurrence of each ID, in order. */
static void
test_idlist_dedup_paths(void **state)
{
	static int64_t hashed[256], scanned[600];
	static char s[400 * 24];
	size_t nh, ns, len = 0;

	/* 200 IDs, each twice: random ones over the whole range and a run of
	 * neighbours (which share hash slots in turn). */
	for (int pass = 0; pass < 2; pass++) {
		uint64_t y = 88172645463325252ULL;

		for (int i = 0; i < 100; i++) {
			y ^= y << 13;
			y ^= y >> 7;
			y ^= y << 17;
			len +=
			    (size_t)sprintf(s + len, "%lld,%d,",
			                    (long long)(y >> 1 | 1), 1000 + i);
		}
	}
	assert_int_equal(idlist_parse(s, hashed, 256, &nh), IDLIST_OK);
	assert_int_equal(idlist_parse(s, scanned, 600, &ns), IDLIST_OK);
	assert_int_equal(nh, 200);
	assert_int_equal(ns, 200);
	assert_memory_equal(hashed, scanned, 200 * sizeof(hashed[0]));
	for (size_t i = 0; i < nh; i++)
		for (size_t j = i + 1; j < nh; j++)
			assert_true(hashed[i] != hashed[j]);
	assert_int_equal(hashed[1], 1000);
	assert_int_equal(hashed[199], 1099);
	assert_int_equal(idlist_parse(s, hashed, 199, &nh), IDLIST_TOO_MANY);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_form_basic),
	    cmocka_unit_test(test_form_escapes),
	    cmocka_unit_test(test_form_bad_escapes),
	    cmocka_unit_test(test_form_empty_pairs),
	    cmocka_unit_test(test_form_arrays),
	    cmocka_unit_test(test_form_array_growth),
	    cmocka_unit_test(test_form_repeated),
	    cmocka_unit_test(test_form_nul),
	    cmocka_unit_test(test_form_too_many),
	    cmocka_unit_test(test_form_name_length),
	    cmocka_unit_test(test_content_types),
	    cmocka_unit_test(test_multipart_quoted),
	    cmocka_unit_test(test_multipart_lf),
	    cmocka_unit_test(test_multipart_fields),
	    cmocka_unit_test(test_multipart_malformed),
	    cmocka_unit_test(test_multipart_boundary),
	    cmocka_unit_test(test_json_numbers),
	    cmocka_unit_test(test_json_big_integers),
	    cmocka_unit_test(test_json_without_json_type),
	    cmocka_unit_test(test_json_bools_null),
	    cmocka_unit_test(test_json_arrays),
	    cmocka_unit_test(test_json_rejected),
	    cmocka_unit_test(test_json_types),
	    cmocka_unit_test(test_query_precedence),
	    cmocka_unit_test(test_set_default),
	    cmocka_unit_test(test_rollback_large),
	    cmocka_unit_test(test_idlist_basic),
	    cmocka_unit_test(test_idlist_bad),
	    cmocka_unit_test(test_idlist_limit),
	    cmocka_unit_test(test_idlist_dedup_paths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
