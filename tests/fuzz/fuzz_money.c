/* fuzz_money.c - libFuzzer target for lib/money.c.
 *
 * The input is a decimal string.  money_parse_n() under every rounding mode
 * is checked against an oracle written apart from money.c (the digit
 * string, read into a 128-bit integer), every value it yields must format
 * as an independent printf-based formatter does and parse back to itself,
 * and the three modes must agree with one another.  The first 24 bytes of
 * the input (zero-padded) also give three int64 operands for the checked
 * arithmetic, which is checked against the defining inequalities of each
 * rounding: floor(N / D) is the Q with Q x D <= N < (Q + 1) x D.
 * Seeds: tests/fuzz/corpus/money. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "money.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Longest fraction money_parse_n() accepts (its contract). */
#define FUZZ_MAX_FRAC 64

static const enum money_round fuzz_modes[] = {MONEY_ROUND_DOWN, MONEY_ROUND_UP,
                                              MONEY_ROUND_EXACT};
#define FUZZ_NMODES (sizeof(fuzz_modes) / sizeof(fuzz_modes[0]))

static int
fuzz_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
fuzz_in_range(__int128 v)
{
	return v >= INT64_MIN && v <= INT64_MAX;
}

/* The value of the decimal S (LEN bytes) in units of 10^-8, rounded by
 * MODE: 0 with *OUT set, or -1 for bad syntax, an inexact EXACT or a value
 * out of range.  The units are the integer digits followed by the first 8
 * fraction digits (missing ones are zeros); a non-zero digit after those
 * puts the exact value strictly between that magnitude and the next one
 * up, so floor and ceiling differ from it by one unit on one side. */
static int
fuzz_oracle(const char *s, size_t len, enum money_round mode, money_t *out)
{
	size_t i = 0, ib, nint, fb = 0, nfrac = 0, k;
	unsigned __int128 mag = 0;
	__int128 v;
	int neg = 0, tail = 0, big = 0;

	if (len > 0 && (s[0] == '+' || s[0] == '-')) {
		neg = s[0] == '-';
		i = 1;
	}
	for (ib = i; i < len && fuzz_digit(s[i]); i++)
		;
	nint = i - ib;
	if (i < len && s[i] == '.') {
		for (fb = ++i; i < len && fuzz_digit(s[i]); i++)
			;
		nfrac = i - fb;
	}
	if (i != len || nint + nfrac == 0 || nfrac > FUZZ_MAX_FRAC)
		return -1;

	for (k = 0; k < nint + MONEY_DECIMALS; k++) {
		char c = k < nint           ? s[ib + k]
		         : k - nint < nfrac ? s[fb + k - nint]
		                            : '0';

		/* Past 2^64 units nothing is in range (rounding only ever
		 * moves away from zero); stop before 128 bits overflow. */
		if (!big)
			mag = mag * 10 + (unsigned)(c - '0');
		if (mag > (unsigned __int128)UINT64_MAX)
			big = 1;
	}
	for (k = MONEY_DECIMALS; k < nfrac; k++)
		if (s[fb + k] != '0')
			tail = 1;
	if (big)
		return -1;
	v = neg ? -(__int128)mag : (__int128)mag;
	if (tail && mode == MONEY_ROUND_EXACT)
		return -1;
	if (tail && mode == MONEY_ROUND_DOWN && neg)
		v -= 1;
	if (tail && mode == MONEY_ROUND_UP && !neg)
		v += 1;
	if (!fuzz_in_range(v))
		return -1;
	*out = (money_t)v;
	return 0;
}

/* V formatted with MIN_DEC (0..8) decimals the long way: all 8 decimals by
 * printf, then trailing zeros past MIN_DEC dropped, and the point when no
 * decimals remain. */
static void
fuzz_format_oracle(money_t v, int min_dec, char *buf, size_t size)
{
	uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	int n, dec = MONEY_DECIMALS;

	n = snprintf(buf, size, "%s%" PRIu64 ".%08" PRIu64, v < 0 ? "-" : "",
	             mag / (uint64_t)MONEY_SCALE, mag % (uint64_t)MONEY_SCALE);
	if (n < 0 || (size_t)n >= size)
		abort();
	while (dec > min_dec && buf[n - 1] == '0') {
		n--;
		dec--;
	}
	if (dec == 0)
		n--;
	buf[n] = '\0';
}

/* V must format as the oracle does, fit MONEY_BUFSZ (BUF is exactly that
 * big: ASan sees any overflow) and parse back exactly. */
static void
fuzz_round_trip(money_t v)
{
	char buf[MONEY_BUFSZ], want[64], clamped[MONEY_BUFSZ];
	money_t back;
	int md;

	for (md = 0; md <= MONEY_DECIMALS; md++) {
		if (money_format(v, md, buf) != buf)
			abort();
		fuzz_format_oracle(v, md, want, sizeof(want));
		if (strcmp(buf, want) != 0)
			abort();
		back = v ^ 1;
		if (money_parse(buf, &back) != 0 || back != v)
			abort();
		if (money_parse_n(buf, strlen(buf), MONEY_ROUND_DOWN, &back) !=
		        0 ||
		    back != v)
			abort();
	}
	/* MIN_DEC is clamped to 0..8. */
	if (strcmp(money_format(v, -1, clamped), money_format(v, 0, buf)) !=
	        0 ||
	    strcmp(money_format(v, MONEY_DECIMALS + 1, clamped),
	           money_format(v, MONEY_DECIMALS, buf)) != 0)
		abort();
}

