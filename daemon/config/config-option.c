/* SPDX-License-Identifier: MIT */
/* The typed rows of the option tables, and the one way a config error reads. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "config-table.h"

_Static_assert(sizeof(Algorithm) == sizeof(unsigned) && sizeof(KeyState) == sizeof(unsigned) &&
		       sizeof(Profile) == sizeof(unsigned) && sizeof(AuditSync) == sizeof(unsigned) &&
		       sizeof(AuditVerify) == sizeof(unsigned),
	       "CONFIG_ENUM stores an unsigned");

int config_error(char **ret_error, const char *path, unsigned line, const char *section,
		 const char *key, const char *fmt, ...)
{
	_cleanup_free_ char *why = NULL;
	char where[32] = "";
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&why, fmt, ap);
	va_end(ap);
	if (r < 0) {
		*ret_error = NULL;
		return -ENOMEM;
	}
	if (line > 0)
		snprintf(where, sizeof(where), ":%u", line);
	if (!section)
		r = asprintf(ret_error, "%s%s: %s", path, where, why);
	else
		r = asprintf(ret_error, "%s%s: [%s]%s%s: %s", path, where, section, key ? " " : "",
			     key ? key : "", why);
	if (r < 0) {
		*ret_error = NULL;
		return -ENOMEM;
	}
	return -EINVAL;
}

bool config_option_given(const ConfigSection *s, unsigned seen, const char *key)
{
	for (size_t i = 0; i < s->n_options; i++)
		if (strcmp(s->options[i].key, key) == 0)
			return seen & (1u << i);
	return false;
}

static void store_uint(void *field, size_t size, uint64_t v)
{
	if (size == sizeof(uint64_t))
		*(uint64_t *)field = v;
	else
		*(uint32_t *)field = (uint32_t)v;
}

static int set_string(const ConfigOption *o, char **field, const char *value, char *why)
{
	size_t n = strlen(value);

	if (o->type == CONFIG_PATH && *value && *value != '/')
		return snprintf(why, CONFIG_WHY_MAX, "'%s' is not an absolute path (empty: none)",
				value), -EINVAL;
	if (o->type == CONFIG_STRING && (n < o->min || (o->max && n > o->max)))
		return snprintf(why, CONFIG_WHY_MAX, "must be %llu-%llu bytes",
				(unsigned long long)o->min, (unsigned long long)o->max), -EINVAL;
	if (o->type == CONFIG_PATH && !*value)
		return 0;
	*field = strdup(value);
	return *field ? 0 : (snprintf(why, CONFIG_WHY_MAX, "out of memory"), -ENOMEM);
}

static int set_enum(const ConfigOption *o, unsigned *field, const char *value, char *why)
{
	size_t n = 0;

	for (unsigned i = 0; o->name_of(i); i++)
		if (strcmp(o->name_of(i), value) == 0) {
			*field = i;
			return 0;
		}
	n = snprintf(why, CONFIG_WHY_MAX, "'%s' is not one of", value);
	for (unsigned i = 0; o->name_of(i) && n < CONFIG_WHY_MAX; i++)
		n += snprintf(why + n, CONFIG_WHY_MAX - n, " %s", o->name_of(i));
	return -EINVAL;
}

static int set_duration(const ConfigOption *o, uint64_t *field, const char *value, char *why)
{
	char lo[24], hi[24];
	uint64_t v;

	if (parse_duration(value, &v) == 0 && v >= o->min && v <= o->max) {
		*field = v;
		return 0;
	}
	format_duration(o->min, lo, sizeof(lo));
	format_duration(o->max, hi, sizeof(hi));
	snprintf(why, CONFIG_WHY_MAX, "'%s' is not a duration from %s to %s%s", value,
		 o->min ? lo : "0", hi, o->note ? o->note : "");
	return -EINVAL;
}

int config_option_set(const ConfigOption *o, void *obj, const char *value,
		      char why[static CONFIG_WHY_MAX])
{
	void *field = (char *)obj + o->offset;
	uint64_t v;
	int64_t t;

	switch (o->type) {
	case CONFIG_STRING:
	case CONFIG_PATH:
		return set_string(o, field, value, why);
	case CONFIG_BOOL:
		if (config_parse_bool(value, field) == 0)
			return 0;
		return snprintf(why, CONFIG_WHY_MAX, "must be yes or no, not '%s'", value), -EINVAL;
	case CONFIG_UINT:
		if (config_parse_uint(value, o->min, o->max, &v) == 0) {
			store_uint(field, o->size, v);
			return 0;
		}
		return snprintf(why, CONFIG_WHY_MAX, "'%s' is not a number of %llu..%llu%s", value,
				(unsigned long long)o->min, (unsigned long long)o->max,
				o->note ? o->note : ""), -EINVAL;
	case CONFIG_DURATION:
		return set_duration(o, field, value, why);
	case CONFIG_TIMESTAMP:
		if (parse_timestamp(value, &t) == 0 && t > 0) {
			*(int64_t *)field = t;
			return 0;
		}
		return snprintf(why, CONFIG_WHY_MAX, "'%s' is not an RFC 3339 time or Unix seconds",
				value), -EINVAL;
	case CONFIG_ENUM:
		return set_enum(o, field, value, why);
	case CONFIG_CUSTOM:
		return o->parse(o, obj, value, why);
	}
	return -EINVAL;
}
