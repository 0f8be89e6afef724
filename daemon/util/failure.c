/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

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
