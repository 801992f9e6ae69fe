/* test_money.c - money.c against hand-checked cases and a GMP oracle.
 *
 * The random tests draw operands biased toward the edges (0, +-1, the int64
 * limits, small values, values just inside and just outside each
 * operation's overflow boundary) and compare every outcome, failures
 * included, with exact rational arithmetic in GMP.  The seed is printed as a
 * TAP comment; MONEY_SEED=N reruns with seed N.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gmp.h>

#include "money.h"
#include "xmalloc.h"

#define DOWN MONEY_ROUND_DOWN
#define UP MONEY_ROUND_UP
#define EXACT MONEY_ROUND_EXACT

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* What a failing call must leave in *OUT: untouched. */
#define SENTINEL INT64_C(0x5a5a5a5a5a5a5a5a)

#define SEED_DEFAULT UINT64_C(20261122)

/* Random cases per test (parse strings are each tried in all three modes,
 * add/sub pairs in both operations): about 1.2 million in all. */
#define N_PARSE_STRINGS 110000
#define N_FORMAT 150000
#define N_ADDSUB_PAIRS 100000
#define N_MUL_DIV 150000
#define N_MUL 100000
#define N_DIV 100000
#define N_ROUND_TO 100000
#define N_ROUND_DEC 100000

static uint64_t test_seed;
static unsigned long test_total;

/* Oracle scratch, set up once for the group. */
static mpz_t z_min, z_max, z_scale, z_a, z_b, z_q, z_t;
static mpq_t q_x, q_y;

static const char *
mode_name(enum money_round mode)
{
	switch (mode) {
	case DOWN:
		return "DOWN";
	case UP:
		return "UP";
	case EXACT:
		return "EXACT";
	}
	return "?";
}