/* The parse of the input under every mode. */
static void
fuzz_parse(const char *s, size_t len)
{
	money_t got[FUZZ_NMODES], want;
	int ok[FUZZ_NMODES], wok;
	size_t m;

	for (m = 0; m < FUZZ_NMODES; m++) {
		const money_t untouched = INT64_C(0x5a5a5a5a5a5a5a5a);

		got[m] = untouched;
		ok[m] = money_parse_n(s, len, fuzz_modes[m], &got[m]) == 0;
		want = untouched;
		wok = fuzz_oracle(s, len, fuzz_modes[m], &want) == 0;
		if (ok[m] != wok || got[m] != want)
			abort();
		if (ok[m])
			fuzz_round_trip(got[m]);
	}
	/* DOWN <= UP, at most one unit apart; EXACT only where they meet. */
	if (ok[0] && ok[1] && (got[1] < got[0] || got[1] - got[0] > 1))
		abort();
	if (ok[2] && (!ok[0] || !ok[1] || got[0] != got[2] || got[1] != got[2]))
		abort();
	if (ok[0] && ok[1] && got[0] == got[1] && !ok[2])
		abort();
}

/* Whether Q is N / D (D > 0) rounded by MODE. */
static int
fuzz_is_rounded(__int128 n, __int128 d, __int128 q, enum money_round mode)
{
	__int128 lo = q * d;

	switch (mode) {
	case MONEY_ROUND_DOWN:
		return lo <= n && n < lo + d;
	case MONEY_ROUND_UP:
		return lo >= n && lo - d < n;
	case MONEY_ROUND_EXACT:
		return lo == n;
	}
	abort();
}

/* N / D (D > 0) rounded by MODE (EXACT: the floor), found by stepping from
 * the truncated quotient until the inequalities hold. */
static __int128
fuzz_rounded(__int128 n, __int128 d, enum money_round mode)
{
	__int128 q = n / d;

	if (mode == MONEY_ROUND_EXACT)
		mode = MONEY_ROUND_DOWN;
	while (!fuzz_is_rounded(n, d, q, mode))
		q += q * d > n ? -1 : 1;
	return q;
}

/* A rounded quotient an operation returned (RET, *GOT) against N / D:
 * success exactly when D > 0, an EXACT is exact and the result fits, and
 * then the right value; *GOT untouched on failure.  SCALE multiplies the
 * quotient into the result (money_round_to returns multiples of STEP). */
static void
fuzz_check_quotient(int ret, money_t got, money_t before, __int128 n,
                    __int128 d, __int128 scale, enum money_round mode)
{
	__int128 q;
	int ok;

	if (d <= 0) {
		if (ret != -1 || got != before)
			abort();
		return;
	}
	q = fuzz_rounded(n, d, mode) * scale;
	ok = fuzz_in_range(q) && (mode != MONEY_ROUND_EXACT ||
	                          fuzz_is_rounded(n, d, q / scale, mode));
	if (ok ? ret != 0 || got != q : ret != -1 || got != before)
		abort();
}

static void
fuzz_arith(const uint8_t *data, size_t size)
{
	uint8_t raw[24] = {0};
	int64_t a, b, c;
	money_t r, before;
	size_t m;
	int ret, dec;

	memcpy(raw, data, size < sizeof(raw) ? size : sizeof(raw));
	memcpy(&a, raw, 8);
	memcpy(&b, raw + 8, 8);
	memcpy(&c, raw + 16, 8);

	fuzz_round_trip(a);

	before = r = b ^ 1;
	ret = money_add(a, b, &r);
	if (fuzz_in_range((__int128)a + b) ? ret != 0 || r != a + b
	                                   : ret != -1 || r != before)
		abort();
	r = before;
	ret = money_sub(a, b, &r);
	if (fuzz_in_range((__int128)a - b) ? ret != 0 || r != a - b
	                                   : ret != -1 || r != before)
		abort();

	for (m = 0; m < FUZZ_NMODES; m++) {
		enum money_round mode = fuzz_modes[m];

		r = before;
		ret = money_mul_div(a, b, c, mode, &r);
		fuzz_check_quotient(ret, r, before, (__int128)a * b, c, 1,
		                    mode);

		r = before;
		ret = money_mul(a, b, mode, &r);
		fuzz_check_quotient(ret, r, before, (__int128)a * b,
		                    MONEY_SCALE, 1, mode);

		r = before;
		ret = money_div(a, b, mode, &r);
		fuzz_check_quotient(ret, r, before, (__int128)a * MONEY_SCALE,
		                    b, 1, mode);

		r = before;
		ret = money_round_to(a, c, mode, &r);
		fuzz_check_quotient(ret, r, before, a, c, c, mode);

		dec = (int)(raw[16] % (MONEY_DECIMALS + 3)) - 1; /* -1..9 */
		r = before;
		ret = money_round_dec(a, dec, mode, &r);
		if (dec < 0 || dec > MONEY_DECIMALS) {
			if (ret != -1 || r != before)
				abort();
		} else {
			__int128 step = 1;

			for (int i = dec; i < MONEY_DECIMALS; i++)
				step *= 10;
			fuzz_check_quotient(ret, r, before, a, step, step,
			                    mode);
		}
	}
	/* An unknown mode is an error, never undefined behaviour. */
	r = before;
	if (money_parse_n("1", 1, (enum money_round)7, &r) != -1 ||
	    money_mul_div(a, b, 1, (enum money_round)7, &r) != -1 ||
	    r != before)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so any over-read is caught. */
	char *s = malloc(size > 0 ? size : 1);

	if (s == NULL)
		return 0;
	if (size > 0)
		memcpy(s, data, size);
	fuzz_parse(s, size);
	fuzz_arith(data, size);
	free(s);
	return 0;
}
