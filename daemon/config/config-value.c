/* SPDX-License-Identifier: MIT */
/* Values of hsmjwtd.conf that mean the same in every section: bool, number, duration, time. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "config-table.h"

int config_parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
		if (strcmp(s, yes[i]) == 0)
			return *ret = true, 0;
		if (strcmp(s, no[i]) == 0)
			return *ret = false, 0;
	}
	return -EINVAL;
}

int config_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	/* strtoull() would take " 5", "+5" and "-5" (as a huge number): digits only. */
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

int parse_duration(const char *s, uint64_t *ret)
{
	static const struct {
		const char *suffix;
		uint64_t factor;
	} units[] = {
		{ "", 1 }, { "s", 1 }, { "min", 60 }, { "m", 60 }, { "h", 3600 }, { "d", 86400 },
	};
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	for (size_t i = 0; i < ELEMENTSOF(units); i++) {
		if (strcmp(end, units[i].suffix) != 0)
			continue;
		if (v > UINT64_MAX / units[i].factor)
			return -ERANGE;
		*ret = v * units[i].factor;
		return 0;
	}
	return -EINVAL;
}

static int parse_offset(const char *s, int *ret)
{
	int h, m;

	if (strcmp(s, "Z") == 0 || strcmp(s, "z") == 0)
		return *ret = 0, 0;
	if ((s[0] != '+' && s[0] != '-') || strlen(s) != 6 || s[3] != ':' ||
	    strspn(s + 1, "0123456789") != 2 || strspn(s + 4, "0123456789") != 2)
		return -EINVAL;
	h = (s[1] - '0') * 10 + (s[2] - '0');
	m = (s[4] - '0') * 10 + (s[5] - '0');
	if (h > 23 || m > 59)
		return -EINVAL;
	*ret = (h * 60 + m) * 60 * (s[0] == '-' ? -1 : 1);
	return 0;
}

int parse_timestamp(const char *s, int64_t *ret)
{
	struct tm tm = {};
	const char *end;
	long long v;
	char *e;
	int off;

	if (!s || !*s)
		return -EINVAL;
	if (strspn(s, "0123456789") == strlen(s)) {
		errno = 0;
		v = strtoll(s, &e, 10);
		if (errno)
			return -ERANGE;
		*ret = v;
		return 0;
	}
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	/* Without a zone the time would be ambiguous: Z or an offset is required. */
	if (!end || parse_offset(end, &off) < 0)
		return -EINVAL;
	*ret = (int64_t)timegm(&tm) - off;
	return 0;
}

void format_duration(uint64_t seconds, char *buf, size_t size)
{
	static const struct {
		const char *suffix;
		uint64_t factor;
	} units[] = { { "d", 86400 }, { "h", 3600 }, { "min", 60 } };

	for (size_t i = 0; i < ELEMENTSOF(units); i++)
		if (seconds > 0 && seconds % units[i].factor == 0) {
			snprintf(buf, size, "%llu%s",
				 (unsigned long long)(seconds / units[i].factor), units[i].suffix);
			return;
		}
	snprintf(buf, size, "%llus", (unsigned long long)seconds);
}
