/* match_norm.c - service names to canonical tokens, and the features read
 * from them: platform, kind, sub-kind, geo target, quality, refill window.
 * The words themselves are in match_words.c. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"
#include "match_int.h"

/*
 * Characters.
 */

/* Decode one UTF-8 sequence at S (LEN bytes left); its length in *N (1 for
 * an invalid byte, read as U+FFFD). */
static uint32_t
match_utf8(const unsigned char *s, size_t len, size_t *n)
{
	uint32_t c;
	size_t k, i;

	if (s[0] < 0x80) {
		*n = 1;
		return s[0];
	}
	if ((s[0] & 0xe0) == 0xc0) {
		c = s[0] & 0x1f;
		k = 2;
	} else if ((s[0] & 0xf0) == 0xe0) {
		c = s[0] & 0x0f;
		k = 3;
	} else if ((s[0] & 0xf8) == 0xf0) {
		c = s[0] & 0x07;
		k = 4;
	} else {
		*n = 1;
		return 0xfffd;
	}
	if (k > len) {
		*n = 1;
		return 0xfffd;
	}
	for (i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			*n = 1;
			return 0xfffd;
		}
		c = (c << 6) | (s[i] & 0x3f);
	}
	*n = k;
	return c;
}

static size_t
match_put_utf8(uint32_t c, char *out)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xc0 | (c >> 6));
		out[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xe0 | (c >> 12));
		out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		out[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (c >> 18));
	out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	out[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/* Latin letters with marks, folded to ASCII (both cases). */
static const struct {
	uint16_t c;
	char to[3];
} match_latin[] = {
    {0xdf, "ss"},  {0xe6, "ae"},  {0xf0, "d"},    {0xf8, "o"},   {0x131, "i"},
    {0x130, "i"},  {0x142, "l"},  {0x141, "l"},   {0x153, "oe"}, {0x152, "oe"},
    {0x111, "d"},  {0x110, "d"},  {0x25b, "e"},   {0x190, "e"},  {0x263, "g"},
    {0x194, "g"},  {0x1e0d, "d"}, {0x1e0c, "d"},  {0x1e6d, "t"}, {0x1e6c, "t"},
    {0x1e93, "z"}, {0x1e92, "z"}, {0x1e25, "h"},  {0x1e24, "h"}, {0x1e5b, "r"},
    {0x1e5a, "r"}, {0x1e63, "s"}, {0x1e62, "s"},  {0x1e0f, "d"}, {0x1e0e, "d"},
    {0x1e6f, "t"}, {0x1e6e, "t"}, {0x1e9e, "ss"}, {0x1e35, "k"}, {0x1e34, "k"},
};

/* The base letter of a Latin-1 / Latin Extended-A letter with a mark, or
 * 0.  Upper case folds to lower case. */
static int
match_latin_base(uint32_t c)
{
	static const char l1[] = /* U+00C0..U+00FF */
	    "aaaaaaaceeeeiiiidnooooo*ouuuuyts"
	    "aaaaaaaceeeeiiiidnooooo/ouuuuyty";
	static const char ea[] = /* U+0100..U+017F, by pairs */
	    "aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiiijjjjkkklllll"
	    "lllllnnnnnnnnnooooooooorrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzz"
	    "s";

	if (c >= 0xc0 && c <= 0xff) {
		char b = l1[c - 0xc0];
		return b == '*' || b == '/' ? 0 : b;
	}
	if (c >= 0x100 && c <= 0x17f && c - 0x100 < sizeof(ea) - 1)
		return ea[c - 0x100];
	/* Latin Extended-B: the few with carons and commas below. */
	switch (c) {
	case 0x1e6:
	case 0x1e7:
		return 'g'; /* ǧ */
	case 0x218:
	case 0x219:
		return 's'; /* ș */
	case 0x21a:
	case 0x21b:
		return 't'; /* ț */
	case 0x1cd:
	case 0x1ce:
		return 'a';
	}
	return 0;
}

/* Whether C is part of a word (and how it is written into a token). */
enum match_cc { MATCH_SEP, MATCH_DROP, MATCH_KEEP };

/* Fold C into OUT (up to 4 bytes + NUL); what C is. */
static enum match_cc
match_fold(uint32_t c, char *out, size_t *olen)
{
	*olen = 0;
	if (c < 0x80) {
		if (isalnum((int)c)) {
			out[0] = (char)tolower((int)c);
			*olen = 1;
			return MATCH_KEEP;
		}
		return MATCH_SEP;
	}
	if ((c >= 0x300 && c <= 0x36f) || (c >= 0x64b && c <= 0x652) ||
	    c == 0x640 || c == 0x670)
		return MATCH_DROP; /* combining marks, tashkeel, tatweel */
	for (size_t i = 0; i < sizeof(match_latin) / sizeof(match_latin[0]);
	     i++) {
		if (match_latin[i].c == c) {
			*olen = strlen(match_latin[i].to);
			memcpy(out, match_latin[i].to, *olen);
			return MATCH_KEEP;
		}
	}
	{
		int b = match_latin_base(c);

		if (b != 0) {
			out[0] = (char)b;
			*olen = 1;
			return MATCH_KEEP;
		}
	}
	if (c >= 0x660 && c <= 0x669) { /* Arabic-Indic digits */
		out[0] = (char)('0' + (c - 0x660));
		*olen = 1;
		return MATCH_KEEP;
	}
	if (c >= 0x6f0 && c <= 0x6f9) {
		out[0] = (char)('0' + (c - 0x6f0));
		*olen = 1;
		return MATCH_KEEP;
	}
	if ((c >= 0x621 && c <= 0x64a) || (c >= 0x671 && c <= 0x6d3)) {
		switch (
		    c) { /* alef forms, taa marbuta, alef maqsura, Persian */
		case 0x622:
		case 0x623:
		case 0x625:
		case 0x671:
			c = 0x627;
			break;
		case 0x629:
			c = 0x647;
			break;
		case 0x649:
		case 0x6cc:
			c = 0x64a;
			break;
		case 0x6a9:
			c = 0x643;
			break;
		case 0x6af:
			c = 0x643;
			break; /* گ: spelled ك or ق; pick one */
		}
		*olen = match_put_utf8(c, out);
		return MATCH_KEEP;
	}
	if (c >= 0x410 && c <= 0x42f) /* Cyrillic capitals */
		c += 0x20;
	else if (c >= 0x391 && c <= 0x3a9)
		c += 0x20;
	if ((c >= 0x370 && c <= 0x3ff) || (c >= 0x400 && c <= 0x4ff) ||
	    (c >= 0x180 && c <= 0x24f) || (c >= 0x250 && c <= 0x2af) ||
	    (c >= 0x1e00 && c <= 0x1eff) || (c >= 0x2d30 && c <= 0x2d7f) ||
	    (c >= 0x4e00 && c <= 0x9fff) || (c >= 0xac00 && c <= 0xd7af) ||
	    (c >= 0x3040 && c <= 0x30ff) || (c >= 0x0e00 && c <= 0x0e7f)) {
		*olen = match_put_utf8(c, out);
		return MATCH_KEEP;
	}
	return MATCH_SEP; /* emoji, symbols, punctuation, spaces */
}

/* Split S into folded raw words.  A '.' or ',' between digits stays
 * ("1.5k", "10,000"). */
static size_t
match_split(const char *s, match_tok *w, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i = 0, nw = 0, cur = 0;

	while (i < len && nw < max) {
		size_t n, ol;
		char buf[8];
		uint32_t c = match_utf8(p + i, len - i, &n);
		enum match_cc cc = match_fold(c, buf, &ol);

		if ((c == '.' || c == ',') && cur > 0 &&
		    isdigit((unsigned char)w[nw][cur - 1]) && i + 1 < len &&
		    isdigit(p[i + 1])) {
			cc = MATCH_KEEP;
			buf[0] = (char)c;
			ol = 1;
		}
		i += n;
		if (cc == MATCH_DROP)
			continue;
		if (cc == MATCH_SEP) {
			if (cur > 0) {
				w[nw][cur] = '\0';
				nw++;
				cur = 0;
			}
			continue;
		}
		if (cur + ol < MATCH_TOK_SZ) {
			memcpy(w[nw] + cur, buf, ol);
			cur += ol;
		}
	}
	if (cur > 0 && nw < max) {
		w[nw][cur] = '\0';
		nw++;
	}
	return nw;
}

/* A number word: "1000", "1k", "1.5k", "10,000", "2m" -> digits; "r30" ->
 * "refill30"; "30d" -> "30days".  1 if W was rewritten. */
static int
match_number(match_tok w)
{
	char digits[MATCH_TOK_SZ];
	size_t n = 0, i = 0, len = strlen(w);
	double v;
	char *end;

	if (len >= 2 && w[0] == 'r' && isdigit((unsigned char)w[1])) {
		for (i = 1; i < len && isdigit((unsigned char)w[i]); i++)
			;
		if (i == len && len <= 6) {
			snprintf(digits, sizeof(digits), "refill%s", w + 1);
			memcpy(w, digits, sizeof(digits));
			return 1;
		}
		return 0;
	}
	if (!isdigit((unsigned char)w[0]))
		return 0;
	for (i = 0; i < len && n < sizeof(digits) - 1; i++) {
		if (w[i] != ',')
			digits[n++] = w[i];
	}
	digits[n] = '\0';
	v = strtod(digits, &end);
	if (end == digits || v > 1e15)
		return 0;
	if (strcmp(end, "k") == 0)
		v *= 1000;
	else if (strcmp(end, "m") == 0)
		v *= 1000000;
	else if (strcmp(end, "d") == 0 || strcmp(end, "day") == 0 ||
	         strcmp(end, "days") == 0 || strcmp(end, "g") == 0) {
		snprintf(w, MATCH_TOK_SZ, "%.0fdays", v);
		return 1;
	} else if (strcmp(end, "h") == 0) {
		snprintf(w, MATCH_TOK_SZ, "%.0fhours", v);
		return 1;
	} else if (*end != '\0')
		return 0;
	snprintf(w, MATCH_TOK_SZ, "%.0f", v);
	return 1;
}

static int
match_is_days(const char *w, long *days)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)w[0]))
		return 0;
	v = strtol(w, &end, 10);
	if (strcmp(end, "days") != 0)
		return 0;
	*days = v;
	return 1;
}

