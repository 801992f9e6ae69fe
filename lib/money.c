/* money.c - exact fixed-point money: parse, format, checked arithmetic.
 *
 * Every result is computed exactly in a 128-bit integer, rounded by an
 * explicit mode and range-checked before it is stored: nothing wraps and no
 * float is involved.  The largest intermediate is |INT64_MIN|^2 = 2^126.
 */
#include <stdint.h>
#include <string.h>

#include "money.h"

/* Fraction digits money_parse_n() accepts (the contract's limit). */
#define MONEY_PARSE_MAX_FRAC 64
/* Past this integer part no fraction can bring a value back in range. */
#define MONEY_INT_PART_MAX ((uint64_t)INT64_MAX / (uint64_t)MONEY_SCALE + 1)

static const int64_t money_pow10[MONEY_DECIMALS + 1] = {
    1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000,
};

static int
money_mode_valid(enum money_round mode)
{
	return mode == MONEY_ROUND_DOWN || mode == MONEY_ROUND_UP ||
	       mode == MONEY_ROUND_EXACT;
}

static int
money_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Store V in *OUT if it is in range; *OUT is untouched otherwise. */
static int
money_store(__int128 v, money_t *out)
{
	if (v < INT64_MIN || v > INT64_MAX)
		return -1;
	*out = (money_t)v;
	return 0;
}

/* N / D rounded by MODE into *Q; D > 0.  Truncating division rounds toward
 * zero, which is the floor for positive and the ceiling for negative N. */
static int
money_div_round(__int128 n, __int128 d, enum money_round mode, __int128 *q)
{
	__int128 quo = n / d;

	if (n % d != 0) {
		switch (mode) {
		case MONEY_ROUND_DOWN:
			if (n < 0)
				quo--;
			break;
		case MONEY_ROUND_UP:
			if (n > 0)
				quo++;
			break;
		default:
			return -1;
		}
	}
	*q = quo;
	return 0;
}

int
money_parse_n(const char *s, size_t len, enum money_round mode, money_t *out)
{
	size_t i = 0, nint = 0, nfrac = 0;
	uint64_t ipart = 0, fpart = 0;
	int neg = 0, tail = 0;
	__int128 v;

	if (!money_mode_valid(mode) || s == NULL)
		return -1;
	if (i < len && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	for (; i < len && money_is_digit(s[i]); i++, nint++) {
		/* Saturate: once past the limit the value is out of range. */
		if (ipart <= MONEY_INT_PART_MAX)
			ipart = ipart * 10 + (uint64_t)(s[i] - '0');
	}
	if (i < len && s[i] == '.') {
		for (i++; i < len && money_is_digit(s[i]); i++, nfrac++) {
			if (nfrac < MONEY_DECIMALS)
				fpart = fpart * 10 + (uint64_t)(s[i] - '0');
			else if (s[i] != '0')
				tail = 1;
		}
	}
	if (i != len || nint + nfrac == 0 || nfrac > MONEY_PARSE_MAX_FRAC)
		return -1;
	if (nfrac < MONEY_DECIMALS)
		fpart *= (uint64_t)money_pow10[MONEY_DECIMALS - nfrac];

	v = (__int128)ipart * MONEY_SCALE + fpart;
	if (neg)
		v = -v;
	/* The dropped digits lie strictly between V and the next unit away
	 * from zero. */
	if (tail) {
		switch (mode) {
		case MONEY_ROUND_DOWN:
			if (neg)
				v--;
			break;
		case MONEY_ROUND_UP:
			if (!neg)
				v++;
			break;
		default:
			return -1;
		}
	}
	return money_store(v, out);
}

int
money_parse(const char *s, money_t *out)
{
	if (s == NULL)
		return -1;
	return money_parse_n(s, strlen(s), MONEY_ROUND_EXACT, out);
}

char *
money_format(money_t v, int min_dec, char *buf)
{
	/* Unsigned negation keeps INT64_MIN defined. */
	uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	uint64_t ipart = mag / (uint64_t)MONEY_SCALE;
	uint64_t fpart = mag % (uint64_t)MONEY_SCALE;
	char digits[20];
	char *p = buf;
	int n = 0, dec = MONEY_DECIMALS;

	if (min_dec < 0)
		min_dec = 0;
	if (min_dec > MONEY_DECIMALS)
		min_dec = MONEY_DECIMALS;

	if (v < 0)
		*p++ = '-';
	do {
		digits[n++] = (char)('0' + ipart % 10);
		ipart /= 10;
	} while (ipart != 0);
	while (n > 0)
		*p++ = digits[--n];

	while (dec > min_dec && fpart % 10 == 0) {
		fpart /= 10;
		dec--;
	}
	if (dec > 0) {
		*p++ = '.';
		for (n = dec - 1; n >= 0; n--) {
			p[n] = (char)('0' + fpart % 10);
			fpart /= 10;
		}
		p += dec;
	}
	*p = '\0';
	return buf;
}

int
money_add(money_t a, money_t b, money_t *out)
{
	money_t r;

	if (__builtin_add_overflow(a, b, &r))
		return -1;
	*out = r;
	return 0;
}

int
money_sub(money_t a, money_t b, money_t *out)
{
	money_t r;

	if (__builtin_sub_overflow(a, b, &r))
		return -1;
	*out = r;
	return 0;
}

int
money_mul_div(money_t a, int64_t num, int64_t den, enum money_round mode,
              money_t *out)
{
	__int128 q;

	if (den <= 0 || !money_mode_valid(mode))
		return -1;
	if (money_div_round((__int128)a * num, den, mode, &q) == -1)
		return -1;
	return money_store(q, out);
}

int
money_mul(money_t a, money_t b, enum money_round mode, money_t *out)
{
	return money_mul_div(a, b, MONEY_SCALE, mode, out);
}

int
money_div(money_t a, money_t b, enum money_round mode, money_t *out)
{
	if (b <= 0)
		return -1;
	return money_mul_div(a, MONEY_SCALE, b, mode, out);
}

int
money_round_to(money_t v, money_t step, enum money_round mode, money_t *out)
{
	__int128 q;

	if (step <= 0 || !money_mode_valid(mode))
		return -1;
	if (money_div_round(v, step, mode, &q) == -1)
		return -1;
	return money_store(q * step, out);
}

int
money_round_dec(money_t v, int decimals, enum money_round mode, money_t *out)
{
	if (decimals < 0 || decimals > MONEY_DECIMALS)
		return -1;
	return money_round_to(v, money_pow10[MONEY_DECIMALS - decimals], mode,
	                      out);
}