static void fail_case(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static void
fail_case(const char *fmt, ...)
{
	va_list ap;

	printf("# FAIL (MONEY_SEED=%" PRIu64 "): ", test_seed);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	fail();
}

static void
count_cases(const char *test, unsigned long n)
{
	test_total += n;
	printf("# %s: %lu random cases\n", test, n);
}

/* ---- random numbers: splitmix64, one stream per test ---- */

struct rng {
	uint64_t s;
};

static void
rng_init(struct rng *r, uint64_t stream)
{
	r->s = test_seed ^ (stream * UINT64_C(0xd1b54a32d192ed03));
}

static uint64_t
rng_next(struct rng *r)
{
	uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint64_t
rng_below(struct rng *r, uint64_t n)
{
	return rng_next(r) % n;
}

static const int64_t edge_values[] = {
    0,
    1,
    -1,
    2,
    -2,
    3,
    -3,
    7,
    -7,
    999,
    1000,
    -1000,
    INT32_MAX,
    INT32_MIN,
    INT64_C(3037000499), /* floor(sqrt(INT64_MAX)) */
    INT64_C(-3037000499),
    INT64_C(3037000500),
    MONEY_SCALE - 1,
    MONEY_SCALE,
    MONEY_SCALE + 1,
    -MONEY_SCALE,
    -MONEY_SCALE + 1,
    INT64_MAX / MONEY_SCALE *MONEY_SCALE,
    INT64_MIN / MONEY_SCALE *MONEY_SCALE,
    INT64_MAX / 2,
    INT64_MIN / 2,
    INT64_MAX - 1,
    INT64_MAX,
    INT64_MIN + 1,
    INT64_MIN,
};

static int64_t
sat64(__int128 v)
{
	if (v > INT64_MAX)
		return INT64_MAX;
	if (v < INT64_MIN)
		return INT64_MIN;
	return (int64_t)v;
}

/* Any int64, biased toward the edges and toward small magnitudes. */
static int64_t
rand_i64(struct rng *r)
{
	uint64_t x, p;
	int bits;

	switch (rng_below(r, 8)) {
	case 0:
		return edge_values[rng_below(r, NELEMS(edge_values))];
	case 1:
		return INT64_MAX - (int64_t)rng_below(r, 1000);
	case 2:
		return INT64_MIN + (int64_t)rng_below(r, 1000);
	case 3:
		return (int64_t)rng_below(r, 2001) - 1000;
	case 4:
		/* d x 10^k, +-1: round numbers and their neighbours */
		for (p = 1, bits = (int)rng_below(r, 19); bits > 0; bits--)
			p *= 10;
		x = p * (rng_below(r, 9) + 1) + rng_below(r, 3) - 1;
		return rng_next(r) & 1 ? -(int64_t)x : (int64_t)x;
	default:
		/* uniform bit length, then uniform within it */
		bits = 1 + (int)rng_below(r, 64);
		x = rng_next(r) >> (64 - bits);
		if (bits == 64)
			return (int64_t)x;
		return rng_next(r) & 1 ? -(int64_t)x : (int64_t)x;
	}
}

/* Mostly > 0; now and then 0 or negative, which must be rejected. */
static int64_t
rand_positive(struct rng *r)
{
	static const int64_t bad[] = {0, -1, -MONEY_SCALE, INT64_MIN};
	int64_t v;

	if (rng_below(r, 64) == 0)
		return bad[rng_below(r, NELEMS(bad))];
	v = rand_i64(r);
	if (v == INT64_MIN)
		return INT64_MAX;
	if (v < 0)
		v = -v;
	return v == 0 ? 1 : v;
}

static int64_t
rand_target(struct rng *r)
{
	return rng_next(r) & 1 ? INT64_MAX : INT64_MIN;
}

static int64_t
rand_delta(struct rng *r)
{
	return (int64_t)rng_below(r, 5) - 2;
}

static enum money_round
rand_mode(struct rng *r)
{
	static const enum money_round modes[] = {DOWN, UP, EXACT};

	return modes[rng_below(r, NELEMS(modes))];
}

/* ---- the oracle: exact rationals ---- */

static void
z_set_i64(mpz_t z, int64_t v)
{
	uint64_t m = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	mpz_set_ui(z, (unsigned long)(m >> 32));
	mpz_mul_2exp(z, z, 32);
	mpz_add_ui(z, z, (unsigned long)(m & 0xffffffffu));
	if (v < 0)
		mpz_neg(z, z);
}

/* X = V money units as a real value: V / 10^8. */
static void
q_set_money(mpq_t x, int64_t v)
{
	z_set_i64(mpq_numref(x), v);
	mpz_set(mpq_denref(x), z_scale);
	mpq_canonicalize(x);
}

static void
q_set_int(mpq_t x, int64_t v)
{
	z_set_i64(mpq_numref(x), v);
	mpz_set_ui(mpq_denref(x), 1);
}

/* Q = X rounded to an integer by MODE; -1 if EXACT and X is no integer. */
static int
oracle_round(const mpq_t x, enum money_round mode, mpz_t q)
{
	switch (mode) {
	case DOWN:
		mpz_fdiv_q(q, mpq_numref(x), mpq_denref(x));
		return 0;
	case UP:
		mpz_cdiv_q(q, mpq_numref(x), mpq_denref(x));
		return 0;
	case EXACT:
		break;
	}
	if (mpz_cmp_ui(mpq_denref(x), 1) != 0)
		return -1;
	mpz_set(q, mpq_numref(x));
	return 0;
}

static int
oracle_in_range(const mpz_t q)
{
	return mpz_cmp(q, z_min) >= 0 && mpz_cmp(q, z_max) <= 0;
}

/* The money_t for the real value X rounded by MODE: 0 and Q, or -1. */
static int
oracle_money(const mpq_t x, enum money_round mode, mpz_t q)
{
	mpq_t units;
	int rc;

	mpq_init(units);
	mpz_mul(mpq_numref(units), mpq_numref(x), z_scale);
	mpz_set(mpq_denref(units), mpq_denref(x));
	mpq_canonicalize(units);
	rc = oracle_round(units, mode, q);
	mpq_clear(units);
	if (rc == -1 || !oracle_in_range(q))
		return -1;
	return 0;
}

/* Does (RC, GOT) agree with the oracle's (ORC, WANT)? */
static int
oracle_agrees(int rc, money_t got, int orc, const mpz_t want)
{
	if (rc != orc)
		return 0;
	if (rc != 0)
		return got == SENTINEL;
	z_set_i64(z_t, got);
	return mpz_cmp(z_t, want) == 0;
}

static void
fail_oracle(const char *call, int rc, money_t got, int orc, const mpz_t want)
{
	char *w = orc == 0 ? mpz_get_str(NULL, 10, want) : NULL;

	printf("# oracle: rc %d, units %s\n", orc, w != NULL ? w : "-");
	free(w);
	fail_case("%s: got rc %d, *out %" PRId64, call, rc, got);
}

/* ---- hand-written cases ---- */

static void
expect_result(const char *call, int rc, money_t got, int want_rc, money_t want)
{
	if (rc != want_rc)
		fail_case("%s: rc %d, want %d", call, rc, want_rc);
	if (rc == 0 && got != want)
		fail_case("%s: %" PRId64 ", want %" PRId64, call, got, want);
	if (rc != 0 && got != SENTINEL)
		fail_case("%s: failed but wrote *out", call);
}

/* Evaluate CALL, which writes its result to `res`. */
#define EXPECT(call, want_rc, want)                                            \
	do {                                                                   \
		money_t res = SENTINEL;                                        \
		int rc_ = (call);                                              \
		expect_result(#call, rc_, res, (want_rc), (want));             \
	} while (0)

/* Parse from an exactly sized heap copy, so ASan sees any overread. */
static int
parse_copy(const char *s, size_t len, enum money_round mode, money_t *out)
{
	char *p = xmalloc(len);
	int rc;

	memcpy(p, s, len);
	rc = money_parse_n(p, len, mode, out);
	free(p);
	return rc;
}

static void
expect_parse(const char *s, enum money_round mode, int want_rc, money_t want)
{
	money_t res = SENTINEL;
	int rc = parse_copy(s, strlen(s), mode, &res);
	char what[256];

	snprintf(what, sizeof what, "money_parse_n(\"%s\", %s)", s,
	         mode_name(mode));
	expect_result(what, rc, res, want_rc, want);
	if (mode == EXACT) {
		res = SENTINEL;
		rc = money_parse(s, &res);
		expect_result(what, rc, res, want_rc, want);
	}
}

static void
expect_parse_all(const char *s, int want_rc, money_t want)
{
	expect_parse(s, DOWN, want_rc, want);
	expect_parse(s, UP, want_rc, want);
	expect_parse(s, EXACT, want_rc, want);
}

static void
test_parse_valid(void **state)
{
	char buf[80];

	expect_parse_all("5", 0, 500000000);
	expect_parse_all("5.", 0, 500000000);
	expect_parse_all(".5", 0, 50000000);
	expect_parse_all("0.90", 0, 90000000);
	expect_parse_all("+1.5", 0, 150000000);
	expect_parse_all("-1.5", 0, -150000000);
	expect_parse_all("-0", 0, 0);
	expect_parse_all("+0.", 0, 0);
	expect_parse_all("-.0", 0, 0);
	expect_parse_all("0.00000001", 0, 1);
	expect_parse_all("-0.00000001", 0, -1);
	expect_parse_all("000000000000000000000012.5", 0, 1250000000);
	expect_parse_all("1.000000000000000000000", 0, MONEY_SCALE);
	expect_parse_all("92233720368.54775807", 0, INT64_MAX);
	expect_parse_all("-92233720368.54775808", 0, INT64_MIN);
	expect_parse_all("92233720368.547758070000", 0, INT64_MAX);
	expect_parse_all("-92233720368.547758080000", 0, INT64_MIN);

	/* Excess digits round by mode, toward -inf / +inf, sign included. */
	expect_parse("0.000000001", DOWN, 0, 0);
	expect_parse("0.000000001", UP, 0, 1);
	expect_parse("0.000000001", EXACT, -1, 0);
	expect_parse("-0.000000001", DOWN, 0, -1);
	expect_parse("-0.000000001", UP, 0, 0);
	expect_parse("-0.000000001", EXACT, -1, 0);
	expect_parse("1.234567899", DOWN, 0, 123456789);
	expect_parse("1.234567899", UP, 0, 123456790);
	expect_parse("-1.234567899", DOWN, 0, -123456790);
	expect_parse("-1.234567899", UP, 0, -123456789);
	expect_parse("0.999999999", UP, 0, MONEY_SCALE);
	expect_parse("-0.999999999", DOWN, 0, -MONEY_SCALE);

	/* At the limits: rounding away from zero leaves the range. */
	expect_parse("92233720368.547758071", DOWN, 0, INT64_MAX);
	expect_parse("92233720368.547758071", UP, -1, 0);
	expect_parse("-92233720368.547758081", UP, 0, INT64_MIN);
	expect_parse("-92233720368.547758081", DOWN, -1, 0);

	/* 64 fraction digits are accepted, 65 are not, even as zeros. */
	snprintf(buf, sizeof buf, "0.%063d1", 0);
	expect_parse(buf, DOWN, 0, 0);
	expect_parse(buf, UP, 0, 1);
	expect_parse(buf, EXACT, -1, 0);
	snprintf(buf, sizeof buf, "-1.%064d", 0);
	expect_parse_all(buf, 0, -MONEY_SCALE);
	snprintf(buf, sizeof buf, "1.%065d", 0);
	expect_parse_all(buf, -1, 0);
}

static void
test_parse_invalid(void **state)
{
	static const char *const bad[] = {
	    "",
	    "-",
	    "+",
	    ".",
	    "-.",
	    "+.",
	    "..",
	    " 1",
	    "1 ",
	    " ",
	    "\t1",
	    "1\n",
	    "1e5",
	    "1E5",
	    "1.5e2",
	    "0x10",
	    "0X1",
	    "inf",
	    "-inf",
	    "Infinity",
	    "nan",
	    "NaN",
	    "1.2.3",
	    "1..2",
	    "--1",
	    "+-1",
	    "-+1",
	    "1-",
	    "1+",
	    "1,5",
	    "1_000",
	    "1'000",
	    "$1",
	    "1$",
	    "\xd9\xa1",
	    "0b1",
	    "92233720368.54775808",
	    "-92233720368.54775809",
	    "92233720369",
	    "-92233720369",
	    "99999999999999999999999999999",
	    "18446744073709551616",
	    "100000000000.0",
	};
	size_t i;

	for (i = 0; i < NELEMS(bad); i++)
		expect_parse_all(bad[i], -1, 0);

	/* LEN is honoured: bytes past it are not read, a NUL inside is
	 * garbage. */
	EXPECT(money_parse_n("12345", 2, EXACT, &res), 0, 1200000000);
	EXPECT(money_parse_n("1.5x", 3, EXACT, &res), 0, 150000000);
	EXPECT(money_parse_n("1\0002", 3, EXACT, &res), -1, 0);
	EXPECT(money_parse_n("1", 0, EXACT, &res), -1, 0);
	EXPECT(money_parse_n(NULL, 0, EXACT, &res), -1, 0);
	EXPECT(money_parse(NULL, &res), -1, 0);
	EXPECT(money_parse_n("1", 1, (enum money_round)7, &res), -1, 0);
}

static void
expect_format(money_t v, int min_dec, const char *want)
{
	char buf[MONEY_BUFSZ];
	money_t back = SENTINEL;

	memset(buf, 'Z', sizeof buf);
	if (money_format(v, min_dec, buf) != buf)
		fail_case("money_format(%" PRId64 ", %d) did not return BUF", v,
		          min_dec);
	if (strcmp(buf, want) != 0)
		fail_case("money_format(%" PRId64 ", %d) = \"%s\", want \"%s\"",
		          v, min_dec, buf, want);
	if (money_parse(buf, &back) != 0 || back != v)
		fail_case("money_parse(\"%s\") does not give back %" PRId64,
		          buf, v);
}

static void
test_format(void **state)
{
	expect_format(90000000, 2, "0.90");
	expect_format(102250000, 2, "1.0225");
	expect_format(500000000, 0, "5");
	expect_format(500000000, 2, "5.00");
	expect_format(0, 0, "0");
	expect_format(0, 2, "0.00");
	expect_format(0, 8, "0.00000000");
	expect_format(1, 0, "0.00000001");
	expect_format(-1, 0, "-0.00000001");
	expect_format(-1, 8, "-0.00000001");
	expect_format(-50000000, 0, "-0.5");
	expect_format(-50000000, 3, "-0.500");
	expect_format(1234567800, 0, "12.345678");
	expect_format(1234567800, 8, "12.34567800");
	expect_format(INT64_MAX, 0, "92233720368.54775807");
	expect_format(INT64_MIN, 0, "-92233720368.54775808");
	expect_format(INT64_MIN / MONEY_SCALE * MONEY_SCALE, 0, "-92233720368");
	expect_format(INT64_MIN / MONEY_SCALE * MONEY_SCALE, 8,
	              "-92233720368.00000000");
	/* MIN_DEC is clamped to 0..8. */
	expect_format(500000000, -5, "5");
	expect_format(500000000, 9, "5.00000000");
	expect_format(500000000, 1000, "5.00000000");
}

static void
test_add_sub(void **state)
{
	EXPECT(money_add(1, 2, &res), 0, 3);
	EXPECT(money_add(-5, 2, &res), 0, -3);
	EXPECT(money_add(INT64_MAX, 0, &res), 0, INT64_MAX);
	EXPECT(money_add(INT64_MAX, 1, &res), -1, 0);
	EXPECT(money_add(INT64_MIN, -1, &res), -1, 0);
	EXPECT(money_add(INT64_MIN, INT64_MAX, &res), 0, -1);
	EXPECT(money_add(INT64_MAX, INT64_MAX, &res), -1, 0);
	EXPECT(money_sub(3, 5, &res), 0, -2);
	EXPECT(money_sub(0, INT64_MAX, &res), 0, -INT64_MAX);
	EXPECT(money_sub(0, INT64_MIN, &res), -1, 0);
	EXPECT(money_sub(-1, INT64_MIN, &res), 0, INT64_MAX);
	EXPECT(money_sub(INT64_MIN, 1, &res), -1, 0);
	EXPECT(money_sub(INT64_MAX, -1, &res), -1, 0);
}

static void
test_mul_div(void **state)
{
	money_t charge = 0, refund = 0;

	/* rate 0.9 per 1000 x 157, rounded up to 5 decimals: 0.1413 */
	EXPECT(money_mul_div(90000000, 157, 1000, UP, &res), 0, 14130000);
	EXPECT(money_round_dec(14130000, 5, UP, &res), 0, 14130000);
	/* rate 1.23456789 x 157 / 1000 = 0.19382715873 */
	EXPECT(money_mul_div(123456789, 157, 1000, UP, &res), 0, 19382716);
	EXPECT(money_mul_div(123456789, 157, 1000, DOWN, &res), 0, 19382715);
	EXPECT(money_mul_div(123456789, 157, 1000, EXACT, &res), -1, 0);
	assert_int_equal(money_mul_div(123456789, 157, 1000, UP, &charge), 0);
	assert_int_equal(money_round_dec(charge, 5, UP, &charge), 0);
	assert_int_equal(charge, 19383000);
	/* Partial, remains 50 of 157: floor(0.19383 x 50 / 157) =
	 * floor(0.0617292993...), then down to 5 decimals: 0.06172 */
	assert_int_equal(money_mul_div(charge, 50, 157, DOWN, &refund), 0);
	assert_int_equal(refund, 6172929);
	assert_int_equal(money_round_dec(refund, 5, DOWN, &refund), 0);
	assert_int_equal(refund, 6172000);
	assert_true(refund <= charge);
	/* Remains == quantity refunds exactly the charge. */
	EXPECT(money_mul_div(charge, 157, 157, DOWN, &res), 0, charge);

	/* Negative values: DOWN is the floor, UP the ceiling. */
	EXPECT(money_mul_div(-1, 1, 3, DOWN, &res), 0, -1);
	EXPECT(money_mul_div(-1, 1, 3, UP, &res), 0, 0);
	EXPECT(money_mul_div(-1, 1, 3, EXACT, &res), -1, 0);
	EXPECT(money_mul_div(1, 1, 3, DOWN, &res), 0, 0);
	EXPECT(money_mul_div(1, 1, 3, UP, &res), 0, 1);
	EXPECT(money_mul_div(1, -1, 3, DOWN, &res), 0, -1);
	EXPECT(money_mul_div(-7, -2, 4, DOWN, &res), 0, 3);
	EXPECT(money_mul_div(-7, -2, 4, UP, &res), 0, 4);
	EXPECT(money_mul_div(-7, 2, 4, DOWN, &res), 0, -4);
	EXPECT(money_mul_div(-7, 2, 4, UP, &res), 0, -3);
	EXPECT(money_mul_div(-6, 2, 4, EXACT, &res), 0, -3);
	EXPECT(money_mul_div(0, INT64_MIN, 1, EXACT, &res), 0, 0);

	/* 128-bit intermediate; overflow only of the result. */
	EXPECT(money_mul_div(INT64_MAX, INT64_MAX, INT64_MAX, EXACT, &res), 0,
	       INT64_MAX);
	EXPECT(money_mul_div(INT64_MIN, INT64_MIN, INT64_MAX, DOWN, &res), -1,
	       0);
	EXPECT(money_mul_div(INT64_MIN, INT64_MAX, INT64_MAX, EXACT, &res), 0,
	       INT64_MIN);
	EXPECT(money_mul_div(INT64_MAX, 2, 2, EXACT, &res), 0, INT64_MAX);
	EXPECT(money_mul_div(INT64_MAX, 2, 1, DOWN, &res), -1, 0);
	EXPECT(money_mul_div(INT64_MIN, -1, 1, DOWN, &res), -1, 0);
	EXPECT(money_mul_div(INT64_MIN, 1, 1, DOWN, &res), 0, INT64_MIN);
	EXPECT(money_mul_div(INT64_MIN, -1, 2, DOWN, &res), 0,
	       INT64_C(4611686018427387904));
	EXPECT(money_mul_div(INT64_MIN + 1, 3, 3, DOWN, &res), 0,
	       INT64_MIN + 1);
	/* -(2^63 + 1): one unit below INT64_MIN. */
	EXPECT(money_mul_div(INT64_MIN / 3 - 1, 3, 1, DOWN, &res), -1, 0);
	EXPECT(money_mul_div(INT64_MIN, 2, 3, UP, &res), 0,
	       -INT64_C(6148914691236517205));
	EXPECT(money_mul_div(INT64_MIN, 2, 3, DOWN, &res), 0,
	       -INT64_C(6148914691236517206));

	/* Bad arguments. */
	EXPECT(money_mul_div(1, 1, 0, DOWN, &res), -1, 0);
	EXPECT(money_mul_div(1, 1, -1, DOWN, &res), -1, 0);
	EXPECT(money_mul_div(1, 1, INT64_MIN, DOWN, &res), -1, 0);
	EXPECT(money_mul_div(1, 1, 1, (enum money_round)3, &res), -1, 0);
}

static void
test_mul(void **state)
{
	EXPECT(money_mul(150000000, 200000000, EXACT, &res), 0, 300000000);
	EXPECT(money_mul(-150000000, 200000000, EXACT, &res), 0, -300000000);
	EXPECT(money_mul(1, 50000000, DOWN, &res), 0, 0);
	EXPECT(money_mul(1, 50000000, UP, &res), 0, 1);
	EXPECT(money_mul(1, 50000000, EXACT, &res), -1, 0);
	EXPECT(money_mul(-1, 50000000, DOWN, &res), 0, -1);
	EXPECT(money_mul(-1, 50000000, UP, &res), 0, 0);
	EXPECT(money_mul(-1, -50000000, UP, &res), 0, 1);
	/* 0.9 x 1.1 (a currency factor) = 0.99 */
	EXPECT(money_mul(90000000, 110000000, EXACT, &res), 0, 99000000);
	EXPECT(money_mul(INT64_MAX, MONEY_SCALE, EXACT, &res), 0, INT64_MAX);
	EXPECT(money_mul(INT64_MIN, MONEY_SCALE, EXACT, &res), 0, INT64_MIN);
	EXPECT(money_mul(INT64_MIN, -MONEY_SCALE, EXACT, &res), -1, 0);
	EXPECT(money_mul(INT64_MAX, MONEY_SCALE + 1, DOWN, &res), -1, 0);
	EXPECT(money_mul(INT64_MAX, INT64_MAX, DOWN, &res), -1, 0);
	EXPECT(money_mul(INT64_MIN, INT64_MIN, UP, &res), -1, 0);
	EXPECT(money_mul(INT64_MAX, 1, UP, &res), 0,
	       INT64_MAX / MONEY_SCALE + 1);
	EXPECT(money_mul(INT64_MIN, 1, DOWN, &res), 0,
	       INT64_MIN / MONEY_SCALE - 1);
	EXPECT(money_mul(1, 1, (enum money_round)3, &res), -1, 0);
}

static void
test_div(void **state)
{
	EXPECT(money_div(MONEY_SCALE, 3 * MONEY_SCALE, DOWN, &res), 0,
	       33333333);
	EXPECT(money_div(MONEY_SCALE, 3 * MONEY_SCALE, UP, &res), 0, 33333334);
	EXPECT(money_div(MONEY_SCALE, 3 * MONEY_SCALE, EXACT, &res), -1, 0);
	EXPECT(money_div(-MONEY_SCALE, 3 * MONEY_SCALE, DOWN, &res), 0,
	       -33333334);
	EXPECT(money_div(-MONEY_SCALE, 3 * MONEY_SCALE, UP, &res), 0,
	       -33333333);
	EXPECT(money_div(300000000, 150000000, EXACT, &res), 0, 200000000);
	EXPECT(money_div(INT64_MAX, MONEY_SCALE, EXACT, &res), 0, INT64_MAX);
	EXPECT(money_div(INT64_MIN, MONEY_SCALE, EXACT, &res), 0, INT64_MIN);
	EXPECT(money_div(INT64_MAX, MONEY_SCALE - 1, DOWN, &res), -1, 0);
	EXPECT(money_div(INT64_MIN, 1, DOWN, &res), -1, 0);
	EXPECT(money_div(1, INT64_MAX, DOWN, &res), 0, 0);
	EXPECT(money_div(1, INT64_MAX, UP, &res), 0, 1);
	EXPECT(money_div(-1, INT64_MAX, DOWN, &res), 0, -1);
	EXPECT(money_div(-1, INT64_MAX, UP, &res), 0, 0);
	EXPECT(money_div(1, 0, DOWN, &res), -1, 0);
	EXPECT(money_div(1, -MONEY_SCALE, DOWN, &res), -1, 0);
	EXPECT(money_div(1, INT64_MIN, DOWN, &res), -1, 0);
	EXPECT(money_div(1, 1, (enum money_round)3, &res), -1, 0);
}

static void
test_round(void **state)
{
	EXPECT(money_round_to(123456789, 10000, UP, &res), 0, 123460000);
	EXPECT(money_round_to(123456789, 10000, DOWN, &res), 0, 123450000);
	EXPECT(money_round_to(123456789, 10000, EXACT, &res), -1, 0);
	EXPECT(money_round_to(-123456789, 10000, UP, &res), 0, -123450000);
	EXPECT(money_round_to(-123456789, 10000, DOWN, &res), 0, -123460000);
	EXPECT(money_round_to(123450000, 10000, EXACT, &res), 0, 123450000);
	EXPECT(money_round_to(-5, 3, DOWN, &res), 0, -6);
	EXPECT(money_round_to(-5, 3, UP, &res), 0, -3);
	EXPECT(money_round_to(0, 7, EXACT, &res), 0, 0);
	EXPECT(money_round_to(INT64_MAX, 1, EXACT, &res), 0, INT64_MAX);
	EXPECT(money_round_to(INT64_MAX, MONEY_SCALE, DOWN, &res), 0,
	       INT64_MAX / MONEY_SCALE * MONEY_SCALE);
	EXPECT(money_round_to(INT64_MAX, MONEY_SCALE, UP, &res), -1, 0);
	EXPECT(money_round_to(INT64_MAX, INT64_MAX, UP, &res), 0, INT64_MAX);
	EXPECT(money_round_to(1, INT64_MAX, UP, &res), 0, INT64_MAX);
	EXPECT(money_round_to(-1, INT64_MAX, DOWN, &res), 0, -INT64_MAX);
	EXPECT(money_round_to(INT64_MIN, INT64_MAX, DOWN, &res), -1, 0);
	EXPECT(money_round_to(INT64_MIN, 2, EXACT, &res), 0, INT64_MIN);
	/* 2^63 is not a multiple of 3: the floor is out of range. */
	EXPECT(money_round_to(INT64_MIN, 3, DOWN, &res), -1, 0);
	EXPECT(money_round_to(INT64_MIN, 3, UP, &res), 0, INT64_MIN + 2);
	EXPECT(money_round_to(1, 0, DOWN, &res), -1, 0);
	EXPECT(money_round_to(1, -1, DOWN, &res), -1, 0);
	EXPECT(money_round_to(1, 1, (enum money_round)3, &res), -1, 0);

	/* money.decimals: charges UP, refunds DOWN */
	EXPECT(money_round_dec(19382716, 5, UP, &res), 0, 19383000);
	EXPECT(money_round_dec(19382716, 5, DOWN, &res), 0, 19382000);
	EXPECT(money_round_dec(-19382716, 5, UP, &res), 0, -19382000);
	EXPECT(money_round_dec(-19382716, 5, DOWN, &res), 0, -19383000);
	EXPECT(money_round_dec(19382716, 8, EXACT, &res), 0, 19382716);
	EXPECT(money_round_dec(19382716, 0, UP, &res), 0, MONEY_SCALE);
	EXPECT(money_round_dec(19382716, 0, DOWN, &res), 0, 0);
	EXPECT(money_round_dec(-1, 0, DOWN, &res), 0, -MONEY_SCALE);
	EXPECT(money_round_dec(1, 2, EXACT, &res), -1, 0);
	EXPECT(money_round_dec(INT64_MAX, 0, UP, &res), -1, 0);
	EXPECT(money_round_dec(INT64_MIN, 0, DOWN, &res), -1, 0);
	EXPECT(money_round_dec(INT64_MIN, 0, UP, &res), 0,
	       INT64_MIN / MONEY_SCALE * MONEY_SCALE);
	EXPECT(money_round_dec(1, -1, DOWN, &res), -1, 0);
	EXPECT(money_round_dec(1, 9, DOWN, &res), -1, 0);
}

/* ---- random cases against the oracle ---- */

struct pcase {
	char s[192];
	size_t len;
	int valid;
	int neg;
	char digits[128]; /* integer then fraction digits, NUL-terminated */
	size_t nfrac;
};

static void
pc_put(struct pcase *pc, char c)
{
	assert_true(pc->len < sizeof pc->s);
	pc->s[pc->len++] = c;
}

static void
pc_digit(struct pcase *pc, char c)
{
	size_t n = strlen(pc->digits);

	assert_true(n + 1 < sizeof pc->digits);
	pc->digits[n] = c;
	pc->digits[n + 1] = '\0';
	pc_put(pc, c);
}

/* Fraction digits past the 8th: zeros, random, or zeros ending in 1. */
static void
pc_tail(struct rng *r, struct pcase *pc, size_t n)
{
	uint64_t kind = rng_below(r, 3);
	size_t i;

	for (i = 0; i < n; i++) {
		if (kind == 1)
			pc_digit(pc, (char)('0' + rng_below(r, 10)));
		else
			pc_digit(pc, kind == 2 && i == n - 1 ? '1' : '0');
	}
}

/* Sign, digits, point, digits in random widths; knows if it is valid. */
static void
gen_structured(struct rng *r, struct pcase *pc)
{
	uint64_t w, sign = rng_below(r, 4);
	size_t i, nint, nzero, nfrac = 0;
	int point;

	memset(pc, 0, sizeof *pc);
	pc->neg = sign == 2;
	if (sign >= 2)
		pc_put(pc, sign == 2 ? '-' : '+');
	nzero = rng_below(r, 8) == 0 ? rng_below(r, 4) : 0;
	w = rng_below(r, 10);
	nint = w == 0   ? 0
	       : w < 8  ? 1 + rng_below(r, 11)
	       : w == 8 ? 11
	                : 12 + rng_below(r, 4);
	for (i = 0; i < nzero; i++)
		pc_digit(pc, '0');
	for (i = 0; i < nint; i++)
		pc_digit(pc, (char)('0' + rng_below(r, 10)));
	point = rng_below(r, 10) < 7;
	if (point) {
		pc_put(pc, '.');
		w = rng_below(r, 10);
		nfrac = w < 4   ? rng_below(r, 9)
		        : w < 7 ? 9 + rng_below(r, 12)
		        : w < 9 ? 21 + rng_below(r, 44)
		                : 60 + rng_below(r, 11);
		for (i = 0; i < nfrac && i < MONEY_DECIMALS; i++)
			pc_digit(pc, (char)('0' + rng_below(r, 10)));
		if (nfrac > MONEY_DECIMALS)
			pc_tail(r, pc, nfrac - MONEY_DECIMALS);
	}
	pc->nfrac = nfrac;
	pc->valid = nzero + nint + nfrac >= 1 && nfrac <= 64;
}

/* A value near the edges written out in full (+-1 unit, so just past the
 * int64 limits too), then extra fraction digits. */
static void
gen_edge(struct rng *r, struct pcase *pc)
{
	int64_t v = rand_i64(r);
	uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	char num[48];
	size_t i, extra = rng_below(r, 12);

	memset(pc, 0, sizeof *pc);
	if (mag > 0)
		mag += rng_below(r, 3) - 1;
	else
		mag += rng_below(r, 2);
	pc->neg = v < 0;
	if (v < 0)
		pc_put(pc, '-');
	else if (rng_below(r, 4) == 0)
		pc_put(pc, '+');
	snprintf(num, sizeof num, "%" PRIu64 "%08" PRIu64,
	         mag / (uint64_t)MONEY_SCALE, mag % (uint64_t)MONEY_SCALE);
	for (i = 0; num[i + MONEY_DECIMALS] != '\0'; i++)
		pc_digit(pc, num[i]);
	pc_put(pc, '.');
	for (; num[i] != '\0'; i++)
		pc_digit(pc, num[i]);
	pc_tail(r, pc, extra);
	pc->nfrac = MONEY_DECIMALS + extra;
	pc->valid = 1;
}

/* A valid string broken in a way no grammar reading can accept. */
static void
gen_broken(struct rng *r, struct pcase *pc)
{
	static const char junk[] = " \t\nexEX,_i/:$\0";
	size_t at;
	char c;

	do
		gen_structured(r, pc);
	while (!pc->valid || pc->len + 1 >= sizeof pc->s);
	switch (rng_below(r, 3)) {
	case 0:
		at = rng_below(r, pc->len + 1);
		c = junk[rng_below(r, sizeof junk - 1)];
		break;
	case 1:
		/* a sign anywhere but first */
		at = 1 + rng_below(r, pc->len);
		c = rng_below(r, 2) ? '-' : '+';
		break;
	default:
		/* a second point */
		if (memchr(pc->s, '.', pc->len) == NULL)
			pc_put(pc, '.');
		at = rng_below(r, pc->len + 1);
		c = '.';
		break;
	}
	memmove(pc->s + at + 1, pc->s + at, pc->len - at);
	pc->s[at] = c;
	pc->len++;
	pc->valid = 0;
}

static int
oracle_parse(const struct pcase *pc, enum money_round mode, mpz_t q)
{
	if (!pc->valid)
		return -1;
	if (mpz_set_str(mpq_numref(q_x), pc->digits, 10) != 0)
		fail_case("oracle: bad digits \"%s\"", pc->digits);
	if (pc->neg)
		mpz_neg(mpq_numref(q_x), mpq_numref(q_x));
	mpz_ui_pow_ui(mpq_denref(q_x), 10, pc->nfrac);
	mpq_canonicalize(q_x);
	return oracle_money(q_x, mode, q);
}

static void
test_random_parse(void **state)
{
	static const enum money_round modes[] = {DOWN, UP, EXACT};
	struct rng r;
	struct pcase pc;
	unsigned long n = 0;
	money_t got, exact = 0;
	size_t i, m;
	int rc, orc, exact_rc = 0;
	uint64_t kind;

	rng_init(&r, 1);
	for (i = 0; i < N_PARSE_STRINGS; i++) {
		kind = rng_below(&r, 10);
		if (kind < 6)
			gen_structured(&r, &pc);
		else if (kind < 9)
			gen_edge(&r, &pc);
		else
			gen_broken(&r, &pc);
		for (m = 0; m < NELEMS(modes); m++, n++) {
			got = SENTINEL;
			rc = parse_copy(pc.s, pc.len, modes[m], &got);
			orc = oracle_parse(&pc, modes[m], z_q);
			if (!oracle_agrees(rc, got, orc, z_q)) {
				fail_oracle("money_parse_n", rc, got, orc, z_q);
			}
			if (modes[m] == EXACT) {
				exact_rc = rc;
				exact = got;
			}
		}
		/* money_parse is the EXACT mode over a C string. */
		if (memchr(pc.s, '\0', pc.len) == NULL) {
			pc.s[pc.len] = '\0';
			got = SENTINEL;
			rc = money_parse(pc.s, &got);
			if (rc != exact_rc || got != exact)
				fail_case("money_parse(\"%s\") differs", pc.s);
		}
	}
	count_cases("parse", n);
}

/* Check BUF is the one right rendering of V with MIN_DEC: the shape the
 * contract fixes, and the same exact value. */
static void
check_format(const char *buf, money_t v, int min_dec)
{
	const char *p = buf, *point;
	char digits[MONEY_BUFSZ];
	size_t nint, ndec = 0, n = 0;
	int md = min_dec < 0 ? 0 : min_dec > 8 ? 8 : min_dec;

	if (strnlen(buf, MONEY_BUFSZ) >= MONEY_BUFSZ)
		fail_case("money_format(%" PRId64 "): overlong", v);
	if ((*p == '-') != (v < 0))
		fail_case("money_format(%" PRId64 ") = \"%s\": sign", v, buf);
	if (*p == '-')
		p++;
	for (nint = 0; p[nint] >= '0' && p[nint] <= '9'; nint++)
		digits[n++] = p[nint];
	if (nint == 0 || (nint > 1 && p[0] == '0'))
		fail_case("money_format(%" PRId64 ") = \"%s\": integer part", v,
		          buf);
	point = p + nint;
	if (*point == '.') {
		for (p = point + 1; *p >= '0' && *p <= '9'; p++, ndec++)
			digits[n++] = *p;
		if (ndec == 0 || *p != '\0' || (p[-1] == '0' && (int)ndec > md))
			fail_case("money_format(%" PRId64 ", %d) = \"%s\": "
			          "fraction",
			          v, min_dec, buf);
	} else if (*point != '\0') {
		fail_case("money_format(%" PRId64 ") = \"%s\": junk", v, buf);
	}
	if ((int)ndec < md || ndec > MONEY_DECIMALS)
		fail_case("money_format(%" PRId64 ", %d) = \"%s\": decimals", v,
		          min_dec, buf);
	digits[n] = '\0';

	/* digits / 10^ndec == v / 10^8 */
	mpz_set_str(z_a, digits, 10);
	if (v < 0)
		mpz_neg(z_a, z_a);
	mpz_ui_pow_ui(z_b, 10, MONEY_DECIMALS - ndec);
	mpz_mul(z_a, z_a, z_b);
	z_set_i64(z_t, v);
	if (mpz_cmp(z_a, z_t) != 0)
		fail_case("money_format(%" PRId64 ") = \"%s\": value", v, buf);
}

static void
test_random_format(void **state)
{
	struct rng r;
	char buf[MONEY_BUFSZ];
	money_t v, back;
	unsigned long i;
	int min_dec;

	rng_init(&r, 2);
	for (i = 0; i < N_FORMAT; i++) {
		v = rand_i64(&r);
		min_dec = rng_below(&r, 20) == 0 ? (int)rng_below(&r, 15) - 3
		                                 : (int)rng_below(&r, 9);
		memset(buf, 'Z', sizeof buf);
		if (money_format(v, min_dec, buf) != buf)
			fail_case("money_format: not BUF");
		check_format(buf, v, min_dec);
		back = SENTINEL;
		if (money_parse(buf, &back) != 0 || back != v)
			fail_case("round trip: %" PRId64
			          " -> \"%s\" -> %" PRId64,
			          v, buf, back);
		back = SENTINEL;
		if (money_parse_n(buf, strlen(buf), rand_mode(&r), &back) !=
		        0 ||
		    back != v)
			fail_case("round trip by mode: %" PRId64 " -> \"%s\"",
			          v, buf);
	}
	count_cases("format", N_FORMAT);
}

static void
test_random_add_sub(void **state)
{
	struct rng r;
	money_t a, b, got;
	unsigned long i;
	int rc, orc;
	char call[96];

	rng_init(&r, 3);
	for (i = 0; i < N_ADDSUB_PAIRS; i++) {
		a = rand_i64(&r);
		b = rand_i64(&r);
		/* just inside or outside the limit */
		if (rng_below(&r, 3) == 0)
			b = sat64((__int128)rand_target(&r) - a +
			          rand_delta(&r));

		z_set_i64(z_a, a);
		z_set_i64(z_b, b);
		mpz_add(z_q, z_a, z_b);
		orc = oracle_in_range(z_q) ? 0 : -1;
		got = SENTINEL;
		rc = money_add(a, b, &got);
		if (!oracle_agrees(rc, got, orc, z_q)) {
			snprintf(call, sizeof call,
			         "money_add(%" PRId64 ", %" PRId64 ")", a, b);
			fail_oracle(call, rc, got, orc, z_q);
		}

		if (rng_below(&r, 3) == 0)
			b = sat64((__int128)a - rand_target(&r) +
			          rand_delta(&r));
		z_set_i64(z_b, b);
		mpz_sub(z_q, z_a, z_b);
		orc = oracle_in_range(z_q) ? 0 : -1;
		got = SENTINEL;
		rc = money_sub(a, b, &got);
		if (!oracle_agrees(rc, got, orc, z_q)) {
			snprintf(call, sizeof call,
			         "money_sub(%" PRId64 ", %" PRId64 ")", a, b);
			fail_oracle(call, rc, got, orc, z_q);
		}
	}
	count_cases("add/sub", 2 * N_ADDSUB_PAIRS);
}

static int64_t
rand_den(struct rng *r)
{
	static const int64_t common[] = {
	    1, 2, 3, 7, 10, 157, 1000, MONEY_SCALE, INT64_MAX,
	};

	if (rng_below(r, 4) == 0)
		return common[rng_below(r, NELEMS(common))];
	return rand_positive(r);
}

static void
test_random_mul_div(void **state)
{
	struct rng r;
	money_t a, got;
	int64_t num, den;
	enum money_round mode;
	unsigned long i;
	int rc, orc;
	char call[128];

	rng_init(&r, 4);
	for (i = 0; i < N_MUL_DIV; i++) {
		a = rand_i64(&r);
		den = rand_den(&r);
		num = rand_i64(&r);
		mode = rand_mode(&r);
		if (a != 0 && den > 0 && rng_below(&r, 3) == 0)
			num = sat64((__int128)rand_target(&r) * den / a +
			            rand_delta(&r));

		/* the real value a/10^8 x num / den */
		if (den > 0) {
			q_set_money(q_x, a);
			q_set_int(q_y, num);
			mpq_mul(q_x, q_x, q_y);
			q_set_int(q_y, den);
			mpq_div(q_x, q_x, q_y);
			orc = oracle_money(q_x, mode, z_q);
		} else {
			orc = -1;
		}
		got = SENTINEL;
		rc = money_mul_div(a, num, den, mode, &got);
		if (!oracle_agrees(rc, got, orc, z_q)) {
			snprintf(call, sizeof call,
			         "money_mul_div(%" PRId64 ", %" PRId64
			         ", %" PRId64 ", %s)",
			         a, num, den, mode_name(mode));
			fail_oracle(call, rc, got, orc, z_q);
		}
	}
	count_cases("mul_div", N_MUL_DIV);
}

static void
test_random_mul(void **state)
{
	struct rng r;
	money_t a, b, got;
	enum money_round mode;
	unsigned long i;
	int rc, orc;
	char call[128];

	rng_init(&r, 5);
	for (i = 0; i < N_MUL; i++) {
		a = rand_i64(&r);
		b = rand_i64(&r);
		mode = rand_mode(&r);
		if (a != 0 && rng_below(&r, 3) == 0)
			b = sat64((__int128)rand_target(&r) * MONEY_SCALE / a +
			          rand_delta(&r));

		q_set_money(q_x, a);
		q_set_money(q_y, b);
		mpq_mul(q_x, q_x, q_y);
		orc = oracle_money(q_x, mode, z_q);
		got = SENTINEL;
		rc = money_mul(a, b, mode, &got);
		if (!oracle_agrees(rc, got, orc, z_q)) {
			snprintf(call, sizeof call,
			         "money_mul(%" PRId64 ", %" PRId64 ", %s)", a,
			         b, mode_name(mode));
			fail_oracle(call, rc, got, orc, z_q);
		}
	}
	count_cases("mul", N_MUL);
}

static void
test_random_div(void **state)
{
	struct rng r;
	money_t a, b, got;
	enum money_round mode;
	unsigned long i;
	int rc, orc;
	char call[128];

	rng_init(&r, 6);
	for (i = 0; i < N_DIV; i++) {
		a = rand_i64(&r);
		b = rand_positive(&r);
		mode = rand_mode(&r);
		if (rng_below(&r, 3) == 0)
			b = sat64((__int128)a * MONEY_SCALE / rand_target(&r) +
			          rand_delta(&r));
		if (rng_below(&r, 2) == 0 && b < 0)
			b = b == INT64_MIN ? INT64_MAX : -b;

		if (b > 0) {
			q_set_money(q_x, a);
			q_set_money(q_y, b);
			mpq_div(q_x, q_x, q_y);
			orc = oracle_money(q_x, mode, z_q);
		} else {
			orc = -1;
		}
		got = SENTINEL;
		rc = money_div(a, b, mode, &got);
		if (!oracle_agrees(rc, got, orc, z_q)) {
			snprintf(call, sizeof call,
			         "money_div(%" PRId64 ", %" PRId64 ", %s)", a,
			         b, mode_name(mode));
			fail_oracle(call, rc, got, orc, z_q);
		}
	}
	count_cases("div", N_DIV);
}

/* Round the real value X to a multiple of the real value STEP by MODE:
 * k = round(X / STEP), result k x STEP. */
static int
oracle_round_multiple(mpq_t x, const mpq_t step, enum money_round mode, mpz_t q)
{
	mpq_div(x, x, step);
	if (oracle_round(x, mode, z_b) == -1)
		return -1;
	mpq_set_z(x, z_b);
	mpq_mul(x, x, step);
	return oracle_money(x, mode, q);
}

static void
test_random_round_to(void **state)
{
	static const int64_t steps[] = {
	    1, 2, 3, 10, 1000, 10000, MONEY_SCALE, INT64_MAX, INT64_MAX - 1,
	};
	struct rng r;
	money_t v, step, got;
	enum money_round mode;
	unsigned long i;
	int rc, orc;
	char call[128];

	rng_init(&r, 7);
	for (i = 0; i < N_ROUND_TO; i++) {
		v = rand_i64(&r);
		mode = rand_mode(&r);
		switch (rng_below(&r, 4)) {
		case 0:
			step = steps[rng_below(&r, NELEMS(steps))];
			break;
		case 1:
			/* comparable to v: few multiples, near the limits */
			step = v == INT64_MIN ? INT64_MAX
			       : v < 0        ? -v
			       : v == 0       ? 1
			                      : v;
			step = sat64((__int128)step / (1 + rng_below(&r, 4)) +
			             rand_delta(&r));
			break;
		default:
			step = rand_positive(&r);
			break;
		}

		if (step > 0) {
			q_set_money(q_x, v);
			q_set_money(q_y, step);
			orc = oracle_round_multiple(q_x, q_y, mode, z_q);
		} else {
			orc = -1;
		}
		got = SENTINEL;
		rc = money_round_to(v, step, mode, &got);
		if (!oracle_agrees(rc, got, orc, z_q)) {
			snprintf(call, sizeof call,
			         "money_round_to(%" PRId64 ", %" PRId64 ", %s)",
			         v, step, mode_name(mode));
			fail_oracle(call, rc, got, orc, z_q);
		}
	}
	count_cases("round_to", N_ROUND_TO);
}

static void
test_random_round_dec(void **state)
{
	struct rng r;
	money_t v, got;
	enum money_round mode;
	unsigned long i;
	int rc, orc, dec;
	char call[128];

	rng_init(&r, 8);
	for (i = 0; i < N_ROUND_DEC; i++) {
		v = rand_i64(&r);
		mode = rand_mode(&r);
		dec = rng_below(&r, 32) == 0 ? (int)rng_below(&r, 40) - 20
		                             : (int)rng_below(&r, 9);

		if (dec >= 0 && dec <= MONEY_DECIMALS) {
			/* step = 10^-dec */
			q_set_money(q_x, v);
			mpz_set_ui(mpq_numref(q_y), 1);
			mpz_ui_pow_ui(mpq_denref(q_y), 10, (unsigned long)dec);
			orc = oracle_round_multiple(q_x, q_y, mode, z_q);
		} else {
			orc = -1;
		}
		got = SENTINEL;
		rc = money_round_dec(v, dec, mode, &got);
		if (!oracle_agrees(rc, got, orc, z_q)) {
			snprintf(call, sizeof call,
			         "money_round_dec(%" PRId64 ", %d, %s)", v, dec,
			         mode_name(mode));
			fail_oracle(call, rc, got, orc, z_q);
		}
	}
	count_cases("round_dec", N_ROUND_DEC);
}

static int
group_setup(void **state)
{
	mpz_inits(z_min, z_max, z_scale, z_a, z_b, z_q, z_t, NULL);
	mpq_inits(q_x, q_y, NULL);
	z_set_i64(z_min, INT64_MIN);
	z_set_i64(z_max, INT64_MAX);
	z_set_i64(z_scale, MONEY_SCALE);
	return 0;
}

static int
group_teardown(void **state)
{
	printf("# money: %lu random cases against the GMP oracle "
	       "(MONEY_SEED=%" PRIu64 ")\n",
	       test_total, test_seed);
	mpz_clears(z_min, z_max, z_scale, z_a, z_b, z_q, z_t, NULL);
	mpq_clears(q_x, q_y, NULL);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_valid),
	    cmocka_unit_test(test_parse_invalid),
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_add_sub),
	    cmocka_unit_test(test_mul_div),
	    cmocka_unit_test(test_mul),
	    cmocka_unit_test(test_div),
	    cmocka_unit_test(test_round),
	    cmocka_unit_test(test_random_parse),
	    cmocka_unit_test(test_random_format),
	    cmocka_unit_test(test_random_add_sub),
	    cmocka_unit_test(test_random_mul_div),
	    cmocka_unit_test(test_random_mul),
	    cmocka_unit_test(test_random_div),
	    cmocka_unit_test(test_random_round_to),
	    cmocka_unit_test(test_random_round_dec),
	};
	const char *env = getenv("MONEY_SEED");
	char *end;

	test_seed = SEED_DEFAULT;
	if (env != NULL && *env != '\0') {
		test_seed = strtoull(env, &end, 0);
		if (*end != '\0') {
			fprintf(stderr, "MONEY_SEED: not a number: %s\n", env);
			return 2;
		}
	}
	printf("# money: MONEY_SEED=%" PRIu64 "\n", test_seed);
	fflush(stdout);
	return cmocka_run_group_tests_name("money", tests, group_setup,
	                                   group_teardown);
}