static void
match_drop(match_tok *t, size_t *n, size_t i)
{
	memmove(t + i, t + i + 1, (*n - i - 1) * sizeof(*t));
	(*n)--;
}

size_t
match_canon(const char *name, match_tok *t, size_t max)
{
	match_tok raw[MATCH_TOKENS_MAX * 2];
	size_t nraw = match_split(name, raw, MATCH_TOKENS_MAX * 2), n = 0;
	int has_window = 0;

	/* Words, with phrase pairs read first on the raw spellings and then
	 * on the canonical ones ("no" + "garanti" -> "no refill"). */
	for (size_t i = 0; i < nraw && n < max; i++) {
		const char *to = NULL;

		if (i + 1 < nraw &&
		    (to = match_phrase(raw[i], raw[i + 1])) != NULL)
			i++;
		if (to == NULL && (to = match_word(raw[i])) == NULL &&
		    strncmp(raw[i], "\xd8\xa7\xd9\x84", 4) == 0 &&
		    strlen(raw[i]) > 6)
			to = match_word(raw[i] + 4); /* Arabic al- */
		if (to != NULL && to[0] == '\0')
			continue; /* a stop word */
		snprintf(t[n], MATCH_TOK_SZ, "%s", to != NULL ? to : raw[i]);
		if (to == NULL)
			match_number(t[n]);
		if (n > 0 && (to = match_phrase(t[n - 1], t[n])) != NULL) {
			snprintf(t[n - 1], MATCH_TOK_SZ, "%s", to);
			n--;
		}
		n++;
	}
	/* A number and "days" make a window: "30 days" -> "30days"; "1
	 * month" -> "30days"; "1 year" -> "365days". */
	for (size_t i = 0; i + 1 < n; i++) {
		char *end;
		long v = strtol(t[i], &end, 10);
		const char *u = t[i + 1];

		if (end == t[i] || *end != '\0')
			continue;
		if (strcmp(u, "hours") == 0) {
			snprintf(t[i], MATCH_TOK_SZ, "%ldhours", v);
			match_drop(t, &n, i + 1);
		} else if (strcmp(u, "days") == 0 || strcmp(u, "month") == 0 ||
		           strcmp(u, "year") == 0) {
			v *= strcmp(u, "month") == 0  ? 30
			     : strcmp(u, "year") == 0 ? 365
			                              : 1;
			snprintf(t[i], MATCH_TOK_SZ, "%lddays", v);
			match_drop(t, &n, i + 1);
		}
	}
	/* "refill" near a window of at most 10 years: "refill30". */
	for (size_t i = 0; i < n; i++) {
		long days;

		if (strcmp(t[i], "refill") != 0)
			continue;
		for (size_t j = i > 3 ? i - 3 : 0; j < n && j <= i + 3; j++) {
			if (match_is_days(t[j], &days) && days > 0 &&
			    days <= 3650) {
				snprintf(t[i], MATCH_TOK_SZ, "refill%ld", days);
				match_drop(t, &n, j);
				has_window = 1;
				break;
			}
		}
		if (has_window)
			break;
	}
	/* "refill" next to "refilllife" or a window says nothing more. */
	for (size_t i = 0; i < n; i++) {
		int other = 0;

		if (strcmp(t[i], "refill") != 0)
			continue;
		for (size_t j = 0; j < n; j++)
			other |= j != i && strncmp(t[j], "refill", 6) == 0 &&
			         t[j][6] != '\0';
		if (other)
			match_drop(t, &n, i--);
	}
	return n;
}

