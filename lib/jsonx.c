/* jsonx.c - JSON helpers: depth pre-scan, doubles back to their text. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"

int
jsonx_too_deep(const char *s, size_t len, int max)
{
	int depth = 0, in_str = 0;

	for (size_t i = 0; i < len; i++) {
		if (in_str) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				in_str = 0;
		} else if (s[i] == '"') {
			in_str = 1;
		} else if (s[i] == '{' || s[i] == '[') {
			if (++depth > max)
				return 1;
		} else if (s[i] == '}' || s[i] == ']') {
			depth--;
		}
	}
	return 0;
}

int
jsonx_real(double d, char *out)
{
	char e[32], digits[20];
	const char *m;
	int prec, exp, nd = 0, i, o = 0;

	if (!isfinite(d)) {
		out[0] = '\0';
		return -1;
	}
	if (d == 0) {
		strcpy(out, "0");
		return 1;
	}
	/* The shortest %e form that round-trips; 17 digits always do. */
	for (prec = 1; prec < 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec - 1, d);
		if (strtod(e, NULL) == d)
			break;
	}
	snprintf(e, sizeof(e), "%.*e", prec - 1, d);
	m = e;
	if (*m == '-')
		out[o++] = *m++;
	for (; *m != 'e'; m++)
		if (*m != '.')
			digits[nd++] = *m;
	exp = atoi(m + 1);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	if (exp < 0) {
		out[o++] = '0';
		out[o++] = '.';
		for (i = 0; i < -exp - 1; i++)
			out[o++] = '0';
		for (i = 0; i < nd; i++)
			out[o++] = digits[i];
	} else {
		for (i = 0; i <= exp; i++)
			out[o++] = i < nd ? digits[i] : '0';
		if (nd > exp + 1)
			out[o++] = '.';
		for (i = exp + 1; i < nd; i++)
			out[o++] = digits[i];
	}
	out[o] = '\0';
	return o;
}
