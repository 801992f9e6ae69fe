/* money.h - exact fixed-point money.
 *
 * A money_t counts units of 10^-8 (MONEY_SCALE units make 1.0) in a signed
 * 64-bit integer: the range is about +/- 92 billion, far beyond any panel
 * balance.  Never a binary float.  Every operation that can leave the range
 * reports it (-1) instead of wrapping; intermediates are 128-bit.
 * Every call that returns -1 leaves *OUT untouched; an argument outside its
 * documented range (DEN, B or STEP <= 0, DECIMALS outside 0..8, an unknown
 * MODE) is -1 too, never undefined behaviour.
 */
#ifndef PANELMUX_MONEY_H
#define PANELMUX_MONEY_H

#include <stddef.h>
#include <stdint.h>

typedef int64_t money_t;

#define MONEY_DECIMALS 8
#define MONEY_SCALE INT64_C(100000000)
/* Longest formatted value: sign, 11 integer digits, point, 8 decimals, NUL. */
#define MONEY_BUFSZ 32

enum money_round {
	MONEY_ROUND_DOWN, /* toward negative infinity (floor): refunds */
	MONEY_ROUND_UP,   /* toward positive infinity (ceiling): charges */
	MONEY_ROUND_EXACT /* fail (-1) unless the result is exact */
};

/* Parse an exact decimal string of LEN bytes: optional '-' or '+', digits,
 * optional '.' and fraction digits; at least one digit overall ("5", "5.",
 * ".5", "0.90" are fine).  No spaces, exponents, hex, "inf" or "nan".
 * Fraction digits beyond 8 are rounded by MODE (MONEY_ROUND_EXACT: any
 * non-zero digit past the 8th is an error).  Up to 64 fraction digits are
 * accepted.  Returns 0 and sets *OUT, or -1 on bad syntax or overflow. */
int money_parse_n(const char *s, size_t len, enum money_round mode,
                  money_t *out);
/* money_parse_n over a NUL-terminated string, MONEY_ROUND_EXACT. */
int money_parse(const char *s, money_t *out);

/* Format V into BUF (MONEY_BUFSZ bytes) with at least MIN_DEC and at most 8
 * decimals: trailing zeros past MIN_DEC are dropped, the point too when no
 * decimals remain.  money_format(90000000, 2) = "0.90"; (102250000, 2) =
 * "1.0225"; (500000000, 0) = "5".  MIN_DEC is clamped to 0..8.  Returns
 * BUF. */
char *money_format(money_t v, int min_dec, char *buf);

/* Checked arithmetic: 0, or -1 on overflow (then *OUT is untouched). */
int money_add(money_t a, money_t b, money_t *out);
int money_sub(money_t a, money_t b, money_t *out);

/* A * NUM / DEN with a 128-bit intermediate, rounded by MODE.  DEN > 0.
 * Used for rate x quantity / 1000 and charge x remains / quantity. */
int money_mul_div(money_t a, int64_t num, int64_t den, enum money_round mode,
                  money_t *out);

/* A x B of two money values (a rate times a currency factor). */
int money_mul(money_t a, money_t b, enum money_round mode, money_t *out);

/* A / B of two money values (B > 0), as money. */
int money_div(money_t a, money_t b, enum money_round mode, money_t *out);

/* Round V to a multiple of STEP (> 0) by MODE ("round_to: 0.0001"). */
int money_round_to(money_t v, money_t step, enum money_round mode,
                   money_t *out);

/* Round V to DECIMALS (0..8) places by MODE: money.decimals for charges
 * (UP) and refunds (DOWN). */
int money_round_dec(money_t v, int decimals, enum money_round mode,
                    money_t *out);

#endif