size_t
match_norm(const char *name, char *out, size_t outlen)
{
	match_tok t[MATCH_TOKENS_MAX];
	size_t n = match_canon(name, t, MATCH_TOKENS_MAX), off = 0, k = 0;

	if (outlen == 0)
		return 0;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(t[i]);

		if (off + len + (off > 0) + 1 > outlen)
			break;
		if (off > 0)
			out[off++] = ' ';
		memcpy(out + off, t[i], len + 1);
		off += len;
		k++;
	}
	return k;
}

/*
 * Features.
 */

static const char *const match_platforms[] = {
    "",         "instagram", "tiktok",  "youtube",  "facebook",
    "twitter",  "telegram",  "spotify", "twitch",   "threads",
    "linkedin", "pinterest", "discord", "snapchat", "soundcloud",
    "kick",     "reddit",    "vk",      "whatsapp",
};
static const char *const match_kinds[] = {
    "",         "followers",   "likes",   "views",
    "comments", "subscribers", "members", "shares",
    "retweets", "saves",       "plays",   "reactions",
    "votes",    "impressions", "visits",  "watchtime",
};
static const char *const match_subs[] = {"", "story", "live", "comment",
                                         "auto"};
static const char *const match_geos[] = {
    "",       "turkey", "arab",  "usa",     "india",
    "brazil", "russia", "italy", "algeria",
};

