/* log.c - stderr logging; journald adds timestamps, so none are printed
 * unless stderr is a terminal. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"

static const char *log_prog = "panelmux";
static enum log_level log_threshold = LOG_LEVEL_INFO;

void
log_init(const char *progname, enum log_level level)
{
	log_prog = progname;
	log_threshold = level;
}

void
log_set_level(enum log_level level)
{
	log_threshold = level;
}

enum log_level
log_get_level(void)
{
	return log_threshold;
}

int
log_level_parse(const char *s)
{
	static const char *names[] = {"error", "warn", "info", "debug"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

static void
log_vwrite(enum log_level level, int errnum, const char *fmt, va_list ap)
{
	static const char *tags[] = {"error", "warn", "info", "debug"};
	char msg[2048];
	int n;

	if (level > log_threshold)
		return;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		return;
	/* Control characters from the network never reach the log raw. */
	for (char *p = msg; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (errnum != 0)
		fprintf(stderr, "%s: %s: %s: %s\n", log_prog, tags[level], msg,
		        strerror(errnum));
	else
		fprintf(stderr, "%s: %s: %s\n", log_prog, tags[level], msg);
}

#define LOG_FN(name, level, with_errno)                                        \
	void name(const char *fmt, ...)                                        \
	{                                                                      \
		int saved = errno;                                             \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		log_vwrite(level, (with_errno) ? saved : 0, fmt, ap);          \
		va_end(ap);                                                    \
		errno = saved;                                                 \
	}

LOG_FN(log_warn, LOG_LEVEL_WARN, 1)
LOG_FN(log_warnx, LOG_LEVEL_WARN, 0)
LOG_FN(log_info, LOG_LEVEL_INFO, 0)
LOG_FN(log_debug, LOG_LEVEL_DEBUG, 0)
LOG_FN(log_error, LOG_LEVEL_ERROR, 0)

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

static void
log_libevent_cb(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug("libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("libevent: %s", msg);
		break;
	case EVENT_LOG_WARN:
		log_warnx("libevent: %s", msg);
		break;
	default:
		log_error("libevent: %s", msg);
		break;
	}
}

void
log_route_libevent(void)
{
	event_set_log_callback(log_libevent_cb);
}
