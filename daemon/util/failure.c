/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "failure.h"

int failure_refuse(Failure *f, const char *rule, const char *fmt, ...)
{
	va_list ap;

	f->code = SERVICE_INVALID_REQUEST;
	snprintf(f->rule, sizeof(f->rule), "%s", rule);
	va_start(ap, fmt);
	vsnprintf(f->message, sizeof(f->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

const char *failure_echo(const char *s, char buf[static FAILURE_ECHO_MAX + 4])
{
	size_t i;

	for (i = 0; s[i] && i < FAILURE_ECHO_MAX; i++)
		buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	memcpy(buf + i, s[i] ? "..." : "", s[i] ? 4 : 1);
	return buf;
}