#define MATCH_N(a) ((int)(sizeof(a) / sizeof(a[0])))

static int
match_index(const char *const *tab, int n, const char *w)
{
	for (int i = 1; i < n; i++)
		if (strcmp(tab[i], w) == 0)
			return i;
	return 0;
}

const char *
match_platform_name(int p)
{
	return p > 0 && p < MATCH_N(match_platforms) ? match_platforms[p] : "";
}

const char *
match_kind_name(int k)
{
	return k > 0 && k < MATCH_N(match_kinds) ? match_kinds[k] : "";
}

const char *
match_sub_name(int s)
{
	return s > 0 && s < MATCH_N(match_subs) ? match_subs[s] : "";
}

const char *
match_geo_name(int g)
{
	return g > 0 && g < MATCH_N(match_geos) ? match_geos[g] : "";
}

const char *
match_quality_name(enum match_quality q)
{
	static const char *const n[] = {"", "bot", "mixed", "hq", "real"};

	return (unsigned)q < 5 ? n[q] : "";
}

/* Features said by tokens T (N of them); each token that says one is
 * marked 0 in PLAIN when PLAIN is not NULL. */
static void
match_scan(const match_tok *t, size_t n, struct match_features *f,
           unsigned char *plain)
{
	int real = 0, bot = 0, hq = 0, mixed = 0;

	for (size_t i = 0; i < n; i++) {
		const char *w = t[i];
		int v, feature = 1;

		if (f->platform == 0 &&
		    (v = match_index(match_platforms, MATCH_N(match_platforms),
		                     w)) != 0)
			f->platform = v;
		else if ((v = match_index(match_kinds, MATCH_N(match_kinds),
		                          w)) != 0) {
			/* "comment likes": likes of comments */
			if (f->kind == 4 && v == 2 && i > 0 &&
			    strcmp(t[i - 1], "comments") == 0) {
				f->kind = v;
				f->sub = 3;
			} else if (f->kind == 0)
				f->kind = v;
			else
				feature = 0;
		} else if ((v = match_index(match_subs, MATCH_N(match_subs),
		                            w)) != 0) {
			if (f->sub == 0)
				f->sub = v;
		} else if ((v = match_index(match_geos, MATCH_N(match_geos),
		                            w)) != 0) {
			if (f->geo == 0)
				f->geo = v;
		} else if (strcmp(w, "real") == 0)
			real = 1;
		else if (strcmp(w, "bot") == 0)
			bot = 1;
		else if (strcmp(w, "hq") == 0)
			hq = 1;
		else if (strcmp(w, "mixed") == 0)
			mixed = 1;
		else if (strcmp(w, "norefill") == 0)
			f->refill_days = MATCH_REFILL_NONE;
		else if (strcmp(w, "refilllife") == 0) {
			if (f->refill_days != MATCH_REFILL_NONE)
				f->refill_days = MATCH_REFILL_LIFE;
		} else if (strcmp(w, "refill") == 0) {
			if (f->refill_days == MATCH_REFILL_UNKNOWN)
				f->refill_days = MATCH_REFILL_YES;
		} else if (strncmp(w, "refill", 6) == 0 &&
		           isdigit((unsigned char)w[6])) {
			if (f->refill_days != MATCH_REFILL_NONE)
				f->refill_days = atoi(w + 6);
		} else
			feature = 0;
		if (plain != NULL)
			plain[i] = !feature;
	}
	if (mixed || (real && bot))
		f->quality = MATCH_Q_MIXED;
	else if (bot)
		f->quality = MATCH_Q_BOT;
	else if (real)
		f->quality = MATCH_Q_REAL;
	else if (hq)
		f->quality = MATCH_Q_HQ;
}

