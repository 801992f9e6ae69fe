/* fp_fault.c - the fault table: one entry per action plus one for all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fp.h"
#include "fp_fault.h"

#define FP_FAULT_SLOW_MAX 3600000 /* ms */

/* Index FP_ACT_UNKNOWN is the "all" entry. */
static struct fp_fault fp_fault_table[FP_ACT__COUNT];

static const struct {
	const char *name;
	enum fp_fault_mode mode;
} fp_fault_modes[] = {
    {"none", FP_FAULT_NONE},   {"hang", FP_FAULT_HANG},
    {"close", FP_FAULT_CLOSE}, {"502", FP_FAULT_502},
    {"524", FP_FAULT_524},     {"garbage", FP_FAULT_GARBAGE},
    {"empty", FP_FAULT_EMPTY}, {"slow", FP_FAULT_SLOW},
    {"error", FP_FAULT_ERROR}, {"wrongid", FP_FAULT_WRONGID},
};

static const char *const fp_fault_garbage_names[] = {
    [FP_GARBAGE_PHP] = "php",
    [FP_GARBAGE_TRUNCATED] = "truncated",
    [FP_GARBAGE_HTML] = "html",
};

/* Parse a count "N" of LEN bytes. */
static int
fp_fault_num(const char *s, size_t len, int64_t *out)
{
	char buf[32];

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return fp_parse_int(buf, out) == -1 || *out < 0 ? -1 : 0;
}

int
fp_fault_parse(const char *spec, struct fp_fault *out, char *err, size_t errlen)
{
	const char *s = spec, *end, *colon;
	size_t namelen;
	size_t i;

	memset(out, 0, sizeof(*out));
	out->effects = 1;
	/* after:N:REST */
	while (strncmp(s, "after:", 6) == 0) {
		const char *c = strchr(s + 6, ':');

		if (c == NULL ||
		    fp_fault_num(s + 6, (size_t)(c - s - 6), &out->after) == -1)
			goto bad;
		s = c + 1;
	}
	end = s + strcspn(s, ",");
	colon = memchr(s, ':', (size_t)(end - s));
	namelen = (size_t)((colon != NULL ? colon : end) - s);
	for (i = 0; i < sizeof(fp_fault_modes) / sizeof(fp_fault_modes[0]); i++)
		if (strlen(fp_fault_modes[i].name) == namelen &&
		    strncmp(s, fp_fault_modes[i].name, namelen) == 0)
			break;
	if (i == sizeof(fp_fault_modes) / sizeof(fp_fault_modes[0]))
		goto bad;
	out->mode = fp_fault_modes[i].mode;

	if (out->mode == FP_FAULT_ERROR) {
		/* The text is everything after "error:", commas included. */
		if (colon == NULL || colon[1] == '\0' ||
		    strlen(colon + 1) >= sizeof(out->text))
			goto bad;
		snprintf(out->text, sizeof(out->text), "%s", colon + 1);
		out->effects = 0;
		return 0;
	}
	if (out->mode == FP_FAULT_SLOW) {
		if (colon == NULL ||
		    fp_fault_num(colon + 1, (size_t)(end - colon - 1),
		                 &out->ms) == -1 ||
		    out->ms > FP_FAULT_SLOW_MAX)
			goto bad;
	} else if (out->mode == FP_FAULT_WRONGID) {
		out->shift = 1;
		if (colon != NULL &&
		    (fp_fault_num(colon + 1, (size_t)(end - colon - 1),
		                  &out->shift) == -1 ||
		     out->shift == 0))
			goto bad;
	} else if (out->mode == FP_FAULT_GARBAGE && colon != NULL) {
		size_t alen = (size_t)(end - colon - 1);

		for (i = 0; i < 3; i++)
			if (strlen(fp_fault_garbage_names[i]) == alen &&
			    strncmp(colon + 1, fp_fault_garbage_names[i],
			            alen) == 0)
				break;
		if (i == 3)
			goto bad;
		out->garbage = (enum fp_garbage)i;
	} else if (colon != NULL) {
		/* "close:nocreate" reads naturally too. */
		if ((size_t)(end - colon - 1) == 8 &&
		    strncmp(colon + 1, "nocreate", 8) == 0)
			out->effects = 0;
		else
			goto bad;
	}
	/* ,after=N ,count=N ,nocreate */
	while (*end == ',') {
		const char *opt = end + 1;

		end = opt + strcspn(opt, ",");
		if (strncmp(opt, "after=", 6) == 0) {
			if (fp_fault_num(opt + 6, (size_t)(end - opt - 6),
			                 &out->after) == -1)
				goto bad;
		} else if (strncmp(opt, "count=", 6) == 0) {
			if (fp_fault_num(opt + 6, (size_t)(end - opt - 6),
			                 &out->count) == -1)
				goto bad;
		} else if ((size_t)(end - opt) == 8 &&
		           strncmp(opt, "nocreate", 8) == 0) {
			out->effects = 0;
		} else {
			goto bad;
		}
	}
	return 0;
bad:
	snprintf(err, errlen,
	         "bad fault \"%s\" (MODE[:ARG][,after=N][,count=N][,nocreate]; "
	         "modes: none hang close 502 524 garbage[:php|truncated|html] "
	         "empty slow:MS error:TEXT wrongid[:N])",
	         spec);
	return -1;
}

