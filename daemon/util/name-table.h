/* SPDX-License-Identifier: MIT */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <string.h>

/*
 * Enums that have names in hsmjwtd.conf (profile, key state, audit sync):
 * a table indexed by the enum, NULL for holes.
 */
static inline const char *name_table_get(const char *const *names, size_t n, size_t i)
{
	return i < n ? names[i] : NULL;
}

/* The index of s, or -EINVAL if it names nothing. */
static inline int name_table_find(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (names[i] && strcmp(names[i], s) == 0)
			return (int)i;
	return -EINVAL;
}

/* Defines NAME_to_string(TYPE) and NAME_from_string(const char *, TYPE *) over table. */
#define NAME_TABLE_FUNCTIONS(name, type, table)                                       \
	const char *name##_to_string(type v)                                          \
	{                                                                             \
		return name_table_get(table, sizeof(table) / sizeof((table)[0]), (size_t)v); \
	}                                                                             \
	int name##_from_string(const char *s, type *ret)                              \
	{                                                                             \
		int i = name_table_find(table, sizeof(table) / sizeof((table)[0]), s);   \
                                                                                      \
		if (i < 0)                                                            \
			return i;                                                     \
		*ret = (type)i;                                                       \
		return 0;                                                             \
	}