void
match_read(const struct match_item *it, const match_tok *nt, size_t n,
           const match_tok *ct, size_t c, struct match_features *f,
           unsigned char *plain)
{
	struct match_features cf;

	memset(f, 0, sizeof(*f));
	memset(&cf, 0, sizeof(cf));
	f->refill_days = cf.refill_days = MATCH_REFILL_UNKNOWN;
	match_scan(nt, n, f, plain);
	f->in_name = f->platform != 0 && f->kind != 0;
	/* The category fills in what the name does not say: platform, kind,
	 * sub-kind and geo ("Instagram - Followers [Turkish]"). */
	match_scan(ct, c, &cf, NULL);
	if (f->platform == 0)
		f->platform = cf.platform;
	if (f->kind == 0) {
		f->kind = cf.kind;
		if (f->sub == 0)
			f->sub = cf.sub;
	}
	if (f->geo == 0)
		f->geo = cf.geo;
	/* The row's word on refill when the name says nothing. */
	if (f->refill_days == MATCH_REFILL_UNKNOWN) {
		long days = it->refill_time != NULL ? atol(it->refill_time) : 0;

		if (it->refill == 0)
			f->refill_days = MATCH_REFILL_NONE;
		else if (days > 0 && days <= 3650)
			f->refill_days = (int)days;
		else if (it->refill == 1)
			f->refill_days = MATCH_REFILL_YES;
	}
}
