/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int max_level = LOG_INFO;
static bool use_prefix;

void log_setup(void)
{
	const char *e = secure_getenv("HSMJWT_LOG_LEVEL");

	use_prefix = secure_getenv("JOURNAL_STREAM") != NULL;
	if (e && strcmp(e, "debug") == 0)
		max_level = LOG_DEBUG;
}

void log_set_max_level(int level)
{
	max_level = level;
}

int log_get_max_level(void)
{
	return max_level;
}

int log_full_errno(int level, int error, const char *fmt, ...)
{
	int saved = errno;
	char buf[1024];
	va_list ap;

	if (error < 0)
		error = -error;
	if (level > max_level)
		goto out;

	/* errno is the error being reported, so "%m" works in messages. */
	errno = error;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);

	if (use_prefix)
		fprintf(stderr, "<%d>%s\n", level, buf);
	else
		fprintf(stderr, "%s\n", buf);
out:
	errno = saved;
	return -error;
}

bool log_throttle(LogThrottle *t, uint64_t now_usec, uint64_t interval_usec,
		  unsigned *ret_suppressed)
{
	if (now_usec < t->next_usec) {
		t->suppressed++;
		return false;
	}
	*ret_suppressed = t->suppressed;
	t->suppressed = 0;
	t->next_usec = now_usec + interval_usec;
	return true;
}