int
fp_fault_parse_cli(const char *arg, char *err, size_t errlen)
{
	const char *eq = strchr(arg, '=');
	char name[32];
	struct fp_fault f;

	if (eq == NULL || (size_t)(eq - arg) >= sizeof(name)) {
		snprintf(err, errlen, "bad --fault \"%s\" (ACTION=MODE)", arg);
		return -1;
	}
	memcpy(name, arg, (size_t)(eq - arg));
	name[eq - arg] = '\0';
	if (fp_fault_parse(eq + 1, &f, err, errlen) == -1)
		return -1;
	if (fp_fault_set(name, &f) == -1) {
		snprintf(err, errlen, "bad --fault action \"%s\"", name);
		return -1;
	}
	return 0;
}

int
fp_fault_set(const char *name, const struct fp_fault *f)
{
	enum fp_action a;

	if (strcmp(name, "all") == 0 || strcmp(name, "*") == 0) {
		a = FP_ACT_UNKNOWN;
	} else if ((a = fp_action_parse(name)) == FP_ACT_UNKNOWN) {
		return -1;
	}
	fp_fault_table[a] = *f;
	return 0;
}

void
fp_fault_clear_all(void)
{
	memset(fp_fault_table, 0, sizeof(fp_fault_table));
}

int
fp_fault_take(enum fp_action act, struct fp_fault *out)
{
	struct fp_fault *f = &fp_fault_table[act];

	if (f->mode == FP_FAULT_NONE)
		f = &fp_fault_table[FP_ACT_UNKNOWN];
	if (f->mode == FP_FAULT_NONE)
		return 0;
	if (f->after > 0) {
		f->after--;
		return 0;
	}
	*out = *f;
	if (f->count > 0 && --f->count == 0)
		memset(f, 0, sizeof(*f));
	return 1;
}

const char *
fp_fault_describe(const struct fp_fault *f, char *buf, size_t len)
{
	switch (f->mode) {
	case FP_FAULT_SLOW:
		snprintf(buf, len, "slow:%lld", (long long)f->ms);
		break;
	case FP_FAULT_ERROR:
		snprintf(buf, len, "error:%s", f->text);
		break;
	case FP_FAULT_GARBAGE:
		snprintf(buf, len, "garbage:%s",
		         fp_fault_garbage_names[f->garbage]);
		break;
	case FP_FAULT_WRONGID:
		snprintf(buf, len, "wrongid:%lld", (long long)f->shift);
		break;
	default:
		for (size_t i = 0;
		     i < sizeof(fp_fault_modes) / sizeof(fp_fault_modes[0]);
		     i++)
			if (fp_fault_modes[i].mode == f->mode)
				snprintf(buf, len, "%s%s",
				         fp_fault_modes[i].name,
				         f->effects ? "" : ":nocreate");
		break;
	}
	return buf;
}
